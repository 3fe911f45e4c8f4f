/*
 * dkimd.c - the DKIM signer: keys, jail, socket, peers, reload.
 *
 * Purpose:      ternd starts one dkimd.  In the prejail hook, still root,
 *               it reads the private keys of domain-keys, initialises
 *               libopendkim, binds run-dir/dkimd.sock, then shuts itself
 *               in: chroot to the empty run-dir/empty and drop to user
 *               (run unprivileged, as in the tests, it only drops core
 *               dumps and ptrace).  It then answers queued, which asks
 *               once per message at commit time: "here is a read-only
 *               descriptor on the queue file, the body's span, the
 *               selector and domain: give me the DKIM-Signature header".
 *               It opens no network socket and no file after the jail.
 *               A reload applies dkim-headers; new keys need a new
 *               process, which ternd starts on every reload that has
 *               domain-keys before or after (see dkimd(8)).
 * Used by:      dkimd.
 * Trust:        only queued may connect (role and uid checked at HELLO);
 *               each request is decoded exactly, the descriptor is
 *               checked to be a regular file and read only within the
 *               span; a failure is an answer, never a crash.
 * Spool access: none: descriptors from queued, read-only.
 * See:          dkimd(8).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dkimd.h"
#include "log.h"

struct dkimd dk;

/* clean_why - a reason fit for an IPC string and a log line */
static const char *
clean_why(const char *why, char *buf, size_t sz)
{
	size_t i;

	tern_strlcpy(buf, why, sz);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	return buf;
}

static void
reply(struct ipc_peer *p, uint64_t reqid, const struct buf *sig,
    const char *why)
{
	struct ipc_out	 o;
	char		 w[300];

	if (why == NULL) {
		ipc_out_begin(&o, IPC_DKIMD_SIGNED, reqid);
		ipc_put_blob(&o, sig->data, sig->len);
	} else {
		ipc_out_begin(&o, IPC_DKIMD_SIGN_FAIL, reqid);
		ipc_put_str(&o, clean_why(why, w, sizeof(w)));
	}
	ipc_send(p, &o, -1);
}

/* on_sign - str id, str selector, str domain, u64 offset, u64 length */
static int
on_sign(struct ipc_peer *p, struct ipc_msg *m)
{
	char			 id[SPOOL_ID_LEN + 1], sel[CFG_NAME_MAX + 1];
	char			 dom[MAILADDR_DOMAIN_MAX + 1];
	uint64_t		 off, len;
	int			 fd = m->fd;
	const struct dkey_mem	*k;
	const char		*why = NULL;
	struct buf		 sig;

	m->fd = -1;
	if (ipc_get_str(m, id, sizeof(id)) == -1 ||
	    ipc_get_str(m, sel, sizeof(sel)) == -1 ||
	    ipc_get_str(m, dom, sizeof(dom)) == -1 ||
	    ipc_get_u64(m, &off) == -1 || ipc_get_u64(m, &len) == -1 ||
	    ipc_get_end(m) == -1 || !spool_id_ok(id)) {
		close(fd);
		return -1;
	}
	buf_init(&sig, SPOOL_PREPEND_MAX);
	if ((k = keys_find(sel, dom)) == NULL)
		why = "dkimd has no key for this selector and domain";
	else if (sign_message(k, fd, off, len, id, &sig, &why) == 0)
		why = NULL;
	close(fd);
	if (why == NULL)
		dk.n_signed++;
	else {
		dk.n_failed++;
		log_debug("%s: no signature as %s._domainkey.%s: %s", id, sel,
		    dom, why);
	}
	reply(p, m->hdr.reqid, &sig, why);
	buf_free(&sig);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_QUEUED_DKIM_SIGN, RB(ROLE_QUEUED), IPC_FD_YES, on_sign },
};

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ipc_peer	*p;
	int		 fd;

	if ((fd = ipc_accept(lfd)) == -1)
		return;
	p = ipc_peer_new(dk.d.base, fd, true, handlers, nitems(handlers),
	    NULL, NULL);
	p->accept_roles = RB(ROLE_QUEUED);
}

/* --- before the privileges go -------------------------------------------- */

/* empty_dir - run-dir/empty: root's, mode 0555, for the chroot */
static int
empty_dir(const char *run_dir)
{
	char		 dir[512];
	struct stat	 st;
	int		 fd;

	if (!bsnprintf(dir, sizeof(dir), "%s/empty", run_dir))
		fatalx("run-dir too long");
	/* Not root's (the parent is user's): remove it; it must be empty. */
	if (lstat(dir, &st) == 0 && (!S_ISDIR(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & 0222) != 0) &&
	    (S_ISDIR(st.st_mode) ? rmdir(dir) : unlink(dir)) == -1)
		fatal("%s is not an empty directory of root's", dir);
	if (mkdir(dir, 0555) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("open %s", dir);
	if (fstat(fd, &st) == -1 || st.st_uid != 0 ||
	    (st.st_mode & 0222) != 0)
		fatalx("%s: not root's or writable", dir);
	return fd;
}

/* jail - chroot to an empty directory, then become user */
static void
jail(const struct tern_config *cfg, const struct passwd *pw)
{
	int fd = empty_dir(cfg->run_dir);

	if (fchdir(fd) == -1 || chroot(".") == -1 || chdir("/") == -1)
		fatal("chroot %s/empty", cfg->run_dir);
	close(fd);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("dropping privileges to %s", cfg->user);
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		fatalx("privileges not dropped");
}

/* listen_sock - run-dir/dkimd.sock, the user's (queued connects) */
static void
listen_sock(const struct tern_config *cfg, const struct passwd *pw)
{
	char path[512];

	if (!bsnprintf(path, sizeof(path), "%s/dkimd.sock", cfg->run_dir))
		fatalx("run-dir too long");
	if ((dk.listen_fd = ipc_listen_unix(path, 0660)) == -1)
		fatal("listen %s", path);
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == -1)
		fatal("chown %s", path);
}

/*
 * dkimd_prejail - keys, library, socket, then the jail.  Core dumps and
 * ptrace are off first (PR_SET_DUMPABLE 0): the keys are in memory.
 */
static void
dkimd_prejail(struct daemon *d, bool under_ternd)
{
	const struct tern_config *cfg = d->cfg;
	struct passwd	*pw = NULL;
	struct rlimit	 rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0) == -1 ||
	    setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("disabling core dumps");
	tzset();
	if (geteuid() == 0 && (cfg->user == NULL ||
	    (pw = getpwnam(cfg->user)) == NULL))
		fatalx("user \"%s\" not found", cfg->user ? cfg->user :
		    "(unset)");
	if (sign_init() == -1)
		fatalx("libopendkim: cannot initialise");
	if (sign_headers(cfg) == -1)
		fatalx("libopendkim refuses the dkim-headers list");
	keys_load(cfg);
	listen_sock(cfg, pw);
	if (pw != NULL)
		jail(cfg, pw);
}

/* --- reload, stop ------------------------------------------------------- */

static bool
keys_same(const struct tern_config *cfg)
{
	unsigned i, n = 0;

	for (i = 0; i < cfg->ndkeys; i++)
		if (keys_find(cfg->dkeys[i].selector, cfg->dkeys[i].domain) !=
		    NULL)
			n++;
	return n == cfg->ndkeys && n == dk.nkeys;
}

static int
dkimd_reload(struct tern_config *cfg, const char **why)
{
	if (sign_headers(cfg) == -1) {
		*why = "libopendkim refuses the dkim-headers list";
		return -1;
	}
	/* Key files are out of reach now: ternd starts a new dkimd. */
	if (!keys_same(cfg))
		log_info("domain-keys changed; the keys in use stay until "
		    "ternd starts a new dkimd");
	return 0;
}

static void
dkimd_stop(void)
{
	if (dk.ev_listen != NULL)
		event_del(dk.ev_listen);
	/* Answers already made still go out. */
	daemon_exit_soon(&dk.d, 50);
}

int	dkimd_main(int, char **);

int
dkimd_main(int argc, char **argv)
{
	dk.d.name = "dkimd";
	dk.d.role = ROLE_DKIMD;
	dk.d.reload = dkimd_reload;
	dk.d.shutdown = dkimd_stop;
	dk.d.prejail = dkimd_prejail;
	dk.listen_fd = -1;
	daemon_init(&dk.d, argc, argv);
	dk.ev_listen = event_new(dk.d.base, dk.listen_fd, EV_READ | EV_PERSIST,
	    on_accept, NULL);
	event_add(dk.ev_listen, NULL);
	log_info("%u signing keys, %u header fields signed", dk.nkeys,
	    dk.d.cfg->ndkim_headers);
	daemon_run(&dk.d);
	log_info("exiting: %llu messages signed, %llu not, %llu keys from "
	    "memory, %llu blocks left by libopendkim freed",
	    (unsigned long long)dk.n_signed, (unsigned long long)dk.n_failed,
	    (unsigned long long)dk.n_key_cached,
	    (unsigned long long)dk.n_swept);
	keys_free();
	dkim_close(dk.lib);
	return 0;
}
