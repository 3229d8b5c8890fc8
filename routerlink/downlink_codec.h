/* Router downlinks -> `lorawan/<mac>/down` payloads, and the bridge's acks back. */
#ifndef RL_DOWNLINK_CODEC_H
#define RL_DOWNLINK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router_codec.h"

/* Longest request id accepted, and a buffer that always fits a `down` payload
 * (255-byte payload, worst-case escaped id). */
#define RL_DOWN_ID_MAX   64
#define RL_DOWN_JSON_MAX 1024

/*
 * Writes `{"id":"<id>","txpk":{...}}` for one window of a router packet:
 * imme:true when immediate, else tmst = (uint32)timestamp; freq in MHz with
 * 6 decimals; rfch 0; powe = powe_dbm (region_tx_power()); LoRa datr;
 * codr "4/5"; ipol true; size; base64 data. Returns the length written
 * (out is NUL-terminated), or -1 with a reason in err: an LR-FHSS or FSK
 * window, a zero frequency, an empty or > 255-byte payload, an id longer
 * than RL_DOWN_ID_MAX, a negative power, or a too small buffer.
 */
int rl_downlink_build(const char *id, const struct router_window *w, const uint8_t *payload,
                      size_t payload_len, int powe_dbm, char *out, size_t outlen, char *err,
                      size_t errlen);

/*
 * The `down` payload for one window of a router packet (ROUTER_MSG_PACKET),
 * as routerlink sends it: rx1 as the router gave it; rx2 (after the
 * gateway's TOO_EARLY or TOO_LATE) scheduled by its own timestamp, never
 * immediate, with the id "<id>-rx2". Returns what rl_downlink_build()
 * returns; -1 also for rx2 of a packet that has none.
 */
int rl_downlink_window(const struct router_msg *msg, bool rx2, const char *id, int powe_dbm,
                       char *out, size_t outlen, char *err, size_t errlen);

/*
 * Reads a `lorawan/<mac>/ack` payload ({"mac","id","error",...}) into the
 * request id and the error ("NONE", "TOO_LATE", ...). Acks whose id is not a
 * string cannot answer one of our requests and are refused. Returns 0 or -1.
 */
int rl_ack_parse(const char *json, size_t len, char *id, size_t idlen, char *error, size_t errorlen,
                 char *err, size_t errlen);

/* TOO_EARLY and TOO_LATE: the rx1 slot was missed, so rx2 is worth a try. */
bool rl_ack_wants_rx2(const char *error);

#endif
