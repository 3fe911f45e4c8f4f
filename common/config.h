/*
 * config.h - the one YAML configuration file, strict and schema-driven.
 *
 * Purpose:      load tern.yaml into struct tern_config.  Keys follow
 *               PowerMTA's directive names.  Unknown keys, wrong types,
 *               out-of-range values, duplicate keys, anchors and aliases
 *               are errors reported as "file:line:column: message".
 * Used by:      every process (ternd validates, then hands each daemon
 *               the same bytes through a sealed memfd).
 * Trust:        administrator input, still bounded: file size, depth,
 *               node count and every value are capped.
 * Spool access: none.
 * See:          tern.yaml(5).
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "hmap.h"
#include "units.h"

#define CFG_FILE_MAX		(1024 * 1024)
#define CFG_NAME_MAX		64
#define CFG_DEPTH_MAX		16
#define CFG_NODES_MAX		100000
#define CFG_ERRORS_MAX		50

struct cfg_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/*
 * smtp-listener: "ip:port", or a mapping with TLS settings.  A listener
 * without its own certificate uses smtp-server-tls-certificate/-key.
 */
struct cfg_listener {
	char			*text;
	struct cfg_addr		 addr;
	char			*tls_cert;	/* PEM file, NULL: none */
	char			*tls_key;
	bool			 require_starttls;
	bool			 auth_without_tls;	/* loopback only */
	bool			 loopback;
};

/* A <source> block: policy for injecting clients, most specific CIDR wins. */
#define SRC_RELAY	0x0001
#define SRC_XVMTA	0x0002
#define SRC_XJOB	0x0004
#define SRC_MAXSIZE	0x0008
#define SRC_MAXRCPT	0x0010
#define SRC_MAXIN	0x0020
#define SRC_DEFVMTA	0x0040
#define SRC_SERVICE	0x0080
#define SRC_REQAUTH	0x0100
#define SRC_REQTLS	0x0200
#define SRC_GENBOUNCE	0x0400
struct cfg_source {
	char		*text;
	int		 family;
	uint8_t		 addr[16];
	unsigned	 prefix;
	uint64_t	 set;
	bool		 always_allow_relaying;
	bool		 process_x_virtual_mta;
	bool		 process_x_job;
	bool		 smtp_service;
	bool		 require_auth;
	bool		 require_starttls;
	bool		 generate_bounces;
	uint64_t	 max_message_size;
	uint64_t	 max_rcpt;
	uint64_t	 max_smtp_in;
	char		*default_virtual_mta;
};

/* What a client gets: the source blocks merged, most specific first. */
struct src_policy {
	bool		 relay;
	bool		 xvmta;
	bool		 xjob;
	bool		 service;
	bool		 require_auth;		/* MAIL needs AUTH first */
	bool		 require_starttls;	/* MAIL needs TLS first */
	bool		 generate_bounces;	/* NDRs to the sender */
	uint64_t	 max_message_size;
	uint64_t	 max_rcpt;
	uint64_t	 max_smtp_in;
	const char	*default_virtual_mta;
	const char	*matched;		/* text of the best block */
};

struct cfg_domain;

/*
 * warmup: a new VirtualMTA's daily volume per queue, day 1 starting at
 * 00:00 UTC on the start date; after the last day there is no cap.
 */
#define WARMUP_DAYS_MAX	366
struct cfg_warmup {
	bool		 set;
	time_t		 start;
	unsigned	 ndays;
	uint64_t	*volume;		/* [ndays] */
	struct rate	*rate;			/* [ndays]; count 0: none */
	uint64_t	 pause_bounce_ppm;	/* parts per million */
	uint64_t	 pause_complaint_ppm;
	uint64_t	 pause_min_sample;
	bool		 overflow_pool;		/* overflow: pool */
};

#define VM_MAXOUT	0x01
#define VM_MSGRATE	0x02
#define VM_DKIM		0x04
#define VM_VERP		0x08
struct cfg_vmta {
	char		*name;
	char		*source_ip;		/* text, "" = any */
	struct cfg_addr	 source;
	char		*ehlo_name;
	uint64_t	 set;
	uint64_t	 max_smtp_out;		/* all domains; 0: no cap */
	struct rate	 max_msg_rate;		/* all domains */
	unsigned	 ndomains;
	struct cfg_domain *domains;		/* this VirtualMTA's overrides */
	struct hmap	 domidx;
	struct cfg_warmup warmup;
	bool		 dkim_sign;		/* sign what leaves through it */
	bool		 verp;			/* VERP return paths */
};

/* smtp-users: who may AUTH, and where their mail may go. */
struct cfg_user {
	char		*name;
	char		*hash;			/* crypt(3): $6$ or $y$ */
	unsigned	 nvmtas;
	char		**vmtas;		/* allowed vmtas/pools; 0: any */
	char		*default_virtual_mta;
};

/* domain-keys: one DKIM signing key. */
struct cfg_dkey {
	char		*selector;
	char		*domain;
	char		*key_file;
};

struct cfg_pool {
	char		*name;
	unsigned	 n;
	char		**members;		/* vmta names */
	unsigned	*weights;
};

/* A <domain> block.  "*" is the default block. */
#define DOM_MAXOUT	0x0001
#define DOM_MAXPERCONN	0x0002
#define DOM_RETRY	0x0004
#define DOM_BOUNCE	0x0008
#define DOM_ROUTE	0x0010
#define DOM_MAXRCPT	0x0020
#define DOM_MSGRATE	0x0040
#define DOM_HOSTS	0x0080
#define DOM_TCONNECT	0x0100
#define DOM_TGREET	0x0200
#define DOM_TMAIL	0x0400
#define DOM_TRCPT	0x0800
#define DOM_TDATA	0x1000
#define DOM_TSEND	0x2000
#define DOM_TDOT	0x4000
#define DOM_MXATT	0x8000
#define DOM_PORT	0x10000
#define DOM_IDLE	0x20000
#define DOM_B5XXGREET	0x40000
#define DOM_DNSRETRY	0x80000
#define DOM_CONNRATE	0x100000
#define DOM_BORATE	0x200000
#define DOM_BOMAXOUT	0x400000
#define DOM_BORETRY	0x800000
#define DOM_BONORMAL	0x1000000
#define DOM_BONORMALDLV	0x2000000
#define DOM_PATLIST	0x4000000
#define DOM_NOROLLUP	0x8000000
#define DOM_USETLS	0x10000000
#define DOM_REQTLS	0x20000000
#define DOM_VERIFY	0x40000000
#define DOM_DKIM	0x80000000ULL
#define DOM_NBITS	32

/* Per-phase SMTP client timeouts, seconds (RFC 5321 4.5.3.2 defaults). */
struct smtp_timeouts {
	uint64_t	 connect;
	uint64_t	 greeting;
	uint64_t	 mail;
	uint64_t	 rcpt;
	uint64_t	 data;		/* DATA command -> 354 */
	uint64_t	 send;		/* each block of the body */
	uint64_t	 dot;		/* final dot -> reply */
};

struct cfg_domain {
	char		*name;
	char		*label;		/* "domains.x" or "virtual-mtas.v.domains.x" */
	uint64_t	 set;
	uint64_t	 max_smtp_out;
	uint64_t	 max_msg_per_connection;
	uint64_t	 max_rcpt_per_message;
	struct durlist	 retry_after;
	uint64_t	 bounce_after;
	struct rate	 max_msg_rate;
	char		*route;
	char		*smtp_hosts;
	struct smtp_timeouts to;
	uint64_t	 mx_connection_attempts;
	uint64_t	 default_smtp_port;
	uint64_t	 connection_idle_timeout;
	bool		 bounce_upon_5xx_greeting;
	uint64_t	 retry_after_dns_error;
	struct rate	 max_connect_rate;
	struct rate	 backoff_max_msg_rate;
	uint64_t	 backoff_max_smtp_out;
	struct durlist	 backoff_retry_after;
	uint64_t	 backoff_to_normal_after;
	bool		 backoff_to_normal_after_delivery;
	char		*smtp_pattern_list;
	bool		 disable_mx_rollup;
	bool		 use_starttls;
	bool		 require_starttls;
	bool		 verify_server_certificate;
	bool		 dkim_sign;
};

/* The effective settings for one destination domain. */
struct dom_policy {
	uint64_t	 max_smtp_out;
	uint64_t	 max_msg_per_connection;
	uint64_t	 max_rcpt_per_message;
	const struct durlist *retry_after;
	uint64_t	 bounce_after;
	struct rate	 max_msg_rate;
	const char	*route;
	const char	*smtp_hosts;
	struct smtp_timeouts to;
	uint64_t	 mx_connection_attempts;
	uint64_t	 default_smtp_port;
	uint64_t	 connection_idle_timeout;
	bool		 bounce_upon_5xx_greeting;
	uint64_t	 retry_after_dns_error;
	struct rate	 max_connect_rate;
	struct rate	 backoff_max_msg_rate;	/* count 0: max_msg_rate */
	uint64_t	 backoff_max_smtp_out;
	const struct durlist *backoff_retry_after;
	uint64_t	 backoff_to_normal_after;	/* 0: never */
	bool		 backoff_to_normal_after_delivery;
	const char	*smtp_pattern_list;
	bool		 disable_mx_rollup;
	bool		 use_starttls;		/* opportunistic (default) */
	bool		 require_starttls;	/* never in clear: defer */
	bool		 verify_server_certificate;
	int		 dkim_sign;		/* -1 unset: the vmta decides */
	bool		 own_block;	/* a block names the domain itself */
	/* Where each value came from: block label, NULL = built-in. */
	const char	*from[DOM_NBITS];
};

/* smtp-pattern-lists: remote replies that act on the queue. */
enum pat_action { PA_BACKOFF, PA_NORMAL, PA_SUSPEND, PA_DISCONNECT,
	PA_BOUNCE };
struct cfg_patrule {
	char		*regex;
	enum pat_action	 action;
	uint64_t	 for_secs;		/* 0: the action's default */
	unsigned	 after_n;		/* 0: at once */
	uint64_t	 after_window;
	unsigned	 line;			/* where it was written */
};

struct cfg_patlist {
	char		*name;
	unsigned	 n;
	struct cfg_patrule *r;
};

/* mx-rollup: MX host glob -> rollup queue name. */
struct cfg_rollup {
	char		*glob;
	char		*name;
};

/* bounce-category-patterns: "/regex/ category", first match wins. */
struct cfg_bcpat {
	char		*text;
	char		*regex;
	char		*category;
};

#define ACCT_D		0x01
#define ACCT_B		0x02
#define ACCT_T		0x04
#define ACCT_TQ		0x08
#define ACCT_R		0x10
#define ACCT_F		0x20
#define ACCT_RB		0x40

#define ACCTX_TLSPROTO	0x01
#define ACCTX_TLSCIPHER	0x02
#define ACCTX_FBTYPE	0x04
#define ACCTX_UA	0x08
#define ACCTX_REPSRC	0x10
#define ACCTX_REPMTA	0x20
#define ACCTX_DSNREPMTA	0x40
#define ACCTX_RCVSRC	0x80
struct cfg_accounting {
	unsigned	 extra;			/* ACCTX_*: extra-fields */
	bool		 enabled;
	char		*file;			/* relative to log-dir */
	unsigned	 records;		/* ACCT_* mask */
	uint64_t	 move_interval;		/* 0: never by time */
	uint64_t	 max_size;		/* 0: never by size */
	uint64_t	 delete_after;		/* 0: keep */
};

#define DNS_NS_MAX	8
struct cfg_dns {
	unsigned	 nns;
	struct cfg_addr	 ns[DNS_NS_MAX];
	char		*ns_text[DNS_NS_MAX];
	uint64_t	 timeout;
	uint64_t	 attempts;
};

/*
 * Bounces and feedback loops (bouncd): the processors' address lists,
 * the suppression list, event hooks.
 */
struct cfg_addrlist {
	unsigned	 ndomains;
	char		**domains;		/* lowercase */
	unsigned	 naddrs;
	char		**addrs;		/* lowercase local@domain */
};

#define EVT_DELIVERED	0x01
#define EVT_BOUNCED	0x02
#define EVT_DEFERRED	0x04
#define EVT_COMPLAINED	0x08
#define EVT_SUPPRESSED	0x10
#define EVT_ALL		0x1f

/* event-hooks: one webhook receiver. */
struct cfg_hook {
	char		*name;
	char		*url;			/* http:// or https:// */
	unsigned	 types;			/* EVT_* */
	uint64_t	 batch_size;		/* events per POST */
	uint64_t	 timeout;		/* seconds per POST */
	uint64_t	 retry_max;		/* seconds between tries, cap */
	char		*auth;			/* Authorization value or NULL */
	char		*secret;		/* HMAC key for signatures */
};

enum supp_scope { SUPP_GLOBAL, SUPP_JOB, SUPP_POOL };

struct cfg_suppression {
	bool		 enabled;
	unsigned	 ncats;
	char		**cats;			/* categories that suppress */
	bool		 complaints;		/* f rows suppress */
	enum supp_scope	 scope;
	bool		 at_rcpt;		/* refuse at RCPT, else queue */
	uint64_t	 expire_after;		/* seconds; 0: never */
};

struct tern_config {
	char		*path;
	char		 hash[65];		/* sha256 of the bytes, hex */
	time_t		 loaded;

	char		*host_name;
	char		*spool_dir;
	char		*run_dir;
	char		*log_dir;
	char		*user;

	unsigned	 nlisteners;
	struct cfg_listener *listeners;

	uint64_t	 max_message_size;
	uint64_t	 total_max_smtp_in;
	uint64_t	 max_rcpt_per_message;	/* inbound default */
	uint64_t	 max_received_headers;
	uint64_t	 smtp_idle_timeout;
	uint64_t	 smtp_data_timeout;
	uint64_t	 shutdown_timeout;
	uint64_t	 min_free_space;	/* bytes free on the spool fs */
	uint64_t	 group_commit_delay_us;
	bool		 spool_syncfs;		/* spool-sync: syncfs | fsync */

	unsigned	 nsources;
	struct cfg_source *sources;
	unsigned	 nvmtas;
	struct cfg_vmta	*vmtas;
	unsigned	 npools;
	struct cfg_pool	*pools;
	char		*default_virtual_mta;
	unsigned	 ndomains;
	struct cfg_domain *domains;
	struct hmap	 domidx;		/* lowercase name -> block */

	struct cfg_dns	 dns;
	struct cfg_accounting acct;
	unsigned	 nbcpats;
	struct cfg_bcpat *bcpats;

	unsigned	 npatlists;
	struct cfg_patlist *patlists;
	bool		 smtp_pattern_builtin;
	unsigned	 nrollups;
	struct cfg_rollup *rollups;
	bool		 mx_rollup_builtin;
	bool		 auto_mx_rollup;

	/* TLS, AUTH, DKIM */
	char		*tls_cert;		/* smtp-server-tls-certificate */
	char		*tls_key;		/* smtp-server-tls-private-key */
	char		*tls_ca_file;		/* for verify-server-certificate */
	unsigned	 nusers;
	struct cfg_user	*users;
	struct rate	 max_auth_failures;	/* per client address */
	unsigned	 ndkeys;
	struct cfg_dkey	*dkeys;
	unsigned	 ndkim_headers;
	char		**dkim_headers;

	/* Bounces, feedback loops, suppression, NDRs, events */
	bool		 bounce_proc_set;
	struct cfg_addrlist bounce_proc;	/* bounce-processor */
	bool		 fbl_proc_set;
	struct cfg_addrlist fbl_proc;		/* feedback-loop-processor */
	struct cfg_suppression supp;
	unsigned	 nhooks;
	struct cfg_hook	*hooks;
	uint64_t	 ndr_max_return;	/* bytes of the original in NDRs */
	char		*verp_secret;		/* signs VERP return paths */
};

struct cfg_errors {
	unsigned	 n;
	char		*msg[CFG_ERRORS_MAX];
	unsigned	 dropped;
};

struct tern_config *config_load_file(const char *path, struct cfg_errors *);
struct tern_config *config_load_buf(const char *name, const char *buf,
		    size_t len, struct cfg_errors *);
void		 config_free(struct tern_config *);
void		 config_errors_print(const struct cfg_errors *, int fd);
void		 config_errors_free(struct cfg_errors *);

#define PROC_NONE	0
#define PROC_BOUNCE	1
#define PROC_FBL	2
int		 config_processor(const struct tern_config *, const char *addr);
bool		 config_supp_category(const struct tern_config *,
		    const char *category);
/* The queue of the mail for bouncd: "DOMAIN/" BOUNCD_VMTA. */
#define BOUNCD_VMTA	"#bouncd"
void		 config_source_policy(const struct tern_config *,
		    const struct sockaddr *, struct src_policy *);
void		 config_domain_policy(const struct tern_config *,
		    const char *domain, struct dom_policy *);
void		 config_queue_policy(const struct tern_config *,
		    const struct cfg_vmta *, const char *key,
		    struct dom_policy *);
const char	*config_policy_from(const struct dom_policy *, uint64_t bit);
const struct cfg_patlist *config_patlist(const struct tern_config *,
		    const char *);
const char	*config_pat_action_name(enum pat_action);
const struct cfg_user *config_user(const struct tern_config *, const char *);
const struct cfg_dkey *config_dkey_for(const struct tern_config *,
		    const char *from_domain);
bool		 config_dkim_wanted(const struct tern_config *,
		    const struct cfg_vmta *, const char *rcpt_domain);

/*
 * Set by ternd and tern(1) before loading: key and certificate files
 * must then be readable (the daemons, which have dropped privileges,
 * leave that check to the loader that ran as root).
 */
extern bool	 config_check_files;
const struct cfg_vmta *config_vmta(const struct tern_config *, const char *);
const struct cfg_pool *config_pool(const struct tern_config *, const char *);
bool		 config_vmta_or_pool(const struct tern_config *, const char *);
bool		 config_name_ok(const char *);
char		*config_peek_run_dir(const char *);
int		 config_parse_hostport(const char *, uint16_t defport,
		    struct cfg_addr *, const char **err);

#endif
