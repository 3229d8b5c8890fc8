/* Metrics registry: families, labelled series, removal, snapshots. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lf/json.h"
#include "lf/metrics.h"

static char *
snapshot_text(struct lf_metrics *reg)
{
	cJSON *snap = lf_metrics_snapshot_json(reg);
	assert_non_null(snap);
	char *text = lf_json_print(snap);
	cJSON_Delete(snap);
	assert_non_null(text);
	return text;
}

static void
assert_snapshot(struct lf_metrics *reg, const char *expected)
{
	char *text = snapshot_text(reg);
	assert_string_equal(text, expected);
	free(text);
}

static void
test_empty(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	assert_non_null(reg);
	assert_snapshot(reg, "{\"families\":[]}");
	lf_metrics_free(reg);
	lf_metrics_free(NULL);
}

static void
test_counter_and_gauge(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_metric *rx = lf_metrics_counter(reg, "uplinks_total", "uplinks received");
	struct lf_metric *gw = lf_metrics_gauge(reg, "gateways_online", "gateways online");
	assert_non_null(rx);
	assert_non_null(gw);
	/* The same name gives the same series back. */
	assert_ptr_equal(lf_metrics_counter(reg, "uplinks_total", "uplinks received"), rx);
	lf_metric_inc(rx);
	lf_metric_add(rx, 41);
	lf_metric_set(gw, 7);
	lf_metric_add(gw, -2);
	assert_int_equal(lf_metric_value(rx), 42);
	assert_int_equal(lf_metric_value(gw), 5);
	assert_snapshot(reg, "{\"families\":["
	                     "{\"name\":\"uplinks_total\",\"type\":\"counter\","
	                     "\"help\":\"uplinks received\","
	                     "\"series\":[{\"labels\":{},\"value\":42}]},"
	                     "{\"name\":\"gateways_online\",\"type\":\"gauge\","
	                     "\"help\":\"gateways online\","
	                     "\"series\":[{\"labels\":{},\"value\":5}]}]}");
	lf_metrics_free(reg);
}

static void
test_labels_and_remove(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_metric *a = lf_metrics_get(reg, LF_METRIC_COUNTER, "rx_total", "frames",
	                                     "gateway", "0102030405060708");
	struct lf_metric *b = lf_metrics_get(reg, LF_METRIC_COUNTER, "rx_total", "frames",
	                                     "gateway", "aa555a0000000101");
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(lf_metrics_get(reg, LF_METRIC_COUNTER, "rx_total", "frames", "gateway",
	                                "0102030405060708"),
	                 a);
	/* A second registration with another type or help keeps the first. */
	assert_ptr_equal(lf_metrics_get(reg, LF_METRIC_GAUGE, "rx_total", "other", "gateway",
	                                "aa555a0000000101"),
	                 b);
	lf_metric_add(a, 3);
	lf_metric_add(b, 4);
	/* Label values are any string; JSON escaping is cJSON's. */
	struct lf_metric *odd = lf_metrics_get(reg, LF_METRIC_COUNTER, "rx_total", "frames",
	                                       "gateway", "we\"ird\n");
	lf_metric_inc(odd);
	assert_snapshot(reg, "{\"families\":[{\"name\":\"rx_total\",\"type\":\"counter\","
	                     "\"help\":\"frames\",\"series\":["
	                     "{\"labels\":{\"gateway\":\"0102030405060708\"},\"value\":3},"
	                     "{\"labels\":{\"gateway\":\"aa555a0000000101\"},\"value\":4},"
	                     "{\"labels\":{\"gateway\":\"we\\\"ird\\n\"},\"value\":1}]}]}");

	lf_metrics_remove(reg, "rx_total", "gateway", "0102030405060708");
	lf_metrics_remove(reg, "rx_total", "gateway", "we\"ird\n");
	/* Removing what is not there is harmless. */
	lf_metrics_remove(reg, "rx_total", "gateway", "ffffffffffffffff");
	lf_metrics_remove(reg, "nothing", NULL, NULL);
	assert_snapshot(reg, "{\"families\":[{\"name\":\"rx_total\",\"type\":\"counter\","
	                     "\"help\":\"frames\",\"series\":["
	                     "{\"labels\":{\"gateway\":\"aa555a0000000101\"},\"value\":4}]}]}");

	/* A removed series comes back from zero. */
	a = lf_metrics_get(reg, LF_METRIC_COUNTER, "rx_total", "frames", "gateway",
	                   "0102030405060708");
	assert_int_equal(lf_metric_value(a), 0);
	lf_metrics_remove(reg, "rx_total", "gateway", "aa555a0000000101");
	lf_metrics_remove(reg, "rx_total", "gateway", "0102030405060708");
	assert_snapshot(reg, "{\"families\":[{\"name\":\"rx_total\",\"type\":\"counter\","
	                     "\"help\":\"frames\",\"series\":[]}]}");
	lf_metrics_free(reg);
}

static void
test_unlabelled_and_labelled_differ(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_metric *all = lf_metrics_counter(reg, "drops_total", "drops");
	struct lf_metric *one =
	        lf_metrics_get(reg, LF_METRIC_COUNTER, "drops_total", "drops", "reason", "");
	assert_ptr_not_equal(all, one);
	lf_metrics_remove(reg, "drops_total", NULL, NULL);
	assert_snapshot(reg, "{\"families\":[{\"name\":\"drops_total\",\"type\":\"counter\","
	                     "\"help\":\"drops\",\"series\":["
	                     "{\"labels\":{\"reason\":\"\"},\"value\":0}]}]}");
	lf_metrics_free(reg);
}

static void
test_invalid_names(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	static const char *const bad[] = {"", "1abc", "a-b", "a.b", "a b", "a:b", "\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(lf_metrics_counter(reg, bad[i], "x"));
		assert_null(lf_metrics_get(reg, LF_METRIC_GAUGE, "ok_name", "x", bad[i], "v"));
	}
	assert_null(lf_metrics_counter(reg, NULL, "x"));
	assert_non_null(lf_metrics_counter(reg, "Ok_9", "x"));
	assert_non_null(lf_metrics_get(reg, LF_METRIC_GAUGE, "_x", NULL, "_k9", "any value"));
	/* The value functions accept the NULL a failed registration gives. */
	lf_metric_inc(NULL);
	lf_metric_set(NULL, 5);
	assert_int_equal(lf_metric_value(NULL), 0);
	assert_snapshot(reg, "{\"families\":["
	                     "{\"name\":\"Ok_9\",\"type\":\"counter\",\"help\":\"x\","
	                     "\"series\":[{\"labels\":{},\"value\":0}]},"
	                     "{\"name\":\"_x\",\"type\":\"gauge\",\"help\":\"\","
	                     "\"series\":[{\"labels\":{\"_k9\":\"any value\"},\"value\":0}]}]}");
	lf_metrics_free(reg);
}

static void *
hammer(void *arg)
{
	struct lf_metrics *reg = arg;
	struct lf_metric *m = lf_metrics_counter(reg, "hits_total", "hits");
	for (int i = 0; i < 100000; i++) {
		lf_metric_inc(m);
	}
	return NULL;
}

static void
test_concurrent_updates(void **state)
{
	struct lf_metrics *reg = lf_metrics_new();
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		pthread_create(&t[i], NULL, hammer, reg);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	assert_int_equal(lf_metric_value(lf_metrics_counter(reg, "hits_total", "hits")), 400000);
	lf_metrics_free(reg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_counter_and_gauge),
	        cmocka_unit_test(test_labels_and_remove),
	        cmocka_unit_test(test_unlabelled_and_labelled_differ),
	        cmocka_unit_test(test_invalid_names),
	        cmocka_unit_test(test_concurrent_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
