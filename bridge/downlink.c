#include "downlink.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "jsonscan.h"
#include "lf/util.h"

/*
 * Downlinks are rare, so cJSON does the work here. The strict scanner runs
 * first anyway: it holds `down` messages to the same JSON rules as uplinks
 * and caps nesting before cJSON's recursive parser sees the text.
 */

#define TXPK_MAX_DATA 255
/* 255 bytes take 340 base64 characters without padding. */
#define TXPK_MAX_DATA_B64 340
/* Gateway error codes we pass on: short, upper-case, safe as a label. */
#define TXACK_ERROR_MAX 32

/* Strictly validates, then parses with cJSON; the root must be an object. */
static int
parse_object(const char *text, size_t len, cJSON **root, char *err, size_t errlen)
{
	struct js_scanner s;
	enum js_type type = js_validate(&s, text, len);
	if (type == JS_NONE) {
		return lf_set_err(err, errlen, "invalid JSON at offset %zu: %s", s.error_pos,
		                  s.error);
	}
	if (type != JS_OBJECT) {
		return lf_set_err(err, errlen, "expected a JSON object, got %s",
		                  js_type_name(type));
	}
	*root = cJSON_ParseWithLength(text, len);
	if (*root == NULL) {
		/* Valid JSON cJSON cannot represent (a lone \u surrogate), or no memory. */
		return lf_set_err(err, errlen, "invalid JSON: not readable");
	}
	return 0;
}

/* Typed getters: 1 present and right, 0 absent, -1 wrong (err set). */
static int
get_number(const cJSON *obj, const char *key, double *out, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item == NULL) {
		return 0;
	}
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
		return lf_set_err(err, errlen, "txpk.%s: expected a number", key);
	}
	*out = item->valuedouble;
	return 1;
}

static int
get_int(const cJSON *obj, const char *key, double min, double max, double *out, char *err,
        size_t errlen)
{
	int r = get_number(obj, key, out, err, errlen);
	if (r <= 0) {
		return r;
	}
	if (*out != floor(*out)) {
		return lf_set_err(err, errlen, "txpk.%s: expected an integer", key);
	}
	if (*out < min || *out > max) {
		return lf_set_err(err, errlen, "txpk.%s: out of range (%.0f..%.0f)", key, min, max);
	}
	return 1;
}

static int
get_bool(const cJSON *obj, const char *key, bool *out, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item == NULL) {
		return 0;
	}
	if (!cJSON_IsBool(item)) {
		return lf_set_err(err, errlen, "txpk.%s: expected a boolean", key);
	}
	*out = cJSON_IsTrue(item);
	return 1;
}

static int
get_string(const cJSON *obj, const char *key, const char **out, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item == NULL) {
		return 0;
	}
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		return lf_set_err(err, errlen, "txpk.%s: expected a string", key);
	}
	*out = item->valuestring;
	return 1;
}

/*
 * The forwarder's JSON parser (parson) refuses an object with a repeated
 * key, which would abort the TX with no TX_ACK; cJSON keeps both and would
 * print both. Depth is already capped by the scanner; the limit here only
 * makes that visible.
 */
static const char *
duplicate_key(const cJSON *item, int depth)
{
	if (depth > JS_MAX_DEPTH) {
		return NULL;
	}
	for (const cJSON *a = item->child; a != NULL; a = a->next) {
		if (cJSON_IsObject(item)) {
			for (const cJSON *b = item->child; b != a; b = b->next) {
				if (strcmp(a->string, b->string) == 0) {
					return a->string;
				}
			}
		}
		const char *dup = duplicate_key(a, depth + 1);
		if (dup != NULL) {
			return dup;
		}
	}
	return NULL;
}

/* When to send: imme true, or a counter (tmst) or GPS (tmms) time. */
static int
check_timing(const cJSON *txpk, char *err, size_t errlen)
{
	bool imme = false;
	double v;
	int has_imme = get_bool(txpk, "imme", &imme, err, errlen);
	int has_tmst = has_imme < 0 ? -1 : get_int(txpk, "tmst", 0, UINT32_MAX, &v, err, errlen);
	int has_tmms =
	        has_tmst < 0 ? -1 : get_int(txpk, "tmms", 0, 9007199254740992.0, &v, err, errlen);
	if (has_tmms < 0) {
		return -1;
	}
	if (!imme && has_tmst == 0 && has_tmms == 0) {
		return lf_set_err(err, errlen, "txpk: needs imme true, tmst or tmms");
	}
	return 0;
}

/* "SF<n>BW<n>", as the reference forwarder reads it with sscanf. */
static bool
lora_datr_ok(const char *s)
{
	size_t n;
	if (strncmp(s, "SF", 2) != 0) {
		return false;
	}
	s += 2;
	n = strspn(s, "0123456789");
	if (n < 1 || n > 2 || strncmp(s + n, "BW", 2) != 0) {
		return false;
	}
	s += n + 2;
	n = strspn(s, "0123456789");
	return n >= 1 && n <= 4 && s[n] == '\0';
}

static int
check_modulation(const cJSON *txpk, char *err, size_t errlen)
{
	const char *modu = NULL, *text = NULL;
	double v;
	int r = get_string(txpk, "modu", &modu, err, errlen);
	if (r <= 0) {
		return r < 0 ? -1 : lf_set_err(err, errlen, "txpk.modu: missing");
	}
	if (strcmp(modu, "LORA") == 0) {
		r = get_string(txpk, "datr", &text, err, errlen);
		if (r <= 0) {
			return r < 0 ? lf_set_err(
			                       err, errlen,
			                       "txpk.datr: expected a string (\"SF<n>BW<n>\") for "
			                       "LoRa")
			             : lf_set_err(err, errlen, "txpk.datr: missing");
		}
		if (!lora_datr_ok(text)) {
			return lf_set_err(err, errlen,
			                  "txpk.datr: expected \"SF<n>BW<n>\" for LoRa");
		}
		r = get_string(txpk, "codr", &text, err, errlen);
		return r < 0 ? -1 : r == 0 ? lf_set_err(err, errlen, "txpk.codr: missing") : 0;
	}
	if (strcmp(modu, "FSK") == 0) {
		r = get_number(txpk, "datr", &v, err, errlen);
		if (r <= 0 || v <= 0) {
			return r == 0 ? lf_set_err(err, errlen, "txpk.datr: missing")
			              : lf_set_err(
			                        err, errlen,
			                        "txpk.datr: expected a positive number (bit/s) for "
			                        "FSK");
		}
		r = get_number(txpk, "fdev", &v, err, errlen);
		return r < 0 ? -1 : r == 0 ? lf_set_err(err, errlen, "txpk.fdev: missing") : 0;
	}
	return lf_set_err(err, errlen, "txpk.modu: expected \"LORA\" or \"FSK\"");
}

/* Frequency, RF chain, power and the optional flags the forwarder reads. */
static int
check_radio(const cJSON *txpk, char *err, size_t errlen)
{
	double v;
	bool b;
	int r = get_number(txpk, "freq", &v, err, errlen);
	if (r <= 0) {
		return r < 0 ? -1 : lf_set_err(err, errlen, "txpk.freq: missing");
	}
	if (v <= 0 || v >= 10000) {
		return lf_set_err(err, errlen, "txpk.freq: out of range (MHz)");
	}
	if (get_int(txpk, "rfch", 0, 255, &v, err, errlen) < 0 ||
	    get_number(txpk, "powe", &v, err, errlen) < 0 ||
	    get_int(txpk, "prea", 0, 65535, &v, err, errlen) < 0 ||
	    get_bool(txpk, "ipol", &b, err, errlen) < 0 ||
	    get_bool(txpk, "ncrc", &b, err, errlen) < 0 ||
	    get_bool(txpk, "nhdr", &b, err, errlen) < 0) {
		return -1;
	}
	return 0;
}

/* data (base64, padding optional) and size; *data_len gets the byte count. */
static int
check_data(const cJSON *txpk, long *data_len, char *err, size_t errlen)
{
	const char *data = NULL;
	int r = get_string(txpk, "data", &data, err, errlen);
	if (r <= 0) {
		return r < 0 ? -1 : lf_set_err(err, errlen, "txpk.data: missing");
	}
	size_t textlen = strlen(data);
	size_t unpadded = textlen;
	while (unpadded > 0 && data[unpadded - 1] == '=') {
		unpadded--;
	}
	if (unpadded > TXPK_MAX_DATA_B64) {
		return lf_set_err(err, errlen, "txpk.data: more than %d bytes", TXPK_MAX_DATA);
	}
	uint8_t bin[TXPK_MAX_DATA + 3];
	long n = lf_base64_decode(data, textlen, bin, sizeof(bin));
	if (n < 0) {
		return lf_set_err(err, errlen, "txpk.data: not valid base64");
	}
	if (n > TXPK_MAX_DATA) {
		return lf_set_err(err, errlen, "txpk.data: more than %d bytes", TXPK_MAX_DATA);
	}
	double size;
	r = get_int(txpk, "size", 0, 65535, &size, err, errlen);
	if (r < 0) {
		return -1;
	}
	if (r > 0 && (long)size != n) {
		return lf_set_err(err, errlen, "txpk.size %ld does not match data length %ld",
		                  (long)size, n);
	}
	*data_len = n;
	return 0;
}

/* Fills in rfch and size, and wraps txpk as {"txpk":..}. */
static int
build_pull_resp(cJSON *txpk, long data_len, struct downlink_request *out, char *err, size_t errlen)
{
	if ((cJSON_GetObjectItemCaseSensitive(txpk, "rfch") == NULL &&
	     cJSON_AddNumberToObject(txpk, "rfch", 0) == NULL) ||
	    (cJSON_GetObjectItemCaseSensitive(txpk, "size") == NULL &&
	     cJSON_AddNumberToObject(txpk, "size", (double)data_len) == NULL)) {
		return lf_set_err(err, errlen, "out of memory");
	}
	cJSON *wrap = cJSON_CreateObject();
	if (wrap == NULL) {
		return lf_set_err(err, errlen, "out of memory");
	}
	/* A reference: root keeps ownership of txpk. */
	if (!cJSON_AddItemReferenceToObject(wrap, "txpk", txpk)) {
		cJSON_Delete(wrap);
		return lf_set_err(err, errlen, "out of memory");
	}
	out->pull_resp_json = cJSON_PrintUnformatted(wrap);
	cJSON_Delete(wrap);
	if (out->pull_resp_json == NULL) {
		return lf_set_err(err, errlen, "out of memory");
	}
	out->pull_resp_len = strlen(out->pull_resp_json);
	return 0;
}

static int
read_id(const cJSON *root, char id_json[DOWNLINK_ID_MAX], char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id == NULL || cJSON_IsNull(id)) {
		return 0;
	}
	if (!cJSON_IsString(id) && !(cJSON_IsNumber(id) && isfinite(id->valuedouble))) {
		return lf_set_err(err, errlen, "id: expected a string or a number");
	}
	char *text = cJSON_PrintUnformatted(id);
	if (text == NULL) {
		return lf_set_err(err, errlen, "out of memory");
	}
	size_t n = strlen(text);
	if (n >= DOWNLINK_ID_MAX) {
		free(text);
		return lf_set_err(err, errlen, "id: longer than %d bytes", DOWNLINK_ID_MAX - 1);
	}
	memcpy(id_json, text, n + 1);
	free(text);
	return 0;
}

static int
check_txpk(const cJSON *root, cJSON **txpk_out, long *data_len, char *err, size_t errlen)
{
	cJSON *txpk = cJSON_GetObjectItemCaseSensitive(root, "txpk");
	if (txpk == NULL) {
		return lf_set_err(err, errlen, "txpk: missing");
	}
	if (!cJSON_IsObject(txpk)) {
		return lf_set_err(err, errlen, "txpk: expected an object");
	}
	const char *dup = duplicate_key(txpk, 0);
	if (dup != NULL) {
		return lf_set_err(err, errlen, "txpk: duplicate key \"%.32s\"", dup);
	}
	if (check_timing(txpk, err, errlen) != 0 || check_radio(txpk, err, errlen) != 0 ||
	    check_modulation(txpk, err, errlen) != 0 ||
	    check_data(txpk, data_len, err, errlen) != 0) {
		return -1;
	}
	*txpk_out = txpk;
	return 0;
}

int
downlink_parse(const char *payload, size_t len, struct downlink_request *out, char *err,
               size_t errlen)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->id_json, "null", 5);
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	if (len > DOWNLINK_MAX_PAYLOAD) {
		return lf_set_err(err, errlen, "payload larger than %d bytes",
		                  DOWNLINK_MAX_PAYLOAD);
	}
	cJSON *root = NULL;
	if (parse_object(payload ? payload : "", payload ? len : 0, &root, err, errlen) != 0) {
		return -1;
	}
	/* The id first, so that a refused request still gets its own id back. */
	cJSON *txpk = NULL;
	long data_len = 0;
	int r = read_id(root, out->id_json, err, errlen);
	if (r == 0) {
		r = check_txpk(root, &txpk, &data_len, err, errlen);
	}
	if (r == 0) {
		r = build_pull_resp(txpk, data_len, out, err, errlen);
	}
	cJSON_Delete(root);
	return r;
}

void
downlink_request_clear(struct downlink_request *req)
{
	if (req == NULL) {
		return;
	}
	free(req->pull_resp_json);
	req->pull_resp_json = NULL;
	req->pull_resp_len = 0;
}

static bool
error_code_ok(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= TXACK_ERROR_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
			return false;
		}
	}
	return n > 0;
}

/* Reads txpk_ack from a parsed body; error_out is set on success. */
static int
read_txpk_ack(const cJSON *root, char *error_out, size_t error_len, char **txpk_ack_json, char *err,
              size_t errlen)
{
	const cJSON *ack = cJSON_GetObjectItemCaseSensitive(root, "txpk_ack");
	if (ack == NULL) {
		return lf_set_err(err, errlen, "txpk_ack: missing");
	}
	if (!cJSON_IsObject(ack)) {
		return lf_set_err(err, errlen, "txpk_ack: expected an object");
	}
	/* sx1302's {"warn":"TX_POWER","value":..} has no "error": it was sent. */
	const char *code = ACK_NONE;
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(ack, "error");
	if (error != NULL) {
		if (!cJSON_IsString(error) || error->valuestring == NULL) {
			return lf_set_err(err, errlen, "txpk_ack.error: expected a string");
		}
		if (!error_code_ok(error->valuestring)) {
			return lf_set_err(
			        err, errlen,
			        "txpk_ack.error: expected up to %d characters A-Z, 0-9, _",
			        TXACK_ERROR_MAX);
		}
		code = error->valuestring;
	}
	*txpk_ack_json = cJSON_PrintUnformatted(ack);
	if (*txpk_ack_json == NULL) {
		return lf_set_err(err, errlen, "out of memory");
	}
	lf_strlcpy(error_out, code, error_len);
	return 0;
}

int
txack_parse(const char *body, size_t len, char *error_out, size_t error_len, char **txpk_ack_json,
            char *err, size_t errlen)
{
	if (txpk_ack_json == NULL) {
		return lf_set_err(err, errlen, "no place for the txpk_ack text");
	}
	*txpk_ack_json = NULL;
	if (error_out != NULL && error_len > 0) {
		error_out[0] = '\0';
	}
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	if (error_out == NULL || error_len == 0) {
		return lf_set_err(err, errlen, "no room for the error code");
	}
	/* The reference sends no body; some send one NUL, or NULs after JSON. */
	while (body != NULL && len > 0 &&
	       (body[len - 1] == '\0' || body[len - 1] == ' ' || body[len - 1] == '\n' ||
	        body[len - 1] == '\r' || body[len - 1] == '\t')) {
		len--;
	}
	if (body == NULL || len == 0) {
		lf_strlcpy(error_out, ACK_NONE, error_len);
		return 0;
	}
	cJSON *root = NULL;
	if (parse_object(body, len, &root, err, errlen) != 0) {
		return -1;
	}
	int r = read_txpk_ack(root, error_out, error_len, txpk_ack_json, err, errlen);
	cJSON_Delete(root);
	return r;
}

/* The raw parts are inserted as they are, so they must be valid JSON. */
static bool
raw_ok(const char *text)
{
	struct js_scanner s;
	return js_validate(&s, text, strlen(text)) != JS_NONE;
}

char *
ack_build(const char *mac, const char *id_json, const char *error, const char *detail,
          const char *txpk_ack_json)
{
	if (mac == NULL || error == NULL) {
		return NULL;
	}
	if (id_json == NULL || !raw_ok(id_json)) {
		id_json = "null";
	}
	if (txpk_ack_json != NULL && !raw_ok(txpk_ack_json)) {
		return NULL;
	}
	cJSON *obj = cJSON_CreateObject();
	char *text = NULL;
	if (obj != NULL && cJSON_AddStringToObject(obj, "mac", mac) != NULL &&
	    cJSON_AddRawToObject(obj, "id", id_json) != NULL &&
	    cJSON_AddStringToObject(obj, "error", error) != NULL &&
	    (detail == NULL || cJSON_AddStringToObject(obj, "detail", detail) != NULL) &&
	    (txpk_ack_json == NULL ||
	     cJSON_AddRawToObject(obj, "txpk_ack", txpk_ack_json) != NULL)) {
		text = cJSON_PrintUnformatted(obj);
	}
	cJSON_Delete(obj);
	return text;
}
