/*
 * commit.c - receive a message into the spool and commit it durably.
 *
 * Purpose:      the spool commit protocol (tern-spool(5), states S0-S4):
 *
 *   OPEN    S1  tmp/<id>: a recycled file from free/ or a new one
 *               (O_EXCL|O_NOFOLLOW 0600); the envelope head
 *               (V I A S C H R... B) written; a dup of the fd goes to
 *               smtpd, which appends the body.  Nothing is durable.
 *   COMMIT      the envelope must be as we wrote it; the body ends at
 *               the shared file offset.  A message to be DKIM-signed
 *               waits for dkimd here (dkim.c, at most 2 s), still
 *               in S1.  Then patch B's body length, append the tail
 *               (M L J [K] Z), cut the file there.
 *   (batch) S2  spool-sync syncfs: one syncfs(2) for the whole batch;
 *               fsync: fdatasync each file.  Files complete and durable.
 *               rename tmp/<id> -> new/<id> for each
 *           S3  fsync(new/) once: the entries are durable.  Only now
 *               COMMIT_OK goes back and smtpd answers 250.
 *           S4  (sched.c) rename new/<id> -> cur/<bb>/<id> at the first
 *               deferral, unsynced: recovery reads new/ and cur/ alike.
 *
 *               Group commit: the commit event is activated by the first
 *               COMMIT of a batch and runs after the peer events already
 *               active in that pass, so COMMITs that arrive together
 *               share the syncs.
 * Used by:      queued.
 * Trust:        smtpd is untrusted: ids are checked against our own
 *               transaction table, the envelope is compared with what we
 *               wrote, the size is bounded, recipient addresses are
 *               parsed again.
 * Spool access: read/write.
 * See:          tern-spool(5).
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailaddr.h"
#include "queued.h"

#define RX_RCPT_MAX	100000

static void	commit_run(evutil_socket_t, short, void *);

static struct rx *
rx_find(struct ipc_peer *p, uint64_t reqid)
{
	struct peer_state *ps = p->arg;
	struct rx	  *rx;

	TAILQ_FOREACH(rx, &ps->rxs, entry)
		if (rx->reqid == reqid)
			return rx;
	return NULL;
}

static void
rx_free(struct rx *rx, bool unlink_tmp)
{
	char path[64];

	if (rx->peer != NULL) {
		struct peer_state *ps = rx->peer->arg;
		TAILQ_REMOVE(&ps->rxs, rx, entry);
	}
	if (rx->fd != -1)
		close(rx->fd);
	if (unlink_tmp && rx->opened &&
	    spool_path(path, sizeof(path), "tmp", rx->env.id) == 0)
		unlinkat(qd.spool_fd, path, 0);
	spool_env_free(&rx->env);
	buf_free(&rx->head);
	free(rx);
}

static void
reply_str(struct ipc_peer *p, enum ipc_type t, uint64_t reqid, const char *s)
{
	struct ipc_out o;

	ipc_out_begin(&o, t, reqid);
	ipc_put_str(&o, s);
	ipc_send(p, &o, -1);
}

/* rx_new - MSG_NEW: sender, client address, HELO name */
int
rx_new(struct ipc_peer *p, struct ipc_msg *m)
{
	struct peer_state *ps = p->arg;
	struct rx	  *rx;
	char		   sender[MAILADDR_MAX + 1], ip[64], helo[256];
	char		   envid[DSN_ENVID_MAX + 1];
	struct mailaddr	   a;
	const char	  *why;
	uint8_t		   ret;

	if (ipc_get_str(m, sender, sizeof(sender)) == -1 ||
	    ipc_get_str(m, ip, sizeof(ip)) == -1 ||
	    ipc_get_str(m, helo, sizeof(helo)) == -1 ||
	    ipc_get_u8(m, &ret) == -1 || ret > DSN_RET_HDRS ||
	    ipc_get_str(m, envid, sizeof(envid)) == -1 || ipc_get_end(m) == -1)
		return -1;
	if (sender[0] != '\0' && mailaddr_parse(sender, &a, &why) == -1)
		return -1;
	if (rx_find(p, m->hdr.reqid) != NULL)
		return -1;		/* a reqid is one transaction at a time */
	rx = xcalloc(1, sizeof(*rx));
	rx->peer = p;
	rx->reqid = m->hdr.reqid;
	rx->fd = -1;
	spool_env_init(&rx->env);
	rx->env.sender = xstrdup(sender);
	rx->env.client = xstrdup(ip);
	rx->env.helo = xstrdup(helo);
	rx->env.ret = (enum dsn_ret)ret;
	tern_strlcpy(rx->env.envid, envid, sizeof(rx->env.envid));
	TAILQ_INSERT_TAIL(&ps->rxs, rx, entry);
	return 0;
}

/* rx_rcpt - MSG_RCPT: one recipient, parsed again */
int
rx_rcpt(struct ipc_peer *p, struct ipc_msg *m)
{
	struct rx	*rx;
	char		 addr[MAILADDR_MAX + 1], orcpt[DSN_ORCPT_MAX + 1];
	struct mailaddr	 a;
	const char	*why;
	uint8_t		 notify;

	if (ipc_get_str(m, addr, sizeof(addr)) == -1 ||
	    ipc_get_u8(m, &notify) == -1 ||
	    ipc_get_str(m, orcpt, sizeof(orcpt)) == -1 || ipc_get_end(m) == -1)
		return -1;
	if ((rx = rx_find(p, m->hdr.reqid)) == NULL || rx->opened ||
	    rx->env.nrcpt >= RX_RCPT_MAX ||
	    mailaddr_parse(addr, &a, &why) == -1 || !dsn_notify_ok(notify) ||
	    (orcpt[0] != '\0' && !dsn_orcpt_ok(orcpt)))
		return -1;
	spool_env_add_rcpt_dsn(&rx->env, addr, notify, orcpt[0] ? orcpt : NULL);
	return 0;
}

/* space_low - free space under min-free-space? (checked once a second) */
static bool
space_low(void)
{
	struct statvfs	 sv;
	uint64_t	 now = now_ms();

	if (now - qd.space_checked_ms < 1000)
		return qd.space_low;
	qd.space_checked_ms = now;
	if (fstatvfs(qd.spool_fd, &sv) == -1)
		return qd.space_low = false;
	qd.space_low = (uint64_t)sv.f_bavail * sv.f_frsize <
	    qd.d.cfg->min_free_space || sv.f_favail < 1000;
	if (qd.space_low)
		log_warnx("spool file system below min-free-space; "
		    "refusing new mail");
	return qd.space_low;
}

/* create_tmp - S1: a new tmp/<id> with a fresh random id */
static int
create_tmp(struct rx *rx)
{
	char	 path[64];
	int	 tries, fd = -1;

	for (tries = 0; tries < 8 && fd == -1; tries++) {
		spool_id_new(rx->env.id);
		if (spool_path(path, sizeof(path), "tmp", rx->env.id) == -1)
			return -1;
		/* A recycled file when there is one (see recycle.c). */
		if (recycle_get(path) == 0) {
			fd = openat(qd.spool_fd, path, O_RDWR | O_NOFOLLOW |
			    O_CLOEXEC);
			if (fd != -1)
				break;
		}
		fd = openat(qd.spool_fd, path, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	return fd;
}

/* rx_open - MSG_OPEN: create the file, write the head, pass an fd */
int
rx_open(struct ipc_peer *p, struct ipc_msg *m)
{
	struct rx	*rx;
	struct buf	 head;
	int		 fd2;

	if (ipc_get_end(m) == -1)
		return -1;
	if ((rx = rx_find(p, m->hdr.reqid)) == NULL || rx->opened ||
	    rx->env.nrcpt == 0)
		return -1;
	if (space_low()) {
		reply_str(p, IPC_QUEUED_OPEN_FAIL, rx->reqid,
		    "452 4.3.1 Insufficient system storage");
		rx_free(rx, false);
		return 0;
	}
	rx->env.arrival = (uint64_t)time(NULL);
	if ((rx->fd = create_tmp(rx)) == -1) {
		log_warn("creating a queue file");
		goto fail;
	}
	rx->opened = true;
	buf_init(&head, SPOOL_HEAD_MAX);
	if (spool_head_build(&rx->env, &head) == -1 ||
	    write_all(rx->fd, head.data, head.len) == -1) {
		log_warn("%s: writing the envelope", rx->env.id);
		buf_free(&head);
		goto fail;
	}
	rx->head = head;		/* kept to check it at commit */
	/* The dup shares our file offset: smtpd appends after the head. */
	if ((fd2 = fcntl(rx->fd, F_DUPFD_CLOEXEC, 0)) == -1)
		goto fail;
	{
		struct ipc_out o;

		ipc_out_begin(&o, IPC_QUEUED_OPEN_OK, rx->reqid);
		ipc_put_str(&o, rx->env.id);
		ipc_send(p, &o, fd2);
	}
	return 0;
fail:
	reply_str(p, IPC_QUEUED_OPEN_FAIL, rx->reqid,
	    "451 4.3.0 Temporary queue failure");
	rx_free(rx, true);
	return 0;
}

/* max_size_anywhere - the largest max-message-size of any source */
static uint64_t
max_size_anywhere(void)
{
	const struct tern_config *cfg = qd.d.cfg;
	uint64_t		  m = cfg->max_message_size;
	unsigned		  i;

	for (i = 0; i < cfg->nsources; i++)
		if ((cfg->sources[i].set & SRC_MAXSIZE) &&
		    cfg->sources[i].max_message_size > m)
			m = cfg->sources[i].max_message_size;
	return m;
}

/* check_file - the body's length, the envelope as we wrote it */
static int
check_file(struct rx *rx)
{
	off_t		 end;
	uint64_t	 lim;

	/*
	 * The body ends where smtpd's writes left the shared file offset
	 * (a recycled file may be longer: the rest is cut off below).
	 */
	if ((end = lseek(rx->fd, 0, SEEK_CUR)) == -1 ||
	    end < rx->env.body_off)
		return -1;
	/*
	 * smtpd writes through an fd on the whole file: make sure it left
	 * the envelope (sender, recipients) exactly as we wrote it.
	 */
	{
		char	 chk[4096];
		size_t	 off = 0, n;

		while (off < rx->head.len) {
			n = rx->head.len - off < sizeof(chk) ?
			    rx->head.len - off : sizeof(chk);
			if (pread(rx->fd, chk, n, (off_t)off) != (ssize_t)n ||
			    memcmp(chk, rx->head.data + off, n) != 0) {
				log_warnx("%s: envelope changed by smtpd; "
				    "refused", rx->env.id);
				errno = EPERM;
				return -1;
			}
			off += n;
		}
	}
	rx->size = (uint64_t)(end - rx->env.body_off);
	/* smtpd enforces max-message-size; a body far past it is refused. */
	lim = max_size_anywhere();
	if (lim != UNITS_SIZE_UNLIMITED && rx->size > lim * 2 + (1 << 20)) {
		log_warnx("%s: body of %llu bytes is far over "
		    "max-message-size; refused", rx->env.id,
		    (unsigned long long)rx->size);
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/* finish_file - patch the body length, append the tail, cut the file */
static int
finish_file(struct rx *rx)
{
	struct buf	 tail;
	char		 blen[17];
	int		 r = -1;
	off_t		 end = rx->env.body_off + (off_t)rx->size;

	spool_blen_fmt(rx->size, blen);
	buf_init(&tail, SPOOL_REC_MAX * 4);
	if (pwrite(rx->fd, blen, 16, rx->env.blen_off) == 16 &&
	    spool_tail_build(&rx->env, &tail) == 0 &&
	    pwrite(rx->fd, tail.data, tail.len, end) == (ssize_t)tail.len &&
	    ftruncate(rx->fd, end + (off_t)tail.len) == 0)
		r = 0;
	buf_free(&tail);
	return r;
}

/* rx_commit - MSG_COMMIT: id, vmta or pool wanted, job id, size seen */
int
rx_commit(struct ipc_peer *p, struct ipc_msg *m)
{
	struct rx	*rx;
	char		 id[SPOOL_ID_LEN + 1], want[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
	uint64_t	 size;

	if (ipc_get_str(m, id, sizeof(id)) == -1 ||
	    ipc_get_str(m, want, sizeof(want)) == -1 ||
	    ipc_get_str(m, job, sizeof(job)) == -1 ||
	    ipc_get_u64(m, &size) == -1 || ipc_get_end(m) == -1)
		return -1;
	if ((rx = rx_find(p, m->hdr.reqid)) == NULL || !rx->opened ||
	    rx->committing || strcmp(id, rx->env.id) != 0)
		return -1;
	vmta_resolve(want, rx->env.vmta, rx->env.pool);
	tern_strlcpy(rx->env.job, job, sizeof(rx->env.job));
	if (check_file(rx) == -1) {
		log_warn("%s: finishing the queue file", rx->env.id);
		reply_str(p, IPC_QUEUED_COMMIT_FAIL, rx->reqid,
		    "451 4.3.0 Temporary queue failure");
		rx_free(rx, true);
		return 0;
	}
	/* Off the peer's list: the commit goes on if the peer goes. */
	{
		struct peer_state *ps = p->arg;
		TAILQ_REMOVE(&ps->rxs, rx, entry);
	}
	rx->committing = true;
	/* Signed first when it should be (dkim.c calls commit_enqueue). */
	if (dkim_start(rx) == 0)
		return 0;
	commit_enqueue(rx);
	return 0;
}

/*
 * commit_enqueue - the tail (with K, the DKIM-Signature, if any), then
 * into the batch; the commit event runs after pending input
 */
void
commit_enqueue(struct rx *rx)
{
	if (finish_file(rx) == -1) {
		log_warn("%s: finishing the queue file", rx->env.id);
		if (rx->peer != NULL)
			reply_str(rx->peer, IPC_QUEUED_COMMIT_FAIL, rx->reqid,
			    "451 4.3.0 Temporary queue failure");
		rx->peer = NULL;	/* already off the peer's list */
		rx_free(rx, true);
		return;
	}
	TAILQ_INSERT_TAIL(&qd.batch, rx, entry);
	qd.nbatch++;
	if (qd.nbatch == 1) {
		if (qd.d.cfg->group_commit_delay_us > 0) {
			struct timeval tv = { 0,
			    (suseconds_t)qd.d.cfg->group_commit_delay_us };
			evtimer_add(qd.ev_commit, &tv);
		} else
			event_active(qd.ev_commit, EV_TIMEOUT, 0);
	}
}

/* rx_abort - MSG_ABORT: smtpd gave up (error, client gone) */
int
rx_abort(struct ipc_peer *p, struct ipc_msg *m)
{
	struct rx	*rx;
	char		 id[SPOOL_ID_LEN + 1];

	if (ipc_get_str(m, id, sizeof(id)) == -1 || ipc_get_end(m) == -1)
		return -1;
	/* Late aborts (already committing, or unknown) are harmless. */
	if ((rx = rx_find(p, m->hdr.reqid)) == NULL)
		return 0;
	if (rx->opened && strcmp(id, rx->env.id) != 0)
		return -1;
	qd.n_aborted++;
	rx_free(rx, true);
	return 0;
}

/* rx_peer_gone - smtpd went away: drop its open transactions */
void
rx_peer_gone(struct ipc_peer *p)
{
	struct peer_state *ps = p->arg;
	struct rx	  *rx;
	struct rx	  *b;

	while ((rx = TAILQ_FIRST(&ps->rxs)) != NULL) {
		qd.n_aborted++;
		rx_free(rx, true);
	}
	/* Commits in the batch finish; their replies have nowhere to go. */
	TAILQ_FOREACH(b, &qd.batch, entry)
		if (b->peer == p)
			b->peer = NULL;
	dkim_peer_gone(p);
}

/*
 * commit_run - the group commit.  Order matters for crash safety:
 * (1) every file fdatasync'd and renamed into new/, (2) new/ fsync'd
 * once, (3) replies, (4) move to cur/ and into the queues.  A crash
 * before (2) completes may leave a file in tmp/ (purged at start: no
 * 250 was sent) or in new/ (kept: complete and durable, duplicates at
 * worst).
 */
static void
commit_run(evutil_socket_t fd, short what, void *arg)
{
	struct rx	*rx, *next;
	char		 from[64], to[64];
	struct msg	*done[256];
	unsigned	 ndone = 0, nok = 0;
	bool		 dir_ok;

	/*
	 * (1) The bodies: with spool-sync: syncfs one syncfs(2) makes every
	 * file of the batch durable at once (a single device flush); with
	 * fsync each file is fdatasync'd.  Either way no file is renamed
	 * into new/ before its data is on disk, so new/ only ever holds
	 * complete files.
	 */
	if (qd.d.cfg->spool_syncfs && syncfs(qd.spool_fd) == -1) {
		log_warn("syncfs");
		TAILQ_FOREACH(rx, &qd.batch, entry)
			rx->committing = false;
	}
	TAILQ_FOREACH(rx, &qd.batch, entry) {
		if (!rx->committing)
			continue;
		spool_path(from, sizeof(from), "tmp", rx->env.id);
		spool_path(to, sizeof(to), "new", rx->env.id);
		if ((!qd.d.cfg->spool_syncfs && fdatasync(rx->fd) == -1) ||
		    renameat(qd.spool_fd, from, qd.spool_fd, to) == -1) {
			log_warn("%s: commit", rx->env.id);
			rx->committing = false;	/* marks failure below */
			continue;
		}
		nok++;
	}
	dir_ok = nok == 0 || fsync_dir_at(qd.spool_fd, "new") == 0;
	if (!dir_ok)
		log_warn("fsync new/");
	qd.n_batches++;
	for (rx = TAILQ_FIRST(&qd.batch); rx != NULL; rx = next) {
		struct msg *msg;

		next = TAILQ_NEXT(rx, entry);
		TAILQ_REMOVE(&qd.batch, rx, entry);
		qd.nbatch--;
		if (!rx->committing || !dir_ok) {
			if (rx->peer != NULL)
				reply_str(rx->peer, IPC_QUEUED_COMMIT_FAIL,
				    rx->reqid, "451 4.3.0 Temporary queue "
				    "failure");
			rx->peer = NULL;
			if (rx->committing) {
				/* In new/ but not durably: take it back. */
				spool_path(to, sizeof(to), "new", rx->env.id);
				unlinkat(qd.spool_fd, to, 0);
				rx->opened = false;
			}
			rx_free(rx, true);	/* unlinks tmp/<id> if open */
			continue;
		}
		rx->opened = false;		/* in new/: no tmp file now */
		if (rx->peer != NULL)
			reply_str(rx->peer, IPC_QUEUED_COMMIT_OK, rx->reqid,
			    rx->env.id);
		qd.n_received++;
		qd.n_bytes += rx->size;
		/*
		 * S4 happens later and only for mail that waits: sched.c
		 * moves a message to cur/<bb>/ at its first deferral.
		 */
		msg = msg_from_env(&rx->env, rx->size);
		msg->in_new = true;
		msg_enqueue(msg);
		if (ndone == nitems(done)) {
			index_put_batch(done, ndone);
			ndone = 0;
		}
		done[ndone++] = msg;
		rx->peer = NULL;
		rx_free(rx, false);
	}
	if (ndone > 0)
		index_put_batch(done, ndone);
}

/* commit_now - the group commit, at once (for ndr.c) */
void
commit_now(void)
{
	if (qd.nbatch > 0)
		commit_run(-1, 0, NULL);
}

/*
 * commit_local - a message made by queued itself (an NDR): from <>, to
 * rcpt, through vmta, into the next group commit; 0 or -1
 */
int
commit_local(const char *rcpt, const char *vmta, const struct buf *msg)
{
	struct rx	*rx = xcalloc(1, sizeof(*rx));
	struct buf	 head;

	rx->fd = -1;
	spool_env_init(&rx->env);
	rx->env.sender = xstrdup("");
	rx->env.client = xstrdup("127.0.0.1");
	rx->env.helo = xstrdup(qd.d.cfg->host_name);
	spool_env_add_rcpt(&rx->env, rcpt);
	rx->env.arrival = (uint64_t)time(NULL);
	if ((rx->fd = create_tmp(rx)) == -1) {
		log_warn("report to <%s>: creating a queue file", rcpt);
		rx_free(rx, false);
		return -1;
	}
	rx->opened = true;
	buf_init(&head, SPOOL_HEAD_MAX);
	if (spool_head_build(&rx->env, &head) == -1 ||
	    write_all(rx->fd, head.data, head.len) == -1 ||
	    write_all(rx->fd, msg->data, msg->len) == -1) {
		log_warn("%s: writing a report", rx->env.id);
		buf_free(&head);
		rx_free(rx, true);
		return -1;
	}
	rx->head = head;
	rx->size = msg->len;
	tern_strlcpy(rx->env.vmta, vmta, sizeof(rx->env.vmta));
	rx->committing = true;
	commit_enqueue(rx);
	return 0;
}

void
commit_init(void)
{
	TAILQ_INIT(&qd.batch);
	/*
	 * Default priority: activated by the first COMMIT of a batch, it
	 * runs after the peer events already active in this pass, so the
	 * COMMITs that arrived together share one group commit, and a busy
	 * loop can never starve it.
	 */
	qd.ev_commit = evtimer_new(qd.d.base, commit_run, NULL);
}
