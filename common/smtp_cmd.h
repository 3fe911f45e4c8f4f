/*
 * smtp_cmd.h - the SMTP server's command-line parser.
 *
 * Purpose:      split a command line into a verb and its arguments;
 *               parse MAIL FROM / RCPT TO paths and their ESMTP
 *               parameters: SIZE, BODY, AUTH (ignored), and the DSN
 *               parameters of RFC 3461 (RET, ENVID on MAIL; NOTIFY,
 *               ORCPT on RCPT).  Any other parameter is refused with
 *               555, a parameter given twice with 501.  Also the xtext
 *               codec (RFC 3461 4) and the checks that say which DSN
 *               values may be stored (the spool uses them too).
 * Used by:      smtpd; spool.c (dsn_*_ok); later deliverd (xtext_encode).
 * Trust:        hostile input, already bounded to the line limit.
 * Spool access: none.
 * See:          smtpd(8), RFC 3461.
 */
#ifndef TERN_SMTP_CMD_H
#define TERN_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailaddr.h"

enum smtp_verb {
	SMTP_UNKNOWN = 0, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT,
	SMTP_DATA, SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN,
	SMTP_HELP, SMTP_STARTTLS, SMTP_AUTH, SMTP_BDAT, SMTP_VERB_MAX
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*args;		/* after the verb and blanks */
};

enum smtp_body { BODY_7BIT, BODY_8BITMIME };

/* DSN (RFC 3461).  Decoded values are printable US-ASCII (0x20-0x7e). */
#define DSN_ENVID_MAX		100	/* decoded ENVID */
#define DSN_ORCPT_MAX		500	/* "addr-type;decoded-address" */

enum dsn_ret { DSN_RET_NONE = 0, DSN_RET_FULL, DSN_RET_HDRS };

#define DSN_NOTIFY_NEVER	0x01
#define DSN_NOTIFY_SUCCESS	0x02
#define DSN_NOTIFY_FAILURE	0x04
#define DSN_NOTIFY_DELAY	0x08	/* 0: not given (default: FAILURE,
					   and DELAY at the MTA's choice) */

struct smtp_mail_args {
	struct mailaddr	 addr;
	bool		 is_null;
	uint64_t	 size;		/* SIZE=, 0 when absent */
	enum smtp_body	 body;
	enum dsn_ret	 ret;		/* RET=, DSN_RET_NONE when absent */
	char		 envid[DSN_ENVID_MAX + 1]; /* decoded, "" if none */
};

struct smtp_rcpt_args {
	struct mailaddr	 addr;
	unsigned	 notify;	/* DSN_NOTIFY_* bits, 0 when absent */
	/*
	 * ORCPT: "rfc822;decoded-address" (the type lowercased), another
	 * addr-type as given with its decoded value (only echoed), or "".
	 */
	char		 orcpt[DSN_ORCPT_MAX + 1];
};

/* Each returns 0, or -1 with an SMTP reply (code, enhanced code, text). */
int	smtp_cmd_parse(char *line, struct smtp_cmd *);
int	smtp_parse_mail(const char *args, struct smtp_mail_args *,
	    const char **reply);
int	smtp_parse_rcpt(const char *args, struct smtp_rcpt_args *,
	    const char **reply);
const char *smtp_verb_name(enum smtp_verb);

/*
 * xtext_decode - RFC 3461 4 xtext into out; the decoded octets must be
 * printable US-ASCII.  Returns the decoded length, or -1 (malformed "+",
 * lowercase hex, a character outside 33..126, "=", an unprintable
 * result, or more than outsz - 1 octets).
 * xtext_encode - the reverse; returns the length of the whole encoding
 * (as strlcpy does: out was cut, at a character boundary, if it is
 * >= outsz).  out is always terminated when outsz > 0.
 */
int	xtext_decode(const char *in, char *out, size_t outsz);
size_t	xtext_encode(const char *in, char *out, size_t outsz);

/* What the spool accepts: the same rules as the parser. */
bool	dsn_notify_ok(unsigned);
bool	dsn_text_ok(const char *, size_t max);
bool	dsn_orcpt_ok(const char *);

#endif
