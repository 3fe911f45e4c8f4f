/*
 * suppress.h - the suppression list: an LMDB database of recipients
 * never to be mailed again.
 *
 * Purpose:      <spool-dir>/suppress/ (data.mdb, lock.mdb).  One key per
 *               (scope, address): scope "" is global, "job:ID" one job,
 *               "pool:NAME" one VirtualMTA pool.  Addresses are stored
 *               lowercased.  bouncd is the only writer; smtpd (refuse at
 *               RCPT), queued (drop at queue time) and tern (show, list,
 *               export) open it read-only.
 * Used by:      bouncd (writer), smtpd, queued, tern (readers).
 * Trust:        keys and values are checked on the way in and out; a
 *               value that does not decode is treated as absent and
 *               logged, never trusted.
 * Spool access: <spool-dir>/suppress/ only.
 * See:          bouncd(8), tern(1).
 */
#ifndef TERN_SUPPRESS_H
#define TERN_SUPPRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "mailaddr.h"

#define SUPP_SCOPE_MAX	160	/* "job:" + a job id, "pool:" + a name */
#define SUPP_REASON_MAX	32	/* a bounce category, "complaint", ... */
#define SUPP_SOURCE_MAX	16	/* "rb", "b", "f", "manual", "import" */
#define SUPP_NOTE_MAX	512	/* the diagnostic that caused it */

struct supp_entry {
	char		 addr[MAILADDR_MAX + 1];
	char		 scope[SUPP_SCOPE_MAX + 1];
	char		 reason[SUPP_REASON_MAX + 1];
	char		 source[SUPP_SOURCE_MAX + 1];
	uint64_t	 created;	/* unix seconds */
	uint64_t	 expires;	/* unix seconds; 0: never */
	char		 note[SUPP_NOTE_MAX + 1];
};

struct supp;

/*
 * Open <spool_dir>/suppress.  A writer creates it; a reader gets NULL
 * (and *why) while it does not exist yet and should try again later.
 */
struct supp	*supp_open(const char *spool_dir, bool writer, const char **why);
void		 supp_close(struct supp *);

/* Writer.  Each call is one durable LMDB transaction. */
int		 supp_put(struct supp *, const struct supp_entry *);
int		 supp_put_many(struct supp *, const struct supp_entry *,
		    unsigned n);
int		 supp_del(struct supp *, const char *scope, const char *addr);
unsigned	 supp_purge_expired(struct supp *, uint64_t now);

/* Readers: 1 found (and *e filled), 0 not there or expired, -1 error. */
int		 supp_get(struct supp *, const char *scope, const char *addr,
		    struct supp_entry *);
/* The global entry, then "job:JOB", then "pool:POOL" (NULL/"" skipped). */
int		 supp_check(struct supp *, const char *addr, const char *job,
		    const char *pool, struct supp_entry *);
/*
 * Entries in key order after (scope, addr) (both "" to start), scope
 * filter NULL for all; cb returns non-zero to stop.  Returns the number
 * visited or -1.
 */
long		 supp_iter(struct supp *, const char *scope_filter,
		    const char *after_scope, const char *after_addr,
		    int (*cb)(const struct supp_entry *, void *), void *arg);
uint64_t	 supp_count(struct supp *);

/* Lowercase, trimmed, checked with mailaddr_parse: 0 or -1. */
int		 supp_norm_addr(const char *in, char *out, size_t outsz);

#endif
