/*
 * A strict, allocation-free JSON scanner (RFC 8259) over a byte buffer
 * that need not be NUL-terminated. It validates and skips values, walks
 * objects and arrays member by member, and reports byte spans, so that
 * callers can check a few fields and copy the rest verbatim. It never
 * builds a tree and never reads past `len`.
 *
 * Nesting is limited to JS_MAX_DEPTH containers; the recursion in
 * js_skip_value is bounded by it.
 */
#ifndef BRIDGE_JSONSCAN_H
#define BRIDGE_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JS_MAX_DEPTH 32

enum js_type {
	JS_NONE = 0, /* end of input, or a byte that starts no value */
	JS_OBJECT,
	JS_ARRAY,
	JS_STRING,
	JS_NUMBER,
	JS_BOOL,
	JS_NULL,
};

struct js_scanner {
	const char *buf;
	size_t len;
	size_t pos;
	size_t ws;         /* whitespace bytes skipped outside strings so far */
	const char *error; /* static text; NULL while the input is fine */
	size_t error_pos;
};

void js_init(struct js_scanner *s, const char *buf, size_t len);

/* Records the first error at the current position; returns -1. */
int js_fail(struct js_scanner *s, const char *msg);

void js_skip_ws(struct js_scanner *s);

/* The type of the value starting at pos, judged by its first byte. */
enum js_type js_peek(const struct js_scanner *s);

/* "an object", "a string", ...: for "expected X, got Y" messages. */
const char *js_type_name(enum js_type type);

/*
 * Validates the value at pos and moves past it. `depth` is the number of
 * containers around the value. Returns 0 or -1 (s->error set).
 */
int js_skip_value(struct js_scanner *s, int depth);

/* At pos a string: validates it and moves past it. */
int js_skip_string(struct js_scanner *s);

/*
 * Walk an object or array whose opening bracket is at pos: call
 * js_enter, then js_object_next/js_array_next until they return 0
 * (closing bracket consumed) or -1. On 1, pos is at the member's value,
 * which the caller must consume (js_skip_value or its own walk) before
 * the next call. *n counts the members seen; start it at 0.
 */
int js_enter(struct js_scanner *s, char open);
int js_object_next(struct js_scanner *s, size_t *n, const char **key, size_t *key_len);
int js_array_next(struct js_scanner *s, size_t *n);

/* After the top-level value: only whitespace and NULs may follow. */
int js_check_end(struct js_scanner *s);

/*
 * Validates a whole document: one value, then only whitespace and NULs.
 * Returns its type, or JS_NONE with s->error set.
 */
enum js_type js_validate(struct js_scanner *s, const char *buf, size_t len);

/*
 * Copies valid JSON text without the whitespace outside strings. dst must
 * hold len bytes; returns the length written (no NUL added).
 */
size_t js_compact(const char *src, size_t len, char *dst);

#endif
