/* The lws side: one session (pss) per HTTP connection, shared by http.c
 * (the lws callback, writing, SSE, RPC waits) and handlers.c (routes). */
#ifndef APIGW_HTTP_INTERNAL_H
#define APIGW_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "auth.h"
#include "buf.h"
#include "daemon_internal.h"
#include "request.h"
#include "routes.h"
#include "rpc.h"
#include "sse.h"

#define HTTP_KEY_MAX 512 /* longest X-API-Key / Authorization read */
#define SSE_RETRY_S  5   /* Retry-After when /events is full */

enum pss_state {
	PSS_IDLE,     /* between requests */
	PSS_BODY,     /* reading a request body */
	PSS_WAIT_RPC, /* waiting for routerlink */
	PSS_REPLY,    /* writing a response */
	PSS_SSE,      /* an event stream */
};

/* One per connection; lws zeroes it once and reuses it for every request
 * on a keep-alive connection, so each request resets the request part. */
struct pss {
	struct lws *wsi;
	enum pss_state state;

	/* request */
	struct route_match route;
	enum auth_result auth;
	struct abuf req;
	bool has_last_event_id, has_mac_filter;
	char last_event_id[32]; /* a longer one is refused (400): it cannot be ours */
	char mac_filter[64];

	/* response */
	int status;
	const char *ctype;
	char *body; /* malloc'd */
	size_t body_len, body_off;
	bool headers_done, close_after;
	const char *allow;
	int retry_after;
	bool www_authenticate;

	/* RPC */
	enum rpc_method method;
	uint64_t rpc_seq;
	lws_sorted_usec_list_t rpc_sul;
	struct pss *rpc_next;

	/* SSE */
	struct sse_cursor cursor;
	struct pss *sse_next;
	bool sse_linked, hb_due;
	int64_t last_write_ms;
};

/* Queues a response (takes body, a malloc'd text, may be NULL). */
void http_respond(struct pss *p, int status, const char *ctype, char *body, size_t len);
/* {"error": text} */
void http_error(struct pss *p, int status, const char *text);

/* handlers.c: headers read, route matched and authorised (lws thread). */
void handlers_request(struct apigw *gw, struct pss *p);
/* handlers.c: the body of a request that has one arrived. */
void handlers_body(struct apigw *gw, struct pss *p);

/* http.c: waits for routerlink's answer to an RPC just published. */
void http_rpc_wait(struct apigw *gw, struct pss *p, uint64_t seq);
/* http.c: makes p an SSE stream positioned by handlers. */
void http_sse_start(struct apigw *gw, struct pss *p);

#endif
