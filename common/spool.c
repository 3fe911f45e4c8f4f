/*
 * spool.c - spool ids, paths and the queue-file format.
 *
 * Purpose:      see spool.h.  The reader is strict on purpose: record
 *               types are allowed only in their phase (head, body, tail),
 *               lengths are capped, V must come first and Z last at
 *               end-of-file.  Anything else is reported and the caller
 *               quarantines the file; nothing here deletes.
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

	for (i = 0; i < e->nrcpt; i++)
		free(e->rcpts[i].addr);
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

/* spool_head_build - V I A S C H R... B; records each status offset */
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
	for (i = 0; i < e->nrcpt; i++) {
		struct buf	 r;
		int		 ok;

		buf_init(&r, SPOOL_REC_MAX);
		ok = buf_add(&r, &e->rcpts[i].status, 1) == 0 &&
		    buf_addstr(&r, e->rcpts[i].addr) == 0;
		e->rcpts[i].status_off = (off_t)b->len + 5;
		if (!ok || rec_put(b, 'R', r.data, r.len) == -1) {
			buf_free(&r);
			return -1;
		}
		buf_free(&r);
	}
	spool_blen_fmt(0, zero);
	e->blen_off = (off_t)b->len + 5;
	if (rec_put(b, 'B', zero, 16) == -1)
		return -1;
	e->body_off = (off_t)b->len;
	return 0;
}

/* spool_tail_build - M L J [K] Z, appended after the body at commit */
int
spool_tail_build(const struct spool_env *e, struct buf *b)
{
	if (rec_str(b, 'M', e->vmta) == -1 || rec_str(b, 'L', e->pool) == -1 ||
	    rec_str(b, 'J', e->job) == -1)
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

/* read_head - V I A S C H R*, up to and including B */
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
	for (;;) {
		*why = "truncated envelope";
		if (rec_next(r) == -1)
			return -1;
		if (r->type == 'B')
			break;
		*why = "unexpected record in envelope";
		if (r->type != 'R' || r->len < 2)
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
	}
	*why = "no recipients";
	if (e->nrcpt == 0)
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

/* read_tail - M L J [K] Z, Z exactly at end of file */
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
