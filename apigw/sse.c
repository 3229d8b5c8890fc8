#include "sse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int
sse_ring_init(struct sse_ring *r, size_t cap, uint64_t first_id)
{
	memset(r, 0, sizeof(*r));
	r->slots = calloc(cap, sizeof(*r->slots));
	if (r->slots == NULL) {
		return -1;
	}
	r->cap = cap;
	r->first_id = first_id > 0 ? first_id : 1;
	r->next_id = r->first_id;
	return 0;
}

void
sse_ring_free(struct sse_ring *r)
{
	for (size_t i = 0; r->slots != NULL && i < r->cap; i++) {
		free(r->slots[i].text);
	}
	free(r->slots);
	memset(r, 0, sizeof(*r));
}

uint64_t
sse_ring_oldest(const struct sse_ring *r)
{
	uint64_t held = r->next_id - r->first_id;
	return held > r->cap ? r->next_id - r->cap : r->first_id;
}

uint64_t
sse_ring_push(struct sse_ring *r, const char *event, const char *data, bool has_eui, uint64_t eui)
{
	struct abuf b;
	abuf_init(&b);
	uint64_t id = r->next_id;
	abuf_printf(&b, "id: %" PRIu64 "\nevent: %s\ndata: ", id, event);
	abuf_str(&b, data);
	abuf_add(&b, "\n\n", 2);
	size_t len = 0;
	char *text = abuf_take(&b, &len);
	if (text == NULL) {
		return 0;
	}
	struct sse_record *slot = &r->slots[id % r->cap];
	free(slot->text);
	*slot = (struct sse_record){
	        .id = id, .eui = eui, .has_eui = has_eui, .text = text, .len = len};
	r->next_id++;
	return id;
}

/* Strict decimal: Last-Event-ID is whatever the client sends. */
static int
parse_id(const char *text, uint64_t *out)
{
	if (text[0] < '0' || text[0] > '9' || strlen(text) > 20) {
		return -1;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

void
sse_cursor_start(struct sse_cursor *c, const struct sse_ring *r, const char *last_event_id,
                 bool has_filter, uint64_t filter)
{
	memset(c, 0, sizeof(*c));
	c->has_filter = has_filter;
	c->filter = filter;
	c->next_id = r->next_id;
	if (last_event_id == NULL) {
		return;
	}
	uint64_t id;
	/* An id this run gave out: resume after it. first_id - 1 is "just
	 * before the first event", e.g. a client that connected before any. */
	if (parse_id(last_event_id, &id) == 0 && id + 1 >= r->first_id && id < r->next_id) {
		c->next_id = id + 1;
		return;
	}
	c->unknown_gap = true;
}

bool
sse_pending(const struct sse_cursor *c, const struct sse_ring *r)
{
	return c->unknown_gap || c->next_id < r->next_id;
}

static void
overflow_record(struct abuf *out, uint64_t missed, bool known, uint64_t resume_id)
{
	abuf_str(out, "event: overflow\ndata: {\"type\":\"overflow\",\"missed\":");
	if (known) {
		abuf_printf(out, "%" PRIu64, missed);
	} else {
		abuf_str(out, "null");
	}
	abuf_printf(out, ",\"resume_id\":%" PRIu64 "}\n\n", resume_id);
}

uint64_t
sse_read(struct sse_cursor *c, const struct sse_ring *r, struct abuf *out, size_t max_bytes)
{
	uint64_t oldest = sse_ring_oldest(r), missed = 0;
	if (c->unknown_gap) {
		c->unknown_gap = false;
		overflow_record(out, 0, false, c->next_id);
	} else if (c->next_id < oldest) {
		missed = oldest - c->next_id;
		c->next_id = oldest;
		overflow_record(out, missed, true, oldest);
	}
	while (c->next_id < r->next_id && out->len < max_bytes && !out->failed) {
		const struct sse_record *rec = &r->slots[c->next_id % r->cap];
		c->next_id++;
		if (rec->text == NULL ||
		    (c->has_filter && (!rec->has_eui || rec->eui != c->filter))) {
			continue;
		}
		abuf_add(out, rec->text, rec->len);
	}
	return missed;
}
