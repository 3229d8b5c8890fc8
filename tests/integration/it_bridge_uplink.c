/*
 * Uplinks: PUSH_ACK, one `up` message per rxpk with the forwarder's text
 * verbatim, CRC handling, `status` messages.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

/* Each test uses its own gateway, so no test sees another's messages. */
#define MAC_ACK   "aa555a00000a0001"
#define MAC_MULTI "aa555a00000a0002"
#define MAC_RSIG  "aa555a00000a0003"
#define MAC_CRC   "aa555a00000a0004"
#define MAC_CRC2  "aa555a00000a0005"
#define MAC_STAT  "aa555a00000a0006"
#define MAC_BOTH  "aa555a00000a0007"

/* LoRa, with numbers written the way forwarders write them. */
static const char RXPK_LORA[] =
        "{\"time\":\"2026-11-21T10:00:00.528002Z\",\"tmst\":3512348611,\"chan\":2,\"rfch\":0,"
        "\"freq\":868.100000,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/6\","
        "\"rssi\":-35,\"lsnr\":5.1,\"size\":4,\"data\":\"AQIDBA==\"}";
/* FSK: numeric datr, no codr or lsnr; spaces to be dropped, an unknown
 * vendor object whose strings keep their spaces and escapes. */
static const char RXPK_FSK[] =
        "{ \"tmst\" : 3512348514 , \"chan\":9, \"rfch\":1, \"freq\":869.1, \"stat\":1,\n"
        "  \"modu\":\"FSK\", \"datr\":50000, \"rssi\":-75, \"size\":3, \"data\":\"ZGF0\",\n"
        "  \"vendor\":{\"note\":\"two  spaces \\\"q\\\" \\u00e9\", \"list\":[1, 2.50, -0.0, 1e3]}}";
/* No CRC (stat 0) is forwarded; no padding on data. */
static const char RXPK_NOCRC[] =
        "{\"tmst\":1,\"freq\":869.525000,\"stat\":0,\"modu\":\"LORA\",\"datr\":\"SF12BW125\","
        "\"codr\":\"4/8\",\"rssi\":-120,\"lsnr\":-20.0,\"size\":2,\"data\":\"AAE\"}";

/* jver 2: per-antenna values in rsig, none at the top level. */
static const char RXPK_RSIG[] =
        "{\"jver\":2,\"tmst\":879148780,\"time\":\"2026-11-21T10:00:01.997099Z\",\"rfch\":0,"
        "\"freq\":868.500000,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","
        "\"size\":2,\"data\":\"gM8=\",\"aesk\":42,\"rsig\":["
        "{\"ant\":0,\"chan\":7,\"rssic\":-95,\"rssis\":-92,\"rssisd\":0,\"lsnr\":14.0,"
        "\"etime\":\"AAECAwQFBgcICQoLDA0ODw==\",\"ftime\":1255738435,\"foff\":-8898},"
        "{\"ant\":1,\"chan\":23,\"rssic\":-93,\"rssis\":-88,\"rssisd\":0,\"lsnr\":13.75,"
        "\"etime\":\"DwAODQwLCgkIBwYFBAMCAQ==\",\"ftime\":1252538436,\"foff\":-8898}]}";

static const char RXPK_CRC_BAD[] =
        "{\"tmst\":4202879084,\"chan\":3,\"rfch\":0,\"freq\":904.500000,\"stat\":-1,"
        "\"modu\":\"LORA\",\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"lsnr\":-15.5,\"rssi\":-115,"
        "\"size\":2,\"data\":\"QMo=\"}";
static const char RXPK_CRC_OK[] =
        "{\"tmst\":4202880000,\"chan\":3,\"rfch\":0,\"freq\":904.500000,\"stat\":1,"
        "\"modu\":\"LORA\",\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"lsnr\":7.5,\"rssi\":-60,"
        "\"size\":2,\"data\":\"QMs=\"}";

/* ackr null and vendor fields, as Kerlink-style forwarders send. */
static const char STAT[] =
        "{\"time\":\"2026-11-21 10:00:30 GMT\",\"lati\":46.24000,\"long\":3.25230,\"alti\":145,"
        "\"rxnb\":2,\"rxok\":2,\"rxfw\":2,\"ackr\":null,\"dwnb\":0,\"txnb\":0,\"temp\":30.5,"
        "\"boot\":\"2026-11-20 08:00:00 GMT\",\"hal\":\"5.1.0\",\"fpga\":31,\"lpps\":2}";

static struct th_gateway
open_gw(const char *mac, uint16_t port)
{
	struct th_gateway gw;
	assert_int_equal(th_gw_open(&gw, mac, NULL, port), 0);
	return gw;
}

/* The next `up` of mac: returns its parsed payload after the checks every
 * up message must pass. */
static cJSON *
next_up(struct th_suite *s, const char *mac, char **text)
{
	char topic[64];
	th_topic(topic, sizeof(topic), mac, "up");
	struct th_msg *msg = TH_WAIT_MSG(s->obs, topic, WAIT_MS);
	assert_int_equal(msg->qos, 1);
	assert_false(msg->retained);
	cJSON *root = TH_PARSE(msg->payload);
	TH_ASSERT_STR(root, "mac", mac);
	TH_ASSERT_RECENT(root, "received_at", 5);
	*text = msg->payload;
	msg->payload = NULL;
	th_msg_free(msg);
	return root;
}

static void
expect_up(struct th_suite *s, const char *mac, const char *rxpk, char *received_at,
          size_t received_at_len)
{
	char *text = NULL;
	cJSON *root = next_up(s, mac, &text);
	TH_ASSERT_MEMBER_TEXT(text, "rxpk", rxpk);
	if (received_at != NULL) {
		snprintf(received_at, received_at_len, "%s",
		         cJSON_GetObjectItemCaseSensitive(root, "received_at")->valuestring);
	}
	cJSON_Delete(root);
	free(text);
}

static void
test_push_ack_echoes_version_and_token(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_ACK, s->bridge.udp_port);
	char body[1024];
	snprintf(body, sizeof(body), "{\"stat\":%s}", STAT);
	/* Tokens whose bytes differ, so a byte swap would show. */
	const struct {
		uint8_t version;
		uint16_t token;
	} cases[] = {{2, 0x1234}, {1, 0xa5c3}, {2, 0x0000}, {2, 0xffff}, {1, 0x00ff}};
	for (size_t i = 0; i < TH_ARRAY_LEN(cases); i++) {
		assert_int_equal(th_gw_send_push(&gw, cases[i].version, cases[i].token, body), 0);
		assert_int_equal(th_gw_expect_ack(&gw, TH_UP, cases[i].version, cases[i].token,
		                                  TH_PUSH_ACK, WAIT_MS),
		                 0);
	}
	/* Every PUSH_DATA was published once; nothing came on the down socket. */
	char topic[64];
	th_topic(topic, sizeof(topic), MAC_ACK, "status");
	for (size_t i = 0; i < TH_ARRAY_LEN(cases); i++) {
		th_msg_free(TH_WAIT_MSG(s->obs, topic, WAIT_MS));
	}
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_ACK "/up", "ack");
	assert_int_equal(th_mqtt_count_for(s->obs, topic, 0), 0);
	assert_int_equal(th_gw_drain(&gw, TH_DOWN), 0);
	th_gw_close(&gw);
}

static void
test_rxpk_each_published_verbatim_in_order(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_MULTI, s->bridge.udp_port);
	char body[4096];
	snprintf(body, sizeof(body), "{\"rxpk\":[\n\t%s,\n\t%s,\n\t%s\n]}", RXPK_LORA, RXPK_FSK,
	         RXPK_NOCRC);
	assert_int_equal(th_gw_push(&gw, body), 0);

	char t1[64], t2[64], t3[64];
	expect_up(s, MAC_MULTI, RXPK_LORA, t1, sizeof(t1));
	expect_up(s, MAC_MULTI, RXPK_FSK, t2, sizeof(t2));
	expect_up(s, MAC_MULTI, RXPK_NOCRC, t3, sizeof(t3));
	/* One datagram, one reception time. */
	assert_string_equal(t1, t2);
	assert_string_equal(t1, t3);
	/* Exactly three: the next up is the sentinel. */
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_MULTI "/up", "multi");
	th_gw_close(&gw);
}

static void
test_rsig_two_antennas_is_one_message(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_RSIG, s->bridge.udp_port);
	char body[2048];
	snprintf(body, sizeof(body), "{\"rxpk\":[%s]}", RXPK_RSIG);
	assert_int_equal(th_gw_push(&gw, body), 0);
	expect_up(s, MAC_RSIG, RXPK_RSIG, NULL, 0);
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_RSIG "/up", "rsig");
	th_gw_close(&gw);
}

static void
test_crc_bad_dropped_by_default(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_CRC, s->bridge.udp_port);
	char body[2048];
	snprintf(body, sizeof(body), "{\"rxpk\":[%s,%s]}", RXPK_CRC_BAD, RXPK_CRC_OK);
	assert_int_equal(th_gw_push(&gw, body), 0);
	expect_up(s, MAC_CRC, RXPK_CRC_OK, NULL, 0);
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_CRC "/up", "crc");
	th_gw_close(&gw);
}

static void
test_crc_bad_forwarded_when_configured(void **state)
{
	struct th_suite *s = *state;
	struct th_daemon crc;
	TH_SUITE_BRIDGE(s, &crc, "it-uplink-crc", "forward_crc_bad = true\n", NULL, WAIT_MS);
	struct th_gateway gw = open_gw(MAC_CRC2, crc.udp_port);
	char body[2048];
	snprintf(body, sizeof(body), "{\"rxpk\":[%s,%s]}", RXPK_CRC_BAD, RXPK_CRC_OK);
	assert_int_equal(th_gw_push(&gw, body), 0);
	expect_up(s, MAC_CRC2, RXPK_CRC_BAD, NULL, 0);
	expect_up(s, MAC_CRC2, RXPK_CRC_OK, NULL, 0);
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_CRC2 "/up", "crc2");
	th_gw_close(&gw);
	assert_int_equal(th_daemon_stop(&crc), 0);
}

static void
test_stat_published_verbatim(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_STAT, s->bridge.udp_port);
	char body[2048];
	snprintf(body, sizeof(body), "{\"stat\":%s}", STAT);
	assert_int_equal(th_gw_push(&gw, body), 0);

	struct th_msg *msg = TH_WAIT_MSG(s->obs, "lorawan/" MAC_STAT "/status", WAIT_MS);
	assert_int_equal(msg->qos, 1);
	assert_false(msg->retained);
	cJSON *root = TH_PARSE(msg->payload);
	TH_ASSERT_STR(root, "mac", MAC_STAT);
	TH_ASSERT_RECENT(root, "received_at", 5);
	TH_ASSERT_MEMBER_TEXT(msg->payload, "stat", STAT);
	cJSON_Delete(root);
	th_msg_free(msg);
	/* A stat alone makes no up message, and one status only. */
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_STAT "/up", "stat");
	assert_int_equal(th_mqtt_count_for(s->obs, "lorawan/" MAC_STAT "/status", 0), 0);
	th_gw_close(&gw);
}

static void
test_rxpk_and_stat_in_one_datagram(void **state)
{
	struct th_suite *s = *state;
	struct th_gateway gw = open_gw(MAC_BOTH, s->bridge.udp_port);
	char body[4096];
	snprintf(body, sizeof(body), "{\"rxpk\":[%s],\"stat\":%s}", RXPK_LORA, STAT);
	assert_int_equal(th_gw_push(&gw, body), 0);

	struct th_msg *st = TH_WAIT_MSG(s->obs, "lorawan/" MAC_BOTH "/status", WAIT_MS);
	TH_ASSERT_MEMBER_TEXT(st->payload, "stat", STAT);
	th_msg_free(st);
	expect_up(s, MAC_BOTH, RXPK_LORA, NULL, 0);
	TH_SENTINEL(s->obs, &gw, "lorawan/" MAC_BOTH "/up", "both");
	assert_int_equal(th_mqtt_count_for(s->obs, "lorawan/" MAC_BOTH "/status", 0), 0);
	th_gw_close(&gw);
}

int
main(void)
{
	struct th_suite suite = {.name = "uplink"};
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_push_ack_echoes_version_and_token, &suite),
	        TH_TEST(test_rxpk_each_published_verbatim_in_order, &suite),
	        TH_TEST(test_rsig_two_antennas_is_one_message, &suite),
	        TH_TEST(test_crc_bad_dropped_by_default, &suite),
	        TH_TEST(test_crc_bad_forwarded_when_configured, &suite),
	        TH_TEST(test_stat_published_verbatim, &suite),
	        TH_TEST(test_rxpk_and_stat_in_one_datagram, &suite),
	};
	int failed = cmocka_run_group_tests_name("it_bridge_uplink", tests, NULL, NULL);
	return th_suite_finish(&suite, failed);
}
