/*
 * What apigw knows, fed only by broker messages: the fleet, the SSE ring,
 * and the other daemons' metrics snapshots. model_handle() turns one
 * message into model changes and SSE events. Pure (no I/O); owned by the
 * lws thread.
 *
 * SSE events (event name = data.type):
 *   gateway_online / gateway_offline   the bridge's state changed
 *   gateway_connect / gateway_disconnect / hotspot
 *                                      the router link changed (to
 *                                      connected / from connected / other)
 *   uplink, downlink                   one frame's metadata
 *   ack                                a downlink's outcome
 */
#ifndef APIGW_MODEL_H
#define APIGW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "lf/log.h"
#include "lf/metrics.h"
#include "prom.h"
#include "sse.h"

struct apigw_model {
	char prefix[128];
	struct fleet fleet;
	struct sse_ring ring;
	struct prom_store prom;
	struct lf_metrics *metrics;
	struct lf_metric *m_events, *m_messages;
	struct lf_ratelimit rl_bad;
};

int model_init(struct apigw_model *m, const char *prefix, size_t ring_cap, uint64_t first_id,
               struct lf_metrics *metrics);
void model_free(struct apigw_model *m);

/*
 * One broker message. retained: delivered from the broker's retained
 * store on subscribing (the picture apigw rebuilds on start), which
 * updates the model without events. now_ms: wall clock.
 */
void model_handle(struct apigw_model *m, const char *topic, const void *payload, size_t len,
                  bool retained, int64_t now_ms);

/* Pushes one event; data is a cJSON object (consumed) whose "type" is type. */
void model_event(struct apigw_model *m, const char *type, cJSON *data, bool has_eui, uint64_t eui);

/* The LoRaWAN frame type name of a PHYPayload's MHDR, as multi-gateway. */
const char *model_frame_type(const char *data_b64);

#endif
