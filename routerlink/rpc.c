/*
 * MQTT v5 request/response for apigw (and anyone with broker access):
 *
 *   lorafleet/rpc/routerlink/packets  {"mac":"..."}
 *       -> {"status":200,"mac":..,"packets":[...]} (oldest first)
 *   lorafleet/rpc/routerlink/sign     {"mac":"...","data":"<base64>"}
 *       -> {"status":200,"signature":"<base64 of 64 bytes>"}
 *
 * The reply goes to the request's response topic with its correlation
 * data; errors are {"status":400|404|500,"error":"..."}. Keys never leave
 * routerlink: sign loads the key, signs the raw bytes (ed25519, no
 * pre-hash, as multi-gateway does) and wipes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <mqtt_protocol.h>

#include "daemon_internal.h"
#include "keys.h"
#include "lf/json.h"
#include "lf/log.h"
#include "lf/mqtt.h"

#define SIGN_MAX 65536 /* bytes a sign request may ask for */

struct rpc_reply {
	int status;
	char error[200];
	cJSON *body; /* success: extra members */
	bool silent; /* another shard's gateway: its owner answers */
};

static void __attribute__((format(printf, 3, 4)))
reply_error(struct rpc_reply *r, int status, const char *fmt, ...)
{
	r->status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/*
 * With several instances (shards) every one gets every request: the one
 * that serves the request's gateway answers, and instance 0 answers what
 * names no gateway (a malformed request), so that each request gets
 * exactly one reply.
 */
static bool
answers(const struct routerlink *rl, const cJSON *req)
{
	const cJSON *mac = cJSON_GetObjectItemCaseSensitive(req, "mac");
	uint64_t eui;
	if (cJSON_IsString(mac) && lf_eui_parse(mac->valuestring, &eui) == 0) {
		return shard_owns(&rl->shard, eui);
	}
	return rl->shard.index == 0;
}

/* The request's gateway, or an error reply (400 malformed, 404 unknown). */
static struct rl_gateway *
request_gateway(struct routerlink *rl, const cJSON *req, struct rpc_reply *r)
{
	const char *mac = NULL;
	char err[128];
	uint64_t eui;
	if (lf_json_get_string(req, "mac", &mac, err, sizeof(err)) != 1) {
		reply_error(r, 400, "%s", mac == NULL ? "mac: missing or not a string" : err);
		return NULL;
	}
	if (lf_eui_parse(mac, &eui) != 0) {
		reply_error(r, 400, "mac %.64s: expected 16 hex digits", mac);
		return NULL;
	}
	struct rl_gateway *gw = lf_u64map_get(&rl->gateways, eui);
	if (gw == NULL) {
		reply_error(r, 404, "gateway %.64s not found", mac);
	}
	return gw;
}

static void
do_packets(struct routerlink *rl, const cJSON *req, struct rpc_reply *r)
{
	struct rl_gateway *gw = request_gateway(rl, req, r);
	if (gw == NULL) {
		return;
	}
	char *text = packets_json(rl, gw);
	r->body = text != NULL ? cJSON_Parse(text) : NULL;
	free(text);
	if (r->body == NULL) {
		reply_error(r, 500, "%s", "out of memory");
		return;
	}
	r->status = 200;
}

static void
do_sign(struct routerlink *rl, const cJSON *req, struct rpc_reply *r)
{
	struct rl_gateway *gw = request_gateway(rl, req, r);
	if (gw == NULL) {
		return;
	}
	const char *b64 = NULL;
	char err[256];
	if (lf_json_get_string(req, "data", &b64, err, sizeof(err)) != 1) {
		reply_error(r, 400, "%s", b64 == NULL ? "data: missing or not a string" : err);
		return;
	}
	size_t b64len = strlen(b64);
	uint8_t *data = malloc(b64len / 4 * 3 + 3);
	long n = data != NULL ? lf_base64_decode(b64, b64len, data, b64len / 4 * 3 + 3) : -1;
	if (n < 0 || n > SIGN_MAX) {
		free(data);
		reply_error(r, 400, "%s",
		            n < 0 ? "data: not valid base64" : "data: larger than 64 KiB");
		return;
	}
	struct gateway_key key;
	if (gw->disabled || keys_load(rl->cfg->keys_dir, gw->eui, &key, err, sizeof(err)) != 0) {
		free(data);
		LOG_ERROR("sign for %s: %s", gw->mac, err);
		reply_error(r, 500, "signing failed: the key of %s cannot be read", gw->mac);
		return;
	}
	uint8_t sig[64];
	keys_sign(&key, data, (size_t)n, sig);
	keys_wipe(&key);
	free(data);
	char sig64[100];
	lf_base64_encode(sig, sizeof(sig), sig64, sizeof(sig64));
	r->body = cJSON_CreateObject();
	if (r->body == NULL) {
		reply_error(r, 500, "%s", "out of memory");
		return;
	}
	cJSON_AddStringToObject(r->body, "signature", sig64);
	r->status = 200;
}

/* The reply's JSON text (consumes r->body); NULL when out of memory. */
static char *
reply_text(struct rpc_reply *r)
{
	cJSON *obj = r->body != NULL ? r->body : cJSON_CreateObject();
	r->body = NULL;
	if (obj == NULL) {
		return NULL;
	}
	cJSON_AddNumberToObject(obj, "status", r->status);
	if (r->status != 200) {
		cJSON_AddStringToObject(obj, "error", r->error);
	}
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	return text;
}

char *
rpc_answer(struct routerlink *rl, const char *method, const void *payload, size_t len,
           const char **result)
{
	struct rpc_reply r = {.status = 404};
	cJSON *req = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	if (!answers(rl, req)) {
		r.silent = true;
	} else if (!cJSON_IsObject(req)) {
		reply_error(&r, 400, "%s", "the request is not a JSON object");
	} else if (strcmp(method, "packets") == 0) {
		do_packets(rl, req, &r);
	} else if (strcmp(method, "sign") == 0) {
		do_sign(rl, req, &r);
	} else {
		reply_error(&r, 404, "no method %.40s", method);
	}
	cJSON_Delete(req);
	*result = r.silent ? "other_shard" : r.status == 200 ? "ok" : "error";
	return r.silent ? NULL : reply_text(&r);
}

void
rpc_handle(struct routerlink *rl, const struct mosquitto_message *msg,
           const mosquitto_property *props)
{
	const char *method = msg->topic + strlen(RPC_TOPIC_PREFIX);
	char *response_topic = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response_topic, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	/* Replies go under lorafleet/rpc/ only: a request must not make
	 * routerlink publish on a gateway's topics, whatever the ACL allows. */
	if (response_topic == NULL ||
	    strncmp(response_topic, RPC_REPLY_PREFIX, strlen(RPC_REPLY_PREFIX)) != 0) {
		lf_metric_inc(routerlink_counter(
		        rl, "rpc_requests_total", "RPC requests, by result", "result",
		        response_topic == NULL ? "no_response_topic" : "bad_response_topic"));
		LOG_RATELIMITED(
		        &rl->rpc_log, LF_LOG_WARN, "rpc: %.40s request %s, not answered", method,
		        response_topic == NULL ? "without a response topic"
		                               : "with a response topic outside " RPC_REPLY_PREFIX);
		free(response_topic);
		free(corr);
		return;
	}
	const char *result;
	char *text = rpc_answer(rl, method, msg->payload,
	                        msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, &result);
	lf_metric_inc(routerlink_counter(rl, "rpc_requests_total", "RPC requests, by result",
	                                 "result", result));
	if (text != NULL) {
		mosquitto_property *reply_props = NULL;
		if (corr != NULL) {
			mosquitto_property_add_binary(&reply_props, MQTT_PROP_CORRELATION_DATA,
			                              corr, corr_len);
		}
		lf_mqtt_publish_v5(rl->mqtt, response_topic, text, strlen(text), 1, false,
		                   reply_props);
		mosquitto_property_free_all(&reply_props);
	}
	free(text);
	free(response_topic);
	free(corr);
}
