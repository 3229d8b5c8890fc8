/* Helium region names and default TX power (routerlink/region.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"

struct expect {
	const char *name;
	const char *lower;
	Helium__Region region;
	int dbm;
};

static const struct expect all[] = {
        {"US915", "us915", HELIUM__REGION__US915, 36},
        {"EU868", "eu868", HELIUM__REGION__EU868, 16},
        {"EU433", "eu433", HELIUM__REGION__EU433, 12},
        {"CN470", "cn470", HELIUM__REGION__CN470, 19},
        {"CN779", "cn779", HELIUM__REGION__CN779, 12},
        {"AU915", "au915", HELIUM__REGION__AU915, 30},
        {"AS923_1", "as923_1", HELIUM__REGION__AS923_1, 16},
        {"KR920", "kr920", HELIUM__REGION__KR920, 14},
        {"IN865", "in865", HELIUM__REGION__IN865, 30},
        {"AS923_2", "as923_2", HELIUM__REGION__AS923_2, 16},
        {"AS923_3", "as923_3", HELIUM__REGION__AS923_3, 16},
        {"AS923_4", "as923_4", HELIUM__REGION__AS923_4, 16},
        {"AS923_1B", "as923_1b", HELIUM__REGION__AS923_1B, 16},
        {"CD900_1A", "cd900_1a", HELIUM__REGION__CD900_1A, 16},
        {"RU864", "ru864", HELIUM__REGION__RU864, 16},
        {"EU868_A", "eu868_a", HELIUM__REGION__EU868_A, 16},
        {"EU868_B", "eu868_b", HELIUM__REGION__EU868_B, 16},
        {"EU868_C", "eu868_c", HELIUM__REGION__EU868_C, 16},
        {"EU868_D", "eu868_d", HELIUM__REGION__EU868_D, 16},
        {"EU868_E", "eu868_e", HELIUM__REGION__EU868_E, 16},
        {"EU868_F", "eu868_f", HELIUM__REGION__EU868_F, 16},
        {"AU915_SB1", "au915_sb1", HELIUM__REGION__AU915_SB1, 30},
        {"AU915_SB2", "au915_sb2", HELIUM__REGION__AU915_SB2, 30},
        {"AS923_1A", "as923_1a", HELIUM__REGION__AS923_1A, 16},
        {"AS923_1C", "as923_1c", HELIUM__REGION__AS923_1C, 16},
        {"AS923_1D", "as923_1d", HELIUM__REGION__AS923_1D, 16},
        {"AS923_1E", "as923_1e", HELIUM__REGION__AS923_1E, 16},
        {"AS923_1F", "as923_1f", HELIUM__REGION__AS923_1F, 16},
};

static void
test_every_name_parses_both_cases(void **state)
{
	(void)state;
	assert_int_equal(sizeof(all) / sizeof(all[0]), 28);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		Helium__Region r = HELIUM__REGION__UNKNOWN;
		assert_int_equal(region_parse(all[i].name, &r), 0);
		assert_int_equal(r, all[i].region);
		r = HELIUM__REGION__UNKNOWN;
		assert_int_equal(region_parse(all[i].lower, &r), 0);
		assert_int_equal(r, all[i].region);
		assert_string_equal(region_name(all[i].region), all[i].name);
	}
}

static void
test_mixed_case(void **state)
{
	(void)state;
	Helium__Region r = HELIUM__REGION__UNKNOWN;
	assert_int_equal(region_parse("As923_1c", &r), 0);
	assert_int_equal(r, HELIUM__REGION__AS923_1C);
	assert_int_equal(region_parse("eU868_a", &r), 0);
	assert_int_equal(r, HELIUM__REGION__EU868_A);
}

static void
test_unknown_names_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "UNKNOWN", "unknown", "",        "US916",  "us915 ", " us915", "EU868_G",
	        "AS923",   "AS923-1", "US915\n", "EU868_", "99",     "0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Helium__Region r = HELIUM__REGION__EU433;
		assert_int_equal(region_parse(bad[i], &r), -1);
		/* A refused name leaves the output alone. */
		assert_int_equal(r, HELIUM__REGION__EU433);
	}
	Helium__Region r;
	assert_int_equal(region_parse(NULL, &r), -1);
}

static void
test_name_of_unknown_is_null(void **state)
{
	(void)state;
	assert_null(region_name(HELIUM__REGION__UNKNOWN));
	assert_null(region_name((Helium__Region)28));
	assert_null(region_name((Helium__Region)-1));
}

static void
test_default_power(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_int_equal(region_tx_power(all[i].region, -1), all[i].dbm);
	}
	assert_int_equal(region_tx_power(HELIUM__REGION__US915, -1), 36);
	assert_int_equal(region_tx_power(HELIUM__REGION__EU868, -1), 16);
	assert_int_equal(region_tx_power(HELIUM__REGION__KR920, -100), 14);
}

static void
test_override_power(void **state)
{
	(void)state;
	assert_int_equal(region_tx_power(HELIUM__REGION__US915, 27), 27);
	assert_int_equal(region_tx_power(HELIUM__REGION__EU868, 0), 0);
	assert_int_equal(region_tx_power(HELIUM__REGION__AU915_SB2, 20), 20);
}

static void
test_power_of_unknown_is_error(void **state)
{
	(void)state;
	assert_int_equal(region_tx_power(HELIUM__REGION__UNKNOWN, -1), -1);
	assert_int_equal(region_tx_power(HELIUM__REGION__UNKNOWN, 27), -1);
	assert_int_equal(region_tx_power((Helium__Region)50, -1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_name_parses_both_cases),
	        cmocka_unit_test(test_mixed_case),
	        cmocka_unit_test(test_unknown_names_refused),
	        cmocka_unit_test(test_name_of_unknown_is_null),
	        cmocka_unit_test(test_default_power),
	        cmocka_unit_test(test_override_power),
	        cmocka_unit_test(test_power_of_unknown_is_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
