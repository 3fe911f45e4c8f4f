/*
 * tap.h - a tiny header-only TAP (Test Anything Protocol) harness.
 *
 * Purpose:      plan(), ok(), is_int(), is_u64(), is_str(), diag(),
 *               todo_start()/todo_end(), skip() and done_testing() for
 *               the table-driven unit tests in t/unit/.  A failing check
 *               prints where it failed and "got ... want ..."; a check
 *               inside a TODO block is reported "# TODO" and does not
 *               make the run fail.  done_testing() returns the exit
 *               status for main(): 0 only when every non-TODO check
 *               passed and the plan (if any) was met.
 * Used by:      t/unit/test_*.c, run by t/00-unit.t under prove.
 * Trust:        test code only; no external libraries.
 * Spool access: none.
 * See:          https://testanything.org/tap-specification.html
 */
#ifndef TERN_TAP_H
#define TERN_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	int		 planned;	/* -1: no plan yet */
	int		 run;
	int		 failed;
	int		 todo_failed;
	const char	*todo;		/* reason, or NULL */
} tap __attribute__((unused)) = { -1, 0, 0, 0, NULL };

/* tap_vdesc - the description, with '#' made harmless for TAP */
static inline void
tap_vdesc(const char *fmt, va_list ap)
{
	char	 d[512];
	size_t	 i;

	vsnprintf(d, sizeof(d), fmt, ap);
	for (i = 0; d[i] != '\0'; i++) {
		if (d[i] == '\n' || d[i] == '\r')
			d[i] = ' ';
		if (d[i] == '#')
			d[i] = '+';
	}
	fputs(d, stdout);
}

static inline void
diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* diag - a "# " comment line on stdout, kept in order with results */
static inline void
diag(const char *fmt, ...)
{
	va_list	 ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* tap_quote - s as a C-ish literal for diagnostics: "a\r\n", or NULL */
static inline void
tap_quote(const char *s, char *out, size_t sz)
{
	size_t	 o = 0;

	if (s == NULL) {
		snprintf(out, sz, "NULL");
		return;
	}
	out[o++] = '\'';
	for (; *s != '\0' && o + 6 < sz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '\'') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, sz - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (*s != '\0' && o + 4 < sz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static inline void
plan(int n)
{
	tap.planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* todo_start - later checks are expected to fail, for reason */
static inline void
todo_start(const char *reason)
{
	tap.todo = reason;
}

static inline void
todo_end(void)
{
	tap.todo = NULL;
}

/* tap_result - print one "ok"/"not ok" line; returns pass */
static inline bool
tap_result(bool pass, const char *file, int line, const char *fmt,
    va_list ap)
{
	tap.run++;
	printf("%sok %d - ", pass ? "" : "not ", tap.run);
	tap_vdesc(fmt, ap);
	if (tap.todo != NULL)
		printf(" # TODO %s", tap.todo);
	putchar('\n');
	if (!pass) {
		if (tap.todo != NULL)
			tap.todo_failed++;
		else
			tap.failed++;
		diag("  Failed %stest at %s line %d.",
		    tap.todo != NULL ? "(TODO) " : "", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline bool
tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline bool
tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	pass = tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline bool
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline bool
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	bool	 pass = got == want;

	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("    got %lld want %lld", got, want);
	return pass;
}

static inline bool
tap_is_u64(uint64_t got, uint64_t want, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline bool
tap_is_u64(uint64_t got, uint64_t want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	bool	 pass = got == want;

	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("    got %llu want %llu", (unsigned long long)got,
		    (unsigned long long)want);
	return pass;
}

static inline bool
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* tap_is_str - equal strings; NULL equals only NULL */
static inline bool
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 g[1024], w[1024];
	bool	 pass;

	pass = (got == NULL || want == NULL) ? got == want :
	    strcmp(got, want) == 0;
	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_quote(got, g, sizeof(g));
		tap_quote(want, w, sizeof(w));
		diag("    got  %s", g);
		diag("    want %s", w);
	}
	return pass;
}

/* skip - n checks that cannot run here, counted as passed */
static inline void
skip(int n, const char *reason)
{
	while (n-- > 0) {
		tap.run++;
		printf("ok %d # SKIP %s\n", tap.run, reason);
	}
	fflush(stdout);
}

/* bail_out - stop the whole run (the rest would be meaningless) */
static inline void
bail_out(const char *why)
{
	printf("Bail out! %s\n", why);
	fflush(stdout);
	exit(255);
}

/* done_testing - trailing plan if none; the exit status for main() */
static inline int
done_testing(void)
{
	if (tap.planned < 0)
		printf("1..%d\n", tap.run);
	else if (tap.planned != tap.run)
		diag("Looks like you planned %d tests but ran %d.",
		    tap.planned, tap.run);
	if (tap.failed > 0)
		diag("Looks like you failed %d test%s of %d.", tap.failed,
		    tap.failed == 1 ? "" : "s", tap.run);
	if (tap.todo_failed > 0)
		diag("%d TODO test%s failed (known bugs).", tap.todo_failed,
		    tap.todo_failed == 1 ? "" : "s");
	fflush(stdout);
	if (tap.failed > 0 || (tap.planned >= 0 && tap.planned != tap.run))
		return 1;
	return 0;
}

#define ok(c, ...)	tap_ok(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(g, w, ...) \
	tap_is_int((long long)(g), (long long)(w), __FILE__, __LINE__, \
	    __VA_ARGS__)
#define is_u64(g, w, ...) \
	tap_is_u64((uint64_t)(g), (uint64_t)(w), __FILE__, __LINE__, \
	    __VA_ARGS__)
#define is_str(g, w, ...) \
	tap_is_str((g), (w), __FILE__, __LINE__, __VA_ARGS__)

#endif
