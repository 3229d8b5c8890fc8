/*
 * The whole uplink and downlink path: a UDP gateway -> bridge -> MQTT ->
 * routerlink -> gRPC -> the fake Helium router (Node grpc-js), and back:
 * the packet reaches the router signed by the session key with the
 * rxpk's fields; a router downlink reaches the gateway as a PULL_RESP at
 * the right tmst; TOO_LATE on rx1 brings rx2; the Hotspot's key and
 * address survive a routerlink kill -9.
 */
#include "harness.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 15000
#define MAC     "aa555a0000000e01"

static struct th_suite suite = {.name = "rle2e"};
static struct th_router router;
static struct th_daemon routerlink;
static struct th_gateway gw;
static char gw_hex[80];

/* The gateway's uplink: a join request, as a forwarder would send it. */
static const char PUSH[] =
        "{\"rxpk\":[{\"tmst\":3512348611,\"chan\":2,\"rfch\":0,\"freq\":903.900000,\"stat\":1,"
        "\"modu\":\"LORA\",\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"rssi\":-80,\"lsnr\":7.5,"
        "\"size\":23,\"data\":\"AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=\"}]}";

static int
setup(void **state)
{
	*state = &suite;
	if (th_routerlink_setup(state, &router, &routerlink, "it-rl",
	                        "queue_max_age = 20s\nmetrics_interval = 1s\n") != 0) {
		return -1;
	}
	/* First sight: the bridge's state makes routerlink create the key and
	 * register the Hotspot. */
	return th_routerlink_gateway_up(&router, &gw, MAC, suite.bridge.udp_port, gw_hex,
	                                sizeof(gw_hex), WAIT_MS);
}

static void
test_uplink_reaches_the_router_signed(void **state)
{
	struct th_suite *s = *state;
	assert_int_equal(th_gw_push(&gw, PUSH), 0);
	struct th_router_event *e = th_router_wait_event(&router, "packet", gw_hex, WAIT_MS);
	assert_non_null(e);
	cJSON *p = e->root;
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p, "verified")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p, "canonical")));
	assert_string_equal(cJSON_GetObjectItem(p, "signed_by")->valuestring, "session");
	assert_string_equal(cJSON_GetObjectItem(p, "payload")->valuestring,
	                    "AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=");
	assert_true(cJSON_GetObjectItem(p, "timestamp")->valuedouble == 3512348611.0);
	assert_true(cJSON_GetObjectItem(p, "frequency")->valuedouble == 903900000.0);
	assert_true(cJSON_GetObjectItem(p, "rssi")->valuedouble == -80.0);
	assert_string_equal(cJSON_GetObjectItem(p, "datarate")->valuestring, "SF10BW125");
	assert_string_equal(cJSON_GetObjectItem(p, "region")->valuestring, "US915");
	/* Held only for the trip through the broker. */
	assert_true(cJSON_GetObjectItem(p, "hold_time")->valuedouble < 2000);
	th_router_event_free(e);
	(void)s;
}

static void
expect_pull_resp(uint64_t tmst, const char *datr, struct th_pull_resp *r)
{
	assert_int_equal(th_gw_recv_pull_resp(&gw, r, WAIT_MS), 0);
	const cJSON *txpk = cJSON_GetObjectItem(r->root, "txpk");
	assert_non_null(txpk);
	assert_true(cJSON_GetObjectItem(txpk, "tmst")->valuedouble == (double)tmst);
	assert_string_equal(cJSON_GetObjectItem(txpk, "datr")->valuestring, datr);
	assert_true(cJSON_GetObjectItem(txpk, "freq")->valuedouble == 923.3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(txpk, "ipol")));
	assert_string_equal(cJSON_GetObjectItem(txpk, "data")->valuestring, "IAECAwQF");
}

static void
test_downlink_and_rx2_after_too_late(void **state)
{
	char cmd[512], reply[256];
	snprintf(cmd, sizeof(cmd),
	         "{\"cmd\":\"downlink\",\"gateway\":\"%s\",\"payload\":\"IAECAwQF\","
	         "\"rx1\":{\"timestamp\":3517348611,\"frequency\":923300000,"
	         "\"datarate\":\"SF10BW500\",\"immediate\":false},"
	         "\"rx2\":{\"timestamp\":3518348611,\"frequency\":923300000,"
	         "\"datarate\":\"SF12BW500\",\"immediate\":false}}",
	         gw_hex);
	assert_int_equal(th_router_cmd(&router, cmd, reply, sizeof(reply)), 0);
	struct th_pull_resp r;
	expect_pull_resp(3517348611ULL, "SF10BW500", &r);
	/* The gateway is too late for rx1: routerlink sends rx2. */
	const char late[] = "{\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, r.token, TH_TX_ACK, late, strlen(late)), 0);
	th_pull_resp_free(&r);
	expect_pull_resp(3518348611ULL, "SF12BW500", &r);
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, r.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&r);
}

static cJSON *
rpc(struct th_suite *s, const char *method, const char *json, int want_status)
{
	char *reply = th_rpc_request(&s->broker, method, json, WAIT_MS);
	assert_non_null(reply);
	cJSON *r = TH_PARSE(reply);
	free(reply);
	const cJSON *status = cJSON_GetObjectItem(r, "status");
	assert_true(cJSON_IsNumber(status));
	assert_int_equal(status->valueint, want_status);
	if (want_status != 200) {
		assert_true(cJSON_IsString(cJSON_GetObjectItem(r, "error")));
	}
	return r;
}

static void
test_packets_query(void **state)
{
	struct th_suite *s = *state;
	cJSON *r = rpc(s, "packets", "{\"mac\":\"AA:55:5A:00:00:00:0E:01\"}", 200);
	assert_string_equal(cJSON_GetObjectItem(r, "mac")->valuestring, MAC);
	const cJSON *list = cJSON_GetObjectItem(r, "packets");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	const cJSON *up = cJSON_GetArrayItem(list, 0), *down = cJSON_GetArrayItem(list, 1);
	assert_string_equal(cJSON_GetObjectItem(up, "direction")->valuestring, "up");
	assert_string_equal(cJSON_GetObjectItem(up, "frame_type")->valuestring, "JoinRequest");
	assert_string_equal(cJSON_GetObjectItem(up, "spreading_factor")->valuestring, "SF10BW125");
	assert_true(cJSON_GetObjectItem(up, "frequency")->valuedouble == 903.9);
	assert_int_equal(cJSON_GetObjectItem(up, "rssi")->valueint, -80);
	assert_true(cJSON_GetObjectItem(up, "snr")->valuedouble == 7.5);
	assert_int_equal(cJSON_GetObjectItem(up, "payload_size")->valueint, 23);
	assert_string_equal(cJSON_GetObjectItem(down, "direction")->valuestring, "down");
	/* Six bytes are too short for any LoRaWAN frame. */
	assert_string_equal(cJSON_GetObjectItem(down, "frame_type")->valuestring, "Unknown");
	assert_int_equal(cJSON_GetObjectItem(down, "payload_size")->valueint, 6);
	cJSON_Delete(r);
	cJSON_Delete(rpc(s, "packets", "{\"mac\":\"0011223344556677\"}", 404));
	cJSON_Delete(rpc(s, "packets", "{\"mac\":\"zz\"}", 400));
	cJSON_Delete(rpc(s, "packets", "[1,2]", 400));
	cJSON_Delete(rpc(s, "nosuch", "{\"mac\":\"" MAC "\"}", 404));
}

static void
test_sign_with_the_gateway_key(void **state)
{
	struct th_suite *s = *state;
	cJSON *r = rpc(s, "sign", "{\"mac\":\"" MAC "\",\"data\":\"aGVsbG8gaGVsaXVt\"}", 200);
	const char *sig64 = cJSON_GetObjectItem(r, "signature")->valuestring;
	uint8_t sig[64], pk[33];
	assert_int_equal(lf_base64_decode(sig64, strlen(sig64), sig, sizeof(sig)), 64);
	for (int i = 0; i < 33; i++) {
		sscanf(gw_hex + 2 * i, "%2hhx", &pk[i]);
	}
	/* Verified with the Hotspot's public key, as the router knows it. */
	assert_int_equal(
	        crypto_sign_verify_detached(sig, (const uint8_t *)"hello helium", 12, pk + 1), 0);
	cJSON_Delete(r);
	cJSON_Delete(rpc(s, "sign", "{\"mac\":\"" MAC "\",\"data\":\"%%%\"}", 400));
	cJSON_Delete(rpc(s, "sign", "{\"mac\":\"" MAC "\"}", 400));
	cJSON_Delete(rpc(s, "sign", "{\"mac\":\"0011223344556677\",\"data\":\"AA==\"}", 404));
}

/* A request may not steer a reply onto a gateway's topics: routerlink
 * answers only under lorafleet/rpc/ (whatever the broker's ACL allows). */
static void
test_rpc_reply_only_under_lorafleet_rpc(void **state)
{
	struct th_suite *s = *state;
	double before = TH_RL_METRIC(&s->broker, "it-rl", "rpc_requests_total", "result",
	                             "bad_response_topic");
	char *reply = th_rpc_request_to(&s->broker, "packets", "{\"mac\":\"" MAC "\"}",
	                                "lorawan/" MAC "/down", 1500);
	assert_null(reply);
	/* Still answering where it may. */
	reply = th_rpc_request(&s->broker, "packets", "{\"mac\":\"" MAC "\"}", WAIT_MS);
	assert_non_null(reply);
	free(reply);
	TH_RL_EXPECT_METRIC(&s->broker, "it-rl", "rpc_requests_total", "result",
	                    "bad_response_topic", before + 1, WAIT_MS);
}

/* The router goes away: uplinks wait in routerlink's queue; one held past
 * queue_max_age is dropped and counted, the fresh one reaches the
 * restarted router with the time it was held. The stale one is published
 * straight on the up topic with a received_at a minute old, so that
 * nothing here depends on how long the reconnection takes (gRPC's own
 * reconnect backoff alone can be seconds). */
static void
test_router_restart_delivers_held_uplinks(void **state)
{
	struct th_suite *s = *state;
	size_t mark = th_daemon_log_mark(&routerlink);
	assert_int_equal(th_router_kill(&router), 0);
	th_router_discard_events(&router, "packet", NULL);
	/* Once routerlink knows: what a dying call had already written is
	 * beyond recall (the router acknowledges nothing per packet). */
	assert_int_equal(th_daemon_wait_log(&routerlink, mark, "router stream ended", WAIT_MS), 0);
	struct timespec then;
	clock_gettime(CLOCK_REALTIME, &then);
	then.tv_sec -= 60;
	char at[LF_RFC3339_LEN], stale[512];
	lf_format_rfc3339(&then, at);
	snprintf(stale, sizeof(stale),
	         "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":{\"tmst\":1,\"freq\":904.3,"
	         "\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"codr\":\"4/5\","
	         "\"rssi\":-70,\"lsnr\":9.0,\"size\":13,\"data\":\"QAQDAgEAAgABqrvM3Q==\"}}",
	         MAC, at);
	struct th_mqtt *m = th_mqtt_connect(&s->broker, NULL, true, WAIT_MS);
	assert_non_null(m);
	assert_int_equal(th_mqtt_publish_str(m, "lorawan/" MAC "/up", stale), 0);
	th_mqtt_close(m);
	/* A fresh one, a data up this time. */
	const char fresh[] =
	        "{\"rxpk\":[{\"tmst\":3600000000,\"freq\":904.300000,\"stat\":1,\"modu\":\"LORA\","
	        "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-70,\"lsnr\":9.0,\"size\":13,"
	        "\"data\":\"QAQDAgEAAQABqrvM3Q==\"}]}";
	assert_int_equal(th_gw_push(&gw, fresh), 0);
	usleep(300 * 1000);
	assert_int_equal(th_router_restart(&router), 0);
	struct th_router_event *e = th_router_wait_event(&router, "packet", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_string_equal(cJSON_GetObjectItem(e->root, "payload")->valuestring,
	                    "QAQDAgEAAQABqrvM3Q==");
	assert_true(cJSON_GetObjectItem(e->root, "hold_time")->valuedouble >= 300);
	th_router_event_free(e);
	/* Only that one: the stale one never reaches the router. */
	assert_int_equal(th_router_count_events(&router, "packet", gw_hex), 0);
	TH_RL_EXPECT_METRIC(&s->broker, "it-rl", "uplinks_dropped_total", "reason", "stale", 1,
	                    WAIT_MS);
}

static char *
hotspot_key(struct th_suite *s)
{
	struct th_msg *m = th_mqtt_read_retained(&s->broker, "lorawan/" MAC "/hotspot", WAIT_MS);
	assert_non_null(m);
	cJSON *h = TH_PARSE(m->payload);
	const cJSON *pk = cJSON_GetObjectItem(h, "public_key");
	assert_true(cJSON_IsString(pk));
	char *key = strdup(pk->valuestring);
	cJSON_Delete(h);
	th_msg_free(m);
	return key;
}

static void
test_key_survives_kill_9(void **state)
{
	struct th_suite *s = *state;
	char *before = hotspot_key(s);
	assert_true(before[0] == '1'); /* b58check with version 0 */
	assert_int_equal(th_daemon_kill(&routerlink), 0);
	th_router_discard_events(&router, "register", NULL);
	assert_int_equal(th_routerlink_restart(&routerlink), 0);
	/* The key on disk is loaded at start: the same Hotspot registers. */
	struct th_router_event *e = th_router_wait_event(&router, "register", gw_hex, WAIT_MS);
	assert_non_null(e);
	th_router_event_free(e);
	char *after = hotspot_key(s);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static int
teardown(void **state)
{
	th_gw_close(&gw);
	return th_routerlink_teardown(&router, &routerlink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_uplink_reaches_the_router_signed),
	        cmocka_unit_test(test_downlink_and_rx2_after_too_late),
	        cmocka_unit_test(test_packets_query),
	        cmocka_unit_test(test_sign_with_the_gateway_key),
	        cmocka_unit_test(test_rpc_reply_only_under_lorafleet_rpc),
	        cmocka_unit_test(test_router_restart_delivers_held_uplinks),
	        cmocka_unit_test(test_key_survives_kill_9),
	};
	int failed = cmocka_run_group_tests_name("it_routerlink_e2e", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
