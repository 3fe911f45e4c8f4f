/*
 * ipc.h - framed messages between Tern processes over Unix sockets.
 *
 * Purpose:      a fixed 16-byte header (type, version, flags, length,
 *               request id), a typed payload codec, at most one fd per
 *               frame (SCM_RIGHTS), a libevent peer with an output queue,
 *               a HELLO handshake that checks the peer's uid, and
 *               table-driven dispatch: {type, allowed roles, fd rule,
 *               handler}.  See tern-ipc in tern-spool(5).
 * Used by:      ternd, smtpd, queued, tern, and the later daemons.
 * Trust:        frames come from other processes, which may be
 *               compromised: every length is checked before anything is
 *               allocated, every getter is bounded by its destination,
 *               ipc_get_end() requires the payload to be consumed exactly,
 *               and a bad frame drops that peer, never the daemon.
 * Spool access: none (fds only).
 * See:          tern-spool(5), ternd(8).
 */
#ifndef TERN_IPC_H
#define TERN_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "util.h"

#define IPC_VERSION	1
#define IPC_HDR_SIZE	16
#define IPC_MAXSIZE	(256 * 1024)	/* bodies never travel: fds do */
#define IPC_STR_MAX	4096
#define IPC_F_FD	0x01
#define IPC_OUT_HIWAT	(4 * 1024 * 1024)
#define IPC_MAXFDS	16
/* IPC_MASTER_TLS_FILES: {u32 n; n x {str path, u64 off, u64 len}} + memfd */
#define IPC_TLS_FILES_MAX	130	/* 2 per listener, 2 top-level */
#define IPC_TLS_FILE_MAX	(1024 * 1024)

enum ipc_type {
	IPC_HELLO = 1,
	IPC_HELLO_OK,
	IPC_HELLO_FAIL,
	IPC_MASTER_CONFIG,	/* ternd -> child: config memfd */
	IPC_CHILD_CONFIG_OK,	/* child -> ternd: hash in force */
	IPC_CHILD_CONFIG_FAIL,	/* child -> ternd: error text */
	IPC_SMTPD_MSG_NEW,	/* smtpd -> queued: sender, client */
	IPC_SMTPD_MSG_RCPT,	/* smtpd -> queued: one recipient */
	IPC_SMTPD_MSG_OPEN,	/* smtpd -> queued: envelope done */
	IPC_QUEUED_OPEN_OK,	/* queued -> smtpd: id, body fd */
	IPC_QUEUED_OPEN_FAIL,	/* queued -> smtpd: code, text */
	IPC_SMTPD_MSG_COMMIT,	/* smtpd -> queued: vmta, job, size */
	IPC_QUEUED_COMMIT_OK,	/* queued -> smtpd: id durable */
	IPC_QUEUED_COMMIT_FAIL,	/* queued -> smtpd: code, text */
	IPC_SMTPD_MSG_ABORT,	/* smtpd -> queued: drop the tmp file */
	IPC_CTL_REQUEST,	/* tern -> daemon: JSON request */
	IPC_CTL_REPLY,		/* daemon -> tern: JSON reply */
	IPC_DELIVERD_READY,	/* deliverd -> queued: my virtual-mta */
	IPC_QUEUED_JOB,		/* queued -> deliverd: recipients, body fd */
	IPC_DELIVERD_RESULT,	/* deliverd -> queued: per-recipient outcome */
	IPC_DELIVERD_HELD,	/* deliverd -> queued: job back, offer at T */
	IPC_SHAPE_VMTA,		/* deliverd -> shaperd: my virtual-mta */
	IPC_SHAPE_CONNS,	/* deliverd -> shaperd: connections held */
	IPC_SHAPE_ASK,		/* deliverd -> shaperd: slots, tokens */
	IPC_SHAPE_GRANT,	/* shaperd -> deliverd: grant and state */
	IPC_SHAPE_RELEASE,	/* deliverd -> shaperd: connections closed */
	IPC_SHAPE_OUTCOME,	/* deliverd -> shaperd: a job's outcome */
	IPC_SHAPE_DISCONNECT,	/* shaperd -> deliverd: close a queue's */
	IPC_MASTER_TLS_FILES,	/* ternd -> smtpd: TLS PEM files, memfd */
	IPC_QUEUED_DKIM_SIGN,	/* queued -> dkimd: key, body span, fd */
	IPC_DKIMD_SIGNED,	/* dkimd -> queued: DKIM-Signature header */
	IPC_DKIMD_SIGN_FAIL,	/* dkimd -> queued: why not */
	IPC_BOUNCD_RESULT,	/* bouncd -> queued: consumed, rows, events */
	IPC_QUEUED_SUPPRESS,	/* queued -> bouncd: hard bounces to list */
	IPC_SMTPD_SUPPRESSED,	/* smtpd -> queued: refused at RCPT, account */
	IPC_TYPE_MAX
};

enum ipc_role {
	ROLE_NONE = 0,
	ROLE_MASTER,
	ROLE_SMTPD,
	ROLE_QUEUED,
	ROLE_DELIVERD,
	ROLE_SHAPERD,
	ROLE_BOUNCD,
	ROLE_CTL,
	ROLE_DKIMD,
	ROLE_MAX
};
#define RB(r)	(1u << (r))

struct ipc_hdr {
	uint16_t	 type;
	uint8_t		 version;
	uint8_t		 flags;
	uint32_t	 len;		/* header + payload */
	uint64_t	 reqid;
};

/* A received frame, decoded field by field. */
struct ipc_msg {
	struct ipc_hdr	 hdr;
	const uint8_t	*data;
	size_t		 len;
	size_t		 pos;
	int		 fd;		/* -1, or owned by the handler */
	bool		 bad;
};

/* A frame being built. */
struct ipc_out {
	struct buf	 b;
};

struct ipc_peer;
typedef int (*ipc_handler_fn)(struct ipc_peer *, struct ipc_msg *);

#define IPC_FD_NO	0
#define IPC_FD_YES	1
struct ipc_handler {
	enum ipc_type	 type;
	unsigned	 roles;		/* RB(role) mask allowed to send it */
	int		 fd;
	ipc_handler_fn	 fn;
};

struct ipc_frame {
	TAILQ_ENTRY(ipc_frame) entry;
	uint8_t		*data;
	size_t		 len;
	size_t		 off;
	int		 fd;
};

struct ipc_peer {
	int		 fd;
	struct event_base *base;
	struct event	*ev;
	struct event	*ev_flush;	/* end-of-loop-turn write */
	short		 evmask;
	enum ipc_role	 role;		/* peer's role, once known */
	pid_t		 pid;
	uid_t		 uid;
	bool		 server_side;	/* expects HELLO first */
	bool		 closing;
	uint8_t		*in;
	size_t		 inlen;
	int		 fds[IPC_MAXFDS];
	unsigned	 nfds;
	TAILQ_HEAD(, ipc_frame) outq;
	size_t		 outbytes;
	const struct ipc_handler *table;
	size_t		 ntable;
	unsigned	 accept_roles;	/* server: roles allowed to HELLO */
	void		(*on_close)(struct ipc_peer *);
	void		(*on_hello)(struct ipc_peer *);	/* server side */
	void		*arg;
	int		 refs;		/* >0 while dispatching */
	bool		 dead;
};

const char	*ipc_type_name(unsigned);
const char	*ipc_role_name(unsigned);

/* Builder. */
void	 ipc_out_begin(struct ipc_out *, enum ipc_type, uint64_t reqid);
void	 ipc_put_u8(struct ipc_out *, uint8_t);
void	 ipc_put_u32(struct ipc_out *, uint32_t);
void	 ipc_put_u64(struct ipc_out *, uint64_t);
void	 ipc_put_str(struct ipc_out *, const char *);
void	 ipc_put_blob(struct ipc_out *, const void *, size_t);

/* Getters: 0 or -1 (and msg->bad set); every one bounded. */
int	 ipc_get_u8(struct ipc_msg *, uint8_t *);
int	 ipc_get_u32(struct ipc_msg *, uint32_t *);
int	 ipc_get_u64(struct ipc_msg *, uint64_t *);
int	 ipc_get_str(struct ipc_msg *, char *dst, size_t dstsz);
int	 ipc_get_blob(struct ipc_msg *, const uint8_t **, size_t *);
int	 ipc_get_end(struct ipc_msg *);

/* Frame codec (also used by the fuzz and unit tests). */
int	 ipc_parse_hdr(const uint8_t *, size_t, struct ipc_hdr *);

/* Peers. */
struct ipc_peer *ipc_peer_new(struct event_base *, int fd, bool server_side,
		    const struct ipc_handler *, size_t ntable,
		    void (*on_close)(struct ipc_peer *), void *arg);
void	 ipc_peer_close(struct ipc_peer *);
int	 ipc_send(struct ipc_peer *, struct ipc_out *, int fd);
void	 ipc_hello(struct ipc_peer *, enum ipc_role self);
int	 ipc_listen_unix(const char *path, mode_t mode);
int	 ipc_connect_unix(const char *path);
int	 ipc_accept(int lfd);
struct ipc_peer *ipc_dial(struct event_base *, const char *run_dir,
	    const char *sock, enum ipc_role self, enum ipc_role peer,
	    const struct ipc_handler *, size_t, void (*)(struct ipc_peer *),
	    void *);
void	 ipc_redial_later(struct event_base *, struct event **,
	    unsigned *ms, event_callback_fn, void *);

/* Blocking client (tern CLI): one request, one reply. */
int	 ipc_sync_request(int fd, struct ipc_out *, struct ipc_hdr *,
		    uint8_t **payload, size_t *len, int timeout_ms);

#endif
