/*
 * The measuring subscriber. It runs on libmosquitto's network thread, so
 * it competes for the CPU like any consumer would; per message it does one
 * copy, two key look-ups and a few counter updates under one mutex.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "bench.h"

#define MAX_PHASES      128
#define SUBACK_WAIT_MS  5000
#define SAMPLE_TOPIC_SZ 128

struct phase {
	uint64_t first, n;
	uint64_t unique, dups, reordered, wrong_topic;
	int64_t last_rx_ns;
	uint8_t *seen; /* one bit per seq */
	struct hist *lat;
};

struct sub {
	char *host;
	int port;
	size_t gateways;
	struct mosquitto *mosq;
	atomic_bool subscribed;

	pthread_mutex_t lock; /* everything below */
	struct phase phases[MAX_PHASES];
	int nphases;
	uint64_t *last_seq; /* per gateway: the newest seq seen, plus one */
	uint64_t total, unparsed, stray, disconnects;
	char sample_topic[SAMPLE_TOPIC_SZ];
	char sample[BENCH_MAX_PAYLOAD];
	size_t sample_len;
};

static bool
parse_u64_after(const char *text, const char *key, uint64_t *out)
{
	const char *p = strstr(text, key);
	if (p == NULL) {
		return false;
	}
	p += strlen(key);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno != 0) {
		return false;
	}
	*out = v;
	return true;
}

/* The gateway index from "lorawan/<mac>/up"; SIZE_MAX if not one of ours. */
static size_t
topic_gateway(const char *topic, size_t gateways)
{
	const char *p = strchr(topic, '/');
	if (p == NULL || strlen(p + 1) < 17 || p[17] != '/') {
		return SIZE_MAX;
	}
	char hex[17];
	memcpy(hex, p + 1, 16);
	hex[16] = '\0';
	char *end = NULL;
	unsigned long long eui = strtoull(hex, &end, 16);
	if (*end != '\0' || eui < BENCH_EUI_BASE || eui - BENCH_EUI_BASE >= gateways) {
		return SIZE_MAX;
	}
	return (size_t)(eui - BENCH_EUI_BASE);
}

static struct phase *
find_phase(struct sub *s, uint64_t seq)
{
	/* Almost every message belongs to the newest phase: search backwards. */
	for (int i = s->nphases - 1; i >= 0; i--) {
		struct phase *p = &s->phases[i];
		if (seq >= p->first && seq < p->first + p->n) {
			return p;
		}
	}
	return NULL;
}

static void
on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	int64_t now = bench_now_ns();
	struct sub *s = obj;
	char text[BENCH_MAX_PAYLOAD];
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (len >= sizeof(text)) {
		len = sizeof(text) - 1;
	}
	memcpy(text, msg->payload, len);
	text[len] = '\0';

	uint64_t ts = 0, seq = 0;
	bool ok = parse_u64_after(text, "\"bench_ts\":", &ts) &&
	          parse_u64_after(text, "\"seq\":", &seq);
	size_t gw = topic_gateway(msg->topic, s->gateways);

	pthread_mutex_lock(&s->lock);
	s->total++;
	if (strlen(msg->topic) < sizeof(s->sample_topic)) {
		strcpy(s->sample_topic, msg->topic);
		memcpy(s->sample, text, len + 1);
		s->sample_len = len;
	}
	struct phase *p = ok ? find_phase(s, seq) : NULL;
	if (!ok) {
		s->unparsed++;
	} else if (p == NULL) {
		s->stray++;
	} else {
		uint64_t bit = seq - p->first;
		uint8_t mask = (uint8_t)(1u << (bit % 8));
		if (p->seen[bit / 8] & mask) {
			p->dups++;
		} else {
			p->seen[bit / 8] |= mask;
			p->unique++;
			p->last_rx_ns = now;
			hist_add(p->lat, now - (int64_t)ts);
			if (gw == SIZE_MAX || seq % s->gateways != gw) {
				p->wrong_topic++;
			} else if (s->last_seq[gw] > seq + 1) {
				p->reordered++;
			} else {
				s->last_seq[gw] = seq + 1;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	(void)mosq;
}

static void
on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	/* Clean session: (re)subscribe on every connect. */
	if (rc == 0) {
		mosquitto_subscribe(mosq, NULL, BENCH_SUB_TOPIC, 1);
	}
	(void)obj;
}

static void
on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	struct sub *s = obj;
	if (qos_count == 1 && granted[0] == 1) {
		atomic_store(&s->subscribed, true);
	}
	(void)mosq;
	(void)mid;
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct sub *s = obj;
	if (rc != 0) {
		pthread_mutex_lock(&s->lock);
		s->disconnects++;
		pthread_mutex_unlock(&s->lock);
		fprintf(stderr, "bench: subscriber lost its connection (%s)\n",
		        mosquitto_strerror(rc));
	}
	(void)mosq;
}

struct sub *
sub_new(const char *host, int port, size_t gateways)
{
	struct sub *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	s->host = strdup(host);
	s->port = port;
	s->gateways = gateways;
	s->last_seq = calloc(gateways, sizeof(*s->last_seq));
	pthread_mutex_init(&s->lock, NULL);
	char id[64];
	snprintf(id, sizeof(id), "lorafleet-bench-sub-%d", (int)getpid());
	s->mosq = mosquitto_new(id, true, s);
	if (s->host == NULL || s->last_seq == NULL || s->mosq == NULL) {
		sub_free(s);
		return NULL;
	}
	/* PUBACKs must not wait for Nagle: the broker's inflight window to us
	 * is 100 messages, so a late PUBACK would throttle delivery. */
	mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(s->mosq, on_connect);
	mosquitto_subscribe_callback_set(s->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
	mosquitto_message_callback_set(s->mosq, on_message);
	return s;
}

int
sub_start(struct sub *s)
{
	int rc = mosquitto_connect(s->mosq, s->host, s->port, 60);
	if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_loop_start(s->mosq);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench: subscriber: cannot connect to %s:%d: %s\n", s->host,
		        s->port, mosquitto_strerror(rc));
		return -1;
	}
	for (int waited = 0; waited < SUBACK_WAIT_MS; waited += 10) {
		if (atomic_load(&s->subscribed)) {
			return 0;
		}
		usleep(10000);
	}
	fprintf(stderr, "bench: subscriber: no SUBACK within %d ms\n", SUBACK_WAIT_MS);
	return -1;
}

void
sub_free(struct sub *s)
{
	if (s == NULL) {
		return;
	}
	if (s->mosq != NULL) {
		mosquitto_disconnect(s->mosq);
		mosquitto_loop_stop(s->mosq, false);
		mosquitto_destroy(s->mosq);
	}
	for (int i = 0; i < s->nphases; i++) {
		free(s->phases[i].seen);
		free(s->phases[i].lat);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->last_seq);
	free(s->host);
	free(s);
}

int
sub_phase_add(struct sub *s, uint64_t first, uint64_t n)
{
	uint8_t *seen = calloc(n / 8 + 1, 1);
	struct hist *lat = calloc(1, sizeof(*lat));
	int id = -1;
	pthread_mutex_lock(&s->lock);
	if (seen != NULL && lat != NULL && s->nphases < MAX_PHASES) {
		id = s->nphases++;
		s->phases[id] = (struct phase){.first = first, .n = n, .seen = seen, .lat = lat};
	}
	pthread_mutex_unlock(&s->lock);
	if (id < 0) {
		free(seen);
		free(lat);
	}
	return id;
}

uint64_t
sub_phase_unique(struct sub *s, int phase)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->phases[phase].unique;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void
sub_phase_stats(struct sub *s, int phase, struct phase_stats *out)
{
	pthread_mutex_lock(&s->lock);
	const struct phase *p = &s->phases[phase];
	*out = (struct phase_stats){
	        .expected = p->n,
	        .unique = p->unique,
	        .dups = p->dups,
	        .reordered = p->reordered,
	        .wrong_topic = p->wrong_topic,
	        .last_rx_ns = p->last_rx_ns,
	        .p50_ns = hist_quantile(p->lat, 0.50),
	        .p99_ns = hist_quantile(p->lat, 0.99),
	        .p999_ns = hist_quantile(p->lat, 0.999),
	        .max_ns = p->lat->max_ns,
	};
	pthread_mutex_unlock(&s->lock);
}

uint64_t
sub_total(struct sub *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->total;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void
sub_errors(struct sub *s, uint64_t *unparsed, uint64_t *stray, uint64_t *disconnects)
{
	pthread_mutex_lock(&s->lock);
	*unparsed = s->unparsed;
	*stray = s->stray;
	*disconnects = s->disconnects;
	pthread_mutex_unlock(&s->lock);
}

size_t
sub_sample(struct sub *s, char *topic, size_t topiclen, char *payload, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->sample_len;
	snprintf(topic, topiclen, "%s", s->sample_topic);
	snprintf(payload, len, "%s", s->sample);
	pthread_mutex_unlock(&s->lock);
	return n;
}
