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

#include "log.h"
#include "queued.h"

#define CTL_QUEUES_MAX	2000

static const char *
mode_name(enum queue_mode m)
{
	switch (m) {
	case QM_BACKOFF: return "backoff";
	case QM_PAUSED: return "paused";
	default: return "normal";
	}
}

static json_t *
ctl_status(void)
{
	const struct tern_config *cfg = qd.d.cfg;

	return json_pack("{s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:b, s:i}",
	    "daemon", "queued", "pid", (int)getpid(),
	    "started", (json_int_t)qd.started,
	    "config_hash", cfg->hash,
	    "config_loaded", (json_int_t)cfg->loaded,
	    "messages", (json_int_t)qd.msgs.count,
	    "recipients", (json_int_t)qd.total_rcpts,
	    "bytes", (json_int_t)qd.total_bytes,
	    "received", (json_int_t)qd.n_received,
	    "received_bytes", (json_int_t)qd.n_bytes,
	    "commit_batches", (json_int_t)qd.n_batches,
	    "recovered", (json_int_t)qd.n_recovered,
	    "aborted", (json_int_t)qd.n_aborted,
	    "corrupt", (json_int_t)qd.n_corrupt,
	    "index_ok", qd.index_ok,
	    "smtpd_links", (int)qd.n_smtpd);
}

static int
by_name(const void *a, const void *b)
{
	const struct queue *qa = *(struct queue * const *)a;
	const struct queue *qb = *(struct queue * const *)b;

	return strcmp(qa->name, qb->name);
}

static json_t *
ctl_queues(void)
{
	struct queue	**v;
	struct hmap_ent	 *e;
	size_t		  it, n = 0, i;
	json_t		 *arr = json_array();

	v = xcalloc(qd.queues.count + 1, sizeof(*v));
	for (e = NULL; (e = hmap_next(&qd.queues, e, &it)) != NULL;)
		if (((struct queue *)e->val)->nrcpt > 0)
			v[n++] = e->val;
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n && i < CTL_QUEUES_MAX; i++) {
		struct queue	*q = v[i];
		struct qentry	*qe;
		uint64_t	 oldest = UINT64_MAX;

		/* XXX: linear in the queue; fine until queues hold millions. */
		TAILQ_FOREACH(qe, &q->entries, entry)
			if (qe->m->arrival < oldest)
				oldest = qe->m->arrival;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, "
		    "s:i, s:I, s:I, s:s}", "queue", q->name, "domain",
		    q->domain, "vmta", q->vmta, "rcpts", (int)q->nrcpt,
		    "msgs", (int)q->nmsg, "bytes", (json_int_t)q->bytes,
		    "oldest", (json_int_t)(oldest == UINT64_MAX ? 0 : oldest),
		    "mode", mode_name(q->mode)));
	}
	free(v);
	return json_pack("{s:o, s:b}", "queues", arr, "truncated",
	    n > CTL_QUEUES_MAX);
}

static const struct {
	const char	*cmd;
	json_t		*(*fn)(void);
} ctl_cmds[] = {
	{ "status", ctl_status },
	{ "queues", ctl_queues },
};

/* ctl_request - one JSON request, one JSON reply */
int
ctl_request(struct ipc_peer *p, struct ipc_msg *m)
{
	const uint8_t	*data;
	size_t		 len;
	json_t		*req, *rep = NULL;
	json_error_t	 jerr;
	const char	*cmd;
	char		*text;
	unsigned	 i;
	struct ipc_out	 o;

	if (ipc_get_blob(m, &data, &len) == -1 || ipc_get_end(m) == -1)
		return -1;
	req = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (req == NULL || (cmd = json_string_value(json_object_get(req,
	    "cmd"))) == NULL) {
		json_decref(req);
		return -1;
	}
	for (i = 0; i < nitems(ctl_cmds); i++)
		if (strcmp(cmd, ctl_cmds[i].cmd) == 0)
			rep = ctl_cmds[i].fn();
	if (rep == NULL)
		rep = json_pack("{s:s}", "error", "unknown command");
	json_decref(req);
	text = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	ipc_out_begin(&o, IPC_CTL_REPLY, m->hdr.reqid);
	if (strlen(text) > IPC_MAXSIZE - 64) {
		free(text);
		text = xstrdup("{\"error\":\"reply too large\"}");
	}
	ipc_put_blob(&o, text, strlen(text));
	free(text);
	ipc_send(p, &o, -1);
	return 0;
}
