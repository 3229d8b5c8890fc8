/*
 * Downlink requests (MQTT `down`) -> PULL_RESP JSON, TX_ACK bodies, and
 * the `ack` payloads. No I/O.
 */
#ifndef BRIDGE_DOWNLINK_H
#define BRIDGE_DOWNLINK_H

#include <stdbool.h>
#include <stddef.h>

#define DOWNLINK_MAX_PAYLOAD 4096 /* bytes of a `down` message */
#define DOWNLINK_ID_MAX      256  /* bytes of the id's JSON text */

/* Bridge-side errors, published in the ack's "error" field. */
#define ACK_NONE            "NONE"
#define ACK_UNKNOWN_GATEWAY "UNKNOWN_GATEWAY" /* never seen by this bridge */
#define ACK_GATEWAY_OFFLINE "GATEWAY_OFFLINE" /* no PULL_DATA within gateway_timeout */
#define ACK_MALFORMED       "MALFORMED"       /* the request itself is wrong; see detail */
#define ACK_QUEUE_FULL      "QUEUE_FULL"      /* too many downlinks awaiting TX_ACK */
#define ACK_TIMEOUT         "TIMEOUT"         /* no TX_ACK within tx_ack_timeout */
#define ACK_UNCONFIRMED     "UNCONFIRMED"     /* v1 gateway: sent, no TX_ACK exists */
#define ACK_SEND_FAILED     "SEND_FAILED"     /* sendto() failed */
#define ACK_INVALID_TX_ACK  "INVALID_TX_ACK"  /* the gateway's TX_ACK was unreadable */

struct downlink_request {
	/* The caller's id as JSON text ("\"abc\"", "42"), or "null" when absent. */
	char id_json[DOWNLINK_ID_MAX];
	/* {"txpk":{...}} ready for PULL_RESP, malloc'd. */
	char *pull_resp_json;
	size_t pull_resp_len;
};

/*
 * Validates a `down` payload: a JSON object of at most DOWNLINK_MAX_PAYLOAD
 * bytes with an optional "id" (string or number) and a "txpk" object
 * holding what the reference forwarder requires: imme true, or tmst or
 * tmms; freq; modu "LORA" with datr "SF<n>BW<n>" and codr, or modu "FSK"
 * with a numeric datr and fdev; data in base64 (padding optional) of at
 * most 255 bytes. "rfch" defaults to 0 and "size" to the decoded length
 * when absent; a "size" that disagrees with the data is refused. Other
 * fields pass through.
 *
 * Returns 0, or -1 with a reason in err; id_json is filled whenever the id
 * itself was readable, so that even a refused request gets its own id back.
 * Free with downlink_request_clear().
 */
int downlink_parse(const char *payload, size_t len, struct downlink_request *out, char *err,
                   size_t errlen);
void downlink_request_clear(struct downlink_request *req);

/*
 * The TX_ACK body: empty, a single NUL, or {"txpk_ack":{...}} optionally
 * followed by NULs. error_out gets the gateway's "error" (copied), or
 * "NONE" when there is none (including the sx1302 "warn" form).
 * *txpk_ack_json gets the compact text of the txpk_ack object (malloc'd)
 * or NULL. Returns 0, or -1 when the body is unreadable.
 */
int txack_parse(const char *body, size_t len, char *error_out, size_t error_len,
                char **txpk_ack_json, char *err, size_t errlen);

/*
 * `ack` payload: {"mac","id","error"[,"detail"][,"txpk_ack"]}.
 * id_json and txpk_ack_json are raw JSON text (txpk_ack may be NULL),
 * detail may be NULL. Returns malloc'd text or NULL.
 */
char *ack_build(const char *mac, const char *id_json, const char *error, const char *detail,
                const char *txpk_ack_json);

#endif
