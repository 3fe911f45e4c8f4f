/*
 * main.c - dkimd's entry point, apart so unit tests can link the rest.
 *
 * Purpose:      main() calls dkimd_main().
 * Used by:      dkimd.
 * Trust:        see dkimd.c.
 * Spool access: none.
 * See:          dkimd(8).
 */
int	dkimd_main(int, char **);

int
main(int argc, char **argv)
{
	return dkimd_main(argc, argv);
}
