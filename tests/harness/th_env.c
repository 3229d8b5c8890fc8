/* Temporary directory, files, ports, child processes. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SETPRIV_BIN "/usr/bin/setpriv"

int64_t
th_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
th_env_init(struct th_env *env, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0') {
		tmp = "/tmp";
	}
	memset(env, 0, sizeof(*env));
	snprintf(env->dir, sizeof(env->dir), "%s/lf-it-%s-XXXXXX", tmp, name);
	if (mkdtemp(env->dir) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", env->dir, strerror(errno));
		env->dir[0] = '\0';
		return -1;
	}
	return 0;
}

void
th_env_path(const struct th_env *env, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", env->dir, name);
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) != 0) {
		fprintf(stderr, "harness: remove %s: %s\n", path, strerror(errno));
	}
	return 0;
}

static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

void
th_env_finish(struct th_env *env, bool failed)
{
	if (env->dir[0] == '\0') {
		return;
	}
	if (!failed) {
		nftw(env->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		env->dir[0] = '\0';
		return;
	}
	struct dirent **names = NULL;
	int n = scandir(env->dir, &names, NULL, name_cmp);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		if (len > 4 && strcmp(names[i]->d_name + len - 4, ".log") == 0) {
			char path[TH_PATH_MAX + 256];
			snprintf(path, sizeof(path), "%s/%s", env->dir, names[i]->d_name);
			th_print_tail(path, 60);
		}
		free(names[i]);
	}
	free(names);
	fprintf(stderr, "harness: kept %s for inspection\n", env->dir);
}

int
th_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "harness: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t len = strlen(text);
	int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0) {
		rc = -1;
	}
	return rc;
}

char *
th_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL) {
			close(fd);
			return NULL;
		}
		if (cap - n < 2048) {
			cap *= 2;
			char *grown = realloc(buf, cap);
			if (grown == NULL) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = grown;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL) {
		*len = n;
	}
	return buf;
}

void
th_print_tail(const char *path, int lines)
{
	size_t len = 0;
	char *text = th_read_file(path, &len);
	if (text == NULL) {
		fprintf(stderr, "---- %s: unreadable\n", path);
		return;
	}
	size_t start = len;
	int seen = 0;
	/* A trailing newline ends the last line rather than starting another. */
	while (start > 0) {
		if (text[start - 1] == '\n' && start != len && ++seen == lines) {
			break;
		}
		start--;
	}
	fprintf(stderr, "---- last %d lines of %s\n%s", lines, path, text + start);
	if (len > 0 && text[len - 1] != '\n') {
		fputc('\n', stderr);
	}
	fprintf(stderr, "---- end of %s\n", path);
	free(text);
}

int
th_free_port(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof(sa);
	int rc = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &salen) == 0) {
		*port = ntohs(sa.sin_port);
		rc = 0;
	}
	close(fd);
	return rc;
}

bool
th_tcp_connects(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return false;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

pid_t
th_spawn(const char *const argv[], const char *out_path)
{
	/* setpriv exec()s the program in place (same pid), after asking the
	 * kernel to SIGKILL it when this process dies. */
	const char *args[64];
	size_t n = 0;
	bool wrap = access(SETPRIV_BIN, X_OK) == 0;
	if (wrap) {
		args[n++] = SETPRIV_BIN;
		args[n++] = "--pdeathsig";
		args[n++] = "KILL";
		args[n++] = "--";
	}
	for (size_t i = 0; argv[i] != NULL && n < TH_ARRAY_LEN(args) - 1; i++) {
		args[n++] = argv[i];
	}
	args[n] = NULL;

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	pid_t pid = -1;
	int err = posix_spawn(&pid, args[0], &fa, NULL, (char *const *)args, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		fprintf(stderr, "harness: spawn %s: %s\n", args[0], strerror(err));
		return -1;
	}
	return pid;
}

int
th_timeout_ms(int ms)
{
	const char *env = getenv("LF_TEST_TIMEOUT_SCALE");
	double scale = env != NULL ? strtod(env, NULL) : 1.0;
	if (!(scale > 1.0)) {
		return ms;
	}
	double scaled = ms * scale;
	return scaled < 2e9 ? (int)scaled : 2000000000;
}

int
th_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		int st = 0;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			*status = st;
			return 1;
		}
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "harness: waitpid %d: %s\n", (int)pid, strerror(errno));
			*status = -1;
			return 1;
		}
		if (lf_now_ms() >= deadline) {
			return 0;
		}
		usleep(5000);
	}
}

int
th_terminate(pid_t pid, int timeout_ms)
{
	int status = -1;
	kill(pid, SIGTERM);
	if (th_wait_exit(pid, timeout_ms, &status)) {
		return status;
	}
	fprintf(stderr, "harness: pid %d ignored SIGTERM for %d ms, killing it\n", (int)pid,
	        timeout_ms);
	kill(pid, SIGKILL);
	th_wait_exit(pid, 5000, &status);
	return status;
}

int
th_exit_code(int status)
{
	if (status == -1) {
		return -1;
	}
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return -1;
}
