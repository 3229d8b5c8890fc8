#include "prom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES_PER_SOURCE 100000

bool
prom_valid_name(const char *name)
{
	if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9')) {
		return false;
	}
	for (const char *p = name; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_')) {
			return false;
		}
	}
	return true;
}

void
prom_store_init(struct prom_store *s)
{
	memset(s, 0, sizeof(*s));
}

void
prom_store_free(struct prom_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		cJSON_Delete(s->sources[i].snapshot);
	}
	free(s->sources);
	memset(s, 0, sizeof(*s));
}

static int
cmp_source(const char *service, const char *instance, const struct prom_source *src)
{
	int c = strcmp(service, src->service);
	return c != 0 ? c : strcmp(instance, src->instance);
}

/* The source for (service, instance), inserted in order when new. The
 * names become part of metric names and label values: "gateway" and
 * "service" would clash with apigw's own families. */
static struct prom_source *
source(struct prom_store *s, const char *service, const char *instance, char *err, size_t errlen)
{
	if (!prom_valid_name(service) || strlen(service) >= sizeof(s->sources[0].service) ||
	    strcmp(service, "gateway") == 0 || strcmp(service, "service") == 0 ||
	    instance[0] == '\0' || strlen(instance) >= sizeof(s->sources[0].instance)) {
		if (err != NULL && errlen > 0) {
			strncpy(err, "service or instance not usable in metric names", errlen - 1);
			err[errlen - 1] = '\0';
		}
		return NULL;
	}
	size_t i = 0;
	while (i < s->n && cmp_source(service, instance, &s->sources[i]) > 0) {
		i++;
	}
	if (i < s->n && cmp_source(service, instance, &s->sources[i]) == 0) {
		return &s->sources[i];
	}
	if (s->n == s->cap) {
		size_t cap = s->cap > 0 ? s->cap * 2 : 8;
		struct prom_source *grown = realloc(s->sources, cap * sizeof(*grown));
		if (grown == NULL) {
			return NULL;
		}
		s->sources = grown;
		s->cap = cap;
	}
	memmove(&s->sources[i + 1], &s->sources[i], (s->n - i) * sizeof(*s->sources));
	s->n++;
	struct prom_source *src = &s->sources[i];
	memset(src, 0, sizeof(*src));
	strcpy(src->service, service);
	strcpy(src->instance, instance);
	return src;
}

int
prom_store_snapshot(struct prom_store *s, const char *service, const char *instance,
                    const char *payload, size_t len, char *err, size_t errlen)
{
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	if (len > 0 && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "families"))) {
		cJSON_Delete(root);
		if (err != NULL && errlen > 0) {
			strncpy(err, "not a metrics snapshot ({\"families\":[...]})", errlen - 1);
			err[errlen - 1] = '\0';
		}
		return -1;
	}
	struct prom_source *src = source(s, service, instance, err, errlen);
	if (src == NULL) {
		cJSON_Delete(root);
		return -1;
	}
	cJSON_Delete(src->snapshot);
	src->snapshot = root; /* NULL: the retained snapshot was cleared */
	return 0;
}

int
prom_store_state(struct prom_store *s, const char *service, const char *instance,
                 const char *payload, size_t len, char *err, size_t errlen)
{
	struct prom_source *src = source(s, service, instance, err, errlen);
	if (src == NULL) {
		return -1;
	}
	cJSON *root = len > 0 ? cJSON_ParseWithLength(payload, len) : NULL;
	src->state_known = root != NULL;
	src->online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
	cJSON_Delete(root);
	return 0;
}

/* ---- rendering ---------------------------------------------------------- */

struct fam_ref {
	const char *instance;
	const cJSON *family;
};

struct fam {
	char name[160];
	const char *type, *help;
	struct fam_ref *refs;
	size_t n, cap;
};

struct fams {
	struct fam *list;
	size_t n, cap;
	bool failed;
};

static struct fam *
fam_find(struct fams *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++) {
		if (strcmp(fs->list[i].name, name) == 0) {
			return &fs->list[i];
		}
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap > 0 ? fs->cap * 2 : 32;
		struct fam *grown = realloc(fs->list, cap * sizeof(*grown));
		if (grown == NULL) {
			fs->failed = true;
			return NULL;
		}
		fs->list = grown;
		fs->cap = cap;
	}
	struct fam *f = &fs->list[fs->n++];
	memset(f, 0, sizeof(*f));
	strcpy(f->name, name);
	return f;
}

static void
fam_add(struct fams *fs, const char *service, const char *instance, const cJSON *family,
        struct prom_stats *stats)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(family, "name");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(family, "type");
	const cJSON *help = cJSON_GetObjectItemCaseSensitive(family, "help");
	char full[160];
	if (!cJSON_IsString(name) || !prom_valid_name(name->valuestring) || !cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "counter") != 0 &&
	     strcmp(type->valuestring, "gauge") != 0) ||
	    strlen(name->valuestring) + strlen(service) + 12 > sizeof(full)) {
		stats->skipped++;
		return;
	}
	strcpy(full, "lorafleet_");
	strcat(full, service);
	strcat(full, "_");
	strcat(full, name->valuestring);
	struct fam *f = fam_find(fs, full);
	if (f == NULL) {
		return;
	}
	if (f->type == NULL) {
		f->type = type->valuestring;
		f->help = cJSON_IsString(help) ? help->valuestring : "";
	} else if (strcmp(f->type, type->valuestring) != 0) {
		stats->skipped++; /* one family, one type */
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (f->refs[i].instance == instance) {
			stats->skipped++; /* the same family twice in one snapshot */
			return;
		}
	}
	if (f->n == f->cap) {
		size_t cap = f->cap > 0 ? f->cap * 2 : 4;
		struct fam_ref *grown = realloc(f->refs, cap * sizeof(*grown));
		if (grown == NULL) {
			fs->failed = true;
			return;
		}
		f->refs = grown;
		f->cap = cap;
	}
	f->refs[f->n++] = (struct fam_ref){instance, family};
}

static void
escape_into(struct abuf *out, const char *text, bool quotes)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\') {
			abuf_add(out, "\\\\", 2);
		} else if (*p == '\n') {
			abuf_add(out, "\\n", 2);
		} else if (*p == '"' && quotes) {
			abuf_add(out, "\\\"", 2);
		} else {
			abuf_add(out, p, 1);
		}
	}
}

static void
write_value(struct abuf *out, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0) {
		abuf_printf(out, " %.0f\n", v);
	} else {
		abuf_printf(out, " %.17g\n", v);
	}
}

struct series_line {
	char *labels; /* "{instance=\"x\",k=\"v\"}" */
	double value;
};

static int
by_labels(const void *a, const void *b)
{
	return strcmp(((const struct series_line *)a)->labels,
	              ((const struct series_line *)b)->labels);
}

/* One series' label set, or NULL when a label is unusable. */
static char *
series_labels(const char *instance, const cJSON *labels)
{
	struct abuf b;
	abuf_init(&b);
	abuf_str(&b, "{instance=\"");
	escape_into(&b, instance, true);
	abuf_str(&b, "\"");
	const cJSON *l;
	cJSON_ArrayForEach(l, labels)
	{
		if (!cJSON_IsString(l) || !prom_valid_name(l->string) ||
		    strcmp(l->string, "instance") == 0 || strncmp(l->string, "__", 2) == 0) {
			abuf_free(&b);
			return NULL;
		}
		abuf_printf(&b, ",%s=\"", l->string);
		escape_into(&b, l->valuestring, true);
		abuf_str(&b, "\"");
	}
	abuf_str(&b, "}");
	return abuf_take(&b, NULL);
}

/* The series of one instance, sorted by labels, repeated ones dropped. */
static void
write_ref(struct abuf *out, const char *name, const struct fam_ref *ref, struct prom_stats *stats)
{
	const cJSON *series = cJSON_GetObjectItemCaseSensitive(ref->family, "series");
	int n = cJSON_IsArray(series) ? cJSON_GetArraySize(series) : 0;
	if (n > MAX_SERIES_PER_SOURCE) {
		stats->skipped += (uint64_t)(n - MAX_SERIES_PER_SOURCE);
		n = MAX_SERIES_PER_SOURCE;
	}
	struct series_line *lines = n > 0 ? calloc((size_t)n, sizeof(*lines)) : NULL;
	size_t count = 0;
	const cJSON *s = series != NULL ? series->child : NULL;
	for (int i = 0; lines != NULL && i < n && s != NULL; i++, s = s->next) {
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(s, "value");
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(s, "labels");
		char *text = cJSON_IsNumber(value) && (labels == NULL || cJSON_IsObject(labels))
		                     ? series_labels(ref->instance, labels)
		                     : NULL;
		if (text == NULL) {
			stats->skipped++;
			continue;
		}
		lines[count++] = (struct series_line){text, value->valuedouble};
	}
	if (count > 1) { /* qsort()'s base must not be NULL, even for 0 items */
		qsort(lines, count, sizeof(*lines), by_labels);
	}
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && strcmp(lines[i].labels, lines[i - 1].labels) == 0) {
			stats->skipped++;
		} else {
			abuf_str(out, name);
			abuf_str(out, lines[i].labels);
			write_value(out, lines[i].value);
		}
	}
	for (size_t i = 0; i < count; i++) {
		free(lines[i].labels);
	}
	free(lines);
}

static void
write_header(struct abuf *out, const char *name, const char *type, const char *help)
{
	abuf_printf(out, "# HELP %s ", name);
	escape_into(out, help, false);
	abuf_printf(out, "\n# TYPE %s %s\n", name, type);
}

static void
collect(struct fams *fs, const char *service, const char *instance, const cJSON *snapshot,
        struct prom_stats *stats)
{
	const cJSON *families = cJSON_GetObjectItemCaseSensitive(snapshot, "families");
	const cJSON *family;
	cJSON_ArrayForEach(family, families)
	{
		fam_add(fs, service, instance, family, stats);
	}
}

static void
write_service_up(struct abuf *out, const struct prom_store *s, const char *self_service,
                 const char *self_instance)
{
	write_header(out, "lorafleet_service_up", "gauge",
	             "1 while a lorafleet daemon's retained state says it is online (its MQTT "
	             "will clears it when it dies)");
	bool self_seen = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct prom_source *src = &s->sources[i];
		bool self = strcmp(src->service, self_service) == 0 &&
		            strcmp(src->instance, self_instance) == 0;
		self_seen |= self;
		if (!src->state_known && !self) {
			continue;
		}
		abuf_printf(out, "lorafleet_service_up{service=\"%s\",instance=\"", src->service);
		escape_into(out, src->instance, true);
		abuf_printf(out, "\"} %d\n", self || src->online ? 1 : 0);
	}
	if (!self_seen) {
		abuf_printf(out, "lorafleet_service_up{service=\"%s\",instance=\"", self_service);
		escape_into(out, self_instance, true);
		abuf_str(out, "\"} 1\n");
	}
}

struct gw_family {
	const char *name, *type, *help;
};

static const struct gw_family gw_families[] = {
        {"lorafleet_gateway_online", "gauge",
         "1 while the bridge says the gateway is online (PULL_DATA within gateway_timeout)"},
        {"lorafleet_gateway_connected", "gauge",
         "1 while the gateway's Helium packet-router stream is connected"},
        {"lorafleet_gateway_uplinks_total", "counter",
         "Uplinks of the gateway (routerlink's count plus those apigw saw since)"},
        {"lorafleet_gateway_downlinks_total", "counter",
         "Downlinks of the gateway (routerlink's count plus those apigw saw since)"},
        {"lorafleet_gateway_connections_total", "counter",
         "Times apigw saw the gateway come online, since apigw started"},
        {"lorafleet_gateway_disconnections_total", "counter",
         "Times apigw saw the gateway go offline, since apigw started"},
        {"lorafleet_gateway_last_uplink_timestamp_seconds", "gauge",
         "Unix time of the gateway's latest uplink"},
};

static bool
gw_value(size_t family, const struct fleet_gw *gw, double *v)
{
	switch (family) {
	case 0:
		*v = gw->has_state && gw->online;
		return true;
	case 1:
		*v = fleet_gw_connected(gw);
		return true;
	case 2:
		*v = (double)fleet_gw_uplinks(gw);
		return true;
	case 3:
		*v = (double)fleet_gw_downlinks(gw);
		return true;
	case 4:
		*v = (double)gw->connects;
		return true;
	case 5:
		*v = (double)gw->disconnects;
		return true;
	default:
		*v = (double)fleet_gw_last_uplink_ms(gw) / 1000.0;
		return fleet_gw_last_uplink_ms(gw) > 0;
	}
}

static void
write_gateways(struct abuf *out, const struct fleet *fleet)
{
	size_t n = 0;
	const struct fleet_gw **list = fleet_sorted(fleet, &n);
	for (size_t f = 0; f < sizeof(gw_families) / sizeof(gw_families[0]); f++) {
		write_header(out, gw_families[f].name, gw_families[f].type, gw_families[f].help);
		for (size_t i = 0; i < n; i++) {
			double v;
			if (gw_value(f, list[i], &v)) {
				abuf_printf(out, "%s{mac=\"%s\"}", gw_families[f].name,
				            list[i]->mac);
				write_value(out, v);
			}
		}
	}
	free(list);
}

void
prom_render(const struct prom_store *s, const char *self_service, const char *self_instance,
            const cJSON *self, const struct fleet *fleet, struct abuf *out,
            struct prom_stats *stats)
{
	struct fams fs = {0};
	bool self_done = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct prom_source *src = &s->sources[i];
		if (strcmp(src->service, self_service) == 0 &&
		    strcmp(src->instance, self_instance) == 0) {
			collect(&fs, self_service, self_instance, self, stats);
			self_done = true;
		} else if (src->snapshot != NULL) {
			collect(&fs, src->service, src->instance, src->snapshot, stats);
		}
	}
	if (!self_done) {
		collect(&fs, self_service, self_instance, self, stats);
	}
	for (size_t i = 0; i < fs.n; i++) {
		struct fam *f = &fs.list[i];
		write_header(out, f->name, f->type, f->help);
		for (size_t j = 0; j < f->n; j++) {
			write_ref(out, f->name, &f->refs[j], stats);
		}
		free(f->refs);
	}
	free(fs.list);
	write_service_up(out, s, self_service, self_instance);
	write_gateways(out, fleet);
}
