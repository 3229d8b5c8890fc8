/*
 * Per-gateway packet-router streams. One timer (the manager's tick) does
 * every stream's timing, so 10,000 gateways cost one timer, not 20,000.
 * Held uplinks are allocated only while held, so an idle, connected
 * gateway costs a few hundred bytes.
 */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "grpc_link.h"
#include "lf/eui.h"
#include "lf/log.h"
#include "lf/loop.h"
#include "lf/util.h"

#define TICK_MS      100
#define ENVELOPE_MAX 1024

struct held {
	struct held *next;
	struct uplink up;
	uint64_t hold_ms; /* in flight: the hold_time it was signed with */
};

/* What the call has been given, in order: an uplink, or NULL for register
 * and session_init. RL_CALL_SENT pops one; a call that ends gives its
 * unsent uplinks back to the held queue, to be signed again. */
struct sent_rec {
	struct sent_rec *next;
	struct held *uplink;
};

struct rl_stream {
	struct rl_streams *m;
	uint64_t eui;
	char mac[17];
	struct gateway_key key, session;
	uint8_t key_bin[33], session_bin[33];
	enum rl_stream_state state;
	struct rl_call *call;
	bool retiring;           /* CONNECTED, being recycled: our side of call is closing */
	int64_t due_ms;          /* BACKOFF: next attempt; CONNECTING: give up; CONNECTED: recycle,
	                          * or when retiring, stop waiting for the router to end it */
	int64_t backoff_ms;      /* the next failure's wait */
	int64_t connected_since; /* wall clock, for the hotspot state */
	int64_t connected_at;    /* monotonic, for the backoff reset */
	struct held *head, *tail;
	size_t n_held;
	struct sent_rec *out_head, *out_tail;
	void *user;
};

struct rl_streams {
	struct lf_loop *loop;
	struct rl_grpc *grpc;
	struct rl_stream_config cfg;
	struct rl_stream_hooks hooks;
	void *arg;
	struct rl_stream **all;
	size_t n, cap;
	uint64_t timer;
	unsigned next_channel;
};

const char *
rl_stream_state_name(enum rl_stream_state state)
{
	switch (state) {
	case RL_STREAM_BACKOFF:
		return "backoff";
	case RL_STREAM_CONNECTING:
		return "connecting";
	case RL_STREAM_CONNECTED:
		return "connected";
	}
	return "?";
}

static void
set_state(struct rl_stream *s, enum rl_stream_state state)
{
	if (s->state == state) {
		return;
	}
	s->state = state;
	if (state == RL_STREAM_CONNECTED) {
		s->connected_since = lf_wall_ms();
		s->connected_at = lf_now_ms();
	}
	if (s->m->hooks.on_state != NULL) {
		s->m->hooks.on_state(s->m->arg, s, state);
	}
}

/* ±30 % around the current backoff, as gateway-rs does, so that a fleet
 * that lost the router together does not come back together. */
static int64_t
jittered(int64_t ms)
{
	int64_t spread = ms * 3 / 10;
	if (spread <= 0) {
		return ms;
	}
	return ms - spread + (int64_t)randombytes_uniform((uint32_t)(2 * spread + 1));
}

static void requeue_unsent(struct rl_stream *s);

static void
enter_backoff(struct rl_stream *s, const char *why)
{
	if (s->call != NULL) {
		rl_call_release(s->call);
		s->call = NULL;
	}
	s->retiring = false;
	requeue_unsent(s);
	/* Only a stream that lasted resets the backoff. One the router ends
	 * soon after its session counts as a failure: a router that drops
	 * every stream right away must not have the whole fleet back every
	 * backoff_min (10,000 gateways: 2,000 registers/s at 5 s). */
	if (s->state == RL_STREAM_CONNECTED &&
	    lf_now_ms() - s->connected_at >= s->m->cfg.backoff_reset_ms) {
		s->backoff_ms = s->m->cfg.backoff_min_ms;
	}
	int64_t wait = jittered(s->backoff_ms);
	LOG_INFO("gateway %s: router stream %s; next attempt in %lld ms", s->mac, why,
	         (long long)wait);
	s->due_ms = lf_now_ms() + wait;
	int64_t next = s->backoff_ms * 2;
	s->backoff_ms = next < s->m->cfg.backoff_max_ms ? next : s->m->cfg.backoff_max_ms;
	set_state(s, RL_STREAM_BACKOFF);
}

static void drop_stale(struct rl_stream *s, int64_t now_wall);

/* Gives the call one message and remembers what it was. */
static int
call_send(struct rl_stream *s, const uint8_t *buf, size_t n, struct held *uplink)
{
	struct sent_rec *r = malloc(sizeof(*r));
	if (r == NULL || rl_call_send(s->call, buf, n) != 0) {
		free(r);
		return -1;
	}
	*r = (struct sent_rec){.uplink = uplink};
	if (s->out_tail != NULL) {
		s->out_tail->next = r;
	} else {
		s->out_head = r;
	}
	s->out_tail = r;
	return 0;
}

static void
on_written(struct rl_stream *s)
{
	struct sent_rec *r = s->out_head;
	if (r == NULL) {
		return;
	}
	s->out_head = r->next;
	if (s->out_head == NULL) {
		s->out_tail = NULL;
	}
	if (r->uplink != NULL) {
		if (s->m->hooks.on_sent != NULL) {
			s->m->hooks.on_sent(s->m->arg, s, &r->uplink->up, r->uplink->hold_ms);
		}
		free(r->uplink);
	}
	free(r);
}

/* The call ended: uplinks it did not write go back in front of the held
 * ones, in their order, to be signed again on the next stream. */
static void
requeue_unsent(struct rl_stream *s)
{
	struct held *first = NULL, *last = NULL;
	size_t n = 0;
	while (s->out_head != NULL) {
		struct sent_rec *r = s->out_head;
		s->out_head = r->next;
		if (r->uplink != NULL) {
			r->uplink->next = NULL;
			if (last != NULL) {
				last->next = r->uplink;
			} else {
				first = r->uplink;
			}
			last = r->uplink;
			n++;
		}
		free(r);
	}
	s->out_tail = NULL;
	if (first != NULL) {
		last->next = s->head;
		s->head = first;
		if (s->tail == NULL) {
			s->tail = last;
		}
		s->n_held += n;
	}
}
static void flush_held(struct rl_stream *s);

static void
send_session_init(struct rl_stream *s, const struct router_msg *offer)
{
	keys_wipe(&s->session);
	keys_session_new(&s->session);
	keys_public_bin(&s->session, s->session_bin);
	uint8_t buf[ENVELOPE_MAX];
	size_t n = session_init_encode(s->key_bin, offer->nonce, offer->nonce_len, s->session_bin,
	                               s->key.sk, buf, sizeof(buf));
	if (n == 0 || call_send(s, buf, n, NULL) != 0) {
		enter_backoff(s, "could not send session_init");
		return;
	}
	/* The router acknowledges nothing: like gateway-rs, count the stream
	 * as connected once session_init is on its way. */
	if (s->state != RL_STREAM_CONNECTED) {
		/* Somewhere in the last fifth of stream_recycle: streams opened
		 * together (a start, a router's return) must not all be reopened
		 * in the same second 30 minutes later. In the 30-minute soak,
		 * 10,000 streams recycled at once took routerlink's RSS from 264
		 * to 406 MB, which it kept. */
		int64_t spread = s->m->cfg.recycle_ms / 5;
		s->due_ms = lf_now_ms() + s->m->cfg.recycle_ms -
		            (spread > 0 ? (int64_t)randombytes_uniform((uint32_t)spread) : 0);
		set_state(s, RL_STREAM_CONNECTED);
	}
	flush_held(s);
}

static void attempt(struct rl_stream *s);

/* The retiring call is over (or given up on): a new stream at once. */
static void
reopen(struct rl_stream *s, bool graceful)
{
	if (s->m->hooks.on_recycled != NULL) {
		s->m->hooks.on_recycled(s->m->arg, s, graceful);
	}
	rl_call_release(s->call);
	s->call = NULL;
	s->retiring = false;
	requeue_unsent(s);
	s->backoff_ms = s->m->cfg.backoff_min_ms;
	attempt(s);
}

/*
 * Recycles a healthy stream before the router's 35-minute kill. Not by
 * cancelling it: gRPC reports a message written once the transport has
 * it, and a cancel (RST_STREAM) discards what it has not flushed yet, so
 * an uplink could be lost. Instead uplinks are held, our side of the old
 * call is closed after what it was given, and the new stream is opened
 * once the router has read all of it and ended the call. Opening it
 * earlier would not save time: its register gives the key away, and the
 * router ends the old stream, maybe before reading what is in flight.
 */
static void
retire(struct rl_stream *s)
{
	LOG_DEBUG("gateway %s: recycling the router stream", s->mac);
	s->retiring = true;
	s->due_ms = lf_now_ms() + s->m->cfg.recycle_timeout_ms;
	rl_call_close_send(s->call);
}

static void
on_call(void *arg, struct rl_call *call, enum rl_call_event event, const uint8_t *data, size_t len,
        int status, const char *details)
{
	struct rl_stream *s = arg;
	if (call != s->call) {
		return;
	}
	if (event == RL_CALL_SENT) {
		on_written(s);
		return;
	}
	if (event == RL_CALL_CLOSED && s->retiring) {
		if (status != 0) {
			LOG_INFO("gateway %s: recycled stream ended with status %d%s%s", s->mac,
			         status, details[0] ? ": " : "", details);
		}
		reopen(s, true);
		return;
	}
	if (event == RL_CALL_CLOSED) {
		char why[300];
		snprintf(why, sizeof(why), "ended (status %d%s%s)", status, details[0] ? ": " : "",
		         details);
		enter_backoff(s, why);
		return;
	}
	struct router_msg msg;
	if (envelope_down_decode(data, len, &msg) != 0) {
		LOG_WARN("gateway %s: unreadable message from the router (%zu bytes)", s->mac, len);
		return;
	}
	switch (msg.kind) {
	case ROUTER_MSG_SESSION_OFFER:
		if (s->retiring) {
			break; /* our side is closed: the new stream gets its own */
		}
		send_session_init(s, &msg);
		break;
	case ROUTER_MSG_PACKET:
		if (s->m->hooks.on_downlink != NULL) {
			s->m->hooks.on_downlink(s->m->arg, s, &msg);
		}
		break;
	case ROUTER_MSG_EMPTY:
		/* The router ends the stream (its 35-minute kill, or our key
		 * given to a newer stream); the call's end follows. */
		LOG_INFO("gateway %s: the router sent the empty envelope", s->mac);
		break;
	case ROUTER_MSG_PACKET_ACK:
		break;
	}
}

static void
attempt(struct rl_stream *s)
{
	struct rl_streams *m = s->m;
	s->call = rl_grpc_open(m->grpc, m->next_channel++, on_call, s);
	if (m->hooks.on_attempt != NULL) {
		m->hooks.on_attempt(m->arg, s);
	}
	uint8_t buf[ENVELOPE_MAX];
	size_t n = s->call != NULL ? register_encode((uint64_t)lf_wall_ms(), s->key_bin, s->key.sk,
	                                             buf, sizeof(buf))
	                           : 0;
	if (n == 0 || call_send(s, buf, n, NULL) != 0) {
		enter_backoff(s, "could not be opened");
		return;
	}
	s->due_ms = lf_now_ms() + m->cfg.connect_timeout_ms;
	set_state(s, RL_STREAM_CONNECTING);
}

static void
drop_head(struct rl_stream *s)
{
	struct held *h = s->head;
	s->head = h->next;
	if (s->head == NULL) {
		s->tail = NULL;
	}
	s->n_held--;
	free(h);
}

static void
drop_stale(struct rl_stream *s, int64_t now_wall)
{
	unsigned stale = 0;
	while (s->head != NULL &&
	       now_wall - s->head->up.received_at_ms > s->m->cfg.queue_max_age_ms) {
		drop_head(s);
		stale++;
	}
	if (stale > 0 && s->m->hooks.on_drop != NULL) {
		s->m->hooks.on_drop(s->m->arg, s, RL_DROP_STALE, stale);
	}
}

/* Signs and sends one uplink; takes h (freed when written or dropped).
 * A held uplink older than queue_max_age is dropped instead: the router
 * and the LNS behind it have no use for it any more. */
static void
send_uplink(struct rl_stream *s, struct held *h, int64_t now_wall)
{
	int64_t age = now_wall - h->up.received_at_ms;
	if (age > s->m->cfg.queue_max_age_ms) {
		free(h);
		if (s->m->hooks.on_drop != NULL) {
			s->m->hooks.on_drop(s->m->arg, s, RL_DROP_STALE, 1);
		}
		return;
	}
	h->hold_ms = age > 0 ? (uint64_t)age : 0;
	h->next = NULL;
	uint8_t buf[ENVELOPE_MAX];
	/* hold_time is part of the signed bytes: set it just before signing. */
	size_t n = packet_up_encode(&h->up, s->m->cfg.region, h->hold_ms, s->key_bin, s->session.sk,
	                            buf, sizeof(buf));
	if (n == 0 || call_send(s, buf, n, h) != 0) {
		free(h);
		if (s->m->hooks.on_drop != NULL) {
			s->m->hooks.on_drop(s->m->arg, s, RL_DROP_ENCODE, 1);
		}
	}
}

static void
flush_held(struct rl_stream *s)
{
	int64_t now_wall = lf_wall_ms();
	drop_stale(s, now_wall);
	while (s->head != NULL && s->state == RL_STREAM_CONNECTED && !s->retiring) {
		struct held *h = s->head;
		s->head = h->next;
		if (s->head == NULL) {
			s->tail = NULL;
		}
		s->n_held--;
		send_uplink(s, h, now_wall);
	}
}

void
rl_stream_uplink(struct rl_stream *s, const struct uplink *up)
{
	struct held *h = malloc(sizeof(*h));
	if (h == NULL) {
		return;
	}
	h->next = NULL;
	h->up = *up;
	if (s->state == RL_STREAM_CONNECTED && !s->retiring && s->head == NULL) {
		send_uplink(s, h, lf_wall_ms());
		return;
	}
	if (s->n_held >= s->m->cfg.queue_size) {
		drop_head(s);
		if (s->m->hooks.on_drop != NULL) {
			s->m->hooks.on_drop(s->m->arg, s, RL_DROP_QUEUE_FULL, 1);
		}
	}
	if (s->tail != NULL) {
		s->tail->next = h;
	} else {
		s->head = h;
	}
	s->tail = h;
	s->n_held++;
}

static void
stream_tick(struct rl_stream *s, int64_t now, int64_t now_wall)
{
	if (s->head != NULL && (s->state != RL_STREAM_CONNECTED || s->retiring)) {
		drop_stale(s, now_wall);
	}
	if (now < s->due_ms) {
		return;
	}
	switch (s->state) {
	case RL_STREAM_BACKOFF:
		attempt(s);
		break;
	case RL_STREAM_CONNECTING:
		enter_backoff(s, "got no session offer in time");
		break;
	case RL_STREAM_CONNECTED:
		if (!s->retiring) {
			retire(s);
		} else {
			LOG_WARN("gateway %s: recycled stream not ended by the router in %lld ms: "
			         "cancelled",
			         s->mac, (long long)s->m->cfg.recycle_timeout_ms);
			reopen(s, false);
		}
		break;
	}
}

static int64_t
tick(struct lf_loop *loop, void *arg)
{
	struct rl_streams *m = arg;
	int64_t now = lf_now_ms(), now_wall = lf_wall_ms();
	for (size_t i = 0; i < m->n; i++) {
		stream_tick(m->all[i], now, now_wall);
	}
	return TICK_MS;
}

struct rl_streams *
rl_streams_new(struct lf_loop *loop, struct rl_grpc *grpc, const struct rl_stream_config *cfg,
               const struct rl_stream_hooks *hooks, void *arg)
{
	struct rl_streams *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	*m = (struct rl_streams){
	        .loop = loop, .grpc = grpc, .cfg = *cfg, .hooks = *hooks, .arg = arg};
	m->timer = lf_loop_timer_add(loop, TICK_MS, tick, m);
	if (m->timer == 0) {
		free(m);
		return NULL;
	}
	return m;
}

struct rl_stream *
rl_streams_add(struct rl_streams *m, uint64_t eui, const struct gateway_key *key)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		/* An array of pointers: sizeof(*all) is a pointer's size. */
		struct rl_stream **all =
		        realloc(m->all, cap * sizeof(*all)); // NOLINT(bugprone-sizeof-expression)
		if (all == NULL) {
			return NULL;
		}
		m->all = all;
		m->cap = cap;
	}
	struct rl_stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	s->m = m;
	s->eui = eui;
	lf_eui_format(eui, s->mac);
	s->key = *key;
	keys_public_bin(&s->key, s->key_bin);
	s->backoff_ms = m->cfg.backoff_min_ms;
	s->state = RL_STREAM_BACKOFF;
	m->all[m->n++] = s;
	attempt(s);
	return s;
}

void
rl_streams_free(struct rl_streams *m)
{
	if (m == NULL) {
		return;
	}
	lf_loop_timer_cancel(m->loop, m->timer);
	for (size_t i = 0; i < m->n; i++) {
		struct rl_stream *s = m->all[i];
		rl_call_release(s->call);
		requeue_unsent(s);
		while (s->head != NULL) {
			drop_head(s);
		}
		keys_wipe(&s->key);
		keys_wipe(&s->session);
		free(s);
	}
	free(m->all);
	free(m);
}

uint64_t
rl_stream_eui(const struct rl_stream *s)
{
	return s->eui;
}

enum rl_stream_state
rl_stream_state(const struct rl_stream *s)
{
	return s->state;
}

int64_t
rl_stream_connected_since(const struct rl_stream *s)
{
	return s->connected_since;
}

size_t
rl_stream_held(const struct rl_stream *s)
{
	return s->n_held;
}

void *
rl_stream_user(const struct rl_stream *s)
{
	return s->user;
}

void
rl_stream_set_user(struct rl_stream *s, void *user)
{
	s->user = user;
}
