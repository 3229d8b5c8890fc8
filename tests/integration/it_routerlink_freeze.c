/*
 * A frozen router: the process stops (SIGSTOP) with its sockets open, so
 * TCP still accepts what routerlink writes and nothing ever says the
 * stream is dead. Only the HTTP/2 keepalive (30 s, the least routerlink
 * allows, and 20 s for the answer) finds out. Then routerlink reconnects
 * by itself, and once the router runs again the gateway has a stream and
 * a session, and its uplinks arrive signed. A slow test (up to ~50 s of
 * waiting for the keepalive) for the one failure that no error reports.
 */
#include "harness.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS      15000
#define KEEPALIVE_MS 30000
#define DETECT_MS    (KEEPALIVE_MS + 20000 + 15000) /* interval + timeout + slack */
#define MAC          "aa555a0000000f01"

static struct th_suite suite = {.name = "rlfreeze"};
static struct th_router router;
static struct th_daemon routerlink;
static struct th_gateway gw;
static char gw_hex[80];

static const char PUSH[] =
        "{\"rxpk\":[{\"tmst\":1000000,\"freq\":904.300000,\"stat\":1,\"modu\":\"LORA\","
        "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-70,\"lsnr\":9.0,\"size\":13,"
        "\"data\":\"QAQDAgEAAQABqrvM3Q==\"}]}";

static int
setup(void **state)
{
	*state = &suite;
	if (th_routerlink_setup(state, &router, &routerlink, "it-rlf",
	                        "keepalive = 30s\nmetrics_interval = 1s\n") != 0) {
		return -1;
	}
	return th_routerlink_gateway_up(&router, &gw, MAC, suite.bridge.udp_port, gw_hex,
	                                sizeof(gw_hex), WAIT_MS);
}

static double
attempts(struct th_suite *s)
{
	return TH_RL_METRIC(&s->broker, "it-rlf", "router_connect_attempts_total", NULL, NULL);
}

static void
test_frozen_router_found_by_keepalive(void **state)
{
	struct th_suite *s = *state;
	/* Before: one attempt, the stream that is up. */
	double before = attempts(s);
	assert_true(before >= 1);

	assert_int_equal(th_router_pause(&router), 0);
	int64_t frozen_at = lf_now_ms();
	/* Traffic while frozen: written into a socket nobody reads. */
	assert_int_equal(th_gw_push(&gw, PUSH), 0);

	/* routerlink notices without any error from the router, and tries
	 * again (the new attempts hang in the HTTP/2 handshake, or time out,
	 * until the router runs again). */
	int64_t deadline = frozen_at + DETECT_MS;
	while (attempts(s) <= before && lf_now_ms() < deadline) {
		usleep(500 * 1000);
	}
	int64_t detected_ms = lf_now_ms() - frozen_at;
	print_message("keepalive found the frozen router after %lld ms\n", (long long)detected_ms);
	assert_true(attempts(s) > before);
	/* Not before the keepalive could have: nothing else reports it. */
	assert_true(detected_ms >= 20000);

	th_router_discard_events(&router, "session_init", NULL);
	th_router_discard_events(&router, "packet", NULL);
	assert_int_equal(th_router_resume(&router), 0);

	/* A new stream and session for the gateway... */
	struct th_router_event *e = th_router_wait_event(&router, "session_init", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "nonce_ok")));
	th_router_event_free(e);

	/* ...over which uplinks arrive again, signed by the new session. */
	const char fresh[] =
	        "{\"rxpk\":[{\"tmst\":2000000,\"freq\":904.300000,\"stat\":1,\"modu\":\"LORA\","
	        "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-70,\"lsnr\":9.0,\"size\":13,"
	        "\"data\":\"QAQDAgEAAgABqrvM3Q==\"}]}";
	int64_t until = lf_now_ms() + WAIT_MS;
	bool seen = false;
	while (!seen && lf_now_ms() < until) {
		/* Until the new session is up routerlink may still hold it;
		 * a push every second, each one a different frame. */
		assert_int_equal(th_gw_push(&gw, fresh), 0);
		e = th_router_wait_event(&router, "packet", gw_hex, 1000);
		while (e != NULL && !seen) {
			const char *payload = cJSON_GetObjectItem(e->root, "payload")->valuestring;
			if (strcmp(payload, "QAQDAgEAAgABqrvM3Q==") == 0) {
				assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
				assert_string_equal(
				        cJSON_GetObjectItem(e->root, "signed_by")->valuestring,
				        "session");
				seen = true;
			}
			th_router_event_free(e);
			e = seen ? NULL : th_router_wait_event(&router, "packet", gw_hex, 100);
		}
		th_router_event_free(e);
	}
	assert_true(seen);
	assert_true(th_daemon_alive(&routerlink));
}

static int
teardown(void **state)
{
	(void)state;
	th_gw_close(&gw);
	return th_routerlink_teardown(&router, &routerlink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_frozen_router_found_by_keepalive),
	};
	int failed = cmocka_run_group_tests_name("it_routerlink_freeze", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
