/*
 * builtin.h - Tern's built-in SMTP reply rules and MX rollup table.
 *
 * Purpose:      what the large mailbox providers publish about their
 *               throttling replies, as smtp-pattern rules (run after the
 *               configured smtp-pattern-lists when smtp-pattern-builtin
 *               is on), and which MX host names belong to one provider's
 *               shared infrastructure (used after mx-rollup when
 *               mx-rollup-builtin is on).  Both tables are first match
 *               wins.  Data only: shaperd compiles the regular
 *               expressions and matches the globs.
 * Used by:      shaperd; t/unit/test_shaperd_builtin.c.
 * Trust:        the tables are ours; what they are matched against (the
 *               remote reply, the MX host name) is not.
 * Spool access: none.
 * See:          tern.yaml(5) smtp-pattern-builtin, mx-rollup-builtin.
 */
#ifndef TERN_SHAPERD_BUILTIN_H
#define TERN_SHAPERD_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

struct builtin_rule {
	const char	*provider;	/* "google", "yahoo", "microsoft", ... */
	const char	*regex;		/* POSIX ERE, matched case-insensitively */
	const char	*action;	/* "backoff", "suspend", "disconnect", "bounce" */
	uint64_t	 for_secs;	/* suspend/backoff duration; 0 = the default */
	unsigned	 after_n;	/* 0 or 1: at once; N: after N matches ... */
	uint64_t	 after_window;	/* ... within this many seconds */
	const char	*why;		/* one line: what the provider means */
	const char	*source;	/* URL where the provider published it */
};
extern const struct builtin_rule builtin_rules[];
extern const size_t nbuiltin_rules;

struct builtin_rollup {
	const char	*mx_glob;	/* fnmatch(3) pattern, lowercase, on an MX host name */
	const char	*name;		/* rollup queue name, e.g. "google.rollup" */
};
extern const struct builtin_rollup builtin_rollups[];
extern const size_t nbuiltin_rollups;

#endif
