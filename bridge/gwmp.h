/*
 * The Semtech UDP packet-forwarder protocol (GWMP), versions 1 and 2:
 * the wire codec only, no I/O. See docs/architecture.md.
 *
 *   byte 0     version (1 or 2)
 *   bytes 1-2  token (opaque; echoed by the peer)
 *   byte 3     identifier (enum gwmp_type)
 *   bytes 4-11 gateway EUI, big-endian (gateway -> server only)
 *   then JSON  (PUSH_DATA, TX_ACK; PULL_RESP right after byte 3)
 */
#ifndef BRIDGE_GWMP_H
#define BRIDGE_GWMP_H

#include <stddef.h>
#include <stdint.h>

#define GWMP_MAX_DATAGRAM       65507 /* largest UDP payload */
#define GWMP_ACK_LEN            4
#define GWMP_GATEWAY_HEADER_LEN 12

enum gwmp_type {
	GWMP_PUSH_DATA = 0x00,
	GWMP_PUSH_ACK = 0x01,
	GWMP_PULL_DATA = 0x02,
	GWMP_PULL_RESP = 0x03,
	GWMP_PULL_ACK = 0x04,
	GWMP_TX_ACK = 0x05,
};

enum gwmp_error {
	GWMP_OK = 0,
	GWMP_ERR_EMPTY,           /* zero bytes */
	GWMP_ERR_SHORT,           /* shorter than the header its type needs */
	GWMP_ERR_VERSION,         /* version byte not 1 or 2 */
	GWMP_ERR_UNKNOWN_TYPE,    /* identifier > 5 */
	GWMP_ERR_WRONG_DIRECTION, /* PUSH_ACK or PULL_RESP sent to the server */
	GWMP_ERR_V1_TX_ACK,       /* TX_ACK does not exist in version 1 */
};

/* A datagram from a gateway; body points into the caller's buffer. */
struct gwmp_packet {
	uint8_t version;
	uint8_t token[2];
	uint8_t type;
	uint64_t eui;
	const uint8_t *body; /* after the 12-byte header; may be NULL when body_len is 0 */
	size_t body_len;
};

/*
 * Parses a datagram sent by a gateway: PUSH_DATA, PULL_DATA or TX_ACK,
 * and PULL_ACK of at least 12 bytes, which some forwarders (Pycom) send by
 * mistake in place of TX_ACK; the caller decides what to do with it.
 * Bytes after a PULL_DATA header are ignored. Returns enum gwmp_error.
 */
int gwmp_parse(const uint8_t *buf, size_t len, struct gwmp_packet *out);

/* "short datagram" etc., for log lines; also the metrics label. */
const char *gwmp_error_name(int err);
/* "push_data", "pull_data", ... (metrics labels); "unknown" otherwise. */
const char *gwmp_type_name(int type);

/* PUSH_ACK / PULL_ACK: version and token echoed. Writes 4 bytes. */
size_t gwmp_build_ack(uint8_t out[GWMP_ACK_LEN], uint8_t version, const uint8_t token[2],
                      uint8_t type);

/*
 * PULL_RESP: header then json (not NUL-terminated on the wire). Version 1
 * sends zero token bytes, as the v1 spec says. Returns the datagram length,
 * or 0 when outlen is too small.
 */
size_t gwmp_build_pull_resp(uint8_t *out, size_t outlen, uint8_t version, const uint8_t token[2],
                            const char *json, size_t json_len);

#endif
