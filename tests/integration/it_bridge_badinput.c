/*
 * Bad input: every kind of broken datagram is dropped, counted exactly in
 * the metrics snapshot (metrics_interval = 1s here), logged without
 * flooding, and never stops a good gateway's traffic. Address pinning.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS       5000
#define INSTANCE      "it-badinput"
#define METRICS_TOPIC "lorafleet/bridge/" INSTANCE "/metrics"

#define MAC_GOOD "aa555a00000e0001"
#define MAC_PIN  "aa555a00000e0002"

enum counter {
	EMPTY,
	SHORT,
	BAD_VERSION,
	UNKNOWN_TYPE,
	WRONG_DIRECTION,
	INVALID_JSON,
	RXPK_NOT_ARRAY,
	RXPK_INVALID,
	CRC_BAD,
	N_COUNTERS,
};

static const struct {
	const char *name;
	const char *reason;
} COUNTERS[N_COUNTERS] = {
        [EMPTY] = {"udp_invalid_total", "empty"},
        [SHORT] = {"udp_invalid_total", "short"},
        [BAD_VERSION] = {"udp_invalid_total", "bad_version"},
        [UNKNOWN_TYPE] = {"udp_invalid_total", "unknown_type"},
        [WRONG_DIRECTION] = {"udp_invalid_total", "wrong_direction"},
        [INVALID_JSON] = {"push_data_invalid_total", "invalid_json"},
        [RXPK_NOT_ARRAY] = {"push_data_invalid_total", "rxpk_not_array"},
        [RXPK_INVALID] = {"rxpk_dropped_total", "invalid"},
        [CRC_BAD] = {"rxpk_dropped_total", "crc_bad"},
};

struct bad_ctx {
	bool ready;
	struct th_gateway gw; /* the good gateway; bad datagrams use its sockets */
	double expect[N_COUNTERS];
	size_t flood_mark; /* daemon log offset before the flood */
};

static struct bad_ctx *
ctx_of(struct th_suite *s)
{
	struct bad_ctx *c = s->user;
	if (!c->ready) {
		assert_int_equal(th_gw_open(&c->gw, MAC_GOOD, NULL, s->bridge.udp_port), 0);
		assert_int_equal(th_gw_pull(&c->gw), 0);
		th_msg_free(TH_WAIT_MSG(s->obs, "lorawan/" MAC_GOOD "/state", WAIT_MS));
		c->ready = true;
	}
	return c;
}

/*
 * After the bad input: the good gateway's next uplink is the next thing on
 * lorawan/# (so the bad input published nothing), and the metrics show
 * exactly the expected counts.
 */
static void
check_at(struct th_suite *s, struct bad_ctx *c, const char *tag, const char *file, int line)
{
	th_sentinel_at(s->obs, &c->gw, "lorawan/#", tag, file, line);
	struct th_metric_expect e[N_COUNTERS];
	for (int i = 0; i < N_COUNTERS; i++) {
		e[i] = (struct th_metric_expect){COUNTERS[i].name, "reason", COUNTERS[i].reason,
		                                 c->expect[i]};
	}
	if (th_wait_metrics(s->obs, METRICS_TOPIC, e, N_COUNTERS, WAIT_MS) != 0) {
		print_error("%s:%d: metrics differ (see above)\n", file, line);
		_fail(file, line);
	}
}
#define CHECK(s, c, tag) check_at((s), (c), (tag), __FILE__, __LINE__)

static void
send_raw(struct bad_ctx *c, enum th_sock sock, const void *data, size_t len)
{
	assert_int_equal(th_gw_send_raw(&c->gw, sock, data, len), 0);
}

/* A 12-byte header with the good gateway's EUI. */
static void
header(const struct bad_ctx *c, uint8_t out[12], uint8_t version, uint8_t type)
{
	out[0] = version;
	out[1] = 0x4b;
	out[2] = 0x1d;
	out[3] = type;
	memcpy(out + 4, c->gw.eui, 8);
}

/* A PUSH_DATA from the good gateway whose PUSH_ACK (if any) is ignored. */
static void
send_push_body(struct bad_ctx *c, const char *json)
{
	assert_int_equal(th_gw_send_push(&c->gw, 2, 0x7777, json), 0);
}

static void
test_empty_datagram(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	send_raw(c, TH_UP, "", 0);
	c->expect[EMPTY] += 1;
	CHECK(s, c, "empty");
}

static void
test_one_to_three_bytes(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	static const uint8_t bytes[] = {0x02, 0x12, 0x34};
	for (size_t len = 1; len <= 3; len++) {
		send_raw(c, TH_UP, bytes, len);
	}
	c->expect[SHORT] += 3;
	CHECK(s, c, "1-3");
}

static void
test_push_data_shorter_than_its_header(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	uint8_t h[12];
	header(c, h, 2, TH_PUSH_DATA);
	send_raw(c, TH_UP, h, 11);
	c->expect[SHORT] += 1;
	CHECK(s, c, "11");
}

static void
test_unknown_versions(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	uint8_t h[12];
	header(c, h, 3, TH_PULL_DATA);
	send_raw(c, TH_DOWN, h, sizeof(h));
	header(c, h, 0, TH_PULL_DATA);
	send_raw(c, TH_DOWN, h, sizeof(h));
	c->expect[BAD_VERSION] += 2;
	CHECK(s, c, "version");
	/* No PULL_ACK for them. */
	assert_int_equal(th_gw_drain(&c->gw, TH_DOWN), 0);
}

static void
test_unknown_type(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	uint8_t h[12];
	header(c, h, 2, 0x09);
	send_raw(c, TH_UP, h, sizeof(h));
	c->expect[UNKNOWN_TYPE] += 1;
	CHECK(s, c, "type");
}

static void
test_server_to_gateway_types_sent_to_the_bridge(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	static const uint8_t push_ack[] = {0x02, 0x12, 0x34, TH_PUSH_ACK};
	send_raw(c, TH_UP, push_ack, sizeof(push_ack));
	static const uint8_t pull_resp[] = "\x02\x00\x00\x03{\"txpk\":{\"imme\":true}}";
	send_raw(c, TH_DOWN, pull_resp, sizeof(pull_resp) - 1);
	c->expect[WRONG_DIRECTION] += 2;
	CHECK(s, c, "direction");
}

static void
test_push_data_invalid_json(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	send_push_body(c, "{\"rxpk\":[");
	send_push_body(c, "hello");
	c->expect[INVALID_JSON] += 2;
	CHECK(s, c, "json");
}

static void
test_rxpk_not_an_array(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	send_push_body(c, "{\"rxpk\":{\"tmst\":1,\"freq\":868.1,\"data\":\"AA==\"}}");
	c->expect[RXPK_NOT_ARRAY] += 1;
	CHECK(s, c, "not-array");
}

static void
test_bad_rxpk_elements_dropped_others_published(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	/* Not an object; freq as a string; no data; then a good one. */
	char body[2048];
	char good[512];
	th_sentinel_json(good, sizeof(good), "kept");
	/* th_sentinel_json gives {"rxpk":[{...}]}: take the element. */
	const char *elem = strchr(good, '[') + 1;
	size_t elen = strlen(elem) - 2;
	snprintf(
	        body, sizeof(body),
	        "{\"rxpk\":[5,"
	        "{\"tmst\":1,\"freq\":\"868.1\",\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
	        "\"codr\":\"4/5\",\"size\":1,\"data\":\"AA==\"},"
	        "{\"tmst\":2,\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
	        "\"codr\":\"4/5\",\"size\":1},"
	        "%.*s]}",
	        (int)elen, elem);
	assert_int_equal(th_gw_push_sync(&c->gw, body, NULL), 0);
	struct th_msg *up = TH_WAIT_MSG(s->obs, "lorawan/#", WAIT_MS);
	assert_string_equal(up->topic, "lorawan/" MAC_GOOD "/up");
	TH_ASSERT_MEMBER_TEXT(up->payload, "rxpk",
	                      "{\"tmst\":1,\"freq\":868.1,\"stat\":1,"
	                      "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","
	                      "\"rssi\":-50,\"lsnr\":9.5,\"size\":1,\"data\":\"AA==\","
	                      "\"sentinel\":\"kept\"}");
	th_msg_free(up);
	c->expect[RXPK_INVALID] += 3;
	CHECK(s, c, "elements");
}

static void
test_crc_bad_counted(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	assert_int_equal(th_gw_push_sync(&c->gw,
	                                 "{\"rxpk\":[{\"tmst\":1,\"freq\":868.1,\"stat\":-1,"
	                                 "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","
	                                 "\"size\":1,\"data\":\"AA==\"}]}",
	                                 NULL),
	                 0);
	c->expect[CRC_BAD] += 1;
	CHECK(s, c, "crc");
}

static void
test_60000_byte_junk(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	enum { LEN = 60000 };
	uint8_t *junk = malloc(LEN);
	assert_non_null(junk);
	for (size_t i = 0; i < LEN; i++) {
		junk[i] = (uint8_t)(i * 131 + 7);
	}
	junk[0] = 0xff; /* no GWMP version */
	send_raw(c, TH_UP, junk, LEN);
	free(junk);
	c->expect[BAD_VERSION] += 1;
	CHECK(s, c, "60000");
}

static void
test_flood_of_junk(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	enum { N = 2000, PACE = 200 };
	c->flood_mark = th_daemon_log_mark(&s->bridge);
	uint8_t junk[32];
	for (int i = 0; i < N; i++) {
		for (size_t j = 0; j < sizeof(junk); j++) {
			junk[j] = (uint8_t)(i + j * 29);
		}
		junk[0] = 0x00; /* no GWMP version */
		send_raw(c, TH_DOWN, junk, sizeof(junk));
		/* A PULL_DATA round trip now and then keeps the socket buffer
		 * from overflowing, so every datagram is counted. */
		if ((i + 1) % PACE == 0) {
			assert_int_equal(th_gw_pull(&c->gw), 0);
		}
	}
	c->expect[BAD_VERSION] += N;
	CHECK(s, c, "flood");

	int lines = th_daemon_log_count(&s->bridge, c->flood_mark, NULL);
	print_message("daemon log lines during the flood of %d: %d\n", N, lines);
	if (lines >= 100) {
		fail_msg("%d log lines for %d junk datagrams: not rate-limited", lines, N);
	}
}

static void
test_flood_log_says_suppressed(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	assert_true(c->flood_mark > 0);
	/* The count comes when the next window opens (10 s), with the next
	 * line of that kind: keep a trickle of junk until it shows. */
	int64_t deadline = lf_now_ms() + 15000;
	uint8_t junk[8] = {0};
	while (th_daemon_log_count(&s->bridge, c->flood_mark, "[Ss]uppress") == 0) {
		if (lf_now_ms() >= deadline) {
			fail_msg("no 'suppressed' line within 15 s after the flood");
		}
		send_raw(c, TH_DOWN, junk, sizeof(junk));
		c->expect[BAD_VERSION] += 1;
		/* One datagram per 500 ms, watching the log meanwhile. */
		int64_t next = lf_now_ms() + 500;
		while (lf_now_ms() < next &&
		       th_daemon_log_count(&s->bridge, c->flood_mark, "[Ss]uppress") == 0) {
			usleep(20000);
		}
	}
	CHECK(s, c, "suppressed");
}

static void
test_other_ip_accepted_without_pinning(void **state)
{
	struct th_suite *s = *state;
	struct bad_ctx *c = ctx_of(s);
	struct th_gateway spoof;
	assert_int_equal(th_gw_open(&spoof, MAC_GOOD, "127.0.0.2", s->bridge.udp_port), 0);
	size_t mark = th_daemon_log_mark(&s->bridge);
	/* Accepted: acked, published, and the downlink address is unchanged
	 * (no state message). */
	TH_SENTINEL(s->obs, &spoof, "lorawan/#", "from-127.0.0.2");
	assert_int_equal(th_daemon_wait_log(&s->bridge, mark, "127\\.0\\.0\\.2", WAIT_MS), 0);
	th_gw_close(&spoof);
	CHECK(s, c, "after-spoof");
}

static void
test_metrics_snapshot_is_retained_qos0(void **state)
{
	struct th_suite *s = *state;
	th_mqtt_discard(s->obs, METRICS_TOPIC);
	struct th_msg *live = TH_WAIT_MSG(s->obs, METRICS_TOPIC, WAIT_MS);
	assert_int_equal(live->qos, 0);
	cJSON *snap = TH_PARSE(live->payload);
	const cJSON *families = cJSON_GetObjectItemCaseSensitive(snap, "families");
	assert_true(cJSON_IsArray(families));
	/* Every family has the documented shape. */
	const cJSON *fam;
	cJSON_ArrayForEach(fam, families)
	{
		TH_ASSERT_NONEMPTY_STR(fam, "name");
		TH_ASSERT_NONEMPTY_STR(fam, "type");
		assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fam, "help")));
		const cJSON *series = cJSON_GetObjectItemCaseSensitive(fam, "series");
		assert_true(cJSON_IsArray(series));
		const cJSON *one;
		cJSON_ArrayForEach(one, series)
		{
			assert_true(
			        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(one, "labels")));
			assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(one, "value")));
		}
	}
	cJSON_Delete(snap);
	th_msg_free(live);
	struct th_msg *ret = th_mqtt_read_retained(&s->broker, METRICS_TOPIC, WAIT_MS);
	assert_non_null(ret);
	th_msg_free(ret);
}

static void
test_pin_address_rejects_other_ip(void **state)
{
	struct th_suite *s = *state;
	/* A second bridge, under its own topic prefix so that the suite's
	 * bridge does not answer its downlinks too. */
	struct th_daemon pin;
	TH_SUITE_BRIDGE(s, &pin, "it-badinput-pin", "pin_address = true\nmetrics_interval = 1s\n",
	                "lwp", WAIT_MS);
	struct th_gateway real, spoof;
	assert_int_equal(th_gw_open(&real, MAC_PIN, NULL, pin.udp_port), 0);
	assert_int_equal(th_gw_pull(&real), 0);
	th_msg_free(TH_WAIT_MSG(s->obs, "lwp/" MAC_PIN "/state", WAIT_MS));

	assert_int_equal(th_gw_open(&spoof, MAC_PIN, "127.0.0.2", pin.udp_port), 0);
	char json[512];
	th_sentinel_json(json, sizeof(json), "spoofed");
	assert_int_equal(th_gw_send_push(&spoof, 2, 0x0101, json), 0);
	assert_int_equal(th_gw_send_pull(&spoof, 2, 0x0202), 0);
	/* Ignored: no acks to the other address... */
	uint8_t buf[64];
	assert_int_equal(th_gw_recv(&spoof, TH_UP, buf, sizeof(buf), 300), -1);
	assert_int_equal(th_gw_recv(&spoof, TH_DOWN, buf, sizeof(buf), 0), -1);
	/* ...no uplink and no address change: the real gateway's next uplink
	 * is the next message about it. */
	th_sentinel_json(json, sizeof(json), "real");
	assert_int_equal(th_gw_push_sync(&real, json, NULL), 0);
	struct th_msg *up = TH_WAIT_MSG(s->obs, "lwp/" MAC_PIN "/#", WAIT_MS);
	assert_string_equal(up->topic, "lwp/" MAC_PIN "/up");
	assert_non_null(strstr(up->payload, "\"sentinel\":\"real\""));
	th_msg_free(up);
	const struct th_metric_expect e[] = {
	        {"udp_rejected_total", "reason", "address_pinned", 2},
	};
	assert_int_equal(
	        th_wait_metrics(s->obs, "lorafleet/bridge/it-badinput-pin/metrics", e, 1, WAIT_MS),
	        0);
	/* Downlinks still go to the real gateway. */
	assert_int_equal(th_mqtt_publish_str(s->obs, "lwp/" MAC_PIN "/down",
	                                     "{\"id\":\"pin\",\"txpk\":{\"imme\":true,"
	                                     "\"freq\":869.525,\"modu\":\"LORA\","
	                                     "\"datr\":\"SF9BW125\",\"codr\":\"4/5\","
	                                     "\"data\":\"AQ==\"}}"),
	                 0);
	struct th_pull_resp r;
	assert_int_equal(th_gw_recv_pull_resp(&real, &r, WAIT_MS), 0);
	assert_int_equal(th_gw_send(&real, TH_DOWN, 2, r.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&r);
	struct th_msg *ack = TH_WAIT_MSG(s->obs, "lwp/" MAC_PIN "/ack", WAIT_MS);
	cJSON *a = TH_PARSE(ack->payload);
	TH_ASSERT_STR(a, "id", "pin");
	TH_ASSERT_STR(a, "error", "NONE");
	cJSON_Delete(a);
	th_msg_free(ack);
	assert_int_equal(th_gw_recv(&spoof, TH_DOWN, buf, sizeof(buf), 0), -1);
	th_gw_close(&spoof);
	th_gw_close(&real);
	assert_int_equal(th_daemon_stop(&pin), 0);
}

int
main(void)
{
	struct bad_ctx ctx = {0};
	struct th_suite suite = {
	        .name = "badinput",
	        /* The good gateway must stay online for the whole file. */
	        .bridge_extra = "metrics_interval = 1s\ngateway_timeout = 1h\n",
	        .user = &ctx,
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_empty_datagram, &suite),
	        TH_TEST(test_one_to_three_bytes, &suite),
	        TH_TEST(test_push_data_shorter_than_its_header, &suite),
	        TH_TEST(test_unknown_versions, &suite),
	        TH_TEST(test_unknown_type, &suite),
	        TH_TEST(test_server_to_gateway_types_sent_to_the_bridge, &suite),
	        TH_TEST(test_push_data_invalid_json, &suite),
	        TH_TEST(test_rxpk_not_an_array, &suite),
	        TH_TEST(test_bad_rxpk_elements_dropped_others_published, &suite),
	        TH_TEST(test_crc_bad_counted, &suite),
	        TH_TEST(test_60000_byte_junk, &suite),
	        TH_TEST(test_flood_of_junk, &suite),
	        TH_TEST(test_flood_log_says_suppressed, &suite),
	        TH_TEST(test_other_ip_accepted_without_pinning, &suite),
	        TH_TEST(test_metrics_snapshot_is_retained_qos0, &suite),
	        TH_TEST(test_pin_address_rejects_other_ip, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_badinput", tests, NULL, NULL);
	if (ctx.ready) {
		th_gw_close(&ctx.gw);
	}
	return th_suite_finish(&suite, failed);
}
