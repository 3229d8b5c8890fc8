#include "gwmp.h"

#include <stdbool.h>
#include <string.h>

#include "lf/eui.h"

/* Fills what the first 4 bytes say, so that even a refused datagram can
 * be logged with its version, token and type. */
static void
parse_prefix(const uint8_t *buf, struct gwmp_packet *out)
{
	out->version = buf[0];
	out->token[0] = buf[1];
	out->token[1] = buf[2];
	out->type = buf[3];
}

/* The types a gateway sends carry its EUI in bytes 4-11, then the body. */
static int
parse_gateway_header(const uint8_t *buf, size_t len, struct gwmp_packet *out, bool keep_body)
{
	if (len < GWMP_GATEWAY_HEADER_LEN) {
		return GWMP_ERR_SHORT;
	}
	out->eui = lf_eui_from_bytes(buf + 4);
	if (keep_body && len > GWMP_GATEWAY_HEADER_LEN) {
		out->body = buf + GWMP_GATEWAY_HEADER_LEN;
		out->body_len = len - GWMP_GATEWAY_HEADER_LEN;
	}
	return GWMP_OK;
}

int
gwmp_parse(const uint8_t *buf, size_t len, struct gwmp_packet *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || buf == NULL) {
		return GWMP_ERR_EMPTY;
	}
	if (len < GWMP_ACK_LEN) {
		return GWMP_ERR_SHORT;
	}
	parse_prefix(buf, out);
	if (out->version != 1 && out->version != 2) {
		return GWMP_ERR_VERSION;
	}
	switch (out->type) {
	case GWMP_PUSH_DATA:
		return parse_gateway_header(buf, len, out, true);
	case GWMP_PULL_DATA:
		/* The reference sends exactly 12 bytes; anything after is noise. */
		return parse_gateway_header(buf, len, out, false);
	case GWMP_TX_ACK:
		/* Checked before the length: the type itself is wrong in v1. */
		if (out->version == 1) {
			return GWMP_ERR_V1_TX_ACK;
		}
		return parse_gateway_header(buf, len, out, true);
	case GWMP_PULL_ACK:
		/* A real PULL_ACK (4 bytes) only travels server -> gateway; a long
		 * one is a gateway's TX_ACK under the wrong identifier (Pycom). */
		if (len < GWMP_GATEWAY_HEADER_LEN) {
			return GWMP_ERR_WRONG_DIRECTION;
		}
		return parse_gateway_header(buf, len, out, true);
	case GWMP_PUSH_ACK:
	case GWMP_PULL_RESP:
		return GWMP_ERR_WRONG_DIRECTION;
	default:
		return GWMP_ERR_UNKNOWN_TYPE;
	}
}

const char *
gwmp_error_name(int err)
{
	switch (err) {
	case GWMP_OK:
		return "ok";
	case GWMP_ERR_EMPTY:
		return "empty";
	case GWMP_ERR_SHORT:
		return "short";
	case GWMP_ERR_VERSION:
		return "bad_version";
	case GWMP_ERR_UNKNOWN_TYPE:
		return "unknown_type";
	case GWMP_ERR_WRONG_DIRECTION:
		return "wrong_direction";
	case GWMP_ERR_V1_TX_ACK:
		return "v1_tx_ack";
	default:
		return "unknown";
	}
}

const char *
gwmp_type_name(int type)
{
	switch (type) {
	case GWMP_PUSH_DATA:
		return "push_data";
	case GWMP_PUSH_ACK:
		return "push_ack";
	case GWMP_PULL_DATA:
		return "pull_data";
	case GWMP_PULL_RESP:
		return "pull_resp";
	case GWMP_PULL_ACK:
		return "pull_ack";
	case GWMP_TX_ACK:
		return "tx_ack";
	default:
		return "unknown";
	}
}

size_t
gwmp_build_ack(uint8_t out[GWMP_ACK_LEN], uint8_t version, const uint8_t token[2], uint8_t type)
{
	out[0] = version;
	out[1] = token[0];
	out[2] = token[1];
	out[3] = type;
	return GWMP_ACK_LEN;
}

size_t
gwmp_build_pull_resp(uint8_t *out, size_t outlen, uint8_t version, const uint8_t token[2],
                     const char *json, size_t json_len)
{
	if (json == NULL && json_len > 0) {
		return 0;
	}
	/* Larger than one UDP datagram can carry: refuse rather than truncate. */
	if (json_len > GWMP_MAX_DATAGRAM - GWMP_ACK_LEN || outlen < GWMP_ACK_LEN + json_len) {
		return 0;
	}
	out[0] = version;
	/* v1 has no TX_ACK, so nothing echoes the token: the spec says zero. */
	out[1] = version == 1 ? 0 : token[0];
	out[2] = version == 1 ? 0 : token[1];
	out[3] = GWMP_PULL_RESP;
	if (json_len > 0) {
		memcpy(out + GWMP_ACK_LEN, json, json_len);
	}
	return GWMP_ACK_LEN + json_len;
}
