/*
 * The ceiling routerlink is compared with: how many Ed25519 signatures one
 * thread of this machine makes per second with libsodium, over exactly the
 * bytes routerlink signs for a bench uplink (the canonical packet_up
 * without its signature). Every uplink needs one, so no routerlink on one
 * signing thread can go faster.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "packet_router.pb-c.h"

#include "keys.h"
#include "rlbench.h"
#include "router_codec.h"
#include "uplink_codec.h"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A bench uplink as routerlink decodes it from the bridge's message. */
static int
bench_uplink(struct uplink *up)
{
	uint8_t frame[RLB_FRAME_LEN];
	char data[sodium_base64_ENCODED_LEN(RLB_FRAME_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char json[512], err[128];
	rlb_frame(frame, 42, 123456789, 987654321);
	sodium_bin2base64(data, sizeof(data), frame, sizeof(frame), sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(
	        json, sizeof(json),
	        "{\"mac\":\"be0d00000000002a\",\"received_at\":\"2026-11-21T10:00:00.123456Z\","
	        "\"rxpk\":{\"tmst\":123456000,\"chan\":0,\"rfch\":0,\"freq\":904.3,\"stat\":1,"
	        "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-57,"
	        "\"lsnr\":9.8,\"size\":%d,\"data\":\"%s\"}}",
	        RLB_FRAME_LEN, data);
	if (n <= 0 || (size_t)n >= sizeof(json) ||
	    rl_uplink_decode(json, (size_t)n, RLB_EUI_BASE + 42, up, err, sizeof(err)) !=
	            UPLINK_OK) {
		fprintf(stderr, "rlbench: the bench uplink does not decode\n");
		return -1;
	}
	return 0;
}

int
sign_ceiling_measure(double seconds, struct sign_ceiling *out)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t bin[RL_KEY_BIN_LEN], env[512], inner[512], sig[crypto_sign_BYTES];
	struct uplink up;
	if (sodium_init() < 0 || bench_uplink(&up) != 0) {
		return -1;
	}
	crypto_sign_keypair(pk, sk);
	bin[0] = 0x01;
	memcpy(bin + 1, pk, sizeof(pk));
	size_t envlen = packet_up_encode(&up, HELIUM__REGION__US915, 12, bin, sk, env, sizeof(env));
	Helium__PacketRouter__EnvelopeUpV1 *e =
	        envlen ? helium__packet_router__envelope_up_v1__unpack(NULL, envlen, env) : NULL;
	if (e == NULL || e->data_case != HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_PACKET) {
		fprintf(stderr, "rlbench: cannot encode a bench packet_up\n");
		helium__packet_router__envelope_up_v1__free_unpacked(e, NULL);
		return -1;
	}
	e->packet->signature = (ProtobufCBinaryData){0, NULL};
	size_t len = helium__packet_router__packet_router_packet_up_v1__pack(e->packet, inner);
	e->packet->signature = (ProtobufCBinaryData){0, NULL};
	helium__packet_router__envelope_up_v1__free_unpacked(e, NULL);
	out->signed_len = len;

	/* Signing alone, then routerlink's whole encoder, half the time each. */
	uint64_t n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 256; i++) {
			inner[len - 1] ^= (uint8_t)i; /* not the same bytes every time */
			crypto_sign_detached(sig, NULL, inner, len, sk);
		}
		n += 256;
	} while ((t = now_s()) - t0 < seconds / 2);
	out->sign_per_s = (double)n / (t - t0);

	n = 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 256; i++) {
			up.tmst++;
			if (packet_up_encode(&up, HELIUM__REGION__US915, 12, bin, sk, env,
			                     sizeof(env)) == 0) {
				return -1;
			}
		}
		n += 256;
	} while ((t = now_s()) - t0 < seconds / 2);
	out->encode_per_s = (double)n / (t - t0);
	sodium_memzero(sk, sizeof(sk));
	return 0;
}
