/* apigw's fleet model: retained state and hotspot messages, live counts,
 * the gateway JSON (multi-gateway's fields plus ours). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"

#define EUI 0xaa555a0000000101ULL
#define STATE_ON                                                                                   \
	"{\"mac\":\"aa555a0000000101\",\"online\":true,\"addr\":\"192.0.2.10:41234\","             \
	"\"protocol\":2,\"bridge\":\"edge-1\",\"since\":\"2026-11-21T10:00:00.123456Z\","          \
	"\"last_seen\":\"2026-11-21T10:00:05.000000Z\"}"
#define HOTSPOT_CONNECTED                                                                          \
	"{\"mac\":\"aa555a0000000101\",\"public_key\":\"13aeUKNj\",\"region\":\"US915\","          \
	"\"router\":\"connected\",\"connected_since\":\"2026-11-21T10:00:00.000000Z\","            \
	"\"uplinks\":42,\"downlinks\":3,\"last_uplink\":\"2026-11-21T10:05:00.000000Z\"}"

/* 2026-11-21T10:10:00Z */
static const int64_t NOW = 1795255800000LL;

static int
apply_state(struct fleet *f, const char *json, struct fleet_change *ch)
{
	char err[200];
	return fleet_apply_state(f, EUI, json, strlen(json), ch, err, sizeof(err));
}

static int
apply_hotspot(struct fleet *f, const char *json, struct fleet_change *ch)
{
	char err[200];
	return fleet_apply_hotspot(f, EUI, json, strlen(json), ch, err, sizeof(err));
}

static void
test_parse_time(void **state)
{
	int64_t ms;
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00.123456Z", &ms), 0);
	assert_int_equal(ms, 1795255200123LL);
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795255200000LL);
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00.5Z", &ms), 0);
	assert_int_equal(ms, 1795255200500LL);
	assert_int_equal(fleet_parse_time("2026-11-21 10:00:00Z", &ms), -1);
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00", &ms), -1);
	assert_int_equal(fleet_parse_time("2026-13-21T10:00:00Z", &ms), -1);
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00.Z", &ms), -1);
	assert_int_equal(fleet_parse_time("+026-11-21T10:00:00Z", &ms), -1);
	assert_int_equal(fleet_parse_time("2026-11-21T10:00:00Zx", &ms), -1);
	assert_int_equal(fleet_parse_time(NULL, &ms), -1);
}

static void
test_state_online_offline(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	assert_null(fleet_get(&f, EUI));
	assert_int_equal(apply_state(&f, STATE_ON, &ch), 0);
	assert_true(ch.online_changed);
	assert_true(ch.online);
	const struct fleet_gw *gw = fleet_get(&f, EUI);
	assert_non_null(gw);
	assert_string_equal(gw->mac, "aa555a0000000101");
	assert_string_equal(gw->addr, "192.0.2.10:41234");
	assert_string_equal(gw->bridge, "edge-1");
	assert_int_equal(gw->protocol, 2);
	assert_int_equal(gw->since_ms, 1795255200123LL);
	assert_int_equal(gw->connects, 1);
	/* The same state again (a new address would do this): no change. */
	assert_int_equal(apply_state(&f, STATE_ON, &ch), 0);
	assert_false(ch.online_changed);
	assert_int_equal(apply_state(&f, "{\"online\":false,\"addr\":null}", &ch), 0);
	assert_true(ch.online_changed);
	assert_false(ch.online);
	assert_string_equal(gw->addr, "");
	assert_int_equal(gw->disconnects, 1);
	fleet_free(&f);
}

static void
test_bad_payloads_change_nothing(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	char err[200] = "";
	static const char *const bad[] = {
	        "not json",
	        "[1,2]",
	        "{}",
	        "{\"online\":\"yes\"}",
	        "{\"online\":true,\"since\":\"yesterday\"}",
	        "{\"online\":true,\"protocol\":7}",
	        "{\"online\":true,\"addr\":5}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		        fleet_apply_state(&f, EUI, bad[i], strlen(bad[i]), &ch, err, sizeof(err)),
		        -1);
		assert_true(err[0] != '\0');
		assert_null(fleet_get(&f, EUI));
	}
	assert_int_equal(fleet_apply_state(&f, EUI, "{}", 2, &ch, err, sizeof(err)), -1);
	assert_string_equal(err, "online: missing");
	const char *no_router = "{\"public_key\":null}";
	assert_int_equal(
	        fleet_apply_hotspot(&f, EUI, no_router, strlen(no_router), &ch, err, sizeof(err)),
	        -1);
	assert_string_equal(err, "router: missing");
	const char *negative = "{\"router\":\"connected\",\"uplinks\":-1}";
	assert_int_equal(
	        fleet_apply_hotspot(&f, EUI, negative, strlen(negative), &ch, err, sizeof(err)),
	        -1);
	assert_null(fleet_get(&f, EUI));
	fleet_free(&f);
}

static void
test_cleared_retained_hides_the_gateway(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	assert_int_equal(apply_state(&f, STATE_ON, &ch), 0);
	assert_int_equal(apply_hotspot(&f, HOTSPOT_CONNECTED, &ch), 0);
	assert_int_equal(apply_state(&f, "", &ch), 0);
	assert_true(ch.online_changed);
	assert_non_null(fleet_get(&f, EUI)); /* the hotspot still says it exists */
	assert_int_equal(apply_hotspot(&f, "", &ch), 0);
	assert_true(ch.router_changed);
	assert_string_equal(ch.router_before, "connected");
	assert_null(fleet_get(&f, EUI));
	cJSON *list = fleet_list_json(&f, NOW);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(list, "gateways")), 0);
	assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 0);
	cJSON_Delete(list);
	fleet_free(&f);
}

static void
test_counts_are_routerlinks_plus_live(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	/* Traffic for an unknown gateway creates nothing. */
	fleet_note_uplink(&f, EUI, NOW);
	assert_null(fleet_get(&f, EUI));
	assert_int_equal(apply_hotspot(&f, HOTSPOT_CONNECTED, &ch), 0);
	assert_true(ch.router_changed);
	assert_string_equal(ch.router_before, "");
	const struct fleet_gw *gw = fleet_get(&f, EUI);
	assert_int_equal(fleet_gw_uplinks(gw), 42);
	fleet_note_uplink(&f, EUI, NOW - 2000);
	fleet_note_uplink(&f, EUI, NOW - 1000);
	fleet_note_downlink(&f, EUI);
	assert_int_equal(fleet_gw_uplinks(gw), 44);
	assert_int_equal(fleet_gw_downlinks(gw), 4);
	assert_int_equal(fleet_gw_last_uplink_ms(gw), NOW - 1000);
	/* routerlink's next message counts them itself. */
	const char *next = "{\"router\":\"connected\",\"uplinks\":44,\"downlinks\":4}";
	assert_int_equal(apply_hotspot(&f, next, &ch), 0);
	assert_false(ch.router_changed);
	assert_int_equal(fleet_gw_uplinks(gw), 44);
	assert_int_equal(fleet_gw_downlinks(gw), 4);
	fleet_free(&f);
}

static void
test_gateway_json(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	assert_int_equal(apply_state(&f, STATE_ON, &ch), 0);
	assert_int_equal(apply_hotspot(&f, HOTSPOT_CONNECTED, &ch), 0);
	fleet_note_position(&f, EUI, 46.24, 3.2523, true, 145);
	cJSON *full = fleet_gateway_json(fleet_get(&f, EUI), NOW);
	char *text = cJSON_PrintUnformatted(full);
	cJSON_Delete(full);
	assert_string_equal(
	        text,
	        "{\"mac\":\"aa555a0000000101\",\"public_key\":\"13aeUKNj\",\"region\":\"US915\","
	        "\"connected\":true,\"connected_seconds\":600,\"last_uplink_seconds_ago\":300,"
	        "\"uplink_count\":42,\"downlink_count\":3,\"latitude\":46.24,\"longitude\":3.2523,"
	        "\"altitude\":145,\"online\":true,\"addr\":\"192.0.2.10:41234\",\"protocol\":2,"
	        "\"bridge\":\"edge-1\",\"since\":\"2026-11-21T10:00:00.123000Z\","
	        "\"last_seen\":\"2026-11-21T10:00:05.000000Z\",\"router\":\"connected\","
	        "\"connected_since\":\"2026-11-21T10:00:00.000000Z\","
	        "\"last_uplink\":\"2026-11-21T10:05:00.000000Z\"}");
	cJSON_free(text);
	/* Not connected: no connected_seconds; no position: no lat/long keys. */
	assert_int_equal(apply_hotspot(&f, "{\"router\":\"backoff\",\"public_key\":null}", &ch), 0);
	cJSON *o = fleet_gateway_json(fleet_get(&f, EUI), NOW);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(o, "connected")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "connected_seconds")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "public_key")));
	assert_string_equal(cJSON_GetObjectItem(o, "router")->valuestring, "backoff");
	cJSON_Delete(o);
	fleet_free(&f);
}

static void
test_list_sorted_with_counts(void **state)
{
	struct fleet f;
	fleet_init(&f);
	struct fleet_change ch;
	char err[200];
	const char *on = "{\"online\":true}", *off = "{\"online\":false}";
	assert_int_equal(fleet_apply_state(&f, 3, on, strlen(on), &ch, err, sizeof(err)), 0);
	assert_int_equal(fleet_apply_state(&f, 1, off, strlen(off), &ch, err, sizeof(err)), 0);
	assert_int_equal(fleet_apply_state(&f, 2, on, strlen(on), &ch, err, sizeof(err)), 0);
	const char *hs = "{\"router\":\"connected\"}";
	assert_int_equal(fleet_apply_hotspot(&f, 1, hs, strlen(hs), &ch, err, sizeof(err)), 0);
	cJSON *list = fleet_list_json(&f, NOW);
	const cJSON *arr = cJSON_GetObjectItem(list, "gateways");
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "mac")->valuestring,
	                    "0000000000000001");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 2), "mac")->valuestring,
	                    "0000000000000003");
	assert_int_equal(cJSON_GetObjectItem(list, "total")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(list, "online")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(list, "connected")->valueint, 1);
	cJSON_Delete(list);
	fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_time),
	        cmocka_unit_test(test_state_online_offline),
	        cmocka_unit_test(test_bad_payloads_change_nothing),
	        cmocka_unit_test(test_cleared_retained_hides_the_gateway),
	        cmocka_unit_test(test_counts_are_routerlinks_plus_live),
	        cmocka_unit_test(test_gateway_json),
	        cmocka_unit_test(test_list_sorted_with_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
