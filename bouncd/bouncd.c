/*
 * bouncd.c - the bounce and feedback-loop processor: the daemon.
 *
 * Purpose:      ternd starts one bouncd.  It connects to queued as the
 *               "deliverd" of the reserved VirtualMTA #bouncd: queued
 *               routes every recipient that is a bounce-processor or
 *               feedback-loop-processor address there, and hands bouncd
 *               each such message as a job (process.c).  It connects to
 *               shaperd to report complaints, serves run-dir/bouncd.sock
 *               for tern (ctl.c: the suppression commands), owns the
 *               suppression list (the only writer; expired entries are
 *               purged hourly) and posts the event outbox to the
 *               event-hooks (hooks.c).
 * Used by:      bouncd.
 * Trust:        see bouncd.h.
 * Spool access: see bouncd.h.
 * See:          bouncd(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bouncd.h"
#include "log.h"

struct bouncd bd;

/* --- queued: jobs in, results out (a link, see daemon.h) --------------- */

static int
on_queued_hello(struct ipc_peer *p, struct ipc_msg *m)
{
	struct ipc_out	 o;
	uint32_t	 pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	bd.ql.ms = 0;
	ipc_out_begin(&o, IPC_DELIVERD_READY, 0);
	ipc_put_str(&o, BOUNCD_VMTA);
	ipc_send(p, &o, -1);
	log_info("connected to queued pid=%u", pid);
	return 0;
}

static const struct ipc_handler queued_handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_QUEUED), IPC_FD_NO, on_queued_hello },
	{ IPC_QUEUED_JOB, RB(ROLE_QUEUED), IPC_FD_YES, bouncd_on_job },
	{ IPC_QUEUED_SUPPRESS, RB(ROLE_QUEUED), IPC_FD_NO, bouncd_on_suppress },
};

/* --- shaperd: complaints ------------------------------------------------ */

static int
on_shaperd_hello(struct ipc_peer *p, struct ipc_msg *m)
{
	uint32_t pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	bd.sl.ms = 0;
	return 0;
}

static const struct ipc_handler shaperd_handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_SHAPERD), IPC_FD_NO, on_shaperd_hello },
};

/*
 * complaint_to_shaperd - a complaint counts against the queue of the
 * VirtualMTA it came through (the warm-up guard's complaint rate).
 * Without a VirtualMTA (no VERP) there is no queue to charge.
 */
void
complaint_to_shaperd(const struct tie *t)
{
	struct ipc_out	 o;
	const char	*dom = strrchr(t->rcpt, '@');

	if (bd.shaperd == NULL || t->vmta[0] == '\0' || dom == NULL ||
	    config_vmta(bd.d.cfg, t->vmta) == NULL)
		return;
	ipc_out_begin(&o, IPC_SHAPE_OUTCOME, 0);
	ipc_put_str(&o, t->vmta);
	ipc_put_str(&o, dom + 1);
	ipc_put_str(&o, dom + 1);
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 1);
	ipc_put_str(&o, "");
	ipc_send(bd.shaperd, &o, -1);
}

/* --- tern --------------------------------------------------------------- */

static const struct ipc_handler ctl_handlers[] = {
	{ IPC_CTL_REQUEST, RB(ROLE_CTL), IPC_FD_NO, bouncd_ctl },
};

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ipc_peer	*p;
	int		 fd;

	if ((fd = ipc_accept(lfd)) == -1)
		return;
	p = ipc_peer_new(bd.d.base, fd, true, ctl_handlers,
	    nitems(ctl_handlers), NULL, NULL);
	p->accept_roles = RB(ROLE_CTL);
}

/* --- housekeeping, reload, stop ---------------------------------------- */

static void
supp_retry(void)
{
	const char *why = NULL;

	if (bd.supp != NULL)
		return;
	if ((bd.supp = supp_open(bd.d.cfg->spool_dir, true, &why)) == NULL)
		log_warnx("suppression list: %s", why ? why : "cannot open");
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	static unsigned n;
	unsigned	 purged;

	supp_retry();
	if (bd.supp != NULL && n++ % 3600 == 0 &&
	    (purged = supp_purge_expired(bd.supp, (uint64_t)time(NULL))) > 0)
		log_info("suppression list: %u expired entries removed", purged);
}

static int
bouncd_reload(struct tern_config *cfg, const char **why)
{
	struct bcat_table *t;
	const char	  *err = NULL;

	if ((t = bcat_compile(cfg, &err)) == NULL) {
		*why = err ? err : "bounce-category-patterns do not compile";
		return -1;
	}
	bcat_free(bd.bcat);
	bd.bcat = t;
	hooks_reload(cfg);
	return 0;
}

static void
bouncd_stop(void)
{
	if (bd.ev_listen != NULL)
		event_del(bd.ev_listen);
	hooks_stop();
	daemon_exit_soon(&bd.d, 50);
}

static void
listen_sock(void)
{
	char path[512];

	if (!bsnprintf(path, sizeof(path), "%s/bouncd.sock", bd.d.cfg->run_dir))
		fatalx("run-dir too long");
	if ((bd.listen_fd = ipc_listen_unix(path, 0660)) == -1)
		fatal("listen %s", path);
	bd.ev_listen = event_new(bd.d.base, bd.listen_fd, EV_READ | EV_PERSIST,
	    on_accept, NULL);
	event_add(bd.ev_listen, NULL);
}

int	bouncd_main(int, char **);

int
bouncd_main(int argc, char **argv)
{
	struct timeval	 one = { 1, 0 };
	const char	*err = NULL;

	bd.d.name = "bouncd";
	bd.d.role = ROLE_BOUNCD;
	bd.d.reload = bouncd_reload;
	bd.d.shutdown = bouncd_stop;
	bd.spool_fd = -1;
	bd.listen_fd = -1;
	daemon_init(&bd.d, argc, argv);
	if ((bd.bcat = bcat_compile(bd.d.cfg, &err)) == NULL)
		fatalx("bounce-category-patterns: %s", err ? err : "invalid");
	if ((bd.spool_fd = open(bd.d.cfg->spool_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", bd.d.cfg->spool_dir);
	supp_retry();
	listen_sock();
	if (hooks_init(bd.d.base, bd.spool_fd, bd.d.cfg) == -1)
		log_warnx("event-hooks: not started");
	/* Jobs are answered at once: a lost link leaves nothing behind. */
	bd.ql = (struct ipc_link){ .peer = &bd.queued, .sock = "queued.sock",
	    .self = ROLE_BOUNCD, .role = ROLE_QUEUED, .table = queued_handlers,
	    .ntable = nitems(queued_handlers) };
	bd.sl = (struct ipc_link){ .peer = &bd.shaperd, .sock = "shaperd.sock",
	    .self = ROLE_BOUNCD, .role = ROLE_SHAPERD,
	    .table = shaperd_handlers, .ntable = nitems(shaperd_handlers) };
	daemon_link(&bd.d, &bd.ql);
	daemon_link(&bd.d, &bd.sl);
	bd.ev_tick = event_new(bd.d.base, -1, EV_PERSIST, tick, NULL);
	event_add(bd.ev_tick, &one);
	log_info("ready: %s%s%s", bd.d.cfg->bounce_proc_set ?
	    "bounce-processor " : "", bd.d.cfg->fbl_proc_set ?
	    "feedback-loop-processor " : "", bd.supp ? "suppression" : "");
	daemon_run(&bd.d);
	log_info("exiting: %llu messages, %llu bounces, %llu complaints, "
	    "%llu unreadable, %llu suppressed",
	    (unsigned long long)bd.n_msgs, (unsigned long long)bd.n_dsn,
	    (unsigned long long)bd.n_arf, (unsigned long long)bd.n_unparsed,
	    (unsigned long long)bd.n_suppressed);
	if (bd.supp != NULL)
		supp_close(bd.supp);
	bcat_free(bd.bcat);
	return 0;
}
