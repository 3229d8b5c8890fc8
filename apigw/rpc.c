#include "rpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "lf/json.h"
#include "lf/util.h"

const char *
rpc_method_name(enum rpc_method method)
{
	return method == RPC_SIGN ? "sign" : "packets";
}

void
rpc_corr_encode(uint64_t nonce, uint64_t seq, uint8_t out[RPC_CORR_LEN])
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(nonce >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
}

int
rpc_corr_decode(const void *data, size_t len, uint64_t nonce, uint64_t *seq)
{
	const uint8_t *p = data;
	if (p == NULL || len != RPC_CORR_LEN) {
		return -1;
	}
	uint64_t n = 0, s = 0;
	for (int i = 0; i < 8; i++) {
		n = n << 8 | p[i];
		s = s << 8 | p[8 + i];
	}
	if (n != nonce) {
		return -1;
	}
	*seq = s;
	return 0;
}

static char *
print_and_free(cJSON *obj)
{
	char *text = obj != NULL ? lf_json_print(obj) : NULL;
	cJSON_Delete(obj);
	return text;
}

char *
rpc_packets_request(const char *mac)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mac", mac);
	return print_and_free(o);
}

char *
rpc_sign_request(const char *mac, const char *body, size_t len, char *err, size_t errlen)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
	const char *data = NULL;
	char *out = NULL;
	if (root == NULL) {
		lf_format_err(err, errlen, "the body is not valid JSON");
	} else if (!cJSON_IsObject(root)) {
		lf_format_err(err, errlen,
		              "the body must be a JSON object: {\"data\": \"<base64>\"}");
	} else if (lf_json_get_string(root, "data", &data, err, errlen) != 1) {
		if (data == NULL && cJSON_GetObjectItemCaseSensitive(root, "data") == NULL) {
			lf_format_err(err, errlen, "data: missing");
		}
	} else {
		size_t dlen = strlen(data);
		size_t cap = dlen / 4 * 3 + 3;
		uint8_t *bin = malloc(cap);
		long n = bin != NULL ? lf_base64_decode(data, dlen, bin, cap) : -1;
		free(bin);
		if (n < 0) {
			lf_format_err(err, errlen, "data: not valid base64");
		} else if (n > RPC_SIGN_MAX) {
			lf_format_err(err, errlen, "data: larger than 64 KiB");
		} else {
			cJSON *req = cJSON_CreateObject();
			cJSON_AddStringToObject(req, "mac", mac);
			cJSON_AddStringToObject(req, "data", data);
			out = print_and_free(req);
			if (out == NULL) {
				lf_format_err(err, errlen, "out of memory");
			}
		}
	}
	cJSON_Delete(root);
	return out;
}

static int
error_body(int status, const char *text, char **body)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", text);
	*body = print_and_free(o);
	return status;
}

int
rpc_reply_http(enum rpc_method method, const char *payload, size_t len, char **body)
{
	*body = NULL;
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
	int rc;
	if (!cJSON_IsObject(root) || !cJSON_IsNumber(status)) {
		rc = error_body(502, "routerlink sent a reply apigw cannot read", body);
	} else if (status->valueint == 400 || status->valueint == 404 || status->valueint == 500) {
		rc = error_body(status->valueint,
		                cJSON_IsString(error) ? error->valuestring : "routerlink refused",
		                body);
	} else if (status->valueint != 200) {
		rc = error_body(502, "routerlink answered with an unexpected status", body);
	} else if (method == RPC_PACKETS) {
		cJSON *packets = cJSON_DetachItemFromObjectCaseSensitive(root, "packets");
		if (cJSON_IsArray(packets)) {
			*body = print_and_free(packets);
			rc = *body != NULL ? 200 : error_body(500, "out of memory", body);
		} else {
			cJSON_Delete(packets);
			rc = error_body(502, "routerlink's packets reply has no packets", body);
		}
	} else {
		const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
		if (cJSON_IsString(sig)) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "signature", sig->valuestring);
			*body = print_and_free(o);
			rc = *body != NULL ? 200 : error_body(500, "out of memory", body);
		} else {
			rc = error_body(502, "routerlink's sign reply has no signature", body);
		}
	}
	cJSON_Delete(root);
	return rc;
}

void
rpc_timeout_error(int64_t timeout_ms, char *out, size_t outlen)
{
	if (timeout_ms % 1000 == 0) {
		snprintf(out, outlen, "routerlink did not answer within %lld s",
		         (long long)(timeout_ms / 1000));
	} else {
		snprintf(out, outlen, "routerlink did not answer within %lld ms",
		         (long long)timeout_ms);
	}
}
