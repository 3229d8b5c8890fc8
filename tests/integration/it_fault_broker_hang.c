/*
 * A broker that hangs (SIGSTOP) for longer than the bridge's keepalive,
 * under steady traffic from 50 gateways: nothing reports an error, the
 * TCP connection just stops moving. The bridge finds out by its keepalive
 * (5 s here: a PINGREQ, and no answer within another 5 s), drops the
 * connection and reconnects once the broker runs again; every uplink is
 * delivered at least once, in order per gateway, none dropped, and the
 * count of messages waiting for the broker (mqtt_outbox_depth) returns to
 * 0: what was written into the dead connection is sent again, and what
 * libmosquitto threw away with it (QoS 0 snapshots still queued) is not
 * waited for forever.
 */
#include "harness.h"
#include "th_traffic.h"
#include "th_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_GW     50
#define RATE     1000.0
#define PULL_MS  500
#define WAIT_MS  15000
#define DRAIN_MS 60000
#define INSTANCE "it-fhang"

static void
test_broker_hung_past_the_keepalive(void **state)
{
	struct th_suite *s = *state;
	struct th_traffic t;
	struct th_tally y;
	assert_int_equal(th_traffic_init(&t, s->bridge.udp_port, N_GW, PULL_MS), 0);
	assert_int_equal(th_tally_init(&y, N_GW), 0);
	struct th_watch w = {.obs = s->obs, .up_pattern = {"lorawan/+/up"}, .up_tally = {&y}};
	assert_int_equal(th_traffic_start(&t, 0), 0);
	for (int i = 0; i < N_GW; i++) {
		char mac[17];
		snprintf(mac, sizeof(mac), "aa555a00fe%06x", i);
		assert_int_equal(th_traffic_add(&t, mac, NULL, true), i);
	}
	th_traffic_set_rate(&t, RATE);
	th_watch_pump(&w, 1500);

	size_t mark = th_daemon_log_mark(&s->bridge);
	assert_int_equal(th_broker_pause(&s->broker), 0);
	int64_t hung_at = lf_now_ms();
	/* Keepalive 5 s: a PINGREQ after 5 s of silence, given up 5 s later. */
	assert_int_equal(th_daemon_wait_log(&s->bridge, mark, "mqtt: connection to .* lost",
	                                    WAIT_MS + 10000),
	                 0);
	int64_t found_ms = lf_now_ms() - hung_at;
	assert_int_equal(th_broker_resume(&s->broker), 0);
	th_watch_pump(&w, 2000);
	th_traffic_set_rate(&t, 0);
	assert_int_equal(th_traffic_wait_acked(&t, WAIT_MS), 0);
	assert_int_equal(th_traffic_send_errors(&t), 0);

	uint64_t total = 0, dups = 0;
	int64_t deadline = lf_now_ms() + th_timeout_ms(DRAIN_MS);
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&t, i, &st);
		total += st.sent;
		while (th_tally_delivered(&y, i, 0, st.sent - 1) < st.sent &&
		       lf_now_ms() < deadline) {
			th_watch_pump(&w, 100);
		}
	}
	th_watch_pump(&w, 500);
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&t, i, &st);
		assert_int_equal(th_tally_check_range(&y, i, 0, st.sent - 1, false), 0);
		assert_int_equal(y.g[i].disorder, 0);
		dups += y.g[i].dups;
	}
	assert_int_equal(y.foreign, 0);
	print_message("broker hung; the bridge's keepalive found it after %lld ms; %llu uplinks "
	              "from %d gateways all delivered in order (%llu duplicates)\n",
	              (long long)found_ms, (unsigned long long)total, N_GW,
	              (unsigned long long)dups);
	assert_int_equal(th_watch_expect(&w, "bridge", INSTANCE, "mqtt_disconnects_total", NULL,
	                                 NULL, 1, WAIT_MS),
	                 0);
	assert_int_equal(th_watch_expect(&w, "bridge", INSTANCE, "mqtt_outbox_dropped_total", NULL,
	                                 NULL, 0, WAIT_MS),
	                 0);
	/* Nothing is waited for any more. */
	assert_int_equal(th_watch_expect(&w, "bridge", INSTANCE, "mqtt_outbox_depth", NULL, NULL, 0,
	                                 WAIT_MS),
	                 0);
	th_traffic_free(&t);
	th_tally_free(&y);
	th_watch_free(&w);
}

int
main(void)
{
	struct th_suite suite = {
	        .name = "fhang",
	        .bridge_extra = "metrics_interval = 1s\n",
	        .mqtt_extra = "keepalive = 5s\n",
	        .broker = {.extra_conf = "max_inflight_messages 0\n"},
	};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_broker_hung_past_the_keepalive, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_fault_broker_hang", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
