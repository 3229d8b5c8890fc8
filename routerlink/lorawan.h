/* The few LoRaWAN PHYPayload facts the router link needs, bounds-checked. */
#ifndef RL_LORAWAN_H
#define RL_LORAWAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In MHDR MType order (0..7), so the wire value converts directly. */
enum lorawan_ftype {
	LORAWAN_JOIN_REQUEST,
	LORAWAN_JOIN_ACCEPT,
	LORAWAN_UNCONFIRMED_UP,
	LORAWAN_UNCONFIRMED_DOWN,
	LORAWAN_CONFIRMED_UP,
	LORAWAN_CONFIRMED_DOWN,
	LORAWAN_REJOIN_REQUEST,
	LORAWAN_PROPRIETARY,
	LORAWAN_UNKNOWN,
};

/* "DevAddr" as 8 hex digits, MSB first, and a NUL. */
#define LORAWAN_DEVADDR_STRLEN 9

struct lorawan_frame {
	enum lorawan_ftype type;
	/* Data frames only. */
	bool has_dev_addr;
	uint32_t dev_addr;
	bool has_fcnt;
	uint16_t fcnt; /* the 16 bits on the wire */
	bool has_fport;
	uint8_t fport;
};

/*
 * Reads MHDR and, for data frames, FHDR and FPort. A frame shorter than its
 * type's minimum (data 12 + FOptsLen, join-request 23, join-accept 17,
 * rejoin 19, anything 1) is LORAWAN_UNKNOWN with no fields.
 */
void lorawan_parse(const uint8_t *phy, size_t len, struct lorawan_frame *out);

/* The names multi-gateway uses: "JoinRequest", "UnconfirmedUp", ..., "Unknown". */
const char *lorawan_ftype_name(enum lorawan_ftype type);

void lorawan_dev_addr_format(uint32_t dev_addr, char out[LORAWAN_DEVADDR_STRLEN]);

/* What the packet router accepts: join-request, unconfirmed or confirmed data up. */
bool lorawan_is_uplink_for_router(const uint8_t *phy, size_t len);

#endif
