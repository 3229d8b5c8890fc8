/* lorafleet-soak's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_run.h"

/* ---- options ------------------------------------------------------------ */

struct dblopt {
	const char *name;
	double *value;
	double min, max;
	const char *help;
};

static void
usage(FILE *out, const struct bench_numopt *opts, size_t n, const struct dblopt *d, size_t nd)
{
	fprintf(out,
	        "usage: lorafleet-soak --bridge IP:PORT --http-port N --control PATH "
	        "--take-file PATH --keys-dir DIR [options]\n"
	        "  --bridge IP:PORT       the bridge's UDP address\n"
	        "  --api-key KEY          apigw's read key (for REST)\n"
	        "  --control PATH         the fake router's control socket\n"
	        "  --take-file PATH       where the fake router writes its records\n"
	        "  --keys-dir DIR         routerlink's keys (for the downlinks' gateway keys)\n"
	        "  --csv PATH             also write the samples there\n");
	bench_numopt_usage(out, opts, n);
	for (size_t i = 0; i < nd; i++) {
		fprintf(out, "  --%-20s %s (%g)\n", d[i].name, d[i].help, *d[i].value);
	}
}

static int
set_string(struct options *o, const char *name, const char *value)
{
	const char **slot = strcmp(name, "bridge") == 0      ? &o->bridge
	                    : strcmp(name, "api-key") == 0   ? &o->api_key
	                    : strcmp(name, "control") == 0   ? &o->control
	                    : strcmp(name, "take-file") == 0 ? &o->take_file
	                    : strcmp(name, "keys-dir") == 0  ? &o->keys_dir
	                    : strcmp(name, "csv") == 0       ? &o->csv
	                                                     : NULL;
	if (slot == NULL) {
		return 0;
	}
	*slot = value;
	return 1;
}

static int
set_double(const struct dblopt *d, size_t nd, const char *name, const char *value)
{
	for (size_t i = 0; i < nd; i++) {
		if (strcmp(d[i].name, name) == 0) {
			char *end = NULL;
			double v = strtod(value, &end);
			if (end == value || *end != '\0' || !(v >= d[i].min && v <= d[i].max)) {
				fprintf(stderr, "soak: --%s wants a number in [%g, %g], not %s\n",
				        name, d[i].min, d[i].max, value);
				return -1;
			}
			*d[i].value = v;
			return 1;
		}
	}
	return 0;
}

int
sk_parse_args(struct options *o, int argc, char **argv)
{
	const struct bench_numopt opts[] = {
	        {"http-port", &o->http_port, 1, 65535, "apigw's HTTP port"},
	        {"bridge-pid", &o->bridge_pid, 0, 1L << 30, "bridge pid (judged)"},
	        {"routerlink-pid", &o->routerlink_pid, 0, 1L << 30, "routerlink pid (judged)"},
	        {"apigw-pid", &o->apigw_pid, 0, 1L << 30, "apigw pid (judged)"},
	        {"broker-pid", &o->broker_pid, 0, 1L << 30, "broker pid (for reference)"},
	        {"router-pid", &o->router_pid, 0, 1L << 30, "fake router pid (for reference)"},
	        {"gateways", &o->gateways, 1, BENCH_MAX_GATEWAYS, "gateways, one UDP socket each"},
	        {"duration-s", &o->duration_s, 10, 7 * 86400, "steady run, warm-up included"},
	        {"warmup-s", &o->warmup_s, -1, 86400,
	         "start of the steady run not judged (-1: a sixth of it)"},
	        {"interval-s", &o->interval_s, 1, 3600, "sampling interval"},
	        {"uplink-period-s", &o->uplink_period_s, 1, 3600, "each gateway's uplink interval"},
	        {"pull-period-s", &o->pull_period_s, 1, 600, "each gateway's PULL_DATA interval"},
	        {"stat-period-s", &o->stat_period_s, 0, 3600,
	         "each gateway's stat interval (0: none)"},
	        {"downlinks-per-min", &o->downlinks_per_min, 0, 600000, "router downlinks"},
	        {"rest-per-min", &o->rest_per_min, 0, 60000, "REST requests to apigw"},
	        {"prefill", &o->prefill, 1, 10000,
	         "uplinks per gateway before the steady run (fills the rings)"},
	        {"prefill-rate", &o->prefill_rate, 1, 1000000, "their rate, uplinks/s"},
	        {"connect-rate", &o->connect_rate, 1, 1000000, "first PULL_DATAs per second"},
	        {"provision-timeout-s", &o->provision_timeout_s, 1, 7200,
	         "most time for every gateway's stream and session"},
	        {"drain-s", &o->drain_s, 1, 3600, "most time to wait for the last deliveries"},
	        {"max-fd-band", &o->bounds.fd_band, 0, 100000, "bound: fds max - min"},
	};
	const struct dblopt dopts[] = {
	        {"max-rss-slope", &o->bounds.rss_slope_mb_h, -1e9, 1e9, "bound: RSS slope, MB/h"},
	        {"max-rss-growth-pct", &o->bounds.rss_growth_pct, 0, 1e6,
	         "bound: RSS growth, % of the first quarter"},
	        {"max-rss-growth-mb", &o->bounds.rss_growth_mb, 0, 1e6,
	         "bound: RSS growth, MB (whichever is larger)"},
	        {"max-cpu-change-pct", &o->bounds.cpu_change_pct, 0, 1e6,
	         "bound: CPU change, % of the first quarter"},
	        {"max-cpu-change-pts", &o->bounds.cpu_change_pts, 0, 1e6,
	         "bound: CPU change, points (whichever is larger)"},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]), nd = sizeof(dopts) / sizeof(dopts[0]);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0) {
			usage(stdout, opts, nopts, dopts, nd);
			exit(0);
		}
		if (strncmp(arg, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "soak: bad argument %s\n", arg);
			return -1;
		}
		const char *name = arg + 2, *value = argv[++i];
		int set = set_string(o, name, value);
		if (set == 0) {
			set = set_double(dopts, nd, name, value);
		}
		if (set == 0) {
			set = bench_numopt_set(opts, nopts, "soak", name, value);
		}
		if (set <= 0) {
			if (set == 0) {
				fprintf(stderr, "soak: unknown option --%s\n", name);
			}
			return -1;
		}
	}
	if (o->bridge == NULL || o->http_port == 0 || o->control == NULL || o->take_file == NULL ||
	    o->keys_dir == NULL) {
		usage(stderr, opts, nopts, dopts, nd);
		return -1;
	}
	if (o->warmup_s < 0) {
		o->warmup_s = o->duration_s / 6;
	}
	if (o->warmup_s >= o->duration_s) {
		fprintf(stderr, "soak: --warmup-s must be shorter than --duration-s\n");
		return -1;
	}
	return 0;
}
