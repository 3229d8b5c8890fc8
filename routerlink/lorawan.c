/* LoRaWAN PHYPayload header parsing (frame type, DevAddr, FCnt, FPort). */
#include <stdio.h>
#include <string.h>

#include "lorawan.h"

/* MHDR(1) DevAddr(4) FCtrl(1) FCnt(2) ... MIC(4). */
#define DATA_MIN_LEN 12
#define MIC_LEN      4

static const char *const ftype_names[] = {
        [LORAWAN_JOIN_REQUEST] = "JoinRequest",
        [LORAWAN_JOIN_ACCEPT] = "JoinAccept",
        [LORAWAN_UNCONFIRMED_UP] = "UnconfirmedUp",
        [LORAWAN_UNCONFIRMED_DOWN] = "UnconfirmedDown",
        [LORAWAN_CONFIRMED_UP] = "ConfirmedUp",
        [LORAWAN_CONFIRMED_DOWN] = "ConfirmedDown",
        [LORAWAN_REJOIN_REQUEST] = "RejoinRequest",
        [LORAWAN_PROPRIETARY] = "Proprietary",
        [LORAWAN_UNKNOWN] = "Unknown",
};

const char *
lorawan_ftype_name(enum lorawan_ftype type)
{
	if ((unsigned)type > LORAWAN_UNKNOWN) {
		return ftype_names[LORAWAN_UNKNOWN];
	}
	return ftype_names[type];
}

static bool
is_data(enum lorawan_ftype t)
{
	return t >= LORAWAN_UNCONFIRMED_UP && t <= LORAWAN_CONFIRMED_DOWN;
}

/* The smallest frame of each non-data type that could be genuine. */
static size_t
min_len(enum lorawan_ftype t)
{
	switch (t) {
	case LORAWAN_JOIN_REQUEST:
		return 23;
	case LORAWAN_JOIN_ACCEPT:
		return 17;
	case LORAWAN_REJOIN_REQUEST:
		return 19;
	default:
		return 1;
	}
}

static void
parse_data(const uint8_t *phy, size_t len, struct lorawan_frame *out)
{
	size_t fopts_len = phy[5] & 0x0f;
	if (len < DATA_MIN_LEN + fopts_len) {
		out->type = LORAWAN_UNKNOWN;
		return;
	}
	out->has_dev_addr = true;
	out->dev_addr = (uint32_t)phy[1] | (uint32_t)phy[2] << 8 | (uint32_t)phy[3] << 16 |
	                (uint32_t)phy[4] << 24;
	out->has_fcnt = true;
	out->fcnt = (uint16_t)(phy[6] | phy[7] << 8);
	/* FPort exists only when something follows the header before the MIC. */
	size_t fport_at = 8 + fopts_len;
	if (len > fport_at + MIC_LEN) {
		out->has_fport = true;
		out->fport = phy[fport_at];
	}
}

void
lorawan_parse(const uint8_t *phy, size_t len, struct lorawan_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->type = LORAWAN_UNKNOWN;
	if (phy == NULL || len < 1) {
		return;
	}
	enum lorawan_ftype t = (enum lorawan_ftype)(phy[0] >> 5);
	if (is_data(t)) {
		/* FCtrl must be readable before FOptsLen can be trusted. */
		if (len < DATA_MIN_LEN) {
			return;
		}
		out->type = t;
		parse_data(phy, len, out);
		return;
	}
	if (len >= min_len(t)) {
		out->type = t;
	}
}

void
lorawan_dev_addr_format(uint32_t dev_addr, char out[LORAWAN_DEVADDR_STRLEN])
{
	snprintf(out, LORAWAN_DEVADDR_STRLEN, "%08X", (unsigned)dev_addr);
}

bool
lorawan_is_uplink_for_router(const uint8_t *phy, size_t len)
{
	struct lorawan_frame f;
	lorawan_parse(phy, len, &f);
	return f.type == LORAWAN_JOIN_REQUEST || f.type == LORAWAN_UNCONFIRMED_UP ||
	       f.type == LORAWAN_CONFIRMED_UP;
}
