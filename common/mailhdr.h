/*
 * mailhdr.h - the few RFC 5322 header facts Tern needs from a message.
 *
 * Purpose:      find the From field of a header block and the domain of
 *               its one author, for choosing a DKIM signing key.
 * Used by:      queued (at commit, before asking dkimd for a signature).
 * Trust:        the bytes come from an SMTP client: hostile.  Every
 *               size is bounded, nothing is allocated, and anything
 *               ambiguous (no From, two From fields, two authors, a
 *               group, an unbalanced comment or quote, an address
 *               literal, a domain that is not a hostname) is refused
 *               with a reason rather than guessed at.
 * Spool access: none (the caller reads the file).
 * See:          RFC 5322 3.4 and 3.6.2, RFC 6376 5.4.
 */
#ifndef TERN_MAILHDR_H
#define TERN_MAILHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "mailaddr.h"

#define MAILHDR_FROM_MAX	2048	/* an unfolded From value */

/*
 * mailhdr_from_domain - the lowercased domain of the author in the
 * header block at p (the message from its start; it may go on past the
 * blank line).  whole: p holds the entire message, so a header block
 * without a blank line ends at n; otherwise such a block is refused as
 * too long.  0, or -1 with *why.
 */
int	 mailhdr_from_domain(const char *p, size_t n, bool whole,
	    char dom[MAILADDR_DOMAIN_MAX + 1], const char **why);

/* mailhdr_author_domain - the same for one unfolded From value */
int	 mailhdr_author_domain(const char *v, char dom[MAILADDR_DOMAIN_MAX + 1],
	    const char **why);

#endif
