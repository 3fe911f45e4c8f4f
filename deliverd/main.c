/*
 * main.c - deliverd entry point.
 *
 * Purpose:      main() only.
 * Used by:      deliverd.
 * Trust:        -
 * Spool access: none.
 * See:          deliverd(8).
 */
int	deliverd_main(int, char **);

int
main(int argc, char **argv)
{
	return deliverd_main(argc, argv);
}
