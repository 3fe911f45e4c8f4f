/*
 * test_spool.c - unit tests for the queue-file format in common/spool.c.
 *
 * Purpose:      spool ids (spool_id_new, spool_id_ok, spool_bucket); a
 *               queue file built with spool_head_build + body +
 *               spool_tail_build (B length patched at env.blen_off with
 *               spool_blen_fmt) reads back field for field with
 *               spool_env_read; then the file is cut at every length,
 *               given trailing junk, a wrong version, no Z, and many
 *               targeted corruptions, and every one must be refused
 *               without a crash.  A byte-flip sweep checks that whatever
 *               the reader accepts is still self-consistent.  The DSN
 *               records: N (NOTIFY, ORCPT) after an R and E (RET, ENVID)
 *               after J round-trip, are left out when empty (the file is
 *               then byte for byte the pre-DSN one, which a hand-built
 *               old file shows and which reads with the defaults), never
 *               move a status byte, are refused by the writer when
 *               invalid and by the reader when damaged or misplaced.
 * Used by:      t/00-unit.t (build/t/test_spool).
 * Trust:        test code; the files model crash damage and hand edits.
 * Spool access: temporary files only (mkstemp in $TMPDIR or /tmp, removed
 *               at once); never a real spool.
 * See:          common/spool.h, tern-spool(5).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "tap.h"
#include "util.h"

static const char body[] =
    "Received: from client.example\r\n"
    "Subject: test\r\n"
    "\r\n"
    "Z\x05\x00\x00\x00 looks like a record but is body\r\n"
    ".\r\n";

static const char *rcpt_addrs[] = {
	"one@example.com", "two@example.org", "\"q u\"@example.net",
};

/* A queue file in memory, and where its parts are. */
struct qf {
	struct buf	 b;
	size_t		 head_len;	/* through B's digits */
	size_t		 body_len;
	size_t		 tail_off;
	off_t		 status_off[3];
	off_t		 blen_off;
};

/* tmpfd - an unlinked temporary file */
static int
tmpfd(void)
{
	const char	*dir = getenv("TMPDIR");
	char		 path[512];
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/tern-unit-spool.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1)
		bail_out("mkstemp failed");
	unlink(path);
	return fd;
}

/* put_file - make fd hold exactly p[0..n) */
static void
put_file(int fd, const void *p, size_t n)
{
	if (ftruncate(fd, 0) == -1 || (n > 0 && pwrite(fd, p, n, 0) !=
	    (ssize_t)n))
		bail_out("cannot write the temporary file");
}

static void
fill_env(struct spool_env *e)
{
	unsigned i;

	spool_env_init(e);
	memcpy(e->id, "5f3e2a1b9c8d7e6f", SPOOL_ID_LEN + 1);
	e->arrival = 1700000000;
	e->sender = xstrdup("sender@example.com");
	e->client = xstrdup("[192.0.2.7]:40211");
	e->helo = xstrdup("client.example");
	for (i = 0; i < nitems(rcpt_addrs); i++)
		spool_env_add_rcpt(e, rcpt_addrs[i]);
	e->rcpts[1].status = RS_DELIVERED;
	e->rcpts[2].status = RS_BOUNCED;
	tern_strlcpy(e->vmta, "vmta-1", sizeof(e->vmta));
	tern_strlcpy(e->pool, "pool.a", sizeof(e->pool));
	tern_strlcpy(e->job, "job_42", sizeof(e->job));
}

/* build - head, body, tail, with the body length patched in */
static int
build(struct spool_env *e, const char *bdy, size_t blen, struct qf *q)
{
	char	 hex[17];
	unsigned i;

	memset(q, 0, sizeof(*q));
	buf_init(&q->b, 1024 * 1024);
	if (spool_head_build(e, &q->b) == -1)
		return -1;
	q->head_len = q->b.len;
	q->blen_off = e->blen_off;
	for (i = 0; i < e->nrcpt && i < nitems(q->status_off); i++)
		q->status_off[i] = e->rcpts[i].status_off;
	if (buf_add(&q->b, bdy, blen) == -1)
		return -1;
	q->body_len = blen;
	spool_blen_fmt(blen, hex);
	memcpy(q->b.data + e->blen_off, hex, 16);
	q->tail_off = q->b.len;
	return spool_tail_build(e, &q->b);
}

static void
test_ids(void)
{
	char		 a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1], bk[3];
	char		 tpart[9];
	unsigned long	 t;
	time_t		 now = time(NULL);
	unsigned	 i, same = 0, bad = 0;
	static const struct {
		const char	*id;
		bool		 ok;
	} ids[] = {
		{ "0123456789abcdef", true },
		{ "ffffffffffffffff", true },
		{ "0000000000000000", true },
		{ "0123456789ABCDEF", false },
		{ "0123456789abcde", false },
		{ "0123456789abcdef0", false },
		{ "0123456789abcdeg", false },
		{ "", false },
		{ "../../etc/passwd", false },
		{ "0123456789abcd/f", false },
		{ "0123456789abcde ", false },
		{ " 123456789abcdef", false },
		{ "0123456789abcdef\n", false },
	};

	spool_id_new(a);
	is_int(strlen(a), SPOOL_ID_LEN, "spool_id_new gives %d characters",
	    SPOOL_ID_LEN);
	ok(spool_id_ok(a), "spool_id_new result passes spool_id_ok (%s)", a);
	memcpy(tpart, a, 8);
	tpart[8] = '\0';
	t = strtoul(tpart, NULL, 16);
	ok((time_t)t >= now - 2 && (time_t)t <= now + 2,
	    "first 8 hex digits are the time");
	for (i = 0; i < 1000; i++) {
		spool_id_new(b);
		if (!spool_id_ok(b))
			bad++;
		if (strcmp(a, b) == 0)
			same++;
		memcpy(a, b, sizeof(a));
	}
	is_int(bad, 0, "1000 new ids are all valid");
	is_int(same, 0, "consecutive ids differ");

	for (i = 0; i < nitems(ids); i++)
		is_int(spool_id_ok(ids[i].id), ids[i].ok,
		    "spool_id_ok(\"%s\") is %s", ids[i].id,
		    ids[i].ok ? "true" : "false");

	spool_bucket("0123456789abcdef", bk);
	is_str(bk, "ef", "spool_bucket takes the last two digits");
}

static void
test_roundtrip(void)
{
	struct spool_env e, r;
	struct qf	 q;
	const char	*why = NULL;
	char		 c, got[sizeof(body)];
	unsigned	 i;
	int		 fd = tmpfd();

	fill_env(&e);
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "queue file built");
	is_int(e.body_off, q.head_len, "body_off is the end of the head");
	is_int(memcmp(q.b.data + e.blen_off - 5, "B\x10\0\0\0", 5), 0,
	    "blen_off points after B's record header");
	put_file(fd, q.b.data, q.b.len);

	why = NULL;
	if (!is_int(spool_env_read(fd, &r, &why), 0, "spool_env_read accepts "
	    "the file (%zu bytes)", q.b.len))
		diag("    why: %s", why ? why : "(none)");
	is_str(r.id, e.id, "id read back");
	is_u64(r.arrival, e.arrival, "arrival read back");
	is_str(r.sender, e.sender, "sender read back");
	is_str(r.client, e.client, "client read back");
	is_str(r.helo, e.helo, "helo read back");
	is_int(r.nrcpt, 3, "three recipients");
	for (i = 0; i < r.nrcpt && i < 3; i++) {
		is_str(r.rcpts[i].addr, rcpt_addrs[i], "rcpt %u address", i);
		is_str(r.rcpts[i].domain, strrchr(rcpt_addrs[i], '@') + 1,
		    "rcpt %u domain", i);
		is_int(r.rcpts[i].status, e.rcpts[i].status,
		    "rcpt %u status '%c'", i, e.rcpts[i].status);
		is_int(r.rcpts[i].status_off, q.status_off[i],
		    "rcpt %u status offset matches the writer's", i);
		c = 0;
		if (pread(fd, &c, 1, r.rcpts[i].status_off) != 1)
			c = 0;
		is_int(c, e.rcpts[i].status,
		    "rcpt %u status byte is at status_off", i);
	}
	is_int(r.blen_off, q.blen_off, "blen_off matches the writer's");
	is_int(r.body_off, q.head_len, "body_off read back");
	is_u64(r.body_len, sizeof(body) - 1, "body_len read back");
	memset(got, 0, sizeof(got));
	ok(pread(fd, got, sizeof(body) - 1, r.body_off) ==
	    (ssize_t)sizeof(body) - 1 && memcmp(got, body, sizeof(body) - 1)
	    == 0, "body bytes at body_off");
	is_str(r.vmta, "vmta-1", "vmta read back");
	is_str(r.pool, "pool.a", "pool read back");
	is_str(r.job, "job_42", "job read back");
	spool_env_free(&r);

	/* Status rewritten in place, as queued does after delivery. */
	c = RS_DELIVERED;
	ok(pwrite(fd, &c, 1, q.status_off[0]) == 1, "status rewritten");
	is_int(spool_env_read(fd, &r, &why), 0, "file with status changed "
	    "reads");
	is_int(r.nrcpt > 0 ? r.rcpts[0].status : 0, RS_DELIVERED,
	    "rewritten status read back");
	spool_env_free(&r);

	/* Empty body, null sender, empty M/L/J. */
	free(e.sender);
	e.sender = NULL;
	e.vmta[0] = e.pool[0] = e.job[0] = '\0';
	buf_free(&q.b);
	is_int(build(&e, "", 0, &q), 0, "minimal file built");
	put_file(fd, q.b.data, q.b.len);
	is_int(spool_env_read(fd, &r, &why), 0, "minimal file reads");
	is_str(r.sender, "", "null sender reads as \"\"");
	is_u64(r.body_len, 0, "empty body");
	is_str(r.vmta, "", "empty vmta");
	spool_env_free(&r);
	buf_free(&q.b);
	spool_env_free(&e);

	/* Many recipients. */
	fill_env(&e);
	for (i = 0; i < 1000; i++) {
		char a[64];

		snprintf(a, sizeof(a), "user%u@d%u.example", i, i % 7);
		spool_env_add_rcpt(&e, a);
	}
	is_int(build(&e, body, sizeof(body) - 1, &q), 0,
	    "1003-recipient file built");
	put_file(fd, q.b.data, q.b.len);
	is_int(spool_env_read(fd, &r, &why), 0, "1003-recipient file reads");
	is_int(r.nrcpt, 1003, "1003 recipients read");
	ok(r.nrcpt == 1003 && strcmp(r.rcpts[1002].addr,
	    "user999@d5.example") == 0 && strcmp(r.rcpts[1002].domain,
	    "d5.example") == 0, "last recipient read back");
	spool_env_free(&r);
	buf_free(&q.b);
	spool_env_free(&e);
	close(fd);
}

/* Records the writer must refuse rather than write. */
static void
test_build_limits(void)
{
	struct spool_env e;
	struct qf	 q;
	char		*big = xmalloc(SPOOL_REC_MAX + 2);

	memset(big, 'x', SPOOL_REC_MAX + 1);
	big[SPOOL_REC_MAX + 1] = '\0';
	fill_env(&e);
	free(e.helo);
	e.helo = xstrdup(big);
	ok(build(&e, body, 10, &q) == -1, "HELO over %d bytes refused",
	    SPOOL_REC_MAX);
	buf_free(&q.b);
	spool_env_free(&e);

	fill_env(&e);
	big[SPOOL_REC_MAX - 1] = '\0';		/* 1 + 4095 = 4096: fits */
	spool_env_add_rcpt(&e, big);
	ok(build(&e, body, 10, &q) == 0, "recipient record of exactly %d "
	    "bytes written", SPOOL_REC_MAX);
	{
		struct spool_env r;
		const char	*why = NULL;
		int		 fd = tmpfd();

		put_file(fd, q.b.data, q.b.len);
		ok(spool_env_read(fd, &r, &why) == 0 && r.nrcpt == 4 &&
		    strlen(r.rcpts[3].addr) == SPOOL_REC_MAX - 1,
		    "and read back (%s)", why ? why : "ok");
		if (r.nrcpt > 0)
			spool_env_free(&r);
		close(fd);
	}
	buf_free(&q.b);
	spool_env_free(&e);

	fill_env(&e);
	big[SPOOL_REC_MAX - 1] = 'x';
	big[SPOOL_REC_MAX] = '\0';		/* 1 + 4096: too big */
	spool_env_add_rcpt(&e, big);
	ok(build(&e, body, 10, &q) == -1, "recipient record over %d bytes "
	    "refused", SPOOL_REC_MAX);
	buf_free(&q.b);
	spool_env_free(&e);
	free(big);
}

/* expect_bad - the file p[0..n) must be refused with a reason */
static void
expect_bad(int fd, const void *p, size_t n, const char *what)
{
	struct spool_env r;
	const char	*why = NULL;
	int		 rc;

	put_file(fd, p, n);
	rc = spool_env_read(fd, &r, &why);
	if (!is_int(rc, -1, "refused: %s (%s)", what, rc == -1 && why ?
	    why : "-"))
		spool_env_free(&r);
	ok(rc == 0 || (why != NULL && *why != '\0'), "reason given: %s",
	    what);
}

/* mutate - a copy of q with bytes [off, off+n) replaced by rep[0..rn) */
static void
mutate(int fd, const struct qf *q, size_t off, size_t n, const void *rep,
    size_t rn, const char *what)
{
	struct buf	 m;

	buf_init(&m, 4 * 1024 * 1024);
	buf_add(&m, q->b.data, off);
	if (rn)
		buf_add(&m, rep, rn);
	buf_add(&m, q->b.data + off + n, q->b.len - off - n);
	expect_bad(fd, m.data, m.len, what);
	buf_free(&m);
}

/* le32 - a record length as the file stores it */
static void
le32(void *dst, uint32_t v)
{
	uint8_t *p = dst;

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* rec_off - offset of the n-th record of type t in the head or tail */
static size_t
rec_off(const struct qf *q, char t, unsigned nth)
{
	size_t	 off = 0;
	uint32_t len;

	while (off + 5 <= q->b.len) {
		if (off == q->head_len)
			off = q->tail_off;
		len = (uint32_t)(uint8_t)q->b.data[off + 1] |
		    (uint32_t)(uint8_t)q->b.data[off + 2] << 8 |
		    (uint32_t)(uint8_t)q->b.data[off + 3] << 16 |
		    (uint32_t)(uint8_t)q->b.data[off + 4] << 24;
		if (q->b.data[off] == t && nth-- == 0)
			return off;
		off += 5 + len;
	}
	bail_out("record not found");
	return 0;
}

/* rec_count - how many records of type t the head and tail hold */
static unsigned
rec_count(const struct qf *q, char t)
{
	size_t	 off = 0;
	uint32_t len;
	unsigned n = 0;

	while (off + 5 <= q->b.len) {
		if (off == q->head_len)
			off = q->tail_off;
		len = (uint32_t)(uint8_t)q->b.data[off + 1] |
		    (uint32_t)(uint8_t)q->b.data[off + 2] << 8 |
		    (uint32_t)(uint8_t)q->b.data[off + 3] << 16 |
		    (uint32_t)(uint8_t)q->b.data[off + 4] << 24;
		if (q->b.data[off] == t)
			n++;
		off += 5 + len;
	}
	return n;
}

static void
test_corrupt(void)
{
	struct spool_env e, r;
	struct qf	 q;
	const char	*why;
	size_t		 n, off, nbad = 0, first_ok = (size_t)-1, accepted;
	size_t		 insane;
	char		 hex[17];
	uint8_t		 hdr[5];
	int		 fd = tmpfd(), pfd[2];

	fill_env(&e);
	if (build(&e, body, sizeof(body) - 1, &q) == -1)
		bail_out("cannot build the queue file");

	/* 1. Cut at every length from 0 to size-1. */
	for (n = 0; n < q.b.len; n++) {
		put_file(fd, q.b.data, n);
		why = NULL;
		if (spool_env_read(fd, &r, &why) == 0) {
			spool_env_free(&r);
			if (first_ok == (size_t)-1)
				first_ok = n;
		} else if (why != NULL)
			nbad++;
	}
	if (!is_int(nbad, q.b.len, "all %zu truncations refused with a "
	    "reason", q.b.len) && first_ok != (size_t)-1)
		diag("    first accepted length: %zu", first_ok);

	/* 2. Whole-file damage. */
	off = rec_off(&q, 'V', 0);
	mutate(fd, &q, off + 5, 1, "2", 1, "version 2");
	mutate(fd, &q, off + 5, 1, "", 0, "empty version");
	mutate(fd, &q, off, 1, "v", 1, "V record renamed");
	mutate(fd, &q, q.b.len - 5, 5, "", 0, "missing Z");
	mutate(fd, &q, q.b.len - 5, 1, "Y", 1, "Z renamed to Y");
	mutate(fd, &q, q.b.len - 5, 5, "Z\x01\0\0\0x", 6, "Z with data");
	mutate(fd, &q, q.b.len, 0, "x", 1, "one byte of trailing junk");
	mutate(fd, &q, q.b.len, 0, "Z\0\0\0\0", 5, "a second Z");
	mutate(fd, &q, q.b.len, 0, "\0\0\0\0\0\0\0\0", 8, "trailing NULs");
	mutate(fd, &q, 0, 0, "V\x01\0\0\0" "1", 6, "a second V first");
	expect_bad(fd, "", 0, "empty file");
	expect_bad(fd, "V\x01\0\0\0" "1", 6, "only V");

	/* 3. Head records. */
	off = rec_off(&q, 'I', 0);
	mutate(fd, &q, off + 5, 1, "G", 1, "id with a non-hex digit");
	mutate(fd, &q, off + 5, 1, "A", 1, "id with an uppercase digit");
	mutate(fd, &q, off + 1, 1, "\x0f", 1, "id record of 15 bytes");
	mutate(fd, &q, off, 5 + 16, "I\x00\0\0\0", 5, "empty id");
	mutate(fd, &q, off, 5 + 16, "I\x10\0\0\0../../../etc/pa", 21,
	    "id that is a path");
	off = rec_off(&q, 'A', 0);
	mutate(fd, &q, off + 5, 1, "x", 1, "arrival not a number");
	mutate(fd, &q, off + 5, 1, "-", 1, "arrival negative");
	mutate(fd, &q, off, 0, "I\x10\0\0\0" "0123456789abcdef", 21,
	    "two I records");
	off = rec_off(&q, 'S', 0);
	mutate(fd, &q, off, 1, "C", 1, "S missing (C twice)");
	mutate(fd, &q, off + 6, 1, "\0", 1, "NUL inside the sender");
	off = rec_off(&q, 'H', 0);
	mutate(fd, &q, off, 1, "R", 1, "H missing");

	/* 4. Recipients. */
	off = rec_off(&q, 'R', 0);
	mutate(fd, &q, off + 5, 1, "X", 1, "recipient status X");
	mutate(fd, &q, off + 5, 1, "\0", 1, "recipient status NUL");
	mutate(fd, &q, off, 5 + 1 + strlen(rcpt_addrs[0]), "R\x01\0\0\0-", 6,
	    "recipient with no address");
	mutate(fd, &q, off, 1, "Q", 1, "unknown record type in envelope");
	mutate(fd, &q, off, 0, "M\x00\0\0\0", 5, "tail record in envelope");
	mutate(fd, &q, off, 0, "S\x00\0\0\0", 5, "second S in envelope");
	n = rec_off(&q, 'B', 0) - off;
	mutate(fd, &q, off, n, "", 0, "no recipients");
	hdr[0] = 'R';
	le32(hdr + 1, SPOOL_REC_MAX + 1);
	mutate(fd, &q, off, 5, hdr, 5, "record length over the cap");
	le32(hdr + 1, 0xffffffffu);
	mutate(fd, &q, off, 5, hdr, 5, "record length 4 GiB");
	mutate(fd, &q, off + 1, 1, "\x7f", 1, "record length past the head");

	/* 5. Body length. */
	off = (size_t)q.blen_off;
	mutate(fd, &q, off - 4, 1, "\x0f", 1, "B of 15 bytes");
	mutate(fd, &q, off, 16, "0000000000000000", 16,
	    "body length 0 (tail read inside the body)");
	spool_blen_fmt(q.body_len + 1, hex);
	mutate(fd, &q, off, 16, hex, 16, "body length one too many");
	spool_blen_fmt(q.body_len - 1, hex);
	mutate(fd, &q, off, 16, hex, 16, "body length one too few");
	spool_blen_fmt(q.b.len, hex);
	mutate(fd, &q, off, 16, hex, 16, "body length past end of file");
	mutate(fd, &q, off, 16, "ffffffffffffffff", 16, "body length 2^64-1");
	mutate(fd, &q, off, 16, "7fffffffffffffff", 16, "body length 2^63-1");
	spool_blen_fmt(q.body_len, hex);
	hex[15] = (char)(hex[15] >= 'a' ? hex[15] - 'a' + 'A' : hex[15]);
	hex[0] = 'X';
	mutate(fd, &q, off, 16, hex, 16, "body length not hex");
	mutate(fd, &q, off, 1, " ", 1, "body length with a blank");
	mutate(fd, &q, off, 1, "-", 1, "body length with a sign");

	/* 6. Tail. */
	off = rec_off(&q, 'M', 0);
	mutate(fd, &q, off, 1, "L", 1, "M missing");
	mutate(fd, &q, off, 0, "M\x00\0\0\0", 5, "M twice");
	off = rec_off(&q, 'J', 0);
	mutate(fd, &q, off, 1, "Z", 1, "J missing");
	{
		char big[5 + SPOOL_JOB_MAX + 1];

		big[0] = 'J';
		le32(big + 1, SPOOL_JOB_MAX + 1);
		memset(big + 5, 'j', SPOOL_JOB_MAX + 1);
		mutate(fd, &q, off, 5 + strlen(e.job), big, sizeof(big),
		    "job name over the cap");
	}
	off = rec_off(&q, 'M', 0);
	{
		char big[5 + SPOOL_NAME_MAX + 1];

		big[0] = 'M';
		le32(big + 1, SPOOL_NAME_MAX + 1);
		memset(big + 5, 'm', SPOOL_NAME_MAX + 1);
		mutate(fd, &q, off, 5 + strlen(e.vmta), big, sizeof(big),
		    "vmta name over the cap");
	}

	/* 7. Not a regular file. */
	if (pipe(pfd) == 0) {
		why = NULL;
		ok(write(pfd[1], q.b.data, q.b.len) == (ssize_t)q.b.len,
		    "file bytes written to a pipe");
		is_int(spool_env_read(pfd[0], &r, &why), -1,
		    "a pipe is refused");
		is_str(why, "not a regular file", "pipe reason");
		close(pfd[0]);
		close(pfd[1]);
	} else
		skip(3, "pipe failed");
	why = NULL;
	is_int(spool_env_read(-1, &r, &why), -1, "a bad fd is refused");

	/*
	 * 8. Flip every byte to three other values: the reader must never
	 * crash, and whatever it accepts must be self-consistent.
	 */
	accepted = insane = 0;
	for (off = 0; off < q.b.len; off++) {
		static const uint8_t x[] = { 0x01, 0x80, 0xff };
		unsigned k;

		for (k = 0; k < nitems(x); k++) {
			q.b.data[off] ^= (char)x[k];
			put_file(fd, q.b.data, q.b.len);
			if (spool_env_read(fd, &r, &why) == 0) {
				accepted++;
				if (r.nrcpt == 0 || !spool_id_ok(r.id) ||
				    r.body_off + (off_t)r.body_len > (off_t)
				    q.b.len || r.sender == NULL)
					insane++;
				spool_env_free(&r);
			}
			q.b.data[off] ^= (char)x[k];
		}
	}
	ok(1, "byte-flip sweep over %zu bytes finished (%zu accepted)",
	    q.b.len, accepted);
	is_int(insane, 0, "every accepted mutation is self-consistent");

	buf_free(&q.b);
	spool_env_free(&e);
	close(fd);
}

/* spool_prepend_ok - what may go before a message, and what may not */
static void
test_prepend_ok(void)
{
	static const struct {
		const char	*s;
		bool		 ok;
	} c[] = {
		{ "DKIM-Signature: v=1; a=rsa-sha256\r\n", true },
		{ "DKIM-Signature: v=1;\r\n\tb=abc\r\n\t def\r\n", true },
		{ "X: y\r\n", true },
		{ "X: y", false },			/* no CRLF */
		{ "X: y\n", false },			/* bare LF */
		{ "X: y\r\nZ: second field\r\n", false },
		{ "X: y\r\n\r\n", false },		/* blank line: a body */
		{ " X: y\r\n", false },		/* starts folded */
		{ "X y\r\n", false },			/* no colon */
		{ ": y\r\n", false },
		{ "X: y\r\r\n", false },
		{ "X: \x01y\r\n", false },
		{ "X: caf\xc3\xa9\r\n", false },	/* 8-bit */
		{ "X:\r\n", true },
	};
	unsigned i;

	for (i = 0; i < nitems(c); i++)
		is_int(spool_prepend_ok(c[i].s, strlen(c[i].s)), c[i].ok,
		    "spool_prepend_ok case %u", i);
}

/* The K record: written, read back, optional, checked. */
static void
test_prepend(void)
{
	static const char sig[] = "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=example.com;\r\n\ts=s1; b=AAAA\r\n";
	struct spool_env e, r;
	struct qf	 q;
	const char	*why = NULL;
	int		 fd = tmpfd();
	size_t		 klen;

	fill_env(&e);
	e.prepend = xstrdup(sig);
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "file with K built");
	klen = 5 + strlen(sig);
	ok(q.b.len > klen + 5 && q.b.data[q.b.len - 5 - klen] == 'K',
	    "K is the record before Z");
	put_file(fd, q.b.data, q.b.len);
	if (!is_int(spool_env_read(fd, &r, &why), 0, "file with K reads"))
		diag("    why: %s", why ? why : "(none)");
	is_str(r.prepend ? r.prepend : "(null)", sig, "K read back");
	spool_env_free(&r);

	/* K twice: refused. */
	{
		struct buf b2;

		buf_init(&b2, 1024 * 1024);
		buf_add(&b2, q.b.data, q.b.len - 5);
		buf_add(&b2, q.b.data + q.b.len - 5 - klen, klen);
		buf_add(&b2, "Z\0\0\0\0", 5);
		put_file(fd, b2.data, b2.len);
		is_int(spool_env_read(fd, &r, &why), -1, "two K records: "
		    "refused (%s)", why ? why : "?");
		/* K with a bare LF inside: refused. */
		memcpy(b2.data, q.b.data, q.b.len);
		b2.len = q.b.len;
		b2.data[q.b.len - 5 - 3] = '\n';
		put_file(fd, b2.data, b2.len);
		is_int(spool_env_read(fd, &r, &why), -1, "K that is not a "
		    "header field: refused (%s)", why ? why : "?");
		buf_free(&b2);
	}
	buf_free(&q.b);

	/* The writer refuses a K that could not be sent as it is. */
	free(e.prepend);
	e.prepend = xstrdup("DKIM-Signature: x\r\n\r\ninjected body\r\n");
	is_int(build(&e, body, sizeof(body) - 1, &q), -1, "a K with a blank "
	    "line is not written");
	buf_free(&q.b);

	/* No K (every file before DKIM): still reads, prepend NULL. */
	free(e.prepend);
	e.prepend = NULL;
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "file without K");
	put_file(fd, q.b.data, q.b.len);
	is_int(spool_env_read(fd, &r, &why), 0, "file without K reads");
	ok(r.prepend == NULL, "no K: nothing to prepend");
	spool_env_free(&r);
	buf_free(&q.b);
	spool_env_free(&e);
	close(fd);
}

/* --- DSN records (N, E) ---------------------------------------------- */

/* raw_rec - a record built by hand, not by spool.c */
static void
raw_rec(struct buf *b, char type, const char *data)
{
	char	 h[5];

	h[0] = type;
	le32(h + 1, (uint32_t)strlen(data));
	buf_add(b, h, 5);
	buf_add(b, data, strlen(data));
}

/* raw_old - the file fill_env() makes, as a pre-DSN Tern wrote it */
static void
raw_old(struct buf *b, const char *bdy, size_t blen)
{
	char	 hex[17];
	unsigned i;

	buf_init(b, 1024 * 1024);
	raw_rec(b, 'V', "1");
	raw_rec(b, 'I', "5f3e2a1b9c8d7e6f");
	raw_rec(b, 'A', "1700000000");
	raw_rec(b, 'S', "sender@example.com");
	raw_rec(b, 'C', "[192.0.2.7]:40211");
	raw_rec(b, 'H', "client.example");
	for (i = 0; i < nitems(rcpt_addrs); i++) {
		char r[128];

		snprintf(r, sizeof(r), "%c%s", "-DB"[i], rcpt_addrs[i]);
		raw_rec(b, 'R', r);
	}
	spool_blen_fmt(blen, hex);
	raw_rec(b, 'B', hex);
	buf_add(b, bdy, blen);
	raw_rec(b, 'M', "vmta-1");
	raw_rec(b, 'L', "pool.a");
	raw_rec(b, 'J', "job_42");
	raw_rec(b, 'Z', "");
}

/* An old file reads with no DSN data; the writer gives the same bytes. */
static void
test_dsn_old(void)
{
	struct spool_env e, r;
	struct buf	 old;
	struct qf	 q;
	const char	*why = NULL;
	unsigned	 i, dsn = 0;
	int		 fd = tmpfd();

	raw_old(&old, body, sizeof(body) - 1);
	put_file(fd, old.data, old.len);
	if (!is_int(spool_env_read(fd, &r, &why), 0, "a pre-DSN file reads"))
		diag("    why: %s", why ? why : "(none)");
	for (i = 0; i < r.nrcpt; i++)
		if (r.rcpts[i].notify != 0 || r.rcpts[i].orcpt != NULL)
			dsn++;
	ok(r.nrcpt == 3 && dsn == 0, "its recipients have no NOTIFY, ORCPT");
	is_int(r.ret, DSN_RET_NONE, "its RET is none");
	is_str(r.envid, "", "its ENVID is empty");
	spool_env_free(&r);

	fill_env(&e);
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "no-DSN file built");
	ok(q.b.len == old.len && memcmp(q.b.data, old.data, old.len) == 0,
	    "without DSN data the file is byte for byte the pre-DSN one");
	buf_free(&q.b);
	/* NOTIFY 0 and "" ORCPT (spool_env_add_rcpt_dsn): still nothing */
	spool_env_add_rcpt_dsn(&e, "four@example.com", 0, "");
	spool_env_add_rcpt_dsn(&e, "five@example.com", 0, NULL);
	ok(e.rcpts[3].orcpt == NULL && e.rcpts[4].orcpt == NULL,
	    "an empty ORCPT is stored as NULL");
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "built again");
	ok(rec_count(&q, 'N') == 0 && rec_count(&q, 'E') == 0,
	    "no N or E record when there is nothing to store");
	buf_free(&q.b);
	buf_free(&old);
	spool_env_free(&e);
	close(fd);
}

/* fill_dsn - fill_env() with DSN data on two of three recipients */
static void
fill_dsn(struct spool_env *e)
{
	fill_env(e);
	e->nrcpt = 0;
	free(e->rcpts[0].addr);
	free(e->rcpts[1].addr);
	free(e->rcpts[2].addr);
	spool_env_add_rcpt_dsn(e, rcpt_addrs[0], DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_FAILURE, "rfc822;Orig+1@example.com");
	spool_env_add_rcpt(e, rcpt_addrs[1]);
	spool_env_add_rcpt_dsn(e, rcpt_addrs[2], DSN_NOTIFY_NEVER, NULL);
	e->rcpts[1].status = RS_DELIVERED;
	e->rcpts[2].status = RS_BOUNCED;
	e->ret = DSN_RET_HDRS;
	tern_strlcpy(e->envid, "QQ314159 x=y", sizeof(e->envid));
}

/* check_dsn - r holds what fill_dsn() wrote */
static void
check_dsn(const struct spool_env *r, const char *what)
{
	ok(r->nrcpt == 3, "%s: three recipients", what);
	if (r->nrcpt != 3)
		return;
	is_int(r->rcpts[0].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE,
	    "%s: rcpt 0 NOTIFY", what);
	is_str(r->rcpts[0].orcpt ? r->rcpts[0].orcpt : "(null)",
	    "rfc822;Orig+1@example.com", "%s: rcpt 0 ORCPT", what);
	ok(r->rcpts[1].notify == 0 && r->rcpts[1].orcpt == NULL,
	    "%s: rcpt 1 has no DSN data", what);
	ok(r->rcpts[2].notify == DSN_NOTIFY_NEVER && r->rcpts[2].orcpt ==
	    NULL, "%s: rcpt 2 NOTIFY=NEVER, no ORCPT", what);
	is_int(r->ret, DSN_RET_HDRS, "%s: RET", what);
	is_str(r->envid, "QQ314159 x=y", "%s: ENVID", what);
}

static void
test_dsn_roundtrip(void)
{
	struct spool_env e, r;
	struct qf	 q;
	const char	*why = NULL;
	unsigned	 i;
	char		 c;
	size_t		 off;
	int		 fd = tmpfd();

	fill_dsn(&e);
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "DSN file built");
	is_int(rec_count(&q, 'N'), 2, "two N records");
	is_int(rec_count(&q, 'E'), 1, "one E record");
	off = rec_off(&q, 'N', 0);
	is_int(off, rec_off(&q, 'R', 0) + 5 + 1 + strlen(rcpt_addrs[0]),
	    "the first N is right after the first R");
	ok(memcmp(q.b.data + off, "N\x1a\0\0\0" "6rfc822;Orig+1@", 20) == 0,
	    "N holds the NOTIFY digit, then ORCPT");
	ok(memcmp(q.b.data + rec_off(&q, 'N', 1), "N\x01\0\0\0" "1", 6) == 0,
	    "N of NOTIFY=NEVER alone");
	off = rec_off(&q, 'E', 0);
	ok(off == rec_off(&q, 'J', 0) + 5 + strlen(e.job) &&
	    memcmp(q.b.data + off, "E\x0d\0\0\0" "HQQ314159 x=y", 18) == 0,
	    "E follows J: RET code, then ENVID");
	for (i = 0; i < 3; i++)
		is_int(q.status_off[i], (off_t)rec_off(&q, 'R', i) + 5,
		    "rcpt %u: status byte still 5 bytes into its R", i);
	put_file(fd, q.b.data, q.b.len);
	if (!is_int(spool_env_read(fd, &r, &why), 0, "DSN file reads"))
		diag("    why: %s", why ? why : "(none)");
	check_dsn(&r, "read back");
	for (i = 0; i < r.nrcpt; i++) {
		is_int(r.rcpts[i].status_off, q.status_off[i],
		    "rcpt %u: status_off is the writer's", i);
		c = 0;
		if (pread(fd, &c, 1, r.rcpts[i].status_off) != 1)
			c = 0;
		is_int(c, e.rcpts[i].status, "rcpt %u: status byte there", i);
	}
	spool_env_free(&r);

	/* Status rewritten in place: the DSN data stays. */
	c = RS_BOUNCED;
	ok(pwrite(fd, &c, 1, q.status_off[0]) == 1, "status rewritten");
	is_int(spool_env_read(fd, &r, &why), 0, "and the file still reads");
	is_int(r.nrcpt ? r.rcpts[0].status : 0, RS_BOUNCED, "new status");
	check_dsn(&r, "after the rewrite");
	spool_env_free(&r);
	buf_free(&q.b);

	/* One of each alone; the limits; E with K. */
	e.ret = DSN_RET_NONE;
	memset(e.envid, 'v', DSN_ENVID_MAX);
	e.envid[DSN_ENVID_MAX] = '\0';
	free(e.rcpts[0].orcpt);
	e.rcpts[0].orcpt = xmalloc(DSN_ORCPT_MAX + 1);
	memcpy(e.rcpts[0].orcpt, "x-t;", 4);
	memset(e.rcpts[0].orcpt + 4, 'o', DSN_ORCPT_MAX - 4);
	e.rcpts[0].orcpt[DSN_ORCPT_MAX] = '\0';
	e.rcpts[0].notify = 0;
	e.prepend = xstrdup("DKIM-Signature: v=1\r\n");
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "limits file built");
	put_file(fd, q.b.data, q.b.len);
	is_int(spool_env_read(fd, &r, &why), 0, "limits file reads");
	ok(r.nrcpt == 3 && r.rcpts[0].notify == 0 && r.rcpts[0].orcpt &&
	    strcmp(r.rcpts[0].orcpt, e.rcpts[0].orcpt) == 0,
	    "ORCPT of %d characters, NOTIFY not given", DSN_ORCPT_MAX);
	ok(r.ret == DSN_RET_NONE && strcmp(r.envid, e.envid) == 0,
	    "ENVID of %d characters, RET not given", DSN_ENVID_MAX);
	ok(r.prepend != NULL, "K after E");
	spool_env_free(&r);
	buf_free(&q.b);

	e.envid[0] = '\0';
	e.ret = DSN_RET_FULL;
	is_int(build(&e, body, sizeof(body) - 1, &q), 0, "RET alone built");
	put_file(fd, q.b.data, q.b.len);
	is_int(spool_env_read(fd, &r, &why), 0, "RET alone reads");
	ok(r.ret == DSN_RET_FULL && r.envid[0] == '\0', "RET=FULL, no ENVID");
	spool_env_free(&r);
	buf_free(&q.b);
	spool_env_free(&e);
	close(fd);
}

/* The writer refuses DSN data the reader would refuse. */
static void
test_dsn_writer(void)
{
	static const struct {
		unsigned	 notify;
		const char	*orcpt;
	} bad_rcpt[] = {
		{ DSN_NOTIFY_NEVER | DSN_NOTIFY_SUCCESS, NULL },
		{ 0x10, NULL }, { 0x100 | DSN_NOTIFY_SUCCESS, NULL },
		{ 0, "a@b.com" }, { 0, ";a@b.com" }, { 0, "rfc822;" },
		{ 0, "rfc822;a\r\nX-Injected: y" }, { 0, "rfc822;caf\xc3\xa9" },
		{ DSN_NOTIFY_DELAY, "rfc 822;a" },
	};
	struct spool_env e;
	struct qf	 q;
	char		 big[DSN_ORCPT_MAX + 2];
	unsigned	 i;

	for (i = 0; i < nitems(bad_rcpt); i++) {
		fill_env(&e);
		spool_env_add_rcpt_dsn(&e, "x@example.com", bad_rcpt[i].notify,
		    bad_rcpt[i].orcpt);
		is_int(build(&e, body, 10, &q), -1, "writer refuses NOTIFY "
		    "%#x ORCPT %s", bad_rcpt[i].notify, bad_rcpt[i].orcpt ?
		    bad_rcpt[i].orcpt : "-");
		buf_free(&q.b);
		spool_env_free(&e);
	}
	memcpy(big, "rfc822;", 7);
	memset(big + 7, 'o', DSN_ORCPT_MAX + 1 - 7);
	big[DSN_ORCPT_MAX + 1] = '\0';
	fill_env(&e);
	spool_env_add_rcpt_dsn(&e, "x@example.com", 0, big);
	is_int(build(&e, body, 10, &q), -1, "writer refuses an ORCPT of %d",
	    DSN_ORCPT_MAX + 1);
	buf_free(&q.b);
	spool_env_free(&e);

	fill_env(&e);
	e.ret = (enum dsn_ret)3;
	is_int(build(&e, body, 10, &q), -1, "writer refuses RET 3");
	buf_free(&q.b);
	e.ret = DSN_RET_FULL;
	tern_strlcpy(e.envid, "a\tb", sizeof(e.envid));
	is_int(build(&e, body, 10, &q), -1, "writer refuses an ENVID with "
	    "a tab");
	buf_free(&q.b);
	memset(e.envid, 'v', sizeof(e.envid));	/* not terminated */
	is_int(build(&e, body, 10, &q), -1, "writer refuses an unterminated "
	    "ENVID");
	buf_free(&q.b);
	spool_env_free(&e);
}

/* expect_good - the file in m must read */
static void
expect_good(int fd, const struct buf *m, const char *what)
{
	struct spool_env r;
	const char	*why = NULL;

	put_file(fd, m->data, m->len);
	if (!is_int(spool_env_read(fd, &r, &why), 0, "accepted: %s", what))
		diag("    why: %s", why ? why : "(none)");
	else
		spool_env_free(&r);
}

/* Damaged or misplaced N and E records. */
static void
test_dsn_corrupt(void)
{
	static const char *bad_n[] = {
		"", "0", "3", "5", "7", "9", "b", "f", "A", "E", "g", "-",
		" rfc822;a@b", "2rfc822", "2;a@b", "2rfc822;",
		"2rfc822;a\x01" "b", "2rfc822;a\x7f", "2rfc822;caf\xc3\xa9",
		"2rfc 822;a", "2a=b;c",
	};
	static const char *bad_e[] = {
		"", "-", "X", "f", "h", "0", "Fa\tb", "Ha\x7f", "-\x01",
		"F\xc3\xa9",
	};
	struct spool_env e, r;
	struct qf	 q;
	struct buf	 m;
	const char	*why;
	char		 rec[600], big[5 + 1 + DSN_ENVID_MAX + 1];
	size_t		 off, noff, n, nbad = 0, accepted, insane;
	unsigned	 i;
	int		 fd = tmpfd();

	fill_dsn(&e);
	if (build(&e, body, sizeof(body) - 1, &q) == -1)
		bail_out("cannot build the DSN file");
	noff = rec_off(&q, 'N', 0);
	n = 5 + 26;			/* the first N, whole */

	/* The N record itself: replaced by each bad one in turn. */
	for (i = 0; i < nitems(bad_n); i++) {
		rec[0] = 'N';
		le32(rec + 1, (uint32_t)strlen(bad_n[i]));
		memcpy(rec + 5, bad_n[i], strlen(bad_n[i]));
		big[0] = 'N';
		big[1] = ' ';
		tap_quote(bad_n[i], big + 2, sizeof(big) - 2);
		mutate(fd, &q, noff, n, rec, 5 + strlen(bad_n[i]), big);
	}
	/* Where N may not be. */
	mutate(fd, &q, noff, 0, q.b.data + noff, n, "N twice after an R");
	mutate(fd, &q, rec_off(&q, 'R', 0), 0, q.b.data + noff, n,
	    "N before the first R");
	mutate(fd, &q, rec_off(&q, 'B', 0), 0, q.b.data + noff, n,
	    "N after the last R's N");
	mutate(fd, &q, rec_off(&q, 'M', 0), 0, q.b.data + noff, n,
	    "N in the tail");
	mutate(fd, &q, q.b.len - 5, 0, q.b.data + noff, n, "N before Z");
	mutate(fd, &q, noff, 1, "n", 1, "N renamed n");

	/* The E record. */
	off = rec_off(&q, 'E', 0);
	n = 5 + 13;
	for (i = 0; i < nitems(bad_e); i++) {
		rec[0] = 'E';
		le32(rec + 1, (uint32_t)strlen(bad_e[i]));
		memcpy(rec + 5, bad_e[i], strlen(bad_e[i]));
		big[0] = 'E';
		big[1] = ' ';
		tap_quote(bad_e[i], big + 2, sizeof(big) - 2);
		mutate(fd, &q, off, n, rec, 5 + strlen(bad_e[i]), big);
	}
	big[0] = 'E';
	le32(big + 1, 1 + DSN_ENVID_MAX + 1);
	big[5] = 'F';
	memset(big + 6, 'v', DSN_ENVID_MAX + 1);
	mutate(fd, &q, off, n, big, sizeof(big), "ENVID over 100");
	mutate(fd, &q, off, 0, q.b.data + off, n, "E twice");
	mutate(fd, &q, rec_off(&q, 'J', 0), 0, q.b.data + off, n,
	    "E before J");
	mutate(fd, &q, rec_off(&q, 'B', 0), 0, q.b.data + off, n,
	    "E in the envelope");
	mutate(fd, &q, rec_off(&q, 'R', 0), 0, q.b.data + off, n,
	    "E among the recipients");

	/* E after K (K then E: refused), and E before K (read). */
	buf_init(&m, 4 * 1024 * 1024);
	buf_add(&m, q.b.data, q.b.len - 5);
	raw_rec(&m, 'K', "X: y\r\n");
	raw_rec(&m, 'Z', "");
	expect_good(fd, &m, "E then K");
	m.len = off;
	buf_add(&m, q.b.data + off + n, q.b.len - 5 - off - n);
	raw_rec(&m, 'K', "X: y\r\n");
	buf_add(&m, q.b.data + off, n);
	raw_rec(&m, 'Z', "");
	expect_bad(fd, m.data, m.len, "K then E");
	buf_free(&m);

	/* Every truncation of a file with N and E is refused. */
	for (n = 0; n < q.b.len; n++) {
		put_file(fd, q.b.data, n);
		why = NULL;
		if (spool_env_read(fd, &r, &why) == 0)
			spool_env_free(&r);
		else if (why != NULL)
			nbad++;
	}
	is_int(nbad, q.b.len, "all %zu truncations of the DSN file refused",
	    q.b.len);

	/* Byte flips: whatever reads is still valid DSN data. */
	accepted = insane = 0;
	for (off = 0; off < q.b.len; off++) {
		static const uint8_t x[] = { 0x01, 0x20, 0x80 };
		unsigned k;

		for (k = 0; k < nitems(x); k++) {
			q.b.data[off] ^= (char)x[k];
			put_file(fd, q.b.data, q.b.len);
			if (spool_env_read(fd, &r, &why) == 0) {
				accepted++;
				for (i = 0; i < r.nrcpt; i++)
					if (!dsn_notify_ok(r.rcpts[i].notify)
					    || (r.rcpts[i].orcpt != NULL &&
					    !dsn_orcpt_ok(r.rcpts[i].orcpt)))
						insane++;
				if ((unsigned)r.ret > DSN_RET_HDRS ||
				    (r.envid[0] != '\0' &&
				    !dsn_text_ok(r.envid, DSN_ENVID_MAX)))
					insane++;
				spool_env_free(&r);
			}
			q.b.data[off] ^= (char)x[k];
		}
	}
	ok(1, "DSN byte-flip sweep over %zu bytes (%zu accepted)", q.b.len,
	    accepted);
	is_int(insane, 0, "every accepted flip has valid DSN data");
	buf_free(&q.b);
	spool_env_free(&e);
	close(fd);
}

int
main(void)
{
	test_ids();
	test_roundtrip();
	test_build_limits();
	test_corrupt();
	test_prepend_ok();
	test_prepend();
	test_dsn_old();
	test_dsn_roundtrip();
	test_dsn_writer();
	test_dsn_corrupt();
	return done_testing();
}
