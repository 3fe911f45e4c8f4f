/*
 * spool.c - spool ids, paths and the queue-file format.
 *
 * Purpose:      see spool.h.  The reader is strict on purpose: record
 *               types are allowed only in their phase (head, body, tail),
 *               lengths are capped, V must come first and Z last at
 *               end-of-file.  The DSN records (N, E) are optional but as
 *               strict: N only right after an R, E only between J and
 *               K/Z, values checked with the parser's own rules
 *               (dsn_*_ok in smtp_cmd.c), and never empty, since the
 *               writer leaves them out when there is nothing to store.
 *               Anything else is reported and the caller quarantines the
 *               file; nothing here deletes.
 * Used by:      queued, tern, later deliverd.
 * Trust:        the file may have been cut by a crash or edited by hand.
 * Spool access: through fds given by the caller.
 * See:          tern-spool(5).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "spool.h"

/* spool_id_new - 8 hex digits of time, 8 of randomness */
void
spool_id_new(char id[SPOOL_ID_LEN + 1])
{
	uint32_t r;

	/* OpenSSL's DRBG: unpredictable, and no system call per id. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1 &&
	    getrandom(&r, sizeof(r), 0) != sizeof(r))
		fatal("getrandom");
	snprintf(id, SPOOL_ID_LEN + 1, "%08x%08x", (uint32_t)time(NULL), r);
}

/* spool_id_ok - exactly 16 lowercase hex digits; checked before any path */
bool
spool_id_ok(const char *id)
{
	int i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[SPOOL_ID_LEN] == '\0';
}

/* spool_bucket - two hex digits from the random part: 256 directories */
void
spool_bucket(const char *id, char b[3])
{
	b[0] = id[14];
	b[1] = id[15];
	b[2] = '\0';
}

void
spool_env_init(struct spool_env *e)
{
	memset(e, 0, sizeof(*e));
}

void
spool_env_free(struct spool_env *e)
{
	unsigned i;

	for (i = 0; i < e->nrcpt; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].orcpt);
	}
	free(e->rcpts);
	free(e->sender);
	free(e->client);
	free(e->helo);
	free(e->prepend);
	memset(e, 0, sizeof(*e));
}

void
spool_env_add_rcpt(struct spool_env *e, const char *addr)
{
	spool_env_add_rcpt_dsn(e, addr, 0, NULL);
}

/* spool_env_add_rcpt_dsn - checked when written (spool_head_build) */
void
spool_env_add_rcpt_dsn(struct spool_env *e, const char *addr,
    unsigned notify, const char *orcpt)
{
	struct spool_rcpt *r;
	const char	  *at;

	if (e->nrcpt % 16 == 0)
		e->rcpts = xreallocarray(e->rcpts, e->nrcpt + 16,
		    sizeof(*e->rcpts));
	r = &e->rcpts[e->nrcpt++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(addr);
	at = strrchr(r->addr, '@');
	r->domain = at ? at + 1 : r->addr + strlen(r->addr);
	r->status = RS_PENDING;
	/* Out of range stays invalid: spool_head_build refuses it. */
	r->notify = notify > 0xff ? 0xff : (uint8_t)notify;
	if (orcpt != NULL && *orcpt != '\0')
		r->orcpt = xstrdup(orcpt);
}

static int
rec_put(struct buf *b, char type, const void *data, size_t len)
{
	uint8_t	 h[5];

	if (len > SPOOL_REC_MAX)
		return -1;
	h[0] = (uint8_t)type;
	h[1] = (uint8_t)(len & 0xff);
	h[2] = (uint8_t)((len >> 8) & 0xff);
	h[3] = (uint8_t)((len >> 16) & 0xff);
	h[4] = (uint8_t)((len >> 24) & 0xff);
	if (buf_add(b, h, sizeof(h)) == -1 || buf_add(b, data, len) == -1)
		return -1;
	return 0;
}

static int
rec_str(struct buf *b, char type, const char *s)
{
	return rec_put(b, type, s ? s : "", s ? strlen(s) : 0);
}

void
spool_blen_fmt(uint64_t n, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)n);
}

static const char hexdigits[] = "0123456789abcdef";

/* put_rcpt - R (status byte first, noting its offset), then N if any */
static int
put_rcpt(struct buf *b, struct spool_rcpt *rc)
{
	struct buf	 r;
	int		 ok;

	buf_init(&r, SPOOL_REC_MAX);
	ok = buf_add(&r, &rc->status, 1) == 0 &&
	    buf_addstr(&r, rc->addr) == 0;
	rc->status_off = (off_t)b->len + 5;
	ok = ok && rec_put(b, 'R', r.data, r.len) == 0;
	if (ok && (rc->notify != 0 || rc->orcpt != NULL)) {
		/* N: NOTIFY as one hex digit, then ORCPT */
		buf_reset(&r);
		ok = dsn_notify_ok(rc->notify) && (rc->orcpt == NULL ||
		    dsn_orcpt_ok(rc->orcpt)) &&
		    buf_add(&r, &hexdigits[rc->notify], 1) == 0 &&
		    (rc->orcpt == NULL || buf_addstr(&r, rc->orcpt) == 0) &&
		    rec_put(b, 'N', r.data, r.len) == 0;
	}
	buf_free(&r);
	return ok ? 0 : -1;
}

/* spool_head_build - V I A S C H (R [N])... B; notes each status offset */
int
spool_head_build(struct spool_env *e, struct buf *b)
{
	char	 tmp[32], zero[17];
	unsigned i;

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)e->arrival);
	if (rec_str(b, 'V', SPOOL_VERSION) == -1 ||
	    rec_str(b, 'I', e->id) == -1 || rec_str(b, 'A', tmp) == -1 ||
	    rec_str(b, 'S', e->sender) == -1 ||
	    rec_str(b, 'C', e->client) == -1 ||
	    rec_str(b, 'H', e->helo) == -1)
		return -1;
	for (i = 0; i < e->nrcpt; i++)
		if (put_rcpt(b, &e->rcpts[i]) == -1)
			return -1;
	spool_blen_fmt(0, zero);
	e->blen_off = (off_t)b->len + 5;
	if (rec_put(b, 'B', zero, 16) == -1)
		return -1;
	e->body_off = (off_t)b->len;
	return 0;
}

/* RET in the E record */
static const char ret_codes[] = { '-', 'F', 'H' };

/* put_dsn_msg - E: RET as '-', 'F' or 'H', then ENVID; only if any */
static int
put_dsn_msg(const struct spool_env *e, struct buf *b)
{
	char	 d[1 + DSN_ENVID_MAX];
	size_t	 n = strnlen(e->envid, sizeof(e->envid));

	if (e->ret == DSN_RET_NONE && n == 0)
		return 0;
	if ((unsigned)e->ret >= nitems(ret_codes) || n > DSN_ENVID_MAX ||
	    (n > 0 && !dsn_text_ok(e->envid, DSN_ENVID_MAX)))
		return -1;
	d[0] = ret_codes[e->ret];
	memcpy(d + 1, e->envid, n);
	return rec_put(b, 'E', d, 1 + n);
}

/* spool_tail_build - M L J [E] [K] Z, appended after the body at commit */
int
spool_tail_build(const struct spool_env *e, struct buf *b)
{
	if (rec_str(b, 'M', e->vmta) == -1 || rec_str(b, 'L', e->pool) == -1 ||
	    rec_str(b, 'J', e->job) == -1 || put_dsn_msg(e, b) == -1)
		return -1;
	if (e->prepend != NULL && (!spool_prepend_ok(e->prepend,
	    strlen(e->prepend)) || rec_str(b, 'K', e->prepend) == -1))
		return -1;
	return rec_put(b, 'Z', "", 0);
}

/*
 * spool_prepend_ok - header text fit to go before a message: lines that
 * each end in CRLF, the first "Name: value", the others continuation
 * lines (starting with a space or a tab), printable ASCII and tabs
 * only.  deliverd sends it as it is, so nothing else may get through.
 */
bool
spool_prepend_ok(const char *s, size_t n)
{
	size_t	 i, col = 0;
	bool	 name = true;

	if (n < 4 || n > SPOOL_PREPEND_MAX || s[0] == ':' ||
	    s[n - 2] != '\r' || s[n - 1] != '\n')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			/* CRLF after a non-empty line, then WSP or the end */
			if (i + 1 >= n || s[i + 1] != '\n' || name ||
			    col == 0 || (i + 2 < n && s[i + 2] != ' ' &&
			    s[i + 2] != '\t'))
				return false;
			i++;
			col = 0;
			continue;
		}
		if ((c < ' ' && c != '\t') || c >= 0x7f)
			return false;
		if (name && c == ':')
			name = false;
		else if (name && c <= ' ')
			return false;
		col++;
	}
	return true;
}

/* --- reader ------------------------------------------------------------ */

struct reader {
	int	 fd;
	off_t	 off;
	off_t	 size;
	char	 type;
	uint32_t len;
	char	 data[SPOOL_REC_MAX + 1];
};

static int
rec_next(struct reader *r)
{
	uint8_t	 h[5];

	if (r->size - r->off < 5)
		return -1;
	if (pread(r->fd, h, 5, r->off) != 5)
		return -1;
	r->type = (char)h[0];
	r->len = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 |
	    (uint32_t)h[4] << 24;
	if (r->len > SPOOL_REC_MAX || r->size - r->off - 5 < r->len)
		return -1;
	if (pread(r->fd, r->data, r->len, r->off + 5) != (ssize_t)r->len)
		return -1;
	r->data[r->len] = '\0';
	if (memchr(r->data, '\0', r->len) != NULL)
		return -1;
	r->off += 5 + r->len;
	return 0;
}

static int
copy_name(char *dst, size_t sz, const struct reader *r)
{
	if (r->len >= sz)
		return -1;
	memcpy(dst, r->data, r->len + 1);
	return 0;
}

/* read_rcpt - an R record: status byte and address */
static int
read_rcpt(const struct reader *r, struct spool_env *e, const char **why)
{
	*why = "unexpected record in envelope";
	if (r->len < 2)
		return -1;
	*why = "bad recipient status";
	if (r->data[0] != RS_PENDING && r->data[0] != RS_DELIVERED &&
	    r->data[0] != RS_BOUNCED)
		return -1;
	*why = "too many recipients";
	if (e->nrcpt == SPOOL_RCPT_MAX)
		return -1;
	spool_env_add_rcpt(e, r->data + 1);
	e->rcpts[e->nrcpt - 1].status = r->data[0];
	e->rcpts[e->nrcpt - 1].status_off = r->off - r->len;
	return 0;
}

/* read_dsn_rcpt - an N record: NOTIFY digit, then ORCPT; never empty */
static int
read_dsn_rcpt(const struct reader *r, struct spool_rcpt *rc)
{
	const char	*d;
	unsigned	 n;

	if (r->len < 1 || r->data[0] == '\0' ||
	    (d = strchr(hexdigits, r->data[0])) == NULL)
		return -1;
	n = (unsigned)(d - hexdigits);
	if (!dsn_notify_ok(n) || (n == 0 && r->len == 1) ||
	    (r->len > 1 && !dsn_orcpt_ok(r->data + 1)))
		return -1;
	rc->notify = (uint8_t)n;
	if (r->len > 1)
		rc->orcpt = xstrdup(r->data + 1);
	return 0;
}

/* read_rcpts - (R [N])... up to and including B; at least one R */
static int
read_rcpts(struct reader *r, struct spool_env *e, const char **why)
{
	bool	 after_r = false;

	for (;;) {
		*why = "truncated envelope";
		if (rec_next(r) == -1)
			return -1;
		if (r->type == 'B')
			break;
		if (r->type == 'R') {
			if (read_rcpt(r, e, why) == -1)
				return -1;
			after_r = true;
			continue;
		}
		*why = "unexpected record in envelope";
		if (r->type != 'N' || !after_r)
			return -1;
		*why = "bad recipient DSN record";
		if (read_dsn_rcpt(r, &e->rcpts[e->nrcpt - 1]) == -1)
			return -1;
		after_r = false;
	}
	*why = "no recipients";
	return e->nrcpt == 0 ? -1 : 0;
}

/* read_head - V I A S C H (R [N])..., up to and including B */
static int
read_head(struct reader *r, struct spool_env *e, const char **why)
{
	uint64_t v;

	*why = "bad version record";
	if (rec_next(r) == -1 || r->type != 'V' ||
	    strcmp(r->data, SPOOL_VERSION) != 0)
		return -1;
	*why = "bad id record";
	if (rec_next(r) == -1 || r->type != 'I' || !spool_id_ok(r->data))
		return -1;
	memcpy(e->id, r->data, SPOOL_ID_LEN + 1);
	*why = "bad arrival record";
	if (rec_next(r) == -1 || r->type != 'A' ||
	    parse_u64(r->data, 0, UINT32_MAX * 4ULL, &e->arrival) == -1)
		return -1;
	*why = "bad sender/client records";
	if (rec_next(r) == -1 || r->type != 'S')
		return -1;
	e->sender = xstrdup(r->data);
	if (rec_next(r) == -1 || r->type != 'C')
		return -1;
	e->client = xstrdup(r->data);
	if (rec_next(r) == -1 || r->type != 'H')
		return -1;
	e->helo = xstrdup(r->data);
	if (read_rcpts(r, e, why) == -1)
		return -1;
	*why = "bad body length";
	if (r->len != 16)
		return -1;
	e->blen_off = r->off - 16;
	v = strtoull(r->data, NULL, 16);
	if (strspn(r->data, "0123456789abcdef") != 16 ||
	    v > (uint64_t)(r->size - r->off))
		return -1;
	e->body_off = r->off;
	e->body_len = v;
	return 0;
}

/* read_dsn_msg - an E record: RET code, then ENVID; never empty */
static int
read_dsn_msg(const struct reader *r, struct spool_env *e)
{
	const char	*c;

	if (r->len < 1 || r->len > 1 + DSN_ENVID_MAX || r->data[0] == '\0' ||
	    (c = memchr(ret_codes, r->data[0], sizeof(ret_codes))) == NULL)
		return -1;
	e->ret = (enum dsn_ret)(c - ret_codes);
	if (r->len == 1)
		return e->ret == DSN_RET_NONE ? -1 : 0;
	if (!dsn_text_ok(r->data + 1, DSN_ENVID_MAX))
		return -1;
	memcpy(e->envid, r->data + 1, r->len);	/* with the NUL */
	return 0;
}

/* read_tail - M L J [E] [K] Z, Z exactly at end of file */
static int
read_tail(struct reader *r, struct spool_env *e, const char **why)
{
	*why = "bad tail";
	if (rec_next(r) == -1 || r->type != 'M' ||
	    copy_name(e->vmta, sizeof(e->vmta), r) == -1)
		return -1;
	if (rec_next(r) == -1 || r->type != 'L' ||
	    copy_name(e->pool, sizeof(e->pool), r) == -1)
		return -1;
	if (rec_next(r) == -1 || r->type != 'J' ||
	    copy_name(e->job, sizeof(e->job), r) == -1)
		return -1;
	*why = "missing end record";
	if (rec_next(r) == -1)
		return -1;
	if (r->type == 'E') {
		*why = "bad DSN record";
		if (read_dsn_msg(r, e) == -1)
			return -1;
		*why = "missing end record";
		if (rec_next(r) == -1)
			return -1;
	}
	if (r->type == 'K') {
		*why = "bad prepended header";
		if (!spool_prepend_ok(r->data, r->len))
			return -1;
		e->prepend = xstrdup(r->data);
		*why = "missing end record";
		if (rec_next(r) == -1)
			return -1;
	}
	if (r->type != 'Z' || r->len != 0 ||
	    r->off != r->size)
		return -1;
	return 0;
}

/* spool_env_read - parse a committed queue file; -1 with *why */
int
spool_env_read(int fd, struct spool_env *e, const char **why)
{
	struct reader	*r;
	struct stat	 st;
	int		 rv = -1;

	spool_env_init(e);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->size = st.st_size;
	if (read_head(r, e, why) == 0) {
		r->off = e->body_off + (off_t)e->body_len;
		rv = read_tail(r, e, why);
	}
	free(r);
	if (rv == -1)
		spool_env_free(e);
	return rv;
}
