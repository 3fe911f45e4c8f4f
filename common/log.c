/*
 * log.c - logging for every Tern program.
 *
 * Purpose:      one line per event on stderr: time, program[pid], level,
 *               text.  ternd's stderr is the journal (systemd) or the
 *               terminal (make demo); children inherit it.
 * Used by:      every process.
 * Trust:        the formatted text is sanitised (control bytes become
 *               \ooo) so untrusted strings cannot forge lines.
 * Spool access: none.
 * See:          ternd(8).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char	 log_proc[32] = "tern";
static int	 log_verb;
static pid_t	 log_pid;

#define LOG_LINE_MAX	2048

/* log_init - set the program name and verbosity */
void
log_init(const char *procname, int verbose)
{
	log_setproc(procname);
	log_verb = verbose;
}

/* log_setproc - change the program name shown in each line */
void
log_setproc(const char *procname)
{
	snprintf(log_proc, sizeof(log_proc), "%s", procname);
	log_pid = getpid();
}

/* log_verbose - nonzero when debug lines are wanted */
int
log_verbose(void)
{
	return log_verb;
}

/* printable - rewrite control bytes in place-safe copy */
static void
log_printable(char *dst, size_t dsz, const char *src)
{
	size_t	 o = 0;

	for (; *src != '\0' && o + 5 < dsz; src++) {
		unsigned char c = (unsigned char)*src;

		if (c < 0x20 || c == 0x7f) {
			o += snprintf(dst + o, dsz - o, "\\%03o", c);
			continue;
		}
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void
log_emit(const char *level, const char *fmt, va_list ap, int err)
{
	char		 raw[LOG_LINE_MAX * 2 + 128], clean[LOG_LINE_MAX * 2];
	char		 ts[32];
	struct timespec	 now;
	struct tm	 tm;
	int		 n;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (err != 0) {
		n = strlen(raw);
		snprintf(raw + n, sizeof(raw) - n, ": %s", strerror(err));
	}
	log_printable(clean, sizeof(clean), raw);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One write(2) per line: lines from several processes never mix. */
	n = snprintf(raw, sizeof(raw), "%s.%03ldZ %s[%d]: %s%s\n", ts,
	    now.tv_nsec / 1000000, log_proc, (int)(log_pid ? log_pid :
	    getpid()), level, clean);
	if (n > (int)sizeof(raw) - 1) {
		n = sizeof(raw) - 1;
		raw[n - 1] = '\n';
	}
	(void)write(STDERR_FILENO, raw, (size_t)n);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verb)
		return;
	va_start(ap, fmt);
	log_emit("debug: ", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit("warn: ", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("warn: ", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit("fatal: ", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("panic: ", fmt, ap, 0);
	va_end(ap);
	abort();
}
