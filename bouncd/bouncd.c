/*
 * bouncd.c - the bounce and feedback-loop processor: daemon skeleton.
 *
 * Purpose:      see bouncd.h.  (Being built: issue 6.)
 * Used by:      bouncd.
 * Trust:        see bouncd.h.
 * Spool access: see bouncd.h.
 * See:          bouncd(8).
 */
#include <stdlib.h>

#include "bouncd.h"
#include "log.h"

struct bouncd bd;

int	bouncd_main(int, char **);

int
bouncd_main(int argc, char **argv)
{
	bd.d.name = "bouncd";
	bd.d.role = ROLE_BOUNCD;
	bd.spool_fd = -1;
	bd.listen_fd = -1;
	daemon_init(&bd.d, argc, argv);
	daemon_run(&bd.d);
	return 0;
}
