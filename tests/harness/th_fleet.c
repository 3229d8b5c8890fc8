/* Many fake gateways, their traffic and its accounting (th_fleet.h). */
#include "th_fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PULL_EVERY_MS 10000
#define PAYLOAD_LEN   14

static void
sleep_ms(int64_t ms)
{
	if (ms <= 0) {
		return;
	}
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int
th_fleet_open(struct th_fleet *f, int n, uint64_t eui_base, uint16_t bridge_port)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->g = calloc((size_t)n, sizeof(*f->g));
	if (f->g == NULL) {
		return -1;
	}
	f->n = n;
	for (int i = 0; i < n; i++) {
		struct th_fleet_gw *g = &f->g[i];
		g->gw.up_fd = g->gw.down_fd = -1;
		g->eui = eui_base + (uint64_t)i;
		char mac[17];
		snprintf(mac, sizeof(mac), "%016" PRIx64, g->eui);
		if (th_gw_open(&g->gw, mac, NULL, bridge_port) != 0 || th_gw_pull(&g->gw) != 0) {
			fprintf(stderr, "harness: fleet gateway %s did not come up\n", mac);
			return -1;
		}
	}
	return 0;
}

void
th_fleet_close(struct th_fleet *f)
{
	if (f->g == NULL) {
		return; /* never opened */
	}
	if (f->running) {
		th_fleet_traffic_stop(f);
	}
	for (int i = 0; i < f->n; i++) {
		th_gw_close(&f->g[i].gw);
		free(f->g[i].ups);
	}
	free(f->g);
	f->g = NULL;
	f->n = 0;
	pthread_mutex_destroy(&f->lock);
}

int
th_fleet_learn_keys(struct th_fleet *f, const char *keys_dir)
{
	int found = 0;
	for (int i = 0; i < f->n; i++) {
		char path[TH_PATH_MAX];
		snprintf(path, sizeof(path), "%s/%016" PRIX64 ".key", keys_dir, f->g[i].eui);
		size_t len = 0;
		char *bytes = th_read_file(path, &len);
		if (bytes != NULL && len == 65) {
			/* tag || seed || public key: the router sees tag || public key. */
			const uint8_t *b = (const uint8_t *)bytes;
			snprintf(f->g[i].hex, 3, "%02x", b[0]);
			for (int k = 0; k < 32; k++) {
				snprintf(f->g[i].hex + 2 + 2 * k, 3, "%02x", b[33 + k]);
			}
			found++;
		}
		free(bytes);
	}
	return found;
}

int
th_fleet_by_hex(const struct th_fleet *f, const char *hex)
{
	for (int i = 0; i < f->n; i++) {
		if (strcasecmp(f->g[i].hex, hex) == 0) {
			return i;
		}
	}
	return -1;
}

static struct th_fleet_up *
new_up(struct th_fleet *f, int i, uint32_t *seq)
{
	struct th_fleet_gw *g = &f->g[i];
	pthread_mutex_lock(&f->lock);
	if (g->sent == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct th_fleet_up *ups = realloc(g->ups, cap * sizeof(*ups));
		if (ups == NULL) {
			pthread_mutex_unlock(&f->lock);
			return NULL;
		}
		memset(ups + g->cap, 0, (cap - g->cap) * sizeof(*ups));
		g->ups = ups;
		g->cap = cap;
	}
	*seq = ++g->sent;
	struct th_fleet_up *u = &g->ups[*seq - 1];
	u->sent_ms = lf_wall_ms();
	pthread_mutex_unlock(&f->lock);
	return u;
}

int
th_fleet_push(struct th_fleet *f, int i)
{
	uint32_t seq;
	if (new_up(f, i, &seq) == NULL) {
		return -1;
	}
	uint32_t devaddr = TH_FLEET_DEVADDR_BASE + (uint32_t)i;
	/* MHDR (unconfirmed data up), DevAddr, FCtrl, FCnt, FPort, one byte
	 * of FRMPayload, MIC. */
	uint8_t phy[PAYLOAD_LEN] = {0x40,
	                            (uint8_t)devaddr,
	                            (uint8_t)(devaddr >> 8),
	                            (uint8_t)(devaddr >> 16),
	                            (uint8_t)(devaddr >> 24),
	                            0x00,
	                            (uint8_t)seq,
	                            (uint8_t)(seq >> 8),
	                            0x01,
	                            0xaa,
	                            0x11,
	                            0x22,
	                            0x33,
	                            0x44};
	char data[32], json[512];
	lf_base64_encode(phy, sizeof(phy), data, sizeof(data));
	snprintf(json, sizeof(json),
	         "{\"rxpk\":[{\"tmst\":%u,\"freq\":904.300000,\"stat\":1,\"modu\":\"LORA\","
	         "\"datr\":\"SF9BW125\",\"codr\":\"4/5\",\"rssi\":-70,\"lsnr\":9.0,\"size\":%d,"
	         "\"data\":\"%s\"}]}",
	         1000000u + seq * 1000u, PAYLOAD_LEN, data);
	return th_gw_push(&f->g[i].gw, json);
}

int
th_fleet_burst(struct th_fleet *f, int k, int spread_ms)
{
	int errors = 0;
	int64_t start = lf_now_ms();
	int total = k * f->n, done = 0;
	for (int round = 0; round < k; round++) {
		for (int i = 0; i < f->n; i++) {
			errors += th_fleet_push(f, i) != 0;
			done++;
			if (spread_ms > 0) {
				sleep_ms(start + (int64_t)spread_ms * done / total - lf_now_ms());
			}
		}
	}
	return errors;
}

int
th_fleet_pull_all(struct th_fleet *f)
{
	int errors = 0;
	for (int i = 0; i < f->n; i++) {
		errors += th_gw_pull(&f->g[i].gw) != 0;
	}
	return errors;
}

static void *
traffic_main(void *arg)
{
	struct th_fleet *f = arg;
	int64_t start = lf_now_ms(), last_pull = start;
	for (uint64_t tick = 0;; tick++) {
		int i = (int)(tick % (uint64_t)f->n);
		/* Stops between rounds only: every gateway has sent as many. */
		pthread_mutex_lock(&f->lock);
		bool stop = f->stop && i == 0;
		pthread_mutex_unlock(&f->lock);
		if (stop) {
			break;
		}
		int rc = th_fleet_push(f, i);
		if (lf_now_ms() - last_pull >= PULL_EVERY_MS) {
			rc |= th_fleet_pull_all(f);
			last_pull = lf_now_ms();
		}
		if (rc != 0) {
			pthread_mutex_lock(&f->lock);
			f->errors++;
			pthread_mutex_unlock(&f->lock);
		}
		/* One gateway every interval/n: the fleet's uplinks evenly spread. */
		sleep_ms(start + (int64_t)(tick + 1) * f->interval_ms / f->n - lf_now_ms());
	}
	return NULL;
}

int
th_fleet_traffic_start(struct th_fleet *f, int interval_ms)
{
	f->stop = false;
	f->interval_ms = interval_ms;
	if (pthread_create(&f->thread, NULL, traffic_main, f) != 0) {
		return -1;
	}
	f->running = true;
	return 0;
}

int
th_fleet_traffic_stop(struct th_fleet *f)
{
	if (!f->running) {
		return 0;
	}
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	f->running = false;
	int errors = f->errors;
	f->errors = 0;
	return errors;
}

uint64_t
th_fleet_sent(struct th_fleet *f)
{
	uint64_t n = 0;
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++) {
		n += f->g[i].sent;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t
th_fleet_delivered(struct th_fleet *f)
{
	uint64_t n = 0;
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++) {
		for (uint32_t s = 0; s < f->g[i].sent; s++) {
			n += (uint64_t)f->g[i].ups[s].delivered;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void
account(struct th_fleet *f, const cJSON *ev)
{
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(ev, "payload");
	const cJSON *gateway = cJSON_GetObjectItemCaseSensitive(ev, "gateway");
	uint8_t phy[64];
	long len = cJSON_IsString(payload)
	                   ? lf_base64_decode(payload->valuestring, strlen(payload->valuestring),
	                                      phy, sizeof(phy))
	                   : -1;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "verified"))) {
		f->unverified++;
		return;
	}
	uint32_t devaddr = len == PAYLOAD_LEN
	                           ? (uint32_t)phy[1] | (uint32_t)phy[2] << 8 |
	                                     (uint32_t)phy[3] << 16 | (uint32_t)phy[4] << 24
	                           : 0;
	int i = (int)(devaddr - TH_FLEET_DEVADDR_BASE);
	uint32_t seq = len == PAYLOAD_LEN ? (uint32_t)phy[6] | (uint32_t)phy[7] << 8 : 0;
	pthread_mutex_lock(&f->lock);
	if (devaddr < TH_FLEET_DEVADDR_BASE || i < 0 || i >= f->n || seq == 0 ||
	    seq > f->g[i].sent) {
		pthread_mutex_unlock(&f->lock);
		f->foreign++;
		return;
	}
	if (!cJSON_IsString(gateway) || strcasecmp(gateway->valuestring, f->g[i].hex) != 0) {
		f->wrong_key++;
	}
	struct th_fleet_up *u = &f->g[i].ups[seq - 1];
	if (u->delivered++ == 0) {
		u->router_ms = (int64_t)cJSON_GetObjectItemCaseSensitive(ev, "t")->valuedouble;
		u->hold_ms =
		        (int64_t)cJSON_GetObjectItemCaseSensitive(ev, "hold_time")->valuedouble;
	}
	pthread_mutex_unlock(&f->lock);
}

int
th_fleet_collect(struct th_fleet *f, struct th_router *r)
{
	int taken = 0;
	for (int n = th_router_count_events(r, "packet", NULL); n > 0; n--) {
		struct th_router_event *e = th_router_wait_event(r, "packet", NULL, 1000);
		if (e == NULL) {
			break;
		}
		account(f, e->root);
		th_router_event_free(e);
		taken++;
	}
	return taken;
}

bool
th_fleet_wait_delivered(struct th_fleet *f, struct th_router *r, uint64_t want, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		th_fleet_collect(f, r);
		uint64_t got = th_fleet_delivered(f);
		if (got >= want) {
			return got == want;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: fleet: %" PRIu64 " of %" PRIu64 " delivered\n",
			        got, want);
			return false;
		}
		usleep(50 * 1000);
	}
}

void
th_fleet_discard_control_events(struct th_router *r)
{
	static const char *const kinds[] = {"stream_open",  "register",   "session_offer",
	                                    "session_init", "stream_end", "give_away",
	                                    "listening",    "shutdown"};
	for (size_t k = 0; k < TH_ARRAY_LEN(kinds); k++) {
		th_router_discard_events(r, kinds[k], NULL);
	}
}

/* ---- what the router saw ---------------------------------------------- */

cJSON *
th_fleet_router_gateways(struct th_router *r)
{
	cJSON *root = th_router_cmd_json(r, "{\"cmd\":\"gateways\",\"times\":true}");
	cJSON *g = cJSON_DetachItemFromObjectCaseSensitive(root, "gateways");
	cJSON_Delete(root);
	return g;
}

int
th_fleet_gw_count(const cJSON *gateways, const char *hex, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(gateways, hex), field);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

int
th_fleet_register_times(const cJSON *gateways, const char *hex, int64_t since_ms, int64_t *t,
                        int max)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(gateways, hex), "register_t");
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		if (n < max && (int64_t)e->valuedouble >= since_ms) {
			t[n++] = (int64_t)e->valuedouble;
		}
	}
	return n;
}

int
th_backoff_check(const int64_t *t, int n, int64_t first, int64_t max, int64_t slop_lo,
                 int64_t slop_hi, char *why, size_t whylen)
{
	int64_t b = first;
	for (int k = 0; k + 1 < n; k++) {
		int64_t spread = b * 3 / 10, gap = t[k + 1] - t[k];
		int64_t lo = b - spread - slop_lo, hi = b + spread + slop_hi;
		if (gap < lo || gap > hi) {
			snprintf(why, whylen,
			         "attempt %d came %lld ms after attempt %d; the schedule allows "
			         "%lld..%lld ms (backoff %lld ms +- 30%%)",
			         k + 1, (long long)gap, k, (long long)lo, (long long)hi,
			         (long long)b);
			return -1;
		}
		b = 2 * b < max ? 2 * b : max;
	}
	return 0;
}

void
th_backoff_count_bounds(int64_t window_ms, int64_t first, int64_t max, int64_t slop_lo,
                        int64_t slop_hi, int *lo, int *hi)
{
	int64_t b = first, shortest = 0, longest = 0;
	*lo = *hi = 1;
	for (int k = 0; k < 100000; k++) {
		int64_t spread = b * 3 / 10;
		shortest += b - spread - slop_lo > 1 ? b - spread - slop_lo : 1;
		longest += b + spread + slop_hi;
		if (shortest > window_ms) {
			break;
		}
		(*hi)++;
		if (longest <= window_ms) {
			(*lo)++;
		}
		b = 2 * b < max ? 2 * b : max;
	}
}

bool
th_fleet_wait_metric(const struct th_broker *b, const char *instance, const char *name,
                     const char *label_key, const char *label_value, double want, int timeout_ms,
                     double *got)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	double v = -1;
	for (;;) {
		if (th_routerlink_metric(b, instance, name, label_key, label_value, &v) == 0 &&
		    v == want) {
			break;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: %s %s{%s=%s} is %g, want %g\n", instance, name,
			        label_key != NULL ? label_key : "",
			        label_value != NULL ? label_value : "", v, want);
			if (got != NULL) {
				*got = v;
			}
			return false;
		}
		usleep(200 * 1000);
	}
	if (got != NULL) {
		*got = v;
	}
	return true;
}
