/* Helpers shared by the bench's parts: gateway names, the rxpk, the histogram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void
bench_mac(size_t gw, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)(BENCH_EUI_BASE + gw));
}

int
bench_rxpk(char *out, size_t outlen, uint32_t tmst, int64_t ts_ns, uint64_t seq)
{
	/* The example frame of docs/mqtt-api.md (32 bytes of payload, valid
	 * base64), plus the two fields the subscriber reads back. */
	int n = snprintf(out, outlen,
	                 "{\"tmst\":%u,\"chan\":2,\"rfch\":0,\"freq\":866.349812,\"stat\":1,"
	                 "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/6\",\"rssi\":-35,"
	                 "\"lsnr\":5.1,\"size\":32,"
	                 "\"data\":\"bG9yYWZsZWV0LWJlbmNoOjMyLWJ5dGVzLXBheWxvYWQ=\","
	                 "\"bench_ts\":%lld,\"seq\":%llu}",
	                 tmst, (long long)ts_ns, (unsigned long long)seq);
	return n > 0 && (size_t)n < outlen ? n : -1;
}

static size_t
hist_index(int64_t ns)
{
	uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
	if (v >= (1ULL << HIST_MAX_BITS)) {
		v = (1ULL << HIST_MAX_BITS) - 1;
	}
	if (v < 2 * HIST_SUB) {
		return (size_t)v;
	}
	/* Shift v into [HIST_SUB, 2 * HIST_SUB): the shift names the octave. */
	int shift = 63 - __builtin_clzll(v) - HIST_SUB_BITS;
	return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

static int64_t
hist_value(size_t idx)
{
	if (idx < 2 * HIST_SUB) {
		return (int64_t)idx;
	}
	size_t shift = idx / HIST_SUB - 1;
	uint64_t mantissa = idx - shift * HIST_SUB;
	/* The middle of the bucket, so that errors go both ways. */
	return (int64_t)((mantissa << shift) + (1ULL << shift) / 2);
}

void
hist_add(struct hist *h, int64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
	if (ns > h->max_ns) {
		h->max_ns = ns;
	}
}

int64_t
hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0) {
		return 0;
	}
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count) {
		rank = h->count - 1;
	}
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			int64_t v = hist_value(i);
			return v < h->max_ns ? v : h->max_ns;
		}
	}
	return h->max_ns;
}

long
bench_sweep(const struct sweep_plan *plan, long lo, int (*step)(void *arg, long rate), void *arg,
            long *first_fail)
{
	long hi = 0;
	for (long rate = plan->start; rate <= plan->max; rate += plan->step) {
		int r = step(arg, rate);
		if (r < 0) {
			break;
		}
		if (r == 0) {
			hi = rate;
			break;
		}
		lo = rate;
	}
	for (long n = 0; hi > 0 && n < plan->bisect && hi - lo > plan->resolution; n++) {
		long mid = (lo + hi) / 2 / 100 * 100;
		int r = step(arg, mid);
		if (r < 0) {
			break;
		}
		if (r > 0) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	*first_fail = hi;
	return lo;
}

int
bench_numopt_set(const struct bench_numopt *opts, size_t n, const char *prog, const char *name,
                 const char *value)
{
	size_t k = 0;
	while (k < n && strcmp(opts[k].name, name) != 0) {
		k++;
	}
	if (k == n) {
		return 0;
	}
	char *end = NULL;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < opts[k].min || v > opts[k].max) {
		fprintf(stderr, "%s: --%s wants a number in [%ld, %ld], not %s\n", prog, name,
		        opts[k].min, opts[k].max, value);
		return -1;
	}
	*opts[k].value = v;
	return 1;
}

void
bench_numopt_usage(FILE *out, const struct bench_numopt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "  --%-20s %s (%ld)\n", opts[i].name, opts[i].help, *opts[i].value);
	}
}
