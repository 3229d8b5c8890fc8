/*
 * Simulated gateways. 10,000 gateways with two sockets each would need
 * 20,000 descriptors; the bridge keys gateways by EUI, not by address, so
 * a pool of connected sockets is shared instead: gateway i uses socket
 * i / (N / sockets). Uplinks go round-robin over the gateways (seq % N),
 * so consecutive datagrams usually share a socket and leave in one
 * sendmmsg(), which keeps the generator's share of the two CPUs small.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "bench.h"

#define BATCH        64
#define DGRAM_MAX    512
#define GWMP_VERSION 2
#define PUSH_DATA    0x00
#define PUSH_ACK     0x01
#define PULL_DATA    0x02
#define PULL_RESP    0x03
#define PULL_ACK     0x04
#define TX_ACK       0x05
#define HEADER_LEN   12
#define EVENTS       64
#define NS_PER_MS    1000000LL
#define NS_PER_S     1000000000LL

struct gwsim {
	struct sockaddr_in bridge;
	size_t gateways, nsock, per_sock;
	int *socks;
	int epfd;
	uint16_t push_token;
	uint64_t eui_base;
	gwsim_rxpk_fn rxpk;
	void *rxpk_arg;

	/* The PULL_DATA schedule: every gateway once per interval, spread out. */
	bool pulling;
	int64_t pull_t0, pull_interval_ns;
	uint64_t pull_cursor;
	int64_t stat_interval_ns; /* 0: no stats */
	uint64_t stat_cursor;
	uint8_t *acked; /* per gateway: a PULL_ACK came back */

	struct gwsim_counters c;

	/* The datagrams waiting for one sendmmsg() on batch_sock. */
	size_t batch_n, batch_sock;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t buf[BATCH][DGRAM_MAX];
};

static size_t
gw_sock(const struct gwsim *g, size_t gw)
{
	return gw / g->per_sock;
}

static void
flush(struct gwsim *g)
{
	size_t done = 0;
	/* sendmmsg() may stop early; a hard error drops the rest of the batch. */
	for (int tries = 0; done < g->batch_n && tries < BATCH; tries++) {
		int n = sendmmsg(g->socks[g->batch_sock], g->msgs + done,
		                 (unsigned)(g->batch_n - done), 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		done += (size_t)n;
	}
	g->c.send_errors += g->batch_n - done;
	g->batch_n = 0;
}

/* A buffer for the next datagram from socket sock. */
static uint8_t *
slot(struct gwsim *g, size_t sock)
{
	if (g->batch_n == BATCH || (g->batch_n > 0 && sock != g->batch_sock)) {
		flush(g);
	}
	g->batch_sock = sock;
	return g->buf[g->batch_n];
}

static void
commit(struct gwsim *g, size_t len)
{
	g->iov[g->batch_n].iov_base = g->buf[g->batch_n];
	g->iov[g->batch_n].iov_len = len;
	memset(&g->msgs[g->batch_n].msg_hdr, 0, sizeof(g->msgs[g->batch_n].msg_hdr));
	g->msgs[g->batch_n].msg_hdr.msg_iov = &g->iov[g->batch_n];
	g->msgs[g->batch_n].msg_hdr.msg_iovlen = 1;
	g->batch_n++;
}

static void
header(const struct gwsim *g, uint8_t *buf, uint16_t token, uint8_t id, size_t gw)
{
	uint64_t eui = g->eui_base + gw;
	buf[0] = GWMP_VERSION;
	buf[1] = (uint8_t)(token >> 8);
	buf[2] = (uint8_t)token;
	buf[3] = id;
	for (int i = 0; i < 8; i++) {
		buf[4 + i] = (uint8_t)(eui >> (56 - 8 * i));
	}
}

static void
pull(struct gwsim *g, size_t gw)
{
	uint8_t *buf = slot(g, gw_sock(g, gw));
	/* The token is the gateway's index, so a PULL_ACK names its gateway. */
	header(g, buf, (uint16_t)gw, PULL_DATA, gw);
	commit(g, HEADER_LEN);
	g->c.pull_sent++;
}

static int
push(struct gwsim *g, uint64_t seq)
{
	size_t gw = (size_t)(seq % g->gateways);
	uint8_t *buf = slot(g, gw_sock(g, gw));
	header(g, buf, g->push_token++, PUSH_DATA, gw);
	static const char head[] = "{\"rxpk\":[";
	size_t len = HEADER_LEN;
	memcpy(buf + len, head, sizeof(head) - 1);
	len += sizeof(head) - 1;
	/* tmst: a concentrator counter that moves, as a real one does. */
	int n = g->rxpk != NULL
	                ? g->rxpk(g->rxpk_arg, (char *)buf + len, DGRAM_MAX - len - 3, gw, seq)
	                : bench_rxpk((char *)buf + len, DGRAM_MAX - len - 3, (uint32_t)(seq * 977),
	                             bench_now_ns(), seq);
	if (n < 0) {
		return -1;
	}
	len += (size_t)n;
	buf[len++] = ']';
	buf[len++] = '}';
	commit(g, len);
	g->c.push_sent++;
	return 0;
}

/* A stat report, as a forwarder sends every 30 s by default. */
static void
stat(struct gwsim *g, size_t gw)
{
	static const char body[] =
	        "{\"stat\":{\"time\":\"2024-01-01 00:00:00 GMT\",\"lati\":46.24,\"long\":3.25,"
	        "\"alti\":145,\"rxnb\":2,\"rxok\":2,\"rxfw\":2,\"ackr\":100.0,\"dwnb\":0,"
	        "\"txnb\":0}}";
	uint8_t *buf = slot(g, gw_sock(g, gw));
	header(g, buf, g->push_token++, PUSH_DATA, gw);
	memcpy(buf + HEADER_LEN, body, sizeof(body) - 1);
	commit(g, HEADER_LEN + sizeof(body) - 1);
	g->c.stat_sent++;
}

/* TX_ACK with no body: the downlink went out (error NONE). */
static void
tx_ack(struct gwsim *g, size_t gw, uint16_t token)
{
	uint8_t *buf = slot(g, gw_sock(g, gw));
	header(g, buf, token, TX_ACK, gw);
	commit(g, HEADER_LEN);
	g->c.tx_acks++;
}

static void
drain(struct gwsim *g, size_t sock)
{
	enum { RX = 32 };
	uint8_t bufs[RX][64];
	struct iovec iov[RX];
	struct mmsghdr msgs[RX];
	/* Bounded: a socket holds at most its receive buffer's worth. */
	for (int round = 0; round < 64; round++) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < RX; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(g->socks[sock], msgs, RX, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			return;
		}
		bool empty = n < RX; /* no need for a call that says EAGAIN */
		for (int i = 0; i < n; i++) {
			const uint8_t *b = bufs[i];
			if (msgs[i].msg_len < 4) {
				g->c.other_rx++;
			} else if (b[3] == PUSH_ACK) {
				g->c.push_acks++;
			} else if (b[3] == PULL_RESP) {
				g->c.pull_resps++;
				/* Only a socket of its own says which gateway it is for. */
				if (g->per_sock == 1 && sock < g->gateways) {
					tx_ack(g, sock, (uint16_t)(b[1] << 8 | b[2]));
				}
			} else if (b[3] == PULL_ACK) {
				g->c.pull_acks++;
				size_t gw = (size_t)b[1] << 8 | b[2];
				if (gw < g->gateways && gw_sock(g, gw) == sock && !g->acked[gw]) {
					g->acked[gw] = 1;
					g->c.gateways_acked++;
				}
			} else {
				g->c.other_rx++;
			}
		}
		if (empty) {
			return;
		}
	}
}

static void
pull_schedule(struct gwsim *g, int64_t now)
{
	if (!g->pulling) {
		return;
	}
	uint64_t due =
	        (uint64_t)((now - g->pull_t0) / (g->pull_interval_ns / (int64_t)g->gateways));
	/* At most one round per call, should the loop ever stall. */
	for (size_t i = 0; g->pull_cursor < due && i < g->gateways; i++) {
		pull(g, (size_t)(g->pull_cursor++ % g->gateways));
	}
	if (g->stat_interval_ns > 0) {
		due = (uint64_t)((now - g->pull_t0) / (g->stat_interval_ns / (int64_t)g->gateways));
		for (size_t i = 0; g->stat_cursor < due && i < g->gateways; i++) {
			stat(g, (size_t)(g->stat_cursor++ % g->gateways));
		}
	}
}

static void
gw_idle(void *impl, int64_t timeout_ns)
{
	struct gwsim *g = impl;
	pull_schedule(g, bench_now_ns());
	flush(g);
	/* Sleep, then collect the acks without blocking: waiting in epoll
	 * would wake the generator for every ack, and its CPU is taken from
	 * the bridge on a small machine. */
	if (timeout_ns > 0) {
		struct timespec ts = {.tv_sec = timeout_ns / NS_PER_S,
		                      .tv_nsec = timeout_ns % NS_PER_S};
		nanosleep(&ts, NULL);
	}
	struct epoll_event ev[EVENTS];
	int n = epoll_wait(g->epfd, ev, EVENTS, 0);
	for (int i = 0; i < n; i++) {
		drain(g, ev[i].data.u32);
	}
	flush(g); /* the TX_ACKs */
}

static int
gw_send(void *impl, uint64_t first, size_t n)
{
	struct gwsim *g = impl;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (push(g, first + i) != 0) {
			rc = -1;
		}
	}
	flush(g);
	return rc;
}

struct gwsim *
gwsim_new(const struct sockaddr_in *bridge, size_t gateways, size_t sockets)
{
	if (gateways == 0 || gateways > BENCH_MAX_GATEWAYS || sockets == 0) {
		return NULL;
	}
	if (sockets > gateways) {
		sockets = gateways;
	}
	struct gwsim *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return NULL;
	}
	g->bridge = *bridge;
	g->eui_base = BENCH_EUI_BASE;
	g->gateways = gateways;
	g->nsock = sockets;
	g->per_sock = (gateways + sockets - 1) / sockets;
	g->socks = calloc(sockets, sizeof(*g->socks));
	g->acked = calloc(gateways, 1);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->socks == NULL || g->acked == NULL || g->epfd < 0) {
		gwsim_free(g);
		return NULL;
	}
	for (size_t i = 0; i < sockets; i++) {
		g->socks[i] = -1;
	}
	for (size_t i = 0; i < sockets; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in local = {.sin_family = AF_INET,
		                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		/* connect(): like a forwarder, accept replies from the bridge only. */
		if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
		    connect(fd, (const struct sockaddr *)bridge, sizeof(*bridge)) != 0 ||
		    epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			fprintf(stderr, "bench: gateway socket %zu: %s\n", i, strerror(errno));
			if (fd >= 0) {
				close(fd);
			}
			gwsim_free(g);
			return NULL;
		}
		g->socks[i] = fd;
	}
	return g;
}

void
gwsim_free(struct gwsim *g)
{
	if (g == NULL) {
		return;
	}
	for (size_t i = 0; g->socks != NULL && i < g->nsock; i++) {
		if (g->socks[i] >= 0) {
			close(g->socks[i]);
		}
	}
	if (g->epfd >= 0) {
		close(g->epfd);
	}
	free(g->socks);
	free(g->acked);
	free(g);
}

size_t
gwsim_connect(struct gwsim *g, int rate, int64_t timeout_ms, int64_t pull_interval_ms,
              volatile const sig_atomic_t *stop)
{
	int64_t start = bench_now_ns();
	int64_t deadline = start + timeout_ms * NS_PER_MS;
	/* Rounds: send to every gateway not yet acknowledged, at `rate`, then
	 * give the acks a second. Datagrams lost to a full receive buffer are
	 * sent again in the next round. */
	for (int round = 0; round < 100 && g->c.gateways_acked < g->gateways; round++) {
		int64_t t0 = bench_now_ns();
		uint64_t sent = 0;
		for (size_t gw = 0; gw < g->gateways && !*stop && bench_now_ns() < deadline;) {
			uint64_t due = (uint64_t)((bench_now_ns() - t0) * rate / NS_PER_S) + 1;
			for (; sent < due && gw < g->gateways; gw++) {
				if (!g->acked[gw]) {
					pull(g, gw);
					sent++;
				}
			}
			gw_idle(g, NS_PER_MS);
		}
		int64_t wait_end = bench_now_ns() + NS_PER_S;
		while (!*stop && g->c.gateways_acked < g->gateways && bench_now_ns() < wait_end &&
		       bench_now_ns() < deadline) {
			gw_idle(g, 10 * NS_PER_MS);
		}
		if (*stop || bench_now_ns() >= deadline) {
			break;
		}
	}
	g->pulling = true;
	g->pull_t0 = bench_now_ns();
	g->pull_interval_ns = pull_interval_ms * NS_PER_MS;
	g->pull_cursor = 0;
	g->stat_cursor = 0;
	return g->c.gateways_acked;
}

void
gwsim_set_eui_base(struct gwsim *g, uint64_t eui_base)
{
	g->eui_base = eui_base;
}

void
gwsim_set_rxpk(struct gwsim *g, gwsim_rxpk_fn fn, void *arg)
{
	g->rxpk = fn;
	g->rxpk_arg = arg;
}

void
gwsim_set_stat_interval(struct gwsim *g, int64_t interval_ms)
{
	g->stat_interval_ns = interval_ms * NS_PER_MS;
}

void
gwsim_counters(const struct gwsim *g, struct gwsim_counters *out)
{
	*out = g->c;
}

void
gwsim_source(struct gwsim *g, struct source *out)
{
	*out = (struct source){.name = "bridge", .impl = g, .send = gw_send, .idle = gw_idle};
}
