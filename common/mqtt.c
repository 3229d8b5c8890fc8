/*
 * libmosquitto driven by the daemon's own lf_loop: the MQTT socket is one
 * more fd in the epoll set, callbacks run on the daemon's thread, and a
 * publish is one write(2) with no thread hop. (With mosquitto_loop_start,
 * every publish also woke the library's thread: a context switch and three
 * more syscalls per message, a third of the bridge's CPU at high rates.)
 *
 * Only connecting blocks (DNS, TCP connect, TLS handshake), so each
 * (re)connect attempt runs in a short-lived connector thread. While it
 * runs, the daemon's thread does not touch the mosquitto object: publishes
 * wait in a small deferred list and are handed over, in order, when the
 * attempt ends. Attempts repeat forever with capped exponential backoff;
 * a DNS failure, as when a broker container starts late, is retried like
 * any other failure.
 *
 * The outbox is libmosquitto's own queue. libmosquitto 2.0 queues every
 * QoS > 0 message in order, connected or not (publish then answers
 * MOSQ_ERR_NO_CONN but keeps the message), and sends the queue again after
 * a reconnect; on_publish fires once per message when the broker has
 * acknowledged it (QoS 0: when written). So "pending" is simply
 * published - acknowledged, and the bound is enforced on that count: past
 * it, new non-retained messages are refused and counted, which keeps what
 * is queued in order and never duplicates anything.
 */
#include "lf/mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "lf/log.h"
#include "lf/loop.h"
#include "lf/metrics.h"
#include "lf/util.h"

#define MAX_SUBSCRIPTIONS 16
#define BACKOFF_MIN_MS    250
#define MISC_INTERVAL_MS  1000
#define SESSION_EXPIRY_S  (24 * 3600)

/* A publish made while a connect attempt owns the mosquitto object. */
struct deferred {
	struct deferred *next;
	char *topic;
	void *payload;
	size_t len;
	int qos;
	bool retain;
	mosquitto_property *props;
};

struct subscription {
	char *pattern;
	int qos;
};

enum link_state {
	LINK_IDLE,       /* not started, or waiting for the next attempt */
	LINK_CONNECTING, /* the connector thread owns mosq */
	LINK_OPEN,       /* socket watched; CONNACK may still be on its way */
	LINK_CLOSED,     /* lf_mqtt_close() done */
};

struct lf_mqtt {
	struct lf_loop *loop;
	struct mosquitto *mosq;
	struct lf_mqtt_options opts;
	char *host, *client_id, *birth_topic, *birth_payload, *will_topic, *will_payload;
	int port, keepalive_s;
	mosquitto_property *connect_props;

	enum link_state state;
	bool connected; /* CONNACK received on the open link */
	int fd;         /* watched socket, -1 when none */
	unsigned fd_mask;
	int64_t backoff_ms;
	int64_t opened_at_ms;
	uint64_t retry_timer, misc_timer;
	bool reported;    /* the current outage has been logged */
	bool check_write; /* published since the loop last slept */
	bool abandoned;   /* a connect attempt outlived close: never free under it */

	pthread_t connector;
	int connector_fd; /* eventfd: the attempt is over */
	int connect_rc;   /* written by the connector before it signals */

	struct deferred *def_head, *def_tail;
	struct subscription subs[MAX_SUBSCRIPTIONS];
	size_t n_subs;
	size_t unacked, pending_max;

	struct lf_metric *m_connects, *m_disconnects, *m_dropped, *m_depth, *m_failed, *m_refused;
	uint64_t refused; /* publishes the broker refused (v5 PUBACK reason >= 128) */
};

static void schedule_attempt(struct lf_mqtt *mqtt);

/* ---- callbacks (all on the daemon's thread) --------------------------- */

static void
on_connect(struct mosquitto *mosq, void *arg, int rc, int flags, const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	if (rc != 0) {
		LOG_WARN("mqtt: connection refused by %s:%d: %s", mqtt->host, mqtt->port,
		         mosquitto_connack_string(rc));
		return;
	}
	LOG_INFO("mqtt: connected to %s:%d as %s", mqtt->host, mqtt->port, mqtt->client_id);
	/* libmosquitto formats a log line (malloc + vsnprintf) for every
	 * packet in and out whenever a log callback is set: 2 µs per uplink,
	 * 10 % of the bridge's CPU. What matters (TLS and connection errors)
	 * happens while connecting; once connected, only debug wants it. */
	if (lf_log_threshold < LF_LOG_DEBUG) {
		mosquitto_log_callback_set(mosq, NULL);
	}
	mqtt->connected = true;
	mqtt->reported = false;
	lf_metric_inc(mqtt->m_connects);
	for (size_t i = 0; i < mqtt->n_subs; i++) {
		mosquitto_subscribe(mosq, NULL, mqtt->subs[i].pattern, mqtt->subs[i].qos);
	}
	if (mqtt->birth_topic != NULL) {
		mqtt->unacked++;
		mosquitto_publish(mosq, NULL, mqtt->birth_topic, (int)strlen(mqtt->birth_payload),
		                  mqtt->birth_payload, 1, true);
	}
	if (mqtt->opts.on_state != NULL) {
		mqtt->opts.on_state(mqtt, true, mqtt->opts.arg);
	}
}

static void
on_publish(struct mosquitto *mosq, void *arg, int mid, int reason, const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	if (mqtt->unacked > 0) {
		mqtt->unacked--;
	}
	lf_metric_set(mqtt->m_depth, (int64_t)mqtt->unacked);
	/* An MQTT v5 PUBACK can say the broker dropped the message, as
	 * mosquitto does for a topic the ACL does not let this user write
	 * (135). (A 3.1.1 broker drops it without a word.) Logged at 1, 2, 4,
	 * 8, ... so a wrong ACL is seen without flooding the log. */
	if (reason >= MQTT_RC_UNSPECIFIED) {
		lf_metric_inc(mqtt->m_refused);
		uint64_t n = ++mqtt->refused;
		if ((n & (n - 1)) == 0) {
			LOG_WARN(
			        "mqtt: the broker refused a publish: %s (%d); %llu refused so far. "
			        "Check the broker's ACL for user \"%s\"",
			        mosquitto_reason_string(reason), reason, (unsigned long long)n,
			        mqtt->opts.cfg->username);
		}
	}
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg,
           const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	if (mqtt->opts.on_message != NULL) {
		mqtt->opts.on_message(mqtt, msg, props, mqtt->opts.arg);
	}
}

static void
on_log(struct mosquitto *mosq, void *arg, int level, const char *str)
{
	if (level & MOSQ_LOG_ERR) {
		LOG_WARN("mqtt: %s", str);
	} else if (level & MOSQ_LOG_WARNING) {
		LOG_DEBUG("mqtt: %s", str);
	}
}

/* ---- the link ---------------------------------------------------------- */

static void socket_ready(struct lf_loop *loop, int fd, unsigned events, void *arg);

/* Watches the socket for reading, and for writing while libmosquitto has
 * bytes it could not write yet. */
static void
update_watch(struct lf_mqtt *mqtt)
{
	if (mqtt->state != LINK_OPEN || mqtt->fd < 0) {
		return;
	}
	unsigned mask = LF_LOOP_READ | (mosquitto_want_write(mqtt->mosq) ? LF_LOOP_WRITE : 0);
	if (mask != mqtt->fd_mask) {
		lf_loop_watch(mqtt->loop, mqtt->fd, mask, socket_ready, mqtt);
		mqtt->fd_mask = mask;
	}
}

static void
link_lost(struct lf_mqtt *mqtt, int rc)
{
	if (mqtt->fd >= 0) {
		lf_loop_unwatch(mqtt->loop, mqtt->fd);
		mqtt->fd = -1;
	}
	bool was_connected = mqtt->connected;
	mqtt->connected = false;
	mqtt->state = LINK_IDLE;
	mosquitto_log_callback_set(mqtt->mosq, on_log); /* for the next connect */
	if (was_connected) {
		lf_metric_inc(mqtt->m_disconnects);
		LOG_WARN("mqtt: connection to %s:%d lost (%s), reconnecting", mqtt->host,
		         mqtt->port,
		         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		if (mqtt->opts.on_state != NULL) {
			mqtt->opts.on_state(mqtt, false, mqtt->opts.arg);
		}
	}
	/* A connection that held for a while starts the backoff afresh. */
	if (lf_now_ms() - mqtt->opened_at_ms > mqtt->opts.cfg->reconnect_max) {
		mqtt->backoff_ms = BACKOFF_MIN_MS;
	}
	schedule_attempt(mqtt);
}

static void
socket_ready(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	int rc = MOSQ_ERR_SUCCESS;
	if (events & LF_LOOP_READ) {
		/* Reads every whole packet available (PUBACKs come in bursts). */
		rc = mosquitto_loop_read(mqtt->mosq, 1000);
	}
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mqtt->mosq)) {
		rc = mosquitto_loop_write(mqtt->mosq, 1000);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		link_lost(mqtt, rc);
		return;
	}
	update_watch(mqtt);
}

static void
before_sleep(struct lf_loop *loop, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	if (mqtt->check_write) {
		mqtt->check_write = false;
		update_watch(mqtt);
	}
}

static int64_t
misc_tick(struct lf_loop *loop, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	if (mqtt->state == LINK_OPEN) {
		/* Keepalive: PINGREQ when due, and a dead link when no PINGRESP. */
		int rc = mosquitto_loop_misc(mqtt->mosq);
		if (rc != MOSQ_ERR_SUCCESS) {
			link_lost(mqtt, rc);
		} else {
			update_watch(mqtt);
		}
	}
	return MISC_INTERVAL_MS;
}

static void *
connector_main(void *arg)
{
	struct lf_mqtt *mqtt = arg;
	int rc = mosquitto_connect_bind_v5(mqtt->mosq, mqtt->host, mqtt->port, mqtt->keepalive_s,
	                                   NULL, mqtt->connect_props);
	mqtt->connect_rc = rc == MOSQ_ERR_ERRNO ? -errno : rc;
	uint64_t one = 1;
	ssize_t n = write(mqtt->connector_fd, &one, sizeof(one));
	(void)n; /* an eventfd write of 1 cannot fail short of overflow */
	return NULL;
}

static int
send_now(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len, int qos,
         bool retain, const mosquitto_property *props)
{
	/* on_publish reports every message: QoS 0 when written, QoS 1 when
	 * acknowledged. */
	mqtt->unacked++;
	int rc = mosquitto_publish_v5(mqtt->mosq, NULL, topic, (int)len, payload, qos, retain,
	                              props);
	if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && qos > 0)) {
		return MOSQ_ERR_SUCCESS; /* sent, or queued by libmosquitto: see the top */
	}
	mqtt->unacked--;
	return rc == MOSQ_ERR_NO_CONN ? MOSQ_ERR_SUCCESS : rc; /* QoS 0 in an outage: gone */
}

static void
deferred_free(struct deferred *d)
{
	free(d->topic);
	free(d->payload);
	mosquitto_property_free_all(&d->props);
	free(d);
}

/* Hands what was published during the attempt to libmosquitto, in order. */
static void
flush_deferred(struct lf_mqtt *mqtt)
{
	while (mqtt->def_head != NULL) {
		struct deferred *d = mqtt->def_head;
		mqtt->def_head = d->next;
		mqtt->unacked--; /* counted when deferred; send_now counts again */
		int rc = send_now(mqtt, d->topic, d->payload, d->len, d->qos, d->retain, d->props);
		if (rc != MOSQ_ERR_SUCCESS) {
			lf_metric_inc(mqtt->m_failed);
			LOG_ERROR("mqtt: publish to %s failed: %s", d->topic,
			          mosquitto_strerror(rc));
		}
		deferred_free(d);
	}
	mqtt->def_tail = NULL;
}

static void
connector_done(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	uint64_t value;
	if (read(fd, &value, sizeof(value)) != (ssize_t)sizeof(value)) {
		return;
	}
	pthread_join(mqtt->connector, NULL);
	int rc = mqtt->connect_rc;
	mqtt->state = LINK_IDLE;
	flush_deferred(mqtt);
	if (rc != MOSQ_ERR_SUCCESS) {
		if (!mqtt->reported) {
			LOG_WARN("mqtt: cannot connect to %s:%d: %s; retrying, at most every %lld "
			         "ms",
			         mqtt->host, mqtt->port,
			         rc < 0 ? strerror(-rc) : mosquitto_strerror(rc),
			         (long long)mqtt->opts.cfg->reconnect_max);
			mqtt->reported = true;
		}
		schedule_attempt(mqtt);
		return;
	}
	mqtt->fd = mosquitto_socket(mqtt->mosq);
	/* The loop must never block on this socket. */
	int flags = fcntl(mqtt->fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK)) {
		fcntl(mqtt->fd, F_SETFL, flags | O_NONBLOCK);
	}
	mqtt->state = LINK_OPEN;
	mqtt->opened_at_ms = lf_now_ms();
	mqtt->fd_mask = 0;
	update_watch(mqtt);
}

static int64_t
attempt_now(struct lf_loop *loop, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	mqtt->retry_timer = 0;
	if (mqtt->state != LINK_IDLE) {
		return -1;
	}
	mqtt->state = LINK_CONNECTING;
	if (pthread_create(&mqtt->connector, NULL, connector_main, mqtt) != 0) {
		LOG_ERROR("mqtt: cannot start a connect attempt: %s", strerror(errno));
		mqtt->state = LINK_IDLE;
		schedule_attempt(mqtt);
	}
	return -1;
}

static void
schedule_attempt(struct lf_mqtt *mqtt)
{
	if (mqtt->state != LINK_IDLE || mqtt->retry_timer != 0) {
		return;
	}
	mqtt->retry_timer = lf_loop_timer_add(mqtt->loop, mqtt->backoff_ms, attempt_now, mqtt);
	int64_t next = mqtt->backoff_ms * 2;
	mqtt->backoff_ms =
	        next < mqtt->opts.cfg->reconnect_max ? next : mqtt->opts.cfg->reconnect_max;
}

/* ---- public ------------------------------------------------------------ */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
configure(struct lf_mqtt *mqtt)
{
	const struct lf_mqtt_config *cfg = mqtt->opts.cfg;
	struct mosquitto *m = mqtt->mosq;
	int rc = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, mqtt->opts.protocol_version);
	/* Nagle would hold a downlink back for up to tens of milliseconds. */
	if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	}
	if (rc == MOSQ_ERR_SUCCESS && cfg->username[0] != '\0') {
		rc = mosquitto_username_pw_set(m, cfg->username, cfg->password);
	}
	if (rc == MOSQ_ERR_SUCCESS && cfg->tls_ca[0] != '\0') {
		rc = mosquitto_tls_set(m, cfg->tls_ca, NULL,
		                       cfg->tls_cert[0] != '\0' ? cfg->tls_cert : NULL,
		                       cfg->tls_key[0] != '\0' ? cfg->tls_key : NULL, NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS && mqtt->will_topic != NULL) {
		rc = mosquitto_will_set(m, mqtt->will_topic, (int)strlen(mqtt->will_payload),
		                        mqtt->will_payload, 1, true);
	}
	if (rc == MOSQ_ERR_SUCCESS) {
		/* More in flight than the default 20 keeps QoS 1 throughput up. */
		rc = mosquitto_max_inflight_messages_set(m, 100);
	}
	if (rc == MOSQ_ERR_SUCCESS && mqtt->opts.protocol_version == MQTT_PROTOCOL_V5) {
		/* The other way: an MQTT v5 client tells the broker how many QoS 1
		 * messages it may have in flight to us (receive maximum; the
		 * broker's max_inflight_messages only binds 3.1.1 clients), and
		 * libmosquitto says 20. Past that the broker holds our messages
		 * in its memory, where a broker crash loses them if it has not
		 * saved them yet, although the publisher was told they were safe
		 * (it_fault_broker: 1 uplink in 2,600 never reached routerlink);
		 * written to our socket they reach us before the crash. Over a
		 * network 20 in flight would also cap throughput at 20 per RTT. */
		rc = mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	}
	if (rc == MOSQ_ERR_SUCCESS && mqtt->opts.protocol_version == MQTT_PROTOCOL_V5 &&
	    mqtt->opts.persistent_session) {
		/* Without a session expiry a v5 session ends at disconnect. */
		rc = mosquitto_property_add_int32(
		        &mqtt->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
	}
	return rc;
}

static void
register_metrics(struct lf_mqtt *mqtt, struct lf_metrics *reg)
{
	if (reg == NULL) {
		return;
	}
	mqtt->m_connects = lf_metrics_counter(reg, "mqtt_connects_total",
	                                      "Successful connections to the broker");
	mqtt->m_disconnects =
	        lf_metrics_counter(reg, "mqtt_disconnects_total", "Connections to the broker lost");
	mqtt->m_dropped = lf_metrics_counter(
	        reg, "mqtt_outbox_dropped_total",
	        "Messages dropped because the outbox was full (broker away or too slow)");
	mqtt->m_depth = lf_metrics_gauge(reg, "mqtt_outbox_depth",
	                                 "Messages not yet acknowledged by the broker");
	mqtt->m_failed = lf_metrics_counter(reg, "mqtt_publish_failed_total",
	                                    "Publishes libmosquitto refused");
	mqtt->m_refused = lf_metrics_counter(
	        reg, "mqtt_publish_refused_total",
	        "Publishes the broker acknowledged but refused (MQTT v5 reason >= 128, e.g. not "
	        "authorized by its ACL)");
}

struct lf_mqtt *
lf_mqtt_new(struct lf_loop *loop, const struct lf_mqtt_options *opts)
{
	struct lf_mqtt *mqtt = calloc(1, sizeof(*mqtt));
	if (mqtt == NULL) {
		return NULL;
	}
	mqtt->loop = loop;
	mqtt->opts = *opts;
	mqtt->fd = -1;
	mqtt->connector_fd = -1;
	mqtt->state = LINK_IDLE;
	mqtt->backoff_ms = BACKOFF_MIN_MS;
	if (mqtt->opts.protocol_version == 0) {
		mqtt->opts.protocol_version = MQTT_PROTOCOL_V311;
	}
	mqtt->pending_max = opts->outbox_max > 0 ? opts->outbox_max : 10000;
	const struct lf_mqtt_config *cfg = opts->cfg;
	mqtt->host = strdup(cfg->host);
	mqtt->port = (int)cfg->port;
	mqtt->keepalive_s = (int)(cfg->keepalive / 1000);
	mqtt->client_id = strdup(cfg->client_id[0] != '\0' ? cfg->client_id : opts->client_id);
	/* The options' strings are the caller's; keep our own copies. */
	mqtt->birth_topic = dup_or_null(opts->birth_topic);
	mqtt->birth_payload = dup_or_null(opts->birth_payload);
	mqtt->will_topic = dup_or_null(opts->will_topic);
	mqtt->will_payload = dup_or_null(opts->will_payload);
	mqtt->opts.client_id = NULL;
	mqtt->opts.birth_topic = mqtt->opts.birth_payload = NULL;
	mqtt->opts.will_topic = mqtt->opts.will_payload = NULL;
	register_metrics(mqtt, opts->metrics);

	mqtt->mosq = mosquitto_new(mqtt->client_id, !opts->persistent_session, mqtt);
	mqtt->connector_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mqtt->host == NULL || mqtt->client_id == NULL || mqtt->mosq == NULL ||
	    mqtt->connector_fd < 0) {
		LOG_ERROR("mqtt: cannot create the client: %s", strerror(errno));
		lf_mqtt_free(mqtt);
		return NULL;
	}
	int rc = configure(mqtt);
	if (rc != MOSQ_ERR_SUCCESS) {
		LOG_ERROR("mqtt: bad client settings: %s", mosquitto_strerror(rc));
		lf_mqtt_free(mqtt);
		return NULL;
	}
	mosquitto_connect_v5_callback_set(mqtt->mosq, on_connect);
	mosquitto_publish_v5_callback_set(mqtt->mosq, on_publish);
	mosquitto_message_v5_callback_set(mqtt->mosq, on_message);
	mosquitto_log_callback_set(mqtt->mosq, on_log);
	if (lf_loop_before_sleep_add(loop, before_sleep, mqtt) != 0 ||
	    lf_loop_watch(loop, mqtt->connector_fd, LF_LOOP_READ, connector_done, mqtt) != 0) {
		lf_mqtt_free(mqtt);
		return NULL;
	}
	return mqtt;
}

int
lf_mqtt_start(struct lf_mqtt *mqtt)
{
	mqtt->misc_timer = lf_loop_timer_add(mqtt->loop, MISC_INTERVAL_MS, misc_tick, mqtt);
	attempt_now(mqtt->loop, mqtt);
	return mqtt->misc_timer != 0 ? 0 : -1;
}

int
lf_mqtt_subscribe(struct lf_mqtt *mqtt, const char *pattern, int qos)
{
	if (mqtt->n_subs == MAX_SUBSCRIPTIONS) {
		return -1;
	}
	char *copy = strdup(pattern);
	if (copy == NULL) {
		return -1;
	}
	mqtt->subs[mqtt->n_subs++] = (struct subscription){copy, qos};
	/* Otherwise on_connect subscribes, on every (re)connect. */
	if (mqtt->state == LINK_OPEN && mqtt->connected) {
		mosquitto_subscribe(mqtt->mosq, NULL, pattern, qos);
		update_watch(mqtt);
	}
	return 0;
}

static int
defer(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len, int qos,
      bool retain, const mosquitto_property *props)
{
	struct deferred *d = calloc(1, sizeof(*d));
	if (d == NULL || (d->topic = strdup(topic)) == NULL ||
	    (len > 0 && (d->payload = malloc(len)) == NULL) ||
	    (props != NULL && mosquitto_property_copy_all(&d->props, props) != MOSQ_ERR_SUCCESS)) {
		if (d != NULL) {
			deferred_free(d);
		}
		return -1;
	}
	if (len > 0) {
		memcpy(d->payload, payload, len);
	}
	d->len = len;
	d->qos = qos;
	d->retain = retain;
	if (mqtt->def_tail != NULL) {
		mqtt->def_tail->next = d;
	} else {
		mqtt->def_head = d;
	}
	mqtt->def_tail = d;
	mqtt->unacked++;
	return 0;
}

int
lf_mqtt_publish_v5(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len,
                   int qos, bool retain, const mosquitto_property *props)
{
	if (mqtt->state == LINK_CLOSED || mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS ||
	    len > 256 * 1024 * 1024) {
		lf_metric_inc(mqtt->m_failed);
		return -1;
	}
	/* Retained messages are state (online/offline): few, and they must
	 * not be lost to a burst of uplinks. */
	if (mqtt->unacked >= mqtt->pending_max && !retain) {
		lf_metric_inc(mqtt->m_dropped);
		uint64_t dropped = (uint64_t)lf_metric_value(mqtt->m_dropped);
		/* One line per power of two keeps the log readable in a long outage. */
		if (mqtt->m_dropped == NULL || (dropped & (dropped - 1)) == 0) {
			LOG_WARN("mqtt: outbox full (%zu messages unacknowledged): message to %s "
			         "dropped, %llu dropped so far",
			         mqtt->pending_max, topic, (unsigned long long)dropped);
		}
		return 0;
	}
	int rc;
	if (mqtt->state == LINK_CONNECTING) {
		rc = defer(mqtt, topic, payload, len, qos, retain, props) == 0 ? MOSQ_ERR_SUCCESS
		                                                               : MOSQ_ERR_NOMEM;
	} else {
		rc = send_now(mqtt, topic, payload, len, qos, retain, props);
		/* Whether libmosquitto could write it all is checked once before
		 * the loop sleeps, not after every publish (two mutexes each). */
		mqtt->check_write = true;
	}
	lf_metric_set(mqtt->m_depth, (int64_t)mqtt->unacked);
	if (rc != MOSQ_ERR_SUCCESS) {
		lf_metric_inc(mqtt->m_failed);
		LOG_ERROR("mqtt: publish to %s failed: %s", topic, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

int
lf_mqtt_publish(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len, int qos,
                bool retain)
{
	return lf_mqtt_publish_v5(mqtt, topic, payload, len, qos, retain, NULL);
}

bool
lf_mqtt_connected(const struct lf_mqtt *mqtt)
{
	return mqtt->connected;
}

size_t
lf_mqtt_pending(const struct lf_mqtt *mqtt)
{
	return mqtt->unacked;
}

/* Waits for a running connect attempt; false when it is stuck (a connect()
 * to an unreachable host can block for minutes). */
static bool
join_connector(struct lf_mqtt *mqtt, int timeout_ms)
{
	if (mqtt->state != LINK_CONNECTING) {
		return true;
	}
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	if (pthread_timedjoin_np(mqtt->connector, NULL, &deadline) != 0) {
		return false;
	}
	uint64_t value;
	ssize_t n = read(mqtt->connector_fd, &value, sizeof(value));
	(void)n;
	mqtt->state = LINK_IDLE;
	flush_deferred(mqtt);
	return true;
}

static void
stop_timers(struct lf_mqtt *mqtt)
{
	if (mqtt->retry_timer != 0) {
		lf_loop_timer_cancel(mqtt->loop, mqtt->retry_timer);
		mqtt->retry_timer = 0;
	}
	if (mqtt->misc_timer != 0) {
		lf_loop_timer_cancel(mqtt->loop, mqtt->misc_timer);
		mqtt->misc_timer = 0;
	}
}

size_t
lf_mqtt_close(struct lf_mqtt *mqtt, int64_t timeout_ms)
{
	if (mqtt->state == LINK_CLOSED) {
		return 0;
	}
	int64_t deadline = lf_now_ms() + timeout_ms;
	while ((mqtt->unacked > 0 || mqtt->state == LINK_CONNECTING) && lf_now_ms() < deadline) {
		lf_loop_run_once(mqtt->loop, 50);
	}
	size_t left = mqtt->unacked;
	if (left > 0) {
		LOG_WARN("mqtt: closing with %zu messages unsent", left);
	}
	stop_timers(mqtt);
	if (!join_connector(mqtt, 3000)) {
		LOG_WARN("mqtt: a connect attempt is still blocked; leaving it");
		pthread_detach(mqtt->connector);
		mqtt->abandoned = true;
		mqtt->state = LINK_CLOSED;
		return left;
	}
	if (mqtt->state == LINK_OPEN) {
		/* DISCONNECT tells the broker not to publish the will. */
		mosquitto_disconnect(mqtt->mosq);
		mosquitto_loop_write(mqtt->mosq, 1);
		lf_loop_unwatch(mqtt->loop, mqtt->fd);
		mqtt->fd = -1;
	}
	mqtt->connected = false;
	mqtt->state = LINK_CLOSED;
	return left;
}

void
lf_mqtt_free(struct lf_mqtt *mqtt)
{
	if (mqtt == NULL) {
		return;
	}
	if (mqtt->state != LINK_CLOSED) {
		stop_timers(mqtt);
		if (!join_connector(mqtt, 3000)) {
			pthread_detach(mqtt->connector);
			mqtt->abandoned = true;
		}
		if (mqtt->fd >= 0) {
			lf_loop_unwatch(mqtt->loop, mqtt->fd);
		}
	}
	if (mqtt->abandoned) {
		/* The process is exiting; the thread still uses mosq and will
		 * write to connector_fd, so neither may go away under it. */
		lf_loop_before_sleep_remove(mqtt->loop, before_sleep, mqtt);
		lf_loop_unwatch(mqtt->loop, mqtt->connector_fd);
		return;
	}
	lf_loop_before_sleep_remove(mqtt->loop, before_sleep, mqtt);
	if (mqtt->connector_fd >= 0) {
		lf_loop_unwatch(mqtt->loop, mqtt->connector_fd);
		close(mqtt->connector_fd);
	}
	while (mqtt->def_head != NULL) {
		struct deferred *d = mqtt->def_head;
		mqtt->def_head = d->next;
		deferred_free(d);
	}
	mosquitto_destroy(mqtt->mosq);
	for (size_t i = 0; i < mqtt->n_subs; i++) {
		free(mqtt->subs[i].pattern);
	}
	mosquitto_property_free_all(&mqtt->connect_props);
	free(mqtt->host);
	free(mqtt->client_id);
	free(mqtt->birth_topic);
	free(mqtt->birth_payload);
	free(mqtt->will_topic);
	free(mqtt->will_payload);
	free(mqtt);
}

int
lf_mqtt_topic(char *out, size_t outlen, const char *prefix, const char *a, const char *b)
{
	/* On every uplink's path: plain copies rather than snprintf. */
	size_t lp = strlen(prefix), la = strlen(a), lb = strlen(b);
	if (lp + la + lb + 3 > outlen) {
		return -1;
	}
	char *p = out;
	/* The last copy brings the terminating NUL. */
	memcpy(p, prefix, lp); // NOLINT(bugprone-not-null-terminated-result)
	p += lp;
	*p++ = '/';
	memcpy(p, a, la); // NOLINT(bugprone-not-null-terminated-result)
	p += la;
	*p++ = '/';
	memcpy(p, b, lb + 1);
	return 0;
}
