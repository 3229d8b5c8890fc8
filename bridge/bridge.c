/*
 * lorafleet-bridge's loop: one UDP socket for every gateway, the MQTT
 * client, and two timers. Datagrams are read in batches (recvmmsg) and
 * each is handled to the end before the next: PUSH_ACK first, then the
 * MQTT messages.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>
#include <sodium.h>

#include "bridge_internal.h"
#include "gwmp.h"
#include "lf/loop.h"
#include "lf/mqtt.h"
#include "uplink.h"

#define RX_BATCH     16
#define RX_PER_WAKE  512 /* datagrams before timers and MQTT get a turn */
#define TICK_MS      100
#define COALESCE_MIN 2   /* datagrams in one wake-up that mean "under load" */
#define COALESCE_US  100 /* the pause that gathers the next ones */

int
bridge_send(struct bridge *b, const void *buf, size_t len, const struct sockaddr *to,
            socklen_t tolen)
{
	if (sendto(b->udp_fd, buf, len, 0, to, tolen) != (ssize_t)len) {
		lf_metric_inc(b->m.send_errors);
		char addr[ADDR_STRLEN];
		bridge_addr_format(to, tolen, addr);
		LOG_RATELIMITED(&b->rl.bad_datagram, LF_LOG_WARN, "udp send to %s failed: %s", addr,
		                strerror(errno));
		return -1;
	}
	return 0;
}

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	}
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (!same_ip(a, b)) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		return ((const struct sockaddr_in *)a)->sin_port ==
		       ((const struct sockaddr_in *)b)->sin_port;
	}
	return ((const struct sockaddr_in6 *)a)->sin6_port ==
	       ((const struct sockaddr_in6 *)b)->sin6_port;
}

struct uplink_ctx {
	struct bridge *b;
	const char *mac;
};

static void
emit_uplink(void *arg, enum uplink_kind kind, const char *payload, size_t len)
{
	struct uplink_ctx *ctx = arg;
	struct bridge *b = ctx->b;
	char topic[256];
	if (lf_mqtt_topic(topic, sizeof(topic), b->prefix, ctx->mac,
	                  kind == UPLINK_RXPK ? "up" : "status") != 0) {
		return;
	}
	lf_mqtt_publish(b->mqtt, topic, payload, len, b->qos, false);
	lf_metric_inc(kind == UPLINK_RXPK ? b->m.uplinks : b->m.stats);
}

static void
count_push_problem(struct bridge *b, const char *reason, unsigned n)
{
	if (n > 0) {
		lf_metric_add(bridge_counter(b, "push_data_invalid_total",
		                             "PUSH_DATA with unusable JSON, by reason", "reason",
		                             reason),
		              n);
	}
}

static void
handle_push_data(struct bridge *b, struct gateway *gw, const struct gwmp_packet *pkt,
                 const struct timespec *received)
{
	char received_at[LF_RFC3339_LEN];
	lf_format_rfc3339_cached(&b->received_at, received, received_at);
	struct uplink_ctx ctx = {b, gw->mac};
	struct uplink_result res = {0};
	char err[256] = "";
	int rc = uplink_map((const char *)pkt->body, pkt->body_len, gw->mac, received_at,
	                    b->cfg->forward_crc_bad, emit_uplink, &ctx, &res, err, sizeof(err));
	if (rc != 0) {
		count_push_problem(b, "invalid_json", 1);
	}
	count_push_problem(b, "rxpk_not_array", res.rxpk_not_array ? 1 : 0);
	count_push_problem(b, "stat_invalid", res.stat_invalid);
	if (res.rxpk_invalid > 0) {
		lf_metric_add(bridge_counter(b, "rxpk_dropped_total",
		                             "rxpk not published, by reason", "reason", "invalid"),
		              res.rxpk_invalid);
	}
	if (res.rxpk_crc_bad > 0) {
		if (b->cfg->forward_crc_bad) {
			lf_metric_add(b->m.crc_bad_forwarded, res.rxpk_crc_bad);
		} else {
			lf_metric_add(bridge_counter(b, "rxpk_dropped_total",
			                             "rxpk not published, by reason", "reason",
			                             "crc_bad"),
			              res.rxpk_crc_bad);
		}
	}
	if (err[0] != '\0') {
		LOG_RATELIMITED(&b->rl.bad_json, LF_LOG_WARN, "gateway %s: PUSH_DATA: %s", gw->mac,
		                err);
	}
}

static void
handle_pull_data(struct bridge *b, struct gateway *gw, const struct sockaddr_storage *from,
                 socklen_t fromlen)
{
	gw->last_pull_ms = lf_now_ms();
	bool moved = gw->has_pull_addr && !same_addr(&gw->pull_addr, from);
	bool first = !gw->has_pull_addr;
	if (moved) {
		char was[ADDR_STRLEN], now[ADDR_STRLEN];
		bridge_addr_format((const struct sockaddr *)&gw->pull_addr, gw->pull_addr_len, was);
		bridge_addr_format((const struct sockaddr *)from, fromlen, now);
		LOG_RATELIMITED(&b->rl.address, LF_LOG_INFO,
		                "gateway %s: downlink address changed from %s to %s", gw->mac, was,
		                now);
	}
	memcpy(&gw->pull_addr, from, fromlen);
	gw->pull_addr_len = fromlen;
	gw->has_pull_addr = true;
	if (!gw->online) {
		bridge_set_online(b, gw, true); /* publishes the state */
	} else if (moved || first) {
		bridge_publish_gateway_state(b, gw);
	}
}

/* The gateway a datagram belongs to, created on first sight; NULL when the
 * datagram must be ignored (pinned address, max_gateways, out of memory). */
static struct gateway *
gateway_for(struct bridge *b, const struct gwmp_packet *pkt, const struct sockaddr_storage *from,
            socklen_t fromlen, const struct timespec *received)
{
	struct gateway *gw = gateway_table_find(&b->gateways, pkt->eui);
	char addr[ADDR_STRLEN];
	if (gw == NULL) {
		/* Any datagram with a new EUI makes a gateway, and the bridge
		 * forgets none: without a bound, a flood of made-up EUIs (one
		 * spoofed datagram each) would grow the table, the retained
		 * states on the broker and routerlink's keys without end. */
		if (b->gateways.count >= (size_t)b->cfg->max_gateways) {
			lf_metric_inc(bridge_counter(b, "udp_rejected_total",
			                             "Datagrams ignored on purpose, by reason",
			                             "reason", "too_many_gateways"));
			bridge_addr_format((const struct sockaddr *)from, fromlen, addr);
			LOG_RATELIMITED(&b->rl.full, LF_LOG_WARN,
			                "datagram from %s for a new gateway %016llx ignored: "
			                "max_gateways (%lld) reached",
			                addr, (unsigned long long)pkt->eui,
			                (long long)b->cfg->max_gateways);
			return NULL;
		}
		gw = gateway_table_add(&b->gateways, pkt->eui);
		if (gw == NULL) {
			LOG_ERROR("out of memory: gateway ignored");
			return NULL;
		}
		gw->version = pkt->version;
		gw->last_pull_ms = lf_now_ms();
		gw->last_seen = *received;
		memcpy(&gw->seen_addr, from, fromlen);
		lf_metric_set(b->m.gateways_known, (int64_t)b->gateways.count);
		bridge_addr_format((const struct sockaddr *)from, fromlen, addr);
		LOG_RATELIMITED(&b->rl.seen, LF_LOG_INFO,
		                "gateway %s online: first datagram from %s (protocol %u)", gw->mac,
		                addr, pkt->version);
		if (pkt->type != GWMP_PULL_DATA) {
			bridge_set_online(b, gw, true);
		}
		return gw;
	}
	if (!same_ip(&gw->seen_addr, from)) {
		bridge_addr_format((const struct sockaddr *)from, fromlen, addr);
		if (b->cfg->pin_address && gw->online) {
			lf_metric_inc(bridge_counter(b, "udp_rejected_total",
			                             "Datagrams ignored on purpose, by reason",
			                             "reason", "address_pinned"));
			LOG_RATELIMITED(&b->rl.pinned, LF_LOG_WARN,
			                "gateway %s: datagram from %s ignored: the gateway is live "
			                "at another address (pin_address)",
			                gw->mac, addr);
			return NULL;
		}
		lf_metric_inc(b->m.address_changes);
		LOG_RATELIMITED(&b->rl.address, LF_LOG_WARN,
		                "gateway %s: datagram from a new address %s", gw->mac, addr);
	}
	memcpy(&gw->seen_addr, from, fromlen);
	gw->last_seen = *received;
	return gw;
}

/* Queues a PUSH_ACK or PULL_ACK; flush_acks() sends the batch's acks in
 * one sendmmsg, a syscall per batch instead of one per datagram. */
static void
reply_ack(struct bridge *b, const struct gwmp_packet *pkt, uint8_t type,
          const struct sockaddr_storage *from, socklen_t fromlen, struct lf_metric *counter)
{
	struct ack_batch *a = b->acks;
	gwmp_build_ack(a->bytes[a->n], pkt->version, pkt->token, type);
	memcpy(&a->to[a->n], from, fromlen);
	a->tolen[a->n] = fromlen;
	a->counter[a->n] = counter;
	a->n++;
}

static void
flush_acks(struct bridge *b)
{
	struct ack_batch *a = b->acks;
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	for (unsigned i = 0; i < a->n; i++) {
		iov[i] = (struct iovec){a->bytes[i], GWMP_ACK_LEN};
		msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &a->to[i],
		                                       .msg_namelen = a->tolen[i],
		                                       .msg_iov = &iov[i],
		                                       .msg_iovlen = 1}};
	}
	unsigned sent = 0;
	while (sent < a->n) {
		int n = sendmmsg(b->udp_fd, msgs + sent, a->n - sent, 0);
		if (n <= 0) {
			/* Skip the one that failed (bridge_send logs and counts it). */
			bridge_send(b, a->bytes[sent], GWMP_ACK_LEN,
			            (const struct sockaddr *)&a->to[sent], a->tolen[sent]);
			sent++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			lf_metric_inc(a->counter[sent + (unsigned)i]);
		}
		sent += (unsigned)n;
	}
	a->n = 0;
}

static void
handle_datagram(struct bridge *b, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct timespec received;
	clock_gettime(CLOCK_REALTIME, &received);
	struct gwmp_packet pkt;
	int rc = gwmp_parse(buf, len, &pkt);
	if (rc != GWMP_OK) {
		lf_metric_inc(
		        bridge_counter(b, "udp_invalid_total",
		                       "Datagrams that are not GWMP from a gateway, by reason",
		                       "reason", gwmp_error_name(rc)));
		char addr[ADDR_STRLEN];
		bridge_addr_format((const struct sockaddr *)from, fromlen, addr);
		LOG_RATELIMITED(&b->rl.bad_datagram, LF_LOG_WARN,
		                "datagram of %zu bytes from %s ignored: %s", len, addr,
		                gwmp_error_name(rc));
		return;
	}
	struct gateway *gw = gateway_for(b, &pkt, from, fromlen, &received);
	if (gw == NULL) {
		return;
	}
	switch (pkt.type) {
	case GWMP_PUSH_DATA:
		lf_metric_inc(b->m.rx_push);
		/* The ack goes out with the rest of the batch, well within the
		 * ~100 ms the forwarder waits. */
		reply_ack(b, &pkt, GWMP_PUSH_ACK, from, fromlen, b->m.tx_push_ack);
		handle_push_data(b, gw, &pkt, &received);
		break;
	case GWMP_PULL_DATA:
		lf_metric_inc(b->m.rx_pull);
		reply_ack(b, &pkt, GWMP_PULL_ACK, from, fromlen, b->m.tx_pull_ack);
		gw->version = pkt.version;
		handle_pull_data(b, gw, from, fromlen);
		break;
	case GWMP_TX_ACK:
	case GWMP_PULL_ACK:
		/* Some forwarders (Pycom) send their TX_ACK as PULL_ACK: accept it
		 * when its token matches a pending downlink. */
		lf_metric_inc(pkt.type == GWMP_TX_ACK ? b->m.rx_tx_ack : b->m.rx_pull_ack);
		if (!bridge_handle_tx_ack(b, gw, pkt.token, pkt.body, pkt.body_len)) {
			lf_metric_inc(b->m.tx_ack_unmatched);
			LOG_RATELIMITED(&b->rl.tx_ack, LF_LOG_INFO,
			                "gateway %s: %s with token %02x%02x matches no pending "
			                "downlink (late or unknown)",
			                gw->mac, gwmp_type_name(pkt.type), pkt.token[0],
			                pkt.token[1]);
		}
		break;
	default:
		break;
	}
}

static void
udp_ready(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct bridge *b = arg;
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	bool coalesced = false;
	for (int handled = 0; handled < RX_PER_WAKE;) {
		for (int i = 0; i < RX_BATCH; i++) {
			iov[i] = (struct iovec){b->rx_bufs + (size_t)i * GWMP_MAX_DATAGRAM,
			                        GWMP_MAX_DATAGRAM};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
			                                  .msg_namelen = sizeof(from[i]),
			                                  .msg_iov = &iov[i],
			                                  .msg_iovlen = 1};
		}
		int n = recvmmsg(fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0 && errno == EAGAIN && handled >= COALESCE_MIN && !coalesced) {
			/* Under load, a short pause lets the next datagrams gather, so
			 * they cost one wake-up instead of one each (context switches
			 * were a fifth of the bridge's CPU at 30,000 uplinks/s). Acks
			 * and publishes of what was read have already gone out. */
			coalesced = true;
			nanosleep(&(struct timespec){.tv_nsec = COALESCE_US * 1000}, NULL);
			continue;
		}
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				LOG_RATELIMITED(&b->rl.bad_datagram, LF_LOG_WARN, "udp receive: %s",
				                strerror(errno));
			}
			return;
		}
		for (int i = 0; i < n; i++) {
			handle_datagram(b, iov[i].iov_base, msgs[i].msg_len, &from[i],
			                msgs[i].msg_hdr.msg_namelen);
		}
		flush_acks(b);
		handled += n;
	}
}

static int64_t
tick(struct lf_loop *loop, void *arg)
{
	struct bridge *b = arg;
	int64_t now = lf_now_ms();
	bridge_expire_downlinks(b, now, false);
	/* A full pass over the gateways once a second (or faster for a short
	 * gateway_timeout) is cheap even for 10,000 gateways. */
	int64_t every = b->cfg->gateway_timeout / 4 < 1000 ? b->cfg->gateway_timeout / 4 : 1000;
	if (now - b->last_gateway_sweep_ms >= every) {
		b->last_gateway_sweep_ms = now;
		bridge_sweep_gateways(b, now);
	}
	return TICK_MS;
}

static int64_t
metrics_tick(struct lf_loop *loop, void *arg)
{
	struct bridge *b = arg;
	bridge_publish_metrics(b);
	return b->cfg->metrics_interval;
}

static void
on_signal(struct lf_loop *loop, int signo, void *arg)
{
	struct bridge *b = arg;
	LOG_INFO("%s: shutting down", strsignal(signo));
	b->stopping = true;
	lf_loop_stop(loop);
}

static void
on_mqtt_message(struct lf_mqtt *mqtt, const struct mosquitto_message *msg,
                const mosquitto_property *props, void *arg)
{
	struct bridge *b = arg;
	size_t tlen = strlen(msg->topic);
	if (strncmp(msg->topic, "lorafleet/bridge/", 17) == 0) {
		bridge_handle_peer_state(b, msg->topic, msg->payload, (size_t)msg->payloadlen);
	} else if (tlen > 6 && strcmp(msg->topic + tlen - 6, "/state") == 0) {
		bridge_handle_remote_state(b, msg->topic, msg->payload, (size_t)msg->payloadlen);
	} else {
		bridge_handle_down(b, msg->topic, msg->payload, (size_t)msg->payloadlen);
	}
}

static void
on_mqtt_state(struct lf_mqtt *mqtt, bool connected, void *arg)
{
	struct bridge *b = arg;
	if (!connected) {
		return;
	}
	if (!b->connected_once) {
		b->connected_once = true; /* what was published before is queued */
		return;
	}
	/* A broker that restarted without persistence has lost the retained
	 * states: publish them all again (harmless when it kept them). */
	struct gateway *gw;
	for (size_t i = 0; (gw = gateway_table_next(&b->gateways, &i)) != NULL;) {
		bridge_publish_gateway_state(b, gw);
	}
}

static int
udp_open(struct bridge *b)
{
	char host[256];
	uint16_t port;
	if (lf_cfg_split_hostport(b->cfg->udp_bind, host, sizeof(host), &port) != 0) {
		LOG_ERROR("udp_bind %s: not host:port", b->cfg->udp_bind);
		return -1;
	}
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "0.0.0.0", service, &hints, &res);
	if (rc != 0) {
		LOG_ERROR("udp_bind %s: %s", b->cfg->udp_bind, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && res->ai_family == AF_INET6) {
		int off = 0; /* "[::]:1680" serves IPv4 gateways too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
		LOG_ERROR("udp_bind %s: %s", b->cfg->udp_bind, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	int rcvbuf = (int)b->cfg->udp_rcvbuf;
	/* Bursts of thousands of gateways must not overflow the socket; as
	 * root, go past net.core.rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	char addr[ADDR_STRLEN];
	bridge_addr_format((const struct sockaddr *)&bound, blen, addr);
	/* Tests and scripts read the port from this line: keep its wording. */
	LOG_INFO("udp listening on %s", addr);
	b->udp_fd = fd;
	return 0;
}

static void
init_ratelimits(struct bridge_ratelimits *rl)
{
	const struct lf_ratelimit per_10s = LF_RATELIMIT_INIT(10000, 10);
	rl->bad_datagram = rl->bad_json = rl->address = rl->pinned = rl->bad_down = rl->tx_ack =
	        rl->full = per_10s;
	/* Enough for a fleet's start to be seen gateway by gateway. */
	const struct lf_ratelimit per_10s_100 = LF_RATELIMIT_INIT(10000, 100);
	rl->seen = rl->gone = per_10s_100;
}

static int
mqtt_open(struct bridge *b)
{
	char client_id[128], will_topic[160];
	snprintf(client_id, sizeof(client_id), "lorafleet-bridge-%s", b->instance);
	snprintf(will_topic, sizeof(will_topic), "lorafleet/bridge/%s/state", b->instance);
	lf_strlcpy(b->self_topic, will_topic, sizeof(b->self_topic));
	char *will = bridge_self_state_json(b, false);
	char *birth = bridge_self_state_json(b, true);
	struct lf_mqtt_options opts = {
	        .cfg = &b->settings->mqtt,
	        .client_id = client_id,
	        .will_topic = will_topic,
	        .will_payload = will,
	        .birth_topic = will_topic,
	        .birth_payload = birth,
	        .outbox_max = (size_t)b->cfg->buffer_max,
	        .on_message = on_mqtt_message,
	        .on_state = on_mqtt_state,
	        .arg = b,
	        .metrics = b->metrics,
	};
	b->mqtt = will != NULL && birth != NULL ? lf_mqtt_new(b->loop, &opts) : NULL;
	free(will);
	free(birth);
	if (b->mqtt == NULL) {
		return -1;
	}
	char topic[256];
	lf_mqtt_topic(topic, sizeof(topic), b->prefix, "+", "down");
	if (lf_mqtt_subscribe(b->mqtt, topic, b->qos) != 0) {
		return -1;
	}
	/* Other bridges' gateways, so that only the serving bridge acks. */
	lf_mqtt_topic(topic, sizeof(topic), b->prefix, "+", "state");
	if (lf_mqtt_subscribe(b->mqtt, topic, b->qos) != 0 ||
	    lf_mqtt_subscribe(b->mqtt, "lorafleet/bridge/+/state", b->qos) != 0) {
		return -1;
	}
	return lf_mqtt_start(b->mqtt);
}

struct bridge *
bridge_new(const struct bridge_settings *settings)
{
	struct bridge *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return NULL;
	}
	b->settings = settings;
	b->cfg = &settings->bridge;
	b->prefix = settings->mqtt.topic_prefix;
	b->qos = (int)settings->mqtt.qos;
	b->udp_fd = -1;
	gateway_table_init(&b->gateways);
	gateway_table_init(&b->elsewhere);
	init_ratelimits(&b->rl);
	if (b->cfg->instance[0] != '\0') {
		lf_strlcpy(b->instance, b->cfg->instance, sizeof(b->instance));
	} else {
		lf_hostname(b->instance, sizeof(b->instance));
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	lf_format_rfc3339(&now, b->started_at);

	static const int signals[] = {SIGINT, SIGTERM};
	b->loop = lf_loop_new();
	b->metrics = lf_metrics_new();
	b->rx_bufs = malloc((size_t)RX_BATCH * GWMP_MAX_DATAGRAM);
	b->acks = calloc(1, sizeof(*b->acks));
	if (b->loop == NULL || b->metrics == NULL || b->rx_bufs == NULL || b->acks == NULL) {
		bridge_free(b);
		return NULL;
	}
	bridge_metrics_init(b);
	if (udp_open(b) != 0 ||
	    lf_loop_watch(b->loop, b->udp_fd, LF_LOOP_READ, udp_ready, b) != 0 ||
	    lf_loop_signals(b->loop, signals, 2, on_signal, b) != 0 || mqtt_open(b) != 0) {
		bridge_free(b);
		return NULL;
	}
	lf_loop_timer_add(b->loop, TICK_MS, tick, b);
	lf_loop_timer_add(b->loop, b->cfg->metrics_interval, metrics_tick, b);
	LOG_INFO("bridge %s started (lorafleet %s), broker %s:%lld, topic prefix %s", b->instance,
	         LF_VERSION, settings->mqtt.host, (long long)settings->mqtt.port, b->prefix);
	return b;
}

/* Clean shutdown: every gateway offline, every pending downlink acked,
 * the bridge's own state offline, then wait for the broker to have it all. */
static int
shutdown_cleanly(struct bridge *b)
{
	lf_loop_unwatch(b->loop, b->udp_fd);
	bridge_expire_downlinks(b, lf_now_ms(), true);
	struct gateway *gw;
	for (size_t i = 0; (gw = gateway_table_next(&b->gateways, &i)) != NULL;) {
		bridge_set_online(b, gw, false);
	}
	bridge_publish_metrics(b);
	bridge_publish_self_state(b, false);
	size_t left = lf_mqtt_close(b->mqtt, 5000);
	if (left > 0) {
		LOG_ERROR("shutdown: %zu messages could not be delivered to the broker", left);
		return 1;
	}
	LOG_INFO("bridge %s stopped", b->instance);
	return 0;
}

int
bridge_run(struct bridge *b)
{
	lf_loop_run(b->loop);
	return shutdown_cleanly(b);
}

void
bridge_free(struct bridge *b)
{
	if (b == NULL) {
		return;
	}
	lf_mqtt_free(b->mqtt);
	while (b->pending_head != NULL) {
		struct pending_downlink *p = b->pending_head;
		b->pending_head = p->next;
		free(p);
	}
	gateway_table_clear(&b->gateways);
	gateway_table_clear(&b->elsewhere);
	free(b->peers);
	if (b->udp_fd >= 0) {
		close(b->udp_fd);
	}
	lf_metrics_free(b->metrics);
	lf_loop_free(b->loop);
	free(b->rx_bufs);
	free(b->acks);
	free(b);
}
