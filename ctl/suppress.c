/*
 * suppress.c - tern suppression add|remove|show|list|import|export.
 *
 * Purpose:      the operator's view of the suppression list.  Changes go
 *               to bouncd, the list's only writer, over bouncd.sock
 *               (suppression.add, .remove, .import in batches); reads
 *               open <spool-dir>/suppress read-only, so that a list or
 *               a million-row export never crosses IPC.  CSV in and out
 *               as in suppress.h: address,scope,reason,source,created,
 *               expires,note.  Tables, or JSON with --json.
 * Used by:      tern.
 * Trust:        the CSV file is the operator's but checked row by row
 *               (bouncd checks again); replies are parsed with jansson.
 * Spool access: <spool-dir>/suppress, read-only (LMDB).
 * See:          tern(1), bouncd(8), common/suppress.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "suppress.h"
#include "tern.h"
#include "units.h"
#include "util.h"

#define LIST_DEFAULT	100
#define BATCH_MAX	1000		/* entries in one import request */
#define BATCH_BYTES	(192 * 1024)	/* under IPC_MAXSIZE, escapes too */
#define JSON_ERRORS_MAX	1000		/* import errors listed with --json */
#define COL_MAX		40

struct opts {
	const char	*scope;
	const char	*reason;
	const char	*note;
	const char	*expires;
	const char	*spool_dir;
	long		 limit;
	bool		 has_limit;
};

static void
supp_usage(void)
{
	fprintf(stderr,
	    "usage: tern suppression add ADDR [--scope S] [--reason R] "
	    "[--note N]\n"
	    "                        [--expires 30d|2026-11-23T10:00:00Z]\n"
	    "       tern suppression remove ADDR [--scope S]\n"
	    "       tern suppression show ADDR\n"
	    "       tern suppression list [--scope S] [--limit N]\n"
	    "       tern suppression import FILE.csv|-\n"
	    "       tern suppression export [FILE.csv|-]\n"
	    "S is global (the default), job:ID or pool:NAME.  list shows 100 "
	    "(--limit 0: all).\n"
	    "CSV: " SUPP_CSV_HEADER "\n"
	    "Every command takes --json; show, list and export read the list "
	    "directly,\n"
	    "from tern.yaml's spool-dir or --spool-dir DIR.\n");
	exit(2);
}

static int
print_json(json_t *r)
{
	char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

	printf("%s\n", s);
	free(s);
	return 0;
}

/* scope_arg - "global" or "" is the global scope */
static const char *
scope_arg(const char *s)
{
	if (s == NULL || strcmp(s, "global") == 0)
		return "";
	if (!supp_scope_ok(s)) {
		fprintf(stderr, "tern: bad scope '%s' (global, job:ID or "
		    "pool:NAME)\n", s);
		exit(2);
	}
	return s;
}

static const char *
scope_name(const char *s)
{
	return *s ? s : "global";
}

static void
norm_arg(const char *in, char *out, size_t sz)
{
	if (supp_norm_addr(in, out, sz) == -1) {
		fprintf(stderr, "tern: '%s' is not an address (user@domain)\n",
		    in);
		exit(2);
	}
}

/* --- reading the store ------------------------------------------------- */

/* spool_dir - --spool-dir, else spool-dir from tern.yaml */
static char *
spool_dir(const struct opts *o, const char *cfgpath)
{
	struct cfg_errors	 err = { 0 };
	struct tern_config	*cfg;
	char			*d;

	if (o->spool_dir != NULL)
		return xstrdup(o->spool_dir);
	if ((cfg = config_load_file(cfgpath, &err)) == NULL) {
		config_errors_print(&err, STDERR_FILENO);
		config_errors_free(&err);
		fprintf(stderr, "tern: cannot find spool-dir in %s (give "
		    "--spool-dir)\n", cfgpath);
		exit(1);
	}
	d = xstrdup(cfg->spool_dir);
	config_free(cfg);
	return d;
}

/*
 * open_store - the list read-only; NULL with *empty when bouncd has not
 * created it yet (an empty list), NULL otherwise on error (reported)
 */
static struct supp *
open_store(const struct opts *o, const char *cfgpath, bool *empty)
{
	char		*dir = spool_dir(o, cfgpath);
	const char	*why;
	struct supp	*s;

	*empty = false;
	if ((s = supp_open(dir, false, &why)) == NULL) {
		if (why != NULL && strcmp(why, "not created yet") == 0)
			*empty = true;
		else
			fprintf(stderr, "tern: %s/suppress: %s\n", dir,
			    why ? why : "cannot open");
	}
	free(dir);
	return s;
}

static json_t *
entry_json(const struct supp_entry *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "addr",
	    e->addr, "scope", e->scope, "reason", e->reason, "source",
	    e->source, "created", (json_int_t)e->created, "expires",
	    (json_int_t)e->expires, "note", e->note);
}

struct collect {
	json_t	*list;
	long	 max;		/* stop after this many; 0: all */
};

static int
collect_cb(const struct supp_entry *e, void *arg)
{
	struct collect *c = arg;

	json_array_append_new(c->list, entry_json(e));
	return c->max > 0 && (long)json_array_size(c->list) >= c->max;
}

static const char *
S(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int
width(json_t *list, const char *key, int min, bool scope)
{
	json_t	*e;
	size_t	 i;
	int	 w = min, n;

	json_array_foreach(list, i, e) {
		n = (int)strlen(scope ? scope_name(S(e, key)) : S(e, key));
		if (n > w)
			w = n;
	}
	return w > COL_MAX ? COL_MAX : w;
}

/* print_table - entries in aligned columns */
static void
print_table(json_t *list)
{
	int	 wa = width(list, "addr", 7, false);
	int	 ws = width(list, "scope", 6, true);
	int	 wr = width(list, "reason", 6, false);
	char	 cr[32], ex[32];
	json_t	*e;
	size_t	 i;

	printf("%-*s %-*s %-*s %-7s %-20s %-20s %s\n", wa, "ADDRESS", ws,
	    "SCOPE", wr, "REASON", "SOURCE", "CREATED", "EXPIRES", "NOTE");
	json_array_foreach(list, i, e) {
		json_int_t x = json_integer_value(json_object_get(e,
		    "expires"));

		supp_time_fmt((uint64_t)json_integer_value(json_object_get(e,
		    "created")), cr, sizeof(cr));
		supp_time_fmt((uint64_t)x, ex, sizeof(ex));
		printf("%-*s %-*s %-*s %-7s %-20s %-20s %.60s\n", wa,
		    S(e, "addr"), ws, scope_name(S(e, "scope")), wr,
		    S(e, "reason"), *S(e, "source") ? S(e, "source") : "-",
		    *cr ? cr : "-", x ? ex : "never", S(e, "note"));
	}
}

static int
cmd_show(const struct opts *o, const char *cfgpath, const char *arg)
{
	char		 addr[MAILADDR_MAX + 1];
	struct collect	 c = { json_array(), 0 };
	struct supp	*s;
	bool		 empty;
	int		 rc;

	norm_arg(arg, addr, sizeof(addr));
	s = open_store(o, cfgpath, &empty);
	if (s == NULL && !empty) {
		json_decref(c.list);
		return 1;
	}
	if (s != NULL && supp_iter_addr(s, addr, collect_cb, &c) == -1) {
		fprintf(stderr, "tern: cannot read the suppression list\n");
		supp_close(s);
		json_decref(c.list);
		return 1;
	}
	supp_close(s);
	rc = json_array_size(c.list) > 0 ? 0 : 1;
	if (as_json) {
		json_t *r = json_pack("{s:s, s:b, s:o}", "addr", addr,
		    "suppressed", rc == 0, "entries", c.list);

		print_json(r);
		json_decref(r);
		return rc;
	}
	if (rc != 0)
		printf("%s is not suppressed\n", addr);
	else
		print_table(c.list);
	json_decref(c.list);
	return rc;
}

static int
cmd_list(const struct opts *o, const char *cfgpath)
{
	const char	*scope = o->scope != NULL ? scope_arg(o->scope) : NULL;
	long		 limit = o->has_limit ? o->limit : LIST_DEFAULT;
	struct collect	 c = { json_array(), limit > 0 ? limit + 1 : 0 };
	struct supp	*s;
	uint64_t	 total = 0;
	bool		 empty, more;

	if ((s = open_store(o, cfgpath, &empty)) == NULL && !empty) {
		json_decref(c.list);
		return 1;
	}
	if (s != NULL) {
		total = supp_count(s);
		if (supp_iter(s, scope, NULL, NULL, collect_cb, &c) == -1) {
			fprintf(stderr, "tern: cannot read the suppression "
			    "list\n");
			supp_close(s);
			json_decref(c.list);
			return 1;
		}
		supp_close(s);
	}
	/* One more than asked for says whether there is more. */
	if ((more = limit > 0 && (long)json_array_size(c.list) > limit))
		json_array_remove(c.list, (size_t)limit);
	if (as_json) {
		json_t *r = json_pack("{s:o, s:I, s:I, s:b}", "entries",
		    c.list, "count", (json_int_t)json_array_size(c.list),
		    "stored", (json_int_t)total, "truncated", more);

		print_json(r);
		json_decref(r);
		return 0;
	}
	if (json_array_size(c.list) == 0)
		printf("no entries%s%s\n", scope != NULL ? " in " : "",
		    scope != NULL ? scope_name(scope) : "");
	else
		print_table(c.list);
	if (more)
		printf("(first %ld shown; --limit N for more, --limit 0 for "
		    "all, or export)\n", limit);
	json_decref(c.list);
	return 0;
}

/* --- export ------------------------------------------------------------ */

struct exporter {
	FILE		*f;
	unsigned long	 n;
	bool		 json;
	bool		 failed;
};

static int
export_cb(const struct supp_entry *e, void *arg)
{
	struct exporter	*x = arg;
	char		 line[SUPP_CSV_LINE_MAX], *j;
	json_t		*o;

	if (x->json) {
		o = entry_json(e);
		j = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
		fprintf(x->f, "%s%s", x->n ? ",\n" : "", j);
		free(j);
	} else if (supp_csv_format(e, line, sizeof(line)) > 0)
		fputs(line, x->f);
	x->n++;
	return (x->failed = ferror(x->f) != 0);
}

/* export_open - FILE (created 0600: addresses are personal data) */
static FILE *
export_open(const char *path)
{
	FILE	*f;
	int	 fd;

	if (strcmp(path, "-") == 0)
		return stdout;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "tern: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	return f;
}

static int
cmd_export(const struct opts *o, const char *cfgpath, const char *path)
{
	struct exporter	 x = { NULL, 0, false, false };
	struct supp	*s;
	bool		 empty, to_stdout = strcmp(path, "-") == 0;
	int		 rc = 0;

	if ((s = open_store(o, cfgpath, &empty)) == NULL && !empty)
		return 1;
	if ((x.f = export_open(path)) == NULL) {
		supp_close(s);
		return 1;
	}
	/* With --json on stdout the entries themselves are JSON. */
	x.json = as_json && to_stdout;
	fputs(x.json ? "[\n" : SUPP_CSV_HEADER "\n", x.f);
	if (s != NULL && supp_iter(s, NULL, NULL, NULL, export_cb, &x) ==
	    -1 && !x.failed)
		rc = 1;
	supp_close(s);
	if (x.json)
		fputs(x.n ? "\n]\n" : "]\n", x.f);
	if (fflush(x.f) == EOF || ferror(x.f) || x.failed ||
	    (!to_stdout && fclose(x.f) == EOF)) {
		fprintf(stderr, "tern: %s: write error\n", path);
		return 1;
	}
	if (rc != 0)
		fprintf(stderr, "tern: cannot read the suppression list\n");
	else if (!to_stdout && as_json) {
		json_t *r = json_pack("{s:s, s:I}", "file", path, "exported",
		    (json_int_t)x.n);

		print_json(r);
		json_decref(r);
	} else if (!to_stdout)
		printf("exported %lu entries to %s\n", x.n, path);
	return rc;
}

/* --- changes, through bouncd ------------------------------------------- */

/* to_bouncd - a request (consumed); NULL after saying why */
static json_t *
to_bouncd(json_t *req)
{
	json_t		*r = request_obj("bouncd.sock", req);
	const char	*err;

	if (r == NULL) {
		fprintf(stderr, "tern: bouncd is not answering on "
		    "%s/bouncd.sock\n", run_dir);
		return NULL;
	}
	if ((err = json_string_value(json_object_get(r, "error"))) != NULL) {
		fprintf(stderr, "tern: bouncd: %s\n", err);
		json_decref(r);
		return NULL;
	}
	return r;
}

/* expires_arg - a duration from now (30d) or a time (ISO 8601 UTC) */
static uint64_t
expires_arg(const char *s)
{
	uint64_t	 v;
	const char	*err = "bad duration";

	if (strchr(s, '-') != NULL) {
		if (supp_time_parse(s, &v) == 0 && v > (uint64_t)time(NULL))
			return v;
		err = "not a future time (YYYY-MM-DDTHH:MM:SSZ)";
	} else if (units_duration(s, &v, &err) == 0 && v > 0)
		return (uint64_t)time(NULL) + v;
	fprintf(stderr, "tern: --expires %s: %s\n", s, err);
	exit(2);
}

static int
cmd_add(const struct opts *o, const char *arg)
{
	char		 addr[MAILADDR_MAX + 1], ex[32];
	json_t		*req, *r, *e;

	norm_arg(arg, addr, sizeof(addr));
	req = json_pack("{s:s, s:s, s:s}", "cmd", "suppression.add", "addr",
	    addr, "scope", scope_arg(o->scope));
	if (o->reason != NULL)
		json_object_set_new(req, "reason", json_string(o->reason));
	if (o->note != NULL)
		json_object_set_new(req, "note", json_string(o->note));
	if (o->expires != NULL)
		json_object_set_new(req, "expires", json_integer((json_int_t)
		    expires_arg(o->expires)));
	if ((r = to_bouncd(req)) == NULL)
		return 1;
	if (as_json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	e = json_object_get(r, "entry");
	supp_time_fmt((uint64_t)json_integer_value(json_object_get(e,
	    "expires")), ex, sizeof(ex));
	printf("suppressed %s (%s), reason %s, %s%s\n", S(e, "addr"),
	    scope_name(S(e, "scope")), S(e, "reason"), *ex ? "expires " :
	    "never expires", ex);
	if (json_is_true(json_object_get(r, "replaced")))
		printf("(replaced the entry that was there)\n");
	json_decref(r);
	return 0;
}

static int
cmd_remove(const struct opts *o, const char *arg)
{
	char	 addr[MAILADDR_MAX + 1];
	json_t	*r;

	norm_arg(arg, addr, sizeof(addr));
	r = to_bouncd(json_pack("{s:s, s:s, s:s}", "cmd",
	    "suppression.remove", "addr", addr, "scope",
	    scope_arg(o->scope)));
	if (r == NULL)
		return 1;
	if (as_json)
		print_json(r);
	else if (json_is_true(json_object_get(r, "removed")))
		printf("removed %s (%s)\n", addr, scope_name(S(r, "scope")));
	else
		printf("%s was not suppressed (%s)\n", addr,
		    scope_name(S(r, "scope")));
	json_decref(r);
	return 0;
}

/* --- import ------------------------------------------------------------ */

struct importer {
	const char	*name;		/* for messages */
	json_t		*batch;		/* entries to send */
	unsigned long	*lines;		/* their line numbers */
	size_t		 bytes;		/* rough JSON size of the batch */
	unsigned long	 records, added, rejected;
	json_t		*errors;	/* with --json */
	bool		 failed;	/* bouncd refused or went away */
};

static void
import_reject(struct importer *im, unsigned long line, const char *why)
{
	im->rejected++;
	if (!as_json)
		fprintf(stderr, "%s:%lu: %s\n", im->name, line, why);
	else if (json_array_size(im->errors) < JSON_ERRORS_MAX)
		json_array_append_new(im->errors, json_pack("{s:I, s:s}",
		    "line", (json_int_t)line, "error", why));
}

/* import_send - the batch to bouncd; its rejections by line */
static void
import_send(struct importer *im)
{
	json_t		*r, *e;
	size_t		 i, n = json_array_size(im->batch);
	json_int_t	 more;

	if (n == 0 || im->failed)
		return;
	r = to_bouncd(json_pack("{s:s, s:O}", "cmd", "suppression.import",
	    "entries", im->batch));
	json_array_clear(im->batch);
	im->bytes = 0;
	if (r == NULL) {
		im->failed = true;
		return;
	}
	im->added += (unsigned long)json_integer_value(json_object_get(r,
	    "added"));
	json_array_foreach(json_object_get(r, "errors"), i, e) {
		json_int_t x = json_integer_value(json_object_get(e,
		    "index"));

		if (x >= 0 && (size_t)x < n)
			import_reject(im, im->lines[x], S(e, "error"));
	}
	/* bouncd names only the first few of the ones it rejected. */
	more = json_integer_value(json_object_get(r, "rejected")) -
	    (json_int_t)json_array_size(json_object_get(r, "errors"));
	if (more > 0)
		im->rejected += (unsigned long)more;
	json_decref(r);
}

static void
add_field(json_t *o, const char *k, const char *v, size_t *bytes)
{
	if (*v == '\0')
		return;
	json_object_set_new(o, k, json_string(v));
	/* Escapes at most double a string; keys and quoting on top. */
	*bytes += strlen(v) * 2 + 16;
}

/* import_add - one good row into the batch, sent when full */
static void
import_add(struct importer *im, struct supp_entry *e, unsigned long line)
{
	const char	*why;
	json_t		*o;

	if (*e->reason == '\0')
		tern_strlcpy(e->reason, "import", sizeof(e->reason));
	if (*e->source == '\0')
		tern_strlcpy(e->source, "import", sizeof(e->source));
	if (supp_entry_check(e, &why) == -1) {
		import_reject(im, line, why);
		return;
	}
	if (e->expires != 0 && e->expires <= (uint64_t)time(NULL)) {
		import_reject(im, line, "expires is in the past");
		return;
	}
	o = json_object();
	im->bytes += 64;
	add_field(o, "addr", e->addr, &im->bytes);
	add_field(o, "scope", e->scope, &im->bytes);
	add_field(o, "reason", e->reason, &im->bytes);
	add_field(o, "source", e->source, &im->bytes);
	add_field(o, "note", e->note, &im->bytes);
	if (e->created != 0)
		json_object_set_new(o, "created", json_integer(
		    (json_int_t)e->created));
	if (e->expires != 0)
		json_object_set_new(o, "expires", json_integer(
		    (json_int_t)e->expires));
	im->lines[json_array_size(im->batch)] = line;
	json_array_append_new(im->batch, o);
	if (json_array_size(im->batch) >= BATCH_MAX ||
	    im->bytes >= BATCH_BYTES)
		import_send(im);
}

static void
import_report(struct importer *im)
{
	json_t *r;

	if (!as_json) {
		printf("%s: %lu records, %lu imported, %lu rejected%s\n",
		    im->name, im->records, im->added, im->rejected,
		    im->failed ? "; stopped: bouncd did not take the rest" :
		    "");
		return;
	}
	r = json_pack("{s:s, s:I, s:I, s:I, s:b, s:O, s:b}", "file",
	    im->name, "records", (json_int_t)im->records, "added",
	    (json_int_t)im->added, "rejected", (json_int_t)im->rejected,
	    "complete", !im->failed, "errors", im->errors,
	    "errors_truncated", im->rejected > json_array_size(im->errors));
	print_json(r);
	json_decref(r);
}

static int
cmd_import(const char *path)
{
	struct importer		 im;
	struct supp_csv		*c = xcalloc(1, sizeof(*c));
	struct supp_entry	 e;
	const char		*why;
	FILE			*f;
	int			 rc;

	if ((f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r")) == NULL) {
		fprintf(stderr, "tern: %s: %s\n", path, strerror(errno));
		free(c);
		return 1;
	}
	memset(&im, 0, sizeof(im));
	im.name = f == stdin ? "<stdin>" : path;
	im.batch = json_array();
	im.errors = json_array();
	im.lines = xcalloc(BATCH_MAX, sizeof(*im.lines));
	supp_csv_init(c, f);
	while (!im.failed && (rc = supp_csv_next(c, &e, &why)) != 0) {
		im.records++;
		if (rc == -1)
			import_reject(&im, c->line, why);
		else
			import_add(&im, &e, c->line);
	}
	if (ferror(f)) {
		fprintf(stderr, "tern: %s: read error\n", im.name);
		im.failed = true;
	}
	import_send(&im);
	import_report(&im);
	if (f != stdin)
		fclose(f);
	json_decref(im.batch);
	json_decref(im.errors);
	free(im.lines);
	free(c);
	return im.failed || im.rejected > 0 ? 1 : 0;
}

/* --- dispatch ---------------------------------------------------------- */

/*
 * parse_opts - options anywhere after "suppression"; the other words
 * (subcommand first) into pos.  Returns how many, -1 for too many.
 */
static int
parse_opts(int argc, char **argv, struct opts *o, char **pos, int max)
{
	static const struct option longopts[] = {
		{ "scope", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "note", required_argument, NULL, 'n' },
		{ "expires", required_argument, NULL, 'e' },
		{ "limit", required_argument, NULL, 'l' },
		{ "spool-dir", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t	 v;
	int		 ch, n = 0;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* glibc: start over; "-": words come in order */
	while ((ch = getopt_long(argc, argv, "-", longopts, NULL)) != -1) {
		switch (ch) {
		case 1:
			if (n == max)
				return -1;
			pos[n++] = optarg;
			break;
		case 's': o->scope = optarg; break;
		case 'r': o->reason = optarg; break;
		case 'n': o->note = optarg; break;
		case 'e': o->expires = optarg; break;
		case 'S': o->spool_dir = optarg; break;
		case 'j': as_json = true; break;
		case 'l':
			if (parse_u64(optarg, 0, 100000000, &v) == -1) {
				fprintf(stderr, "tern: --limit %s: a number "
				    "expected\n", optarg);
				exit(2);
			}
			o->limit = (long)v;
			o->has_limit = true;
			break;
		default:
			supp_usage();
		}
	}
	return n;
}

/* only - reject options that do not apply to this subcommand */
static void
only(const struct opts *o, bool scope, bool add, bool limit)
{
	if ((!scope && o->scope != NULL) || (!add && (o->reason != NULL ||
	    o->note != NULL || o->expires != NULL)) ||
	    (!limit && o->has_limit)) {
		fprintf(stderr, "tern: an option does not apply to this "
		    "command\n");
		supp_usage();
	}
}

/* suppression_command - argv[0] is "suppression" */
int
suppression_command(int argc, char **argv, const char *cfgpath)
{
	struct opts	 o;
	char		*pos[3];
	int		 n;

	if ((n = parse_opts(argc, argv, &o, pos, 3)) < 1)
		supp_usage();
	if (strcmp(pos[0], "add") == 0 && n == 2) {
		only(&o, true, true, false);
		return cmd_add(&o, pos[1]);
	}
	if (strcmp(pos[0], "remove") == 0 && n == 2) {
		only(&o, true, false, false);
		return cmd_remove(&o, pos[1]);
	}
	if (strcmp(pos[0], "show") == 0 && n == 2) {
		only(&o, false, false, false);
		return cmd_show(&o, cfgpath, pos[1]);
	}
	if (strcmp(pos[0], "list") == 0 && n == 1) {
		only(&o, true, false, true);
		return cmd_list(&o, cfgpath);
	}
	if (strcmp(pos[0], "import") == 0 && n == 2) {
		only(&o, false, false, false);
		return cmd_import(pos[1]);
	}
	if (strcmp(pos[0], "export") == 0 && n <= 2) {
		only(&o, false, false, false);
		return cmd_export(&o, cfgpath, n == 2 ? pos[1] : "-");
	}
	supp_usage();
	return 2;
}
