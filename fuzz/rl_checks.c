#include "rl_checks.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "packet_router.pb-c.h"

void
rl_fuzz_init(struct rl_fuzz *f)
{
	memset(f, 0, sizeof(*f));
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0x5a, sizeof(seed));
	crypto_sign_seed_keypair(f->key.pk, f->key.sk, seed);
	f->key.tag = KEYS_TAG_ED25519_MAINNET;
	keys_public_bin(&f->key, f->key_bin);
	f->cfg.packets_ring = 4;
	f->rl.cfg = &f->cfg;
	f->gw.eui = RL_FUZZ_EUI;
	lf_eui_format(RL_FUZZ_EUI, f->gw.mac);
}

void
rl_fuzz_reset_ring(struct rl_fuzz *f)
{
	free(f->gw.ring);
	f->gw.ring = NULL;
	f->gw.ring_next = f->gw.ring_count = 0;
}

void
rl_fuzz_check_packets(struct rl_fuzz *f)
{
	char *text = packets_json(&f->rl, &f->gw);
	FUZZ_CHECK(text != NULL && fuzz_json_is_object(text, strlen(text)));
	free(text);
}

/* The inner message the envelope carries, and where its signature is. */
static ProtobufCMessage *
inner(Helium__PacketRouter__EnvelopeUpV1 *env, ProtobufCBinaryData **sig)
{
	switch (env->data_case) {
	case HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_PACKET:
		*sig = &env->packet->signature;
		return &env->packet->base;
	case HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_SESSION_INIT:
		*sig = &env->session_init->signature;
		return &env->session_init->base;
	case HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_REGISTER:
		*sig = &env->register_->signature;
		return &env->register_->base;
	default:
		return NULL;
	}
}

Helium__PacketRouter__EnvelopeUpV1 *
rl_fuzz_check_envelope(const uint8_t *buf, size_t len, int data_case, const uint8_t pk[32])
{
	Helium__PacketRouter__EnvelopeUpV1 *env =
	        helium__packet_router__envelope_up_v1__unpack(NULL, len, buf);
	FUZZ_CHECK(env != NULL && (int)env->data_case == data_case);
	ProtobufCBinaryData *sig = NULL;
	ProtobufCMessage *msg = inner(env, &sig);
	FUZZ_CHECK(msg != NULL && sig->len == crypto_sign_BYTES);
	uint8_t signature[crypto_sign_BYTES];
	memcpy(signature, sig->data, sizeof(signature));
	ProtobufCBinaryData saved = *sig;
	*sig = (ProtobufCBinaryData){0, NULL};
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *unsigned_bytes = malloc(n + 1);
	FUZZ_CHECK(unsigned_bytes != NULL);
	protobuf_c_message_pack(msg, unsigned_bytes);
	FUZZ_CHECK(crypto_sign_verify_detached(signature, unsigned_bytes, n, pk) == 0);
	free(unsigned_bytes);
	*sig = saved;
	return env;
}
