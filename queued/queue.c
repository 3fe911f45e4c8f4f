/*
 * queue.c - messages and queues in memory.
 *
 * Purpose:      a committed message becomes a struct msg; each of its
 *               pending recipients joins the queue "domain/vmta" (one
 *               qentry per message and queue).  The files are the truth;
 *               this is rebuilt from them at every start.
 * Used by:      queued.
 * Trust:        input already validated by spool_env_read or commit.c.
 * Spool access: none here.
 * See:          queued(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	q->mode = QM_NORMAL;
	TAILQ_INIT(&q->entries);
	hmap_put(&qd.queues, name, q);
	return q;
}

/*
 * vmta_resolve - a VirtualMTA name stays as it is; a pool is spread over
 * its members round robin (weights later); anything unknown falls back to
 * default-virtual-mta.  Never fails: the configuration always has one.
 */
void
vmta_resolve(const char *want, char *vmta, char *pool)
{
	const struct tern_config *cfg = qd.d.cfg;
	const struct cfg_pool	 *p;
	const struct cfg_vmta	 *v;

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
	tern_strlcpy(vmta, p->members[qd.pool_rr++ % p->n],
	    SPOOL_NAME_MAX + 1);
}

struct msg *
msg_from_env(const struct spool_env *e, uint64_t size)
{
	struct msg	*m = xcalloc(1, sizeof(*m));
	unsigned	 i;

	memcpy(m->id, e->id, sizeof(m->id));
	m->arrival = e->arrival;
	m->size = size;
	m->nrcpt = e->nrcpt;
	m->rcpts = xcalloc(e->nrcpt, sizeof(*m->rcpts));
	for (i = 0; i < e->nrcpt; i++) {
		m->rcpts[i].addr = xstrdup(e->rcpts[i].addr);
		m->rcpts[i].domain = strrchr(m->rcpts[i].addr, '@');
		m->rcpts[i].domain = m->rcpts[i].domain ?
		    m->rcpts[i].domain + 1 : "";
		m->rcpts[i].status = e->rcpts[i].status;
		m->rcpts[i].status_off = e->rcpts[i].status_off;
		if (m->rcpts[i].status == RS_PENDING)
			m->npending++;
	}
	tern_strlcpy(m->vmta, e->vmta, sizeof(m->vmta));
	tern_strlcpy(m->pool, e->pool, sizeof(m->pool));
	tern_strlcpy(m->job, e->job, sizeof(m->job));
	return m;
}

/* msg_enqueue - index by id and join one queue per recipient domain */
void
msg_enqueue(struct msg *m)
{
	unsigned i, j;

	hmap_put(&qd.msgs, m->id, m);
	qd.total_bytes += m->size;
	for (i = 0; i < m->nrcpt; i++) {
		struct msg_rcpt	*r = &m->rcpts[i];
		struct queue	*q;
		struct qentry	*qe;

		if (r->status != RS_PENDING)
			continue;
		qd.total_rcpts++;
		q = r->q = queue_get(r->domain, m->vmta);
		q->nrcpt++;
		/* One qentry per (message, queue): only at its first rcpt. */
		for (j = 0; j < i; j++)
			if (m->rcpts[j].q == q)
				break;
		if (j < i) {
			TAILQ_LAST(&q->entries, qentry_list)->nrcpt++;
			continue;
		}
		qe = xcalloc(1, sizeof(*qe));
		qe->m = m;
		qe->nrcpt = 1;
		TAILQ_INSERT_TAIL(&q->entries, qe, entry);
		q->nmsg++;
		q->bytes += m->size;
	}
}

void
msg_free(struct msg *m)
{
	unsigned i;

	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpts[i].addr);
	free(m->rcpts);
	free(m);
}
