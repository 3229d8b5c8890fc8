/* The bridge's context and what its files share. Not for other modules. */
#ifndef BRIDGE_INTERNAL_H
#define BRIDGE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bridge.h"
#include "gateways.h"
#include "lf/log.h"
#include "lf/metrics.h"
#include "lf/util.h"

#define MAX_PENDING_PER_GATEWAY 32
#define ADDR_STRLEN             64 /* "[v6]:port" */

/* A downlink sent to a v2 gateway, waiting for its TX_ACK. Kept in one list
 * in send order, which is deadline order since the timeout is fixed. */
struct pending_downlink {
	struct pending_downlink *next;
	uint64_t eui;
	uint8_t token[2];
	int64_t deadline_ms;
	char id_json[]; /* the caller's id, raw JSON */
};

struct peer_bridge {
	char instance[64];
	bool online;
};

#define MAX_PEER_BRIDGES 1024

#define RX_BATCH 16

struct ack_batch {
	unsigned n;
	uint8_t bytes[RX_BATCH][4];
	struct sockaddr_storage to[RX_BATCH];
	socklen_t tolen[RX_BATCH];
	struct lf_metric *counter[RX_BATCH];
};

struct bridge_metrics {
	struct lf_metric *rx_push, *rx_pull, *rx_tx_ack, *rx_pull_ack;
	struct lf_metric *tx_push_ack, *tx_pull_ack, *tx_pull_resp;
	struct lf_metric *send_errors;
	struct lf_metric *uplinks, *stats, *crc_bad_forwarded;
	struct lf_metric *gateways_known, *gateways_online;
	struct lf_metric *connects, *disconnects, *address_changes;
	struct lf_metric *downlinks_received, *downlinks_sent, *tx_ack_unmatched;
};

/* Rate limits for log lines caused by outside input. A gateway coming
 * online or going offline is news, but a datagram with a new EUI is all it
 * takes: a flood of made-up EUIs must not flood the log (seen, gone). */
struct bridge_ratelimits {
	struct lf_ratelimit bad_datagram, bad_json, address, pinned, bad_down, tx_ack, full;
	struct lf_ratelimit seen, gone;
};

struct bridge {
	const struct bridge_settings *settings;
	const struct bridge_config *cfg;
	const char *prefix; /* topic prefix */
	int qos;
	char instance[64];
	char started_at[LF_RFC3339_LEN];
	char self_topic[128];
	bool stopping;

	struct lf_loop *loop;
	struct lf_mqtt *mqtt;
	struct lf_metrics *metrics;
	struct bridge_metrics m;
	struct bridge_ratelimits rl;

	int udp_fd;
	struct gateway_table gateways;
	/* Gateways other bridges on this broker announce (their retained
	 * state): only `online` is used. */
	struct gateway_table elsewhere;
	struct peer_bridge *peers; /* other bridges seen on the broker */
	size_t n_peers;
	bool connected_once;
	size_t online_count;
	struct pending_downlink *pending_head, *pending_tail;

	struct lf_rfc3339_cache received_at; /* received_at of uplinks, per second */
	/* recvmmsg batch, and the acks it causes, sent with one sendmmsg */
	uint8_t *rx_bufs;
	struct ack_batch *acks;
	int64_t last_gateway_sweep_ms;
};

/* state.c: retained state, metrics snapshots, address text. */
void bridge_addr_format(const struct sockaddr *sa, socklen_t len, char out[ADDR_STRLEN]);
void bridge_publish_gateway_state(struct bridge *b, const struct gateway *gw);
void bridge_publish_self_state(struct bridge *b, bool online);
char *bridge_self_state_json(const struct bridge *b, bool online);
void bridge_publish_metrics(struct bridge *b);
void bridge_set_online(struct bridge *b, struct gateway *gw, bool online);
void bridge_sweep_gateways(struct bridge *b, int64_t now_ms);
struct lf_metric *bridge_counter(struct bridge *b, const char *name, const char *help,
                                 const char *label_key, const char *label_value);
void bridge_metrics_init(struct bridge *b);

void bridge_handle_remote_state(struct bridge *b, const char *topic, const void *payload,
                                size_t len);
void bridge_handle_peer_state(struct bridge *b, const char *topic, const void *payload, size_t len);
/* Another live bridge has the gateway online: that bridge answers. */
bool bridge_served_elsewhere(const struct bridge *b, uint64_t eui);
/* Another live bridge has announced the gateway, online or not. */
bool bridge_known_elsewhere(const struct bridge *b, uint64_t eui);
/* When no bridge has a gateway online, one bridge answers for the fleet:
 * the live one with the smallest instance name, so every request gets
 * exactly one ack however many bridges share the broker. */
bool bridge_answers_for_the_fleet(const struct bridge *b);

/* downlink_io.c: MQTT `down` -> PULL_RESP, TX_ACK -> `ack`. */
int bridge_mac_from_topic(const struct bridge *b, const char *topic, const char *leaf,
                          uint64_t *eui);
void bridge_handle_down(struct bridge *b, const char *topic, const void *payload, size_t len);
/* Returns true when the token matched a pending downlink of gw. */
bool bridge_handle_tx_ack(struct bridge *b, struct gateway *gw, const uint8_t token[2],
                          const uint8_t *body, size_t body_len);
void bridge_expire_downlinks(struct bridge *b, int64_t now_ms, bool all);
void bridge_publish_ack(struct bridge *b, const char *mac, const char *id_json, const char *error,
                        const char *detail, const char *txpk_ack_json);
int bridge_send(struct bridge *b, const void *buf, size_t len, const struct sockaddr *to,
                socklen_t tolen);

#endif
