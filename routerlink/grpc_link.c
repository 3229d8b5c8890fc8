/*
 * gRPC C core 1.51 client for the packet router's `route` stream.
 *
 * Every call has three kinds of batch in flight at most once each (C core
 * refuses a second one of a kind): the STATUS batch (completes when the
 * call is over, for any reason), one send (initial metadata first, then
 * messages from the call's FIFO, one at a time) and one receive. Each
 * batch's tag is one of the call's three `struct op`; `pending` counts the
 * batches in flight, and the call is freed only when it is zero and the
 * owner has released it, because the STATUS batch can complete before
 * the failed send and receive batches do.
 *
 * Who polls the completion queue. gRPC makes progress (reads its sockets,
 * delivers completions) only in threads that call
 * grpc_completion_queue_next(), and whenever a completion lands in an
 * empty queue it kicks the thread blocked there (an eventfd write, a
 * wake-up, a context switch). Most completions are the owner's own sends,
 * which complete inline: with a thread always blocked in the queue that
 * is a kick per uplink, measured at more kernel time than the signing.
 * So polling adapts to the traffic:
 * - busy (activity in the last BUSY_WINDOW_MS): the owner drains the
 *   queue itself, without blocking, before each sleep of its loop, and
 *   sleeps at most BUSY_POLL_MS so that router messages wait no longer;
 *   nobody is blocked in the queue, so nobody is kicked;
 * - idle: the pump thread blocks in the queue and hands over whatever
 *   arrives through an eventfd, then parks until released again.
 */
#include "grpc_link.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "lf/log.h"
#include "lf/loop.h"
#include "lf/util.h"

#define MAX_CHANNELS   16
#define BUSY_WINDOW_MS 20
#define BUSY_POLL_MS   1
#define TRIM_EVERY_MS  60000
#define ROUTE_METHOD   "/helium.packet_router.packet/route"

enum op_kind {
	OP_SEND,
	OP_RECV,
	OP_STATUS,
};

struct op {
	enum op_kind kind;
	struct rl_call *call;
};

struct out_msg {
	struct out_msg *next;
	size_t len;
	uint8_t data[];
};

struct rl_call {
	struct rl_grpc *g;
	grpc_call *call;
	rl_call_fn fn;
	void *arg;
	struct op send_op, recv_op, status_op;
	int pending;        /* batches in flight */
	bool sending;       /* the send slot is busy (metadata or a message) */
	bool closed;        /* STATUS arrived */
	bool released;      /* the owner let go */
	bool close_wanted;  /* rl_call_close_send(): half-close once the FIFO is empty */
	bool close_started; /* the half-close batch was started */
	struct out_msg *head, *tail;
	size_t backlog;
	grpc_byte_buffer *send_bb, *recv_bb;
	grpc_metadata_array initial_md, trailing_md;
	grpc_status_code status;
	grpc_slice details;
	const char *error_string;
};

struct completion {
	struct completion *next;
	struct op *op;
	bool success;
};

struct rl_grpc {
	struct lf_loop *loop;
	grpc_completion_queue *cq;
	grpc_channel *channels[MAX_CHANNELS];
	int n_channels;
	pthread_t pump;
	int wakefd;
	pthread_mutex_t lock;
	pthread_cond_t pump_cond;
	bool pump_go;      /* released by the owner: poll once */
	bool pump_polling; /* blocked in the queue (or about to be) */
	bool pump_stop;    /* rl_grpc_free */
	int64_t last_activity_ms;
	uint64_t busy_timer;
	struct completion *head, *tail;
	size_t live_calls;
	size_t calls_freed_since_trim;
	uint64_t trim_timer;
	struct rl_call *dispatching; /* the call whose completion is being handled */
};

/* ---- pump thread ------------------------------------------------------ */

static void *
pump_main(void *arg)
{
	struct rl_grpc *g = arg;
	for (;;) {
		pthread_mutex_lock(&g->lock);
		while (!g->pump_go && !g->pump_stop) {
			pthread_cond_wait(&g->pump_cond, &g->lock);
		}
		bool stop = g->pump_stop;
		g->pump_go = false;
		g->pump_polling = !stop;
		pthread_mutex_unlock(&g->lock);
		if (stop) {
			return NULL;
		}
		grpc_event ev =
		        grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type != GRPC_OP_COMPLETE) {
			pthread_mutex_lock(&g->lock);
			g->pump_polling = false;
			pthread_mutex_unlock(&g->lock);
			if (ev.type == GRPC_QUEUE_SHUTDOWN) {
				return NULL;
			}
			continue;
		}
		struct completion *c = malloc(sizeof(*c));
		if (c == NULL) {
			/* Losing a completion would leak its call; nothing else
			 * can be done without memory. */
			LOG_ERROR("grpc: out of memory, a completion was lost");
			continue;
		}
		*c = (struct completion){.op = ev.tag, .success = ev.success != 0};
		pthread_mutex_lock(&g->lock);
		g->pump_polling = false;
		if (g->tail != NULL) {
			g->tail->next = c;
		} else {
			g->head = c;
		}
		g->tail = c;
		pthread_mutex_unlock(&g->lock);
		uint64_t one = 1;
		ssize_t n = write(g->wakefd, &one, sizeof(one));
		(void)n;
	}
}

/* ---- owner thread ----------------------------------------------------- */

static void
call_free_if_done(struct rl_call *c)
{
	if (c->pending > 0 || !c->released) {
		return;
	}
	while (c->head != NULL) {
		struct out_msg *m = c->head;
		c->head = m->next;
		free(m);
	}
	grpc_metadata_array_destroy(&c->initial_md);
	grpc_metadata_array_destroy(&c->trailing_md);
	grpc_slice_unref(c->details);
	gpr_free((void *)c->error_string);
	grpc_call_unref(c->call);
	c->g->live_calls--;
	c->g->calls_freed_since_trim++;
	free(c);
}

/*
 * Gives the heap that ended calls left behind back to the system. When
 * streams are replaced (recycled, or after the router went away), each
 * old call's memory is freed while the new calls are allocated, and glibc
 * keeps most of the holes: with 10,000 streams one round of recycles took
 * RSS from 171 to 290 MB, and malloc_trim(0) brought it to 202 MB in
 * 32 ms, where it stayed through the next rounds. So at most once a
 * minute, and only when calls ended since the last time.
 */
static int64_t
trim_heap(struct lf_loop *loop, void *arg)
{
	struct rl_grpc *g = arg;
	(void)loop;
	if (g->calls_freed_since_trim > 0) {
		int64_t start = lf_now_us();
		malloc_trim(0);
		LOG_DEBUG("grpc: %zu calls ended; heap trimmed in %lld us",
		          g->calls_freed_since_trim, (long long)(lf_now_us() - start));
		g->calls_freed_since_trim = 0;
	}
	return TRIM_EVERY_MS;
}

/* After the last queued message: the router reads every message, then
 * the end of our side. */
static void
start_close_send(struct rl_call *c)
{
	grpc_op op = {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT};
	c->close_started = true;
	if (grpc_call_start_batch(c->call, &op, 1, &c->send_op, NULL) != GRPC_CALL_OK) {
		grpc_call_cancel(c->call, NULL);
		return;
	}
	c->sending = true;
	c->pending++;
}

static void
start_send(struct rl_call *c)
{
	if (c->sending || c->closed) {
		return;
	}
	if (c->head == NULL) {
		if (c->close_wanted && !c->close_started) {
			start_close_send(c);
		}
		return;
	}
	struct out_msg *m = c->head;
	grpc_slice slice = grpc_slice_from_copied_buffer((const char *)m->data, m->len);
	c->send_bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	c->head = m->next;
	if (c->head == NULL) {
		c->tail = NULL;
	}
	free(m);
	grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
	op.data.send_message.send_message = c->send_bb;
	if (grpc_call_start_batch(c->call, &op, 1, &c->send_op, NULL) != GRPC_CALL_OK) {
		grpc_byte_buffer_destroy(c->send_bb);
		c->send_bb = NULL;
		c->backlog--;
		grpc_call_cancel(c->call, NULL);
		return;
	}
	c->sending = true;
	c->pending++;
}

static void
start_recv(struct rl_call *c)
{
	grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
	op.data.recv_message.recv_message = &c->recv_bb;
	if (grpc_call_start_batch(c->call, &op, 1, &c->recv_op, NULL) == GRPC_CALL_OK) {
		c->pending++;
	} else {
		grpc_call_cancel(c->call, NULL);
	}
}

static void
on_send_done(struct rl_call *c, bool success)
{
	bool was_message = c->send_bb != NULL;
	if (was_message) {
		grpc_byte_buffer_destroy(c->send_bb);
		c->send_bb = NULL;
		c->backlog--;
	}
	c->sending = false;
	if (success && was_message && !c->released) {
		c->fn(c->arg, c, RL_CALL_SENT, NULL, 0, 0, NULL);
	}
	if (success && !c->released) {
		start_send(c);
	}
	/* On failure the STATUS batch reports why. */
}

static void
on_recv_done(struct rl_call *c, bool success)
{
	grpc_byte_buffer *bb = c->recv_bb;
	c->recv_bb = NULL;
	if (!success || bb == NULL) {
		return; /* the router finished its side or the call died: STATUS follows */
	}
	grpc_byte_buffer_reader reader;
	if (grpc_byte_buffer_reader_init(&reader, bb)) {
		grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
		grpc_byte_buffer_reader_destroy(&reader);
		if (!c->released && !c->closed) {
			c->fn(c->arg, c, RL_CALL_MESSAGE, GRPC_SLICE_START_PTR(s),
			      GRPC_SLICE_LENGTH(s), 0, NULL);
		}
		grpc_slice_unref(s);
	}
	grpc_byte_buffer_destroy(bb);
	if (!c->released && !c->closed) {
		start_recv(c);
	}
}

static void
on_status(struct rl_call *c)
{
	c->closed = true;
	if (c->released) {
		return;
	}
	char details[256];
	size_t n = GRPC_SLICE_LENGTH(c->details);
	if (n >= sizeof(details)) {
		n = sizeof(details) - 1;
	}
	memcpy(details, GRPC_SLICE_START_PTR(c->details), n);
	details[n] = '\0';
	c->fn(c->arg, c, RL_CALL_CLOSED, NULL, 0, (int)c->status, details);
}

static void
dispatch(struct rl_grpc *g, struct op *op, bool success)
{
	struct rl_call *c = op->call;
	g->last_activity_ms = lf_now_ms();
	c->pending--;
	/* A handler may release the call: it is freed after, not under it. */
	g->dispatching = c;
	switch (op->kind) {
	case OP_SEND:
		on_send_done(c, success);
		break;
	case OP_RECV:
		on_recv_done(c, success);
		break;
	case OP_STATUS:
		on_status(c);
		break;
	}
	g->dispatching = NULL;
	call_free_if_done(c);
}

/* What the pump thread took from the queue while the owner slept. */
static void
completions_ready(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct rl_grpc *g = arg;
	uint64_t value;
	while (read(fd, &value, sizeof(value)) > 0) {
	}
	pthread_mutex_lock(&g->lock);
	struct completion *list = g->head;
	g->head = g->tail = NULL;
	pthread_mutex_unlock(&g->lock);
	while (list != NULL) {
		struct completion *done = list;
		list = list->next;
		dispatch(g, done->op, done->success);
		free(done);
	}
	(void)loop;
	(void)events;
}

/* Everything queued now, without waiting: a handler's sends may complete
 * inline and queue more, so until the queue is empty. */
static void
drain_queue(struct rl_grpc *g)
{
	for (;;) {
		grpc_event ev =
		        grpc_completion_queue_next(g->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type != GRPC_OP_COMPLETE) {
			return;
		}
		dispatch(g, ev.tag, ev.success != 0);
	}
}

static int64_t
busy_tick(struct lf_loop *loop, void *arg)
{
	struct rl_grpc *g = arg;
	(void)loop;
	if (lf_now_ms() - g->last_activity_ms < BUSY_WINDOW_MS) {
		return BUSY_POLL_MS; /* before_sleep, which follows, drains */
	}
	g->busy_timer = 0;
	return -1;
}

/* Before the owner's loop sleeps (see the top of the file). */
static void
before_sleep(struct lf_loop *loop, void *arg)
{
	struct rl_grpc *g = arg;
	pthread_mutex_lock(&g->lock);
	bool pump_polling = g->pump_polling;
	pthread_mutex_unlock(&g->lock);
	/* With the pump in the queue, only one of us can poll: let it hand
	 * over what comes (the owner's first completion kicks it). */
	if (!pump_polling) {
		drain_queue(g);
	}
	if (lf_now_ms() - g->last_activity_ms < BUSY_WINDOW_MS) {
		if (g->busy_timer == 0) {
			g->busy_timer = lf_loop_timer_add(loop, BUSY_POLL_MS, busy_tick, g);
		}
		if (g->busy_timer != 0) {
			return;
		}
	}
	pthread_mutex_lock(&g->lock);
	if (!g->pump_polling && !g->pump_go) {
		g->pump_go = true;
		pthread_cond_signal(&g->pump_cond);
	}
	pthread_mutex_unlock(&g->lock);
}

/* ---- public ----------------------------------------------------------- */

static grpc_channel *
channel_new(const char *target, bool tls, int64_t keepalive_ms)
{
	grpc_arg args[] = {
	        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = (int)keepalive_ms}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 20000}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
	        /* Without it, channels with equal arguments share one connection
	         * and the pool would be a pool of one. */
	        {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 1000}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 1000}},
	        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 30000}},
	        /* No transparent retries: a stream is reopened by stream.c, and
	         * the retry filter keeps per-batch state in the call's arena for
	         * the call's whole life. A long stream's arena grows with every
	         * message, and C core sizes each new call's arena from the calls
	         * that ended before it. */
	        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
	};
	grpc_channel_args channel_args = {sizeof(args) / sizeof(args[0]), args};
	grpc_channel_credentials *creds = tls ? grpc_ssl_credentials_create(NULL, NULL, NULL, NULL)
	                                      : grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
	grpc_channel_credentials_release(creds);
	return ch;
}

struct rl_grpc *
rl_grpc_new(struct lf_loop *loop, const struct rl_grpc_options *opts)
{
	bool tls = strncmp(opts->uri, "https://", 8) == 0;
	const char *target = opts->uri + (tls ? 8 : strncmp(opts->uri, "http://", 7) == 0 ? 7 : 0);
	char host[512];
	size_t len = strcspn(target, "/");
	if (len == 0 || len >= sizeof(host)) {
		LOG_ERROR("grpc: bad router uri %s", opts->uri);
		return NULL;
	}
	memcpy(host, target, len);
	host[len] = '\0';

	struct rl_grpc *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return NULL;
	}
	g->loop = loop;
	g->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->pump_cond, NULL);
	grpc_init();
	g->cq = grpc_completion_queue_create_for_next(NULL);
	g->n_channels = opts->channels < 1              ? 1
	                : opts->channels > MAX_CHANNELS ? MAX_CHANNELS
	                                                : opts->channels;
	for (int i = 0; i < g->n_channels; i++) {
		g->channels[i] = channel_new(host, tls, opts->keepalive_ms);
	}
	if (g->wakefd < 0 || lf_loop_watch(loop, g->wakefd, LF_LOOP_READ, completions_ready, g) ||
	    lf_loop_before_sleep_add(loop, before_sleep, g) != 0 ||
	    (g->trim_timer = lf_loop_timer_add(loop, TRIM_EVERY_MS, trim_heap, g)) == 0 ||
	    pthread_create(&g->pump, NULL, pump_main, g) != 0) {
		LOG_ERROR("grpc: cannot start: %s", strerror(errno));
		lf_loop_before_sleep_remove(loop, before_sleep, g);
		if (g->trim_timer != 0) {
			lf_loop_timer_cancel(loop, g->trim_timer);
		}
		/* The pump thread is not running: shut down without it. */
		for (int i = 0; i < g->n_channels; i++) {
			grpc_channel_destroy(g->channels[i]);
		}
		grpc_completion_queue_shutdown(g->cq);
		while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
		               .type != GRPC_QUEUE_SHUTDOWN) {
		}
		grpc_completion_queue_destroy(g->cq);
		grpc_shutdown();
		if (g->wakefd >= 0) {
			lf_loop_unwatch(loop, g->wakefd);
			close(g->wakefd);
		}
		pthread_cond_destroy(&g->pump_cond);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	LOG_INFO("grpc: %d channel(s) to %s (%s), keepalive %lld ms", g->n_channels, host,
	         tls ? "TLS" : "h2c", (long long)opts->keepalive_ms);
	return g;
}

/* STATUS, then initial metadata (which holds the send slot until it is
 * written), then the first receive. */
static int
start_call_batches(struct rl_call *c)
{
	grpc_op status = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
	status.data.recv_status_on_client.trailing_metadata = &c->trailing_md;
	status.data.recv_status_on_client.status = &c->status;
	status.data.recv_status_on_client.status_details = &c->details;
	status.data.recv_status_on_client.error_string = &c->error_string;
	if (grpc_call_start_batch(c->call, &status, 1, &c->status_op, NULL) != GRPC_CALL_OK) {
		return -1;
	}
	c->pending++;
	grpc_op md = {.op = GRPC_OP_SEND_INITIAL_METADATA,
	              .flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY};
	if (grpc_call_start_batch(c->call, &md, 1, &c->send_op, NULL) != GRPC_CALL_OK) {
		grpc_call_cancel(c->call, NULL);
		return 0; /* STATUS will report the end */
	}
	c->pending++;
	c->sending = true;
	grpc_op recv[2] = {{.op = GRPC_OP_RECV_INITIAL_METADATA}, {.op = GRPC_OP_RECV_MESSAGE}};
	recv[0].data.recv_initial_metadata.recv_initial_metadata = &c->initial_md;
	recv[1].data.recv_message.recv_message = &c->recv_bb;
	if (grpc_call_start_batch(c->call, recv, 2, &c->recv_op, NULL) != GRPC_CALL_OK) {
		grpc_call_cancel(c->call, NULL);
		return 0;
	}
	c->pending++;
	return 0;
}

struct rl_call *
rl_grpc_open(struct rl_grpc *g, unsigned channel, rl_call_fn fn, void *arg)
{
	struct rl_call *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	*c = (struct rl_call){.g = g, .fn = fn, .arg = arg};
	c->send_op = (struct op){OP_SEND, c};
	c->recv_op = (struct op){OP_RECV, c};
	c->status_op = (struct op){OP_STATUS, c};
	c->details = grpc_empty_slice();
	grpc_metadata_array_init(&c->initial_md);
	grpc_metadata_array_init(&c->trailing_md);
	grpc_slice method = grpc_slice_from_static_string(ROUTE_METHOD);
	/* A long-lived stream: no deadline; our own timers end it. */
	c->call = grpc_channel_create_call(g->channels[channel % (unsigned)g->n_channels], NULL,
	                                   GRPC_PROPAGATE_DEFAULTS, g->cq, method, NULL,
	                                   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (c->call == NULL || start_call_batches(c) != 0) {
		if (c->call != NULL) {
			grpc_call_unref(c->call);
		}
		grpc_metadata_array_destroy(&c->initial_md);
		grpc_metadata_array_destroy(&c->trailing_md);
		free(c);
		return NULL;
	}
	g->live_calls++;
	return c;
}

int
rl_call_send(struct rl_call *c, const uint8_t *data, size_t len)
{
	if (c->closed || c->released || c->close_wanted) {
		return -1;
	}
	struct out_msg *m = malloc(sizeof(*m) + len);
	if (m == NULL) {
		return -1;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, data, len);
	if (c->tail != NULL) {
		c->tail->next = m;
	} else {
		c->head = m;
	}
	c->tail = m;
	c->backlog++;
	c->g->last_activity_ms = lf_now_ms();
	start_send(c);
	return 0;
}

size_t
rl_call_backlog(const struct rl_call *c)
{
	return c->backlog;
}

void
rl_call_close_send(struct rl_call *c)
{
	if (c->close_wanted || c->closed || c->released) {
		return;
	}
	c->close_wanted = true;
	start_send(c);
}

void
rl_call_cancel(struct rl_call *c)
{
	if (!c->closed) {
		grpc_call_cancel(c->call, NULL);
	}
}

void
rl_call_release(struct rl_call *c)
{
	if (c == NULL) {
		return;
	}
	rl_call_cancel(c);
	c->released = true;
	if (c->g->dispatching != c) {
		call_free_if_done(c);
	}
}

const char *
rl_grpc_channel_state(struct rl_grpc *g, unsigned channel)
{
	switch (grpc_channel_check_connectivity_state(
	        g->channels[channel % (unsigned)g->n_channels], 0)) {
	case GRPC_CHANNEL_IDLE:
		return "IDLE";
	case GRPC_CHANNEL_CONNECTING:
		return "CONNECTING";
	case GRPC_CHANNEL_READY:
		return "READY";
	case GRPC_CHANNEL_TRANSIENT_FAILURE:
		return "TRANSIENT_FAILURE";
	case GRPC_CHANNEL_SHUTDOWN:
		return "SHUTDOWN";
	}
	return "?";
}

void
rl_grpc_free(struct rl_grpc *g)
{
	if (g == NULL) {
		return;
	}
	/* Released calls are cancelled; their last completions still have
	 * to come back before the queue can go. */
	for (int i = 0; i < 100 && g->live_calls > 0; i++) {
		lf_loop_run_once(g->loop, 50);
	}
	if (g->live_calls > 0) {
		LOG_WARN("grpc: %zu calls still open at shutdown", g->live_calls);
	}
	for (int i = 0; i < g->n_channels; i++) {
		grpc_channel_destroy(g->channels[i]);
	}
	lf_loop_before_sleep_remove(g->loop, before_sleep, g);
	if (g->busy_timer != 0) {
		lf_loop_timer_cancel(g->loop, g->busy_timer);
	}
	lf_loop_timer_cancel(g->loop, g->trim_timer);
	grpc_completion_queue_shutdown(g->cq);
	pthread_mutex_lock(&g->lock);
	g->pump_stop = true;
	pthread_cond_signal(&g->pump_cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->pump, NULL);
	completions_ready(g->loop, g->wakefd, 0, g); /* whatever the pump took last */
	for (;;) {
		grpc_event ev =
		        grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN) {
			break;
		}
		if (ev.type == GRPC_OP_COMPLETE) {
			dispatch(g, ev.tag, ev.success != 0);
		}
	}
	grpc_completion_queue_destroy(g->cq);
	lf_loop_unwatch(g->loop, g->wakefd);
	close(g->wakefd);
	pthread_cond_destroy(&g->pump_cond);
	pthread_mutex_destroy(&g->lock);
	grpc_shutdown();
	free(g);
}
