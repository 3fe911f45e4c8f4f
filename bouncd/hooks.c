/*
 * hooks.c - event-hooks: post the durable event outbox to webhooks.
 *
 * Purpose:      queued appends one JSON object per line to segment files
 *               <spool-dir>/events/<16 hex>.jsonl.  For each configured
 *               event-hook this file keeps a cursor (segment, offset) in
 *               events/cursor.<name>, POSTs the events the hook wants as
 *               a JSON array of up to batch-size objects (each given
 *               "event_id" = "<16 hex segment>-<offset of the line>"),
 *               one POST in flight per hook, and moves the cursor only
 *               after a 2xx reply.  Anything else retries the same batch
 *               after 1 s, 2 s, 4 s ... up to retry-max: at-least-once,
 *               never a loss.  A segment every hook has passed, and that
 *               is not the newest, is unlinked.  Idle, a 100 ms timer
 *               looks for new data (fstat of the directory and of the
 *               newest segment).
 * Used by:      bouncd (hooks_init/reload/stop/status, see bouncd.h).
 * Trust:        segment lines are hostile: reads are bounded, a line
 *               over 64 KiB or one that is not a JSON object with a known
 *               "type" is logged and skipped; the torn tail of an older
 *               segment is skipped, the unfinished tail of the newest is
 *               waited for.  A receiver's reply is read for its status
 *               only: headers are capped, the body is dropped as it
 *               arrives, each POST has a deadline.
 * Spool access: <spool-dir>/events: creates it (0700), reads segments,
 *               writes cursor.<name> (tmp-cursor.<name>, fsync, rename,
 *               fsync of the directory), unlinks posted segments.
 * See:          bouncd(8), tern.yaml(5) (event-hooks), tern-spool(5).
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bouncd.h"
#include "log.h"
#include "util.h"

#define HK_TICK_MS	100
#define HK_RESCAN_TICKS	50		/* full directory scan every 5 s */
#define HK_LINE_MAX	(64 * 1024)	/* longer lines are skipped */
#define HK_RBUF		(2 * HK_LINE_MAX + 2)
#define HK_BODY_MAX	(4 * 1024 * 1024)	/* bytes per POST, soft */
#define HK_SCAN_MAX	(16 * 1024 * 1024)	/* bytes read per batch */
#define HK_HDR_MAX	16384		/* reply headers */
#define HK_SEGS_MAX	1000000
#define HK_ERR_LEN	128

struct hook {
	TAILQ_ENTRY(hook)	 entry;
	char			*name;
	char			*url;
	char			*auth;		/* NULL: none */
	char			*secret;	/* NULL: unsigned */
	unsigned		 types;		/* EVT_* */
	uint64_t		 batch_size;
	uint64_t		 timeout;	/* seconds per POST */
	uint64_t		 retry_max;	/* seconds */
	/* The url, parsed. */
	bool			 url_ok;
	bool			 https;
	char			*host;		/* to connect to, no [] */
	char			*hosthdr;	/* Host: */
	char			*path;		/* path?query */
	int			 port;
	struct evhttp_connection *conn;
	bool			 conn_stale;	/* replace before next POST */
	/* Committed cursor, and the end of the pending batch. */
	uint64_t		 seg, off;
	uint64_t		 bseg, boff;
	struct buf		 body;		/* pending batch, JSON */
	size_t			 nbody;		/* its events; 0: none */
	bool			 inflight;
	bool			 caught_up;	/* nothing new since */
	bool			 seen;		/* reload bookkeeping */
	uint64_t		 backoff;	/* next wait after failure */
	const char		*why;		/* from the error callback */
	struct event		*ev_next;	/* retry, or the next batch */
	struct event		*ev_deadline;
	uint64_t		 posted, batches, failures;
	int			 last_status;
	char			 last_error[HK_ERR_LEN];
};

TAILQ_HEAD(hooklist, hook);

/* A bounded line reader over one segment. */
struct rdr {
	int		 fd;
	uint64_t	 base;		/* file offset of rbuf[0] */
	size_t		 len, pos;
	bool		 eof;
};

enum rl { RL_LINE, RL_LONG, RL_TAIL, RL_END, RL_ERR };
enum sr { SR_FULL, SR_END, SR_TAIL, SR_ERR };

static struct {
	bool			 running;
	struct event_base	*base;
	struct evdns_base	*dns;
	SSL_CTX			*ssl;
	int			 events_fd;
	struct event		*ev_tick;
	unsigned		 ticks;
	struct timespec		 dir_mtime;
	uint64_t		*segs;		/* sorted segment numbers */
	size_t			 nsegs, segcap;
	int			 newest_fd;
	uint64_t		 newest;
	off_t			 newest_size;
	struct hooklist		 hooks;
	uint64_t		 warn_seg, warn_off;	/* logged up to here */
	bool			 warned;
	char			*rbuf;
} hk = { .events_fd = -1, .newest_fd = -1 };

static void	hook_kick(struct hook *);
static void	hook_wait(struct hook *, uint64_t);

/* --- names, urls, settings ------------------------------------------------ */

/* hook_name_ok - [A-Za-z0-9_.-], 1..CFG_NAME_MAX, not "." or ".." */
static bool
hook_name_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || *s == '\0' || strlen(s) > CFG_NAME_MAX ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static void
url_clear(struct hook *h)
{
	free(h->host);
	free(h->hosthdr);
	free(h->path);
	h->host = h->hosthdr = h->path = NULL;
	h->url_ok = false;
}

/* url_fill - host, Host: header, port and path from a parsed uri */
static int
url_fill(struct hook *h, const struct evhttp_uri *u)
{
	const char	*scheme = evhttp_uri_get_scheme(u);
	const char	*host = evhttp_uri_get_host(u);
	const char	*path = evhttp_uri_get_path(u);
	const char	*query = evhttp_uri_get_query(u);
	int		 port = evhttp_uri_get_port(u);
	size_t		 hl;

	if (scheme == NULL || host == NULL || *host == '\0')
		return -1;
	if (strcasecmp(scheme, "https") == 0)
		h->https = true;
	else if (strcasecmp(scheme, "http") == 0)
		h->https = false;
	else
		return -1;
	if (port == 0 || port > 65535)
		return -1;
	hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
		h->host = xstrndup(host + 1, hl - 2);
	else
		h->host = xstrdup(host);
	if (strchr(h->host, ':') != NULL && host[0] != '[')
		h->hosthdr = xasprintf("[%s]", h->host);
	else
		h->hosthdr = xstrdup(host);
	if (port > 0 && port != (h->https ? 443 : 80)) {
		char *t = xasprintf("%s:%d", h->hosthdr, port);

		free(h->hosthdr);
		h->hosthdr = t;
	}
	h->port = port > 0 ? port : (h->https ? 443 : 80);
	if (path == NULL || *path == '\0')
		path = "/";
	h->path = query != NULL ? xasprintf("%s?%s", path, query) :
	    xstrdup(path);
	if (strpbrk(h->path, " \t\r\n") != NULL ||
	    strpbrk(h->hosthdr, " \t\r\n/") != NULL)
		return -1;
	return 0;
}

static void
url_parse(struct hook *h)
{
	struct evhttp_uri *u;

	url_clear(h);
	if ((u = evhttp_uri_parse(h->url)) == NULL || url_fill(h, u) == -1) {
		url_clear(h);
		log_warnx("hooks: %s: bad url; not posting", h->name);
		tern_strlcpy(h->last_error, "bad url", sizeof(h->last_error));
	} else
		h->url_ok = true;
	if (u != NULL)
		evhttp_uri_free(u);
}

/* hook_apply - take c's settings; the url applies at the next POST */
static void
hook_apply(struct hook *h, const struct cfg_hook *c)
{
	const char *url = c->url != NULL ? c->url : "";

	if (h->url == NULL || strcmp(h->url, url) != 0) {
		free(h->url);
		h->url = xstrdup(url);
		url_parse(h);
		h->conn_stale = true;
		/* A fixed url need not wait out a long backoff. */
		if (h->nbody > 0 && evtimer_pending(h->ev_next, NULL)) {
			evtimer_del(h->ev_next);
			h->backoff = 0;
			hook_wait(h, 0);
		}
	}
	free(h->auth);
	h->auth = c->auth != NULL ? xstrdup(c->auth) : NULL;
	free(h->secret);
	h->secret = c->secret != NULL ? xstrdup(c->secret) : NULL;
	h->types = c->types & EVT_ALL;
	h->batch_size = c->batch_size > 0 ? c->batch_size : 100;
	h->timeout = c->timeout > 0 ? c->timeout : 30;
	h->retry_max = c->retry_max > 0 ? c->retry_max : 300;
	if (h->backoff > h->retry_max)
		h->backoff = h->retry_max;
	h->caught_up = false;
}

/* --- segments ------------------------------------------------------------- */

/* seg_name - "<16 lowercase hex>.jsonl" -> its number */
static bool
seg_name(const char *s, uint64_t *num)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 16; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return false;
	}
	if (strcmp(s + 16, ".jsonl") != 0)
		return false;
	*num = v;
	return true;
}

static void
seg_path(char *p, size_t sz, uint64_t seg)
{
	(void)bsnprintf(p, sz, "%016" PRIx64 ".jsonl", seg);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* newest_open - keep an fd on the newest segment for cheap fstat */
static void
newest_open(void)
{
	char		 p[64];
	struct stat	 st;

	if (hk.newest_fd != -1)
		close(hk.newest_fd);
	hk.newest_fd = -1;
	hk.newest_size = -1;
	if (hk.nsegs == 0)
		return;
	hk.newest = hk.segs[hk.nsegs - 1];
	seg_path(p, sizeof(p), hk.newest);
	hk.newest_fd = openat(hk.events_fd, p, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (hk.newest_fd != -1 && fstat(hk.newest_fd, &st) == 0)
		hk.newest_size = st.st_size;
}

/* segs_scan - list the segments; 1 if the list changed, 0, or -1 */
static int
segs_scan(void)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	*v = NULL, num;
	size_t		 n = 0, cap = 0;
	int		 fd, changed;

	fd = openat(hk.events_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("hooks: events directory");
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!seg_name(de->d_name, &num))
			continue;
		if (n == HK_SEGS_MAX) {
			log_warnx("hooks: over %d segments; some ignored",
			    HK_SEGS_MAX);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = num;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), u64_cmp);
	changed = n != hk.nsegs ||
	    (n > 0 && memcmp(v, hk.segs, n * sizeof(*v)) != 0);
	free(hk.segs);
	hk.segs = v;
	hk.nsegs = n;
	hk.segcap = cap;
	if (changed || hk.newest_fd == -1)
		newest_open();
	return changed;
}

/* seg_from - the first segment >= *seg (offset 0 if not *seg itself) */
static bool
seg_from(uint64_t *seg, uint64_t *off)
{
	size_t	 lo = 0, hi = hk.nsegs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (hk.segs[mid] < *seg)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == hk.nsegs)
		return false;
	if (hk.segs[lo] != *seg) {
		*seg = hk.segs[lo];
		*off = 0;
	}
	return true;
}

static bool
seg_is_newest(uint64_t seg)
{
	return hk.nsegs > 0 && hk.segs[hk.nsegs - 1] == seg;
}

/* warn_once - log a problem at (seg, off) unless already logged */
static void
warn_once(uint64_t seg, uint64_t off, const char *what)
{
	if (hk.warned && (seg < hk.warn_seg ||
	    (seg == hk.warn_seg && off <= hk.warn_off)))
		return;
	hk.warned = true;
	hk.warn_seg = seg;
	hk.warn_off = off;
	log_warnx("hooks: events/%016" PRIx64 ".jsonl offset %" PRIu64
	    ": %s; skipped", seg, off, what);
}

/* segs_cleanup - unlink what every hook has passed, never the newest */
static void
segs_cleanup(void)
{
	struct hook	*h;
	uint64_t	 min = UINT64_MAX;
	char		 p[64];
	size_t		 i;
	bool		 gone = false;

	if (TAILQ_EMPTY(&hk.hooks))
		return;
	TAILQ_FOREACH(h, &hk.hooks, entry)
		if (h->seg < min)
			min = h->seg;
	for (i = 0; i + 1 < hk.nsegs && hk.segs[i] < min; i++) {
		seg_path(p, sizeof(p), hk.segs[i]);
		if (unlinkat(hk.events_fd, p, 0) == -1 && errno != ENOENT)
			log_warn("hooks: unlink events/%s", p);
		else
			gone = true;
	}
	if (gone) {
		if (fsync(hk.events_fd) == -1)
			log_warn("hooks: fsync events");
		(void)segs_scan();
	}
}

/* --- reading -------------------------------------------------------------- */

/* rd_fill - more bytes after what is buffered; 0, or -1 */
static int
rd_fill(struct rdr *r)
{
	ssize_t	 n;

	if (r->pos > 0) {
		memmove(hk.rbuf, hk.rbuf + r->pos, r->len - r->pos);
		r->base += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	do
		n = pread(r->fd, hk.rbuf + r->len, HK_RBUF - r->len,
		    (off_t)(r->base + r->len));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0)
		r->eof = true;
	r->len += (size_t)n;
	return 0;
}

/* rd_skip - drop a line too long to keep, through its "\n" */
static enum rl
rd_skip(struct rdr *r)
{
	char	*nl;

	for (;;) {
		r->base += r->len;
		r->len = r->pos = 0;
		if (rd_fill(r) == -1)
			return RL_ERR;
		if ((nl = memchr(hk.rbuf, '\n', r->len)) != NULL) {
			r->pos = (size_t)(nl - hk.rbuf) + 1;
			return RL_LONG;
		}
		if (r->eof)
			return RL_TAIL;
	}
}

/*
 * rd_line - the next line (without "\n") and its offset; RL_LONG: a
 * line over HK_LINE_MAX was passed; RL_TAIL: bytes without "\n" at
 * the end (*loff is where they start); RL_END: clean end of data.
 */
static enum rl
rd_line(struct rdr *r, char **line, size_t *len, uint64_t *loff)
{
	char	*nl;

	for (;;) {
		*loff = r->base + r->pos;
		nl = memchr(hk.rbuf + r->pos, '\n', r->len - r->pos);
		if (nl != NULL) {
			*line = hk.rbuf + r->pos;
			*len = (size_t)(nl - *line);
			r->pos += *len + 1;
			return *len > HK_LINE_MAX ? RL_LONG : RL_LINE;
		}
		if (r->eof)
			return r->pos == r->len ? RL_END : RL_TAIL;
		if (r->len - r->pos > HK_LINE_MAX)
			return rd_skip(r);
		if (rd_fill(r) == -1)
			return RL_ERR;
	}
}

/* --- batches -------------------------------------------------------------- */

static unsigned
evt_mask(const char *type)
{
	static const struct { const char *n; unsigned bit; } t[] = {
		{ "delivered", EVT_DELIVERED }, { "bounced", EVT_BOUNCED },
		{ "deferred", EVT_DEFERRED }, { "complained", EVT_COMPLAINED },
		{ "suppressed", EVT_SUPPRESSED },
	};
	size_t	 i;

	for (i = 0; type != NULL && i < nitems(t); i++)
		if (strcmp(type, t[i].n) == 0)
			return t[i].bit;
	return 0;
}

/* ev_add - one line into h's batch: 1 added, 0 passed, -1 batch full */
static int
ev_add(struct hook *h, uint64_t seg, uint64_t loff, const char *line,
    size_t len)
{
	json_error_t	 err;
	json_t		*o;
	char		 id[64], *s;
	unsigned	 mask;
	size_t		 n;

	o = json_loadb(line, len, 0, &err);
	if (o == NULL || !json_is_object(o)) {
		warn_once(seg, loff, "not a JSON object");
		json_decref(o);
		return 0;
	}
	mask = evt_mask(json_string_value(json_object_get(o, "type")));
	if (mask == 0)
		warn_once(seg, loff, "no known \"type\"");
	if ((mask & h->types) == 0) {
		json_decref(o);
		return 0;
	}
	(void)bsnprintf(id, sizeof(id), "%016" PRIx64 "-%" PRIu64, seg, loff);
	json_object_set_new(o, "event_id", json_string(id));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL) {
		warn_once(seg, loff, "cannot re-encode");
		return 0;
	}
	n = strlen(s);
	if (h->nbody > 0 && h->body.len + n + 2 > HK_BODY_MAX) {
		free(s);
		return -1;
	}
	if (buf_add(&h->body, h->nbody > 0 ? "," : "[", 1) == -1 ||
	    buf_add(&h->body, s, n) == -1) {
		free(s);
		return -1;
	}
	free(s);
	h->nbody++;
	return 1;
}

/* seg_read - h's batch from one segment, *off moving along */
static enum sr
seg_read(struct hook *h, struct rdr *r, uint64_t seg, uint64_t *off,
    uint64_t *scanned)
{
	enum rl	 rc;
	char	*line;
	size_t	 len;
	uint64_t loff;
	int	 a;

	for (;;) {
		switch ((rc = rd_line(r, &line, &len, &loff))) {
		case RL_LINE:
			if ((a = ev_add(h, seg, loff, line, len)) == -1)
				return SR_FULL;
			break;
		case RL_LONG:
			warn_once(seg, loff, "line over 64 KiB");
			break;
		case RL_TAIL:
			*off = loff;
			return SR_TAIL;
		case RL_END:
			return SR_END;
		case RL_ERR:
			return SR_ERR;
		}
		*off = r->base + r->pos;
		*scanned += r->base + r->pos - loff;
		if (h->nbody >= h->batch_size || *scanned >= HK_SCAN_MAX)
			return SR_FULL;
	}
}

/* rd_open - a reader on seg at *off; -1 if it cannot be read */
static int
rd_open(struct rdr *r, uint64_t seg, uint64_t *off)
{
	struct stat	 st;
	char		 p[64];

	memset(r, 0, sizeof(*r));
	seg_path(p, sizeof(p), seg);
	if ((r->fd = openat(hk.events_fd, p, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1 || fstat(r->fd, &st) == -1) {
		if (errno != ENOENT)
			log_warn("hooks: events/%s", p);
		if (r->fd != -1)
			close(r->fd);
		return -1;
	}
	if (*off > (uint64_t)st.st_size && seg_is_newest(seg)) {
		log_warnx("hooks: events/%s is shorter than a cursor "
		    "(%" PRIu64 "); reading it again", p, *off);
		*off = 0;
	}
	r->base = *off;
	return 0;
}

/*
 * batch_build - h's next batch from its cursor into h->body; the batch
 * ends at (bseg, boff).  *more: stopped on the read bound, not the end.
 */
static void
batch_build(struct hook *h, bool *more)
{
	struct rdr	 r;
	uint64_t	 seg = h->seg, off = h->off, scanned = 0;
	enum sr		 sr = SR_END;

	buf_reset(&h->body);
	h->nbody = 0;
	while (seg_from(&seg, &off)) {
		if (rd_open(&r, seg, &off) == -1)
			break;
		sr = seg_read(h, &r, seg, &off, &scanned);
		close(r.fd);
		if (sr == SR_FULL || sr == SR_ERR || seg_is_newest(seg))
			break;
		if (sr == SR_TAIL)
			warn_once(seg, off, "torn last line");
		if (seg == UINT64_MAX)
			break;
		seg++;
		off = 0;
	}
	*more = sr == SR_FULL && h->nbody < h->batch_size &&
	    scanned >= HK_SCAN_MAX;
	if (h->nbody > 0 && buf_add(&h->body, "]", 1) == -1)
		panic("hooks: batch buffer");
	h->bseg = seg;
	h->boff = off;
}

/* --- cursors -------------------------------------------------------------- */

/* cursor_parse - "<16 hex> <offset>\n", nothing else */
static bool
cursor_parse(const char *s, uint64_t *seg, uint64_t *off)
{
	char	 name[32], num[24];
	size_t	 len = strlen(s);

	if (len < 19 || len - 18 >= sizeof(num) || s[16] != ' ' ||
	    s[len - 1] != '\n')
		return false;
	memcpy(name, s, 16);
	memcpy(name + 16, ".jsonl", 7);
	memcpy(num, s + 17, len - 18);
	num[len - 18] = '\0';
	return seg_name(name, seg) &&
	    parse_u64(num, 0, (uint64_t)INT64_MAX, off) == 0;
}

/* cursor_load - from cursor.<name>; else the oldest segment present */
static void
cursor_load(struct hook *h)
{
	char	 p[CFG_NAME_MAX + 16], text[64];
	ssize_t	 n;
	int	 fd;

	h->seg = hk.nsegs > 0 ? hk.segs[0] : 0;
	h->off = 0;
	(void)bsnprintf(p, sizeof(p), "cursor.%s", h->name);
	if ((fd = openat(hk.events_fd, p, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			log_warn("hooks: events/%s", p);
		return;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	if (n <= 0 || !cursor_parse(text, &h->seg, &h->off)) {
		log_warnx("hooks: events/%s: bad cursor; from the oldest "
		    "segment", p);
		h->seg = hk.nsegs > 0 ? hk.segs[0] : 0;
		h->off = 0;
	} else if (hk.nsegs > 0 && h->seg > hk.segs[hk.nsegs - 1]) {
		log_warnx("hooks: events/%s: segment %016" PRIx64 " is newer "
		    "than any; from the oldest segment", p, h->seg);
		h->seg = hk.segs[0];
		h->off = 0;
	}
}

/* cursor_save - write cursor.<name> atomically and durably */
static int
cursor_save(struct hook *h)
{
	char	 tmp[CFG_NAME_MAX + 16], dst[CFG_NAME_MAX + 16], text[64];
	int	 fd;

	(void)bsnprintf(tmp, sizeof(tmp), "tmp-cursor.%s", h->name);
	(void)bsnprintf(dst, sizeof(dst), "cursor.%s", h->name);
	(void)bsnprintf(text, sizeof(text), "%016" PRIx64 " %" PRIu64 "\n",
	    h->seg, h->off);
	fd = openat(hk.events_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || write_all(fd, text, strlen(text)) == -1 ||
	    fsync(fd) == -1) {
		log_warn("hooks: events/%s", tmp);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (close(fd) == -1 ||
	    renameat(hk.events_fd, tmp, hk.events_fd, dst) == -1 ||
	    fsync(hk.events_fd) == -1) {
		log_warn("hooks: events/%s", dst);
		return -1;
	}
	return 0;
}

/* hook_commit - the cursor moves to the end of the batch */
static void
hook_commit(struct hook *h)
{
	bool	 moved = h->seg != h->bseg || h->off != h->boff;

	h->seg = h->bseg;
	h->off = h->boff;
	buf_reset(&h->body);
	h->nbody = 0;
	if (moved) {
		(void)cursor_save(h);
		segs_cleanup();
	}
}

/* --- HTTP ----------------------------------------------------------------- */

static SSL_CTX *
ssl_ctx(void)
{
	SSL_CTX	*c;

	if (hk.ssl != NULL)
		return hk.ssl;
	if ((c = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	if (SSL_CTX_set_default_verify_paths(c) != 1)
		log_warnx("hooks: no system CA store");
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return hk.ssl = c;
}

/* ssl_new - verify the certificate against the url's host; SNI */
static SSL *
ssl_new(const struct hook *h)
{
	unsigned char	 a[16];
	SSL_CTX		*c;
	SSL		*s;

	if ((c = ssl_ctx()) == NULL || (s = SSL_new(c)) == NULL)
		return NULL;
	if (inet_pton(AF_INET, h->host, a) == 1 ||
	    inet_pton(AF_INET6, h->host, a) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s),
		    h->host) != 1)
			goto bad;
	} else {
		SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set_tlsext_host_name(s, h->host) != 1 ||
		    SSL_set1_host(s, h->host) != 1)
			goto bad;
	}
	return s;
bad:
	SSL_free(s);
	return NULL;
}

static struct evhttp_connection *
conn_new(struct hook *h)
{
	struct evhttp_connection *c;
	struct bufferevent	*bev = NULL;
	SSL			*s;

	if (h->https) {
		if ((s = ssl_new(h)) == NULL)
			return NULL;
		bev = bufferevent_openssl_socket_new(hk.base, -1, s,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev == NULL) {
			SSL_free(s);
			return NULL;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	c = evhttp_connection_base_bufferevent_new(hk.base, hk.dns, bev,
	    h->host, (unsigned short)h->port);
	if (c == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		return NULL;
	}
	evhttp_connection_set_timeout(c, (int)h->timeout);
	evhttp_connection_set_max_headers_size(c, HK_HDR_MAX);
	evhttp_connection_set_retries(c, 0);
	return c;
}

static void
conn_drop(struct hook *h)
{
	if (h->conn != NULL)
		evhttp_connection_free(h->conn);
	h->conn = NULL;
	h->conn_stale = false;
}

/* hook_chunk - the reply body: evhttp drops it after this returns */
static void
hook_chunk(struct evhttp_request *req, void *arg)
{
}

static void
hook_error(enum evhttp_request_error e, void *arg)
{
	struct hook *h = arg;

	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		h->why = "timeout";
		break;
	case EVREQ_HTTP_EOF:
		h->why = "connection closed";
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		h->why = "invalid reply";
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		h->why = "reply too long";
		break;
	default:
		h->why = "connection failed";
		break;
	}
}

static void
hook_wait(struct hook *h, uint64_t secs)
{
	struct timeval	 tv = { (time_t)secs, 0 };

	evtimer_add(h->ev_next, &tv);
}

/* hook_failed - keep the cursor; the same batch after the backoff */
static void
hook_failed(struct hook *h, int status, const char *why)
{
	uint64_t wait = h->backoff > 0 ? h->backoff : 1;

	if (wait > h->retry_max)
		wait = h->retry_max;
	h->backoff = wait * 2 > h->retry_max ? h->retry_max : wait * 2;
	h->failures++;
	h->last_status = status;
	if (status != 0)
		(void)bsnprintf(h->last_error, sizeof(h->last_error),
		    "HTTP status %d", status);
	else
		tern_strlcpy(h->last_error, why, sizeof(h->last_error));
	h->conn_stale = true;
	log_warnx("hooks: %s: %s: %s; %zu events again in %" PRIu64 " s",
	    h->name, h->url_ok ? h->hosthdr : "-", h->last_error, h->nbody,
	    wait);
	hook_wait(h, wait);
}

static void
hook_done(struct evhttp_request *req, void *arg)
{
	struct hook	*h = arg;
	int		 code;

	if (!h->inflight)
		return;
	h->inflight = false;
	evtimer_del(h->ev_deadline);
	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (code < 200 || code > 299) {
		hook_failed(h, code, h->why != NULL ? h->why :
		    "connection failed");
		return;
	}
	h->posted += h->nbody;
	h->batches++;
	h->last_status = code;
	h->backoff = 0;
	if (h->https)
		h->conn_stale = true;	/* no reconnect on a used SSL */
	hook_commit(h);
	hook_wait(h, 0);		/* outside evhttp's callback */
}

static void
hook_deadline(int fd, short ev, void *arg)
{
	struct hook *h = arg;

	if (!h->inflight)
		return;
	h->inflight = false;
	conn_drop(h);
	hook_failed(h, 0, "timeout");
}

/*
 * sign - "t=UNIX,v1=HEX": HMAC-SHA256 with the hook's secret over
 * "UNIX." and the body, so a receiver can check both the sender and the
 * time (and refuse replays), as the big ESPs sign their webhooks
 */
static int
sign(const struct hook *h, char *out, size_t sz)
{
	EVP_MAC		*mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX	*ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM	 p[2];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	char		 ts[24];
	size_t		 n = 0, i, off;
	int		 rc = -1;

	snprintf(ts, sizeof(ts), "%lld.", (long long)time(NULL));
	p[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_init(ctx, (const unsigned char *)h->secret,
	    strlen(h->secret), p) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)h->body.data,
	    h->body.len) == 1 && EVP_MAC_final(ctx, md, &n, sizeof(md)) == 1 &&
	    sz > strlen(ts) + 8 + 2 * n) {
		off = (size_t)snprintf(out, sz, "t=%.*s,v1=",
		    (int)strlen(ts) - 1, ts);
		for (i = 0; i < n; i++)
			off += (size_t)snprintf(out + off, sz - off, "%02x",
			    md[i]);
		rc = 0;
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

static int
req_headers(struct hook *h, struct evhttp_request *req)
{
	struct evkeyvalq *kv = evhttp_request_get_output_headers(req);
	char		  sig[160];

	if (evhttp_add_header(kv, "Host", h->hosthdr) == -1 ||
	    evhttp_add_header(kv, "Content-Type", "application/json") == -1 ||
	    evhttp_add_header(kv, "User-Agent", "Tern-bouncd") == -1 ||
	    (h->auth != NULL &&
	    evhttp_add_header(kv, "Authorization", h->auth) == -1) ||
	    (h->secret != NULL && (sign(h, sig, sizeof(sig)) == -1 ||
	    evhttp_add_header(kv, "X-Tern-Signature", sig) == -1)))
		return -1;
	return evbuffer_add(evhttp_request_get_output_buffer(req),
	    h->body.data, h->body.len);
}

/* hook_send - POST the pending batch */
static void
hook_send(struct hook *h)
{
	struct evhttp_request	*req;
	struct timeval		 tv = { (time_t)h->timeout, 0 };

	if (h->conn_stale)
		conn_drop(h);
	if (h->conn == NULL && (h->conn = conn_new(h)) == NULL) {
		hook_failed(h, 0, "cannot set up a connection");
		return;
	}
	if ((req = evhttp_request_new(hook_done, h)) == NULL) {
		hook_failed(h, 0, "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, hook_error);
	evhttp_request_set_chunked_cb(req, hook_chunk);
	if (req_headers(h, req) == -1) {
		evhttp_request_free(req);
		hook_failed(h, 0, "bad header value");
		return;
	}
	h->why = NULL;
	h->inflight = true;
	evtimer_add(h->ev_deadline, &tv);
	/* The callback may run before this returns (refused at once). */
	if (evhttp_make_request(h->conn, req, EVHTTP_REQ_POST,
	    h->path) == -1 && h->inflight) {
		h->inflight = false;
		evtimer_del(h->ev_deadline);
		hook_failed(h, 0, "cannot send");
	}
}

/* hook_kick - post the pending batch or build one, unless busy */
static void
hook_kick(struct hook *h)
{
	bool	 more;

	if (!hk.running || h->inflight || !h->url_ok ||
	    evtimer_pending(h->ev_next, NULL))
		return;
	if (h->nbody == 0) {
		batch_build(h, &more);
		if (h->nbody == 0) {
			hook_commit(h);	/* past skipped lines, if any */
			if (more)
				hook_wait(h, 0);
			else
				h->caught_up = true;
			return;
		}
	}
	hook_send(h);
}

static void
hook_next(int fd, short ev, void *arg)
{
	struct hook *h = arg;

	if (h->conn_stale)
		conn_drop(h);
	hook_kick(h);
}

/* --- hooks ---------------------------------------------------------------- */

static struct hook *
hook_find(const char *name)
{
	struct hook *h;

	TAILQ_FOREACH(h, &hk.hooks, entry)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

static struct hook *
hook_new(const struct cfg_hook *c)
{
	struct hook *h = xcalloc(1, sizeof(*h));

	h->name = xstrdup(c->name);
	buf_init(&h->body, 2 * HK_BODY_MAX);
	h->ev_next = evtimer_new(hk.base, hook_next, h);
	h->ev_deadline = evtimer_new(hk.base, hook_deadline, h);
	if (h->ev_next == NULL || h->ev_deadline == NULL)
		fatalx("hooks: evtimer_new");
	hook_apply(h, c);
	cursor_load(h);
	log_info("hooks: %s: posting to %s from events/%016" PRIx64
	    ".jsonl offset %" PRIu64, h->name, h->url_ok ? h->hosthdr : "-",
	    h->seg, h->off);
	return h;
}

/* hook_free - cancels an in-flight POST: no callback comes after this */
static void
hook_free(struct hook *h)
{
	conn_drop(h);
	event_free(h->ev_next);
	event_free(h->ev_deadline);
	buf_free(&h->body);
	url_clear(h);
	free(h->name);
	free(h->url);
	free(h->auth);
	free(h->secret);
	free(h);
}

/* hooks_apply - make the running hooks those of cfg */
static void
hooks_apply(const struct tern_config *cfg)
{
	struct hook	*h, *next;
	unsigned	 i;

	TAILQ_FOREACH(h, &hk.hooks, entry)
		h->seen = false;
	for (i = 0; cfg != NULL && i < cfg->nhooks; i++) {
		const struct cfg_hook *c = &cfg->hooks[i];

		if (!hook_name_ok(c->name)) {
			log_warnx("hooks: bad hook name \"%s\"; ignored",
			    c->name != NULL ? c->name : "");
			continue;
		}
		if ((h = hook_find(c->name)) != NULL && h->seen) {
			log_warnx("hooks: %s: named twice; ignored", c->name);
			continue;
		}
		if (h != NULL)
			hook_apply(h, c);
		else {
			h = hook_new(c);
			TAILQ_INSERT_TAIL(&hk.hooks, h, entry);
		}
		h->seen = true;
	}
	for (h = TAILQ_FIRST(&hk.hooks); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->seen)
			continue;
		log_info("hooks: %s: removed", h->name);
		TAILQ_REMOVE(&hk.hooks, h, entry);
		hook_free(h);
	}
}

/* hk_tick - anything new: the directory, or the newest segment grew */
static void
hk_tick(int fd, short ev, void *arg)
{
	struct hook	*h;
	struct stat	 st;
	bool		 changed = false;

	if (TAILQ_EMPTY(&hk.hooks))
		return;
	if (fstat(hk.events_fd, &st) == 0 &&
	    (st.st_mtim.tv_sec != hk.dir_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != hk.dir_mtime.tv_nsec ||
	    ++hk.ticks >= HK_RESCAN_TICKS)) {
		hk.ticks = 0;
		hk.dir_mtime = st.st_mtim;
		changed = segs_scan() == 1;
	}
	if (hk.newest_fd != -1 && fstat(hk.newest_fd, &st) == 0 &&
	    st.st_size != hk.newest_size) {
		hk.newest_size = st.st_size;
		changed = true;
	}
	TAILQ_FOREACH(h, &hk.hooks, entry) {
		if (changed)
			h->caught_up = false;
		if (!h->caught_up)
			hook_kick(h);
	}
}

/* events_open - <spool-dir>/events, created 0700 if missing */
static int
events_open(int spool_fd)
{
	if (mkdirat(spool_fd, "events", 0700) == -1 && errno != EEXIST) {
		log_warn("hooks: mkdir events");
		return -1;
	}
	hk.events_fd = openat(spool_fd, "events", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC | O_NOFOLLOW);
	if (hk.events_fd == -1) {
		log_warn("hooks: open events");
		return -1;
	}
	return 0;
}

int
hooks_init(struct event_base *base, int spool_fd,
    const struct tern_config *cfg)
{
	struct timeval	 tv = { 0, HK_TICK_MS * 1000 };

	if (hk.running)
		hooks_stop();
	TAILQ_INIT(&hk.hooks);
	hk.base = base;
	hk.warned = false;
	if (events_open(spool_fd) == -1)
		return -1;
	hk.rbuf = xmalloc(HK_RBUF);
	hk.dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (hk.dns == NULL)
		log_warnx("hooks: no resolver; blocking lookups");
	if ((hk.ev_tick = event_new(base, -1, EV_PERSIST, hk_tick,
	    NULL)) == NULL)
		fatalx("hooks: event_new");
	evtimer_add(hk.ev_tick, &tv);
	(void)segs_scan();
	hk.running = true;
	hooks_apply(cfg);
	return 0;
}

void
hooks_reload(const struct tern_config *cfg)
{
	if (!hk.running)
		return;
	hooks_apply(cfg);
}

void
hooks_stop(void)
{
	struct hook *h;

	while ((h = TAILQ_FIRST(&hk.hooks)) != NULL) {
		TAILQ_REMOVE(&hk.hooks, h, entry);
		hook_free(h);
	}
	if (hk.ev_tick != NULL)
		event_free(hk.ev_tick);
	if (hk.dns != NULL)
		evdns_base_free(hk.dns, 0);
	if (hk.ssl != NULL)
		SSL_CTX_free(hk.ssl);
	if (hk.newest_fd != -1)
		close(hk.newest_fd);
	if (hk.events_fd != -1)
		close(hk.events_fd);
	free(hk.segs);
	free(hk.rbuf);
	memset(&hk, 0, sizeof(hk));
	hk.events_fd = hk.newest_fd = -1;
	TAILQ_INIT(&hk.hooks);
}

/* backlog - bytes from h's cursor to the end of the newest segment */
static uint64_t
backlog(const struct hook *h)
{
	struct stat	 st;
	uint64_t	 sum = 0;
	char		 p[64];
	size_t		 i;

	for (i = 0; i < hk.nsegs; i++) {
		if (hk.segs[i] < h->seg)
			continue;
		seg_path(p, sizeof(p), hk.segs[i]);
		if (fstatat(hk.events_fd, p, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		sum += (uint64_t)st.st_size;
		if (hk.segs[i] == h->seg)
			sum -= h->off < (uint64_t)st.st_size ? h->off :
			    (uint64_t)st.st_size;
	}
	return sum;
}

static const char *
hook_state(const struct hook *h)
{
	if (!h->url_ok)
		return "bad-url";
	if (h->inflight)
		return "posting";
	if (h->nbody > 0)
		return "retrying";
	return h->caught_up ? "idle" : "reading";
}

void
hooks_status(json_t *obj)
{
	struct hook	*h;
	json_t		*a = json_array();
	char		 cur[64];

	TAILQ_FOREACH(h, &hk.hooks, entry) {
		(void)bsnprintf(cur, sizeof(cur), "%016" PRIx64 "-%" PRIu64,
		    h->seg, h->off);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:I, "
		    "s:I, s:s?, s:i, s:s, s:I}",
		    "name", h->name, "url", h->url, "state", hook_state(h),
		    "posted", (json_int_t)h->posted,
		    "batches", (json_int_t)h->batches,
		    "failures", (json_int_t)h->failures,
		    "last_error", h->last_error[0] != '\0' ? h->last_error :
		    NULL, "last_status", h->last_status, "cursor", cur,
		    "backlog_bytes", (json_int_t)backlog(h)));
	}
	json_object_set_new(obj, "hooks", a);
}
