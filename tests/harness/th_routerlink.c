#include "th_routerlink.h"

#include <stdio.h>
#include <string.h>

#define READY_MS 15000

void
th_routerlink_keys_dir(const struct th_daemon *d, char *out, size_t outlen)
{
	char name[96];
	snprintf(name, sizeof(name), "keys-%s", d->instance);
	th_env_path(d->env, name, out, outlen);
}

static int
spawn_and_wait(struct th_daemon *d)
{
	size_t mark = th_daemon_log_mark(d);
	const char *argv[] = {LF_ROUTERLINK_BIN, "-c", d->ini_path, NULL};
	d->pid = th_spawn(argv, d->log_path);
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	if (th_daemon_wait_log(d, mark, "routerlink .* started", READY_MS) != 0 ||
	    th_daemon_wait_log(d, mark, "mqtt: connected", READY_MS) != 0) {
		fprintf(stderr, "harness: %s did not start\n", d->instance);
		th_print_tail(d->log_path, 40);
		th_daemon_kill(d);
		return -1;
	}
	return 0;
}

int
th_routerlink_start(struct th_daemon *d, struct th_env *env, const struct th_broker *b,
                    const struct th_router *r, const char *instance, const char *extra)
{
	memset(d, 0, sizeof(*d));
	d->env = env;
	snprintf(d->instance, sizeof(d->instance), "%s", instance);
	char name[96], keys[TH_PATH_MAX];
	snprintf(name, sizeof(name), "%s.ini", instance);
	th_env_path(env, name, d->ini_path, sizeof(d->ini_path));
	snprintf(name, sizeof(name), "%s.log", instance);
	th_env_path(env, name, d->log_path, sizeof(d->log_path));
	th_routerlink_keys_dir(d, keys, sizeof(keys));
	char ini[4096];
	int n = snprintf(ini, sizeof(ini),
	                 "[mqtt]\nhost = 127.0.0.1\nport = %u\nreconnect_max = 1s\n"
	                 "\n[log]\nlevel = debug\n"
	                 "\n[routerlink]\nrouter_uri = http://127.0.0.1:%u\nkeys_dir = %s\n"
	                 "instance = %s\nregion = US915\nbackoff_min = 200ms\nbackoff_max = 2s\n"
	                 "%s",
	                 (unsigned)b->port, (unsigned)r->port, keys, instance,
	                 extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(ini) || th_write_file(d->ini_path, ini) != 0) {
		return -1;
	}
	return spawn_and_wait(d);
}

int
th_routerlink_restart(struct th_daemon *d)
{
	return spawn_and_wait(d);
}
