/*
 * classify.c - tern classify FILE...: what a bounce or complaint says.
 *
 * Purpose:      reads each file (a whole message, at most DSN_INPUT_MAX
 *               bytes), parses it with dsn_parse and prints one line per
 *               failed recipient: file, recipient, status, category,
 *               diagnostic; for an ARF report the feedback type, the
 *               original recipient and the source IP.  --json prints
 *               one JSON array of per-file objects.  The categories use
 *               the bounce-category-patterns of tern.yaml when it loads,
 *               else the built-in table.  Exit 1 when a file yields
 *               nothing (or cannot be read), else 0.
 * Used by:      operators testing rules, t/95-classify.t,
 *               bench/bounce-agree.sh.
 * Trust:        the files are hostile mail; dsn_parse bounds everything.
 * Spool access: none.
 * See:          tern(1), common/dsnparse.h, common/bouncecat.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bouncecat.h"
#include "config.h"
#include "dsnparse.h"
#include "tern.h"
#include "util.h"

/* slurp - up to DSN_INPUT_MAX bytes of path, or NULL */
static char *
slurp(const char *path, size_t *n)
{
	FILE	*f = fopen(path, "rb");
	char	*b;

	if (f == NULL)
		return NULL;
	b = xmalloc(DSN_INPUT_MAX);
	*n = fread(b, 1, DSN_INPUT_MAX, f);
	fclose(f);
	return b;
}

static json_t *
to_json(const char *file, const struct dsn_result *res)
{
	json_t	*o, *a = json_array();
	size_t	 i;

	for (i = 0; i < res->n; i++) {
		const struct dsn_report *r = &res->r[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, "
		    "s:s, s:b}", "recipient", r->rcpt, "status", r->status,
		    "category", r->category, "diagnostic", r->diag,
		    "remote_mta", r->rmta, "action", r->action, "heuristic",
		    r->heuristic));
	}
	o = json_pack("{s:s, s:o, s:s, s:s, s:s}", "file", file, "reports", a,
	    "message_id", res->msgid, "x_job", res->xjob, "envelope_from",
	    res->env_from);
	if (res->arf.present)
		json_object_set_new(o, "arf", json_pack("{s:s, s:s, s:s, s:s}",
		    "feedback_type", res->arf.type, "original_recipient",
		    res->arf.orig_rcpt, "source_ip", res->arf.source_ip,
		    "user_agent", res->arf.user_agent));
	return o;
}

static void
print_text(const char *file, const struct dsn_result *res)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		printf("%s\t%s\t%s\t%s\t%s\n", file, res->r[i].rcpt,
		    res->r[i].status, res->r[i].category, res->r[i].diag);
	if (res->arf.present)
		printf("%s\tarf\t%s\t%s\t%s\n", file, res->arf.type,
		    res->arf.orig_rcpt, res->arf.source_ip);
}

/* classify_one - one file; false when it yields nothing */
static bool
classify_one(const char *path, const struct bcat_table *t, json_t *all)
{
	struct dsn_result	*res = xcalloc(1, sizeof(*res));
	size_t			 n, got;
	char			*b;

	if ((b = slurp(path, &n)) == NULL) {
		fprintf(stderr, "tern: %s: cannot read\n", path);
		free(res);
		return false;
	}
	got = dsn_parse(b, n, res);
	free(b);
	dsn_categorize(res, t);
	if (all != NULL)
		json_array_append_new(all, to_json(path, res));
	else
		print_text(path, res);
	if (got == 0)
		fprintf(stderr, "tern: %s: no report found\n", path);
	free(res);
	return got != 0;
}

/*
 * table - the configured patterns when tern.yaml loads, else the
 * built-in ones, saying so: an operator testing patterns must know
 * they are not the ones being used
 */
static struct bcat_table *
table(const char *cfgpath)
{
	struct cfg_errors	 err = { 0 };
	struct tern_config	*cfg = config_load_file(cfgpath, &err);
	struct tern_config	 none;
	struct bcat_table	*t;
	const char		*why;

	if (cfg == NULL && access(cfgpath, F_OK) == 0) {
		config_errors_print(&err, STDERR_FILENO);
		fprintf(stderr, "tern: %s does not load; classifying with the "
		    "built-in bounce-category-patterns\n", cfgpath);
	}
	config_errors_free(&err);
	memset(&none, 0, sizeof(none));
	t = bcat_compile(cfg != NULL ? cfg : &none, &why);
	if (cfg != NULL)
		config_free(cfg);
	if (t == NULL)
		t = bcat_compile(&none, &why);
	return t;
}

int
classify_command(int argc, char **argv, const char *cfgpath)
{
	struct bcat_table	*t;
	json_t			*all = NULL;
	int			 i, rc = 0, nfiles = 0;
	bool			 json = as_json;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = true;
	if ((t = table(cfgpath)) == NULL) {
		fprintf(stderr, "tern: cannot compile bounce categories\n");
		return 1;
	}
	if (json)
		all = json_array();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			continue;
		nfiles++;
		if (!classify_one(argv[i], t, all))
			rc = 1;
	}
	if (all != NULL) {
		char *s = json_dumps(all, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
		json_decref(all);
	}
	bcat_free(t);
	if (nfiles == 0) {
		fprintf(stderr, "usage: tern classify [--json] FILE...\n");
		return 2;
	}
	return rc;
}
