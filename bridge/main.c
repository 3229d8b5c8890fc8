/* lorafleet-bridge: Semtech UDP gateways <-> MQTT. Wiring only. */
#include <mosquitto.h>
#include <sodium.h>
#include <stdio.h>

#include "bridge.h"
#include "lf/cli.h"
#include "lf/log.h"
#include "lf/util.h"

int
main(int argc, char **argv)
{
	struct bridge_settings settings = {0};
	struct lf_cfg_section sections[BRIDGE_CFG_SECTIONS];
	bridge_cfg_sections(&settings, sections);

	int status = 2;
	enum lf_cli_action action =
	        lf_cli_run(argc, argv, "bridge", sections, LF_ARRAY_SIZE(sections), &settings.log);
	if (action == LF_CLI_EXIT_OK) {
		status = 0;
	} else if (action == LF_CLI_RUN) {
		if (sodium_init() < 0) {
			LOG_ERROR("libsodium failed to initialise");
			status = 1;
		} else {
			mosquitto_lib_init();
			struct bridge *b = bridge_new(&settings);
			status = b != NULL ? bridge_run(b) : 1;
			bridge_free(b);
			mosquitto_lib_cleanup();
		}
	}
	lf_cfg_free(sections, LF_ARRAY_SIZE(sections));
	return status;
}
