/*
 * mailaddr.h - RFC 5321 paths and addresses.
 *
 * Purpose:      parse "<local@domain>" (with an optional source route,
 *               which is dropped), the null path "<>", and check
 *               local-part and domain syntax and lengths.
 * Used by:      smtpd (MAIL/RCPT), queued (re-validates what smtpd sends).
 * Trust:        input straight from SMTP clients.
 * Spool access: none.
 * See:          smtpd(8).
 */
#ifndef TERN_MAILADDR_H
#define TERN_MAILADDR_H

#include <stdbool.h>
#include <stddef.h>

#define MAILADDR_LOCAL_MAX	64
#define MAILADDR_DOMAIN_MAX	255
#define MAILADDR_MAX		256	/* RFC 5321 4.5.3.1.3 path limit */

struct mailaddr {
	char	 local[MAILADDR_LOCAL_MAX + 3];	/* may be quoted */
	char	 domain[MAILADDR_DOMAIN_MAX + 1];	/* lowercased */
};

/*
 * mailaddr_parse_path - parse a path at s; on success *end points after
 * the closing '>'.  null_ok allows "<>".  Returns 0 or -1 with *why.
 */
int	 mailaddr_parse_path(const char *s, bool null_ok, struct mailaddr *,
	    bool *is_null, const char **end, const char **why);
int	 mailaddr_parse(const char *s, struct mailaddr *, const char **why);
bool	 mailaddr_domain_ok(const char *);
void	 mailaddr_format(const struct mailaddr *, char *, size_t);

#endif
