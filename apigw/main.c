/*
 * lorafleet-apigw: REST, Server-Sent Events and Prometheus for operators,
 * answered from the broker. Wiring only.
 *
 *   lorafleet-apigw [-c FILE] [--check-config] [--help] [--version]
 */
#include "apigw.h"
#include "lf/cli.h"
#include "lf/util.h"

static int
run(void *settings)
{
	struct apigw *gw = apigw_new(settings);
	int status = gw != NULL ? apigw_run(gw) : 1;
	apigw_free(gw);
	return status;
}

int
main(int argc, char **argv)
{
	struct apigw_settings settings = {0};
	struct lf_cfg_section sections[APIGW_CFG_SECTIONS];
	apigw_cfg_sections(&settings, sections);
	return lf_daemon_main(argc, argv, "apigw", sections, LF_ARRAY_SIZE(sections), &settings.log,
	                      run, &settings);
}
