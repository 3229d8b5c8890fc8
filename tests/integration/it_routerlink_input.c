/*
 * routerlink and untrusted input: garbage on the up topic is filtered and
 * counted by reason, exactly, and a good uplink still goes through; kill
 * -9 while many gateways are being provisioned leaves only whole, valid
 * keys, and none of them is ever replaced.
 */
#include "harness.h"
#include "th_router.h"
#include "th_routerlink.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "lf/eui.h"

#define WAIT_MS     15000
#define MAC         "aa555a0000000f01"
#define METRICS     "lorafleet/routerlink/it-rlin/metrics"
#define N_PROVISION 600

static struct th_suite suite = {.name = "rlin"};
static struct th_router router;
static struct th_daemon rl;

static void
up(struct th_suite *s, const char *mac, const char *rxpk)
{
	char topic[64], payload[1024], now[LF_RFC3339_LEN];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lf_format_rfc3339(&ts, now);
	snprintf(topic, sizeof(topic), "lorawan/%s/up", mac);
	snprintf(payload, sizeof(payload), "{\"mac\":\"%s\",\"received_at\":\"%s\",\"rxpk\":%s}",
	         mac, now, rxpk);
	assert_int_equal(th_mqtt_publish_str(s->obs, topic, payload), 0);
}

#define RXPK(fields)                                                                               \
	"{\"tmst\":1000,\"freq\":904.3,\"stat\":1,\"modu\":\"LORA\",\"codr\":\"4/5\","             \
	"\"rssi\":-70,\"lsnr\":9.0," fields "}"

static void
test_garbage_is_counted_and_good_uplinks_flow(void **state)
{
	struct th_suite *s = *state;
	assert_int_equal(th_mqtt_publish_str(s->obs, "lorawan/" MAC "/up", "garbage"), 0);
	assert_int_equal(th_mqtt_publish_str(s->obs, "lorawan/" MAC "/up", "{\"mac\":\"" MAC "\"}"),
	                 0);
	assert_int_equal(th_mqtt_publish_str(s->obs, "lorawan/zz/up", "{}"), 0);
	up(s, MAC, RXPK("\"datr\":\"SF9BW125\",\"size\":3,\"data\":\"%%%\""));
	up(s, MAC, RXPK("\"datr\":\"SF13BW125\",\"size\":13,\"data\":\"QAQDAgEAAQABqrvM3Q==\""));
	up(s, MAC,
	   "{\"tmst\":1000,\"freq\":904.3,\"stat\":1,\"modu\":\"FSK\",\"datr\":50000,\"rssi\":-70,"
	   "\"size\":13,\"data\":\"QAQDAgEAAQABqrvM3Q==\"}");
	up(s, MAC, RXPK("\"datr\":\"SF9BW125\",\"size\":13,\"data\":\"YAQDAgEAAQABqrvM3Q==\""));
	up(s, MAC,
	   "{\"tmst\":1000,\"freq\":904.3,\"stat\":-1,\"modu\":\"LORA\",\"datr\":\"SF9BW125\","
	   "\"codr\":\"4/5\",\"rssi\":-70,\"lsnr\":9.0,\"size\":13,"
	   "\"data\":\"QAQDAgEAAQABqrvM3Q==\"}");
	/* And a good one: an unconfirmed data up. */
	up(s, MAC, RXPK("\"datr\":\"SF9BW125\",\"size\":13,\"data\":\"QAQDAgEAAQABqrvM3Q==\""));

	struct th_router_event *e = th_router_wait_event(&router, "packet", NULL, WAIT_MS);
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e->root, "verified")));
	assert_string_equal(cJSON_GetObjectItem(e->root, "payload")->valuestring,
	                    "QAQDAgEAAQABqrvM3Q==");
	th_router_event_free(e);
	const struct th_metric_expect want[] = {
	        {"uplinks_received_total", NULL, NULL, 8}, /* the bad topic is not an up */
	        {"uplinks_filtered_total", "reason", "invalid_json", 1},
	        {"uplinks_filtered_total", "reason", "no_rxpk", 1},
	        {"uplinks_filtered_total", "reason", "bad_data", 1},
	        {"uplinks_filtered_total", "reason", "bad_datarate", 1},
	        {"uplinks_filtered_total", "reason", "not_lora", 1},
	        {"uplinks_filtered_total", "reason", "not_uplink", 1},
	        {"uplinks_filtered_total", "reason", "crc_not_ok", 1},
	        {"mqtt_bad_topic_total", NULL, NULL, 1},
	        {"uplinks_sent_total", NULL, NULL, 1},
	};
	assert_int_equal(th_wait_metrics(s->obs, METRICS, want, TH_ARRAY_LEN(want), WAIT_MS), 0);
	assert_true(th_daemon_alive(&rl));
}

/* Every key file in dir: whole and valid; returns how many, and fails on
 * a temp file or a file of the wrong size. */
static int
check_keys(const char *dir, char names[][32], uint8_t contents[][65], int max)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0)) {
			continue;
		}
		size_t len = strlen(de->d_name);
		char path[TH_PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (len != 20 || strcmp(de->d_name + 16, ".key") != 0) {
			continue; /* a temporary file of an interrupted write is allowed */
		}
		size_t size = 0;
		char *bytes = th_read_file(path, &size);
		assert_non_null(bytes);
		assert_int_equal(size, 65);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		uint64_t eui;
		char hex[17];
		memcpy(hex, de->d_name, 16);
		hex[16] = '\0';
		assert_int_equal(lf_eui_parse(hex, &eui), 0);
		struct gateway_key key;
		char err[256];
		assert_int_equal(keys_load(dir, eui, &key, err, sizeof(err)), 0);
		if (names != NULL && n < max) {
			memcpy(names[n], de->d_name, 21); /* "<16 hex>.key" and its NUL */
			memcpy(contents[n], bytes, 65);
		}
		free(bytes);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_kill_9_during_provisioning_leaves_whole_keys(void **state)
{
	struct th_suite *s = *state;
	char dir[TH_PATH_MAX];
	th_routerlink_keys_dir(&rl, dir, sizeof(dir));
	/* New gateways appear while routerlink makes their keys; it is killed
	 * as soon as a few exist, in the middle of the others. */
	bool killed = false;
	for (int i = 0; i < N_PROVISION; i++) {
		char topic[64];
		const char *payload = "{\"online\":true,\"bridge\":\"other\"}";
		snprintf(topic, sizeof(topic), "lorawan/aa555a00001f%04x/state", i);
		assert_int_equal(th_mqtt_publish(s->obs, topic, payload, strlen(payload), 1, true),
		                 0);
		if (!killed && th_routerlink_count_keys(dir) >= 10) {
			assert_int_equal(th_daemon_kill(&rl), 0);
			killed = true;
		}
	}
	assert_true(killed);
	static char names[N_PROVISION + 8][32];
	static uint8_t before[N_PROVISION + 8][65];
	int made = check_keys(dir, names, before, N_PROVISION + 8);
	print_message("kill -9 after %d of %d keys\n", made, N_PROVISION + 1);
	assert_true(made >= 10);
	/* Interrupted for real, or the test would prove nothing. */
	assert_true(made < N_PROVISION + 1);

	/* Restarted, it provisions the rest (the retained states, and what its
	 * persistent session kept) and keeps every key it had. */
	assert_int_equal(th_routerlink_restart(&rl), 0);
	int64_t deadline = lf_now_ms() + WAIT_MS;
	while (th_routerlink_count_keys(dir) < N_PROVISION + 1 && lf_now_ms() < deadline) {
		usleep(20000);
	}
	assert_int_equal(check_keys(dir, NULL, NULL, 0), N_PROVISION + 1); /* + MAC's */
	for (int i = 0; i < made; i++) {
		char path[TH_PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		size_t size = 0;
		char *now = th_read_file(path, &size);
		assert_non_null(now);
		assert_int_equal(size, 65);
		assert_memory_equal(now, before[i], 65);
		free(now);
	}
}

static int
setup(void **state)
{
	*state = &suite;
	return th_routerlink_setup(state, &router, &rl, "it-rlin", "metrics_interval = 1s\n");
}

static int
teardown(void **state)
{
	return th_routerlink_teardown(&router, &rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_garbage_is_counted_and_good_uplinks_flow),
	        cmocka_unit_test(test_kill_9_during_provisioning_leaves_whole_keys),
	};
	int failed = cmocka_run_group_tests_name("it_routerlink_input", tests, setup, teardown);
	return th_suite_finish(&suite, failed);
}
