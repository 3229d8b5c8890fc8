/*
 * A load generator's MQTT publisher, shared by the routerlink and apigw
 * benchmarks: it stands for the bridges and routerlinks of a fleet, which
 * run elsewhere, so it must cost the machine as little as possible. It
 * speaks MQTT 3.1.1 itself over one TCP connection (CONNECT, then QoS 1
 * PUBLISH), writes each batch of messages with one write() and counts
 * the PUBACKs as they come, within an inflight window. A libmosquitto
 * client costs ~19 µs of CPU per message here (a write and a wake-up of
 * its network thread each); this costs a few.
 */
#ifndef BENCH_MQTTPUB_H
#define BENCH_MQTTPUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqttpub;

/* Connects (clean session, no keepalive: a bench may be silent for
 * minutes) and waits for the CONNACK; NULL with the reason printed. */
struct mqttpub *mqttpub_connect(const char *host, int port, int inflight, const char *name);
void mqttpub_free(struct mqttpub *m);
/* Adds one QoS 1 PUBLISH to the batch, waiting for PUBACKs while the
 * inflight window is full. 0 or -1 (connection lost, printed). */
int mqttpub_add(struct mqttpub *m, const char *topic, const char *payload, size_t len, bool retain);
/* Writes the batch. 0 or -1. */
int mqttpub_flush(struct mqttpub *m);
/* Publishes the broker has not acknowledged yet. */
uint64_t mqttpub_unacked(struct mqttpub *m);

#endif
