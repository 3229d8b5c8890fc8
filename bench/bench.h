/*
 * lorafleet-bench: the bridge benchmark (see bench/README.md).
 *
 * Every uplink carries, inside its rxpk, "bench_ts" (CLOCK_MONOTONIC ns at
 * send time) and "seq" (a run-wide sequence number). The bridge passes rxpk
 * verbatim, so the subscriber reads both back: latency is receive time
 * minus bench_ts (same host, the clock is system-wide), and seq tells which
 * measurement phase a message belongs to, whether it was seen before, and
 * whether it overtook a newer one of the same gateway (gateway = seq % N,
 * so each gateway's seqs increase).
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <netinet/in.h>

/* Simulated gateway i has EUI BENCH_EUI_BASE + i. */
#define BENCH_EUI_BASE 0xbe0c000000000000ULL
/* A PULL_ACK carries only the token, so tokens identify gateways. */
#define BENCH_MAX_GATEWAYS 65536
#define BENCH_TOPIC_FMT    "lorawan/%s/up"
#define BENCH_SUB_TOPIC    "lorawan/+/up"
#define BENCH_MAX_PAYLOAD  1024

static inline void
bench_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
	nanosleep(&ts, NULL);
}

static inline int64_t
bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "be0c00000000002a" for gateway 42. */
void bench_mac(size_t gw, char out[17]);

/*
 * Latency histogram, log-linear: exact below 1024 ns, then 512 buckets per
 * power of two (under 0.2 % error), up to 2^40 ns.
 */
#define HIST_SUB_BITS 9
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_MAX_BITS 40
#define HIST_BUCKETS  ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	int64_t max_ns;
	uint32_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *h, int64_t ns);
/* The value below which a fraction q of the samples lie; 0 when empty. */
int64_t hist_quantile(const struct hist *h, double q);

/*
 * The subscriber: a libmosquitto client on its own thread, subscribed to
 * lorawan/+/up at QoS 1. The driver declares phases (seq ranges) before
 * sending them and reads their counters while they drain.
 */
struct sub;

struct phase_stats {
	uint64_t expected;    /* messages in the seq range */
	uint64_t unique;      /* distinct seqs received */
	uint64_t dups;        /* seqs received again (QoS 1 is at-least-once) */
	uint64_t reordered;   /* older than an already received seq of the gateway */
	uint64_t wrong_topic; /* mac in the topic or payload not seq's gateway */
	int64_t last_rx_ns;
	int64_t p50_ns, p99_ns, p999_ns, max_ns;
};

struct sub *sub_new(const char *host, int port, size_t gateways);
/* Connects, subscribes and waits for the SUBACK; -1 on failure (printed). */
int sub_start(struct sub *s);
void sub_free(struct sub *s);
/* Declares seqs [first, first + n); returns the phase id or -1. */
int sub_phase_add(struct sub *s, uint64_t first, uint64_t n);
uint64_t sub_phase_unique(struct sub *s, int phase);
void sub_phase_stats(struct sub *s, int phase, struct phase_stats *out);
/* Every message received, for waiting until traffic has stopped. */
uint64_t sub_total(struct sub *s);
/* Messages that could not be read or matched no phase; disconnections. */
void sub_errors(struct sub *s, uint64_t *unparsed, uint64_t *stray, uint64_t *disconnects);
/* The latest message received (topic and payload), for the ceiling's template. */
size_t sub_sample(struct sub *s, char *topic, size_t topiclen, char *payload, size_t len);

/*
 * A source of uplinks: the simulated gateways (through the bridge) or the
 * plain publisher. send() emits n messages with seqs first.., stamped now;
 * idle() does the background work (acks, keepalives) for up to timeout_ns.
 */
struct source {
	const char *name;
	void *impl;
	int (*send)(void *impl, uint64_t first, size_t n);
	void (*idle)(void *impl, int64_t timeout_ns);
};

/* The simulated gateways: a pool of UDP sockets shared by N EUIs. */
struct gwsim;

struct gwsim_counters {
	uint64_t push_sent, pull_sent, stat_sent;
	uint64_t push_acks, pull_acks, other_rx;
	uint64_t pull_resps, tx_acks; /* downlinks received, and answered */
	uint64_t send_errors;
	size_t gateways_acked; /* gateways with at least one PULL_ACK */
};

struct gwsim *gwsim_new(const struct sockaddr_in *bridge, size_t gateways, size_t sockets);
void gwsim_free(struct gwsim *g);
/*
 * Options for the soak (bench/soak), set before gwsim_connect(). The EUI
 * of gateway 0 (default BENCH_EUI_BASE). The rxpk object of seq's uplink
 * from gateway gw (default bench_rxpk()): its length, or -1. A stat
 * PUSH_DATA from every gateway every interval_ms, spread out like the
 * PULL_DATAs (default none). With one socket per gateway, a PULL_RESP
 * names its gateway and is answered with a TX_ACK (error NONE), as a
 * forwarder does; with shared sockets it is only counted.
 */
typedef int (*gwsim_rxpk_fn)(void *arg, char *out, size_t outlen, size_t gw, uint64_t seq);
void gwsim_set_eui_base(struct gwsim *g, uint64_t eui_base);
void gwsim_set_rxpk(struct gwsim *g, gwsim_rxpk_fn fn, void *arg);
void gwsim_set_stat_interval(struct gwsim *g, int64_t interval_ms);
/*
 * Sends one PULL_DATA per gateway at `rate` per second, resends to those
 * not yet acknowledged, and waits up to timeout_ms for every PULL_ACK.
 * Then keeps sending PULL_DATA every pull_interval_ms per gateway from
 * idle(). Returns the number of gateways acknowledged.
 */
size_t gwsim_connect(struct gwsim *g, int rate, int64_t timeout_ms, int64_t pull_interval_ms,
                     volatile const sig_atomic_t *stop);
void gwsim_counters(const struct gwsim *g, struct gwsim_counters *out);
void gwsim_source(struct gwsim *g, struct source *out);

/*
 * The ceiling: a plain libmosquitto publisher (network thread, QoS 1, the
 * bridge's inflight window and TCP_NODELAY) of messages shaped like a
 * sample the bridge published: same topic shape, fields and size.
 */
struct ceiling;

struct ceiling *ceiling_new(const char *host, int port, size_t gateways, int inflight,
                            const char *sample_payload);
void ceiling_free(struct ceiling *c);
/* The size of the message for seq, as published. */
size_t ceiling_message_size(struct ceiling *c, uint64_t seq);
uint64_t ceiling_errors(const struct ceiling *c);
void ceiling_source(struct ceiling *c, struct source *out);

/*
 * The rate sweep all benchmarks share: steps of plan->step from
 * plan->start while they pass, then up to plan->bisect bisection steps
 * (rates rounded to 100) between the highest pass (at least lo, which
 * passed before) and the lowest failure, while they are more than
 * plan->resolution apart. step() runs one step at rate: 1 pass, 0 fail,
 * -1 stop. Returns the highest rate that passed (0: none) and the lowest
 * that failed in *first_fail (0: none).
 */
struct sweep_plan {
	long start, step, max, bisect, resolution;
};

long bench_sweep(const struct sweep_plan *plan, long lo, int (*step)(void *arg, long rate),
                 void *arg, long *first_fail);

/*
 * Numeric options of the routerlink and apigw benchmarks: `--name value`,
 * a long within [min, max].
 */
struct bench_numopt {
	const char *name;
	long *value;
	long min, max;
	const char *help;
};

/* 1 when name is one of opts (value stored), 0 when it is not, -1 when
 * the value is bad (printed with prog). */
int bench_numopt_set(const struct bench_numopt *opts, size_t n, const char *prog, const char *name,
                     const char *value);
/* One line per option, with its current value. */
void bench_numopt_usage(FILE *out, const struct bench_numopt *opts, size_t n);

/* /proc readings; 0 when unreadable. */
double proc_cpu_s(int pid);                           /* utime + stime of a process, seconds */
double thread_cpu_s(int pid);                         /* the same for its main thread (tid = pid) */
double host_cpu_s(void);                              /* busy time of the whole host, seconds */
uint64_t proc_status_bytes(int pid, const char *key); /* "VmRSS" etc., bytes */
long proc_fd_count(int pid);                          /* entries of /proc/<pid>/fd; -1 unreadable */
uint64_t net_counter(const char *file, const char *prefix, const char *name);

/* The rxpk every simulated uplink carries, with its two bench fields. */
int bench_rxpk(char *out, size_t outlen, uint32_t tmst, int64_t ts_ns, uint64_t seq);

#endif
