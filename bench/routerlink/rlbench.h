/*
 * lorafleet-bench-routerlink: the routerlink benchmark (bench/README.md).
 *
 * Every uplink the bench publishes on lorawan/<mac>/up is a LoRaWAN
 * unconfirmed data-up frame whose FRMPayload (bytes 9..24) carries the
 * run-wide sequence number and the CLOCK_MONOTONIC time of the publish, two
 * little-endian uint64. routerlink signs the frame into a packet_up; the
 * fake router (tests/fakes/router/server.js --bench) keeps, per packet, those
 * 16 bytes plus its own CLOCK_MONOTONIC receive time, and hands the records
 * over on its control socket. Latency is receive minus publish time (one
 * host, one system-wide clock); the seq says which phase a packet belongs
 * to and whether it was seen before.
 */
#ifndef BENCH_RLBENCH_H
#define BENCH_RLBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Gateway i has EUI RLB_EUI_BASE + i (not the bridge bench's range). */
#define RLB_EUI_BASE 0xbe0d000000000000ULL

/* The frame: MHDR, DevAddr, FCtrl, FCnt, FPort, FRMPayload (seq, sent ns), MIC. */
#define RLB_FRAME_SEQ_OFFSET 9
#define RLB_FRAME_LEN        29

void rlb_mac(size_t gw, char out[17]);
/* The frame for seq of gateway gw, stamped sent_ns. */
void rlb_frame(uint8_t out[RLB_FRAME_LEN], size_t gw, uint64_t seq, int64_t sent_ns);

/*
 * The publisher (rl_pub.c): MQTT 3.1.1 over one TCP connection, QoS 1,
 * batched writes, an inflight window. Calls write what they publish
 * before they return.
 */
struct rlb_pub;

struct rlb_pub *rlb_pub_new(const char *host, int port, size_t gateways, int inflight);
void rlb_pub_free(struct rlb_pub *p);
/* Retained {"online":true} on lorawan/<mac>/state for gateways [first, first + n). */
int rlb_pub_online(struct rlb_pub *p, size_t first, size_t n);
/* Uplinks seq first.., of gateway seq % gateways, stamped now. */
int rlb_pub_uplinks(struct rlb_pub *p, uint64_t first, size_t n);
/* Publishes the broker has not acknowledged yet. */
uint64_t rlb_pub_unacked(struct rlb_pub *p);
/* One up message as published (for the report), into out. */
size_t rlb_pub_sample(struct rlb_pub *p, char *out, size_t outlen);

/*
 * The fake router's control socket (one JSON command per line).
 */
struct rlb_router;

struct rlb_router_stats {
	uint64_t streams_live, registers_verified, session_inits_accepted;
	uint64_t packets, packets_verified, packets_unverified;
	uint64_t verify_failures, protocol_errors, nonce_mismatches;
};

struct rlb_router *rlb_router_open(const char *control_path);
void rlb_router_close(struct rlb_router *r);
int rlb_router_stats(struct rlb_router *r, struct rlb_router_stats *out);
/*
 * Takes the records kept since the last take (through file) and calls fn
 * for each; returns their number or -1.
 */
typedef void (*rlb_record_fn)(void *arg, uint64_t seq, int64_t sent_ns, int64_t recv_ns);
long rlb_router_take(struct rlb_router *r, const char *file, rlb_record_fn fn, void *arg);

/*
 * Asks the fake router to send a downlink (rx1 only, at tmst) on the
 * gateway's stream. 0 when sent, 1 when the router refused (its reason in
 * refusal, e.g. no live stream holds the key), -1 on a control failure.
 */
int rlb_router_downlink(struct rlb_router *r, const char *gateway_hex, const char *payload_b64,
                        uint32_t tmst, uint32_t freq_hz, const char *datr, char *refusal,
                        size_t refusal_len);

/*
 * The ceiling: libsodium's Ed25519 signing rate on this machine, one
 * thread, over the canonical packet_up bytes routerlink signs for a bench
 * uplink, for about seconds s.
 */
struct sign_ceiling {
	size_t signed_len;   /* bytes signed per uplink */
	double sign_per_s;   /* crypto_sign_detached alone */
	double encode_per_s; /* routerlink's packet_up_encode: pack + sign + pack */
};

int sign_ceiling_measure(double seconds, struct sign_ceiling *out);

#endif
