/*
 * The Helium router fails under a fleet: 100 gateways -> bridge -> broker
 * -> routerlink -> the fake router, each gateway sending uplinks, and the
 * router killed and restarted, frozen, ending every stream with the empty
 * envelope, refusing registrations, and killing each stream shortly after
 * it opens. Every uplink is accounted for (th_fleet.h): delivered exactly
 * once, or counted by routerlink as dropped (queue_full, stale), and every
 * gateway's reconnects are counted at the router against the backoff
 * schedule.
 *
 * routerlink runs with the harness's backoff_min 200ms / backoff_max 2s,
 * queue_size 4, queue_max_age 30s (6s for the staleness test, set through
 * the environment on a restart) and metrics every second.
 *
 * Around the instant of a kill the traffic pauses until the router has
 * every uplink sent so far: routerlink cannot know what a router that died
 * did with the bytes it had already written (the router acknowledges no
 * packet), so those counts could not be exact. The frozen router (SIGSTOP)
 * is frozen for 8 s: less than the HTTP/2 keepalive needs to notice (30 s
 * + 20 s, it_routerlink_freeze covers that one), so what this shows is
 * that a stall shorter than that costs no reconnect and no uplink.
 */
#include "harness.h"
#include "th_fleet.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GATEWAYS   100
#define EUI_BASE   0xaa555a00000a0000ULL
#define INSTANCE   "it-fr"
#define QUEUE_SIZE 4
#define B_MIN      200 /* the harness's backoff_min and backoff_max */
#define B_MAX      2000
#define CHANNELS   2
#define WAIT_MS    30000
/* The slack for a slow machine stretches with LF_TEST_TIMEOUT_SCALE
 * (valgrind); the lower bounds, which catch storms, barely: under
 * valgrind a register's trip from routerlink varies by a few hundred ms
 * (one gap measured 103 ms under the 100 ms bound), so 400 there, still
 * well under every wait past the first, which is where a storm shows. */
/* Between a PUSH_DATA and routerlink's clock (bridge, broker), and between
 * routerlink's signature and the router's event: on a loaded machine. */
#define TRANSIT_MS th_timeout_ms(1500)
/* Between a wait's end and the router's clock: the 100 ms tick, the
 * register's trip, the router's verification on a busy machine. */
#define SLOP_HI th_timeout_ms(2500)
#define SLOP_LO (th_timeout_ms(1000) > 1000 ? 400 : 100)

static struct th_suite suite = {.name = "faultrouter"};
static struct th_router router;
static struct th_daemon rl;
static struct th_fleet fleet;
/* Uplinks sent before routerlink's last start: its counters begin after. */
static uint64_t sent_before_start;
/* Uplinks dropped on purpose so far (queue_full, stale): never delivered. */
static uint64_t dropped;

/* routerlink's metrics snapshot (th_routerlink.h), failing the test. */
#define METRIC(name, label, value) TH_RL_METRIC(&suite.broker, INSTANCE, name, label, value)
#define EXPECT_METRIC(name, label, value, want)                                                    \
	TH_RL_EXPECT_METRIC(&suite.broker, INSTANCE, name, label, value, want, WAIT_MS)

/* Every uplink sent so far has reached routerlink, and the metrics
 * snapshot says so: counters read after this are current. */
static void
sync_metrics(void)
{
	EXPECT_METRIC("uplinks_received_total", NULL, NULL,
	              (double)(th_fleet_sent(&fleet) - sent_before_start));
}

/* Every fleet gateway has at least `want` accepted sessions at the router. */
static bool
wait_sessions(int want, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	for (;;) {
		cJSON *g = th_fleet_router_gateways(&router);
		int ready = 0;
		for (int i = 0; i < fleet.n; i++) {
			ready += th_fleet_gw_count(g, fleet.g[i].hex, "session_inits") >= want;
		}
		cJSON_Delete(g);
		if (ready == fleet.n) {
			return true;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "%d of %d gateways have %d sessions\n", ready, fleet.n,
			        want);
			return false;
		}
		usleep(200 * 1000);
	}
}

static int
setup(void **state)
{
	*state = &suite;
	char extra[160];
	snprintf(extra, sizeof(extra),
	         "queue_size = %d\nqueue_max_age = 30s\nmetrics_interval = 1s\nchannels = %d\n",
	         QUEUE_SIZE, CHANNELS);
	if (th_routerlink_setup(state, &router, &rl, INSTANCE, extra) != 0) {
		return -1;
	}
	/* The observer would keep every uplink of the fleet: not needed. */
	th_mqtt_close(suite.obs);
	suite.obs = NULL;
	if (th_fleet_open(&fleet, GATEWAYS, EUI_BASE, suite.bridge.udp_port) != 0) {
		return -1;
	}
	/* Each gateway's PULL_DATA made the bridge publish its state, and
	 * routerlink its key and stream: wait for the keys, then the sessions. */
	char keys[TH_PATH_MAX];
	th_routerlink_keys_dir(&rl, keys, sizeof(keys));
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (th_fleet_learn_keys(&fleet, keys) < GATEWAYS && lf_now_ms() < deadline) {
		usleep(100 * 1000);
	}
	if (th_fleet_learn_keys(&fleet, keys) != GATEWAYS || !wait_sessions(1, WAIT_MS)) {
		return -1;
	}
	th_fleet_discard_control_events(&router);
	return 0;
}

/* Traffic for ms, then a pause until the router has had every uplink. */
static void
steady_traffic(int ms)
{
	assert_int_equal(th_fleet_traffic_start(&fleet, 1000), 0);
	usleep((useconds_t)ms * 1000);
	assert_int_equal(th_fleet_traffic_stop(&fleet), 0);
	assert_true(
	        th_fleet_wait_delivered(&fleet, &router, th_fleet_sent(&fleet) - dropped, WAIT_MS));
}

/* The uplinks of every gateway with sequence numbers first..last: each was
 * delivered `want` times; when delivered, with a hold_time that fits the
 * time it took (sent at S, at the router at R: hold <= R - S, and no more
 * than the trips shorter), and held at least until held_until. */
static void
check_uplinks(uint32_t first, uint32_t last, int want, int64_t held_until, int *checked)
{
	for (int i = 0; i < fleet.n; i++) {
		for (uint32_t seq = first; seq <= last; seq++) {
			const struct th_fleet_up u = th_fleet_up(&fleet, i, seq);
			if (u.delivered != want) {
				fail_msg("gateway %d uplink %u: delivered %d times, want %d", i,
				         seq, u.delivered, want);
			}
			if (want == 0) {
				continue;
			}
			int64_t span = u.router_ms - u.sent_ms;
			if (u.hold_ms > span + 2 || u.hold_ms < span - 2 * TRANSIT_MS ||
			    (held_until > 0 && u.hold_ms < held_until - u.sent_ms - TRANSIT_MS)) {
				fail_msg(
				        "gateway %d uplink %u: hold_time %lld ms, but sent %lld ms "
				        "before the router had it (held until %lld ms after "
				        "sending)",
				        i, seq, (long long)u.hold_ms, (long long)span,
				        (long long)(held_until > 0 ? held_until - u.sent_ms : 0));
			}
			(*checked)++;
		}
	}
}

static uint32_t
sent_by_each(void)
{
	uint32_t n = th_fleet_sent_by(&fleet, 0);
	for (int i = 1; i < fleet.n; i++) {
		assert_int_equal(th_fleet_sent_by(&fleet, i), n);
	}
	return n;
}

/*
 * Killed and restarted: while it is down every uplink is held, the oldest
 * dropped past queue_size, exactly; once it is back each gateway makes
 * exactly one attempt (its call waits for the channel), the router sees
 * one register per gateway over the channels' connections, and the held
 * uplinks arrive with the hold_time they spent waiting.
 */
static void
test_killed_and_restarted(void **state)
{
	(void)state;
	steady_traffic(2500);
	int checked = 0;
	check_uplinks(1, sent_by_each(), 1, 0, &checked);
	sync_metrics();
	double attempts = METRIC("router_connect_attempts_total", NULL, NULL);
	double full = METRIC("uplinks_dropped_total", "reason", "queue_full");
	double stale = METRIC("uplinks_dropped_total", "reason", "stale");

	assert_int_equal(th_router_kill(&router), 0);
	EXPECT_METRIC("gateways_connected", NULL, NULL, 0);
	uint32_t first = sent_by_each() + 1;
	const int burst = QUEUE_SIZE + 2;
	assert_int_equal(th_fleet_burst(&fleet, burst, 2000), 0);
	/* All of them in routerlink, none sendable: each gateway keeps its
	 * newest QUEUE_SIZE and drops 2. */
	sync_metrics();
	EXPECT_METRIC("uplinks_dropped_total", "reason", "queue_full",
	              full + GATEWAYS * (burst - QUEUE_SIZE));
	int64_t back_at = lf_wall_ms();
	assert_int_equal(th_router_restart(&router), 0);

	dropped += GATEWAYS * (burst - QUEUE_SIZE);
	assert_true(
	        th_fleet_wait_delivered(&fleet, &router, th_fleet_sent(&fleet) - dropped, WAIT_MS));
	int64_t restored_ms = lf_wall_ms() - back_at;
	check_uplinks(first, first + burst - QUEUE_SIZE - 1, 0, 0, &checked);
	check_uplinks(first + burst - QUEUE_SIZE, first + burst - 1, 1, back_at, &checked);
	assert_int_equal(th_fleet_defects(&fleet), 0);

	/* A quiet second more: nobody comes back twice. */
	usleep(1000 * 1000);
	cJSON *g = th_fleet_router_gateways(&router);
	for (int i = 0; i < fleet.n; i++) {
		assert_int_equal(th_fleet_gw_count(g, fleet.g[i].hex, "registers"), 1);
		assert_int_equal(th_fleet_gw_count(g, fleet.g[i].hex, "session_inits"), 1);
	}
	cJSON_Delete(g);
	assert_int_equal((int)th_router_stat(&router, "connections"), CHANNELS);
	assert_int_equal((int)th_router_stat(&router, "registers"), GATEWAYS);
	EXPECT_METRIC("router_connect_attempts_total", NULL, NULL, attempts + GATEWAYS);
	EXPECT_METRIC("uplinks_dropped_total", "reason", "stale", stale);
	print_message("kill: %d uplinks checked; %d held per gateway delivered %lld ms after the "
	              "restart; %d dropped (queue_full); %d attempts, %d registers over %d "
	              "connections\n",
	              checked, QUEUE_SIZE, (long long)restored_ms, GATEWAYS * (burst - QUEUE_SIZE),
	              GATEWAYS, GATEWAYS, CHANNELS);
	th_fleet_discard_control_events(&router);
}

/*
 * Frozen for 8 s under traffic (SIGSTOP): TCP takes what routerlink
 * writes, nothing fails, nothing reconnects; after SIGCONT every uplink
 * arrives once. Their hold_time is routerlink's own hold (none: the stream
 * was up), not the time they spent in the socket.
 */
static void
test_frozen_briefly(void **state)
{
	(void)state;
	sync_metrics();
	double attempts = METRIC("router_connect_attempts_total", NULL, NULL);
	uint32_t first = sent_by_each() + 1;
	assert_int_equal(th_fleet_traffic_start(&fleet, 1000), 0);
	usleep(1000 * 1000);
	assert_int_equal(th_router_pause(&router), 0);
	int64_t frozen_at = lf_wall_ms();
	/* 8 s, longer when the transit allowance stretches (valgrind): the
	 * uplinks counted below are those sent after the ones before the
	 * freeze could have reached the router, and 1 s before its end. */
	usleep((useconds_t)(6500 + TRANSIT_MS) * 1000);
	int64_t thawed_at = lf_wall_ms();
	assert_int_equal(th_router_resume(&router), 0);
	usleep(1500 * 1000);
	assert_int_equal(th_fleet_traffic_stop(&fleet), 0);
	assert_true(
	        th_fleet_wait_delivered(&fleet, &router, th_fleet_sent(&fleet) - dropped, WAIT_MS));
	int late = 0, checked = 0;
	for (int i = 0; i < fleet.n; i++) {
		uint32_t sent = th_fleet_sent_by(&fleet, i);
		for (uint32_t seq = first; seq <= sent; seq++) {
			const struct th_fleet_up u = th_fleet_up(&fleet, i, seq);
			assert_int_equal(u.delivered, 1);
			assert_true(u.hold_ms <= TRANSIT_MS);
			checked++;
			if (u.sent_ms > frozen_at + TRANSIT_MS && u.sent_ms + 1000 < thawed_at) {
				/* Sent well inside the freeze: at the router only after. */
				assert_true(u.router_ms >= thawed_at);
				late++;
			}
		}
	}
	assert_true(late > GATEWAYS * 4);
	assert_int_equal(th_fleet_defects(&fleet), 0);
	EXPECT_METRIC("router_connect_attempts_total", NULL, NULL, attempts);
	assert_int_equal((int)th_router_stat(&router, "registers"), GATEWAYS);
	print_message("freeze: %d uplinks delivered once each, %d of them sent while frozen; "
	              "no reconnect\n",
	              checked, late);
}

/* One gateway's refused registers since `since`, checked against the
 * schedule that starts at B_MIN (its stream had a session before). */
static void
check_refusals(const cJSON *g, int i, int64_t since, int64_t until, int *total)
{
	int64_t t[64];
	int n = th_fleet_register_times(g, fleet.g[i].hex, since, t, 64);
	int refused = th_fleet_gw_count(g, fleet.g[i].hex, "registers_refused");
	char why[256];
	/* The last register came after the release: accepted, but its wait
	 * still followed the schedule. */
	if (th_backoff_check(t, n, 2 * B_MIN, B_MAX, SLOP_LO, SLOP_HI, why, sizeof(why)) != 0) {
		fail_msg("gateway %d: %s", i, why);
	}
	int lo, hi, in_window = 0;
	th_backoff_count_bounds(until - t[0], 2 * B_MIN, B_MAX, SLOP_LO, SLOP_HI, &lo, &hi);
	for (int k = 0; k < n; k++) {
		in_window += t[k] <= until;
	}
	if (in_window < lo || in_window > hi) {
		fail_msg("gateway %d: %d registers in %lld ms; the schedule allows %d..%d", i,
		         in_window, (long long)(until - t[0]), lo, hi);
	}
	assert_int_equal(n, refused + 1);
	*total += refused;
}

/*
 * Every stream ended with the empty envelope, and registrations refused
 * (with the empty envelope too) for a while: the gateways back off,
 * doubling, each register counted at the router; the uplinks held over
 * queue_max_age (6 s) are dropped and counted; the ones still young go
 * out once the router accepts again.
 */
static void
test_empty_envelope_refusals_and_stale(void **state)
{
	(void)state;
	/* queue_max_age 6s from here on. */
	assert_int_equal(th_daemon_stop(&rl), 0);
	setenv("LORAFLEET_ROUTERLINK_QUEUE_MAX_AGE", "6s", 1);
	sent_before_start = th_fleet_sent(&fleet);
	int rc = th_routerlink_restart(&rl);
	unsetenv("LORAFLEET_ROUTERLINK_QUEUE_MAX_AGE");
	assert_int_equal(rc, 0);
	assert_true(wait_sessions(2, WAIT_MS));
	EXPECT_METRIC("gateways_connected", NULL, NULL, GATEWAYS);
	sync_metrics();
	EXPECT_METRIC("router_connect_attempts_total", NULL, NULL, GATEWAYS);
	double attempts = METRIC("router_connect_attempts_total", NULL, NULL);
	double stale = METRIC("uplinks_dropped_total", "reason", "stale");
	double full = METRIC("uplinks_dropped_total", "reason", "queue_full");
	size_t mark = th_daemon_log_mark(&rl);
	cJSON *before = th_fleet_router_gateways(&router);

	assert_int_equal(th_router_cmd(&router,
	                               "{\"cmd\":\"set\",\"refuse_register\":true,"
	                               "\"refuse_mode\":\"empty\"}",
	                               NULL, 0),
	                 0);
	int64_t ended_at = lf_wall_ms();
	cJSON *r = th_router_cmd_json(&router, "{\"cmd\":\"end_all\"}");
	assert_non_null(r);
	assert_int_equal((int)cJSON_GetObjectItem(r, "count")->valuedouble, GATEWAYS);
	cJSON_Delete(r);
	EXPECT_METRIC("gateways_connected", NULL, NULL, 0);

	/* Two uplinks each that will be too old by the time the router takes
	 * registrations again... */
	uint32_t first = sent_by_each() + 1;
	assert_int_equal(th_fleet_burst(&fleet, 2, 0), 0);
	EXPECT_METRIC("uplinks_dropped_total", "reason", "stale", stale + 2 * GATEWAYS);
	/* ...and two that will not. */
	assert_int_equal(th_fleet_burst(&fleet, 2, 0), 0);
	int64_t released_at = lf_wall_ms();
	assert_int_equal(
	        th_router_cmd(&router, "{\"cmd\":\"set\",\"refuse_register\":false}", NULL, 0), 0);
	dropped += 2 * GATEWAYS;
	assert_true(
	        th_fleet_wait_delivered(&fleet, &router, th_fleet_sent(&fleet) - dropped, WAIT_MS));
	assert_true(wait_sessions(3, WAIT_MS));
	int checked = 0;
	check_uplinks(first, first + 1, 0, 0, &checked);
	check_uplinks(first + 2, first + 3, 1, released_at, &checked);
	usleep(1000 * 1000);

	/* The reconnects, per gateway, against the schedule. */
	cJSON *g = th_fleet_router_gateways(&router);
	int refused = 0, registers = 0;
	for (int i = 0; i < fleet.n; i++) {
		check_refusals(g, i, ended_at, released_at, &refused);
		registers += th_fleet_gw_count(g, fleet.g[i].hex, "registers") -
		             th_fleet_gw_count(before, fleet.g[i].hex, "registers");
		assert_int_equal(th_fleet_gw_count(g, fleet.g[i].hex, "session_inits"), 3);
	}
	cJSON_Delete(g);
	cJSON_Delete(before);
	assert_int_equal(registers, refused + GATEWAYS);
	EXPECT_METRIC("router_connect_attempts_total", NULL, NULL, attempts + registers);
	EXPECT_METRIC("uplinks_dropped_total", "reason", "queue_full", full);
	/* Each empty envelope seen: the end_all's, and one per refusal. */
	assert_int_equal(th_daemon_log_count(&rl, mark, "the router sent the empty envelope"),
	                 GATEWAYS + refused);
	print_message("empty envelope + refusals for %lld ms: %d registers refused (%.1f per "
	              "gateway), %d stale uplinks dropped, %d delivered after the release\n",
	              (long long)(released_at - ended_at), refused, (double)refused / GATEWAYS,
	              2 * GATEWAYS, 2 * GATEWAYS);
	th_fleet_discard_control_events(&router);
}

/*
 * The router ends every stream 1 s after it opens, after the session (a
 * flapping router): a stream that did not last backoff_reset (3 s in the
 * harness) counts as a failure, so the waits double as for refusals and
 * the fleet does not come back every backoff_min. The first end (end_all,
 * of streams that had lasted) resets the backoff: one register per
 * 1 s + 200, 400, 800, ... up to 2000 ms, +- 30 %. After the router stops
 * killing, everyone stays connected.
 */
static void
test_streams_killed_after_the_session(void **state)
{
	(void)state;
	const int life = 1000, window = 8000;
	/* Let the streams last past backoff_reset, so that end_all resets. */
	usleep(3500 * 1000);
	cJSON *before = th_fleet_router_gateways(&router);
	assert_int_equal(
	        th_router_cmd(&router, "{\"cmd\":\"set\",\"kill_after_ms\":1000}", NULL, 0), 0);
	int64_t start = lf_wall_ms();
	assert_int_equal(th_router_cmd(&router, "{\"cmd\":\"end_all\"}", NULL, 0), 0);
	usleep((useconds_t)window * 1000);
	assert_int_equal(th_router_cmd(&router, "{\"cmd\":\"set\",\"kill_after_ms\":0}", NULL, 0),
	                 0);
	int64_t stop = lf_wall_ms();
	/* Streams opened before that still end once, then stay. */
	usleep((useconds_t)(life + B_MAX * 13 / 10 + SLOP_HI) * 1000);
	cJSON *g = th_fleet_router_gateways(&router);
	int total = 0, fewest = 1000;
	for (int i = 0; i < fleet.n; i++) {
		int64_t t[64];
		int n = th_fleet_register_times(g, fleet.g[i].hex, start, t, 64);
		/* One cycle: the stream's life, the wait (doubling from the
		 * second: the first stream of these did not last), the trip. */
		int64_t b = 2 * B_MIN;
		int in_window = 0;
		if (n < 1 || t[0] - start > B_MIN * 13 / 10 + SLOP_HI) {
			fail_msg("gateway %d: no register within backoff_min of end_all", i);
		}
		for (int k = 0; k + 1 < n; k++) {
			int64_t gap = t[k + 1] - t[k], spread = b * 3 / 10;
			int64_t shortest = life + b - spread - SLOP_LO;
			int64_t longest = life + b + spread + SLOP_HI;
			if (t[k + 1] <= stop && (gap < shortest || gap > longest)) {
				fail_msg("gateway %d: registers %d and %d %lld ms apart; the "
				         "schedule allows %lld..%lld ms (1 s + %lld ms +- 30%%)",
				         i, k, k + 1, (long long)gap, (long long)shortest,
				         (long long)longest, (long long)b);
			}
			b = 2 * b < B_MAX ? 2 * b : B_MAX;
		}
		for (int k = 0; k < n; k++) {
			in_window += t[k] <= stop;
		}
		/* 8 s hold at least 1 s + 400, 800, 1600 (+30 % and slack) after
		 * the first: 3 registers; with a reset after each it would be 6. */
		if (in_window < 3 || in_window > 5) {
			fail_msg("gateway %d: %d registers in %d ms; 3..5 fit the doubling", i,
			         in_window, window);
		}
		fewest = in_window < fewest ? in_window : fewest;
		total += n;
		assert_int_equal(th_fleet_gw_count(g, fleet.g[i].hex, "registers_refused"),
		                 th_fleet_gw_count(before, fleet.g[i].hex, "registers_refused"));
	}
	/* Quiet now: everyone connected, nobody registers again. */
	usleep(1000 * 1000);
	cJSON *after = th_fleet_router_gateways(&router);
	for (int i = 0; i < fleet.n; i++) {
		assert_int_equal(th_fleet_gw_count(after, fleet.g[i].hex, "registers"),
		                 th_fleet_gw_count(g, fleet.g[i].hex, "registers"));
	}
	cJSON_Delete(after);
	cJSON_Delete(g);
	cJSON_Delete(before);
	EXPECT_METRIC("gateways_connected", NULL, NULL, GATEWAYS);
	print_message("streams killed 1 s after opening for %lld ms: %d registers (%.1f per "
	              "gateway, fewest %d)\n",
	              (long long)(stop - start), total, (double)total / GATEWAYS, fewest);
}

static int
teardown(void **state)
{
	(void)state;
	th_fleet_close(&fleet);
	return th_routerlink_teardown(&router, &rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_killed_and_restarted),
	        cmocka_unit_test(test_frozen_briefly),
	        cmocka_unit_test(test_empty_envelope_refusals_and_stale),
	        cmocka_unit_test(test_streams_killed_after_the_session),
	};
	int failed = cmocka_run_group_tests_name("it_fault_router", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
