/*
 * acctrow.h - pieces of a PowerMTA-format accounting row.
 *
 * Purpose:      the RFC 4180 field writer, the time format and the
 *               extra-fields columns, shared by queued (d, b, t, tq)
 *               and bouncd (rb, f) so every row of the file has the
 *               same columns in the same order.
 * Used by:      queued, bouncd.
 * Trust:        values may be remote text: control characters become
 *               spaces, quotes are doubled.
 * Spool access: none.
 * See:          tern.yaml(5) accounting.
 */
#ifndef TERN_ACCTROW_H
#define TERN_ACCTROW_H

#include <stdbool.h>
#include <time.h>

#include "util.h"

/* Values for the extra-fields columns; NULL or "" leaves one empty. */
struct acct_extra {
	const char	*tls;		/* "protocol:cipher[:resumed]" */
	const char	*feedback_type;
	const char	*user_agent;
	const char	*rep_source_ip;	/* the source IP an ARF report names */
	const char	*reporting_mta;	/* of an ARF report */
	const char	*dsn_reporting_mta;
	const char	*rcv_source_ip;	/* who sent us the rb/f mail */
};

void	 acct_field(struct buf *, const char *, bool comma);
void	 acct_time(time_t, char *, size_t);
void	 acct_extras(struct buf *, unsigned mask, const struct acct_extra *);
/* The header line's extra column names for mask, each after a comma. */
void	 acct_extra_header(struct buf *, unsigned mask);

#endif
