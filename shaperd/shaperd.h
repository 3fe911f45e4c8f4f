/*
 * shaperd.h - the traffic shaper: declarations.
 *
 * Purpose:      the shaping state of every queue (KEY/VMTA, KEY being a
 *               domain or its rollup name) and of every VirtualMTA:
 *               connection slots, GCRA rate positions, mode (normal or
 *               backoff), pause, suspension, queue bounce, warm-up
 *               counters, threshold counters of smtp-pattern rules.
 * Used by:      shaperd only.
 * Trust:        deliverd and tern frames are checked like any peer's;
 *               the reply texts they carry come from remote servers and
 *               are only matched against compiled rules and shown.
 * Spool access: none; its own LMDB snapshot under spool-dir/shaper.
 * See:          shaperd(8).
 */
#ifndef TERN_SHAPERD_H
#define TERN_SHAPERD_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "hmap.h"
#include "ipc.h"

#define SKEY_MAX	255		/* a domain, rollup or MX site name */
#define SQNAME_MAX	(SKEY_MAX + 1 + CFG_NAME_MAX)
#define SQ_DOMAINS_MAX	8		/* member domains kept for show */
#define SQ_TRIG_MAX	16		/* threshold rules counted per queue */
#define SQ_MAX		100000		/* queues kept at most */
#define TEXT_MAX	300
#define BURST_US	200000		/* tokens granted at once: 0.2 s */
#define OPEN_HOLD	60		/* re-offer held mail after, seconds */

enum smode { SM_NORMAL, SM_BACKOFF };

/* What deliverd must do with mail of a held queue. */
enum shold { SH_NONE, SH_PAUSED, SH_SUSPENDED, SH_WARMUP_VOLUME,
	SH_WARMUP_PAUSED };

struct gcra {
	uint64_t	 tat;		/* theoretical arrival time, us */
};

/* A threshold rule's recent matches (fixed window). */
struct trig {
	const void	*rule;		/* identity within this config */
	time_t		 since;
	unsigned	 n;
};

struct warm {
	unsigned	 day;		/* warm-up day these counters are for */
	uint64_t	 sent;		/* messages granted that day */
	uint64_t	 outcomes;
	uint64_t	 bounced;
	uint64_t	 complaints;
	bool		 paused;
	unsigned	 shift;		/* days lost to pauses */
	char		 why[TEXT_MAX];
};

/* A shaping queue: KEY/VMTA. */
struct squeue {
	char		 name[SQNAME_MAX + 1];
	char		 key[SKEY_MAX + 1];
	char		 vmta[CFG_NAME_MAX + 1];
	char		 domains[SQ_DOMAINS_MAX][SKEY_MAX + 1];
	unsigned	 ndomains;
	unsigned	 conns;		/* slots held by deliverd */
	struct gcra	 msg, conn;
	enum smode	 mode;
	time_t		 mode_since;
	time_t		 backoff_until;	/* 0: until told or delivered */
	bool		 paused;
	time_t		 suspend_until;
	time_t		 bounce_until;
	char		 bounce_text[TEXT_MAX];
	char		 last_rule[TEXT_MAX];
	char		 last_reply[TEXT_MAX];
	time_t		 last_match;
	struct trig	 trig[SQ_TRIG_MAX];
	struct warm	 warm;
	uint64_t	 granted, delivered, deferred, bounced;
	struct dom_policy pol;		/* cached: see sq_policy() */
	unsigned	 pol_gen;
	time_t		 used;		/* last ask or outcome */
};

/* A VirtualMTA's totals across its queues. */
struct svmta {
	char		 name[CFG_NAME_MAX + 1];
	unsigned	 conns;
	struct gcra	 msg;
	struct ipc_peer	*peer;		/* its deliverd, when connected */
};

/* A compiled rule: configured list or built-in table. */
struct crule {
	regex_t		 re;
	const char	*text;		/* the regex as written */
	const char	*where;		/* "list NAME rule N" or "built-in ..." */
	enum pat_action	 action;
	uint64_t	 for_secs;
	unsigned	 after_n;
	uint64_t	 after_window;
};

struct crlist {
	char		*name;		/* configured list name */
	unsigned	 n;
	struct crule	*r;
};

struct shaperd {
	struct daemon	 d;
	int		 listen_fd;
	struct event	*ev_listen;
	struct event	*ev_tick;
	struct hmap	 queues;	/* name -> squeue */
	struct hmap	 vmtas;		/* name -> svmta */
	/* Rules of the configuration in force. */
	unsigned	 nlists;
	struct crlist	*lists;
	struct crlist	 builtin;
	char		 rules_hash[65];
	bool		 dirty;		/* state changed since the snapshot */
	time_t		 saved;
	time_t		 started;
	void		*mdb;		/* MDB_env */
	bool		 state_ok;
};

extern struct shaperd sd;

/* shaperd.c */
struct squeue	*sq_get(const char *vmta, const char *key, bool create);
struct svmta	*sv_get(const char *vmta);
void		 sq_push(struct squeue *);
void		 sq_dirty(void);
const struct dom_policy *sq_policy(struct squeue *);
uint64_t	 now_us(void);

/* grant.c */
int		 grant_ask(struct ipc_peer *, struct ipc_msg *);
int		 grant_conns(struct ipc_peer *, struct ipc_msg *);
int		 grant_release(struct ipc_peer *, struct ipc_msg *);
void		 grant_state(struct ipc_out *, struct squeue *, time_t now,
		    uint64_t *wait_ms);
void		 grant_peer_gone(struct ipc_peer *);
unsigned	 warm_day_of(const struct cfg_vmta *, time_t now);
unsigned	 sq_warm_day(const struct squeue *, const struct cfg_vmta *,
		    time_t now);
uint64_t	 warm_volume(const struct cfg_vmta *, unsigned day);
enum shold	 sq_hold(struct squeue *, time_t now, time_t *until,
		    char *why, size_t);
uint64_t	 gcra_avail(const struct gcra *, const struct rate *,
		    uint64_t now, uint64_t *wait_us);
void		 gcra_take(struct gcra *, const struct rate *, uint64_t now,
		    uint64_t n);

/* rules.c */
int		 rules_compile(const struct tern_config *);
void		 rules_free(void);
int		 rules_outcome(struct ipc_peer *, struct ipc_msg *);
void		 rules_apply(struct squeue *, enum pat_action, uint64_t for_secs,
		    const char *why, const char *reply, time_t now);
void		 rules_tick(time_t now);

/* state.c */
int		 state_open(const char *spool_dir);
void		 state_load(void);
void		 state_save(void);
void		 state_close(void);

/* ctl.c */
int		 ctl_request(struct ipc_peer *, struct ipc_msg *);

#endif
