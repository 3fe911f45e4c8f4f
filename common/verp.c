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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

/* tag - VERP_TAG_LEN hex digits of the HMAC of the fields */
static void
tag(const char *secret, const char *rcpt, const char *vmta,
    const char *job, char out[VERP_TAG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0;
	struct buf	 b;
	int		 i;

	buf_init(&b, 4 * MAILADDR_MAX);
	buf_printf(&b, "%s\n%s\n%s", rcpt, vmta ? vmta : "",
	    job ? job : "");
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)b.data, b.len, md, &n) == NULL)
		n = 0;
	buf_free(&b);
	for (i = 0; i < VERP_TAG_LEN; i++)
		out[i] = n * 2 > (unsigned)i ? hex[(md[i / 2] >> (i % 2 ?
		    0 : 4)) & 15] : '0';
	out[VERP_TAG_LEN] = '\0';
}

/* build - the VERP form with nparts of (recipient, vmta, job), or -1 */
static int
build(const char *sender, const char *rcpt, const char *vmta,
    const char *job, const char *secret, unsigned nparts, char *out,
    size_t outsz)
{
	char		 t[VERP_TAG_LEN + 1];
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
	if (secret != NULL) {
		/* The tag covers exactly the fields written. */
		tag(secret, rcpt, nparts >= 2 ? vmta : "", nparts >= 3 ? job :
		    "", t);
		buf_add(&b, "=", 1);
		buf_add(&b, t, VERP_TAG_LEN);
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
    const char *job, const char *secret, char *out, size_t outsz)
{
	unsigned n;

	tern_strlcpy(out, sender, outsz);
	if (strrchr(sender, '@') == NULL || strrchr(rcpt, '@') == NULL ||
	    *sender == '\0')
		return -1;
	n = job != NULL && *job != '\0' ? 3 : vmta != NULL && *vmta != '\0' ?
	    2 : 1;
	for (; n >= 1; n--)
		if (build(sender, rcpt, vmta, job, secret, n, out, outsz) == 0)
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

/* parse - the parts [p, at) split at '=' (n of them), decoded into v */
static int
parse(const char *p, const char *at, struct verp *v, unsigned want_tag,
    char t[VERP_TAG_LEN + 1])
{
	const char	*e[8];
	char		 local[MAILADDR_MAX + 1], dom[MAILADDR_MAX + 1];
	struct mailaddr	 a;
	const char	*why;
	unsigned	 n = 0, k;

	memset(v, 0, sizeof(*v));
	e[0] = p - 1;
	for (; p < at && n < 5; p++)
		if (*p == '=')
			e[++n] = p;
	if (p < at)
		return -1;
	e[++n] = at;			/* n parts, part i is (e[i-1], e[i]) */
	if (n < 2 + want_tag || n > 4 + want_tag)
		return -1;
	k = n - want_tag;
	if (dec(e[0] + 1, e[1], local, sizeof(local)) == -1 ||
	    dec(e[1] + 1, e[2], dom, sizeof(dom)) == -1 ||
	    (k >= 3 && dec(e[2] + 1, e[3], v->vmta, sizeof(v->vmta)) == -1) ||
	    (k == 4 && dec(e[3] + 1, e[4], v->job, sizeof(v->job)) == -1))
		return -1;
	if (want_tag) {
		if (e[n] - e[n - 1] - 1 != VERP_TAG_LEN)
			return -1;
		memcpy(t, e[n - 1] + 1, VERP_TAG_LEN);
		t[VERP_TAG_LEN] = '\0';
	}
	if (!bsnprintf(v->rcpt, sizeof(v->rcpt), "%s@%s", local, dom) ||
	    mailaddr_parse(v->rcpt, &a, &why) == -1 || dom[0] == '\0')
		return -1;
	return 0;
}

int
verp_decode(const char *addr, const char *secret, struct verp *v)
{
	const char	*at = strrchr(addr, '@'), *plus = NULL, *p;
	char		 got[VERP_TAG_LEN + 1], want[VERP_TAG_LEN + 1];

	memset(v, 0, sizeof(*v));
	if (at == NULL || strlen(addr) > MAILADDR_MAX)
		return -1;
	for (p = addr; p < at; p++)
		if (*p == '+')
			plus = p;
	if (plus == NULL)
		return -1;
	if (secret != NULL && parse(plus + 1, at, v, 1, got) == 0) {
		tag(secret, v->rcpt, v->vmta, v->job, want);
		if (CRYPTO_memcmp(got, want, VERP_TAG_LEN) == 0) {
			v->verified = true;
			return 0;
		}
		/* Not ours: unsigned if it reads so, else tagged unverified. */
		if (parse(plus + 1, at, v, 0, NULL) == 0)
			return 0;
		return parse(plus + 1, at, v, 1, got);
	}
	return parse(plus + 1, at, v, 0, NULL);
}
