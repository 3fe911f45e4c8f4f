/*
 * ctl.c - control requests from tern(1): status and queues, as JSON.
 *
 * Purpose:      IPC_CTL_REQUEST carries {"cmd": "..."}; the reply is a
 *               JSON object.  Commands: "status", "queues".
 * Used by:      queued.
 * Trust:        the socket is mode 0660 and the peer's uid is checked at
 *               HELLO; the JSON is parsed by jansson with a size cap.
 * Spool access: none here.
 * See:          tern(1).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctljson.h"
#include "log.h"
#include "queued.h"

#define CTL_QUEUES_MAX	1000	/* keeps a reply under IPC_MAXSIZE */

static void
set_int(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *
ctl_status(json_t *req)
{
	const struct tern_config *cfg = qd.d.cfg;
	json_t			 *o = json_object();

	json_object_set_new(o, "daemon", json_string("queued"));
	set_int(o, "pid", (uint64_t)getpid());
	set_int(o, "started", (uint64_t)qd.started);
	json_object_set_new(o, "config_hash", json_string(cfg->hash));
	set_int(o, "config_loaded", (uint64_t)cfg->loaded);
	set_int(o, "messages", qd.msgs.count);
	set_int(o, "recipients", qd.total_rcpts);
	set_int(o, "bytes", qd.total_bytes);
	set_int(o, "received", qd.n_received);
	set_int(o, "received_bytes", qd.n_bytes);
	set_int(o, "commit_batches", qd.n_batches);
	set_int(o, "recovered", qd.n_recovered);
	set_int(o, "aborted", qd.n_aborted);
	set_int(o, "corrupt", qd.n_corrupt);
	json_object_set_new(o, "index_ok", json_boolean(qd.index_ok));
	set_int(o, "smtpd_links", qd.n_smtpd);
	set_int(o, "deliverd_links", qd.dpeers.count);
	set_int(o, "delivered", qd.n_delivered);
	set_int(o, "bounced", qd.n_bounced);
	set_int(o, "deferred", qd.n_deferred);
	set_int(o, "expired", qd.n_expired);
	set_int(o, "removed", qd.n_removed);
	set_int(o, "suppressed", qd.n_suppressed);
	set_int(o, "ndr_made", qd.n_ndr);
	set_int(o, "processed", qd.n_processed);
	set_int(o, "dkim_signed", qd.n_signed);
	set_int(o, "dkim_unsigned", qd.n_unsigned);
	set_int(o, "dkim_waiting", qd.nsigreqs);
	json_object_set_new(o, "dkimd_link", json_boolean(qd.dkimd != NULL));
	return o;
}

static int
by_name(const void *a, const void *b)
{
	const struct queue *qa = *(struct queue * const *)a;
	const struct queue *qb = *(struct queue * const *)b;

	return strcmp(qa->name, qb->name);
}

static json_t *
ctl_queues(json_t *req)
{
	struct queue	**v;
	struct hmap_ent	 *e;
	size_t		  it, n = 0, i;
	json_t		 *arr = json_array();

	v = xcalloc(qd.queues.count + 1, sizeof(*v));
	/* Queues that hold mail, or moved some since start. */
	for (e = NULL; (e = hmap_next(&qd.queues, e, &it)) != NULL;) {
		struct queue *q = e->val;

		if (q->nrcpt > 0 || q->n_delivered || q->n_bounced)
			v[n++] = q;
	}
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n && i < CTL_QUEUES_MAX; i++) {
		struct queue	*q = v[i];
		struct qentry	*qe;
		uint64_t	 oldest = UINT64_MAX;

		/* XXX: linear in the queue; fine until queues hold millions. */
		TAILQ_FOREACH(qe, &q->entries, entry)
			if (qe->m->arrival < oldest)
				oldest = qe->m->arrival;
		uint64_t	 next = 0;
		unsigned	 ndef = 0, nready = 0;

		TAILQ_FOREACH(qe, &q->entries, entry) {
			if (qe->st == QE_DEFERRED) {
				ndef += qe->nrcpt;
				if (next == 0 || qe->next < next)
					next = qe->next;
			} else if (qe->st == QE_READY)
				nready += qe->nrcpt;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, "
		    "s:i, s:I, s:I, s:s, s:i, s:i, s:i, s:i, s:s, s:I, s:I, "
		    "s:I, s:I, s:s, s:s}",
		    "queue", q->name, "domain", q->domain, "vmta", q->vmta,
		    "rcpts", (int)q->nrcpt, "msgs", (int)q->nmsg,
		    "bytes", (json_int_t)q->bytes,
		    "oldest", (json_int_t)(oldest == UINT64_MAX ? 0 : oldest),
		    "mode", q->backoff ? "backoff" : "normal",
		    "deferred", (int)ndef, "ready", (int)nready,
		    "active_jobs", (int)q->nflight,
		    "deferred_msgs", (int)q->ndeferred,
		    "last_error", q->last_error,
		    "next_attempt", (json_int_t)next,
		    "delivered", (json_int_t)q->n_delivered,
		    "bounced", (json_int_t)q->n_bounced,
		    "transient", (json_int_t)q->n_deferred,
		    "rollup", q->rollup, "hold_reason", q->hold_reason));
	}
	free(v);
	return json_pack("{s:o, s:b}", "queues", arr, "truncated",
	    n > CTL_QUEUES_MAX);
}

/*
 * ctl_release - {"cmd": "release", "domain": GLOB, "vmta": GLOB}: held
 * mail of the matching queues goes now (after tern resume queue).
 */
static json_t *
ctl_release(json_t *req)
{
	const char *dg = json_string_value(json_object_get(req, "domain"));
	const char *vg = json_string_value(json_object_get(req, "vmta"));

	if (dg == NULL || vg == NULL || strlen(dg) > 300 || strlen(vg) > 100)
		return json_pack("{s:s}", "error", "domain and vmta needed");
	return json_pack("{s:i}", "released", (int)sched_release(dg, vg));
}

static const struct {
	const char	*cmd;
	json_t		*(*fn)(json_t *);
} ctl_cmds[] = {
	{ "status", ctl_status },
	{ "queues", ctl_queues },
	{ "release", ctl_release },
};

/* ctl_request - one JSON request, one JSON reply */
int
ctl_request(struct ipc_peer *p, struct ipc_msg *m)
{
	json_t		*req, *rep = NULL;
	const char	*cmd;
	unsigned	 i;

	if ((req = ctl_parse(m, &cmd)) == NULL)
		return -1;
	for (i = 0; i < nitems(ctl_cmds); i++)
		if (strcmp(cmd, ctl_cmds[i].cmd) == 0)
			rep = ctl_cmds[i].fn(req);
	json_decref(req);
	ctl_reply(p, m->hdr.reqid, rep);
	return 0;
}
