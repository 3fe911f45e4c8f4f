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
#include <stdio.h>

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
#define SUPP_REOPEN_MS	5000
struct supp	*supp_reader(struct supp **, uint64_t *tried,
		    const char *spool_dir);

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

/*
 * Every scope's entry for one address (a scan of the keys: addresses
 * are not indexed across scopes); cb as for supp_iter.
 */
long		 supp_iter_addr(struct supp *, const char *addr,
		    int (*cb)(const struct supp_entry *, void *), void *arg);

/*
 * Checks shared by the writer, bouncd's requests and the CSV reader:
 * scope "" or "job:X" / "pool:X" (X printable ASCII, no blanks); reason
 * and source tokens of [A-Za-z0-9._:+/-] (reason not empty); note
 * UTF-8 without control characters.  0, or -1 with *why.
 */
bool		 supp_scope_ok(const char *);
int		 supp_entry_check(const struct supp_entry *, const char **why);
/* supp_note_set - copy text into e->note, bounded, made valid */
void		 supp_note_set(struct supp_entry *, const char *);
/* The first map size of the next writer opened (tests; 0: 1 GiB). */
void		 supp_set_mapsize(uint64_t);

/*
 * CSV (RFC 4180 quoting, LF or CRLF), one entry a record:
 * address,scope,reason,source,created,expires,note; times ISO 8601 UTC
 * ("2026-11-23T10:00:00Z"), empty for 0.  The reader takes columns by
 * header name (only address, or email, is required; unknown columns are
 * ignored), or, without a header, the columns in that order (a file of
 * bare addresses works).  Empty lines are skipped.  Line breaks and
 * other control characters in a note become blanks.
 */
#define SUPP_CSV_HEADER "address,scope,reason,source,created,expires,note"
#define SUPP_CSV_LINE_MAX	4096	/* one record, quoted */
#define SUPP_CSV_FIELDS_MAX	16
#define SUPP_CSV_NCOLS		7

struct supp_csv {
	FILE		*f;
	unsigned long	 line;		/* where the last record began */
	unsigned long	 nextline;
	bool		 started;	/* header (or first record) seen */
	int		 col[SUPP_CSV_NCOLS];	/* field index, -1: none */
	char		 rec[SUPP_CSV_LINE_MAX];
	char		*fld[SUPP_CSV_FIELDS_MAX];
	unsigned	 nfld;
};

void		 supp_csv_init(struct supp_csv *, FILE *);
/*
 * The next entry: 1 (*e filled, address normalised, reason and source
 * possibly empty), 0 at the end, -1 for a bad record (*why; c->line is
 * its first line; the next call goes on after it).
 */
int		 supp_csv_next(struct supp_csv *, struct supp_entry *,
		    const char **why);
/* One record with its "\n", or -1 if sz is too small. */
int		 supp_csv_format(const struct supp_entry *, char *, size_t);
/* Times: "" for 0, else "YYYY-MM-DDTHH:MM:SSZ". */
void		 supp_time_fmt(uint64_t, char *, size_t);
/* That form, "YYYY-MM-DD", unix seconds, or "" (0): 0 or -1. */
int		 supp_time_parse(const char *, uint64_t *);

#endif
