/*
 * An MQTT v5 request to routerlink on lorafleet/rpc/routerlink/<method>
 * (anyone with broker access can send one), as rpc.c answers it:
 * rpc_answer() over a routerlink with three gateways: one with a key in
 * a temporary key store and recent packets, one disabled, one whose key
 * file is missing. Input: the method (the topic's last level), a
 * newline, then the payload.
 *
 * Checks: every request that gets a reply gets a JSON object with status
 * 200, 400, 404 or 500; a 200 to sign carries the signature of the
 * request's bytes by that gateway's key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <sodium.h>

#include "fuzz.h"
#include "rl_checks.h"

#define EUI_DISABLED 0x0000000000000002ULL
#define EUI_NO_KEY   0x0000000000000003ULL

static struct rl_fuzz F;
static struct rl_gateway disabled, no_key;
static char keys_dir[256];

static void
remove_keys(void)
{
	char path[512], name[KEYS_FILENAME_LEN];
	keys_filename(RL_FUZZ_EUI, name);
	snprintf(path, sizeof(path), "%s/%s", keys_dir, name);
	unlink(path);
	rmdir(keys_dir);
}

static void
add_gateway(struct rl_gateway *gw, uint64_t eui)
{
	gw->eui = eui;
	lf_eui_format(eui, gw->mac);
	FUZZ_CHECK(lf_u64map_put(&F.rl.gateways, eui, gw) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	rl_fuzz_init(&F);
	const char *tmp = getenv("TMPDIR");
	snprintf(keys_dir, sizeof(keys_dir), "%s/lf-fuzz-keys-XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(keys_dir) != NULL);
	atexit(remove_keys);
	char err[256];
	FUZZ_CHECK(keys_create(keys_dir, RL_FUZZ_EUI, &F.key, err, sizeof(err)) == 0);
	keys_public_bin(&F.key, F.key_bin);
	F.cfg.keys_dir = keys_dir;
	F.rl.shard = (struct shard){.index = 0, .count = 1};
	lf_u64map_init(&F.rl.gateways);
	add_gateway(&F.gw, RL_FUZZ_EUI);
	add_gateway(&disabled, EUI_DISABLED);
	disabled.disabled = true;
	add_gateway(&no_key, EUI_NO_KEY);
	/* An uplink and a downlink in the ring, for the packets query. */
	struct uplink up = {.eui = RL_FUZZ_EUI,
	                    .payload = {0x40, 1, 2, 3, 4, 0, 1, 0, 1, 9, 9, 9, 9},
	                    .payload_len = 13,
	                    .rssi = -80,
	                    .snr = 7.5f,
	                    .frequency = 868100000};
	lorawan_parse(up.payload, up.payload_len, &up.frame);
	packets_add_uplink(&F.rl, &F.gw, &up);
	struct router_msg down = {.kind = ROUTER_MSG_PACKET,
	                          .payload = {0x60, 1, 2, 3, 4},
	                          .payload_len = 5,
	                          .rx1 = {.frequency = 869525000}};
	packets_add_downlink(&F.rl, &F.gw, &down);
	return 0;
}

/* A 200 to sign: the signature verifies over the request's data. */
static void
check_signature(const cJSON *reply, const char *payload, size_t len)
{
	cJSON *req = cJSON_ParseWithLength(payload, len);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(req, "data");
	const cJSON *sig64 = cJSON_GetObjectItemCaseSensitive(reply, "signature");
	FUZZ_CHECK(cJSON_IsString(data) && cJSON_IsString(sig64));
	size_t dlen = strlen(data->valuestring);
	uint8_t *bin = malloc(dlen / 4 * 3 + 3);
	FUZZ_CHECK(bin != NULL);
	long n = lf_base64_decode(data->valuestring, dlen, bin, dlen / 4 * 3 + 3);
	uint8_t sig[crypto_sign_BYTES + 8];
	long siglen =
	        lf_base64_decode(sig64->valuestring, strlen(sig64->valuestring), sig, sizeof(sig));
	FUZZ_CHECK(n >= 0 && siglen == crypto_sign_BYTES);
	FUZZ_CHECK(crypto_sign_verify_detached(sig, bin, (size_t)n, F.key.pk) == 0);
	free(bin);
	cJSON_Delete(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t mlen = nl != NULL ? (size_t)(nl - data) : size;
	/* A topic level: no NUL, no '/' (MQTT topics cannot carry NUL). */
	if (mlen > 64 || memchr(data, '\0', mlen) != NULL || memchr(data, '/', mlen) != NULL) {
		return 0;
	}
	char method[65];
	memcpy(method, data, mlen);
	method[mlen] = '\0';
	const char *payload = nl != NULL ? (const char *)nl + 1 : "";
	size_t plen = nl != NULL ? size - mlen - 1 : 0;
	/* An exactly sized copy, so that ASan sees any read past the end. */
	char *copy = plen > 0 ? malloc(plen) : NULL;
	if (plen > 0) {
		FUZZ_CHECK(copy != NULL);
		memcpy(copy, payload, plen);
	}
	const char *result = NULL;
	char *text = rpc_answer(&F.rl, method, copy, plen, &result);
	FUZZ_CHECK(result != NULL);
	/* One instance (shard 0/1): every request is answered. */
	FUZZ_CHECK(text != NULL && strcmp(result, "other_shard") != 0);
	cJSON *reply = cJSON_Parse(text);
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(reply, "status");
	FUZZ_CHECK(cJSON_IsObject(reply) && cJSON_IsNumber(status));
	int st = status->valueint;
	FUZZ_CHECK(st == 200 || st == 400 || st == 404 || st == 500);
	FUZZ_CHECK((st == 200) == (strcmp(result, "ok") == 0));
	FUZZ_CHECK(st == 200 || cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply, "error")));
	if (st == 200 && strcmp(method, "sign") == 0) {
		check_signature(reply, copy, plen);
	} else if (st == 200) {
		FUZZ_CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "packets")));
	}
	cJSON_Delete(reply);
	free(text);
	free(copy);
	return 0;
}
