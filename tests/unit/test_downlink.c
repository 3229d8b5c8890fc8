/* `down` requests, TX_ACK bodies and `ack` payloads (bridge/downlink.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "downlink.h"
#include "gwmp.h"

#define MAC "b827ebfffe6a3c10"

/* Parses an exactly sized heap copy, so that ASan catches reads past len. */
static int
parse_bytes(const char *payload, size_t len, struct downlink_request *req, char *err, size_t errlen)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, payload, len);
	int r = downlink_parse(copy, len, req, err, errlen);
	free(copy);
	return r;
}

static void
expect_ok(const char *payload, size_t len, const char *id_json, const char *pull_resp)
{
	struct downlink_request req;
	char err[128] = "stale";
	assert_int_equal(parse_bytes(payload, len, &req, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(req.id_json, id_json);
	assert_string_equal(req.pull_resp_json, pull_resp);
	assert_int_equal(req.pull_resp_len, strlen(pull_resp));
	downlink_request_clear(&req);
	assert_null(req.pull_resp_json);
	downlink_request_clear(&req); /* twice is harmless */
}

static void
expect_fail(const char *payload, const char *id_json, const char *want)
{
	struct downlink_request req;
	char err[128];
	assert_int_equal(parse_bytes(payload, strlen(payload), &req, err, sizeof(err)), -1);
	if (strcmp(err, want) != 0) {
		print_error("payload: %s\n", payload);
	}
	assert_string_equal(err, want);
	assert_string_equal(req.id_json, id_json);
	assert_null(req.pull_resp_json);
	assert_int_equal(req.pull_resp_len, 0);
	downlink_request_clear(&req);
}

static void
expect_fixture(const char *name, const char *id_json, const char *pull_resp)
{
	size_t len;
	char *payload = load_fixture("gwmp", name, &len);
	expect_ok(payload, len, id_json, pull_resp);
	free(payload);
}

static void
test_lora_class_a(void **state)
{
	expect_fixture("down-lora-class-a.json", "\"dl-7f3a\"",
	               "{\"txpk\":{\"imme\":false,\"tmst\":2719281828,\"freq\":868.1,\"rfch\":0,"
	               "\"powe\":14,\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"codr\":\"4/5\","
	               "\"ipol\":true,\"size\":15,\"data\":\"YKGyw9SgBQAD/wAB0uGk\",\"brd\":0,"
	               "\"ant\":0}}");
}

static void
test_lora_immediate_fills_rfch_and_size(void **state)
{
	expect_fixture("down-lora-imme.json", "4711",
	               "{\"txpk\":{\"imme\":true,\"freq\":869.525,\"powe\":27,\"modu\":\"LORA\","
	               "\"datr\":\"SF12BW125\",\"codr\":\"4/5\",\"ipol\":true,"
	               "\"data\":\"YKGyw9SgBQAD/wAB0uGk\",\"rfch\":0,\"size\":15}}");
}

static void
test_fsk(void **state)
{
	expect_fixture("down-fsk.json", "null",
	               "{\"txpk\":{\"imme\":true,\"freq\":868.8,\"rfch\":1,\"powe\":14,"
	               "\"modu\":\"FSK\",\"datr\":50000,\"fdev\":25000,\"prea\":5,\"size\":5,"
	               "\"data\":\"SGVsbG8\"}}");
}

static void
test_class_b_tmms(void **state)
{
	expect_fixture("down-class-b.json", "\"beacon-slot-12\"",
	               "{\"txpk\":{\"tmms\":1457602128000,\"freq\":869.525,\"powe\":14,"
	               "\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"ipol\":true,"
	               "\"data\":\"K34VFiiu0qY\",\"rfch\":0,\"size\":8}}");
}

#define LORA_OK                                                                                    \
	"\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","                 \
	"\"data\":\"SGVsbG8=\""
#define FSK_OK "\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":25000,\"data\":\"SGVsbG8=\""

/* Each txpk is otherwise valid, so the first error found is the one named. */
static const struct {
	const char *txpk;
	const char *err;
} txpk_error_cases[] = {
        {LORA_OK, "txpk: needs imme true, tmst or tmms"},
        {"\"imme\":false," LORA_OK, "txpk: needs imme true, tmst or tmms"},
        {"\"imme\":\"yes\"," LORA_OK, "txpk.imme: expected a boolean"},
        {"\"tmst\":-1," LORA_OK, "txpk.tmst: out of range (0..4294967295)"},
        {"\"tmst\":4294967296," LORA_OK, "txpk.tmst: out of range (0..4294967295)"},
        {"\"tmst\":1.5," LORA_OK, "txpk.tmst: expected an integer"},
        {"\"tmst\":\"1\"," LORA_OK, "txpk.tmst: expected a number"},
        {"\"tmms\":-5," LORA_OK, "txpk.tmms: out of range (0..9007199254740992)"},
        {"\"tmst\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/"
         "5\",\"data\":\"AA\"",
         "txpk.freq: missing"},
        {"\"tmst\":1,\"freq\":\"868.1\"", "txpk.freq: expected a number"},
        {"\"tmst\":1,\"freq\":0", "txpk.freq: out of range (MHz)"},
        {"\"tmst\":1,\"freq\":-868.1", "txpk.freq: out of range (MHz)"},
        {"\"tmst\":1,\"rfch\":\"0\"," LORA_OK, "txpk.rfch: expected a number"},
        {"\"tmst\":1,\"rfch\":256," LORA_OK, "txpk.rfch: out of range (0..255)"},
        {"\"tmst\":1,\"powe\":\"14\"," LORA_OK, "txpk.powe: expected a number"},
        {"\"tmst\":1,\"prea\":2.5," LORA_OK, "txpk.prea: expected an integer"},
        {"\"tmst\":1,\"ipol\":1," LORA_OK, "txpk.ipol: expected a boolean"},
        {"\"tmst\":1,\"ncrc\":\"no\"," LORA_OK, "txpk.ncrc: expected a boolean"},
        {"\"tmst\":1,\"nhdr\":null," LORA_OK, "txpk.nhdr: expected a boolean"},
        {"\"tmst\":1,\"freq\":868.1,\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"data\":\"AA\"",
         "txpk.modu: missing"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":1", "txpk.modu: expected a string"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LoRa\"", "txpk.modu: expected \"LORA\" or \"FSK\""},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"codr\":\"4/5\",\"data\":\"AA\"",
         "txpk.datr: missing"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":7",
         "txpk.datr: expected a string (\"SF<n>BW<n>\") for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125x\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"sf7bw125\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SFBW125\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF123BW125\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW\"",
         "txpk.datr: expected \"SF<n>BW<n>\" for LoRa"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"data\":"
         "\"AA\"",
         "txpk.codr: missing"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":45",
         "txpk.codr: expected a string"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"fdev\":3000,\"data\":\"AA\"",
         "txpk.datr: missing"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":\"50000\",\"fdev\":3000",
         "txpk.datr: expected a positive number (bit/s) for FSK"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":0,\"fdev\":3000",
         "txpk.datr: expected a positive number (bit/s) for FSK"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"data\":\"AA\"",
         "txpk.fdev: missing"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":\"3000\"",
         "txpk.fdev: expected a number"},
        {"\"tmst\":1,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/"
         "5\"",
         "txpk.data: missing"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":3000,\"data\":"
         "5",
         "txpk.data: expected a string"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":3000,"
         "\"data\":\"!!!!\"",
         "txpk.data: not valid base64"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":3000,"
         "\"data\":\"SGVsbG8=x\"",
         "txpk.data: not valid base64"},
        {"\"tmst\":1,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,\"fdev\":3000,"
         "\"data\":\"SGV sbG8=\"",
         "txpk.data: not valid base64"},
        {"\"tmst\":1," LORA_OK ",\"size\":\"5\"", "txpk.size: expected a number"},
        {"\"tmst\":1," LORA_OK ",\"size\":5.5", "txpk.size: expected an integer"},
        {"\"tmst\":1," LORA_OK ",\"size\":4", "txpk.size 4 does not match data length 5"},
        {"\"tmst\":1,\"freq\":868.1,\"freq\":869.1," FSK_OK, "txpk: duplicate key \"freq\""},
        {"\"tmst\":1,\"x\":{\"a\":1,\"b\":[{\"a\":1,\"a\":2}]}," FSK_OK,
         "txpk: duplicate key \"a\""},
};

static void
test_txpk_field_errors(void **state)
{
	for (size_t i = 0; i < sizeof(txpk_error_cases) / sizeof(txpk_error_cases[0]); i++) {
		char payload[512];
		snprintf(payload, sizeof(payload), "{\"id\":\"t1\",\"txpk\":{%s}}",
		         txpk_error_cases[i].txpk);
		expect_fail(payload, "\"t1\"", txpk_error_cases[i].err);
	}
}

static void
test_valid_variants(void **state)
{
	expect_ok("{\"txpk\":{\"tmst\":0," LORA_OK "}}",
	          strlen("{\"txpk\":{\"tmst\":0," LORA_OK "}}"), "null",
	          "{\"txpk\":{\"tmst\":0,\"freq\":868.1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
	          "\"codr\":\"4/5\",\"data\":\"SGVsbG8=\",\"rfch\":0,\"size\":5}}");
	/* tmst at its maximum, imme false with a time, padding-free data. */
	const char *p =
	        "{\"txpk\":{\"imme\":false,\"tmst\":4294967295,\"size\":5,\"rfch\":1,"
	        "\"freq\":2425.0,\"modu\":\"LORA\",\"datr\":\"SF12BW1625\",\"codr\":\"4/8LI\","
	        "\"data\":\"SGVsbG8\",\"ncrc\":true,\"nhdr\":false,\"prea\":12}}\n\0\0";
	expect_ok(p, strlen(p) + 2, "null",
	          "{\"txpk\":{\"imme\":false,\"tmst\":4294967295,\"size\":5,\"rfch\":1,"
	          "\"freq\":2425,\"modu\":\"LORA\",\"datr\":\"SF12BW1625\",\"codr\":\"4/8LI\","
	          "\"data\":\"SGVsbG8\",\"ncrc\":true,\"nhdr\":false,\"prea\":12}}");
	/* An empty payload is sent as such. */
	p = "{\"txpk\":{\"imme\":true," FSK_OK "}}";
	char *q = strdup(p);
	assert_non_null(q);
	memcpy(strstr(q, "SGVsbG8=\""), "\"        ", 9); /* data "" then spaces */
	expect_ok(q, strlen(q), "null",
	          "{\"txpk\":{\"imme\":true,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,"
	          "\"fdev\":25000,\"data\":\"\",\"rfch\":0,\"size\":0}}");
	free(q);
}

static void
test_size_mismatch(void **state)
{
	/* 10 bytes of data, size says 12. */
	expect_fail("{\"id\":\"x\",\"txpk\":{\"imme\":true,\"freq\":868.1,\"modu\":\"LORA\","
	            "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"size\":12,"
	            "\"data\":\"AAECAwQFBgcICQ==\"}}",
	            "\"x\"", "txpk.size 12 does not match data length 10");
}

static char *
payload_with_data_bytes(size_t n)
{
	uint8_t bin[300];
	char b64[420];
	for (size_t i = 0; i < n; i++) {
		bin[i] = (uint8_t)(i * 7);
	}
	size_t b = 0;
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)bin[i] << 16;
		v |= i + 1 < n ? (uint32_t)bin[i + 1] << 8 : 0;
		v |= i + 2 < n ? bin[i + 2] : 0;
		b64[b++] = tab[v >> 18 & 63];
		b64[b++] = tab[v >> 12 & 63];
		b64[b++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		b64[b++] = i + 2 < n ? tab[v & 63] : '=';
	}
	b64[b] = '\0';
	char *p = malloc(600);
	assert_non_null(p);
	snprintf(p, 600, "{\"id\":7,\"txpk\":{\"imme\":true," LORA_OK "}}");
	char *data = strstr(p, "SGVsbG8=");
	char tail[16];
	strcpy(tail, data + 8);
	strcpy(data, b64);
	strcat(data, tail);
	return p;
}

static void
test_data_length_limit(void **state)
{
	char *p = payload_with_data_bytes(255);
	struct downlink_request req;
	char err[128];
	assert_int_equal(parse_bytes(p, strlen(p), &req, err, sizeof(err)), 0);
	assert_non_null(strstr(req.pull_resp_json, "\"rfch\":0,\"size\":255}}"));
	downlink_request_clear(&req);
	free(p);

	p = payload_with_data_bytes(256);
	expect_fail(p, "7", "txpk.data: more than 255 bytes");
	free(p);
}

static void
test_payload_size_limit(void **state)
{
	const char *base = "{\"txpk\":{\"imme\":true," FSK_OK "}}";
	char *p = malloc(DOWNLINK_MAX_PAYLOAD + 2);
	assert_non_null(p);
	/* Exactly the limit (padded with whitespace) is fine, one more byte is not. */
	memset(p, ' ', DOWNLINK_MAX_PAYLOAD + 1);
	memcpy(p, base, strlen(base));
	struct downlink_request req;
	char err[128];
	assert_int_equal(parse_bytes(p, DOWNLINK_MAX_PAYLOAD, &req, err, sizeof(err)), 0);
	downlink_request_clear(&req);
	assert_int_equal(parse_bytes(p, DOWNLINK_MAX_PAYLOAD + 1, &req, err, sizeof(err)), -1);
	assert_string_equal(err, "payload larger than 4096 bytes");
	assert_string_equal(req.id_json, "null");
	assert_null(req.pull_resp_json);
	free(p);
}

static void
test_id_forms(void **state)
{
	const char *txpk = "\"txpk\":{\"imme\":true," FSK_OK "}";
	const struct {
		const char *id;
		const char *id_json;
	} ok[] = {
	        {"\"abc\"", "\"abc\""},
	        {"42", "42"},
	        {"-1", "-1"},
	        {"4.5", "4.5"},
	        {"null", "null"},
	        {"\"\"", "\"\""},
	        {"\"a\\\"b\"", "\"a\\\"b\""},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char payload[256];
		snprintf(payload, sizeof(payload), "{\"id\":%s,%s}", ok[i].id, txpk);
		struct downlink_request req;
		char err[128];
		assert_int_equal(parse_bytes(payload, strlen(payload), &req, err, sizeof(err)), 0);
		assert_string_equal(req.id_json, ok[i].id_json);
		downlink_request_clear(&req);
	}
	char payload[512];
	snprintf(payload, sizeof(payload), "{%s}", txpk);
	expect_ok(payload, strlen(payload), "null",
	          "{\"txpk\":{\"imme\":true,\"freq\":868.8,\"modu\":\"FSK\",\"datr\":50000,"
	          "\"fdev\":25000,\"data\":\"SGVsbG8=\",\"rfch\":0,\"size\":5}}");

	const char *bad[] = {"{\"a\":1}", "[1]", "true", "false"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(payload, sizeof(payload), "{\"id\":%s,%s}", bad[i], txpk);
		expect_fail(payload, "null", "id: expected a string or a number");
	}

	/* 253 characters quote to 255 bytes, which fit; 254 do not. */
	char id[300];
	memset(id, 'i', 253);
	id[253] = '\0';
	snprintf(payload, sizeof(payload), "{\"id\":\"%s\",%s}", id, txpk);
	struct downlink_request req;
	char err[128];
	assert_int_equal(parse_bytes(payload, strlen(payload), &req, err, sizeof(err)), 0);
	assert_int_equal(strlen(req.id_json), 255);
	downlink_request_clear(&req);
	strcat(id, "i");
	snprintf(payload, sizeof(payload), "{\"id\":\"%s\",%s}", id, txpk);
	expect_fail(payload, "null", "id: longer than 255 bytes");
}

static void
test_id_kept_when_txpk_fails(void **state)
{
	expect_fail("{\"id\":\"dl-1\"}", "\"dl-1\"", "txpk: missing");
	expect_fail("{\"id\":99,\"txpk\":[]}", "99", "txpk: expected an object");
	expect_fail("{\"txpk\":\"x\",\"id\":\"late\"}", "\"late\"", "txpk: expected an object");
}

static void
test_not_json_or_not_object(void **state)
{
	expect_fail("{\"txpk\":", "null", "invalid JSON at offset 8: unexpected end of input");
	expect_fail("{\"id\":\"a\",\"txpk\":{},}", "null",
	            "invalid JSON at offset 20: expected a member name");
	expect_fail("", "null", "invalid JSON at offset 0: unexpected end of input");
	expect_fail("[]", "null", "expected a JSON object, got an array");
	expect_fail("\"txpk\"", "null", "expected a JSON object, got a string");
	/* A lone surrogate: grammatical, but meaningless and unreadable to cJSON. */
	expect_fail("{\"id\":\"\\ud800\",\"txpk\":{}}", "null",
	            "invalid JSON at offset 7: invalid escape in string");

	struct downlink_request req;
	char *deep = malloc(4000);
	assert_non_null(deep);
	memset(deep, '[', 4000);
	assert_int_equal(parse_bytes(deep, 4000, &req, NULL, 0), -1);
	assert_string_equal(req.id_json, "null");
	free(deep);
	assert_int_equal(downlink_parse(NULL, 0, &req, NULL, 0), -1);
}

/* txack_parse on an exactly sized copy. */
static int
txack(const char *body, size_t len, char *code, char **json, char *err)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, body, len);
	int r = txack_parse(copy, len, code, 33, json, err, 128);
	free(copy);
	return r;
}

static void
expect_txack(const char *body, size_t len, const char *code_want, const char *json_want)
{
	char code[33], err[128];
	char *json = (char *)"junk";
	assert_int_equal(txack(body, len, code, &json, err), 0);
	assert_string_equal(code, code_want);
	if (json_want == NULL) {
		assert_null(json);
	} else {
		assert_non_null(json);
		assert_string_equal(json, json_want);
	}
	free(json);
}

static void
expect_txack_fail(const char *body, const char *err_want)
{
	char code[33], err[128];
	char *json = (char *)"junk";
	assert_int_equal(txack(body, strlen(body), code, &json, err), -1);
	assert_null(json);
	assert_string_equal(code, "");
	assert_string_equal(err, err_want);
}

static void
test_txack_bodies(void **state)
{
	expect_txack("", 0, "NONE", NULL);
	expect_txack("\0", 1, "NONE", NULL);
	expect_txack("\0\0\n", 3, "NONE", NULL);

	size_t len;
	char *body = load_fixture("gwmp", "txack-collision.json", &len);
	expect_txack(body, len, "COLLISION_PACKET", "{\"error\":\"COLLISION_PACKET\"}");
	free(body);
	body = load_fixture("gwmp", "txack-warn.json", &len);
	expect_txack(body, len, "NONE", "{\"warn\":\"TX_POWER\",\"value\":14}");
	free(body);

	const char none[] = "{\"txpk_ack\":{\"error\":\"NONE\"}}\0\0";
	expect_txack(none, sizeof(none) - 1, "NONE", "{\"error\":\"NONE\"}");
	expect_txack("{\"txpk_ack\":{}}", 15, "NONE", "{}");
	char code32[64];
	snprintf(code32, sizeof(code32), "{\"txpk_ack\":{\"error\":\"%s\"}}",
	         "ABCDEFGHIJKLMNOPQRSTUVWXYZ_01239");
	expect_txack(code32, strlen(code32), "ABCDEFGHIJKLMNOPQRSTUVWXYZ_01239",
	             "{\"error\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ_01239\"}");
}

static void
test_txack_refused(void **state)
{
	const char *bad_code = "txpk_ack.error: expected up to 32 characters A-Z, 0-9, _";
	expect_txack_fail("{\"txpk_ack\":{\"error\":5}}", "txpk_ack.error: expected a string");
	expect_txack_fail("{\"txpk_ack\":{\"error\":null}}", "txpk_ack.error: expected a string");
	expect_txack_fail("{\"txpk_ack\":{\"error\":\"too late\"}}", bad_code);
	expect_txack_fail("{\"txpk_ack\":{\"error\":\"too_late\"}}", bad_code);
	expect_txack_fail("{\"txpk_ack\":{\"error\":\"\"}}", bad_code);
	expect_txack_fail("{\"txpk_ack\":{\"error\":\"X\\n\"}}", bad_code);
	expect_txack_fail("{\"txpk_ack\":{\"error\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ_012345\"}}",
	                  bad_code);
	expect_txack_fail("{\"txpk_ack\":\"NONE\"}", "txpk_ack: expected an object");
	expect_txack_fail("{\"txpk_ack\":[]}", "txpk_ack: expected an object");
	expect_txack_fail("{\"txpk\":{}}", "txpk_ack: missing");
	expect_txack_fail("[]", "expected a JSON object, got an array");
	expect_txack_fail("{\"txpk_ack\":{",
	                  "invalid JSON at offset 13: unexpected end of input in object");
	expect_txack_fail("x", "invalid JSON at offset 0: expected a value");
	expect_txack_fail("{\"txpk_ack\":{}}garbage",
	                  "invalid JSON at offset 15: unexpected data after the value");
}

static void
test_txack_from_datagrams(void **state)
{
	/* The whole path: datagram -> gwmp_parse -> txack_parse. */
	const uint8_t nul_ack[] = {2,    0xe0, 0x5a, 5,    0xb8, 0x27, 0xeb,
	                           0xff, 0xfe, 0x6a, 0x3c, 0x10, 0};
	struct gwmp_packet pkt;
	assert_int_equal(gwmp_parse(nul_ack, sizeof(nul_ack), &pkt), GWMP_OK);
	expect_txack((const char *)pkt.body, pkt.body_len, "NONE", NULL);

	const char pycom[] = "\x02\xe0\x5b\x04\xb8\x27\xeb\xff\xfe\x6a\x3c\x10"
	                     "{\"txpk_ack\": {\"error\": \"NONE\"}}";
	assert_int_equal(gwmp_parse((const uint8_t *)pycom, sizeof(pycom) - 1, &pkt), GWMP_OK);
	assert_int_equal(pkt.type, GWMP_PULL_ACK);
	expect_txack((const char *)pkt.body, pkt.body_len, "NONE", "{\"error\":\"NONE\"}");
}

static void
test_ack_build(void **state)
{
	char *a = ack_build(MAC, "\"dl-7f3a\"", ACK_NONE, NULL, NULL);
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":\"dl-7f3a\",\"error\":\"NONE\"}");
	free(a);

	a = ack_build(MAC, "42", "TOO_LATE", NULL, "{\"error\":\"TOO_LATE\"}");
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":42,\"error\":\"TOO_LATE\","
	                       "\"txpk_ack\":{\"error\":\"TOO_LATE\"}}");
	free(a);

	a = ack_build(MAC, "null", ACK_MALFORMED, "txpk.freq: \"x\"\n\\", NULL);
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":null,\"error\":\"MALFORMED\","
	                       "\"detail\":\"txpk.freq: \\\"x\\\"\\n\\\\\"}");
	free(a);

	a = ack_build(MAC, "\"x\"", ACK_NONE, "power reduced",
	              "{\"warn\":\"TX_POWER\",\"value\":14}");
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":\"x\",\"error\":\"NONE\","
	                       "\"detail\":\"power reduced\","
	                       "\"txpk_ack\":{\"warn\":\"TX_POWER\",\"value\":14}}");
	free(a);

	/* A missing or broken id becomes null; a broken txpk_ack is refused. */
	a = ack_build(MAC, NULL, ACK_TIMEOUT, NULL, NULL);
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":null,\"error\":\"TIMEOUT\"}");
	free(a);
	a = ack_build(MAC, "{", ACK_TIMEOUT, NULL, NULL);
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":null,\"error\":\"TIMEOUT\"}");
	free(a);
	assert_null(ack_build(MAC, "1", ACK_NONE, NULL, "{\"a\":"));
	assert_null(ack_build(NULL, "1", ACK_NONE, NULL, NULL));
	assert_null(ack_build(MAC, "1", NULL, NULL, NULL));
}

static void
test_refused_request_round_trip(void **state)
{
	/* What the bridge does with a bad request: its id and reason in the ack. */
	struct downlink_request req;
	char err[128];
	const char *p = "{\"id\":\"r-9\",\"txpk\":{\"imme\":true,\"modu\":\"LORA\"}}";
	assert_int_equal(downlink_parse(p, strlen(p), &req, err, sizeof(err)), -1);
	char *a = ack_build(MAC, req.id_json, ACK_MALFORMED, err, NULL);
	assert_string_equal(a, "{\"mac\":\"" MAC "\",\"id\":\"r-9\",\"error\":\"MALFORMED\","
	                       "\"detail\":\"txpk.freq: missing\"}");
	free(a);
	downlink_request_clear(&req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lora_class_a),
	        cmocka_unit_test(test_lora_immediate_fills_rfch_and_size),
	        cmocka_unit_test(test_fsk),
	        cmocka_unit_test(test_class_b_tmms),
	        cmocka_unit_test(test_txpk_field_errors),
	        cmocka_unit_test(test_valid_variants),
	        cmocka_unit_test(test_size_mismatch),
	        cmocka_unit_test(test_data_length_limit),
	        cmocka_unit_test(test_payload_size_limit),
	        cmocka_unit_test(test_id_forms),
	        cmocka_unit_test(test_id_kept_when_txpk_fails),
	        cmocka_unit_test(test_not_json_or_not_object),
	        cmocka_unit_test(test_txack_bodies),
	        cmocka_unit_test(test_txack_refused),
	        cmocka_unit_test(test_txack_from_datagrams),
	        cmocka_unit_test(test_ack_build),
	        cmocka_unit_test(test_refused_request_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
