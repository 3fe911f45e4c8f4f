/*
 * session.c - the SMTP server state machine, one command handler each.
 *
 * Purpose:      greet, read lines (CRLF or bare LF, at most
 *               SMTP_CMD_LINE_MAX), dispatch each command through a table,
 *               enforce the order of commands and the limits of the
 *               client's source block and listener (require-starttls,
 *               require-auth, relaying), hold input while queued is
 *               asked something, while a password is hashed or a 535 is
 *               delayed, and while STARTTLS switches the connection
 *               (so pipelined commands stay in order, and none sent in
 *               clear survives into TLS).
 * Used by:      smtpd.
 * Trust:        every byte is hostile.  Lines are bounded; an overlong
 *               line is answered once and skipped; a client that keeps
 *               erring is disconnected after SMTP_MAX_ERRORS.  AUTH
 *               response lines go to auth.c, never to the command table.
 * Spool access: none.
 * See:          smtpd(8).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>

#include "log.h"
#include "smtp_cmd.h"
#include "smtpd.h"

static void	session_read(struct bufferevent *, void *);
static void	session_write(struct bufferevent *, void *);
static void	session_event(struct bufferevent *, short, void *);

/*
 * session_reply - one reply line into s->out (multi-line replies build
 * their own).  Replies are written by session_flush once the input at
 * hand is processed: the replies to a pipelined group go out in one
 * write, and the socket's write event is only armed when the kernel
 * cannot take everything at once.
 */
void
session_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	evbuffer_add(s->out, "\r\n", 2);
}

/* session_flush - write pending replies straight to the socket */
void
session_flush(struct session *s)
{
	struct evbuffer	*bout = bufferevent_get_output(s->bev);

	if (evbuffer_get_length(s->out) == 0)
		return;
	/* In TLS, everything goes through the TLS bufferevent. */
	if (!s->tls && evbuffer_get_length(bout) == 0)
		while (evbuffer_get_length(s->out) > 0 &&
		    evbuffer_write(s->out, s->fd) > 0)
			;
	if (evbuffer_get_length(s->out) > 0)
		bufferevent_write_buffer(s->bev, s->out);
}

static void
session_free(struct session *s)
{
	SSL *ssl;

	tx_reset(s);
	auth_forget(s);
	smtpd_session_gone(s);
	/* An orderly end in TLS: say close_notify, best effort. */
	if (s->tls_up && s->closing &&
	    (ssl = bufferevent_openssl_get_ssl(s->bev)) != NULL)
		SSL_shutdown(ssl);
	bufferevent_free(s->bev);	/* in TLS, closes the fd too */
	if (!s->tls)
		close(s->fd);
	evbuffer_free(s->out);
	if (s->ev_close != NULL)
		event_free(s->ev_close);
	free(s);
}

static void
close_cb(evutil_socket_t fd, short what, void *arg)
{
	session_free(arg);
}

/*
 * session_close - close once pending replies are written.  Never frees
 * at once: callers up the stack may still hold the session.
 */
void
session_close(struct session *s, const char *reason)
{
	if (s->closing)
		return;
	log_debug("%016llx smtp disconnected reason=%s",
	    (unsigned long long)s->id, reason);
	s->closing = true;
	s->state = ST_QUIT;
	bufferevent_disable(s->bev, EV_READ);
	session_flush(s);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		s->ev_close = evtimer_new(smtpd.d.base, close_cb, s);
		event_active(s->ev_close, EV_TIMEOUT, 0);
	}
}

static void
timeouts(struct session *s)
{
	uint64_t secs = s->state == ST_DATA ? smtpd.d.cfg->smtp_data_timeout :
	    smtpd.d.cfg->smtp_idle_timeout;
	struct timeval tv = { (time_t)secs, 0 };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static unsigned
count_from_ip(const char *ip)
{
	struct session *s;
	unsigned	n = 0;

	TAILQ_FOREACH(s, &smtpd.sessions, entry)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

/* session_set_bev - s talks through bev from now on (new, or TLS) */
void
session_set_bev(struct session *s, struct bufferevent *bev)
{
	s->bev = bev;
	bufferevent_setcb(bev, session_read, session_write, session_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, SMTP_INPUT_HIWAT);
	timeouts(s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void
session_new(int fd, struct sockaddr *sa, int socklen, unsigned lis)
{
	struct session	*s;
	struct bufferevent *bev;
	int		 one = 1;

	s = xcalloc(1, sizeof(*s));
	s->id = ++smtpd.next_id;
	s->fd = fd;
	s->lis = lis < smtpd.nlis ? lis : 0;
	s->lis_require_tls = smtpd.lis[s->lis].require_starttls;
	s->lis_auth_plain = smtpd.lis[s->lis].auth_without_tls;
	memcpy(&s->ss, sa, (size_t)socklen < sizeof(s->ss) ?
	    (size_t)socklen : sizeof(s->ss));
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    s->ip, sizeof(s->ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    s->ip, sizeof(s->ip));
	else
		tern_strlcpy(s->ip, "unknown", sizeof(s->ip));
	config_source_policy(smtpd.d.cfg, sa, &s->pol);
	/* Keep copies: a reload frees the configuration the policy was in. */
	tern_strlcpy(s->defvmta, s->pol.default_virtual_mta ?
	    s->pol.default_virtual_mta : "", sizeof(s->defvmta));
	s->pol.default_virtual_mta = NULL;
	s->pol.matched = NULL;
	s->tx.fd = -1;
	s->out = evbuffer_new();
	buf_init(&s->tx.hdr, SMTP_HDR_MAX);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Not BEV_OPT_CLOSE_ON_FREE: STARTTLS replaces it on the same fd. */
	if ((bev = bufferevent_socket_new(smtpd.d.base, fd, 0)) == NULL) {
		close(fd);
		evbuffer_free(s->out);
		free(s);
		return;
	}
	TAILQ_INSERT_TAIL(&smtpd.sessions, s, entry);
	smtpd.nsessions++;
	s->slot = smtpd_slot_alloc(s);
	session_set_bev(s, bev);
	log_debug("%016llx smtp connected address=%s", (unsigned long long)s->id,
	    s->ip);
	if (!s->pol.service) {
		session_reply(s, "554 5.7.1 Service not available to %s",
		    s->ip);
		session_close(s, "source refused");
		return;
	}
	if (smtpd.nsessions > smtpd.d.cfg->total_max_smtp_in ||
	    count_from_ip(s->ip) > s->pol.max_smtp_in) {
		session_reply(s, "421 4.7.0 %s Too many connections, try "
		    "again later", smtpd.d.cfg->host_name);
		session_close(s, "too many connections");
		return;
	}
	session_reply(s, "220 %s ESMTP Tern", smtpd.d.cfg->host_name);
	session_flush(s);
}

/* tx_reset - forget the transaction; tell queued to drop a tmp file */
void
tx_reset(struct session *s)
{
	struct tx	*t = &s->tx;
	unsigned	 i;

	if (t->fd != -1) {
		close(t->fd);
		t->fd = -1;
		if (smtpd.queued != NULL && t->id[0] != '\0') {
			struct ipc_out o;

			ipc_out_begin(&o, IPC_SMTPD_MSG_ABORT,
			    session_reqid(s));
			ipc_put_str(&o, t->id);
			ipc_send(smtpd.queued, &o, -1);
		}
	}
	for (i = 0; i < t->nrcpt; i++) {
		free(t->rcpts[i]);
		free(t->orcpt[i]);
	}
	free(t->rcpts);
	free(t->orcpt);
	free(t->notify);
	if (t->out != NULL)
		evbuffer_free(t->out);
	buf_free(&t->hdr);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	buf_init(&t->hdr, SMTP_HDR_MAX);
	if (s->state == ST_RCPT || s->state == ST_DATA)
		s->state = ST_MAIL;
}

/* session_queue_lost - queued went away: fail what it was holding */
void
session_queue_lost(struct session *s)
{
	if (s->waiting) {
		s->waiting = false;
		if (s->tx.fd != -1) {
			close(s->tx.fd);
			s->tx.fd = -1;
		}
		s->tx.id[0] = '\0';
		tx_reset(s);
		s->state = ST_MAIL;
		session_reply(s, "451 4.3.0 Queue unavailable, try again "
		    "later");
		session_resume(s);
	} else if (s->tx.fd != -1) {
		/* Mid-DATA: keep reading, answer 451 at the final dot. */
		close(s->tx.fd);
		s->tx.fd = -1;
		s->tx.id[0] = '\0';
		s->tx.error = TXE_QUEUE;
	}
}

/* --- command handlers -------------------------------------------------- */

static bool
helo_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static void
cmd_helo(struct session *s, const char *args, bool esmtp)
{
	struct evbuffer *out = s->out;

	if (!helo_ok(args)) {
		session_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		s->nerrors++;
		return;
	}
	tx_reset(s);
	tern_strlcpy(s->helo, args, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = ST_MAIL;
	if (!esmtp) {
		session_reply(s, "250 %s", smtpd.d.cfg->host_name);
		return;
	}
	evbuffer_add_printf(out, "250-%s Hello %s [%s]\r\n",
	    smtpd.d.cfg->host_name, s->helo, s->ip);
	evbuffer_add_printf(out, "250-PIPELINING\r\n");
	if (s->pol.max_message_size != UNITS_SIZE_UNLIMITED)
		evbuffer_add_printf(out, "250-SIZE %llu\r\n",
		    (unsigned long long)s->pol.max_message_size);
	evbuffer_add_printf(out, "250-8BITMIME\r\n");
	evbuffer_add_printf(out, "250-DSN\r\n");
	if (tls_offered(s))
		evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (auth_offered(s))
		evbuffer_add_printf(out, "250-AUTH PLAIN LOGIN\r\n");
	evbuffer_add_printf(out, "250 ENHANCEDSTATUSCODES\r\n");
}

static void
cmd_ehlo(struct session *s, const char *args)
{
	cmd_helo(s, args, true);
}

static void
cmd_helo_plain(struct session *s, const char *args)
{
	cmd_helo(s, args, false);
}

static void
cmd_mail(struct session *s, const char *args)
{
	struct smtp_mail_args	 m;
	const char		*reply;

	if (s->state == ST_HELO) {
		session_reply(s, "503 5.5.1 Send HELO/EHLO first");
		return;
	}
	if (s->state != ST_MAIL) {
		session_reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (smtpd.d.stopping) {
		session_reply(s, "421 4.3.2 Service shutting down");
		session_close(s, "shutdown");
		return;
	}
	if (session_require_tls(s) && !s->tls) {
		session_reply(s, "530 5.7.0 Must issue a STARTTLS command "
		    "first");
		return;
	}
	if (s->pol.require_auth && !s->authed) {
		session_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (smtp_parse_mail(args, &m, &reply) == -1) {
		session_reply(s, "%s", reply);
		s->nerrors++;
		return;
	}
	if (!s->esmtp && (m.size || m.body != BODY_7BIT ||
	    m.ret != DSN_RET_NONE || m.envid[0] != '\0')) {
		session_reply(s, "555 5.5.4 ESMTP parameters need EHLO");
		return;
	}
	if (m.size > s->pol.max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed "
		    "limit");
		return;
	}
	tx_reset(s);
	mailaddr_format(&m.addr, s->tx.sender, sizeof(s->tx.sender));
	s->tx.declared_size = m.size;
	s->tx.ret = (uint8_t)m.ret;
	tern_strlcpy(s->tx.envid, m.envid, sizeof(s->tx.envid));
	s->state = ST_RCPT;
	session_reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct session *s, const char *args)
{
	struct smtp_rcpt_args	 r;
	const char		*reply;
	char			 addr[MAILADDR_MAX + 1];
	struct supp_entry	 se;

	if (s->state != ST_RCPT) {
		session_reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (smtp_parse_rcpt(args, &r, &reply) == -1) {
		session_reply(s, "%s", reply);
		s->nerrors++;
		return;
	}
	mailaddr_format(&r.addr, addr, sizeof(addr));
	/*
	 * An authenticated client may always relay; anyone may send to
	 * the bounce and feedback-loop processors (bounces come from the
	 * whole Internet).
	 */
	if (!s->pol.relay && !s->authed &&
	    config_processor(smtpd.d.cfg, addr) == PROC_NONE) {
		session_reply(s, "550 5.7.1 <%s@%s>: Relay access denied",
		    r.addr.local, r.addr.domain);
		s->nerrors++;
		return;
	}
	if (s->tx.nrcpt >= s->pol.max_rcpt) {
		session_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (smtpd_suppressed(addr, &se)) {
		session_reply(s, "550 5.7.1 <%s>: Recipient is on the "
		    "suppression list", addr);
		log_info("%016llx smtp rcpt=<%s> refused: on the suppression "
		    "list", (unsigned long long)s->id, addr);
		/* queued accounts for it (a b row, an event). */
		if (smtpd.queued != NULL) {
			struct ipc_out o;

			ipc_out_begin(&o, IPC_SMTPD_SUPPRESSED, 0);
			ipc_put_str(&o, s->tx.sender);
			ipc_put_str(&o, addr);
			ipc_put_str(&o, s->ip);
			ipc_put_str(&o, s->helo);
			ipc_put_str(&o, se.reason);
			ipc_send(smtpd.queued, &o, -1);
		}
		return;
	}
	if (!s->esmtp && (r.notify != 0 || r.orcpt[0] != '\0')) {
		session_reply(s, "555 5.5.4 ESMTP parameters need EHLO");
		return;
	}
	if (s->tx.nrcpt % 16 == 0) {
		s->tx.rcpts = xreallocarray(s->tx.rcpts, s->tx.nrcpt + 16,
		    sizeof(char *));
		s->tx.orcpt = xreallocarray(s->tx.orcpt, s->tx.nrcpt + 16,
		    sizeof(char *));
		s->tx.notify = xreallocarray(s->tx.notify, s->tx.nrcpt + 16,
		    sizeof(uint8_t));
	}
	s->tx.orcpt[s->tx.nrcpt] = r.orcpt[0] ? xstrdup(r.orcpt) : NULL;
	s->tx.notify[s->tx.nrcpt] = (uint8_t)r.notify;
	s->tx.rcpts[s->tx.nrcpt++] = xstrdup(addr);
	session_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s, const char *args)
{
	struct ipc_out	 o;
	uint64_t	 reqid = session_reqid(s);
	unsigned	 i;

	if (*args != '\0') {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state != ST_RCPT) {
		session_reply(s, "503 5.5.1 Need MAIL command");
		return;
	}
	if (s->tx.nrcpt == 0) {
		session_reply(s, "554 5.5.1 No valid recipients");
		return;
	}
	if (smtpd.queued == NULL) {
		session_reply(s, "451 4.3.0 Queue unavailable, try again "
		    "later");
		return;
	}
	/* Envelope to queued; the reply (an fd) resumes the session. */
	ipc_out_begin(&o, IPC_SMTPD_MSG_NEW, reqid);
	ipc_put_str(&o, s->tx.sender);
	ipc_put_str(&o, s->ip);
	ipc_put_str(&o, s->helo);
	ipc_put_u8(&o, s->tx.ret);
	ipc_put_str(&o, s->tx.envid);
	ipc_send(smtpd.queued, &o, -1);
	for (i = 0; i < s->tx.nrcpt && smtpd.queued != NULL; i++) {
		ipc_out_begin(&o, IPC_SMTPD_MSG_RCPT, reqid);
		ipc_put_str(&o, s->tx.rcpts[i]);
		ipc_put_u8(&o, s->tx.notify[i]);
		ipc_put_str(&o, s->tx.orcpt[i] ? s->tx.orcpt[i] : "");
		ipc_send(smtpd.queued, &o, -1);
	}
	if (smtpd.queued == NULL) {
		session_reply(s, "451 4.3.0 Queue unavailable, try again "
		    "later");
		return;
	}
	ipc_out_begin(&o, IPC_SMTPD_MSG_OPEN, reqid);
	ipc_send(smtpd.queued, &o, -1);
	s->waiting = true;
}

/* session_require_tls - the listener or the source wants TLS first */
bool
session_require_tls(const struct session *s)
{
	return s->lis_require_tls || s->pol.require_starttls;
}

/*
 * cmd_starttls - RFC 3207.  The switch itself happens once the 220 is
 * written and the loop reading commands has stopped (tls_start): any
 * input already buffered behind this line is then discarded.
 */
static void
cmd_starttls(struct session *s, const char *args)
{
	if (*args != '\0') {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		s->nerrors++;
		return;
	}
	if (s->tls) {
		session_reply(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!tls_offered(s)) {
		session_reply(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (s->state == ST_RCPT) {
		session_reply(s, "503 5.5.1 MAIL transaction in progress");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->tls_starting = true;
}

static void
cmd_rset(struct session *s, const char *args)
{
	tx_reset(s);
	session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct session *s, const char *args)
{
	session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s, const char *args)
{
	session_reply(s, "221 2.0.0 Bye");
	session_close(s, "quit");
}

static void
cmd_vrfy(struct session *s, const char *args)
{
	session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
	    "message");
}

static void
cmd_not_impl(struct session *s, const char *args)
{
	session_reply(s, "502 5.5.1 Command not implemented");
}

static void
cmd_help(struct session *s, const char *args)
{
	session_reply(s, "214 2.0.0 See RFC 5321");
}

static const struct {
	enum smtp_verb	 verb;
	void		(*fn)(struct session *, const char *);
} commands[] = {
	{ SMTP_EHLO, cmd_ehlo }, { SMTP_HELO, cmd_helo_plain },
	{ SMTP_MAIL, cmd_mail }, { SMTP_RCPT, cmd_rcpt },
	{ SMTP_DATA, cmd_data }, { SMTP_RSET, cmd_rset },
	{ SMTP_NOOP, cmd_noop }, { SMTP_QUIT, cmd_quit },
	{ SMTP_VRFY, cmd_vrfy }, { SMTP_EXPN, cmd_not_impl },
	{ SMTP_HELP, cmd_help }, { SMTP_STARTTLS, cmd_starttls },
	{ SMTP_AUTH, cmd_auth }, { SMTP_BDAT, cmd_not_impl },
};

static void
command(struct session *s, char *line)
{
	struct smtp_cmd	 c;
	unsigned	 i;

	if (smtp_cmd_parse(line, &c) == -1) {
		session_reply(s, "500 5.5.2 Error: command not recognized");
		s->nerrors++;
		return;
	}
	for (i = 0; i < nitems(commands); i++)
		if (commands[i].verb == c.verb) {
			commands[i].fn(s, c.args);
			return;
		}
	session_reply(s, "502 5.5.1 Command not implemented");
}

/* --- input ------------------------------------------------------------- */

/* one_line - take one line from input; 0 none yet, 1 handled */
static int
one_line(struct session *s, struct evbuffer *in)
{
	struct evbuffer_ptr	 eol;
	size_t			 avail = evbuffer_get_length(in), n, max;
	char			*p;
	bool			 crlf;

	max = s->state == ST_DATA ? SMTP_DATA_LINE_MAX : SMTP_CMD_LINE_MAX;
	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		if (avail <= max)
			return 0;
		/* Overlong: answer once (commands) or flag (data), skip. */
		if (s->state == ST_DATA)
			s->tx.error = TXE_LINE;
		else if (!s->skip_line) {
			session_reply(s, "500 5.5.2 Line too long");
			s->nerrors++;
		}
		s->skip_line = true;
		evbuffer_drain(in, avail);
		return 1;
	}
	n = (size_t)eol.pos + 1;
	if (s->skip_line || n > max + 2) {
		if (!s->skip_line && s->state != ST_DATA) {
			session_reply(s, "500 5.5.2 Line too long");
			s->nerrors++;
		} else if (s->state == ST_DATA)
			s->tx.error = TXE_LINE;
		s->skip_line = false;
		evbuffer_drain(in, n);
		return 1;
	}
	p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
	crlf = n >= 2 && p[n - 2] == '\r';
	if (s->state == ST_DATA) {
		data_line(s, p, n - (crlf ? 2 : 1), crlf);
		evbuffer_drain(in, n);
		return 1;
	}
	if (memchr(p, '\0', n) != NULL) {
		evbuffer_drain(in, n);
		if (s->auth_step != AUTH_NONE)
			auth_abort(s, "501 5.5.2 NUL byte in AUTH response");
		else
			session_reply(s, "500 5.5.2 Error: NUL byte in "
			    "command");
		s->nerrors++;
		return 1;
	}
	p[n - (crlf ? 2 : 1)] = '\0';
	{
		char line[SMTP_CMD_LINE_MAX + 3];

		memcpy(line, p, n - (crlf ? 2 : 1) + 1);
		evbuffer_drain(in, n);
		if (s->auth_step != AUTH_NONE)
			auth_line(s, line);	/* an AUTH response */
		else
			command(s, line);
		explicit_bzero(line, sizeof(line));
	}
	return 1;
}

/* held - input waits: for queued, a delayed AUTH reply, the TLS switch */
static bool
held(const struct session *s)
{
	return s->waiting || s->closing || s->auth_wait || s->tls_starting;
}

static void
process_input(struct session *s)
{
	while (!held(s)) {
		if (s->nerrors >= SMTP_MAX_ERRORS) {
			session_reply(s, "421 4.7.0 %s Too many errors",
			    smtpd.d.cfg->host_name);
			session_close(s, "too many errors");
			return;
		}
		if (one_line(s, bufferevent_get_input(s->bev)) == 0)
			break;
	}
	if (s->tls_starting && !s->closing)
		tls_start(s);		/* flushes the 220 in clear first */
	else
		session_flush(s);
	if (!s->closing)
		timeouts(s);
}

/* session_resume - queued answered: carry on with held input */
void
session_resume(struct session *s)
{
	process_input(s);
	if (smtpd.d.stopping && !s->closing && s->state == ST_MAIL &&
	    !s->waiting) {
		session_reply(s, "421 4.3.2 Service shutting down");
		session_close(s, "shutdown");
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

static void
session_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->closing)
		session_free(s);
	else if (s->tls_starting)
		tls_start(s);		/* the 220 is out now */
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		tls_established(s);	/* the TLS handshake is done */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->closing) {
			session_free(s);
			return;
		}
		session_reply(s, "421 4.4.2 %s Timeout, closing connection",
		    smtpd.d.cfg->host_name);
		session_close(s, "timeout");		/* flushes */
		return;
	}
	/* EOF or error: whatever transaction was open is abandoned. */
	if (s->tls && (what & BEV_EVENT_ERROR))
		tls_log_error(s);
	log_debug("%016llx smtp disconnected reason=%s",
	    (unsigned long long)s->id, what & BEV_EVENT_EOF ? "eof" : "error");
	if (s->waiting) {
		/* A reply from queued may still come; reqid goes stale. */
		s->waiting = false;
	}
	session_free(s);
}
