/*
 * The gateway model, rebuilt only from broker messages: per MAC the latest
 * retained `state` (bridge) and `hotspot` (routerlink), plus what live
 * traffic adds (uplink/downlink counts, last uplink, position from `status`).
 * Pure: no I/O, one owner thread (apigw's lws thread).
 */
#ifndef APIGW_FLEET_H
#define APIGW_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "lf/eui.h"
#include "lf/u64map.h"

struct fleet_gw {
	uint64_t eui;
	char mac[LF_EUI_STRLEN];

	/* <prefix>/<mac>/state, retained, from the bridge. */
	bool has_state;
	bool online;
	char addr[64]; /* "" = none yet */
	int protocol;  /* 0 = unknown */
	char bridge[64];
	int64_t since_ms, last_seen_ms; /* wall clock; 0 = unknown */

	/* <prefix>/<mac>/hotspot, retained, from routerlink. */
	bool has_hotspot;
	char public_key[64]; /* "" = null (disabled) */
	char region[24];
	char router[16]; /* connected / connecting / backoff / disabled */
	int64_t connected_since_ms, hs_last_uplink_ms;
	uint64_t hs_uplinks, hs_downlinks;

	/* Live traffic. The counts are routerlink's (retained, so they
	 * survive an apigw restart) plus what apigw saw since that message. */
	uint64_t ups_since_hotspot, downs_since_hotspot;
	int64_t last_uplink_ms;
	uint64_t connects, disconnects; /* online transitions seen by apigw */
	bool has_position, has_altitude;
	double latitude, longitude;
	int64_t altitude;
};

struct fleet {
	struct lf_u64map map; /* eui -> struct fleet_gw */
};

/* What a retained message changed, for events. */
struct fleet_change {
	bool online_changed;
	bool online; /* the new value */
	bool router_changed;
	char router_before[16]; /* "" when there was no hotspot */
};

void fleet_init(struct fleet *f);
void fleet_free(struct fleet *f);

/* The gateway, or NULL when neither its state nor its hotspot is known. */
const struct fleet_gw *fleet_get(const struct fleet *f, uint64_t eui);

/*
 * Applies a retained message; an empty payload means the retained message
 * was cleared. Returns 0, or -1 with a reason when the payload is not
 * usable (the model is then unchanged).
 */
int fleet_apply_state(struct fleet *f, uint64_t eui, const char *payload, size_t len,
                      struct fleet_change *change, char *err, size_t errlen);
int fleet_apply_hotspot(struct fleet *f, uint64_t eui, const char *payload, size_t len,
                        struct fleet_change *change, char *err, size_t errlen);

/* Live traffic for a known gateway (ignored for unknown ones). */
void fleet_note_uplink(struct fleet *f, uint64_t eui, int64_t received_at_ms);
void fleet_note_downlink(struct fleet *f, uint64_t eui);
void fleet_note_position(struct fleet *f, uint64_t eui, double lat, double lon, bool has_alt,
                         int64_t alt);

/* Derived values shared by the REST and Prometheus renderings. */
bool fleet_gw_connected(const struct fleet_gw *gw);
uint64_t fleet_gw_uplinks(const struct fleet_gw *gw);
uint64_t fleet_gw_downlinks(const struct fleet_gw *gw);
int64_t fleet_gw_last_uplink_ms(const struct fleet_gw *gw); /* 0 = never */

/* One gateway object (multi-gateway's GatewayInfo fields plus ours). */
cJSON *fleet_gateway_json(const struct fleet_gw *gw, int64_t now_ms);
/* {"gateways":[...sorted by mac],"total","online","connected"} */
cJSON *fleet_list_json(const struct fleet *f, int64_t now_ms);

/* Gateways in MAC order (malloc'd array of n pointers; NULL when empty). */
const struct fleet_gw **fleet_sorted(const struct fleet *f, size_t *n);

/* "2026-11-21T10:00:00.123456Z" (any fraction, 'Z' only) -> wall ms. */
int fleet_parse_time(const char *text, int64_t *ms);

#endif
