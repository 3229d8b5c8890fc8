/*
 * The fake Helium packet router (tests/fakes/router/server.js, Node.js and
 * @grpc/grpc-js) driven from the C integration tests: spawn, stop, kill,
 * freeze, restart on the same port, JSON commands on its control socket,
 * and its JSON-lines events file read as a queue.
 *
 * The fake writes <dir>/<name>.log (stdout+stderr; printed on failure by
 * th_env_finish), <dir>/<name>.events (one JSON event per line, appended
 * across restarts) and listens for commands on <dir>/<name>.sock. <name> is
 * "router1", "router2", ... in the order routers are started.
 *
 * Events and commands are described in tests/fakes/router/README.md.
 * Its npm dependencies must be installed (scripts/test runs npm ci).
 */
#ifndef TH_ROUTER_H
#define TH_ROUTER_H

#include "harness.h"

struct th_router_event {
	cJSON *root; /* the parsed event: {"ev":"packet","gateway":"01ab..",...} */
	char *line;  /* its text, NUL-terminated */
	struct th_router_event *next;
};

struct th_router {
	struct th_env *env;
	pid_t pid;     /* 0 when not running */
	int status;    /* wait status once reaped */
	uint16_t port; /* the gRPC port, kept for restarts */
	char name[32]; /* router1, router2, ... */
	/* Extra server.js arguments, kept for restarts. */
	char extra[8][64];
	int n_extra;
	char log_path[TH_PATH_MAX];
	char events_path[TH_PATH_MAX];
	char control_path[TH_PATH_MAX];
	/* Events read from the file and not taken yet, oldest first. */
	size_t events_off;
	struct th_router_event *pending;
	struct th_router_event **pending_tail;
};

/* Starts the fake on 127.0.0.1:port (0: a free port) with its files in the
 * env's directory; ready when it prints its listening line (10 s max). */
int th_router_start(struct th_router *r, struct th_env *env, uint16_t port);
/* Same, with extra server.js arguments (NULL-terminated, may be NULL), e.g.
 * {"--events-batch", NULL} or {"--kill-after-ms", "2000", NULL}. */
int th_router_start_args(struct th_router *r, struct th_env *env, uint16_t port,
                         const char *const extra[]);
/* SIGTERM and wait; returns the exit code (0 for a clean stop), -1 if it was
 * not running. Events stay readable. */
int th_router_stop(struct th_router *r);
/* SIGKILL and reap, like a crash. */
int th_router_kill(struct th_router *r);
int th_router_pause(struct th_router *r);  /* SIGSTOP */
int th_router_resume(struct th_router *r); /* SIGCONT */
/* Stops it if it runs, then starts a new process on the same port, with
 * the same files (events keep being appended; unread ones stay queued). */
int th_router_restart(struct th_router *r);
/* False once it has exited (it is then reaped). */
bool th_router_alive(struct th_router *r);
/* Kills it if needed and frees the queued events. */
void th_router_free(struct th_router *r);

/*
 * Sends one JSON command line and reads the one-line reply into reply (may
 * be NULL; truncated to len). 0 when the reply says "ok":true, -1 otherwise
 * (I/O error, timeout, or "ok":false; the reason goes to stderr).
 */
int th_router_cmd(struct th_router *r, const char *json_line, char *reply, size_t len);
/* The same, returning the parsed reply (cJSON_Delete it), NULL on I/O
 * error. "ok":false replies are returned too. */
cJSON *th_router_cmd_json(struct th_router *r, const char *json_line);
/* A counter from {"cmd":"stats"}; -1 on error. */
double th_router_stat(struct th_router *r, const char *counter);

/*
 * The oldest event not taken yet whose "ev" equals ev (NULL: any) and, when
 * gateway_hex is not NULL, whose "gateway" equals it (any case), waiting up
 * to timeout_ms. It is taken: later waits do not see it; events that do not
 * match stay queued. NULL on timeout (with the queue's tail on stderr).
 */
struct th_router_event *th_router_wait_event(struct th_router *r, const char *ev,
                                             const char *gateway_hex, int timeout_ms);
/* How many queued events match now (they stay queued). */
int th_router_count_events(struct th_router *r, const char *ev, const char *gateway_hex);
/* Drops the queued events that match; returns how many. */
int th_router_discard_events(struct th_router *r, const char *ev, const char *gateway_hex);
void th_router_event_free(struct th_router_event *e);

/*
 * Runs a cmocka group against one fake router: a temp dir named `name`,
 * the router started before the first test (each test gets it as its
 * state) and stopped after the last. Initialises libsodium. Returns the
 * number of failed tests.
 */
int th_router_run_group(const char *name, const struct CMUnitTest *tests, size_t n_tests);

#endif
