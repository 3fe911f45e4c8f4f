/*
 * suppcheck.c - the suppression list at queue time, and bouncd's results.
 *
 * Purpose:      before a qentry goes to its deliverd, each pending
 *               recipient is looked up in the suppression list (global,
 *               then the message's job, then its pool).  Suppressed
 *               ones are split off into a qentry of their own that is
 *               answered at once as bounced, "5.7.1 suppressed", with
 *               the category of the entry: a b row, a "suppressed"
 *               event, an NDR where they are made.  Checking at every
 *               dispatch (not only at commit) also stops retries to an
 *               address suppressed since.  Mail for the processors
 *               (the #bouncd queues) is never checked.
 *               bouncd answers its jobs with IPC_BOUNCD_RESULT: the
 *               per-recipient outcome and the rows and events it made,
 *               which results_run writes as they are.
 * Used by:      queued.
 * Trust:        bouncd is a peer like any other: every field is checked
 *               against the job it answers.
 * Spool access: <spool-dir>/suppress, read-only.
 * See:          bouncd(8), queued(8).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queued.h"

#define ROWS_MAX	(8u << 20)

/* supp_ready - the list (read-only), once bouncd has made it */
static struct supp *
supp_ready(void)
{
	if (!qd.d.cfg->supp.enabled)
		return NULL;
	return supp_reader(&qd.supp, &qd.supp_tried, qd.d.cfg->spool_dir);
}

/* category - what the b row says for an entry's reason */
static const char *
category(const struct supp_entry *e)
{
	if (strcmp(e->reason, "complaint") == 0)
		return "spam-related";
	if (strcmp(e->reason, "manual") == 0 ||
	    strcmp(e->reason, "import") == 0 || e->reason[0] == '\0')
		return "policy-related";
	return e->reason;
}

/* split - the suppressed recipients of qe into a qentry of their own */
static struct qentry *
split(struct qentry *qe, const bool *hit, unsigned nhit)
{
	struct qentry	*nq;
	struct msg	*m = qe->m;
	unsigned	 i;

	if (nhit == qe->nrcpt)
		return qe;
	nq = xcalloc(1, sizeof(*nq));
	nq->m = m;
	nq->q = qe->q;
	nq->nrcpt = nhit;
	nq->attempts = qe->attempts;
	for (i = 0; i < m->nrcpt; i++)
		if (hit[i])
			m->rcpts[i].qe = nq;
	qe->nrcpt -= nhit;
	TAILQ_INSERT_TAIL(&qe->q->entries, nq, entry);
	m->nqe++;
	qe->q->nmsg++;
	qe->q->bytes += m->size;
	return nq;
}

/*
 * answer - a job with no peer, answered at once: suppressed.  es[k] is
 * the entry of the k-th recipient with hit set.
 */
static void
answer(struct qentry *qe, const struct supp_entry *es, const bool *hit)
{
	struct qresult	*r = xcalloc(1, sizeof(*r));
	struct qjob	*j = xcalloc(1, sizeof(*j));
	struct msg	*m = qe->m;
	unsigned	 i, k = 0;
	char		 key[24], day[16];

	j->id = ++qd.next_job;
	j->qe = qe;
	j->idx = xcalloc(qe->nrcpt, sizeof(uint32_t));
	r->r = xcalloc(qe->nrcpt, sizeof(*r->r));
	for (i = 0; i < m->nrcpt; i++) {
		const struct supp_entry *e = &es[k];
		time_t		 t = (time_t)e->created;
		struct tm	 tm;

		if (!hit[i])
			continue;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		j->idx[k] = i;
		r->r[k].idx = i;
		r->r[k].outcome = 'B';
		tern_strlcpy(r->r[k].status, "5.7.1", sizeof(r->r[k].status));
		r->r[k].diag = xasprintf("smtp;550 5.7.1 <%s> is on the "
		    "suppression list (%s%s%s, %s since %s)", m->rcpts[i].addr,
		    e->reason, e->scope[0] ? ", " : "", e->scope, e->source,
		    day);
		tern_strlcpy(r->cat, category(e), sizeof(r->cat));
		k++;
	}
	j->n = k;
	r->n = k;
	r->job = j;
	r->suppressed = true;
	snprintf(key, sizeof(key), "%" PRIx64, j->id);
	hmap_put(&qd.jobs, key, j);
	qe->st = QE_FLIGHT;
	qe->q->nflight++;
	qd.n_suppressed += k;
	sched_add_result(r);
}

/*
 * supp_drop - true when the whole qentry was suppressed (and is being
 * answered); false when there is something left to deliver in it.
 * Nothing is allocated unless a recipient is on the list.
 */
bool
supp_drop(struct qentry *qe)
{
	struct supp		*s;
	struct msg		*m = qe->m;
	struct supp_entry	 e, *es = NULL;
	bool			*hit = NULL;
	unsigned		 i, nhit = 0;
	bool			 all;

	if (strcmp(qe->q->vmta, BOUNCD_VMTA) == 0 || (s = supp_ready()) ==
	    NULL)
		return false;
	for (i = 0; i < m->nrcpt; i++) {
		char addr[MAILADDR_MAX + 1];

		if (m->rcpts[i].qe != qe || m->rcpts[i].status != RS_PENDING ||
		    supp_norm_addr(m->rcpts[i].addr, addr, sizeof(addr)) == -1 ||
		    supp_check(s, addr, m->job, m->pool, &e) != 1)
			continue;
		if (hit == NULL)
			hit = xcalloc(m->nrcpt, sizeof(*hit));
		es = xreallocarray(es, nhit + 1, sizeof(*es));
		es[nhit++] = e;
		hit[i] = true;
	}
	if (nhit == 0)
		return false;
	all = nhit == qe->nrcpt;
	answer(split(qe, hit, nhit), es, hit);
	free(es);
	free(hit);
	return all;
}

/* take_blob - a bounded copy of a blob into b */
static int
take_blob(struct ipc_msg *m, struct buf *b)
{
	const uint8_t	*p;
	size_t		 n;

	if (ipc_get_blob(m, &p, &n) == -1 || n > ROWS_MAX ||
	    memchr(p, '\0', n) != NULL || (n > 0 && p[n - 1] != '\n'))
		return -1;
	buf_init(b, ROWS_MAX + 1);
	buf_add(b, p, n);
	return 0;
}

/*
 * sched_bouncd_result - IPC_BOUNCD_RESULT {u32 n, n x {u32 idx, u8
 * outcome, str status, str diag}, blob rows, blob events}
 */
int
sched_bouncd_result(struct ipc_peer *p, struct ipc_msg *m)
{
	struct qresult	*r;
	struct qjob	*j;
	char		 key[24];
	uint32_t	 n;

	snprintf(key, sizeof(key), "%" PRIx64, m->hdr.reqid);
	if ((j = hmap_get(&qd.jobs, key)) == NULL || j->peer != p) {
		log_warnx("bouncd: result for unknown job %" PRIx64 " ignored",
		    m->hdr.reqid);
		return 0;
	}
	if (ipc_get_u32(m, &n) == -1 || n != j->n)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->job = j;
	r->processor = true;
	if (result_outcomes(m, r, n, "DT") == -1)
		goto bad;
	if (take_blob(m, &r->rows) == -1 || take_blob(m, &r->events) == -1 ||
	    ipc_get_end(m) == -1)
		goto bad;
	sched_add_result(r);
	return 0;
bad:
	result_free(r);
	return -1;
}

/* --- hard bounces for the list ------------------------------------------ */

#define SQ_MAX		10000
#define SQ_FRAME	(192 * 1024)

static struct ipc_out	 sq_out;
static uint32_t		 sq_n;
static struct buf	 sq_body;
static size_t		 sq_len[SQ_MAX];	/* each entry's bytes */

/*
 * supp_hard_bounce - a recipient bounced at delivery (5xx) with a
 * category that suppresses: bouncd lists it (queued may not write the
 * list).  Kept here until bouncd is connected, at most 10000.
 */
void
supp_hard_bounce(const struct msg *m, const char *rcpt, const char *status,
    const char *diag, const char *cat)
{
	char note[SUPP_NOTE_MAX + 1];

	if (status[0] != '5' || !config_supp_category(qd.d.cfg, cat))
		return;
	if (sq_n >= SQ_MAX) {
		log_warnx("suppression: 10000 hard bounces wait for bouncd; "
		    "<%s> not listed", rcpt);
		return;
	}
	if (sq_body.max == 0)
		buf_init(&sq_body, 64 * 1024 * 1024);
	snprintf(note, sizeof(note), "%s", diag);
	ipc_out_begin(&sq_out, IPC_QUEUED_SUPPRESS, 0);	/* scratch */
	ipc_put_str(&sq_out, rcpt);
	ipc_put_str(&sq_out, m->job);
	ipc_put_str(&sq_out, m->pool);
	ipc_put_str(&sq_out, cat);
	ipc_put_str(&sq_out, note);
	sq_len[sq_n] = sq_out.b.len - IPC_HDR_SIZE;
	buf_add(&sq_body, sq_out.b.data + IPC_HDR_SIZE, sq_len[sq_n]);
	buf_free(&sq_out.b);
	sq_n++;
	if (events_on())
		events_outcome("suppressed", m, rcpt, status, diag, cat, "", "",
		    "added");
}

/* supp_flush - what waits, to bouncd when it is there, in frames */
void
supp_flush(void)
{
	struct ipc_peer	*p = hmap_get(&qd.dpeers, BOUNCD_VMTA);
	struct ipc_out	 o;
	uint32_t	 i = 0, k;
	size_t		 off = 0, len;

	if (sq_n == 0 || p == NULL)
		return;
	while (i < sq_n) {
		for (k = i, len = 0; k < sq_n && (k == i ||
		    len + sq_len[k] <= SQ_FRAME); k++)
			len += sq_len[k];
		ipc_out_begin(&o, IPC_QUEUED_SUPPRESS, 0);
		ipc_put_u32(&o, k - i);
		buf_add(&o.b, sq_body.data + off, len);
		ipc_send(p, &o, -1);
		off += len;
		i = k;
	}
	buf_reset(&sq_body);
	sq_n = 0;
}

/*
 * rx_suppressed - IPC_SMTPD_SUPPRESSED {str sender, str rcpt, str ip,
 * str helo, str reason}: smtpd refused a recipient at RCPT for the
 * list (refuse-at: rcpt); it is accounted like a drop at queue time, a
 * b row and a "suppressed" event (action "refused")
 */
int
rx_suppressed(struct ipc_peer *p, struct ipc_msg *m)
{
	char		 sender[MAILADDR_MAX + 1], rcpt[MAILADDR_MAX + 1];
	char		 ip[64], helo[256], diag[600];
	struct supp_entry e;
	struct mailaddr	 a;
	const char	*why;
	struct msg	 msg;
	struct buf	 row;

	memset(&e, 0, sizeof(e));
	if (ipc_get_str(m, sender, sizeof(sender)) == -1 ||
	    ipc_get_str(m, rcpt, sizeof(rcpt)) == -1 ||
	    ipc_get_str(m, ip, sizeof(ip)) == -1 ||
	    ipc_get_str(m, helo, sizeof(helo)) == -1 ||
	    ipc_get_str(m, e.reason, sizeof(e.reason)) == -1 ||
	    ipc_get_end(m) == -1 || mailaddr_parse(rcpt, &a, &why) == -1)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.arrival = (uint64_t)time(NULL);
	msg.sender = sender;
	msg.srcmta = xasprintf("%s (%s)", helo, ip);
	snprintf(diag, sizeof(diag), "smtp;550 5.7.1 <%s> refused at RCPT: "
	    "on the suppression list (%s)", rcpt, e.reason);
	buf_init(&row, 64 * 1024);
	acct_row(&row, "b", &msg, rcpt, NULL, "5.7.1", diag, "", category(&e),
	    "", "", "", "", "");
	acct_add_raw(row.len ? row.data : "");
	buf_free(&row);
	if (events_on())
		events_outcome("suppressed", &msg, rcpt, "5.7.1", diag,
		    category(&e), "", "", "refused");
	acct_flush();
	events_flush();
	qd.n_suppressed++;
	free(msg.srcmta);
	return 0;
}
