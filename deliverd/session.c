/*
 * session.c - outbound SMTP sessions (RFC 5321, PIPELINING RFC 2920).
 *
 * Purpose:      connect from the VirtualMTA's source address to the
 *               domain's hosts in order (next host on connect failure,
 *               timeout or a 4xx greeting), EHLO (HELO fallback), then
 *               carry jobs: MAIL, RCPT per recipient, DATA, the body
 *               (dot-stuffed, CRLF only: a bare CR or LF in the file is
 *               sent as CRLF), the final dot.  With PIPELINING the whole
 *               envelope goes in one write.  Each phase has its own
 *               timeout (RFC 5321 4.5.3.2).  A connection is reused for
 *               up to max-msg-per-connection messages and kept idle for
 *               connection-idle-timeout.
 * Used by:      deliverd.
 * Trust:        the remote server is hostile: replies are bounded (line
 *               length, line count), codes must be three digits, a
 *               malformed reply fails the transaction as a temporary
 *               error.
 * Spool access: reads the body through the job's fd.
 * See:          deliverd(8).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/ssl.h>

#include "log.h"
#include "smtp_cmd.h"
#include "verp.h"
#include "deliverd.h"

#define BODY_CHUNK	(64 * 1024)

/* Every state up to SS_TLS is before the first transaction. */
enum sstate {
	SS_CONNECT, SS_GREETING, SS_EHLO, SS_HELO, SS_STARTTLS, SS_TLS,
	SS_IDLE, SS_RSET, SS_TXN, SS_BODY, SS_DOT, SS_QUIT
};

struct session {
	TAILQ_ENTRY(session) entry;
	TAILQ_ENTRY(session) all;	/* every session of this deliverd */
	struct dqueue	*dq;
	struct bufferevent *bev;
	unsigned	 desti;
	enum sstate	 st;
	struct job	*job;
	unsigned	 nmsgs;
	bool		 pipelining;
	bool		 dsn;		/* RFC 3461 offered */
	bool		 need_rset, mail_failed;
	unsigned	 cmdi, naccepted;
	char		 esmtp[160];
	char		 host[DNS_NAME_MAX + 1];
	char		 ip[64];
	char		 src[64];
	struct buf	 reply;		/* the reply being read */
	unsigned	 rlines;
	uint64_t	 body_sent;
	bool		 bol, pending_cr;
	struct event	*ev_idle;
	char		 err[600];
	int		 busy;		/* >0 inside a reply handler */
	bool		 dead;		/* freed while busy: free after */
	bool		 listed;	/* on dq->idle */
	bool		 quit_after;	/* shaperd: close after this job */
	char		 skey[SKEY_MAX + 1];	/* its slot's shaping key */
	struct evbuffer	*out;		/* commands not yet written */
	bool		 connecting;	/* counted in dq->nconnecting */
	/* STARTTLS (RFC 3207) */
	bool		 offers_tls;	/* EHLO listed STARTTLS */
	bool		 tls;		/* the channel is TLS now */
	bool		 no_tls;	/* a failed handshake: retry in clear */
	char		 tls_key[80];	/* "ip:port": its session to resume */
	char		 tls_info[96];	/* "TLSv1.3:cipher", for accounting */
};

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);

static void	s_read(struct bufferevent *, void *);
static void	s_write(struct bufferevent *, void *);
static void	s_event(struct bufferevent *, short, void *);
static void	s_connect(struct session *);
static void	s_next_job(struct session *);
static void	after_ehlo(struct session *);
static void	start_tls(struct session *);
static void	tls_failed(struct session *, const char *);
static char	outcome_of(int);
static void	fix_status(char, char *, size_t);

static const char *
ststr(enum sstate st)
{
	static const char *n[] = { "connect", "greeting", "ehlo", "helo",
	    "starttls", "tls handshake", "idle", "rset", "transaction", "body",
	    "dot", "quit" };

	return n[st];
}

/*
 * s_send - a command into s->out; s_flush writes them straight to the
 * socket once the reply at hand is handled (a pipelined envelope in one
 * write, no write-event churn), or hands them to the bufferevent when
 * it still has output queued (order is kept either way).
 */
static void
s_send(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	evbuffer_add(s->out, "\r\n", 2);
}

static void
s_flush(struct session *s)
{
	struct evbuffer	*bout;

	if (s->bev == NULL || evbuffer_get_length(s->out) == 0)
		return;
	bout = bufferevent_get_output(s->bev);
	/* Straight to the socket only in clear: TLS goes through OpenSSL. */
	if (evbuffer_get_length(bout) == 0 && !s->tls)
		while (evbuffer_get_length(s->out) > 0 &&
		    evbuffer_write(s->out, bufferevent_getfd(s->bev)) > 0)
			;
	if (evbuffer_get_length(s->out) > 0)
		bufferevent_write_buffer(s->bev, s->out);
}

static void
s_timeout(struct session *s, uint64_t secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static const struct dom_policy *
pol(struct session *s)
{
	return dq_policy(s->dq);
}

static void	s_release(struct session *, bool kick);

/* s_free - the session is over; let the domain queue start another */
static void
s_free(struct session *s)
{
	s_release(s, true);
}

static void
s_release(struct session *s, bool kick)
{
	struct dqueue *dq = s->dq;

	if (s->busy > 0) {
		/* Inside s_read: stop everything now, free on the way out. */
		if (!s->dead && s->bev != NULL)
			bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		s->dead = true;
		return;
	}
	if (s->listed)
		TAILQ_REMOVE(&dq->idle, s, entry);
	if (s->connecting)
		dq->nconnecting--;
	/*
	 * OpenSSL makes the session of a connection freed without a
	 * shutdown unresumable: the one the server's ticket gave us, kept
	 * for the next connection (tls.c).  A session that got this far
	 * ends as if shut down, so it stays resumable.
	 */
	if (s->bev != NULL && s->tls &&
	    bufferevent_openssl_get_ssl(s->bev) != NULL)
		SSL_set_shutdown(bufferevent_openssl_get_ssl(s->bev),
		    SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->ev_idle != NULL)
		event_free(s->ev_idle);
	buf_free(&s->reply);
	evbuffer_free(s->out);
	TAILQ_REMOVE(&sessions, s, all);
	dq->nsessions--;
	dd.nsessions--;
	/* Its connection slot goes back to shaperd. */
	if (dq->slots > 0)
		dq->slots--;
	shape_release(s->skey, 1);
	free(s);
	if (kick)
		dq_kick(dq);
}

/* s_fail_job - the open recipients of the current job get an outcome */
static void
s_fail_job(struct session *s, char outcome, const char *status,
    const char *diag)
{
	struct job *j = s->job;

	if (j == NULL)
		return;
	s->job = NULL;
	job_set_open(j, outcome, status, diag);
	job_finish(j);
}

/* s_abort - connection unusable mid-way: fail the job, end the session */
static void
s_abort(struct session *s, const char *status, const char *why)
{
	char diag[700];

	snprintf(diag, sizeof(diag), "%s (%s, state %s)", why, s->host,
	    ststr(s->st));
	log_debug("%s: %s", s->dq->domain, diag);
	s_fail_job(s, 'T', status, diag);
	s_free(s);
}

static void
s_quit(struct session *s)
{
	s->st = SS_QUIT;
	s_send(s, "QUIT");
	/* Through the bufferevent: its write callback frees the session. */
	bufferevent_write_buffer(s->bev, s->out);
	bufferevent_disable(s->bev, EV_READ);
	s_timeout(s, 10);
}

/* s_try_next - this host failed before any transaction: next host */
static void
s_try_next(struct session *s, const char *why)
{
	struct dqueue *dq = s->dq;

	snprintf(s->err, sizeof(s->err), "%s [%s]: %s", s->host, s->ip, why);
	log_debug("%s: %s", dq->domain, s->err);
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
	s->no_tls = false;		/* a new host gets TLS again */
	if (++s->desti < dq->ndests && s->desti < pol(s)->mx_connection_attempts) {
		s_connect(s);
		return;
	}
	/*
	 * Every host failed: the waiting jobs would fail the same way, so
	 * they are deferred now, as PowerMTA does for a queue it cannot
	 * reach (a "tq" outcome); the route is looked up afresh next time.
	 */
	dq->rstate = RT_NONE;
	if (s->job != NULL) {
		s->job->queue_level = true;
		s_fail_job(s, 'T', "4.4.1", s->err);
	}
	s->st = SS_CONNECT;
	{
		char err[600];

		tern_strlcpy(err, s->err, sizeof(err));
		/*
		 * Fail the waiting jobs first, then go without starting a new
		 * session: reconnecting at once would spin on a dead host.
		 * Other sessions of this domain carry on with their jobs.
		 */
		if (s->busy > 0) {
			dq_fail_all(dq, 'T', "4.4.1", err);
			s_free(s);
		} else {
			s_release(s, false);
			dq_fail_all(dq, 'T', "4.4.1", err);
		}
	}
}

static void
s_connect(struct session *s)
{
	struct dest	*d = &s->dq->dests[s->desti];
	int		 fd, one = 1;
	struct sockaddr_storage src;

	tern_strlcpy(s->host, d->host, sizeof(s->host));
	s->tls = false;
	if (d->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&d->ss)->sin_addr,
		    s->ip, sizeof(s->ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&d->ss)->sin6_addr,
		    s->ip, sizeof(s->ip));
	s->st = SS_CONNECT;
	fd = socket(d->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		s_try_next(s, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Leave from the VirtualMTA's own address (smtp-source-host). */
	if (dd.vm->source.len != 0 &&
	    dd.vm->source.ss.ss_family == d->ss.ss_family) {
		memcpy(&src, &dd.vm->source.ss, sizeof(src));
		if (src.ss_family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&src)->sin6_port = 0;
		if (bind(fd, (struct sockaddr *)&src, dd.vm->source.len) == -1) {
			close(fd);
			s_try_next(s, "cannot bind the source address");
			return;
		}
	}
	s->bev = bufferevent_socket_new(dd.d.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, s_read, s_write, s_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, BODY_CHUNK, 0);
	s_timeout(s, pol(s)->to.connect);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&d->ss,
	    (int)d->len) == -1) {
		s_try_next(s, "connect failed");
		return;
	}
}

/* session_start - a new connection for a domain queue */
void
session_start(struct dqueue *dq)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->dq = dq;
	tern_strlcpy(s->skey, dq->skey, sizeof(s->skey));
	s->out = evbuffer_new();
	TAILQ_INSERT_TAIL(&sessions, s, all);
	buf_init(&s->reply, REPLY_LINE_MAX * REPLY_LINES_MAX);
	dq->nsessions++;
	dq->nconnecting++;
	s->connecting = true;
	dd.nsessions++;
	s->desti = 0;			/* the most preferred host first */
	s_connect(s);
}

static void
idle_expired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	TAILQ_REMOVE(&s->dq->idle, s, entry);
	s->listed = false;
	s->st = SS_RSET;		/* anything but idle */
	s_quit(s);
}

/* --- transactions ------------------------------------------------------ */

/*
 * mail_dsn - RFC 3461's RET and ENVID for MAIL FROM, passed on when the
 * server offers DSN (it then reports on the recipients itself)
 */
static const char *
mail_dsn(const struct session *s, const struct job *j, char *buf, size_t sz)
{
	char	 env[DSN_ENVID_MAX * 3 + 1];
	size_t	 n = 0;

	buf[0] = '\0';
	if (!s->dsn)
		return buf;
	if (j->ret != DSN_RET_NONE)
		n = (size_t)snprintf(buf, sz, " RET=%s", j->ret == DSN_RET_FULL ?
		    "FULL" : "HDRS");
	if (j->envid[0] != '\0' && n < sz &&
	    xtext_encode(j->envid, env, sizeof(env)) < sizeof(env))
		snprintf(buf + n, sz - n, " ENVID=%s", env);
	return buf;
}

/* send_rcpt - RCPT TO, with NOTIFY and ORCPT for a DSN server */
static void
send_rcpt(struct session *s, const struct job *j, unsigned i)
{
	const struct jrcpt *r = &j->r[i];
	char		 no[48] = "", oc[DSN_ORCPT_MAX * 3 + 16] = "";
	char		 x[DSN_ORCPT_MAX * 3 + 1];
	const char	*semi;

	if (s->dsn && r->notify != 0) {
		if (r->notify & DSN_NOTIFY_NEVER)
			snprintf(no, sizeof(no), " NOTIFY=NEVER");
		else
			snprintf(no, sizeof(no), " NOTIFY=%s%s%s%s%s",
			    r->notify & DSN_NOTIFY_SUCCESS ? "SUCCESS" : "",
			    (r->notify & DSN_NOTIFY_SUCCESS) &&
			    (r->notify & (DSN_NOTIFY_FAILURE |
			    DSN_NOTIFY_DELAY)) ? "," : "",
			    r->notify & DSN_NOTIFY_FAILURE ? "FAILURE" : "",
			    (r->notify & DSN_NOTIFY_FAILURE) &&
			    (r->notify & DSN_NOTIFY_DELAY) ? "," : "",
			    r->notify & DSN_NOTIFY_DELAY ? "DELAY" : "");
	}
	/* ORCPT=type;xtext(address) */
	if (s->dsn && r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) !=
	    NULL && xtext_encode(semi + 1, x, sizeof(x)) < sizeof(x))
		snprintf(oc, sizeof(oc), " ORCPT=%.*s;%s",
		    (int)(semi - r->orcpt), r->orcpt, x);
	s_send(s, "RCPT TO:<%s>%s%s", r->addr, no, oc);
}

/*
 * return_path - the envelope sender; with verp: yes, the VERP form
 * naming the recipient (queued gives a VERP VirtualMTA's jobs one
 * recipient each), this VirtualMTA and the job
 */
static const char *
return_path(const struct job *j, char *buf, size_t sz)
{
	if (dd.vm == NULL || !dd.vm->verp || j->nrcpt != 1 ||
	    verp_encode(j->sender, j->r[0].addr, dd.vmta, j->job,
	    dd.d.cfg->verp_secret, buf, sz) == -1)
		return j->sender;
	return buf;
}

static void
start_txn(struct session *s)
{
	char		 rp[MAILADDR_MAX + 1], dp[DSN_ENVID_MAX * 3 + 32];
	struct job	*j = s->job;
	unsigned	 i;

	s->cmdi = 0;
	s->naccepted = 0;
	s->mail_failed = false;
	s->st = SS_TXN;
	if (!bsnprintf(j->mx, sizeof(j->mx), "%s (%s)", s->host, s->ip))
		tern_strlcpy(j->mx, s->ip, sizeof(j->mx));
	tern_strlcpy(j->ip, s->ip, sizeof(j->ip));
	tern_strlcpy(j->src, s->src, sizeof(j->src));
	tern_strlcpy(j->esmtp, s->esmtp, sizeof(j->esmtp));
	tern_strlcpy(j->tls, s->tls ? s->tls_info : "", sizeof(j->tls));
	s_send(s, "MAIL FROM:<%s>%s", return_path(j, rp, sizeof(rp)),
	    mail_dsn(s, j, dp, sizeof(dp)));
	if (s->pipelining) {
		for (i = 0; i < j->nrcpt; i++)
			send_rcpt(s, j, i);
		s_send(s, "DATA");
	}
	s_timeout(s, pol(s)->to.mail);
}

/* session_give - an idle or fresh session takes a job */
void
session_give(struct session *s, struct job *j)
{
	if (s->ev_idle != NULL)
		evtimer_del(s->ev_idle);
	s->job = j;
	if (s->need_rset) {
		s->st = SS_RSET;
		s_send(s, "RSET");
		s_timeout(s, pol(s)->to.mail);
	} else
		start_txn(s);
	if (s->busy == 0)
		s_flush(s);
}

/*
 * session_abort_all - queued went away: drop every connection at once,
 * mid-transaction too (the server sees the connection go without the
 * final dot and delivers nothing), and every job with it.  The files the
 * jobs read from belong to the next queued, which may reuse them for
 * other messages; no byte may be read from them after this.
 */
void
session_abort_all(void)
{
	struct session	*s;
	struct job	*j;

	while ((s = TAILQ_FIRST(&sessions)) != NULL) {
		if (s->busy > 0) {
			/* Inside its own callback: cut it, free it on return. */
			TAILQ_REMOVE(&sessions, s, all);
			TAILQ_INSERT_TAIL(&sessions, s, all);
			if (s->bev != NULL)
				bufferevent_disable(s->bev, EV_READ | EV_WRITE);
			if (s->job != NULL) {
				j = s->job;
				s->job = NULL;
				job_drop(j);
			}
			s->dead = true;
			if (TAILQ_FIRST(&sessions) == s)
				break;
			continue;
		}
		if (s->job != NULL) {
			j = s->job;
			s->job = NULL;
			job_drop(j);
		}
		s_release(s, false);
	}
}

/*
 * session_disconnect - shaperd's disconnect (or a hold): idle sessions
 * of the queue quit now, busy ones after their transaction.
 */
void
session_disconnect(struct dqueue *dq)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		if (s->dq != dq)
			continue;
		s->quit_after = true;
		if (s->listed) {
			TAILQ_REMOVE(&dq->idle, s, entry);
			s->listed = false;
			if (s->ev_idle != NULL)
				evtimer_del(s->ev_idle);
			s->st = SS_RSET;	/* anything but idle */
			s_quit(s);
		}
	}
}

/* session_dump - each session's state to the log (SIGUSR1) */
void
session_dump(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, all)
		log_info("  session %s [%s] %s: state %s, %u messages, job %s",
		    s->dq->domain, s->ip, s->host, ststr(s->st), s->nmsgs,
		    s->job ? "yes" : "no");
}

/* session_wake_idle - idle connections take waiting jobs */
void
session_wake_idle(struct dqueue *dq)
{
	struct session	*s;
	struct job	*j;

	while ((s = TAILQ_FIRST(&dq->idle)) != NULL &&
	    (j = dq_take(dq)) != NULL) {
		TAILQ_REMOVE(&dq->idle, s, entry);
		s->listed = false;
		s->st = SS_RSET;	/* anything but idle */
		session_give(s, j);
	}
}

/* s_next_job - after a transaction: reuse, idle or quit */
static void
s_next_job(struct session *s)
{
	const struct dom_policy *p = pol(s);
	struct job	  *j;

	if (s->quit_after || (p->max_msg_per_connection != 0 &&
	    s->nmsgs >= p->max_msg_per_connection)) {
		s_quit(s);
		return;
	}
	if ((j = dq_take(s->dq)) != NULL) {
		session_give(s, j);
		return;
	}
	s->st = SS_IDLE;
	TAILQ_INSERT_TAIL(&s->dq->idle, s, entry);
	s->listed = true;
	if (s->ev_idle == NULL)
		s->ev_idle = evtimer_new(dd.d.base, idle_expired, s);
	{
		struct timeval tv = { (time_t)p->connection_idle_timeout, 0 };
		evtimer_add(s->ev_idle, &tv);
	}
	s_timeout(s, p->connection_idle_timeout + 30);
}

static void
parse_status(int code, const char *text, char *status, size_t sz)
{
	int	 a, b, c, n = 0;

	if (sscanf(text, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
	    (text[n] == ' ' || text[n] == '\0') && a == code / 100)
		snprintf(status, sz, "%d.%d.%d", a, b, c);
	else
		snprintf(status, sz, "%d.0.0", code / 100);
	fix_status(outcome_of(code), status, sz);
}

/*
 * outcome_of - 2xx delivered, 4xx deferred, 5xx bounced; a 3xx where
 * none belongs is a protocol error, deferred.
 */
static char
outcome_of(int code)
{
	return code < 300 ? 'D' : code < 500 ? 'T' : 'B';
}

/* fix_status - the enhanced code's class must match the outcome */
static void
fix_status(char outcome, char *status, size_t sz)
{
	char want = outcome == 'D' ? '2' : outcome == 'T' ? '4' : '5';

	if (status[0] != want)
		snprintf(status, sz, "%c.%s", want, outcome == 'T' ?
		    "5.0" : "0.0");
}

static void
txn_done(struct session *s, bool ok)
{
	struct job *j = s->job;

	s->job = NULL;
	if (j != NULL)
		job_finish(j);
	if (!ok)
		s->need_rset = true;
	else
		s->nmsgs++;
	s_next_job(s);
}

/* on_txn_reply - MAIL, each RCPT, DATA, in order */
static void
on_txn_reply(struct session *s, int code, const char *text, const char *diag)
{
	struct job	*j = s->job;
	char		 status[16];
	unsigned	 i = s->cmdi++;

	parse_status(code, text, status, sizeof(status));
	if (i == 0) {
		if (code / 100 != 2) {
			s->mail_failed = true;
			job_set_open(j, outcome_of(code), status, diag);
		} else if (!s->pipelining)
			send_rcpt(s, j, 0);
		s_timeout(s, pol(s)->to.rcpt);
		if (s->mail_failed && !s->pipelining)
			txn_done(s, false);
		return;
	}
	if (i <= j->nrcpt) {
		struct jrcpt *r = &j->r[i - 1];

		if (!s->mail_failed) {
			if (code / 100 == 2) {
				r->accepted = true;
				s->naccepted++;
			} else
				job_set(j, r, outcome_of(code), status, diag);
		}
		if (s->pipelining) {
			if (i == j->nrcpt)
				s_timeout(s, pol(s)->to.data);
			return;
		}
		if (i < j->nrcpt) {
			send_rcpt(s, j, i);
			return;
		}
		if (s->naccepted == 0) {
			txn_done(s, false);
			return;
		}
		s_send(s, "DATA");
		s_timeout(s, pol(s)->to.data);
		return;
	}
	/* The DATA reply. */
	if (code == 354) {
		if (s->mail_failed || s->naccepted == 0) {
			/* A server that says 354 to nobody gets an empty end. */
			s_send(s, ".");
			s->st = SS_DOT;
			s_timeout(s, pol(s)->to.dot);
			return;
		}
		s->st = SS_BODY;
		s->body_sent = 0;
		s->bol = true;
		s->pending_cr = false;
		s_timeout(s, pol(s)->to.send);
		s_write(s->bev, s);
		return;
	}
	if (!s->mail_failed)
		for (i = 0; i < j->nrcpt; i++)
			if (j->r[i].accepted)
				job_set(j, &j->r[i], outcome_of(code), status,
				    diag);
	txn_done(s, false);
}

/* on_dot_reply - the verdict on the message for accepted recipients */
static void
on_dot_reply(struct session *s, int code, const char *text, const char *diag)
{
	struct job	*j = s->job;
	char		 status[16];
	unsigned	 i;

	parse_status(code, text, status, sizeof(status));
	if (j != NULL)
		for (i = 0; i < j->nrcpt; i++)
			if (j->r[i].accepted)
				job_set(j, &j->r[i], outcome_of(code), status,
				    diag);
	txn_done(s, code / 100 == 2);
}

/* ehlo_caps - note the extensions we use and the list for accounting */
static void
ehlo_caps(struct session *s, const char *text)
{
	const char *line = text;

	s->pipelining = false;
	s->offers_tls = false;
	s->dsn = false;
	s->esmtp[0] = '\0';
	/* Skip the first line (the greeting host). */
	while ((line = strchr(line, '\n')) != NULL) {
		char kw[32];
		size_t n;

		line++;
		n = strcspn(line, " \n");
		if (n == 0 || n >= sizeof(kw))
			continue;
		memcpy(kw, line, n);
		kw[n] = '\0';
		for (char *p = kw; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		if (strcmp(kw, "PIPELINING") == 0)
			s->pipelining = true;
		if (strcmp(kw, "STARTTLS") == 0)
			s->offers_tls = true;
		if (strcmp(kw, "DSN") == 0)
			s->dsn = true;
		/* The list for accounting; what does not fit is left out. */
		{
			size_t used = strlen(s->esmtp);

			if (used + n + 2 < sizeof(s->esmtp))
				snprintf(s->esmtp + used, sizeof(s->esmtp) - used,
				    "%s%s", used ? "," : "", kw);
		}
	}
}

static void
s_ready(struct session *s)
{
	struct job *j;

	s->dq->nconnecting--;
	s->connecting = false;
	if ((j = dq_take(s->dq)) != NULL) {
		s->job = j;
		start_txn(s);
		return;
	}
	s_next_job(s);
}

/*
 * after_ehlo - STARTTLS when offered and wanted (use-starttls, on by
 * default); a domain with require-starttls whose host does not offer it
 * gets nothing in clear: the next host, then a deferral.
 */
static void
after_ehlo(struct session *s)
{
	const struct dom_policy *p = pol(s);

	if (!s->tls && s->offers_tls && !s->no_tls &&
	    (p->use_starttls || p->require_starttls)) {
		s->st = SS_STARTTLS;
		s_send(s, "STARTTLS");
		s_timeout(s, p->to.mail);
		return;
	}
	if (!s->tls && p->require_starttls) {
		s_try_next(s, s->offers_tls ? "TLS handshake failed before; "
		    "require-starttls: not sending in clear" :
		    "STARTTLS not offered; require-starttls: not sending in "
		    "clear");
		return;
	}
	s_ready(s);
}

/*
 * start_tls - the server said 220: the same socket, now under OpenSSL.
 * Nothing may be buffered from before (RFC 3207 5: a server that sent
 * more after 220 is not to be trusted with it).
 */
static void
start_tls(struct session *s)
{
	struct bufferevent	*old = s->bev;
	evutil_socket_t		 fd = bufferevent_getfd(old);
	SSL			*ssl;

	if (evbuffer_get_length(bufferevent_get_input(old)) > 0) {
		tls_failed(s, "data after the 220 to STARTTLS");
		return;
	}
	snprintf(s->tls_key, sizeof(s->tls_key), "%s:%u", s->ip,
	    (unsigned)ntohs(s->dq->dests[s->desti].ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&s->dq->dests[s->desti].ss)->sin_port :
	    ((struct sockaddr_in6 *)&s->dq->dests[s->desti].ss)->sin6_port));
	if ((ssl = tls_new(s->host, s->tls_key)) == NULL) {
		s_try_next(s, "cannot start TLS (no context)");
		return;
	}
	/* The old bufferevent lets go of the socket without closing it. */
	bufferevent_disable(old, EV_READ | EV_WRITE);
	bufferevent_setfd(old, -1);
	bufferevent_free(old);
	s->bev = bufferevent_openssl_socket_new(dd.d.base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, s_read, s_write, s_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, BODY_CHUNK, 0);
	s->st = SS_TLS;
	s->tls = true;
	s_timeout(s, pol(s)->to.greeting);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/*
 * tls_up - the handshake is done: check the certificate (it matters
 * with verify-server-certificate), then EHLO again (RFC 3207 4.2)
 */
static void
tls_up(struct session *s)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(s->bev);
	char	 why[200];
	bool	 good = tls_describe(ssl, s->tls_info, sizeof(s->tls_info), why,
	    sizeof(why));

	if (!good && pol(s)->verify_server_certificate) {
		s_try_next(s, why);
		return;
	}
	if (!good)
		log_debug("%s [%s]: TLS without a valid certificate (%s)",
		    s->host, s->ip, why);
	s->st = SS_EHLO;
	s_send(s, "EHLO %s", dd.vm->ehlo_name);
	s_timeout(s, pol(s)->to.mail);
	s_flush(s);
}

/*
 * tls_failed - the handshake failed: with require-starttls the next
 * host; else the same host again in clear (opportunistic TLS, as
 * Postfix does), once
 */
static void
tls_failed(struct session *s, const char *what)
{
	char why[300];

	snprintf(why, sizeof(why), "TLS handshake failed: %s", what);
	if (pol(s)->require_starttls) {
		s_try_next(s, why);
		return;
	}
	log_info("%s [%s]: %s; again without TLS", s->host, s->ip, why);
	bufferevent_free(s->bev);
	s->bev = NULL;
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
	s->tls = false;
	s->no_tls = true;
	s_connect(s);
}

/* on_reply - one complete reply, dispatched by state */
static void
on_reply(struct session *s, int code, const char *text)
{
	char	 diag[DIAG_MAX + 1];
	const char *first = text;

	/* dsnDiag as PowerMTA writes it: "smtp;550 5.1.1 ..." */
	snprintf(diag, sizeof(diag), "smtp;%d %.*s", code,
	    (int)strcspn(first, "\n"), first);
	if (code == 421 && s->st != SS_QUIT && s->st != SS_DOT) {
		if (s->st <= SS_TLS) {
			s_try_next(s, diag);
			return;
		}
		s_fail_job(s, 'T', "4.0.0", diag);
		s_free(s);
		return;
	}
	switch (s->st) {
	case SS_GREETING:
		if (code / 100 == 2) {
			s->st = SS_EHLO;
			s_send(s, "EHLO %s", dd.vm->ehlo_name);
			s_timeout(s, pol(s)->to.mail);
		} else if (code / 100 == 5 && pol(s)->bounce_upon_5xx_greeting &&
		    s->dq->npending > 0) {
			char status[16];
			parse_status(code, text, status, sizeof(status));
			s->st = SS_QUIT;
			dq_fail_all(s->dq, 'B', status, diag);
			s_quit(s);
		} else
			s_try_next(s, diag);
		break;
	case SS_EHLO:
		if (code / 100 == 2) {
			ehlo_caps(s, text);
			after_ehlo(s);
		} else if (code / 100 == 5) {
			s->st = SS_HELO;
			s_send(s, "HELO %s", dd.vm->ehlo_name);
		} else
			s_try_next(s, diag);
		break;
	case SS_HELO:
		if (code / 100 == 2) {
			s->pipelining = false;
			s->offers_tls = false;
			s->esmtp[0] = '\0';
			after_ehlo(s);
		} else
			s_try_next(s, diag);
		break;
	case SS_STARTTLS:
		if (code == 220)
			start_tls(s);
		else if (pol(s)->require_starttls)
			s_try_next(s, diag);
		else
			s_ready(s);	/* refused: go on in clear */
		break;
	case SS_RSET:
		if (code / 100 != 2) {
			s_abort(s, "4.0.0", diag);
			return;
		}
		s->need_rset = false;
		start_txn(s);
		break;
	case SS_TXN:
		on_txn_reply(s, code, text, diag);
		break;
	case SS_DOT:
		on_dot_reply(s, code, text, diag);
		break;
	case SS_IDLE:
		/* An unsolicited reply (often 421 before closing). */
		s_free(s);
		break;
	default:
		break;
	}
}

/* s_read - assemble replies line by line, bounded */
static void
s_read(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		int	 code;
		bool	 last;

		if (n < 3 || n > REPLY_LINE_MAX || !isdigit((unsigned char)
		    line[0]) || !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (n > 3 && line[3] != ' ' && line[3] != '-') ||
		    ++s->rlines > REPLY_LINES_MAX || line[0] < '2' ||
		    line[0] > '5') {
			free(line);
			if (s->st <= SS_TLS)
				s_try_next(s, "malformed SMTP reply");
			else
				s_abort(s, "4.5.0", "malformed SMTP reply");
			return;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		last = n == 3 || line[3] == ' ';
		if (s->reply.len > 0)
			buf_add(&s->reply, "\n", 1);
		/* Remote text: control bytes become blanks, NUL ends it. */
		for (size_t k = 4; k < n; k++)
			if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f)
				line[k] = ' ';
		buf_add(&s->reply, n > 4 ? line + 4 : "", n > 4 ?
		    strnlen(line + 4, n - 4) : 0);
		free(line);
		if (!last)
			continue;
		{
			char *text = xstrdup(s->reply.len ? s->reply.data : "");

			buf_reset(&s->reply);
			s->rlines = 0;
			s->busy++;
			on_reply(s, code, text);
			s->busy--;
			free(text);
		}
		if (s->dead) {
			s->dead = false;
			s_free(s);
			return;
		}
		/* Gone to the next host (a new bufferevent), or quitting. */
		if (s->bev != bev || s->st == SS_QUIT) {
			s_flush(s);
			return;
		}
	}
	s_flush(s);
	if (evbuffer_get_length(in) > REPLY_LINE_MAX)
		s_abort(s, "4.5.0", "overlong SMTP reply line");
}

/* fill_body - the next chunk, dot-stuffed, every line end as CRLF */
static int
fill_body(struct session *s)
{
	struct job	*j = s->job;
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	static char	 in[BODY_CHUNK], o[BODY_CHUNK * 3 + 8];
	uint64_t	 left = j->body_len - s->body_sent;
	size_t		 want = left < BODY_CHUNK ? (size_t)left : BODY_CHUNK;
	size_t		 i, k = 0;
	ssize_t		 n;

	/* The DKIM-Signature made at commit goes first, where wanted. */
	if (s->body_sent == 0 && j->prepend != NULL &&
	    config_dkim_wanted(dd.d.cfg, dd.vm, s->dq->domain))
		evbuffer_add(out, j->prepend, strlen(j->prepend));
	if (want == 0)
		return 0;
	n = pread(j->fd, in, want, (off_t)(j->body_off + s->body_sent));
	if (n <= 0)
		return -1;
	for (i = 0; i < (size_t)n; i++) {
		char c = in[i];

		if (s->pending_cr) {
			s->pending_cr = false;
			o[k++] = '\r';
			o[k++] = '\n';
			s->bol = true;
			if (c == '\n')
				continue;	/* that was a proper CRLF */
		}
		if (c == '\r') {
			s->pending_cr = true;
			continue;
		}
		if (c == '\n') {		/* bare LF: send CRLF */
			o[k++] = '\r';
			o[k++] = '\n';
			s->bol = true;
			continue;
		}
		if (s->bol && c == '.')
			o[k++] = '.';
		o[k++] = c;
		s->bol = false;
	}
	evbuffer_add(out, o, k);
	s->body_sent += (uint64_t)n;
	return 1;
}

/* s_write - output drained below the watermark: more body, or the dot */
static void
s_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	int		r;

	if (s->st == SS_QUIT) {
		s_free(s);
		return;
	}
	if (s->st != SS_BODY)
		return;
	if (evbuffer_get_length(s->out) > 0)
		bufferevent_write_buffer(bev, s->out);
	if ((r = fill_body(s)) == 1) {
		s_timeout(s, pol(s)->to.send);
		return;
	}
	if (r == -1) {
		s_abort(s, "4.3.0", "local error reading the queue file");
		return;
	}
	if (s->pending_cr) {
		s->pending_cr = false;
		evbuffer_add(bufferevent_get_output(bev), "\r\n", 2);
		s->bol = true;
	}
	if (!s->bol)
		evbuffer_add(bufferevent_get_output(bev), "\r\n", 2);
	evbuffer_add(bufferevent_get_output(bev), ".\r\n", 3);
	s->st = SS_DOT;
	s_timeout(s, pol(s)->to.dot);
}

static void
s_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if ((what & BEV_EVENT_CONNECTED) && s->st == SS_TLS) {
		tls_up(s);
		return;
	}
	if (s->st == SS_TLS) {
		tls_failed(s, tls_error());
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		s->st = SS_GREETING;
		if (getsockname(bufferevent_getfd(bev), (struct sockaddr *)&ss,
		    &len) == 0) {
			if (ss.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)
				    &ss)->sin_addr, s->src, sizeof(s->src));
			else
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
				    &ss)->sin6_addr, s->src, sizeof(s->src));
		}
		s_timeout(s, pol(s)->to.greeting);
		return;
	}
	if (s->st == SS_QUIT) {
		s_free(s);
		return;
	}
	if (s->st <= SS_TLS) {
		s_try_next(s, what & BEV_EVENT_TIMEOUT ? "timeout" :
		    what & BEV_EVENT_EOF ? "connection closed" :
		    strerror(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (s->st == SS_IDLE) {
		s_free(s);
		return;
	}
	s_abort(s, what & BEV_EVENT_TIMEOUT ? "4.4.2" : "4.4.2",
	    what & BEV_EVENT_TIMEOUT ? "timeout waiting for the server" :
	    "connection lost");
}
