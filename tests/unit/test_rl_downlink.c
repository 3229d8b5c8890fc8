/* envelope_down_v1 decoding, LoRaWAN headers, `down` payloads and bridge acks
 * (routerlink/router_codec.c, lorawan.c, downlink_codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet_router.pb-c.h"

#include "downlink.h" /* the bridge's own `down` and `ack` code, as the peer */

#include "downlink_codec.h"
#include "lorawan.h"
#include "router_codec.h"

/* ---- envelope_down_v1 ---- */

static void
test_empty_envelope(void **state)
{
	(void)state;
	struct router_msg m;
	memset(&m, 0xff, sizeof(m));
	uint8_t none[1] = {0};
	assert_int_equal(envelope_down_decode(none, 0, &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_EMPTY);
	assert_int_equal(m.payload_len, 0);
	/* An unknown field alone (field 15, varint 1) is still no oneof member. */
	static const uint8_t unknown[] = {0x78, 0x01};
	assert_int_equal(envelope_down_decode(unknown, sizeof(unknown), &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_EMPTY);
}

static void
test_session_offer_hand_packed(void **state)
{
	(void)state;
	struct router_msg m;
	/* envelope field 2 { nonce field 1: ab cd } */
	static const uint8_t offer[] = {0x12, 0x04, 0x0a, 0x02, 0xab, 0xcd};
	assert_int_equal(envelope_down_decode(offer, sizeof(offer), &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_SESSION_OFFER);
	assert_int_equal(m.nonce_len, 2);
	assert_int_equal(m.nonce[0], 0xab);
	assert_int_equal(m.nonce[1], 0xcd);
	/* An offer without a nonce cannot be answered. */
	static const uint8_t empty_offer[] = {0x12, 0x00};
	assert_int_equal(envelope_down_decode(empty_offer, sizeof(empty_offer), &m), -1);
}

static void
test_packet_hand_packed(void **state)
{
	(void)state;
	struct router_msg m;
	/* envelope field 1 { payload 60 01 02, rx1 { freq 869525000, SF9BW125, immediate } } */
	static const uint8_t pkt[] = {0x0a, 0x11, 0x0a, 0x03, 0x60, 0x01, 0x02, 0x12, 0x0a, 0x10,
	                              0x88, 0xcc, 0xcf, 0x9e, 0x03, 0x18, 0x03, 0x20, 0x01};
	assert_int_equal(envelope_down_decode(pkt, sizeof(pkt), &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_PACKET);
	assert_int_equal(m.payload_len, 3);
	static const uint8_t want[] = {0x60, 0x01, 0x02};
	assert_memory_equal(m.payload, want, 3);
	assert_int_equal(m.rx1.timestamp, 0);
	assert_int_equal(m.rx1.frequency, 869525000);
	assert_int_equal(m.rx1.datarate, HELIUM__DATA_RATE__SF9BW125);
	assert_true(m.rx1.immediate);
	assert_false(m.has_rx2);
}

/* Packs an envelope holding a packet_down built by the caller. */
static size_t
pack_packet(Helium__PacketRouter__PacketRouterPacketDownV1 *p, uint8_t *buf, size_t len)
{
	Helium__PacketRouter__EnvelopeDownV1 env = HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__INIT;
	env.data_case = HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA_PACKET;
	env.packet = p;
	size_t n = helium__packet_router__envelope_down_v1__get_packed_size(&env);
	assert_true(n <= len);
	return helium__packet_router__envelope_down_v1__pack(&env, buf);
}

static void
test_packet_with_rx2(void **state)
{
	(void)state;
	uint8_t payload[33];
	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] = (uint8_t)(0x20 + i);
	}
	Helium__PacketRouter__WindowV1 rx1 = HELIUM__PACKET_ROUTER__WINDOW_V1__INIT;
	rx1.timestamp = 5000000000ULL;
	rx1.frequency = 923300000;
	rx1.datarate = HELIUM__DATA_RATE__SF10BW500;
	Helium__PacketRouter__WindowV1 rx2 = HELIUM__PACKET_ROUTER__WINDOW_V1__INIT;
	rx2.timestamp = 6000000000ULL;
	rx2.frequency = 923300000;
	rx2.datarate = HELIUM__DATA_RATE__SF12BW500;
	Helium__PacketRouter__PacketRouterPacketDownV1 p =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_PACKET_DOWN_V1__INIT;
	p.payload = (ProtobufCBinaryData){sizeof(payload), payload};
	p.rx1 = &rx1;
	p.rx2 = &rx2;
	uint8_t buf[512];
	size_t n = pack_packet(&p, buf, sizeof(buf));
	struct router_msg m;
	assert_int_equal(envelope_down_decode(buf, n, &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_PACKET);
	assert_int_equal(m.payload_len, 33);
	assert_memory_equal(m.payload, payload, 33);
	assert_int_equal(m.rx1.timestamp, 5000000000ULL);
	assert_int_equal(m.rx1.frequency, 923300000);
	assert_int_equal(m.rx1.datarate, HELIUM__DATA_RATE__SF10BW500);
	assert_false(m.rx1.immediate);
	assert_true(m.has_rx2);
	assert_int_equal(m.rx2.timestamp, 6000000000ULL);
	assert_int_equal(m.rx2.datarate, HELIUM__DATA_RATE__SF12BW500);
	/* Every byte short of the whole is malformed, never a crash. */
	for (size_t cut = 1; cut < n; cut++) {
		assert_int_equal(envelope_down_decode(buf, cut, &m), -1);
	}
}

static void
test_packet_refused(void **state)
{
	(void)state;
	uint8_t big[256] = {0x60};
	Helium__PacketRouter__WindowV1 rx1 = HELIUM__PACKET_ROUTER__WINDOW_V1__INIT;
	rx1.frequency = 869525000;
	Helium__PacketRouter__PacketRouterPacketDownV1 p =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_PACKET_DOWN_V1__INIT;
	uint8_t buf[512];
	struct router_msg m;
	/* 255 bytes fit, 256 do not. */
	p.payload = (ProtobufCBinaryData){255, big};
	p.rx1 = &rx1;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), 0);
	assert_int_equal(m.payload_len, 255);
	p.payload.len = 256;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), -1);
	/* Nothing to send. */
	p.payload.len = 0;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), -1);
	/* No rx1. */
	p.payload.len = 12;
	p.rx1 = NULL;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), -1);
	/* A data rate outside helium.data_rate. */
	p.rx1 = &rx1;
	rx1.datarate = (Helium__DataRate)30;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), -1);
	assert_int_equal(m.kind, ROUTER_MSG_EMPTY);
	assert_int_equal(m.payload_len, 0);
	/* LR-FHSS decodes (the downlink codec refuses it later). */
	rx1.datarate = HELIUM__DATA_RATE__LRFHSS1BW137;
	assert_int_equal(envelope_down_decode(buf, pack_packet(&p, buf, sizeof(buf)), &m), 0);
	assert_int_equal(m.rx1.datarate, HELIUM__DATA_RATE__LRFHSS1BW137);
}

static void
test_offer_sizes(void **state)
{
	(void)state;
	uint8_t nonce[65];
	memset(nonce, 0x5a, sizeof(nonce));
	Helium__PacketRouter__PacketRouterSessionOfferV1 offer =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_SESSION_OFFER_V1__INIT;
	Helium__PacketRouter__EnvelopeDownV1 env = HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__INIT;
	env.data_case = HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA_SESSION_OFFER;
	env.session_offer = &offer;
	uint8_t buf[128];
	struct router_msg m;
	offer.nonce = (ProtobufCBinaryData){32, nonce};
	size_t n = helium__packet_router__envelope_down_v1__pack(&env, buf);
	assert_int_equal(envelope_down_decode(buf, n, &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_SESSION_OFFER);
	assert_int_equal(m.nonce_len, 32);
	assert_memory_equal(m.nonce, nonce, 32);
	offer.nonce.len = 64;
	n = helium__packet_router__envelope_down_v1__pack(&env, buf);
	assert_int_equal(envelope_down_decode(buf, n, &m), 0);
	assert_int_equal(m.nonce_len, 64);
	offer.nonce.len = 65;
	n = helium__packet_router__envelope_down_v1__pack(&env, buf);
	assert_int_equal(envelope_down_decode(buf, n, &m), -1);
}

static void
test_packet_ack(void **state)
{
	(void)state;
	struct router_msg m;
	uint8_t ack[2 + 2 + 32] = {0x1a, 0x22, 0x0a, 0x20};
	for (int i = 0; i < 32; i++) {
		ack[4 + i] = (uint8_t)i;
	}
	assert_int_equal(envelope_down_decode(ack, sizeof(ack), &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_PACKET_ACK);
	assert_int_equal(m.payload_hash_len, 32);
	assert_memory_equal(m.payload_hash, ack + 4, 32);
	/* No packet since the last ack: an empty hash. */
	static const uint8_t empty[] = {0x1a, 0x00};
	assert_int_equal(envelope_down_decode(empty, sizeof(empty), &m), 0);
	assert_int_equal(m.kind, ROUTER_MSG_PACKET_ACK);
	assert_int_equal(m.payload_hash_len, 0);
	uint8_t long_hash[2 + 2 + 33] = {0x1a, 0x23, 0x0a, 0x21};
	assert_int_equal(envelope_down_decode(long_hash, sizeof(long_hash), &m), -1);
}

static void
test_garbage(void **state)
{
	(void)state;
	struct router_msg m;
	static const uint8_t g1[] = {0xff, 0xff, 0xff};
	static const uint8_t g2[] = {0x0a, 0xff};                   /* length past the end */
	static const uint8_t g3[] = {0x0a, 0x02, 0x12, 0x05};       /* inner window overruns */
	static const uint8_t g4[] = {0x0b};                         /* start group */
	static const uint8_t g5[] = {0x08, 0x01};                   /* field 1 as a varint */
	static const uint8_t g6[] = {0x12, 0x03, 0x0a, 0x05, 0x00}; /* nonce overruns */
	static const struct {
		const uint8_t *b;
		size_t n;
	} cases[] = {{g1, sizeof(g1)}, {g2, sizeof(g2)}, {g3, sizeof(g3)},
	             {g4, sizeof(g4)}, {g5, sizeof(g5)}, {g6, sizeof(g6)}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(envelope_down_decode(cases[i].b, cases[i].n, &m), -1);
	}
	assert_int_equal(envelope_down_decode(NULL, 4, &m), -1);
	assert_int_equal(envelope_down_decode(g1, sizeof(g1), NULL), -1);
	/* Pseudo-random bytes: any result, but a clean one. */
	uint8_t buf[64];
	uint32_t x = 12345;
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		int rc = envelope_down_decode(buf, (size_t)(x % sizeof(buf)), &m);
		assert_true(rc == 0 || rc == -1);
	}
}

/* ---- LoRaWAN headers (lorawan.c; the router only takes uplinks) ---- */

static void
test_lorawan_frame_types(void **state)
{
	(void)state;
	uint8_t buf[33] = {0};
	static const struct {
		uint8_t mhdr;
		size_t len;
		enum lorawan_ftype type;
		const char *name;
		bool for_router;
	} cases[] = {
	        {0x00, 23, LORAWAN_JOIN_REQUEST, "JoinRequest", true},
	        {0x20, 17, LORAWAN_JOIN_ACCEPT, "JoinAccept", false},
	        {0x20, 33, LORAWAN_JOIN_ACCEPT, "JoinAccept", false},
	        {0x40, 12, LORAWAN_UNCONFIRMED_UP, "UnconfirmedUp", true},
	        {0x60, 12, LORAWAN_UNCONFIRMED_DOWN, "UnconfirmedDown", false},
	        {0x80, 12, LORAWAN_CONFIRMED_UP, "ConfirmedUp", true},
	        {0xa0, 12, LORAWAN_CONFIRMED_DOWN, "ConfirmedDown", false},
	        {0xc0, 19, LORAWAN_REJOIN_REQUEST, "RejoinRequest", false},
	        {0xe0, 1, LORAWAN_PROPRIETARY, "Proprietary", false},
	        /* Too short for their type. */
	        {0x00, 22, LORAWAN_UNKNOWN, "Unknown", false},
	        {0x20, 16, LORAWAN_UNKNOWN, "Unknown", false},
	        {0x40, 11, LORAWAN_UNKNOWN, "Unknown", false},
	        {0x80, 1, LORAWAN_UNKNOWN, "Unknown", false},
	        {0xc0, 18, LORAWAN_UNKNOWN, "Unknown", false},
	        {0x00, 0, LORAWAN_UNKNOWN, "Unknown", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf[0] = cases[i].mhdr;
		struct lorawan_frame f;
		lorawan_parse(buf, cases[i].len, &f);
		assert_int_equal(f.type, cases[i].type);
		assert_string_equal(lorawan_ftype_name(f.type), cases[i].name);
		assert_int_equal(lorawan_is_uplink_for_router(buf, cases[i].len),
		                 cases[i].for_router);
	}
	struct lorawan_frame f;
	lorawan_parse(NULL, 12, &f);
	assert_int_equal(f.type, LORAWAN_UNKNOWN);
	assert_string_equal(lorawan_ftype_name((enum lorawan_ftype)42), "Unknown");
}

static void
test_lorawan_data_fields(void **state)
{
	(void)state;
	/* ConfirmedUp, DevAddr 01020304, FCtrl FOptsLen 2, FCnt 0xBEEF. */
	uint8_t b[32] = {0x80, 0x04, 0x03, 0x02, 0x01, 0x02, 0xef, 0xbe, 0xaa, 0xbb, 0xd1};
	struct lorawan_frame f;
	/* FOptsLen 2 needs 14 bytes; 13 is not a frame. */
	lorawan_parse(b, 13, &f);
	assert_int_equal(f.type, LORAWAN_UNKNOWN);
	assert_false(f.has_dev_addr);
	assert_false(lorawan_is_uplink_for_router(b, 13));
	lorawan_parse(b, 14, &f);
	assert_int_equal(f.type, LORAWAN_CONFIRMED_UP);
	assert_int_equal(f.dev_addr, 0x01020304);
	assert_int_equal(f.fcnt, 0xbeef);
	assert_false(f.has_fport);
	lorawan_parse(b, 15, &f);
	assert_true(f.has_fport);
	assert_int_equal(f.fport, 0xd1);
	char addr[LORAWAN_DEVADDR_STRLEN];
	lorawan_dev_addr_format(0x0000ab12, addr);
	assert_string_equal(addr, "0000AB12");
	/* FOptsLen 15 claims more than a short frame holds. */
	b[5] = 0x0f;
	lorawan_parse(b, 20, &f);
	assert_int_equal(f.type, LORAWAN_UNKNOWN);
	lorawan_parse(b, 26, &f);
	assert_int_equal(f.type, LORAWAN_UNKNOWN);
	lorawan_parse(b, 27, &f);
	assert_int_equal(f.type, LORAWAN_CONFIRMED_UP);
	assert_false(f.has_fport);
}

/* ---- `down` payloads ---- */

/* The mqtt-api example payload: 60 83 01 00 00 00 00 00 00 71 4f 3e. */
static const uint8_t down_payload[] = {0x60, 0x83, 0x01, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x71, 0x4f, 0x3e};

/* The bridge must accept whatever we publish on `down`. */
static void
assert_bridge_accepts(const char *json, size_t len)
{
	struct downlink_request req;
	char err[160] = "";
	int rc = downlink_parse(json, len, &req, err, sizeof(err));
	if (rc != 0) {
		fail_msg("bridge refused %s: %s", json, err);
	}
	downlink_request_clear(&req);
}

static void
test_down_immediate(void **state)
{
	(void)state;
	struct router_window w = {.timestamp = 123,
	                          .frequency = 869525000,
	                          .datarate = HELIUM__DATA_RATE__SF9BW125,
	                          .immediate = true};
	char out[RL_DOWN_JSON_MAX];
	char err[128];
	int n = rl_downlink_build("req-17", &w, down_payload, sizeof(down_payload), 27, out,
	                          sizeof(out), err, sizeof(err));
	const char *want = "{\"id\":\"req-17\",\"txpk\":{\"imme\":true,\"freq\":869.525000,"
	                   "\"rfch\":0,\"powe\":27,\"modu\":\"LORA\",\"datr\":\"SF9BW125\","
	                   "\"codr\":\"4/5\",\"ipol\":true,\"size\":12,"
	                   "\"data\":\"YIMBAAAAAAAAcU8+\"}}";
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_bridge_accepts(out, (size_t)n);
}

static void
test_down_rx1_tmst(void **state)
{
	(void)state;
	/* The router widens the counter; txpk carries its low 32 bits. */
	struct router_window w = {.timestamp = 0x100000000ULL + 3513348611ULL,
	                          .frequency = 923300000,
	                          .datarate = HELIUM__DATA_RATE__SF10BW500};
	char out[RL_DOWN_JSON_MAX];
	char err[128];
	int n = rl_downlink_build("rl-1a2b", &w, down_payload, sizeof(down_payload), 36, out,
	                          sizeof(out), err, sizeof(err));
	const char *want = "{\"id\":\"rl-1a2b\",\"txpk\":{\"tmst\":3513348611,\"freq\":923.300000,"
	                   "\"rfch\":0,\"powe\":36,\"modu\":\"LORA\",\"datr\":\"SF10BW500\","
	                   "\"codr\":\"4/5\",\"ipol\":true,\"size\":12,"
	                   "\"data\":\"YIMBAAAAAAAAcU8+\"}}";
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_bridge_accepts(out, (size_t)n);

	/* Every LoRa rate, and a frequency with all six decimals. */
	static const char *const datr[] = {
	        "SF12BW125", "SF11BW125", "SF10BW125", "SF9BW125", "SF8BW125", "SF7BW125",
	        "SF12BW250", "SF11BW250", "SF10BW250", "SF9BW250", "SF8BW250", "SF7BW250",
	        "SF12BW500", "SF11BW500", "SF10BW500", "SF9BW500", "SF8BW500", "SF7BW500",
	};
	for (int i = 0; i < 18; i++) {
		w.datarate = (Helium__DataRate)i;
		w.frequency = 866349812;
		n = rl_downlink_build("x", &w, down_payload, 1, 14, out, sizeof(out), err,
		                      sizeof(err));
		assert_true(n > 0);
		char frag[64];
		snprintf(frag, sizeof(frag), "\"freq\":866.349812,");
		assert_non_null(strstr(out, frag));
		snprintf(frag, sizeof(frag), "\"datr\":\"%s\"", datr[i]);
		assert_non_null(strstr(out, frag));
	}
}

static void
test_down_not_lora(void **state)
{
	(void)state;
	struct router_window w = {.timestamp = 1,
	                          .frequency = 868300000,
	                          .datarate = HELIUM__DATA_RATE__LRFHSS1BW137};
	char out[RL_DOWN_JSON_MAX] = "untouched";
	char err[128] = "";
	assert_int_equal(rl_downlink_build("a", &w, down_payload, sizeof(down_payload), 16, out,
	                                   sizeof(out), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "datarate 18: not LoRa (LR-FHSS or FSK)");
	w.datarate = HELIUM__DATA_RATE__FSK50;
	assert_int_equal(rl_downlink_build("a", &w, down_payload, sizeof(down_payload), 16, out,
	                                   sizeof(out), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "datarate 24: not LoRa (LR-FHSS or FSK)");
}

static void
test_down_errors(void **state)
{
	(void)state;
	struct router_window w = {
	        .timestamp = 1, .frequency = 868100000, .datarate = HELIUM__DATA_RATE__SF7BW125};
	char out[RL_DOWN_JSON_MAX];
	char err[128];
	uint8_t big[256] = {0x60};
	char long_id[RL_DOWN_ID_MAX + 2];
	memset(long_id, 'i', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	const size_t plen = sizeof(down_payload);
	assert_int_equal(rl_downlink_build(long_id, &w, down_payload, plen, 14, out, sizeof(out),
	                                   err, sizeof(err)),
	                 -1);
	assert_int_equal(rl_downlink_build(NULL, &w, down_payload, plen, 14, out, sizeof(out), err,
	                                   sizeof(err)),
	                 -1);
	assert_int_equal(rl_downlink_build("a", NULL, down_payload, plen, 14, out, sizeof(out), err,
	                                   sizeof(err)),
	                 -1);
	assert_int_equal(
	        rl_downlink_build("a", &w, big, 256, 14, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(rl_downlink_build("a", &w, big, 0, 14, out, sizeof(out), err, sizeof(err)),
	                 -1);
	assert_int_equal(rl_downlink_build("a", &w, down_payload, plen, -1, out, sizeof(out), err,
	                                   sizeof(err)),
	                 -1);
	assert_int_equal(
	        rl_downlink_build("a", &w, down_payload, plen, 14, out, 40, err, sizeof(err)), -1);
	assert_string_equal(err, "output buffer too small");
	w.frequency = 0;
	assert_int_equal(rl_downlink_build("a", &w, down_payload, plen, 14, out, sizeof(out), err,
	                                   sizeof(err)),
	                 -1);
	/* The worst case fits RL_DOWN_JSON_MAX: a full payload, an id of quotes. */
	w.frequency = 4294967295u;
	memset(long_id, '"', RL_DOWN_ID_MAX);
	long_id[RL_DOWN_ID_MAX] = '\0';
	int n = rl_downlink_build(long_id, &w, big, 255, 50, out, sizeof(out), err, sizeof(err));
	assert_true(n > 0);
	assert_bridge_accepts(out, (size_t)n);
}

static void
test_down_id_escaped(void **state)
{
	(void)state;
	struct router_window w = {.immediate = true,
	                          .frequency = 869525000,
	                          .datarate = HELIUM__DATA_RATE__SF12BW125};
	char out[RL_DOWN_JSON_MAX];
	char err[128];
	int n = rl_downlink_build("a\"b\\c\n", &w, down_payload, 1, 14, out, sizeof(out), err,
	                          sizeof(err));
	assert_true(n > 0);
	assert_string_equal(out, "{\"id\":\"a\\\"b\\\\c\\n\",\"txpk\":{\"imme\":true,"
	                         "\"freq\":869.525000,\"rfch\":0,\"powe\":14,\"modu\":\"LORA\","
	                         "\"datr\":\"SF12BW125\",\"codr\":\"4/5\",\"ipol\":true,"
	                         "\"size\":1,\"data\":\"YA==\"}}");
	assert_bridge_accepts(out, (size_t)n);
}

/* ---- `ack` payloads ---- */

static void
test_ack_parse(void **state)
{
	(void)state;
	char id[RL_DOWN_ID_MAX + 1];
	char error[32];
	char err[128];
	const char *ack = "{\"mac\":\"aa555a0000000101\",\"id\":\"req-18\",\"error\":\"TOO_LATE\","
	                  "\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
	assert_int_equal(rl_ack_parse(ack, strlen(ack), id, sizeof(id), error, sizeof(error), err,
	                              sizeof(err)),
	                 0);
	assert_string_equal(id, "req-18");
	assert_string_equal(error, "TOO_LATE");
	assert_true(rl_ack_wants_rx2(error));

	/* What the bridge itself writes. */
	char *built = ack_build("aa555a0000000101", "\"rl-7\"", "NONE", NULL,
	                        "{\"warn\":\"TX_POWER\",\"value\":14}");
	assert_non_null(built);
	assert_int_equal(rl_ack_parse(built, strlen(built), id, sizeof(id), error, sizeof(error),
	                              err, sizeof(err)),
	                 0);
	free(built);
	assert_string_equal(id, "rl-7");
	assert_string_equal(error, "NONE");
	assert_false(rl_ack_wants_rx2(error));
	built = ack_build("aa555a0000000101", "\"rl-8\"", "GATEWAY_OFFLINE", "no PULL_DATA", NULL);
	assert_non_null(built);
	assert_int_equal(rl_ack_parse(built, strlen(built), id, sizeof(id), error, sizeof(error),
	                              err, sizeof(err)),
	                 0);
	free(built);
	assert_string_equal(error, "GATEWAY_OFFLINE");

	assert_true(rl_ack_wants_rx2("TOO_EARLY"));
	assert_false(rl_ack_wants_rx2("COLLISION_PACKET"));
	assert_false(rl_ack_wants_rx2(NULL));
}

static void
test_ack_refused(void **state)
{
	(void)state;
	char id[8];
	char error[32];
	char err[128];
	static const char *const bad[] = {
	        "",
	        "[]",
	        "{\"mac\":\"aa555a0000000101\",\"id\":null,\"error\":\"MALFORMED\"}",
	        "{\"mac\":\"aa555a0000000101\",\"id\":17,\"error\":\"NONE\"}",
	        "{\"mac\":\"aa555a0000000101\",\"error\":\"NONE\"}",
	        "{\"mac\":\"aa555a0000000101\",\"id\":\"a\"}",
	        "{\"mac\":\"aa555a0000000101\",\"id\":\"a\",\"error\":7}",
	        "{\"mac\":\"aa555a0000000101\",\"id\":\"too-long-id\",\"error\":\"NONE\"}",
	        "{\"id\":\"a\",\"error\":\"NONE\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(rl_ack_parse(bad[i], strlen(bad[i]), id, sizeof(id), error,
		                              sizeof(error), err, sizeof(err)),
		                 -1);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(
	        rl_ack_parse(NULL, 0, id, sizeof(id), error, sizeof(error), err, sizeof(err)), -1);
	const char *ok = "{\"id\":\"a\",\"error\":\"NONE\"}";
	assert_int_equal(rl_ack_parse(ok, strlen(ok), id, sizeof(id), error, 4, err, sizeof(err)),
	                 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_envelope),
	        cmocka_unit_test(test_session_offer_hand_packed),
	        cmocka_unit_test(test_packet_hand_packed),
	        cmocka_unit_test(test_packet_with_rx2),
	        cmocka_unit_test(test_packet_refused),
	        cmocka_unit_test(test_offer_sizes),
	        cmocka_unit_test(test_packet_ack),
	        cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_lorawan_frame_types),
	        cmocka_unit_test(test_lorawan_data_fields),
	        cmocka_unit_test(test_down_immediate),
	        cmocka_unit_test(test_down_rx1_tmst),
	        cmocka_unit_test(test_down_not_lora),
	        cmocka_unit_test(test_down_errors),
	        cmocka_unit_test(test_down_id_escaped),
	        cmocka_unit_test(test_ack_parse),
	        cmocka_unit_test(test_ack_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
