/*
 * mailhdr.c - the few RFC 5322 header facts Tern needs from a message.
 *
 * Purpose:      see mailhdr.h.  The header block is walked line by line
 *               (CRLF or LF); a field starts at a line that does not
 *               begin with a space or a tab and goes on over the lines
 *               that do.  The From value is unfolded and read by a
 *               small state machine over quoted strings, comments and
 *               one angle address.
 * Used by:      queued.
 * Trust:        see mailhdr.h: the input is hostile, refusals are cheap.
 * Spool access: none.
 * See:          RFC 5322 3.2.2-3.2.4, 3.4, 3.6.2.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailhdr.h"
#include "util.h"

#define COMMENT_DEPTH_MAX	32


/* is_from - does the field line start with "From:" (or "From :")? */
static bool
is_from(const char *p, size_t l)
{
	size_t i = 4;

	if (l < 5 || strncasecmp(p, "From", 4) != 0)
		return false;
	while (i < l && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < l && p[i] == ':';
}

/* append - unfold one more piece of the From value into v */
static int
append(char *v, size_t *o, const char *p, size_t l)
{
	if (*o + l > MAILHDR_FROM_MAX || memchr(p, '\0', l) != NULL)
		return -1;
	memcpy(v + *o, p, l);
	*o += l;
	v[*o] = '\0';
	return 0;
}

int
mailhdr_from_domain(const char *p, size_t n, bool whole,
    char dom[MAILADDR_DOMAIN_MAX + 1], const char **why)
{
	char		 v[MAILHDR_FROM_MAX + 1];
	size_t		 i = 0, e, l, o = 0;
	unsigned	 nfrom = 0;
	bool		 in_from = false, ended = false;
	const char	*colon;

	v[0] = '\0';
	for (; i < n; i = e) {
		e = text_line_end(p, n, i);
		if ((l = text_line_len(p, i, e)) == 0) {
			ended = true;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			if (in_from && append(v, &o, p + i, l) == -1)
				goto toolong;
			continue;
		}
		if ((colon = memchr(p + i, ':', l)) == NULL) {
			*why = "a header line without a colon";
			return -1;
		}
		if (!(in_from = is_from(p + i, l)))
			continue;
		if (++nfrom > 1) {
			*why = "more than one From field";
			return -1;
		}
		colon++;
		if (append(v, &o, colon, l - (size_t)(colon - (p + i))) == -1)
			goto toolong;
	}
	if (!ended && !whole) {
		*why = "header block too long";
		return -1;
	}
	if (nfrom == 0) {
		*why = "no From field";
		return -1;
	}
	return mailhdr_author_domain(v, dom, why);
toolong:
	*why = "From field too long or with a NUL byte";
	return -1;
}

/*
 * strip_addr - the address part of a From value: the angle address if
 * there is one, else the whole value; comments dropped, quoted strings
 * kept.  Refuses what is not exactly one mailbox.
 */
static int
strip_addr(const char *s, char *addr, const char **why)
{
	size_t	 o = 0;
	int	 depth = 0;
	bool	 q = false, in_angle = false, had_angle = false, after = false;

	for (; *s != '\0'; s++) {
		char	 c = *s;
		bool	 keep = !had_angle || in_angle;

		if (q) {
			if (c == '\\' && s[1] != '\0') {
				if (keep)
					addr[o++] = c;
				c = *++s;
			} else if (c == '"')
				q = false;
			if (keep)
				addr[o++] = c;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && s[1] != '\0')
				s++;
			else if (c == '(' && ++depth > COMMENT_DEPTH_MAX)
				goto bad;
			else if (c == ')')
				depth--;
			continue;
		}
		switch (c) {
		case '(':
			depth = 1;
			c = ' ';	/* a comment separates like space */
			break;
		case '"':
			q = true;
			break;
		case '<':
			if (had_angle) {
				*why = "two angle addresses in From";
				return -1;
			}
			had_angle = in_angle = true;
			o = 0;			/* the display name goes */
			continue;
		case '>':
			if (!in_angle)
				goto bad;
			in_angle = false;
			after = true;
			continue;
		case ',':
		case ':':
		case ';':
			if (!in_angle) {
				*why = "From is not exactly one mailbox";
				return -1;
			}
			break;
		}
		if (after && c != ' ' && c != '\t') {
			*why = "text after the angle address in From";
			return -1;
		}
		if (keep)
			addr[o++] = c;
	}
	if (q || depth > 0 || in_angle)
		goto bad;
	addr[o] = '\0';
	return 0;
bad:
	*why = "unbalanced quote, comment or angle bracket in From";
	return -1;
}

/* split_domain - the domain after the last '@' outside quotes */
static const char *
split_domain(char *a, const char **why)
{
	char	*at = NULL, *p;
	bool	 q = false;

	for (p = a; *p != '\0'; p++) {
		if (q && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			q = !q;
		else if (!q && *p == '@')
			at = p;
		else if (!q && (*p == ' ' || *p == '\t')) {
			*why = "white space in the From address";
			return NULL;
		}
	}
	if (at == NULL || at == a || at[1] == '\0') {
		*why = "no local@domain address in From";
		return NULL;
	}
	return at + 1;
}

int
mailhdr_author_domain(const char *v, char dom[MAILADDR_DOMAIN_MAX + 1],
    const char **why)
{
	char		 addr[MAILHDR_FROM_MAX + 1];
	const char	*d;

	if (strlen(v) > MAILHDR_FROM_MAX) {
		*why = "From field too long";
		return -1;
	}
	if (strip_addr(v, addr, why) == -1)
		return -1;
	if ((d = split_domain(str_trim(addr), why)) == NULL)
		return -1;
	if (d[0] == '[' || strlen(d) > MAILADDR_DOMAIN_MAX) {
		*why = "the From domain is not a host name";
		return -1;
	}
	tern_strlcpy(dom, d, MAILADDR_DOMAIN_MAX + 1);
	str_lower(dom);
	if (!mailaddr_domain_ok(dom)) {
		*why = "the From domain is not a host name";
		return -1;
	}
	return 0;
}
