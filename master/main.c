/*
 * main.c - ternd entry point.
 *
 * Purpose:      main() only.
 * Used by:      ternd.
 * Trust:        -
 * Spool access: none.
 * See:          ternd(8).
 */
int	ternd_main(int, char **);

int
main(int argc, char **argv)
{
	return ternd_main(argc, argv);
}
