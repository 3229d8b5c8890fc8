/* `lorafleet-routerlink keys ...`: look at and manage the per-gateway keys. */
#ifndef LF_ROUTERLINK_KEYS_CLI_H
#define LF_ROUTERLINK_KEYS_CLI_H

/*
 * argv[0] is "keys". Returns the process exit code: 0 ok, 1 failure,
 * 2 usage error. Results go to stdout, problems to stderr.
 */
int keys_cli_main(int argc, char **argv, const char *keys_dir);

#endif
