/*
 * tls.c - STARTTLS for smtpd (RFC 3207): contexts, the switch, reload.
 *
 * Purpose:      one SSL_CTX per listener that has a certificate (its own
 *               tls-certificate/-private-key, else the top-level
 *               smtp-server-tls-certificate/-key): TLS 1.2 or later,
 *               OpenSSL's default ciphers with the server's preference,
 *               no renegotiation, no compression, session tickets.  The
 *               switch after "220 Ready to start TLS": input the client
 *               sent after STARTTLS in clear is thrown away (the
 *               CVE-2011-0411 command-injection class) and logged, the
 *               socket bufferevent is replaced by an OpenSSL one on the
 *               same fd, and the SMTP state is forgotten.
 *               Keys: read from the files in the prejail hook, while
 *               still root; on reload, from the memfd ternd sends just
 *               before the new configuration (IPC_MASTER_TLS_FILES),
 *               because smtpd can no longer open them.  A certificate
 *               or key that does not load on reload leaves the one in
 *               force in place, with a log line.
 * Used by:      smtpd (smtpd.c, session.c, data.c).
 * Trust:        the client's TLS records are hostile; OpenSSL parses
 *               them.  The memfd comes from ternd and is bounded and
 *               checked (sealed, offsets inside it) like any frame.
 * Spool access: none.
 * See:          smtpd(8) STARTTLS and SECURITY, tern.yaml(5) SECURITY.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "smtpd.h"

/* The files ternd sent for the reload that comes next. */
struct pem_file {
	char	*path;
	char	*data;
	size_t	 len;
};

static struct pem_file	*pending;
static unsigned		 npending;
static bool		 have_pending;

static void
pending_free(void)
{
	unsigned i;

	for (i = 0; i < npending; i++) {
		free(pending[i].path);
		free_secret(pending[i].data, pending[i].len + 1);
	}
	free(pending);
	pending = NULL;
	npending = 0;
	have_pending = false;
}

/* ssl_error - the last OpenSSL error as text, the queue emptied */
static void
ssl_error(char *dst, size_t dsz)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		tern_strlcpy(dst, "unknown error", dsz);
	else
		ERR_error_string_n(last, dst, dsz);
}

/* load_chain - the leaf certificate, then any chain certificates */
static int
load_chain(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO	*b = BIO_new_mem_buf(pem, (int)len);
	X509	*x;
	int	 rc = -1;

	if (b == NULL)
		return -1;
	if ((x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) == NULL)
		goto out;
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		goto out;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();		/* the end of the file */
	rc = 0;
out:
	BIO_free(b);
	return rc;
}

/* load_key - the private key, which must match the certificate */
static int
load_key(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO		*b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY	*k;
	int		 rc = -1;

	if (b == NULL)
		return -1;
	if ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) != NULL &&
	    SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1)
		rc = 0;
	EVP_PKEY_free(k);		/* the context holds its own reference */
	BIO_free(b);
	return rc;
}

/* ctx_new - a server context from PEM bytes; NULL and *err on failure */
static SSL_CTX *
ctx_new(const char *cert, size_t clen, const char *key, size_t klen,
    char *err, size_t esz)
{
	static const unsigned char sid[] = "tern-smtpd";
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_error(err, esz);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * A client that closes without close_notify is an EOF, not an
	 * error: SMTP has its own ends (QUIT, the final dot), so no
	 * truncation can go unnoticed.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (load_chain(ctx, cert, clen) == -1 ||
	    load_key(ctx, key, klen) == -1) {
		ssl_error(err, esz);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* get_pem - a file's bytes: from ternd's memfd if it sent one, else read */
static char *
get_pem(const char *path, size_t *len, char *err, size_t esz)
{
	unsigned i;
	char	*p;

	if (!have_pending) {
		if ((p = read_secret(path, IPC_TLS_FILE_MAX, len)) == NULL)
			snprintf(err, esz, "%s: %s", path, strerror(errno));
		return p;
	}
	for (i = 0; i < npending; i++)
		if (strcmp(pending[i].path, path) == 0 && pending[i].len > 0) {
			p = xmalloc(pending[i].len + 1);
			memcpy(p, pending[i].data, pending[i].len + 1);
			*len = pending[i].len;
			return p;
		}
	snprintf(err, esz, "%s: ternd could not read it", path);
	return NULL;
}

/* fingerprint - sha256 of the certificate in force, for the log */
static void
fingerprint(SSL_CTX *ctx, char *dst, size_t dsz)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned	 n = 0, i;
	X509		*x = SSL_CTX_get0_certificate(ctx);

	dst[0] = '\0';
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && 2 * i + 3 <= dsz; i++)
		snprintf(dst + 2 * i, dsz - 2 * i, "%02x", md[i]);
}

/* make_ctx - a context from two files; NULL and *err on failure */
static SSL_CTX *
make_ctx(const char *cert, const char *key, char *err, size_t esz)
{
	char	*c, *k = NULL;
	size_t	 clen = 0, klen = 0;
	SSL_CTX	*ctx = NULL;

	if ((c = get_pem(cert, &clen, err, esz)) != NULL &&
	    (k = get_pem(key, &klen, err, esz)) != NULL)
		ctx = ctx_new(c, clen, k, klen, err, esz);
	free_secret(c, clen + 1);
	free_secret(k, klen + 1);
	return ctx;
}

/* listener_set - settings of one smtp-listener entry into l */
static void
listener_set(struct smtpd_listener *l, const struct cfg_listener *cl,
    const struct tern_config *cfg)
{
	const char *cert = cl->tls_cert ? cl->tls_cert : cfg->tls_cert;
	const char *key = cl->tls_cert ? cl->tls_key : cfg->tls_key;

	l->require_starttls = cl->require_starttls;
	l->auth_without_tls = cl->auth_without_tls && cl->loopback;
	free(l->cert);
	free(l->key);
	l->cert = cert ? xstrdup(cert) : NULL;
	l->key = key ? xstrdup(key) : NULL;
}

/*
 * listener_load - (re)make l's context.  At start a failure is fatal:
 * the administrator asked for TLS and must not silently get none.  On
 * reload the context in force stays.
 */
static void
listener_load(struct smtpd_listener *l, bool start)
{
	char	 err[512], fp[2 * EVP_MAX_MD_SIZE + 1];
	SSL_CTX	*ctx;

	if (l->cert == NULL) {
		if (l->ctx != NULL)
			log_info("listener %s: no certificate any more; "
			    "STARTTLS is no longer offered", l->text);
		SSL_CTX_free(l->ctx);
		l->ctx = NULL;
		return;
	}
	if ((ctx = make_ctx(l->cert, l->key, err, sizeof(err))) == NULL) {
		if (start)
			fatalx("listener %s: TLS certificate %s, key %s: %s",
			    l->text, l->cert, l->key, err);
		log_warnx("listener %s: TLS certificate %s, key %s not "
		    "loaded: %s; %s", l->text, l->cert, l->key, err,
		    l->ctx ? "the previous one stays in force" :
		    "STARTTLS stays unavailable");
		return;
	}
	/* Sessions already in TLS hold their own reference to the old one. */
	SSL_CTX_free(l->ctx);
	l->ctx = ctx;
	fingerprint(ctx, fp, sizeof(fp));
	log_info("listener %s: TLS certificate %s loaded, sha256 %s",
	    l->text, l->cert, fp);
}

/* tls_init - prejail, still root: read every certificate and key */
void
tls_init(struct tern_config *cfg)
{
	unsigned i;

	for (i = 0; i < cfg->nlisteners && i < nitems(smtpd.lis); i++) {
		struct smtpd_listener *l = &smtpd.lis[i];

		l->text = xstrdup(cfg->listeners[i].text);
		listener_set(l, &cfg->listeners[i], cfg);
		listener_load(l, true);
	}
	smtpd.nlis = i;
}

/*
 * tls_reload - the reload hook's part: new settings and certificates for
 * the listeners that are still the same (a changed smtp-listener list
 * takes a restart of ternd, which says so).
 */
void
tls_reload(struct tern_config *cfg)
{
	unsigned i;

	for (i = 0; i < smtpd.nlis; i++) {
		struct smtpd_listener *l = &smtpd.lis[i];

		if (i >= cfg->nlisteners ||
		    strcmp(cfg->listeners[i].text, l->text) != 0)
			continue;
		listener_set(l, &cfg->listeners[i], cfg);
		listener_load(l, false);
	}
	pending_free();
}

bool
tls_offered(const struct session *s)
{
	return !s->tls && smtpd.lis[s->lis].ctx != NULL;
}

/* forget - RFC 3207 4.2: nothing learnt in clear survives the switch */
static void
forget(struct session *s)
{
	tx_reset(s);
	s->state = ST_HELO;
	s->helo[0] = '\0';
	s->esmtp = false;
	auth_forget(s);
}

/*
 * tls_start - after the 220: once it is written, replace the socket
 * bufferevent by a TLS one on the same fd.  Called again from the write
 * callback when the 220 could not be written at once.
 */
void
tls_start(struct session *s)
{
	struct bufferevent *old = s->bev, *bev;
	struct evbuffer	*in = bufferevent_get_input(old);
	size_t		 n;
	SSL		*ssl;

	bufferevent_disable(old, EV_READ);
	if ((n = evbuffer_get_length(in)) > 0) {
		log_warnx("%016llx STARTTLS: %zu bytes sent in clear after "
		    "STARTTLS discarded (command injection?), client=%s",
		    (unsigned long long)s->id, n, s->ip);
		evbuffer_drain(in, n);
	}
	session_flush(s);
	if (evbuffer_get_length(bufferevent_get_output(old)) > 0)
		return;
	s->tls_starting = false;
	if ((ssl = SSL_new(smtpd.lis[s->lis].ctx)) == NULL ||
	    (bev = bufferevent_openssl_socket_new(smtpd.d.base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		SSL_free(ssl);
		log_warnx("%016llx STARTTLS: cannot set up TLS",
		    (unsigned long long)s->id);
		session_close(s, "tls setup");
		return;
	}
	bufferevent_disable(old, EV_READ | EV_WRITE);
	bufferevent_free(old);		/* not the fd: bev owns it now */
	s->tls = true;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	session_set_bev(s, bev);
	forget(s);
}

/* tls_established - the handshake is done: note what was agreed */
void
tls_established(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	if (ssl == NULL || s->tls_up)
		return;
	s->tls_up = true;
	tern_strlcpy(s->tls_proto, SSL_get_version(ssl), sizeof(s->tls_proto));
	tern_strlcpy(s->tls_cipher, SSL_get_cipher_name(ssl),
	    sizeof(s->tls_cipher));
	s->tls_bits = SSL_get_cipher_bits(ssl, &s->tls_alg_bits);
	log_info("%016llx STARTTLS %s cipher=%s bits=%d client=%s%s",
	    (unsigned long long)s->id, s->tls_proto, s->tls_cipher,
	    s->tls_bits, s->ip, SSL_session_reused(ssl) ? " resumed" : "");
}

/*
 * tls_log_error - why a TLS session failed, in one line.  libevent also
 * queues SSL_get_error()'s small codes; only OpenSSL's own errors (with
 * a library number) say anything.
 */
void
tls_log_error(struct session *s)
{
	char		 buf[256] = "connection error";
	unsigned long	 e;

	while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
	log_info("%016llx TLS %s failed: %s, client=%s",
	    (unsigned long long)s->id, s->tls_up ? "session" : "handshake",
	    buf, s->ip);
}

/* tls_received_clause - "(using TLSv1.3 with cipher ...)" for Received */
void
tls_received_clause(const struct session *s, struct evbuffer *out)
{
	if (!s->tls_up)
		return;
	evbuffer_add_printf(out, "\t(using %s with cipher %s (%d/%d bits))\r\n",
	    s->tls_proto, s->tls_cipher, s->tls_bits, s->tls_alg_bits);
}

/* --- the files from ternd ------------------------------------------------ */

/* memfd_ok - sealed against writes and shrinking, of a sane size */
static bool
memfd_ok(int fd, uint64_t *size)
{
	struct stat	 st;
	int		 seals = fcntl(fd, F_GET_SEALS);

	if (seals == -1 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) !=
	    (F_SEAL_WRITE | F_SEAL_SHRINK) || fstat(fd, &st) == -1 ||
	    (uint64_t)st.st_size > (uint64_t)IPC_TLS_FILES_MAX *
	    IPC_TLS_FILE_MAX)
		return false;
	*size = (uint64_t)st.st_size;
	return true;
}

/* one_file - one entry of the frame, its bytes read from the memfd */
static int
one_file(struct ipc_msg *m, int fd, uint64_t size, struct pem_file *f)
{
	char	 path[IPC_STR_MAX];
	uint64_t off, len;

	if (ipc_get_str(m, path, sizeof(path)) == -1 ||
	    ipc_get_u64(m, &off) == -1 || ipc_get_u64(m, &len) == -1 ||
	    len > IPC_TLS_FILE_MAX || off > size || len > size - off)
		return -1;
	f->path = xstrdup(path);
	f->data = xmalloc((size_t)len + 1);
	f->len = (size_t)len;
	if (pread(fd, f->data, f->len, (off_t)off) != (ssize_t)f->len)
		return -1;
	f->data[f->len] = '\0';
	return 0;
}

static int
on_tls_files(struct ipc_peer *p, struct ipc_msg *m)
{
	uint64_t size = 0;
	uint32_t n, i;
	int	 fd = m->fd;

	m->fd = -1;
	pending_free();
	if (ipc_get_u32(m, &n) == -1 || n > IPC_TLS_FILES_MAX ||
	    !memfd_ok(fd, &size)) {
		close(fd);
		return -1;
	}
	pending = xcalloc(n ? n : 1, sizeof(*pending));
	for (i = 0; i < n; i++, npending++)
		if (one_file(m, fd, size, &pending[i]) == -1) {
			npending++;
			break;
		}
	close(fd);
	if (i < n || ipc_get_end(m) == -1) {
		pending_free();
		return -1;
	}
	have_pending = true;
	return 0;
}

const struct ipc_handler tls_master_handlers[] = {
	{ IPC_MASTER_TLS_FILES, RB(ROLE_MASTER), IPC_FD_YES, on_tls_files },
};
const size_t tls_nmaster_handlers = nitems(tls_master_handlers);
