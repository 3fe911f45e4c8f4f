/*
 * test_suppress.c - unit tests for common/suppress.c.
 *
 * Purpose:      put/get/del; scopes and the order of supp_check; expiry
 *               and purge; address normalisation; a reader in another
 *               process sees each commit (and a map the writer grew);
 *               a handle used across fork is refused; 5000 entries in
 *               key order, paged; every scope of one address; a corrupt
 *               value reads as absent; the map grows from 64 KiB; the
 *               CSV reader and writer (quoting, embedded commas, quotes
 *               and newlines, CRLF, headers in any order, bare address
 *               lists, bad records with their line numbers), times.
 * Used by:      t/00-unit.t (build/t/test_suppress).
 * Trust:        test code.
 * Spool access: a temporary directory standing for spool-dir.
 * See:          common/suppress.h.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suppress.h"
#include "tap.h"
#include "util.h"

#define NMANY	5000

static char	 spool[64];

static void
entry(struct supp_entry *e, const char *addr, const char *scope,
    const char *reason)
{
	memset(e, 0, sizeof(*e));
	tern_strlcpy(e->addr, addr, sizeof(e->addr));
	tern_strlcpy(e->scope, scope, sizeof(e->scope));
	tern_strlcpy(e->reason, reason, sizeof(e->reason));
	tern_strlcpy(e->source, "manual", sizeof(e->source));
}

static void
mkspool(void)
{
	tern_strlcpy(spool, "/tmp/test_suppress.XXXXXX", sizeof(spool));
	if (mkdtemp(spool) == NULL)
		bail_out("mkdtemp");
}

static void
rmspool(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

static void
test_norm(void)
{
	char	 out[MAILADDR_MAX + 1], big[400];

	ok(supp_norm_addr(" <User.Name+x@Example.COM> ", out,
	    sizeof(out)) == 0, "norm: trimmed, brackets dropped");
	is_str(out, "user.name+x@example.com", "norm: lowercased");
	ok(supp_norm_addr("a@b", out, sizeof(out)) == 0, "norm: short");
	ok(supp_norm_addr("nodomain", out, sizeof(out)) == -1,
	    "norm: no @ refused");
	ok(supp_norm_addr("a@", out, sizeof(out)) == -1, "norm: no domain");
	ok(supp_norm_addr("@b.c", out, sizeof(out)) == -1, "norm: no local");
	ok(supp_norm_addr("a b@c.d", out, sizeof(out)) == -1,
	    "norm: blank in local part");
	ok(supp_norm_addr("a@b..c", out, sizeof(out)) == -1,
	    "norm: empty label");
	ok(supp_norm_addr("", out, sizeof(out)) == -1, "norm: empty");
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ok(supp_norm_addr(big, out, sizeof(out)) == -1, "norm: too long");
	ok(supp_norm_addr("a@b.c", out, 3) == -1, "norm: out too small");
	ok(supp_scope_ok("") && supp_scope_ok("job:j-1") &&
	    supp_scope_ok("pool:p1"), "scopes: good ones");
	ok(!supp_scope_ok("job:") && !supp_scope_ok("jobs:x") &&
	    !supp_scope_ok("pool:a b") && !supp_scope_ok("x"),
	    "scopes: bad ones");
}

static void
test_basic(void)
{
	struct supp		*w;
	struct supp_entry	 e, g;
	struct stat		 st;
	const char		*why;
	char			 dir[128];

	ok(supp_open(spool, false, &why) == NULL, "reader: NULL before it "
	    "exists");
	is_str(why, "not created yet", "reader: says why");
	w = supp_open(spool, true, &why);
	if (!ok(w != NULL, "writer opens (%s)", why ? why : "ok"))
		bail_out("no writer");
	snprintf(dir, sizeof(dir), "%s/suppress", spool);
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "directory mode 0700");
	entry(&e, "bob@example.com", "", "bad-mailbox");
	supp_note_set(&e, "550 5.1.1 no such user");
	e.created = 1700000000;
	is_int(supp_put(w, &e), 0, "put");
	is_int(supp_get(w, "", "BOB@Example.com", &g), 1, "get, any case");
	is_str(g.addr, "bob@example.com", "get: address");
	is_str(g.reason, "bad-mailbox", "get: reason");
	is_str(g.source, "manual", "get: source");
	is_str(g.note, "550 5.1.1 no such user", "get: note");
	is_u64(g.created, 1700000000, "get: created");
	is_u64(g.expires, 0, "get: expires");
	is_int(supp_get(w, "job:x", "bob@example.com", &g), 0,
	    "other scope: absent");
	is_int(supp_get(w, "", "not an address", &g), 0, "bad address: 0");
	entry(&e, "Bob@example.com", "", "x");
	is_int(supp_put(w, &e), -1, "put: unnormalised address refused");
	entry(&e, "bob@example.com", "nope", "x");
	is_int(supp_put(w, &e), -1, "put: bad scope refused");
	entry(&e, "bob@example.com", "", "");
	is_int(supp_put(w, &e), -1, "put: empty reason refused");
	entry(&e, "bob@example.com", "", "ok");
	tern_strlcpy(e.note, "a\nb", sizeof(e.note));
	is_int(supp_put(w, &e), -1, "put: control character in note");
	entry(&e, "carol@example.com", "", "manual");
	is_int(supp_put(w, &e), 0, "put without created");
	ok(supp_get(w, "", "carol@example.com", &g) == 1 &&
	    g.created >= (uint64_t)time(NULL) - 5, "created defaults to now");
	is_u64(supp_count(w), 2, "count 2");
	is_int(supp_del(w, "", "BOB@example.com"), 1, "del");
	is_int(supp_get(w, "", "bob@example.com", &g), 0, "gone");
	is_int(supp_del(w, "", "bob@example.com"), 0, "del again: 0");
	is_int(supp_del(w, "", "carol@example.com"), 1, "del carol");
	supp_close(w);
}

static void
test_scopes(void)
{
	struct supp		*w;
	struct supp_entry	 e[3], g;
	const char		*why;

	w = supp_open(spool, true, &why);
	entry(&e[0], "dan@example.org", "", "global");
	entry(&e[1], "dan@example.org", "job:j1", "job");
	entry(&e[2], "dan@example.org", "pool:p1", "pool");
	is_int(supp_put_many(w, e, 3), 0, "put_many 3 scopes");
	is_int(supp_check(w, "Dan@example.org", "j1", "p1", &g), 1, "check");
	is_str(g.reason, "global", "check: global first");
	supp_del(w, "", "dan@example.org");
	ok(supp_check(w, "dan@example.org", "j1", "p1", &g) == 1 &&
	    strcmp(g.reason, "job") == 0, "check: then job");
	ok(supp_check(w, "dan@example.org", NULL, "p1", &g) == 1 &&
	    strcmp(g.reason, "pool") == 0, "check: no job, then pool");
	ok(supp_check(w, "dan@example.org", "j2", "", &g) == 0,
	    "check: other job, no pool: absent");
	supp_del(w, "job:j1", "dan@example.org");
	ok(supp_check(w, "dan@example.org", "j1", "p1", &g) == 1 &&
	    strcmp(g.reason, "pool") == 0, "check: then pool");
	ok(supp_check(w, "dan@example.org", "j1", "p2", &g) == 0,
	    "check: other pool: absent");
	supp_del(w, "pool:p1", "dan@example.org");
	entry(&e[0], "x@example.org", "", "a");
	entry(&e[1], "x@example.org", "job:bad scope", "b");
	is_int(supp_put_many(w, e, 2), -1, "put_many: all or none");
	is_int(supp_get(w, "", "x@example.org", &g), 0, "none written");
	supp_close(w);
}

static int
count_cb(const struct supp_entry *e, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_expiry(void)
{
	struct supp		*w;
	struct supp_entry	 e[3], g;
	const char		*why;
	uint64_t		 now = (uint64_t)time(NULL);
	int			 n = 0;

	w = supp_open(spool, true, &why);
	entry(&e[0], "old@example.net", "", "x");
	e[0].expires = now - 1;
	entry(&e[1], "now@example.net", "", "x");
	e[1].expires = now;
	entry(&e[2], "later@example.net", "", "x");
	e[2].expires = now + 3600;
	supp_put_many(w, e, 3);
	is_int(supp_get(w, "", "old@example.net", &g), 0, "expired: absent");
	is_int(supp_get(w, "", "now@example.net", &g), 0,
	    "expires == now: absent");
	is_int(supp_get(w, "", "later@example.net", &g), 1, "not yet: there");
	is_u64(g.expires, now + 3600, "expires kept");
	is_u64(supp_count(w), 3, "count includes expired");
	supp_iter(w, NULL, "", "", count_cb, &n);
	is_int(n, 1, "iteration skips expired");
	is_int(supp_purge_expired(w, now), 2, "purge: 2");
	is_u64(supp_count(w), 1, "count after purge");
	is_int(supp_purge_expired(w, now + 7200), 1, "purge later: 1");
	is_u64(supp_count(w), 0, "empty");
	supp_close(w);
}

/* child_reader - in a fresh process: sees the writer's commits */
static int
child_reader(int rfd, int wfd)
{
	struct supp		*r = NULL;
	struct supp_entry	 g;
	const char		*why;
	char			 c;
	int			 i;

	for (i = 0; i < 100 && r == NULL; i++)
		if ((r = supp_open(spool, false, &why)) == NULL)
			usleep(10000);
	if (r == NULL || supp_get(r, "", "late@example.com", &g) != 0)
		return 1;
	if (write(wfd, "r", 1) != 1 || read(rfd, &c, 1) != 1)
		return 2;
	/* The parent committed: the renewed snapshot must show it. */
	if (supp_get(r, "", "late@example.com", &g) != 1 ||
	    strcmp(g.reason, "late") != 0)
		return 3;
	if (write(wfd, "r", 1) != 1 || read(rfd, &c, 1) != 1)
		return 4;
	if (supp_get(r, "", "late@example.com", &g) != 0)
		return 5;
	/* After the parent grew the map well past ours. */
	if (write(wfd, "r", 1) != 1 || read(rfd, &c, 1) != 1)
		return 6;
	if (supp_get(r, "pool:grow", "u1999@grow.example", &g) != 1)
		return 7;
	i = 0;
	if (supp_iter(r, "pool:grow", NULL, NULL, count_cb, &i) != 2000 ||
	    i != 2000)
		return 8;
	supp_close(r);
	return 0;
}

static void
grow_entries(struct supp_entry *v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		char addr[64], note[401];

		snprintf(addr, sizeof(addr), "u%u@grow.example", i);
		entry(&v[i], addr, "pool:grow", "bulk");
		memset(note, 'n', sizeof(note) - 1);
		note[sizeof(note) - 1] = '\0';
		supp_note_set(&v[i], note);
	}
}

static void
test_processes(void)
{
	struct supp		*w;
	struct supp_entry	 e, g, *v;
	const char		*why;
	int			 p2c[2], c2p[2], st;
	pid_t			 pid;
	char			 c;

	/* Start with a small map so that the child sees it grow. */
	rmspool(spool);
	mkspool();
	supp_set_mapsize(64 * 1024);
	w = supp_open(spool, true, &why);
	supp_set_mapsize(0);
	if (pipe(p2c) == -1 || pipe(c2p) == -1 || (pid = fork()) == -1)
		bail_out("pipe/fork");
	if (pid == 0) {
		/* The parent's handle is refused here, and not closed. */
		if (supp_get(w, "", "a@b.c", &g) != -1)
			_exit(9);
		supp_close(w);
		_exit(child_reader(p2c[0], c2p[1]));
	}
	ok(read(c2p[0], &c, 1) == 1, "reader child opened, saw nothing");
	entry(&e, "late@example.com", "", "late");
	supp_put(w, &e);
	ok(write(p2c[1], "w", 1) == 1 && read(c2p[0], &c, 1) == 1,
	    "reader child saw the put");
	supp_del(w, "", "late@example.com");
	ok(write(p2c[1], "w", 1) == 1 && read(c2p[0], &c, 1) == 1,
	    "reader child saw the del");
	v = xcalloc(2000, sizeof(*v));
	grow_entries(v, 2000);
	is_int(supp_put_many(w, v, 2000), 0, "2000 x 400-byte notes in a "
	    "64 KiB map: grown");
	free(v);
	ok(supp_get(w, "pool:grow", "u0@grow.example", &g) == 1 &&
	    strlen(g.note) == 400, "writer reads after growth");
	ok(write(p2c[1], "w", 1) == 1, "told the child");
	waitpid(pid, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	    "reader child: every check passed (incl. grown map)");
	close(p2c[0]);
	close(p2c[1]);
	close(c2p[0]);
	close(c2p[1]);
	supp_close(w);
	rmspool(spool);
	mkspool();
}

struct page {
	char	 last_scope[SUPP_SCOPE_MAX + 1];
	char	 last_addr[MAILADDR_MAX + 1];
	int	 n, limit, seen, ordered;
	char	 prev[SUPP_SCOPE_MAX + MAILADDR_MAX + 2];
};

static int
page_cb(const struct supp_entry *e, void *arg)
{
	struct page	*p = arg;
	char		 k[sizeof(p->prev)];

	snprintf(k, sizeof(k), "%s\001%s", e->scope, e->addr);
	if (p->seen > 0 && strcmp(p->prev, k) >= 0)
		p->ordered = 0;
	tern_strlcpy(p->prev, k, sizeof(p->prev));
	tern_strlcpy(p->last_scope, e->scope, sizeof(p->last_scope));
	tern_strlcpy(p->last_addr, e->addr, sizeof(p->last_addr));
	p->seen++;
	return ++p->n >= p->limit;
}

static int
scope_cb(const struct supp_entry *e, void *arg)
{
	if (strcmp(e->addr, "shared@example.com") == 0)
		(*(int *)arg)++;
	return 0;
}

static void
test_many(void)
{
	struct supp		*w;
	struct supp_entry	*v, e[3];
	struct page		 p;
	const char		*why;
	int			 i, pages = 0, n = 0;

	w = supp_open(spool, true, &why);
	v = xcalloc(NMANY, sizeof(*v));
	for (i = 0; i < NMANY; i++) {
		char a[64];

		snprintf(a, sizeof(a), "user%05d@many.example", NMANY - 1 - i);
		entry(&v[i], a, "pool:many", "bulk");
	}
	is_int(supp_put_many(w, v, NMANY), 0, "put_many %d", NMANY);
	free(v);
	entry(&e[0], "shared@example.com", "", "g");
	entry(&e[1], "shared@example.com", "job:zz", "j");
	entry(&e[2], "shared@example.com", "pool:aa", "p");
	supp_put_many(w, e, 3);
	memset(&p, 0, sizeof(p));
	p.ordered = 1;
	p.limit = 100;
	do {
		p.n = 0;
		if (supp_iter(w, "pool:many", p.last_scope, p.last_addr,
		    page_cb, &p) == -1)
			break;
		pages++;
	} while (p.n == p.limit);
	is_int(p.seen, NMANY, "paged: every entry once");
	is_int(pages, NMANY / 100 + 1, "pages of 100");
	ok(p.ordered, "paged: in key order");
	is_str(p.last_addr, "user04999@many.example", "last in order");
	memset(&p, 0, sizeof(p));
	p.ordered = 1;
	p.limit = 1000000;
	is_int(supp_iter(w, NULL, NULL, NULL, page_cb, &p), NMANY + 3,
	    "everything");
	ok(p.ordered, "everything in key order");
	memset(&p, 0, sizeof(p));
	p.limit = 1000000;
	is_int(supp_iter(w, "", "", "", page_cb, &p), 1, "global only");
	is_str(p.last_addr, "shared@example.com", "global only: the one");
	memset(&p, 0, sizeof(p));
	p.limit = 1000000;
	is_int(supp_iter(w, "pool:many", "pool:many",
	    "user04990@many.example", page_cb, &p), 9, "after an entry");
	memset(&p, 0, sizeof(p));
	p.limit = 1000000;
	is_int(supp_iter(w, "job:zz", "", "", page_cb, &p), 1,
	    "job scope filter");
	is_int(supp_iter_addr(w, "Shared@Example.com", scope_cb, &n), 3,
	    "iter_addr: three scopes");
	is_int(n, 3, "iter_addr: only that address");
	supp_close(w);
}

/* corrupt - a raw bad value under a key, through LMDB directly */
static void
corrupt(const char *key, size_t klen, const void *val, size_t vlen)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { klen, (void *)key }, v = { vlen, (void *)val };
	char	 dir[128];

	snprintf(dir, sizeof(dir), "%s/suppress", spool);
	if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env,
	    1UL << 30) != 0 || mdb_env_open(env, dir, 0, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0 ||
	    mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
		bail_out("raw lmdb");
	mdb_env_close(env);
}

static void
test_corrupt(void)
{
	struct supp		*w;
	struct supp_entry	 g;
	const char		*why;
	static const char	 k1[] = "\0bad@example.com";
	static const char	 k2[] = "\0short@example.com";
	static const char	 k3[] = "nonsense-scope\0x@example.com";
	static const uint8_t	 v1[] = { 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	    0, 0, 0, 0, 0, 1, 'x', 0, 0, 0 };
	static const uint8_t	 v2[] = { 1, 0, 0 };
	static const uint8_t	 v3[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	    0, 0, 0, 0, 0, 1, 'x', 0, 0, 0 };
	int			 n = 0;

	corrupt(k1, sizeof(k1) - 1, v1, sizeof(v1));
	corrupt(k2, sizeof(k2) - 1, v2, sizeof(v2));
	corrupt(k3, sizeof(k3) - 1, v3, sizeof(v3));
	w = supp_open(spool, true, &why);
	is_int(supp_get(w, "", "bad@example.com", &g), 0,
	    "unknown version: absent");
	is_int(supp_get(w, "", "short@example.com", &g), 0,
	    "truncated value: absent");
	supp_iter(w, NULL, NULL, NULL, count_cb, &n);
	is_int(n, NMANY + 3, "iteration skips corrupt entries and keys");
	ok(supp_count(w) >= NMANY + 6, "count still sees them");
	supp_close(w);
}

/* --- CSV --------------------------------------------------------------- */

struct csvres {
	int	 rc[16];
	unsigned long line[16];
	struct supp_entry e[16];
	const char *why[16];
	int	 n;
};

static void
csv_run(const char *text, struct csvres *r)
{
	FILE		*f = fmemopen((void *)text, strlen(text), "r");
	struct supp_csv	*c = xcalloc(1, sizeof(*c));

	memset(r, 0, sizeof(*r));
	supp_csv_init(c, f);
	while (r->n < 16 && (r->rc[r->n] = supp_csv_next(c, &r->e[r->n],
	    &r->why[r->n])) != 0) {
		r->line[r->n] = c->line;
		r->n++;
	}
	fclose(f);
	free(c);
}

static void
test_csv_read(void)
{
	struct csvres	 r;
	char		 big[5000];

	csv_run(SUPP_CSV_HEADER "\r\n"
	    "A@Example.com,job:j1,bad-mailbox,rb,2026-11-23T10:00:00Z,,"
	    "\"550, \"\"no\"\" user\"\r\n"
	    "\r\n"
	    "b@example.com,,,,,2030-01-01,\"two\nlines\"\n"
	    "\"c@example.com\"\n", &r);
	is_int(r.n, 3, "csv: three entries");
	is_int(r.rc[0], 1, "csv: first ok");
	is_str(r.e[0].addr, "a@example.com", "csv: address normalised");
	is_str(r.e[0].scope, "job:j1", "csv: scope");
	is_str(r.e[0].reason, "bad-mailbox", "csv: reason");
	is_str(r.e[0].source, "rb", "csv: source");
	is_u64(r.e[0].created, 1795428000, "csv: created");
	is_u64(r.e[0].expires, 0, "csv: expires empty = never");
	is_str(r.e[0].note, "550, \"no\" user", "csv: comma and quotes");
	is_int(r.line[0], 2, "csv: line 2");
	is_str(r.e[1].note, "two lines", "csv: newline in note: a blank");
	is_u64(r.e[1].expires, 1893456000, "csv: date only");
	is_str(r.e[1].reason, "", "csv: empty reason left to the caller");
	is_int(r.line[1], 4, "csv: line 4 (blank line skipped)");
	is_int(r.line[2], 6, "csv: line 6 after a two-line record");
	is_str(r.e[2].addr, "c@example.com", "csv: quoted address");

	csv_run("note,Address,ignored\nhello,x@y.z,1\n", &r);
	ok(r.n == 1 && r.rc[0] == 1 && strcmp(r.e[0].addr, "x@y.z") == 0 &&
	    strcmp(r.e[0].note, "hello") == 0, "csv: columns by header name");

	csv_run("Name,EMAIL\nJo,jo@example.com\n", &r);
	ok(r.n == 1 && r.rc[0] == 1 && strcmp(r.e[0].addr, "jo@example.com") ==
	    0, "csv: an email column is the address");

	csv_run("\xef\xbb\xbf" "one@example.com\ntwo@example.com\n"
	    "three@example.com", &r);
	ok(r.n == 3 && r.rc[0] == 1 && r.rc[2] == 1 &&
	    strcmp(r.e[0].addr, "one@example.com") == 0 &&
	    strcmp(r.e[2].addr, "three@example.com") == 0,
	    "csv: bare addresses, BOM, no final newline");

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	{
		char *t = xasprintf("address,scope,created\n"
		    "bad address,,\n"
		    "ok@example.com,nope,\n"
		    "ok@example.com,,yesterday\n"
		    "o\"k@example.com,,\n"
		    "\"ok@example.com\"x,,\n"
		    "%s@example.com,,\n"
		    ",job:x,\n"
		    "last@example.com,,\n"
		    "\"open@example.com,,\n", big);

		csv_run(t, &r);
		free(t);
	}
	is_int(r.n, 9, "csv: nine records");
	ok(r.rc[0] == -1 && strcmp(r.why[0], "bad address") == 0 &&
	    r.line[0] == 2, "csv: bad address, line 2");
	ok(r.rc[1] == -1 && strstr(r.why[1], "scope") != NULL, "csv: bad "
	    "scope");
	ok(r.rc[2] == -1 && strstr(r.why[2], "created") != NULL, "csv: bad "
	    "time");
	ok(r.rc[3] == -1 && strcmp(r.why[3], "stray quote") == 0,
	    "csv: quote in an unquoted field");
	ok(r.rc[4] == -1 && strcmp(r.why[4], "stray quote") == 0,
	    "csv: text after a closing quote");
	ok(r.rc[5] == -1 && strcmp(r.why[5], "record too long") == 0 &&
	    r.line[5] == 7, "csv: record too long, line 7");
	ok(r.rc[6] == -1 && strcmp(r.why[6], "no address") == 0,
	    "csv: no address");
	ok(r.rc[7] == 1 && strcmp(r.e[7].addr, "last@example.com") == 0 &&
	    r.line[7] == 9, "csv: good record after bad ones, line 9");
	ok(r.rc[8] == -1 && strcmp(r.why[8], "unterminated quoted field") ==
	    0, "csv: unterminated quote at the end");
}

static void
test_csv_write(void)
{
	struct supp_entry	 e, back;
	struct csvres		 r;
	char			 line[SUPP_CSV_LINE_MAX], *text;
	char			 t[32];
	uint64_t		 v;

	entry(&e, "q@example.com", "pool:p", "complaint");
	supp_note_set(&e, "says \"stop\", twice");
	e.created = 1795428000;
	ok(supp_csv_format(&e, line, sizeof(line)) > 0, "format");
	is_str(line, "q@example.com,pool:p,complaint,manual,"
	    "2026-11-23T10:00:00Z,,\"says \"\"stop\"\", twice\"\n",
	    "format: quoted note, empty expires");
	ok(supp_csv_format(&e, line, 20) == -1, "format: too small");
	text = xasprintf("%s\n%s", SUPP_CSV_HEADER, "");
	free(text);
	supp_note_set(&e, " leading blank");
	supp_csv_format(&e, line, sizeof(line));
	text = xasprintf("%s\n%s", SUPP_CSV_HEADER, line);
	csv_run(text, &r);
	free(text);
	back = r.e[0];
	ok(r.n == 1 && r.rc[0] == 1 && strcmp(back.note, " leading blank") ==
	    0 && back.created == e.created && strcmp(back.scope, "pool:p") ==
	    0, "format then read: same entry");
	supp_time_fmt(0, t, sizeof(t));
	is_str(t, "", "time 0: empty");
	supp_time_fmt(1795428000, t, sizeof(t));
	is_str(t, "2026-11-23T10:00:00Z", "time: ISO 8601 UTC");
	ok(supp_time_parse("2026-11-23T10:00:00Z", &v) == 0 &&
	    v == 1795428000, "time parse: Z form");
	ok(supp_time_parse("1795428000", &v) == 0 && v == 1795428000,
	    "time parse: unix seconds");
	ok(supp_time_parse("", &v) == 0 && v == 0, "time parse: empty");
	ok(supp_time_parse("2026-13-01", &v) == -1 &&
	    supp_time_parse("2026-11-23T10:00", &v) == -1 &&
	    supp_time_parse("tomorrow", &v) == -1,
	    "time parse: bad ones refused");
}

int
main(void)
{
	mkspool();
	test_norm();
	test_basic();
	test_scopes();
	test_expiry();
	test_processes();
	test_many();
	test_corrupt();
	test_csv_read();
	test_csv_write();
	rmspool(spool);
	return done_testing();
}
