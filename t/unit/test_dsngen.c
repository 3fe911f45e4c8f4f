/*
 * test_dsngen.c - unit tests for common/dsngen.c.
 *
 * Purpose:      builds reports for originals kept in an unlinked
 *               temporary file (at an offset, to test the span) and
 *               reads them back with Tern's own parser (dsn_parse) and
 *               a small field reader: the top header block, recipient,
 *               status, action, Remote-MTA, diagnostic, Original-
 *               Recipient and Original-Envelope-Id (xtext decoded); one
 *               and several recipients; failure, delay and success
 *               subjects; headers only against the whole message; the
 *               max_return cap (RET=FULL over it, and a header block
 *               over it cut at a line end); CR/LF, 8-bit and overlong
 *               hostile replies; a boundary that collides with the
 *               content (predictable random source) and one that always
 *               does; refused input; a too small output buffer.  Every
 *               report must be CRLF only, 7-bit, lines <= 998.
 *               With DSNGEN_OUT=dir set, also writes sample reports
 *               (ndr-511.eml, ndr-522.eml, ndr-multi.eml, ndr-full.eml,
 *               ndr-hostile.eml)
 *               into dir for t/96-ndr-sisimai.t.
 * Used by:      t/00-unit.t, t/96-ndr-sisimai.t (build/t/test_dsngen).
 * Trust:        test code.
 * Spool access: none (one temporary file in $TMPDIR or /tmp, unlinked
 *               as soon as it is open; the sample files when asked).
 * See:          common/dsngen.h, common/dsnparse.h, RFC 3464.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsngen.h"
#include "dsnparse.h"
#include "tap.h"
#include "util.h"

#define NOW	1700000000	/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define JUNK	"JUNKJUNK"	/* before the message in the file */

static struct dsn_result res;

static const char orig[] =
    "Return-Path: <sender@tern.test>\r\n"
    "From: Sender <sender@tern.test>\r\n"
    "To: nobody@example.net\r\n"
    "Subject: spring sale\r\n"
    "Message-ID: <orig.1@tern.test>\r\n"
    "X-Job: spring-sale\r\n"
    "\r\n"
    "BODY-MARKER first line\r\n"
    "second line\r\n";

/* original - a temporary file holding JUNK then m; its fd */
static int
original(const char *m, size_t n)
{
	const char	*dir = getenv("TMPDIR");
	char		 path[512];
	int		 fd;

	if (!bsnprintf(path, sizeof(path), "%s/tern-dsngen.XXXXXX",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp"))
		bail_out("TMPDIR too long");
	if ((fd = mkstemp(path)) == -1)
		bail_out("mkstemp failed");
	unlink(path);
	if (write_all(fd, JUNK, strlen(JUNK)) == -1 ||
	    write_all(fd, m, n) == -1)
		bail_out("write failed");
	return fd;
}

/* setup - a report on m for one failed recipient, headers only */
static void
setup(struct dsngen *g, const char *m, size_t n,
    const struct dsngen_rcpt *rc, unsigned nrc)
{
	memset(g, 0, sizeof(*g));
	g->reporting_mta = "mta.tern.test";
	g->to = "sender@tern.test";
	g->queue_id = "Q123";
	g->arrival = NOW - 3600;
	g->now = NOW;
	g->fd = original(m, n);
	g->off = strlen(JUNK);
	g->len = n;
	g->max_return = 1 << 20;
	g->nrcpt = nrc;
	g->rcpts = rc;
}

/* wellformed - CRLF only, lines <= 998, 7-bit unless eight; else why */
static const char *
wellformed(const struct buf *b, bool eight)
{
	size_t	 i, col = 0;

	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\r' && (i + 1 >= b->len || b->data[i + 1] != '\n'))
			return "bare CR";
		if (c == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			return "bare LF";
		if (c == '\0')
			return "NUL";
		if (c >= 0x80 && !eight)
			return "8-bit byte";
		if (c == '\n')
			col = 0;
		else if (c != '\r' && ++col > 998)
			return "line over 998";
	}
	if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		return "no final CRLF";
	return "ok";
}

/*
 * field - the unfolded value of the first "name:" field that starts a
 * line at or after from (a header block or delivery-status part)
 */
static bool
field(const char *from, const char *name, char *v, size_t vsz)
{
	const char	*p = from, *e;
	size_t		 nl = strlen(name), o = 0;

	for (; p != NULL && *p != '\0'; p = strstr(p, "\r\n"), p = p ? p + 2 : p)
		if (strncmp(p, name, nl) == 0 && p[nl] == ':')
			break;
	if (p == NULL || *p == '\0')
		return false;
	p += nl + 1;
	while (*p == ' ')
		p++;
	for (;;) {
		e = strstr(p, "\r\n");
		if (e == NULL)
			e = p + strlen(p);
		while (p < e && o + 1 < vsz)
			v[o++] = *p++;
		if (e[0] == '\0' || (e[2] != ' ' && e[2] != '\t'))
			break;
		p = e + 2;
	}
	v[o] = '\0';
	return true;
}

/* boundary_of - the boundary parameter of the report's Content-Type */
static void
boundary_of(const char *m, char *bnd, size_t sz)
{
	char		 ct[512];
	const char	*s;

	bnd[0] = '\0';
	if (!field(m, "Content-Type", ct, sizeof(ct)) ||
	    (s = strstr(ct, "boundary=\"")) == NULL)
		return;
	s += 10;
	tern_strlcpy(bnd, s, sz);
	bnd[strcspn(bnd, "\"")] = '\0';
}

/* count - occurrences of s in m */
static int
count(const char *m, const char *s)
{
	int n = 0;

	while ((m = strstr(m, s)) != NULL) {
		n++;
		m += strlen(s);
	}
	return n;
}

/* part3 - the body of the third part (the returned original) */
static char *
part3(const char *m, size_t *np)
{
	char		 bnd[128], delim[140];
	const char	*p = m, *e;
	int		 i;

	boundary_of(m, bnd, sizeof(bnd));
	if (!bsnprintf(delim, sizeof(delim), "\r\n--%s", bnd))
		return NULL;
	for (i = 0; i < 3 && p != NULL; i++)
		if ((p = strstr(p, delim)) != NULL)
			p += strlen(delim);
	if (p == NULL || strncmp(p, "\r\n", 2) != 0 ||
	    (p = strstr(p, "\r\n\r\n")) == NULL)
		return NULL;
	p += 4;
	if ((e = strstr(p, delim)) == NULL)
		return NULL;
	*np = (size_t)(e - p);
	return xstrndup(p, *np);
}

static int
build(struct dsngen *g, struct buf *out, const char **why)
{
	buf_init(out, 16u << 20);
	*why = NULL;
	return dsngen_build(g, out, why);
}

static void
test_basic(void)
{
	struct dsngen_rcpt rc = { "nobody@example.net",
	    "rfc822;Nobody+40x@example.net", "failed", "5.1.1", "550 5.1.1 <nobody@example.net>: no such user",
	    "in.example.net" };
	static const char from[] =
	    "From: Mail Delivery System <MAILER-DAEMON@mta.tern.test>\r\n";
	struct dsngen	 g;
	struct buf	 out, out2;
	const char	*why;
	char		 v[1024], v2[1024], b1[128], b2[128];
	int		 r;

	setup(&g, orig, strlen(orig), &rc, 1);
	g.envid = "env+2B1";
	r = build(&g, &out, &why);
	is_int(r, 0, "basic: built (%s)", why != NULL ? why : "");
	is_str(wellformed(&out, false), "ok", "basic: CRLF, 7-bit, short lines");
	ok(strncmp(out.data, from, sizeof(from) - 1) == 0, "basic: From first");
	field(out.data, "To", v, sizeof(v));
	is_str(v, "<sender@tern.test>", "basic: To the sender");
	field(out.data, "Subject", v, sizeof(v));
	is_str(v, "Undelivered Mail Returned to Sender", "basic: subject");
	field(out.data, "Date", v, sizeof(v));
	is_str(v, "Tue, 14 Nov 2023 22:13:20 +0000", "basic: Date from now");
	field(out.data, "Message-ID", v, sizeof(v));
	ok(strncmp(v, "<Q123.", 6) == 0 && strlen(v) == 6 + 16 + 15 &&
	    strcmp(v + 22, "@mta.tern.test>") == 0, "basic: Message-ID %s", v);
	field(out.data, "Auto-Submitted", v, sizeof(v));
	is_str(v, "auto-replied", "basic: Auto-Submitted");
	field(out.data, "MIME-Version", v, sizeof(v));
	is_str(v, "1.0", "basic: MIME-Version");
	ok(field(out.data, "Content-Type", v, sizeof(v)) &&
	    strncmp(v, "multipart/report; report-type=delivery-status;", 46) == 0,
	    "basic: multipart/report");
	boundary_of(out.data, b1, sizeof(b1));
	ok(strncmp(b1, DSNGEN_BOUNDARY_PREFIX, 7) == 0 && strlen(b1) == 39,
	    "basic: boundary %s", b1);

	is_int(dsn_parse(out.data, out.len, &res), 1, "basic: one report");
	is_str(res.r[0].rcpt, "nobody@example.net", "basic: recipient");
	is_str(res.r[0].status, "5.1.1", "basic: status");
	is_str(res.r[0].action, "failed", "basic: action");
	is_str(res.r[0].diag, "550 5.1.1 <nobody@example.net>: no such user",
	    "basic: diagnostic");
	is_str(res.r[0].rmta, "in.example.net", "basic: Remote-MTA");
	ok(!res.r[0].heuristic, "basic: from the delivery-status part");
	is_str(res.msgid, "<orig.1@tern.test>", "basic: returned Message-ID");
	is_str(res.xjob, "spring-sale", "basic: returned X-Job");
	ok(field(out.data, "Original-Envelope-Id", v, sizeof(v)) &&
	    strcmp(v, "env+1") == 0, "basic: Original-Envelope-Id, decoded");
	ok(field(out.data, "Original-Recipient", v, sizeof(v)) &&
	    strcmp(v, "rfc822;Nobody@x@example.net") == 0,
	    "basic: Original-Recipient, decoded (%s)", v);
	field(out.data, "Reporting-MTA", v, sizeof(v));
	is_str(v, "dns; mta.tern.test", "basic: Reporting-MTA");
	field(out.data, "X-Tern-Queue-ID", v, sizeof(v));
	is_str(v, "Q123", "basic: X-Tern-Queue-ID");
	field(out.data, "Arrival-Date", v, sizeof(v));
	is_str(v, "Tue, 14 Nov 2023 21:13:20 +0000", "basic: Arrival-Date");
	ok(strstr(out.data, "Content-Type: text/rfc822-headers\r\n") != NULL &&
	    strstr(out.data, "message/rfc822") == NULL &&
	    strstr(out.data, "BODY-MARKER") == NULL, "basic: headers only");
	ok(strstr(out.data, "\r\n<nobody@example.net>\r\n    delivery failed, "
	    "status 5.1.1\r\n    in.example.net said: 550 5.1.1") != NULL,
	    "basic: the explanation names recipient and reply");
	ok(strncmp(out.data + out.len - 47, "\r\n--", 4) == 0 &&
	    strcmp(out.data + out.len - 4, "--\r\n") == 0,
	    "basic: ends with the closing delimiter");

	g.fd = dup(g.fd);
	build(&g, &out2, &why);
	field(out.data, "Message-ID", v, sizeof(v));
	field(out2.data, "Message-ID", v2, sizeof(v2));
	boundary_of(out2.data, b2, sizeof(b2));
	ok(strcmp(v, v2) != 0 && strcmp(b1, b2) != 0,
	    "basic: a fresh Message-ID and boundary each time");
	close(g.fd);
	buf_free(&out);
	buf_free(&out2);
}

static void
test_multi(void)
{
	struct dsngen_rcpt rc[3] = {
	    { "a@one.test", NULL, "failed", "5.1.1",
	      "550 5.1.1 user unknown", "mx.one.test" },
	    { "b@two.test", NULL, "failed", "5.2.2",
	      "552 5.2.2 mailbox full", "mx.two.test" },
	    { "c@three.test", NULL, "delivered", "2.0.0",
	      "250 2.0.0 ok", "mx.three.test" } };
	struct dsngen	 g;
	struct buf	 out;
	const char	*why, *p;
	char		 v[256];

	setup(&g, orig, strlen(orig), rc, 3);
	is_int(build(&g, &out, &why), 0, "multi: built");
	is_str(wellformed(&out, false), "ok", "multi: well formed");
	is_int(dsn_parse(out.data, out.len, &res), 2,
	    "multi: two failures (delivered ones are not reported)");
	is_str(res.r[0].rcpt, "a@one.test", "multi: first recipient");
	is_str(res.r[0].status, "5.1.1", "multi: first status");
	is_str(res.r[1].rcpt, "b@two.test", "multi: second recipient");
	is_str(res.r[1].status, "5.2.2", "multi: second status");
	is_str(res.r[1].diag, "552 5.2.2 mailbox full", "multi: second diag");
	p = strstr(out.data, "Final-Recipient: rfc822; c@three.test");
	ok(p != NULL && field(p, "Action", v, sizeof(v)) &&
	    strcmp(v, "delivered") == 0, "multi: the delivered one's group");
	ok(p != NULL && field(p, "Status", v, sizeof(v)) &&
	    strcmp(v, "2.0.0") == 0, "multi: its status");
	field(out.data, "Subject", v, sizeof(v));
	is_str(v, "Undelivered Mail Returned to Sender",
	    "multi: a failure makes the subject");
	ok(field(out.data, "Original-Envelope-Id", v, sizeof(v)) == false &&
	    strstr(out.data, "Original-Recipient") == NULL,
	    "multi: no ENVID, no ORCPT: no such fields");
	close(g.fd);
	buf_free(&out);

	rc[0].action = "delayed";
	rc[0].status = "4.4.1";
	rc[0].diag = "connect to mx.one.test: timed out";
	setup(&g, orig, strlen(orig), rc, 1);
	is_int(build(&g, &out, &why), 0, "delayed: built");
	field(out.data, "Subject", v, sizeof(v));
	is_str(v, "Delayed Mail (still being retried)", "delayed: subject");
	is_int(dsn_parse(out.data, out.len, &res), 1, "delayed: one report");
	is_str(res.r[0].action, "delayed", "delayed: action");
	is_str(res.r[0].status, "4.4.1", "delayed: status");
	ok(strstr(out.data, "Diagnostic-Code: X-Tern; connect to") != NULL,
	    "delayed: a reply without a code is not typed smtp");
	close(g.fd);
	buf_free(&out);

	setup(&g, orig, strlen(orig), rc + 2, 1);
	is_int(build(&g, &out, &why), 0, "success: built");
	field(out.data, "Subject", v, sizeof(v));
	is_str(v, "Successful Mail Delivery Report", "success: subject");
	ok(field(out.data, "Action", v, sizeof(v)) &&
	    strcmp(v, "delivered") == 0, "success: action");
	close(g.fd);
	buf_free(&out);
}

static void
test_return(void)
{
	struct dsngen_rcpt rc = { "nobody@example.net", NULL, "failed",
	    "5.1.1", NULL, NULL };
	struct dsngen	 g;
	struct buf	 out, big;
	const char	*why;
	char		*p3, line[64];
	size_t		 n3, i, ll;
	int		 bad;

	setup(&g, orig, strlen(orig), &rc, 1);
	g.ret_full = true;
	is_int(build(&g, &out, &why), 0, "full: built");
	p3 = part3(out.data, &n3);
	ok(strstr(out.data, "Content-Type: message/rfc822\r\n") != NULL &&
	    p3 != NULL && strcmp(p3, orig) == 0,
	    "full: the whole message, byte for byte");
	ok(strstr(out.data, "Diagnostic-Code") == NULL &&
	    strstr(out.data, "Remote-MTA") == NULL,
	    "full: no diag, no remote MTA: no such fields");
	dsn_parse(out.data, out.len, &res);
	is_str(res.msgid, "<orig.1@tern.test>", "full: parsed back");
	free(p3);
	buf_free(&out);

	g.max_return = strlen(orig) - 1;
	is_int(build(&g, &out, &why), 0, "over max_return: built");
	p3 = part3(out.data, &n3);
	ok(p3 != NULL && strstr(out.data, "text/rfc822-headers") != NULL &&
	    strstr(p3, "X-Job: spring-sale\r\n") != NULL &&
	    strstr(p3, "BODY-MARKER") == NULL,
	    "over max_return: headers only");
	bsnprintf(line, sizeof(line), "larger than %zu bytes: only its header",
	    strlen(orig) - 1);
	ok(strstr(out.data, line) != NULL, "over max_return: and says so");
	free(p3);
	buf_free(&out);

	g.max_return = 0;
	is_int(build(&g, &out, &why), 0, "max_return 0: built");
	ok(count(out.data, "\r\n--=_tern-") == 3 &&
	    strstr(out.data, "The message is not returned.") != NULL,
	    "max_return 0: two parts, nothing returned, and says so");
	close(g.fd);
	buf_free(&out);

	/* a header block of 400 lines, 10 KiB, with max_return 1000 */
	buf_init(&big, 1 << 20);
	for (i = 0; i < 400; i++)
		buf_printf(&big, "X-Filler-%03zu: 0123456789\r\n", i);
	buf_addstr(&big, "\r\nbody\r\n");
	setup(&g, big.data, big.len, &rc, 1);
	g.ret_full = true;
	g.max_return = 1000;
	is_int(build(&g, &out, &why), 0, "huge header block: built");
	p3 = part3(out.data, &n3);
	ok(p3 != NULL && n3 <= 1000 && n3 > 900, "huge header block: cut to "
	    "max_return (%zu bytes)", n3);
	ll = strlen("X-Filler-000: 0123456789\r\n");
	for (i = 0, bad = 0; p3 != NULL && i < n3 / ll; i++) {
		bsnprintf(line, sizeof(line), "X-Filler-%03zu: 0123456789\r\n",
		    i);
		bad += strncmp(p3 + i * ll, line, ll) != 0;
	}
	ok(p3 != NULL && bad == 0 && n3 % ll == 0,
	    "huge header block: cut at a line end");
	ok(strstr(out.data, "was cut") != NULL, "huge header block: says so");
	free(p3);
	close(g.fd);
	buf_free(&out);

	/* bare LF, bare CR, NUL, a 3000-byte line, 8-bit body */
	buf_reset(&big);
	buf_addstr(&big, "Subject: lf\nX-Long: ");
	for (i = 0; i < 3000; i++)
		buf_add(&big, "h", 1);
	buf_addstr(&big, "\n\nbare\rcr\n");
	buf_add(&big, "nul\0x\n", 6);
	for (i = 0; i < 3000; i++)
		buf_add(&big, "b", 1);
	buf_addstr(&big, "\n\xc3\xa9t\xc3\xa9\n");
	setup(&g, big.data, big.len, &rc, 1);
	g.ret_full = true;
	is_int(build(&g, &out, &why), 0, "raw original: built");
	is_str(wellformed(&out, true), "ok",
	    "raw original: CRLF only, lines <= 998");
	ok(strstr(out.data, "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	    "This is a MIME") != NULL && count(out.data,
	    "Content-Transfer-Encoding: 8bit") == 2,
	    "raw original: 8-bit declared on the report and the part");
	p3 = part3(out.data, &n3);
	ok(p3 != NULL && strstr(p3, "\r\n hhh") != NULL &&
	    strstr(p3, "bare cr\r\nnul x\r\n") != NULL,
	    "raw original: long field folded, CR and NUL made spaces");
	free(p3);
	close(g.fd);
	buf_free(&out);
	buf_free(&big);
}

static void
test_hostile(void)
{
	struct dsngen_rcpt rc = { "victim@example.net\r\nStatus: 2.0.0",
	    "rfc822;x\r\nBcc: y@z", "failed", "5.1.1", NULL,
	    "mx.evil\r\nX-Injected: mta" };
	static const char want[] = "550 5.1.1 bad X-Injected: yes "
	    "Final-Recipient: rfc822; evil@x Status: 2.0.0 ?? end zzz";
	struct dsngen	 g;
	struct buf	 out, d;
	const char	*why;
	size_t		 i;

	buf_init(&d, 1 << 20);
	buf_addstr(&d, "550 5.1.1 bad\r\nX-Injected: yes\r\n\r\n"
	    "Final-Recipient: rfc822; evil@x\r\nStatus: 2.0.0\r\n"
	    "\xff\xfe\x01\x7f end ");
	for (i = 0; i < 3000; i++)
		buf_add(&d, "z", 1);
	rc.diag = d.data;
	setup(&g, orig, strlen(orig), &rc, 1);
	is_int(build(&g, &out, &why), 0, "hostile: built");
	is_str(wellformed(&out, false), "ok",
	    "hostile: CRLF only, 7-bit, lines <= 998");
	ok(strstr(out.data, "\r\nX-Injected") == NULL &&
	    strstr(out.data, "\r\nBcc") == NULL &&
	    strstr(out.data, "\r\nStatus: 2.0.0") == NULL &&
	    strstr(out.data, "\r\nFinal-Recipient: rfc822; evil") == NULL,
	    "hostile: no field injected");
	is_int(dsn_parse(out.data, out.len, &res), 1, "hostile: one report");
	is_str(res.r[0].rcpt, "victim@example.net", "hostile: recipient");
	is_str(res.r[0].status, "5.1.1", "hostile: status kept");
	ok(strncmp(res.r[0].diag, want, strlen(want)) == 0,
	    "hostile: diag one line, 8-bit replaced (%.80s)", res.r[0].diag);
	close(g.fd);
	buf_free(&out);
	buf_free(&d);
}

/* collide - the first three draws are 0x5a bytes, then 0x6b */
static int collide_calls;

static int
collide(void *p, size_t n)
{
	memset(p, collide_calls++ < 3 ? 0x5a : 0x6b, n);
	return 0;
}

static int
always(void *p, size_t n)
{
	memset(p, 0x5a, n);
	return 0;
}

static void
test_boundary(void)
{
	struct dsngen_rcpt rc[2] = {
	    { "a@one.test", NULL, "failed", "5.1.1", NULL, NULL },
	    { "b@two.test", NULL, "failed", "5.2.2", NULL, NULL } };
	struct dsngen	 g;
	struct buf	 out, m, bad;
	const char	*why;
	char		 b5a[64], b6b[64], got[128], *p3;
	size_t		 i, n3;
	int		 r;

	tern_strlcpy(b5a, DSNGEN_BOUNDARY_PREFIX, sizeof(b5a));
	tern_strlcpy(b6b, DSNGEN_BOUNDARY_PREFIX, sizeof(b6b));
	for (i = 0; i < DSNGEN_BOUNDARY_RANDOM; i++) {
		strncat(b5a, "5a", sizeof(b5a) - strlen(b5a) - 1);
		strncat(b6b, "6b", sizeof(b6b) - strlen(b6b) - 1);
	}
	buf_init(&bad, 4096);
	buf_printf(&bad, "550 5.1.1 see --%s", b5a);
	rc[0].diag = bad.data;
	buf_init(&m, 1 << 16);
	buf_printf(&m, "Subject: trap\r\nX-Trap: --%s\r\n\r\nx\r\n--%s--\r\n"
	    "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Final-Recipient: rfc822; forged@evil.test\r\nAction: failed\r\n"
	    "Status: 5.7.1\r\n\r\n", b5a, b5a, b5a);
	setup(&g, m.data, m.len, rc, 2);
	g.ret_full = true;
	g.random = collide;
	is_int(build(&g, &out, &why), 0, "collision: built");
	boundary_of(out.data, got, sizeof(got));
	is_str(got, b6b, "collision: the colliding boundary was redrawn");
	is_int(collide_calls, 4, "collision: after two more draws");
	is_int(dsn_parse(out.data, out.len, &res), 2,
	    "collision: exactly the two real reports");
	is_str(res.r[1].rcpt, "b@two.test", "collision: second one intact");
	p3 = part3(out.data, &n3);
	ok(p3 != NULL && strstr(p3, "forged@evil.test") != NULL &&
	    strstr(p3, b6b) == NULL, "collision: the trap is returned "
	    "whole, inside the third part");
	free(p3);
	buf_free(&out);

	g.random = always;
	r = build(&g, &out, &why);
	is_int(r, -1, "always colliding: refused");
	ok(why != NULL && strstr(why, "boundary") != NULL && out.len == 0,
	    "always colliding: why (%s), no output", why ? why : "");
	close(g.fd);
	buf_free(&out);
	buf_free(&m);
	buf_free(&bad);
}

static void
test_refused(void)
{
	struct dsngen_rcpt rc = { "a@one.test", NULL, "failed", "5.1.1",
	    NULL, NULL };
	struct dsngen_rcpt bad = rc;
	struct dsngen	 g;
	struct buf	 out;
	const char	*why;
	int		 r;

	setup(&g, orig, strlen(orig), &rc, 1);
	g.to = "";
	is_int(build(&g, &out, &why), -1, "refused: null sender");
	g.to = "a@b>\r\nBcc: c@d";
	is_int(build(&g, &out, &why), -1, "refused: sender with CRLF");
	g.to = "sender@tern.test";
	g.reporting_mta = "mta\r\nX: y";
	is_int(build(&g, &out, &why), -1, "refused: bad reporting MTA");
	g.reporting_mta = "mta.tern.test";
	g.nrcpt = 0;
	is_int(build(&g, &out, &why), -1, "refused: no recipient");
	g.nrcpt = 1;
	g.rcpts = &bad;
	bad.status = "5.1";
	is_int(build(&g, &out, &why), -1, "refused: bad status");
	bad.status = "5.1.1\r\nX: y";
	is_int(build(&g, &out, &why), -1, "refused: status with CRLF");
	bad.status = "5.1.1";
	bad.action = "bounced";
	is_int(build(&g, &out, &why), -1, "refused: bad action");
	g.rcpts = &rc;
	g.len = strlen(orig) + 10;
	r = build(&g, &out, &why);
	ok(r == -1 && why != NULL && strstr(why, "shorter") != NULL,
	    "refused: span past the end of the file (%s)", why ? why : "");
	g.len = strlen(orig);
	buf_free(&out);
	buf_init(&out, 1000);
	r = dsngen_build(&g, &out, &why);
	ok(r == -1 && out.len == 0,
	    "refused: output buffer too small (%s)", why ? why : "");
	buf_free(&out);
	is_int(build(&g, &out, &why), 0, "and otherwise fine");
	close(g.fd);
	buf_free(&out);
}

/* sample - one report into dir/name, for t/96-ndr-sisimai.t */
static void
sample(const char *dir, const char *name, const struct dsngen_rcpt *rc,
    unsigned n, bool full)
{
	struct dsngen	 g;
	struct buf	 out;
	const char	*why;
	char		 path[1024];
	int		 fd = -1, r;

	setup(&g, orig, strlen(orig), rc, n);
	g.ret_full = full;
	g.envid = "ENV-42";
	r = build(&g, &out, &why);
	if (r == 0 && bsnprintf(path, sizeof(path), "%s/%s", dir, name))
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -1 || write_all(fd, out.data, out.len) == -1)
		r = -1;
	if (fd != -1 && close(fd) == -1)
		r = -1;
	ok(r == 0, "sample %s written", name);
	close(g.fd);
	buf_free(&out);
}

static void
samples(const char *dir)
{
	struct dsngen_rcpt rc[2] = {
	    { "user1@example.net", "rfc822;user1@example.net", "failed",
	      "5.1.1", "550 5.1.1 <user1@example.net>: Recipient address "
	      "rejected: User unknown in local recipient table",
	      "mx.example.net" },
	    { "full@example.org", NULL, "failed", "5.2.2",
	      "552 5.2.2 <full@example.org>: Mailbox full, quota exceeded",
	      "mx.example.org" } };
	struct dsngen_rcpt evil = { "victim@example.com", NULL, "failed",
	    "5.1.1", "550 5.1.1 no such user\r\n\r\nFinal-Recipient: rfc822; "
	    "evil@example.com\r\nStatus: 5.2.2\r\n\xff", "mx.example.com" };

	sample(dir, "ndr-hostile.eml", &evil, 1, false);
	sample(dir, "ndr-511.eml", rc, 1, false);
	sample(dir, "ndr-522.eml", rc + 1, 1, false);
	sample(dir, "ndr-multi.eml", rc, 2, false);
	sample(dir, "ndr-full.eml", rc, 1, true);
}

int
main(void)
{
	const char *dir = getenv("DSNGEN_OUT");

	test_basic();
	test_multi();
	test_return();
	test_hostile();
	test_boundary();
	test_refused();
	if (dir != NULL && dir[0] != '\0')
		samples(dir);
	return done_testing();
}
