/*
 * The ceiling: what the same broker, subscriber and machine deliver from a
 * plain libmosquitto publisher, the least work any bridge could do. It
 * publishes from the caller's thread with the network loop on a library
 * thread, as lfcommon's client does, with the bridge's settings (QoS 1,
 * inflight window, TCP_NODELAY).
 *
 * Its messages are the bridge's own: a message the bridge published is
 * split into literal text and the four values that change (mac,
 * received_at, bench_ts, seq), so the sizes and fields match whatever the
 * bridge emits.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "bench.h"
#include "lf/util.h"

#define CONNACK_WAIT_MS 5000
#define MAX_SEGS        9

enum field { F_LITERAL, F_MAC, F_RECEIVED_AT, F_BENCH_TS, F_SEQ };

struct seg {
	enum field field;
	const char *text; /* F_LITERAL */
	size_t len;
};

struct ceiling {
	struct mosquitto *mosq;
	size_t gateways;
	char *sample;
	struct seg segs[MAX_SEGS];
	int nsegs;
	atomic_bool connected;
	uint64_t errors;
};

struct found {
	enum field field;
	const char *start; /* the value */
	size_t len;
};

/* The value after key in sample: a "string" (without quotes) or digits. */
static bool
find_value(const char *sample, const char *key, bool string, struct found *out)
{
	const char *p = strstr(sample, key);
	if (p == NULL) {
		return false;
	}
	p += strlen(key);
	size_t len = string ? strcspn(p, "\"") : strspn(p, "0123456789");
	if (len == 0 || (string && p[len] != '"')) {
		return false;
	}
	out->start = p;
	out->len = len;
	return true;
}

static int
compile(struct ceiling *c)
{
	struct found f[4];
	int nf = 0;
	if (!find_value(c->sample, "\"bench_ts\":", false, &f[nf])) {
		return -1;
	}
	f[nf++].field = F_BENCH_TS;
	if (!find_value(c->sample, "\"seq\":", false, &f[nf])) {
		return -1;
	}
	f[nf++].field = F_SEQ;
	/* The bridge's own fields are optional: without them the text stays. */
	if (find_value(c->sample, "\"mac\":\"", true, &f[nf]) && f[nf].len == 16) {
		f[nf++].field = F_MAC;
	}
	if (find_value(c->sample, "\"received_at\":\"", true, &f[nf]) &&
	    f[nf].len == LF_RFC3339_LEN - 5) {
		f[nf++].field = F_RECEIVED_AT;
	}
	/* In the order they appear. */
	for (int i = 1; i < nf; i++) {
		for (int j = i; j > 0 && f[j].start < f[j - 1].start; j--) {
			struct found t = f[j];
			f[j] = f[j - 1];
			f[j - 1] = t;
		}
	}
	const char *at = c->sample;
	for (int i = 0; i < nf; i++) {
		c->segs[c->nsegs++] = (struct seg){F_LITERAL, at, (size_t)(f[i].start - at)};
		c->segs[c->nsegs++] = (struct seg){f[i].field, NULL, 0};
		at = f[i].start + f[i].len;
	}
	c->segs[c->nsegs++] = (struct seg){F_LITERAL, at, strlen(at)};
	return 0;
}

/* The message for seq into out (BENCH_MAX_PAYLOAD); its length, or 0. */
static size_t
render(const struct ceiling *c, uint64_t seq, const char *mac, char *out)
{
	size_t len = 0;
	for (int i = 0; i < c->nsegs; i++) {
		const struct seg *s = &c->segs[i];
		char val[LF_RFC3339_LEN];
		const char *text = val;
		size_t n = 0;
		struct timespec now;
		switch (s->field) {
		case F_LITERAL:
			text = s->text;
			n = s->len;
			break;
		case F_MAC:
			text = mac;
			n = 16;
			break;
		case F_RECEIVED_AT:
			clock_gettime(CLOCK_REALTIME, &now);
			lf_format_rfc3339(&now, val);
			n = strlen(val);
			break;
		case F_BENCH_TS:
			n = (size_t)snprintf(val, sizeof(val), "%lld", (long long)bench_now_ns());
			break;
		case F_SEQ:
			n = (size_t)snprintf(val, sizeof(val), "%llu", (unsigned long long)seq);
			break;
		}
		if (len + n >= BENCH_MAX_PAYLOAD) {
			return 0;
		}
		memcpy(out + len, text, n);
		len += n;
	}
	out[len] = '\0';
	return len;
}

static void
on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct ceiling *c = obj;
	atomic_store(&c->connected, rc == 0);
	(void)mosq;
}

static int
ceiling_send(void *impl, uint64_t first, size_t n)
{
	struct ceiling *c = impl;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = first + i;
		char mac[17], topic[64], payload[BENCH_MAX_PAYLOAD];
		bench_mac((size_t)(seq % c->gateways), mac);
		snprintf(topic, sizeof(topic), BENCH_TOPIC_FMT, mac);
		size_t len = render(c, seq, mac, payload);
		if (len == 0 || mosquitto_publish(c->mosq, NULL, topic, (int)len, payload, 1,
		                                  false) != MOSQ_ERR_SUCCESS) {
			c->errors++;
			rc = -1;
		}
	}
	return rc;
}

static void
ceiling_idle(void *impl, int64_t timeout_ns)
{
	/* The network thread does the work; the caller only paces. */
	if (timeout_ns > 0) {
		struct timespec ts = {.tv_sec = timeout_ns / 1000000000LL,
		                      .tv_nsec = timeout_ns % 1000000000LL};
		nanosleep(&ts, NULL);
	}
	(void)impl;
}

struct ceiling *
ceiling_new(const char *host, int port, size_t gateways, int inflight, const char *sample_payload)
{
	struct ceiling *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	c->gateways = gateways;
	c->sample = strdup(sample_payload);
	if (c->sample == NULL || compile(c) != 0) {
		fprintf(stderr, "bench: ceiling: no bench_ts/seq in the sample message\n");
		ceiling_free(c);
		return NULL;
	}
	char id[64];
	snprintf(id, sizeof(id), "lorafleet-bench-pub-%d", (int)getpid());
	c->mosq = mosquitto_new(id, true, c);
	if (c->mosq == NULL) {
		ceiling_free(c);
		return NULL;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(c->mosq, (unsigned)inflight);
	mosquitto_connect_callback_set(c->mosq, on_connect);
	int rc = mosquitto_connect(c->mosq, host, port, 60);
	if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_loop_start(c->mosq);
	}
	for (int waited = 0; rc == MOSQ_ERR_SUCCESS && waited < CONNACK_WAIT_MS; waited += 10) {
		if (atomic_load(&c->connected)) {
			return c;
		}
		usleep(10000);
	}
	fprintf(stderr, "bench: ceiling publisher: cannot connect to %s:%d: %s\n", host, port,
	        rc == MOSQ_ERR_SUCCESS ? "no CONNACK" : mosquitto_strerror(rc));
	ceiling_free(c);
	return NULL;
}

void
ceiling_free(struct ceiling *c)
{
	if (c == NULL) {
		return;
	}
	if (c->mosq != NULL) {
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, false);
		mosquitto_destroy(c->mosq);
	}
	free(c->sample);
	free(c);
}

size_t
ceiling_message_size(struct ceiling *c, uint64_t seq)
{
	char mac[17], payload[BENCH_MAX_PAYLOAD];
	bench_mac((size_t)(seq % c->gateways), mac);
	return render(c, seq, mac, payload);
}

uint64_t
ceiling_errors(const struct ceiling *c)
{
	return c->errors;
}

void
ceiling_source(struct ceiling *c, struct source *out)
{
	*out = (struct source){
	        .name = "ceiling", .impl = c, .send = ceiling_send, .idle = ceiling_idle};
}
