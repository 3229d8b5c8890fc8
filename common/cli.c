#include "lf/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <sodium.h>

#ifndef LF_VERSION
#define LF_VERSION "unknown"
#endif

#define ERR_MAX 1024

/* Long options without a short form get values outside the char range. */
enum {
	OPT_CHECK_CONFIG = 256,
};

struct cli_args {
	const char *config;
	bool check_config;
	bool help;
	bool version;
};

const char *
lf_cli_type_name(enum lf_cfg_type type)
{
	switch (type) {
	case LF_CFG_STRING:
		return "string";
	case LF_CFG_INT:
		return "integer";
	case LF_CFG_BOOL:
		return "boolean";
	case LF_CFG_DURATION:
		return "duration";
	case LF_CFG_ENUM:
		return "enum";
	case LF_CFG_HOSTPORT:
		return "host:port";
	}
	return "unknown";
}

static void __attribute__((format(printf, 2, 3)))
cli_error(const char *service, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "lorafleet-%s: %s\n", service, msg);
}

static void
print_option_help(const struct lf_cfg_option *opt)
{
	printf("  %s (%s", opt->name, lf_cli_type_name(opt->type));
	if (opt->type == LF_CFG_ENUM && opt->choices != NULL) {
		for (int i = 0; opt->choices[i] != NULL; i++) {
			printf("%s%s", i == 0 ? ": " : "|", opt->choices[i]);
		}
	}
	printf(", default \"%s\")\n", opt->default_value != NULL ? opt->default_value : "");
	printf("      %s\n", opt->help != NULL ? opt->help : "");
}

static void
print_help(const char *service, const struct lf_cfg_section *sections, size_t n_sections)
{
	printf("Usage: lorafleet-%s [-c FILE] [--check-config]\n"
	       "       lorafleet-%s --help | --version\n"
	       "\n"
	       "  -c, --config FILE   configuration file (default: $LORAFLEET_CONFIG, else none)\n"
	       "      --check-config  check the configuration, print it and exit\n"
	       "  -h, --help          print this help and exit\n"
	       "  -V, --version       print the version and exit\n"
	       "\n"
	       "Every key can also be set in the environment as LORAFLEET_<SECTION>_<KEY>,\n"
	       "which overrides the file. Durations: 500ms, 30s, 1.5s, 5m, 1h, 1d (plain\n"
	       "number: seconds). Exit status 2 on a configuration or usage error.\n",
	       service, service);
	for (size_t i = 0; i < n_sections; i++) {
		printf("\n[%s]\n", sections[i].name);
		for (const struct lf_cfg_option *o = sections[i].options; o->name != NULL; o++) {
			print_option_help(o);
		}
	}
}

/* The option as the user typed it, without any "=value", for errors. */
static const char *
describe_option(int argc, char **argv, char *out, size_t outlen)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
	if (arg != NULL && strncmp(arg, "--", 2) == 0) {
		snprintf(out, outlen, "%.*s", (int)strcspn(arg, "="), arg);
		return strchr(arg, '=') != NULL ? " takes no argument" : NULL;
	}
	snprintf(out, outlen, "-%c", optopt > 0 && optopt < 128 ? optopt : '?');
	return NULL;
}

static int
parse_args(int argc, char **argv, const char *service, struct cli_args *args)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	char name[64];
	const char *why;
	int c;

	/* getopt keeps its state in libc globals: 0 makes glibc start over,
	 * so that the function can run more than once (tests). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (optarg[0] == '\0') {
				cli_error(service, "option -c/--config needs a file name");
				return -1;
			}
			args->config = optarg;
			break;
		case OPT_CHECK_CONFIG:
			args->check_config = true;
			break;
		case 'h':
			args->help = true;
			break;
		case 'V':
			args->version = true;
			break;
		case ':':
			describe_option(argc, argv, name, sizeof(name));
			cli_error(service, "option %s needs an argument (see --help)", name);
			return -1;
		default:
			why = describe_option(argc, argv, name, sizeof(name));
			if (why != NULL) {
				cli_error(service, "option %s%s (see --help)", name, why);
			} else {
				cli_error(service, "unknown option %s (see --help)", name);
			}
			return -1;
		}
	}
	if (optind < argc) {
		cli_error(service, "unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	return 0;
}

enum lf_cli_action
lf_cli_run(int argc, char **argv, const char *service, const struct lf_cfg_section *sections,
           size_t n_sections, const struct lf_log_config *log)
{
	struct cli_args args = {0};
	char err[ERR_MAX];

	if (parse_args(argc, argv, service, &args) != 0) {
		return LF_CLI_EXIT_ERROR;
	}
	if (args.help) {
		print_help(service, sections, n_sections);
		fflush(stdout);
		return LF_CLI_EXIT_OK;
	}
	if (args.version) {
		printf("lorafleet-%s %s\n", service, LF_VERSION);
		fflush(stdout);
		return LF_CLI_EXIT_OK;
	}
	const char *path = args.config;
	if (path == NULL) {
		path = getenv("LORAFLEET_CONFIG");
		if (path != NULL && path[0] == '\0') {
			path = NULL;
		}
	}
	if (lf_cfg_load(sections, n_sections, path, err, sizeof(err)) != 0) {
		cli_error(service, "%s", err);
		return LF_CLI_EXIT_ERROR;
	}
	if (args.check_config) {
		lf_cfg_print(sections, n_sections, stdout);
		fflush(stdout);
		return LF_CLI_EXIT_OK;
	}
	if (log != NULL) {
		lf_log_setup((enum lf_log_level)log->level, (enum lf_log_format)log->format,
		             service);
	}
	return LF_CLI_RUN;
}

int
lf_daemon_main(int argc, char **argv, const char *service, const struct lf_cfg_section *sections,
               size_t n_sections, const struct lf_log_config *log, int (*run)(void *settings),
               void *settings)
{
	int status = 2;
	enum lf_cli_action action = lf_cli_run(argc, argv, service, sections, n_sections, log);
	if (action == LF_CLI_EXIT_OK) {
		status = 0;
	} else if (action == LF_CLI_RUN) {
		if (sodium_init() < 0) {
			LOG_ERROR("libsodium failed to initialise");
			status = 1;
		} else {
			mosquitto_lib_init();
			status = run(settings);
			mosquitto_lib_cleanup();
		}
	}
	lf_cfg_free(sections, n_sections);
	return status;
}
