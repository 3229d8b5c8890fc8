/*
 * lorafleet-apigw: REST, Server-Sent Events and Prometheus for fleet
 * operators, answered from the broker only (retained state and hotspot
 * topics, live traffic, and MQTT v5 requests to routerlink).
 */
#ifndef APIGW_APIGW_H
#define APIGW_APIGW_H

#include <stdbool.h>
#include <stdint.h>

#include "lf/cfg.h"
#include "lf/log.h"
#include "lf/mqtt.h"

/* The [apigw] section. */
struct apigw_config {
	char *http_bind;          /* host:port; port 0 picks a free port */
	char *instance;           /* "" = this host's name */
	char *read_api_key;       /* "" = reads are open */
	char *write_api_key;      /* "" = sign is refused */
	bool events_auth;         /* /events needs the read key too */
	char *cors_origin;        /* Access-Control-Allow-Origin; "" = none */
	int64_t sse_max_clients;  /* past it: 503 + Retry-After */
	int64_t sse_ring;         /* events kept for Last-Event-ID */
	int64_t sse_heartbeat;    /* ms between ": hb" comments */
	int64_t rpc_timeout;      /* ms to wait for routerlink */
	int64_t max_body;         /* request body bytes */
	int64_t http_timeout;     /* ms a connection may take to send a request */
	int64_t metrics_interval; /* ms between retained metrics snapshots */
};

struct apigw_settings {
	struct lf_mqtt_config mqtt;
	struct lf_log_config log;
	struct apigw_config apigw;
};

extern const struct lf_cfg_option apigw_cfg_options[];

#define APIGW_CFG_SECTIONS 3
void apigw_cfg_sections(struct apigw_settings *settings,
                        struct lf_cfg_section out[APIGW_CFG_SECTIONS]);

struct apigw;

/* Binds the HTTP listener and starts the MQTT thread; NULL on failure. */
struct apigw *apigw_new(const struct apigw_settings *settings);
/* Serves until SIGINT/SIGTERM, then says goodbye on the broker. */
int apigw_run(struct apigw *gw);
void apigw_free(struct apigw *gw);

#endif
