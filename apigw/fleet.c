#include "fleet.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lf/json.h"
#include "lf/util.h"

void
fleet_init(struct fleet *f)
{
	lf_u64map_init(&f->map);
}

void
fleet_free(struct fleet *f)
{
	struct fleet_gw *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&f->map, &i, NULL)) != NULL;) {
		free(gw);
	}
	lf_u64map_clear(&f->map);
}

static bool
present(const struct fleet_gw *gw)
{
	return gw != NULL && (gw->has_state || gw->has_hotspot);
}

const struct fleet_gw *
fleet_get(const struct fleet *f, uint64_t eui)
{
	const struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	return present(gw) ? gw : NULL;
}

/* The record, created on first sight. A record whose retained messages are
 * both cleared stays in the map (hidden), so a MAC costs memory once. */
static struct fleet_gw *
record(struct fleet *f, uint64_t eui)
{
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (gw != NULL) {
		return gw;
	}
	gw = calloc(1, sizeof(*gw));
	if (gw == NULL || lf_u64map_put(&f->map, eui, gw) != 0) {
		free(gw);
		return NULL;
	}
	gw->eui = eui;
	lf_eui_format(eui, gw->mac);
	return gw;
}

/* n decimal digits at text, exactly. */
static int
digits(const char *text, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9') {
			return -1;
		}
		v = v * 10 + (text[i] - '0');
	}
	*out = v;
	return 0;
}

int
fleet_parse_time(const char *text, int64_t *ms)
{
	/* "YYYY-MM-DDTHH:MM:SS" then an optional fraction and 'Z'. */
	struct tm tm = {0};
	if (text == NULL || strlen(text) < 20 || digits(text, 4, &tm.tm_year) != 0 ||
	    text[4] != '-' || digits(text + 5, 2, &tm.tm_mon) != 0 || text[7] != '-' ||
	    digits(text + 8, 2, &tm.tm_mday) != 0 || text[10] != 'T' ||
	    digits(text + 11, 2, &tm.tm_hour) != 0 || text[13] != ':' ||
	    digits(text + 14, 2, &tm.tm_min) != 0 || text[16] != ':' ||
	    digits(text + 17, 2, &tm.tm_sec) != 0) {
		return -1;
	}
	const char *p = text + 19;
	int64_t frac_ms = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 3) {
				frac_ms = frac_ms * 10 + (*p - '0');
			}
		}
		if (n == 0) {
			return -1;
		}
		for (; n < 3; n++) {
			frac_ms *= 10;
		}
	}
	if (p[0] != 'Z' || p[1] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
		return -1;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0) {
		return -1;
	}
	*ms = (int64_t)t * 1000 + frac_ms;
	return 0;
}

/* A time member: absent or null is 0; otherwise it must parse. */
static int
get_time(const cJSON *obj, const char *key, int64_t *ms, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	*ms = 0;
	if (item == NULL || cJSON_IsNull(item)) {
		return 0;
	}
	if (!cJSON_IsString(item) || fleet_parse_time(item->valuestring, ms) != 0) {
		return lf_set_err(err, errlen, "%s: expected an RFC 3339 UTC time", key);
	}
	return 0;
}

/* A string member copied into out: absent or null gives "". */
static int
get_text(const cJSON *obj, const char *key, char *out, size_t outlen, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	out[0] = '\0';
	if (item == NULL || cJSON_IsNull(item)) {
		return 0;
	}
	if (!cJSON_IsString(item) || strlen(item->valuestring) >= outlen) {
		return lf_set_err(err, errlen, "%s: expected a string of at most %zu characters",
		                  key, outlen - 1);
	}
	lf_strlcpy(out, item->valuestring, outlen);
	return 0;
}

static cJSON *
parse_object(const char *payload, size_t len, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(payload, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		lf_format_err(err, errlen, "not a JSON object");
		return NULL;
	}
	return root;
}

int
fleet_apply_state(struct fleet *f, uint64_t eui, const char *payload, size_t len,
                  struct fleet_change *change, char *err, size_t errlen)
{
	memset(change, 0, sizeof(*change));
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (len == 0) {
		if (gw != NULL && gw->has_state) {
			gw->has_state = false;
			change->online_changed = gw->online;
			gw->online = false;
		}
		return 0;
	}
	cJSON *root = parse_object(payload, len, err, errlen);
	if (root == NULL) {
		return -1;
	}
	struct fleet_gw next = {0};
	bool online = false;
	int64_t protocol = 0;
	int rc = -1;
	int got = lf_json_get_bool(root, "online", &online, err, errlen);
	if (got == 0) {
		lf_format_err(err, errlen, "online: missing");
	} else if (got == 1 &&
	           get_text(root, "addr", next.addr, sizeof(next.addr), err, errlen) == 0 &&
	           get_text(root, "bridge", next.bridge, sizeof(next.bridge), err, errlen) == 0 &&
	           lf_json_get_int(root, "protocol", 0, 2, &protocol, err, errlen) >= 0 &&
	           get_time(root, "since", &next.since_ms, err, errlen) == 0 &&
	           get_time(root, "last_seen", &next.last_seen_ms, err, errlen) == 0) {
		rc = 0;
	}
	cJSON_Delete(root);
	if (rc != 0 || (gw == NULL && (gw = record(f, eui)) == NULL)) {
		return rc != 0 ? -1 : lf_set_err(err, errlen, "out of memory");
	}
	bool was_online = gw->has_state && gw->online;
	change->online_changed = was_online != online;
	change->online = online;
	if (change->online_changed) {
		online ? gw->connects++ : gw->disconnects++;
	}
	gw->has_state = true;
	gw->online = online;
	gw->protocol = (int)protocol;
	gw->since_ms = next.since_ms;
	gw->last_seen_ms = next.last_seen_ms;
	memcpy(gw->addr, next.addr, sizeof(gw->addr));
	memcpy(gw->bridge, next.bridge, sizeof(gw->bridge));
	return 0;
}

static int
get_count(const cJSON *obj, const char *key, uint64_t *out, char *err, size_t errlen)
{
	int64_t v = 0;
	int rc = lf_json_get_int(obj, key, 0, INT64_MAX, &v, err, errlen);
	*out = (uint64_t)v;
	return rc < 0 ? -1 : 0;
}

int
fleet_apply_hotspot(struct fleet *f, uint64_t eui, const char *payload, size_t len,
                    struct fleet_change *change, char *err, size_t errlen)
{
	memset(change, 0, sizeof(*change));
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (len == 0) {
		if (gw != NULL && gw->has_hotspot) {
			gw->has_hotspot = false;
			change->router_changed = true;
			memcpy(change->router_before, gw->router, sizeof(gw->router));
			gw->router[0] = '\0';
		}
		return 0;
	}
	cJSON *root = parse_object(payload, len, err, errlen);
	if (root == NULL) {
		return -1;
	}
	struct fleet_gw next = {0};
	int rc = -1;
	if (get_text(root, "public_key", next.public_key, sizeof(next.public_key), err, errlen) ==
	            0 &&
	    get_text(root, "region", next.region, sizeof(next.region), err, errlen) == 0 &&
	    get_text(root, "router", next.router, sizeof(next.router), err, errlen) == 0 &&
	    get_time(root, "connected_since", &next.connected_since_ms, err, errlen) == 0 &&
	    get_time(root, "last_uplink", &next.hs_last_uplink_ms, err, errlen) == 0 &&
	    get_count(root, "uplinks", &next.hs_uplinks, err, errlen) == 0 &&
	    get_count(root, "downlinks", &next.hs_downlinks, err, errlen) == 0) {
		rc = next.router[0] != '\0' ? 0 : lf_set_err(err, errlen, "router: missing");
	}
	cJSON_Delete(root);
	if (rc != 0 || (gw == NULL && (gw = record(f, eui)) == NULL)) {
		return rc != 0 ? -1 : lf_set_err(err, errlen, "out of memory");
	}
	if (!gw->has_hotspot || strcmp(gw->router, next.router) != 0) {
		change->router_changed = true;
		lf_strlcpy(change->router_before, gw->has_hotspot ? gw->router : "",
		           sizeof(change->router_before));
	}
	gw->has_hotspot = true;
	memcpy(gw->public_key, next.public_key, sizeof(gw->public_key));
	memcpy(gw->region, next.region, sizeof(gw->region));
	memcpy(gw->router, next.router, sizeof(gw->router));
	gw->connected_since_ms = next.connected_since_ms;
	gw->hs_last_uplink_ms = next.hs_last_uplink_ms;
	gw->hs_uplinks = next.hs_uplinks;
	gw->hs_downlinks = next.hs_downlinks;
	/* routerlink's counts now include what apigw saw before. */
	gw->ups_since_hotspot = 0;
	gw->downs_since_hotspot = 0;
	return 0;
}

void
fleet_note_uplink(struct fleet *f, uint64_t eui, int64_t received_at_ms)
{
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (!present(gw)) {
		return;
	}
	gw->ups_since_hotspot++;
	if (received_at_ms > gw->last_uplink_ms) {
		gw->last_uplink_ms = received_at_ms;
	}
}

void
fleet_note_downlink(struct fleet *f, uint64_t eui)
{
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (present(gw)) {
		gw->downs_since_hotspot++;
	}
}

void
fleet_note_position(struct fleet *f, uint64_t eui, double lat, double lon, bool has_alt,
                    int64_t alt)
{
	struct fleet_gw *gw = lf_u64map_get(&f->map, eui);
	if (!present(gw)) {
		return;
	}
	gw->has_position = true;
	gw->latitude = lat;
	gw->longitude = lon;
	gw->has_altitude = has_alt;
	gw->altitude = alt;
}

bool
fleet_gw_connected(const struct fleet_gw *gw)
{
	return gw->has_hotspot && strcmp(gw->router, "connected") == 0;
}

uint64_t
fleet_gw_uplinks(const struct fleet_gw *gw)
{
	return gw->hs_uplinks + gw->ups_since_hotspot;
}

uint64_t
fleet_gw_downlinks(const struct fleet_gw *gw)
{
	return gw->hs_downlinks + gw->downs_since_hotspot;
}

int64_t
fleet_gw_last_uplink_ms(const struct fleet_gw *gw)
{
	return gw->last_uplink_ms > gw->hs_last_uplink_ms ? gw->last_uplink_ms
	                                                  : gw->hs_last_uplink_ms;
}

static void
add_text_or_null(cJSON *obj, const char *key, const char *text)
{
	if (text[0] != '\0') {
		cJSON_AddStringToObject(obj, key, text);
	} else {
		cJSON_AddNullToObject(obj, key);
	}
}

static void
add_time_or_null(cJSON *obj, const char *key, int64_t ms)
{
	if (ms <= 0) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	char text[LF_RFC3339_LEN];
	lf_format_rfc3339(&ts, text);
	cJSON_AddStringToObject(obj, key, text);
}

/* Whole seconds from `ms` to now, never negative (clocks of two machines). */
static void
add_age_or_null(cJSON *obj, const char *key, int64_t ms, int64_t now_ms)
{
	if (ms <= 0) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	int64_t age = now_ms > ms ? (now_ms - ms) / 1000 : 0;
	cJSON_AddNumberToObject(obj, key, (double)age);
}

cJSON *
fleet_gateway_json(const struct fleet_gw *gw, int64_t now_ms)
{
	cJSON *o = cJSON_CreateObject();
	if (o == NULL) {
		return NULL;
	}
	bool connected = fleet_gw_connected(gw);
	/* multi-gateway's GatewayInfo */
	cJSON_AddStringToObject(o, "mac", gw->mac);
	add_text_or_null(o, "public_key", gw->public_key);
	add_text_or_null(o, "region", gw->region);
	cJSON_AddBoolToObject(o, "connected", connected);
	add_age_or_null(o, "connected_seconds", connected ? gw->connected_since_ms : 0, now_ms);
	add_age_or_null(o, "last_uplink_seconds_ago", fleet_gw_last_uplink_ms(gw), now_ms);
	cJSON_AddNumberToObject(o, "uplink_count", (double)fleet_gw_uplinks(gw));
	cJSON_AddNumberToObject(o, "downlink_count", (double)fleet_gw_downlinks(gw));
	if (gw->has_position) {
		cJSON_AddNumberToObject(o, "latitude", gw->latitude);
		cJSON_AddNumberToObject(o, "longitude", gw->longitude);
		if (gw->has_altitude) {
			cJSON_AddNumberToObject(o, "altitude", (double)gw->altitude);
		}
	}
	/* ours: the bridge's view and the router link */
	cJSON_AddBoolToObject(o, "online", gw->has_state && gw->online);
	add_text_or_null(o, "addr", gw->addr);
	if (gw->protocol > 0) {
		cJSON_AddNumberToObject(o, "protocol", gw->protocol);
	} else {
		cJSON_AddNullToObject(o, "protocol");
	}
	add_text_or_null(o, "bridge", gw->bridge);
	add_time_or_null(o, "since", gw->since_ms);
	add_time_or_null(o, "last_seen", gw->last_seen_ms);
	add_text_or_null(o, "router", gw->router);
	add_time_or_null(o, "connected_since", connected ? gw->connected_since_ms : 0);
	add_time_or_null(o, "last_uplink", fleet_gw_last_uplink_ms(gw));
	return o;
}

static int
by_eui(const void *a, const void *b)
{
	uint64_t x = (*(const struct fleet_gw *const *)a)->eui;
	uint64_t y = (*(const struct fleet_gw *const *)b)->eui;
	return x < y ? -1 : x > y;
}

const struct fleet_gw **
fleet_sorted(const struct fleet *f, size_t *n)
{
	*n = 0;
	if (f->map.count == 0) {
		return NULL;
	}
	/* An array of pointers: sizeof(*list) is a pointer's size, as meant. */
	const struct fleet_gw **list =
	        malloc(f->map.count * sizeof(*list)); // NOLINT(bugprone-sizeof-expression)
	if (list == NULL) {
		return NULL;
	}
	const struct fleet_gw *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&f->map, &i, NULL)) != NULL;) {
		if (present(gw)) {
			list[(*n)++] = gw;
		}
	}
	qsort(list, *n, sizeof(*list), by_eui); // NOLINT(bugprone-sizeof-expression)
	return list;
}

cJSON *
fleet_list_json(const struct fleet *f, int64_t now_ms)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "gateways");
	if (arr == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	size_t n = 0, online = 0, connected = 0;
	const struct fleet_gw **list = fleet_sorted(f, &n);
	if (list == NULL) {
		if (f->map.count > 0) { /* out of memory */
			cJSON_Delete(root);
			return NULL;
		}
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = fleet_gateway_json(list[i], now_ms);
		if (o == NULL) {
			free(list);
			cJSON_Delete(root);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
		online += list[i]->has_state && list[i]->online;
		connected += fleet_gw_connected(list[i]);
	}
	free(list);
	cJSON_AddNumberToObject(root, "total", (double)n);
	cJSON_AddNumberToObject(root, "online", (double)online);
	cJSON_AddNumberToObject(root, "connected", (double)connected);
	return root;
}
