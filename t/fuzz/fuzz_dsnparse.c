/*
 * fuzz_dsnparse.c - libFuzzer harness for the bounce and ARF parser
 *                   (common/dsnparse.c).
 *
 * Purpose:      the input is a whole message as it comes back to a
 *               bounce or feedback-loop address: any bytes, NULs
 *               included.  It goes to dsn_parse and dsn_categorize.
 *               Checked beyond "no sanitizer report": the count
 *               returned is the reports plus one for ARF, no more than
 *               DSN_REPORTS_MAX reports, every string NUL-terminated
 *               inside its field and free of line breaks, every status
 *               empty or x.y.z, and every report has a category.
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/dsnparse.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dsnparse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_str(const char *s, size_t sz)
{
	const char *e = memchr(s, '\0', sz);

	if (e == NULL || memchr(s, '\n', (size_t)(e - s)) != NULL ||
	    memchr(s, '\r', (size_t)(e - s)) != NULL)
		abort();
}

static void
check_status(const char *s)
{
	if (*s == '\0')
		return;
	if (strchr("245", s[0]) == NULL || s[1] != '.' ||
	    strchr(s + 2, '.') == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bcat_table	*bt;
	static struct dsn_result	 res;
	struct tern_config		 cfg;
	const char			*err;
	size_t				 n, i;

	if (bt == NULL) {
		memset(&cfg, 0, sizeof(cfg));
		if ((bt = bcat_compile(&cfg, &err)) == NULL)
			abort();
	}
	n = dsn_parse((const char *)data, size, &res);
	dsn_categorize(&res, bt);
	if (res.n > DSN_REPORTS_MAX || n != res.n + (res.arf.present ? 1 : 0))
		abort();
	for (i = 0; i < res.n; i++) {
		check_str(res.r[i].rcpt, sizeof(res.r[i].rcpt));
		check_str(res.r[i].status, sizeof(res.r[i].status));
		check_str(res.r[i].diag, sizeof(res.r[i].diag));
		check_str(res.r[i].rmta, sizeof(res.r[i].rmta));
		check_str(res.r[i].action, sizeof(res.r[i].action));
		check_status(res.r[i].status);
		if (res.r[i].category == NULL)
			abort();
	}
	check_str(res.arf.type, sizeof(res.arf.type));
	check_str(res.arf.orig_rcpt, sizeof(res.arf.orig_rcpt));
	check_str(res.arf.source_ip, sizeof(res.arf.source_ip));
	check_str(res.msgid, sizeof(res.msgid));
	check_str(res.xjob, sizeof(res.xjob));
	return 0;
}
