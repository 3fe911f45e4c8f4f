/*
 * test_mailaddr.c - unit tests for common/mailaddr.c.
 *
 * Purpose:      table-driven checks of mailaddr_parse_path (paths, the
 *               null path, source routes, quoted local parts, domain
 *               lowercasing, address literals, length limits, control
 *               and 8-bit bytes), mailaddr_parse, mailaddr_domain_ok and
 *               mailaddr_format.
 * Used by:      t/00-unit.t (build/t/test_mailaddr).
 * Trust:        test code; the inputs model hostile SMTP clients.
 * Spool access: none.
 * See:          common/mailaddr.h, RFC 5321 4.1.2 and 4.5.3.1.
 */
#include <stdio.h>
#include <string.h>

#include "mailaddr.h"
#include "tap.h"
#include "util.h"

/*
 * Known bugs in common/mailaddr.c (see the report); the rows below that
 * show them are marked with one of these reasons and run as TODO.
 */
#define BUG_LOCAL_LEN	NULL	/* fixed: local part limit 64 octets */
#define BUG_PATH_LEN	NULL	/* fixed: the path ends at '>' */

struct pcase {
	const char	*in;
	bool		 null_ok;
	int		 rc;
	const char	*local;		/* expected on success */
	const char	*domain;
	bool		 is_null;
	const char	*rest;		/* what *end points at */
	const char	*todo;
};

static const struct pcase paths[] = {
	/* plain and null paths */
	{ "<a@b.com>", false, 0, "a", "b.com", false, "", NULL },
	{ "<a@b.com> SIZE=10", false, 0, "a", "b.com", false, " SIZE=10",
	    NULL },
	{ "<>", true, 0, "", "", true, "", NULL },
	{ "<> BODY=8BITMIME", true, 0, "", "", true, " BODY=8BITMIME", NULL },
	{ "<>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<first.last+tag@sub.example.org>", false, 0, "first.last+tag",
	    "sub.example.org", false, "", NULL },
	{ "<!#$%&'*+-/=?^_`{|}~@x.org>", false, 0, "!#$%&'*+-/=?^_`{|}~",
	    "x.org", false, "", NULL },
	{ "<a@localhost>", false, 0, "a", "localhost", false, "", NULL },
	{ "<a@under_score.example>", false, 0, "a", "under_score.example",
	    false, "", NULL },
	/* source routes are accepted and dropped */
	{ "<@relay:a@b.com>", false, 0, "a", "b.com", false, "", NULL },
	{ "<@r1.example,@r2.example:a@b.com>", false, 0, "a", "b.com",
	    false, "", NULL },
	/* quoted local parts keep their quotes and escapes */
	{ "<\"john doe\"@b.com>", false, 0, "\"john doe\"", "b.com", false,
	    "", NULL },
	{ "<\"a\\\"b\"@b.com>", false, 0, "\"a\\\"b\"", "b.com", false, "",
	    NULL },
	{ "<\"a@b\"@c.com>", false, 0, "\"a@b\"", "c.com", false, "", NULL },
	{ "<\"a>b\"@c.com>", false, 0, "\"a>b\"", "c.com", false, "", NULL },
	{ "<\"..\"@c.com>", false, 0, "\"..\"", "c.com", false, "", NULL },
	{ "<\"\"@c.com>", false, 0, "\"\"", "c.com", false, "", NULL },
	/* the domain is lowercased, the local part is not */
	{ "<John.Doe@EXAMPLE.COM>", false, 0, "John.Doe", "example.com",
	    false, "", NULL },
	{ "<A@Sub.Example.Org>", false, 0, "A", "sub.example.org", false, "",
	    NULL },
	/* address literals */
	{ "<a@[1.2.3.4]>", false, 0, "a", "[1.2.3.4]", false, "", NULL },
	{ "<a@[IPv6:::1]>", false, 0, "a", "[ipv6:::1]", false, "", NULL },
	{ "<a@[IPv6:2001:db8::25]>", false, 0, "a", "[ipv6:2001:db8::25]",
	    false, "", NULL },
	{ "<a@[1.2.3.4.5]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[256.1.1.1]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[::1]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[IPv6:zz::1]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[IPv6:1.2.3.4]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[1.2.3.4>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[]>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@[>", false, -1, NULL, NULL, false, NULL, NULL },
	/* brackets */
	{ "a@b.com", false, -1, NULL, NULL, false, NULL, NULL },
	{ "", true, -1, NULL, NULL, false, NULL, NULL },
	{ " <a@b.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b.com", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b.com >", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<", true, -1, NULL, NULL, false, NULL, NULL },
	{ "< >", true, -1, NULL, NULL, false, NULL, NULL },
	/* missing parts */
	{ "<a>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<@b.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<@relay>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<@relay:>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@@b.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	/* dots */
	{ "<a..b@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<.a@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a.@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b..com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@.b.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b.com.>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@->", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@-b.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b-.com>", false, -1, NULL, NULL, false, NULL, NULL },
	/* blanks, control characters, 8-bit */
	{ "<a b@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b .com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a\x01@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@c\x01.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@c.com\r>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a\r\n@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a\x7f@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<\"a\x01\"@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<\"a\\\x01\"@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<\"a\tb\"@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<\"unterminated@c.com>", false, -1, NULL, NULL, false, NULL,
	    NULL },
	{ "<\"a\\", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<j\xc3\xbcrgen@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a@b\xc3\xbc.com>", false, -1, NULL, NULL, false, NULL, NULL },
	{ "<a(comment)@c.com>", false, -1, NULL, NULL, false, NULL, NULL },
};

static void
run_path(const struct pcase *c, const char *label)
{
	struct mailaddr	 a;
	const char	*end = NULL, *why = NULL;
	bool		 is_null = !c->is_null;
	int		 rc;

	if (c->todo)
		todo_start(c->todo);
	rc = mailaddr_parse_path(c->in, c->null_ok, &a, &is_null, &end, &why);
	if (!is_int(rc, c->rc, "parse_path(%s) %s", label,
	    c->rc == 0 ? "accepted" : "refused") && rc == -1)
		diag("    why: %s", why ? why : "(none)");
	if (c->todo)
		todo_end();
	if (rc != c->rc)
		return;
	if (rc == -1) {
		ok(why != NULL && *why != '\0', "parse_path(%s) says why (%s)",
		    label, why ? why : "none");
		return;
	}
	is_str(a.local, c->local, "parse_path(%s) local part", label);
	is_str(a.domain, c->domain, "parse_path(%s) domain", label);
	is_int(is_null, c->is_null, "parse_path(%s) is_null", label);
	is_str(end, c->rest, "parse_path(%s) end", label);
}

/* label - the input made printable for test names */
static void
label(const char *in, char *out, size_t sz)
{
	size_t o = 0;

	for (; *in != '\0' && o + 5 < sz; in++) {
		unsigned char c = (unsigned char)*in;
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, sz - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void
test_table(void)
{
	char	 l[128];
	unsigned i;

	for (i = 0; i < nitems(paths); i++) {
		label(paths[i].in, l, sizeof(l));
		run_path(&paths[i], l);
	}
}

/* rep - n copies of c */
static void
rep(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

/* mkdomain - a valid domain of exactly n octets from 63-octet labels */
static void
mkdomain(char *dst, size_t n)
{
	size_t	 o = 0, l;
	char	 c = 'a';

	while (o < n) {
		l = n - o;
		if (l > 63)
			l = n - o - 63 >= 2 ? 63 : n - o - 2;
		memset(dst + o, c, l);
		o += l;
		if (o < n)
			dst[o++] = '.';
		c = c == 'z' ? 'a' : c + 1;
	}
	dst[o] = '\0';
}

static void
test_lengths(void)
{
	struct pcase	 c;
	char		 local[200], dom[400], in[800], lbl[64];

	memset(&c, 0, sizeof(c));
	c.rest = "";

	/* Local part: 64 octets is the RFC 5321 limit. */
	rep(local, 'l', 64);
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	c.in = in, c.rc = 0, c.local = local, c.domain = "b.com";
	run_path(&c, "64-octet local part");

	rep(local, 'l', 65);
	c.rc = -1, c.todo = BUG_LOCAL_LEN;
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	run_path(&c, "65-octet local part");
	rep(local, 'l', 66);
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	run_path(&c, "66-octet local part");
	c.todo = NULL;
	rep(local, 'l', 67);
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	run_path(&c, "67-octet local part");
	rep(local, 'l', 150);
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	run_path(&c, "150-octet local part");

	/* Quoted: the quotes count toward the 64 octets. */
	local[0] = '"';
	rep(local + 1, 'q', 62);
	local[63] = '"';
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	c.rc = 0, c.local = local;
	run_path(&c, "64-octet quoted local part");
	rep(local + 1, 'q', 63);
	local[64] = '"';
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	c.rc = -1, c.todo = BUG_LOCAL_LEN;
	run_path(&c, "65-octet quoted local part");
	c.todo = NULL;
	rep(local + 1, 'q', 65);
	local[66] = '"';
	local[67] = '\0';
	snprintf(in, sizeof(in), "<%s@b.com>", local);
	run_path(&c, "67-octet quoted local part");

	/* Domain: labels of at most 63, the whole at most 255. */
	rep(dom, 'd', 63);
	memcpy(dom + 63, ".com", 5);
	snprintf(in, sizeof(in), "<a@%s>", dom);
	c.rc = 0, c.local = "a", c.domain = dom;
	run_path(&c, "63-octet label");
	rep(dom, 'd', 64);
	memcpy(dom + 64, ".com", 5);
	snprintf(in, sizeof(in), "<a@%s>", dom);
	c.rc = -1;
	run_path(&c, "64-octet label");
	mkdomain(dom, 256);
	snprintf(in, sizeof(in), "<a@%s>", dom);
	run_path(&c, "256-octet domain");
	mkdomain(dom, 300);
	snprintf(in, sizeof(in), "<a@%s>", dom);
	run_path(&c, "300-octet domain");
	ok(mailaddr_domain_ok(dom) == false, "domain_ok(300 octets) false");
	mkdomain(dom, 255);
	ok(strlen(dom) == 255 && mailaddr_domain_ok(dom),
	    "domain_ok(255 octets) true");
	mkdomain(dom, 256);
	ok(strlen(dom) == 256 && !mailaddr_domain_ok(dom),
	    "domain_ok(256 octets) false");

	/*
	 * Path: at most 256 octets including "<" and ">" (RFC 5321
	 * 4.5.3.1.3), whatever follows the path on the command line.
	 */
	rep(local, 'l', 64);
	mkdomain(dom, 189);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	c.rc = 0, c.local = local, c.domain = dom;
	snprintf(lbl, sizeof(lbl), "%zu-octet path", strlen(in));
	run_path(&c, lbl);
	snprintf(in, sizeof(in), "<%s@%s> SIZE=1000 BODY=8BITMIME", local,
	    dom);
	c.rest = " SIZE=1000 BODY=8BITMIME", c.todo = BUG_PATH_LEN;
	run_path(&c, "256-octet path followed by parameters");
	c.rest = "", c.todo = NULL;
	mkdomain(dom, 190);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	c.rc = -1, c.todo = BUG_PATH_LEN;
	snprintf(lbl, sizeof(lbl), "%zu-octet path", strlen(in));
	run_path(&c, lbl);
	mkdomain(dom, 191);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	snprintf(lbl, sizeof(lbl), "%zu-octet path", strlen(in));
	run_path(&c, lbl);
	c.todo = NULL;
	mkdomain(dom, 192);
	snprintf(in, sizeof(in), "<%s@%s>", local, dom);
	snprintf(lbl, sizeof(lbl), "%zu-octet path", strlen(in));
	run_path(&c, lbl);

	/* An endless source route is refused, not scanned forever. */
	memset(in, 'r', sizeof(in) - 1);
	in[0] = '<', in[1] = '@';
	in[sizeof(in) - 1] = '\0';
	c.rc = -1;
	run_path(&c, "800-octet source route without ':'");
	memcpy(in + 300, ":a@b.com>", 10);
	run_path(&c, "300-octet source route");
}

struct dcase {
	const char	*d;
	bool		 ok;
};

static const struct dcase domains[] = {
	{ "example.com", true }, { "a", true }, { "a-b.c", true },
	{ "1.2.3.4", true }, { "[1.2.3.4]", true }, { "[IPv6:::1]", true },
	{ "[ipv6:fe80::1]", true }, { "", false }, { ".", false },
	{ "a.", false }, { ".a", false }, { "a..b", false }, { "-a", false },
	{ "a-", false }, { "a b", false }, { "a/b", false }, { "[]", false },
	{ "[", false }, { "]", false }, { "[1.2.3]", false },
	{ "[IPv6:]", false }, { "[IPv6:1::2::3]", false },
	{ "[1.2.3.4] ", false },
};

static void
test_domain_ok(void)
{
	unsigned i;

	for (i = 0; i < nitems(domains); i++)
		is_int(mailaddr_domain_ok(domains[i].d), domains[i].ok,
		    "domain_ok(\"%s\") is %s", domains[i].d,
		    domains[i].ok ? "true" : "false");
}

static void
test_parse_format(void)
{
	struct mailaddr	 a;
	const char	*why = NULL, *end;
	char		 buf[400], small[8];
	bool		 isn;

	is_int(mailaddr_parse("User@Example.COM", &a, &why), 0,
	    "mailaddr_parse bare address");
	is_str(a.local, "User", "mailaddr_parse local");
	is_str(a.domain, "example.com", "mailaddr_parse domain lowercased");
	mailaddr_format(&a, buf, sizeof(buf));
	is_str(buf, "User@example.com", "mailaddr_format");
	mailaddr_format(&a, small, sizeof(small));
	is_str(small, "User@ex", "mailaddr_format truncates");

	is_int(mailaddr_parse("<a@b.com>", &a, &why), -1,
	    "mailaddr_parse refuses brackets");
	is_int(mailaddr_parse("a@b.com x", &a, &why), -1,
	    "mailaddr_parse refuses trailing text");
	is_int(mailaddr_parse("a", &a, &why), -1,
	    "mailaddr_parse refuses a missing domain");
	is_int(mailaddr_parse("", &a, &why), -1,
	    "mailaddr_parse refuses the empty string");

	is_int(mailaddr_parse_path("<\"x y\"@B.org>", false, &a, &isn, &end,
	    &why), 0, "quoted path parses");
	mailaddr_format(&a, buf, sizeof(buf));
	is_str(buf, "\"x y\"@b.org", "mailaddr_format keeps the quotes");

	is_int(mailaddr_parse_path("<>", true, &a, &isn, &end, &why), 0,
	    "null path parses");
	mailaddr_format(&a, buf, sizeof(buf));
	is_str(buf, "", "mailaddr_format of the null path is empty");

	/* A failed parse leaves no half-filled address behind. */
	memset(&a, 'x', sizeof(a));
	mailaddr_parse_path("<ab@c..d>", false, &a, &isn, &end, &why);
	ok(memchr(a.local, '\0', sizeof(a.local)) != NULL &&
	    memchr(a.domain, '\0', sizeof(a.domain)) != NULL,
	    "failed parse leaves terminated strings");
}

int
main(void)
{
	test_table();
	test_lengths();
	test_domain_ok();
	test_parse_format();
	return done_testing();
}
