/*
 * lorafleet-routerlink: every gateway becomes a Helium Hotspot. Wiring only.
 *
 *   lorafleet-routerlink [-c FILE] [--check-config] [--help] [--version]
 *   lorafleet-routerlink keys [-c FILE] show|list|create|import|export ...
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "keys_cli.h"
#include "lf/cli.h"
#include "lf/util.h"
#include "routerlink.h"

/* `keys ...`: the same configuration (for keys_dir), then the key tool. */
static int
run_keys(int argc, char **argv, struct lf_cfg_section *sections, size_t n)
{
	const char *path = getenv("LORAFLEET_CONFIG");
	int first = 1; /* argv[first] is "keys" */
	if (argc > 3 && strcmp(argv[2], "-c") == 0) {
		path = argv[3];
		argv[3] = argv[1];
		first = 3;
	}
	char err[512];
	if (lf_cfg_load(sections, n, path != NULL && path[0] != '\0' ? path : NULL, err,
	                sizeof(err)) != 0) {
		fprintf(stderr, "lorafleet-routerlink: %s\n", err);
		return 2;
	}
	const struct routerlink_config *cfg = sections[2].base;
	if (sodium_init() < 0) {
		return 1;
	}
	return keys_cli_main(argc - first, argv + first, cfg->keys_dir);
}

static int
run(void *settings)
{
	struct routerlink *rl = routerlink_new(settings);
	int status = rl != NULL ? routerlink_run(rl) : 1;
	routerlink_free(rl);
	return status;
}

int
main(int argc, char **argv)
{
	struct routerlink_settings settings = {0};
	struct lf_cfg_section sections[ROUTERLINK_CFG_SECTIONS];
	routerlink_cfg_sections(&settings, sections);
	if (argc > 1 && strcmp(argv[1], "keys") == 0) {
		int status = run_keys(argc, argv, sections, LF_ARRAY_SIZE(sections));
		lf_cfg_free(sections, LF_ARRAY_SIZE(sections));
		return status;
	}
	return lf_daemon_main(argc, argv, "routerlink", sections, LF_ARRAY_SIZE(sections),
	                      &settings.log, run, &settings);
}
