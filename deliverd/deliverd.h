/*
 * deliverd.h - the delivery agent of one VirtualMTA: declarations.
 *
 * Purpose:      jobs from queued (a message's recipients in one domain
 *               plus a read-only fd on its queue file), destination
 *               queues per domain with their routes, outbound SMTP
 *               sessions, results back to queued.
 * Used by:      deliverd only.
 * Trust:        remote servers and DNS answers are hostile; queued's
 *               frames are checked like any peer's.
 * Spool access: read-only fds handed over by queued; never a path.
 * See:          deliverd(8).
 */
#ifndef TERN_DELIVERD_H
#define TERN_DELIVERD_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "config.h"
#include "daemon.h"
#include "dnsmx.h"
#include "hmap.h"
#include "ipc.h"
#include "mailaddr.h"
#include "spool.h"

#define DIAG_MAX	1000		/* remote text kept per recipient */
#define REPLY_LINE_MAX	2048
#define REPLY_LINES_MAX	64
#define DEST_MAX	32
#define ROUTE_TTL	300		/* seconds a resolved route is reused */
#define JOB_RCPT_MAX	1000
#define SKEY_MAX	255		/* shaping key: domain or rollup */
#define ASK_MSGS_MAX	64		/* tokens asked for at once */
#define ASK_CONNS_MAX	8		/* slots asked for at once */
#define HOLD_TEXT_MAX	300
#define HOLD_WARMUP_VOLUME 3		/* shaperd's SH_WARMUP_VOLUME */

struct jrcpt {
	uint32_t	 idx;
	char		 addr[MAILADDR_MAX + 1];
	char		 outcome;	/* 0 open, 'D', 'T', 'B' */
	bool		 accepted;	/* RCPT got 2xx */
	char		 status[16];
	char		*diag;
	uint8_t		 notify;	/* RFC 3461, passed on */
	char		*orcpt;		/* "type;address" or NULL */
};

struct dqueue;

struct job {
	TAILQ_ENTRY(job) entry;
	uint64_t	 id;
	char		 msgid[SPOOL_ID_LEN + 1];
	char		*sender;
	int		 fd;
	uint64_t	 body_off;
	uint64_t	 body_len;
	unsigned	 nrcpt;
	struct jrcpt	*r;
	struct dqueue	*dq;
	bool		 queue_level;	/* failed before any SMTP reply */
	bool		 local;		/* our own verdict: DNS, a queue bounce */
	unsigned	 link_gen;	/* queued link it came over */
	/* Where it went, for accounting (dsnMta, dlv*Ip, esmtp list). */
	char		 mx[DNS_NAME_MAX + 1];
	char		 ip[64];
	char		 src[64];
	char		 esmtp[160];
	char		 skey[SKEY_MAX + 1];	/* shaping key it went under */
	char		 tls[96];	/* "TLSv1.3:cipher", "" in clear */
	char		*prepend;	/* DKIM-Signature made at commit */
	char		 job[SPOOL_JOB_MAX + 1];	/* X-Job, for VERP */
	uint8_t		 ret;		/* RFC 3461 RET, passed on */
	char		 envid[DSN_ENVID_MAX + 1];
};

struct dest {
	char		 host[DNS_NAME_MAX + 1];
	unsigned	 slot;		/* MX rank: lower is preferred */
	struct sockaddr_storage ss;
	socklen_t	 len;
};

enum route_state { RT_NONE, RT_RESOLVING, RT_READY };

struct session;
TAILQ_HEAD(job_list, job);
TAILQ_HEAD(session_list, session);

struct dqueue {
	char		 domain[MAILADDR_DOMAIN_MAX + 1];
	struct job_list	 pending;
	unsigned	 npending;
	struct session_list idle;
	unsigned	 nsessions;
	unsigned	 nconnecting;	/* sessions not yet holding a job */
	/* route */
	enum route_state rstate;
	time_t		 rexpire;
	struct dest	 dests[DEST_MAX];
	unsigned	 ndests;
	unsigned	 lookups;	/* A lookups in flight */
	bool		 lookup_tempfail;
	struct dnsmx_query *mxq;
	char		 mxname[DNS_NAME_MAX + 1];	/* name asked for MX */
	char		 mxhosts[DEST_MAX][DNS_NAME_MAX + 1];
	uint16_t	 mxport[DEST_MAX];
	unsigned	 nmx;
	/* its settings, cached for the configuration in force */
	struct dom_policy pol;
	unsigned	 pol_gen;
	/* shaping, as shaperd grants it */
	char		 skey[SKEY_MAX + 1];	/* domain or rollup name */
	unsigned	 tokens;	/* transactions we may start */
	unsigned	 slots;		/* connections we may hold */
	bool		 asking;	/* an ASK is out */
	struct event	*ev_ask;	/* ask again after shaperd's wait */
	unsigned	 asked_conns, asked_msgs;
	uint64_t	 conns_after;	/* no slot asks before (ms) */
	uint64_t	 msgs_after;	/* no token asks before (ms) */
	uint8_t		 mode;		/* 0 normal, 1 backoff */
	uint8_t		 hold;		/* shaperd's hold reason, 0 none */
	time_t		 hold_until;
	time_t		 bounce_until;
	char		 stext[HOLD_TEXT_MAX];
};

struct deliverd {
	struct daemon	 d;
	char		 vmta[SPOOL_NAME_MAX + 1];
	const struct cfg_vmta *vm;
	struct ipc_peer	*queued;
	unsigned	 link_gen;
	struct ipc_link	 ql;		/* to queued */
	struct event	*ev_dump;
	struct ipc_peer	*shaper;
	struct ipc_link	 sl;		/* to shaperd */
	struct hmap	 dqueues;
	struct dnsmx	*dns;
	struct evdns_base *evdns;
	unsigned	 njobs;
	unsigned	 nsessions;
};

extern struct deliverd dd;

/* deliverd.c */
void		 job_finish(struct job *);
void		 job_drop(struct job *);
void		 dq_kick(struct dqueue *);
void		 dq_fail_all(struct dqueue *, char outcome, const char *status,
		    const char *diag);
void		 dq_fail_local(struct dqueue *, char outcome, const char *status,
		    const char *diag);
struct job	*dq_take(struct dqueue *);
const struct dom_policy *dq_policy(struct dqueue *);
struct job	*dq_take_any(struct dqueue *);
void		 job_set(struct job *, struct jrcpt *, char outcome,
		    const char *status, const char *diag);
void		 job_set_open(struct job *, char outcome, const char *status,
		    const char *diag);

/* shape.c */
void		 shape_init(void);
void		 shape_ask(struct dqueue *, unsigned conns, unsigned msgs);
void		 shape_release(const char *key, unsigned n);
void		 shape_outcome(struct job *);
bool		 shape_gate(struct dqueue *);
void		 dq_hold_all(struct dqueue *);

/* tls.c */
int		 tls_init(const struct tern_config *);
SSL		*tls_new(const char *host, const char *key);
bool		 tls_describe(SSL *, char *, size_t, char *why, size_t);
const char	*tls_error(void);

/* route.c */
void		 route_resolve(struct dqueue *);
void		 route_init(void);
void		 route_reload(const struct cfg_dns *);

/* session.c */
void		 session_start(struct dqueue *);
void		 session_give(struct session *, struct job *);
void		 session_wake_idle(struct dqueue *);
void		 session_abort_all(void);
void		 session_disconnect(struct dqueue *);
void		 session_dump(void);

#endif
