/*
 * spool.h - spool ids, paths and the queue-file format.
 *
 * Purpose:      one file per message, Postfix-style typed records around
 *               the body:
 *                 V I A S C H (R [N])... B<body> M L J [E] [K] Z
 *               Each record is a 1-byte type, a 4-byte little-endian
 *               length and the data.  B's data is the body length as 16
 *               hex digits (written as zeros, patched at commit) and the
 *               body follows the record directly.  Every R record starts
 *               with a status byte ('-' pending, 'D' delivered,
 *               'B' bounced) rewritten in place.  An optional N record
 *               right after an R holds that recipient's DSN request
 *               (RFC 3461 NOTIFY as one hex digit, then ORCPT); an
 *               optional E record between J and K/Z holds the message's
 *               (RET as '-', 'F' or 'H', then ENVID).  Both are written
 *               only when there is something to store, so a message
 *               without DSN parameters gives the same bytes as before
 *               them, and files without them still parse.  An optional
 *               K record between J (or E) and Z holds a header to send
 *               before the message (the DKIM-Signature made at commit;
 *               files without it still parse).  Z must end the file.
 * Used by:      queued (the only writer), tern (reads), deliverd (reads
 *               through an fd).
 * Trust:        a file that does not parse exactly goes to corrupt/;
 *               ids are validated before any path is built.
 * Spool access: read/write in queued only.
 * See:          tern-spool(5).
 */
#ifndef TERN_SPOOL_H
#define TERN_SPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mailaddr.h"
#include "smtp_cmd.h"	/* DSN_* */
#include "util.h"

#define SPOOL_ID_LEN		16
#define SPOOL_VERSION		"1"
#define SPOOL_REC_MAX		4096
#define SPOOL_RCPT_MAX		100000
#define SPOOL_HEAD_MAX		(32 * 1024 * 1024)
#define SPOOL_NAME_MAX		64
#define SPOOL_JOB_MAX		128
#define SPOOL_PREPEND_MAX	SPOOL_REC_MAX	/* K: header text */

#define RS_PENDING		'-'
#define RS_DELIVERED		'D'
#define RS_BOUNCED		'B'

struct spool_rcpt {
	char		*addr;
	const char	*domain;	/* points into addr */
	char		 status;
	off_t		 status_off;
	uint8_t		 notify;	/* DSN_NOTIFY_* bits, 0: not given */
	char		*orcpt;		/* "type;address" (ORCPT) or NULL */
};

struct spool_env {
	char		 id[SPOOL_ID_LEN + 1];
	uint64_t	 arrival;
	char		*sender;
	char		*client;
	char		*helo;
	unsigned	 nrcpt;
	struct spool_rcpt *rcpts;
	off_t		 blen_off;	/* where B's 16 hex digits are */
	off_t		 body_off;
	uint64_t	 body_len;
	char		 vmta[SPOOL_NAME_MAX + 1];
	char		 pool[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
	char		*prepend;	/* K: header to send first, or NULL */
	enum dsn_ret	 ret;		/* E: RET=, DSN_RET_NONE if not given */
	char		 envid[DSN_ENVID_MAX + 1];	/* E: ENVID, or "" */
};

void	 spool_id_new(char id[SPOOL_ID_LEN + 1]);
bool	 spool_id_ok(const char *);
void	 spool_bucket(const char *id, char b[3]);

/* Building (queued).  The head ends with the B record. */
void	 spool_env_init(struct spool_env *);
void	 spool_env_free(struct spool_env *);
void	 spool_env_add_rcpt(struct spool_env *, const char *addr);
/* The same with NOTIFY bits and ORCPT (NULL or "" for none). */
void	 spool_env_add_rcpt_dsn(struct spool_env *, const char *addr,
	    unsigned notify, const char *orcpt);
int	 spool_head_build(struct spool_env *, struct buf *);
int	 spool_tail_build(const struct spool_env *, struct buf *);
void	 spool_blen_fmt(uint64_t, char out[17]);

/* Reading: parse a whole file through its fd. */
int	 spool_env_read(int fd, struct spool_env *, const char **why);
bool	 spool_prepend_ok(const char *, size_t);

#endif
