/*
 * fuzz_spool.c - libFuzzer harness for spool_env_read (common/spool.c).
 *
 * Purpose:      the input is a whole queue file.  It is written into a
 *               memfd (spool_env_read reads through an fd, with pread,
 *               and wants a regular file) and parsed.  A file that parses
 *               must keep the promises its readers rely on (offsets
 *               inside the file, at least one recipient, valid id), and
 *               rebuilt with the writer (spool_head_build, the body,
 *               spool_tail_build) it must parse back to the same
 *               envelope (the K record, a header to send, included).
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none (memfds only).
 * See:          t/fuzz/README, common/spool.h, tern-spool(5).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 fd_in = -1, fd_out = -1;

static int
load(int fd, const void *p, size_t n)
{
	if (ftruncate(fd, 0) == -1)
		abort();
	if (n > 0 && pwrite(fd, p, n, 0) != (ssize_t)n)
		abort();
	return fd;
}

static void
same(const struct spool_env *a, const struct spool_env *b)
{
	unsigned i;

	if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival ||
	    strcmp(a->sender, b->sender) != 0 ||
	    strcmp(a->client, b->client) != 0 ||
	    strcmp(a->helo, b->helo) != 0 || a->nrcpt != b->nrcpt ||
	    a->body_len != b->body_len || strcmp(a->vmta, b->vmta) != 0 ||
	    strcmp(a->pool, b->pool) != 0 || strcmp(a->job, b->job) != 0)
		abort();
	/* K: the same header to send first, or none in both. */
	if ((a->prepend == NULL) != (b->prepend == NULL) ||
	    (a->prepend != NULL && (strcmp(a->prepend, b->prepend) != 0 ||
	    !spool_prepend_ok(a->prepend, strlen(a->prepend)))))
		abort();
	for (i = 0; i < a->nrcpt; i++)
		if (strcmp(a->rcpts[i].addr, b->rcpts[i].addr) != 0 ||
		    a->rcpts[i].status != b->rcpts[i].status)
			abort();
}

/* roundtrip - write e back with the writer, read it again */
static void
roundtrip(struct spool_env *e, const uint8_t *data)
{
	struct spool_env e2;
	struct buf	 b;
	char		 blen[17];
	const char	*why;
	off_t		 body_off = e->body_off;	/* the builder moves it */

	buf_init(&b, SPOOL_HEAD_MAX);
	if (spool_head_build(e, &b) == -1)
		goto out;	/* the writer refuses: not a reader bug */
	spool_blen_fmt(e->body_len, blen);
	memcpy(b.data + e->blen_off, blen, 16);
	if (buf_add(&b, data + (size_t)body_off, (size_t)e->body_len) ==
	    -1 || spool_tail_build(e, &b) == -1)
		goto out;
	load(fd_out, b.data, b.len);
	if (spool_env_read(fd_out, &e2, &why) == -1)
		abort();		/* the writer wrote what we refuse */
	same(e, &e2);
	spool_env_free(&e2);
out:
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_env e;
	const char	*why = NULL;
	unsigned	 i;

	if (fd_in == -1 &&
	    ((fd_in = memfd_create("fuzz-spool-in", MFD_CLOEXEC)) == -1 ||
	    (fd_out = memfd_create("fuzz-spool-out", MFD_CLOEXEC)) == -1))
		abort();
	if (spool_env_read(load(fd_in, data, size), &e, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (!spool_id_ok(e.id) || e.nrcpt == 0 || e.sender == NULL ||
	    e.client == NULL || e.helo == NULL || e.body_off < 0 ||
	    e.blen_off < 0 || (uint64_t)e.body_off > size ||
	    e.body_len > size - (uint64_t)e.body_off ||
	    (uint64_t)e.blen_off + 16 > (uint64_t)e.body_off)
		abort();
	for (i = 0; i < e.nrcpt; i++) {
		const struct spool_rcpt *r = &e.rcpts[i];

		if (r->status_off < 0 || (uint64_t)r->status_off >= size ||
		    data[r->status_off] != (uint8_t)r->status ||
		    r->domain < r->addr ||
		    r->domain > r->addr + strlen(r->addr))
			abort();
	}
	roundtrip(&e, data);
	spool_env_free(&e);
	return 0;
}
