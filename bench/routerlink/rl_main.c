/*
 * lorafleet-bench-routerlink: drives one routerlink benchmark run against a
 * running broker, fake router (--bench) and routerlink (scripts/bench
 * routerlink starts all three) and prints the results table.
 *
 * Order: the signing ceiling (routerlink idle, nothing else running);
 * routerlink's RSS with no gateway; N gateways come online, each gets a key
 * and a stream with a session; RSS; a warm-up; the latency phase at
 * --latency-rate; the rate sweep (the same steps and zero-loss rule as the
 * bridge benchmark).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "../bench.h"
#include "rlbench.h"

#define NS_PER_MS   1000000LL
#define NS_PER_S    1000000000LL
#define MAX_PHASES  64
#define MB          (1024.0 * 1024.0)
#define TARGET_RSS  (300.0 * MB)
#define TARGET_P99  5.0  /* ms */
#define TARGET_RATE 0.50 /* of the signing ceiling */

static volatile sig_atomic_t stop_flag;

struct options {
	const char *host, *control, *take_file;
	long port, routerlink_pid, router_pid, broker_pid;
	long gateways, provision_timeout_s, settle_ms, ceiling_ms, inflight;
	long step_ms, drain_ms, backlog_ms, quiet_ms;
	long sweep_start, sweep_step, sweep_max, bisect, resolution;
	long latency_rate, latency_ms, warmup_ms;
};

/* CPU used while sending, in cores. The main threads are where the work
 * of routerlink (MQTT, signing, gRPC calls) and of the fake router (all
 * of its JavaScript) happens: one at 100 % is that process's limit. */
struct cpu {
	double routerlink, routerlink_main, router, router_main, broker, bench, other;
};

struct phase {
	const char *kind; /* "warmup", "latency", "sweep" */
	long rate;
	uint64_t first, n, sent;
	double achieved, at_s;
	int64_t t_start, t_sent;
	uint64_t unique, dups, in_time;
	int64_t last_rx_ns;
	struct hist *lat;
	struct cpu cpu;
	bool pass;
};

struct bench {
	struct options o;
	struct rlb_pub *pub;
	struct rlb_router *router;
	uint8_t *seen; /* one byte per seq */
	size_t seen_cap;
	uint64_t next_seq, stray;
	struct phase phases[MAX_PHASES];
	int nphases;
	int64_t start_ns;
	bool died;
};

static void
on_signal(int sig)
{
	stop_flag = 1;
	(void)sig;
}

static struct cpu
cpu_now(const struct bench *b)
{
	const struct options *o = &b->o;
	struct cpu c = {
	        .routerlink = proc_cpu_s((int)o->routerlink_pid),
	        .routerlink_main = thread_cpu_s(o->routerlink_pid),
	        .router = proc_cpu_s((int)o->router_pid),
	        .router_main = thread_cpu_s(o->router_pid),
	        .broker = proc_cpu_s((int)o->broker_pid),
	        .bench = proc_cpu_s((int)getpid()),
	        .other = host_cpu_s(),
	};
	c.other -= c.routerlink + c.router + c.broker + c.bench;
	return c;
}

static struct cpu
cpu_rate(struct cpu a, struct cpu b, double secs)
{
	return (struct cpu){
	        (b.routerlink - a.routerlink) / secs,
	        (b.routerlink_main - a.routerlink_main) / secs,
	        (b.router - a.router) / secs,
	        (b.router_main - a.router_main) / secs,
	        (b.broker - a.broker) / secs,
	        (b.bench - a.bench) / secs,
	        (b.other - a.other) / secs,
	};
}

static bool
peers_alive(struct bench *b)
{
	const long pids[] = {b->o.broker_pid, b->o.routerlink_pid, b->o.router_pid};
	const char *names[] = {"broker", "routerlink", "fake router"};
	for (size_t i = 0; i < 3 && !b->died; i++) {
		if (pids[i] > 0 && kill((pid_t)pids[i], 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "rlbench: the %s (pid %ld) has exited\n", names[i],
			        pids[i]);
			b->died = true;
		}
	}
	return !b->died;
}

/* ---- the records ---------------------------------------------------- */

static struct phase *
phase_of(struct bench *b, uint64_t seq)
{
	for (int i = b->nphases - 1; i >= 0; i--) {
		struct phase *p = &b->phases[i];
		if (seq >= p->first && seq < p->first + p->n) {
			return p;
		}
	}
	return NULL;
}

static void
on_record(void *arg, uint64_t seq, int64_t sent_ns, int64_t recv_ns)
{
	struct bench *b = arg;
	struct phase *p = phase_of(b, seq);
	if (p == NULL || seq >= b->seen_cap) {
		b->stray++;
		return;
	}
	if (b->seen[seq]) {
		p->dups++;
		return;
	}
	b->seen[seq] = 1;
	p->unique++;
	if (recv_ns <= p->t_sent + b->o.drain_ms * NS_PER_MS) {
		p->in_time++;
	}
	if (recv_ns > p->last_rx_ns) {
		p->last_rx_ns = recv_ns;
	}
	hist_add(p->lat, recv_ns - sent_ns);
}

static int
take(struct bench *b)
{
	return rlb_router_take(b->router, b->o.take_file, on_record, b) < 0 ? -1 : 0;
}

static int
router_packets(struct bench *b, uint64_t *out)
{
	struct rlb_router_stats st;
	if (rlb_router_stats(b->router, &st) != 0) {
		return -1;
	}
	*out = st.packets;
	return 0;
}

/* Waits until the fake router has received nothing for quiet_ms (at most
 * 30 s), so a step never starts while an earlier backlog drains, and
 * files what arrived meanwhile under its phase. */
static int
quiesce(struct bench *b)
{
	int64_t start = bench_now_ns(), since = start;
	uint64_t last = 0, now_packets;
	if (router_packets(b, &last) != 0) {
		return -1;
	}
	while (!stop_flag && bench_now_ns() - start < 30 * NS_PER_S) {
		bench_sleep_ns(10 * NS_PER_MS);
		if (router_packets(b, &now_packets) != 0) {
			return -1;
		}
		int64_t now = bench_now_ns();
		if (now_packets != last) {
			last = now_packets;
			since = now;
		} else if (now - since >= b->o.quiet_ms * NS_PER_MS &&
		           rlb_pub_unacked(b->pub) == 0) {
			break;
		}
	}
	return take(b);
}

static const char *
verdict(const struct bench *b, const struct phase *p)
{
	if (p->pass) {
		return "pass";
	}
	if (p->sent < p->n || p->achieved < 0.97 * (double)p->rate) {
		return "FAIL (source lagged)";
	}
	if (p->in_time == p->n) {
		return "FAIL (backlog)";
	}
	(void)b;
	return p->unique >= p->n ? "FAIL (late)" : "FAIL (lost)";
}

static void
print_header(void)
{
	fprintf(stderr,
	        "%5s %-7s %8s %8s %7s %7s %5s %7s %7s %8s %6s  %-10s %-10s %6s %6s %6s %s\n",
	        "at s", "phase", "target/s", "sent/s", "late", "lost", "dups", "p50 ms", "p99 ms",
	        "max ms", "drain", "routerlink", "router", "broker", "bench", "other", "result");
	fprintf(stderr, "%76s %-10s %-10s\n", "", "all/main", "all/main");
}

static void
print_phase(const struct bench *b, const struct phase *p)
{
	uint64_t lost = p->unique < p->n ? p->n - p->unique : 0;
	uint64_t late = p->n - p->in_time - lost;
	double drain = p->last_rx_ns > p->t_sent ? (double)(p->last_rx_ns - p->t_sent) / 1e9 : 0;
	char rl[16], rt[16];
	snprintf(rl, sizeof(rl), "%3.0f%%/%3.0f%%", p->cpu.routerlink * 100,
	         p->cpu.routerlink_main * 100);
	snprintf(rt, sizeof(rt), "%3.0f%%/%3.0f%%", p->cpu.router * 100, p->cpu.router_main * 100);
	fprintf(stderr,
	        "%5.0f %-7s %8ld %8.0f %7" PRIu64 " %7" PRIu64 " %5" PRIu64
	        " %7.3f %7.3f %8.2f %5.2fs  %-10s %-10s %5.0f%% %5.0f%% %5.0f%% %s\n",
	        p->at_s, p->kind, p->rate, p->achieved, late, lost, p->dups,
	        (double)hist_quantile(p->lat, 0.50) / 1e6,
	        (double)hist_quantile(p->lat, 0.99) / 1e6, (double)p->lat->max_ns / 1e6, drain, rl,
	        rt, p->cpu.broker * 100, p->cpu.bench * 100, p->cpu.other * 100, verdict(b, p));
}

static int
grow_seen(struct bench *b, uint64_t need)
{
	if (need <= b->seen_cap) {
		return 0;
	}
	size_t cap = b->seen_cap ? b->seen_cap : 1 << 20;
	while (cap < need) {
		cap *= 2;
	}
	uint8_t *s = realloc(b->seen, cap);
	if (s == NULL) {
		return -1;
	}
	memset(s + b->seen_cap, 0, cap - b->seen_cap);
	b->seen = s;
	b->seen_cap = cap;
	return 0;
}

/* One measured phase: rate * dur_ms / 1000 uplinks, spread evenly. */
static struct phase *
run_phase(struct bench *b, const char *kind, long rate, long dur_ms)
{
	if (b->nphases == MAX_PHASES || !peers_alive(b) || quiesce(b) != 0) {
		return NULL;
	}
	uint64_t n = (uint64_t)(rate * dur_ms / 1000);
	struct phase *p = &b->phases[b->nphases];
	*p = (struct phase){.kind = kind, .rate = rate, .first = b->next_seq, .n = n};
	p->lat = calloc(1, sizeof(*p->lat));
	if (p->lat == NULL || grow_seen(b, p->first + n) != 0) {
		return NULL;
	}
	b->nphases++;
	b->next_seq += n;
	p->at_s = (double)(bench_now_ns() - b->start_ns) / 1e9;

	uint64_t before = 0, got = 0;
	if (router_packets(b, &before) != 0) {
		return NULL;
	}
	/* Batches of at most 1 ms of traffic, so the load is smooth. */
	struct cpu c0 = cpu_now(b);
	int64_t t0 = bench_now_ns(), now = t0;
	int64_t give_up = t0 + 2 * dur_ms * NS_PER_MS + NS_PER_S;
	p->t_start = t0;
	while (p->sent < n && !stop_flag && now < give_up) {
		uint64_t due = (uint64_t)((now - t0) * rate / NS_PER_S) + 1;
		due = due > n ? n : due;
		if (due > p->sent) {
			if (rlb_pub_uplinks(b->pub, p->first + p->sent, (size_t)(due - p->sent)) !=
			    0) {
				b->died = true;
				return NULL;
			}
			p->sent = due;
		}
		bench_sleep_ns(NS_PER_MS / 2);
		now = bench_now_ns();
	}
	p->t_sent = now;
	double secs = (double)(now - t0) / 1e9;
	p->cpu = cpu_rate(c0, cpu_now(b), secs);
	p->achieved = (double)p->sent * 1e9 / ((double)(now - t0) + 1e9 / (double)rate);

	/* Until everything arrived or the drain time is over. */
	while (!stop_flag && bench_now_ns() < p->t_sent + b->o.drain_ms * NS_PER_MS) {
		if (router_packets(b, &got) != 0) {
			return NULL;
		}
		if (got >= before + n) {
			break;
		}
		bench_sleep_ns(5 * NS_PER_MS);
	}
	/* Files this phase's records; late ones come with the next quiesce. */
	if (quiesce(b) != 0) {
		return NULL;
	}
	double drain_ms = p->last_rx_ns > p->t_sent ? (double)(p->last_rx_ns - p->t_sent) / 1e6 : 0;
	p->pass = p->sent == n && p->in_time == n && p->achieved >= 0.97 * (double)rate &&
	          drain_ms <= (double)b->o.backlog_ms;
	print_phase(b, p);
	return peers_alive(b) ? p : NULL;
}

struct sweep_ctx {
	struct bench *b;
	const struct phase *best;
};

static int
sweep_step(void *arg, long rate)
{
	struct sweep_ctx *c = arg;
	const struct phase *p = stop_flag ? NULL : run_phase(c->b, "sweep", rate, c->b->o.step_ms);
	if (p == NULL) {
		return -1;
	}
	if (p->pass) {
		c->best = p;
	}
	return p->pass;
}

/* The rate sweep (bench_sweep); *best is the highest step that passed. */
static long
sweep(struct bench *b, long *first_fail, const struct phase **best)
{
	const struct options *o = &b->o;
	struct sweep_plan plan = {o->sweep_start, o->sweep_step, o->sweep_max, o->bisect,
	                          o->resolution};
	struct sweep_ctx c = {b, NULL};
	long rate = bench_sweep(&plan, 0, sweep_step, &c, first_fail);
	*best = c.best;
	return rate;
}

/* ---- provisioning ----------------------------------------------------- */

/* Every gateway comes online; waits until each has a stream with a session. */
static int
provision(struct bench *b, double *seconds)
{
	const struct options *o = &b->o;
	struct rlb_router_stats st0, st;
	if (rlb_router_stats(b->router, &st0) != 0) {
		return -1;
	}
	int64_t t0 = bench_now_ns();
	if (rlb_pub_online(b->pub, 0, (size_t)o->gateways) != 0) {
		fprintf(stderr, "rlbench: publishing the online states failed\n");
		return -1;
	}
	int64_t deadline = t0 + o->provision_timeout_s * NS_PER_S, last_print = t0;
	for (;;) {
		if (rlb_router_stats(b->router, &st) != 0 || !peers_alive(b)) {
			return -1;
		}
		uint64_t ready = st.session_inits_accepted - st0.session_inits_accepted;
		int64_t now = bench_now_ns();
		if (ready >= (uint64_t)o->gateways && st.streams_live >= (uint64_t)o->gateways) {
			*seconds = (double)(now - t0) / 1e9;
			return 0;
		}
		if (stop_flag || now > deadline) {
			fprintf(stderr,
			        "rlbench: after %.0f s only %" PRIu64
			        " of %ld gateways have a session (%" PRIu64 " streams live)\n",
			        (double)(now - t0) / 1e9, ready, o->gateways, st.streams_live);
			return -1;
		}
		if (now - last_print >= 5 * NS_PER_S) {
			fprintf(stderr, "rlbench: %" PRIu64 " of %ld gateways ready after %.0f s\n",
			        ready, o->gateways, (double)(now - t0) / 1e9);
			last_print = now;
		}
		bench_sleep_ns(100 * NS_PER_MS);
	}
}

/* ---- the run and the report ------------------------------------------ */

struct results {
	struct sign_ceiling ceiling;
	double provision_s;
	uint64_t rss_idle, rss_streams, rss_end, hwm, router_rss;
	const struct phase *latency, *best;
	long best_rate, first_fail;
	struct rlb_router_stats router_end;
};

static const char *
mark(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void
print_report(const struct bench *b, const struct results *r)
{
	const struct options *o = &b->o;
	double per_stream = ((double)r->rss_streams - (double)r->rss_idle) / (double)o->gateways;
	double p99 = r->latency ? (double)hist_quantile(r->latency->lat, 0.99) / 1e6 : -1;
	double share = r->best_rate / r->ceiling.sign_per_s;
	printf("\nrouterlink benchmark, %ld gateways with a stream and a session each\n",
	       o->gateways);
	printf("  signing ceiling (libsodium Ed25519, 1 thread, %zu B): %8.0f signatures/s\n",
	       r->ceiling.signed_len, r->ceiling.sign_per_s);
	printf("  routerlink's packet_up encoder (pack+sign+pack):        %8.0f packets/s\n",
	       r->ceiling.encode_per_s);
	printf("  provisioning: %ld keys + streams + sessions in %.1f s (%.0f gateways/s)\n",
	       o->gateways, r->provision_s, (double)o->gateways / r->provision_s);
	printf("  routerlink RSS: %.1f MB idle, %.1f MB with the streams (%.1f kB per stream),\n"
	       "                  %.1f MB at the end, peak %.1f MB; fake router RSS %.1f MB\n",
	       (double)r->rss_idle / MB, (double)r->rss_streams / MB, per_stream / 1024,
	       (double)r->rss_end / MB, (double)r->hwm / MB, (double)r->router_rss / MB);
	printf("  fake router: %" PRIu64 " packets, %" PRIu64
	       " signatures verified (1 in --verify-every),"
	       " %" PRIu64 " verify failures, %" PRIu64 " protocol errors\n",
	       r->router_end.packets, r->router_end.packets_verified, r->router_end.verify_failures,
	       r->router_end.protocol_errors);
	if (b->stray > 0) {
		printf("  %" PRIu64 " packets matched no phase\n", b->stray);
	}
	printf("\n%-44s %14s %14s %s\n", "", "measured", "target", "");
	printf("%-44s %11.1f MB %11.0f MB %s\n", "RSS with the streams open",
	       (double)r->rss_streams / MB, TARGET_RSS / MB,
	       mark((double)r->rss_streams <= TARGET_RSS));
	printf("%-44s %12ld/s %12.0f/s %s (%.0f %% of the ceiling)\n",
	       "signed uplinks/s end to end, zero loss", r->best_rate,
	       TARGET_RATE * r->ceiling.sign_per_s, mark(share >= TARGET_RATE), share * 100);
	printf("%-44s %11.3f ms %11.1f ms %s\n", "p99 MQTT publish -> router", p99, TARGET_P99,
	       mark(p99 >= 0 && p99 <= TARGET_P99));
	if (r->best != NULL) {
		printf("at %ld/s: routerlink %.0f %% (main thread %.0f %%), fake router %.0f %% "
		       "(main "
		       "thread %.0f %%), broker %.0f %% of a core\n",
		       r->best_rate, r->best->cpu.routerlink * 100,
		       r->best->cpu.routerlink_main * 100, r->best->cpu.router * 100,
		       r->best->cpu.router_main * 100, r->best->cpu.broker * 100);
	}
}

static int
run(struct bench *b, struct results *r)
{
	const struct options *o = &b->o;
	fprintf(stderr, "rlbench: signing ceiling (%ld ms, nothing else busy)\n", o->ceiling_ms);
	if (sign_ceiling_measure((double)o->ceiling_ms / 1000, &r->ceiling) != 0) {
		return -1;
	}
	r->rss_idle = proc_status_bytes((int)o->routerlink_pid, "VmRSS");
	b->pub = rlb_pub_new(o->host, (int)o->port, (size_t)o->gateways, (int)o->inflight);
	b->router = rlb_router_open(o->control);
	if (b->pub == NULL || b->router == NULL) {
		return -1;
	}
	char sample[768];
	rlb_pub_sample(b->pub, sample, sizeof(sample));
	fprintf(stderr, "rlbench: uplinks look like\n  %s\n", sample);
	fprintf(stderr, "rlbench: %ld gateways come online\n", o->gateways);
	if (provision(b, &r->provision_s) != 0) {
		return -1;
	}
	bench_sleep_ns(o->settle_ms * NS_PER_MS);
	r->rss_streams = proc_status_bytes((int)o->routerlink_pid, "VmRSS");
	r->router_rss = proc_status_bytes((int)o->router_pid, "VmRSS");

	print_header();
	if (run_phase(b, "warmup", o->latency_rate, o->warmup_ms) == NULL) {
		return -1;
	}
	r->latency = run_phase(b, "latency", o->latency_rate, o->latency_ms);
	if (r->latency == NULL) {
		return -1;
	}
	r->best_rate = sweep(b, &r->first_fail, &r->best);
	if (stop_flag || b->died || quiesce(b) != 0 ||
	    rlb_router_stats(b->router, &r->router_end) != 0) {
		return -1;
	}
	r->rss_end = proc_status_bytes((int)o->routerlink_pid, "VmRSS");
	r->hwm = proc_status_bytes((int)o->routerlink_pid, "VmHWM");
	return 0;
}

/* ---- options ---------------------------------------------------------- */

static void
usage(FILE *out, const struct bench_numopt *opts, size_t n)
{
	fprintf(out, "usage: lorafleet-bench-routerlink --port N --control PATH --take-file PATH "
	             "[options]\n"
	             "  --host H               MQTT broker host (127.0.0.1)\n"
	             "  --control PATH         the fake router's control socket\n"
	             "  --take-file PATH       where the fake router writes its records\n");
	bench_numopt_usage(out, opts, n);
}

static int
parse_args(struct options *o, int argc, char **argv)
{
	const struct bench_numopt opts[] = {
	        {"port", &o->port, 1, 65535, "MQTT broker port"},
	        {"routerlink-pid", &o->routerlink_pid, 0, 1L << 30, "routerlink pid (RSS, CPU)"},
	        {"router-pid", &o->router_pid, 0, 1L << 30, "fake router pid (CPU)"},
	        {"broker-pid", &o->broker_pid, 0, 1L << 30, "broker pid (CPU)"},
	        {"gateways", &o->gateways, 1, 100000, "gateways, each with its own stream"},
	        {"provision-timeout-s", &o->provision_timeout_s, 1, 3600,
	         "most time for all streams to be ready"},
	        {"settle-ms", &o->settle_ms, 0, 60000, "wait after provisioning, before the RSS"},
	        {"ceiling-ms", &o->ceiling_ms, 100, 60000, "duration of the signing ceiling"},
	        {"inflight", &o->inflight, 1, 65535, "publisher's inflight window"},
	        {"step-ms", &o->step_ms, 100, 600000, "duration of each rate step"},
	        {"drain-ms", &o->drain_ms, 0, 60000, "time allowed for delivery after a step"},
	        {"backlog-ms", &o->backlog_ms, 0, 60000,
	         "most the delivery may lag at a step's end"},
	        {"quiet-ms", &o->quiet_ms, 10, 10000, "silence that means a backlog has drained"},
	        {"sweep-start", &o->sweep_start, 100, 1000000,
	         "first rate of the sweep (uplinks/s)"},
	        {"sweep-step", &o->sweep_step, 100, 1000000, "rate increment"},
	        {"sweep-max", &o->sweep_max, 100, 1000000, "highest rate tried"},
	        {"bisect", &o->bisect, 0, 10, "bisection steps after the first failure"},
	        {"resolution", &o->resolution, 100, 100000, "stop bisecting below this gap"},
	        {"latency-rate", &o->latency_rate, 100, 1000000, "rate of the latency phase"},
	        {"latency-ms", &o->latency_ms, 100, 600000, "duration of the latency phase"},
	        {"warmup-ms", &o->warmup_ms, 100, 600000, "traffic before the latency phase"},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0) {
			usage(stdout, opts, nopts);
			exit(0);
		}
		if (strncmp(arg, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "rlbench: bad argument %s\n", arg);
			return -1;
		}
		const char *name = arg + 2, *value = argv[++i];
		if (strcmp(name, "host") == 0) {
			o->host = value;
			continue;
		} else if (strcmp(name, "control") == 0) {
			o->control = value;
			continue;
		} else if (strcmp(name, "take-file") == 0) {
			o->take_file = value;
			continue;
		}
		int set = bench_numopt_set(opts, nopts, "rlbench", name, value);
		if (set <= 0) {
			if (set == 0) {
				fprintf(stderr, "rlbench: unknown option --%s\n", name);
			}
			return -1;
		}
	}
	if (o->port == 0 || o->control == NULL || o->take_file == NULL) {
		usage(stderr, opts, nopts);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return 1;
	}
	b->o = (struct options){
	        .host = "127.0.0.1",
	        .gateways = 10000,
	        .provision_timeout_s = 600,
	        .settle_ms = 3000,
	        .ceiling_ms = 4000,
	        .inflight = 1000,
	        .step_ms = 5000,
	        .drain_ms = 2000,
	        .backlog_ms = 250,
	        .quiet_ms = 300,
	        .sweep_start = 10000,
	        .sweep_step = 5000,
	        .sweep_max = 200000,
	        .bisect = 3,
	        .resolution = 1000,
	        .latency_rate = 5000,
	        .latency_ms = 10000,
	        .warmup_ms = 2000,
	};
	if (parse_args(&b->o, argc, argv) != 0) {
		free(b);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	mosquitto_lib_init();
	b->start_ns = bench_now_ns();
	struct results r = {0};
	int rc = run(b, &r);
	if (rc == 0) {
		print_report(b, &r);
	} else if (stop_flag) {
		fprintf(stderr, "rlbench: interrupted\n");
	}
	rlb_pub_free(b->pub);
	rlb_router_close(b->router);
	for (int i = 0; i < b->nphases; i++) {
		free(b->phases[i].lat);
	}
	free(b->seen);
	mosquitto_lib_cleanup();
	free(b);
	return rc == 0 ? 0 : stop_flag ? 130 : 1;
}
