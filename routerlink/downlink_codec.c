/* Router packet_down windows -> Semtech txpk JSON; bridge acks -> (id, error). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "lf/json.h"
#include "lf/util.h"

#include "downlink_codec.h"

/* The most a sane config could ask for; beyond it is a typo. */
#define POWE_MAX 50

/* helium.data_rate 0..17 are LoRa: SF = 12 - (dr % 6), BW by dr / 6. */
static int
datr_format(Helium__DataRate dr, char *out, size_t outlen)
{
	static const int bws[3] = {125, 250, 500};
	if ((unsigned)dr > HELIUM__DATA_RATE__SF7BW500) {
		return -1;
	}
	snprintf(out, outlen, "SF%dBW%d", 12 - (int)dr % 6, bws[(int)dr / 6]);
	return 0;
}

static int
check_args(const char *id, const struct router_window *w, const uint8_t *payload,
           size_t payload_len, int powe_dbm, char *err, size_t errlen)
{
	if (id == NULL || strlen(id) > RL_DOWN_ID_MAX) {
		return lf_set_err(err, errlen, "id: missing or longer than %d", RL_DOWN_ID_MAX);
	}
	if (w == NULL || w->frequency == 0) {
		return lf_set_err(err, errlen, "window: missing or no frequency");
	}
	if (payload == NULL || payload_len == 0 || payload_len > RL_DOWN_PAYLOAD_MAX) {
		return lf_set_err(err, errlen, "payload: %zu bytes", payload_len);
	}
	if (powe_dbm < 0 || powe_dbm > POWE_MAX) {
		return lf_set_err(err, errlen, "powe: %d dBm", powe_dbm);
	}
	return 0;
}

int
rl_downlink_build(const char *id, const struct router_window *w, const uint8_t *payload,
                  size_t payload_len, int powe_dbm, char *out, size_t outlen, char *err,
                  size_t errlen)
{
	if (check_args(id, w, payload, payload_len, powe_dbm, err, errlen) < 0) {
		return -1;
	}
	char datr[16];
	if (datr_format(w->datarate, datr, sizeof(datr)) < 0) {
		return lf_set_err(err, errlen, "datarate %d: not LoRa (LR-FHSS or FSK)",
		                  (int)w->datarate);
	}
	char data[RL_DOWN_PAYLOAD_MAX / 3 * 4 + 8];
	lf_base64_encode(payload, payload_len, data, sizeof(data));
	/* cJSON escapes the caller's id; everything else is ours and plain. */
	cJSON *id_item = cJSON_CreateString(id);
	char *id_json = id_item != NULL ? cJSON_PrintUnformatted(id_item) : NULL;
	cJSON_Delete(id_item);
	if (id_json == NULL) {
		return lf_set_err(err, errlen, "out of memory");
	}
	char when[32];
	if (w->immediate) {
		snprintf(when, sizeof(when), "\"imme\":true");
	} else {
		/* The concentrator counter is 32 bits; the router widens it. */
		snprintf(when, sizeof(when), "\"tmst\":%" PRIu32, (uint32_t)w->timestamp);
	}
	/* Integer MHz formatting: exact, no binary-fraction rounding. */
	int n = snprintf(out, outlen,
	                 "{\"id\":%s,\"txpk\":{%s,\"freq\":%" PRIu32 ".%06" PRIu32
	                 ",\"rfch\":0,\"powe\":%d,\"modu\":\"LORA\",\"datr\":\"%s\","
	                 "\"codr\":\"4/5\",\"ipol\":true,\"size\":%zu,\"data\":\"%s\"}}",
	                 id_json, when, w->frequency / 1000000u, w->frequency % 1000000u, powe_dbm,
	                 datr, payload_len, data);
	free(id_json);
	if (n < 0 || (size_t)n >= outlen) {
		return lf_set_err(err, errlen, "output buffer too small");
	}
	return n;
}

int
rl_downlink_window(const struct router_msg *msg, bool rx2, const char *id, int powe_dbm, char *out,
                   size_t outlen, char *err, size_t errlen)
{
	if (!rx2) {
		return rl_downlink_build(id, &msg->rx1, msg->payload, msg->payload_len, powe_dbm,
		                         out, outlen, err, errlen);
	}
	if (!msg->has_rx2) {
		return lf_set_err(err, errlen, "the packet has no rx2 window");
	}
	char rx2_id[RL_DOWN_ID_MAX + 8];
	if (id == NULL || strlen(id) + 4 > RL_DOWN_ID_MAX) {
		return lf_set_err(err, errlen, "id: missing or longer than %d", RL_DOWN_ID_MAX - 4);
	}
	snprintf(rx2_id, sizeof(rx2_id), "%s-rx2", id);
	/* rx2 is scheduled by its own timestamp, never immediate. */
	struct router_window w = msg->rx2;
	w.immediate = false;
	return rl_downlink_build(rx2_id, &w, msg->payload, msg->payload_len, powe_dbm, out, outlen,
	                         err, errlen);
}

static int
copy_string(const cJSON *root, const char *key, char *dst, size_t dstlen, char *err, size_t errlen)
{
	const char *s;
	int rc = lf_json_get_string(root, key, &s, err, errlen);
	if (rc == 0) {
		return lf_set_err(err, errlen, "%s: missing", key);
	}
	if (rc < 0) {
		return -1;
	}
	if (lf_strlcpy(dst, s, dstlen) >= dstlen) {
		return lf_set_err(err, errlen, "%s: longer than %zu", key, dstlen - 1);
	}
	return 0;
}

int
rl_ack_parse(const char *json, size_t len, char *id, size_t idlen, char *error, size_t errorlen,
             char *err, size_t errlen)
{
	if (json == NULL || id == NULL || idlen == 0 || error == NULL || errorlen == 0) {
		return lf_set_err(err, errlen, "no payload or no room");
	}
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return lf_set_err(err, errlen, "not a JSON object");
	}
	int rc = copy_string(root, "id", id, idlen, err, errlen);
	if (rc == 0) {
		rc = copy_string(root, "error", error, errorlen, err, errlen);
	}
	cJSON_Delete(root);
	return rc;
}

bool
rl_ack_wants_rx2(const char *error)
{
	return error != NULL && (strcmp(error, "TOO_EARLY") == 0 || strcmp(error, "TOO_LATE") == 0);
}
