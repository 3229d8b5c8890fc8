/* lf_u64map: lookups, replacement, growth, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lf/u64map.h"

static void
test_empty(void **state)
{
	struct lf_u64map m;
	lf_u64map_init(&m);
	assert_null(lf_u64map_get(&m, 0));
	size_t cursor = 0;
	assert_null(lf_u64map_next(&m, &cursor, NULL));
	lf_u64map_clear(&m);
}

static void
test_put_get_replace(void **state)
{
	struct lf_u64map m;
	lf_u64map_init(&m);
	int a = 1, b = 2;
	assert_int_equal(lf_u64map_put(&m, 0, &a), 0); /* key 0 is a valid key */
	assert_ptr_equal(lf_u64map_get(&m, 0), &a);
	assert_int_equal(lf_u64map_put(&m, 0, &b), 0);
	assert_ptr_equal(lf_u64map_get(&m, 0), &b);
	assert_int_equal(m.count, 1);
	lf_u64map_clear(&m);
}

static void
test_many_sequential_keys(void **state)
{
	enum { N = 20000 };
	static int values[N];
	const uint64_t base = 0xaa555a0000000000ULL;
	struct lf_u64map m;
	lf_u64map_init(&m);
	for (int i = 0; i < N; i++) {
		values[i] = i;
		assert_int_equal(lf_u64map_put(&m, base + (uint64_t)i, &values[i]), 0);
	}
	assert_int_equal(m.count, N);
	for (int i = 0; i < N; i++) {
		assert_ptr_equal(lf_u64map_get(&m, base + (uint64_t)i), &values[i]);
	}
	assert_null(lf_u64map_get(&m, base + N));
	static unsigned char seen[N];
	memset(seen, 0, sizeof(seen));
	size_t cursor = 0, n = 0;
	uint64_t key;
	int *v;
	while ((v = lf_u64map_next(&m, &cursor, &key)) != NULL) {
		assert_int_equal(key, base + (uint64_t)*v);
		assert_int_equal(seen[*v], 0);
		seen[*v] = 1;
		n++;
	}
	assert_int_equal(n, N);
	lf_u64map_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_put_get_replace),
	        cmocka_unit_test(test_many_sequential_keys),
	};
	return cmocka_run_group_tests_name("u64map", tests, NULL, NULL);
}
