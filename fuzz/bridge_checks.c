#include "bridge_checks.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "downlink.h"
#include "fuzz.h"
#include "jsonscan.h"
#include "uplink.h"

#define MAC         "b827ebfffe6a3c10"
#define RECEIVED_AT "2026-11-21T10:00:00.123456Z"

struct emitted {
	unsigned rxpk, stat;
};

static void
check_payload(void *arg, enum uplink_kind kind, const char *payload, size_t len)
{
	struct emitted *e = arg;
	FUZZ_CHECK(payload[len] == '\0' && strlen(payload) == len);
	/* The bridge's own scanner and cJSON (routerlink's and apigw's
	 * reader) must both accept what is published. */
	struct js_scanner s;
	FUZZ_CHECK(js_validate(&s, payload, len) == JS_OBJECT);
	cJSON *root = cJSON_ParseWithLength(payload, len);
	FUZZ_CHECK(cJSON_IsObject(root));
	const cJSON *mac = cJSON_GetObjectItemCaseSensitive(root, "mac");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "received_at");
	FUZZ_CHECK(cJSON_IsString(mac) && strcmp(mac->valuestring, MAC) == 0);
	FUZZ_CHECK(cJSON_IsString(at) && strcmp(at->valuestring, RECEIVED_AT) == 0);
	if (kind == UPLINK_RXPK) {
		const cJSON *rxpk = cJSON_GetObjectItemCaseSensitive(root, "rxpk");
		FUZZ_CHECK(cJSON_IsObject(rxpk));
		FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rxpk, "data")));
		e->rxpk++;
	} else {
		FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "stat")));
		e->stat++;
	}
	cJSON_Delete(root);
}

static void
map_once(const char *body, size_t len, bool forward_crc_bad)
{
	struct emitted e = {0};
	struct uplink_result res = {0};
	char err[256] = "";
	int rc = uplink_map(body, len, MAC, RECEIVED_AT, forward_crc_bad, check_payload, &e, &res,
	                    err, sizeof(err));
	FUZZ_CHECK(strlen(err) < sizeof(err));
	/* What the counters say is what was published. */
	FUZZ_CHECK(e.rxpk == res.rxpk_published);
	FUZZ_CHECK(e.stat == res.stat_published);
	struct js_scanner s;
	enum js_type type = js_validate(&s, body, len);
	if (rc == 0) {
		/* Accepted: the body is an object by the scanner's own rules. */
		FUZZ_CHECK(type == JS_OBJECT);
	} else {
		FUZZ_CHECK(rc == -1 && e.rxpk == 0 && e.stat == 0 && err[0] != '\0');
	}
	if (!forward_crc_bad) {
		return;
	}
	/* With forward_crc_bad every CRC-bad frame is published too. */
	FUZZ_CHECK(res.rxpk_crc_bad <= res.rxpk_published);
}

/* js_compact keeps the value and is idempotent; what the strict scanner
 * accepts, cJSON accepts (the bridge publishes scanner-checked text to
 * consumers that read it with cJSON). */
static void
check_scanner(const char *body, size_t len)
{
	struct js_scanner s;
	enum js_type type = js_validate(&s, body, len);
	if (type == JS_NONE) {
		FUZZ_CHECK(s.error != NULL && s.error_pos <= len);
		return;
	}
	FUZZ_CHECK(fuzz_json_parses(body, len));
	char *once = malloc(len + 1), *twice = malloc(len + 1);
	FUZZ_CHECK(once != NULL && twice != NULL);
	size_t n1 = js_compact(body, len, once);
	FUZZ_CHECK(n1 <= len);
	FUZZ_CHECK(js_validate(&s, once, n1) == type);
	size_t n2 = js_compact(once, n1, twice);
	FUZZ_CHECK(n2 == n1 && memcmp(once, twice, n1) == 0);
	free(once);
	free(twice);
}

void
check_push_data(const char *body, size_t len)
{
	map_once(body, len, false);
	map_once(body, len, true);
	check_scanner(body, len);
}

void
check_tx_ack(const char *body, size_t len)
{
	/* The sizes bridge_handle_tx_ack() uses. */
	char error[40], err[200];
	char *txpk_ack = NULL;
	char *ack;
	if (txack_parse(body, len, error, sizeof(error), &txpk_ack, err, sizeof(err)) != 0) {
		FUZZ_CHECK(txpk_ack == NULL && err[0] != '\0' && strlen(err) < sizeof(err));
		ack = ack_build(MAC, "\"rl-1\"", ACK_INVALID_TX_ACK, err, NULL);
	} else {
		FUZZ_CHECK(error[0] != '\0' && strlen(error) < sizeof(error));
		FUZZ_CHECK(txpk_ack == NULL || fuzz_json_is_object(txpk_ack, strlen(txpk_ack)));
		ack = ack_build(MAC, "\"rl-1\"", error, NULL, txpk_ack);
	}
	/* Every request ends in exactly one ack: building it never fails. */
	FUZZ_CHECK(ack != NULL);
	FUZZ_CHECK(fuzz_json_is_object(ack, strlen(ack)));
	free(ack);
	free(txpk_ack);
}
