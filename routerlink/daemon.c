/*
 * lorafleet-routerlink's context and its MQTT side: `up` messages become
 * signed uplinks on the gateway's stream, router downlinks become `down`
 * requests (rx2 after a TOO_EARLY/TOO_LATE ack), and every gateway's
 * Hotspot state is published retained on `<prefix>/<mac>/hotspot`.
 */
#include "daemon_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <mqtt_protocol.h>

#include "downlink_codec.h"
#include "grpc_link.h"
#include "keys.h"
#include "lf/eui.h"
#include "lf/json.h"
#include "lf/loop.h"
#include "lf/metrics.h"
#include "lf/mqtt.h"
#include "lf/u64map.h"
#include "lf/util.h"
#include "region.h"
#include "stream.h"
#include "uplink_codec.h"

struct lf_metric *
routerlink_counter(struct routerlink *rl, const char *name, const char *help, const char *label,
                   const char *value)
{
	return lf_metrics_get(rl->metrics, LF_METRIC_COUNTER, name, help, label, value);
}

static void
format_wall_ms(int64_t ms, char out[LF_RFC3339_LEN])
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	lf_format_rfc3339(&ts, out);
}

/* ---- hotspot state ---------------------------------------------------- */

static void
add_time_or_null(cJSON *obj, const char *key, int64_t ms)
{
	if (ms <= 0) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	char text[LF_RFC3339_LEN];
	format_wall_ms(ms, text);
	cJSON_AddStringToObject(obj, key, text);
}

static void
publish_hotspot(struct routerlink *rl, struct rl_gateway *gw)
{
	cJSON *obj = cJSON_CreateObject();
	if (obj == NULL) {
		return;
	}
	enum rl_stream_state st = gw->stream != NULL ? rl_stream_state(gw->stream) : 0;
	cJSON_AddStringToObject(obj, "mac", gw->mac);
	if (gw->address[0] != '\0') {
		cJSON_AddStringToObject(obj, "public_key", gw->address);
	} else {
		cJSON_AddNullToObject(obj, "public_key");
	}
	cJSON_AddStringToObject(obj, "region", region_name(rl->region));
	cJSON_AddStringToObject(obj, "router",
	                        gw->disabled ? "disabled" : rl_stream_state_name(st));
	add_time_or_null(obj, "connected_since",
	                 !gw->disabled && st == RL_STREAM_CONNECTED
	                         ? rl_stream_connected_since(gw->stream)
	                         : 0);
	cJSON_AddNumberToObject(obj, "uplinks", (double)gw->uplinks);
	cJSON_AddNumberToObject(obj, "downlinks", (double)gw->downlinks);
	add_time_or_null(obj, "last_uplink", gw->last_uplink_ms);
	if (gw->disabled && gw->key_error != NULL) {
		cJSON_AddStringToObject(obj, "key_error", gw->key_error);
	}
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	char topic[256];
	if (text != NULL &&
	    lf_mqtt_topic(topic, sizeof(topic), rl->prefix, gw->mac, "hotspot") == 0) {
		lf_mqtt_publish(rl->mqtt, topic, text, strlen(text), rl->qos, true);
	}
	free(text);
	gw->dirty = false;
}

/* ---- gateways --------------------------------------------------------- */

/* Its key could not be read or made (err says why): the gateway is
 * disabled until a retry succeeds. Logged and published when the reason
 * is new, so that a retry that fails alike adds nothing. */
static void
gateway_key_failed(struct routerlink *rl, struct rl_gateway *gw, const char *err)
{
	bool first = !gw->disabled;
	if (!first && gw->key_error != NULL && strcmp(gw->key_error, err) == 0) {
		return;
	}
	if (first) {
		gw->disabled = true;
		rl->n_disabled++;
		lf_metric_set(rl->m_disabled, (int64_t)rl->n_disabled);
		lf_metric_inc(routerlink_counter(
		        rl, "keys_failed_total",
		        "Gateways disabled because their key could not be read or made", NULL,
		        NULL));
	}
	free(gw->key_error);
	gw->key_error = strdup(err);
	LOG_ERROR("gateway %s %s: %s (retried every %d s)", gw->mac,
	          first ? "disabled" : "still disabled", err, KEY_RETRY_MS / 1000);
	publish_hotspot(rl, gw);
}

/* Loads the gateway's key, or makes it if it has none, and opens its
 * stream. keys_load_or_create() never makes a key over a file that
 * exists, so this is safe to retry whatever the last failure was. */
static int
gateway_key_up(struct routerlink *rl, struct rl_gateway *gw)
{
	struct gateway_key key;
	bool created = false;
	char err[512];
	if (keys_load_or_create(rl->cfg->keys_dir, gw->eui, &key, &created, err, sizeof(err)) !=
	    0) {
		gateway_key_failed(rl, gw, err);
		return -1;
	}
	keys_address(&key, gw->address, sizeof(gw->address));
	if (created) {
		lf_metric_inc(rl->m_keys_created);
		LOG_INFO("gateway %s: new Hotspot key %s", gw->mac, gw->address);
	}
	if (gw->disabled) {
		gw->disabled = false;
		rl->n_disabled--;
		lf_metric_set(rl->m_disabled, (int64_t)rl->n_disabled);
		free(gw->key_error);
		gw->key_error = NULL;
		LOG_INFO("gateway %s enabled: its key %s is usable now", gw->mac, gw->address);
	}
	gw->stream = rl_streams_add(rl->streams, gw->eui, &key);
	keys_wipe(&key);
	if (gw->stream != NULL) {
		rl_stream_set_user(gw->stream, gw);
	}
	publish_hotspot(rl, gw);
	return 0;
}

/* The gateway's record, created on first sight with its key: loaded, or
 * made now. A key that exists but cannot be read, or that cannot be made
 * (a full or read-only disk), disables the gateway until retry_keys()
 * succeeds: regenerating a key that exists would silently replace a
 * Hotspot. */
static struct rl_gateway *
gateway_get(struct routerlink *rl, uint64_t eui)
{
	struct rl_gateway *gw = lf_u64map_get(&rl->gateways, eui);
	if (gw != NULL) {
		return gw;
	}
	gw = calloc(1, sizeof(*gw));
	if (gw == NULL || lf_u64map_put(&rl->gateways, eui, gw) != 0) {
		free(gw);
		return NULL;
	}
	gw->eui = eui;
	lf_eui_format(eui, gw->mac);
	lf_metric_set(rl->m_gateways, (int64_t)rl->gateways.count);
	gateway_key_up(rl, gw);
	return gw;
}

/*
 * Disabled gateways are retried, so that a Hotspot comes up without a
 * restart once the operator has freed space, remounted the key directory
 * writable or restored a key file. The walk goes on from where the last
 * one stopped and stops at the first failure: a disk that is still broken
 * costs one failed attempt per KEY_RETRY_MS, however many gateways wait.
 */
static int64_t
retry_keys(struct lf_loop *loop, void *arg)
{
	struct routerlink *rl = arg;
	(void)loop;
	if (rl->streams == NULL) {
		return -1; /* shutting down (routerlink_free) */
	}
	for (size_t seen = 0, n = rl->gateways.count; rl->n_disabled > 0 && seen < n;) {
		struct rl_gateway *gw = lf_u64map_next(&rl->gateways, &rl->key_retry_cursor, NULL);
		if (gw == NULL) {
			rl->key_retry_cursor = 0; /* round the map again */
			continue;
		}
		seen++;
		if (gw->disabled && gateway_key_up(rl, gw) != 0) {
			break;
		}
	}
	return KEY_RETRY_MS;
}

/* Keys may sit on storage every instance shares: only our shard's. */
static int
gateway_from_disk(uint64_t eui, void *arg)
{
	struct routerlink *rl = arg;
	if (shard_owns(&rl->shard, eui)) {
		gateway_get(rl, eui);
	}
	return 0;
}

/* ---- downlinks -------------------------------------------------------- */

static void
publish_down(struct routerlink *rl, struct rl_gateway *gw, const char *id,
             const struct router_msg *msg, bool rx2)
{
	char json[RL_DOWN_JSON_MAX], err[200] = "", topic[256];
	if (rl_downlink_window(msg, rx2, id, rl->powe, json, sizeof(json), err, sizeof(err)) < 0) {
		lf_metric_inc(
		        routerlink_counter(rl, "downlinks_dropped_total",
		                           "Router downlinks that could not be sent, by reason",
		                           "reason", "unsupported_window"));
		LOG_WARN("gateway %s: router downlink dropped: %s", gw->mac, err);
		return;
	}
	if (lf_mqtt_topic(topic, sizeof(topic), rl->prefix, gw->mac, "down") == 0) {
		lf_mqtt_publish(rl->mqtt, topic, json, strlen(json), rl->qos, false);
	}
}

static void
on_stream_downlink(void *arg, struct rl_stream *s, const struct router_msg *msg)
{
	struct routerlink *rl = arg;
	struct rl_gateway *gw = rl_stream_user(s);
	struct pending_down *p = calloc(1, sizeof(*p));
	if (gw == NULL || p == NULL) {
		free(p);
		return;
	}
	snprintf(p->id, sizeof(p->id), "rl-%" PRIu64, ++rl->next_down_id);
	p->eui = gw->eui;
	p->expires_ms = lf_now_ms() + PENDING_TTL_MS;
	p->msg = *msg;
	gw->downlinks++;
	gw->dirty = true;
	packets_add_downlink(rl, gw, msg);
	lf_metric_inc(rl->m_downlinks);
	publish_down(rl, gw, p->id, msg, false);
	p->next = rl->pending;
	rl->pending = p;
}

/* An ack for one of our downlinks: TOO_EARLY or TOO_LATE with an rx2
 * window sends rx2, as gateway-rs does; anything else ends it. */
static void
handle_ack(struct routerlink *rl, uint64_t eui, const void *payload, size_t len)
{
	char id[64], error[64], err[200];
	if (rl_ack_parse(payload, len, id, sizeof(id), error, sizeof(error), err, sizeof(err)) !=
	    0) {
		return; /* not ours, or not readable: the bridge's business */
	}
	struct pending_down **pp = &rl->pending;
	/* The gateway too: another shard's ids look like ours. */
	while (*pp != NULL && ((*pp)->eui != eui || strcmp((*pp)->id, id) != 0)) {
		pp = &(*pp)->next;
	}
	struct pending_down *p = *pp;
	if (p == NULL) {
		return;
	}
	*pp = p->next;
	struct rl_gateway *gw = lf_u64map_get(&rl->gateways, p->eui);
	if (gw != NULL && rl_ack_wants_rx2(error) && p->msg.has_rx2) {
		lf_metric_inc(rl->m_rx2);
		LOG_DEBUG("gateway %s: %s for %s, sending rx2", gw->mac, error, p->id);
		publish_down(rl, gw, p->id, &p->msg, true);
	} else if (strcmp(error, "NONE") != 0) {
		lf_metric_inc(routerlink_counter(rl, "downlink_errors_total",
		                                 "Acks of router downlinks with an error, by error",
		                                 "error", error));
	}
	free(p);
}

static void
expire_pending(struct routerlink *rl, int64_t now)
{
	struct pending_down **pp = &rl->pending;
	while (*pp != NULL) {
		if ((*pp)->expires_ms <= now) {
			struct pending_down *p = *pp;
			*pp = p->next;
			free(p);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* ---- stream hooks ----------------------------------------------------- */

static void
on_stream_state(void *arg, struct rl_stream *s, enum rl_stream_state state)
{
	struct routerlink *rl = arg;
	struct rl_gateway *gw = rl_stream_user(s);
	if (gw != NULL) {
		publish_hotspot(rl, gw);
	}
}

static void
on_stream_sent(void *arg, struct rl_stream *s, const struct uplink *up, uint64_t hold_ms)
{
	struct routerlink *rl = arg;
	lf_metric_inc(rl->m_uplinks_sent);
}

static void
on_stream_drop(void *arg, struct rl_stream *s, enum rl_drop why, unsigned n)
{
	struct routerlink *rl = arg;
	static const char *const names[] = {"queue_full", "stale", "encode"};
	lf_metric_add(routerlink_counter(rl, "uplinks_dropped_total", "Uplinks not sent, by reason",
	                                 "reason", names[why]),
	              n);
}

static void
on_stream_attempt(void *arg, struct rl_stream *s)
{
	struct routerlink *rl = arg;
	lf_metric_inc(rl->m_attempts);
}

static void
on_stream_recycled(void *arg, struct rl_stream *s, bool graceful)
{
	struct routerlink *rl = arg;
	lf_metric_inc(graceful ? rl->m_recycled_graceful : rl->m_recycled_timeout);
}

/* ---- MQTT ------------------------------------------------------------- */

/* "<prefix>/<mac>/<leaf>" -> eui and leaf. */
static int
split_topic(const struct routerlink *rl, const char *topic, uint64_t *eui, const char **leaf)
{
	size_t plen = strlen(rl->prefix);
	if (strncmp(topic, rl->prefix, plen) != 0 || topic[plen] != '/') {
		return -1;
	}
	const char *mac = topic + plen + 1;
	const char *slash = strchr(mac, '/');
	if (slash == NULL || slash - mac > 32 || strchr(slash + 1, '/') != NULL) {
		return -1;
	}
	char text[33];
	memcpy(text, mac, (size_t)(slash - mac));
	text[slash - mac] = '\0';
	*leaf = slash + 1;
	return lf_eui_parse(text, eui);
}

/* FNV-1a over the concentrator's timestamp and the frame: two receptions
 * of one frame by one gateway, never two different ones (the µs counter
 * moves between frames). Never 0, which marks an empty slot. */
static uint64_t
uplink_fingerprint(const struct uplink *up)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < 4; i++) {
		h = (h ^ ((up->tmst >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
	}
	for (size_t i = 0; i < up->payload_len; i++) {
		h = (h ^ up->payload[i]) * 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;
}

/*
 * True when the gateway's uplink was seen lately; otherwise remembers it.
 * QoS 1 is at-least-once: after a broker crash the broker delivers again
 * what it had handed to us but not yet saved as acknowledged, and the
 * bridge publishes again what it had not seen acknowledged (a broker
 * kill -9 under 300 uplinks/s brought 50 to 200 copies, it_fault_broker).
 * A copy sent to the router would be a second packet for one frame.
 */
static bool
seen_lately(struct rl_gateway *gw, const struct uplink *up)
{
	uint64_t fp = uplink_fingerprint(up);
	for (size_t i = 0; i < RECENT_UPLINKS; i++) {
		if (gw->recent[i] == fp) {
			return true;
		}
	}
	gw->recent[gw->recent_next] = fp;
	gw->recent_next = (gw->recent_next + 1) % RECENT_UPLINKS;
	return false;
}

static void
handle_up(struct routerlink *rl, uint64_t eui, const void *payload, size_t len)
{
	lf_metric_inc(rl->m_uplinks_in);
	struct uplink up;
	char err[256];
	enum uplink_drop why = rl_uplink_decode(payload, len, eui, &up, err, sizeof(err));
	if (why != UPLINK_OK) {
		/* Filtering is normal (CRC, FSK, downlink frames); count it all. */
		lf_metric_inc(routerlink_counter(rl, "uplinks_filtered_total",
		                                 "Messages on up not sent to the router, by reason",
		                                 "reason", uplink_drop_name(why)));
		LOG_DEBUG("up for %016" PRIx64 " not sent: %s", eui, err);
		return;
	}
	struct rl_gateway *gw = gateway_get(rl, eui);
	if (gw == NULL || gw->disabled || gw->stream == NULL) {
		lf_metric_inc(routerlink_counter(rl, "uplinks_filtered_total",
		                                 "Messages on up not sent to the router, by reason",
		                                 "reason", "gateway_disabled"));
		return;
	}
	if (seen_lately(gw, &up)) {
		lf_metric_inc(routerlink_counter(rl, "uplinks_filtered_total",
		                                 "Messages on up not sent to the router, by reason",
		                                 "reason", "duplicate"));
		LOG_DEBUG("up for %016" PRIx64 " not sent: a copy of one already sent", eui);
		return;
	}
	gw->uplinks++;
	gw->last_uplink_ms = up.received_at_ms;
	gw->dirty = true;
	packets_add_uplink(rl, gw, &up);
	rl_stream_uplink(gw->stream, &up);
}

static void
handle_state(struct routerlink *rl, uint64_t eui, const void *payload, size_t len)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	bool online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
	cJSON_Delete(root);
	if (online) {
		gateway_get(rl, eui); /* first sight: key and stream */
	}
}

static void
on_mqtt_message(struct lf_mqtt *mqtt, const struct mosquitto_message *msg,
                const mosquitto_property *props, void *arg)
{
	struct routerlink *rl = arg;
	uint64_t eui;
	const char *leaf;
	if (strncmp(msg->topic, RPC_TOPIC_PREFIX, strlen(RPC_TOPIC_PREFIX)) == 0) {
		rpc_handle(rl, msg, props);
		return;
	}
	if (split_topic(rl, msg->topic, &eui, &leaf) != 0) {
		lf_metric_inc(routerlink_counter(rl, "mqtt_bad_topic_total",
		                                 "Messages on a topic whose MAC is not an EUI",
		                                 NULL, NULL));
		return;
	}
	if (!shard_owns(&rl->shard, eui)) {
		return; /* another instance's gateway */
	}
	size_t len = (size_t)msg->payloadlen;
	if (strcmp(leaf, "up") == 0) {
		handle_up(rl, eui, msg->payload, len);
	} else if (strcmp(leaf, "state") == 0) {
		handle_state(rl, eui, msg->payload, len);
	} else if (strcmp(leaf, "ack") == 0) {
		handle_ack(rl, eui, msg->payload, len);
	}
}

/*
 * A broker that restarted may have lost retained hotspot states: without
 * persistence all of them, with it those of its last moments (autosave).
 * Every gateway's is published again within a metrics_interval, as the
 * bridge does with its gateways' states; otherwise a quiet gateway's would
 * stay missing or stale (it_fault_broker: apigw showed 4 uplinks for a
 * gateway the router had 7 from) until its next uplink.
 */
static void
on_mqtt_state(struct lf_mqtt *mqtt, bool connected, void *arg)
{
	struct routerlink *rl = arg;
	if (!connected) {
		return;
	}
	struct rl_gateway *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&rl->gateways, &i, NULL)) != NULL;) {
		gw->dirty = true;
	}
	(void)mqtt;
}

/* ---- timers, lifecycle ------------------------------------------------ */

static char *
self_state_json(const struct routerlink *rl, bool online)
{
	cJSON *obj = cJSON_CreateObject();
	if (obj == NULL) {
		return NULL;
	}
	cJSON_AddBoolToObject(obj, "online", online);
	cJSON_AddStringToObject(obj, "version", LF_VERSION);
	cJSON_AddStringToObject(obj, "started_at", rl->started_at);
	cJSON_AddStringToObject(obj, "region", region_name(rl->region));
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	return text;
}

/*
 * The counters in the retained hotspot state are refreshed, not sent per
 * packet: every gateway whose counters changed once per metrics_interval.
 * In slices, one every HOTSPOT_SLICE_MS, because all of a large fleet at
 * once (10,000 JSON messages) would stall the loop and every uplink
 * waiting behind it.
 */
#define HOTSPOT_SLICE_MS 100

static int64_t
refresh_hotspots(struct lf_loop *loop, void *arg)
{
	struct routerlink *rl = arg;
	if (rl->streams == NULL) {
		return -1; /* shutting down (routerlink_free) */
	}
	int64_t slices = rl->cfg->metrics_interval / HOTSPOT_SLICE_MS;
	size_t budget = rl->gateways.count / (size_t)(slices > 0 ? slices : 1) + 1;
	struct rl_gateway *gw;
	for (size_t n = 0; n < budget; n++) {
		gw = lf_u64map_next(&rl->gateways, &rl->hotspot_cursor, NULL);
		if (gw == NULL) {
			rl->hotspot_cursor = 0; /* a round is over */
			break;
		}
		if (gw->dirty) {
			publish_hotspot(rl, gw);
		}
	}
	(void)loop;
	return HOTSPOT_SLICE_MS;
}

static int64_t
housekeeping(struct lf_loop *loop, void *arg)
{
	struct routerlink *rl = arg;
	if (rl->streams == NULL) {
		return -1; /* shutting down (routerlink_free) */
	}
	expire_pending(rl, lf_now_ms());
	struct rl_gateway *gw;
	size_t connected = 0;
	for (size_t i = 0; (gw = lf_u64map_next(&rl->gateways, &i, NULL)) != NULL;) {
		connected +=
		        gw->stream != NULL && rl_stream_state(gw->stream) == RL_STREAM_CONNECTED;
	}
	lf_metric_set(rl->m_connected, (int64_t)connected);
	cJSON *snap = lf_metrics_snapshot_json(rl->metrics);
	char *text = snap != NULL ? lf_json_print(snap) : NULL;
	cJSON_Delete(snap);
	if (text != NULL) {
		char topic[160];
		snprintf(topic, sizeof(topic), "lorafleet/routerlink/%s/metrics", rl->instance);
		lf_mqtt_publish(rl->mqtt, topic, text, strlen(text), 0, true);
	}
	free(text);
	return rl->cfg->metrics_interval;
}

static void
on_signal(struct lf_loop *loop, int signo, void *arg)
{
	LOG_INFO("%s: shutting down", strsignal(signo));
	lf_loop_stop(loop);
}

static void
register_metrics(struct routerlink *rl)
{
	rl->m_uplinks_in = routerlink_counter(rl, "uplinks_received_total",
	                                      "Messages received on up", NULL, NULL);
	rl->m_uplinks_sent = routerlink_counter(rl, "uplinks_sent_total",
	                                        "Signed uplinks written to the router", NULL, NULL);
	rl->m_downlinks =
	        routerlink_counter(rl, "downlinks_total", "Downlinks from the router", NULL, NULL);
	rl->m_rx2 = routerlink_counter(rl, "downlinks_rx2_total",
	                               "rx2 windows sent after TOO_EARLY or TOO_LATE", NULL, NULL);
	rl->m_attempts = routerlink_counter(rl, "router_connect_attempts_total",
	                                    "Streams opened to the router", NULL, NULL);
	static const char *const recycle_help =
	        "Streams recycled before the router's 35-minute kill, by how the old one ended";
	rl->m_recycled_graceful = routerlink_counter(rl, "router_stream_recycles_total",
	                                             recycle_help, "end", "graceful");
	rl->m_recycled_timeout = routerlink_counter(rl, "router_stream_recycles_total",
	                                            recycle_help, "end", "timeout");
	rl->m_keys_created =
	        routerlink_counter(rl, "keys_created_total", "Hotspot keys made", NULL, NULL);
	rl->m_gateways = lf_metrics_gauge(rl->metrics, "gateways", "Gateways with a Hotspot");
	rl->m_connected = lf_metrics_gauge(rl->metrics, "gateways_connected",
	                                   "Gateways whose router stream is connected");
	rl->m_disabled = lf_metrics_gauge(rl->metrics, "gateways_disabled",
	                                  "Gateways without a usable key (retried)");
}

static int
start_mqtt(struct routerlink *rl)
{
	char client_id[128], *will = self_state_json(rl, false), *birth = self_state_json(rl, true);
	snprintf(client_id, sizeof(client_id), "lorafleet-routerlink-%s", rl->instance);
	snprintf(rl->self_topic, sizeof(rl->self_topic), "lorafleet/routerlink/%s/state",
	         rl->instance);
	struct lf_mqtt_options opts = {
	        .cfg = &rl->settings->mqtt,
	        .client_id = client_id,
	        .protocol_version = MQTT_PROTOCOL_V5,
	        /* The broker keeps our QoS 1 messages while we are down. */
	        .persistent_session = true,
	        .will_topic = rl->self_topic,
	        .will_payload = will,
	        .birth_topic = rl->self_topic,
	        .birth_payload = birth,
	        .on_message = on_mqtt_message,
	        .on_state = on_mqtt_state,
	        .arg = rl,
	        .metrics = rl->metrics,
	};
	rl->mqtt = will != NULL && birth != NULL ? lf_mqtt_new(rl->loop, &opts) : NULL;
	free(will);
	free(birth);
	if (rl->mqtt == NULL) {
		return -1;
	}
	static const char *const leaves[] = {"up", "state", "ack"};
	for (size_t i = 0; i < LF_ARRAY_SIZE(leaves); i++) {
		char topic[256];
		lf_mqtt_topic(topic, sizeof(topic), rl->prefix, "+", leaves[i]);
		if (lf_mqtt_subscribe(rl->mqtt, topic, rl->qos) != 0) {
			return -1;
		}
	}
	if (lf_mqtt_subscribe(rl->mqtt, RPC_TOPIC_PREFIX "+", 1) != 0) {
		return -1;
	}
	return lf_mqtt_start(rl->mqtt);
}

static int
start_router(struct routerlink *rl)
{
	struct rl_grpc_options gopts = {.uri = rl->cfg->router_uri,
	                                .channels = (int)rl->cfg->channels,
	                                .keepalive_ms = rl->cfg->keepalive};
	rl->grpc = rl_grpc_new(rl->loop, &gopts);
	if (rl->grpc == NULL) {
		return -1;
	}
	struct rl_stream_config scfg = {.region = rl->region,
	                                .queue_size = (size_t)rl->cfg->queue_size,
	                                .queue_max_age_ms = rl->cfg->queue_max_age,
	                                .backoff_min_ms = rl->cfg->backoff_min,
	                                .backoff_max_ms = rl->cfg->backoff_max,
	                                .backoff_reset_ms = rl->cfg->backoff_reset,
	                                .recycle_ms = rl->cfg->stream_recycle,
	                                .connect_timeout_ms = 60000,
	                                /* A router ends a stream we ended in
	                                 * a round trip; meanwhile uplinks wait. */
	                                .recycle_timeout_ms = 5000};
	struct rl_stream_hooks hooks = {.on_state = on_stream_state,
	                                .on_downlink = on_stream_downlink,
	                                .on_sent = on_stream_sent,
	                                .on_drop = on_stream_drop,
	                                .on_attempt = on_stream_attempt,
	                                .on_recycled = on_stream_recycled};
	rl->streams = rl_streams_new(rl->loop, rl->grpc, &scfg, &hooks, rl);
	return rl->streams != NULL ? 0 : -1;
}

struct routerlink *
routerlink_new(const struct routerlink_settings *settings)
{
	struct routerlink *rl = calloc(1, sizeof(*rl));
	if (rl == NULL) {
		return NULL;
	}
	rl->settings = settings;
	rl->cfg = &settings->routerlink;
	rl->prefix = settings->mqtt.topic_prefix;
	rl->qos = (int)settings->mqtt.qos;
	lf_u64map_init(&rl->gateways);
	if (rl->cfg->instance[0] != '\0') {
		lf_strlcpy(rl->instance, rl->cfg->instance, sizeof(rl->instance));
	} else {
		lf_hostname(rl->instance, sizeof(rl->instance));
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	lf_format_rfc3339(&now, rl->started_at);
	char err[512];
	if (region_parse(rl->cfg->region, &rl->region) != 0) {
		LOG_ERROR("[routerlink] region %s: not a helium.region name", rl->cfg->region);
		free(rl);
		return NULL;
	}
	rl->powe = region_tx_power(rl->region, (int)rl->cfg->tx_power);
	rl->rpc_log = (struct lf_ratelimit)LF_RATELIMIT_INIT(60000, 5);
	if (shard_parse(rl->cfg->shard, &rl->shard, err, sizeof(err)) != 0) {
		LOG_ERROR("[routerlink] shard %s: %s", rl->cfg->shard, err); /* checked at load */
		free(rl);
		return NULL;
	}
	if (keys_dir_prepare(rl->cfg->keys_dir, err, sizeof(err)) != 0) {
		LOG_ERROR("keys_dir: %s", err);
		free(rl);
		return NULL;
	}
	static const int signals[] = {SIGINT, SIGTERM};
	rl->loop = lf_loop_new();
	rl->metrics = lf_metrics_new();
	if (rl->loop == NULL || rl->metrics == NULL ||
	    lf_loop_signals(rl->loop, signals, 2, on_signal, rl) != 0) {
		routerlink_free(rl);
		return NULL;
	}
	register_metrics(rl);
	if (start_router(rl) != 0 || start_mqtt(rl) != 0) {
		routerlink_free(rl);
		return NULL;
	}
	lf_loop_timer_add(rl->loop, rl->cfg->metrics_interval, housekeeping, rl);
	lf_loop_timer_add(rl->loop, HOTSPOT_SLICE_MS, refresh_hotspots, rl);
	lf_loop_timer_add(rl->loop, KEY_RETRY_MS, retry_keys, rl);
	/* Every Hotspot already on disk reconnects at once, before its
	 * gateway's first uplink. */
	if (keys_foreach(rl->cfg->keys_dir, gateway_from_disk, rl, err, sizeof(err)) != 0) {
		LOG_WARN("keys_dir: %s", err);
	}
	LOG_INFO("routerlink %s started (lorafleet %s): region %s, router %s, %zu gateway(s)",
	         rl->instance, LF_VERSION, region_name(rl->region), rl->cfg->router_uri,
	         rl->gateways.count);
	return rl;
}

int
routerlink_run(struct routerlink *rl)
{
	lf_loop_run(rl->loop);
	struct rl_gateway *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&rl->gateways, &i, NULL)) != NULL;) {
		publish_hotspot(rl, gw);
	}
	char *text = self_state_json(rl, false);
	if (text != NULL) {
		lf_mqtt_publish(rl->mqtt, rl->self_topic, text, strlen(text), 1, true);
	}
	free(text);
	size_t left = lf_mqtt_close(rl->mqtt, 5000);
	LOG_INFO("routerlink %s stopped", rl->instance);
	return left > 0 ? 1 : 0;
}

void
routerlink_free(struct routerlink *rl)
{
	if (rl == NULL) {
		return;
	}
	lf_mqtt_free(rl->mqtt);
	rl_streams_free(rl->streams);
	/* rl_grpc_free() runs the loop until the released calls are done, and
	 * with it our timers: they must not reach the freed streams and MQTT
	 * client (a use-after-free when shutting down with streams still
	 * closing, found by it_fault_router). NULL streams tell them to stop. */
	rl->mqtt = NULL;
	rl->streams = NULL;
	rl_grpc_free(rl->grpc);
	struct rl_gateway *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&rl->gateways, &i, NULL)) != NULL;) {
		free(gw->ring);
		free(gw->key_error);
		free(gw);
	}
	lf_u64map_clear(&rl->gateways);
	while (rl->pending != NULL) {
		struct pending_down *p = rl->pending;
		rl->pending = p->next;
		free(p);
	}
	lf_metrics_free(rl->metrics);
	lf_loop_free(rl->loop);
	free(rl);
}
