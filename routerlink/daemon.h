/* The routerlink daemon: MQTT on one side, packet-router streams on the
 * other, one owner thread. */
#ifndef ROUTERLINK_DAEMON_H
#define ROUTERLINK_DAEMON_H

#include "routerlink.h"

struct routerlink;

/* Prepares the keys directory, starts gRPC and MQTT, and opens a stream
 * for every key already on disk. NULL on failure (logged). */
struct routerlink *routerlink_new(const struct routerlink_settings *settings);
/* Runs until SIGINT/SIGTERM; returns the exit status. */
int routerlink_run(struct routerlink *rl);
void routerlink_free(struct routerlink *rl);

#endif
