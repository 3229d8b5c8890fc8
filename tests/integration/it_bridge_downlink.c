/*
 * Downlinks to protocol-2 and protocol-1 gateways: PULL_RESP contents,
 * tokens, every TX_ACK form, timeouts (tx_ack_timeout = 300ms here), ids.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS        5000
#define TX_ACK_TIMEOUT 300

#define MAC_V2   "aa555a00000c0001"
#define MAC_V1   "aa555a00000c0002"
#define MAC_TWO  "aa555a00000c0003"
#define MAC_PYC  "aa555a00000c0004"
#define MAC_MOVE "aa555a00000c0005"
#define MAC_TERM "aa555a00000c0006"

/* Class A RX1 LoRa; no rfch and no size: the bridge fills them in. */
static const char TXPK_LORA[] =
        "{\"imme\":false,\"tmst\":3513348611,\"freq\":869.525,\"powe\":14,\"modu\":\"LORA\","
        "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"ipol\":true,\"prea\":8,"
        "\"data\":\"YIMBAAAAAAAAcU8+\"}";
#define TXPK_LORA_SIZE 12

/* A gateway of this test file that has sent PULL_DATA just now. */
static void
gw_ready(struct th_suite *s, struct th_gateway *gw, const char *mac, uint8_t version)
{
	assert_int_equal(th_gw_open(gw, mac, NULL, s->bridge.udp_port), 0);
	gw->version = version;
	assert_int_equal(th_gw_pull(gw), 0);
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "state");
	th_msg_free(TH_WAIT_MSG(s->obs, topic, WAIT_MS));
}

static void
down(struct th_suite *s, const char *mac, const char *id_json, const char *txpk)
{
	char payload[2048];
	if (id_json != NULL) {
		snprintf(payload, sizeof(payload), "{\"id\":%s,\"txpk\":%s}", id_json, txpk);
	} else {
		snprintf(payload, sizeof(payload), "{\"txpk\":%s}", txpk);
	}
	assert_int_equal(th_publish_down(s->obs, mac, payload), 0);
}

/* Waits for the PULL_RESP and checks it carries txpk as documented. */
static void
expect_pull_resp(struct th_gateway *gw, const char *txpk, struct th_pull_resp *r)
{
	assert_int_equal(th_gw_recv_pull_resp(gw, r, WAIT_MS), 0);
	assert_int_equal(r->version, gw->version);
	cJSON *sent = TH_PARSE(txpk);
	const cJSON *got = cJSON_GetObjectItemCaseSensitive(r->root, "txpk");
	TH_ASSERT_TXPK(sent, got);
	if (cJSON_GetObjectItemCaseSensitive(sent, "rfch") == NULL) {
		TH_ASSERT_NUM(got, "rfch", 0);
	}
	cJSON_Delete(sent);
	/* Only txpk in the body. */
	assert_int_equal(cJSON_GetArraySize(r->root), 1);
}

static void
tx_ack(struct th_gateway *gw, uint16_t token, const char *body, size_t len)
{
	assert_int_equal(th_gw_send(gw, TH_DOWN, 2, token, TH_TX_ACK, body, len), 0);
}

/* The ack's txpk_ack is the gateway's object, verbatim. */
static void
expect_txpk_ack(const struct th_msg *ack, const char *txpk_ack)
{
	TH_ASSERT_MEMBER_TEXT(ack->payload, "txpk_ack", txpk_ack);
}

/* An ack with no txpk_ack (none came from the gateway), and a detail when
 * `detail`; frees it. */
static void
expect_no_txpk_ack(struct th_msg *ack, bool detail)
{
	cJSON *a = TH_PARSE(ack->payload);
	if (detail) {
		TH_ASSERT_NONEMPTY_STR(a, "detail");
	}
	TH_ASSERT_ABSENT(a, "txpk_ack");
	cJSON_Delete(a);
	th_msg_free(ack);
}

/* No other ack for mac within ms: each request gets exactly one. */
static void
expect_no_more_acks(struct th_suite *s, const char *mac, int ms)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "ack");
	assert_int_equal(th_mqtt_count_for(s->obs, topic, ms), 0);
}

/* A downlink that the gateway takes and answers with a bare TX_ACK. */
static void
down_and_tx_ack(struct th_suite *s, struct th_gateway *gw, const char *id_json)
{
	down(s, gw->mac, id_json, TXPK_LORA);
	struct th_pull_resp r;
	expect_pull_resp(gw, TXPK_LORA, &r);
	tx_ack(gw, r.token, NULL, 0);
	th_pull_resp_free(&r);
}

static void
test_v2_pull_resp_and_bare_tx_ack(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_V2, 2);
	down(s, MAC_V2, "\"d1\"", TXPK_LORA);

	struct th_pull_resp r;
	expect_pull_resp(&gw, TXPK_LORA, &r);
	const cJSON *txpk = cJSON_GetObjectItemCaseSensitive(r.root, "txpk");
	TH_ASSERT_NUM(txpk, "size", TXPK_LORA_SIZE);

	/* The Semtech reference: a 12-byte TX_ACK means no error. */
	tx_ack(&gw, r.token, NULL, 0);
	expect_no_txpk_ack(TH_WAIT_ACK(s->obs, MAC_V2, "d1", "NONE"), false);
	th_pull_resp_free(&r);
	/* Exactly one ack: no TIMEOUT follows. */
	expect_no_more_acks(s, MAC_V2, TX_ACK_TIMEOUT + 200);
	th_gw_close(&gw);
}

static void
test_v2_tx_ack_forms(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_V2, 2);
	static const char COLLISION[] = "{\"error\":\"COLLISION_PACKET\"}";
	static const char WARN[] = "{\"warn\":\"TX_POWER\",\"value\":14}";
	static const char NONE_JSON[] = "{ \"error\" : \"NONE\" }";
	struct {
		const char *id;
		const char *body; /* NULL: 12 bytes + one NUL */
		const char *txpk_ack;
		const char *error;
	} cases[] = {
	        {"\"d-nul\"", NULL, NULL, "NONE"},
	        {"\"d-coll\"", COLLISION, COLLISION, "COLLISION_PACKET"},
	        {"\"d-warn\"", WARN, WARN, "NONE"},
	        {"\"d-none\"", NONE_JSON, NONE_JSON, "NONE"},
	};
	for (size_t i = 0; i < TH_ARRAY_LEN(cases); i++) {
		down(s, MAC_V2, cases[i].id, TXPK_LORA);
		struct th_pull_resp r;
		expect_pull_resp(&gw, TXPK_LORA, &r);
		if (cases[i].body == NULL) {
			tx_ack(&gw, r.token, "", 1);
		} else {
			char body[256];
			int n = snprintf(body, sizeof(body), "{\"txpk_ack\":%s}", cases[i].body);
			tx_ack(&gw, r.token, body, (size_t)n);
		}
		char id[32];
		snprintf(id, sizeof(id), "%.*s", (int)strlen(cases[i].id) - 2, cases[i].id + 1);
		struct th_msg *ack = TH_WAIT_ACK(s->obs, MAC_V2, id, cases[i].error);
		if (cases[i].txpk_ack != NULL) {
			expect_txpk_ack(ack, cases[i].txpk_ack);
			th_msg_free(ack);
		} else {
			expect_no_txpk_ack(ack, false);
		}
		th_pull_resp_free(&r);
	}
	expect_no_more_acks(s, MAC_V2, TX_ACK_TIMEOUT + 200);
	th_gw_close(&gw);
}

static void
test_v2_no_tx_ack_times_out(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_V2, 2);
	int64_t t0 = lf_now_ms();
	down(s, MAC_V2, "\"d-late\"", TXPK_LORA);
	struct th_pull_resp r;
	expect_pull_resp(&gw, TXPK_LORA, &r);
	struct th_msg *ack = TH_WAIT_ACK(s->obs, MAC_V2, "d-late", "TIMEOUT");
	int64_t elapsed = lf_now_ms() - t0;
	if (elapsed < TX_ACK_TIMEOUT - 10 || elapsed > 3000) {
		fail_msg("TIMEOUT after %lld ms; tx_ack_timeout is %d ms", (long long)elapsed,
		         TX_ACK_TIMEOUT);
	}
	expect_no_txpk_ack(ack, true);

	/* A TX_ACK after the timeout answers nothing any more. */
	tx_ack(&gw, r.token, NULL, 0);
	expect_no_more_acks(s, MAC_V2, 300);
	th_pull_resp_free(&r);
	th_gw_close(&gw);
}

static void
test_ids_echoed_as_given(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_V2, 2);

	/* A number stays a number, beyond 32 bits. */
	down_and_tx_ack(s, &gw, "4294967297");
	struct th_msg *ack = TH_WAIT_MSG(s->obs, "lorawan/" MAC_V2 "/ack", WAIT_MS);
	cJSON *a = TH_PARSE(ack->payload);
	TH_ASSERT_NUM(a, "id", 4294967297.0);
	TH_ASSERT_STR(a, "error", "NONE");
	cJSON_Delete(a);
	th_msg_free(ack);

	/* No id: null. */
	down_and_tx_ack(s, &gw, NULL);
	th_msg_free(TH_WAIT_ACK(s->obs, MAC_V2, NULL, "NONE"));
	th_gw_close(&gw);
}

static void
test_tx_ack_with_unknown_token_publishes_nothing(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_V2, 2);
	/* Nothing is pending for this gateway now. */
	tx_ack(&gw, 0x5a5a, NULL, 0);
	static const char body[] = "{\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
	tx_ack(&gw, 0xa5a5, body, sizeof(body) - 1);
	assert_int_equal(th_mqtt_count_for(s->obs, "lorawan/+/ack", 300), 0);
	/* The bridge is fine. */
	assert_int_equal(th_gw_pull(&gw), 0);
	th_gw_close(&gw);
}

static void
test_two_in_flight_get_distinct_tokens(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_TWO, 2);
	static const char TXPK_A[] =
	        "{\"imme\":true,\"freq\":869.525,\"powe\":14,\"modu\":\"LORA\","
	        "\"datr\":\"SF12BW125\",\"codr\":\"4/"
	        "5\",\"ipol\":true,\"size\":1,\"data\":\"AQ==\"}";
	static const char TXPK_B[] =
	        "{\"imme\":true,\"freq\":869.525,\"rfch\":1,\"powe\":27,\"modu\":\"FSK\","
	        "\"datr\":50000,\"fdev\":25000,\"prea\":5,\"data\":\"Ag\"}";
	down(s, MAC_TWO, "\"a\"", TXPK_A);
	down(s, MAC_TWO, "\"b\"", TXPK_B);
	struct th_pull_resp ra, rb;
	expect_pull_resp(&gw, TXPK_A, &ra);
	expect_pull_resp(&gw, TXPK_B, &rb);
	TH_ASSERT_NUM(cJSON_GetObjectItemCaseSensitive(rb.root, "txpk"), "size", 1);
	assert_int_not_equal(ra.token, rb.token);

	/* Answered out of order, each ack goes to its own request. */
	static const char late[] = "{\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
	tx_ack(&gw, rb.token, late, sizeof(late) - 1);
	tx_ack(&gw, ra.token, NULL, 0);
	struct th_msg *ab = TH_WAIT_ACK(s->obs, MAC_TWO, "b", "TOO_LATE");
	expect_txpk_ack(ab, "{\"error\":\"TOO_LATE\"}");
	struct th_msg *aa = TH_WAIT_ACK(s->obs, MAC_TWO, "a", "NONE");
	th_msg_free(ab);
	th_msg_free(aa);
	th_pull_resp_free(&ra);
	th_pull_resp_free(&rb);
	expect_no_more_acks(s, MAC_TWO, TX_ACK_TIMEOUT + 200);
	th_gw_close(&gw);
}

static void
test_pycom_tx_ack_sent_as_pull_ack(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_PYC, 2);
	down(s, MAC_PYC, "\"pycom\"", TXPK_LORA);
	struct th_pull_resp r;
	expect_pull_resp(&gw, TXPK_LORA, &r);
	/* Pycom's nano-gateway answers with identifier 0x04 (PULL_ACK). */
	static const char body[] = "{\"txpk_ack\": {\"error\": \"NONE\"}}";
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, r.token, TH_PULL_ACK, body, sizeof(body) - 1),
	                 0);
	struct th_msg *ack = TH_WAIT_ACK(s->obs, MAC_PYC, "pycom", "NONE");
	expect_txpk_ack(ack, "{\"error\": \"NONE\"}");
	th_msg_free(ack);
	th_pull_resp_free(&r);
	expect_no_more_acks(s, MAC_PYC, TX_ACK_TIMEOUT + 200);
	th_gw_close(&gw);
}

static void
test_v1_gateway(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_V1, NULL, s->bridge.udp_port), 0);
	gw.version = 1;

	/* PULL_DATA v1 -> PULL_ACK v1 (th_gw_pull checks the version byte). */
	assert_int_equal(th_gw_pull(&gw), 0);
	struct th_msg *st = TH_WAIT_MSG(s->obs, "lorawan/" MAC_V1 "/state", WAIT_MS);
	cJSON *j = TH_PARSE(st->payload);
	TH_ASSERT_NUM(j, "protocol", 1);
	TH_ASSERT_BOOL(j, "online", true);
	cJSON_Delete(j);
	th_msg_free(st);

	/* PUSH_DATA v1 -> PUSH_ACK v1 and the uplink. */
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_V1 "/up", "v1");

	/* A downlink: version byte 1, token bytes zero, and the bridge cannot
	 * know the outcome. */
	down(s, MAC_V1, "\"v1-down\"", TXPK_LORA);
	struct th_pull_resp r;
	expect_pull_resp(&gw, TXPK_LORA, &r);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.token, 0);
	th_pull_resp_free(&r);
	expect_no_txpk_ack(TH_WAIT_ACK(s->obs, MAC_V1, "v1-down", "UNCONFIRMED"), true);
	/* Exactly one ack: no TIMEOUT later. */
	expect_no_more_acks(s, MAC_V1, TX_ACK_TIMEOUT + 300);
	th_gw_close(&gw);
}

static void
test_pull_resp_goes_to_the_latest_pull_data_address(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw, old;
	gw_ready(s, &gw, MAC_MOVE, 2);
	/* Keep the old down socket open to see that nothing reaches it. */
	old = gw;
	old.down_fd = dup(gw.down_fd);
	assert_true(old.down_fd >= 0);
	assert_int_equal(th_gw_rebind_down(&gw, NULL), 0);
	assert_int_equal(th_gw_pull(&gw), 0);
	th_msg_free(TH_WAIT_MSG(s->obs, "lorawan/" MAC_MOVE "/state", WAIT_MS));

	down_and_tx_ack(s, &gw, "\"moved\"");
	th_msg_free(TH_WAIT_ACK(s->obs, MAC_MOVE, "moved", "NONE"));
	assert_int_equal(th_gw_drain(&old, TH_DOWN), 0);
	assert_int_equal(th_gw_drain(&gw, TH_UP), 0);
	close(old.down_fd);
	th_gw_close(&gw);
}

static void
test_sigterm_acks_pending_downlinks(void **state)
{
	struct th_suite *s = *state;
	/* A bridge that would wait a minute for the TX_ACK, under its own
	 * prefix so the suite's bridge leaves its downlinks alone. */
	struct th_daemon d;
	TH_SUITE_BRIDGE(s, &d, "it-downlink-term", "tx_ack_timeout = 60s\n", "lwd", WAIT_MS);
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_TERM, NULL, d.udp_port), 0);
	assert_int_equal(th_gw_pull(&gw), 0);
	char payload[1024];
	snprintf(payload, sizeof(payload), "{\"id\":\"pending\",\"txpk\":%s}", TXPK_LORA);
	assert_int_equal(th_mqtt_publish_str(s->obs, "lwd/" MAC_TERM "/down", payload), 0);
	struct th_pull_resp r;
	expect_pull_resp(&gw, TXPK_LORA, &r);
	th_pull_resp_free(&r);

	/* Every request gets its ack, even when the bridge stops first. */
	assert_int_equal(th_daemon_stop(&d), 0);
	struct th_msg *ack = TH_WAIT_MSG(s->obs, "lwd/" MAC_TERM "/ack", WAIT_MS);
	cJSON *a = TH_PARSE(ack->payload);
	TH_ASSERT_STR(a, "mac", MAC_TERM);
	TH_ASSERT_STR(a, "id", "pending");
	TH_ASSERT_STR(a, "error", "TIMEOUT");
	TH_ASSERT_NONEMPTY_STR(a, "detail");
	cJSON_Delete(a);
	th_msg_free(ack);
	assert_int_equal(th_mqtt_count_for(s->obs, "lwd/+/ack", 300), 0);
	th_gw_close(&gw);
}

int
main(void)
{
	struct th_suite suite = {
	        .name = "downlink",
	        .bridge_extra = "tx_ack_timeout = 300ms\n",
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_v2_pull_resp_and_bare_tx_ack, &suite),
	        TH_TEST(test_v2_tx_ack_forms, &suite),
	        TH_TEST(test_v2_no_tx_ack_times_out, &suite),
	        TH_TEST(test_ids_echoed_as_given, &suite),
	        TH_TEST(test_tx_ack_with_unknown_token_publishes_nothing, &suite),
	        TH_TEST(test_two_in_flight_get_distinct_tokens, &suite),
	        TH_TEST(test_pycom_tx_ack_sent_as_pull_ack, &suite),
	        TH_TEST(test_v1_gateway, &suite),
	        TH_TEST(test_pull_resp_goes_to_the_latest_pull_data_address, &suite),
	        TH_TEST(test_sigterm_acks_pending_downlinks, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_downlink", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
