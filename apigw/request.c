#include "request.h"

#include <stdio.h>
#include <string.h>

/* Content-Length as sent: digits only (no sign, no blanks, no overflow). */
static int
parse_length(const char *text, size_t *out)
{
	size_t v = 0;
	if (text[0] == '\0' || strlen(text) > 12) {
		return -1;
	}
	for (const char *c = text; *c != '\0'; c++) {
		if (*c < '0' || *c > '9') {
			return -1;
		}
		v = v * 10 + (size_t)(*c - '0');
	}
	*out = v;
	return 0;
}

void
request_check(const struct request_head *h, struct request_verdict *v)
{
	memset(v, 0, sizeof(*v));
	bool has_length = h->content_length != NULL || h->content_length_long;
	bool wants_body = strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0 ||
	                  strcmp(h->method, "PATCH") == 0;
	size_t body_len = 0;
	if (h->too_long != NULL) {
		v->status = 400;
		snprintf(v->error, sizeof(v->error), "the %s header is too long", h->too_long);
	} else if (h->headers_len > HEADERS_MAX) {
		v->status = 400;
		snprintf(v->error, sizeof(v->error), "request headers larger than %d bytes",
		         HEADERS_MAX);
	} else if (h->chunked) {
		/* lws 4.1 does not de-chunk request bodies. */
		v->status = 411;
		snprintf(v->error, sizeof(v->error),
		         "chunked request bodies are not supported: send Content-Length");
	} else if (has_length &&
	           (h->content_length_long || parse_length(h->content_length, &body_len) != 0)) {
		v->status = 400;
		snprintf(v->error, sizeof(v->error), "Content-Length is not a number");
	} else if (wants_body && !has_length) {
		v->status = 411;
		snprintf(v->error, sizeof(v->error), "Content-Length required");
	} else if (body_len > (size_t)h->max_body) {
		v->status = 413;
		snprintf(v->error, sizeof(v->error), "request body larger than %lld bytes",
		         (long long)h->max_body);
	} else {
		v->body_len = body_len;
	}
}
