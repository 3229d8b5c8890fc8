#include "th_apigw.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READY_MS 15000

static int
spawn_and_wait(struct th_apigw *a)
{
	struct th_daemon *d = &a->d;
	size_t mark = th_daemon_log_mark(d);
	const char *argv[] = {LF_APIGW_BIN, "-c", d->ini_path, NULL};
	d->pid = th_spawn_daemon(argv, d->log_path);
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	if (th_daemon_wait_log(d, mark, "apigw .* started", READY_MS) != 0 ||
	    th_daemon_wait_log(d, mark, "mqtt: connected", READY_MS) != 0) {
		fprintf(stderr, "harness: %s did not start\n", d->instance);
		th_print_tail(d->log_path, 40);
		th_daemon_kill(d);
		return -1;
	}
	regex_t re;
	regcomp(&re, "http listening on 127\\.0\\.0\\.1:([0-9]+)", REG_EXTENDED);
	size_t len = 0;
	char *text = th_read_file(d->log_path, &len);
	regmatch_t m[2];
	a->port = 0;
	if (text != NULL && mark <= len && regexec(&re, text + mark, 2, m, 0) == 0) {
		a->port = (uint16_t)strtol(text + mark + m[1].rm_so, NULL, 10);
	}
	free(text);
	regfree(&re);
	return a->port != 0 ? 0 : -1;
}

int
th_apigw_start(struct th_apigw *a, struct th_env *env, const struct th_broker *b,
               const char *instance, const char *extra)
{
	memset(a, 0, sizeof(*a));
	struct th_daemon *d = &a->d;
	th_daemon_init(d, env, instance);
	char ini[4096];
	int n = snprintf(ini, sizeof(ini),
	                 "[mqtt]\nhost = 127.0.0.1\nport = %u\nreconnect_max = 1s\n"
	                 "\n[log]\nlevel = debug\n"
	                 "\n[apigw]\nhttp_bind = 127.0.0.1:0\ninstance = %s\n%s",
	                 (unsigned)b->port, instance, extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(ini) || th_write_file(d->ini_path, ini) != 0) {
		return -1;
	}
	return spawn_and_wait(a);
}

int
th_apigw_restart(struct th_apigw *a)
{
	return spawn_and_wait(a);
}

int
th_apigw_get(const struct th_apigw *a, const char *path, const char *extra, struct th_http_resp *r)
{
	return th_http_request(a->port, "GET", path, extra, NULL, r);
}

cJSON *
th_apigw_wait_connected(const struct th_apigw *a, const char *mac, const char *extra,
                        int timeout_ms)
{
	char path[64];
	snprintf(path, sizeof(path), "/gateways/%s", mac);
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		struct th_http_resp r;
		if (th_apigw_get(a, path, extra, &r) != 0) {
			fprintf(stderr, "harness: GET %s failed\n", path);
			return NULL;
		}
		cJSON *g = r.json;
		r.json = NULL;
		int status = r.status;
		th_http_resp_free(&r);
		if (status == 200 && cJSON_IsTrue(cJSON_GetObjectItem(g, "connected"))) {
			return g;
		}
		cJSON_Delete(g);
		if (lf_now_ms() > deadline) {
			fprintf(stderr, "harness: GET %s: %d, never connected\n", path, status);
			return NULL;
		}
		usleep(100 * 1000);
	}
}
