/*
 * dnsmx.c - asynchronous MX lookups on libevent.
 *
 * Purpose:      see dnsmx.h.  A query tries each nameserver in turn,
 *               `attempts` rounds, `timeout` seconds each.  Answer
 *               checks: same id, QR set, opcode 0, exactly our question
 *               echoed, RCODE 0/3 understood (anything else is a
 *               temporary failure), TC without a usable answer is a
 *               temporary failure.  MX records are accepted when owned by
 *               the query name or by a CNAME target found in the answer.
 *               Null MX (RFC 7505: one MX, preference 0, target ".") is
 *               returned as n=1 with an empty host.
 * Used by:      deliverd.
 * Trust:        hostile answers; all parsing bounded.
 * Spool access: none.
 * See:          deliverd(8).
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dnsmx.h"
#include "log.h"
#include "util.h"

#define DNS_PKT_MAX	4096
#define DNS_ALIAS_MAX	8

struct dnsmx {
	struct event_base *base;
	struct cfg_dns	 dns;
};

struct dnsmx_query {
	struct dnsmx	*ctx;
	char		 name[DNS_NAME_MAX + 1];
	uint16_t	 id;
	int		 fd;
	unsigned	 try;
	struct event	*ev;
	dnsmx_cb	 cb;
	void		*arg;
};

/* dnsmx_build_query - header, QNAME, QTYPE=MX, QCLASS=IN, EDNS0 OPT */
int
dnsmx_build_query(const char *name, uint16_t id, uint8_t *buf, size_t sz)
{
	size_t	 o = 12, len;
	const char *p = name, *dot;

	if (sz < 512 || strlen(name) > DNS_NAME_MAX)
		return -1;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01;			/* RD */
	buf[5] = 1;			/* QDCOUNT */
	buf[11] = 1;			/* ARCOUNT: OPT */
	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || o + len + 1 > 300)
			return -1;
		buf[o++] = (uint8_t)len;
		memcpy(buf + o, p, len);
		o += len;
		p += len;
		if (*p == '.')
			p++;
	}
	buf[o++] = 0;
	buf[o++] = 0; buf[o++] = 15;	/* MX */
	buf[o++] = 0; buf[o++] = 1;	/* IN */
	/* OPT RR: root name, type 41, class = payload size 4096. */
	buf[o++] = 0;
	buf[o++] = 0; buf[o++] = 41;
	buf[o++] = 0x10; buf[o++] = 0x00;
	memset(buf + o, 0, 6);
	o += 6;
	return (int)o;
}

/* get_name - decompress a name at *off into out (dotted, no final dot) */
static int
get_name(const uint8_t *pkt, size_t len, size_t *off, char *out)
{
	size_t	 p = *off, o = 0;
	unsigned jumps = 0;
	bool	 jumped = false;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return -1;
		l = pkt[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > 64)
				return -1;
			if (!jumped)
				*off = p + 2;
			jumped = true;
			p = (size_t)(l & 0x3f) << 8 | pkt[p + 1];
			continue;
		}
		if (l & 0xc0)
			return -1;
		p++;
		if (l == 0)
			break;
		if (p + l > len || o + l + 1 > DNS_NAME_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, pkt + p, l);
		o += l;
		p += l;
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL)
		return -1;
	if (!jumped)
		*off = p;
	return 0;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool
owner_ok(const char *owner, const char *qname, char aliases[][DNS_NAME_MAX + 1],
    unsigned nalias)
{
	unsigned i;

	if (strcasecmp(owner, qname) == 0)
		return true;
	for (i = 0; i < nalias; i++)
		if (strcasecmp(owner, aliases[i]) == 0)
			return true;
	return false;
}

/* dnsmx_parse - validate an answer to our query and extract MX records */
enum dns_status
dnsmx_parse(const uint8_t *pkt, size_t len, uint16_t id, const char *qname,
    struct mx_result *res)
{
	char	 name[DNS_NAME_MAX + 1];
	char	 aliases[DNS_ALIAS_MAX][DNS_NAME_MAX + 1];
	unsigned nalias = 0, qd, an, i, rcode, nbad = 0;
	size_t	 off = 12;

	memset(res, 0, sizeof(*res));
	if (len < 12 || get16(pkt) != id || !(pkt[2] & 0x80) ||
	    (pkt[2] & 0x78) != 0)
		return DNS_TEMPFAIL;
	rcode = pkt[3] & 0x0f;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	if (qd != 1)
		return DNS_TEMPFAIL;
	if (get_name(pkt, len, &off, name) == -1 || off + 4 > len ||
	    strcasecmp(name, qname) != 0 || get16(pkt + off) != 15 ||
	    get16(pkt + off + 2) != 1)
		return DNS_TEMPFAIL;
	off += 4;
	if (rcode == 3)
		return DNS_NXDOMAIN;
	if (rcode != 0)
		return DNS_TEMPFAIL;
	for (i = 0; i < an; i++) {
		uint16_t type, rdlen;
		size_t	 rd;

		if (get_name(pkt, len, &off, name) == -1 || off + 10 > len)
			return DNS_TEMPFAIL;
		type = get16(pkt + off);
		rdlen = get16(pkt + off + 8);
		rd = off + 10;
		if (rd + rdlen > len)
			return DNS_TEMPFAIL;
		off = rd + rdlen;
		if (type == 5 && nalias < DNS_ALIAS_MAX &&
		    owner_ok(name, qname, aliases, nalias)) {
			size_t o2 = rd;
			if (get_name(pkt, len, &o2, aliases[nalias]) == 0)
				nalias++;
			continue;
		}
		if (type != 15 || rdlen < 3 || res->n == MX_MAX ||
		    !owner_ok(name, qname, aliases, nalias))
			continue;
		{
			size_t o2 = rd + 2;
			const char *h = res->mx[res->n].host;

			res->mx[res->n].pref = get16(pkt + rd);
			if (get_name(pkt, len, &o2, res->mx[res->n].host) == -1
			    || o2 > rd + rdlen)
				return DNS_TEMPFAIL;
			/* Host names only: letters, digits, '-', '_', '.'. */
			if (strspn(h, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
			    strlen(h)) {
				nbad++;
				continue;
			}
			res->n++;
		}
	}
	/* MX records that were all unusable are not "no MX": retry later. */
	if (res->n == 0)
		return (pkt[2] & 0x02) || nbad > 0 ? DNS_TEMPFAIL : DNS_NODATA;
	return DNS_OK;
}

/* dnsmx_resolv_conf - nameserver lines of /etc/resolv.conf */
int
dnsmx_resolv_conf(const char *path, struct cfg_dns *dns)
{
	FILE	*f;
	char	 line[512], *p;
	const char *e;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && dns->nns < DNS_NS_MAX) {
		if (strncmp(line, "nameserver", 10) != 0)
			continue;
		p = str_trim(line + 10);
		if (config_parse_hostport(p, 53, &dns->ns[dns->nns], &e) == 0)
			dns->nns++;
	}
	fclose(f);
	return dns->nns > 0 ? 0 : -1;
}

/* dnsmx_set_servers - the servers (and timeouts) of later attempts */
void
dnsmx_set_servers(struct dnsmx *d, const struct cfg_dns *dns)
{
	d->dns = *dns;
	memset(d->dns.ns_text, 0, sizeof(d->dns.ns_text));
	if (d->dns.nns == 0 &&
	    dnsmx_resolv_conf("/etc/resolv.conf", &d->dns) == -1) {
		struct cfg_dns *x = &d->dns;
		const char *e;
		config_parse_hostport("127.0.0.1", 53, &x->ns[0], &e);
		x->nns = 1;
	}
}

struct dnsmx *
dnsmx_new(struct event_base *base, const struct cfg_dns *dns)
{
	struct dnsmx *d = xcalloc(1, sizeof(*d));

	d->base = base;
	dnsmx_set_servers(d, dns);
	return d;
}

void
dnsmx_free(struct dnsmx *d)
{
	free(d);
}

static void	query_event(evutil_socket_t, short, void *);

static void
query_done(struct dnsmx_query *q, enum dns_status st,
    const struct mx_result *r)
{
	dnsmx_cb cb = q->cb;
	void	*arg = q->arg;

	dnsmx_cancel(q);
	cb(st, r, arg);
}

/* query_send - next attempt: next nameserver, fresh socket and id */
static void
query_send(struct dnsmx_query *q)
{
	struct dnsmx	*d = q->ctx;
	uint8_t		 pkt[512];
	int		 n;
	struct timeval	 tv = { (time_t)d->dns.timeout, 0 };
	const struct cfg_addr *ns;

	if (q->try >= d->dns.nns * d->dns.attempts) {
		query_done(q, DNS_TEMPFAIL, NULL);
		return;
	}
	ns = &d->dns.ns[q->try % d->dns.nns];
	q->try++;
	if (q->ev != NULL) {
		event_free(q->ev);
		q->ev = NULL;
	}
	if (q->fd != -1)
		close(q->fd);
	if (getrandom(&q->id, sizeof(q->id), 0) != sizeof(q->id))
		q->id = (uint16_t)random();
	n = dnsmx_build_query(q->name, q->id, pkt, sizeof(pkt));
	q->fd = socket(ns->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (n < 0 || q->fd == -1 ||
	    connect(q->fd, (const struct sockaddr *)&ns->ss, ns->len) == -1 ||
	    send(q->fd, pkt, (size_t)n, 0) != n) {
		/* Next server from the loop, never from here (no recursion). */
		q->ev = evtimer_new(d->base, query_event, q);
		event_active(q->ev, EV_TIMEOUT, 0);
		return;
	}
	q->ev = event_new(d->base, q->fd, EV_READ | EV_TIMEOUT, query_event,
	    q);
	event_add(q->ev, &tv);
}

static void
query_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsmx_query *q = arg;
	struct mx_result   r;
	uint8_t		   pkt[DNS_PKT_MAX];
	ssize_t		   n;
	enum dns_status	   st;

	if (what & EV_TIMEOUT) {
		query_send(q);
		return;
	}
	n = recv(fd, pkt, sizeof(pkt), 0);
	if (n <= 0) {
		query_send(q);
		return;
	}
	st = dnsmx_parse(pkt, (size_t)n, q->id, q->name, &r);
	if (st == DNS_TEMPFAIL && q->try < q->ctx->dns.nns *
	    q->ctx->dns.attempts && (n < 4 || (pkt[3] & 0x0f) != 2)) {
		query_send(q);		/* garbage: ask again */
		return;
	}
	query_done(q, st, &r);
}

struct dnsmx_query *
dnsmx_lookup(struct dnsmx *d, const char *domain, dnsmx_cb cb, void *arg)
{
	struct dnsmx_query *q = xcalloc(1, sizeof(*q));

	q->ctx = d;
	q->fd = -1;
	q->cb = cb;
	q->arg = arg;
	tern_strlcpy(q->name, domain, sizeof(q->name));
	/* First send from the loop: callbacks never run inside lookup. */
	q->ev = evtimer_new(d->base, query_event, q);
	event_active(q->ev, EV_TIMEOUT, 0);
	return q;
}

/* dnsmx_cancel - forget a query; its callback will not run */
void
dnsmx_cancel(struct dnsmx_query *q)
{
	if (q->ev != NULL)
		event_free(q->ev);
	if (q->fd != -1)
		close(q->fd);
	free(q);
}
