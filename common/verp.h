/*
 * verp.h - VERP return paths: the recipient, VirtualMTA and job of a
 *          message written into its envelope sender.
 *
 * Purpose:      sender local@dom, recipient rl@rd, vmta V, job J become
 *                 local+ENC(rl)=rd[=ENC(V)[=ENC(J)]]@dom
 *               where ENC keeps [A-Za-z0-9._-] and writes any other
 *               byte as %XX, so the tail after the last '+' has no '+'
 *               and splits on '='.  A bounce sent to that address tells
 *               bouncd whom it is about even when the bounce itself
 *               does not say (or says a forwarded address).  The job,
 *               then the VirtualMTA, are left out when the local part
 *               would pass 64 octets; when even the recipient does not
 *               fit, or for the null sender, the sender stays as it is.
 * Used by:      deliverd (encode), bouncd (decode).
 * Trust:        decode takes hostile input: every part is bounded and
 *               the recipient must parse as an address.
 * Spool access: none.
 *               With verp-secret the form ends in a tag that only Tern
 *               can make, so a forged bounce cannot suppress whom it
 *               likes.
 * See:          tern.yaml(5) verp, bouncd(8).
 */
#ifndef TERN_VERP_H
#define TERN_VERP_H

#include <stdbool.h>
#include <stddef.h>

#include "mailaddr.h"

#define VERP_TAG_LEN	10	/* hex digits of the HMAC kept */

struct verp {
	char	 rcpt[MAILADDR_MAX + 1];
	char	 vmta[65];
	char	 job[129];
	bool	 verified;	/* its tag checked with the secret */
};

/*
 * 0 and out filled, or -1 (out = sender unchanged).  With a secret
 * (verp-secret) a last part, VERP_TAG_LEN hex digits of
 * HMAC-SHA256(secret, "rcpt\nvmta\njob"), signs the rest.
 */
int	 verp_encode(const char *sender, const char *rcpt, const char *vmta,
	    const char *job, const char *secret, char *out, size_t outsz);
/*
 * 0 when addr is a VERP address, -1 otherwise.  With a secret, a valid
 * tag sets verified; an address without one still decodes (mail sent
 * before the secret was set), unverified.
 */
int	 verp_decode(const char *addr, const char *secret, struct verp *);

#endif
