/* `lorawan/<mac>/up` -> struct uplink, following gateway-rs's rxpk mapping. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "lf/eui.h"
#include "lf/json.h"
#include "lf/util.h"

#include "uplink_codec.h"

/* Sanity bounds: anything outside is a forwarder bug, not a radio reading. */
#define RSSI_MIN (-300.0)
#define RSSI_MAX 100.0
#define SNR_MIN  (-100.0)
#define SNR_MAX  100.0

static const char *const drop_names[] = {
        [UPLINK_OK] = "ok",
        [UPLINK_DROP_INVALID_JSON] = "invalid_json",
        [UPLINK_DROP_NO_RXPK] = "no_rxpk",
        [UPLINK_DROP_BAD_MAC] = "bad_mac",
        [UPLINK_DROP_CRC_NOT_OK] = "crc_not_ok",
        [UPLINK_DROP_NOT_LORA] = "not_lora",
        [UPLINK_DROP_BAD_DATARATE] = "bad_datarate",
        [UPLINK_DROP_BAD_DATA] = "bad_data",
        [UPLINK_DROP_NOT_UPLINK] = "not_uplink",
        [UPLINK_DROP_MISSING_FIELD] = "missing_field",
        [UPLINK_DROP_BAD_FIELD] = "bad_field",
};

const char *
uplink_drop_name(enum uplink_drop reason)
{
	if ((unsigned)reason >= UPLINK_DROP_COUNT) {
		return "unknown";
	}
	return drop_names[reason];
}

/* Writes the reason and returns the drop, so checks read `return drop(...)`. */
__attribute__((format(printf, 4, 5))) static enum uplink_drop
drop(enum uplink_drop reason, char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return reason;
}

/* lf_json_get_* results: 0 absent -> missing_field, -1 wrong type -> bad_field
 * (the getter already wrote the reason). */
static enum uplink_drop
getter_drop(int rc, const char *key, char *err, size_t errlen)
{
	if (rc == 0) {
		return drop(UPLINK_DROP_MISSING_FIELD, err, errlen, "%s: missing", key);
	}
	return UPLINK_DROP_BAD_FIELD;
}

/* Reads exactly n decimal digits. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9') {
			return false;
		}
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c) {
		return false;
	}
	(*p)++;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm), so no timegm() and no dependence on TZ. */
static int64_t
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

int
rl_rfc3339_to_ms(const char *text, int64_t *out_ms)
{
	const char *p = text;
	int y, mo, d, h, mi, s;
	if (text == NULL || !digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) ||
	    !expect(&p, '-') || !digits(&p, 2, &d) || !expect(&p, 'T') || !digits(&p, 2, &h) ||
	    !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') || !digits(&p, 2, &s)) {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60) {
		return -1;
	}
	int ms = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		/* Keep milliseconds; finer digits are only validated. */
		for (; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 3) {
				ms = ms * 10 + (*p - '0');
			}
		}
		if (n == 0 || n > 9) {
			return -1;
		}
		for (; n < 3; n++) {
			ms *= 10;
		}
	}
	if (!expect(&p, 'Z') || *p != '\0') {
		return -1;
	}
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	*out_ms = secs * 1000 + ms;
	return 0;
}

int
rl_datarate_parse(const char *datr, Helium__DataRate *out)
{
	const char *p = datr;
	int sf, bw;
	if (datr == NULL || !expect(&p, 'S') || !expect(&p, 'F')) {
		return -1;
	}
	/* SF7..SF9 have one digit, SF10..SF12 two. */
	if (!digits(&p, (p[0] == '1') ? 2 : 1, &sf) || !expect(&p, 'B') || !expect(&p, 'W') ||
	    !digits(&p, 3, &bw) || *p != '\0') {
		return -1;
	}
	if (sf < 7 || sf > 12) {
		return -1;
	}
	int base;
	switch (bw) {
	case 125:
		base = 0;
		break;
	case 250:
		base = 6;
		break;
	case 500:
		base = 12;
		break;
	default:
		return -1;
	}
	*out = (Helium__DataRate)((12 - sf) + base);
	return 0;
}

/* A number that must lie in [min, max]; 1 present, 0 absent, -1 bad (reason in err). */
static int
get_bounded(const cJSON *obj, const char *key, double min, double max, double *out, char *err,
            size_t errlen)
{
	int rc = lf_json_get_number(obj, key, out, err, errlen);
	if (rc == 1 && (*out < min || *out > max)) {
		return lf_set_err(err, errlen, "%s: %g is out of range", key, *out);
	}
	return rc;
}

struct best {
	bool have;
	double v;
};

/* Folds rsig[i].<key> into the maximum; -1 on a bad value. */
static int
fold_max(const cJSON *ant, const char *key, double min, double max, struct best *b, char *err,
         size_t errlen)
{
	double v;
	int rc = get_bounded(ant, key, min, max, &v, err, errlen);
	if (rc == 1 && (!b->have || v > b->v)) {
		b->have = true;
		b->v = v;
	}
	return rc < 0 ? -1 : 0;
}

/* jver 2 / multi-antenna: the best antenna wins, rssis preferred over rssic. */
static enum uplink_drop
read_rsig(const cJSON *rsig, struct uplink *out, char *err, size_t errlen)
{
	struct best rssis = {0}, rssic = {0}, lsnr = {0};
	const cJSON *ant;
	cJSON_ArrayForEach(ant, rsig)
	{
		if (!cJSON_IsObject(ant)) {
			return drop(UPLINK_DROP_BAD_FIELD, err, errlen, "rsig: expected objects");
		}
		if (fold_max(ant, "rssis", RSSI_MIN, RSSI_MAX, &rssis, err, errlen) < 0 ||
		    fold_max(ant, "rssic", RSSI_MIN, RSSI_MAX, &rssic, err, errlen) < 0 ||
		    fold_max(ant, "lsnr", SNR_MIN, SNR_MAX, &lsnr, err, errlen) < 0) {
			return UPLINK_DROP_BAD_FIELD;
		}
	}
	if (!rssis.have && !rssic.have) {
		return drop(UPLINK_DROP_MISSING_FIELD, err, errlen, "rsig: no rssis or rssic");
	}
	if (!lsnr.have) {
		return drop(UPLINK_DROP_MISSING_FIELD, err, errlen, "rsig: no lsnr");
	}
	out->rssi = (int32_t)lround(rssis.have ? rssis.v : rssic.v);
	out->snr = (float)lsnr.v;
	return UPLINK_OK;
}

static enum uplink_drop
read_signal(const cJSON *rxpk, struct uplink *out, char *err, size_t errlen)
{
	const cJSON *rsig = NULL;
	int rc = lf_json_get_array(rxpk, "rsig", &rsig, err, errlen);
	if (rc < 0) {
		return UPLINK_DROP_BAD_FIELD;
	}
	if (rc == 1 && cJSON_GetArraySize(rsig) > 0) {
		return read_rsig(rsig, out, err, errlen);
	}
	double rssi, snr;
	/* rssis (signal only) is the better figure when the forwarder has it. */
	rc = get_bounded(rxpk, "rssis", RSSI_MIN, RSSI_MAX, &rssi, err, errlen);
	if (rc == 0) {
		rc = get_bounded(rxpk, "rssi", RSSI_MIN, RSSI_MAX, &rssi, err, errlen);
	}
	if (rc != 1) {
		return getter_drop(rc, "rssi", err, errlen);
	}
	rc = get_bounded(rxpk, "lsnr", SNR_MIN, SNR_MAX, &snr, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "lsnr", err, errlen);
	}
	out->rssi = (int32_t)lround(rssi);
	out->snr = (float)snr;
	return UPLINK_OK;
}

static enum uplink_drop
read_timing(const cJSON *root, const cJSON *rxpk, struct uplink *out, char *err, size_t errlen)
{
	int64_t tmst;
	int rc = lf_json_get_int(rxpk, "tmst", 0, UINT32_MAX, &tmst, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "tmst", err, errlen);
	}
	out->tmst = (uint32_t)tmst;
	double mhz;
	rc = get_bounded(rxpk, "freq", 0.0, UINT32_MAX / 1e6, &mhz, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "freq", err, errlen);
	}
	/* Round, not truncate: 868.1 MHz is 868099999.99... Hz in binary. */
	double hz = round(mhz * 1e6);
	if (hz < 1.0 || hz > (double)UINT32_MAX) {
		return drop(UPLINK_DROP_BAD_FIELD, err, errlen, "freq: %g is out of range", mhz);
	}
	out->frequency = (uint32_t)hz;
	const char *at;
	rc = lf_json_get_string(root, "received_at", &at, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "received_at", err, errlen);
	}
	if (rl_rfc3339_to_ms(at, &out->received_at_ms) < 0) {
		return drop(UPLINK_DROP_BAD_FIELD, err, errlen, "received_at: not RFC 3339 UTC");
	}
	return UPLINK_OK;
}

static enum uplink_drop
check_mac(const cJSON *root, uint64_t topic_eui, struct uplink *out, char *err, size_t errlen)
{
	const char *mac;
	if (lf_json_get_string(root, "mac", &mac, err, errlen) != 1) {
		return drop(UPLINK_DROP_BAD_MAC, err, errlen, "mac: missing or not a string");
	}
	if (lf_eui_parse(mac, &out->eui) < 0) {
		return drop(UPLINK_DROP_BAD_MAC, err, errlen, "mac: not an EUI");
	}
	if (out->eui != topic_eui) {
		return drop(UPLINK_DROP_BAD_MAC, err, errlen, "mac: differs from the topic's");
	}
	return UPLINK_OK;
}

/* stat, modu and datr: only CRC-good LoRa frames at a Helium data rate go on. */
static enum uplink_drop
check_radio(const cJSON *rxpk, struct uplink *out, char *err, size_t errlen)
{
	int64_t stat;
	int rc = lf_json_get_int(rxpk, "stat", -1, 1, &stat, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "stat", err, errlen);
	}
	if (stat != 1) {
		return drop(UPLINK_DROP_CRC_NOT_OK, err, errlen, "stat: %d", (int)stat);
	}
	const char *modu;
	rc = lf_json_get_string(rxpk, "modu", &modu, err, errlen);
	if (rc != 1) {
		return getter_drop(rc, "modu", err, errlen);
	}
	if (strcmp(modu, "LORA") != 0) {
		return drop(UPLINK_DROP_NOT_LORA, err, errlen, "modu: %.16s", modu);
	}
	const char *datr;
	if (lf_json_get_string(rxpk, "datr", &datr, err, errlen) != 1 ||
	    rl_datarate_parse(datr, &out->datarate) < 0) {
		return drop(UPLINK_DROP_BAD_DATARATE, err, errlen,
		            "datr: not SF7..12 BW125/250/500");
	}
	return UPLINK_OK;
}

static enum uplink_drop
read_payload(const cJSON *rxpk, struct uplink *out, char *err, size_t errlen)
{
	const char *data;
	if (lf_json_get_string(rxpk, "data", &data, err, errlen) != 1) {
		return drop(UPLINK_DROP_BAD_DATA, err, errlen, "data: missing or not a string");
	}
	long n = lf_base64_decode(data, strlen(data), out->payload, sizeof(out->payload));
	if (n < 0) {
		return drop(UPLINK_DROP_BAD_DATA, err, errlen, "data: invalid base64 or > %d bytes",
		            UPLINK_PAYLOAD_MAX);
	}
	if (n == 0) {
		return drop(UPLINK_DROP_BAD_DATA, err, errlen, "data: empty");
	}
	out->payload_len = (size_t)n;
	lorawan_parse(out->payload, out->payload_len, &out->frame);
	if (!lorawan_is_uplink_for_router(out->payload, out->payload_len)) {
		return drop(UPLINK_DROP_NOT_UPLINK, err, errlen, "frame type %s",
		            lorawan_ftype_name(out->frame.type));
	}
	return UPLINK_OK;
}

static enum uplink_drop
decode_root(const cJSON *root, uint64_t topic_eui, struct uplink *out, char *err, size_t errlen)
{
	const cJSON *rxpk = NULL;
	if (lf_json_get_object(root, "rxpk", &rxpk, err, errlen) != 1) {
		return drop(UPLINK_DROP_NO_RXPK, err, errlen, "rxpk: missing or not an object");
	}
	enum uplink_drop r = check_mac(root, topic_eui, out, err, errlen);
	if (r == UPLINK_OK) {
		r = check_radio(rxpk, out, err, errlen);
	}
	if (r == UPLINK_OK) {
		r = read_payload(rxpk, out, err, errlen);
	}
	if (r == UPLINK_OK) {
		r = read_timing(root, rxpk, out, err, errlen);
	}
	if (r == UPLINK_OK) {
		r = read_signal(rxpk, out, err, errlen);
	}
	return r;
}

enum uplink_drop
rl_uplink_decode(const char *json, size_t len, uint64_t topic_eui, struct uplink *out, char *err,
                 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (json == NULL) {
		return drop(UPLINK_DROP_INVALID_JSON, err, errlen, "no payload");
	}
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return drop(UPLINK_DROP_INVALID_JSON, err, errlen, "not a JSON object");
	}
	enum uplink_drop r = decode_root(root, topic_eui, out, err, errlen);
	cJSON_Delete(root);
	return r;
}
