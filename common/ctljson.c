/*
 * ctljson.c - the daemons' side of tern(1)'s JSON control requests.
 *
 * Purpose:      see ctljson.h.
 * Used by:      ternd, queued, shaperd.
 * Trust:        see ctljson.h.
 * Spool access: none.
 * See:          tern(1).
 */
#include <stdlib.h>
#include <string.h>

#include "ctljson.h"
#include "util.h"

/* ctl_parse - the request object and its command; NULL when malformed */
json_t *
ctl_parse(struct ipc_msg *m, const char **cmd)
{
	const uint8_t	*data;
	size_t		 len;
	json_t		*req;
	json_error_t	 jerr;

	if (ipc_get_blob(m, &data, &len) == -1 || ipc_get_end(m) == -1)
		return NULL;
	req = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (req == NULL || (*cmd = json_string_value(json_object_get(req,
	    "cmd"))) == NULL) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* ctl_reply - send rep (consumed); one that would not fit says so */
void
ctl_reply(struct ipc_peer *p, uint64_t reqid, json_t *rep)
{
	struct ipc_out	 o;
	char		*text;

	if (rep == NULL)
		rep = json_pack("{s:s}", "error", "unknown command");
	text = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	if (text == NULL || strlen(text) > IPC_MAXSIZE - 64) {
		free(text);
		text = xstrdup("{\"error\":\"reply too large\"}");
	}
	ipc_out_begin(&o, IPC_CTL_REPLY, reqid);
	ipc_put_blob(&o, text, strlen(text));
	free(text);
	ipc_send(p, &o, -1);
}
