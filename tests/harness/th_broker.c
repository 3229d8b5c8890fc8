/* A real mosquitto on a free loopback port. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BROKER_READY_MS   5000
#define BROKER_POLL_US    20000
#define BROKER_PORT_TRIES 5

static int
write_conf(struct th_broker *b)
{
	char data_dir[TH_PATH_MAX];
	th_env_path(b->env, "broker-data", data_dir, sizeof(data_dir));
	if (b->persistent && mkdir(data_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "harness: mkdir %s: %s\n", data_dir, strerror(errno));
		return -1;
	}
	char conf[4096];
	int n = snprintf(conf, sizeof(conf),
	                 "listener %u 127.0.0.1\n"
	                 "allow_anonymous true\n"
	                 "set_tcp_nodelay true\n"
	                 /* The default (1000) silently drops messages for a
	                  * subscriber that is behind, e.g. during an outage. */
	                 "max_queued_messages 100000\n"
	                 "log_dest stderr\n"
	                 "log_type error\nlog_type warning\nlog_type notice\n"
	                 "log_type information\n"
	                 "connection_messages true\n"
	                 "%s",
	                 (unsigned)b->port,
	                 /* Otherwise mosquitto drops to user "mosquitto" and cannot
	                  * write into our root-owned directory. */
	                 geteuid() == 0 ? "user root\n" : "");
	if (b->persistent) {
		/* Save on every change so a persistent session (and its
		 * subscriptions) survives kill -9. */
		n += snprintf(conf + n, sizeof(conf) - (size_t)n,
		              "persistence true\n"
		              "persistence_location %s/\n"
		              "autosave_interval 1\n"
		              "autosave_on_changes true\n",
		              data_dir);
	} else {
		n += snprintf(conf + n, sizeof(conf) - (size_t)n, "persistence false\n");
	}
	if (b->extra_conf != NULL && n >= 0 && (size_t)n < sizeof(conf)) {
		snprintf(conf + n, sizeof(conf) - (size_t)n, "%s", b->extra_conf);
	}
	return th_write_file(b->conf_path, conf);
}

static bool
log_contains_since(const char *path, size_t from, const char *needle)
{
	size_t len = 0;
	char *text = th_read_file(path, &len);
	bool found = text != NULL && from <= len && strstr(text + from, needle) != NULL;
	free(text);
	return found;
}

static size_t
file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* One attempt on b->port: 0 ready, 1 port taken, -1 other failure. */
static int
start_once(struct th_broker *b)
{
	if (write_conf(b) != 0) {
		return -1;
	}
	size_t mark = file_size(b->log_path);
	const char *argv[] = {LF_MOSQUITTO_BIN, "-c", b->conf_path, NULL};
	pid_t pid = th_spawn(argv, b->log_path);
	if (pid < 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + BROKER_READY_MS;
	for (;;) {
		int status;
		if (th_wait_exit(pid, 0, &status)) {
			bool in_use = log_contains_since(b->log_path, mark, "in use");
			fprintf(stderr, "harness: mosquitto on port %u exited (%d)%s\n",
			        (unsigned)b->port, th_exit_code(status),
			        in_use ? ": address in use" : "");
			return in_use ? 1 : -1;
		}
		/* "running" is logged after the listener is bound, so a
		 * successful connect is to this broker, not a stranger. */
		if (log_contains_since(b->log_path, mark, " running") && th_tcp_connects(b->port)) {
			b->pid = pid;
			return 0;
		}
		if (lf_now_ms() >= deadline) {
			fprintf(stderr, "harness: mosquitto not ready on port %u after %d ms\n",
			        (unsigned)b->port, BROKER_READY_MS);
			th_terminate(pid, 2000);
			return -1;
		}
		usleep(BROKER_POLL_US);
	}
}

int
th_broker_start(struct th_broker *b)
{
	if (b->pid != 0) {
		fprintf(stderr, "harness: broker already running\n");
		return -1;
	}
	th_env_path(b->env, "broker.conf", b->conf_path, sizeof(b->conf_path));
	th_env_path(b->env, "broker.log", b->log_path, sizeof(b->log_path));
	if (b->port != 0) {
		/* A restart keeps the port: the bridge reconnects to it. The old
		 * process has been reaped and mosquitto sets SO_REUSEADDR, so
		 * only a stranger grabbing the port in between could fail this;
		 * retry for a while in that case rather than move. */
		int64_t deadline = lf_now_ms() + BROKER_READY_MS;
		for (;;) {
			int rc = start_once(b);
			if (rc <= 0 || lf_now_ms() >= deadline) {
				return rc == 0 ? 0 : -1;
			}
			usleep(100000);
		}
	}
	for (int attempt = 0; attempt < BROKER_PORT_TRIES; attempt++) {
		if (th_free_port(&b->port) != 0) {
			return -1;
		}
		int rc = start_once(b);
		if (rc == 0) {
			return 0;
		}
		if (rc < 0) {
			break;
		}
	}
	b->port = 0;
	return -1;
}

static int
end(struct th_broker *b, int sig)
{
	if (b->pid == 0) {
		return 0;
	}
	int status = -1;
	if (sig == SIGTERM) {
		/* A paused broker would hold SIGTERM until continued. */
		kill(b->pid, SIGCONT);
		status = th_terminate(b->pid, 5000);
	} else {
		kill(b->pid, SIGKILL);
		th_wait_exit(b->pid, 5000, &status);
	}
	b->pid = 0;
	return status == -1 ? -1 : 0;
}

int
th_broker_stop(struct th_broker *b)
{
	return end(b, SIGTERM);
}

int
th_broker_kill(struct th_broker *b)
{
	return end(b, SIGKILL);
}

/* Modification time of the database file; 0 when it does not exist. */
static int64_t
db_mtime_ns(const struct th_broker *b)
{
	char path[TH_PATH_MAX];
	th_env_path(b->env, "broker-data/mosquitto.db", path, sizeof(path));
	struct stat st;
	if (stat(path, &st) != 0) {
		return 0;
	}
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

int
th_broker_save(struct th_broker *b)
{
	if (!b->persistent || b->pid == 0) {
		return -1;
	}
	/* mosquitto writes a temporary file and renames it into place, so a
	 * file modified strictly after the signal was sent is a complete save
	 * that includes everything already acknowledged to us. The fine clock
	 * errs on the safe side: file systems with coarse timestamps may date
	 * a later save a few ms too early, which only costs one more signal. */
	int64_t deadline = lf_now_ms() + BROKER_READY_MS;
	while (lf_now_ms() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t sent = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		if (kill(b->pid, SIGUSR1) != 0) {
			return -1;
		}
		for (int i = 0; i < 20; i++) {
			if (db_mtime_ns(b) > sent) {
				return 0;
			}
			usleep(5000);
		}
	}
	fprintf(stderr, "harness: mosquitto did not save its database\n");
	return -1;
}

int
th_broker_pause(struct th_broker *b)
{
	return b->pid != 0 ? kill(b->pid, SIGSTOP) : -1;
}

int
th_broker_resume(struct th_broker *b)
{
	return b->pid != 0 ? kill(b->pid, SIGCONT) : -1;
}
