/*
 * queued.c - the queue owner: socket, peers, reload, shutdown.
 *
 * Purpose:      recover the spool, then serve run-dir/queued.sock: smtpd
 *               (receive), tern (control), later deliverd.  Each peer is
 *               dispatched through a table of {type, roles, fd, handler};
 *               a peer that breaks the protocol is dropped, queued
 *               carries on.  SIGTERM: finish the commit batch, sync the
 *               index, exit 0.
 * Used by:      queued.
 * Trust:        see ipc.c; the socket is 0660 and uids are checked.
 * Spool access: read/write (the only writer).
 * See:          queued(8).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

struct queued qd;

static const struct ipc_handler handlers[] = {
	{ IPC_SMTPD_MSG_NEW, RB(ROLE_SMTPD), IPC_FD_NO, rx_new },
	{ IPC_SMTPD_MSG_RCPT, RB(ROLE_SMTPD), IPC_FD_NO, rx_rcpt },
	{ IPC_SMTPD_MSG_OPEN, RB(ROLE_SMTPD), IPC_FD_NO, rx_open },
	{ IPC_SMTPD_MSG_COMMIT, RB(ROLE_SMTPD), IPC_FD_NO, rx_commit },
	{ IPC_SMTPD_MSG_ABORT, RB(ROLE_SMTPD), IPC_FD_NO, rx_abort },
	{ IPC_SMTPD_SUPPRESSED, RB(ROLE_SMTPD), IPC_FD_NO, rx_suppressed },
	{ IPC_CTL_REQUEST, RB(ROLE_CTL), IPC_FD_NO, ctl_request },
	{ IPC_DELIVERD_READY, RB(ROLE_DELIVERD) | RB(ROLE_BOUNCD), IPC_FD_NO,
	    sched_ready },
	{ IPC_BOUNCD_RESULT, RB(ROLE_BOUNCD), IPC_FD_NO, sched_bouncd_result },
	{ IPC_DELIVERD_RESULT, RB(ROLE_DELIVERD), IPC_FD_NO, sched_result },
	{ IPC_DELIVERD_HELD, RB(ROLE_DELIVERD), IPC_FD_NO, sched_held },
};

static void
peer_closed(struct ipc_peer *p)
{
	if (p->role == ROLE_SMTPD)
		qd.n_smtpd--;
	rx_peer_gone(p);
	sched_peer_gone(p);
	free(p->arg);
}

static void
peer_hello(struct ipc_peer *p)
{
	if (p->role == ROLE_SMTPD)
		qd.n_smtpd++;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ipc_peer	  *p;
	struct peer_state *ps;
	int		   fd;

	if ((fd = ipc_accept(lfd)) == -1)
		return;
	ps = xcalloc(1, sizeof(*ps));
	TAILQ_INIT(&ps->rxs);
	TAILQ_INIT(&ps->jobs);
	p = ipc_peer_new(qd.d.base, fd, true, handlers, nitems(handlers),
	    peer_closed, ps);
	p->accept_roles = RB(ROLE_SMTPD) | RB(ROLE_CTL) | RB(ROLE_DELIVERD) |
	    RB(ROLE_BOUNCD);
	p->on_hello = peer_hello;
}

static void
reload_after(evutil_socket_t fd, short what, void *arg)
{
	sched_reload();
	acct_close();
	acct_open();
	qd.space_checked_ms = 0;	/* min-free-space may have changed */
}

static int
queued_reload(struct tern_config *cfg, const char **why)
{
	if (strcmp(cfg->spool_dir, qd.d.cfg->spool_dir) != 0 ||
	    strcmp(cfg->run_dir, qd.d.cfg->run_dir) != 0) {
		*why = "spool-dir and run-dir changes need a restart";
		return -1;
	}
	/* Applied after the swap: sched_reload reads qd.d.cfg. */
	event_base_once(qd.d.base, -1, EV_TIMEOUT, reload_after, NULL,
	    &(struct timeval){ 0, 0 });
	return 0;
}

static void
queued_stop(void)
{
	/* Pending commits and results still run: the exit waits 100 ms. */
	if (qd.ev_listen != NULL)
		event_del(qd.ev_listen);
	event_base_loopexit(qd.d.base, &(struct timeval){ 0, 100000 });
}

int	queued_main(int, char **);

int
queued_main(int argc, char **argv)
{
	char	 path[512];

	qd.d.name = "queued";
	qd.d.role = ROLE_QUEUED;
	qd.d.reload = queued_reload;
	qd.d.shutdown = queued_stop;
	daemon_init(&qd.d, argc, argv);
	qd.started = time(NULL);
	hmap_init(&qd.msgs);
	hmap_init(&qd.pool_rr);
	hmap_init(&qd.queues);
	umask(077);
	if (mkdir_p(qd.d.cfg->spool_dir, 0700) == -1)
		fatal("mkdir %s", qd.d.cfg->spool_dir);
	if ((qd.spool_fd = open(qd.d.cfg->spool_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", qd.d.cfg->spool_dir);
	commit_init();
	dkim_init();
	recycle_init();
	sched_init();
	acct_open();
	done_replay();
	recover_spool();
	if (mkdir_p(qd.d.cfg->run_dir, 0755) == -1)
		fatal("mkdir %s", qd.d.cfg->run_dir);
	if (!bsnprintf(path, sizeof(path), "%s/queued.sock",
	    qd.d.cfg->run_dir))
		fatalx("run-dir too long");
	if ((qd.listen_fd = ipc_listen_unix(path, 0660)) == -1)
		fatal("listen %s", path);
	qd.ev_listen = event_new(qd.d.base, qd.listen_fd, EV_READ | EV_PERSIST,
	    on_accept, NULL);
	event_add(qd.ev_listen, NULL);
	daemon_run(&qd.d);
	/* Commits still waiting for dkimd go unsigned, then the batch. */
	dkim_drain();
	if (qd.nbatch > 0)
		event_base_loop(qd.d.base, EVLOOP_NONBLOCK);
	acct_close();
	done_checkpoint(true);
	index_close();
	log_info("exiting");
	return 0;
}
