/*
 * The publisher: what the bridges and routerlink of a fleet would publish.
 * They run elsewhere, so this must cost the two cores as little as
 * possible: MQTT 3.1.1 spoken directly over one TCP connection, QoS 1,
 * each batch written with one write(), PUBACKs counted as they come
 * within an inflight window (the routerlink bench's rl_pub.c does the
 * same; a libmosquitto client costs ~19 µs of CPU per message here).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "agbench.h"
#include "lf/util.h"

#define MESSAGE_MAX 640
#define BATCH_BYTES (256 * 1024)
#define IO_WAIT_MS  5000

struct agb_pub {
	int fd;
	size_t gateways;
	int inflight;
	uint64_t published, acked;
	uint16_t next_id;
	uint8_t in[4096]; /* PUBACKs being read */
	size_t in_len;
	uint8_t *out; /* the batch being built */
	size_t out_len;
	struct lf_rfc3339_cache stamp;
};

void
agb_mac(size_t gw, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)(AGB_EUI_BASE + gw));
}

static void
now_rfc3339(struct agb_pub *p, char out[LF_RFC3339_LEN])
{
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	lf_format_rfc3339_cached(&p->stamp, &wall, out);
}

/*
 * The bridge's up message for seq (docs/mqtt-api.md). apigw copies rxpk's
 * tmst into the uplink event, so tmst carries seq (mod 2^32: a run sends
 * far fewer). The frame is a 29-byte unconfirmed data-up, as routerlink's
 * bench sends. Its length, or 0.
 */
static size_t
render_up(struct agb_pub *p, uint64_t seq, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], received_at[LF_RFC3339_LEN];
	agb_mac((size_t)(seq % p->gateways), mac);
	snprintf(topic, 64, "lorawan/%s/up", mac);
	now_rfc3339(p, received_at);
	int n = snprintf(out, MESSAGE_MAX,
	                 "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":{\"tmst\":%u,\"chan\":0,"
	                 "\"rfch\":0,\"freq\":904.3,\"stat\":1,\"modu\":\"LORA\","
	                 "\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-57,\"lsnr\":9.8,"
	                 "\"size\":29,\"data\":\"QAEAACYAAQABAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
	                 mac, received_at, (unsigned)seq);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

/* The bridge's retained state of an online gateway. */
static size_t
render_state(struct agb_pub *p, size_t gw, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], now[LF_RFC3339_LEN];
	agb_mac(gw, mac);
	snprintf(topic, 64, "lorawan/%s/state", mac);
	now_rfc3339(p, now);
	int n = snprintf(
	        out, MESSAGE_MAX,
	        "{\"mac\":\"%s\",\"online\":true,\"addr\":\"192.0.2.%zu:%zu\","
	        "\"protocol\":2,\"bridge\":\"bench\",\"since\":\"%s\",\"last_seen\":\"%s\"}",
	        mac, gw % 250 + 1, 40000 + gw % 20000, now, now);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

/*
 * routerlink's retained hotspot of a connected gateway. The public key has
 * the length and alphabet of a real Helium address (apigw passes it
 * through unchecked); it differs per gateway so that no two responses are
 * alike.
 */
static size_t
render_hotspot(struct agb_pub *p, size_t gw, char topic[64], char out[MESSAGE_MAX])
{
	char mac[17], now[LF_RFC3339_LEN];
	agb_mac(gw, mac);
	snprintf(topic, 64, "lorawan/%s/hotspot", mac);
	now_rfc3339(p, now);
	int n = snprintf(out, MESSAGE_MAX,
	                 "{\"mac\":\"%s\",\"public_key\":\"13aeUKNjHgqGvZFv2TnRHxe9CLnJT415dcB2rzt"
	                 "%012zu\",\"region\":\"US915\",\"router\":\"connected\","
	                 "\"connected_since\":\"%s\",\"uplinks\":%zu,\"downlinks\":%zu,"
	                 "\"last_uplink\":\"%s\"}",
	                 mac, gw, now, gw % 1000, gw % 10, now);
	return n > 0 && n < MESSAGE_MAX ? (size_t)n : 0;
}

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
write_all(struct agb_pub *p, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(p->fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
		if (n < 0 && errno == EAGAIN && poll(&pfd, 1, IO_WAIT_MS) == 1) {
			continue;
		}
		fprintf(stderr, "agbench: publisher: write: %s\n",
		        n < 0 ? strerror(errno) : "closed");
		return -1;
	}
	return 0;
}

/* Reads what the broker sent (PUBACKs, the CONNACK), waiting up to
 * timeout_ms for something when told to; -1 when the connection broke. */
static int
read_acks(struct agb_pub *p, int timeout_ms)
{
	struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) <= 0) {
		return 0;
	}
	for (;;) {
		ssize_t n = read(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "agbench: publisher: the broker closed the connection\n");
			return -1;
		}
		if (n < 0) {
			return 0;
		}
		p->in_len += (size_t)n;
		size_t at = 0;
		/* Every packet the broker sends us is 4 bytes: PUBACK, CONNACK. */
		while (p->in_len - at >= 4) {
			if (p->in[at] == 0x40 && p->in[at + 1] == 2) {
				p->acked++;
			} else if (p->in[at] != 0x20 || p->in[at + 1] != 2 || p->in[at + 3] != 0) {
				fprintf(stderr, "agbench: publisher: unexpected packet 0x%02x\n",
				        p->in[at]);
				return -1;
			}
			at += 4;
		}
		memmove(p->in, p->in + at, p->in_len - at);
		p->in_len -= at;
	}
}

static int
flush(struct agb_pub *p)
{
	int rc = write_all(p, p->out, p->out_len);
	p->out_len = 0;
	return rc == 0 ? read_acks(p, 0) : -1;
}

/* Appends one QoS 1 PUBLISH to the batch, waiting for PUBACKs while the
 * inflight window is full. */
static int
publish(struct agb_pub *p, const char *topic, const char *payload, size_t len, bool retain)
{
	size_t tlen = strlen(topic);
	size_t remaining = 2 + tlen + 2 + len;
	if (p->out_len + 5 + remaining > BATCH_BYTES && flush(p) != 0) {
		return -1;
	}
	while (p->published - p->acked >= (uint64_t)p->inflight) {
		if (flush(p) != 0 || read_acks(p, IO_WAIT_MS) != 0) {
			return -1;
		}
	}
	if (++p->next_id == 0) {
		p->next_id = 1; /* 0 is not a packet id */
	}
	uint8_t *o = p->out + p->out_len;
	*o++ = retain ? 0x33 : 0x32;
	o += put_varlen(o, remaining);
	*o++ = (uint8_t)(tlen >> 8);
	*o++ = (uint8_t)tlen;
	memcpy(o, topic, tlen);
	o += tlen;
	*o++ = (uint8_t)(p->next_id >> 8);
	*o++ = (uint8_t)p->next_id;
	memcpy(o, payload, len);
	o += len;
	p->out_len = (size_t)(o - p->out);
	p->published++;
	return 0;
}

int
agb_pub_gateways(struct agb_pub *p, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++) {
		char topic[64], payload[MESSAGE_MAX];
		size_t len = render_state(p, i, topic, payload);
		if (len == 0 || publish(p, topic, payload, len, true) != 0) {
			return -1;
		}
		len = render_hotspot(p, i, topic, payload);
		if (len == 0 || publish(p, topic, payload, len, true) != 0) {
			return -1;
		}
	}
	return flush(p);
}

int
agb_pub_uplinks(struct agb_pub *p, uint64_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char topic[64], payload[MESSAGE_MAX];
		size_t len = render_up(p, first + i, topic, payload);
		if (len == 0 || publish(p, topic, payload, len, false) != 0) {
			return -1;
		}
	}
	return flush(p);
}

void
agb_pub_sample(struct agb_pub *p, char *out, size_t outlen)
{
	char topic[64], payload[MESSAGE_MAX];
	render_up(p, 0, topic, payload);
	snprintf(out, outlen, "%s %s", topic, payload);
}

uint64_t
agb_pub_unacked(struct agb_pub *p)
{
	read_acks(p, 0);
	return p->published - p->acked;
}

static int
set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct agb_pub *
agb_pub_new(const char *host, int port, size_t gateways, int inflight)
{
	struct agb_pub *p = calloc(1, sizeof(*p));
	uint8_t *out = malloc(BATCH_BYTES);
	if (p == NULL || out == NULL) {
		free(p);
		free(out);
		return NULL;
	}
	*p = (struct agb_pub){.fd = -1, .gateways = gateways, .inflight = inflight, .out = out};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || p->fd < 0 ||
	    connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
		fprintf(stderr, "agbench: publisher: cannot connect to %s:%d: %s\n", host, port,
		        strerror(errno));
		agb_pub_free(p);
		return NULL;
	}
	/* CONNECT: MQTT 3.1.1, clean session, no keepalive (the bench is
	 * silent for the REST phases, which take a minute). */
	char id[64];
	int idlen = snprintf(id, sizeof(id), "lorafleet-agbench-%d", (int)getpid());
	uint8_t c[128], *o = c;
	*o++ = 0x10;
	o += put_varlen(o, 10 + 2 + (size_t)idlen);
	memcpy(o, "\x00\x04MQTT\x04\x02\x00\x00", 10);
	o += 10;
	*o++ = 0;
	*o++ = (uint8_t)idlen;
	memcpy(o, id, (size_t)idlen);
	o += idlen;
	if (set_nonblock(p->fd) != 0 || write_all(p, c, (size_t)(o - c)) != 0 ||
	    read_acks(p, IO_WAIT_MS) != 0) {
		agb_pub_free(p);
		return NULL;
	}
	return p;
}

void
agb_pub_free(struct agb_pub *p)
{
	if (p == NULL) {
		return;
	}
	if (p->fd >= 0) {
		static const uint8_t disconnect[] = {0xe0, 0};
		if (write(p->fd, disconnect, sizeof(disconnect)) < 0) {
			/* closing anyway */
		}
		close(p->fd);
	}
	free(p->out);
	free(p);
}
