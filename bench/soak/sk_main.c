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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "lf/util.h"
#include "sk_run.h"

#define NS_PER_MS   1000000LL
#define NS_PER_S    1000000000LL
#define DL_PAYLOAD  "IAECAwQF" /* 6 bytes: MHDR unconfirmed down and a few */
#define DL_FREQ_HZ  923300000u
#define DL_DATR     "SF10BW500"
#define DL_STRIDE   7919 /* a prime: downlinks visit the gateways spread out */
#define CONNECT_TMO 120000

static volatile sig_atomic_t stop_flag;

static const char *const PHASE_NAMES[] = {"prefill", "warmup", "measure", "drain"};

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
	printf(" other\n%58s |", "");
	for (size_t i = 0; i < k->nprocs; i++) {
		printf(" %7s %4s %5s|", "RSS MB", "fds", "CPU%");
	}
	printf(" CPU%%\n");
	if (k->csv != NULL) {
		fprintf(k->csv, "t_s,phase,uplinks_sent,router_unique,sse_delivered,downlinks,"
		                "pull_resps,rest_ok,rest_failed");
		for (size_t i = 0; i < k->nprocs; i++) {
			fprintf(k->csv, ",%s_rss_kb,%s_fds,%s_cpu_pct", k->procs[i].name,
			        k->procs[i].name, k->procs[i].name);
		}
		fprintf(k->csv, ",other_cpu_pct\n");
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
	/* CPU over less than a second is mostly the clock tick's rounding. */
	double dt = (double)(now - k->last_sample_ns) / 1e9;
	dt = dt >= 0.5 ? dt : 0;
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
	/* What the rest of the host did meanwhile: on a shared machine, a
	 * busy neighbour costs the daemons CPU time too (caches, cores). */
	double host = host_cpu_s();
	s->other = dt > 0 ? (host - k->host_prev_s) / dt * 100 : 0;
	k->host_prev_s = host;
	for (size_t i = 0; i < k->nprocs; i++) {
		struct proc *p = &k->procs[i];
		double cpu = proc_cpu_s(p->pid);
		s->rss[i] = (double)proc_status_bytes(p->pid, "VmRSS");
		s->fds[i] = proc_fd_count(p->pid);
		s->cpu[i] = dt > 0 ? (cpu - p->cpu_prev_s) / dt * 100 : 0;
		s->other -= s->cpu[i];
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
	printf(" %5.1f\n", s->other);
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
		fprintf(k->csv, ",%.2f\n", s->other);
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
		k->host_prev_s = host_cpu_s();
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
	if (sk_parse_args(&k->o, argc, argv) != 0) {
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
		rc = sk_report(k) ? 0 : 2;
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
