/*
 * main.c - tern entry point.
 *
 * Purpose:      main() only.
 * Used by:      tern.
 * Trust:        -
 * Spool access: none.
 * See:          tern(1).
 */
int	tern_main(int, char **);

int
main(int argc, char **argv)
{
	return tern_main(argc, argv);
}
