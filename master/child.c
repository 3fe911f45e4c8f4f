/*
 * child.c - start, watch and restart the daemons.
 *
 * Purpose:      fork+exec each daemon with its fds in fixed places
 *               (3: link to ternd, 4: config memfd, 5..: listeners),
 *               restart one that dies with a throttle (at once if it ran
 *               for 1 s or more, else after a delay that doubles from
 *               100 ms to 30 s), stop them in order at shutdown (smtpd
 *               first, so queued is still there to commit the
 *               transactions smtpd finishes).  On reload each daemon
 *               gets the new configuration; smtpd first gets the TLS
 *               certificate and key files it can no longer read itself
 *               (tlsfiles.c).
 * Used by:      ternd.
 * Trust:        children may misbehave; their frames go through the
 *               dispatch table like any peer's.
 * Spool access: none.
 * See:          ternd(8).
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "ternd.h"

#define RESTART_MIN_MS	100
#define RESTART_MAX_MS	30000
#define STABLE_MS	1000

static int
on_config_reply(struct ipc_peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	char		 text[4200];

	if (ipc_get_str(m, text, sizeof(text)) == -1 || ipc_get_end(m) == -1)
		return -1;
	if (m->hdr.type == IPC_CHILD_CONFIG_OK)
		tern_strlcpy(c->hash, text, sizeof(c->hash));
	else
		log_warnx("%s refused the new configuration: %s", c->label,
		    text);
	return 0;
}

static const struct ipc_handler child_handlers[] = {
	{ IPC_CHILD_CONFIG_OK, RB(ROLE_SMTPD) | RB(ROLE_QUEUED) |
	    RB(ROLE_DELIVERD) | RB(ROLE_SHAPERD) | RB(ROLE_BOUNCD) |
	    RB(ROLE_DKIMD), IPC_FD_NO, on_config_reply },
	{ IPC_CHILD_CONFIG_FAIL, RB(ROLE_SMTPD) | RB(ROLE_QUEUED) |
	    RB(ROLE_DELIVERD) | RB(ROLE_SHAPERD) | RB(ROLE_BOUNCD) |
	    RB(ROLE_DKIMD), IPC_FD_NO, on_config_reply },
};

static void
link_closed(struct ipc_peer *p)
{
	struct child *c = p->arg;

	c->link = NULL;
}

/* place_fds - in the child: move fds into 3, 4, 5.. without clobbering */
static void
place_fds(int link, struct child *c)
{
	int	 tmp[66], n = 0, i;

	tmp[n++] = fcntl(link, F_DUPFD, 100);
	tmp[n++] = fcntl(td.memfd, F_DUPFD, 100);
	if (c->listeners)
		for (i = 0; i < (int)td.nlfds; i++)
			tmp[n++] = fcntl(td.lfds[i], F_DUPFD, 100);
	for (i = 0; i < n; i++) {
		if (tmp[i] == -1 || dup2(tmp[i], 3 + i) == -1)
			_exit(127);
		close(tmp[i]);
	}
}

static void
exec_child(int link, struct child *c)
{
	char	 path[1200], nfds[16];
	char	*argv[6];
	int	 argc = 0;

	place_fds(link, c);
	snprintf(nfds, sizeof(nfds), "%u", c->listeners ? td.nlfds : 0);
	setenv("TERN_MASTER", "1", 1);
	setenv("TERN_CONFIG_PATH", td.path, 1);
	setenv("TERN_LISTEN_FDS", nfds, 1);
	signal(SIGPIPE, SIG_DFL);
	/*
	 * The daemon drops to "user" itself, right after reading its
	 * configuration (daemon.c), like OpenSMTPD's re-executed roles:
	 * the binaries need not be reachable by that user.
	 */
	snprintf(path, sizeof(path), "%s/%s", td.libexec, c->name);
	argv[argc++] = (char *)c->name;
	if (c->vmta[0] != '\0') {
		argv[argc++] = "-V";
		argv[argc++] = c->vmta;
	}
	if (td.verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execv(path, argv);
	dprintf(STDERR_FILENO, "ternd: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* child_spawn - start one daemon */
void
child_spawn(struct child *c)
{
	int	 sp[2];
	pid_t	 pid;

	if (td.stopping || c->retired)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		close(sp[0]);
		exec_child(sp[1], c);
	}
	close(sp[1]);
	c->pid = pid;
	c->started_ms = now_ms();
	c->hash[0] = '\0';
	tern_strlcpy(c->hash, td.cfg->hash, sizeof(c->hash));
	c->link = ipc_peer_new(td.base, sp[0], false, child_handlers,
	    nitems(child_handlers), link_closed, c);
	c->link->role = c->role;
	log_info("started %s pid=%d", c->label, (int)pid);
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	child_spawn(arg);
}

/* child_reaped - a daemon exited: restart it with a throttle */
void
child_reaped(pid_t pid, int status)
{
	struct child	*c = NULL;
	struct timeval	 tv;
	unsigned	 i;
	uint64_t	 ran;

	for (i = 0; i < td.nchildren; i++)
		if (td.children[i]->pid == pid)
			c = td.children[i];
	if (c == NULL)
		return;
	c->pid = 0;
	if (c->link != NULL)
		ipc_peer_close(c->link);
	if (WIFSIGNALED(status))
		log_warnx("%s pid=%d killed by signal %d", c->label, (int)pid,
		    WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0 || !td.stopping)
		log_warnx("%s pid=%d exited with status %d", c->label,
		    (int)pid, WEXITSTATUS(status));
	if (td.stopping) {
		child_signal_next();
		return;
	}
	if (c->retired) {
		log_info("%s retired", c->label);
		return;
	}
	ran = now_ms() - c->started_ms;
	if (ran >= STABLE_MS)
		c->backoff_ms = RESTART_MIN_MS;
	else
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 :
		    RESTART_MIN_MS;
	if (c->backoff_ms > RESTART_MAX_MS)
		c->backoff_ms = RESTART_MAX_MS;
	c->restarts++;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (suseconds_t)(c->backoff_ms % 1000) * 1000;
	log_info("restarting %s in %u ms", c->label, c->backoff_ms);
	if (c->ev_restart == NULL)
		c->ev_restart = evtimer_new(td.base, restart_cb, c);
	evtimer_add(c->ev_restart, &tv);
}

/* child_send_config - hand a running daemon the new configuration */
void
child_send_config(struct child *c)
{
	struct ipc_out	 o;
	int		 fd;

	if (c->link == NULL || c->pid == 0)
		return;
	/* smtpd cannot read key files any more: ternd reads them. */
	if (c->role == ROLE_SMTPD)
		tlsfiles_send(c->link, td.cfg);
	if ((fd = fcntl(td.memfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("dup");
		return;
	}
	ipc_out_begin(&o, IPC_MASTER_CONFIG, 0);
	ipc_put_str(&o, td.path);
	ipc_send(c->link, &o, fd);
}

/*
 * child_signal_next - shutdown in stages: every child of the lowest
 * remaining stop_order gets SIGTERM; the next stage starts when they
 * have all exited.  When none is left, the loop ends.
 */
void
child_signal_next(void)
{
	unsigned i;
	int	 lowest = 1000;

	for (i = 0; i < td.nchildren; i++)
		if (td.children[i]->pid != 0 &&
		    td.children[i]->stop_order < lowest)
			lowest = td.children[i]->stop_order;
	if (lowest == 1000) {
		event_base_loopexit(td.base, NULL);
		return;
	}
	if (lowest <= td.stop_stage)
		return;			/* this stage is still running */
	td.stop_stage = lowest;
	for (i = 0; i < td.nchildren; i++)
		if (td.children[i]->pid != 0 &&
		    td.children[i]->stop_order == lowest) {
			log_info("stopping %s pid=%d", td.children[i]->label,
			    (int)td.children[i]->pid);
			if (kill(td.children[i]->pid, SIGTERM) == -1)
				log_warn("kill %s", td.children[i]->label);
		}
}

/*
 * child_restart - stop the running daemon called name; child_reaped
 * starts it again after the shortest delay (it counts as stable)
 */
void
child_restart(const char *name)
{
	unsigned i;

	for (i = 0; i < td.nchildren; i++) {
		struct child *c = td.children[i];

		if (strcmp(c->name, name) != 0 || c->retired || c->pid == 0)
			continue;
		log_info("restarting %s", c->label);
		c->started_ms = 0;
		if (kill(c->pid, SIGTERM) == -1)
			log_warn("kill %s", c->label);
	}
}

/* child_add - a new entry in the table (not started) */
struct child *
child_add(const char *name, enum ipc_role role, bool listeners,
    int stop_order, const char *vmta)
{
	struct child *c;

	td.children = xreallocarray(td.children, td.nchildren + 1,
	    sizeof(*td.children));
	c = td.children[td.nchildren++] = xcalloc(1, sizeof(*c));
	c->name = name;
	c->role = role;
	c->listeners = listeners;
	c->stop_order = stop_order;
	if (vmta != NULL) {
		tern_strlcpy(c->vmta, vmta, sizeof(c->vmta));
		snprintf(c->label, sizeof(c->label), "%s/%s", name, vmta);
	} else
		tern_strlcpy(c->label, name, sizeof(c->label));
	return c;
}

/*
 * child_sync_vmtas - one deliverd per virtual-mta: start those a reload
 * added, retire those it removed.  The table only grows; entries are
 * separately allocated, so pointers held by peers and timers stay valid.
 */
void
child_sync_vmtas(void)
{
	unsigned i, j, n = td.nchildren;

	for (i = 0; i < n; i++) {
		struct child *c = td.children[i];

		if (c->vmta[0] == '\0' || c->retired)
			continue;
		if (config_vmta(td.cfg, c->vmta) == NULL) {
			c->retired = true;
			if (c->pid != 0)
				kill(c->pid, SIGTERM);
		}
	}
	for (j = 0; j < td.cfg->nvmtas; j++) {
		const char *name = td.cfg->vmtas[j].name;
		bool found = false;

		for (i = 0; i < td.nchildren; i++)
			if (!td.children[i]->retired &&
			    strcmp(td.children[i]->vmta, name) == 0)
				found = true;
		if (!found)
			child_spawn(child_add("deliverd", ROLE_DELIVERD, false,
			    2, name));
	}
}
