/*
 * routerlink's key directory full (ENOSPC) and read-only (EROFS), with 40
 * gateways provisioned and sending traffic, and new gateways arriving:
 * - a new gateway's key cannot be made: it is disabled, with the reason in
 *   the log, in `lorawan/<mac>/hotspot` ("router":"disabled", "key_error")
 *   and in the metrics (keys_failed_total, gateways_disabled); its uplinks
 *   are counted as filtered (gateway_disabled); no key file, no temporary
 *   file is left;
 * - the gateways that have keys keep working: every one of their uplinks
 *   reaches the router once, and their key files stay byte for byte;
 * - once space is freed, or the directory is writable again, routerlink
 *   retries on its own (every 5 s) and the new gateways get their keys and
 *   sessions, without a restart; a restart while read-only works too.
 *
 * How the disk is made to fail, as root: permissions do not stop root, so
 * the key directory is a small tmpfs (size 256k) mounted in a private mount
 * namespace. A helper process (`unshare --mount --propagation private`,
 * then `sleep`) holds the namespace; routerlink runs in it through `nsenter
 * --mount` (LF_TEST_DAEMON_WRAPPER, before any other wrapper such as
 * valgrind); the test reaches the directory through /proc/<helper>/root
 * and remounts it read-only or writable with nsenter. The mount exists only
 * in that namespace, which ends with its last process (the helper dies with
 * the test: pdeathsig), so nothing is left mounted even if the test dies.
 * It needs CAP_SYS_ADMIN (root, as in CI); without it the setup fails with
 * the reason, it does not skip.
 */
#include "harness.h"
#include "keys.h"
#include "th_fleet.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSTANCE  "it-fkd"
#define OLD       40
#define NEW       10
#define EUI_OLD   0xaa555a00000d0000ULL
#define EUI_FULL  0xaa555a00000d1000ULL
#define EUI_RO    0xaa555a00000d2000ULL
#define TMPFS_KB  256
#define WAIT_MS   30000
#define RETRY_MS  (5000 + 5000) /* routerlink's KEY_RETRY_MS and slack */
#define UNSHARE   "/usr/bin/unshare"
#define NSENTER   "/usr/bin/nsenter"
#define MOUNT_CMD "/usr/bin/mount"

static struct th_suite suite = {.name = "faultkeysdisk"};
static struct th_router router;
static struct th_daemon rl;
static pid_t ns_pid;
static char keys_dir[TH_PATH_MAX];       /* as routerlink sees it */
static char keys_view[TH_PATH_MAX + 32]; /* the same, from here: /proc/<helper>/root/... */
static struct th_fleet old, full, ro;
static uint8_t old_keys[OLD][KEYS_FILE_SIZE];

/* ---- the namespace ---------------------------------------------------- */

static int
start_namespace(void)
{
	char log[TH_PATH_MAX], size[32];
	th_env_path(&suite.env, "keys-ns.log", log, sizeof(log));
	snprintf(size, sizeof(size), "size=%dk,mode=0700", TMPFS_KB);
	const char *argv[] = {UNSHARE,
	                      "--mount",
	                      "--propagation",
	                      "private",
	                      "--",
	                      "/bin/sh",
	                      "-c",
	                      "mkdir -p \"$1\" && mount -t tmpfs -o \"$2\" lf-keys \"$1\" && "
	                      "echo mounted && exec sleep 100000",
	                      "keys-ns",
	                      keys_dir,
	                      size,
	                      NULL};
	ns_pid = th_spawn(argv, log);
	if (ns_pid < 0) {
		return -1;
	}
	int64_t deadline = lf_now_ms() + 10000;
	for (;;) {
		char *text = th_read_file(log, NULL);
		bool mounted = text != NULL && strstr(text, "mounted") != NULL;
		free(text);
		if (mounted) {
			break;
		}
		int status;
		if (th_wait_exit(ns_pid, 50, &status) == 1 || lf_now_ms() >= deadline) {
			fprintf(stderr,
			        "it_fault_keys_disk: could not mount a tmpfs in a private mount "
			        "namespace (needs root / CAP_SYS_ADMIN, util-linux unshare):\n");
			th_print_tail(log, 20);
			ns_pid = 0;
			return -1;
		}
	}
	snprintf(keys_view, sizeof(keys_view), "/proc/%d/root%s", (int)ns_pid, keys_dir);
	return 0;
}

/* mount -o remount,<how> on the key directory, in the namespace. */
static void
remount(const char *how)
{
	char pid[16], opts[32];
	snprintf(pid, sizeof(pid), "%d", (int)ns_pid);
	snprintf(opts, sizeof(opts), "remount,%s", how);
	const char *argv[] = {NSENTER,   "--target", pid,  "--mount", "--",
	                      MOUNT_CMD, "-o",       opts, keys_dir,  NULL};
	char log[TH_PATH_MAX];
	th_env_path(&suite.env, "remount.log", log, sizeof(log));
	pid_t p = th_spawn(argv, log);
	assert_true(p > 0);
	int status = 0;
	assert_int_equal(th_wait_exit(p, 10000, &status), 1);
	if (th_exit_code(status) != 0) {
		th_print_tail(log, 10);
		fail_msg("mount -o %s failed", opts);
	}
}

/* Fills the tmpfs: a file grown until the disk says ENOSPC. */
static void
fill_disk(void)
{
	char path[TH_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/filler", keys_view);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static const char block[4096];
	ssize_t n;
	size_t total = 0;
	while ((n = write(fd, block, sizeof(block))) > 0) {
		total += (size_t)n;
	}
	int e = errno;
	close(fd);
	assert_int_equal(e, ENOSPC);
	assert_true(total > 0);
}

static void
free_disk(void)
{
	char path[TH_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/filler", keys_view);
	assert_int_equal(unlink(path), 0);
}

/* Starts (or restarts) routerlink inside the namespace. */
static int
start_routerlink(bool restart)
{
	const char *prev = getenv("LF_TEST_DAEMON_WRAPPER");
	char *saved = prev != NULL ? strdup(prev) : NULL;
	char wrapper[1024];
	snprintf(wrapper, sizeof(wrapper), NSENTER " --target %d --mount --%s%s", (int)ns_pid,
	         saved != NULL ? " " : "", saved != NULL ? saved : "");
	setenv("LF_TEST_DAEMON_WRAPPER", wrapper, 1);
	int rc = restart ? th_routerlink_restart(&rl)
	                 : th_routerlink_start(&rl, &suite.env, &suite.broker, &router, INSTANCE,
	                                       "metrics_interval = 1s\n");
	if (saved != NULL) {
		setenv("LF_TEST_DAEMON_WRAPPER", saved, 1);
	} else {
		unsetenv("LF_TEST_DAEMON_WRAPPER");
	}
	free(saved);
	return rc;
}

/* ---- checks ----------------------------------------------------------- */

/* routerlink's metrics snapshot (th_routerlink.h), failing the test. */
#define METRIC(name, label, value) TH_RL_METRIC(&suite.broker, INSTANCE, name, label, value)
#define EXPECT_METRIC(name, label, value, want)                                                    \
	TH_RL_EXPECT_METRIC(&suite.broker, INSTANCE, name, label, value, want, WAIT_MS)

/* Key files and temporary files in the directory (the filler aside). */
static void
count_files(int *keys, int *temps)
{
	DIR *d = opendir(keys_view);
	assert_non_null(d);
	*keys = *temps = 0;
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		size_t len = strlen(e->d_name);
		*keys += len == KEYS_FILENAME_LEN - 1 && strcmp(e->d_name + 16, ".key") == 0;
		*temps += strncmp(e->d_name, KEYS_TMP_PREFIX, strlen(KEYS_TMP_PREFIX)) == 0;
	}
	closedir(d);
}

static void
read_key(uint64_t eui, uint8_t out[KEYS_FILE_SIZE])
{
	char path[TH_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%016" PRIX64 ".key", keys_view, eui);
	size_t len = 0;
	char *bytes = th_read_file(path, &len);
	if (bytes == NULL || len != KEYS_FILE_SIZE) {
		fail_msg("%s: %zu bytes", path, len);
	}
	memcpy(out, bytes, KEYS_FILE_SIZE);
	free(bytes);
	struct gateway_key k;
	char err[512];
	if (keys_load(keys_view, eui, &k, err, sizeof(err)) != 0) {
		fail_msg("%s", err);
	}
	keys_wipe(&k);
}

/* The old gateways' keys are the ones they had at the start. */
static void
check_old_keys(void)
{
	for (int i = 0; i < OLD; i++) {
		uint8_t now[KEYS_FILE_SIZE];
		read_key(old.g[i].eui, now);
		assert_memory_equal(now, old_keys[i], KEYS_FILE_SIZE);
	}
}

/* Every gateway of f has at least `want` accepted sessions. */
static bool
wait_sessions(struct th_fleet *f, int want, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + timeout_ms;
	for (;;) {
		cJSON *g = th_fleet_router_gateways(&router);
		int ready = 0;
		for (int i = 0; i < f->n; i++) {
			ready += f->g[i].hex[0] != '\0' &&
			         th_fleet_gw_count(g, f->g[i].hex, "session_inits") >= want;
		}
		cJSON_Delete(g);
		if (ready == f->n) {
			return true;
		}
		if (lf_now_ms() >= deadline) {
			return false;
		}
		usleep(200 * 1000);
		th_fleet_learn_keys(f, keys_view);
	}
}

/* The retained hotspot state of a gateway of f that has no key: disabled,
 * no public key, and the reason. */
static void
check_disabled(struct th_fleet *f, const char *reason)
{
	for (int i = 0; i < f->n; i++) {
		char topic[64];
		snprintf(topic, sizeof(topic), "lorawan/%016" PRIx64 "/hotspot", f->g[i].eui);
		struct th_msg *m = th_mqtt_read_retained(&suite.broker, topic, WAIT_MS);
		assert_non_null(m);
		cJSON *h = TH_PARSE(m->payload);
		TH_ASSERT_STR(h, "router", "disabled");
		TH_ASSERT_NULL(h, "public_key");
		const cJSON *err = cJSON_GetObjectItem(h, "key_error");
		if (!cJSON_IsString(err) || strstr(err->valuestring, reason) == NULL) {
			fail_msg("%s: key_error does not say \"%s\": %s", topic, reason,
			         m->payload);
		}
		cJSON_Delete(h);
		th_msg_free(m);
	}
}

/* ... and once it has its key: enabled, its address, no key_error. */
static void
check_enabled(struct th_fleet *f)
{
	for (int i = 0; i < f->n; i++) {
		char topic[64];
		snprintf(topic, sizeof(topic), "lorawan/%016" PRIx64 "/hotspot", f->g[i].eui);
		struct gateway_key k;
		char err[512], addr[HELIUM_ADDRESS_MAX];
		if (keys_load(keys_view, f->g[i].eui, &k, err, sizeof(err)) != 0) {
			fail_msg("%s", err);
		}
		keys_address(&k, addr, sizeof(addr));
		keys_wipe(&k);
		int64_t deadline = lf_now_ms() + WAIT_MS;
		for (;;) {
			struct th_msg *m = th_mqtt_read_retained(&suite.broker, topic, WAIT_MS);
			assert_non_null(m);
			cJSON *h = TH_PARSE(m->payload);
			const cJSON *pk = cJSON_GetObjectItem(h, "public_key");
			bool ok = cJSON_IsString(pk) && strcmp(pk->valuestring, addr) == 0 &&
			          cJSON_GetObjectItem(h, "key_error") == NULL;
			cJSON_Delete(h);
			th_msg_free(m);
			if (ok) {
				break;
			}
			assert_true(lf_now_ms() < deadline);
			usleep(200 * 1000);
		}
	}
}

/* Traffic from the old gateways for ms, then all of it at the router. */
static void
old_traffic(int ms)
{
	assert_int_equal(th_fleet_traffic_start(&old, 1000), 0);
	usleep((useconds_t)ms * 1000);
	assert_int_equal(th_fleet_traffic_stop(&old), 0);
	assert_true(th_fleet_wait_delivered(&old, &router, th_fleet_sent(&old), WAIT_MS));
}

static int
setup(void **state)
{
	*state = &suite;
	if (th_suite_setup(state) != 0) {
		return -1;
	}
	th_mqtt_close(suite.obs);
	suite.obs = NULL;
	if (th_router_start(&router, &suite.env, 0) != 0) {
		return -1;
	}
	/* The harness's path for the instance's keys: the mount goes there. */
	struct th_daemon probe = {.env = &suite.env};
	snprintf(probe.instance, sizeof(probe.instance), INSTANCE);
	th_routerlink_keys_dir(&probe, keys_dir, sizeof(keys_dir));
	if (start_namespace() != 0 || start_routerlink(false) != 0 ||
	    th_fleet_open(&old, OLD, EUI_OLD, suite.bridge.udp_port) != 0) {
		return -1;
	}
	if (!wait_sessions(&old, 1, WAIT_MS)) {
		return -1;
	}
	for (int i = 0; i < OLD; i++) {
		read_key(old.g[i].eui, old_keys[i]);
	}
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_disk_full(void **state)
{
	(void)state;
	fill_disk();
	size_t mark = th_daemon_log_mark(&rl);
	assert_int_equal(th_fleet_traffic_start(&old, 1000), 0);
	assert_int_equal(th_fleet_open(&full, NEW, EUI_FULL, suite.bridge.udp_port), 0);
	EXPECT_METRIC("keys_failed_total", NULL, NULL, NEW);
	EXPECT_METRIC("gateways_disabled", NULL, NULL, NEW);
	check_disabled(&full, "No space left on device");
	assert_int_equal(th_daemon_log_count(&rl, mark,
	                                     "disabled: .*: cannot write: No space left on device"),
	                 NEW);
	/* Their uplinks go nowhere, counted. */
	assert_int_equal(th_fleet_burst(&full, 2, 0), 0);
	EXPECT_METRIC("uplinks_filtered_total", "reason", "gateway_disabled", 2 * NEW);
	/* Nothing half-made; the old gateways' traffic goes on. */
	int keys, temps;
	count_files(&keys, &temps);
	assert_int_equal(keys, OLD);
	assert_int_equal(temps, 0);
	usleep(2000 * 1000);
	assert_int_equal(th_fleet_traffic_stop(&old), 0);
	assert_true(th_fleet_wait_delivered(&old, &router, th_fleet_sent(&old), WAIT_MS));
	check_old_keys();
	double created = METRIC("keys_created_total", NULL, NULL);

	/* Space again: the retry makes the keys, no restart. */
	int64_t freed_at = lf_now_ms();
	free_disk();
	EXPECT_METRIC("gateways_disabled", NULL, NULL, 0);
	assert_true(wait_sessions(&full, 1, RETRY_MS + WAIT_MS));
	int64_t recovered_ms = lf_now_ms() - freed_at;
	EXPECT_METRIC("keys_created_total", NULL, NULL, created + NEW);
	EXPECT_METRIC("keys_failed_total", NULL, NULL, NEW);
	check_enabled(&full);
	assert_int_equal(th_daemon_log_count(&rl, mark, "enabled: its key .* is usable now"), NEW);
	/* And their uplinks flow. */
	assert_int_equal(th_fleet_burst(&full, 2, 0), 0);
	assert_true(th_fleet_wait_delivered(&full, &router, 2 * NEW, WAIT_MS));
	count_files(&keys, &temps);
	assert_int_equal(keys, OLD + NEW);
	assert_int_equal(temps, 0);
	old_traffic(1000);
	check_old_keys();
	print_message("disk full: %d new gateways disabled, %d uplinks of theirs filtered, %d of "
	              "the old ones' delivered; keys made %lld ms after space was freed\n",
	              NEW, 2 * NEW, (int)th_fleet_sent(&old), (long long)recovered_ms);
}

static void
test_read_only(void **state)
{
	(void)state;
	remount("ro");
	size_t mark = th_daemon_log_mark(&rl);
	double failed = METRIC("keys_failed_total", NULL, NULL);
	assert_int_equal(th_fleet_open(&ro, NEW, EUI_RO, suite.bridge.udp_port), 0);
	EXPECT_METRIC("keys_failed_total", NULL, NULL, failed + NEW);
	EXPECT_METRIC("gateways_disabled", NULL, NULL, NEW);
	check_disabled(&ro, "Read-only file system");
	assert_int_equal(
	        th_daemon_log_count(&rl, mark, "disabled: .*: cannot write: Read-only file system"),
	        NEW);
	old_traffic(1500);

	/* A restart with the directory read-only: the keys there load, the
	 * new gateways are disabled again. */
	assert_int_equal(th_daemon_stop(&rl), 0);
	mark = th_daemon_log_mark(&rl);
	assert_int_equal(start_routerlink(true), 0);
	char started[96];
	snprintf(started, sizeof(started), "routerlink " INSTANCE " started .* %d gateway",
	         OLD + NEW);
	assert_int_equal(th_daemon_log_count(&rl, mark, started), 1);
	EXPECT_METRIC("gateways_disabled", NULL, NULL, NEW);
	EXPECT_METRIC("keys_failed_total", NULL, NULL, NEW);
	assert_true(wait_sessions(&old, 2, WAIT_MS));
	assert_true(wait_sessions(&full, 2, WAIT_MS));
	old_traffic(1500);

	/* Writable again: the retry makes the keys. */
	int64_t rw_at = lf_now_ms();
	remount("rw");
	EXPECT_METRIC("gateways_disabled", NULL, NULL, 0);
	assert_true(wait_sessions(&ro, 1, RETRY_MS + WAIT_MS));
	int64_t recovered_ms = lf_now_ms() - rw_at;
	EXPECT_METRIC("keys_created_total", NULL, NULL, NEW);
	check_enabled(&ro);
	assert_int_equal(th_fleet_burst(&ro, 2, 0), 0);
	assert_true(th_fleet_wait_delivered(&ro, &router, 2 * NEW, WAIT_MS));
	int keys, temps;
	count_files(&keys, &temps);
	assert_int_equal(keys, OLD + 2 * NEW);
	assert_int_equal(temps, 0);
	check_old_keys();
	assert_int_equal(th_fleet_defects(&old), 0);
	print_message("read-only: %d new gateways disabled (also across a restart), keys made "
	              "%lld ms after the remount; %d uplinks of the old gateways delivered once "
	              "each\n",
	              NEW, (long long)recovered_ms, (int)th_fleet_sent(&old));
}

static int
teardown(void **state)
{
	(void)state;
	th_fleet_close(&old);
	th_fleet_close(&full);
	th_fleet_close(&ro);
	int rc = th_routerlink_teardown(&router, &rl);
	if (ns_pid > 0) {
		th_terminate(ns_pid, 5000); /* the namespace, and its mount, go with it */
	}
	return rc;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_disk_full),
	        cmocka_unit_test(test_read_only),
	};
	int failed = cmocka_run_group_tests_name("it_fault_keys_disk", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
