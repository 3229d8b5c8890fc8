#include "lf/u64map.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 64

static size_t
slot_of(uint64_t key, size_t capacity)
{
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebULL;
	key ^= key >> 31;
	return (size_t)key & (capacity - 1);
}

void
lf_u64map_init(struct lf_u64map *m)
{
	memset(m, 0, sizeof(*m));
}

void
lf_u64map_clear(struct lf_u64map *m)
{
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static size_t
find_slot(const struct lf_u64map *m, uint64_t key)
{
	size_t i = slot_of(key, m->capacity);
	while (m->values[i] != NULL && m->keys[i] != key) {
		i = (i + 1) & (m->capacity - 1);
	}
	return i;
}

void *
lf_u64map_get(const struct lf_u64map *m, uint64_t key)
{
	if (m->capacity == 0) {
		return NULL;
	}
	return m->values[find_slot(m, key)];
}

static int
grow(struct lf_u64map *m)
{
	struct lf_u64map bigger = {.capacity = m->capacity ? m->capacity * 2 : INITIAL_CAPACITY};
	bigger.keys = calloc(bigger.capacity, sizeof(*bigger.keys));
	bigger.values = calloc(bigger.capacity, sizeof(*bigger.values));
	if (bigger.keys == NULL || bigger.values == NULL) {
		free(bigger.keys);
		free(bigger.values);
		return -1;
	}
	for (size_t i = 0; i < m->capacity; i++) {
		if (m->values[i] != NULL) {
			size_t j = find_slot(&bigger, m->keys[i]);
			bigger.keys[j] = m->keys[i];
			bigger.values[j] = m->values[i];
		}
	}
	free(m->keys);
	free(m->values);
	m->keys = bigger.keys;
	m->values = bigger.values;
	m->capacity = bigger.capacity;
	return 0;
}

int
lf_u64map_put(struct lf_u64map *m, uint64_t key, void *value)
{
	if ((m->count + 1) * 2 > m->capacity && grow(m) != 0) {
		return -1;
	}
	size_t i = find_slot(m, key);
	if (m->values[i] == NULL) {
		m->count++;
	}
	m->keys[i] = key;
	m->values[i] = value;
	return 0;
}

void *
lf_u64map_next(const struct lf_u64map *m, size_t *cursor, uint64_t *key)
{
	while (*cursor < m->capacity) {
		size_t i = (*cursor)++;
		if (m->values[i] != NULL) {
			if (key != NULL) {
				*key = m->keys[i];
			}
			return m->values[i];
		}
	}
	return NULL;
}
