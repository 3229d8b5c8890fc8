/* What the routerlink targets share: a fixed gateway key, a routerlink
 * context with one gateway (for the recent-packets ring), and the checks
 * the Helium router itself would make of what routerlink signs. */
#ifndef LF_FUZZ_RL_CHECKS_H
#define LF_FUZZ_RL_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon_internal.h"
#include "keys.h"
#include "packet_router.pb-c.h"

#define RL_FUZZ_EUI 0xb827ebfffe6a3c10ULL
/* stream.c's ENVELOPE_MAX: the buffer every envelope is encoded into. */
#define RL_FUZZ_ENVELOPE_MAX 1024

struct rl_fuzz {
	struct gateway_key key; /* from a fixed seed: runs are reproducible */
	uint8_t key_bin[RL_KEY_BIN_LEN];
	struct routerlink_config cfg;
	struct routerlink rl;
	struct rl_gateway gw; /* RL_FUZZ_EUI, its ring emptied per input */
};

void rl_fuzz_init(struct rl_fuzz *f);
/* Empties the gateway's packet ring, so that each input starts alike. */
void rl_fuzz_reset_ring(struct rl_fuzz *f);
/* The packets query's JSON for the gateway is a readable object. */
void rl_fuzz_check_packets(struct rl_fuzz *f);

/* An envelope_up_v1 routerlink wrote: it unpacks, holds `data_case`,
 * and its inner message's signature verifies with pk over the message
 * packed without it (what the router checks). Returns the unpacked
 * envelope (free with helium__packet_router__envelope_up_v1__free_unpacked). */
Helium__PacketRouter__EnvelopeUpV1 *rl_fuzz_check_envelope(const uint8_t *buf, size_t len,
                                                           int data_case, const uint8_t pk[32]);

#endif
