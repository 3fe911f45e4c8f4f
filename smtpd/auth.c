/*
 * auth.c - SMTP AUTH for injection (RFC 4954): PLAIN (RFC 4616), LOGIN.
 *
 * Purpose:      offered only after STARTTLS, or on a loopback listener
 *               with auth-without-tls, and only when smtp-users has
 *               users.  Checks a password against the user's crypt(3)
 *               hash (SHA-512 or yescrypt, crypt_r from libcrypt, in
 *               authq.c's worker thread); an unknown user costs the same
 *               hashing.  Counts failures
 *               per client address (IPv6: per /64) over
 *               max-auth-failures, answers a failure after a one-second
 *               timer (never by sleeping), and gives an authenticated
 *               session the right to relay, the user's virtual-mtas as
 *               the only ones X-Virtual-MTA may name, and the user's
 *               default-virtual-mta.
 * Used by:      smtpd (session.c, data.c).
 * Trust:        every response is hostile: base64 is decoded strictly,
 *               at most 512 bytes, NUL bytes only as PLAIN's two
 *               separators; decoded passwords are wiped after use.
 * Spool access: none.
 * See:          smtpd(8) AUTH, tern.yaml(5) SECURITY.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "log.h"
#include "smtpd.h"

#define AUTH_B64_MAX		(4 * ((AUTH_DECODED_MAX + 2) / 3))
#define AUTH_FAIL_DELAY_MS	1000
#define AUTHFAIL_MAX		16384	/* client addresses remembered */

/* Failures of one client address within max-auth-failures' window. */
struct authfail {
	time_t		 first;
	uint64_t	 n;
};

static struct hmap	 fails;
static bool		 fails_init;

/* --- failure accounting -------------------------------------------------- */

/* fail_key - the client's address; for IPv6 its /64 */
static void
fail_key(const struct session *s, char *key, size_t ksz)
{
	struct in6_addr	 a;
	char		 ip[INET6_ADDRSTRLEN];

	if (s->ss.ss_family != AF_INET6) {
		tern_strlcpy(key, s->ip, ksz);
		return;
	}
	a = ((const struct sockaddr_in6 *)&s->ss)->sin6_addr;
	memset(a.s6_addr + 8, 0, 8);
	inet_ntop(AF_INET6, &a, ip, sizeof(ip));
	snprintf(key, ksz, "%s/64", ip);
}

/* fail_get - the entry for key, forgetting one whose window is over */
static struct authfail *
fail_get(const char *key, time_t now)
{
	const struct rate *r = &smtpd.d.cfg->max_auth_failures;
	struct authfail	  *f;

	if (!fails_init) {
		hmap_init(&fails);
		fails_init = true;
	}
	if ((f = hmap_get(&fails, key)) != NULL &&
	    now - f->first >= (time_t)r->period) {
		free(hmap_del(&fails, key));
		f = NULL;
	}
	return f;
}

/* fail_sweep - drop the entries whose window is over */
static void
fail_sweep(time_t now)
{
	const struct rate *r = &smtpd.d.cfg->max_auth_failures;
	struct hmap_ent	  *e;
	char		 **old;
	size_t		   i = 0, n = 0;

	old = xcalloc(fails.count + 1, sizeof(char *));
	for (e = NULL; (e = hmap_next(&fails, e, &i)) != NULL;)
		if (now - ((struct authfail *)e->val)->first >=
		    (time_t)r->period)
			old[n++] = xstrdup(e->key);
	for (i = 0; i < n; i++) {
		free(hmap_del(&fails, old[i]));
		free(old[i]);
	}
	free(old);
}

/* fail_limited - has this client used up its failures? */
static bool
fail_limited(const struct session *s)
{
	const struct rate *r = &smtpd.d.cfg->max_auth_failures;
	struct authfail	  *f;
	char		   key[INET6_ADDRSTRLEN + 4];

	if (r->count == 0)
		return false;		/* unlimited */
	fail_key(s, key, sizeof(key));
	f = fail_get(key, time(NULL));
	return f != NULL && f->n >= r->count;
}

/* fail_count - one more failure for this client */
static void
fail_count(const struct session *s)
{
	struct authfail	*f;
	char		 key[INET6_ADDRSTRLEN + 4];
	time_t		 now = time(NULL);

	if (smtpd.d.cfg->max_auth_failures.count == 0)
		return;
	fail_key(s, key, sizeof(key));
	if ((f = fail_get(key, now)) == NULL) {
		if (fails.count >= AUTHFAIL_MAX)
			fail_sweep(now);
		if (fails.count >= AUTHFAIL_MAX) {
			log_warnx("auth: more than %d client addresses with "
			    "failures; forgetting them all", AUTHFAIL_MAX);
			hmap_clear(&fails);
			hmap_init(&fails);
		}
		f = xcalloc(1, sizeof(*f));
		f->first = now;
		hmap_put(&fails, key, f);
	}
	f->n++;
}

/* --- decoding ------------------------------------------------------------ */

/*
 * b64_decode - strict RFC 4648 base64 (no blanks, padding only at the
 * end) into dst, which holds AUTH_DECODED_MAX + 3 bytes; the length, or
 * -1.  "=" alone is the empty response (RFC 4954).
 */
static int
b64_decode(const char *src, unsigned char *dst)
{
	size_t	 n = strlen(src), i, pad = 0;
	int	 len;

	if (strcmp(src, "=") == 0)
		return 0;
	if (n == 0 || n % 4 != 0 || n > AUTH_B64_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (src[i] == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad > 0 || (!isalnum((unsigned char)src[i]) &&
		    src[i] != '+' && src[i] != '/'))
			return -1;
	}
	len = EVP_DecodeBlock(dst, (const unsigned char *)src, (int)n);
	if (len < (int)pad || len - (int)pad > AUTH_DECODED_MAX)
		return -1;
	return len - (int)pad;
}

/* --- checking ------------------------------------------------------------ */

/* copy_user - what the session keeps of the user (a reload frees cfg) */
static void
copy_user(struct session *s, const struct cfg_user *u)
{
	unsigned i;

	s->authed = true;
	tern_strlcpy(s->auth_user, u->name, sizeof(s->auth_user));
	s->auth_nvmtas = u->nvmtas;
	s->auth_vmtas = u->nvmtas ? xcalloc(u->nvmtas, sizeof(char *)) : NULL;
	for (i = 0; i < u->nvmtas; i++)
		s->auth_vmtas[i] = xstrdup(u->vmtas[i]);
	/* The user's default; else the first of its list; else the source's. */
	if (u->default_virtual_mta != NULL)
		tern_strlcpy(s->auth_defvmta, u->default_virtual_mta,
		    sizeof(s->auth_defvmta));
	else if (u->nvmtas > 0)
		tern_strlcpy(s->auth_defvmta, u->vmtas[0],
		    sizeof(s->auth_defvmta));
}

static void
delayed_reply(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->auth_wait = false;
	session_reply(s, "535 5.7.8 Authentication credentials invalid");
	session_resume(s);
}

/* failed - count, log, and answer 535 after AUTH_FAIL_DELAY_MS */
static void
failed(struct session *s, const char *user)
{
	struct timeval tv = { AUTH_FAIL_DELAY_MS / 1000,
	    (AUTH_FAIL_DELAY_MS % 1000) * 1000 };

	fail_count(s);
	s->auth_step = AUTH_NONE;
	s->nerrors++;
	log_info("%016llx auth failed user=%s client=%s mechanism=%s",
	    (unsigned long long)s->id, user, s->ip, s->auth_mech);
	if (s->ev_auth == NULL)
		s->ev_auth = evtimer_new(smtpd.d.base, delayed_reply, s);
	s->auth_wait = true;
	evtimer_add(s->ev_auth, &tv);
}

/*
 * verify - the end of an exchange: user and password in hand.  The
 * hashing is done by authq's worker; the answer comes to auth_checked.
 * An unknown user is hashed with the first user's hash as the setting,
 * so that it takes as long as a known one (as long as users share one
 * scheme and cost).
 */
static void
verify(struct session *s, const char *user, const char *pass)
{
	const struct tern_config *cfg = smtpd.d.cfg;
	const struct cfg_user	 *u = config_user(cfg, user);

	s->auth_step = AUTH_NONE;
	if (user != s->auth_login)
		tern_strlcpy(s->auth_login, user, sizeof(s->auth_login));
	if (*pass == '\0' || (u == NULL && cfg->nusers == 0)) {
		failed(s, s->auth_login);
		return;
	}
	if (authq_submit(session_reqid(s), u ? u->hash : cfg->users[0].hash,
	    u ? u->hash : "", pass) == -1) {
		auth_abort(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->auth_wait = true;		/* input waits for the answer */
	s->auth_checking = true;
}

/* auth_checked - authq's answer for the session with this request id */
void
auth_checked(uint64_t reqid, bool ok)
{
	struct session		*s = session_by_reqid(reqid);
	const struct cfg_user	*u;

	if (s == NULL || !s->auth_checking)
		return;			/* the session is gone */
	s->auth_checking = false;
	s->auth_wait = false;
	/* A reload may have taken the user away meanwhile. */
	if (!ok || (u = config_user(smtpd.d.cfg, s->auth_login)) == NULL) {
		failed(s, s->auth_login);
		return;
	}
	copy_user(s, u);
	log_info("%016llx auth ok user=%s client=%s mechanism=%s",
	    (unsigned long long)s->id, s->auth_user, s->ip, s->auth_mech);
	session_reply(s, "235 2.7.0 Authentication successful");
	session_resume(s);
}

/* malformed - a response that breaks the rules: counts as an error */
static void
malformed(struct session *s, const char *reply)
{
	s->nerrors++;
	auth_abort(s, reply);
}

/*
 * plain - RFC 4616: [authzid] NUL authcid NUL passwd.  Exactly two NULs;
 * an authorization identity other than the user's own is refused.
 */
static void
plain(struct session *s, unsigned char *d, int len)
{
	unsigned char	*n1, *n2;
	const char	*zid = (const char *)d, *cid, *pw;

	d[len] = '\0';
	if ((n1 = memchr(d, '\0', (size_t)len)) == NULL ||
	    (n2 = memchr(n1 + 1, '\0', (size_t)(d + len - n1 - 1))) == NULL ||
	    memchr(n2 + 1, '\0', (size_t)(d + len - n2 - 1)) != NULL) {
		malformed(s, "501 5.5.2 Malformed AUTH PLAIN response");
		return;
	}
	cid = (const char *)n1 + 1;
	pw = (const char *)n2 + 1;
	if (*cid == '\0' || strlen(cid) > AUTH_USER_MAX ||
	    (*zid != '\0' && strcmp(zid, cid) != 0)) {
		failed(s, cid);
		return;
	}
	verify(s, cid, pw);
}

/* response - one decoded client response, by where the exchange is */
static void
response(struct session *s, unsigned char *d, int len)
{
	d[len] = '\0';
	switch (s->auth_step) {
	case AUTH_PLAIN:
		plain(s, d, len);
		break;
	case AUTH_LOGIN_USER:
		if (memchr(d, '\0', (size_t)len) != NULL || len == 0 ||
		    len > AUTH_USER_MAX) {
			malformed(s, "501 5.5.2 Malformed user name");
			break;
		}
		tern_strlcpy(s->auth_login, (char *)d, sizeof(s->auth_login));
		s->auth_step = AUTH_LOGIN_PASS;
		session_reply(s, "334 UGFzc3dvcmQ6");	/* Password: */
		break;
	case AUTH_LOGIN_PASS:
		if (memchr(d, '\0', (size_t)len) != NULL) {
			malformed(s, "501 5.5.2 Malformed password");
			break;
		}
		verify(s, s->auth_login, (char *)d);
		break;
	case AUTH_NONE:
		break;
	}
}

/* --- the command and its continuation lines ------------------------------ */

/* auth_line - a line sent in answer to our 334 */
void
auth_line(struct session *s, char *line)
{
	unsigned char	 d[AUTH_DECODED_MAX + 3];
	int		 len;

	if (strcmp(line, "*") == 0) {
		auth_abort(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	if (strlen(line) > AUTH_B64_MAX) {
		malformed(s, "500 5.5.6 Authentication exchange line is "
		    "too long");
		return;
	}
	if ((len = b64_decode(line, d)) == -1) {
		malformed(s, "501 5.5.2 Cannot decode the AUTH response");
		return;
	}
	response(s, d, len);
	explicit_bzero(d, sizeof(d));
}

/* refused - the reply when AUTH cannot be used now, else NULL */
static const char *
refused(struct session *s)
{
	if (s->state == ST_HELO || !s->esmtp)
		return "503 5.5.1 Send EHLO first";
	if (s->authed)
		return "503 5.5.1 Already authenticated";
	if (s->state != ST_MAIL)
		return "503 5.5.1 MAIL transaction in progress";
	if (!s->tls && !s->lis_auth_plain)
		return "538 5.7.11 Encryption required for requested "
		    "authentication mechanism";
	if (smtpd.d.cfg->nusers == 0)
		return "502 5.5.1 AUTH not available";
	if (fail_limited(s)) {
		log_info("%016llx auth refused client=%s: too many failures",
		    (unsigned long long)s->id, s->ip);
		return "454 4.7.0 Too many authentication failures, try "
		    "again later";
	}
	return NULL;
}

/* cmd_auth - AUTH mechanism [initial-response] */
void
cmd_auth(struct session *s, const char *args)
{
	const char	*why, *ir;
	char		 mech[16];
	size_t		 n = strcspn(args, " ");

	if ((why = refused(s)) != NULL) {
		session_reply(s, "%s", why);
		return;
	}
	if (n == 0 || n >= sizeof(mech)) {
		session_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		s->nerrors++;
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	ir = args[n] == ' ' ? args + n + 1 : NULL;
	if (strcasecmp(mech, "PLAIN") == 0)
		s->auth_step = AUTH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		s->auth_step = AUTH_LOGIN_USER;
	else {
		session_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	tern_strlcpy(s->auth_mech, s->auth_step == AUTH_PLAIN ? "PLAIN" :
	    "LOGIN", sizeof(s->auth_mech));
	if (ir != NULL) {
		char line[SMTP_CMD_LINE_MAX + 1];

		tern_strlcpy(line, ir, sizeof(line));
		auth_line(s, line);
		explicit_bzero(line, sizeof(line));
	} else
		session_reply(s, "334 %s", s->auth_step == AUTH_PLAIN ? "" :
		    "VXNlcm5hbWU6");			/* Username: */
}

/* auth_abort - end an exchange that went wrong, without a failure */
void
auth_abort(struct session *s, const char *reply)
{
	s->auth_step = AUTH_NONE;
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
	session_reply(s, "%s", reply);
}

/* auth_forget - back to unauthenticated (STARTTLS, end of session) */
void
auth_forget(struct session *s)
{
	unsigned i;

	for (i = 0; i < s->auth_nvmtas; i++)
		free(s->auth_vmtas[i]);
	free(s->auth_vmtas);
	s->auth_vmtas = NULL;
	s->auth_nvmtas = 0;
	if (s->ev_auth != NULL) {
		event_free(s->ev_auth);
		s->ev_auth = NULL;
	}
	s->auth_wait = false;
	s->auth_checking = false;
	s->auth_step = AUTH_NONE;
	s->authed = false;
	s->auth_user[0] = '\0';
	s->auth_defvmta[0] = '\0';
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
}

bool
auth_offered(const struct session *s)
{
	return smtpd.d.cfg->nusers > 0 && (s->tls || s->lis_auth_plain);
}

/* auth_vmta_allowed - may this user's mail name v? (no list: any) */
bool
auth_vmta_allowed(const struct session *s, const char *v)
{
	unsigned i;

	if (s->auth_nvmtas == 0)
		return true;
	for (i = 0; i < s->auth_nvmtas; i++)
		if (strcasecmp(s->auth_vmtas[i], v) == 0)
			return true;
	return false;
}

/* auth_default_vmta - for mail that names none */
const char *
auth_default_vmta(const struct session *s)
{
	return s->auth_defvmta[0] != '\0' ? s->auth_defvmta : s->defvmta;
}
