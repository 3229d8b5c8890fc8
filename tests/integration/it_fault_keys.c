/*
 * routerlink killed with SIGKILL at random moments while it provisions new
 * gateways: no key is ever lost, corrupted or replaced.
 *
 * Each round starts routerlink, announces 25 new gateways (their retained
 * `state`, as the bridge publishes it), and kills it -9 once a random
 * number of them have their key, plus up to 2 ms, so that the kills land
 * among key files being written, fsynced and linked.
 * A restart sees every retained state again and provisions what the last
 * round left. After every kill:
 * - every <MAC>.key is 65 bytes, mode 0600, with a known tag and the public
 *   key its seed derives (keys_load), and every key seen before is still
 *   there, byte for byte;
 * - every public key announced on `lorawan/<mac>/hotspot` is the one in
 *   that MAC's file, and never changes: an announced Hotspot is durable.
 * At the end routerlink runs to completion: every gateway has exactly one
 * key, the router saw no other key, `keys list` agrees, and temporary files
 * left by the kills (plus one planted the way a crash leaves one) are
 * ignored while young and removed once stale.
 */
#include "harness.h"
#include "keys.h"
#include "lf/eui.h"
#include "th_fleet.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS    16
#define PER_ROUND 25
#define TOTAL     (ROUNDS * PER_ROUND)
#define EUI_BASE  0xaa555a00000c0000ULL
#define INSTANCE  "it-fk"
#define WAIT_MS   30000

struct gw {
	bool announced; /* a retained state was published */
	bool have_key;  /* a key file was seen */
	uint8_t key[KEYS_FILE_SIZE];
	char address[HELIUM_ADDRESS_MAX]; /* announced on hotspot; "" not yet */
};

static struct th_suite suite = {.name = "faultkeys"};
static struct th_router router;
static struct th_daemon rl;
static struct th_mqtt *pub;
static struct gw gws[TOTAL];
static char keys_dir[TH_PATH_MAX];

static uint64_t
eui_of(int i)
{
	return EUI_BASE + (uint64_t)i;
}

static int
setup(void **state)
{
	*state = &suite;
	if (th_routerlink_setup(state, &router, &rl, INSTANCE, "metrics_interval = 1s\n") != 0) {
		return -1;
	}
	th_routerlink_keys_dir(&rl, keys_dir, sizeof(keys_dir));
	pub = th_mqtt_connect(&suite.broker, NULL, true, WAIT_MS);
	return pub != NULL ? 0 : -1;
}

static void
announce(int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char topic[64];
		snprintf(topic, sizeof(topic), "lorawan/%016" PRIx64 "/state", eui_of(i));
		const char *online = "{\"online\":true}";
		assert_int_equal(th_mqtt_publish(pub, topic, online, strlen(online), 1, true), 0);
		gws[i].announced = true;
	}
}

/* Reads and checks every file in the key directory. Returns how many keys;
 * *temps counts the temporary files. */
static int
check_key_dir(int *temps)
{
	DIR *d = opendir(keys_dir);
	assert_non_null(d);
	int keys = 0;
	*temps = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (strncmp(e->d_name, KEYS_TMP_PREFIX, strlen(KEYS_TMP_PREFIX)) == 0) {
			(*temps)++;
			continue;
		}
		uint64_t eui;
		char hex[17];
		assert_int_equal(strlen(e->d_name), KEYS_FILENAME_LEN - 1);
		memcpy(hex, e->d_name, 16);
		hex[16] = '\0';
		assert_int_equal(lf_eui_parse(hex, &eui), 0);
		int i = (int)(eui - EUI_BASE);
		assert_true(eui >= EUI_BASE && i < TOTAL && gws[i].announced);
		char path[TH_PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", keys_dir, e->d_name);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(st.st_size, KEYS_FILE_SIZE);
		struct gateway_key k;
		char err[512];
		if (keys_load(keys_dir, eui, &k, err, sizeof(err)) != 0) {
			fail_msg("%s", err);
		}
		keys_wipe(&k);
		size_t len;
		char *bytes = th_read_file(path, &len);
		assert_non_null(bytes);
		assert_int_equal(len, KEYS_FILE_SIZE);
		if (gws[i].have_key && memcmp(gws[i].key, bytes, KEYS_FILE_SIZE) != 0) {
			fail_msg("the key of %s changed", hex);
		}
		memcpy(gws[i].key, bytes, KEYS_FILE_SIZE);
		gws[i].have_key = true;
		free(bytes);
		keys++;
	}
	closedir(d);
	/* None seen before is gone. */
	int before = 0;
	for (int i = 0; i < TOTAL; i++) {
		before += gws[i].have_key;
	}
	assert_int_equal(keys, before);
	return keys;
}

/* Every announced Hotspot's public key is its file's, and stays so. */
static int
check_announced(void)
{
	struct th_msg *m;
	while ((m = th_mqtt_wait(suite.obs, "lorawan/+/hotspot", 20)) != NULL) {
		cJSON *h = TH_PARSE(m->payload);
		const cJSON *mac = cJSON_GetObjectItem(h, "mac");
		const cJSON *pk = cJSON_GetObjectItem(h, "public_key");
		uint64_t eui;
		assert_true(cJSON_IsString(mac));
		assert_int_equal(lf_eui_parse(mac->valuestring, &eui), 0);
		int i = (int)(eui - EUI_BASE);
		assert_true(eui >= EUI_BASE && i < TOTAL);
		assert_true(cJSON_IsString(pk)); /* no gateway is disabled here */
		if (gws[i].address[0] != '\0' && strcmp(gws[i].address, pk->valuestring) != 0) {
			fail_msg("%s announced %s, earlier %s", mac->valuestring, pk->valuestring,
			         gws[i].address);
		}
		snprintf(gws[i].address, sizeof(gws[i].address), "%s", pk->valuestring);
		cJSON_Delete(h);
		th_msg_free(m);
	}
	th_mqtt_discard(suite.obs, "lorafleet/#");
	th_mqtt_discard(suite.obs, "lorawan/+/state");
	int announced = 0;
	for (int i = 0; i < TOTAL; i++) {
		if (gws[i].address[0] == '\0') {
			continue;
		}
		announced++;
		struct gateway_key k;
		char err[512], addr[HELIUM_ADDRESS_MAX];
		if (keys_load(keys_dir, eui_of(i), &k, err, sizeof(err)) != 0) {
			fail_msg("announced, but %s", err);
		}
		keys_address(&k, addr, sizeof(addr));
		keys_wipe(&k);
		assert_string_equal(addr, gws[i].address);
	}
	return announced;
}

static int
count_new_keys(size_t mark)
{
	return th_daemon_log_count(&rl, mark, "new Hotspot key");
}

static void
test_kill_during_provisioning(void **state)
{
	(void)state;
	unsigned seed = (unsigned)time(NULL);
	srand(seed);
	print_message("seed %u\n", seed);

	/* Round 0: all of them, for the record of how long it takes. */
	size_t mark = th_daemon_log_mark(&rl);
	int64_t t0 = lf_now_ms();
	announce(0, PER_ROUND);
	int64_t deadline = t0 + WAIT_MS;
	while (count_new_keys(mark) < PER_ROUND && lf_now_ms() < deadline) {
		usleep(2000);
	}
	assert_int_equal(count_new_keys(mark), PER_ROUND);
	int64_t span = lf_now_ms() - t0;
	assert_int_equal(th_daemon_kill(&rl), 0);
	int temps;
	assert_int_equal(check_key_dir(&temps), PER_ROUND);
	print_message("round 0: %d keys in %lld ms\n", PER_ROUND, (long long)span);

	int interrupted = 0, max_temps = 0;
	for (int round = 1; round < ROUNDS; round++) {
		assert_int_equal(th_routerlink_restart(&rl), 0);
		mark = th_daemon_log_mark(&rl);
		/* A random moment among the round's writes: after a random
		 * number of its first quarter of keys, plus up to 0.5 ms (the log
		 * lines that count them can trail the writes). */
		int after_keys = rand() % (PER_ROUND / 4);
		int extra_us = rand() % 500;
		int64_t start = lf_now_ms();
		announce(round * PER_ROUND, PER_ROUND);
		deadline = start + WAIT_MS;
		while (count_new_keys(mark) < after_keys && lf_now_ms() < deadline) {
			usleep(500);
		}
		usleep((useconds_t)extra_us);
		int64_t delay = lf_now_ms() - start;
		assert_int_equal(th_daemon_kill(&rl), 0);
		int made = count_new_keys(mark);
		int keys = check_key_dir(&temps);
		int announced = check_announced();
		int pending = (round + 1) * PER_ROUND - keys;
		interrupted += pending > 0;
		max_temps = temps > max_temps ? temps : max_temps;
		print_message("round %d: killed %lld ms after announcing; %d keys made, %d in all, "
		              "%d announced, %d not yet, %d temporary files\n",
		              round, (long long)delay, made, keys, announced, pending, temps);
	}
	/* The kills did land in the middle of provisioning. */
	assert_true(interrupted >= ROUNDS / 4);

	/* A crash between creating a temporary file and writing it leaves
	 * this: an empty file with the temporary prefix. */
	char planted[TH_PATH_MAX + 64];
	snprintf(planted, sizeof(planted), "%s/%sAA555A00000C0000.key.1.deadbeef", keys_dir,
	         KEYS_TMP_PREFIX);
	assert_int_equal(th_write_file(planted, ""), 0);

	/* To the end: every gateway gets its key, young temporaries ignored. */
	assert_int_equal(th_routerlink_restart(&rl), 0);
	deadline = lf_now_ms() + WAIT_MS;
	int keys = 0;
	while (keys < TOTAL && lf_now_ms() < deadline) {
		usleep(100 * 1000);
		keys = check_key_dir(&temps);
	}
	assert_int_equal(keys, TOTAL);
	assert_true(temps >= 1);
	deadline = lf_now_ms() + WAIT_MS;
	while (check_announced() < TOTAL && lf_now_ms() < deadline) {
		usleep(100 * 1000);
	}
	assert_int_equal(check_announced(), TOTAL);

	/* The router saw only these keys, each gateway's one. */
	struct th_fleet f = {0};
	f.n = TOTAL;
	f.g = calloc(TOTAL, sizeof(*f.g));
	assert_non_null(f.g);
	for (int i = 0; i < TOTAL; i++) {
		f.g[i].eui = eui_of(i);
	}
	assert_int_equal(th_fleet_learn_keys(&f, keys_dir), TOTAL);
	deadline = lf_now_ms() + WAIT_MS;
	cJSON *g = NULL;
	for (int ready = 0; ready < TOTAL && lf_now_ms() < deadline;) {
		usleep(200 * 1000);
		cJSON_Delete(g);
		g = th_fleet_router_gateways(&router);
		ready = 0;
		for (int i = 0; i < TOTAL; i++) {
			ready += th_fleet_gw_count(g, f.g[i].hex, "session_inits") > 0;
		}
	}
	const cJSON *e;
	int seen = 0;
	cJSON_ArrayForEach(e, g)
	{
		if (th_fleet_by_hex(&f, e->string) < 0) {
			fail_msg("the router saw key %s, which is in no key file", e->string);
		}
		seen++;
	}
	assert_int_equal(seen, TOTAL);
	cJSON_Delete(g);
	free(f.g);

	/* `keys list` agrees, one line per gateway. */
	char out[TH_PATH_MAX], cmd[3 * TH_PATH_MAX];
	th_env_path(&suite.env, "keys-list.txt", out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "%s keys -c %s list > %s", LF_ROUTERLINK_BIN, rl.ini_path, out);
	assert_int_equal(system(cmd), 0);
	char *list = th_read_file(out, NULL);
	assert_non_null(list);
	int lines = 0;
	for (char *line = strtok(list, "\n"); line != NULL; line = strtok(NULL, "\n"), lines++) {
		char mac[17], addr[HELIUM_ADDRESS_MAX];
		uint64_t eui;
		assert_int_equal(sscanf(line, "%16s %55s", mac, addr), 2);
		assert_int_equal(lf_eui_parse(mac, &eui), 0);
		assert_string_equal(addr, gws[eui - EUI_BASE].address);
	}
	free(list);
	assert_int_equal(lines, TOTAL);

	/* Stale temporaries go at the next start, with a warning each. */
	DIR *d = opendir(keys_dir);
	assert_non_null(d);
	struct timespec old[2] = {{.tv_sec = time(NULL) - 120}, {.tv_sec = time(NULL) - 120}};
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
		if (strncmp(de->d_name, KEYS_TMP_PREFIX, strlen(KEYS_TMP_PREFIX)) == 0) {
			assert_int_equal(utimensat(dirfd(d), de->d_name, old, 0), 0);
		}
	}
	closedir(d);
	assert_int_equal(th_daemon_stop(&rl), 0);
	mark = th_daemon_log_mark(&rl);
	assert_int_equal(th_routerlink_restart(&rl), 0);
	assert_int_equal(th_daemon_log_count(&rl, mark, "removed a temporary key file"), temps);
	char started[96];
	snprintf(started, sizeof(started), "routerlink " INSTANCE " started .* %d gateway", TOTAL);
	assert_int_equal(th_daemon_log_count(&rl, mark, started), 1);
	int after;
	assert_int_equal(check_key_dir(&after), TOTAL);
	assert_int_equal(after, 0);
	print_message("%d kills: %d interrupted provisioning, up to %d temporary files left "
	              "(%d at the end, removed once stale); %d keys, none lost or changed\n",
	              ROUNDS, interrupted, max_temps, temps, TOTAL);
}

static int
teardown(void **state)
{
	(void)state;
	th_mqtt_close(pub);
	return th_routerlink_teardown(&router, &rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kill_during_provisioning),
	};
	int failed = cmocka_run_group_tests_name("it_fault_keys", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
