/*
 * tern.c - the command line: check-config, show status|queues, reload.
 *
 * Purpose:      what pmta(1) is to PowerMTA.  Talks to ternd.sock and
 *               queued.sock in run-dir with IPC_CTL_REQUEST frames whose
 *               payload is JSON; prints tables, or the JSON with --json.
 * Used by:      administrators, tests, make demo.
 * Trust:        replies are parsed with jansson; a daemon that is down
 *               is reported, not guessed at.
 * Spool access: none.
 * See:          tern(1).
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "tern.h"
#include "units.h"

#define DEFAULT_CONFIG	"/etc/tern/tern.yaml"
#define CTL_TIMEOUT_MS	10000

static const char	*cfgpath = DEFAULT_CONFIG;
bool			 as_json;
char			*run_dir;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tern [-f tern.yaml] [--json] command\n"
	    "commands:\n"
	    "  check-config          validate the file (exit 0 or 1)\n"
	    "  show status           daemons, configuration in force, totals\n"
	    "  show queues [PATTERN] queues (domain/vmta) and their sizes;\n"
	    "                        PATTERN as in pmta: */mta1, gmail.com/*\n"
	    "  show topqueues [--maxitems=N]  the busiest queues\n"
	    "  show vmtas            VirtualMTAs: connections, limits, queues\n"
	    "  show domains [PATTERN] destination domains across VirtualMTAs\n"
	    "  show shaping SEL      effective limits, their origin, mode,\n"
	    "                        holds, warm-up of the queues SEL matches\n"
	    "  pause queue SEL       hold the queues' mail until resumed\n"
	    "  resume queue SEL      end pause, suspension, warm-up pause\n"
	    "  set queue --mode=backoff|normal SEL\n"
	    "  reload                validate, then apply without a restart\n"
	    "  classify FILE...      recipient, status, category of bounces\n"
	    "  suppression add|remove|show|list|import|export ...\n"
	    "                        the suppression list (tern suppression "
	    "for more)\n"
	    "SEL is DOMAIN/VMTA with wildcards: gmail.com/*, */mta1\n");
	exit(2);
}

void
need_run_dir(void)
{
	struct cfg_errors	 err = { 0 };
	struct tern_config	*cfg;

	if (run_dir != NULL)
		return;
	if ((cfg = config_load_file(cfgpath, &err)) != NULL) {
		run_dir = xstrdup(cfg->run_dir);
		config_free(cfg);
		return;
	}
	config_errors_free(&err);
	/* An invalid file must not stop us reaching the running daemons. */
	if ((run_dir = config_peek_run_dir(cfgpath)) == NULL) {
		fprintf(stderr, "tern: cannot find run-dir in %s\n", cfgpath);
		exit(1);
	}
}

json_t *
request(const char *sock, const char *cmd)
{
	return request_obj(sock, json_pack("{s:s}", "cmd", cmd));
}

/* request_obj - one JSON request (consumed) to one daemon socket */
json_t *
request_obj(const char *sock, json_t *req)
{
	char		 path[1024], *body;
	struct ipc_out	 o;
	struct ipc_hdr	 h;
	uint8_t		*payload;
	size_t		 len;
	int		 fd;
	json_t		*j;
	json_error_t	 jerr;
	struct ipc_msg	 m;
	const uint8_t	*data;
	size_t		 dlen;

	need_run_dir();
	snprintf(path, sizeof(path), "%s/%s", run_dir, sock);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if ((fd = ipc_connect_unix(path)) == -1) {
		free(body);
		return NULL;
	}
	ipc_out_begin(&o, IPC_HELLO, 0);
	ipc_put_u8(&o, ROLE_CTL);
	ipc_put_u32(&o, (uint32_t)getpid());
	if (ipc_sync_request(fd, &o, &h, &payload, &len, CTL_TIMEOUT_MS) ==
	    -1 || h.type != IPC_HELLO_OK) {
		close(fd);
		free(body);
		return NULL;
	}
	free(payload);
	ipc_out_begin(&o, IPC_CTL_REQUEST, 1);
	ipc_put_blob(&o, body, strlen(body));
	free(body);
	if (ipc_sync_request(fd, &o, &h, &payload, &len, CTL_TIMEOUT_MS) ==
	    -1 || h.type != IPC_CTL_REPLY) {
		close(fd);
		return NULL;
	}
	close(fd);
	memset(&m, 0, sizeof(m));
	m.data = payload;
	m.len = len;
	if (ipc_get_blob(&m, &data, &dlen) == -1 || ipc_get_end(&m) == -1) {
		free(payload);
		return NULL;
	}
	j = json_loadb((const char *)data, dlen, 0, &jerr);
	free(payload);
	return j;
}

const char *
ago(json_int_t t, char *buf, size_t sz)
{
	time_t now = time(NULL);

	if (t <= 0)
		return "-";
	units_fmt_duration(now > t ? (uint64_t)(now - t) : 0, buf, sz);
	return buf;
}

static const char *
when(json_int_t t, char *buf, size_t sz)
{
	time_t	  tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static int
cmd_check_config(void)
{
	struct cfg_errors	 err = { 0 };
	struct tern_config	*cfg;

	if ((cfg = config_load_file(cfgpath, &err)) == NULL) {
		config_errors_print(&err, STDOUT_FILENO);
		config_errors_free(&err);
		return 1;
	}
	printf("config OK\n");
	config_free(cfg);
	return 0;
}

static void
print_status(json_t *t, json_t *q)
{
	char	 b1[64], b2[64];
	json_t	*c;
	size_t	 i;

	if (t == NULL)
		printf("ternd     not running (no answer on %s/ternd.sock)\n",
		    run_dir);
	else {
		printf("ternd     pid %lld, up %s, config %.12s loaded %s "
		    "from %s\n",
		    json_integer_value(json_object_get(t, "pid")),
		    ago(json_integer_value(json_object_get(t, "started")), b1,
		    sizeof(b1)),
		    json_string_value(json_object_get(t, "config_hash")),
		    when(json_integer_value(json_object_get(t,
		    "config_loaded")), b2, sizeof(b2)),
		    json_string_value(json_object_get(t, "config_path")));
		json_array_foreach(json_object_get(t, "children"), i, c)
			printf("  %-8s pid %lld, %s, restarts %lld, config "
			    "%.12s\n",
			    json_string_value(json_object_get(c, "name")),
			    json_integer_value(json_object_get(c, "pid")),
			    json_string_value(json_object_get(c, "state")),
			    json_integer_value(json_object_get(c, "restarts")),
			    json_string_value(json_object_get(c,
			    "config_hash")));
	}
	if (q == NULL) {
		printf("queued    not answering\n");
		return;
	}
#define QI(k) json_integer_value(json_object_get(q, k))
	printf("queue     %lld messages, %lld recipients, %lld bytes\n",
	    QI("messages"), QI("recipients"), QI("bytes"));
	printf("since start: received %lld messages (%lld bytes) in %lld "
	    "commit batches; recovered %lld; aborted %lld; corrupt %lld\n",
	    QI("received"), QI("received_bytes"), QI("commit_batches"),
	    QI("recovered"), QI("aborted"), QI("corrupt"));
	printf("recipients since start: delivered %lld, bounced %lld "
	    "(%lld expired), deferred %lld times\n", QI("delivered"),
	    QI("bounced"), QI("expired"), QI("deferred"));
#undef QI
}

/* print_bouncd - the processors, the suppression list, the hooks */
static void
print_bouncd(json_t *b, json_t *q)
{
#define BI(k) (long long)json_integer_value(json_object_get(b, k))
	json_t	*h;
	size_t	 i;

	if (b == NULL) {
		printf("bouncd: not answering\n");
		return;
	}
	printf("bouncd: %lld messages read (%lld bounces, %lld complaints, "
	    "%lld unreadable), %lld suppressed, list of %lld; queued dropped "
	    "%lld suppressed recipients, made %lld reports\n", BI("n_msgs"),
	    BI("n_dsn"), BI("n_arf"), BI("n_unparsed"), BI("n_suppressed"),
	    BI("suppressed"),
	    (long long)json_integer_value(json_object_get(q, "suppressed")),
	    (long long)json_integer_value(json_object_get(q, "ndr_made")));
	json_array_foreach(json_object_get(b, "hooks"), i, h)
		printf("  hook %s: %lld events posted, %lld failures%s%s\n",
		    json_string_value(json_object_get(h, "name")),
		    (long long)json_integer_value(json_object_get(h, "posted")),
		    (long long)json_integer_value(json_object_get(h,
		    "failures")), json_string_value(json_object_get(h,
		    "last_error")) ? ", last error: " : "",
		    json_string_value(json_object_get(h, "last_error")) ?
		    json_string_value(json_object_get(h, "last_error")) : "");
#undef BI
}

static int
cmd_show_status(void)
{
	json_t	*t = request("ternd.sock", "status");
	json_t	*q = request("queued.sock", "status");
	json_t	*b = request("bouncd.sock", "status");
	int	 rc = t != NULL && q != NULL ? 0 : 1;

	if (as_json) {
		json_t *all = json_pack("{s:o?, s:o?, s:o?}", "ternd", t,
		    "queued", q, "bouncd", b);
		char *s = json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(all);
		return rc;
	}
	print_status(t, q);
	print_bouncd(b, q);
	json_decref(t);
	json_decref(q);
	json_decref(b);
	return rc;
}

/* filter - keep the queues whose name matches a pmta-style pattern */
static void
filter(json_t *r, const char *pat)
{
	json_t	*all = json_object_get(r, "queues"), *keep = json_array(), *q;
	size_t	 i;

	json_array_foreach(all, i, q)
		if (fnmatch(pat, json_string_value(json_object_get(q,
		    "queue")), FNM_CASEFOLD) == 0)
			json_array_append(keep, q);
	json_object_set_new(r, "queues", keep);
}

static int
cmd_show_queues(const char *pat)
{
	json_t	*r = request("queued.sock", "queues"), *q;
	char	 b[64];
	size_t	 i;

	if (r == NULL) {
		fprintf(stderr, "tern: queued is not answering on %s/"
		    "queued.sock\n", run_dir);
		return 1;
	}
	if (pat != NULL)
		filter(r, pat);
	shaping_merge(r);
	if (as_json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(r);
		return 0;
	}
	printf("%-32s %7s %6s %10s %7s %7s %6s %7s %-9s %-20s %s\n", "QUEUE",
	    "RCPTS", "MSGS", "BYTES", "DEFER", "ACTIVE", "OLDEST", "NEXT",
	    "MODE", "ROLLUP", "LAST ERROR");
	json_array_foreach(json_object_get(r, "queues"), i, q) {
		char	 nb[32];
		json_int_t next = json_integer_value(json_object_get(q,
		    "next_attempt"));
		time_t	 now = time(NULL);

		if (next <= 0)
			tern_strlcpy(nb, "-", sizeof(nb));
		else
			units_fmt_duration(next > now ? (uint64_t)(next - now) :
			    0, nb, sizeof(nb));
		printf("%-32s %7lld %6lld %10lld %7lld %7lld %6s %7s %-9s "
		    "%-20s %.60s\n",
		    json_string_value(json_object_get(q, "queue")),
		    json_integer_value(json_object_get(q, "rcpts")),
		    json_integer_value(json_object_get(q, "msgs")),
		    json_integer_value(json_object_get(q, "bytes")),
		    json_integer_value(json_object_get(q, "deferred")),
		    json_integer_value(json_object_get(q, "active_jobs")),
		    ago(json_integer_value(json_object_get(q, "oldest")), b,
		    sizeof(b)), nb,
		    json_string_value(json_object_get(q, "mode")),
		    *json_string_value(json_object_get(q, "rollup")) ?
		    json_string_value(json_object_get(q, "rollup")) : "-",
		    json_string_value(json_object_get(q, "last_error")));
	}
	if (json_is_true(json_object_get(r, "truncated")))
		printf("(list truncated)\n");
	json_decref(r);
	return 0;
}

/* children_at - do all daemons report this configuration hash? */
static bool
children_at(const char *hash)
{
	json_t	*t = request("ternd.sock", "status"), *c;
	size_t	 i;
	bool	 all = t != NULL;

	if (t == NULL)
		return false;
	json_array_foreach(json_object_get(t, "children"), i, c)
		if (strcmp(json_string_value(json_object_get(c,
		    "config_hash")), hash) != 0)
			all = false;
	json_decref(t);
	return all;
}

static int
cmd_reload(void)
{
	struct cfg_errors	 err = { 0 };
	struct tern_config	*cfg;
	json_t			*r;
	const char		*hash;
	int			 i;

	/* Validate here first: errors go to the operator's terminal. */
	if ((cfg = config_load_file(cfgpath, &err)) == NULL) {
		config_errors_print(&err, STDERR_FILENO);
		config_errors_free(&err);
		fprintf(stderr, "tern: not reloaded; the running "
		    "configuration stays in force\n");
		return 1;
	}
	config_free(cfg);
	if ((r = request("ternd.sock", "reload")) == NULL) {
		fprintf(stderr, "tern: ternd is not answering\n");
		return 1;
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		fprintf(stderr, "%s", json_string_value(json_object_get(r,
		    "errors")));
		fprintf(stderr, "tern: not reloaded; the running "
		    "configuration stays in force\n");
		json_decref(r);
		return 1;
	}
	hash = json_string_value(json_object_get(r, "config_hash"));
	for (i = 0; i < 50 && !children_at(hash); i++)
		usleep(100000);
	printf("reloaded: configuration %.12s in force%s\n", hash,
	    i == 50 ? " (some daemons have not confirmed yet)" : "");
	json_decref(r);
	return 0;
}

int	tern_main(int, char **);

int
tern_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'f' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	log_init("tern", 0);
	/* Validation here is the operator's: key files must be readable. */
	config_check_files = true;
	while ((ch = getopt_long(argc, argv, "+f:jr:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': cfgpath = optarg; break;
		case 'j': as_json = true; break;
		case 'r': run_dir = xstrdup(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	/* Allow --json after the command too, as pmta users type it. */
	while (argc > 0 && strcmp(argv[argc - 1], "--json") == 0) {
		as_json = true;
		argc--;
	}
	if (argc == 1 && strcmp(argv[0], "check-config") == 0)
		return cmd_check_config();
	if (argc == 1 && strcmp(argv[0], "reload") == 0)
		return cmd_reload();
	if (argc == 3 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "queues") == 0)
		return cmd_show_queues(argv[2]);
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		if (strcmp(argv[1], "status") == 0)
			return cmd_show_status();
		if (strcmp(argv[1], "queues") == 0)
			return cmd_show_queues(NULL);
	}
	if (argc >= 1 && strcmp(argv[0], "classify") == 0)
		return classify_command(argc, argv, cfgpath);
	if (argc >= 1 && strcmp(argv[0], "suppression") == 0)
		return suppression_command(argc, argv, cfgpath);
	if (argc >= 1) {
		int rc = shaping_command(argc, argv);

		if (rc != -1)
			return rc;
	}
	usage();
	return 2;
}
