/*
 * test_mailhdr.c - unit tests for common/mailhdr.c.
 *
 * Purpose:      table-driven checks of mailhdr_from_domain (finding the
 *               one From field in a header block: LF or CRLF, folding,
 *               the obsolete "From :", a header block cut short, no From,
 *               two From fields, a line without a colon) and of
 *               mailhdr_author_domain (display names, comments, quoted
 *               local parts, groups, several authors, literals, case).
 * Used by:      t/00-unit.t (build/t/test_mailhdr).
 * Trust:        test code; the inputs model hostile messages.
 * Spool access: none.
 * See:          common/mailhdr.h, RFC 5322 3.4 and 3.6.2.
 */
#include <stdio.h>
#include <string.h>

#include "mailhdr.h"
#include "tap.h"
#include "util.h"

struct acase {
	const char	*v;		/* an unfolded From value */
	const char	*dom;		/* expected, NULL: refused */
};

static const struct acase authors[] = {
	{ " a@example.com", "example.com" },
	{ " Alice <alice@Example.COM>", "example.com" },
	{ " \"Doe, John\" <john@x.example>", "x.example" },
	{ " \"a <b@evil.test>\" <real@good.test>", "good.test" },
	{ " (comment <c@evil.test>) user@good.test (more)", "good.test" },
	{ " \"quoted@local\"@dom.test", "dom.test" },
	{ " \"q\\\"uote\" <q@dom.test>", "dom.test" },
	{ " <@route.test:u@dom.test>", "dom.test" },
	{ " =?utf-8?q?J=C3=B6rg?= <j@dom.test>", "dom.test" },
	{ " J\xc3\xb6rg <j@dom.test>", "dom.test" },
	{ " a@example.com, b@example.com", NULL },	/* two authors */
	{ " Group: a@example.com;", NULL },
	{ " <a@x.test> <b@y.test>", NULL },
	{ " <a@x.test> trailing", NULL },
	{ " <a@x.test", NULL },
	{ " \"unterminated <a@x.test>", NULL },
	{ " (unterminated a@x.test", NULL },
	{ " a@[192.0.2.1]", NULL },
	{ " a@b\xc3\xa9.test", NULL },			/* not a host name */
	{ " a@", NULL },
	{ " @x.test", NULL },
	{ " nobody", NULL },
	{ " <>", NULL },
	{ " a b@x.test", NULL },
	{ "", NULL },
	{ " a@x..test", NULL },
};

struct fcase {
	const char	*h;
	bool		 whole;
	const char	*dom;
};

static const struct fcase blocks[] = {
	{ "From: a@one.test\r\nTo: b@two.test\r\n\r\nbody\r\n", true,
	    "one.test" },
	{ "To: b@two.test\nFrom: a@one.test\n\nbody\n", true, "one.test" },
	{ "FROM : a@one.test\r\n\r\n", true, "one.test" },
	{ "Subject: x\r\nFrom: Name\r\n\t<a@folded.test>\r\n\r\n", true,
	    "folded.test" },
	{ "From: a@one.test\r\nX-From: b@two.test\r\n\r\n", true,
	    "one.test" },
	{ "From: a@one.test\r\n\r\nFrom: b@body.test\r\n", true,
	    "one.test" },				/* body is not header */
	{ "From: a@one.test\r\nFrom: b@two.test\r\n\r\n", true, NULL },
	{ "To: b@two.test\r\n\r\n", true, NULL },
	{ "From: a@one.test\r\nno colon here\r\n\r\n", true, NULL },
	{ "From: a@one.test\r\nTo: b@two.test\r\n", true, "one.test" },
	{ "From: a@one.test\r\nTo: b@two.test\r\n", false, NULL },
	{ "From: a@one.test\r\nTo: b@two.test\r\n\r\n", false, "one.test" },
	{ "From:\r\n a@one.test\r\n\r\n", true, "one.test" },
	{ "", true, NULL },
};

static void
test_authors(void)
{
	char		 dom[MAILADDR_DOMAIN_MAX + 1];
	const char	*why;
	unsigned	 i;
	int		 rc;

	for (i = 0; i < nitems(authors); i++) {
		why = NULL;
		rc = mailhdr_author_domain(authors[i].v, dom, &why);
		if (authors[i].dom != NULL) {
			if (!is_int(rc, 0, "author %u: accepted", i))
				diag("    %s: %s", authors[i].v, why);
			else
				is_str(dom, authors[i].dom, "author %u: domain",
				    i);
		} else
			ok(rc == -1 && why != NULL, "author %u: refused (%s)",
			    i, why ? why : "no reason");
	}
}

static void
test_blocks(void)
{
	char		 dom[MAILADDR_DOMAIN_MAX + 1];
	const char	*why;
	unsigned	 i;
	int		 rc;

	for (i = 0; i < nitems(blocks); i++) {
		why = NULL;
		rc = mailhdr_from_domain(blocks[i].h, strlen(blocks[i].h),
		    blocks[i].whole, dom, &why);
		if (blocks[i].dom != NULL) {
			if (!is_int(rc, 0, "block %u: accepted", i))
				diag("    why: %s", why);
			else
				is_str(dom, blocks[i].dom, "block %u: domain",
				    i);
		} else
			ok(rc == -1 && why != NULL, "block %u: refused (%s)",
			    i, why ? why : "no reason");
	}
}

/* A From value past the cap, and a NUL inside it, are refused. */
static void
test_limits(void)
{
	char		 big[MAILHDR_FROM_MAX + 64];
	char		 dom[MAILADDR_DOMAIN_MAX + 1];
	const char	*why = NULL;
	static const char nul[] = "From: a\0b@x.test\r\n\r\n";

	memset(big, 'a', sizeof(big));
	memcpy(big, "From: ", 6);
	memcpy(big + sizeof(big) - 13, "@x.test\r\n\r\n", 11);
	is_int(mailhdr_from_domain(big, sizeof(big) - 2, true, dom, &why), -1,
	    "an overlong From is refused (%s)", why ? why : "?");
	is_int(mailhdr_from_domain(nul, sizeof(nul) - 1, true, dom, &why), -1,
	    "a NUL in From is refused (%s)", why ? why : "?");
}

int
main(void)
{
	test_authors();
	test_blocks();
	test_limits();
	return done_testing();
}
