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

/*
 * A gateway comes up through the bridge: opens gw as mac towards the
 * bridge's UDP port and sends a PULL_DATA, so that the bridge's state
 * makes routerlink create the key and open its stream; waits until the
 * router has its register and session_init, and gives the gateway's key
 * (hex, as the router's events name it) in hex. 0 or -1.
 */
int th_routerlink_gateway_up(struct th_router *r, struct th_gateway *gw, const char *mac,
                             uint16_t bridge_udp_port, char *hex, size_t hexlen, int timeout_ms);

/*
 * One series of routerlink <instance>'s retained metrics snapshot (0 when
 * the series does not exist yet). The first snapshot comes
 * metrics_interval after the start: this waits for it, up to 15 s.
 * 0, or -1 when there is none.
 */
int th_routerlink_metric(const struct th_broker *b, const char *instance, const char *name,
                         const char *label_key, const char *label_value, double *out);
/* Polls that snapshot until the series equals want: true, or false on
 * timeout (with the last value on stderr). */
bool th_routerlink_wait_metric(const struct th_broker *b, const char *instance, const char *name,
                               const char *label_key, const char *label_value, double want,
                               int timeout_ms);
/* For the tests: the value, failing the test when there is no snapshot;
 * and the wait, failing the test on timeout. */
double th_routerlink_metric_at(const struct th_broker *b, const char *instance, const char *name,
                               const char *label_key, const char *label_value, const char *file,
                               int line);
void th_routerlink_expect_metric_at(const struct th_broker *b, const char *instance,
                                    const char *name, const char *label_key,
                                    const char *label_value, double want, int timeout_ms,
                                    const char *file, int line);
#define TH_RL_METRIC(b, instance, name, label_key, label_value)                                    \
	th_routerlink_metric_at((b), (instance), (name), (label_key), (label_value), __FILE__,     \
	                        __LINE__)
#define TH_RL_EXPECT_METRIC(b, instance, name, label_key, label_value, want, timeout_ms)           \
	th_routerlink_expect_metric_at((b), (instance), (name), (label_key), (label_value),        \
	                               (want), (timeout_ms), __FILE__, __LINE__)

/* Restarts it with the same INI (keys kept). */
int th_routerlink_restart(struct th_daemon *d);

/*
 * The setup of a routerlink test group: the suite's (broker, bridge:
 * th_suite_setup), then a fake router and routerlink <instance> against
 * it, with `extra` [routerlink] lines. 0 or -1.
 */
int th_routerlink_setup(void **state, struct th_router *r, struct th_daemon *rl,
                        const char *instance, const char *extra);
/*
 * Its teardown: stops routerlink (NULL: none), resumes the router in case
 * a test froze it, stops and frees it. 0 when routerlink exited cleanly
 * (under ASan: without a report), -1 otherwise.
 */
int th_routerlink_teardown(struct th_router *r, struct th_daemon *rl);

/* How many key files (<MAC>.key) dir holds. */
int th_routerlink_count_keys(const char *dir);

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
