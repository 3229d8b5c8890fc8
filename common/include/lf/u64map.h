/* A hash map from 64-bit keys (EUIs) to pointers: open addressing, load
 * factor under 1/2, keys spread by a splitmix64 finaliser because fleets
 * number their gateways sequentially. The map does not own the values. */
#ifndef LF_U64MAP_H
#define LF_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct lf_u64map {
	uint64_t *keys;
	void **values; /* NULL marks an empty slot, so values must not be NULL */
	size_t capacity;
	size_t count;
};

void lf_u64map_init(struct lf_u64map *m);
void lf_u64map_clear(struct lf_u64map *m); /* frees the table, not the values */

void *lf_u64map_get(const struct lf_u64map *m, uint64_t key);
/* Adds or replaces; value must not be NULL. Returns 0 or -1 (no memory). */
int lf_u64map_put(struct lf_u64map *m, uint64_t key, void *value);

/* for (size_t i = 0; (v = lf_u64map_next(m, &i, &key)) != NULL;) */
void *lf_u64map_next(const struct lf_u64map *m, size_t *cursor, uint64_t *key);

#endif
