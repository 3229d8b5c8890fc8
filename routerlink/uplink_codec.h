/* `lorawan/<mac>/up` MQTT payloads -> what a Helium packet_up needs. */
#ifndef RL_UPLINK_CODEC_H
#define RL_UPLINK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "data_rate.pb-c.h"

#include "lorawan.h"

#define UPLINK_PAYLOAD_MAX 255

/* Why an `up` message is not forwarded; names are metric label values. */
enum uplink_drop {
	UPLINK_OK = 0,
	UPLINK_DROP_INVALID_JSON,
	UPLINK_DROP_NO_RXPK,
	UPLINK_DROP_BAD_MAC,
	UPLINK_DROP_CRC_NOT_OK,
	UPLINK_DROP_NOT_LORA,
	UPLINK_DROP_BAD_DATARATE,
	UPLINK_DROP_BAD_DATA,
	UPLINK_DROP_NOT_UPLINK,
	UPLINK_DROP_MISSING_FIELD,
	UPLINK_DROP_BAD_FIELD,
	UPLINK_DROP_COUNT,
};

struct uplink {
	uint64_t eui;
	uint8_t payload[UPLINK_PAYLOAD_MAX];
	size_t payload_len;
	uint32_t tmst;      /* concentrator µs counter */
	int32_t rssi;       /* dBm */
	float snr;          /* dB */
	uint32_t frequency; /* Hz */
	Helium__DataRate datarate;
	int64_t received_at_ms; /* unix ms, from the bridge's received_at */
	struct lorawan_frame frame;
};

/* "invalid_json", "no_rxpk", ...; "ok" for UPLINK_OK, "unknown" out of range. */
const char *uplink_drop_name(enum uplink_drop reason);

/*
 * Parses one `up` payload received on the topic of gateway `topic_eui`.
 * Returns UPLINK_OK with *out filled, or the drop reason with a human
 * reason in err (when not NULL).
 */
enum uplink_drop rl_uplink_decode(const char *json, size_t len, uint64_t topic_eui,
                                  struct uplink *out, char *err, size_t errlen);

/* "SF7BW125" -> HELIUM__DATA_RATE__SF7BW125 (LoRa SF7..12, BW125/250/500 only). 0 or -1. */
int rl_datarate_parse(const char *datr, Helium__DataRate *out);

/* RFC 3339 UTC ("2026-11-21T10:00:00.123456Z") -> unix ms. 0 or -1. */
int rl_rfc3339_to_ms(const char *text, int64_t *out_ms);

#endif
