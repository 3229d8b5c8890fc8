/* PUSH_DATA JSON -> MQTT payloads (bridge/uplink.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "fixture.h"

#include "uplink.h"

#define MAC       "b827ebfffe6a3c10"
#define RXAT      "2026-03-14T09:26:53.612345Z"
#define PFX       "{\"mac\":\"" MAC "\",\"received_at\":\"" RXAT "\","
#define MAX_EMITS 300

struct emitted {
	enum uplink_kind kind;
	char *payload;
	size_t len;
};

struct sink {
	size_t n;
	struct emitted e[MAX_EMITS];
	struct uplink_result res;
	char err[160];
};

static void
collect(void *arg, enum uplink_kind kind, const char *payload, size_t len)
{
	struct sink *s = arg;
	assert_true(s->n < MAX_EMITS);
	assert_int_equal(strlen(payload), len);
	/* Whatever goes out must be JSON any consumer can read. */
	cJSON *parsed = cJSON_ParseWithLength(payload, len);
	assert_non_null(parsed);
	cJSON_Delete(parsed);
	s->e[s->n].kind = kind;
	s->e[s->n].payload = strdup(payload);
	s->e[s->n].len = len;
	s->n++;
}

static void
sink_clear(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].payload);
	}
	memset(s, 0, sizeof(*s));
}

/* Maps an exactly sized heap copy, so that ASan catches reads past len. */
static int
map_bytes(struct sink *s, const char *body, size_t len, bool forward_crc_bad)
{
	sink_clear(s);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, body, len);
	int r = uplink_map(copy, len, MAC, RXAT, forward_crc_bad, collect, s, &s->res, s->err,
	                   sizeof(s->err));
	free(copy);
	return r;
}

static int
map(struct sink *s, const char *body)
{
	return map_bytes(s, body, strlen(body), false);
}

static int
map_fixture(struct sink *s, const char *name, bool forward_crc_bad)
{
	size_t len;
	char *body = load_fixture("gwmp", name, &len);
	int r = map_bytes(s, body, len, forward_crc_bad);
	free(body);
	return r;
}

static void
assert_counts(const struct sink *s, unsigned published, unsigned crc_bad, unsigned invalid,
              unsigned stat_published, unsigned stat_invalid, bool not_array)
{
	assert_int_equal(s->res.rxpk_published, published);
	assert_int_equal(s->res.rxpk_crc_bad, crc_bad);
	assert_int_equal(s->res.rxpk_invalid, invalid);
	assert_int_equal(s->res.stat_published, stat_published);
	assert_int_equal(s->res.stat_invalid, stat_invalid);
	assert_int_equal(s->res.rxpk_not_array, not_array);
}

static int
teardown(void **state)
{
	sink_clear(*state);
	return 0;
}

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct sink));
	return *state ? 0 : -1;
}

static int
teardown_free(void **state)
{
	teardown(state);
	free(*state);
	return 0;
}

static void
test_lora_and_fsk_in_one_datagram(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map_fixture(s, "push-lora-fsk.json", false), 0);
	assert_counts(s, 2, 0, 0, 0, 0, false);
	assert_string_equal(s->err, "");
	assert_int_equal(s->n, 2);
	assert_int_equal(s->e[0].kind, UPLINK_RXPK);
	assert_string_equal(
	        s->e[0].payload,
	        PFX "\"rxpk\":{\"time\":\"2026-03-14T09:26:53.589793Z\",\"tmst\":2718281828,"
	            "\"chan\":0,\"rfch\":1,\"freq\":868.100000,\"stat\":1,\"modu\":\"LORA\","
	            "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-87,\"lsnr\":7.25,\"size\":15,"
	            "\"data\":\"QKGyw9SAAAEAAajYXEnB\",\"brd\":0,\"meta\":{\"site\":\"north mast\","
	            "\"note\":\"tab\\there \\\"q\\\" \\u00e9 ok\"}}}");
	assert_int_equal(s->e[1].kind, UPLINK_RXPK);
	assert_string_equal(s->e[1].payload,
	                    PFX "\"rxpk\":{\"tmst\":2718290000,\"chan\":8,\"rfch\":1,"
	                        "\"freq\":868.800000,\"stat\":1,\"modu\":\"FSK\",\"datr\":50000,"
	                        "\"rssi\":-64,\"size\":5,\"data\":\"SGVsbG8=\"}}");
}

static void
test_jver2_two_antennas(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map_fixture(s, "push-jver2-rsig.json", false), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	assert_int_equal(s->n, 1);
	assert_string_equal(
	        s->e[0].payload, PFX
	        "\"rxpk\":{\"jver\":2,\"tmst\":1618033988,\"time\":\"2026-03-14T09:27:01.000250Z\","
	        "\"freq\":867.500000,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
	        "\"codr\":\"4/5\",\"size\":13,\"data\":\"QPHi08QAAgACDjx7Gg==\",\"brd\":1,"
	        "\"aesk\":0,\"rsig\":[{\"ant\":0,\"chan\":5,\"rssic\":-101,\"lsnr\":-3.5,"
	        "\"etime\":\"9fT3kWq1Xz0aLb2cRq+M1w==\",\"foff\":-412},{\"ant\":1,\"chan\":13,"
	        "\"rssic\":-98,\"rssis\":-99,\"lsnr\":1.0,\"ftime\":431059102,\"foff\":-405}]}}");
}

static void
test_rxpk_and_stat_rxpk_first(void **state)
{
	struct sink *s = *state;
	/* The body has stat first; rxpk are still published before it. */
	assert_int_equal(map_fixture(s, "push-rxpk-stat.json", false), 0);
	assert_counts(s, 1, 0, 0, 1, 0, false);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->e[0].kind, UPLINK_RXPK);
	assert_string_equal(
	        s->e[0].payload,
	        PFX "\"rxpk\":{\"time\":\"2026-03-14T09:27:29.901112Z\",\"tmms\":1457602067901,"
	            "\"tmst\":3141592653,\"ftime\":77159202,\"chan\":2,\"rfch\":0,"
	            "\"freq\":868.500000,\"mid\":8,\"stat\":1,\"modu\":\"LORA\","
	            "\"datr\":\"SF12BW125\",\"codr\":\"4/5\",\"rssis\":-120,\"rssi\":-117,"
	            "\"lsnr\":-14.0,\"foff\":-1502,\"size\":8,\"data\":\"K34VFiiu0qY=\"}}");
	assert_int_equal(s->e[1].kind, UPLINK_STAT);
	assert_string_equal(s->e[1].payload,
	                    PFX "\"stat\":{\"time\":\"2026-03-14 09:27:30 GMT\",\"lati\":47.21834,"
	                        "\"long\":-1.55362,\"alti\":38,\"rxnb\":3,\"rxok\":2,\"rxfw\":2,"
	                        "\"ackr\":100.0,\"dwnb\":1,\"txnb\":1,\"temp\":41.5}}");
}

static void
test_stat_only(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map_fixture(s, "push-stat-only.json", false), 0);
	assert_counts(s, 0, 0, 0, 1, 0, false);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->e[0].kind, UPLINK_STAT);
	assert_string_equal(s->e[0].payload,
	                    PFX "\"stat\":{\"time\":\"2026-03-14 09:28:00 GMT\","
	                        "\"boot\":\"2026-03-01 06:00:12 GMT\",\"rxnb\":0,\"rxok\":0,"
	                        "\"rxfw\":0,\"ackr\":null,\"dwnb\":0,\"txnb\":0,\"hal\":\"5.1.0\","
	                        "\"fpga\":31,\"lpps\":0}}");
}

static void
test_crc_bad_dropped(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map_fixture(s, "push-crc-mixed.json", false), 0);
	assert_counts(s, 2, 1, 0, 0, 0, false);
	assert_string_equal(s->err, "rxpk[1]: CRC failed, dropped");
	assert_int_equal(s->n, 2);
	assert_non_null(strstr(s->e[0].payload, "\"tmst\":100,"));
	/* stat 0 (no CRC) is not a bad CRC. */
	assert_non_null(strstr(s->e[1].payload, "\"tmst\":300,"));
}

static void
test_crc_bad_forwarded(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map_fixture(s, "push-crc-mixed.json", true), 0);
	assert_counts(s, 3, 1, 0, 0, 0, false);
	assert_string_equal(s->err, "");
	assert_int_equal(s->n, 3);
	assert_string_equal(s->e[1].payload, PFX
	                    "\"rxpk\":{\"tmst\":200,\"chan\":1,\"rfch\":0,\"freq\":868.300000,"
	                    "\"stat\":-1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","
	                    "\"lsnr\":-19.8,\"rssi\":-121,\"size\":15,"
	                    "\"data\":\"YKGyw9SgBQAD/wAB0uGk\"}}");
}

static void
test_crc_status_values(void **state)
{
	struct sink *s = *state;
	const struct {
		const char *stat;
		bool bad;
	} cases[] = {
	        {"1", false},   {"0", false},   {"1.0", false},   {"1e0", false},
	        {"-0", false},  {"0.0", false}, {"-1", true},     {"2", true},
	        {"-1.0", true}, {"0.5", true},  {"1E+400", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"rxpk\":[{\"stat\":%s,\"data\":\"AA\"}]}",
		         cases[i].stat);
		assert_int_equal(map(s, body), 0);
		assert_int_equal(s->res.rxpk_crc_bad, cases[i].bad);
		assert_int_equal(s->res.rxpk_published, !cases[i].bad);
	}
	/* No stat at all is not bad either. */
	assert_int_equal(map(s, "{\"rxpk\":[{\"data\":\"AA\"}]}"), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
}

static void
test_unknown_fields_and_number_text_kept(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s,
	                     "{\"rxpk\":[{\"data\":\"AA\",\"freq\":868.100000,\"e\":1E+2,"
	                     "\"z\":-0.0,\"s\":1.5e-3,\"big\":123456789012345678901234567890,"
	                     "\"hpw\":\"10\",\"delayed\":true,\"x\":null,\"meta\":{\"k\":[[],{}]},"
	                     "\"dup\":1,\"dup\":2}]}"),
	                 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	assert_string_equal(s->e[0].payload, PFX
	                    "\"rxpk\":{\"data\":\"AA\",\"freq\":868.100000,\"e\":1E+2,"
	                    "\"z\":-0.0,\"s\":1.5e-3,\"big\":123456789012345678901234567890,"
	                    "\"hpw\":\"10\",\"delayed\":true,\"x\":null,\"meta\":{\"k\":[[],{}]},"
	                    "\"dup\":1,\"dup\":2}}");
}

static void
test_whitespace_removed_outside_strings_only(void **state)
{
	struct sink *s = *state;
	const char *body = "\r\n {\t\"rxpk\" :\n[ { \"data\" : \"a b\" ,\r\n \"k\" : \"end\\\\\" , "
	                   "\"m\" : \" \\\" { } , \" , \"n\" : [ 1 , { } , [ ] ] } ] \n}\n";
	assert_int_equal(map(s, body), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	assert_string_equal(s->e[0].payload, PFX "\"rxpk\":{\"data\":\"a b\",\"k\":\"end\\\\\","
	                                         "\"m\":\" \\\" { } , \",\"n\":[1,{},[]]}}");
}

static void
test_rxpk_not_an_array(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s, "{\"rxpk\":{\"data\":\"AA\"},\"stat\":{\"rxnb\":1}}"), 0);
	assert_counts(s, 0, 0, 0, 1, 0, true);
	assert_string_equal(s->err, "rxpk: expected an array");
	assert_int_equal(s->n, 1);
	assert_string_equal(s->e[0].payload, PFX "\"stat\":{\"rxnb\":1}}");

	assert_int_equal(map(s, "{\"rxpk\":null}"), 0);
	assert_counts(s, 0, 0, 0, 0, 0, true);
	assert_int_equal(s->n, 0);
}

static void
test_stat_not_an_object(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s, "{\"stat\":\"up\",\"rxpk\":[{\"data\":\"AA\"}]}"), 0);
	assert_counts(s, 1, 0, 0, 0, 1, false);
	assert_string_equal(s->err, "stat: expected an object");
	assert_int_equal(s->n, 1);
	assert_int_equal(s->e[0].kind, UPLINK_RXPK);
}

static void
test_elements_not_objects(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s, "{\"rxpk\":[1,\"x\",null,[{\"data\":\"AA\"}],{\"data\":\"AA\"}]}"),
	                 0);
	assert_counts(s, 1, 0, 4, 0, 0, false);
	assert_string_equal(s->err, "rxpk[0]: expected an object");
	assert_int_equal(s->n, 1);
	assert_string_equal(s->e[0].payload, PFX "\"rxpk\":{\"data\":\"AA\"}}");
}

static void
test_wrong_field_types(void **state)
{
	struct sink *s = *state;
	const struct {
		const char *field;
		const char *err;
	} cases[] = {
	        {"\"time\":1", "time: expected a string"},
	        {"\"tmms\":\"1\"", "tmms: expected a number"},
	        {"\"tmst\":\"1\"", "tmst: expected a number"},
	        {"\"freq\":\"868.1\"", "freq: expected a number"},
	        {"\"chan\":null", "chan: expected a number"},
	        {"\"rfch\":true", "rfch: expected a number"},
	        {"\"stat\":\"1\"", "stat: expected a number"},
	        {"\"rssi\":[]", "rssi: expected a number"},
	        {"\"lsnr\":{}", "lsnr: expected a number"},
	        {"\"size\":\"5\"", "size: expected a number"},
	        {"\"modu\":1", "modu: expected a string"},
	        {"\"codr\":4.5", "codr: expected a string"},
	        {"\"datr\":true", "datr: expected a string or a number"},
	        {"\"datr\":null", "datr: expected a string or a number"},
	        {"\"rsig\":{}", "rsig: expected an array"},
	        {"\"rsig\":\"x\"", "rsig: expected an array"},
	        {"\"rsig\":[1]", "rsig[0]: expected an object"},
	        {"\"rsig\":[{\"ant\":0},[]]", "rsig[1]: expected an object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[160], want[96];
		snprintf(body, sizeof(body), "{\"rxpk\":[{\"data\":\"AA\",%s}]}", cases[i].field);
		snprintf(want, sizeof(want), "rxpk[0]: %s", cases[i].err);
		assert_int_equal(map(s, body), 0);
		assert_counts(s, 0, 0, 1, 0, 0, false);
		assert_string_equal(s->err, want);
		assert_int_equal(s->n, 0);
	}
	assert_int_equal(map(s, "{\"rxpk\":[{\"data\":5}]}"), 0);
	assert_string_equal(s->err, "rxpk[0]: data: expected a string");
	/* The accepted types. */
	assert_int_equal(map(s, "{\"rxpk\":[{\"data\":\"AA\",\"datr\":50000,\"rsig\":[]},"
	                        "{\"data\":\"AA\",\"datr\":\"SF7BW125\",\"rsig\":[{}]}]}"),
	                 0);
	assert_counts(s, 2, 0, 0, 0, 0, false);
}

static void
test_bad_element_among_good_ones(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s,
	                     "{\"rxpk\":[{\"tmst\":1,\"data\":\"AA\"},{\"tmst\":2,\"data\":\"AA\"},"
	                     "{\"data\":\"AA\",\"freq\":\"868.1\"},{\"tmst\":4,\"data\":\"AA\"},"
	                     "{\"tmst\":5,\"size\":0}]}"),
	                 0);
	assert_counts(s, 3, 0, 2, 0, 0, false);
	assert_string_equal(s->err, "rxpk[2]: freq: expected a number");
	assert_int_equal(s->n, 3);
	assert_string_equal(s->e[0].payload, PFX "\"rxpk\":{\"tmst\":1,\"data\":\"AA\"}}");
	assert_string_equal(s->e[1].payload, PFX "\"rxpk\":{\"tmst\":2,\"data\":\"AA\"}}");
	assert_string_equal(s->e[2].payload, PFX "\"rxpk\":{\"tmst\":4,\"data\":\"AA\"}}");
}

static void
test_missing_data(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s, "{\"rxpk\":[{\"tmst\":1,\"size\":0}]}"), 0);
	assert_counts(s, 0, 0, 1, 0, 0, false);
	assert_string_equal(s->err, "rxpk[0]: data: missing");
	assert_int_equal(map(s, "{\"rxpk\":[{}]}"), 0);
	assert_counts(s, 0, 0, 1, 0, 0, false);
}

static void
test_invalid_json(void **state)
{
	struct sink *s = *state;
	const struct {
		const char *body;
		size_t len; /* 0: strlen */
		const char *err;
	} cases[] = {
	        {"{\"rxpk\":[{\"tmst\":1}", 0,
	         "invalid JSON at offset 19: unexpected end of input in array"},
	        {"{\"rxpk\":[{\"tmst\":1", 0,
	         "invalid JSON at offset 18: unexpected end of input in object"},
	        {"{\"rxpk\":[{\"data\":\"AA", 0, "invalid JSON at offset 20: unterminated string"},
	        {"{\"rxpk\":[1,]}", 0, "invalid JSON at offset 11: expected a value"},
	        {"{\"rxpk\":[],}", 0, "invalid JSON at offset 11: expected a member name"},
	        {"{\"a\":1,\"b\":2,}", 0, "invalid JSON at offset 13: expected a member name"},
	        {"{\"rxpk\":[{\"data\":\"x\",}]}", 0,
	         "invalid JSON at offset 21: expected a member name"},
	        {"{\"a\":1 /* c */}", 0, "invalid JSON at offset 7: expected ',' or '}'"},
	        {"{// c\n}", 0, "invalid JSON at offset 1: expected a member name or '}'"},
	        {"{\"a\":NaN}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{\"a\":Infinity}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{\"a\":-Infinity}", 0, "invalid JSON at offset 6: invalid number"},
	        {"{'a':1}", 0, "invalid JSON at offset 1: expected a member name or '}'"},
	        {"{a:1}", 0, "invalid JSON at offset 1: expected a member name or '}'"},
	        {"{\"a\":\"x\ny\"}", 0, "invalid JSON at offset 7: control character in string"},
	        {"{\"a\":\"x\ty\"}", 0, "invalid JSON at offset 7: control character in string"},
	        {"{\"a\":\"x\0y\"}", 11, "invalid JSON at offset 7: control character in string"},
	        {"{\"a\":\"\\x\"}", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\u12\"}", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\u12", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\ud800\"}", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\uDC00\"}", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\ud800\\u0041\"}", 0,
	         "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\\ud800\\", 0, "invalid JSON at offset 6: invalid escape in string"},
	        {"{\"a\":\"\xff\"}", 0, "invalid JSON at offset 6: invalid UTF-8 in string"},
	        {"{\"a\":\"\xc0\x80\"}", 0, "invalid JSON at offset 6: invalid UTF-8 in string"},
	        {"{\"a\":\"\xed\xa0\x80\"}", 0,
	         "invalid JSON at offset 6: invalid UTF-8 in string"},
	        {"{\"a\":\"\xe2\x82\"}", 0, "invalid JSON at offset 6: invalid UTF-8 in string"},
	        {"{\"a\":\"\xf4\x90\x80\x80\"}", 0,
	         "invalid JSON at offset 6: invalid UTF-8 in string"},
	        {"{\"a\":01}", 0, "invalid JSON at offset 6: expected ',' or '}'"},
	        {"{\"a\":1.}", 0, "invalid JSON at offset 7: invalid number"},
	        {"{\"a\":.5}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{\"a\":+1}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{\"a\":1e}", 0, "invalid JSON at offset 7: invalid number"},
	        {"{\"a\":-}", 0, "invalid JSON at offset 6: invalid number"},
	        {"{\"a\":tru}", 0, "invalid JSON at offset 5: invalid literal"},
	        {"{\"a\":True}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{\"a\"1}", 0, "invalid JSON at offset 4: expected ':'"},
	        {"{\"a\":}", 0, "invalid JSON at offset 5: expected a value"},
	        {"{} x", 0, "invalid JSON at offset 3: unexpected data after the value"},
	        {"{}{}", 0, "invalid JSON at offset 2: unexpected data after the value"},
	        {"{\"a\":1}}", 0, "invalid JSON at offset 7: unexpected data after the value"},
	        {"{}\0x", 4, "invalid JSON at offset 3: unexpected data after the value"},
	        {"", 0, "invalid JSON at offset 0: unexpected end of input"},
	        {" \r\n\t", 0, "invalid JSON at offset 4: unexpected end of input"},
	        {"\0\0", 2, "invalid JSON at offset 0: expected a value"},
	        {"\xef\xbb\xbf{}", 0, "invalid JSON at offset 0: expected a value"},
	        {"[1,", 0, "invalid JSON at offset 3: unexpected end of input"},
	        {"[{\"rxpk\":[]}]", 0, "body is an array, expected an object"},
	        {"\"rxpk\"", 0, "body is a string, expected an object"},
	        {"42", 0, "body is a number, expected an object"},
	        {"null", 0, "body is null, expected an object"},
	        {"true\0", 5, "body is a boolean, expected an object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
		assert_int_equal(map_bytes(s, cases[i].body, len, true), -1);
		assert_string_equal(s->err, cases[i].err);
		assert_int_equal(s->n, 0);
		assert_counts(s, 0, 0, 0, 0, 0, false);
	}
}

static void
test_valid_json_edge_cases(void **state)
{
	struct sink *s = *state;
	/* Every escape, UTF-8 up to 4 bytes, exponents: all valid, all verbatim. */
	const char *elem =
	        "{\"data\":\"AA\",\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00"
	        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"n\":[0,-0,0.5,1e5,1E-5,-1.25e+10]}";
	char body[256];
	snprintf(body, sizeof(body), "{\"rxpk\":[%s]}", elem);
	assert_int_equal(map(s, body), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	char want[256];
	snprintf(want, sizeof(want), PFX "\"rxpk\":%s}", elem);
	assert_string_equal(s->e[0].payload, want);
}

static void
test_empty_object_and_array(void **state)
{
	struct sink *s = *state;
	strcpy(s->err, "stale");
	assert_int_equal(map(s, "{}"), 0);
	assert_string_equal(s->err, "");
	assert_counts(s, 0, 0, 0, 0, 0, false);
	assert_int_equal(s->n, 0);
	assert_int_equal(map(s, " { } "), 0);
	assert_int_equal(map(s, "{\"rxpk\":[]}"), 0);
	assert_counts(s, 0, 0, 0, 0, 0, false);
	assert_int_equal(s->n, 0);
}

static void
test_trailing_nuls_and_whitespace(void **state)
{
	struct sink *s = *state;
	const char body[] = "{\"rxpk\":[{\"data\":\"AA\"}]}\0\0\0";
	assert_int_equal(map_bytes(s, body, sizeof(body) - 1, false), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	assert_string_equal(s->e[0].payload, PFX "\"rxpk\":{\"data\":\"AA\"}}");

	const char body2[] = "{\"stat\":{}}\r\n\0 \0";
	assert_int_equal(map_bytes(s, body2, sizeof(body2) - 1, false), 0);
	assert_counts(s, 0, 0, 0, 1, 0, false);
}

static void
test_deep_nesting(void **state)
{
	struct sink *s = *state;
	size_t n = 10000;
	char *deep = malloc(n * 5 + 1);
	assert_non_null(deep);

	memset(deep, '[', n);
	assert_int_equal(map_bytes(s, deep, n, false), -1);
	assert_string_equal(s->err, "invalid JSON at offset 32: nesting too deep");

	for (size_t i = 0; i < n; i++) {
		memcpy(deep + 5 * i, "{\"a\":", 5);
	}
	assert_int_equal(map_bytes(s, deep, n * 5, false), -1);
	assert_string_equal(s->err, "invalid JSON at offset 160: nesting too deep");
	free(deep);

	/* 32 levels are fine, 33 are not, wherever they are. */
	char body[512];
	int at = snprintf(body, sizeof(body), "{\"rxpk\":[{\"data\":\"AA\",\"deep\":");
	memset(body + at, '[', 29);
	memset(body + at + 29, ']', 29);
	strcpy(body + at + 58, "}]}");
	assert_int_equal(map(s, body), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);

	memset(body + at, '[', 30);
	memset(body + at + 30, ']', 30);
	strcpy(body + at + 60, "}]}");
	assert_int_equal(map(s, body), -1);
	assert_string_equal(s->err, "invalid JSON at offset 58: nesting too deep");
	assert_int_equal(s->n, 0);
}

static void
test_every_truncation(void **state)
{
	struct sink *s = *state;
	size_t len;
	char *body = load_fixture("gwmp", "push-lora-fsk.json", &len);
	size_t last = len;
	while (last > 0 && body[last - 1] != '}') {
		last--;
	}
	for (size_t i = 0; i < len; i++) {
		int r = map_bytes(s, body, i, false);
		assert_int_equal(r, i < last ? -1 : 0);
		assert_int_equal(s->n, i < last ? 0 : 2);
	}
	free(body);
}

/* Random byte changes to real bodies: never a crash, never bad output
 * (collect() parses every payload). */
static void
test_mutations(void **state)
{
	struct sink *s = *state;
	const char *names[] = {"push-lora-fsk.json", "push-jver2-rsig.json", "push-rxpk-stat.json",
	                       "push-crc-mixed.json"};
	const char alphabet[] = "{}[]\",:\\ 0-1.eE\0\n\x80\xc3tfnu";
	uint32_t seed = 12345;
	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *orig = load_fixture("gwmp", names[f], &len);
		char *body = malloc(len);
		assert_non_null(body);
		for (int iter = 0; iter < 1500; iter++) {
			memcpy(body, orig, len);
			int flips = 1 + iter % 4;
			for (int k = 0; k < flips; k++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % len;
				seed = seed * 1103515245u + 12345u;
				body[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			}
			int r = map_bytes(s, body, len, iter & 1);
			assert_true(r == 0 || r == -1);
			size_t rx = 0;
			for (size_t i = 0; i < s->n; i++) {
				rx += s->e[i].kind == UPLINK_RXPK;
			}
			assert_int_equal(rx, s->res.rxpk_published);
			assert_int_equal(s->n - rx, s->res.stat_published);
		}
		free(body);
		free(orig);
	}
}

static void
test_many_rxpk_in_order(void **state)
{
	struct sink *s = *state;
	size_t cap = 256 * 48 + 32;
	char *body = malloc(cap);
	assert_non_null(body);
	size_t at = (size_t)snprintf(body, cap, "{\"rxpk\":[");
	for (int i = 0; i < 255; i++) {
		at += (size_t)snprintf(body + at, cap - at, "%s{\"tmst\":%d,\"data\":\"AA\"}",
		                       i ? "," : "", i);
	}
	at += (size_t)snprintf(body + at, cap - at, "]}");
	assert_int_equal(map_bytes(s, body, at, false), 0);
	assert_counts(s, 255, 0, 0, 0, 0, false);
	for (int i = 0; i < 255; i++) {
		char want[128];
		snprintf(want, sizeof(want), PFX "\"rxpk\":{\"tmst\":%d,\"data\":\"AA\"}}", i);
		assert_string_equal(s->e[i].payload, want);
	}
	free(body);
}

static void
test_large_element(void **state)
{
	struct sink *s = *state;
	/* Bigger than the mapper's stack buffer: the payload moves to the heap. */
	size_t big = 20000;
	char *body = malloc(big + 64);
	assert_non_null(body);
	int at = sprintf(body, "{\"rxpk\":[{\"data\":\"AA\",\"x\":\"");
	memset(body + at, 'q', big);
	strcpy(body + at + big, "\"}, {\"data\":\"BB\"}]}");
	assert_int_equal(map(s, body), 0);
	assert_counts(s, 2, 0, 0, 0, 0, false);
	assert_int_equal(s->e[0].len, strlen(PFX "\"rxpk\":{\"data\":\"AA\",\"x\":\"\"}}") + big);
	assert_string_equal(s->e[1].payload, PFX "\"rxpk\":{\"data\":\"BB\"}}");
	free(body);
}

static void
test_duplicate_rxpk_key_first_wins(void **state)
{
	struct sink *s = *state;
	assert_int_equal(map(s, "{\"rxpk\":[{\"data\":\"AA\"}],\"rxpk\":[{\"data\":\"BB\"}]}"), 0);
	assert_counts(s, 1, 0, 0, 0, 0, false);
	assert_string_equal(s->e[0].payload, PFX "\"rxpk\":{\"data\":\"AA\"}}");
}

static void
test_prefix_escaped_and_optional_args(void **state)
{
	struct sink *s = *state;
	sink_clear(s);
	const char body[] = "{\"stat\":{}}";
	assert_int_equal(uplink_map(body, strlen(body), "a\"b\\", "t\x01", false, collect, s,
	                            &s->res, s->err, sizeof(s->err)),
	                 0);
	assert_string_equal(s->e[0].payload,
	                    "{\"mac\":\"a\\\"b\\\\\",\"received_at\":\"t\\u0001\",\"stat\":{}}");

	/* No emit, no result, no err buffer: still safe. */
	assert_int_equal(
	        uplink_map(body, strlen(body), MAC, RXAT, false, NULL, NULL, NULL, NULL, 0), 0);
	assert_int_equal(uplink_map("[", 1, MAC, RXAT, false, NULL, NULL, NULL, NULL, 0), -1);
	assert_int_equal(uplink_map(NULL, 5, MAC, RXAT, false, NULL, NULL, NULL, NULL, 0), -1);

	/* A short err buffer truncates the message. */
	char small[8];
	assert_int_equal(
	        uplink_map("[", 1, MAC, RXAT, false, NULL, NULL, NULL, small, sizeof(small)), -1);
	assert_string_equal(small, "invalid");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_free)
	const struct CMUnitTest tests[] = {
	        T(test_lora_and_fsk_in_one_datagram),
	        T(test_jver2_two_antennas),
	        T(test_rxpk_and_stat_rxpk_first),
	        T(test_stat_only),
	        T(test_crc_bad_dropped),
	        T(test_crc_bad_forwarded),
	        T(test_crc_status_values),
	        T(test_unknown_fields_and_number_text_kept),
	        T(test_whitespace_removed_outside_strings_only),
	        T(test_rxpk_not_an_array),
	        T(test_stat_not_an_object),
	        T(test_elements_not_objects),
	        T(test_wrong_field_types),
	        T(test_bad_element_among_good_ones),
	        T(test_missing_data),
	        T(test_invalid_json),
	        T(test_valid_json_edge_cases),
	        T(test_empty_object_and_array),
	        T(test_trailing_nuls_and_whitespace),
	        T(test_deep_nesting),
	        T(test_every_truncation),
	        T(test_mutations),
	        T(test_many_rxpk_in_order),
	        T(test_large_element),
	        T(test_duplicate_rxpk_key_first_wins),
	        T(test_prefix_escaped_and_optional_args),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
