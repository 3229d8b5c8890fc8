/*
 * routerlink's gRPC transport against the fake Helium router (a Node
 * grpc-js server, not C core): a gateway's whole session, register ->
 * offer -> session_init -> signed packet, verified by the router; the
 * empty envelope that ends a stream; and a router that dies.
 */
#include "harness.h"
#include "th_router.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "grpc_link.h"
#include "keys.h"
#include "lf/loop.h"
#include "router_codec.h"
#include "uplink_codec.h"

#define WAIT_MS 10000

struct session {
	struct lf_loop *loop;
	struct rl_grpc *grpc;
	struct rl_call *call;
	struct gateway_key gw, session;
	uint8_t gw_bin[33], session_bin[33];
	int offers, empties, closed, status;
	bool session_sent;
};

static void
on_event(void *arg, struct rl_call *call, enum rl_call_event event, const uint8_t *data, size_t len,
         int status, const char *details)
{
	struct session *s = arg;
	if (event == RL_CALL_CLOSED) {
		s->closed++;
		s->status = status;
		return;
	}
	if (event == RL_CALL_SENT) {
		return;
	}
	struct router_msg msg;
	assert_int_equal(envelope_down_decode(data, len, &msg), 0);
	if (msg.kind == ROUTER_MSG_EMPTY) {
		s->empties++;
	} else if (msg.kind == ROUTER_MSG_SESSION_OFFER) {
		s->offers++;
		uint8_t buf[512];
		size_t n = session_init_encode(s->gw_bin, msg.nonce, msg.nonce_len, s->session_bin,
		                               s->gw.sk, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(rl_call_send(call, buf, n), 0);
		s->session_sent = true;
	}
}

/* Runs the loop until cond() holds or the deadline passes. */
static bool
run_until(struct session *s, bool (*cond)(struct session *), int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	while (!cond(s) && lf_now_ms() < deadline) {
		lf_loop_run_once(s->loop, 20);
	}
	return cond(s);
}

static bool
session_ready(struct session *s)
{
	return s->session_sent && rl_call_backlog(s->call) == 0;
}

static bool
call_closed(struct session *s)
{
	return s->closed > 0;
}

static void
open_session(struct session *s, struct th_router *r)
{
	memset(s, 0, sizeof(*s));
	s->loop = lf_loop_new();
	assert_non_null(s->loop);
	char uri[64];
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%u", r->port);
	struct rl_grpc_options opts = {.uri = uri, .channels = 2, .keepalive_ms = 30000};
	s->grpc = rl_grpc_new(s->loop, &opts);
	assert_non_null(s->grpc);
	keys_session_new(&s->gw);
	keys_session_new(&s->session);
	keys_public_bin(&s->gw, s->gw_bin);
	keys_public_bin(&s->session, s->session_bin);
	s->call = rl_grpc_open(s->grpc, 0, on_event, s);
	assert_non_null(s->call);
	uint8_t buf[512];
	size_t n = register_encode(1700000000000ULL, s->gw_bin, s->gw.sk, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(rl_call_send(s->call, buf, n), 0);
	assert_true(run_until(s, session_ready, WAIT_MS));
}

static void
close_session(struct session *s)
{
	rl_call_release(s->call);
	rl_grpc_free(s->grpc);
	lf_loop_free(s->loop);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		sprintf(out + 2 * i, "%02x", b[i]);
	}
}

static void
test_session_and_signed_packet(void **state)
{
	struct th_router *r = *state;
	struct session s;
	open_session(&s, r);
	char gw_hex[67];
	hex(s.gw_bin, 33, gw_hex);

	struct th_router_event *e = th_router_wait_event(r, "register", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "canonical")));
	th_router_event_free(e);
	e = th_router_wait_event(r, "session_init", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "nonce_ok")));
	th_router_event_free(e);

	/* A join request as a bridge would publish it. */
	const char *up =
	        "{\"mac\":\"aa555a0000000101\",\"received_at\":\"2026-11-21T10:00:00.000000Z\","
	        "\"rxpk\":{\"tmst\":3512348611,\"freq\":903.9,\"stat\":1,\"modu\":\"LORA\","
	        "\"datr\":\"SF10BW125\",\"codr\":\"4/5\",\"rssi\":-80,\"lsnr\":7.5,"
	        "\"size\":23,\"data\":\"AAEAAAAAAAAAAgAAAAAAAAADBAUGBwg=\"}}";
	struct uplink u;
	char err[128];
	assert_int_equal(
	        rl_uplink_decode(up, strlen(up), 0xaa555a0000000101ULL, &u, err, sizeof(err)),
	        UPLINK_OK);
	uint8_t buf[1024];
	size_t n = packet_up_encode(&u, HELIUM__REGION__US915, 42, s.gw_bin, s.session.sk, buf,
	                            sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(rl_call_send(s.call, buf, n), 0);
	e = th_router_wait_event(r, "packet", gw_hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_string_equal(cJSON_GetObjectItem(e->root, "signed_by")->valuestring, "session");
	assert_int_equal(cJSON_GetObjectItem(e->root, "frequency")->valuedouble, 903900000);
	assert_int_equal(cJSON_GetObjectItem(e->root, "timestamp")->valuedouble, 3512348611.0);
	assert_int_equal(cJSON_GetObjectItem(e->root, "rssi")->valuedouble, -80);
	assert_int_equal(cJSON_GetObjectItem(e->root, "hold_time")->valuedouble, 42);
	assert_string_equal(cJSON_GetObjectItem(e->root, "datarate")->valuestring, "SF10BW125");
	th_router_event_free(e);

	/* The router ends the stream (35-minute kill, give-away): an empty
	 * envelope, then a clean end. */
	char cmd[160], reply[256];
	snprintf(cmd, sizeof(cmd), "{\"cmd\":\"end_stream\",\"gateway\":\"%s\"}", gw_hex);
	assert_int_equal(th_router_cmd(r, cmd, reply, sizeof(reply)), 0);
	assert_true(run_until(&s, call_closed, WAIT_MS));
	assert_int_equal(s.empties, 1);
	assert_int_equal(s.status, 0); /* GRPC_STATUS_OK */
	close_session(&s);
}

static void
test_router_killed_closes_the_call(void **state)
{
	struct th_router *r = *state;
	struct session s;
	open_session(&s, r);
	assert_int_equal(th_router_kill(r), 0);
	assert_true(run_until(&s, call_closed, WAIT_MS));
	assert_int_equal(s.status, 14); /* GRPC_STATUS_UNAVAILABLE */
	close_session(&s);
	assert_int_equal(th_router_restart(r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_session_and_signed_packet),
	        cmocka_unit_test(test_router_killed_closes_the_call),
	};
	return th_router_run_group("routerlink_grpc", tests, sizeof(tests) / sizeof(tests[0]));
}
