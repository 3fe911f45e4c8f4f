/*
 * suppress.c - the suppression list: an LMDB database of recipients
 * never to be mailed again.
 *
 * Purpose:      see suppress.h.  One environment, one unnamed database.
 *               Key: scope, NUL, lowercased address.  Value (version 1):
 *                 u8 1 | u64 created | u64 expires (big-endian) |
 *                 u8 len, reason | u8 len, source | u16 len, note
 *               with every length bounded and the whole size exact.
 *               The writer commits each call as one synced transaction
 *               and doubles the map (1 GiB up to 16 GiB) when it fills.
 *               Readers keep one reset read transaction and renew it per
 *               lookup, so each lookup sees the last commit for the
 *               price of a few atomic operations.
 * Used by:      bouncd (writer), smtpd, queued, tern (readers).
 * Trust:        keys and values are decoded as hostile: a bad value is
 *               logged and reads as absent.  CSV input is the operator's
 *               file, bounded per record.
 * Spool access: <spool-dir>/suppress/ only.
 * See:          bouncd(8), tern(1).
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "suppress.h"
#include "util.h"

#define SUPP_DIR		"suppress"
#define SUPP_MAP_FIRST		(1ULL << 30)	/* 1 GiB */
#define SUPP_MAP_LAST		(16ULL << 30)	/* 16 GiB */
#define SUPP_MAXREADERS		254
#define SUPP_KEY_MAX		(SUPP_SCOPE_MAX + 1 + MAILADDR_MAX)
#define SUPP_ADDR_MAX		(MAILADDR_MAX - 2)	/* path minus <> */
#define VAL_VERSION		1
#define VAL_FIXED		(1 + 8 + 8 + 1 + 1 + 2)
#define VAL_MAX			(VAL_FIXED + SUPP_REASON_MAX + \
				    SUPP_SOURCE_MAX + SUPP_NOTE_MAX)
#define TIME_MAX		253402300799ULL	/* 9999-12-31T23:59:59Z */

struct supp {
	MDB_env		*env;
	MDB_dbi		 dbi;
	MDB_txn		*rtxn;		/* reset between lookups, or NULL */
	bool		 writer;
	pid_t		 pid;		/* the env is not shared across fork */
	uint64_t	 mapsize;
};

static uint64_t	 first_mapsize = SUPP_MAP_FIRST;

/* --- checks ------------------------------------------------------------ */

static bool
token_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = strlen(s);

	if (n > max || (n == 0 && !empty_ok))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._:+/-") == n;
}

/* utf8_len - bytes of the valid, non-control character at s, or 0 */
static size_t
utf8_len(const unsigned char *s)
{
	uint32_t	 c;
	size_t		 n, i;

	if (*s < 0x80)
		return *s >= 0x20 && *s != 0x7f ? 1 : 0;
	if (*s >= 0xc2 && *s <= 0xdf)
		n = 2, c = *s & 0x1f;
	else if (*s >= 0xe0 && *s <= 0xef)
		n = 3, c = *s & 0x0f;
	else if (*s >= 0xf0 && *s <= 0xf4)
		n = 4, c = *s & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are refused. */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

static bool
text_ok(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	if (strlen(s) > max)
		return false;
	for (; *p != '\0'; p += n)
		if ((n = utf8_len(p)) == 0)
			return false;
	return true;
}

/* supp_scope_ok - "", "job:X" or "pool:X", X printable without blanks */
bool
supp_scope_ok(const char *s)
{
	const char	*x;

	if (*s == '\0')
		return true;
	if (strlen(s) > SUPP_SCOPE_MAX)
		return false;
	if (strncmp(s, "job:", 4) == 0)
		x = s + 4;
	else if (strncmp(s, "pool:", 5) == 0)
		x = s + 5;
	else
		return false;
	if (*x == '\0')
		return false;
	for (; *x != '\0'; x++)
		if (*x < 0x21 || *x > 0x7e)
			return false;
	return true;
}

/* supp_entry_check - everything a writer stores, checked */
int
supp_entry_check(const struct supp_entry *e, const char **why)
{
	char norm[MAILADDR_MAX + 1];

	if (supp_norm_addr(e->addr, norm, sizeof(norm)) == -1)
		*why = "bad address";
	else if (strcmp(norm, e->addr) != 0)
		*why = "address not normalised";
	else if (!supp_scope_ok(e->scope))
		*why = "bad scope (\"\", job:ID or pool:NAME)";
	else if (!token_ok(e->reason, SUPP_REASON_MAX, false))
		*why = "bad reason";
	else if (!token_ok(e->source, SUPP_SOURCE_MAX, true))
		*why = "bad source";
	else if (!text_ok(e->note, SUPP_NOTE_MAX))
		*why = "bad note (control characters or not UTF-8)";
	else if (e->created > TIME_MAX || e->expires > TIME_MAX)
		*why = "time out of range";
	else
		return 0;
	return -1;
}

/* supp_note_set - bounded copy; bad bytes become '?', blanks ' ' */
void
supp_note_set(struct supp_entry *e, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0, n;

	while (*p != '\0') {
		if ((n = utf8_len(p)) == 0) {
			n = 1;
			if (o + 1 > SUPP_NOTE_MAX)
				break;
			e->note[o++] = *p < 0x20 ? ' ' : '?';
		} else {
			if (o + n > SUPP_NOTE_MAX)
				break;
			memcpy(e->note + o, p, n);
			o += n;
		}
		p += n;
	}
	e->note[o] = '\0';
}

/* supp_norm_addr - trimmed, <> dropped, lowercased, syntax checked */
int
supp_norm_addr(const char *in, char *out, size_t outsz)
{
	char		 b[MAILADDR_MAX + 8], *p;
	struct mailaddr	 a;
	const char	*why;
	size_t		 n;

	if (strlen(in) >= sizeof(b))
		return -1;
	tern_strlcpy(b, in, sizeof(b));
	p = str_trim(b);
	n = strlen(p);
	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p[n - 1] = '\0';
		p++;
		n -= 2;
	}
	if (n == 0 || n > SUPP_ADDR_MAX || n >= outsz)
		return -1;
	str_lower(p);
	if (mailaddr_parse(p, &a, &why) == -1)
		return -1;
	memcpy(out, p, n + 1);
	return 0;
}

void
supp_set_mapsize(uint64_t sz)
{
	first_mapsize = sz == 0 ? SUPP_MAP_FIRST : sz;
}

/* --- keys and values --------------------------------------------------- */

static int	start_key(char *, const char *, const char *, MDB_val *);

/* key_make - an entry's key: scope, NUL, a non-empty address */
static int
key_make(char *k, const char *scope, const char *addr, MDB_val *kv)
{
	if (addr[0] == '\0')
		return -1;
	return start_key(k, scope, addr, kv);
}

/* key_split - scope and address out of a stored key; -1 if malformed */
static int
key_split(const MDB_val *kv, struct supp_entry *e)
{
	const char	*k = kv->mv_data, *nul;
	size_t		 sl, al;

	if (kv->mv_size < 2 || kv->mv_size > SUPP_KEY_MAX ||
	    (nul = memchr(k, '\0', kv->mv_size)) == NULL)
		return -1;
	sl = (size_t)(nul - k);
	al = kv->mv_size - sl - 1;
	if (sl > SUPP_SCOPE_MAX || al == 0 || al > MAILADDR_MAX ||
	    memchr(nul + 1, '\0', al) != NULL)
		return -1;
	memcpy(e->scope, k, sl);
	e->scope[sl] = '\0';
	memcpy(e->addr, nul + 1, al);
	e->addr[al] = '\0';
	return 0;
}

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
		*p++ = (uint8_t)(v >> (i * 8));
	return p;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t *
put_str(uint8_t *p, const char *s, int lenbytes)
{
	size_t n = strlen(s);

	if (lenbytes == 2)
		*p++ = (uint8_t)(n >> 8);
	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

static size_t
val_encode(const struct supp_entry *e, uint8_t *v)
{
	uint8_t *p = v;

	*p++ = VAL_VERSION;
	p = put_u64(p, e->created);
	p = put_u64(p, e->expires);
	p = put_str(p, e->reason, 1);
	p = put_str(p, e->source, 1);
	p = put_str(p, e->note, 2);
	return (size_t)(p - v);
}

/* get_str - a length-prefixed string of at most max bytes, no NUL */
static int
get_str(const uint8_t *v, size_t n, size_t *pos, int lenbytes, char *out,
    size_t max)
{
	size_t len;

	if (*pos + (size_t)lenbytes > n)
		return -1;
	len = v[(*pos)++];
	if (lenbytes == 2)
		len = len << 8 | v[(*pos)++];
	if (len > max || *pos + len > n || memchr(v + *pos, '\0', len))
		return -1;
	memcpy(out, v + *pos, len);
	out[len] = '\0';
	*pos += len;
	return 0;
}

static int
val_decode(const MDB_val *vv, struct supp_entry *e)
{
	const uint8_t	*v = vv->mv_data;
	size_t		 n = vv->mv_size, pos = 17;
	const char	*why;

	if (n < VAL_FIXED || n > VAL_MAX || v[0] != VAL_VERSION)
		return -1;
	e->created = get_u64(v + 1);
	e->expires = get_u64(v + 9);
	if (get_str(v, n, &pos, 1, e->reason, SUPP_REASON_MAX) == -1 ||
	    get_str(v, n, &pos, 1, e->source, SUPP_SOURCE_MAX) == -1 ||
	    get_str(v, n, &pos, 2, e->note, SUPP_NOTE_MAX) == -1 ||
	    pos != n)
		return -1;
	return supp_entry_check(e, &why);
}

/* decode - key and value into *e; a bad one is logged, reads as absent */
static int
decode(const MDB_val *k, const MDB_val *v, struct supp_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (key_split(k, e) == -1) {
		log_warnx("suppress: malformed key (%zu bytes) ignored",
		    k->mv_size);
		return -1;
	}
	if (val_decode(v, e) == -1) {
		char norm[MAILADDR_MAX + 1];

		/* Only a valid address is repeated in the log. */
		log_warnx("suppress: bad value for %s%s%s ignored",
		    supp_norm_addr(e->addr, norm, sizeof(norm)) == 0 ? norm :
		    "an invalid address", supp_scope_ok(e->scope) &&
		    *e->scope ? " in " : "", supp_scope_ok(e->scope) ?
		    e->scope : "");
		return -1;
	}
	return 0;
}

static bool
expired(const struct supp_entry *e, uint64_t now)
{
	return e->expires != 0 && e->expires <= now;
}

/* --- environment ------------------------------------------------------- */

static bool
same_process(const struct supp *s)
{
	if (s->pid == getpid())
		return true;
	log_warnx("suppress: handle used across fork; refused");
	return false;
}

static int
env_open(struct supp *s, const char *dir)
{
	MDB_envinfo	 info;
	unsigned	 flags = MDB_NOTLS | (s->writer ? 0 : MDB_RDONLY);
	int		 rc;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return rc;
	mdb_env_set_maxreaders(s->env, SUPP_MAXREADERS);
	mdb_env_set_mapsize(s->env, s->writer ? first_mapsize :
	    SUPP_MAP_FIRST);
	if ((rc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
		mdb_env_close(s->env);
		s->env = NULL;
		return rc;
	}
	mdb_env_info(s->env, &info);
	s->mapsize = info.me_mapsize;
	return 0;
}

static int
dbi_open(struct supp *s)
{
	MDB_txn	*txn;
	int	 rc, dead;

	if (s->writer)
		mdb_reader_check(s->env, &dead);
	if ((rc = mdb_txn_begin(s->env, NULL, s->writer ? 0 : MDB_RDONLY,
	    &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* supp_open - the store in spool_dir; a reader gets NULL until it exists */
struct supp *
supp_open(const char *spool_dir, bool writer, const char **why)
{
	struct supp	*s;
	char		 dir[PATH_MAX];
	struct stat	 st;
	int		 rc;

	*why = NULL;
	if (!bsnprintf(dir, sizeof(dir), "%s/%s", spool_dir, SUPP_DIR)) {
		*why = "path too long";
		return NULL;
	}
	if (writer && mkdir(dir, 0700) == -1 && errno != EEXIST) {
		*why = strerror(errno);
		return NULL;
	}
	if (!writer && (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))) {
		*why = "not created yet";
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->writer = writer;
	s->pid = getpid();
	if ((rc = env_open(s, dir)) == 0 && (rc = dbi_open(s)) == 0)
		return s;
	*why = rc == ENOENT ? "not created yet" : mdb_strerror(rc);
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
	return NULL;
}

void
supp_close(struct supp *s)
{
	if (s == NULL)
		return;
	/* A forked child leaves the parent's environment alone. */
	if (s->pid == getpid()) {
		if (s->rtxn != NULL)
			mdb_txn_abort(s->rtxn);
		mdb_env_close(s->env);
	}
	free(s);
}

/* --- reading ----------------------------------------------------------- */

/* ro_begin - a read transaction of its own, after a resize too */
static int
ro_begin(struct supp *s, MDB_txn **txn)
{
	int rc;

	*txn = NULL;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* The writer grew the map: adopt its size, try again. */
		if (s->rtxn != NULL)
			mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0)
		*txn = NULL;
	return rc;
}

/* rtxn_begin - the cached read transaction renewed: a fresh snapshot */
static int
rtxn_begin(struct supp *s, MDB_txn **txn)
{
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if (s->rtxn != NULL)
			rc = mdb_txn_renew(s->rtxn);
		else
			rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
		if (rc == 0) {
			*txn = s->rtxn;
			return 0;
		}
		if (s->rtxn != NULL)
			mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
		if (rc != MDB_MAP_RESIZED)
			break;
		/* The writer grew the map: adopt its size, try again. */
		mdb_env_set_mapsize(s->env, 0);
	}
	log_warnx("suppress: read transaction: %s", mdb_strerror(rc));
	return -1;
}

static void
rtxn_end(struct supp *s)
{
	mdb_txn_reset(s->rtxn);
}

/* get_in - one lookup in txn: 1, 0 or -1 */
static int
get_in(struct supp *s, MDB_txn *txn, const char *scope, const char *addr,
    struct supp_entry *e)
{
	char	 k[SUPP_KEY_MAX];
	MDB_val	 kv, vv;
	int	 rc;

	if (key_make(k, scope, addr, &kv) == -1)
		return 0;
	if ((rc = mdb_get(txn, s->dbi, &kv, &vv)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		log_warnx("suppress: get: %s", mdb_strerror(rc));
		return -1;
	}
	if (decode(&kv, &vv, e) == -1 || expired(e, (uint64_t)time(NULL)))
		return 0;
	return 1;
}

int
supp_get(struct supp *s, const char *scope, const char *addr,
    struct supp_entry *e)
{
	char	 norm[MAILADDR_MAX + 1];
	MDB_txn	*txn;
	int	 rc;

	if (!same_process(s))
		return -1;
	if (supp_norm_addr(addr, norm, sizeof(norm)) == -1 ||
	    !supp_scope_ok(scope))
		return 0;
	if (rtxn_begin(s, &txn) == -1)
		return -1;
	rc = get_in(s, txn, scope, norm, e);
	rtxn_end(s);
	return rc;
}

/* scoped - "job:X" into buf; false when X cannot be a scope */
static bool
scoped(char *buf, size_t sz, const char *prefix, const char *x)
{
	if (x == NULL || *x == '\0' || !bsnprintf(buf, sz, "%s%s", prefix, x))
		return false;
	return supp_scope_ok(buf);
}

/* supp_check - global, then job, then pool, in one snapshot */
int
supp_check(struct supp *s, const char *addr, const char *job,
    const char *pool, struct supp_entry *e)
{
	char	 norm[MAILADDR_MAX + 1], sc[SUPP_SCOPE_MAX + 1];
	MDB_txn	*txn;
	int	 rc;

	if (!same_process(s))
		return -1;
	if (supp_norm_addr(addr, norm, sizeof(norm)) == -1)
		return 0;
	if (rtxn_begin(s, &txn) == -1)
		return -1;
	rc = get_in(s, txn, "", norm, e);
	if (rc == 0 && scoped(sc, sizeof(sc), "job:", job))
		rc = get_in(s, txn, sc, norm, e);
	if (rc == 0 && scoped(sc, sizeof(sc), "pool:", pool))
		rc = get_in(s, txn, sc, norm, e);
	rtxn_end(s);
	return rc;
}

uint64_t
supp_count(struct supp *s)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	uint64_t	 n = 0;

	if (!same_process(s) || rtxn_begin(s, &txn) == -1)
		return 0;
	if (mdb_stat(txn, s->dbi, &st) == 0)
		n = st.ms_entries;
	rtxn_end(s);
	return n;
}

struct walk {
	const char	*scope;		/* filter, or NULL */
	const char	*addr;		/* filter, or NULL */
	int		(*cb)(const struct supp_entry *, void *);
	void		*arg;
	long		 n;
};

/* key_match - cheap filters on the raw key, before any decoding */
static bool
key_match(const MDB_val *k, const struct walk *w, bool *past)
{
	const char	*kd = k->mv_data;
	size_t		 sl;

	if (w->scope != NULL) {
		sl = strlen(w->scope);
		if (k->mv_size <= sl || memcmp(kd, w->scope, sl) != 0 ||
		    kd[sl] != '\0') {
			*past = true;
			return false;
		}
	}
	if (w->addr != NULL) {
		size_t al = strlen(w->addr);

		if (k->mv_size < al + 1 || kd[k->mv_size - al - 1] != '\0' ||
		    memcmp(kd + k->mv_size - al, w->addr, al) != 0)
			return false;
	}
	return true;
}

/*
 * walk_from - visit entries from key kv on (after it when skip_eq), in
 * one read transaction of its own; cb must not use the handle
 */
static long
walk_from(struct supp *s, MDB_val *kv, bool skip_eq, struct walk *w)
{
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k = *kv, v;
	MDB_cursor_op		 op = k.mv_size ? MDB_SET_RANGE : MDB_FIRST;
	struct supp_entry	 e;
	uint64_t		 now = (uint64_t)time(NULL);
	bool			 past = false;
	int			 rc;

	if ((rc = ro_begin(s, &txn)) == 0 &&
	    (rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0)
		mdb_txn_abort(txn);
	if (rc != 0) {
		log_warnx("suppress: iterate: %s", mdb_strerror(rc));
		return -1;
	}
	for (; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (skip_eq && op == MDB_SET_RANGE && k.mv_size ==
		    kv->mv_size && memcmp(k.mv_data, kv->mv_data,
		    k.mv_size) == 0)
			continue;
		if (!key_match(&k, w, &past)) {
			if (past)
				break;
			continue;
		}
		if (decode(&k, &v, &e) == -1 || expired(&e, now))
			continue;
		w->n++;
		if (w->cb(&e, w->arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		log_warnx("suppress: iterate: %s", mdb_strerror(rc));
		return -1;
	}
	return w->n;
}

/* start_key - scope, NUL, addr; addr may be "" (the scope's start) */
static int
start_key(char *k, const char *scope, const char *addr, MDB_val *kv)
{
	size_t sl = strlen(scope), al = strlen(addr);

	if (sl > SUPP_SCOPE_MAX || al > MAILADDR_MAX)
		return -1;
	memcpy(k, scope, sl);
	k[sl] = '\0';
	memcpy(k + sl + 1, addr, al);
	kv->mv_data = k;
	kv->mv_size = sl + 1 + al;
	return 0;
}

/* keycmp - LMDB's default order: bytes, then length */
static int
keycmp(const MDB_val *a, const MDB_val *b)
{
	size_t	 n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int	 d = memcmp(a->mv_data, b->mv_data, n);

	if (d != 0)
		return d;
	return (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

long
supp_iter(struct supp *s, const char *scope_filter, const char *after_scope,
    const char *after_addr, int (*cb)(const struct supp_entry *, void *),
    void *arg)
{
	struct walk	 w = { scope_filter, NULL, cb, arg, 0 };
	char		 k[SUPP_KEY_MAX], fk[SUPP_KEY_MAX];
	MDB_val		 kv = { 0, NULL }, fv;

	if (!same_process(s))
		return -1;
	after_scope = after_scope != NULL ? after_scope : "";
	after_addr = after_addr != NULL ? after_addr : "";
	if ((*after_scope != '\0' || *after_addr != '\0') &&
	    start_key(k, after_scope, after_addr, &kv) == -1)
		return -1;
	/* A filter starts at its scope unless "after" is further on. */
	if (scope_filter != NULL) {
		if (start_key(fk, scope_filter, "", &fv) == -1)
			return -1;
		if (kv.mv_size == 0 || keycmp(&fv, &kv) > 0)
			kv = fv;
	}
	/* No stored key equals a scope's start: skipping is harmless. */
	return walk_from(s, &kv, true, &w);
}

long
supp_iter_addr(struct supp *s, const char *addr,
    int (*cb)(const struct supp_entry *, void *), void *arg)
{
	char		 norm[MAILADDR_MAX + 1];
	struct walk	 w = { NULL, norm, cb, arg, 0 };
	MDB_val		 kv = { 0, NULL };

	if (!same_process(s))
		return -1;
	if (supp_norm_addr(addr, norm, sizeof(norm)) == -1)
		return 0;
	return walk_from(s, &kv, false, &w);
}

/* --- writing ----------------------------------------------------------- */

/* grow - double the map after MDB_MAP_FULL; -1 at the ceiling */
static int
grow(struct supp *s)
{
	uint64_t	 sz = s->mapsize * 2;
	int		 rc;

	if (s->mapsize >= SUPP_MAP_LAST) {
		log_warnx("suppress: map full at %llu bytes",
		    (unsigned long long)s->mapsize);
		return -1;
	}
	if (sz > SUPP_MAP_LAST)
		sz = SUPP_MAP_LAST;
	/* No transaction of ours may be open while the map moves. */
	if (s->rtxn != NULL) {
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	if ((rc = mdb_env_set_mapsize(s->env, (size_t)sz)) != 0) {
		log_warnx("suppress: resize: %s", mdb_strerror(rc));
		return -1;
	}
	log_info("suppress: map grown to %llu bytes", (unsigned long long)sz);
	s->mapsize = sz;
	return 0;
}

typedef int (*wfn)(struct supp *, MDB_txn *, void *);

/* wtxn_run - fn in one durable write transaction, growing the map */
static int
wtxn_run(struct supp *s, wfn fn, void *arg)
{
	MDB_txn	*txn;
	int	 rc;

	if (!s->writer || !same_process(s))
		return -1;
	for (;;) {
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			break;
		if ((rc = fn(s, txn, arg)) != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_MAP_FULL && grow(s) == 0)
				continue;
			break;
		}
		/* Synced: the environment is opened without MDB_NOSYNC. */
		if ((rc = mdb_txn_commit(txn)) == MDB_MAP_FULL &&
		    grow(s) == 0)
			continue;
		break;
	}
	if (rc != 0 && rc != -1)
		log_warnx("suppress: write: %s", mdb_strerror(rc));
	return rc == 0 ? 0 : -1;
}

struct putargs {
	const struct supp_entry	*e;
	unsigned		 n;
	uint64_t		 now;
};

static int
put_fn(struct supp *s, MDB_txn *txn, void *arg)
{
	struct putargs		*pa = arg;
	struct supp_entry	 e;
	char			 k[SUPP_KEY_MAX];
	uint8_t			 v[VAL_MAX];
	MDB_val			 kv, vv;
	unsigned		 i;
	int			 rc;

	for (i = 0; i < pa->n; i++) {
		e = pa->e[i];
		if (e.created == 0)
			e.created = pa->now;
		if (key_make(k, e.scope, e.addr, &kv) == -1)
			return -1;
		vv.mv_data = v;
		vv.mv_size = val_encode(&e, v);
		if ((rc = mdb_put(txn, s->dbi, &kv, &vv, 0)) != 0)
			return rc;
	}
	return 0;
}

/* supp_put_many - n entries in one transaction: all or none */
int
supp_put_many(struct supp *s, const struct supp_entry *e, unsigned n)
{
	struct putargs	 pa = { e, n, (uint64_t)time(NULL) };
	const char	*why;
	unsigned	 i;

	for (i = 0; i < n; i++)
		if (supp_entry_check(&e[i], &why) == -1) {
			log_warnx("suppress: entry %u refused: %s", i, why);
			return -1;
		}
	return wtxn_run(s, put_fn, &pa);
}

int
supp_put(struct supp *s, const struct supp_entry *e)
{
	return supp_put_many(s, e, 1);
}

struct delargs {
	const char	*scope, *addr;
	bool		 found;
};

static int
del_fn(struct supp *s, MDB_txn *txn, void *arg)
{
	struct delargs	*da = arg;
	char		 k[SUPP_KEY_MAX];
	MDB_val		 kv;
	int		 rc;

	if (key_make(k, da->scope, da->addr, &kv) == -1)
		return -1;
	rc = mdb_del(txn, s->dbi, &kv, NULL);
	da->found = rc == 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* supp_del - 1 removed, 0 not there, -1 error */
int
supp_del(struct supp *s, const char *scope, const char *addr)
{
	char		 norm[MAILADDR_MAX + 1];
	struct delargs	 da = { scope, norm, false };

	if (supp_norm_addr(addr, norm, sizeof(norm)) == -1 ||
	    !supp_scope_ok(scope))
		return 0;
	if (wtxn_run(s, del_fn, &da) == -1)
		return -1;
	return da.found ? 1 : 0;
}

struct purgeargs {
	uint64_t	 now;
	unsigned	 n;
};

static int
purge_fn(struct supp *s, MDB_txn *txn, void *arg)
{
	struct purgeargs	*pa = arg;
	struct supp_entry	 e;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	MDB_cursor_op		 op = MDB_FIRST;
	int			 rc;

	pa->n = 0;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0)
		return rc;
	for (; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (decode(&k, &v, &e) == -1 || !expired(&e, pa->now))
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		pa->n++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* supp_purge_expired - delete what has expired; how many */
unsigned
supp_purge_expired(struct supp *s, uint64_t now)
{
	struct purgeargs pa = { now, 0 };

	if (wtxn_run(s, purge_fn, &pa) == -1)
		return 0;
	return pa.n;
}

/* --- times ------------------------------------------------------------- */

void
supp_time_fmt(uint64_t t, char *buf, size_t sz)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t == 0 || t > TIME_MAX || gmtime_r(&tt, &tm) == NULL) {
		tern_strlcpy(buf, "", sz);
		return;
	}
	if (strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		tern_strlcpy(buf, "", sz);
}

int
supp_time_parse(const char *s, uint64_t *t)
{
	struct tm	 tm;
	const char	*end;
	time_t		 tt;

	if (*s == '\0') {
		*t = 0;
		return 0;
	}
	if (strspn(s, "0123456789") == strlen(s))
		return parse_u64(s, 0, TIME_MAX, t);
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		if ((end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*end == 'Z')
			end++;
	}
	if (*end != '\0' || tm.tm_year < 70)
		return -1;
	if ((tt = timegm(&tm)) == (time_t)-1 || (uint64_t)tt > TIME_MAX)
		return -1;
	*t = (uint64_t)tt;
	return 0;
}

/* --- CSV --------------------------------------------------------------- */

static const char *const csv_cols[SUPP_CSV_NCOLS] = {
	"address", "scope", "reason", "source", "created", "expires", "note"
};

void
supp_csv_init(struct supp_csv *c, FILE *f)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	c->f = f;
	c->nextline = 1;
	for (i = 0; i < SUPP_CSV_NCOLS; i++)
		c->col[i] = -1;
}

struct csvstate {
	size_t	 o;
	bool	 quoted;	/* inside a quoted field */
	bool	 wasq;		/* this field was quoted */
	bool	 bad;
	const char *why;
};

static void
csv_bad(struct csvstate *st, const char *why)
{
	if (!st->bad) {
		st->bad = true;
		st->why = why;
	}
}

/* csv_endfield - close the current field in c->rec */
static void
csv_endfield(struct supp_csv *c, struct csvstate *st, size_t *start)
{
	if (st->o >= sizeof(c->rec)) {
		csv_bad(st, "record too long");
		return;
	}
	c->rec[st->o++] = '\0';
	if (c->nfld >= SUPP_CSV_FIELDS_MAX)
		csv_bad(st, "too many fields");
	else
		c->fld[c->nfld++] = c->rec + *start;
	*start = st->o;
	st->wasq = false;
}

static void
csv_addch(struct supp_csv *c, struct csvstate *st, int ch)
{
	if (st->o + 1 >= sizeof(c->rec))
		csv_bad(st, "record too long");
	else if (ch == '\0')
		csv_bad(st, "NUL byte");
	else
		c->rec[st->o++] = (char)ch;
}

/* csv_quoted - a character inside quotes: "" is one, " ends them */
static void
csv_quoted(struct supp_csv *c, struct csvstate *st, int ch)
{
	int nx;

	if (ch == '\n')
		c->nextline++;
	if (ch != '"') {
		csv_addch(c, st, ch);
		return;
	}
	if ((nx = getc(c->f)) == '"') {
		csv_addch(c, st, '"');
		return;
	}
	st->quoted = false;
	if (nx != EOF)
		ungetc(nx, c->f);
}

/*
 * csv_record - the next record's fields: 1, 0 at EOF, -1 bad (*why);
 * a bad record is read to its end so that the next one starts clean
 */
static int
csv_record(struct supp_csv *c, const char **why)
{
	struct csvstate	 st = { 0, false, false, false, NULL };
	size_t		 start = 0;
	bool		 any = false;
	int		 ch;

	c->nfld = 0;
	c->line = c->nextline;
	while ((ch = getc(c->f)) != EOF) {
		any = true;
		if (st.quoted) {
			csv_quoted(c, &st, ch);
			continue;
		}
		if (ch == '\n') {
			c->nextline++;
			break;
		}
		if (ch == '\r')
			continue;
		if (ch == ',')
			csv_endfield(c, &st, &start);
		else if (ch == '"' && st.o == start && !st.wasq)
			st.quoted = st.wasq = true;
		else if (ch == '"' || st.wasq)
			csv_bad(&st, "stray quote");
		else
			csv_addch(c, &st, ch);
	}
	if (!any)
		return 0;
	if (st.quoted)
		csv_bad(&st, "unterminated quoted field");
	csv_endfield(c, &st, &start);
	*why = st.why;
	return st.bad ? -1 : 1;
}

static bool
csv_blank(const struct supp_csv *c)
{
	return c->nfld == 1 && *str_trim(c->fld[0]) == '\0';
}

/* csv_header - columns from a header record; false if it is not one */
static bool
csv_header(struct supp_csv *c)
{
	unsigned	 i, j;
	bool		 is = false;

	/* A UTF-8 byte order mark may open the file. */
	if (c->nfld > 0 && strncmp(c->fld[0], "\xef\xbb\xbf", 3) == 0)
		c->fld[0] += 3;
	for (i = 0; i < c->nfld; i++) {
		const char *f = str_trim(c->fld[i]);

		/* "email", as other tools name it, is the address too. */
		if (strcasecmp(f, "email") == 0)
			f = "address";
		for (j = 0; j < SUPP_CSV_NCOLS; j++)
			if (strcasecmp(f, csv_cols[j]) == 0 && c->col[j] == -1)
				c->col[j] = (int)i;
		if (strcasecmp(f, "address") == 0)
			is = true;
	}
	if (!is)
		for (j = 0; j < SUPP_CSV_NCOLS; j++)
			c->col[j] = (int)j;
	return is;
}

static char *
csv_col(struct supp_csv *c, unsigned col)
{
	static char	 empty[1];
	int		 i = c->col[col];

	empty[0] = '\0';
	return i >= 0 && (unsigned)i < c->nfld ? c->fld[i] : empty;
}

/* csv_copy - a field without surrounding blanks into dst */
static int
csv_copy(char *dst, size_t sz, char *src, const char **why,
    const char *toolong)
{
	if (tern_strlcpy(dst, str_trim(src), sz) >= sz) {
		*why = toolong;
		return -1;
	}
	return 0;
}

/* csv_entry - the current record as an entry */
static int
csv_entry(struct supp_csv *c, struct supp_entry *e, const char **why)
{
	char		 tm[2][64];
	const char	*a = str_trim(csv_col(c, 0));

	memset(e, 0, sizeof(*e));
	if (*a == '\0') {
		*why = "no address";
		return -1;
	}
	if (supp_norm_addr(a, e->addr, sizeof(e->addr)) == -1) {
		*why = "bad address";
		return -1;
	}
	if (csv_copy(e->scope, sizeof(e->scope), csv_col(c, 1), why,
	    "scope too long") == -1 ||
	    csv_copy(e->reason, sizeof(e->reason), csv_col(c, 2), why,
	    "reason too long") == -1 ||
	    csv_copy(e->source, sizeof(e->source), csv_col(c, 3), why,
	    "source too long") == -1 ||
	    csv_copy(tm[0], sizeof(tm[0]), csv_col(c, 4), why,
	    "bad created time") == -1 ||
	    csv_copy(tm[1], sizeof(tm[1]), csv_col(c, 5), why,
	    "bad expires time") == -1)
		return -1;
	if (strlen(csv_col(c, 6)) > SUPP_NOTE_MAX) {
		*why = "note too long";
		return -1;
	}
	/* Line breaks and other controls in a note become blanks. */
	supp_note_set(e, csv_col(c, 6));
	if (supp_time_parse(tm[0], &e->created) == -1) {
		*why = "bad created time";
		return -1;
	}
	if (supp_time_parse(tm[1], &e->expires) == -1) {
		*why = "bad expires time";
		return -1;
	}
	if (!supp_scope_ok(e->scope)) {
		*why = "bad scope (\"\", job:ID or pool:NAME)";
		return -1;
	}
	if ((*e->reason && !token_ok(e->reason, SUPP_REASON_MAX, false)) ||
	    !token_ok(e->source, SUPP_SOURCE_MAX, true)) {
		*why = *e->reason && !token_ok(e->reason, SUPP_REASON_MAX,
		    false) ? "bad reason" : "bad source";
		return -1;
	}
	return 0;
}

int
supp_csv_next(struct supp_csv *c, struct supp_entry *e, const char **why)
{
	int rc;

	for (;;) {
		if ((rc = csv_record(c, why)) <= 0)
			return rc;
		if (csv_blank(c))
			continue;
		if (!c->started) {
			c->started = true;
			if (csv_header(c))
				continue;
		}
		return csv_entry(c, e, why) == 0 ? 1 : -1;
	}
}

/* csv_field - s, quoted if it needs to be, then sep; false if full */
static bool
csv_field(char *out, size_t sz, size_t *o, const char *s, char sep)
{
	bool	 q = strpbrk(s, ",\"\r\n") != NULL || *s == ' ' ||
		    (*s != '\0' && s[strlen(s) - 1] == ' ');

	/* Room for each byte doubled, two quotes, sep and the NUL. */
	if (sz - *o < strlen(s) * 2 + 4)
		return false;
	if (q)
		out[(*o)++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"')
			out[(*o)++] = '"';
		out[(*o)++] = *s;
	}
	if (q)
		out[(*o)++] = '"';
	out[(*o)++] = sep;
	out[*o] = '\0';
	return true;
}

/* supp_csv_format - one record, with its newline */
int
supp_csv_format(const struct supp_entry *e, char *out, size_t sz)
{
	char	 cr[32], ex[32];
	size_t	 o = 0;

	supp_time_fmt(e->created, cr, sizeof(cr));
	supp_time_fmt(e->expires, ex, sizeof(ex));
	if (sz == 0 || !csv_field(out, sz, &o, e->addr, ',') ||
	    !csv_field(out, sz, &o, e->scope, ',') ||
	    !csv_field(out, sz, &o, e->reason, ',') ||
	    !csv_field(out, sz, &o, e->source, ',') ||
	    !csv_field(out, sz, &o, cr, ',') ||
	    !csv_field(out, sz, &o, ex, ',') ||
	    !csv_field(out, sz, &o, e->note, '\n'))
		return -1;
	return (int)o;
}

/*
 * supp_reader - a reader's handle, opened once bouncd has made the
 * list: *s when open, else one try per SUPP_REOPEN_MS (*tried is the
 * time of the last, in ms), NULL meanwhile
 */
struct supp *
supp_reader(struct supp **s, uint64_t *tried, const char *spool_dir)
{
	const char	*why = NULL;
	uint64_t	 now;

	if (*s != NULL)
		return *s;
	now = now_ms();
	if (now - *tried < SUPP_REOPEN_MS)
		return NULL;
	*tried = now;
	return *s = supp_open(spool_dir, false, &why);
}
