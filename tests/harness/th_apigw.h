/* Starting lorafleet-apigw against the test's broker. */
#ifndef TH_APIGW_H
#define TH_APIGW_H

#include "harness.h"
#include "th_http.h"

struct th_apigw {
	struct th_daemon d;
	uint16_t port; /* the HTTP port it logged (http_bind port 0) */
};

/*
 * Writes <instance>.ini ([mqtt] at the broker, [log] debug, [apigw]
 * http_bind 127.0.0.1:0 and instance, plus `extra` lines in [apigw]) and
 * starts LF_APIGW_BIN; ready once it logged its HTTP port and connected
 * to the broker. 0 or -1 (log tail printed).
 */
int th_apigw_start(struct th_apigw *a, struct th_env *env, const struct th_broker *b,
                   const char *instance, const char *extra);
/* Starts it again with the same INI (a new HTTP port). */
int th_apigw_restart(struct th_apigw *a);

/* GET/POST on apigw, asserting nothing; the caller checks r. */
int th_apigw_get(const struct th_apigw *a, const char *path, const char *extra,
                 struct th_http_resp *r);

/* GET /gateways/<mac> (with the `extra` headers) until apigw says it is
 * connected, i.e. it has the bridge's state and routerlink's hotspot:
 * the gateway's object (cJSON_Delete it), or NULL after timeout_ms or a
 * failed request (the last status on stderr). */
cJSON *th_apigw_wait_connected(const struct th_apigw *a, const char *mac, const char *extra,
                               int timeout_ms);

#endif
