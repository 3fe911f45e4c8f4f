/*
 * dsngen.h - the delivery status notification (bounce) Tern sends.
 *
 * Purpose:      build one complete RFC 3464 report, an RFC 5322 message
 *               with CRLF line ends: multipart/report with a text/plain
 *               explanation, a message/delivery-status part (one group
 *               per recipient) and the original message, whole
 *               (message/rfc822) or its header block only
 *               (text/rfc822-headers).  A pure function: it reads the
 *               original with pread and draws random bytes, nothing else.
 * Used by:      queued (injects the report with a null envelope sender).
 * Trust:        the original message and the remote replies are hostile:
 *               every value put in a header field is cut to a bound,
 *               control characters and 8-bit bytes are replaced, long
 *               values are folded, every line is at most 998 bytes and
 *               ends in CRLF, and the MIME boundary is random and
 *               checked not to occur in any part.
 * Spool access: reads the caller's fd (the message file) with pread;
 *               never opens, writes or seeks.
 * See:          RFC 3464, RFC 3461 (ORCPT, ENVID, RET), RFC 6522,
 *               RFC 3834, RFC 5322, common/dsnparse.h (the reverse).
 */
#ifndef TERN_DSNGEN_H
#define TERN_DSNGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define DSNGEN_FIELD_MAX	1000	/* bytes kept of an address, host, id */
#define DSNGEN_DIAG_MAX		4000	/* bytes kept of one remote reply */
#define DSNGEN_BOUNDARY_PREFIX	"=_tern-"
#define DSNGEN_BOUNDARY_RANDOM	16	/* random bytes, hex in the boundary */
#define DSNGEN_MSGID_RANDOM	8	/* random bytes, hex in Message-ID */
#define DSNGEN_BOUNDARY_TRIES	8

struct dsngen_rcpt {
	const char	*rcpt;		/* the recipient address */
	const char	*orcpt;		/* ORCPT as given ("rfc822;a@b"), or NULL */
	const char	*action;	/* "failed", "delivered", "delayed" */
	const char	*status;	/* "5.1.1" */
	const char	*diag;		/* remote reply text ("550 5.1.1 no such user") or NULL */
	const char	*remote_mta;	/* remote host name or NULL */
};

struct dsngen {
	const char	*reporting_mta;	/* our host name */
	const char	*to;		/* the original envelope sender: the NDR goes to it */
	const char	*envid;		/* ENVID or NULL */
	const char	*queue_id;	/* our id of the original message */
	time_t		 arrival;	/* when we received the original */
	time_t		 now;		/* Date: of the report (tests pass a fixed time) */
	bool		 ret_full;	/* RET=FULL: return the whole message, else headers only */
	int		 fd;		/* the original message (headers+body, CRLF), read with pread */
	uint64_t	 off, len;	/* its span in fd */
	uint64_t	 max_return;	/* at most this many bytes of the original; over it, headers only */
	unsigned	 nrcpt;
	const struct dsngen_rcpt *rcpts;
	/*
	 * The random source: fill the n bytes at p, 0 or -1.  NULL (the
	 * normal case): getrandom(2).  Tests pass a predictable one.
	 */
	int		(*random)(void *p, size_t n);
};

/*
 * dsngen_build - the whole report into out, which the caller has set up
 * with buf_init (its max bounds the report; about 2 * max_return plus
 * 20 KiB per recipient always fits).  out is reset first, and again on
 * error.  The envelope sender of the report must be null (MAIL FROM:<>).
 * ORCPT and ENVID are taken in their SMTP (xtext) form and decoded.
 * The report is 7-bit unless the returned original has 8-bit bytes: it
 * then says "Content-Transfer-Encoding: 8bit" (send with BODY=8BITMIME).
 * It is not dot-stuffed.  0, or -1 with *why.
 */
int	dsngen_build(const struct dsngen *, struct buf *out, const char **why);

#endif
