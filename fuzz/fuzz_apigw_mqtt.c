/*
 * Broker messages as apigw takes them in (daemon.c -> model_handle):
 * gateway state, hotspot, up, down, ack and status messages, the other
 * daemons' metrics snapshots and states, and routerlink's RPC replies
 * (rpc_reply_http). Everything apigw then serves from them is rendered
 * and checked: GET /gateways and /gateways/{mac} (JSON), /metrics
 * (Prometheus text), /events (the SSE stream).
 *
 * Input: messages separated by "\n--\n"; each is a topic line, then the
 * payload. A topic line starting with "retained " is a retained message.
 * A fresh model per input, so that every finding reproduces alone.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "apigw_checks.h"
#include "fuzz.h"
#include "lf/json.h"
#include "lf/metrics.h"
#include "model.h"
#include "prom.h"
#include "rpc.h"

#define NOW_MS   1795687200000LL /* 2026-11-21T10:00:00Z */
#define RING_CAP 8

static struct lf_metrics *metrics;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	metrics = lf_metrics_new();
	FUZZ_CHECK(metrics != NULL);
	return 0;
}

static void
check_rpc_reply(const char *payload, size_t len)
{
	for (int method = RPC_PACKETS; method <= RPC_SIGN; method++) {
		char *body = NULL;
		int status = rpc_reply_http((enum rpc_method)method, payload, len, &body);
		FUZZ_CHECK(status == 200 || status == 400 || status == 404 || status == 500 ||
		           status == 502);
		FUZZ_CHECK(body != NULL && fuzz_json_parses(body, strlen(body)));
		free(body);
	}
}

static void
check_rendering(struct apigw_model *m)
{
	cJSON *list = fleet_list_json(&m->fleet, NOW_MS);
	char *text = list != NULL ? lf_json_print(list) : NULL;
	FUZZ_CHECK(text != NULL && fuzz_json_is_object(text, strlen(text)));
	free(text);
	cJSON_Delete(list);

	size_t n = 0;
	const struct fleet_gw **gws = fleet_sorted(&m->fleet, &n);
	for (size_t i = 0; i < n; i++) {
		cJSON *one = fleet_gateway_json(gws[i], NOW_MS);
		text = one != NULL ? lf_json_print(one) : NULL;
		FUZZ_CHECK(text != NULL && fuzz_json_is_object(text, strlen(text)));
		free(text);
		cJSON_Delete(one);
	}
	free(gws);

	struct abuf out;
	abuf_init(&out);
	struct prom_stats stats = {0};
	cJSON *self = lf_metrics_snapshot_json(metrics);
	prom_render(&m->prom, "apigw", "fuzz", self, &m->fleet, &out, &stats);
	cJSON_Delete(self);
	FUZZ_CHECK(!out.failed);
	check_prometheus_text(out.data != NULL ? out.data : "", out.len);
	abuf_free(&out);

	/* A client that was there from the start, and one that resumes. */
	struct sse_cursor c;
	sse_cursor_start(&c, &m->ring, "999", false, 0);
	check_sse_stream(&c, &m->ring);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apigw_model m;
	FUZZ_CHECK(model_init(&m, "lorawan", RING_CAP, 1000, metrics) == 0);
	struct fuzz_parts parts;
	fuzz_parts_init(&parts, data, size);
	const uint8_t *part;
	size_t len;
	while (fuzz_parts_next(&parts, &part, &len)) {
		const uint8_t *nl = memchr(part, '\n', len);
		size_t tlen = nl != NULL ? (size_t)(nl - part) : len;
		/* MQTT topics are UTF-8 without NUL; the broker checks that. */
		char *topic = fuzz_strndup(part, tlen);
		if (strlen(topic) != tlen) {
			free(topic);
			continue;
		}
		bool retained = strncmp(topic, "retained ", 9) == 0;
		const char *t = retained ? topic + 9 : topic;
		size_t plen = nl != NULL ? len - tlen - 1 : 0;
		/* An exactly sized copy, so that ASan sees any read past the end. */
		char *payload = plen > 0 ? malloc(plen) : NULL;
		if (plen > 0) {
			FUZZ_CHECK(payload != NULL);
			memcpy(payload, nl + 1, plen);
		}
		model_handle(&m, t, payload, plen, retained, NOW_MS);
		check_rpc_reply(payload, plen);
		free(payload);
		free(topic);
	}
	check_rendering(&m);
	model_free(&m);
	return 0;
}
