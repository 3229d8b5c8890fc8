/*
 * The deployment broker: mosquitto running broker-config/mosquitto.conf and
 * broker-config/acl as shipped, with the secrets broker-config/mkcerts
 * makes, and an MQTT client that logs in as one of its users.
 *
 * The configuration is rewritten only where a test must differ from a
 * deployment: the two listener ports (1883 and 8883 become free loopback
 * ports), the three path prefixes (/mosquitto/config/ is broker-config/ in
 * the source tree, so the ACL is the committed file itself;
 * /mosquitto/secrets/ and /mosquitto/data/ are in the test's directory),
 * and, when the test runs as root, "user root" (mosquitto would otherwise
 * switch to the mosquitto user, which cannot read the 0600 secrets).
 */
#ifndef TH_DEPLOY_H
#define TH_DEPLOY_H

#include "harness.h"

struct th_deploy {
	struct th_env *env;
	pid_t pid;                 /* 0 when not running */
	uint16_t port;             /* the plain listener (1883 in the file) */
	uint16_t tls_port;         /* the TLS listener (8883 in the file) */
	char secrets[TH_PATH_MAX]; /* <dir>/secrets: what mkcerts wrote */
	char ca[TH_PATH_MAX];      /* <dir>/secrets/ca.crt */
	char conf_path[TH_PATH_MAX];
	char log_path[TH_PATH_MAX];
};

/* Runs broker-config/mkcerts -o <dir>/secrets, writes the rewritten
 * configuration and starts mosquitto; ready when both listeners accept
 * connections. 0 or -1 (reason and log on stderr). */
int th_deploy_start(struct th_deploy *d, struct th_env *env);
/* Runs broker-config/mkcerts -o out_dir (its output in <dir>/mkcerts.log). */
int th_mkcerts(struct th_env *env, const char *out_dir);
/* SIGTERM and wait; 0 when it exited cleanly. */
int th_deploy_stop(struct th_deploy *d);

/* The password mkcerts made for `user` (LORAFLEET_MQTT_PASSWORD in
 * <secrets>/<user>.env). 0 or -1. */
int th_deploy_password(const struct th_deploy *d, const char *user, char *out, size_t outlen);

/* A th_broker that points the daemon starters (th_bridge_start, ...) at
 * one of the listeners; only its port is used. */
void th_deploy_listener(const struct th_deploy *d, bool tls, struct th_broker *out);

/* ---------------------------------------------------------------------- */
/* A client with a user name, through libmosquitto (reason codes visible)  */

struct th_client;

struct th_client_opts {
	uint16_t port;
	const char *user;     /* NULL: anonymous */
	const char *password; /* NULL: th_deploy_password(user) when deploy is set */
	const struct th_deploy *deploy;
	const char *cafile; /* TLS with this CA; NULL: plain TCP */
	const char *host;   /* NULL: 127.0.0.1 (checked against the certificate) */
	int version;        /* 4 (MQTT 3.1.1, the default) or 5 */
};

/*
 * Connects and waits for the CONNACK. *connack gets its code (0 accepted;
 * 5 "not authorised" in 3.1.1, 135 in v5) or -1 when there was none (TCP
 * or TLS failure). Returns the client when accepted, otherwise NULL.
 */
struct th_client *th_client_connect(const struct th_client_opts *o, int *connack, int timeout_ms);
void th_client_close(struct th_client *c);
int th_client_version(const struct th_client *c);
/* SUBSCRIBE, waiting for the SUBACK: the granted QoS (or v5 reason code),
 * -1 on timeout or error. */
int th_client_subscribe(struct th_client *c, const char *pattern, int qos);
/* QoS 1 publish, not retained, waiting for the PUBACK: its reason code
 * (MQTT 3.1.1 has none: 0), -1 on timeout or error. */
int th_client_publish(struct th_client *c, const char *topic, const char *payload);
/* The oldest message received and not yet taken (any topic), waiting up to
 * timeout_ms; NULL on timeout. */
struct th_msg *th_client_next(struct th_client *c, int timeout_ms);

#endif
