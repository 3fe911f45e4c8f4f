/*
 * smtpd.h - the SMTP receiver: shared declarations.
 *
 * Purpose:      sessions, transactions, the link to queued, the
 *               listeners' TLS contexts, AUTH state.
 * Used by:      smtpd only.
 * Trust:        everything arriving on a session is hostile.
 * Spool access: none: queued hands over one writable fd per message.
 * See:          smtpd(8).
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "config.h"
#include "suppress.h"
#include "daemon.h"
#include "ipc.h"
#include "mailaddr.h"
#include "spool.h"

#define SMTP_CMD_LINE_MAX	2048	/* Postfix line_length_limit */
#define SMTP_DATA_LINE_MAX	(64 * 1024)
#define SMTP_HDR_MAX		(64 * 1024)	/* one folded header */
#define SMTP_MAX_ERRORS		20
#define SMTP_INPUT_HIWAT	(256 * 1024)
#define SMTP_WRITE_CHUNK	(64 * 1024)

enum session_state {
	ST_HELO,		/* before HELO/EHLO */
	ST_MAIL,		/* ready for MAIL */
	ST_RCPT,		/* after MAIL */
	ST_DATA,		/* inside DATA */
	ST_QUIT
};

/* Errors that, once set, stay set until the end of the transaction. */
enum tx_error {
	TXE_NONE = 0,
	TXE_SIZE,
	TXE_BARE_NL,
	TXE_LINE,
	TXE_HOPS,
	TXE_IO,
	TXE_QUEUE,
	TXE_VMTA		/* X-Virtual-MTA not allowed for the user */
};

enum hdr_kind { HK_NORMAL, HK_XVMTA, HK_XJOB };

struct tx {
	char		 sender[MAILADDR_MAX + 1];
	unsigned	 nrcpt;
	char		**rcpts;
	uint64_t	 declared_size;
	char		 id[SPOOL_ID_LEN + 1];
	int		 fd;		/* body fd from queued, or -1 */
	struct evbuffer	*out;		/* body bytes not yet written */
	uint64_t	 size;
	enum tx_error	 error;
	bool		 in_headers;
	bool		 giant;		/* passing a giant folded header through */
	struct buf	 hdr;		/* current (possibly folded) header */
	enum hdr_kind	 hkind;
	unsigned	 received;
	char		 vmta[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
	/* RFC 3461 DSN parameters, passed on to queued */
	uint8_t		 ret;
	char		 envid[DSN_ENVID_MAX + 1];
	uint8_t		*notify;	/* [nrcpt] */
	char		**orcpt;	/* [nrcpt], NULL entries: none */
};

/* Where an AUTH exchange stands (auth.c). */
enum auth_step {
	AUTH_NONE,		/* lines are commands */
	AUTH_PLAIN,		/* 334 sent, waiting for the PLAIN response */
	AUTH_LOGIN_USER,	/* 334 Username: sent */
	AUTH_LOGIN_PASS		/* 334 Password: sent */
};

#define AUTH_USER_MAX		128	/* config: smtp-users names */
#define AUTHQ_HASH_MAX		255	/* config: hashes are <= 200 */
#define AUTH_DECODED_MAX	512	/* any decoded AUTH response */

/*
 * One listening socket, as smtpd knows it: the settings of its
 * smtp-listener entry and the TLS context made from its certificate
 * (its own, else smtp-server-tls-certificate).  The SSL_CTX holds the
 * parsed private key; it lives in smtpd's heap only (tls.c).
 */
struct smtpd_listener {
	char		*text;		/* "ip:port", as configured */
	bool		 require_starttls;
	bool		 auth_without_tls;	/* loopback only (config) */
	char		*cert;		/* the files ctx was made from */
	char		*key;
	SSL_CTX		*ctx;		/* NULL: no STARTTLS here */
};

struct session {
	TAILQ_ENTRY(session) entry;
	uint64_t	 id;
	uint32_t	 slot;
	uint32_t	 gen;
	struct bufferevent *bev;
	struct evbuffer	*out;		/* replies not yet written */
	struct event	*ev_close;	/* deferred free */
	struct sockaddr_storage ss;
	char		 ip[64];
	struct src_policy pol;
	char		 defvmta[SPOOL_NAME_MAX + 1];
	int		 fd;
	unsigned	 lis;		/* index into smtpd.lis */
	bool		 lis_require_tls;	/* copies, as pol */
	bool		 lis_auth_plain;
	/* STARTTLS (tls.c) */
	bool		 tls;		/* s->bev is the TLS bufferevent */
	bool		 tls_up;	/* handshake done */
	bool		 tls_starting;	/* 220 sent, switching when drained */
	char		 tls_proto[16];
	char		 tls_cipher[64];
	int		 tls_bits, tls_alg_bits;
	/* AUTH (auth.c) */
	enum auth_step	 auth_step;
	bool		 auth_wait;	/* hashing, or 535 delayed: hold input */
	bool		 auth_checking;	/* authq is hashing the password */
	bool		 authed;
	char		 auth_user[AUTH_USER_MAX + 1];
	char		 auth_login[AUTH_USER_MAX + 1];	/* LOGIN's user */
	char		 auth_mech[8];
	char		 auth_defvmta[SPOOL_NAME_MAX + 1];
	unsigned	 auth_nvmtas;	/* the user's virtual-mtas (copies) */
	char		**auth_vmtas;
	struct event	*ev_auth;
	enum session_state state;
	char		 helo[256];
	bool		 esmtp;
	bool		 waiting;	/* for queued; input is held */
	bool		 closing;	/* close when output drains */
	bool		 skip_line;	/* discarding an overlong line */
	unsigned	 nerrors;
	struct tx	 tx;
};

TAILQ_HEAD(session_list, session);

struct smtpd {
	struct daemon	 d;
	struct session_list sessions;
	struct smtpd_listener lis[64];
	unsigned	 nlis;
	unsigned	 nsessions;
	struct session	**slots;
	uint32_t	*gens;
	uint32_t	 nslots;
	struct evconnlistener *listeners[64];
	unsigned	 nlisteners;
	struct ipc_peer	*queued;
	struct ipc_link	 ql;		/* to queued */
	struct event	*ev_stop;
	uint64_t	 next_id;
	struct supp	*supp;		/* suppression-list reader */
	uint64_t	 supp_tried;	/* ms */
};

extern struct smtpd smtpd;

/* smtpd.c */
uint32_t smtpd_slot_alloc(struct session *);
uint64_t session_reqid(struct session *);
struct session *session_by_reqid(uint64_t);
void	 smtpd_session_gone(struct session *);
void	 smtpd_stop(void);
bool	 smtpd_suppressed(const char *addr, struct supp_entry *);

/* session.c */
void	 session_new(int fd, struct sockaddr *, int socklen, unsigned lis);
void	 session_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session_close(struct session *, const char *reason);
void	 session_flush(struct session *);
void	 session_resume(struct session *);
void	 session_queue_lost(struct session *);
void	 tx_reset(struct session *);
void	 session_set_bev(struct session *, struct bufferevent *);
bool	 session_require_tls(const struct session *);

/* tls.c */
void	 tls_init(struct tern_config *);
void	 tls_reload(struct tern_config *);
bool	 tls_offered(const struct session *);
void	 tls_start(struct session *);
void	 tls_established(struct session *);
void	 tls_log_error(struct session *);
void	 tls_received_clause(const struct session *, struct evbuffer *);
extern const struct ipc_handler tls_master_handlers[];
extern const size_t tls_nmaster_handlers;

/* auth.c */
bool	 auth_offered(const struct session *);
void	 cmd_auth(struct session *, const char *);
void	 auth_line(struct session *, char *);
void	 auth_abort(struct session *, const char *reply);
void	 auth_forget(struct session *);
bool	 auth_vmta_allowed(const struct session *, const char *);
const char *auth_default_vmta(const struct session *);
void	 auth_checked(uint64_t reqid, bool ok);

/* authq.c */
int	 authq_submit(uint64_t reqid, const char *setting,
	    const char *expect, const char *pass);

/* data.c */
int	 data_line(struct session *, const char *line, size_t len,
	    bool crlf);
void	 data_opened(struct session *, const char *id, int fd);
void	 data_committed(struct session *, bool ok, const char *reply);

#endif
