/*
 * apigw's Server-Sent Events over real HTTP, fed through a real mosquitto:
 * event records for each kind of broker message, Last-Event-ID resume,
 * the overflow record for a client behind the ring, a stuck client that
 * neither blocks others nor loses events silently, the client limit
 * (503 + Retry-After), heartbeats, the ?mac= filter and events_auth.
 */
#include "harness.h"
#include "th_apigw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS  10000
#define MAC      "aa555a0000000b01"
#define OTHER    "aa555a0000000b02"
#define RING     1024
#define READ_KEY "read-key-0123456789abcdef"

static struct th_suite suite = {.name = "apigwsse"};
static struct th_apigw apigw;
static struct th_mqtt *pub; /* subscribed to nothing: publishes stay fast */
static int sync_n;

static int
setup(void **state)
{
	*state = &suite;
	if (th_suite_setup(state) != 0) {
		return -1;
	}
	struct th_suite *s = *state;
	pub = th_mqtt_connect(&s->broker, NULL, true, WAIT_MS);
	if (pub == NULL) {
		return -1;
	}
	return th_apigw_start(&apigw, &s->env, &s->broker, "it-sse",
	                      "sse_max_clients = 3\nsse_ring = 1024\nsse_heartbeat = 300ms\n");
}

static struct th_http_conn *
open_stream(uint16_t port, const char *path, const char *extra)
{
	struct th_http_conn *c = calloc(1, sizeof(*c));
	struct th_http_resp head;
	assert_int_equal(th_http_connect(c, port), 0);
	assert_int_equal(th_http_send(c, "GET", path, extra, NULL, 0), 0);
	assert_int_equal(th_http_read_head(c, &head, WAIT_MS), 0);
	if (head.status != 200) {
		fail_msg("GET %s: %d", path, head.status);
	}
	assert_string_equal(th_http_header(&head, "content-type"), "text/event-stream");
	assert_string_equal(th_http_header(&head, "cache-control"), "no-cache");
	assert_string_equal(th_http_header(&head, "access-control-allow-origin"), "*");
	th_http_resp_free(&head);
	return c;
}

static int sse_clients(const struct th_apigw *a);

/* Closes and waits until apigw has noticed, so the next test starts with
 * the places free (sse_max_clients is 3 here). */
static void
close_stream_of(const struct th_apigw *a, struct th_http_conn *c)
{
	int before = sse_clients(a);
	th_http_close(c);
	free(c);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (sse_clients(a) >= before) {
		assert_true(lf_now_ms() < deadline);
		usleep(10 * 1000);
	}
}

static void
close_stream(struct th_http_conn *c)
{
	close_stream_of(&apigw, c);
}

static void
publish_qos(const char *mac, const char *leaf, const char *payload, bool retained, int qos)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "lorawan/%s/%s", mac, leaf);
	assert_int_equal(th_mqtt_publish(pub, topic, payload, strlen(payload), qos, retained), 0);
}

static void
publish(const char *mac, const char *leaf, const char *payload, bool retained)
{
	publish_qos(mac, leaf, payload, retained, 1);
}

/* Bursts go at QoS 0: the synchronous client's QoS 1 round trip would
 * make a thousand events take a minute. Order is kept either way (one
 * connection), and each test checks what arrived. */
static void
publish_ack_qos(const char *mac, const char *id, int qos)
{
	char json[256];
	snprintf(json, sizeof(json), "{\"mac\":\"%s\",\"id\":\"%s\",\"error\":\"NONE\"}", mac, id);
	publish_qos(mac, "ack", json, false, qos);
}

static void
publish_ack(const char *mac, const char *id)
{
	publish_ack_qos(mac, id, 1);
}

/* The next event, or the test fails. */
static void
next_event(struct th_http_conn *c, struct th_sse_event *ev)
{
	if (th_sse_next(c, ev, WAIT_MS, NULL) != 0) {
		fail_msg("no event within %d ms", WAIT_MS);
	}
}

/*
 * Publishes acks until one reaches the stream: from then on apigw is
 * subscribed and the stream is live, whatever raced before. Returns the
 * id of the sync event.
 */
static uint64_t
sync_stream(struct th_http_conn *c)
{
	char id[32];
	snprintf(id, sizeof(id), "sync-%d", ++sync_n);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (lf_now_ms() < deadline) {
		publish_ack(MAC, id);
		struct th_sse_event ev;
		while (th_sse_next(c, &ev, 200, NULL) == 0) {
			const cJSON *got = cJSON_GetObjectItem(ev.json, "id");
			bool match = cJSON_IsString(got) && strcmp(got->valuestring, id) == 0;
			uint64_t ev_id = strtoull(ev.id, NULL, 10);
			th_sse_event_free(&ev);
			if (match) {
				/* Later copies of the sync ack are drained too. */
				while (th_sse_next(c, &ev, 300, NULL) == 0) {
					ev_id = strtoull(ev.id, NULL, 10);
					th_sse_event_free(&ev);
				}
				return ev_id;
			}
		}
	}
	fail_msg("the stream never got %s", id);
	return 0;
}

static void
test_event_records(void **state)
{
	struct th_http_conn *c = open_stream(apigw.port, "/events", NULL);
	sync_stream(c);
	publish(MAC, "hotspot",
	        "{\"mac\":\"" MAC "\",\"public_key\":\"13abc\",\"region\":\"EU868\","
	        "\"router\":\"connected\",\"connected_since\":\"2026-11-21T10:00:00.000000Z\","
	        "\"uplinks\":0,\"downlinks\":0,\"last_uplink\":null}",
	        true);
	publish(MAC, "state",
	        "{\"mac\":\"" MAC "\",\"online\":true,\"addr\":\"192.0.2.7:1700\",\"protocol\":2,"
	        "\"bridge\":\"edge-9\",\"since\":\"2026-11-21T10:00:00.000000Z\","
	        "\"last_seen\":\"2026-11-21T10:00:00.000000Z\"}",
	        true);
	publish(MAC, "up",
	        "{\"mac\":\"" MAC "\",\"received_at\":\"2026-11-21T10:00:01.000000Z\",\"rxpk\":{"
	        "\"tmst\":1000,\"freq\":868.1,\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5.1,"
	        "\"size\":4,\"data\":\"QAECAw==\"}}",
	        false);
	publish(MAC, "state", "{\"mac\":\"" MAC "\",\"online\":false,\"addr\":null}", true);
	struct th_sse_event ev;
	next_event(c, &ev);
	assert_string_equal(ev.event, "gateway_connect");
	assert_string_equal(ev.data, "{\"type\":\"gateway_connect\",\"mac\":\"" MAC
	                             "\",\"region\":\"EU868\",\"public_key\":\"13abc\","
	                             "\"router\":\"connected\",\"previous\":null}");
	uint64_t first = strtoull(ev.id, NULL, 10);
	th_sse_event_free(&ev);
	next_event(c, &ev);
	assert_string_equal(ev.event, "gateway_online");
	assert_string_equal(ev.data, "{\"type\":\"gateway_online\",\"mac\":\"" MAC
	                             "\",\"region\":\"EU868\",\"addr\":\"192.0.2.7:1700\","
	                             "\"bridge\":\"edge-9\"}");
	assert_int_equal(strtoull(ev.id, NULL, 10), first + 1);
	th_sse_event_free(&ev);
	next_event(c, &ev);
	assert_string_equal(ev.event, "uplink");
	assert_string_equal(ev.data,
	                    "{\"type\":\"uplink\",\"mac\":\"" MAC "\",\"region\":\"EU868\","
	                    "\"metadata\":{\"rssi\":-35,\"snr\":5.1,\"frequency\":868.1,"
	                    "\"spreading_factor\":\"SF7BW125\",\"payload_size\":4,"
	                    "\"timestamp\":1795255201000,\"frame_type\":\"UnconfirmedUp\","
	                    "\"tmst\":1000}}");
	th_sse_event_free(&ev);
	next_event(c, &ev);
	assert_string_equal(ev.event, "gateway_offline");
	th_sse_event_free(&ev);
	close_stream(c);
}

static void
test_last_event_id_resume(void **state)
{
	struct th_http_conn *c = open_stream(apigw.port, "/events?mac=" MAC, NULL);
	sync_stream(c);
	char ids[5][32];
	for (int i = 0; i < 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "r%d", i);
		publish_ack(MAC, id);
	}
	for (int i = 0; i < 5; i++) {
		struct th_sse_event ev;
		next_event(c, &ev);
		snprintf(ids[i], sizeof(ids[i]), "%s", ev.id);
		th_sse_event_free(&ev);
	}
	close_stream(c);
	publish_ack(MAC, "r5");
	/* Resumes right after r1: r2, r3, r4, then r5 sent while away. */
	char hdr[64];
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s\r\n", ids[1]);
	c = open_stream(apigw.port, "/events?mac=" MAC, hdr);
	for (int i = 2; i <= 5; i++) {
		struct th_sse_event ev;
		next_event(c, &ev);
		char want[8];
		snprintf(want, sizeof(want), "r%d", i);
		TH_ASSERT_STR(ev.json, "id", want);
		if (i < 5) {
			assert_string_equal(ev.id, ids[i]);
		}
		th_sse_event_free(&ev);
	}
	close_stream(c);
	/* An id apigw never gave: told so, then the live stream. */
	c = open_stream(apigw.port, "/events", "Last-Event-ID: 12345\r\n");
	struct th_sse_event ev;
	next_event(c, &ev);
	assert_string_equal(ev.event, "overflow");
	assert_false(ev.has_id);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev.json, "missed")));
	th_sse_event_free(&ev);
	close_stream(c);
}

/* Resuming from an id the ring no longer holds: an overflow record with
 * exactly how many events were missed, then the oldest held onwards. */
static void
test_overflow_past_the_ring(void **state)
{
	struct th_http_conn *c = open_stream(apigw.port, "/events", NULL);
	uint64_t last = sync_stream(c);
	close_stream(c);
	for (int i = 0; i < RING + 100; i++) {
		char id[16];
		snprintf(id, sizeof(id), "o%d", i);
		publish_ack_qos(OTHER, id, 0);
	}
	/* Wait until apigw has them all: a fresh stream sees the last one. */
	c = open_stream(apigw.port, "/events", NULL);
	uint64_t newest = sync_stream(c);
	close_stream(c);
	char hdr[64];
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %llu\r\n", (unsigned long long)last);
	c = open_stream(apigw.port, "/events", hdr);
	struct th_sse_event ev;
	next_event(c, &ev);
	assert_string_equal(ev.event, "overflow");
	uint64_t resume = (uint64_t)cJSON_GetObjectItem(ev.json, "resume_id")->valuedouble;
	assert_int_equal(resume, newest + 1 - RING);
	TH_ASSERT_NUM(ev.json, "missed", (double)(resume - last - 1));
	th_sse_event_free(&ev);
	next_event(c, &ev);
	assert_int_equal(strtoull(ev.id, NULL, 10), resume);
	th_sse_event_free(&ev);
	close_stream(c);
}

/* A client that stops reading: the others get every event at once, and
 * when it reads again its ids are contiguous except across an overflow
 * record that counts the gap exactly. */
static void
test_stuck_client(void **state)
{
	/* Whether the stuck client overflows depends on the kernel's socket
	 * buffers (megabytes on loopback), so both outcomes are accepted; a
	 * silent gap is not. The ring itself is tested in test_apigw_sse. */
	struct th_http_conn *stuck = open_stream(apigw.port, "/events?mac=" OTHER, NULL);
	struct th_http_conn *fast = open_stream(apigw.port, "/events?mac=" OTHER, NULL);
	struct th_http_conn *probe = open_stream(apigw.port, "/events", NULL);
	sync_stream(probe);
	close_stream(probe);
	char pad[801];
	memset(pad, 'x', 800);
	pad[800] = '\0';
	uint64_t prev = 0;
	for (int batch = 0; batch < 30; batch++) {
		for (int i = 0; i < 100; i++) {
			char json[1024];
			snprintf(json, sizeof(json),
			         "{\"mac\":\"" OTHER "\",\"id\":\"s%d\",\"error\":\"NONE\","
			         "\"detail\":\"%s\"}",
			         batch * 100 + i, pad);
			publish_qos(OTHER, "ack", json, false, 0);
		}
		for (int i = 0; i < 100; i++) {
			struct th_sse_event ev;
			if (th_sse_next(fast, &ev, WAIT_MS, NULL) != 0) {
				fail_msg("the reading client got no event %d", batch * 100 + i);
			}
			char want[16];
			snprintf(want, sizeof(want), "s%d", batch * 100 + i);
			TH_ASSERT_STR(ev.json, "id", want);
			uint64_t id = strtoull(ev.id, NULL, 10);
			assert_true(prev == 0 || id > prev);
			prev = id;
			th_sse_event_free(&ev);
		}
	}
	/* The stuck one reads now: nothing is skipped without a record. */
	int got = 0, overflows = 0;
	uint64_t missed = 0;
	int expect = 0;
	while (expect < 3000) {
		struct th_sse_event ev;
		next_event(stuck, &ev);
		if (strcmp(ev.event, "overflow") == 0) {
			overflows++;
			missed += (uint64_t)cJSON_GetObjectItem(ev.json, "missed")->valuedouble;
			th_sse_event_free(&ev);
			/* The gap is counted in all events, ours among them. */
			next_event(stuck, &ev);
			int n = atoi(cJSON_GetObjectItem(ev.json, "id")->valuestring + 1);
			assert_true(n > expect);
			expect = n;
		}
		char want[16];
		snprintf(want, sizeof(want), "s%d", expect);
		TH_ASSERT_STR(ev.json, "id", want);
		expect++;
		got++;
		th_sse_event_free(&ev);
	}
	print_message("stuck client: %d events, %d overflow record(s), %llu missed\n", got,
	              overflows, (unsigned long long)missed);
	assert_int_equal(got + (int)missed >= 3000, 1);
	close_stream(stuck);
	close_stream(fast);
}

static int
sse_clients(const struct th_apigw *a)
{
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(a, "/healthz", NULL, &r), 0);
	int n = cJSON_GetObjectItem(r.json, "sse_clients")->valueint;
	th_http_resp_free(&r);
	return n;
}

static void
wait_sse_clients(int n)
{
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (sse_clients(&apigw) != n) {
		assert_true(lf_now_ms() < deadline);
		usleep(20 * 1000);
	}
}

static void
test_client_limit(void **state)
{
	wait_sse_clients(0);
	struct th_http_conn *c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = open_stream(apigw.port, "/events", NULL);
	}
	wait_sse_clients(3);
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, "/events", NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(th_http_header(&r, "retry-after"), "5");
	TH_ASSERT_STR(r.json, "error", "Too many SSE connections");
	th_http_resp_free(&r);
	/* A place frees up when a client leaves. */
	close_stream(c[0]);
	c[0] = open_stream(apigw.port, "/events", NULL);
	for (int i = 0; i < 3; i++) {
		close_stream(c[i]);
	}
	wait_sse_clients(0);
}

static void
test_heartbeat_and_filter(void **state)
{
	struct th_http_conn *c =
	        open_stream(apigw.port, "/events?mac=aa:55:5a:00:00:00:0b:02", NULL);
	struct th_sse_event ev;
	int comments = 0;
	/* Nothing for this MAC: only heartbeats (every 300 ms). */
	assert_int_equal(th_sse_next(c, &ev, 1500, &comments), -1);
	assert_true(comments >= 2);
	publish_ack(MAC, "not-for-this-stream");
	publish_ack(OTHER, "for-this-stream");
	next_event(c, &ev);
	TH_ASSERT_STR(ev.json, "id", "for-this-stream");
	th_sse_event_free(&ev);
	close_stream(c);
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, "/events?mac=nope", NULL, &r), 0);
	assert_int_equal(r.status, 400);
	th_http_resp_free(&r);
}

static void
test_events_auth(void **state)
{
	struct th_suite *s = *state;
	struct th_apigw guarded;
	assert_int_equal(th_apigw_start(&guarded, &s->env, &s->broker, "it-sse-auth",
	                                "events_auth = true\nread_api_key = " READ_KEY "\n"),
	                 0);
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&guarded, "/events", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	th_http_resp_free(&r);
	assert_int_equal(
	        th_apigw_get(&guarded, "/events", "X-API-Key: wrong-0123456789abcdef\r\n", &r), 0);
	assert_int_equal(r.status, 401);
	th_http_resp_free(&r);
	struct th_http_conn *c =
	        open_stream(guarded.port, "/events", "Authorization: Bearer " READ_KEY "\r\n");
	close_stream_of(&guarded, c);
	/* No write key configured: sign is refused, whatever is sent. */
	assert_int_equal(th_http_request(guarded.port, "POST", "/gateways/" MAC "/sign",
	                                 "X-API-Key: " READ_KEY "\r\n", "{\"data\":\"AA==\"}", &r),
	                 0);
	assert_int_equal(r.status, 403);
	TH_ASSERT_STR(r.json, "error", "signing is disabled: no write_api_key is configured");
	th_http_resp_free(&r);
	assert_int_equal(th_daemon_stop(&guarded.d), 0);
}

/* CPU time (user + system, in clock ticks) the process has used. */
static long
cpu_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	char *text = th_read_file(path, NULL);
	assert_non_null(text);
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	const char *p = strrchr(text, ')');
	long utime = 0, stime = 0;
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
	                        &utime, &stime),
	                 2);
	free(text);
	return utime + stime;
}

/* A client that half-closes its stream, or sends bytes on it, is found
 * within a fraction of a second, and apigw does not spin meanwhile. */
static void
test_clients_that_leave(void **state)
{
	wait_sse_clients(0);
	struct th_http_conn *c = open_stream(apigw.port, "/events", NULL);
	wait_sse_clients(1);
	long before = cpu_ticks(apigw.d.pid);
	shutdown(c->fd, SHUT_WR);
	wait_sse_clients(0);
	th_http_close(c);
	free(c);
	c = open_stream(apigw.port, "/events", NULL);
	wait_sse_clients(1);
	assert_int_equal(th_http_send_raw(c, "x", 1), 0);
	wait_sse_clients(0);
	th_http_close(c);
	free(c);
	usleep(1000 * 1000);
	/* Spinning until the next check (200 ms) would cost 20 ticks per
	 * client; the spin-triggered check stops it within ~20 ms. */
	long used = cpu_ticks(apigw.d.pid) - before;
	print_message("apigw used %ld ticks\n", used);
	assert_true(used < 25);
}

static int
healthz_status(void)
{
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, "/healthz", NULL, &r), 0);
	int status = r.status;
	th_http_resp_free(&r);
	return status;
}

/* The broker goes away: apigw says so (503) instead of answering stale,
 * and is whole again once it is back. */
static void
test_broker_away(void **state)
{
	struct th_suite *s = *state;
	assert_int_equal(th_broker_stop(&s->broker), 0);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (healthz_status() != 503) {
		assert_true(lf_now_ms() < deadline);
		usleep(50 * 1000);
	}
	struct th_http_resp r;
	assert_int_equal(th_apigw_get(&apigw, "/gateways/" MAC "/packets", NULL, &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(th_http_header(&r, "retry-after"), "5");
	TH_ASSERT_STR(r.json, "error",
	              "the MQTT broker is not reachable, so routerlink cannot be asked");
	th_http_resp_free(&r);
	/* What it knows is still served. */
	assert_int_equal(th_apigw_get(&apigw, "/gateways", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	th_http_resp_free(&r);
	assert_int_equal(th_broker_start(&s->broker), 0);
	deadline = lf_now_ms() + WAIT_MS;
	while (healthz_status() != 200) {
		assert_true(lf_now_ms() < deadline);
		usleep(50 * 1000);
	}
}

static int
teardown(void **state)
{
	th_mqtt_close(pub);
	return th_daemon_stop(&apigw.d) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_event_records),
	        cmocka_unit_test(test_last_event_id_resume),
	        cmocka_unit_test(test_overflow_past_the_ring),
	        cmocka_unit_test(test_stuck_client),
	        cmocka_unit_test(test_client_limit),
	        cmocka_unit_test(test_heartbeat_and_filter),
	        cmocka_unit_test(test_events_auth),
	        cmocka_unit_test(test_clients_that_leave),
	        cmocka_unit_test(test_broker_away),
	};
	int failed = cmocka_run_group_tests_name("it_apigw_sse", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
