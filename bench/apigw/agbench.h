/*
 * lorafleet-bench-apigw: the apigw benchmark (bench/README.md).
 *
 * REST: wrk (Debian's) against apigw's routes, with a read key, after the
 * bench has published the retained state and hotspot of N gateways.
 *
 * SSE: M clients on /events, read by one epoll thread; the bench publishes
 * lorawan/<mac>/up messages whose rxpk "tmst" is the run-wide sequence
 * number, which apigw copies into the uplink event's metadata. Each client
 * must see every seq exactly once, in order, with consecutive SSE ids and
 * no overflow record. Latency is the client's receipt time minus the time
 * the bench stamped just before writing the publish (CLOCK_MONOTONIC, one
 * host, one clock).
 */
#ifndef BENCH_AGBENCH_H
#define BENCH_AGBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bench.h"

/* Gateway i has EUI AGB_EUI_BASE + i (the other benches use be0c, be0d);
 * the high 32 bits are the MAC prefix the wrk script is given. */
#define AGB_EUI_BASE   0xbe0e000000000000ULL
#define AGB_MAC_PREFIX "be0e0000"

void agb_mac(size_t gw, char out[17]);

/*
 * The publisher (ag_pub.c): MQTT 3.1.1 over one TCP connection, QoS 1,
 * batched writes, an inflight window, so that the bridges it stands for
 * cost this machine little (see bench/README.md, the routerlink bench).
 */
struct agb_pub;

struct agb_pub *agb_pub_new(const char *host, int port, size_t gateways, int inflight);
void agb_pub_free(struct agb_pub *p);
/* Retained state (bridge) and hotspot (routerlink) of gateways [first, first + n). */
int agb_pub_gateways(struct agb_pub *p, size_t first, size_t n);
/* Uplinks seq first.., of gateway seq % gateways; written before it returns. */
int agb_pub_uplinks(struct agb_pub *p, uint64_t first, size_t n);
/* Publishes the broker has not acknowledged yet. */
uint64_t agb_pub_unacked(struct agb_pub *p);
/* One up message as published, "topic payload", for the report. */
void agb_pub_sample(struct agb_pub *p, char *out, size_t outlen);

/*
 * The SSE clients (ag_sse.c): connected from the calling thread, then read
 * by one epoll thread. Phases are seq ranges declared before they are
 * published; the reader files each event under its phase.
 */
struct agb_sse;

struct agb_sse_stats {
	uint64_t expected;     /* seqs in the phase x clients */
	uint64_t delivered;    /* events received in order */
	uint64_t missed;       /* seqs a client skipped over */
	uint64_t backwards;    /* a seq older than one already received (dup or reorder) */
	uint64_t overflows;    /* `event: overflow` records while the phase ran */
	uint64_t id_gaps;      /* an SSE id that is not the previous + 1 */
	uint64_t wrong_mac;    /* the event's mac is not the seq's gateway */
	uint64_t clients_done; /* clients that got the phase's last seq */
	int64_t last_done_ns;  /* when the last of them got it */
	int64_t p50_ns, p99_ns, p999_ns, max_ns;
};

struct agb_sse_totals {
	uint64_t events, heartbeats, other_events, stray, closed, protocol_errors;
	size_t ready; /* clients that got the 200 and the stream's headers */
	uint64_t bytes;
};

/* The uplink of seq comes from gateway eui_base + seq % gateways. */
struct agb_sse *agb_sse_new(const char *host, int port, size_t clients, size_t gateways,
                            uint64_t eui_base);
/* Connects every client, starts the reader, waits up to timeout_ms for
 * every stream to start; -1 (printed) when not all did. */
int agb_sse_start(struct agb_sse *s, int64_t timeout_ms);
void agb_sse_free(struct agb_sse *s);
/* Declares seqs [first, first + n); the phase id, or -1. */
int agb_sse_phase_add(struct agb_sse *s, uint64_t first, uint64_t n);
/* Seqs [first, first + n) of phase are being published now. */
void agb_sse_stamp(struct agb_sse *s, int phase, uint64_t first, size_t n);
void agb_sse_phase_stats(struct agb_sse *s, int phase, struct agb_sse_stats *out);
void agb_sse_totals(struct agb_sse *s, struct agb_sse_totals *out);

/*
 * wrk (ag_wrk.c): one run, its figures, and the CPU its process used.
 */
struct agb_wrk_result {
	double req_per_s, bytes_per_s;
	double p50_ms, p90_ms, p99_ms, max_ms;
	uint64_t requests, non2xx, socket_errors, timeouts;
	double cpu_s; /* wrk's user + system time */
};

/* Runs argv (argv[0] is the program) and parses its --latency output;
 * -1 (printed, with wrk's output) when it failed or printed no figures. */
int agb_wrk_run(char *const argv[], struct agb_wrk_result *out);

/*
 * A blocking HTTP/1.1 GET on 127.0.0.1:port (ag_wrk.c): the status, the
 * body in *body (malloc'd, NUL-terminated); -1 on a transport error.
 */
int agb_http_get(int port, const char *path, const char *api_key, char **body, int timeout_ms);

#endif
