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
	int		 r = verp_encode(sender, rcpt, vmta, job, NULL, out,
			    sizeof(out));

	if (want == NULL) {
		is_int(r, -1, "encode %s refused", rcpt);
		is_str(out, sender, "sender unchanged for %s", rcpt);
		return;
	}
	is_int(r, 0, "encode %s", rcpt);
	is_str(out, want, "VERP form of %s", rcpt);
	is_int(verp_decode(out, NULL, &v), 0, "decode %s", out);
	is_str(v.rcpt, rcpt, "recipient back from %s", out);
	is_str(v.vmta, wvmta, "vmta back from %s", out);
	is_str(v.job, wjob, "job back from %s", out);
}

/* With a secret: a tag that verifies, and any change breaks it. */
static void
test_signed(void)
{
	char		 out[MAILADDR_MAX + 1], bad[MAILADDR_MAX + 1];
	struct verp	 v;
	char		*p;

	is_int(verp_encode("bounce@b.test", "alice@dest.test", "mta1", "J1",
	    "k3y-of-sixteen-chars", out, sizeof(out)), 0, "signed encode");
	ok(strncmp(out, "bounce+alice=dest.test=mta1=J1=", 31) == 0 &&
	    strlen(out) == 31 + VERP_TAG_LEN + strlen("@b.test"),
	    "signed form ends in a %d-digit tag: %s", VERP_TAG_LEN, out);
	is_int(verp_decode(out, "k3y-of-sixteen-chars", &v), 0, "decode");
	ok(v.verified, "the tag verifies");
	is_str(v.rcpt, "alice@dest.test", "recipient");
	is_str(v.job, "J1", "job (not the tag)");
	is_int(verp_decode(out, "another-key-entirely", &v), 0,
	    "another key: still decodes");
	ok(!v.verified, "... but does not verify");
	/* A forger changes the recipient and keeps the tag. */
	memcpy(bad, out, sizeof(bad));
	p = strstr(bad, "alice");
	memcpy(p, "mallo", 5);
	is_int(verp_decode(bad, "k3y-of-sixteen-chars", &v), 0,
	    "forged recipient decodes");
	ok(!v.verified, "forged recipient does not verify");
	/* Unsigned (mail sent before the secret): decodes, unverified. */
	is_int(verp_decode("bounce+alice=dest.test=mta1@b.test",
	    "k3y-of-sixteen-chars", &v), 0, "an unsigned form decodes");
	ok(!v.verified && strcmp(v.vmta, "mta1") == 0,
	    "unsigned: unverified, fields as written");
	/* The tag stays when the job and the vmta must go (64 octets). */
	is_int(verp_encode("bounce@b.test",
	    "someone.with.a.long.name@dest.test", "mta-number-one",
	    "campaign", "k3y-of-sixteen-chars", out, sizeof(out)), 0,
	    "long: encoded");
	is_int(verp_decode(out, "k3y-of-sixteen-chars", &v), 0,
	    "long: decodes");
	ok(v.verified && strcmp(v.rcpt,
	    "someone.with.a.long.name@dest.test") == 0,
	    "long: verified, the job dropped (%s)", out);
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
		is_int(verp_decode(bad[i], NULL, &v), -1,
		    "decode refuses \"%s\"",
		    bad[i]);
	test_signed();
	return done_testing();
}
