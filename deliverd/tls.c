/*
 * tls.c - deliverd's TLS client: context, sessions to resume, checks.
 *
 * Purpose:      one SSL_CTX per deliverd (TLS 1.2 at least, OpenSSL's
 *               default ciphers, the CA bundle of tls-ca-file or the
 *               system's); an SSL per STARTTLS with SNI and the name the
 *               certificate must carry; TLS sessions kept per remote
 *               address:port (the tickets servers hand out, TLS 1.3
 *               included) so the next connection to the same host
 *               resumes instead of a full handshake.  The certificate is
 *               always checked; whether a failure matters is the
 *               domain's verify-server-certificate.
 * Used by:      deliverd (session.c).
 * Trust:        the server's certificate and TLS records are hostile;
 *               OpenSSL parses them.  Cached sessions are bounded.
 * Spool access: none.
 * See:          deliverd(8), tern.yaml(5) use-starttls, require-starttls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "deliverd.h"

#define TLS_SESSIONS_MAX	10000

static SSL_CTX		*ctx;
static struct hmap	 sessions;	/* "ip:port" -> SSL_SESSION */
static int		 ex_key = -1;	/* SSL ex-data: the cache key */

/* new_session - a server's ticket: keep it for the next connection */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	const char	*key = SSL_get_ex_data(ssl, ex_key);
	SSL_SESSION	*old;

	if (key == NULL)
		return 0;
	if ((old = hmap_get(&sessions, key)) != NULL) {
		SSL_SESSION_free(old);
		hmap_del(&sessions, key);
	} else if (sessions.count >= TLS_SESSIONS_MAX)
		return 0;
	hmap_put(&sessions, key, sess);
	return 1;		/* the reference is ours now */
}

/* tls_init - a new context; -1 when the CA bundle could not be loaded */
int
tls_init(const struct tern_config *cfg)
{
	SSL_CTX *c;
	int	 rc = 0;

	if ((c = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	/*
	 * Without a CA bundle TLS still works (opportunistic); only
	 * verify-server-certificate domains then fail.
	 */
	if ((cfg->tls_ca_file != NULL &&
	    SSL_CTX_load_verify_locations(c, cfg->tls_ca_file, NULL) != 1) ||
	    (cfg->tls_ca_file == NULL &&
	    SSL_CTX_set_default_verify_paths(c) != 1)) {
		log_warnx("tls: cannot load the CA bundle %s",
		    cfg->tls_ca_file ? cfg->tls_ca_file : "(system)");
		ERR_clear_error();
		rc = -1;
	}
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, new_session);
	if (ex_key == -1) {
		ex_key = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		hmap_init(&sessions);
	}
	SSL_CTX_free(ctx);
	ctx = c;
	return rc;
}

/*
 * tls_new - an SSL for one STARTTLS: SNI and the expected name when the
 * host is a name, the cached session for key ("ip:port") if any.  key
 * must outlive the SSL.
 */
SSL *
tls_new(const char *host, const char *key)
{
	SSL		*ssl;
	SSL_SESSION	*sess;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	SSL_set_ex_data(ssl, ex_key, (void *)key);
	if (host[0] != '[' && strspn(host, "0123456789.:") != strlen(host)) {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	if ((sess = hmap_get(&sessions, key)) != NULL)
		SSL_set_session(ssl, sess);
	return ssl;
}

/*
 * tls_describe - "TLSv1.3:TLS_AES_256_GCM_SHA384" for accounting, and
 * whether the certificate checked out (chain and name)
 */
bool
tls_describe(SSL *ssl, char *out, size_t sz, char *why, size_t wsz)
{
	long	 vr = SSL_get_verify_result(ssl);
	X509	*peer = SSL_get_peer_certificate(ssl);

	snprintf(out, sz, "%s:%s%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), SSL_session_reused(ssl) ? ":resumed" :
	    "");
	if (peer == NULL) {
		snprintf(why, wsz, "no server certificate");
		return false;
	}
	X509_free(peer);
	if (vr != X509_V_OK) {
		snprintf(why, wsz, "certificate: %s",
		    X509_verify_cert_error_string(vr));
		return false;
	}
	why[0] = '\0';
	return true;
}

/* tls_error - the first OpenSSL error, for a diagnostic */
const char *
tls_error(void)
{
	static char	 b[200];
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		return "handshake failed";
	ERR_error_string_n(e, b, sizeof(b));
	ERR_clear_error();
	return b;
}
