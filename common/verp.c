/*
 * verp.c - VERP return paths.
 *
 * Purpose:      see verp.h.
 * Used by:      deliverd, bouncd.
 * Trust:        see verp.h.
 * Spool access: none.
 * See:          tern.yaml(5) verp.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "verp.h"

static bool
keep(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static bool
enc(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char	      e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (keep(c))
			buf_add(b, (const char *)&c, 1);
		else
			buf_add(b, e, 3);
	}
	return b->len <= MAILADDR_MAX;
}

/* build - the VERP form with nparts of (recipient, vmta, job), or -1 */
static int
build(const char *sender, const char *rcpt, const char *vmta,
    const char *job, unsigned nparts, char *out, size_t outsz)
{
	const char	*sat = strrchr(sender, '@'), *rat = strrchr(rcpt, '@');
	struct buf	 b;
	bool		 ok;
	size_t		 local;

	buf_init(&b, 4 * MAILADDR_MAX);
	buf_add(&b, sender, (size_t)(sat - sender));
	buf_add(&b, "+", 1);
	ok = enc(&b, rcpt, (size_t)(rat - rcpt));
	buf_add(&b, "=", 1);
	ok = ok && enc(&b, rat + 1, strlen(rat + 1));
	if (nparts >= 2) {
		buf_add(&b, "=", 1);
		ok = ok && enc(&b, vmta, strlen(vmta));
	}
	if (nparts >= 3) {
		buf_add(&b, "=", 1);
		ok = ok && enc(&b, job, strlen(job));
	}
	local = b.len;
	buf_addstr(&b, sat);
	ok = ok && local <= MAILADDR_LOCAL_MAX && b.len <= MAILADDR_MAX &&
	    b.len < outsz;
	if (ok) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	buf_free(&b);
	return ok ? 0 : -1;
}

/*
 * verp_encode - the recipient always; the VirtualMTA and the job while
 * the local part stays within RFC 5321's 64 octets (receivers enforce
 * it); what does not fit is found again from the returned headers.
 */
int
verp_encode(const char *sender, const char *rcpt, const char *vmta,
    const char *job, char *out, size_t outsz)
{
	unsigned n;

	tern_strlcpy(out, sender, outsz);
	if (strrchr(sender, '@') == NULL || strrchr(rcpt, '@') == NULL ||
	    *sender == '\0')
		return -1;
	n = job != NULL && *job != '\0' ? 3 : vmta != NULL && *vmta != '\0' ?
	    2 : 1;
	for (; n >= 1; n--)
		if (build(sender, rcpt, vmta, job, n, out, outsz) == 0)
			return 0;
	tern_strlcpy(out, sender, outsz);
	return -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dec - one '='-separated part, [p, e), into out */
static int
dec(const char *p, const char *e, char *out, size_t outsz)
{
	size_t n = 0;

	for (; p < e; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int h, l;

			if (e - p < 3 || (h = hexval(p[1])) < 0 ||
			    (l = hexval(p[2])) < 0)
				return -1;
			c = h << 4 | l;
			p += 2;
		} else if (!keep((unsigned char)c))
			return -1;
		if (c == 0 || n + 1 >= outsz)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int
verp_decode(const char *addr, struct verp *v)
{
	const char	*at = strrchr(addr, '@'), *plus, *p, *e[5];
	char		 local[MAILADDR_MAX + 1], dom[MAILADDR_MAX + 1];
	struct mailaddr	 a;
	const char	*why;
	unsigned	 n = 0;

	memset(v, 0, sizeof(*v));
	if (at == NULL || strlen(addr) > MAILADDR_MAX)
		return -1;
	for (plus = NULL, p = addr; p < at; p++)
		if (*p == '+')
			plus = p;
	if (plus == NULL)
		return -1;
	for (p = plus + 1; p < at && n < 4; p++)
		if (*p == '=')
			e[n++] = p;
	if (n < 1 || n > 3 || p < at)
		return -1;
	e[n] = at;
	if (dec(plus + 1, e[0], local, sizeof(local)) == -1 ||
	    dec(e[0] + 1, e[1], dom, sizeof(dom)) == -1 ||
	    (n >= 2 && dec(e[1] + 1, e[2], v->vmta, sizeof(v->vmta)) == -1) ||
	    (n == 3 && dec(e[2] + 1, e[3], v->job, sizeof(v->job)) == -1))
		return -1;
	if (!bsnprintf(v->rcpt, sizeof(v->rcpt), "%s@%s", local, dom) ||
	    mailaddr_parse(v->rcpt, &a, &why) == -1 || dom[0] == '\0')
		return -1;
	return 0;
}
