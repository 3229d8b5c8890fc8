/*
 * The gateways a bridge knows, by EUI: an open-addressing hash table of
 * small records. The registry stores; bridge.c decides.
 */
#ifndef BRIDGE_GATEWAYS_H
#define BRIDGE_GATEWAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "lf/eui.h"
#include "lf/u64map.h"

struct gateway {
	uint64_t eui;
	char mac[LF_EUI_STRLEN];
	uint8_t version; /* GWMP version of the latest PULL_DATA (else of any datagram) */
	bool online;
	bool has_pull_addr;
	uint8_t n_pending; /* downlinks awaiting TX_ACK */
	uint16_t owner;    /* another bridge's gateway: index of that bridge */
	socklen_t pull_addr_len;
	struct sockaddr_storage pull_addr; /* latest PULL_DATA source: where downlinks go */
	struct sockaddr_storage seen_addr; /* latest accepted datagram's source */
	int64_t last_pull_ms;              /* monotonic; first sight until the first PULL_DATA */
	struct timespec since;             /* wall clock of the latest online change */
	struct timespec last_seen;
};

/* The records, by EUI (lf_u64map owns the index, the table the records). */
struct gateway_table {
	struct lf_u64map map;
	size_t count;
};

void gateway_table_init(struct gateway_table *t);
void gateway_table_clear(struct gateway_table *t);

struct gateway *gateway_table_find(const struct gateway_table *t, uint64_t eui);
/* Adds a zeroed record for eui (which must not be present); NULL when out of memory. */
struct gateway *gateway_table_add(struct gateway_table *t, uint64_t eui);

/* Iteration: for (size_t i = 0; (gw = gateway_table_next(t, &i)) != NULL;) */
struct gateway *gateway_table_next(const struct gateway_table *t, size_t *cursor);

#endif
