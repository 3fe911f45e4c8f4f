/*
 * ctl.c - tern's requests to bouncd: the suppression list and status.
 *
 * Purpose:      IPC_CTL_REQUEST frames carry JSON {"cmd": ...}:
 *                 suppression.add    {addr, scope, reason, note, expires}
 *                 suppression.remove {addr, scope}
 *                 suppression.import {entries: [{addr, scope, reason,
 *                                    source, created, expires, note}]}
 *                                    at most CTL_IMPORT_MAX, written in
 *                                    one transaction; the bad ones are
 *                                    counted and the first few named
 *                 status             counters, list size, event-hooks
 *               bouncd is the list's only writer, so tern's changes come
 *               here; tern reads the list itself (read-only LMDB).
 * Used by:      bouncd.
 * Trust:        the socket's mode and HELLO decide who may ask; every
 *               field is checked (type, length, address syntax, scope
 *               syntax, time range) and a bad request gets an error
 *               reply, nothing written.
 * Spool access: <spool-dir>/suppress through bd.supp (suppress.c).
 * See:          bouncd(8), tern(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bouncd.h"
#include "ctljson.h"
#include "log.h"
#include "util.h"

#define CTL_IMPORT_MAX	2000	/* entries in one import request */
#define CTL_ERRORS_MAX	20	/* rejected entries named in a reply */
#define CTL_TIME_MAX	253402300799LL	/* 9999-12-31T23:59:59Z */
#define WHY_MAX		128

static const char *const add_keys[] = {
	"cmd", "addr", "scope", "reason", "note", "expires", NULL
};
static const char *const remove_keys[] = { "cmd", "addr", "scope", NULL };
static const char *const import_keys[] = {
	"addr", "scope", "reason", "source", "created", "expires", "note",
	NULL
};

static json_t *
error_reply(const char *why)
{
	return json_pack("{s:s}", "error", why);
}

/* keys_ok - every member of o is one of names */
static bool
keys_ok(json_t *o, const char *const *names, char *why)
{
	const char	*k;
	json_t		*v;
	int		 i;

	json_object_foreach(o, k, v) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(k, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			snprintf(why, WHY_MAX, "unknown field \"%.32s\"", k);
			return false;
		}
	}
	return true;
}

/* get_str - optional string member into dst (def when absent) */
static bool
get_str(json_t *o, const char *key, char *dst, size_t sz, const char *def,
    char *why)
{
	json_t		*v = json_object_get(o, key);
	const char	*s;
	size_t		 n;

	if (v == NULL || json_is_null(v)) {
		tern_strlcpy(dst, def, sz);
		return true;
	}
	if (!json_is_string(v)) {
		snprintf(why, WHY_MAX, "%s must be a string", key);
		return false;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= sz || strlen(s) != n) {
		snprintf(why, WHY_MAX, n >= sz ? "%s too long" :
		    "%s contains NUL", key);
		return false;
	}
	memcpy(dst, s, n + 1);
	return true;
}

/* get_time - optional unix time member (0 when absent) */
static bool
get_time(json_t *o, const char *key, uint64_t *t, char *why)
{
	json_t		*v = json_object_get(o, key);
	json_int_t	 i;

	*t = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
	    i > CTL_TIME_MAX) {
		snprintf(why, WHY_MAX, "%s must be unix seconds", key);
		return false;
	}
	*t = (uint64_t)i;
	return true;
}

/*
 * entry_from - a request's entry, checked; reason and source default
 * as given.  False with why.
 */
static bool
entry_from(json_t *o, const char *const *keys, const char *reason,
    const char *source, struct supp_entry *e, char *why)
{
	char		 raw[MAILADDR_MAX + 8];
	const char	*w;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o)) {
		snprintf(why, WHY_MAX, "entry must be an object");
		return false;
	}
	if (!keys_ok(o, keys, why) ||
	    !get_str(o, "addr", raw, sizeof(raw), "", why) ||
	    !get_str(o, "scope", e->scope, sizeof(e->scope), "", why) ||
	    !get_str(o, "reason", e->reason, sizeof(e->reason), reason, why) ||
	    !get_str(o, "source", e->source, sizeof(e->source), source, why) ||
	    !get_str(o, "note", e->note, sizeof(e->note), "", why) ||
	    !get_time(o, "created", &e->created, why) ||
	    !get_time(o, "expires", &e->expires, why))
		return false;
	if (*raw == '\0' || supp_norm_addr(raw, e->addr, sizeof(e->addr)) ==
	    -1) {
		snprintf(why, WHY_MAX, *raw ? "bad address" : "addr missing");
		return false;
	}
	if (*e->reason == '\0')
		tern_strlcpy(e->reason, reason, sizeof(e->reason));
	if (*e->source == '\0')
		tern_strlcpy(e->source, source, sizeof(e->source));
	if (e->expires != 0 && e->expires <= (uint64_t)time(NULL)) {
		snprintf(why, WHY_MAX, "expires is in the past");
		return false;
	}
	if (supp_entry_check(e, &w) == -1) {
		snprintf(why, WHY_MAX, "%s", w);
		return false;
	}
	return true;
}

static json_t *
entry_json(const struct supp_entry *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "addr",
	    e->addr, "scope", e->scope, "reason", e->reason, "source",
	    e->source, "created", (json_int_t)e->created, "expires",
	    (json_int_t)e->expires, "note", e->note);
}

static json_t *
do_add(json_t *req)
{
	struct supp_entry	 e, old;
	char			 why[WHY_MAX];
	int			 had;

	if (!entry_from(req, add_keys, "manual", "manual", &e, why))
		return error_reply(why);
	had = supp_get(bd.supp, e.scope, e.addr, &old);
	e.created = (uint64_t)time(NULL);
	if (supp_put(bd.supp, &e) == -1)
		return error_reply("write failed (see bouncd's log)");
	bd.n_ctl_changes++;
	log_info("suppression: added %s%s%s by tern", e.addr, *e.scope ?
	    " in " : "", e.scope);
	return json_pack("{s:b, s:b, s:o}", "ok", 1, "replaced", had == 1,
	    "entry", entry_json(&e));
}

static json_t *
do_remove(json_t *req)
{
	char	 raw[MAILADDR_MAX + 8], addr[MAILADDR_MAX + 1];
	char	 scope[SUPP_SCOPE_MAX + 1], why[WHY_MAX];
	int	 rc;

	if (!keys_ok(req, remove_keys, why) ||
	    !get_str(req, "addr", raw, sizeof(raw), "", why) ||
	    !get_str(req, "scope", scope, sizeof(scope), "", why))
		return error_reply(why);
	if (supp_norm_addr(raw, addr, sizeof(addr)) == -1)
		return error_reply(*raw ? "bad address" : "addr missing");
	if (!supp_scope_ok(scope))
		return error_reply("bad scope (\"\", job:ID or pool:NAME)");
	if ((rc = supp_del(bd.supp, scope, addr)) == -1)
		return error_reply("write failed (see bouncd's log)");
	if (rc == 1) {
		bd.n_ctl_changes++;
		log_info("suppression: removed %s%s%s by tern", addr,
		    *scope ? " from " : "", scope);
	}
	return json_pack("{s:b, s:b, s:s, s:s}", "ok", 1, "removed", rc == 1,
	    "addr", addr, "scope", scope);
}

static json_t *
do_import(json_t *req)
{
	json_t			*list = json_object_get(req, "entries");
	json_t			*errs, *it;
	struct supp_entry	*v;
	char			 why[WHY_MAX];
	size_t			 i, n, good = 0, bad = 0;

	if (json_object_size(req) != 2 || !json_is_array(list))
		return error_reply("import takes {\"entries\": [...]} only");
	if ((n = json_array_size(list)) == 0 || n > CTL_IMPORT_MAX)
		return error_reply("import takes 1 to 2000 entries");
	v = xcalloc(n, sizeof(*v));
	errs = json_array();
	json_array_foreach(list, i, it) {
		if (entry_from(it, import_keys, "import", "import", &v[good],
		    why)) {
			good++;
			continue;
		}
		if (bad++ < CTL_ERRORS_MAX)
			json_array_append_new(errs, json_pack("{s:I, s:s}",
			    "index", (json_int_t)i, "error", why));
	}
	if (good > 0 && supp_put_many(bd.supp, v, (unsigned)good) == -1) {
		free(v);
		json_decref(errs);
		return error_reply("write failed, nothing imported (see "
		    "bouncd's log)");
	}
	free(v);
	if (good > 0) {
		bd.n_ctl_changes++;
		log_info("suppression: imported %zu entries by tern (%zu "
		    "rejected)", good, bad);
	}
	return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "added",
	    (json_int_t)good, "rejected", (json_int_t)bad, "errors", errs);
}

static json_t *
do_status(void)
{
	json_t *o;

	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "daemon", "bouncd", "pid", (json_int_t)getpid(),
	    "n_msgs", (json_int_t)bd.n_msgs, "n_dsn", (json_int_t)bd.n_dsn,
	    "n_arf", (json_int_t)bd.n_arf,
	    "n_unparsed", (json_int_t)bd.n_unparsed,
	    "n_rows", (json_int_t)bd.n_rows,
	    "n_suppressed", (json_int_t)bd.n_suppressed,
	    "n_ctl_changes", (json_int_t)bd.n_ctl_changes);
	json_object_set_new(o, "suppressed", bd.supp != NULL ?
	    json_integer((json_int_t)supp_count(bd.supp)) : json_null());
	hooks_status(o);
	return o;
}

/* bouncd_ctl - one request from tern, one reply */
int
bouncd_ctl(struct ipc_peer *p, struct ipc_msg *m)
{
	json_t		*req, *rep = NULL;
	const char	*cmd;

	if ((req = ctl_parse(m, &cmd)) == NULL) {
		ctl_reply(p, m->hdr.reqid, error_reply("bad request: JSON "
		    "object with a \"cmd\" string expected"));
		return 0;
	}
	if (strcmp(cmd, "status") == 0)
		rep = do_status();
	else if (strncmp(cmd, "suppression.", 12) == 0 && bd.supp == NULL)
		rep = error_reply("the suppression list is not open (see "
		    "bouncd's log)");
	else if (strcmp(cmd, "suppression.add") == 0)
		rep = do_add(req);
	else if (strcmp(cmd, "suppression.remove") == 0)
		rep = do_remove(req);
	else if (strcmp(cmd, "suppression.import") == 0)
		rep = do_import(req);
	json_decref(req);
	ctl_reply(p, m->hdr.reqid, rep);
	return 0;
}
