/*
 * The gRPC side of routerlink: a small pool of channels to the packet
 * router and bidirectional `route` calls over them, on gRPC C core.
 *
 * Threads: the owner thread (an lf_loop) opens calls and starts every
 * batch, so no call is ever touched by two threads; one pump thread only
 * waits on the completion queue and hands each completion to the owner
 * through a queue and an eventfd. Events reach the owner's callback on
 * the owner's thread.
 */
#ifndef ROUTERLINK_GRPC_LINK_H
#define ROUTERLINK_GRPC_LINK_H

#include <stddef.h>
#include <stdint.h>

struct lf_loop;
struct rl_grpc;
struct rl_call;

enum rl_call_event {
	RL_CALL_MESSAGE, /* a message from the router: data/len valid during the callback */
	RL_CALL_SENT,    /* the oldest message given to rl_call_send() was written */
	RL_CALL_CLOSED,  /* the call is over: status and details say why; release it.
	                  * Messages not reported SENT by then were not written. */
};

typedef void (*rl_call_fn)(void *arg, struct rl_call *call, enum rl_call_event event,
                           const uint8_t *data, size_t len, int status, const char *details);

struct rl_grpc_options {
	const char *uri;      /* http://host:port (h2c) or https://host:port */
	int channels;         /* separate HTTP/2 connections, 1..16 */
	int64_t keepalive_ms; /* HTTP/2 PING interval */
};

/* Starts gRPC, the channels and the pump thread; NULL with a log line. */
struct rl_grpc *rl_grpc_new(struct lf_loop *loop, const struct rl_grpc_options *opts);
/* Cancels every call, drains, stops the pump, frees. */
void rl_grpc_free(struct rl_grpc *g);

/*
 * Opens a `route` call on channel (index % channels). Nothing is sent until
 * the first rl_call_send(); the call waits for the channel to be ready
 * (WAIT_FOR_READY), so a router that is down is waited for, not retried
 * in a storm. NULL when gRPC refuses.
 */
struct rl_call *rl_grpc_open(struct rl_grpc *g, unsigned channel, rl_call_fn fn, void *arg);

/* Queues one message (copied); messages leave in order, one at a time.
 * Returns -1 when the call is closed or out of memory. */
int rl_call_send(struct rl_call *call, const uint8_t *data, size_t len);
/* Messages queued or in flight. */
size_t rl_call_backlog(const struct rl_call *call);
/* Ends our side gracefully: after the messages already queued, the
 * router gets the end of the stream, and answers with its status
 * (RL_CALL_CLOSED). Messages from the router still arrive until then;
 * rl_call_send() refuses from now on. */
void rl_call_close_send(struct rl_call *call);
/* Ends the call from our side at once (RST_STREAM): what gRPC has taken
 * but not yet written is lost. RL_CALL_CLOSED follows. */
void rl_call_cancel(struct rl_call *call);
/* The owner is done with the call (after RL_CALL_CLOSED, or to abandon
 * it: then it is cancelled and no more events arrive). */
void rl_call_release(struct rl_call *call);

/* "READY", "CONNECTING", ... for a channel, for logs and metrics. */
const char *rl_grpc_channel_state(struct rl_grpc *g, unsigned channel);

#endif
