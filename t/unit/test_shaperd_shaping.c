/*
 * test_shaperd_shaping.c - unit tests for shaperd's arithmetic and the
 * shaping part of the configuration.
 *
 * Purpose:      GCRA (gcra_avail, gcra_take): bursts, waits, unlimited,
 *               and a simulated minute whose grants must equal the rate;
 *               warm-up days and volumes (schedule and growth); the
 *               per-queue policy's precedence (VirtualMTA's block, the
 *               domain's, VirtualMTA's "*", "*", defaults) and the origin
 *               of each value; smtp-pattern-lists and mx-rollup parsing;
 *               bad shaping keys reported at file:line:column (the
 *               column of the offending value; checked by hand).
 * Used by:      t/00-unit.t (build/t/test_shaperd_shaping).
 * Trust:        test code.
 * Spool access: none.
 * See:          shaperd(8), tern.yaml(5).
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "config.h"
#include "../../shaperd/shaperd.h"

static const char base_yaml[] =
    "spool-dir: /tmp/x\n"
    "run-dir: /tmp/x/run\n"
    "smtp-listener: [127.0.0.1:2525]\n";

static struct tern_config *
load(const char *extra, struct cfg_errors *e)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "%s%s", base_yaml, extra);
	memset(e, 0, sizeof(*e));
	return config_load_buf("s.yaml", buf, strlen(buf), e);
}

static void
test_gcra(void)
{
	struct rate	 r5 = { 5, 1 }, r1000 = { 1000, 1 }, none = { 0, 0 };
	struct rate	 hourly = { 200, 3600 };
	struct gcra	 g = { 0 };
	uint64_t	 now = 1000000000ULL * 1000, wait, n, total, t;

	is_u64(gcra_avail(&g, &r5, now, &wait), 1, "5/s: a burst of one");
	gcra_take(&g, &r5, now, 1);
	is_u64(gcra_avail(&g, &r5, now, &wait), 0, "5/s: none left now");
	is_u64(wait, 200000, "5/s: the next in 200 ms");
	is_u64(gcra_avail(&g, &r5, now + 199999, &wait), 0,
	    "5/s: not a microsecond early");
	is_u64(gcra_avail(&g, &r5, now + 200000, &wait), 1,
	    "5/s: one after 200 ms");
	memset(&g, 0, sizeof(g));
	is_u64(gcra_avail(&g, &r1000, now, &wait), 200,
	    "1000/s: 0.2 s worth at once");
	gcra_take(&g, &r1000, now, 200);
	is_u64(gcra_avail(&g, &r1000, now, &wait), 0, "1000/s: spent");
	is_u64(gcra_avail(&g, &r1000, now + 50000, &wait), 50,
	    "1000/s: 50 after 50 ms");
	is_u64(gcra_avail(&g, &none, now, &wait), UINT64_MAX,
	    "unlimited is unlimited");
	/* A minute of asks every 10 ms takes exactly the rate, plus a burst. */
	memset(&g, 0, sizeof(g));
	for (total = 0, t = 0; t < 60000000; t += 10000) {
		n = gcra_avail(&g, &r5, now + t, &wait);
		gcra_take(&g, &r5, now + t, n);
		total += n;
	}
	is_u64(total, 300, "5/s over a minute: 300");
	memset(&g, 0, sizeof(g));
	for (total = 0, t = 0; t < 3600ULL * 1000000; t += 1000000) {
		n = gcra_avail(&g, &hourly, now + t, &wait);
		gcra_take(&g, &hourly, now + t, n);
		total += n;
	}
	is_u64(total, 200, "200/h over an hour: 200, spread out");
}

static void
test_warmup(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	const struct cfg_vmta	*vm;
	time_t			 start;

	c = load("virtual-mtas:\n"
	    "  a:\n"
	    "    warmup: {start: 2026-11-20, schedule: [50, {volume: 100, "
	    "max-msg-rate: 10/h}, 400]}\n"
	    "  b:\n"
	    "    warmup: {start: 2026-11-20, growth: {first: 50, factor: 2, "
	    "full: 1000}}\n", &e);
	ok(c != NULL, "warm-up config loads");
	if (c == NULL) {
		config_errors_print(&e, 1);
		return;
	}
	vm = config_vmta(c, "a");
	start = vm->warmup.start;
	is_u64((uint64_t)start % 86400, 0, "day 1 starts at 00:00 UTC");
	is_int(warm_day_of(vm, start - 1), 0, "before the start: no day");
	is_int(warm_day_of(vm, start), 1, "the start: day 1");
	is_int(warm_day_of(vm, start + 86399), 1, "still day 1");
	is_int(warm_day_of(vm, start + 86400), 2, "day 2");
	is_u64(warm_volume(vm, 1), 50, "day 1: 50");
	is_u64(warm_volume(vm, 2), 100, "day 2: 100");
	is_u64(vm->warmup.rate[1].count, 10, "day 2 has its rate");
	is_u64(warm_volume(vm, 4), 0, "after the schedule: no cap");
	is_u64(vm->warmup.pause_bounce_ppm, 100000, "default pause at 10 percent");
	vm = config_vmta(c, "b");
	is_int((int)vm->warmup.ndays, 6, "growth 50..1000 by 2: 6 days");
	is_u64(warm_volume(vm, 5), 800, "day 5: 800");
	is_u64(warm_volume(vm, 6), 1000, "day 6: full");
	config_free(c);
}

static void
test_policy(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	struct dom_policy	 p;
	const struct cfg_vmta	*vm;

	c = load("virtual-mtas:\n"
	    "  a:\n"
	    "    max-smtp-out: 50\n"
	    "    domains:\n"
	    "      gmail.com: {max-msg-rate: 10/s}\n"
	    "      \"*\": {max-smtp-out: 7, max-connect-rate: 5/min}\n"
	    "  b: {}\n"
	    "smtp-pattern-lists:\n"
	    "  y:\n"
	    "    - {reply: '\\[TS0[13]\\]', action: backoff, for: 30m}\n"
	    "    - {reply: 'try again', mode: suspend, after: 3/5m}\n"
	    "mx-rollup: {\"*.google.com\": google.rollup}\n"
	    "domains:\n"
	    "  gmail.com: {max-smtp-out: 3, max-msg-rate: 1/s, "
	    "smtp-pattern-list: y}\n"
	    "  \"*\": {max-smtp-out: 9, backoff-retry-after: 5m}\n", &e);
	ok(c != NULL, "policy config loads");
	if (c == NULL) {
		config_errors_print(&e, 1);
		return;
	}
	vm = config_vmta(c, "a");
	config_queue_policy(c, vm, "gmail.com", &p);
	is_u64(p.max_msg_rate.count, 10, "the VirtualMTA's block wins");
	is_str(config_policy_from(&p, DOM_MSGRATE),
	    "virtual-mtas.a.domains.gmail.com", "and says so");
	is_u64(p.max_smtp_out, 3, "the domain's block beats any *");
	is_str(config_policy_from(&p, DOM_MAXOUT), "domains.gmail.com",
	    "origin of max-smtp-out");
	is_u64(p.max_connect_rate.count, 5, "the VirtualMTA's * fills in");
	is_u64(p.backoff_retry_after->v[0], 300, "then the global *");
	is_u64(p.backoff_max_msg_rate.count, 10,
	    "backoff rate defaults to the queue's rate");
	is_str(config_policy_from(&p, DOM_MAXRCPT), "default",
	    "unset values are defaults");
	ok(p.own_block, "gmail.com has a block of its own");
	is_str(p.smtp_pattern_list, "y", "pattern list attached");
	config_queue_policy(c, config_vmta(c, "b"), "gmail.com", &p);
	is_u64(p.max_msg_rate.count, 1, "another VirtualMTA: the global block");
	config_queue_policy(c, vm, "other.test", &p);
	is_u64(p.max_smtp_out, 7, "VirtualMTA's * before the global *");
	ok(!p.own_block, "other.test has no block of its own");
	is_u64(p.backoff_max_smtp_out, 20, "PowerMTA's backoff default");
	is_int((int)c->npatlists, 1, "one pattern list");
	is_int((int)c->patlists[0].n, 2, "two rules");
	ok(c->patlists[0].r[0].action == PA_BACKOFF, "action backoff");
	is_u64(c->patlists[0].r[0].for_secs, 1800, "for 30m");
	ok(c->patlists[0].r[1].action == PA_SUSPEND, "mode: means action");
	is_int((int)c->patlists[0].r[1].after_n, 3, "threshold count");
	is_u64(c->patlists[0].r[1].after_window, 300, "threshold window");
	is_str(c->rollups[0].name, "google.rollup", "mx-rollup name");
	is_u64(vm->max_smtp_out, 50, "VirtualMTA total max-smtp-out");
	config_free(c);
}

static const struct {
	const char	*yaml;
	const char	*want;
} bad[] = {
	{ "domains:\n  \"*\": {smtp-pattern-list: nope}\n",
	    "s.yaml:7:28: domains.*: smtp-pattern-list: \"nope\" is not in "
	    "smtp-pattern-lists" },
	{ "smtp-pattern-lists:\n  x:\n    - {reply: 'a(', action: backoff}\n",
	    "s.yaml:8:15: reply: bad regular expression /a(/" },
	{ "smtp-pattern-lists:\n  x:\n    - {reply: 'a', action: explode}\n",
	    "s.yaml:8:28: action: expected backoff, normal, suspend, "
	    "disconnect or bounce, found \"explode\"" },
	{ "smtp-pattern-lists:\n  x:\n    - {reply: 'a'}\n",
	    "s.yaml:8:7: x: a rule needs reply and action" },
	{ "smtp-pattern-lists:\n  x:\n    - {reply: a, action: suspend, "
	    "after: 3}\n",
	    "s.yaml:8:42: after: expected COUNT/DURATION such as 3/5m" },
	{ "mx-rollup: {\"*.Google.com\": g.rollup}\n",
	    "s.yaml:6:13: mx-rollup: \"*.Google.com\" is not a lowercase host "
	    "name pattern (letters, digits, '.', '-', '*', '?')" },
	{ "virtual-mtas:\n  a:\n    warmup: {start: 2026-13-01, "
	    "schedule: [5]}\n",
	    "s.yaml:6:21: warmup: start: expected a date YYYY-MM-DD" },
	{ "virtual-mtas:\n  a:\n    warmup: {start: 2026-11-01}\n",
	    "s.yaml:6:13: warmup: needs a schedule or a growth" },
	{ "virtual-mtas:\n  a:\n    warmup: {start: 2026-11-01, schedule: "
	    "[5], pause-bounce-rate: 10}\n",
	    "s.yaml:6:67: pause-bounce-rate: expected a percentage such as "
	    "10% or 0.3%, found \"10\"" },
	{ "virtual-mtas:\n  a: {max-smtp-out: 0}\n",
	    "s.yaml:5:21: max-smtp-out: expected a whole number from 1 to "
	    "1000000, found \"0\"" },
	{ "domains:\n  \"*\": {backoff-max-msg-rate: fast}\n",
	    NULL },
};

static void
test_bad(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char	 y[1024];

		snprintf(y, sizeof(y), "virtual-mtas:\n  v: {}\n%s",
		    bad[i].yaml);
		/* A second virtual-mtas key would be a duplicate: use the
		 * test's own when it has one. */
		c = load(strncmp(bad[i].yaml, "virtual-mtas", 12) == 0 ?
		    bad[i].yaml : y, &e);
		ok(c == NULL, "bad shaping config %zu is refused", i);
		if (bad[i].want != NULL && e.n > 0)
			is_str(e.msg[0], bad[i].want, "  with file:line:col");
		else if (bad[i].want != NULL)
			ok(0, "  with an error message");
		config_free(c);
		config_errors_free(&e);
	}
}

int
main(void)
{
	test_gcra();
	test_warmup();
	test_policy();
	test_bad();
	return done_testing();
}
