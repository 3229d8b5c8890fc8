/* The [apigw] section, and the sections apigw reads. */
#include <stddef.h>
#include <string.h>

#include "apigw.h"
#include "lf/util.h"

#define OPT(field) offsetof(struct apigw_config, field)

/* A key goes into an HTTP header: printable ASCII without blanks, so that
 * what the operator configured is what a client can send. */
static int
check_api_key(const void *field, char *err, size_t errlen)
{
	const char *key = *(char *const *)field;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			return lf_set_err(err, errlen, "must be printable ASCII without blanks");
		}
	}
	if (key[0] != '\0' && strlen(key) < 16) {
		return lf_set_err(err, errlen, "must be at least 16 characters (or empty)");
	}
	return 0;
}

static int
check_header_value(const void *field, char *err, size_t errlen)
{
	const char *text = *(char *const *)field;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f) {
			return lf_set_err(err, errlen, "must be printable ASCII");
		}
	}
	return 0;
}

const struct lf_cfg_option apigw_cfg_options[] = {
        {.name = "http_bind",
         .type = LF_CFG_HOSTPORT,
         .offset = OPT(http_bind),
         .default_value = "127.0.0.1:8080",
         .min = 0,
         .max = 65535,
         .help = "HTTP address (host:port, [v6]:port, :port for every address); port 0 picks "
                 "a free port and logs it"},
        {.name = "instance",
         .type = LF_CFG_STRING,
         .offset = OPT(instance),
         .help = "this apigw's name in lorafleet/apigw/<instance>/... (empty: the host name)"},
        {.name = "read_api_key",
         .type = LF_CFG_STRING,
         .offset = OPT(read_api_key),
         .flags = LF_CFG_SECRET,
         .check = check_api_key,
         .help = "key for the read routes and /metrics (empty: reads are open)"},
        {.name = "write_api_key",
         .type = LF_CFG_STRING,
         .offset = OPT(write_api_key),
         .flags = LF_CFG_SECRET,
         .check = check_api_key,
         .help = "key for sign (empty: sign is refused)"},
        {.name = "events_auth",
         .type = LF_CFG_BOOL,
         .offset = OPT(events_auth),
         .default_value = "false",
         .help = "require the read key on /events too (it is public by default)"},
        {.name = "cors_origin",
         .type = LF_CFG_STRING,
         .offset = OPT(cors_origin),
         .default_value = "*",
         .check = check_header_value,
         .help = "Access-Control-Allow-Origin sent on /events (empty: none)"},
        {.name = "sse_max_clients",
         .type = LF_CFG_INT,
         .offset = OPT(sse_max_clients),
         .default_value = "100",
         .min = 1,
         .max = 100000,
         .help = "concurrent /events clients; past it 503 with Retry-After"},
        {.name = "sse_ring",
         .type = LF_CFG_INT,
         .offset = OPT(sse_ring),
         .default_value = "32768",
         .min = 16,
         .max = 4194304,
         .help = "events kept for Last-Event-ID resume and slow clients; size it for bursts"},
        {.name = "sse_heartbeat",
         .type = LF_CFG_DURATION,
         .offset = OPT(sse_heartbeat),
         .default_value = "15s",
         .min = 100,
         .max = 5 * LF_MS_PER_MIN,
         .help = "interval of the heartbeat comment on idle /events streams"},
        {.name = "rpc_timeout",
         .type = LF_CFG_DURATION,
         .offset = OPT(rpc_timeout),
         .default_value = "5s",
         .min = 100,
         .max = 1 * LF_MS_PER_MIN,
         .help = "how long packets and sign wait for routerlink before 504"},
        {.name = "max_body",
         .type = LF_CFG_INT,
         .offset = OPT(max_body),
         .default_value = "4096",
         .min = 64,
         .max = 1048576,
         .help = "largest request body in bytes; larger is refused with 413"},
        {.name = "http_timeout",
         .type = LF_CFG_DURATION,
         .offset = OPT(http_timeout),
         .default_value = "10s",
         .min = 1 * LF_MS_PER_S,
         .max = 10 * LF_MS_PER_MIN,
         .check = lf_cfg_check_whole_seconds /* lws counts whole seconds */,
         .help = "a connection that takes longer to send a request, or sits idle, is closed"},
        {.name = "metrics_interval",
         .type = LF_CFG_DURATION,
         .offset = OPT(metrics_interval),
         .default_value = "10s",
         .min = 1 * LF_MS_PER_S,
         .max = 60 * LF_MS_PER_MIN,
         .help = "how often apigw's own retained metrics snapshot is published"},
        {.name = NULL},
};

void
apigw_cfg_sections(struct apigw_settings *settings, struct lf_cfg_section out[APIGW_CFG_SECTIONS])
{
	out[0] = (struct lf_cfg_section){"mqtt", lf_mqtt_cfg_options, &settings->mqtt};
	out[1] = (struct lf_cfg_section){"log", lf_log_cfg_options, &settings->log};
	out[2] = (struct lf_cfg_section){"apigw", apigw_cfg_options, &settings->apigw};
}
