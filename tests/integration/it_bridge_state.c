/*
 * Retained state: gateways online/offline (gateway_timeout = 1s here),
 * their downlink address, the bridge's own state, its will, and what a
 * clean shutdown leaves behind.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS      5000
#define INSTANCE     "it-state"
#define TIMEOUT_MS   1000
#define BRIDGE_TOPIC "lorafleet/bridge/" INSTANCE "/state"

#define MAC_PUSH_ONLY "aa555a00000b0001"
#define MAC_PULL      "aa555a00000b0002"
#define MAC_MOVE      "aa555a00000b0003"
#define MAC_END1      "aa555a00000b0005"
#define MAC_END2      "aa555a00000b0006"

static const char STAT_BODY[] = "{\"stat\":{\"rxnb\":0,\"rxok\":0,\"rxfw\":0,\"ackr\":100.0}}";

struct state_msg {
	bool online;
	char addr[64]; /* "" for null */
	char since[40];
	char last_seen[40];
	char raw[1024];
};

/*
 * The next state message of mac: checks mac, bridge, protocol, online and
 * addr (NULL: null), and that both timestamps are RFC 3339 µs and recent.
 */
static void
expect_state_at(struct th_suite *s, const char *mac, bool online, const char *addr, int protocol,
                struct state_msg *out, const char *file, int line)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "state");
	struct th_msg *msg = th_wait_msg_at(s->obs, topic, WAIT_MS, file, line);
	cJSON *root = th_parse_at(msg->payload, file, line);
	th_assert_str_at(root, "mac", mac, file, line);
	th_assert_bool_at(root, "online", online, file, line);
	if (addr != NULL) {
		th_assert_str_at(root, "addr", addr, file, line);
	} else {
		th_assert_null_at(root, "addr", file, line);
	}
	th_assert_num_at(root, "protocol", protocol, file, line);
	th_assert_str_at(root, "bridge", INSTANCE, file, line);
	th_assert_recent_at(root, "since", 60, file, line);
	th_assert_recent_at(root, "last_seen", 60, file, line);
	if (msg->qos != 1) {
		print_error("%s:%d: state delivered at qos %d\n", file, line, msg->qos);
		_fail(file, line);
	}
	if (out != NULL) {
		out->online = online;
		snprintf(out->addr, sizeof(out->addr), "%s", addr != NULL ? addr : "");
		snprintf(out->since, sizeof(out->since), "%s",
		         cJSON_GetObjectItemCaseSensitive(root, "since")->valuestring);
		snprintf(out->last_seen, sizeof(out->last_seen), "%s",
		         cJSON_GetObjectItemCaseSensitive(root, "last_seen")->valuestring);
		snprintf(out->raw, sizeof(out->raw), "%s", msg->payload);
	}
	cJSON_Delete(root);
	th_msg_free(msg);
}
#define EXPECT_STATE(s, mac, online, addr, protocol, out)                                          \
	expect_state_at((s), (mac), (online), (addr), (protocol), (out), __FILE__, __LINE__)

/* The retained message on topic is exactly `payload`. */
static void
expect_retained(struct th_suite *s, const char *topic, const char *payload)
{
	struct th_msg *ret = th_mqtt_read_retained(&s->broker, topic, WAIT_MS);
	assert_non_null(ret);
	assert_string_equal(ret->payload, payload);
	th_msg_free(ret);
}

static int64_t
ts_us(const char *text)
{
	int64_t us = 0;
	assert_int_equal(th_parse_rfc3339_us(text, &us), 0);
	return us;
}

static void
addr_of(char *out, size_t outlen, const struct th_gateway *gw)
{
	snprintf(out, outlen, "%s:%u", gw->ip, (unsigned)gw->down_port);
}

static void
test_push_only_gateway_online_then_offline(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_PUSH_ONLY, NULL, s->bridge.udp_port), 0);
	assert_int_equal(th_gw_push(&gw, STAT_BODY), 0);

	/* First sight: online, but no downlink address yet. */
	struct state_msg first;
	EXPECT_STATE(s, MAC_PUSH_ONLY, true, NULL, 2, &first);
	expect_retained(s, "lorawan/" MAC_PUSH_ONLY "/state", first.raw);

	/* No PULL_DATA within gateway_timeout: offline, still no address. */
	struct state_msg off;
	EXPECT_STATE(s, MAC_PUSH_ONLY, false, NULL, 2, &off);
	assert_true(ts_us(off.since) > ts_us(first.since));
	expect_retained(s, "lorawan/" MAC_PUSH_ONLY "/state", off.raw);

	/* Uplinks are still published, and do not bring it back online. */
	th_mqtt_discard(s->obs, "lorawan/" MAC_PUSH_ONLY "/status");
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_PUSH_ONLY "/#", "push-only");

	/* PULL_DATA does. */
	assert_int_equal(th_gw_pull(&gw), 0);
	char addr[64];
	addr_of(addr, sizeof(addr), &gw);
	struct state_msg on;
	EXPECT_STATE(s, MAC_PUSH_ONLY, true, addr, 2, &on);
	assert_true(ts_us(on.since) > ts_us(off.since));
	th_gw_close(&gw);
}

static void
test_pull_data_acked_sets_addr_and_times_out(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_PULL, NULL, s->bridge.udp_port), 0);
	char addr[64];
	addr_of(addr, sizeof(addr), &gw);

	/* PULL_ACK echoes version and token, on the socket PULL_DATA came from. */
	int64_t sent = lf_now_ms();
	assert_int_equal(th_gw_send_pull(&gw, 2, 0x3c5a), 0);
	assert_int_equal(th_gw_expect_ack(&gw, TH_DOWN, 2, 0x3c5a, TH_PULL_ACK, WAIT_MS), 0);
	assert_int_equal(th_gw_drain(&gw, TH_UP), 0);

	struct state_msg on;
	EXPECT_STATE(s, MAC_PULL, true, addr, 2, &on);
	expect_retained(s, "lorawan/" MAC_PULL "/state", on.raw);

	/* gateway_timeout after that PULL_DATA, not before: offline, the
	 * address kept. */
	struct state_msg off;
	EXPECT_STATE(s, MAC_PULL, false, addr, 2, &off);
	int64_t elapsed = lf_now_ms() - sent;
	if (elapsed < TIMEOUT_MS - 10 || elapsed > 3 * TIMEOUT_MS) {
		fail_msg("offline after %lld ms, gateway_timeout is %d ms", (long long)elapsed,
		         TIMEOUT_MS);
	}
	assert_true(ts_us(off.since) > ts_us(on.since));
	expect_retained(s, "lorawan/" MAC_PULL "/state", off.raw);

	/* PULL_DATA again: online. */
	assert_int_equal(th_gw_send_pull(&gw, 2, 0x0102), 0);
	assert_int_equal(th_gw_expect_ack(&gw, TH_DOWN, 2, 0x0102, TH_PULL_ACK, WAIT_MS), 0);
	struct state_msg again;
	EXPECT_STATE(s, MAC_PULL, true, addr, 2, &again);
	assert_true(ts_us(again.since) > ts_us(off.since));
	expect_retained(s, "lorawan/" MAC_PULL "/state", again.raw);
	th_gw_close(&gw);
}

static void
test_pull_data_from_new_address_republishes(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_MOVE, NULL, s->bridge.udp_port), 0);
	char old_addr[64], new_addr[64];
	addr_of(old_addr, sizeof(old_addr), &gw);
	assert_int_equal(th_gw_pull(&gw), 0);
	struct state_msg first;
	EXPECT_STATE(s, MAC_MOVE, true, old_addr, 2, &first);

	/* The forwarder's down socket moves (NAT rebinding). */
	size_t mark = th_daemon_log_mark(&s->bridge);
	assert_int_equal(th_gw_rebind_down(&gw, NULL), 0);
	addr_of(new_addr, sizeof(new_addr), &gw);
	assert_int_equal(th_gw_pull(&gw), 0); /* PULL_ACK reaches the new socket */
	struct state_msg moved;
	EXPECT_STATE(s, MAC_MOVE, true, new_addr, 2, &moved);
	assert_string_equal(moved.since, first.since); /* online did not change */
	expect_retained(s, "lorawan/" MAC_MOVE "/state", moved.raw);

	/* A log line names the move: both addresses on one line. */
	char re[300];
	snprintf(re, sizeof(re), "%s.*%s|%s.*%s", old_addr, new_addr, new_addr, old_addr);
	assert_int_equal(th_daemon_wait_log(&s->bridge, mark, re, WAIT_MS), 0);
	th_gw_close(&gw);
}

static void
test_bridge_state_retained_online(void **state)
{
	struct th_suite *s = *state;
	struct th_msg *ret = th_mqtt_read_retained(&s->broker, BRIDGE_TOPIC, WAIT_MS);
	assert_non_null(ret);
	cJSON *root = TH_PARSE(ret->payload);
	TH_ASSERT_BOOL(root, "online", true);
	TH_ASSERT_STR(root, "version", LF_VERSION);
	TH_ASSERT_RECENT(root, "started_at", 170);
	cJSON_Delete(root);
	th_msg_free(ret);
}

static void
test_sigkill_leaves_the_will(void **state)
{
	struct th_suite *s = *state;
	const char *topic = "lorafleet/bridge/it-state-kill/state";
	struct th_daemon d;
	assert_int_equal(th_bridge_start(&d, &s->env, &s->broker, "it-state-kill", NULL, NULL), 0);

	struct th_msg *birth = TH_WAIT_MSG(s->obs, topic, WAIT_MS);
	cJSON *b = TH_PARSE(birth->payload);
	TH_ASSERT_BOOL(b, "online", true);
	TH_ASSERT_STR(b, "version", LF_VERSION);
	TH_ASSERT_RECENT(b, "started_at", 30);

	assert_int_equal(th_daemon_kill(&d), 0);
	/* The broker publishes the will when the connection drops... */
	struct th_msg *will = TH_WAIT_MSG(s->obs, topic, WAIT_MS);
	th_msg_free(will);
	/* ...and a newcomer reads it retained: the same object, offline. */
	struct th_msg *ret = th_mqtt_read_retained(&s->broker, topic, WAIT_MS);
	assert_non_null(ret);
	cJSON *w = TH_PARSE(ret->payload);
	TH_ASSERT_BOOL(w, "online", false);
	TH_ASSERT_STR(w, "version", LF_VERSION);
	TH_ASSERT_STR(w, "started_at",
	              cJSON_GetObjectItemCaseSensitive(b, "started_at")->valuestring);
	cJSON_Delete(w);
	cJSON_Delete(b);
	th_msg_free(ret);
	th_msg_free(birth);
}

static void
test_sigterm_marks_everything_offline(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway g1, g2;
	assert_int_equal(th_gw_open(&g1, MAC_END1, NULL, s->bridge.udp_port), 0);
	assert_int_equal(th_gw_open(&g2, MAC_END2, NULL, s->bridge.udp_port), 0);
	char a1[64], a2[64];
	addr_of(a1, sizeof(a1), &g1);
	addr_of(a2, sizeof(a2), &g2);
	assert_int_equal(th_gw_push(&g2, STAT_BODY), 0);
	EXPECT_STATE(s, MAC_END2, true, NULL, 2, NULL);
	assert_int_equal(th_gw_pull(&g1), 0);
	assert_int_equal(th_gw_pull(&g2), 0);
	EXPECT_STATE(s, MAC_END1, true, a1, 2, NULL);
	EXPECT_STATE(s, MAC_END2, true, a2, 2, NULL);

	struct th_msg *online = th_mqtt_read_retained(&s->broker, BRIDGE_TOPIC, WAIT_MS);
	assert_non_null(online);
	cJSON *on = TH_PARSE(online->payload);
	th_mqtt_discard(s->obs, BRIDGE_TOPIC);

	assert_int_equal(th_daemon_stop(&s->bridge), 0);

	/* Both gateways offline, then the bridge itself. */
	struct th_msg *m1 = TH_WAIT_MSG(s->obs, "lorawan/" MAC_END1 "/state", WAIT_MS);
	struct th_msg *m2 = TH_WAIT_MSG(s->obs, "lorawan/" MAC_END2 "/state", WAIT_MS);
	struct th_msg *mb = TH_WAIT_MSG(s->obs, BRIDGE_TOPIC, WAIT_MS);
	assert_true(m1->seq < mb->seq);
	assert_true(m2->seq < mb->seq);
	cJSON *j1 = TH_PARSE(m1->payload), *j2 = TH_PARSE(m2->payload), *jb = TH_PARSE(mb->payload);
	TH_ASSERT_BOOL(j1, "online", false);
	TH_ASSERT_STR(j1, "addr", a1);
	TH_ASSERT_BOOL(j2, "online", false);
	TH_ASSERT_STR(j2, "addr", a2);
	TH_ASSERT_BOOL(jb, "online", false);
	TH_ASSERT_STR(jb, "version", LF_VERSION);
	TH_ASSERT_STR(jb, "started_at",
	              cJSON_GetObjectItemCaseSensitive(on, "started_at")->valuestring);
	expect_retained(s, BRIDGE_TOPIC, mb->payload);
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	cJSON_Delete(jb);
	cJSON_Delete(on);
	th_msg_free(m1);
	th_msg_free(m2);
	th_msg_free(mb);
	th_msg_free(online);

	/* Every gateway this bridge knew is retained offline. */
	const char *macs[] = {MAC_PUSH_ONLY, MAC_PULL, MAC_MOVE, MAC_END1, MAC_END2};
	for (size_t i = 0; i < TH_ARRAY_LEN(macs); i++) {
		char topic[64];
		th_topic(topic, sizeof(topic), macs[i], "state");
		struct th_msg *ret = th_mqtt_read_retained(&s->broker, topic, WAIT_MS);
		assert_non_null(ret);
		cJSON *r = TH_PARSE(ret->payload);
		TH_ASSERT_STR(r, "mac", macs[i]);
		TH_ASSERT_BOOL(r, "online", false);
		cJSON_Delete(r);
		th_msg_free(ret);
	}
	th_gw_close(&g1);
	th_gw_close(&g2);
}

int
main(void)
{
	struct th_suite suite = {
	        .name = "state",
	        .bridge_extra = "gateway_timeout = 1s\n",
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_push_only_gateway_online_then_offline, &suite),
	        TH_TEST(test_pull_data_acked_sets_addr_and_times_out, &suite),
	        TH_TEST(test_pull_data_from_new_address_republishes, &suite),
	        TH_TEST(test_bridge_state_retained_online, &suite),
	        TH_TEST(test_sigkill_leaves_the_will, &suite),
	        /* Last: it stops the suite's bridge. */
	        TH_TEST(test_sigterm_marks_everything_offline, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_state", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
