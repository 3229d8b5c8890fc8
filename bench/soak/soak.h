/*
 * lorafleet-soak: the whole stack under realistic traffic for a long time
 * (bench/README.md, "The soak"). UDP gateways -> bridge -> broker ->
 * routerlink -> the fake Helium router, downlinks back from the router,
 * apigw answering REST and one SSE client, while the RSS, open file
 * descriptors and CPU of every daemon are sampled; afterwards each
 * daemon's figures over the measured window are judged against stated
 * bounds, and every uplink and downlink is accounted for.
 */
#ifndef BENCH_SOAK_H
#define BENCH_SOAK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Gateway i has EUI SK_EUI_BASE + i (the benchmarks use be0c, be0d, be0e). */
#define SK_EUI_BASE 0xbe0f000000000000ULL

/* ---- flatness (sk_flat.c, no I/O) -------------------------------------- */

/*
 * What "flat" means over the measured window, split in quarters:
 * - RSS: the least-squares slope is at most rss_slope_mb_h, and the mean of
 *   the last quarter exceeds the mean of the first by at most
 *   max(rss_growth_pct % of it, rss_growth_mb). Only growth counts.
 * - fds: the largest count minus the smallest is at most fd_band.
 * - CPU (per interval, % of one core): the medians of the first and last
 *   quarters differ by at most max(cpu_change_pct % of the first,
 *   cpu_change_pts points). Medians, so that one busy interval of a shared
 *   machine does not decide.
 */
struct sk_bounds {
	double rss_slope_mb_h;
	double rss_growth_pct, rss_growth_mb;
	long fd_band;
	double cpu_change_pct, cpu_change_pts;
};

struct sk_flat {
	size_t n;                     /* samples judged */
	double rss_first_mb;          /* first-quarter mean */
	double rss_last_mb;           /* last-quarter mean */
	double rss_growth_mb;         /* last - first */
	double rss_growth_allowed_mb; /* max(pct of first, mb) */
	double rss_slope_mb_h;        /* least squares over the whole window */
	double rss_slope2_mb_h;       /* the same over its second half: not judged, it
	                               * tells a leak (as steep) from a high-water mark
	                               * settling early in the window (flatter) */
	long fd_min, fd_max;
	double cpu_first, cpu_last; /* quarter medians, % of a core */
	double cpu_change_allowed;  /* points */
	bool rss_ok, fd_ok, cpu_ok;
};

/* Samples i < n: t[i] seconds, rss[i] bytes, fds[i], cpu[i] % of a core.
 * -1 when there are fewer than 8 samples (no quarters to compare). */
int sk_flat_judge(const double *t, const double *rss, const long *fds, const double *cpu, size_t n,
                  const struct sk_bounds *b, struct sk_flat *out);
/* Least-squares slope of v over t (units of v per unit of t); 0 when n < 2. */
double sk_slope(const double *t, const double *v, size_t n);
/* Median of v[0..n) (v is not changed); 0 when n is 0. */
double sk_median(const double *v, size_t n);

/* ---- REST load (sk_rest.c) ---------------------------------------------- */

enum sk_rest_kind { SK_GATEWAY, SK_PACKETS, SK_METRICS, SK_HEALTHZ, SK_LIST, SK_REST_KINDS };

struct sk_rest_stats {
	uint64_t ok[SK_REST_KINDS], failed[SK_REST_KINDS];
	double max_ms[SK_REST_KINDS];
};

/*
 * One thread that asks apigw, per_min times a minute, in turn:
 * GET /gateways/{mac} (random gateway, must name it), its /packets
 * (routerlink answers over MQTT RPC), /metrics, /healthz, and now and then
 * the whole GET /gateways (its "total" must be the fleet). Each request
 * holds `busy`, so that the sampler can read apigw's RSS between requests
 * rather than while a 5 MB answer is being written.
 */
struct sk_rest {
	int port;
	char api_key[128];
	size_t gateways;
	long per_min;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t busy;
	pthread_mutex_t lock; /* stats */
	struct sk_rest_stats st;
};

/* Fills in the locks; the fields above must be set. */
void sk_rest_init(struct sk_rest *r);
/* Starts the thread (none when per_min is 0). */
int sk_rest_start(struct sk_rest *r);
void sk_rest_stop(struct sk_rest *r);
void sk_rest_stats(struct sk_rest *r, struct sk_rest_stats *out);
const char *sk_rest_kind_name(enum sk_rest_kind k);

#endif
