/* The tests' HTTP/1.1 and SSE client. */
#include "th_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000

int
th_http_connect(struct th_http_conn *c, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "harness: http connect to %u: %s\n", port, strerror(errno));
		if (c->fd >= 0) {
			close(c->fd);
		}
		c->fd = -1;
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

void
th_http_close(struct th_http_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
	}
	c->fd = -1;
	c->len = 0;
}

int
th_http_send_raw(struct th_http_conn *c, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
th_http_send(struct th_http_conn *c, const char *method, const char *path, const char *extra,
             const char *body, size_t body_len)
{
	char head[16384]; /* room for an oversized-header test */
	int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s", method,
	                 path, (unsigned)c->port, extra != NULL ? extra : "");
	if (body != NULL && n > 0 && (size_t)n < sizeof(head)) {
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n",
		              body_len);
	}
	if (n < 0 || (size_t)n + 2 >= sizeof(head)) {
		return -1;
	}
	memcpy(head + n, "\r\n", 2);
	if (th_http_send_raw(c, head, (size_t)n + 2) != 0) {
		return -1;
	}
	return body != NULL && body_len > 0 ? th_http_send_raw(c, body, body_len) : 0;
}

/* Receives more bytes; 1 on data, 0 when the peer closed, -1 on timeout. */
static int
fill(struct th_http_conn *c, int64_t deadline)
{
	if (c->fd < 0 || c->len == sizeof(c->buf)) {
		return 0;
	}
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		if (left <= 0) {
			return -1;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR) {
			continue;
		}
		if (rc <= 0) {
			return -1;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return 0;
		}
		c->len += (size_t)n;
		return 1;
	}
}

static void
consume(struct th_http_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

const char *
th_http_header(const struct th_http_resp *r, const char *name)
{
	static char value[1024];
	size_t nlen = strlen(name);
	for (const char *line = r->head; line != NULL && *line != '\0';) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
		if (len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			while (*v == ' ') {
				v++;
			}
			snprintf(value, sizeof(value), "%.*s", (int)(len - (size_t)(v - line)), v);
			return value;
		}
		line = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

int
th_http_read_head(struct th_http_conn *c, struct th_http_resp *r, int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	char *end;
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
		if (fill(c, deadline) <= 0) {
			fprintf(stderr, "harness: no complete response head (%zu bytes)\n", c->len);
			return -1;
		}
	}
	size_t head_len = (size_t)(end - c->buf);
	char *status_end = memmem(c->buf, head_len, "\r\n", 2);
	if (status_end == NULL || sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1) {
		fprintf(stderr, "harness: bad status line\n");
		return -1;
	}
	size_t hlen = head_len - (size_t)(status_end + 2 - c->buf);
	r->head = strndup(status_end + 2, hlen);
	consume(c, head_len + 4);
	return 0;
}

int
th_http_read(struct th_http_conn *c, struct th_http_resp *r, int timeout_ms)
{
	if (th_http_read_head(c, r, timeout_ms) != 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	const char *cl = th_http_header(r, "content-length");
	size_t want = cl != NULL ? strtoul(cl, NULL, 10) : SIZE_MAX;
	char *body = NULL;
	size_t have = 0;
	for (;;) {
		size_t take = c->len < want - have ? c->len : want - have;
		char *grown = realloc(body, have + take + 1);
		if (grown == NULL) {
			free(body);
			return -1;
		}
		body = grown;
		memcpy(body + have, c->buf, take);
		have += take;
		body[have] = '\0';
		consume(c, take);
		if (have == want) {
			break;
		}
		int rc = fill(c, deadline);
		if (rc == 0 && cl == NULL) {
			break; /* the body ran to the close */
		}
		if (rc <= 0) {
			fprintf(stderr, "harness: body cut at %zu of %zu bytes\n", have, want);
			free(body);
			return -1;
		}
	}
	r->body = body;
	r->body_len = have;
	r->json = cJSON_Parse(body);
	return 0;
}

bool
th_http_closed(struct th_http_conn *c, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	for (;;) {
		c->len = 0;
		int rc = fill(c, deadline);
		if (rc == 0) {
			return true;
		}
		if (rc < 0) {
			return false;
		}
	}
}

int
th_http_request(uint16_t port, const char *method, const char *path, const char *extra,
                const char *body, struct th_http_resp *r)
{
	static struct th_http_conn c; /* 64 KiB: not on the stack */
	memset(r, 0, sizeof(*r));
	if (th_http_connect(&c, port) != 0) {
		return -1;
	}
	int rc = th_http_send(&c, method, path, extra, body, body != NULL ? strlen(body) : 0);
	if (rc == 0) {
		rc = th_http_read(&c, r, DEFAULT_TIMEOUT_MS);
	}
	th_http_close(&c);
	return rc;
}

void
th_http_resp_free(struct th_http_resp *r)
{
	free(r->head);
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

void
th_sse_event_free(struct th_sse_event *ev)
{
	free(ev->data);
	cJSON_Delete(ev->json);
	memset(ev, 0, sizeof(*ev));
}

/* One line (without its '\n') into out; 0, or -1 on timeout/close. */
static int
next_line(struct th_http_conn *c, char *out, size_t cap, int64_t deadline)
{
	char *nl;
	while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (fill(c, deadline) <= 0) {
			return -1;
		}
	}
	size_t len = (size_t)(nl - c->buf);
	snprintf(out, cap, "%.*s", (int)len, c->buf);
	consume(c, len + 1);
	return 0;
}

int
th_sse_next(struct th_http_conn *c, struct th_sse_event *ev, int timeout_ms, int *comments)
{
	memset(ev, 0, sizeof(*ev));
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	static char line[TH_HTTP_BUF];
	bool any = false;
	for (;;) {
		if (next_line(c, line, sizeof(line), deadline) != 0) {
			th_sse_event_free(ev);
			return -1;
		}
		if (line[0] == '\0') {
			if (any) {
				break;
			}
			continue;
		}
		if (line[0] == ':') {
			if (comments != NULL) {
				(*comments)++;
			}
			continue;
		}
		any = true;
		if (strncmp(line, "id: ", 4) == 0) {
			ev->has_id = true;
			snprintf(ev->id, sizeof(ev->id), "%s", line + 4);
		} else if (strncmp(line, "event: ", 7) == 0) {
			snprintf(ev->event, sizeof(ev->event), "%s", line + 7);
		} else if (strncmp(line, "data: ", 6) == 0) {
			size_t old = ev->data != NULL ? strlen(ev->data) : 0;
			size_t add = strlen(line + 6);
			char *grown = realloc(ev->data, old + add + 2);
			if (grown == NULL) {
				th_sse_event_free(ev);
				return -1;
			}
			ev->data = grown;
			if (old > 0) {
				ev->data[old++] = '\n';
			}
			memcpy(ev->data + old, line + 6, add + 1);
		}
	}
	ev->json = ev->data != NULL ? cJSON_Parse(ev->data) : NULL;
	return 0;
}
