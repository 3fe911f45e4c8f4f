/*
 * test_bouncd_hooks.c - unit tests for bouncd's event-hook poster.
 *
 * Purpose:      drives bouncd/hooks.c in one event loop against an
 *               evhttp receiver on 127.0.0.1 (ephemeral port) in the same
 *               loop.  Segments hold good events, a non-JSON line, a
 *               JSON array, an unknown type, a filtered type, a line
 *               over 64 KiB, a torn tail in an older segment and an
 *               unfinished tail in the newest.  Checks: the receiver
 *               refusing the first 3 POSTs of one hook is retried after
 *               about 1 s, 2 s, 2 s (retry-max 2); every wanted event
 *               arrives, in order, once accepted; event_ids are
 *               "<segment>-<offset>" and stable across re-posts; the
 *               headers; the cursor files; segments every hook passed
 *               are unlinked and the newest never; the unfinished tail
 *               is posted once completed; reload adds, removes and
 *               changes hooks; a restart resumes from the cursor file;
 *               a receiver that never answers times out, a refused port
 *               and a failed TLS handshake count as failures; stopping
 *               with a POST in flight frees everything (run it once
 *               under -fsanitize=address,undefined).
 * Used by:      t/00-unit.t (build/t/test_bouncd_hooks).
 * Trust:        test code.
 * Spool access: a temporary spool directory (mkdtemp), removed at the
 *               end.
 * See:          bouncd/hooks.c, bouncd/bouncd.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../../bouncd/bouncd.h"
#include "log.h"
#include "tap.h"
#include "util.h"

#define MAXREQ	512
#define MAXEV	4096

struct rq {
	char		 path[32];
	uint64_t	 ms;
	int		 status;
	bool		 hdr_ok;
	char		 auth[64];
	char		 host[64];
};

struct rev {
	int		 req;
	int		 n;
	char		 id[48];
};

static struct event_base *base;
static struct evhttp	*srv;
static int		 port;
static char		 spool[256];
static int		 spool_fd = -1;
static struct rq	 rqs[MAXREQ];
static int		 nrq;
static struct rev	 evs[MAXEV];
static int		 nev;
static int		 fail_a = 3;
static char		 sni[128];

/* --- the receiver --------------------------------------------------------- */

static void
rcv_events(struct evhttp_request *req, int r)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(in), i;
	json_t		*a, *o;
	const char	*id;

	a = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
	if (!json_is_array(a)) {
		diag("request %d: body is not a JSON array", r);
		json_decref(a);
		return;
	}
	json_array_foreach(a, i, o) {
		if (nev == MAXEV)
			break;
		evs[nev].req = r;
		evs[nev].n = (int)json_integer_value(json_object_get(o, "n"));
		id = json_string_value(json_object_get(o, "event_id"));
		tern_strlcpy(evs[nev].id, id ? id : "", sizeof(evs[nev].id));
		nev++;
	}
	json_decref(a);
}

static void
rcv(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *kv = evhttp_request_get_input_headers(req);
	const char	*ct, *ua, *au, *ho;
	struct rq	*q;

	if (nrq == MAXREQ) {
		evhttp_send_reply(req, 503, "Full", NULL);
		return;
	}
	q = &rqs[nrq];
	tern_strlcpy(q->path, evhttp_request_get_uri(req), sizeof(q->path));
	q->ms = now_ms();
	ct = evhttp_find_header(kv, "Content-Type");
	ua = evhttp_find_header(kv, "User-Agent");
	au = evhttp_find_header(kv, "Authorization");
	ho = evhttp_find_header(kv, "Host");
	q->hdr_ok = evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
	    ct != NULL && strcmp(ct, "application/json") == 0 &&
	    ua != NULL && strcmp(ua, "Tern-bouncd") == 0;
	tern_strlcpy(q->auth, au ? au : "", sizeof(q->auth));
	tern_strlcpy(q->host, ho ? ho : "", sizeof(q->host));
	rcv_events(req, nrq);
	nrq++;
	if (strcmp(q->path, "/hang") == 0) {
		q->status = 0;		/* never answered */
		return;
	}
	q->status = 200;
	if (strcmp(q->path, "/a") == 0 && fail_a > 0) {
		fail_a--;
		q->status = 500;
	}
	if (strcmp(q->path, "/big") == 0) {
		struct evbuffer *b = evbuffer_new();
		static char chunk[65536];

		memset(chunk, 'z', sizeof(chunk));
		for (int i = 0; i < 160; i++)	/* 10 MiB */
			evbuffer_add(b, chunk, sizeof(chunk));
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	evhttp_send_reply(req, q->status, q->status == 200 ? "OK" : "Oops",
	    NULL);
}

static void
srv_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t	 sl = sizeof(sin);

	if ((srv = evhttp_new(base)) == NULL ||
	    (bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0)) == NULL)
		bail_out("cannot start the receiver");
	evhttp_set_gencb(srv, rcv, NULL);
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &sl) == -1)
		bail_out("getsockname");
	port = ntohs(sin.sin_port);
}

/* closed_port - a loopback port nobody listens on (most likely) */
static int
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t	 sl = sizeof(sin);
	int		 s, p;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &sl) == -1)
		bail_out("socket");
	p = ntohs(sin.sin_port);
	close(s);
	return p;
}

/* --- what arrived --------------------------------------------------------- */

/* accepted - the n of events in 200-answered POSTs to path, in order */
static int
accepted(const char *path, int *out, int max)
{
	int	 i, k = 0;

	for (i = 0; i < nev; i++)
		if (rqs[evs[i].req].status == 200 &&
		    strcmp(rqs[evs[i].req].path, path) == 0 && k < max)
			out[k++] = evs[i].n;
	return k;
}

static bool
has(const char *path, int n)
{
	int	 v[MAXEV], k, i;

	k = accepted(path, v, MAXEV);
	for (i = 0; i < k; i++)
		if (v[i] == n)
			return true;
	return false;
}

static int
count_req(const char *path)
{
	int	 i, k = 0;

	for (i = 0; i < nrq; i++)
		if (strcmp(rqs[i].path, path) == 0)
			k++;
	return k;
}

static void
is_seq(const char *path, const int *want, int nwant, const char *what)
{
	int	 v[MAXEV], k, i;
	bool	 same;

	k = accepted(path, v, MAXEV);
	same = k == nwant;
	for (i = 0; same && i < k; i++)
		same = v[i] == want[i];
	ok(same, "%s: %s got the wanted events, in order, once", path, what);
	if (!same)
		for (i = 0; i < k; i++)
			diag("  got n=%d", v[i]);
}

/* ids_stable - each n has one event_id everywhere, distinct n distinct */
static bool
ids_stable(void)
{
	int	 i, j;

	for (i = 0; i < nev; i++)
		for (j = i + 1; j < nev; j++) {
			bool same_n = evs[i].n == evs[j].n;
			bool same_id = strcmp(evs[i].id, evs[j].id) == 0;

			/* hooks c and a2 re-read segment 5: same ids */
			if (same_n != same_id) {
				diag("n=%d id=%s vs n=%d id=%s", evs[i].n,
				    evs[i].id, evs[j].n, evs[j].id);
				return false;
			}
		}
	return true;
}

static const char *
id_of(int n)
{
	int	 i;

	for (i = 0; i < nev; i++)
		if (evs[i].n == n)
			return evs[i].id;
	return NULL;
}

/* --- the loop ------------------------------------------------------------- */

static const char *wait_path;
static int	 wait_n;

static bool
got_wanted(void)
{
	return has(wait_path, wait_n);
}

static bool
run_until(bool (*pred)(void), unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (!pred()) {
		if (now_ms() > end)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

static bool
never(void)
{
	return false;
}

static void
run_for(unsigned ms)
{
	(void)run_until(never, ms);
}

static bool
wait_for(const char *path, int n, unsigned ms)
{
	wait_path = path;
	wait_n = n;
	return run_until(got_wanted, ms);
}

static void
tick(int fd, short ev, void *arg)
{
}

/* --- files ---------------------------------------------------------------- */

static void
put(const char *name, const char *text, bool append)
{
	char	 p[512];
	int	 fd;

	(void)bsnprintf(p, sizeof(p), "%s/events/%s", spool, name);
	fd = open(p, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC),
	    0600);
	if (fd == -1 || write_all(fd, text, strlen(text)) == -1)
		bail_out("cannot write a segment");
	close(fd);
}

static bool
exists(const char *name)
{
	char		 p[512];
	struct stat	 st;

	(void)bsnprintf(p, sizeof(p), "%s/events/%s", spool, name);
	return stat(p, &st) == 0;
}

static char *
slurp(const char *name)
{
	char	 p[512];
	size_t	 len;

	(void)bsnprintf(p, sizeof(p), "%s/events/%s", spool, name);
	return read_file(p, 4096, &len);
}

static void
is_file(const char *name, const char *want, const char *what)
{
	char	*s = slurp(name);

	is_str(s, want, "%s", what);
	free(s);
}

static char *
ev(const char *type, int n)
{
	return xasprintf("{\"type\":\"%s\",\"time\":1700000000,"
	    "\"rcpt\":\"r%d@example.net\",\"sender\":\"s@example.com\","
	    "\"queue_id\":\"q%d\",\"n\":%d}\n", type, n, n, n);
}

/* seg1..seg4: the first set of segments; returns offsets to check */
static void
write_segments(size_t *off_n2, size_t *tail4)
{
	char	*l[8], *pad, *s;
	struct buf b;

	l[0] = ev("delivered", 1);
	l[1] = ev("bounced", 2);
	l[2] = ev("deferred", 3);
	*off_n2 = strlen(l[0]);
	s = xasprintf("%s%snot json at all\n%s[1,2,3]\n"
	    "{\"type\":\"weird\",\"n\":99}\n"
	    "{\"type\":\"delivered\",\"n\":98,\"rcpt\":\"tor", l[0], l[1],
	    l[2]);
	put("0000000000000001.jsonl", s, false);
	free(s);

	pad = xmalloc(70001);
	memset(pad, 'x', 70000);
	pad[70000] = '\0';
	l[3] = ev("complained", 4);
	l[4] = ev("suppressed", 5);
	s = xasprintf("%s{\"type\":\"delivered\",\"n\":97,\"pad\":\"%s\"}\n%s",
	    l[3], pad, l[4]);
	put("0000000000000003.jsonl", s, false);
	free(s);
	free(pad);

	l[5] = ev("delivered", 6);
	l[6] = ev("bounced", 7);
	buf_init(&b, 4096);
	buf_addstr(&b, l[5]);
	buf_addstr(&b, l[6]);
	*tail4 = b.len;
	buf_addstr(&b, "{\"type\":\"delivered\",\"time\":1,\"n\":8");
	buf_add(&b, "", 1);
	put("0000000000000004.jsonl", b.data, false);
	buf_free(&b);
	for (int i = 0; i < 7; i++)
		free(l[i]);
}

static void
rm_spool(void)
{
	char		 p[512];
	struct dirent	*de;
	DIR		*d;

	(void)bsnprintf(p, sizeof(p), "%s/events", spool);
	if ((d = opendir(p)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			(void)bsnprintf(p, sizeof(p), "%s/events/%s", spool,
			    de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	(void)bsnprintf(p, sizeof(p), "%s/events", spool);
	rmdir(p);
	rmdir(spool);
}

/* --- configurations ------------------------------------------------------- */

static struct tern_config cfg;
static struct cfg_hook hooks[8];

static void
cfg_clear(void)
{
	unsigned i;

	for (i = 0; i < cfg.nhooks; i++) {
		free(hooks[i].name);
		free(hooks[i].url);
		free(hooks[i].auth);
	}
	memset(hooks, 0, sizeof(hooks));
	memset(&cfg, 0, sizeof(cfg));
	cfg.hooks = hooks;
}

static void
cfg_add(const char *name, const char *url, unsigned types, uint64_t batch,
    uint64_t timeout, uint64_t retry_max, const char *auth)
{
	struct cfg_hook *h = &hooks[cfg.nhooks++];

	h->name = xstrdup(name);
	h->url = xstrdup(url);
	h->types = types;
	h->batch_size = batch;
	h->timeout = timeout;
	h->retry_max = retry_max;
	h->auth = auth ? xstrdup(auth) : NULL;
}

static char *
url(const char *path)
{
	static char u[128];

	(void)bsnprintf(u, sizeof(u), "http://127.0.0.1:%d%s", port, path);
	return u;
}

/* status_of - a copy of hooks_status's entry for name, or NULL */
static json_t *
status_of(const char *name, size_t *nhooks)
{
	json_t	*st = json_object(), *a, *h, *r = NULL;
	size_t	 i;

	hooks_status(st);
	a = json_object_get(st, "hooks");
	if (nhooks != NULL)
		*nhooks = json_array_size(a);
	json_array_foreach(a, i, h)
		if (strcmp(json_string_value(json_object_get(h, "name")),
		    name) == 0)
			r = json_deep_copy(h);
	json_decref(st);
	return r;
}

static long long
st_int(json_t *h, const char *k)
{
	return json_integer_value(json_object_get(h, k));
}

static const char *
st_str(json_t *h, const char *k)
{
	return json_string_value(json_object_get(h, k));
}

/* --- the phases ----------------------------------------------------------- */

static void
phase_empty(void)
{
	struct stat	 st;
	char		 p[512];
	size_t		 n = 99;
	json_t		*none;

	cfg_clear();
	is_int(hooks_init(base, spool_fd, &cfg), 0, "hooks_init, no hooks");
	(void)bsnprintf(p, sizeof(p), "%s/events", spool);
	ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0700, "events/ created with mode 0700");
	put("0000000000000000.jsonl", "{\"type\":\"bounced\",\"n\":0}\n",
	    false);
	put("0000000000000002.jsonl", "", false);
	run_for(300);
	ok(exists("0000000000000000.jsonl"),
	    "no hooks: segments left alone");
	none = status_of("x", &n);
	ok(none == NULL && n == 0, "no hooks: empty \"hooks\" array");
	hooks_stop();
	(void)bsnprintf(p, sizeof(p), "%s/events/0000000000000000.jsonl",
	    spool);
	unlink(p);
	(void)bsnprintf(p, sizeof(p), "%s/events/0000000000000002.jsonl",
	    spool);
	unlink(p);
}

static void
check_retry_timing(void)
{
	uint64_t t[4];
	int	 i, k = 0;
	double	 g1, g2, g3;

	for (i = 0; i < nrq && k < 4; i++)
		if (strcmp(rqs[i].path, "/a") == 0)
			t[k++] = rqs[i].ms;
	if (k < 4) {
		ok(0, "four POSTs to /a");
		return;
	}
	g1 = (double)(t[1] - t[0]) / 1000;
	g2 = (double)(t[2] - t[1]) / 1000;
	g3 = (double)(t[3] - t[2]) / 1000;
	diag("retry gaps: %.2f s, %.2f s, %.2f s", g1, g2, g3);
	ok(g1 >= 0.8 && g1 < 1.9, "first retry after about 1 s");
	ok(g2 >= 1.6 && g2 < 3.5 && g2 > g1 * 1.4,
	    "second retry after about 2 s (doubled)");
	ok(g3 >= 1.6 && g3 < 3.5, "third retry capped at retry-max (2 s)");
	ok(rqs[0].status == 500 || rqs[1].status == 500,
	    "the receiver refused the first POSTs");
}

static void
phase_post(size_t off_n2, size_t tail4)
{
	static const int want_a[] = { 1, 2, 4, 5, 6, 7 };
	static const int want_b[] = { 1, 2, 3, 4, 5, 6, 7 };
	char		 want[128];
	json_t		*h;
	int		 i;
	bool		 hdr = true, auth = true;

	cfg_clear();
	cfg_add("a", url("/a"), EVT_ALL & ~EVT_DEFERRED, 2, 2, 2, NULL);
	cfg_add("b-1.x_y", url("/b?x=1"), EVT_ALL, 100, 5, 300,
	    "Bearer s3cret");
	is_int(hooks_init(base, spool_fd, &cfg), 0, "hooks_init, two hooks");
	ok(wait_for("/b?x=1", 7, 5000), "b: events through n=7 accepted");
	ok(wait_for("/a", 7, 15000), "a: events through n=7 accepted, "
	    "after the receiver's 500s");
	run_for(400);
	is_seq("/a", want_a, 6, "a (no deferred)");
	is_seq("/b?x=1", want_b, 7, "b (all types)");
	ok(!has("/a", 8) && !has("/b?x=1", 8) && id_of(8) == NULL,
	    "the unfinished tail of the newest segment is not posted");
	ok(id_of(97) == NULL && id_of(98) == NULL && id_of(99) == NULL,
	    "long line, torn tail, unknown type: skipped");
	check_retry_timing();
	is_str(id_of(1), "0000000000000001-0", "event_id of the first line");
	(void)bsnprintf(want, sizeof(want), "0000000000000001-%zu", off_n2);
	is_str(id_of(2), want, "event_id of the second line");
	is_str(id_of(4), "0000000000000003-0", "event_id in segment 3");
	ok(ids_stable(), "event_ids stable across re-posts, unique per line");
	for (i = 0; i < nrq; i++) {
		if (!rqs[i].hdr_ok)
			hdr = false;
		if (strcmp(rqs[i].path, "/b?x=1") == 0 &&
		    strcmp(rqs[i].auth, "Bearer s3cret") != 0)
			auth = false;
		if (strcmp(rqs[i].path, "/a") == 0 && rqs[i].auth[0] != '\0')
			auth = false;
	}
	ok(hdr, "POST, Content-Type and User-Agent on every request");
	ok(auth, "Authorization sent only where configured");
	(void)bsnprintf(want, sizeof(want), "127.0.0.1:%d", port);
	is_str(rqs[0].host, want, "Host header");
	(void)bsnprintf(want, sizeof(want), "0000000000000004 %zu\n", tail4);
	is_file("cursor.a", want, "cursor.a at the unfinished tail");
	is_file("cursor.b-1.x_y", want, "cursor.b-1.x_y at the same place");
	ok(!exists("0000000000000001.jsonl") &&
	    !exists("0000000000000003.jsonl"),
	    "segments both hooks passed are unlinked");
	ok(exists("0000000000000004.jsonl"), "the newest segment stays");
	ok(!exists("tmp-cursor.a"), "no temporary cursor file left");

	h = status_of("a", NULL);
	ok(h != NULL, "hooks_status lists a");
	is_int(st_int(h, "failures"), 3, "status: a failed 3 times");
	is_int(st_int(h, "posted"), 6, "status: a posted 6 events");
	is_int(st_int(h, "batches"), 3, "status: in 3 batches of 2");
	is_int(st_int(h, "last_status"), 200, "status: last_status 200");
	is_str(st_str(h, "last_error"), "HTTP status 500",
	    "status: last_error");
	(void)bsnprintf(want, sizeof(want), "0000000000000004-%zu", tail4);
	is_str(st_str(h, "cursor"), want, "status: cursor");
	ok(st_int(h, "backlog_bytes") > 0 && st_int(h, "backlog_bytes") < 100,
	    "status: backlog_bytes is the unfinished tail");
	json_decref(h);
}

static void
phase_more(void)
{
	static const int want_a[] = { 1, 2, 4, 5, 6, 7, 8, 10 };
	char	*e9 = ev("deferred", 9), *e10 = ev("bounced", 10), *t, w[64];

	t = xasprintf("}\n%s", e9);
	put("0000000000000004.jsonl", t, true);
	free(t);
	run_for(300);
	ok(has("/a", 8) && has("/b?x=1", 9),
	    "the completed tail and the next line are posted");
	ok(!has("/a", 9), "a skips deferred");
	put("0000000000000005.jsonl", e10, false);
	ok(wait_for("/a", 10, 3000) && wait_for("/b?x=1", 10, 3000),
	    "a new segment is found");
	run_for(300);
	is_seq("/a", want_a, 8, "a, so far");
	ok(!exists("0000000000000004.jsonl"), "segment 4 unlinked once "
	    "both hooks moved to 5");
	(void)bsnprintf(w, sizeof(w), "0000000000000005 %zu\n", strlen(e10));
	is_file("cursor.a", w, "cursor.a at the end of segment 5");
	free(e9);
	free(e10);
}

static void
phase_reload(void)
{
	char	*e11 = ev("delivered", 11);
	int	 nb = count_req("/b?x=1");
	size_t	 n;
	json_t	*h;

	put("cursor.c", "garbage\n", false);
	cfg_clear();
	cfg_add("a", url("/a2"), EVT_ALL, 1, 2, 2, NULL);
	cfg_add("bad/name", url("/bad"), EVT_ALL, 1, 2, 2, NULL);
	cfg_add("c", url("/c"), EVT_ALL, 10, 2, 2, NULL);
	hooks_reload(&cfg);
	put("0000000000000005.jsonl", e11, true);
	ok(wait_for("/a2", 11, 3000), "reload: a posts to its new url");
	ok(wait_for("/c", 11, 3000) && has("/c", 10),
	    "reload: c (bad cursor file) starts at the oldest segment");
	run_for(300);
	is_int(count_req("/b?x=1"), nb, "reload: b removed, posts no more");
	is_int(count_req("/bad"), 0, "a bad hook name is refused");
	h = status_of("a", &n);
	is_int(n, 2, "status lists a and c only");
	json_decref(h);
	free(e11);
}

static void
phase_restart(void)
{
	char	*e12 = ev("complained", 12);
	int	 i, k = 0;

	hooks_stop();
	cfg_clear();
	cfg_add("a", url("/a2"), EVT_ALL, 5, 2, 2, NULL);
	is_int(hooks_init(base, spool_fd, &cfg), 0, "hooks_init again");
	put("0000000000000005.jsonl", e12, true);
	ok(wait_for("/a2", 12, 3000), "after a restart a posts new events");
	for (i = 0; i < nev; i++)
		if (evs[i].n == 11 && strcmp(rqs[evs[i].req].path, "/a2") == 0)
			k++;
	is_int(k, 1, "and resumes from its cursor file (no re-post)");
	free(e12);
}

static bool
failures_seen(void)
{
	json_t	*h = status_of("hang", NULL), *r = status_of("refused", NULL);
	json_t	*t = status_of("tls", NULL);
	bool	 done;

	done = h && r && t && st_int(h, "failures") >= 1 &&
	    st_int(r, "failures") >= 1 && st_int(t, "failures") >= 1 &&
	    count_req("/hang") >= 2 && has("/big", 12);
	json_decref(h);
	json_decref(r);
	json_decref(t);
	return done;
}

static void
phase_failures(void)
{
	char	 u[128];
	json_t	*h;

	hooks_stop();
	cfg_clear();
	cfg_add("hang", url("/hang"), EVT_ALL, 5, 1, 1, NULL);
	(void)bsnprintf(u, sizeof(u), "http://127.0.0.1:%d/", closed_port());
	cfg_add("refused", u, EVT_ALL, 5, 2, 1, NULL);
	(void)bsnprintf(u, sizeof(u), "https://127.0.0.1:%d/tls", port);
	cfg_add("tls", u, EVT_ALL, 5, 2, 1, NULL);
	cfg_add("big", url("/big"), EVT_ALL, 1, 5, 1, NULL);
	is_int(hooks_init(base, spool_fd, &cfg), 0, "hooks_init, bad hooks");
	ok(run_until(failures_seen, 8000), "timeout, refused, TLS failure "
	    "all counted; the hung POST is retried");
	h = status_of("hang", NULL);
	is_str(st_str(h, "last_error"), "timeout", "hang: timeout");
	json_decref(h);
	h = status_of("tls", NULL);
	is_int(st_int(h, "posted"), 0, "tls: nothing posted to a plain "
	    "HTTP server");
	json_decref(h);
	ok(has("/big", 10) && has("/big", 11),
	    "a 10 MiB reply body is dropped, its status still counts");
	ok(exists("0000000000000005.jsonl"), "failed hooks keep segments");
	hooks_stop();	/* with the hung POST in flight */
	run_for(200);
	ok(1, "hooks_stop with a POST in flight");
}

/* --- TLS ------------------------------------------------------------------ */

/* make_cert - a self-signed certificate for the names in san */
static X509 *
make_cert(EVP_PKEY *pk, const char *san)
{
	X509		*x = X509_new();
	X509_NAME	*n;
	X509_EXTENSION	*ext;
	X509V3_CTX	 ctx;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(now_ms() & 0xffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)san, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0)
		bail_out("cannot make a certificate");
	X509_EXTENSION_free(ext);
	return x;
}

static int
sni_cb(SSL *s, int *al, void *arg)
{
	const char *n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	tern_strlcpy(sni, n ? n : "", sizeof(sni));
	return SSL_TLSEXT_ERR_OK;
}

static struct bufferevent *
tls_bev(struct event_base *b, void *arg)
{
	SSL *s = SSL_new(arg);

	return bufferevent_openssl_socket_new(b, -1, s,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

struct tlssrv {
	SSL_CTX		*ctx;
	struct evhttp	*http;
	int		 port;
};

static void
tls_start(struct tlssrv *t, X509 *x, EVP_PKEY *pk)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t	 sl = sizeof(sin);

	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(t->ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(t->ctx, pk) != 1)
		bail_out("server SSL_CTX");
	SSL_CTX_set_tlsext_servername_callback(t->ctx, sni_cb);
	if ((t->http = evhttp_new(base)) == NULL || (bs =
	    evhttp_bind_socket_with_handle(t->http, "127.0.0.1", 0)) == NULL)
		bail_out("cannot start the TLS receiver");
	evhttp_set_bevcb(t->http, tls_bev, t->ctx);
	evhttp_set_gencb(t->http, rcv, NULL);
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &sl) == -1)
		bail_out("getsockname");
	t->port = ntohs(sin.sin_port);
}

static EVP_PKEY	*tls_key;
static X509	*tls_good, *tls_other;
static char	 ca_file[300];

/* tls_setup - two certificates, both trusted via SSL_CERT_FILE */
static void
tls_setup(void)
{
	FILE	*f;

	if ((tls_key = EVP_EC_gen("P-256")) == NULL)
		bail_out("EVP_EC_gen");
	tls_good = make_cert(tls_key, "DNS:localhost,IP:127.0.0.1");
	tls_other = make_cert(tls_key, "DNS:tern.invalid,IP:10.9.9.9");
	(void)bsnprintf(ca_file, sizeof(ca_file), "%s/ca.pem", spool);
	if ((f = fopen(ca_file, "w")) == NULL ||
	    PEM_write_X509(f, tls_good) != 1 ||
	    PEM_write_X509(f, tls_other) != 1 || fclose(f) != 0)
		bail_out("ca.pem");
	setenv("SSL_CERT_FILE", ca_file, 1);
}

static bool
tls_done(void)
{
	json_t	*o = status_of("tls-other", NULL);
	bool	 d = has("/tls-ip", 12) && has("/tls-name", 12) &&
	    o != NULL && st_int(o, "failures") >= 1;

	json_decref(o);
	return d;
}

static void
phase_tls(void)
{
	struct tlssrv	 good, other;
	char		 u[128];
	json_t		*h;

	tls_start(&good, tls_good, tls_key);
	tls_start(&other, tls_other, tls_key);
	hooks_stop();
	cfg_clear();
	(void)bsnprintf(u, sizeof(u), "https://127.0.0.1:%d/tls-ip",
	    good.port);
	cfg_add("tls-ip", u, EVT_ALL, 2, 5, 1, NULL);
	(void)bsnprintf(u, sizeof(u), "https://localhost:%d/tls-name",
	    good.port);
	cfg_add("tls-name", u, EVT_ALL, 2, 5, 1, NULL);
	(void)bsnprintf(u, sizeof(u), "https://127.0.0.1:%d/tls-other",
	    other.port);
	cfg_add("tls-other", u, EVT_ALL, 2, 5, 1, NULL);
	is_int(hooks_init(base, spool_fd, &cfg), 0, "hooks_init, https");
	ok(run_until(tls_done, 8000), "https: posted by IP and by name; "
	    "a certificate for another name is refused");
	run_for(300);		/* the client sees the last reply */
	is_str(sni, "localhost", "https: SNI sent for a host name");
	h = status_of("tls-ip", NULL);
	is_int(st_int(h, "batches"), 2, "https: two batches (new "
	    "connection each)");
	json_decref(h);
	ok(count_req("/tls-other") == 0, "nothing reached the wrong host");
	hooks_stop();
	evhttp_free(good.http);
	evhttp_free(other.http);
	SSL_CTX_free(good.ctx);
	SSL_CTX_free(other.ctx);
}

int
main(void)
{
	const char	*tmp = getenv("TMPDIR");
	struct event	*ev_tick;
	struct timeval	 tv = { 0, 50000 };
	size_t		 off_n2, tail4;

	log_init("test_bouncd_hooks", 0);
	(void)bsnprintf(spool, sizeof(spool), "%s/tern-hooks.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(spool) == NULL ||
	    (spool_fd = open(spool, O_RDONLY | O_DIRECTORY)) == -1)
		bail_out("mkdtemp");
	if ((base = event_base_new()) == NULL)
		bail_out("event_base_new");
	ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL);
	evtimer_add(ev_tick, &tv);
	srv_start();

	phase_empty();
	write_segments(&off_n2, &tail4);
	phase_post(off_n2, tail4);
	phase_more();
	phase_reload();
	phase_restart();
	phase_failures();
	tls_setup();
	phase_tls();

	hooks_stop();
	cfg_clear();
	evhttp_free(srv);
	event_free(ev_tick);
	event_base_free(base);
	close(spool_fd);
	unlink(ca_file);
	X509_free(tls_good);
	X509_free(tls_other);
	EVP_PKEY_free(tls_key);
	rm_spool();
	return done_testing();
}
