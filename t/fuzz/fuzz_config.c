/*
 * fuzz_config.c - libFuzzer harness for config_load_buf (common/config.c).
 *
 * Purpose:      the input is a whole tern.yaml.  It is loaded, and when
 *               it validates, used the way every daemon uses a fresh
 *               configuration (policy lookups, the bounce-category table
 *               queued compiles from it); then the result and the error
 *               list are freed, so LeakSanitizer sees every allocation.
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/config.h.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bouncecat.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors	 err;
	struct tern_config	*cfg;

	memset(&err, 0, sizeof(err));
	cfg = config_load_buf("fuzz.yaml", (const char *)data, size, &err);
	if (cfg != NULL) {
		struct src_policy	 sp;
		struct dom_policy	 dp;
		struct sockaddr_in	 sin;
		struct bcat_table	*t;
		const char		*e = NULL;
		unsigned		 i;

		/* What a validated file promises its users. */
		if (err.n != 0 || cfg->spool_dir == NULL ||
		    cfg->run_dir == NULL || cfg->nlisteners == 0 ||
		    cfg->nvmtas == 0 || cfg->default_virtual_mta == NULL ||
		    !config_vmta_or_pool(cfg, cfg->default_virtual_mta))
			abort();
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(0x7f000001);
		config_source_policy(cfg, (struct sockaddr *)&sin, &sp);
		config_domain_policy(cfg, "example.com", &dp);
		for (i = 0; i < cfg->ndomains; i++)
			config_domain_policy(cfg, cfg->domains[i].name, &dp);
		if ((t = bcat_compile(cfg, &e)) != NULL) {
			(void)bcat_classify(t, "5.1.1", "user unknown");
			bcat_free(t);
		}
		config_free(cfg);
	}
	config_errors_free(&err);
	return 0;
}
