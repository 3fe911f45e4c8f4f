/*
 * main.c - queued entry point.
 *
 * Purpose:      main() only, so tests can link the rest.
 * Used by:      queued.
 * Trust:        -
 * Spool access: -
 * See:          queued(8).
 */
int	queued_main(int, char **);

int
main(int argc, char **argv)
{
	return queued_main(argc, argv);
}
