/*
 * units.c - PowerMTA value syntax: durations, sizes, rates, interval lists.
 *
 * Purpose:      see units.h.
 * Used by:      config loader, tern CLI.
 * Trust:        administrator input; bounded, strict.
 * Spool access: none.
 * See:          tern.yaml(5).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "units.h"
#include "util.h"

static int
unit_seconds(char c, uint64_t *mul)
{
	switch (c) {
	case 's': *mul = 1; return 0;
	case 'm': *mul = 60; return 0;
	case 'h': *mul = 3600; return 0;
	case 'd': *mul = 86400; return 0;
	case 'w': *mul = 7 * 86400; return 0;
	}
	return -1;
}

/* units_duration - "30", "30s", "10m", "4d12h", "1h30m" */
int
units_duration(const char *s, uint64_t *out, const char **err)
{
	uint64_t	 total = 0, n, mul;
	int		 digits, groups = 0;

	if (*s == '\0') {
		*err = "empty duration";
		return -1;
	}
	while (*s != '\0') {
		for (n = 0, digits = 0; isdigit((unsigned char)*s); s++) {
			if (++digits > 12) {
				*err = "duration number too large";
				return -1;
			}
			n = n * 10 + (uint64_t)(*s - '0');
		}
		if (digits == 0) {
			*err = "duration must be digits followed by s, m, h, d "
			    "or w (e.g. 10m, 4d12h)";
			return -1;
		}
		if (*s == '\0') {
			if (groups > 0) {
				*err = "duration number needs a unit";
				return -1;
			}
			mul = 1;
		} else if (unit_seconds((char)tolower((unsigned char)*s),
		    &mul) == -1) {
			*err = "unknown duration unit (use s, m, h, d or w)";
			return -1;
		} else
			s++;
		total += n * mul;
		if (total > UNITS_DURATION_MAX) {
			*err = "duration longer than ten years";
			return -1;
		}
		groups++;
	}
	*out = total;
	return 0;
}

/* units_size - "1000", "10000K", "50M", "2G", "unlimited" (1024-based) */
int
units_size(const char *s, uint64_t *out, const char **err)
{
	uint64_t	 n = 0, mul = 1;
	int		 digits = 0;

	if (strcasecmp(s, "unlimited") == 0) {
		*out = UNITS_SIZE_UNLIMITED;
		return 0;
	}
	for (; isdigit((unsigned char)*s); s++) {
		if (++digits > 15) {
			*err = "size number too large";
			return -1;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (digits == 0) {
		*err = "size must be digits with an optional K, M or G "
		    "(e.g. 50M) or 'unlimited'";
		return -1;
	}
	switch (toupper((unsigned char)*s)) {
	case '\0': break;
	case 'K': mul = 1024; s++; break;
	case 'M': mul = 1024 * 1024; s++; break;
	case 'G': mul = 1024ULL * 1024 * 1024; s++; break;
	default:
		*err = "unknown size unit (use K, M or G)";
		return -1;
	}
	if (toupper((unsigned char)*s) == 'B')
		s++;
	if (*s != '\0') {
		*err = "trailing characters after size";
		return -1;
	}
	if (n > (1ULL << 50) / mul) {
		*err = "size too large";
		return -1;
	}
	*out = n * mul;
	return 0;
}

/* units_rate - "200/h", "3/s", "1000/d", "50/10m", "unlimited" */
int
units_rate(const char *s, struct rate *r, const char **err)
{
	char		 num[32];
	const char	*slash;
	uint64_t	 n, per;
	size_t		 len;

	if (strcasecmp(s, "unlimited") == 0) {
		r->count = r->period = 0;
		return 0;
	}
	if ((slash = strchr(s, '/')) == NULL) {
		*err = "rate must be COUNT/PERIOD (e.g. 200/h, 3/s) or "
		    "'unlimited'";
		return -1;
	}
	len = (size_t)(slash - s);
	if (len == 0 || len >= sizeof(num)) {
		*err = "bad rate count";
		return -1;
	}
	memcpy(num, s, len);
	num[len] = '\0';
	if (parse_u64(num, 1, 1000000000ULL, &n) == -1) {
		*err = "rate count must be a number from 1 to 1000000000";
		return -1;
	}
	slash++;
	/* PowerMTA's spellings: N/[M]{s|sec|m|min|h|hr|d|day}. */
	{
		static const struct { const char *w; char u; } words[] = {
			{ "sec", 's' }, { "min", 'm' }, { "hr", 'h' },
			{ "hour", 'h' }, { "day", 'd' }, { "week", 'w' } };
		char	 unit[24];
		size_t	 nd = strspn(slash, "0123456789"), k;

		if (nd < 8 && strlen(slash) < sizeof(unit)) {
			memcpy(unit, slash, nd);
			unit[nd] = '\0';
			if (nd == 0)
				tern_strlcpy(unit, "1", sizeof(unit));
			for (k = 0; k < nitems(words); k++)
				if (strcasecmp(slash + nd, words[k].w) == 0)
					break;
			if (k < nitems(words)) {
				size_t l = strlen(unit);
				unit[l] = words[k].u;
				unit[l + 1] = '\0';
				slash = unit;
			} else if (nd == 0 && isalpha((unsigned char)*slash) &&
			    slash[1] == '\0') {
				unit[1] = *slash;
				unit[2] = '\0';
				slash = unit;
			}
		}
		if (units_duration(slash, &per, err) == -1)
			return -1;
	}
	if (per == 0) {
		*err = "rate period must not be zero";
		return -1;
	}
	r->count = n;
	r->period = per;
	return 0;
}

/* units_durlist - "10m,20m,1h": the last value repeats for later attempts */
int
units_durlist(const char *s, struct durlist *l, const char **err)
{
	char		 item[64];
	const char	*comma;
	size_t		 len;

	l->n = 0;
	for (;;) {
		while (*s == ' ')
			s++;
		comma = strchr(s, ',');
		len = comma ? (size_t)(comma - s) : strlen(s);
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len == 0 || len >= sizeof(item)) {
			*err = "empty or overlong interval in list";
			return -1;
		}
		if (l->n == UNITS_LIST_MAX) {
			*err = "too many intervals in list (at most 32)";
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (units_duration(item, &l->v[l->n], err) == -1)
			return -1;
		if (l->v[l->n] == 0) {
			*err = "retry interval must not be zero";
			return -1;
		}
		l->n++;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	return 0;
}

/* durlist_at - interval before attempt N (0-based); the last one repeats */
uint64_t
durlist_at(const struct durlist *l, unsigned attempt)
{
	if (l->n == 0)
		return 600;
	return l->v[attempt < l->n ? attempt : l->n - 1];
}

void
units_fmt_duration(uint64_t s, char *buf, size_t sz)
{
	static const struct { char u; uint64_t m; } parts[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	size_t	 o = 0;
	unsigned i;

	if (sz == 0)
		return;
	if (s == 0) {
		snprintf(buf, sz, "0s");
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < nitems(parts) && o < sz; i++) {
		if (s < parts[i].m)
			continue;
		o += snprintf(buf + o, sz - o, "%llu%c",
		    (unsigned long long)(s / parts[i].m), parts[i].u);
		s %= parts[i].m;
	}
}
