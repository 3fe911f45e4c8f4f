/*
 * fuzz_smtp.c - libFuzzer harness for the SMTP command parsers
 *               (common/smtp_cmd.c, common/mailaddr.c).
 *
 * Purpose:      the input is one command line, made NUL-terminated as
 *               smtpd's one_line() makes it (it refuses lines with a NUL,
 *               so the input stops at its first NUL; it has no CRLF).
 *               The line goes through smtp_cmd_parse, then its arguments
 *               through smtp_parse_mail and smtp_parse_rcpt (whatever the
 *               verb, for coverage), and the line and arguments through
 *               mailaddr_parse_path and (when at most MAILADDR_MAX bytes,
 *               as its callers guarantee) mailaddr_parse.  Every address
 *               accepted must be one smtpd can pass on: a local part of
 *               at most 64 bytes, a valid domain, and for a path
 *               "local@domain" within the 256-byte path limit, "<" and
 *               ">" included (smtpd formats it into MAILADDR_MAX + 1
 *               bytes and sends that to queued).
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/smtp_cmd.h, common/mailaddr.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "smtp_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define LINE_MAX_FUZZ	2048		/* smtpd.h SMTP_CMD_LINE_MAX */
#define PATH_MBOX_MAX	(MAILADDR_MAX - 2)	/* "<" mailbox ">" */

/*
 * addr_ok - what an accepted address must be.  A path's mailbox must fit
 * the path limit; a bare address (mailaddr_parse, which queued and
 * deliverd call on strings of at most MAILADDR_MAX bytes) must at least
 * format back into MAILADDR_MAX + 1 bytes whole.
 */
static void
addr_ok(const struct mailaddr *a, size_t max)
{
	char	 out[MAILADDR_MAX + 1];
	size_t	 ll = strnlen(a->local, sizeof(a->local));
	size_t	 dl = strnlen(a->domain, sizeof(a->domain));

	if (ll == 0 || ll > MAILADDR_LOCAL_MAX || dl == 0 ||
	    dl > MAILADDR_DOMAIN_MAX || !mailaddr_domain_ok(a->domain))
		abort();
	/* smtpd: mailaddr_format into MAILADDR_MAX + 1, sent to queued. */
	if (ll + 1 + dl > max)
		abort();
	mailaddr_format(a, out, sizeof(out));
	if (strlen(out) != ll + 1 + dl)
		abort();
}

static void
paths(const char *s)
{
	struct mailaddr	 a;
	const char	*end, *why;
	bool		 is_null;

	if (mailaddr_parse_path(s, true, &a, &is_null, &end, &why) == 0) {
		if (end < s || end > s + strlen(s))
			abort();
		if (!is_null)
			addr_ok(&a, PATH_MBOX_MAX);
	}
	if (mailaddr_parse_path(s, false, &a, &is_null, &end, &why) == 0) {
		if (is_null || end < s || end > s + strlen(s))
			abort();
		addr_ok(&a, PATH_MBOX_MAX);
	}
	if (strlen(s) <= MAILADDR_MAX && mailaddr_parse(s, &a, &why) == 0)
		addr_ok(&a, MAILADDR_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd		 c;
	struct smtp_mail_args	 ma;
	struct smtp_rcpt_args	 ra;
	const char		*reply;
	char			*line;
	size_t			 n;

	n = strnlen((const char *)data, size);
	if (n > LINE_MAX_FUZZ)
		n = LINE_MAX_FUZZ;
	line = malloc(n + 1);
	if (line == NULL)
		abort();
	memcpy(line, data, n);
	line[n] = '\0';

	paths(line);
	if (smtp_cmd_parse(line, &c) == 0) {
		if (c.verb <= SMTP_UNKNOWN || c.verb >= SMTP_VERB_MAX ||
		    c.args < line || c.args > line + n)
			abort();
		(void)smtp_verb_name(c.verb);
		if (smtp_parse_mail(c.args, &ma, &reply) == 0) {
			if (!ma.is_null)
				addr_ok(&ma.addr, PATH_MBOX_MAX);
		} else if (reply == NULL)
			abort();
		if (smtp_parse_rcpt(c.args, &ra, &reply) == 0)
			addr_ok(&ra.addr, PATH_MBOX_MAX);
		else if (reply == NULL)
			abort();
		paths(c.args);
	}
	free(line);
	return 0;
}
