/*
 * recover.c - bring the spool back after whatever stopped queued.
 *
 * Purpose:      at start, before any peer is served:
 *               1. create missing directories (tmp new cur/00..ff corrupt)
 *               2. remove everything in tmp/: those transactions were
 *                  never acknowledged (no 250 was sent for them)
 *               3. load new/ (moving each file on to cur/<bb>/), then
 *                  cur/<bb>/: every file must parse exactly; one that
 *                  does not goes to corrupt/ and is never deleted
 *               4. a message whose recipients are all final is removed
 *               5. reconcile the LMDB index with what was loaded
 * Used by:      queued.
 * Trust:        files may be cut short by a crash or edited by hand;
 *               names that are not spool ids are left alone and logged.
 * Spool access: read/write.
 * See:          tern-spool(5) (crash-state table).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

/* spool_path - relative path for an id in one of the spool directories */
int
spool_path(char *buf, size_t sz, const char *dir, const char *id)
{
	char bb[3];

	if (!spool_id_ok(id))
		panic("spool_path: bad id");
	if (strcmp(dir, "cur") == 0) {
		spool_bucket(id, bb);
		return bsnprintf(buf, sz, "cur/%s/%s", bb, id) ? 0 : -1;
	}
	return bsnprintf(buf, sz, "%s/%s", dir, id) ? 0 : -1;
}

static void
make_dirs(void)
{
	static const char *dirs[] = { "tmp", "new", "cur", "corrupt",
	    "index" };
	char	 path[16];
	unsigned i;

	for (i = 0; i < nitems(dirs); i++)
		if (mkdirat(qd.spool_fd, dirs[i], 0700) == -1 &&
		    errno != EEXIST)
			fatal("mkdir %s/%s", qd.d.cfg->spool_dir, dirs[i]);
	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "cur/%02x", i);
		if (mkdirat(qd.spool_fd, path, 0700) == -1 && errno != EEXIST)
			fatal("mkdir %s/%s", qd.d.cfg->spool_dir, path);
	}
}

/* purge_tmp - step 2 */
static void
purge_tmp(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300];
	unsigned	 n = 0;
	int		 fd;

	if ((fd = openat(qd.spool_fd, "tmp", O_RDONLY | O_DIRECTORY)) == -1 ||
	    (d = fdopendir(fd)) == NULL)
		fatal("open tmp/");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!bsnprintf(path, sizeof(path), "tmp/%s", de->d_name))
			continue;
		/*
		 * Unlinked, not recycled: an smtpd of the previous run may
		 * still hold an fd on it for a moment.
		 */
		if (unlinkat(qd.spool_fd, path, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("recovery: removed %u unacknowledged files from tmp/",
		    n);
}

static void
quarantine(const char *from, const char *id, const char *why)
{
	char to[64];

	qd.n_corrupt++;
	log_warnx("%s: corrupt queue file (%s); moved to corrupt/", id, why);
	/* Never over an earlier file of the same name: add a suffix. */
	spool_path(to, sizeof(to), "corrupt", id);
	for (int i = 1; renameat2(qd.spool_fd, from, qd.spool_fd, to,
	    RENAME_NOREPLACE) == -1; i++) {
		if (errno != EEXIST || i > 1000) {
			log_warn("%s: rename to corrupt/", id);
			return;
		}
		snprintf(to, sizeof(to), "corrupt/%s.%d", id, i);
	}
}

/* load_one - parse, then enqueue, remove (all final) or quarantine */
static void
load_one(const char *rel, const char *id, bool from_new)
{
	struct spool_env env;
	struct stat	 st;
	const char	*why;
	char		 to[64];
	int		 fd;

	if (hmap_get(&qd.msgs, id) != NULL) {
		/* In new/ and cur/ both (crash mid-move): keep cur/. */
		if (from_new)
			unlinkat(qd.spool_fd, rel, 0);
		return;
	}
	fd = openat(qd.spool_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1) {
		if (fd != -1)
			close(fd);
		quarantine(rel, id, "not a plain file");
		return;
	}
	if (spool_env_read(fd, &env, &why) == -1 ||
	    strcmp(env.id, id) != 0) {
		close(fd);
		quarantine(rel, id, why);
		return;
	}
	close(fd);
	{
		struct msg *m = msg_from_env(&env, env.body_len);

		spool_env_free(&env);
		if (m->npending == 0) {
			unlinkat(qd.spool_fd, rel, 0);
			qd.n_removed++;
			msg_free(m);
			return;
		}
		if (from_new) {
			spool_path(to, sizeof(to), "cur", id);
			if (renameat(qd.spool_fd, rel, qd.spool_fd, to) == -1) {
				log_warn("%s: rename to cur/", id);
				m->in_new = true;
			}
		}
		index_get_retry(m);
		msg_enqueue(m);
		qd.n_recovered++;
	}
}

static void
load_dir(const char *dir, bool from_new)
{
	DIR		*d;
	struct dirent	*de;
	char		 rel[300];
	int		 fd;

	if ((fd = openat(qd.spool_fd, dir, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (d = fdopendir(fd)) == NULL)
		fatal("open %s/", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!spool_id_ok(de->d_name)) {
			log_warnx("recovery: ignoring %s/%s (not a spool id)",
			    dir, de->d_name);
			continue;
		}
		if (!bsnprintf(rel, sizeof(rel), "%s/%s", dir, de->d_name))
			continue;
		load_one(rel, de->d_name, from_new);
	}
	closedir(d);
}

static unsigned
count_corrupt(void)
{
	DIR		*d;
	struct dirent	*de;
	unsigned	 n = 0;
	int		 fd;

	if ((fd = openat(qd.spool_fd, "corrupt", O_RDONLY | O_DIRECTORY)) == -1
	    || (d = fdopendir(fd)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* recover_spool - steps 1 to 5 */
void
recover_spool(void)
{
	char	 dir[16];
	unsigned i, nc;
	uint64_t t0 = now_ms();

	make_dirs();
	purge_tmp();
	index_open();		/* retry state for the messages loaded below */
	/* cur/ first: a file found in both places is kept in cur/. */
	for (i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "cur/%02x", i);
		load_dir(dir, false);
	}
	load_dir("new", true);
	if (fsync_dir_at(qd.spool_fd, "new") == -1)
		log_warn("fsync new/");
	nc = count_corrupt();
	qd.n_corrupt = nc;
	if (nc > 0)
		log_warnx("recovery: %u files in corrupt/ need attention", nc);
	index_reconcile();
	log_info("recovery: %llu messages, %llu recipients queued in %llu ms",
	    (unsigned long long)qd.n_recovered,
	    (unsigned long long)qd.total_rcpts,
	    (unsigned long long)(now_ms() - t0));
}
