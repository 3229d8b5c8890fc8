/*
 * The HTTP server: libwebsockets 4.1 on one service thread. Every request
 * is read completely (headers, then a capped body) before anything is
 * written, and every response goes out from LWS_CALLBACK_HTTP_WRITEABLE,
 * one lws_write() per callback, so no route ever blocks the thread: a slow
 * client only slows itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "lf/cfg.h"
#include "lf/log.h"

static struct apigw *
gw_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void
count_status(struct apigw *gw, int status)
{
	char text[8];
	snprintf(text, sizeof(text), "%d", status);
	lf_metric_inc(lf_metrics_get(gw->metrics, LF_METRIC_COUNTER, "http_requests_total",
	                             "HTTP requests answered, by status", "status", text));
}

void
http_respond(struct pss *p, int status, const char *ctype, char *body, size_t len)
{
	struct apigw *gw = gw_of(p->wsi);
	free(p->body);
	if (body == NULL) {
		/* Out of memory while building the answer: say so, briefly. */
		status = 500;
		ctype = "application/json";
		body = strdup("{\"error\":\"out of memory\"}");
		len = body != NULL ? strlen(body) : 0;
	}
	p->status = status;
	p->ctype = ctype;
	p->body = body;
	p->body_len = len;
	p->body_off = 0;
	p->headers_done = false;
	p->state = PSS_REPLY;
	count_status(gw, status);
	lws_callback_on_writable(p->wsi);
}

void
http_error(struct pss *p, int status, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", text);
	char *body = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	http_respond(p, status, "application/json", body, body != NULL ? strlen(body) : 0);
}

static int
add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
           unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	                                   (const unsigned char *)value, (int)strlen(value), p,
	                                   end);
}

/* The response head (status line, headers, blank line) at *ptr, which it
 * advances; nothing is written yet. */
static int
build_headers(struct apigw *gw, struct pss *p, unsigned char **ptr, unsigned char *end)
{
	bool sse = p->state == PSS_SSE;
	char retry[16];
	snprintf(retry, sizeof(retry), "%d", p->retry_after);
	if (lws_add_http_common_headers(p->wsi, (unsigned)p->status, p->ctype,
	                                sse ? LWS_ILLEGAL_HTTP_CONTENT_LEN : p->body_len, ptr,
	                                end) != 0 ||
	    add_header(p->wsi, "cache-control:", sse ? "no-cache" : "no-store", ptr, end) != 0 ||
	    (p->allow != NULL && add_header(p->wsi, "allow:", p->allow, ptr, end) != 0) ||
	    (p->retry_after > 0 && add_header(p->wsi, "retry-after:", retry, ptr, end) != 0) ||
	    (p->www_authenticate &&
	     add_header(p->wsi, "www-authenticate:", "Bearer", ptr, end) != 0) ||
	    (p->close_after && add_header(p->wsi, "connection:", "close", ptr, end) != 0)) {
		return -1;
	}
	if (p->route.id == ROUTE_EVENTS && gw->cfg->cors_origin[0] != '\0' &&
	    add_header(p->wsi, "access-control-allow-origin:", gw->cfg->cors_origin, ptr, end) !=
	            0) {
		return -1;
	}
	/* Reverse proxies (nginx) would otherwise hold events back. */
	if (sse && add_header(p->wsi, "x-accel-buffering:", "no", ptr, end) != 0) {
		return -1;
	}
	return lws_finalize_http_header(p->wsi, ptr, end) != 0 ? -1 : 0;
}

static int
write_headers(struct apigw *gw, struct pss *p)
{
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *ptr = start;
	if (build_headers(gw, p, &ptr, buf + sizeof(buf) - 1) != 0) {
		return -1;
	}
	int len = (int)(ptr - start);
	return lws_write(p->wsi, start, (size_t)len, LWS_WRITE_HTTP_HEADERS) != len ? -1 : 0;
}

/*
 * The head and a body that fits in one chunk with it, in one write: one
 * send() and one TCP segment per small response instead of two, which
 * is half of what such a response costs the lws thread (perf, the apigw
 * benchmark). lws 4.1 passes HTTP/1 writes through as they are (only its
 * h2 role frames them, and apigw serves no h2: no TLS, no ALPN). Returns
 * 1 when it did not fit (nothing written), 0 when sent, -1 on error.
 */
static int
write_head_and_body(struct apigw *gw, struct pss *p)
{
	unsigned char *start = gw->wbuf + LWS_PRE, *ptr = start;
	unsigned char *end = gw->wbuf + sizeof(gw->wbuf);
	if (p->body_len > HTTP_CHUNK / 2 || build_headers(gw, p, &ptr, end - 1) != 0 ||
	    (size_t)(end - ptr) < p->body_len) {
		return 1;
	}
	memcpy(ptr, p->body, p->body_len);
	size_t len = (size_t)(ptr - start) + p->body_len;
	if (lws_write(p->wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int)len) {
		return -1;
	}
	p->body_off = p->body_len;
	return 0;
}

/* One step of a response: the head (with the body when small), then one
 * chunk per callback. */
static int
write_reply(struct apigw *gw, struct pss *p)
{
	bool last = false;
	if (!p->headers_done) {
		int rc = write_head_and_body(gw, p);
		if (rc < 0 || (rc > 0 && write_headers(gw, p) != 0)) {
			return -1;
		}
		p->headers_done = true;
		if (rc > 0) {
			lws_callback_on_writable(p->wsi);
			return 0;
		}
		last = true;
	} else {
		size_t chunk = p->body_len - p->body_off;
		chunk = chunk < HTTP_CHUNK ? chunk : HTTP_CHUNK;
		last = p->body_off + chunk == p->body_len;
		memcpy(gw->wbuf + LWS_PRE, p->body + p->body_off, chunk);
		if (lws_write(p->wsi, gw->wbuf + LWS_PRE, chunk,
		              last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)chunk) {
			return -1;
		}
		p->body_off += chunk;
	}
	if (!last) {
		lws_callback_on_writable(p->wsi);
		return 0;
	}
	free(p->body);
	p->body = NULL;
	p->state = PSS_IDLE;
	if (p->close_after || lws_http_transaction_completed(p->wsi)) {
		return -1;
	}
	return 0;
}

/* ---- SSE ----------------------------------------------------------------- */

static void
sse_unlink(struct apigw *gw, struct pss *p)
{
	if (!p->sse_linked) {
		return;
	}
	for (struct pss **pp = &gw->sse_clients; *pp != NULL; pp = &(*pp)->sse_next) {
		if (*pp == p) {
			*pp = p->sse_next;
			break;
		}
	}
	p->sse_linked = false;
	gw->n_sse--;
	lf_metric_set(gw->m_sse_clients, (int64_t)gw->n_sse);
}

void
http_sse_start(struct apigw *gw, struct pss *p)
{
	p->state = PSS_SSE;
	p->status = 200;
	p->ctype = "text/event-stream";
	p->headers_done = false;
	p->sse_next = gw->sse_clients;
	gw->sse_clients = p;
	p->sse_linked = true;
	p->last_write_ms = lf_now_ms();
	gw->n_sse++;
	lf_metric_set(gw->m_sse_clients, (int64_t)gw->n_sse);
	count_status(gw, 200);
	lws_callback_on_writable(p->wsi);
}

static int
write_sse(struct apigw *gw, struct pss *p)
{
	if (!p->headers_done) {
		if (write_headers(gw, p) != 0) {
			return -1;
		}
		p->headers_done = true;
		/* An event stream is idle by nature: no lws timeout applies. */
		lws_http_mark_sse(p->wsi);
		lws_callback_on_writable(p->wsi);
		return 0;
	}
	struct abuf *b = &gw->sse_buf;
	abuf_reset(b);
	/* lws_write() needs LWS_PRE bytes of headroom before the data. */
	static const unsigned char pre[LWS_PRE];
	abuf_add(b, pre, LWS_PRE);
	uint64_t missed = sse_read(&p->cursor, &gw->model.ring, b, LWS_PRE + HTTP_CHUNK);
	if (missed > 0) {
		lf_metric_inc(gw->m_sse_overflows);
		lf_metric_add(gw->m_sse_missed, (int64_t)missed);
	}
	if (b->len == LWS_PRE && p->hb_due) {
		abuf_str(b, ": hb\n\n");
	}
	p->hb_due = false;
	if (b->failed) {
		return -1;
	}
	if (b->len > LWS_PRE) {
		size_t n = b->len - LWS_PRE;
		if (lws_write(p->wsi, (unsigned char *)b->data + LWS_PRE, n, LWS_WRITE_HTTP) !=
		    (int)n) {
			return -1;
		}
		p->last_write_ms = lf_now_ms();
	}
	if (sse_pending(&p->cursor, &gw->model.ring)) {
		lws_callback_on_writable(p->wsi);
	}
	return 0;
}

void
http_sse_wake(struct apigw *gw)
{
	for (struct pss *p = gw->sse_clients; p != NULL; p = p->sse_next) {
		if (p->headers_done && sse_pending(&p->cursor, &gw->model.ring)) {
			lws_callback_on_writable(p->wsi);
		}
	}
}

/* A comment on every quiet stream, so that a vanished client is noticed
 * (only a write finds out) and proxies keep the connection. */
static void
heartbeat(lws_sorted_usec_list_t *sul)
{
	struct apigw *gw = lws_container_of(sul, struct apigw, hb_sul);
	int64_t now = lf_now_ms(), every = gw->cfg->sse_heartbeat;
	for (struct pss *p = gw->sse_clients; p != NULL; p = p->sse_next) {
		if (p->headers_done && now - p->last_write_ms >= every - every / 4) {
			p->hb_due = true;
			lws_callback_on_writable(p->wsi);
		}
	}
	lws_sul_schedule(gw->lws, 0, &gw->hb_sul, heartbeat, every / 2 * LWS_US_PER_MS);
}

/* ---- clients that left -------------------------------------------------- */

/*
 * lws 4.1 does not notice that the client of an event stream, or of a
 * request still waiting for routerlink, has closed or sent more bytes: in
 * its DOING_TRANSACTION state it leaves POLLIN set without reading, and
 * spins (libwebsockets issue 2455) until a write fails. So look ourselves,
 * with a peek: EOF or an error means gone; for an event stream, bytes mean
 * a client that breaks the protocol (it has nothing more to send).
 */
static bool
client_left(struct lws *wsi, bool any_input)
{
	int fd = lws_get_socket_fd(wsi);
	char c;
	if (fd < 0) {
		return false;
	}
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
	}
	return n == 0 || any_input;
}

void
http_check_clients(struct apigw *gw)
{
	/* LWS_TO_KILL_ASYNC closes on the next service turn, so the lists
	 * are not changed under this walk. */
	for (struct pss *p = gw->sse_clients; p != NULL; p = p->sse_next) {
		if (p->headers_done && client_left(p->wsi, true)) {
			lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		}
	}
	for (struct pss *p = gw->rpc_waiting; p != NULL; p = p->rpc_next) {
		if (client_left(p->wsi, false)) {
			lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		}
	}
}

static void
check_clients(lws_sorted_usec_list_t *sul)
{
	struct apigw *gw = lws_container_of(sul, struct apigw, check_sul);
	http_check_clients(gw);
	lws_sul_schedule(gw->lws, 0, &gw->check_sul, check_clients,
	                 CLIENT_CHECK_MS * LWS_US_PER_MS);
}

/* ---- RPC waits ----------------------------------------------------------- */

static void
rpc_unlink(struct apigw *gw, struct pss *p)
{
	for (struct pss **pp = &gw->rpc_waiting; *pp != NULL; pp = &(*pp)->rpc_next) {
		if (*pp == p) {
			*pp = p->rpc_next;
			lws_sul_cancel(&p->rpc_sul);
			return;
		}
	}
}

static void
rpc_timeout(lws_sorted_usec_list_t *sul)
{
	struct pss *p = lws_container_of(sul, struct pss, rpc_sul);
	struct apigw *gw = gw_of(p->wsi);
	rpc_unlink(gw, p);
	lf_metric_inc(gw->m_rpc_timeouts);
	char text[96];
	rpc_timeout_error(gw->cfg->rpc_timeout, text, sizeof(text));
	LOG_WARN("%s for %s: %s", rpc_method_name(p->method), p->route.mac, text);
	http_error(p, 504, text);
}

void
http_rpc_wait(struct apigw *gw, struct pss *p, uint64_t seq)
{
	p->state = PSS_WAIT_RPC;
	p->rpc_seq = seq;
	p->rpc_next = gw->rpc_waiting;
	gw->rpc_waiting = p;
	/* Our own timer answers; lws must not close the connection first. */
	lws_set_timeout(p->wsi, NO_PENDING_TIMEOUT, 0);
	lws_sul_schedule(gw->lws, 0, &p->rpc_sul, rpc_timeout,
	                 gw->cfg->rpc_timeout * LWS_US_PER_MS);
}

void
http_rpc_reply(struct apigw *gw, uint64_t seq, const char *payload, size_t len)
{
	struct pss *p = gw->rpc_waiting;
	while (p != NULL && p->rpc_seq != seq) {
		p = p->rpc_next;
	}
	if (p == NULL) {
		return; /* its client left, or it already timed out */
	}
	rpc_unlink(gw, p);
	char *body = NULL;
	int status = rpc_reply_http(p->method, payload, len, &body);
	http_respond(p, status, "application/json", body, body != NULL ? strlen(body) : 0);
}

/* ---- requests ------------------------------------------------------------ */

/* A header by token, or -1 when absent; longer than cap counts as absent
 * with *too_long set. */
static int
token_header(struct lws *wsi, enum lws_token_indexes t, char *out, int cap, bool *too_long)
{
	int len = lws_hdr_total_length(wsi, t);
	if (len <= 0) {
		return -1;
	}
	if (len >= cap) {
		*too_long = true;
		return -1;
	}
	return lws_hdr_copy(wsi, out, cap, t) < 0 ? -1 : 0;
}

static int
custom_header(struct lws *wsi, const char *name, char *out, int cap, bool *too_long)
{
	int nlen = (int)strlen(name);
	int len = lws_hdr_custom_length(wsi, name, nlen);
	if (len < 0) {
		return -1;
	}
	if (len >= cap) {
		*too_long = true;
		return -1;
	}
	return lws_hdr_custom_copy(wsi, out, cap, name, nlen) < 0 ? -1 : 0;
}

static const char *
method_name(int m)
{
	static const char *const names[] = {"GET",   "POST",   "OPTIONS", "PUT",
	                                    "PATCH", "DELETE", "CONNECT", "HEAD"};
	return m >= 0 && m < (int)(sizeof(names) / sizeof(names[0])) ? names[m] : "UNKNOWN";
}

/* Path, method, auth and MAC, in that order: nothing about a gateway is
 * told to a client without the key. */
static void
decide(struct apigw *gw, struct pss *p)
{
	if (p->route.status != 0) {
		p->allow = p->route.allow;
		http_error(p, p->route.status, p->route.error);
	} else if (p->auth != AUTH_OK) {
		lf_metric_inc(
		        lf_metrics_get(gw->metrics, LF_METRIC_COUNTER, "http_auth_refused_total",
		                       "Requests refused for their API key, by reason", "reason",
		                       p->auth == AUTH_MISSING   ? "missing"
		                       : p->auth == AUTH_INVALID ? "invalid"
		                                                 : "disabled"));
		p->www_authenticate = p->auth != AUTH_DISABLED;
		http_error(p, p->auth == AUTH_DISABLED ? 403 : 401, auth_error(p->auth));
	} else if (p->route.has_mac && !p->route.mac_ok) {
		http_error(p, 400, ROUTES_BAD_MAC);
	} else if (p->state == PSS_BODY) {
		handlers_body(gw, p);
	} else {
		handlers_request(gw, p);
	}
}

/*
 * The request's headers, counted over the ones lws knows by name (Host,
 * Cookie, User-Agent, ... and the URI): past HEADERS_MAX a 400 says why.
 * Headers lws has no name for cannot be counted through the 4.1 API; all
 * headers together are bounded by max_http_header_data (HEADERS_BUDGET),
 * past which lws closes the connection without an answer.
 */
static size_t
known_headers_len(struct lws *wsi)
{
	size_t n = 0;
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		n += len > 0 ? (size_t)len : 0;
	}
	return n;
}

static void
pss_reset(struct pss *p, struct lws *wsi)
{
	free(p->body);
	abuf_free(&p->req);
	memset(p, 0, sizeof(*p));
	p->wsi = wsi;
}

static int
on_http(struct apigw *gw, struct pss *p, struct lws *wsi, const char *path)
{
	pss_reset(p, wsi);
	char *uri = NULL;
	int uri_len = 0;
	const char *method = method_name(lws_http_get_uri_and_method(wsi, &uri, &uri_len));
	char key[HTTP_KEY_MAX], authz[HTTP_KEY_MAX], length[32], te[64];
	bool key_long = false, authz_long = false, id_long = false, len_long = false,
	     te_long = false;
	bool has_key = custom_header(wsi, "x-api-key:", key, sizeof(key), &key_long) == 0;
	bool has_authz = token_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof(authz),
	                              &authz_long) == 0;
	p->has_last_event_id = custom_header(wsi, "last-event-id:", p->last_event_id,
	                                     sizeof(p->last_event_id), &id_long) == 0;
	bool has_length = token_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, length, sizeof(length),
	                               &len_long) == 0 ||
	                  len_long;
	bool chunked =
	        token_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof(te), &te_long) == 0;
	/* lws copies "mac=<value>" into the buffer and points past the name. */
	char arg[96];
	const char *mac_arg = lws_get_urlarg_by_name(wsi, "mac=", arg, sizeof(arg));
	p->has_mac_filter = mac_arg != NULL;
	if (mac_arg != NULL) {
		lf_strlcpy(p->mac_filter, mac_arg, sizeof(p->mac_filter));
	}
	routes_match(method, path, &p->route);
	p->auth = auth_check(&gw->keys, p->route.auth, has_key ? key : NULL,
	                     has_authz ? authz : NULL);
	LOG_DEBUG("http: %s %.100s", method, path);
	/* Headers beyond lws's own budget (max_http_header_data) never get
	 * here: lws closes those connections. These are the ones we read. */
	const char *too_long = key_long     ? "X-API-Key"
	                       : authz_long ? "Authorization"
	                       : id_long    ? "Last-Event-ID"
	                       : te_long    ? "Transfer-Encoding"
	                                    : NULL;
	struct request_head head = {.method = method,
	                            .content_length = has_length && !len_long ? length : NULL,
	                            .content_length_long = len_long,
	                            .chunked = chunked,
	                            .too_long = too_long,
	                            .headers_len = known_headers_len(wsi),
	                            .max_body = gw->cfg->max_body};
	struct request_verdict verdict;
	request_check(&head, &verdict);
	if (verdict.status != 0) {
		p->close_after = true;
		http_error(p, verdict.status, verdict.error);
	} else if (verdict.body_len > 0) {
		p->state = PSS_BODY; /* decided once the whole body is in */
	} else {
		decide(gw, p);
	}
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	struct apigw *gw = wsi != NULL && lws_get_context(wsi) != NULL ? gw_of(wsi) : NULL;
	if (gw == NULL) {
		/* Not ours (a wsi without our context): lws's defaults apply. */
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(gw, p, wsi, in != NULL ? in : "");
	case LWS_CALLBACK_HTTP_BODY:
		if (p->state == PSS_BODY && p->req.len + len <= (size_t)gw->cfg->max_body) {
			abuf_add(&p->req, in, len);
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (p->state == PSS_BODY) {
			decide(gw, p);
			abuf_free(&p->req);
		}
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (p->state == PSS_REPLY) {
			return write_reply(gw, p);
		}
		if (p->state == PSS_SSE) {
			return write_sse(gw, p);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		/* Either may be the last we hear of this pss. */
		if (p != NULL) {
			sse_unlink(gw, p);
			rpc_unlink(gw, p);
			free(p->body);
			abuf_free(&p->req);
			p->body = NULL;
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (gw->lws != NULL) {
			apigw_drain_inbox(gw);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
        {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws's own lines go to our log; the one it prints for every SSE stream
 * on HTTP/1 ("lws_mux_mark_immortal: not h2 substream") is noise. */
static void
lws_log(int level, const char *line)
{
	size_t len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' ')) {
		len--;
	}
	if (strstr(line, "not h2 substream") != NULL) {
		return;
	}
	if (level & LLL_ERR) {
		LOG_WARN("lws: %.*s", (int)len, line);
	} else {
		LOG_DEBUG("lws: %.*s", (int)len, line);
	}
}

int
http_start(struct apigw *gw)
{
	char host[256];
	uint16_t port = 0;
	if (lf_cfg_split_hostport(gw->cfg->http_bind, host, sizeof(host), &port) != 0) {
		LOG_ERROR("http_bind %s: not host:port", gw->cfg->http_bind);
		return -1;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host[0] != '\0' ? host : NULL;
	info.protocols = protocols;
	info.user = gw;
	info.server_string = "lorafleet-apigw";
	info.keepalive_timeout = (int)(gw->cfg->http_timeout / 1000);
	info.timeout_secs = (unsigned)(gw->cfg->http_timeout / 1000);
	/* Generous for API clients; past it lws closes the connection. */
	info.max_http_header_data = HEADERS_BUDGET;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	/* Every SSE client is a descriptor: allow what the system allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	gw->lws = lws_create_context(&info);
	if (gw->lws == NULL) {
		LOG_ERROR("http: cannot listen on %s", gw->cfg->http_bind);
		return -1;
	}
	int bound = lws_get_vhost_listen_port(lws_get_vhost_by_name(gw->lws, "default"));
	gw->http_port = (uint16_t)bound;
	LOG_INFO("http listening on %s:%d", host[0] != '\0' ? host : "*", bound);
	lws_sul_schedule(gw->lws, 0, &gw->hb_sul, heartbeat,
	                 gw->cfg->sse_heartbeat / 2 * LWS_US_PER_MS);
	lws_sul_schedule(gw->lws, 0, &gw->check_sul, check_clients,
	                 CLIENT_CHECK_MS * LWS_US_PER_MS);
	return 0;
}

void
http_stop(struct apigw *gw)
{
	if (gw->lws == NULL) {
		return;
	}
	lws_sul_cancel(&gw->hb_sul);
	lws_sul_cancel(&gw->check_sul);
	lws_context_destroy(gw->lws);
	gw->lws = NULL;
}
