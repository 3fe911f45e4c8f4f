/*
 * queued.h - the queue owner: shared declarations.
 *
 * Purpose:      messages, recipients, queues named "domain/vmta" as
 *               PowerMTA names them, transactions being received, the
 *               commit batch, the LMDB index.
 * Used by:      queued only.
 * Trust:        peers (smtpd, tern, later deliverd) are untrusted; every
 *               id is validated before a path is built from it.
 * Spool access: read/write; queued is the only writer.
 * See:          queued(8), tern-spool(5).
 */
#ifndef TERN_QUEUED_H
#define TERN_QUEUED_H

#include <sys/queue.h>

#include <lmdb.h>

#include "config.h"
#include "daemon.h"
#include "hmap.h"
#include "ipc.h"
#include "spool.h"

#define QUEUE_NAME_MAX	(MAILADDR_DOMAIN_MAX + SPOOL_NAME_MAX + 2)

struct queue;

struct msg_rcpt {
	char		*addr;
	const char	*domain;
	char		 status;
	off_t		 status_off;
	struct queue	*q;
};

struct msg {
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 arrival;
	uint64_t	 size;
	unsigned	 nrcpt;
	unsigned	 npending;
	struct msg_rcpt	*rcpts;
	char		 vmta[SPOOL_NAME_MAX + 1];
	char		 pool[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
};

/* A message's pending recipients in one queue. */
struct qentry {
	TAILQ_ENTRY(qentry) entry;
	struct msg	*m;
	unsigned	 nrcpt;
};

enum queue_mode { QM_NORMAL, QM_BACKOFF, QM_PAUSED };

struct queue {
	char		 name[QUEUE_NAME_MAX + 1];
	char		*domain;
	char		*vmta;
	unsigned	 nrcpt;
	unsigned	 nmsg;
	uint64_t	 bytes;
	enum queue_mode	 mode;
	TAILQ_HEAD(qentry_list, qentry) entries;
};

/* A message being received from smtpd. */
struct rx {
	TAILQ_ENTRY(rx)	 entry;
	struct ipc_peer	*peer;
	uint64_t	 reqid;
	int		 fd;		/* our own fd on tmp/<id> */
	bool		 opened;
	bool		 committing;
	struct spool_env env;
	uint64_t	 size;
};

struct peer_state {
	TAILQ_HEAD(, rx) rxs;
};

struct queued {
	struct daemon	 d;
	int		 spool_fd;	/* O_DIRECTORY on spool-dir */
	struct hmap	 msgs;
	struct hmap	 queues;
	TAILQ_HEAD(, rx) batch;		/* waiting for the group fsync */
	unsigned	 nbatch;
	struct event	*ev_commit;
	struct event	*ev_listen;
	int		 listen_fd;
	unsigned	 pool_rr;
	time_t		 started;
	uint64_t	 space_checked_ms;
	bool		 space_low;
	/* counters */
	uint64_t	 n_received, n_bytes, n_batches, n_recovered;
	uint64_t	 n_corrupt, n_aborted, n_removed;
	unsigned	 n_smtpd;	/* smtpd peers past HELLO */
	uint64_t	 total_rcpts, total_bytes;
	/* index */
	MDB_env		*mdb;
	MDB_dbi		 dbi;
	bool		 index_ok;
};

extern struct queued qd;

/* commit.c */
int	 rx_new(struct ipc_peer *, struct ipc_msg *);
int	 rx_rcpt(struct ipc_peer *, struct ipc_msg *);
int	 rx_open(struct ipc_peer *, struct ipc_msg *);
int	 rx_commit(struct ipc_peer *, struct ipc_msg *);
int	 rx_abort(struct ipc_peer *, struct ipc_msg *);
void	 rx_peer_gone(struct ipc_peer *);
void	 commit_init(void);

/* queue.c */
struct msg *msg_from_env(const struct spool_env *, uint64_t size);
void	 msg_enqueue(struct msg *);
void	 msg_free(struct msg *);
struct queue *queue_get(const char *domain, const char *vmta);
void	 vmta_resolve(const char *want, char *vmta, char *pool);

/* recover.c */
void	 recover_spool(void);
int	 spool_path(char *, size_t, const char *dir, const char *id);

/* index.c */
void	 index_open(void);
void	 index_close(void);
void	 index_put_batch(struct msg **, unsigned);
void	 index_del(const char *id);
void	 index_reconcile(void);

/* ctl.c */
int	 ctl_request(struct ipc_peer *, struct ipc_msg *);

#endif
