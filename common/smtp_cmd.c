/*
 * smtp_cmd.c - the SMTP server's command-line parser.
 *
 * Purpose:      see smtp_cmd.h.  Verbs are case-insensitive; "MAIL FROM:"
 *               and "RCPT TO:" allow no blank before the colon and, as
 *               most MTAs do, tolerate blanks after it.  Parameters go
 *               through one table per command: keyword (any case), then
 *               a parser for the value; each keyword at most once.
 * Used by:      smtpd.
 * Trust:        hostile input.
 * Spool access: none.
 * See:          smtpd(8), RFC 3461, RFC 5321 4.1.2.
 */
#include <ctype.h>
#include <limits.h>
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

/* --- xtext (RFC 3461 4) and what DSN values may be ------------------- */

/* xchar - any CHAR from "!" to "~" except "+" and "=" */
static bool
xchar(int c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

/* hexval - an uppercase hex digit, as hexchar wants it, or -1 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
xtext_decode(const char *in, char *out, size_t outsz)
{
	size_t	 n = 0;
	int	 c;

	if (outsz == 0 || outsz > INT_MAX)
		return -1;
	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if (hexval(in[1]) == -1 || hexval(in[2]) == -1)
				return -1;
			c = hexval(in[1]) << 4 | hexval(in[2]);
			in += 2;
		} else if (!xchar(c))
			return -1;
		/* RFC 3461 4.2, 4.4: printable US-ASCII once decoded */
		if (c < 0x20 || c > 0x7e || n + 1 >= outsz)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (int)n;
}

size_t
xtext_encode(const char *in, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		  len = 0, wr = 0, w;
	unsigned char	  c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		w = xchar(c) ? 1 : 3;
		if (wr == len && len + w < outsz) {
			if (w == 1)
				out[wr] = (char)c;
			else {
				out[wr] = '+';
				out[wr + 1] = hex[c >> 4];
				out[wr + 2] = hex[c & 0xf];
			}
			wr += w;
		}
		len += w;
	}
	if (outsz > 0)
		out[wr] = '\0';
	return len;
}

/* dsn_notify_ok - 0 (not given), NEVER alone, or SUCCESS/FAILURE/DELAY */
bool
dsn_notify_ok(unsigned n)
{
	return n == DSN_NOTIFY_NEVER || (n & ~(unsigned)(DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)) == 0;
}

/* dsn_text_ok - 1 to max printable US-ASCII characters (ENVID, address) */
bool
dsn_text_ok(const char *s, size_t max)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (n == max || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return n > 0;
}

/* dsn_orcpt_ok - "addr-type;address", at most DSN_ORCPT_MAX in all */
bool
dsn_orcpt_ok(const char *s)
{
	/* an atom (RFC 5322 atext), but no "=": it ends an esmtp-keyword */
	static const char atext[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/?^_`{|}~";
	size_t		  tl = strspn(s, atext);

	return tl > 0 && s[tl] == ';' && strlen(s) <= DSN_ORCPT_MAX &&
	    dsn_text_ok(s + tl + 1, DSN_ORCPT_MAX);
}

/* --- parameters ------------------------------------------------------- */

#define PARAM_KEY_MAX		31
#define MAIL_VALUE_MAX		511	/* AUTH=<xtext address>, ENVID */
#define RCPT_VALUE_MAX		(3 * DSN_ORCPT_MAX)	/* ORCPT, all +XX */

/* A keyword, the parser of its value, the reply when that fails. */
struct param {
	const char	*name;
	int		(*parse)(const char *, void *);
	const char	*bad;
};

struct param_set {
	const struct param *tab;
	unsigned	 n;
	size_t		 vmax;		/* longest value */
	const char	*badkey;	/* empty or over-long keyword */
	const char	*toolong;	/* value over vmax */
	const char	*unknown;
	const char	*dup;
};

/*
 * next_param - split "KEY[=VALUE]" tokens separated by blanks: 1, 0 at
 * the end, -1 for an empty or over-long keyword, -2 for a value longer
 * than vsz - 1.
 */
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
	if (kl == 0 || kl >= ksz)
		return -1;
	if (vl >= vsz)
		return -2;
	memcpy(key, p, kl);
	key[kl] = '\0';
	if (eq)
		memcpy(val, eq + 1, vl);
	val[vl] = '\0';
	*s = end;
	return 1;
}

/* parse_params - every parameter after the path, each known, once */
static int
parse_params(const char *p, const struct param_set *ps, void *args,
    const char **reply)
{
	char	 key[PARAM_KEY_MAX + 1], val[RCPT_VALUE_MAX + 1];
	unsigned i, seen = 0;
	int	 r;

	while ((r = next_param(&p, key, sizeof(key), val, ps->vmax + 1)) >
	    0) {
		for (i = 0; i < ps->n; i++)
			if (strcasecmp(key, ps->tab[i].name) == 0)
				break;
		if (i == ps->n)
			*reply = ps->unknown;
		else if (seen & 1u << i)
			*reply = ps->dup;
		else if (ps->tab[i].parse(val, args) == -1)
			*reply = ps->tab[i].bad;
		else {
			seen |= 1u << i;
			continue;
		}
		return -1;
	}
	if (r < 0) {
		*reply = r == -1 ? ps->badkey : ps->toolong;
		return -1;
	}
	return 0;
}

static int
mail_size(const char *v, void *a)
{
	struct smtp_mail_args *m = a;

	return parse_u64(v, 0, UINT64_MAX / 2, &m->size);
}

static int
mail_body(const char *v, void *a)
{
	struct smtp_mail_args *m = a;

	if (strcasecmp(v, "8BITMIME") == 0)
		m->body = BODY_8BITMIME;
	else if (strcasecmp(v, "7BIT") == 0)
		m->body = BODY_7BIT;
	else
		return -1;
	return 0;
}

/* mail_auth - RFC 4954 5: accepted and ignored */
static int
mail_auth(const char *v, void *a)
{
	(void)a;
	return v[0] == '\0' ? -1 : 0;
}

static int
mail_ret(const char *v, void *a)
{
	struct smtp_mail_args *m = a;

	if (strcasecmp(v, "FULL") == 0)
		m->ret = DSN_RET_FULL;
	else if (strcasecmp(v, "HDRS") == 0)
		m->ret = DSN_RET_HDRS;
	else
		return -1;
	return 0;
}

static int
mail_envid(const char *v, void *a)
{
	struct smtp_mail_args *m = a;

	if (xtext_decode(v, m->envid, sizeof(m->envid)) <= 0) {
		m->envid[0] = '\0';
		return -1;
	}
	return 0;
}

/* rcpt_notify - NEVER, or a list of SUCCESS, FAILURE, DELAY, each once */
static int
rcpt_notify(const char *v, void *a)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} kw[] = {
		{ "NEVER", DSN_NOTIFY_NEVER },
		{ "SUCCESS", DSN_NOTIFY_SUCCESS },
		{ "FAILURE", DSN_NOTIFY_FAILURE },
		{ "DELAY", DSN_NOTIFY_DELAY },
	};
	struct smtp_rcpt_args *rc = a;
	size_t		 n;
	unsigned	 i, bit;

	for (;;) {
		n = strcspn(v, ",");
		for (i = 0, bit = 0; i < nitems(kw) && bit == 0; i++)
			if (strlen(kw[i].name) == n &&
			    strncasecmp(v, kw[i].name, n) == 0)
				bit = kw[i].bit;
		if (bit == 0 || (rc->notify & bit) != 0)
			return -1;
		rc->notify |= bit;
		if (v[n] == '\0')
			break;
		v += n + 1;
	}
	return dsn_notify_ok(rc->notify) ? 0 : -1;
}

/* rcpt_orcpt - "addr-type;xtext", kept as "type;decoded" */
static int
rcpt_orcpt(const char *v, void *a)
{
	struct smtp_rcpt_args *rc = a;
	const char	*semi = strchr(v, ';');
	size_t		 tl = semi ? (size_t)(semi - v) : 0;

	if (tl == 0 || tl + 2 >= sizeof(rc->orcpt))
		return -1;
	if (tl == 6 && strncasecmp(v, "rfc822", 6) == 0)
		memcpy(rc->orcpt, "rfc822", 6);
	else
		memcpy(rc->orcpt, v, tl);
	rc->orcpt[tl] = ';';
	if (xtext_decode(semi + 1, rc->orcpt + tl + 1,
	    sizeof(rc->orcpt) - tl - 1) <= 0 || !dsn_orcpt_ok(rc->orcpt)) {
		rc->orcpt[0] = '\0';
		return -1;
	}
	return 0;
}

static const struct param mail_tab[] = {
	{ "SIZE", mail_size, "501 5.5.4 Bad SIZE parameter" },
	{ "BODY", mail_body, "501 5.5.4 Bad BODY parameter" },
	{ "AUTH", mail_auth, "501 5.5.4 Bad AUTH parameter" },
	{ "RET", mail_ret, "501 5.5.4 Bad RET parameter" },
	{ "ENVID", mail_envid, "501 5.5.4 Bad ENVID parameter" },
};

static const struct param_set mail_params = {
	mail_tab, nitems(mail_tab), MAIL_VALUE_MAX,
	"501 5.5.4 Bad MAIL parameter syntax",
	"501 5.5.4 Bad MAIL parameter syntax",
	"555 5.5.4 Unsupported MAIL parameter",
	"501 5.5.4 Duplicate MAIL parameter",
};

static const struct param rcpt_tab[] = {
	{ "NOTIFY", rcpt_notify, "501 5.5.4 Bad NOTIFY parameter" },
	{ "ORCPT", rcpt_orcpt, "501 5.5.4 Bad ORCPT parameter" },
};

static const struct param_set rcpt_params = {
	rcpt_tab, nitems(rcpt_tab), RCPT_VALUE_MAX,
	"555 5.5.4 Unsupported RCPT parameter",
	"501 5.5.4 Bad RCPT parameter syntax",
	"555 5.5.4 Unsupported RCPT parameter",
	"501 5.5.4 Duplicate RCPT parameter",
};

int
smtp_parse_mail(const char *args, struct smtp_mail_args *m,
    const char **reply)
{
	const char	*p, *why;

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
	return parse_params(p, &mail_params, m, reply);
}

int
smtp_parse_rcpt(const char *args, struct smtp_rcpt_args *rc,
    const char **reply)
{
	const char	*p, *why;
	bool		 is_null;

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
	return parse_params(p, &rcpt_params, rc, reply);
}
