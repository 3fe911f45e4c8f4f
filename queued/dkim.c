/*
 * dkim.c - DKIM signing at commit time, through dkimd.
 *
 * Purpose:      a message is signed once, when it is committed, never
 *               per delivery attempt.  At COMMIT, before the group
 *               fsync, queued decides: signing is wanted when the
 *               message's VirtualMTA, or the domain block of any of its
 *               recipients, says dkim-sign (config_dkim_wanted); the key
 *               is the one of the From domain or its nearest parent
 *               (config_dkey_for).  The From field is read from the
 *               message here (mailhdr.c): a message without exactly one
 *               From, or with one that does not parse, is committed
 *               unsigned and logged.  queued opens tmp/<id> again,
 *               read-only, and passes that descriptor to dkimd with the
 *               body's span, the selector and the domain; dkimd answers
 *               with the DKIM-Signature header, which goes into the
 *               queue file as its K record, and only then does the
 *               commit go on (the 250 still waits for the group fsync).
 *               deliverd sends K before the message.
 *
 *               A down or slow dkimd does not stop mail: a request not
 *               answered within DKIM_WAIT_MS is committed unsigned, with
 *               a log line and the dkim_unsigned counter of "tern show
 *               status"; while the link has been down for longer than
 *               that, requests are not even tried.  Requests wait for a
 *               link being redialled (a restarted dkimd) and are sent
 *               again on the new link if the old one dropped them.
 * Used by:      queued.
 * Trust:        dkimd's answer is checked (spool_prepend_ok, and it must
 *               be a DKIM-Signature field) before it is stored; an answer
 *               for a request no longer waiting is ignored.
 * Spool access: opens tmp/<id> read-only for dkimd.
 * See:          dkimd(8), tern-spool(5).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "mailhdr.h"
#include "queued.h"

#define DKIM_WAIT_MS	2000		/* then committed unsigned */
#define DKIM_HEAD_MAX	(128 * 1024)	/* header block read for From */
#define DKIM_REQ_MAX	10000		/* requests waiting at once */


/* wanted - does any recipient's mail through the vmta get signed? */
static bool
wanted(const struct rx *rx)
{
	const struct tern_config *cfg = qd.d.cfg;
	const struct cfg_vmta	 *vm = config_vmta(cfg, rx->env.vmta);
	const char		 *last = NULL;
	unsigned		  i;

	if (cfg->ndkeys == 0)
		return false;
	for (i = 0; i < rx->env.nrcpt; i++) {
		const char *d = rx->env.rcpts[i].domain;

		if (last != NULL && strcasecmp(last, d) == 0)
			continue;
		last = d;
		if (config_dkim_wanted(cfg, vm, d))
			return true;
	}
	return false;
}

/* from_domain - the From domain, read from the message's header block */
static int
from_domain(const struct rx *rx, char *dom, const char **why)
{
	static char	 head[DKIM_HEAD_MAX];
	size_t		 want = rx->size < sizeof(head) ? (size_t)rx->size :
			    sizeof(head);
	ssize_t		 n;

	n = pread(rx->fd, head, want, rx->env.body_off);
	if (n != (ssize_t)want) {
		*why = "cannot read the header block";
		return -1;
	}
	return mailhdr_from_domain(head, want, want == rx->size, dom, why);
}

static void
arm_timer(void)
{
	struct sigreq	*r = TAILQ_FIRST(&qd.sigreqs);
	uint64_t	 now = now_ms(), ms;
	struct timeval	 tv;

	if (r == NULL) {
		evtimer_del(qd.ev_sign);
		return;
	}
	ms = r->deadline > now ? r->deadline - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(qd.ev_sign, &tv);
}

/* finish - the request is over: store the header or log, then commit */
static void
finish(struct sigreq *r, const char *sig, size_t len, const char *why)
{
	struct rx *rx = r->rx;

	TAILQ_REMOVE(&qd.sigreqs, r, link);
	qd.nsigreqs--;
	close(r->fd);
	if (why == NULL) {
		rx->env.prepend = xstrndup(sig, len);
		qd.n_signed++;
	} else {
		log_warnx("%s: committed without a DKIM signature "
		    "(%s._domainkey.%s): %s", rx->env.id, r->sel, r->dom, why);
		qd.n_unsigned++;
	}
	free(r);
	commit_enqueue(rx);
}

static void
send_req(struct sigreq *r)
{
	struct ipc_out	 o;
	int		 fd;

	if (qd.dkimd == NULL || r->sent)
		return;
	if ((fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", r->rx->env.id);
		return;			/* the deadline settles it */
	}
	ipc_out_begin(&o, IPC_QUEUED_DKIM_SIGN, r->reqid);
	ipc_put_str(&o, r->rx->env.id);
	ipc_put_str(&o, r->sel);
	ipc_put_str(&o, r->dom);
	ipc_put_u64(&o, (uint64_t)r->rx->env.body_off);
	ipc_put_u64(&o, r->rx->size);
	r->sent = ipc_send(qd.dkimd, &o, fd) == 0;
}

/* request - queue a request for rx signed by key; -1: commit unsigned */
static int
request(struct rx *rx, const struct cfg_dkey *key)
{
	struct sigreq	*r;
	char		 path[64];
	int		 fd;

	if (qd.dkimd == NULL && qd.dkimd_down != 0 &&
	    now_ms() - qd.dkimd_down > DKIM_WAIT_MS) {
		log_warnx("%s: committed without a DKIM signature: dkimd is "
		    "unreachable", rx->env.id);
		qd.n_unsigned++;
		return -1;
	}
	if (qd.nsigreqs >= DKIM_REQ_MAX ||
	    spool_path(path, sizeof(path), "tmp", rx->env.id) == -1 ||
	    (fd = openat(qd.spool_fd, path, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warnx("%s: committed without a DKIM signature: %s",
		    rx->env.id, qd.nsigreqs >= DKIM_REQ_MAX ? "too many "
		    "waiting" : strerror(errno));
		qd.n_unsigned++;
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->reqid = ++qd.sign_seq;
	r->rx = rx;
	r->fd = fd;
	r->deadline = now_ms() + DKIM_WAIT_MS;
	tern_strlcpy(r->sel, key->selector, sizeof(r->sel));
	tern_strlcpy(r->dom, key->domain, sizeof(r->dom));
	TAILQ_INSERT_TAIL(&qd.sigreqs, r, link);
	if (qd.nsigreqs++ == 0)
		arm_timer();
	send_req(r);
	return 0;
}

/*
 * dkim_start - at COMMIT: 0 when rx waits for its signature (dkim.c
 * commits it later), -1 when it is to be committed now, unsigned
 */
int
dkim_start(struct rx *rx)
{
	const struct cfg_dkey	*key;
	char			 dom[MAILADDR_DOMAIN_MAX + 1];
	const char		*why;

	if (!wanted(rx))
		return -1;
	if (from_domain(rx, dom, &why) == -1) {
		log_info("%s: not DKIM-signed: %s", rx->env.id, why);
		qd.n_unsigned++;
		return -1;
	}
	if ((key = config_dkey_for(qd.d.cfg, dom)) == NULL) {
		log_info("%s: not DKIM-signed: no domain-keys entry for the "
		    "From domain %s", rx->env.id, dom);
		qd.n_unsigned++;
		return -1;
	}
	return request(rx, key);
}

static struct sigreq *
find_req(uint64_t reqid)
{
	struct sigreq *r;

	TAILQ_FOREACH(r, &qd.sigreqs, link)
		if (r->reqid == reqid)
			return r;
	return NULL;
}

/* on_signed - blob header; a late answer (after the deadline) is dropped */
static int
on_signed(struct ipc_peer *p, struct ipc_msg *m)
{
	const uint8_t	*sig;
	size_t		 len;
	struct sigreq	*r;
	static const char name[] = "DKIM-Signature:";

	if (ipc_get_blob(m, &sig, &len) == -1 || ipc_get_end(m) == -1)
		return -1;
	if ((r = find_req(m->hdr.reqid)) == NULL)
		return 0;
	if (len < sizeof(name) || strncasecmp((const char *)sig, name,
	    sizeof(name) - 1) != 0 || memchr(sig, '\0', len) != NULL ||
	    !spool_prepend_ok((const char *)sig, len))
		finish(r, NULL, 0, "dkimd's answer is not a DKIM-Signature "
		    "field");
	else
		finish(r, (const char *)sig, len, NULL);
	arm_timer();
	return 0;
}

static int
on_sign_fail(struct ipc_peer *p, struct ipc_msg *m)
{
	char		 why[IPC_STR_MAX + 1];
	struct sigreq	*r;

	if (ipc_get_str(m, why, sizeof(why)) == -1 || ipc_get_end(m) == -1)
		return -1;
	if ((r = find_req(m->hdr.reqid)) != NULL) {
		finish(r, NULL, 0, why);
		arm_timer();
	}
	return 0;
}

static int
on_hello_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	uint32_t pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	qd.dl.ms = 0;
	qd.dkimd_down = 0;
	log_debug("connected to dkimd pid=%u", pid);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_HELLO_OK, RB(ROLE_DKIMD), IPC_FD_NO, on_hello_ok },
	{ IPC_DKIMD_SIGNED, RB(ROLE_DKIMD), IPC_FD_NO, on_signed },
	{ IPC_DKIMD_SIGN_FAIL, RB(ROLE_DKIMD), IPC_FD_NO, on_sign_fail },
};

/* timeout_cb - requests past their deadline are committed unsigned */
static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sigreq	*r;
	uint64_t	 now = now_ms();

	while ((r = TAILQ_FIRST(&qd.sigreqs)) != NULL && r->deadline <= now)
		finish(r, NULL, 0, qd.dkimd == NULL ? "dkimd is unreachable" :
		    "dkimd did not answer in time");
	arm_timer();
}

/* dkimd_down - what was sent goes again on the next link */
static void
dkimd_down(bool was_up)
{
	struct sigreq *r;

	if (qd.dkimd_down == 0)
		qd.dkimd_down = now_ms();
	if (!was_up)
		return;
	TAILQ_FOREACH(r, &qd.sigreqs, link)
		r->sent = false;
	if (!qd.d.stopping)
		log_info("lost the link to dkimd; %u signatures waiting",
		    qd.nsigreqs);
}

/* dkimd_up - connected: the waiting requests go */
static void
dkimd_up(void)
{
	struct sigreq *r;

	TAILQ_FOREACH(r, &qd.sigreqs, link)
		send_req(r);
}

/* dkim_peer_gone - smtpd went away: the commits go on, unanswered */
void
dkim_peer_gone(struct ipc_peer *p)
{
	struct sigreq *r;

	TAILQ_FOREACH(r, &qd.sigreqs, link)
		if (r->rx->peer == p)
			r->rx->peer = NULL;
}

/* dkim_drain - at exit: what still waits is committed unsigned */
void
dkim_drain(void)
{
	struct sigreq *r;

	while ((r = TAILQ_FIRST(&qd.sigreqs)) != NULL)
		finish(r, NULL, 0, "queued is stopping");
}

void
dkim_init(void)
{
	TAILQ_INIT(&qd.sigreqs);
	qd.ev_sign = evtimer_new(qd.d.base, timeout_cb, NULL);
	qd.dl = (struct ipc_link){ .peer = &qd.dkimd, .sock = "dkimd.sock",
	    .self = ROLE_QUEUED, .role = ROLE_DKIMD, .table = handlers,
	    .ntable = nitems(handlers), .up = dkimd_up, .down = dkimd_down };
	daemon_link(&qd.d, &qd.dl);
}
