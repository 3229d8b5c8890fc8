/*
 * The deployment, end to end over TLS: mosquitto with broker-config/ as
 * shipped (users, ACL, TLS listener; th_deploy.h), and bridge, routerlink
 * (with the fake Helium router) and apigw, each logged in as its own user
 * on the TLS listener with mkcerts' CA, the password given the way
 * docs/config.md recommends (LORAFLEET_MQTT_PASSWORD in the environment).
 *
 * Everything the daemons say to each other crosses the ACL: the gateway's
 * state (bridge -> routerlink, apigw), its uplink (bridge -> routerlink,
 * which signs it for the router), the hotspot (routerlink -> apigw), a
 * router downlink (routerlink -> bridge) and its ack (bridge ->
 * routerlink), apigw's packets request and routerlink's reply, and the
 * daemons' states for apigw's /metrics. And a daemon the broker turns
 * away (wrong password, wrong CA, a topic its user may not write) says why.
 */
#include "harness.h"
#include "th_apigw.h"
#include "th_deploy.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS  15000
#define MAC      "aa555a0000000d01"
#define READ_KEY "read-key-0123456789abcdef"
#define READ_HDR "X-API-Key: " READ_KEY "\r\n"

static struct th_env env;
static struct th_deploy broker;
static struct th_router router;
static struct th_daemon bridge, routerlink;
static struct th_apigw apigw;
static struct th_gateway gw;
static struct th_client *watch; /* consumer over TLS, subscribed to # */
static char gw_hex[80];

static const char PUSH[] =
        "{\"rxpk\":[{\"tmst\":3512348611,\"chan\":2,\"rfch\":0,\"freq\":903.900000,\"stat\":1,"
        "\"modu\":\"LORA\",\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"rssi\":-80,\"lsnr\":7.5,"
        "\"size\":23,\"data\":\"AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=\"}]}";

/* The user, its password and the CA for the next daemon started; the
 * environment wins over the INI the harness writes (docs/config.md). */
static int
login_as(const char *user)
{
	char password[128];
	if (th_deploy_password(&broker, user, password, sizeof(password)) != 0) {
		return -1;
	}
	setenv("LORAFLEET_MQTT_USERNAME", user, 1);
	setenv("LORAFLEET_MQTT_PASSWORD", password, 1);
	setenv("LORAFLEET_MQTT_TLS_CA", broker.ca, 1);
	return 0;
}

static void
logout(void)
{
	unsetenv("LORAFLEET_MQTT_USERNAME");
	unsetenv("LORAFLEET_MQTT_PASSWORD");
	unsetenv("LORAFLEET_MQTT_TLS_CA");
}

/* The next message on the watcher whose topic is `topic`, skipping others. */
static struct th_msg *
watch_for(const char *topic)
{
	int64_t deadline = lf_now_ms() + WAIT_MS;
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *m = left > 0 ? th_client_next(watch, (int)left) : NULL;
		if (m == NULL) {
			fail_msg("nothing on %s within %d ms", topic, WAIT_MS);
		}
		if (strcmp(m->topic, topic) == 0) {
			return m;
		}
		th_msg_free(m);
	}
}

static int
start_daemons(void)
{
	struct th_broker tls;
	th_deploy_listener(&broker, true, &tls);
	int rc = login_as("bridge");
	rc = rc == 0 ? th_bridge_start(&bridge, &env, &tls, "it-tls", "metrics_interval = 1s\n",
	                               NULL)
	             : rc;
	rc = rc == 0 ? login_as("routerlink") : rc;
	rc = rc == 0 ? th_routerlink_start(&routerlink, &env, &tls, &router, "it-rl",
	                                   "metrics_interval = 1s\n")
	             : rc;
	rc = rc == 0 ? login_as("apigw") : rc;
	rc = rc == 0 ? th_apigw_start(&apigw, &env, &tls, "it-api",
	                              "read_api_key = " READ_KEY "\nrpc_timeout = 5s\n")
	             : rc;
	logout();
	return rc;
}

static int
setup(void **state)
{
	(void)state;
	if (th_env_init(&env, "deploy-tls") != 0 || th_deploy_start(&broker, &env) != 0 ||
	    th_router_start(&router, &env, 0) != 0) {
		return -1;
	}
	struct th_client_opts o = {.port = broker.tls_port,
	                           .user = "consumer",
	                           .deploy = &broker,
	                           .cafile = broker.ca};
	int connack;
	watch = th_client_connect(&o, &connack, WAIT_MS);
	if (watch == NULL || th_client_subscribe(watch, "#", 1) != 1) {
		return -1;
	}
	return start_daemons();
}

/* The port of the listener the broker log says `client` (with `user`)
 * connected on: "New connection from <addr> on port <port>." comes before
 * "New client connected from <addr> as <client> (..., u'<user>')." */
static unsigned
connected_on(const char *log, const char *client, const char *user)
{
	static const char FROM[] = "New client connected from ";
	char as[128], u[64];
	snprintf(as, sizeof(as), " as %s (", client);
	snprintf(u, sizeof(u), "u'%s')", user);
	for (const char *line = log; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		const char *from = memmem(line, n, FROM, strlen(FROM));
		const char *at = memmem(line, n, as, strlen(as));
		if (from != NULL && at != NULL && memmem(line, n, u, strlen(u)) != NULL) {
			char want[128];
			const char *addr = from + strlen(FROM);
			snprintf(want, sizeof(want), "New connection from %.*s on port ",
			         (int)(at - addr), addr);
			const char *c = strstr(log, want);
			return c != NULL && c < line ? (unsigned)strtoul(c + strlen(want), NULL, 10)
			                             : 0;
		}
		line += n + (nl != NULL ? 1 : 0);
	}
	return 0;
}

static void
test_every_daemon_connected_as_its_user_over_tls(void **state)
{
	(void)state;
	/* Each daemon's birth (its retained state) reached the consumer. */
	const char *topics[] = {"lorafleet/bridge/it-tls/state", "lorafleet/routerlink/it-rl/state",
	                        "lorafleet/apigw/it-api/state"};
	bool seen[TH_ARRAY_LEN(topics)] = {false};
	for (size_t n = 0; n < TH_ARRAY_LEN(topics);) {
		struct th_msg *m = th_client_next(watch, WAIT_MS);
		assert_non_null(m);
		for (size_t i = 0; i < TH_ARRAY_LEN(topics); i++) {
			if (!seen[i] && strcmp(m->topic, topics[i]) == 0) {
				cJSON *root = TH_PARSE(m->payload);
				TH_ASSERT_BOOL(root, "online", true);
				cJSON_Delete(root);
				seen[i] = true;
				n++;
			}
		}
		th_msg_free(m);
	}
	/* The broker log: each daemon logged in as its user, on the TLS
	 * listener, and nobody was refused. */
	char *log = th_read_file(broker.log_path, NULL);
	assert_non_null(log);
	const struct {
		const char *client, *user;
	} who[] = {
	        {"lorafleet-bridge-it-tls", "bridge"},
	        {"lorafleet-routerlink-it-rl", "routerlink"},
	        {"lorafleet-apigw-it-api", "apigw"},
	};
	for (size_t i = 0; i < TH_ARRAY_LEN(who); i++) {
		unsigned port = connected_on(log, who[i].client, who[i].user);
		if (port != broker.tls_port) {
			print_error("%s as %s: connected on port %u, the TLS listener is %u\n",
			            who[i].client, who[i].user, port, (unsigned)broker.tls_port);
			free(log);
			fail();
		}
	}
	bool refused = strstr(log, "not authorised") != NULL;
	free(log);
	assert_false(refused);
}

static void
test_uplink_signed_to_the_router_and_back_through_apigw(void **state)
{
	(void)state;
	/* First sight: bridge -> state -> routerlink makes the Hotspot. */
	assert_int_equal(th_gw_open(&gw, MAC, NULL, bridge.udp_port), 0);
	assert_int_equal(th_gw_pull(&gw), 0);
	struct th_router_event *e = th_router_wait_event(&router, "register", NULL, WAIT_MS);
	assert_non_null(e);
	snprintf(gw_hex, sizeof(gw_hex), "%s",
	         cJSON_GetObjectItem(e->root, "gateway")->valuestring);
	th_router_event_free(e);
	e = th_router_wait_event(&router, "session_init", gw_hex, WAIT_MS);
	assert_non_null(e);
	th_router_event_free(e);
	/* apigw has the bridge's state and routerlink's hotspot. */
	cJSON *g = th_apigw_wait_connected(&apigw, MAC, READ_HDR, WAIT_MS);
	assert_non_null(g);
	TH_ASSERT_BOOL(g, "online", true);
	TH_ASSERT_STR(g, "bridge", "it-tls");
	TH_ASSERT_STR(g, "router", "connected");
	TH_ASSERT_NONEMPTY_STR(g, "public_key");
	cJSON_Delete(g);

	/* The uplink reaches the router, signed by the session key. */
	assert_int_equal(th_gw_push(&gw, PUSH), 0);
	e = th_router_wait_event(&router, "packet", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_string_equal(cJSON_GetObjectItem(e->root, "signed_by")->valuestring, "session");
	assert_string_equal(cJSON_GetObjectItem(e->root, "payload")->valuestring,
	                    "AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=");
	th_router_event_free(e);

	/* apigw -> rpc request -> routerlink -> reply -> apigw. */
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, "/gateways/" MAC "/packets", READ_HDR, &r), 0);
	if (r.status != 200) {
		fail_msg("GET /gateways/" MAC "/packets: %d %s", r.status, r.body);
	}
	assert_true(cJSON_IsArray(r.json));
	assert_int_equal(cJSON_GetArraySize(r.json), 1);
	const cJSON *p = cJSON_GetArrayItem(r.json, 0);
	TH_ASSERT_STR(p, "direction", "up");
	TH_ASSERT_STR(p, "frame_type", "JoinRequest");
	TH_ASSERT_NUM(p, "rssi", -80);
	TH_ASSERT_NUM(p, "payload_size", 23);
	th_http_resp_free(&r);
}

static void
test_router_downlink_reaches_the_gateway_and_is_acked(void **state)
{
	(void)state;
	char cmd[512], reply[256];
	snprintf(cmd, sizeof(cmd),
	         "{\"cmd\":\"downlink\",\"gateway\":\"%s\",\"payload\":\"IAECAwQF\","
	         "\"rx1\":{\"timestamp\":3517348611,\"frequency\":923300000,"
	         "\"datarate\":\"SF10BW500\",\"immediate\":false}}",
	         gw_hex);
	assert_int_equal(th_router_cmd(&router, cmd, reply, sizeof(reply)), 0);
	/* routerlink -> down -> bridge -> PULL_RESP. */
	struct th_pull_resp pr;
	assert_int_equal(th_gw_recv_pull_resp(&gw, &pr, WAIT_MS), 0);
	const cJSON *txpk = cJSON_GetObjectItem(pr.root, "txpk");
	assert_string_equal(cJSON_GetObjectItem(txpk, "data")->valuestring, "IAECAwQF");
	assert_true(cJSON_GetObjectItem(txpk, "tmst")->valuedouble == 3517348611.0);
	assert_int_equal(th_gw_send(&gw, TH_DOWN, 2, pr.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&pr);
	/* bridge -> ack, which routerlink reads (and the consumer sees). */
	struct th_msg *m = watch_for("lorawan/" MAC "/ack");
	cJSON *ack = TH_PARSE(m->payload);
	TH_ASSERT_STR(ack, "error", "NONE");
	const cJSON *id = cJSON_GetObjectItem(ack, "id");
	assert_true(cJSON_IsString(id) && strncmp(id->valuestring, "rl-", 3) == 0);
	cJSON_Delete(ack);
	th_msg_free(m);
}

static void
test_apigw_metrics_see_every_daemon(void **state)
{
	(void)state;
	const char *want[] = {
	        "lorafleet_service_up{service=\"bridge\",instance=\"it-tls\"} 1\n",
	        "lorafleet_service_up{service=\"routerlink\",instance=\"it-rl\"} 1\n",
	        "lorafleet_service_up{service=\"apigw\",instance=\"it-api\"} 1\n",
	};
	/* The snapshots are retained; apigw has had them since it connected,
	 * but routerlink's first one may still be on its way. */
	int64_t deadline = lf_now_ms() + WAIT_MS;
	for (;;) {
		struct th_http_resp r;
		assert_int_equal(th_apigw_get(&apigw, "/metrics", READ_HDR, &r), 0);
		assert_int_equal(r.status, 200);
		size_t found = 0;
		for (size_t i = 0; i < TH_ARRAY_LEN(want); i++) {
			found += strstr(r.body, want[i]) != NULL;
		}
		bool rl_metrics = strstr(r.body, "lorafleet_routerlink_") != NULL &&
		                  strstr(r.body, "lorafleet_bridge_") != NULL;
		if (found == TH_ARRAY_LEN(want) && rl_metrics) {
			th_http_resp_free(&r);
			break;
		}
		if (lf_now_ms() > deadline) {
			fail_msg("/metrics lacks a daemon:\n%s", r.body);
		}
		th_http_resp_free(&r);
		usleep(100 * 1000);
	}
}

/* What an operator sees when the broker turns a daemon away: the reason,
 * in its log, and it keeps trying. */
static void
test_refused_daemons_say_why(void **state)
{
	(void)state;
	struct th_broker tls;
	th_deploy_listener(&broker, true, &tls);
	struct th_daemon bad;
	/* A wrong password. */
	assert_int_equal(login_as("bridge"), 0);
	setenv("LORAFLEET_MQTT_PASSWORD", "not-the-password", 1);
	int rc = th_bridge_start(&bad, &env, &tls, "it-badpw", NULL, NULL);
	logout();
	assert_int_equal(rc, 0);
	assert_int_equal(th_daemon_wait_log(&bad, 0,
	                                    "mqtt: connection refused by 127\\.0\\.0\\.1:[0-9]+: "
	                                    "Connection Refused: not authorised",
	                                    WAIT_MS),
	                 0);
	th_daemon_kill(&bad);
	/* A CA that did not sign the broker's certificate. */
	char other_dir[TH_PATH_MAX], other_ca[TH_PATH_MAX + 8];
	th_env_path(&env, "other-secrets", other_dir, sizeof(other_dir));
	assert_int_equal(th_mkcerts(&env, other_dir), 0);
	snprintf(other_ca, sizeof(other_ca), "%s/ca.crt", other_dir);
	assert_int_equal(login_as("bridge"), 0);
	setenv("LORAFLEET_MQTT_TLS_CA", other_ca, 1);
	rc = th_bridge_start(&bad, &env, &tls, "it-badca", NULL, NULL);
	logout();
	assert_int_equal(rc, 0);
	assert_int_equal(th_daemon_wait_log(&bad, 0, "certificate verify failed", WAIT_MS), 0);
	assert_int_equal(th_daemon_wait_log(&bad, 0, "cannot connect to .*A TLS error", WAIT_MS),
	                 0);
	th_daemon_kill(&bad);
	/* Logged in as a user the ACL does not let publish apigw's state: the
	 * v5 PUBACK says so, and the daemon logs it. */
	struct th_apigw spy;
	assert_int_equal(login_as("consumer"), 0);
	rc = th_apigw_start(&spy, &env, &tls, "it-spy", NULL);
	logout();
	assert_int_equal(rc, 0);
	assert_int_equal(th_daemon_wait_log(&spy.d, 0,
	                                    "mqtt: the broker refused a publish: Not authorized "
	                                    "\\(135\\); 1 refused so far\\. Check the broker's "
	                                    "ACL for user \"consumer\"",
	                                    WAIT_MS),
	                 0);
	assert_int_equal(th_daemon_stop(&spy.d), 0);
}

static int
teardown(void **state)
{
	(void)state;
	th_gw_close(&gw);
	/* Clean exits: no ASan report, everything flushed to the broker. */
	int rc = th_daemon_stop(&apigw.d);
	rc |= th_daemon_stop(&routerlink);
	rc |= th_daemon_stop(&bridge);
	th_router_stop(&router);
	th_router_free(&router);
	th_client_close(watch);
	return rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_daemon_connected_as_its_user_over_tls),
	        cmocka_unit_test(test_uplink_signed_to_the_router_and_back_through_apigw),
	        cmocka_unit_test(test_router_downlink_reaches_the_gateway_and_is_acked),
	        cmocka_unit_test(test_apigw_metrics_see_every_daemon),
	        cmocka_unit_test(test_refused_daemons_say_why),
	};
	int failed = cmocka_run_group_tests_name("it_deploy_tls", tests, setup, teardown);
	if (th_deploy_stop(&broker) != 0) {
		fprintf(stderr, "it_deploy_tls: mosquitto did not stop cleanly\n");
		failed++;
	}
	th_env_finish(&env, failed != 0);
	return failed != 0;
}
