/*
 * state.c - the shaping state's LMDB snapshot.
 *
 * Purpose:      what an operator or a receiver decided must outlive a
 *               restart of shaperd: each queue's mode and when it ends,
 *               pause, suspension, queue bounce, warm-up counters and
 *               pause, last matched rule.  The whole table is written in
 *               one transaction (every 2 s when something changed, and
 *               at shutdown) and synced; at start it is read back.
 *               GCRA positions and connection counts are not kept: the
 *               first is harmless to lose (at most one burst), the
 *               second the deliverds report again when they reconnect.
 * Used by:      shaperd.
 * Trust:        a record of the wrong size or version is skipped: the
 *               file is ours, but a damaged one must not stop shaping.
 * Spool access: spool-dir/shaper/ (data.mdb, lock.mdb) only.
 * See:          shaperd(8), tern-spool(5).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "shaperd.h"

#define SNAP_VERSION	1
#define SNAP_MAPSIZE	(256ULL * 1024 * 1024)

struct snap {
	uint32_t	 version;
	uint8_t		 mode;
	uint8_t		 paused;
	uint8_t		 warm_paused;
	uint8_t		 pad;
	int64_t		 mode_since;
	int64_t		 backoff_until;
	int64_t		 suspend_until;
	int64_t		 bounce_until;
	uint32_t	 warm_day;
	uint32_t	 warm_shift;
	uint64_t	 warm_sent;
	uint64_t	 warm_outcomes;
	uint64_t	 warm_bounced;
	uint64_t	 warm_complaints;
	char		 bounce_text[TEXT_MAX];
	char		 last_rule[TEXT_MAX];
	char		 last_reply[TEXT_MAX];
	char		 warm_why[TEXT_MAX];
};

static MDB_env	*env;
static MDB_dbi	 dbi;

static int
try_open(const char *dir)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	mdb_env_set_mapsize(env, SNAP_MAPSIZE);
	rc = mdb_env_open(env, dir, MDB_NOTLS, 0600);
	if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		mdb_env_close(env);
		env = NULL;
	}
	return rc;
}

/* state_open - open spool-dir/shaper; a damaged one starts empty */
int
state_open(const char *spool_dir)
{
	char	 dir[1024], f[1100];
	int	 rc, dead;

	if (!bsnprintf(dir, sizeof(dir), "%s/shaper", spool_dir))
		return -1;
	if (mkdir_p(dir, 0700) == -1) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if ((rc = try_open(dir)) == 0) {
		mdb_reader_check(env, &dead);
		return 0;
	}
	log_warnx("shaping state: %s; starting without it", mdb_strerror(rc));
	snprintf(f, sizeof(f), "%s/data.mdb", dir);
	unlink(f);
	snprintf(f, sizeof(f), "%s/lock.mdb", dir);
	unlink(f);
	if ((rc = try_open(dir)) != 0) {
		log_warnx("shaping state: %s; not kept", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

void
state_close(void)
{
	if (env != NULL) {
		mdb_env_close(env);
		env = NULL;
	}
}

/* worth - a queue with something to remember */
static bool
worth(const struct squeue *q, time_t now)
{
	return q->mode != SM_NORMAL || q->paused || q->suspend_until > now ||
	    q->bounce_until > now || q->warm.day != 0 || q->last_rule[0];
}

static void
pack(const struct squeue *q, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->version = SNAP_VERSION;
	s->mode = (uint8_t)q->mode;
	s->paused = q->paused;
	s->warm_paused = q->warm.paused;
	s->mode_since = q->mode_since;
	s->backoff_until = q->backoff_until;
	s->suspend_until = q->suspend_until;
	s->bounce_until = q->bounce_until;
	s->warm_day = q->warm.day;
	s->warm_shift = q->warm.shift;
	s->warm_sent = q->warm.sent;
	s->warm_outcomes = q->warm.outcomes;
	s->warm_bounced = q->warm.bounced;
	s->warm_complaints = q->warm.complaints;
	tern_strlcpy(s->bounce_text, q->bounce_text, TEXT_MAX);
	tern_strlcpy(s->last_rule, q->last_rule, TEXT_MAX);
	tern_strlcpy(s->last_reply, q->last_reply, TEXT_MAX);
	tern_strlcpy(s->warm_why, q->warm.why, TEXT_MAX);
}

static void
unpack(struct squeue *q, const struct snap *s)
{
	q->mode = s->mode == SM_BACKOFF ? SM_BACKOFF : SM_NORMAL;
	q->paused = s->paused != 0;
	q->warm.paused = s->warm_paused != 0;
	q->mode_since = (time_t)s->mode_since;
	q->backoff_until = (time_t)s->backoff_until;
	q->suspend_until = (time_t)s->suspend_until;
	q->bounce_until = (time_t)s->bounce_until;
	q->warm.day = s->warm_day;
	q->warm.shift = s->warm_shift < WARMUP_DAYS_MAX * 10 ?
	    s->warm_shift : 0;
	q->warm.sent = s->warm_sent;
	q->warm.outcomes = s->warm_outcomes;
	q->warm.bounced = s->warm_bounced;
	q->warm.complaints = s->warm_complaints;
	/* Strings are ours, but terminate them anyway. */
	memcpy(q->bounce_text, s->bounce_text, TEXT_MAX);
	q->bounce_text[TEXT_MAX - 1] = '\0';
	memcpy(q->last_rule, s->last_rule, TEXT_MAX);
	q->last_rule[TEXT_MAX - 1] = '\0';
	memcpy(q->last_reply, s->last_reply, TEXT_MAX);
	q->last_reply[TEXT_MAX - 1] = '\0';
	memcpy(q->warm.why, s->warm_why, TEXT_MAX);
	q->warm.why[TEXT_MAX - 1] = '\0';
}

/* state_save - the whole table in one synced transaction */
void
state_save(void)
{
	MDB_txn		*txn;
	struct hmap_ent	*e;
	size_t		 it;
	struct snap	 s;
	time_t		 now = time(NULL);
	int		 rc;

	sd.saved = now;
	if (env == NULL)
		return;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_drop(txn, dbi, 0)) != 0)
		goto abort;
	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;) {
		struct squeue *q = e->val;
		MDB_val k, v;

		if (!worth(q, now))
			continue;
		pack(q, &s);
		k.mv_size = strlen(q->name);
		k.mv_data = q->name;
		v.mv_size = sizeof(s);
		v.mv_data = &s;
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
			goto abort;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	sd.dirty = false;
	return;
abort:
	mdb_txn_abort(txn);
fail:
	log_warnx("shaping state not saved: %s", mdb_strerror(rc));
}

/* state_load - queues as they were; bad records are skipped */
void
state_load(void)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned	 bad = 0;

	if (env == NULL || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		char		 name[SQNAME_MAX + 1], *sl;
		struct snap	 s;
		struct squeue	*q;

		if (k.mv_size == 0 || k.mv_size > SQNAME_MAX ||
		    v.mv_size != sizeof(s)) {
			bad++;
			continue;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		memcpy(&s, v.mv_data, sizeof(s));
		if (s.version != SNAP_VERSION ||
		    (sl = strrchr(name, '/')) == NULL || sl == name ||
		    !config_name_ok(sl + 1)) {
			bad++;
			continue;
		}
		*sl = '\0';
		if ((q = sq_get(sl + 1, name, true)) != NULL)
			unpack(q, &s);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (bad > 0)
		log_warnx("shaping state: %u bad records skipped", bad);
}
