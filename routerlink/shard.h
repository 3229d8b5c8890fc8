/*
 * Splitting a fleet's gateways over several routerlink instances
 * (`[routerlink] shard = i/n`): instance i of n serves the gateways whose
 * shard hash modulo n is i, so every gateway has exactly one owner
 * without any coordination, and the split survives restarts and reorders.
 */
#ifndef ROUTERLINK_SHARD_H
#define ROUTERLINK_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_COUNT_MAX 1024

struct shard {
	unsigned index, count; /* 0 <= index < count */
};

/* "i/n" (0-based i) -> 0, or -1 with a reason in err. */
int shard_parse(const char *text, struct shard *out, char *err, size_t errlen);

/*
 * The hash that places a gateway: 64-bit FNV-1a over the EUI's 8 bytes,
 * most significant first. Stable by definition (operators may compute it
 * to know which instance serves a gateway); FNV-1a rather than the EUI
 * itself because fleets number their gateways sequentially.
 */
uint64_t shard_hash(uint64_t eui);

static inline bool
shard_owns(const struct shard *s, uint64_t eui)
{
	return s->count <= 1 || shard_hash(eui) % s->count == s->index;
}

#endif
