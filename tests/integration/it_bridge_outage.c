/*
 * Broker outages: the bridge keeps uplinks while the broker is dead or
 * frozen and delivers them in order once it is back, reconnects by itself,
 * restores its subscription, and past buffer_max refuses the newest (what
 * it holds stays in order and is never duplicated).
 *
 * The broker persists sessions and the observer's session is persistent,
 * so nothing the bridge sends after its reconnect is lost to the observer
 * while it reconnects too.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 5000

#define MAC_KILL  "aa555a00000f0001"
#define MAC_PAUSE "aa555a00000f0002"
#define MAC_BUF   "aa555a00000f0003"

static void
uplink_json(char *out, size_t outlen, int seq)
{
	snprintf(out, outlen,
	         "{\"rxpk\":[{\"tmst\":%d,\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\","
	         "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-50,\"lsnr\":9.5,\"size\":1,"
	         "\"data\":\"AA==\",\"seq\":%d}]}",
	         1000 + seq, seq);
}

static void
gw_ready(struct th_suite *s, struct th_gateway *gw, const char *mac, uint16_t port)
{
	assert_int_equal(th_gw_open(gw, mac, NULL, port), 0);
	assert_int_equal(th_gw_pull(gw), 0);
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "state");
	th_msg_free(TH_WAIT_MSG(s->obs, topic, WAIT_MS));
}

static int
seq_of(const struct th_msg *msg)
{
	cJSON *root = TH_PARSE(msg->payload);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(root, "rxpk"), "seq");
	if (!cJSON_IsNumber(seq)) {
		fail_msg("no rxpk.seq in %s", msg->payload);
	}
	int v = seq->valueint;
	cJSON_Delete(root);
	return v;
}

/*
 * For a failure message: what arrived from the one just received (seq) on,
 * as ranges of consecutive numbers, until 1 s passes without any.
 */
static void
print_what_arrived(struct th_suite *s, const char *topic, int seq)
{
	char text[512];
	int n = snprintf(text, sizeof(text), "%d", seq);
	int run_start = seq, prev = seq, total = 1;
	for (;;) {
		struct th_msg *msg = th_mqtt_wait(s->obs, topic, 1000);
		int cur = msg != NULL ? seq_of(msg) : -1000;
		th_msg_free(msg);
		if (msg != NULL && cur == prev + 1) {
			prev = cur;
			total++;
			continue;
		}
		if (prev != run_start && n < (int)sizeof(text)) {
			n += snprintf(text + n, sizeof(text) - (size_t)n, "..%d", prev);
		}
		if (msg == NULL) {
			break;
		}
		if (n < (int)sizeof(text)) {
			n += snprintf(text + n, sizeof(text) - (size_t)n, ", %d", cur);
		}
		run_start = prev = cur;
		total++;
	}
	print_error("uplinks received on %s: %s (%d messages)\n", topic, text, total);
}

/*
 * Receives the uplinks first..last of mac: each must come in order; a
 * repeat of one already seen is a QoS 1 duplicate (counted and returned),
 * anything outside the range or out of order fails. Also drains a short
 * window afterwards so late duplicates are counted, not left behind.
 */
static int
receive_in_order(struct th_suite *s, const char *mac, int first, int last, int timeout_ms)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "up");
	int64_t deadline = lf_now_ms() + timeout_ms;
	int next = first, dups = 0;
	while (next <= last) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *msg = left > 0 ? th_mqtt_wait(s->obs, topic, (int)left) : NULL;
		if (msg == NULL) {
			fail_msg("uplinks %d..%d of %s: stopped at %d (%d duplicates) after %d ms",
			         first, last, mac, next, dups, timeout_ms);
		}
		int seq = seq_of(msg);
		th_msg_free(msg);
		if (seq < first || seq > last) {
			print_what_arrived(s, topic, seq);
			fail_msg("uplink %d arrived; only %d..%d should (expecting %d)", seq, first,
			         last, next);
		} else if (seq == next) {
			next++;
		} else if (seq < next) {
			dups++;
		} else {
			print_what_arrived(s, topic, seq);
			fail_msg("uplink %d arrived while %d was expected: lost or reordered", seq,
			         next);
		}
	}
	for (;;) {
		struct th_msg *msg = th_mqtt_wait(s->obs, topic, 300);
		if (msg == NULL) {
			break;
		}
		int seq = seq_of(msg);
		th_msg_free(msg);
		if (seq < first || seq > last) {
			fail_msg("uplink %d arrived after %d..%d", seq, first, last);
		}
		dups++;
	}
	return dups;
}

static void
send_uplinks(struct th_gateway *gw, int first, int last)
{
	char json[512];
	for (int i = first; i <= last; i++) {
		uplink_json(json, sizeof(json), i);
		/* The PUSH_ACK proves the bridge has it. */
		assert_int_equal(th_gw_push(gw, json), 0);
	}
}

static void
test_broker_killed_and_restarted(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_KILL, s->bridge.udp_port);
	/* The observer's persistent session must survive kill -9. */
	assert_int_equal(th_broker_save(&s->broker), 0);
	assert_int_equal(th_broker_kill(&s->broker), 0);

	send_uplinks(&gw, 0, 199);

	assert_int_equal(th_broker_start(&s->broker), 0);
	assert_int_equal(th_mqtt_reconnect(s->obs, WAIT_MS), 1);
	int dups = receive_in_order(s, MAC_KILL, 0, 199, 30000);
	print_message("200 uplinks across a broker restart: all in order, %d duplicates\n", dups);

	/* The bridge subscribed again: a downlink goes through. */
	assert_int_equal(th_gw_pull(&gw), 0);
	assert_int_equal(th_publish_down(s->obs, MAC_KILL,
	                                 "{\"id\":\"after-restart\",\"txpk\":{\"imme\":true,"
	                                 "\"freq\":869.525,\"modu\":\"LORA\",\"datr\":\"SF9BW125\","
	                                 "\"codr\":\"4/5\",\"data\":\"AQ==\"}}"),
	                 0);
	struct th_pull_resp r;
	assert_int_equal(th_gw_recv_pull_resp(&gw, &r, WAIT_MS), 0);
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, r.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&r);
	th_msg_free(TH_WAIT_ACK(s->obs, MAC_KILL, "after-restart", "NONE"));
	assert_true(th_daemon_alive(&s->bridge));
	th_gw_close(&gw);
}

static void
test_broker_frozen(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_PAUSE, s->bridge.udp_port);
	assert_int_equal(th_broker_pause(&s->broker), 0);
	/* The outage itself: 50 uplinks over about 2 s. */
	char json[512];
	for (int i = 0; i < 50; i++) {
		uplink_json(json, sizeof(json), i);
		assert_int_equal(th_gw_push(&gw, json), 0);
		usleep(40000);
	}
	assert_int_equal(th_broker_resume(&s->broker), 0);
	int dups = receive_in_order(s, MAC_PAUSE, 0, 49, 15000);
	print_message("50 uplinks across a frozen broker: all in order, %d duplicates\n", dups);
	th_gw_close(&gw);
}

/* Waits for a snapshot saying nothing is waiting for the broker. */
static void
wait_outbox_empty(struct th_suite *s, const char *topic)
{
	th_mqtt_discard(s->obs, topic);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *msg = left > 0 ? th_mqtt_wait(s->obs, topic, (int)left) : NULL;
		if (msg == NULL) {
			fail_msg("no snapshot on %s with mqtt_outbox_depth 0", topic);
		}
		cJSON *snap = TH_PARSE(msg->payload);
		double depth = -1;
		bool found = th_metric_value(snap, "mqtt_outbox_depth", NULL, NULL, &depth);
		cJSON_Delete(snap);
		th_msg_free(msg);
		if (found && depth == 0) {
			return;
		}
	}
}

static void
test_buffer_max_keeps_the_oldest(void **state)
{
	struct th_suite *s = *state;
	const char *metrics = "lorafleet/bridge/it-outage-buf/metrics";
	struct th_daemon d;
	TH_SUITE_BRIDGE(s, &d, "it-outage-buf", "buffer_max = 100\nmetrics_interval = 1s\n", NULL,
	                WAIT_MS);
	struct th_gateway gw;
	gw_ready(s, &gw, MAC_BUF, d.udp_port);
	/* Nothing of this bridge's may still be in flight when the broker dies. */
	wait_outbox_empty(s, metrics);

	assert_int_equal(th_broker_save(&s->broker), 0);
	assert_int_equal(th_broker_kill(&s->broker), 0);
	send_uplinks(&gw, 0, 149);
	assert_int_equal(th_broker_start(&s->broker), 0);
	assert_int_equal(th_mqtt_reconnect(s->obs, WAIT_MS), 1);

	/* 50 dropped, counted... */
	const struct th_metric_expect e[] = {{"mqtt_outbox_dropped_total", NULL, NULL, 50}};
	assert_int_equal(th_wait_metrics(s->obs, metrics, e, 1, WAIT_MS), 0);
	/* ...and they were the newest: the first 100 arrive, in order. */
	int dups = receive_in_order(s, MAC_BUF, 0, 99, 30000);
	print_message("buffer_max 100, 150 uplinks: 0..99 in order, %d duplicates\n", dups);
	th_gw_close(&gw);
	assert_int_equal(th_daemon_stop(&d), 0);
}

int
main(void)
{
	struct th_suite suite = {
	        .name = "outage",
	        .bridge_extra = "metrics_interval = 1s\n",
	        .persistent_broker = true,
	        .persistent_observer = true,
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_broker_killed_and_restarted, &suite),
	        TH_TEST(test_broker_frozen, &suite),
	        TH_TEST(test_buffer_max_keeps_the_oldest, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_outage", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
