/*
 * grant.c - connection slots and message-rate tokens for the deliverds.
 *
 * Purpose:      a deliverd asks for N tokens and M slots for one queue;
 *               the grant is the most every limit allows now:
 *                 - the queue's max-msg-rate (backoff-max-msg-rate in
 *                   backoff), the VirtualMTA's max-msg-rate and the
 *                   warm-up day's rate, each a GCRA (smooth: one token
 *                   per period/count, a burst of at most 0.2 s worth);
 *                 - the warm-up day's volume left for the queue;
 *                 - max-smtp-out (backoff-max-smtp-out in backoff), the
 *                   VirtualMTA's max-smtp-out, and max-connect-rate.
 *               A queue that is paused, suspended, or out of warm-up
 *               volume gets nothing and is told until when ("held");
 *               when nothing is free yet the reply says how long to
 *               wait.  Batches keep the round trips far below one per
 *               message.
 * Used by:      shaperd.
 * Trust:        asks are bounded (a want above 10000 is cut down).
 * Spool access: none.
 * See:          shaperd(8).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "shaperd.h"

#define WANT_MAX	10000

/* --- GCRA -------------------------------------------------------------- */

static bool
unlimited(const struct rate *r)
{
	return r->count == 0 || r->period == 0;
}

static uint64_t
interval_us(const struct rate *r)
{
	uint64_t t = r->period * 1000000 / r->count;

	return t ? t : 1;
}

static uint64_t
burst_of(const struct rate *r)
{
	uint64_t b = BURST_US / interval_us(r);

	return b ? b : 1;
}

/*
 * gcra_avail - how many tokens conform now; 0 with the wait until the
 * next one.  A request of n at t conforms when max(TAT, t) + n*T is at
 * most t + B*T (B the burst).
 */
uint64_t
gcra_avail(const struct gcra *g, const struct rate *r, uint64_t now,
    uint64_t *wait_us)
{
	uint64_t t, b, base;

	*wait_us = 0;
	if (unlimited(r))
		return UINT64_MAX;
	t = interval_us(r);
	b = burst_of(r);
	base = g->tat > now ? g->tat : now;
	if (base - now + t <= b * t)
		return (now + b * t - base) / t;
	*wait_us = base - now + t - b * t;
	return 0;
}

void
gcra_take(struct gcra *g, const struct rate *r, uint64_t now, uint64_t n)
{
	if (unlimited(r) || n == 0)
		return;
	if (g->tat < now)
		g->tat = now;
	g->tat += n * interval_us(r);
}

/* --- warm-up ----------------------------------------------------------- */

/* warm_day_of - 1 on the start date (UTC), 0 before it or without one */
unsigned
warm_day_of(const struct cfg_vmta *vm, time_t now)
{
	if (vm == NULL || !vm->warmup.set || now < vm->warmup.start)
		return 0;
	return (unsigned)((now - vm->warmup.start) / 86400) + 1;
}

/*
 * sq_warm_day - the queue's own warm-up day: the calendar day less the
 * days its ramp stood paused (a pause does not skip volume steps); the
 * day it stopped at while it is paused.
 */
unsigned
sq_warm_day(const struct squeue *q, const struct cfg_vmta *vm, time_t now)
{
	unsigned d = warm_day_of(vm, now);

	if (d == 0)
		return 0;
	if (q->warm.paused && q->warm.day != 0)
		return q->warm.day;
	return d > q->warm.shift ? d - q->warm.shift : 1;
}

/* warm_volume - the day's volume per queue; 0 when past the schedule */
uint64_t
warm_volume(const struct cfg_vmta *vm, unsigned day)
{
	if (day == 0 || day > vm->warmup.ndays)
		return 0;
	return vm->warmup.volume[day - 1];
}

/* warm_roll - counters belong to one day: a new day starts them afresh */
static void
warm_roll(struct squeue *q, unsigned day)
{
	if (q->warm.day == day)
		return;
	/* A paused ramp stays paused (and its day frozen) until resumed. */
	if (q->warm.paused)
		return;
	q->warm.day = day;
	q->warm.sent = q->warm.outcomes = q->warm.bounced = 0;
	q->warm.complaints = 0;
	sq_dirty();
}

/* --- holds ------------------------------------------------------------- */

/*
 * sq_hold - whether the queue's mail must wait, why, and until when
 * (for an open-ended hold: OPEN_HOLD seconds, to look again).
 */
enum shold
sq_hold(struct squeue *q, time_t now, time_t *until, char *why, size_t sz)
{
	const struct cfg_vmta *vm = config_vmta(sd.d.cfg, q->vmta);
	unsigned day = sq_warm_day(q, vm, now);
	uint64_t vol;

	*until = 0;
	why[0] = '\0';
	if (q->paused) {
		*until = now + OPEN_HOLD;
		snprintf(why, sz, "queue paused by tern pause queue");
		return SH_PAUSED;
	}
	if (q->suspend_until > now) {
		*until = q->suspend_until;
		snprintf(why, sz, "queue suspended: %s", q->last_rule);
		return SH_SUSPENDED;
	}
	if (day == 0)
		return SH_NONE;
	warm_roll(q, day);
	if (q->warm.paused) {
		*until = now + OPEN_HOLD;
		snprintf(why, sz, "warm-up paused: %s", q->warm.why);
		return SH_WARMUP_PAUSED;
	}
	vol = warm_volume(vm, day);
	if (vol != 0 && q->warm.sent >= vol) {
		time_t next = vm->warmup.start + (time_t)day * 86400;

		*until = next - now < OPEN_HOLD * 5 ? next : now + OPEN_HOLD * 5;
		snprintf(why, sz, "warm-up day %u volume %llu reached", day,
		    (unsigned long long)vol);
		return SH_WARMUP_VOLUME;
	}
	return SH_NONE;
}

/*
 * put_state - the state part of a GRANT: wait, mode, hold, until,
 * bounce, text.
 */
static void
put_state(struct ipc_out *o, struct squeue *q, time_t now, uint64_t wait_ms,
    enum shold h, time_t until, const char *why)
{
	bool bouncing = q->bounce_until > now;

	ipc_put_u32(o, (uint32_t)(wait_ms > 600000 ? 600000 : wait_ms));
	ipc_put_u8(o, (uint8_t)q->mode);
	ipc_put_u8(o, (uint8_t)h);
	ipc_put_u64(o, (uint64_t)until);
	ipc_put_u64(o, bouncing ? (uint64_t)q->bounce_until : 0);
	ipc_put_str(o, bouncing ? q->bounce_text : why);
}

/* put_grant - one GRANT: what was granted, the two waits, the state */
static void
put_grant(struct ipc_peer *p, uint64_t reqid, const char *key,
    const char *domain, uint32_t nc, uint32_t nm, uint64_t wait_conns_ms,
    uint64_t wait_msgs_ms, struct squeue *q, time_t now, enum shold h,
    time_t until, const char *why)
{
	struct ipc_out o;

	ipc_out_begin(&o, IPC_SHAPE_GRANT, reqid);
	ipc_put_str(&o, key);
	ipc_put_str(&o, domain);
	ipc_put_u32(&o, nc);
	ipc_put_u32(&o, nm);
	ipc_put_u32(&o, (uint32_t)(wait_conns_ms > 600000 ? 600000 :
	    wait_conns_ms));
	put_state(&o, q, now, wait_msgs_ms, h, until, why);
	ipc_send(p, &o, -1);
}

/* grant_state - the queue's state as it is now (for news) */
void
grant_state(struct ipc_out *o, struct squeue *q, time_t now,
    uint64_t *wait_ms)
{
	char		 why[TEXT_MAX];
	time_t		 until;
	enum shold	 h = sq_hold(q, now, &until, why, sizeof(why));

	put_state(o, q, now, *wait_ms, h, until, why);
}

/* --- asks -------------------------------------------------------------- */

static uint64_t
min3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* tokens - message tokens for the queue, at most want */
static uint64_t
tokens(struct squeue *q, struct svmta *v, const struct cfg_vmta *vm,
    const struct dom_policy *pol, uint64_t want, uint64_t now,
    uint64_t *wait)
{
	const struct rate *qr = q->mode == SM_BACKOFF ?
	    &pol->backoff_max_msg_rate : &pol->max_msg_rate;
	struct rate	 none = { 0, 0 };
	const struct rate *wr = &none;
	uint64_t	 w1, w2, w3, n, vol;
	unsigned	 day = sq_warm_day(q, vm, (time_t)(now / 1000000));

	if (day != 0 && day <= vm->warmup.ndays) {
		wr = &vm->warmup.rate[day - 1];
		vol = vm->warmup.volume[day - 1];
		if (vol > q->warm.sent && vol - q->warm.sent < want)
			want = vol - q->warm.sent;
	}
	n = min3(gcra_avail(&q->msg, qr, now, &w1),
	    gcra_avail(&v->msg, vm ? &vm->max_msg_rate : &none, now, &w2),
	    gcra_avail(&q->msg, wr, now, &w3));
	if (n > want)
		n = want;
	if (n == 0) {
		*wait = w1 > w2 ? w1 : w2;
		if (w3 > *wait)
			*wait = w3;
		return 0;
	}
	/*
	 * The queue's position moves by the stricter of its two rates (the
	 * warm-up day's and its own), so both hold.
	 */
	if (!unlimited(wr) && (unlimited(qr) ||
	    interval_us(wr) > interval_us(qr)))
		gcra_take(&q->msg, wr, now, n);
	else
		gcra_take(&q->msg, qr, now, n);
	if (vm != NULL)
		gcra_take(&v->msg, &vm->max_msg_rate, now, n);
	q->warm.sent += day != 0 ? n : 0;
	q->granted += n;
	return n;
}

/* slots - new connections for the queue, at most want */
static uint64_t
slots(struct squeue *q, struct svmta *v, const struct cfg_vmta *vm,
    const struct dom_policy *pol, uint64_t want, uint64_t now,
    uint64_t *wait)
{
	uint64_t max = q->mode == SM_BACKOFF ? pol->backoff_max_smtp_out :
	    pol->max_smtp_out;
	uint64_t qfree = q->conns < max ? max - q->conns : 0;
	uint64_t vfree = UINT64_MAX, n;

	if (vm != NULL && vm->max_smtp_out != 0)
		vfree = v->conns < vm->max_smtp_out ?
		    vm->max_smtp_out - v->conns : 0;
	n = min3(want, qfree, vfree);
	if (n == 0)
		return 0;
	n = min3(n, gcra_avail(&q->conn, &pol->max_connect_rate, now, wait),
	    UINT64_MAX);
	if (n == 0)
		return 0;
	gcra_take(&q->conn, &pol->max_connect_rate, now, n);
	q->conns += (unsigned)n;
	v->conns += (unsigned)n;
	return n;
}

static void
note_domain(struct squeue *q, const char *domain)
{
	unsigned i;

	if (domain[0] == '\0')
		return;
	for (i = 0; i < q->ndomains; i++)
		if (strcmp(q->domains[i], domain) == 0)
			return;
	if (q->ndomains < SQ_DOMAINS_MAX)
		tern_strlcpy(q->domains[q->ndomains++], domain,
		    sizeof(q->domains[0]));
}

/*
 * grant_ask - SHAPE_ASK {key, domain, want_conns, want_msgs}: answer
 * with a GRANT carrying the same request id.
 */
int
grant_ask(struct ipc_peer *p, struct ipc_msg *m)
{
	struct svmta	*v = p->arg;
	char		 key[SKEY_MAX + 1], domain[SKEY_MAX + 1], why[TEXT_MAX];
	uint32_t	 wc, wm;
	uint64_t	 now = now_us(), wait = 0, wait2 = 0, nc = 0, nm = 0;
	time_t		 until, tnow = (time_t)(now / 1000000);
	enum shold	 h;
	struct squeue	*q, none;
	const struct dom_policy *pol;
	const struct cfg_vmta *vm;

	if (v == NULL || ipc_get_str(m, key, sizeof(key)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_u32(m, &wc) == -1 || ipc_get_u32(m, &wm) == -1 ||
	    ipc_get_end(m) == -1 || key[0] == '\0')
		return -1;
	vm = config_vmta(sd.d.cfg, v->name);
	if ((q = sq_get(v->name, key, true)) == NULL) {
		/* The table is full: nothing, come back in a second. */
		memset(&none, 0, sizeof(none));
		why[0] = '\0';
		put_grant(p, m->hdr.reqid, key, domain, 0, 0, 1000, 1000, &none,
		    tnow, SH_NONE, 0, why);
		return 0;
	}
	q->used = tnow;
	note_domain(q, domain);
	pol = sq_policy(q);
	/*
	 * The hold the answer carries is the one before this grant: tokens
	 * that use up the day's warm-up volume are granted with no hold,
	 * the next ask learns of it.
	 */
	h = sq_hold(q, tnow, &until, why, sizeof(why));
	/* Out of warm-up volume: no tokens, but slots for those granted. */
	if ((h == SH_NONE || h == SH_WARMUP_VOLUME) &&
	    q->bounce_until <= tnow) {
		if (wm > 0 && h == SH_NONE)
			nm = tokens(q, v, vm, pol, wm > WANT_MAX ? WANT_MAX :
			    wm, now, &wait);
		if (wc > 0)
			nc = slots(q, v, vm, pol, wc > WANT_MAX ? WANT_MAX :
			    wc, now, &wait2);
		/* Separate waits: a full house must not hold up tokens. */
		if (wm > 0 && nm == 0 && wait == 0)
			wait = 1000000;
		if (nc == 0 && wc > 0 && wait2 == 0)
			wait2 = 250000;	/* a slot frees when one closes */
	}
	put_grant(p, m->hdr.reqid, key, domain, (uint32_t)nc, (uint32_t)nm,
	    (wait2 + 999) / 1000, (wait + 999) / 1000, q, tnow, h, until, why);
	return 0;
}

/* grant_conns - SHAPE_CONNS {key, n}: slots a deliverd still holds */
int
grant_conns(struct ipc_peer *p, struct ipc_msg *m)
{
	struct svmta	*v = p->arg;
	char		 key[SKEY_MAX + 1];
	uint32_t	 n;
	struct squeue	*q;

	if (v == NULL || ipc_get_str(m, key, sizeof(key)) == -1 ||
	    ipc_get_u32(m, &n) == -1 || ipc_get_end(m) == -1 ||
	    key[0] == '\0' || n > 1000000)
		return -1;
	if ((q = sq_get(v->name, key, true)) == NULL)
		return 0;
	q->conns += n;
	v->conns += n;
	return 0;
}

/* grant_release - SHAPE_RELEASE {key, n}: connections closed */
int
grant_release(struct ipc_peer *p, struct ipc_msg *m)
{
	struct svmta	*v = p->arg;
	char		 key[SKEY_MAX + 1];
	uint32_t	 n;
	struct squeue	*q;

	if (v == NULL || ipc_get_str(m, key, sizeof(key)) == -1 ||
	    ipc_get_u32(m, &n) == -1 || ipc_get_end(m) == -1)
		return -1;
	if ((q = sq_get(v->name, key, false)) == NULL)
		return 0;
	/* Never below zero, whatever the peer says. */
	n = n > q->conns ? q->conns : n;
	q->conns -= n;
	v->conns = v->conns > n ? v->conns - n : 0;
	return 0;
}

/* grant_peer_gone - a deliverd's connections died with it */
void
grant_peer_gone(struct ipc_peer *p)
{
	struct svmta	*v = p->arg;
	struct hmap_ent	*e;
	size_t		 it;

	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;) {
		struct squeue *q = e->val;

		if (strcmp(q->vmta, v->name) == 0)
			q->conns = 0;
	}
	v->conns = 0;
}
