/*
 * sched.c - scheduling: jobs to deliverd, outcomes back, retries, expiry.
 *
 * Purpose:      ready qentries go to the deliverd of their queue's
 *               virtual-mta as jobs (recipients plus a read-only fd on
 *               the queue file), at most a few times max-smtp-out per
 *               queue and PEER_JOBS_MAX per deliverd, so deliverd can
 *               reuse connections without holding the whole queue.
 *               Outcomes come back per recipient:
 *                 2xx delivered, 5xx bounced: final;
 *                 4xx deferred: retried after retry-after (the list's
 *                 Nth value for the Nth retry, the last one repeating),
 *                 bounced as message-expired once bounce-after has
 *                 passed since the message was queued.
 *               Final outcomes are made durable in one group commit
 *               (donelog.c: one fdatasync per batch) BEFORE the
 *               accounting row is written or anything else reports them;
 *               a message whose recipients are all final is then
 *               removed.  A crash can repeat a delivery, never lose a
 *               recipient.
 * Used by:      queued.
 * Trust:        results from deliverd are checked against the job they
 *               answer: unknown job, wrong peer, recipient not in the job
 *               or a bad outcome drops the peer.
 * Spool access: read/write (open for jobs, status bytes, unlink).
 * See:          queued(8), tern-spool(5).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

static void	sched_run(evutil_socket_t, short, void *);
static void	retry_run(evutil_socket_t, short, void *);
static void	results_run(evutil_socket_t, short, void *);

/* --- the retry heap: deferred qentries by next attempt ------------------ */

static void
heap_swap(size_t a, size_t b)
{
	struct qentry *t = qd.heap[a];

	qd.heap[a] = qd.heap[b];
	qd.heap[b] = t;
	qd.heap[a]->hidx = a;
	qd.heap[b]->hidx = b;
}

static void
heap_up(size_t i)
{
	while (i > 0 && qd.heap[(i - 1) / 2]->next > qd.heap[i]->next) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < qd.nheap && qd.heap[l]->next < qd.heap[m]->next)
			m = l;
		if (r < qd.nheap && qd.heap[r]->next < qd.heap[m]->next)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void
heap_push(struct qentry *qe)
{
	if (qd.nheap == qd.heapcap) {
		qd.heapcap = qd.heapcap ? qd.heapcap * 2 : 1024;
		qd.heap = xreallocarray(qd.heap, qd.heapcap, sizeof(*qd.heap));
	}
	qe->hidx = qd.nheap;
	qd.heap[qd.nheap++] = qe;
	heap_up(qe->hidx);
}

static void
heap_remove(struct qentry *qe)
{
	size_t i = qe->hidx;

	if (i >= qd.nheap || qd.heap[i] != qe)
		panic("heap_remove: not in the heap");
	heap_swap(i, --qd.nheap);
	if (i < qd.nheap) {
		heap_up(i);
		heap_down(i);
	}
}

static void
retry_arm(void)
{
	struct timeval	 tv = { 0, 0 };
	uint64_t	 now = (uint64_t)time(NULL);

	if (qd.nheap == 0) {
		evtimer_del(qd.ev_retry);
		return;
	}
	if (qd.heap[0]->next > now)
		tv.tv_sec = (time_t)(qd.heap[0]->next - now);
	evtimer_add(qd.ev_retry, &tv);
}

/* sched_defer_at - a qentry waits until when (recovery) */
void
sched_defer_at(struct qentry *qe, uint64_t when, uint32_t attempts)
{
	qe->st = QE_DEFERRED;
	qe->next = when;
	qe->attempts = attempts;
	qe->q->ndeferred++;
	heap_push(qe);
	if (qd.ev_retry != NULL)
		retry_arm();
}

/* --- dispatch ---------------------------------------------------------- */

/* sched_kick - the queue may have work: schedule a pass over it */
void
sched_kick(struct queue *q)
{
	if (!q->dirty) {
		q->dirty = true;
		TAILQ_INSERT_TAIL(&qd.dirtyq, q, dlink);
	}
	if (qd.ev_sched != NULL)
		event_active(qd.ev_sched, EV_TIMEOUT, 0);
}

static int
open_msg(const struct msg *m, int flags)
{
	char path[64];

	spool_path(path, sizeof(path), m->in_new ? "new" : "cur", m->id);
	return openat(qd.spool_fd, path, flags | O_NOFOLLOW | O_CLOEXEC);
}

int
msg_open_read(const struct msg *m)
{
	return open_msg(m, O_RDONLY);
}

/*
 * read_prepend - the K record (the DKIM-Signature) from the end of the
 * file: K, its length, the text, then the empty Z.  0 when there is
 * none; a K that is not where it should be is logged and left out.
 */
static size_t
read_prepend(int fd, const struct msg *m, char *k)
{
	struct stat	 st;
	size_t		 n = m->prepend_len;
	uint8_t		 h[5];
	off_t		 at;

	if (n == 0)
		return 0;
	if (fstat(fd, &st) == -1 || st.st_size < (off_t)n + 15)
		goto bad;
	at = st.st_size - 5 - (off_t)n - 5;
	if (pread(fd, h, 5, at) != 5 || h[0] != 'K' || h[1] != (n & 0xff) ||
	    h[2] != (n >> 8) || h[3] != 0 || h[4] != 0 ||
	    pread(fd, k, n, at + 5) != (ssize_t)n || !spool_prepend_ok(k, n))
		goto bad;
	return n;
bad:
	log_warnx("%s: the DKIM-Signature (K) cannot be read back; sent "
	    "without it", m->id);
	return 0;
}

/* dispatch - one qentry becomes one job at the vmta's deliverd */
static int
dispatch(struct qentry *qe, struct ipc_peer *p)
{
	struct peer_state *ps = p->arg;
	struct msg	  *m = qe->m;
	struct qjob	  *j;
	struct ipc_out	   o;
	char		   key[24];
	unsigned	   i;
	int		   fd;

	if ((fd = open_msg(m, O_RDONLY)) == -1) {
		log_warn("%s: open for delivery", m->id);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->id = ++qd.next_job;
	j->qe = qe;
	j->peer = p;
	j->idx = xcalloc(qe->nrcpt, sizeof(uint32_t));
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].qe == qe && m->rcpts[i].status == RS_PENDING)
			j->idx[j->n++] = i;
	ipc_out_begin(&o, IPC_QUEUED_JOB, j->id);
	ipc_put_str(&o, m->id);
	ipc_put_str(&o, qe->q->domain);
	ipc_put_str(&o, m->sender);
	ipc_put_u64(&o, m->body_off);
	ipc_put_u64(&o, m->size);
	ipc_put_u32(&o, j->n);
	for (i = 0; i < j->n; i++) {
		ipc_put_u32(&o, j->idx[i]);
		ipc_put_str(&o, m->rcpts[j->idx[i]].addr);
	}
	/* The header made at commit (K), sent before the message. */
	{
		char	 k[SPOOL_PREPEND_MAX + 1];
		size_t	 klen = read_prepend(fd, m, k);

		ipc_put_blob(&o, k, klen);
	}
	ipc_put_str(&o, m->job);
	ipc_put_str(&o, m->srcmta);
	/* RFC 3461: RET, ENVID, and each recipient's NOTIFY and ORCPT. */
	ipc_put_u8(&o, m->ret);
	ipc_put_str(&o, m->envid ? m->envid : "");
	for (i = 0; i < j->n; i++) {
		ipc_put_u8(&o, m->rcpts[j->idx[i]].notify);
		ipc_put_str(&o, m->rcpts[j->idx[i]].orcpt ?
		    m->rcpts[j->idx[i]].orcpt : "");
	}
	snprintf(key, sizeof(key), "%" PRIx64, j->id);
	hmap_put(&qd.jobs, key, j);
	TAILQ_INSERT_TAIL(&ps->jobs, j, plink);
	ps->nflight++;
	qe->st = QE_FLIGHT;
	qe->held = false;
	qe->q->nflight++;
	ipc_send(p, &o, fd);
	return 0;
}

static bool
expired(const struct qentry *qe, uint64_t now)
{
	return now >= qe->m->arrival + queue_policy(qe->q)->bounce_after;
}

static void	expire_qentry(struct qentry *);

#define NDR_RCPTS	QJOB_RCPT_MAX	/* a job: every recipient */

/* sched_queue - send what one queue may send now */
static void
sched_queue(struct queue *q)
{
	struct ipc_peer	  *p = hmap_get(&qd.dpeers, q->vmta);
	struct peer_state *ps;
	struct qentry	  *qe;
	unsigned	   limit;
	uint64_t	   now = (uint64_t)time(NULL);

	if (p == NULL) {
		/* Nobody to send to: expiry still happens on time. */
		struct qentry *next;

		for (qe = TAILQ_FIRST(&q->ready); qe != NULL; qe = next) {
			next = TAILQ_NEXT(qe, rlink);
			if (expired(qe, now)) {
				TAILQ_REMOVE(&q->ready, qe, rlink);
				expire_qentry(qe);
			}
		}
		return;
	}
	ps = p->arg;
	limit = (unsigned)(queue_policy(q)->max_smtp_out * 4);
	if (limit < 16)
		limit = 16;
	while ((qe = TAILQ_FIRST(&q->ready)) != NULL && q->nflight < limit &&
	    ps->nflight < PEER_JOBS_MAX) {
		TAILQ_REMOVE(&q->ready, qe, rlink);
		if (expired(qe, now)) {
			expire_qentry(qe);
			continue;
		}
		if (supp_drop(qe))
			continue;
		if (dispatch(qe, p) == -1) {
			/* Cannot open it: try again after the retry delay. */
			qe->st = QE_DEFERRED;
			qe->next = now + 60;
			q->ndeferred++;
			heap_push(qe);
			retry_arm();
		}
	}
}

static void
sched_run(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q;

	while ((q = TAILQ_FIRST(&qd.dirtyq)) != NULL) {
		TAILQ_REMOVE(&qd.dirtyq, q, dlink);
		q->dirty = false;
		sched_queue(q);
	}
}

/* retry_run - deferred qentries whose time has come are ready again */
static void
retry_run(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 now = (uint64_t)time(NULL);
	struct qentry	*qe;

	while (qd.nheap > 0 && qd.heap[0]->next <= now) {
		qe = qd.heap[0];
		heap_remove(qe);
		qe->q->ndeferred--;
		qe->st = QE_READY;
		TAILQ_INSERT_TAIL(&qe->q->ready, qe, rlink);
		sched_kick(qe->q);
	}
	retry_arm();
}

/* --- deliverd peers ---------------------------------------------------- */

int
sched_ready(struct ipc_peer *p, struct ipc_msg *m)
{
	struct peer_state *ps = p->arg;
	struct hmap_ent	  *e;
	size_t		   it;

	if (ipc_get_str(m, ps->vmta, sizeof(ps->vmta)) == -1 ||
	    ipc_get_end(m) == -1 || ps->vmta[0] == '\0')
		return -1;
	/* bouncd takes the processors' mail, as the reserved #bouncd. */
	if ((p->role == ROLE_BOUNCD) != (strcmp(ps->vmta, BOUNCD_VMTA) == 0))
		return -1;
	if (p->role != ROLE_BOUNCD && config_vmta(qd.d.cfg, ps->vmta) ==
	    NULL) {
		log_warnx("deliverd for unknown virtual-mta %s", ps->vmta);
		return -1;
	}
	if (hmap_get(&qd.dpeers, ps->vmta) != NULL) {
		log_warnx("a second deliverd for virtual-mta %s", ps->vmta);
		return -1;
	}
	hmap_put(&qd.dpeers, ps->vmta, p);
	log_info("deliverd for %s is ready", ps->vmta);
	if (p->role == ROLE_BOUNCD)
		supp_flush();
	for (e = NULL; (e = hmap_next(&qd.queues, e, &it)) != NULL;) {
		struct queue *q = e->val;

		if (strcmp(q->vmta, ps->vmta) == 0 && !TAILQ_EMPTY(&q->ready))
			sched_kick(q);
	}
	return 0;
}

static void
job_free(struct qjob *j)
{
	char key[24];

	snprintf(key, sizeof(key), "%" PRIx64, j->id);
	hmap_del(&qd.jobs, key);
	if (j->peer != NULL) {
		struct peer_state *ps = j->peer->arg;

		TAILQ_REMOVE(&ps->jobs, j, plink);
		ps->nflight--;
	}
	j->qe->q->nflight--;
	free(j->idx);
	free(j);
}

/* sched_peer_gone - a deliverd went away: its jobs are ready again */
void
sched_peer_gone(struct ipc_peer *p)
{
	struct peer_state *ps = p->arg;
	struct qjob	  *j;
	struct qresult	  *r;

	if (ps->vmta[0] != '\0' && hmap_get(&qd.dpeers, ps->vmta) == p)
		hmap_del(&qd.dpeers, ps->vmta);
	/* Results already received still count; only their peer is gone. */
	TAILQ_FOREACH(r, &qd.results, link)
		if (r->job->peer == p) {
			TAILQ_REMOVE(&ps->jobs, r->job, plink);
			ps->nflight--;
			r->job->peer = NULL;
		}
	while ((j = TAILQ_FIRST(&ps->jobs)) != NULL) {
		struct qentry *qe = j->qe;

		qe->st = QE_READY;
		TAILQ_INSERT_HEAD(&qe->q->ready, qe, rlink);
		sched_kick(qe->q);
		job_free(j);
	}
}

/* --- results ----------------------------------------------------------- */

void
result_free(struct qresult *r)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		free(r->r[i].diag);
	free(r->r);
	if (r->rows.max != 0)
		buf_free(&r->rows);
	if (r->events.max != 0)
		buf_free(&r->events);
	free(r);
}

/* sched_add_result - into the next results batch */
void
sched_add_result(struct qresult *r)
{
	TAILQ_INSERT_TAIL(&qd.results, r, link);
	if (qd.nresults++ == 0)
		event_active(qd.ev_results, EV_TIMEOUT, 0);
}

/*
 * result_outcomes - n x {u32 idx, u8 outcome, str status, str diag}
 * into r: each recipient of the job exactly once, nothing else, an
 * outcome among allowed, a status of its class (D 2.x.x, T 4, B 5)
 */
int
result_outcomes(struct ipc_msg *m, struct qresult *r, uint32_t n,
    const char *allowed)
{
	struct qjob	*j = r->job;
	char		 diag[DIAG_TEXT_MAX];
	uint32_t	 i, k, d;

	r->r = xcalloc(n, sizeof(*r->r));
	for (i = 0; i < n; i++) {
		uint8_t oc;

		if (ipc_get_u32(m, &r->r[i].idx) == -1 ||
		    ipc_get_u8(m, &oc) == -1 ||
		    ipc_get_str(m, r->r[i].status, sizeof(r->r[i].status)) ==
		    -1 || ipc_get_str(m, diag, sizeof(diag)) == -1)
			return -1;
		r->r[i].diag = xstrdup(diag);
		r->n = i + 1;
		for (k = 0; k < j->n && j->idx[k] != r->r[i].idx; k++)
			;
		for (d = 0; d < i && k < j->n; d++)
			if (r->r[d].idx == r->r[i].idx)
				k = j->n;
		if (k == j->n || oc == 0 || strchr(allowed, oc) == NULL ||
		    r->r[i].status[0] != (oc == 'D' ? '2' : oc == 'T' ? '4' :
		    '5'))
			return -1;
		r->r[i].outcome = (char)oc;
	}
	return 0;
}

int
sched_result(struct ipc_peer *p, struct ipc_msg *m)
{
	struct qresult	*r;
	struct qjob	*j;
	char		 key[24];
	uint8_t		 ql, bo;
	uint32_t	 n;

	snprintf(key, sizeof(key), "%" PRIx64, m->hdr.reqid);
	if ((j = hmap_get(&qd.jobs, key)) == NULL || j->peer != p) {
		/* Not ours (any more): ignore it, the recipients are safe. */
		log_warnx("result for unknown job %" PRIx64 " from deliverd "
		    "%s ignored", m->hdr.reqid, ((struct peer_state *)p->arg)->
		    vmta);
		return 0;
	}
	r = xcalloc(1, sizeof(*r));
	r->job = j;
	if (ipc_get_str(m, r->mx, sizeof(r->mx)) == -1 ||
	    ipc_get_str(m, r->ip, sizeof(r->ip)) == -1 ||
	    ipc_get_str(m, r->src, sizeof(r->src)) == -1 ||
	    ipc_get_str(m, r->esmtp, sizeof(r->esmtp)) == -1 ||
	    ipc_get_str(m, r->skey, sizeof(r->skey)) == -1 ||
	    ipc_get_u8(m, &bo) == -1 ||
	    ipc_get_str(m, r->tls, sizeof(r->tls)) == -1 ||
	    ipc_get_u8(m, &ql) == -1 || ipc_get_u32(m, &n) == -1 ||
	    n != j->n)
		goto bad;
	r->queue_level = ql != 0;
	r->backoff = bo != 0;
	if (result_outcomes(m, r, n, "DTB") == -1)
		goto bad;
	if (ipc_get_end(m) == -1)
		goto bad;
	sched_add_result(r);
	return 0;
bad:
	result_free(r);
	return -1;
}

/*
 * reroute_pool - warm-up overflow with "overflow: pool": the qentry
 * moves to the next member of the pool its message was sent to, at
 * most once round the pool (then it is held like any other).  The move
 * is not written down: after a restart the message is in its first
 * VirtualMTA's queue again and the same happens.
 */
static bool
reroute_pool(struct qentry *qe)
{
	const struct cfg_pool	*pl = config_pool(qd.d.cfg, qe->m->pool);
	struct queue		*q = qe->q, *q2;
	unsigned		 i, k;

	if (pl == NULL || pl->n < 2 || qe->reroutes + 1 >= pl->n)
		return false;
	for (i = 0; i < pl->n && strcmp(pl->members[i], q->vmta) != 0; i++)
		;
	k = (i + 1) % pl->n;
	q2 = queue_get(q->domain, pl->members[k]);
	TAILQ_REMOVE(&q->entries, qe, entry);
	q->nmsg--;
	q->nrcpt -= qe->nrcpt;
	q->bytes -= qe->m->size;
	for (i = 0; i < qe->m->nrcpt; i++)
		if (qe->m->rcpts[i].qe == qe)
			qe->m->rcpts[i].q = q2;
	qe->q = q2;
	qe->reroutes++;
	TAILQ_INSERT_TAIL(&q2->entries, qe, entry);
	q2->nmsg++;
	q2->nrcpt += qe->nrcpt;
	q2->bytes += qe->m->size;
	qe->st = QE_READY;
	TAILQ_INSERT_TAIL(&q2->ready, qe, rlink);
	log_info("%s: warm-up overflow of %s moves to %s", qe->m->id, q->name,
	    q2->name);
	sched_kick(q2);
	sched_kick(q);
	return true;
}

/*
 * sched_held - DELIVERD_HELD {until, reason}: shaperd holds the queue
 * (paused, suspended, warm-up): the job comes back untried and waits
 * until then.  No attempt is counted and nothing is written: a restart
 * simply offers it again, and the hold answers again.
 */
int
sched_held(struct ipc_peer *p, struct ipc_msg *m)
{
	struct qjob	*j;
	struct qentry	*qe;
	char		 key[24], why[256];
	uint64_t	 until, now = (uint64_t)time(NULL);
	uint8_t		 reroute;

	if (ipc_get_u64(m, &until) == -1 ||
	    ipc_get_str(m, why, sizeof(why)) == -1 ||
	    ipc_get_u8(m, &reroute) == -1 || ipc_get_end(m) == -1)
		return -1;
	snprintf(key, sizeof(key), "%" PRIx64, m->hdr.reqid);
	if ((j = hmap_get(&qd.jobs, key)) == NULL || j->peer != p)
		return 0;
	qe = j->qe;
	job_free(j);
	if (reroute && reroute_pool(qe))
		return 0;
	/* Never past a day, never in the past: the hold is looked at again. */
	if (until < now + 1)
		until = now + 1;
	if (until > now + 86400)
		until = now + 86400;
	qe->st = QE_DEFERRED;
	qe->next = until;
	qe->held = true;
	qe->q->ndeferred++;
	tern_strlcpy(qe->q->hold_reason, why, sizeof(qe->q->hold_reason));
	heap_push(qe);
	retry_arm();
	sched_kick(qe->q);
	return 0;
}

static bool
queue_matches(const struct queue *q, const char *dg, const char *vg)
{
	if (fnmatch(vg, q->vmta, FNM_CASEFOLD) != 0)
		return false;
	return fnmatch(dg, q->domain, FNM_CASEFOLD) == 0 ||
	    (q->rollup[0] != '\0' && fnmatch(dg, q->rollup, FNM_CASEFOLD) == 0);
}

/*
 * sched_release - held mail of the matching queues is offered now
 * (tern resume queue); real retries keep their time.
 */
unsigned
sched_release(const char *dg, const char *vg)
{
	struct hmap_ent	*e;
	size_t		 it;
	unsigned	 n = 0;
	struct qentry	*qe;

	for (e = NULL; (e = hmap_next(&qd.queues, e, &it)) != NULL;) {
		struct queue *q = e->val;

		if (!queue_matches(q, dg, vg))
			continue;
		TAILQ_FOREACH(qe, &q->entries, entry)
			if (qe->st == QE_DEFERRED && qe->held) {
				heap_remove(qe);
				q->ndeferred--;
				qe->held = false;
				qe->st = QE_READY;
				TAILQ_INSERT_TAIL(&q->ready, qe, rlink);
				n++;
			}
		q->hold_reason[0] = '\0';
		sched_kick(q);
	}
	retry_arm();
	return n;
}

/* expire_qentry - bounce-after passed without a new attempt */
static void
expire_qentry(struct qentry *qe)
{
	struct qresult	*r = xcalloc(1, sizeof(*r));
	struct qjob	*j = xcalloc(1, sizeof(*j));
	struct msg	*m = qe->m;
	unsigned	 i;

	/* A job with no peer, answered at once with "expired". */
	j->id = ++qd.next_job;
	j->qe = qe;
	j->idx = xcalloc(qe->nrcpt, sizeof(uint32_t));
	r->r = xcalloc(qe->nrcpt, sizeof(*r->r));
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].qe == qe && m->rcpts[i].status == RS_PENDING) {
			j->idx[j->n] = i;
			r->r[j->n].idx = i;
			r->r[j->n].outcome = 'T';
			tern_strlcpy(r->r[j->n].status, "4.4.7",
			    sizeof(r->r[0].status));
			r->r[j->n].diag = xstrdup(qe->q->last_error[0] ?
			    qe->q->last_error : "bounce-after reached");
			j->n++;
		}
	{
		char key[24];
		snprintf(key, sizeof(key), "%" PRIx64, j->id);
		hmap_put(&qd.jobs, key, j);
	}
	r->n = j->n;
	r->job = j;
	qe->st = QE_FLIGHT;
	qe->q->nflight++;
	sched_add_result(r);
}

/* The final state of each recipient, as the done log will record it. */
static char
final_of(struct qresult *r, unsigned i, bool exp)
{
	char oc = r->r[i].outcome;

	if (oc == 'T' && exp)
		return RS_BOUNCED;
	return oc == 'D' ? RS_DELIVERED : oc == 'B' ? RS_BOUNCED : 0;
}

/* account - the accounting row for one outcome, into b */
static void
account(struct buf *b, struct qresult *r, unsigned i, char fin, bool exp)
{
	struct qentry	*qe = r->job->qe;
	struct msg	*m = qe->m;
	const char	*rcpt = m->rcpts[r->r[i].idx].addr;
	const char	*status = r->r[i].status, *type, *cat;

	if (fin == RS_DELIVERED) {
		type = "d";
		cat = "success";
	} else if (fin == RS_BOUNCED) {
		type = "b";
		cat = r->cat[0] != '\0' ? r->cat : exp ? "message-expired" :
		    bcat_classify(qd.bcat, status, r->r[i].diag);
	} else {
		type = r->queue_level ? "tq" : "t";
		cat = bcat_classify(qd.bcat, status, r->r[i].diag);
	}
	acct_row(b, type, m, rcpt, m->rcpts[r->r[i].idx].orcpt, status,
	    r->r[i].diag, r->mx, cat, r->src,
	    r->ip, r->esmtp, qe->q->name, r->tls);
	if (fin == RS_BOUNCED && !exp && !r->suppressed)
		supp_hard_bounce(m, rcpt, status, r->r[i].diag, cat);
	if (events_on())
		events_outcome(r->suppressed ? "suppressed" : fin ==
		    RS_DELIVERED ? "delivered" : fin == RS_BOUNCED ? "bounced" :
		    "deferred", m, rcpt, status, r->r[i].diag, cat,
		    qe->q->name, r->mx, r->suppressed ? "dropped" : NULL);
}

/*
 * retry_later - back in the heap after retry-after[attempts], or
 * backoff-retry-after while the queue is in backoff
 */
static void
retry_later(struct qentry *qe, uint64_t now)
{
	const struct dom_policy *pol = queue_policy(qe->q);
	uint64_t	  expiry;

	qe->held = false;
	qe->next = now + durlist_at(qe->q->backoff ? pol->backoff_retry_after :
	    pol->retry_after, qe->attempts);
	qe->attempts++;
	/* Never wait past the expiry: bounce on time. */
	expiry = qe->m->arrival + pol->bounce_after;
	if (qe->next > expiry)
		qe->next = expiry > now ? expiry : now;
	qe->st = QE_DEFERRED;
	qe->q->ndeferred++;
	heap_push(qe);
	if (qe->attempts > qe->m->attempts)
		qe->m->attempts = qe->attempts;
	qe->m->next = qe->next;
	index_put_later(qe->m);
	/*
	 * A message that waits goes from new/ to its bucket in cur/; one
	 * delivered at the first attempt never pays for the move.
	 */
	if (qe->m->in_new) {
		char from[64], to[64];

		spool_path(from, sizeof(from), "new", qe->m->id);
		spool_path(to, sizeof(to), "cur", qe->m->id);
		if (renameat(qd.spool_fd, from, qd.spool_fd, to) == 0)
			qe->m->in_new = false;
	}
}

static void
msg_done(struct msg *m)
{
	char path[64];

	spool_path(path, sizeof(path), m->in_new ? "new" : "cur", m->id);
	/* The done log already holds every final outcome: no fsync here. */
	recycle_put(path);
	index_del_later(m->id);
	hmap_del(&qd.msgs, m->id);
	qd.total_bytes -= m->size;
	qd.n_removed++;
	msg_free(m);
}

/* apply - memory, status bytes, accounting, retries, removal */
static void
apply(struct qresult *r, uint64_t now)
{
	struct qentry	*qe = r->job->qe;
	struct queue	*q = qe->q;
	struct msg	*m = qe->m;
	unsigned	 i, nfinal = 0;
	bool		 exp = expired(qe, now);
	int		 fd = -1;

	if (r->job->peer != NULL || r->skey[0] != '\0') {
		q->backoff = r->backoff;
		if (r->skey[0] != '\0' && strcasecmp(r->skey, q->domain) != 0)
			tern_strlcpy(q->rollup, r->skey, sizeof(q->rollup));
		else if (r->skey[0] != '\0')
			q->rollup[0] = '\0';
	}
	for (i = 0; i < r->n; i++) {
		struct msg_rcpt	*mr = &m->rcpts[r->r[i].idx];
		char		 fin = final_of(r, i, exp);

		if (exp && r->r[i].outcome == 'T')
			qd.n_expired++;
		if (fin == 0) {
			q->n_deferred++;
			qd.n_deferred++;
			if (r->r[i].diag[0] != '\0')
				tern_strlcpy(q->last_error, r->r[i].diag,
				    sizeof(q->last_error));
			continue;
		}
		if (fin == RS_DELIVERED && r->processor)
			qd.n_processed++;	/* read by bouncd, not sent */
		else if (fin == RS_DELIVERED) {
			q->n_delivered++;
			qd.n_delivered++;
			q->last_error[0] = '\0';
		} else {
			q->n_bounced++;
			qd.n_bounced++;
		}
		mr->status = fin;
		nfinal++;
		m->npending--;
		qe->nrcpt--;
		q->nrcpt--;
		qd.total_rcpts--;
		/* Status byte in place, for partly done messages only. */
		if (m->npending > 0) {
			if (fd == -1)
				fd = open_msg(m, O_RDWR);
			if (fd != -1 && pwrite(fd, &fin, 1, mr->status_off) != 1)
				log_warn("%s: status byte", m->id);
		}
	}
	if (fd != -1)
		close(fd);
	job_free(r->job);
	if (qe->nrcpt > 0)
		retry_later(qe, now);
	else {
		TAILQ_REMOVE(&q->entries, qe, entry);
		q->nmsg--;
		q->bytes -= m->size;
		m->nqe--;
		free(qe);
	}
	if (m->npending == 0 && m->nqe == 0)
		msg_done(m);
	sched_kick(q);
}

/*
 * results_run - the group commit of outcomes.  Order:
 * (1) every final outcome of the batch, with its accounting row, goes
 *     into the done log with one fdatasync: the recipients are final;
 * (2) the accounting rows are written;
 * (3) only then status bytes, retries and removals.
 * A crash after (1) replays the log at start: a recipient still pending
 * in a file still present is marked and its row written (again, if (2)
 * had happened: a duplicate row, never a missing one).
 */
static void
results_run(evutil_socket_t fd, short what, void *arg)
{
	struct qresult	*r;
	struct buf	 log, row;
	uint64_t	 now = (uint64_t)time(NULL);
	unsigned	 i, nndr, ndr_idx[NDR_RCPTS];
	char		 ndr_fin[NDR_RCPTS];

	buf_init(&log, 256 * 1024 * 1024);
	buf_init(&row, 64 * 1024);
	TAILQ_FOREACH(r, &qd.results, link) {
		bool exp = expired(r->job->qe, now);

		/*
		 * bouncd's rows and events are written as they came, without
		 * the done log: a crash before they are synced processes the
		 * message again (the rows twice, never none).
		 */
		if (r->processor) {
			acct_add_block(r->rows.data, r->rows.len);
			events_add(r->events.data, r->events.len);
			continue;
		}
		nndr = 0;
		for (i = 0; i < r->n; i++) {
			char fin = final_of(r, i, exp);

			if (exp && r->r[i].outcome == 'T')
				tern_strlcpy(r->r[i].status, "4.4.7",
				    sizeof(r->r[i].status));
			buf_reset(&row);
			account(&row, r, i, fin, exp);
			/* The log tells bounces and deferrals; acct has all. */
			if (fin != RS_DELIVERED)
				log_info("%s: to=<%s>, relay=%s, dsn=%s, "
				    "status=%s (%s)", r->job->qe->m->id,
				    r->job->qe->m->rcpts[r->r[i].idx].addr,
				    r->mx[0] ? r->mx : "none", r->r[i].status,
				    fin == RS_BOUNCED ? (exp ? "expired" :
				    "bounced") : "deferred", r->r[i].diag);
			if (fin != 0)
				buf_printf(&log, "%s %u %c %s\n",
				    r->job->qe->m->id, r->r[i].idx, fin,
				    row.len ? row.data : "");
			acct_add_raw(row.len ? row.data : "");
			if (fin != 0 && nndr < NDR_RCPTS &&
			    ndr_wanted(r->job->qe->m, r->r[i].idx, fin,
			    r->esmtp)) {
				ndr_idx[nndr] = i;
				ndr_fin[nndr++] = fin;
			}
		}
		if (nndr > 0)
			ndr_make(r->job->qe->m, r, ndr_idx, ndr_fin, nndr);
	}
	/* The reports are durable before their causes are final. */
	ndr_commit();
	buf_free(&row);
	/* Events before the done log: a crash between repeats, never loses. */
	if (events_flush() == -1 || (log.len > 0 && done_append(&log) == -1)) {
		/*
		 * Not durable: report nothing, forget the outcomes.  The
		 * recipients stay pending and are delivered again later.
		 */
		log_warnx("done log write failed; %u results dropped",
		    qd.nresults);
		buf_reset(&qd.acct_buf);
		while ((r = TAILQ_FIRST(&qd.results)) != NULL) {
			struct qentry *qe = r->job->qe;

			TAILQ_REMOVE(&qd.results, r, link);
			job_free(r->job);
			retry_later(qe, now);
			result_free(r);
		}
		qd.nresults = 0;
		buf_free(&log);
		retry_arm();
		return;
	}
	buf_free(&log);
	/*
	 * The rows reach the disk before any status byte or removal does,
	 * so even a power loss cannot leave a final recipient without its
	 * row (one fdatasync per batch).
	 */
	acct_flush();
	acct_sync();
	while ((r = TAILQ_FIRST(&qd.results)) != NULL) {
		TAILQ_REMOVE(&qd.results, r, link);
		apply(r, now);
		result_free(r);
	}
	qd.nresults = 0;
	index_put_flush();
	index_del_flush();
	retry_arm();
	done_checkpoint(false);
	supp_flush();
}

void
sched_reload(void)
{
	const char	   *err = NULL;
	struct bcat_table  *t = bcat_compile(qd.d.cfg, &err);
	struct hmap_ent	   *e;
	size_t		    it;

	if (t == NULL)
		log_warnx("bounce categories: %s; keeping the old table", err);
	else {
		bcat_free(qd.bcat);
		qd.bcat = t;
	}
	/* Limits may have changed: look at every queue again. */
	for (e = NULL; (e = hmap_next(&qd.queues, e, &it)) != NULL;)
		sched_kick(e->val);
}

void
sched_init(void)
{
	const char *err = NULL;

	hmap_init(&qd.dpeers);
	hmap_init(&qd.jobs);
	/*
	 * Job ids start at a random point: a result that a deliverd kept
	 * across a restart of queued can never match a new job.
	 */
	if (getrandom(&qd.next_job, sizeof(qd.next_job), 0) !=
	    sizeof(qd.next_job))
		qd.next_job = (uint64_t)time(NULL) << 32;
	qd.next_job &= ~(1ULL << 63);
	TAILQ_INIT(&qd.dirtyq);
	TAILQ_INIT(&qd.results);
	qd.ev_sched = event_new(qd.d.base, -1, 0, sched_run, NULL);
	qd.ev_retry = evtimer_new(qd.d.base, retry_run, NULL);
	qd.ev_results = event_new(qd.d.base, -1, 0, results_run, NULL);
	if ((qd.bcat = bcat_compile(qd.d.cfg, &err)) == NULL)
		fatalx("bounce categories: %s", err);
}
