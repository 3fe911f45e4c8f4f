/*
 * fuzz_verp.c - libFuzzer harness for VERP return paths (common/verp.c).
 *
 * Purpose:      the input is the address a bounce was sent to: any bytes
 *               up to the first NUL.  verp_decode must refuse it or give
 *               a recipient that parses as an address; what it gives must
 *               encode again and decode to the same recipient (and to
 *               the same VirtualMTA and job when they fit).
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/verp.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 in[512], out[MAILADDR_MAX + 1];
	struct verp	 v, w;
	struct mailaddr	 a;
	const char	*why;

	if (size >= sizeof(in))
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	in[size] = '\0';
	if (verp_decode(in, (size & 1) ? "fuzz-secret-key" : NULL, &v) == -1)
		return 0;
	if (v.verified)
		abort();	/* a random input forged a tag */
	if (mailaddr_parse(v.rcpt, &a, &why) == -1)
		abort();
	if (verp_encode("b@bounces.test", v.rcpt, v.vmta, v.job, "k-e-y", out,
	    sizeof(out)) == -1)
		return 0;
	if (verp_decode(out, "k-e-y", &w) == -1 || !w.verified ||
	    strcmp(w.rcpt, v.rcpt) != 0)
		abort();
	if (w.job[0] != '\0' && (strcmp(w.job, v.job) != 0 ||
	    strcmp(w.vmta, v.vmta) != 0))
		abort();
	return 0;
}
