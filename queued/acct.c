/*
 * acct.c - PowerMTA-format accounting CSV.
 *
 * Purpose:      log-dir/acct.csv (accounting: file), PowerMTA's 23
 *               default columns and header; record types d and b by
 *               default, t and tq when listed in records.  RFC 4180:
 *               a field with a comma, a quote or a line break is quoted
 *               and quotes doubled; line breaks inside remote text are
 *               replaced by spaces; rows end with CRLF.  Rows are
 *               written once per batch with a single write(2).  A torn
 *               last row (power loss mid-write) is cut off when the file
 *               is opened again, so a CSV reader never chokes.
 *               Rotation at max-size or move-interval: the file becomes
 *               acct-YYYY-MM-DD-NNNN.csv, a new one starts with the
 *               header, and the old one is gzip-compressed (zlib) a
 *               megabyte per loop turn, then removed; files older than
 *               delete-after are deleted.
 * Used by:      queued.
 * Trust:        remote text (diagnostics) is sanitised before writing.
 * Spool access: none (log-dir only).
 * See:          tern.yaml(5) accounting, tern-spool(5).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "acctrow.h"
#include "log.h"
#include "queued.h"

static const char acct_header[] = "type,timeLogged,timeQueued,orig,rcpt,"
    "orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,"
    "dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,"
    "jobId,envId,queue,vmtaPool\r\n";

struct gzjob {
	int	 in;
	gzFile	 out;
	char	 src[1200], dst[1200];
};

static struct event	*ev_gz, *ev_tick;
static struct gzjob	*gzj;

static void
acct_path(char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s", qd.d.cfg->log_dir, qd.d.cfg->acct.file);
}

/* cut_torn - drop a partial last line */
static void
cut_torn(int fd, off_t size)
{
	char	 c, chunk[4096];
	off_t	 end = size, start;
	ssize_t	 n, i;

	if (size == 0 || pread(fd, &c, 1, size - 1) != 1 || c == '\n')
		return;
	while (end > 0) {
		start = end > (off_t)sizeof(chunk) ? end - (off_t)sizeof(chunk)
		    : 0;
		if ((n = pread(fd, chunk, (size_t)(end - start), start)) <= 0)
			return;
		for (i = n - 1; i >= 0; i--)
			if (chunk[i] == '\n') {
				log_warnx("accounting: cutting a torn last "
				    "line");
				if (ftruncate(fd, start + i + 1) == -1)
					log_warn("ftruncate");
				return;
			}
		end = start;
	}
	if (ftruncate(fd, 0) == -1)
		log_warn("ftruncate");
}

void
acct_open(void)
{
	char		 path[1100];
	struct stat	 st;

	qd.acct_fd = -1;
	if (!qd.d.cfg->acct.enabled)
		return;
	acct_path(path, sizeof(path));
	if ((qd.acct_fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1) {
		log_warn("accounting: open %s", path);
		return;
	}
	if (fstat(qd.acct_fd, &st) == 0)
		cut_torn(qd.acct_fd, st.st_size);
	qd.acct_size = (uint64_t)lseek(qd.acct_fd, 0, SEEK_END);
	if (qd.acct_size == 0) {
		struct buf h;

		/* The standard 23, then the extra-fields asked for. */
		buf_init(&h, 4096);
		buf_add(&h, acct_header, sizeof(acct_header) - 3);
		acct_extra_header(&h, qd.d.cfg->acct.extra);
		buf_add(&h, "\r\n", 2);
		if (write_all(qd.acct_fd, h.data, h.len) == 0)
			qd.acct_size = h.len;
		buf_free(&h);
	}
	qd.acct_opened = time(NULL);
	if (qd.acct_buf.max == 0)
		buf_init(&qd.acct_buf, 256 * 1024 * 1024);
}

void
acct_close(void)
{
	acct_flush();
	if (qd.acct_fd != -1)
		close(qd.acct_fd);
	qd.acct_fd = -1;
}

static bool
wanted(const char *type)
{
	unsigned r = qd.d.cfg->acct.records;

	return (strcmp(type, "d") == 0 && (r & ACCT_D)) ||
	    (strcmp(type, "b") == 0 && (r & ACCT_B)) ||
	    (strcmp(type, "t") == 0 && (r & ACCT_T)) ||
	    (strcmp(type, "tq") == 0 && (r & ACCT_TQ));
}

/* acct_add_raw - a row kept in the done log, written again at replay */
void
acct_add_raw(const char *row)
{
	if (qd.acct_fd == -1 || *row == '\0')
		return;
	buf_addstr(&qd.acct_buf, row);
	buf_add(&qd.acct_buf, "\r\n", 2);
}

/* acct_add_block - whole rows (each with its CRLF) made elsewhere */
void
acct_add_block(const char *rows, size_t len)
{
	if (qd.acct_fd == -1 || len == 0)
		return;
	buf_add(&qd.acct_buf, rows, len);
}

/* acct_row - one row, without its CRLF, into b (nothing if not wanted) */
void
acct_row(struct buf *b, const char *type, const struct msg *m,
    const char *rcpt, const char *orcpt,
    const char *status, const char *diag, const char *dsnmta,
    const char *bcat, const char *src, const char *dst, const char *esmtp,
    const char *queue, const char *tls)
{
	char		 now[40], queued[40], st[120], size[24];
	struct acct_extra x = { .tls = tls };
	const char	*action;

	if (qd.acct_fd == -1 || !wanted(type))
		return;
	acct_time(time(NULL), now, sizeof(now));
	acct_time((time_t)m->arrival, queued, sizeof(queued));
	snprintf(st, sizeof(st), "%s (%s)", status, bcat_status_text(status));
	snprintf(size, sizeof(size), "%llu", (unsigned long long)m->size);
	action = type[0] == 'd' ? "relayed" : type[0] == 'b' ? "failed" :
	    "delayed";
	acct_field(b, type, false);
	acct_field(b, now, true);
	acct_field(b, queued, true);
	acct_field(b, m->sender, true);
	acct_field(b, rcpt, true);
	acct_field(b, orcpt, true);
	acct_field(b, action, true);
	acct_field(b, st, true);
	acct_field(b, diag, true);
	acct_field(b, dsnmta, true);
	acct_field(b, bcat, true);
	acct_field(b, "smtp", true);
	acct_field(b, m->srcmta, true);
	acct_field(b, "smtp", true);
	acct_field(b, src, true);
	acct_field(b, dst, true);
	acct_field(b, esmtp, true);
	acct_field(b, size, true);
	/* The queue's VirtualMTA: a warm-up overflow may have moved it. */
	acct_field(b, strrchr(queue, '/') ? strrchr(queue, '/') + 1 : m->vmta,
	    true);
	acct_field(b, m->job, true);
	acct_field(b, m->envid, true);
	acct_field(b, queue, true);
	acct_field(b, m->pool, true);
	/* tls is "protocol:cipher[:resumed]", "" in clear. */
	acct_extras(b, qd.d.cfg->acct.extra, &x);
}

/* --- rotation and compression ----------------------------------------- */

static void
gz_step(evutil_socket_t fd, short what, void *arg)
{
	char	 chunk[64 * 1024];
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 16; i++) {
		if ((n = read(gzj->in, chunk, sizeof(chunk))) <= 0)
			break;
		if (gzwrite(gzj->out, chunk, (unsigned)n) != n) {
			n = -1;
			break;
		}
	}
	if (n > 0) {
		event_active(ev_gz, EV_TIMEOUT, 0);
		return;
	}
	close(gzj->in);
	if (gzclose(gzj->out) != Z_OK || n < 0) {
		log_warnx("accounting: compressing %s failed; kept as is",
		    gzj->src);
		unlink(gzj->dst);
	} else {
		char final[1200];

		snprintf(final, sizeof(final), "%.*s", (int)strlen(gzj->dst) - 4,
		    gzj->dst);
		if (rename(gzj->dst, final) == 0)
			unlink(gzj->src);
	}
	free(gzj);
	gzj = NULL;
}

static void
delete_old(void)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 p[1200];
	time_t		 now = time(NULL);
	uint64_t	 keep = qd.d.cfg->acct.delete_after;

	if (keep == 0 || (d = opendir(qd.d.cfg->log_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "acct-", 5) != 0 || n < 8 ||
		    strcmp(de->d_name + n - 7, ".csv.gz") != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", qd.d.cfg->log_dir, de->d_name);
		if (stat(p, &st) == 0 && (uint64_t)(now - st.st_mtime) > keep)
			unlink(p);
	}
	closedir(d);
}

/* acct_rotate - rename, start a new file, compress the old one */
static void
acct_rotate(void)
{
	char		 cur[1100], dst[1100], day[16];
	struct tm	 tm;
	time_t		 now = time(NULL);
	unsigned	 i;
	struct stat	 st;

	if (gzj != NULL)
		return;			/* one compression at a time */
	acct_path(cur, sizeof(cur));
	localtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	for (i = 0; i < 10000; i++) {
		char gzname[1200];

		snprintf(dst, sizeof(dst), "%s/acct-%s-%04u.csv",
		    qd.d.cfg->log_dir, day, i);
		snprintf(gzname, sizeof(gzname), "%s.gz", dst);
		if (stat(dst, &st) == -1 && stat(gzname, &st) == -1)
			break;
	}
	if (rename(cur, dst) == -1) {
		log_warn("accounting: rotate %s", cur);
		return;
	}
	close(qd.acct_fd);
	acct_open();
	gzj = xcalloc(1, sizeof(*gzj));
	tern_strlcpy(gzj->src, dst, sizeof(gzj->src));
	snprintf(gzj->dst, sizeof(gzj->dst), "%s.gz.tmp", dst);
	if ((gzj->in = open(dst, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (gzj->out = gzopen(gzj->dst, "wb6")) == NULL) {
		log_warn("accounting: compress %s", dst);
		if (gzj->in != -1)
			close(gzj->in);
		free(gzj);
		gzj = NULL;
		return;
	}
	if (ev_gz == NULL) {
		ev_gz = event_new(qd.d.base, -1, 0, gz_step, NULL);
		event_priority_set(ev_gz, 2);
	}
	event_active(ev_gz, EV_TIMEOUT, 0);
	delete_old();
	log_info("accounting: rotated to %s", dst);
}

static void
maybe_rotate(void)
{
	const struct cfg_accounting *a = &qd.d.cfg->acct;

	if (qd.acct_fd == -1 || qd.acct_size <= sizeof(acct_header) - 1)
		return;
	if ((a->max_size && qd.acct_size >= a->max_size) ||
	    (a->move_interval && (uint64_t)(time(NULL) - qd.acct_opened) >=
	    a->move_interval))
		acct_rotate();
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	maybe_rotate();
}

/* acct_sync - the rows written so far are on disk */
void
acct_sync(void)
{
	if (qd.acct_fd != -1 && fdatasync(qd.acct_fd) == -1)
		log_warn("accounting: fdatasync");
}

/* acct_flush - the batch's rows in one write */
void
acct_flush(void)
{
	struct buf *b = &qd.acct_buf;

	if (ev_tick == NULL && qd.d.base != NULL) {
		/* Often enough for move-interval, at most every 10 s. */
		uint64_t iv = qd.d.cfg->acct.move_interval / 2;
		struct timeval tv = { (time_t)(iv < 1 ? 1 : iv > 10 ? 10 : iv),
		    0 };

		ev_tick = event_new(qd.d.base, -1, EV_PERSIST, tick, NULL);
		event_add(ev_tick, &tv);
	}
	if (qd.acct_fd == -1 || b->len == 0)
		return;
	if (write_all(qd.acct_fd, b->data, b->len) == -1)
		log_warn("accounting: write");
	else
		qd.acct_size += b->len;
	buf_reset(b);
	maybe_rotate();
}
