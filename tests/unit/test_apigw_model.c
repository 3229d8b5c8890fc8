/* apigw's model: broker messages -> fleet changes and SSE events; and the
 * routerlink RPC codec (requests, correlation, replies -> HTTP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lf/metrics.h"
#include "model.h"
#include "rpc.h"

#define MAC   "aa555a0000000101"
#define EUI   0xaa555a0000000101ULL
#define NOW   1795255800000LL
#define FIRST 5000

struct fixture {
	struct lf_metrics *metrics;
	struct apigw_model m;
	struct sse_cursor c;
	struct abuf read;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->metrics = lf_metrics_new();
	assert_int_equal(model_init(&f->m, "lorawan", 64, FIRST, f->metrics), 0);
	sse_cursor_start(&f->c, &f->m.ring, NULL, false, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	model_free(&f->m);
	lf_metrics_free(f->metrics);
	abuf_free(&f->read);
	free(f);
	return 0;
}

static void
feed(struct fixture *f, const char *topic, const char *payload, bool retained)
{
	model_handle(&f->m, topic, payload, strlen(payload), retained, NOW);
}

/* Everything new on the stream since the last call. */
static const char *
events(struct fixture *f)
{
	abuf_reset(&f->read);
	sse_read(&f->c, &f->m.ring, &f->read, 1 << 20);
	return f->read.data != NULL ? f->read.data : "";
}

static void
test_retained_rebuilds_without_events(void **state)
{
	struct fixture *f = *state;
	feed(f, "lorawan/" MAC "/state", "{\"online\":true,\"addr\":\"192.0.2.1:1\"}", true);
	feed(f, "lorawan/" MAC "/hotspot", "{\"router\":\"connected\",\"region\":\"EU868\"}", true);
	assert_string_equal(events(f), "");
	const struct fleet_gw *gw = fleet_get(&f->m.fleet, EUI);
	assert_non_null(gw);
	assert_true(gw->online);
	assert_string_equal(gw->region, "EU868");
}

static void
test_state_and_link_events(void **state)
{
	struct fixture *f = *state;
	feed(f, "lorawan/" MAC "/hotspot", "{\"router\":\"connecting\",\"region\":\"US915\"}",
	     true);
	feed(f, "lorawan/" MAC "/state",
	     "{\"online\":true,\"addr\":\"192.0.2.1:1\",\"bridge\":\"b\"}", false);
	feed(f, "lorawan/" MAC "/state",
	     "{\"online\":true,\"addr\":\"192.0.2.1:2\",\"bridge\":\"b\"}",
	     false); /* new address, still online: no event */
	feed(f, "lorawan/" MAC "/hotspot",
	     "{\"router\":\"connected\",\"region\":\"US915\",\"public_key\":\"13ab\"}", false);
	feed(f, "lorawan/" MAC "/hotspot",
	     "{\"router\":\"connected\",\"region\":\"US915\",\"public_key\":\"13ab\",\"uplinks\":"
	     "3}",
	     false); /* counters only: no event */
	feed(f, "lorawan/" MAC "/hotspot", "{\"router\":\"backoff\",\"region\":\"US915\"}", false);
	feed(f, "lorawan/" MAC "/hotspot", "{\"router\":\"connecting\",\"region\":\"US915\"}",
	     false);
	feed(f, "lorawan/" MAC "/state", "{\"online\":false}", false);
	assert_string_equal(
	        events(f),
	        "id: 5000\nevent: gateway_online\ndata: {\"type\":\"gateway_online\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"addr\":\"192.0.2.1:1\",\"bridge\":\"b\"}\n\n"
	        "id: 5001\nevent: gateway_connect\ndata: "
	        "{\"type\":\"gateway_connect\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"public_key\":\"13ab\",\"router\":\"connected\","
	        "\"previous\":\"connecting\"}\n\n"
	        "id: 5002\nevent: gateway_disconnect\ndata: {\"type\":\"gateway_disconnect\","
	        "\"mac\":\"" MAC "\",\"region\":\"US915\",\"router\":\"backoff\","
	        "\"previous\":\"connected\"}\n\n"
	        "id: 5003\nevent: hotspot\ndata: {\"type\":\"hotspot\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"router\":\"connecting\",\"previous\":\"backoff\"}\n\n"
	        "id: 5004\nevent: gateway_offline\ndata: "
	        "{\"type\":\"gateway_offline\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"addr\":null,\"bridge\":null}\n\n");
}

static void
test_traffic_events(void **state)
{
	struct fixture *f = *state;
	feed(f, "lorawan/" MAC "/hotspot", "{\"router\":\"connected\",\"region\":\"US915\"}", true);
	feed(f, "lorawan/" MAC "/up",
	     "{\"mac\":\"" MAC "\",\"received_at\":\"2026-11-21T10:00:00.123456Z\",\"rxpk\":{"
	     "\"tmst\":3512348611,\"chan\":2,\"freq\":903.9,\"datr\":\"SF10BW125\",\"rssi\":-80,"
	     "\"lsnr\":7.5,\"size\":23,\"data\":\"AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=\"}}",
	     false);
	feed(f, "lorawan/" MAC "/down",
	     "{\"id\":\"rl-1\",\"txpk\":{\"imme\":false,\"tmst\":3517348611,\"freq\":923.3,"
	     "\"datr\":\"SF10BW500\",\"data\":\"IAECAwQF\"}}",
	     false);
	feed(f, "lorawan/" MAC "/ack",
	     "{\"mac\":\"" MAC "\",\"id\":\"rl-1\",\"error\":\"TOO_LATE\"}", false);
	assert_string_equal(
	        events(f),
	        "id: 5000\nevent: uplink\ndata: {\"type\":\"uplink\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"metadata\":{\"rssi\":-80,\"snr\":7.5,\"frequency\":903."
	        "9,"
	        "\"spreading_factor\":\"SF10BW125\",\"payload_size\":23,\"timestamp\":"
	        "1795255200123,"
	        "\"frame_type\":\"JoinRequest\",\"tmst\":3512348611}}\n\n"
	        "id: 5001\nevent: downlink\ndata: {\"type\":\"downlink\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"id\":\"rl-1\",\"metadata\":{\"rssi\":0,\"snr\":0,"
	        "\"frequency\":923.3,\"spreading_factor\":\"SF10BW500\",\"payload_size\":6,"
	        "\"timestamp\":1795255800000,\"frame_type\":\"JoinAccept\",\"tmst\":3517348611}}"
	        "\n\n"
	        "id: 5002\nevent: ack\ndata: {\"type\":\"ack\",\"mac\":\"" MAC
	        "\",\"region\":\"US915\",\"id\":\"rl-1\",\"error\":\"TOO_LATE\"}\n\n");
	const struct fleet_gw *gw = fleet_get(&f->m.fleet, EUI);
	assert_int_equal(fleet_gw_uplinks(gw), 1);
	assert_int_equal(fleet_gw_downlinks(gw), 1);
	assert_int_equal(fleet_gw_last_uplink_ms(gw), 1795255200123LL);
	/* A position from stat; 0/0 (no GPS) is not a position. */
	feed(f, "lorawan/" MAC "/status", "{\"stat\":{\"lati\":0,\"long\":0,\"alti\":0}}", false);
	assert_false(gw->has_position);
	feed(f, "lorawan/" MAC "/status", "{\"stat\":{\"lati\":46.24,\"long\":3.25,\"alti\":145}}",
	     false);
	assert_true(gw->has_position);
	assert_int_equal(gw->altitude, 145);
}

static void
test_bad_input_is_counted(void **state)
{
	struct fixture *f = *state;
	feed(f, "lorawan/" MAC "/state", "{\"online\":", false);
	feed(f, "lorawan/" MAC "/up", "[]", false);
	feed(f, "lorawan/" MAC "/up", "{\"rxpk\":5}", false);
	feed(f, "lorawan/not-a-mac/up", "{}", false);
	feed(f, "lorawan/" MAC "/ack", "{\"id\":1}", false);
	feed(f, "lorafleet/bridge/b1/metrics", "{\"families\":5}", false);
	feed(f, "lorawan/" MAC "/up/extra", "{}", false); /* not ours: ignored */
	assert_string_equal(events(f), "");
	assert_null(fleet_get(&f->m.fleet, EUI));
	cJSON *snap = lf_metrics_snapshot_json(f->metrics);
	char *text = cJSON_PrintUnformatted(snap);
	assert_non_null(strstr(text, "{\"labels\":{\"kind\":\"state\"},\"value\":1}"));
	assert_non_null(strstr(text, "{\"labels\":{\"kind\":\"up\"},\"value\":2}"));
	assert_non_null(strstr(text, "{\"labels\":{\"kind\":\"topic\"},\"value\":1}"));
	assert_non_null(strstr(text, "{\"labels\":{\"kind\":\"ack\"},\"value\":1}"));
	assert_non_null(strstr(text, "{\"labels\":{\"kind\":\"metrics\"},\"value\":1}"));
	cJSON_free(text);
	cJSON_Delete(snap);
}

static void
test_frame_types(void **state)
{
	assert_string_equal(model_frame_type("QAECAw=="), "UnconfirmedUp");
	assert_string_equal(model_frame_type("gAECAw=="), "ConfirmedUp");
	assert_string_equal(model_frame_type("4A=="), "Proprietary");
	assert_string_equal(model_frame_type(""), "Unknown");
	assert_string_equal(model_frame_type("%%%"), "Unknown");
	assert_string_equal(model_frame_type(NULL), "Unknown");
}

static void
test_rpc_correlation(void **state)
{
	uint8_t corr[RPC_CORR_LEN];
	rpc_corr_encode(0x0102030405060708ULL, 42, corr);
	uint64_t seq = 0;
	assert_int_equal(rpc_corr_decode(corr, sizeof(corr), 0x0102030405060708ULL, &seq), 0);
	assert_int_equal(seq, 42);
	/* Another process's request, or garbage: not ours. */
	assert_int_equal(rpc_corr_decode(corr, sizeof(corr), 0x0102030405060709ULL, &seq), -1);
	assert_int_equal(rpc_corr_decode(corr, 8, 0x0102030405060708ULL, &seq), -1);
	assert_int_equal(rpc_corr_decode(NULL, 0, 0x0102030405060708ULL, &seq), -1);
}

static void
expect_sign_error(const char *body, const char *want)
{
	char err[160] = "";
	char *req = rpc_sign_request(MAC, body, strlen(body), err, sizeof(err));
	assert_null(req);
	assert_string_equal(err, want);
}

static void
test_rpc_sign_request(void **state)
{
	char err[160];
	const char *body = "{\"data\":\"aGVsbG8gaGVsaXVt\"}";
	char *req = rpc_sign_request(MAC, body, strlen(body), err, sizeof(err));
	assert_string_equal(req, "{\"mac\":\"" MAC "\",\"data\":\"aGVsbG8gaGVsaXVt\"}");
	free(req);
	expect_sign_error("", "the body is not valid JSON");
	expect_sign_error("{\"data\":", "the body is not valid JSON");
	expect_sign_error("[\"aGk=\"]", "the body must be a JSON object: {\"data\": \"<base64>\"}");
	expect_sign_error("\"aGk=\"", "the body must be a JSON object: {\"data\": \"<base64>\"}");
	expect_sign_error("{}", "data: missing");
	expect_sign_error("{\"data\":5}", "data: expected a string, got number");
	expect_sign_error("{\"data\":\"%%%\"}", "data: not valid base64");
	expect_sign_error("{\"data\":\"aGk===\"}", "data: not valid base64");
	req = rpc_packets_request(MAC);
	assert_string_equal(req, "{\"mac\":\"" MAC "\"}");
	free(req);
}

static void
expect_reply(enum rpc_method method, const char *reply, int status, const char *body)
{
	char *got = NULL;
	assert_int_equal(rpc_reply_http(method, reply, strlen(reply), &got), status);
	assert_string_equal(got, body);
	free(got);
}

static void
test_rpc_replies(void **state)
{
	expect_reply(RPC_PACKETS, "{\"status\":200,\"mac\":\"x\",\"packets\":[{\"rssi\":-80}]}",
	             200, "[{\"rssi\":-80}]");
	expect_reply(RPC_SIGN, "{\"signature\":\"c2ln\",\"status\":200}", 200,
	             "{\"signature\":\"c2ln\"}");
	expect_reply(RPC_SIGN, "{\"status\":404,\"error\":\"gateway x not found\"}", 404,
	             "{\"error\":\"gateway x not found\"}");
	expect_reply(RPC_PACKETS, "{\"status\":400,\"error\":\"bad\"}", 400, "{\"error\":\"bad\"}");
	expect_reply(RPC_SIGN, "{\"status\":500,\"error\":\"signing failed\"}", 500,
	             "{\"error\":\"signing failed\"}");
	expect_reply(RPC_SIGN, "{\"status\":302}", 502,
	             "{\"error\":\"routerlink answered with an unexpected status\"}");
	expect_reply(RPC_SIGN, "{\"status\":200}", 502,
	             "{\"error\":\"routerlink's sign reply has no signature\"}");
	expect_reply(RPC_PACKETS, "{\"status\":200,\"packets\":{}}", 502,
	             "{\"error\":\"routerlink's packets reply has no packets\"}");
	expect_reply(RPC_PACKETS, "garbage", 502,
	             "{\"error\":\"routerlink sent a reply apigw cannot read\"}");
	char text[96];
	rpc_timeout_error(5000, text, sizeof(text));
	assert_string_equal(text, "routerlink did not answer within 5 s");
	rpc_timeout_error(1500, text, sizeof(text));
	assert_string_equal(text, "routerlink did not answer within 1500 ms");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_retained_rebuilds_without_events, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_state_and_link_events, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_traffic_events, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_input_is_counted, setup, teardown),
	        cmocka_unit_test(test_frame_types),
	        cmocka_unit_test(test_rpc_correlation),
	        cmocka_unit_test(test_rpc_sign_request),
	        cmocka_unit_test(test_rpc_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
