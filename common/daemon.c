/*
 * daemon.c - the skeleton every Tern daemon runs in.
 *
 * Purpose:      see daemon.h.
 * Used by:      smtpd, queued.
 * Trust:        see daemon.h.
 * Spool access: none.
 * See:          ternd(8).
 */
#include <sys/prctl.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

struct daemon *tern_daemon;

/* privsep_drop - become the configured user; verify it took */
int
privsep_drop(const char *user)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return 0;		/* unprivileged: nothing to drop */
	if (user == NULL || (pw = getpwnam(user)) == NULL) {
		log_warnx("user \"%s\" not found", user ? user : "(unset)");
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("dropping privileges to %s", user);
		return -1;
	}
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		fatalx("privileges not dropped");
	return 0;
}

static struct tern_config *
load_from_fd(int fd, const char *name, struct cfg_errors *err)
{
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	struct tern_config *cfg;
	off_t		 off = 0;

	buf_init(&b, CFG_FILE_MAX);
	buf_add(&b, "", 0);
	/* pread: the memfd is shared with ternd and every sibling. */
	while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
		off += n;
		if (buf_add(&b, chunk, (size_t)n) == -1) {
			buf_free(&b);
			err->msg[err->n++] = xstrdup("config too large");
			return NULL;
		}
	}
	cfg = config_load_buf(name, b.data, b.len, err);
	buf_free(&b);
	return cfg;
}

static void
apply(struct daemon *d, struct tern_config *cfg, uint64_t reqid)
{
	const char	*why = "refused";
	struct ipc_out	 o;
	int		 ok;

	ok = d->reload == NULL || d->reload(cfg, &why) == 0;
	if (ok) {
		config_free(d->cfg);
		d->cfg = cfg;
		d->cfg_gen++;
		log_info("configuration %.12s in force", cfg->hash);
	} else {
		log_warnx("new configuration refused: %s", why);
		config_free(cfg);
	}
	if (d->master == NULL)
		return;
	ipc_out_begin(&o, ok ? IPC_CHILD_CONFIG_OK : IPC_CHILD_CONFIG_FAIL,
	    reqid);
	ipc_put_str(&o, ok ? d->cfg->hash : why);
	ipc_send(d->master, &o, -1);
}

static int
on_master_config(struct ipc_peer *p, struct ipc_msg *m)
{
	struct daemon	  *d = p->arg;
	struct cfg_errors  err = { 0 };
	struct tern_config *cfg;
	char		   name[1024];
	int		   fd = m->fd;

	m->fd = -1;
	if (ipc_get_str(m, name, sizeof(name)) == -1 ||
	    ipc_get_end(m) == -1) {
		close(fd);
		return -1;
	}
	cfg = load_from_fd(fd, name, &err);
	close(fd);
	if (cfg == NULL) {
		struct ipc_out o;

		log_warnx("new configuration does not parse: %s",
		    err.n ? err.msg[0] : "?");
		ipc_out_begin(&o, IPC_CHILD_CONFIG_FAIL, m->hdr.reqid);
		ipc_put_str(&o, err.n ? err.msg[0] : "parse error");
		ipc_send(p, &o, -1);
		config_errors_free(&err);
		return 0;
	}
	apply(d, cfg, m->hdr.reqid);
	return 0;
}

static const struct ipc_handler master_handlers[] = {
	{ IPC_MASTER_CONFIG, RB(ROLE_MASTER), IPC_FD_YES, on_master_config },
};

static void	master_closed(struct ipc_peer *);

/* master_link - fd 3: the built-in frames plus the daemon's own */
static void
master_link(struct daemon *d)
{
	struct ipc_handler *t;
	size_t		    n = nitems(master_handlers) + d->nmaster_extra;

	t = xcalloc(n, sizeof(*t));	/* lives as long as the process */
	memcpy(t, master_handlers, sizeof(master_handlers));
	if (d->nmaster_extra > 0)
		memcpy(t + nitems(master_handlers), d->master_extra,
		    d->nmaster_extra * sizeof(*t));
	d->master = ipc_peer_new(d->base, 3, false, t, n, master_closed, d);
	d->master->role = ROLE_MASTER;
}

static void
master_closed(struct ipc_peer *p)
{
	struct daemon *d = p->arg;

	d->master = NULL;
	if (!d->stopping) {
		log_warnx("lost the link to ternd; stopping");
		d->stopping = true;
		if (d->shutdown)
			d->shutdown();
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	  *d = arg;
	struct cfg_errors  err = { 0 };
	struct tern_config *cfg;

	if (sig == SIGHUP) {
		if (d->master != NULL)
			return;		/* ternd sends configurations */
		if ((cfg = config_load_file(d->cfg->path, &err)) == NULL) {
			config_errors_print(&err, STDERR_FILENO);
			config_errors_free(&err);
			log_warnx("reload failed; keeping the running "
			    "configuration");
			return;
		}
		apply(d, cfg, 0);
		return;
	}
	if (d->stopping)
		return;
	log_info("stopping on signal %d", (int)sig);
	d->stopping = true;
	if (d->shutdown)
		d->shutdown();
}

static void
usage(const char *name)
{
	fprintf(stderr, "usage: %s [-v] -f config.yaml\n", name);
	exit(2);
}

/* daemon_init - config, logging, master link, signals */
void
daemon_init(struct daemon *d, int argc, char **argv)
{
	struct cfg_errors err = { 0 };
	const char	*file = NULL, *s;
	int		 ch, verbose = 0;
	unsigned	 i;

	tern_daemon = d;
	log_init(d->name, 0);
	while ((ch = getopt(argc, argv, "f:v")) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'v': verbose++; break;
		default: usage(d->name);
		}
	}
	log_init(d->name, verbose);
	signal(SIGPIPE, SIG_IGN);
	if ((s = getenv("TERN_MASTER")) != NULL && strcmp(s, "1") == 0) {
		const char *path = getenv("TERN_CONFIG_PATH");

		d->cfg = load_from_fd(4, path ? path : "tern.yaml", &err);
		d->cfg_gen = 1;
		close(4);
		if ((s = getenv("TERN_LISTEN_FDS")) != NULL) {
			uint64_t n;
			if (parse_u64(s, 0, nitems(d->listen_fds), &n) == 0)
				d->nlisten = (unsigned)n;
		}
		for (i = 0; i < d->nlisten; i++)
			d->listen_fds[i] = 5 + (int)i;
	} else {
		if (file == NULL)
			usage(d->name);
		d->cfg = config_load_file(file, &err);
		d->cfg_gen = 1;
	}
	if (d->cfg == NULL) {
		config_errors_print(&err, STDERR_FILENO);
		fatalx("configuration not loaded");
	}
	if (d->prejail != NULL)
		d->prejail(d, getenv("TERN_MASTER") != NULL);
	if (privsep_drop(d->cfg->user) == -1)
		fatalx("cannot drop privileges");
	/*
	 * Die with ternd even if the link is slow to say so (set after the
	 * drop: a change of credentials clears it).
	 */
	if (getenv("TERN_MASTER") != NULL) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			fatalx("ternd is gone");
	}
	if ((d->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	/* Three priorities: 0 urgent, 1 default, 2 batch work (commits). */
	event_base_priority_init(d->base, 3);
	if (getenv("TERN_MASTER") != NULL)
		master_link(d);
	d->ev_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	evsignal_add(d->ev_term, NULL);
	evsignal_add(d->ev_int, NULL);
	evsignal_add(d->ev_hup, NULL);
}

void
daemon_run(struct daemon *d)
{
	log_info("started, configuration %.12s", d->cfg->hash);
	event_base_dispatch(d->base);
}

static void
exit_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

/*
 * daemon_exit_soon - leave the event loop after ms: what the last pass
 * produced (replies, outcomes) is written first
 */
void
daemon_exit_soon(struct daemon *d, unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	event_base_once(d->base, -1, EV_TIMEOUT, exit_cb, d->base, &tv);
}

/* --- links to other daemons ------------------------------------------- */

static void	link_dial(evutil_socket_t, short, void *);

static void
link_later(struct ipc_link *l)
{
	if (!l->d->stopping)
		ipc_redial_later(l->d->base, &l->ev, &l->ms, link_dial, l);
}

static void
link_closed(struct ipc_peer *p)
{
	struct ipc_link *l = p->arg;

	*l->peer = NULL;
	if (l->down != NULL)
		l->down(true);
	link_later(l);
}

static void
link_dial(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_link *l = arg;

	if (*l->peer != NULL || l->d->stopping)
		return;
	*l->peer = ipc_dial(l->d->base, l->d->cfg->run_dir, l->sock, l->self,
	    l->role, l->table, l->ntable, link_closed, l);
	if (*l->peer == NULL) {
		if (l->down != NULL)
			l->down(false);
		link_later(l);
	} else if (l->up != NULL)
		l->up();
}

/* daemon_link - dial l now, and keep it up (see struct ipc_link) */
void
daemon_link(struct daemon *d, struct ipc_link *l)
{
	l->d = d;
	link_dial(-1, 0, l);
}
