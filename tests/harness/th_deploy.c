/* The deployment broker (broker-config/) and a libmosquitto client. */
#include "th_deploy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define READY_MS   5000
#define POLL_US    20000
#define PORT_TRIES 5
#define MKCERTS_MS 30000
#define CONF_MAX   65536

static const char SOURCE_CONFIG[] = LF_SOURCE_DIR "/broker-config/";

/* ---- the broker ---------------------------------------------------------- */

int
th_mkcerts(struct th_env *env, const char *out_dir)
{
	char log[TH_PATH_MAX];
	th_env_path(env, "mkcerts.log", log, sizeof(log));
	const char *argv[] = {LF_SOURCE_DIR "/broker-config/mkcerts", "-o", out_dir, NULL};
	pid_t pid = th_spawn(argv, log);
	int status = 0;
	if (pid < 0 || th_wait_exit(pid, MKCERTS_MS, &status) != 1 || th_exit_code(status) != 0) {
		fprintf(stderr, "harness: broker-config/mkcerts failed\n");
		th_print_tail(log, 20);
		return -1;
	}
	return 0;
}

/* Appends s to out (bounded). */
static int
append(char *out, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > CONF_MAX) {
		return -1;
	}
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/* Copies line (without its '\n') with the path prefixes replaced. */
static int
append_rewritten(const struct th_deploy *d, char *out, size_t *len, const char *line, size_t n)
{
	char data[TH_PATH_MAX], secrets[TH_PATH_MAX + 2];
	th_env_path(d->env, "broker-data/", data, sizeof(data));
	snprintf(secrets, sizeof(secrets), "%s/", d->secrets);
	const struct {
		const char *from, *to;
	} map[] = {
	        {"/mosquitto/config/", SOURCE_CONFIG},
	        {"/mosquitto/secrets/", secrets},
	        {"/mosquitto/data/", data},
	};
	size_t i = 0;
	while (i < n) {
		bool replaced = false;
		for (size_t k = 0; k < TH_ARRAY_LEN(map) && !replaced; k++) {
			size_t flen = strlen(map[k].from);
			if (n - i >= flen && memcmp(line + i, map[k].from, flen) == 0) {
				if (append(out, len, map[k].to, strlen(map[k].to)) != 0) {
					return -1;
				}
				i += flen;
				replaced = true;
			}
		}
		if (!replaced) {
			if (append(out, len, line + i, 1) != 0) {
				return -1;
			}
			i++;
		}
	}
	return append(out, len, "\n", 1);
}

static int
write_conf(struct th_deploy *d)
{
	char src[TH_PATH_MAX];
	snprintf(src, sizeof(src), "%smosquitto.conf", SOURCE_CONFIG);
	char *text = th_read_file(src, NULL);
	char *out = malloc(CONF_MAX);
	if (text == NULL || out == NULL) {
		fprintf(stderr, "harness: cannot read %s\n", src);
		free(text);
		free(out);
		return -1;
	}
	size_t len = 0;
	out[0] = '\0';
	int plain = 0, tls = 0, rc = 0;
	for (char *line = text; *line != '\0' && rc == 0;) {
		char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char buf[96];
		if (n == strlen("listener 1883") && memcmp(line, "listener 1883", n) == 0) {
			snprintf(buf, sizeof(buf), "listener %u 127.0.0.1\n", (unsigned)d->port);
			rc = append(out, &len, buf, strlen(buf));
			plain++;
		} else if (n == strlen("listener 8883") && memcmp(line, "listener 8883", n) == 0) {
			snprintf(buf, sizeof(buf), "listener %u 127.0.0.1\n",
			         (unsigned)d->tls_port);
			rc = append(out, &len, buf, strlen(buf));
			tls++;
		} else {
			if (n >= 9 && memcmp(line, "listener ", 9) == 0) {
				fprintf(stderr,
				        "harness: mosquitto.conf has a listener this harness "
				        "does not know: %.*s\n",
				        (int)n, line);
				rc = -1;
			}
			rc = rc == 0 ? append_rewritten(d, out, &len, line, n) : rc;
		}
		line += n + (nl != NULL ? 1 : 0);
	}
	if (rc == 0 && (plain != 1 || tls != 1)) {
		fprintf(stderr,
		        "harness: mosquitto.conf must have exactly one \"listener 1883\" and one "
		        "\"listener 8883\" line (found %d and %d)\n",
		        plain, tls);
		rc = -1;
	}
	/* A path outside the three known places would be a path this test
	 * cannot provide (and compose would not mount). */
	for (const char *p = out; rc == 0 && (p = strstr(p, "/mosquitto/")) != NULL; p++) {
		const char *bol = p;
		while (bol > out && bol[-1] != '\n') {
			bol--;
		}
		if (*bol != '#') {
			fprintf(stderr, "harness: mosquitto.conf uses an unknown path: %.40s\n", p);
			rc = -1;
		}
	}
	if (rc == 0 && geteuid() == 0) {
		rc = append(out, &len, "user root\n", 10);
	}
	if (rc == 0) {
		rc = th_write_file(d->conf_path, out);
	}
	free(text);
	free(out);
	return rc;
}

static bool
log_has(const char *path, size_t from, const char *needle)
{
	size_t len = 0;
	char *text = th_read_file(path, &len);
	bool found = text != NULL && from <= len && strstr(text + from, needle) != NULL;
	free(text);
	return found;
}

/* One attempt: 0 ready, 1 a port was taken, -1 other failure. */
static int
start_once(struct th_deploy *d)
{
	if (write_conf(d) != 0) {
		return -1;
	}
	struct stat st;
	size_t mark = stat(d->log_path, &st) == 0 ? (size_t)st.st_size : 0;
	const char *argv[] = {LF_MOSQUITTO_BIN, "-c", d->conf_path, NULL};
	pid_t pid = th_spawn(argv, d->log_path);
	if (pid < 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + READY_MS;
	for (;;) {
		int status;
		if (th_wait_exit(pid, 0, &status)) {
			bool in_use = log_has(d->log_path, mark, "in use");
			fprintf(stderr, "harness: mosquitto (broker-config) exited (%d)%s\n",
			        th_exit_code(status), in_use ? ": address in use" : "");
			if (!in_use) {
				th_print_tail(d->log_path, 20);
			}
			return in_use ? 1 : -1;
		}
		if (log_has(d->log_path, mark, " running") && th_tcp_connects(d->port) &&
		    th_tcp_connects(d->tls_port)) {
			d->pid = pid;
			return 0;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: mosquitto (broker-config) not ready\n");
			th_print_tail(d->log_path, 20);
			th_terminate(pid, 2000);
			return -1;
		}
		usleep(POLL_US);
	}
}

int
th_deploy_start(struct th_deploy *d, struct th_env *env)
{
	memset(d, 0, sizeof(*d));
	d->env = env;
	th_env_path(env, "secrets", d->secrets, sizeof(d->secrets));
	th_env_path(env, "secrets/ca.crt", d->ca, sizeof(d->ca));
	th_env_path(env, "mosquitto.conf", d->conf_path, sizeof(d->conf_path));
	th_env_path(env, "broker.log", d->log_path, sizeof(d->log_path));
	char data[TH_PATH_MAX];
	th_env_path(env, "broker-data", data, sizeof(data));
	if (mkdir(data, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "harness: mkdir %s: %s\n", data, strerror(errno));
		return -1;
	}
	if (th_mkcerts(env, d->secrets) != 0) {
		return -1;
	}
	for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
		do {
			if (th_free_port(&d->port) != 0 || th_free_port(&d->tls_port) != 0) {
				return -1;
			}
		} while (d->port == d->tls_port);
		int rc = start_once(d);
		if (rc <= 0) {
			return rc;
		}
	}
	return -1;
}

int
th_deploy_stop(struct th_deploy *d)
{
	if (d->pid == 0) {
		return 0;
	}
	int status = th_terminate(d->pid, 5000);
	d->pid = 0;
	return status != -1 && th_exit_code(status) == 0 ? 0 : -1;
}

int
th_deploy_password(const struct th_deploy *d, const char *user, char *out, size_t outlen)
{
	char path[TH_PATH_MAX + 80];
	snprintf(path, sizeof(path), "%s/%.64s.env", d->secrets, user);
	char *text = th_read_file(path, NULL);
	const char key[] = "LORAFLEET_MQTT_PASSWORD=";
	const char *p = text != NULL ? strstr(text, key) : NULL;
	int rc = -1;
	if (p != NULL) {
		p += strlen(key);
		size_t n = strcspn(p, "\n");
		if (n > 0 && n < outlen) {
			memcpy(out, p, n);
			out[n] = '\0';
			rc = 0;
		}
	}
	if (rc != 0) {
		fprintf(stderr, "harness: no password for %s in %s\n", user, path);
	}
	free(text);
	return rc;
}

void
th_deploy_listener(const struct th_deploy *d, bool tls, struct th_broker *out)
{
	memset(out, 0, sizeof(*out));
	out->env = d->env;
	out->port = tls ? d->tls_port : d->port;
}

/* ---- the client ------------------------------------------------------------ */

struct th_client {
	struct mosquitto *mosq;
	int version;
	int connack; /* -1 until the CONNACK */
	bool lost;
	int waited_mid;
	int result; /* -1 until the waited-for SUBACK/PUBACK */
	struct th_msg *head, *tail;
	uint64_t received;
};

static void
cl_on_connect(struct mosquitto *m, void *arg, int rc, int flags, const mosquitto_property *p)
{
	struct th_client *c = arg;
	c->connack = rc;
}

static void
cl_on_disconnect(struct mosquitto *m, void *arg, int rc, const mosquitto_property *p)
{
	struct th_client *c = arg;
	c->lost = true;
}

static void
cl_on_publish(struct mosquitto *m, void *arg, int mid, int reason, const mosquitto_property *p)
{
	struct th_client *c = arg;
	if (mid == c->waited_mid) {
		c->result = reason;
	}
}

static void
cl_on_subscribe(struct mosquitto *m, void *arg, int mid, int count, const int *granted,
                const mosquitto_property *p)
{
	struct th_client *c = arg;
	if (mid == c->waited_mid && count >= 1) {
		c->result = granted[0];
	}
}

static void
cl_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
              const mosquitto_property *p)
{
	struct th_client *c = arg;
	struct th_msg *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return;
	}
	t->topic = strdup(msg->topic);
	t->payload = malloc((size_t)msg->payloadlen + 1);
	if (t->topic == NULL || t->payload == NULL) {
		th_msg_free(t);
		return;
	}
	memcpy(t->payload, msg->payload, (size_t)msg->payloadlen);
	t->payload[msg->payloadlen] = '\0';
	t->len = (size_t)msg->payloadlen;
	t->qos = msg->qos;
	t->retained = msg->retain;
	t->at_ms = lf_now_ms();
	t->seq = ++c->received;
	if (c->tail != NULL) {
		c->tail->next = t;
	} else {
		c->head = t;
	}
	c->tail = t;
}

/* Runs the network loop until *flag != -1, the link is lost, or timeout. */
static int
pump_until(struct th_client *c, const int *flag, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	while (*flag == -1 && !c->lost && lf_now_ms() < deadline) {
		int rc = mosquitto_loop(c->mosq, 10, 1);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
			c->lost = true;
		}
	}
	return *flag;
}

struct th_client *
th_client_connect(const struct th_client_opts *o, int *connack, int timeout_ms)
{
	static bool lib_ready;
	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	*connack = -1;
	struct th_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	c->connack = -1;
	c->version = o->version == 5 ? 5 : 4;
	c->mosq = mosquitto_new(NULL, true, c);
	char password[128] = "";
	const char *pw = o->password;
	if (pw == NULL && o->user != NULL && o->deploy != NULL &&
	    th_deploy_password(o->deploy, o->user, password, sizeof(password)) == 0) {
		pw = password;
	}
	bool ok = c->mosq != NULL &&
	          mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	                               c->version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311) ==
	                  MOSQ_ERR_SUCCESS &&
	          (o->user == NULL ||
	           mosquitto_username_pw_set(c->mosq, o->user, pw) == MOSQ_ERR_SUCCESS) &&
	          (o->cafile == NULL || mosquitto_tls_set(c->mosq, o->cafile, NULL, NULL, NULL,
	                                                  NULL) == MOSQ_ERR_SUCCESS);
	if (!ok) {
		fprintf(stderr, "harness: cannot set up an MQTT client\n");
		th_client_close(c);
		return NULL;
	}
	mosquitto_connect_v5_callback_set(c->mosq, cl_on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, cl_on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, cl_on_publish);
	mosquitto_subscribe_v5_callback_set(c->mosq, cl_on_subscribe);
	mosquitto_message_v5_callback_set(c->mosq, cl_on_message);
	/* Blocking: TCP connect, TLS handshake, CONNECT sent. */
	int rc = mosquitto_connect_bind_v5(c->mosq, o->host != NULL ? o->host : "127.0.0.1",
	                                   o->port, 60, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS) {
		pump_until(c, &c->connack, timeout_ms);
	}
	*connack = c->connack;
	if (c->connack != 0) {
		th_client_close(c);
		return NULL;
	}
	return c;
}

void
th_client_close(struct th_client *c)
{
	if (c == NULL) {
		return;
	}
	if (c->mosq != NULL) {
		if (c->connack == 0 && !c->lost) {
			mosquitto_disconnect(c->mosq);
			mosquitto_loop(c->mosq, 10, 1);
		}
		mosquitto_destroy(c->mosq);
	}
	while (c->head != NULL) {
		struct th_msg *next = c->head->next;
		th_msg_free(c->head);
		c->head = next;
	}
	free(c);
}

int
th_client_version(const struct th_client *c)
{
	return c->version;
}

int
th_client_subscribe(struct th_client *c, const char *pattern, int qos)
{
	c->result = -1;
	if (mosquitto_subscribe_v5(c->mosq, &c->waited_mid, pattern, qos, 0, NULL) !=
	    MOSQ_ERR_SUCCESS) {
		return -1;
	}
	return pump_until(c, &c->result, 5000);
}

int
th_client_publish(struct th_client *c, const char *topic, const char *payload)
{
	c->result = -1;
	if (mosquitto_publish_v5(c->mosq, &c->waited_mid, topic, (int)strlen(payload), payload, 1,
	                         false, NULL) != MOSQ_ERR_SUCCESS) {
		return -1;
	}
	return pump_until(c, &c->result, 5000);
}

struct th_msg *
th_client_next(struct th_client *c, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	while (c->head == NULL && !c->lost && lf_now_ms() < deadline) {
		mosquitto_loop(c->mosq, 10, 1);
	}
	struct th_msg *m = c->head;
	if (m != NULL) {
		c->head = m->next;
		if (c->head == NULL) {
			c->tail = NULL;
		}
		m->next = NULL;
	}
	return m;
}
