/* A growable text buffer for response bodies and SSE records. */
#ifndef APIGW_BUF_H
#define APIGW_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct abuf {
	char *data; /* NUL-terminated while not failed */
	size_t len, cap;
	bool failed; /* an allocation failed: the content is incomplete */
};

void abuf_init(struct abuf *b);
void abuf_free(struct abuf *b);
void abuf_reset(struct abuf *b); /* empty, keeps the memory */
void abuf_add(struct abuf *b, const void *data, size_t len);
void abuf_str(struct abuf *b, const char *s);
void abuf_printf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text over (caller frees); the buffer is empty afterwards. */
char *abuf_take(struct abuf *b, size_t *len);

#endif
