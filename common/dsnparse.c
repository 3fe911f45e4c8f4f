/*
 * dsnparse.c - what a bounce or a complaint says.
 *
 * Purpose:      see dsnparse.h.  The message is walked as a MIME tree
 *               (bounded depth and part count); each leaf is decoded
 *               (base64, quoted-printable) into a temporary buffer and
 *               read by its type: delivery-status blocks, a feedback
 *               report, returned headers, or human text kept for the
 *               heuristics.  Header-like blocks are read by one field
 *               iterator that unfolds into a bounded buffer.
 * Used by:      tern classify (ctl/classify.c); later bouncd.
 * Trust:        hostile input; every copy is bounded, every index is
 *               checked against the end of its buffer.
 * Spool access: none.
 * See:          RFC 3464 2.2-2.3, RFC 5965 3.1, RFC 2045 6.7-6.8.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsnparse.h"
#include "util.h"

#define MIME_DEPTH_MAX	8
#define MIME_PARTS_MAX	64
#define TEXT_PARTS_MAX	8
#define FIELD_MAX	2048	/* an unfolded field value */
#define TYPE_MAX	128

struct span {
	const char	*p;
	size_t		 n;
};

struct walk {
	struct dsn_result *res;
	int		 parts;
	size_t		 ntext;
	struct span	 text[TEXT_PARTS_MAX];
	char		*owned[MIME_PARTS_MAX];
	size_t		 nowned;
	char		 top_to[DSN_ADDR_MAX];
	char		 top_from[DSN_ADDR_MAX];
	bool		 have_ds;
	bool		 allow_to;	/* the bounce's To may be a recipient */
	bool		 allow_pm;	/* and so may postmaster@ */
	bool		 saw_ds;	/* a delivery-status part, even empty */
};

static void	walk_part(struct walk *, const char *, size_t, int);
static void	leaf(struct walk *, struct span, struct span, const char *);
static void	pseudo_status(struct dsn_report *, int);
static int	smtp_code(const char *, const char **);
static const struct reason *reason_of(const char *);
static void	smtp_cmd(const char *, char *, size_t);

/* --- small string helpers ------------------------------------------- */

/* copy_line - copy s[0..l) into d as one line: controls become spaces */
static void
copy_line(char *d, size_t dsz, const char *s, size_t l)
{
	size_t	 i, o = 0;
	bool	 sp = true;

	for (i = 0; i < l && o + 1 < dsz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		if (c == ' ' && sp)
			continue;
		sp = c == ' ';
		d[o++] = (char)c;
	}
	while (o > 0 && d[o - 1] == ' ')
		o--;
	d[o] = '\0';
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* after_semi - "rfc822; a@b" -> "a@b"; no ';' -> the value itself */
static const char *
after_semi(const char *v)
{
	const char *s = strchr(v, ';');

	return skip_ws(s != NULL ? s + 1 : v);
}

/* copy_addr_case - the address in v, angle brackets and quotes stripped */
static void
copy_addr_case(char *d, size_t dsz, const char *v)
{
	const char	*s = skip_ws(v), *e;

	if ((e = strchr(s, '<')) != NULL && strchr(e, '>') != NULL) {
		s = e + 1;
		e = strchr(s, '>');
	} else if (*s == '"' && (e = strchr(s + 1, '"')) != NULL) {
		/* a quoted local part ("a..b"@dom) keeps its quotes */
		e++;
		e += strcspn(e, " \t;,\"'<>");
	} else
		e = s + strcspn(s, " \t;,\"'");
	copy_line(d, dsz, s, (size_t)(e - s));
}

/* copy_addr - the same, lowercased (as addresses are compared) */
static void
copy_addr(char *d, size_t dsz, const char *v)
{
	size_t i;

	copy_addr_case(d, dsz, v);
	for (i = 0; d[i] != '\0'; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
}

/* status_len - the length of the x.y.z (x 2, 4 or 5) at p in s, or 0 */
static size_t
status_len(const char *s, const char *p)
{
	size_t	 a, b;

	if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.' ||
	    (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.')))
		return 0;
	a = strspn(p + 2, "0123456789");
	if (a == 0 || a > 3 || p[2 + a] != '.')
		return 0;
	b = strspn(p + 3 + a, "0123456789");
	if (b == 0 || b > 3 || isalnum((unsigned char)p[3 + a + b]) ||
	    (p[3 + a + b] == '.' && isdigit((unsigned char)p[4 + a + b])))
		return 0;
	return 3 + a + b;
}

/* find_status - the first x.y.z (x 2, 4 or 5) in s, copied to d */
static bool
find_status(const char *s, char *d, size_t dsz)
{
	const char	*p;
	size_t		 l;

	for (p = s; *p != '\0'; p++)
		if ((l = status_len(s, p)) != 0) {
			copy_line(d, dsz, p, l);
			return true;
		}
	return false;
}

/* fail_status - the first 4.y.z or 5.y.z in s (2.y.z is a success) */
static bool
fail_status(const char *s, char *d, size_t dsz)
{
	const char	*p;
	size_t		 l;

	for (p = s; *p != '\0'; p++)
		if (*p != '2' && (l = status_len(s, p)) != 0) {
			copy_line(d, dsz, p, l);
			return true;
		}
	return false;
}

/*
 * reply_status - the enhanced code a server put right after its reply
 * code ("550 5.2.2", "550-'5.7.1", "550 #5.1.1"): its own word, where a
 * relay may have put a coarser code of its own in front; else the first
 * failure code in s
 */
static bool
reply_status(const char *s, char *d, size_t dsz)
{
	const char	*c, *p;
	size_t		 l;

	for (c = s; smtp_code(c, &c) != 0; c += 3) {
		p = c + 4;
		while (*p == '\'' || *p == '"' || *p == '#' || *p == '(')
			p++;
		if ((l = status_len(s, p)) != 0 && *p != '2') {
			copy_line(d, dsz, p, l);
			return true;
		}
	}
	return fail_status(s, d, dsz);
}

/* specific - x.y.z with neither y nor z 0: says more than x.0.0, x.1.0 */
static bool
specific(const char *st)
{
	const char *z = strrchr(st, '.');

	return st[0] != '\0' && st[2] != '0' && z != NULL &&
	    strcmp(z, ".0") != 0;
}

/* smtp_code - the first 4xx/5xx reply code standing alone in s, or 0 */
static int
smtp_code(const char *s, const char **at)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if ((*p == '4' || *p == '5') && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) &&
		    (p[3] == ' ' || p[3] == '-' || p[3] == ',') &&
		    (p == s || (!isalnum((unsigned char)p[-1]) &&
		    p[-1] != '.')) && p[1] <= '5') {
			if (at != NULL)
				*at = p;
			return (p[0] - '0') * 100 + (p[1] - '0') * 10 +
			    (p[2] - '0');
		}
	return 0;
}

/* --- lines and header-like blocks ----------------------------------- */


/*
 * field_next - the field at *pos in the block b (which ends at its
 * first empty line): its name and unfolded value, bounded.  Lines that
 * are not fields are skipped.  false at the end of the block.
 */
static bool
field_next(struct span b, size_t *pos, char *name, size_t nsz, char *val,
    size_t vsz)
{
	size_t	 i = *pos, e, l, c, o;
	char	 tmp[FIELD_MAX];

	while (i < b.n) {
		e = text_line_end(b.p, b.n, i);
		if ((l = text_line_len(b.p, i, e)) == 0)
			break;
		c = 0;
		while (c < l && b.p[i + c] != ':' && b.p[i + c] != ' ' &&
		    b.p[i + c] != '\t')
			c++;
		if (c == 0 || c >= l || b.p[i + c] != ':' || c >= nsz) {
			i = e;
			continue;
		}
		copy_line(name, nsz, b.p + i, c);
		o = l - c - 1 < sizeof(tmp) - 1 ? l - c - 1 : sizeof(tmp) - 1;
		memcpy(tmp, b.p + i + c + 1, o);
		for (i = e; i < b.n && (b.p[i] == ' ' || b.p[i] == '\t');
		    i = e) {
			e = text_line_end(b.p, b.n, i);
			l = text_line_len(b.p, i, e);
			if (o + 1 < sizeof(tmp) - 1)
				tmp[o++] = ' ';
			if (l > sizeof(tmp) - 1 - o)
				l = sizeof(tmp) - 1 - o;
			memcpy(tmp + o, b.p + i, l);
			o += l;
		}
		copy_line(val, vsz, tmp, o);
		*pos = i;
		return true;
	}
	*pos = b.n;
	return false;
}

/* header_get - the first field called name in the header block */
static bool
header_get(struct span h, const char *name, char *val, size_t vsz)
{
	char	 fn[TYPE_MAX];
	size_t	 pos = 0;

	while (field_next(h, &pos, fn, sizeof(fn), val, vsz))
		if (strcasecmp(fn, name) == 0)
			return true;
	val[0] = '\0';
	return false;
}

/* split - the header block and the body of a part */
static void
split(const char *p, size_t n, struct span *h, struct span *b)
{
	size_t i = 0, e;

	while (i < n) {
		e = text_line_end(p, n, i);
		if (text_line_len(p, i, e) == 0) {
			h->p = p;
			h->n = i;
			b->p = p + e;
			b->n = n - e;
			return;
		}
		i = e;
	}
	h->p = p;
	h->n = n;
	b->p = p + n;
	b->n = 0;
}

/* param - a parameter (boundary=...) of a Content-Type value */
static void
param(const char *v, const char *name, char *d, size_t dsz)
{
	const char	*s = v, *e;
	size_t		 nl = strlen(name);

	d[0] = '\0';
	while ((s = strchr(s, ';')) != NULL) {
		s = skip_ws(s + 1);
		if (strncasecmp(s, name, nl) != 0 || skip_ws(s + nl)[0] != '=')
			continue;
		s = skip_ws(skip_ws(s + nl) + 1);
		if (*s == '"') {
			s++;
			e = strchr(s, '"');
			if (e == NULL)
				e = s + strlen(s);
		} else
			e = s + strcspn(s, "; \t");
		copy_line(d, dsz, s, (size_t)(e - s));
		return;
	}
}

/* --- decoding ------------------------------------------------------- */

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static size_t
b64_decode(const char *s, size_t n, char *d)
{
	size_t		 i, o = 0;
	unsigned	 acc = 0;
	int		 bits = 0, v;

	for (i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		if ((v = b64val((unsigned char)s[i])) < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			d[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

static int
hexval(unsigned char c)
{
	if (isdigit(c))
		return c - '0';
	c = (unsigned char)toupper(c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static size_t
qp_decode(const char *s, size_t n, char *d)
{
	size_t	 i, o = 0, k;
	int	 h, l;

	for (i = 0; i < n; i++) {
		if (s[i] != '=') {
			d[o++] = s[i];
			continue;
		}
		k = i + 1;
		if (k < n && s[k] == '\r')
			k++;
		if (k < n && s[k] == '\n') {
			i = k;
			continue;
		}
		if (i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			d[o++] = (char)(h * 16 + l);
			i += 2;
		} else
			d[o++] = '=';
	}
	return o;
}

/* decode - the body in its transfer encoding, decoded; kept in w */
static struct span
decode(struct walk *w, struct span h, struct span b)
{
	char		 cte[TYPE_MAX], *d;
	struct span	 r = b;

	header_get(h, "Content-Transfer-Encoding", cte, sizeof(cte));
	if ((strcasecmp(cte, "base64") != 0 &&
	    strcasecmp(cte, "quoted-printable") != 0) ||
	    w->nowned >= MIME_PARTS_MAX || b.n == 0)
		return r;
	d = xmalloc(b.n);
	w->owned[w->nowned++] = d;
	r.p = d;
	r.n = cte[0] == 'b' || cte[0] == 'B' ? b64_decode(b.p, b.n, d) :
	    qp_decode(b.p, b.n, d);
	return r;
}

/* --- the typed parts ------------------------------------------------ */

static struct dsn_report *
new_report(struct dsn_result *res)
{
	struct dsn_report *r;

	if (res->n >= DSN_REPORTS_MAX)
		return NULL;
	r = &res->r[res->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* addr_ok - local@domain, both parts there */
static bool
addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');

	return at != NULL && at != a && at[1] != '\0';
}

/* diag_addr - the first <local@domain> in a reply, if any */
static void
diag_addr(const char *diag, char *d, size_t dsz)
{
	const char	*s = strchr(diag, '<'), *e;
	char		 a[DSN_ADDR_MAX];

	for (; s != NULL; s = strchr(s + 1, '<')) {
		if ((e = strchr(s, '>')) == NULL)
			return;
		copy_addr(a, sizeof(a), s);
		if (addr_ok(a)) {
			tern_strlcpy(d, a, dsz);
			return;
		}
	}
}

/*
 * ds_status - the Status field, unless the reply says more: a specific
 * code in the reply (the remote server's own word, where the Status is
 * the reporting MTA's translation of it; "550 5.2.2 Over quota" under
 * "Status: 5.1.1") wins, and so does any non-generic one over a generic
 * x.0.0.  A missing one: the reply's code, else a pseudo status from the
 * reply's words.
 */
static void
ds_status(struct dsn_report *t)
{
	char	 d[DSN_STATUS_MAX];
	bool	 generic = strncmp(t->status + 1, ".0.0", 5) == 0;

	if (reply_status(t->diag, d, sizeof(d)) && (specific(d) ||
	    ((generic || t->status[0] == '\0') &&
	    strncmp(d + 1, ".0.0", 5) != 0))) {
		tern_strlcpy(t->status, d, sizeof(t->status));
		return;
	}
	if (t->status[0] == '\0')
		pseudo_status(t, smtp_code(t->diag, NULL));
}

/* ds_block - one per-recipient block of a delivery-status part */
static void
ds_block(struct walk *w, struct span b)
{
	char			 fn[TYPE_MAX], v[FIELD_MAX];
	char			 fin[DSN_ADDR_MAX] = "";
	char			 orig[DSN_ADDR_MAX] = "";
	size_t			 pos = 0;
	struct dsn_report	 t;
	struct dsn_report	*r;

	memset(&t, 0, sizeof(t));
	while (field_next(b, &pos, fn, sizeof(fn), v, sizeof(v))) {
		if (strcasecmp(fn, "Final-Recipient") == 0)
			copy_addr(fin, sizeof(fin), after_semi(v));
		else if (strcasecmp(fn, "Original-Recipient") == 0)
			copy_addr(orig, sizeof(orig), after_semi(v));
		else if (strcasecmp(fn, "Status") == 0)
			find_status(v, t.status, sizeof(t.status));
		else if (strcasecmp(fn, "Diagnostic-Code") == 0)
			copy_line(t.diag, sizeof(t.diag), after_semi(v),
			    strlen(after_semi(v)));
		else if (strcasecmp(fn, "Remote-MTA") == 0)
			copy_line(t.rmta, sizeof(t.rmta), after_semi(v),
			    strlen(after_semi(v)));
		else if (strcasecmp(fn, "Reporting-MTA") == 0 &&
		    w->res->reporting_mta[0] == '\0')
			copy_line(w->res->reporting_mta,
			    sizeof(w->res->reporting_mta), after_semi(v),
			    strlen(after_semi(v)));
		else if (strcasecmp(fn, "Action") == 0)
			copy_line(t.action, sizeof(t.action), v, strlen(v));
	}
	if (fin[0] == '\0' && orig[0] == '\0')
		return;
	tern_strlcpy(t.rcpt, addr_ok(fin) || !addr_ok(orig) ? fin : orig,
	    sizeof(t.rcpt));
	if (!addr_ok(t.rcpt))
		diag_addr(t.diag, t.rcpt, sizeof(t.rcpt));
	if (strcasecmp(t.action, "delivered") == 0 ||
	    strcasecmp(t.action, "relayed") == 0 ||
	    strcasecmp(t.action, "expanded") == 0)
		return;
	smtp_cmd(t.diag, t.cmd, sizeof(t.cmd));
	ds_status(&t);
	if ((r = new_report(w->res)) != NULL)
		*r = t;
	w->have_ds = true;
}

/* delivery_status - every block of a message/delivery-status part */
static void
delivery_status(struct walk *w, struct span b)
{
	size_t		 i = 0, e, start;
	struct span	 blk;

	while (i < b.n) {
		while (i < b.n && text_line_len(b.p, i, text_line_end(b.p, b.n, i)) == 0)
			i = text_line_end(b.p, b.n, i);
		start = i;
		while (i < b.n && (e = text_line_end(b.p, b.n, i)) > i &&
		    text_line_len(b.p, i, e) != 0)
			i = e;
		blk.p = b.p + start;
		blk.n = i - start;
		if (blk.n > 0)
			ds_block(w, blk);
	}
}

/* feedback_report - RFC 5965 3.1 fields */
static void
feedback_report(struct walk *w, struct span b)
{
	struct dsn_arf	*a = &w->res->arf;
	char		 fn[TYPE_MAX], v[FIELD_MAX];
	size_t		 pos = 0;

	a->present = true;
	while (field_next(b, &pos, fn, sizeof(fn), v, sizeof(v))) {
		if (strcasecmp(fn, "Feedback-Type") == 0)
			copy_line(a->type, sizeof(a->type), v, strlen(v));
		else if (strcasecmp(fn, "User-Agent") == 0)
			copy_line(a->user_agent, sizeof(a->user_agent), v,
			    strlen(v));
		else if (strcasecmp(fn, "Source-IP") == 0)
			copy_addr(a->source_ip, sizeof(a->source_ip), v);
		else if ((strcasecmp(fn, "Original-Rcpt-To") == 0 ||
		    strcasecmp(fn, "Removal-Recipient") == 0) &&
		    a->orig_rcpt[0] == '\0')
			copy_addr(a->orig_rcpt, sizeof(a->orig_rcpt), v);
	}
	if (b.n == 0)
		return;
	/* Some reports put the fields after a blank first line. */
	if (a->type[0] == '\0' && b.n > 2)
		header_get((struct span){ b.p + 1, b.n - 1 }, "Feedback-Type",
		    a->type, sizeof(a->type));
}

/* returned_headers - Message-ID, X-Job, Return-Path, To of our mail */
static void
returned_headers(struct walk *w, struct span h)
{
	struct dsn_result	*res = w->res;
	char			 v[FIELD_MAX];

	if (res->msgid[0] == '\0' && header_get(h, "Message-ID", v, sizeof(v)))
		copy_line(res->msgid, sizeof(res->msgid), v, strlen(v));
	if (res->xjob[0] == '\0' && header_get(h, "X-Job", v, sizeof(v)))
		copy_line(res->xjob, sizeof(res->xjob), v, strlen(v));
	if (res->env_from[0] == '\0' &&
	    (header_get(h, "Return-Path", v, sizeof(v)) ||
	    header_get(h, "From", v, sizeof(v))))
		/* As written: a VERP return path carries a job id. */
		copy_addr_case(res->env_from, sizeof(res->env_from), v);
	if (res->orig_to[0] == '\0' && header_get(h, "To", v, sizeof(v)))
		copy_addr(res->orig_to, sizeof(res->orig_to), v);
}

/* --- the MIME walk -------------------------------------------------- */

/* next_boundary - offset of the next "--bnd" line at or after i, or n */
static size_t
next_boundary(const char *p, size_t n, size_t i, const char *bnd,
    size_t bl)
{
	size_t e;

	for (; i < n; i = e) {
		e = text_line_end(p, n, i);
		if (e - i >= bl + 2 && p[i] == '-' && p[i + 1] == '-' &&
		    memcmp(p + i + 2, bnd, bl) == 0)
			return i;
	}
	return n;
}

static void
multipart(struct walk *w, struct span b, const char *bnd, int depth)
{
	size_t	 bl = strlen(bnd), i, s, e;

	if (bl == 0) {
		walk_part(w, b.p, b.n, depth + 1);
		return;
	}
	i = next_boundary(b.p, b.n, 0, bnd, bl);
	if (i == b.n) {
		/* No part at all: the body is the report, as text. */
		leaf(w, (struct span){ "", 0 }, b, "text/plain");
		return;
	}
	while (i < b.n && w->parts < MIME_PARTS_MAX) {
		if (i + bl + 4 <= b.n && b.p[i + bl + 2] == '-' &&
		    b.p[i + bl + 3] == '-')
			return;
		s = text_line_end(b.p, b.n, i);
		e = next_boundary(b.p, b.n, s, bnd, bl);
		/* The CRLF before a boundary belongs to the boundary. */
		walk_part(w, b.p + s, e - s, depth + 1);
		i = e;
	}
}

/*
 * inline_status - delivery-status fields inside a text part (a report
 * that lost its MIME structure): read from the first such line on
 */
static void
inline_status(struct walk *w, struct span b)
{
	size_t i, e;

	for (i = 0; i < b.n; i = e) {
		e = text_line_end(b.p, b.n, i);
		if ((e - i > 14 && strncasecmp(b.p + i, "Reporting-MTA:", 14) ==
		    0) || (e - i > 16 &&
		    strncasecmp(b.p + i, "Final-Recipient:", 16) == 0)) {
			delivery_status(w, (struct span){ b.p + i, b.n - i });
			return;
		}
	}
}

static void
leaf(struct walk *w, struct span h, struct span b, const char *type)
{
	struct span d = decode(w, h, b), h2, b2;

	if (strcasecmp(type, "message/delivery-status") == 0 ||
	    strcasecmp(type, "message/global-delivery-status") == 0) {
		w->saw_ds = true;
		delivery_status(w, d);
	}
	else if (strcasecmp(type, "message/feedback-report") == 0)
		feedback_report(w, d);
	else if (strcasecmp(type, "message/rfc822") == 0 ||
	    strcasecmp(type, "message/global") == 0 ||
	    strcasecmp(type, "text/rfc822-headers") == 0 ||
	    strcasecmp(type, "message/rfc822-headers") == 0 ||
	    strcasecmp(type, "message/global-headers") == 0) {
		split(d.p, d.n, &h2, &b2);
		returned_headers(w, h2);
	} else if ((strncasecmp(type, "text/", 5) == 0 || type[0] == '\0') &&
	    w->ntext < TEXT_PARTS_MAX) {
		w->text[w->ntext++] = d;
		inline_status(w, d);
	}
}

static void
walk_part(struct walk *w, const char *p, size_t n, int depth)
{
	struct span	 h, b;
	char		 ct[FIELD_MAX], type[TYPE_MAX], bnd[TYPE_MAX];

	if (depth > MIME_DEPTH_MAX || w->parts >= MIME_PARTS_MAX)
		return;
	w->parts++;
	split(p, n, &h, &b);
	header_get(h, "Content-Type", ct, sizeof(ct));
	copy_line(type, sizeof(type), ct, strcspn(ct, "; \t"));
	if (strncasecmp(type, "multipart/", 10) == 0) {
		param(ct, "boundary", bnd, sizeof(bnd));
		multipart(w, b, bnd, depth);
	} else
		leaf(w, h, b, type);
}

/* --- reasons for replies without a status --------------------------- */

/*
 * When a bounce carries no enhanced status code, Tern writes a pseudo
 * code x.0.9yy (the convention of Sisimai::SMTP::Status, so the two can
 * be compared): x from the reply code (4 or 5), 9yy from the first row
 * whose words occur in the reply.  The row also gives the category.
 */
static const struct reason {
	const char	*code;
	const char	*category;
	const char	*words;		/* '|'-separated, case-insensitive */
} reasons[] = {
	{ "922", "quota-issues", "mailbox is full|mailbox full|quota|"
	    "mailbox exceeds|mailfolder is full|exceeded the local limit|"
	    "storage" },
	{ "947", "message-expired", "expired|retry timeout|for a long time|"
	    "multiple retries|not delivered within|attempts|"
	    "host not reachable|"
	    "did not accept our requests to connect|could not find a gateway|"
	    "timed out|has been delayed|will be retried|too long in queue|"
	    "still undeliverable|still undelivered" },
	{ "934", "content-related", "size limit|too big|too large" },
	{ "932", "bad-domain", "no mx record|no smtp service|"
	    "does not accept mail|null mx" },
	{ "944", "routing-errors", "name service error|network error|"
	    "no mx found|host not found, try again" },
	{ "912", "bad-domain", "domain does not exist|domain may not exist|"
	    "unrouteable address|host unknown|no such domain|"
	    "domain not found|domain is not reachable|"
	    "find a mail exchanger" },
	{ "921", "inactive-mailbox", "account is locked|account is disabled|"
	    "disabled|suspended|inactive|mailbox is frozen" },
	{ "911", "bad-mailbox", "user unknown|unknown user|no such user|"
	    "user not exist|not listed in|invalid final delivery|"
	    "no valid recipients|invalid user|mailbox unavailable|"
	    "recipient not found|invalid recipient|invalid address|"
	    "doesn't have a|address couldn't be found|"
	    "does not exist|no mailbox|no such mailbox|mailbox not found" },
	/* a user-unknown reply to the message itself (after DATA) */
	{ "910", "bad-mailbox", "" },
	{ "980", "spam-related", "blacklisted url|spam" },
	{ "971", "spam-related", "blocked|access denied|ptr record|"
	    "reverse dns|invalid ip|blacklist|complaints|weren't sent|"
	    "rejected by this system|server access|client ip|"
	    "client host rejected|not accepting connections" },
	{ "945", "policy-related", "too many connections|"
	    "too many recipients|rate limit|frequency limit" },
	{ "970", "policy-related", "authentication|dmarc|spf" },
	{ "918", "invalid-sender", "sender|mail from" },
	{ "909", "relaying-issues", "to relay|relay access|relaying" },
};

/* has_word - does any '|'-separated word of words occur in s? */
static bool
has_word(const char *s, const char *words)
{
	char		 w[64];
	const char	*p = words, *e;

	while (*p != '\0') {
		e = p + strcspn(p, "|");
		if ((size_t)(e - p) < sizeof(w)) {
			memcpy(w, p, (size_t)(e - p));
			w[e - p] = '\0';
			if (strcasestr(s, w) != NULL)
				return true;
		}
		p = *e == '|' ? e + 1 : e;
	}
	return false;
}

static const struct reason *
reason_of(const char *diag)
{
	size_t i;

	for (i = 0; i < nitems(reasons); i++)
		if (has_word(diag, reasons[i].words))
			return &reasons[i];
	return NULL;
}

/* reason_code - the row for a pseudo status x.0.9yy, or NULL */
static const struct reason *
reason_code(const char *status)
{
	size_t i;

	if (strlen(status) != 7 || strncmp(status + 1, ".0.9", 4) != 0)
		return NULL;
	for (i = 0; i < nitems(reasons); i++)
		if (strcmp(status + 4, reasons[i].code) == 0)
			return &reasons[i];
	return NULL;
}

/*
 * host_gone - "553 mx.example.com does not exist": what does not exist
 * is a host or domain name (dotted, no '@'), not a mailbox
 */
static bool
host_gone(const char *diag)
{
	const char	*p = strcasestr(diag, " does not exist"), *b;
	bool		 dot = false;

	if (p == NULL)
		return false;
	for (b = p; b > diag && (isalnum((unsigned char)b[-1]) ||
	    b[-1] == '.' || b[-1] == '-'); b--)
		dot = dot || b[-1] == '.';
	return dot && b < p && (b == diag || b[-1] == ' ') &&
	    isalpha((unsigned char)p[-1]);
}

/*
 * pseudo_status - x.0.9yy for r: 4 for a 4xx reply or a delay notice.
 * Google Groups answers every refused post the same way, in the
 * sender's language: the group does not exist or refuses the sender.
 */
static void
pseudo_status(struct dsn_report *r, int code)
{
	const struct reason	*x = reason_of(r->diag);
	const char		*d = strrchr(r->rcpt, '@');

	if (d != NULL && strcasecmp(d, "@googlegroups.com") == 0)
		x = reason_code("5.0.918");
	if (x != NULL && strcmp(x->code, "911") == 0 && host_gone(r->diag))
		x = reason_code("5.0.912");
	/* Refused after DATA: a filter on the message (Sisimai: filtered). */
	if (x != NULL && strcmp(x->code, "911") == 0 &&
	    strcmp(r->cmd, "DATA") == 0)
		x = reason_code("5.0.910");
	snprintf(r->status, sizeof(r->status), "%c.0.%s",
	    code / 100 == 4 || has_word(r->diag, "has been delayed|"
	    "will be retried|retry timeout exceeded|failing for a long time|"
	    "delay reason") ? '4' : '5', x != NULL ? x->code : "900");
}

/*
 * smtp_cmd - the SMTP command a reply answered, where the bounce says
 * ("in reply to end of DATA command", "after RCPT TO:<...>", ">>> DATA"
 * before it, or the bare verb after it as m-FILTER writes): the last
 * command named wins, as a transcript goes on until the failure
 */
static void
smtp_cmd(const char *s, char *d, size_t dsz)
{
	static const struct {
		const char	*words, *cmd;
	} cmds[] = {
		{ "end of data|after data|to data command|>>> data|>>>data",
		    "DATA" },
		{ "rcpt to|after rcpt|rcpt command", "RCPT" },
		{ "mail from|after mail|mail command", "MAIL" },
	};
	const char	*e = s + strlen(s);
	size_t		 i;

	if (e - s >= 5 && strcasecmp(e - 5, " data") == 0) {
		tern_strlcpy(d, "DATA", dsz);
		return;
	}
	for (i = 0; i < nitems(cmds); i++)
		if (has_word(s, cmds[i].words)) {
			tern_strlcpy(d, cmds[i].cmd, dsz);
			return;
		}
}

/* --- heuristics for human-readable bounces -------------------------- */

#define TEXT_MAX	(256u << 10)

struct text {
	char		*p;
	size_t		 n;
};

/* cut_marker - does this line start the copy of the returned message? */
static bool
cut_marker(const char *l)
{
	return has_word(l, "original message follows|message follows|"
	    "copy of the message|below this line is a copy|"
	    "original message headers|returned message|"
	    "undelivered message headers|headers of the original|"
	    "text of the message follows|unsent message below|"
	    "original message ---|content-type: message/rfc822|"
	    "original message header|header of the original message");
}

/* addr_at - the address around '@' at a (bounded), or false */
static bool
addr_at(const char *line, const char *a, char *d, size_t dsz)
{
	const char	*s = a, *e = a + 1;
	static const char lc[] = "!#$%&'*+-/=?^_`{|}~.";
	size_t		 i;

	while (s > line && (isalnum((unsigned char)s[-1]) ||
	    strchr(lc, s[-1]) != NULL))
		s--;
	while (isalnum((unsigned char)*e) || *e == '-' || *e == '.')
		e++;
	while (e > a + 1 && e[-1] == '.')
		e--;
	if (s == a || e - a < 4 || memchr(a + 1, '.', (size_t)(e - a - 1)) ==
	    NULL || (size_t)(e - s) >= dsz)
		return false;
	copy_line(d, dsz, s, (size_t)(e - s));
	for (i = 0; d[i] != '\0'; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	return true;
}

static bool
excluded(struct walk *w, const char *a)
{
	return (!w->allow_to && strcasecmp(a, w->top_to) == 0) ||
	    strcasecmp(a, w->top_from) == 0 ||
	    strncasecmp(a, "mailer-daemon@", 14) == 0 ||
	    (!w->allow_pm && strncasecmp(a, "postmaster@", 11) == 0);
}

/* unquote - "> text" -> "text": a bounce forwarded by a mail client */
static void
unquote(char *l)
{
	size_t	 k;

	while (l[0] == '>' && (l[1] == ' ' || l[1] == '\0')) {
		k = l[1] == ' ' ? 2 : 1;
		memmove(l, l + k, strlen(l + k) + 1);
	}
}

/* gather - the text parts up to the returned message, one line each */
static void
gather(struct walk *w, struct text *t)
{
	char	 l[FIELD_MAX];
	size_t	 k, i, e, ll;

	t->p = xmalloc(TEXT_MAX);
	t->n = 0;
	for (k = 0; k < w->ntext; k++) {
		struct span b = w->text[k];

		for (i = 0; i < b.n; i = e) {
			e = text_line_end(b.p, b.n, i);
			copy_line(l, sizeof(l), b.p + i, text_line_len(b.p, i, e));
			unquote(l);
			if (cut_marker(l))
				break;
			ll = strlen(l);
			if (t->n + ll + 2 > TEXT_MAX) {
				t->p[t->n] = '\0';
				return;
			}
			memcpy(t->p + t->n, l, ll);
			t->n += ll;
			t->p[t->n++] = '\n';
		}
	}
	t->p[t->n] = '\0';
}

/* add_rcpt - a candidate recipient, once */
static void
add_rcpt(struct walk *w, const char *a)
{
	size_t i;

	if (excluded(w, a) || strchr(a, '@') == NULL)
		return;
	for (i = 0; i < w->res->n; i++)
		if (strcmp(w->res->r[i].rcpt, a) == 0)
			return;
	if (new_report(w->res) != NULL)
		tern_strlcpy(w->res->r[w->res->n - 1].rcpt, a, DSN_ADDR_MAX);
}

/*
 * listed - recipients that start lines ("<a@b>: ...", "a@b ...",
 * "\"a@b\":"); with lone, only lines that are nothing but the address
 */
static void
listed(struct walk *w, const struct text *t, bool lone)
{
	const char	*l, *s, *at, *e;
	char		 a[DSN_ADDR_MAX];

	for (l = t->p; *l != '\0'; l = *e != '\0' ? e + 1 : e) {
		e = strchrnul(l, '\n');
		s = skip_ws(l);
		if (*s == '<' || *s == '"')
			s++;
		at = s + strcspn(s, "@ \t\n<>:;,()[]\"");
		if (*at != '@' || at == s || !addr_at(s, at, a, sizeof(a)) ||
		    strncasecmp(a, s, strlen(a)) != 0)
			continue;
		if (!lone || strspn(s + strlen(a), ">\":") ==
		    (size_t)(e - s) - strlen(a))
			add_rcpt(w, a);
	}
}

/*
 * sender_side - is the address at 'at' on line l the sender's or a
 * message's id ("MAIL FROM:<a@b>", "From: a@b", "Message-Id: <...>")?
 */
static bool
sender_side(const char *l, const char *at)
{
	char	 b[FIELD_MAX];
	size_t	 n = (size_t)(at - l);

	if (n >= sizeof(b))
		n = sizeof(b) - 1;
	memcpy(b, at - n, n);
	b[n] = '\0';
	return strcasestr(b, "from:") != NULL ||
	    strcasestr(b, "from <") != NULL ||
	    strcasestr(b, "message-id") != NULL ||
	    strcasestr(b, "references:") != NULL ||
	    strcasestr(b, "in-reply-to:") != NULL;
}

/* rcpt_to - the addresses of "RCPT TO:<a@b>" in a session transcript */
static void
rcpt_to(struct walk *w, const struct text *t)
{
	const char	*p, *q, *at;
	char		 a[DSN_ADDR_MAX];

	for (p = strcasestr(t->p, "rcpt to:"); p != NULL;
	    p = strcasestr(p + 8, "rcpt to:")) {
		q = skip_ws(p + 8);
		if (*q == '<')
			q++;
		at = q + strcspn(q, "@ \t\n<>\"");
		if (*at == '@' && at > q && addr_at(q, at, a, sizeof(a)))
			add_rcpt(w, a);
	}
}

/* first_addr - the first address the text mentions */
static void
first_addr(struct walk *w, const struct text *t)
{
	const char	*at, *l;
	char		 a[DSN_ADDR_MAX];

	for (at = strchr(t->p, '@'); at != NULL && w->res->n == 0;
	    at = strchr(at + 1, '@')) {
		for (l = at; l > t->p && l[-1] != '\n'; l--)
			;
		if (!sender_side(l, at) && addr_at(l, at, a, sizeof(a)))
			add_rcpt(w, a);
	}
}

/* others - does line mention a recipient other than r? */
static bool
others(struct walk *w, const char *line, const struct dsn_report *r)
{
	size_t i;

	for (i = 0; i < w->res->n; i++)
		if (&w->res->r[i] != r &&
		    strcasestr(line, w->res->r[i].rcpt) != NULL)
			return true;
	return false;
}

/*
 * own_line - the first line that names r and no other recipient; else
 * the first that names r; else the start of the text
 */
static const char *
own_line(struct walk *w, const struct text *t, const struct dsn_report *r)
{
	const char	*l, *e, *first = NULL;
	char		 line[FIELD_MAX];

	for (l = t->p; *l != '\0'; l = *e != '\0' ? e + 1 : e) {
		e = strchrnul(l, '\n');
		copy_line(line, sizeof(line), l, (size_t)(e - l));
		if (strcasestr(line, r->rcpt) == NULL)
			continue;
		if (!others(w, line, r))
			return l;
		if (first == NULL)
			first = l;
	}
	return first != NULL ? first : t->p;
}

/*
 * labelled_cmd - the command under a "SMTP command" heading after the
 * reply at l (m-FILTER: "-------SMTP command" then "DATA")
 */
static void
labelled_cmd(const char *l, char *d, size_t dsz)
{
	const char	*h = strcasestr(l, "smtp command\n"), *v;

	if (h == NULL)
		return;
	v = skip_ws(h + 13);
	if (strncasecmp(v, "DATA", 4) == 0 || strncasecmp(v, "RCPT", 4) == 0 ||
	    strncasecmp(v, "MAIL", 4) == 0)
		copy_line(d, dsz, v, 4);
	for (; *d != '\0'; d++)
		*d = (char)toupper((unsigned char)*d);
}

/* prev_line - the line before the one at l (l > start), copied to d */
static const char *
prev_line(const char *start, const char *l, char *d, size_t dsz)
{
	const char *b = l - 1;

	while (b > start && b[-1] != '\n')
		b--;
	copy_line(d, dsz, b, (size_t)(l - 1 - b));
	return d;
}

/* append - line onto the one-line reply d, bounded */
static void
append(char *d, size_t dsz, const char *line)
{
	size_t n = strlen(d);

	if (n > 0 && n + 1 < dsz)
		d[n++] = ' ';
	if (n < dsz)
		tern_strlcpy(d + n, line, dsz - n);
}

/*
 * paragraph - the reply from line l on: it and the lines after it up to
 * an empty one or one that names another recipient
 */
static void
paragraph(struct walk *w, const char *l, struct dsn_report *r)
{
	const char	*e;
	char		 line[FIELD_MAX];

	for (r->diag[0] = '\0'; *l != '\0'; l = *e != '\0' ? e + 1 : e) {
		e = strchrnul(l, '\n');
		copy_line(line, sizeof(line), l, (size_t)(e - l));
		if (line[0] == '\0' || (r->diag[0] != '\0' &&
		    others(w, line, r)))
			return;
		append(r->diag, sizeof(r->diag), line);
		if (strlen(r->diag) + 1 >= sizeof(r->diag))
			return;
	}
}

/*
 * fill - status and reply for r from the lines that follow its first
 * mention, up to the mention of another recipient: the reply is the
 * paragraph from the first line with an SMTP reply code, else the one
 * that names r, else the first line with words of a known reason; the
 * status, the first failure code (4.y.z, 5.y.z) on the way or in it.
 */
static void
fill(struct walk *w, const struct text *t, struct dsn_report *r)
{
	const char	*s = own_line(w, t, r), *l, *e, *c, *code = NULL;
	const char	*why = NULL;
	char		 line[FIELD_MAX];

	for (l = s; *l != '\0'; l = *e != '\0' ? e + 1 : e) {
		e = strchrnul(l, '\n');
		copy_line(line, sizeof(line), l, (size_t)(e - l));
		if (l != s && others(w, line, r))
			break;
		if (code == NULL && smtp_code(line, &c) != 0)
			code = l;
		if (r->status[0] == '\0')
			fail_status(line, r->status, sizeof(r->status));
		if (code != NULL && r->status[0] != '\0')
			break;
	}
	if (code != NULL) {
		paragraph(w, code, r);
		smtp_cmd(r->diag, r->cmd, sizeof(r->cmd));
		if (r->cmd[0] == '\0' && code > t->p)
			smtp_cmd(prev_line(t->p, code, line, sizeof(line)),
			    r->cmd, sizeof(r->cmd));
		if (r->cmd[0] == '\0')
			labelled_cmd(code, r->cmd, sizeof(r->cmd));
		if (smtp_code(r->diag, &c) != 0)
			memmove(r->diag, c, strlen(c) + 1);
		return;
	}
	if (s != t->p) {
		paragraph(w, s, r);
		if (reason_of(r->diag) != NULL)
			return;
	}
	for (l = t->p; *l != '\0' && why == NULL;
	    l = *e != '\0' ? e + 1 : e) {
		e = strchrnul(l, '\n');
		copy_line(line, sizeof(line), l, (size_t)(e - l));
		if (reason_of(line) != NULL)
			why = l;
	}
	if (why != NULL)
		paragraph(w, why, r);
	/* "550 5.1.1 User unknown" may come before the list of recipients */
	if (r->status[0] == '\0')
		fail_status(r->diag, r->status, sizeof(r->status));
}

/* heuristic - reports from the human text, when no DSN part said */
static void
heuristic(struct walk *w, const char *failed)
{
	struct text	 t;
	char		 a[DSN_ADDR_MAX];
	const char	*p;
	size_t		 i;

	gather(w, &t);
	/* X-Failed-Recipients is the MTA's own word: even the To counts. */
	w->allow_to = true;
	for (p = failed; *p != '\0'; p += strspn(p, ", ")) {
		copy_addr(a, sizeof(a), p);
		add_rcpt(w, a);
		p += strcspn(p, ",");
	}
	w->allow_to = false;
	if (w->res->n == 0)
		listed(w, &t, false);
	if (w->res->n == 0)
		rcpt_to(w, &t);
	if (w->res->n == 0)
		first_addr(w, &t);
	/* Sent to oneself, or an anonymised sample: the To is the one. */
	w->allow_to = true;
	if (w->res->n == 0)
		listed(w, &t, false);
	/* A postmaster@ alone on its line is one that failed. */
	w->allow_pm = true;
	if (w->res->n == 0)
		listed(w, &t, true);
	/* A report that lists nobody: the one the returned message was for. */
	if (w->res->n == 0 && w->saw_ds && addr_ok(w->res->orig_to))
		add_rcpt(w, w->res->orig_to);
	w->allow_pm = false;
	for (i = 0; i < w->res->n; i++) {
		struct dsn_report *r = &w->res->r[i];

		fill(w, &t, r);
		tern_strlcpy(r->action, "failed", sizeof(r->action));
		r->heuristic = true;
		if (r->status[0] == '\0')
			pseudo_status(r, smtp_code(r->diag, NULL));
	}
	free(t.p);
}

/* first_in - the first address in s that is not excluded, or false */
static bool
first_in(struct walk *w, const char *s, char *d, size_t dsz)
{
	const char *at, *l;

	for (at = strchr(s, '@'); at != NULL; at = strchr(at + 1, '@')) {
		for (l = at; l > s && l[-1] != '\n'; l--)
			;
		if (addr_at(l, at, d, dsz) && addr_ok(d) && !excluded(w, d))
			return true;
	}
	return false;
}

/*
 * explain - for DSN blocks that gave no reply, the reply from the human
 * text (and its status, where the block had only a generic x.0.0); for
 * a Final-Recipient that is no address (a pipe, a file, "@host"), the
 * X-Failed-Recipients, else the first address of the reply or text
 */
static void
explain(struct walk *w, const char *failed)
{
	struct text		 t;
	struct dsn_report	*r;
	char			 st[DSN_STATUS_MAX], a[DSN_ADDR_MAX];
	size_t			 i;

	gather(w, &t);
	for (i = 0; i < w->res->n; i++) {
		r = &w->res->r[i];
		if (r->diag[0] == '\0') {
			tern_strlcpy(st, r->status, sizeof(st));
			r->status[0] = '\0';
			fill(w, &t, r);
			if (r->status[0] == '\0' || (st[0] != '\0' &&
			    strncmp(st + 1, ".0.0", 5) != 0))
				tern_strlcpy(r->status, st, sizeof(r->status));
		}
		if (addr_ok(r->rcpt))
			continue;
		copy_addr(a, sizeof(a), failed);
		if (addr_ok(a) || first_in(w, r->diag, a, sizeof(a)) ||
		    first_in(w, t.p, a, sizeof(a)))
			tern_strlcpy(r->rcpt, a, sizeof(r->rcpt));
	}
	free(t.p);
}

/* --- entry points --------------------------------------------------- */

size_t
dsn_parse(const char *p, size_t n, struct dsn_result *res)
{
	struct walk	 w;
	struct span	 h, b;
	char		 v[FIELD_MAX];
	size_t		 i;

	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.res = res;
	if (n > DSN_INPUT_MAX)
		n = DSN_INPUT_MAX;
	split(p, n, &h, &b);
	if (header_get(h, "To", v, sizeof(v)))
		copy_addr(w.top_to, sizeof(w.top_to), v);
	if (header_get(h, "From", v, sizeof(v)))
		copy_addr(w.top_from, sizeof(w.top_from), v);
	walk_part(&w, p, n, 0);
	if (!w.have_ds && !res->arf.present) {
		header_get(h, "X-Failed-Recipients", v, sizeof(v));
		heuristic(&w, v);
	} else {
		header_get(h, "X-Failed-Recipients", v, sizeof(v));
		explain(&w, v);
	}
	if (res->arf.present && res->arf.orig_rcpt[0] == '\0')
		tern_strlcpy(res->arf.orig_rcpt, res->orig_to,
		    sizeof(res->arf.orig_rcpt));
	/* "To: <Undisclosed Recipients>" names nobody. */
	if (strchr(res->arf.orig_rcpt, '@') == NULL)
		res->arf.orig_rcpt[0] = '\0';
	for (i = 0; i < w.nowned; i++)
		free(w.owned[i]);
	return res->n + (res->arf.present ? 1 : 0);
}

/*
 * category - a pseudo status says it itself; a sender status (x.1.7,
 * x.1.8) is about the sender whatever the text says; otherwise the
 * bounce-category table decides; where it finds nothing better than
 * "other" or a bare 5.5.x, the words of the reasons table do; and a
 * temporary status on a
 * failed recipient with no more telling reply (other, no answer, or
 * words of expiry) means the message gave up waiting: expired.
 */
static const char *
category(const struct dsn_report *r, const struct bcat_table *t)
{
	const struct reason	*x;
	const char		*c;

	if ((x = reason_code(r->status)) != NULL)
		return x->category;
	if (strncmp(r->status + 1, ".1.7", 5) == 0 ||
	    strncmp(r->status + 1, ".1.8", 5) == 0)
		return bcat_classify(t, r->status, "");
	c = bcat_classify(t, r->status, r->diag);
	if ((strcmp(c, "other") == 0 || strcmp(c, "protocol-errors") == 0) &&
	    (x = reason_of(r->diag)) != NULL)
		return x->category;
	if (r->status[0] == '4' && strcasecmp(r->action, "failed") == 0 &&
	    (strcmp(c, "other") == 0 || strcmp(c, "no-answer-from-host") == 0 ||
	    ((x = reason_of(r->diag)) != NULL && strcmp(x->code, "947") == 0)))
		return "message-expired";
	return c;
}

void
dsn_categorize(struct dsn_result *res, const struct bcat_table *t)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		res->r[i].category = category(&res->r[i], t);
}
