/*
 * process.c - one message for the processors: read it, tie its reports
 * to the mail Tern sent, suppress, and answer queued with the rows.
 *
 * Purpose:      queued hands bouncd each message addressed to a
 *               bounce-processor or feedback-loop-processor address as
 *               a job (IPC_QUEUED_JOB, as to a deliverd).  bouncd reads
 *               it through the descriptor (at most DSN_INPUT_MAX bytes),
 *               parses it (dsnparse.c), and for every report:
 *                 - a failed delivery report: an rb row, a "bounced"
 *                   event, and, when its category is one that suppresses
 *                   (suppression: categories), a suppression entry;
 *                 - an ARF report: an f row, a "complained" event, a
 *                   suppression entry (suppression: complaints) and a
 *                   complaint for shaperd (warm-up guard).
 *               The original recipient, VirtualMTA and job come from the
 *               VERP return path the bounce was sent to, else from the
 *               report and the returned headers (X-Job).  Suppression
 *               entries are committed (LMDB, synced) before the answer,
 *               IPC_BOUNCD_RESULT, goes back: queued then writes the rows
 *               and events and removes the message.  A crash in between
 *               processes it again: the same rows twice, never none.
 * Used by:      bouncd.
 * Trust:        the message is hostile (see dsnparse.h); queued's frame
 *               is decoded exactly.
 * Spool access: the message through a read-only descriptor.
 * See:          bouncd(8).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "acctrow.h"
#include "bouncd.h"
#include "dsnparse.h"
#include "log.h"
#include "mailaddr.h"
#include "spool.h"
#include "verp.h"

#define JOB_RCPTS_MAX	1000
#define OUT_MAX		(128 * 1024)	/* rows and events per answer */

struct pjob {
	uint64_t	 id;
	char		 msgid[SPOOL_ID_LEN + 1];
	char		 sender[MAILADDR_MAX + 1];
	char		 srcmta[400];	/* "helo (ip)" of who sent it to us */
	char		 srcip[64];
	uint64_t	 off, len;
	uint32_t	 n;
	uint32_t	 idx[JOB_RCPTS_MAX];
	char		*rcpt[JOB_RCPTS_MAX];
};

struct out {
	bool		 trusted;	/* may suppress (see process) */
	struct buf	 rows;
	struct buf	 events;
	struct supp_entry *supp;
	unsigned	 nsupp;
	unsigned	 ncomplaints;
};

static void
pjob_free(struct pjob *j)
{
	uint32_t i;

	for (i = 0; i < j->n; i++)
		free(j->rcpt[i]);
	free(j);
}

/* read_msg - the message, at most DSN_INPUT_MAX bytes of it */
static char *
read_msg(int fd, uint64_t off, uint64_t len, size_t *n)
{
	struct stat	 st;
	size_t		 want, got = 0;
	char		*p;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off)
		return NULL;
	want = len > DSN_INPUT_MAX ? DSN_INPUT_MAX : (size_t)len;
	p = xmalloc(want + 1);
	while (got < want) {
		ssize_t r = pread(fd, p + got, want - got, (off_t)(off + got));

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	p[got] = '\0';
	*n = got;
	return p;
}

/* pool_of - the first pool that has vmta as a member, "" if none */
static void
pool_of(const char *vmta, char *out, size_t sz)
{
	const struct tern_config *cfg = bd.d.cfg;
	unsigned i, k;

	out[0] = '\0';
	for (i = 0; i < cfg->npools; i++)
		for (k = 0; k < cfg->pools[i].n; k++)
			if (strcmp(cfg->pools[i].members[k], vmta) == 0) {
				tern_strlcpy(out, cfg->pools[i].name, sz);
				return;
			}
}

/* orig_sender - the processor address without its VERP tail */
static void
orig_sender(const char *addr, bool verp, char *out, size_t sz)
{
	const char *at = strrchr(addr, '@'), *plus = NULL, *p;

	tern_strlcpy(out, addr, sz);
	if (!verp || at == NULL)
		return;
	for (p = addr; p < at; p++)
		if (*p == '+')
			plus = p;
	if (plus != NULL)
		snprintf(out, sz, "%.*s%s", (int)(plus - addr), addr, at);
}

/*
 * tie_report - recipient, vmta, job for one report: VERP first (the
 * address we sent to is what matters, whatever a forwarder says), then
 * the report, then the returned headers
 */
static void
tie_report(struct tie *t, const struct verp *v, bool have_verp,
    const char *rep_rcpt, const struct dsn_result *res, bool only)
{
	struct mailaddr	 a;
	const char	*why;

	t->rcpt[0] = '\0';
	if (have_verp && (only || rep_rcpt[0] == '\0'))
		tern_strlcpy(t->rcpt, v->rcpt, sizeof(t->rcpt));
	else if (rep_rcpt[0] != '\0' && mailaddr_parse(rep_rcpt, &a,
	    &why) == 0)
		mailaddr_format(&a, t->rcpt, sizeof(t->rcpt));
	else if (have_verp)
		tern_strlcpy(t->rcpt, v->rcpt, sizeof(t->rcpt));
	tern_strlcpy(t->vmta, have_verp ? v->vmta : "", sizeof(t->vmta));
	tern_strlcpy(t->job, have_verp && v->job[0] ? v->job : res->xjob,
	    sizeof(t->job));
	pool_of(t->vmta, t->pool, sizeof(t->pool));
}

static bool
records(unsigned bit)
{
	return bd.d.cfg->acct.enabled && (bd.d.cfg->acct.records & bit);
}

/* row - one rb or f row (23 columns and the extra-fields), CRLF */
static void
row(struct buf *b, const char *type, const struct tie *t,
    const char *action, const char *status, const char *diag,
    const char *dsnmta, const char *cat, const struct pjob *j,
    struct acct_extra *x)
{
	uint64_t size = j->len;

	char	 now[40], st[120], sz[24], queue[400];
	const char *dom = strrchr(t->rcpt, '@');

	acct_time(time(NULL), now, sizeof(now));
	if (status[0] != '\0')
		snprintf(st, sizeof(st), "%s (%s)", status,
		    bcat_status_text(status));
	else
		st[0] = '\0';
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	if (t->vmta[0] != '\0' && dom != NULL)
		snprintf(queue, sizeof(queue), "%s/%s", dom + 1, t->vmta);
	else
		queue[0] = '\0';
	acct_field(b, type, false);
	acct_field(b, now, true);
	acct_field(b, "", true);		/* timeQueued: unknown */
	acct_field(b, t->orig, true);
	acct_field(b, t->rcpt, true);
	acct_field(b, "", true);		/* orcpt */
	acct_field(b, action, true);
	acct_field(b, st, true);
	acct_field(b, diag, true);
	acct_field(b, dsnmta, true);
	acct_field(b, cat, true);
	acct_field(b, "smtp", true);
	acct_field(b, j->srcmta, true);
	acct_field(b, "", true);		/* dlvType */
	acct_field(b, "", true);
	acct_field(b, "", true);
	acct_field(b, "", true);
	acct_field(b, sz, true);
	acct_field(b, t->vmta, true);
	acct_field(b, t->job, true);
	acct_field(b, "", true);		/* envId */
	acct_field(b, queue, true);
	acct_field(b, t->pool, true);
	x->rcv_source_ip = j->srcip;
	acct_extras(b, bd.d.cfg->acct.extra, x);
	buf_add(b, "\r\n", 2);
}

/* event - one JSON line for the outbox */
static void
event(struct buf *b, const char *type, const struct tie *t,
    const char *status, const char *diag, const char *cat,
    const char *msgid, json_t *extra)
{
	json_t	*o = json_object();
	char	*s;

	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	json_object_set_new(o, "rcpt", json_string(t->rcpt));
	json_object_set_new(o, "sender", json_string(t->orig));
	json_object_set_new(o, "vmta", json_string(t->vmta));
	json_object_set_new(o, "job", json_string(t->job));
	if (status != NULL)
		json_object_set_new(o, "status", json_string(status));
	if (diag != NULL)
		json_object_set_new(o, "diag", json_string(diag));
	if (cat != NULL)
		json_object_set_new(o, "category", json_string(cat));
	json_object_set_new(o, "report_id", json_string(msgid));
	if (extra != NULL)
		json_object_update(o, extra);
	json_decref(extra);
	/* Strings from the bounce may be any bytes: jansson wants UTF-8. */
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		buf_addstr(b, s);
		buf_add(b, "\n", 1);
		free(s);
	}
	json_decref(o);
}

/*
 * supp_entry_make - the entry for rcpt in the configured scope; false
 * when there is nothing to add (off, a bad address, or an entry there
 * already that never expires: a manual or older entry stays as it is)
 */
bool
supp_entry_make(struct supp_entry *e, const char *rcpt, const char *job,
    const char *pool, const char *reason, const char *source,
    const char *note)
{
	const struct cfg_suppression *cs = &bd.d.cfg->supp;
	struct supp_entry old;
	uint64_t	 now = (uint64_t)time(NULL);

	memset(e, 0, sizeof(*e));
	if (!cs->enabled || rcpt[0] == '\0' ||
	    supp_norm_addr(rcpt, e->addr, sizeof(e->addr)) == -1)
		return false;
	if (cs->scope == SUPP_JOB && job[0] != '\0')
		snprintf(e->scope, sizeof(e->scope), "job:%s", job);
	else if (cs->scope == SUPP_POOL && pool[0] != '\0')
		snprintf(e->scope, sizeof(e->scope), "pool:%s", pool);
	if (bd.supp != NULL && supp_get(bd.supp, e->scope, e->addr, &old) ==
	    1 && old.expires == 0)
		return false;
	tern_strlcpy(e->reason, reason, sizeof(e->reason));
	tern_strlcpy(e->source, source, sizeof(e->source));
	tern_strlcpy(e->note, note, sizeof(e->note));
	e->created = now;
	e->expires = cs->expire_after ? now + cs->expire_after : 0;
	return true;
}

/* suppress - one more entry for the batch; false if none was added */
static bool
suppress(struct out *o, const struct tie *t, const char *reason,
    const char *source, const char *note)
{
	if (!o->trusted) {
		log_info("<%s> not suppressed: the report is not tied by a "
		    "verified VERP return path (verp-secret)", t->rcpt);
		return false;
	}
	o->supp = xreallocarray(o->supp, o->nsupp + 1, sizeof(*o->supp));
	if (!supp_entry_make(&o->supp[o->nsupp], t->rcpt, t->job, t->pool,
	    reason, source, note))
		return false;
	o->nsupp++;
	return true;
}

static void
suppressed_event(struct out *o, const struct tie *t, const char *reason,
    const char *msgid)
{
	json_t *x = json_object();

	json_object_set_new(x, "action", json_string("added"));
	json_object_set_new(x, "reason", json_string(reason));
	event(&o->events, "suppressed", t, NULL, NULL, NULL, msgid, x);
}

/* do_arf - an f row, an event, a complaint, a suppression */
static void
do_arf(struct out *o, const struct dsn_result *res, const struct verp *v,
    bool have_verp, const char *orig, const struct pjob *j)
{
	struct tie	 t;
	struct acct_extra x = { 0 };
	char		 diag[400];
	json_t		*ex;

	memset(&t, 0, sizeof(t));
	tie_report(&t, v, have_verp, res->arf.orig_rcpt, res, false);
	tern_strlcpy(t.orig, orig, sizeof(t.orig));
	snprintf(diag, sizeof(diag), "arf;feedback-type=%s%s%s",
	    res->arf.type[0] ? res->arf.type : "abuse",
	    res->arf.source_ip[0] ? "; source-ip=" : "", res->arf.source_ip);
	x.feedback_type = res->arf.type[0] ? res->arf.type : "abuse";
	x.user_agent = res->arf.user_agent;
	x.rep_source_ip = res->arf.source_ip;
	if (records(ACCT_F))
		row(&o->rows, "f", &t, "", "", diag, "", "", j, &x);
	ex = json_object();
	json_object_set_new(ex, "feedback_type", json_string(x.feedback_type));
	json_object_set_new(ex, "source_ip", json_string(res->arf.source_ip));
	json_object_set_new(ex, "user_agent", json_string(res->arf.user_agent));
	event(&o->events, "complained", &t, NULL, NULL, NULL, j->msgid, ex);
	bd.n_arf++;
	o->ncomplaints++;
	complaint_to_shaperd(&t);
	if (bd.d.cfg->supp.complaints &&
	    suppress(o, &t, "complaint", "f", diag))
		suppressed_event(o, &t, "complaint", j->msgid);
}

/* do_dsn - an rb row and event per failed report, suppressions */
static void
do_dsn(struct out *o, const struct dsn_result *res, const struct verp *v,
    bool have_verp, const char *orig, const struct pjob *j)
{
	struct acct_extra x = { 0 };
	size_t		 i, nfailed = 0;

	for (i = 0; i < res->n; i++)
		if (res->r[i].status[0] == '5' ||
		    strcasecmp(res->r[i].action, "failed") == 0)
			nfailed++;
	for (i = 0; i < res->n; i++) {
		const struct dsn_report *r = &res->r[i];
		struct tie	 t;
		char		 diag[DSN_DIAG_MAX + 8];

		if (r->status[0] != '5' && strcasecmp(r->action, "failed") != 0)
			continue;	/* delayed, relayed: not a bounce */
		/* One answer must fit in an IPC frame. */
		if (o->rows.len + o->events.len > OUT_MAX) {
			log_warnx("%s: over %zu reports; the rest left out",
			    j->msgid, i);
			break;
		}
		memset(&t, 0, sizeof(t));
		tie_report(&t, v, have_verp, r->rcpt, res, nfailed == 1);
		tern_strlcpy(t.orig, orig, sizeof(t.orig));
		snprintf(diag, sizeof(diag), "%s%s",
		    strncasecmp(r->diag, "smtp;", 5) == 0 ? "" : "smtp;",
		    r->diag);
		x.dsn_reporting_mta = res->reporting_mta;
		if (records(ACCT_RB))
			row(&o->rows, "rb", &t, "failed", r->status, diag,
			    r->rmta, r->category ? r->category : "", j, &x);
		{
			json_t *ex = json_object();

			json_object_set_new(ex, "async", json_true());
			event(&o->events, "bounced", &t, r->status, diag,
			    r->category, j->msgid, ex);
		}
		bd.n_dsn++;
		if (r->status[0] == '5' &&
		    config_supp_category(bd.d.cfg, r->category) &&
		    suppress(o, &t, r->category, "rb", diag))
			suppressed_event(o, &t, r->category, j->msgid);
	}
}

/* reply - IPC_BOUNCD_RESULT: every recipient consumed (or to retry) */
static void
reply(const struct pjob *j, char outcome, const char *status,
    const char *diag, const struct out *o)
{
	struct ipc_out	 m;
	uint32_t	 i;

	if (bd.queued == NULL)
		return;
	ipc_out_begin(&m, IPC_BOUNCD_RESULT, j->id);
	ipc_put_u32(&m, j->n);
	for (i = 0; i < j->n; i++) {
		ipc_put_u32(&m, j->idx[i]);
		ipc_put_u8(&m, (uint8_t)outcome);
		ipc_put_str(&m, status);
		ipc_put_str(&m, diag);
	}
	ipc_put_blob(&m, o->rows.data, o->rows.len);
	ipc_put_blob(&m, o->events.data, o->events.len);
	ipc_send(bd.queued, &m, -1);
}

/* process - parse, tie, suppress (durably), answer */
static void
process(struct pjob *j, int fd)
{
	struct dsn_result *res = xcalloc(1, sizeof(*res));
	struct out	 o;
	struct verp	 v;
	bool		 have_verp = false, fbl = false;
	char		 orig[MAILADDR_MAX + 1], *msg;
	size_t		 len = 0;
	uint32_t	 i;

	memset(&o, 0, sizeof(o));
	buf_init(&o.rows, 64 * 1024 * 1024);
	buf_init(&o.events, 64 * 1024 * 1024);
	for (i = 0; i < j->n; i++) {
		if (config_processor(bd.d.cfg, j->rcpt[i]) == PROC_FBL)
			fbl = true;
		if (!have_verp && verp_decode(j->rcpt[i],
		    bd.d.cfg->verp_secret, &v) == 0)
			have_verp = true;
	}
	orig_sender(j->rcpt[0], have_verp, orig, sizeof(orig));
	bd.n_msgs++;
	if ((msg = read_msg(fd, j->off, j->len, &len)) == NULL) {
		log_warnx("%s: cannot read the message", j->msgid);
		reply(j, 'T', "4.3.0", "bouncd could not read the message",
		    &o);
		goto out;
	}
	dsn_parse(msg, len, res);
	dsn_categorize(res, bd.bcat);
	free(msg);
	/*
	 * A complaint comes to the feedback-loop address, not to the VERP
	 * one: the returned message's Return-Path, when it is one of our
	 * VERP return paths, names the recipient, VirtualMTA and job.
	 */
	if (!have_verp && config_processor(bd.d.cfg, res->env_from) ==
	    PROC_BOUNCE && verp_decode(res->env_from, bd.d.cfg->verp_secret,
	    &v) == 0) {
		have_verp = true;
		orig_sender(res->env_from, true, orig, sizeof(orig));
	}
	/*
	 * With verp-secret, only a report tied by a return path Tern
	 * signed may suppress: anyone can send a bounce naming anyone.
	 */
	o.trusted = bd.d.cfg->verp_secret == NULL || (have_verp && v.verified);
	if (res->arf.present)
		do_arf(&o, res, &v, have_verp, orig, j);
	else if (res->n > 0)
		do_dsn(&o, res, &v, have_verp, orig, j);
	if (o.rows.len == 0 && o.events.len == 0) {
		bd.n_unparsed++;
		log_info("%s: %s mail with nothing Tern can read (%zu bytes); "
		    "consumed", j->msgid, fbl ? "feedback-loop" : "bounce",
		    len);
	}
	if (o.nsupp > 0) {
		if (bd.supp == NULL || supp_put_many(bd.supp, o.supp,
		    o.nsupp) == -1) {
			/* Not durable: queued offers it again later. */
			log_warnx("%s: suppression list write failed; retried",
			    j->msgid);
			reply(j, 'T', "4.3.0", "suppression list unavailable",
			    &o);
			goto out;
		}
		bd.n_suppressed += o.nsupp;
	}
	bd.n_rows += o.rows.len > 0;
	reply(j, 'D', "2.0.0", "processed by bouncd", &o);
	log_info("%s: %zu report(s)%s, %u suppressed, %zu row bytes",
	    j->msgid, res->n, res->arf.present ? " (ARF)" : "", o.nsupp,
	    o.rows.len);
out:
	buf_free(&o.rows);
	buf_free(&o.events);
	free(o.supp);
	free(res);
}

/* skip_dsn - the DSN parameters of a job: not bouncd's business */
static int
skip_dsn(struct ipc_msg *m, uint32_t n)
{
	char	 s[1024];
	uint8_t	 b;
	uint32_t i;

	if (ipc_get_u8(m, &b) == -1 || ipc_get_str(m, s, sizeof(s)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (ipc_get_u8(m, &b) == -1 ||
		    ipc_get_str(m, s, sizeof(s)) == -1)
			return -1;
	return 0;
}

/* on_job - IPC_QUEUED_JOB, as queued sends it to a deliverd */
int
bouncd_on_job(struct ipc_peer *p, struct ipc_msg *m)
{
	struct pjob	*j = xcalloc(1, sizeof(*j));
	char		 domain[MAILADDR_DOMAIN_MAX + 1], addr[MAILADDR_MAX + 1];
	const uint8_t	*k;
	size_t		 klen;
	uint32_t	 n, i;
	int		 fd = m->fd;

	m->fd = -1;
	j->id = m->hdr.reqid;
	if (ipc_get_str(m, j->msgid, sizeof(j->msgid)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_str(m, j->sender, sizeof(j->sender)) == -1 ||
	    ipc_get_u64(m, &j->off) == -1 || ipc_get_u64(m, &j->len) == -1 ||
	    ipc_get_u32(m, &n) == -1 || n == 0 || n > JOB_RCPTS_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		if (ipc_get_u32(m, &j->idx[i]) == -1 ||
		    ipc_get_str(m, addr, sizeof(addr)) == -1)
			goto bad;
		j->rcpt[i] = xstrdup(addr);
		j->n = i + 1;
	}
	if (ipc_get_blob(m, &k, &klen) == -1 ||
	    ipc_get_str(m, addr, sizeof(addr)) == -1 ||	/* the job */
	    ipc_get_str(m, j->srcmta, sizeof(j->srcmta)) == -1 ||
	    skip_dsn(m, j->n) == -1 || ipc_get_end(m) == -1 ||
	    !spool_id_ok(j->msgid))
		goto bad;
	(void)mta_address(j->srcmta, j->srcip, sizeof(j->srcip));
	process(j, fd);
	close(fd);
	pjob_free(j);
	return 0;
bad:
	if (fd != -1)
		close(fd);
	pjob_free(j);
	return -1;
}

/*
 * bouncd_on_suppress - IPC_QUEUED_SUPPRESS {u32 n, n x {str addr, str
 * job, str pool, str reason, str note}}: recipients whose delivery
 * ended in a hard bounce of a suppressing category (a 550 5.1.1 at
 * RCPT, the most common hard bounce of all), listed in one transaction
 */
int
bouncd_on_suppress(struct ipc_peer *p, struct ipc_msg *m)
{
	struct supp_entry *es;
	char		 addr[MAILADDR_MAX + 1], job[129], pool[65];
	char		 reason[SUPP_REASON_MAX + 1], note[SUPP_NOTE_MAX + 1];
	uint32_t	 n, i, k = 0;

	if (ipc_get_u32(m, &n) == -1 || n == 0 || n > 10000)
		return -1;
	es = xcalloc(n, sizeof(*es));
	for (i = 0; i < n; i++) {
		if (ipc_get_str(m, addr, sizeof(addr)) == -1 ||
		    ipc_get_str(m, job, sizeof(job)) == -1 ||
		    ipc_get_str(m, pool, sizeof(pool)) == -1 ||
		    ipc_get_str(m, reason, sizeof(reason)) == -1 ||
		    ipc_get_str(m, note, sizeof(note)) == -1) {
			free(es);
			return -1;
		}
		if (supp_entry_make(&es[k], addr, job, pool, reason, "b",
		    note))
			k++;
	}
	if (ipc_get_end(m) == -1) {
		free(es);
		return -1;
	}
	if (k > 0 && (bd.supp == NULL || supp_put_many(bd.supp, es, k) == -1))
		log_warnx("suppression list: %u hard bounces not listed", k);
	else
		bd.n_suppressed += k;
	free(es);
	return 0;
}
