/*
 * test_verp.c - VERP return paths: encode, decode, limits, hostile input.
 *
 * Purpose:      round trips (recipient, VirtualMTA, job) through
 *               verp_encode/verp_decode, the 64-octet local part rule
 *               (the job, then the VirtualMTA, are dropped), encoding of
 *               '+', '=', '%' and other bytes, and decode refusing what
 *               is not a VERP address or is malformed.
 * Used by:      t/00-unit.t.
 * Trust:        test code.
 * Spool access: none.
 * See:          common/verp.h.
 */
#include <string.h>

#include "tap.h"
#include "util.h"
#include "verp.h"

static void
roundtrip(const char *sender, const char *rcpt, const char *vmta,
    const char *job, const char *want, const char *wvmta, const char *wjob)
{
	char		 out[MAILADDR_MAX + 1];
	struct verp	 v;
	int		 r = verp_encode(sender, rcpt, vmta, job, out, sizeof(out));

	if (want == NULL) {
		is_int(r, -1, "encode %s refused", rcpt);
		is_str(out, sender, "sender unchanged for %s", rcpt);
		return;
	}
	is_int(r, 0, "encode %s", rcpt);
	is_str(out, want, "VERP form of %s", rcpt);
	is_int(verp_decode(out, &v), 0, "decode %s", out);
	is_str(v.rcpt, rcpt, "recipient back from %s", out);
	is_str(v.vmta, wvmta, "vmta back from %s", out);
	is_str(v.job, wjob, "job back from %s", out);
}

int
main(void)
{
	static const char *bad[] = {
		"bounce@bounces.test",			/* no tail */
		"bounce+alice@bounces.test",		/* no '=' */
		"bounce+alice=d.test=m=j=x@b.test",	/* too many parts */
		"bounce+a%2=d.test@b.test",		/* cut escape */
		"bounce+a%ZZ=d.test@b.test",		/* bad escape */
		"bounce+a%00=d.test@b.test",		/* NUL */
		"bounce+=d.test@b.test",		/* empty local */
		"bounce+a=@b.test",			/* empty domain */
		"bounce+a b=d.test@b.test",		/* space */
		"bounce+a=d..test@b.test",		/* bad domain */
		"",
		"@",
	};
	char	 big[400];
	struct verp v;
	size_t	 i;

	roundtrip("bounce@bounces.test", "alice@dest.test", "mta1", "J1",
	    "bounce+alice=dest.test=mta1=J1@bounces.test", "mta1", "J1");
	roundtrip("bounce@bounces.test", "alice@dest.test", "mta1", "",
	    "bounce+alice=dest.test=mta1@bounces.test", "mta1", "");
	roundtrip("b+x@bounces.test", "a+tag=1%@dest.test", "mta1", "j/1",
	    "b+x+a%2Btag%3D1%25=dest.test=mta1=j%2F1@bounces.test", "mta1",
	    "j/1");
	/* Over 64 octets: the job goes, then the vmta. */
	roundtrip("bounce@b.test", "someone.with.a.long.name@dest.test",
	    "mta-number-one", "campaign-2026-11-23-newsletter",
	    "bounce+someone.with.a.long.name=dest.test=mta-number-one@b.test",
	    "mta-number-one", "");
	roundtrip("bounce@b.test",
	    "someone.with.a.much.longer.name.here@dest.example.test",
	    "mta-number-one", "J",
	    "bounce+someone.with.a.much.longer.name.here=dest.example.test"
	    "@b.test", "", "");
	memset(big, 'x', 70);
	memcpy(big + 70, "@dest.test", 11);
	roundtrip("bounce@b.test", big, "m", "j", NULL, NULL, NULL);
	roundtrip("", "alice@dest.test", "m", "j", NULL, NULL, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(verp_decode(bad[i], &v), -1, "decode refuses \"%s\"",
		    bad[i]);
	return done_testing();
}
