#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
abuf_init(struct abuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
abuf_free(struct abuf *b)
{
	free(b->data);
	abuf_init(b);
}

void
abuf_reset(struct abuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data != NULL) {
		b->data[0] = '\0';
	}
}

static bool
reserve(struct abuf *b, size_t more)
{
	if (b->failed) {
		return false;
	}
	if (b->len + more + 1 <= b->cap) {
		return true;
	}
	size_t cap = b->cap > 0 ? b->cap : 256;
	while (cap < b->len + more + 1) {
		cap *= 2;
	}
	char *data = realloc(b->data, cap);
	if (data == NULL) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void
abuf_add(struct abuf *b, const void *data, size_t len)
{
	if (!reserve(b, len)) {
		return;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
abuf_str(struct abuf *b, const char *s)
{
	abuf_add(b, s, strlen(s));
}

void
abuf_printf(struct abuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		abuf_add(b, small, (size_t)n);
		return;
	}
	if (!reserve(b, (size_t)n)) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *
abuf_take(struct abuf *b, size_t *len)
{
	if (b->failed || !reserve(b, 0)) {
		abuf_free(b);
		return NULL;
	}
	char *data = b->data;
	if (len != NULL) {
		*len = b->len;
	}
	abuf_init(b);
	return data;
}
