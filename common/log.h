/*
 * log.h - logging for every Tern program.
 *
 * Purpose:      log_info/log_warn/log_warnx/log_debug, fatal/fatalx for
 *               problems in the environment, panic for broken invariants.
 * Used by:      every process.
 * Trust:        callers pass untrusted text through as %s arguments; the
 *               formatted line is made printable before it is written, so
 *               a peer cannot forge log lines with CR/LF or escapes.
 * Spool access: none.
 * See:          ternd(8).
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>

void	log_init(const char *procname, int verbose);
void	log_setproc(const char *procname);
int	log_verbose(void);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
