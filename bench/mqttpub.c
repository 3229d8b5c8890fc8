/* The benchmarks' raw MQTT 3.1.1 QoS 1 publisher (see mqttpub.h). */
#include "mqttpub.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define BATCH_BYTES (256 * 1024)
#define IO_WAIT_MS  5000

struct mqttpub {
	int fd;
	int inflight;
	const char *name; /* in messages */
	uint64_t published, acked;
	bool connacked;
	uint16_t next_id;
	uint8_t in[4096]; /* PUBACKs being read */
	size_t in_len;
	uint8_t *out; /* the batch being built */
	size_t out_len;
};

/* MQTT's variable-length "remaining length". */
static size_t
put_varlen(uint8_t *p, size_t n)
{
	size_t i = 0;
	do {
		uint8_t byte = n % 128;
		n /= 128;
		p[i++] = byte | (n > 0 ? 0x80 : 0);
	} while (n > 0);
	return i;
}

static int
write_all(struct mqttpub *m, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(m->fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		struct pollfd pfd = {.fd = m->fd, .events = POLLOUT};
		if (n < 0 && errno == EAGAIN && poll(&pfd, 1, IO_WAIT_MS) == 1) {
			continue;
		}
		fprintf(stderr, "%s: publisher: write: %s\n", m->name,
		        n < 0 ? strerror(errno) : "closed");
		return -1;
	}
	return 0;
}

/* Reads what the broker sent (PUBACKs, the CONNACK); waits up to
 * timeout_ms for something when told to. -1 when the connection broke. */
static int
read_acks(struct mqttpub *m, int timeout_ms)
{
	struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) <= 0) {
		return 0;
	}
	for (;;) {
		ssize_t n = read(m->fd, m->in + m->in_len, sizeof(m->in) - m->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "%s: publisher: the broker closed the connection\n",
			        m->name);
			return -1;
		}
		if (n < 0) {
			return 0;
		}
		m->in_len += (size_t)n;
		size_t at = 0;
		/* Every packet the broker sends us is 4 bytes: PUBACK, CONNACK. */
		while (m->in_len - at >= 4) {
			if (m->in[at] == 0x40 && m->in[at + 1] == 2) {
				m->acked++;
			} else if (m->in[at] == 0x20 && m->in[at + 1] == 2 && m->in[at + 3] == 0) {
				m->connacked = true;
			} else {
				fprintf(stderr, "%s: publisher: unexpected packet 0x%02x\n",
				        m->name, m->in[at]);
				return -1;
			}
			at += 4;
		}
		memmove(m->in, m->in + at, m->in_len - at);
		m->in_len -= at;
	}
}

int
mqttpub_flush(struct mqttpub *m)
{
	int rc = write_all(m, m->out, m->out_len);
	m->out_len = 0;
	return rc == 0 ? read_acks(m, 0) : -1;
}

int
mqttpub_add(struct mqttpub *m, const char *topic, const char *payload, size_t len, bool retain)
{
	size_t tlen = strlen(topic);
	size_t remaining = 2 + tlen + 2 + len;
	if (5 + remaining > BATCH_BYTES) {
		return -1;
	}
	if (m->out_len + 5 + remaining > BATCH_BYTES && mqttpub_flush(m) != 0) {
		return -1;
	}
	while (m->published - m->acked >= (uint64_t)m->inflight) {
		if (mqttpub_flush(m) != 0 || read_acks(m, IO_WAIT_MS) != 0) {
			return -1;
		}
	}
	if (++m->next_id == 0) {
		m->next_id = 1; /* 0 is not a packet id */
	}
	uint8_t *o = m->out + m->out_len;
	*o++ = retain ? 0x33 : 0x32;
	o += put_varlen(o, remaining);
	*o++ = (uint8_t)(tlen >> 8);
	*o++ = (uint8_t)tlen;
	memcpy(o, topic, tlen);
	o += tlen;
	*o++ = (uint8_t)(m->next_id >> 8);
	*o++ = (uint8_t)m->next_id;
	memcpy(o, payload, len);
	o += len;
	m->out_len = (size_t)(o - m->out);
	m->published++;
	return 0;
}

uint64_t
mqttpub_unacked(struct mqttpub *m)
{
	read_acks(m, 0);
	return m->published - m->acked;
}

struct mqttpub *
mqttpub_connect(const char *host, int port, int inflight, const char *name)
{
	struct mqttpub *m = calloc(1, sizeof(*m));
	uint8_t *out = malloc(BATCH_BYTES);
	if (m == NULL || out == NULL) {
		free(m);
		free(out);
		return NULL;
	}
	*m = (struct mqttpub){.fd = -1, .inflight = inflight, .name = name, .out = out};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || m->fd < 0 ||
	    connect(m->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
		fprintf(stderr, "%s: publisher: cannot connect to %s:%d: %s\n", name, host, port,
		        strerror(errno));
		mqttpub_free(m);
		return NULL;
	}
	char id[64];
	int idlen = snprintf(id, sizeof(id), "lorafleet-%s-%d", name, (int)getpid());
	uint8_t c[128], *o = c;
	*o++ = 0x10;
	o += put_varlen(o, 10 + 2 + (size_t)idlen);
	memcpy(o, "\x00\x04MQTT\x04\x02\x00\x00", 10);
	o += 10;
	*o++ = 0;
	*o++ = (uint8_t)idlen;
	memcpy(o, id, (size_t)idlen);
	o += idlen;
	int flags = fcntl(m->fd, F_GETFL);
	if (flags < 0 || fcntl(m->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    write_all(m, c, (size_t)(o - c)) != 0 || read_acks(m, IO_WAIT_MS) != 0 ||
	    !m->connacked) {
		if (m->fd >= 0 && !m->connacked) {
			fprintf(stderr, "%s: publisher: no CONNACK from %s:%d\n", name, host, port);
		}
		mqttpub_free(m);
		return NULL;
	}
	return m;
}

void
mqttpub_free(struct mqttpub *m)
{
	if (m == NULL) {
		return;
	}
	if (m->fd >= 0) {
		static const uint8_t disconnect[] = {0xe0, 0};
		if (write(m->fd, disconnect, sizeof(disconnect)) < 0) {
			/* closing anyway */
		}
		close(m->fd);
	}
	free(m->out);
	free(m);
}
