/*
 * Integration test harness: a real mosquitto per test executable on a free
 * loopback port, the real daemon binary started from a generated INI, fake
 * Semtech forwarders (two UDP sockets each, like the real one) and a
 * paho-mqtt-c observer.
 *
 * Everything lives in one temporary directory per executable; it is removed
 * when every test passed and kept (with the logs' tails printed) otherwise.
 * Nothing here is global: a test file keeps a struct th_suite in main() and
 * hands it to every test through cmocka's state (TH_TEST).
 *
 * Waiting is always "poll with a deadline"; the only fixed-length waits are
 * the short "nothing arrives" windows and the length of a simulated outage,
 * where the duration is the point of the test.
 */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include "lf/util.h" /* lf_now_ms() */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cJSON.h>
#include <cmocka.h>

#define TH_PATH_MAX     512
#define TH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic milliseconds, for deadlines. */
/* Wall clock in microseconds since the epoch, to check timestamps. */
int64_t th_wall_us(void);

/* ---------------------------------------------------------------------- */
/* Temporary directory and processes                                      */

struct th_env {
	char dir[TH_PATH_MAX];
};

/* mkdtemp under $TMPDIR (default /tmp) as lf-it-<name>-XXXXXX. */
int th_env_init(struct th_env *env, const char *name);
/* Prints the tail of every *.log when failed; otherwise removes the dir. */
void th_env_finish(struct th_env *env, bool failed);
/* "<dir>/<name>" into out. */
void th_env_path(const struct th_env *env, const char *name, char *out, size_t outlen);

int th_write_file(const char *path, const char *text);
/* The whole file, NUL-terminated, malloc'd; NULL when unreadable. */
char *th_read_file(const char *path, size_t *len);
/* Prints the last `lines` lines of a file to stderr, under a header. */
void th_print_tail(const char *path, int lines);

/* A port that was free a moment ago (bind 127.0.0.1:0, getsockname). */
int th_free_port(uint16_t *port);
/* Whether a TCP connect to 127.0.0.1:port succeeds now. */
bool th_tcp_connects(uint16_t port);

/*
 * Starts argv[0] with stdin from /dev/null and stdout+stderr appended to
 * out_path. The child gets SIGKILL if this process dies first (setpriv
 * --pdeathsig), so a crashed test leaves no broker or daemon behind.
 * Returns the pid or -1.
 */
pid_t th_spawn(const char *const argv[], const char *out_path);
/*
 * th_spawn for a daemon binary (bridge, routerlink, apigw). When
 * $LF_TEST_DAEMON_WRAPPER is set, its words (split on spaces) go before
 * argv: valgrind and its options under scripts/test --valgrind. A wrapper
 * must exec the daemon in place (valgrind does), so the pid stays the
 * daemon's and signals reach it.
 */
pid_t th_spawn_daemon(const char *const argv[], const char *out_path);
/* ms times $LF_TEST_TIMEOUT_SCALE (a number >= 1, default 1): the harness's
 * waits for something to happen, stretched for a slow wrapper. */
int th_timeout_ms(int ms);
/* waitpid with a deadline: 1 when it exited (status stored), 0 on timeout. */
int th_wait_exit(pid_t pid, int timeout_ms, int *status);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the wait status. */
int th_terminate(pid_t pid, int timeout_ms);
/* Exit code when exited, 128 + signal when killed. */
int th_exit_code(int status);

/* ---------------------------------------------------------------------- */
/* Broker                                                                 */

struct th_broker {
	struct th_env *env;
	bool persistent;        /* set before the first start: sessions survive kill -9 */
	const char *extra_conf; /* lines appended to mosquitto.conf (NULL: none) */
	pid_t pid;              /* 0 when not running */
	uint16_t port;          /* chosen at the first start, kept for restarts */
	char conf_path[TH_PATH_MAX];
	char log_path[TH_PATH_MAX];
};

/* First start: picks a free port (retries on "address in use"). Later
 * starts (after stop/kill) reuse the same port. Ready when TCP connects. */
int th_broker_start(struct th_broker *b);
int th_broker_stop(struct th_broker *b); /* SIGTERM, clean */
/*
 * SIGKILL, like a crash. paho's synchronous client has a flaw: a socket
 * error on one client's connection can make a receive on another client
 * disconnect that other client. So across a broker kill keep a single
 * MQTT client connected in the test process, and th_mqtt_reconnect() it
 * before using any other client.
 */
int th_broker_kill(struct th_broker *b);
/* Persistent broker: makes mosquitto write its database now (SIGUSR1) and
 * waits until the new file is in place, so everything the broker has
 * processed so far (e.g. a SUBACKed subscription) survives kill -9. */
int th_broker_save(struct th_broker *b);
int th_broker_pause(struct th_broker *b);  /* SIGSTOP */
int th_broker_resume(struct th_broker *b); /* SIGCONT */

/* ---------------------------------------------------------------------- */
/* The daemon under test                                                  */

struct th_daemon {
	struct th_env *env;
	pid_t pid;  /* 0 once reaped */
	int status; /* wait status once reaped */
	char instance[64];
	uint16_t udp_port; /* parsed from "udp listening on 127.0.0.1:<port>" */
	char ini_path[TH_PATH_MAX];
	char log_path[TH_PATH_MAX];
};

/* Clears d and names its files after the instance: <dir>/<instance>.ini
 * and <dir>/<instance>.log. */
void th_daemon_init(struct th_daemon *d, struct th_env *env, const char *instance);

/*
 * Writes <dir>/<instance>.ini ([mqtt] at the broker, [log] level debug,
 * [bridge] udp_bind 127.0.0.1:0 and instance = <instance>, plus the extra
 * lines given for each section, "" for none) and starts LF_BRIDGE_BIN -c.
 * Ready when the log says where it listens (10 s max).
 */
int th_bridge_start(struct th_daemon *d, struct th_env *env, const struct th_broker *b,
                    const char *instance, const char *bridge_extra, const char *mqtt_extra);
/* SIGTERM and wait; returns the exit code (th_exit_code), -1 on error. */
int th_daemon_stop(struct th_daemon *d);
/* SIGKILL and reap; returns 0. */
int th_daemon_kill(struct th_daemon *d);
/* False once it has exited (it is then reaped and its status kept). */
bool th_daemon_alive(struct th_daemon *d);

/* Current size of the log: a mark to search from. */
size_t th_daemon_log_mark(const struct th_daemon *d);
/* Waits until a line at or after `from` matches the extended regex. */
int th_daemon_wait_log(const struct th_daemon *d, size_t from, const char *regex, int timeout_ms);
/* Number of complete lines at or after `from` (matching regex, NULL: all). */
int th_daemon_log_count(const struct th_daemon *d, size_t from, const char *regex);

/* ---------------------------------------------------------------------- */
/* MQTT observer (paho-mqtt-c, synchronous)                               */

struct th_msg {
	char *topic;
	char *payload; /* NUL-terminated copy */
	size_t len;
	int qos;
	bool retained;
	int64_t at_ms; /* th_now_ms() when received */
	uint64_t seq;  /* arrival order at this client, from 1 */
	struct th_msg *next;
};

struct th_mqtt;

/* Connects (retrying while the broker starts, up to timeout_ms). A NULL
 * client_id makes a unique one; clean false keeps a persistent session. */
struct th_mqtt *th_mqtt_connect(const struct th_broker *b, const char *client_id, bool clean,
                                int timeout_ms);
void th_mqtt_close(struct th_mqtt *m);
/* After the broker came back: connects again with the same id and session
 * type. Returns the broker's session-present flag (0/1) or -1. */
int th_mqtt_reconnect(struct th_mqtt *m, int timeout_ms);
int th_mqtt_subscribe(struct th_mqtt *m, const char *pattern, int qos);
int th_mqtt_publish(struct th_mqtt *m, const char *topic, const char *payload, size_t len, int qos,
                    bool retained);
/* Publishes a NUL-terminated payload at QoS 1, not retained. */
int th_mqtt_publish_str(struct th_mqtt *m, const char *topic, const char *payload);

/*
 * The oldest message on a topic matching pattern (MQTT wildcards) that
 * arrived and was not yet taken, waiting up to timeout_ms. Messages on
 * other topics are kept for later waits. NULL on timeout.
 */
struct th_msg *th_mqtt_wait(struct th_mqtt *m, const char *pattern, int timeout_ms);
/* Receives for window_ms and returns how many matching messages arrived
 * (including ones already waiting); they are dropped. */
int th_mqtt_count_for(struct th_mqtt *m, const char *pattern, int window_ms);
/* Drops the messages already received that match pattern. */
void th_mqtt_discard(struct th_mqtt *m, const char *pattern);
void th_msg_free(struct th_msg *msg);

/* The retained message on `topic` as a fresh subscriber sees it. NULL when
 * there is none within timeout_ms. */
struct th_msg *th_mqtt_read_retained(const struct th_broker *b, const char *topic, int timeout_ms);

bool th_topic_matches(const char *pattern, const char *topic);

/* ---------------------------------------------------------------------- */
/* Fake Semtech packet forwarder                                          */

#define TH_PUSH_DATA 0x00
#define TH_PUSH_ACK  0x01
#define TH_PULL_DATA 0x02
#define TH_PULL_RESP 0x03
#define TH_PULL_ACK  0x04
#define TH_TX_ACK    0x05

#define TH_UDP_MAX 65507

struct th_gateway {
	char mac[17];
	uint8_t eui[8];
	uint8_t version; /* used by the convenience helpers */
	uint16_t next_token;
	int up_fd;   /* PUSH_DATA */
	int down_fd; /* PULL_DATA, TX_ACK; PULL_RESP arrives here */
	uint16_t up_port, down_port;
	char ip[16];
};

enum th_sock { TH_UP, TH_DOWN };

/* Two sockets bound to src_ip:0 (NULL: 127.0.0.1) and connect()ed to the
 * bridge at 127.0.0.1:bridge_port. mac is 16 hex digits. */
int th_gw_open(struct th_gateway *gw, const char *mac, const char *src_ip, uint16_t bridge_port);
void th_gw_close(struct th_gateway *gw);
/* Replaces the down socket by a new one (a new source port, as after a
 * NAT rebinding); src_ip NULL keeps the address. */
int th_gw_rebind_down(struct th_gateway *gw, const char *src_ip);

int th_gw_send_raw(struct th_gateway *gw, enum th_sock s, const void *data, size_t len);
/* Header (version, token, type, EUI) + body (may be NULL). */
int th_gw_send(struct th_gateway *gw, enum th_sock s, uint8_t version, uint16_t token, uint8_t type,
               const void *body, size_t body_len);
int th_gw_send_push(struct th_gateway *gw, uint8_t version, uint16_t token, const char *json);
int th_gw_send_pull(struct th_gateway *gw, uint8_t version, uint16_t token);

/* Receives one datagram within timeout_ms; length, or -1 on timeout. */
ssize_t th_gw_recv(struct th_gateway *gw, enum th_sock s, uint8_t *buf, size_t cap, int timeout_ms);
/* Waits for the 4-byte ack (version, token, type); 0 when it matches. Any
 * other datagram on that socket is a failure (explained on stderr). */
int th_gw_expect_ack(struct th_gateway *gw, enum th_sock s, uint8_t version, uint16_t token,
                     uint8_t type, int timeout_ms);
/* PUSH_DATA with the next token and gw->version, then its PUSH_ACK. */
int th_gw_push(struct th_gateway *gw, const char *json);
/* PULL_DATA with the next token and gw->version, then its PULL_ACK. */
int th_gw_pull(struct th_gateway *gw);
/* Drops whatever is waiting on the socket; returns how many datagrams. */
int th_gw_drain(struct th_gateway *gw, enum th_sock s);

struct th_pull_resp {
	uint8_t version;
	uint16_t token;
	char *json; /* the body, NUL-terminated, malloc'd */
	cJSON *root;
};
/* Waits for a PULL_RESP on the down socket; 0 or -1 (reason on stderr). */
int th_gw_recv_pull_resp(struct th_gateway *gw, struct th_pull_resp *out, int timeout_ms);
void th_pull_resp_free(struct th_pull_resp *r);

/* ---------------------------------------------------------------------- */
/* JSON helpers                                                           */

/* Copy without whitespace outside strings. */
char *th_json_minify(const char *json);
/* The raw text of top-level member `key` of an object, malloc'd, or NULL. */
char *th_json_member_text(const char *json, const char *key);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" exactly (6 fraction digits). */
int th_parse_rfc3339_us(const char *text, int64_t *us_since_epoch);

/* Value of family `name`'s series whose labels hold key=value (key NULL:
 * the series without labels). False when there is no such series. */
bool th_metric_value(const cJSON *snapshot, const char *name, const char *label_key,
                     const char *label_value, double *out);

struct th_metric_expect {
	const char *name;
	const char *label_key; /* NULL: no labels */
	const char *label_value;
	double value;
};

/*
 * Reads snapshots on `topic` (the observer must be subscribed) until one
 * shows every expected value (an absent series counts as 0). Counters only
 * grow, so a value above its expectation fails at once. 0 on success, -1
 * with the last values seen printed.
 */
int th_wait_metrics(struct th_mqtt *m, const char *topic, const struct th_metric_expect *e,
                    size_t n, int timeout_ms);

/* ---------------------------------------------------------------------- */
/* Assertions (fail the current cmocka test, naming the caller's line)    */

void th_assert_str_at(const cJSON *obj, const char *key, const char *want, const char *file,
                      int line);
void th_assert_num_at(const cJSON *obj, const char *key, double want, const char *file, int line);
void th_assert_bool_at(const cJSON *obj, const char *key, bool want, const char *file, int line);
void th_assert_null_at(const cJSON *obj, const char *key, const char *file, int line);
void th_assert_absent_at(const cJSON *obj, const char *key, const char *file, int line);
void th_assert_nonempty_str_at(const cJSON *obj, const char *key, const char *file, int line);
/* `key` is an RFC 3339 µs timestamp within max_skew_s of now. */
void th_assert_recent_at(const cJSON *obj, const char *key, int max_skew_s, const char *file,
                         int line);
/* The member's text equals `want` once both are minified. */
void th_assert_member_text_at(const char *json, const char *key, const char *want, const char *file,
                              int line);
struct th_msg *th_wait_msg_at(struct th_mqtt *m, const char *pattern, int timeout_ms,
                              const char *file, int line);
cJSON *th_parse_at(const char *text, const char *file, int line);

#define TH_ASSERT_STR(obj, key, want)    th_assert_str_at((obj), (key), (want), __FILE__, __LINE__)
#define TH_ASSERT_NUM(obj, key, want)    th_assert_num_at((obj), (key), (want), __FILE__, __LINE__)
#define TH_ASSERT_BOOL(obj, key, want)   th_assert_bool_at((obj), (key), (want), __FILE__, __LINE__)
#define TH_ASSERT_NULL(obj, key)         th_assert_null_at((obj), (key), __FILE__, __LINE__)
#define TH_ASSERT_ABSENT(obj, key)       th_assert_absent_at((obj), (key), __FILE__, __LINE__)
#define TH_ASSERT_NONEMPTY_STR(obj, key) th_assert_nonempty_str_at((obj), (key), __FILE__, __LINE__)
#define TH_ASSERT_RECENT(obj, key, skew)                                                           \
	th_assert_recent_at((obj), (key), (skew), __FILE__, __LINE__)
#define TH_ASSERT_MEMBER_TEXT(json, key, want)                                                     \
	th_assert_member_text_at((json), (key), (want), __FILE__, __LINE__)
/* Waits for a message or fails the test. */
#define TH_WAIT_MSG(m, pattern, timeout)                                                           \
	th_wait_msg_at((m), (pattern), (timeout), __FILE__, __LINE__)
/* Parses JSON or fails the test. */
#define TH_PARSE(text) th_parse_at((text), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* A test executable's context                                            */

struct th_suite {
	/* Filled in by the test file before running. */
	const char *name;         /* temp dir name; the bridge is instance it-<name> */
	const char *bridge_extra; /* [bridge] lines for the default bridge */
	const char *mqtt_extra;   /* [mqtt] lines for the default bridge */
	bool persistent_broker;
	bool persistent_observer; /* clean_session 0, client id it-<name>-obs */
	/* Set up lazily by the first test's setup. */
	bool started;
	bool start_failed;
	struct th_env env;
	struct th_broker broker;
	struct th_daemon bridge;
	struct th_mqtt *obs; /* subscribed to lorawan/# and lorafleet/# at QoS 1 */
	void *user;          /* the test file's own data */
};

/* cmocka setup: starts env, broker, default bridge and observer once;
 * afterwards checks the default bridge is still running. */
int th_suite_setup(void **state);
/*
 * Called by main() with cmocka's failure count: stops the observer, the
 * default bridge (a non-zero exit, e.g. an ASan leak report, counts as a
 * failure) and the broker, prints logs on failure, removes the temp dir
 * otherwise. Returns main's exit code.
 */
int th_suite_finish(struct th_suite *s, int failed);

#define TH_TEST(fn, suite) cmocka_unit_test_prestate_setup_teardown(fn, th_suite_setup, NULL, suite)

/*
 * Another bridge on the suite's broker, for one test: `instance` with its
 * [bridge] lines (may be NULL) and, when prefix is not NULL, its topics
 * under <prefix>/ (the observer subscribed to <prefix>/# first), so that
 * the suite's bridge leaves its downlinks alone. Returns once the observer
 * has seen it online (within timeout_ms); fails the test otherwise.
 */
void th_suite_bridge_at(struct th_suite *s, struct th_daemon *d, const char *instance,
                        const char *bridge_extra, const char *prefix, int timeout_ms,
                        const char *file, int line);
#define TH_SUITE_BRIDGE(s, d, instance, bridge_extra, prefix, timeout_ms)                          \
	th_suite_bridge_at((s), (d), (instance), (bridge_extra), (prefix), (timeout_ms), __FILE__, \
	                   __LINE__)

/* ---------------------------------------------------------------------- */
/* Bridge helpers                                                         */

/* "lorawan/<mac>/<leaf>". */
void th_topic(char *out, size_t outlen, const char *mac, const char *leaf);

/* PUSH_DATA with the next token; waits for its PUSH_ACK, skipping (and
 * counting in *other, may be NULL) any other datagram on the up socket. */
int th_gw_push_sync(struct th_gateway *gw, const char *json, int *other);

/* A PUSH_DATA body with one valid rxpk carrying "sentinel":"<tag>". */
void th_sentinel_json(char *out, size_t outlen, const char *tag);

/* Sends a sentinel uplink and asserts that the next message on `pattern`
 * is that uplink: whatever was sent before it produced nothing there. */
void th_sentinel_at(struct th_mqtt *m, struct th_gateway *gw, const char *pattern, const char *tag,
                    const char *file, int line);
#define TH_SENTINEL(m, gw, pattern, tag)                                                           \
	th_sentinel_at((m), (gw), (pattern), (tag), __FILE__, __LINE__)

/* Waits for the next ack on lorawan/<mac>/ack and asserts mac, id (NULL:
 * JSON null), error, QoS 1 and not retained. Returns it (th_msg_free). */
struct th_msg *th_wait_ack_at(struct th_mqtt *m, const char *mac, const char *id, const char *error,
                              const char *file, int line);
#define TH_WAIT_ACK(m, mac, id, error) th_wait_ack_at((m), (mac), (id), (error), __FILE__, __LINE__)

/*
 * Waits for the bridge's birth ({"online":true} on
 * lorafleet/bridge/<instance>/state; m must be subscribed): from then on
 * nothing it publishes is held back for its first connection, which would
 * also make it republish the gateways' states.
 */
int th_wait_bridge_online(struct th_mqtt *m, const char *instance, int timeout_ms);

/* Publishes a down request on lorawan/<mac>/down (QoS 1). */
int th_publish_down(struct th_mqtt *m, const char *mac, const char *payload);

/* The PULL_RESP txpk holds every field sent, with equal values (numbers
 * exactly), and nothing else but rfch and size. */
void th_assert_txpk_at(const cJSON *sent, const cJSON *got, const char *file, int line);
#define TH_ASSERT_TXPK(sent, got) th_assert_txpk_at((sent), (got), __FILE__, __LINE__)

#endif
