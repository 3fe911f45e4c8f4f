/*
 * fuzz_bouncecat.c - libFuzzer harness for bcat_classify
 *                    (common/bouncecat.c).
 *
 * Purpose:      the table is compiled once, from a minimal configuration
 *               loaded with config_load_buf: the built-in patterns only.
 *               The input is "STATUS NUL REPLY" (no NUL: all of it is the
 *               reply and the status is empty), as queued passes a
 *               recipient's enhanced status and the remote reply text.
 *               The category must be a non-empty name.
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/bouncecat.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bouncecat.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static const char minimal[] =
    "spool-dir: /nonexistent/spool\n"
    "run-dir: /nonexistent/run\n"
    "host-name: fuzz.example\n"
    "smtp-listener: [\"127.0.0.1:2525\"]\n"
    "virtual-mtas:\n"
    "  mta1: {}\n";

static struct bcat_table *table;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cfg_errors	 err;
	struct tern_config	*cfg;
	const char		*e = NULL;

	memset(&err, 0, sizeof(err));
	if ((cfg = config_load_buf("fuzz.yaml", minimal, sizeof(minimal) - 1,
	    &err)) == NULL) {
		config_errors_print(&err, 2);
		abort();
	}
	if ((table = bcat_compile(cfg, &e)) == NULL)
		abort();
	config_free(cfg);
	config_errors_free(&err);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*buf, *status, *reply;
	const char	*cat;
	size_t		 n;

	buf = malloc(size + 2);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	n = strnlen(buf, size);
	if (n < size) {
		status = buf;
		reply = buf + n + 1;
	} else {
		status = buf + size + 1;	/* "" */
		reply = buf;
	}
	cat = bcat_classify(table, status, reply);
	if (cat == NULL || cat[0] == '\0')
		abort();
	cat = bcat_status_text(status);
	if (cat == NULL || cat[0] == '\0')
		abort();
	free(buf);
	return 0;
}
