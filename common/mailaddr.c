/*
 * mailaddr.c - RFC 5321 paths and addresses.
 *
 * Purpose:      see mailaddr.h.  Grammar (RFC 5321 4.1.2):
 *               Path = "<" [ A-d-l ":" ] Mailbox ">"
 *               Mailbox = Local-part "@" ( Domain / address-literal )
 *               Local-part = Dot-string / Quoted-string
 *               UTF-8 in the local part and domain is refused: Tern does
 *               not advertise SMTPUTF8.
 * Used by:      smtpd, queued.
 * Trust:        hostile input; every length is bounded.
 * Spool access: none.
 * See:          smtpd(8).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mailaddr.h"
#include "util.h"

static bool
atext(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool
label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return false;
	return true;
}

/* mailaddr_domain_ok - hostname or [IPv4] / [IPv6:...] literal */
bool
mailaddr_domain_ok(const char *d)
{
	const char	*dot;
	size_t		 n = strlen(d);
	char		 lit[64];
	unsigned char	 bin[16];

	if (n == 0 || n > MAILADDR_DOMAIN_MAX)
		return false;
	if (d[0] == '[') {
		if (d[n - 1] != ']' || n - 2 >= sizeof(lit))
			return false;
		memcpy(lit, d + 1, n - 2);
		lit[n - 2] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, lit + 5, bin) == 1;
		return inet_pton(AF_INET, lit, bin) == 1;
	}
	for (;;) {
		dot = strchr(d, '.');
		if (!label_ok(d, dot ? (size_t)(dot - d) : strlen(d)))
			return false;
		if (dot == NULL)
			return true;
		d = dot + 1;
	}
}

/* parse_local - dot-string or quoted-string; returns bytes consumed */
static int
parse_local(const char *s, char *out, size_t outsz)
{
	size_t	 i = 0, o = 0;

	if (s[0] == '"') {
		out[o++] = '"';
		for (i = 1; s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				c = (unsigned char)s[++i];
				if (c < 0x20 || c > 0x7e)
					return -1;
				if (o + 2 >= outsz)
					return -1;
				out[o++] = '\\';
			} else if (c < 0x20 || c > 0x7e)
				return -1;
			if (o + 2 >= outsz)
				return -1;
			out[o++] = (char)c;
		}
		out[o++] = '"';
		out[o] = '\0';
		return (int)i + 1;
	}
	for (; atext((unsigned char)s[i]) || s[i] == '.'; i++) {
		if (s[i] == '.' && (i == 0 || s[i - 1] == '.'))
			return -1;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = s[i];
	}
	if (i == 0 || s[i - 1] == '.')
		return -1;
	out[o] = '\0';
	return (int)i;
}

/* parse_mailbox - local@domain up to a stop character */
static int
parse_mailbox(const char *s, struct mailaddr *a, const char *stop,
    const char **end, const char **why)
{
	int		 n;
	size_t		 dl;
	const char	*d;

	/* RFC 5321 4.5.3.1.1: 64 octets, quotes included. */
	if ((n = parse_local(s, a->local, sizeof(a->local))) <= 0 ||
	    strlen(a->local) > MAILADDR_LOCAL_MAX) {
		*why = "bad local part";
		return -1;
	}
	if (s[n] != '@') {
		*why = "address needs a domain (user@domain)";
		return -1;
	}
	d = s + n + 1;
	dl = strcspn(d, stop);
	if (dl == 0 || dl > MAILADDR_DOMAIN_MAX) {
		*why = "bad domain";
		return -1;
	}
	memcpy(a->domain, d, dl);
	a->domain[dl] = '\0';
	str_lower(a->domain);
	if (!mailaddr_domain_ok(a->domain)) {
		*why = "bad domain";
		return -1;
	}
	*end = d + dl;
	return 0;
}

int
mailaddr_parse_path(const char *s, bool null_ok, struct mailaddr *a,
    bool *is_null, const char **end, const char **why)
{
	const char	*p, *start = s;

	memset(a, 0, sizeof(*a));
	*is_null = false;
	if (*s != '<') {
		*why = "path must be enclosed in <>";
		return -1;
	}
	s++;
	if (*s == '>') {
		if (!null_ok) {
			*why = "null path not allowed here";
			return -1;
		}
		*is_null = true;
		*end = s + 1;
		return 0;
	}
	/* Source route "@a,@b:" is accepted and ignored (RFC 5321 4.1.2). */
	if (*s == '@') {
		if ((p = strchr(s, ':')) == NULL || (size_t)(p - s) > 255) {
			*why = "bad source route";
			return -1;
		}
		s = p + 1;
	}
	/* The path itself, up to '>', parameters excluded. */
	if (strcspn(s, ">") > MAILADDR_MAX - 2) {
		*why = "path too long";
		return -1;
	}
	if (parse_mailbox(s, a, ">", &p, why) == -1)
		return -1;
	if (*p != '>') {
		*why = "missing '>'";
		return -1;
	}
	*end = p + 1;
	/* RFC 5321 4.5.3.1.3: the whole path, brackets included. */
	if ((size_t)(*end - start) > MAILADDR_MAX) {
		*why = "path too long";
		return -1;
	}
	return 0;
}

/* mailaddr_parse - a bare local@domain, whole string */
int
mailaddr_parse(const char *s, struct mailaddr *a, const char **why)
{
	const char *end;

	memset(a, 0, sizeof(*a));
	if (parse_mailbox(s, a, "", &end, why) == -1)
		return -1;
	return 0;
}

void
mailaddr_format(const struct mailaddr *a, char *buf, size_t sz)
{
	if (a->local[0] == '\0')
		snprintf(buf, sz, "%s", "");
	else
		snprintf(buf, sz, "%s@%s", a->local, a->domain);
}
