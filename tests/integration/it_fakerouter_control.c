/*
 * The harness side of the fake Helium packet router (th_router.c): start on
 * a free port, control commands, the events queue, freeze, restart on the
 * same port after a stop and after a kill. The gRPC side is covered by the
 * fake's own self-test (tests/fakes/router/selftest.js).
 */
#include "th_router.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 5000

struct ctx {
	struct th_env env;
	bool env_ok;
	struct th_router router;
	bool started;
};

static int
setup(void **state)
{
	struct ctx *c = *state;
	if (!c->env_ok) {
		print_error("no temp dir\n");
		return -1;
	}
	if (!c->started) {
		c->started = true;
		if (th_router_start(&c->router, &c->env, 0) != 0) {
			print_error("the fake router did not start\n");
			return -1;
		}
	}
	return th_router_alive(&c->router) ? 0 : -1;
}

/* The process state letter from /proc/<pid>/stat ('T' when stopped). */
static char
proc_state(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	char *text = th_read_file(path, NULL);
	char *paren = text != NULL ? strrchr(text, ')') : NULL;
	char state = paren != NULL && paren[1] == ' ' ? paren[2] : '?';
	free(text);
	return state;
}

static void
test_started_on_a_free_port(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	assert_true(r->port > 0);
	struct th_router_event *e = th_router_wait_event(r, "listening", NULL, WAIT_MS);
	assert_non_null(e);
	TH_ASSERT_NUM(e->root, "port", r->port);
	TH_ASSERT_NUM(e->root, "pid", r->pid);
	th_router_event_free(e);
	/* Taken once. */
	assert_int_equal(th_router_count_events(r, "listening", NULL), 0);

	cJSON *reply = th_router_cmd_json(r, "{\"cmd\":\"streams\"}");
	assert_non_null(reply);
	TH_ASSERT_BOOL(reply, "ok", true);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "streams");
	assert_true(cJSON_IsArray(list));
	assert_int_equal(cJSON_GetArraySize(list), 0);
	cJSON_Delete(reply);

	assert_true(th_router_stat(r, "streams_opened") == 0);
	assert_true(th_router_stat(r, "packets_verified") == 0);
	assert_true(th_router_stat(r, "no_such_counter") == -1);
}

static void
test_commands_and_errors(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	char reply[1024];
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"ping\"}", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "{\"ok\":true}");
	/* A trailing newline is accepted too. */
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"ping\"}\n", NULL, 0), 0);

	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"nope\"}", reply, sizeof(reply)), -1);
	cJSON *root = TH_PARSE(reply);
	TH_ASSERT_BOOL(root, "ok", false);
	TH_ASSERT_STR(root, "error", "unknown cmd nope");
	cJSON_Delete(root);

	assert_int_equal(th_router_cmd(r, "not json", reply, sizeof(reply)), -1);
	assert_int_equal(
	        th_router_cmd(r,
	                      "{\"cmd\":\"downlink\",\"gateway\":\"01aa\",\"payload\":\"\","
	                      "\"rx1\":{\"frequency\":868100000}}",
	                      reply, sizeof(reply)),
	        -1);
	assert_non_null(strstr(reply, "no live stream for 01aa"));
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"end_stream\",\"gateway\":\"01aa\"}", NULL, 0),
	                 -1);

	assert_int_equal(th_router_cmd(r,
	                               "{\"cmd\":\"set\",\"refuse_register\":true,"
	                               "\"reject_packets\":true,\"kill_after_ms\":1000}",
	                               reply, sizeof(reply)),
	                 0);
	root = TH_PARSE(reply);
	const cJSON *settings = cJSON_GetObjectItemCaseSensitive(root, "settings");
	TH_ASSERT_BOOL(settings, "refuse_register", true);
	TH_ASSERT_BOOL(settings, "reject_packets", true);
	TH_ASSERT_NUM(settings, "kill_after_ms", 1000);
	cJSON_Delete(root);
	assert_int_equal(th_router_cmd(r,
	                               "{\"cmd\":\"set\",\"refuse_register\":false,"
	                               "\"reject_packets\":false,\"kill_after_ms\":0}",
	                               NULL, 0),
	                 0);
}

static void
test_pause_and_resume(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	assert_int_equal(th_router_pause(r), 0);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (proc_state(r->pid) != 'T' && lf_now_ms() < deadline) {
		usleep(10000);
	}
	assert_int_equal(proc_state(r->pid), 'T');
	assert_int_equal(th_router_resume(r), 0);
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"ping\"}", NULL, 0), 0);
}

static void
test_restart_keeps_the_port(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	uint16_t port = r->port;
	pid_t old = r->pid;

	assert_int_equal(th_router_restart(r), 0);
	assert_int_equal(r->port, port);
	assert_true(r->pid != old);
	struct th_router_event *e = th_router_wait_event(r, "shutdown", NULL, WAIT_MS);
	assert_non_null(e);
	TH_ASSERT_STR(e->root, "signal", "SIGTERM");
	th_router_event_free(e);
	e = th_router_wait_event(r, "listening", NULL, WAIT_MS);
	assert_non_null(e);
	TH_ASSERT_NUM(e->root, "port", port);
	TH_ASSERT_NUM(e->root, "pid", r->pid);
	th_router_event_free(e);
	/* A new process: the counters start again. */
	assert_true(th_router_stat(r, "streams_opened") == 0);

	/* After a crash: the stale control socket is replaced. */
	old = r->pid;
	assert_int_equal(th_router_kill(r), 0);
	assert_false(th_router_alive(r));
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"ping\"}", NULL, 0), -1);
	assert_int_equal(th_router_restart(r), 0);
	assert_int_equal(r->port, port);
	assert_true(r->pid != old);
	assert_int_equal(th_router_cmd(r, "{\"cmd\":\"ping\"}", NULL, 0), 0);
	e = th_router_wait_event(r, "listening", NULL, WAIT_MS);
	assert_non_null(e);
	TH_ASSERT_NUM(e->root, "pid", r->pid);
	th_router_event_free(e);
	/* No shutdown event from the killed one. */
	assert_int_equal(th_router_count_events(r, "shutdown", NULL), 0);
}

static void
test_events_queue(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	/* Two restarts queue two shutdown/listening pairs; a wait for the
	 * second kind leaves the first kind queued. */
	assert_int_equal(th_router_restart(r), 0);
	assert_int_equal(th_router_restart(r), 0);
	struct th_router_event *e = th_router_wait_event(r, "listening", NULL, WAIT_MS);
	assert_non_null(e);
	th_router_event_free(e);
	e = th_router_wait_event(r, "listening", NULL, WAIT_MS);
	assert_non_null(e);
	TH_ASSERT_NUM(e->root, "pid", r->pid);
	th_router_event_free(e);
	assert_int_equal(th_router_count_events(r, "shutdown", NULL), 2);
	assert_int_equal(th_router_discard_events(r, "shutdown", NULL), 2);
	assert_int_equal(th_router_count_events(r, NULL, NULL), 0);
	/* Nothing else arrives. */
	assert_null(th_router_wait_event(r, NULL, "01aa", 100));
}

static void
test_stop_is_clean(void **state)
{
	struct ctx *c = *state;
	struct th_router *r = &c->router;
	assert_int_equal(th_router_stop(r), 0);
	assert_false(th_router_alive(r));
	assert_int_equal(access(r->control_path, F_OK), -1);
	struct th_router_event *e = th_router_wait_event(r, "shutdown", NULL, WAIT_MS);
	assert_non_null(e);
	th_router_event_free(e);
	/* A second router on a port chosen here. */
	uint16_t port = 0;
	assert_int_equal(th_free_port(&port), 0);
	struct th_router r2;
	assert_int_equal(th_router_start(&r2, &c->env, port), 0);
	assert_int_equal(r2.port, port);
	assert_string_not_equal(r2.control_path, r->control_path);
	assert_int_equal(th_router_cmd(&r2, "{\"cmd\":\"ping\"}", NULL, 0), 0);
	assert_int_equal(th_router_stop(&r2), 0);
	th_router_free(&r2);
	/* Back on the original port for any later test. */
	assert_int_equal(th_router_restart(r), 0);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct ctx c = {0};
	c.env_ok = th_env_init(&c.env, "fakerouter") == 0;
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_prestate_setup_teardown(test_started_on_a_free_port, setup, NULL,
	                                                 &c),
	        cmocka_unit_test_prestate_setup_teardown(test_commands_and_errors, setup, NULL, &c),
	        cmocka_unit_test_prestate_setup_teardown(test_pause_and_resume, setup, NULL, &c),
	        cmocka_unit_test_prestate_setup_teardown(test_restart_keeps_the_port, setup, NULL,
	                                                 &c),
	        cmocka_unit_test_prestate_setup_teardown(test_events_queue, setup, NULL, &c),
	        cmocka_unit_test_prestate_setup_teardown(test_stop_is_clean, setup, NULL, &c),
	};
	int failed = cmocka_run_group_tests_name("it_fakerouter_control", tests, NULL, NULL);
	if (c.router.pid != 0 && th_router_stop(&c.router) != 0) {
		failed++;
	}
	th_router_free(&c.router);
	if (c.env_ok) {
		th_env_finish(&c.env, failed != 0);
	}
	return failed != 0;
}
