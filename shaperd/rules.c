/*
 * rules.c - receiver signals: smtp-pattern rules, backoff, suspension.
 *
 * Purpose:      every outcome a deliverd reports (counts per outcome and
 *               the first remote reply that was not 2xx) is matched
 *               against the queue's smtp-pattern-list, then against
 *               the built-in provider rules (smtp-pattern-builtin); the
 *               first rule that matches acts on the queue, at once or on
 *               its Nth match within its window:
 *                 backoff    mode backoff (backoff-* limits) until
 *                            backoff-to-normal-after / the rule's for /
 *                            a delivery (backoff-to-normal-after-delivery)
 *                 normal     back to normal
 *                 suspend    no new transactions for `for` (default 1h)
 *                 disconnect close the queue's connections after their
 *                            transaction
 *                 bounce     bounce the queue's mail for `for` (10m)
 *               Outcomes also feed the warm-up guard: a 5xx or complaint
 *               share over the threshold pauses the ramp.
 * Used by:      shaperd.
 * Trust:        reply texts come from remote servers: cut to TEXT_MAX,
 *               control bytes replaced, only matched (REG_NOSUB).
 * Spool access: none.
 * See:          shaperd(8), tern.yaml(5) smtp-pattern-lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtin.h"
#include "log.h"
#include "shaperd.h"

static void
crlist_free(struct crlist *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++) {
		regfree(&l->r[i].re);
		free((char *)l->r[i].where);
	}
	free(l->r);
	free(l->name);
	memset(l, 0, sizeof(*l));
}

void
rules_free(void)
{
	unsigned i;

	for (i = 0; i < sd.nlists; i++)
		crlist_free(&sd.lists[i]);
	free(sd.lists);
	sd.lists = NULL;
	sd.nlists = 0;
	crlist_free(&sd.builtin);
}

static enum pat_action
action_of(const char *s)
{
	if (strcmp(s, "backoff") == 0)
		return PA_BACKOFF;
	if (strcmp(s, "suspend") == 0)
		return PA_SUSPEND;
	if (strcmp(s, "disconnect") == 0)
		return PA_DISCONNECT;
	if (strcmp(s, "bounce") == 0)
		return PA_BOUNCE;
	return PA_NORMAL;
}

static int
compile_one(struct crule *c, const char *re)
{
	return regcomp(&c->re, re, REG_EXTENDED | REG_ICASE | REG_NOSUB);
}

/*
 * rules_compile - the configured lists and the built-in table, all or
 * nothing (the loader has compiled each regex once already).
 */
int
rules_compile(const struct tern_config *cfg)
{
	struct crlist	*lists;
	struct crlist	 bi;
	unsigned	 i, j;
	struct hmap_ent	*e;
	size_t		 it;

	lists = cfg->npatlists ? xcalloc(cfg->npatlists, sizeof(*lists)) :
	    NULL;
	memset(&bi, 0, sizeof(bi));
	for (i = 0; i < cfg->npatlists; i++) {
		const struct cfg_patlist *pl = &cfg->patlists[i];

		lists[i].name = xstrdup(pl->name);
		lists[i].r = pl->n ? xcalloc(pl->n, sizeof(struct crule)) :
		    NULL;
		for (j = 0; j < pl->n; j++) {
			struct crule *c = &lists[i].r[j];

			if (compile_one(c, pl->r[j].regex) != 0)
				goto fail;
			lists[i].n++;
			c->text = pl->r[j].regex;
			c->where = xasprintf("smtp-pattern-lists.%s rule %u "
			    "(line %u)", pl->name, j + 1, pl->r[j].line);
			c->action = pl->r[j].action;
			c->for_secs = pl->r[j].for_secs;
			c->after_n = pl->r[j].after_n;
			c->after_window = pl->r[j].after_window;
		}
	}
	bi.name = xstrdup("built-in");
	bi.r = xcalloc(nbuiltin_rules, sizeof(struct crule));
	for (j = 0; j < nbuiltin_rules; j++) {
		const struct builtin_rule *b = &builtin_rules[j];
		struct crule *c = &bi.r[j];

		if (compile_one(c, b->regex) != 0) {
			log_warnx("built-in rule %u does not compile", j);
			continue;
		}
		bi.n++;
		c->text = b->regex;
		c->where = xasprintf("built-in %s rule %u", b->provider, j + 1);
		c->action = action_of(b->action);
		c->for_secs = b->for_secs;
		c->after_n = b->after_n;
		c->after_window = b->after_window;
		/* Keep the compiled rules contiguous. */
		if (bi.n - 1 != j)
			bi.r[bi.n - 1] = *c;
	}
	rules_free();
	sd.lists = lists;
	sd.nlists = cfg->npatlists;
	sd.builtin = bi;
	/* Threshold counts referred to the old rules. */
	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;)
		memset(((struct squeue *)e->val)->trig, 0,
		    sizeof(((struct squeue *)e->val)->trig));
	return 0;
fail:
	for (j = 0; j <= i && j < cfg->npatlists; j++)
		crlist_free(&lists[j]);
	free(lists);
	crlist_free(&bi);
	return -1;
}

static const struct crlist *
list_named(const char *name)
{
	unsigned i;

	for (i = 0; name != NULL && i < sd.nlists; i++)
		if (strcmp(sd.lists[i].name, name) == 0)
			return &sd.lists[i];
	return NULL;
}

/* match - the first rule of the queue's list, then the built-ins */
static const struct crule *
match(const struct dom_policy *pol, const char *reply)
{
	const struct crlist *l = list_named(pol->smtp_pattern_list);
	unsigned i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (regexec(&l->r[i].re, reply, 0, NULL, 0) == 0)
			return &l->r[i];
	if (!sd.d.cfg->smtp_pattern_builtin)
		return NULL;
	for (i = 0; i < sd.builtin.n; i++)
		if (regexec(&sd.builtin.r[i].re, reply, 0, NULL, 0) == 0)
			return &sd.builtin.r[i];
	return NULL;
}

/* triggered - count a match; true when the rule's threshold is reached */
static bool
triggered(struct squeue *q, const struct crule *r, time_t now)
{
	struct trig	*t = NULL, *oldest = &q->trig[0];
	unsigned	 i;

	if (r->after_n <= 1)
		return true;
	for (i = 0; i < SQ_TRIG_MAX; i++) {
		if (q->trig[i].rule == r) {
			t = &q->trig[i];
			break;
		}
		if (q->trig[i].since < oldest->since)
			oldest = &q->trig[i];
	}
	if (t == NULL) {
		t = oldest;
		t->rule = r;
		t->n = 0;
	}
	if (t->n == 0 || now - t->since > (time_t)r->after_window) {
		t->since = now;
		t->n = 0;
	}
	if (++t->n < r->after_n)
		return false;
	t->n = 0;
	return true;
}

static void
disconnect(struct squeue *q)
{
	struct svmta	*v = hmap_get(&sd.vmtas, q->vmta);
	struct ipc_out	 o;

	if (v == NULL || v->peer == NULL)
		return;
	ipc_out_begin(&o, IPC_SHAPE_DISCONNECT, 0);
	ipc_put_str(&o, q->key);
	ipc_send(v->peer, &o, -1);
}

/* rules_apply - one action on the queue (also from tern set queue) */
void
rules_apply(struct squeue *q, enum pat_action a, uint64_t for_secs,
    const char *why, const char *reply, time_t now)
{
	const struct dom_policy *pol;

	pol = sq_policy(q);
	tern_strlcpy(q->last_rule, why, sizeof(q->last_rule));
	if (reply != NULL)
		tern_strlcpy(q->last_reply, reply, sizeof(q->last_reply));
	q->last_match = now;
	switch (a) {
	case PA_BACKOFF:
		if (q->mode != SM_BACKOFF) {
			q->mode = SM_BACKOFF;
			q->mode_since = now;
			log_info("%s: backoff mode (%s)", q->name, why);
		}
		for_secs = for_secs ? for_secs : pol->backoff_to_normal_after;
		q->backoff_until = for_secs ? now + (time_t)for_secs : 0;
		break;
	case PA_NORMAL:
		if (q->mode != SM_NORMAL)
			log_info("%s: normal mode (%s)", q->name, why);
		q->mode = SM_NORMAL;
		q->mode_since = now;
		q->backoff_until = 0;
		break;
	case PA_SUSPEND:
		q->suspend_until = now + (time_t)(for_secs ? for_secs : 3600);
		log_info("%s: suspended for %llus (%s)", q->name,
		    (unsigned long long)(q->suspend_until - now), why);
		disconnect(q);
		break;
	case PA_DISCONNECT:
		log_info("%s: disconnect (%s)", q->name, why);
		disconnect(q);
		return;
	case PA_BOUNCE:
		q->bounce_until = now + (time_t)(for_secs ? for_secs : 600);
		snprintf(q->bounce_text, sizeof(q->bounce_text),
		    "queue bounced by %s: %s", why, reply ? reply : "");
		log_info("%s: bouncing its mail for %llus (%s)", q->name,
		    (unsigned long long)(q->bounce_until - now), why);
		break;
	}
	sq_push(q);
}

/* clean - the remote text as a rule sees it: after "smtp;", one line */
static void
clean(char *s)
{
	char *p = strstr(s, "smtp;");

	if (p != NULL)
		memmove(s, p + 5, strlen(p + 5) + 1);
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* warm_guard - the day's bounce or complaint share pauses the ramp */
static void
warm_guard(struct squeue *q, time_t now)
{
	const struct cfg_vmta *vm = config_vmta(sd.d.cfg, q->vmta);
	const struct cfg_warmup *w;
	unsigned day = sq_warm_day(q, vm, now);
	uint64_t n;

	if (day == 0 || day > vm->warmup.ndays || q->warm.paused ||
	    q->warm.day != day)
		return;
	w = &vm->warmup;
	n = q->warm.outcomes;
	if (n < w->pause_min_sample)
		return;
	if (q->warm.bounced * 1000000 > w->pause_bounce_ppm * n)
		snprintf(q->warm.why, sizeof(q->warm.why), "day %u: %llu of "
		    "%llu outcomes were 5xx, over %llu.%04llu%%", day,
		    (unsigned long long)q->warm.bounced,
		    (unsigned long long)n,
		    (unsigned long long)(w->pause_bounce_ppm / 10000),
		    (unsigned long long)(w->pause_bounce_ppm % 10000));
	else if (q->warm.complaints * 1000000 > w->pause_complaint_ppm * n)
		snprintf(q->warm.why, sizeof(q->warm.why), "day %u: %llu "
		    "complaints in %llu outcomes, over %llu.%04llu%%", day,
		    (unsigned long long)q->warm.complaints,
		    (unsigned long long)n,
		    (unsigned long long)(w->pause_complaint_ppm / 10000),
		    (unsigned long long)(w->pause_complaint_ppm % 10000));
	else
		return;
	q->warm.paused = true;
	log_warnx("%s: warm-up paused: %s", q->name, q->warm.why);
	sq_push(q);
}

static struct squeue *sq_by_member(const char *, const char *);

/*
 * rules_outcome - SHAPE_OUTCOME {key, domain, delivered, deferred,
 * bounced, complaints, reply}.
 */
int
rules_outcome(struct ipc_peer *p, struct ipc_msg *m)
{
	struct svmta	*v = p->arg;
	char		 key[SKEY_MAX + 1], domain[SKEY_MAX + 1];
	char		 reply[TEXT_MAX], vmta[CFG_NAME_MAX + 1];
	uint32_t	 nd, nt, nb, nc;
	time_t		 now = time(NULL);
	struct squeue	*q;
	const struct dom_policy *pol;
	const struct crule *r;

	if (ipc_get_str(m, vmta, sizeof(vmta)) == -1 ||
	    ipc_get_str(m, key, sizeof(key)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_u32(m, &nd) == -1 || ipc_get_u32(m, &nt) == -1 ||
	    ipc_get_u32(m, &nb) == -1 || ipc_get_u32(m, &nc) == -1 ||
	    ipc_get_str(m, reply, sizeof(reply)) == -1 ||
	    ipc_get_end(m) == -1 || key[0] == '\0')
		return -1;
	/* A deliverd speaks for its own VirtualMTA only. */
	if (v != NULL && strcmp(vmta, v->name) != 0)
		return -1;
	if (config_vmta(sd.d.cfg, vmta) == NULL)
		return 0;
	/* bouncd names the domain; a rolled-up domain is in its rollup. */
	if (p->role == ROLE_BOUNCD && sq_get(vmta, key, false) == NULL &&
	    (q = sq_by_member(vmta, domain)) != NULL)
		;
	else if ((q = sq_get(vmta, key, true)) == NULL)
		return 0;
	q->used = now;
	q->delivered += nd;
	q->deferred += nt;
	q->bounced += nb;
	pol = sq_policy(q);
	if (q->warm.day == sq_warm_day(q, config_vmta(sd.d.cfg, vmta), now)) {
		q->warm.outcomes += nd + nb;
		q->warm.bounced += nb;
		q->warm.complaints += nc;
		sq_dirty();
	}
	clean(reply);
	if (reply[0] != '\0' && (r = match(pol, reply)) != NULL &&
	    triggered(q, r, now))
		rules_apply(q, r->action, r->for_secs, r->where, reply, now);
	else if (nd > 0 && q->mode == SM_BACKOFF &&
	    pol->backoff_to_normal_after_delivery)
		rules_apply(q, PA_NORMAL, 0, "delivered "
		    "(backoff-to-normal-after-delivery)", NULL, now);
	warm_guard(q, now);
	return 0;
}

/* sq_by_member - the queue of vmta that has domain among its members */
static struct squeue *
sq_by_member(const char *vmta, const char *domain)
{
	struct hmap_ent	*e;
	size_t		 it;
	unsigned	 i;

	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;) {
		struct squeue *q = e->val;

		if (strcmp(q->vmta, vmta) != 0)
			continue;
		for (i = 0; i < q->ndomains; i++)
			if (strcasecmp(q->domains[i], domain) == 0)
				return q;
	}
	return NULL;
}

/* rules_tick - backoffs, suspensions and bounces whose time is up */
void
rules_tick(time_t now)
{
	struct hmap_ent	*e;
	size_t		 it;

	for (e = NULL; (e = hmap_next(&sd.queues, e, &it)) != NULL;) {
		struct squeue *q = e->val;

		if (q->mode == SM_BACKOFF && q->backoff_until != 0 &&
		    q->backoff_until <= now)
			rules_apply(q, PA_NORMAL, 0, "backoff-to-normal-after",
			    NULL, now);
		if (q->suspend_until != 0 && q->suspend_until <= now) {
			q->suspend_until = 0;
			log_info("%s: suspension over", q->name);
			sq_push(q);
		}
		if (q->bounce_until != 0 && q->bounce_until <= now) {
			q->bounce_until = 0;
			sq_push(q);
		}
	}
}
