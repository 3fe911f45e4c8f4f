/*
 * dsnparse.h - what a bounce or a complaint says: failed recipients,
 *              status codes, replies, and the message they are about.
 *
 * Purpose:      read one whole message that came back to us and return
 *               its delivery reports: RFC 3464 message/delivery-status
 *               parts (per-recipient blocks, folded Diagnostic-Code),
 *               RFC 5965 message/feedback-report parts (ARF), and, when
 *               there is no machine-readable part, a heuristic reading
 *               of the human text the common MTAs send (Postfix, Exim,
 *               Sendmail, qmail, Exchange, Gmail, Yahoo, SES, ...).  The
 *               returned headers (Message-ID, X-Job, Return-Path) tie a
 *               report back to the mail Tern sent.
 * Used by:      tern classify; later bouncd.
 * Trust:        the message is hostile: every field is cut to a fixed
 *               size, MIME nesting, the number of parts and of reports
 *               are bounded, NUL bytes are data, nothing is trusted to
 *               be well formed.
 * Spool access: none (the caller reads the file).
 * See:          RFC 3464, RFC 3463, RFC 5965, RFC 2045, common/bouncecat.h.
 */
#ifndef TERN_DSNPARSE_H
#define TERN_DSNPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "bouncecat.h"

#define DSN_INPUT_MAX	(16u << 20)	/* bytes read of one message */
#define DSN_REPORTS_MAX	64		/* recipients reported per message */
#define DSN_ADDR_MAX	256
#define DSN_STATUS_MAX	16
#define DSN_DIAG_MAX	512
#define DSN_SHORT_MAX	128

struct dsn_report {
	char		 rcpt[DSN_ADDR_MAX];	/* Final-, else Original- */
	char		 status[DSN_STATUS_MAX];	/* x.y.z */
	char		 diag[DSN_DIAG_MAX];	/* one line */
	char		 rmta[DSN_ADDR_MAX];	/* Remote-MTA, or "" */
	char		 action[DSN_SHORT_MAX];	/* failed, delayed, ... */
	char		 cmd[8];		/* MAIL, RCPT, DATA: what the
						   reply answered, or "" */
	const char	*category;		/* set by dsn_categorize */
	bool		 heuristic;		/* not from a DSN part */
};

struct dsn_arf {
	bool		 present;
	char		 type[DSN_SHORT_MAX];	/* Feedback-Type: abuse, ... */
	char		 orig_rcpt[DSN_ADDR_MAX];
	char		 source_ip[DSN_SHORT_MAX];
	char		 user_agent[DSN_SHORT_MAX];
};

struct dsn_result {
	size_t		 n;
	struct dsn_report r[DSN_REPORTS_MAX];
	struct dsn_arf	 arf;
	char		 reporting_mta[DSN_ADDR_MAX];	/* of the DSN */
	char		 msgid[DSN_ADDR_MAX];	/* of the returned message */
	char		 xjob[DSN_SHORT_MAX];
	char		 env_from[DSN_ADDR_MAX];
	char		 orig_to[DSN_ADDR_MAX];
};

/*
 * dsn_parse - fill *res from the message p[0..n) (n is cut to
 * DSN_INPUT_MAX).  Returns the number of reports plus one for an ARF
 * report: 0 when the message says nothing we can read.  Never fails
 * otherwise; allocates only temporaries.
 */
size_t	 dsn_parse(const char *p, size_t n, struct dsn_result *res);

/* dsn_categorize - a PowerMTA category for each report (bcat_classify) */
void	 dsn_categorize(struct dsn_result *, const struct bcat_table *);

#endif
