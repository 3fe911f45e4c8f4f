/*
 * smtp_cmd.c - the SMTP server's command-line parser.
 *
 * Purpose:      see smtp_cmd.h.  Verbs are case-insensitive; "MAIL FROM:"
 *               and "RCPT TO:" allow no blank before the colon and, as
 *               most MTAs do, tolerate blanks after it.
 * Used by:      smtpd.
 * Trust:        hostile input.
 * Spool access: none.
 * See:          smtpd(8).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"
#include "util.h"

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "VRFY", SMTP_VRFY },
	{ "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
	{ "BDAT", SMTP_BDAT },
};

const char *
smtp_verb_name(enum smtp_verb v)
{
	unsigned i;

	for (i = 0; i < nitems(verbs); i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

/* smtp_cmd_parse - verb and arguments; the line has no CRLF */
int
smtp_cmd_parse(char *line, struct smtp_cmd *c)
{
	size_t	 n;
	unsigned i;
	char	*e;

	c->verb = SMTP_UNKNOWN;
	c->args = "";
	n = strcspn(line, " ");
	for (i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(line, verbs[i].name, n) == 0) {
			c->verb = verbs[i].verb;
			break;
		}
	if (c->verb == SMTP_UNKNOWN)
		return -1;
	line += n;
	while (*line == ' ')
		line++;
	e = line + strlen(line);
	while (e > line && e[-1] == ' ')
		*--e = '\0';
	c->args = line;
	return 0;
}

/* expect_keyword - "FROM:" / "TO:" and optional blanks */
static const char *
expect_keyword(const char *s, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(s, kw, n) != 0)
		return NULL;
	s += n;
	while (*s == ' ')
		s++;
	return s;
}

/* next_param - split "KEY=VALUE" tokens separated by blanks */
static int
next_param(const char **s, char *key, size_t ksz, char *val, size_t vsz)
{
	const char *p = *s, *eq, *end;
	size_t	    kl, vl;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	end = p + strcspn(p, " ");
	eq = memchr(p, '=', (size_t)(end - p));
	kl = eq ? (size_t)(eq - p) : (size_t)(end - p);
	vl = eq ? (size_t)(end - eq - 1) : 0;
	if (kl == 0 || kl >= ksz || vl >= vsz)
		return -1;
	memcpy(key, p, kl);
	key[kl] = '\0';
	if (eq)
		memcpy(val, eq + 1, vl);
	val[vl] = '\0';
	*s = end;
	return 1;
}

int
smtp_parse_mail(const char *args, struct smtp_mail_args *m,
    const char **reply)
{
	const char	*p, *why;
	char		 key[32], val[512];	/* AUTH=<xtext address> */
	int		 r;

	memset(m, 0, sizeof(*m));
	if ((p = expect_keyword(args, "FROM:")) == NULL) {
		*reply = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	if (mailaddr_parse_path(p, true, &m->addr, &m->is_null, &p,
	    &why) == -1) {
		*reply = "553 5.1.7 Bad sender address syntax";
		return -1;
	}
	if (*p != '\0' && *p != ' ') {
		*reply = "501 5.5.4 Junk after sender address";
		return -1;
	}
	while ((r = next_param(&p, key, sizeof(key), val, sizeof(val))) > 0) {
		if (strcasecmp(key, "SIZE") == 0) {
			if (parse_u64(val, 0, UINT64_MAX / 2, &m->size) == -1) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				return -1;
			}
		} else if (strcasecmp(key, "BODY") == 0) {
			if (strcasecmp(val, "8BITMIME") == 0)
				m->body = BODY_8BITMIME;
			else if (strcasecmp(val, "7BIT") == 0)
				m->body = BODY_7BIT;
			else {
				*reply = "501 5.5.4 Bad BODY parameter";
				return -1;
			}
		} else if (strcasecmp(key, "AUTH") == 0) {
			/* RFC 4954 5: accepted and ignored. */
			if (val[0] == '\0') {
				*reply = "501 5.5.4 Bad AUTH parameter";
				return -1;
			}
		} else {
			*reply = "555 5.5.4 Unsupported MAIL parameter";
			return -1;
		}
	}
	if (r == -1) {
		*reply = "501 5.5.4 Bad MAIL parameter syntax";
		return -1;
	}
	return 0;
}

int
smtp_parse_rcpt(const char *args, struct smtp_rcpt_args *rc,
    const char **reply)
{
	const char	*p, *why;
	char		 key[32], val[64];
	bool		 is_null;
	int		 r;

	memset(rc, 0, sizeof(*rc));
	if ((p = expect_keyword(args, "TO:")) == NULL) {
		*reply = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	if (mailaddr_parse_path(p, false, &rc->addr, &is_null, &p,
	    &why) == -1) {
		*reply = "553 5.1.3 Bad recipient address syntax";
		return -1;
	}
	if (*p != '\0' && *p != ' ') {
		*reply = "501 5.5.4 Junk after recipient address";
		return -1;
	}
	r = next_param(&p, key, sizeof(key), val, sizeof(val));
	if (r != 0) {
		*reply = "555 5.5.4 Unsupported RCPT parameter";
		return -1;
	}
	return 0;
}
