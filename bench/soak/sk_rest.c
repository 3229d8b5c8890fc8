/*
 * The REST side of the soak: a few requests a second against apigw, each
 * checked, from one thread (soak.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apigw/agbench.h"
#include "../bench.h"
#include "soak.h"

#define TIMEOUT_MS 10000
#define NS_PER_S   1000000000LL
#define NS_PER_MS  1000000LL

/* One round: mostly single gateways, the whole list once. */
static const enum sk_rest_kind ROUND[] = {
        SK_GATEWAY, SK_PACKETS, SK_GATEWAY, SK_METRICS, SK_GATEWAY,
        SK_HEALTHZ, SK_GATEWAY, SK_PACKETS, SK_GATEWAY, SK_METRICS,
        SK_GATEWAY, SK_HEALTHZ, SK_GATEWAY, SK_PACKETS, SK_LIST,
};

const char *
sk_rest_kind_name(enum sk_rest_kind k)
{
	static const char *const names[SK_REST_KINDS] = {
	        "GET /gateways/{mac}", "GET /gateways/{mac}/packets", "GET /metrics",
	        "GET /healthz", "GET /gateways"};
	return (unsigned)k < SK_REST_KINDS ? names[k] : "?";
}

/* Whether body is the right answer for kind (status 200 already seen). */
static bool
answer_ok(const struct sk_rest *r, enum sk_rest_kind kind, const char *mac, const char *body)
{
	char want[48];
	switch (kind) {
	case SK_GATEWAY:
		return strstr(body, mac) != NULL;
	case SK_PACKETS:
		/* Every gateway has sent uplinks by the time REST starts. */
		return body[0] == '[' && strstr(body, "\"direction\":\"up\"") != NULL;
	case SK_LIST:
		snprintf(want, sizeof(want), "\"total\":%zu", r->gateways);
		return strstr(body, want) != NULL;
	case SK_METRICS:
		return strstr(body, "# TYPE") != NULL;
	case SK_HEALTHZ:
		snprintf(want, sizeof(want), "\"gateways\":%zu,", r->gateways);
		return strstr(body, "\"status\":\"ok\"") != NULL && strstr(body, want) != NULL;
	case SK_REST_KINDS:
		break;
	}
	return false;
}

static void
one_request(struct sk_rest *r, enum sk_rest_kind kind, uint64_t *rng)
{
	/* xorshift: a gateway at random, reproducibly. */
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	char mac[17], path[96];
	snprintf(mac, sizeof(mac), "%016" PRIx64, (uint64_t)(SK_EUI_BASE + *rng % r->gateways));
	switch (kind) {
	case SK_GATEWAY:
		snprintf(path, sizeof(path), "/gateways/%s", mac);
		break;
	case SK_PACKETS:
		snprintf(path, sizeof(path), "/gateways/%s/packets", mac);
		break;
	case SK_METRICS:
		snprintf(path, sizeof(path), "/metrics");
		break;
	case SK_HEALTHZ:
		snprintf(path, sizeof(path), "/healthz");
		break;
	default:
		snprintf(path, sizeof(path), "/gateways");
		break;
	}
	char *body = NULL;
	pthread_mutex_lock(&r->busy);
	int64_t t0 = bench_now_ns();
	int status = agb_http_get(r->port, path, r->api_key, &body, TIMEOUT_MS);
	double ms = (double)(bench_now_ns() - t0) / 1e6;
	pthread_mutex_unlock(&r->busy);
	bool ok = status == 200 && body != NULL && answer_ok(r, kind, mac, body);
	if (!ok) {
		fprintf(stderr, "soak: %s answered %d: %.200s\n", path, status,
		        body != NULL ? body : "(no body)");
	}
	free(body);
	pthread_mutex_lock(&r->lock);
	if (ok) {
		r->st.ok[kind]++;
	} else {
		r->st.failed[kind]++;
	}
	if (ms > r->st.max_ms[kind]) {
		r->st.max_ms[kind] = ms;
	}
	pthread_mutex_unlock(&r->lock);
}

static void *
rest_main(void *arg)
{
	struct sk_rest *r = arg;
	int64_t period = 60 * NS_PER_S / r->per_min, next = bench_now_ns();
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; !atomic_load(&r->stop); i++) {
		one_request(r, ROUND[i % (sizeof(ROUND) / sizeof(ROUND[0]))], &rng);
		next += period;
		/* In slices, so that stop is seen soon. */
		for (int64_t now = bench_now_ns(); now < next && !atomic_load(&r->stop);
		     now = bench_now_ns()) {
			int64_t left = next - now;
			bench_sleep_ns(left < 100 * NS_PER_MS ? left : 100 * NS_PER_MS);
		}
	}
	return NULL;
}

void
sk_rest_init(struct sk_rest *r)
{
	pthread_mutex_init(&r->busy, NULL);
	pthread_mutex_init(&r->lock, NULL);
	atomic_store(&r->stop, false);
}

int
sk_rest_start(struct sk_rest *r)
{
	if (r->per_min <= 0) {
		return 0;
	}
	if (pthread_create(&r->thread, NULL, rest_main, r) != 0) {
		return -1;
	}
	r->started = true;
	return 0;
}

void
sk_rest_stop(struct sk_rest *r)
{
	if (r->started) {
		atomic_store(&r->stop, true);
		pthread_join(r->thread, NULL);
		r->started = false;
	}
}

void
sk_rest_stats(struct sk_rest *r, struct sk_rest_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->st;
	pthread_mutex_unlock(&r->lock);
}
