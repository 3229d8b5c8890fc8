/* The MQTT observer: paho-mqtt-c's synchronous client, no callbacks. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>

#define CONNECT_RETRY_US 50000
#define MAX_SUBS         16

struct th_mqtt {
	MQTTClient client;
	char client_id[64];
	bool clean;
	/* Received but not yet taken, oldest first. */
	struct th_msg *head, *tail;
	uint64_t received;
	/* Restored by a clean-session reconnect; a persistent session keeps
	 * them at the broker (and resubscribing would replay retained ones). */
	char *subs[MAX_SUBS];
	int sub_qos[MAX_SUBS];
	int nsubs;
};

bool
th_topic_matches(const char *pattern, const char *topic)
{
	const char *p = pattern, *t = topic;
	for (;;) {
		if (p[0] == '#' && p[1] == '\0') {
			return true;
		}
		if (*p == '+') {
			while (*t != '\0' && *t != '/') {
				t++;
			}
			p++;
		} else {
			while (*p != '\0' && *p != '/') {
				if (*p++ != *t++) {
					return false;
				}
			}
			if (*t != '\0' && *t != '/') {
				return false;
			}
		}
		if (*p == '\0' || *t == '\0') {
			/* "a/#" also matches "a". */
			return (*p == '\0' && *t == '\0') || strcmp(p, "/#") == 0;
		}
		/* Both at a '/'. */
		p++;
		t++;
	}
}

static int
do_connect(struct th_mqtt *m, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	for (;;) {
		MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
		opts.keepAliveInterval = 60;
		opts.cleansession = m->clean;
		opts.MQTTVersion = MQTTVERSION_3_1_1;
		opts.connectTimeout = 2;
		int rc = MQTTClient_connect(m->client, &opts);
		if (rc == MQTTCLIENT_SUCCESS) {
			return opts.returned.sessionPresent ? 1 : 0;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: MQTT connect %s failed: %d\n", m->client_id, rc);
			return -1;
		}
		usleep(CONNECT_RETRY_US);
	}
}

struct th_mqtt *
th_mqtt_connect(const struct th_broker *b, const char *client_id, bool clean, int timeout_ms)
{
	struct th_mqtt *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	if (client_id != NULL) {
		snprintf(m->client_id, sizeof(m->client_id), "%s", client_id);
	} else {
		/* Unique among this broker's clients (one broker per process). */
		snprintf(m->client_id, sizeof(m->client_id), "th-%d-%lld-%p", (int)getpid(),
		         (long long)th_wall_us(), (void *)m);
	}
	m->clean = clean;
	char uri[64];
	snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%u", (unsigned)b->port);
	/* No client-side persistence: it would write files into the cwd. */
	if (MQTTClient_create(&m->client, uri, m->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
	    MQTTCLIENT_SUCCESS) {
		free(m);
		return NULL;
	}
	if (do_connect(m, timeout_ms) < 0) {
		MQTTClient_destroy(&m->client);
		free(m);
		return NULL;
	}
	return m;
}

void
th_msg_free(struct th_msg *msg)
{
	if (msg != NULL) {
		free(msg->topic);
		free(msg->payload);
		free(msg);
	}
}

void
th_mqtt_close(struct th_mqtt *m)
{
	if (m == NULL) {
		return;
	}
	if (MQTTClient_isConnected(m->client)) {
		MQTTClient_disconnect(m->client, 1000);
	}
	MQTTClient_destroy(&m->client);
	while (m->head != NULL) {
		struct th_msg *next = m->head->next;
		th_msg_free(m->head);
		m->head = next;
	}
	for (int i = 0; i < m->nsubs; i++) {
		free(m->subs[i]);
	}
	free(m);
}

int
th_mqtt_reconnect(struct th_mqtt *m, int timeout_ms)
{
	/* Resets paho's idea of the old (dead) connection. */
	MQTTClient_disconnect(m->client, 0);
	int present = do_connect(m, timeout_ms);
	if (present < 0 || !m->clean) {
		return present;
	}
	for (int i = 0; i < m->nsubs; i++) {
		if (MQTTClient_subscribe(m->client, m->subs[i], m->sub_qos[i]) !=
		    MQTTCLIENT_SUCCESS) {
			return -1;
		}
	}
	return present;
}

int
th_mqtt_subscribe(struct th_mqtt *m, const char *pattern, int qos)
{
	int rc = MQTTClient_subscribe(m->client, pattern, qos);
	if (rc != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "harness: subscribe %s: %d\n", pattern, rc);
		return -1;
	}
	if (m->nsubs < MAX_SUBS) {
		m->subs[m->nsubs] = strdup(pattern);
		m->sub_qos[m->nsubs++] = qos;
	}
	return 0;
}

static bool
token_pending(struct th_mqtt *m, MQTTClient_deliveryToken token)
{
	MQTTClient_deliveryToken *tokens = NULL;
	if (MQTTClient_getPendingDeliveryTokens(m->client, &tokens) != MQTTCLIENT_SUCCESS ||
	    tokens == NULL) {
		return false;
	}
	bool pending = false;
	for (int i = 0; tokens[i] != -1; i++) {
		pending = pending || tokens[i] == token;
	}
	MQTTClient_free(tokens);
	return pending;
}

static int pump(struct th_mqtt *m, int timeout_ms);

int
th_mqtt_publish(struct th_mqtt *m, const char *topic, const char *payload, size_t len, int qos,
                bool retained)
{
	MQTTClient_deliveryToken token = 0;
	int rc = MQTTClient_publish(m->client, topic, (int)len, payload, qos, retained, &token);
	if (rc != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "harness: publish %s: %d\n", topic, rc);
		return -1;
	}
	/* MQTTClient_waitForCompletion() sleeps in 100 ms steps; receiving
	 * processes the PUBACK as soon as it arrives (and keeps any message
	 * that comes with it for later waits). */
	int64_t deadline = lf_now_ms() + 5000;
	while (qos > 0 && token_pending(m, token)) {
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: publish %s: no PUBACK within 5 s\n", topic);
			return -1;
		}
		pump(m, 2);
	}
	return 0;
}

int
th_mqtt_publish_str(struct th_mqtt *m, const char *topic, const char *payload)
{
	return th_mqtt_publish(m, topic, payload, strlen(payload), 1, false);
}

/* Receives at most one message into the backlog: 1 got one, 0 none. */
static int
pump(struct th_mqtt *m, int timeout_ms)
{
	char *topic = NULL;
	int topic_len = 0;
	MQTTClient_message *pm = NULL;
	if (timeout_ms < 1) {
		timeout_ms = 1;
	}
	int64_t start = lf_now_ms();
	int rc = MQTTClient_receive(m->client, &topic, &topic_len, &pm, (unsigned long)timeout_ms);
	if ((rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) || pm == NULL) {
		if (topic != NULL) {
			MQTTClient_free(topic);
		}
		if (rc != MQTTCLIENT_SUCCESS) {
			/* Disconnected (the broker is down): receive returns at
			 * once, so pace the caller's polling loop. */
			int64_t left = timeout_ms - (lf_now_ms() - start);
			if (left > 0) {
				usleep((useconds_t)(left < 20 ? left : 20) * 1000);
			}
		}
		return 0;
	}
	struct th_msg *msg = calloc(1, sizeof(*msg));
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	if (msg != NULL) {
		msg->topic = strndup(topic, tlen);
		msg->payload = malloc((size_t)pm->payloadlen + 1);
		if (msg->topic == NULL || msg->payload == NULL) {
			th_msg_free(msg);
			msg = NULL;
		}
	}
	if (msg != NULL) {
		memcpy(msg->payload, pm->payload, (size_t)pm->payloadlen);
		msg->payload[pm->payloadlen] = '\0';
		msg->len = (size_t)pm->payloadlen;
		msg->qos = pm->qos;
		msg->retained = pm->retained != 0;
		msg->at_ms = lf_now_ms();
		msg->seq = ++m->received;
		if (m->tail != NULL) {
			m->tail->next = msg;
		} else {
			m->head = msg;
		}
		m->tail = msg;
	}
	MQTTClient_freeMessage(&pm);
	MQTTClient_free(topic);
	return msg != NULL ? 1 : 0;
}

/* Unlinks and returns the oldest backlog message matching pattern. */
static struct th_msg *
take(struct th_mqtt *m, const char *pattern)
{
	struct th_msg *prev = NULL;
	for (struct th_msg *it = m->head; it != NULL; prev = it, it = it->next) {
		if (th_topic_matches(pattern, it->topic)) {
			if (prev != NULL) {
				prev->next = it->next;
			} else {
				m->head = it->next;
			}
			if (m->tail == it) {
				m->tail = prev;
			}
			it->next = NULL;
			return it;
		}
	}
	return NULL;
}

struct th_msg *
th_mqtt_wait(struct th_mqtt *m, const char *pattern, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		struct th_msg *msg = take(m, pattern);
		if (msg != NULL) {
			return msg;
		}
		int64_t left = deadline - lf_now_ms();
		if (left <= 0) {
			return NULL;
		}
		pump(m, (int)left);
	}
}

int
th_mqtt_count_for(struct th_mqtt *m, const char *pattern, int window_ms)
{
	int64_t deadline = lf_now_ms() + window_ms;
	int count = 0;
	for (;;) {
		struct th_msg *msg;
		while ((msg = take(m, pattern)) != NULL) {
			fprintf(stderr, "harness: unexpected message on %s: %s\n", msg->topic,
			        msg->payload);
			th_msg_free(msg);
			count++;
		}
		int64_t left = deadline - lf_now_ms();
		if (left <= 0) {
			return count;
		}
		pump(m, (int)left);
	}
}

void
th_mqtt_discard(struct th_mqtt *m, const char *pattern)
{
	struct th_msg *msg;
	while ((msg = take(m, pattern)) != NULL) {
		th_msg_free(msg);
	}
}

struct th_msg *
th_mqtt_read_retained(const struct th_broker *b, const char *topic, int timeout_ms)
{
	struct th_mqtt *m = th_mqtt_connect(b, NULL, true, timeout_ms);
	if (m == NULL) {
		return NULL;
	}
	struct th_msg *found = NULL;
	if (th_mqtt_subscribe(m, topic, 1) == 0) {
		int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
		while (found == NULL && lf_now_ms() < deadline) {
			struct th_msg *msg = th_mqtt_wait(m, topic, (int)(deadline - lf_now_ms()));
			if (msg != NULL && msg->retained) {
				found = msg;
			} else {
				th_msg_free(msg);
			}
		}
	}
	th_mqtt_close(m);
	return found;
}
