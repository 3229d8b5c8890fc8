/*
 * A small HTTP/1.1 client for the apigw tests, on plain sockets: requests
 * on a kept-alive connection, raw bytes for malformed requests, and
 * Server-Sent Events read record by record.
 */
#ifndef TH_HTTP_H
#define TH_HTTP_H

#include "harness.h"

#define TH_HTTP_BUF 65536

struct th_http_conn {
	int fd; /* -1 when closed */
	uint16_t port;
	char buf[TH_HTTP_BUF];
	size_t len; /* bytes received and not consumed */
};

struct th_http_resp {
	int status;
	char *head; /* the header lines, NUL-terminated */
	char *body; /* NUL-terminated */
	size_t body_len;
	cJSON *json; /* the body parsed, when it is JSON */
};

int th_http_connect(struct th_http_conn *c, uint16_t port);
void th_http_close(struct th_http_conn *c);
/* extra: header lines, each ending in "\r\n" (may be NULL). A body gets a
 * Content-Length. */
int th_http_send(struct th_http_conn *c, const char *method, const char *path, const char *extra,
                 const char *body, size_t body_len);
int th_http_send_raw(struct th_http_conn *c, const void *data, size_t len);
/* Status line, headers and a Content-Length body (or up to the close). */
int th_http_read(struct th_http_conn *c, struct th_http_resp *r, int timeout_ms);
/* Reads only the status line and headers (an event stream follows). */
int th_http_read_head(struct th_http_conn *c, struct th_http_resp *r, int timeout_ms);
/* True when the server closed the connection within timeout_ms. */
bool th_http_closed(struct th_http_conn *c, int timeout_ms);

/* One request on a new connection. 0 or -1 (reason on stderr). */
int th_http_request(uint16_t port, const char *method, const char *path, const char *extra,
                    const char *body, struct th_http_resp *r);
/* A header's value (case-insensitive name), copied into a static buffer. */
const char *th_http_header(const struct th_http_resp *r, const char *name);
void th_http_resp_free(struct th_http_resp *r);

struct th_sse_event {
	bool has_id;
	char id[32];
	char event[64];
	char *data; /* the data lines joined by '\n' */
	cJSON *json;
};

/*
 * The next event record within timeout_ms; comment lines (": hb") on the
 * way are counted in *comments (may be NULL). 0, or -1 on timeout or a
 * closed stream.
 */
int th_sse_next(struct th_http_conn *c, struct th_sse_event *ev, int timeout_ms, int *comments);
void th_sse_event_free(struct th_sse_event *ev);

#endif
