/* The gateway registry: lookups, growth, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateways.h"

static void
test_empty_table_finds_nothing(void **state)
{
	struct gateway_table t;
	gateway_table_init(&t);
	assert_null(gateway_table_find(&t, 0));
	assert_null(gateway_table_find(&t, 0xaa555a0000000101ULL));
	size_t cursor = 0;
	assert_null(gateway_table_next(&t, &cursor));
	gateway_table_clear(&t);
}

static void
test_add_sets_eui_and_mac(void **state)
{
	struct gateway_table t;
	gateway_table_init(&t);
	struct gateway *gw = gateway_table_add(&t, 0xAA555A0000000101ULL);
	assert_non_null(gw);
	assert_int_equal(gw->eui, 0xaa555a0000000101ULL);
	assert_string_equal(gw->mac, "aa555a0000000101");
	assert_false(gw->online);
	assert_false(gw->has_pull_addr);
	assert_ptr_equal(gateway_table_find(&t, 0xaa555a0000000101ULL), gw);
	assert_int_equal(t.count, 1);
	gateway_table_clear(&t);
}

/* Sequential EUIs, as fleets are numbered, across several growths: every
 * one is found, none twice, and iteration visits each exactly once. */
static void
test_ten_thousand_sequential_euis(void **state)
{
	enum { N = 10000 };
	const uint64_t base = 0xaa555a0000000000ULL;
	struct gateway_table t;
	gateway_table_init(&t);
	for (uint64_t i = 0; i < N; i++) {
		assert_null(gateway_table_find(&t, base + i));
		struct gateway *gw = gateway_table_add(&t, base + i);
		assert_non_null(gw);
		gw->last_pull_ms = (int64_t)i;
	}
	assert_int_equal(t.count, N);
	assert_true(t.map.capacity >= 2 * N); /* load factor kept under 1/2 */
	for (uint64_t i = 0; i < N; i++) {
		struct gateway *gw = gateway_table_find(&t, base + i);
		assert_non_null(gw);
		assert_int_equal(gw->last_pull_ms, (int64_t)i);
	}
	assert_null(gateway_table_find(&t, base + N));
	assert_null(gateway_table_find(&t, 0));

	static unsigned char seen[N];
	memset(seen, 0, sizeof(seen));
	size_t cursor = 0, visited = 0;
	struct gateway *gw;
	while ((gw = gateway_table_next(&t, &cursor)) != NULL) {
		uint64_t i = gw->eui - base;
		assert_true(i < N);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		visited++;
	}
	assert_int_equal(visited, N);
	gateway_table_clear(&t);
	assert_int_equal(t.count, 0);
	assert_null(gateway_table_find(&t, base));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_table_finds_nothing),
	        cmocka_unit_test(test_add_sets_eui_and_mac),
	        cmocka_unit_test(test_ten_thousand_sequential_euis),
	};
	return cmocka_run_group_tests_name("gateways", tests, NULL, NULL);
}
