/* JSON text helpers, metrics snapshots and assertions on payloads. */
#include "harness.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *
th_json_minify(const char *json)
{
	size_t len = strlen(json);
	char *out = malloc(len + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t n = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_string) {
			out[n++] = c;
			if (c == '\\' && i + 1 < len) {
				out[n++] = json[++i];
			} else if (c == '"') {
				in_string = false;
			}
		} else if (c == '"') {
			in_string = true;
			out[n++] = c;
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			out[n++] = c;
		}
	}
	out[n] = '\0';
	return out;
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
		p++;
	}
	return p;
}

/* Past the string starting at p (on its opening quote); NULL if unended. */
static const char *
skip_string(const char *p)
{
	for (p++; *p != '\0'; p++) {
		if (*p == '\\') {
			if (*++p == '\0') {
				return NULL;
			}
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Past the value starting at p; NULL when malformed. Only as strict as
 * finding the value's end needs: the payload was already parsed by cJSON. */
static const char *
skip_value(const char *p)
{
	p = skip_ws(p);
	if (*p == '"') {
		return skip_string(p);
	}
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (*p != '\0') {
			if (*p == '"') {
				p = skip_string(p);
				if (p == NULL) {
					return NULL;
				}
				continue;
			}
			if (*p == '{' || *p == '[') {
				depth++;
			} else if (*p == '}' || *p == ']') {
				if (--depth == 0) {
					return p + 1;
				}
			}
			p++;
		}
		return NULL;
	}
	while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p)) {
		p++;
	}
	return p;
}

char *
th_json_member_text(const char *json, const char *key)
{
	const char *p = skip_ws(json);
	if (*p != '{') {
		return NULL;
	}
	p = skip_ws(p + 1);
	size_t klen = strlen(key);
	while (*p == '"') {
		const char *kend = skip_string(p);
		if (kend == NULL) {
			return NULL;
		}
		bool match = (size_t)(kend - p) == klen + 2 && strncmp(p + 1, key, klen) == 0;
		p = skip_ws(kend);
		if (*p != ':') {
			return NULL;
		}
		const char *vstart = skip_ws(p + 1);
		const char *vend = skip_value(vstart);
		if (vend == NULL) {
			return NULL;
		}
		if (match) {
			return strndup(vstart, (size_t)(vend - vstart));
		}
		p = skip_ws(vend);
		if (*p != ',') {
			return NULL;
		}
		p = skip_ws(p + 1);
	}
	return NULL;
}

int
th_parse_rfc3339_us(const char *text, int64_t *us)
{
	/* Exactly "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	if (strlen(text) != sizeof(shape) - 1) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)text[i]) : text[i] != shape[i]) {
			return -1;
		}
	}
	struct tm tm = {0};
	tm.tm_year = atoi(text) - 1900;
	tm.tm_mon = atoi(text + 5) - 1;
	tm.tm_mday = atoi(text + 8);
	tm.tm_hour = atoi(text + 11);
	tm.tm_min = atoi(text + 14);
	tm.tm_sec = atoi(text + 17);
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60) {
		return -1;
	}
	time_t secs = timegm(&tm);
	*us = (int64_t)secs * 1000000 + atoi(text + 20);
	return 0;
}

bool
th_metric_value(const cJSON *snapshot, const char *name, const char *label_key,
                const char *label_value, double *out)
{
	const cJSON *families = cJSON_GetObjectItemCaseSensitive(snapshot, "families");
	const cJSON *fam;
	cJSON_ArrayForEach(fam, families)
	{
		const cJSON *fname = cJSON_GetObjectItemCaseSensitive(fam, "name");
		if (!cJSON_IsString(fname) || strcmp(fname->valuestring, name) != 0) {
			continue;
		}
		const cJSON *series = cJSON_GetObjectItemCaseSensitive(fam, "series");
		const cJSON *s;
		cJSON_ArrayForEach(s, series)
		{
			const cJSON *labels = cJSON_GetObjectItemCaseSensitive(s, "labels");
			const cJSON *value = cJSON_GetObjectItemCaseSensitive(s, "value");
			bool match;
			if (label_key == NULL) {
				match = labels == NULL || cJSON_GetArraySize(labels) == 0;
			} else {
				const cJSON *l =
				        cJSON_GetObjectItemCaseSensitive(labels, label_key);
				match = cJSON_IsString(l) &&
				        strcmp(l->valuestring, label_value) == 0;
			}
			if (match && cJSON_IsNumber(value)) {
				*out = value->valuedouble;
				return true;
			}
		}
	}
	return false;
}

static void
describe(const struct th_metric_expect *e, char *out, size_t outlen)
{
	if (e->label_key != NULL) {
		snprintf(out, outlen, "%s{%s=\"%s\"}", e->name, e->label_key, e->label_value);
	} else {
		snprintf(out, outlen, "%s", e->name);
	}
}

int
th_wait_metrics(struct th_mqtt *m, const char *topic, const struct th_metric_expect *e, size_t n,
                int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	char *last = NULL;
	int rc = -1;
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *msg = left > 0 ? th_mqtt_wait(m, topic, (int)left) : NULL;
		if (msg == NULL) {
			break;
		}
		cJSON *snap = cJSON_Parse(msg->payload);
		free(last);
		last = msg->payload;
		msg->payload = NULL;
		th_msg_free(msg);
		if (snap == NULL) {
			fprintf(stderr, "harness: metrics snapshot is not JSON\n");
			break;
		}
		bool all = true, over = false;
		for (size_t i = 0; i < n; i++) {
			double v = 0;
			th_metric_value(snap, e[i].name, e[i].label_key, e[i].label_value, &v);
			if (v != e[i].value) {
				all = false;
			}
			if (v > e[i].value) {
				char what[160];
				describe(&e[i], what, sizeof(what));
				fprintf(stderr, "harness: %s is %g, expected %g\n", what, v,
				        e[i].value);
				over = true;
			}
		}
		cJSON_Delete(snap);
		if (all) {
			rc = 0;
			break;
		}
		if (over) {
			break;
		}
	}
	if (rc != 0) {
		fprintf(stderr, "harness: expected metrics not seen within %d ms:\n", timeout_ms);
		cJSON *snap = last != NULL ? cJSON_Parse(last) : NULL;
		for (size_t i = 0; i < n; i++) {
			char what[160];
			describe(&e[i], what, sizeof(what));
			double v = 0;
			bool present =
			        snap != NULL && th_metric_value(snap, e[i].name, e[i].label_key,
			                                        e[i].label_value, &v);
			fprintf(stderr, "  %s: expected %g, last snapshot %s%g\n", what, e[i].value,
			        present ? "" : "(absent) ", v);
		}
		cJSON_Delete(snap);
		if (last == NULL) {
			fprintf(stderr, "  (no snapshot received on %s)\n", topic);
		}
	}
	free(last);
	return rc;
}

/* ---------------------------------------------------------------------- */

static const cJSON *
member(const cJSON *obj, const char *key, const char *file, int line)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item == NULL) {
		char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
		print_error("%s:%d: \"%s\" missing in %s\n", file, line, key,
		            text != NULL ? text : "(null)");
		free(text);
		_fail(file, line);
	}
	return item;
}

static void
mismatch(const cJSON *obj, const char *key, const char *want, const char *file, int line)
{
	char *whole = cJSON_PrintUnformatted(obj);
	char *got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(obj, key));
	print_error("%s:%d: \"%s\" is %s, expected %s\n  in %s\n", file, line, key,
	            got != NULL ? got : "?", want, whole != NULL ? whole : "?");
	free(whole);
	free(got);
	_fail(file, line);
}

void
th_assert_str_at(const cJSON *obj, const char *key, const char *want, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	if (!cJSON_IsString(item) || strcmp(item->valuestring, want) != 0) {
		char quoted[512];
		snprintf(quoted, sizeof(quoted), "\"%s\"", want);
		mismatch(obj, key, quoted, file, line);
	}
}

void
th_assert_num_at(const cJSON *obj, const char *key, double want, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	if (!cJSON_IsNumber(item) || item->valuedouble != want) {
		char text[64];
		snprintf(text, sizeof(text), "%.17g", want);
		mismatch(obj, key, text, file, line);
	}
}

void
th_assert_bool_at(const cJSON *obj, const char *key, bool want, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	if (!cJSON_IsBool(item) || cJSON_IsTrue(item) != want) {
		mismatch(obj, key, want ? "true" : "false", file, line);
	}
}

void
th_assert_null_at(const cJSON *obj, const char *key, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	if (!cJSON_IsNull(item)) {
		mismatch(obj, key, "null", file, line);
	}
}

void
th_assert_absent_at(const cJSON *obj, const char *key, const char *file, int line)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
		mismatch(obj, key, "(absent)", file, line);
	}
}

void
th_assert_nonempty_str_at(const cJSON *obj, const char *key, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
		mismatch(obj, key, "a non-empty string", file, line);
	}
}

void
th_assert_recent_at(const cJSON *obj, const char *key, int max_skew_s, const char *file, int line)
{
	const cJSON *item = member(obj, key, file, line);
	int64_t us = 0;
	if (!cJSON_IsString(item) || th_parse_rfc3339_us(item->valuestring, &us) != 0) {
		mismatch(obj, key, "an RFC 3339 UTC time with microseconds", file, line);
		return;
	}
	int64_t skew = us - th_wall_us();
	if (llabs(skew) > (int64_t)max_skew_s * 1000000) {
		char text[96];
		snprintf(text, sizeof(text), "a time within %d s of now (off by %.3f s)",
		         max_skew_s, (double)skew / 1e6);
		mismatch(obj, key, text, file, line);
	}
}

void
th_assert_member_text_at(const char *json, const char *key, const char *want, const char *file,
                         int line)
{
	char *got = th_json_member_text(json, key);
	char *got_min = got != NULL ? th_json_minify(got) : NULL;
	char *want_min = th_json_minify(want);
	bool same = got_min != NULL && want_min != NULL && strcmp(got_min, want_min) == 0;
	if (!same) {
		print_error("%s:%d: member \"%s\" is not verbatim\n  expected %s\n  got      %s\n"
		            "  payload  %s\n",
		            file, line, key, want_min != NULL ? want_min : "?",
		            got_min != NULL ? got_min : "(missing)", json);
	}
	free(got);
	free(got_min);
	free(want_min);
	if (!same) {
		_fail(file, line);
	}
}

struct th_msg *
th_wait_msg_at(struct th_mqtt *m, const char *pattern, int timeout_ms, const char *file, int line)
{
	struct th_msg *msg = th_mqtt_wait(m, pattern, timeout_ms);
	if (msg == NULL) {
		print_error("%s:%d: no message on %s within %d ms\n", file, line, pattern,
		            timeout_ms);
		_fail(file, line);
	}
	return msg;
}

cJSON *
th_parse_at(const char *text, const char *file, int line)
{
	cJSON *root = cJSON_Parse(text);
	if (root == NULL || !cJSON_IsObject(root)) {
		print_error("%s:%d: not a JSON object: %s\n", file, line, text);
		cJSON_Delete(root);
		_fail(file, line);
	}
	return root;
}

void
th_topic(char *out, size_t outlen, const char *mac, const char *leaf)
{
	snprintf(out, outlen, "lorawan/%s/%s", mac, leaf);
}
