/*
 * route.c - where a domain's mail goes: route, smtp-hosts, MX, A.
 *
 * Purpose:      a domain block's "route" ([ip]:port, ip:port, host[:port])
 *               skips MX lookup, as in PowerMTA; "smtp-hosts NAME" uses
 *               NAME's MX.  Otherwise: MX records in preference order
 *               (equal preferences shuffled), the domain itself when it
 *               has no MX (RFC 5321 5.1 implicit MX), null MX (RFC 7505)
 *               and NXDOMAIN bounce every waiting job, SERVFAIL and
 *               timeouts defer them.  Each host's addresses come from
 *               evdns (A for an IPv4 or unbound source, AAAA for IPv6).
 *               A resolved route is reused for ROUTE_TTL seconds.
 * Used by:      deliverd.
 * Trust:        answers are bounded by dnsmx.c and evdns.
 * Spool access: none.
 * See:          deliverd(8).
 */
#include <sys/random.h>

#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "builtin.h"
#include "deliverd.h"

static void	evdns_setup(const struct cfg_dns *);
static void	rollup(struct dqueue *, const struct dom_policy *);

struct alookup {
	struct dqueue	*dq;
	unsigned	 slot;
};

static void
route_ready(struct dqueue *dq)
{
	char	 why[300];
	unsigned i, k;

	if (dq->ndests == 0) {
		snprintf(why, sizeof(why), "no address for any MX host of %s",
		    dq->domain);
		dq->rstate = RT_NONE;
		/* Hosts that do not resolve: routing error, retried. */
		dq_fail_local(dq, 'T', dq->lookup_tempfail ? "4.4.3" : "4.4.4",
		    why);
		return;
	}
	/* Stable sort by MX rank: lookups finish in any order. */
	for (i = 1; i < dq->ndests; i++)
		for (k = i; k > 0 && dq->dests[k].slot <
		    dq->dests[k - 1].slot; k--) {
			struct dest t = dq->dests[k];
			dq->dests[k] = dq->dests[k - 1];
			dq->dests[k - 1] = t;
		}
	dq->rstate = RT_READY;
	dq->rexpire = time(NULL) + ROUTE_TTL;
	dq_kick(dq);
}

static void
a_done(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	struct alookup	*al = arg;
	struct dqueue	*dq = al->dq;
	int		 i;

	dq->lookups--;
	if (result == DNS_ERR_NONE && (type == DNS_IPv4_A ||
	    type == DNS_IPv6_AAAA)) {
		/* Appended with their MX rank; route_ready sorts. */
		for (i = 0; i < count && dq->ndests < DEST_MAX; i++) {
			struct dest *d = &dq->dests[dq->ndests];

			memset(d, 0, sizeof(*d));
			tern_strlcpy(d->host, dq->mxhosts[al->slot],
			    sizeof(d->host));
			if (type == DNS_IPv4_A) {
				struct sockaddr_in *sin = (void *)&d->ss;
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr,
				    (char *)addrs + i * 4, 4);
				sin->sin_port = htons(dq->mxport[al->slot]);
				d->len = sizeof(*sin);
			} else {
				struct sockaddr_in6 *sin6 = (void *)&d->ss;
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr,
				    (char *)addrs + i * 16, 16);
				sin6->sin6_port = htons(dq->mxport[al->slot]);
				d->len = sizeof(*sin6);
			}
			d->slot = al->slot;
			dq->ndests++;
		}
	} else if (result != DNS_ERR_NOTEXIST && result != DNS_ERR_NODATA)
		dq->lookup_tempfail = true;
	free(al);
	if (dq->lookups == 0)
		route_ready(dq);
}

static bool
ipv6_source(void)
{
	return dd.vm->source.len != 0 &&
	    dd.vm->source.ss.ss_family == AF_INET6;
}

/* lookup_hosts - addresses for every MX host, in parallel */
static void
lookup_hosts(struct dqueue *dq)
{
	unsigned i, n = dq->nmx;

	dq->ndests = 0;
	dq->lookups = 0;
	dq->lookup_tempfail = false;
	for (i = 0; i < n; i++) {
		struct alookup	*al = xcalloc(1, sizeof(*al));
		struct cfg_addr	 lit;
		const char	*e;

		/* A literal address needs no lookup. */
		if (config_parse_hostport(dq->mxhosts[i], dq->mxport[i], &lit,
		    &e) == 0 && dq->ndests < DEST_MAX) {
			struct dest *d = &dq->dests[dq->ndests++];

			tern_strlcpy(d->host, dq->mxhosts[i], sizeof(d->host));
			d->slot = i;
			d->ss = lit.ss;
			d->len = lit.len;
			free(al);
			continue;
		}
		al->dq = dq;
		al->slot = i;
		dq->lookups++;
		if ((ipv6_source() ? evdns_base_resolve_ipv6 :
		    evdns_base_resolve_ipv4)(dd.evdns, dq->mxhosts[i],
		    DNS_QUERY_NO_SEARCH, a_done, al) == NULL) {
			dq->lookups--;
			dq->lookup_tempfail = true;
			free(al);
		}
	}
	if (dq->lookups == 0)
		route_ready(dq);
}

static int
by_pref(const void *a, const void *b)
{
	const uint16_t *pa = a, *pb = b;

	return (int)pa[0] - (int)pb[0];
}

static void
mx_done(enum dns_status st, const struct mx_result *r, void *arg)
{
	struct dqueue	*dq = arg;
	const struct dom_policy *pol;
	unsigned	 i, max;
	struct { uint16_t pref; uint16_t rnd; unsigned i; } order[MX_MAX];

	dq->mxq = NULL;
	pol = dq_policy(dq);
	switch (st) {
	case DNS_NXDOMAIN:
		dq->rstate = RT_NONE;
		dq_fail_local(dq, 'B', "5.1.2", "DNS: no such domain");
		return;
	case DNS_TEMPFAIL:
		dq->rstate = RT_NONE;
		dq_fail_local(dq, 'T', "4.4.3", "DNS: temporary failure looking "
		    "up MX");
		return;
	case DNS_NODATA:
		/* No MX: the name itself is the mail host (RFC 5321 5.1). */
		tern_strlcpy(dq->mxhosts[0], dq->mxname, sizeof(dq->mxhosts[0]));
		dq->mxport[0] = (uint16_t)pol->default_smtp_port;
		dq->nmx = 1;
		lookup_hosts(dq);
		return;
	case DNS_OK:
		break;
	}
	if (r->n == 1 && r->mx[0].host[0] == '\0') {
		dq->rstate = RT_NONE;
		dq_fail_local(dq, 'B', "5.1.10", "DNS: domain has a null MX "
		    "(RFC 7505)");
		return;
	}
	for (i = 0; i < r->n; i++) {
		order[i].pref = r->mx[i].pref;
		if (getrandom(&order[i].rnd, 2, 0) != 2)
			order[i].rnd = (uint16_t)i;
		order[i].i = i;
	}
	/* Sort by preference, then by the random key: equal ones shuffle. */
	qsort(order, r->n, sizeof(order[0]), by_pref);
	for (i = 1; i < r->n; i++) {
		unsigned k = i;
		while (k > 0 && order[k].pref == order[k - 1].pref &&
		    order[k].rnd < order[k - 1].rnd) {
			typeof(order[0]) t = order[k];
			order[k] = order[k - 1];
			order[k - 1] = t;
			k--;
		}
	}
	max = r->n < pol->mx_connection_attempts ? r->n :
	    (unsigned)pol->mx_connection_attempts;
	dq->nmx = 0;
	for (i = 0; i < max; i++) {
		if (r->mx[order[i].i].host[0] == '\0')
			continue;
		tern_strlcpy(dq->mxhosts[dq->nmx], r->mx[order[i].i].host,
		    sizeof(dq->mxhosts[0]));
		dq->mxport[dq->nmx++] = (uint16_t)pol->default_smtp_port;
	}
	rollup(dq, pol);
	lookup_hosts(dq);
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/*
 * rollup - the shaping key of an MX-routed domain: the first mx-rollup
 * glob matching one of its MX hosts; else, for a domain without a block
 * of its own, the built-in table, then its MX host names, sorted and
 * joined (domains with the same MX hosts share one queue, as KumoMTA's
 * site name does).  disable-mx-rollup keeps the domain.
 */
static void
rollup(struct dqueue *dq, const struct dom_policy *pol)
{
	const struct tern_config *cfg = dd.d.cfg;
	char		*hosts[DEST_MAX], site[SKEY_MAX + 1];
	unsigned	 i, k, n = 0;
	size_t		 len = 0;

	tern_strlcpy(dq->skey, dq->domain, sizeof(dq->skey));
	if (pol->disable_mx_rollup || dq->nmx == 0)
		return;
	for (i = 0; i < dq->nmx; i++) {
		hosts[n] = dq->mxhosts[i];
		str_lower(hosts[n]);
		for (k = 0; k < n && strcmp(hosts[k], hosts[n]) != 0; k++)
			;
		if (k == n)
			n++;
	}
	qsort(hosts, n, sizeof(hosts[0]), by_str);
	for (k = 0; k < cfg->nrollups; k++)
		for (i = 0; i < n; i++)
			if (fnmatch(cfg->rollups[k].glob, hosts[i], 0) == 0) {
				tern_strlcpy(dq->skey, cfg->rollups[k].name,
				    sizeof(dq->skey));
				return;
			}
	/*
	 * The built-in table and the automatic site leave alone a domain
	 * with a block of its own: its limits were written for it.
	 */
	if (pol->own_block)
		return;
	for (k = 0; cfg->mx_rollup_builtin && k < nbuiltin_rollups; k++)
		for (i = 0; i < n; i++)
			if (fnmatch(builtin_rollups[k].mx_glob, hosts[i],
			    0) == 0) {
				tern_strlcpy(dq->skey, builtin_rollups[k].name,
				    sizeof(dq->skey));
				return;
			}
	if (!cfg->auto_mx_rollup)
		return;
	site[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t hl = strlen(hosts[i]);

		if (len + hl + 2 > sizeof(site)) {
			/* Too long to show: the first names and a count. */
			snprintf(site + len, sizeof(site) - len, "+%u", n - i);
			break;
		}
		len += (size_t)snprintf(site + len, sizeof(site) - len, "%s%s",
		    i ? "," : "", hosts[i]);
	}
	tern_strlcpy(dq->skey, site, sizeof(dq->skey));
}

/* static_route - "[ip]:port", "ip:port", "host", "host:port" */
static void
static_route(struct dqueue *dq, const char *route, uint16_t defport)
{
	const char	*colon = strrchr(route, ':');
	uint64_t	 port = defport;
	size_t		 n;

	dq->nmx = 1;
	if (route[0] == '[' || strspn(route, "0123456789.:") == strlen(route)) {
		/* literal: resolved by lookup_hosts without DNS */
		tern_strlcpy(dq->mxhosts[0], route, sizeof(dq->mxhosts[0]));
		dq->mxport[0] = defport;
		lookup_hosts(dq);
		return;
	}
	n = colon ? (size_t)(colon - route) : strlen(route);
	if (colon != NULL)
		parse_u64(colon + 1, 1, 65535, &port);
	if (n >= sizeof(dq->mxhosts[0]))
		n = sizeof(dq->mxhosts[0]) - 1;
	memcpy(dq->mxhosts[0], route, n);
	dq->mxhosts[0][n] = '\0';
	dq->mxport[0] = (uint16_t)port;
	lookup_hosts(dq);
}

/* route_resolve - start finding where dq's mail goes */
void
route_resolve(struct dqueue *dq)
{
	const struct dom_policy *pol;

	pol = dq_policy(dq);
	dq->rstate = RT_RESOLVING;
	dq->ndests = 0;
	tern_strlcpy(dq->skey, dq->domain, sizeof(dq->skey));
	if (pol->route != NULL) {
		static_route(dq, pol->route, (uint16_t)pol->default_smtp_port);
		return;
	}
	/*
	 * smtp-hosts: an address or host:port is used as it is (like
	 * route); a bare name stands for that name's MX hosts.
	 */
	if (pol->smtp_hosts != NULL && (pol->smtp_hosts[0] == '[' ||
	    strchr(pol->smtp_hosts, ':') != NULL ||
	    strspn(pol->smtp_hosts, "0123456789.") == strlen(pol->smtp_hosts))) {
		static_route(dq, pol->smtp_hosts,
		    (uint16_t)pol->default_smtp_port);
		return;
	}
	tern_strlcpy(dq->mxname, pol->smtp_hosts ? pol->smtp_hosts : dq->domain,
	    sizeof(dq->mxname));
	dq->mxq = dnsmx_lookup(dd.dns, dq->mxname, mx_done, dq);
}

/* route_init - one resolver configuration for MX (dnsmx) and A (evdns) */
void
route_init(void)
{
	dd.dns = dnsmx_new(dd.d.base, &dd.d.cfg->dns);
	dd.evdns = evdns_base_new(dd.d.base, 0);
	if (dd.evdns == NULL)
		fatalx("evdns_base_new");
	evdns_setup(&dd.d.cfg->dns);
}

/*
 * route_reload - a reload's dns block: new servers for the lookups to
 * come (queries under way finish with what they had started on).
 */
void
route_reload(const struct cfg_dns *dns)
{
	dnsmx_set_servers(dd.dns, dns);
	evdns_base_clear_nameservers_and_suspend(dd.evdns);
	evdns_setup(dns);
	evdns_base_resume(dd.evdns);
}

static void
evdns_setup(const struct cfg_dns *dns)
{
	unsigned	      i;
	char		      t[16];

	if (dns->nns == 0) {
		if (evdns_base_resolv_conf_parse(dd.evdns, DNS_OPTION_NAMESERVERS,
		    "/etc/resolv.conf") != 0)
			evdns_base_nameserver_ip_add(dd.evdns, "127.0.0.1");
	} else
		for (i = 0; i < dns->nns; i++)
			evdns_base_nameserver_sockaddr_add(dd.evdns,
			    (const struct sockaddr *)&dns->ns[i].ss,
			    dns->ns[i].len, 0);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)dns->timeout);
	evdns_base_set_option(dd.evdns, "timeout:", t);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)dns->attempts);
	evdns_base_set_option(dd.evdns, "attempts:", t);
	evdns_base_set_option(dd.evdns, "randomize-case:", "0");
}
