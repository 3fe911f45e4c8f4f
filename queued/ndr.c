/*
 * ndr.c - non-delivery reports: the RFC 3464 bounces Tern itself sends.
 *
 * Purpose:      when a recipient bounces (a 5xx, an expiry, the
 *               suppression list) and the message came from a source
 *               with generate-bounces: yes, the envelope sender gets one
 *               report per message and batch listing those recipients
 *               (dsngen.c), unless the sender is null (a bounce never
 *               bounces: no loop), the message was for the processors,
 *               or the recipient asked NOTIFY=NEVER (or a NOTIFY list
 *               without FAILURE).  NOTIFY=SUCCESS gets a "relayed"
 *               report the same way, unless the next server offered
 *               DSN: deliverd passed NOTIFY, ORCPT, RET and ENVID on
 *               and that server reports.  RET=FULL returns the message
 *               (up to bounce-return-max-size), otherwise its headers;
 *               ENVID and ORCPT are echoed.
 *               The report is committed to the spool as a message from
 *               <> before the outcome that caused it goes into the done
 *               log (ndr_commit: the group commit, run at once), so a
 *               crash can repeat a report but never lose one.  It leaves
 *               through the original's VirtualMTA.
 * Used by:      queued (sched.c results_run).
 * Trust:        the original and the remote replies are hostile: dsngen
 *               bounds and cleans them.
 * Spool access: creates queue files through commit.c.
 * See:          tern.yaml(5) generate-bounces, queued(8).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsngen.h"
#include "log.h"
#include "queued.h"
#include "smtp_cmd.h"

#define NDR_MAX	(64u << 20)

static unsigned	 nmade;

static bool	 esmtp_has(const char *, const char *);

/* generate_for - generate-bounces of the source that sent m */
static bool
generate_for(const struct msg *m)
{
	struct sockaddr_storage ss;
	struct src_policy	pol;
	char			 ip[64];

	memset(&ss, 0, sizeof(ss));
	if (mta_address(m->srcmta, ip, sizeof(ip)) == -1)
		return false;
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	config_source_policy(qd.d.cfg, (struct sockaddr *)&ss, &pol);
	return pol.generate_bounces;
}

/* ndr_wanted - may this recipient's outcome make a report? */
bool
ndr_wanted(const struct msg *m, unsigned idx, char fin, const char *esmtp)
{
	unsigned notify = m->rcpts[idx].notify;

	/* A server that offers DSN got NOTIFY: it reports success itself. */
	if (fin == RS_DELIVERED && esmtp_has(esmtp, "DSN"))
		return false;

	/* Not to <>, nor to our own processors (they have the b row). */
	if (m->sender[0] == '\0' ||
	    config_processor(qd.d.cfg, m->sender) != PROC_NONE ||
	    strcmp(m->vmta, BOUNCD_VMTA) == 0 ||
	    (m->rcpts[idx].q != NULL &&
	    strcmp(m->rcpts[idx].q->vmta, BOUNCD_VMTA) == 0))
		return false;
	if (notify & DSN_NOTIFY_NEVER)
		return false;
	if (fin == RS_BOUNCED && notify != 0 && !(notify & DSN_NOTIFY_FAILURE))
		return false;
	if (fin == RS_DELIVERED && !(notify & DSN_NOTIFY_SUCCESS))
		return false;
	return generate_for(m);
}

/* esmtp_has - is kw in the comma-separated EHLO keyword list? */
static bool
esmtp_has(const char *list, const char *kw)
{
	size_t	 n = strlen(kw);
	const char *p;

	for (p = list; p != NULL && *p != '\0'; p = strchr(p, ',') ?
	    strchr(p, ',') + 1 : NULL)
		if (strncmp(p, kw, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* host_of - "host (ip)" -> host */
static void
host_of(const char *mx, char *out, size_t sz)
{
	snprintf(out, sz, "%.*s", (int)strcspn(mx, " "), mx);
}

/* diag_of - the reply without accounting's "smtp;" */
static const char *
diag_of(const char *d)
{
	if (strncasecmp(d, "smtp;", 5) == 0)
		d += 5;
	while (*d == ' ')
		d++;
	return d;
}

/*
 * ndr_make - one report to m's sender for the recipients idx[0..n) of
 * result r, whose final states are fin[]; into the commit batch
 */
void
ndr_make(const struct msg *m, const struct qresult *r, const unsigned *ri,
    const char *fin, unsigned n)
{
	struct dsngen_rcpt *rc = xcalloc(n, sizeof(*rc));
	char		 (*orcpt)[DSN_ORCPT_MAX * 3 + 1] = xcalloc(n,
			    sizeof(*orcpt));
	char		 envid[DSN_ENVID_MAX * 3 + 1], host[300];
	struct dsngen	 g;
	struct buf	 out;
	const char	*why = NULL;
	unsigned	 i;
	int		 fd;

	host_of(r->mx, host, sizeof(host));
	for (i = 0; i < n; i++) {
		const struct msg_rcpt *mr = &m->rcpts[r->r[ri[i]].idx];

		rc[i].rcpt = mr->addr;
		if (mr->orcpt != NULL) {
			xtext_encode(mr->orcpt, orcpt[i], sizeof(orcpt[i]));
			rc[i].orcpt = orcpt[i];
		}
		/* Handed to a server that does not report: "relayed". */
		rc[i].action = fin[i] == RS_DELIVERED ? "relayed" : "failed";
		rc[i].status = r->r[ri[i]].status;
		rc[i].diag = diag_of(r->r[ri[i]].diag);
		rc[i].remote_mta = host[0] ? host : NULL;
	}
	memset(&g, 0, sizeof(g));
	g.reporting_mta = qd.d.cfg->host_name;
	g.to = m->sender;
	if (m->envid != NULL) {
		xtext_encode(m->envid, envid, sizeof(envid));
		g.envid = envid;
	}
	g.queue_id = m->id;
	g.arrival = (time_t)m->arrival;
	g.now = time(NULL);
	g.ret_full = m->ret == DSN_RET_FULL;
	g.off = m->body_off;
	g.len = m->size;
	g.max_return = qd.d.cfg->ndr_max_return;
	g.nrcpt = n;
	g.rcpts = rc;
	buf_init(&out, NDR_MAX);
	if ((fd = msg_open_read(m)) == -1)
		log_warn("%s: no report: cannot open the message", m->id);
	else {
		g.fd = fd;
		if (dsngen_build(&g, &out, &why) == -1)
			log_warnx("%s: no report: %s", m->id, why);
		else if (commit_local(m->sender, m->vmta, &out) == 0) {
			nmade++;
			qd.n_ndr++;
		}
		close(fd);
	}
	buf_free(&out);
	free(orcpt);
	free(rc);
}

/* ndr_commit - the reports made in this batch, durable now */
void
ndr_commit(void)
{
	if (nmade == 0)
		return;
	commit_now();
	nmade = 0;
}
