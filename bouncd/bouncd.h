/*
 * bouncd.h - the bounce and feedback-loop processor: declarations.
 *
 * Purpose:      bouncd takes the mail that smtpd accepted for the
 *               bounce-processor and feedback-loop-processor addresses
 *               (queued hands each message over as a job, like a
 *               deliverd), reads the delivery reports and ARF complaints
 *               in it, ties each to the original message (VERP return
 *               path, else returned headers), writes rb and f accounting
 *               rows and events through queued, keeps the suppression
 *               list (LMDB, sole writer), tells shaperd of complaints,
 *               and posts events to the event-hooks from the durable
 *               outbox in <spool-dir>/events.
 * Used by:      bouncd.
 * Trust:        every message is hostile (bounded MIME parser); peers are
 *               checked at HELLO (queued, tern); webhook replies are
 *               only read for their status.
 * Spool access: <spool-dir>/suppress (writer), <spool-dir>/events
 *               (reads, removes posted segments); messages through fds.
 * See:          bouncd(8).
 */
#ifndef TERN_BOUNCD_H
#define TERN_BOUNCD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bouncecat.h"
#include "config.h"
#include "daemon.h"
#include "ipc.h"
#include "suppress.h"

struct bouncd {
	struct daemon	 d;
	int		 spool_fd;	/* O_DIRECTORY on spool-dir */
	int		 listen_fd;	/* run-dir/bouncd.sock: tern */
	struct event	*ev_listen;
	struct ipc_peer	*queued;
	struct ipc_link	 ql;		/* to queued */
	struct ipc_peer	*shaperd;
	struct ipc_link	 sl;		/* to shaperd */
	struct supp	*supp;
	struct bcat_table *bcat;
	struct event	*ev_tick;
	uint64_t	 n_msgs, n_dsn, n_arf, n_unparsed, n_rows;
	uint64_t	 n_suppressed, n_ctl_changes;
};

extern struct bouncd bd;

/* process.c: one message for the processors */
/* What one report says once tied to the original mail. */
struct tie {
	char		 rcpt[MAILADDR_MAX + 1];
	char		 orig[MAILADDR_MAX + 1];	/* the original sender */
	char		 vmta[65];
	char		 job[129];
	char		 pool[65];
};

int	 bouncd_on_job(struct ipc_peer *, struct ipc_msg *);
int	 bouncd_on_suppress(struct ipc_peer *, struct ipc_msg *);
bool	 supp_entry_make(struct supp_entry *, const char *rcpt,
	    const char *job, const char *pool, const char *reason,
	    const char *source, const char *note);
/* bouncd.c */
void	 complaint_to_shaperd(const struct tie *);

/* hooks.c: the event outbox, posted to event-hooks */
int	 hooks_init(struct event_base *, int spool_fd,
	    const struct tern_config *);
void	 hooks_reload(const struct tern_config *);
void	 hooks_stop(void);
void	 hooks_status(json_t *obj);

/* ctl.c: tern's requests (suppression commands, status) */
int	 bouncd_ctl(struct ipc_peer *, struct ipc_msg *);

#endif
