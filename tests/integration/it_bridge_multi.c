/*
 * Several bridges on one broker (behind a UDP load balancer): every bridge
 * receives every `down`, and still each request gets exactly one ack. The
 * bridge that has the gateway online answers; when none has, the live
 * bridge with the smallest instance name answers for the fleet.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define WAIT_MS  5000
#define QUIET_MS 500

#define MAC_GW      "aa555a00000e0001"
#define MAC_UNKNOWN "aa555a00000e00ff"
/* Sorts before the suite's own bridge, "it-multi": the fleet's responder. */
#define FIRST_BRIDGE "it-a-multi"

static const char TXPK[] = "{\"imme\":true,\"freq\":869.525,\"powe\":14,\"modu\":\"LORA\","
                           "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"ipol\":true,"
                           "\"data\":\"YIMBAAAAAAAAcU8+\"}";

/* Publishes a down and expects exactly one ack, with that error. */
static void
expect_one_ack(struct th_suite *s, const char *mac, const char *id, const char *payload,
               const char *error)
{
	assert_int_equal(th_publish_down(s->obs, mac, payload), 0);
	th_msg_free(TH_WAIT_ACK(s->obs, mac, id, error));
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "ack");
	assert_int_equal(th_mqtt_count_for(s->obs, topic, QUIET_MS), 0);
}

static void
test_each_down_gets_one_ack(void **state)
{
	struct th_suite *s = *state;
	struct th_daemon first;
	TH_SUITE_BRIDGE(s, &first, FIRST_BRIDGE, NULL, NULL, WAIT_MS);

	/* The gateway is served by the first bridge. */
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, MAC_GW, NULL, first.udp_port), 0);
	assert_int_equal(th_gw_pull(&gw), 0);
	th_msg_free(TH_WAIT_MSG(s->obs, "lorawan/" MAC_GW "/state", WAIT_MS));

	/* A good downlink: only the serving bridge sends and acks it. */
	char payload[512];
	snprintf(payload, sizeof(payload), "{\"id\":\"m1\",\"txpk\":%s}", TXPK);
	assert_int_equal(th_publish_down(s->obs, MAC_GW, payload), 0);
	struct th_pull_resp resp;
	assert_int_equal(th_gw_recv_pull_resp(&gw, &resp, WAIT_MS), 0);
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, resp.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&resp);
	th_msg_free(TH_WAIT_ACK(s->obs, MAC_GW, "m1", "NONE"));
	assert_int_equal(th_mqtt_count_for(s->obs, "lorawan/" MAC_GW "/ack", QUIET_MS), 0);
	assert_int_equal(th_gw_drain(&gw, TH_DOWN), 0);

	/* A malformed one and one for a gateway nobody knows: one ack each. */
	expect_one_ack(s, MAC_GW, "m2", "{\"id\":\"m2\",\"txpk\":{}}", "MALFORMED");
	snprintf(payload, sizeof(payload), "{\"id\":\"m3\",\"txpk\":%s}", TXPK);
	expect_one_ack(s, MAC_UNKNOWN, "m3", payload, "UNKNOWN_GATEWAY");

	/* The serving bridge dies: its will says so, and the survivor answers
	 * for the gateway it knows only from the retained state. */
	assert_int_equal(th_daemon_kill(&first), 0);
	struct th_msg *will =
	        TH_WAIT_MSG(s->obs, "lorafleet/bridge/" FIRST_BRIDGE "/state", WAIT_MS);
	assert_non_null(strstr(will->payload, "\"online\":false"));
	th_msg_free(will);
	snprintf(payload, sizeof(payload), "{\"id\":\"m4\",\"txpk\":%s}", TXPK);
	expect_one_ack(s, MAC_GW, "m4", payload, "GATEWAY_OFFLINE");
	snprintf(payload, sizeof(payload), "{\"id\":\"m5\",\"txpk\":%s}", TXPK);
	expect_one_ack(s, MAC_UNKNOWN, "m5", payload, "UNKNOWN_GATEWAY");

	/* What the surviving bridge left to the other one, counted. */
	const struct th_metric_expect e[] = {
	        {"down_ignored_total", "reason", "other_bridge", 2},
	        {"down_ignored_total", "reason", "not_responder", 1},
	};
	assert_int_equal(th_wait_metrics(s->obs, "lorafleet/bridge/it-multi/metrics", e,
	                                 TH_ARRAY_LEN(e), WAIT_MS),
	                 0);
	th_gw_close(&gw);
}

int
main(void)
{
	struct th_suite suite = {
	        .name = "multi",
	        .bridge_extra = "metrics_interval = 1s\n",
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_each_down_gets_one_ack, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_multi", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
