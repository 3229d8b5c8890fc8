/*
 * A request's framing, decided from its head before any route runs:
 * header sizes, Transfer-Encoding, Content-Length and the body limit.
 * Pure: http.c reads the head from lws and acts on the verdict.
 */
#ifndef APIGW_REQUEST_H
#define APIGW_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request headers: past HEADERS_MAX (those lws knows by name) a 400;
 * past HEADERS_BUDGET (all of them) lws closes the connection. */
#define HEADERS_MAX    8192
#define HEADERS_BUDGET 16384

/* What http.c read from the head. */
struct request_head {
	const char *method;         /* "GET", "POST", ... */
	const char *content_length; /* as sent; NULL when absent or too long */
	bool content_length_long;   /* sent, but longer than http.c reads */
	bool chunked;               /* a Transfer-Encoding header was sent */
	const char *too_long;       /* a header http.c reads that was too long ("X-API-Key") */
	size_t headers_len;         /* bytes of the headers lws knows by name */
	int64_t max_body;           /* [apigw] max_body */
};

struct request_verdict {
	/* 0: go on (read body_len bytes first when > 0); otherwise the status
	 * of the refusal, after which the connection closes: what follows on
	 * it cannot be told apart from a next request. */
	int status;
	char error[96];
	size_t body_len;
};

void request_check(const struct request_head *h, struct request_verdict *v);

#endif
