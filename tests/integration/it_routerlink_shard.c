/*
 * Two routerlink instances on one broker, one fake router and one shared
 * keys directory, `shard = 0/2` and `shard = 1/2`: every gateway gets
 * exactly one owner (one key, one stream, no give-away between the two),
 * its uplinks reach the router once, each RPC request gets its answer from
 * the owner alone (and a malformed one from instance 0 alone), and a
 * restarted instance picks up only its own keys from the shared directory.
 */
#include "harness.h"
#include "lf/eui.h"
#include "shard.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS  15000
#define GATEWAYS 8

static struct th_suite suite = {.name = "rlshard"};
static struct th_router router;
static struct th_daemon rl[2];
static const char *const instance[2] = {"it-s0", "it-s1"};
static char keys_dir[TH_PATH_MAX];
static uint64_t euis[GATEWAYS];

static unsigned
owner(uint64_t eui)
{
	struct shard s0 = {0, 2};
	return shard_owns(&s0, eui) ? 0 : 1;
}

static int
setup(void **state)
{
	*state = &suite;
	if (th_suite_setup(state) != 0) {
		return -1;
	}
	struct th_suite *s = *state;
	th_env_path(&s->env, "keys-shared", keys_dir, sizeof(keys_dir));
	/* One keys directory for both, as on shared storage: the environment
	 * overrides the harness's per-instance keys_dir. */
	setenv("LORAFLEET_ROUTERLINK_KEYS_DIR", keys_dir, 1);
	int rc = th_router_start(&router, &s->env, 0);
	for (int i = 0; i < 2 && rc == 0; i++) {
		char extra[96];
		snprintf(extra, sizeof(extra), "shard = %d/2\nmetrics_interval = 1s\n", i);
		rc = th_routerlink_start(&rl[i], &s->env, &s->broker, &router, instance[i], extra);
	}
	unsetenv("LORAFLEET_ROUTERLINK_KEYS_DIR");
	/* Gateways numbered in sequence, as fleets do; both shards get some. */
	unsigned per_owner[2] = {0};
	for (int g = 0; g < GATEWAYS; g++) {
		euis[g] = 0xaa555a0000005000ULL + (uint64_t)g;
		per_owner[owner(euis[g])]++;
	}
	return rc == 0 && per_owner[0] > 0 && per_owner[1] > 0 ? 0 : -1;
}

static void
test_each_gateway_has_one_owner(void **state)
{
	struct th_suite *s = *state;
	struct th_mqtt *m = th_mqtt_connect(&s->broker, NULL, true, WAIT_MS);
	assert_non_null(m);
	for (int g = 0; g < GATEWAYS; g++) {
		char mac[17], topic[64];
		lf_eui_format(euis[g], mac);
		snprintf(topic, sizeof(topic), "lorawan/%s/state", mac);
		assert_int_equal(th_mqtt_publish(m, topic, "{\"online\":true}", 15, 1, true), 0);
	}
	/* A session per gateway, and no more. */
	for (int n = 0; n < GATEWAYS; n++) {
		struct th_router_event *e =
		        th_router_wait_event(&router, "session_init", NULL, WAIT_MS);
		assert_non_null(e);
		th_router_event_free(e);
	}
	usleep(500 * 1000);
	assert_int_equal(th_router_count_events(&router, "session_init", NULL), 0);
	assert_int_equal(th_router_count_events(&router, "give_away", NULL), 0);
	assert_int_equal(th_routerlink_count_keys(keys_dir), GATEWAYS);
	/* Made by their owner. */
	for (int g = 0; g < GATEWAYS; g++) {
		char pattern[80];
		snprintf(pattern, sizeof(pattern), "gateway %016llx: new Hotspot key",
		         (unsigned long long)euis[g]);
		assert_int_equal(th_daemon_log_count(&rl[owner(euis[g])], 0, pattern), 1);
		assert_int_equal(th_daemon_log_count(&rl[1 - owner(euis[g])], 0, pattern), 0);
	}

	/* Uplinks reach the router once each. */
	th_router_discard_events(&router, "packet", NULL);
	for (int g = 0; g < GATEWAYS; g++) {
		char mac[17], topic[64], up[512], at[LF_RFC3339_LEN];
		lf_eui_format(euis[g], mac);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		lf_format_rfc3339(&now, at);
		snprintf(topic, sizeof(topic), "lorawan/%s/up", mac);
		snprintf(
		        up, sizeof(up),
		        "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":{\"tmst\":%d,\"freq\":904."
		        "3,"
		        "\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"codr\":\"4/5\","
		        "\"rssi\":-70,\"lsnr\":9.0,\"size\":13,\"data\":\"QAQDAgEAAQABqrvM3Q==\"}}",
		        mac, at, 1000 + g);
		assert_int_equal(th_mqtt_publish_str(m, topic, up), 0);
	}
	th_mqtt_close(m);
	for (int n = 0; n < GATEWAYS; n++) {
		struct th_router_event *e = th_router_wait_event(&router, "packet", NULL, WAIT_MS);
		assert_non_null(e);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
		th_router_event_free(e);
	}
	usleep(500 * 1000);
	assert_int_equal(th_router_count_events(&router, "packet", NULL), 0);
}

static void
test_rpc_answered_by_the_owner_alone(void **state)
{
	struct th_suite *s = *state;
	double other0 = TH_RL_METRIC(&s->broker, instance[0], "rpc_requests_total", "result",
	                             "other_shard");
	double other1 = TH_RL_METRIC(&s->broker, instance[1], "rpc_requests_total", "result",
	                             "other_shard");
	unsigned owned[2] = {0};
	for (int g = 0; g < GATEWAYS; g++) {
		char req[64];
		snprintf(req, sizeof(req), "{\"mac\":\"%016llx\"}", (unsigned long long)euis[g]);
		char *reply = th_rpc_request(&s->broker, "packets", req, WAIT_MS);
		assert_non_null(reply);
		cJSON *r = TH_PARSE(reply);
		assert_int_equal((int)cJSON_GetObjectItem(r, "status")->valuedouble, 200);
		cJSON_Delete(r);
		free(reply);
		owned[owner(euis[g])]++;
	}
	/* Named no gateway: instance 0 answers, instance 1 stays silent. */
	char *reply = th_rpc_request(&s->broker, "packets", "{\"nomac\":1}", WAIT_MS);
	assert_non_null(reply);
	cJSON *r = TH_PARSE(reply);
	assert_int_equal((int)cJSON_GetObjectItem(r, "status")->valuedouble, 400);
	cJSON_Delete(r);
	free(reply);
	/* Each instance stayed silent for the other's gateways. */
	TH_RL_EXPECT_METRIC(&s->broker, instance[0], "rpc_requests_total", "result", "other_shard",
	                    other0 + owned[1], WAIT_MS);
	TH_RL_EXPECT_METRIC(&s->broker, instance[1], "rpc_requests_total", "result", "other_shard",
	                    other1 + owned[0] + 1, WAIT_MS);
}

static void
test_restart_loads_only_its_own_keys(void **state)
{
	(void)state;
	unsigned mine = 0;
	for (int g = 0; g < GATEWAYS; g++) {
		mine += owner(euis[g]) == 1;
	}
	size_t mark = th_daemon_log_mark(&rl[1]);
	assert_int_equal(th_daemon_stop(&rl[1]), 0);
	th_router_discard_events(&router, "register", NULL);
	setenv("LORAFLEET_ROUTERLINK_KEYS_DIR", keys_dir, 1);
	int rc = th_routerlink_restart(&rl[1]);
	unsetenv("LORAFLEET_ROUTERLINK_KEYS_DIR");
	assert_int_equal(rc, 0);
	char started[96];
	snprintf(started, sizeof(started), "routerlink it-s1 started .* %u gateway\\(s\\)", mine);
	assert_int_equal(th_daemon_wait_log(&rl[1], mark, started, WAIT_MS), 0);
	/* Its gateways register again; instance 0's streams are untouched. */
	for (unsigned n = 0; n < mine; n++) {
		struct th_router_event *e =
		        th_router_wait_event(&router, "register", NULL, WAIT_MS);
		assert_non_null(e);
		th_router_event_free(e);
	}
	usleep(500 * 1000);
	assert_int_equal(th_router_count_events(&router, "register", NULL), 0);
	assert_int_equal(th_router_count_events(&router, "give_away", NULL), 0);
	assert_int_equal(th_routerlink_count_keys(keys_dir), GATEWAYS);
}

static int
teardown(void **state)
{
	(void)state;
	int rc = th_daemon_stop(&rl[0]);
	return th_routerlink_teardown(&router, &rl[1]) == 0 && rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_each_gateway_has_one_owner),
	        cmocka_unit_test(test_rpc_answered_by_the_owner_alone),
	        cmocka_unit_test(test_restart_loads_only_its_own_keys),
	};
	int failed = cmocka_run_group_tests_name("it_routerlink_shard", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
