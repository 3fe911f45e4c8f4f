/*
 * shaping.c - tern's shaping commands, as pmta has them.
 *
 * Purpose:      show topqueues [--maxitems=N], show vmtas, show domains
 *               [PATTERN], show shaping SEL, pause queue SEL, resume
 *               queue SEL, set queue --mode=backoff|normal SEL.  Queue
 *               sizes come from queued, shaping state from shaperd; a
 *               resume also asks queued to offer the held mail at once.
 *               Every command prints a table, or JSON with --json.
 * Used by:      tern.
 * Trust:        replies are parsed with jansson; a daemon that is down
 *               is reported, not guessed at.
 * Spool access: none.
 * See:          tern(1), shaperd(8).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern.h"
#include "units.h"
#include "util.h"

#define TOP_DEFAULT	10

static int
print_json(json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

	printf("%s\n", s);
	free(s);
	return 0;
}

static json_t *
need(const char *sock, json_t *req)
{
	json_t *r = request_obj(sock, req);

	if (r == NULL)
		fprintf(stderr, "tern: %.*s is not answering on %s/%s\n",
		    (int)(strlen(sock) - 5), sock, run_dir, sock);
	return r;
}

static const char *
S(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long
I(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/*
 * shaping_find - the shaperd queue a queued queue (domain/vmta, rollup)
 * is shaped by
 */
static json_t *
shaping_find(json_t *sq, json_t *q)
{
	const char	*key = *S(q, "rollup") ? S(q, "rollup") : S(q, "domain");
	json_t		*x;
	size_t		 i;

	json_array_foreach(json_object_get(sq, "queues"), i, x)
		if (strcmp(S(x, "vmta"), S(q, "vmta")) == 0 &&
		    strcasecmp(S(x, "key"), key) == 0)
			return x;
	return NULL;
}

/*
 * shaping_merge - queued's queue list gains shaperd's view: mode is
 * backoff, paused, suspended or normal, plus held and connections.
 */
void
shaping_merge(json_t *r)
{
	json_t	*sq = request("shaperd.sock", "queues"), *q, *x;
	size_t	 i;

	json_array_foreach(json_object_get(r, "queues"), i, q) {
		const char *mode = S(q, "mode");

		if (sq != NULL && (x = shaping_find(sq, q)) != NULL) {
			mode = S(x, "mode");
			if (json_is_true(json_object_get(x, "held")))
				mode = S(x, "hold");
			json_object_set_new(q, "connections", json_integer(
			    I(x, "connections")));
			json_object_set(q, "held", json_object_get(x, "held"));
		}
		json_object_set_new(q, "mode", json_string(*mode ? mode :
		    "normal"));
	}
	json_decref(sq);
}

/* --- show topqueues ---------------------------------------------------- */

static int
by_rcpts(const void *a, const void *b)
{
	long long x = I(*(json_t * const *)a, "rcpts");
	long long y = I(*(json_t * const *)b, "rcpts");

	return x < y ? 1 : x > y ? -1 : strcmp(S(*(json_t * const *)a,
	    "queue"), S(*(json_t * const *)b, "queue"));
}

static int
show_topqueues(long max)
{
	json_t	*r = need("queued.sock", json_pack("{s:s}", "cmd", "queues"));
	json_t	*q, **v, *top;
	size_t	 i, n;

	if (r == NULL)
		return 1;
	shaping_merge(r);
	n = json_array_size(json_object_get(r, "queues"));
	v = xcalloc(n + 1, sizeof(*v));
	json_array_foreach(json_object_get(r, "queues"), i, q)
		v[i] = q;
	qsort(v, n, sizeof(*v), by_rcpts);
	top = json_array();
	for (i = 0; i < n && (long)i < max; i++)
		if (I(v[i], "rcpts") > 0)
			json_array_append(top, v[i]);
	free(v);
	if (as_json) {
		json_t *o = json_pack("{s:o}", "queues", top);

		print_json(o);
		json_decref(o);
		json_decref(r);
		return 0;
	}
	printf("%-36s %8s %7s %10s %5s %-10s %s\n", "QUEUE", "RCPTS", "MSGS",
	    "KB", "CONN", "MODE", "ROLLUP");
	json_array_foreach(top, i, q)
		printf("%-36s %8lld %7lld %10lld %5lld %-10s %s\n",
		    S(q, "queue"), I(q, "rcpts"), I(q, "msgs"),
		    (I(q, "bytes") + 1023) / 1024, I(q, "connections"),
		    S(q, "mode"), *S(q, "rollup") ? S(q, "rollup") : "-");
	json_decref(top);
	json_decref(r);
	return 0;
}

/* --- show vmtas -------------------------------------------------------- */

static int
show_vmtas(void)
{
	json_t	*s = need("shaperd.sock", json_pack("{s:s}", "cmd", "vmtas"));
	json_t	*r, *v, *q;
	size_t	 i, k;

	if (s == NULL)
		return 1;
	r = request("queued.sock", "queues");
	json_array_foreach(json_object_get(s, "vmtas"), i, v) {
		long long rc = 0, ms = 0, by = 0, nq = 0;

		json_array_foreach(json_object_get(r, "queues"), k, q)
			if (strcmp(S(q, "vmta"), S(v, "vmta")) == 0 &&
			    I(q, "rcpts") > 0) {
				rc += I(q, "rcpts");
				ms += I(q, "msgs");
				by += I(q, "bytes");
				nq++;
			}
		json_object_set_new(v, "rcpts", json_integer(rc));
		json_object_set_new(v, "msgs", json_integer(ms));
		json_object_set_new(v, "bytes", json_integer(by));
		json_object_set_new(v, "queues_with_mail", json_integer(nq));
	}
	json_decref(r);
	if (as_json) {
		print_json(s);
		json_decref(s);
		return 0;
	}
	printf("%-16s %-16s %5s %6s %-14s %6s %8s %10s %7s %5s %s\n", "VMTA",
	    "SOURCE", "CONN", "MAXOUT", "MAX-MSG-RATE", "QUEUES", "RCPTS",
	    "KB", "BACKOFF", "HELD", "WARMUP");
	json_array_foreach(json_object_get(s, "vmtas"), i, v) {
		char	 out[24], day[24];

		if (I(v, "max_smtp_out") > 0)
			snprintf(out, sizeof(out), "%lld", I(v, "max_smtp_out"));
		else
			snprintf(out, sizeof(out), "-");
		if (json_is_integer(json_object_get(v, "warmup_day")))
			snprintf(day, sizeof(day), "day %lld",
			    I(v, "warmup_day"));
		else
			snprintf(day, sizeof(day), "-");
		printf("%-16s %-16s %5lld %6s %-14s %6lld %8lld %10lld %7lld "
		    "%5lld %s%s\n", S(v, "vmta"),
		    *S(v, "source") ? S(v, "source") : "-",
		    I(v, "connections"), out, S(v, "max_msg_rate"),
		    I(v, "queues_with_mail"), I(v, "rcpts"),
		    (I(v, "bytes") + 1023) / 1024, I(v, "backoff"),
		    I(v, "held"), day,
		    json_is_true(json_object_get(v, "connected")) ? "" :
		    " (deliverd not connected)");
	}
	json_decref(s);
	return 0;
}

/* --- show domains ------------------------------------------------------ */

static int
show_domains(const char *pat)
{
	json_t	*r = need("queued.sock", json_pack("{s:s}", "cmd", "queues"));
	json_t	*doms = json_object(), *q, *d;
	const char *name;
	void	*tmp;
	size_t	 i;

	if (r == NULL)
		return 1;
	json_array_foreach(json_object_get(r, "queues"), i, q) {
		if (pat != NULL && fnmatch(pat, S(q, "domain"),
		    FNM_CASEFOLD) != 0)
			continue;
		if ((d = json_object_get(doms, S(q, "domain"))) == NULL) {
			d = json_pack("{s:s, s:i, s:i, s:i, s:[], s:s}",
			    "domain", S(q, "domain"), "rcpts", 0, "msgs", 0,
			    "bytes", 0, "vmtas", "rollup", S(q, "rollup"));
			json_object_set_new(doms, S(q, "domain"), d);
		}
		json_object_set_new(d, "rcpts", json_integer(I(d, "rcpts") +
		    I(q, "rcpts")));
		json_object_set_new(d, "msgs", json_integer(I(d, "msgs") +
		    I(q, "msgs")));
		json_object_set_new(d, "bytes", json_integer(I(d, "bytes") +
		    I(q, "bytes")));
		json_array_append_new(json_object_get(d, "vmtas"),
		    json_string(S(q, "vmta")));
		if (*S(q, "rollup"))
			json_object_set_new(d, "rollup", json_string(S(q,
			    "rollup")));
	}
	json_decref(r);
	if (as_json) {
		json_t *arr = json_array(), *o;

		json_object_foreach(doms, name, d)
			json_array_append(arr, d);
		o = json_pack("{s:o}", "domains", arr);
		print_json(o);
		json_decref(o);
		json_decref(doms);
		return 0;
	}
	printf("%-36s %8s %7s %10s %-20s %s\n", "DOMAIN", "RCPTS", "MSGS", "KB",
	    "ROLLUP", "VMTAS");
	json_object_foreach_safe(doms, tmp, name, d) {
		json_t	*v;
		size_t	 k;

		printf("%-36s %8lld %7lld %10lld %-20s ", name, I(d, "rcpts"),
		    I(d, "msgs"), (I(d, "bytes") + 1023) / 1024,
		    *S(d, "rollup") ? S(d, "rollup") : "-");
		json_array_foreach(json_object_get(d, "vmtas"), k, v)
			printf("%s%s", k ? "," : "", json_string_value(v));
		printf("\n");
	}
	json_decref(doms);
	return 0;
}

/* --- show shaping ------------------------------------------------------ */

static void
print_limits(json_t *lim)
{
	const char	*name;
	json_t		*l;
	char		 val[64];

	json_object_foreach(lim, name, l) {
		json_t *v = json_object_get(l, "value");

		if (json_is_string(v))
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		else if (json_is_boolean(v))
			snprintf(val, sizeof(val), "%s", json_is_true(v) ?
			    "yes" : "no");
		else
			snprintf(val, sizeof(val), "%lld",
			    json_integer_value(v));
		printf("    %-34s %-16s (%s)\n", name, *val ? val : "-",
		    S(l, "from"));
	}
}

static void
print_until(const char *what, long long t)
{
	char b[64];

	if (t <= 0)
		return;
	units_fmt_duration(t > time(NULL) ? (uint64_t)(t - time(NULL)) : 0, b,
	    sizeof(b));
	printf("  %-14s for %s more\n", what, b);
}

static int
show_shaping(const char *sel)
{
	json_t	*r = need("shaperd.sock", json_pack("{s:s, s:s}", "cmd",
	    "shaping", "sel", sel)), *q, *w, *c;
	size_t	 i, k;
	char	 b[64];

	if (r == NULL)
		return 1;
	if (json_object_get(r, "error") != NULL) {
		fprintf(stderr, "tern: %s\n", S(r, "error"));
		json_decref(r);
		return 1;
	}
	if (as_json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	if (json_array_size(json_object_get(r, "queues")) == 0)
		printf("no shaping queue matches %s (a queue appears when "
		    "mail goes to it)\n", sel);
	json_array_foreach(json_object_get(r, "queues"), i, q) {
		json_t *d;

		printf("%s\n  domains       ", S(q, "queue"));
		json_array_foreach(json_object_get(q, "domains"), k, d)
			printf("%s%s", k ? ", " : "", json_string_value(d));
		printf("\n  mode           %s since %s\n", S(q, "mode"),
		    ago(I(q, "mode_since"), b, sizeof(b)));
		print_until("backoff", I(q, "backoff_until"));
		if (json_is_true(json_object_get(q, "paused")))
			printf("  paused         yes (tern resume queue)\n");
		print_until("suspended", I(q, "suspended_until"));
		print_until("bouncing", I(q, "bounce_until"));
		if (json_is_true(json_object_get(q, "held")))
			printf("  held           %s\n", S(q, "hold_reason"));
		printf("  connections    %lld\n", I(q, "connections"));
		if (*S(q, "last_rule"))
			printf("  last rule      %s, %s ago\n  last reply     "
			    "%.200s\n", S(q, "last_rule"), ago(I(q,
			    "last_match"), b, sizeof(b)), S(q, "last_reply"));
		if (json_is_object(w = json_object_get(q, "warmup")))
			printf("  warm-up        day %lld%s, volume %lld, sent "
			    "%lld, %lld of %lld outcomes 5xx%s%s\n",
			    I(w, "day"), json_is_true(json_object_get(w,
			    "schedule_over")) ? " (schedule over)" : "",
			    I(w, "volume"), I(w, "sent"), I(w, "bounced"),
			    I(w, "outcomes"), json_is_true(json_object_get(w,
			    "paused")) ? ", PAUSED: " : "",
			    S(w, "pause_reason"));
		c = json_object_get(q, "counters");
		printf("  since start    granted %lld, delivered %lld, "
		    "deferred %lld, bounced %lld\n", I(c, "granted"),
		    I(c, "delivered"), I(c, "deferred"), I(c, "bounced"));
		printf("  limits (value, where it comes from):\n");
		print_limits(json_object_get(q, "limits"));
	}
	json_decref(r);
	return 0;
}

/* --- pause, resume, set mode ------------------------------------------- */

/* release - queued offers the selected queues' held mail now */
static long long
release(const char *sel)
{
	char	 dom[512], vmta[128];
	const char *sl = strrchr(sel, '/');
	json_t	*r;
	long long n;

	if (sl == NULL) {
		tern_strlcpy(dom, sel, sizeof(dom));
		tern_strlcpy(vmta, "*", sizeof(vmta));
	} else {
		snprintf(dom, sizeof(dom), "%.*s", (int)(sl - sel), sel);
		tern_strlcpy(vmta, sl + 1, sizeof(vmta));
	}
	r = request_obj("queued.sock", json_pack("{s:s, s:s, s:s}", "cmd",
	    "release", "domain", dom, "vmta", vmta));
	n = r != NULL ? I(r, "released") : -1;
	json_decref(r);
	return n;
}

static int
act(const char *cmd, const char *sel, const char *mode)
{
	json_t	*req = json_pack("{s:s, s:s}", "cmd", cmd, "sel", sel);
	json_t	*r, *q;
	size_t	 i;
	long long rel = 0;

	if (mode != NULL)
		json_object_set_new(req, "mode", json_string(mode));
	if ((r = need("shaperd.sock", req)) == NULL)
		return 1;
	if (json_object_get(r, "error") != NULL) {
		fprintf(stderr, "tern: %s: %s\n", sel, S(r, "error"));
		json_decref(r);
		return 1;
	}
	if (strcmp(cmd, "resume") == 0 ||
	    (mode != NULL && strcmp(mode, "normal") == 0)) {
		/* The rollup keys too: queued knows them from results. */
		rel = release(sel);
		json_array_foreach(json_object_get(r, "queues"), i, q) {
			char one[600];

			snprintf(one, sizeof(one), "%s/%s", S(q, "key"),
			    S(q, "vmta"));
			if (strcmp(one, sel) != 0 && rel >= 0)
				rel += release(one);
		}
		json_object_set_new(r, "released", json_integer(rel));
	}
	if (as_json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	json_array_foreach(json_object_get(r, "queues"), i, q)
		printf("%-40s %s%s%s\n", S(q, "queue"),
		    strcmp(cmd, "pause") == 0 ? "paused" :
		    strcmp(cmd, "resume") == 0 ? "resumed" : "mode ",
		    strcmp(cmd, "mode") == 0 ? S(q, "mode") : "",
		    json_is_true(json_object_get(q, "held")) &&
		    strcmp(cmd, "pause") != 0 ? " (still held)" : "");
	if (rel > 0)
		printf("%lld held queue entries offered again\n", rel);
	json_decref(r);
	return 0;
}

/*
 * shaping_command - the commands of this file; -1 when argv is none of
 * them (tern prints its usage)
 */
int
shaping_command(int argc, char **argv)
{
	long max = TOP_DEFAULT;
	int i;

	if (argc >= 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "topqueues") == 0) {
		for (i = 2; i < argc; i++) {
			char *end;

			if (strncmp(argv[i], "--maxitems=", 11) != 0 ||
			    (max = strtol(argv[i] + 11, &end, 10)) <= 0 ||
			    *end != '\0' || max > 100000) {
				fprintf(stderr, "tern: show topqueues "
				    "[--maxitems=N], N from 1 to 100000\n");
				return 2;
			}
		}
		return show_topqueues(max);
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "vmtas") == 0)
		return show_vmtas();
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "domains") == 0)
		return show_domains(argc == 3 ? argv[2] : NULL);
	if (argc == 3 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "shaping") == 0)
		return show_shaping(argv[2]);
	if (argc == 3 && strcmp(argv[1], "queue") == 0 &&
	    (strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "resume") == 0))
		return act(argv[0], argv[2], NULL);
	if (argc == 4 && strcmp(argv[0], "set") == 0 &&
	    strcmp(argv[1], "queue") == 0) {
		if (strcmp(argv[2], "--mode=backoff") != 0 &&
		    strcmp(argv[2], "--mode=normal") != 0) {
			fprintf(stderr, "tern: set queue --mode=backoff|normal "
			    "DOMAIN/VMTA\n");
			return 2;
		}
		return act("mode", argv[3], argv[2] + 7);
	}
	return -1;
}
