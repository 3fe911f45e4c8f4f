/*
 * dkimd.h - the DKIM signer: declarations.
 *
 * Purpose:      the keys of domain-keys held in memory, the libopendkim
 *               handle, the signing of one message read through a
 *               read-only descriptor.
 * Used by:      dkimd only.
 * Trust:        holds the private keys and nothing else.  Its one peer
 *               is queued (uid checked at HELLO); the message bytes come
 *               from SMTP clients and are hostile: every size is bounded
 *               and only the requested span of a regular file is read.
 * Spool access: none: read-only descriptors passed by queued.
 * See:          dkimd(8).
 */
#ifndef TERN_DKIMD_H
#define TERN_DKIMD_H

#include <stdbool.h>
#include <stdint.h>

#include <dkim.h>
#include <openssl/evp.h>

#include "config.h"
#include "daemon.h"
#include "ipc.h"
#include "mailaddr.h"
#include "spool.h"

#define DKIMD_KEY_MAX		(64 * 1024)	/* a PEM key file */
#define DKIMD_BODY_MAX		(1ULL << 30)	/* a message we sign */
#define DKIMD_FIELD_MAX		(64 * 1024)	/* one header field, folded */
#define DKIMD_FIELDS_MAX	2000		/* header fields */
#define DKIMD_CHUNK		(64 * 1024)
#define DKIMD_KEY_USES_MAX	1000000		/* then parsed anew */
#define DKIMD_SIGHDR		"DKIM-Signature"

/* A domain-keys entry, loaded before the privileges go. */
struct dkey_mem {
	char		*selector;
	char		*domain;
	unsigned char	*pem;		/* the file, NUL-terminated; wiped */
	size_t		 len;
	dkim_alg_t	 alg;		/* RSA-SHA256 or Ed25519-SHA256 */
	unsigned	 bits;
	EVP_PKEY	*pkey;		/* parsed once (see keys.c) */
	uint64_t	 uses;		/* references handed to libopendkim */
};

struct dkimd {
	struct daemon	 d;
	int		 listen_fd;
	struct event	*ev_listen;
	DKIM_LIB	*lib;
	struct dkey_mem	*keys;
	unsigned	 nkeys;
	char		**signhdrs;	/* NULL-terminated, for libopendkim */
	uint64_t	 n_signed, n_failed;
	uint64_t	 n_key_cached;	/* key loads answered from memory */
	uint64_t	 n_swept;	/* blocks libopendkim did not free */
};

extern struct dkimd dk;

/* keys.c */
void		 keys_load(const struct tern_config *);
void		 keys_free(void);
const struct dkey_mem *keys_find(const char *selector, const char *domain);

/* sign.c */
int		 sign_init(void);
int		 sign_headers(const struct tern_config *);
int		 sign_message(const struct dkey_mem *, int fd, uint64_t off,
		    uint64_t len, const char *id, struct buf *out,
		    const char **why);

#endif
