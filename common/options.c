/* The sections every daemon shares: [mqtt] and [log]. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lf/cfg.h"
#include "lf/log.h"
#include "lf/mqtt.h"

#define MQTT_OPT(field) offsetof(struct lf_mqtt_config, field)
#define LOG_OPT(field)  offsetof(struct lf_log_config, field)

/*
 * The prefix is the first level of every topic the daemons publish and
 * subscribe to, so anything that would change the topic structure or be a
 * wildcard is refused here rather than discovered as a broker error.
 */
static int
check_topic_prefix(const void *field, char *err, size_t errlen)
{
	const char *prefix = *(const char *const *)field;
	size_t len = strlen(prefix);

	if (len == 0) {
		snprintf(err, errlen, "must not be empty");
		return -1;
	}
	if (strpbrk(prefix, "+#") != NULL) {
		snprintf(err, errlen, "must not contain the wildcards '+' or '#'");
		return -1;
	}
	if (prefix[0] == '/' || prefix[len - 1] == '/') {
		snprintf(err, errlen, "must not begin or end with '/'");
		return -1;
	}
	if (strstr(prefix, "//") != NULL) {
		snprintf(err, errlen, "must not contain an empty level (\"//\")");
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)prefix; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "must not contain control characters");
			return -1;
		}
	}
	return 0;
}

const struct lf_cfg_option lf_mqtt_cfg_options[] = {
        {.name = "host",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(host),
         .default_value = "127.0.0.1",
         .help = "broker host name or IP address"},
        {.name = "port",
         .type = LF_CFG_INT,
         .offset = MQTT_OPT(port),
         .default_value = "1883",
         .min = 1,
         .max = 65535,
         .help = "broker TCP port (usually 1883, or 8883 with TLS)"},
        {.name = "username",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(username),
         .help = "user name for the broker (empty: connect without one)"},
        {.name = "password",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(password),
         .flags = LF_CFG_SECRET,
         .help = "password for the broker (never printed)"},
        {.name = "client_id",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(client_id),
         .help = "MQTT client id (empty: lorafleet-<service>-<instance>)"},
        {.name = "tls_ca",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(tls_ca),
         .help = "path of a PEM CA file; set to connect with TLS (empty: plain TCP); the "
                 "broker's certificate must name host"},
        {.name = "tls_cert",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(tls_cert),
         .help = "path of a PEM client certificate for TLS client authentication"},
        {.name = "tls_key",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(tls_key),
         .help = "path of the PEM private key that goes with tls_cert"},
        {.name = "topic_prefix",
         .type = LF_CFG_STRING,
         .offset = MQTT_OPT(topic_prefix),
         .default_value = "lorawan",
         .check = check_topic_prefix,
         .help = "first topic level of the LoRaWAN traffic (no wildcards, no leading or "
                 "trailing '/')"},
        {.name = "qos",
         .type = LF_CFG_INT,
         .offset = MQTT_OPT(qos),
         .default_value = "1",
         .min = 0,
         .max = 2,
         .help = "QoS of published traffic and of subscriptions"},
        {.name = "keepalive",
         .type = LF_CFG_DURATION,
         .offset = MQTT_OPT(keepalive),
         .default_value = "30s",
         .min = 5 * LF_MS_PER_S,
         .max = LF_MS_PER_H,
         .check = lf_cfg_check_whole_seconds,
         .help = "MQTT keepalive interval (whole seconds)"},
        {.name = "reconnect_max",
         .type = LF_CFG_DURATION,
         .offset = MQTT_OPT(reconnect_max),
         .default_value = "10s",
         .min = 1 * LF_MS_PER_S,
         .max = 10 * LF_MS_PER_MIN,
         .help = "longest wait between reconnect attempts (starts at 250ms, doubles)"},
        {.name = NULL},
};

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

const struct lf_cfg_option lf_log_cfg_options[] = {
        {.name = "level",
         .type = LF_CFG_ENUM,
         .offset = LOG_OPT(level),
         .default_value = "info",
         .choices = log_levels,
         .help = "least severe level written: error, warn, info or debug"},
        {.name = "format",
         .type = LF_CFG_ENUM,
         .offset = LOG_OPT(format),
         .default_value = "text",
         .choices = log_formats,
         .help = "text (one readable line per event) or json (one JSON object per line)"},
        {.name = NULL},
};
