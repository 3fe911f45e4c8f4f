/*
 * main.c - shaperd's entry point, apart so unit tests can link the rest.
 *
 * Purpose:      main() calls shaperd_main().
 * Used by:      shaperd.
 * Trust:        see shaperd.c.
 * Spool access: none.
 * See:          shaperd(8).
 */
int	shaperd_main(int, char **);

int
main(int argc, char **argv)
{
	return shaperd_main(argc, argv);
}
