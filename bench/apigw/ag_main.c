/*
 * lorafleet-bench-apigw: drives one apigw benchmark run against a running
 * broker and apigw (scripts/bench apigw starts both) and prints the
 * results table.
 *
 * Order: N gateways come (retained state and hotspot, as the bridge and
 * routerlink publish them) and the bench waits until GET /gateways lists
 * them all; wrk on /healthz (the ceiling: the cheapest route through the
 * same server), on GET /gateways/{mac} (a random gateway per request) and
 * on GET /gateways (the whole list); then M clients open /events, and
 * uplinks flow: a warm-up, the target phase, and a rate sweep with the
 * other benchmarks' zero-loss rule.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agbench.h"

#define NS_PER_MS     1000000LL
#define NS_PER_S      1000000000LL
#define MAX_PHASES    64
#define MB            (1024.0 * 1024.0)
#define TARGET_REQS   20000.0 /* GET /gateways/{mac}, per second */
#define TARGET_P99_MS 10.0
#define TARGET_SSE    1000 /* clients, each receiving TARGET_RATE events/s */
#define TARGET_RATE   1000

static volatile sig_atomic_t stop_flag;

struct options {
	const char *host, *api_key, *wrk, *lua;
	long port, http_port, apigw_pid, broker_pid;
	long gateways, clients, provision_timeout_s, inflight;
	long wrk_threads, wrk_connections, wrk_s, list_threads, list_connections;
	long sse_rate, sse_ms, warmup_ms, step_ms, drain_ms, backlog_ms, quiet_ms;
	long sweep_start, sweep_step, sweep_max, bisect, resolution;
	bool skip_rest, skip_sse;
};

/*
 * CPU while measuring, in cores. apigw's main thread is its lws service
 * thread, which does all of the HTTP and SSE work: 100 % is its limit.
 * kernel: busy time no process is charged with (softirqs run from idle,
 * ksoftirqd, kworkers): on loopback mostly TCP delivery for the processes
 * here. other: the CPU of every other process, which should be near 0;
 * when it is not, the row is suspect.
 */
struct cpu {
	double apigw, apigw_main, broker, bench, wrk, kernel, other;
};

struct rest {
	const char *name;
	struct agb_wrk_result r;
	struct cpu cpu;
	bool ok;
};

struct phase {
	const char *kind; /* "warmup", "target", "sweep" */
	long rate;
	int id;
	uint64_t first, n, sent;
	double achieved, at_s;
	int64_t t_sent;
	struct agb_sse_stats st;
	struct cpu cpu;
	bool pass;
};

struct bench {
	struct options o;
	struct agb_pub *pub;
	struct agb_sse *sse;
	uint64_t next_seq;
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

/*
 * CPU seconds of every process that is not part of the run: someone's
 * build or test. What they reaped counts too (cutime, cstime), since a
 * compiler lives shorter than a phase. Kernel threads (kthreadd's
 * children) are left out: ksoftirqd and the kworkers do this run's
 * loopback work.
 */
static double
others_cpu_s(const struct bench *b)
{
	DIR *dir = opendir("/proc");
	if (dir == NULL) {
		return 0;
	}
	unsigned long long ticks = 0;
	const long self = (long)getpid();
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		char *end = NULL, path[64], buf[1024];
		long pid = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || pid == 2 || pid == self ||
		    pid == b->o.apigw_pid || pid == b->o.broker_pid) {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			continue; /* gone meanwhile */
		}
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		long ppid = 0;
		unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
		if (p != NULL &&
		    sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
		           &ppid, &ut, &st, &cut, &cst) == 5 &&
		    ppid != 2) {
			ticks += ut + st + cut + cst;
		}
	}
	closedir(dir);
	return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* Raw readings; cpu_rate() turns two into shares of a core. In a raw
 * reading `kernel` is the host's busy time less the run's processes and
 * the others. */
static struct cpu
cpu_now(const struct bench *b)
{
	struct cpu c = {
	        .apigw = proc_cpu_s((int)b->o.apigw_pid),
	        .apigw_main = thread_cpu_s((int)b->o.apigw_pid),
	        .broker = proc_cpu_s((int)b->o.broker_pid),
	        .bench = proc_cpu_s((int)getpid()),
	        .other = others_cpu_s(b),
	        .kernel = host_cpu_s(),
	};
	c.kernel -= c.apigw + c.broker + c.bench + c.other;
	return c;
}

/* wrk_s: the CPU the wrk child used meanwhile (it is gone before it can be
 * read from /proc), which the host-wide figure includes. */
static struct cpu
cpu_rate(struct cpu a, struct cpu b, double secs, double wrk_s)
{
	return (struct cpu){
	        .apigw = (b.apigw - a.apigw) / secs,
	        .apigw_main = (b.apigw_main - a.apigw_main) / secs,
	        .broker = (b.broker - a.broker) / secs,
	        .bench = (b.bench - a.bench) / secs,
	        .wrk = wrk_s / secs,
	        .kernel = (b.kernel - a.kernel - wrk_s) / secs,
	        .other = (b.other - a.other) / secs,
	};
}

static bool
peers_alive(struct bench *b)
{
	const long pids[] = {b->o.broker_pid, b->o.apigw_pid};
	const char *names[] = {"broker", "apigw"};
	for (size_t i = 0; i < 2 && !b->died; i++) {
		if (pids[i] > 0 && kill((pid_t)pids[i], 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "agbench: the %s (pid %ld) has exited\n", names[i],
			        pids[i]);
			b->died = true;
		}
	}
	return !b->died;
}

/* A number member of a JSON text, found by name: its last occurrence, as
 * the list's "total" and "connected" follow the gateways (which have a
 * "connected" of their own); -1 when absent. */
static long long
json_number(const char *text, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *last = NULL;
	for (const char *p = text; p != NULL && (p = strstr(p, key)) != NULL; p++) {
		last = p;
	}
	return last != NULL ? strtoll(last + strlen(key), NULL, 10) : -1;
}

/* ---- provisioning ----------------------------------------------------- */

struct results {
	double provision_s;
	uint64_t rss_idle, rss_fleet, rss_clients, rss_end, hwm;
	size_t list_bytes, one_bytes;
	struct rest rest[3];
	const struct phase *target, *best;
	long best_rate, first_fail;
	struct agb_sse_totals sse;
};

/* Every gateway's state and hotspot; waits until apigw lists them all,
 * connected, so that no gateway event is left to reach the SSE clients. */
static int
provision(struct bench *b, struct results *r)
{
	const struct options *o = &b->o;
	int64_t t0 = bench_now_ns();
	if (agb_pub_gateways(b->pub, 0, (size_t)o->gateways) != 0) {
		fprintf(stderr, "agbench: publishing the gateways failed\n");
		return -1;
	}
	int64_t deadline = t0 + o->provision_timeout_s * NS_PER_S;
	long long total = -1, connected = -1;
	while (!stop_flag && bench_now_ns() < deadline && peers_alive(b)) {
		char *body = NULL;
		/* /healthz is cheap; the 10,000-gateway list only at the end. */
		int status = agb_http_get((int)o->http_port, "/healthz", o->api_key, &body, 5000);
		long long have = status == 200 ? json_number(body, "gateways") : -1;
		free(body);
		if (have >= o->gateways) {
			status = agb_http_get((int)o->http_port, "/gateways", o->api_key, &body,
			                      30000);
			total = status == 200 ? json_number(body, "total") : -1;
			connected = status == 200 ? json_number(body, "connected") : -1;
			r->list_bytes = body != NULL ? strlen(body) : 0;
			free(body);
			if (total == o->gateways && connected == o->gateways) {
				break;
			}
		}
		bench_sleep_ns(200 * NS_PER_MS);
	}
	r->provision_s = (double)(bench_now_ns() - t0) / 1e9;
	if (total != o->gateways || connected != o->gateways) {
		fprintf(stderr,
		        "agbench: after %.0f s GET /gateways says total %lld, connected %lld "
		        "(want %ld)\n",
		        r->provision_s, total, connected, o->gateways);
		return -1;
	}
	char path[64], mac[17], *body = NULL;
	agb_mac(0, mac);
	snprintf(path, sizeof(path), "/gateways/%s", mac);
	if (agb_http_get((int)o->http_port, path, o->api_key, &body, 5000) != 200) {
		fprintf(stderr, "agbench: GET %s failed: %s\n", path, body != NULL ? body : "");
		free(body);
		return -1;
	}
	r->one_bytes = strlen(body);
	fprintf(stderr, "agbench: GET %s:\n  %s\n", path, body);
	free(body);
	return 0;
}

/* ---- REST: wrk ---------------------------------------------------------- */

static void
print_rest_header(void)
{
	fprintf(stderr, "%-22s %6s %9s %8s %8s %8s %8s %8s %7s  %-10s %6s %6s %6s %6s %6s\n",
	        "route", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "MiB/s",
	        "errors", "apigw", "broker", "wrk", "bench", "kernel", "other");
	fprintf(stderr, "%100s %-10s\n", "", "all/main");
}

static void
print_rest(const struct rest *t, long conns)
{
	const struct agb_wrk_result *r = &t->r;
	char ag[16];
	snprintf(ag, sizeof(ag), "%3.0f%%/%3.0f%%", t->cpu.apigw * 100, t->cpu.apigw_main * 100);
	fprintf(stderr,
	        "%-22s %6ld %9.0f %8.3f %8.3f %8.3f %8.2f %8.1f %7" PRIu64
	        "  %-10s %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%%\n",
	        t->name, conns, r->req_per_s, r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms,
	        r->bytes_per_s / MB, r->non2xx + r->socket_errors + r->timeouts, ag,
	        t->cpu.broker * 100, t->cpu.wrk * 100, t->cpu.bench * 100, t->cpu.kernel * 100,
	        t->cpu.other * 100);
}

/* One wrk run on path (NULL: the random-gateway script). */
static int
run_wrk(struct bench *b, struct rest *t, const char *name, const char *path, long threads,
        long conns)
{
	const struct options *o = &b->o;
	char th[16], co[16], du[16], url[160], hdr[160], n[16];
	snprintf(th, sizeof(th), "%ld", threads);
	snprintf(co, sizeof(co), "%ld", conns);
	snprintf(du, sizeof(du), "%lds", o->wrk_s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%ld%s", o->http_port, path ? path : "/");
	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", o->api_key);
	snprintf(n, sizeof(n), "%ld", o->gateways);
	/* A 10,000-gateway list takes long: wrk's default 2 s timeout would
	 * count slow answers as errors instead of measuring them. */
	char *argv[24] = {(char *)o->wrk, "-t", th,          "-c",        co,
	                  "-d",           du,   "--latency", "--timeout", "30s"};
	int i = 10;
	if (o->api_key[0] != '\0') {
		argv[i++] = "-H";
		argv[i++] = hdr;
	}
	if (path == NULL) {
		argv[i++] = "-s";
		argv[i++] = (char *)o->lua;
	}
	argv[i++] = url;
	if (path == NULL) {
		argv[i++] = "--";
		argv[i++] = AGB_MAC_PREFIX;
		argv[i++] = n;
	}
	argv[i] = NULL;
	t->name = name;
	if (!peers_alive(b)) {
		return -1;
	}
	struct cpu c0 = cpu_now(b);
	int64_t t0 = bench_now_ns();
	int rc = agb_wrk_run(argv, &t->r);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	t->cpu = cpu_rate(c0, cpu_now(b), secs, t->r.cpu_s);
	t->ok = rc == 0;
	if (rc == 0) {
		print_rest(t, conns);
	}
	return rc;
}

static int
run_rest(struct bench *b, struct results *r)
{
	const struct options *o = &b->o;
	print_rest_header();
	if (run_wrk(b, &r->rest[0], "GET /healthz (ceiling)", "/healthz", o->wrk_threads,
	            o->wrk_connections) != 0 ||
	    run_wrk(b, &r->rest[1], "GET /gateways/{mac}", NULL, o->wrk_threads,
	            o->wrk_connections) != 0 ||
	    run_wrk(b, &r->rest[2], "GET /gateways", "/gateways", o->list_threads,
	            o->list_connections) != 0) {
		return -1;
	}
	return 0;
}

/* ---- SSE ------------------------------------------------------------------- */

/* Waits until the clients received nothing for quiet_ms (at most 30 s)
 * and the broker acknowledged every publish, so a phase never starts
 * while an earlier one drains. */
static void
quiesce(struct bench *b)
{
	int64_t start = bench_now_ns(), since = start;
	struct agb_sse_totals t;
	agb_sse_totals(b->sse, &t);
	uint64_t last = t.bytes;
	while (!stop_flag && bench_now_ns() - start < 30 * NS_PER_S) {
		bench_sleep_ns(10 * NS_PER_MS);
		agb_sse_totals(b->sse, &t);
		int64_t now = bench_now_ns();
		if (t.bytes != last) {
			last = t.bytes;
			since = now;
		} else if (now - since >= b->o.quiet_ms * NS_PER_MS &&
		           agb_pub_unacked(b->pub) == 0) {
			break;
		}
	}
}

static const char *
verdict(const struct bench *b, const struct phase *p)
{
	const struct agb_sse_stats *s = &p->st;
	if (p->pass) {
		return "pass";
	}
	if (p->sent < p->n || p->achieved < 0.97 * (double)p->rate) {
		return "FAIL (source lagged)";
	}
	if (s->overflows > 0) {
		return "FAIL (overflow)";
	}
	if (s->missed > 0 || s->delivered < s->expected) {
		return "FAIL (lost)";
	}
	if (s->backwards > 0 || s->id_gaps > 0 || s->wrong_mac > 0) {
		return "FAIL (order)";
	}
	(void)b;
	return "FAIL (backlog)";
}

static void
print_sse_header(void)
{
	fprintf(stderr,
	        "%5s %-7s %8s %8s %10s %7s %6s %5s %7s %7s %8s %6s  %-10s %6s %6s %6s %6s %s\n",
	        "at s", "phase", "target/s", "sent/s", "delivered", "lost", "order", "ovfl",
	        "p50 ms", "p99 ms", "max ms", "drain", "apigw", "broker", "bench", "kernel",
	        "other", "result");
	fprintf(stderr, "%91s %-10s\n", "", "all/main");
}

static void
print_phase(const struct bench *b, const struct phase *p)
{
	const struct agb_sse_stats *s = &p->st;
	uint64_t lost = s->missed + (s->expected > s->delivered + s->missed
	                                     ? s->expected - s->delivered - s->missed
	                                     : 0);
	double drain =
	        s->last_done_ns > p->t_sent ? (double)(s->last_done_ns - p->t_sent) / 1e9 : 0;
	char ag[16];
	snprintf(ag, sizeof(ag), "%3.0f%%/%3.0f%%", p->cpu.apigw * 100, p->cpu.apigw_main * 100);
	fprintf(stderr,
	        "%5.0f %-7s %8ld %8.0f %10" PRIu64 " %7" PRIu64 " %6" PRIu64 " %5" PRIu64
	        " %7.2f %7.2f %8.2f %5.2fs  %-10s %5.0f%% %5.0f%% %5.0f%% %5.0f%% %s\n",
	        p->at_s, p->kind, p->rate, p->achieved, s->delivered, lost,
	        s->backwards + s->id_gaps + s->wrong_mac, s->overflows, (double)s->p50_ns / 1e6,
	        (double)s->p99_ns / 1e6, (double)s->max_ns / 1e6, drain, ag, p->cpu.broker * 100,
	        p->cpu.bench * 100, p->cpu.kernel * 100, p->cpu.other * 100, verdict(b, p));
}

/* One phase: rate * dur_ms / 1000 uplinks, spread evenly, each to every
 * client. */
static struct phase *
run_phase(struct bench *b, const char *kind, long rate, long dur_ms)
{
	const struct options *o = &b->o;
	if (b->nphases == MAX_PHASES || !peers_alive(b)) {
		return NULL;
	}
	quiesce(b);
	uint64_t n = (uint64_t)(rate * dur_ms / 1000);
	struct phase *p = &b->phases[b->nphases];
	*p = (struct phase){.kind = kind, .rate = rate, .first = b->next_seq, .n = n};
	p->id = agb_sse_phase_add(b->sse, p->first, n);
	if (p->id < 0) {
		return NULL;
	}
	b->nphases++;
	b->next_seq += n;
	p->at_s = (double)(bench_now_ns() - b->start_ns) / 1e9;

	/* Ticks of 1 ms at most, so the load is smooth. */
	struct cpu c0 = cpu_now(b);
	int64_t t0 = bench_now_ns(), now = t0;
	int64_t give_up = t0 + 2 * dur_ms * NS_PER_MS + NS_PER_S;
	while (p->sent < n && !stop_flag && now < give_up) {
		uint64_t due = (uint64_t)((now - t0) * rate / NS_PER_S) + 1;
		due = due > n ? n : due;
		if (due > p->sent) {
			size_t k = (size_t)(due - p->sent);
			agb_sse_stamp(b->sse, p->id, p->first + p->sent, k);
			if (agb_pub_uplinks(b->pub, p->first + p->sent, k) != 0) {
				b->died = true;
				return NULL;
			}
			p->sent = due;
		}
		bench_sleep_ns(NS_PER_MS / 2);
		now = bench_now_ns();
	}
	p->t_sent = now;
	p->cpu = cpu_rate(c0, cpu_now(b), (double)(now - t0) / 1e9, 0);
	p->achieved = (double)p->sent * 1e9 / ((double)(now - t0) + 1e9 / (double)rate);

	/* Until every client has the last event, or the drain time is over. */
	while (!stop_flag && bench_now_ns() < p->t_sent + o->drain_ms * NS_PER_MS) {
		agb_sse_phase_stats(b->sse, p->id, &p->st);
		if (p->st.clients_done >= (uint64_t)o->clients) {
			break;
		}
		bench_sleep_ns(2 * NS_PER_MS);
	}
	quiesce(b);
	agb_sse_phase_stats(b->sse, p->id, &p->st);
	const struct agb_sse_stats *s = &p->st;
	double drain_ms =
	        s->last_done_ns > p->t_sent ? (double)(s->last_done_ns - p->t_sent) / 1e6 : 0;
	p->pass = p->sent == n && s->delivered == s->expected && s->missed == 0 &&
	          s->backwards == 0 && s->overflows == 0 && s->id_gaps == 0 && s->wrong_mac == 0 &&
	          s->clients_done == (uint64_t)o->clients && drain_ms <= (double)o->backlog_ms &&
	          p->achieved >= 0.97 * (double)rate;
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

/* The rate sweep (bench_sweep) above lo, which passed before; *best is
 * the highest step that passed (unchanged if none did). */
static long
sweep(struct bench *b, long lo, long *first_fail, const struct phase **best)
{
	const struct options *o = &b->o;
	struct sweep_plan plan = {o->sweep_start, o->sweep_step, o->sweep_max, o->bisect,
	                          o->resolution};
	struct sweep_ctx c = {b, NULL};
	long rate = bench_sweep(&plan, lo, sweep_step, &c, first_fail);
	if (c.best != NULL) {
		*best = c.best;
	}
	return rate;
}

static int
run_sse(struct bench *b, struct results *r)
{
	const struct options *o = &b->o;
	fprintf(stderr, "\nagbench: %ld clients open /events\n", o->clients);
	b->sse = agb_sse_new("127.0.0.1", (int)o->http_port, (size_t)o->clients,
	                     (size_t)o->gateways, AGB_EUI_BASE);
	if (b->sse == NULL || agb_sse_start(b->sse, 30000) != 0) {
		return -1;
	}
	char *body = NULL;
	int status = agb_http_get((int)o->http_port, "/healthz", o->api_key, &body, 5000);
	long long streams = status == 200 ? json_number(body, "sse_clients") : -1;
	free(body);
	if (streams != o->clients) {
		fprintf(stderr, "agbench: /healthz says %lld SSE clients, want %ld\n", streams,
		        o->clients);
		return -1;
	}
	r->rss_clients = proc_status_bytes((int)o->apigw_pid, "VmRSS");
	char sample[768];
	agb_pub_sample(b->pub, sample, sizeof(sample));
	fprintf(stderr, "agbench: uplinks look like\n  %s\n\n", sample);
	print_sse_header();
	if (run_phase(b, "warmup", o->sse_rate, o->warmup_ms) == NULL) {
		return -1;
	}
	r->target = run_phase(b, "target", o->sse_rate, o->sse_ms);
	if (r->target == NULL) {
		return -1;
	}
	if (r->target->pass) {
		r->best = r->target;
	}
	r->best_rate = sweep(b, r->target->pass ? o->sse_rate : 0, &r->first_fail, &r->best);
	if (stop_flag || b->died) {
		return -1;
	}
	quiesce(b);
	agb_sse_totals(b->sse, &r->sse);
	return 0;
}

/* ---- the report ---------------------------------------------------------- */

static const char *
mark(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void
print_report(const struct bench *b, const struct results *r)
{
	const struct options *o = &b->o;
	printf("\napigw benchmark, %ld gateways, %ld SSE clients\n", o->gateways, o->clients);
	printf("  provisioning: %ld retained states + hotspots listed after %.1f s\n", o->gateways,
	       r->provision_s);
	printf("  responses: GET /gateways %.2f MB, GET /gateways/{mac} %zu bytes\n",
	       (double)r->list_bytes / 1e6, r->one_bytes);
	printf("  apigw RSS: %.1f MB idle, %.1f MB with the gateways, %.1f MB with the "
	       "clients,\n             %.1f MB at the end, peak %.1f MB\n",
	       (double)r->rss_idle / MB, (double)r->rss_fleet / MB, (double)r->rss_clients / MB,
	       (double)r->rss_end / MB, (double)r->hwm / MB);
	if (!o->skip_sse) {
		printf("  SSE: %" PRIu64 " uplink events received in all, %" PRIu64
		       " other events, %" PRIu64 " heartbeats, %" PRIu64 " stray, %" PRIu64
		       " protocol errors, %" PRIu64 " streams closed, %.1f MB read\n",
		       r->sse.events, r->sse.other_events, r->sse.heartbeats, r->sse.stray,
		       r->sse.protocol_errors, r->sse.closed, (double)r->sse.bytes / 1e6);
	}
	printf("\n%-46s %14s %14s %s\n", "", "measured", "target", "");
	if (!o->skip_rest) {
		const struct agb_wrk_result *ceil = &r->rest[0].r, *one = &r->rest[1].r,
		                            *list = &r->rest[2].r;
		uint64_t errors = one->non2xx + one->socket_errors + one->timeouts;
		printf("%-46s %12.0f/s %14s %s\n", "ceiling: GET /healthz, same server",
		       ceil->req_per_s, "(reference)", "");
		char label[64];
		snprintf(label, sizeof(label), "GET /gateways/{mac}, random of %ld", o->gateways);
		printf("%-46s %12.0f/s %12.0f/s %s (%.0f %% of the ceiling)\n", label,
		       one->req_per_s, TARGET_REQS,
		       mark(one->req_per_s >= TARGET_REQS && errors == 0),
		       one->req_per_s / ceil->req_per_s * 100);
		printf("%-46s %11.3f ms %11.1f ms %s\n", "GET /gateways/{mac} p99", one->p99_ms,
		       TARGET_P99_MS, mark(one->p99_ms <= TARGET_P99_MS));
		printf("%-46s %12.1f/s %14s p99 %.0f ms, %.1f MiB/s\n", "GET /gateways (all)",
		       list->req_per_s, "(none)", list->p99_ms, list->bytes_per_s / MB);
	}
	if (!o->skip_sse) {
		const struct phase *t = r->target;
		bool zero = t != NULL && t->pass;
		uint64_t lost = t != NULL ? t->st.expected - t->st.delivered + t->st.missed : 0;
		char label[64];
		snprintf(label, sizeof(label), "%ld SSE clients at %ld events/s: lost", o->clients,
		         o->sse_rate);
		printf("%-46s %14" PRIu64 " %14d %s\n", label, lost, 0,
		       mark(zero && o->clients >= TARGET_SSE && o->sse_rate >= TARGET_RATE));
		if (t != NULL) {
			printf("%-46s %11.2f ms %14s p50 %.2f ms, max %.2f ms\n",
			       "  latency publish -> every client, p99", (double)t->st.p99_ns / 1e6,
			       "(none)", (double)t->st.p50_ns / 1e6, (double)t->st.max_ns / 1e6);
		}
		printf("%-46s %12ld/s %14s first failure at %ld/s\n",
		       "highest zero-loss rate, all clients", r->best_rate, "(reference)",
		       r->first_fail);
		if (t != NULL) {
			printf("at %ld/s: apigw %.0f %% (main thread %.0f %%), broker %.0f %%, "
			       "bench %.0f %%, kernel %.0f %% of a core\n",
			       t->rate, t->cpu.apigw * 100, t->cpu.apigw_main * 100,
			       t->cpu.broker * 100, t->cpu.bench * 100, t->cpu.kernel * 100);
		}
	}
}

static int
run(struct bench *b, struct results *r)
{
	const struct options *o = &b->o;
	r->rss_idle = proc_status_bytes((int)o->apigw_pid, "VmRSS");
	b->pub = agb_pub_new(o->host, (int)o->port, (size_t)o->gateways, (int)o->inflight);
	if (b->pub == NULL) {
		return -1;
	}
	fprintf(stderr, "agbench: %ld gateways come (retained state + hotspot)\n", o->gateways);
	if (provision(b, r) != 0) {
		return -1;
	}
	r->rss_fleet = proc_status_bytes((int)o->apigw_pid, "VmRSS");
	if (!o->skip_rest && run_rest(b, r) != 0) {
		return -1;
	}
	if (!o->skip_sse && run_sse(b, r) != 0) {
		return -1;
	}
	r->rss_end = proc_status_bytes((int)o->apigw_pid, "VmRSS");
	r->hwm = proc_status_bytes((int)o->apigw_pid, "VmHWM");
	return stop_flag || b->died ? -1 : 0;
}

/* ---- options ---------------------------------------------------------- */

static void
usage(FILE *out, const struct bench_numopt *opts, size_t n)
{
	fprintf(out, "usage: lorafleet-bench-apigw --port N --http-port N --lua PATH [options]\n"
	             "  --host H               MQTT broker host (127.0.0.1)\n"
	             "  --api-key K            apigw's read key, sent as X-API-Key\n"
	             "  --wrk PATH             wrk (wrk)\n"
	             "  --lua PATH             bench/apigw/gateway.lua\n"
	             "  --skip-rest            no wrk runs\n"
	             "  --skip-sse             no SSE phases\n");
	bench_numopt_usage(out, opts, n);
}

static int
parse_args(struct options *o, int argc, char **argv)
{
	const struct bench_numopt opts[] = {
	        {"port", &o->port, 1, 65535, "MQTT broker port"},
	        {"http-port", &o->http_port, 1, 65535, "apigw's HTTP port"},
	        {"apigw-pid", &o->apigw_pid, 0, 1L << 30, "apigw pid (RSS, CPU)"},
	        {"broker-pid", &o->broker_pid, 0, 1L << 30, "broker pid (CPU)"},
	        {"gateways", &o->gateways, 1, 1000000, "gateways in the fleet"},
	        {"clients", &o->clients, 1, 100000, "SSE clients"},
	        {"provision-timeout-s", &o->provision_timeout_s, 1, 3600,
	         "most time for apigw to list every gateway"},
	        {"inflight", &o->inflight, 1, 65535, "publisher's inflight window"},
	        {"wrk-threads", &o->wrk_threads, 1, 64, "wrk threads (/healthz, /gateways/{mac})"},
	        {"wrk-connections", &o->wrk_connections, 1, 10000, "wrk connections (same)"},
	        {"wrk-s", &o->wrk_s, 1, 3600, "seconds per wrk run"},
	        {"list-threads", &o->list_threads, 1, 64, "wrk threads for GET /gateways"},
	        {"list-connections", &o->list_connections, 1, 10000,
	         "wrk connections for GET /gateways"},
	        {"sse-rate", &o->sse_rate, 1, 1000000, "uplinks/s of the target phase"},
	        {"sse-ms", &o->sse_ms, 100, 600000, "duration of the target phase"},
	        {"warmup-ms", &o->warmup_ms, 100, 600000, "traffic before the target phase"},
	        {"step-ms", &o->step_ms, 100, 600000, "duration of each sweep step"},
	        {"drain-ms", &o->drain_ms, 0, 60000, "time allowed for delivery after a step"},
	        {"backlog-ms", &o->backlog_ms, 0, 60000,
	         "most the slowest client may lag at a step's end"},
	        {"quiet-ms", &o->quiet_ms, 10, 10000, "silence that means a backlog has drained"},
	        {"sweep-start", &o->sweep_start, 1, 1000000, "first rate of the sweep (uplinks/s)"},
	        {"sweep-step", &o->sweep_step, 1, 1000000, "rate increment"},
	        {"sweep-max", &o->sweep_max, 1, 1000000,
	         "highest rate tried (0 steps: below start)"},
	        {"bisect", &o->bisect, 0, 10, "bisection steps after the first failure"},
	        {"resolution", &o->resolution, 1, 100000, "stop bisecting below this gap"},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0) {
			usage(stdout, opts, nopts);
			exit(0);
		} else if (strcmp(arg, "--skip-rest") == 0) {
			o->skip_rest = true;
			continue;
		} else if (strcmp(arg, "--skip-sse") == 0) {
			o->skip_sse = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "agbench: bad argument %s\n", arg);
			return -1;
		}
		const char *name = arg + 2, *value = argv[++i];
		if (strcmp(name, "host") == 0) {
			o->host = value;
			continue;
		} else if (strcmp(name, "api-key") == 0) {
			o->api_key = value;
			continue;
		} else if (strcmp(name, "wrk") == 0) {
			o->wrk = value;
			continue;
		} else if (strcmp(name, "lua") == 0) {
			o->lua = value;
			continue;
		}
		int set = bench_numopt_set(opts, nopts, "agbench", name, value);
		if (set <= 0) {
			if (set == 0) {
				fprintf(stderr, "agbench: unknown option --%s\n", name);
			}
			return -1;
		}
	}
	if (o->port == 0 || o->http_port == 0 || (o->lua == NULL && !o->skip_rest)) {
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
	        .api_key = "",
	        .wrk = "wrk",
	        .gateways = 10000,
	        .clients = 1000,
	        .provision_timeout_s = 120,
	        .inflight = 1000,
	        .wrk_threads = 2,
	        .wrk_connections = 64,
	        .wrk_s = 10,
	        .list_threads = 1,
	        .list_connections = 4,
	        .sse_rate = 1000,
	        .sse_ms = 20000,
	        .warmup_ms = 2000,
	        .step_ms = 5000,
	        .drain_ms = 2000,
	        .backlog_ms = 250,
	        .quiet_ms = 300,
	        .sweep_start = 1500,
	        .sweep_step = 500,
	        .sweep_max = 100000,
	        .bisect = 3,
	        .resolution = 100,
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

	b->start_ns = bench_now_ns();
	struct results r = {0};
	int rc = run(b, &r);
	if (rc == 0) {
		print_report(b, &r);
	} else if (stop_flag) {
		fprintf(stderr, "agbench: interrupted\n");
	}
	agb_sse_free(b->sse);
	agb_pub_free(b->pub);
	free(b);
	return rc == 0 ? 0 : stop_flag ? 130 : 1;
}
