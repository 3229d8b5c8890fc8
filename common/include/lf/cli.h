/*
 * The command line every daemon shares: where the configuration comes
 * from, --check-config, --help and --version.
 */
#ifndef LF_CLI_H
#define LF_CLI_H

#include <stddef.h>

#include "lf/cfg.h"
#include "lf/log.h"

enum lf_cli_action {
	LF_CLI_RUN,        /* configuration loaded: start the daemon */
	LF_CLI_EXIT_OK,    /* --help, --version or --check-config done: exit 0 */
	LF_CLI_EXIT_ERROR, /* usage or configuration error printed: exit 2 */
};

/*
 * -c/--config FILE, --check-config, -h/--help, -V/--version. Without -c,
 * $LORAFLEET_CONFIG names the file if set (and not empty), else there is no
 * file (defaults + environment). Loads the config with lf_cfg_load(); on
 * success, if log != NULL, calls lf_log_setup(log->level, log->format,
 * service). --help prints the usage and every option of the given sections
 * to stdout. --version prints "lorafleet-<service> <LF_VERSION>".
 * --check-config prints the effective configuration (lf_cfg_print() to
 * stdout). Config and usage errors go to stderr as
 * "lorafleet-<service>: <message>".
 *
 * The structs the sections point into start zeroed; whatever this returns,
 * the caller ends with lf_cfg_free(sections).
 */
enum lf_cli_action lf_cli_run(int argc, char **argv, const char *service,
                              const struct lf_cfg_section *sections, size_t n_sections,
                              const struct lf_log_config *log);

/*
 * A daemon's whole main(): lf_cli_run(), then, to run, libsodium and
 * libmosquitto initialised around run(settings), and lf_cfg_free(). The
 * exit status: run()'s, 0 after --help and the like, 2 for a usage or
 * configuration error, 1 when a library does not initialise.
 */
int lf_daemon_main(int argc, char **argv, const char *service,
                   const struct lf_cfg_section *sections, size_t n_sections,
                   const struct lf_log_config *log, int (*run)(void *settings), void *settings);

/* The name of a type as --help and docs/config.md write it ("duration"). */
const char *lf_cli_type_name(enum lf_cfg_type type);

#endif
