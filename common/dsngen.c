/*
 * dsngen.c - the delivery status notification (bounce) Tern sends.
 *
 * Purpose:      see dsngen.h.  The three part bodies are built first,
 *               each in its own bounded buffer: the explanation, the
 *               delivery-status fields, the returned original (read
 *               with pread, at most max_return bytes, line ends made
 *               CRLF, long lines broken).  Then a random boundary is
 *               drawn until none of the bodies contains it, and the
 *               header block and the parts are put together.
 * Used by:      queued (bounces, delay and success notices).
 * Trust:        remote replies, addresses and the original message are
 *               hostile: every value is cleaned (no control character,
 *               no 8-bit byte, one line, bounded) before it goes into a
 *               field, and fields are folded so no line passes 998.
 * Spool access: pread on the caller's fd only.
 * See:          RFC 3464 2.1-2.3, RFC 6522, RFC 3461 4, RFC 3834 5,
 *               RFC 5322 2.1.1 and 3.3, RFC 2046 5.1.1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dsngen.h"
#include "util.h"

#define SOFT_WIDTH	76	/* fold here when a space allows it */
#define HARD_WIDTH	998	/* RFC 5322 2.1.1, without the CRLF */
#define NAME_MAX_	255	/* reporting MTA, queue id */
#define SENDER_MAX	512	/* the address the report goes to */
#define BOUNDARY_LEN	(sizeof(DSNGEN_BOUNDARY_PREFIX) - 1 + \
			    2 * DSNGEN_BOUNDARY_RANDOM)
#define LINE_BUF	(DSNGEN_FIELD_MAX + DSNGEN_DIAG_MAX + 128)

enum outcome { OC_DELIVERED, OC_DELAYED, OC_FAILED };
enum ret_kind { RET_NONE, RET_HEADERS, RET_FULL };

/* what of the original goes back, and how */
struct ret {
	enum ret_kind	 kind;
	bool		 big;		/* RET=FULL asked, over max_return */
	bool		 cut;		/* header block cut at max_return */
	bool		 eightbit;	/* 8-bit bytes in body */
	struct buf	 body;
};

/* --- small helpers -------------------------------------------------- */

static int
hexval(char ch)
{
	unsigned char c = (unsigned char)ch;

	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * clean - s as one safe line into d[dsz]: control characters become
 * spaces, 8-bit bytes '?', a run of spaces one space, none at either
 * end.  xtext: "+XX" is decoded first (RFC 3461 4).  Cut at dsz - 1.
 */
static void
clean(char *d, size_t dsz, const char *s, bool xtext)
{
	size_t	 o = 0;
	bool	 sp = true;
	int	 c, h1, h2;

	for (; s != NULL && *s != '\0' && o + 1 < dsz; s++) {
		c = (unsigned char)*s;
		if (xtext && c == '+' && (h1 = hexval(s[1])) >= 0 &&
		    (h2 = hexval(s[2])) >= 0) {
			c = h1 << 4 | h2;
			s += 2;
		}
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80)
			c = '?';
		if (c == ' ' && sp)
			continue;
		sp = c == ' ';
		d[o++] = (char)c;
	}
	while (o > 0 && d[o - 1] == ' ')
		o--;
	d[o] = '\0';
}

/* name_ok - a host name or an id we put in Message-ID: [A-Za-z0-9._-] */
static bool
name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= NAME_MAX_ || !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* sender_ok - printable ASCII without angle brackets, bounded */
static bool
sender_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SENDER_MAX || s[i] < 0x20 || s[i] > 0x7e ||
		    s[i] == '<' || s[i] == '>')
			return false;
	return true;
}

/* status_ok - RFC 3463: [245].ddd.ddd */
static bool
status_ok(const char *s)
{
	int	 part, n;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return false;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; *s >= '0' && *s <= '9'; s++)
			n++;
		if (n < 1 || n > 3 || *s != (part == 0 ? '.' : '\0'))
			return false;
		if (part == 0)
			s++;
	}
	return true;
}

static bool
action_ok(const char *s)
{
	static const char *const ok[] = { "failed", "delayed", "delivered",
	    "relayed", "expanded" };
	size_t i;

	for (i = 0; s != NULL && i < nitems(ok); i++)
		if (strcmp(s, ok[i]) == 0)
			return true;
	return false;
}

/* rfc5322_date - "Thu, 1 Jan 1970 00:00:00 +0000", in English, UTC */
static void
rfc5322_date(time_t t, char *d, size_t dsz)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	if (!bsnprintf(d, dsz, "%s, %d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec))
		tern_strlcpy(d, "Thu, 1 Jan 1970 00:00:00 +0000", dsz);
}

/* draw - n random bytes from the caller's source or getrandom(2) */
static int
draw(const struct dsngen *g, void *p, size_t n)
{
	size_t	 got = 0;
	ssize_t	 r;

	if (g->random != NULL)
		return g->random(p, n);
	while (got < n) {
		r = getrandom((char *)p + got, n - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* hex_random - prefix then 2 * n random hex digits into d[dsz] */
static int
hex_random(const struct dsngen *g, const char *prefix, size_t n, char *d,
    size_t dsz)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char	 rb[32];
	size_t		 i, o;

	o = tern_strlcpy(d, prefix, dsz);
	if (n > sizeof(rb) || o + 2 * n + 1 > dsz || draw(g, rb, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		d[o++] = hx[rb[i] >> 4];
		d[o++] = hx[rb[i] & 15];
	}
	d[o] = '\0';
	return 0;
}

/*
 * wrap - first, then the words of v (a clean line) in lines of at most
 * SOFT_WIDTH bytes where the words allow, HARD_WIDTH always; each new
 * line starts with cont (" " folds a header field).  Ends in CRLF.
 */
static int
wrap(struct buf *b, const char *first, const char *cont, const char *v)
{
	size_t	 col, wl, n, cl = strlen(cont);
	bool	 fresh = true;
	int	 r;

	r = buf_addstr(b, first);
	col = strlen(first);
	while (*v != '\0') {
		wl = strcspn(v, " ");
		if (!fresh && col + 1 + wl > SOFT_WIDTH) {
			r |= buf_add(b, "\r\n", 2) | buf_addstr(b, cont);
			col = cl;
			fresh = true;
		}
		if (!fresh) {
			r |= buf_add(b, " ", 1);
			col++;
		}
		while (wl > HARD_WIDTH - col) {
			n = HARD_WIDTH - col;
			r |= buf_add(b, v, n) | buf_add(b, "\r\n", 2) |
			    buf_addstr(b, cont);
			col = cl;
			v += n;
			wl -= n;
		}
		r |= buf_add(b, v, wl);
		col += wl;
		v += wl;
		fresh = false;
		if (*v == ' ')
			v++;
	}
	return r | buf_add(b, "\r\n", 2);
}

/* --- the returned original ------------------------------------------ */

/* read_at - exactly n bytes at off */
static int
read_at(int fd, uint64_t off, char *p, size_t n, const char **why)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		r = pread(fd, p + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*why = "cannot read the original message";
			return -1;
		}
		if (r == 0) {
			*why = "the original message is shorter than its span";
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* header_end - offset of the first empty line of p[0..n), else n */
static size_t
header_end(const char *p, size_t n, bool *found)
{
	size_t i, e;

	for (i = 0; i < n; i = e) {
		e = text_line_end(p, n, i);
		if (text_line_len(p, i, e) == 0) {
			*found = true;
			return i;
		}
	}
	*found = false;
	return n;
}

/* put_bytes - p[0..n) (n <= HARD_WIDTH): CR and NUL become spaces */
static int
put_bytes(struct buf *b, const char *p, size_t n, bool *eightbit)
{
	char	 tmp[HARD_WIDTH];
	size_t	 i;

	for (i = 0; i < n && i < sizeof(tmp); i++) {
		tmp[i] = p[i] == '\r' || p[i] == '\0' ? ' ' : p[i];
		if ((unsigned char)p[i] >= 0x80)
			*eightbit = true;
	}
	return buf_add(b, tmp, i);
}

/*
 * put_original - p[0..n) into b with CRLF line ends; a line longer than
 * HARD_WIDTH is broken, in the header block (before hdr) as a folded
 * field so it stays one field.
 */
static int
put_original(struct buf *b, const char *p, size_t n, size_t hdr,
    bool *eightbit)
{
	size_t	 i, e, l, k, c, w;
	int	 r = 0;

	for (i = 0; i < n; i = e) {
		e = text_line_end(p, n, i);
		l = text_line_len(p, i, e);
		k = 0;
		do {
			w = k > 0 && i < hdr ? HARD_WIDTH - 1 : HARD_WIDTH;
			c = l - k < w ? l - k : w;
			if (k > 0)
				r |= buf_addstr(b, i < hdr ? "\r\n " : "\r\n");
			r |= put_bytes(b, p + i + k, c, eightbit);
			k += c;
		} while (k < l);
		r |= buf_add(b, "\r\n", 2);
	}
	return r;
}

/*
 * returned - what of the original goes back: the whole message when
 * RET=FULL and it fits max_return, else its header block, itself cut
 * at a line end when it is longer than max_return.
 */
static int
returned(const struct dsngen *g, struct ret *rt, const char **why)
{
	char	*p, *nl;
	size_t	 n, h;
	bool	 found;
	int	 r;

	rt->kind = RET_NONE;
	if (g->len == 0 || g->max_return == 0)
		return 0;
	rt->kind = g->ret_full && g->len <= g->max_return ? RET_FULL :
	    RET_HEADERS;
	rt->big = g->ret_full && rt->kind == RET_HEADERS;
	n = g->len < g->max_return ? g->len : g->max_return;
	if (n > rt->body.max) {
		*why = "max_return is larger than the report may be";
		return -1;
	}
	p = xmalloc(n);
	if (read_at(g->fd, g->off, p, n, why) == -1) {
		free(p);
		return -1;
	}
	h = header_end(p, n, &found);
	if (rt->kind == RET_HEADERS) {
		if (!found && n < g->len) {
			nl = memrchr(p, '\n', n);
			h = nl != NULL ? (size_t)(nl - p) + 1 : 0;
			rt->cut = true;
		}
		n = h;
		if (n == 0)
			rt->kind = RET_NONE;
	}
	r = put_original(&rt->body, p, n, h, &rt->eightbit);
	free(p);
	if (r == -1)
		*why = "the returned message does not fit the report";
	return r;
}

/* --- the parts ------------------------------------------------------ */

static enum outcome
outcome(const struct dsngen *g)
{
	enum outcome	 oc = OC_DELIVERED;
	unsigned	 i;

	for (i = 0; i < g->nrcpt; i++) {
		if (strcmp(g->rcpts[i].action, "failed") == 0)
			return OC_FAILED;
		if (strcmp(g->rcpts[i].action, "delayed") == 0)
			oc = OC_DELAYED;
	}
	return oc;
}

static const char *
intro(enum outcome oc)
{
	switch (oc) {
	case OC_FAILED:
		return "I'm sorry to have to inform you that your message "
		    "could not\r\nbe delivered to one or more recipients. "
		    "The mail system gave up.\r\n";
	case OC_DELAYED:
		return "Your message could not be delivered yet to one or "
		    "more recipients.\r\nThe mail system is still trying; "
		    "you do not have to send it again.\r\n";
	default:
		return "Your message was delivered to the recipients "
		    "listed below.\r\n";
	}
}

/* ret_note - what the third part holds, in words */
static int
ret_note(struct buf *b, const struct dsngen *g, const struct ret *rt)
{
	unsigned long long max = (unsigned long long)g->max_return;
	int r = 0;

	if (rt->big)
		r |= buf_printf(b, "The message was larger than %llu bytes: "
		    "only its header block\r\nis returned.\r\n", max);
	if (rt->cut)
		r |= buf_printf(b, "Its header block was larger than %llu "
		    "bytes: it was cut.\r\n", max);
	if (rt->kind == RET_FULL)
		r |= buf_addstr(b, "The message is returned below.\r\n");
	else if (rt->kind == RET_HEADERS)
		r |= buf_addstr(b, "The header block of the message is "
		    "returned below.\r\n");
	else
		r |= buf_addstr(b, "The message is not returned.\r\n");
	return r;
}

/*
 * text_rcpt - "<rcpt>", then what happened and the reply, indented (not
 * Postfix's "<rcpt>: reply" line, which bounce parsers read as Postfix's)
 */
static int
text_rcpt(struct buf *b, const struct dsngen_rcpt *rc)
{
	char		 addr[DSNGEN_FIELD_MAX + 1], host[DSNGEN_FIELD_MAX + 1];
	char		 diag[DSNGEN_DIAG_MAX + 1], line[LINE_BUF];
	const char	*what;
	int		 r;

	clean(addr, sizeof(addr), rc->rcpt, false);
	clean(host, sizeof(host), rc->remote_mta, false);
	clean(diag, sizeof(diag), rc->diag, false);
	if (strcmp(rc->action, "failed") == 0)
		what = "delivery failed";
	else if (strcmp(rc->action, "delayed") == 0)
		what = "delivery delayed, still trying";
	else
		what = rc->action;
	(void)bsnprintf(line, sizeof(line), "<%s>", addr);
	r = wrap(b, "", "    ", line);
	(void)bsnprintf(line, sizeof(line), "%s, status %s", what,
	    rc->status);
	r |= wrap(b, "    ", "    ", line);
	if (diag[0] != '\0') {
		(void)bsnprintf(line, sizeof(line), "%s%s said: %s", host,
		    host[0] != '\0' ? "" : "the remote server", diag);
		r |= wrap(b, "    ", "    ", line);
	}
	return r | buf_add(b, "\r\n", 2);
}

static int
text_part(struct buf *b, const struct dsngen *g, enum outcome oc,
    const struct ret *rt)
{
	unsigned	 i;
	int		 r;

	r = buf_printf(b, "This is the Tern mail delivery system at %s.\r\n\r\n",
	    g->reporting_mta);
	r |= buf_addstr(b, intro(oc));
	r |= buf_add(b, "\r\n", 2);
	for (i = 0; i < g->nrcpt; i++)
		r |= text_rcpt(b, &g->rcpts[i]);
	return r | ret_note(b, g, rt);
}

/* diag_type - "smtp" for a reply with a code, else ours */
static const char *
diag_type(const char *d)
{
	if ((d[0] == '2' || d[0] == '4' || d[0] == '5') &&
	    d[1] >= '0' && d[1] <= '9' && d[2] >= '0' && d[2] <= '9' &&
	    (d[3] == ' ' || d[3] == '-' || d[3] == '\0'))
		return "Diagnostic-Code: smtp; ";
	return "Diagnostic-Code: X-Tern; ";
}

/* ds_rcpt - one per-recipient group (RFC 3464 2.3), then a blank line */
static int
ds_rcpt(struct buf *b, const struct dsngen_rcpt *rc)
{
	char		 v[DSNGEN_DIAG_MAX + 1], o[DSNGEN_FIELD_MAX + 8];
	int		 r = 0;

	clean(v, DSNGEN_FIELD_MAX + 1, rc->orcpt, true);
	if (v[0] != '\0') {
		(void)bsnprintf(o, sizeof(o), "%s%s",
		    strchr(v, ';') != NULL ? "" : "rfc822;", v);
		r |= wrap(b, "Original-Recipient: ", " ", o);
	}
	clean(v, DSNGEN_FIELD_MAX + 1, rc->rcpt, false);
	r |= wrap(b, "Final-Recipient: rfc822; ", " ", v);
	r |= buf_printf(b, "Action: %s\r\nStatus: %s\r\n", rc->action,
	    rc->status);
	clean(v, DSNGEN_FIELD_MAX + 1, rc->remote_mta, false);
	if (v[0] != '\0')
		r |= wrap(b, "Remote-MTA: dns; ", " ", v);
	clean(v, sizeof(v), rc->diag, false);
	if (v[0] != '\0')
		r |= wrap(b, diag_type(v), " ", v);
	return r | buf_add(b, "\r\n", 2);
}

/* ds_part - the per-message fields (RFC 3464 2.2) and every group */
static int
ds_part(struct buf *b, const struct dsngen *g)
{
	char		 v[DSNGEN_FIELD_MAX + 1], date[64];
	unsigned	 i;
	int		 r = 0;

	clean(v, sizeof(v), g->envid, true);
	if (v[0] != '\0')
		r |= wrap(b, "Original-Envelope-Id: ", " ", v);
	r |= buf_printf(b, "Reporting-MTA: dns; %s\r\n", g->reporting_mta);
	if (g->arrival != 0) {
		rfc5322_date(g->arrival, date, sizeof(date));
		r |= buf_printf(b, "Arrival-Date: %s\r\n", date);
	}
	if (g->queue_id != NULL && g->queue_id[0] != '\0')
		r |= buf_printf(b, "X-Tern-Queue-ID: %s\r\n", g->queue_id);
	r |= buf_add(b, "\r\n", 2);
	for (i = 0; i < g->nrcpt; i++)
		r |= ds_rcpt(b, &g->rcpts[i]);
	return r;
}

/* --- putting it together -------------------------------------------- */

static bool
occurs(const struct buf *b, const char *s)
{
	return b->len > 0 && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* boundary - a random boundary that no part contains (RFC 2046 5.1.1) */
static int
boundary(const struct dsngen *g, const struct buf *const parts[3],
    char *bnd, size_t bsz, const char **why)
{
	int	 t, i;

	for (t = 0; t < DSNGEN_BOUNDARY_TRIES; t++) {
		if (hex_random(g, DSNGEN_BOUNDARY_PREFIX,
		    DSNGEN_BOUNDARY_RANDOM, bnd, bsz) == -1) {
			*why = "no random bytes for the MIME boundary";
			return -1;
		}
		for (i = 0; i < 3; i++)
			if (occurs(parts[i], bnd))
				break;
		if (i == 3)
			return 0;
	}
	*why = "every MIME boundary drawn occurs in the report";
	return -1;
}

static const char *
subject(enum outcome oc)
{
	if (oc == OC_FAILED)
		return "Undelivered Mail Returned to Sender";
	if (oc == OC_DELAYED)
		return "Delayed Mail (still being retried)";
	return "Successful Mail Delivery Report";
}

/* top - the header block of the report and the MIME preamble */
static int
top(struct buf *b, const struct dsngen *g, enum outcome oc,
    const char *bnd, const char *msgid, bool eightbit)
{
	char	 date[64];
	int	 r;

	rfc5322_date(g->now, date, sizeof(date));
	r = buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n"
	    "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;"
	    "\r\n\tboundary=\"%s\"\r\n", g->reporting_mta, g->to,
	    subject(oc), date, msgid, bnd);
	if (eightbit)
		r |= buf_addstr(b, "Content-Transfer-Encoding: 8bit\r\n");
	return r | buf_addstr(b, "\r\nThis is a MIME-encapsulated message.\r\n");
}

/* part - a delimiter, the part's header, its body */
static int
part(struct buf *b, const char *bnd, const char *hdr, const struct buf *body)
{
	return buf_printf(b, "\r\n--%s\r\n%s\r\n", bnd, hdr) |
	    buf_add(b, body->data != NULL ? body->data : "", body->len);
}

static int
assemble(struct buf *out, const struct dsngen *g, enum outcome oc,
    const struct buf *const parts[3], const struct ret *rt,
    const char *bnd, const char *msgid)
{
	int	 r;

	r = top(out, g, oc, bnd, msgid, rt->eightbit);
	r |= part(out, bnd, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n", parts[0]);
	r |= part(out, bnd, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n", parts[1]);
	if (rt->kind == RET_FULL)
		r |= part(out, bnd, rt->eightbit ?
		    "Content-Description: Returned message\r\n"
		    "Content-Type: message/rfc822\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n" :
		    "Content-Description: Returned message\r\n"
		    "Content-Type: message/rfc822\r\n", parts[2]);
	else if (rt->kind == RET_HEADERS)
		r |= part(out, bnd, rt->eightbit ?
		    "Content-Description: Returned message headers\r\n"
		    "Content-Type: text/rfc822-headers\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n" :
		    "Content-Description: Returned message headers\r\n"
		    "Content-Type: text/rfc822-headers\r\n", parts[2]);
	return r | buf_printf(out, "\r\n--%s--\r\n", bnd);
}

/* check - what must hold of the caller's values */
static int
check(const struct dsngen *g, const char **why)
{
	const struct dsngen_rcpt	*rc;
	unsigned			 i;

	if (!name_ok(g->reporting_mta))
		*why = "bad reporting MTA name";
	else if (g->queue_id != NULL && g->queue_id[0] != '\0' &&
	    !name_ok(g->queue_id))
		*why = "bad queue id";
	else if (!sender_ok(g->to))
		*why = "no sender to report to, or a bad one";
	else if (g->nrcpt == 0 || g->rcpts == NULL)
		*why = "no recipient to report on";
	else if (g->len > 0 && (g->fd < 0 || g->len > (uint64_t)INT64_MAX ||
	    g->off > (uint64_t)INT64_MAX - g->len))
		*why = "bad span of the original message";
	else
		*why = NULL;
	for (i = 0; *why == NULL && i < g->nrcpt; i++) {
		rc = &g->rcpts[i];
		if (rc->rcpt == NULL || rc->rcpt[0] == '\0')
			*why = "a recipient without an address";
		else if (!action_ok(rc->action))
			*why = "a recipient with a bad action";
		else if (!status_ok(rc->status))
			*why = "a recipient with a bad status code";
	}
	return *why == NULL ? 0 : -1;
}

/* msg_id - "<queue_id.random@reporting_mta>" */
static int
msg_id(const struct dsngen *g, char *d, size_t dsz, const char **why)
{
	char	 hx[2 * DSNGEN_MSGID_RANDOM + 1];
	bool	 q = g->queue_id != NULL && g->queue_id[0] != '\0';

	if (hex_random(g, "", DSNGEN_MSGID_RANDOM, hx, sizeof(hx)) == -1) {
		*why = "no random bytes for the Message-ID";
		return -1;
	}
	if (!bsnprintf(d, dsz, "<%s%s%s@%s>", q ? g->queue_id : "",
	    q ? "." : "", hx, g->reporting_mta)) {
		*why = "Message-ID too long";
		return -1;
	}
	return 0;
}

int
dsngen_build(const struct dsngen *g, struct buf *out, const char **why)
{
	struct buf	 text, ds;
	struct ret	 rt;
	const struct buf *parts[3] = { &text, &ds, &rt.body };
	char		 bnd[BOUNDARY_LEN + 1], msgid[2 * NAME_MAX_ + 64];
	enum outcome	 oc;
	int		 r = -1;

	buf_reset(out);
	if (check(g, why) == -1)
		return -1;
	oc = outcome(g);
	buf_init(&text, out->max);
	buf_init(&ds, out->max);
	memset(&rt, 0, sizeof(rt));
	buf_init(&rt.body, out->max);
	if (returned(g, &rt, why) == -1)
		goto done;
	if (text_part(&text, g, oc, &rt) == -1 || ds_part(&ds, g) == -1) {
		*why = "the report is larger than its buffer";
		goto done;
	}
	if (msg_id(g, msgid, sizeof(msgid), why) == -1 ||
	    boundary(g, parts, bnd, sizeof(bnd), why) == -1)
		goto done;
	if (assemble(out, g, oc, parts, &rt, bnd, msgid) == -1) {
		*why = "the report is larger than its buffer";
		goto done;
	}
	r = 0;
done:
	buf_free(&text);
	buf_free(&ds);
	buf_free(&rt.body);
	if (r == -1)
		buf_reset(out);
	return r;
}
