/*
 * apigw's context and its two threads (see daemon_internal.h): the MQTT
 * thread (lf_loop + lf_mqtt) that only queues, and the lws thread that
 * owns everything else.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>
#include <sodium.h>

#include "daemon_internal.h"
#include "lf/json.h"
#include "lf/log.h"
#include "lf/loop.h"
#include "lf/mqtt.h"

static void
xmsg_free(struct xmsg *m)
{
	if (m != NULL) {
		free(m->topic);
		free(m->payload);
		free(m);
	}
}

static void
xmsg_free_all(struct xmsg *m)
{
	while (m != NULL) {
		struct xmsg *next = m->next;
		xmsg_free(m);
		m = next;
	}
}

/* ---- MQTT thread ---------------------------------------------------------- */

static void
on_message(struct lf_mqtt *mqtt, const struct mosquitto_message *msg,
           const mosquitto_property *props, void *arg)
{
	struct apigw *gw = arg;
	bool reply = strcmp(msg->topic, gw->reply_topic) == 0;
	struct xmsg *m = calloc(1, sizeof(*m));
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (m == NULL || (m->topic = strdup(msg->topic)) == NULL ||
	    (m->payload = malloc(len + 1)) == NULL) {
		xmsg_free(m);
		lf_metric_inc(gw->m_inbox_dropped);
		return;
	}
	memcpy(m->payload, msg->payload, len);
	m->payload[len] = '\0';
	m->len = len;
	m->retained = msg->retain;
	if (reply) {
		void *corr = NULL;
		uint16_t corr_len = 0;
		mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
		                               false);
		if (corr != NULL && corr_len <= sizeof(m->corr)) {
			memcpy(m->corr, corr, corr_len);
			m->corr_len = corr_len;
		}
		free(corr);
	}
	pthread_mutex_lock(&gw->lock);
	/* Retained state and RPC replies always pass: they are few, and the
	 * model and the waiting clients need them. */
	if (gw->in_count >= INBOX_MAX && !m->retained && !reply) {
		pthread_mutex_unlock(&gw->lock);
		xmsg_free(m);
		lf_metric_inc(gw->m_inbox_dropped);
		return;
	}
	bool was_empty = gw->in_head == NULL;
	if (gw->in_tail != NULL) {
		gw->in_tail->next = m;
	} else {
		gw->in_head = m;
	}
	gw->in_tail = m;
	gw->in_count++;
	/* The lws thread takes the whole queue at once, so one wake-up per
	 * empty -> non-empty transition is enough. */
	if (was_empty && gw->lws_ctx_live) {
		lws_cancel_service(gw->lws);
	}
	pthread_mutex_unlock(&gw->lock);
}

static void
on_mqtt_state(struct lf_mqtt *mqtt, bool connected, void *arg)
{
	struct apigw *gw = arg;
	atomic_store(&gw->mqtt_connected, connected);
}

static void
publish_rpc(struct apigw *gw, const struct xmsg *m)
{
	mosquitto_property *props = NULL;
	if (mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, gw->reply_topic) !=
	            MOSQ_ERR_SUCCESS ||
	    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, m->corr,
	                                  (uint16_t)m->corr_len) != MOSQ_ERR_SUCCESS ||
	    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
	                                 (uint32_t)m->expiry_s) != MOSQ_ERR_SUCCESS) {
		LOG_ERROR("rpc: cannot build the request properties");
	} else {
		lf_mqtt_publish_v5(gw->mqtt, m->topic, m->payload, m->len, 1, false, props);
	}
	mosquitto_property_free_all(&props);
}

/* The lws thread queued publishes (or asked us to end). */
static void
on_outbox(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct apigw *gw = arg;
	uint64_t value;
	ssize_t n = read(fd, &value, sizeof(value));
	(void)n; /* the count does not matter: the queue says what to do */
	pthread_mutex_lock(&gw->lock);
	struct xmsg *list = gw->out_head;
	gw->out_head = gw->out_tail = NULL;
	bool quit = gw->quit;
	pthread_mutex_unlock(&gw->lock);
	for (struct xmsg *m = list; m != NULL; m = m->next) {
		if (m->rpc) {
			publish_rpc(gw, m);
		} else {
			lf_mqtt_publish(gw->mqtt, m->topic, m->payload, m->len, 1, false);
		}
	}
	xmsg_free_all(list);
	if (quit) {
		lf_loop_stop(loop);
	}
}

static void
on_signal(struct lf_loop *loop, int signo, void *arg)
{
	struct apigw *gw = arg;
	LOG_INFO("%s: shutting down", strsignal(signo));
	atomic_store(&gw->stopping, true);
	pthread_mutex_lock(&gw->lock);
	if (gw->lws_ctx_live) {
		lws_cancel_service(gw->lws);
	}
	pthread_mutex_unlock(&gw->lock);
}

static char *
self_state_json(const struct apigw *gw, bool online)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddBoolToObject(obj, "online", online);
	cJSON_AddStringToObject(obj, "version", LF_VERSION);
	cJSON_AddStringToObject(obj, "started_at", gw->started_at);
	cJSON_AddNumberToObject(obj, "http_port", gw->http_port);
	char *text = lf_json_print(obj);
	cJSON_Delete(obj);
	return text;
}

static int64_t
publish_metrics(struct lf_loop *loop, void *arg)
{
	struct apigw *gw = arg;
	cJSON *snap = lf_metrics_snapshot_json(gw->metrics);
	char *text = snap != NULL ? lf_json_print(snap) : NULL;
	cJSON_Delete(snap);
	if (text != NULL) {
		char topic[160];
		snprintf(topic, sizeof(topic), "lorafleet/apigw/%s/metrics", gw->instance);
		lf_mqtt_publish(gw->mqtt, topic, text, strlen(text), 0, true);
	}
	free(text);
	return gw->cfg->metrics_interval;
}

static void *
mqtt_main(void *arg)
{
	struct apigw *gw = arg;
	lf_loop_run(gw->loop);
	char *text = self_state_json(gw, false);
	if (text != NULL) {
		lf_mqtt_publish(gw->mqtt, gw->self_topic, text, strlen(text), 1, true);
	}
	free(text);
	lf_mqtt_close(gw->mqtt, 5000);
	return NULL;
}

static int
start_mqtt(struct apigw *gw)
{
	char client_id[128], *will = self_state_json(gw, false), *birth = self_state_json(gw, true);
	snprintf(client_id, sizeof(client_id), "lorafleet-apigw-%s", gw->instance);
	struct lf_mqtt_options opts = {
	        .cfg = &gw->settings->mqtt,
	        .client_id = client_id,
	        .protocol_version = MQTT_PROTOCOL_V5,
	        /* Retained messages rebuild the picture on every connect;
	         * live traffic missed while away is not worth a session. */
	        .persistent_session = false,
	        .will_topic = gw->self_topic,
	        .will_payload = will,
	        .birth_topic = gw->self_topic,
	        .birth_payload = birth,
	        .on_message = on_message,
	        .on_state = on_mqtt_state,
	        .arg = gw,
	        .metrics = gw->metrics,
	};
	gw->mqtt = will != NULL && birth != NULL ? lf_mqtt_new(gw->loop, &opts) : NULL;
	free(will);
	free(birth);
	if (gw->mqtt == NULL) {
		return -1;
	}
	const char *prefix = gw->settings->mqtt.topic_prefix;
	int qos = (int)gw->settings->mqtt.qos;
	static const char *const leaves[] = {"state", "hotspot", "up", "down", "ack", "status"};
	for (size_t i = 0; i < LF_ARRAY_SIZE(leaves); i++) {
		char topic[256];
		if (lf_mqtt_topic(topic, sizeof(topic), prefix, "+", leaves[i]) != 0 ||
		    lf_mqtt_subscribe(gw->mqtt, topic, qos) != 0) {
			return -1;
		}
	}
	if (lf_mqtt_subscribe(gw->mqtt, "lorafleet/+/+/metrics", 0) != 0 ||
	    lf_mqtt_subscribe(gw->mqtt, "lorafleet/+/+/state", 1) != 0 ||
	    lf_mqtt_subscribe(gw->mqtt, gw->reply_topic, 1) != 0) {
		return -1;
	}
	return 0;
}

/* ---- lws thread ------------------------------------------------------------ */

void
apigw_drain_inbox(struct apigw *gw)
{
	/* A bounded batch per wake-up, so that a burst from the broker
	 * cannot keep HTTP clients waiting; the rest gets its own wake-up. */
	pthread_mutex_lock(&gw->lock);
	struct xmsg *list = gw->in_head, *last = NULL;
	size_t n = 0;
	for (struct xmsg *m = list; m != NULL && n < INBOX_BATCH; m = m->next) {
		last = m;
		n++;
	}
	if (last != NULL) {
		gw->in_head = last->next;
		last->next = NULL;
		if (gw->in_head == NULL) {
			gw->in_tail = NULL;
		} else {
			lws_cancel_service(gw->lws);
		}
		gw->in_count -= n;
	}
	pthread_mutex_unlock(&gw->lock);
	if (list == NULL) {
		return;
	}
	int64_t now = lf_wall_ms();
	for (struct xmsg *m = list; m != NULL; m = m->next) {
		if (strcmp(m->topic, gw->reply_topic) == 0) {
			uint64_t seq;
			if (rpc_corr_decode(m->corr, m->corr_len, gw->rpc_nonce, &seq) == 0) {
				http_rpc_reply(gw, seq, m->payload, m->len);
			}
		} else {
			model_handle(&gw->model, m->topic, m->payload, m->len, m->retained, now);
		}
	}
	xmsg_free_all(list);
	http_sse_wake(gw);
}

void
apigw_publish(struct apigw *gw, struct xmsg *m)
{
	pthread_mutex_lock(&gw->lock);
	if (gw->out_tail != NULL) {
		gw->out_tail->next = m;
	} else {
		gw->out_head = m;
	}
	gw->out_tail = m;
	pthread_mutex_unlock(&gw->lock);
	uint64_t one = 1;
	ssize_t n = write(gw->outbox_fd, &one, sizeof(one));
	(void)n; /* a full eventfd counter still wakes the loop */
}

/* ---- lifecycle --------------------------------------------------------------- */

static void
register_metrics(struct apigw *gw)
{
	struct lf_metrics *r = gw->metrics;
	gw->m_sse_clients = lf_metrics_gauge(r, "sse_clients", "Connected /events clients");
	gw->m_sse_refused = lf_metrics_counter(r, "sse_refused_total",
	                                       "/events requests refused past sse_max_clients");
	gw->m_sse_overflows = lf_metrics_counter(
	        r, "sse_overflows_total", "Times a client fell behind the ring and was told so");
	gw->m_sse_missed = lf_metrics_counter(r, "sse_missed_events_total",
	                                      "Events clients missed by falling behind the ring");
	gw->m_rpc_timeouts = lf_metrics_counter(r, "rpc_timeouts_total",
	                                        "Requests routerlink did not answer in time");
	gw->m_inbox_dropped = lf_metrics_counter(
	        r, "mqtt_inbox_dropped_total",
	        "Live messages dropped because the HTTP thread fell 200000 behind");
	gw->m_prom_skipped =
	        lf_metrics_gauge(r, "metrics_skipped",
	                         "Families or series left out of the last /metrics as invalid");
}

struct apigw *
apigw_new(const struct apigw_settings *settings)
{
	struct apigw *gw = calloc(1, sizeof(*gw));
	if (gw == NULL) {
		return NULL;
	}
	gw->settings = settings;
	gw->cfg = &settings->apigw;
	gw->outbox_fd = -1;
	pthread_mutex_init(&gw->lock, NULL);
	abuf_init(&gw->sse_buf);
	if (gw->cfg->instance[0] != '\0') {
		lf_strlcpy(gw->instance, gw->cfg->instance, sizeof(gw->instance));
	} else {
		lf_hostname(gw->instance, sizeof(gw->instance));
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	lf_format_rfc3339(&now, gw->started_at);
	snprintf(gw->self_topic, sizeof(gw->self_topic), "lorafleet/apigw/%s/state", gw->instance);
	snprintf(gw->reply_topic, sizeof(gw->reply_topic), "lorafleet/rpc/apigw/%s/reply",
	         gw->instance);
	randombytes_buf(&gw->rpc_nonce, sizeof(gw->rpc_nonce));
	auth_init(&gw->keys, gw->cfg->read_api_key, gw->cfg->write_api_key, gw->cfg->events_auth);
	gw->metrics = lf_metrics_new();
	if (gw->metrics == NULL) {
		apigw_free(gw);
		return NULL;
	}
	register_metrics(gw);
	/* Ids grow across restarts: an id from an earlier run is told apart. */
	if (model_init(&gw->model, settings->mqtt.topic_prefix, (size_t)gw->cfg->sse_ring,
	               (uint64_t)lf_wall_ms() * 1000, gw->metrics) != 0) {
		LOG_ERROR("cannot allocate the SSE ring of %lld events",
		          (long long)gw->cfg->sse_ring);
		apigw_free(gw);
		return NULL;
	}
	/* SIGINT/SIGTERM reach the MQTT thread's signalfd only: blocked here,
	 * before any thread exists, so every thread inherits the mask. A
	 * send to a closed peer is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	static const int signals[] = {SIGINT, SIGTERM};
	gw->loop = lf_loop_new();
	gw->outbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gw->loop == NULL || gw->outbox_fd < 0 ||
	    lf_loop_signals(gw->loop, signals, 2, on_signal, gw) != 0 ||
	    lf_loop_watch(gw->loop, gw->outbox_fd, LF_LOOP_READ, on_outbox, gw) != 0 ||
	    http_start(gw) != 0 || start_mqtt(gw) != 0) {
		apigw_free(gw);
		return NULL;
	}
	gw->lws_ctx_live = true;
	lf_loop_timer_add(gw->loop, gw->cfg->metrics_interval, publish_metrics, gw);
	if (lf_mqtt_start(gw->mqtt) != 0 ||
	    pthread_create(&gw->mqtt_thread, NULL, mqtt_main, gw) != 0) {
		LOG_ERROR("cannot start the MQTT thread: %s", strerror(errno));
		apigw_free(gw);
		return NULL;
	}
	gw->mqtt_thread_started = true;
	LOG_INFO("apigw %s started (lorafleet %s): http port %u, read key %s, write key %s",
	         gw->instance, LF_VERSION, (unsigned)gw->http_port,
	         gw->keys.has_read ? "set" : "none (reads open)",
	         gw->keys.has_write ? "set" : "none (sign refused)");
	return gw;
}

int
apigw_run(struct apigw *gw)
{
	/* lws 4.1 spins on a client that left an event stream (see
	 * http_check_clients): 64 turns in under 5 ms look like that, and
	 * then the clients are checked at once rather than at the next
	 * CLIENT_CHECK_MS tick. Busy but healthy loops pay one clock read per
	 * 64 turns and a check at most every SPIN_CHECK_MS. */
	uint64_t turns = 0;
	int64_t window = lf_now_ms(), checked = 0;
	while (!atomic_load(&gw->stopping)) {
		if (lws_service(gw->lws, 0) < 0) {
			LOG_ERROR("http: the service loop failed");
			break;
		}
		if ((++turns & 63) == 0) {
			int64_t now = lf_now_ms();
			if (now - window < 5 && now - checked >= SPIN_CHECK_MS) {
				http_check_clients(gw);
				checked = now;
			}
			window = now;
		}
	}
	pthread_mutex_lock(&gw->lock);
	gw->lws_ctx_live = false;
	pthread_mutex_unlock(&gw->lock);
	http_stop(gw);
	/* Then the MQTT thread says goodbye (offline state) and ends. */
	pthread_mutex_lock(&gw->lock);
	gw->quit = true;
	pthread_mutex_unlock(&gw->lock);
	uint64_t one = 1;
	ssize_t n = write(gw->outbox_fd, &one, sizeof(one));
	(void)n;
	pthread_join(gw->mqtt_thread, NULL);
	gw->mqtt_thread_started = false;
	LOG_INFO("apigw %s stopped", gw->instance);
	return 0;
}

void
apigw_free(struct apigw *gw)
{
	if (gw == NULL) {
		return;
	}
	if (gw->mqtt_thread_started) {
		/* apigw_run was not called: stop the thread before freeing. */
		pthread_mutex_lock(&gw->lock);
		gw->lws_ctx_live = false;
		gw->quit = true;
		pthread_mutex_unlock(&gw->lock);
		uint64_t one = 1;
		ssize_t n = write(gw->outbox_fd, &one, sizeof(one));
		(void)n;
		pthread_join(gw->mqtt_thread, NULL);
	}
	http_stop(gw);
	lf_mqtt_free(gw->mqtt);
	if (gw->loop != NULL && gw->outbox_fd >= 0) {
		lf_loop_unwatch(gw->loop, gw->outbox_fd);
	}
	if (gw->outbox_fd >= 0) {
		close(gw->outbox_fd);
	}
	lf_loop_free(gw->loop);
	xmsg_free_all(gw->in_head);
	xmsg_free_all(gw->out_head);
	model_free(&gw->model);
	abuf_free(&gw->sse_buf);
	lf_metrics_free(gw->metrics);
	pthread_mutex_destroy(&gw->lock);
	free(gw);
}
