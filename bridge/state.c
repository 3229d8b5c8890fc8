/* Retained state (gateways' and the bridge's own), metrics, and liveness. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bridge_internal.h"
#include "lf/json.h"
#include "lf/mqtt.h"

void
bridge_addr_format(const struct sockaddr *sa, socklen_t len, char out[ADDR_STRLEN])
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(in6->sin6_port);
		/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
		} else {
			char v6[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &in6->sin6_addr, v6, sizeof(v6));
			snprintf(host, sizeof(host), "[%.*s]", (int)sizeof(host) - 3, v6);
		}
	}
	snprintf(out, ADDR_STRLEN, "%s:%u", host, port);
}

static void
add_time(cJSON *obj, const char *key, const struct timespec *ts)
{
	char text[LF_RFC3339_LEN];
	lf_format_rfc3339(ts, text);
	cJSON_AddStringToObject(obj, key, text);
}

void
bridge_publish_gateway_state(struct bridge *b, const struct gateway *gw)
{
	cJSON *obj = cJSON_CreateObject();
	if (obj == NULL) {
		return;
	}
	cJSON_AddStringToObject(obj, "mac", gw->mac);
	cJSON_AddBoolToObject(obj, "online", gw->online);
	if (gw->has_pull_addr) {
		char addr[ADDR_STRLEN];
		bridge_addr_format((const struct sockaddr *)&gw->pull_addr, gw->pull_addr_len,
		                   addr);
		cJSON_AddStringToObject(obj, "addr", addr);
	} else {
		cJSON_AddNullToObject(obj, "addr");
	}
	cJSON_AddNumberToObject(obj, "protocol", gw->version);
	cJSON_AddStringToObject(obj, "bridge", b->instance);
	add_time(obj, "since", &gw->since);
	add_time(obj, "last_seen", &gw->last_seen);
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	char topic[256];
	if (text != NULL && lf_mqtt_topic(topic, sizeof(topic), b->prefix, gw->mac, "state") == 0) {
		lf_mqtt_publish(b->mqtt, topic, text, strlen(text), b->qos, true);
	}
	free(text);
}

char *
bridge_self_state_json(const struct bridge *b, bool online)
{
	cJSON *obj = cJSON_CreateObject();
	if (obj == NULL) {
		return NULL;
	}
	cJSON_AddBoolToObject(obj, "online", online);
	cJSON_AddStringToObject(obj, "version", LF_VERSION);
	cJSON_AddStringToObject(obj, "started_at", b->started_at);
	/* Bridges with the same prefix serve one fleet (see downlink_io.c). */
	cJSON_AddStringToObject(obj, "topic_prefix", b->prefix);
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	return text;
}

void
bridge_publish_self_state(struct bridge *b, bool online)
{
	char *text = bridge_self_state_json(b, online);
	if (text != NULL) {
		lf_mqtt_publish(b->mqtt, b->self_topic, text, strlen(text), 1, true);
	}
	free(text);
}

void
bridge_set_online(struct bridge *b, struct gateway *gw, bool online)
{
	if (gw->online == online) {
		return;
	}
	gw->online = online;
	clock_gettime(CLOCK_REALTIME, &gw->since);
	if (online) {
		b->online_count++;
		lf_metric_inc(b->m.connects);
	} else {
		b->online_count--;
		lf_metric_inc(b->m.disconnects);
	}
	lf_metric_set(b->m.gateways_online, (int64_t)b->online_count);
	bridge_publish_gateway_state(b, gw);
}

void
bridge_sweep_gateways(struct bridge *b, int64_t now_ms)
{
	struct gateway *gw;
	for (size_t i = 0; (gw = gateway_table_next(&b->gateways, &i)) != NULL;) {
		if (gw->online && now_ms - gw->last_pull_ms > b->cfg->gateway_timeout) {
			LOG_RATELIMITED(&b->rl.gone, LF_LOG_INFO,
			                "gateway %s offline: no PULL_DATA for %lld ms", gw->mac,
			                (long long)(now_ms - gw->last_pull_ms));
			bridge_set_online(b, gw, false);
		}
	}
}

struct lf_metric *
bridge_counter(struct bridge *b, const char *name, const char *help, const char *label_key,
               const char *label_value)
{
	return lf_metrics_get(b->metrics, LF_METRIC_COUNTER, name, help, label_key, label_value);
}

void
bridge_metrics_init(struct bridge *b)
{
	struct bridge_metrics *m = &b->m;
	const char *rx = "GWMP datagrams received, by type";
	const char *tx = "GWMP datagrams sent, by type";
	m->rx_push = bridge_counter(b, "udp_received_total", rx, "type", "push_data");
	m->rx_pull = bridge_counter(b, "udp_received_total", rx, "type", "pull_data");
	m->rx_tx_ack = bridge_counter(b, "udp_received_total", rx, "type", "tx_ack");
	m->rx_pull_ack = bridge_counter(b, "udp_received_total", rx, "type", "pull_ack");
	m->tx_push_ack = bridge_counter(b, "udp_sent_total", tx, "type", "push_ack");
	m->tx_pull_ack = bridge_counter(b, "udp_sent_total", tx, "type", "pull_ack");
	m->tx_pull_resp = bridge_counter(b, "udp_sent_total", tx, "type", "pull_resp");
	m->send_errors =
	        bridge_counter(b, "udp_send_errors_total", "UDP sends that failed", NULL, NULL);
	m->uplinks = bridge_counter(b, "uplinks_published_total",
	                            "rxpk published on <prefix>/<mac>/up", NULL, NULL);
	m->stats = bridge_counter(b, "stats_published_total",
	                          "stat reports published on <prefix>/<mac>/status", NULL, NULL);
	m->crc_bad_forwarded =
	        bridge_counter(b, "crc_bad_forwarded_total",
	                       "CRC-bad frames published (forward_crc_bad)", NULL, NULL);
	m->gateways_known = lf_metrics_gauge(b->metrics, "gateways_known",
	                                     "Gateways this bridge has heard from");
	m->gateways_online = lf_metrics_gauge(b->metrics, "gateways_online",
	                                      "Gateways online (PULL_DATA within gateway_timeout)");
	m->connects = bridge_counter(b, "gateway_connects_total", "Gateways that went online", NULL,
	                             NULL);
	m->disconnects = bridge_counter(b, "gateway_disconnects_total",
	                                "Gateways that went offline", NULL, NULL);
	m->address_changes =
	        bridge_counter(b, "gateway_address_changes_total",
	                       "Datagrams from a known gateway at a new address", NULL, NULL);
	m->downlinks_received =
	        bridge_counter(b, "downlinks_received_total",
	                       "Messages received on <prefix>/<mac>/down", NULL, NULL);
	m->downlinks_sent = bridge_counter(b, "downlinks_sent_total", "PULL_RESP sent", NULL, NULL);
	m->tx_ack_unmatched = bridge_counter(
	        b, "tx_ack_unmatched_total",
	        "TX_ACK with no pending downlink (unknown or late token)", NULL, NULL);
}

void
bridge_publish_metrics(struct bridge *b)
{
	lf_metric_set(b->m.gateways_known, (int64_t)b->gateways.count);
	cJSON *snap = lf_metrics_snapshot_json(b->metrics);
	char *text = snap != NULL ? lf_json_print(snap) : NULL;
	cJSON_Delete(snap);
	if (text != NULL) {
		char topic[160];
		snprintf(topic, sizeof(topic), "lorafleet/bridge/%s/metrics", b->instance);
		lf_mqtt_publish(b->mqtt, topic, text, strlen(text), 0, true);
	}
	free(text);
}

/* The index of a peer bridge by instance name, added when new; -1 when
 * the table is full or the name is no bridge's. */
static int
peer_index(struct bridge *b, const char *instance)
{
	/* A name too long for the table would be stored cut, never match
	 * itself again and take a new entry each time it is seen, until the
	 * table is full of one name and real peers are ignored (found by
	 * fuzz/fuzz_bridge_mqtt.c). No bridge has one: instance names are
	 * cut to fit, and bridge_handle_peer_state() refuses longer ones. */
	if (strlen(instance) >= sizeof(b->peers[0].instance)) {
		return -1;
	}
	for (size_t i = 0; i < b->n_peers; i++) {
		if (strcmp(b->peers[i].instance, instance) == 0) {
			return (int)i;
		}
	}
	if (b->n_peers == MAX_PEER_BRIDGES) {
		return -1;
	}
	if (b->n_peers % 16 == 0) {
		struct peer_bridge *p = realloc(b->peers, (b->n_peers + 16) * sizeof(*p));
		if (p == NULL) {
			return -1;
		}
		b->peers = p;
	}
	struct peer_bridge *p = &b->peers[b->n_peers];
	lf_strlcpy(p->instance, instance, sizeof(p->instance));
	/* Until its own state says otherwise, a bridge that announces
	 * gateways is taken to be alive. */
	p->online = true;
	return (int)b->n_peers++;
}

/* lorafleet/bridge/<instance>/state: a peer that died (its will) no
 * longer serves the gateways it announced. */
void
bridge_handle_peer_state(struct bridge *b, const char *topic, const void *payload, size_t len)
{
	const char *prefix = "lorafleet/bridge/";
	const char *name = topic + strlen(prefix);
	const char *slash = strchr(name, '/');
	if (strncmp(topic, prefix, strlen(prefix)) != 0 || slash == NULL || slash == name ||
	    (size_t)(slash - name) >= sizeof(b->peers[0].instance)) {
		return;
	}
	char instance[64];
	memcpy(instance, name, (size_t)(slash - name));
	instance[slash - name] = '\0';
	if (strcmp(instance, b->instance) == 0) {
		return;
	}
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	bool online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
	const cJSON *prefix_item = cJSON_GetObjectItemCaseSensitive(root, "topic_prefix");
	bool same_fleet =
	        cJSON_IsString(prefix_item) && strcmp(prefix_item->valuestring, b->prefix) == 0;
	cJSON_Delete(root);
	if (!same_fleet) {
		return; /* another fleet's bridge, or not a bridge state at all */
	}
	int i = peer_index(b, instance);
	if (i >= 0) {
		b->peers[i].online = online;
	}
}

void
bridge_handle_remote_state(struct bridge *b, const char *topic, const void *payload, size_t len)
{
	uint64_t eui;
	if (bridge_mac_from_topic(b, topic, "state", &eui) != 0) {
		return;
	}
	int owner = -1;
	bool online = false;
	if (len > 0) {
		cJSON *root = cJSON_ParseWithLength(payload, len);
		const cJSON *bridge = cJSON_GetObjectItemCaseSensitive(root, "bridge");
		/* Our own states come back to us too: they say nothing new. */
		if (cJSON_IsString(bridge) && strcmp(bridge->valuestring, b->instance) != 0) {
			owner = peer_index(b, bridge->valuestring);
			online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
		}
		cJSON_Delete(root);
	}
	struct gateway *gw = gateway_table_find(&b->elsewhere, eui);
	if (gw == NULL && owner >= 0) {
		gw = gateway_table_add(&b->elsewhere, eui);
	}
	if (gw != NULL) {
		gw->online = owner >= 0 && online;
		gw->owner = owner >= 0 ? (uint16_t)owner : UINT16_MAX;
	}
}

bool
bridge_served_elsewhere(const struct bridge *b, uint64_t eui)
{
	const struct gateway *gw = gateway_table_find(&b->elsewhere, eui);
	return gw != NULL && gw->online && gw->owner < b->n_peers && b->peers[gw->owner].online;
}

bool
bridge_known_elsewhere(const struct bridge *b, uint64_t eui)
{
	const struct gateway *gw = gateway_table_find(&b->elsewhere, eui);
	return gw != NULL && gw->owner < b->n_peers;
}

bool
bridge_answers_for_the_fleet(const struct bridge *b)
{
	for (size_t i = 0; i < b->n_peers; i++) {
		if (b->peers[i].online && strcmp(b->peers[i].instance, b->instance) < 0) {
			return false;
		}
	}
	return true;
}
