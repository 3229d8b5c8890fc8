/*
 * The fake router's control socket, as the bench uses it: stats, and the
 * bench records (seq, sent, received) taken through a file, since a run
 * produces millions of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "rlbench.h"

#define REPLY_MAX   65536
#define RECORD_SIZE 24

struct rlb_router {
	int fd;
	char buf[REPLY_MAX];
	size_t len;
};

struct rlb_router *
rlb_router_open(const char *control_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(control_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "rlbench: control path too long: %s\n", control_path);
		return NULL;
	}
	strcpy(sa.sun_path, control_path);
	struct rlb_router *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return NULL;
	}
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "rlbench: fake router control %s: %s\n", control_path,
		        strerror(errno));
		rlb_router_close(r);
		return NULL;
	}
	return r;
}

void
rlb_router_close(struct rlb_router *r)
{
	if (r == NULL) {
		return;
	}
	if (r->fd >= 0) {
		close(r->fd);
	}
	free(r);
}

/* Sends one command line and parses the reply line; NULL on failure.
 * An {"ok":false} reply is printed, or, when refusal is given, its error
 * is copied there instead (refusal stays "" for other failures). */
static cJSON *
command_or_refusal(struct rlb_router *r, const char *line, char *refusal, size_t refusal_len)
{
	size_t n = strlen(line);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(r->fd, line + off, n - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			fprintf(stderr, "rlbench: control write: %s\n", strerror(errno));
			return NULL;
		}
		off += (size_t)w;
	}
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl != NULL) {
			cJSON *reply = cJSON_ParseWithLength(r->buf, (size_t)(nl - r->buf));
			size_t used = (size_t)(nl - r->buf) + 1;
			memmove(r->buf, r->buf + used, r->len - used);
			r->len -= used;
			if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
				cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
				const char *why =
				        cJSON_IsString(err) ? err->valuestring : "bad reply";
				if (refusal != NULL) {
					snprintf(refusal, refusal_len, "%s", why);
				} else {
					fprintf(stderr, "rlbench: control %.*s: %s\n", (int)n - 1,
					        line, why);
				}
				cJSON_Delete(reply);
				return NULL;
			}
			return reply;
		}
		if (r->len == sizeof(r->buf)) {
			fprintf(stderr, "rlbench: control reply too long\n");
			return NULL;
		}
		ssize_t got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			fprintf(stderr, "rlbench: control read: %s\n",
			        got == 0 ? "the fake router closed it" : strerror(errno));
			return NULL;
		}
		r->len += (size_t)got;
	}
}

static cJSON *
command(struct rlb_router *r, const char *line)
{
	return command_or_refusal(r, line, NULL, 0);
}

static uint64_t
member_u64(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

int
rlb_router_stats(struct rlb_router *r, struct rlb_router_stats *out)
{
	cJSON *reply = command(r, "{\"cmd\":\"stats\"}\n");
	if (reply == NULL) {
		return -1;
	}
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(reply, "stats");
	*out = (struct rlb_router_stats){
	        .streams_live = member_u64(s, "streams_live"),
	        .registers_verified = member_u64(s, "registers_verified"),
	        .session_inits_accepted = member_u64(s, "session_inits_accepted"),
	        .packets = member_u64(s, "packets"),
	        .packets_verified = member_u64(s, "packets_verified"),
	        .packets_unverified = member_u64(s, "packets_unverified"),
	        .verify_failures = member_u64(s, "verify_failures"),
	        .protocol_errors = member_u64(s, "protocol_errors"),
	        .nonce_mismatches = member_u64(s, "nonce_mismatches"),
	};
	cJSON_Delete(reply);
	return 0;
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) {
		v = v << 8 | p[i];
	}
	return v;
}

long
rlb_router_take(struct rlb_router *r, const char *file, rlb_record_fn fn, void *arg)
{
	cJSON *cmd = cJSON_CreateObject();
	cJSON_AddStringToObject(cmd, "cmd", "bench_take");
	cJSON_AddStringToObject(cmd, "file", file);
	char *text = cJSON_PrintUnformatted(cmd);
	cJSON_Delete(cmd);
	size_t tl = text ? strlen(text) : 0;
	char *line = text ? malloc(tl + 2) : NULL;
	if (line == NULL) {
		free(text);
		return -1;
	}
	memcpy(line, text, tl);
	memcpy(line + tl, "\n", 2);
	free(text);
	cJSON *reply = command(r, line);
	free(line);
	if (reply == NULL) {
		return -1;
	}
	uint64_t count = member_u64(reply, "count");
	cJSON_Delete(reply);

	FILE *f = fopen(file, "rb");
	if (f == NULL) {
		fprintf(stderr, "rlbench: %s: %s\n", file, strerror(errno));
		return -1;
	}
	uint8_t rec[RECORD_SIZE];
	uint64_t n = 0;
	while (fread(rec, RECORD_SIZE, 1, f) == 1) {
		fn(arg, get_le64(rec), (int64_t)get_le64(rec + 8), (int64_t)get_le64(rec + 16));
		n++;
	}
	fclose(f);
	if (n != count) {
		fprintf(stderr, "rlbench: %s holds %llu records, the fake router said %llu\n", file,
		        (unsigned long long)n, (unsigned long long)count);
		return -1;
	}
	return (long)n;
}

int
rlb_router_downlink(struct rlb_router *r, const char *gateway_hex, const char *payload_b64,
                    uint32_t tmst, uint32_t freq_hz, const char *datr, char *refusal,
                    size_t refusal_len)
{
	char line[512];
	int n = snprintf(line, sizeof(line),
	                 "{\"cmd\":\"downlink\",\"gateway\":\"%s\",\"payload\":\"%s\","
	                 "\"rx1\":{\"timestamp\":%u,\"frequency\":%u,\"datarate\":\"%s\","
	                 "\"immediate\":false}}\n",
	                 gateway_hex, payload_b64, (unsigned)tmst, (unsigned)freq_hz, datr);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		return -1;
	}
	refusal[0] = '\0';
	cJSON *reply = command_or_refusal(r, line, refusal, refusal_len);
	if (reply == NULL) {
		return refusal[0] != '\0' ? 1 : -1;
	}
	cJSON_Delete(reply);
	return 0;
}
