/*
 * libmosquitto runs in a network thread of ours (not mosquitto_loop_start,
 * whose thread gives up for good on some errors, a DNS failure among them,
 * which is how a broker container that starts late looks). The thread
 * connects, reconnects with backoff forever, and runs mosquitto_loop; a slow
 * or absent broker never blocks the daemon's own loop. Everything the daemon sees happens on the
 * daemon's thread: the library thread only queues events (connected,
 * disconnected, message) in an inbox and wakes the loop through an eventfd.
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

enum event_kind {
	EVENT_CONNECTED,
	EVENT_DISCONNECTED,
	EVENT_MESSAGE,
};

struct event {
	struct event *next;
	enum event_kind kind;
	int rc;
	struct mosquitto_message msg; /* EVENT_MESSAGE: owned copies */
	mosquitto_property *props;
};

struct subscription {
	char *pattern;
	int qos;
};

struct lf_mqtt {
	struct lf_loop *loop;
	struct mosquitto *mosq;
	struct lf_mqtt_options opts;
	char *host, *client_id, *birth_topic, *birth_payload;
	int port, keepalive_s;
	int wakefd;
	bool started;
	pthread_t thread;
	atomic_bool stopping;
	bool abandoned; /* the thread may still use mosq: never free it */
	mosquitto_property *connect_props;

	/* Owned by the daemon's thread. */
	bool connected;
	size_t pending_max;

	/* Shared with the library thread. */
	pthread_mutex_t lock;
	struct event *in_head, *in_tail;
	struct subscription subs[MAX_SUBSCRIPTIONS];
	size_t n_subs;
	atomic_size_t unacked; /* handed to libmosquitto, on_publish not yet seen */

	struct lf_metric *m_connects, *m_disconnects, *m_dropped, *m_depth, *m_failed;
};

/* ---- library thread -------------------------------------------------- */

static void
post_event(struct lf_mqtt *mqtt, struct event *ev)
{
	pthread_mutex_lock(&mqtt->lock);
	if (mqtt->in_tail != NULL) {
		mqtt->in_tail->next = ev;
	} else {
		mqtt->in_head = ev;
	}
	mqtt->in_tail = ev;
	pthread_mutex_unlock(&mqtt->lock);
	uint64_t one = 1;
	ssize_t rc = write(mqtt->wakefd, &one, sizeof(one));
	(void)rc; /* a saturated eventfd is still readable */
}

static void
on_connect(struct mosquitto *mosq, void *arg, int rc, int flags, const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	if (rc != 0) {
		LOG_WARN("mqtt: connection refused by %s:%d: %s", mqtt->host, mqtt->port,
		         mosquitto_connack_string(rc));
		return;
	}
	/* Subscribing here rather than on the daemon's thread restores
	 * subscriptions as early as possible after a reconnect. */
	pthread_mutex_lock(&mqtt->lock);
	for (size_t i = 0; i < mqtt->n_subs; i++) {
		mosquitto_subscribe(mosq, NULL, mqtt->subs[i].pattern, mqtt->subs[i].qos);
	}
	pthread_mutex_unlock(&mqtt->lock);
	if (mqtt->birth_topic != NULL) {
		atomic_fetch_add(&mqtt->unacked, 1);
		mosquitto_publish(mosq, NULL, mqtt->birth_topic, (int)strlen(mqtt->birth_payload),
		                  mqtt->birth_payload, 1, true);
	}
	struct event *ev = calloc(1, sizeof(*ev));
	if (ev != NULL) {
		ev->kind = EVENT_CONNECTED;
		post_event(mqtt, ev);
	}
}

static void
on_disconnect(struct mosquitto *mosq, void *arg, int rc, const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	struct event *ev = calloc(1, sizeof(*ev));
	if (ev != NULL) {
		ev->kind = EVENT_DISCONNECTED;
		ev->rc = rc;
		post_event(mqtt, ev);
	}
}

static void
on_publish(struct mosquitto *mosq, void *arg, int mid, int reason, const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	size_t before = atomic_fetch_sub(&mqtt->unacked, 1);
	lf_metric_set(mqtt->m_depth, (int64_t)before - 1);
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg,
           const mosquitto_property *props)
{
	struct lf_mqtt *mqtt = arg;
	struct event *ev = calloc(1, sizeof(*ev));
	if (ev == NULL) {
		return;
	}
	ev->kind = EVENT_MESSAGE;
	if (mosquitto_message_copy(&ev->msg, msg) != MOSQ_ERR_SUCCESS ||
	    (props != NULL && mosquitto_property_copy_all(&ev->props, props) != MOSQ_ERR_SUCCESS)) {
		mosquitto_message_free_contents(&ev->msg);
		free(ev);
		LOG_ERROR("mqtt: out of memory, message on %s dropped", msg->topic);
		return;
	}
	post_event(mqtt, ev);
}

static void
on_log(struct mosquitto *mosq, void *arg, int level, const char *str)
{
	if (level & (MOSQ_LOG_ERR)) {
		LOG_WARN("mqtt: %s", str);
	} else if (level & MOSQ_LOG_WARNING) {
		LOG_DEBUG("mqtt: %s", str);
	}
}

/* ---- daemon's thread ------------------------------------------------- */

/* Hands one message to libmosquitto. */
static int
send_now(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len, int qos,
         bool retain, const mosquitto_property *props)
{
	/* libmosquitto reports every message through on_publish: QoS 0 when
	 * written, QoS 1 when acknowledged. */
	atomic_fetch_add(&mqtt->unacked, 1);
	int rc = mosquitto_publish_v5(mqtt->mosq, NULL, topic, (int)len, payload, qos, retain,
	                              props);
	if (rc != MOSQ_ERR_SUCCESS) {
		atomic_fetch_sub(&mqtt->unacked, 1);
	}
	return rc;
}

static void
handle_event(struct lf_mqtt *mqtt, struct event *ev)
{
	switch (ev->kind) {
	case EVENT_CONNECTED:
		if (!mqtt->connected) {
			LOG_INFO("mqtt: connected to %s:%d as %s", mqtt->host, mqtt->port,
			         mqtt->client_id);
		}
		mqtt->connected = true;
		lf_metric_inc(mqtt->m_connects);
		if (mqtt->opts.on_state != NULL) {
			mqtt->opts.on_state(mqtt, true, mqtt->opts.arg);
		}
		break;
	case EVENT_DISCONNECTED:
		if (mqtt->connected) {
			lf_metric_inc(mqtt->m_disconnects);
			LOG_WARN("mqtt: connection to %s:%d lost (%s), reconnecting", mqtt->host,
			         mqtt->port, mosquitto_strerror(ev->rc));
		}
		mqtt->connected = false;
		if (mqtt->opts.on_state != NULL) {
			mqtt->opts.on_state(mqtt, false, mqtt->opts.arg);
		}
		break;
	case EVENT_MESSAGE:
		if (mqtt->opts.on_message != NULL) {
			mqtt->opts.on_message(mqtt, &ev->msg, ev->props, mqtt->opts.arg);
		}
		break;
	}
}

static void
event_free(struct event *ev)
{
	mosquitto_message_free_contents(&ev->msg);
	mosquitto_property_free_all(&ev->props);
	free(ev);
}

static void
wake_ready(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct lf_mqtt *mqtt = arg;
	uint64_t value;
	while (read(fd, &value, sizeof(value)) > 0) {
	}
	pthread_mutex_lock(&mqtt->lock);
	struct event *ev = mqtt->in_head;
	mqtt->in_head = mqtt->in_tail = NULL;
	pthread_mutex_unlock(&mqtt->lock);
	while (ev != NULL) {
		struct event *next = ev->next;
		handle_event(mqtt, ev);
		event_free(ev);
		ev = next;
	}
}

/* ---- public ---------------------------------------------------------- */

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
	if (rc == MOSQ_ERR_SUCCESS && mqtt->opts.will_topic != NULL) {
		rc = mosquitto_will_set(m, mqtt->opts.will_topic,
		                        (int)strlen(mqtt->opts.will_payload),
		                        mqtt->opts.will_payload, 1, true);
	}
	if (rc == MOSQ_ERR_SUCCESS) {
		/* More in flight than the default 20 keeps QoS 1 throughput up. */
		rc = mosquitto_max_inflight_messages_set(m, 100);
	}
	if (rc == MOSQ_ERR_SUCCESS) {
		/* Publishing happens on the daemon's thread, I/O on ours. */
		rc = mosquitto_threaded_set(m, true);
	}
	if (rc == MOSQ_ERR_SUCCESS && mqtt->opts.protocol_version == MQTT_PROTOCOL_V5 &&
	    mqtt->opts.persistent_session) {
		/* Without a session expiry a v5 session ends at disconnect. */
		rc = mosquitto_property_add_int32(&mqtt->connect_props,
		                                  MQTT_PROP_SESSION_EXPIRY_INTERVAL, 24 * 3600);
	}
	return rc;
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
	mqtt->wakefd = -1;
	if (mqtt->opts.protocol_version == 0) {
		mqtt->opts.protocol_version = MQTT_PROTOCOL_V311;
	}
	mqtt->pending_max = opts->outbox_max > 0 ? opts->outbox_max : 10000;
	pthread_mutex_init(&mqtt->lock, NULL);
	const struct lf_mqtt_config *cfg = opts->cfg;
	mqtt->host = strdup(cfg->host);
	mqtt->port = (int)cfg->port;
	mqtt->keepalive_s = (int)(cfg->keepalive / 1000);
	mqtt->client_id = strdup(cfg->client_id[0] != '\0' ? cfg->client_id : opts->client_id);
	mqtt->birth_topic = dup_or_null(opts->birth_topic);
	mqtt->birth_payload = dup_or_null(opts->birth_payload);
	/* The options' strings are the caller's; keep our own copies. */
	mqtt->opts.will_topic = dup_or_null(opts->will_topic);
	mqtt->opts.will_payload = dup_or_null(opts->will_payload);
	mqtt->opts.birth_topic = mqtt->birth_topic;
	mqtt->opts.birth_payload = mqtt->birth_payload;
	mqtt->opts.client_id = mqtt->client_id;

	struct lf_metrics *reg = opts->metrics;
	if (reg != NULL) {
		mqtt->m_connects = lf_metrics_counter(reg, "mqtt_connects_total",
		                                      "Successful connections to the broker");
		mqtt->m_disconnects = lf_metrics_counter(reg, "mqtt_disconnects_total",
		                                         "Connections to the broker lost");
		mqtt->m_dropped = lf_metrics_counter(
		        reg, "mqtt_outbox_dropped_total",
		        "Messages dropped because the outbox was full (broker away or too slow)");
		mqtt->m_depth = lf_metrics_gauge(reg, "mqtt_outbox_depth",
		                                 "Messages not yet acknowledged by the broker");
		mqtt->m_failed = lf_metrics_counter(reg, "mqtt_publish_failed_total",
		                                    "Publishes libmosquitto refused");
	}

	mqtt->mosq = mosquitto_new(mqtt->client_id, !opts->persistent_session, mqtt);
	mqtt->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mqtt->host == NULL || mqtt->client_id == NULL || mqtt->mosq == NULL ||
	    mqtt->wakefd < 0) {
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
	mosquitto_disconnect_v5_callback_set(mqtt->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(mqtt->mosq, on_publish);
	mosquitto_message_v5_callback_set(mqtt->mosq, on_message);
	mosquitto_log_callback_set(mqtt->mosq, on_log);
	if (lf_loop_watch(loop, mqtt->wakefd, LF_LOOP_READ, wake_ready, mqtt) != 0) {
		lf_mqtt_free(mqtt);
		return NULL;
	}
	return mqtt;
}

/* Sleeps up to ms, waking early when the daemon stops. */
static void
backoff_sleep(struct lf_mqtt *mqtt, int64_t ms)
{
	for (int64_t slept = 0; slept < ms && !atomic_load(&mqtt->stopping); slept += 50) {
		usleep(50 * 1000);
	}
}

static void *
network_thread(void *arg)
{
	struct lf_mqtt *mqtt = arg;
	const int64_t backoff_min = 250, backoff_max = mqtt->opts.cfg->reconnect_max;
	int64_t backoff = backoff_min;
	bool reported = false;
	while (!atomic_load(&mqtt->stopping)) {
		int rc = mosquitto_connect_bind_v5(mqtt->mosq, mqtt->host, mqtt->port,
		                                   mqtt->keepalive_s, NULL, mqtt->connect_props);
		if (rc != MOSQ_ERR_SUCCESS) {
			if (!reported) {
				LOG_WARN(
				        "mqtt: cannot connect to %s:%d: %s; retrying every %lld ms "
				        "at most",
				        mqtt->host, mqtt->port,
				        rc == MOSQ_ERR_ERRNO ? strerror(errno)
				                             : mosquitto_strerror(rc),
				        (long long)backoff_max);
				reported = true;
			}
			backoff_sleep(mqtt, backoff);
			backoff = backoff * 2 < backoff_max ? backoff * 2 : backoff_max;
			continue;
		}
		int64_t connected_at = lf_now_ms();
		while (!atomic_load(&mqtt->stopping) &&
		       (rc = mosquitto_loop(mqtt->mosq, 1000, 1)) == MOSQ_ERR_SUCCESS) {
		}
		if (atomic_load(&mqtt->stopping)) {
			/* Let the DISCONNECT queued by stop_thread() go out, so the
			 * broker does not publish the will for a clean exit. */
			for (int i = 0;
			     i < 10 && mosquitto_loop(mqtt->mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++) {
			}
			break;
		}
		reported = false;
		/* A connection that held for a while starts the backoff afresh. */
		if (lf_now_ms() - connected_at > backoff_max) {
			backoff = backoff_min;
		}
		backoff_sleep(mqtt, backoff);
		backoff = backoff * 2 < backoff_max ? backoff * 2 : backoff_max;
	}
	return NULL;
}

int
lf_mqtt_start(struct lf_mqtt *mqtt)
{
	atomic_store(&mqtt->stopping, false);
	if (pthread_create(&mqtt->thread, NULL, network_thread, mqtt) != 0) {
		LOG_ERROR("mqtt: cannot start the network thread: %s", strerror(errno));
		return -1;
	}
	mqtt->started = true;
	return 0;
}

static void
stop_thread(struct lf_mqtt *mqtt)
{
	if (!mqtt->started) {
		return;
	}
	atomic_store(&mqtt->stopping, true);
	mosquitto_disconnect(mqtt->mosq);
	/* A connect() to an unreachable host can block the thread for minutes;
	 * a daemon that is shutting down does not wait for it. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	if (pthread_timedjoin_np(mqtt->thread, NULL, &deadline) != 0) {
		LOG_WARN("mqtt: network thread still blocked in connect; leaving it");
		pthread_detach(mqtt->thread);
		mqtt->abandoned = true;
	}
	mqtt->started = false;
	mqtt->connected = false;
}

int
lf_mqtt_subscribe(struct lf_mqtt *mqtt, const char *pattern, int qos)
{
	pthread_mutex_lock(&mqtt->lock);
	if (mqtt->n_subs == MAX_SUBSCRIPTIONS) {
		pthread_mutex_unlock(&mqtt->lock);
		return -1;
	}
	char *copy = strdup(pattern);
	if (copy == NULL) {
		pthread_mutex_unlock(&mqtt->lock);
		return -1;
	}
	mqtt->subs[mqtt->n_subs++] = (struct subscription){copy, qos};
	pthread_mutex_unlock(&mqtt->lock);
	/* If not connected this fails harmlessly; on_connect subscribes. */
	mosquitto_subscribe(mqtt->mosq, NULL, pattern, qos);
	return 0;
}

int
lf_mqtt_publish_v5(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len,
                   int qos, bool retain, const mosquitto_property *props)
{
	if (mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS || len > 256 * 1024 * 1024) {
		lf_metric_inc(mqtt->m_failed);
		return -1;
	}
	/* Retained messages are state (online/offline): few, and they must
	 * not be lost to a burst of uplinks. */
	if (atomic_load(&mqtt->unacked) >= mqtt->pending_max && !retain) {
		lf_metric_inc(mqtt->m_dropped);
		uint64_t dropped = (uint64_t)lf_metric_value(mqtt->m_dropped);
		/* One line per power of two keeps the log readable in a long outage. */
		if ((dropped & (dropped - 1)) == 0) {
			LOG_WARN("mqtt: outbox full (%zu messages unacknowledged): message to %s "
			         "dropped, %llu dropped so far",
			         mqtt->pending_max, topic, (unsigned long long)dropped);
		}
		return 0;
	}
	int rc = send_now(mqtt, topic, payload, len, qos, retain, props);
	lf_metric_set(mqtt->m_depth, (int64_t)atomic_load(&mqtt->unacked));
	if (rc == MOSQ_ERR_NO_CONN && qos > 0) {
		/* Queued by libmosquitto; see the top of this file. */
		atomic_fetch_add(&mqtt->unacked, 1);
		return 0;
	}
	if (rc == MOSQ_ERR_NO_CONN) {
		return 0; /* QoS 0 is fire-and-forget, even in an outage */
	}
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
	return atomic_load(&((struct lf_mqtt *)mqtt)->unacked);
}

size_t
lf_mqtt_close(struct lf_mqtt *mqtt, int64_t timeout_ms)
{
	if (!mqtt->started) {
		return 0;
	}
	int64_t deadline = lf_now_ms() + timeout_ms;
	while (lf_mqtt_pending(mqtt) > 0 && lf_now_ms() < deadline) {
		lf_loop_run_once(mqtt->loop, 50);
	}
	size_t left = lf_mqtt_pending(mqtt);
	if (left > 0) {
		LOG_WARN("mqtt: closing with %zu messages unsent", left);
	}
	/* DISCONNECT tells the broker not to publish the will. The network
	 * thread sends it on its way out. */
	stop_thread(mqtt);
	return left;
}

void
lf_mqtt_free(struct lf_mqtt *mqtt)
{
	if (mqtt == NULL) {
		return;
	}
	stop_thread(mqtt);
	if (mqtt->wakefd >= 0) {
		lf_loop_unwatch(mqtt->loop, mqtt->wakefd);
		close(mqtt->wakefd);
	}
	if (mqtt->abandoned) {
		return; /* the process is exiting; freeing under the thread would crash */
	}
	mosquitto_destroy(mqtt->mosq);
	for (struct event *ev = mqtt->in_head; ev != NULL;) {
		struct event *next = ev->next;
		event_free(ev);
		ev = next;
	}
	for (size_t i = 0; i < mqtt->n_subs; i++) {
		free(mqtt->subs[i].pattern);
	}
	mosquitto_property_free_all(&mqtt->connect_props);
	pthread_mutex_destroy(&mqtt->lock);
	free(mqtt->host);
	free(mqtt->client_id);
	free(mqtt->birth_topic);
	free(mqtt->birth_payload);
	free((char *)mqtt->opts.will_topic);
	free((char *)mqtt->opts.will_payload);
	free(mqtt);
}

int
lf_mqtt_topic(char *out, size_t outlen, const char *prefix, const char *a, const char *b)
{
	int n = snprintf(out, outlen, "%s/%s/%s", prefix, a, b);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
