/*
 * shape.c - deliverd's side of shaping: the link to shaperd.
 *
 * Purpose:      before a domain queue opens a connection it needs a slot,
 *               before a job starts a transaction it needs a token; both
 *               come from shaperd in batches (ASK -> GRANT), keyed by the
 *               queue's shaping key (the domain, or the rollup it belongs
 *               to).  A GRANT also carries the queue's state: its mode
 *               (results tell queued, which waits backoff-retry-after),
 *               a hold (paused, suspended, warm-up) whose jobs go back to
 *               queued to be offered again later, or a bounce.  Every
 *               finished job's outcome goes to shaperd, which matches the
 *               replies against its rules.  Without shaperd nothing new
 *               starts: tokens and slots are only ever granted by it.
 * Used by:      deliverd.
 * Trust:        shaperd's frames are checked field by field; counts are
 *               bounded.
 * Spool access: none.
 * See:          deliverd(8), shaperd(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "deliverd.h"

static void	ask_again(evutil_socket_t, short, void *);

static const char *
key_of(const struct dqueue *dq)
{
	return dq->skey[0] != '\0' ? dq->skey : dq->domain;
}

/* arm - the timer for the first wait still running, if any */
static void
arm(struct dqueue *dq, uint64_t now)
{
	uint64_t	 first = UINT64_MAX;
	struct timeval	 tv;

	if (dq->conns_after > now)
		first = dq->conns_after;
	if (dq->msgs_after > now && dq->msgs_after < first)
		first = dq->msgs_after;
	if (first == UINT64_MAX)
		return;
	tv.tv_sec = (time_t)((first - now) / 1000);
	tv.tv_usec = (suseconds_t)((first - now) % 1000) * 1000;
	if (dq->ev_ask == NULL)
		dq->ev_ask = evtimer_new(dd.d.base, ask_again, dq);
	evtimer_add(dq->ev_ask, &tv);
}

/*
 * shape_ask - ask for slots and tokens, one ASK out at a time; a kind
 * shaperd said to wait for is left out until then (the other still goes:
 * all connections busy must not stop the tokens for them), and the
 * timer brings us back when the wait ends
 */
void
shape_ask(struct dqueue *dq, unsigned conns, unsigned msgs)
{
	struct ipc_out	 o;
	uint64_t	 now = now_ms();

	if (now < dq->conns_after || now < dq->msgs_after)
		arm(dq, now);
	if (now < dq->conns_after)
		conns = 0;
	if (now < dq->msgs_after)
		msgs = 0;
	if (dd.shaper == NULL || dq->asking || (conns == 0 && msgs == 0))
		return;
	dq->asking = true;
	dq->asked_conns = conns > ASK_CONNS_MAX ? ASK_CONNS_MAX : conns;
	dq->asked_msgs = msgs > ASK_MSGS_MAX ? ASK_MSGS_MAX : msgs;
	ipc_out_begin(&o, IPC_SHAPE_ASK, 0);
	ipc_put_str(&o, key_of(dq));
	ipc_put_str(&o, dq->domain);
	ipc_put_u32(&o, dq->asked_conns);
	ipc_put_u32(&o, dq->asked_msgs);
	ipc_send(dd.shaper, &o, -1);
}

/* ask_later - what shaperd refused waits as long as it said */
static void
ask_later(struct dqueue *dq, uint32_t wait_conns, uint32_t wait_msgs)
{
	uint64_t now = now_ms();

	if (dq->asked_conns > 0 && wait_conns > 0)
		dq->conns_after = now + wait_conns;
	if (dq->asked_msgs > 0 && wait_msgs > 0)
		dq->msgs_after = now + wait_msgs;
	arm(dq, now);
}

/* shape_release - n connections under key closed */
void
shape_release(const char *key, unsigned n)
{
	struct ipc_out o;

	if (dd.shaper == NULL || n == 0)
		return;
	ipc_out_begin(&o, IPC_SHAPE_RELEASE, 0);
	ipc_put_str(&o, key);
	ipc_put_u32(&o, n);
	ipc_send(dd.shaper, &o, -1);
}

/*
 * shape_outcome - a finished job: counts per outcome and the first reply
 * that was not a success, for shaperd's rules and counters.
 */
void
shape_outcome(struct job *j)
{
	struct ipc_out	 o;
	uint32_t	 n[3] = { 0, 0, 0 };
	const char	*reply = "";
	unsigned	 i;

	if (dd.shaper == NULL || j->dq == NULL || j->local)
		return;
	for (i = 0; i < j->nrcpt; i++) {
		char oc = j->r[i].outcome;

		n[oc == 'D' ? 0 : oc == 'T' ? 1 : 2]++;
		if (oc != 'D' && reply[0] == '\0' && j->r[i].diag != NULL)
			reply = j->r[i].diag;
	}
	ipc_out_begin(&o, IPC_SHAPE_OUTCOME, 0);
	ipc_put_str(&o, dd.vmta);
	ipc_put_str(&o, j->skey[0] ? j->skey : key_of(j->dq));
	ipc_put_str(&o, j->dq->domain);
	ipc_put_u32(&o, n[0]);
	ipc_put_u32(&o, n[1]);
	ipc_put_u32(&o, n[2]);
	ipc_put_u32(&o, 0);
	ipc_put_str(&o, reply);
	ipc_send(dd.shaper, &o, -1);
}

/*
 * dq_hold_all - the queue is held: its jobs go back to queued, which
 * offers them again at hold_until without counting an attempt.
 */
void
dq_hold_all(struct dqueue *dq)
{
	struct ipc_out	 o;
	struct job	*j;

	while ((j = dq_take_any(dq)) != NULL) {
		if (dd.queued != NULL && j->link_gen == dd.link_gen) {
			ipc_out_begin(&o, IPC_DELIVERD_HELD, j->id);
			ipc_put_u64(&o, (uint64_t)dq->hold_until);
			ipc_put_str(&o, dq->stext);
			/* Warm-up overflow may go to another pool member. */
			ipc_put_u8(&o, dq->hold == HOLD_WARMUP_VOLUME &&
			    dd.vm->warmup.overflow_pool ? 1 : 0);
			ipc_send(dd.queued, &o, -1);
		}
		job_drop(j);
	}
	session_disconnect(dq);
}

/*
 * shape_gate - whether the queue's jobs may go on now; a held queue
 * hands them back, a bouncing one fails them.
 */
bool
shape_gate(struct dqueue *dq)
{
	time_t now = time(NULL);

	if (dd.shaper == NULL)
		return false;
	/*
	 * A warm-up volume hold only means no more tokens: the ones held
	 * were granted within the day's volume and are used first.
	 */
	if (dq->hold != 0 && dq->hold_until > now &&
	    (dq->hold != HOLD_WARMUP_VOLUME || dq->tokens == 0)) {
		dq_hold_all(dq);
		return false;
	}
	if (dq->bounce_until > now) {
		dq_fail_local(dq, 'B', "5.0.0", dq->stext);
		return false;
	}
	return true;
}

/* apply_state - mode, hold and bounce from a GRANT */
static int
apply_state(struct ipc_msg *m, struct dqueue *dq, uint32_t *wait_ms)
{
	uint8_t		 mode, hold;
	uint64_t	 until, bounce;
	char		 text[HOLD_TEXT_MAX];

	if (ipc_get_u32(m, wait_ms) == -1 || ipc_get_u8(m, &mode) == -1 ||
	    ipc_get_u8(m, &hold) == -1 || ipc_get_u64(m, &until) == -1 ||
	    ipc_get_u64(m, &bounce) == -1 ||
	    ipc_get_str(m, text, sizeof(text)) == -1 ||
	    ipc_get_end(m) == -1 || mode > 1 || hold > 4)
		return -1;
	if (dq == NULL)
		return 0;
	dq->mode = mode;
	dq->hold = hold;
	dq->hold_until = hold ? (time_t)until : 0;
	dq->bounce_until = (time_t)bounce;
	tern_strlcpy(dq->stext, text, sizeof(dq->stext));
	return 0;
}

/*
 * on_grant - GRANT {key, domain, conns, msgs, state}: for one domain
 * queue (an answer), or with no domain for every queue under the key
 * (shaperd's news: a mode change, a hold, a resume).
 */
static int
on_grant(struct ipc_peer *p, struct ipc_msg *m)
{
	char		 key[SKEY_MAX + 1], domain[MAILADDR_DOMAIN_MAX + 1];
	uint32_t	 conns, msgs, wait_ms, wait_conns;
	struct dqueue	*dq;
	struct hmap_ent	*e;
	size_t		 it;
	size_t		 save;

	if (ipc_get_str(m, key, sizeof(key)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_u32(m, &conns) == -1 || ipc_get_u32(m, &msgs) == -1 ||
	    ipc_get_u32(m, &wait_conns) == -1 ||
	    conns > 10000 || msgs > 10000)
		return -1;
	if (domain[0] != '\0') {
		dq = hmap_get(&dd.dqueues, domain);
		if (apply_state(m, dq, &wait_ms) == -1)
			return -1;
		if (dq == NULL)
			return 0;	/* released on its own: see below */
		dq->asking = false;
		dq->slots += conns;
		dq->tokens += msgs;
		/* What was refused waits as told (20 ms when not told). */
		ask_later(dq, conns == 0 ? (wait_conns ? wait_conns : 20) : 0,
		    msgs == 0 ? (wait_ms ? wait_ms : 20) : 0);
		dq_kick(dq);
		return 0;
	}
	/* News for every domain queue under the key. */
	save = m->pos;
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;) {
		dq = e->val;
		if (strcmp(key_of(dq), key) != 0)
			continue;
		m->pos = save;
		if (apply_state(m, dq, &wait_ms) == -1)
			return -1;
		if (dq->ev_ask != NULL)
			evtimer_del(dq->ev_ask);
		dq->conns_after = dq->msgs_after = 0;
		dq_kick(dq);
	}
	m->pos = save;
	return apply_state(m, NULL, &wait_ms);
}

/* on_disconnect - DISCONNECT {key}: connections close after their job */
static int
on_disconnect(struct ipc_peer *p, struct ipc_msg *m)
{
	char		 key[SKEY_MAX + 1];
	struct hmap_ent	*e;
	size_t		 it;

	if (ipc_get_str(m, key, sizeof(key)) == -1 || ipc_get_end(m) == -1)
		return -1;
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;)
		if (strcmp(key_of(e->val), key) == 0)
			session_disconnect(e->val);
	return 0;
}

/*
 * on_hello_ok - say who we are and which connections we hold (after a
 * restart of shaperd), then let every queue ask.
 */
static int
on_hello_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	struct ipc_out	 o;
	struct hmap_ent	*e;
	size_t		 it;
	uint32_t	 pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	dd.sl.ms = 0;
	ipc_out_begin(&o, IPC_SHAPE_VMTA, 0);
	ipc_put_str(&o, dd.vmta);
	ipc_send(p, &o, -1);
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;) {
		struct dqueue *dq = e->val;

		dq->slots = dq->nsessions;
		if (dq->nsessions > 0) {
			ipc_out_begin(&o, IPC_SHAPE_CONNS, 0);
			ipc_put_str(&o, key_of(dq));
			ipc_put_u32(&o, dq->nsessions);
			ipc_send(p, &o, -1);
		}
	}
	log_info("connected to shaperd pid=%u", pid);
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;)
		dq_kick(e->val);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_SHAPERD), IPC_FD_NO, on_hello_ok },
	{ IPC_SHAPE_GRANT, RB(ROLE_SHAPERD), IPC_FD_NO, on_grant },
	{ IPC_SHAPE_DISCONNECT, RB(ROLE_SHAPERD), IPC_FD_NO, on_disconnect },
};

/* shaper_down - the link went: what shaperd granted goes with it */
static void
shaper_down(bool was_up)
{
	struct hmap_ent	*e;
	size_t		 it;

	if (!was_up)
		return;
	/*
	 * Answers that will not come: forget the asks.  Unused tokens go
	 * too, so that nothing starts until a new shaperd says so.
	 */
	for (e = NULL; (e = hmap_next(&dd.dqueues, e, &it)) != NULL;) {
		struct dqueue *dq = e->val;

		dq->asking = false;
		dq->tokens = 0;
		dq->conns_after = dq->msgs_after = 0;
		if (dq->ev_ask != NULL)
			evtimer_del(dq->ev_ask);
	}
	if (!dd.d.stopping)
		log_warnx("lost the link to shaperd; nothing new starts until "
		    "it is back");
}

void
shape_init(void)
{
	dd.sl = (struct ipc_link){ .peer = &dd.shaper, .sock = "shaperd.sock",
	    .self = ROLE_DELIVERD, .role = ROLE_SHAPERD, .table = handlers,
	    .ntable = nitems(handlers), .down = shaper_down };
	daemon_link(&dd.d, &dd.sl);
}

static void
ask_again(evutil_socket_t fd, short what, void *arg)
{
	dq_kick(arg);
}
