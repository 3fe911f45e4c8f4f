/*
 * ternd.c - the supervisor: configuration, sockets, signals.
 *
 * Purpose:      ternd -f FILE runs in the foreground.  It validates the
 *               configuration, creates spool-dir, run-dir and log-dir,
 *               takes the pid-file lock (a stale pid file or socket from
 *               a killed ternd is simply taken over), binds the SMTP
 *               listeners (the one step that needs root), puts the
 *               validated bytes into a sealed memfd that every daemon
 *               parses, starts the daemons and supervises them.
 *               SIGHUP or "tern reload": validate the file again; a bad
 *               file changes nothing, a good one goes to every daemon.
 *               SIGTERM/SIGINT: stop smtpd (it finishes open
 *               transactions), then queued, then exit 0.
 * Used by:      ternd.
 * Trust:        reads only the administrator's file.
 * Spool access: creates the directories only.
 * See:          ternd(8).
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "ternd.h"

struct ternd td;

static void
find_libexec(void)
{
	char	 exe[1024], *dir;
	ssize_t	 n;
	const char *env = getenv("TERN_LIBEXEC");

	if (env != NULL) {
		tern_strlcpy(td.libexec, env, sizeof(td.libexec));
		return;
	}
	/* <prefix>/sbin/ternd -> <prefix>/libexec/tern (build tree too). */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	exe[n] = '\0';
	dir = dirname(exe);
	if (!bsnprintf(td.libexec, sizeof(td.libexec), "%s/../libexec/tern",
	    dir))
		fatalx("path too long");
}

static int
make_memfd(const char *buf, size_t len)
{
	int fd;

	if ((fd = memfd_create("tern.yaml", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return -1;
	if (write_all(fd, buf, len) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* load - read, validate; NULL and error text on failure */
static struct tern_config *
load(int *memfd, char **errtext)
{
	struct cfg_errors  err = { 0 };
	struct tern_config *cfg;
	struct buf	   b;
	char		  *buf;
	size_t		   len;
	unsigned	   i;

	*errtext = NULL;
	if ((buf = read_file(td.path, CFG_FILE_MAX, &len)) == NULL) {
		*errtext = xasprintf("%s: %s\n", td.path, strerror(errno));
		return NULL;
	}
	if ((cfg = config_load_buf(td.path, buf, len, &err)) == NULL) {
		buf_init(&b, 1 << 20);
		for (i = 0; i < err.n; i++)
			buf_printf(&b, "%s\n", err.msg[i]);
		if (err.dropped)
			buf_printf(&b, "(%u more errors)\n", err.dropped);
		*errtext = b.data;
		config_errors_free(&err);
		free(buf);
		return NULL;
	}
	if ((*memfd = make_memfd(buf, len)) == -1) {
		*errtext = xasprintf("memfd: %s\n", strerror(errno));
		config_free(cfg);
		cfg = NULL;
	}
	free(buf);
	return cfg;
}

static bool
listeners_changed(const struct tern_config *a, const struct tern_config *b)
{
	unsigned i;

	if (a->nlisteners != b->nlisteners)
		return true;
	for (i = 0; i < a->nlisteners; i++)
		if (strcmp(a->listeners[i].text, b->listeners[i].text) != 0)
			return true;
	return false;
}

/* ternd_reload - validate and distribute; 0, or -1 with *errtext */
int
ternd_reload(char **errtext)
{
	struct tern_config *cfg;
	int		   fd;
	unsigned	   i;
	bool		   dkim;

	if ((cfg = load(&fd, errtext)) == NULL) {
		char *line, *save = NULL, *copy = xstrdup(*errtext);

		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("reload: %s", line);
		free(copy);
		log_warnx("reload: %s is not valid; the running configuration "
		    "stays in force", td.path);
		return -1;
	}
	/* What the running daemons cannot switch: refuse, keep running. */
	if (strcmp(cfg->spool_dir, td.cfg->spool_dir) != 0 ||
	    strcmp(cfg->run_dir, td.cfg->run_dir) != 0 ||
	    strcmp(cfg->user ? cfg->user : "", td.cfg->user ?
	    td.cfg->user : "") != 0) {
		log_warnx("reload: %s: spool-dir, run-dir and user can only "
		    "change with a restart of ternd", td.path);
		*errtext = xasprintf("%s: spool-dir, run-dir and user can only "
		    "change with a restart of ternd\n", td.path);
		config_free(cfg);
		close(fd);
		return -1;
	}
	if (listeners_changed(td.cfg, cfg))
		log_warnx("reload: smtp-listener changes take effect when "
		    "ternd restarts");
	close(td.memfd);
	td.memfd = fd;
	/* dkimd reads keys only as root, at start: a new one reads them. */
	dkim = td.cfg->ndkeys > 0 || cfg->ndkeys > 0;
	config_free(td.cfg);
	td.cfg = cfg;
	log_info("reload: configuration %.12s loaded", cfg->hash);
	for (i = 0; i < td.nchildren; i++)
		child_send_config(td.children[i]);
	child_sync_vmtas();
	if (dkim)
		child_restart("dkimd");
	return 0;
}

static void
kill_all(evutil_socket_t fd, short what, void *arg)
{
	unsigned i;

	for (i = 0; i < td.nchildren; i++)
		if (td.children[i]->pid != 0) {
			log_warnx("%s did not stop in time; killing it",
			    td.children[i]->label);
			if (kill(td.children[i]->pid, SIGKILL) == -1)
				log_warn("kill %s", td.children[i]->label);
		}
}

/* ternd_stop - staged shutdown with a deadline */
void
ternd_stop(void)
{
	struct timeval tv = { (time_t)td.cfg->shutdown_timeout + 5, 0 };

	if (td.stopping)
		return;
	td.stopping = true;
	log_info("shutting down");
	/* New connections get refused at once instead of waiting. */
	{
		unsigned i;

		for (i = 0; i < td.nlfds; i++)
			close(td.lfds[i]);
		td.nlfds = 0;
	}
	td.ev_kill = evtimer_new(td.base, kill_all, NULL);
	evtimer_add(td.ev_kill, &tv);
	child_signal_next();
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	char	*err;
	int	 status;
	pid_t	 pid;

	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			child_reaped(pid, status);
		break;
	case SIGHUP:
		if (ternd_reload(&err) == -1)
			free(err);
		break;
	default:
		ternd_stop();
		break;
	}
}

/* pidfile_lock - hold an flock for our lifetime; stale files are ours */
static void
pidfile_lock(void)
{
	char	 path[512], buf[32];
	ssize_t	 n;

	if (!bsnprintf(path, sizeof(path), "%s/ternd.pid", td.cfg->run_dir))
		fatalx("run-dir too long");
	if ((td.pidfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		fatal("open %s", path);
	if (flock(td.pidfd, LOCK_EX | LOCK_NB) == -1) {
		n = pread(td.pidfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		fatalx("another ternd is running (pid %s) with run-dir %s",
		    str_trim(buf), td.cfg->run_dir);
	}
	if (ftruncate(td.pidfd, 0) == -1 ||
	    dprintf(td.pidfd, "%d\n", (int)getpid()) < 0)
		fatal("write %s", path);
}

static void
make_dir(const char *path, mode_t mode)
{
	if (mkdir_p(path, mode) == -1)
		fatal("mkdir %s", path);
	if (td.root && chown(path, td.uid, td.gid) == -1)
		fatal("chown %s", path);
}

/* bind_listeners - with a few retries: an old smtpd may still hold one */
static void
bind_listeners(void)
{
	unsigned i, tries;
	int	 fd, one = 1;

	for (i = 0; i < td.cfg->nlisteners; i++) {
		struct cfg_addr *a = &td.cfg->listeners[i].addr;

		if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			fatal("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		for (tries = 0; bind(fd, (struct sockaddr *)&a->ss,
		    a->len) == -1; tries++) {
			if (errno != EADDRINUSE || tries == 50)
				fatal("bind %s", td.cfg->listeners[i].text);
			usleep(200000);
		}
		if (listen(fd, 511) == -1)
			fatal("listen %s", td.cfg->listeners[i].text);
		td.lfds[td.nlfds++] = fd;
	}
}

static void
setup_children(void)
{
	unsigned i;

	child_add("queued", ROLE_QUEUED, false, 3, NULL);
	child_add("shaperd", ROLE_SHAPERD, false, 3, NULL);
	child_add("smtpd", ROLE_SMTPD, true, 1, NULL);
	child_add("dkimd", ROLE_DKIMD, false, 4, NULL);
	child_add("bouncd", ROLE_BOUNCD, false, 2, NULL);
	for (i = 0; i < td.nchildren; i++)
		child_spawn(td.children[i]);
	child_sync_vmtas();
}

static void
usage(void)
{
	fprintf(stderr, "usage: ternd [-v] -f tern.yaml\n");
	exit(2);
}

int	ternd_main(int, char **);

int
ternd_main(int argc, char **argv)
{
	struct event	*ev[5];
	char		*err;
	int		 ch, i, sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct passwd	*pw;

	while ((ch = getopt(argc, argv, "f:v")) != -1) {
		switch (ch) {
		case 'f': td.path = xstrdup(optarg); break;
		case 'v': td.verbose++; break;
		default: usage();
		}
	}
	if (td.path == NULL)
		usage();
	log_init("ternd", td.verbose);
	signal(SIGPIPE, SIG_IGN);
	/* Certificates and keys must parse, at start and at every reload. */
	config_check_files = true;
	if ((td.cfg = load(&td.memfd, &err)) == NULL) {
		dprintf(STDERR_FILENO, "%s", err);
		fatalx("configuration not valid");
	}
	td.root = geteuid() == 0;
	if (td.root) {
		if (td.cfg->user == NULL || (pw = getpwnam(td.cfg->user)) ==
		    NULL)
			fatalx("started as root: \"user\" must name an "
			    "existing user");
		td.uid = pw->pw_uid;
		td.gid = pw->pw_gid;
	}
	find_libexec();
	make_dir(td.cfg->run_dir, 0755);
	make_dir(td.cfg->spool_dir, 0700);
	make_dir(td.cfg->log_dir, 0750);
	pidfile_lock();
	bind_listeners();
	td.started = time(NULL);
	td.stop_stage = -1;
	if ((td.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < (int)nitems(sigs); i++) {
		ev[i] = evsignal_new(td.base, sigs[i], on_signal, NULL);
		evsignal_add(ev[i], NULL);
	}
	ctl_init();
	log_info("ternd started, configuration %.12s, daemons from %s",
	    td.cfg->hash, td.libexec);
	setup_children();
	event_base_dispatch(td.base);
	log_info("stopped");
	return 0;
}
