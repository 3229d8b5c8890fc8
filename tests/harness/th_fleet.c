/* Many fake gateways, their traffic in rounds and its accounting
 * (th_fleet.h), on th_traffic.h's gateways, thread and tally. */
#include "th_fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PULL_EVERY_MS 10000
/* How long the acks of what was sent may take (th_gw_push's wait). */
#define ACK_MS 5000

int
th_fleet_open(struct th_fleet *f, int n, uint64_t eui_base, uint16_t bridge_port)
{
	memset(f, 0, sizeof(*f));
	f->g = calloc((size_t)n, sizeof(*f->g));
	if (f->g == NULL || th_tally_init(&f->tally, n) != 0 ||
	    th_traffic_init(&f->traffic, bridge_port, n, PULL_EVERY_MS) != 0) {
		return -1;
	}
	f->n = n;
	f->traffic.exact_rate = true;
	for (int i = 0; i < n; i++) {
		f->g[i].eui = eui_base + (uint64_t)i;
		char mac[17];
		snprintf(mac, sizeof(mac), "%016" PRIx64, f->g[i].eui);
		if (th_traffic_add(&f->traffic, mac, NULL, true) != i) {
			fprintf(stderr, "harness: fleet gateway %s did not come up\n", mac);
			return -1;
		}
	}
	return th_traffic_start(&f->traffic, 0);
}

void
th_fleet_close(struct th_fleet *f)
{
	th_traffic_free(&f->traffic);
	th_tally_free(&f->tally);
	free(f->g);
	f->g = NULL;
	f->n = 0;
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

/* What went wrong with what was sent: datagrams not sent, or not acked. */
static int
send_problems(struct th_fleet *f)
{
	int problems = th_traffic_wait_acked(&f->traffic, ACK_MS) != 0;
	return problems + (int)th_traffic_send_errors(&f->traffic);
}

int
th_fleet_burst(struct th_fleet *f, int k, int spread_ms)
{
	int problems = th_traffic_rounds(&f->traffic, k, spread_ms) != 0;
	return problems + send_problems(f);
}

int
th_fleet_traffic_start(struct th_fleet *f, int interval_ms)
{
	th_traffic_set_rate(&f->traffic, f->n * 1000.0 / interval_ms);
	return 0;
}

int
th_fleet_traffic_stop(struct th_fleet *f)
{
	int problems = th_traffic_end_round(&f->traffic) != 0;
	return problems + send_problems(f);
}

uint64_t
th_fleet_sent(struct th_fleet *f)
{
	return th_traffic_total_sent(&f->traffic);
}

uint32_t
th_fleet_sent_by(struct th_fleet *f, int i)
{
	struct th_traffic_gw_stats st;
	th_traffic_gw_stats(&f->traffic, i, &st);
	return st.sent;
}

uint64_t
th_fleet_delivered(struct th_fleet *f)
{
	return f->tally.total - f->tally.foreign;
}

struct th_fleet_up
th_fleet_up(struct th_fleet *f, int i, uint32_t seq)
{
	struct th_fleet_up u = {
	        .sent_ms = th_traffic_sent_ms(&f->traffic, i, seq - 1),
	        .delivered = (int)th_tally_count(&f->tally, i, seq - 1),
	        .router_ms = -1,
	        .hold_ms = -1,
	};
	struct th_tally_first first;
	if (th_tally_first(&f->tally, i, seq - 1, &first)) {
		u.router_ms = first.router_ms;
		u.hold_ms = first.hold_ms;
	}
	return u;
}

int
th_fleet_defects(struct th_fleet *f)
{
	int defects = (int)f->tally.foreign;
	if (defects > 0) {
		fprintf(stderr, "harness: fleet: %d router packets unverified or of no gateway\n",
		        defects);
	}
	for (int i = 0; i < f->n; i++) {
		const struct th_tally_gw *g = &f->tally.g[i];
		uint32_t sent = th_fleet_sent_by(f, i), unsent = 0;
		for (uint32_t seq = sent; seq < g->cap; seq++) {
			unsent += g->count[seq];
		}
		uint32_t wrong = g->key_mismatch;
		if (g->key[0] != '\0' && strcasecmp(g->key, f->g[i].hex) != 0) {
			wrong = g->unique + g->dups - g->key_mismatch;
		}
		if (unsent + wrong > 0) {
			fprintf(stderr,
			        "harness: fleet gateway %d: %u packets of uplinks never sent, %u "
			        "under another key than %s\n",
			        i, unsent, wrong, f->g[i].hex);
		}
		defects += (int)(unsent + wrong);
	}
	return defects;
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
		th_tally_router_packet(&f->tally, e->root);
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
