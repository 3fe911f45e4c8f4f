/*
 * ctl.c - shaping commands from tern(1), as JSON.
 *
 * Purpose:      IPC_CTL_REQUEST {"cmd": ..., "sel": "DOMAIN/VMTA",
 *               "mode": ...}; commands:
 *                 status    the daemon
 *                 queues    every shaping queue, brief (for show queues)
 *                 vmtas     per VirtualMTA: connections, limits, warm-up
 *                 shaping   matched queues in full: effective limits and
 *                           the block each came from, mode, holds,
 *                           warm-up, counters
 *                 pause / resume / mode   act on the matched queues and
 *                           list them (tern then asks queued to offer
 *                           their held mail at once)
 *               A selector is DOMAIN/VMTA with fnmatch(3) wildcards, as
 *               in pmta; DOMAIN matches a queue's key or any domain seen
 *               in it.  A selector without wildcards names a queue even
 *               before mail went to it, so an empty queue can be paused.
 * Used by:      shaperd.
 * Trust:        the socket is 0660, uids are checked at HELLO; the JSON
 *               is parsed by jansson; replies are capped in size.
 * Spool access: none.
 * See:          tern(1).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctljson.h"
#include "log.h"
#include "shaperd.h"

#define CTL_ITEMS_MAX	500	/* keeps a reply under IPC_MAXSIZE */

struct sel {
	char	 dom[SKEY_MAX + 1];
	char	 vmta[CFG_NAME_MAX + 1];
	bool	 wild;
};

static const char *
mode_name(enum smode m)
{
	return m == SM_BACKOFF ? "backoff" : "normal";
}

static const char *
hold_name(enum shold h)
{
	static const char *n[] = { "", "paused", "suspended",
	    "warm-up volume", "warm-up paused" };

	return n[h];
}

/* sel_parse - "DOMAIN/VMTA"; a bare "DOMAIN" means every VirtualMTA */
static int
sel_parse(const char *s, struct sel *sel)
{
	const char *sl;

	if (s == NULL || *s == '\0' || strlen(s) > SQNAME_MAX)
		return -1;
	if ((sl = strrchr(s, '/')) == NULL) {
		tern_strlcpy(sel->dom, s, sizeof(sel->dom));
		tern_strlcpy(sel->vmta, "*", sizeof(sel->vmta));
	} else {
		if (sl == s || sl[1] == '\0' ||
		    (size_t)(sl - s) > SKEY_MAX || strlen(sl + 1) > CFG_NAME_MAX)
			return -1;
		memcpy(sel->dom, s, (size_t)(sl - s));
		sel->dom[sl - s] = '\0';
		tern_strlcpy(sel->vmta, sl + 1, sizeof(sel->vmta));
	}
	sel->wild = strpbrk(s, "*?[") != NULL || sl == NULL;
	return 0;
}

static bool
sel_match(const struct sel *sel, const struct squeue *q)
{
	unsigned i;

	if (fnmatch(sel->vmta, q->vmta, FNM_CASEFOLD) != 0)
		return false;
	if (fnmatch(sel->dom, q->key, FNM_CASEFOLD) == 0)
		return true;
	for (i = 0; i < q->ndomains; i++)
		if (fnmatch(sel->dom, q->domains[i], FNM_CASEFOLD) == 0)
			return true;
	return false;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(struct squeue * const *)a)->name,
	    (*(struct squeue * const *)b)->name);
}

/*
 * selected - the matched queues, sorted; with create, a selector
 * without wildcards makes its queue (for pause before any mail).
 */
static struct squeue **
selected(const struct sel *sel, bool create, size_t *n)
{
	struct squeue	**v = xcalloc(sd.queues.count + 2, sizeof(*v));
	struct hmap_ent	 *e;
	size_t		  it;

	*n = 0;
	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;)
		if (sel == NULL || sel_match(sel, e->val))
			v[(*n)++] = e->val;
	if (*n == 0 && create && sel != NULL && !sel->wild &&
	    config_vmta(sd.d.cfg, sel->vmta) != NULL) {
		char low[SKEY_MAX + 1];

		tern_strlcpy(low, sel->dom, sizeof(low));
		str_lower(low);
		if ((v[0] = sq_get(sel->vmta, low, true)) != NULL)
			*n = 1;
	}
	qsort(v, *n, sizeof(*v), by_name);
	return v;
}

static json_t *
rate_json(const struct rate *r)
{
	char b[64];

	if (r->count == 0 || r->period == 0)
		return json_string("unlimited");
	snprintf(b, sizeof(b), "%llu/%llus", (unsigned long long)r->count,
	    (unsigned long long)r->period);
	return json_string(b);
}

static void
lim(json_t *o, const char *name, json_t *val, const struct dom_policy *p,
    uint64_t bit)
{
	json_object_set_new(o, name, json_pack("{s:o, s:s}", "value", val,
	    "from", config_policy_from(p, bit)));
}

static json_t *
limits_json(const struct squeue *q, const struct dom_policy *p)
{
	json_t	*o = json_object();
	char	 b[256];
	unsigned i;

	lim(o, "max-smtp-out", json_integer((json_int_t)p->max_smtp_out), p,
	    DOM_MAXOUT);
	lim(o, "max-msg-rate", rate_json(&p->max_msg_rate), p, DOM_MSGRATE);
	lim(o, "max-connect-rate", rate_json(&p->max_connect_rate), p,
	    DOM_CONNRATE);
	lim(o, "max-msg-per-connection", json_integer((json_int_t)
	    p->max_msg_per_connection), p, DOM_MAXPERCONN);
	lim(o, "max-rcpt-per-message", json_integer((json_int_t)
	    p->max_rcpt_per_message), p, DOM_MAXRCPT);
	lim(o, "backoff-max-msg-rate", rate_json(&p->backoff_max_msg_rate), p,
	    DOM_BORATE);
	lim(o, "backoff-max-smtp-out", json_integer((json_int_t)
	    p->backoff_max_smtp_out), p, DOM_BOMAXOUT);
	b[0] = '\0';
	for (i = 0; i < p->backoff_retry_after->n; i++) {
		char one[32];

		units_fmt_duration(p->backoff_retry_after->v[i], one,
		    sizeof(one));
		snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%s",
		    i ? "," : "", one);
	}
	lim(o, "backoff-retry-after", json_string(b), p, DOM_BORETRY);
	lim(o, "backoff-to-normal-after", json_integer((json_int_t)
	    p->backoff_to_normal_after), p, DOM_BONORMAL);
	lim(o, "backoff-to-normal-after-delivery", json_boolean(
	    p->backoff_to_normal_after_delivery), p, DOM_BONORMALDLV);
	lim(o, "smtp-pattern-list", json_string(p->smtp_pattern_list ?
	    p->smtp_pattern_list : ""), p, DOM_PATLIST);
	(void)q;
	return o;
}

static json_t *
warm_json(struct squeue *q, time_t now)
{
	const struct cfg_vmta *vm = config_vmta(sd.d.cfg, q->vmta);
	unsigned day;

	if (vm == NULL || !vm->warmup.set)
		return json_null();
	day = sq_warm_day(q, vm, now);
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:b, s:i}",
	    "day", (int)day,
	    "volume", (json_int_t)warm_volume(vm, day),
	    "sent", (json_int_t)q->warm.sent,
	    "outcomes", (json_int_t)q->warm.outcomes,
	    "bounced", (json_int_t)q->warm.bounced,
	    "complaints", (json_int_t)q->warm.complaints,
	    "paused", q->warm.paused, "pause_reason", q->warm.why,
	    "schedule_over", day > vm->warmup.ndays,
	    "days_paused", (int)q->warm.shift);
}

static json_t *
queue_json(struct squeue *q, bool full, time_t now)
{
	json_t		*o, *doms = json_array();
	char		 why[TEXT_MAX];
	time_t		 until;
	enum shold	 h = sq_hold(q, now, &until, why, sizeof(why));
	unsigned	 i;

	for (i = 0; i < q->ndomains; i++)
		json_array_append_new(doms, json_string(q->domains[i]));
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:b, s:I, s:I, "
	    "s:b, s:s, s:s, s:i}",
	    "queue", q->name, "key", q->key, "vmta", q->vmta,
	    "domains", doms, "mode", mode_name(q->mode),
	    "mode_since", (json_int_t)q->mode_since,
	    "backoff_until", (json_int_t)q->backoff_until,
	    "paused", q->paused,
	    "suspended_until", (json_int_t)(q->suspend_until > now ?
	    q->suspend_until : 0),
	    "bounce_until", (json_int_t)(q->bounce_until > now ?
	    q->bounce_until : 0),
	    "held", h != SH_NONE, "hold", hold_name(h), "hold_reason", why,
	    "connections", (int)q->conns);
	if (!full)
		return o;
	{
		const struct dom_policy *pol;

		pol = sq_policy(q);
		json_object_set_new(o, "limits", limits_json(q, pol));
	}
	json_object_set_new(o, "last_rule", json_string(q->last_rule));
	json_object_set_new(o, "last_reply", json_string(q->last_reply));
	json_object_set_new(o, "last_match", json_integer(
	    (json_int_t)q->last_match));
	json_object_set_new(o, "warmup", warm_json(q, now));
	json_object_set_new(o, "counters", json_pack("{s:I, s:I, s:I, s:I}",
	    "granted", (json_int_t)q->granted,
	    "delivered", (json_int_t)q->delivered,
	    "deferred", (json_int_t)q->deferred,
	    "bounced", (json_int_t)q->bounced));
	return o;
}

static json_t *
list(const struct sel *sel, bool full)
{
	size_t		  n, i;
	struct squeue	**v = selected(sel, false, &n);
	json_t		 *arr = json_array();
	time_t		  now = time(NULL);

	for (i = 0; i < n && i < CTL_ITEMS_MAX; i++)
		json_array_append_new(arr, queue_json(v[i], full, now));
	free(v);
	return json_pack("{s:o, s:b}", "queues", arr, "truncated",
	    n > CTL_ITEMS_MAX);
}

/* --- commands ---------------------------------------------------------- */

typedef json_t *(*cmd_fn)(json_t *req, const struct sel *);

static json_t *
c_status(json_t *req, const struct sel *sel)
{
	return json_pack("{s:s, s:i, s:I, s:s, s:I, s:i, s:b}",
	    "daemon", "shaperd", "pid", (int)getpid(),
	    "started", (json_int_t)sd.started,
	    "config_hash", sd.d.cfg->hash,
	    "config_loaded", (json_int_t)sd.d.cfg->loaded,
	    "queues", (int)sd.queues.count, "state_ok", sd.state_ok);
}

static json_t *
c_queues(json_t *req, const struct sel *sel)
{
	return list(sel, false);
}

static json_t *
c_shaping(json_t *req, const struct sel *sel)
{
	return list(sel, true);
}

static json_t *
c_vmtas(json_t *req, const struct sel *sel)
{
	const struct tern_config *cfg = sd.d.cfg;
	json_t		*arr = json_array();
	time_t		 now = time(NULL);
	unsigned	 i;

	for (i = 0; i < cfg->nvmtas; i++) {
		const struct cfg_vmta *vm = &cfg->vmtas[i];
		struct svmta *v = hmap_get(&sd.vmtas, vm->name);
		unsigned nq = 0, nb = 0, nh = 0;
		struct hmap_ent *e;
		size_t it;
		char tmp[TEXT_MAX];
		time_t until;

		for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;) {
			struct squeue *q = e->val;

			if (strcmp(q->vmta, vm->name) != 0)
				continue;
			nq++;
			nb += q->mode == SM_BACKOFF;
			nh += sq_hold(q, now, &until, tmp, sizeof(tmp)) !=
			    SH_NONE;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:i, "
		    "s:I, s:o, s:i, s:i, s:i, s:o}",
		    "vmta", vm->name, "source", vm->source_ip ? vm->source_ip :
		    "", "connected", v != NULL && v->peer != NULL,
		    "connections", v ? (int)v->conns : 0,
		    "max_smtp_out", (json_int_t)vm->max_smtp_out,
		    "max_msg_rate", rate_json(&vm->max_msg_rate),
		    "queues", (int)nq, "backoff", (int)nb, "held", (int)nh,
		    "warmup_day", vm->warmup.set ?
		    json_integer((json_int_t)warm_day_of(vm, now)) :
		    json_null()));
	}
	return json_pack("{s:o}", "vmtas", arr);
}

/*
 * act - pause, resume or mode on the matched queues; the reply lists
 * them with their member domains, for queued's release.
 */
static json_t *
act(json_t *req, const struct sel *sel, const char *what)
{
	size_t		  n, i;
	struct squeue	**v;
	json_t		 *arr = json_array();
	const char	 *mode = json_string_value(json_object_get(req,
	    "mode"));
	time_t		  now = time(NULL);

	if (sel == NULL)
		return json_pack("{s:s}", "error", "a queue selector "
		    "DOMAIN/VMTA is needed");
	if (strcmp(what, "mode") == 0 && (mode == NULL ||
	    (strcmp(mode, "backoff") != 0 && strcmp(mode, "normal") != 0)))
		return json_pack("{s:s}", "error", "mode must be backoff or "
		    "normal");
	v = selected(sel, true, &n);
	for (i = 0; i < n; i++) {
		struct squeue *q = v[i];

		if (strcmp(what, "pause") == 0) {
			q->paused = true;
			log_info("%s: paused by tern", q->name);
			sq_push(q);
		} else if (strcmp(what, "resume") == 0) {
			q->paused = false;
			q->suspend_until = 0;
			q->bounce_until = 0;
			if (q->warm.paused) {
				/* The ramp goes on from the day it stopped. */
				const struct cfg_vmta *vm = config_vmta(
				    sd.d.cfg, q->vmta);
				unsigned cal = warm_day_of(vm, now);

				if (cal > q->warm.shift + q->warm.day)
					q->warm.shift = cal - q->warm.day;
				q->warm.paused = false;
				q->warm.why[0] = '\0';
				q->warm.outcomes = q->warm.bounced = 0;
				q->warm.complaints = 0;
			}
			log_info("%s: resumed by tern", q->name);
			sq_push(q);
		} else
			rules_apply(q, strcmp(mode, "backoff") == 0 ?
			    PA_BACKOFF : PA_NORMAL, 0, "tern set queue", NULL,
			    now);
		if (i < CTL_ITEMS_MAX)
			json_array_append_new(arr, queue_json(q, false, now));
	}
	free(v);
	sq_dirty();
	if (n == 0)
		return json_pack("{s:s, s:o}", "error", "no queue matches",
		    "queues", arr);
	return json_pack("{s:o, s:i}", "queues", arr, "matched", (int)n);
}

static json_t *
c_pause(json_t *req, const struct sel *sel)
{
	return act(req, sel, "pause");
}

static json_t *
c_resume(json_t *req, const struct sel *sel)
{
	return act(req, sel, "resume");
}

static json_t *
c_mode(json_t *req, const struct sel *sel)
{
	return act(req, sel, "mode");
}

static const struct {
	const char	*cmd;
	cmd_fn		 fn;
} ctl_cmds[] = {
	{ "status", c_status },
	{ "queues", c_queues },
	{ "shaping", c_shaping },
	{ "vmtas", c_vmtas },
	{ "pause", c_pause },
	{ "resume", c_resume },
	{ "mode", c_mode },
};

/* ctl_request - one JSON request, one JSON reply */
int
ctl_request(struct ipc_peer *p, struct ipc_msg *m)
{
	json_t		*req, *rep = NULL, *js;
	const char	*cmd;
	unsigned	 i;
	struct sel	 sel, *selp = NULL;

	if ((req = ctl_parse(m, &cmd)) == NULL)
		return -1;
	if ((js = json_object_get(req, "sel")) != NULL) {
		if (sel_parse(json_string_value(js), &sel) == -1)
			rep = json_pack("{s:s}", "error", "bad queue selector: "
			    "expected DOMAIN/VMTA (wildcards * ? [...])");
		else
			selp = &sel;
	}
	for (i = 0; rep == NULL && i < nitems(ctl_cmds); i++)
		if (strcmp(cmd, ctl_cmds[i].cmd) == 0)
			rep = ctl_cmds[i].fn(req, selp);
	json_decref(req);
	ctl_reply(p, m->hdr.reqid, rep);
	return 0;
}
