/*
 * bouncecat.h - PowerMTA bounce categories for a failure.
 *
 * Purpose:      classify a failure by its enhanced status code and reply
 *               text: the configured bounce-category-patterns first, then
 *               the built-in table; first match wins, "other" at the end.
 *               The text matched is "<x.y.z>;<reply>", the form PowerMTA's
 *               patterns are written against (/^[45]\.1\.1/ bad-mailbox).
 * Used by:      queued (accounting), later bouncd and tern classify.
 * Trust:        reply text comes from remote servers: it is bounded
 *               before it is matched.
 * Spool access: none.
 * See:          tern.yaml(5), bounce-category-patterns.
 */
#ifndef TERN_BOUNCECAT_H
#define TERN_BOUNCECAT_H

#include "config.h"

#define BCAT_TEXT_MAX	1024

struct bcat_table;

struct bcat_table *bcat_compile(const struct tern_config *, const char **err);
void		 bcat_free(struct bcat_table *);
const char	*bcat_classify(const struct bcat_table *, const char *status,
		    const char *reply);
/* The DSN status text PowerMTA puts after the code: "(success)" etc. */
const char	*bcat_status_text(const char *status);

#endif
