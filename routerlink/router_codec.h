/*
 * Helium packet-router messages: signed envelope_up_v1 encoders and an
 * envelope_down_v1 decoder into a plain struct. No I/O.
 */
#ifndef RL_ROUTER_CODEC_H
#define RL_ROUTER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_rate.pb-c.h"
#include "region.pb-c.h"

#include "uplink_codec.h"

/* Helium key binary: tag byte (0x01 = mainnet ed25519) || 32-byte public key. */
#define RL_KEY_BIN_LEN 33
/* libsodium's ed25519 secret key: 32-byte seed || 32-byte public key. */
#define RL_SECRET_KEY_LEN   64
#define RL_NONCE_MAX        64
#define RL_DOWN_PAYLOAD_MAX 255
#define RL_HASH_MAX         32

/*
 * Each encoder builds the inner message with its signature unset, packs it
 * (the canonical proto3 encoding the router re-creates to verify), signs
 * those bytes, sets the signature and packs the envelope_up_v1 into out.
 * They return the envelope's length, or 0 when out is too small or an
 * argument is invalid (for register and session_init: a secret key whose
 * public half is not gateway_bin's).
 */
size_t register_encode(uint64_t timestamp_ms, const uint8_t gateway_bin[RL_KEY_BIN_LEN],
                       const uint8_t gateway_sk[RL_SECRET_KEY_LEN], uint8_t *out, size_t outlen);

/* Answers a session_offer; signed by the GATEWAY key. nonce_len 1..RL_NONCE_MAX. */
size_t session_init_encode(const uint8_t gateway_bin[RL_KEY_BIN_LEN], const uint8_t *nonce,
                           size_t nonce_len, const uint8_t session_bin[RL_KEY_BIN_LEN],
                           const uint8_t gateway_sk[RL_SECRET_KEY_LEN], uint8_t *out,
                           size_t outlen);

/*
 * `gateway` is always the gateway key's binary; signer_sk is the session
 * key once a session exists. region must not be UNKNOWN.
 */
size_t packet_up_encode(const struct uplink *up, Helium__Region region, uint64_t hold_time_ms,
                        const uint8_t gateway_bin[RL_KEY_BIN_LEN],
                        const uint8_t signer_sk[RL_SECRET_KEY_LEN], uint8_t *out, size_t outlen);

enum router_msg_kind {
	ROUTER_MSG_EMPTY,         /* no oneof member: the router ends the stream */
	ROUTER_MSG_PACKET,        /* a downlink */
	ROUTER_MSG_SESSION_OFFER, /* answer with session_init */
	ROUTER_MSG_PACKET_ACK,
};

struct router_window {
	uint64_t timestamp; /* concentrator µs */
	uint32_t frequency; /* Hz */
	Helium__DataRate datarate;
	bool immediate;
};

struct router_msg {
	enum router_msg_kind kind;
	/* PACKET */
	uint8_t payload[RL_DOWN_PAYLOAD_MAX];
	size_t payload_len;
	struct router_window rx1;
	bool has_rx2;
	struct router_window rx2;
	/* SESSION_OFFER */
	uint8_t nonce[RL_NONCE_MAX];
	size_t nonce_len;
	/* PACKET_ACK: SHA-256 of the last payload seen, or empty */
	uint8_t payload_hash[RL_HASH_MAX];
	size_t payload_hash_len;
};

/*
 * Decodes one envelope_down_v1. Returns 0, or -1 when it is malformed or
 * oversized: a packet without rx1 or payload, a payload > 255 bytes, a
 * window data rate outside helium.data_rate, an empty or > 64-byte nonce,
 * an ack hash > 32 bytes.
 */
int envelope_down_decode(const uint8_t *buf, size_t len, struct router_msg *out);

#endif
