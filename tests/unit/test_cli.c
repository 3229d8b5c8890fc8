/* The shared command line: actions, outputs and error texts. */
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
#include "lf/cli.h"

#define FIXTURE(name) LF_FIXTURES_DIR "/config/" name

static struct bridge_settings settings;
static struct lf_cfg_section sections[BRIDGE_CFG_SECTIONS];

struct run {
	enum lf_cli_action action;
	char out[32768];
	char err[4096];
};

static void
slurp(FILE *f, char *buf, size_t size)
{
	rewind(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs lf_cli_run() for the bridge with stdout and stderr captured. The
 * argument list ends with NULL. */
static void
run_cli(struct run *r, ...)
{
	char *argv[16] = {"lorafleet-bridge"};
	int argc = 1;
	va_list ap;
	va_start(ap, r);
	for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;) {
		argv[argc++] = a;
	}
	va_end(ap);

	if (sections[0].options != NULL) {
		lf_cfg_free(sections, BRIDGE_CFG_SECTIONS);
	}
	memset(&settings, 0, sizeof(settings));
	bridge_cfg_sections(&settings, sections);
	FILE *out = tmpfile(), *err = tmpfile();
	assert_non_null(out);
	assert_non_null(err);
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);
	r->action = lf_cli_run(argc, argv, "bridge", sections, BRIDGE_CFG_SECTIONS, &settings.log);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static bool
starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

static int
setup(void **state)
{
	unsetenv("LORAFLEET_CONFIG");
	unsetenv("LORAFLEET_MQTT_HOST");
	*state = calloc(1, sizeof(struct run));
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	if (sections[0].options != NULL) {
		lf_cfg_free(sections, BRIDGE_CFG_SECTIONS);
	}
	unsetenv("LORAFLEET_CONFIG");
	unsetenv("LORAFLEET_MQTT_HOST");
	free(*state);
	return 0;
}

static void
test_version(void **state)
{
	struct run *r = *state;
	run_cli(r, "--version", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_string_equal(r->out, "lorafleet-bridge " LF_VERSION "\n");
	assert_string_equal(r->err, "");
	run_cli(r, "-V", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_string_equal(r->out, "lorafleet-bridge " LF_VERSION "\n");
}

static void
test_help(void **state)
{
	struct run *r = *state;
	/* Help needs no configuration, not even a valid one. */
	setenv("LORAFLEET_CONFIG", FIXTURE("bad_range.ini"), 1);
	run_cli(r, "--help", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_string_equal(r->err, "");
	assert_true(starts_with(r->out, "Usage: lorafleet-bridge [-c FILE] [--check-config]\n"));
	assert_non_null(strstr(r->out, "  -c, --config FILE "));
	assert_non_null(strstr(r->out, "      --check-config "));
	assert_non_null(strstr(r->out, "\n[mqtt]\n  host (string, default \"127.0.0.1\")\n"
	                               "      broker host name or IP address\n"));
	assert_non_null(
	        strstr(r->out, "\n  level (enum: error|warn|info|debug, default \"info\")\n"));
	assert_non_null(strstr(r->out, "\n  password (string, default \"\")\n"));
	assert_non_null(strstr(r->out, "\n  udp_bind (host:port, default \"0.0.0.0:1680\")\n"));
	/* Every option of every section, each under its section. */
	const char *prev = r->out;
	for (size_t i = 0; i < BRIDGE_CFG_SECTIONS; i++) {
		char heading[64];
		snprintf(heading, sizeof(heading), "\n[%s]\n", sections[i].name);
		const char *sec = strstr(r->out, heading);
		assert_non_null(sec);
		assert_true(sec > prev);
		prev = sec;
		for (const struct lf_cfg_option *o = sections[i].options; o->name != NULL; o++) {
			char line[256];
			snprintf(line, sizeof(line), "\n  %s (%s", o->name,
			         lf_cli_type_name(o->type));
			const char *at = strstr(sec, line);
			if (at == NULL) {
				fail_msg("no help for [%s] %s", sections[i].name, o->name);
			}
			assert_non_null(strstr(at, o->help));
		}
	}
	run_cli(r, "-h", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_true(starts_with(r->out, "Usage: "));
}

static void
test_check_config(void **state)
{
	struct run *r = *state;
	run_cli(r, "--check-config", "-c", FIXTURE("valid.ini"), (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_string_equal(r->err, "");
	assert_true(starts_with(r->out, "[mqtt]\nhost = broker.example.net\nport = 8883\n"));
	assert_non_null(strstr(r->out, "\npassword = ********\n"));
	assert_null(strstr(r->out, "s3cret"));
	assert_non_null(strstr(r->out, "\n[bridge]\nudp_bind = [::]:1700\n"));

	/* Without -c, $LORAFLEET_CONFIG names the file. */
	setenv("LORAFLEET_CONFIG", FIXTURE("valid.ini"), 1);
	run_cli(r, "--check-config", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_non_null(strstr(r->out, "host = broker.example.net\n"));

	/* -c wins over $LORAFLEET_CONFIG, and the environment over both. */
	setenv("LORAFLEET_CONFIG", FIXTURE("bad_range.ini"), 1);
	setenv("LORAFLEET_MQTT_HOST", "env.example.net", 1);
	run_cli(r, "--config", FIXTURE("valid.ini"), "--check-config", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_non_null(strstr(r->out, "host = env.example.net\n"));
	unsetenv("LORAFLEET_MQTT_HOST");

	/* An empty $LORAFLEET_CONFIG means no file: the defaults. */
	setenv("LORAFLEET_CONFIG", "", 1);
	run_cli(r, "--check-config", (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_OK);
	assert_non_null(strstr(r->out, "host = 127.0.0.1\n"));
}

static void
test_config_errors(void **state)
{
	struct run *r = *state;
	run_cli(r, "-c", FIXTURE("bad_range.ini"), (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_ERROR);
	assert_string_equal(r->out, "");
	assert_string_equal(
	        r->err,
	        "lorafleet-bridge: " FIXTURE(
	                "bad_range.ini") ":12: gateway_timeout: must be between 1s and 1d\n");

	run_cli(r, "--check-config", "-c", FIXTURE("unknown_key.ini"), (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_ERROR);
	assert_string_equal(r->out, "");
	assert_string_equal(
	        r->err, "lorafleet-bridge: " FIXTURE("unknown_key.ini") ":3: hots: unknown key\n");

	setenv("LORAFLEET_CONFIG", "/nonexistent.ini", 1);
	run_cli(r, (char *)NULL);
	assert_int_equal(r->action, LF_CLI_EXIT_ERROR);
	assert_string_equal(r->err, "lorafleet-bridge: /nonexistent.ini: cannot open: No such "
	                            "file or directory\n");
}

static void
test_run(void **state)
{
	struct run *r = *state;
	run_cli(r, "-c", FIXTURE("valid.ini"), (char *)NULL);
	assert_int_equal(r->action, LF_CLI_RUN);
	assert_string_equal(r->out, "");
	assert_string_equal(r->err, "");
	assert_string_equal(settings.mqtt.host, "broker.example.net");
	/* The [log] section was applied. */
	assert_int_equal(lf_log_threshold, LF_LOG_DEBUG);

	run_cli(r, (char *)NULL);
	assert_int_equal(r->action, LF_CLI_RUN);
	assert_string_equal(settings.mqtt.host, "127.0.0.1");
	assert_int_equal(lf_log_threshold, LF_LOG_INFO);
}

static void
test_usage_errors(void **state)
{
	struct run *r = *state;
	static const struct {
		const char *args[3];
		const char *err;
	} cases[] = {
	        {{"--bogus"}, "unknown option --bogus (see --help)"},
	        {{"-x"}, "unknown option -x (see --help)"},
	        {{"-c"}, "option -c needs an argument (see --help)"},
	        {{"--config"}, "option --config needs an argument (see --help)"},
	        {{"--config="}, "option -c/--config needs a file name"},
	        {{"--help=yes"}, "option --help takes no argument (see --help)"},
	        {{"extra"}, "unexpected argument 'extra' (see --help)"},
	        {{"-c", FIXTURE("valid.ini"), "more"}, "unexpected argument 'more' (see --help)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char expected[256];
		run_cli(r, cases[i].args[0], cases[i].args[1], cases[i].args[2], (char *)NULL);
		snprintf(expected, sizeof(expected), "lorafleet-bridge: %s\n", cases[i].err);
		assert_int_equal(r->action, LF_CLI_EXIT_ERROR);
		assert_string_equal(r->err, expected);
		assert_string_equal(r->out, "");
	}
}

static void
test_type_names(void **state)
{
	assert_string_equal(lf_cli_type_name(LF_CFG_STRING), "string");
	assert_string_equal(lf_cli_type_name(LF_CFG_INT), "integer");
	assert_string_equal(lf_cli_type_name(LF_CFG_BOOL), "boolean");
	assert_string_equal(lf_cli_type_name(LF_CFG_DURATION), "duration");
	assert_string_equal(lf_cli_type_name(LF_CFG_ENUM), "enum");
	assert_string_equal(lf_cli_type_name(LF_CFG_HOSTPORT), "host:port");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_run, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
	        cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
