#include "model.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lf/json.h"
#include "lf/util.h"

int
model_init(struct apigw_model *m, const char *prefix, size_t ring_cap, uint64_t first_id,
           struct lf_metrics *metrics)
{
	memset(m, 0, sizeof(*m));
	lf_strlcpy(m->prefix, prefix, sizeof(m->prefix));
	fleet_init(&m->fleet);
	prom_store_init(&m->prom);
	m->metrics = metrics;
	m->m_events = lf_metrics_counter(metrics, "sse_events_total", "Events put in the SSE ring");
	m->m_messages = lf_metrics_counter(metrics, "broker_messages_total",
	                                   "Messages received from the broker");
	m->rl_bad = (struct lf_ratelimit)LF_RATELIMIT_INIT(10000, 10);
	return sse_ring_init(&m->ring, ring_cap, first_id);
}

void
model_free(struct apigw_model *m)
{
	fleet_free(&m->fleet);
	sse_ring_free(&m->ring);
	prom_store_free(&m->prom);
}

static void
bad_input(struct apigw_model *m, const char *kind, const char *topic, const char *why)
{
	lf_metric_inc(lf_metrics_get(m->metrics, LF_METRIC_COUNTER, "broker_messages_invalid_total",
	                             "Broker messages apigw could not use, by kind", "kind", kind));
	LOG_RATELIMITED(&m->rl_bad, LF_LOG_WARN, "%.200s: ignored: %s", topic, why);
}

void
model_event(struct apigw_model *m, const char *type, cJSON *data, bool has_eui, uint64_t eui)
{
	if (data == NULL) {
		return;
	}
	char *text = lf_json_print(data);
	cJSON_Delete(data);
	if (text != NULL && sse_ring_push(&m->ring, type, text, has_eui, eui) != 0) {
		lf_metric_inc(m->m_events);
	}
	free(text);
}

/* The common members; "type" first, as multi-gateway's tagged payloads. */
static cJSON *
gateway_event(const char *type, const struct fleet_gw *gw, uint64_t eui)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	char mac[LF_EUI_STRLEN];
	lf_eui_format(eui, mac);
	cJSON_AddStringToObject(o, "mac", mac);
	if (gw != NULL && gw->region[0] != '\0') {
		cJSON_AddStringToObject(o, "region", gw->region);
	} else {
		cJSON_AddNullToObject(o, "region");
	}
	return o;
}

static void
handle_state(struct apigw_model *m, uint64_t eui, const char *topic, const char *payload,
             size_t len, bool retained)
{
	struct fleet_change ch;
	char err[200];
	if (fleet_apply_state(&m->fleet, eui, payload, len, &ch, err, sizeof(err)) != 0) {
		bad_input(m, "state", topic, err);
		return;
	}
	if (retained || !ch.online_changed) {
		return;
	}
	const struct fleet_gw *gw = fleet_get(&m->fleet, eui);
	const char *type = ch.online ? "gateway_online" : "gateway_offline";
	cJSON *o = gateway_event(type, gw, eui);
	const char *addr = gw != NULL ? gw->addr : "", *bridge = gw != NULL ? gw->bridge : "";
	cJSON_AddItemToObject(o, "addr",
	                      addr[0] != '\0' ? cJSON_CreateString(addr) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "bridge",
	                      bridge[0] != '\0' ? cJSON_CreateString(bridge) : cJSON_CreateNull());
	model_event(m, type, o, true, eui);
}

static void
handle_hotspot(struct apigw_model *m, uint64_t eui, const char *topic, const char *payload,
               size_t len, bool retained)
{
	struct fleet_change ch;
	char err[200];
	if (fleet_apply_hotspot(&m->fleet, eui, payload, len, &ch, err, sizeof(err)) != 0) {
		bad_input(m, "hotspot", topic, err);
		return;
	}
	if (retained || !ch.router_changed) {
		return;
	}
	const struct fleet_gw *gw = fleet_get(&m->fleet, eui);
	const char *now = gw != NULL && gw->has_hotspot ? gw->router : "";
	const char *type = strcmp(now, "connected") == 0                ? "gateway_connect"
	                   : strcmp(ch.router_before, "connected") == 0 ? "gateway_disconnect"
	                                                                : "hotspot";
	cJSON *o = gateway_event(type, gw, eui);
	if (gw != NULL && gw->public_key[0] != '\0') {
		cJSON_AddStringToObject(o, "public_key", gw->public_key);
	}
	cJSON_AddStringToObject(o, "router", now[0] != '\0' ? now : "unknown");
	if (ch.router_before[0] != '\0') {
		cJSON_AddStringToObject(o, "previous", ch.router_before);
	} else {
		cJSON_AddNullToObject(o, "previous");
	}
	model_event(m, type, o, true, eui);
}

const char *
model_frame_type(const char *data_b64)
{
	static const char *const names[] = {"JoinRequest",     "JoinAccept",  "UnconfirmedUp",
	                                    "UnconfirmedDown", "ConfirmedUp", "ConfirmedDown",
	                                    "RejoinRequest",   "Proprietary"};
	uint8_t frame[256];
	long n = data_b64 != NULL
	                 ? lf_base64_decode(data_b64, strlen(data_b64), frame, sizeof(frame))
	                 : -1;
	return n >= 1 ? names[frame[0] >> 5] : "Unknown";
}

/* A number member copied into out under another name, when present. */
static void
copy_number(cJSON *out, const char *to, const cJSON *in, const char *from)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, from);
	if (cJSON_IsNumber(v)) {
		cJSON_AddNumberToObject(out, to, v->valuedouble);
	}
}

/* multi-gateway's PacketMetadata from a Semtech rxpk or txpk. */
static cJSON *
packet_metadata(const cJSON *pk, int64_t timestamp_ms, bool uplink)
{
	cJSON *md = cJSON_CreateObject();
	const cJSON *rsig = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pk, "rsig"), 0);
	if (!uplink) {
		cJSON_AddNumberToObject(md, "rssi", 0);
		cJSON_AddNumberToObject(md, "snr", 0);
	} else {
		/* Multi-antenna (v2) forwarders put them in rsig[]. */
		copy_number(md, "rssi", cJSON_HasObjectItem(pk, "rssi") ? pk : rsig,
		            cJSON_HasObjectItem(pk, "rssi") ? "rssi" : "rssic");
		copy_number(md, "snr", cJSON_HasObjectItem(pk, "lsnr") ? pk : rsig, "lsnr");
	}
	copy_number(md, "frequency", pk, "freq");
	const cJSON *datr = cJSON_GetObjectItemCaseSensitive(pk, "datr");
	if (cJSON_IsString(datr)) {
		cJSON_AddStringToObject(md, "spreading_factor", datr->valuestring);
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(pk, "data");
	const char *b64 = cJSON_IsString(data) ? data->valuestring : NULL;
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pk, "size"))) {
		copy_number(md, "payload_size", pk, "size");
	} else if (b64 != NULL) {
		uint8_t buf[256];
		long n = lf_base64_decode(b64, strlen(b64), buf, sizeof(buf));
		cJSON_AddNumberToObject(md, "payload_size", n > 0 ? (double)n : 0);
	}
	cJSON_AddNumberToObject(md, "timestamp", (double)timestamp_ms);
	cJSON_AddStringToObject(md, "frame_type", model_frame_type(b64));
	copy_number(md, "tmst", pk, "tmst");
	return md;
}

static cJSON *
parse_object(const char *payload, size_t len)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static void
handle_up(struct apigw_model *m, uint64_t eui, const char *topic, const char *payload, size_t len,
          int64_t now_ms)
{
	cJSON *root = parse_object(payload, len);
	const cJSON *rxpk = cJSON_GetObjectItemCaseSensitive(root, "rxpk");
	if (!cJSON_IsObject(rxpk)) {
		cJSON_Delete(root);
		bad_input(m, "up", topic, "not an object with an rxpk object");
		return;
	}
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "received_at");
	int64_t at_ms = now_ms;
	if (cJSON_IsString(at) && fleet_parse_time(at->valuestring, &at_ms) != 0) {
		at_ms = now_ms;
	}
	fleet_note_uplink(&m->fleet, eui, at_ms);
	cJSON *o = gateway_event("uplink", fleet_get(&m->fleet, eui), eui);
	cJSON_AddItemToObject(o, "metadata", packet_metadata(rxpk, at_ms, true));
	cJSON_Delete(root);
	model_event(m, "uplink", o, true, eui);
}

static void
copy_id(cJSON *o, const cJSON *root)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (cJSON_IsString(id) || cJSON_IsNumber(id)) {
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, false));
	} else {
		cJSON_AddNullToObject(o, "id");
	}
}

static void
handle_down(struct apigw_model *m, uint64_t eui, const char *topic, const char *payload, size_t len,
            int64_t now_ms)
{
	cJSON *root = parse_object(payload, len);
	const cJSON *txpk = cJSON_GetObjectItemCaseSensitive(root, "txpk");
	if (!cJSON_IsObject(txpk)) {
		cJSON_Delete(root);
		bad_input(m, "down", topic, "not an object with a txpk object");
		return;
	}
	fleet_note_downlink(&m->fleet, eui);
	cJSON *o = gateway_event("downlink", fleet_get(&m->fleet, eui), eui);
	copy_id(o, root);
	cJSON_AddItemToObject(o, "metadata", packet_metadata(txpk, now_ms, false));
	cJSON_Delete(root);
	model_event(m, "downlink", o, true, eui);
}

static void
handle_ack(struct apigw_model *m, uint64_t eui, const char *topic, const char *payload, size_t len)
{
	cJSON *root = parse_object(payload, len);
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (!cJSON_IsString(error)) {
		cJSON_Delete(root);
		bad_input(m, "ack", topic, "not an object with an error string");
		return;
	}
	cJSON *o = gateway_event("ack", fleet_get(&m->fleet, eui), eui);
	copy_id(o, root);
	cJSON_AddStringToObject(o, "error", error->valuestring);
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
	if (cJSON_IsString(detail)) {
		cJSON_AddStringToObject(o, "detail", detail->valuestring);
	}
	cJSON_Delete(root);
	model_event(m, "ack", o, true, eui);
}

/* Position from a stat report; 0/0 is what GPS-less forwarders send. */
static void
handle_status(struct apigw_model *m, uint64_t eui, const char *payload, size_t len)
{
	cJSON *root = parse_object(payload, len);
	const cJSON *stat = cJSON_GetObjectItemCaseSensitive(root, "stat");
	const cJSON *lat = cJSON_GetObjectItemCaseSensitive(stat, "lati");
	const cJSON *lon = cJSON_GetObjectItemCaseSensitive(stat, "long");
	const cJSON *alt = cJSON_GetObjectItemCaseSensitive(stat, "alti");
	if (cJSON_IsNumber(lat) && cJSON_IsNumber(lon) &&
	    (lat->valuedouble != 0 || lon->valuedouble != 0) && lat->valuedouble >= -90 &&
	    lat->valuedouble <= 90 && lon->valuedouble >= -180 && lon->valuedouble <= 180) {
		bool has_alt = cJSON_IsNumber(alt) && alt->valuedouble > -20000 &&
		               alt->valuedouble < 100000;
		fleet_note_position(&m->fleet, eui, lat->valuedouble, lon->valuedouble, has_alt,
		                    has_alt ? (int64_t)alt->valuedouble : 0);
	}
	cJSON_Delete(root);
}

/* "<prefix>/<mac>/<leaf>" */
static void
handle_gateway_topic(struct apigw_model *m, const char *topic, const char *rest,
                     const char *payload, size_t len, bool retained, int64_t now_ms)
{
	const char *slash = strchr(rest, '/');
	char mac[33];
	uint64_t eui;
	if (slash == NULL || slash - rest >= (long)sizeof(mac) || strchr(slash + 1, '/') != NULL) {
		return;
	}
	memcpy(mac, rest, (size_t)(slash - rest));
	mac[slash - rest] = '\0';
	if (lf_eui_parse(mac, &eui) != 0) {
		bad_input(m, "topic", topic, "the MAC level is not an EUI");
		return;
	}
	const char *leaf = slash + 1;
	if (strcmp(leaf, "state") == 0) {
		handle_state(m, eui, topic, payload, len, retained);
	} else if (strcmp(leaf, "hotspot") == 0) {
		handle_hotspot(m, eui, topic, payload, len, retained);
	} else if (strcmp(leaf, "up") == 0) {
		handle_up(m, eui, topic, payload, len, now_ms);
	} else if (strcmp(leaf, "down") == 0) {
		handle_down(m, eui, topic, payload, len, now_ms);
	} else if (strcmp(leaf, "ack") == 0) {
		handle_ack(m, eui, topic, payload, len);
	} else if (strcmp(leaf, "status") == 0) {
		handle_status(m, eui, payload, len);
	}
}

/* "lorafleet/<service>/<instance>/<leaf>" */
static void
handle_service_topic(struct apigw_model *m, const char *topic, const char *rest,
                     const char *payload, size_t len)
{
	char service[32], instance[64];
	const char *a = strchr(rest, '/');
	const char *b = a != NULL ? strchr(a + 1, '/') : NULL;
	if (b == NULL || strchr(b + 1, '/') != NULL || a - rest >= (long)sizeof(service) ||
	    b - a - 1 >= (long)sizeof(instance)) {
		return;
	}
	memcpy(service, rest, (size_t)(a - rest));
	service[a - rest] = '\0';
	memcpy(instance, a + 1, (size_t)(b - a - 1));
	instance[b - a - 1] = '\0';
	const char *leaf = b + 1;
	char err[200];
	if (strcmp(service, "rpc") == 0) {
		return;
	}
	if (strcmp(leaf, "metrics") == 0 &&
	    prom_store_snapshot(&m->prom, service, instance, payload, len, err, sizeof(err)) != 0) {
		bad_input(m, "metrics", topic, err);
	} else if (strcmp(leaf, "state") == 0 &&
	           prom_store_state(&m->prom, service, instance, payload, len, err, sizeof(err)) !=
	                   0) {
		bad_input(m, "service_state", topic, err);
	}
}

void
model_handle(struct apigw_model *m, const char *topic, const void *payload, size_t len,
             bool retained, int64_t now_ms)
{
	lf_metric_inc(m->m_messages);
	size_t plen = strlen(m->prefix);
	if (strncmp(topic, m->prefix, plen) == 0 && topic[plen] == '/') {
		handle_gateway_topic(m, topic, topic + plen + 1, payload, len, retained, now_ms);
	} else if (strncmp(topic, "lorafleet/", 10) == 0) {
		handle_service_topic(m, topic, topic + 10, payload, len);
	}
}
