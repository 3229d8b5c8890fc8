#include "gateways.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 64

/* EUIs are often sequential (aa555a0000000001, ...02): mix the bits so
 * that they spread over the table (splitmix64 finaliser). */
static size_t
slot_of(uint64_t eui, size_t capacity)
{
	eui ^= eui >> 30;
	eui *= 0xbf58476d1ce4e5b9ULL;
	eui ^= eui >> 27;
	eui *= 0x94d049bb133111ebULL;
	eui ^= eui >> 31;
	return (size_t)eui & (capacity - 1);
}

void
gateway_table_init(struct gateway_table *t)
{
	memset(t, 0, sizeof(*t));
}

void
gateway_table_clear(struct gateway_table *t)
{
	for (size_t i = 0; i < t->capacity; i++) {
		free(t->slots[i]);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

struct gateway *
gateway_table_find(const struct gateway_table *t, uint64_t eui)
{
	if (t->capacity == 0) {
		return NULL;
	}
	for (size_t i = slot_of(eui, t->capacity);; i = (i + 1) & (t->capacity - 1)) {
		struct gateway *gw = t->slots[i];
		if (gw == NULL || gw->eui == eui) {
			return gw;
		}
	}
}

static void
place(struct gateway **slots, size_t capacity, struct gateway *gw)
{
	size_t i = slot_of(gw->eui, capacity);
	while (slots[i] != NULL) {
		i = (i + 1) & (capacity - 1);
	}
	slots[i] = gw;
}

/* Keeps the load factor under 1/2 so probes stay short. */
static int
grow(struct gateway_table *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : INITIAL_CAPACITY;
	struct gateway **slots = calloc(capacity, sizeof(*slots));
	if (slots == NULL) {
		return -1;
	}
	for (size_t i = 0; i < t->capacity; i++) {
		if (t->slots[i] != NULL) {
			place(slots, capacity, t->slots[i]);
		}
	}
	free(t->slots);
	t->slots = slots;
	t->capacity = capacity;
	return 0;
}

struct gateway *
gateway_table_add(struct gateway_table *t, uint64_t eui)
{
	if ((t->count + 1) * 2 > t->capacity && grow(t) != 0) {
		return NULL;
	}
	struct gateway *gw = calloc(1, sizeof(*gw));
	if (gw == NULL) {
		return NULL;
	}
	gw->eui = eui;
	lf_eui_format(eui, gw->mac);
	place(t->slots, t->capacity, gw);
	t->count++;
	return gw;
}

struct gateway *
gateway_table_next(const struct gateway_table *t, size_t *cursor)
{
	while (*cursor < t->capacity) {
		struct gateway *gw = t->slots[(*cursor)++];
		if (gw != NULL) {
			return gw;
		}
	}
	return NULL;
}
