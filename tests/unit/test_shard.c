/* routerlink's sharding: i/n parsing and the stable MAC hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shard.h"

static void
test_parse(void **state)
{
	(void)state;
	struct shard s;
	char err[128];
	assert_int_equal(shard_parse("0/1", &s, err, sizeof(err)), 0);
	assert_int_equal(s.index, 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(shard_parse("2/3", &s, err, sizeof(err)), 0);
	assert_int_equal(s.index, 2);
	assert_int_equal(s.count, 3);
	assert_int_equal(shard_parse("1023/1024", &s, err, sizeof(err)), 0);
	const char *bad[] = {"",
	                     "1",
	                     "3/3",
	                     "0/0",
	                     "-1/2",
	                     "1/-2",
	                     "a/2",
	                     "0/2x",
	                     "0//2",
	                     " 0/2",
	                     "0/ 2",
	                     "0/1025",
	                     "99999999999999999999/2",
	                     "1/2/3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(shard_parse(bad[i], &s, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
}

static void
test_hash_is_fnv1a_over_the_eui_bytes(void **state)
{
	(void)state;
	/* FNV-1a 64 of the empty input is its offset basis; of eight zero
	 * bytes, and of 01 02 .. 08, computed independently (Python):
	 *   h = 0xcbf29ce484222325
	 *   for b in data: h = ((h ^ b) * 0x100000001b3) % 2**64 */
	assert_true(shard_hash(0) == 0xa8c7f832281a39c5ULL);
	assert_true(shard_hash(0x0102030405060708ULL) == 0x7eb5108b368a78edULL);
}

static void
test_owners_split_a_sequential_fleet(void **state)
{
	(void)state;
	/* Fleets number their gateways in sequence: the split must still be
	 * even, and every gateway must have exactly one owner. */
	enum { N = 3, GATEWAYS = 30000 };
	unsigned owned[N] = {0};
	for (uint64_t i = 0; i < GATEWAYS; i++) {
		uint64_t eui = 0xb827ebfffe000000ULL + i;
		int owners = 0;
		for (unsigned k = 0; k < N; k++) {
			struct shard s = {k, N};
			if (shard_owns(&s, eui)) {
				owned[k]++;
				owners++;
			}
		}
		assert_int_equal(owners, 1);
	}
	for (unsigned k = 0; k < N; k++) {
		assert_in_range(owned[k], GATEWAYS / N * 95 / 100, GATEWAYS / N * 105 / 100);
	}
	struct shard one = {0, 1};
	assert_true(shard_owns(&one, 42));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_hash_is_fnv1a_over_the_eui_bytes),
	        cmocka_unit_test(test_owners_split_a_sequential_fleet),
	};
	return cmocka_run_group_tests_name("shard", tests, NULL, NULL);
}
