/*
 * sign.c - sign one message with libopendkim.
 *
 * Purpose:      read the message through queued's read-only descriptor
 *               and feed libopendkim exactly the bytes deliverd will send:
 *               every CR, LF and CRLF becomes CRLF and a last line
 *               without one gets one (deliverd's fill_body does the same;
 *               the receiver removes the dot-stuffing).  Header fields
 *               (with their folding) go to dkim_header one by one, then
 *               dkim_eoh, the body in chunks to dkim_body, dkim_eom, and
 *               dkim_getsighdr_d gives the folded header value.
 *               relaxed/relaxed; rsa-sha256, or ed25519-sha256 for an
 *               Ed25519 key.  The fields signed are dkim-headers; From
 *               is over-signed (listed once more than it occurs), so no
 *               From can be added after us.  libopendkim allocates
 *               through us, and what it frees (its copy of the key among
 *               it) is wiped first; what it fails to free of a message is
 *               freed after dkim_free (see dkblk below).
 * Used by:      dkimd.
 * Trust:        the message is hostile: a regular file only, only the
 *               span queued named, at most DKIMD_BODY_MAX bytes, at most
 *               DKIMD_FIELDS_MAX header fields of DKIMD_FIELD_MAX bytes;
 *               whatever libopendkim refuses is a failure, never a
 *               signature over something else.
 * Spool access: reads through the descriptor it is given.
 * See:          dkimd(8), RFC 6376.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkimd.h"
#include "log.h"

/* The gathered message: state between chunks. */
struct feed {
	DKIM		*d;
	bool		 body;		/* past the blank line */
	bool		 bol;		/* at the start of a line */
	bool		 pending_cr;
	unsigned	 nfields;
	struct buf	 field;		/* the header field being gathered */
	size_t		 nout;
	unsigned char	 out[DKIMD_CHUNK * 2 + 4];
	const char	*why;
};

static struct feed	 feed;
static unsigned char	 inbuf[DKIMD_CHUNK];

/* --- allocation: wiped on free, per-message blocks tracked ----------- */

/*
 * Every block libopendkim allocates carries this header.  Blocks made
 * while a message is being signed are listed: what is still there after
 * dkim_free() is a leak of the library's (libopendkim 2.11 does not free
 * the signature buffer of an Ed25519 signature), and is wiped and freed
 * here, so that memory stays flat however long dkimd runs.
 */
struct dkblk {
	TAILQ_ENTRY(dkblk) link;
	size_t		 n;
	bool		 msg;		/* made while signing a message */
};
_Static_assert(sizeof(struct dkblk) % 16 == 0, "dkblk keeps alignment");

static TAILQ_HEAD(, dkblk) msgblk = TAILQ_HEAD_INITIALIZER(msgblk);
static bool	 in_msg;

static void *
dk_malloc(void *closure, size_t n)
{
	struct dkblk *b;

	if (n > SIZE_MAX - sizeof(*b) || (b = malloc(sizeof(*b) + n)) == NULL)
		return NULL;
	b->n = n;
	b->msg = in_msg;
	if (b->msg)
		TAILQ_INSERT_TAIL(&msgblk, b, link);
	return b + 1;
}

static void
blk_release(struct dkblk *b)
{
	if (b->msg)
		TAILQ_REMOVE(&msgblk, b, link);
	explicit_bzero(b + 1, b->n);
	free(b);
}

static void
dk_free(void *closure, void *q)
{
	if (q != NULL)
		blk_release((struct dkblk *)q - 1);
}

/* sweep - after dkim_free: what libopendkim left of this message */
static void
sweep(void)
{
	struct dkblk *b;

	in_msg = false;
	while ((b = TAILQ_FIRST(&msgblk)) != NULL) {
		dk.n_swept++;
		blk_release(b);
	}
}

/* sign_init - the library handle, From over-signed (before the jail) */
int
sign_init(void)
{
	static const char *over[] = { "From", NULL };

	if ((dk.lib = dkim_init(dk_malloc, dk_free)) == NULL)
		return -1;
	if (dkim_options(dk.lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
	    over, sizeof(char **)) != DKIM_STAT_OK)
		return -1;
	return 0;
}

/* hdr_name_ok - letters, digits, '-' and '_': no pattern characters */
static bool
hdr_name_ok(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == strlen(s);
}

/* sign_headers - dkim-headers becomes libopendkim's list of fields */
int
sign_headers(const struct tern_config *cfg)
{
	char		**l = xcalloc(cfg->ndkim_headers + 1, sizeof(char *));
	unsigned	  i, n = 0;

	for (i = 0; i < cfg->ndkim_headers; i++) {
		if (!hdr_name_ok(cfg->dkim_headers[i])) {
			log_warnx("dkim-headers: \"%s\" left out (only "
			    "letters, digits, - and _ are used)",
			    cfg->dkim_headers[i]);
			continue;
		}
		l[n++] = xstrdup(cfg->dkim_headers[i]);
	}
	if (dkim_options(dk.lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, l,
	    sizeof(char **)) != DKIM_STAT_OK) {
		for (i = 0; i < n; i++)
			free(l[i]);
		free(l);
		return -1;
	}
	if (dk.signhdrs != NULL) {
		for (i = 0; dk.signhdrs[i] != NULL; i++)
			free(dk.signhdrs[i]);
		free(dk.signhdrs);
	}
	dk.signhdrs = l;
	return 0;
}

/* --- feeding ------------------------------------------------------------ */

static int
fail_dkim(struct feed *f, DKIM_STAT st)
{
	const char *e = dkim_geterror(f->d);

	f->why = e != NULL && *e != '\0' ? e : dkim_getresultstr(st);
	return -1;
}

static int
flush_body(struct feed *f)
{
	DKIM_STAT st;

	if (f->nout == 0)
		return 0;
	if ((st = dkim_body(f->d, f->out, f->nout)) != DKIM_STAT_OK)
		return fail_dkim(f, st);
	f->nout = 0;
	return 0;
}

/* flush_field - the gathered header field to libopendkim */
static int
flush_field(struct feed *f)
{
	DKIM_STAT st;

	if (f->field.len == 0)
		return 0;
	st = dkim_header(f->d, (u_char *)f->field.data, f->field.len);
	buf_reset(&f->field);
	return st == DKIM_STAT_OK ? 0 : fail_dkim(f, st);
}

/* end_headers - the blank line (or the end of a message without one) */
static int
end_headers(struct feed *f)
{
	DKIM_STAT st;

	if (flush_field(f) == -1)
		return -1;
	if ((st = dkim_eoh(f->d)) != DKIM_STAT_OK)
		return fail_dkim(f, st);
	f->body = true;
	return 0;
}

/* hdr_char - one byte of the header block (line ends come as eol) */
static int
hdr_char(struct feed *f, char c)
{
	if (c == '\0') {
		f->why = "a NUL byte in the header block";
		return -1;
	}
	if (f->bol) {
		f->bol = false;
		if (c == ' ' || c == '\t') {
			/* A continuation line: the fold stays in the field. */
			if (f->field.len == 0) {
				f->why = "the header block starts with a "
				    "continuation line";
				return -1;
			}
			if (buf_add(&f->field, "\r\n", 2) == -1)
				goto toolong;
		} else {
			if (flush_field(f) == -1)
				return -1;
			if (++f->nfields > DKIMD_FIELDS_MAX) {
				f->why = "too many header fields";
				return -1;
			}
		}
	}
	if (buf_add(&f->field, &c, 1) == -1)
		goto toolong;
	return 0;
toolong:
	f->why = "a header field too long";
	return -1;
}

static int
eol(struct feed *f)
{
	if (f->body) {
		f->out[f->nout++] = '\r';
		f->out[f->nout++] = '\n';
		f->bol = true;
		return 0;
	}
	if (f->bol)
		return end_headers(f);
	f->bol = true;
	return 0;
}

/* feed_chunk - line ends made CRLF, as deliverd sends them */
static int
feed_chunk(struct feed *f, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = (char)p[i];

		if (f->pending_cr) {
			f->pending_cr = false;
			if (eol(f) == -1)
				return -1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			f->pending_cr = true;
			continue;
		}
		if (c == '\n') {
			if (eol(f) == -1)
				return -1;
		} else if (f->body) {
			f->out[f->nout++] = (unsigned char)c;
			f->bol = false;
		} else if (hdr_char(f, c) == -1)
			return -1;
		if (f->nout >= DKIMD_CHUNK * 2 && flush_body(f) == -1)
			return -1;
	}
	return 0;
}

/* feed_end - the last line end, the end of headers if none came */
static int
feed_end(struct feed *f)
{
	DKIM_STAT st;

	if (f->pending_cr) {
		f->pending_cr = false;
		if (eol(f) == -1)
			return -1;
	}
	if (!f->bol && eol(f) == -1)
		return -1;
	if (!f->body && end_headers(f) == -1)
		return -1;
	if (flush_body(f) == -1)
		return -1;
	if ((st = dkim_eom(f->d, NULL)) != DKIM_STAT_OK)
		return fail_dkim(f, st);
	return 0;
}

/* feed_file - the span [off, off + len) of fd */
static int
feed_file(struct feed *f, int fd, uint64_t off, uint64_t len)
{
	uint64_t done = 0;
	ssize_t	 n;

	while (done < len) {
		size_t want = len - done < sizeof(inbuf) ?
		    (size_t)(len - done) : sizeof(inbuf);

		n = pread(fd, inbuf, want, (off_t)(off + done));
		if (n <= 0) {
			f->why = n == 0 ? "the file is shorter than said" :
			    "read error";
			return -1;
		}
		if (feed_chunk(f, inbuf, (size_t)n) == -1)
			return -1;
		done += (uint64_t)n;
	}
	return feed_end(f);
}

/* --- one message -------------------------------------------------------- */

static int
span_ok(int fd, uint64_t off, uint64_t len, const char **why)
{
	struct stat st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -1;
	}
	if (len > DKIMD_BODY_MAX) {
		*why = "message too large to sign";
		return -1;
	}
	if (off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off) {
		*why = "the span is outside the file";
		return -1;
	}
	return 0;
}

/* sighdr - "DKIM-Signature: <value>\r\n", checked */
static int
sighdr(struct feed *f, struct buf *out)
{
	unsigned char	*v;
	size_t		 vlen;
	DKIM_STAT	 st;

	st = dkim_getsighdr_d(f->d, strlen(DKIMD_SIGHDR) + 2, &v, &vlen);
	if (st != DKIM_STAT_OK)
		return fail_dkim(f, st);
	if (buf_printf(out, "%s: ", DKIMD_SIGHDR) == -1 ||
	    buf_add(out, v, vlen) == -1 || buf_add(out, "\r\n", 2) == -1 ||
	    !spool_prepend_ok(out->data, out->len)) {
		f->why = "the signature header is malformed or too long";
		return -1;
	}
	return 0;
}

/* sign_message - the DKIM-Signature header for a message, into out */
int
sign_message(const struct dkey_mem *k, int fd, uint64_t off, uint64_t len,
    const char *id, struct buf *out, const char **why)
{
	struct feed	*f = &feed;
	DKIM_STAT	 st;
	int		 rv = -1;

	if (span_ok(fd, off, len, why) == -1)
		return -1;
	in_msg = true;
	memset(f, 0, offsetof(struct feed, out));
	f->bol = true;
	buf_init(&f->field, DKIMD_FIELD_MAX);
	f->d = dkim_sign(dk.lib, (const u_char *)id, NULL, k->pem,
	    (const u_char *)k->selector, (const u_char *)k->domain,
	    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, k->alg, -1, &st);
	if (f->d == NULL) {
		*why = dkim_getresultstr(st);
		buf_free(&f->field);
		sweep();
		return -1;
	}
	if (feed_file(f, fd, off, len) == 0 && sighdr(f, out) == 0)
		rv = 0;
	else
		*why = f->why != NULL ? f->why : "libopendkim failed";
	/* f->why may point into the handle: copy it before the free. */
	if (rv == -1) {
		static char	 e[256];

		tern_strlcpy(e, *why, sizeof(e));
		*why = e;
	}
	dkim_free(f->d);
	sweep();
	buf_free(&f->field);
	return rv;
}
