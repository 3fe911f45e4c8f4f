/*
 * smtpd.h - the SMTP receiver: shared declarations.
 *
 * Purpose:      sessions, transactions, the link to queued.
 * Used by:      smtpd only.
 * Trust:        everything arriving on a session is hostile.
 * Spool access: none: queued hands over one writable fd per message.
 * See:          smtpd(8).
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "ipc.h"
#include "mailaddr.h"
#include "spool.h"

#define SMTP_CMD_LINE_MAX	2048	/* Postfix line_length_limit */
#define SMTP_DATA_LINE_MAX	(64 * 1024)
#define SMTP_HDR_MAX		(64 * 1024)	/* one folded header */
#define SMTP_MAX_ERRORS		20
#define SMTP_INPUT_HIWAT	(256 * 1024)
#define SMTP_WRITE_CHUNK	(64 * 1024)

enum session_state {
	ST_HELO,		/* before HELO/EHLO */
	ST_MAIL,		/* ready for MAIL */
	ST_RCPT,		/* after MAIL */
	ST_DATA,		/* inside DATA */
	ST_QUIT
};

/* Errors that, once set, stay set until the end of the transaction. */
enum tx_error {
	TXE_NONE = 0,
	TXE_SIZE,
	TXE_BARE_NL,
	TXE_LINE,
	TXE_HOPS,
	TXE_IO,
	TXE_QUEUE
};

enum hdr_kind { HK_NORMAL, HK_XVMTA, HK_XJOB };

struct tx {
	char		 sender[MAILADDR_MAX + 1];
	unsigned	 nrcpt;
	char		**rcpts;
	uint64_t	 declared_size;
	char		 id[SPOOL_ID_LEN + 1];
	int		 fd;		/* body fd from queued, or -1 */
	struct evbuffer	*out;		/* body bytes not yet written */
	uint64_t	 size;
	enum tx_error	 error;
	bool		 in_headers;
	struct buf	 hdr;		/* current (possibly folded) header */
	enum hdr_kind	 hkind;
	unsigned	 received;
	char		 vmta[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
};

struct session {
	TAILQ_ENTRY(session) entry;
	uint64_t	 id;
	uint32_t	 slot;
	uint32_t	 gen;
	struct bufferevent *bev;
	struct evbuffer	*out;		/* replies not yet written */
	struct event	*ev_close;	/* deferred free */
	struct sockaddr_storage ss;
	char		 ip[64];
	struct src_policy pol;
	char		 defvmta[SPOOL_NAME_MAX + 1];
	enum session_state state;
	char		 helo[256];
	bool		 esmtp;
	bool		 waiting;	/* for queued; input is held */
	bool		 closing;	/* close when output drains */
	bool		 skip_line;	/* discarding an overlong line */
	unsigned	 nerrors;
	struct tx	 tx;
};

TAILQ_HEAD(session_list, session);

struct smtpd {
	struct daemon	 d;
	struct session_list sessions;
	unsigned	 nsessions;
	struct session	**slots;
	uint32_t	*gens;
	uint32_t	 nslots;
	struct evconnlistener *listeners[64];
	unsigned	 nlisteners;
	struct ipc_peer	*queued;
	struct event	*ev_reconnect;
	unsigned	 reconnect_ms;
	struct event	*ev_stop;
	uint64_t	 next_id;
};

extern struct smtpd smtpd;

/* smtpd.c */
void	 smtpd_queued_connect(void);
uint32_t smtpd_slot_alloc(struct session *);
uint64_t session_reqid(struct session *);
struct session *session_by_reqid(uint64_t);
void	 smtpd_session_gone(struct session *);
void	 smtpd_stop(void);

/* session.c */
void	 session_new(int fd, struct sockaddr *, int socklen);
void	 session_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session_close(struct session *, const char *reason);
void	 session_flush(struct session *);
void	 session_resume(struct session *);
void	 session_queue_lost(struct session *);
void	 tx_reset(struct session *);

/* data.c */
int	 data_line(struct session *, const char *line, size_t len,
	    bool crlf);
void	 data_opened(struct session *, const char *id, int fd);
void	 data_committed(struct session *, bool ok, const char *reply);

#endif
