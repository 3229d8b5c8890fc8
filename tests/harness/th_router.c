/* The fake Helium packet router: process control, control socket, events. */
#include "th_router.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ROUTER_DIR      LF_SOURCE_DIR "/tests/fakes/router"
#define ROUTER_READY_MS 10000
#define ROUTER_STOP_MS  5000
#define ROUTER_CMD_MS   5000
#define ROUTER_POLL_US  10000

static int router_count;

/* $LF_NODE_BIN, else the first executable "node" on $PATH. */
static int
find_node(char *out, size_t len)
{
	const char *env = getenv("LF_NODE_BIN");
	if (env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
		return 0;
	}
	const char *path = getenv("PATH");
	if (path == NULL || path[0] == '\0') {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	while (*path != '\0') {
		const char *colon = strchr(path, ':');
		size_t n = colon != NULL ? (size_t)(colon - path) : strlen(path);
		if (n > 0) {
			snprintf(out, len, "%.*s/node", (int)n, path);
			if (access(out, X_OK) == 0) {
				return 0;
			}
		}
		path += n;
		if (*path == ':') {
			path++;
		}
	}
	fprintf(stderr, "harness: node not found on PATH (set LF_NODE_BIN)\n");
	return -1;
}

static size_t
file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Spawns server.js on r->port and waits for its listening line. */
static int
router_spawn(struct th_router *r)
{
	char node[TH_PATH_MAX];
	if (find_node(node, sizeof(node)) != 0) {
		return -1;
	}
	if (access(ROUTER_DIR "/node_modules/@grpc/grpc-js", R_OK) != 0) {
		fprintf(stderr,
		        "harness: %s/node_modules is missing: run "
		        "npm ci --prefix tests/fakes/router (scripts/test does)\n",
		        ROUTER_DIR);
		return -1;
	}
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)r->port);
	const char *argv[32] = {node,       ROUTER_DIR "/server.js", "--port",    port,
	                        "--events", r->events_path,          "--control", r->control_path};
	size_t n = 8;
	for (int i = 0; i < r->n_extra; i++) {
		argv[n++] = r->extra[i];
	}
	argv[n] = NULL;

	size_t mark = file_size(r->log_path);
	r->pid = th_spawn(argv, r->log_path);
	if (r->pid < 0) {
		r->pid = 0;
		return -1;
	}
	regex_t re;
	if (regcomp(&re, "fake router listening on 127\\.0\\.0\\.1:([0-9]+)", REG_EXTENDED) != 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + ROUTER_READY_MS;
	int rc = -1;
	for (;;) {
		size_t len = 0;
		char *text = th_read_file(r->log_path, &len);
		regmatch_t m[2];
		if (text != NULL && mark <= len && regexec(&re, text + mark, 2, m, 0) == 0) {
			long p = strtol(text + mark + m[1].rm_so, NULL, 10);
			free(text);
			if (p > 0 && p < 65536) {
				r->port = (uint16_t)p;
				rc = 0;
			}
			break;
		}
		free(text);
		if (!th_router_alive(r)) {
			fprintf(stderr, "harness: %s exited (%d) before listening\n", r->name,
			        th_exit_code(r->status));
			break;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: %s did not say it listens within %d ms\n",
			        r->name, ROUTER_READY_MS);
			th_router_kill(r);
			break;
		}
		usleep(ROUTER_POLL_US);
	}
	regfree(&re);
	if (rc != 0) {
		th_print_tail(r->log_path, 40);
	}
	return rc;
}

int
th_router_start_args(struct th_router *r, struct th_env *env, uint16_t port,
                     const char *const extra[])
{
	memset(r, 0, sizeof(*r));
	r->env = env;
	r->port = port;
	r->pending_tail = &r->pending;
	snprintf(r->name, sizeof(r->name), "router%d", ++router_count);
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (i >= TH_ARRAY_LEN(r->extra) || strlen(extra[i]) >= sizeof(r->extra[0])) {
			fprintf(stderr, "harness: too many or too long router arguments\n");
			return -1;
		}
		snprintf(r->extra[i], sizeof(r->extra[i]), "%s", extra[i]);
		r->n_extra++;
	}
	char file[64];
	snprintf(file, sizeof(file), "%s.log", r->name);
	th_env_path(env, file, r->log_path, sizeof(r->log_path));
	snprintf(file, sizeof(file), "%s.events", r->name);
	th_env_path(env, file, r->events_path, sizeof(r->events_path));
	snprintf(file, sizeof(file), "%s.sock", r->name);
	th_env_path(env, file, r->control_path, sizeof(r->control_path));
	if (strlen(r->control_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "harness: control socket path too long: %s\n", r->control_path);
		return -1;
	}
	return router_spawn(r);
}

int
th_router_start(struct th_router *r, struct th_env *env, uint16_t port)
{
	return th_router_start_args(r, env, port, NULL);
}

bool
th_router_alive(struct th_router *r)
{
	if (r->pid == 0) {
		return false;
	}
	int status;
	if (th_wait_exit(r->pid, 0, &status)) {
		r->status = status;
		r->pid = 0;
		return false;
	}
	return true;
}

int
th_router_stop(struct th_router *r)
{
	if (r->pid == 0) {
		fprintf(stderr, "harness: %s is not running (exit %d)\n", r->name,
		        th_exit_code(r->status));
		return -1;
	}
	/* A frozen process would not see SIGTERM. */
	kill(r->pid, SIGCONT);
	r->status = th_terminate(r->pid, ROUTER_STOP_MS);
	r->pid = 0;
	int code = th_exit_code(r->status);
	if (code != 0) {
		fprintf(stderr, "harness: %s exited with %d after SIGTERM\n", r->name, code);
	}
	return code;
}

int
th_router_kill(struct th_router *r)
{
	if (r->pid == 0) {
		return 0;
	}
	kill(r->pid, SIGKILL);
	th_wait_exit(r->pid, 5000, &r->status);
	r->pid = 0;
	return 0;
}

int
th_router_pause(struct th_router *r)
{
	return r->pid != 0 && kill(r->pid, SIGSTOP) == 0 ? 0 : -1;
}

int
th_router_resume(struct th_router *r)
{
	return r->pid != 0 && kill(r->pid, SIGCONT) == 0 ? 0 : -1;
}

int
th_router_restart(struct th_router *r)
{
	if (r->pid != 0) {
		th_router_stop(r);
	}
	return router_spawn(r);
}

void
th_router_event_free(struct th_router_event *e)
{
	if (e == NULL) {
		return;
	}
	cJSON_Delete(e->root);
	free(e->line);
	free(e);
}

void
th_router_free(struct th_router *r)
{
	th_router_kill(r);
	struct th_router_event *e = r->pending;
	while (e != NULL) {
		struct th_router_event *next = e->next;
		th_router_event_free(e);
		e = next;
	}
	r->pending = NULL;
	r->pending_tail = &r->pending;
}

/* ---------------------------------------------------------------------- */
/* Control socket                                                         */

static int
control_exchange(struct th_router *r, const char *json_line, char **out)
{
	*out = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t path_len = strlen(r->control_path);
	if (path_len >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	memcpy(sa.sun_path, r->control_path, path_len + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "harness: %s control %s: %s\n", r->name, r->control_path,
		        strerror(errno));
		close(fd);
		return -1;
	}
	size_t len = strlen(json_line);
	bool nl = len > 0 && json_line[len - 1] == '\n';
	if (send(fd, json_line, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    (!nl && send(fd, "\n", 1, MSG_NOSIGNAL) != 1)) {
		fprintf(stderr, "harness: %s control send: %s\n", r->name, strerror(errno));
		close(fd);
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int64_t deadline = lf_now_ms() + ROUTER_CMD_MS;
	int rc = -1;
	while (buf != NULL) {
		char *end = memchr(buf, '\n', n);
		if (end != NULL) {
			*end = '\0';
			rc = 0;
			break;
		}
		int64_t left = deadline - lf_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			fprintf(stderr, "harness: %s gave no reply to %s within %d ms\n", r->name,
			        json_line, ROUTER_CMD_MS);
			break;
		}
		if (cap - n < 1024) {
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				break;
			}
			buf = grown;
			cap *= 2;
		}
		ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
		if (got <= 0) {
			fprintf(stderr, "harness: %s closed the control connection\n", r->name);
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

cJSON *
th_router_cmd_json(struct th_router *r, const char *json_line)
{
	char *text = NULL;
	if (control_exchange(r, json_line, &text) != 0) {
		return NULL;
	}
	cJSON *root = cJSON_Parse(text);
	if (root == NULL) {
		fprintf(stderr, "harness: %s replied with bad JSON: %s\n", r->name, text);
	}
	free(text);
	return root;
}

int
th_router_cmd(struct th_router *r, const char *json_line, char *reply, size_t len)
{
	if (reply != NULL && len > 0) {
		reply[0] = '\0';
	}
	char *text = NULL;
	if (control_exchange(r, json_line, &text) != 0) {
		return -1;
	}
	if (reply != NULL && len > 0) {
		snprintf(reply, len, "%s", text);
	}
	cJSON *root = cJSON_Parse(text);
	int rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ok")) ? 0 : -1;
	if (rc != 0) {
		fprintf(stderr, "harness: %s: %s -> %s\n", r->name, json_line, text);
	}
	cJSON_Delete(root);
	free(text);
	return rc;
}

double
th_router_stat(struct th_router *r, const char *counter)
{
	cJSON *root = th_router_cmd_json(r, "{\"cmd\":\"stats\"}");
	const cJSON *stats = cJSON_GetObjectItemCaseSensitive(root, "stats");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(stats, counter);
	double out = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (!cJSON_IsNumber(v)) {
		fprintf(stderr, "harness: %s has no counter %s\n", r->name, counter);
	}
	cJSON_Delete(root);
	return out;
}

/* ---------------------------------------------------------------------- */
/* Events                                                                 */

/* Queues the complete lines appended since the last read. */
static void
read_events(struct th_router *r)
{
	int fd = open(r->events_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size <= r->events_off) {
		close(fd);
		return;
	}
	size_t want = (size_t)st.st_size - r->events_off;
	char *buf = malloc(want + 1);
	ssize_t got = buf != NULL ? pread(fd, buf, want, (off_t)r->events_off) : -1;
	close(fd);
	if (got <= 0) {
		free(buf);
		return;
	}
	size_t pos = 0;
	for (;;) {
		char *nl = memchr(buf + pos, '\n', (size_t)got - pos);
		if (nl == NULL) {
			break; /* the writer is mid-line */
		}
		*nl = '\0';
		const char *line = buf + pos;
		size_t line_len = (size_t)(nl - line);
		pos += line_len + 1;
		if (line_len == 0) {
			continue;
		}
		cJSON *root = cJSON_Parse(line);
		struct th_router_event *e = root != NULL ? calloc(1, sizeof(*e)) : NULL;
		if (e == NULL || (e->line = strdup(line)) == NULL) {
			fprintf(stderr, "harness: %s: unreadable event %s\n", r->name, line);
			cJSON_Delete(root);
			free(e);
			continue;
		}
		e->root = root;
		*r->pending_tail = e;
		r->pending_tail = &e->next;
	}
	r->events_off += pos;
	free(buf);
}

static bool
event_matches(const struct th_router_event *e, const char *ev, const char *gateway_hex)
{
	if (ev != NULL) {
		const char *name =
		        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->root, "ev"));
		if (name == NULL || strcmp(name, ev) != 0) {
			return false;
		}
	}
	if (gateway_hex != NULL) {
		const char *gw =
		        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->root, "gateway"));
		if (gw == NULL || strcasecmp(gw, gateway_hex) != 0) {
			return false;
		}
	}
	return true;
}

/* Unlinks and returns the first queued match, or NULL. */
static struct th_router_event *
take_event(struct th_router *r, const char *ev, const char *gateway_hex)
{
	for (struct th_router_event **p = &r->pending; *p != NULL; p = &(*p)->next) {
		struct th_router_event *e = *p;
		if (event_matches(e, ev, gateway_hex)) {
			*p = e->next;
			if (r->pending_tail == &e->next) {
				r->pending_tail = p;
			}
			e->next = NULL;
			return e;
		}
	}
	return NULL;
}

struct th_router_event *
th_router_wait_event(struct th_router *r, const char *ev, const char *gateway_hex, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		read_events(r);
		struct th_router_event *e = take_event(r, ev, gateway_hex);
		if (e != NULL) {
			return e;
		}
		if (lf_now_ms() >= deadline) {
			break;
		}
		usleep(ROUTER_POLL_US);
	}
	fprintf(stderr, "harness: %s: no event %s (gateway %s) within %d ms; queued:\n", r->name,
	        ev != NULL ? ev : "(any)", gateway_hex != NULL ? gateway_hex : "(any)", timeout_ms);
	int shown = 0;
	for (const struct th_router_event *e = r->pending; e != NULL && shown < 20;
	     e = e->next, shown++) {
		fprintf(stderr, "  %s\n", e->line);
	}
	return NULL;
}

int
th_router_count_events(struct th_router *r, const char *ev, const char *gateway_hex)
{
	read_events(r);
	int n = 0;
	for (const struct th_router_event *e = r->pending; e != NULL; e = e->next) {
		n += event_matches(e, ev, gateway_hex);
	}
	return n;
}

int
th_router_discard_events(struct th_router *r, const char *ev, const char *gateway_hex)
{
	read_events(r);
	int n = 0;
	struct th_router_event *e;
	while ((e = take_event(r, ev, gateway_hex)) != NULL) {
		th_router_event_free(e);
		n++;
	}
	return n;
}

/* One group per test process: cmocka's group setup takes no argument. */
static struct {
	const char *name;
	struct th_env env;
	struct th_router router;
} group;

static int
group_setup(void **state)
{
	if (th_env_init(&group.env, group.name) != 0 ||
	    th_router_start(&group.router, &group.env, 0) != 0) {
		return -1;
	}
	*state = &group.router;
	return 0;
}

static int
group_teardown(void **state)
{
	th_router_stop(&group.router);
	th_router_free(&group.router);
	return 0;
}

int
th_router_run_group(const char *name, const struct CMUnitTest *tests, size_t n_tests)
{
	if (sodium_init() < 0) {
		return 1;
	}
	group.name = name;
	char title[64];
	snprintf(title, sizeof(title), "it_%s", name);
	int failed = _cmocka_run_group_tests(title, tests, n_tests, group_setup, group_teardown);
	th_env_finish(&group.env, failed != 0);
	return failed;
}
