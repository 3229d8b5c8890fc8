/* One test executable's environment: started by the first test's setup,
 * ended by main() once cmocka knows whether anything failed. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define OBSERVER_CONNECT_MS 5000

static int
suite_start(struct th_suite *s)
{
	/* A send to a closed TCP peer must be an error, not a dead test. */
	signal(SIGPIPE, SIG_IGN);
	if (th_env_init(&s->env, s->name) != 0) {
		return -1;
	}
	s->broker.env = &s->env;
	s->broker.persistent = s->persistent_broker;
	if (th_broker_start(&s->broker) != 0) {
		fprintf(stderr, "harness: the broker did not start\n");
		return -1;
	}
	char obs_id[64];
	snprintf(obs_id, sizeof(obs_id), "it-%s-obs", s->name);
	s->obs = th_mqtt_connect(&s->broker, s->persistent_observer ? obs_id : NULL,
	                         !s->persistent_observer, OBSERVER_CONNECT_MS);
	if (s->obs == NULL || th_mqtt_subscribe(s->obs, "lorawan/#", 1) != 0 ||
	    th_mqtt_subscribe(s->obs, "lorafleet/#", 1) != 0) {
		fprintf(stderr, "harness: the observer could not subscribe\n");
		return -1;
	}
	char instance[64];
	snprintf(instance, sizeof(instance), "it-%s", s->name);
	if (th_bridge_start(&s->bridge, &s->env, &s->broker, instance, s->bridge_extra,
	                    s->mqtt_extra) != 0) {
		fprintf(stderr, "harness: the bridge did not start\n");
		return -1;
	}
	if (th_wait_bridge_online(s->obs, instance, 10000) != 0) {
		th_print_tail(s->bridge.log_path, 40);
		return -1;
	}
	return 0;
}

int
th_suite_setup(void **state)
{
	struct th_suite *s = *state;
	if (!s->started) {
		s->started = true;
		s->start_failed = suite_start(s) != 0;
	}
	if (s->start_failed) {
		print_error("the test environment did not start (see above)\n");
		return -1;
	}
	if (!th_daemon_alive(&s->bridge) && s->bridge.status != 0) {
		print_error("the bridge %s is gone: exit %d\n", s->bridge.instance,
		            th_exit_code(s->bridge.status));
		return -1;
	}
	return 0;
}

int
th_suite_finish(struct th_suite *s, int failed)
{
	if (!s->started) {
		return failed != 0;
	}
	th_mqtt_close(s->obs);
	s->obs = NULL;
	if (s->bridge.pid != 0) {
		/* Every test file ends with a clean shutdown: under ASan a leak
		 * or memory error found at exit makes the status non-zero. */
		int code = th_daemon_stop(&s->bridge);
		if (code != 0) {
			fprintf(stderr, "[  FAILED  ] %s: the bridge exited with %d on SIGTERM\n",
			        s->name, code);
			failed++;
		}
	}
	th_broker_stop(&s->broker);
	th_env_finish(&s->env, failed != 0);
	return failed != 0;
}

void
th_suite_bridge_at(struct th_suite *s, struct th_daemon *d, const char *instance,
                   const char *bridge_extra, const char *prefix, int timeout_ms, const char *file,
                   int line)
{
	char mqtt_extra[96] = "", filter[80];
	if (prefix != NULL) {
		snprintf(mqtt_extra, sizeof(mqtt_extra), "topic_prefix = %s\n", prefix);
		snprintf(filter, sizeof(filter), "%s/#", prefix);
		if (th_mqtt_subscribe(s->obs, filter, 1) != 0) {
			print_error("%s:%d: the observer could not subscribe to %s\n", file, line,
			            filter);
			_fail(file, line);
		}
	}
	if (th_bridge_start(d, &s->env, &s->broker, instance, bridge_extra,
	                    prefix != NULL ? mqtt_extra : NULL) != 0 ||
	    th_wait_bridge_online(s->obs, instance, timeout_ms) != 0) {
		print_error("%s:%d: bridge %s did not come up\n", file, line, instance);
		_fail(file, line);
	}
}
