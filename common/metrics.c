#include "lf/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct family;

struct lf_metric {
	struct lf_metric *next;
	char *label_key; /* NULL: no label */
	char *label_value;
	_Atomic int64_t value;
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum lf_metric_type type;
	struct lf_metric *series; /* in registration order */
};

struct lf_metrics {
	pthread_mutex_t lock;
	struct family *families; /* in registration order */
};

struct lf_metrics *
lf_metrics_new(void)
{
	struct lf_metrics *reg = calloc(1, sizeof(*reg));
	if (reg == NULL) {
		return NULL;
	}
	if (pthread_mutex_init(&reg->lock, NULL) != 0) {
		free(reg);
		return NULL;
	}
	return reg;
}

static void
series_free(struct lf_metric *m)
{
	free(m->label_key);
	free(m->label_value);
	free(m);
}

void
lf_metrics_free(struct lf_metrics *reg)
{
	if (reg == NULL) {
		return;
	}
	struct family *f = reg->families;
	while (f != NULL) {
		struct family *next_f = f->next;
		struct lf_metric *m = f->series;
		while (m != NULL) {
			struct lf_metric *next_m = m->next;
			series_free(m);
			m = next_m;
		}
		free(f->name);
		free(f->help);
		free(f);
		f = next_f;
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

/* Prometheus metric and label names: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool
valid_name(const char *name)
{
	if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9')) {
		return false;
	}
	for (const char *p = name; *p != '\0'; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '_';
		if (!ok) {
			return false;
		}
	}
	return true;
}

static bool
same_label(const struct lf_metric *m, const char *key, const char *value)
{
	if (m->label_key == NULL || key == NULL) {
		return m->label_key == NULL && key == NULL;
	}
	return strcmp(m->label_key, key) == 0 && strcmp(m->label_value, value) == 0;
}

static struct family *
find_family(struct lf_metrics *reg, const char *name)
{
	for (struct family *f = reg->families; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			return f;
		}
	}
	return NULL;
}

static struct family *
add_family(struct lf_metrics *reg, enum lf_metric_type type, const char *name, const char *help)
{
	struct family *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return NULL;
	}
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	f->type = type;
	if (f->name == NULL || f->help == NULL) {
		free(f->name);
		free(f->help);
		free(f);
		return NULL;
	}
	struct family **tail = &reg->families;
	while (*tail != NULL) {
		tail = &(*tail)->next;
	}
	*tail = f;
	return f;
}

static struct lf_metric *
add_series(struct family *f, const char *key, const char *value)
{
	struct lf_metric *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	atomic_init(&m->value, 0);
	if (key != NULL) {
		m->label_key = strdup(key);
		m->label_value = strdup(value);
		if (m->label_key == NULL || m->label_value == NULL) {
			series_free(m);
			return NULL;
		}
	}
	struct lf_metric **tail = &f->series;
	while (*tail != NULL) {
		tail = &(*tail)->next;
	}
	*tail = m;
	return m;
}

struct lf_metric *
lf_metrics_get(struct lf_metrics *reg, enum lf_metric_type type, const char *name, const char *help,
               const char *label_key, const char *label_value)
{
	/* A bad name is a programming error; NULL keeps it out of every
	 * snapshot, and the lf_metric_* functions accept NULL. */
	if (reg == NULL || !valid_name(name) || (label_key != NULL && !valid_name(label_key))) {
		return NULL;
	}
	if (label_key != NULL && label_value == NULL) {
		label_value = "";
	}
	struct lf_metric *m = NULL;
	pthread_mutex_lock(&reg->lock);
	struct family *f = find_family(reg, name);
	if (f == NULL) {
		f = add_family(reg, type, name, help);
	}
	if (f != NULL) {
		for (m = f->series; m != NULL && !same_label(m, label_key, label_value);
		     m = m->next) {
		}
		if (m == NULL) {
			m = add_series(f, label_key, label_value);
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return m;
}

void
lf_metric_add(struct lf_metric *m, int64_t delta)
{
	if (m != NULL) {
		atomic_fetch_add_explicit(&m->value, delta, memory_order_relaxed);
	}
}

void
lf_metric_set(struct lf_metric *m, int64_t value)
{
	if (m != NULL) {
		atomic_store_explicit(&m->value, value, memory_order_relaxed);
	}
}

int64_t
lf_metric_value(const struct lf_metric *m)
{
	if (m == NULL) {
		return 0;
	}
	return atomic_load_explicit(&((struct lf_metric *)m)->value, memory_order_relaxed);
}

void
lf_metrics_remove(struct lf_metrics *reg, const char *name, const char *label_key,
                  const char *label_value)
{
	if (reg == NULL || name == NULL) {
		return;
	}
	if (label_key != NULL && label_value == NULL) {
		label_value = "";
	}
	pthread_mutex_lock(&reg->lock);
	struct family *f = find_family(reg, name);
	for (struct lf_metric **p = f != NULL ? &f->series : NULL; p != NULL && *p != NULL;
	     p = &(*p)->next) {
		if (same_label(*p, label_key, label_value)) {
			struct lf_metric *gone = *p;
			*p = gone->next;
			series_free(gone);
			break;
		}
	}
	pthread_mutex_unlock(&reg->lock);
}

static cJSON *
series_json(const struct lf_metric *m)
{
	cJSON *s = cJSON_CreateObject();
	cJSON *labels = cJSON_AddObjectToObject(s, "labels");
	if (labels == NULL) {
		cJSON_Delete(s);
		return NULL;
	}
	if (m->label_key != NULL &&
	    cJSON_AddStringToObject(labels, m->label_key, m->label_value) == NULL) {
		cJSON_Delete(s);
		return NULL;
	}
	if (cJSON_AddNumberToObject(s, "value", (double)lf_metric_value(m)) == NULL) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

static cJSON *
family_json(const struct family *f)
{
	cJSON *j = cJSON_CreateObject();
	if (cJSON_AddStringToObject(j, "name", f->name) == NULL ||
	    cJSON_AddStringToObject(j, "type", f->type == LF_METRIC_GAUGE ? "gauge" : "counter") ==
	            NULL ||
	    cJSON_AddStringToObject(j, "help", f->help) == NULL) {
		cJSON_Delete(j);
		return NULL;
	}
	cJSON *series = cJSON_AddArrayToObject(j, "series");
	if (series == NULL) {
		cJSON_Delete(j);
		return NULL;
	}
	for (const struct lf_metric *m = f->series; m != NULL; m = m->next) {
		cJSON *s = series_json(m);
		if (s == NULL) {
			cJSON_Delete(j);
			return NULL;
		}
		cJSON_AddItemToArray(series, s);
	}
	return j;
}

cJSON *
lf_metrics_snapshot_json(struct lf_metrics *reg)
{
	if (reg == NULL) {
		return NULL;
	}
	cJSON *root = cJSON_CreateObject();
	cJSON *families = cJSON_AddArrayToObject(root, "families");
	if (families == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	pthread_mutex_lock(&reg->lock);
	for (const struct family *f = reg->families; f != NULL; f = f->next) {
		cJSON *j = family_json(f);
		if (j == NULL) {
			cJSON_Delete(root);
			root = NULL;
			break;
		}
		cJSON_AddItemToArray(families, j);
	}
	pthread_mutex_unlock(&reg->lock);
	return root;
}
