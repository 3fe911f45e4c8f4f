/*
 * main.c - bouncd's entry point, apart so unit tests can link the rest.
 *
 * Purpose:      main() calls bouncd_main().
 * Used by:      bouncd.
 * Trust:        see bouncd.c.
 * Spool access: none.
 * See:          bouncd(8).
 */
int	bouncd_main(int, char **);

int
main(int argc, char **argv)
{
	return bouncd_main(argc, argv);
}
