/*
 * One packet-router stream per gateway, and the manager that drives them
 * all from one timer. Per stream: register (gateway key) -> session offer
 * -> session_init (fresh session key) -> uplinks signed by the session
 * key. While a stream is not ready, uplinks wait in a bounded queue;
 * failures back off (doubling, with jitter); a healthy stream is recycled
 * before the router's 35-minute kill.
 *
 * Owner thread only (the lf_loop's).
 */
#ifndef ROUTERLINK_STREAM_H
#define ROUTERLINK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "region.h"
#include "router_codec.h"
#include "uplink_codec.h"

struct lf_loop;
struct rl_grpc;
struct rl_stream;
struct rl_streams;

enum rl_stream_state {
	RL_STREAM_BACKOFF,    /* waiting before the next attempt */
	RL_STREAM_CONNECTING, /* call open, register sent, no session yet */
	RL_STREAM_CONNECTED,  /* session key sent: uplinks flow */
};

/* "backoff", "connecting", "connected" (the hotspot topic's router field) */
const char *rl_stream_state_name(enum rl_stream_state state);

enum rl_drop {
	RL_DROP_QUEUE_FULL, /* the oldest held uplink made room for a new one */
	RL_DROP_STALE,      /* held longer than queue_max_age */
	RL_DROP_ENCODE,     /* could not be encoded (should not happen) */
};

struct rl_stream_hooks {
	void (*on_state)(void *arg, struct rl_stream *s, enum rl_stream_state state);
	void (*on_downlink)(void *arg, struct rl_stream *s, const struct router_msg *msg);
	void (*on_sent)(void *arg, struct rl_stream *s, const struct uplink *up, uint64_t hold_ms);
	void (*on_drop)(void *arg, struct rl_stream *s, enum rl_drop why, unsigned count);
	void (*on_attempt)(void *arg, struct rl_stream *s); /* a new call was opened */
	/* A recycled stream is over: ended by the router after our end of
	 * stream (graceful), or cancelled after recycle_timeout_ms. */
	void (*on_recycled)(void *arg, struct rl_stream *s, bool graceful);
};

struct rl_stream_config {
	Helium__Region region;
	size_t queue_size;
	int64_t queue_max_age_ms;
	int64_t backoff_min_ms, backoff_max_ms;
	int64_t backoff_reset_ms; /* a stream this old when it ends resets the backoff */
	int64_t recycle_ms;
	int64_t connect_timeout_ms; /* no session offer this long after opening: retry */
	int64_t recycle_timeout_ms; /* a recycled stream not ended by the router: cancel */
};

struct rl_streams *rl_streams_new(struct lf_loop *loop, struct rl_grpc *grpc,
                                  const struct rl_stream_config *cfg,
                                  const struct rl_stream_hooks *hooks, void *arg);
/* Ends every stream and frees them. */
void rl_streams_free(struct rl_streams *m);

/* A stream for the gateway, connecting at once; the key is copied. */
struct rl_stream *rl_streams_add(struct rl_streams *m, uint64_t eui, const struct gateway_key *key);

/* Sends the uplink now, or holds it until the stream is ready. */
void rl_stream_uplink(struct rl_stream *s, const struct uplink *up);

uint64_t rl_stream_eui(const struct rl_stream *s);
enum rl_stream_state rl_stream_state(const struct rl_stream *s);
/* Wall-clock ms of the last change to connected (0 when never). */
int64_t rl_stream_connected_since(const struct rl_stream *s);
size_t rl_stream_held(const struct rl_stream *s);
void *rl_stream_user(const struct rl_stream *s);
void rl_stream_set_user(struct rl_stream *s, void *user);

#endif
