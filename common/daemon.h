/*
 * daemon.h - the skeleton every Tern daemon runs in.
 *
 * Purpose:      under ternd (TERN_MASTER=1): fd 3 is the link to ternd,
 *               fd 4 a sealed memfd with the validated configuration,
 *               fds 5.. the listening sockets (TERN_LISTEN_FDS of them).
 *               Standalone: -f FILE.  Sets up logging, signals
 *               (SIGTERM/SIGINT: graceful stop, SIGHUP: reload when
 *               standalone), and applies configurations sent by ternd.
 *               A daemon may take more frames from ternd (master_extra:
 *               smtpd's IPC_MASTER_TLS_FILES).
 * Used by:      smtpd, queued (and the daemons of later issues).
 * Trust:        the master link is trusted only as far as the frame
 *               checks in ipc.c go; a new configuration is parsed again
 *               here, never taken on faith.
 * Spool access: none.
 * See:          ternd(8).
 */
#ifndef TERN_DAEMON_H
#define TERN_DAEMON_H

#include <event2/event.h>

#include "config.h"
#include "ipc.h"

struct daemon {
	const char		*name;
	enum ipc_role		 role;
	struct event_base	*base;
	struct tern_config	*cfg;
	unsigned		 cfg_gen;	/* +1 at each swap: caches */
	struct ipc_peer		*master;
	int			 listen_fds[64];
	unsigned		 nlisten;
	bool			 stopping;
	/* Hooks: apply a new config (0 keeps it, -1 refuses), stop. */
	int			(*reload)(struct tern_config *newcfg,
				    const char **why);
	void			(*shutdown)(void);
	/* Still privileged, just before the drop (bind port 25, keys). */
	void			(*prejail)(struct daemon *, bool under_ternd);
	/* More frames the daemon takes from ternd (smtpd: TLS files). */
	const struct ipc_handler *master_extra;
	size_t			 nmaster_extra;
	struct event		*ev_term, *ev_int, *ev_hup;
};

/*
 * A link to another daemon's socket, dialled at once and again, with
 * the back-off of ipc_redial_later, whenever it fails or is lost (until
 * the daemon stops).  *peer is the daemon's own pointer to it (NULL
 * while down).  down(was_up) runs after a loss (true) or a failed dial
 * (false), up() after a dial that connected; the HELLO_OK handler sets
 * ms to 0 once the peer has answered.
 */
struct ipc_link {
	struct ipc_peer		**peer;
	const char		*sock;		/* in run-dir */
	enum ipc_role		 self, role;
	const struct ipc_handler *table;
	size_t			 ntable;
	void			(*up)(void);
	void			(*down)(bool was_up);
	struct daemon		*d;
	struct event		*ev;
	unsigned		 ms;
};

extern struct daemon *tern_daemon;

void	daemon_init(struct daemon *, int argc, char **argv);
void	daemon_run(struct daemon *);
int	privsep_drop(const char *user);
void	daemon_exit_soon(struct daemon *, unsigned ms);
void	daemon_link(struct daemon *, struct ipc_link *);

#endif
