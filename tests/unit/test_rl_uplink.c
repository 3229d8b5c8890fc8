/* `up` payloads -> struct uplink, and the signed envelope_up_v1 encoders
 * (routerlink/uplink_codec.c, router_codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fixture.h"

#include "packet_router.pb-c.h"

#include "lorawan.h"
#include "router_codec.h"
#include "uplink_codec.h"

#define TOPIC_EUI 0xb827ebfffe6a3c10ULL
#define PFX       "{\"mac\":\"b827ebfffe6a3c10\",\"received_at\":\"2026-11-21T10:00:00.123456Z\","
/* 2026-11-21T10:00:00.123Z */
#define RXAT_MS 1795255200123LL
/* An unconfirmed data up: DevAddr 26011BDA, FCnt 42, FPort 1. */
#define DATA_B64 "QNobASaAKgABqrvM3R8uPUw="
#define GOOD_RXPK                                                                                  \
	"\"tmst\":1000,\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","         \
	"\"rssi\":-60,\"lsnr\":8.0,\"data\":\"" DATA_B64 "\""

static enum uplink_drop
decode_fixture(const char *name, struct uplink *up)
{
	size_t len;
	char *json = load_fixture("routerlink", name, &len);
	char err[160] = "";
	enum uplink_drop r = rl_uplink_decode(json, len, TOPIC_EUI, up, err, sizeof(err));
	/* Every drop explains itself. */
	if (r != UPLINK_OK) {
		assert_true(err[0] != '\0');
	}
	free(json);
	return r;
}

static enum uplink_drop
decode_text(const char *json, struct uplink *up)
{
	char err[160] = "";
	enum uplink_drop r = rl_uplink_decode(json, strlen(json), TOPIC_EUI, up, err, sizeof(err));
	if (r != UPLINK_OK) {
		assert_true(err[0] != '\0');
	}
	return r;
}

/* Decodes PFX + "rxpk":{<rxpk>}}. */
static enum uplink_drop
decode_rxpk(const char *rxpk, struct uplink *up)
{
	char json[1024];
	int n = snprintf(json, sizeof(json), PFX "\"rxpk\":{%s}}", rxpk);
	assert_true(n > 0 && (size_t)n < sizeof(json));
	return decode_text(json, up);
}

static void
test_us915_join_request(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("us915_join.json", &up), UPLINK_OK);
	assert_true(up.eui == TOPIC_EUI);
	assert_int_equal(up.payload_len, 23);
	assert_int_equal(up.payload[0], 0x00);
	assert_int_equal(up.payload[1], 0x00); /* JoinEUI 70B3D57ED0000000, LE */
	assert_int_equal(up.payload[8], 0x70);
	assert_int_equal(up.payload[22], 0xe5);
	assert_int_equal(up.tmst, 3512348611u);
	assert_int_equal(up.rssi, -108);
	assert_true(up.snr == -9.5f);
	assert_int_equal(up.frequency, 903900000);
	assert_int_equal(up.datarate, HELIUM__DATA_RATE__SF10BW125);
	assert_int_equal(up.received_at_ms, RXAT_MS);
	assert_int_equal(up.frame.type, LORAWAN_JOIN_REQUEST);
	assert_false(up.frame.has_dev_addr);
	assert_false(up.frame.has_fcnt);
	assert_false(up.frame.has_fport);
}

static void
test_eu868_data_with_fport(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("eu868_data_fport.json", &up), UPLINK_OK);
	assert_int_equal(up.payload_len, 17);
	assert_int_equal(up.tmst, 1234567);
	assert_int_equal(up.rssi, -57);
	assert_true(up.snr == 9.8f);
	assert_int_equal(up.frequency, 868100000);
	assert_int_equal(up.datarate, HELIUM__DATA_RATE__SF7BW125);
	assert_int_equal(up.frame.type, LORAWAN_UNCONFIRMED_UP);
	assert_true(up.frame.has_dev_addr);
	assert_int_equal(up.frame.dev_addr, 0x26011BDA);
	char addr[LORAWAN_DEVADDR_STRLEN];
	lorawan_dev_addr_format(up.frame.dev_addr, addr);
	assert_string_equal(addr, "26011BDA");
	assert_true(up.frame.has_fcnt);
	assert_int_equal(up.frame.fcnt, 42);
	assert_true(up.frame.has_fport);
	assert_int_equal(up.frame.fport, 1);
}

static void
test_rssis_preferred_and_fopts_without_fport(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("eu868_rssis_fopts.json", &up), UPLINK_OK);
	assert_int_equal(up.rssi, -53); /* rssis, not rssi -50 */
	assert_true(up.snr == -2.25f);
	assert_int_equal(up.tmst, 4294967295u);
	assert_int_equal(up.frequency, 867500000);
	assert_int_equal(up.datarate, HELIUM__DATA_RATE__SF12BW125);
	assert_int_equal(up.frame.type, LORAWAN_CONFIRMED_UP);
	assert_int_equal(up.frame.dev_addr, 0x12345678);
	assert_int_equal(up.frame.fcnt, 0x0107);
	/* 15 bytes = 8 + FOptsLen 3 + MIC 4: nothing left for FPort. */
	assert_false(up.frame.has_fport);
}

static void
test_jver2_rsig_two_antennas(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("jver2_rsig.json", &up), UPLINK_OK);
	assert_int_equal(up.rssi, -94); /* max rsig[].rssis */
	assert_true(up.snr == 6.25f);   /* best rsig[].lsnr */
	assert_int_equal(up.frequency, 904300000);
	assert_int_equal(up.datarate, HELIUM__DATA_RATE__SF9BW125);
	assert_int_equal(up.tmst, 88000000);
	assert_int_equal(up.frame.type, LORAWAN_UNCONFIRMED_UP);
}

static void
test_jver2_rsig_rssic_only(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("jver2_rsig_rssic.json", &up), UPLINK_OK);
	assert_int_equal(up.rssi, -92); /* max rsig[].rssic */
	assert_true(up.snr == 7.0f);
	assert_int_equal(up.datarate, HELIUM__DATA_RATE__SF8BW500);
}

static void
test_fixture_drops(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_fixture("fsk.json", &up), UPLINK_DROP_NOT_LORA);
	assert_int_equal(decode_fixture("lrfhss.json", &up), UPLINK_DROP_NOT_LORA);
	assert_int_equal(decode_fixture("crc_bad.json", &up), UPLINK_DROP_CRC_NOT_OK);
	assert_int_equal(decode_fixture("bad_base64.json", &up), UPLINK_DROP_BAD_DATA);
	assert_int_equal(decode_fixture("downlink_frame.json", &up), UPLINK_DROP_NOT_UPLINK);
	assert_int_equal(decode_fixture("missing_tmst.json", &up), UPLINK_DROP_MISSING_FIELD);
}

static void
test_frequency_rounds_to_nearest_hz(void **state)
{
	(void)state;
	static const struct {
		const char *mhz;
		uint32_t hz;
	} cases[] = {
	        {"868.1", 868100000},      {"903.9", 903900000},       {"923.3", 923300000},
	        {"866.349812", 866349812}, {"869.525", 869525000},     {"916.8", 916800000},
	        {"433.175", 433175000},    {"868.1000004", 868100000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rxpk[512];
		snprintf(
		        rxpk, sizeof(rxpk),
		        "\"tmst\":1,\"freq\":%s,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
		        "\"rssi\":-60,\"lsnr\":8,\"data\":\"" DATA_B64 "\"",
		        cases[i].mhz);
		struct uplink up;
		assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_OK);
		assert_int_equal(up.frequency, cases[i].hz);
	}
}

static void
test_mac_checks(void **state)
{
	(void)state;
	struct uplink up;
	char err[160];
	const char *json = PFX "\"rxpk\":{" GOOD_RXPK "}}";
	assert_int_equal(rl_uplink_decode(json, strlen(json), TOPIC_EUI, &up, err, sizeof(err)),
	                 UPLINK_OK);
	assert_int_equal(
	        rl_uplink_decode(json, strlen(json), 0xaa555a0000000101ULL, &up, err, sizeof(err)),
	        UPLINK_DROP_BAD_MAC);
	assert_string_equal(err, "mac: differs from the topic's");
	assert_int_equal(decode_text("{\"mac\":\"B8:27:EB:FF:FE:6A:3C:10\",\"received_at\":"
	                             "\"2026-11-21T10:00:00Z\",\"rxpk\":{" GOOD_RXPK "}}",
	                             &up),
	                 UPLINK_OK);
	assert_int_equal(up.received_at_ms, 1795255200000LL);
	assert_int_equal(decode_text("{\"mac\":\"b827ebfffe6a3c1\",\"received_at\":"
	                             "\"2026-11-21T10:00:00Z\",\"rxpk\":{" GOOD_RXPK "}}",
	                             &up),
	                 UPLINK_DROP_BAD_MAC);
	assert_int_equal(decode_text("{\"mac\":42,\"received_at\":"
	                             "\"2026-11-21T10:00:00Z\",\"rxpk\":{" GOOD_RXPK "}}",
	                             &up),
	                 UPLINK_DROP_BAD_MAC);
	assert_int_equal(
	        decode_text("{\"received_at\":\"2026-11-21T10:00:00Z\",\"rxpk\":{" GOOD_RXPK "}}",
	                    &up),
	        UPLINK_DROP_BAD_MAC);
}

static void
test_envelope_drops(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_text("", &up), UPLINK_DROP_INVALID_JSON);
	assert_int_equal(decode_text("{\"mac\":", &up), UPLINK_DROP_INVALID_JSON);
	assert_int_equal(decode_text("[1,2]", &up), UPLINK_DROP_INVALID_JSON);
	assert_int_equal(decode_text(PFX "\"stat\":{}}", &up), UPLINK_DROP_NO_RXPK);
	assert_int_equal(decode_text(PFX "\"rxpk\":[{" GOOD_RXPK "}]}", &up), UPLINK_DROP_NO_RXPK);
	char err[64];
	assert_int_equal(rl_uplink_decode(NULL, 0, TOPIC_EUI, &up, err, sizeof(err)),
	                 UPLINK_DROP_INVALID_JSON);
	/* Not NUL-terminated: only len bytes are read. */
	const char *json = PFX "\"rxpk\":{" GOOD_RXPK "}}garbage";
	assert_int_equal(rl_uplink_decode(json, strlen(json) - 7, TOPIC_EUI, &up, err, sizeof(err)),
	                 UPLINK_OK);
}

#define RX_BASE "\"tmst\":1,\"freq\":868.1,\"rssi\":-60,\"lsnr\":8,"
#define RX_DATA "\"data\":\"" DATA_B64 "\""
#define RX_LORA "\"stat\":1,\"modu\":\"LORA\","

static void
test_radio_drops(void **state)
{
	(void)state;
	struct uplink up;
	assert_int_equal(decode_rxpk(RX_BASE
	                             "\"stat\":0,\"modu\":\"LORA\",\"datr\":\"SF7BW125\"," RX_DATA,
	                             &up),
	                 UPLINK_DROP_CRC_NOT_OK);
	assert_int_equal(
	        decode_rxpk(RX_BASE "\"modu\":\"LORA\",\"datr\":\"SF7BW125\"," RX_DATA, &up),
	        UPLINK_DROP_MISSING_FIELD);
	assert_int_equal(
	        decode_rxpk(RX_BASE
	                    "\"stat\":\"1\",\"modu\":\"LORA\",\"datr\":\"SF7BW125\"," RX_DATA,
	                    &up),
	        UPLINK_DROP_BAD_FIELD);
	assert_int_equal(decode_rxpk(RX_BASE
	                             "\"stat\":1,\"modu\":\"lora\",\"datr\":\"SF7BW125\"," RX_DATA,
	                             &up),
	                 UPLINK_DROP_NOT_LORA);
	static const char *const bad_datr[] = {
	        "\"SF6BW125\"",  "\"SF13BW125\"", "\"SF7BW200\"",
	        "\"SF7BW125 \"", "\"SF07BW125\"", "\"sf7bw125\"",
	        "\"SF7\"",       "\"\"",          "7",
	        "\"SF1BW125\"",
	};
	for (size_t i = 0; i < sizeof(bad_datr) / sizeof(bad_datr[0]); i++) {
		char rxpk[512];
		snprintf(rxpk, sizeof(rxpk), RX_BASE RX_LORA "\"datr\":%s," RX_DATA, bad_datr[i]);
		assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_BAD_DATARATE);
	}
}

static void
test_datarate_table(void **state)
{
	(void)state;
	static const char *const names[] = {
	        "SF12BW125", "SF11BW125", "SF10BW125", "SF9BW125", "SF8BW125", "SF7BW125",
	        "SF12BW250", "SF11BW250", "SF10BW250", "SF9BW250", "SF8BW250", "SF7BW250",
	        "SF12BW500", "SF11BW500", "SF10BW500", "SF9BW500", "SF8BW500", "SF7BW500",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		Helium__DataRate dr = HELIUM__DATA_RATE__FSK50;
		assert_int_equal(rl_datarate_parse(names[i], &dr), 0);
		assert_int_equal(dr, (int)i);
	}
}

static void
test_data_drops(void **state)
{
	(void)state;
	struct uplink up;
	const char *head = RX_BASE RX_LORA "\"datr\":\"SF7BW125\",";
	char rxpk[1024];
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"\"", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_BAD_DATA);
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":17", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_BAD_DATA);
	snprintf(rxpk, sizeof(rxpk), "%s\"size\":17", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_BAD_DATA);
	/* 85 groups of "QEBA" are 255 bytes of 0x40 (an unconfirmed up MHDR). */
	char big[400];
	size_t n = 0;
	for (int i = 0; i < 85; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "QEBA");
	}
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"%s\"", head, big);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_OK);
	assert_int_equal(up.payload_len, 255);
	/* One byte more is refused. */
	snprintf(big + n, sizeof(big) - n, "QA==");
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"%s\"", head, big);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_BAD_DATA);
	/* A 1-byte join-accept MHDR, a proprietary frame, a too short data frame. */
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"IA==\"", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_NOT_UPLINK);
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"4AECAwQFBgcICQoLDA==\"", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_NOT_UPLINK);
	snprintf(rxpk, sizeof(rxpk), "%s\"data\":\"QNobASY=\"", head);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_DROP_NOT_UPLINK);
}

static void
test_field_drops(void **state)
{
	(void)state;
	struct uplink up;
	const char *tail = RX_LORA "\"datr\":\"SF7BW125\"," RX_DATA;
	static const struct {
		const char *fields;
		enum uplink_drop want;
	} cases[] = {
	        {"\"freq\":868.1,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":1,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"lsnr\":8,", UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rssi\":-60,", UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":-1,\"freq\":868.1,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":4294967296,\"freq\":868.1,\"rssi\":-60,\"lsnr\":8,",
	         UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1.5,\"freq\":868.1,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":\"868.1\",\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":0,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":-868.1,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":5000,\"rssi\":-60,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rssi\":null,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rssi\":-1000,\"lsnr\":8,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rssi\":-60,\"lsnr\":1e300,", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rsig\":{},", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rsig\":[1],", UPLINK_DROP_BAD_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rsig\":[{\"lsnr\":1}],", UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rsig\":[{\"rssic\":-90}],",
	         UPLINK_DROP_MISSING_FIELD},
	        {"\"tmst\":1,\"freq\":868.1,\"rsig\":[{\"rssic\":\"x\",\"lsnr\":1}],",
	         UPLINK_DROP_BAD_FIELD},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rxpk[512];
		snprintf(rxpk, sizeof(rxpk), "%s%s", cases[i].fields, tail);
		assert_int_equal(decode_rxpk(rxpk, &up), cases[i].want);
	}
	/* An empty rsig falls back to the top-level figures. */
	char rxpk[512];
	snprintf(rxpk, sizeof(rxpk),
	         "\"tmst\":1,\"freq\":868.1,\"rsig\":[],\"rssi\":-71.4,"
	         "\"lsnr\":-3,%s",
	         tail);
	assert_int_equal(decode_rxpk(rxpk, &up), UPLINK_OK);
	assert_int_equal(up.rssi, -71);
	assert_true(up.snr == -3.0f);
}

static void
test_received_at(void **state)
{
	(void)state;
	struct uplink up;
	const char *rx = "{\"mac\":\"b827ebfffe6a3c10\",\"rxpk\":{" GOOD_RXPK "}}";
	assert_int_equal(decode_text(rx, &up), UPLINK_DROP_MISSING_FIELD);
	rx = "{\"mac\":\"b827ebfffe6a3c10\",\"received_at\":12,\"rxpk\":{" GOOD_RXPK "}}";
	assert_int_equal(decode_text(rx, &up), UPLINK_DROP_BAD_FIELD);
	rx = "{\"mac\":\"b827ebfffe6a3c10\",\"received_at\":\"yesterday\",\"rxpk\":{" GOOD_RXPK
	     "}}";
	assert_int_equal(decode_text(rx, &up), UPLINK_DROP_BAD_FIELD);

	int64_t ms;
	assert_int_equal(rl_rfc3339_to_ms("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(rl_rfc3339_to_ms("2024-02-29T23:59:59.999999Z", &ms), 0);
	assert_int_equal(ms, 1709251199999LL);
	assert_int_equal(rl_rfc3339_to_ms("2026-11-21T10:00:00.1Z", &ms), 0);
	assert_int_equal(ms, 1795255200100LL);
	static const char *const bad[] = {
	        "2026-11-21T10:00:00.123456",
	        "2026-11-21 10:00:00Z",
	        "2025-02-29T00:00:00Z",
	        "2026-13-01T00:00:00Z",
	        "2026-11-21T24:00:00Z",
	        "2026-11-21T10:00:00.Z",
	        "2026-11-21T10:00:00+01:00",
	        "2026-11-21T10:00:00Zx",
	        "2026-11-2T10:00:00Z",
	        "2026-11-21T10:00:00.1234567890Z",
	        "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rl_rfc3339_to_ms(bad[i], &ms), -1);
	}
}

static void
test_drop_names(void **state)
{
	(void)state;
	static const char *const want[] = {
	        "ok",         "invalid_json",  "no_rxpk",      "bad_mac",
	        "crc_not_ok", "not_lora",      "bad_datarate", "bad_data",
	        "not_uplink", "missing_field", "bad_field",
	};
	assert_int_equal(sizeof(want) / sizeof(want[0]), UPLINK_DROP_COUNT);
	for (int i = 0; i < UPLINK_DROP_COUNT; i++) {
		assert_string_equal(uplink_drop_name((enum uplink_drop)i), want[i]);
	}
	assert_string_equal(uplink_drop_name(UPLINK_DROP_COUNT), "unknown");
	assert_string_equal(uplink_drop_name((enum uplink_drop) - 1), "unknown");
}

/* ---- envelope_up_v1 encoders ---- */

struct key {
	uint8_t pk[32];
	uint8_t sk[64];
	uint8_t bin[RL_KEY_BIN_LEN];
};

static void
make_key(uint8_t fill, struct key *k)
{
	uint8_t seed[32];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
	k->bin[0] = 0x01;
	memcpy(k->bin + 1, k->pk, 32);
}

static uint64_t
read_varint(const uint8_t *b, size_t len, size_t *i)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		assert_true(*i < len);
		uint8_t c = b[(*i)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			return v;
		}
	}
	fail();
	return 0;
}

/* The field numbers on the wire at the top level of a message, as a bit mask,
 * so a test sees which proto3 defaults were left out. */
static uint32_t
fields_present(const uint8_t *b, size_t len)
{
	uint32_t mask = 0;
	size_t i = 0;
	while (i < len) {
		uint64_t key = read_varint(b, len, &i);
		mask |= 1u << (key >> 3);
		switch (key & 7) {
		case 0:
			read_varint(b, len, &i);
			break;
		case 2:
			i += read_varint(b, len, &i);
			break;
		case 5:
			i += 4;
			break;
		default:
			fail();
		}
	}
	assert_int_equal(i, len);
	return mask;
}

#define F(n) (1u << (n))

/* The inner message of an envelope_up_v1 holding one oneof member. */
static const uint8_t *
inner_of(const uint8_t *env, size_t len, unsigned field, size_t *inner_len)
{
	size_t i = 0;
	assert_int_equal(read_varint(env, len, &i), (field << 3) | 2);
	*inner_len = read_varint(env, len, &i);
	assert_int_equal(i + *inner_len, len);
	return env + i;
}

/* Clears the signature, re-packs like the router does and verifies. */
static int
verify_repacked(ProtobufCMessage *inner, ProtobufCBinaryData *sig, const uint8_t pk[32])
{
	assert_int_equal(sig->len, 64);
	uint8_t saved[64];
	memcpy(saved, sig->data, 64);
	ProtobufCBinaryData keep = *sig;
	*sig = (ProtobufCBinaryData){0, NULL};
	uint8_t buf[512];
	size_t n = protobuf_c_message_get_packed_size(inner);
	assert_true(n <= sizeof(buf));
	protobuf_c_message_pack(inner, buf);
	*sig = keep;
	return crypto_sign_verify_detached(saved, buf, n, pk);
}

static void
test_register_exact_bytes(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	struct key gw;
	make_key(0x11, &gw);
	uint8_t out[256];
	size_t n = register_encode(1000, gw.bin, gw.sk, out, sizeof(out));
	/* envelope field 1, length 106: timestamp 1000, gateway, signature,
	 * session_capable true; packet_ack_interval 0 is left out. */
	assert_int_equal(n, 108);
	static const uint8_t head[] = {0x0a, 0x6a, 0x08, 0xe8, 0x07, 0x12, 0x21};
	assert_memory_equal(out, head, sizeof(head));
	assert_memory_equal(out + 7, gw.bin, 33);
	static const uint8_t sig_tag[] = {0x1a, 0x40};
	assert_memory_equal(out + 40, sig_tag, 2);
	static const uint8_t tail[] = {0x20, 0x01};
	assert_memory_equal(out + 106, tail, 2);
	/* The signed bytes: the same message without field 3. */
	uint8_t unsigned_msg[40] = {0x08, 0xe8, 0x07, 0x12, 0x21};
	memcpy(unsigned_msg + 5, gw.bin, 33);
	unsigned_msg[38] = 0x20;
	unsigned_msg[39] = 0x01;
	assert_int_equal(crypto_sign_verify_detached(out + 42, unsigned_msg, 40, gw.pk), 0);

	Helium__PacketRouter__EnvelopeUpV1 *env =
	        helium__packet_router__envelope_up_v1__unpack(NULL, n, out);
	assert_non_null(env);
	assert_int_equal(env->data_case, HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_REGISTER);
	Helium__PacketRouter__PacketRouterRegisterV1 *reg = env->register_;
	assert_int_equal(reg->timestamp, 1000);
	assert_int_equal(reg->gateway.len, 33);
	assert_memory_equal(reg->gateway.data, gw.bin, 33);
	assert_true(reg->session_capable);
	assert_int_equal(reg->packet_ack_interval, 0);
	assert_int_equal(verify_repacked(&reg->base, &reg->signature, gw.pk), 0);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);
}

static void
test_register_errors(void **state)
{
	(void)state;
	struct key gw, other;
	make_key(0x11, &gw);
	make_key(0x22, &other);
	uint8_t out[256];
	/* A real timestamp is a 6-byte varint. */
	assert_int_equal(register_encode(1795255200123ULL, gw.bin, gw.sk, out, sizeof(out)), 112);
	assert_int_equal(register_encode(1000, gw.bin, gw.sk, out, 107), 0);
	assert_int_equal(register_encode(1000, gw.bin, gw.sk, NULL, 0), 0);
	assert_int_equal(register_encode(1000, gw.bin, other.sk, out, sizeof(out)), 0);
	assert_int_equal(register_encode(1000, NULL, gw.sk, out, sizeof(out)), 0);
}

static void
test_session_init(void **state)
{
	(void)state;
	struct key gw, sess;
	make_key(0x11, &gw);
	make_key(0x33, &sess);
	uint8_t nonce[32];
	for (size_t i = 0; i < sizeof(nonce); i++) {
		nonce[i] = (uint8_t)(0xa0 + i);
	}
	uint8_t out[256];
	size_t n = session_init_encode(gw.bin, nonce, sizeof(nonce), sess.bin, gw.sk, out,
	                               sizeof(out));
	/* tag + 2-byte length + (35 + 34 + 35 + 66) */
	assert_int_equal(n, 173);
	size_t ilen;
	const uint8_t *inner = inner_of(out, n, 3, &ilen);
	assert_int_equal(fields_present(inner, ilen), F(1) | F(2) | F(3) | F(4));

	Helium__PacketRouter__EnvelopeUpV1 *env =
	        helium__packet_router__envelope_up_v1__unpack(NULL, n, out);
	assert_non_null(env);
	assert_int_equal(env->data_case, HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_SESSION_INIT);
	Helium__PacketRouter__PacketRouterSessionInitV1 *init = env->session_init;
	assert_memory_equal(init->gateway.data, gw.bin, 33);
	assert_int_equal(init->nonce.len, 32);
	assert_memory_equal(init->nonce.data, nonce, 32);
	assert_int_equal(init->session_key.len, 33);
	assert_memory_equal(init->session_key.data, sess.bin, 33);
	/* Signed by the gateway key, not the session key. */
	assert_int_equal(verify_repacked(&init->base, &init->signature, gw.pk), 0);
	assert_int_equal(verify_repacked(&init->base, &init->signature, sess.pk), -1);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);

	assert_int_equal(
	        session_init_encode(gw.bin, nonce, 32, sess.bin, sess.sk, out, sizeof(out)), 0);
	assert_int_equal(session_init_encode(gw.bin, nonce, 0, sess.bin, gw.sk, out, sizeof(out)),
	                 0);
	uint8_t big[65] = {0};
	assert_int_equal(session_init_encode(gw.bin, big, 65, sess.bin, gw.sk, out, sizeof(out)),
	                 0);
	assert_int_equal(session_init_encode(gw.bin, big, 64, sess.bin, gw.sk, out, sizeof(out)),
	                 205);
	assert_int_equal(session_init_encode(gw.bin, nonce, 32, sess.bin, gw.sk, out, 172), 0);
}

static Helium__PacketRouter__PacketRouterPacketUpV1 *
unpack_packet(const uint8_t *out, size_t n, Helium__PacketRouter__EnvelopeUpV1 **env)
{
	*env = helium__packet_router__envelope_up_v1__unpack(NULL, n, out);
	assert_non_null(*env);
	assert_int_equal((*env)->data_case, HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_PACKET);
	return (*env)->packet;
}

static void
test_packet_up_defaults_left_out(void **state)
{
	(void)state;
	struct key gw, sess;
	make_key(0x11, &gw);
	make_key(0x33, &sess);
	struct uplink up;
	/* SF12BW125 (0) in US915 (0) with hold_time 0: three fields at default. */
	assert_int_equal(decode_fixture("eu868_rssis_fopts.json", &up), UPLINK_OK);
	uint8_t out[512];
	size_t n =
	        packet_up_encode(&up, HELIUM__REGION__US915, 0, gw.bin, sess.sk, out, sizeof(out));
	assert_true(n > 0);
	size_t ilen;
	const uint8_t *inner = inner_of(out, n, 2, &ilen);
	assert_int_equal(fields_present(inner, ilen),
	                 F(1) | F(2) | F(3) | F(4) | F(6) | F(9) | F(10));
	/* payload 2+15, timestamp 1+5, rssi 1+1, frequency 1+5, snr 1+4, gateway 2+33, sig 2+64 */
	assert_int_equal(ilen, 17 + 6 + 2 + 6 + 5 + 35 + 66);

	Helium__PacketRouter__EnvelopeUpV1 *env;
	Helium__PacketRouter__PacketRouterPacketUpV1 *p = unpack_packet(out, n, &env);
	assert_int_equal(p->payload.len, 15);
	assert_memory_equal(p->payload.data, up.payload, 15);
	assert_int_equal(p->timestamp, 4294967295u);
	assert_int_equal(p->rssi, -53);
	assert_int_equal(p->frequency, 867500000);
	assert_int_equal(p->datarate, HELIUM__DATA_RATE__SF12BW125);
	assert_true(p->snr == -2.25f);
	assert_int_equal(p->region, HELIUM__REGION__US915);
	assert_int_equal(p->hold_time, 0);
	assert_memory_equal(p->gateway.data, gw.bin, 33);
	assert_int_equal(verify_repacked(&p->base, &p->signature, sess.pk), 0);
	assert_int_equal(verify_repacked(&p->base, &p->signature, gw.pk), -1);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);
}

static void
test_packet_up_all_fields(void **state)
{
	(void)state;
	struct key gw, sess;
	make_key(0x11, &gw);
	make_key(0x33, &sess);
	struct uplink up;
	assert_int_equal(decode_fixture("us915_join.json", &up), UPLINK_OK);
	uint8_t out[512];
	size_t n = packet_up_encode(&up, HELIUM__REGION__EU868, 150, gw.bin, sess.sk, out,
	                            sizeof(out));
	assert_true(n > 0);
	size_t ilen;
	const uint8_t *inner = inner_of(out, n, 2, &ilen);
	assert_int_equal(fields_present(inner, ilen), 0x7fe); /* fields 1..10 */
	/* Fields are written in field-number order: a zigzag rssi -108 is 215. */
	static const uint8_t start[] = {0x0a, 23};
	assert_memory_equal(inner, start, 2);
	static const uint8_t ts_rssi[] = {0x10, 0xc3, 0xdf, 0xe8, 0x8a, 0x0d, 0x18, 0xd7, 0x01};
	assert_memory_equal(inner + 25, ts_rssi, sizeof(ts_rssi));

	Helium__PacketRouter__EnvelopeUpV1 *env;
	Helium__PacketRouter__PacketRouterPacketUpV1 *p = unpack_packet(out, n, &env);
	assert_int_equal(p->timestamp, 3512348611u);
	assert_int_equal(p->rssi, -108);
	assert_int_equal(p->frequency, 903900000);
	assert_int_equal(p->datarate, HELIUM__DATA_RATE__SF10BW125);
	assert_true(p->snr == -9.5f);
	assert_int_equal(p->region, HELIUM__REGION__EU868);
	assert_int_equal(p->hold_time, 150);
	assert_int_equal(verify_repacked(&p->base, &p->signature, sess.pk), 0);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);
}

static void
test_packet_up_errors(void **state)
{
	(void)state;
	struct key gw;
	make_key(0x11, &gw);
	struct uplink up;
	assert_int_equal(decode_fixture("us915_join.json", &up), UPLINK_OK);
	uint8_t out[512];
	size_t n = packet_up_encode(&up, HELIUM__REGION__US915, 0, gw.bin, gw.sk, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(packet_up_encode(&up, HELIUM__REGION__US915, 0, gw.bin, gw.sk, out, n - 1),
	                 0);
	assert_int_equal(
	        packet_up_encode(&up, HELIUM__REGION__UNKNOWN, 0, gw.bin, gw.sk, out, sizeof(out)),
	        0);
	up.payload_len = 0;
	assert_int_equal(
	        packet_up_encode(&up, HELIUM__REGION__US915, 0, gw.bin, gw.sk, out, sizeof(out)),
	        0);
	assert_int_equal(
	        packet_up_encode(NULL, HELIUM__REGION__US915, 0, gw.bin, gw.sk, out, sizeof(out)),
	        0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_us915_join_request),
	        cmocka_unit_test(test_eu868_data_with_fport),
	        cmocka_unit_test(test_rssis_preferred_and_fopts_without_fport),
	        cmocka_unit_test(test_jver2_rsig_two_antennas),
	        cmocka_unit_test(test_jver2_rsig_rssic_only),
	        cmocka_unit_test(test_fixture_drops),
	        cmocka_unit_test(test_frequency_rounds_to_nearest_hz),
	        cmocka_unit_test(test_mac_checks),
	        cmocka_unit_test(test_envelope_drops),
	        cmocka_unit_test(test_radio_drops),
	        cmocka_unit_test(test_datarate_table),
	        cmocka_unit_test(test_data_drops),
	        cmocka_unit_test(test_field_drops),
	        cmocka_unit_test(test_received_at),
	        cmocka_unit_test(test_drop_names),
	        cmocka_unit_test(test_register_exact_bytes),
	        cmocka_unit_test(test_register_errors),
	        cmocka_unit_test(test_session_init),
	        cmocka_unit_test(test_packet_up_defaults_left_out),
	        cmocka_unit_test(test_packet_up_all_fields),
	        cmocka_unit_test(test_packet_up_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
