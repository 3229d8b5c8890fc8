/*
 * Requests to routerlink over MQTT v5 (lorafleet/rpc/routerlink/<method>
 * with a response topic and correlation data), without the I/O: building
 * requests, recognising replies, and turning them into HTTP answers. Keys
 * never pass through apigw: sign sends the bytes and gets the signature.
 */
#ifndef APIGW_RPC_H
#define APIGW_RPC_H

#include <stddef.h>
#include <stdint.h>

#define RPC_TOPIC_PREFIX "lorafleet/rpc/routerlink/"
#define RPC_CORR_LEN     16
#define RPC_SIGN_MAX     65536 /* bytes routerlink signs at most */

enum rpc_method {
	RPC_PACKETS,
	RPC_SIGN,
};

const char *rpc_method_name(enum rpc_method method);

/* Correlation data: this process's random nonce, then the request's
 * sequence number, both big-endian. A reply to another process (an apigw
 * that restarted under the same response topic) is not ours. */
void rpc_corr_encode(uint64_t nonce, uint64_t seq, uint8_t out[RPC_CORR_LEN]);
int rpc_corr_decode(const void *data, size_t len, uint64_t nonce, uint64_t *seq);

/* {"mac":"<mac>"} for packets. malloc'd. */
char *rpc_packets_request(const char *mac);

/*
 * Checks a sign request's body ({"data": "<base64>"}) and builds the
 * routerlink request {"mac","data"}. Returns the malloc'd request, or
 * NULL with the 400 reason in err.
 */
char *rpc_sign_request(const char *mac, const char *body, size_t len, char *err, size_t errlen);

/*
 * routerlink's reply -> HTTP status and body (malloc'd JSON): packets ->
 * the packets array (as multi-gateway's endpoint), sign ->
 * {"signature"}; routerlink's 400/404/500 pass through with its error;
 * anything else is 502.
 */
int rpc_reply_http(enum rpc_method method, const char *payload, size_t len, char **body);

/* "routerlink did not answer within 5 s" */
void rpc_timeout_error(int64_t timeout_ms, char *out, size_t outlen);

#endif
