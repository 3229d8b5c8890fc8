/*
 * PUSH_DATA JSON -> MQTT payloads, no I/O.
 *
 * Each rxpk becomes `{"mac":"<mac>","received_at":"<rfc3339>","rxpk":{...}}`
 * and a stat becomes `{"mac":...,"received_at":...,"stat":{...}}`, where
 * the inner object is the forwarder's own text with insignificant
 * whitespace removed: every field verbatim, unknown ones included, numbers
 * exactly as the gateway wrote them.
 *
 * Checks, each counted by reason in struct uplink_result:
 *  - the body must be a JSON object (else the whole datagram is rejected);
 *  - "rxpk", when present, must be an array; each element must be an
 *    object whose known fields have the right types (time string, tmms/
 *    tmst/freq/chan/rfch/stat/rssi/lsnr/size numbers, modu/codr/data
 *    strings, datr string or number, rsig array) and that has "data";
 *    a bad element is skipped, the others are still published;
 *  - "stat" (CRC status) other than 1 drops the frame unless
 *    forward_crc_bad; 0 (no CRC) and missing count as not bad;
 *  - "stat" (the object), when present, must be an object.
 */
#ifndef BRIDGE_UPLINK_H
#define BRIDGE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>

enum uplink_kind {
	UPLINK_RXPK,
	UPLINK_STAT,
};

/* payload is NUL-terminated and valid only during the call. */
typedef void (*uplink_emit_fn)(void *arg, enum uplink_kind kind, const char *payload, size_t len);

struct uplink_result {
	unsigned rxpk_published;
	unsigned rxpk_crc_bad; /* dropped (or published when forward_crc_bad) */
	unsigned rxpk_invalid; /* not an object, wrong field types, no data */
	unsigned stat_published;
	unsigned stat_invalid;
	bool rxpk_not_array;
};

/*
 * Returns 0, or -1 when the body is not a JSON object (err says why:
 * "invalid JSON at offset N", "body is an array, expected an object").
 * On 0, err may still describe the first rejected part, for the log.
 */
int uplink_map(const char *json, size_t len, const char *mac, const char *received_at,
               bool forward_crc_bad, uplink_emit_fn emit, void *arg, struct uplink_result *res,
               char *err, size_t errlen);

#endif
