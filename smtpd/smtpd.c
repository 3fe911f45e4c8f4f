/*
 * smtpd.c - the SMTP receiver: listeners, the queued link, shutdown.
 *
 * Purpose:      accept connections on the sockets ternd passed in (or
 *               bound here when run standalone), keep one IPC link to
 *               queued (reconnecting with backoff), route queued's
 *               replies to the waiting session by request id, and stop
 *               gracefully: stop accepting, let open transactions finish,
 *               exit when the last session is gone or the shutdown
 *               timeout passes.  Before the privileges are dropped, the
 *               TLS certificates and keys are read (tls.c).
 * Used by:      smtpd.
 * Trust:        replies from queued are checked field by field.
 * Spool access: none.
 * See:          smtpd(8).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "log.h"
#include "smtpd.h"

struct smtpd smtpd;

static int	 smtpd_reload(struct tern_config *, const char **);

/* Request ids: generation << 32 | slot, so a stale reply finds nothing. */
uint64_t
session_reqid(struct session *s)
{
	return (uint64_t)smtpd.gens[s->slot] << 32 | s->slot;
}

struct session *
session_by_reqid(uint64_t reqid)
{
	uint32_t slot = (uint32_t)reqid, gen = (uint32_t)(reqid >> 32);

	if (slot >= smtpd.nslots || smtpd.slots[slot] == NULL ||
	    smtpd.gens[slot] != gen)
		return NULL;
	return smtpd.slots[slot];
}

/* smtpd_slot_alloc - give a new session a request-id slot */
uint32_t
smtpd_slot_alloc(struct session *s)
{
	uint32_t i;

	for (i = 0; i < smtpd.nslots; i++)
		if (smtpd.slots[i] == NULL)
			break;
	if (i == smtpd.nslots) {
		uint32_t n = smtpd.nslots ? smtpd.nslots * 2 : 256;
		smtpd.slots = xreallocarray(smtpd.slots, n, sizeof(void *));
		smtpd.gens = xreallocarray(smtpd.gens, n, sizeof(uint32_t));
		memset(smtpd.slots + smtpd.nslots, 0,
		    (n - smtpd.nslots) * sizeof(void *));
		memset(smtpd.gens + smtpd.nslots, 0,
		    (n - smtpd.nslots) * sizeof(uint32_t));
		smtpd.nslots = n;
	}
	smtpd.slots[i] = s;
	smtpd.gens[i]++;
	return i;
}

/* smtpd_session_gone - bookkeeping when a session is freed */
void
smtpd_session_gone(struct session *s)
{
	smtpd.slots[s->slot] = NULL;
	smtpd.gens[s->slot]++;
	TAILQ_REMOVE(&smtpd.sessions, s, entry);
	smtpd.nsessions--;
	if (smtpd.d.stopping && smtpd.nsessions == 0) {
		log_info("last session closed; exiting");
		event_base_loopexit(smtpd.d.base, NULL);
	}
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	if (smtpd.d.stopping) {
		close(fd);
		return;
	}
	session_new(fd, sa, socklen, (unsigned)(uintptr_t)arg);
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();

	/* EMFILE/ENFILE: pause accepting for a second (tmux, memcached). */
	log_warnx("accept: %s; pausing listener", strerror(e));
	evconnlistener_disable(l);
	event_base_once(smtpd.d.base, -1, EV_TIMEOUT, listener_resume, l,
	    &(struct timeval){ 1, 0 });
}

/* --- the queued link --------------------------------------------------- */

static int
on_open_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	struct session	*s;
	char		 id[SPOOL_ID_LEN + 1];
	int		 fd = m->fd;

	m->fd = -1;
	if (ipc_get_str(m, id, sizeof(id)) == -1 || ipc_get_end(m) == -1 ||
	    !spool_id_ok(id)) {
		close(fd);
		return -1;
	}
	if ((s = session_by_reqid(m->hdr.reqid)) == NULL || !s->waiting ||
	    s->tx.fd != -1) {
		/* The session is gone: tell queued to drop the file. */
		struct ipc_out o;

		close(fd);
		ipc_out_begin(&o, IPC_SMTPD_MSG_ABORT, m->hdr.reqid);
		ipc_put_str(&o, id);
		ipc_send(p, &o, -1);
		return 0;
	}
	data_opened(s, id, fd);
	return 0;
}

static int
on_open_fail(struct ipc_peer *p, struct ipc_msg *m)
{
	struct session	*s;
	char		 reply[512];

	if (ipc_get_str(m, reply, sizeof(reply)) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	if ((s = session_by_reqid(m->hdr.reqid)) == NULL || !s->waiting)
		return 0;
	if (reply[0] != '4' && reply[0] != '5')
		tern_strlcpy(reply, "451 4.3.0 Queue error", sizeof(reply));
	s->waiting = false;
	tx_reset(s);
	session_reply(s, "%s", reply);
	session_resume(s);
	return 0;
}

static int
on_commit_reply(struct ipc_peer *p, struct ipc_msg *m)
{
	struct session	*s;
	char		 text[512];

	if (ipc_get_str(m, text, sizeof(text)) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	if ((s = session_by_reqid(m->hdr.reqid)) == NULL || !s->waiting)
		return 0;
	if (m->hdr.type == IPC_QUEUED_COMMIT_OK &&
	    strcmp(text, s->tx.id) != 0)
		return -1;
	data_committed(s, m->hdr.type == IPC_QUEUED_COMMIT_OK, text);
	return 0;
}

static int
on_hello_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	uint32_t pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	smtpd.ql.ms = 0;
	log_info("connected to queued pid=%u", pid);
	return 0;
}

static const struct ipc_handler queued_handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_QUEUED), IPC_FD_NO, on_hello_ok },
	{ IPC_QUEUED_OPEN_OK, RB(ROLE_QUEUED), IPC_FD_YES, on_open_ok },
	{ IPC_QUEUED_OPEN_FAIL, RB(ROLE_QUEUED), IPC_FD_NO, on_open_fail },
	{ IPC_QUEUED_COMMIT_OK, RB(ROLE_QUEUED), IPC_FD_NO, on_commit_reply },
	{ IPC_QUEUED_COMMIT_FAIL, RB(ROLE_QUEUED), IPC_FD_NO,
	    on_commit_reply },
};

/* queued_down - the link went: so did the transactions queued held */
static void
queued_down(bool was_up)
{
	struct session *s, *next;

	if (!was_up)
		return;
	log_warnx("lost the link to queued");
	for (s = TAILQ_FIRST(&smtpd.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		session_queue_lost(s);
	}
}

/* --- stop and reload --------------------------------------------------- */

static void
stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("shutdown timeout: %u sessions still open", smtpd.nsessions);
	event_base_loopexit(smtpd.d.base, NULL);
}

/* smtpd_stop - stop accepting; idle sessions get 421 now, busy ones later */
void
smtpd_stop(void)
{
	struct session	*s, *next;
	struct timeval	 tv = { (time_t)smtpd.d.cfg->shutdown_timeout, 0 };
	unsigned	 i;

	/* Close the listening sockets now, so a new smtpd can bind them. */
	for (i = 0; i < smtpd.nlisteners; i++)
		evconnlistener_free(smtpd.listeners[i]);
	smtpd.nlisteners = 0;
	for (s = TAILQ_FIRST(&smtpd.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state != ST_DATA && s->state != ST_RCPT && !s->waiting) {
			session_reply(s, "421 4.3.2 %s Service shutting down",
			    smtpd.d.cfg->host_name);
			session_close(s, "shutdown");
		}
	}
	if (smtpd.nsessions == 0) {
		event_base_loopexit(smtpd.d.base, NULL);
		return;
	}
	smtpd.ev_stop = evtimer_new(smtpd.d.base, stop_timeout, NULL);
	evtimer_add(smtpd.ev_stop, &tv);
}

static int
smtpd_reload(struct tern_config *cfg, const char **why)
{
	/*
	 * Sessions keep copies of what they use, so the old configuration
	 * can be freed at once.  Listeners are ternd's: a changed
	 * smtp-listener takes a restart (ternd says so).  Certificates are
	 * read again; one that does not load leaves the old one in force.
	 */
	tls_reload(cfg);
	return 0;
}

/*
 * prejail - still root: the TLS certificates and keys; standalone, also
 * the listening sockets (ternd binds them otherwise).
 */
static void
prejail(struct daemon *d, bool under_ternd)
{
	struct tern_config *cfg = smtpd.d.cfg;
	unsigned	    i;
	int		    fd, one = 1;

	tls_init(cfg);			/* keys: while still root */
	if (under_ternd)
		return;
	for (i = 0; i < cfg->nlisteners && i < nitems(smtpd.d.listen_fds);
	    i++) {
		struct cfg_addr *a = &cfg->listeners[i].addr;

		fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd == -1)
			fatal("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, (struct sockaddr *)&a->ss, a->len) == -1)
			fatal("bind %s", cfg->listeners[i].text);
		if (listen(fd, 511) == -1)
			fatal("listen");
		smtpd.d.listen_fds[smtpd.d.nlisten++] = fd;
	}
}

int	smtpd_main(int, char **);

int
smtpd_main(int argc, char **argv)
{
	unsigned i;

	smtpd.d.name = "smtpd";
	smtpd.d.role = ROLE_SMTPD;
	smtpd.d.reload = smtpd_reload;
	smtpd.d.shutdown = smtpd_stop;
	smtpd.d.prejail = prejail;
	smtpd.d.master_extra = tls_master_handlers;
	smtpd.d.nmaster_extra = tls_nmaster_handlers;
	TAILQ_INIT(&smtpd.sessions);
	daemon_init(&smtpd.d, argc, argv);
	for (i = 0; i < smtpd.d.nlisten; i++) {
		evutil_make_socket_nonblocking(smtpd.d.listen_fds[i]);
		/* The index names the listener's settings (smtpd.lis). */
		smtpd.listeners[i] = evconnlistener_new(smtpd.d.base,
		    on_accept, (void *)(uintptr_t)i, LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_CLOSE_ON_EXEC, -1, smtpd.d.listen_fds[i]);
		if (smtpd.listeners[i] == NULL)
			fatalx("evconnlistener_new");
		evconnlistener_set_error_cb(smtpd.listeners[i],
		    on_accept_error);
		smtpd.nlisteners++;
	}
	smtpd.ql = (struct ipc_link){ .peer = &smtpd.queued,
	    .sock = "queued.sock", .self = ROLE_SMTPD, .role = ROLE_QUEUED,
	    .table = queued_handlers, .ntable = nitems(queued_handlers),
	    .down = queued_down };
	daemon_link(&smtpd.d, &smtpd.ql);
	daemon_run(&smtpd.d);
	log_info("exiting");
	return 0;
}

/*
 * smtpd_suppressed - with suppression: refuse-at: rcpt, is addr on the
 * global suppression list?  (Job and pool entries need the message's
 * headers: queued drops those at queue time.)  The list is bouncd's;
 * it is opened once bouncd has made it.
 */
bool
smtpd_suppressed(const char *addr, struct supp_entry *e)
{
	const struct cfg_suppression *cs = &smtpd.d.cfg->supp;
	char		 norm[MAILADDR_MAX + 1];

	if (!cs->enabled || !cs->at_rcpt || supp_reader(&smtpd.supp,
	    &smtpd.supp_tried, smtpd.d.cfg->spool_dir) == NULL)
		return false;
	return supp_norm_addr(addr, norm, sizeof(norm)) == 0 &&
	    supp_get(smtpd.supp, "", norm, e) == 1;
}
