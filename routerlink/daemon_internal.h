/* routerlink's context, shared by daemon.c, packets.c and rpc.c only. */
#ifndef ROUTERLINK_DAEMON_INTERNAL_H
#define ROUTERLINK_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto.h>

#include "b58.h"
#include "daemon.h"
#include "lf/eui.h"
#include "lf/metrics.h"
#include "lf/u64map.h"
#include "lf/util.h"
#include "router_codec.h"
#include "shard.h"
#include "uplink_codec.h"

#define PENDING_TTL_MS      10000
#define HOTSPOT_REFRESH_MS  30000
#define METRICS_INTERVAL_MS 10000
/* How often gateways whose key could not be read or made are retried. */
#define KEY_RETRY_MS 5000

/* Uplinks per gateway remembered to recognise a copy (see handle_up). */
#define RECENT_UPLINKS 32

/* One received or sent packet's metadata, for the packets query (the
 * fields of multi-gateway's PacketMetadata). */
struct packet_rec {
	int64_t timestamp_ms; /* wall clock */
	bool downlink;
	int32_t rssi;
	float snr;
	uint32_t frequency; /* Hz */
	uint8_t datarate;   /* Helium__DataRate */
	uint8_t payload_size;
	uint8_t frame_type; /* enum lorawan_ftype */
	bool has_dev_addr, has_fcnt, has_fport;
	uint32_t dev_addr;
	uint16_t fcnt;
	uint8_t fport;
};

struct rl_gateway {
	uint64_t eui;
	char mac[LF_EUI_STRLEN];
	char address[HELIUM_ADDRESS_MAX];
	bool disabled;   /* no usable key (never regenerated over a file); retried */
	char *key_error; /* why, while disabled (malloc'd) */
	struct rl_stream *stream;
	uint64_t uplinks, downlinks;
	int64_t last_uplink_ms;  /* wall clock; 0: never */
	bool dirty;              /* counters changed since the last hotspot message */
	struct packet_rec *ring; /* packets_ring entries, allocated on first use */
	size_t ring_next, ring_count;
	uint64_t recent[RECENT_UPLINKS]; /* fingerprints of the latest uplinks, 0: none */
	unsigned recent_next;
};

/* A router downlink sent as rx1, kept for its rx2 until the ack comes. */
struct pending_down {
	struct pending_down *next;
	char id[32];
	uint64_t eui;
	int64_t expires_ms;
	struct router_msg msg;
};

struct routerlink {
	const struct routerlink_settings *settings;
	const struct routerlink_config *cfg;
	const char *prefix;
	int qos;
	char instance[64];
	char started_at[LF_RFC3339_LEN];
	char self_topic[160];
	Helium__Region region;
	int powe;
	struct shard shard;
	struct lf_ratelimit rpc_log; /* requests that cannot be answered */

	struct lf_loop *loop;
	struct lf_mqtt *mqtt;
	struct lf_metrics *metrics;
	struct rl_grpc *grpc;
	struct rl_streams *streams;
	struct lf_u64map gateways;
	size_t hotspot_cursor;   /* where the next refresh slice starts */
	size_t n_disabled;       /* gateways without a usable key */
	size_t key_retry_cursor; /* where the next key retry walk starts */
	struct pending_down *pending;
	uint64_t next_down_id;

	struct lf_metric *m_uplinks_in, *m_uplinks_sent, *m_downlinks, *m_rx2, *m_attempts;
	struct lf_metric *m_recycled_graceful, *m_recycled_timeout;
	struct lf_metric *m_keys_created, *m_gateways, *m_connected, *m_disabled;
};

/* packets.c */
void packets_add_uplink(struct routerlink *rl, struct rl_gateway *gw, const struct uplink *up);
void packets_add_downlink(struct routerlink *rl, struct rl_gateway *gw,
                          const struct router_msg *msg);
/* {"mac":..,"packets":[oldest .. newest]}, as multi-gateway's packets endpoint. */
char *packets_json(const struct routerlink *rl, const struct rl_gateway *gw);

/* rpc.c: MQTT v5 requests on lorafleet/rpc/routerlink/{packets,sign}. */
#define RPC_TOPIC_PREFIX "lorafleet/rpc/routerlink/"
/* Where replies may go (the ACL says so too; see rpc.c). */
#define RPC_REPLY_PREFIX "lorafleet/rpc/"
void rpc_handle(struct routerlink *rl, const struct mosquitto_message *msg,
                const mosquitto_property *props);
/* The reply to one request (method: the topic's last level) without the
 * MQTT part, so that it can be tested on its own: malloc'd JSON text, or
 * NULL when another shard answers or out of memory. *result is the
 * rpc_requests_total label: "ok", "error" or "other_shard". */
char *rpc_answer(struct routerlink *rl, const char *method, const void *payload, size_t len,
                 const char **result);

struct lf_metric *routerlink_counter(struct routerlink *rl, const char *name, const char *help,
                                     const char *label, const char *value);

#endif
