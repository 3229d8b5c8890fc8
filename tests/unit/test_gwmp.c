/* GWMP datagram parsing and building (bridge/gwmp.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gwmp.h"

#define TEST_EUI 0xb827ebfffe6a3c10ULL

/* Reads a fixture holding one datagram as a line of hex. */
static uint8_t *
load_hex(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/gwmp/%s", LF_FIXTURES_DIR, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
		n--;
	}
	assert_int_equal(n % 2, 0);
	/* Exactly sized, so that ASan catches a read past the datagram. */
	uint8_t *buf = malloc(n / 2);
	assert_non_null(buf);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		assert_int_equal(sscanf(text + 2 * i, "%2x", &v), 1);
		buf[i] = (uint8_t)v;
	}
	*len = n / 2;
	return buf;
}

/* A datagram of `len` bytes: version, token a1 b2, type, EUI, then 'x's. */
static uint8_t *
make(uint8_t version, uint8_t type, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	const uint8_t head[12] = {version, 0xa1, 0xb2, type, 0xb8, 0x27,
	                          0xeb,    0xff, 0xfe, 0x6a, 0x3c, 0x10};
	for (size_t i = 0; i < len; i++) {
		buf[i] = i < sizeof(head) ? head[i] : 'x';
	}
	return buf;
}

static int
parse_made(uint8_t version, uint8_t type, size_t len, struct gwmp_packet *pkt)
{
	uint8_t *buf = make(version, type, len);
	int r = gwmp_parse(buf, len, pkt);
	free(buf);
	return r;
}

static void
test_empty(void **state)
{
	struct gwmp_packet pkt;
	uint8_t one = 2;
	assert_int_equal(gwmp_parse(&one, 0, &pkt), GWMP_ERR_EMPTY);
	assert_int_equal(gwmp_parse(NULL, 0, &pkt), GWMP_ERR_EMPTY);
	assert_string_equal(gwmp_error_name(GWMP_ERR_EMPTY), "empty");
}

static void
test_shorter_than_any_header(void **state)
{
	struct gwmp_packet pkt;
	for (size_t len = 1; len <= 3; len++) {
		assert_int_equal(parse_made(2, GWMP_PUSH_DATA, len, &pkt), GWMP_ERR_SHORT);
	}
}

static void
test_gateway_types_need_12_bytes(void **state)
{
	const uint8_t types[] = {GWMP_PUSH_DATA, GWMP_PULL_DATA, GWMP_TX_ACK};
	struct gwmp_packet pkt;
	for (size_t t = 0; t < sizeof(types); t++) {
		for (size_t len = 4; len <= 11; len++) {
			assert_int_equal(parse_made(2, types[t], len, &pkt), GWMP_ERR_SHORT);
			/* The prefix is still reported, for the log line. */
			assert_int_equal(pkt.version, 2);
			assert_int_equal(pkt.type, types[t]);
			assert_int_equal(pkt.token[0], 0xa1);
			assert_int_equal(pkt.token[1], 0xb2);
			assert_int_equal(pkt.eui, 0);
			assert_null(pkt.body);
		}
		assert_int_equal(parse_made(2, types[t], 12, &pkt), GWMP_OK);
	}
	assert_string_equal(gwmp_error_name(GWMP_ERR_SHORT), "short");
}

static void
test_bad_versions(void **state)
{
	const uint8_t versions[] = {0, 3, 255};
	struct gwmp_packet pkt;
	for (size_t i = 0; i < sizeof(versions); i++) {
		assert_int_equal(parse_made(versions[i], GWMP_PUSH_DATA, 40, &pkt),
		                 GWMP_ERR_VERSION);
		assert_int_equal(parse_made(versions[i], GWMP_PULL_DATA, 4, &pkt),
		                 GWMP_ERR_VERSION);
		assert_int_equal(pkt.version, versions[i]);
	}
	assert_string_equal(gwmp_error_name(GWMP_ERR_VERSION), "bad_version");
}

static void
test_unknown_identifiers(void **state)
{
	struct gwmp_packet pkt;
	for (unsigned type = 6; type <= 255; type++) {
		assert_int_equal(parse_made(2, (uint8_t)type, 12, &pkt), GWMP_ERR_UNKNOWN_TYPE);
		assert_int_equal(parse_made(1, (uint8_t)type, 4, &pkt), GWMP_ERR_UNKNOWN_TYPE);
		assert_int_equal(pkt.type, type);
	}
	assert_string_equal(gwmp_error_name(GWMP_ERR_UNKNOWN_TYPE), "unknown_type");
}

static void
test_server_types_arriving_at_server(void **state)
{
	struct gwmp_packet pkt;
	assert_int_equal(parse_made(2, GWMP_PUSH_ACK, 4, &pkt), GWMP_ERR_WRONG_DIRECTION);
	assert_int_equal(parse_made(2, GWMP_PUSH_ACK, 40, &pkt), GWMP_ERR_WRONG_DIRECTION);
	assert_int_equal(parse_made(2, GWMP_PULL_RESP, 4, &pkt), GWMP_ERR_WRONG_DIRECTION);
	assert_int_equal(parse_made(1, GWMP_PULL_RESP, 60, &pkt), GWMP_ERR_WRONG_DIRECTION);
	/* A real PULL_ACK is 4 bytes; anything under a gateway header too. */
	for (size_t len = 4; len < 12; len++) {
		assert_int_equal(parse_made(2, GWMP_PULL_ACK, len, &pkt), GWMP_ERR_WRONG_DIRECTION);
	}
	assert_string_equal(gwmp_error_name(GWMP_ERR_WRONG_DIRECTION), "wrong_direction");
}

static void
test_tx_ack_in_version_1(void **state)
{
	struct gwmp_packet pkt;
	assert_int_equal(parse_made(1, GWMP_TX_ACK, 12, &pkt), GWMP_ERR_V1_TX_ACK);
	assert_int_equal(parse_made(1, GWMP_TX_ACK, 30, &pkt), GWMP_ERR_V1_TX_ACK);
	assert_int_equal(parse_made(1, GWMP_TX_ACK, 4, &pkt), GWMP_ERR_V1_TX_ACK);
	assert_string_equal(gwmp_error_name(GWMP_ERR_V1_TX_ACK), "v1_tx_ack");
}

static void
test_pull_data_fixture(void **state)
{
	size_t len;
	uint8_t *buf = load_hex("pull-data.hex", &len);
	struct gwmp_packet pkt;
	assert_int_equal(len, 12);
	assert_int_equal(gwmp_parse(buf, len, &pkt), GWMP_OK);
	assert_int_equal(pkt.version, 2);
	assert_int_equal(pkt.token[0], 0xa7);
	assert_int_equal(pkt.token[1], 0xc3);
	assert_int_equal(pkt.type, GWMP_PULL_DATA);
	assert_true(pkt.eui == TEST_EUI);
	assert_null(pkt.body);
	assert_int_equal(pkt.body_len, 0);
	free(buf);
}

static void
test_pull_data_extra_bytes_ignored(void **state)
{
	struct gwmp_packet pkt;
	assert_int_equal(parse_made(2, GWMP_PULL_DATA, 20, &pkt), GWMP_OK);
	assert_true(pkt.eui == TEST_EUI);
	assert_null(pkt.body);
	assert_int_equal(pkt.body_len, 0);
	assert_int_equal(parse_made(1, GWMP_PULL_DATA, 12, &pkt), GWMP_OK);
	assert_int_equal(pkt.version, 1);
}

static void
test_push_data_fixture(void **state)
{
	size_t len;
	uint8_t *buf = load_hex("push-data.hex", &len);
	struct gwmp_packet pkt;
	assert_int_equal(gwmp_parse(buf, len, &pkt), GWMP_OK);
	assert_int_equal(pkt.version, 2);
	assert_int_equal(pkt.token[0], 0xc4);
	assert_int_equal(pkt.token[1], 0xd1);
	assert_int_equal(pkt.type, GWMP_PUSH_DATA);
	assert_true(pkt.eui == TEST_EUI);
	assert_ptr_equal(pkt.body, buf + 12);
	assert_int_equal(pkt.body_len, len - 12);
	assert_memory_equal(pkt.body, "{\"rxpk\":[{\"tmst\":100,", 21);
	assert_int_equal(pkt.body[pkt.body_len - 1], '}');
	free(buf);
}

static void
test_push_data_header_only(void **state)
{
	struct gwmp_packet pkt;
	assert_int_equal(parse_made(1, GWMP_PUSH_DATA, 12, &pkt), GWMP_OK);
	assert_int_equal(pkt.version, 1);
	assert_null(pkt.body);
	assert_int_equal(pkt.body_len, 0);
}

static void
test_tx_ack_forms(void **state)
{
	struct gwmp_packet pkt;
	assert_int_equal(parse_made(2, GWMP_TX_ACK, 12, &pkt), GWMP_OK);
	assert_int_equal(pkt.type, GWMP_TX_ACK);
	assert_null(pkt.body);
	assert_int_equal(pkt.body_len, 0);

	size_t len;
	uint8_t *buf = load_hex("tx-ack-nul.hex", &len);
	assert_int_equal(gwmp_parse(buf, len, &pkt), GWMP_OK);
	assert_int_equal(pkt.type, GWMP_TX_ACK);
	assert_int_equal(pkt.token[0], 0xe0);
	assert_int_equal(pkt.token[1], 0x5a);
	assert_true(pkt.eui == TEST_EUI);
	assert_int_equal(pkt.body_len, 1);
	assert_int_equal(pkt.body[0], 0);
	free(buf);
}

static void
test_long_pull_ack_from_gateway(void **state)
{
	size_t len;
	uint8_t *buf = load_hex("tx-ack-as-pull-ack.hex", &len);
	struct gwmp_packet pkt;
	assert_int_equal(gwmp_parse(buf, len, &pkt), GWMP_OK);
	assert_int_equal(pkt.type, GWMP_PULL_ACK);
	assert_int_equal(pkt.token[0], 0xe0);
	assert_int_equal(pkt.token[1], 0x5b);
	assert_true(pkt.eui == TEST_EUI);
	assert_int_equal(pkt.body_len, len - 12);
	assert_memory_equal(pkt.body, "{\"txpk_ack\": {\"error\": \"NONE\"}}", pkt.body_len);
	free(buf);

	assert_int_equal(parse_made(2, GWMP_PULL_ACK, 12, &pkt), GWMP_OK);
	assert_true(pkt.eui == TEST_EUI);
	assert_null(pkt.body);
}

static void
test_names(void **state)
{
	assert_string_equal(gwmp_type_name(GWMP_PUSH_DATA), "push_data");
	assert_string_equal(gwmp_type_name(GWMP_PUSH_ACK), "push_ack");
	assert_string_equal(gwmp_type_name(GWMP_PULL_DATA), "pull_data");
	assert_string_equal(gwmp_type_name(GWMP_PULL_RESP), "pull_resp");
	assert_string_equal(gwmp_type_name(GWMP_PULL_ACK), "pull_ack");
	assert_string_equal(gwmp_type_name(GWMP_TX_ACK), "tx_ack");
	assert_string_equal(gwmp_type_name(6), "unknown");
	assert_string_equal(gwmp_type_name(-1), "unknown");
	assert_string_equal(gwmp_error_name(GWMP_OK), "ok");
	assert_string_equal(gwmp_error_name(99), "unknown");
	assert_string_equal(gwmp_error_name(-1), "unknown");
}

static void
test_build_ack(void **state)
{
	const uint8_t token[2] = {0x9f, 0x01};
	uint8_t out[GWMP_ACK_LEN];
	const uint8_t push_ack[] = {0x02, 0x9f, 0x01, 0x01};
	assert_int_equal(gwmp_build_ack(out, 2, token, GWMP_PUSH_ACK), 4);
	assert_memory_equal(out, push_ack, 4);
	const uint8_t pull_ack_v1[] = {0x01, 0x9f, 0x01, 0x04};
	assert_int_equal(gwmp_build_ack(out, 1, token, GWMP_PULL_ACK), 4);
	assert_memory_equal(out, pull_ack_v1, 4);

	/* What we send must not be taken for gateway traffic if it loops back. */
	struct gwmp_packet pkt;
	assert_int_equal(gwmp_parse(out, 4, &pkt), GWMP_ERR_WRONG_DIRECTION);
}

static void
test_build_pull_resp(void **state)
{
	const uint8_t token[2] = {0x3c, 0xd5};
	const char json[] = "{\"txpk\":{\"imme\":true}}";
	size_t jl = strlen(json);
	uint8_t out[64];

	assert_int_equal(gwmp_build_pull_resp(out, sizeof(out), 2, token, json, jl), 4 + jl);
	const uint8_t head_v2[] = {0x02, 0x3c, 0xd5, 0x03};
	assert_memory_equal(out, head_v2, 4);
	assert_memory_equal(out + 4, json, jl);

	/* Version 1: the token bytes are "unused" and sent as zero. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(gwmp_build_pull_resp(out, sizeof(out), 1, token, json, jl), 4 + jl);
	const uint8_t head_v1[] = {0x01, 0x00, 0x00, 0x03};
	assert_memory_equal(out, head_v1, 4);
	assert_memory_equal(out + 4, json, jl);
	assert_int_equal(out[4 + jl], 0xee); /* no NUL written after the JSON */
}

static void
test_build_pull_resp_sizes(void **state)
{
	const uint8_t token[2] = {1, 2};
	uint8_t out[32];
	const char json[] = "{\"txpk\":{}}"; /* 11 bytes */
	assert_int_equal(gwmp_build_pull_resp(out, 15, 2, token, json, 11), 15);
	assert_int_equal(gwmp_build_pull_resp(out, 14, 2, token, json, 11), 0);
	assert_int_equal(gwmp_build_pull_resp(out, 3, 2, token, json, 0), 0);
	assert_int_equal(gwmp_build_pull_resp(out, 4, 2, token, "", 0), 4);
	assert_int_equal(gwmp_build_pull_resp(out, 32, 2, token, NULL, 5), 0);

	/* Larger than a UDP datagram: refused even with room in out. */
	size_t big = GWMP_MAX_DATAGRAM - 3;
	char *json_big = malloc(big);
	uint8_t *out_big = malloc(big + 4);
	assert_non_null(json_big);
	assert_non_null(out_big);
	memset(json_big, ' ', big);
	assert_int_equal(gwmp_build_pull_resp(out_big, big + 4, 2, token, json_big, big), 0);
	assert_int_equal(gwmp_build_pull_resp(out_big, big + 4, 2, token, json_big, big - 1),
	                 GWMP_MAX_DATAGRAM);
	free(json_big);
	free(out_big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_shorter_than_any_header),
	        cmocka_unit_test(test_gateway_types_need_12_bytes),
	        cmocka_unit_test(test_bad_versions),
	        cmocka_unit_test(test_unknown_identifiers),
	        cmocka_unit_test(test_server_types_arriving_at_server),
	        cmocka_unit_test(test_tx_ack_in_version_1),
	        cmocka_unit_test(test_pull_data_fixture),
	        cmocka_unit_test(test_pull_data_extra_bytes_ignored),
	        cmocka_unit_test(test_push_data_fixture),
	        cmocka_unit_test(test_push_data_header_only),
	        cmocka_unit_test(test_tx_ack_forms),
	        cmocka_unit_test(test_long_pull_ack_from_gateway),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_build_ack),
	        cmocka_unit_test(test_build_pull_resp),
	        cmocka_unit_test(test_build_pull_resp_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
