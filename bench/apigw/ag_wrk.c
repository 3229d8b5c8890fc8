/*
 * wrk as a child process, and a small blocking HTTP client for the
 * bench's own questions to apigw (is the fleet there, are the streams).
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "agbench.h"

extern char **environ;

/* "1.23ms" -> 1.23; wrk prints us, ms, s, m, h. -1 when unreadable. */
static double
to_ms(const char *text)
{
	char *end = NULL;
	double v = strtod(text, &end);
	if (end == text) {
		return -1;
	}
	if (strncmp(end, "us", 2) == 0) {
		return v / 1000;
	}
	if (strncmp(end, "ms", 2) == 0) {
		return v;
	}
	if (end[0] == 's') {
		return v * 1000;
	}
	if (end[0] == 'm') {
		return v * 60000;
	}
	return end[0] == 'h' ? v * 3600000 : -1;
}

/* "12.34MB" -> bytes; wrk's units are powers of 1024. */
static double
to_bytes(const char *text)
{
	char *end = NULL;
	double v = strtod(text, &end);
	static const char units[] = "KMGT";
	const char *u =
	        end != text && end[0] != 'B' && end[0] != '\0' ? strchr(units, end[0]) : NULL;
	for (long i = u != NULL ? u - units + 1 : 0; i > 0; i--) {
		v *= 1024;
	}
	return v;
}

static void
parse_output(const char *text, struct agb_wrk_result *r)
{
	for (const char *at = text; at != NULL && *at != '\0';) {
		/* One line at a time: sscanf's blanks would match newlines. */
		char line[256];
		const char *nl = strchr(at, '\n');
		size_t len = nl != NULL ? (size_t)(nl - at) : strlen(at);
		snprintf(line, sizeof(line), "%.*s", (int)len, at);
		at = nl != NULL ? nl + 1 : NULL;
		char a[32], b[32], c[32];
		unsigned long long n1, n2, n3, n4;
		if (sscanf(line, " Latency %31s %31s %31s", a, b, c) == 3) {
			r->max_ms = to_ms(c);
		} else if (sscanf(line, " 50%% %31s", a) == 1) {
			r->p50_ms = to_ms(a);
		} else if (sscanf(line, " 90%% %31s", a) == 1) {
			r->p90_ms = to_ms(a);
		} else if (sscanf(line, " 99%% %31s", a) == 1) {
			r->p99_ms = to_ms(a);
		} else if (sscanf(line, " %llu requests in", &n1) == 1) {
			r->requests = n1;
		} else if (sscanf(line,
		                  "Socket errors: connect %llu, read %llu, write %llu, timeout "
		                  "%llu",
		                  &n1, &n2, &n3, &n4) == 4) {
			r->socket_errors = n1 + n2 + n3;
			r->timeouts = n4;
		} else if (sscanf(line, " Non-2xx or 3xx responses: %llu", &n1) == 1) {
			r->non2xx = n1;
		} else if (sscanf(line, " Requests/sec: %31s", a) == 1) {
			r->req_per_s = strtod(a, NULL);
		} else if (sscanf(line, " Transfer/sec: %31s", a) == 1) {
			r->bytes_per_s = to_bytes(a);
		}
	}
}

static double
children_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0) {
		return 0;
	}
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int
agb_wrk_run(char *const argv[], struct agb_wrk_result *out)
{
	memset(out, 0, sizeof(*out));
	int fds[2];
	if (pipe(fds) != 0) {
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	double cpu0 = children_cpu_s();
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		fprintf(stderr, "agbench: cannot run %s: %s (scripts/deps installs wrk)\n", argv[0],
		        strerror(rc));
		close(fds[0]);
		return -1;
	}
	size_t cap = 8192, len = 0;
	char *text = malloc(cap);
	for (ssize_t n = 1; text != NULL && n > 0;) {
		if (len + 1 == cap) {
			char *t = realloc(text, cap * 2);
			if (t == NULL) {
				break;
			}
			text = t;
			cap *= 2;
		}
		n = read(fds[0], text + len, cap - 1 - len);
		if (n > 0) {
			len += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			n = 1;
		}
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	out->cpu_s = children_cpu_s() - cpu0;
	if (text == NULL) {
		return -1;
	}
	text[len] = '\0';
	parse_output(text, out);
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && out->requests > 0 &&
	          out->p99_ms >= 0;
	if (!ok) {
		fprintf(stderr, "agbench: %s failed; it said:\n%s\n", argv[0], text);
	}
	free(text);
	return ok ? 0 : -1;
}

int
agb_http_get(int port, const char *path, const char *api_key, char **body, int timeout_ms)
{
	*body = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
	char req[512];
	int len =
	        snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%sConnection: close\r\n\r\n",
	                 path, port, api_key[0] != '\0' ? "X-API-Key: " : "", api_key,
	                 api_key[0] != '\0' ? "\r\n" : "");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, req, (size_t)len) != len) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	/* Until the connection closes or Content-Length bytes of body came. */
	size_t cap = 65536, got = 0, need = 0, head = 0; /* head: 0 until the blank line */
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (got + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (b == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
		const char *end = head == 0 ? strstr(buf, "\r\n\r\n") : NULL;
		if (end != NULL) {
			head = (size_t)(end + 4 - buf);
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			need = cl != NULL && cl < end ? head + strtoull(cl + 17, NULL, 10) : 0;
		}
		if (need > 0 && got >= need) {
			break;
		}
	}
	close(fd);
	int status = 0;
	if (buf == NULL || head == 0 || sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
		free(buf);
		return -1;
	}
	memmove(buf, buf + head, got - head + 1);
	*body = buf;
	return status;
}
