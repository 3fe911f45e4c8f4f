/*
 * ctl.c - ternd's control socket: status and reload for tern(1).
 *
 * Purpose:      run-dir/ternd.sock (mode 0660); JSON requests
 *               {"cmd":"status"} and {"cmd":"reload"}.
 * Used by:      ternd.
 * Trust:        the socket is mode 0660 (group of the tern user): file
 *               permissions decide who may use it (ipc.c).
 * Spool access: none.
 * See:          tern(1), ternd(8).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctljson.h"
#include "log.h"
#include "ternd.h"

static json_t *
status(void)
{
	json_t	 *kids = json_array();
	unsigned  i;

	for (i = 0; i < td.nchildren; i++) {
		struct child *c = td.children[i];

		if (c->retired && c->pid == 0)
			continue;
		json_array_append_new(kids, json_pack("{s:s, s:i, s:i, s:s, "
		    "s:s}", "name", c->label, "pid", (int)c->pid,
		    "restarts", (int)c->restarts, "config_hash", c->hash,
		    "state", c->pid ? "running" : "restarting"));
	}
	return json_pack("{s:s, s:i, s:I, s:s, s:I, s:s, s:o}",
	    "daemon", "ternd", "pid", (int)getpid(),
	    "started", (json_int_t)td.started,
	    "config_hash", td.cfg->hash,
	    "config_loaded", (json_int_t)td.cfg->loaded,
	    "config_path", td.path, "children", kids);
}

static json_t *
reload(void)
{
	char	*err = NULL;
	json_t	*r;

	if (ternd_reload(&err) == -1) {
		r = json_pack("{s:b, s:s, s:s}", "ok", 0, "errors",
		    err ? err : "", "config_hash", td.cfg->hash);
		free(err);
		return r;
	}
	return json_pack("{s:b, s:s}", "ok", 1, "config_hash", td.cfg->hash);
}

static int
on_request(struct ipc_peer *p, struct ipc_msg *m)
{
	json_t		*req, *rep = NULL;
	const char	*cmd;

	if ((req = ctl_parse(m, &cmd)) == NULL)
		return -1;
	if (strcmp(cmd, "status") == 0)
		rep = status();
	else if (strcmp(cmd, "reload") == 0)
		rep = reload();
	json_decref(req);
	ctl_reply(p, m->hdr.reqid, rep);
	return 0;
}

static const struct ipc_handler handlers[] = {
	{ IPC_CTL_REQUEST, RB(ROLE_CTL), IPC_FD_NO, on_request },
};

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ipc_peer	*p;
	int		 fd;

	if ((fd = ipc_accept(lfd)) == -1)
		return;
	p = ipc_peer_new(td.base, fd, true, handlers, nitems(handlers), NULL,
	    NULL);
	p->accept_roles = RB(ROLE_CTL);
}

void
ctl_init(void)
{
	char	 path[512];

	if (!bsnprintf(path, sizeof(path), "%s/ternd.sock", td.cfg->run_dir))
		fatalx("run-dir too long");
	if ((td.ctl_fd = ipc_listen_unix(path, 0660)) == -1)
		fatal("listen %s", path);
	if (td.root && chown(path, 0, td.gid) == -1)
		log_warn("chown %s", path);
	td.ev_ctl = event_new(td.base, td.ctl_fd, EV_READ | EV_PERSIST,
	    on_accept, NULL);
	event_add(td.ev_ctl, NULL);
}
