/*
 * ipc.c - framed messages between Tern processes over Unix sockets.
 *
 * Purpose:      see ipc.h.  The wire format is host byte order (both ends
 *               are on one machine): u16 type, u8 version, u8 flags,
 *               u32 total length, u64 request id, then the payload.
 *               Strings are u16 length + bytes (no NUL, no CR, no LF);
 *               blobs are u32 length + bytes.
 * Used by:      every process.
 * Trust:        peers are untrusted.  A frame whose length is below the
 *               header or above IPC_MAXSIZE, whose version differs, whose
 *               type is not in the receiver's table, whose sender role
 *               may not send it, whose fd rule is broken, or whose
 *               payload does not decode exactly, drops the peer.
 * Spool access: none.
 * See:          tern-spool(5) (IPC section).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

static const char *type_names[IPC_TYPE_MAX] = {
	[IPC_HELLO] = "HELLO", [IPC_HELLO_OK] = "HELLO_OK",
	[IPC_HELLO_FAIL] = "HELLO_FAIL",
	[IPC_MASTER_CONFIG] = "MASTER_CONFIG",
	[IPC_CHILD_CONFIG_OK] = "CHILD_CONFIG_OK",
	[IPC_CHILD_CONFIG_FAIL] = "CHILD_CONFIG_FAIL",
	[IPC_SMTPD_MSG_NEW] = "SMTPD_MSG_NEW",
	[IPC_SMTPD_MSG_RCPT] = "SMTPD_MSG_RCPT",
	[IPC_SMTPD_MSG_OPEN] = "SMTPD_MSG_OPEN",
	[IPC_QUEUED_OPEN_OK] = "QUEUED_OPEN_OK",
	[IPC_QUEUED_OPEN_FAIL] = "QUEUED_OPEN_FAIL",
	[IPC_SMTPD_MSG_COMMIT] = "SMTPD_MSG_COMMIT",
	[IPC_QUEUED_COMMIT_OK] = "QUEUED_COMMIT_OK",
	[IPC_QUEUED_COMMIT_FAIL] = "QUEUED_COMMIT_FAIL",
	[IPC_SMTPD_MSG_ABORT] = "SMTPD_MSG_ABORT",
	[IPC_CTL_REQUEST] = "CTL_REQUEST",
	[IPC_CTL_REPLY] = "CTL_REPLY",
	[IPC_DELIVERD_READY] = "DELIVERD_READY",
	[IPC_QUEUED_JOB] = "QUEUED_JOB",
	[IPC_DELIVERD_RESULT] = "DELIVERD_RESULT",
	[IPC_DELIVERD_HELD] = "DELIVERD_HELD",
	[IPC_SHAPE_VMTA] = "SHAPE_VMTA",
	[IPC_SHAPE_CONNS] = "SHAPE_CONNS",
	[IPC_SHAPE_ASK] = "SHAPE_ASK",
	[IPC_SHAPE_GRANT] = "SHAPE_GRANT",
	[IPC_SHAPE_RELEASE] = "SHAPE_RELEASE",
	[IPC_SHAPE_OUTCOME] = "SHAPE_OUTCOME",
	[IPC_SHAPE_DISCONNECT] = "SHAPE_DISCONNECT",
	[IPC_MASTER_TLS_FILES] = "MASTER_TLS_FILES",
	[IPC_QUEUED_DKIM_SIGN] = "QUEUED_DKIM_SIGN",
	[IPC_DKIMD_SIGNED] = "DKIMD_SIGNED",
	[IPC_DKIMD_SIGN_FAIL] = "DKIMD_SIGN_FAIL",
	[IPC_BOUNCD_RESULT] = "BOUNCD_RESULT",
	[IPC_QUEUED_SUPPRESS] = "QUEUED_SUPPRESS",
	[IPC_SMTPD_SUPPRESSED] = "SMTPD_SUPPRESSED",
};

static const char *role_names[ROLE_MAX] = {
	"none", "ternd", "smtpd", "queued", "deliverd", "shaperd", "bouncd",
	"ctl", "dkimd"
};

const char *
ipc_type_name(unsigned t)
{
	return t < IPC_TYPE_MAX && type_names[t] ? type_names[t] : "unknown";
}

const char *
ipc_role_name(unsigned r)
{
	return r < ROLE_MAX ? role_names[r] : "unknown";
}

/* --- builder ----------------------------------------------------------- */

void
ipc_out_begin(struct ipc_out *o, enum ipc_type type, uint64_t reqid)
{
	struct ipc_hdr	 h = { .type = (uint16_t)type,
	    .version = IPC_VERSION, .reqid = reqid };

	buf_init(&o->b, IPC_MAXSIZE);
	if (buf_add(&o->b, &h, sizeof(h)) == -1)
		panic("ipc_out_begin");
}

static void
put(struct ipc_out *o, const void *p, size_t n)
{
	/* Oversize frames are a bug in the sender: callers bound input. */
	if (buf_add(&o->b, p, n) == -1)
		panic("ipc: frame larger than %d bytes", IPC_MAXSIZE);
}

void
ipc_put_u8(struct ipc_out *o, uint8_t v)
{
	put(o, &v, sizeof(v));
}

void
ipc_put_u32(struct ipc_out *o, uint32_t v)
{
	put(o, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_out *o, uint64_t v)
{
	put(o, &v, sizeof(v));
}

void
ipc_put_str(struct ipc_out *o, const char *s)
{
	size_t	 n = s ? strlen(s) : 0;
	uint16_t l;

	if (n > IPC_STR_MAX)
		panic("ipc_put_str: %zu bytes", n);
	l = (uint16_t)n;
	put(o, &l, sizeof(l));
	if (n)
		put(o, s, n);
}

void
ipc_put_blob(struct ipc_out *o, const void *p, size_t n)
{
	ipc_put_u32(o, (uint32_t)n);
	if (n)
		put(o, p, n);
}

/* --- getters ----------------------------------------------------------- */

static int
get(struct ipc_msg *m, void *dst, size_t n)
{
	if (m->bad || m->len - m->pos < n) {
		m->bad = true;
		return -1;
	}
	memcpy(dst, m->data + m->pos, n);
	m->pos += n;
	return 0;
}

int
ipc_get_u8(struct ipc_msg *m, uint8_t *v)
{
	return get(m, v, sizeof(*v));
}

int
ipc_get_u32(struct ipc_msg *m, uint32_t *v)
{
	return get(m, v, sizeof(*v));
}

int
ipc_get_u64(struct ipc_msg *m, uint64_t *v)
{
	return get(m, v, sizeof(*v));
}

/* ipc_get_str - copy into dst; refuse overlong, NUL, CR and LF */
int
ipc_get_str(struct ipc_msg *m, char *dst, size_t dstsz)
{
	uint16_t l;

	if (get(m, &l, sizeof(l)) == -1)
		return -1;
	if ((size_t)l >= dstsz || m->len - m->pos < l ||
	    memchr(m->data + m->pos, '\0', l) != NULL ||
	    memchr(m->data + m->pos, '\r', l) != NULL ||
	    memchr(m->data + m->pos, '\n', l) != NULL) {
		m->bad = true;
		return -1;
	}
	memcpy(dst, m->data + m->pos, l);
	dst[l] = '\0';
	m->pos += l;
	return 0;
}

/* ipc_get_blob - a view into the frame, valid during the handler */
int
ipc_get_blob(struct ipc_msg *m, const uint8_t **p, size_t *n)
{
	uint32_t l;

	if (get(m, &l, sizeof(l)) == -1)
		return -1;
	if (m->len - m->pos < l) {
		m->bad = true;
		return -1;
	}
	*p = m->data + m->pos;
	*n = l;
	m->pos += l;
	return 0;
}

/* ipc_get_end - the payload must be consumed exactly */
int
ipc_get_end(struct ipc_msg *m)
{
	if (m->bad || m->pos != m->len) {
		m->bad = true;
		return -1;
	}
	return 0;
}

/* ipc_parse_hdr - validate a header before anything is allocated */
int
ipc_parse_hdr(const uint8_t *p, size_t n, struct ipc_hdr *h)
{
	if (n < IPC_HDR_SIZE)
		return -1;
	memcpy(h, p, sizeof(*h));
	if (h->len < IPC_HDR_SIZE || h->len > IPC_MAXSIZE ||
	    h->version != IPC_VERSION || (h->flags & ~IPC_F_FD) != 0)
		return -1;
	return 0;
}

/* --- peers ------------------------------------------------------------- */

static void	peer_event(evutil_socket_t, short, void *);
static void	flush_cb(evutil_socket_t, short, void *);
static int	flush_out(struct ipc_peer *);

static void
peer_update(struct ipc_peer *p)
{
	short	 want = EV_READ;

	if (p->dead)
		return;
	if (!TAILQ_EMPTY(&p->outq))
		want |= EV_WRITE;
	/* Back-pressure: stop reading while our output to it piles up. */
	if (p->outbytes > IPC_OUT_HIWAT)
		want &= ~EV_READ;
	if (want == p->evmask)
		return;
	event_del(p->ev);
	event_assign(p->ev, p->base, p->fd, want | EV_PERSIST, peer_event, p);
	event_add(p->ev, NULL);
	p->evmask = want;
}

struct ipc_peer *
ipc_peer_new(struct event_base *base, int fd, bool server_side,
    const struct ipc_handler *table, size_t ntable,
    void (*on_close)(struct ipc_peer *), void *arg)
{
	struct ipc_peer	*p = xcalloc(1, sizeof(*p));
	struct ucred	 cr;
	socklen_t	 crlen = sizeof(cr);

	fd_nonblock(fd);
	fd_cloexec(fd, true);
	p->fd = fd;
	p->base = base;
	p->server_side = server_side;
	p->table = table;
	p->ntable = ntable;
	p->on_close = on_close;
	p->arg = arg;
	p->in = xmalloc(IPC_MAXSIZE);
	p->uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0) {
		p->uid = cr.uid;
		p->pid = cr.pid;
	}
	TAILQ_INIT(&p->outq);
	p->ev = event_new(base, fd, EV_READ | EV_PERSIST, peer_event, p);
	p->evmask = EV_READ;
	event_add(p->ev, NULL);
	/*
	 * Same priority as the socket events: it runs after the events
	 * already active in this pass (so their frames share a write) and
	 * can never be starved by them.
	 */
	p->ev_flush = event_new(base, -1, 0, flush_cb, p);
	return p;
}

static void
peer_free(struct ipc_peer *p)
{
	struct ipc_frame *f;
	unsigned	  i;

	event_free(p->ev);
	event_free(p->ev_flush);
	close(p->fd);
	while ((f = TAILQ_FIRST(&p->outq)) != NULL) {
		TAILQ_REMOVE(&p->outq, f, entry);
		if (f->fd != -1)
			close(f->fd);
		free(f->data);
		free(f);
	}
	for (i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	free(p->in);
	free(p);
}

/* ipc_peer_close - tell the owner, then free (later if dispatching) */
void
ipc_peer_close(struct ipc_peer *p)
{
	if (p->dead)
		return;
	/* Last words (HELLO_FAIL and the like) go out if they can. */
	(void)flush_out(p);
	p->dead = true;
	event_del(p->ev);
	if (p->on_close)
		p->on_close(p);
	if (p->refs == 0)
		peer_free(p);
}

static void
peer_drop(struct ipc_peer *p, unsigned type, const char *why)
{
	log_warnx("ipc: dropping peer=%s pid=%d type=%s reason=%s",
	    ipc_role_name(p->role), (int)p->pid, ipc_type_name(type), why);
	ipc_peer_close(p);
}

#define IPC_IOV_MAX	64

/*
 * flush_out - write queued frames, many per sendmsg(2): consecutive
 * frames go out together, and a frame carrying an fd starts a new call
 * (the fd rides on the first byte sent).
 */
static int
flush_out(struct ipc_peer *p)
{
	struct ipc_frame *f;

	while ((f = TAILQ_FIRST(&p->outq)) != NULL) {
		struct msghdr	 mh;
		struct iovec	 iov[IPC_IOV_MAX];
		union {
			struct cmsghdr	 hdr;
			char		 buf[CMSG_SPACE(sizeof(int))];
		}		 cm;
		struct ipc_frame *g;
		ssize_t		 n;
		int		 niov = 0, sentfd = -1;

		memset(&mh, 0, sizeof(mh));
		for (g = f; g != NULL && niov < IPC_IOV_MAX;
		    g = TAILQ_NEXT(g, entry)) {
			if (g != f && g->fd != -1 && g->off == 0)
				break;
			iov[niov].iov_base = g->data + g->off;
			iov[niov].iov_len = g->len - g->off;
			niov++;
		}
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)niov;
		if (f->fd != -1 && f->off == 0) {
			struct cmsghdr *c;

			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_len = CMSG_LEN(sizeof(int));
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(c), &f->fd, sizeof(int));
			sentfd = f->fd;
		}
		n = sendmsg(p->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		if (sentfd != -1) {
			close(sentfd);
			f->fd = -1;
		}
		p->outbytes -= (size_t)n;
		/* Retire what went out; a partial frame stays at the head. */
		while (n > 0 && (f = TAILQ_FIRST(&p->outq)) != NULL) {
			size_t left = f->len - f->off;

			if ((size_t)n < left) {
				f->off += (size_t)n;
				return 0;
			}
			n -= (ssize_t)left;
			TAILQ_REMOVE(&p->outq, f, entry);
			free(f->data);
			free(f);
		}
	}
	return 0;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_peer *p = arg;

	if (p->dead)
		return;
	if (flush_out(p) == -1) {
		ipc_peer_close(p);
		return;
	}
	peer_update(p);
}

/* ipc_send - queue a frame (and an fd, which is then ours to close) */
int
ipc_send(struct ipc_peer *p, struct ipc_out *o, int fd)
{
	struct ipc_frame *f;
	struct ipc_hdr	 *h = (struct ipc_hdr *)o->b.data;

	if (p->dead) {
		if (fd != -1)
			close(fd);
		buf_free(&o->b);
		return -1;
	}
	h->len = (uint32_t)o->b.len;
	if (fd != -1)
		h->flags |= IPC_F_FD;
	f = xcalloc(1, sizeof(*f));
	f->data = (uint8_t *)o->b.data;
	f->len = o->b.len;
	f->fd = fd;
	o->b.data = NULL;
	TAILQ_INSERT_TAIL(&p->outq, f, entry);
	p->outbytes += f->len;
	/*
	 * Written once the events already active have run, so the frames
	 * they produce share one sendmsg(2).
	 */
	if (!event_pending(p->ev_flush, EV_TIMEOUT, NULL))
		event_active(p->ev_flush, EV_TIMEOUT, 0);
	return 0;
}

/* hello handling is built in: every server peer must start with it */
static int
handle_hello(struct ipc_peer *p, struct ipc_msg *m)
{
	struct ipc_out	 o;
	uint8_t		 role;
	uint32_t	 pid;

	if (ipc_get_u8(m, &role) == -1 || ipc_get_u32(m, &pid) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	if (role >= ROLE_MAX || !(p->accept_roles & RB(role))) {
		ipc_out_begin(&o, IPC_HELLO_FAIL, m->hdr.reqid);
		ipc_put_str(&o, "role not accepted here");
		ipc_send(p, &o, -1);
		return -1;
	}
	/*
	 * Daemons must run as our own uid (or root).  tern(1) may run as
	 * any user the socket's mode (0660, group of the tern user) lets in.
	 */
	if (role != ROLE_CTL && p->uid != getuid() && p->uid != 0) {
		log_warnx("ipc: refusing uid %u on %s socket", (unsigned)p->uid,
		    ipc_role_name(role));
		return -1;
	}
	p->role = role;
	ipc_out_begin(&o, IPC_HELLO_OK, m->hdr.reqid);
	ipc_put_u32(&o, (uint32_t)getpid());
	if (ipc_send(p, &o, -1) == -1)
		return -1;
	if (p->on_hello != NULL)
		p->on_hello(p);
	return 0;
}

/* ipc_hello - the client's first frame */
void
ipc_hello(struct ipc_peer *p, enum ipc_role self)
{
	struct ipc_out	 o;

	ipc_out_begin(&o, IPC_HELLO, 0);
	ipc_put_u8(&o, (uint8_t)self);
	ipc_put_u32(&o, (uint32_t)getpid());
	ipc_send(p, &o, -1);
}

static void
dispatch(struct ipc_peer *p, struct ipc_msg *m)
{
	const struct ipc_handler *h = NULL;
	size_t		  i;

	if (p->server_side && p->role == ROLE_NONE) {
		if (m->hdr.type != IPC_HELLO || m->fd != -1 ||
		    handle_hello(p, m) == -1)
			peer_drop(p, m->hdr.type, "bad handshake");
		return;
	}
	for (i = 0; i < p->ntable; i++)
		if (p->table[i].type == m->hdr.type) {
			h = &p->table[i];
			break;
		}
	if (h == NULL) {
		peer_drop(p, m->hdr.type, "unexpected type");
		return;
	}
	if (!(h->roles & RB(p->role))) {
		peer_drop(p, m->hdr.type, "role may not send this");
		return;
	}
	if ((h->fd == IPC_FD_YES) != (m->fd != -1)) {
		peer_drop(p, m->hdr.type, "fd rule broken");
		return;
	}
	if (h->fn(p, m) == -1 || m->bad)
		peer_drop(p, m->hdr.type, "malformed payload");
}

static int
read_in(struct ipc_peer *p)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	}		 cm;
	ssize_t		 n;
	bool		 overflow = false;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = p->in + p->inlen;
	iov.iov_len = IPC_MAXSIZE - p->inlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(p->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t k, nf;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nf = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nf; k++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (p->nfds == IPC_MAXFDS) {
				/* Too many: close this one and all the rest. */
				close(fd);
				overflow = true;
				continue;
			}
			p->fds[p->nfds++] = fd;
		}
	}
	if (overflow || (mh.msg_flags & MSG_CTRUNC))
		return -2;
	p->inlen += (size_t)n;
	return 1;
}

/* process_in - dispatch every complete frame in the input buffer */
static void
process_in(struct ipc_peer *p)
{
	size_t	 off = 0;

	p->refs++;
	while (!p->dead && p->inlen - off >= IPC_HDR_SIZE) {
		struct ipc_msg	 m;

		memset(&m, 0, sizeof(m));
		if (ipc_parse_hdr(p->in + off, p->inlen - off, &m.hdr) == -1) {
			peer_drop(p, 0, "bad frame header");
			break;
		}
		if (p->inlen - off < m.hdr.len)
			break;
		m.data = p->in + off + IPC_HDR_SIZE;
		m.len = m.hdr.len - IPC_HDR_SIZE;
		m.fd = -1;
		if (m.hdr.flags & IPC_F_FD) {
			if (p->nfds == 0) {
				peer_drop(p, m.hdr.type, "fd flag without fd");
				break;
			}
			m.fd = p->fds[0];
			memmove(p->fds, p->fds + 1,
			    --p->nfds * sizeof(int));
		}
		off += m.hdr.len;
		dispatch(p, &m);
		/* A handler that did not take the fd leaves it to us. */
		if (m.fd != -1 && p->dead)
			close(m.fd);
	}
	if (!p->dead && off > 0) {
		memmove(p->in, p->in + off, p->inlen - off);
		p->inlen -= off;
	}
	/* Stray fds with no frame to carry them are a protocol error. */
	if (!p->dead && p->inlen == 0 && p->nfds > 0)
		peer_drop(p, 0, "fd without a frame");
	p->refs--;
	if (p->dead && p->refs == 0)
		peer_free(p);
}

static void
peer_event(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_peer	*p = arg;
	int		 r;

	if (what & EV_WRITE) {
		if (flush_out(p) == -1) {
			ipc_peer_close(p);
			return;
		}
		peer_update(p);
	}
	if (what & EV_READ) {
		r = read_in(p);
		if (r == -2) {
			peer_drop(p, 0, "too many fds");
			return;
		}
		if (r == -1) {
			ipc_peer_close(p);
			return;
		}
		process_in(p);
	}
}

static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!bsnprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ipc_listen_unix - bind a fresh socket, replacing a stale one */
int
ipc_listen_unix(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	int		   fd;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, mode) == -1 || listen(fd, 128) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
ipc_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int		   fd;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	char	*p = buf;

	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = read(fd, p, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ipc_sync_request - blocking request/reply for the CLI */
int
ipc_sync_request(int fd, struct ipc_out *o, struct ipc_hdr *h,
    uint8_t **payload, size_t *len, int timeout_ms)
{
	struct ipc_hdr	*oh = (struct ipc_hdr *)o->b.data;
	uint8_t		 hb[IPC_HDR_SIZE];

	oh->len = (uint32_t)o->b.len;
	if (write_all(fd, o->b.data, o->b.len) == -1) {
		buf_free(&o->b);
		return -1;
	}
	buf_free(&o->b);
	if (read_full(fd, hb, sizeof(hb), timeout_ms) == -1)
		return -1;
	if (ipc_parse_hdr(hb, sizeof(hb), h) == -1) {
		errno = EPROTO;
		return -1;
	}
	*len = h->len - IPC_HDR_SIZE;
	*payload = xmalloc(*len + 1);
	if (read_full(fd, *payload, *len, timeout_ms) == -1) {
		free(*payload);
		return -1;
	}
	(*payload)[*len] = '\0';
	return 0;
}

/*
 * ipc_dial - a client link to run-dir/sock, HELLO sent as self; NULL
 * when nobody listens there (yet).
 */
struct ipc_peer *
ipc_dial(struct event_base *base, const char *run_dir, const char *sock,
    enum ipc_role self, enum ipc_role peer, const struct ipc_handler *h,
    size_t nh, void (*closed)(struct ipc_peer *), void *arg)
{
	char		 path[512];
	int		 fd;
	struct ipc_peer	*p;

	if (!bsnprintf(path, sizeof(path), "%s/%s", run_dir, sock))
		fatalx("run-dir too long");
	if ((fd = ipc_connect_unix(path)) == -1)
		return NULL;
	p = ipc_peer_new(base, fd, false, h, nh, closed, arg);
	p->role = peer;
	ipc_hello(p, self);
	return p;
}

/*
 * ipc_redial_later - arm *ev to call cb after *ms: 10 ms, doubling up
 * to 1 s (the caller sets *ms to 0 once a link is up).
 */
void
ipc_redial_later(struct event_base *base, struct event **ev, unsigned *ms,
    event_callback_fn cb, void *arg)
{
	struct timeval tv;

	*ms = *ms ? *ms * 2 : 10;
	if (*ms > 1000)
		*ms = 1000;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)*ms * 1000;
	if (*ev == NULL)
		*ev = evtimer_new(base, cb, arg);
	evtimer_add(*ev, &tv);
}

/* ipc_accept - a new peer's socket, or -1 (logged unless just spurious) */
int
ipc_accept(int lfd)
{
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1 &&
	    errno != EAGAIN && errno != EINTR)
		log_warn("accept");
	return fd;
}
