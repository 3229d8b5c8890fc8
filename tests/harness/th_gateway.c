/* A fake Semtech packet forwarder: an up and a down UDP socket, both
 * connect()ed to the bridge, as lora_pkt_fwd opens them. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_ACK_LEN 4
#define GW_HDR_LEN 12

static int
open_socket(const char *src_ip, uint16_t bridge_port, uint16_t *local_port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(bridge_port)};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(src);
	/* Any 127/8 address is local on Linux, so a second "host" is just a
	 * bind to 127.0.0.2. */
	if (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &len) != 0) {
		fprintf(stderr, "harness: gateway socket on %s: %s\n", src_ip, strerror(errno));
		close(fd);
		return -1;
	}
	*local_port = ntohs(src.sin_port);
	return fd;
}

static int
parse_mac(const char *mac, uint8_t eui[8])
{
	if (strlen(mac) != 16) {
		return -1;
	}
	for (int i = 0; i < 8; i++) {
		char pair[3] = {mac[2 * i], mac[2 * i + 1], '\0'};
		char *end;
		unsigned long v = strtoul(pair, &end, 16);
		if (*end != '\0') {
			return -1;
		}
		eui[i] = (uint8_t)v;
	}
	return 0;
}

int
th_gw_open(struct th_gateway *gw, const char *mac, const char *src_ip, uint16_t bridge_port)
{
	memset(gw, 0, sizeof(*gw));
	gw->up_fd = gw->down_fd = -1;
	gw->version = 2;
	/* Distinct per gateway, so a stale ack is never mistaken for a new one. */
	gw->next_token = (uint16_t)(0x1000 + (th_wall_us() & 0x0fff));
	if (parse_mac(mac, gw->eui) != 0) {
		fprintf(stderr, "harness: bad mac %s\n", mac);
		return -1;
	}
	for (int i = 0; i < 16; i++) {
		gw->mac[i] = (char)((mac[i] >= 'A' && mac[i] <= 'F') ? mac[i] - 'A' + 'a' : mac[i]);
	}
	snprintf(gw->ip, sizeof(gw->ip), "%s", src_ip != NULL ? src_ip : "127.0.0.1");
	gw->up_fd = open_socket(gw->ip, bridge_port, &gw->up_port);
	gw->down_fd = open_socket(gw->ip, bridge_port, &gw->down_port);
	if (gw->up_fd < 0 || gw->down_fd < 0) {
		th_gw_close(gw);
		return -1;
	}
	return 0;
}

void
th_gw_close(struct th_gateway *gw)
{
	if (gw->up_fd >= 0) {
		close(gw->up_fd);
	}
	if (gw->down_fd >= 0) {
		close(gw->down_fd);
	}
	gw->up_fd = gw->down_fd = -1;
}

int
th_gw_rebind_down(struct th_gateway *gw, const char *src_ip)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	if (getpeername(gw->down_fd, (struct sockaddr *)&peer, &len) != 0) {
		return -1;
	}
	if (src_ip != NULL) {
		snprintf(gw->ip, sizeof(gw->ip), "%s", src_ip);
	}
	uint16_t port;
	int fd = open_socket(gw->ip, ntohs(peer.sin_port), &port);
	if (fd < 0) {
		return -1;
	}
	close(gw->down_fd);
	gw->down_fd = fd;
	gw->down_port = port;
	return 0;
}

static int
fd_of(const struct th_gateway *gw, enum th_sock s)
{
	return s == TH_UP ? gw->up_fd : gw->down_fd;
}

int
th_gw_send_raw(struct th_gateway *gw, enum th_sock s, const void *data, size_t len)
{
	ssize_t n = send(fd_of(gw, s), data, len, 0);
	if (n != (ssize_t)len) {
		fprintf(stderr, "harness: gateway send %zu bytes: %s\n", len,
		        n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

int
th_gw_send(struct th_gateway *gw, enum th_sock s, uint8_t version, uint16_t token, uint8_t type,
           const void *body, size_t body_len)
{
	size_t len = GW_HDR_LEN + body_len;
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		return -1;
	}
	buf[0] = version;
	buf[1] = (uint8_t)(token >> 8);
	buf[2] = (uint8_t)(token & 0xff);
	buf[3] = type;
	memcpy(buf + 4, gw->eui, 8);
	if (body_len > 0) {
		memcpy(buf + GW_HDR_LEN, body, body_len);
	}
	int rc = th_gw_send_raw(gw, s, buf, len);
	free(buf);
	return rc;
}

int
th_gw_send_push(struct th_gateway *gw, uint8_t version, uint16_t token, const char *json)
{
	return th_gw_send(gw, TH_UP, version, token, TH_PUSH_DATA, json, strlen(json));
}

int
th_gw_send_pull(struct th_gateway *gw, uint8_t version, uint16_t token)
{
	return th_gw_send(gw, TH_DOWN, version, token, TH_PULL_DATA, NULL, 0);
}

ssize_t
th_gw_recv(struct th_gateway *gw, enum th_sock s, uint8_t *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	struct pollfd pfd = {.fd = fd_of(gw, s), .events = POLLIN};
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		int r = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return -1;
		}
		ssize_t n = recv(pfd.fd, buf, cap, 0);
		if (n >= 0) {
			return n;
		}
		/* ECONNREFUSED from an earlier send: not a datagram. */
		if (errno != EINTR && errno != ECONNREFUSED) {
			fprintf(stderr, "harness: gateway recv: %s\n", strerror(errno));
			return -1;
		}
	}
}

static void
print_hex(const char *what, const uint8_t *buf, ssize_t n)
{
	fprintf(stderr, "harness: %s (%zd bytes):", what, n);
	for (ssize_t i = 0; i < n && i < 32; i++) {
		fprintf(stderr, " %02x", buf[i]);
	}
	fprintf(stderr, "%s\n", n > 32 ? " ..." : "");
}

int
th_gw_expect_ack(struct th_gateway *gw, enum th_sock s, uint8_t version, uint16_t token,
                 uint8_t type, int timeout_ms)
{
	uint8_t buf[TH_UDP_MAX];
	ssize_t n = th_gw_recv(gw, s, buf, sizeof(buf), timeout_ms);
	if (n < 0) {
		fprintf(stderr,
		        "harness: %s: no ack type %u token %04x within %d ms on the %s socket\n",
		        gw->mac, type, token, timeout_ms, s == TH_UP ? "up" : "down");
		return -1;
	}
	const uint8_t want[GW_ACK_LEN] = {version, (uint8_t)(token >> 8), (uint8_t)(token & 0xff),
	                                  type};
	if (n != GW_ACK_LEN || memcmp(buf, want, GW_ACK_LEN) != 0) {
		print_hex("expected ack", want, GW_ACK_LEN);
		print_hex("received", buf, n);
		return -1;
	}
	return 0;
}

int
th_gw_push(struct th_gateway *gw, const char *json)
{
	uint16_t token = gw->next_token++;
	if (th_gw_send_push(gw, gw->version, token, json) != 0) {
		return -1;
	}
	return th_gw_expect_ack(gw, TH_UP, gw->version, token, TH_PUSH_ACK, 5000);
}

int
th_gw_pull(struct th_gateway *gw)
{
	uint16_t token = gw->next_token++;
	if (th_gw_send_pull(gw, gw->version, token) != 0) {
		return -1;
	}
	return th_gw_expect_ack(gw, TH_DOWN, gw->version, token, TH_PULL_ACK, 5000);
}

int
th_gw_drain(struct th_gateway *gw, enum th_sock s)
{
	uint8_t buf[TH_UDP_MAX];
	int n = 0;
	while (th_gw_recv(gw, s, buf, sizeof(buf), 0) >= 0) {
		n++;
	}
	return n;
}

int
th_gw_recv_pull_resp(struct th_gateway *gw, struct th_pull_resp *out, int timeout_ms)
{
	memset(out, 0, sizeof(*out));
	uint8_t *buf = malloc(TH_UDP_MAX + 1);
	if (buf == NULL) {
		return -1;
	}
	ssize_t n = th_gw_recv(gw, TH_DOWN, buf, TH_UDP_MAX, timeout_ms);
	int rc = -1;
	if (n < 0) {
		fprintf(stderr, "harness: %s: no PULL_RESP within %d ms\n", gw->mac, timeout_ms);
	} else if (n < 4 || buf[3] != TH_PULL_RESP) {
		print_hex("expected a PULL_RESP, received", buf, n);
	} else {
		buf[n] = '\0';
		out->version = buf[0];
		out->token = (uint16_t)(buf[1] << 8 | buf[2]);
		out->json = strdup((const char *)buf + 4);
		out->root = out->json != NULL ? cJSON_Parse(out->json) : NULL;
		if (out->root == NULL) {
			fprintf(stderr, "harness: PULL_RESP body is not JSON: %s\n",
			        (const char *)buf + 4);
			th_pull_resp_free(out);
		} else {
			rc = 0;
		}
	}
	free(buf);
	return rc;
}

void
th_pull_resp_free(struct th_pull_resp *r)
{
	free(r->json);
	cJSON_Delete(r->root);
	r->json = NULL;
	r->root = NULL;
}
