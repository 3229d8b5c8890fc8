#include "gateways.h"

#include <stdlib.h>
#include <string.h>

void
gateway_table_init(struct gateway_table *t)
{
	lf_u64map_init(&t->map);
	t->count = 0;
}

void
gateway_table_clear(struct gateway_table *t)
{
	struct gateway *gw;
	for (size_t i = 0; (gw = lf_u64map_next(&t->map, &i, NULL)) != NULL;) {
		free(gw);
	}
	lf_u64map_clear(&t->map);
	t->count = 0;
}

struct gateway *
gateway_table_find(const struct gateway_table *t, uint64_t eui)
{
	return lf_u64map_get(&t->map, eui);
}

struct gateway *
gateway_table_add(struct gateway_table *t, uint64_t eui)
{
	struct gateway *gw = calloc(1, sizeof(*gw));
	if (gw == NULL || lf_u64map_put(&t->map, eui, gw) != 0) {
		free(gw);
		return NULL;
	}
	gw->eui = eui;
	lf_eui_format(eui, gw->mac);
	t->count = t->map.count;
	return gw;
}

struct gateway *
gateway_table_next(const struct gateway_table *t, size_t *cursor)
{
	return lf_u64map_next(&t->map, cursor, NULL);
}
