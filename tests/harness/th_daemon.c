/* The daemon under test: generated INI, spawn, readiness, log searches. */
#include "harness.h"

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Generous: an ASan build starts slower and CI machines are shared. */
#define DAEMON_READY_MS 10000
#define DAEMON_STOP_MS  10000
#define LOG_POLL_US     20000

pid_t
th_spawn_daemon(const char *const argv[], const char *out_path)
{
	const char *wrapper = getenv("LF_TEST_DAEMON_WRAPPER");
	if (wrapper == NULL || wrapper[0] == '\0') {
		return th_spawn(argv, out_path);
	}
	char words[2048];
	const char *args[48];
	size_t n = 0;
	if (strlen(wrapper) >= sizeof(words)) {
		fprintf(stderr, "harness: LF_TEST_DAEMON_WRAPPER is too long\n");
		return -1;
	}
	strcpy(words, wrapper);
	char *save = NULL;
	for (char *w = strtok_r(words, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		if (n == TH_ARRAY_LEN(args) - 8) {
			fprintf(stderr, "harness: LF_TEST_DAEMON_WRAPPER has too many words\n");
			return -1;
		}
		args[n++] = w;
	}
	for (size_t i = 0; argv[i] != NULL && n < TH_ARRAY_LEN(args) - 1; i++) {
		args[n++] = argv[i];
	}
	args[n] = NULL;
	return th_spawn(args, out_path);
}

void
th_daemon_init(struct th_daemon *d, struct th_env *env, const char *instance)
{
	memset(d, 0, sizeof(*d));
	d->env = env;
	snprintf(d->instance, sizeof(d->instance), "%s", instance);
	char name[96];
	snprintf(name, sizeof(name), "%s.ini", instance);
	th_env_path(env, name, d->ini_path, sizeof(d->ini_path));
	snprintf(name, sizeof(name), "%s.log", instance);
	th_env_path(env, name, d->log_path, sizeof(d->log_path));
}

int
th_bridge_start(struct th_daemon *d, struct th_env *env, const struct th_broker *b,
                const char *instance, const char *bridge_extra, const char *mqtt_extra)
{
	th_daemon_init(d, env, instance);

	char ini[4096];
	int n = snprintf(ini, sizeof(ini),
	                 "[mqtt]\n"
	                 "host = 127.0.0.1\n"
	                 "port = %u\n"
	                 /* A restarted broker is found within a second. */
	                 "reconnect_max = 1s\n"
	                 "%s"
	                 "\n[log]\n"
	                 "level = debug\n"
	                 "\n[bridge]\n"
	                 "udp_bind = 127.0.0.1:0\n"
	                 "instance = %s\n"
	                 "%s",
	                 (unsigned)b->port, mqtt_extra != NULL ? mqtt_extra : "", instance,
	                 bridge_extra != NULL ? bridge_extra : "");
	if (n < 0 || (size_t)n >= sizeof(ini) || th_write_file(d->ini_path, ini) != 0) {
		return -1;
	}

	size_t mark = th_daemon_log_mark(d);
	const char *argv[] = {LF_BRIDGE_BIN, "-c", d->ini_path, NULL};
	d->pid = th_spawn_daemon(argv, d->log_path);
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}

	regex_t re;
	if (regcomp(&re, "udp listening on 127\\.0\\.0\\.1:([0-9]+)", REG_EXTENDED) != 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + th_timeout_ms(DAEMON_READY_MS);
	int rc = -1;
	for (;;) {
		size_t len = 0;
		char *text = th_read_file(d->log_path, &len);
		regmatch_t m[2];
		if (text != NULL && mark <= len && regexec(&re, text + mark, 2, m, 0) == 0) {
			long port = strtol(text + mark + m[1].rm_so, NULL, 10);
			free(text);
			if (port > 0 && port < 65536) {
				d->udp_port = (uint16_t)port;
				rc = 0;
			}
			break;
		}
		free(text);
		if (!th_daemon_alive(d)) {
			fprintf(stderr, "harness: %s exited (%d) before listening\n", instance,
			        th_exit_code(d->status));
			break;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: %s did not log 'udp listening on' in %d ms\n",
			        instance, DAEMON_READY_MS);
			th_daemon_kill(d);
			break;
		}
		usleep(LOG_POLL_US);
	}
	regfree(&re);
	if (rc != 0) {
		th_print_tail(d->log_path, 40);
	}
	return rc;
}

bool
th_daemon_alive(struct th_daemon *d)
{
	if (d->pid == 0) {
		return false;
	}
	int status;
	if (th_wait_exit(d->pid, 0, &status)) {
		d->status = status;
		d->pid = 0;
		return false;
	}
	return true;
}

int
th_daemon_stop(struct th_daemon *d)
{
	if (d->pid == 0) {
		fprintf(stderr, "harness: %s is not running (exit %d)\n", d->instance,
		        th_exit_code(d->status));
		return -1;
	}
	d->status = th_terminate(d->pid, DAEMON_STOP_MS);
	d->pid = 0;
	int code = th_exit_code(d->status);
	if (code != 0) {
		fprintf(stderr, "harness: %s exited with %d after SIGTERM\n", d->instance, code);
	}
	return code;
}

int
th_daemon_kill(struct th_daemon *d)
{
	if (d->pid == 0) {
		return 0;
	}
	kill(d->pid, SIGKILL);
	th_wait_exit(d->pid, 5000, &d->status);
	d->pid = 0;
	return 0;
}

size_t
th_daemon_log_mark(const struct th_daemon *d)
{
	struct stat st;
	return stat(d->log_path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Complete lines from `from` matching re (NULL: every line). */
static int
count_lines(char *text, size_t len, size_t from, const regex_t *re)
{
	int count = 0;
	size_t pos = from;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		if (nl == NULL) {
			break; /* the writer is mid-line */
		}
		size_t end = (size_t)(nl - text);
		/* regexec needs a NUL-terminated line. */
		text[end] = '\0';
		if (re == NULL || regexec(re, text + pos, 0, NULL, 0) == 0) {
			count++;
		}
		text[end] = '\n';
		pos = end + 1;
	}
	return count;
}

int
th_daemon_log_count(const struct th_daemon *d, size_t from, const char *regex)
{
	regex_t re;
	if (regex != NULL && regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "harness: bad regex %s\n", regex);
		return -1;
	}
	size_t len = 0;
	char *text = th_read_file(d->log_path, &len);
	int n = text != NULL && from <= len ? count_lines(text, len, from, regex ? &re : NULL) : 0;
	free(text);
	if (regex != NULL) {
		regfree(&re);
	}
	return n;
}

int
th_daemon_wait_log(const struct th_daemon *d, size_t from, const char *regex, int timeout_ms)
{
	timeout_ms = th_timeout_ms(timeout_ms);
	int64_t deadline = lf_now_ms() + timeout_ms;
	for (;;) {
		int n = th_daemon_log_count(d, from, regex);
		if (n > 0) {
			return 0;
		}
		if (n < 0 || lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: no line matching /%s/ in %s within %d ms\n",
			        regex, d->log_path, timeout_ms);
			return -1;
		}
		usleep(LOG_POLL_US);
	}
}
