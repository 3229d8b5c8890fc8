/* Signed envelope_up_v1 encoding and envelope_down_v1 decoding (protobuf-c). */
#include <string.h>

#include <sodium.h>

#include "packet_router.pb-c.h"

#include "region.h"
#include "router_codec.h"

#define SIG_LEN 64
/* The largest inner message is a packet_up: 255 payload + 33 key + 64
 * signature + fixed fields (< 60 bytes); anything bigger is a bug. */
#define INNER_MAX     512
#define DATA_RATE_MAX HELIUM__DATA_RATE__FSK50

/* The secret key's second half is its public key; a mismatch means the
 * router would reject the signature, so refuse early. */
static bool
key_matches(const uint8_t bin[RL_KEY_BIN_LEN], const uint8_t sk[RL_SECRET_KEY_LEN])
{
	return memcmp(bin + 1, sk + 32, 32) == 0;
}

/*
 * Packs `inner` with its signature field empty, signs those bytes, sets the
 * signature and packs `env` (which points at inner) into out.
 */
static size_t
sign_and_pack(ProtobufCMessage *inner, ProtobufCBinaryData *sig_field,
              const uint8_t sk[RL_SECRET_KEY_LEN], Helium__PacketRouter__EnvelopeUpV1 *env,
              uint8_t *out, size_t outlen)
{
	uint8_t buf[INNER_MAX];
	uint8_t sig[SIG_LEN];
	*sig_field = (ProtobufCBinaryData){0, NULL};
	size_t n = protobuf_c_message_get_packed_size(inner);
	if (n > sizeof(buf)) {
		return 0;
	}
	protobuf_c_message_pack(inner, buf);
	if (crypto_sign_detached(sig, NULL, buf, n, sk) != 0) {
		return 0;
	}
	*sig_field = (ProtobufCBinaryData){SIG_LEN, sig};
	size_t total = helium__packet_router__envelope_up_v1__get_packed_size(env);
	size_t written = 0;
	if (out != NULL && total <= outlen) {
		written = helium__packet_router__envelope_up_v1__pack(env, out);
	}
	/* sig lives on this frame; leave no pointer to it behind. */
	*sig_field = (ProtobufCBinaryData){0, NULL};
	return written;
}

size_t
register_encode(uint64_t timestamp_ms, const uint8_t gateway_bin[RL_KEY_BIN_LEN],
                const uint8_t gateway_sk[RL_SECRET_KEY_LEN], uint8_t *out, size_t outlen)
{
	if (gateway_bin == NULL || gateway_sk == NULL || !key_matches(gateway_bin, gateway_sk)) {
		return 0;
	}
	Helium__PacketRouter__PacketRouterRegisterV1 reg =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_REGISTER_V1__INIT;
	reg.timestamp = timestamp_ms;
	reg.gateway = (ProtobufCBinaryData){RL_KEY_BIN_LEN, (uint8_t *)gateway_bin};
	reg.session_capable = 1;
	reg.packet_ack_interval = 0;
	Helium__PacketRouter__EnvelopeUpV1 env = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__INIT;
	env.data_case = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_REGISTER;
	env.register_ = &reg;
	return sign_and_pack(&reg.base, &reg.signature, gateway_sk, &env, out, outlen);
}

size_t
session_init_encode(const uint8_t gateway_bin[RL_KEY_BIN_LEN], const uint8_t *nonce,
                    size_t nonce_len, const uint8_t session_bin[RL_KEY_BIN_LEN],
                    const uint8_t gateway_sk[RL_SECRET_KEY_LEN], uint8_t *out, size_t outlen)
{
	if (gateway_bin == NULL || session_bin == NULL || gateway_sk == NULL || nonce == NULL ||
	    nonce_len == 0 || nonce_len > RL_NONCE_MAX || !key_matches(gateway_bin, gateway_sk)) {
		return 0;
	}
	Helium__PacketRouter__PacketRouterSessionInitV1 init =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_SESSION_INIT_V1__INIT;
	init.gateway = (ProtobufCBinaryData){RL_KEY_BIN_LEN, (uint8_t *)gateway_bin};
	init.nonce = (ProtobufCBinaryData){nonce_len, (uint8_t *)nonce};
	init.session_key = (ProtobufCBinaryData){RL_KEY_BIN_LEN, (uint8_t *)session_bin};
	Helium__PacketRouter__EnvelopeUpV1 env = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__INIT;
	env.data_case = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_SESSION_INIT;
	env.session_init = &init;
	return sign_and_pack(&init.base, &init.signature, gateway_sk, &env, out, outlen);
}

size_t
packet_up_encode(const struct uplink *up, Helium__Region region, uint64_t hold_time_ms,
                 const uint8_t gateway_bin[RL_KEY_BIN_LEN],
                 const uint8_t signer_sk[RL_SECRET_KEY_LEN], uint8_t *out, size_t outlen)
{
	if (up == NULL || gateway_bin == NULL || signer_sk == NULL || up->payload_len == 0 ||
	    up->payload_len > UPLINK_PAYLOAD_MAX || region_name(region) == NULL ||
	    (unsigned)up->datarate > DATA_RATE_MAX) {
		return 0;
	}
	Helium__PacketRouter__PacketRouterPacketUpV1 pkt =
	        HELIUM__PACKET_ROUTER__PACKET_ROUTER_PACKET_UP_V1__INIT;
	pkt.payload = (ProtobufCBinaryData){up->payload_len, (uint8_t *)up->payload};
	pkt.timestamp = up->tmst;
	pkt.rssi = up->rssi;
	pkt.frequency = up->frequency;
	pkt.datarate = up->datarate;
	/* -0.0 would be written by protobuf-c but not by the router's
	 * re-encoding, so the signature would not verify. */
	pkt.snr = up->snr == 0.0f ? 0.0f : up->snr;
	pkt.region = region;
	pkt.hold_time = hold_time_ms;
	pkt.gateway = (ProtobufCBinaryData){RL_KEY_BIN_LEN, (uint8_t *)gateway_bin};
	Helium__PacketRouter__EnvelopeUpV1 env = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__INIT;
	env.data_case = HELIUM__PACKET_ROUTER__ENVELOPE_UP_V1__DATA_PACKET;
	env.packet = &pkt;
	return sign_and_pack(&pkt.base, &pkt.signature, signer_sk, &env, out, outlen);
}

static int
copy_window(const Helium__PacketRouter__WindowV1 *w, struct router_window *out)
{
	if ((unsigned)w->datarate > DATA_RATE_MAX) {
		return -1;
	}
	out->timestamp = w->timestamp;
	out->frequency = w->frequency;
	out->datarate = w->datarate;
	out->immediate = w->immediate != 0;
	return 0;
}

static int
copy_packet(const Helium__PacketRouter__PacketRouterPacketDownV1 *p, struct router_msg *out)
{
	if (p == NULL || p->rx1 == NULL || p->payload.len == 0 ||
	    p->payload.len > RL_DOWN_PAYLOAD_MAX) {
		return -1;
	}
	memcpy(out->payload, p->payload.data, p->payload.len);
	out->payload_len = p->payload.len;
	if (copy_window(p->rx1, &out->rx1) < 0) {
		return -1;
	}
	if (p->rx2 != NULL) {
		out->has_rx2 = true;
		return copy_window(p->rx2, &out->rx2);
	}
	return 0;
}

static int
copy_bytes(const ProtobufCBinaryData *b, size_t min, size_t max, uint8_t *dst, size_t *dst_len)
{
	if (b->len < min || b->len > max) {
		return -1;
	}
	if (b->len > 0) {
		memcpy(dst, b->data, b->len);
	}
	*dst_len = b->len;
	return 0;
}

static int
copy_envelope(const Helium__PacketRouter__EnvelopeDownV1 *env, struct router_msg *out)
{
	switch (env->data_case) {
	case HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA__NOT_SET:
		out->kind = ROUTER_MSG_EMPTY;
		return 0;
	case HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA_PACKET:
		out->kind = ROUTER_MSG_PACKET;
		return copy_packet(env->packet, out);
	case HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA_SESSION_OFFER:
		out->kind = ROUTER_MSG_SESSION_OFFER;
		return env->session_offer == NULL
		               ? -1
		               : copy_bytes(&env->session_offer->nonce, 1, RL_NONCE_MAX, out->nonce,
		                            &out->nonce_len);
	case HELIUM__PACKET_ROUTER__ENVELOPE_DOWN_V1__DATA_PACKET_ACK:
		out->kind = ROUTER_MSG_PACKET_ACK;
		return env->packet_ack == NULL
		               ? -1
		               : copy_bytes(&env->packet_ack->payload_hash, 0, RL_HASH_MAX,
		                            out->payload_hash, &out->payload_hash_len);
	default:
		return -1;
	}
}

int
envelope_down_decode(const uint8_t *buf, size_t len, struct router_msg *out)
{
	if (out == NULL) {
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (buf == NULL && len > 0) {
		return -1;
	}
	Helium__PacketRouter__EnvelopeDownV1 *env =
	        helium__packet_router__envelope_down_v1__unpack(NULL, len, buf);
	if (env == NULL) {
		return -1;
	}
	int rc = copy_envelope(env, out);
	helium__packet_router__envelope_down_v1__free_unpacked(env, NULL);
	if (rc < 0) {
		/* Leave nothing half-copied that a caller might act on. */
		memset(out, 0, sizeof(*out));
	}
	return rc;
}
