/*
 * apigw's context, shared by daemon.c (threads, MQTT), http.c (the lws
 * server) and handlers.c (the routes).
 *
 * Threads: the lws service thread (main) owns the model (fleet, SSE ring,
 * metrics snapshots), every HTTP session and the pending RPCs. The MQTT
 * thread runs an lf_loop with lf_mqtt; it only queues what it receives in
 * `inbox` and calls lws_cancel_service() (the one lws call allowed from
 * another thread); the lws thread applies the inbox in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED. Publishing goes the other way: the lws
 * thread queues in `outbox` and writes to outbox_fd, which the MQTT
 * thread's loop watches. `lock` guards both queues and `lws_ctx_live`.
 */
#ifndef APIGW_DAEMON_INTERNAL_H
#define APIGW_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "apigw.h"
#include "auth.h"
#include "buf.h"
#include "lf/metrics.h"
#include "lf/util.h"
#include "model.h"
#include "rpc.h"

/* Past this many unapplied messages, live traffic (not retained state) is
 * dropped and counted: the lws thread is not keeping up. */
#define INBOX_MAX 200000
/* Messages applied per lws wake-up before sockets get a turn again. */
#define INBOX_BATCH 4096

/* How often event streams and waiting requests are checked for clients
 * that left (see check_clients in http.c). */
#define CLIENT_CHECK_MS 200
/* ...and at once, at most this often, when the service loop spins. */
#define SPIN_CHECK_MS 20

/* The most one lws_write() sends of a response body or event stream. */
#define HTTP_CHUNK 65536

/* A message crossing between the threads. */
struct xmsg {
	struct xmsg *next;
	char *topic;
	char *payload; /* NUL-terminated */
	size_t len;
	bool retained;
	bool rpc; /* outbox: a v5 request with reply topic + correlation */
	uint8_t corr[RPC_CORR_LEN];
	size_t corr_len;
	int64_t expiry_s; /* outbox rpc: message expiry interval */
};

struct pss;

struct apigw {
	const struct apigw_settings *settings;
	const struct apigw_config *cfg;
	char instance[64];
	char started_at[LF_RFC3339_LEN];
	char self_topic[160];
	char reply_topic[160];
	struct lf_metrics *metrics;
	struct auth_keys keys;

	/* lws thread */
	struct lws_context *lws;
	uint16_t http_port;
	struct apigw_model model;
	struct pss *sse_clients;
	size_t n_sse;
	struct pss *rpc_waiting;
	uint64_t rpc_nonce, rpc_seq;
	lws_sorted_usec_list_t hb_sul, check_sul;
	struct lf_metric *m_sse_clients, *m_sse_refused, *m_sse_overflows, *m_sse_missed;
	struct lf_metric *m_rpc_timeouts, *m_inbox_dropped, *m_prom_skipped;
	unsigned char wbuf[LWS_PRE + HTTP_CHUNK]; /* response body chunks */
	struct abuf sse_buf;                      /* event stream writes */

	/* crossing threads */
	pthread_mutex_t lock;
	struct xmsg *in_head, *in_tail;
	size_t in_count;
	struct xmsg *out_head, *out_tail;
	bool lws_ctx_live; /* lws_cancel_service() may be called */
	bool quit;         /* the MQTT thread should say goodbye and end */
	atomic_bool stopping;
	atomic_bool mqtt_connected;
	int outbox_fd;

	/* MQTT thread */
	pthread_t mqtt_thread;
	bool mqtt_thread_started;
	struct lf_loop *loop;
	struct lf_mqtt *mqtt;
};

/* daemon.c (lws thread): applies everything the MQTT thread queued. */
void apigw_drain_inbox(struct apigw *gw);
/* daemon.c (lws thread): hands a publish to the MQTT thread; takes m. */
void apigw_publish(struct apigw *gw, struct xmsg *m);
/* daemon.c: an RPC reply arrived (lws thread). */
void apigw_rpc_reply(struct apigw *gw, const struct xmsg *m);

/* http.c */
int http_start(struct apigw *gw);
void http_stop(struct apigw *gw);
/* routerlink's reply to request `seq` (ignored when nobody waits). */
void http_rpc_reply(struct apigw *gw, uint64_t seq, const char *payload, size_t len);
/* Closes event streams and waiting requests whose client left. */
void http_check_clients(struct apigw *gw);
/* New events in the ring: wake the SSE clients that have something. */
void http_sse_wake(struct apigw *gw);

#endif
