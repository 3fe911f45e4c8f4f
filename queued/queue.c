/*
 * queue.c - messages and queues in memory.
 *
 * Purpose:      a committed message becomes a struct msg; its pending
 *               recipients join the queues "domain/vmta" through one
 *               qentry per message and queue, the unit sched.c schedules.
 *               The files are the truth; this is rebuilt from them at
 *               every start.
 * Used by:      queued.
 * Trust:        input already validated by spool_env_read or commit.c.
 * Spool access: none here.
 * See:          queued(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queued.h"

/* queue_get - find or create the queue for domain and vmta */
struct queue *
queue_get(const char *domain, const char *vmta)
{
	char		 name[QUEUE_NAME_MAX + 1];
	struct queue	*q;

	if (!bsnprintf(name, sizeof(name), "%s/%s", domain, vmta))
		panic("queue name too long: %s/%s", domain, vmta);
	if ((q = hmap_get(&qd.queues, name)) != NULL)
		return q;
	q = xcalloc(1, sizeof(*q));
	tern_strlcpy(q->name, name, sizeof(q->name));
	q->domain = xstrdup(domain);
	q->vmta = xstrdup(vmta);
	TAILQ_INIT(&q->entries);
	TAILQ_INIT(&q->ready);
	hmap_put(&qd.queues, name, q);
	return q;
}

/*
 * vmta_resolve - a VirtualMTA name stays as it is; a pool is spread over
 * its members by weighted round robin, one counter per pool (weights
 * 1 and 3: one message in four to the first); anything unknown falls
 * back to default-virtual-mta.
 */
void
vmta_resolve(const char *want, char *vmta, char *pool)
{
	const struct tern_config *cfg = qd.d.cfg;
	const struct cfg_pool	 *p;
	const struct cfg_vmta	 *v;
	unsigned		  total = 0, i, pick;

	pool[0] = '\0';
	if (want == NULL || *want == '\0' || !config_vmta_or_pool(cfg, want)) {
		if (want != NULL && *want != '\0')
			log_warnx("unknown virtual-mta \"%s\"; using %s",
			    want, cfg->default_virtual_mta);
		want = cfg->default_virtual_mta;
	}
	if ((v = config_vmta(cfg, want)) != NULL) {
		tern_strlcpy(vmta, v->name, SPOOL_NAME_MAX + 1);
		return;
	}
	p = config_pool(cfg, want);
	tern_strlcpy(pool, p->name, SPOOL_NAME_MAX + 1);
	for (i = 0; i < p->n; i++)
		total += p->weights[i];
	{
		uintptr_t *ctr = hmap_get(&qd.pool_rr, p->name);

		if (ctr == NULL) {
			ctr = xcalloc(1, sizeof(*ctr));
			hmap_put(&qd.pool_rr, p->name, ctr);
		}
		pick = (unsigned)((*ctr)++ % total);
	}
	for (i = 0; i < p->n; i++) {
		if (pick < p->weights[i])
			break;
		pick -= p->weights[i];
	}
	tern_strlcpy(vmta, p->members[i < p->n ? i : 0], SPOOL_NAME_MAX + 1);
}

struct msg *
msg_from_env(const struct spool_env *e, uint64_t size)
{
	struct msg	*m = xcalloc(1, sizeof(*m));
	unsigned	 i;

	memcpy(m->id, e->id, sizeof(m->id));
	m->arrival = e->arrival;
	m->size = size;
	m->body_off = (uint64_t)e->body_off;
	m->nrcpt = e->nrcpt;
	m->rcpts = xcalloc(e->nrcpt, sizeof(*m->rcpts));
	for (i = 0; i < e->nrcpt; i++) {
		m->rcpts[i].addr = xstrdup(e->rcpts[i].addr);
		m->rcpts[i].domain = strrchr(m->rcpts[i].addr, '@');
		m->rcpts[i].domain = m->rcpts[i].domain ?
		    m->rcpts[i].domain + 1 : "";
		m->rcpts[i].status = e->rcpts[i].status;
		m->rcpts[i].status_off = e->rcpts[i].status_off;
		m->rcpts[i].notify = e->rcpts[i].notify;
		if (e->rcpts[i].orcpt != NULL)
			m->rcpts[i].orcpt = xstrdup(e->rcpts[i].orcpt);
		if (m->rcpts[i].status == RS_PENDING)
			m->npending++;
	}
	m->sender = xstrdup(e->sender ? e->sender : "");
	m->srcmta = xasprintf("%s (%s)", e->helo ? e->helo : "",
	    e->client ? e->client : "");
	tern_strlcpy(m->vmta, e->vmta, sizeof(m->vmta));
	tern_strlcpy(m->pool, e->pool, sizeof(m->pool));
	tern_strlcpy(m->job, e->job, sizeof(m->job));
	m->ret = (uint8_t)e->ret;
	if (e->envid[0] != '\0')
		m->envid = xstrdup(e->envid);
	/* K stays in the file (read at dispatch): 2 bytes, not ~500. */
	if (e->prepend != NULL)
		m->prepend_len = (uint16_t)strlen(e->prepend);
	return m;
}

/*
 * queue_policy - the queue's settings (its VirtualMTA's blocks, then the
 * domain's), looked up again only after a reload: the scheduler asks
 * for every dispatch, result and retry
 */
const struct dom_policy *
queue_policy(struct queue *q)
{
	if (q->pol_gen != qd.d.cfg_gen) {
		config_queue_policy(qd.d.cfg, config_vmta(qd.d.cfg, q->vmta),
		    q->domain, &q->pol);
		q->pol_gen = qd.d.cfg_gen;
	}
	return &q->pol;
}

/*
 * msg_enqueue - index by id and give each pending recipient a qentry:
 * one per (message, queue), split when it would exceed the domain's
 * max-rcpt-per-message (and the IPC job limit).
 */
void
msg_enqueue(struct msg *m)
{
	const struct dom_policy *pol;
	const struct cfg_vmta	*vm;
	unsigned	 i, j, chunk;

	hmap_put(&qd.msgs, m->id, m);
	qd.total_bytes += m->size;
	for (i = 0; i < m->nrcpt; i++) {
		struct msg_rcpt	*r = &m->rcpts[i];
		struct queue	*q;
		struct qentry	*qe = NULL;

		if (r->status != RS_PENDING)
			continue;
		qd.total_rcpts++;
		/* The processors' mail goes to bouncd, not out. */
		if (config_processor(qd.d.cfg, r->addr) != PROC_NONE)
			q = r->q = queue_get(r->domain, BOUNCD_VMTA);
		else
			q = r->q = queue_get(r->domain, m->vmta);
		q->nrcpt++;
		pol = queue_policy(q);
		chunk = pol->max_rcpt_per_message < QJOB_RCPT_MAX ?
		    (unsigned)pol->max_rcpt_per_message : QJOB_RCPT_MAX;
		/* VERP names one recipient per return path. */
		if ((vm = config_vmta(qd.d.cfg, q->vmta)) != NULL && vm->verp)
			chunk = 1;
		/* The latest qentry of this message in q, if it has room. */
		for (j = i; j-- > 0;)
			if (m->rcpts[j].q == q && m->rcpts[j].qe != NULL) {
				qe = m->rcpts[j].qe;
				break;
			}
		if (qe != NULL && qe->nrcpt < chunk) {
			qe->nrcpt++;
			r->qe = qe;
			continue;
		}
		qe = xcalloc(1, sizeof(*qe));
		qe->m = m;
		qe->q = q;
		qe->nrcpt = 1;
		qe->st = QE_READY;
		r->qe = qe;
		TAILQ_INSERT_TAIL(&q->entries, qe, entry);
		m->nqe++;
		q->nmsg++;
		q->bytes += m->size;
		/* Recovered with a retry time still ahead: wait for it. */
		if (m->next > (uint64_t)time(NULL))
			sched_defer_at(qe, m->next, m->attempts);
		else {
			qe->attempts = m->attempts;
			TAILQ_INSERT_TAIL(&q->ready, qe, rlink);
			sched_kick(q);
		}
	}
}

void
msg_free(struct msg *m)
{
	unsigned i;

	for (i = 0; i < m->nrcpt; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].orcpt);
	}
	free(m->rcpts);
	free(m->envid);
	free(m->sender);
	free(m->srcmta);
	free(m);
}
