/*
 * A fleet of fake gateways for the fault tests: many th_gateways talking to
 * the bridge, a traffic thread that sends each of them one uplink per
 * interval, and the accounting of every uplink from its PUSH_DATA to the
 * fake router's `packet` event (delivered how often, when, with which
 * hold_time).
 *
 * Each uplink is an unconfirmed data up whose DevAddr names its gateway
 * (0x26000000 + index) and whose FCnt is its sequence number in that
 * gateway (from 1), so a router event says exactly which uplink it is.
 *
 * While the traffic thread runs only it touches the gateways' sockets;
 * th_fleet_burst() and th_fleet_pull_all() are for when it is stopped.
 */
#ifndef TH_FLEET_H
#define TH_FLEET_H

#include <pthread.h>

#include "harness.h"
#include "th_router.h"
#include "th_routerlink.h"

#define TH_FLEET_DEVADDR_BASE 0x26000000u

struct th_fleet_up {
	int64_t sent_ms;   /* wall clock just before its PUSH_DATA */
	int delivered;     /* router `packet` events for it */
	int64_t router_ms; /* the router's `t` of the first */
	int64_t hold_ms;   /* its hold_time */
};

struct th_fleet_gw {
	struct th_gateway gw;
	uint64_t eui;
	char hex[67]; /* the Hotspot key as the router names it; "" until known */
	uint32_t sent;
	struct th_fleet_up *ups; /* ups[seq - 1] */
	size_t cap;
};

struct th_fleet {
	int n;
	struct th_fleet_gw *g;
	/* Router events that did not belong to an uplink of the fleet, or
	 * were not verified, or came from the wrong key: each a defect. */
	int foreign, unverified, wrong_key;
	/* The traffic thread. */
	pthread_t thread;
	pthread_mutex_t lock;
	bool running, stop;
	int interval_ms;
	int errors; /* PUSH_DATA/PULL_DATA without their ack */
};

/* Opens n gateways, MACs eui_base + 0 .. n-1, towards the bridge, and sends
 * each a PULL_DATA (the bridge's state brings them to routerlink). */
int th_fleet_open(struct th_fleet *f, int n, uint64_t eui_base, uint16_t bridge_port);
void th_fleet_close(struct th_fleet *f);

/* Reads each gateway's key file <keys_dir>/<MAC>.key (65 bytes) into its
 * hex; returns how many were found. */
int th_fleet_learn_keys(struct th_fleet *f, const char *keys_dir);
/* The gateway whose key is hex, or -1. */
int th_fleet_by_hex(const struct th_fleet *f, const char *hex);

/* One uplink from gateway i (synchronous: waits for its PUSH_ACK). */
int th_fleet_push(struct th_fleet *f, int i);
/* k uplinks from every gateway, round-robin, spaced so the whole burst
 * lasts about spread_ms (0: as fast as the acks come). */
int th_fleet_burst(struct th_fleet *f, int k, int spread_ms);
/* A PULL_DATA from every gateway. */
int th_fleet_pull_all(struct th_fleet *f);

/* Every gateway one uplink each interval_ms (spread over the interval),
 * and a PULL_DATA every 10 s, until stopped. */
int th_fleet_traffic_start(struct th_fleet *f, int interval_ms);
/* Stops the thread at the end of a round (every gateway has sent as many
 * uplinks); returns its error count (0 when every datagram was acked). */
int th_fleet_traffic_stop(struct th_fleet *f);

/* Uplinks sent so far (all gateways). */
uint64_t th_fleet_sent(struct th_fleet *f);
/* Sum of `delivered` over all uplinks. */
uint64_t th_fleet_delivered(struct th_fleet *f);

/* Takes every `packet` event queued at the router and accounts it. Returns
 * how many were taken. */
int th_fleet_collect(struct th_fleet *f, struct th_router *r);
/* Collects until th_fleet_delivered() reaches want (true) or timeout. */
bool th_fleet_wait_delivered(struct th_fleet *f, struct th_router *r, uint64_t want,
                             int timeout_ms);

/* Router events that are not packets pile up in the harness's queue and
 * slow its scans: drops them (register, session_* and the like). */
void th_fleet_discard_control_events(struct th_router *r);

/* ---- what the router saw of each gateway ---------------------------- */

/* The fake router's per-gateway counts ({"cmd":"gateways","times":true}):
 * {"<hex>": {"registers", "registers_refused", "session_inits", "packets",
 * "ends", "register_t"}}. NULL on error; cJSON_Delete it. */
cJSON *th_fleet_router_gateways(struct th_router *r);
/* One count of one gateway in that object (0 when the gateway is absent). */
int th_fleet_gw_count(const cJSON *gateways, const char *hex, const char *field);
/* Its register times at or after since_ms, oldest first, into t (at most
 * max); returns how many. */
int th_fleet_register_times(const cJSON *gateways, const char *hex, int64_t since_ms, int64_t *t,
                            int max);

/*
 * routerlink's reconnect schedule: after the k-th failure in a row it waits
 * b_k +- 30 % (integer: b_k - 3b_k/10 .. b_k + 3b_k/10), b_0 = first,
 * b_{k+1} = min(2 b_k, max). slop_lo and slop_hi allow for what lies
 * between the wait and the router's clock (the 100 ms tick, the trip of the
 * register, a loaded machine).
 *
 * th_backoff_check: each gap t[k+1] - t[k] lies in [lo_k - slop_lo, hi_k +
 * slop_hi]. 0, or -1 with the first gap that does not in why.
 * th_backoff_count_bounds: how many attempts, the first included, fit in
 * window_ms after the first: at least *lo (every wait its longest), at
 * most *hi (every wait its shortest).
 */
int th_backoff_check(const int64_t *t, int n, int64_t first, int64_t max, int64_t slop_lo,
                     int64_t slop_hi, char *why, size_t whylen);
void th_backoff_count_bounds(int64_t window_ms, int64_t first, int64_t max, int64_t slop_lo,
                             int64_t slop_hi, int *lo, int *hi);

/* Polls routerlink <instance>'s metrics snapshot until the series equals
 * want; false (with the last value in *got) on timeout. */
bool th_fleet_wait_metric(const struct th_broker *b, const char *instance, const char *name,
                          const char *label_key, const char *label_value, double want,
                          int timeout_ms, double *got);

#endif
