/*
 * events.c - the event outbox: one JSON line per outcome, for bouncd to
 * post to the event-hooks.
 *
 * Purpose:      with event-hooks configured, every delivered, bounced,
 *               deferred, complained and suppressed outcome becomes a
 *               line in <spool-dir>/events/<16 hex>.jsonl.  Lines are
 *               written once per results batch, right after the
 *               accounting rows and synced (fdatasync) before any
 *               status byte or removal: an outcome is never final
 *               without its event.  queued only appends to the segment
 *               it created at start and starts a new one past 4 MiB;
 *               bouncd reads them, keeps its cursors and removes the
 *               segments every hook has passed (see hooks.c).  A torn
 *               line after a crash is in a segment that is never
 *               appended to again, where bouncd skips it.
 * Used by:      queued.
 * Trust:        remote text goes through jansson (escaped, UTF-8).
 * Spool access: <spool-dir>/events: creates and appends.
 * See:          bouncd(8), tern-spool(5).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "queued.h"

#define EVENTS_SEG_MAX	(4u << 20)

static int	 ev_dirfd = -1, ev_fd = -1;
static uint64_t	 ev_seg, ev_size;
static struct buf ev_buf;

bool
events_on(void)
{
	return qd.d.cfg->nhooks > 0;
}

/* next_segment - one past the highest segment there is */
static uint64_t
next_segment(void)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	 max = 0;
	int		 fd;

	if ((fd = dup(ev_dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char	*end;
		uint64_t n;

		if (strlen(de->d_name) != 22 ||
		    strcmp(de->d_name + 16, ".jsonl") != 0)
			continue;
		n = strtoull(de->d_name, &end, 16);
		if (end == de->d_name + 16 && n > max)
			max = n;
	}
	closedir(d);
	return max + 1;
}

static int
segment_open(void)
{
	char name[32];

	if (ev_dirfd == -1) {
		if (mkdirat(qd.spool_fd, "events", 0700) == -1 &&
		    errno != EEXIST)
			return -1;
		if ((ev_dirfd = openat(qd.spool_fd, "events", O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) == -1)
			return -1;
	}
	ev_seg = next_segment();
	snprintf(name, sizeof(name), "%016" PRIx64 ".jsonl", ev_seg);
	if ((ev_fd = openat(ev_dirfd, name, O_WRONLY | O_APPEND | O_CREAT |
	    O_EXCL | O_CLOEXEC, 0600)) == -1)
		return -1;
	/* The name must survive a crash as well as the lines. */
	fsync(ev_dirfd);
	ev_size = 0;
	return 0;
}

/* events_add - lines ("...\n" each) for the next flush */
void
events_add(const char *lines, size_t len)
{
	if (!events_on() || len == 0)
		return;
	if (ev_buf.max == 0)
		buf_init(&ev_buf, 256 * 1024 * 1024);
	buf_add(&ev_buf, lines, len);
}

static void
set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, json_string(v ? v : ""));
}

/* events_outcome - the event of one recipient's outcome */
void
events_outcome(const char *type, const struct msg *m, const char *rcpt,
    const char *status, const char *diag, const char *cat,
    const char *queue, const char *mx, const char *action)
{
	json_t	*o;
	char	*s;

	if (!events_on())
		return;
	o = json_object();
	set_str(o, "type", type);
	json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
	set_str(o, "queue_id", m->id);
	set_str(o, "rcpt", rcpt);
	set_str(o, "sender", m->sender);
	set_str(o, "vmta", strrchr(queue, '/') ? strrchr(queue, '/') + 1 :
	    m->vmta);
	set_str(o, "job", m->job);
	set_str(o, "pool", m->pool);
	set_str(o, "status", status);
	set_str(o, "diag", diag);
	set_str(o, "category", cat);
	set_str(o, "queue", queue);
	set_str(o, "mx", mx);
	if (action != NULL)
		set_str(o, "action", action);
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		events_add(s, strlen(s));
		events_add("\n", 1);
		free(s);
	}
	json_decref(o);
}

/*
 * events_flush - write and sync what the batch made.  -1 when it could
 * not: the caller keeps the outcomes pending (like the done log).
 */
int
events_flush(void)
{
	if (ev_buf.len == 0)
		return 0;
	if ((ev_fd == -1 || ev_size >= EVENTS_SEG_MAX) && ev_fd != -1) {
		close(ev_fd);
		ev_fd = -1;
	}
	if (ev_fd == -1 && segment_open() == -1) {
		log_warn("events: cannot open a segment");
		return -1;
	}
	if (write_all(ev_fd, ev_buf.data, ev_buf.len) == -1 ||
	    fdatasync(ev_fd) == -1) {
		log_warn("events: write");
		/* A partial line stays torn: start a fresh segment. */
		close(ev_fd);
		ev_fd = -1;
		return -1;
	}
	ev_size += ev_buf.len;
	buf_reset(&ev_buf);
	return 0;
}

void
events_close(void)
{
	if (ev_fd != -1)
		close(ev_fd);
	if (ev_dirfd != -1)
		close(ev_dirfd);
	ev_fd = ev_dirfd = -1;
	if (ev_buf.max != 0)
		buf_free(&ev_buf);
}
