/*
 * util.c - memory, strings and small helpers shared by every program.
 *
 * Purpose:      see util.h.
 * Used by:      every process.
 * Trust:        none needed.
 * Spool access: none (fsync_dir is called by queued on its own paths).
 * See:          -
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if (n == 0)
		panic("xmalloc: zero size");
	if ((p = malloc(n)) == NULL)
		fatal("xmalloc");
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		panic("xcalloc: zero size");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc");
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		panic("xreallocarray: zero size");
	if ((p = reallocarray(ptr, nmemb, size)) == NULL)
		fatal("xreallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatal("xstrndup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) == -1)
		fatal("xasprintf");
	va_end(ap);
	return p;
}

/* bsnprintf - formatting that reports truncation as false */
bool
bsnprintf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < sz;
}

/* tern_strlcpy - strlcpy; glibc 2.36 has none */
size_t
tern_strlcpy(char *dst, const char *src, size_t sz)
{
	size_t	 len = strlen(src);

	if (sz > 0) {
		size_t n = len >= sz ? sz - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* parse_u64 - decimal digits only, within [min, max]; 0 or -1 */
int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* str_trim - strip leading and trailing blanks in place */
char *
str_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* buf_add - append; -1 when the hard maximum would be passed */
int
buf_add(struct buf *b, const void *p, size_t n)
{
	size_t	 need;

	if (n > b->max || b->len > b->max - n)
		return -1;
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		while (ncap < need)
			ncap *= 2;
		b->data = xreallocarray(b->data, ncap, 1);
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n, r;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("buf_printf");
	r = buf_add(b, p, (size_t)n);
	free(p);
	return r;
}

int
fd_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
fd_cloexec(int fd, bool on)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl);
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync_dir - make a directory's entries (creates, renames) durable */
int
fsync_dir(const char *path)
{
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* fsync_dir_at - the same, relative to a directory fd */
int
fsync_dir_at(int dirfd, const char *path)
{
	int	 fd, r;

	if ((fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	 tmp[4096], *p;

	if (!bsnprintf(tmp, sizeof(tmp), "%s", path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* read_file - whole file into memory, at most max bytes, NUL-terminated */
char *
read_file(const char *path, size_t max, size_t *lenp)
{
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf_init(&b, max);
	buf_add(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (buf_add(&b, chunk, (size_t)n) == -1) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	*lenp = b.len;
	return b.data;
fail:
	n = errno;
	close(fd);
	buf_free(&b);
	errno = (int)n;
	return NULL;
}

/*
 * read_secret - a key file into one allocation (no copies left behind by
 * a growing buffer), NUL-terminated; give it back with free_secret.
 */
char *
read_secret(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*p;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	else if ((uint64_t)st.st_size > max)
		e = EFBIG;
	else
		e = 0;
	if (e != 0) {
		close(fd);
		errno = e;
		return NULL;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, p + off, (size_t)st.st_size - off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			e = errno;
			close(fd);
			free_secret(p, (size_t)st.st_size + 1);
			errno = e;
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	p[off] = '\0';
	*lenp = off;
	return p;
}

/* free_secret - wipe, then free */
void
free_secret(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* text_line_end - the offset just past the line at i (its LF), or n */
size_t
text_line_end(const char *p, size_t n, size_t i)
{
	const char *nl = memchr(p + i, '\n', n - i);

	return nl != NULL ? (size_t)(nl - p) + 1 : n;
}

/* text_line_len - the length of the line [i, e) without its CRLF or LF */
size_t
text_line_len(const char *p, size_t i, size_t e)
{
	size_t l = e - i;

	if (l > 0 && p[i + l - 1] == '\n')
		l--;
	if (l > 0 && p[i + l - 1] == '\r')
		l--;
	return l;
}

/* mta_address - "helo (1.2.3.4)" -> "1.2.3.4", the last parentheses */
int
mta_address(const char *hostip, char *out, size_t sz)
{
	const char *l = strrchr(hostip, '('), *r;

	out[0] = '\0';
	if (l == NULL || (r = strchr(l, ')')) == NULL ||
	    (size_t)(r - l - 1) >= sz)
		return -1;
	memcpy(out, l + 1, (size_t)(r - l - 1));
	out[r - l - 1] = '\0';
	return 0;
}
