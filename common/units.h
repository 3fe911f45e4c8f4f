/*
 * units.h - PowerMTA value syntax: durations, sizes, rates, interval lists.
 *
 * Purpose:      "4d12h" -> seconds, "50M" -> bytes, "200/h" -> count and
 *               period, "10m,20m,1h" -> list of seconds.
 * Used by:      config loader (all processes), tern CLI.
 * Trust:        input is the administrator's YAML file; every value is
 *               bounded and a bad one yields an error text, never a guess.
 * Spool access: none.
 * See:          tern.yaml(5).
 */
#ifndef TERN_UNITS_H
#define TERN_UNITS_H

#include <stdint.h>

#define UNITS_DURATION_MAX	(10ULL * 366 * 86400)	/* ten years */
#define UNITS_SIZE_UNLIMITED	UINT64_MAX
#define UNITS_LIST_MAX		32

struct rate {
	uint64_t	 count;		/* 0 with period 0: unlimited */
	uint64_t	 period;	/* seconds */
};

struct durlist {
	unsigned	 n;
	uint64_t	 v[UNITS_LIST_MAX];
};

/* Each returns 0, or -1 with a static English reason in *err. */
int	units_duration(const char *, uint64_t *, const char **err);
int	units_size(const char *, uint64_t *, const char **err);
int	units_rate(const char *, struct rate *, const char **err);
int	units_durlist(const char *, struct durlist *, const char **err);
uint64_t durlist_at(const struct durlist *, unsigned attempt);
void	units_fmt_duration(uint64_t, char *, size_t);

#endif
