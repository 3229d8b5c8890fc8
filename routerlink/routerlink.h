/*
 * lorafleet-routerlink: every gateway becomes a Helium Hotspot. One ed25519
 * key per gateway, one packet-router stream per gateway, signed uplinks
 * from `<prefix>/<mac>/up`, router downlinks to `<prefix>/<mac>/down`.
 */
#ifndef ROUTERLINK_ROUTERLINK_H
#define ROUTERLINK_ROUTERLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "lf/cfg.h"
#include "lf/log.h"
#include "lf/mqtt.h"

/* The [routerlink] section. */
struct routerlink_config {
	char *router_uri;         /* http://host:port (h2c) or https://host:port */
	char *keys_dir;           /* <keys_dir>/<MAC>.key, 0600 in a 0700 directory */
	char *region;             /* a helium.region name: US915, EU868, AS923_1, ... */
	int64_t tx_power;         /* dBm EIRP for downlinks; -1: the region's default */
	char *instance;           /* "" = this host's name */
	int64_t queue_size;       /* uplinks held per gateway while its stream is not ready */
	int64_t queue_max_age;    /* ms; older held uplinks are dropped and counted */
	int64_t packets_ring;     /* recent packets kept per gateway for queries */
	int64_t keepalive;        /* ms between HTTP/2 keepalive pings */
	int64_t stream_recycle;   /* ms after which a healthy stream is reopened */
	int64_t backoff_min;      /* ms: first reconnect delay */
	int64_t backoff_max;      /* ms: longest reconnect delay */
	int64_t backoff_reset;    /* ms: a stream that lasted this long resets the backoff */
	int64_t channels;         /* gRPC channels (separate connections) streams spread over */
	int64_t metrics_interval; /* ms between retained metrics snapshots */
	char *shard;              /* "i/n": this instance serves the gateways of shard i */
};

struct routerlink_settings {
	struct lf_mqtt_config mqtt;
	struct lf_log_config log;
	struct routerlink_config routerlink;
};

extern const struct lf_cfg_option routerlink_cfg_options[];

#define ROUTERLINK_CFG_SECTIONS 3
void routerlink_cfg_sections(struct routerlink_settings *settings,
                             struct lf_cfg_section out[ROUTERLINK_CFG_SECTIONS]);

#endif
