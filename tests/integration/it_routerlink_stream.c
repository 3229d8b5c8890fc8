/*
 * Per-gateway streams against the fake Helium router: connect and send a
 * signed uplink; the router's empty envelope -> backoff and a new stream;
 * the router killed -> uplinks held, then delivered with their hold_time
 * after it returns, the stale one dropped and counted; streams recycled
 * every second under steady traffic lose and repeat nothing.
 */
#include "harness.h"
#include "th_router.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "grpc_link.h"
#include "keys.h"
#include "lf/loop.h"
#include "stream.h"

#define WAIT_MS 15000

struct ctx {
	struct lf_loop *loop;
	struct rl_grpc *grpc;
	struct rl_streams *streams;
	struct rl_stream *s;
	int connects, attempts, sent, stale, full, recycled, recycle_timeouts;
	uint64_t last_hold;
};

static void
on_state(void *arg, struct rl_stream *s, enum rl_stream_state state)
{
	struct ctx *c = arg;
	if (state == RL_STREAM_CONNECTED) {
		c->connects++;
	}
}

static void
on_sent(void *arg, struct rl_stream *s, const struct uplink *up, uint64_t hold_ms)
{
	struct ctx *c = arg;
	c->sent++;
	c->last_hold = hold_ms;
}

static void
on_drop(void *arg, struct rl_stream *s, enum rl_drop why, unsigned n)
{
	struct ctx *c = arg;
	if (why == RL_DROP_STALE) {
		c->stale += (int)n;
	} else if (why == RL_DROP_QUEUE_FULL) {
		c->full += (int)n;
	}
}

static void
on_attempt(void *arg, struct rl_stream *s)
{
	((struct ctx *)arg)->attempts++;
}

static void
on_recycled(void *arg, struct rl_stream *s, bool graceful)
{
	struct ctx *c = arg;
	if (graceful) {
		c->recycled++;
	} else {
		c->recycle_timeouts++;
	}
}

static void
make_uplink(struct uplink *u, uint8_t seq, int64_t received_at_ms)
{
	memset(u, 0, sizeof(*u));
	u->eui = 0xaa555a0000000201ULL;
	/* An unconfirmed data up: MHDR 0x40, DevAddr, FCtrl, FCnt, FPort, payload, MIC. */
	const uint8_t phy[] = {0x40, 0x04, 0x03, 0x02, 0x01, 0x00, seq,
	                       0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
	memcpy(u->payload, phy, sizeof(phy));
	u->payload_len = sizeof(phy);
	u->tmst = 1000u + seq;
	u->rssi = -90;
	u->snr = 5.5f;
	u->frequency = 904300000;
	u->datarate = HELIUM__DATA_RATE__SF9BW125;
	u->received_at_ms = received_at_ms;
}

/* Runs the loop for ms: one round may end much sooner (a busy gRPC link
 * polls every millisecond). */
static void
run_for(struct ctx *c, int ms)
{
	int64_t until = lf_now_ms() + ms;
	for (int64_t now = lf_now_ms(); now < until; now = lf_now_ms()) {
		lf_loop_run_once(c->loop, (int)(until - now));
	}
}

static bool
wait_for(struct ctx *c, const int *counter, int want, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	while (*counter < want && lf_now_ms() < deadline) {
		lf_loop_run_once(c->loop, 20);
	}
	return *counter >= want;
}

/* Runs our loop (gRPC completions are handled there) until the router
 * has logged `want` events of that kind for the gateway. */
static bool
wait_router(struct ctx *c, struct th_router *r, const char *ev, const char *hex, int want)
{
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (th_router_count_events(r, ev, hex) < want && lf_now_ms() < deadline) {
		lf_loop_run_once(c->loop, 20);
	}
	return th_router_count_events(r, ev, hex) >= want;
}

static void
test_stream_lifecycle(void **state)
{
	struct th_router *r = *state;
	struct ctx c = {0};
	c.loop = lf_loop_new();
	char uri[64];
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%u", r->port);
	struct rl_grpc_options gopts = {.uri = uri, .channels = 1, .keepalive_ms = 30000};
	c.grpc = rl_grpc_new(c.loop, &gopts);
	assert_non_null(c.grpc);
	struct rl_stream_config cfg = {.region = HELIUM__REGION__US915,
	                               .queue_size = 100,
	                               .queue_max_age_ms = 60000,
	                               .backoff_min_ms = 200,
	                               .backoff_max_ms = 1000,
	                               .recycle_ms = 600000,
	                               .connect_timeout_ms = 10000};
	struct rl_stream_hooks hooks = {.on_state = on_state,
	                                .on_sent = on_sent,
	                                .on_drop = on_drop,
	                                .on_attempt = on_attempt};
	c.streams = rl_streams_new(c.loop, c.grpc, &cfg, &hooks, &c);
	struct gateway_key key;
	keys_session_new(&key);
	uint8_t bin[33];
	char hex[67];
	keys_public_bin(&key, bin);
	for (int i = 0; i < 33; i++) {
		sprintf(hex + 2 * i, "%02x", bin[i]);
	}
	c.s = rl_streams_add(c.streams, 0xaa555a0000000201ULL, &key);
	assert_non_null(c.s);
	assert_true(wait_for(&c, &c.connects, 1, WAIT_MS));

	/* Connected: an uplink goes out at once, signed by the session key. */
	struct uplink u;
	make_uplink(&u, 1, lf_wall_ms());
	rl_stream_uplink(c.s, &u);
	assert_true(wait_router(&c, r, "packet", hex, 1));
	struct th_router_event *e = th_router_wait_event(r, "packet", hex, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_string_equal(cJSON_GetObjectItem(e->root, "signed_by")->valuestring, "session");
	th_router_event_free(e);

	/* The router ends the stream: backoff, then a new stream and session. */
	char cmd[160], reply[256];
	snprintf(cmd, sizeof(cmd), "{\"cmd\":\"end_stream\",\"gateway\":\"%s\"}", hex);
	assert_int_equal(th_router_cmd(r, cmd, reply, sizeof(reply)), 0);
	assert_true(wait_for(&c, &c.connects, 2, WAIT_MS));
	assert_int_equal(c.attempts, 2);

	/* The router dies: uplinks are held; one is already too old. */
	assert_int_equal(th_router_kill(r), 0);
	/* Once the stream has noticed (what a dying call had already written
	 * to the socket is beyond recall: the router sends no per-packet ack). */
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (rl_stream_state(c.s) == RL_STREAM_CONNECTED && lf_now_ms() < deadline) {
		lf_loop_run_once(c.loop, 20);
	}
	int64_t down_at = lf_wall_ms();
	make_uplink(&u, 2, down_at - 120000);
	rl_stream_uplink(c.s, &u);
	for (uint8_t i = 3; i < 6; i++) {
		run_for(&c, 100);
		make_uplink(&u, i, lf_wall_ms());
		rl_stream_uplink(c.s, &u);
	}
	assert_int_equal(c.sent, 1);
	assert_true(rl_stream_state(c.s) != RL_STREAM_CONNECTED);
	assert_int_equal(c.stale, 1); /* dropped while held, counted */
	assert_int_equal((int)rl_stream_held(c.s), 3);
	run_for(&c, 500);
	assert_int_equal(th_router_restart(r), 0);
	assert_true(wait_for(&c, &c.sent, 4, WAIT_MS));
	assert_true(wait_router(&c, r, "packet", hex, 3));
	/* Held since the kill: hold_time says so. */
	assert_true(c.last_hold >= 500);
	assert_int_equal(c.stale, 1);
	assert_int_equal(th_router_count_events(r, "packet", hex), 3);

	rl_streams_free(c.streams);
	rl_grpc_free(c.grpc);
	lf_loop_free(c.loop);
	keys_wipe(&key);
}

static void
key_hex(const struct gateway_key *key, char hex[67])
{
	uint8_t bin[33];
	keys_public_bin(key, bin);
	for (int i = 0; i < 33; i++) {
		sprintf(hex + 2 * i, "%02x", bin[i]);
	}
}

/* One stream of a fresh key, recycled every 0.8 to 1 s, connected. */
static void
recycling_start(struct ctx *c, struct th_router *r, int64_t recycle_timeout_ms,
                struct gateway_key *key, char hex[67])
{
	c->loop = lf_loop_new();
	char uri[64];
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%u", r->port);
	struct rl_grpc_options gopts = {.uri = uri, .channels = 1, .keepalive_ms = 30000};
	c->grpc = rl_grpc_new(c->loop, &gopts);
	assert_non_null(c->grpc);
	struct rl_stream_config cfg = {.region = HELIUM__REGION__US915,
	                               .queue_size = 1000,
	                               .queue_max_age_ms = 60000,
	                               .backoff_min_ms = 200,
	                               .backoff_max_ms = 1000,
	                               .recycle_ms = 1000,
	                               .connect_timeout_ms = 5000,
	                               .recycle_timeout_ms = recycle_timeout_ms};
	struct rl_stream_hooks hooks = {.on_state = on_state,
	                                .on_sent = on_sent,
	                                .on_drop = on_drop,
	                                .on_attempt = on_attempt,
	                                .on_recycled = on_recycled};
	c->streams = rl_streams_new(c->loop, c->grpc, &cfg, &hooks, c);
	keys_session_new(key);
	key_hex(key, hex);
	c->s = rl_streams_add(c->streams, 0xaa555a0000000202ULL, key);
	assert_non_null(c->s);
	assert_true(wait_for(c, &c->connects, 1, WAIT_MS));
}

/* n uplinks at 500/s, tmst TMST0 + i; then every one at the router
 * exactly once, verified, and none dropped on our side. */
#define TMST0 100000
static void
send_steady_expect_each_once(struct ctx *c, struct th_router *r, const char *hex, int n)
{
	struct uplink u;
	for (int i = 0; i < n; i++) {
		make_uplink(&u, (uint8_t)i, lf_wall_ms());
		u.tmst = TMST0 + (uint32_t)i;
		rl_stream_uplink(c->s, &u);
		run_for(c, 2);
	}
	assert_true(wait_for(c, &c->sent, n, WAIT_MS));
	assert_true(wait_router(c, r, "packet", hex, n));
	run_for(c, 300); /* anything sent twice would show up by now */
	assert_int_equal(th_router_count_events(r, "packet", hex), n);
	bool *seen = calloc((size_t)n, sizeof(*seen));
	assert_non_null(seen);
	for (int i = 0; i < n; i++) {
		struct th_router_event *e = th_router_wait_event(r, "packet", hex, WAIT_MS);
		assert_non_null(e);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
		int at = (int)cJSON_GetObjectItem(e->root, "timestamp")->valuedouble - TMST0;
		assert_true(at >= 0 && at < n);
		assert_false(seen[at]);
		seen[at] = true;
		th_router_event_free(e);
	}
	free(seen);
	assert_int_equal(c->sent, n);
	assert_int_equal(c->stale, 0);
	assert_int_equal(c->full, 0);
}

/* Ends our side, then takes the router's stream_end events: one per
 * attempt, since only one call is live at any time (a new one opens only
 * when the old one is over). Every one but the last (the live stream's)
 * had reason `want`. */
static void
recycling_stop_expect_ends(struct ctx *c, struct th_router *r, const char *hex, const char *want)
{
	int attempts = c->attempts;
	rl_streams_free(c->streams);
	rl_grpc_free(c->grpc);
	lf_loop_free(c->loop);
	for (int i = 0; i < attempts; i++) {
		struct th_router_event *e = th_router_wait_event(r, "stream_end", hex, WAIT_MS);
		assert_non_null(e);
		if (i < attempts - 1) {
			assert_string_equal(cJSON_GetObjectItem(e->root, "reason")->valuestring,
			                    want);
		}
		th_router_event_free(e);
	}
	assert_int_equal(th_router_count_events(r, "stream_end", hex), 0);
	assert_int_equal(th_router_count_events(r, "packet", hex), 0);
}

/* Streams recycled every second under 500 uplinks/s: each recycle ends the
 * old stream gracefully (the router sees the end of our side, never a
 * cancel), and every uplink reaches the router exactly once. */
static void
test_stream_recycle_loses_nothing(void **state)
{
	struct th_router *r = *state;
	struct ctx c = {0};
	struct gateway_key key;
	char hex[67];
	recycling_start(&c, r, 5000, &key, hex);
	send_steady_expect_each_once(&c, r, hex, 3000);
	/* About 6 s at one recycle every 0.8 to 1 s; every attempt after the
	 * first followed a recycle that the router ended. */
	assert_true(c.attempts >= 6);
	assert_in_range(c.connects, c.attempts - 1, c.attempts);
	assert_int_equal(c.recycled, c.attempts - 1);
	assert_int_equal(c.recycle_timeouts, 0);
	recycling_stop_expect_ends(&c, r, hex, "client_end");
	keys_wipe(&key);
}

/* A router that keeps a half-closed stream open: after recycle_timeout
 * the old stream is cancelled and a new one opened; what the old one was
 * given before its end reached the router, what came meanwhile waited
 * and went on the new one. */
static void
test_stream_recycle_router_ignores_end(void **state)
{
	struct th_router *r = *state;
	char reply[256];
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"set\",\"ignore_client_end\":true}", reply,
	                               sizeof(reply)),
	                 0);
	struct ctx c = {0};
	struct gateway_key key;
	char hex[67];
	recycling_start(&c, r, 300, &key, hex);
	send_steady_expect_each_once(&c, r, hex, 1500);
	/* About 3 s at one recycle every 1.1 to 1.3 s (0.8 to 1 s, then the
	 * 0.3 s wait). */
	assert_true(c.attempts >= 2);
	assert_int_equal(c.recycled, 0);
	assert_int_equal(c.recycle_timeouts, c.attempts - 1);
	/* Plus the live stream's, if it was being recycled just now. */
	assert_in_range(th_router_count_events(r, "client_end_ignored", hex), c.attempts - 1,
	                c.attempts);
	th_router_discard_events(r, "client_end_ignored", hex);
	recycling_stop_expect_ends(&c, r, hex, "cancelled");
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"set\",\"ignore_client_end\":false}", reply,
	                               sizeof(reply)),
	                 0);
	keys_wipe(&key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stream_lifecycle),
	        cmocka_unit_test(test_stream_recycle_loses_nothing),
	        cmocka_unit_test(test_stream_recycle_router_ignores_end),
	};
	return th_router_run_group("routerlink_stream", tests, sizeof(tests) / sizeof(tests[0]));
}
