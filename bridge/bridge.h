/*
 * lorafleet-bridge: Semtech UDP (GWMP v1/v2) <-> MQTT.
 *
 * One thread: an lf_loop over the UDP socket, the MQTT socket and timers.
 * struct bridge is the daemon's one context; nothing else is global.
 */
#ifndef BRIDGE_BRIDGE_H
#define BRIDGE_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "lf/cfg.h"
#include "lf/log.h"
#include "lf/mqtt.h"

/* The [bridge] section. */
struct bridge_config {
	char *udp_bind;          /* host:port; port 0 picks a free port */
	char *instance;          /* "" = this host's name */
	int64_t gateway_timeout; /* ms without PULL_DATA before offline */
	bool forward_crc_bad;
	int64_t buffer_max;       /* uplinks held while the broker is away */
	int64_t tx_ack_timeout;   /* ms to wait for a TX_ACK */
	bool pin_address;         /* keep a live gateway's IP against spoofing */
	int64_t metrics_interval; /* ms between retained metrics snapshots */
	int64_t udp_rcvbuf;       /* SO_RCVBUF bytes */
	int64_t max_gateways;     /* gateways kept; datagrams of new ones past it ignored */
};

struct bridge_settings {
	struct lf_mqtt_config mqtt;
	struct lf_log_config log;
	struct bridge_config bridge;
};

extern const struct lf_cfg_option bridge_cfg_options[];

/* The three sections the bridge owns, pointing into settings. */
#define BRIDGE_CFG_SECTIONS 3
void bridge_cfg_sections(struct bridge_settings *settings,
                         struct lf_cfg_section out[BRIDGE_CFG_SECTIONS]);

struct bridge;

/* Binds the socket and connects to the broker; NULL on failure (logged). */
struct bridge *bridge_new(const struct bridge_settings *settings);
/* Runs until SIGINT/SIGTERM; then marks every gateway offline and exits. */
int bridge_run(struct bridge *b);
void bridge_free(struct bridge *b);

#endif
