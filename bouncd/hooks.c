/*
 * hooks.c - event-hooks: placeholder until the poster lands.
 *
 * Purpose:      see bouncd.h.
 * Used by:      bouncd.
 * Trust:        see bouncd.h.
 * Spool access: <spool-dir>/events.
 * See:          bouncd(8).
 */
#include "bouncd.h"

int
hooks_init(struct event_base *base, int spool_fd, const struct tern_config *cfg)
{
	return 0;
}

void
hooks_reload(const struct tern_config *cfg)
{
}

void
hooks_stop(void)
{
}

void
hooks_status(json_t *obj)
{
}
