/*
 * smtp_cmd.h - the SMTP server's command-line parser.
 *
 * Purpose:      split a command line into a verb and its arguments;
 *               parse MAIL FROM / RCPT TO paths and their ESMTP
 *               parameters (SIZE, BODY; the rest are refused until the
 *               extension is offered).
 * Used by:      smtpd.
 * Trust:        hostile input, already bounded to the line limit.
 * Spool access: none.
 * See:          smtpd(8).
 */
#ifndef TERN_SMTP_CMD_H
#define TERN_SMTP_CMD_H

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

struct smtp_mail_args {
	struct mailaddr	 addr;
	bool		 is_null;
	uint64_t	 size;		/* SIZE=, 0 when absent */
	enum smtp_body	 body;
};

struct smtp_rcpt_args {
	struct mailaddr	 addr;
};

/* Each returns 0, or -1 with an SMTP reply (code, enhanced code, text). */
int	smtp_cmd_parse(char *line, struct smtp_cmd *);
int	smtp_parse_mail(const char *args, struct smtp_mail_args *,
	    const char **reply);
int	smtp_parse_rcpt(const char *args, struct smtp_rcpt_args *,
	    const char **reply);
const char *smtp_verb_name(enum smtp_verb);

#endif
