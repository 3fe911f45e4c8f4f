/*
 * config.c - the one YAML configuration file, strict and schema-driven.
 *
 * Purpose:      two passes over the bytes.  The event pass refuses what
 *               the schema never needs and what makes a small file big:
 *               anchors, aliases, tags, several documents, depth > 16,
 *               more than 100000 nodes.  The document pass walks the tree
 *               against the field tables below, one table per block, and
 *               records every problem with its line and column.
 * Used by:      every process.
 * Trust:        administrator input, bounded (CFG_FILE_MAX and the above).
 * Spool access: none.
 * See:          tern.yaml(5).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <regex.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml.h>

#include "config.h"
#include "hmap.h"
#include "log.h"
#include "mailaddr.h"
#include "util.h"

/* A name that must resolve once the whole file is read. */
struct ref {
	yaml_node_t		 at;	/* for the line and column */
	char			 what[80];
	char			*name;
	bool			 vmta_only;
};

struct ctx {
	const char		*file;
	yaml_document_t		*doc;
	struct cfg_errors	*err;
	struct tern_config	*cfg;
	struct ref		*refs;
	unsigned		 nrefs;
	struct ref		*prefs;		/* smtp-pattern-list names */
	unsigned		 nprefs;
	struct cfg_vmta		*vm;		/* the virtual-mta being read */
};

enum ftype {
	F_BOOL, F_UINT, F_DURATION, F_SIZE, F_SIZE_FINITE, F_RATE, F_DURLIST,
	F_STR, F_NAME,
	F_HOSTNAME, F_PATH, F_ROUTE, F_PERCENT
};

struct field {
	const char	*key;
	enum ftype	 type;
	size_t		 off;
	uint64_t	 setbit;
	uint64_t	 min;
	uint64_t	 max;
};

static void cerr(struct ctx *, const yaml_node_t *, const char *, ...)
	__attribute__((format(printf, 3, 4)));

static void
cerr(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (c->err == NULL)
		return;
	if (c->err->n == CFG_ERRORS_MAX) {
		c->err->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->err->msg[c->err->n++] = n != NULL ?
	    xasprintf("%s:%zu:%zu: %s", c->file, n->start_mark.line + 1,
		n->start_mark.column + 1, msg) :
	    xasprintf("%s: %s", c->file, msg);
}

static yaml_node_t *
node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
	    : NULL;
}

static const char *
kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/* Scalar checks shared by several field types. */
static bool
scalar_bool(const char *s, bool *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	unsigned i;

	for (i = 0; i < nitems(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
	for (i = 0; i < nitems(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	return false;
}

/* config_name_ok - a virtual-mta, pool or job-free name */
bool
config_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > CFG_NAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static bool
valid_hostname(const char *s)
{
	size_t	 n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static bool
valid_text(const char *s, size_t max)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return n > 0 && n <= max;
}

/* config_parse_hostport - "1.2.3.4:25", "[::1]:25", "0/0:25", "[1.2.3.4]" */
int
config_parse_hostport(const char *s, uint16_t defport, struct cfg_addr *a,
    const char **err)
{
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*p, *colon;
	uint64_t	 port = defport;
	size_t		 hlen;
	struct sockaddr_in  *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL) {
			*err = "missing ']' in address";
			return -1;
		}
		hlen = (size_t)(p - s - 1);
		s++;
		colon = p[1] == ':' ? p + 1 : NULL;
		if (p[1] != '\0' && colon == NULL) {
			*err = "junk after ']'";
			return -1;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon) {
			*err = "IPv6 addresses need brackets: [::1]:25";
			return -1;
		}
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*err = "missing or overlong address";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "0/0") == 0 || strcmp(host, "*") == 0)
		tern_strlcpy(host, "0.0.0.0", sizeof(host));
	if (colon != NULL && parse_u64(colon + 1, 1, 65535, &port) == -1) {
		*err = "port must be a number from 1 to 65535";
		return -1;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
	} else {
		*err = "not an IP address";
		return -1;
	}
	if (port == 0) {
		*err = "a port is required (address:port)";
		return -1;
	}
	return 0;
}

/* A route is "[ip]:port", "ip:port", "host" or "host:port". */
static bool
valid_route(const char *s)
{
	struct cfg_addr	 a;
	const char	*e;
	char		 host[256];
	const char	*colon;
	uint64_t	 port;
	size_t		 n;

	if (config_parse_hostport(s, 25, &a, &e) == 0)
		return true;
	colon = strrchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon != NULL && parse_u64(colon + 1, 1, 65535, &port) == -1)
		return false;
	return valid_hostname(host);
}

/*
 * parse_percent - "10%", "0.3%", "100%" -> parts per million.  Three
 * decimals at most: finer shares mean nothing for a daily sample.
 */
static int
parse_percent(const char *s, uint64_t *ppm)
{
	uint64_t	 whole = 0, frac = 0;
	unsigned	 nd = 0, nw = 0;

	for (; *s >= '0' && *s <= '9' && nw < 4; s++, nw++)
		whole = whole * 10 + (uint64_t)(*s - '0');
	if (nw == 0)
		return -1;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, nd++) {
			if (nd >= 3)
				return -1;
			frac = frac * 10 + (uint64_t)(*s - '0');
		}
	if (strcmp(s, "%") != 0)
		return -1;
	while (nd++ < 4)
		frac *= 10;
	*ppm = whole * 10000 + frac;
	return *ppm > 1000000 ? -1 : 0;
}

/* set_field - decode one scalar into the struct at base per its row */
static void
set_field(struct ctx *c, const struct field *f, void *base, uint64_t *set,
    const yaml_node_t *v)
{
	const char	*s = scalar(v), *e = NULL;
	char		*p = (char *)base + f->off;
	uint64_t	 u;

	if (s == NULL) {
		cerr(c, v, "%s: expected a single value, found %s", f->key,
		    kind(v));
		return;
	}
	switch (f->type) {
	case F_BOOL:
		if (!scalar_bool(s, (bool *)p)) {
			cerr(c, v, "%s: expected yes or no, found \"%s\"",
			    f->key, s);
			return;
		}
		break;
	case F_UINT:
		if (parse_u64(s, f->min, f->max, &u) == -1) {
			cerr(c, v, "%s: expected a whole number from %llu to "
			    "%llu, found \"%s\"", f->key,
			    (unsigned long long)f->min,
			    (unsigned long long)f->max, s);
			return;
		}
		*(uint64_t *)p = u;
		break;
	case F_DURATION:
		if (units_duration(s, &u, &e) == -1) {
			cerr(c, v, "%s: %s: \"%s\"", f->key, e, s);
			return;
		}
		if (u < f->min || u > f->max) {
			cerr(c, v, "%s: %s is out of range (%llus to %llus)",
			    f->key, s, (unsigned long long)f->min,
			    (unsigned long long)f->max);
			return;
		}
		*(uint64_t *)p = u;
		break;
	case F_SIZE:
	case F_SIZE_FINITE:
		if (units_size(s, &u, &e) == -1) {
			cerr(c, v, "%s: %s: \"%s\"", f->key, e, s);
			return;
		}
		if (u == UNITS_SIZE_UNLIMITED && f->type == F_SIZE_FINITE) {
			cerr(c, v, "%s: must be a size, not unlimited", f->key);
			return;
		}
		if (u < f->min || (u > f->max && u != UNITS_SIZE_UNLIMITED)) {
			cerr(c, v, "%s: %s is out of range", f->key, s);
			return;
		}
		*(uint64_t *)p = u;
		break;
	case F_RATE:
		if (units_rate(s, (struct rate *)p, &e) == -1) {
			cerr(c, v, "%s: %s: \"%s\"", f->key, e, s);
			return;
		}
		break;
	case F_PERCENT:
		if (parse_percent(s, &u) == -1) {
			cerr(c, v, "%s: expected a percentage such as 10%% or "
			    "0.3%%, found \"%s\"", f->key, s);
			return;
		}
		*(uint64_t *)p = u;
		break;
	case F_DURLIST:
		if (units_durlist(s, (struct durlist *)p, &e) == -1) {
			cerr(c, v, "%s: %s: \"%s\"", f->key, e, s);
			return;
		}
		break;
	case F_NAME:
		if (!config_name_ok(s)) {
			cerr(c, v, "%s: \"%s\" is not a valid name (letters, "
			    "digits, '-', '_', '.', at most %d)", f->key, s,
			    CFG_NAME_MAX);
			return;
		}
		goto str;
	case F_HOSTNAME:
		if (!valid_hostname(s)) {
			cerr(c, v, "%s: \"%s\" is not a valid host name",
			    f->key, s);
			return;
		}
		goto str;
	case F_PATH:
		if (s[0] != '/' && s[0] != '.') {
			cerr(c, v, "%s: \"%s\": expected a path", f->key, s);
			return;
		}
		/* FALLTHROUGH */
	case F_STR:
		if (!valid_text(s, f->max ? f->max : 1024)) {
			cerr(c, v, "%s: empty, overlong or control characters",
			    f->key);
			return;
		}
		goto str;
	case F_ROUTE:
		if (!valid_route(s)) {
			cerr(c, v, "%s: \"%s\" is not [ip]:port, ip:port, "
			    "host or host:port", f->key, s);
			return;
		}
	str:
		free(*(char **)p);
		*(char **)p = xstrdup(s);
		break;
	}
	if (set != NULL)
		*set |= f->setbit;
}

typedef void (*special_fn)(struct ctx *, const yaml_node_t *);
struct special {
	const char	*key;
	special_fn	 fn;
};

/* walk_map - apply field rows and special handlers to a mapping node */
static void
walk_map(struct ctx *c, const yaml_node_t *m, const char *what,
    const struct field *fields, size_t nfields, void *base, uint64_t *set,
    const struct special *sp, size_t nsp)
{
	yaml_node_pair_t *pair;
	struct hmap	  seen;
	unsigned	  i;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "%s: expected a mapping (key: value), found %s",
		    what, kind(m));
		return;
	}
	/* Every key, however many: a handler must never run twice. */
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		const char  *ks = scalar(k);
		bool	     done = false;

		if (ks == NULL) {
			cerr(c, k, "%s: keys must be plain names", what);
			continue;
		}
		if (hmap_get(&seen, ks) != NULL) {
			cerr(c, k, "%s: duplicate key \"%s\"", what, ks);
			continue;
		}
		hmap_put(&seen, ks, (void *)1);
		for (i = 0; i < nfields && !done; i++)
			if (strcmp(fields[i].key, ks) == 0) {
				set_field(c, &fields[i], base, set, v);
				done = true;
			}
		for (i = 0; i < nsp && !done; i++)
			if (strcmp(sp[i].key, ks) == 0) {
				sp[i].fn(c, v);
				done = true;
			}
		if (!done)
			cerr(c, k, "%s: unknown key \"%s\"", what, ks);
	}
	hmap_clear(&seen);
}

/* find_value - the value node of key in a mapping, else the mapping */
static const yaml_node_t *
find_value(struct ctx *c, const yaml_node_t *m, const char *key)
{
	yaml_node_pair_t *pair;

	if (m->type != YAML_MAPPING_NODE)
		return m;
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		const char *ks = scalar(node(c, pair->key));

		if (ks != NULL && strcmp(ks, key) == 0)
			return node(c, pair->value);
	}
	return m;
}

/* add_ref - remember a virtual-mta (or pool) name to check at the end */
static void
add_ref(struct ctx *c, const yaml_node_t *at, const char *what,
    const char *owner, const char *name, bool vmta_only)
{
	struct ref *r;

	c->refs = xreallocarray(c->refs, c->nrefs + 1, sizeof(*c->refs));
	r = &c->refs[c->nrefs++];
	r->at = *at;
	snprintf(r->what, sizeof(r->what), "%s%s%s", what, owner ? ": " : "",
	    owner ? owner : "");
	r->name = xstrdup(name);
	r->vmta_only = vmta_only;
}

/*
 * seen_before - a name repeated in a map (sources, virtual-mtas, pools,
 * domains) is an error: libyaml would keep both, we would keep one.
 * Names compare case-insensitively.
 */
static bool
seen_before(struct ctx *c, struct hmap *seen, const yaml_node_t *k,
    const char *what, const char *name)
{
	char	 low[300];

	if (!bsnprintf(low, sizeof(low), "%s", name))
		return false;
	str_lower(low);
	if (hmap_get(seen, low) != NULL) {
		cerr(c, k, "%s: \"%s\" appears twice", what, name);
		return true;
	}
	hmap_put(seen, low, (void *)1);
	return false;
}

/* --- blocks ------------------------------------------------------------ */

#define O(s, m)	offsetof(struct s, m)

static const struct field source_fields[] = {
	{ "always-allow-relaying", F_BOOL, O(cfg_source, always_allow_relaying),
	    SRC_RELAY, 0, 0 },
	{ "process-x-virtual-mta", F_BOOL, O(cfg_source, process_x_virtual_mta),
	    SRC_XVMTA, 0, 0 },
	{ "process-x-job", F_BOOL, O(cfg_source, process_x_job), SRC_XJOB,
	    0, 0 },
	{ "smtp-service", F_BOOL, O(cfg_source, smtp_service), SRC_SERVICE,
	    0, 0 },
	{ "max-message-size", F_SIZE, O(cfg_source, max_message_size),
	    SRC_MAXSIZE, 1024, 1ULL << 40 },
	{ "max-rcpt-per-message", F_UINT, O(cfg_source, max_rcpt), SRC_MAXRCPT,
	    1, 100000 },
	{ "max-smtp-in", F_UINT, O(cfg_source, max_smtp_in), SRC_MAXIN,
	    1, 100000 },
	{ "default-virtual-mta", F_NAME, O(cfg_source, default_virtual_mta),
	    SRC_DEFVMTA, 0, 0 },
	{ "require-auth", F_BOOL, O(cfg_source, require_auth), SRC_REQAUTH,
	    0, 0 },
	{ "require-starttls", F_BOOL, O(cfg_source, require_starttls),
	    SRC_REQTLS, 0, 0 },
	{ "generate-bounces", F_BOOL, O(cfg_source, generate_bounces),
	    SRC_GENBOUNCE, 0, 0 },
};

static const struct field domain_fields[] = {
	{ "max-smtp-out", F_UINT, O(cfg_domain, max_smtp_out), DOM_MAXOUT,
	    1, 10000 },
	{ "max-msg-per-connection", F_UINT, O(cfg_domain,
	    max_msg_per_connection), DOM_MAXPERCONN, 0, 1000000 },
	{ "max-rcpt-per-message", F_UINT, O(cfg_domain, max_rcpt_per_message),
	    DOM_MAXRCPT, 1, 100000 },
	{ "retry-after", F_DURLIST, O(cfg_domain, retry_after), DOM_RETRY,
	    0, 0 },
	{ "bounce-after", F_DURATION, O(cfg_domain, bounce_after), DOM_BOUNCE,
	    1, UNITS_DURATION_MAX },
	{ "max-msg-rate", F_RATE, O(cfg_domain, max_msg_rate), DOM_MSGRATE,
	    0, 0 },
	{ "route", F_ROUTE, O(cfg_domain, route), DOM_ROUTE, 0, 0 },
	{ "smtp-hosts", F_ROUTE, O(cfg_domain, smtp_hosts), DOM_HOSTS, 0, 0 },
	{ "connect-timeout", F_DURATION, O(cfg_domain, to.connect),
	    DOM_TCONNECT, 1, 3600 },
	{ "smtp-greeting-timeout", F_DURATION, O(cfg_domain, to.greeting),
	    DOM_TGREET, 1, 3600 },
	{ "mail-from-timeout", F_DURATION, O(cfg_domain, to.mail), DOM_TMAIL,
	    1, 3600 },
	{ "rcpt-to-timeout", F_DURATION, O(cfg_domain, to.rcpt), DOM_TRCPT,
	    1, 3600 },
	{ "data-command-timeout", F_DURATION, O(cfg_domain, to.data), DOM_TDATA,
	    1, 3600 },
	{ "data-send-timeout", F_DURATION, O(cfg_domain, to.send), DOM_TSEND,
	    1, 3600 },
	{ "smtp-data-termination-timeout", F_DURATION, O(cfg_domain, to.dot),
	    DOM_TDOT, 1, 3600 },
	{ "mx-connection-attempts", F_UINT, O(cfg_domain,
	    mx_connection_attempts), DOM_MXATT, 1, 100 },
	{ "default-smtp-port", F_UINT, O(cfg_domain, default_smtp_port),
	    DOM_PORT, 1, 65535 },
	{ "connection-idle-timeout", F_DURATION, O(cfg_domain,
	    connection_idle_timeout), DOM_IDLE, 0, 600 },
	{ "bounce-upon-5xx-greeting", F_BOOL, O(cfg_domain,
	    bounce_upon_5xx_greeting), DOM_B5XXGREET, 0, 0 },
	{ "retry-after-dns-error", F_DURATION, O(cfg_domain,
	    retry_after_dns_error), DOM_DNSRETRY, 1, 86400 },
	{ "max-connect-rate", F_RATE, O(cfg_domain, max_connect_rate),
	    DOM_CONNRATE, 0, 0 },
	{ "backoff-max-msg-rate", F_RATE, O(cfg_domain, backoff_max_msg_rate),
	    DOM_BORATE, 0, 0 },
	{ "backoff-max-smtp-out", F_UINT, O(cfg_domain, backoff_max_smtp_out),
	    DOM_BOMAXOUT, 1, 10000 },
	{ "backoff-retry-after", F_DURLIST, O(cfg_domain, backoff_retry_after),
	    DOM_BORETRY, 0, 0 },
	{ "backoff-to-normal-after", F_DURATION, O(cfg_domain,
	    backoff_to_normal_after), DOM_BONORMAL, 1, 30 * 86400 },
	{ "backoff-to-normal-after-delivery", F_BOOL, O(cfg_domain,
	    backoff_to_normal_after_delivery), DOM_BONORMALDLV, 0, 0 },
	{ "smtp-pattern-list", F_NAME, O(cfg_domain, smtp_pattern_list),
	    DOM_PATLIST, 0, 0 },
	{ "disable-mx-rollup", F_BOOL, O(cfg_domain, disable_mx_rollup),
	    DOM_NOROLLUP, 0, 0 },
	{ "use-starttls", F_BOOL, O(cfg_domain, use_starttls), DOM_USETLS,
	    0, 0 },
	{ "require-starttls", F_BOOL, O(cfg_domain, require_starttls),
	    DOM_REQTLS, 0, 0 },
	{ "verify-server-certificate", F_BOOL, O(cfg_domain,
	    verify_server_certificate), DOM_VERIFY, 0, 0 },
	{ "dkim-sign", F_BOOL, O(cfg_domain, dkim_sign), DOM_DKIM, 0, 0 },
};

static const struct field vmta_fields[] = {
	{ "max-smtp-out", F_UINT, O(cfg_vmta, max_smtp_out), VM_MAXOUT, 1,
	    1000000 },
	{ "max-msg-rate", F_RATE, O(cfg_vmta, max_msg_rate), VM_MSGRATE, 0, 0 },
	{ "dkim-sign", F_BOOL, O(cfg_vmta, dkim_sign), VM_DKIM, 0, 0 },
	{ "verp", F_BOOL, O(cfg_vmta, verp), VM_VERP, 0, 0 },
};

static const struct field top_fields[] = {
	{ "host-name", F_HOSTNAME, O(tern_config, host_name), 0, 0, 0 },
	{ "spool-dir", F_PATH, O(tern_config, spool_dir), 0, 0, 512 },
	{ "run-dir", F_PATH, O(tern_config, run_dir), 0, 0, 80 },
	{ "log-dir", F_PATH, O(tern_config, log_dir), 0, 0, 512 },
	{ "user", F_NAME, O(tern_config, user), 0, 0, 0 },
	{ "max-message-size", F_SIZE, O(tern_config, max_message_size), 0,
	    1024, 1ULL << 40 },
	{ "total-max-smtp-in", F_UINT, O(tern_config, total_max_smtp_in), 0,
	    1, 100000 },
	{ "max-rcpt-per-message", F_UINT, O(tern_config, max_rcpt_per_message),
	    0, 1, 100000 },
	{ "max-received-headers", F_UINT, O(tern_config, max_received_headers),
	    0, 1, 1000 },
	{ "smtp-idle-timeout", F_DURATION, O(tern_config, smtp_idle_timeout),
	    0, 1, 3600 },
	{ "smtp-data-timeout", F_DURATION, O(tern_config, smtp_data_timeout),
	    0, 1, 3600 },
	{ "shutdown-timeout", F_DURATION, O(tern_config, shutdown_timeout),
	    0, 1, 3600 },
	{ "min-free-space", F_SIZE_FINITE, O(tern_config, min_free_space), 0,
	    0, 1ULL << 50 },
	{ "group-commit-delay-us", F_UINT, O(tern_config,
	    group_commit_delay_us), 0, 0, 100000 },
	{ "smtp-pattern-builtin", F_BOOL, O(tern_config, smtp_pattern_builtin),
	    0, 0, 0 },
	{ "mx-rollup-builtin", F_BOOL, O(tern_config, mx_rollup_builtin), 0,
	    0, 0 },
	{ "auto-mx-rollup", F_BOOL, O(tern_config, auto_mx_rollup), 0, 0, 0 },
	{ "smtp-server-tls-certificate", F_PATH, O(tern_config, tls_cert), 0,
	    0, 512 },
	{ "smtp-server-tls-private-key", F_PATH, O(tern_config, tls_key), 0,
	    0, 512 },
	{ "tls-ca-file", F_PATH, O(tern_config, tls_ca_file), 0, 0, 512 },
	{ "max-auth-failures", F_RATE, O(tern_config, max_auth_failures), 0,
	    0, 0 },
	{ "default-virtual-mta", F_NAME, O(tern_config, default_virtual_mta),
	    0, 0, 0 },
	{ "bounce-return-max-size", F_SIZE_FINITE, O(tern_config,
	    ndr_max_return), 0, 0, 64ULL * 1024 * 1024 },
	{ "verp-secret", F_STR, O(tern_config, verp_secret), 0, 0, 256 },
};

/* parse_cidr - "127.0.0.1/32", "10.0.0.0/8", "0/0", "::1/128", "1.2.3.4" */
static int
parse_cidr(const char *s, struct cfg_source *src)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/');
	size_t		 n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t	 pfx;

	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (strcmp(host, "0") == 0 && slash != NULL &&
	    strcmp(slash, "/0") == 0) {
		src->family = AF_UNSPEC;	/* 0/0 matches both families */
		src->prefix = 0;
		return 0;
	}
	if (inet_pton(AF_INET, host, src->addr) == 1)
		src->family = AF_INET;
	else if (inet_pton(AF_INET6, host, src->addr) == 1)
		src->family = AF_INET6;
	else
		return -1;
	pfx = src->family == AF_INET ? 32 : 128;
	if (slash != NULL && parse_u64(slash + 1, 0, pfx, &pfx) == -1)
		return -1;
	src->prefix = (unsigned)pfx;
	return 0;
}

static void
sp_sources(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "sources: expected a mapping of CIDR: {settings}");
		return;
	}

	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->sources = n ? xcalloc(n, sizeof(struct cfg_source)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		struct cfg_source *src =
		    &c->cfg->sources[c->cfg->nsources];
		const char *ks = scalar(k);

		if (ks != NULL && seen_before(c, &seen, k, "sources", ks))
			continue;
		if (ks == NULL || parse_cidr(ks, src) == -1) {
			cerr(c, k, "sources: \"%s\" is not an address or CIDR "
			    "(e.g. 10.0.0.0/8, 0/0)", ks ? ks : "");
			continue;
		}
		src->text = xstrdup(ks);
		c->cfg->nsources++;
		walk_map(c, v, ks, source_fields, nitems(source_fields), src,
		    &src->set, NULL, 0);
		if (src->default_virtual_mta != NULL)
			add_ref(c, find_value(c, v, "default-virtual-mta"),
			    "sources", ks, src->default_virtual_mta, false);
	}
	hmap_clear(&seen);
}

bool config_check_files;

/*
 * check_pem - with config_check_files, the file must hold what it says:
 * a certificate, or a private key (RSA of 1024 bits or more, Ed25519).
 */
/* no_passphrase - an encrypted key is refused, never a terminal prompt */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	return -1;
}

static void
check_pem(struct ctx *c, const yaml_node_t *at, const char *what,
    const char *path, bool want_key)
{
	BIO		*b;
	EVP_PKEY	*k = NULL;
	X509		*x = NULL;

	if (!config_check_files)
		return;
	if ((b = BIO_new_file(path, "r")) == NULL) {
		cerr(c, at, "%s: %s: %s", what, path, strerror(errno));
		return;
	}
	if (want_key)
		k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	else
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (want_key && k == NULL)
		cerr(c, at, "%s: %s: not an unencrypted PEM private key", what,
		    path);
	else if (!want_key && x == NULL)
		cerr(c, at, "%s: %s: not a PEM certificate", what, path);
	else if (k != NULL && EVP_PKEY_base_id(k) != EVP_PKEY_ED25519 &&
	    (EVP_PKEY_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_bits(k) < 1024))
		cerr(c, at, "%s: %s: an RSA key of 1024 bits or more, or an "
		    "Ed25519 key, is needed", what, path);
	EVP_PKEY_free(k);
	X509_free(x);
}

static bool
addr_loopback(const struct cfg_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.
		    s_addr) >> 24) == 127;
	return a->ss.ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

static struct cfg_listener *cur_listener;

static void
lis_address(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v), *e;

	if (s == NULL || config_parse_hostport(s, 0, &cur_listener->addr,
	    &e) == -1) {
		cerr(c, v, "smtp-listener: address: \"%s\": %s", s ? s : "",
		    s ? e : "expected \"address:port\"");
		return;
	}
	free(cur_listener->text);
	cur_listener->text = xstrdup(s);
}

static const struct field listener_fields[] = {
	{ "tls-certificate", F_PATH, O(cfg_listener, tls_cert), 0, 0, 512 },
	{ "tls-private-key", F_PATH, O(cfg_listener, tls_key), 0, 0, 512 },
	{ "require-starttls", F_BOOL, O(cfg_listener, require_starttls), 0, 0,
	    0 },
	{ "auth-without-tls", F_BOOL, O(cfg_listener, auth_without_tls), 0, 0,
	    0 },
};

static const struct special listener_specials[] = {
	{ "address", lis_address },
};

/* listener_map - {address: "ip:port", tls-certificate: ..., ...} */
static void
listener_map(struct ctx *c, const yaml_node_t *v, struct cfg_listener *l)
{
	cur_listener = l;
	walk_map(c, v, "smtp-listener", listener_fields,
	    nitems(listener_fields), l, NULL, listener_specials,
	    nitems(listener_specials));
	cur_listener = NULL;
	if (l->text == NULL) {
		cerr(c, v, "smtp-listener: a mapping needs an address");
		return;
	}
	l->loopback = addr_loopback(&l->addr);
	if (l->auth_without_tls && !l->loopback)
		cerr(c, find_value(c, v, "auth-without-tls"), "smtp-listener: "
		    "auth-without-tls is for loopback listeners only");
	if ((l->tls_cert == NULL) != (l->tls_key == NULL))
		cerr(c, v, "smtp-listener: tls-certificate and "
		    "tls-private-key go together");
	if (l->tls_cert != NULL) {
		check_pem(c, find_value(c, v, "tls-certificate"),
		    "tls-certificate", l->tls_cert, false);
		check_pem(c, find_value(c, v, "tls-private-key"),
		    "tls-private-key", l->tls_key, true);
	}
}

static void
sp_listeners(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	const char	 *e;
	size_t		  n;

	if (seq->type == YAML_SCALAR_NODE) {
		cerr(c, seq, "smtp-listener: expected a list, e.g. "
		    "[\"127.0.0.1:2525\"]");
		return;
	}
	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "smtp-listener: expected a list");
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	if (n == 0 || n > 64) {
		cerr(c, seq, "smtp-listener: between 1 and 64 listeners");
		return;
	}
	c->cfg->listeners = xcalloc(n, sizeof(struct cfg_listener));
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		struct cfg_listener *l =
		    &c->cfg->listeners[c->cfg->nlisteners];
		const char *s = scalar(v);

		if (v->type == YAML_MAPPING_NODE) {
			listener_map(c, v, l);
			if (l->text != NULL)
				c->cfg->nlisteners++;
			continue;
		}
		if (s == NULL) {
			cerr(c, v, "smtp-listener: expected \"address:port\"");
			continue;
		}
		if (config_parse_hostport(s, 0, &l->addr, &e) == -1) {
			cerr(c, v, "smtp-listener: \"%s\": %s", s, e);
			continue;
		}
		l->text = xstrdup(s);
		l->loopback = addr_loopback(&l->addr);
		c->cfg->nlisteners++;
	}
}

/* vmta_source_host - "IP HOST": egress address and EHLO name */
static void
vmta_source_host(struct ctx *c, struct cfg_vmta *vm, const yaml_node_t *v)
{
	char		 ip[INET6_ADDRSTRLEN + 3];
	const char	*s = scalar(v), *sp, *e;
	size_t		 n;

	if (s == NULL || (sp = strchr(s, ' ')) == NULL) {
		cerr(c, v, "smtp-source-host: expected \"IP HOSTNAME\"");
		return;
	}
	n = (size_t)(sp - s);
	while (*sp == ' ')
		sp++;
	if (n >= sizeof(ip) || !valid_hostname(sp)) {
		cerr(c, v, "smtp-source-host: expected \"IP HOSTNAME\"");
		return;
	}
	memcpy(ip, s, n);
	ip[n] = '\0';
	if ((strchr(ip, ':') != NULL && strchr(ip, '.') != NULL) ||
	    strstr(ip, "]:") != NULL) {
		cerr(c, v, "smtp-source-host: \"%s\": expected an IP address "
		    "without a port", ip);
		return;
	}
	if (strchr(ip, ':') != NULL && ip[0] != '[') {
		char br[INET6_ADDRSTRLEN + 8];

		if (bsnprintf(br, sizeof(br), "[%s]", ip))
			tern_strlcpy(ip, br, sizeof(ip));
	}
	if (strlen(s) > 300) {
		cerr(c, v, "smtp-source-host: longer than 300 characters");
		return;
	}
	if (config_parse_hostport(ip, 1, &vm->source, &e) == -1) {
		cerr(c, v, "smtp-source-host: \"%s\": %s", ip, e);
		return;
	}
	free(vm->source_ip);
	free(vm->ehlo_name);
	vm->source_ip = xstrdup(ip);
	vm->ehlo_name = xstrdup(sp);
}

static bool	regex_sane(const char *);
static void	domain_blocks(struct ctx *, const yaml_node_t *,
		    const char *prefix, struct cfg_domain **, unsigned *);

static void
sp_vm_source(struct ctx *c, const yaml_node_t *v)
{
	vmta_source_host(c, c->vm, v);
}

static void
sp_vm_domains(struct ctx *c, const yaml_node_t *m)
{
	char prefix[CFG_NAME_MAX + 32];

	snprintf(prefix, sizeof(prefix), "virtual-mtas.%s.domains",
	    c->vm->name);
	domain_blocks(c, m, prefix, &c->vm->domains, &c->vm->ndomains);
}

/* warm_start - "YYYY-MM-DD": day 1 begins at 00:00 UTC that date */
static void
warm_start(struct ctx *c, const yaml_node_t *v)
{
	const char	*s = scalar(v);
	struct tm	 tm;
	int		 y, mo, d, n = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 ||
	    s[n] != '\0' || y < 2000 || y > 2100 || mo < 1 || mo > 12 ||
	    d < 1 || d > 31) {
		cerr(c, v, "warmup: start: expected a date YYYY-MM-DD");
		return;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	c->vm->warmup.start = timegm(&tm);
}

static void
warm_day(struct ctx *c, uint64_t volume, const struct rate *r)
{
	struct cfg_warmup *w = &c->vm->warmup;

	w->volume = xreallocarray(w->volume, w->ndays + 1, sizeof(uint64_t));
	w->rate = xreallocarray(w->rate, w->ndays + 1, sizeof(struct rate));
	w->volume[w->ndays] = volume;
	if (r != NULL)
		w->rate[w->ndays] = *r;
	else
		memset(&w->rate[w->ndays], 0, sizeof(struct rate));
	w->ndays++;
}

/* warm_item - one day: 50, or {volume: 200, max-msg-rate: 20/h} */
static void
warm_item(struct ctx *c, const yaml_node_t *v)
{
	yaml_node_pair_t *pair;
	const char	 *sv = scalar(v), *e;
	uint64_t	  u = 0;
	struct rate	  r;

	memset(&r, 0, sizeof(r));
	if (sv != NULL) {
		if (parse_u64(sv, 1, 1000000000, &u) == -1)
			cerr(c, v, "warmup: schedule: \"%s\" is not a daily "
			    "volume (1 to 1000000000)", sv);
		else
			warm_day(c, u, NULL);
		return;
	}
	if (v->type != YAML_MAPPING_NODE) {
		cerr(c, v, "warmup: schedule: expected a volume or {volume: N, "
		    "max-msg-rate: RATE}");
		return;
	}
	for (pair = v->data.mapping.pairs.start;
	    pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *x = node(c, pair->value);
		const char *ks = scalar(k), *xs = scalar(x);

		if (ks != NULL && strcmp(ks, "volume") == 0 && xs != NULL &&
		    parse_u64(xs, 1, 1000000000, &u) == 0)
			continue;
		if (ks != NULL && strcmp(ks, "max-msg-rate") == 0 &&
		    xs != NULL && units_rate(xs, &r, &e) == 0)
			continue;
		cerr(c, x, "warmup: schedule: expected volume: 1 to "
		    "1000000000 and max-msg-rate: RATE");
		return;
	}
	if (u == 0) {
		cerr(c, v, "warmup: schedule: a day needs a volume");
		return;
	}
	warm_day(c, u, &r);
}

/* warm_schedule - [50, 100, {volume: 200, max-msg-rate: 20/h}, ...] */
static void
warm_schedule(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;

	if (seq->type != YAML_SEQUENCE_NODE ||
	    seq->data.sequence.items.top == seq->data.sequence.items.start) {
		cerr(c, seq, "warmup: schedule: expected a list of daily "
		    "volumes");
		return;
	}
	if (c->vm->warmup.ndays > 0) {
		cerr(c, seq, "warmup: give schedule or growth, not both");
		return;
	}
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		if (c->vm->warmup.ndays >= WARMUP_DAYS_MAX) {
			cerr(c, node(c, *it), "warmup: schedule: more than %d "
			    "days", WARMUP_DAYS_MAX);
			return;
		}
		warm_item(c, node(c, *it));
	}
}

/*
 * warm_growth - {first: 50, factor: 2, full: 100000}: 50 on day 1,
 * times factor each day, full on the first day it is reached.
 */
static void
warm_growth(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	uint64_t	  first = 0, full = 0, f = 0, v;
	char		  pc[40];

	if (c->vm->warmup.ndays > 0) {
		cerr(c, m, "warmup: give schedule or growth, not both");
		return;
	}
	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "warmup: growth: expected {first: N, factor: F, "
		    "full: N}");
		return;
	}
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *x = node(c, pair->value);
		const char *ks = scalar(k), *xs = scalar(x);

		if (ks == NULL || xs == NULL) {
			cerr(c, k, "warmup: growth: expected plain keys and "
			    "values");
			return;
		}
		if (strcmp(ks, "first") == 0) {
			if (parse_u64(xs, 1, 1000000000, &first) == -1)
				cerr(c, x, "warmup: growth: first: expected 1 "
				    "to 1000000000");
		} else if (strcmp(ks, "full") == 0) {
			if (parse_u64(xs, 1, 1000000000, &full) == -1)
				cerr(c, x, "warmup: growth: full: expected 1 "
				    "to 1000000000");
		} else if (strcmp(ks, "factor") == 0) {
			/* "1.5" read as "1.5%": ten-thousandths of 1. */
			if (!bsnprintf(pc, sizeof(pc), "%s%%", xs) ||
			    parse_percent(pc, &f) == -1 || f < 11000 ||
			    f > 1000000) {
				cerr(c, x, "warmup: growth: factor: expected a "
				    "number from 1.1 to 100");
				f = 0;
			}
		} else
			cerr(c, k, "warmup: growth: unknown key \"%s\"", ks);
	}
	if (first == 0 || full == 0 || f == 0) {
		cerr(c, m, "warmup: growth: needs first, factor and full");
		return;
	}
	for (v = first; v < full && c->vm->warmup.ndays < WARMUP_DAYS_MAX - 1;
	    v = v * f / 10000 > v ? v * f / 10000 : v + 1)
		warm_day(c, v, NULL);
	warm_day(c, full, NULL);
}

static const struct field warm_fields[] = {
	{ "pause-bounce-rate", F_PERCENT, O(cfg_warmup, pause_bounce_ppm), 0,
	    0, 0 },
	{ "pause-complaint-rate", F_PERCENT, O(cfg_warmup,
	    pause_complaint_ppm), 0, 0, 0 },
	{ "pause-min-sample", F_UINT, O(cfg_warmup, pause_min_sample), 0, 1,
	    1000000 },
};

/* warm_overflow - "hold" (stay queued) or "pool" (another member) */
static void
warm_overflow(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s != NULL && strcmp(s, "hold") == 0)
		c->vm->warmup.overflow_pool = false;
	else if (s != NULL && strcmp(s, "pool") == 0)
		c->vm->warmup.overflow_pool = true;
	else
		cerr(c, v, "warmup: overflow: expected hold or pool");
}

static const struct special warm_specials[] = {
	{ "overflow", warm_overflow },
	{ "start", warm_start },
	{ "schedule", warm_schedule },
	{ "growth", warm_growth },
};

static void
sp_vm_warmup(struct ctx *c, const yaml_node_t *m)
{
	struct cfg_warmup *w = &c->vm->warmup;

	w->set = true;
	w->pause_bounce_ppm = 100000;		/* 10% */
	w->pause_complaint_ppm = 3000;		/* 0.3% */
	w->pause_min_sample = 20;
	walk_map(c, m, "warmup", warm_fields, nitems(warm_fields), w, NULL,
	    warm_specials, nitems(warm_specials));
	if (m->type != YAML_MAPPING_NODE)
		return;
	if (w->start == 0)
		cerr(c, m, "warmup: required key \"start\" is missing");
	if (w->ndays == 0)
		cerr(c, m, "warmup: needs a schedule or a growth");
}

static const struct special vmta_specials[] = {
	{ "smtp-source-host", sp_vm_source },
	{ "domains", sp_vm_domains },
	{ "warmup", sp_vm_warmup },
};

static void
sp_vmtas(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "virtual-mtas: expected a mapping of NAME: "
		    "{settings}");
		return;
	}

	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->vmtas = n ? xcalloc(n, sizeof(struct cfg_vmta)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		struct cfg_vmta *vm = &c->cfg->vmtas[c->cfg->nvmtas];
		const char *ks = scalar(k);

		if (ks != NULL && seen_before(c, &seen, k, "virtual-mtas", ks))
			continue;

		if (ks == NULL || !config_name_ok(ks)) {
			cerr(c, k, "virtual-mtas: \"%s\" is not a valid name",
			    ks ? ks : "");
			continue;
		}
		vm->name = xstrdup(ks);
		c->cfg->nvmtas++;
		c->vm = vm;
		walk_map(c, v, ks, vmta_fields, nitems(vmta_fields), vm,
		    &vm->set, vmta_specials, nitems(vmta_specials));
		c->vm = NULL;
	}
	hmap_clear(&seen);
}

/* pool_weighted - "pool: { mta1: 1, mta2: 3 }" */
static void
pool_weighted(struct ctx *c, const char *ks, struct cfg_pool *pl,
    const yaml_node_t *v)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	uint64_t	  w;

	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0) {
		cerr(c, v, "%s: empty pool", ks);
		return;
	}
	pl->name = xstrdup(ks);
	c->cfg->npools++;
	pl->members = xcalloc(n, sizeof(char *));
	pl->weights = xcalloc(n, sizeof(unsigned));
	for (pair = v->data.mapping.pairs.start;
	    pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *wv = node(c, pair->value);
		const char *name = scalar(k), *ws = scalar(wv);

		if (name == NULL || !config_name_ok(name)) {
			cerr(c, k, "%s: expected virtual-mta names", ks);
			continue;
		}
		if (ws == NULL || parse_u64(ws, 1, 1000, &w) == -1) {
			cerr(c, wv, "%s: %s: weight must be a number from 1 "
			    "to 1000", ks, name);
			continue;
		}
		pl->weights[pl->n] = (unsigned)w;
		pl->members[pl->n++] = xstrdup(name);
		add_ref(c, k, "virtual-mta-pools", ks, name, true);
	}
}

static void
sp_pools(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "virtual-mta-pools: expected a mapping of NAME: "
		    "[vmta, ...]");
		return;
	}

	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->pools = n ? xcalloc(n, sizeof(struct cfg_pool)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		struct cfg_pool *pl = &c->cfg->pools[c->cfg->npools];
		yaml_node_item_t *it;
		const char *ks = scalar(k);

		if (ks != NULL && seen_before(c, &seen, k,
		    "virtual-mta-pools", ks))
			continue;

		if (ks == NULL || !config_name_ok(ks)) {
			cerr(c, k, "virtual-mta-pools: \"%s\" is not a valid "
			    "name", ks ? ks : "");
			continue;
		}
		if (v->type == YAML_MAPPING_NODE) {
			pool_weighted(c, ks, pl, v);
			continue;
		}
		if (v->type != YAML_SEQUENCE_NODE ||
		    v->data.sequence.items.top == v->data.sequence.items.start) {
			cerr(c, v, "%s: expected a non-empty list of "
			    "virtual-mta names or a mapping NAME: WEIGHT", ks);
			continue;
		}
		pl->name = xstrdup(ks);
		c->cfg->npools++;
		n = (size_t)(v->data.sequence.items.top -
		    v->data.sequence.items.start);
		pl->members = xcalloc(n, sizeof(char *));
		pl->weights = xcalloc(n, sizeof(unsigned));
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++) {
			yaml_node_t *iv = node(c, *it);
			const char *s = scalar(iv);

			if (s == NULL || !config_name_ok(s)) {
				cerr(c, iv, "%s: expected virtual-mta names",
				    ks);
				continue;
			}
			pl->weights[pl->n] = 1;
			pl->members[pl->n++] = xstrdup(s);
			add_ref(c, iv, "virtual-mta-pools", ks, s, true);
		}
	}
	hmap_clear(&seen);
}

/* pat_ref - a domain block's smtp-pattern-list, checked at the end */
static void
pat_ref(struct ctx *c, const yaml_node_t *at, const char *owner,
    const char *name)
{
	struct ref *r;

	c->prefs = xreallocarray(c->prefs, c->nprefs + 1, sizeof(*c->prefs));
	r = &c->prefs[c->nprefs++];
	r->at = *at;
	snprintf(r->what, sizeof(r->what), "%s", owner);
	r->name = xstrdup(name);
	r->vmta_only = false;
}

/*
 * domain_blocks - "DOMAIN: {settings}" blocks, top level or inside a
 * virtual-mta.  A name is a domain, a rollup name or "*".
 */
static void
domain_blocks(struct ctx *c, const yaml_node_t *m, const char *prefix,
    struct cfg_domain **arr, unsigned *count)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "%s: expected a mapping of DOMAIN: {settings}",
		    prefix);
		return;
	}

	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	*arr = n ? xcalloc(n, sizeof(struct cfg_domain)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		struct cfg_domain *d = &(*arr)[*count];
		const char *ks = scalar(k);

		if (ks != NULL && seen_before(c, &seen, k, prefix, ks))
			continue;

		if (ks == NULL || (strcmp(ks, "*") != 0 &&
		    !valid_hostname(ks))) {
			cerr(c, k, "%s: \"%s\" is not a domain name or "
			    "\"*\"", prefix, ks ? ks : "");
			continue;
		}
		d->name = xstrdup(ks);
		str_lower(d->name);
		d->label = xasprintf("%s.%s", prefix, d->name);
		(*count)++;
		walk_map(c, v, ks, domain_fields, nitems(domain_fields), d,
		    &d->set, NULL, 0);
		if (d->set & DOM_PATLIST)
			pat_ref(c, find_value(c, v, "smtp-pattern-list"),
			    d->label, d->smtp_pattern_list);
	}
	hmap_clear(&seen);
}

static void
sp_domains(struct ctx *c, const yaml_node_t *m)
{
	domain_blocks(c, m, "domains", &c->cfg->domains, &c->cfg->ndomains);
}

/* --- smtp-pattern-lists ------------------------------------------------ */

static const struct {
	const char	*name;
	enum pat_action	 a;
} pat_actions[] = {
	{ "backoff", PA_BACKOFF }, { "normal", PA_NORMAL },
	{ "suspend", PA_SUSPEND }, { "disconnect", PA_DISCONNECT },
	{ "bounce", PA_BOUNCE }, { "bounce-queue", PA_BOUNCE },
};

const char *
config_pat_action_name(enum pat_action a)
{
	size_t i;

	for (i = 0; i < nitems(pat_actions); i++)
		if (pat_actions[i].a == a)
			return pat_actions[i].name;
	return "?";
}

struct patrule_tmp {
	struct cfg_patrule r;
	bool		 got_action;
};

static struct patrule_tmp *cur_rule;

static void
rule_reply(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);
	regex_t	    re;

	if (s == NULL || *s == '\0') {
		cerr(c, v, "reply: expected a regular expression");
		return;
	}
	if (!regex_sane(s)) {
		cerr(c, v, "reply: /%.40s/ is over 512 characters, stacks "
		    "quantifiers, or has a counted repeat on a group or above "
		    "{100}", s);
		return;
	}
	if (regcomp(&re, s, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
		cerr(c, v, "reply: bad regular expression /%s/", s);
		return;
	}
	regfree(&re);
	free(cur_rule->r.regex);
	cur_rule->r.regex = xstrdup(s);
}

/* rule_action - "action: backoff", or PowerMTA's "mode: backoff" */
static void
rule_action(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);
	size_t	    i;

	if (cur_rule->got_action) {
		cerr(c, v, "give action or mode once");
		return;
	}
	for (i = 0; s != NULL && i < nitems(pat_actions); i++)
		if (strcmp(s, pat_actions[i].name) == 0) {
			cur_rule->r.action = pat_actions[i].a;
			cur_rule->got_action = true;
			return;
		}
	cerr(c, v, "action: expected backoff, normal, suspend, disconnect "
	    "or bounce, found \"%s\"", s ? s : kind(v));
}

/* rule_after - "3/5m": fire on the 3rd match within 5 minutes */
static void
rule_after(struct ctx *c, const yaml_node_t *v)
{
	const char	*s = scalar(v), *sl, *e;
	char		 num[16];
	uint64_t	 n, w;

	if (s == NULL || (sl = strchr(s, '/')) == NULL ||
	    (size_t)(sl - s) >= sizeof(num)) {
		cerr(c, v, "after: expected COUNT/DURATION such as 3/5m");
		return;
	}
	memcpy(num, s, (size_t)(sl - s));
	num[sl - s] = '\0';
	if (parse_u64(num, 1, 10000, &n) == -1 ||
	    units_duration(sl + 1, &w, &e) == -1 || w == 0 || w > 86400) {
		cerr(c, v, "after: expected COUNT/DURATION such as 3/5m "
		    "(count 1 to 10000, duration up to 1d)");
		return;
	}
	cur_rule->r.after_n = (unsigned)n;
	cur_rule->r.after_window = w;
}

static const struct field rule_fields[] = {
	{ "for", F_DURATION, O(cfg_patrule, for_secs), 0, 1, 30 * 86400 },
	{ "backoff-to-normal-after", F_DURATION, O(cfg_patrule, for_secs), 0,
	    1, 30 * 86400 },
};

static const struct special rule_specials[] = {
	{ "reply", rule_reply },
	{ "action", rule_action },
	{ "mode", rule_action },
	{ "after", rule_after },
};

static void
pat_list(struct ctx *c, const char *name, const yaml_node_t *seq)
{
	struct cfg_patlist *pl = &c->cfg->patlists[c->cfg->npatlists];
	yaml_node_item_t   *it;
	size_t		    n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "%s: expected a list of rules {reply: REGEX, "
		    "action: ACTION}", name);
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	pl->name = xstrdup(name);
	pl->r = n ? xcalloc(n, sizeof(struct cfg_patrule)) : NULL;
	c->cfg->npatlists++;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t	  *v = node(c, *it);
		struct patrule_tmp t;

		memset(&t, 0, sizeof(t));
		cur_rule = &t;
		walk_map(c, v, name, rule_fields, nitems(rule_fields), &t.r,
		    NULL, rule_specials, nitems(rule_specials));
		cur_rule = NULL;
		if (v->type != YAML_MAPPING_NODE)
			continue;
		if (t.r.regex == NULL || !t.got_action) {
			cerr(c, v, "%s: a rule needs reply and action", name);
			free(t.r.regex);
			continue;
		}
		t.r.line = (unsigned)v->start_mark.line + 1;
		pl->r[pl->n++] = t.r;
	}
}

static void
sp_patlists(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "smtp-pattern-lists: expected a mapping of NAME: "
		    "[rules]");
		return;
	}
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->patlists = n ? xcalloc(n, sizeof(struct cfg_patlist)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		const char *ks = scalar(k);

		if (ks != NULL && seen_before(c, &seen, k,
		    "smtp-pattern-lists", ks))
			continue;
		if (ks == NULL || !config_name_ok(ks)) {
			cerr(c, k, "smtp-pattern-lists: \"%s\" is not a valid "
			    "name", ks ? ks : "");
			continue;
		}
		pat_list(c, ks, v);
	}
	hmap_clear(&seen);
}

/* --- smtp-users, domain-keys, dkim-headers ------------------------------- */

static struct cfg_user *cur_user;

static void
user_vmtas(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	size_t		  n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "%s: virtual-mtas: expected a list of "
		    "virtual-mta or pool names", cur_user->name);
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	cur_user->vmtas = n ? xcalloc(n, sizeof(char *)) : NULL;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v);

		if (s == NULL || !config_name_ok(s)) {
			cerr(c, v, "%s: virtual-mtas: expected names",
			    cur_user->name);
			continue;
		}
		cur_user->vmtas[cur_user->nvmtas++] = xstrdup(s);
		add_ref(c, v, "smtp-users", cur_user->name, s, false);
	}
}

/* user_hash - crypt(3) SHA-512 ($6$) or yescrypt ($y$), never plaintext */
static void
user_hash(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s == NULL || (strncmp(s, "$6$", 3) != 0 &&
	    strncmp(s, "$y$", 3) != 0) || strlen(s) < 20 || strlen(s) > 200 ||
	    strpbrk(s, " :\t") != NULL) {
		cerr(c, v, "%s: password-hash: expected a crypt(3) hash, $6$ "
		    "(SHA-512) or $y$ (yescrypt); make one with mkpasswd -m "
		    "yescrypt", cur_user->name);
		return;
	}
	free(cur_user->hash);
	cur_user->hash = xstrdup(s);
}

static const struct field user_fields[] = {
	{ "default-virtual-mta", F_NAME, O(cfg_user, default_virtual_mta), 0,
	    0, 0 },
};

static const struct special user_specials[] = {
	{ "password-hash", user_hash },
	{ "virtual-mtas", user_vmtas },
};

/* smtp-users: {NAME: {password-hash, virtual-mtas, default-virtual-mta}} */
static void
sp_users(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "smtp-users: expected a mapping of NAME: {settings}");
		return;
	}
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->users = n ? xcalloc(n, sizeof(struct cfg_user)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		const char *ks = scalar(k);
		struct cfg_user *u = &c->cfg->users[c->cfg->nusers];

		if (ks == NULL || strlen(ks) == 0 || strlen(ks) > 128 ||
		    strpbrk(ks, " \t:") != NULL) {
			cerr(c, k, "smtp-users: \"%s\" is not a user name (1 to "
			    "128 characters, no spaces or colons)",
			    ks ? ks : "");
			continue;
		}
		if (seen_before(c, &seen, k, "smtp-users", ks))
			continue;
		u->name = xstrdup(ks);
		c->cfg->nusers++;
		cur_user = u;
		walk_map(c, v, ks, user_fields, nitems(user_fields), u, NULL,
		    user_specials, nitems(user_specials));
		cur_user = NULL;
		if (v->type == YAML_MAPPING_NODE && u->hash == NULL)
			cerr(c, v, "%s: password-hash is required", ks);
		if (u->default_virtual_mta != NULL)
			add_ref(c, find_value(c, v, "default-virtual-mta"),
			    "smtp-users", ks, u->default_virtual_mta, false);
	}
	hmap_clear(&seen);
}

static const struct field dkey_fields[] = {
	{ "selector", F_NAME, O(cfg_dkey, selector), 1, 0, 0 },
	{ "domain", F_HOSTNAME, O(cfg_dkey, domain), 2, 0, 0 },
	{ "key-file", F_PATH, O(cfg_dkey, key_file), 4, 0, 512 },
};

/* domain-keys: [{selector, domain, key-file}] (PowerMTA domain-key) */
static void
sp_dkeys(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	size_t		  n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "domain-keys: expected a list of {selector, "
		    "domain, key-file}");
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	c->cfg->dkeys = n ? xcalloc(n, sizeof(struct cfg_dkey)) : NULL;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t	*v = node(c, *it);
		struct cfg_dkey	*d = &c->cfg->dkeys[c->cfg->ndkeys];
		uint64_t	 set = 0;
		unsigned	 i;

		walk_map(c, v, "domain-keys", dkey_fields, nitems(dkey_fields),
		    d, &set, NULL, 0);
		if (v->type != YAML_MAPPING_NODE)
			continue;
		if (set != 7) {
			cerr(c, v, "domain-keys: selector, domain and key-file "
			    "are required");
			free(d->selector);
			free(d->domain);
			free(d->key_file);
			memset(d, 0, sizeof(*d));
			continue;
		}
		str_lower(d->domain);
		for (i = 0; i < c->cfg->ndkeys; i++)
			if (strcmp(c->cfg->dkeys[i].domain, d->domain) == 0)
				cerr(c, v, "domain-keys: a second key for %s "
				    "(one signing key per domain)", d->domain);
		check_pem(c, find_value(c, v, "key-file"), "key-file",
		    d->key_file, true);
		c->cfg->ndkeys++;
	}
}

/* dkim-headers: the header fields signed (From is always over-signed) */
static void
sp_dkim_headers(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	size_t		  n;
	bool		  from = false;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "dkim-headers: expected a list of header names");
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	if (n == 0 || n > 64) {
		cerr(c, seq, "dkim-headers: 1 to 64 header names");
		return;
	}
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v), *p;

		for (p = s; p != NULL && *p != '\0'; p++)
			if (*p <= 32 || *p >= 127 || *p == ':')
				break;
		if (s == NULL || *s == '\0' || *p != '\0' || strlen(s) > 76) {
			cerr(c, v, "dkim-headers: \"%s\" is not a header name",
			    s ? s : "");
			continue;
		}
		from |= strcasecmp(s, "From") == 0;
		c->cfg->dkim_headers = xreallocarray(c->cfg->dkim_headers,
		    c->cfg->ndkim_headers + 1, sizeof(char *));
		c->cfg->dkim_headers[c->cfg->ndkim_headers++] = xstrdup(s);
	}
	if (!from)
		cerr(c, seq, "dkim-headers: From must be signed (RFC 6376 5.4)");
}

/* --- mx-rollup --------------------------------------------------------- */

static bool
valid_mx_glob(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    strchr(".-*?_", *s) != NULL))
			return false;
	return true;
}

/* mx-rollup: {"*.google.com": google.rollup} (PowerMTA <mx-rollup-list>) */
static void
sp_rollups(struct ctx *c, const yaml_node_t *m)
{
	yaml_node_pair_t *pair;
	size_t		  n;
	struct hmap	  seen;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(c, m, "mx-rollup: expected a mapping of \"MX-GLOB\": "
		    "NAME");
		return;
	}
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	c->cfg->rollups = n ? xcalloc(n, sizeof(struct cfg_rollup)) : NULL;
	hmap_init(&seen);
	for (pair = m->data.mapping.pairs.start;
	    pair < m->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
		const char *ks = scalar(k), *vs = scalar(v);
		struct cfg_rollup *r = &c->cfg->rollups[c->cfg->nrollups];

		if (ks != NULL && seen_before(c, &seen, k, "mx-rollup", ks))
			continue;
		if (ks == NULL || !valid_mx_glob(ks)) {
			cerr(c, k, "mx-rollup: \"%s\" is not a lowercase host "
			    "name pattern (letters, digits, '.', '-', '*', "
			    "'?')", ks ? ks : "");
			continue;
		}
		if (vs == NULL || !config_name_ok(vs)) {
			cerr(c, v, "mx-rollup: %s: expected a rollup name such "
			    "as google.rollup", ks);
			continue;
		}
		r->glob = xstrdup(ks);
		r->name = xstrdup(vs);
		str_lower(r->name);
		c->cfg->nrollups++;
	}
	hmap_clear(&seen);
}

static void
sp_dns_ns(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	const char	 *e;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "nameservers: expected a list of \"ip[:port]\"");
		return;
	}
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v);
		struct cfg_dns *d = &c->cfg->dns;

		if (d->nns == DNS_NS_MAX) {
			cerr(c, v, "nameservers: at most %d", DNS_NS_MAX);
			return;
		}
		if (s == NULL || config_parse_hostport(s, 53, &d->ns[d->nns],
		    &e) == -1) {
			cerr(c, v, "nameservers: \"%s\": %s", s ? s : "",
			    s ? e : "expected an address");
			continue;
		}
		d->ns_text[d->nns++] = xstrdup(s);
	}
}

static const struct field dns_fields[] = {
	{ "timeout", F_DURATION, O(cfg_dns, timeout), 0, 1, 60 },
	{ "attempts", F_UINT, O(cfg_dns, attempts), 0, 1, 10 },
};
static const struct special dns_specials[] = {
	{ "nameservers", sp_dns_ns },
};

static void
sp_dns(struct ctx *c, const yaml_node_t *m)
{
	walk_map(c, m, "dns", dns_fields, nitems(dns_fields), &c->cfg->dns,
	    NULL, dns_specials, nitems(dns_specials));
}

static void
sp_acct_records(struct ctx *c, const yaml_node_t *seq)
{
	static const struct { const char *n; unsigned bit; } recs[] = {
		{ "d", ACCT_D }, { "delivery", ACCT_D },
		{ "b", ACCT_B }, { "bounce", ACCT_B },
		{ "t", ACCT_T }, { "transient", ACCT_T },
		{ "tq", ACCT_TQ }, { "transient-queue", ACCT_TQ },
		{ "r", ACCT_R }, { "receipt", ACCT_R },
		{ "f", ACCT_F }, { "feedback-loop", ACCT_F },
		{ "rb", ACCT_RB }, { "remote-bounce", ACCT_RB },
	};
	yaml_node_item_t *it;
	unsigned	  i;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "records: expected a list such as [d, b, t, tq]");
		return;
	}
	c->cfg->acct.records = 0;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v);

		for (i = 0; s != NULL && i < nitems(recs); i++)
			if (strcmp(s, recs[i].n) == 0)
				break;
		if (s == NULL || i == nitems(recs)) {
			cerr(c, v, "records: \"%s\" is not one of d, b, t, tq, "
			    "r, f, rb", s ? s : "");
			continue;
		}
		c->cfg->acct.records |= recs[i].bit;
	}
}

static const struct field acct_fields[] = {
	{ "enabled", F_BOOL, O(cfg_accounting, enabled), 0, 0, 0 },
	{ "file", F_NAME, O(cfg_accounting, file), 0, 0, 0 },
	{ "move-interval", F_DURATION, O(cfg_accounting, move_interval), 0,
	    0, 86400 * 31 },
	{ "max-size", F_SIZE, O(cfg_accounting, max_size), 0, 0, 1ULL << 40 },
	{ "delete-after", F_DURATION, O(cfg_accounting, delete_after), 0,
	    0, UNITS_DURATION_MAX },
};
/* extra-fields: PowerMTA columns after the 23 standard ones */
static void
sp_acct_extra(struct ctx *c, const yaml_node_t *seq)
{
	static const struct { const char *n; unsigned bit; } known[] = {
		{ "dlvTlsProtocol", ACCTX_TLSPROTO },
		{ "dlvTlsCipher", ACCTX_TLSCIPHER },
		{ "feedbackType", ACCTX_FBTYPE }, { "userAgent", ACCTX_UA },
		{ "repSourceIp", ACCTX_REPSRC },
		{ "reportingMta", ACCTX_REPMTA },
		{ "dsnReportingMta", ACCTX_DSNREPMTA },
		{ "rcvSourceIp", ACCTX_RCVSRC },
	};
	yaml_node_item_t *it;
	size_t		  i;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "extra-fields: expected a list such as "
		    "[dlvTlsProtocol, dlvTlsCipher]");
		return;
	}
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v);

		for (i = 0; s != NULL && i < nitems(known); i++)
			if (strcmp(s, known[i].n) == 0)
				break;
		if (s == NULL || i == nitems(known))
			cerr(c, v, "extra-fields: \"%s\": known fields are "
			    "dlvTlsProtocol, dlvTlsCipher, feedbackType, "
			    "userAgent, repSourceIp, reportingMta, "
			    "dsnReportingMta, rcvSourceIp", s ? s : "");
		else
			c->cfg->acct.extra |= known[i].bit;
	}
}

static const struct special acct_specials[] = {
	{ "extra-fields", sp_acct_extra },
	{ "records", sp_acct_records },
};

static void
sp_accounting(struct ctx *c, const yaml_node_t *m)
{
	walk_map(c, m, "accounting", acct_fields, nitems(acct_fields),
	    &c->cfg->acct, NULL, acct_specials, nitems(acct_specials));
}

/*
 * regex_sane - glibc's regcomp can need exponential memory for stacked
 * quantifiers ("a++++..."): refuse them, and patterns over 512 bytes.
 */
static bool
regex_sane(const char *re)
{
	unsigned run = 0, braces = 0;
	char	 prev = '\0';

	if (strlen(re) > 512)
		return false;
	for (; *re != '\0'; prev = *re++) {
		/*
		 * Counted repeats: small counts, few of them ({2,5} fine),
		 * never on a group: counts multiply through nesting.
		 */
		if (*re == '{' && (++braces > 8 ||
		    strtoul(re + 1, NULL, 10) > 100 || prev == ')'))
			return false;
		if (*re == ',' && run > 0 && strtoul(re + 1, NULL, 10) > 100)
			return false;
		if (*re == '\\' && re[1] != '\0') {
			re++;
			run = 0;
			continue;
		}
		if (strchr("*+?{", *re) != NULL) {
			if (++run > 2)
				return false;
		} else if (*re != '}' && !(run > 0 && strchr("0123456789,",
		    *re) != NULL))
			run = 0;
	}
	return true;
}

/* parse_bcpat - "/regex/ category" as PowerMTA writes it */
static int
parse_bcpat(const char *s, struct cfg_bcpat *p)
{
	const char	*end;
	size_t		 n;

	if (s[0] != '/' || (end = strrchr(s + 1, '/')) == NULL)
		return -1;
	n = (size_t)(end - s - 1);
	p->regex = xstrndup(s + 1, n);
	end++;
	while (*end == ' ' || *end == '\t')
		end++;
	if (!config_name_ok(end)) {
		free(p->regex);
		p->regex = NULL;
		return -1;
	}
	p->category = xstrdup(end);
	p->text = xstrdup(s);
	return 0;
}

static void
sp_bcpats(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	size_t		  n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "bounce-category-patterns: expected a list of "
		    "\"/regex/ category\"");
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	c->cfg->bcpats = n ? xcalloc(n, sizeof(struct cfg_bcpat)) : NULL;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char *s = scalar(v);
		struct cfg_bcpat *p = &c->cfg->bcpats[c->cfg->nbcpats];
		regex_t re;

		if (s == NULL || parse_bcpat(s, p) == -1) {
			cerr(c, v, "bounce-category-patterns: expected "
			    "\"/regex/ category\"");
			continue;
		}
		if (!regex_sane(p->regex)) {
			cerr(c, v, "bounce-category-patterns: /%.40s/ is over 512 "
			    "characters, stacks quantifiers, or has a counted "
			    "repeat on a group or above {100}", p->regex);
			free(p->regex);
			free(p->category);
			free(p->text);
			continue;
		}
		if (regcomp(&re, p->regex, REG_EXTENDED | REG_ICASE |
		    REG_NOSUB) != 0) {
			cerr(c, v, "bounce-category-patterns: bad regular "
			    "expression /%s/", p->regex);
			free(p->regex);
			free(p->category);
			free(p->text);
			continue;
		}
		regfree(&re);
		c->cfg->nbcpats++;
	}
}

/* spool-sync: "syncfs" (one sync of the file system per batch) or
 * "fsync" (fdatasync each file of the batch) */
static void
sp_spool_sync(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s != NULL && strcmp(s, "syncfs") == 0)
		c->cfg->spool_syncfs = true;
	else if (s != NULL && strcmp(s, "fsync") == 0)
		c->cfg->spool_syncfs = false;
	else
		cerr(c, v, "spool-sync: expected syncfs or fsync");
}

/* --- bounce and feedback-loop processors, suppression, event hooks ------ */

/* str_list - a YAML list of strings, each checked by ok (NULL: any text) */
static char **
str_list(struct ctx *c, const yaml_node_t *seq, const char *what,
    bool (*ok)(const char *), const char *expect, unsigned *n)
{
	yaml_node_item_t *it;
	char		**out;
	size_t		  cap;

	*n = 0;
	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "%s: expected a list of %s", what, expect);
		return NULL;
	}
	cap = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	out = cap ? xcalloc(cap, sizeof(char *)) : NULL;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char  *s = scalar(v);

		if (s == NULL || !valid_text(s, 320) || (ok != NULL && !ok(s))) {
			cerr(c, v, "%s: \"%s\" is not %s", what, s ? s : "",
			    expect);
			continue;
		}
		out[(*n)++] = xstrdup(s);
		str_lower(out[*n - 1]);
	}
	return out;
}

static bool
ok_domain(const char *s)
{
	return valid_hostname(s);
}

static bool
ok_address(const char *s)
{
	struct mailaddr	 a;
	const char	*why;

	return mailaddr_parse(s, &a, &why) == 0;
}

static struct cfg_addrlist *cur_alist;
static const char *cur_alist_name;

static void
al_domains(struct ctx *c, const yaml_node_t *v)
{
	cur_alist->domains = str_list(c, v, cur_alist_name, ok_domain,
	    "a domain name", &cur_alist->ndomains);
}

static void
al_addresses(struct ctx *c, const yaml_node_t *v)
{
	cur_alist->addrs = str_list(c, v, cur_alist_name, ok_address,
	    "a mail address (local@domain)", &cur_alist->naddrs);
}

static const struct special alist_specials[] = {
	{ "domains", al_domains },
	{ "addresses", al_addresses },
};

/*
 * PowerMTA's <bounce-processor> and <feedback-loop-processor> with their
 * <address-list>: {domains: [..], addresses: [..]}.
 */
static void
proc_block(struct ctx *c, const yaml_node_t *m, const char *what,
    struct cfg_addrlist *al, bool *set)
{
	cur_alist = al;
	cur_alist_name = what;
	walk_map(c, m, what, NULL, 0, NULL, NULL, alist_specials,
	    nitems(alist_specials));
	cur_alist = NULL;
	if (m->type == YAML_MAPPING_NODE && al->ndomains + al->naddrs == 0)
		cerr(c, m, "%s: needs domains or addresses", what);
	*set = true;
}

static void
sp_bounce_proc(struct ctx *c, const yaml_node_t *m)
{
	proc_block(c, m, "bounce-processor", &c->cfg->bounce_proc,
	    &c->cfg->bounce_proc_set);
}

static void
sp_fbl_proc(struct ctx *c, const yaml_node_t *m)
{
	proc_block(c, m, "feedback-loop-processor", &c->cfg->fbl_proc,
	    &c->cfg->fbl_proc_set);
}

/* A category is free text, as in bounce-category-patterns: a name. */
static bool
ok_category(const char *s)
{
	return config_name_ok(s);
}

static void
supp_cats(struct ctx *c, const yaml_node_t *v)
{
	c->cfg->supp.cats = str_list(c, v, "suppression: categories",
	    ok_category, "a bounce category (bad-mailbox, bad-domain, "
	    "inactive-mailbox, ...)", &c->cfg->supp.ncats);
}

static void
supp_scope(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s != NULL && strcmp(s, "global") == 0)
		c->cfg->supp.scope = SUPP_GLOBAL;
	else if (s != NULL && strcmp(s, "job") == 0)
		c->cfg->supp.scope = SUPP_JOB;
	else if (s != NULL && strcmp(s, "pool") == 0)
		c->cfg->supp.scope = SUPP_POOL;
	else
		cerr(c, v, "suppression: scope: expected global, job or pool");
}

static void
supp_refuse_at(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s != NULL && strcmp(s, "rcpt") == 0)
		c->cfg->supp.at_rcpt = true;
	else if (s != NULL && strcmp(s, "queue") == 0)
		c->cfg->supp.at_rcpt = false;
	else
		cerr(c, v, "suppression: refuse-at: expected rcpt or queue");
}

static const struct field supp_fields[] = {
	{ "enabled", F_BOOL, O(cfg_suppression, enabled), 0, 0, 0 },
	{ "complaints", F_BOOL, O(cfg_suppression, complaints), 0, 0, 0 },
	{ "expire-after", F_DURATION, O(cfg_suppression, expire_after), 0, 0,
	    UNITS_DURATION_MAX },
};

static const struct special supp_specials[] = {
	{ "categories", supp_cats },
	{ "scope", supp_scope },
	{ "refuse-at", supp_refuse_at },
};

static void
sp_suppression(struct ctx *c, const yaml_node_t *m)
{
	walk_map(c, m, "suppression", supp_fields, nitems(supp_fields),
	    &c->cfg->supp, NULL, supp_specials, nitems(supp_specials));
}

static struct cfg_hook *cur_hook;

static void
hook_events(struct ctx *c, const yaml_node_t *seq)
{
	static const struct { const char *n; unsigned bit; } evs[] = {
		{ "delivered", EVT_DELIVERED }, { "bounced", EVT_BOUNCED },
		{ "deferred", EVT_DEFERRED }, { "complained", EVT_COMPLAINED },
		{ "suppressed", EVT_SUPPRESSED }, { "all", EVT_ALL },
	};
	yaml_node_item_t *it;
	unsigned	  i;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "event-hooks: events: expected a list such as "
		    "[delivered, bounced]");
		return;
	}
	cur_hook->types = 0;
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t *v = node(c, *it);
		const char  *s = scalar(v);

		for (i = 0; s != NULL && i < nitems(evs); i++)
			if (strcmp(s, evs[i].n) == 0)
				break;
		if (s == NULL || i == nitems(evs))
			cerr(c, v, "event-hooks: events: \"%s\" is not one of "
			    "delivered, bounced, deferred, complained, "
			    "suppressed, all", s ? s : "");
		else
			cur_hook->types |= evs[i].bit;
	}
}

static void
hook_url(struct ctx *c, const yaml_node_t *v)
{
	const char *s = scalar(v);

	if (s == NULL || !valid_text(s, 1000) || strpbrk(s, " \t") != NULL ||
	    (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
	    || strlen(s) < 10) {
		cerr(c, v, "event-hooks: url: expected http://HOST[:PORT]/PATH "
		    "or https://...");
		return;
	}
	free(cur_hook->url);
	cur_hook->url = xstrdup(s);
}

static const struct field hook_fields[] = {
	{ "name", F_NAME, O(cfg_hook, name), 0, 0, 0 },
	{ "batch-size", F_UINT, O(cfg_hook, batch_size), 0, 1, 10000 },
	{ "timeout", F_DURATION, O(cfg_hook, timeout), 0, 1, 600 },
	{ "retry-max", F_DURATION, O(cfg_hook, retry_max), 0, 1, 86400 },
	{ "authorization", F_STR, O(cfg_hook, auth), 0, 0, 1000 },
	{ "secret", F_STR, O(cfg_hook, secret), 0, 0, 256 },
};

static const struct special hook_specials[] = {
	{ "url", hook_url },
	{ "events", hook_events },
};

/* event-hooks: [{name, url, events, batch-size, timeout, retry-max}] */
static void
sp_hooks(struct ctx *c, const yaml_node_t *seq)
{
	yaml_node_item_t *it;
	struct hmap	  seen;
	size_t		  n;

	if (seq->type != YAML_SEQUENCE_NODE) {
		cerr(c, seq, "event-hooks: expected a list of {name, url, "
		    "events}");
		return;
	}
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	c->cfg->hooks = n ? xcalloc(n, sizeof(struct cfg_hook)) : NULL;
	hmap_init(&seen);
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		yaml_node_t	*v = node(c, *it);
		struct cfg_hook	*h = &c->cfg->hooks[c->cfg->nhooks++];

		h->types = EVT_ALL;
		h->batch_size = 100;
		h->timeout = 30;
		h->retry_max = 300;
		cur_hook = h;
		walk_map(c, v, "event-hooks", hook_fields, nitems(hook_fields),
		    h, NULL, hook_specials, nitems(hook_specials));
		cur_hook = NULL;
		if (v->type != YAML_MAPPING_NODE)
			continue;
		if (h->name == NULL || h->url == NULL)
			cerr(c, v, "event-hooks: name and url are required");
		else
			(void)seen_before(c, &seen, v, "event-hooks", h->name);
	}
	hmap_clear(&seen);
}

static const struct special top_specials[] = {
	{ "spool-sync", sp_spool_sync },
	{ "bounce-processor", sp_bounce_proc },
	{ "feedback-loop-processor", sp_fbl_proc },
	{ "suppression", sp_suppression },
	{ "event-hooks", sp_hooks },
	{ "dns", sp_dns },
	{ "accounting", sp_accounting },
	{ "bounce-category-patterns", sp_bcpats },
	{ "smtp-listener", sp_listeners },
	{ "sources", sp_sources },
	{ "virtual-mtas", sp_vmtas },
	{ "virtual-mta-pools", sp_pools },
	{ "domains", sp_domains },
	{ "smtp-pattern-lists", sp_patlists },
	{ "mx-rollup", sp_rollups },
	{ "smtp-users", sp_users },
	{ "domain-keys", sp_dkeys },
	{ "dkim-headers", sp_dkim_headers },
};

/* --- pass 1: events ---------------------------------------------------- */

static bool
prescan(struct ctx *c, const char *buf, size_t len)
{
	yaml_parser_t	 p;
	yaml_event_t	 ev;
	int		 depth = 0, docs = 0;
	unsigned	 nodes = 0;
	bool		 ok = true, done = false;
	yaml_node_t	 fake;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (ok && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			memset(&fake, 0, sizeof(fake));
			fake.start_mark = p.problem_mark;
			cerr(c, &fake, "YAML syntax error: %s%s%s",
			    p.problem ? p.problem : "unknown",
			    p.context ? " " : "", p.context ? p.context : "");
			ok = false;
			break;
		}
		memset(&fake, 0, sizeof(fake));
		fake.start_mark = ev.start_mark;
		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			cerr(c, &fake, "YAML aliases (*name) are not allowed");
			ok = false;
			break;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.anchor || (ev.data.scalar.tag &&
			    !ev.data.scalar.plain_implicit &&
			    !ev.data.scalar.quoted_implicit)) {
				cerr(c, &fake, "YAML anchors and tags are not "
				    "allowed");
				ok = false;
			}
			nodes++;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((ev.type == YAML_SEQUENCE_START_EVENT ?
			    ev.data.sequence_start.anchor :
			    ev.data.mapping_start.anchor) != NULL) {
				cerr(c, &fake, "YAML anchors are not allowed");
				ok = false;
			}
			if ((ev.type == YAML_SEQUENCE_START_EVENT ?
			    ev.data.sequence_start.tag :
			    ev.data.mapping_start.tag) != NULL) {
				cerr(c, &fake, "YAML tags are not allowed");
				ok = false;
			}
			if (++depth > CFG_DEPTH_MAX) {
				cerr(c, &fake, "nesting deeper than %d levels",
				    CFG_DEPTH_MAX);
				ok = false;
			}
			nodes++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				cerr(c, &fake, "only one YAML document is "
				    "allowed");
				ok = false;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		if (nodes > CFG_NODES_MAX) {
			cerr(c, &fake, "more than %d YAML nodes",
			    CFG_NODES_MAX);
			ok = false;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ok;
}

/* --- defaults and cross checks ---------------------------------------- */

static void
set_defaults(struct tern_config *cfg)
{
	cfg->max_message_size = 50ULL * 1024 * 1024;
	cfg->total_max_smtp_in = 1000;
	cfg->max_rcpt_per_message = 1000;
	cfg->max_received_headers = 100;
	cfg->smtp_idle_timeout = 300;
	cfg->smtp_data_timeout = 600;
	cfg->shutdown_timeout = 30;
	cfg->min_free_space = 100ULL * 1024 * 1024;
	cfg->group_commit_delay_us = 0;
	cfg->spool_syncfs = true;
	cfg->smtp_pattern_builtin = true;
	cfg->mx_rollup_builtin = true;
	cfg->auto_mx_rollup = true;
	cfg->max_auth_failures.count = 5;
	cfg->max_auth_failures.period = 600;
	cfg->dns.timeout = 5;
	cfg->dns.attempts = 2;
	cfg->acct.enabled = true;
	cfg->acct.records = ACCT_D | ACCT_B | ACCT_F | ACCT_RB;
	cfg->ndr_max_return = 256 * 1024;
	cfg->supp.enabled = true;
	cfg->supp.complaints = true;
	cfg->supp.scope = SUPP_GLOBAL;
	cfg->supp.at_rcpt = false;
	cfg->acct.move_interval = 0;
	cfg->acct.max_size = 50ULL * 1024 * 1024;
	cfg->acct.delete_after = 0;
}

static void
require(struct ctx *c, const yaml_node_t *root, void *field,
    const char *key)
{
	if (*(char **)field == NULL)
		cerr(c, root, "required key \"%s\" is missing", key);
}

static void
cross_check(struct ctx *c, const yaml_node_t *root)
{
	struct tern_config *cfg = c->cfg;
	unsigned	    i;

	require(c, root, &cfg->spool_dir, "spool-dir");
	require(c, root, &cfg->run_dir, "run-dir");
	if (cfg->acct.file == NULL)
		cfg->acct.file = xstrdup("acct.csv");
	if (cfg->log_dir == NULL && cfg->spool_dir != NULL)
		cfg->log_dir = xstrdup(cfg->spool_dir);
	if (cfg->host_name == NULL) {
		char hn[256];
		if (gethostname(hn, sizeof(hn)) == 0 && valid_hostname(hn))
			cfg->host_name = xstrdup(hn);
		else
			cfg->host_name = xstrdup("localhost");
	}
	if (cfg->nlisteners == 0)
		cerr(c, root, "required key \"smtp-listener\" is missing");
	if (cfg->nvmtas == 0)
		cerr(c, root, "at least one entry in \"virtual-mtas\" is "
		    "required");
	if (cfg->default_virtual_mta == NULL && cfg->nvmtas > 0)
		cfg->default_virtual_mta = xstrdup(cfg->vmtas[0].name);
	else if (cfg->default_virtual_mta != NULL)
		add_ref(c, find_value(c, root, "default-virtual-mta"),
		    "default-virtual-mta", NULL, cfg->default_virtual_mta,
		    false);
	/* Every name, reported where it was written. */
	for (i = 0; i < c->nrefs; i++) {
		struct ref *r = &c->refs[i];

		if (r->vmta_only && config_vmta(cfg, r->name) == NULL)
			cerr(c, &r->at, "%s: \"%s\" is not a virtual-mta",
			    r->what, r->name);
		else if (!r->vmta_only && !config_vmta_or_pool(cfg, r->name))
			cerr(c, &r->at, "%s: \"%s\" is neither a virtual-mta "
			    "nor a pool", r->what, r->name);
	}
	for (i = 0; i < c->nprefs; i++)
		if (config_patlist(cfg, c->prefs[i].name) == NULL)
			cerr(c, &c->prefs[i].at, "%s: smtp-pattern-list: \"%s\" "
			    "is not in smtp-pattern-lists", c->prefs[i].what,
			    c->prefs[i].name);
	for (i = 0; i < cfg->npools; i++) {
		if (config_vmta(cfg, cfg->pools[i].name) != NULL)
			cerr(c, root, "virtual-mta-pools: \"%s\" is also a "
			    "virtual-mta name", cfg->pools[i].name);
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		cerr(c, root, "smtp-server-tls-certificate and "
		    "smtp-server-tls-private-key go together");
	if (cfg->tls_cert != NULL) {
		check_pem(c, find_value(c, root, "smtp-server-tls-certificate"),
		    "smtp-server-tls-certificate", cfg->tls_cert, false);
		check_pem(c, find_value(c, root, "smtp-server-tls-private-key"),
		    "smtp-server-tls-private-key", cfg->tls_key, true);
	}
	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].require_starttls &&
		    cfg->listeners[i].tls_cert == NULL && cfg->tls_cert == NULL)
			cerr(c, root, "smtp-listener %s: require-starttls without "
			    "a certificate", cfg->listeners[i].text);
	if (cfg->ndkim_headers == 0) {
		static const char *def[] = { "From", "To", "Cc", "Subject",
		    "Date", "Message-ID", "Reply-To", "In-Reply-To",
		    "References", "MIME-Version", "Content-Type",
		    "Content-Transfer-Encoding", "List-Unsubscribe",
		    "List-Unsubscribe-Post", "Feedback-ID" };

		cfg->dkim_headers = xcalloc(nitems(def), sizeof(char *));
		for (i = 0; i < nitems(def); i++)
			cfg->dkim_headers[cfg->ndkim_headers++] =
			    xstrdup(def[i]);
	}
	for (i = 0; i < cfg->nvmtas; i++)
		if (cfg->vmtas[i].ehlo_name == NULL) {
			cfg->vmtas[i].ehlo_name = xstrdup(cfg->host_name);
			cfg->vmtas[i].source_ip = xstrdup("");
		}
}

static void
hash_bytes(const char *buf, size_t len, char out[65])
{
	unsigned char	 md[32];
	unsigned int	 mdlen = sizeof(md);
	unsigned	 i;

	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + i * 2, 3, "%02x", md[i]);
}

/* config_load_buf - parse bytes; NULL with errors filled on failure */
struct tern_config *
config_load_buf(const char *name, const char *buf, size_t len,
    struct cfg_errors *err)
{
	struct ctx	 c = { .file = name, .err = err };
	yaml_parser_t	 p;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct tern_config *cfg;
	unsigned	 before = err->n;

	if (len > CFG_FILE_MAX) {
		cerr(&c, NULL, "file larger than %d bytes", CFG_FILE_MAX);
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		cerr(&c, NULL, "file contains a NUL byte");
		return NULL;
	}
	if (!prescan(&c, buf, len))
		return NULL;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		cerr(&c, NULL, "YAML error: %s", p.problem ? p.problem : "?");
		yaml_parser_delete(&p);
		return NULL;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	set_defaults(cfg);
	c.doc = &doc;
	c.cfg = cfg;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL)
		cerr(&c, NULL, "file is empty");
	else {
		walk_map(&c, root, "top level", top_fields,
		    nitems(top_fields), cfg, NULL, top_specials,
		    nitems(top_specials));
		cross_check(&c, root);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	{
		unsigned i;

		for (i = 0; i < c.nrefs; i++)
			free(c.refs[i].name);
		free(c.refs);
		for (i = 0; i < c.nprefs; i++)
			free(c.prefs[i].name);
		free(c.prefs);
	}
	if (err->n != before || err->dropped) {
		config_free(cfg);
		return NULL;
	}
	hmap_init(&cfg->domidx);
	{
		unsigned i;

		for (i = 0; i < cfg->ndomains; i++)
			hmap_put(&cfg->domidx, cfg->domains[i].name,
			    &cfg->domains[i]);
		for (i = 0; i < cfg->nvmtas; i++) {
			struct cfg_vmta *vm = &cfg->vmtas[i];
			unsigned j;

			hmap_init(&vm->domidx);
			for (j = 0; j < vm->ndomains; j++)
				hmap_put(&vm->domidx, vm->domains[j].name,
				    &vm->domains[j]);
		}
	}
	cfg->path = xstrdup(name);
	cfg->loaded = time(NULL);
	hash_bytes(buf, len, cfg->hash);
	return cfg;
}

/* config_load_file - read and parse a file */
struct tern_config *
config_load_file(const char *path, struct cfg_errors *err)
{
	struct tern_config *cfg;
	char		   *buf;
	size_t		    len;

	if ((buf = read_file(path, CFG_FILE_MAX, &len)) == NULL) {
		if (err->n < CFG_ERRORS_MAX)
			err->msg[err->n++] = xasprintf("%s: %s", path,
			    errno == EFBIG ? "file too large" :
			    strerror(errno));
		return NULL;
	}
	cfg = config_load_buf(path, buf, len, err);
	free(buf);
	return cfg;
}

void
config_errors_print(const struct cfg_errors *err, int fd)
{
	unsigned i;

	for (i = 0; i < err->n; i++)
		dprintf(fd, "%s\n", err->msg[i]);
	if (err->dropped)
		dprintf(fd, "(%u more errors)\n", err->dropped);
}

void
config_errors_free(struct cfg_errors *err)
{
	unsigned i;

	for (i = 0; i < err->n; i++)
		free(err->msg[i]);
	memset(err, 0, sizeof(*err));
}

static void
domains_free(struct cfg_domain *d, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].label);
		free(d[i].route);
		free(d[i].smtp_hosts);
		free(d[i].smtp_pattern_list);
	}
	free(d);
}

static void
addrlist_free(struct cfg_addrlist *al)
{
	unsigned i;

	for (i = 0; i < al->ndomains; i++)
		free(al->domains[i]);
	free(al->domains);
	for (i = 0; i < al->naddrs; i++)
		free(al->addrs[i]);
	free(al->addrs);
}

void
config_free(struct tern_config *cfg)
{
	unsigned i, j;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->host_name);
	free(cfg->spool_dir);
	free(cfg->run_dir);
	free(cfg->log_dir);
	free(cfg->user);
	free(cfg->default_virtual_mta);
	addrlist_free(&cfg->bounce_proc);
	free(cfg->verp_secret);
	addrlist_free(&cfg->fbl_proc);
	for (i = 0; i < cfg->supp.ncats; i++)
		free(cfg->supp.cats[i]);
	free(cfg->supp.cats);
	for (i = 0; i < cfg->nhooks; i++) {
		free(cfg->hooks[i].name);
		free(cfg->hooks[i].url);
		free(cfg->hooks[i].auth);
		free(cfg->hooks[i].secret);
	}
	free(cfg->hooks);
	for (i = 0; i < cfg->nlisteners; i++) {
		free(cfg->listeners[i].text);
		free(cfg->listeners[i].tls_cert);
		free(cfg->listeners[i].tls_key);
	}
	free(cfg->listeners);
	for (i = 0; i < cfg->nsources; i++) {
		free(cfg->sources[i].text);
		free(cfg->sources[i].default_virtual_mta);
	}
	free(cfg->sources);
	for (i = 0; i < cfg->nvmtas; i++) {
		struct cfg_vmta *vm = &cfg->vmtas[i];

		free(vm->name);
		free(vm->source_ip);
		free(vm->ehlo_name);
		domains_free(vm->domains, vm->ndomains);
		if (vm->domidx.tab != NULL)
			hmap_clear(&vm->domidx);
		free(vm->warmup.volume);
		free(vm->warmup.rate);
	}
	free(cfg->vmtas);
	for (i = 0; i < cfg->npools; i++) {
		for (j = 0; j < cfg->pools[i].n; j++)
			free(cfg->pools[i].members[j]);
		free(cfg->pools[i].members);
		free(cfg->pools[i].weights);
		free(cfg->pools[i].name);
	}
	free(cfg->pools);
	domains_free(cfg->domains, cfg->ndomains);
	if (cfg->domidx.tab != NULL)
		hmap_clear(&cfg->domidx);
	for (i = 0; i < cfg->dns.nns; i++)
		free(cfg->dns.ns_text[i]);
	free(cfg->acct.file);
	for (i = 0; i < cfg->nbcpats; i++) {
		free(cfg->bcpats[i].text);
		free(cfg->bcpats[i].regex);
		free(cfg->bcpats[i].category);
	}
	free(cfg->bcpats);
	for (i = 0; i < cfg->npatlists; i++) {
		for (j = 0; j < cfg->patlists[i].n; j++)
			free(cfg->patlists[i].r[j].regex);
		free(cfg->patlists[i].r);
		free(cfg->patlists[i].name);
	}
	free(cfg->patlists);
	for (i = 0; i < cfg->nrollups; i++) {
		free(cfg->rollups[i].glob);
		free(cfg->rollups[i].name);
	}
	free(cfg->rollups);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_ca_file);
	for (i = 0; i < cfg->nusers; i++) {
		for (j = 0; j < cfg->users[i].nvmtas; j++)
			free(cfg->users[i].vmtas[j]);
		free(cfg->users[i].vmtas);
		free(cfg->users[i].name);
		free(cfg->users[i].hash);
		free(cfg->users[i].default_virtual_mta);
	}
	free(cfg->users);
	for (i = 0; i < cfg->ndkeys; i++) {
		free(cfg->dkeys[i].selector);
		free(cfg->dkeys[i].domain);
		free(cfg->dkeys[i].key_file);
	}
	free(cfg->dkeys);
	for (i = 0; i < cfg->ndkim_headers; i++)
		free(cfg->dkim_headers[i]);
	free(cfg->dkim_headers);
	free(cfg);
}

/* --- lookups ----------------------------------------------------------- */

static bool
cidr_match(const struct cfg_source *s, const struct sockaddr *sa)
{
	const uint8_t	*a;
	unsigned	 bits = s->prefix, i;
	uint8_t		 v4mapped[16];

	if (s->family == AF_UNSPEC)
		return true;
	if (sa->sa_family == AF_INET && s->family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && s->family == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else if (sa->sa_family == AF_INET6 && s->family == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		memcpy(v4mapped,
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
		a = v4mapped + 12;
	} else
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != s->addr[i])
			return false;
	if (bits > 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((a[i] & mask) != (s->addr[i] & mask))
			return false;
	}
	return true;
}

/* config_source_policy - merge matching source blocks, longest prefix wins */
void
config_source_policy(const struct tern_config *cfg, const struct sockaddr *sa,
    struct src_policy *p)
{
	const struct cfg_source *m[64];
	unsigned		 nm = 0, i, j, got = 0;

	memset(p, 0, sizeof(*p));
	p->service = true;
	p->max_message_size = cfg->max_message_size;
	p->max_rcpt = cfg->max_rcpt_per_message;
	p->max_smtp_in = cfg->total_max_smtp_in;
	p->default_virtual_mta = cfg->default_virtual_mta;
	for (i = 0; i < cfg->nsources && nm < nitems(m); i++)
		if (cidr_match(&cfg->sources[i], sa))
			m[nm++] = &cfg->sources[i];
	/* Sort by prefix length, longest first (few entries: insertion). */
	for (i = 1; i < nm; i++)
		for (j = i; j > 0 && m[j]->prefix > m[j - 1]->prefix; j--) {
			const struct cfg_source *t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	if (nm > 0)
		p->matched = m[0]->text;
	for (i = 0; i < nm; i++) {
		unsigned fresh = m[i]->set & ~got;
#define TAKE(bit, dst, src) if (fresh & (bit)) p->dst = m[i]->src
		TAKE(SRC_RELAY, relay, always_allow_relaying);
		TAKE(SRC_XVMTA, xvmta, process_x_virtual_mta);
		TAKE(SRC_XJOB, xjob, process_x_job);
		TAKE(SRC_SERVICE, service, smtp_service);
		TAKE(SRC_MAXSIZE, max_message_size, max_message_size);
		TAKE(SRC_MAXRCPT, max_rcpt, max_rcpt);
		TAKE(SRC_MAXIN, max_smtp_in, max_smtp_in);
		TAKE(SRC_DEFVMTA, default_virtual_mta, default_virtual_mta);
		TAKE(SRC_REQAUTH, require_auth, require_auth);
		TAKE(SRC_REQTLS, require_starttls, require_starttls);
		TAKE(SRC_GENBOUNCE, generate_bounces, generate_bounces);
#undef TAKE
		got |= m[i]->set;
	}
}

/*
 * find_domain - a domain's block, by hash: the policy is looked up for
 * every recipient and session step, and configurations list hundreds of
 * domains.  Names are stored lowercase; the key is lowered here.
 */
static const struct cfg_domain *
find_domain(const struct tern_config *cfg, const char *name)
{
	char	 low[256];

	if (!bsnprintf(low, sizeof(low), "%s", name))
		return NULL;
	str_lower(low);
	return hmap_get(&cfg->domidx, low);
}

static const struct cfg_domain *
vm_find_domain(const struct cfg_vmta *vm, const char *name)
{
	char	 low[256];

	if (vm == NULL || vm->ndomains == 0 ||
	    !bsnprintf(low, sizeof(low), "%s", name))
		return NULL;
	str_lower(low);
	return hmap_get(&vm->domidx, low);
}

static void
policy_defaults(struct dom_policy *p)
{
	static const struct durlist def_retry = { 1, { 600 } };
	static const struct durlist def_boretry = { 1, { 3600 } };

	memset(p, 0, sizeof(*p));
	p->max_smtp_out = 20;
	p->max_msg_per_connection = 0;
	p->max_rcpt_per_message = 1000;
	p->retry_after = &def_retry;
	p->bounce_after = 4 * 86400 + 12 * 3600;
	/* RFC 5321 4.5.3.2; connect as PowerMTA's connect-timeout. */
	p->to.connect = 120;
	p->to.greeting = 300;
	p->to.mail = 300;
	p->to.rcpt = 300;
	p->to.data = 120;
	p->to.send = 180;
	p->to.dot = 600;
	p->mx_connection_attempts = 10;
	p->default_smtp_port = 25;
	p->connection_idle_timeout = 5;
	p->bounce_upon_5xx_greeting = true;
	p->retry_after_dns_error = 60;
	/* PowerMTA's backoff defaults: 20 connections, 1h retries. */
	p->backoff_max_smtp_out = 20;
	p->backoff_retry_after = &def_boretry;
	p->use_starttls = true;
	p->dkim_sign = -1;
}

/* policy_take - the values block d sets that no earlier block set */
static void
policy_take(struct dom_policy *p, const struct cfg_domain *d, uint64_t got)
{
	uint64_t fresh = d->set & ~got;
	unsigned b;

#define TAKE(bit, f) if (fresh & (bit)) p->f = d->f
	TAKE(DOM_MAXOUT, max_smtp_out);
	TAKE(DOM_MAXPERCONN, max_msg_per_connection);
	TAKE(DOM_MAXRCPT, max_rcpt_per_message);
	TAKE(DOM_BOUNCE, bounce_after);
	TAKE(DOM_MSGRATE, max_msg_rate);
	TAKE(DOM_TCONNECT, to.connect);
	TAKE(DOM_TGREET, to.greeting);
	TAKE(DOM_TMAIL, to.mail);
	TAKE(DOM_TRCPT, to.rcpt);
	TAKE(DOM_TDATA, to.data);
	TAKE(DOM_TSEND, to.send);
	TAKE(DOM_TDOT, to.dot);
	TAKE(DOM_MXATT, mx_connection_attempts);
	TAKE(DOM_PORT, default_smtp_port);
	TAKE(DOM_IDLE, connection_idle_timeout);
	TAKE(DOM_B5XXGREET, bounce_upon_5xx_greeting);
	TAKE(DOM_DNSRETRY, retry_after_dns_error);
	TAKE(DOM_CONNRATE, max_connect_rate);
	TAKE(DOM_BORATE, backoff_max_msg_rate);
	TAKE(DOM_BOMAXOUT, backoff_max_smtp_out);
	TAKE(DOM_BONORMAL, backoff_to_normal_after);
	TAKE(DOM_BONORMALDLV, backoff_to_normal_after_delivery);
	TAKE(DOM_PATLIST, smtp_pattern_list);
	TAKE(DOM_NOROLLUP, disable_mx_rollup);
	TAKE(DOM_USETLS, use_starttls);
	TAKE(DOM_REQTLS, require_starttls);
	TAKE(DOM_VERIFY, verify_server_certificate);
#undef TAKE
	if (fresh & DOM_DKIM)
		p->dkim_sign = d->dkim_sign;
	if (fresh & DOM_RETRY)
		p->retry_after = &d->retry_after;
	if (fresh & DOM_BORETRY)
		p->backoff_retry_after = &d->backoff_retry_after;
	/*
	 * A domain's own route or smtp-hosts wins; one in "*" is the
	 * smarthost for every domain without its own (PowerMTA's <domain *>
	 * with smtp-hosts).  Setting either in a block hides both from the
	 * blocks after it.
	 */
	if ((fresh & (DOM_ROUTE | DOM_HOSTS)) &&
	    !(got & (DOM_ROUTE | DOM_HOSTS))) {
		if (fresh & DOM_ROUTE)
			p->route = d->route;
		if (fresh & DOM_HOSTS)
			p->smtp_hosts = d->smtp_hosts;
	}
	for (b = 0; b < DOM_NBITS; b++)
		if (fresh & (1ULL << b))
			p->from[b] = d->label;
}

/*
 * config_queue_policy - the settings of one queue: the virtual-mta's
 * block for the domain (or rollup name), the top-level block for it,
 * the virtual-mta's "*", the top-level "*", then built-in defaults;
 * each value from the first block that sets it.  A domain named by a
 * block of its own is preferred over any "*" (PowerMTA: a <domain>
 * inside a <virtual-mta> overrides the top-level one).
 */
void
config_queue_policy(const struct tern_config *cfg, const struct cfg_vmta *vm,
    const char *key, struct dom_policy *p)
{
	const struct cfg_domain *blk[4];
	uint64_t got = 0;
	unsigned i;

	policy_defaults(p);
	blk[0] = vm_find_domain(vm, key);
	blk[1] = find_domain(cfg, key);
	blk[2] = vm_find_domain(vm, "*");
	blk[3] = find_domain(cfg, "*");
	p->own_block = (blk[0] != NULL && strcmp(blk[0]->name, "*") != 0) ||
	    (blk[1] != NULL && strcmp(blk[1]->name, "*") != 0);
	for (i = 0; i < 4; i++) {
		if (blk[i] == NULL)
			continue;
		policy_take(p, blk[i], got);
		got |= blk[i]->set;
	}
	/* Backoff's rate is the normal one unless set (PowerMTA). */
	if (!(got & DOM_BORATE)) {
		p->backoff_max_msg_rate = p->max_msg_rate;
		p->from[__builtin_ctzll(DOM_BORATE)] =
		    p->from[__builtin_ctzll(DOM_MSGRATE)];
	}
}

/* config_domain_policy - a domain's settings apart from any virtual-mta */
void
config_domain_policy(const struct tern_config *cfg, const char *domain,
    struct dom_policy *p)
{
	config_queue_policy(cfg, NULL, domain, p);
}

/* config_policy_from - the block a value came from, or "default" */
const char *
config_policy_from(const struct dom_policy *p, uint64_t bit)
{
	unsigned b = (unsigned)__builtin_ctzll(bit);

	return b < DOM_NBITS && p->from[b] != NULL ? p->from[b] : "default";
}

const struct cfg_user *
config_user(const struct tern_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nusers; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

/*
 * config_dkey_for - the key that signs for a From domain: its own, else
 * the nearest parent's (mail.example.com is signed as example.com)
 */
const struct cfg_dkey *
config_dkey_for(const struct tern_config *cfg, const char *dom)
{
	unsigned i;

	while (dom != NULL && *dom != '\0') {
		for (i = 0; i < cfg->ndkeys; i++)
			if (strcasecmp(cfg->dkeys[i].domain, dom) == 0)
				return &cfg->dkeys[i];
		if ((dom = strchr(dom, '.')) != NULL)
			dom++;
	}
	return NULL;
}

/*
 * config_dkim_wanted - whether mail to rcpt_domain through vm is signed:
 * the domain blocks' dkim-sign where one sets it, else the vmta's
 */
bool
config_dkim_wanted(const struct tern_config *cfg, const struct cfg_vmta *vm,
    const char *rcpt_domain)
{
	struct dom_policy p;

	config_queue_policy(cfg, vm, rcpt_domain, &p);
	if (p.dkim_sign != -1)
		return p.dkim_sign;
	return vm != NULL && vm->dkim_sign;
}

const struct cfg_patlist *
config_patlist(const struct tern_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->npatlists; i++)
		if (strcmp(cfg->patlists[i].name, name) == 0)
			return &cfg->patlists[i];
	return NULL;
}

const struct cfg_vmta *
config_vmta(const struct tern_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nvmtas; i++)
		if (strcasecmp(cfg->vmtas[i].name, name) == 0)
			return &cfg->vmtas[i];
	return NULL;
}

const struct cfg_pool *
config_pool(const struct tern_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->npools; i++)
		if (strcasecmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}

bool
config_vmta_or_pool(const struct tern_config *cfg, const char *name)
{
	return config_vmta(cfg, name) != NULL || config_pool(cfg, name) != NULL;
}

/*
 * config_peek_run_dir - find top-level "run-dir" in a file that may not
 * validate (tern(1) must still reach a running ternd to report on it).
 */
char *
config_peek_run_dir(const char *path)
{
	yaml_parser_t	 p;
	yaml_event_t	 ev;
	char		*buf, *found = NULL;
	size_t		 len;
	int		 depth = 0;
	bool		 want = false, key = true, done = false;

	if ((buf = read_file(path, CFG_FILE_MAX, &len)) == NULL)
		return NULL;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (unsigned char *)buf, len);
	while (!done && found == NULL && yaml_parser_parse(&p, &ev)) {
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			/* A nested value at the top level answers its key. */
			if (++depth == 2)
				key = !key;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			if (depth != 1)
				break;
			if (want)
				found = xstrdup((char *)ev.data.scalar.value);
			want = key && strcmp((char *)ev.data.scalar.value,
			    "run-dir") == 0;
			key = !key;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	free(buf);
	return found;
}

/* al_match - local@domain, or local+tag@domain, in an address list */
static bool
al_match(const struct cfg_addrlist *al, const char *local, size_t llen,
    const char *domain)
{
	unsigned i;

	for (i = 0; i < al->ndomains; i++)
		if (strcasecmp(al->domains[i], domain) == 0)
			return true;
	for (i = 0; i < al->naddrs; i++) {
		const char *at = strrchr(al->addrs[i], '@');

		if (at == NULL || strcasecmp(at + 1, domain) != 0)
			continue;
		if ((size_t)(at - al->addrs[i]) == llen &&
		    strncasecmp(al->addrs[i], local, llen) == 0)
			return true;
	}
	return false;
}

/*
 * config_processor - is addr one of the bounce-processor's (PROC_BOUNCE)
 * or feedback-loop-processor's (PROC_FBL) addresses?  A subaddress
 * (local+anything, as VERP writes) matches its base address.
 */
int
config_processor(const struct tern_config *cfg, const char *addr)
{
	const char *at = strrchr(addr, '@'), *plus;
	size_t	    llen, blen, vlen;

	if (at == NULL || (!cfg->bounce_proc_set && !cfg->fbl_proc_set))
		return PROC_NONE;
	llen = (size_t)(at - addr);
	/* The first '+' (a subaddress) and the last (VERP's tail). */
	plus = memchr(addr, '+', llen);
	blen = plus ? (size_t)(plus - addr) : llen;
	for (plus = at; plus > addr && plus[-1] != '+'; plus--)
		;
	vlen = plus > addr ? (size_t)(plus - 1 - addr) : llen;
	if (cfg->fbl_proc_set && (al_match(&cfg->fbl_proc, addr, llen, at + 1)
	    || al_match(&cfg->fbl_proc, addr, blen, at + 1) ||
	    al_match(&cfg->fbl_proc, addr, vlen, at + 1)))
		return PROC_FBL;
	if (cfg->bounce_proc_set && (al_match(&cfg->bounce_proc, addr, llen,
	    at + 1) || al_match(&cfg->bounce_proc, addr, blen, at + 1) ||
	    al_match(&cfg->bounce_proc, addr, vlen, at + 1)))
		return PROC_BOUNCE;
	return PROC_NONE;
}

/*
 * config_supp_category - does a bounce of this category suppress its
 * recipient (suppression: categories; by default bad-mailbox,
 * bad-domain and inactive-mailbox)?
 */
bool
config_supp_category(const struct tern_config *cfg, const char *cat)
{
	static const char *def[] = { "bad-mailbox", "bad-domain",
	    "inactive-mailbox" };
	const struct cfg_suppression *s = &cfg->supp;
	unsigned i;

	if (cat == NULL || !s->enabled)
		return false;
	if (s->ncats == 0) {
		for (i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			if (strcmp(cat, def[i]) == 0)
				return true;
		return false;
	}
	for (i = 0; i < s->ncats; i++)
		if (strcasecmp(cat, s->cats[i]) == 0)
			return true;
	return false;
}
