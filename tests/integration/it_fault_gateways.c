/*
 * Gateways that misbehave while 100 others send steady traffic through the
 * same bridge. Every test ends by checking that each of the others'
 * uplinks of its time reached MQTT exactly once, in order.
 *
 *  - A gateway that changes address: a new source port for PULL_DATA (a
 *    NAT rebinding) and then a new IP. Its uplinks go on, the downlink
 *    address follows its latest PULL_DATA, and only the IP change counts
 *    in gateway_address_changes_total. With pin_address, another IP is
 *    ignored (and counted) while the gateway is live, and accepted once it
 *    has gone offline.
 *  - Two gateways claiming one MAC, interleaved: without pinning both are
 *    served, as one gateway whose downlink address is the latest
 *    PULL_DATA's source; every flip of IP is counted and logged, rate
 *    limited. With pin_address the second is ignored, exactly counted.
 *  - A flood from one source, as fast as one thread sends, for 3 s:
 *    garbage, broken GWMP, valid headers with broken JSON, unmatched
 *    TX_ACKs, and PULL_DATA for thousands of made-up gateways. Every
 *    datagram is accounted for exactly: counted by the bridge by reason,
 *    or dropped by the kernel for a full socket buffer (/proc/net/udp).
 *    Every uplink of the others that the bridge acknowledged arrives
 *    exactly once; the made-up gateways stop at max_gateways; the log
 *    stays short.
 */
#include "harness.h"
#include "th_traffic.h"
#include "th_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_GW      100
#define RATE      300.0
#define PULL_MS   500
#define WAIT_MS   15000
#define DRAIN_MS  30000
#define INSTANCE  "it-fgw"
#define PIN_INST  "it-fgw-pin"
#define PIN       "lwpin"
#define MAX_GW    1000
#define MAC_MOVE  "aa555a00fd000001"
#define MAC_PMOVE "aa555a00fd000002"
#define MAC_TWIN  "aa555a00fd000003"
#define MAC_PTWIN "aa555a00fd000004"
#define MAC_FLOOD "aa555a00fd000005"

struct ctx {
	bool ready;
	struct th_traffic traffic;
	struct th_tally obs;
	struct th_watch w;
	bool pin_ready;
	struct th_daemon pin; /* a second bridge, pin_address = true */
};

static struct ctx ctx;
static struct th_suite suite = {
        .name = "fgw",
        .bridge_extra = "metrics_interval = 1s\ngateway_timeout = 10s\nmax_gateways = 1000\n",
        .user = &ctx,
};

static struct ctx *
ctx_of(struct th_suite *s)
{
	struct ctx *c = s->user;
	if (c->ready) {
		return c;
	}
	assert_int_equal(th_mqtt_subscribe(s->obs, PIN "/#", 1), 0);
	assert_int_equal(th_traffic_init(&c->traffic, s->bridge.udp_port, N_GW, PULL_MS), 0);
	assert_int_equal(th_tally_init(&c->obs, N_GW), 0);
	c->w = (struct th_watch){
	        .obs = s->obs,
	        .up_pattern = {"lorawan/+/up"},
	        .up_tally = {&c->obs},
	        .keep = {"lorawan/aa555a00fd000001/#", "lorawan/aa555a00fd000003/#", PIN "/#"}};
	assert_int_equal(th_traffic_start(&c->traffic, 0), 0);
	for (int i = 0; i < N_GW; i++) {
		char mac[17];
		snprintf(mac, sizeof(mac), "aa555a00fc%06x", i);
		assert_int_equal(th_traffic_add(&c->traffic, mac, NULL, true), i);
	}
	c->ready = true;
	return c;
}

static struct th_daemon *
pin_bridge(struct th_suite *s, struct ctx *c)
{
	if (!c->pin_ready) {
		assert_int_equal(th_bridge_start(&c->pin, &s->env, &s->broker, PIN_INST,
		                                 "pin_address = true\ngateway_timeout = 2s\n"
		                                 "metrics_interval = 1s\n",
		                                 "topic_prefix = " PIN "\n"),
		                 0);
		assert_int_equal(th_wait_bridge_online(s->obs, PIN_INST, WAIT_MS), 0);
		c->pin_ready = true;
	}
	return &c->pin;
}

static void
sent_now(struct ctx *c, uint32_t *out)
{
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&c->traffic, i, &st);
		out[i] = st.sent;
	}
}

/* The steady traffic starts; the test's window opens. */
static void
steady_begin(struct ctx *c, uint32_t *from)
{
	sent_now(c, from);
	th_traffic_set_rate(&c->traffic, RATE);
}

/*
 * The window closes: the uplinks stop, and each one sent in the window
 * must have reached MQTT exactly once, in order, or, when `lossy` (the
 * kernel may have dropped datagrams of a flood), exactly those the bridge
 * acknowledged. Returns the uplinks sent.
 */
static uint64_t
steady_end(struct th_suite *s, struct ctx *c, const uint32_t *from, bool lossy, uint64_t *acked)
{
	th_traffic_set_rate(&c->traffic, 0);
	uint32_t to[N_GW];
	if (lossy) {
		/* Until the acks stop: the keepalives' too, for a moment. */
		for (int i = 0; i < N_GW; i++) {
			th_traffic_set_gw(&c->traffic, i, true, false);
		}
		th_traffic_settle(&c->traffic, 1000);
		for (int i = 0; i < N_GW; i++) {
			th_traffic_set_gw(&c->traffic, i, true, true);
		}
	} else {
		assert_int_equal(th_traffic_wait_acked(&c->traffic, WAIT_MS), 0);
	}
	sent_now(c, to);
	uint64_t total = 0, total_acked = 0;
	int64_t deadline = lf_now_ms() + th_timeout_ms(DRAIN_MS);
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&c->traffic, i, &st);
		/* Without loss the bridge acked all: every one must arrive. With
		 * loss, as many as it acked in the window (acks before it were
		 * all there: the windows before were lossless). */
		uint32_t want = lossy ? st.push_acked - from[i] : to[i] - from[i];
		total += to[i] - from[i];
		total_acked += want;
		while (th_tally_delivered(&c->obs, i, from[i], to[i] - 1) < want &&
		       lf_now_ms() < deadline) {
			th_watch_pump(&c->w, 100);
		}
	}
	th_watch_pump(&c->w, 300);
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&c->traffic, i, &st);
		uint32_t want = lossy ? st.push_acked - from[i] : to[i] - from[i];
		uint32_t got = th_tally_delivered(&c->obs, i, from[i], to[i] - 1);
		if (got != want) {
			fail_msg("gateway %d: %u of its %u uplinks (%u acked) arrived", i, got,
			         to[i] - from[i], st.push_acked - from[i]);
		}
		if (!lossy) {
			assert_int_equal(th_tally_check_range(&c->obs, i, from[i], to[i] - 1, true),
			                 0);
		}
		assert_int_equal(c->obs.g[i].dups, 0);
		assert_int_equal(c->obs.g[i].disorder, 0);
	}
	assert_int_equal(c->obs.foreign, 0);
	if (acked != NULL) {
		*acked = total_acked;
	}
	return total;
}

/* The next kept message on topic; its payload parsed (cJSON_Delete). */
static cJSON *
take_json(struct ctx *c, const char *topic)
{
	struct th_msg *m = th_watch_take(&c->w, topic, WAIT_MS);
	if (m == NULL) {
		fail_msg("nothing on %s within %d ms", topic, WAIT_MS);
	}
	cJSON *j = TH_PARSE(m->payload);
	th_msg_free(m);
	return j;
}

/* The next uplink on topic carries sentinel tag. */
static void
expect_up(struct ctx *c, const char *topic, const char *tag)
{
	cJSON *j = take_json(c, topic);
	const cJSON *got = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "rxpk"), "sentinel");
	if (!cJSON_IsString(got) || strcmp(got->valuestring, tag) != 0) {
		fail_msg("on %s: sentinel %s expected, got %s", topic, tag,
		         cJSON_IsString(got) ? got->valuestring : "none");
	}
	cJSON_Delete(j);
}

static void
push_tag(struct th_gateway *gw, const char *tag)
{
	char json[512];
	th_sentinel_json(json, sizeof(json), tag);
	assert_int_equal(th_gw_push(gw, json), 0);
}

/* The state on topic says online and addr "<ip>:<port>". */
static void
expect_state(struct ctx *c, const char *topic, bool online, const char *ip, uint16_t port)
{
	cJSON *j = take_json(c, topic);
	TH_ASSERT_BOOL(j, "online", online);
	if (ip == NULL) {
		TH_ASSERT_NULL(j, "addr");
	} else {
		char addr[40];
		snprintf(addr, sizeof(addr), "%s:%u", ip, (unsigned)port);
		TH_ASSERT_STR(j, "addr", addr);
	}
	cJSON_Delete(j);
}

/* A downlink for mac reaches `to` (acked NONE) and nothing reaches `not`. */
static void
expect_downlink(struct th_suite *s, struct ctx *c, const char *prefix, const char *mac,
                struct th_gateway *to, struct th_gateway * not, const char *id)
{
	char topic[64], body[256];
	snprintf(topic, sizeof(topic), "%s/%s/down", prefix, mac);
	snprintf(body, sizeof(body),
	         "{\"id\":\"%s\",\"txpk\":{\"imme\":true,\"freq\":869.525,\"modu\":\"LORA\","
	         "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"data\":\"AQ==\"}}",
	         id);
	assert_int_equal(th_mqtt_publish_str(s->obs, topic, body), 0);
	struct th_pull_resp r;
	assert_int_equal(th_gw_recv_pull_resp(to, &r, WAIT_MS), 0);
	assert_int_equal(th_gw_send(to, TH_DOWN, 2, r.token, TH_TX_ACK, NULL, 0), 0);
	th_pull_resp_free(&r);
	snprintf(topic, sizeof(topic), "%s/%s/ack", prefix, mac);
	cJSON *ack = take_json(c, topic);
	TH_ASSERT_STR(ack, "id", id);
	TH_ASSERT_STR(ack, "error", "NONE");
	cJSON_Delete(ack);
	uint8_t buf[64];
	assert_int_equal(th_gw_recv(not, TH_DOWN, buf, sizeof(buf), 0), -1);
}

static double
metric(struct ctx *c, const char *instance, const char *name, const char *reason)
{
	double v = 0;
	assert_true(th_watch_metric(&c->w, "bridge", instance, name, "reason", reason, &v));
	return v;
}

#define EXPECT_METRIC(c, inst, name, reason, want)                                                 \
	assert_int_equal(th_watch_expect(&(c)->w, "bridge", (inst), (name), "reason", (reason),    \
	                                 (want), WAIT_MS),                                         \
	                 0)

static void
test_gateway_changes_address(void **state)
{
	struct th_suite *s = *state;
	struct ctx *c = ctx_of(s);
	uint32_t from[N_GW];
	steady_begin(c, from);
	th_watch_pump(&c->w, 1500); /* a snapshot to start from */
	double changes = metric(c, INSTANCE, "gateway_address_changes_total", NULL);
	const char *st = "lorawan/" MAC_MOVE "/state", *up = "lorawan/" MAC_MOVE "/up";

	struct th_gateway a, b;
	assert_int_equal(th_gw_open(&a, MAC_MOVE, NULL, s->bridge.udp_port), 0);
	assert_int_equal(th_gw_pull(&a), 0);
	expect_state(c, st, true, "127.0.0.1", a.down_port);
	push_tag(&a, "a0");
	push_tag(&a, "a1");
	expect_up(c, up, "a0");
	expect_up(c, up, "a1");

	/* A NAT rebinding: PULL_DATA from a new port of the same IP. The
	 * downlink address follows; it is no change of IP. */
	uint16_t old_port = a.down_port;
	assert_int_equal(th_gw_rebind_down(&a, NULL), 0);
	assert_true(a.down_port != old_port);
	assert_int_equal(th_gw_pull(&a), 0);
	expect_state(c, st, true, "127.0.0.1", a.down_port);
	push_tag(&a, "a2");
	expect_up(c, up, "a2");
	struct th_gateway stale;
	assert_int_equal(th_gw_open(&stale, MAC_MOVE, NULL, s->bridge.udp_port), 0);
	expect_downlink(s, c, "lorawan", MAC_MOVE, &a, &stale, "after-rebind");
	th_gw_close(&stale);

	/* A new IP: both sockets move to 127.0.0.2; the old ones stay open
	 * (and must receive nothing from now on). */
	size_t mark = th_daemon_log_mark(&s->bridge);
	assert_int_equal(th_gw_open(&b, MAC_MOVE, "127.0.0.2", s->bridge.udp_port), 0);
	assert_int_equal(th_gw_pull(&b), 0);
	expect_state(c, st, true, "127.0.0.2", b.down_port);
	for (int i = 0; i < 5; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "b%d", i);
		push_tag(&b, tag);
		expect_up(c, up, tag);
	}
	expect_downlink(s, c, "lorawan", MAC_MOVE, &b, &a, "after-move");
	assert_int_equal(th_gw_drain(&a, TH_UP), 0);
	assert_int_equal(th_daemon_wait_log(&s->bridge, mark,
	                                    "gateway " MAC_MOVE
	                                    ": datagram from a new address 127\\.0\\.0\\.2",
	                                    WAIT_MS),
	                 0);
	/* One change of IP, counted once. */
	EXPECT_METRIC(c, INSTANCE, "gateway_address_changes_total", NULL, changes + 1);
	/* Nothing else about it (the observer sees the downlinks it sent). */
	assert_int_equal(th_watch_discard(&c->w, "lorawan/" MAC_MOVE "/down"), 2);
	assert_int_equal(th_watch_discard(&c->w, "lorawan/" MAC_MOVE "/#"), 0);
	th_gw_close(&a);
	th_gw_close(&b);
	uint64_t n = steady_end(s, c, from, false, NULL);
	print_message("a gateway moved port and IP; %llu uplinks of %d others, each once\n",
	              (unsigned long long)n, N_GW);
}

static void
test_pinned_gateway_changes_address(void **state)
{
	struct th_suite *s = *state;
	struct ctx *c = ctx_of(s);
	struct th_daemon *pin = pin_bridge(s, c);
	uint32_t from[N_GW];
	steady_begin(c, from);
	const char *st = PIN "/" MAC_PMOVE "/state", *up = PIN "/" MAC_PMOVE "/up";
	struct th_gateway a, b;
	assert_int_equal(th_gw_open(&a, MAC_PMOVE, NULL, pin->udp_port), 0);
	assert_int_equal(th_gw_pull(&a), 0);
	expect_state(c, st, true, "127.0.0.1", a.down_port);

	/* While it is live at 127.0.0.1, 127.0.0.2 is ignored: no ack. */
	assert_int_equal(th_gw_open(&b, MAC_PMOVE, "127.0.0.2", pin->udp_port), 0);
	char json[512];
	th_sentinel_json(json, sizeof(json), "ignored");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(th_gw_send_push(&b, 2, (uint16_t)(0x100 + i), json), 0);
		assert_int_equal(th_gw_send_pull(&b, 2, (uint16_t)(0x200 + i)), 0);
	}
	uint8_t buf[64];
	assert_int_equal(th_gw_recv(&b, TH_DOWN, buf, sizeof(buf), 500), -1);
	assert_int_equal(th_gw_recv(&b, TH_UP, buf, sizeof(buf), 0), -1);
	EXPECT_METRIC(c, PIN_INST, "udp_rejected_total", "address_pinned", 6);
	push_tag(&a, "still-a");
	expect_up(c, up, "still-a");

	/* The gateway goes quiet at 127.0.0.1: offline after gateway_timeout
	 * (2 s), and from then on the new IP is taken. */
	expect_state(c, st, false, "127.0.0.1", a.down_port);
	assert_int_equal(th_gw_pull(&b), 0);
	expect_state(c, st, true, "127.0.0.2", b.down_port);
	push_tag(&b, "now-b");
	expect_up(c, up, "now-b");
	expect_downlink(s, c, PIN, MAC_PMOVE, &b, &a, "pinned-moved");
	EXPECT_METRIC(c, PIN_INST, "udp_rejected_total", "address_pinned", 6);
	EXPECT_METRIC(c, PIN_INST, "gateway_address_changes_total", NULL, 1);
	th_gw_close(&a);
	th_gw_close(&b);
	steady_end(s, c, from, false, NULL);
}

static void
test_two_gateways_claim_one_mac(void **state)
{
	struct th_suite *s = *state;
	struct ctx *c = ctx_of(s);
	uint32_t from[N_GW];
	steady_begin(c, from);
	th_watch_pump(&c->w, 1500);
	double changes = metric(c, INSTANCE, "gateway_address_changes_total", NULL);
	const char *st = "lorawan/" MAC_TWIN "/state", *up = "lorawan/" MAC_TWIN "/up";
	enum { ROUNDS = 20 };
	struct th_gateway a, b;
	assert_int_equal(th_gw_open(&a, MAC_TWIN, "127.0.0.3", s->bridge.udp_port), 0);
	assert_int_equal(th_gw_open(&b, MAC_TWIN, "127.0.0.4", s->bridge.udp_port), 0);
	size_t mark = th_daemon_log_mark(&s->bridge);
	/* Each round: a uplink from each, then a PULL_DATA from each. */
	for (int r = 0; r < ROUNDS; r++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "A%d", r);
		push_tag(&a, tag);
		snprintf(tag, sizeof(tag), "B%d", r);
		push_tag(&b, tag);
		assert_int_equal(th_gw_pull(&a), 0);
		assert_int_equal(th_gw_pull(&b), 0);
	}
	/* Both are served, as one gateway: every uplink, in order. */
	for (int r = 0; r < ROUNDS; r++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "A%d", r);
		expect_up(c, up, tag);
		snprintf(tag, sizeof(tag), "B%d", r);
		expect_up(c, up, tag);
	}
	/* Online at the first datagram (no address yet), then a state for
	 * every PULL_DATA from the other address than the one before. */
	expect_state(c, st, true, NULL, 0);
	for (int r = 0; r < ROUNDS; r++) {
		expect_state(c, st, true, "127.0.0.3", a.down_port);
		expect_state(c, st, true, "127.0.0.4", b.down_port);
	}
	/* Downlinks go to the latest PULL_DATA's source. */
	expect_downlink(s, c, "lorawan", MAC_TWIN, &b, &a, "twin");
	assert_int_equal(th_watch_discard(&c->w, "lorawan/" MAC_TWIN "/down"), 1);
	assert_int_equal(th_watch_discard(&c->w, "lorawan/" MAC_TWIN "/#"), 0);
	/* Every datagram from another IP than the one before is a change:
	 * all but the first of the 4 per round. */
	EXPECT_METRIC(c, INSTANCE, "gateway_address_changes_total", NULL, changes + 4 * ROUNDS - 1);
	int lines = th_daemon_log_count(&s->bridge, mark, "gateway " MAC_TWIN ": ");
	print_message("two gateways on one MAC: %d datagrams, %d IP changes, %d log lines\n",
	              4 * ROUNDS, 4 * ROUNDS - 1, lines);
	assert_true(lines <= 12); /* 10 per 10 s, and one that says how many were not */

	/* With pin_address the first one keeps the MAC while it is live. */
	struct th_daemon *pin = pin_bridge(s, c);
	th_watch_pump(&c->w, 1200);
	double pinned = metric(c, PIN_INST, "udp_rejected_total", "address_pinned");
	struct th_gateway pa, pb;
	assert_int_equal(th_gw_open(&pa, MAC_PTWIN, "127.0.0.3", pin->udp_port), 0);
	assert_int_equal(th_gw_open(&pb, MAC_PTWIN, "127.0.0.4", pin->udp_port), 0);
	assert_int_equal(th_gw_pull(&pa), 0);
	for (int r = 0; r < ROUNDS; r++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "A%d", r);
		push_tag(&pa, tag);
		char json[512];
		snprintf(tag, sizeof(tag), "B%d", r);
		th_sentinel_json(json, sizeof(json), tag);
		assert_int_equal(th_gw_send_push(&pb, 2, (uint16_t)r, json), 0);
		assert_int_equal(th_gw_pull(&pa), 0);
		assert_int_equal(th_gw_send_pull(&pb, 2, (uint16_t)(0x100 + r)), 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "A%d", r);
		expect_up(c, PIN "/" MAC_PTWIN "/up", tag);
	}
	expect_state(c, PIN "/" MAC_PTWIN "/state", true, "127.0.0.3", pa.down_port);
	assert_int_equal(th_gw_drain(&pb, TH_UP) + th_gw_drain(&pb, TH_DOWN), 0);
	EXPECT_METRIC(c, PIN_INST, "udp_rejected_total", "address_pinned", pinned + 2 * ROUNDS);
	assert_int_equal(th_watch_discard(&c->w, PIN "/" MAC_PTWIN "/#"), 0);
	th_gw_close(&a);
	th_gw_close(&b);
	th_gw_close(&pa);
	th_gw_close(&pb);
	steady_end(s, c, from, false, NULL);
}

/* The kernel's count of datagrams dropped for the bridge's full socket
 * buffer (the last column of /proc/net/udp), -1 when not found. */
static long long
udp_drops(uint16_t port)
{
	FILE *f = fopen("/proc/net/udp", "r");
	if (f == NULL) {
		return -1;
	}
	char line[512];
	long long drops = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid
		 * timeout inode ref pointer drops (and blanks at the end) */
		char *field[13], *save = NULL;
		int n = 0;
		for (char *tok = strtok_r(line, " \t\n", &save); tok != NULL && n < 13;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			field[n++] = tok;
		}
		const char *colon = n == 13 ? strchr(field[1], ':') : NULL;
		if (colon != NULL && strtoul(colon + 1, NULL, 16) == port) {
			drops = strtoll(field[12], NULL, 10);
		}
	}
	fclose(f);
	return drops;
}

/* Every datagram the bridge has handled: received by type, invalid and
 * rejected by reason. */
static double
handled(struct ctx *c)
{
	static const char *const types[] = {"push_data", "pull_data", "tx_ack", "pull_ack"};
	static const char *const invalid[] = {"empty", "short", "bad_version", "unknown_type",
	                                      "wrong_direction"};
	static const char *const rejected[] = {"address_pinned", "too_many_gateways"};
	double sum = 0, v;
	for (size_t i = 0; i < TH_ARRAY_LEN(types); i++) {
		th_watch_metric(&c->w, "bridge", INSTANCE, "udp_received_total", "type", types[i],
		                &v);
		sum += v;
	}
	for (size_t i = 0; i < TH_ARRAY_LEN(invalid); i++) {
		th_watch_metric(&c->w, "bridge", INSTANCE, "udp_invalid_total", "reason",
		                invalid[i], &v);
		sum += v;
	}
	for (size_t i = 0; i < TH_ARRAY_LEN(rejected); i++) {
		th_watch_metric(&c->w, "bridge", INSTANCE, "udp_rejected_total", "reason",
		                rejected[i], &v);
		sum += v;
	}
	return sum;
}

/* Pumps until two snapshots in a row say the same `handled`: the bridge
 * has counted everything sent so far. */
static double
handled_settled(struct ctx *c)
{
	double last = -1;
	int64_t deadline = lf_now_ms() + th_timeout_ms(30000);
	for (int i = 0; i < 30; i++) {
		th_watch_forget_snapshots(&c->w);
		double v;
		while (!th_watch_metric(&c->w, "bridge", INSTANCE, "udp_received_total", "type",
		                        "push_data", &v)) {
			if (lf_now_ms() >= deadline) {
				fail_msg("no metrics snapshot from the bridge");
			}
			th_watch_pump(&c->w, 100);
		}
		double now = handled(c);
		if (now == last) {
			return now;
		}
		last = now;
	}
	fail_msg("the bridge's datagram counts never settled");
	return -1;
}

static uint64_t
traffic_datagrams(struct ctx *c)
{
	uint64_t n = 0;
	for (int i = 0; i < N_GW; i++) {
		struct th_traffic_gw_stats st;
		th_traffic_gw_stats(&c->traffic, i, &st);
		n += st.sent + st.pulls;
	}
	return n;
}

enum flood_kind { F_JUNK, F_SHORT, F_BAD_JSON, F_TX_ACK, F_PULL_MADE_UP, F_KINDS };

/* The bridge's count for each kind of flood datagram. */
static void
flood_counts(struct ctx *c, double out[F_KINDS])
{
	th_watch_metric(&c->w, "bridge", INSTANCE, "udp_invalid_total", "reason", "bad_version",
	                &out[F_JUNK]);
	th_watch_metric(&c->w, "bridge", INSTANCE, "udp_invalid_total", "reason", "short",
	                &out[F_SHORT]);
	th_watch_metric(&c->w, "bridge", INSTANCE, "push_data_invalid_total", "reason",
	                "invalid_json", &out[F_BAD_JSON]);
	th_watch_metric(&c->w, "bridge", INSTANCE, "tx_ack_unmatched_total", NULL, NULL,
	                &out[F_TX_ACK]);
	th_watch_metric(&c->w, "bridge", INSTANCE, "udp_rejected_total", "reason",
	                "too_many_gateways", &out[F_PULL_MADE_UP]);
}

static void
test_flood_from_one_source(void **state)
{
	struct th_suite *s = *state;
	struct ctx *c = ctx_of(s);
	/* Quiet first: every count settled, the keepalives held. */
	for (int i = 0; i < N_GW; i++) {
		th_traffic_set_gw(&c->traffic, i, true, false);
	}
	th_traffic_settle(&c->traffic, 300);
	double handled0 = handled_settled(c);
	long long drops0 = udp_drops(s->bridge.udp_port);
	assert_true(drops0 >= 0);
	uint64_t traffic0 = traffic_datagrams(c);
	double known0 = 0, counts0[F_KINDS];
	th_watch_metric(&c->w, "bridge", INSTANCE, "gateways_known", NULL, NULL, &known0);
	flood_counts(c, counts0);
	size_t mark = th_daemon_log_mark(&s->bridge);

	uint32_t from[N_GW];
	for (int i = 0; i < N_GW; i++) {
		th_traffic_set_gw(&c->traffic, i, true, true);
	}
	steady_begin(c, from);
	struct th_gateway f;
	assert_int_equal(th_gw_open(&f, MAC_FLOOD, "127.0.0.9", s->bridge.udp_port), 0);
	uint64_t sent[F_KINDS] = {0};
	uint8_t dgram[256];
	int64_t start = lf_now_ms();
	uint64_t i = 0;
	while (lf_now_ms() - start < 3000) {
		for (int burst = 0; burst < 64; burst++, i++) {
			enum flood_kind k = (enum flood_kind)(i % F_KINDS);
			size_t len = 0;
			uint16_t token = (uint16_t)i;
			memset(dgram, 0, sizeof(dgram));
			switch (k) {
			case F_JUNK:
				for (len = 0; len < 48; len++) {
					dgram[len] = (uint8_t)(i * 7 + len * 31);
				}
				dgram[0] = 0x00; /* no GWMP version */
				break;
			case F_SHORT:
				dgram[0] = 2;
				len = 3;
				break;
			case F_BAD_JSON:
				dgram[0] = 2;
				dgram[1] = (uint8_t)(token >> 8);
				dgram[2] = (uint8_t)token;
				dgram[3] = TH_PUSH_DATA;
				memcpy(dgram + 4, f.eui, 8);
				len = 12 + (size_t)snprintf((char *)dgram + 12, 64,
				                            "{\"rxpk\":[{\"tmst\":");
				break;
			case F_TX_ACK:
				dgram[0] = 2;
				dgram[1] = (uint8_t)(token >> 8);
				dgram[2] = (uint8_t)token;
				dgram[3] = TH_TX_ACK;
				memcpy(dgram + 4, f.eui, 8);
				len = 12;
				break;
			case F_PULL_MADE_UP:
				/* A different made-up gateway each time. */
				dgram[0] = 2;
				dgram[1] = (uint8_t)(token >> 8);
				dgram[2] = (uint8_t)token;
				dgram[3] = TH_PULL_DATA;
				for (int b = 0; b < 8; b++) {
					dgram[4 + b] = (uint8_t)((0xee00000000000000ULL + i) >>
					                         (56 - 8 * b));
				}
				len = 12;
				break;
			default:
				break;
			}
			enum th_sock sock = k == F_PULL_MADE_UP || k == F_TX_ACK ? TH_DOWN : TH_UP;
			if (th_gw_send_raw(&f, sock, dgram, len) == 0) {
				sent[k]++;
			}
		}
		/* The acks it asks for are of no interest: keep its sockets from
		 * filling, as a flooder would not care either. */
		th_gw_drain(&f, TH_UP);
		th_gw_drain(&f, TH_DOWN);
	}
	int64_t flood_ms = lf_now_ms() - start;
	uint64_t flood = 0;
	for (int k = 0; k < F_KINDS; k++) {
		flood += sent[k];
	}
	/* The others go on for another second. */
	th_watch_pump(&c->w, 1000);
	uint64_t acked = 0;
	uint64_t n = steady_end(s, c, from, true, &acked);
	for (int k = 0; k < N_GW; k++) {
		th_traffic_set_gw(&c->traffic, k, true, false);
	}
	th_traffic_settle(&c->traffic, 300);
	th_gw_close(&f);

	/* Every datagram: counted by the bridge or dropped by the kernel. */
	double handled1 = handled_settled(c);
	long long drops = udp_drops(s->bridge.udp_port) - drops0;
	uint64_t traffic = traffic_datagrams(c) - traffic0;
	print_message("flood: %llu datagrams in %lld ms (%.0f/s); the bridge counted %.0f, the "
	              "kernel dropped %lld; the others: %llu uplinks, %llu acked and all of "
	              "those delivered once\n",
	              (unsigned long long)flood, (long long)flood_ms, flood * 1000.0 / flood_ms,
	              handled1 - handled0 - (double)traffic, drops, (unsigned long long)n,
	              (unsigned long long)acked);
	if ((double)(flood + traffic) != handled1 - handled0 + (double)drops) {
		fail_msg("%llu datagrams sent, %.0f counted and %lld dropped",
		         (unsigned long long)(flood + traffic), handled1 - handled0, drops);
	}

	/* The made-up gateways stop at max_gateways: the flooder's own EUI
	 * (its first valid-looking datagram) and then as many as fit. */
	double known = metric(c, INSTANCE, "gateways_known", NULL);
	double counts[F_KINDS];
	flood_counts(c, counts);
	double refused = counts[F_PULL_MADE_UP] - counts0[F_PULL_MADE_UP];
	print_message("gateways known: %.0f before, %.0f after (max_gateways %d); %.0f datagrams "
	              "of new gateways refused\n",
	              known0, known, MAX_GW, refused);
	assert_true(known == MAX_GW);
	/* Each kind in its counter: all of them when the kernel dropped none
	 * (together with the sum above, which holds either way; the kernel
	 * counts what it drops in /proc/net/udp, not by kind). */
	double fit = MAX_GW - known0 - 1;
	for (int k = 0; k < F_KINDS; k++) {
		double want = k == F_PULL_MADE_UP ? (double)sent[k] - fit : (double)sent[k];
		double got = counts[k] - counts0[k];
		if (got > want || (drops == 0 && got != want)) {
			fail_msg("flood datagrams of kind %d: %llu sent, the bridge counted %.0f, "
			         "expected %.0f (the kernel dropped %lld)",
			         k, (unsigned long long)sent[k], got, want, drops);
		}
	}
	int lines = th_daemon_log_count(&s->bridge, mark, NULL);
	print_message("bridge log lines during the flood: %d\n", lines);
	assert_true(lines < 200);
	for (int k = 0; k < N_GW; k++) {
		th_traffic_set_gw(&c->traffic, k, true, true);
	}
}

static int
teardown(void **state)
{
	struct ctx *c = &ctx;
	(void)state;
	int rc = 0;
	if (c->pin_ready) {
		rc = th_daemon_stop(&c->pin);
	}
	if (c->ready) {
		th_traffic_free(&c->traffic);
		th_tally_free(&c->obs);
		th_watch_free(&c->w);
	}
	return rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        TH_TEST(test_gateway_changes_address, &suite),
	        TH_TEST(test_pinned_gateway_changes_address, &suite),
	        TH_TEST(test_two_gateways_claim_one_mac, &suite),
	        TH_TEST(test_flood_from_one_source, &suite),
	};
	if (getenv("LF_TEST_FILTER") != NULL) {
		cmocka_set_test_filter(getenv("LF_TEST_FILTER"));
	}
	int failed = cmocka_run_group_tests_name("it_fault_gateways", tests, NULL, teardown);
	return th_suite_finish(&suite, failed);
}
