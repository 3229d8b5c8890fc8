/*
 * A `lorawan/<mac>/down` payload as the bridge handles it
 * (downlink_io.c bridge_handle_down): downlink_parse(), the ack of a
 * refused request (with the request's own id), or the PULL_RESP a
 * gateway gets. The same bytes also go through txack_parse() as a TX_ACK
 * body (the two are shaped alike: an object holding one object).
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bridge_checks.h"
#include "downlink.h"
#include "fuzz.h"
#include "gwmp.h"
#include "jsonscan.h"

#define MAC "b827ebfffe6a3c10"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

static void
check_down(const char *payload, size_t len)
{
	struct downlink_request req;
	char err[256];
	int rc = downlink_parse(payload, len, &req, err, sizeof(err));
	/* The id goes into the ack as raw JSON text. */
	FUZZ_CHECK(memchr(req.id_json, '\0', sizeof(req.id_json)) != NULL);
	struct js_scanner s;
	enum js_type id_type = js_validate(&s, req.id_json, strlen(req.id_json));
	FUZZ_CHECK(id_type == JS_STRING || id_type == JS_NUMBER || id_type == JS_NULL);
	char *ack;
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && req.pull_resp_json == NULL && err[0] != '\0');
		ack = ack_build(MAC, req.id_json[0] ? req.id_json : "null", ACK_MALFORMED, err,
		                NULL);
	} else {
		FUZZ_CHECK(req.pull_resp_json != NULL &&
		           strlen(req.pull_resp_json) == req.pull_resp_len);
		cJSON *root = cJSON_ParseWithLength(req.pull_resp_json, req.pull_resp_len);
		const cJSON *txpk = cJSON_GetObjectItemCaseSensitive(root, "txpk");
		FUZZ_CHECK(cJSON_IsObject(txpk));
		/* What the reference forwarder insists on is there. */
		FUZZ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(txpk, "freq")));
		FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(txpk, "data")));
		FUZZ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(txpk, "size")));
		cJSON_Delete(root);
		/* The bridge's datagram buffer (send_pull_resp) always fits it. */
		uint8_t datagram[GWMP_ACK_LEN + DOWNLINK_MAX_PAYLOAD + 64];
		const uint8_t token[2] = {0x12, 0x34};
		size_t n = gwmp_build_pull_resp(datagram, sizeof(datagram), 2, token,
		                                req.pull_resp_json, req.pull_resp_len);
		FUZZ_CHECK(n == GWMP_ACK_LEN + req.pull_resp_len);
		ack = ack_build(MAC, req.id_json, ACK_NONE, NULL, NULL);
	}
	/* Every request ends in exactly one ack: building it never fails. */
	FUZZ_CHECK(ack != NULL && fuzz_json_is_object(ack, strlen(ack)));
	free(ack);
	downlink_request_clear(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_down((const char *)data, size);
	check_tx_ack((const char *)data, size);
	return 0;
}
