/*
 * donelog.c - the done log: final outcomes made durable in groups.
 *
 * Purpose:      "<id> <recipient index> <D|B>\n" lines appended to
 *               spool-dir/done.log, one write and one fdatasync per batch
 *               of results.  That fdatasync is what makes a delivered or
 *               bounced recipient final; only after it are accounting
 *               rows written and files updated (status bytes) or
 *               removed, without further fsyncs.  At a checkpoint
 *               (every DONE_CHECKPOINT bytes, and at a clean stop) the
 *               file system is synced (syncfs) and the log emptied.  At
 *               start the log is replayed onto the files still present
 *               before the spool is loaded, then emptied the same way.
 *               A torn last line (a crash during the write) was never
 *               acknowledged and is ignored.
 * Used by:      queued.
 * Trust:        its own file; lines are still parsed strictly and ids
 *               validated before any path is built.
 * Spool access: read/write.
 * See:          tern-spool(5) (crash-state table).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

#define DONE_CHECKPOINT	(4 * 1024 * 1024)
#define DONE_REPLAY_MAX	(256 * 1024 * 1024)

int
done_open(void)
{
	qd.done_fd = openat(qd.spool_fd, "done.log", O_WRONLY | O_APPEND |
	    O_CREAT | O_CLOEXEC, 0600);
	if (qd.done_fd == -1)
		fatal("open done.log");
	return 0;
}

/* done_append - one write, one fdatasync; -1 if not durable */
int
done_append(struct buf *b)
{
	if (write_all(qd.done_fd, b->data, b->len) == -1 ||
	    fdatasync(qd.done_fd) == -1) {
		log_warn("done.log");
		return -1;
	}
	qd.done_bytes += b->len;
	return 0;
}

/* done_checkpoint - everything the log covers is on disk: empty it */
void
done_checkpoint(bool force)
{
	if (qd.done_bytes == 0 || (!force && qd.done_bytes < DONE_CHECKPOINT))
		return;
	if (syncfs(qd.spool_fd) == -1) {
		log_warn("syncfs; keeping done.log");
		return;
	}
	if (ftruncate(qd.done_fd, 0) == -1 || fdatasync(qd.done_fd) == -1) {
		log_warn("truncate done.log");
		return;
	}
	qd.done_bytes = 0;
}

/* apply_line - mark one recipient final in its file, if still there */
static bool
apply_line(const char *id, uint64_t idx, char st, unsigned *napplied)
{
	bool	 applied = false;
	struct spool_env env;
	const char	*why;
	char		 path[64];
	int		 fd = -1, i;

	for (i = 0; i < 2 && fd == -1; i++) {
		spool_path(path, sizeof(path), i == 0 ? "cur" : "new", id);
		fd = openat(qd.spool_fd, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd == -1)
		return false;		/* removed: its rows were written */
	if (spool_env_read(fd, &env, &why) == 0) {
		if (idx < env.nrcpt && env.rcpts[idx].status == RS_PENDING &&
		    pwrite(fd, &st, 1, env.rcpts[idx].status_off) == 1) {
			(*napplied)++;
			applied = true;
		}
		spool_env_free(&env);
	}
	/* A file that does not parse is left to recover.c's quarantine. */
	close(fd);
	return applied;
}

/* done_replay - at start, before the spool is loaded */
void
done_replay(void)
{
	char	*buf, *line, *next, id[SPOOL_ID_LEN + 1];
	size_t	 len = 0;
	bool	 buf_len_nonzero;
	unsigned n = 0, napplied = 0, bad = 0;

	buf = NULL;
	{
		char path[1100];

		snprintf(path, sizeof(path), "%s/done.log", qd.d.cfg->spool_dir);
		buf = read_file(path, DONE_REPLAY_MAX, &len);
	}
	buf_len_nonzero = buf != NULL && len > 0;
	if (buf != NULL) {
		for (line = buf; (next = memchr(line, '\n', len - (size_t)(line
		    - buf))) != NULL; line = next + 1) {
			uint64_t idx;
			char	 st, idxs[16];
			int	 pos = 0;

			*next = '\0';
			n++;
			if (sscanf(line, "%16s %15s %c%n", id, idxs, &st, &pos) !=
			    3 || !spool_id_ok(id) ||
			    parse_u64(idxs, 0, SPOOL_RCPT_MAX, &idx) == -1 ||
			    (st != RS_DELIVERED && st != RS_BOUNCED)) {
				bad++;
				continue;
			}
			/* Still pending: its accounting row may be missing. */
			if (apply_line(id, idx, st, &napplied) &&
			    line[pos] == ' ')
				acct_add_raw(line + pos + 1);
		}
		free(buf);
	}
	acct_flush();
	done_open();
	if (n > 0)
		log_info("recovery: done.log had %u outcomes, %u applied to "
		    "files still present%s", n, napplied, bad ? " (some lines "
		    "unreadable)" : "");
	/* Anything left, even a torn fragment alone, is emptied now. */
	qd.done_bytes = buf_len_nonzero ? 1 : 0;
	done_checkpoint(true);
}
