/* lorafleet-bridge: Semtech UDP gateways <-> MQTT. Wiring only. */
#include "bridge.h"
#include "lf/cli.h"
#include "lf/util.h"

static int
run(void *settings)
{
	struct bridge *b = bridge_new(settings);
	int status = b != NULL ? bridge_run(b) : 1;
	bridge_free(b);
	return status;
}

int
main(int argc, char **argv)
{
	struct bridge_settings settings = {0};
	struct lf_cfg_section sections[BRIDGE_CFG_SECTIONS];
	bridge_cfg_sections(&settings, sections);
	return lf_daemon_main(argc, argv, "bridge", sections, LF_ARRAY_SIZE(sections),
	                      &settings.log, run, &settings);
}
