/* The routes, once path, method, key and MAC have been checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "lf/json.h"
#include "lf/log.h"
#include "prom.h"

static void
respond_json(struct pss *p, int status, cJSON *obj)
{
	char *body = obj != NULL ? lf_json_print(obj) : NULL;
	cJSON_Delete(obj);
	http_respond(p, status, "application/json", body, body != NULL ? strlen(body) : 0);
}

static void
do_healthz(struct apigw *gw, struct pss *p)
{
	bool up = atomic_load(&gw->mqtt_connected);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", up ? "ok" : "degraded");
	cJSON_AddBoolToObject(o, "mqtt_connected", up);
	cJSON_AddNumberToObject(o, "gateways", (double)gw->model.fleet.map.count);
	cJSON_AddNumberToObject(o, "sse_clients", (double)gw->n_sse);
	cJSON_AddStringToObject(o, "version", LF_VERSION);
	cJSON_AddStringToObject(o, "instance", gw->instance);
	cJSON_AddStringToObject(o, "started_at", gw->started_at);
	/* Without the broker nothing apigw says is current. */
	respond_json(p, up ? 200 : 503, o);
}

static void
do_gateway(struct apigw *gw, struct pss *p)
{
	const struct fleet_gw *g = fleet_get(&gw->model.fleet, p->route.eui);
	if (g == NULL) {
		char text[64];
		snprintf(text, sizeof(text), "Gateway %s not found", p->route.mac);
		http_error(p, 404, text);
		return;
	}
	respond_json(p, 200, fleet_gateway_json(g, lf_wall_ms()));
}

static void
do_metrics(struct apigw *gw, struct pss *p)
{
	struct abuf out;
	abuf_init(&out);
	struct prom_stats stats = {0};
	cJSON *self = lf_metrics_snapshot_json(gw->metrics);
	prom_render(&gw->model.prom, "apigw", gw->instance, self, &gw->model.fleet, &out, &stats);
	cJSON_Delete(self);
	lf_metric_set(gw->m_prom_skipped, (int64_t)stats.skipped);
	size_t len = 0;
	char *text = abuf_take(&out, &len);
	http_respond(p, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Hands the request to the MQTT thread and waits for routerlink. */
static void
start_rpc(struct apigw *gw, struct pss *p, enum rpc_method method, char *json)
{
	if (json == NULL) {
		http_error(p, 500, "out of memory");
		return;
	}
	if (!atomic_load(&gw->mqtt_connected)) {
		free(json);
		p->retry_after = SSE_RETRY_S;
		http_error(p, 503,
		           "the MQTT broker is not reachable, so routerlink cannot be asked");
		return;
	}
	struct xmsg *m = calloc(1, sizeof(*m));
	char topic[64];
	snprintf(topic, sizeof(topic), "%s%s", RPC_TOPIC_PREFIX, rpc_method_name(method));
	if (m == NULL || (m->topic = strdup(topic)) == NULL) {
		free(m);
		free(json);
		http_error(p, 500, "out of memory");
		return;
	}
	uint64_t seq = ++gw->rpc_seq;
	m->payload = json;
	m->len = strlen(json);
	m->rpc = true;
	rpc_corr_encode(gw->rpc_nonce, seq, m->corr);
	m->corr_len = RPC_CORR_LEN;
	/* A request routerlink gets after we gave up is not worth answering. */
	m->expiry_s = (gw->cfg->rpc_timeout + 999) / 1000;
	p->method = method;
	lf_metric_inc(lf_metrics_get(gw->metrics, LF_METRIC_COUNTER, "rpc_requests_total",
	                             "Requests sent to routerlink, by method", "method",
	                             rpc_method_name(method)));
	http_rpc_wait(gw, p, seq);
	apigw_publish(gw, m);
}

static void
do_sign(struct apigw *gw, struct pss *p)
{
	char err[160];
	const char *body = p->req.data != NULL ? p->req.data : "";
	char *json = rpc_sign_request(p->route.mac, body, p->req.len, err, sizeof(err));
	if (json == NULL) {
		http_error(p, 400, err);
		return;
	}
	start_rpc(gw, p, RPC_SIGN, json);
}

static void
do_events(struct apigw *gw, struct pss *p)
{
	uint64_t filter = 0;
	if (p->has_mac_filter && routes_parse_mac(p->mac_filter, &filter) != 0) {
		http_error(p, 400, "mac: " ROUTES_BAD_MAC);
		return;
	}
	if (gw->n_sse >= (size_t)gw->cfg->sse_max_clients) {
		lf_metric_inc(gw->m_sse_refused);
		p->retry_after = SSE_RETRY_S;
		http_error(p, 503, "Too many SSE connections");
		return;
	}
	sse_cursor_start(&p->cursor, &gw->model.ring,
	                 p->has_last_event_id ? p->last_event_id : NULL, p->has_mac_filter, filter);
	http_sse_start(gw, p);
}

void
handlers_request(struct apigw *gw, struct pss *p)
{
	switch (p->route.id) {
	case ROUTE_HEALTHZ:
		do_healthz(gw, p);
		break;
	case ROUTE_GATEWAYS:
		respond_json(p, 200, fleet_list_json(&gw->model.fleet, lf_wall_ms()));
		break;
	case ROUTE_GATEWAY:
		do_gateway(gw, p);
		break;
	case ROUTE_PACKETS:
		start_rpc(gw, p, RPC_PACKETS, rpc_packets_request(p->route.mac));
		break;
	case ROUTE_SIGN:
		do_sign(gw, p);
		break;
	case ROUTE_EVENTS:
		do_events(gw, p);
		break;
	case ROUTE_METRICS:
		do_metrics(gw, p);
		break;
	case ROUTE_NONE:
		http_error(p, 404, "no such route");
		break;
	}
}

void
handlers_body(struct apigw *gw, struct pss *p)
{
	/* Only sign reads its body; other routes ignore one. */
	handlers_request(gw, p);
}
