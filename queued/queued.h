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
#include "suppress.h"
#include "bouncecat.h"

#define QUEUE_NAME_MAX	(MAILADDR_DOMAIN_MAX + SPOOL_NAME_MAX + 2)
#define QJOB_RCPT_MAX	500	/* recipients per job (IPC frame bound) */
#define PEER_JOBS_MAX	1000	/* jobs in flight per deliverd */
#define DIAG_TEXT_MAX	1024	/* remote reply text kept */

struct queue;

struct msg_rcpt {
	char		*addr;
	const char	*domain;
	char		 status;
	off_t		 status_off;
	struct queue	*q;
	struct qentry	*qe;
	uint8_t		 notify;	/* DSN NOTIFY bits, 0: not given */
	char		*orcpt;		/* DSN ORCPT or NULL */
};

struct msg {
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 arrival;
	uint64_t	 size;
	uint64_t	 body_off;
	unsigned	 nrcpt;
	unsigned	 npending;
	unsigned	 nqe;		/* qentries still holding it */
	bool		 in_new;	/* file still in new/, not cur/ */
	uint32_t	 attempts;	/* retry state, kept in the index */
	uint64_t	 next;
	struct msg_rcpt	*rcpts;
	char		*sender;
	char		*srcmta;	/* "helo (ip)" for accounting */
	uint16_t	 prepend_len;	/* K's length; read at dispatch */
	char		 vmta[SPOOL_NAME_MAX + 1];
	char		 pool[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
	uint8_t		 ret;		/* DSN RET */
	char		*envid;		/* DSN ENVID or NULL */
};

enum qe_state { QE_READY, QE_FLIGHT, QE_DEFERRED };

/* A message's pending recipients in one queue: the unit of scheduling. */
struct qentry {
	TAILQ_ENTRY(qentry) entry;	/* q->entries: all of them */
	TAILQ_ENTRY(qentry) rlink;	/* q->ready */
	struct msg	*m;
	struct queue	*q;
	unsigned	 nrcpt;		/* pending recipients */
	enum qe_state	 st;
	uint32_t	 attempts;
	uint64_t	 next;		/* next attempt, unix seconds */
	size_t		 hidx;		/* index in the retry heap */
	bool		 held;		/* waits for shaperd, not a retry */
	unsigned	 reroutes;	/* warm-up overflow moves */
};


struct queue {
	char		 name[QUEUE_NAME_MAX + 1];
	char		*domain;
	char		*vmta;
	unsigned	 nrcpt;
	unsigned	 nmsg;
	uint64_t	 bytes;
	TAILQ_HEAD(qentry_list, qentry) entries;
	TAILQ_HEAD(, qentry) ready;
	unsigned	 nflight;	/* jobs at deliverd */
	unsigned	 ndeferred;	/* qentries waiting for a retry */
	bool		 dirty;		/* on the scheduler's list */
	TAILQ_ENTRY(queue) dlink;
	char		 last_error[256];
	uint64_t	 n_delivered, n_bounced, n_deferred;
	char		 rollup[256];	/* shaping key, when not the domain */
	struct dom_policy pol;		/* cached: see queue_policy() */
	unsigned	 pol_gen;
	bool		 backoff;	/* deliverd's last word on the mode */
	char		 hold_reason[256];
};

/* A job at a deliverd: recipients of one qentry. */
struct qjob {
	TAILQ_ENTRY(qjob) plink;	/* the peer's jobs */
	uint64_t	 id;
	struct qentry	*qe;
	struct ipc_peer	*peer;
	unsigned	 n;
	uint32_t	*idx;
};

/* A result waiting for the group commit of final outcomes. */
struct qresult {
	TAILQ_ENTRY(qresult) link;
	struct qjob	*job;
	bool		 queue_level;
	char		 mx[300];
	char		 ip[64];
	char		 src[64];
	char		 esmtp[160];
	unsigned	 n;
	char		 skey[256];
	bool		 backoff;
	char		 tls[96];	/* "protocol:cipher" when TLS was used */
	char		 cat[40];	/* category, when not classified */
	bool		 suppressed;	/* dropped: on the suppression list */
	bool		 processor;	/* bouncd's: rows and events given */
	struct buf	 rows, events;	/* bouncd's, written as they are */
	struct {
		uint32_t idx;
		char	 outcome;
		char	 status[16];
		char	*diag;
	}		*r;
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
	struct buf	 head;		/* what we wrote; checked at commit */
};

/* A commit waiting for its DKIM signature (dkim.c). */
struct sigreq {
	TAILQ_ENTRY(sigreq) link;
	uint64_t	 reqid;
	struct rx	*rx;
	int		 fd;		/* tmp/<id>, opened read-only */
	uint64_t	 deadline;	/* ms: then committed unsigned */
	bool		 sent;		/* to the dkimd link now up */
	char		 sel[CFG_NAME_MAX + 1];
	char		 dom[MAILADDR_DOMAIN_MAX + 1];
};

struct peer_state {
	TAILQ_HEAD(, rx) rxs;
	/* deliverd peers */
	char		 vmta[SPOOL_NAME_MAX + 1];
	unsigned	 nflight;
	TAILQ_HEAD(, qjob) jobs;
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
	struct hmap	 pool_rr;	/* pool name -> counter */
	time_t		 started;
	uint64_t	 space_checked_ms;
	bool		 space_low;
	/* counters */
	uint64_t	 n_received, n_bytes, n_batches, n_recovered;
	uint64_t	 n_corrupt, n_aborted, n_removed;
	unsigned	 n_smtpd;	/* smtpd peers past HELLO */
	uint64_t	 total_rcpts, total_bytes;
	/* scheduling */
	struct hmap	 dpeers;	/* vmta -> ipc_peer of its deliverd */
	struct hmap	 jobs;		/* job id (hex) -> qjob */
	uint64_t	 next_job;
	TAILQ_HEAD(, queue) dirtyq;
	struct event	*ev_sched;
	struct event	*ev_retry;
	struct qentry	**heap;
	size_t		 nheap, heapcap;
	TAILQ_HEAD(, qresult) results;
	unsigned	 nresults;
	struct event	*ev_results;
	int		 done_fd;	/* the done log */
	uint64_t	 done_bytes;
	struct bcat_table *bcat;
	uint64_t	 n_delivered, n_bounced, n_deferred, n_expired;
	/* recycled queue files (free/): no inode churn per message */
	char		(*freef)[16];
	unsigned	 nfree;
	uint64_t	 free_seq;
	/* accounting */
	int		 acct_fd;
	uint64_t	 acct_size;
	time_t		 acct_opened;
	struct buf	 acct_buf;
	/* DKIM signing at commit (dkim.c) */
	struct ipc_peer	*dkimd;
	struct ipc_link	 dl;		/* to dkimd */
	uint64_t	 dkimd_down;	/* ms since the link is down, 0: up */
	struct event	*ev_sign;	/* the oldest request's deadline */
	TAILQ_HEAD(, sigreq) sigreqs;
	unsigned	 nsigreqs;
	uint64_t	 sign_seq;
	uint64_t	 n_signed, n_unsigned;
	/* suppression list (read-only; bouncd writes it) */
	struct supp	*supp;
	uint64_t	 supp_tried;	/* ms of the last open attempt */
	uint64_t	 n_suppressed;
	uint64_t	 n_ndr;		/* reports made (ndr.c) */
	uint64_t	 n_processed;	/* recipients handed to bouncd */
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
void	 commit_enqueue(struct rx *);
int	 commit_local(const char *rcpt, const char *vmta, const struct buf *);
void	 commit_now(void);

/* ndr.c */
bool	 ndr_wanted(const struct msg *, unsigned idx, char fin,
	    const char *esmtp);
void	 ndr_make(const struct msg *, const struct qresult *,
	    const unsigned *ri, const char *fin, unsigned n);
void	 ndr_commit(void);

/* dkim.c */
void	 dkim_init(void);
int	 dkim_start(struct rx *);
void	 dkim_peer_gone(struct ipc_peer *);
void	 dkim_drain(void);

/* queue.c */
struct msg *msg_from_env(const struct spool_env *, uint64_t size);
void	 msg_enqueue(struct msg *);
void	 msg_free(struct msg *);
struct queue *queue_get(const char *domain, const char *vmta);
const struct dom_policy *queue_policy(struct queue *);
void	 vmta_resolve(const char *want, char *vmta, char *pool);

/* recycle.c */
void	 recycle_init(void);
void	 recycle_put(const char *relpath);
int	 recycle_get(const char *tmppath);

/* recover.c */
void	 recover_spool(void);
int	 spool_path(char *, size_t, const char *dir, const char *id);

/* index.c */
void	 index_open(void);
void	 index_close(void);
void	 index_put_batch(struct msg **, unsigned);
void	 index_del(const char *id);
void	 index_del_later(const char *id);
void	 index_put_later(const struct msg *);
void	 index_put_flush(void);
void	 index_get_retry(struct msg *);
void	 index_del_flush(void);
void	 index_reconcile(void);

/* sched.c */
void	 sched_init(void);
void	 sched_msg(struct msg *);
void	 sched_kick(struct queue *);
int	 sched_ready(struct ipc_peer *, struct ipc_msg *);
int	 sched_result(struct ipc_peer *, struct ipc_msg *);
int	 result_outcomes(struct ipc_msg *, struct qresult *, uint32_t n,
	    const char *allowed);
void	 result_free(struct qresult *);
int	 sched_held(struct ipc_peer *, struct ipc_msg *);
unsigned sched_release(const char *domain_glob, const char *vmta_glob);
void	 sched_peer_gone(struct ipc_peer *);
void	 sched_reload(void);
void	 sched_defer_at(struct qentry *, uint64_t when, uint32_t attempts);
int	 msg_open_read(const struct msg *);

/* donelog.c */
int	 done_open(void);
int	 done_append(struct buf *);
void	 done_replay(void);
void	 done_checkpoint(bool force);

/* acct.c */
void	 acct_open(void);
void	 acct_row(struct buf *, const char *type, const struct msg *,
	    const char *rcpt, const char *orcpt,
	    const char *status, const char *diag, const char *dsnmta,
	    const char *bcat, const char *src, const char *dst,
	    const char *esmtp, const char *queue, const char *tls);
void	 acct_flush(void);
void	 acct_sync(void);
void	 acct_add_raw(const char *row);
void	 acct_close(void);

/* ctl.c */
int	 ctl_request(struct ipc_peer *, struct ipc_msg *);

/* events.c */
bool	 events_on(void);
void	 events_add(const char *, size_t);
void	 events_outcome(const char *type, const struct msg *,
	    const char *rcpt, const char *status, const char *diag,
	    const char *cat, const char *queue, const char *mx,
	    const char *action);
int	 events_flush(void);
void	 events_close(void);

/* suppcheck.c */
bool	 supp_drop(struct qentry *);
void	 supp_hard_bounce(const struct msg *, const char *rcpt,
	    const char *status, const char *diag, const char *cat);
void	 supp_flush(void);
int	 rx_suppressed(struct ipc_peer *, struct ipc_msg *);
int	 sched_bouncd_result(struct ipc_peer *, struct ipc_msg *);
void	 sched_add_result(struct qresult *);
void	 acct_add_block(const char *, size_t);

#endif
