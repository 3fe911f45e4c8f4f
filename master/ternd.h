/*
 * ternd.h - the supervisor: shared declarations.
 *
 * Purpose:      the table of children and the running configuration.
 * Used by:      ternd.
 * Trust:        ternd parses no mail and no network input; it trusts
 *               only the configuration file it validated itself.
 * Spool access: none (it creates the directories and then stays out).
 * See:          ternd(8).
 */
#ifndef TERN_TERND_H
#define TERN_TERND_H

#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"

struct child {
	const char	*name;		/* program in libexec */
	char		 label[96];	/* "deliverd/mta1" */
	char		 vmta[65];	/* deliverd: -V */
	bool		 retired;	/* removed by a reload: no restart */
	enum ipc_role	 role;
	bool		 listeners;	/* gets the SMTP listening sockets */
	pid_t		 pid;
	struct ipc_peer	*link;
	unsigned	 restarts;
	uint64_t	 started_ms;
	unsigned	 backoff_ms;
	struct event	*ev_restart;
	char		 hash[65];
	int		 stop_order;	/* lower stops first */
};

struct ternd {
	struct event_base *base;
	struct tern_config *cfg;
	char		*path;
	int		 memfd;
	int		 lfds[64];
	unsigned	 nlfds;
	char		 libexec[1024];
	struct child	**children;
	unsigned	 nchildren;
	bool		 stopping;
	int		 stop_stage;
	int		 verbose;
	bool		 root;
	uid_t		 uid;
	gid_t		 gid;
	time_t		 started;
	int		 pidfd;
	int		 ctl_fd;
	struct event	*ev_ctl;
	struct event	*ev_kill;
};

extern struct ternd td;

/* ternd.c */
int	 ternd_reload(char **errtext);
void	 ternd_stop(void);

/* child.c */
void	 child_spawn(struct child *);
void	 child_reaped(pid_t, int status);
void	 child_send_config(struct child *);
void	 child_signal_next(void);
struct child *child_add(const char *name, enum ipc_role, bool listeners,
	    int stop_order, const char *vmta);
void	 child_sync_vmtas(void);
void	 child_restart(const char *name);

/* ctl.c */
void	 ctl_init(void);

/* tlsfiles.c */
void	 tlsfiles_send(struct ipc_peer *, const struct tern_config *);

#endif
