/* Starting lorafleet-routerlink against the test's broker and fake router. */
#ifndef TH_ROUTERLINK_H
#define TH_ROUTERLINK_H

#include "harness.h"
#include "th_router.h"

/*
 * Writes an INI ([mqtt] to the broker, [routerlink] to the fake router with
 * short backoffs, keys in <temp dir>/keys-<instance>, plus `extra` lines in
 * [routerlink]) and starts the daemon; ready when it has logged that it
 * started and connected to the broker. 0 or -1 (log tail printed).
 */
int th_routerlink_start(struct th_daemon *d, struct th_env *env, const struct th_broker *b,
                        const struct th_router *r, const char *instance, const char *extra);

/* Restarts it with the same INI (keys kept). */
int th_routerlink_restart(struct th_daemon *d);

/* <temp dir>/keys-<instance>, where its keys are. */
void th_routerlink_keys_dir(const struct th_daemon *d, char *out, size_t outlen);

/*
 * One MQTT v5 request to routerlink (lorafleet/rpc/routerlink/<method>)
 * with a response topic and correlation data, through libmosquitto (the
 * protocol apigw uses). Returns the reply's payload (malloc'd), or NULL
 * on timeout or when the reply's correlation data is not the request's.
 */
char *th_rpc_request(const struct th_broker *b, const char *method, const char *json,
                     int timeout_ms);
/* The same with the response topic given (and subscribed to). */
char *th_rpc_request_to(const struct th_broker *b, const char *method, const char *json,
                        const char *reply_topic, int timeout_ms);
#endif
