/*
 * util.h - memory, strings and small helpers shared by every program.
 *
 * Purpose:      x*alloc (exit on OOM), checked formatting, bounded copies,
 *               bounded number parsing, growable buffers with a hard cap,
 *               fd helpers.
 * Used by:      every process.
 * Trust:        none needed; callers validate what they pass.
 * Spool access: none.
 * See:          -
 */
#ifndef TERN_UTIL_H
#define TERN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* bsnprintf: snprintf that returns false on error or truncation. */
bool	 bsnprintf(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
size_t	 tern_strlcpy(char *, const char *, size_t);
int	 parse_u64(const char *, uint64_t, uint64_t, uint64_t *);
void	 str_lower(char *);
char	*str_trim(char *);

/* A growable byte buffer with a hard maximum. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};
void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

int	 fd_nonblock(int);
int	 fd_cloexec(int, bool);
int	 write_all(int, const void *, size_t);
int	 fsync_dir(const char *);
int	 fsync_dir_at(int, const char *);
int	 mkdir_p(const char *, mode_t);
char	*read_file(const char *, size_t max, size_t *lenp);
char	*read_secret(const char *, size_t max, size_t *lenp);
void	 free_secret(void *, size_t);
uint64_t now_ms(void);

size_t	 text_line_end(const char *, size_t n, size_t i);
/* The address of "helo (address)" (accounting's srcMta): 0 or -1. */
int	 mta_address(const char *hostip, char *out, size_t sz);
size_t	 text_line_len(const char *, size_t i, size_t e);

#endif
