/*
 * fuzz_mailhdr.c - libFuzzer harness for the From parser
 *                  (common/mailhdr.c).
 *
 * Purpose:      the input is the start of a message as queued reads it
 *               at commit to pick a DKIM key: any bytes, NULs included.
 *               It goes to mailhdr_from_domain twice (as the whole
 *               message and as a block cut at the read limit) and, up to
 *               its first NUL, to mailhdr_author_domain.  A domain
 *               accepted must be lowercase and a valid host name, and
 *               each refusal must come with a reason.
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/mailhdr.h.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhdr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int rc, const char *dom, const char *why)
{
	const char *p;

	if (rc == -1) {
		if (why == NULL || *why == '\0')
			abort();
		return;
	}
	if (rc != 0 || !mailaddr_domain_ok(dom) || dom[0] == '[')
		abort();
	for (p = dom; *p != '\0'; p++)
		if (isupper((unsigned char)*p))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 dom[MAILADDR_DOMAIN_MAX + 1];
	char		*s;
	const char	*why;
	bool		 whole;
	int		 rc;

	for (whole = false; ; whole = true) {
		why = NULL;
		rc = mailhdr_from_domain((const char *)data, size, whole, dom,
		    &why);
		check(rc, dom, why);
		if (whole)
			break;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	why = NULL;
	rc = mailhdr_author_domain(s, dom, &why);
	check(rc, dom, why);
	free(s);
	return 0;
}
