/*
 * Prometheus text exposition (format 0.0.4) of every daemon's retained
 * metrics snapshot (lorafleet/<service>/<instance>/metrics, the JSON of
 * lf_metrics_snapshot_json()), apigw's own registry, and per-gateway
 * series from the fleet model. Pure.
 *
 * A family is named lorafleet_<service>_<name> and written once, with one
 * HELP and one TYPE line, however many instances publish it; each series
 * carries instance="<instance>" and its own labels. Snapshots are input
 * from the broker: names that are not Prometheus names, labels that clash
 * and repeated series are skipped and counted, never passed on.
 */
#ifndef APIGW_PROM_H
#define APIGW_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "buf.h"
#include "fleet.h"

struct prom_source {
	char service[32];
	char instance[64];
	cJSON *snapshot;  /* NULL until a snapshot arrived */
	bool state_known; /* lorafleet/<service>/<instance>/state seen */
	bool online;
};

struct prom_store {
	struct prom_source *sources; /* sorted by service, instance */
	size_t n, cap;
};

void prom_store_init(struct prom_store *s);
void prom_store_free(struct prom_store *s);

/* service and instance are topic levels; -1 when they cannot be names. */
int prom_store_snapshot(struct prom_store *s, const char *service, const char *instance,
                        const char *payload, size_t len, char *err, size_t errlen);
int prom_store_state(struct prom_store *s, const char *service, const char *instance,
                     const char *payload, size_t len, char *err, size_t errlen);

struct prom_stats {
	uint64_t skipped; /* families or series left out as invalid */
};

/*
 * Writes everything: the stored snapshots except (self_service,
 * self_instance)'s, which is `self` (apigw's live registry snapshot) instead,
 * then lorafleet_service_up, then the per-gateway families.
 */
void prom_render(const struct prom_store *s, const char *self_service, const char *self_instance,
                 const cJSON *self, const struct fleet *fleet, struct abuf *out,
                 struct prom_stats *stats);

/* [a-zA-Z_][a-zA-Z0-9_]* */
bool prom_valid_name(const char *name);

#endif
