/*
 * Downlinks: a `down` message becomes a PULL_RESP to the gateway's latest
 * PULL_DATA address; its outcome always becomes exactly one `ack`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bridge_internal.h"
#include "downlink.h"
#include "gwmp.h"
#include "lf/mqtt.h"

void
bridge_publish_ack(struct bridge *b, const char *mac, const char *id_json, const char *error,
                   const char *detail, const char *txpk_ack_json)
{
	char *text = ack_build(mac, id_json, error, detail, txpk_ack_json);
	char topic[256];
	if (text != NULL && lf_mqtt_topic(topic, sizeof(topic), b->prefix, mac, "ack") == 0) {
		lf_mqtt_publish(b->mqtt, topic, text, strlen(text), b->qos, false);
		lf_metric_inc(bridge_counter(b, "downlink_acks_total",
		                             "Acks published on <prefix>/<mac>/ack, by error",
		                             "error", error));
	}
	free(text);
}

/* Extracts <mac> from "<prefix>/<mac>/<leaf>". */
int
bridge_mac_from_topic(const struct bridge *b, const char *topic, const char *leaf, uint64_t *eui)
{
	size_t plen = strlen(b->prefix);
	if (strncmp(topic, b->prefix, plen) != 0 || topic[plen] != '/') {
		return -1;
	}
	const char *mac = topic + plen + 1;
	const char *slash = strchr(mac, '/');
	if (slash == NULL || slash[1] == '\0' || strcmp(slash + 1, leaf) != 0 || slash - mac > 64) {
		return -1;
	}
	char text[65];
	memcpy(text, mac, (size_t)(slash - mac));
	text[slash - mac] = '\0';
	return lf_eui_parse(text, eui);
}

static bool
token_in_use(const struct bridge *b, uint64_t eui, const uint8_t token[2])
{
	for (const struct pending_downlink *p = b->pending_head; p != NULL; p = p->next) {
		if (p->eui == eui && memcmp(p->token, token, 2) == 0) {
			return true;
		}
	}
	return false;
}

static void
add_pending(struct bridge *b, struct gateway *gw, const uint8_t token[2], const char *id_json)
{
	size_t idlen = strlen(id_json) + 1;
	struct pending_downlink *p = malloc(sizeof(*p) + idlen);
	if (p == NULL) {
		bridge_publish_ack(b, gw->mac, id_json, ACK_TIMEOUT,
		                   "out of memory: the TX_ACK cannot be tracked", NULL);
		return;
	}
	p->next = NULL;
	p->eui = gw->eui;
	memcpy(p->token, token, 2);
	p->deadline_ms = lf_now_ms() + b->cfg->tx_ack_timeout;
	memcpy(p->id_json, id_json, idlen);
	if (b->pending_tail != NULL) {
		b->pending_tail->next = p;
	} else {
		b->pending_head = p;
	}
	b->pending_tail = p;
	gw->n_pending++;
}

/* Sends the PULL_RESP; returns 0 or -1 (send failed, already acked). */
static int
send_pull_resp(struct bridge *b, struct gateway *gw, const struct downlink_request *req,
               uint8_t token[2])
{
	uint8_t datagram[GWMP_ACK_LEN + DOWNLINK_MAX_PAYLOAD + 64];
	if (gw->version >= 2) {
		/* A token unique among this gateway's pending downlinks, so each
		 * TX_ACK finds its own request. */
		do {
			randombytes_buf(token, 2);
		} while (token_in_use(b, gw->eui, token));
	} else {
		token[0] = token[1] = 0;
	}
	size_t n = gwmp_build_pull_resp(datagram, sizeof(datagram), gw->version, token,
	                                req->pull_resp_json, req->pull_resp_len);
	if (n == 0) {
		bridge_publish_ack(b, gw->mac, req->id_json, ACK_MALFORMED,
		                   "txpk too large for a PULL_RESP", NULL);
		return -1;
	}
	if (bridge_send(b, datagram, n, (const struct sockaddr *)&gw->pull_addr,
	                gw->pull_addr_len) != 0) {
		bridge_publish_ack(b, gw->mac, req->id_json, ACK_SEND_FAILED,
		                   "sending the PULL_RESP failed", NULL);
		return -1;
	}
	lf_metric_inc(b->m.tx_pull_resp);
	lf_metric_inc(b->m.downlinks_sent);
	return 0;
}

static void
refuse_down(struct bridge *b, const char *reason, const char *topic, const char *detail)
{
	lf_metric_inc(
	        bridge_counter(b, "down_invalid_total",
	                       "Downlink requests refused before reaching a gateway, by reason",
	                       "reason", reason));
	LOG_RATELIMITED(&b->rl.bad_down, LF_LOG_WARN, "down on %.*s refused: %s", 200, topic,
	                detail);
}

/*
 * Several bridges may share the broker, and every one of them receives
 * every `down`; exactly one answers. The bridge that has the gateway
 * online does; when none has, the fleet's responder does (the live bridge
 * with the smallest instance name). Returns false when another bridge
 * answers this request.
 */
static bool
this_bridge_answers(struct bridge *b, const struct gateway *gw, uint64_t eui, const char *mac)
{
	const char *reason = NULL;
	if (gw != NULL && gw->online) {
		return true;
	}
	if (bridge_served_elsewhere(b, eui)) {
		reason = "other_bridge";
	} else if (!bridge_answers_for_the_fleet(b)) {
		reason = "not_responder";
	} else {
		return true;
	}
	lf_metric_inc(bridge_counter(b, "down_ignored_total",
	                             "Downlink requests another bridge on the broker answers",
	                             "reason", reason));
	LOG_DEBUG("down for %s left to another bridge (%s)", mac, reason);
	return false;
}

/* A down for a gateway this bridge does not have online. */
static void
refuse_offline(struct bridge *b, const struct gateway *gw, uint64_t eui, const char *mac,
               const char *id_json)
{
	if (gw != NULL && !gw->has_pull_addr) {
		bridge_publish_ack(b, mac, id_json, ACK_GATEWAY_OFFLINE,
		                   "the gateway has never sent PULL_DATA: no downlink address",
		                   NULL);
	} else if (gw != NULL || bridge_known_elsewhere(b, eui)) {
		bridge_publish_ack(b, mac, id_json, ACK_GATEWAY_OFFLINE,
		                   "no PULL_DATA from the gateway within gateway_timeout", NULL);
	} else {
		bridge_publish_ack(b, mac, id_json, ACK_UNKNOWN_GATEWAY,
		                   "no bridge on this broker has heard from the gateway", NULL);
	}
}

void
bridge_handle_down(struct bridge *b, const char *topic, const void *payload, size_t len)
{
	lf_metric_inc(b->m.downlinks_received);
	uint64_t eui;
	if (bridge_mac_from_topic(b, topic, "down", &eui) != 0) {
		/* Nowhere to ack: the topic names no gateway. */
		refuse_down(b, "bad_topic", topic, "the topic's MAC is not a 64-bit EUI");
		return;
	}
	char mac[LF_EUI_STRLEN];
	lf_eui_format(eui, mac);
	struct gateway *gw = gateway_table_find(&b->gateways, eui);
	if (!this_bridge_answers(b, gw, eui, mac)) {
		return;
	}
	struct downlink_request req = {0};
	char err[256];
	if (downlink_parse(payload, len, &req, err, sizeof(err)) != 0) {
		refuse_down(b, "malformed", topic, err);
		bridge_publish_ack(b, mac, req.id_json[0] ? req.id_json : "null", ACK_MALFORMED,
		                   err, NULL);
	} else if (gw == NULL || !gw->online || !gw->has_pull_addr) {
		refuse_offline(b, gw, eui, mac, req.id_json);
	} else if (gw->n_pending >= MAX_PENDING_PER_GATEWAY) {
		bridge_publish_ack(b, mac, req.id_json, ACK_QUEUE_FULL,
		                   "too many downlinks awaiting their TX_ACK", NULL);
	} else {
		uint8_t token[2];
		if (send_pull_resp(b, gw, &req, token) == 0) {
			LOG_DEBUG("gateway %s: PULL_RESP sent, token %02x%02x, id %s", mac,
			          token[0], token[1], req.id_json);
			if (gw->version >= 2) {
				add_pending(b, gw, token, req.id_json);
			} else {
				bridge_publish_ack(b, mac, req.id_json, ACK_UNCONFIRMED,
				                   "protocol 1 gateway: sent, but v1 has no TX_ACK",
				                   NULL);
			}
		}
	}
	downlink_request_clear(&req);
}

static void
unlink_pending(struct bridge *b, struct pending_downlink *prev, struct pending_downlink *p)
{
	if (prev != NULL) {
		prev->next = p->next;
	} else {
		b->pending_head = p->next;
	}
	if (b->pending_tail == p) {
		b->pending_tail = prev;
	}
	struct gateway *gw = gateway_table_find(&b->gateways, p->eui);
	if (gw != NULL && gw->n_pending > 0) {
		gw->n_pending--;
	}
}

bool
bridge_handle_tx_ack(struct bridge *b, struct gateway *gw, const uint8_t token[2],
                     const uint8_t *body, size_t body_len)
{
	struct pending_downlink *prev = NULL, *p = b->pending_head;
	while (p != NULL && !(p->eui == gw->eui && memcmp(p->token, token, 2) == 0)) {
		prev = p;
		p = p->next;
	}
	if (p == NULL) {
		return false;
	}
	unlink_pending(b, prev, p);
	char error[40], err[200];
	char *txpk_ack = NULL;
	if (txack_parse((const char *)body, body_len, error, sizeof(error), &txpk_ack, err,
	                sizeof(err)) != 0) {
		LOG_RATELIMITED(&b->rl.tx_ack, LF_LOG_WARN, "gateway %s: unreadable TX_ACK: %s",
		                gw->mac, err);
		bridge_publish_ack(b, gw->mac, p->id_json, ACK_INVALID_TX_ACK, err, NULL);
	} else {
		bridge_publish_ack(b, gw->mac, p->id_json, error, NULL, txpk_ack);
	}
	free(txpk_ack);
	free(p);
	return true;
}

void
bridge_expire_downlinks(struct bridge *b, int64_t now_ms, bool all)
{
	while (b->pending_head != NULL && (all || b->pending_head->deadline_ms <= now_ms)) {
		struct pending_downlink *p = b->pending_head;
		unlink_pending(b, NULL, p);
		char mac[LF_EUI_STRLEN];
		lf_eui_format(p->eui, mac);
		bridge_publish_ack(b, mac, p->id_json, ACK_TIMEOUT,
		                   all ? "the bridge shut down before the TX_ACK arrived"
		                       : "no TX_ACK from the gateway within tx_ack_timeout",
		                   NULL);
		free(p);
	}
}
