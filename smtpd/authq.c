/*
 * authq.c - password hashing off the event loop.
 *
 * Purpose:      crypt(3) is slow on purpose: some 30 ms of CPU for a
 *               yescrypt hash made with mkpasswd's defaults, 2 ms for
 *               SHA-512.  Done in the event loop it would stall every
 *               session for that long.  One worker thread takes requests
 *               from a bounded queue, runs crypt_r and compares in
 *               constant time, and hands each request back through a
 *               pipe that the event loop reads.  An answer is matched to
 *               its session by request id: one for a session that is
 *               gone meanwhile finds nothing and is dropped.
 * Used by:      auth.c.
 * Trust:        the worker touches nothing but its request (no libevent,
 *               no session, no configuration, no logging); passwords are
 *               wiped as soon as they are hashed.
 * Spool access: none.
 * See:          smtpd(8) SECURITY.
 */
#include <sys/queue.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "smtpd.h"

#define AUTHQ_MAX	1024		/* requests queued or being hashed */

struct authq_req {
	TAILQ_ENTRY(authq_req) entry;
	uint64_t	 reqid;
	char		 setting[AUTHQ_HASH_MAX + 1];
	char		 expect[AUTHQ_HASH_MAX + 1];	/* "": unknown user */
	char		 pass[AUTH_DECODED_MAX + 1];
	bool		 ok;
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static TAILQ_HEAD(, authq_req) todo = TAILQ_HEAD_INITIALIZER(todo);
static unsigned		 inflight;	/* main thread only */
static int		 done_fd[2] = { -1, -1 };
static struct event	*ev_done;
static bool		 started;

/* check - in the worker: hash, compare, wipe */
static void
check(struct authq_req *r, struct crypt_data *cd)
{
	const char	*h = crypt_r(r->pass, r->setting, cd);
	size_t		 n = strlen(r->expect);

	r->ok = n > 0 && h != NULL && h[0] != '*' && strlen(h) == n &&
	    CRYPTO_memcmp(h, r->expect, n) == 0;
	explicit_bzero(r->pass, sizeof(r->pass));
	explicit_bzero(cd, sizeof(*cd));
}

static void *
worker(void *arg)
{
	struct crypt_data	*cd = arg;
	struct authq_req	*r;

	for (;;) {
		pthread_mutex_lock(&mtx);
		while ((r = TAILQ_FIRST(&todo)) == NULL)
			pthread_cond_wait(&cv, &mtx);
		TAILQ_REMOVE(&todo, r, entry);
		pthread_mutex_unlock(&mtx);
		check(r, cd);
		/* A pointer is far below PIPE_BUF: the write is atomic. */
		while (write(done_fd[1], &r, sizeof(r)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

/* on_done - in the loop: answers from the worker */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct authq_req *r;
	unsigned	  n;

	for (n = 0; n < 64 && read(fd, &r, sizeof(r)) == sizeof(r); n++) {
		inflight--;
		auth_checked(r->reqid, r->ok);
		free(r);
	}
}

/* start - the pipe and the thread, on first use (after the drop) */
static int
start(void)
{
	pthread_t	 t;
	pthread_attr_t	 a;
	struct crypt_data *cd;

	if (started)
		return 0;
	if (pipe2(done_fd, O_CLOEXEC) == -1) {
		log_warn("auth: pipe");
		return -1;
	}
	fd_nonblock(done_fd[0]);
	cd = xcalloc(1, sizeof(*cd));	/* 32 KiB+: not on a stack */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if ((errno = pthread_create(&t, &a, worker, cd)) != 0) {
		log_warn("auth: pthread_create");
		pthread_attr_destroy(&a);
		free(cd);
		close(done_fd[0]);
		close(done_fd[1]);
		return -1;
	}
	pthread_attr_destroy(&a);
	ev_done = event_new(smtpd.d.base, done_fd[0], EV_READ | EV_PERSIST,
	    on_done, NULL);
	event_add(ev_done, NULL);
	started = true;
	return 0;
}

/*
 * authq_submit - hash pass with setting and compare with expect ("" for
 * an unknown user: hashed all the same, never a match); the answer
 * comes to auth_checked(reqid, ok).  -1: no room or no worker.
 */
int
authq_submit(uint64_t reqid, const char *setting, const char *expect,
    const char *pass)
{
	struct authq_req *r;

	if (inflight >= AUTHQ_MAX || start() == -1)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->reqid = reqid;
	if (tern_strlcpy(r->setting, setting, sizeof(r->setting)) >=
	    sizeof(r->setting) || tern_strlcpy(r->expect, expect,
	    sizeof(r->expect)) >= sizeof(r->expect) ||
	    tern_strlcpy(r->pass, pass, sizeof(r->pass)) >= sizeof(r->pass)) {
		explicit_bzero(r, sizeof(*r));
		free(r);
		return -1;
	}
	inflight++;
	pthread_mutex_lock(&mtx);
	TAILQ_INSERT_TAIL(&todo, r, entry);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mtx);
	return 0;
}
