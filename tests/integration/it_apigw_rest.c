/*
 * apigw over real HTTP against the real chain: a UDP gateway -> bridge ->
 * mosquitto -> routerlink -> the fake Helium router, and apigw answering
 * from the broker: every route and error, the auth matrix, an uplink on
 * /events and in /packets, sign verified with the gateway's public key,
 * body limits, routerlink stopped -> 504, /metrics through promtool, and
 * the same /gateways after an apigw restart.
 */
#include "harness.h"
#include "th_apigw.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b58.h"

#define WAIT_MS   15000
#define MAC       "aa555a0000000a01"
#define READ_KEY  "read-key-0123456789abcdef"
#define WRITE_KEY "write-key-0123456789abcdef"
#define READ_HDR  "X-API-Key: " READ_KEY "\r\n"
#define WRITE_HDR "X-API-Key: " WRITE_KEY "\r\n"

static struct th_suite suite = {.name = "apigwrest"};
static struct th_router router;
static struct th_daemon routerlink;
static struct th_apigw apigw;
static struct th_gateway gw;

static const char PUSH[] =
        "{\"rxpk\":[{\"tmst\":3512348611,\"chan\":2,\"rfch\":0,\"freq\":903.900000,\"stat\":1,"
        "\"modu\":\"LORA\",\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"rssi\":-80,\"lsnr\":7.5,"
        "\"size\":23,\"data\":\"AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=\"}]}";

/* GET with the read key; fails the test unless the status is `want`. */
static cJSON *
get_json(const char *path, const char *extra, int want)
{
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, path, extra, &r), 0);
	if (r.status != want) {
		fail_msg("GET %s: %d %s, expected %d", path, r.status, r.body, want);
	}
	assert_string_equal(th_http_header(&r, "content-type"), "application/json");
	cJSON *json = r.json;
	r.json = NULL;
	th_http_resp_free(&r);
	assert_non_null(json);
	return json;
}

static void
expect_error(const char *method, const char *path, const char *extra, const char *body, int status,
             const char *error)
{
	struct th_http_resp r;
	assert_int_equal(th_http_request(apigw.port, method, path, extra, body, &r), 0);
	if (r.status != status || !cJSON_IsString(cJSON_GetObjectItem(r.json, "error")) ||
	    (error != NULL &&
	     strcmp(cJSON_GetObjectItem(r.json, "error")->valuestring, error) != 0)) {
		fail_msg("%s %s: %d %s, expected %d {\"error\":\"%s\"}", method, path, r.status,
		         r.body, status, error != NULL ? error : "...");
	}
	th_http_resp_free(&r);
}

static int
setup(void **state)
{
	*state = &suite;
	struct th_suite *s = &suite;
	if (th_routerlink_setup(state, &router, &routerlink, "it-rl", "metrics_interval = 1s\n") !=
	            0 ||
	    th_apigw_start(&apigw, &s->env, &s->broker, "it-api",
	                   "read_api_key = " READ_KEY "\nwrite_api_key = " WRITE_KEY
	                   "\nrpc_timeout = 1s\n") != 0 ||
	    th_gw_open(&gw, MAC, NULL, s->bridge.udp_port) != 0 || th_gw_pull(&gw) != 0) {
		return -1;
	}
	cJSON *g = th_apigw_wait_connected(&apigw, MAC, READ_HDR, WAIT_MS);
	bool ok = cJSON_IsTrue(cJSON_GetObjectItem(g, "connected"));
	cJSON_Delete(g);
	return ok ? 0 : -1;
}

static void
test_gateway_routes(void **state)
{
	struct th_suite *s = *state;
	cJSON *g = th_apigw_wait_connected(&apigw, MAC, READ_HDR, WAIT_MS);
	assert_non_null(g);
	TH_ASSERT_STR(g, "mac", MAC);
	TH_ASSERT_BOOL(g, "connected", true);
	TH_ASSERT_BOOL(g, "online", true);
	TH_ASSERT_STR(g, "region", "US915");
	TH_ASSERT_STR(g, "router", "connected");
	TH_ASSERT_STR(g, "bridge", "it-apigwrest");
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(g, "connected_seconds")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(g, "uplink_count")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(g, "downlink_count")));
	assert_true(cJSON_HasObjectItem(g, "last_uplink_seconds_ago"));
	assert_false(cJSON_HasObjectItem(g, "latitude")); /* unknown: left out */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)gw.down_port);
	TH_ASSERT_STR(g, "addr", addr);
	/* The public key is routerlink's, as on the retained hotspot topic. */
	struct th_msg *m = th_mqtt_read_retained(&s->broker, "lorawan/" MAC "/hotspot", WAIT_MS);
	assert_non_null(m);
	cJSON *h = TH_PARSE(m->payload);
	TH_ASSERT_STR(g, "public_key", cJSON_GetObjectItem(h, "public_key")->valuestring);
	cJSON_Delete(h);
	th_msg_free(m);
	/* Any case, with or without separators: the same gateway. */
	static const char *const forms[] = {"AA555A0000000A01", "aa:55:5a:00:00:00:0a:01",
	                                    "AA-55-5A-00-00-00-0A-01"};
	for (size_t i = 0; i < TH_ARRAY_LEN(forms); i++) {
		char path[96];
		snprintf(path, sizeof(path), "/gateways/%s", forms[i]);
		cJSON *o = get_json(path, READ_HDR, 200);
		TH_ASSERT_STR(o, "mac", MAC);
		cJSON_Delete(o);
	}
	cJSON *list = get_json("/gateways", READ_HDR, 200);
	TH_ASSERT_NUM(list, "total", 1);
	TH_ASSERT_NUM(list, "online", 1);
	TH_ASSERT_NUM(list, "connected", 1);
	TH_ASSERT_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "gateways"), 0), "mac", MAC);
	cJSON_Delete(list);
	cJSON_Delete(g);
}

static void
test_errors(void **state)
{
	expect_error("GET", "/gateways/0011223344556677", READ_HDR, NULL, 404,
	             "Gateway 0011223344556677 not found");
	expect_error("GET", "/gateways/zz", READ_HDR, NULL, 400,
	             "Invalid MAC address format. Expected 16 hex characters.");
	expect_error("GET", "/gateways/aa555a0000000a0", READ_HDR, NULL, 400, NULL);
	expect_error("GET", "/gateways/a%20b", READ_HDR, NULL, 400, NULL);
	expect_error("GET", "/gateways/zz/packets", READ_HDR, NULL, 400, NULL);
	expect_error("POST", "/gateways/zz/sign", WRITE_HDR, "{\"data\":\"AA==\"}", 400, NULL);
	expect_error("GET", "/nope", READ_HDR, NULL, 404, "no such route: /nope");
	expect_error("GET", "/gateways/" MAC "/nope", READ_HDR, NULL, 404, NULL);
	/* 405 names what is allowed. */
	struct th_http_resp r;
	assert_int_equal(
	        th_http_request(apigw.port, "DELETE", "/gateways/" MAC, READ_HDR, NULL, &r), 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(th_http_header(&r, "allow"), "GET");
	th_http_resp_free(&r);
	assert_int_equal(
	        th_http_request(apigw.port, "GET", "/gateways/" MAC "/sign", WRITE_HDR, NULL, &r),
	        0);
	assert_int_equal(r.status, 405);
	assert_string_equal(th_http_header(&r, "allow"), "POST");
	th_http_resp_free(&r);
	expect_error("POST", "/gateways", READ_HDR, "{}", 405, "method POST not allowed; use GET");
	/* routerlink's own 404: sign never provisions a gateway. */
	expect_error("POST", "/gateways/0011223344556677/sign", WRITE_HDR, "{\"data\":\"AA==\"}",
	             404, "gateway 0011223344556677 not found");
	expect_error("GET", "/gateways/0011223344556677/packets", READ_HDR, NULL, 404,
	             "gateway 0011223344556677 not found");
}

static void
expect_status(const char *method, const char *path, const char *extra, const char *body, int status)
{
	struct th_http_resp r;
	assert_int_equal(th_http_request(apigw.port, method, path, extra, body, &r), 0);
	if (r.status != status) {
		fail_msg("%s %s with [%s]: %d %s, expected %d", method, path,
		         extra != NULL ? extra : "", r.status, r.body, status);
	}
	if (status == 401) {
		assert_string_equal(th_http_header(&r, "www-authenticate"), "Bearer");
	}
	th_http_resp_free(&r);
}

static void
test_auth_matrix(void **state)
{
	static const char *const reads[] = {"/gateways", "/gateways/" MAC,
	                                    "/gateways/" MAC "/packets", "/metrics"};
	for (size_t i = 0; i < TH_ARRAY_LEN(reads); i++) {
		expect_status("GET", reads[i], NULL, NULL, 401);
		expect_status("GET", reads[i], "X-API-Key: wrong-key-0123456789\r\n", NULL, 401);
		expect_status("GET", reads[i], WRITE_HDR, NULL, 401);
		expect_status("GET", reads[i], "Authorization: Basic cmVhZDprZXk=\r\n", NULL, 401);
		expect_status("GET", reads[i], READ_HDR, NULL, 200);
		expect_status("GET", reads[i], "Authorization: Bearer " READ_KEY "\r\n", NULL, 200);
	}
	expect_error("GET", "/gateways", NULL, NULL, 401,
	             "Missing API key (X-API-Key header or Authorization: Bearer)");
	expect_error("GET", "/gateways", "X-API-Key: nope\r\n", NULL, 401, "Invalid API key");
	/* Before the MAC is looked at: nothing is told without the key. */
	expect_status("GET", "/gateways/zz", NULL, NULL, 401);
	const char *sign = "/gateways/" MAC "/sign", *body = "{\"data\":\"AA==\"}";
	expect_status("POST", sign, NULL, body, 401);
	expect_status("POST", sign, READ_HDR, body, 401);
	expect_status("POST", sign, WRITE_HDR, body, 200);
	expect_status("POST", sign, "Authorization: Bearer " WRITE_KEY "\r\n", body, 200);
	/* Public: health and the event stream's refusal path (no key needed). */
	expect_status("GET", "/healthz", NULL, NULL, 200);
	expect_status("GET", "/events?mac=zz", NULL, NULL, 400);
	/* A key longer than any key: refused with a reason. */
	char big[700] = "X-API-Key: ";
	memset(big + 11, 'k', 600);
	strcpy(big + 611, "\r\n");
	expect_error("GET", "/gateways", big, NULL, 400, "the X-API-Key header is too long");
	/* Headers past 8 KiB in all (here a cookie): refused with a reason. */
	static char cookie[9100] = "Cookie: c=";
	memset(cookie + 10, 'c', 9000);
	strcpy(cookie + 9010, "\r\n");
	expect_error("GET", "/healthz", cookie, NULL, 400,
	             "request headers larger than 8192 bytes");
	/* Just under: served. */
	cookie[10 + 7000] = '\0';
	strcat(cookie, "\r\n");
	expect_status("GET", "/healthz", cookie, NULL, 200);
}

static void
test_uplink_on_events_and_packets(void **state)
{
	struct th_http_conn *sse = calloc(1, sizeof(*sse));
	struct th_http_resp head;
	assert_int_equal(th_http_connect(sse, apigw.port), 0);
	assert_int_equal(th_http_send(sse, "GET", "/events?mac=AA555A0000000A01", NULL, NULL, 0),
	                 0);
	assert_int_equal(th_http_read_head(sse, &head, WAIT_MS), 0);
	assert_int_equal(head.status, 200);
	assert_string_equal(th_http_header(&head, "content-type"), "text/event-stream");
	assert_string_equal(th_http_header(&head, "access-control-allow-origin"), "*");
	th_http_resp_free(&head);
	/* The stream is open once its headers came: the uplink is news. */
	assert_int_equal(th_gw_push(&gw, PUSH), 0);
	struct th_sse_event ev;
	assert_int_equal(th_sse_next(sse, &ev, WAIT_MS, NULL), 0);
	assert_string_equal(ev.event, "uplink");
	assert_true(ev.has_id);
	TH_ASSERT_STR(ev.json, "type", "uplink");
	TH_ASSERT_STR(ev.json, "mac", MAC);
	TH_ASSERT_STR(ev.json, "region", "US915");
	const cJSON *md = cJSON_GetObjectItem(ev.json, "metadata");
	TH_ASSERT_NUM(md, "rssi", -80);
	TH_ASSERT_NUM(md, "snr", 7.5);
	TH_ASSERT_NUM(md, "frequency", 903.9);
	TH_ASSERT_STR(md, "spreading_factor", "SF10BW125");
	TH_ASSERT_NUM(md, "payload_size", 23);
	TH_ASSERT_STR(md, "frame_type", "JoinRequest");
	TH_ASSERT_NUM(md, "tmst", 3512348611.0);
	th_sse_event_free(&ev);
	th_http_close(sse);
	free(sse);
	/* routerlink's ring, through apigw: multi-gateway's array, newest last. */
	cJSON *list = get_json("/gateways/" MAC "/packets", READ_HDR, 200);
	assert_true(cJSON_IsArray(list));
	int n = cJSON_GetArraySize(list);
	assert_true(n >= 1);
	const cJSON *p = cJSON_GetArrayItem(list, n - 1);
	TH_ASSERT_STR(p, "direction", "up");
	TH_ASSERT_STR(p, "frame_type", "JoinRequest");
	TH_ASSERT_STR(p, "spreading_factor", "SF10BW125");
	TH_ASSERT_NUM(p, "frequency", 903.9);
	TH_ASSERT_NUM(p, "rssi", -80);
	TH_ASSERT_NUM(p, "payload_size", 23);
	cJSON_Delete(list);
	/* And the uplink counts on /gateways/{mac}. */
	cJSON *g = get_json("/gateways/" MAC, READ_HDR, 200);
	assert_true(cJSON_GetObjectItem(g, "uplink_count")->valuedouble >= 1);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(g, "last_uplink_seconds_ago")));
	cJSON_Delete(g);
}

static void
test_sign_verified_with_the_public_key(void **state)
{
	cJSON *g = get_json("/gateways/" MAC, READ_HDR, 200);
	const char *address = cJSON_GetObjectItem(g, "public_key")->valuestring;
	uint8_t version = 0xff, pk[HELIUM_PUBKEY_BIN_LEN];
	assert_int_equal(b58check_decode(address, &version, pk, sizeof(pk)), HELIUM_PUBKEY_BIN_LEN);
	assert_int_equal(version, 0);
	assert_int_equal(pk[0], 0x01); /* mainnet ed25519 */
	cJSON_Delete(g);
	struct th_http_resp r;
	assert_int_equal(th_http_request(apigw.port, "POST",
	                                 "/gateways/aa:55:5a:00:00:00:0a:01/sign", WRITE_HDR,
	                                 "{\"data\":\"aGVsbG8gaGVsaXVt\"}", &r),
	                 0);
	assert_int_equal(r.status, 200);
	const char *sig64 = cJSON_GetObjectItem(r.json, "signature")->valuestring;
	uint8_t sig[64];
	assert_int_equal(lf_base64_decode(sig64, strlen(sig64), sig, sizeof(sig)), 64);
	assert_int_equal(
	        crypto_sign_verify_detached(sig, (const uint8_t *)"hello helium", 12, pk + 1), 0);
	th_http_resp_free(&r);
}

static void
test_bodies(void **state)
{
	const char *sign = "/gateways/" MAC "/sign";
	expect_error("POST", sign, WRITE_HDR, "{\"data\":\"%%%\"}", 400, "data: not valid base64");
	expect_error("POST", sign, WRITE_HDR, "{\"data\":", 400, "the body is not valid JSON");
	expect_error("POST", sign, WRITE_HDR, "[\"AA==\"]", 400,
	             "the body must be a JSON object: {\"data\": \"<base64>\"}");
	expect_error("POST", sign, WRITE_HDR, "{}", 400, "data: missing");
	expect_error("POST", sign, WRITE_HDR, "", 400, "the body is not valid JSON");
	/* No Content-Length, chunked, too large: refused and the connection
	 * closed (its remaining bytes cannot be framed). */
	static struct th_http_conn c;
	struct th_http_resp r;
	static const char *const raw[] = {
	        "POST /gateways/" MAC "/sign HTTP/1.1\r\nHost: x\r\n" WRITE_HDR "\r\n",
	        "POST /gateways/" MAC "/sign HTTP/1.1\r\nHost: x\r\n" WRITE_HDR
	        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	        "POST /gateways/" MAC "/sign HTTP/1.1\r\nHost: x\r\n" WRITE_HDR
	        "Content-Length: 5000\r\n\r\n",
	        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	};
	static const int status[] = {411, 411, 413, 400};
	static const char *const errors[] = {
	        "Content-Length required",
	        "chunked request bodies are not supported: send Content-Length",
	        "request body larger than 4096 bytes",
	        "Content-Length is not a number",
	};
	for (size_t i = 0; i < TH_ARRAY_LEN(raw); i++) {
		assert_int_equal(th_http_connect(&c, apigw.port), 0);
		assert_int_equal(th_http_send_raw(&c, raw[i], strlen(raw[i])), 0);
		assert_int_equal(th_http_read(&c, &r, WAIT_MS), 0);
		assert_int_equal(r.status, status[i]);
		assert_string_equal(cJSON_GetObjectItem(r.json, "error")->valuestring, errors[i]);
		assert_string_equal(th_http_header(&r, "connection"), "close");
		th_http_resp_free(&r);
		assert_true(th_http_closed(&c, WAIT_MS));
		th_http_close(&c);
	}
}

/* Several requests on one connection, with a bad one in the middle. */
static void
test_keep_alive(void **state)
{
	static struct th_http_conn c;
	struct th_http_resp r;
	assert_int_equal(th_http_connect(&c, apigw.port), 0);
	static const char *const paths[] = {"/healthz", "/gateways/zz", "/gateways/" MAC, "/nope",
	                                    "/gateways"};
	static const int status[] = {200, 400, 200, 404, 200};
	for (size_t i = 0; i < TH_ARRAY_LEN(paths); i++) {
		assert_int_equal(th_http_send(&c, "GET", paths[i], READ_HDR, NULL, 0), 0);
		assert_int_equal(th_http_read(&c, &r, WAIT_MS), 0);
		assert_int_equal(r.status, status[i]);
		th_http_resp_free(&r);
	}
	/* A sign with a body, then a GET, still on the same connection. */
	const char *body = "{\"data\":\"AA==\"}";
	assert_int_equal(
	        th_http_send(&c, "POST", "/gateways/" MAC "/sign", WRITE_HDR, body, strlen(body)),
	        0);
	assert_int_equal(th_http_read(&c, &r, WAIT_MS), 0);
	assert_int_equal(r.status, 200);
	th_http_resp_free(&r);
	assert_int_equal(th_http_send(&c, "GET", "/healthz", NULL, NULL, 0), 0);
	assert_int_equal(th_http_read(&c, &r, WAIT_MS), 0);
	assert_int_equal(r.status, 200);
	th_http_resp_free(&r);
	th_http_close(&c);
}

/* Garbage, a stalled request and headers past lws's budget: the server
 * stays up and answers everyone else meanwhile. */
static void
test_bad_clients_do_not_stop_others(void **state)
{
	static struct th_http_conn stalled, junk, huge;
	assert_int_equal(th_http_connect(&stalled, apigw.port), 0);
	const char *partial = "GET /gateways HTTP/1.1\r\nHost: x\r\nX-A";
	assert_int_equal(th_http_send_raw(&stalled, partial, strlen(partial)), 0);
	assert_int_equal(th_http_connect(&junk, apigw.port), 0);
	assert_int_equal(th_http_send_raw(&junk, "\x16\x03\x01\x00\xff garbage\r\n\r\n", 17), 0);
	assert_int_equal(th_http_connect(&huge, apigw.port), 0);
	static char big[20000];
	memset(big, 'a', sizeof(big));
	const char *start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ";
	assert_int_equal(th_http_send_raw(&huge, start, strlen(start)), 0);
	assert_int_equal(th_http_send_raw(&huge, big, sizeof(big)), 0);
	assert_true(th_http_closed(&huge, WAIT_MS));
	for (int i = 0; i < 20; i++) {
		expect_status("GET", "/healthz", NULL, NULL, 200);
	}
	th_http_close(&stalled);
	th_http_close(&junk);
	th_http_close(&huge);
	assert_true(th_daemon_alive(&apigw.d));
}

static void
test_metrics_pass_promtool(void **state)
{
	struct th_suite *s = *state;
	/* Wait for a routerlink snapshot to have reached apigw. */
	int64_t deadline = lf_now_ms() + WAIT_MS;
	struct th_http_resp r = {0};
	for (;;) {
		assert_int_equal(th_apigw_get(&apigw, "/metrics", READ_HDR, &r), 0);
		assert_int_equal(r.status, 200);
		if ((strstr(r.body, "lorafleet_routerlink_uplinks_received_total") != NULL &&
		     strstr(r.body, "lorafleet_bridge_") != NULL) ||
		    lf_now_ms() > deadline) {
			break;
		}
		th_http_resp_free(&r);
		usleep(200 * 1000);
	}
	assert_string_equal(th_http_header(&r, "content-type"),
	                    "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body,
	                       "# TYPE lorafleet_routerlink_uplinks_received_total counter\n"
	                       "lorafleet_routerlink_uplinks_received_total{instance=\"it-rl\"}"));
	assert_non_null(strstr(
	        r.body, "lorafleet_bridge_mqtt_connects_total{instance=\"it-apigwrest\"} 1\n"));
	assert_non_null(strstr(
	        r.body, "lorafleet_apigw_http_requests_total{instance=\"it-api\",status=\"200\"}"));
	assert_non_null(strstr(r.body, "lorafleet_gateway_online{mac=\"" MAC "\"} 1\n"));
	assert_non_null(strstr(r.body, "lorafleet_gateway_connected{mac=\"" MAC "\"} 1\n"));
	assert_non_null(strstr(
	        r.body, "lorafleet_service_up{service=\"routerlink\",instance=\"it-rl\"} 1\n"));
	char path[TH_PATH_MAX], out[TH_PATH_MAX], cmd[3 * TH_PATH_MAX];
	th_env_path(&s->env, "metrics.txt", path, sizeof(path));
	th_env_path(&s->env, "promtool.log", out, sizeof(out));
	assert_int_equal(th_write_file(path, r.body), 0);
	th_http_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s > %s 2>&1", LF_PROMTOOL_BIN, path, out);
	int rc = system(cmd);
	if (rc != 0) {
		th_print_tail(out, 40);
		fail_msg("promtool check metrics failed (%d)", rc);
	}
}

/* routerlink away: packets and sign answer 504 after rpc_timeout. */
static void
test_routerlink_stopped_504(void **state)
{
	assert_int_equal(th_daemon_stop(&routerlink), 0);
	int64_t t0 = lf_now_ms();
	expect_error("GET", "/gateways/" MAC "/packets", READ_HDR, NULL, 504,
	             "routerlink did not answer within 1 s");
	int64_t took = lf_now_ms() - t0;
	assert_true(took >= 1000 && took < 5000);
	expect_error("POST", "/gateways/" MAC "/sign", WRITE_HDR, "{\"data\":\"AA==\"}", 504,
	             "routerlink did not answer within 1 s");
	/* Reads from the model still work. */
	cJSON_Delete(get_json("/gateways/" MAC, READ_HDR, 200));
	assert_int_equal(th_routerlink_restart(&routerlink), 0);
	struct th_http_resp r;
	int64_t deadline = lf_now_ms() + WAIT_MS;
	do {
		assert_int_equal(th_apigw_get(&apigw, "/gateways/" MAC "/packets", READ_HDR, &r),
		                 0);
		int status = r.status;
		th_http_resp_free(&r);
		if (status == 200) {
			break;
		}
	} while (lf_now_ms() < deadline);
	assert_true(lf_now_ms() < deadline);
}

/* Drops the members that are ages (they tick with the clock). */
static char *
gateways_without_ages(void)
{
	cJSON *list = get_json("/gateways", READ_HDR, 200);
	cJSON *g;
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(list, "gateways"))
	{
		cJSON_DeleteItemFromObject(g, "connected_seconds");
		cJSON_DeleteItemFromObject(g, "last_uplink_seconds_ago");
	}
	char *text = cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	return text;
}

static void
test_restart_same_gateways(void **state)
{
	struct th_suite *s = *state;
	/* An uplink, so that its count and time are part of the picture. */
	assert_int_equal(th_gw_push(&gw, PUSH), 0);
	/* Counts and times come from routerlink's retained hotspot after a
	 * restart: let it catch up with every uplink apigw has seen. */
	int64_t deadline = lf_now_ms() + WAIT_MS;
	char *before = NULL;
	for (;;) {
		struct th_msg *m =
		        th_mqtt_read_retained(&s->broker, "lorawan/" MAC "/hotspot", WAIT_MS);
		assert_non_null(m);
		cJSON *h = TH_PARSE(m->payload);
		cJSON *g = get_json("/gateways/" MAC, READ_HDR, 200);
		const cJSON *last = cJSON_GetObjectItem(h, "last_uplink");
		bool same = cJSON_GetObjectItem(g, "uplink_count")->valuedouble ==
		                    cJSON_GetObjectItem(h, "uplinks")->valuedouble &&
		            cJSON_GetObjectItem(g, "uplink_count")->valuedouble >= 1 &&
		            cJSON_IsString(last) &&
		            strcmp(cJSON_GetObjectItem(g, "last_uplink")->valuestring,
		                   last->valuestring) == 0 &&
		            cJSON_IsTrue(cJSON_GetObjectItem(g, "connected"));
		cJSON_Delete(h);
		th_msg_free(m);
		cJSON_Delete(g);
		if (same) {
			before = gateways_without_ages();
			break;
		}
		assert_true(lf_now_ms() < deadline);
		usleep(200 * 1000);
	}
	assert_int_equal(th_daemon_stop(&apigw.d), 0);
	assert_int_equal(th_apigw_restart(&apigw), 0);
	/* The retained messages arrive right after the subscription. */
	deadline = lf_now_ms() + WAIT_MS;
	char *after = NULL;
	for (;;) {
		after = gateways_without_ages();
		if (strcmp(before, after) == 0 || lf_now_ms() > deadline) {
			break;
		}
		free(after);
		usleep(100 * 1000);
	}
	assert_string_equal(after, before);
	free(before);
	free(after);
}

/* A gateway whose key file is unreadable: routerlink disables it (never
 * regenerates the key) and sign answers 500, which apigw passes on. */
static void
test_disabled_gateway(void **state)
{
	struct th_suite *s = *state;
	char keys[TH_PATH_MAX], path[TH_PATH_MAX + 32];
	th_routerlink_keys_dir(&routerlink, keys, sizeof(keys));
	snprintf(path, sizeof(path), "%s/AA555A0000000A02.key", keys);
	assert_int_equal(th_write_file(path, "not a key"), 0);
	struct th_gateway broken;
	assert_int_equal(th_gw_open(&broken, "aa555a0000000a02", NULL, s->bridge.udp_port), 0);
	assert_int_equal(th_gw_pull(&broken), 0);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	for (;;) {
		struct th_http_resp r;
		assert_int_equal(th_apigw_get(&apigw, "/gateways/aa555a0000000a02", READ_HDR, &r),
		                 0);
		bool done =
		        r.status == 200 && cJSON_IsString(cJSON_GetObjectItem(r.json, "router"));
		if (done) {
			TH_ASSERT_STR(r.json, "router", "disabled");
			TH_ASSERT_NULL(r.json, "public_key");
			TH_ASSERT_BOOL(r.json, "connected", false);
			TH_ASSERT_BOOL(r.json, "online", true);
		}
		th_http_resp_free(&r);
		if (done) {
			break;
		}
		assert_true(lf_now_ms() < deadline);
		usleep(100 * 1000);
	}
	expect_error("POST", "/gateways/aa555a0000000a02/sign", WRITE_HDR, "{\"data\":\"AA==\"}",
	             500, "signing failed: the key of aa555a0000000a02 cannot be read");
	cJSON *list = get_json("/gateways", READ_HDR, 200);
	TH_ASSERT_NUM(list, "total", 2);
	TH_ASSERT_NUM(list, "connected", 1);
	cJSON_Delete(list);
	th_gw_close(&broken);
}

static int
teardown(void **state)
{
	th_gw_close(&gw);
	int rc = th_daemon_stop(&apigw.d);
	return th_routerlink_teardown(&router, &routerlink) == 0 && rc == 0 ? 0 : -1;
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_gateway_routes),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_auth_matrix),
	        cmocka_unit_test(test_uplink_on_events_and_packets),
	        cmocka_unit_test(test_sign_verified_with_the_public_key),
	        cmocka_unit_test(test_bodies),
	        cmocka_unit_test(test_keep_alive),
	        cmocka_unit_test(test_bad_clients_do_not_stop_others),
	        cmocka_unit_test(test_metrics_pass_promtool),
	        cmocka_unit_test(test_routerlink_stopped_504),
	        cmocka_unit_test(test_restart_same_gateways),
	        cmocka_unit_test(test_disabled_gateway),
	};
	int failed = cmocka_run_group_tests_name("it_apigw_rest", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
