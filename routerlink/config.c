/* The [routerlink] section, and the sections routerlink reads. */
#include <stddef.h>
#include <string.h>

#include "lf/util.h"
#include "routerlink.h"
#include "shard.h"

#define OPT(field) offsetof(struct routerlink_config, field)

/* Helium's packet router speaks cleartext HTTP/2 on 8080; TLS is allowed
 * for proxies in front of it. */
static int
check_router_uri(const void *field, char *err, size_t errlen)
{
	const char *uri = *(char *const *)field;
	const char *rest = NULL;
	if (strncmp(uri, "http://", 7) == 0) {
		rest = uri + 7;
	} else if (strncmp(uri, "https://", 8) == 0) {
		rest = uri + 8;
	} else {
		return lf_set_err(err, errlen, "must start with http:// or https://");
	}
	char host[256];
	uint16_t port;
	size_t len = strcspn(rest, "/");
	if (len == 0 || len >= sizeof(host)) {
		return lf_set_err(err, errlen, "must name a host and port (http://host:port)");
	}
	memcpy(host, rest, len);
	host[len] = '\0';
	char name[256];
	if (lf_cfg_split_hostport(host, name, sizeof(name), &port) != 0 || name[0] == '\0' ||
	    port == 0) {
		return lf_set_err(err, errlen, "must name a host and port (http://host:port)");
	}
	return 0;
}

static int
check_shard(const void *field, char *err, size_t errlen)
{
	struct shard s;
	return shard_parse(*(char *const *)field, &s, err, errlen);
}

const struct lf_cfg_option routerlink_cfg_options[] = {
        {.name = "router_uri",
         .type = LF_CFG_STRING,
         .offset = OPT(router_uri),
         .default_value = "http://mainnet-router.helium.io:8080",
         .check = check_router_uri,
         .help = "the Helium packet router (http:// for h2c, https:// for TLS)"},
        {.name = "keys_dir",
         .type = LF_CFG_STRING,
         .offset = OPT(keys_dir),
         .default_value = "/var/lib/lorafleet/keys",
         .check = lf_cfg_check_not_empty,
         .help = "directory of the gateways' keys, <MAC>.key in gateway-rs format; losing it "
                 "loses the Hotspots"},
        {.name = "region",
         .type = LF_CFG_STRING,
         .offset = OPT(region),
         .default_value = "US915",
         .check = lf_cfg_check_not_empty,
         .help = "the gateways' helium.region name (US915, EU868, AU915, AS923_1, KR920, IN865, "
                 "...), one per instance"},
        {.name = "tx_power",
         .type = LF_CFG_INT,
         .offset = OPT(tx_power),
         .default_value = "-1",
         .min = -1,
         .max = 40,
         .help = "downlink power in dBm EIRP (txpk powe); -1 uses the region's default"},
        {.name = "instance",
         .type = LF_CFG_STRING,
         .offset = OPT(instance),
         .help = "this routerlink's name in lorafleet/routerlink/<instance>/... (empty: the host "
                 "name)"},
        {.name = "queue_size",
         .type = LF_CFG_INT,
         .offset = OPT(queue_size),
         .default_value = "100",
         .min = 1,
         .max = 100000,
         .help = "uplinks held per gateway while its stream is not ready; past it the oldest is "
                 "dropped and counted"},
        {.name = "queue_max_age",
         .type = LF_CFG_DURATION,
         .offset = OPT(queue_max_age),
         .default_value = "60s",
         .min = 1 * LF_MS_PER_S,
         .max = 10 * LF_MS_PER_MIN,
         .help = "held uplinks older than this are dropped and counted"},
        {.name = "packets_ring",
         .type = LF_CFG_INT,
         .offset = OPT(packets_ring),
         .default_value = "50",
         .min = 1,
         .max = 10000,
         .help = "recent packets kept per gateway for the packets query"},
        {.name = "keepalive",
         .type = LF_CFG_DURATION,
         .offset = OPT(keepalive),
         .default_value = "30s",
         .min = 30 * LF_MS_PER_S,
         .max = 10 * LF_MS_PER_MIN,
         .help = "HTTP/2 keepalive ping interval (shorter risks the router's too_many_pings)"},
        {.name = "stream_recycle",
         .type = LF_CFG_DURATION,
         .offset = OPT(stream_recycle),
         .default_value = "30m",
         .min = 1 * LF_MS_PER_MIN,
         .max = 34 * LF_MS_PER_MIN,
         .help = "reopen a healthy stream after this long, before the router's 35-minute kill"},
        {.name = "backoff_min",
         .type = LF_CFG_DURATION,
         .offset = OPT(backoff_min),
         .default_value = "5s",
         .min = 100,
         .max = 10 * LF_MS_PER_MIN,
         .help = "first reconnect delay of a gateway's stream (doubles, with jitter)"},
        {.name = "backoff_max",
         .type = LF_CFG_DURATION,
         .offset = OPT(backoff_max),
         .default_value = "30m",
         .min = 1 * LF_MS_PER_S,
         .max = 60 * LF_MS_PER_MIN,
         .help = "longest reconnect delay of a gateway's stream"},
        {.name = "backoff_reset",
         .type = LF_CFG_DURATION,
         .offset = OPT(backoff_reset),
         .default_value = "60s",
         .min = 1 * LF_MS_PER_S,
         .max = 60 * LF_MS_PER_MIN,
         .help = "a stream that lasted this long after its session resets the backoff when "
                 "it ends; one ended sooner counts as a failure"},
        {.name = "channels",
         .type = LF_CFG_INT,
         .offset = OPT(channels),
         .default_value = "2",
         .min = 1,
         .max = 16,
         .help = "gRPC channels (separate HTTP/2 connections) the streams are spread over"},
        {.name = "metrics_interval",
         .type = LF_CFG_DURATION,
         .offset = OPT(metrics_interval),
         .default_value = "10s",
         .min = 1 * LF_MS_PER_S,
         .max = 60 * LF_MS_PER_MIN,
         .help = "how often the retained metrics snapshot is published; changed hotspot "
                 "counters are refreshed within one interval"},
        {.name = "shard",
         .type = LF_CFG_STRING,
         .offset = OPT(shard),
         .default_value = "0/1",
         .check = check_shard,
         .help = "i/n: with n instances, this one (i counts from 0) serves the gateways whose "
                 "MAC hashes to i (docs/operations.md)"},
        {.name = NULL},
};

void
routerlink_cfg_sections(struct routerlink_settings *settings,
                        struct lf_cfg_section out[ROUTERLINK_CFG_SECTIONS])
{
	out[0] = (struct lf_cfg_section){"mqtt", lf_mqtt_cfg_options, &settings->mqtt};
	out[1] = (struct lf_cfg_section){"log", lf_log_cfg_options, &settings->log};
	out[2] = (struct lf_cfg_section){"routerlink", routerlink_cfg_options,
	                                 &settings->routerlink};
}
