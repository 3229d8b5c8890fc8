/*
 * The deployment broker's access control, proved against the real
 * mosquitto running broker-config/mosquitto.conf and broker-config/acl as
 * shipped (th_deploy.h: only ports and path prefixes are rewritten), with
 * the users and certificates broker-config/mkcerts makes:
 *
 *  - no anonymous access, no wrong password, on either listener;
 *  - the TLS listener takes a client that trusts mkcerts' CA, by IP and by
 *    name, and nothing else (plain MQTT, another CA);
 *  - for every user, a sample of publishes the broker takes or drops, and
 *    what each user receives from a subscription to everything (`#`) and
 *    from subscriptions to topics it may not read.
 *
 * The rules the test expects (WRITE and READ below) are written from
 * docs/mqtt-api.md, independently of the ACL file. A denied publish is
 * dropped without a word to an MQTT 3.1.1 client (plain PUBACK) and with
 * PUBACK reason 135 "not authorized" to a v5 client; a subscription to a
 * topic the user may not read is granted all the same (mosquitto 2.0
 * checks read access per message) and delivers nothing. "Nothing" is
 * shown without waiting: every publish waits for its PUBACK, and the
 * broker queues a message to its subscribers before it sends the PUBACK,
 * so each subscriber receives the samples in the order they were
 * published; the last samples are controls that every watcher may read,
 * and once a watcher has its control, everything it was going to get
 * from before has arrived.
 */
#include "harness.h"
#include "th_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000
#define MAC     "aa555a0000000a01"

static struct th_env env;
static struct th_deploy broker;

static const char *const USERS[] = {"bridge", "routerlink", "apigw", "consumer"};

/* The MQTT version each daemon speaks (consumer: mosquitto_sub's default). */
static int
version_of(const char *user)
{
	return strcmp(user, "routerlink") == 0 || strcmp(user, "apigw") == 0 ? 5 : 4;
}

/* ---- the rules, from docs/mqtt-api.md ----------------------------------- */

struct grant {
	const char *user;
	const char *pattern;
};

static const struct grant WRITE[] = {
        {"bridge", "lorawan/+/up"},
        {"bridge", "lorawan/+/status"},
        {"bridge", "lorawan/+/state"},
        {"bridge", "lorawan/+/ack"},
        {"bridge", "lorafleet/bridge/+/state"},
        {"bridge", "lorafleet/bridge/+/metrics"},
        {"routerlink", "lorawan/+/down"},
        {"routerlink", "lorawan/+/hotspot"},
        {"routerlink", "lorafleet/routerlink/+/state"},
        {"routerlink", "lorafleet/routerlink/+/metrics"},
        {"routerlink", "lorafleet/rpc/apigw/+/reply"},
        {"apigw", "lorafleet/apigw/+/state"},
        {"apigw", "lorafleet/apigw/+/metrics"},
        {"apigw", "lorafleet/rpc/routerlink/+"},
};

static const struct grant READ[] = {
        /* other bridges' gateways and the bridges themselves: only the
         * bridge that serves a gateway acks its downlinks */
        {"bridge", "lorawan/+/down"},
        {"bridge", "lorawan/+/state"},
        {"bridge", "lorafleet/bridge/+/state"},
        {"routerlink", "lorawan/+/up"},
        {"routerlink", "lorawan/+/state"},
        {"routerlink", "lorawan/+/ack"},
        {"routerlink", "lorafleet/rpc/routerlink/+"},
        {"apigw", "lorawan/#"},
        {"apigw", "lorafleet/bridge/+/state"},
        {"apigw", "lorafleet/bridge/+/metrics"},
        {"apigw", "lorafleet/routerlink/+/state"},
        {"apigw", "lorafleet/routerlink/+/metrics"},
        {"apigw", "lorafleet/apigw/+/state"},
        {"apigw", "lorafleet/apigw/+/metrics"},
        {"apigw", "lorafleet/rpc/apigw/+/reply"},
        {"consumer", "lorawan/#"},
        {"consumer", "lorafleet/bridge/+/state"},
        {"consumer", "lorafleet/bridge/+/metrics"},
        {"consumer", "lorafleet/routerlink/+/state"},
        {"consumer", "lorafleet/routerlink/+/metrics"},
        {"consumer", "lorafleet/apigw/+/state"},
        {"consumer", "lorafleet/apigw/+/metrics"},
};

static bool
granted(const struct grant *g, size_t n, const char *user, const char *topic)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(g[i].user, user) == 0 && th_topic_matches(g[i].pattern, topic)) {
			return true;
		}
	}
	return false;
}

/* ---- the samples, published in this order ------------------------------- */

struct sample {
	const char *user;
	const char *topic;
};

static const struct sample SAMPLES[] = {
        /* bridge */
        {"bridge", "lorawan/" MAC "/up"},
        {"bridge", "lorawan/" MAC "/status"},
        {"bridge", "lorawan/" MAC "/state"},
        {"bridge", "lorawan/" MAC "/ack"},
        {"bridge", "lorafleet/bridge/it/state"},
        {"bridge", "lorafleet/bridge/it/metrics"},
        {"bridge", "lorawan/" MAC "/down"},    /* downlinks come from routerlink */
        {"bridge", "lorawan/" MAC "/hotspot"}, /* routerlink's */
        {"bridge", "lorafleet/routerlink/it/state"},
        {"bridge", "lorafleet/rpc/routerlink/sign"},
        {"bridge", "lorafleet/rpc/apigw/it/reply"},
        /* routerlink */
        {"routerlink", "lorawan/" MAC "/down"},
        {"routerlink", "lorawan/" MAC "/hotspot"},
        {"routerlink", "lorafleet/routerlink/it/state"},
        {"routerlink", "lorafleet/routerlink/it/metrics"},
        {"routerlink", "lorafleet/rpc/apigw/it/reply"},
        {"routerlink", "lorawan/" MAC "/up"}, /* no forged uplinks */
        {"routerlink", "lorawan/" MAC "/state"},
        {"routerlink", "lorawan/" MAC "/ack"},
        {"routerlink", "lorafleet/bridge/it/state"},
        {"routerlink", "lorafleet/apigw/it/state"},
        /* a request may name any response topic: routerlink's replies
         * still go only to apigw's reply topics */
        {"routerlink", "lorafleet/rpc/routerlink/sign"},
        {"routerlink", "reply/anywhere"},
        /* apigw */
        {"apigw", "lorafleet/rpc/routerlink/packets"},
        {"apigw", "lorafleet/apigw/it/state"},
        {"apigw", "lorafleet/apigw/it/metrics"},
        /* a request whose method is called "state" is no service's state */
        {"apigw", "lorafleet/rpc/routerlink/state"},
        {"apigw", "lorawan/" MAC "/down"}, /* apigw sends no downlinks */
        {"apigw", "lorawan/" MAC "/up"},
        {"apigw", "lorawan/" MAC "/hotspot"},
        {"apigw", "lorafleet/rpc/apigw/it/reply"}, /* no forged replies */
        {"apigw", "lorafleet/routerlink/it/state"},
        /* consumer: reads only */
        {"consumer", "lorawan/" MAC "/down"},
        {"consumer", "lorawan/" MAC "/up"},
        {"consumer", "lorafleet/rpc/routerlink/sign"},
        {"consumer", "lorafleet/consumer/it/state"},
        {"consumer", "lorafleet/apigw/it/state"},
        /* Controls, last: every watcher below may read at least one. */
        {"routerlink", "lorawan/control/down"},
        {"bridge", "lorawan/control/up"},
};

/* A client that watches: its user and its subscriptions (patterns that do
 * not overlap, so that nothing is delivered twice). */
struct watcher {
	const char *user;
	const char *patterns[6];
};

static const struct watcher WATCHERS[] = {
        /* Everything each user may read. */
        {"bridge", {"#"}},
        {"routerlink", {"#"}},
        {"apigw", {"#"}},
        {"consumer", {"#"}},
        /* Subscriptions to what the user may not read (granted, silent),
         * each with one it may read, for the control. */
        {"bridge",
         {"lorawan/+/up", "lorawan/+/hotspot", "lorafleet/rpc/#", "lorafleet/routerlink/+/state",
          "lorawan/+/down"}},
        {"routerlink",
         {"lorawan/+/down", "lorawan/+/status", "lorawan/+/hotspot", "lorafleet/rpc/apigw/+/reply",
          "lorafleet/+/+/metrics", "lorawan/+/up"}},
        {"apigw", {"lorafleet/rpc/routerlink/+", "reply/#", "lorawan/#"}},
        {"consumer", {"lorafleet/rpc/#", "lorafleet/consumer/#", "reply/#", "lorawan/#"}},
};

/* ---- helpers -------------------------------------------------------------- */

static struct th_client *
login(const char *user, int version)
{
	struct th_client_opts o = {
	        .port = broker.port, .user = user, .deploy = &broker, .version = version};
	int connack;
	struct th_client *c = th_client_connect(&o, &connack, WAIT_MS);
	if (c == NULL) {
		print_error("%s could not log in: CONNACK %d\n", user, connack);
		fail();
	}
	return c;
}

static bool
delivered_to(const struct watcher *w, const struct sample *s)
{
	if (!granted(WRITE, TH_ARRAY_LEN(WRITE), s->user, s->topic) ||
	    !granted(READ, TH_ARRAY_LEN(READ), w->user, s->topic)) {
		return false;
	}
	for (size_t i = 0; i < TH_ARRAY_LEN(w->patterns) && w->patterns[i] != NULL; i++) {
		if (th_topic_matches(w->patterns[i], s->topic)) {
			return true;
		}
	}
	return false;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_no_anonymous_or_wrong_password(void **state)
{
	(void)state;
	struct {
		const char *user, *password;
		bool tls;
		int version;
		int connack;
	} cases[] = {
	        {NULL, NULL, false, 4, 5},   /* 3.1.1: "not authorised" */
	        {NULL, NULL, false, 5, 135}, /* v5: "not authorized" */
	        {NULL, NULL, true, 4, 5},
	        {"bridge", "wrong", false, 4, 5},
	        {"bridge", "", true, 5, 135},
	        {"nobody", "whatever", false, 4, 5},
	        {"mosquitto", "mosquitto", false, 4, 5},
	};
	for (size_t i = 0; i < TH_ARRAY_LEN(cases); i++) {
		struct th_client_opts o = {
		        .port = cases[i].tls ? broker.tls_port : broker.port,
		        .user = cases[i].user,
		        .password = cases[i].password,
		        .cafile = cases[i].tls ? broker.ca : NULL,
		        .version = cases[i].version,
		};
		int connack;
		struct th_client *c = th_client_connect(&o, &connack, WAIT_MS);
		if (c != NULL || connack != cases[i].connack) {
			print_error("user %s password %s over %s v%d: CONNACK %d, expected %d\n",
			            cases[i].user != NULL ? cases[i].user : "(anonymous)",
			            cases[i].password != NULL ? cases[i].password : "(none)",
			            cases[i].tls ? "TLS" : "TCP", cases[i].version, connack,
			            cases[i].connack);
			th_client_close(c);
			fail();
		}
	}
	/* Every user logs in with the password mkcerts made, on both. */
	for (size_t i = 0; i < TH_ARRAY_LEN(USERS); i++) {
		th_client_close(login(USERS[i], version_of(USERS[i])));
		struct th_client_opts o = {.port = broker.tls_port,
		                           .user = USERS[i],
		                           .deploy = &broker,
		                           .cafile = broker.ca,
		                           .version = version_of(USERS[i])};
		int connack;
		struct th_client *c = th_client_connect(&o, &connack, WAIT_MS);
		assert_non_null(c);
		assert_int_equal(connack, 0);
		th_client_close(c);
	}
}

static void
test_tls_listener(void **state)
{
	(void)state;
	int connack;
	/* By address and by name: both are in mkcerts' certificate, and
	 * libmosquitto checks the name. */
	const char *hosts[] = {"127.0.0.1", "localhost"};
	for (size_t i = 0; i < TH_ARRAY_LEN(hosts); i++) {
		struct th_client_opts o = {.port = broker.tls_port,
		                           .host = hosts[i],
		                           .user = "consumer",
		                           .deploy = &broker,
		                           .cafile = broker.ca,
		                           .version = 5};
		struct th_client *c = th_client_connect(&o, &connack, WAIT_MS);
		assert_non_null(c);
		assert_int_equal(connack, 0);
		/* The ACL holds on this listener too. */
		assert_int_equal(th_client_subscribe(c, "lorawan/+/up", 1), 1);
		assert_int_equal(th_client_publish(c, "lorawan/" MAC "/down", "x"), 135);
		th_client_close(c);
	}
	/* Plain MQTT on the TLS port: no CONNACK. */
	struct th_client_opts plain = {
	        .port = broker.tls_port, .user = "consumer", .deploy = &broker};
	assert_null(th_client_connect(&plain, &connack, 2000));
	assert_int_equal(connack, -1);
	/* TLS on the plain port: no handshake. */
	struct th_client_opts tls_on_plain = {
	        .port = broker.port, .user = "consumer", .deploy = &broker, .cafile = broker.ca};
	assert_null(th_client_connect(&tls_on_plain, &connack, 2000));
	assert_int_equal(connack, -1);
	/* A client that trusts another CA (another mkcerts run's) refuses the
	 * broker's certificate. */
	char other_dir[TH_PATH_MAX], other[TH_PATH_MAX + 8];
	th_env_path(&env, "other-secrets", other_dir, sizeof(other_dir));
	assert_int_equal(th_mkcerts(&env, other_dir), 0);
	snprintf(other, sizeof(other), "%s/ca.crt", other_dir);
	struct th_client_opts wrong_ca = {
	        .port = broker.tls_port, .user = "consumer", .deploy = &broker, .cafile = other};
	assert_null(th_client_connect(&wrong_ca, &connack, 2000));
	assert_int_equal(connack, -1);
}

static void
test_acl_samples(void **state)
{
	(void)state;
	/* Watchers first, subscribed: every subscription is granted at the
	 * QoS asked for, readable or not. */
	struct th_client *watching[TH_ARRAY_LEN(WATCHERS)];
	for (size_t w = 0; w < TH_ARRAY_LEN(WATCHERS); w++) {
		const struct watcher *wt = &WATCHERS[w];
		watching[w] = login(wt->user, version_of(wt->user));
		for (size_t i = 0; i < TH_ARRAY_LEN(wt->patterns) && wt->patterns[i] != NULL; i++) {
			int got = th_client_subscribe(watching[w], wt->patterns[i], 1);
			if (got != 1) {
				print_error("%s subscribing to %s: SUBACK %d, expected 1\n",
				            wt->user, wt->patterns[i], got);
				fail();
			}
		}
	}
	struct th_client *pub[TH_ARRAY_LEN(USERS)];
	for (size_t u = 0; u < TH_ARRAY_LEN(USERS); u++) {
		pub[u] = login(USERS[u], version_of(USERS[u]));
	}

	/* Publish every sample and check the PUBACK. */
	printf("%-11s %-36s %-8s %s\n", "publisher", "topic", "broker", "received by (# watchers)");
	for (size_t s = 0; s < TH_ARRAY_LEN(SAMPLES); s++) {
		const struct sample *sm = &SAMPLES[s];
		size_t u = 0;
		while (strcmp(USERS[u], sm->user) != 0) {
			u++;
		}
		bool allowed = granted(WRITE, TH_ARRAY_LEN(WRITE), sm->user, sm->topic);
		char payload[32];
		snprintf(payload, sizeof(payload), "sample-%zu", s);
		int reason = th_client_publish(pub[u], sm->topic, payload);
		/* 3.1.1 has no reason codes: a refused publish looks accepted. */
		int want = th_client_version(pub[u]) == 5 && !allowed ? 135 : 0;
		char readers[128] = "";
		for (size_t w = 0; w < 4; w++) {
			if (delivered_to(&WATCHERS[w], sm)) {
				strcat(readers, WATCHERS[w].user);
				strcat(readers, " ");
			}
		}
		printf("%-11s %-36s %-8s %s\n", sm->user, sm->topic, allowed ? "takes" : "DROPS",
		       readers);
		if (reason != want) {
			print_error("%s publishing to %s: PUBACK reason %d, expected %d\n",
			            sm->user, sm->topic, reason, want);
			fail();
		}
	}

	/* Each watcher got exactly the samples it may read and asked for, in
	 * order, ending with a control. */
	for (size_t w = 0; w < TH_ARRAY_LEN(WATCHERS); w++) {
		const struct watcher *wt = &WATCHERS[w];
		size_t expected = 0, last = 0;
		for (size_t s = 0; s < TH_ARRAY_LEN(SAMPLES); s++) {
			if (delivered_to(wt, &SAMPLES[s])) {
				expected++;
				last = s;
			}
		}
		assert_true(expected > 0 && last >= TH_ARRAY_LEN(SAMPLES) - 2);
		for (size_t s = 0; s < TH_ARRAY_LEN(SAMPLES); s++) {
			if (!delivered_to(wt, &SAMPLES[s])) {
				continue;
			}
			char payload[32];
			snprintf(payload, sizeof(payload), "sample-%zu", s);
			struct th_msg *m = th_client_next(watching[w], WAIT_MS);
			bool ok = m != NULL && strcmp(m->topic, SAMPLES[s].topic) == 0 &&
			          strcmp(m->payload, payload) == 0;
			if (!ok) {
				print_error("%s (watching %s...) expected %s from %s on %s, got %s "
				            "%s\n",
				            wt->user, wt->patterns[0], payload, SAMPLES[s].user,
				            SAMPLES[s].topic, m != NULL ? m->payload : "nothing",
				            m != NULL ? m->topic : "");
				th_msg_free(m);
				fail();
			}
			th_msg_free(m);
		}
		/* The control was the last thing it could get: nothing is left. */
		struct th_msg *extra = th_client_next(watching[w], 0);
		if (extra != NULL) {
			print_error("%s got %s on %s after its control\n", wt->user, extra->payload,
			            extra->topic);
			th_msg_free(extra);
			fail();
		}
	}
	for (size_t u = 0; u < TH_ARRAY_LEN(USERS); u++) {
		th_client_close(pub[u]);
	}
	for (size_t w = 0; w < TH_ARRAY_LEN(WATCHERS); w++) {
		th_client_close(watching[w]);
	}
}

static int
setup(void **state)
{
	(void)state;
	if (th_env_init(&env, "broker-acl") != 0) {
		return -1;
	}
	return th_deploy_start(&broker, &env);
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_anonymous_or_wrong_password),
	        cmocka_unit_test(test_tls_listener),
	        cmocka_unit_test(test_acl_samples),
	};
	int failed = cmocka_run_group_tests_name("it_broker_acl", tests, setup, teardown);
	/* A broker that does not stop cleanly is a failure too. */
	if (th_deploy_stop(&broker) != 0) {
		fprintf(stderr, "it_broker_acl: mosquitto did not stop cleanly\n");
		failed++;
	}
	th_env_finish(&env, failed != 0);
	return failed != 0;
}
