/*
 * keys.c - the private keys of domain-keys, in dkimd's memory only.
 *
 * Purpose:      read every key file once, before the privileges go (the
 *               prejail hook runs as root): one allocation of the file's
 *               size, locked into RAM where the limits allow, wiped on
 *               free.  The key type picks the algorithm: RSA (1024 bits
 *               or more) signs rsa-sha256, Ed25519 signs ed25519-sha256.
 *               A key that cannot be read is left out with a warning
 *               (ternd checked every file when it loaded the
 *               configuration; this is the race of a file changed since):
 *               mail for its domain then goes unsigned, logged.
 *
 *               libopendkim parses the key again for every message
 *               (PEM_read_bio_PrivateKey in dkim_eom): with OpenSSL 3.0
 *               that costs about 440 us, and a fresh RSA key then sets up
 *               its blinding for about 300 us more, where the RSA-2048
 *               signature itself takes about 300 us.  So dkimd defines
 *               PEM_read_bio_PrivateKey itself: the executable's
 *               definition is the one libopendkim's call binds to, and a
 *               BIO holding exactly one of our key files gets that key,
 *               parsed once at start (a new reference, blinding kept);
 *               anything else goes on to OpenSSL's
 *               PEM_read_bio_PrivateKey_ex.  A libopendkim that loads
 *               keys some other way just takes the slow path.
 *               libopendkim 2.11 gives an RSA key's reference back but
 *               keeps an Ed25519 key's: so that no count can grow without
 *               bound, a key that has been handed out DKIMD_KEY_USES_MAX
 *               times is parsed anew and the old object dropped (freed
 *               by the last holder, or left behind: about 1 KiB per
 *               million signatures).
 * Used by:      dkimd.
 * Trust:        the files are the administrator's; an encrypted key is
 *               refused, never prompted for.
 * Spool access: none.
 * See:          dkimd(8), tern.yaml(5) (domain-keys).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkimd.h"
#include "log.h"

/* no_password - an encrypted key is refused, never prompted for */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* read_key - the whole file in one allocation (no copies left behind) */
static unsigned char *
read_key(const char *path, size_t *lenp)
{
	struct stat	 st;
	unsigned char	*p;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > DKIMD_KEY_MAX) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, p + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	p[off] = '\0';
	*lenp = off;
	(void)mlock(p, off + 1);	/* best effort: out of swap */
	return p;
}

static void
wipe(unsigned char *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len + 1);
	(void)munlock(p, len + 1);
	free(p);
}

/* parse_key - the key object from the file in memory; NULL if not */
static EVP_PKEY *
parse_key(const struct dkey_mem *k)
{
	BIO		*b;
	EVP_PKEY	*pk;

	if ((b = BIO_new_mem_buf(k->pem, (int)k->len)) == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey_ex(b, NULL, no_password, NULL, NULL,
	    NULL);
	BIO_free(b);
	return pk;
}

/* key_kind - RSA or Ed25519, from the key itself; -1 if unusable */
static int
key_kind(struct dkey_mem *k, const char **why)
{
	EVP_PKEY	*pk;
	int		 rv = -1;

	*why = "not a PEM private key (or an encrypted one)";
	if ((pk = parse_key(k)) == NULL)
		return -1;
	k->bits = (unsigned)EVP_PKEY_bits(pk);
	if (EVP_PKEY_base_id(pk) == EVP_PKEY_RSA && k->bits >= 1024) {
		k->alg = DKIM_SIGN_RSASHA256;
		rv = 0;
	} else if (EVP_PKEY_base_id(pk) == EVP_PKEY_ED25519 &&
	    dkim_libfeature(dk.lib, DKIM_FEATURE_ED25519)) {
		k->alg = DKIM_SIGN_ED25519SHA256;
		rv = 0;
	} else
		*why = "neither RSA of 1024 bits or more nor Ed25519 (or "
		    "this libopendkim has no Ed25519)";
	if (rv == 0)
		k->pkey = pk;
	else
		EVP_PKEY_free(pk);
	return rv;
}

/* renew - a fresh key object after DKIMD_KEY_USES_MAX uses (see above) */
static void
renew(struct dkey_mem *k)
{
	EVP_PKEY *pk;

	if ((pk = parse_key(k)) == NULL)
		return;			/* the old one goes on */
	EVP_PKEY_free(k->pkey);
	k->pkey = pk;
	k->uses = 0;
}

/* same_key - the BIO holds k's file (with or without its NUL)? */
static bool
same_key(const struct dkey_mem *k, const char *data, size_t n)
{
	if (n != k->len && (n != k->len + 1 || data[k->len] != '\0'))
		return false;
	return memcmp(data, k->pem, k->len) == 0;
}

/*
 * PEM_read_bio_PrivateKey - libopendkim's key load, answered from
 * memory when the BIO holds one of our key files (see above)
 */
EVP_PKEY *
PEM_read_bio_PrivateKey(BIO *b, EVP_PKEY **x, pem_password_cb *cb, void *u)
{
	char		*data;
	long		 n;
	unsigned	 i;

	if (x == NULL && cb == NULL && (n = BIO_get_mem_data(b, &data)) > 0)
		for (i = 0; i < dk.nkeys; i++) {
			struct dkey_mem *k = &dk.keys[i];

			if (k->pkey == NULL || !same_key(k, data, (size_t)n))
				continue;
			if (k->uses >= DKIMD_KEY_USES_MAX)
				renew(k);
			if (EVP_PKEY_up_ref(k->pkey) != 1)
				continue;
			k->uses++;
			dk.n_key_cached++;
			return k->pkey;
		}
	return PEM_read_bio_PrivateKey_ex(b, x, cb, u, NULL, NULL);
}

/* keys_load - every domain-keys entry that reads and parses */
void
keys_load(const struct tern_config *cfg)
{
	unsigned	 i;
	const char	*why;

	dk.keys = cfg->ndkeys ? xcalloc(cfg->ndkeys, sizeof(*dk.keys)) : NULL;
	for (i = 0; i < cfg->ndkeys; i++) {
		const struct cfg_dkey	*c = &cfg->dkeys[i];
		struct dkey_mem		*k = &dk.keys[dk.nkeys];

		if ((k->pem = read_key(c->key_file, &k->len)) == NULL) {
			log_warn("domain-keys %s._domainkey.%s: %s; its mail "
			    "goes unsigned", c->selector, c->domain,
			    c->key_file);
			continue;
		}
		if (key_kind(k, &why) == -1) {
			log_warnx("domain-keys %s._domainkey.%s: %s: %s; its "
			    "mail goes unsigned", c->selector, c->domain,
			    c->key_file, why);
			wipe(k->pem, k->len);
			memset(k, 0, sizeof(*k));
			continue;
		}
		k->selector = xstrdup(c->selector);
		k->domain = xstrdup(c->domain);
		log_info("key %s._domainkey.%s: %s, %u bits", k->selector,
		    k->domain, k->alg == DKIM_SIGN_RSASHA256 ? "rsa-sha256" :
		    "ed25519-sha256", k->bits);
		dk.nkeys++;
	}
}

void
keys_free(void)
{
	unsigned i;

	for (i = 0; i < dk.nkeys; i++) {
		EVP_PKEY_free(dk.keys[i].pkey);
		wipe(dk.keys[i].pem, dk.keys[i].len);
		free(dk.keys[i].selector);
		free(dk.keys[i].domain);
	}
	free(dk.keys);
	dk.keys = NULL;
	dk.nkeys = 0;
}

/* keys_find - the key for s=selector, d=domain, or NULL */
const struct dkey_mem *
keys_find(const char *selector, const char *domain)
{
	unsigned i;

	for (i = 0; i < dk.nkeys; i++)
		if (strcmp(dk.keys[i].selector, selector) == 0 &&
		    strcasecmp(dk.keys[i].domain, domain) == 0)
			return &dk.keys[i];
	return NULL;
}
