/* apigw's Prometheus rendering of the daemons' retained snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lf/metrics.h"
#include "prom.h"

static const char BRIDGE_A[] =
        "{\"families\":[{\"name\":\"uplinks_published_total\",\"type\":\"counter\","
        "\"help\":\"Uplinks published\",\"series\":[{\"labels\":{},\"value\":1234}]},"
        "{\"name\":\"udp_invalid_total\",\"type\":\"counter\",\"help\":\"Bad datagrams, by "
        "reason\",\"series\":[{\"labels\":{\"reason\":\"short\"},\"value\":2},"
        "{\"labels\":{\"reason\":\"a\\\"b\\\\c\\nd\"},\"value\":1}]}]}";
static const char BRIDGE_B[] =
        "{\"families\":[{\"name\":\"uplinks_published_total\",\"type\":\"counter\","
        "\"help\":\"Uplinks published\",\"series\":[{\"labels\":{},\"value\":7}]}]}";

static char *
render(struct prom_store *s, const struct fleet *f, struct prom_stats *stats)
{
	struct abuf out;
	abuf_init(&out);
	cJSON *self = cJSON_Parse("{\"families\":[]}");
	prom_render(s, "apigw", "api1", self, f, &out, stats);
	cJSON_Delete(self);
	return abuf_take(&out, NULL);
}

static void
test_one_header_per_family_across_instances(void **state)
{
	struct prom_store s;
	prom_store_init(&s);
	struct fleet f;
	fleet_init(&f);
	char err[200];
	/* Published in the "wrong" order: the output is sorted by instance. */
	assert_int_equal(prom_store_snapshot(&s, "bridge", "edge-2", BRIDGE_B, strlen(BRIDGE_B),
	                                     err, sizeof(err)),
	                 0);
	assert_int_equal(prom_store_snapshot(&s, "bridge", "edge-1", BRIDGE_A, strlen(BRIDGE_A),
	                                     err, sizeof(err)),
	                 0);
	assert_int_equal(
	        prom_store_state(&s, "bridge", "edge-1", "{\"online\":true}", 15, err, sizeof(err)),
	        0);
	assert_int_equal(prom_store_state(&s, "bridge", "edge-2", "{\"online\":false}", 16, err,
	                                  sizeof(err)),
	                 0);
	struct prom_stats stats = {0};
	char *text = render(&s, &f, &stats);
	const char *want =
	        "# HELP lorafleet_bridge_uplinks_published_total Uplinks published\n"
	        "# TYPE lorafleet_bridge_uplinks_published_total counter\n"
	        "lorafleet_bridge_uplinks_published_total{instance=\"edge-1\"} 1234\n"
	        "lorafleet_bridge_uplinks_published_total{instance=\"edge-2\"} 7\n"
	        "# HELP lorafleet_bridge_udp_invalid_total Bad datagrams, by reason\n"
	        "# TYPE lorafleet_bridge_udp_invalid_total counter\n"
	        "lorafleet_bridge_udp_invalid_total{instance=\"edge-1\",reason=\"a\\\"b\\\\c\\nd\"}"
	        " 1\n"
	        "lorafleet_bridge_udp_invalid_total{instance=\"edge-1\",reason=\"short\"} 2\n"
	        "# HELP lorafleet_service_up ";
	assert_memory_equal(text, want, strlen(want));
	/* apigw itself is up whether or not its own state came back yet. */
	assert_non_null(strstr(text,
	                       "lorafleet_service_up{service=\"bridge\",instance=\"edge-1\"} 1\n"
	                       "lorafleet_service_up{service=\"bridge\",instance=\"edge-2\"} 0\n"
	                       "lorafleet_service_up{service=\"apigw\",instance=\"api1\"} 1\n"));
	assert_int_equal(stats.skipped, 0);
	free(text);
	/* A cleared retained snapshot removes the instance's series. */
	assert_int_equal(prom_store_snapshot(&s, "bridge", "edge-2", "", 0, err, sizeof(err)), 0);
	text = render(&s, &f, &stats);
	assert_null(strstr(text, "edge-2\"} 7"));
	free(text);
	prom_store_free(&s);
	fleet_free(&f);
}

static void
test_untrusted_snapshots(void **state)
{
	struct prom_store s;
	prom_store_init(&s);
	struct fleet f;
	fleet_init(&f);
	char err[200];
	assert_int_equal(prom_store_snapshot(&s, "bridge", "x", "nope", 4, err, sizeof(err)), -1);
	assert_int_equal(prom_store_snapshot(&s, "bad-name", "x", BRIDGE_B, strlen(BRIDGE_B), err,
	                                     sizeof(err)),
	                 -1);
	assert_int_equal(prom_store_snapshot(&s, "gateway", "x", BRIDGE_B, strlen(BRIDGE_B), err,
	                                     sizeof(err)),
	                 -1);
	static const char evil[] =
	        "{\"families\":["
	        "{\"name\":\"bad name\",\"type\":\"counter\",\"help\":\"\",\"series\":[]},"
	        "{\"name\":\"ok_total\",\"type\":\"histogram\",\"help\":\"\",\"series\":[]},"
	        "{\"name\":\"g\",\"type\":\"gauge\",\"help\":\"line1\\nline2\",\"series\":["
	        "{\"labels\":{\"instance\":\"spoof\"},\"value\":1},"
	        "{\"labels\":{\"bad-key\":\"v\"},\"value\":1},"
	        "{\"labels\":{\"k\":5},\"value\":1},"
	        "{\"labels\":{},\"value\":\"1\"},"
	        "{\"labels\":{\"k\":\"v\"},\"value\":2.5},"
	        "{\"labels\":{\"k\":\"v\"},\"value\":3}]},"
	        "{\"name\":\"g\",\"type\":\"counter\",\"help\":\"\",\"series\":[]},"
	        "5]}";
	assert_int_equal(
	        prom_store_snapshot(&s, "routerlink", "rl1", evil, strlen(evil), err, sizeof(err)),
	        0);
	struct prom_stats stats = {0};
	char *text = render(&s, &f, &stats);
	const char *want = "# HELP lorafleet_routerlink_g line1\\nline2\n"
	                   "# TYPE lorafleet_routerlink_g gauge\n"
	                   "lorafleet_routerlink_g{instance=\"rl1\",k=\"v\"} 2.5\n"
	                   "# HELP lorafleet_service_up";
	assert_memory_equal(text, want, strlen(want));
	/* bad name, histogram, 4 bad series, 1 repeated series, g again, 5 */
	assert_int_equal(stats.skipped, 9);
	free(text);
	prom_store_free(&s);
	fleet_free(&f);
}

static void
test_self_and_gateways(void **state)
{
	struct prom_store s;
	prom_store_init(&s);
	struct fleet f;
	fleet_init(&f);
	char err[200];
	/* apigw's own retained snapshot is replaced by its live registry. */
	assert_int_equal(prom_store_snapshot(&s, "apigw", "api1", BRIDGE_B, strlen(BRIDGE_B), err,
	                                     sizeof(err)),
	                 0);
	struct fleet_change ch;
	const char *st = "{\"online\":true}";
	assert_int_equal(
	        fleet_apply_state(&f, 0xaa555a0000000101ULL, st, strlen(st), &ch, err, sizeof(err)),
	        0);
	const char *hs = "{\"router\":\"connected\",\"uplinks\":5,\"downlinks\":1,"
	                 "\"last_uplink\":\"2026-11-21T10:00:00.500000Z\"}";
	assert_int_equal(fleet_apply_hotspot(&f, 0xaa555a0000000101ULL, hs, strlen(hs), &ch, err,
	                                     sizeof(err)),
	                 0);
	struct lf_metrics *reg = lf_metrics_new();
	lf_metric_add(lf_metrics_counter(reg, "http_requests_total", "HTTP requests"), 3);
	cJSON *self = lf_metrics_snapshot_json(reg);
	struct abuf out;
	abuf_init(&out);
	struct prom_stats stats = {0};
	prom_render(&s, "apigw", "api1", self, &f, &out, &stats);
	char *text = abuf_take(&out, NULL);
	assert_null(strstr(text, "lorafleet_apigw_uplinks_published_total"));
	assert_non_null(strstr(text, "lorafleet_apigw_http_requests_total{instance=\"api1\"} 3\n"));
	assert_non_null(strstr(text, "lorafleet_gateway_online{mac=\"aa555a0000000101\"} 1\n"));
	assert_non_null(strstr(text, "lorafleet_gateway_connected{mac=\"aa555a0000000101\"} 1\n"));
	assert_non_null(
	        strstr(text, "lorafleet_gateway_uplinks_total{mac=\"aa555a0000000101\"} 5\n"));
	assert_non_null(
	        strstr(text, "lorafleet_gateway_downlinks_total{mac=\"aa555a0000000101\"} 1\n"));
	assert_non_null(
	        strstr(text, "lorafleet_gateway_connections_total{mac=\"aa555a0000000101\"} 1\n"));
	assert_non_null(strstr(text, "lorafleet_gateway_last_uplink_timestamp_seconds{mac="
	                             "\"aa555a0000000101\"} 1795255200.5\n"));
	assert_non_null(strstr(text, "# TYPE lorafleet_gateway_uplinks_total counter\n"));
	free(text);
	cJSON_Delete(self);
	lf_metrics_free(reg);
	prom_store_free(&s);
	fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_header_per_family_across_instances),
	        cmocka_unit_test(test_untrusted_snapshots),
	        cmocka_unit_test(test_self_and_gateways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
