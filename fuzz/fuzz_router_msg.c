/*
 * A message from the Helium packet router (envelope_down_v1) as
 * routerlink handles it (stream.c on_call, daemon.c on_stream_downlink
 * and handle_ack): envelope_down_decode(), then for a session offer the
 * session_init answer (signed, checked as the router would), for a
 * downlink the `down` payloads of rx1 and rx2 (rl_downlink_window) and
 * the recent-packets ring. Each `down` payload must be one the bridge
 * accepts (downlink_parse): that is what it is for.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <sodium.h>

#include "downlink.h"
#include "downlink_codec.h"
#include "fuzz.h"
#include "packet_router.pb-c.h"
#include "region.h"
#include "rl_checks.h"
#include "router_codec.h"

static struct rl_fuzz F;
static struct gateway_key session;
static uint8_t session_bin[RL_KEY_BIN_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	rl_fuzz_init(&F);
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0xa5, sizeof(seed));
	crypto_sign_seed_keypair(session.pk, session.sk, seed);
	session.tag = KEYS_TAG_ED25519_MAINNET;
	keys_public_bin(&session, session_bin);
	return 0;
}

static void
check_session_offer(const struct router_msg *msg)
{
	FUZZ_CHECK(msg->nonce_len >= 1 && msg->nonce_len <= RL_NONCE_MAX);
	uint8_t buf[RL_FUZZ_ENVELOPE_MAX];
	size_t n = session_init_encode(F.key_bin, msg->nonce, msg->nonce_len, session_bin, F.key.sk,
	                               buf, sizeof(buf));
	FUZZ_CHECK(n > 0);
	Helium__PacketRouter__EnvelopeUpV1 *env = rl_fuzz_check_envelope(
	        buf, n, HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_SESSION_INIT, F.key.pk);
	const Helium__PacketRouter__PacketRouterSessionInitV1 *si = env->session_init;
	FUZZ_CHECK(si->nonce.len == msg->nonce_len &&
	           memcmp(si->nonce.data, msg->nonce, msg->nonce_len) == 0);
	FUZZ_CHECK(si->session_key.len == RL_KEY_BIN_LEN &&
	           memcmp(si->session_key.data, session_bin, RL_KEY_BIN_LEN) == 0);
	helium__packet_router__envelope_up_v1__free_unpacked(env, NULL);
}

/* One window's `down` payload; refused windows (LR-FHSS, FSK, no
 * frequency) are dropped by routerlink and counted. */
static void
check_window(const struct router_msg *msg, bool rx2, int powe)
{
	char json[RL_DOWN_JSON_MAX], err[200] = "";
	int n = rl_downlink_window(msg, rx2, "rl-18446744073709551615", powe, json, sizeof(json),
	                           err, sizeof(err));
	if (n < 0) {
		FUZZ_CHECK(n == -1 && err[0] != '\0');
		return;
	}
	FUZZ_CHECK((size_t)n == strlen(json));
	cJSON *root = cJSON_ParseWithLength(json, (size_t)n);
	const cJSON *txpk = cJSON_GetObjectItemCaseSensitive(root, "txpk");
	FUZZ_CHECK(cJSON_IsObject(txpk));
	/* rx2 goes by its own timestamp, never immediately. */
	const cJSON *imme = cJSON_GetObjectItemCaseSensitive(txpk, "imme");
	FUZZ_CHECK(!rx2 || (imme == NULL &&
	                    cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(txpk, "tmst"))));
	cJSON_Delete(root);
	/* The bridge takes it as it is. */
	struct downlink_request req;
	char why[256];
	FUZZ_CHECK(downlink_parse(json, (size_t)n, &req, why, sizeof(why)) == 0);
	downlink_request_clear(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct router_msg msg;
	int rc = envelope_down_decode(data, size, &msg);
	Helium__PacketRouter__EnvelopeDownV1 *env =
	        helium__packet_router__envelope_down_v1__unpack(NULL, size, data);
	/* What protobuf-c cannot read, the decoder refuses. */
	FUZZ_CHECK(env != NULL || rc != 0);
	if (env != NULL) {
		helium__packet_router__envelope_down_v1__free_unpacked(env, NULL);
	}
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		return 0;
	}
	switch (msg.kind) {
	case ROUTER_MSG_SESSION_OFFER:
		check_session_offer(&msg);
		break;
	case ROUTER_MSG_PACKET:
		FUZZ_CHECK(msg.payload_len >= 1 && msg.payload_len <= RL_DOWN_PAYLOAD_MAX);
		for (int i = 0; i < 2; i++) {
			int powe = region_tx_power(
			        i == 0 ? HELIUM__REGION__US915 : HELIUM__REGION__EU868, -1);
			check_window(&msg, false, powe);
			if (msg.has_rx2) {
				check_window(&msg, true, powe);
			}
		}
		rl_fuzz_reset_ring(&F);
		packets_add_downlink(&F.rl, &F.gw, &msg);
		rl_fuzz_check_packets(&F);
		break;
	case ROUTER_MSG_PACKET_ACK:
		FUZZ_CHECK(msg.payload_hash_len <= RL_HASH_MAX);
		break;
	case ROUTER_MSG_EMPTY:
		break;
	}
	return 0;
}
