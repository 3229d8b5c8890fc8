/*
 * The apigw bench's messages: what the bridges and routerlink of a fleet
 * would publish (retained state and hotspot per gateway, uplinks),
 * published by the shared raw publisher (bench/mqttpub.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../mqttpub.h"
#include "agbench.h"
#include "lf/util.h"

#define MESSAGE_MAX 640

struct agb_pub {
	struct mqttpub *mq;
	size_t gateways;
	struct lf_rfc3339_cache stamp;
};

void
agb_mac(size_t gw, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)(AGB_EUI_BASE + gw));
}

static void
now_rfc3339(struct agb_pub *p, char out[LF_RFC3339_LEN])
{
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	lf_format_rfc3339_cached(&p->stamp, &wall, out);
}

/*
 * The bridge's up message for seq (docs/mqtt-api.md). apigw copies rxpk's
 * tmst into the uplink event, so tmst carries seq (mod 2^32: a run sends
 * far fewer). The frame is a 29-byte unconfirmed data-up, as routerlink's
 * bench sends. Its length, or 0.
 */
static size_t
render_up(struct agb_pub *p, uint64_t seq, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], received_at[LF_RFC3339_LEN];
	agb_mac((size_t)(seq % p->gateways), mac);
	snprintf(topic, 64, "lorawan/%s/up", mac);
	now_rfc3339(p, received_at);
	int n = snprintf(out, MESSAGE_MAX,
	                 "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":{\"tmst\":%u,\"chan\":0,"
	                 "\"rfch\":0,\"freq\":904.3,\"stat\":1,\"modu\":\"LORA\","
	                 "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-57,\"lsnr\":9.8,"
	                 "\"size\":29,\"data\":\"QAEAACYAAQABAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
	                 mac, received_at, (unsigned)seq);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

/* The bridge's retained state of an online gateway. */
static size_t
render_state(struct agb_pub *p, size_t gw, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], now[LF_RFC3339_LEN];
	agb_mac(gw, mac);
	snprintf(topic, 64, "lorawan/%s/state", mac);
	now_rfc3339(p, now);
	int n = snprintf(
	        out, MESSAGE_MAX,
	        "{\"mac\":\"%s\",\"online\":true,\"addr\":\"192.0.2.%zu:%zu\","
	        "\"protocol\":2,\"bridge\":\"bench\",\"since\":\"%s\",\"last_seen\":\"%s\"}",
	        mac, gw % 250 + 1, 40000 + gw % 20000, now, now);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

/*
 * routerlink's retained hotspot of a connected gateway. The public key has
 * the length and alphabet of a real Helium address (apigw passes it
 * through unchecked); it differs per gateway so that no two responses are
 * alike.
 */
static size_t
render_hotspot(struct agb_pub *p, size_t gw, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], now[LF_RFC3339_LEN];
	agb_mac(gw, mac);
	snprintf(topic, 64, "lorawan/%s/hotspot", mac);
	now_rfc3339(p, now);
	int n = snprintf(out, MESSAGE_MAX,
	                 "{\"mac\":\"%s\",\"public_key\":\"13aeUKNjHgqGvZFv2TnRHxe9CLnJT415dcB2rzt"
	                 "%012zu\",\"region\":\"US915\",\"router\":\"connected\","
	                 "\"connected_since\":\"%s\",\"uplinks\":%zu,\"downlinks\":%zu,"
	                 "\"last_uplink\":\"%s\"}",
	                 mac, gw, now, gw % 1000, gw % 10, now);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

int
agb_pub_gateways(struct agb_pub *p, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++) {
		char topic[64], payload[MESSAGE_MAX];
		size_t len = render_state(p, i, topic, payload);
		if (len == 0 || mqttpub_add(p->mq, topic, payload, len, true) != 0) {
			return -1;
		}
		len = render_hotspot(p, i, topic, payload);
		if (len == 0 || mqttpub_add(p->mq, topic, payload, len, true) != 0) {
			return -1;
		}
	}
	return mqttpub_flush(p->mq);
}

int
agb_pub_uplinks(struct agb_pub *p, uint64_t first, size_t n)
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

void
agb_pub_sample(struct agb_pub *p, char *out, size_t outlen)
{
	char topic[64], payload[MESSAGE_MAX];
	render_up(p, 0, topic, payload);
	snprintf(out, outlen, "%s %s", topic, payload);
}

uint64_t
agb_pub_unacked(struct agb_pub *p)
{
	return mqttpub_unacked(p->mq);
}

struct agb_pub *
agb_pub_new(const char *host, int port, size_t gateways, int inflight)
{
	struct agb_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	p->gateways = gateways;
	p->mq = mqttpub_connect(host, port, inflight, "agbench");
	if (p->mq == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
agb_pub_free(struct agb_pub *p)
{
	if (p != NULL) {
		mqttpub_free(p->mq);
		free(p);
	}
}
