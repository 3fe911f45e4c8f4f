/*
 * acctrow.c - pieces of a PowerMTA-format accounting row.
 *
 * Purpose:      see acctrow.h.  The extra columns come in one fixed
 *               order (the table below), whatever order extra-fields
 *               lists them in, so the header written at rotation and
 *               every row agree.
 * Used by:      queued, bouncd.
 * Trust:        see acctrow.h.
 * Spool access: none.
 * See:          tern.yaml(5) accounting.
 */
#include <stdio.h>
#include <string.h>

#include "acctrow.h"
#include "config.h"

void
acct_field(struct buf *b, const char *s, bool comma)
{
	const char *p;
	bool	    quote = false;

	if (comma)
		buf_add(b, ",", 1);
	if (s == NULL)
		return;
	for (p = s; *p != '\0'; p++)
		if (*p == ',' || *p == '"' || *p == '\r' || *p == '\n')
			quote = true;
	if (quote)
		buf_add(b, "\"", 1);
	for (p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			buf_add(b, "\"\"", 2);
		else if (c < 0x20 || c == 0x7f)
			buf_add(b, " ", 1);
		else
			buf_add(b, p, 1);
	}
	if (quote)
		buf_add(b, "\"", 1);
}

void
acct_time(time_t t, char *out, size_t sz)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, sz, "%Y-%m-%d %H:%M:%S%z", &tm);
}

static void
tls_part(const char *tls, int which, char *out, size_t sz)
{
	const char *p = tls ? tls : "";

	if (which == 1) {
		p = strchr(p, ':');
		p = p ? p + 1 : "";
	}
	snprintf(out, sz, "%.*s", (int)strcspn(p, ":"), p);
}

void
acct_extras(struct buf *b, unsigned mask, const struct acct_extra *x)
{
	char t[96];

	if (mask & ACCTX_TLSPROTO) {
		tls_part(x->tls, 0, t, sizeof(t));
		acct_field(b, t, true);
	}
	if (mask & ACCTX_TLSCIPHER) {
		tls_part(x->tls, 1, t, sizeof(t));
		acct_field(b, t, true);
	}
	if (mask & ACCTX_FBTYPE)
		acct_field(b, x->feedback_type, true);
	if (mask & ACCTX_UA)
		acct_field(b, x->user_agent, true);
	if (mask & ACCTX_REPSRC)
		acct_field(b, x->rep_source_ip, true);
	if (mask & ACCTX_REPMTA)
		acct_field(b, x->reporting_mta, true);
	if (mask & ACCTX_DSNREPMTA)
		acct_field(b, x->dsn_reporting_mta, true);
	if (mask & ACCTX_RCVSRC)
		acct_field(b, x->rcv_source_ip, true);
}

void
acct_extra_header(struct buf *b, unsigned mask)
{
	static const struct { unsigned bit; const char *name; } cols[] = {
		{ ACCTX_TLSPROTO, "dlvTlsProtocol" },
		{ ACCTX_TLSCIPHER, "dlvTlsCipher" },
		{ ACCTX_FBTYPE, "feedbackType" },
		{ ACCTX_UA, "userAgent" },
		{ ACCTX_REPSRC, "repSourceIp" },
		{ ACCTX_REPMTA, "reportingMta" },
		{ ACCTX_DSNREPMTA, "dsnReportingMta" },
		{ ACCTX_RCVSRC, "rcvSourceIp" },
	};
	size_t i;

	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (mask & cols[i].bit) {
			buf_add(b, ",", 1);
			buf_addstr(b, cols[i].name);
		}
}
