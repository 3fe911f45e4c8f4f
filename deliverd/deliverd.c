/*
 * deliverd.c - the delivery agent of one VirtualMTA.
 *
 * Purpose:      ternd starts one deliverd per virtual-mta ("deliverd
 *               -V name").  It connects to queued, announces its
 *               virtual-mta, and receives jobs: the recipients of one
 *               message in one domain, with a read-only fd on the queue
 *               file.  Jobs wait in their domain's queue; at most
 *               max-smtp-out sessions per domain carry them, each reused
 *               for up to max-msg-per-connection messages.  Each job's
 *               per-recipient outcome goes back to queued, which alone
 *               records it.
 * Used by:      deliverd.
 * Trust:        frames from queued are checked field by field.
 * Spool access: read-only fds only.
 * See:          deliverd(8).
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "smtp_cmd.h"
#include "deliverd.h"

struct deliverd dd;

static struct dqueue *
dq_get(const char *domain)
{
	struct dqueue *dq;

	if ((dq = hmap_get(&dd.dqueues, domain)) != NULL)
		return dq;
	dq = xcalloc(1, sizeof(*dq));
	tern_strlcpy(dq->domain, domain, sizeof(dq->domain));
	TAILQ_INIT(&dq->pending);
	TAILQ_INIT(&dq->idle);
	tern_strlcpy(dq->skey, domain, sizeof(dq->skey));
	hmap_put(&dd.dqueues, domain, dq);
	return dq;
}

/* job_set - record one recipient's outcome (first outcome wins) */
void
job_set(struct job *j, struct jrcpt *r, char outcome, const char *status,
    const char *diag)
{
	if (r->outcome != 0)
		return;
	r->outcome = outcome;
	tern_strlcpy(r->status, status, sizeof(r->status));
	free(r->diag);
	r->diag = xstrndup(diag, DIAG_MAX);
	/* It travels as an IPC string: no CR, LF or other control bytes. */
	for (char *p = r->diag; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* job_set_open - the same outcome for every recipient still open */
void
job_set_open(struct job *j, char outcome, const char *status,
    const char *diag)
{
	unsigned i;

	for (i = 0; i < j->nrcpt; i++)
		job_set(j, &j->r[i], outcome, status, diag);
}

static void	job_free(struct job *);

/* job_drop - forget a job without reporting it (queued is gone) */
void
job_drop(struct job *j)
{
	job_free(j);
}

static void
job_free(struct job *j)
{
	unsigned i;

	if (j->fd != -1)
		close(j->fd);
	for (i = 0; i < j->nrcpt; i++) {
		free(j->r[i].diag);
		free(j->r[i].orcpt);
	}
	free(j->r);
	free(j->sender);
	free(j->prepend);
	free(j);
	dd.njobs--;
}

/*
 * job_finish - report every recipient to queued and forget the job.
 * A recipient left open (should not happen) is reported deferred, so
 * queued never loses track of it.
 */
void
job_finish(struct job *j)
{
	struct ipc_out	 o;
	unsigned	 i;

	job_set_open(j, 'T', "4.3.0", "local error: recipient left open");
	if (j->skey[0] == '\0' && j->dq != NULL)
		tern_strlcpy(j->skey, j->dq->skey, sizeof(j->skey));
	shape_outcome(j);
	/*
	 * Only to the queued that sent it: after a restart queued has
	 * rescheduled those recipients itself.
	 */
	if (dd.queued != NULL && j->link_gen == dd.link_gen) {
		ipc_out_begin(&o, IPC_DELIVERD_RESULT, j->id);
		ipc_put_str(&o, j->mx);
		ipc_put_str(&o, j->ip);
		ipc_put_str(&o, j->src);
		ipc_put_str(&o, j->esmtp);
		ipc_put_str(&o, j->skey);
		ipc_put_u8(&o, j->dq != NULL ? j->dq->mode : 0);
		ipc_put_str(&o, j->tls);
		ipc_put_u8(&o, j->queue_level ? 1 : 0);
		ipc_put_u32(&o, j->nrcpt);
		for (i = 0; i < j->nrcpt; i++) {
			struct jrcpt *r = &j->r[i];

			ipc_put_u32(&o, r->idx);
			ipc_put_u8(&o, (uint8_t)r->outcome);
			ipc_put_str(&o, r->status);
			ipc_put_str(&o, r->diag ? r->diag : "");
		}
		ipc_send(dd.queued, &o, -1);
	}
	job_free(j);
}

/*
 * dq_policy - the domain queue's settings: looked up again only when a
 * reload put a new configuration in force (sessions ask at every reply)
 */
const struct dom_policy *
dq_policy(struct dqueue *dq)
{
	if (dq->pol_gen != dd.d.cfg_gen) {
		config_queue_policy(dd.d.cfg, dd.vm, dq->domain, &dq->pol);
		dq->pol_gen = dd.d.cfg_gen;
	}
	return &dq->pol;
}

/* dq_take_any - the next job waiting in a domain queue */
struct job *
dq_take_any(struct dqueue *dq)
{
	struct job *j;

	if ((j = TAILQ_FIRST(&dq->pending)) != NULL) {
		TAILQ_REMOVE(&dq->pending, j, entry);
		dq->npending--;
	}
	return j;
}

/*
 * dq_take - the next job that may start a transaction now: one token
 * from shaperd each (asked for when none is left).
 */
struct job *
dq_take(struct dqueue *dq)
{
	struct job *j;

	if (dq->npending == 0)
		return NULL;
	if (dq->tokens == 0 || (dq->hold != 0 && dq->hold != HOLD_WARMUP_VOLUME &&
	    dq->hold_until > time(NULL))) {
		shape_ask(dq, 0, dq->npending);
		return NULL;
	}
	if ((j = dq_take_any(dq)) != NULL) {
		dq->tokens--;
		tern_strlcpy(j->skey, dq->skey, sizeof(j->skey));
	}
	return j;
}

static void
fail_jobs(struct dqueue *dq, char outcome, const char *status,
    const char *diag, bool local)
{
	struct job *j;

	while ((j = dq_take_any(dq)) != NULL) {
		j->queue_level = true;
		j->local = local;
		job_set_open(j, outcome, status, diag);
		job_finish(j);
	}
}

/*
 * dq_fail_local - every waiting job gets the same verdict of our own
 * (DNS, a bouncing queue): no receiver said anything, so shaperd hears
 * nothing of it - its rules would match our own text, its warm-up
 * tallies count only what receivers answer.
 */
void
dq_fail_local(struct dqueue *dq, char outcome, const char *status,
    const char *diag)
{
	fail_jobs(dq, outcome, status, diag, true);
}

/* dq_fail_all - every waiting job gets the same outcome (no host answered) */
void
dq_fail_all(struct dqueue *dq, char outcome, const char *status,
    const char *diag)
{
	fail_jobs(dq, outcome, status, diag, false);
}

/*
 * dq_kick - match waiting jobs with sessions: idle ones first, then new
 * ones for the jobs that hold a token, as far as shaperd's slots go; ask
 * shaperd for what is missing.  Needs a resolved route (which gives the
 * shaping key).
 */
void
dq_kick(struct dqueue *dq)
{
	unsigned ready, want;

	if (dq->npending == 0) {
		/* Tokens do not wait for later mail: that would be a burst. */
		dq->tokens = 0;
		return;
	}
	if (dq->rstate != RT_READY || dq->rexpire < time(NULL)) {
		if (dq->rstate != RT_RESOLVING)
			route_resolve(dq);
		return;
	}
	if (!shape_gate(dq))
		return;
	session_wake_idle(dq);
	if (dq->npending == 0)
		return;
	ready = dq->tokens < dq->npending ? dq->tokens : dq->npending;
	want = ready > dq->nconnecting ? ready - dq->nconnecting : 0;
	while (want > 0 && dq->nsessions < dq->slots) {
		session_start(dq);
		want--;
	}
	if (want > 0 || dq->tokens < dq->npending)
		shape_ask(dq, want, dq->npending > dq->tokens ?
		    dq->npending - dq->tokens : 0);
}

/* --- the queued link --------------------------------------------------- */

static int
get_rcpts(struct ipc_msg *m, struct job *j)
{
	uint32_t n, i;
	struct mailaddr a;
	const char *why;

	if (ipc_get_u32(m, &n) == -1 || n == 0 || n > JOB_RCPT_MAX)
		return -1;
	j->r = xcalloc(n, sizeof(*j->r));
	j->nrcpt = n;
	for (i = 0; i < n; i++)
		if (ipc_get_u32(m, &j->r[i].idx) == -1 ||
		    ipc_get_str(m, j->r[i].addr, sizeof(j->r[i].addr)) == -1 ||
		    mailaddr_parse(j->r[i].addr, &a, &why) == -1)
			return -1;
	return 0;
}

/* get_prepend - the header made at commit (DKIM-Signature), if any */
static int
get_prepend(struct ipc_msg *m, struct job *j)
{
	const uint8_t	*p;
	size_t		 n;

	if (ipc_get_blob(m, &p, &n) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (memchr(p, '\0', n) != NULL ||
	    !spool_prepend_ok((const char *)p, n))
		return -1;
	j->prepend = xstrndup((const char *)p, n);
	return 0;
}

/* get_dsn - u8 RET, str ENVID, then per recipient u8 NOTIFY, str ORCPT */
static int
get_dsn(struct ipc_msg *m, struct job *j)
{
	char	 orcpt[DSN_ORCPT_MAX + 1];
	uint8_t	 ret, notify;
	unsigned i;

	if (ipc_get_u8(m, &ret) == -1 || ret > DSN_RET_HDRS ||
	    ipc_get_str(m, j->envid, sizeof(j->envid)) == -1 ||
	    (j->envid[0] != '\0' && !dsn_text_ok(j->envid, DSN_ENVID_MAX)))
		return -1;
	j->ret = ret;
	for (i = 0; i < j->nrcpt; i++) {
		if (ipc_get_u8(m, &notify) == -1 || !dsn_notify_ok(notify) ||
		    ipc_get_str(m, orcpt, sizeof(orcpt)) == -1 ||
		    (orcpt[0] != '\0' && !dsn_orcpt_ok(orcpt)))
			return -1;
		j->r[i].notify = notify;
		j->r[i].orcpt = orcpt[0] ? xstrdup(orcpt) : NULL;
	}
	return 0;
}

static int
on_job(struct ipc_peer *p, struct ipc_msg *m)
{
	struct job	*j = xcalloc(1, sizeof(*j));
	char		 domain[MAILADDR_DOMAIN_MAX + 1];
	char		 sender[MAILADDR_MAX + 1];
	char		 srcmta[400];	/* where it came from: not needed */

	dd.njobs++;
	j->fd = m->fd;
	m->fd = -1;
	if (ipc_get_str(m, j->msgid, sizeof(j->msgid)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_str(m, sender, sizeof(sender)) == -1 ||
	    ipc_get_u64(m, &j->body_off) == -1 ||
	    ipc_get_u64(m, &j->body_len) == -1 || get_rcpts(m, j) == -1 ||
	    get_prepend(m, j) == -1 ||
	    ipc_get_str(m, j->job, sizeof(j->job)) == -1 ||
	    ipc_get_str(m, srcmta, sizeof(srcmta)) == -1 ||
	    get_dsn(m, j) == -1 ||
	    ipc_get_end(m) == -1 || !spool_id_ok(j->msgid) ||
	    !mailaddr_domain_ok(domain)) {
		job_free(j);
		return -1;
	}
	j->id = m->hdr.reqid;
	j->link_gen = dd.link_gen;
	j->sender = xstrdup(sender);
	j->dq = dq_get(domain);
	TAILQ_INSERT_TAIL(&j->dq->pending, j, entry);
	j->dq->npending++;
	dq_kick(j->dq);
	return 0;
}

static int
on_hello_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	struct ipc_out	 o;
	uint32_t	 pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	dd.ql.ms = 0;
	ipc_out_begin(&o, IPC_DELIVERD_READY, 0);
	ipc_put_str(&o, dd.vmta);
	ipc_send(p, &o, -1);
	log_info("connected to queued pid=%u as virtual-mta %s", pid, dd.vmta);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_QUEUED), IPC_FD_NO, on_hello_ok },
	{ IPC_QUEUED_JOB, RB(ROLE_QUEUED), IPC_FD_YES, on_job },
};

/* queued_down - the link went (a failed dial leaves nothing to undo) */
static void
queued_down(bool was_up)
{
	struct hmap_ent	*e;
	size_t		 it;
	struct job	*j;

	if (!was_up)
		return;
	dd.link_gen++;
	/*
	 * Every job goes, now: the next queued schedules those recipients
	 * again (a delivery that had already ended may repeat; nothing is
	 * lost), and it may reuse their queue files for other messages, so
	 * nothing may be read through the old fds any more.
	 */
	log_warnx("lost the link to queued; dropping %u jobs", dd.njobs);
	session_abort_all();
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;)
		while ((j = dq_take_any(e->val)) != NULL)
			job_drop(j);
}

static int
deliverd_reload(struct tern_config *cfg, const char **why)
{
	const struct cfg_vmta *vm = config_vmta(cfg, dd.vmta);

	if (vm == NULL) {
		*why = "my virtual-mta is gone from the configuration";
		return -1;
	}
	/* Routes are re-resolved with the new domain settings. */
	{
		struct hmap_ent *e;
		size_t it;

		for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;)
			((struct dqueue *)e->val)->rexpire = 0;
	}
	dd.vm = vm;
	route_reload(&cfg->dns);
	/* A new tls-ca-file: a new context (cached sessions stay). */
	if (tls_init(cfg) == -1)
		log_warnx("TLS: certificates cannot be verified");
	return 0;
}

static void
deliverd_stop(void)
{
	/*
	 * Outcomes not yet reported are simply not reported: queued keeps
	 * those recipients pending and schedules them again (a delivery
	 * finished in this window may be repeated; nothing is lost).
	 */
	daemon_exit_soon(&dd.d, 200);
}

/*
 * dump_cb - SIGUSR1: every domain queue's state to the log, for an
 * operator wondering why mail waits
 */
static void
dump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hmap_ent	*e;
	size_t		 it;

	log_info("state: %u jobs, %u sessions, shaperd %s, queued %s",
	    dd.njobs, dd.nsessions, dd.shaper ? "up" : "down",
	    dd.queued ? "up" : "down");
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;) {
		struct dqueue *dq = e->val;

		log_info("  %s key %s: pending %u, sessions %u (connecting "
		    "%u, idle %s), slots %u, tokens %u, asking %d, waiting %d, "
		    "route %d, hold %u until %lld", dq->domain, dq->skey,
		    dq->npending, dq->nsessions, dq->nconnecting,
		    TAILQ_EMPTY(&dq->idle) ? "none" : "some", dq->slots,
		    dq->tokens, dq->asking, dq->ev_ask != NULL &&
		    evtimer_pending(dq->ev_ask, NULL), dq->rstate,
		    dq->hold, (long long)dq->hold_until);
	}
	session_dump();
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int	deliverd_main(int, char **);

int
deliverd_main(int argc, char **argv)
{
	int	 i;
	char	*vmta = NULL;

	/* -V NAME is ours; the rest goes to the common skeleton. */
	for (i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "-V") == 0) {
			vmta = argv[i + 1];
			memmove(argv + i, argv + i + 2,
			    (size_t)(argc - i - 1) * sizeof(char *));
			argc -= 2;
			break;
		}
	if (vmta == NULL) {
		fprintf(stderr, "usage: deliverd -V virtual-mta [-v] "
		    "[-f config]\n");
		return 2;
	}
	tern_strlcpy(dd.vmta, vmta, sizeof(dd.vmta));
	dd.d.name = "deliverd";
	dd.d.role = ROLE_DELIVERD;
	dd.d.reload = deliverd_reload;
	dd.d.shutdown = deliverd_stop;
	raise_nofile();
	daemon_init(&dd.d, argc, argv);
	{
		char title[96];
		snprintf(title, sizeof(title), "deliverd/%s", dd.vmta);
		log_setproc(title);
	}
	if ((dd.vm = config_vmta(dd.d.cfg, dd.vmta)) == NULL)
		fatalx("virtual-mta %s is not in the configuration", dd.vmta);
	hmap_init(&dd.dqueues);
	route_init();
	if (tls_init(dd.d.cfg) == -1)
		log_warnx("TLS: no CA bundle; certificates cannot be verified");
	shape_init();
	dd.ql = (struct ipc_link){ .peer = &dd.queued, .sock = "queued.sock",
	    .self = ROLE_DELIVERD, .role = ROLE_QUEUED, .table = handlers,
	    .ntable = nitems(handlers), .down = queued_down };
	daemon_link(&dd.d, &dd.ql);
	dd.ev_dump = evsignal_new(dd.d.base, SIGUSR1, dump_cb, NULL);
	evsignal_add(dd.ev_dump, NULL);
	daemon_run(&dd.d);
	log_info("exiting");
	return 0;
}
