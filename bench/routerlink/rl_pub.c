/*
 * The routerlink bench's messages: the bridge's `up` for each gateway and
 * the retained online states, published by the shared raw publisher
 * (bench/mqttpub.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../mqttpub.h"
#include "lf/util.h"
#include "rlbench.h"

#define MESSAGE_MAX 512

struct rlb_pub {
	struct mqttpub *mq;
	size_t gateways;
	struct lf_rfc3339_cache stamp;
};

void
rlb_mac(size_t gw, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)(RLB_EUI_BASE + gw));
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

void
rlb_frame(uint8_t out[RLB_FRAME_LEN], size_t gw, uint64_t seq, int64_t sent_ns)
{
	out[0] = 0x40; /* unconfirmed data up, LoRaWAN R1 */
	out[1] = (uint8_t)gw;
	out[2] = (uint8_t)(gw >> 8);
	out[3] = (uint8_t)(gw >> 16);
	out[4] = 0x26; /* DevAddr, little-endian on air */
	out[5] = 0x00; /* FCtrl: no FOpts */
	out[6] = (uint8_t)seq;
	out[7] = (uint8_t)(seq >> 8);
	out[8] = 1; /* FPort */
	put_le64(out + RLB_FRAME_SEQ_OFFSET, seq);
	put_le64(out + RLB_FRAME_SEQ_OFFSET + 8, (uint64_t)sent_ns);
	memset(out + RLB_FRAME_SEQ_OFFSET + 16, 0, 4); /* MIC: nobody checks it here */
}

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The bridge's up message for seq; its length, or 0. */
static size_t
render_up(struct rlb_pub *p, uint64_t seq, char topic[64], char out[MESSAGE_MAX])
{
	size_t gw = (size_t)(seq % p->gateways);
	char mac[17], received_at[LF_RFC3339_LEN];
	char data[sodium_base64_ENCODED_LEN(RLB_FRAME_LEN, sodium_base64_VARIANT_ORIGINAL)];
	uint8_t frame[RLB_FRAME_LEN];
	rlb_mac(gw, mac);
	snprintf(topic, 64, "lorawan/%s/up", mac);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	lf_format_rfc3339_cached(&p->stamp, &wall, received_at);
	rlb_frame(frame, gw, seq, now_ns());
	sodium_bin2base64(data, sizeof(data), frame, sizeof(frame), sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(out, MESSAGE_MAX,
	                 "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":{\"tmst\":%u,\"chan\":0,"
	                 "\"rfch\":0,\"freq\":904.3,\"stat\":1,\"modu\":\"LORA\","
	                 "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-57,\"lsnr\":9.8,"
	                 "\"size\":%d,\"data\":\"%s\"}}",
	                 mac, received_at, (unsigned)(seq * 1000u), RLB_FRAME_LEN, data);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

int
rlb_pub_online(struct rlb_pub *p, size_t first, size_t n)
{
	static const char online[] = "{\"online\":true}";
	for (size_t i = first; i < first + n; i++) {
		char mac[17], topic[64];
		rlb_mac(i, mac);
		snprintf(topic, sizeof(topic), "lorawan/%s/state", mac);
		if (mqttpub_add(p->mq, topic, online, sizeof(online) - 1, true) != 0) {
			return -1;
		}
	}
	return mqttpub_flush(p->mq);
}

int
rlb_pub_uplinks(struct rlb_pub *p, uint64_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char topic[64], payload[MESSAGE_MAX];
		size_t len = render_up(p, first + i, topic, payload);
		if (len == 0 || mqttpub_add(p->mq, topic, payload, len, false) != 0) {
			return -1;
		}
	}
	return mqttpub_flush(p->mq);
}

size_t
rlb_pub_sample(struct rlb_pub *p, char *out, size_t outlen)
{
	char topic[64], payload[MESSAGE_MAX];
	size_t len = render_up(p, 0, topic, payload);
	snprintf(out, outlen, "%s %s", topic, payload);
	return len;
}

uint64_t
rlb_pub_unacked(struct rlb_pub *p)
{
	return mqttpub_unacked(p->mq);
}

struct rlb_pub *
rlb_pub_new(const char *host, int port, size_t gateways, int inflight)
{
	struct rlb_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	p->gateways = gateways;
	p->mq = mqttpub_connect(host, port, inflight, "rlbench");
	if (p->mq == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
rlb_pub_free(struct rlb_pub *p)
{
	if (p != NULL) {
		mqttpub_free(p->mq);
		free(p);
	}
}
