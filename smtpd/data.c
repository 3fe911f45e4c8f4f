/*
 * data.c - DATA: stream the message into the spool fd queued gave us.
 *
 * Purpose:      prepend our Received header (with ESMTPS/ESMTPA/ESMTPSA
 *               per RFC 3848 and the TLS cipher), dot-unstuff, end only
 *               at <CR><LF>.<CR><LF>, strip X-Virtual-MTA and X-Job (and
 *               honour them when the source allows; for an authenticated
 *               user, only the user's virtual-mtas), count Received
 *               headers, enforce the size limit while streaming, then ask
 *               queued to commit and reply 250 only once it says the
 *               message is durable.
 * Used by:      smtpd.
 * Trust:        hostile.  SMTP smuggling: a bare LF or bare CR anywhere
 *               in the content fails the transaction (550 5.6.0), and
 *               "<LF>.<LF>" or "<CR>.<CR>" never ends the data, so no
 *               payload can carry a second message past us.  Errors are
 *               sticky: once set, the rest of the data is read and
 *               dropped, and the error is the reply at the final dot.
 * Spool access: the one body fd; never a path.
 * See:          smtpd(8).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "smtpd.h"

static void
tx_error(struct session *s, enum tx_error e)
{
	if (s->tx.error == TXE_NONE)
		s->tx.error = e;
}

/* flush_out - write buffered body bytes to the spool fd */
static void
flush_out(struct session *s, bool all)
{
	struct tx *t = &s->tx;

	while (t->fd != -1 && evbuffer_get_length(t->out) > 0 &&
	    (all || evbuffer_get_length(t->out) >= SMTP_WRITE_CHUNK)) {
		if (evbuffer_write(t->out, t->fd) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: body write", t->id);
			tx_error(s, TXE_IO);
			evbuffer_drain(t->out, evbuffer_get_length(t->out));
		}
	}
}

/* body_write - queue bytes for the spool fd (size already counted) */
static void
body_write(struct session *s, const char *p, size_t n, bool eol)
{
	struct tx *t = &s->tx;

	if (t->error != TXE_NONE)
		return;
	evbuffer_add(t->out, p, n);
	if (eol)
		evbuffer_add(t->out, "\r\n", 2);
	flush_out(s, false);
}

/* body_add - count a line against the size limit, then write it */
static void
body_add(struct session *s, const char *p, size_t n, bool eol)
{
	struct tx *t = &s->tx;

	t->size += n + (eol ? 2 : 0);
	if (t->size > s->pol.max_message_size)
		tx_error(s, TXE_SIZE);
	body_write(s, p, n, eol);
}

/* header_value - the unfolded, trimmed value of the pending header */
static void
header_value(struct tx *t, char *dst, size_t dsz)
{
	const char	*colon = memchr(t->hdr.data, ':', t->hdr.len);
	size_t		 o = 0, i;

	dst[0] = '\0';
	if (colon == NULL)
		return;
	for (i = (size_t)(colon - t->hdr.data) + 1; i < t->hdr.len; i++) {
		char c = t->hdr.data[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\t')
			c = ' ';
		if (o == 0 && c == ' ')
			continue;
		if (o + 1 >= dsz) {
			dst[0] = '\0';		/* overlong: ignore it */
			return;
		}
		dst[o++] = c;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

static bool
job_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s) && *s != ' ')
			return false;
	return true;
}

/*
 * xvmta - an X-Virtual-MTA value.  An authenticated user's header is
 * always looked at: a name outside the user's virtual-mtas fails the
 * transaction at the final dot (550 5.7.1).  Otherwise it counts when
 * the source allows it, and an unknown name leaves the default in force.
 */
static void
xvmta(struct session *s, const char *v)
{
	struct tx *t = &s->tx;

	if (s->authed && !auth_vmta_allowed(s, v)) {
		if (t->error == TXE_NONE)
			log_info("%016llx auth user=%s: X-Virtual-MTA \"%s\" "
			    "not allowed, client=%s", (unsigned long long)s->id,
			    s->auth_user, v, s->ip);
		tx_error(s, TXE_VMTA);
		return;
	}
	if ((s->pol.xvmta || s->authed) && config_name_ok(v) &&
	    config_vmta_or_pool(smtpd.d.cfg, v))
		tern_strlcpy(t->vmta, v, sizeof(t->vmta));
}

/* header_flush - emit the pending header, or consume ours */
static void
header_flush(struct session *s)
{
	struct tx	*t = &s->tx;
	char		 v[SPOOL_JOB_MAX + 1];

	if (t->hdr.len == 0)
		return;
	switch (t->hkind) {
	case HK_XVMTA:
		header_value(t, v, SPOOL_NAME_MAX + 1);
		xvmta(s, v);
		break;
	case HK_XJOB:
		header_value(t, v, sizeof(v));
		if (s->pol.xjob && job_ok(v))
			tern_strlcpy(t->job, v, sizeof(t->job));
		break;
	case HK_NORMAL:
		/* The pending buffer keeps CRLFs between folded lines. */
		body_write(s, t->hdr.data, t->hdr.len, true);
		break;
	}
	buf_reset(&t->hdr);
	t->hkind = HK_NORMAL;
}

static bool
hdr_is(const char *p, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n > l && strncasecmp(p, name, l) == 0 &&
	    (p[l] == ':' || p[l] == ' ' || p[l] == '\t');
}

/* header_line - one line of the header section */
static void
header_line(struct session *s, const char *p, size_t n)
{
	struct tx *t = &s->tx;

	if (n == 0) {
		header_flush(s);
		t->in_headers = false;
		body_add(s, "", 0, true);
		return;
	}
	if ((p[0] == ' ' || p[0] == '\t') && (t->hdr.len > 0 || t->giant)) {
		t->size += n + 2;
		if (t->size > s->pol.max_message_size)
			tx_error(s, TXE_SIZE);
		if (t->giant) {
			/* The rest of a giant header goes straight through. */
			body_write(s, p, n, true);
			return;
		}
		if (t->hdr.len + 2 + n > t->hdr.max) {
			/*
			 * A giant folded header: what is held goes out with
			 * its line end, then this line and the next
			 * continuations as they are - still one header, never
			 * a blank line that would end the header section.
			 */
			if (t->hkind != HK_NORMAL) {
				tx_error(s, TXE_LINE);
				return;
			}
			header_flush(s);
			body_write(s, p, n, true);
			t->giant = true;
			return;
		}
		buf_add(&t->hdr, "\r\n", 2);
		buf_add(&t->hdr, p, n);
		return;
	}
	t->giant = false;
	header_flush(s);
	if (memchr(p, ':', n) == NULL) {
		/* Not a header: the body started without a blank line. */
		t->in_headers = false;
		body_add(s, p, n, true);
		return;
	}
	if (hdr_is(p, n, "Received") &&
	    ++t->received > smtpd.d.cfg->max_received_headers)
		tx_error(s, TXE_HOPS);
	if (hdr_is(p, n, "X-Virtual-MTA"))
		t->hkind = HK_XVMTA;
	else if (hdr_is(p, n, "X-Job"))
		t->hkind = HK_XJOB;
	t->size += n + 2;
	if (t->size > s->pol.max_message_size)
		tx_error(s, TXE_SIZE);
	if (buf_add(&t->hdr, p, n) == -1) {
		t->hkind = HK_NORMAL;
		tx_error(s, TXE_LINE);
	}
}

static const char *
error_reply(enum tx_error e)
{
	switch (e) {
	case TXE_SIZE:
		return "552 5.3.4 Message size exceeds fixed limit";
	case TXE_BARE_NL:
		return "550 5.6.0 Bare CR or LF in message content not "
		    "allowed (SMTP smuggling protection)";
	case TXE_LINE:
		return "552 5.6.0 Message line or header too long";
	case TXE_HOPS:
		return "554 5.4.6 Too many hops (Received headers): mail loop?";
	case TXE_IO:
		return "451 4.3.0 Local error writing the message";
	case TXE_QUEUE:
		return "451 4.3.0 Queue unavailable, try again later";
	case TXE_VMTA:
		return "550 5.7.1 X-Virtual-MTA not allowed for this user";
	default:
		return "451 4.3.0 Local error";
	}
}

static void
data_end(struct session *s)
{
	struct tx	*t = &s->tx;
	struct ipc_out	 o;

	header_flush(s);
	flush_out(s, true);
	if (t->error == TXE_NONE && (t->fd == -1 || smtpd.queued == NULL))
		t->error = TXE_QUEUE;
	if (t->error != TXE_NONE) {
		session_reply(s, "%s", error_reply(t->error));
		tx_reset(s);
		s->state = ST_MAIL;
		return;
	}
	/* queued fsyncs the body itself: it does not trust us to. */
	close(t->fd);
	t->fd = -1;
	ipc_out_begin(&o, IPC_SMTPD_MSG_COMMIT, session_reqid(s));
	ipc_put_str(&o, t->id);
	ipc_put_str(&o, t->vmta[0] ? t->vmta : s->authed ?
	    auth_default_vmta(s) : s->defvmta);
	ipc_put_str(&o, t->job);
	ipc_put_u64(&o, t->size);
	ipc_send(smtpd.queued, &o, -1);
	s->waiting = true;
}

/* data_line - one line of DATA content, without its line ending */
int
data_line(struct session *s, const char *p, size_t n, bool crlf)
{
	struct tx *t = &s->tx;

	if (!crlf || memchr(p, '\r', n) != NULL) {
		/* Bare LF ends this line; bare CR inside it: both refused. */
		tx_error(s, TXE_BARE_NL);
		if (n == 1 && p[0] == '.')
			return 0;	/* "<LF>.<LF>" is not the end */
	} else if (n == 1 && p[0] == '.') {
		data_end(s);
		return 0;
	}
	if (n > 0 && p[0] == '.') {
		p++;
		n--;
	}
	if (t->in_headers)
		header_line(s, p, n);
	else
		body_add(s, p, n, true);
	return 0;
}

/* with_protocol - RFC 3848: ESMTP, plus S for TLS and A for AUTH */
static const char *
with_protocol(const struct session *s)
{
	static const char *const p[] = { "ESMTP", "ESMTPA", "ESMTPS",
	    "ESMTPSA" };

	if (!s->esmtp)
		return "SMTP";
	return p[(s->tls_up ? 2 : 0) + (s->authed ? 1 : 0)];
}

/* data_opened - queued created the file: write Received, send 354 */
void
data_opened(struct session *s, const char *id, int fd)
{
	struct tx	*t = &s->tx;
	char		 date[64];
	time_t		 now = time(NULL);
	struct tm	 tm;

	s->waiting = false;
	tern_strlcpy(t->id, id, sizeof(t->id));
	t->fd = fd;
	t->out = evbuffer_new();
	t->in_headers = true;
	t->giant = false;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	evbuffer_add_printf(t->out, "Received: from %s ([%s])\r\n", s->helo,
	    s->ip);
	tls_received_clause(s, t->out);
	evbuffer_add_printf(t->out, "\tby %s (Tern) with %s id %s;\r\n"
	    "\t%s\r\n", smtpd.d.cfg->host_name, with_protocol(s), id, date);
	s->state = ST_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	session_resume(s);
}

/* data_committed - queued's answer to COMMIT */
void
data_committed(struct session *s, bool ok, const char *text)
{
	char	 id[SPOOL_ID_LEN + 1];

	s->waiting = false;
	tern_strlcpy(id, s->tx.id, sizeof(id));
	s->tx.id[0] = '\0';		/* nothing to abort any more */
	if (ok) {
		log_info("%s: from=<%s>, nrcpt=%u, size=%llu, client=[%s]",
		    id, s->tx.sender, s->tx.nrcpt,
		    (unsigned long long)s->tx.size, s->ip);
		session_reply(s, "250 2.0.0 %s queued", id);
	} else
		session_reply(s, "%s", text[0] == '4' || text[0] == '5' ?
		    text : "451 4.3.0 Queue error");
	tx_reset(s);
	s->state = ST_MAIL;
	session_resume(s);
}
