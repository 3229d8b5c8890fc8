/*
 * lorafleet-soak: drives one soak run against a running broker, bridge,
 * routerlink (with its keys directory), apigw and fake router (--bench);
 * scripts/bench soak starts them all. See bench/README.md, "The soak".
 *
 * Order: N gateways connect (one UDP socket each, PULL_DATA every 10 s,
 * stat every 30 s); routerlink provisions each (key, stream, session);
 * the SSE client opens /events; the prefill sends `prefill` uplinks per
 * gateway quickly, so that every bounded per-gateway store (routerlink's
 * packets ring, apigw's SSE ring) is full before anything is judged; then
 * the steady run: one uplink per gateway every uplink period, round robin,
 * downlinks from the router, REST requests; a sample every interval;
 * finally a drain, the per-daemon verdicts and the delivery accounting.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "../apigw/agbench.h"
#include "../bench.h"
#include "../routerlink/rlbench.h"
#include "lf/util.h"
#include "soak.h"

#define NS_PER_MS   1000000LL
#define NS_PER_S    1000000000LL
#define MB          (1024.0 * 1024.0)
#define MAX_PROCS   6
#define DL_PAYLOAD  "IAECAwQF" /* 6 bytes: MHDR unconfirmed down and a few */
#define DL_FREQ_HZ  923300000u
#define DL_DATR     "SF10BW500"
#define DL_STRIDE   7919 /* a prime: downlinks visit the gateways spread out */
#define CONNECT_TMO 120000

static volatile sig_atomic_t stop_flag;

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
static const char *const PHASE_NAMES[] = {"prefill", "warmup", "measure", "drain"};

struct sample {
	double t_s;
	enum phase phase;
	uint64_t sent, router_unique, sse_delivered, downlinks, pull_resps, rest_ok, rest_failed;
	double rss[MAX_PROCS], cpu[MAX_PROCS];
	long fds[MAX_PROCS];
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
	bool died;
};

static void
on_signal(int sig)
{
	stop_flag = 1;
	(void)sig;
}

static bool
procs_alive(struct soak *k)
{
	for (size_t i = 0; i < k->nprocs && !k->died; i++) {
		if (kill(k->procs[i].pid, 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "soak: the %s (pid %d) has exited\n", k->procs[i].name,
			        k->procs[i].pid);
			k->died = true;
		}
	}
	return !k->died;
}

/* ---- the uplinks -------------------------------------------------------- */

/* An rxpk as a forwarder sends it (US915, so routerlink takes it), whose
 * tmst is the seq (apigw copies it into the SSE event) and whose frame
 * carries seq and the send time (the fake router keeps both). */
static int
soak_rxpk(void *arg, char *out, size_t outlen, size_t gw, uint64_t seq)
{
	(void)arg;
	uint8_t frame[RLB_FRAME_LEN];
	char data[64];
	rlb_frame(frame, gw, seq, bench_now_ns());
	lf_base64_encode(frame, sizeof(frame), data, sizeof(data));
	int n = snprintf(out, outlen,
	                 "{\"tmst\":%" PRIu32 ",\"chan\":0,\"rfch\":0,\"freq\":904.3,\"stat\":1,"
	                 "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-57,"
	                 "\"lsnr\":9.8,\"size\":%d,\"data\":\"%s\"}",
	                 (uint32_t)seq, RLB_FRAME_LEN, data);
	return n > 0 && (size_t)n < outlen ? n : -1;
}

static int
send_uplinks(struct soak *k, uint64_t n)
{
	agb_sse_stamp(k->sse, k->sse_phase, k->next_seq, (size_t)n);
	int rc = k->src.send(k->src.impl, k->next_seq, (size_t)n);
	k->next_seq += n;
	return rc;
}

static void
on_record(void *arg, uint64_t seq, int64_t sent_ns, int64_t recv_ns)
{
	struct soak *k = arg;
	if (seq >= k->total) {
		k->router_stray++;
		return;
	}
	if (k->seen[seq]) {
		k->router_dups++;
		return;
	}
	k->seen[seq] = 1;
	k->router_unique++;
	hist_add(k->lat, recv_ns - sent_ns);
}

static int
take(struct soak *k)
{
	if (rlb_router_take(k->router, k->o.take_file, on_record, k) < 0) {
		k->died = true;
		return -1;
	}
	return 0;
}

/* ---- the downlinks ------------------------------------------------------ */

/* The gateway's Helium key as the router names it: the key file's tag and
 * public key (bytes 0 and 33..64 of the gateway-rs layout), in hex. */
static int
gateway_hex(const struct soak *k, size_t gw, char out[67])
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%016" PRIX64 ".key", k->o.keys_dir,
	         (uint64_t)(SK_EUI_BASE + gw));
	uint8_t key[65];
	FILE *f = fopen(path, "rb");
	size_t n = f != NULL ? fread(key, 1, sizeof(key), f) : 0;
	if (f != NULL) {
		fclose(f);
	}
	if (n != sizeof(key)) {
		fprintf(stderr, "soak: cannot read the key %s\n", path);
		return -1;
	}
	snprintf(out, 3, "%02x", key[0]);
	for (int i = 0; i < 32; i++) {
		snprintf(out + 2 + 2 * i, 3, "%02x", key[33 + i]);
	}
	return 0;
}

static int
send_downlink(struct soak *k)
{
	size_t gw = (size_t)(k->dl_cursor++ * DL_STRIDE % (uint64_t)k->o.gateways);
	char hex[67], refusal[128];
	if (gateway_hex(k, gw, hex) != 0) {
		return -1;
	}
	/* A concentrator time 1 s after the gateway's latest uplink, roughly. */
	uint32_t tmst = (uint32_t)(k->next_seq + 1000000);
	int rc = rlb_router_downlink(k->router, hex, DL_PAYLOAD, tmst, DL_FREQ_HZ, DL_DATR, refusal,
	                             sizeof(refusal));
	if (rc == 0) {
		k->downlinks++;
	} else if (rc == 1) {
		/* No live stream for it (one being recycled): not sent, not lost. */
		k->dl_refused++;
		fprintf(stderr, "soak: the router did not send a downlink to gateway %zu: %s\n", gw,
		        refusal);
	} else {
		k->died = true;
		return -1;
	}
	return 0;
}

/* ---- samples ------------------------------------------------------------ */

static int
add_proc(struct soak *k, const char *name, long pid, bool judged)
{
	if (pid <= 0) {
		return 0;
	}
	if (k->nprocs == MAX_PROCS) {
		return -1;
	}
	k->procs[k->nprocs++] = (struct proc){.name = name, .pid = (int)pid, .judged = judged};
	return 0;
}

static void
print_row_header(const struct soak *k)
{
	printf("%6s %-7s %9s %9s %9s %6s %6s %6s |", "t s", "phase", "uplinks", "router", "sse",
	       "down", "tx", "rest");
	for (size_t i = 0; i < k->nprocs; i++) {
		printf(" %-18s|", k->procs[i].name);
	}
	printf("\n%58s |", "");
	for (size_t i = 0; i < k->nprocs; i++) {
		printf(" %7s %4s %5s|", "RSS MB", "fds", "CPU%");
	}
	printf("\n");
	if (k->csv != NULL) {
		fprintf(k->csv, "t_s,phase,uplinks_sent,router_unique,sse_delivered,downlinks,"
		                "pull_resps,rest_ok,rest_failed");
		for (size_t i = 0; i < k->nprocs; i++) {
			fprintf(k->csv, ",%s_rss_kb,%s_fds,%s_cpu_pct", k->procs[i].name,
			        k->procs[i].name, k->procs[i].name);
		}
		fprintf(k->csv, "\n");
	}
}

static enum phase
phase_at(const struct soak *k, double t, bool draining)
{
	if (draining) {
		return PH_DRAIN;
	}
	if (k->steady_at < 0) {
		return PH_PREFILL;
	}
	return t < k->steady_at + (double)k->o.warmup_s ? PH_WARMUP : PH_MEASURE;
}

static int
take_sample(struct soak *k, bool draining)
{
	if (k->nsamples == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		struct sample *s = realloc(k->samples, cap * sizeof(*s));
		if (s == NULL) {
			return -1;
		}
		k->samples = s;
		k->cap = cap;
	}
	if (take(k) != 0 || !procs_alive(k)) {
		return -1;
	}
	int64_t now = bench_now_ns();
	double dt = (double)(now - k->last_sample_ns) / 1e9;
	k->last_sample_ns = now;
	struct sample *s = &k->samples[k->nsamples++];
	memset(s, 0, sizeof(*s));
	s->t_s = (double)(now - k->t0) / 1e9;
	s->phase = phase_at(k, s->t_s, draining);
	struct gwsim_counters gc;
	struct agb_sse_stats ss;
	struct sk_rest_stats rs;
	gwsim_counters(k->gw, &gc);
	agb_sse_phase_stats(k->sse, k->sse_phase, &ss);
	sk_rest_stats(&k->rest, &rs);
	s->sent = k->next_seq;
	s->router_unique = k->router_unique;
	s->sse_delivered = ss.delivered;
	s->downlinks = k->downlinks;
	s->pull_resps = gc.pull_resps;
	for (int i = 0; i < SK_REST_KINDS; i++) {
		s->rest_ok += rs.ok[i];
		s->rest_failed += rs.failed[i];
	}
	/* Between two REST requests: apigw's RSS without a list being written. */
	pthread_mutex_lock(&k->rest.busy);
	for (size_t i = 0; i < k->nprocs; i++) {
		struct proc *p = &k->procs[i];
		double cpu = proc_cpu_s(p->pid);
		s->rss[i] = (double)proc_status_bytes(p->pid, "VmRSS");
		s->fds[i] = proc_fd_count(p->pid);
		s->cpu[i] = dt > 0 ? (cpu - p->cpu_prev_s) / dt * 100 : 0;
		p->cpu_prev_s = cpu;
	}
	pthread_mutex_unlock(&k->rest.busy);

	printf("%6.0f %-7s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6" PRIu64 " %6" PRIu64
	       " %6" PRIu64 " |",
	       s->t_s, PHASE_NAMES[s->phase], s->sent, s->router_unique, s->sse_delivered,
	       s->downlinks, s->pull_resps, s->rest_ok + s->rest_failed);
	for (size_t i = 0; i < k->nprocs; i++) {
		printf(" %7.1f %4ld %5.1f|", s->rss[i] / MB, s->fds[i], s->cpu[i]);
	}
	printf("\n");
	fflush(stdout);
	if (k->csv != NULL) {
		fprintf(k->csv,
		        "%.1f,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		        ",%" PRIu64 ",%" PRIu64,
		        s->t_s, PHASE_NAMES[s->phase], s->sent, s->router_unique, s->sse_delivered,
		        s->downlinks, s->pull_resps, s->rest_ok, s->rest_failed);
		for (size_t i = 0; i < k->nprocs; i++) {
			fprintf(k->csv, ",%.0f,%ld,%.2f", s->rss[i] / 1024, s->fds[i], s->cpu[i]);
		}
		fprintf(k->csv, "\n");
		fflush(k->csv);
	}
	return 0;
}

/* The gateways' background work (acks, PULL_DATA, stat, TX_ACK) for about
 * ms, then a sample if one is due. */
static int
idle(struct soak *k, int64_t ms, bool draining)
{
	k->src.idle(k->src.impl, ms * NS_PER_MS);
	if (k->t0 > 0 && bench_now_ns() - k->last_sample_ns >= k->o.interval_s * NS_PER_S) {
		return take_sample(k, draining);
	}
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int
connect_gateways(struct soak *k)
{
	const struct options *o = &k->o;
	int64_t t0 = bench_now_ns();
	size_t acked = gwsim_connect(k->gw, (int)o->connect_rate, CONNECT_TMO,
	                             o->pull_period_s * 1000, &stop_flag);
	fprintf(stderr, "soak: %zu of %ld gateways connected to the bridge in %.1f s\n", acked,
	        o->gateways, (double)(bench_now_ns() - t0) / 1e9);
	return acked == (size_t)o->gateways ? 0 : -1;
}

/* Waits until every gateway has a key, a stream and a session, keeping
 * the gateways alive meanwhile. */
static int
provision(struct soak *k)
{
	const struct options *o = &k->o;
	int64_t t0 = bench_now_ns(), last_print = t0;
	for (;;) {
		struct rlb_router_stats st;
		if (rlb_router_stats(k->router, &st) != 0 || !procs_alive(k)) {
			return -1;
		}
		int64_t now = bench_now_ns();
		if (st.session_inits_accepted >= (uint64_t)o->gateways &&
		    st.streams_live >= (uint64_t)o->gateways) {
			k->provision_s = (double)(now - t0) / 1e9;
			fprintf(stderr,
			        "soak: %ld gateways have a stream and a session after %.1f s\n",
			        o->gateways, k->provision_s);
			return 0;
		}
		if (stop_flag || now - t0 > o->provision_timeout_s * NS_PER_S) {
			fprintf(stderr,
			        "soak: after %.0f s only %" PRIu64
			        " of %ld gateways have a session\n",
			        (double)(now - t0) / 1e9, st.session_inits_accepted, o->gateways);
			return -1;
		}
		if (now - last_print >= 10 * NS_PER_S) {
			fprintf(stderr, "soak: %" PRIu64 " of %ld gateways provisioned\n",
			        st.session_inits_accepted, o->gateways);
			last_print = now;
		}
		idle(k, 100, false);
	}
}

/* Sends count uplinks at rate per second from seq next_seq on; downlinks
 * too when dl_per_min > 0. */
static int
traffic(struct soak *k, uint64_t count, double rate, long dl_per_min)
{
	int64_t t0 = bench_now_ns();
	uint64_t sent = 0, dl_sent = 0;
	while (sent < count && !stop_flag && !k->died) {
		int64_t el = bench_now_ns() - t0;
		uint64_t due = (uint64_t)((double)el / 1e9 * rate) + 1;
		due = due > count ? count : due;
		if (due > sent) {
			if (send_uplinks(k, due - sent) != 0) {
				fprintf(stderr, "soak: sending uplinks failed\n");
				return -1;
			}
			sent = due;
		}
		uint64_t dl_due = (uint64_t)(el * dl_per_min / (60 * NS_PER_S));
		while (dl_sent < dl_due && !k->died) {
			if (send_downlink(k) != 0) {
				return -1;
			}
			dl_sent++;
		}
		if (idle(k, 1, false) != 0) {
			return -1;
		}
	}
	return stop_flag || k->died ? -1 : 0;
}

static void
drain_counts(struct soak *k, uint64_t *sse_delivered, uint64_t *pull_resps)
{
	struct agb_sse_stats ss;
	struct gwsim_counters gc;
	agb_sse_phase_stats(k->sse, k->sse_phase, &ss);
	gwsim_counters(k->gw, &gc);
	*sse_delivered = ss.delivered;
	*pull_resps = gc.pull_resps;
}

/* Until the router, the SSE client and the gateways have everything, or
 * drain_s has passed. */
static void
drain(struct soak *k)
{
	int64_t deadline = bench_now_ns() + k->o.drain_s * NS_PER_S, last_take = 0;
	while (!stop_flag && !k->died && bench_now_ns() < deadline) {
		uint64_t sse = 0, resps = 0;
		drain_counts(k, &sse, &resps);
		if (k->router_unique == k->next_seq && sse >= k->next_seq &&
		    resps >= k->downlinks) {
			break;
		}
		if (bench_now_ns() - last_take > NS_PER_S) {
			take(k);
			last_take = bench_now_ns();
		}
		idle(k, 10, true);
	}
	/* Two more seconds of acks, then the final figures. */
	for (int i = 0; i < 200 && !k->died; i++) {
		k->src.idle(k->src.impl, 10 * NS_PER_MS);
	}
	take_sample(k, true);
}

static int
run(struct soak *k)
{
	const struct options *o = &k->o;
	double rate = (double)o->gateways / (double)o->uplink_period_s;
	uint64_t prefill = (uint64_t)o->prefill * (uint64_t)o->gateways;
	uint64_t steady = (uint64_t)((double)o->duration_s * rate);
	k->total = prefill + steady;
	k->seen = calloc(k->total, 1);
	k->lat = calloc(1, sizeof(*k->lat));
	if (k->seen == NULL || k->lat == NULL) {
		return -1;
	}
	if (connect_gateways(k) != 0 || provision(k) != 0) {
		return -1;
	}
	k->sse = agb_sse_new("127.0.0.1", (int)o->http_port, 1, (size_t)o->gateways, SK_EUI_BASE);
	if (k->sse == NULL || agb_sse_start(k->sse, 10000) != 0 ||
	    (k->sse_phase = agb_sse_phase_add(k->sse, 0, k->total)) < 0) {
		fprintf(stderr, "soak: the SSE client did not start\n");
		return -1;
	}
	print_row_header(k);
	k->t0 = k->last_sample_ns = bench_now_ns();
	k->steady_at = -1;
	for (size_t i = 0; i < k->nprocs; i++) {
		k->procs[i].cpu_prev_s = proc_cpu_s(k->procs[i].pid);
	}
	if (take_sample(k, false) != 0 || traffic(k, prefill, (double)o->prefill_rate, 0) != 0) {
		return -1;
	}
	k->prefill_s = (double)(bench_now_ns() - k->t0) / 1e9;
	k->steady_at = k->prefill_s;
	if (sk_rest_start(&k->rest) != 0 || traffic(k, steady, rate, o->downlinks_per_min) != 0) {
		return -1;
	}
	sk_rest_stop(&k->rest);
	drain(k);
	return stop_flag || k->died ? -1 : 0;
}

/* ---- the report --------------------------------------------------------- */

/* The measured window's samples of proc i, into t/rss/fds/cpu; their count. */
static size_t
window(const struct soak *k, size_t i, double *t, double *rss, long *fds, double *cpu)
{
	size_t n = 0;
	for (size_t s = 0; s < k->nsamples; s++) {
		const struct sample *x = &k->samples[s];
		if (x->phase == PH_MEASURE) {
			t[n] = x->t_s;
			rss[n] = x->rss[i];
			fds[n] = x->fds[i];
			cpu[n] = x->cpu[i];
			n++;
		}
	}
	return n;
}

static bool
report_flatness(const struct soak *k)
{
	const struct sk_bounds *b = &k->o.bounds;
	size_t n = k->nsamples;
	double *t = calloc(n + 1, sizeof(*t)), *rss = calloc(n + 1, sizeof(*rss));
	double *cpu = calloc(n + 1, sizeof(*cpu));
	long *fds = calloc(n + 1, sizeof(*fds));
	bool allocated = t != NULL && rss != NULL && cpu != NULL && fds != NULL;
	bool all_ok = allocated;
	size_t m = 0;
	for (size_t i = 0; allocated && i < k->nprocs; i++) {
		const struct proc *p = &k->procs[i];
		m = window(k, i, t, rss, fds, cpu);
		struct sk_flat f;
		if (sk_flat_judge(t, rss, fds, cpu, m, b, &f) != 0) {
			printf("%-10s only %zu samples in the measured window: cannot judge\n",
			       p->name, m);
			all_ok = all_ok && !p->judged;
			continue;
		}
		bool ok = f.rss_ok && f.fd_ok && f.cpu_ok;
		const char *verdict = !p->judged
		                              ? (ok ? "flat (reference)" : "NOT FLAT (reference)")
		                      : ok ? "FLAT"
		                           : "NOT FLAT";
		printf("%-10s %7.1f %7.1f %+7.2f %s %+8.2f %s  %5ld..%-5ld %s  %6.1f %6.1f %s  "
		       "%s\n",
		       p->name, f.rss_first_mb, f.rss_last_mb, f.rss_growth_mb,
		       f.rss_growth_mb <= f.rss_growth_allowed_mb ? " " : "!", f.rss_slope_mb_h,
		       f.rss_slope_mb_h <= b->rss_slope_mb_h ? " " : "!", f.fd_min, f.fd_max,
		       f.fd_ok ? " " : "!", f.cpu_first, f.cpu_last, f.cpu_ok ? " " : "!", verdict);
		if (p->judged && !ok) {
			all_ok = false;
		}
	}
	if (m > 0) {
		printf("(%zu samples of %ld s, t = %.0f..%.0f s; '!' marks a bound exceeded)\n", m,
		       k->o.interval_s, t[0], t[m - 1]);
	}
	free(t);
	free(rss);
	free(cpu);
	free(fds);
	return all_ok;
}

static bool
check(bool ok, const char *what)
{
	printf("  %-4s %s\n", ok ? "ok" : "FAIL", what);
	return ok;
}

static bool
report_delivery(struct soak *k)
{
	struct gwsim_counters gc;
	struct agb_sse_stats ss;
	struct agb_sse_totals st;
	struct sk_rest_stats rs;
	struct rlb_router_stats router;
	gwsim_counters(k->gw, &gc);
	agb_sse_phase_stats(k->sse, k->sse_phase, &ss);
	agb_sse_totals(k->sse, &st);
	sk_rest_stats(&k->rest, &rs);
	bool have_router = rlb_router_stats(k->router, &router) == 0;
	uint64_t sent = k->next_seq, rest_ok = 0, rest_failed = 0;
	for (int i = 0; i < SK_REST_KINDS; i++) {
		rest_ok += rs.ok[i];
		rest_failed += rs.failed[i];
	}
	char line[512];
	bool ok = true;
	printf("\ndelivery (exact counts):\n");
	snprintf(line, sizeof(line),
	         "uplinks: %" PRIu64 " sent (%" PRIu64 " prefill + %" PRIu64 " steady), %" PRIu64
	         " reached the router, %" PRIu64 " lost, %" PRIu64 " duplicates, %" PRIu64
	         " unknown; gateway -> router p50 %.1f ms, p99 %.1f ms, max %.0f ms",
	         sent, (uint64_t)k->o.prefill * (uint64_t)k->o.gateways,
	         sent - (uint64_t)k->o.prefill * (uint64_t)k->o.gateways, k->router_unique,
	         sent - k->router_unique, k->router_dups, k->router_stray,
	         (double)hist_quantile(k->lat, 0.5) / 1e6,
	         (double)hist_quantile(k->lat, 0.99) / 1e6, (double)k->lat->max_ns / 1e6);
	ok &= check(sent == k->total && k->router_unique == sent && k->router_stray == 0, line);
	snprintf(line, sizeof(line),
	         "SSE: %" PRIu64 " uplink events of %" PRIu64 ", %" PRIu64 " missed, %" PRIu64
	         " out of order, %" PRIu64 " overflows, %" PRIu64 " id gaps, %" PRIu64
	         " wrong mac; p99 %.1f ms; %" PRIu64 " other events, stream closed %" PRIu64 "x",
	         ss.delivered, sent, ss.missed, ss.backwards, ss.overflows, ss.id_gaps,
	         ss.wrong_mac, (double)ss.p99_ns / 1e6, st.other_events, st.closed);
	ok &= check(ss.delivered == sent && ss.missed == 0 && ss.backwards == 0 &&
	                    ss.overflows == 0 && ss.id_gaps == 0 && ss.wrong_mac == 0 &&
	                    st.closed == 0 && st.protocol_errors == 0,
	            line);
	snprintf(line, sizeof(line),
	         "bridge acks: %" PRIu64 " PUSH_ACK for %" PRIu64 " PUSH_DATA (%" PRIu64
	         " uplinks + %" PRIu64 " stat), %" PRIu64 " PULL_ACK for %" PRIu64
	         " PULL_DATA, %" PRIu64 " send errors, %" PRIu64 " unexpected datagrams",
	         gc.push_acks, gc.push_sent + gc.stat_sent, gc.push_sent, gc.stat_sent,
	         gc.pull_acks, gc.pull_sent, gc.send_errors, gc.other_rx);
	ok &= check(gc.push_acks == gc.push_sent + gc.stat_sent && gc.pull_acks == gc.pull_sent &&
	                    gc.send_errors == 0 && gc.other_rx == 0,
	            line);
	snprintf(line, sizeof(line),
	         "downlinks: %" PRIu64 " sent by the router, %" PRIu64
	         " reached their gateway (PULL_RESP), %" PRIu64 " TX_ACKed; %" PRIu64
	         " not sent (no live stream)",
	         k->downlinks, gc.pull_resps, gc.tx_acks, k->dl_refused);
	ok &= check(gc.pull_resps == k->downlinks && gc.tx_acks == gc.pull_resps, line);
	int len = snprintf(line, sizeof(line), "REST: %" PRIu64 " answered right, %" PRIu64 " not;",
	                   rest_ok, rest_failed);
	for (int i = 0; i < SK_REST_KINDS && len > 0 && (size_t)len < sizeof(line); i++) {
		len += snprintf(line + len, sizeof(line) - (size_t)len,
		                " %s %" PRIu64 " (max %.0f ms)%s",
		                sk_rest_kind_name((enum sk_rest_kind)i), rs.ok[i], rs.max_ms[i],
		                i + 1 < SK_REST_KINDS ? "," : "");
	}
	ok &= check(rest_failed == 0 && (rest_ok > 0 || k->o.rest_per_min == 0), line);
	if (have_router) {
		snprintf(line, sizeof(line),
		         "fake router: %" PRIu64 " streams live, %" PRIu64 " packets, %" PRIu64
		         " verify failures, %" PRIu64 " protocol errors",
		         router.streams_live, router.packets, router.verify_failures,
		         router.protocol_errors);
		ok &= check(router.streams_live == (uint64_t)k->o.gateways &&
		                    router.verify_failures == 0 && router.protocol_errors == 0,
		            line);
	}
	return ok && have_router;
}

static bool
report(struct soak *k)
{
	const struct options *o = &k->o;
	const struct sk_bounds *b = &o->bounds;
	printf("\nsoak: %ld gateways (one UDP socket each): PULL_DATA every %ld s, stat every %ld "
	       "s, "
	       "an uplink every %ld s each (%.0f/s), %ld downlinks/min, %ld REST requests/min, "
	       "1 SSE client\n",
	       o->gateways, o->pull_period_s, o->stat_period_s, o->uplink_period_s,
	       (double)o->gateways / (double)o->uplink_period_s, o->downlinks_per_min,
	       o->rest_per_min);
	printf("provisioning %.1f s; prefill %ld uplinks per gateway in %.1f s; steady run %ld s "
	       "(warm-up %ld s, then measured)\n",
	       k->provision_s, o->prefill, k->prefill_s, o->duration_s, o->warmup_s);
	printf("\nflatness over the measured window:\n");
	printf("%-10s %7s %7s %8s %9s   %12s   %6s %6s   %s\n", "", "RSS MB", "", "growth", "slope",
	       "fds", "CPU %", "", "verdict");
	printf("%-10s %7s %7s %8s %9s   %12s   %6s %6s\n", "", "first q", "last q", "MB", "MB/h",
	       "min..max", "first", "last");
	bool flat = report_flatness(k);
	printf("bounds: RSS slope <= %.2f MB/h and last-quarter mean <= first-quarter mean + "
	       "max(%.1f %%, %.1f MB); fds max - min <= %ld; CPU quarter medians within "
	       "max(%.0f %%, %.1f points)\n",
	       b->rss_slope_mb_h, b->rss_growth_pct, b->rss_growth_mb, b->fd_band,
	       b->cpu_change_pct, b->cpu_change_pts);
	bool delivered = report_delivery(k);
	printf("\nverdict: %s\n", flat && delivered ? "PASS (flat, nothing lost)"
	                          : flat            ? "FAIL (something was lost)"
	                          : delivered       ? "FAIL (not flat)"
	                                            : "FAIL (not flat, something was lost)");
	return flat && delivered;
}

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

static int
parse_args(struct options *o, int argc, char **argv)
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

static int
parse_addr(const char *text, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) {
		return -1;
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	long port = strtol(colon + 1, NULL, 10);
	*out = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	return port > 0 && port < 65536 && inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int
setup(struct soak *k)
{
	const struct options *o = &k->o;
	struct sockaddr_in bridge;
	if (parse_addr(o->bridge, &bridge) != 0) {
		fprintf(stderr, "soak: --bridge wants IP:PORT, not %s\n", o->bridge);
		return -1;
	}
	if (add_proc(k, "bridge", o->bridge_pid, true) != 0 ||
	    add_proc(k, "routerlink", o->routerlink_pid, true) != 0 ||
	    add_proc(k, "apigw", o->apigw_pid, true) != 0 ||
	    add_proc(k, "broker", o->broker_pid, false) != 0 ||
	    add_proc(k, "router", o->router_pid, false) != 0 ||
	    add_proc(k, "soak", getpid(), false) != 0) {
		return -1;
	}
	/* One socket per gateway, as in the field: a PULL_RESP then says which
	 * gateway it is for, and the gateway answers with a TX_ACK. */
	k->gw = gwsim_new(&bridge, (size_t)o->gateways, (size_t)o->gateways);
	k->router = rlb_router_open(o->control);
	if (k->gw == NULL || k->router == NULL) {
		fprintf(stderr, "soak: cannot open %ld gateway sockets or the router's control\n",
		        o->gateways);
		return -1;
	}
	gwsim_set_eui_base(k->gw, SK_EUI_BASE);
	gwsim_set_rxpk(k->gw, soak_rxpk, k);
	gwsim_set_stat_interval(k->gw, o->stat_period_s * 1000);
	gwsim_source(k->gw, &k->src);
	k->rest = (struct sk_rest){.port = (int)o->http_port,
	                           .gateways = (size_t)o->gateways,
	                           .per_min = o->rest_per_min};
	snprintf(k->rest.api_key, sizeof(k->rest.api_key), "%s",
	         o->api_key != NULL ? o->api_key : "");
	sk_rest_init(&k->rest);
	if (o->csv != NULL && (k->csv = fopen(o->csv, "w")) == NULL) {
		fprintf(stderr, "soak: %s: %s\n", o->csv, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct soak *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		return 1;
	}
	k->o = (struct options){
	        .gateways = 10000,
	        .duration_s = 1800,
	        .warmup_s = -1,
	        .interval_s = 10,
	        .uplink_period_s = 20,
	        .pull_period_s = 10,
	        .stat_period_s = 30,
	        .downlinks_per_min = 120,
	        .rest_per_min = 180,
	        .prefill = 50,
	        .prefill_rate = 2000,
	        .connect_rate = 2000,
	        .provision_timeout_s = 1800,
	        .drain_s = 60,
	        .bounds = {.rss_slope_mb_h = 2,
	                   .rss_growth_pct = 2,
	                   .rss_growth_mb = 1,
	                   .fd_band = 2,
	                   .cpu_change_pct = 25,
	                   .cpu_change_pts = 2},
	};
	if (parse_args(&k->o, argc, argv) != 0) {
		free(k);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = setup(k) == 0 && run(k) == 0 ? 0 : 1;
	sk_rest_stop(&k->rest);
	if (rc == 0) {
		rc = report(k) ? 0 : 2;
	} else if (stop_flag) {
		fprintf(stderr, "soak: interrupted\n");
		rc = 130;
	} else {
		fprintf(stderr, "soak: the run failed\n");
	}
	agb_sse_free(k->sse);
	rlb_router_close(k->router);
	gwsim_free(k->gw);
	if (k->csv != NULL) {
		fclose(k->csv);
	}
	free(k->samples);
	free(k->seen);
	free(k->lat);
	free(k);
	return rc;
}
