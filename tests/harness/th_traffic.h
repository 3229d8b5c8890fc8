/*
 * Steady traffic from many fake gateways, for the fault-injection tests.
 *
 * A thread of its own sends the uplinks (PUSH_DATA at a steady total rate,
 * round robin over the gateways that send) and each gateway's PULL_DATA
 * keepalive, and counts the acks, while the test's thread watches MQTT, the
 * router and apigw. Every uplink says who sent it and when, in its rxpk
 * ("gw": the gateway's index, "seq": its sequence number from 0, "n": its
 * place among every uplink sent), and in its tmst (th_traffic_tmst), which
 * routerlink hands to the router as the packet's timestamp, so that a
 * receiver can tell exactly what arrived, what twice and what not at all.
 *
 * A tally (struct th_tally) counts what a receiver got, per gateway and
 * sequence number.
 *
 * Besides the steady rate, the traffic can be run in whole rounds (every
 * sending gateway as many uplinks: th_traffic_end_round, th_traffic_rounds),
 * which th_fleet.h builds on.
 */
#ifndef TH_TRAFFIC_H
#define TH_TRAFFIC_H

#include "harness.h"
#include "th_router.h"

#include <pthread.h>

struct th_traffic_up {
	uint64_t n;      /* its place among every uplink sent */
	int64_t sent_ms; /* wall clock just before its PUSH_DATA */
};

struct th_traffic_gw {
	struct th_gateway gw;
	bool sending;        /* in the uplinks' round robin */
	bool pulling;        /* sends its PULL_DATA keepalive */
	uint32_t sent;       /* uplinks sent: seq 0..sent-1 */
	uint32_t push_acked; /* PUSH_ACKs received */
	uint32_t pulls, pull_acked;
	uint32_t other;            /* any other datagram received (none expected) */
	struct th_traffic_up *ups; /* ups[seq] */
	uint32_t ups_cap;
	int64_t next_pull_ms;
};

struct th_traffic {
	/* Read-only once started. */
	uint16_t bridge_port;
	int pull_interval_ms;
	bool exact_rate; /* rates as given, not divided by $LF_TEST_TIMEOUT_SCALE */
	/* Everything below is the thread's: read it through the functions. */
	pthread_t thread;
	pthread_mutex_t lock;
	bool started, stop, paused;
	double rate;     /* uplinks per second over all sending gateways */
	double due;      /* uplinks owed to the rate, not sent yet */
	int64_t last_ms; /* when `due` was last brought up to date */
	uint64_t rr;     /* round-robin cursor: a round is n turns */
	bool hold_set;   /* the uplinks hold once rr reaches hold_at */
	uint64_t hold_at;
	bool ack_paced;  /* each uplink once the previous ones are acked */
	uint64_t n_sent; /* uplinks sent in all */
	uint64_t n_push_acked;
	uint32_t send_errors;
	int n, cap;
	struct th_traffic_gw *gws;
};

/* tmst of uplink seq of gateway index gw: unique below 4,000 gateways of
 * 1,000,000 uplinks each. */
uint32_t th_traffic_tmst(int gw, uint32_t seq);

/* Room for `cap` gateways towards the bridge at 127.0.0.1:bridge_port. */
int th_traffic_init(struct th_traffic *t, uint16_t bridge_port, int cap, int pull_interval_ms);
/*
 * Opens gateway `mac` from src_ip (NULL: 127.0.0.1) and brings it online:
 * a PULL_DATA and its PULL_ACK, from the calling thread, then the traffic
 * thread keeps it alive (pulling) and, when `sending`, gives it uplinks.
 * May be called while the traffic runs. Returns its index or -1.
 */
int th_traffic_add(struct th_traffic *t, const char *mac, const char *src_ip, bool sending);
/* Starts the thread: `rate` uplinks per second in all (divided by
 * $LF_TEST_TIMEOUT_SCALE, for a slow wrapper such as valgrind). */
int th_traffic_start(struct th_traffic *t, double rate);
/* Changes the rate (0 holds the uplinks; keepalives go on). Returns once
 * the thread has seen it: nothing at the old rate leaves afterwards. */
void th_traffic_set_rate(struct th_traffic *t, double rate);
/*
 * Rounds, for a fixed set of gateways: a round is one turn of the round
 * robin over every gateway, one uplink from each that sends.
 * th_traffic_end_round: the uplinks go on at the rate until the round
 * under way is complete, then hold (rate 0). th_traffic_rounds: k more
 * rounds (after the one under way, if any), spread evenly over spread_ms,
 * or with spread_ms 0 each uplink as soon as every earlier one has its
 * PUSH_ACK; then they hold. Both return once the uplinks hold: 0, or -1
 * (on stderr) when that did not happen in time.
 */
int th_traffic_end_round(struct th_traffic *t);
int th_traffic_rounds(struct th_traffic *t, int k, int spread_ms);
/* Turns a gateway's uplinks and keepalives on or off. */
void th_traffic_set_gw(struct th_traffic *t, int i, bool sending, bool pulling);
/* Stops and joins the thread (idempotent); the sockets stay open. */
void th_traffic_stop(struct th_traffic *t);
/* Stops, closes every gateway and frees. */
void th_traffic_free(struct th_traffic *t);

/* Consistent copies of the counters (locked). */
struct th_traffic_gw_stats {
	uint32_t sent, push_acked, pulls, pull_acked, other;
};
void th_traffic_gw_stats(struct th_traffic *t, int i, struct th_traffic_gw_stats *out);
uint64_t th_traffic_total_sent(struct th_traffic *t);
uint32_t th_traffic_send_errors(struct th_traffic *t);
/* The place among all uplinks of gateway i's uplink seq (it must be sent). */
uint64_t th_traffic_n_of(struct th_traffic *t, int i, uint32_t seq);
/* The wall clock just before gateway i's uplink seq left; -1 if not sent. */
int64_t th_traffic_sent_ms(struct th_traffic *t, int i, uint32_t seq);
/*
 * Waits until every uplink and PULL_DATA sent so far has its ack (the
 * bridge has them all): 0, or -1 with the first gateway short of acks on
 * stderr. Any other datagram received by a traffic gateway fails it too.
 */
int th_traffic_wait_acked(struct th_traffic *t, int timeout_ms);

/* Waits until no ack has arrived for quiet_ms (when some datagrams may
 * have been lost, so that waiting for all of them makes no sense). */
void th_traffic_settle(struct th_traffic *t, int quiet_ms);

/* ---------------------------------------------------------------------- */
/* What a receiver got                                                    */

struct th_tally_first {
	int64_t router_ms; /* the router's `t` */
	int64_t hold_ms;   /* the packet's hold_time */
};

struct th_tally_gw {
	uint8_t *count; /* deliveries of each seq */
	uint32_t cap;
	/* Router packets: the first delivery of each seq (first_cap <= cap). */
	struct th_tally_first *first;
	uint32_t first_cap;
	uint32_t unique, dups;
	int64_t max_seq;       /* the highest seq delivered so far, -1 before any */
	uint32_t disorder;     /* first deliveries of a seq below max_seq */
	char key[72];          /* router packets: the first gateway key seen */
	uint32_t key_mismatch; /* router packets under another key */
};

struct th_tally {
	int n;
	struct th_tally_gw *g;
	uint32_t total, foreign; /* foreign: not a traffic uplink, or gw out of range */
	/* The router's events file, read from this offset on. */
	size_t events_off;
};

int th_tally_init(struct th_tally *y, int n_gateways);
void th_tally_free(struct th_tally *y);
/* One delivery of uplink seq of gateway gw. */
void th_tally_add(struct th_tally *y, int gw, uint32_t seq);
/* An MQTT `up` payload: its rxpk's "gw" and "seq". */
void th_tally_up_payload(struct th_tally *y, const char *payload);
/*
 * Reads the router's events file from where the last call stopped and adds
 * every `packet` event (gateway index and seq from its timestamp; one that
 * is not verified counts as foreign). Events of other kinds are skipped.
 * Returns the number of packets read.
 */
int th_tally_router_events(struct th_tally *y, const struct th_router *r);
/* One router `packet` event (from the file or the router's queue). */
void th_tally_router_packet(struct th_tally *y, const cJSON *ev);
/* The router's time and hold_time of the first delivery of seq of gateway
 * gw, when there was one from a router packet. */
bool th_tally_first(const struct th_tally *y, int gw, uint32_t seq, struct th_tally_first *out);
/* Deliveries of seq of gateway gw (0 when never). */
unsigned th_tally_count(const struct th_tally *y, int gw, uint32_t seq);

/*
 * Checks gateway gw's deliveries of seq first..last (inclusive): each
 * exactly once (`exactly_once`) or at least once; misses and, with
 * exactly_once, repeats are printed (up to a few) and counted in the
 * return value: 0 means all is as required.
 */
unsigned th_tally_check_range(const struct th_tally *y, int gw, uint32_t first, uint32_t last,
                              bool exactly_once);
/* Deliveries of seq first..last of gateway gw that arrived at all. */
uint32_t th_tally_delivered(const struct th_tally *y, int gw, uint32_t first, uint32_t last);

#endif
