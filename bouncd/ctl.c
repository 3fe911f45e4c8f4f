/*
 * ctl.c - tern's requests to bouncd: placeholder until it lands.
 *
 * Purpose:      see bouncd.h.
 * Used by:      bouncd.
 * Trust:        see bouncd.h.
 * Spool access: none.
 * See:          bouncd(8).
 */
#include "bouncd.h"

int
bouncd_ctl(struct ipc_peer *p, struct ipc_msg *m)
{
	return -1;
}
