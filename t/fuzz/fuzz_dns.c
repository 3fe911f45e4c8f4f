/*
 * fuzz_dns.c - libFuzzer harness for dnsmx_parse (common/dnsmx.c).
 *
 * Purpose:      the input is a DNS answer, parsed twice:
 *                 1. as an answer to query id 0x1234 for "example.com";
 *                 2. as "ID(2 bytes) QNAME NUL answer": id and name come
 *                    from the input (so every compare can be reached),
 *                    and the query for that name is built too.
 *               The result must be well formed: DNS_OK with at least one
 *               record, NODATA and NXDOMAIN with none, at most MX_MAX,
 *               each host NUL-terminated, at most DNS_NAME_MAX long and
 *               made of host-name bytes only (TEMPFAIL may leave records
 *               behind; deliverd ignores them, they must still be sane).
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/dnsmx.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmx.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FIXED_ID	0x1234
#define FIXED_NAME	"example.com"

static void
check(enum dns_status st, const struct mx_result *r)
{
	unsigned i;

	if (st != DNS_OK && st != DNS_NODATA && st != DNS_NXDOMAIN &&
	    st != DNS_TEMPFAIL)
		abort();
	/* A temporary failure may leave records behind: nobody reads them. */
	if (r->n > MX_MAX || (st == DNS_OK && r->n == 0) ||
	    ((st == DNS_NODATA || st == DNS_NXDOMAIN) && r->n != 0))
		abort();
	for (i = 0; i < r->n; i++) {
		const char *h = r->mx[i].host;
		size_t	    n = strnlen(h, sizeof(r->mx[i].host));

		if (n > DNS_NAME_MAX || strspn(h, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_result r;
	uint8_t		 q[512];
	char		 name[DNS_NAME_MAX + 1];
	const uint8_t	*nul;
	uint16_t	 id;
	size_t		 n;

	check(dnsmx_parse(data, size, FIXED_ID, FIXED_NAME, &r), &r);

	if (size < 2)
		return 0;
	id = (uint16_t)(data[0] << 8 | data[1]);
	if ((nul = memchr(data + 2, '\0', size - 2)) == NULL)
		return 0;
	n = (size_t)(nul - (data + 2));
	if (n > DNS_NAME_MAX)		/* dnsmx_lookup keeps 255 bytes */
		return 0;
	memcpy(name, data + 2, n);
	name[n] = '\0';
	(void)dnsmx_build_query(name, id, q, sizeof(q));
	check(dnsmx_parse(nul + 1, size - (size_t)(nul + 1 - data), id, name,
	    &r), &r);
	return 0;
}
