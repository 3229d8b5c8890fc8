/*
 * lorafleet-soak's driver state, shared by its parts: sk_main.c (the run),
 * sk_report.c (verdicts and delivery), sk_options.c (the command line).
 */
#ifndef BENCH_SK_RUN_H
#define BENCH_SK_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../apigw/agbench.h"
#include "../bench.h"
#include "../routerlink/rlbench.h"
#include "soak.h"

#define MAX_PROCS 6
#define MB        (1024.0 * 1024.0)

struct options {
	const char *bridge, *api_key, *control, *take_file, *keys_dir, *csv;
	long http_port, bridge_pid, routerlink_pid, apigw_pid, broker_pid, router_pid;
	long gateways, duration_s, warmup_s, interval_s, uplink_period_s, pull_period_s;
	long stat_period_s, downlinks_per_min, rest_per_min, prefill, prefill_rate;
	long connect_rate, provision_timeout_s, drain_s;
	struct sk_bounds bounds;
};

/* A process whose RSS, fds and CPU are sampled; judged ones get a verdict. */
struct proc {
	const char *name;
	int pid;
	bool judged;
	double cpu_prev_s;
};

enum phase { PH_PREFILL, PH_WARMUP, PH_MEASURE, PH_DRAIN };

struct sample {
	double t_s;
	enum phase phase;
	uint64_t sent, router_unique, sse_delivered, downlinks, pull_resps, rest_ok, rest_failed;
	double rss[MAX_PROCS], cpu[MAX_PROCS];
	long fds[MAX_PROCS];
	double other; /* the rest of the host's busy time, % of one core */
};

struct soak {
	struct options o;
	struct proc procs[MAX_PROCS];
	size_t nprocs;
	struct gwsim *gw;
	struct source src;
	struct rlb_router *router;
	struct agb_sse *sse;
	int sse_phase;
	struct sk_rest rest;
	FILE *csv;

	uint64_t total; /* uplinks of the whole run: prefill + steady */
	uint64_t next_seq;
	uint8_t *seen; /* per seq: the router has it */
	uint64_t router_unique, router_dups, router_stray;
	struct hist *lat; /* gateway -> router */
	uint64_t downlinks, dl_refused, dl_cursor;
	double provision_s, prefill_s;

	struct sample *samples;
	size_t nsamples, cap;
	int64_t t0;       /* traffic start (prefill) */
	double steady_at; /* t of the steady run's start */
	int64_t last_sample_ns;
	double host_prev_s; /* host_cpu_s() at the last sample */
	bool died;
};

/* Fills o from the command line (defaults already in o); -1 when bad. */
int sk_parse_args(struct options *o, int argc, char **argv);
/* Prints the verdicts and the delivery accounting; true when all pass. */
bool sk_report(struct soak *k);

#endif
