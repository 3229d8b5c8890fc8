/*
 * The MQTT client every daemon uses: libmosquitto driven by an lf_loop
 * (no extra thread), with what libmosquitto leaves to the application:
 *
 *  - reconnect forever with capped exponential backoff; subscriptions are
 *    remembered and restored on every (re)connect;
 *  - a bounded outbox: QoS >= 1 messages published while the broker is
 *    away (or not yet acknowledged) are kept, in order, and sent when it is
 *    back. Past outbox_max unacknowledged messages, new non-retained
 *    messages are refused and counted (mqtt_outbox_dropped_total), so what
 *    is kept stays in order; retained messages (state) always pass;
 *  - a birth message on connect and a will, for the daemon's own state;
 *  - TCP_NODELAY, TLS and username/password from the [mqtt] section.
 */
#ifndef LF_MQTT_H
#define LF_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#include "lf/cfg.h"

struct lf_loop;
struct lf_metrics;
struct lf_mqtt;

/* The [mqtt] section, shared by all daemons. */
struct lf_mqtt_config {
	char *host;
	int64_t port;
	char *username;
	char *password;
	char *client_id; /* "" = <service>-<instance> */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *topic_prefix;
	int64_t qos;
	int64_t keepalive;     /* ms */
	int64_t reconnect_max; /* ms */
};

extern const struct lf_cfg_option lf_mqtt_cfg_options[];

typedef void (*lf_mqtt_message_cb)(struct lf_mqtt *mqtt, const struct mosquitto_message *msg,
                                   const mosquitto_property *props, void *arg);
/* Called after every CONNACK success (connected true) and every loss. */
typedef void (*lf_mqtt_state_cb)(struct lf_mqtt *mqtt, bool connected, void *arg);

struct lf_mqtt_options {
	const struct lf_mqtt_config *cfg;
	const char *client_id;   /* used when cfg->client_id is empty */
	int protocol_version;    /* MQTT_PROTOCOL_V311 (default) or MQTT_PROTOCOL_V5 */
	bool persistent_session; /* clean_session false (v5: session expiry 1 day) */
	const char *will_topic;  /* retained, QoS 1; NULL for none */
	const char *will_payload;
	const char *birth_topic; /* published retained on every connect; NULL for none */
	const char *birth_payload;
	size_t outbox_max; /* messages; 0 = 10000 */
	lf_mqtt_message_cb on_message;
	lf_mqtt_state_cb on_state;
	void *arg;
	struct lf_metrics *metrics; /* optional: mqtt_* counters go here */
};

/* Copies what it keeps from opts. Returns NULL with a reason logged. */
struct lf_mqtt *lf_mqtt_new(struct lf_loop *loop, const struct lf_mqtt_options *opts);
/* Disconnects at once (use lf_mqtt_close() first to flush) and frees. */
void lf_mqtt_free(struct lf_mqtt *mqtt);

/* Starts connecting; failures are retried in the background. */
int lf_mqtt_start(struct lf_mqtt *mqtt);

/* Remembers the subscription and subscribes now if connected. */
int lf_mqtt_subscribe(struct lf_mqtt *mqtt, const char *pattern, int qos);

/*
 * Publishes, or keeps the message in the outbox while disconnected
 * (QoS 0 messages are dropped then, and counted). Returns 0 when the
 * message was sent or kept, -1 when it could not be (bad topic, too large).
 */
int lf_mqtt_publish(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len,
                    int qos, bool retain);
int lf_mqtt_publish_v5(struct lf_mqtt *mqtt, const char *topic, const void *payload, size_t len,
                       int qos, bool retain, const mosquitto_property *props);

bool lf_mqtt_connected(const struct lf_mqtt *mqtt);

/* Messages not yet acknowledged by the broker plus those in the outbox. */
size_t lf_mqtt_pending(const struct lf_mqtt *mqtt);

/*
 * Graceful end: runs the loop until every pending QoS >= 1 message is
 * acknowledged (or timeout_ms passes), then sends DISCONNECT, so the will
 * is not published. Returns the number of messages left unsent.
 */
size_t lf_mqtt_close(struct lf_mqtt *mqtt, int64_t timeout_ms);

/* "<prefix>/<a>/<b>" into out; returns -1 when it does not fit. */
int lf_mqtt_topic(char *out, size_t outlen, const char *prefix, const char *a, const char *b);

#endif
