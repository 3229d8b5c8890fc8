/* Clocks, RFC 3339 timestamps, base64 and lf_strlcpy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lf/util.h"

static void
test_clocks(void **state)
{
	int64_t ms = lf_now_ms();
	int64_t us = lf_now_us();
	assert_true(ms > 0);
	assert_true(us >= ms * 1000);
	/* Monotonic: never goes back. */
	for (int i = 0; i < 1000; i++) {
		int64_t next = lf_now_us();
		assert_true(next >= us);
		us = next;
	}
	struct timespec nap = {0, 20 * 1000 * 1000};
	nanosleep(&nap, NULL);
	assert_true(lf_now_ms() - ms >= 20);
}

static void
test_rfc3339(void **state)
{
	char out[LF_RFC3339_LEN];
	struct timespec ts = {.tv_sec = 1795255200, .tv_nsec = 123456789};
	lf_format_rfc3339(&ts, out);
	assert_string_equal(out, "2026-11-21T10:00:00.123456Z");
	ts = (struct timespec){.tv_sec = 0, .tv_nsec = 0};
	lf_format_rfc3339(&ts, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
	ts = (struct timespec){.tv_sec = 951782400 + 86399, .tv_nsec = 999999999};
	lf_format_rfc3339(&ts, out);
	assert_string_equal(out, "2000-02-29T23:59:59.999999Z");
}

static void
test_base64_encode(void **state)
{
	char out[32];
	static const struct {
		const char *bin, *text;
	} cases[] = {
	        {"", ""},
	        {"f", "Zg=="},
	        {"fo", "Zm8="},
	        {"foo", "Zm9v"},
	        {"foob", "Zm9vYg=="},
	        {"fooba", "Zm9vYmE="},
	        {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].bin);
		assert_int_equal(lf_base64_encoded_len(len), strlen(cases[i].text));
		assert_int_equal(
		        lf_base64_encode((const uint8_t *)cases[i].bin, len, out, sizeof(out)),
		        strlen(cases[i].text));
		assert_string_equal(out, cases[i].text);
	}
	static const uint8_t bin[] = {0xfb, 0xff, 0xbf};
	assert_int_equal(lf_base64_encode(bin, sizeof(bin), out, sizeof(out)), 4);
	assert_string_equal(out, "+/+/");
	/* Exactly enough room for the text and its NUL, then one byte less. */
	assert_int_equal(lf_base64_encode((const uint8_t *)"foo", 3, out, 5), 4);
	assert_int_equal(lf_base64_encode((const uint8_t *)"foo", 3, out, 4), 0);
	assert_string_equal(out, "");
}

static void
test_base64_decode(void **state)
{
	uint8_t out[16];
	assert_int_equal(lf_base64_decode("Zm9vYmFy", 8, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	/* Padded and unpadded alike. */
	assert_int_equal(lf_base64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(lf_base64_decode("Zm9vYg", 6, out, sizeof(out)), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(lf_base64_decode("Zm8=", 4, out, sizeof(out)), 2);
	assert_int_equal(lf_base64_decode("Zm8", 3, out, sizeof(out)), 2);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(lf_base64_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(lf_base64_decode("+/+/", 4, out, sizeof(out)), 3);
	static const uint8_t bin[] = {0xfb, 0xff, 0xbf};
	assert_memory_equal(out, bin, 3);
	/* The length given is what counts, not the NUL. */
	assert_int_equal(lf_base64_decode("Zm9vYmFyXXXX", 8, out, sizeof(out)), 6);

	static const char *const bad[] = {"Zm9v!mFy", "Zm9vYmF", "Z", "Zm9v YmFy", "-_-_", "Zm=9",
	                                  "Zm9vYmFy\n",
	                                  /* padding that is there must be right */
	                                  "Zm9v=", "Zg=", "Zg===", "Zm9vYg===", "===="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lf_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1) {
			fail_msg("\"%s\" was accepted", bad[i]);
		}
	}
	/* Too small a buffer is an error, not a truncation. */
	assert_int_equal(lf_base64_decode("Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(lf_base64_decode("Zm9vYmFy", 8, out, 6), 6);
}

static void
test_strlcpy(void **state)
{
	char buf[8];
	assert_int_equal(lf_strlcpy(buf, "abc", sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(lf_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(lf_strlcpy(buf, "abcdefg", sizeof(buf)), 7);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(lf_strlcpy(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
	buf[0] = 'z';
	assert_int_equal(lf_strlcpy(buf, "abc", 0), 3);
	assert_int_equal(buf[0], 'z');
	assert_int_equal(lf_strlcpy(buf, "abc", 1), 3);
	assert_string_equal(buf, "");
}

static void
test_hostname(void **state)
{
	char name[256];
	lf_hostname(name, sizeof(name));
	assert_true(strlen(name) > 0);
	char tiny[4];
	lf_hostname(tiny, sizeof(tiny));
	assert_true(strlen(tiny) <= 3);
}

/* The cached formatter writes exactly what the plain one does, across
 * second boundaries and for every microsecond digit. */
static void
test_rfc3339_cached_matches(void **state)
{
	struct lf_rfc3339_cache cache = {0};
	const struct timespec cases[] = {
	        {1795246632, 0},    {1795246632, 999999999},
	        {1795246633, 1000}, {1795246633, 123456789},
	        {0, 5000},          {1795246632, 42000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[LF_RFC3339_LEN], got[LF_RFC3339_LEN];
		lf_format_rfc3339(&cases[i], want);
		lf_format_rfc3339_cached(&cache, &cases[i], got);
		assert_string_equal(got, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc3339_cached_matches),
	        cmocka_unit_test(test_clocks),
	        cmocka_unit_test(test_rfc3339),
	        cmocka_unit_test(test_base64_encode),
	        cmocka_unit_test(test_base64_decode),
	        cmocka_unit_test(test_strlcpy),
	        cmocka_unit_test(test_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
