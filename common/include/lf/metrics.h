/*
 * Counters and gauges, by name and optionally one label. Values are atomic,
 * so any thread may update them; registration is for the owner thread at
 * start-up or under its own lock.
 *
 * Names carry no prefix: renderers add "lorafleet_<service>_".
 * Daemons publish lf_metrics_snapshot_json() on their retained
 * `lorafleet/<service>/<instance>/metrics` topic; apigw renders them.
 */
#ifndef LF_METRICS_H
#define LF_METRICS_H

#include <stdint.h>

#include <cJSON.h>

enum lf_metric_type {
	LF_METRIC_COUNTER,
	LF_METRIC_GAUGE,
};

struct lf_metrics;
struct lf_metric;

struct lf_metrics *lf_metrics_new(void);
void lf_metrics_free(struct lf_metrics *reg);

/*
 * Returns the series `name{label_key="label_value"}`, creating it (and its
 * family) on first use. label_key NULL means no label. Registering the same
 * name with another type or help text returns the existing family's series.
 * Returns NULL only when out of memory.
 */
struct lf_metric *lf_metrics_get(struct lf_metrics *reg, enum lf_metric_type type, const char *name,
                                 const char *help, const char *label_key, const char *label_value);

static inline struct lf_metric *
lf_metrics_counter(struct lf_metrics *reg, const char *name, const char *help)
{
	return lf_metrics_get(reg, LF_METRIC_COUNTER, name, help, NULL, NULL);
}

static inline struct lf_metric *
lf_metrics_gauge(struct lf_metrics *reg, const char *name, const char *help)
{
	return lf_metrics_get(reg, LF_METRIC_GAUGE, name, help, NULL, NULL);
}

void lf_metric_add(struct lf_metric *m, int64_t delta);
void lf_metric_set(struct lf_metric *m, int64_t value);
int64_t lf_metric_value(const struct lf_metric *m);

static inline void
lf_metric_inc(struct lf_metric *m)
{
	lf_metric_add(m, 1);
}

/* Removes one labelled series (a gateway that is gone). */
void lf_metrics_remove(struct lf_metrics *reg, const char *name, const char *label_key,
                       const char *label_value);

/*
 * {"families":[{"name","type":"counter"|"gauge","help",
 *   "series":[{"labels":{"k":"v"},"value":N}]}]}
 */
cJSON *lf_metrics_snapshot_json(struct lf_metrics *reg);

#endif
