/*
 * dnsmx.h - asynchronous MX lookups on libevent.
 *
 * Purpose:      libevent's evdns resolves A/AAAA/PTR only; it has no MX
 *               query.  This module sends RFC 1035 MX queries over UDP
 *               (EDNS0, 4096-byte payload) to the configured nameservers
 *               (or those of /etc/resolv.conf) and parses the answer.
 *               Addresses of the MX hosts are then resolved with evdns.
 * Used by:      deliverd.
 * Trust:        DNS answers are hostile: the id, the question, every
 *               name (compression pointers bounded and loop-checked),
 *               every length is checked; one UDP socket per query,
 *               connected to the server, so only it can answer.
 * Spool access: none.
 * See:          deliverd(8).
 */
#ifndef TERN_DNSMX_H
#define TERN_DNSMX_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"

#define MX_MAX		32
#define DNS_NAME_MAX	255

enum dns_status {
	DNS_OK = 0,		/* answers in the result */
	DNS_NODATA,		/* the name exists, no MX: use its A/AAAA */
	DNS_NXDOMAIN,		/* no such domain: bounce */
	DNS_TEMPFAIL		/* SERVFAIL, timeout, garbage: defer */
};

struct mx_result {
	unsigned	 n;
	struct {
		uint16_t pref;
		char	 host[DNS_NAME_MAX + 1];
	} mx[MX_MAX];
};

struct dnsmx;
struct dnsmx_query;
typedef void (*dnsmx_cb)(enum dns_status, const struct mx_result *, void *);

struct dnsmx	*dnsmx_new(struct event_base *, const struct cfg_dns *);
void		 dnsmx_free(struct dnsmx *);
void		 dnsmx_set_servers(struct dnsmx *, const struct cfg_dns *);
struct dnsmx_query *dnsmx_lookup(struct dnsmx *, const char *domain,
		    dnsmx_cb, void *arg);
void		 dnsmx_cancel(struct dnsmx_query *);

/* Exposed for the unit tests and the fuzzer. */
int		 dnsmx_build_query(const char *name, uint16_t id,
		    uint8_t *buf, size_t sz);
enum dns_status	 dnsmx_parse(const uint8_t *, size_t, uint16_t id,
		    const char *name, struct mx_result *);
int		 dnsmx_resolv_conf(const char *path, struct cfg_dns *);

#endif
