#include "th_routerlink.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define READY_MS 15000

int
th_routerlink_setup(void **state, struct th_router *r, struct th_daemon *rl, const char *instance,
                    const char *extra)
{
	if (th_suite_setup(state) != 0) {
		return -1;
	}
	struct th_suite *s = *state;
	if (th_router_start(r, &s->env, 0) != 0 ||
	    th_routerlink_start(rl, &s->env, &s->broker, r, instance, extra) != 0) {
		return -1;
	}
	return 0;
}

int
th_routerlink_teardown(struct th_router *r, struct th_daemon *rl)
{
	int rc = rl != NULL ? th_daemon_stop(rl) : 0;
	th_router_resume(r);
	th_router_stop(r);
	th_router_free(r);
	return rc == 0 ? 0 : -1;
}

int
th_routerlink_count_keys(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d)) {
		size_t len = strlen(e->d_name);
		n += len == 20 && strcmp(e->d_name + 16, ".key") == 0;
	}
	if (d != NULL) {
		closedir(d);
	}
	return n;
}

void
th_routerlink_keys_dir(const struct th_daemon *d, char *out, size_t outlen)
{
	char name[96];
	snprintf(name, sizeof(name), "keys-%s", d->instance);
	th_env_path(d->env, name, out, outlen);
}

/* The started_at of routerlink's retained state on the broker of its INI
 * (the "port = " line this file wrote), "" when there is none; -1 when
 * the INI has no port, 1 when the harness's plain client cannot read
 * that broker (TLS or a user, as in it_deploy_tls, or set from outside). */
static int
birth_started_at(const struct th_daemon *d, char *out, size_t outlen, bool *online)
{
	char *ini = th_read_file(d->ini_path, NULL);
	const char *p = ini != NULL ? strstr(ini, "\nport = ") : NULL;
	struct th_broker b = {.port = p != NULL ? (uint16_t)strtoul(p + 8, NULL, 10) : 0};
	/* The daemon reads LORAFLEET_MQTT_* too, and they win over the INI. */
	bool plain = ini != NULL && strstr(ini, "\ntls_ca") == NULL &&
	             strstr(ini, "\nusername") == NULL && getenv("LORAFLEET_MQTT_TLS_CA") == NULL &&
	             getenv("LORAFLEET_MQTT_USERNAME") == NULL &&
	             getenv("LORAFLEET_MQTT_HOST") == NULL && getenv("LORAFLEET_MQTT_PORT") == NULL;
	free(ini);
	if (b.port == 0) {
		return -1;
	}
	if (!plain) {
		return 1;
	}
	char topic[128];
	snprintf(topic, sizeof(topic), "lorafleet/routerlink/%s/state", d->instance);
	struct th_msg *msg = th_mqtt_read_retained(&b, topic, 200);
	cJSON *root = msg != NULL ? cJSON_Parse(msg->payload) : NULL;
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "started_at");
	snprintf(out, outlen, "%s", cJSON_IsString(at) ? at->valuestring : "");
	*online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "online"));
	cJSON_Delete(root);
	th_msg_free(msg);
	return 0;
}

/*
 * Waits for the birth of the routerlink just started: {"online":true} with
 * a started_at other than `before`. routerlink publishes it right after
 * its subscriptions, and the broker handles one client's packets in order,
 * so from then on nothing published to it is lost. ("mqtt: connected" in
 * its log comes before the subscriptions: a test publishing at once lost
 * its first message when routerlink was slow, as under valgrind.)
 */
static int
wait_birth(const struct th_daemon *d, const char *before)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(READY_MS);
	char now[64];
	bool online = false;
	do {
		int rc = birth_started_at(d, now, sizeof(now), &online);
		if (rc != 0) {
			return rc > 0 ? 0 : -1; /* 1: "mqtt: connected" has to do */
		}
		if (online && now[0] != '\0' && strcmp(now, before) != 0) {
			return 0;
		}
		usleep(20000);
	} while (lf_now_ms() < deadline);
	fprintf(stderr, "harness: %s published no birth\n", d->instance);
	return -1;
}

static int
spawn_and_wait(struct th_daemon *d)
{
	char before[64] = "";
	bool online = false;
	if (birth_started_at(d, before, sizeof(before), &online) < 0) {
		return -1;
	}
	size_t mark = th_daemon_log_mark(d);
	const char *argv[] = {LF_ROUTERLINK_BIN, "-c", d->ini_path, NULL};
	d->pid = th_spawn_daemon(argv, d->log_path);
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	if (th_daemon_wait_log(d, mark, "routerlink .* started", READY_MS) != 0 ||
	    th_daemon_wait_log(d, mark, "mqtt: connected", READY_MS) != 0 ||
	    wait_birth(d, before) != 0) {
		fprintf(stderr, "harness: %s did not start\n", d->instance);
		th_print_tail(d->log_path, 40);
		th_daemon_kill(d);
		return -1;
	}
	return 0;
}

int
th_routerlink_start(struct th_daemon *d, struct th_env *env, const struct th_broker *b,
                    const struct th_router *r, const char *instance, const char *extra)
{
	th_daemon_init(d, env, instance);
	char keys[TH_PATH_MAX];
	th_routerlink_keys_dir(d, keys, sizeof(keys));
	char ini[4096];
	int n = snprintf(ini, sizeof(ini),
	                 "[mqtt]\nhost = 127.0.0.1\nport = %u\nreconnect_max = 1s\n"
	                 "\n[log]\nlevel = debug\n"
	                 "\n[routerlink]\nrouter_uri = http://127.0.0.1:%u\nkeys_dir = %s\n"
	                 "instance = %s\nregion = US915\nbackoff_min = 200ms\nbackoff_max = 2s\n"
	                 "backoff_reset = 3s\n"
	                 "%s",
	                 (unsigned)b->port, (unsigned)r->port, keys, instance,
	                 extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(ini) || th_write_file(d->ini_path, ini) != 0) {
		return -1;
	}
	return spawn_and_wait(d);
}

int
th_routerlink_restart(struct th_daemon *d)
{
	return spawn_and_wait(d);
}

struct rpc_wait {
	char *reply;
	bool corr_ok;
};

static void
rpc_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
               const mosquitto_property *props)
{
	struct rpc_wait *w = arg;
	void *corr = NULL;
	uint16_t len = 0;
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &len, false);
	w->corr_ok = corr != NULL && len == 8 && memcmp(corr, "req-0001", 8) == 0;
	free(corr);
	w->reply = strndup(msg->payload, (size_t)msg->payloadlen);
}

char *
th_rpc_request(const struct th_broker *b, const char *method, const char *json, int timeout_ms)
{
	char reply_topic[64];
	snprintf(reply_topic, sizeof(reply_topic), "lorafleet/rpc/th/%d/reply", (int)getpid());
	return th_rpc_request_to(b, method, json, reply_topic, timeout_ms);
}

char *
th_rpc_request_to(const struct th_broker *b, const char *method, const char *json,
                  const char *reply_topic, int timeout_ms)
{
	struct rpc_wait w = {0};
	struct mosquitto *m = mosquitto_new(NULL, true, &w);
	if (m == NULL) {
		return NULL;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_message_v5_callback_set(m, rpc_on_message);
	char topic[128];
	snprintf(topic, sizeof(topic), "lorafleet/rpc/routerlink/%s", method);
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	if (mosquitto_connect_bind_v5(m, "127.0.0.1", b->port, 30, NULL, NULL) != 0 ||
	    mosquitto_subscribe(m, NULL, reply_topic, 1) != 0) {
		mosquitto_destroy(m);
		return NULL;
	}
	/* Let the SUBACK arrive before asking, so the reply cannot be missed. */
	for (int i = 0; i < 10; i++) {
		mosquitto_loop(m, 20, 1);
	}
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, reply_topic);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "req-0001", 8);
	mosquitto_publish_v5(m, NULL, topic, (int)strlen(json), json, 1, false, props);
	mosquitto_property_free_all(&props);
	while (w.reply == NULL && lf_now_ms() < deadline) {
		mosquitto_loop(m, 50, 1);
	}
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	if (w.reply != NULL && !w.corr_ok) {
		fprintf(stderr, "harness: rpc reply with the wrong correlation data\n");
		free(w.reply);
		return NULL;
	}
	return w.reply;
}

int
th_routerlink_gateway_up(struct th_router *r, struct th_gateway *gw, const char *mac,
                         uint16_t bridge_udp_port, char *hex, size_t hexlen, int timeout_ms)
{
	if (th_gw_open(gw, mac, NULL, bridge_udp_port) != 0 || th_gw_pull(gw) != 0) {
		return -1;
	}
	struct th_router_event *e = th_router_wait_event(r, "register", NULL, timeout_ms);
	if (e == NULL) {
		return -1;
	}
	snprintf(hex, hexlen, "%s", cJSON_GetObjectItem(e->root, "gateway")->valuestring);
	th_router_event_free(e);
	e = th_router_wait_event(r, "session_init", hex, timeout_ms);
	th_router_event_free(e);
	return e != NULL ? 0 : -1;
}

int
th_routerlink_metric(const struct th_broker *b, const char *instance, const char *name,
                     const char *label_key, const char *label_value, double *out)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "lorafleet/routerlink/%s/metrics", instance);
	/* The retained snapshot at once, or else the next one: a routerlink
	 * that started a moment ago (slowly, under valgrind) may not have
	 * published its first yet, and waiting for a retained copy would
	 * skip every live one. */
	struct th_mqtt *sub = th_mqtt_connect(b, NULL, true, 5000);
	struct th_msg *m = NULL;
	if (sub != NULL && th_mqtt_subscribe(sub, topic, 1) == 0) {
		m = th_mqtt_wait(sub, topic, 15000); /* scaled inside */
	}
	th_mqtt_close(sub);
	if (m == NULL) {
		return -1;
	}
	cJSON *snap = cJSON_Parse(m->payload);
	th_msg_free(m);
	*out = 0;
	if (snap == NULL) {
		return -1;
	}
	th_metric_value(snap, name, label_key, label_value, out);
	cJSON_Delete(snap);
	return 0;
}

bool
th_routerlink_wait_metric(const struct th_broker *b, const char *instance, const char *name,
                          const char *label_key, const char *label_value, double want,
                          int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	double v = -1;
	while (th_routerlink_metric(b, instance, name, label_key, label_value, &v) != 0 ||
	       v != want) {
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: %s %s{%s=%s} is %g, want %g\n", instance, name,
			        label_key != NULL ? label_key : "",
			        label_value != NULL ? label_value : "", v, want);
			return false;
		}
		usleep(200 * 1000);
	}
	return true;
}

double
th_routerlink_metric_at(const struct th_broker *b, const char *instance, const char *name,
                        const char *label_key, const char *label_value, const char *file, int line)
{
	double v = 0;
	if (th_routerlink_metric(b, instance, name, label_key, label_value, &v) != 0) {
		print_error("%s:%d: routerlink %s published no metrics snapshot\n", file, line,
		            instance);
		_fail(file, line);
	}
	return v;
}

void
th_routerlink_expect_metric_at(const struct th_broker *b, const char *instance, const char *name,
                               const char *label_key, const char *label_value, double want,
                               int timeout_ms, const char *file, int line)
{
	if (!th_routerlink_wait_metric(b, instance, name, label_key, label_value, want,
	                               timeout_ms)) {
		print_error("%s:%d: routerlink %s: %s{%s} is not %g\n", file, line, instance, name,
		            label_value != NULL ? label_value : "", want);
		_fail(file, line);
	}
}
