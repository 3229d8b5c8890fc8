/* Gateway EUIs: strict parsing, canonical formatting, GWMP byte order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lf/eui.h"

static void
expect_eui(const char *text, uint64_t expected)
{
	uint64_t eui = 0;
	if (lf_eui_parse(text, &eui) != 0) {
		fail_msg("\"%s\" was refused", text);
	}
	assert_int_equal(eui, expected);
}

static void
expect_refused(const char *text)
{
	uint64_t eui = 0x1234;
	if (lf_eui_parse(text, &eui) != -1) {
		fail_msg("\"%s\" was accepted", text);
	}
	/* A refused text leaves the output alone. */
	assert_int_equal(eui, 0x1234);
}

static void
test_parse_forms(void **state)
{
	expect_eui("aa555a0000000101", 0xaa555a0000000101ULL);
	expect_eui("AA555A0000000101", 0xaa555a0000000101ULL);
	expect_eui("Aa555A0000000101", 0xaa555a0000000101ULL);
	expect_eui("AA:55:5A:00:00:00:01:01", 0xaa555a0000000101ULL);
	expect_eui("aa-55-5a-00-00-00-01-01", 0xaa555a0000000101ULL);
	expect_eui("0000000000000000", 0);
	expect_eui("ffffffffffffffff", UINT64_MAX);
	expect_eui("01:02:03:04:05:06:07:08", 0x0102030405060708ULL);
}

static void
test_parse_refused(void **state)
{
	static const char *const bad[] = {
	        "",                         /* empty */
	        "aa555a000000010",          /* 15 digits */
	        "aa555a00000001011",        /* 17 digits */
	        "aa555a00000001",           /* 14 digits */
	        "AA:55:5A:00:00:00:01",     /* 7 pairs */
	        "AA:55:5A:00:00:00:01:01:", /* trailing separator */
	        "AA:55:5A:00:00:00:01:0",   /* short last pair */
	        "AA:55-5A:00:00:00:01:01",  /* mixed separators */
	        "AA-55-5A-00-00-00-01:01",  /* mixed at the end */
	        "AA:555A:00:00:00:01:01",   /* missing separator */
	        "AA.55.5A.00.00.00.01.01",  /* other separator */
	        "AA 55 5A 00 00 00 01 01",  /* blanks */
	        "zz555a0000000101",         /* not hex */
	        "aa555a000000010g",         /* not hex at the end */
	        "0xaa555a00000001",         /* prefix */
	        " aa555a0000000101",        /* leading blank */
	        "aa555a0000000101 ",        /* trailing blank */
	        "aa555a0000000101\n",       /* trailing newline */
	        "aa555a0000000101x",        /* trailing junk */
	        "A",                        /* one character */
	        ":",                        /* a separator only */
	        "AA::55:5A:00:00:00:01:01", /* doubled separator */
	        "-a555a0000000101",         /* sign */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_refused(bad[i]);
	}
	uint64_t eui;
	assert_int_equal(lf_eui_parse(NULL, &eui), -1);
}

static void
test_format_round_trip(void **state)
{
	char text[LF_EUI_STRLEN];
	memset(text, 'x', sizeof(text));
	lf_eui_format(0xAA555A0000000101ULL, text);
	assert_string_equal(text, "aa555a0000000101");
	lf_eui_format(0, text);
	assert_string_equal(text, "0000000000000000");
	lf_eui_format(UINT64_MAX, text);
	assert_string_equal(text, "ffffffffffffffff");

	static const uint64_t values[] = {
	        0,         1, 0x0102030405060708ULL, 0x8000000000000000ULL, 0xdeadbeefcafef00dULL,
	        UINT64_MAX};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint64_t back = 0;
		lf_eui_format(values[i], text);
		assert_int_equal(strlen(text), 16);
		assert_int_equal(lf_eui_parse(text, &back), 0);
		assert_int_equal(back, values[i]);
	}
}

static void
test_bytes(void **state)
{
	/* GWMP carries the EUI big-endian. */
	static const uint8_t wire[8] = {0xaa, 0x55, 0x5a, 0x00, 0x00, 0x00, 0x01, 0x02};
	assert_int_equal(lf_eui_from_bytes(wire), 0xaa555a0000000102ULL);
	uint8_t out[8];
	lf_eui_to_bytes(0xaa555a0000000102ULL, out);
	assert_memory_equal(out, wire, 8);
	lf_eui_to_bytes(0x0102030405060708ULL, out);
	static const uint8_t ordered[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(out, ordered, 8);
	assert_int_equal(lf_eui_from_bytes(out), 0x0102030405060708ULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_forms),
	        cmocka_unit_test(test_parse_refused),
	        cmocka_unit_test(test_format_round_trip),
	        cmocka_unit_test(test_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
