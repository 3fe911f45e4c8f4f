/*
 * index.c - the LMDB schedule index: a cache, never the truth.
 *
 * Purpose:      one record per queued message, keyed by id: arrival,
 *               pending recipients, attempts and next attempt time (the
 *               retry state delivery keeps; see queued(8)).  Written
 *               with MDB_NOSYNC: it can always be rebuilt from the
 *               spool files, so it costs no fsync on the commit path.
 *               If the environment cannot be opened, or carries another
 *               format version, it is deleted and rebuilt.
 * Used by:      queued (the only process that opens it).
 * Trust:        values read back are size-checked; a bad record is
 *               replaced, never trusted.
 * Spool access: spool-dir/index/ only.
 * See:          tern-spool(5).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

#define INDEX_VERSION	1
#define INDEX_MAPSIZE	(1ULL << 30)

struct idx_rec {
	uint32_t	 version;
	uint32_t	 pending;
	uint64_t	 arrival;
	uint64_t	 next_attempt;
	uint32_t	 attempts;
	uint32_t	 pad;
};

static int
try_open(const char *dir)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = mdb_env_create(&qd.mdb)) != 0)
		return rc;
	mdb_env_set_mapsize(qd.mdb, INDEX_MAPSIZE);
	rc = mdb_env_open(qd.mdb, dir, MDB_NOSYNC | MDB_NOMETASYNC |
	    MDB_NOTLS, 0600);
	if (rc == 0 && (rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, NULL, 0, &qd.dbi)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		mdb_env_close(qd.mdb);
		qd.mdb = NULL;
	}
	return rc;
}

/* index_open - open, or delete and rebuild when damaged */
void
index_open(void)
{
	char	 dir[1024], f[1100];
	int	 rc, dead;

	if (!bsnprintf(dir, sizeof(dir), "%s/index", qd.d.cfg->spool_dir))
		fatalx("spool-dir too long");
	if ((rc = try_open(dir)) == 0) {
		mdb_reader_check(qd.mdb, &dead);
		qd.index_ok = true;
		return;
	}
	log_warnx("index: %s; rebuilding from the spool", mdb_strerror(rc));
	snprintf(f, sizeof(f), "%s/data.mdb", dir);
	unlink(f);
	snprintf(f, sizeof(f), "%s/lock.mdb", dir);
	unlink(f);
	if ((rc = try_open(dir)) != 0) {
		log_warnx("index: %s; running without it", mdb_strerror(rc));
		return;
	}
	qd.index_ok = true;
}

void
index_close(void)
{
	if (qd.mdb != NULL) {
		mdb_env_sync(qd.mdb, 1);
		mdb_env_close(qd.mdb);
		qd.mdb = NULL;
	}
}

static void
index_failed(int rc)
{
	/* MAP_FULL and friends: the cache is off until the next start. */
	log_warnx("index: %s; disabled until restart", mdb_strerror(rc));
	qd.index_ok = false;
}

static int
put_one(MDB_txn *txn, const struct msg *m)
{
	struct idx_rec	 r;
	MDB_val		 k = { SPOOL_ID_LEN, (void *)m->id };
	MDB_val		 v = { sizeof(r), &r };

	memset(&r, 0, sizeof(r));
	r.version = INDEX_VERSION;
	r.pending = m->npending;
	r.arrival = m->arrival;
	r.next_attempt = m->next;
	r.attempts = m->attempts;
	return mdb_put(txn, qd.dbi, &k, &v, 0);
}

/* index_put_batch - one write transaction for a commit batch */
void
index_put_batch(struct msg **ms, unsigned n)
{
	MDB_txn	*txn;
	unsigned i;
	int	 rc;

	if (!qd.index_ok)
		return;
	if ((rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) != 0) {
		index_failed(rc);
		return;
	}
	for (i = 0; i < n; i++)
		if ((rc = put_one(txn, ms[i])) != 0) {
			mdb_txn_abort(txn);
			index_failed(rc);
			return;
		}
	if ((rc = mdb_txn_commit(txn)) != 0)
		index_failed(rc);
}

void
index_del(const char *id)
{
	MDB_txn	*txn;
	MDB_val	 k = { SPOOL_ID_LEN, (void *)id };
	int	 rc;

	if (!qd.index_ok)
		return;
	if ((rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) != 0) {
		index_failed(rc);
		return;
	}
	rc = mdb_del(txn, qd.dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		index_failed(rc);
		return;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		index_failed(rc);
}

static char	(*dels)[SPOOL_ID_LEN];
static unsigned	 ndels, capdels;

/* index_del_later - collect deletions; one transaction per batch */
void
index_del_later(const char *id)
{
	if (!qd.index_ok)
		return;
	if (ndels == capdels) {
		capdels = capdels ? capdels * 2 : 256;
		dels = xreallocarray(dels, capdels, SPOOL_ID_LEN);
	}
	memcpy(dels[ndels++], id, SPOOL_ID_LEN);
}

void
index_del_flush(void)
{
	MDB_txn	*txn;
	unsigned i;
	int	 rc;

	if (ndels == 0 || !qd.index_ok) {
		ndels = 0;
		return;
	}
	if ((rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) != 0) {
		index_failed(rc);
		ndels = 0;
		return;
	}
	for (i = 0; i < ndels; i++) {
		MDB_val k = { SPOOL_ID_LEN, dels[i] };

		rc = mdb_del(txn, qd.dbi, &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			index_failed(rc);
			ndels = 0;
			return;
		}
	}
	ndels = 0;
	if ((rc = mdb_txn_commit(txn)) != 0)
		index_failed(rc);
}

static struct idx_put {
	char	 id[SPOOL_ID_LEN];
	struct idx_rec r;
}		*iputs;
static unsigned	 niputs, capiputs;

/* index_put_later - a message's retry state, written once per batch */
void
index_put_later(const struct msg *m)
{
	struct idx_put *p;

	if (!qd.index_ok)
		return;
	if (niputs == capiputs) {
		capiputs = capiputs ? capiputs * 2 : 256;
		iputs = xreallocarray(iputs, capiputs, sizeof(*iputs));
	}
	p = &iputs[niputs++];
	memcpy(p->id, m->id, SPOOL_ID_LEN);
	memset(&p->r, 0, sizeof(p->r));
	p->r.version = INDEX_VERSION;
	p->r.pending = m->npending;
	p->r.arrival = m->arrival;
	p->r.next_attempt = m->next;
	p->r.attempts = m->attempts;
}

void
index_put_flush(void)
{
	MDB_txn	*txn;
	unsigned i;
	int	 rc;

	if (niputs == 0 || !qd.index_ok) {
		niputs = 0;
		return;
	}
	if ((rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) != 0) {
		index_failed(rc);
		niputs = 0;
		return;
	}
	for (i = 0; i < niputs; i++) {
		MDB_val k = { SPOOL_ID_LEN, iputs[i].id };
		MDB_val v = { sizeof(iputs[i].r), &iputs[i].r };

		if ((rc = mdb_put(txn, qd.dbi, &k, &v, 0)) != 0) {
			mdb_txn_abort(txn);
			index_failed(rc);
			niputs = 0;
			return;
		}
	}
	niputs = 0;
	if ((rc = mdb_txn_commit(txn)) != 0)
		index_failed(rc);
}

/*
 * index_get_retry - at recovery: the retry state a message had, so a
 * restart does not retry the whole deferred backlog at once.  The file
 * stays the truth: a record that does not fit is ignored.
 */
void
index_get_retry(struct msg *m)
{
	MDB_txn		*txn;
	MDB_val		 k = { SPOOL_ID_LEN, m->id }, v = { 0, NULL };
	struct idx_rec	 r;

	if (!qd.index_ok || mdb_txn_begin(qd.mdb, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (mdb_get(txn, qd.dbi, &k, &v) == 0 && v.mv_size == sizeof(r)) {
		memcpy(&r, v.mv_data, sizeof(r));
		if (r.version == INDEX_VERSION && r.arrival == m->arrival &&
		    r.attempts < 10000 && r.next_attempt <
		    m->arrival + UNITS_DURATION_MAX) {
			m->attempts = r.attempts;
			m->next = r.next_attempt;
		}
	}
	mdb_txn_abort(txn);
}

/* index_reconcile - drop stale records, add missing ones, fix bad ones */
void
index_reconcile(void)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct hmap_ent	*e;
	size_t		 it;
	unsigned	 stale = 0, added = 0;
	char		 id[SPOOL_ID_LEN + 1];
	int		 rc;

	if (!qd.index_ok)
		return;
	if ((rc = mdb_txn_begin(qd.mdb, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_cursor_open(txn, qd.dbi, &cur)) != 0) {
		index_failed(rc);
		return;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		bool keep = false;

		if (k.mv_size == SPOOL_ID_LEN && v.mv_size ==
		    sizeof(struct idx_rec)) {
			memcpy(id, k.mv_data, SPOOL_ID_LEN);
			id[SPOOL_ID_LEN] = '\0';
			keep = spool_id_ok(id) && hmap_get(&qd.msgs, id) &&
			    ((struct idx_rec *)v.mv_data)->version ==
			    INDEX_VERSION;
		}
		if (!keep) {
			mdb_cursor_del(cur, 0);
			stale++;
		}
	}
	mdb_cursor_close(cur);
	for (e = NULL; (e = hmap_next(&qd.msgs, e, &it)) != NULL;) {
		MDB_val kk = { SPOOL_ID_LEN, e->key };

		if (mdb_get(txn, qd.dbi, &kk, &v) == 0)
			continue;
		if ((rc = put_one(txn, e->val)) != 0) {
			mdb_txn_abort(txn);
			index_failed(rc);
			return;
		}
		added++;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		index_failed(rc);
		return;
	}
	if (stale || added)
		log_info("index: %u stale records dropped, %u rebuilt", stale,
		    added);
}
