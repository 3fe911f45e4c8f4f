/*
 * ctljson.h - the daemons' side of tern(1)'s JSON control requests.
 *
 * Purpose:      decode an IPC_CTL_REQUEST ({"cmd": ...} and arguments)
 *               and send the IPC_CTL_REPLY, capped in size, so that each
 *               daemon only writes its commands.
 * Used by:      ternd, queued, shaperd.
 * Trust:        the request comes from a local user allowed by the
 *               socket's mode; it is parsed by jansson, duplicates
 *               refused, and must carry a string "cmd".
 * Spool access: none.
 * See:          tern(1).
 */
#ifndef TERN_CTLJSON_H
#define TERN_CTLJSON_H

#include <jansson.h>

#include "ipc.h"

json_t	*ctl_parse(struct ipc_msg *, const char **cmd);
void	 ctl_reply(struct ipc_peer *, uint64_t reqid, json_t *rep);

#endif
