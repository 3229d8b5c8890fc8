/*
 * An HTTP request to apigw, as http.c and handlers.c take it apart once
 * lws has read it: the framing (request_check: header sizes,
 * Transfer-Encoding, Content-Length, body limit), the route
 * (routes_match), the API key (auth_check), the ?mac= filter
 * (routes_parse_mac), Last-Event-ID (sse_cursor_start, then the stream
 * that client reads) and a sign request's body (rpc_sign_request).
 *
 * Input, like HTTP/1.1 without the version:
 *   METHOD SP PATH[?QUERY] LF
 *   Name: value LF          (any number)
 *   LF
 *   body
 * Header values are cut where lws would cut them (HTTP_KEY_MAX, ...).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "apigw_checks.h"
#include "auth.h"
#include "fuzz.h"
#include "http_internal.h"
#include "request.h"
#include "routes.h"
#include "rpc.h"
#include "sse.h"

#define MAX_BODY   4096 /* [apigw] max_body's default */
#define FIRST_ID   1000000
#define RING_CAP   4
#define EUI_EVENTS 0xb827ebfffe6a3c10ULL

static struct auth_keys keys;
static struct sse_ring ring;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	auth_init(&keys, "read-key", "write-key", true);
	/* Six events in a ring of four: two have fallen out, so that
	 * Last-Event-ID can resume, overflow or be unknown. */
	FUZZ_CHECK(sse_ring_init(&ring, RING_CAP, FIRST_ID) == 0);
	for (int i = 0; i < 6; i++) {
		FUZZ_CHECK(sse_ring_push(&ring, i % 2 ? "uplink" : "hotspot",
		                         "{\"type\":\"uplink\",\"mac\":\"b827ebfffe6a3c10\"}",
		                         i != 3, i == 4 ? 1 : EUI_EVENTS) != 0);
	}
	return 0;
}

struct request {
	char *method, *path, *query;
	/* The headers http.c reads; NULL when absent. */
	char *x_api_key, *authorization, *last_event_id, *content_length, *transfer_encoding;
	size_t headers_len;
	const uint8_t *body;
	size_t body_len;
};

static void
request_free(struct request *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	free(r->x_api_key);
	free(r->authorization);
	free(r->last_event_id);
	free(r->content_length);
	free(r->transfer_encoding);
}

static const uint8_t *
line_end(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	return nl != NULL ? nl : end;
}

static void
read_header(struct request *r, const uint8_t *p, const uint8_t *eol)
{
	const uint8_t *colon = memchr(p, ':', (size_t)(eol - p));
	if (colon == NULL) {
		return;
	}
	char *name = fuzz_strndup(p, (size_t)(colon - p));
	const uint8_t *v = colon + 1;
	while (v < eol && (*v == ' ' || *v == '\t')) {
		v++;
	}
	/* lws hands values over as C strings. */
	char *value = fuzz_strndup(v, (size_t)(eol - v));
	r->headers_len += strlen(value);
	char **slot = strcasecmp(name, "x-api-key") == 0           ? &r->x_api_key
	              : strcasecmp(name, "authorization") == 0     ? &r->authorization
	              : strcasecmp(name, "last-event-id") == 0     ? &r->last_event_id
	              : strcasecmp(name, "content-length") == 0    ? &r->content_length
	              : strcasecmp(name, "transfer-encoding") == 0 ? &r->transfer_encoding
	                                                           : NULL;
	if (slot != NULL) {
		free(*slot);
		*slot = value;
	} else {
		free(value);
	}
	free(name);
}

static void
parse_request(struct request *r, const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *eol = line_end(data, end);
	const uint8_t *sp = memchr(data, ' ', (size_t)(eol - data));
	r->method = fuzz_strndup(data, sp != NULL ? (size_t)(sp - data) : (size_t)(eol - data));
	const uint8_t *target = sp != NULL ? sp + 1 : eol;
	const uint8_t *q = memchr(target, '?', (size_t)(eol - target));
	r->path = fuzz_strndup(target, (size_t)((q != NULL ? q : eol) - target));
	r->query = q != NULL ? fuzz_strndup(q + 1, (size_t)(eol - q - 1)) : NULL;
	r->headers_len = strlen(r->path);
	const uint8_t *p = eol < end ? eol + 1 : end;
	while (p < end && *p != '\n') {
		eol = line_end(p, end);
		read_header(r, p, eol);
		p = eol < end ? eol + 1 : end;
	}
	r->body = p < end ? p + 1 : end;
	r->body_len = (size_t)(end - r->body);
}

/* lws_hdr_copy into a buffer of cap bytes: too long means absent. */
static const char *
capped(const char *value, size_t cap, bool *too_long)
{
	if (value == NULL || value[0] == '\0') {
		return NULL; /* lws reports an empty header as absent */
	}
	if (strlen(value) >= cap) {
		*too_long = true;
		return NULL;
	}
	return value;
}

/* lws_get_urlarg_by_name(wsi, "mac=", arg, 96), then into mac_filter[64]. */
static bool
mac_arg(const char *query, char out[64])
{
	for (const char *a = query; a != NULL && *a != '\0';) {
		size_t n = strcspn(a, "&");
		if (n >= 4 && strncmp(a, "mac=", 4) == 0) {
			char arg[96];
			snprintf(arg, sizeof(arg), "%.*s", (int)(n - 4), a + 4);
			lf_strlcpy(out, arg, 64);
			return true;
		}
		a += n + (a[n] == '&');
	}
	return false;
}

static void
check_route(const struct request *r, struct route_match *m)
{
	routes_match(r->method, r->path, m);
	FUZZ_CHECK(m->status == 0 || m->status == 404 || m->status == 405);
	FUZZ_CHECK(m->status != 405 || m->allow != NULL);
	FUZZ_CHECK(m->status == 0 || m->error[0] != '\0');
	if (m->status == 0 && m->has_mac && m->mac_ok) {
		uint64_t again;
		FUZZ_CHECK(strlen(m->mac) == 16 && routes_parse_mac(m->mac, &again) == 0 &&
		           again == m->eui);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request r = {0};
	parse_request(&r, data, size);

	bool key_long = false, authz_long = false, id_long = false, len_long = false,
	     te_long = false;
	const char *key = capped(r.x_api_key, HTTP_KEY_MAX, &key_long);
	const char *authz = capped(r.authorization, HTTP_KEY_MAX, &authz_long);
	const char *last_id = capped(r.last_event_id, 32, &id_long);
	const char *length = capped(r.content_length, 32, &len_long);
	bool chunked = capped(r.transfer_encoding, 64, &te_long) != NULL;

	struct route_match m;
	check_route(&r, &m);
	enum auth_result auth = auth_check(&keys, m.auth, key, authz);
	FUZZ_CHECK(auth == AUTH_OK || auth_error(auth) != NULL);

	struct request_head head = {.method = r.method,
	                            .content_length = length,
	                            .content_length_long = len_long,
	                            .chunked = chunked,
	                            .too_long = key_long     ? "X-API-Key"
	                                        : authz_long ? "Authorization"
	                                        : id_long    ? "Last-Event-ID"
	                                        : te_long    ? "Transfer-Encoding"
	                                                     : NULL,
	                            .headers_len = r.headers_len,
	                            .max_body = MAX_BODY};
	struct request_verdict v;
	request_check(&head, &v);
	FUZZ_CHECK(v.status == 0 || v.status == 400 || v.status == 411 || v.status == 413);
	FUZZ_CHECK(v.status == 0 ? v.body_len <= MAX_BODY : v.error[0] != '\0');

	if (v.status == 0 && v.body_len > 0) {
		/* LWS_CALLBACK_HTTP_BODY: what arrives, up to max_body. */
		size_t n = r.body_len < v.body_len ? r.body_len : v.body_len;
		char *body = malloc(n + 1);
		FUZZ_CHECK(body != NULL);
		memcpy(body, r.body, n);
		char err[160] = "";
		char *json = rpc_sign_request(m.mac_ok ? m.mac : "b827ebfffe6a3c10", body, n, err,
		                              sizeof(err));
		if (json != NULL) {
			cJSON *req = cJSON_Parse(json);
			FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req, "mac")) &&
			           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req, "data")));
			cJSON_Delete(req);
		} else {
			FUZZ_CHECK(err[0] != '\0');
		}
		free(json);
		free(body);
	}

	char filter_text[64];
	bool has_filter = mac_arg(r.query, filter_text);
	uint64_t filter = 0;
	if (has_filter && routes_parse_mac(filter_text, &filter) != 0) {
		has_filter = false; /* do_events answers 400 */
	}
	struct sse_cursor c;
	sse_cursor_start(&c, &ring, last_id, has_filter, filter);
	check_sse_stream(&c, &ring);
	request_free(&r);
	return 0;
}
