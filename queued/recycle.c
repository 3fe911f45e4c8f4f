/*
 * recycle.c - reuse queue files instead of creating and deleting them.
 *
 * Purpose:      a message whose recipients are all final is not unlinked
 *               but renamed into free/ (up to RECYCLE_MAX files); a new
 *               message takes a file from there (rename into tmp/<id>)
 *               and overwrites it.  ext4 spends most of its time on a
 *               busy spool allocating and freeing inodes (after mass
 *               deletes each create can cost a millisecond of kernel
 *               time); two renames cost far less.  commit.c cuts a
 *               recycled file to the new message's length before it is
 *               synced, so no byte of an older message survives in it.
 * Used by:      queued.
 * Trust:        its own directory; names are generated here.
 * Spool access: read/write (free/, tmp/).
 * See:          tern-spool(5).
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

#define RECYCLE_MAX	4096

/* recycle_init - what a previous run left in free/ is the pool */
void
recycle_init(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	qd.freef = xcalloc(RECYCLE_MAX, sizeof(*qd.freef));
	if (mkdirat(qd.spool_fd, "free", 0700) == -1 && errno != EEXIST)
		fatal("mkdir free/");
	if ((fd = openat(qd.spool_fd, "free", O_RDONLY | O_DIRECTORY)) == -1 ||
	    (d = fdopendir(fd)) == NULL)
		fatal("open free/");
	while ((de = readdir(d)) != NULL) {
		char rel[300];

		if (de->d_name[0] == '.')
			continue;
		if (qd.nfree < RECYCLE_MAX && strlen(de->d_name) < 16 &&
		    de->d_name[0] == 'f') {
			uint64_t seq = strtoull(de->d_name + 1, NULL, 16);

			/* New names continue after the ones found. */
			if (seq > qd.free_seq)
				qd.free_seq = seq;
			tern_strlcpy(qd.freef[qd.nfree++], de->d_name, 16);
			continue;
		}
		snprintf(rel, sizeof(rel), "free/%s", de->d_name);
		unlinkat(qd.spool_fd, rel, 0);
	}
	closedir(d);
}

/* recycle_put - a finished file goes to the pool (or away if full) */
void
recycle_put(const char *relpath)
{
	char	 to[32], name[16];

	if (qd.nfree < RECYCLE_MAX) {
		snprintf(name, sizeof(name), "f%llx",
		    (unsigned long long)++qd.free_seq);
		snprintf(to, sizeof(to), "free/%s", name);
		if (renameat(qd.spool_fd, relpath, qd.spool_fd, to) == 0) {
			tern_strlcpy(qd.freef[qd.nfree++], name, 16);
			return;
		}
	}
	if (unlinkat(qd.spool_fd, relpath, 0) == -1)
		log_warn("unlink %s", relpath);
}

/* recycle_get - a pooled file becomes tmppath; -1 if none is left */
int
recycle_get(const char *tmppath)
{
	char from[32];

	while (qd.nfree > 0) {
		snprintf(from, sizeof(from), "free/%s", qd.freef[--qd.nfree]);
		if (renameat2(qd.spool_fd, from, qd.spool_fd, tmppath,
		    RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST) {
			qd.nfree++;	/* the name is taken: keep the file */
			return -1;
		}
	}
	return -1;
}
