/*
 * The SSE clients: M connections to /events, read by one thread with
 * epoll (level-triggered, non-blocking sockets). Each client parses its
 * stream line by line (id:, event:, data:, comments, blank line = end of
 * a record) and checks its own order: the seqs of the uplink events must
 * come one after the other, each once, with consecutive ids.
 *
 * The reader holds `lock` while it handles one client's read, so the
 * driver reads consistent counters at any time and its timestamps
 * (written under the lock just before the publish) are visible to the
 * reader.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "agbench.h"

#define MAX_PHASES   64
#define LINE_MAX_LEN 4096         /* longer is a protocol error */
#define READ_BUF     (256 * 1024) /* per read(), shared by all clients */
#define EPOLL_BATCH  256

enum ev_kind { EV_NONE, EV_UPLINK, EV_OVERFLOW, EV_OTHER };

struct client {
	int fd;
	bool headers_done, closed;
	char hdr[1024]; /* the response head until its blank line */
	size_t hdr_len;
	char part[LINE_MAX_LEN]; /* a line cut by the end of a read */
	size_t part_len;
	/* the record being read */
	bool has_id, has_seq;
	uint64_t id, seq, eui;
	enum ev_kind kind;
	/* what the client has seen */
	uint64_t last_id; /* 0: none yet */
	uint64_t next_seq;
	int phase; /* of the latest seq; -1 none */
};

struct phase {
	uint64_t first, n;
	int64_t *t_pub; /* publish time per seq, 0 until published */
	struct hist *lat;
	struct agb_sse_stats st;
};

struct agb_sse {
	char host[64];
	int port;
	size_t nclients, gateways;
	uint64_t eui_base; /* seq's gateway is eui_base + seq % gateways */
	struct client *clients;
	int ep;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	char *rbuf;

	pthread_mutex_t lock;
	struct phase phases[MAX_PHASES];
	int nphases;
	struct agb_sse_totals tot;
};

static struct phase *
phase_of(struct agb_sse *s, struct client *c, uint64_t seq)
{
	/* Almost always the client's current phase or the next one. */
	for (int i = c->phase >= 0 ? c->phase : 0; i < s->nphases; i++) {
		struct phase *p = &s->phases[i];
		if (seq >= p->first && seq < p->first + p->n) {
			c->phase = i;
			return p;
		}
	}
	for (int i = 0; i < s->nphases; i++) {
		struct phase *p = &s->phases[i];
		if (seq >= p->first && seq < p->first + p->n) {
			return p;
		}
	}
	return NULL;
}

/* The phase that is being published (or drained): overflows go there. */
static struct phase *
current_phase(struct agb_sse *s)
{
	return s->nphases > 0 ? &s->phases[s->nphases - 1] : NULL;
}

static void
record_done(struct agb_sse *s, struct client *c, int64_t now)
{
	if (c->has_id) {
		if (c->last_id != 0 && c->id != c->last_id + 1) {
			struct phase *p = current_phase(s);
			if (p != NULL) {
				p->st.id_gaps++;
			}
		}
		c->last_id = c->id;
	}
	switch (c->kind) {
	case EV_UPLINK: {
		s->tot.events++;
		struct phase *p = c->has_seq ? phase_of(s, c, c->seq) : NULL;
		if (p == NULL) {
			s->tot.stray++;
			break;
		}
		if (c->eui != s->eui_base + c->seq % s->gateways) {
			p->st.wrong_mac++;
		}
		if (c->seq < c->next_seq) {
			p->st.backwards++;
			break;
		}
		p->st.missed += c->seq - c->next_seq;
		c->next_seq = c->seq + 1;
		p->st.delivered++;
		int64_t sent = p->t_pub[c->seq - p->first];
		if (sent > 0) {
			hist_add(p->lat, now - sent);
		}
		if (c->seq == p->first + p->n - 1) {
			p->st.clients_done++;
			if (now > p->st.last_done_ns) {
				p->st.last_done_ns = now;
			}
		}
		break;
	}
	case EV_OVERFLOW: {
		struct phase *p = current_phase(s);
		if (p != NULL) {
			p->st.overflows++;
		}
		/* The stream resumes at resume_id: not an id gap as well. */
		c->last_id = 0;
		break;
	}
	case EV_OTHER:
		s->tot.other_events++;
		break;
	case EV_NONE:
		break;
	}
	c->has_id = c->has_seq = false;
	c->kind = EV_NONE;
}

static bool
prefix(const char *line, size_t len, const char *pre, size_t plen)
{
	return len >= plen && memcmp(line, pre, plen) == 0;
}

/* Decimal digits at p (at most end); the value, *ok false when none. */
static uint64_t
parse_u64(const char *p, const char *end, bool *ok)
{
	uint64_t v = 0;
	const char *start = p;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	*ok = p > start;
	return v;
}

static int
hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The uplink's seq (metadata.tmst) and gateway (mac) from its JSON. */
static void
parse_data(struct client *c, const char *line, size_t len)
{
	const char *end = line + len;
	static const char tmst[] = "\"tmst\":", mac[] = "\"mac\":\"";
	const char *t = memmem(line, len, tmst, sizeof(tmst) - 1);
	if (t != NULL) {
		c->seq = parse_u64(t + sizeof(tmst) - 1, end, &c->has_seq);
	}
	const char *m = memmem(line, len, mac, sizeof(mac) - 1);
	c->eui = 0;
	if (m != NULL && end - (m + sizeof(mac) - 1) >= 16) {
		m += sizeof(mac) - 1;
		for (int i = 0; i < 16; i++) {
			int v = hexval(m[i]);
			if (v < 0) {
				c->eui = 0;
				break;
			}
			c->eui = c->eui << 4 | (uint64_t)v;
		}
	}
}

/* One line of the stream, without its end of line. */
static void
stream_line(struct agb_sse *s, struct client *c, const char *line, size_t len, int64_t now)
{
	if (len > 0 && line[len - 1] == '\r') {
		len--;
	}
	if (len == 0) {
		record_done(s, c, now);
	} else if (line[0] == ':') {
		s->tot.heartbeats++;
	} else if (prefix(line, len, "id: ", 4)) {
		c->id = parse_u64(line + 4, line + len, &c->has_id);
	} else if (prefix(line, len, "event: ", 7)) {
		const char *name = line + 7;
		size_t nlen = len - 7;
		c->kind = nlen == 6 && memcmp(name, "uplink", 6) == 0     ? EV_UPLINK
		          : nlen == 8 && memcmp(name, "overflow", 8) == 0 ? EV_OVERFLOW
		                                                          : EV_OTHER;
	} else if (prefix(line, len, "data: ", 6)) {
		if (c->kind == EV_UPLINK) {
			parse_data(c, line + 6, len - 6);
		}
	} else {
		s->tot.protocol_errors++;
	}
}

/* The response head: "HTTP/1.1 200" and headers up to a blank line.
 * Returns the bytes of buf it used, or -1 for a refusal. */
static long
head_bytes(struct agb_sse *s, struct client *c, const char *buf, size_t len)
{
	size_t take = len;
	if (take > sizeof(c->hdr) - 1 - c->hdr_len) {
		take = sizeof(c->hdr) - 1 - c->hdr_len;
	}
	memcpy(c->hdr + c->hdr_len, buf, take);
	size_t before = c->hdr_len;
	c->hdr_len += take;
	c->hdr[c->hdr_len] = '\0';
	char *end = strstr(c->hdr, "\r\n\r\n");
	if (end == NULL) {
		return c->hdr_len == sizeof(c->hdr) - 1 ? -1 : (long)take;
	}
	if (strncmp(c->hdr, "HTTP/1.1 200", 12) != 0) {
		fprintf(stderr, "agbench: /events answered: %.60s\n", c->hdr);
		return -1;
	}
	c->headers_done = true;
	s->tot.ready++;
	return (long)((size_t)(end + 4 - c->hdr) - before);
}

static void
client_close(struct agb_sse *s, struct client *c)
{
	if (c->closed) {
		return;
	}
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->closed = true;
	s->tot.closed++;
}

/* Everything the socket holds now, parsed; the partial line kept. */
static void
client_read(struct agb_sse *s, struct client *c)
{
	char *buf = s->rbuf;
	memcpy(buf, c->part, c->part_len);
	ssize_t n = read(c->fd, buf + c->part_len, READ_BUF - c->part_len);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			client_close(s, c);
		}
		return;
	}
	int64_t now = bench_now_ns();
	s->tot.bytes += (uint64_t)n;
	size_t len = c->part_len + (size_t)n, at = 0;
	c->part_len = 0;
	if (!c->headers_done) {
		long used = head_bytes(s, c, buf, len);
		if (used < 0) {
			s->tot.protocol_errors++;
			client_close(s, c);
			return;
		}
		at = (size_t)used;
	}
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		if (nl == NULL) {
			break;
		}
		stream_line(s, c, buf + at, (size_t)(nl - (buf + at)), now);
		at = (size_t)(nl - buf) + 1;
	}
	if (len - at > sizeof(c->part)) {
		s->tot.protocol_errors++;
		client_close(s, c);
		return;
	}
	memcpy(c->part, buf + at, len - at);
	c->part_len = len - at;
}

static void *
reader_main(void *arg)
{
	struct agb_sse *s = arg;
	struct epoll_event evs[EPOLL_BATCH];
	while (!atomic_load(&s->stop)) {
		int n = epoll_wait(s->ep, evs, EPOLL_BATCH, 100);
		if (n <= 0) {
			continue;
		}
		/* One client at a time, so the publisher's stamp never waits
		 * for a whole batch. */
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			pthread_mutex_lock(&s->lock);
			if (!c->closed) {
				client_read(s, c);
			}
			pthread_mutex_unlock(&s->lock);
		}
	}
	return NULL;
}

struct agb_sse *
agb_sse_new(const char *host, int port, size_t clients, size_t gateways, uint64_t eui_base)
{
	struct agb_sse *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->port = port;
	s->nclients = clients;
	s->gateways = gateways;
	s->eui_base = eui_base;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->clients = calloc(clients, sizeof(*s->clients));
	s->rbuf = malloc(READ_BUF);
	pthread_mutex_init(&s->lock, NULL);
	if (s->ep < 0 || s->clients == NULL || s->rbuf == NULL) {
		agb_sse_free(s);
		return NULL;
	}
	for (size_t i = 0; i < clients; i++) {
		s->clients[i].fd = -1;
		s->clients[i].closed = true; /* until connected */
		s->clients[i].phase = -1;
	}
	return s;
}

static int
client_connect(struct agb_sse *s, struct client *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	char req[160];
	int len =
	        snprintf(req, sizeof(req),
	                 "GET /events HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
	                 s->host, s->port);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Blocking until the request is out: on loopback the kernel completes
	 * the handshake at once, apigw accepts when it gets to it. */
	if (inet_pton(AF_INET, s->host, &sa.sin_addr) != 1 || c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(c->fd, req, (size_t)len) != len) {
		fprintf(stderr, "agbench: SSE client: cannot connect to %s:%d: %s\n", s->host,
		        s->port, strerror(errno));
		return -1;
	}
	int flags = fcntl(c->fd, F_GETFL);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		return -1;
	}
	c->closed = false;
	return 0;
}

int
agb_sse_start(struct agb_sse *s, int64_t timeout_ms)
{
	if (pthread_create(&s->thread, NULL, reader_main, s) != 0) {
		return -1;
	}
	s->started = true;
	for (size_t i = 0; i < s->nclients; i++) {
		pthread_mutex_lock(&s->lock);
		int rc = client_connect(s, &s->clients[i]);
		pthread_mutex_unlock(&s->lock);
		if (rc != 0) {
			return -1;
		}
	}
	int64_t deadline = bench_now_ns() + timeout_ms * 1000000LL;
	struct agb_sse_totals t;
	do {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
		agb_sse_totals(s, &t);
	} while (t.ready + t.closed < s->nclients && bench_now_ns() < deadline);
	if (t.ready < s->nclients) {
		fprintf(stderr, "agbench: only %zu of %zu event streams started (%llu closed)\n",
		        t.ready, s->nclients, (unsigned long long)t.closed);
		return -1;
	}
	return 0;
}

void
agb_sse_free(struct agb_sse *s)
{
	if (s == NULL) {
		return;
	}
	if (s->started) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; s->clients != NULL && i < s->nclients; i++) {
		if (s->clients[i].fd >= 0) {
			close(s->clients[i].fd);
		}
	}
	for (int i = 0; i < s->nphases; i++) {
		free(s->phases[i].t_pub);
		free(s->phases[i].lat);
	}
	if (s->ep >= 0) {
		close(s->ep);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->clients);
	free(s->rbuf);
	free(s);
}

int
agb_sse_phase_add(struct agb_sse *s, uint64_t first, uint64_t n)
{
	struct phase p = {.first = first, .n = n};
	p.t_pub = calloc(n > 0 ? n : 1, sizeof(*p.t_pub));
	p.lat = calloc(1, sizeof(*p.lat));
	p.st.expected = n * s->nclients;
	pthread_mutex_lock(&s->lock);
	int id = -1;
	if (s->nphases < MAX_PHASES && p.t_pub != NULL && p.lat != NULL) {
		id = s->nphases++;
		s->phases[id] = p;
	}
	pthread_mutex_unlock(&s->lock);
	if (id < 0) {
		free(p.t_pub);
		free(p.lat);
	}
	return id;
}

void
agb_sse_stamp(struct agb_sse *s, int phase, uint64_t first, size_t n)
{
	pthread_mutex_lock(&s->lock);
	/* Taken under the lock, so that waiting for it is not counted. */
	int64_t ns = bench_now_ns();
	struct phase *p = &s->phases[phase];
	for (size_t i = 0; i < n; i++) {
		p->t_pub[first - p->first + i] = ns;
	}
	pthread_mutex_unlock(&s->lock);
}

void
agb_sse_phase_stats(struct agb_sse *s, int phase, struct agb_sse_stats *out)
{
	pthread_mutex_lock(&s->lock);
	const struct phase *p = &s->phases[phase];
	*out = p->st;
	out->p50_ns = hist_quantile(p->lat, 0.50);
	out->p99_ns = hist_quantile(p->lat, 0.99);
	out->p999_ns = hist_quantile(p->lat, 0.999);
	out->max_ns = p->lat->max_ns;
	pthread_mutex_unlock(&s->lock);
}

void
agb_sse_totals(struct agb_sse *s, struct agb_sse_totals *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->tot;
	pthread_mutex_unlock(&s->lock);
}
