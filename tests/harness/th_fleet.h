/*
 * A fleet of fake gateways for the fault tests: n gateways of th_traffic.h
 * (MACs eui_base + index) talking to the bridge, its traffic in whole rounds
 * (every gateway as many uplinks), and the accounting of every uplink from
 * its PUSH_DATA to the fake router's `packet` event (delivered how often,
 * when, with which hold_time) in a th_tally, against each gateway's key.
 *
 * A fleet names its uplinks by sequence numbers from 1 (th_traffic's seq +
 * 1): "uplinks 1..n of each gateway". The traffic thread runs from open to
 * close (keepalives every 10 s); between th_fleet_traffic_start/stop and in
 * th_fleet_burst it sends the uplinks, at the rate asked for even under
 * $LF_TEST_TIMEOUT_SCALE, since the tests count on it.
 */
#ifndef TH_FLEET_H
#define TH_FLEET_H

#include "harness.h"
#include "th_router.h"
#include "th_routerlink.h"
#include "th_traffic.h"

struct th_fleet_up {
	int64_t sent_ms;   /* wall clock just before its PUSH_DATA */
	int delivered;     /* router `packet` events for it */
	int64_t router_ms; /* the router's `t` of the first */
	int64_t hold_ms;   /* its hold_time */
};

struct th_fleet_gw {
	uint64_t eui;
	char hex[67]; /* the Hotspot key as the router names it; "" until known */
};

struct th_fleet {
	int n;
	struct th_fleet_gw *g;
	struct th_traffic traffic; /* gateway i is its gateway i */
	struct th_tally tally;     /* the router's packets of the fleet */
};

/* Opens n gateways, MACs eui_base + 0 .. n-1, towards the bridge, each
 * with a PULL_DATA (the bridge's state brings them to routerlink). */
int th_fleet_open(struct th_fleet *f, int n, uint64_t eui_base, uint16_t bridge_port);
void th_fleet_close(struct th_fleet *f);

/* Reads each gateway's key file <keys_dir>/<MAC>.key (65 bytes) into its
 * hex; returns how many were found. Needs only n and g[].eui. */
int th_fleet_learn_keys(struct th_fleet *f, const char *keys_dir);
/* The gateway whose key is hex, or -1. */
int th_fleet_by_hex(const struct th_fleet *f, const char *hex);

/* k uplinks from every gateway, round-robin, spread evenly over spread_ms
 * (0: each as soon as the previous one is acked). Returns the number of
 * problems (0 when every datagram was sent and acked). */
int th_fleet_burst(struct th_fleet *f, int k, int spread_ms);

/* Every gateway one uplink each interval_ms (spread over the interval)
 * until stopped. */
int th_fleet_traffic_start(struct th_fleet *f, int interval_ms);
/* Stops the traffic at the end of a round (every gateway has sent as many
 * uplinks); returns the number of problems (0 when every datagram was
 * sent and acked). */
int th_fleet_traffic_stop(struct th_fleet *f);

/* Uplinks sent so far (all gateways). */
uint64_t th_fleet_sent(struct th_fleet *f);
/* Uplinks sent so far by gateway i. */
uint32_t th_fleet_sent_by(struct th_fleet *f, int i);
/* Router packets of the fleet's gateways so far (duplicates included). */
uint64_t th_fleet_delivered(struct th_fleet *f);
/* Uplink seq (1..sent) of gateway i, as far as collected. */
struct th_fleet_up th_fleet_up(struct th_fleet *f, int i, uint32_t seq);
/* Router packets that were not verified, belong to no uplink the fleet
 * sent, or came under another key than their gateway's: each a defect,
 * described on stderr. */
int th_fleet_defects(struct th_fleet *f);

/* Takes every `packet` event queued at the router and tallies it. Returns
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

#endif
