/*
 * shaperd.c - the traffic shaper: socket, peers, queues, tick, reload.
 *
 * Purpose:      ternd starts one shaperd.  It serves run-dir/shaperd.sock
 *               to the deliverds, which ask it for connection slots and
 *               message-rate tokens before they open a connection or
 *               start a transaction, and report every outcome; and to
 *               tern(1) for the shaping commands.  A deliverd that has
 *               no shaperd sends nothing new: delivery pauses, it never
 *               runs unshaped.  Every second the tick ends backoffs and
 *               suspensions that are due; every 2 s a changed state goes
 *               to the LMDB snapshot, so modes, pauses and warm-up
 *               counters survive a restart.
 * Used by:      shaperd.
 * Trust:        peers are checked at HELLO (uid) and frame by frame.
 * Spool access: none (its own snapshot only).
 * See:          shaperd(8).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shaperd.h"

struct shaperd sd;

uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
sq_dirty(void)
{
	sd.dirty = true;
}

struct svmta *
sv_get(const char *vmta)
{
	struct svmta *v;

	if ((v = hmap_get(&sd.vmtas, vmta)) != NULL)
		return v;
	v = xcalloc(1, sizeof(*v));
	tern_strlcpy(v->name, vmta, sizeof(v->name));
	hmap_put(&sd.vmtas, v->name, v);
	return v;
}

/* sq_get - the queue KEY/VMTA; NULL when absent (or the table is full) */
struct squeue *
sq_get(const char *vmta, const char *key, bool create)
{
	char		 name[SQNAME_MAX + 1];
	struct squeue	*q;

	if (!bsnprintf(name, sizeof(name), "%s/%s", key, vmta))
		return NULL;
	if ((q = hmap_get(&sd.queues, name)) != NULL || !create)
		return q;
	if (sd.queues.count >= SQ_MAX) {
		log_warnx("%s: %d shaping queues already; refused", name,
		    SQ_MAX);
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	tern_strlcpy(q->name, name, sizeof(q->name));
	tern_strlcpy(q->key, key, sizeof(q->key));
	tern_strlcpy(q->vmta, vmta, sizeof(q->vmta));
	q->mode_since = time(NULL);
	q->used = q->mode_since;
	hmap_put(&sd.queues, q->name, q);
	return q;
}

/*
 * sq_policy - the queue's effective settings in the config in force,
 * looked up again only after a reload (every ask and outcome needs them)
 */
const struct dom_policy *
sq_policy(struct squeue *q)
{
	if (q->pol_gen != sd.d.cfg_gen) {
		config_queue_policy(sd.d.cfg, config_vmta(sd.d.cfg, q->vmta),
		    q->key, &q->pol);
		q->pol_gen = sd.d.cfg_gen;
	}
	return &q->pol;
}

/*
 * sq_push - tell the queue's deliverd its new state at once (mode, hold,
 * bounce): a GRANT with nothing granted and request id 0.
 */
void
sq_push(struct squeue *q)
{
	struct svmta	*v = hmap_get(&sd.vmtas, q->vmta);
	struct ipc_out	 o;
	uint64_t	 wait_ms = 0;

	sq_dirty();
	if (v == NULL || v->peer == NULL)
		return;
	ipc_out_begin(&o, IPC_SHAPE_GRANT, 0);
	ipc_put_str(&o, q->key);
	ipc_put_str(&o, "");
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0);
	grant_state(&o, q, time(NULL), &wait_ms);
	ipc_send(v->peer, &o, -1);
}

/* --- peers ------------------------------------------------------------- */

/* on_vmta - a deliverd says which VirtualMTA it delivers for */
static int
on_vmta(struct ipc_peer *p, struct ipc_msg *m)
{
	char		 name[CFG_NAME_MAX + 1];
	struct svmta	*v;

	if (ipc_get_str(m, name, sizeof(name)) == -1 ||
	    ipc_get_end(m) == -1 || !config_name_ok(name) || p->arg != NULL)
		return -1;
	if (config_vmta(sd.d.cfg, name) == NULL) {
		log_warnx("deliverd for unknown virtual-mta %s", name);
		return -1;
	}
	v = sv_get(name);
	if (v->peer != NULL) {
		log_warnx("a second deliverd for virtual-mta %s", name);
		return -1;
	}
	v->peer = p;
	p->arg = v;
	log_info("deliverd for %s connected", name);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_SHAPE_VMTA, RB(ROLE_DELIVERD), IPC_FD_NO, on_vmta },
	{ IPC_SHAPE_CONNS, RB(ROLE_DELIVERD), IPC_FD_NO, grant_conns },
	{ IPC_SHAPE_ASK, RB(ROLE_DELIVERD), IPC_FD_NO, grant_ask },
	{ IPC_SHAPE_RELEASE, RB(ROLE_DELIVERD), IPC_FD_NO, grant_release },
	{ IPC_SHAPE_OUTCOME, RB(ROLE_DELIVERD) | RB(ROLE_BOUNCD), IPC_FD_NO,
	    rules_outcome },
	{ IPC_CTL_REQUEST, RB(ROLE_CTL), IPC_FD_NO, ctl_request },
};

static void
peer_closed(struct ipc_peer *p)
{
	struct svmta *v = p->arg;

	if (v == NULL)
		return;
	log_info("deliverd for %s went away", v->name);
	grant_peer_gone(p);
	v->peer = NULL;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ipc_peer	*p;
	int		 fd;

	if ((fd = ipc_accept(lfd)) == -1)
		return;
	p = ipc_peer_new(sd.d.base, fd, true, handlers, nitems(handlers),
	    peer_closed, NULL);
	p->accept_roles = RB(ROLE_DELIVERD) | RB(ROLE_CTL) | RB(ROLE_BOUNCD);
}

/* --- tick -------------------------------------------------------------- */

/*
 * forgettable - nothing to keep: no connection, normal, not held, no
 * warm-up count, unused for an hour.  Keeps the table bounded.
 */
static bool
forgettable(const struct squeue *q, time_t now)
{
	return q->conns == 0 && q->mode == SM_NORMAL && !q->paused &&
	    q->suspend_until <= now && q->bounce_until <= now &&
	    q->warm.sent == 0 && !q->warm.paused && q->warm.shift == 0 &&
	    q->used + 3600 < now;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	time_t		 now = time(NULL);
	struct hmap_ent	*e, *next;
	size_t		 it;

	rules_tick(now);
	for (e = hmap_next(&sd.queues, NULL, &it); e != NULL; e = next) {
		struct squeue *q = e->val;

		next = hmap_next(&sd.queues, e, &it);
		if (forgettable(q, now)) {
			hmap_del(&sd.queues, q->name);
			free(q);
		}
	}
	if (sd.dirty && now - sd.saved >= 2)
		state_save();
}

/* --- reload, stop ------------------------------------------------------ */

/*
 * push_all - every queue's state to its deliverd, once the new
 * configuration is in force (the reload hook runs before the swap)
 */
static void
push_all(evutil_socket_t fd, short what, void *arg)
{
	struct hmap_ent	*e;
	size_t		 it;

	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;)
		sq_push(e->val);
}

static int
shaperd_reload(struct tern_config *cfg, const char **why)
{
	if (rules_compile(cfg) == -1) {
		*why = "smtp-pattern-lists do not compile";
		return -1;
	}
	/*
	 * New limits apply from the next grant; connections already open
	 * stay open.  A changed warm-up start date moves the day, so held
	 * queues are told to ask again.
	 */
	event_base_once(sd.d.base, -1, EV_TIMEOUT, push_all, NULL,
	    &(struct timeval){ 0, 0 });
	return 0;
}

static void
shaperd_stop(void)
{
	if (sd.ev_listen != NULL)
		event_del(sd.ev_listen);
	state_save();
	daemon_exit_soon(&sd.d, 10);
}

int	shaperd_main(int, char **);

int
shaperd_main(int argc, char **argv)
{
	char		 path[512];
	struct timeval	 one = { 1, 0 };

	sd.d.name = "shaperd";
	sd.d.role = ROLE_SHAPERD;
	sd.d.reload = shaperd_reload;
	sd.d.shutdown = shaperd_stop;
	daemon_init(&sd.d, argc, argv);
	sd.started = time(NULL);
	hmap_init(&sd.queues);
	hmap_init(&sd.vmtas);
	if (rules_compile(sd.d.cfg) == -1)
		fatalx("smtp-pattern-lists do not compile");
	if (state_open(sd.d.cfg->spool_dir) == 0) {
		sd.state_ok = true;
		state_load();
	}
	if (!bsnprintf(path, sizeof(path), "%s/shaperd.sock",
	    sd.d.cfg->run_dir))
		fatalx("run-dir too long");
	if ((sd.listen_fd = ipc_listen_unix(path, 0660)) == -1)
		fatal("listen %s", path);
	sd.ev_listen = event_new(sd.d.base, sd.listen_fd, EV_READ | EV_PERSIST,
	    on_accept, NULL);
	event_add(sd.ev_listen, NULL);
	sd.ev_tick = event_new(sd.d.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(sd.ev_tick, &one);
	log_info("shaping %zu queues from the snapshot", (size_t)sd.queues.count);
	daemon_run(&sd.d);
	state_close();
	rules_free();
	log_info("exiting");
	return 0;
}
