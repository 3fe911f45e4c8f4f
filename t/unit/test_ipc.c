/*
 * test_ipc.c - unit tests for common/ipc.c.
 *
 * Purpose:      the frame codec (ipc_out_begin/ipc_put_* and
 *               ipc_parse_hdr/ipc_get_*), its refusals (leftover bytes,
 *               short payloads, small destinations, CR/LF/NUL in
 *               strings, bad headers), and two ipc_peers on a socketpair
 *               under libevent: HELLO handshake, a frame carrying an fd
 *               (SCM_RIGHTS), frames split and batched, and peers that
 *               send garbage being dropped (on_close called once, socket
 *               closed, no fd leaked) while this process carries on.
 *               Also ipc_sync_request against a canned reply.
 * Used by:      t/00-unit.t (build/t/test_ipc).
 * Trust:        test code; the raw writes model a compromised process.
 * Spool access: none.
 * See:          common/ipc.h, tern-spool(5) (IPC section).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "log.h"
#include "tap.h"
#include "util.h"

#define BUG_FD_LEAK	NULL	/* fixed: every fd past the 16th is closed */

/* --- codec ------------------------------------------------------------- */

/* finish - set the length field as ipc_send would; returns the frame */
static uint8_t *
finish(struct ipc_out *o, size_t *len)
{
	struct ipc_hdr	 h;

	memcpy(&h, o->b.data, sizeof(h));
	h.len = (uint32_t)o->b.len;
	memcpy(o->b.data, &h, sizeof(h));
	*len = o->b.len;
	return (uint8_t *)o->b.data;
}

/* msg_of - an ipc_msg over a parsed frame */
static int
msg_of(const uint8_t *f, size_t n, struct ipc_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (ipc_parse_hdr(f, n, &m->hdr) == -1)
		return -1;
	m->data = f + IPC_HDR_SIZE;
	m->len = m->hdr.len - IPC_HDR_SIZE;
	return 0;
}

/* raw_msg - an ipc_msg over arbitrary payload bytes */
static void
raw_msg(struct ipc_msg *m, const void *p, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->data = p;
	m->len = n;
}

static void
test_codec(void)
{
	struct ipc_out	 o;
	struct ipc_msg	 m;
	uint8_t		*f, u8;
	uint32_t	 u32;
	uint64_t	 u64;
	const uint8_t	*bp;
	size_t		 n, bn;
	char		 s[64], *big;

	ipc_out_begin(&o, IPC_SMTPD_MSG_NEW, 0x1122334455667788ULL);
	ipc_put_u8(&o, 0xa5);
	ipc_put_u32(&o, 0xdeadbeef);
	ipc_put_u64(&o, 0x0123456789abcdefULL);
	ipc_put_str(&o, "sender@example.com");
	ipc_put_str(&o, "");
	ipc_put_str(&o, NULL);
	ipc_put_blob(&o, "\0\1\2", 3);
	ipc_put_blob(&o, NULL, 0);
	f = finish(&o, &n);
	is_int(n, IPC_HDR_SIZE + 1 + 4 + 8 + (2 + 18) + 2 + 2 + (4 + 3) + 4,
	    "frame length");

	is_int(msg_of(f, n, &m), 0, "ipc_parse_hdr accepts the frame");
	is_int(m.hdr.type, IPC_SMTPD_MSG_NEW, "header type");
	is_int(m.hdr.version, IPC_VERSION, "header version");
	is_int(m.hdr.flags, 0, "header flags");
	is_int(m.hdr.len, n, "header length");
	is_u64(m.hdr.reqid, 0x1122334455667788ULL, "header reqid");
	ok(ipc_get_u8(&m, &u8) == 0 && u8 == 0xa5, "u8 decodes");
	ok(ipc_get_u32(&m, &u32) == 0 && u32 == 0xdeadbeef, "u32 decodes");
	ok(ipc_get_u64(&m, &u64) == 0 && u64 == 0x0123456789abcdefULL,
	    "u64 decodes");
	is_int(ipc_get_str(&m, s, sizeof(s)), 0, "str decodes");
	is_str(s, "sender@example.com", "str value");
	ok(ipc_get_str(&m, s, sizeof(s)) == 0 && s[0] == '\0',
	    "empty str decodes");
	ok(ipc_get_str(&m, s, 1) == 0 && s[0] == '\0',
	    "NULL str decodes as empty into a 1-byte destination");
	ok(ipc_get_blob(&m, &bp, &bn) == 0 && bn == 3 &&
	    memcmp(bp, "\0\1\2", 3) == 0, "blob decodes");
	ok(ipc_get_blob(&m, &bp, &bn) == 0 && bn == 0, "empty blob decodes");
	is_int(ipc_get_end(&m), 0, "payload consumed exactly");
	ok(!m.bad, "message not marked bad");

	/* Leftover bytes. */
	msg_of(f, n, &m);
	ipc_get_u8(&m, &u8);
	ipc_get_u32(&m, &u32);
	is_int(ipc_get_end(&m), -1, "ipc_get_end refuses leftover bytes");
	ok(m.bad, "leftover bytes mark the message bad");

	/* Reading past the end; bad is sticky. */
	msg_of(f, n, &m);
	m.len = 3;
	is_int(ipc_get_u32(&m, &u32), -1, "u32 from 3 bytes refused");
	ok(m.bad, "short read marks the message bad");
	is_int(ipc_get_u8(&m, &u8), -1, "later getters fail once bad");
	is_int(ipc_get_end(&m), -1, "ipc_get_end fails once bad");
	msg_of(f, n, &m);
	m.len = 0;
	is_int(ipc_get_u8(&m, &u8), -1, "u8 from 0 bytes refused");
	msg_of(f, n, &m);
	m.len = 7;
	ipc_get_u8(&m, &u8);
	is_int(ipc_get_u64(&m, &u64), -1, "u64 from 6 bytes refused");

	/* Destination too small: "sender@example.com" is 18 bytes. */
	msg_of(f, n, &m);
	ipc_get_u8(&m, &u8);
	ipc_get_u32(&m, &u32);
	ipc_get_u64(&m, &u64);
	memset(s, 'X', sizeof(s));
	is_int(ipc_get_str(&m, s, 18), -1,
	    "str of 18 refused into 18 bytes (no room for NUL)");
	ok(m.bad, "too-small destination marks the message bad");
	ok(s[0] == 'X', "nothing copied into the small destination");
	msg_of(f, n, &m);
	ipc_get_u8(&m, &u8);
	ipc_get_u32(&m, &u32);
	ipc_get_u64(&m, &u64);
	is_int(ipc_get_str(&m, s, 19), 0, "str of 18 fits in 19 bytes");
	is_int(ipc_get_str(&m, s, 0), -1, "no string fits in 0 bytes");
	free(o.b.data);

	/* CR, LF, NUL inside strings; lengths past the payload. */
	{
		static const struct {
			const char	*what;
			uint8_t		 p[8];
			size_t		 n;
		} bad[] = {
			{ "CR", { 3, 0, 'a', '\r', 'b' }, 5 },
			{ "LF", { 3, 0, 'a', '\n', 'b' }, 5 },
			{ "NUL", { 3, 0, 'a', '\0', 'b' }, 5 },
			{ "CRLF at end", { 3, 0, 'a', '\r', '\n' }, 5 },
			{ "length past payload", { 4, 0, 'a', 'b', 'c' }, 5 },
			{ "length 65535", { 0xff, 0xff, 'a' }, 3 },
			{ "half a length", { 1 }, 1 },
		};
		unsigned i;

		for (i = 0; i < nitems(bad); i++) {
			raw_msg(&m, bad[i].p, bad[i].n);
			is_int(ipc_get_str(&m, s, sizeof(s)), -1,
			    "ipc_get_str refuses %s", bad[i].what);
			ok(m.bad, "%s marks the message bad", bad[i].what);
		}
	}
	ipc_out_begin(&o, IPC_CTL_REPLY, 1);
	ipc_put_str(&o, "line1\r\nline2");
	f = finish(&o, &n);
	msg_of(f, n, &m);
	is_int(ipc_get_str(&m, s, sizeof(s)), -1,
	    "CRLF put by a sender is refused by the receiver");
	free(o.b.data);

	/* Blob lengths past the payload. */
	{
		uint8_t p[] = { 5, 0, 0, 0, 'a', 'b' };
		uint8_t q[] = { 0xff, 0xff, 0xff, 0xff, 'a' };

		raw_msg(&m, p, sizeof(p));
		is_int(ipc_get_blob(&m, &bp, &bn), -1,
		    "blob longer than the payload refused");
		raw_msg(&m, q, sizeof(q));
		is_int(ipc_get_blob(&m, &bp, &bn), -1,
		    "blob of 4 GiB refused");
	}

	/* The longest string allowed round-trips. */
	big = xmalloc(IPC_STR_MAX + 1);
	memset(big, 's', IPC_STR_MAX);
	big[IPC_STR_MAX] = '\0';
	ipc_out_begin(&o, IPC_CTL_REQUEST, 9);
	ipc_put_str(&o, big);
	f = finish(&o, &n);
	msg_of(f, n, &m);
	{
		char *dst = xmalloc(IPC_STR_MAX + 1);

		ok(ipc_get_str(&m, dst, IPC_STR_MAX + 1) == 0 &&
		    strcmp(dst, big) == 0 && ipc_get_end(&m) == 0,
		    "a %d-byte string round-trips", IPC_STR_MAX);
		free(dst);
	}
	free(o.b.data);
	free(big);
}

/* hdr_bytes - a raw header */
static void
hdr_bytes(uint8_t *p, uint16_t type, uint8_t ver, uint8_t flags,
    uint32_t len, uint64_t reqid)
{
	struct ipc_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.version = ver;
	h.flags = flags;
	h.len = len;
	h.reqid = reqid;
	memcpy(p, &h, sizeof(h));
}

static void
test_parse_hdr(void)
{
	static const struct {
		const char	*what;
		uint8_t		 ver;
		uint8_t		 flags;
		uint32_t	 len;
		int		 rc;
	} t[] = {
		{ "empty payload", IPC_VERSION, 0, IPC_HDR_SIZE, 0 },
		{ "maximum size", IPC_VERSION, 0, IPC_MAXSIZE, 0 },
		{ "fd flag", IPC_VERSION, IPC_F_FD, 100, 0 },
		{ "length below the header", IPC_VERSION, 0, IPC_HDR_SIZE - 1,
		    -1 },
		{ "length 0", IPC_VERSION, 0, 0, -1 },
		{ "oversize by one", IPC_VERSION, 0, IPC_MAXSIZE + 1, -1 },
		{ "oversize 4 GiB", IPC_VERSION, 0, 0xffffffffu, -1 },
		{ "version 0", 0, 0, 100, -1 },
		{ "version 2", IPC_VERSION + 1, 0, 100, -1 },
		{ "version 255", 255, 0, 100, -1 },
		{ "unknown flag 0x02", IPC_VERSION, 0x02, 100, -1 },
		{ "unknown flag 0x80", IPC_VERSION, 0x80 | IPC_F_FD, 100, -1 },
	};
	struct ipc_hdr	 h;
	uint8_t		 b[IPC_HDR_SIZE];
	unsigned	 i;

	is_int(sizeof(struct ipc_hdr), IPC_HDR_SIZE, "header is 16 bytes");
	for (i = 0; i < nitems(t); i++) {
		hdr_bytes(b, IPC_HELLO, t[i].ver, t[i].flags, t[i].len, 7);
		is_int(ipc_parse_hdr(b, sizeof(b), &h), t[i].rc,
		    "ipc_parse_hdr: %s %s", t[i].what,
		    t[i].rc == 0 ? "accepted" : "refused");
	}
	hdr_bytes(b, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE, 7);
	for (i = 0; i < IPC_HDR_SIZE; i++)
		if (ipc_parse_hdr(b, i, &h) != -1)
			break;
	is_int(i, IPC_HDR_SIZE, "ipc_parse_hdr refuses every short buffer");

	is_str(ipc_type_name(IPC_HELLO), "HELLO", "type name HELLO");
	is_str(ipc_type_name(IPC_CTL_REPLY), "CTL_REPLY", "type name last");
	is_str(ipc_type_name(0), "unknown", "type name 0");
	is_str(ipc_type_name(IPC_TYPE_MAX), "unknown", "type name max");
	is_str(ipc_type_name(65535), "unknown", "type name 65535");
	is_str(ipc_role_name(ROLE_SMTPD), "smtpd", "role name smtpd");
	is_str(ipc_role_name(ROLE_MAX), "unknown", "role name max");
}

/* --- peers ------------------------------------------------------------- */

struct state {
	int	 closes;		/* on_close calls */
	int	 hello_ok;
	int	 got;			/* frames handled */
	int	 fd;			/* received fd */
	uint64_t reqid;
	char	 str[64];
	int	 fail_handler;		/* handler returns -1 */
};

static struct state	 srv, cli;

static void
on_close_srv(struct ipc_peer *p)
{
	srv.closes++;
}

static void
on_close_cli(struct ipc_peer *p)
{
	cli.closes++;
}

/* IPC_SMTPD_MSG_COMMIT: str, u64, and an fd */
static int
h_commit(struct ipc_peer *p, struct ipc_msg *m)
{
	uint64_t	 v;

	if (ipc_get_str(m, srv.str, sizeof(srv.str)) == -1 ||
	    ipc_get_u64(m, &v) == -1 || ipc_get_end(m) == -1)
		return -1;
	srv.reqid = m->hdr.reqid;
	srv.fd = m->fd;			/* ours now */
	m->fd = -1;
	srv.got++;
	return 0;
}

/* IPC_SMTPD_MSG_NEW: one string, no fd */
static int
h_new(struct ipc_peer *p, struct ipc_msg *m)
{
	if (srv.fail_handler)
		return -1;
	if (ipc_get_str(m, srv.str, sizeof(srv.str)) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	srv.got++;
	srv.reqid = m->hdr.reqid;
	return 0;
}

static int
h_hello_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	uint32_t pid;

	if (ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1)
		return -1;
	cli.hello_ok = (pid_t)pid == getpid();
	return 0;
}

static int
h_commit_ok(struct ipc_peer *p, struct ipc_msg *m)
{
	if (ipc_get_end(m) == -1)
		return -1;
	cli.reqid = m->hdr.reqid;
	cli.got++;
	return 0;
}

static const struct ipc_handler srv_table[] = {
	{ IPC_SMTPD_MSG_COMMIT, RB(ROLE_SMTPD), IPC_FD_YES, h_commit },
	{ IPC_SMTPD_MSG_NEW, RB(ROLE_SMTPD), IPC_FD_NO, h_new },
	{ IPC_CTL_REQUEST, RB(ROLE_CTL), IPC_FD_NO, h_new },
};

static const struct ipc_handler cli_table[] = {
	{ IPC_HELLO_OK, RB(ROLE_NONE), IPC_FD_NO, h_hello_ok },
	{ IPC_QUEUED_COMMIT_OK, RB(ROLE_NONE), IPC_FD_NO, h_commit_ok },
};

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* run_until - drive the loop until *counter >= target or ms pass */
static bool
run_until(struct event_base *base, const int *counter, int target, int ms)
{
	uint64_t	 end = now_ms() + (uint64_t)ms;
	struct timeval	 tv = { 0, 5000 };
	struct event	*t = event_new(base, -1, EV_PERSIST, tick, NULL);

	event_add(t, &tv);
	while (*counter < target && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *counter >= target;
}

/* spin - run the loop for ms, whatever happens */
static void
spin(struct event_base *base, int ms)
{
	int never = 0;

	run_until(base, &never, 1, ms);
}

/* wait_role - run the loop until the server peer knows its client */
static bool
wait_role(struct event_base *base, const struct ipc_peer *p, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (p->role == ROLE_NONE && now_ms() < end)
		spin(base, 5);
	return p->role != ROLE_NONE;
}

/* recv_now - what is waiting on a raw socket, without blocking */
static ssize_t
recv_now(int fd, void *b, size_t n)
{
	return recv(fd, b, n, MSG_DONTWAIT);
}

/* wait_eof - 0 once the other end has closed (data is skipped) */
static int
wait_eof(int fd, int ms)
{
	char	 b[512];
	uint64_t end = now_ms() + (uint64_t)ms;
	ssize_t	 r;

	while (now_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		if ((r = read(fd, b, sizeof(b))) == 0)
			return 0;
		if (r == -1 && errno != EINTR && errno != EAGAIN)
			return -1;
	}
	return -1;
}

static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
reset_state(void)
{
	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	srv.fd = cli.fd = -1;
}

/* raw_hello - a HELLO frame written on a raw socket */
static void
raw_hello(int fd, uint8_t role, bool extra)
{
	struct ipc_out	 o;
	uint8_t		*f;
	size_t		 n;

	ipc_out_begin(&o, IPC_HELLO, 1);
	ipc_put_u8(&o, role);
	ipc_put_u32(&o, (uint32_t)getpid());
	if (extra)
		ipc_put_u8(&o, 0);
	f = finish(&o, &n);
	if (write_all(fd, f, n) == -1)
		bail_out("write failed");
	free(o.b.data);
}

/* send_fds - one sendmsg with n bytes of data and nfd copies of fd */
static int
send_fds(int sock, const void *data, size_t n, int fd, int nfd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	}		 cm;
	struct cmsghdr	*c;
	int		 i;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfd > 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		for (i = 0; i < nfd; i++)
			memcpy(CMSG_DATA(c) + (size_t)i * sizeof(int), &fd,
			    sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* A server peer and a client peer talking properly. */
static void
test_peers(void)
{
	struct event_base *base = event_base_new();
	struct ipc_peer	*s, *c;
	struct ipc_out	 o;
	int		 sv[2], pp[2], fl;
	char		 rb[8];
	size_t		 i;

	reset_state();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(pp) == -1)
		bail_out("socketpair/pipe");
	s = ipc_peer_new(base, sv[0], true, srv_table, nitems(srv_table),
	    on_close_srv, NULL);
	s->accept_roles = RB(ROLE_SMTPD);
	c = ipc_peer_new(base, sv[1], false, cli_table, nitems(cli_table),
	    on_close_cli, NULL);
	ok(s->uid == getuid(), "SO_PEERCRED gives our uid");

	ipc_hello(c, ROLE_SMTPD);
	ok(run_until(base, &cli.hello_ok, 1, 2000),
	    "HELLO answered by HELLO_OK with the server's pid");
	is_int(s->role, ROLE_SMTPD, "server knows the client's role");

	/* A frame with an fd: the write end of a pipe. */
	ipc_out_begin(&o, IPC_SMTPD_MSG_COMMIT, 77);
	ipc_put_str(&o, "vmta-1");
	ipc_put_u64(&o, 12345);
	is_int(ipc_send(c, &o, pp[1]), 0, "frame with fd queued");
	ok(run_until(base, &srv.got, 1, 2000), "frame with fd delivered");
	/*
	 * Frames leave at the end of the loop turn and the sender's copy is
	 * closed then; the receiver may have been given the same number.
	 */
	ok(srv.fd == pp[1] || (fcntl(pp[1], F_GETFD) == -1 && errno == EBADF),
	    "the sender's copy of the fd is closed once sent");
	is_str(srv.str, "vmta-1", "payload string received");
	is_u64(srv.reqid, 77, "reqid received");
	ok(srv.fd >= 0, "fd received (%d)", srv.fd);
	fl = srv.fd >= 0 ? fcntl(srv.fd, F_GETFD) : -1;
	ok(fl != -1 && (fl & FD_CLOEXEC), "received fd is close-on-exec");
	ok(srv.fd >= 0 && write(srv.fd, "ping", 4) == 4 &&
	    read(pp[0], rb, sizeof(rb)) == 4 && memcmp(rb, "ping", 4) == 0,
	    "received fd is the pipe's write end");
	if (srv.fd >= 0)
		close(srv.fd);
	close(pp[0]);

	/* The answer flows back. */
	ipc_out_begin(&o, IPC_QUEUED_COMMIT_OK, 77);
	is_int(ipc_send(s, &o, -1), 0, "reply queued");
	ok(run_until(base, &cli.got, 1, 2000), "reply delivered");
	is_u64(cli.reqid, 77, "reply reqid");

	/* Many frames in a burst: batched reads and queued writes. */
	srv.got = 0;
	for (i = 0; i < 500; i++) {
		ipc_out_begin(&o, IPC_SMTPD_MSG_NEW, i);
		ipc_put_str(&o, "burst");
		ipc_send(c, &o, -1);
	}
	run_until(base, &srv.got, 500, 5000);
	is_int(srv.got, 500, "500 frames in a burst all delivered");
	is_u64(srv.reqid, 499, "in order (last reqid 499)");
	is_int(srv.closes + cli.closes, 0, "nobody dropped so far");

	/* A clean close is seen by the other side. */
	ipc_peer_close(c);
	is_int(cli.closes, 1, "ipc_peer_close calls on_close");
	ok(run_until(base, &srv.closes, 1, 2000), "the other side sees EOF");
	is_int(srv.closes, 1, "on_close called once");
	event_base_free(base);
}

/* A frame written one byte at a time still arrives whole. */
static void
test_split(void)
{
	struct event_base *base = event_base_new();
	struct ipc_peer	*s;
	struct ipc_out	 o;
	uint8_t		*f;
	size_t		 n, i;
	int		 sv[2];

	reset_state();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail_out("socketpair");
	s = ipc_peer_new(base, sv[0], true, srv_table, nitems(srv_table),
	    on_close_srv, NULL);
	s->accept_roles = RB(ROLE_SMTPD);
	raw_hello(sv[1], ROLE_SMTPD, false);
	wait_role(base, s, 2000);
	is_int(s->role, ROLE_SMTPD, "raw HELLO accepted");
	{
		uint8_t hb[64];
		ssize_t r = recv_now(sv[1], hb, sizeof(hb));
		struct ipc_hdr h;

		ok(r >= IPC_HDR_SIZE && ipc_parse_hdr(hb, (size_t)r, &h) == 0 &&
		    h.type == IPC_HELLO_OK && h.reqid == 1,
		    "HELLO_OK echoes the reqid");
	}

	ipc_out_begin(&o, IPC_SMTPD_MSG_NEW, 5);
	ipc_put_str(&o, "split into bytes");
	f = finish(&o, &n);
	for (i = 0; i < n; i++) {
		if (write(sv[1], f + i, 1) != 1)
			break;
		spin(base, 1);
	}
	ok(run_until(base, &srv.got, 1, 2000), "byte-by-byte frame delivered");
	is_str(srv.str, "split into bytes", "byte-by-byte payload intact");

	/* Two frames in one write. */
	srv.got = 0;
	{
		uint8_t two[256];

		memcpy(two, f, n);
		memcpy(two + n, f, n);
		ok(write(sv[1], two, 2 * n) == (ssize_t)(2 * n),
		    "two frames written at once");
	}
	run_until(base, &srv.got, 2, 2000);
	spin(base, 20);
	is_int(srv.got, 2, "both frames of one write dispatched");
	is_int(srv.closes, 0, "peer not dropped");
	free(o.b.data);
	ipc_peer_close(s);
	close(sv[1]);
	event_base_free(base);
}

enum gmode { G_RAW, G_HELLO_FIRST };

struct garbage {
	const char	*what;
	enum gmode	 mode;
	uint8_t		 bytes[40];
	size_t		 n;
	int		 nfd;		/* fds sent with the bytes */
	bool		 fail_handler;
	bool		 expect_hello_fail;
	bool		 eof;		/* shut down writing afterwards */
};

/*
 * Frames are host-order; the tables below are for little-endian hosts
 * and are rebuilt with hdr_bytes where the byte order matters.
 */
static void
garbage_bytes(struct garbage *g, uint16_t type, uint8_t ver, uint8_t flags,
    uint32_t len, const void *payload, size_t plen)
{
	hdr_bytes(g->bytes, type, ver, flags, len, 3);
	if (plen)
		memcpy(g->bytes + IPC_HDR_SIZE, payload, plen);
	g->n = IPC_HDR_SIZE + plen;
}

static void
run_garbage(struct garbage *g)
{
	struct event_base *base;
	struct ipc_peer	*s;
	int		 sv[2], before, after, fd = -1;
	char		 b[256];
	ssize_t		 r;

	reset_state();
	before = count_fds();
	base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail_out("socketpair");
	s = ipc_peer_new(base, sv[0], true, srv_table, nitems(srv_table),
	    on_close_srv, NULL);
	s->accept_roles = RB(ROLE_SMTPD) | RB(ROLE_CTL);
	srv.fail_handler = g->fail_handler;
	if (g->mode == G_HELLO_FIRST) {
		raw_hello(sv[1], ROLE_SMTPD, false);
		wait_role(base, s, 2000);
		r = recv_now(sv[1], b, sizeof(b));	/* HELLO_OK */
		if (s->role != ROLE_SMTPD || r < IPC_HDR_SIZE)
			diag("    handshake failed before %s", g->what);
	}
	if (g->nfd > 0) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		send_fds(sv[1], g->bytes, g->n, fd, g->nfd);
		close(fd);
	} else if (g->n > 0 && write_all(sv[1], g->bytes, g->n) == -1)
		diag("    write failed: %s", strerror(errno));
	if (g->n == 0 || g->eof)
		shutdown(sv[1], SHUT_WR);
	ok(run_until(base, &srv.closes, 1, 2000), "dropped: %s", g->what);
	is_int(srv.closes, 1, "on_close called once: %s", g->what);
	if (g->expect_hello_fail) {
		struct ipc_hdr h;

		r = recv_now(sv[1], b, sizeof(b));
		ok(r >= IPC_HDR_SIZE && ipc_parse_hdr((uint8_t *)b, (size_t)r,
		    &h) == 0 && h.type == IPC_HELLO_FAIL,
		    "HELLO_FAIL sent before the drop: %s", g->what);
	}
	/* The dropped peer's socket is closed: we read EOF. */
	is_int(wait_eof(sv[1], 2000), 0, "socket closed after the drop: %s",
	    g->what);
	close(sv[1]);
	event_base_free(base);
	after = count_fds();
	is_int(after, before, "no fd leaked: %s", g->what);
}

static void
test_garbage(void)
{
	struct garbage	 g;
	uint8_t		 p[40];

	memset(p, 0, sizeof(p));
	/* Straight garbage before any handshake. */
	memset(&g, 0, sizeof(g));
	g.what = "16 bytes of 0xff";
	memset(g.bytes, 0xff, 16);
	g.n = 16;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "HTTP request";
	memcpy(g.bytes, "GET / HTTP/1.0\r\n\r\n", 18);
	g.n = 18;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "wrong version";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION + 1, 0, IPC_HDR_SIZE + 5,
	    "\2\0\0\0\0", 5);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "length below the header";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, 4, NULL, 0);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "oversize length";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_MAXSIZE + 1, NULL, 0);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "unknown flag";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0x40, IPC_HDR_SIZE, NULL, 0);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "first frame not HELLO";
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0, IPC_HDR_SIZE + 3,
	    "\1\0x", 3);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "HELLO with a role not accepted";
	p[0] = ROLE_QUEUED;
	memset(p + 1, 0, 4);
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE + 5, p, 5);
	g.expect_hello_fail = true;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "HELLO with an out-of-range role";
	p[0] = 200;
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE + 5, p, 5);
	g.expect_hello_fail = true;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "HELLO with trailing bytes";
	p[0] = ROLE_SMTPD;
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE + 6, p, 6);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "short HELLO";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE + 2, p, 2);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "HELLO carrying an fd";
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, IPC_F_FD, IPC_HDR_SIZE + 5,
	    p, 5);
	g.nfd = 1;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "EOF before anything";
	run_garbage(&g);

	/* After a good handshake as smtpd. */
	memset(&g, 0, sizeof(g));
	g.what = "type not in the table";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_QUEUED_OPEN_OK, IPC_VERSION, 0, IPC_HDR_SIZE,
	    NULL, 0);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "type 0";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, 0, IPC_VERSION, 0, IPC_HDR_SIZE, NULL, 0);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "role may not send this type";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_CTL_REQUEST, IPC_VERSION, 0, IPC_HDR_SIZE + 3,
	    "\1\0x", 3);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "second HELLO";
	g.mode = G_HELLO_FIRST;
	p[0] = ROLE_SMTPD;
	garbage_bytes(&g, IPC_HELLO, IPC_VERSION, 0, IPC_HDR_SIZE + 5, p, 5);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "fd flag without an fd";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, IPC_F_FD,
	    IPC_HDR_SIZE + 3, "\1\0x", 3);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "fd-carrying type without an fd";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_COMMIT, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 11, "\1\0x\0\0\0\0\0\0\0\0", 11);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "fd sent with a no-fd type";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, IPC_F_FD,
	    IPC_HDR_SIZE + 3, "\1\0x", 3);
	g.nfd = 1;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "stray fd without the fd flag";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 3, "\1\0x", 3);
	g.nfd = 1;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "five fds in one message (control data truncated)";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_COMMIT, IPC_VERSION, IPC_F_FD,
	    IPC_HDR_SIZE + 11, "\1\0x\0\0\0\0\0\0\0\0", 11);
	g.nfd = 5;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "payload with leftover bytes";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 4, "\1\0xy", 4);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "string with LF";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 4, "\2\0\n\n", 4);
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "handler refuses";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 3, "\1\0x", 3);
	g.fail_handler = true;
	run_garbage(&g);

	memset(&g, 0, sizeof(g));
	g.what = "EOF in the middle of a frame";
	g.mode = G_HELLO_FIRST;
	garbage_bytes(&g, IPC_SMTPD_MSG_NEW, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 30, "\1\0x", 3);
	g.eof = true;
	run_garbage(&g);
}

/*
 * More than IPC_MAXFDS fds waiting for frames: read_in closes the first
 * fd over the limit and returns, so the rest of that message's fds are
 * never closed.
 */
static void
test_fd_flood(void)
{
	struct event_base *base;
	struct ipc_peer	*s;
	int		 sv[2], before, after, fd, i;
	char		 b[64];

	reset_state();
	before = count_fds();
	base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail_out("socketpair");
	s = ipc_peer_new(base, sv[0], true, srv_table, nitems(srv_table),
	    on_close_srv, NULL);
	s->accept_roles = RB(ROLE_SMTPD);
	raw_hello(sv[1], ROLE_SMTPD, false);
	wait_role(base, s, 2000);
	if (recv_now(sv[1], b, sizeof(b)) < IPC_HDR_SIZE)
		diag("    no HELLO_OK");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* One byte of a header and 4 fds, five times: 20 fds, 5 bytes. */
	for (i = 0; i < 5; i++)
		if (send_fds(sv[1], "\0", 1, fd, 4) == -1)
			diag("    sendmsg %d failed: %s", i, strerror(errno));
	close(fd);
	ok(run_until(base, &srv.closes, 1, 2000), "fd flood: peer dropped");
	is_int(wait_eof(sv[1], 2000), 0, "fd flood: socket closed");
	close(sv[1]);
	event_base_free(base);
	after = count_fds();
	todo_start(BUG_FD_LEAK);
	is_int(after, before, "fd flood: no fd leaked");
	todo_end();
}

/* ipc_sync_request against replies already waiting in the socket. */
static void
test_sync(void)
{
	struct ipc_out	 o, r;
	struct ipc_hdr	 h;
	uint8_t		*f, *payload = NULL;
	size_t		 n, len = 0;
	int		 sv[2];
	char		 b[256];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail_out("socketpair");
	ipc_out_begin(&r, IPC_CTL_REPLY, 4);
	ipc_put_str(&r, "{\"ok\":true}");
	f = finish(&r, &n);
	write_all(sv[1], f, n);
	free(r.b.data);

	ipc_out_begin(&o, IPC_CTL_REQUEST, 4);
	ipc_put_str(&o, "{\"cmd\":\"status\"}");
	is_int(ipc_sync_request(sv[0], &o, &h, &payload, &len, 1000), 0,
	    "sync request gets its reply");
	is_int(h.type, IPC_CTL_REPLY, "sync reply type");
	is_int(len, 2 + 11, "sync reply length");
	ok(payload != NULL && memcmp(payload + 2, "{\"ok\":true}", 11) == 0 &&
	    payload[len] == '\0', "sync reply payload, NUL-terminated");
	free(payload);
	ok(recv_now(sv[1], b, sizeof(b)) == IPC_HDR_SIZE + 2 + 16,
	    "the request went out whole");

	/* A reply with a bad header. */
	memset(b, 0xee, IPC_HDR_SIZE);
	write_all(sv[1], b, IPC_HDR_SIZE);
	ipc_out_begin(&o, IPC_CTL_REQUEST, 5);
	errno = 0;
	is_int(ipc_sync_request(sv[0], &o, &h, &payload, &len, 1000), -1,
	    "sync request refuses a bad reply header");
	is_int(errno, EPROTO, "errno EPROTO");
	ok(recv_now(sv[1], b, sizeof(b)) == IPC_HDR_SIZE, "request sent");

	/* No reply at all. */
	ipc_out_begin(&o, IPC_CTL_REQUEST, 6);
	errno = 0;
	is_int(ipc_sync_request(sv[0], &o, &h, &payload, &len, 50), -1,
	    "sync request times out");
	is_int(errno, ETIMEDOUT, "errno ETIMEDOUT");
	ok(recv_now(sv[1], b, sizeof(b)) == IPC_HDR_SIZE, "request sent");

	/* A reply cut short by EOF. */
	hdr_bytes((uint8_t *)b, IPC_CTL_REPLY, IPC_VERSION, 0,
	    IPC_HDR_SIZE + 100, 7);
	write_all(sv[1], b, IPC_HDR_SIZE + 10);
	shutdown(sv[1], SHUT_WR);
	ipc_out_begin(&o, IPC_CTL_REQUEST, 7);
	payload = NULL;
	is_int(ipc_sync_request(sv[0], &o, &h, &payload, &len, 1000), -1,
	    "sync request refuses a truncated reply");
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test_ipc", 0);
	test_codec();
	test_parse_hdr();
	test_peers();
	test_split();
	test_garbage();
	test_fd_flood();
	test_sync();
	ok(1, "the process survived every bad peer");
	return done_testing();
}
