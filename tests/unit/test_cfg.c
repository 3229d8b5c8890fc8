/* The config loader: value types, error texts, files, environment, print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridge.h"
#include "lf/cfg.h"
#include "lf/log.h"
#include "lf/mqtt.h"

#define FIXTURE(name) LF_FIXTURES_DIR "/config/" name

/* A section with one option of every type, independent of the daemons. */
struct test_config {
	char *name;
	int64_t count;
	bool flag;
	int64_t timeout;
	int mode;
	char *bind;
	char *secret;
	int64_t pin;
	char *checked;
};

static const char *const modes[] = {"fast", "slow", NULL};

static int
check_no_x(const void *field, char *err, size_t errlen)
{
	if (strchr(*(const char *const *)field, 'x') != NULL) {
		snprintf(err, errlen, "must not contain an x");
		return -1;
	}
	return 0;
}

#define T(field) offsetof(struct test_config, field)

static const struct lf_cfg_option test_options[] = {
        {.name = "name",
         .type = LF_CFG_STRING,
         .offset = T(name),
         .default_value = "abc",
         .help = "a string"},
        {.name = "count",
         .type = LF_CFG_INT,
         .offset = T(count),
         .default_value = "10",
         .min = 1,
         .max = 100,
         .help = "an integer"},
        {.name = "flag",
         .type = LF_CFG_BOOL,
         .offset = T(flag),
         .default_value = "false",
         .help = "a boolean"},
        {.name = "timeout",
         .type = LF_CFG_DURATION,
         .offset = T(timeout),
         .default_value = "30s",
         .min = 500,
         .max = 86400000,
         .help = "a duration"},
        {.name = "mode",
         .type = LF_CFG_ENUM,
         .offset = T(mode),
         .default_value = "fast",
         .choices = modes,
         .help = "an enum"},
        {.name = "bind",
         .type = LF_CFG_HOSTPORT,
         .offset = T(bind),
         .default_value = ":1680",
         .min = 1,
         .max = 65535,
         .help = "a host:port"},
        {.name = "secret",
         .type = LF_CFG_STRING,
         .offset = T(secret),
         .flags = LF_CFG_SECRET,
         .help = "a secret string"},
        {.name = "pin",
         .type = LF_CFG_INT,
         .offset = T(pin),
         .default_value = "0",
         .min = 0,
         .max = 9999,
         .flags = LF_CFG_SECRET,
         .help = "a secret integer"},
        {.name = "checked",
         .type = LF_CFG_STRING,
         .offset = T(checked),
         .check = check_no_x,
         .help = "a string with a check"},
        {.name = NULL},
};

static struct test_config tc;
static const struct lf_cfg_section test_section = {"test", test_options, &tc};

/* No LORAFLEET_* variable from the calling environment may leak in. */
static void
clear_lorafleet_env(void)
{
	for (;;) {
		char **env = environ;
		while (*env != NULL && strncmp(*env, "LORAFLEET_", 10) != 0) {
			env++;
		}
		if (*env == NULL) {
			return;
		}
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*env, "="), *env);
		unsetenv(name);
	}
}

static int
setup_test(void **state)
{
	clear_lorafleet_env();
	memset(&tc, 0, sizeof(tc));
	char err[256];
	assert_int_equal(lf_cfg_load(&test_section, 1, NULL, err, sizeof(err)), 0);
	return 0;
}

static int
teardown_test(void **state)
{
	lf_cfg_free(&test_section, 1);
	clear_lorafleet_env();
	return 0;
}

/* Sets key and expects failure with exactly `expected`. */
static void
expect_set_error(const char *key, const char *value, const char *expected)
{
	char err[256] = "";
	assert_int_equal(lf_cfg_set(&test_section, key, value, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
}

static void
expect_set_ok(const char *key, const char *value)
{
	char err[256] = "";
	if (lf_cfg_set(&test_section, key, value, err, sizeof(err)) != 0) {
		fail_msg("%s = %s: %s", key, value, err);
	}
}

static void
test_defaults(void **state)
{
	assert_string_equal(tc.name, "abc");
	assert_int_equal(tc.count, 10);
	assert_false(tc.flag);
	assert_int_equal(tc.timeout, 30000);
	assert_int_equal(tc.mode, 0);
	assert_string_equal(tc.bind, ":1680");
	/* Unset strings are "", never NULL. */
	assert_non_null(tc.secret);
	assert_string_equal(tc.secret, "");
	assert_string_equal(tc.checked, "");
}

static void
test_string(void **state)
{
	expect_set_ok("name", "hello world");
	assert_string_equal(tc.name, "hello world");
	expect_set_ok("name", "");
	assert_string_equal(tc.name, "");
	expect_set_error("name", "a\tb", "name: must not contain control characters");
	expect_set_error("name", "a\nb", "name: must not contain control characters");
	expect_set_error("nope", "1", "nope: unknown key");
}

static void
test_int(void **state)
{
	expect_set_ok("count", "42");
	assert_int_equal(tc.count, 42);
	expect_set_ok("count", "1");
	expect_set_ok("count", "100");
	assert_int_equal(tc.count, 100);
	expect_set_error("count", "0", "count: must be between 1 and 100");
	expect_set_error("count", "101", "count: must be between 1 and 100");
	expect_set_error("count", "-5", "count: must be between 1 and 100");
	expect_set_error("count", "99999999999999999999", "count: must be between 1 and 100");
	expect_set_error("count", "abc", "count: expected an integer, got \"abc\"");
	expect_set_error("count", "12x", "count: expected an integer, got \"12x\"");
	expect_set_error("count", "+5", "count: expected an integer, got \"+5\"");
	expect_set_error("count", "0x10", "count: expected an integer, got \"0x10\"");
	expect_set_error("count", "1.0", "count: expected an integer, got \"1.0\"");
	expect_set_error("count", "-", "count: expected an integer, got \"-\"");
	expect_set_error("count", "", "count: expected an integer, got \"\"");
	/* A failed set leaves the previous value. */
	assert_int_equal(tc.count, 100);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
	static const char *const no[] = {"false", "False", "no", "NO", "off", "Off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		tc.flag = false;
		expect_set_ok("flag", yes[i]);
		assert_true(tc.flag);
		expect_set_ok("flag", no[i]);
		assert_false(tc.flag);
	}
	expect_set_error("flag", "2",
	                 "flag: expected true/false, yes/no, on/off or 1/0, got \"2\"");
	expect_set_error("flag", "y",
	                 "flag: expected true/false, yes/no, on/off or 1/0, got \"y\"");
	expect_set_error("flag", "", "flag: expected true/false, yes/no, on/off or 1/0, got \"\"");
}

static void
test_duration(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} good[] = {
	        {"30", 30000},  {"30s", 30000},  {"1.5s", 1500},     {"500ms", 500},
	        {"5m", 300000}, {"1h", 3600000}, {"1d", 86400000},   {"0.6s", 600},
	        {"1.5", 1500},  {"0.5m", 30000}, {"1.25h", 4500000}, {"001s", 1000},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		expect_set_ok("timeout", good[i].text);
		assert_int_equal(tc.timeout, good[i].ms);
	}
	expect_set_error("timeout", "2d", "timeout: must be between 500ms and 1d");
	expect_set_error("timeout", "499ms", "timeout: must be between 500ms and 1d");
	expect_set_error("timeout", "0", "timeout: must be between 500ms and 1d");
	expect_set_error("timeout", "99999999999999999999h",
	                 "timeout: must be between 500ms and 1d");
	expect_set_error("timeout", "1.5ms", "timeout: must be a whole number of milliseconds");
	static const char *const bad[] = {"30 s", "s", "1.s", ".5s", "-1s", "1x", "", "1S", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char expected[128];
		snprintf(expected, sizeof(expected),
		         "timeout: expected a duration such as 30s, 500ms, 5m or 1h, got \"%s\"",
		         bad[i]);
		expect_set_error("timeout", bad[i], expected);
	}
	assert_int_equal(tc.timeout, 1000);
}

static void
test_enum(void **state)
{
	expect_set_ok("mode", "slow");
	assert_int_equal(tc.mode, 1);
	expect_set_ok("mode", "FAST");
	assert_int_equal(tc.mode, 0);
	expect_set_ok("mode", "Slow");
	assert_int_equal(tc.mode, 1);
	expect_set_error("mode", "medium", "mode: expected one of fast, slow, got \"medium\"");
	expect_set_error("mode", "", "mode: expected one of fast, slow, got \"\"");
}

static void
test_hostport(void **state)
{
	static const char *const good[] = {
	        "0.0.0.0:1680",         "[::1]:80",        ":53", "[::]:1700",
	        "gw.example.net:65535", "[fe80::1%eth0]:1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		expect_set_ok("bind", good[i]);
		assert_string_equal(tc.bind, good[i]);
	}
	static const char *const bad[] = {"1680",  "a:b:1",  "[::1]80",      "[]:80",
	                                  "host:", "host:x", "h:123456",     "ho st:1",
	                                  "[::1]", "::1:80", "[1.2.3.4]:80", "h:-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char expected[128];
		snprintf(expected, sizeof(expected),
		         "bind: expected host:port, [v6]:port or :port, got \"%s\"", bad[i]);
		expect_set_error("bind", bad[i], expected);
	}
	expect_set_error("bind", ":0", "bind: port must be between 1 and 65535");
	expect_set_error("bind", "h:70000", "bind: port must be between 1 and 65535");
}

static void
test_split_hostport(void **state)
{
	char host[64];
	uint16_t port = 0;
	assert_int_equal(lf_cfg_split_hostport("10.0.0.1:1700", host, sizeof(host), &port), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 1700);
	assert_int_equal(lf_cfg_split_hostport("[::1]:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	assert_int_equal(lf_cfg_split_hostport(":0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "");
	assert_int_equal(port, 0);
	assert_int_equal(lf_cfg_split_hostport("h:65535", host, sizeof(host), &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(lf_cfg_split_hostport("h:65536", host, sizeof(host), &port), -1);
	assert_int_equal(lf_cfg_split_hostport("host", host, sizeof(host), &port), -1);
	assert_int_equal(lf_cfg_split_hostport("", host, sizeof(host), &port), -1);
	assert_int_equal(lf_cfg_split_hostport(NULL, host, sizeof(host), &port), -1);
	/* The host must fit with its NUL. */
	assert_int_equal(lf_cfg_split_hostport("abcd:1", host, 4, &port), -1);
	assert_int_equal(lf_cfg_split_hostport("abc:1", host, 4, &port), 0);
	assert_string_equal(host, "abc");
}

static void
test_secret_and_check(void **state)
{
	/* A secret's value never appears in an error. */
	expect_set_error("pin", "12ab", "pin: expected an integer");
	expect_set_error("pin", "10000", "pin: must be between 0 and 9999");
	expect_set_ok("checked", "abc");
	expect_set_error("checked", "axb", "checked: must not contain an x");
	/* The check runs before the value is stored. */
	assert_string_equal(tc.checked, "abc");
}

static void
test_print(void **state)
{
	expect_set_ok("secret", "hunter2");
	expect_set_ok("timeout", "90s");
	expect_set_ok("mode", "SLOW");
	expect_set_ok("flag", "on");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	lf_cfg_print(&test_section, 1, out);
	fclose(out);
	assert_string_equal(text, "[test]\n"
	                          "name = abc\n"
	                          "count = 10\n"
	                          "flag = true\n"
	                          "timeout = 90s\n"
	                          "mode = slow\n"
	                          "bind = :1680\n"
	                          "secret = ********\n"
	                          "pin = 0\n"
	                          "checked =\n");
	free(text);
}

static void
test_print_durations(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"500ms", "500ms"}, {"1.5s", "1500ms"}, {"60s", "1m"}, {"0.5h", "30m"},
	        {"24h", "1d"},      {"90m", "90m"},     {"2h", "2h"},  {"3600", "1h"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_set_ok("timeout", cases[i].in);
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		lf_cfg_print(&test_section, 1, out);
		fclose(out);
		char expected[64];
		snprintf(expected, sizeof(expected), "\ntimeout = %s\n", cases[i].out);
		if (strstr(text, expected) == NULL) {
			fail_msg("%s printed as:\n%s", cases[i].in, text);
		}
		free(text);
	}
}

static void
test_bad_default(void **state)
{
	static const struct lf_cfg_option bad[] = {
	        {.name = "n",
	         .type = LF_CFG_INT,
	         .offset = 0,
	         .default_value = "0",
	         .min = 1,
	         .max = 5},
	        {.name = NULL},
	};
	int64_t n = 0;
	struct lf_cfg_section sec = {"test", bad, &n};
	char err[256];
	assert_int_equal(lf_cfg_load(&sec, 1, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "default of [test] n: must be between 1 and 5");
	lf_cfg_free(&sec, 1);
}

/* The bridge's real sections, for the file and environment tests. */
static struct bridge_settings settings;
static struct lf_cfg_section bridge_sections[BRIDGE_CFG_SECTIONS];

static int
setup_bridge(void **state)
{
	clear_lorafleet_env();
	memset(&settings, 0, sizeof(settings));
	bridge_cfg_sections(&settings, bridge_sections);
	return 0;
}

static int
teardown_bridge(void **state)
{
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);
	assert_null(settings.mqtt.host);
	assert_null(settings.bridge.udp_bind);
	clear_lorafleet_env();
	return 0;
}

static int
load_bridge(const char *path, char *err, size_t errlen)
{
	return lf_cfg_load(bridge_sections, BRIDGE_CFG_SECTIONS, path, err, errlen);
}

static void
test_bridge_defaults(void **state)
{
	char err[256] = "";
	assert_int_equal(load_bridge(NULL, err, sizeof(err)), 0);
	assert_string_equal(settings.mqtt.host, "127.0.0.1");
	assert_int_equal(settings.mqtt.port, 1883);
	assert_string_equal(settings.mqtt.password, "");
	assert_string_equal(settings.mqtt.topic_prefix, "lorawan");
	assert_int_equal(settings.mqtt.qos, 1);
	assert_int_equal(settings.mqtt.keepalive, 30000);
	assert_int_equal(settings.mqtt.reconnect_max, 10000);
	assert_int_equal(settings.log.level, LF_LOG_INFO);
	assert_int_equal(settings.log.format, LF_LOG_TEXT);
	assert_string_equal(settings.bridge.udp_bind, "0.0.0.0:1680");
	assert_string_equal(settings.bridge.instance, "");
	assert_int_equal(settings.bridge.gateway_timeout, 60000);
	assert_false(settings.bridge.forward_crc_bad);
	assert_int_equal(settings.bridge.buffer_max, 100000);
	assert_int_equal(settings.bridge.tx_ack_timeout, 5000);
	assert_int_equal(settings.bridge.metrics_interval, 10000);
	assert_int_equal(settings.bridge.udp_rcvbuf, 4194304);
}

static void
test_file_valid(void **state)
{
	char err[256] = "";
	if (load_bridge(FIXTURE("valid.ini"), err, sizeof(err)) != 0) {
		fail_msg("%s", err);
	}
	assert_string_equal(settings.mqtt.host, "broker.example.net");
	assert_int_equal(settings.mqtt.port, 8883);
	assert_string_equal(settings.mqtt.username, "gw");
	assert_string_equal(settings.mqtt.password, "s3cret");
	assert_string_equal(settings.mqtt.topic_prefix, "lorawan/eu");
	assert_int_equal(settings.mqtt.keepalive, 60000);
	assert_int_equal(settings.log.level, LF_LOG_DEBUG);
	assert_int_equal(settings.log.format, LF_LOG_JSON);
	assert_string_equal(settings.bridge.udp_bind, "[::]:1700");
	assert_int_equal(settings.bridge.gateway_timeout, 90000);
	assert_true(settings.bridge.forward_crc_bad);
	assert_int_equal(settings.bridge.buffer_max, 5000);
	/* Untouched keys keep their defaults. */
	assert_int_equal(settings.bridge.tx_ack_timeout, 5000);
}

static void
test_file_errors(void **state)
{
	static const struct {
		const char *file;
		const char *error; /* after "<path>:" */
	} cases[] = {
	        {"bad_range.ini", "12: gateway_timeout: must be between 1s and 1d"},
	        {"unknown_key.ini", "3: hots: unknown key"},
	        {"duplicate_key.ini", "9: port: duplicate key (first set on line 3)"},
	        {"no_section.ini", "2: host: key before any [section]"},
	        {"unknown_section.ini", "4: unknown section [mqqt]"},
	        {"syntax_error.ini",
	         "3: syntax error: expected [section], key = value or a comment"},
	        {"section_junk.ini", "3: unexpected text after the section name"},
	        {"bad_bool.ini",
	         "2: pin_address: expected true/false, yes/no, on/off or 1/0, got \"maybe\""},
	        {"bad_enum.ini",
	         "3: level: expected one of error, warn, info, debug, got \"verbose\""},
	        {"bad_topic.ini", "2: topic_prefix: must not contain the wildcards '+' or '#'"},
	        {"bad_port.ini", "2: udp_bind: port must be between 0 and 65535"},
	        {"bad_int.ini", "2: qos: expected an integer, got \"one\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512], expected[768], err[512] = "";
		snprintf(path, sizeof(path), "%s/config/%s", LF_FIXTURES_DIR, cases[i].file);
		snprintf(expected, sizeof(expected), "%s:%s", path, cases[i].error);
		assert_int_equal(load_bridge(path, err, sizeof(err)), -1);
		assert_string_equal(err, expected);
		lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);
	}
}

/* Writes data to a new temporary file; returns its path in path. */
static void
write_temp(char path[64], const char *data, size_t len)
{
	snprintf(path, 64, "/tmp/lf-test-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
expect_temp_error(const char *data, size_t len, const char *error)
{
	char path[64], expected[256], err[256] = "";
	write_temp(path, data, len);
	snprintf(expected, sizeof(expected), "%s:%s", path, error);
	assert_int_equal(load_bridge(path, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	unlink(path);
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);
}

static void
test_file_hostile(void **state)
{
	static const char nul[] = "[mqtt]\nhost = a\0b\n";
	expect_temp_error(nul, sizeof(nul) - 1, "2: line contains a NUL byte");

	char longline[400];
	int n = snprintf(longline, sizeof(longline), "[mqtt]\n; fine\nusername = %0300d\n", 7);
	expect_temp_error(longline, (size_t)n, "3: line too long (at most 199 characters)");

	/* Files edited on Windows: a BOM and CRLF line ends. */
	static const char crlf[] = "\xef\xbb\xbf[mqtt]\r\nhost = h\r\nport = x\r\n";
	expect_temp_error(crlf, sizeof(crlf) - 1, "3: port: expected an integer, got \"x\"");

	static const char ctrl[] = "[mqtt]\nhost = a\x1b[2Jb\n";
	expect_temp_error(ctrl, sizeof(ctrl) - 1, "2: host: must not contain control characters");

	static const char weird_key[] = "[mqtt]\nh\x1bst = 1\n";
	expect_temp_error(weird_key, sizeof(weird_key) - 1, "2: h?st: unknown key");

	/* libinih reads on after a syntax error; the first error is reported. */
	static const char two[] = "[mqtt]\nno equals sign\nhots = 1\n";
	expect_temp_error(two, sizeof(two) - 1,
	                  "2: syntax error: expected [section], key = value or a comment");
	static const char two_rev[] = "[mqtt]\nhots = 1\nno equals sign\n";
	expect_temp_error(two_rev, sizeof(two_rev) - 1, "2: hots: unknown key");

	/* Found by fuzz/fuzz_config.c: libinih reads "=;x" as the value ";x",
	 * which --check-config printed as "= ;x", an empty value on reload. */
	static const char semicolon[] = "[mqtt]\ntopic_prefix =; lorawan/eu\n";
	expect_temp_error(semicolon, sizeof(semicolon) - 1,
	                  "2: topic_prefix: a value cannot begin with ';' (a comment needs a blank "
	                  "before it)");

	char err[256];
	assert_int_equal(load_bridge("/nonexistent/lorafleet.ini", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/lorafleet.ini: cannot open: No such file or "
	                         "directory");
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);
	assert_int_equal(load_bridge(LF_FIXTURES_DIR, err, sizeof(err)), -1);
	assert_string_equal(err, LF_FIXTURES_DIR ": cannot read: Is a directory");
}

static void
test_env_override(void **state)
{
	char err[256] = "";
	setenv("LORAFLEET_BRIDGE_BUFFER_MAX", "200", 1);
	setenv("LORAFLEET_MQTT_PASSWORD", "from-env", 1);
	setenv("LORAFLEET_LOG_LEVEL", "warn", 1);
	/* Other daemons' variables and LORAFLEET_CONFIG are none of ours. */
	setenv("LORAFLEET_ROUTERLINK_WHATEVER", "x", 1);
	setenv("LORAFLEET_CONFIG", "/elsewhere.ini", 1);
	if (load_bridge(FIXTURE("valid.ini"), err, sizeof(err)) != 0) {
		fail_msg("%s", err);
	}
	/* The environment beats the file, the file beats the defaults. */
	assert_int_equal(settings.bridge.buffer_max, 200);
	assert_string_equal(settings.mqtt.password, "from-env");
	assert_int_equal(settings.log.level, LF_LOG_WARN);
	assert_int_equal(settings.log.format, LF_LOG_JSON);
	assert_int_equal(settings.bridge.gateway_timeout, 90000);
}

static void
test_env_errors(void **state)
{
	char err[256] = "";
	setenv("LORAFLEET_BRIDGE_GATEWAY_TIMEOUT", "2d", 1);
	assert_int_equal(load_bridge(NULL, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "LORAFLEET_BRIDGE_GATEWAY_TIMEOUT: gateway_timeout: must be between 1s "
	                    "and 1d");
	unsetenv("LORAFLEET_BRIDGE_GATEWAY_TIMEOUT");
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);

	setenv("LORAFLEET_MQTT_HOTS", "127.0.0.1", 1);
	assert_int_equal(load_bridge(NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "LORAFLEET_MQTT_HOTS: hots: unknown key");
	unsetenv("LORAFLEET_MQTT_HOTS");
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);

	setenv("LORAFLEET_MQTT_QOS", "3", 1);
	assert_int_equal(load_bridge(NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "LORAFLEET_MQTT_QOS: qos: must be between 0 and 2");
	unsetenv("LORAFLEET_MQTT_QOS");
	lf_cfg_free(bridge_sections, BRIDGE_CFG_SECTIONS);

	/* An environment error is reported even when the file is fine. */
	setenv("LORAFLEET_LOG_FORMAT", "xml", 1);
	assert_int_equal(load_bridge(FIXTURE("valid.ini"), err, sizeof(err)), -1);
	assert_string_equal(err, "LORAFLEET_LOG_FORMAT: format: expected one of text, json, "
	                         "got \"xml\"");
}

static void
test_bridge_print(void **state)
{
	char err[256] = "";
	assert_int_equal(load_bridge(FIXTURE("valid.ini"), err, sizeof(err)), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	lf_cfg_print(bridge_sections, BRIDGE_CFG_SECTIONS, out);
	fclose(out);
	assert_string_equal(text, "[mqtt]\n"
	                          "host = broker.example.net\n"
	                          "port = 8883\n"
	                          "username = gw\n"
	                          "password = ********\n"
	                          "client_id =\n"
	                          "tls_ca =\n"
	                          "tls_cert =\n"
	                          "tls_key =\n"
	                          "topic_prefix = lorawan/eu\n"
	                          "qos = 1\n"
	                          "keepalive = 1m\n"
	                          "reconnect_max = 10s\n"
	                          "\n"
	                          "[log]\n"
	                          "level = debug\n"
	                          "format = json\n"
	                          "\n"
	                          "[bridge]\n"
	                          "udp_bind = [::]:1700\n"
	                          "instance =\n"
	                          "gateway_timeout = 90s\n"
	                          "forward_crc_bad = true\n"
	                          "buffer_max = 5000\n"
	                          "tx_ack_timeout = 5s\n"
	                          "pin_address = false\n"
	                          "metrics_interval = 10s\n"
	                          "udp_rcvbuf = 4194304\n"
	                          "max_gateways = 100000\n");

	/* What --check-config prints loads back to the same settings. */
	char path[64];
	write_temp(path, text, len);
	free(text);
	struct bridge_settings first = settings;
	memset(&settings, 0, sizeof(settings));
	assert_int_equal(load_bridge(path, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(settings.mqtt.host, first.mqtt.host);
	assert_string_equal(settings.bridge.udp_bind, first.bridge.udp_bind);
	assert_int_equal(settings.bridge.gateway_timeout, first.bridge.gateway_timeout);
	assert_int_equal(settings.mqtt.keepalive, first.mqtt.keepalive);
	assert_int_equal(settings.log.format, first.log.format);
	struct lf_cfg_section first_sections[BRIDGE_CFG_SECTIONS];
	bridge_cfg_sections(&first, first_sections);
	lf_cfg_free(first_sections, BRIDGE_CFG_SECTIONS);
}

static void
test_known_sections(void **state)
{
	static const char *const expected[] = {"mqtt", "log", "bridge", "routerlink", "apigw"};
	size_t n = 0;
	while (lf_cfg_known_sections[n] != NULL) {
		assert_true(n < sizeof(expected) / sizeof(expected[0]));
		assert_string_equal(lf_cfg_known_sections[n], expected[n]);
		n++;
	}
	assert_int_equal(n, sizeof(expected) / sizeof(expected[0]));
}

static void
test_topic_prefix_check(void **state)
{
	static const struct {
		const char *value, *error;
	} cases[] = {
	        {"", "topic_prefix: must not be empty"},
	        {"a/#", "topic_prefix: must not contain the wildcards '+' or '#'"},
	        {"/lorawan", "topic_prefix: must not begin or end with '/'"},
	        {"lorawan/", "topic_prefix: must not begin or end with '/'"},
	        {"a//b", "topic_prefix: must not contain an empty level (\"//\")"},
	};
	char err[256];
	assert_int_equal(load_bridge(NULL, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(lf_cfg_set(&bridge_sections[0], "topic_prefix", cases[i].value,
		                            err, sizeof(err)),
		                 -1);
		assert_string_equal(err, cases[i].error);
	}
	assert_int_equal(
	        lf_cfg_set(&bridge_sections[0], "topic_prefix", "eu868/net-1", err, sizeof(err)),
	        0);
	assert_string_equal(settings.mqtt.topic_prefix, "eu868/net-1");
	assert_int_equal(lf_cfg_set(&bridge_sections[0], "keepalive", "7.5s", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "keepalive: must be a whole number of seconds");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_defaults, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_string, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_int, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_bool, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_duration, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_enum, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_hostport, setup_test, teardown_test),
	        cmocka_unit_test(test_split_hostport),
	        cmocka_unit_test_setup_teardown(test_secret_and_check, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_print, setup_test, teardown_test),
	        cmocka_unit_test_setup_teardown(test_print_durations, setup_test, teardown_test),
	        cmocka_unit_test(test_bad_default),
	        cmocka_unit_test_setup_teardown(test_bridge_defaults, setup_bridge,
	                                        teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_file_valid, setup_bridge, teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_file_errors, setup_bridge, teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_file_hostile, setup_bridge, teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_env_override, setup_bridge, teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_env_errors, setup_bridge, teardown_bridge),
	        cmocka_unit_test_setup_teardown(test_bridge_print, setup_bridge, teardown_bridge),
	        cmocka_unit_test(test_known_sections),
	        cmocka_unit_test_setup_teardown(test_topic_prefix_check, setup_bridge,
	                                        teardown_bridge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
