/*
 * main.c - smtpd entry point.
 *
 * Purpose:      main() only, so tests can link the rest.
 * Used by:      smtpd.
 * Trust:        -
 * Spool access: none.
 * See:          smtpd(8).
 */
#include "smtpd.h"

int	smtpd_main(int, char **);

int
main(int argc, char **argv)
{
	return smtpd_main(argc, argv);
}
