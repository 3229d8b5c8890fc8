/* Logging: line formats, escaping, truncation, thresholds, rate limiting. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cJSON.h>

#include "lf/log.h"

#define TS_LEN 24 /* "2026-11-21T10:00:00.123Z" */

/* stderr is redirected into a pipe while a test logs. */
struct capture {
	int saved;
	int fds[2];
	char text[65536];
};

static void
capture_start(struct capture *c)
{
	assert_int_equal(pipe(c->fds), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->fds[1], STDERR_FILENO) >= 0);
}

static const char *
capture_end(struct capture *c)
{
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->fds[1]);
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(c->text) - 1 &&
	       (n = read(c->fds[0], c->text + len, sizeof(c->text) - 1 - len)) > 0) {
		len += (size_t)n;
	}
	c->text[len] = '\0';
	close(c->fds[0]);
	return c->text;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static void
assert_timestamp(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (size_t i = 0; i < TS_LEN; i++) {
		if (shape[i] == 'd') {
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		} else {
			assert_int_equal(ts[i], shape[i]);
		}
	}
	/* It is the current UTC time, to the day (or the one before at midnight). */
	char today[16], yesterday[16];
	time_t now = time(NULL);
	time_t before = now - 60;
	struct tm tm;
	strftime(today, sizeof(today), "%Y-%m-%d", gmtime_r(&now, &tm));
	strftime(yesterday, sizeof(yesterday), "%Y-%m-%d", gmtime_r(&before, &tm));
	assert_true(strncmp(ts, today, 10) == 0 || strncmp(ts, yesterday, 10) == 0);
}

/* Checks one text line: a timestamp, then exactly `rest`. */
static const char *
assert_text_line(const char *line, const char *rest)
{
	assert_timestamp(line);
	assert_int_equal(line[TS_LEN], ' ');
	size_t len = strlen(rest);
	if (strncmp(line + TS_LEN + 1, rest, len) != 0) {
		fail_msg("expected \"%s\", got \"%.*s\"", rest, (int)strcspn(line, "\n"), line);
	}
	return line + TS_LEN + 1 + len;
}

static int calls;

static int
count_call(void)
{
	return ++calls;
}

static void
test_default_threshold(void **state)
{
	/* Before lf_log_setup(): INFO. */
	assert_int_equal(lf_log_threshold, LF_LOG_INFO);
}

static void
test_text_line(void **state)
{
	struct capture c;
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	capture_start(&c);
	LOG_INFO("hello %d", 42);
	const char *out = capture_end(&c);
	const char *end = assert_text_line(out, "INFO bridge: hello 42\n");
	assert_string_equal(end, "");
}

static void
test_levels(void **state)
{
	struct capture c;
	lf_log_setup(LF_LOG_WARN, LF_LOG_TEXT, "bridge");
	calls = 0;
	capture_start(&c);
	LOG_DEBUG("debug %d", count_call());
	LOG_INFO("info %d", count_call());
	LOG_WARN("warn");
	LOG_ERROR("error");
	lf_log_write(LF_LOG_INFO, "direct info");
	const char *out = capture_end(&c);
	/* Filtered lines do not even evaluate their arguments. */
	assert_int_equal(calls, 0);
	out = assert_text_line(out, "WARN bridge: warn\n");
	out = assert_text_line(out, "ERROR bridge: error\n");
	assert_string_equal(out, "");

	lf_log_setup(LF_LOG_DEBUG, LF_LOG_TEXT, "apigw");
	capture_start(&c);
	LOG_DEBUG("debug %d", count_call());
	out = capture_end(&c);
	assert_int_equal(calls, 1);
	assert_string_equal(assert_text_line(out, "DEBUG apigw: debug 1\n"), "");

	/* Out-of-range levels are clamped rather than trusted. */
	lf_log_setup((enum lf_log_level)99, LF_LOG_TEXT, "apigw");
	assert_int_equal(lf_log_threshold, LF_LOG_DEBUG);
	lf_log_setup((enum lf_log_level) - 3, LF_LOG_TEXT, "apigw");
	assert_int_equal(lf_log_threshold, LF_LOG_ERROR);
}

static void
test_text_escaping(void **state)
{
	struct capture c;
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	capture_start(&c);
	LOG_INFO("a\nb\tc\rd\x01"
	         "e\x7f caf\xc3\xa9");
	const char *out = capture_end(&c);
	const char *rest = "INFO bridge: a\\nb\\tc\\rd\\x01e\\x7f caf\xc3\xa9\n";
	assert_string_equal(assert_text_line(out, rest), "");
}

/* Parses the one JSON line in out and checks everything but the time. */
static cJSON *
parse_json_line(const char *out, const char *level, const char *service)
{
	size_t len = strlen(out);
	assert_true(len > 0);
	assert_int_equal(out[len - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	cJSON *time = cJSON_GetObjectItemCaseSensitive(j, "time");
	assert_true(cJSON_IsString(time));
	assert_int_equal(strlen(time->valuestring), TS_LEN);
	assert_timestamp(time->valuestring);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "level")->valuestring, level);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "service")->valuestring, service);
	return j;
}

static void
test_json_line(void **state)
{
	struct capture c;
	lf_log_setup(LF_LOG_DEBUG, LF_LOG_JSON, "bridge");
	capture_start(&c);
	LOG_WARN("gateway %s is %s", "0102030405060708", "offline");
	const char *out = capture_end(&c);
	/* The field order is fixed, so the raw line is checked too. */
	assert_true(strncmp(out, "{\"time\":\"", 9) == 0);
	assert_string_equal(out + 9 + TS_LEN, "\",\"level\":\"warn\",\"service\":\"bridge\","
	                                      "\"msg\":\"gateway 0102030405060708 is offline\"}\n");
	cJSON *j = parse_json_line(out, "warn", "bridge");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "msg")->valuestring,
	                    "gateway 0102030405060708 is offline");
	cJSON_Delete(j);

	static const char *const levels[] = {"error", "warn", "info", "debug"};
	for (int l = LF_LOG_ERROR; l <= LF_LOG_DEBUG; l++) {
		capture_start(&c);
		lf_log_write((enum lf_log_level)l, "x");
		j = parse_json_line(capture_end(&c), levels[l], "bridge");
		cJSON_Delete(j);
	}
}

static void
test_json_escaping(void **state)
{
	struct capture c;
	lf_log_setup(LF_LOG_INFO, LF_LOG_JSON, "bridge");
	capture_start(&c);
	LOG_INFO("q\"b\\n\nt\tc\x01"
	         "d\x1f"
	         "e caf\xc3\xa9 \xf0\x9f\x98\x80 bad\xff"
	         "over\xc0\xaf"
	         "sur\xed\xa0\x80"
	         "cut\xe2\x82");
	const char *out = capture_end(&c);
	const char *msg = strstr(out, "\"msg\":");
	assert_non_null(msg);
	assert_string_equal(msg, "\"msg\":\"q\\\"b\\\\n\\nt\\tc\\u0001d\\u001fe caf\xc3\xa9 "
	                         "\xf0\x9f\x98\x80 bad\\ufffdover\\ufffd\\ufffdsur\\ufffd\\ufffd"
	                         "\\ufffdcut\\ufffd\\ufffd\"}\n");
	cJSON *j = parse_json_line(out, "info", "bridge");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "msg")->valuestring,
	                    "q\"b\\n\nt\tc\x01"
	                    "d\x1f"
	                    "e caf\xc3\xa9 \xf0\x9f\x98\x80 "
	                    "bad\xef\xbf\xbd"
	                    "over\xef\xbf\xbd\xef\xbf\xbdsur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                    "cut\xef\xbf\xbd\xef\xbf\xbd");
	cJSON_Delete(j);
}

static void
test_truncation(void **state)
{
	struct capture c;
	static char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	capture_start(&c);
	LOG_INFO("%s", big);
	const char *out = capture_end(&c);
	const char *msg = assert_text_line(out, "INFO bridge: ");
	/* 2 KB with the "..." that marks the cut, then the newline. */
	assert_int_equal(strlen(msg), 2047 + 1);
	assert_int_equal(strspn(msg, "a"), 2044);
	assert_string_equal(msg + 2044, "...\n");

	/* A cut never splits a UTF-8 character. */
	static char accents[5001];
	for (size_t i = 0; i + 2 < sizeof(accents); i += 2) {
		memcpy(accents + i, "\xc3\xa9", 2);
	}
	lf_log_setup(LF_LOG_INFO, LF_LOG_JSON, "bridge");
	capture_start(&c);
	LOG_INFO("x%s", accents);
	out = capture_end(&c);
	assert_null(strstr(out, "\\ufffd"));
	cJSON *j = parse_json_line(out, "info", "bridge");
	const char *m = cJSON_GetObjectItemCaseSensitive(j, "msg")->valuestring;
	size_t len = strlen(m);
	assert_true(len <= 2047 && len >= 2040);
	assert_string_equal(m + len - 3, "...");
	cJSON_Delete(j);
}

static void *
log_lines(void *arg)
{
	for (int i = 0; i < 200; i++) {
		LOG_INFO("thread %ld line %03d %s", (long)(intptr_t)arg, i,
		         "padding padding padding padding padding padding padding padding");
	}
	return NULL;
}

static void
test_threads_do_not_interleave(void **state)
{
	char path[] = "/tmp/lf-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	pthread_t threads[4];
	for (intptr_t t = 0; t < 4; t++) {
		pthread_create(&threads[t], NULL, log_lines, (void *)t);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(threads[t], NULL);
	}
	dup2(saved, STDERR_FILENO);
	close(saved);

	FILE *f = fdopen(fd, "r");
	rewind(f);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		long t;
		int i;
		char pad[16];
		assert_timestamp(line);
		assert_int_equal(
		        sscanf(line + TS_LEN, " INFO bridge: thread %ld line %d %15s", &t, &i, pad),
		        3);
		assert_non_null(strstr(line, "padding padding\n"));
		n++;
	}
	assert_int_equal(n, 800);
	fclose(f);
	unlink(path);
}

static void
test_ratelimit(void **state)
{
	struct capture c;
	struct lf_ratelimit rl = LF_RATELIMIT_INIT(500, 3);
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	capture_start(&c);
	for (int i = 0; i < 10; i++) {
		LOG_RATELIMITED(&rl, LF_LOG_WARN, "bad datagram %d", i);
	}
	/* Below the threshold: neither written nor counted. */
	LOG_RATELIMITED(&rl, LF_LOG_DEBUG, "debug");
	const char *out = capture_end(&c);
	out = assert_text_line(out, "WARN bridge: bad datagram 0\n");
	out = assert_text_line(out, "WARN bridge: bad datagram 1\n");
	out = assert_text_line(out, "WARN bridge: bad datagram 2\n");
	assert_string_equal(out, "");
	assert_int_equal(rl.count, 3);
	assert_int_equal(rl.suppressed, 7);

	usleep(600 * 1000);
	capture_start(&c);
	LOG_RATELIMITED(&rl, LF_LOG_ERROR, "bad datagram %d", 10);
	out = capture_end(&c);
	out = assert_text_line(out, "WARN bridge: 7 similar messages suppressed\n");
	out = assert_text_line(out, "ERROR bridge: bad datagram 10\n");
	assert_string_equal(out, "");
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.count, 1);

	/* A window with nothing suppressed opens without a summary. */
	usleep(600 * 1000);
	capture_start(&c);
	LOG_RATELIMITED(&rl, LF_LOG_WARN, "again");
	out = capture_end(&c);
	assert_string_equal(assert_text_line(out, "WARN bridge: again\n"), "");
}

static void
test_ratelimit_allow(void **state)
{
	struct capture c;
	struct lf_ratelimit rl = LF_RATELIMIT_INIT(60000, 2);
	lf_log_setup(LF_LOG_INFO, LF_LOG_TEXT, "bridge");
	capture_start(&c);
	assert_true(lf_ratelimit_allow(&rl));
	assert_true(lf_ratelimit_allow(&rl));
	for (int i = 0; i < 1000; i++) {
		assert_false(lf_ratelimit_allow(&rl));
	}
	assert_int_equal(rl.suppressed, 1000);
	/* Pretend the window is over. */
	rl.window_start -= 60000;
	assert_true(lf_ratelimit_allow(&rl));
	const char *out = capture_end(&c);
	out = assert_text_line(out, "WARN bridge: 1000 similar messages suppressed\n");
	assert_string_equal(out, "");
	assert_int_equal(rl.suppressed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_default_threshold),
	        cmocka_unit_test(test_text_line),
	        cmocka_unit_test(test_levels),
	        cmocka_unit_test(test_text_escaping),
	        cmocka_unit_test(test_json_line),
	        cmocka_unit_test(test_json_escaping),
	        cmocka_unit_test(test_truncation),
	        cmocka_unit_test(test_threads_do_not_interleave),
	        cmocka_unit_test(test_ratelimit),
	        cmocka_unit_test(test_ratelimit_allow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
