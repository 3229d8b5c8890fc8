/* Steady traffic from many fake gateways, and tallies of what arrived. */
#include "th_traffic.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS       5
#define GW_RCVBUF     (1 << 20)
#define MAX_DUE       2000 /* a stalled thread catches up at most this much */
#define SHOW_PROBLEMS 5
#define TMST_PER_GW   1000000u
#define TMST_BASE     TMST_PER_GW

uint32_t
th_traffic_tmst(int gw, uint32_t seq)
{
	return TMST_BASE + (uint32_t)gw * TMST_PER_GW + seq;
}

int
th_traffic_init(struct th_traffic *t, uint16_t bridge_port, int cap, int pull_interval_ms)
{
	memset(t, 0, sizeof(*t));
	t->bridge_port = bridge_port;
	t->pull_interval_ms = pull_interval_ms;
	t->cap = cap;
	t->gws = calloc((size_t)cap, sizeof(*t->gws));
	if (t->gws == NULL) {
		return -1;
	}
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

int
th_traffic_add(struct th_traffic *t, const char *mac, const char *src_ip, bool sending)
{
	pthread_mutex_lock(&t->lock);
	int i = t->n;
	pthread_mutex_unlock(&t->lock);
	if (i >= t->cap) {
		fprintf(stderr, "harness: traffic: room for %d gateways only\n", t->cap);
		return -1;
	}
	/* The slot is not visible to the thread until n grows. */
	struct th_traffic_gw *g = &t->gws[i];
	memset(g, 0, sizeof(*g));
	if (th_gw_open(&g->gw, mac, src_ip, t->bridge_port) != 0) {
		return -1;
	}
	/* A stall of the thread must not overflow the acks' sockets. */
	int rcvbuf = GW_RCVBUF;
	setsockopt(g->gw.up_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	setsockopt(g->gw.down_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (th_gw_pull(&g->gw) != 0) {
		th_gw_close(&g->gw);
		return -1;
	}
	g->sending = sending;
	g->pulling = true;
	g->pulls = g->pull_acked = 1;
	g->next_pull_ms = lf_now_ms() + t->pull_interval_ms;
	pthread_mutex_lock(&t->lock);
	t->n = i + 1;
	pthread_mutex_unlock(&t->lock);
	return i;
}

static int
remember_up(struct th_traffic_gw *g, uint32_t seq, uint64_t n)
{
	if (seq >= g->ups_cap) {
		uint32_t cap = g->ups_cap != 0 ? g->ups_cap * 2 : 1024;
		struct th_traffic_up *p = realloc(g->ups, cap * sizeof(*p));
		if (p == NULL) {
			return -1;
		}
		g->ups = p;
		g->ups_cap = cap;
	}
	g->ups[seq] = (struct th_traffic_up){.n = n, .sent_ms = lf_wall_ms()};
	return 0;
}

/* One uplink of gateway i; t->lock held. */
static void
send_uplink(struct th_traffic *t, int i)
{
	struct th_traffic_gw *g = &t->gws[i];
	char json[512];
	snprintf(json, sizeof(json),
	         "{\"rxpk\":[{\"tmst\":%u,\"chan\":0,\"rfch\":0,\"freq\":904.3,\"stat\":1,"
	         "\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-70,"
	         "\"lsnr\":9.5,\"size\":13,\"data\":\"QAQDAgEAAQABqrvM3Q==\",\"gw\":%d,"
	         "\"seq\":%u,\"n\":%llu}]}",
	         th_traffic_tmst(i, g->sent), i, g->sent, (unsigned long long)t->n_sent);
	uint16_t token = g->gw.next_token++;
	if (remember_up(g, g->sent, t->n_sent) != 0 ||
	    th_gw_send_push(&g->gw, g->gw.version, token, json) != 0) {
		t->send_errors++;
		return;
	}
	g->sent++;
	t->n_sent++;
}

/* Reads what waits on one socket; t->lock held. */
static void
drain(struct th_traffic *t, struct th_traffic_gw *g, int fd, bool up)
{
	uint8_t buf[2048];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			return;
		}
		if (n == 4 && up && buf[3] == TH_PUSH_ACK) {
			g->push_acked++;
			t->n_push_acked++;
		} else if (n == 4 && !up && buf[3] == TH_PULL_ACK) {
			g->pull_acked++;
		} else {
			g->other++;
		}
	}
}

/* Whether the next turn of the round robin may send now; t->lock held. */
static bool
may_send(const struct th_traffic *t)
{
	if (t->hold_set && t->rr == t->hold_at) {
		return false;
	}
	return t->ack_paced ? t->n_push_acked >= t->n_sent : t->due >= 1.0;
}

static void *
traffic_main(void *arg)
{
	struct th_traffic *t = arg;
	struct pollfd *fds = calloc((size_t)t->cap * 2, sizeof(*fds));
	if (fds == NULL) {
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&t->lock);
		int n = t->n;
		bool stop = t->stop;
		pthread_mutex_unlock(&t->lock);
		if (stop) {
			break;
		}
		for (int i = 0; i < n; i++) {
			fds[2 * i] = (struct pollfd){.fd = t->gws[i].gw.up_fd, .events = POLLIN};
			fds[2 * i + 1] =
			        (struct pollfd){.fd = t->gws[i].gw.down_fd, .events = POLLIN};
		}
		poll(fds, (nfds_t)n * 2, TICK_MS);

		pthread_mutex_lock(&t->lock);
		for (int i = 0; i < n; i++) {
			if (fds[2 * i].revents & POLLIN) {
				drain(t, &t->gws[i], t->gws[i].gw.up_fd, true);
			}
			if (fds[2 * i + 1].revents & POLLIN) {
				drain(t, &t->gws[i], t->gws[i].gw.down_fd, false);
			}
		}
		int64_t now = lf_now_ms();
		t->due += (double)(now - t->last_ms) * t->rate / 1000.0;
		t->last_ms = now;
		if (t->due > MAX_DUE) {
			t->due = MAX_DUE;
		}
		/* Whole uplinks, round robin over the gateways that send. */
		int idle = 0;
		while (n > 0 && idle < n && may_send(t)) {
			int i = (int)(t->rr++ % (uint64_t)n);
			if (!t->gws[i].sending) {
				idle++;
				continue;
			}
			idle = 0;
			send_uplink(t, i);
			t->due -= t->ack_paced ? 0.0 : 1.0;
		}
		if (idle >= n) {
			t->due = 0; /* nobody sends: owe nothing */
		}
		if (t->hold_set && t->rr == t->hold_at) {
			/* The last round is complete: hold (end_round, rounds). */
			t->hold_set = t->ack_paced = false;
			t->rate = t->due = 0;
		}
		for (int i = 0; i < n; i++) {
			struct th_traffic_gw *g = &t->gws[i];
			if (g->pulling && now >= g->next_pull_ms) {
				if (th_gw_send_pull(&g->gw, g->gw.version, g->gw.next_token++) ==
				    0) {
					g->pulls++;
				} else {
					t->send_errors++;
				}
				g->next_pull_ms = now + t->pull_interval_ms;
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	free(fds);
	return NULL;
}

/* A slow wrapper (valgrind, $LF_TEST_TIMEOUT_SCALE) cannot take the
 * full rate: it gets its share, unless the test counts on the rate. */
static double
scaled(const struct th_traffic *t, double rate)
{
	return t->exact_rate ? rate : rate * 1000 / th_timeout_ms(1000);
}

int
th_traffic_start(struct th_traffic *t, double rate)
{
	t->rate = scaled(t, rate);
	t->last_ms = lf_now_ms();
	if (pthread_create(&t->thread, NULL, traffic_main, t) != 0) {
		return -1;
	}
	t->started = true;
	return 0;
}

void
th_traffic_set_rate(struct th_traffic *t, double rate)
{
	/* The thread sends only while it holds the lock, so once we hold it
	 * the old rate's uplinks are all out. */
	pthread_mutex_lock(&t->lock);
	t->due = 0;
	t->last_ms = lf_now_ms();
	t->rate = scaled(t, rate);
	pthread_mutex_unlock(&t->lock);
}

/* The first turn of the round robin after the round under way. */
static uint64_t
next_round(const struct th_traffic *t)
{
	uint64_t n = (uint64_t)t->n;
	return n > 0 ? (t->rr + n - 1) / n * n : t->rr;
}

/* Waits until the thread holds the uplinks (hold_set cleared). */
static int
wait_hold(struct th_traffic *t, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		pthread_mutex_lock(&t->lock);
		bool held = !t->hold_set;
		uint64_t rr = t->rr, at = t->hold_at;
		pthread_mutex_unlock(&t->lock);
		if (held) {
			return 0;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr,
			        "harness: traffic: at turn %llu of the round robin after %d ms, "
			        "to hold at %llu\n",
			        (unsigned long long)rr, timeout_ms, (unsigned long long)at);
			return -1;
		}
		usleep(1000);
	}
}

int
th_traffic_end_round(struct th_traffic *t)
{
	pthread_mutex_lock(&t->lock);
	t->hold_at = next_round(t);
	t->hold_set = true;
	/* The round under way goes on at the rate: one turn per 1/rate s. */
	int ms = t->rate > 0 ? (int)((double)t->n * 1000.0 / t->rate) : 0;
	pthread_mutex_unlock(&t->lock);
	return wait_hold(t, ms + 5000);
}

int
th_traffic_rounds(struct th_traffic *t, int k, int spread_ms)
{
	pthread_mutex_lock(&t->lock);
	int senders = 0;
	for (int i = 0; i < t->n; i++) {
		senders += t->gws[i].sending;
	}
	t->hold_at = next_round(t) + (uint64_t)k * (uint64_t)t->n;
	t->hold_set = true;
	t->ack_paced = spread_ms <= 0;
	t->rate = spread_ms > 0 ? scaled(t, (double)k * senders * 1000.0 / spread_ms) : 0;
	t->due = spread_ms > 0 ? 1.0 : 0; /* the first at once */
	t->last_ms = lf_now_ms();
	pthread_mutex_unlock(&t->lock);
	return wait_hold(t, (spread_ms > 0 ? spread_ms : 0) + 10000);
}

void
th_traffic_set_gw(struct th_traffic *t, int i, bool sending, bool pulling)
{
	pthread_mutex_lock(&t->lock);
	t->gws[i].sending = sending;
	t->gws[i].pulling = pulling;
	t->gws[i].next_pull_ms = lf_now_ms() + t->pull_interval_ms;
	pthread_mutex_unlock(&t->lock);
}

void
th_traffic_stop(struct th_traffic *t)
{
	if (!t->started) {
		return;
	}
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->started = false;
}

void
th_traffic_free(struct th_traffic *t)
{
	th_traffic_stop(t);
	for (int i = 0; i < t->n; i++) {
		th_gw_close(&t->gws[i].gw);
		free(t->gws[i].ups);
	}
	free(t->gws);
	if (t->cap > 0) {
		pthread_mutex_destroy(&t->lock);
	}
	memset(t, 0, sizeof(*t));
}

void
th_traffic_gw_stats(struct th_traffic *t, int i, struct th_traffic_gw_stats *out)
{
	pthread_mutex_lock(&t->lock);
	const struct th_traffic_gw *g = &t->gws[i];
	*out = (struct th_traffic_gw_stats){g->sent, g->push_acked, g->pulls, g->pull_acked,
	                                    g->other};
	pthread_mutex_unlock(&t->lock);
}

uint64_t
th_traffic_total_sent(struct th_traffic *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t n = t->n_sent;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint32_t
th_traffic_send_errors(struct th_traffic *t)
{
	pthread_mutex_lock(&t->lock);
	uint32_t n = t->send_errors;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t
th_traffic_n_of(struct th_traffic *t, int i, uint32_t seq)
{
	pthread_mutex_lock(&t->lock);
	uint64_t n = seq < t->gws[i].sent ? t->gws[i].ups[seq].n : UINT64_MAX;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int64_t
th_traffic_sent_ms(struct th_traffic *t, int i, uint32_t seq)
{
	pthread_mutex_lock(&t->lock);
	int64_t ms = seq < t->gws[i].sent ? t->gws[i].ups[seq].sent_ms : -1;
	pthread_mutex_unlock(&t->lock);
	return ms;
}

/* The first gateway whose acks are short (or that got something else):
 * its index, or -1 when all is well. */
static int
first_unacked(struct th_traffic *t, bool *other)
{
	int bad = -1;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->n && bad < 0; i++) {
		const struct th_traffic_gw *g = &t->gws[i];
		if (g->other > 0) {
			*other = true;
			bad = i;
		} else if (g->push_acked != g->sent || g->pull_acked != g->pulls) {
			bad = i;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return bad;
}

int
th_traffic_wait_acked(struct th_traffic *t, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		bool other = false;
		int bad = first_unacked(t, &other);
		if (bad < 0) {
			return 0;
		}
		if (other || lf_now_ms() >= deadline) {
			struct th_traffic_gw_stats st;
			th_traffic_gw_stats(t, bad, &st);
			fprintf(stderr,
			        "harness: traffic gateway %d (%s): %u uplinks, %u PUSH_ACK; %u "
			        "PULL_DATA, %u PULL_ACK; %u other datagrams\n",
			        bad, t->gws[bad].gw.mac, st.sent, st.push_acked, st.pulls,
			        st.pull_acked, st.other);
			return -1;
		}
		usleep(20000);
	}
}

static uint64_t
acks_so_far(struct th_traffic *t)
{
	uint64_t n = 0;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->n; i++) {
		n += t->gws[i].push_acked + t->gws[i].pull_acked + t->gws[i].other;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
th_traffic_settle(struct th_traffic *t, int quiet_ms)
{
	uint64_t last = acks_so_far(t);
	int64_t since = lf_now_ms();
	while (lf_now_ms() - since < quiet_ms) {
		usleep(20000);
		uint64_t now = acks_so_far(t);
		if (now != last) {
			last = now;
			since = lf_now_ms();
		}
	}
}

/* ---------------------------------------------------------------------- */

int
th_tally_init(struct th_tally *y, int n_gateways)
{
	memset(y, 0, sizeof(*y));
	y->n = n_gateways;
	y->g = calloc((size_t)n_gateways, sizeof(*y->g));
	if (y->g == NULL) {
		return -1;
	}
	for (int i = 0; i < n_gateways; i++) {
		y->g[i].max_seq = -1;
	}
	return 0;
}

void
th_tally_free(struct th_tally *y)
{
	for (int i = 0; i < y->n; i++) {
		free(y->g[i].count);
		free(y->g[i].first);
	}
	free(y->g);
	memset(y, 0, sizeof(*y));
}

/* One delivery: how many of seq there are now, 0 for a foreign one. */
static unsigned
tally_add(struct th_tally *y, int gw, uint32_t seq)
{
	y->total++;
	if (gw < 0 || gw >= y->n || seq >= TMST_PER_GW) {
		y->foreign++;
		return 0;
	}
	struct th_tally_gw *g = &y->g[gw];
	if (seq >= g->cap) {
		uint32_t cap = g->cap != 0 ? g->cap : 1024;
		while (cap <= seq) {
			cap *= 2;
		}
		uint8_t *p = realloc(g->count, cap);
		if (p == NULL) {
			y->foreign++;
			return 0;
		}
		memset(p + g->cap, 0, cap - g->cap);
		g->count = p;
		g->cap = cap;
	}
	if (g->count[seq] == 0) {
		g->unique++;
		if ((int64_t)seq < g->max_seq) {
			g->disorder++;
		} else {
			g->max_seq = seq;
		}
	} else {
		g->dups++;
	}
	if (g->count[seq] < UINT8_MAX) {
		g->count[seq]++;
	}
	return g->count[seq];
}

void
th_tally_add(struct th_tally *y, int gw, uint32_t seq)
{
	tally_add(y, gw, seq);
}

/* Keeps the router's time and hold_time of a first delivery. */
static void
remember_first(struct th_tally_gw *g, uint32_t seq, const cJSON *ev)
{
	if (g->first_cap < g->cap) {
		struct th_tally_first *p = realloc(g->first, g->cap * sizeof(*p));
		if (p == NULL) {
			return;
		}
		memset(p + g->first_cap, 0, (g->cap - g->first_cap) * sizeof(*p));
		g->first = p;
		g->first_cap = g->cap;
	}
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "t");
	const cJSON *hold = cJSON_GetObjectItemCaseSensitive(ev, "hold_time");
	g->first[seq] = (struct th_tally_first){
	        .router_ms = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : -1,
	        .hold_ms = cJSON_IsNumber(hold) ? (int64_t)hold->valuedouble : -1};
}

void
th_tally_up_payload(struct th_tally *y, const char *payload)
{
	cJSON *root = cJSON_Parse(payload);
	const cJSON *rxpk = cJSON_GetObjectItemCaseSensitive(root, "rxpk");
	const cJSON *gw = cJSON_GetObjectItemCaseSensitive(rxpk, "gw");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rxpk, "seq");
	if (cJSON_IsNumber(gw) && cJSON_IsNumber(seq) && seq->valuedouble >= 0) {
		th_tally_add(y, gw->valueint, (uint32_t)seq->valuedouble);
	} else {
		y->total++;
		y->foreign++;
	}
	cJSON_Delete(root);
}

void
th_tally_router_packet(struct th_tally *y, const cJSON *ev)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "timestamp");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(ev, "gateway");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "verified")) ||
	    !cJSON_IsNumber(ts) || !cJSON_IsString(key) || ts->valuedouble < TMST_BASE) {
		y->total++;
		y->foreign++;
		return;
	}
	uint32_t off = (uint32_t)ts->valuedouble - TMST_BASE;
	int gw = (int)(off / TMST_PER_GW);
	uint32_t seq = off % TMST_PER_GW;
	if (tally_add(y, gw, seq) == 1) {
		remember_first(&y->g[gw], seq, ev);
	}
	if (gw < y->n) {
		struct th_tally_gw *g = &y->g[gw];
		if (g->key[0] == '\0') {
			snprintf(g->key, sizeof(g->key), "%s", key->valuestring);
		} else if (strcmp(g->key, key->valuestring) != 0) {
			g->key_mismatch++;
		}
	}
}

int
th_tally_router_events(struct th_tally *y, const struct th_router *r)
{
	size_t len = 0;
	char *text = th_read_file(r->events_path, &len);
	if (text == NULL || y->events_off >= len) {
		free(text);
		return 0;
	}
	int packets = 0;
	char *p = text + y->events_off;
	for (;;) {
		char *nl = strchr(p, '\n');
		if (nl == NULL) {
			break; /* a line still being written */
		}
		*nl = '\0';
		if (strstr(p, "\"ev\":\"packet\"") != NULL) {
			cJSON *ev = cJSON_Parse(p);
			th_tally_router_packet(y, ev);
			cJSON_Delete(ev);
			packets++;
		}
		p = nl + 1;
	}
	y->events_off = (size_t)(p - text);
	free(text);
	return packets;
}

unsigned
th_tally_count(const struct th_tally *y, int gw, uint32_t seq)
{
	if (gw < 0 || gw >= y->n || seq >= y->g[gw].cap) {
		return 0;
	}
	return y->g[gw].count[seq];
}

bool
th_tally_first(const struct th_tally *y, int gw, uint32_t seq, struct th_tally_first *out)
{
	if (th_tally_count(y, gw, seq) == 0 || seq >= y->g[gw].first_cap) {
		return false;
	}
	*out = y->g[gw].first[seq];
	return true;
}

unsigned
th_tally_check_range(const struct th_tally *y, int gw, uint32_t first, uint32_t last,
                     bool exactly_once)
{
	unsigned problems = 0;
	for (uint32_t s = first; s <= last && last != UINT32_MAX; s++) {
		unsigned c = th_tally_count(y, gw, s);
		if (c == 0 || (exactly_once && c > 1)) {
			if (problems < SHOW_PROBLEMS) {
				fprintf(stderr,
				        "harness: gateway %d uplink %u delivered %u times\n", gw, s,
				        c);
			}
			problems++;
		}
	}
	return problems;
}

uint32_t
th_tally_delivered(const struct th_tally *y, int gw, uint32_t first, uint32_t last)
{
	uint32_t n = 0;
	for (uint32_t s = first; s <= last && last != UINT32_MAX; s++) {
		n += th_tally_count(y, gw, s) > 0;
	}
	return n;
}
