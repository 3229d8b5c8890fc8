/*
 * The Helium router refuses every registration (PERMISSION_DENIED after a
 * valid register, as HPR does for a gateway it will not serve) while 120
 * gateways send an uplink a second: no reconnect storm. Two routerlink
 * instances split the fleet (shard 0/2 and 1/2):
 * - A with the defaults, backoff 5 s doubling to 30 min;
 * - B with 200 ms doubling to 2 s, so that the cap is reached.
 * For every gateway the router's register times are checked against the
 * schedule (each wait b_k +- 30 %, b doubling from backoff_min to
 * backoff_max) and counted against the bounds that schedule allows, the
 * waits routerlink logged lie within the exact jitter bounds, and the
 * uplinks arriving meanwhile open no stream: attempts follow the timer
 * only. The fleet's streams all share the instances' 2 + 2 HTTP/2
 * connections. When the router accepts again, every gateway gets one
 * session at its next scheduled attempt (A's third wait is 20 s +- 30 %,
 * hence this test's length), its newest queue_size uplinks are delivered
 * with their hold_time and the rest counted as queue_full, exactly.
 */
#include "harness.h"
#include "shard.h"
#include "th_fleet.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GATEWAYS   120
#define EUI_BASE   0xaa555a00000b0000ULL
#define QUEUE_SIZE 5
#define WAIT_MS    30000
/* The slack for a slow machine stretches with LF_TEST_TIMEOUT_SCALE
 * (valgrind); the lower bounds, which catch storms, do not. */
#define TRANSIT_MS th_timeout_ms(1500)
#define SLOP_HI    th_timeout_ms(2500)
#define SLOP_LO    100
/* Released before any A gateway can make its 4th attempt (at 5 + 10 + 20
 * s, each -30 %, after its first: 24.5 s), so that each has at most one
 * wait left, the 20 s one. */
#define RELEASE_AFTER_MS 23000
#define MAX_TIMES        64

struct instance {
	const char *name;
	int64_t b_min, b_max;
	struct th_daemon d;
	int gateways;
};

static struct th_suite suite = {.name = "faultbackoff"};
static struct th_router router;
static struct instance inst[2] = {
        {.name = "it-fb-a", .b_min = 5000, .b_max = 30 * 60 * 1000},
        {.name = "it-fb-b", .b_min = 200, .b_max = 2000},
};
static struct th_fleet fleet;

static int
owner(int i)
{
	struct shard s0 = {0, 2};
	return shard_owns(&s0, fleet.g[i].eui) ? 0 : 1;
}

static int
setup(void **state)
{
	*state = &suite;
	if (th_suite_setup(state) != 0) {
		return -1;
	}
	th_mqtt_close(suite.obs);
	suite.obs = NULL;
	if (th_router_start(&router, &suite.env, 0) != 0 ||
	    th_router_cmd(&router, "{\"cmd\":\"set\",\"refuse_register\":true}", NULL, 0) != 0) {
		return -1;
	}
	int rc = 0;
	for (int k = 0; k < 2 && rc == 0; k++) {
		char extra[160];
		snprintf(extra, sizeof(extra),
		         "shard = %d/2\nqueue_size = %d\nmetrics_interval = 1s\nchannels = 2\n", k,
		         QUEUE_SIZE);
		if (k == 0) {
			/* The defaults, over the harness's short ones. */
			setenv("LORAFLEET_ROUTERLINK_BACKOFF_MIN", "5s", 1);
			setenv("LORAFLEET_ROUTERLINK_BACKOFF_MAX", "30m", 1);
		}
		rc = th_routerlink_start(&inst[k].d, &suite.env, &suite.broker, &router,
		                         inst[k].name, extra);
		unsetenv("LORAFLEET_ROUTERLINK_BACKOFF_MIN");
		unsetenv("LORAFLEET_ROUTERLINK_BACKOFF_MAX");
	}
	if (rc != 0 || th_fleet_open(&fleet, GATEWAYS, EUI_BASE, suite.bridge.udp_port) != 0) {
		return -1;
	}
	for (int i = 0; i < GATEWAYS; i++) {
		inst[owner(i)].gateways++;
	}
	int64_t deadline = lf_now_ms() + WAIT_MS;
	int found = 0;
	while (found < GATEWAYS && lf_now_ms() < deadline) {
		usleep(100 * 1000);
		found = 0;
		for (int k = 0; k < 2; k++) {
			char keys[TH_PATH_MAX];
			th_routerlink_keys_dir(&inst[k].d, keys, sizeof(keys));
			th_fleet_learn_keys(&fleet, keys); /* each finds its own */
		}
		for (int i = 0; i < GATEWAYS; i++) {
			found += fleet.g[i].hex[0] != '\0';
		}
	}
	return found == GATEWAYS && inst[0].gateways > 0 && inst[1].gateways > 0 ? 0 : -1;
}

/* The waits routerlink logged for one gateway, in order. */
static int
logged_waits(const struct instance *in, uint64_t eui, int64_t *w, int max)
{
	char *log = th_read_file(in->d.log_path, NULL);
	char needle[64];
	snprintf(needle, sizeof(needle), "gateway %016" PRIx64 ": router stream ", eui);
	int n = 0;
	for (char *p = log != NULL ? strstr(log, needle) : NULL; p != NULL;
	     p = strstr(p + 1, needle)) {
		char *eol = strchr(p, '\n');
		char *at = strstr(p, "; next attempt in ");
		long long ms;
		if (at != NULL && (eol == NULL || at < eol) &&
		    sscanf(at, "; next attempt in %lld ms", &ms) == 1 && n < max) {
			w[n++] = ms;
		}
	}
	free(log);
	return n;
}

static void
check_gateway(const cJSON *g, int i, int64_t released_at, int64_t *first_wait)
{
	const struct instance *in = &inst[owner(i)];
	const char *hex = fleet.g[i].hex;
	int64_t t[MAX_TIMES], w[MAX_TIMES];
	int n = th_fleet_register_times(g, hex, 0, t, MAX_TIMES);
	int refused = th_fleet_gw_count(g, hex, "registers_refused");
	char why[256];
	/* Refused until the release, then one accepted register and session. */
	assert_int_equal(n, refused + 1);
	assert_int_equal(th_fleet_gw_count(g, hex, "session_inits"), 1);
	if (th_backoff_check(t, n, in->b_min, in->b_max, SLOP_LO, SLOP_HI, why, sizeof(why)) != 0) {
		fail_msg("%s gateway %d: %s", in->name, i, why);
	}
	int lo, hi, in_window = 0;
	th_backoff_count_bounds(released_at - t[0], in->b_min, in->b_max, SLOP_LO, SLOP_HI, &lo,
	                        &hi);
	for (int k = 0; k < n; k++) {
		in_window += t[k] <= released_at;
	}
	if (in_window < lo || in_window > hi) {
		fail_msg("%s gateway %d: %d registers in %lld ms; the schedule allows %d..%d",
		         in->name, i, in_window, (long long)(released_at - t[0]), lo, hi);
	}
	/* One logged wait per refusal, each within its exact jitter bounds. */
	int nw = logged_waits(in, fleet.g[i].eui, w, MAX_TIMES);
	assert_int_equal(nw, refused);
	int64_t b = in->b_min;
	for (int k = 0; k < nw; k++) {
		if (w[k] < b - b * 3 / 10 || w[k] > b + b * 3 / 10) {
			fail_msg("%s gateway %d: wait %d was %lld ms, backoff %lld ms +- 30 %%",
			         in->name, i, k, (long long)w[k], (long long)b);
		}
		b = 2 * b < in->b_max ? 2 * b : in->b_max;
	}
	*first_wait = w[0];
}

static void
test_refused_registrations_back_off(void **state)
{
	(void)state;
	/* The first refusals are under way: every gateway has registered. */
	int64_t deadline = lf_now_ms() + WAIT_MS;
	cJSON *g = NULL;
	int64_t first = INT64_MAX;
	for (int ready = 0; ready < GATEWAYS && lf_now_ms() < deadline;) {
		usleep(100 * 1000);
		cJSON_Delete(g);
		g = th_fleet_router_gateways(&router);
		ready = 0;
		for (int i = 0; i < GATEWAYS; i++) {
			ready += th_fleet_gw_count(g, fleet.g[i].hex, "registers") > 0;
		}
	}
	for (int i = 0; i < GATEWAYS; i++) {
		int64_t t0;
		assert_int_equal(th_fleet_register_times(g, fleet.g[i].hex, 0, &t0, 1), 1);
		first = t0 < first ? t0 : first;
	}
	cJSON_Delete(g);

	/* Traffic until just before the release, then every uplink in. */
	assert_int_equal(th_fleet_traffic_start(&fleet, 1000), 0);
	int64_t stop_at = first + RELEASE_AFTER_MS - 1500;
	while (lf_wall_ms() < stop_at) {
		usleep(100 * 1000);
	}
	assert_int_equal(th_fleet_traffic_stop(&fleet), 0);
	uint32_t per_gateway = th_fleet_sent_by(&fleet, 0);
	assert_true(per_gateway > QUEUE_SIZE);
	for (int k = 0; k < 2; k++) {
		TH_RL_EXPECT_METRIC(&suite.broker, inst[k].name, "uplinks_received_total", NULL,
		                    NULL, per_gateway * inst[k].gateways, WAIT_MS);
	}
	while (lf_wall_ms() < first + RELEASE_AFTER_MS) {
		usleep(20 * 1000);
	}
	int64_t released_at = lf_wall_ms();
	assert_int_equal(
	        th_router_cmd(&router, "{\"cmd\":\"set\",\"refuse_register\":false}", NULL, 0), 0);

	/* Everyone gets a session at its next attempt; A's is up to 20 s +
	 * 30 % after its third. */
	uint64_t want = (uint64_t)GATEWAYS * QUEUE_SIZE;
	assert_true(th_fleet_wait_delivered(&fleet, &router, want, 40000));
	usleep(1000 * 1000); /* and nobody comes back */
	int64_t settled_ms = lf_wall_ms() - released_at;

	g = th_fleet_router_gateways(&router);
	int64_t wmin[2] = {INT64_MAX, INT64_MAX}, wmax[2] = {0, 0};
	int registers[2] = {0, 0};
	for (int i = 0; i < GATEWAYS; i++) {
		int64_t w0;
		check_gateway(g, i, released_at, &w0);
		int k = owner(i);
		wmin[k] = w0 < wmin[k] ? w0 : wmin[k];
		wmax[k] = w0 > wmax[k] ? w0 : wmax[k];
		registers[k] += th_fleet_gw_count(g, fleet.g[i].hex, "registers");
		/* The newest queue_size uplinks, once each; the others dropped. */
		uint32_t sent = th_fleet_sent_by(&fleet, i);
		for (uint32_t seq = 1; seq <= sent; seq++) {
			const struct th_fleet_up u = th_fleet_up(&fleet, i, seq);
			int delivered = seq > sent - QUEUE_SIZE;
			assert_int_equal(u.delivered, delivered);
			int64_t span = u.router_ms - u.sent_ms;
			if (delivered &&
			    (u.hold_ms > span + 2 || u.hold_ms < span - 2 * TRANSIT_MS ||
			     u.hold_ms < released_at - u.sent_ms - TRANSIT_MS)) {
				fail_msg("gateway %d uplink %u: hold_time %lld ms, %lld ms from "
				         "sending to the router",
				         i, seq, (long long)u.hold_ms, (long long)span);
			}
		}
	}
	cJSON_Delete(g);
	assert_int_equal(th_fleet_defects(&fleet), 0);
	/* The jitter spreads the fleet: first waits cover most of +-30 %. */
	for (int k = 0; k < 2; k++) {
		assert_true(wmax[k] - wmin[k] >= inst[k].b_min * 3 / 10);
		const char *name = inst[k].name;
		TH_RL_EXPECT_METRIC(&suite.broker, name, "router_connect_attempts_total", NULL,
		                    NULL, registers[k], WAIT_MS);
		TH_RL_EXPECT_METRIC(&suite.broker, name, "uplinks_dropped_total", "reason",
		                    "queue_full", (per_gateway - QUEUE_SIZE) * inst[k].gateways,
		                    WAIT_MS);
		TH_RL_EXPECT_METRIC(&suite.broker, name, "uplinks_dropped_total", "reason", "stale",
		                    0, WAIT_MS);
		TH_RL_EXPECT_METRIC(&suite.broker, name, "gateways_connected", NULL, NULL,
		                    inst[k].gateways, WAIT_MS);
		print_message("%s (backoff %lld ms..%lld ms): %d gateways, %d registers in all "
		              "(%.2f per gateway), first waits %lld..%lld ms\n",
		              inst[k].name, (long long)inst[k].b_min, (long long)inst[k].b_max,
		              inst[k].gateways, registers[k],
		              (double)registers[k] / inst[k].gateways, (long long)wmin[k],
		              (long long)wmax[k]);
	}
	/* Every stream of both instances over their 2 + 2 connections. */
	assert_int_equal((int)th_router_stat(&router, "connections"), 4);
	print_message("refused for %d ms, all %d sessions %lld ms after the release; %u uplinks "
	              "per gateway, %d delivered, %d dropped (queue_full)\n",
	              RELEASE_AFTER_MS, GATEWAYS, (long long)settled_ms, per_gateway,
	              GATEWAYS * QUEUE_SIZE, GATEWAYS * (int)(per_gateway - QUEUE_SIZE));
}

static int
teardown(void **state)
{
	(void)state;
	th_fleet_close(&fleet);
	int rc = th_daemon_stop(&inst[0].d);
	return th_routerlink_teardown(&router, &inst[1].d) == 0 && rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refused_registrations_back_off),
	};
	int failed = cmocka_run_group_tests_name("it_fault_router_backoff", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
