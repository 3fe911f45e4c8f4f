/*
 * test_units.c - unit tests for common/units.c.
 *
 * Purpose:      table-driven checks of units_duration, units_size,
 *               units_rate, units_durlist, durlist_at and
 *               units_fmt_duration: good values give the exact number,
 *               bad ones fail with a reason and leave the output alone.
 * Used by:      t/00-unit.t (build/t/test_units).
 * Trust:        test code.
 * Spool access: none.
 * See:          common/units.h, tern.yaml(5).
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "units.h"
#include "util.h"

#define SENTINEL	0xdeadbeefULL

struct good {
	const char	*in;
	uint64_t	 want;
};

static const struct good dur_good[] = {
	{ "10m", 600 },
	{ "4d12h", 388800 },
	{ "30", 30 },
	{ "0", 0 },
	{ "30s", 30 },
	{ "1h30m", 5400 },
	{ "1H30M", 5400 },		/* units are case-insensitive */
	{ "2w", 2 * 7 * 86400 },
	{ "1d1h1m1s", 90061 },
	{ "1h1h", 7200 },		/* groups simply add */
	{ "000000000010m", 600 },	/* 12 digits is the limit */
	{ "3660d", 3660ULL * 86400 },	/* exactly ten years */
	{ "316224000", 316224000 },	/* UNITS_DURATION_MAX in seconds */
};

static const char *dur_bad[] = {
	"",			/* empty */
	"10x",			/* unknown unit */
	"m",			/* unit without a number */
	"1m5",			/* trailing number without a unit */
	"-5m",
	"+5m",
	" 5m",
	"5m ",
	"5 m",
	"1.5h",
	"0x10",
	"10mm",
	"3661d",		/* over ten years */
	"316224001",		/* one second over */
	"1000000000000",	/* 13 digits */
	"9999999999999999999999",	/* would overflow uint64 */
	"999999999999w",	/* 12 digits, huge product */
	"530w",			/* over ten years by weeks */
};

static const struct good size_good[] = {
	{ "50M", 50ULL * 1024 * 1024 },
	{ "10000K", 10000ULL * 1024 },
	{ "1G", 1024ULL * 1024 * 1024 },
	{ "1g", 1024ULL * 1024 * 1024 },
	{ "1000", 1000 },
	{ "0", 0 },
	{ "50MB", 50ULL * 1024 * 1024 },
	{ "50mb", 50ULL * 1024 * 1024 },
	{ "unlimited", UNITS_SIZE_UNLIMITED },
	{ "UNLIMITED", UNITS_SIZE_UNLIMITED },
	{ "1048576G", 1ULL << 50 },	/* the cap, exactly */
};

static const char *size_bad[] = {
	"",
	"M",
	"50X",
	"50T",
	"50MBB",
	"50 M",
	"-1",
	"1.5G",
	"1048577G",		/* over 2^50 */
	"1125899906842625",	/* 2^50 + 1, 16 digits */
	"9999999999999999",	/* 16 digits */
	"unlimitedx",
	"B",
};

struct rgood {
	const char	*in;
	uint64_t	 count;
	uint64_t	 period;
};

static const struct rgood rate_good[] = {
	{ "200/h", 200, 3600 },
	{ "3/s", 3, 1 },
	{ "1000/d", 1000, 86400 },
	{ "50/10m", 50, 600 },
	{ "1/1h30m", 1, 5400 },
	{ "7/H", 7, 3600 },
	{ "1000000000/w", 1000000000, 7 * 86400 },
	{ "5/30", 5, 30 },		/* bare seconds */
	{ "unlimited", 0, 0 },
	{ "Unlimited", 0, 0 },
};

static const char *rate_bad[] = {
	"0/h",			/* count must be at least 1 */
	"3",			/* no period */
	"3/x",			/* unknown unit */
	"3/",
	"/h",
	"3/0",			/* zero period */
	"3/0s",
	"-3/h",
	"3 /h",
	"3/ h",
	"1000000001/h",		/* count over the cap */
	"3/h/h",
	"123456789012345678901234567890123/h",	/* count > 31 chars */
	"",
};

struct lgood {
	const char	*in;
	unsigned	 n;
	uint64_t	 v[4];
};

static const struct lgood list_good[] = {
	{ "10m,20m,1h", 3, { 600, 1200, 3600 } },
	{ "10m, 20m , 1h", 3, { 600, 1200, 3600 } },
	{ "5m", 1, { 300 } },
	{ " 1h ", 1, { 3600 } },
	{ "30,1m", 2, { 30, 60 } },
};

static const char *list_bad[] = {
	"",
	",",
	"10m,",
	",10m",
	"10m,,20m",
	"10m, ,20m",
	"10m,0",		/* zero interval */
	"10m,10x",
	"10m;20m",
};

struct fgood {
	uint64_t	 in;
	const char	*want;
};

static const struct fgood fmt_good[] = {
	{ 0, "0s" },
	{ 1, "1s" },
	{ 59, "59s" },
	{ 60, "1m" },
	{ 600, "10m" },
	{ 3600, "1h" },
	{ 5400, "1h30m" },
	{ 86400, "1d" },
	{ 388800, "4d12h" },
	{ 90061, "1d1h1m1s" },
	{ 8 * 86400, "8d" },
	{ 3661, "1h1m1s" },
};

static void
test_duration(void)
{
	const char	*err;
	uint64_t	 v;
	unsigned	 i;

	for (i = 0; i < nitems(dur_good); i++) {
		v = SENTINEL;
		err = NULL;
		if (!is_int(units_duration(dur_good[i].in, &v, &err), 0,
		    "units_duration(\"%s\") succeeds", dur_good[i].in))
			diag("    err: %s", err ? err : "(none)");
		is_u64(v, dur_good[i].want, "units_duration(\"%s\") = %llu",
		    dur_good[i].in, (unsigned long long)dur_good[i].want);
	}
	for (i = 0; i < nitems(dur_bad); i++) {
		v = SENTINEL;
		err = NULL;
		is_int(units_duration(dur_bad[i], &v, &err), -1,
		    "units_duration(\"%s\") fails", dur_bad[i]);
		ok(err != NULL && *err != '\0',
		    "units_duration(\"%s\") gives a reason (%s)", dur_bad[i],
		    err ? err : "none");
		is_u64(v, SENTINEL, "units_duration(\"%s\") leaves *out",
		    dur_bad[i]);
	}
}

static void
test_size(void)
{
	const char	*err;
	uint64_t	 v;
	unsigned	 i;

	for (i = 0; i < nitems(size_good); i++) {
		v = SENTINEL;
		err = NULL;
		if (!is_int(units_size(size_good[i].in, &v, &err), 0,
		    "units_size(\"%s\") succeeds", size_good[i].in))
			diag("    err: %s", err ? err : "(none)");
		is_u64(v, size_good[i].want, "units_size(\"%s\") = %llu",
		    size_good[i].in, (unsigned long long)size_good[i].want);
	}
	for (i = 0; i < nitems(size_bad); i++) {
		v = SENTINEL;
		err = NULL;
		is_int(units_size(size_bad[i], &v, &err), -1,
		    "units_size(\"%s\") fails", size_bad[i]);
		ok(err != NULL && *err != '\0',
		    "units_size(\"%s\") gives a reason (%s)", size_bad[i],
		    err ? err : "none");
		is_u64(v, SENTINEL, "units_size(\"%s\") leaves *out",
		    size_bad[i]);
	}
}

static void
test_rate(void)
{
	struct rate	 r;
	const char	*err;
	unsigned	 i;

	for (i = 0; i < nitems(rate_good); i++) {
		r.count = r.period = SENTINEL;
		err = NULL;
		if (!is_int(units_rate(rate_good[i].in, &r, &err), 0,
		    "units_rate(\"%s\") succeeds", rate_good[i].in))
			diag("    err: %s", err ? err : "(none)");
		is_u64(r.count, rate_good[i].count, "units_rate(\"%s\") "
		    "count", rate_good[i].in);
		is_u64(r.period, rate_good[i].period, "units_rate(\"%s\") "
		    "period", rate_good[i].in);
	}
	for (i = 0; i < nitems(rate_bad); i++) {
		r.count = r.period = SENTINEL;
		err = NULL;
		is_int(units_rate(rate_bad[i], &r, &err), -1,
		    "units_rate(\"%s\") fails", rate_bad[i]);
		ok(err != NULL && *err != '\0',
		    "units_rate(\"%s\") gives a reason (%s)", rate_bad[i],
		    err ? err : "none");
		ok(r.count == SENTINEL && r.period == SENTINEL,
		    "units_rate(\"%s\") leaves *r", rate_bad[i]);
	}
}

static void
test_durlist(void)
{
	struct durlist	 l;
	const char	*err;
	char		 big[512];
	unsigned	 i, j;
	size_t		 o;

	for (i = 0; i < nitems(list_good); i++) {
		err = NULL;
		if (!is_int(units_durlist(list_good[i].in, &l, &err), 0,
		    "units_durlist(\"%s\") succeeds", list_good[i].in))
			diag("    err: %s", err ? err : "(none)");
		is_int(l.n, list_good[i].n, "units_durlist(\"%s\") has %u "
		    "items", list_good[i].in, list_good[i].n);
		for (j = 0; j < list_good[i].n && j < l.n; j++)
			is_u64(l.v[j], list_good[i].v[j],
			    "units_durlist(\"%s\") item %u",
			    list_good[i].in, j);
	}
	for (i = 0; i < nitems(list_bad); i++) {
		err = NULL;
		is_int(units_durlist(list_bad[i], &l, &err), -1,
		    "units_durlist(\"%s\") fails", list_bad[i]);
		ok(err != NULL && *err != '\0',
		    "units_durlist(\"%s\") gives a reason (%s)", list_bad[i],
		    err ? err : "none");
	}

	/* durlist_at: the last interval repeats for later attempts. */
	units_durlist("10m,20m,1h", &l, &err);
	is_u64(durlist_at(&l, 0), 600, "durlist_at 0 = 10m");
	is_u64(durlist_at(&l, 1), 1200, "durlist_at 1 = 20m");
	is_u64(durlist_at(&l, 2), 3600, "durlist_at 2 = 1h");
	is_u64(durlist_at(&l, 3), 3600, "durlist_at 3 repeats 1h");
	is_u64(durlist_at(&l, 1000), 3600, "durlist_at 1000 repeats 1h");
	is_u64(durlist_at(&l, ~0u), 3600, "durlist_at UINT_MAX repeats 1h");
	l.n = 0;
	is_u64(durlist_at(&l, 0), 600, "durlist_at on an empty list = 10m");
	is_u64(durlist_at(&l, 7), 600, "durlist_at 7 on an empty list = 10m");

	/* Exactly UNITS_LIST_MAX items pass, one more fails. */
	for (o = 0, i = 0; i < UNITS_LIST_MAX; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s%um",
		    i ? "," : "", i + 1);
	is_int(units_durlist(big, &l, &err), 0, "%d intervals accepted",
	    UNITS_LIST_MAX);
	is_int(l.n, UNITS_LIST_MAX, "%d intervals stored", UNITS_LIST_MAX);
	is_u64(durlist_at(&l, 99), UNITS_LIST_MAX * 60ULL,
	    "last of %d intervals repeats", UNITS_LIST_MAX);
	snprintf(big + o, sizeof(big) - o, ",1h");
	err = NULL;
	is_int(units_durlist(big, &l, &err), -1, "%d intervals refused",
	    UNITS_LIST_MAX + 1);
	ok(err != NULL, "too many intervals gives a reason (%s)",
	    err ? err : "none");

	/* An item longer than the 63-byte item buffer is refused. */
	memset(big, '0', 100);
	big[100] = 'm';
	big[101] = '\0';
	is_int(units_durlist(big, &l, &err), -1, "overlong interval refused");
}

static void
test_fmt_duration(void)
{
	char		 buf[64], small[4];
	const char	*err;
	uint64_t	 back;
	unsigned	 i;

	for (i = 0; i < nitems(fmt_good); i++) {
		memset(buf, 'X', sizeof(buf));
		units_fmt_duration(fmt_good[i].in, buf, sizeof(buf));
		is_str(buf, fmt_good[i].want, "units_fmt_duration(%llu)",
		    (unsigned long long)fmt_good[i].in);
		/* What is printed parses back to the same value. */
		back = SENTINEL;
		units_duration(buf, &back, &err);
		is_u64(back, fmt_good[i].in, "\"%s\" parses back", buf);
	}
	/* A short buffer truncates, always NUL-terminated. */
	memset(small, 'X', sizeof(small));
	units_fmt_duration(90061, small, sizeof(small));
	ok(memchr(small, '\0', sizeof(small)) != NULL,
	    "units_fmt_duration NUL-terminates a short buffer");
	is_str(small, "1d1", "units_fmt_duration truncates to the buffer");

	/* A zero-sized buffer must not be written at all. */
	small[0] = 'X';
	units_fmt_duration(0, small, 0);
	is_int(small[0], 'X', "units_fmt_duration(0, buf, 0) writes nothing");
	todo_start(NULL);
	units_fmt_duration(60, small, 0);
	is_int(small[0], 'X', "units_fmt_duration(60, buf, 0) writes nothing");
	todo_end();
}

int
main(void)
{
	test_duration();
	test_size();
	test_rate();
	test_durlist();
	test_fmt_duration();
	return done_testing();
}
