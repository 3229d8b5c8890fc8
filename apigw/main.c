/*
 * lorafleet-apigw: REST, Server-Sent Events and Prometheus for operators,
 * answered from the broker. Wiring only.
 *
 *   lorafleet-apigw [-c FILE] [--check-config] [--help] [--version]
 */
#include <mosquitto.h>
#include <sodium.h>

#include "apigw.h"
#include "lf/cli.h"
#include "lf/log.h"
#include "lf/util.h"

int
main(int argc, char **argv)
{
	struct apigw_settings settings = {0};
	struct lf_cfg_section sections[APIGW_CFG_SECTIONS];
	apigw_cfg_sections(&settings, sections);

	int status = 2;
	enum lf_cli_action action =
	        lf_cli_run(argc, argv, "apigw", sections, LF_ARRAY_SIZE(sections), &settings.log);
	if (action == LF_CLI_EXIT_OK) {
		status = 0;
	} else if (action == LF_CLI_RUN) {
		if (sodium_init() < 0) {
			LOG_ERROR("libsodium failed to initialise");
			status = 1;
		} else {
			mosquitto_lib_init();
			struct apigw *gw = apigw_new(&settings);
			status = gw != NULL ? apigw_run(gw) : 1;
			apigw_free(gw);
			mosquitto_lib_cleanup();
		}
	}
	lf_cfg_free(sections, LF_ARRAY_SIZE(sections));
	return status;
}
