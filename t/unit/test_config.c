/*
 * test_config.c - unit tests for common/config.c.
 *
 * Purpose:      a complete tern.yaml loads through config_load_buf and
 *               every value lands where it should; config_source_policy
 *               picks the most specific CIDR and inherits unset fields
 *               from less specific blocks; config_domain_policy layers
 *               the domain's block over "*" over the built-ins.  Then a
 *               table of bad files, each checked for the exact first
 *               error, "bad.yaml:LINE:COLUMN: message", with LINE and
 *               COLUMN (1-based) worked out from the text by hand; see
 *               the comment above each row.  Also config_parse_hostport,
 *               config_load_file, the error cap and config_errors_print.
 * Used by:      t/00-unit.t (build/t/test_config).
 * Trust:        test code; the files model administrator mistakes.
 * Spool access: none (one temporary file in $TMPDIR or /tmp).
 * See:          common/config.h, tern.yaml(5).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "util.h"

/* Known bugs in common/config.c (see the report): these rows are TODO. */
/* Rows once marked TODO for bugs since fixed; kept as plain rows. */
#define BUG_DUPS	NULL
#define BUG_TAGS	NULL
#define BUG_XREF_POS	NULL

/*
 * The good file.  Line numbers are in the comments; "*" and "::1/128"
 * must be quoted (a bare * starts a YAML alias).
 */
static const char good_yaml[] =
    "# tern.yaml - unit test configuration\n"		/*  1 */
    "host-name: mta.example.com\n"			/*  2 */
    "spool-dir: /var/spool/tern\n"			/*  3 */
    "run-dir: /run/tern\n"				/*  4 */
    "log-dir: /var/log/tern\n"				/*  5 */
    "user: tern\n"					/*  6 */
    "smtp-listener:\n"					/*  7 */
    "  - \"127.0.0.1:2525\"\n"				/*  8 */
    "  - \"[::1]:2526\"\n"				/*  9 */
    "max-message-size: 20M\n"				/* 10 */
    "total-max-smtp-in: 500\n"				/* 11 */
    "max-rcpt-per-message: 200\n"			/* 12 */
    "smtp-idle-timeout: 2m\n"				/* 13 */
    "smtp-data-timeout: 10m\n"				/* 14 */
    "shutdown-timeout: 15s\n"				/* 15 */
    "min-free-space: 1G\n"				/* 16 */
    "group-commit-delay-us: 2000\n"			/* 17 */
    "max-received-headers: 50\n"			/* 18 */
    "sources:\n"					/* 19 */
    "  0/0:\n"						/* 20 */
    "    always-allow-relaying: no\n"			/* 21 */
    "    smtp-service: no\n"				/* 22 */
    "    max-message-size: 10M\n"			/* 23 */
    "  10.0.0.0/8:\n"					/* 24 */
    "    always-allow-relaying: yes\n"			/* 25 */
    "    smtp-service: yes\n"				/* 26 */
    "    max-rcpt-per-message: 50\n"			/* 27 */
    "  10.1.0.0/16:\n"					/* 28 */
    "    process-x-virtual-mta: yes\n"			/* 29 */
    "    default-virtual-mta: pool-b\n"			/* 30 */
    "  10.1.2.3/32:\n"					/* 31 */
    "    max-smtp-in: 5\n"				/* 32 */
    "    process-x-job: true\n"				/* 33 */
    "  \"::1/128\":\n"					/* 34 */
    "    always-allow-relaying: yes\n"			/* 35 */
    "    smtp-service: on\n"				/* 36 */
    "virtual-mtas:\n"					/* 37 */
    "  mta-a:\n"					/* 38 */
    "    smtp-source-host: 192.0.2.10 a.mta.example.com\n" /* 39 */
    "  mta-b:\n"					/* 40 */
    "    smtp-source-host: \"[2001:db8::10] b.mta.example.com\"\n"
							/* 41 */
    "  mta-c: {}\n"					/* 42 */
    "virtual-mta-pools:\n"				/* 43 */
    "  pool-b: [mta-b, mta-c]\n"			/* 44 */
    "default-virtual-mta: mta-a\n"			/* 45 */
    "domains:\n"					/* 46 */
    "  \"*\":\n"					/* 47 */
    "    max-smtp-out: 10\n"				/* 48 */
    "    retry-after: 10m,20m,1h\n"			/* 49 */
    "    bounce-after: 3d\n"				/* 50 */
    "    max-msg-rate: 1000/h\n"			/* 51 */
    "    route: smarthost.example.net:587\n"		/* 52 */
    "  example.com:\n"					/* 53 */
    "    max-smtp-out: 2\n"				/* 54 */
    "    max-msg-rate: 50/10m\n"			/* 55 */
    "    route: \"[192.0.2.25]:2525\"\n"		/* 56 */
    "  Example.ORG:\n"					/* 57 */
    "    max-rcpt-per-message: 10\n"			/* 58 */
    "    max-msg-per-connection: 100\n"			/* 59 */
    "    smtp-hosts: mx.example.org\n";			/* 60 */

/* The smallest file that loads: lines 1 to 5 of every bad file below. */
#define BASE \
    "spool-dir: /var/spool/tern\n"			/*  1 */ \
    "run-dir: /run/tern\n"				/*  2 */ \
    "smtp-listener: [\"127.0.0.1:2525\"]\n"		/*  3 */ \
    "virtual-mtas:\n"					/*  4 */ \
    "  mta-a: {}\n"					/*  5 */

static struct tern_config *
load(const char *text, struct cfg_errors *e)
{
	memset(e, 0, sizeof(*e));
	return config_load_buf("bad.yaml", text, strlen(text), e);
}

static struct sockaddr_storage *
sa_of(const char *ip)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		bail_out("bad test address");
	return &ss;
}

static void
test_good(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	const struct cfg_vmta	*v;
	const struct cfg_pool	*p;
	const struct sockaddr_in6 *sin6;
	unsigned		 i;
	int			 hex;

	memset(&e, 0, sizeof(e));
	c = config_load_buf("good.yaml", good_yaml, strlen(good_yaml), &e);
	if (!ok(c != NULL, "the good file loads")) {
		for (i = 0; i < e.n; i++)
			diag("    %s", e.msg[i]);
		bail_out("cannot continue without the good config");
	}
	is_int(e.n, 0, "no errors");
	is_str(c->path, "good.yaml", "path is the name given");
	for (hex = 0, i = 0; i < 64; i++)
		hex += strchr("0123456789abcdef", c->hash[i]) != NULL;
	ok(hex == 64 && c->hash[64] == '\0', "hash is 64 hex digits");
	is_str(c->host_name, "mta.example.com", "host-name");
	is_str(c->spool_dir, "/var/spool/tern", "spool-dir");
	is_str(c->run_dir, "/run/tern", "run-dir");
	is_str(c->log_dir, "/var/log/tern", "log-dir");
	is_str(c->user, "tern", "user");

	is_int(c->nlisteners, 2, "two listeners");
	if (c->nlisteners == 2) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)&c->listeners[0].addr.ss;

		is_str(c->listeners[0].text, "127.0.0.1:2525",
		    "listener 0 text");
		ok(sin->sin_family == AF_INET && ntohs(sin->sin_port) == 2525 &&
		    ntohl(sin->sin_addr.s_addr) == 0x7f000001 &&
		    c->listeners[0].addr.len == sizeof(*sin),
		    "listener 0 is 127.0.0.1 port 2525");
		sin6 = (const struct sockaddr_in6 *)&c->listeners[1].addr.ss;
		ok(sin6->sin6_family == AF_INET6 &&
		    ntohs(sin6->sin6_port) == 2526 &&
		    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr),
		    "listener 1 is [::1] port 2526");
	}

	is_u64(c->max_message_size, 20ULL << 20, "max-message-size 20M");
	is_u64(c->total_max_smtp_in, 500, "total-max-smtp-in");
	is_u64(c->max_rcpt_per_message, 200, "max-rcpt-per-message");
	is_u64(c->smtp_idle_timeout, 120, "smtp-idle-timeout 2m");
	is_u64(c->smtp_data_timeout, 600, "smtp-data-timeout 10m");
	is_u64(c->shutdown_timeout, 15, "shutdown-timeout 15s");
	is_u64(c->min_free_space, 1ULL << 30, "min-free-space 1G");
	is_u64(c->group_commit_delay_us, 2000, "group-commit-delay-us");
	is_u64(c->max_received_headers, 50, "max-received-headers");

	is_int(c->nsources, 5, "five source blocks");
	if (c->nsources == 5) {
		is_str(c->sources[0].text, "0/0", "source 0 text");
		is_int(c->sources[0].family, AF_UNSPEC, "0/0 is any family");
		is_int(c->sources[1].prefix, 8, "10.0.0.0/8 prefix");
		is_int(c->sources[1].family, AF_INET, "10.0.0.0/8 is IPv4");
		is_int(c->sources[3].prefix, 32, "10.1.2.3/32 prefix");
		is_int(c->sources[4].family, AF_INET6, "::1/128 is IPv6");
		is_int(c->sources[4].prefix, 128, "::1/128 prefix");
		is_int(c->sources[0].set, SRC_RELAY | SRC_SERVICE |
		    SRC_MAXSIZE, "0/0 set bits");
		is_int(c->sources[2].set, SRC_XVMTA | SRC_DEFVMTA,
		    "10.1.0.0/16 set bits");
		is_str(c->sources[2].default_virtual_mta, "pool-b",
		    "10.1.0.0/16 default-virtual-mta");
		ok(c->sources[4].smtp_service, "smtp-service: on is true");
	}

	is_int(c->nvmtas, 3, "three virtual-mtas");
	v = config_vmta(c, "mta-a");
	ok(v != NULL && strcmp(v->source_ip, "192.0.2.10") == 0 &&
	    strcmp(v->ehlo_name, "a.mta.example.com") == 0 &&
	    v->source.ss.ss_family == AF_INET, "mta-a source and EHLO name");
	v = config_vmta(c, "MTA-B");
	ok(v != NULL && strcmp(v->source_ip, "[2001:db8::10]") == 0 &&
	    strcmp(v->ehlo_name, "b.mta.example.com") == 0 &&
	    v->source.ss.ss_family == AF_INET6,
	    "mta-b (looked up case-insensitively): IPv6 source");
	v = config_vmta(c, "mta-c");
	ok(v != NULL && strcmp(v->source_ip, "") == 0 &&
	    strcmp(v->ehlo_name, "mta.example.com") == 0,
	    "mta-c: any source, EHLO name defaults to host-name");
	ok(config_vmta(c, "pool-b") == NULL, "a pool is not a vmta");

	is_int(c->npools, 1, "one pool");
	p = config_pool(c, "pool-b");
	ok(p != NULL && p->n == 2 && strcmp(p->members[0], "mta-b") == 0 &&
	    strcmp(p->members[1], "mta-c") == 0 && p->weights[0] == 1 &&
	    p->weights[1] == 1, "pool-b = [mta-b, mta-c], weights 1");
	ok(config_vmta_or_pool(c, "pool-b") && config_vmta_or_pool(c, "mta-c")
	    && !config_vmta_or_pool(c, "nothing"), "config_vmta_or_pool");
	is_str(c->default_virtual_mta, "mta-a", "default-virtual-mta");

	is_int(c->ndomains, 3, "three domain blocks");
	if (c->ndomains == 3) {
		is_str(c->domains[0].name, "*", "domain 0 is *");
		is_str(c->domains[2].name, "example.org",
		    "domain names are lowercased");
		is_int(c->domains[0].retry_after.n, 3, "* retry list length");
		is_u64(c->domains[0].max_msg_rate.count, 1000, "* rate count");
		is_u64(c->domains[0].max_msg_rate.period, 3600,
		    "* rate period");
	}
	config_free(c);
	config_errors_free(&e);
}

static void
test_defaults(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c = load(BASE, &e);
	struct src_policy	 sp;
	struct dom_policy	 dp;
	char			 hn[256];

	if (!ok(c != NULL, "the minimal file loads")) {
		if (e.n)
			diag("    %s", e.msg[0]);
		return;
	}
	is_str(c->log_dir, "/var/spool/tern", "log-dir defaults to spool-dir");
	if (gethostname(hn, sizeof(hn)) == -1)
		hn[0] = '\0';
	ok(strcmp(c->host_name, hn) == 0 ||
	    strcmp(c->host_name, "localhost") == 0,
	    "host-name defaults to the system's (%s)", c->host_name);
	ok(c->user == NULL, "user unset");
	is_u64(c->max_message_size, 50ULL << 20, "default max-message-size");
	is_u64(c->total_max_smtp_in, 1000, "default total-max-smtp-in");
	is_u64(c->max_rcpt_per_message, 1000, "default max-rcpt-per-message");
	is_u64(c->max_received_headers, 100, "default max-received-headers");
	is_u64(c->smtp_idle_timeout, 300, "default smtp-idle-timeout");
	is_u64(c->smtp_data_timeout, 600, "default smtp-data-timeout");
	is_u64(c->shutdown_timeout, 30, "default shutdown-timeout");
	is_u64(c->min_free_space, 100ULL << 20, "default min-free-space");
	is_u64(c->group_commit_delay_us, 0, "default group-commit-delay-us");
	is_str(c->default_virtual_mta, "mta-a",
	    "default-virtual-mta defaults to the first vmta");

	config_source_policy(c, (struct sockaddr *)sa_of("192.0.2.1"), &sp);
	ok(sp.service && !sp.relay && !sp.xvmta && !sp.xjob,
	    "no sources: service on, relaying off");
	ok(sp.matched == NULL, "no sources: nothing matched");
	is_u64(sp.max_message_size, 50ULL << 20, "no sources: global size");
	is_u64(sp.max_rcpt, 1000, "no sources: global max rcpt");
	is_u64(sp.max_smtp_in, 1000, "no sources: global max in");
	is_str(sp.default_virtual_mta, "mta-a", "no sources: global vmta");

	config_domain_policy(c, "example.com", &dp);
	is_u64(dp.max_smtp_out, 20, "built-in max-smtp-out 20");
	is_u64(dp.max_msg_per_connection, 0, "built-in max-msg-per-conn 0");
	is_u64(dp.max_rcpt_per_message, 1000, "built-in max-rcpt 1000");
	ok(dp.retry_after != NULL && dp.retry_after->n == 1 &&
	    dp.retry_after->v[0] == 600, "built-in retry-after 10m");
	is_u64(dp.bounce_after, 388800, "built-in bounce-after 4d12h");
	ok(dp.max_msg_rate.count == 0 && dp.max_msg_rate.period == 0,
	    "built-in rate unlimited");
	ok(dp.route == NULL && dp.smtp_hosts == NULL, "no route, no hosts");
	config_free(c);
	config_errors_free(&e);

	/* A weighted pool. */
	c = load(BASE
	    "  mta-b: {}\n"
	    "virtual-mta-pools:\n"
	    "  pool-w: {mta-a: 1, mta-b: 3}\n", &e);
	if (ok(c != NULL, "weighted pool loads")) {
		const struct cfg_pool *p = config_pool(c, "pool-w");

		ok(p != NULL && p->n == 2 && strcmp(p->members[1], "mta-b") ==
		    0 && p->weights[0] == 1 && p->weights[1] == 3,
		    "weights 1 and 3");
	} else if (e.n)
		diag("    %s", e.msg[0]);
	config_free(c);
	config_errors_free(&e);
}

struct scase {
	const char	*ip;
	const char	*matched;
	bool		 relay, xvmta, xjob, service;
	uint64_t	 size, rcpt, in;
	const char	*vmta;
};

static const struct scase src_cases[] = {
	/* /32 wins; /16, /8 and 0/0 fill in what it leaves unset */
	{ "10.1.2.3", "10.1.2.3/32", true, true, true, true, 10ULL << 20, 50,
	    5, "pool-b" },
	{ "10.1.9.9", "10.1.0.0/16", true, true, false, true, 10ULL << 20, 50,
	    500, "pool-b" },
	{ "10.200.0.1", "10.0.0.0/8", true, false, false, true, 10ULL << 20,
	    50, 500, "mta-a" },
	{ "192.0.2.1", "0/0", false, false, false, false, 10ULL << 20, 200,
	    500, "mta-a" },
	{ "11.0.0.1", "0/0", false, false, false, false, 10ULL << 20, 200,
	    500, "mta-a" },
	{ "9.255.255.255", "0/0", false, false, false, false, 10ULL << 20,
	    200, 500, "mta-a" },
	/* IPv6 */
	{ "::1", "::1/128", true, false, false, true, 10ULL << 20, 200, 500,
	    "mta-a" },
	{ "2001:db8::1", "0/0", false, false, false, false, 10ULL << 20, 200,
	    500, "mta-a" },
	/* v4-mapped addresses match the IPv4 blocks */
	{ "::ffff:10.1.2.3", "10.1.2.3/32", true, true, true, true,
	    10ULL << 20, 50, 5, "pool-b" },
	{ "::ffff:10.9.9.9", "10.0.0.0/8", true, false, false, true,
	    10ULL << 20, 50, 500, "mta-a" },
};

static void
test_source_policy(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	struct src_policy	 p;
	unsigned		 i;

	memset(&e, 0, sizeof(e));
	c = config_load_buf("good.yaml", good_yaml, strlen(good_yaml), &e);
	if (c == NULL)
		bail_out("good config");
	for (i = 0; i < nitems(src_cases); i++) {
		const struct scase *t = &src_cases[i];

		config_source_policy(c, (struct sockaddr *)sa_of(t->ip), &p);
		is_str(p.matched, t->matched, "%s: best block", t->ip);
		ok(p.relay == t->relay && p.xvmta == t->xvmta &&
		    p.xjob == t->xjob && p.service == t->service,
		    "%s: relay %d xvmta %d xjob %d service %d", t->ip,
		    t->relay, t->xvmta, t->xjob, t->service);
		if (p.relay != t->relay || p.xvmta != t->xvmta ||
		    p.xjob != t->xjob || p.service != t->service)
			diag("    got relay %d xvmta %d xjob %d service %d",
			    p.relay, p.xvmta, p.xjob, p.service);
		is_u64(p.max_message_size, t->size, "%s: max-message-size",
		    t->ip);
		is_u64(p.max_rcpt, t->rcpt, "%s: max-rcpt-per-message", t->ip);
		is_u64(p.max_smtp_in, t->in, "%s: max-smtp-in", t->ip);
		is_str(p.default_virtual_mta, t->vmta,
		    "%s: default-virtual-mta", t->ip);
	}
	config_free(c);

	/* Order in the file does not matter: most specific first anyway. */
	c = load(BASE
	    "sources:\n"
	    "  10.1.2.0/24: {max-smtp-in: 7}\n"
	    "  10.1.2.3: {max-smtp-in: 3}\n"
	    "  10.0.0.0/8: {max-smtp-in: 9, smtp-service: no}\n"
	    "  10.1.2.128/25: {max-smtp-in: 4}\n", &e);
	if (ok(c != NULL, "sources in any order load")) {
		config_source_policy(c, (struct sockaddr *)sa_of("10.1.2.3"),
		    &p);
		is_str(p.matched, "10.1.2.3", "a bare address is a /32");
		is_u64(p.max_smtp_in, 3, "the /32 wins wherever it is");
		ok(!p.service, "service from the /8");
		config_source_policy(c, (struct sockaddr *)sa_of("10.1.2.200"),
		    &p);
		is_str(p.matched, "10.1.2.128/25", "/25 beats /24");
		config_source_policy(c, (struct sockaddr *)sa_of("10.1.2.100"),
		    &p);
		is_str(p.matched, "10.1.2.0/24", "outside the /25: /24");
		config_source_policy(c, (struct sockaddr *)sa_of("10.1.3.1"),
		    &p);
		is_u64(p.max_smtp_in, 9, "outside the /24: the /8");
		config_source_policy(c, (struct sockaddr *)sa_of("192.0.2.1"),
		    &p);
		ok(p.matched == NULL && p.service, "no block: defaults");
	}
	config_free(c);
	config_errors_free(&e);
}

struct dcase {
	const char	*domain;
	uint64_t	 out, perconn, rcpt, bounce;
	unsigned	 nretry;
	uint64_t	 retry0, rcount, rperiod;
	const char	*route, *hosts;
};

static const struct dcase dom_cases[] = {
	/* own block over "*" over built-ins; a route in "*" is the
	 * smarthost of every domain without its own route or smtp-hosts */
	{ "example.com", 2, 0, 1000, 3 * 86400, 3, 600, 50, 600,
	    "[192.0.2.25]:2525", NULL },
	{ "EXAMPLE.com", 2, 0, 1000, 3 * 86400, 3, 600, 50, 600,
	    "[192.0.2.25]:2525", NULL },
	{ "example.org", 10, 100, 10, 3 * 86400, 3, 600, 1000, 3600, NULL,
	    "mx.example.org" },
	{ "other.net", 10, 0, 1000, 3 * 86400, 3, 600, 1000, 3600,
	    "smarthost.example.net:587", NULL },
	{ "sub.example.com", 10, 0, 1000, 3 * 86400, 3, 600, 1000, 3600,
	    "smarthost.example.net:587", NULL },
};

static void
test_domain_policy(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	struct dom_policy	 p;
	unsigned		 i;

	memset(&e, 0, sizeof(e));
	c = config_load_buf("good.yaml", good_yaml, strlen(good_yaml), &e);
	if (c == NULL)
		bail_out("good config");
	for (i = 0; i < nitems(dom_cases); i++) {
		const struct dcase *t = &dom_cases[i];

		config_domain_policy(c, t->domain, &p);
		is_u64(p.max_smtp_out, t->out, "%s: max-smtp-out", t->domain);
		is_u64(p.max_msg_per_connection, t->perconn,
		    "%s: max-msg-per-connection", t->domain);
		is_u64(p.max_rcpt_per_message, t->rcpt,
		    "%s: max-rcpt-per-message", t->domain);
		is_u64(p.bounce_after, t->bounce, "%s: bounce-after",
		    t->domain);
		ok(p.retry_after != NULL && p.retry_after->n == t->nretry &&
		    p.retry_after->v[0] == t->retry0, "%s: retry-after",
		    t->domain);
		ok(p.max_msg_rate.count == t->rcount &&
		    p.max_msg_rate.period == t->rperiod, "%s: max-msg-rate "
		    "%llu/%llus", t->domain, (unsigned long long)t->rcount,
		    (unsigned long long)t->rperiod);
		is_str(p.route, t->route, "%s: route", t->domain);
		is_str(p.smtp_hosts, t->hosts, "%s: smtp-hosts", t->domain);
	}
	config_free(c);

	/* Without "*": the domain's block over the built-ins. */
	c = load(BASE
	    "domains:\n"
	    "  example.com: {retry-after: 1m}\n", &e);
	if (ok(c != NULL, "domains without \"*\" load")) {
		config_domain_policy(c, "example.com", &p);
		ok(p.retry_after->n == 1 && p.retry_after->v[0] == 60,
		    "own retry-after");
		is_u64(p.max_smtp_out, 20, "built-in max-smtp-out");
		config_domain_policy(c, "other.com", &p);
		ok(p.retry_after->n == 1 && p.retry_after->v[0] == 600,
		    "other domain: built-in retry-after");
	}
	config_free(c);
	config_errors_free(&e);
}

/* config_parse_hostport on its own. */
static void
test_hostport(void)
{
	static const struct {
		const char	*in;
		uint16_t	 def;
		int		 rc, family;
		uint16_t	 port;
	} t[] = {
		{ "1.2.3.4:25", 0, 0, AF_INET, 25 },
		{ "[::1]:2525", 0, 0, AF_INET6, 2525 },
		{ "[1.2.3.4]:26", 0, 0, AF_INET, 26 },
		{ "[1.2.3.4]", 587, 0, AF_INET, 587 },
		{ "1.2.3.4", 25, 0, AF_INET, 25 },
		{ "0/0:25", 0, 0, AF_INET, 25 },
		{ "*:25", 0, 0, AF_INET, 25 },
		{ "1.2.3.4:65535", 0, 0, AF_INET, 65535 },
		{ "1.2.3.4", 0, -1, 0, 0 },
		{ "1.2.3.4:0", 0, -1, 0, 0 },
		{ "1.2.3.4:65536", 0, -1, 0, 0 },
		{ "1.2.3.4:", 0, -1, 0, 0 },
		{ "1.2.3.4:x", 0, -1, 0, 0 },
		{ "::1", 25, -1, 0, 0 },
		{ "::1:25", 0, -1, 0, 0 },
		{ "[::1", 25, -1, 0, 0 },
		{ "[::1]x", 25, -1, 0, 0 },
		{ "[::1]:", 25, -1, 0, 0 },
		{ "[]:25", 0, -1, 0, 0 },
		{ ":25", 0, -1, 0, 0 },
		{ "", 25, -1, 0, 0 },
		{ "host.example:25", 0, -1, 0, 0 },
		{ "1.2.3.256:25", 0, -1, 0, 0 },
		{ "[fe80::1%eth0]:25", 0, -1, 0, 0 },
	};
	struct cfg_addr	 a;
	const char	*err;
	unsigned	 i;

	for (i = 0; i < nitems(t); i++) {
		const struct sockaddr_in *sin = (void *)&a.ss;
		const struct sockaddr_in6 *sin6 = (void *)&a.ss;
		int	 rc;

		err = NULL;
		rc = config_parse_hostport(t[i].in, t[i].def, &a, &err);
		is_int(rc, t[i].rc, "hostport(\"%s\", %u) %s", t[i].in,
		    t[i].def, t[i].rc == 0 ? "accepted" : "refused");
		if (rc != 0 || t[i].rc != 0) {
			if (rc == -1)
				ok(err != NULL, "hostport(\"%s\") says why "
				    "(%s)", t[i].in, err ? err : "none");
			continue;
		}
		is_int(a.ss.ss_family, t[i].family, "hostport(\"%s\") family",
		    t[i].in);
		is_int(ntohs(t[i].family == AF_INET ? sin->sin_port :
		    sin6->sin6_port), t[i].port, "hostport(\"%s\") port",
		    t[i].in);
	}
}

struct bad {
	const char	*what;
	const char	*text;
	const char	*first;		/* the exact first error */
	bool		 prefix;	/* compare only strlen(first) bytes */
	const char	*todo;
};

/*
 * Each row: what, the file, and its first error.  Lines 1-5 are BASE.
 * The column is where libyaml says the offending node starts: a key or
 * plain scalar at its first character, a quoted scalar at its quote, a
 * flow collection at its bracket, a block mapping at its first key, an
 * anchored or tagged node at the '&' or '!', an alias at the '*'.
 * Errors about references between blocks and missing keys are reported
 * at the root node: the first key of the file.
 */
static const struct bad bads[] = {
	/* 6: "frobnicate: yes" - the key at column 1 */
	{ "unknown top-level key",
	    BASE "frobnicate: yes\n",
	    "bad.yaml:6:1: top level: unknown key \"frobnicate\"",
	    false, NULL },
	/* 9: "    max-smtp-outt: 6" - the key after 4 blanks */
	{ "unknown key in a domain",
	    BASE "domains:\n"				/* 6 */
	    "  example.com:\n"				/* 7 */
	    "    max-smtp-out: 5\n"			/* 8 */
	    "    max-smtp-outt: 6\n",			/* 9 */
	    "bad.yaml:9:5: example.com: unknown key \"max-smtp-outt\"",
	    false, NULL },
	/* 5: "  mta-a: {color: blue}" - '{' at 10, "color" at 11 */
	{ "unknown key in a virtual-mta",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: {color: blue}\n",
	    "bad.yaml:5:11: mta-a: unknown key \"color\"", false, NULL },
	/* 8: "    smtp-srvice: yes" - key at 5 */
	{ "unknown key in a source",
	    BASE "sources:\n"				/* 6 */
	    "  10.0.0.0/8:\n"				/* 7 */
	    "    smtp-srvice: yes\n",			/* 8 */
	    "bad.yaml:8:5: 10.0.0.0/8: unknown key \"smtp-srvice\"",
	    false, NULL },
	/* 7: the block mapping under host-name starts at its key "name" */
	{ "mapping where a scalar is expected",
	    BASE "host-name:\n"			/* 6 */
	    "  name: x\n",				/* 7 */
	    "bad.yaml:7:3: host-name: expected a single value, found a "
	    "mapping", false, NULL },
	/* 6: "host-name: [a, b]" - '[' at 12 */
	{ "list where a scalar is expected",
	    BASE "host-name: [a, b]\n",
	    "bad.yaml:6:12: host-name: expected a single value, found a list",
	    false, NULL },
	/* 3: "smtp-listener: 127.0.0.1:2525" - value at 16 */
	{ "scalar where a list is expected",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: 127.0.0.1:2525\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:3:16: smtp-listener: expected a list, e.g. "
	    "[\"127.0.0.1:2525\"]", false, NULL },
	/* 6: "sources: 10.0.0.0/8" - value at 10 */
	{ "scalar where a mapping is expected",
	    BASE "sources: 10.0.0.0/8\n",
	    "bad.yaml:6:10: sources: expected a mapping of CIDR: {settings}",
	    false, NULL },
	/* 7: "  example.com: [1]" - '[' at 16 */
	{ "list where a domain block is expected",
	    BASE "domains:\n"				/* 6 */
	    "  example.com: [1]\n",			/* 7 */
	    "bad.yaml:7:16: example.com: expected a mapping (key: value), "
	    "found a list", false, NULL },
	/* 1: the whole file is a list at column 1 */
	{ "top level is a list",
	    "- spool-dir: /x\n",
	    "bad.yaml:1:1: top level: expected a mapping (key: value), found "
	    "a list", false, NULL },
	/* 8: "    max-smtp-out: 0" - 4 + 13 + 1 blank: value at 19 */
	{ "max-smtp-out: 0 out of range",
	    BASE "domains:\n"				/* 6 */
	    "  example.com:\n"				/* 7 */
	    "    max-smtp-out: 0\n",			/* 8 */
	    "bad.yaml:8:19: max-smtp-out: expected a whole number from 1 to "
	    "10000, found \"0\"", false, NULL },
	/* 7: "  \"*\": {max-smtp-out: 10001}" - '{' at 8, value at 23 */
	{ "max-smtp-out: 10001 out of range",
	    BASE "domains:\n"				/* 6 */
	    "  \"*\": {max-smtp-out: 10001}\n",	/* 7 */
	    "bad.yaml:7:23: max-smtp-out: expected a whole number from 1 to "
	    "10000, found \"10001\"", false, NULL },
	/* 6: "total-max-smtp-in: -1" - value at 20 */
	{ "negative number",
	    BASE "total-max-smtp-in: -1\n",
	    "bad.yaml:6:20: total-max-smtp-in: expected a whole number from 1 "
	    "to 100000, found \"-1\"", false, NULL },
	/* 6: "smtp-idle-timeout: 10x" - value at 20 */
	{ "bad duration",
	    BASE "smtp-idle-timeout: 10x\n",
	    "bad.yaml:6:20: smtp-idle-timeout: unknown duration unit (use s, "
	    "m, h, d or w): \"10x\"", false, NULL },
	{ "duration out of range",
	    BASE "smtp-idle-timeout: 2h\n",
	    "bad.yaml:6:20: smtp-idle-timeout: 2h is out of range (1s to "
	    "3600s)", false, NULL },
	/* 8: "    bounce-after: 3661d" - value at 19 */
	{ "bounce-after over ten years",
	    BASE "domains:\n"				/* 6 */
	    "  x.org:\n"				/* 7 */
	    "    bounce-after: 3661d\n",		/* 8 */
	    "bad.yaml:8:19: bounce-after: duration longer than ten years: "
	    "\"3661d\"", false, NULL },
	/* 8: "    retry-after: 10m,,1h" - value at 18 */
	{ "bad retry list",
	    BASE "domains:\n"				/* 6 */
	    "  x.org:\n"				/* 7 */
	    "    retry-after: 10m,,1h\n",		/* 8 */
	    "bad.yaml:8:18: retry-after: empty or overlong interval in list: "
	    "\"10m,,1h\"", false, NULL },
	/* 8: "    max-msg-rate: 0/h" - value at 19 */
	{ "bad rate",
	    BASE "domains:\n"				/* 6 */
	    "  x.org:\n"				/* 7 */
	    "    max-msg-rate: 0/h\n",			/* 8 */
	    "bad.yaml:8:19: max-msg-rate: rate count must be a number from 1 "
	    "to 1000000000: \"0/h\"", false, NULL },
	/* 6: "max-message-size: 50Q" - value at 19 */
	{ "bad size",
	    BASE "max-message-size: 50Q\n",
	    "bad.yaml:6:19: max-message-size: unknown size unit (use K, M or "
	    "G): \"50Q\"", false, NULL },
	{ "size below the minimum",
	    BASE "max-message-size: 100\n",
	    "bad.yaml:6:19: max-message-size: 100 is out of range",
	    false, NULL },
	{ "size over the maximum",
	    BASE "max-message-size: 2048G\n",
	    "bad.yaml:6:19: max-message-size: 2048G is out of range",
	    false, NULL },
	/* 8: "    smtp-service: maybe" - value at 19 */
	{ "bad boolean",
	    BASE "sources:\n"				/* 6 */
	    "  0/0:\n"					/* 7 */
	    "    smtp-service: maybe\n",		/* 8 */
	    "bad.yaml:8:19: smtp-service: expected yes or no, found "
	    "\"maybe\"", false, NULL },
	/* 6: "host-name: bad!host" - value at 12 */
	{ "bad host name",
	    BASE "host-name: bad!host\n",
	    "bad.yaml:6:12: host-name: \"bad!host\" is not a valid host name",
	    false, NULL },
	/* 1: "spool-dir: var/spool" - value at 12 */
	{ "relative spool-dir",
	    "spool-dir: var/spool\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:1:12: spool-dir: \"var/spool\": expected a path",
	    false, NULL },
	/* 6: "user: \"te rn\"" - the quote at 7 */
	{ "bad user name",
	    BASE "user: \"te rn\"\n",
	    "bad.yaml:6:7: user: \"te rn\" is not a valid name (letters, "
	    "digits, '-', '_', '.', at most 64)", false, NULL },
	/* 8: "    route: \"bad host:25\"" - the quote at 12 */
	{ "bad route",
	    BASE "domains:\n"				/* 6 */
	    "  x.org:\n"				/* 7 */
	    "    route: \"bad host:25\"\n",		/* 8 */
	    "bad.yaml:8:12: route: \"bad host:25\" is not [ip]:port, ip:port, "
	    "host or host:port", false, NULL },
	/* 7: "  \"bad domain\": {}" - the quote at 3 */
	{ "bad domain name",
	    BASE "domains:\n"				/* 6 */
	    "  \"bad domain\": {}\n",			/* 7 */
	    "bad.yaml:7:3: domains: \"bad domain\" is not a domain name or "
	    "\"*\"", false, NULL },
	/* 6: "log-dir: &r /var/log/tern" - the '&' at 10 */
	{ "YAML anchor on a scalar",
	    BASE "log-dir: &r /var/log/tern\n",
	    "bad.yaml:6:10: YAML anchors and tags are not allowed",
	    false, NULL },
	/* 5: "  mta-a: &m {}" - the '&' at 10 */
	{ "YAML anchor on a mapping",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: &m {}\n",
	    "bad.yaml:5:10: YAML anchors are not allowed", false, NULL },
	/* 6: "log-dir: *r" - the '*' at 10 */
	{ "YAML alias",
	    BASE "log-dir: *r\n",
	    "bad.yaml:6:10: YAML aliases (*name) are not allowed",
	    false, NULL },
	/* 6: "log-dir: !!str /x" - the '!' at 10 */
	{ "YAML tag on a scalar",
	    BASE "log-dir: !!str /var/log\n",
	    "bad.yaml:6:10: YAML anchors and tags are not allowed",
	    false, NULL },
	/* 5: "  mta-a: !!map {}" - the '!' at 10 */
	{ "YAML tag on a mapping",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: !!map {}\n",
	    "bad.yaml:5:10: ", true, BUG_TAGS },
	/* 6: the second "run-dir" key at column 1 */
	{ "duplicate top-level key",
	    BASE "run-dir: /run/other\n",
	    "bad.yaml:6:1: top level: duplicate key \"run-dir\"", false, NULL },
	/* 9: the second "max-smtp-out" at column 5 */
	{ "duplicate key in a domain",
	    BASE "domains:\n"				/* 6 */
	    "  x.org:\n"				/* 7 */
	    "    max-smtp-out: 1\n"			/* 8 */
	    "    max-smtp-out: 2\n",			/* 9 */
	    "bad.yaml:9:5: x.org: duplicate key \"max-smtp-out\"",
	    false, NULL },
	/* 8: the second "example.com" at column 3 */
	{ "duplicate domain",
	    BASE "domains:\n"				/* 6 */
	    "  example.com: {max-smtp-out: 1}\n"	/* 7 */
	    "  example.com: {max-smtp-out: 2}\n",	/* 8 */
	    "bad.yaml:8:3: ", true, BUG_DUPS },
	/* 7: "  Example.com" differs only in case: still the same domain */
	{ "duplicate domain in another case",
	    BASE "domains:\n"				/* 6 */
	    "  example.com: {max-smtp-out: 1}\n"	/* 7 */
	    "  Example.COM: {max-smtp-out: 2}\n",	/* 8 */
	    "bad.yaml:8:3: ", true, BUG_DUPS },
	/* 6: the second "mta-a" at column 3 */
	{ "duplicate virtual-mta",
	    BASE "  mta-a: {}\n",			/* 6 */
	    "bad.yaml:6:3: ", true, BUG_DUPS },
	/* 8: the second "0/0" at column 3 */
	{ "duplicate source",
	    BASE "sources:\n"				/* 6 */
	    "  0/0: {smtp-service: yes}\n"		/* 7 */
	    "  0/0: {smtp-service: no}\n",		/* 8 */
	    "bad.yaml:8:3: ", true, BUG_DUPS },
	/* 8: the second "p" at column 3 */
	{ "duplicate pool",
	    BASE "virtual-mta-pools:\n"		/* 6 */
	    "  p: [mta-a]\n"				/* 7 */
	    "  p: [mta-a]\n",				/* 8 */
	    "bad.yaml:8:3: ", true, BUG_DUPS },
	/* 5: the second key inside {...}: '{' at 10, keys at 11 and 42 */
	{ "duplicate smtp-source-host",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: {smtp-source-host: 1.2.3.4 a.b, smtp-source-host: "
	    "1.2.3.5 c.d}\n",
	    "bad.yaml:5:42: ", true, BUG_DUPS },
	/* reference errors are reported where the name is written */
	/* "  pool-1: [mta-a, mta-x]", mta-x at 19 */
	{ "undefined pool member",
	    BASE "virtual-mta-pools:\n"		/* 6 */
	    "  pool-1: [mta-a, mta-x]\n",		/* 7 */
	    "bad.yaml:7:19: virtual-mta-pools: pool-1: \"mta-x\" is not a "
	    "virtual-mta", false, NULL },
	{ "undefined pool member, at the member",
	    BASE "virtual-mta-pools:\n"		/* 6 */
	    "  pool-1: [mta-a, mta-x]\n",		/* 7 */
	    "bad.yaml:7:19: ", true, BUG_XREF_POS },
	{ "pool named like a virtual-mta",
	    BASE "virtual-mta-pools:\n"		/* 6 */
	    "  mta-a: [mta-a]\n",			/* 7 */
	    "bad.yaml:1:1: virtual-mta-pools: \"mta-a\" is also a virtual-mta "
	    "name", false, NULL },
	/* 7: "  pool-1: []" - '[' at 11 (the message goes on) */
	{ "empty pool",
	    BASE "virtual-mta-pools:\n"		/* 6 */
	    "  pool-1: []\n",				/* 7 */
	    "bad.yaml:7:11: pool-1: expected a non-empty list of virtual-mta "
	    "names", true, NULL },
	/* 8: "  pool-w: {mta-a: 1, mta-b: 0}" - '{' at 11, the 0 at 29 */
	{ "pool weight 0",
	    BASE "  mta-b: {}\n"			/* 6 */
	    "virtual-mta-pools:\n"			/* 7 */
	    "  pool-w: {mta-a: 1, mta-b: 0}\n",	/* 8 */
	    "bad.yaml:8:29: pool-w: mta-b: weight must be a number from 1 to "
	    "1000", false, NULL },
	/* a comment first: the root starts at 2:1 */
	{ "default-virtual-mta naming nothing",
	    "# default names nothing\n"		/* 1 */
	    "spool-dir: /var/spool/tern\n"		/* 2 */
	    "run-dir: /run/tern\n"			/* 3 */
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"	/* 4 */
	    "virtual-mtas:\n"				/* 5 */
	    "  mta-a: {}\n"				/* 6 */
	    "default-virtual-mta: nowhere\n",		/* 7 */
	    "bad.yaml:7:22: default-virtual-mta: \"nowhere\" is neither a "
	    "virtual-mta nor a pool", false, NULL },
	/* ...where the value is: "default-virtual-mta: nowhere", at 22 */
	{ "default-virtual-mta naming nothing, at the value",
	    BASE "default-virtual-mta: nowhere\n",	/* 6 */
	    "bad.yaml:6:22: ", true, BUG_XREF_POS },
	{ "source default-virtual-mta naming nothing",
	    BASE "sources:\n"				/* 6 */
	    "  0/0: {default-virtual-mta: nope}\n",	/* 7 */
	    "bad.yaml:7:30: sources: 0/0: \"nope\" is "
	    "neither a virtual-mta nor a pool", false, NULL },
	/* 7: "  10.0.0.0/33:" - key at 3 */
	{ "bad CIDR prefix",
	    BASE "sources:\n"				/* 6 */
	    "  10.0.0.0/33:\n"				/* 7 */
	    "    smtp-service: yes\n",			/* 8 */
	    "bad.yaml:7:3: sources: \"10.0.0.0/33\" is not an address or CIDR "
	    "(e.g. 10.0.0.0/8, 0/0)", false, NULL },
	{ "bad CIDR address",
	    BASE "sources:\n"				/* 6 */
	    "  10.0.0/8: {}\n",			/* 7 */
	    "bad.yaml:7:3: sources: \"10.0.0/8\" is not an address or CIDR "
	    "(e.g. 10.0.0.0/8, 0/0)", false, NULL },
	{ "CIDR without a prefix after '/'",
	    BASE "sources:\n"				/* 6 */
	    "  10.0.0.0/: {}\n",			/* 7 */
	    "bad.yaml:7:3: sources: \"10.0.0.0/\" is not an address or CIDR "
	    "(e.g. 10.0.0.0/8, 0/0)", false, NULL },
	/*
	 * 3: "smtp-listener: [\"127.0.0.1:2525\", \"127.0.0.1:99999\"]"
	 * '[' at 16, the first item at 17-32, the second's quote at 35
	 */
	{ "listener port out of range",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\", \"127.0.0.1:99999\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:3:35: smtp-listener: \"127.0.0.1:99999\": port must be a "
	    "number from 1 to 65535", false, NULL },
	/* 4: "  - 127.0.0.1" - the item at 5 */
	{ "listener without a port",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener:\n"
	    "  - 127.0.0.1\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:4:5: smtp-listener: \"127.0.0.1\": a port is required "
	    "(address:port)", false, NULL },
	{ "listener IPv6 without brackets",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener:\n"
	    "  - \"::1:25\"\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:4:5: smtp-listener: \"::1:25\": IPv6 addresses need "
	    "brackets: [::1]:25", false, NULL },
	{ "listener host name",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener:\n"
	    "  - localhost:25\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:4:5: smtp-listener: \"localhost:25\": not an IP "
	    "address", false, NULL },
	/* 3: "smtp-listener: []" - '[' at 16 */
	{ "no listeners",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: []\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:3:16: smtp-listener: between 1 and 64 listeners",
	    false, NULL },
	/* 6: "    smtp-source-host: a.example" - value at 23 */
	{ "smtp-source-host without an IP",
	    BASE "  mta-b:\n"				/* 6 */
	    "    smtp-source-host: a.example\n",	/* 7 */
	    "bad.yaml:7:23: smtp-source-host: expected \"IP HOSTNAME\"",
	    false, NULL },
	{ "smtp-source-host with a bad IP",
	    BASE "  mta-b:\n"				/* 6 */
	    "    smtp-source-host: 999.1.1.1 a.example\n",	/* 7 */
	    "bad.yaml:7:23: smtp-source-host: \"999.1.1.1\": not an IP "
	    "address", false, NULL },
	/*
	 * 3: " smtp-listener: ..." continues the plain scalar of line 2,
	 * so its ':' (column 15) may not start a value here.
	 */
	{ "syntax error: bad indentation",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    " smtp-listener: [\"127.0.0.1:2525\"]\n",
	    "bad.yaml:3:15: YAML syntax error: mapping values are not allowed "
	    "in this context", false, NULL },
	/* 5: a tab may not indent a block: reported at the tab, 5:1 */
	{ "syntax error: tab indentation",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "\tmta-a: {}\n",
	    "bad.yaml:5:1: YAML syntax error: found character that cannot "
	    "start any token while scanning for the next token", false, NULL },
	/* the root mapping starts at the first key, 2:1 after a comment */
	{ "missing spool-dir",
	    "# no spool-dir\n"				/* 1 */
	    "run-dir: /run/tern\n"			/* 2 */
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"	/* 3 */
	    "virtual-mtas:\n"				/* 4 */
	    "  mta-a: {}\n",				/* 5 */
	    "bad.yaml:2:1: required key \"spool-dir\" is missing",
	    false, NULL },
	{ "missing run-dir",
	    "spool-dir: /var/spool/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:1:1: required key \"run-dir\" is missing", false, NULL },
	{ "missing smtp-listener",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "virtual-mtas:\n"
	    "  mta-a: {}\n",
	    "bad.yaml:1:1: required key \"smtp-listener\" is missing",
	    false, NULL },
	{ "no virtual-mtas",
	    "spool-dir: /var/spool/tern\n"
	    "run-dir: /run/tern\n"
	    "smtp-listener: [\"127.0.0.1:2525\"]\n",
	    "bad.yaml:1:1: at least one entry in \"virtual-mtas\" is "
	    "required", false, NULL },
	/* 6: the second document's "---" at column 1 */
	{ "two documents",
	    BASE "---\n"				/* 6 */
	    "spool-dir: /other\n",			/* 7 */
	    "bad.yaml:6:1: only one YAML document is allowed", false, NULL },
	/* 7: with an explicit first "---" at 1, the second is on line 7 */
	{ "two explicit documents",
	    "---\n" BASE "---\n",			/* 1, 2-6, 7 */
	    "bad.yaml:7:1: only one YAML document is allowed", false, NULL },
	/* 1: "x: " then 16 '[': the 16th, at column 19, is depth 17 */
	{ "nesting deeper than 16",
	    "x: [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]\n",
	    "bad.yaml:1:19: nesting deeper than 16 levels", false, NULL },
	{ "empty file",
	    "",
	    "bad.yaml: file is empty", false, NULL },
	{ "only a comment",
	    "# nothing here\n",
	    "bad.yaml: file is empty", false, NULL },
};

static void
test_bad(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	unsigned		 i, j;

	for (i = 0; i < nitems(bads); i++) {
		const struct bad *b = &bads[i];
		const char	 *got;

		/* Misplaced errors are still errors: only the place is TODO. */
		if (b->todo)
			todo_start(b->todo);
		c = load(b->text, &e);
		got = e.n > 0 ? e.msg[0] : NULL;
		ok(c == NULL && e.n > 0, "%s: refused", b->what);
		if (b->todo)
			todo_start(b->todo);
		if (b->prefix)
			ok(got != NULL && strncmp(got, b->first,
			    strlen(b->first)) == 0, "%s: first error starts "
			    "\"%s\"", b->what, b->first);
		else if (!is_str(got, b->first, "%s: first error", b->what))
			for (j = 1; j < e.n; j++)
				diag("    then: %s", e.msg[j]);
		if (b->todo) {
			todo_end();
			if (got != NULL && !b->prefix)
				diag("    got: %s", got);
		}
		config_free(c);
		config_errors_free(&e);
	}
}

/* Sanity of the bad table itself: BASE alone must load. */
static void
test_base(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c = load(BASE, &e);

	ok(c != NULL && e.n == 0, "BASE loads without errors");
	config_free(c);
	config_errors_free(&e);
}

static void
test_limits(void)
{
	struct cfg_errors	 e;
	struct tern_config	*c;
	struct buf		 b;
	char			 line[64], *big;
	size_t			 n, i;
	int			 pfd[2];

	/* A NUL byte anywhere. */
	memset(&e, 0, sizeof(e));
	c = config_load_buf("bad.yaml", BASE "x\0y", sizeof(BASE "x\0y") - 1,
	    &e);
	ok(c == NULL, "NUL byte refused");
	is_str(e.n ? e.msg[0] : NULL, "bad.yaml: file contains a NUL byte",
	    "NUL byte message");
	config_errors_free(&e);

	/* Over CFG_FILE_MAX. */
	n = CFG_FILE_MAX + 1;
	big = xmalloc(n);
	memset(big, '#', n);
	c = config_load_buf("bad.yaml", big, n, &e);
	ok(c == NULL, "file over %d bytes refused", CFG_FILE_MAX);
	is_str(e.n ? e.msg[0] : NULL, "bad.yaml: file larger than 1048576 "
	    "bytes", "oversize message");
	config_errors_free(&e);
	free(big);

	/*
	 * More than CFG_NODES_MAX nodes: "x: [1,1,...]".  Nodes counted:
	 * root mapping, "x", the list, then items; the 100001st node is
	 * item 99997 (from 0), at column 5 + 2 * 99997 = 199999.
	 */
	buf_init(&b, CFG_FILE_MAX);
	buf_addstr(&b, "x: [");
	for (i = 0; i < 100010; i++)
		buf_addstr(&b, i ? ",1" : "1");
	buf_addstr(&b, "]\n");
	c = load(b.data, &e);
	ok(c == NULL, "over %d nodes refused", CFG_NODES_MAX);
	is_str(e.n ? e.msg[0] : NULL, "bad.yaml:1:199999: more than 100000 "
	    "YAML nodes", "node limit message and position");
	config_errors_free(&e);
	buf_free(&b);

	/* Errors are capped at CFG_ERRORS_MAX; the rest are counted. */
	buf_init(&b, CFG_FILE_MAX);
	buf_addstr(&b, BASE);
	for (i = 0; i < 60; i++) {
		snprintf(line, sizeof(line), "unknown-%zu: 1\n", i);
		buf_addstr(&b, line);
	}
	c = load(b.data, &e);
	ok(c == NULL, "60 unknown keys refused");
	is_int(e.n, CFG_ERRORS_MAX, "%d errors kept", CFG_ERRORS_MAX);
	is_int(e.dropped, 10, "10 errors dropped");
	is_str(e.n ? e.msg[0] : NULL, "bad.yaml:6:1: top level: unknown key "
	    "\"unknown-0\"", "first of many errors");
	is_str(e.n == CFG_ERRORS_MAX ? e.msg[CFG_ERRORS_MAX - 1] : NULL,
	    "bad.yaml:55:1: top level: unknown key \"unknown-49\"",
	    "50th error");

	/* config_errors_print writes one line each, then the count. */
	if (pipe(pfd) == 0) {
		char	 out[8192];
		ssize_t	 r;
		int	 lines = 0;

		config_errors_print(&e, pfd[1]);
		close(pfd[1]);
		r = read(pfd[0], out, sizeof(out) - 1);
		out[r > 0 ? r : 0] = '\0';
		close(pfd[0]);
		for (i = 0; out[i] != '\0'; i++)
			lines += out[i] == '\n';
		is_int(lines, CFG_ERRORS_MAX + 1, "printed %d lines",
		    CFG_ERRORS_MAX + 1);
		ok(strstr(out, "(10 more errors)\n") != NULL,
		    "printed the dropped count");
	} else
		skip(2, "pipe failed");
	config_errors_free(&e);
	ok(e.n == 0 && e.dropped == 0, "config_errors_free resets");
	buf_free(&b);

	/* Errors accumulate across loads until freed. */
	memset(&e, 0, sizeof(e));
	c = config_load_buf("a.yaml", "x: 1\n", 5, &e);
	c = config_load_buf("b.yaml", "y: 1\n", 5, &e);
	ok(c == NULL && e.n >= 2 && strncmp(e.msg[0], "a.yaml:", 7) == 0,
	    "a second load appends to the same error list");
	config_errors_free(&e);
}

static void
test_file(void)
{
	struct cfg_errors	 e;
	struct tern_config	*a, *b;
	const char		*dir = getenv("TMPDIR");
	char			 path[512];
	int			 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/tern-unit-config.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1) {
		skip(4, "mkstemp failed");
		return;
	}
	write_all(fd, good_yaml, strlen(good_yaml));
	close(fd);
	memset(&e, 0, sizeof(e));
	a = config_load_file(path, &e);
	b = config_load_buf("other-name", good_yaml, strlen(good_yaml), &e);
	ok(a != NULL && b != NULL, "config_load_file loads the good file");
	ok(a != NULL && strcmp(a->path, path) == 0, "path recorded");
	ok(a != NULL && b != NULL && strcmp(a->hash, b->hash) == 0,
	    "same bytes, same hash");
	config_free(a);
	config_free(b);
	unlink(path);
	a = config_load_file(path, &e);
	ok(a == NULL && e.n == 1 && strstr(e.msg[0], path) == e.msg[0] &&
	    strstr(e.msg[0], "No such file") != NULL,
	    "missing file: \"path: No such file or directory\"");
	config_errors_free(&e);
}

int
main(void)
{
	test_good();
	test_defaults();
	test_source_policy();
	test_domain_policy();
	test_hostport();
	test_base();
	test_bad();
	test_limits();
	test_file();
	return done_testing();
}
