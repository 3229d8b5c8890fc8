/*
 * Server-Sent Events without I/O: a ring of formatted records with
 * increasing ids, and per-client cursors. A client that fell behind the
 * ring (or resumes from an id the ring no longer holds) gets an explicit
 * `event: overflow` record saying how many events it missed, never a
 * silent skip.
 *
 * Records are "id: N\nevent: NAME\ndata: JSON\n\n"; the JSON is one line.
 * Ids start at the wall clock in µs when apigw starts, so they grow
 * across restarts and an id from an earlier run is recognised as such.
 */
#ifndef APIGW_SSE_H
#define APIGW_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct sse_record {
	uint64_t id; /* 0: empty slot */
	uint64_t eui;
	bool has_eui;
	char *text;
	size_t len;
};

struct sse_ring {
	struct sse_record *slots;
	size_t cap;
	uint64_t first_id; /* the id of this run's first event */
	uint64_t next_id;  /* the id the next event gets */
};

struct sse_cursor {
	uint64_t next_id; /* the next event this client should get */
	bool has_filter;
	uint64_t filter; /* ?mac= */
	/* Resumed from an id this run never gave (an earlier run, or
	 * garbage): the first read says so, with "missed": null. */
	bool unknown_gap;
};

int sse_ring_init(struct sse_ring *r, size_t cap, uint64_t first_id);
void sse_ring_free(struct sse_ring *r);

/* The oldest id still held (== next_id when empty). */
uint64_t sse_ring_oldest(const struct sse_ring *r);

/* Appends one event; data is a one-line JSON text. Returns its id, or 0
 * when out of memory (the id is then not used). */
uint64_t sse_ring_push(struct sse_ring *r, const char *event, const char *data, bool has_eui,
                       uint64_t eui);

/*
 * Positions a new client. last_event_id: the Last-Event-ID header (NULL:
 * none, the client gets events from now on). A known id resumes right
 * after it (an overflow record first when the ring has moved past it).
 */
void sse_cursor_start(struct sse_cursor *c, const struct sse_ring *r, const char *last_event_id,
                      bool has_filter, uint64_t filter);

/* True when the client has something to read (events or an overflow). */
bool sse_pending(const struct sse_cursor *c, const struct sse_ring *r);

/*
 * Appends the client's next records to out, stopping once out holds at
 * least max_bytes (whole records only). Events the filter rejects are
 * passed over. Returns the number of events missed that this call
 * reported in an overflow record (0 when none).
 */
uint64_t sse_read(struct sse_cursor *c, const struct sse_ring *r, struct abuf *out,
                  size_t max_bytes);

#endif
