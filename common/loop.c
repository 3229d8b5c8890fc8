/*
 * epoll-based event loop. Timers are few (a handful per daemon: sweeps,
 * metrics, MQTT housekeeping), so they live in a small array scanned
 * linearly rather than a heap.
 */
#include "lf/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lf/log.h"
#include "lf/util.h"

struct fd_watch {
	lf_loop_fd_cb cb;
	void *arg;
	unsigned mask;
	bool active;
};

struct timer {
	uint64_t id;
	int64_t due_ms;
	lf_loop_timer_cb cb;
	void *arg;
};

struct lf_loop {
	int epfd;
	int wakefd;
	int sigfd;
	bool stop;
	struct fd_watch *watches; /* indexed by fd */
	int n_watches;
	struct timer *timers;
	size_t n_timers, cap_timers;
	uint64_t next_timer_id;
	lf_loop_signal_cb signal_cb;
	void *signal_arg;
	struct hook {
		lf_loop_hook_cb cb;
		void *arg;
	} hooks[LF_LOOP_MAX_HOOKS];
	size_t n_hooks;
};

static void
wake_drain(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	uint64_t value;
	while (read(fd, &value, sizeof(value)) > 0) {
	}
}

struct lf_loop *
lf_loop_new(void)
{
	struct lf_loop *loop = calloc(1, sizeof(*loop));
	if (loop == NULL) {
		return NULL;
	}
	loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wakefd < 0 ||
	    lf_loop_watch(loop, loop->wakefd, LF_LOOP_READ, wake_drain, NULL) != 0) {
		lf_loop_free(loop);
		return NULL;
	}
	return loop;
}

void
lf_loop_free(struct lf_loop *loop)
{
	if (loop == NULL) {
		return;
	}
	if (loop->epfd >= 0) {
		close(loop->epfd);
	}
	if (loop->wakefd >= 0) {
		close(loop->wakefd);
	}
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
	}
	free(loop->watches);
	free(loop->timers);
	free(loop);
}

static int
grow_watches(struct lf_loop *loop, int fd)
{
	if (fd < loop->n_watches) {
		return 0;
	}
	int n = loop->n_watches ? loop->n_watches : 64;
	while (n <= fd) {
		n *= 2;
	}
	struct fd_watch *w = realloc(loop->watches, (size_t)n * sizeof(*w));
	if (w == NULL) {
		return -1;
	}
	memset(w + loop->n_watches, 0, (size_t)(n - loop->n_watches) * sizeof(*w));
	loop->watches = w;
	loop->n_watches = n;
	return 0;
}

int
lf_loop_watch(struct lf_loop *loop, int fd, unsigned mask, lf_loop_fd_cb cb, void *arg)
{
	if (fd < 0 || grow_watches(loop, fd) != 0) {
		return -1;
	}
	struct fd_watch *w = &loop->watches[fd];
	struct epoll_event ev = {.data.fd = fd};
	if (mask & LF_LOOP_READ) {
		ev.events |= EPOLLIN;
	}
	if (mask & LF_LOOP_WRITE) {
		ev.events |= EPOLLOUT;
	}
	int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (w->active && w->mask == mask && w->cb == cb && w->arg == arg) {
		return 0;
	}
	if (epoll_ctl(loop->epfd, op, fd, &ev) != 0) {
		return -1;
	}
	*w = (struct fd_watch){.cb = cb, .arg = arg, .mask = mask, .active = true};
	return 0;
}

void
lf_loop_unwatch(struct lf_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->n_watches || !loop->watches[fd].active) {
		return;
	}
	/* The fd may already be closed (e.g. by libmosquitto); then the
	 * kernel has dropped it from the set and the error is harmless. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->watches[fd].active = false;
}

uint64_t
lf_loop_timer_add(struct lf_loop *loop, int64_t delay_ms, lf_loop_timer_cb cb, void *arg)
{
	if (loop->n_timers == loop->cap_timers) {
		size_t cap = loop->cap_timers ? loop->cap_timers * 2 : 8;
		struct timer *t = realloc(loop->timers, cap * sizeof(*t));
		if (t == NULL) {
			return 0;
		}
		loop->timers = t;
		loop->cap_timers = cap;
	}
	uint64_t id = ++loop->next_timer_id;
	loop->timers[loop->n_timers++] =
	        (struct timer){.id = id,
	                       .due_ms = lf_now_ms() + (delay_ms > 0 ? delay_ms : 0),
	                       .cb = cb,
	                       .arg = arg};
	return id;
}

void
lf_loop_timer_cancel(struct lf_loop *loop, uint64_t id)
{
	for (size_t i = 0; i < loop->n_timers; i++) {
		if (loop->timers[i].id == id) {
			loop->timers[i] = loop->timers[--loop->n_timers];
			return;
		}
	}
}

static void
signal_ready(struct lf_loop *loop, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (loop->signal_cb != NULL) {
			loop->signal_cb(loop, (int)si.ssi_signo, loop->signal_arg);
		}
	}
}

int
lf_loop_signals(struct lf_loop *loop, const int *signals, int n, lf_loop_signal_cb cb, void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	for (int i = 0; i < n; i++) {
		sigaddset(&set, signals[i]);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		return -1;
	}
	int fd = signalfd(loop->sigfd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	loop->sigfd = fd;
	loop->signal_cb = cb;
	loop->signal_arg = arg;
	return lf_loop_watch(loop, fd, LF_LOOP_READ, signal_ready, NULL);
}

int
lf_loop_before_sleep_add(struct lf_loop *loop, lf_loop_hook_cb cb, void *arg)
{
	if (loop->n_hooks == LF_LOOP_MAX_HOOKS) {
		return -1;
	}
	loop->hooks[loop->n_hooks++] = (struct hook){cb, arg};
	return 0;
}

void
lf_loop_before_sleep_remove(struct lf_loop *loop, lf_loop_hook_cb cb, void *arg)
{
	for (size_t i = 0; i < loop->n_hooks; i++) {
		if (loop->hooks[i].cb == cb && loop->hooks[i].arg == arg) {
			memmove(&loop->hooks[i], &loop->hooks[i + 1],
			        (loop->n_hooks - i - 1) * sizeof(loop->hooks[0]));
			loop->n_hooks--;
			return;
		}
	}
}

/* By index, so that a hook may remove itself or another one. */
static void
run_hooks(struct lf_loop *loop)
{
	for (size_t i = 0; i < loop->n_hooks; i++) {
		struct hook h = loop->hooks[i];
		h.cb(loop, h.arg);
		if (i < loop->n_hooks &&
		    (loop->hooks[i].cb != h.cb || loop->hooks[i].arg != h.arg)) {
			i--; /* it removed itself: the next one moved here */
		}
	}
}

static ssize_t
find_timer(const struct lf_loop *loop, uint64_t id)
{
	for (size_t i = 0; i < loop->n_timers; i++) {
		if (loop->timers[i].id == id) {
			return (ssize_t)i;
		}
	}
	return -1;
}

/*
 * Runs every timer due now exactly once. The due ids are collected first
 * because a callback may add, cancel or reschedule timers.
 */
static void
run_timers(struct lf_loop *loop)
{
	int64_t now = lf_now_ms();
	uint64_t due[32];
	size_t n_due = 0;
	for (size_t i = 0; i < loop->n_timers && n_due < LF_ARRAY_SIZE(due); i++) {
		if (loop->timers[i].due_ms <= now) {
			due[n_due++] = loop->timers[i].id;
		}
	}
	for (size_t k = 0; k < n_due; k++) {
		ssize_t i = find_timer(loop, due[k]);
		if (i < 0) {
			continue; /* cancelled by an earlier callback */
		}
		struct timer t = loop->timers[i];
		int64_t again = t.cb(loop, t.arg);
		i = find_timer(loop, t.id);
		if (i < 0) {
			continue; /* cancelled by its own callback */
		}
		if (again < 0) {
			loop->timers[i] = loop->timers[--loop->n_timers];
		} else {
			loop->timers[i].due_ms = lf_now_ms() + again;
		}
	}
}

static int
next_timeout(struct lf_loop *loop, int cap_ms)
{
	int64_t now = lf_now_ms();
	int64_t best = cap_ms < 0 ? INT64_MAX : cap_ms;
	for (size_t i = 0; i < loop->n_timers; i++) {
		int64_t d = loop->timers[i].due_ms - now;
		if (d < best) {
			best = d < 0 ? 0 : d;
		}
	}
	return best == INT64_MAX ? -1 : (int)best;
}

void
lf_loop_run_once(struct lf_loop *loop, int timeout_ms)
{
	run_hooks(loop);
	struct epoll_event events[64];
	int n = epoll_wait(loop->epfd, events, 64, next_timeout(loop, timeout_ms));
	if (n < 0 && errno != EINTR) {
		LOG_ERROR("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		int fd = events[i].data.fd;
		if (fd >= loop->n_watches || !loop->watches[fd].active) {
			continue; /* unwatched by an earlier callback this round */
		}
		struct fd_watch w = loop->watches[fd];
		unsigned mask = 0;
		if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			mask |= LF_LOOP_READ;
		}
		if (events[i].events & EPOLLOUT) {
			mask |= LF_LOOP_WRITE;
		}
		w.cb(loop, fd, mask, w.arg);
	}
	run_timers(loop);
}

void
lf_loop_run(struct lf_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		lf_loop_run_once(loop, -1);
	}
}

void
lf_loop_stop(struct lf_loop *loop)
{
	loop->stop = true;
	lf_loop_wake(loop);
}

void
lf_loop_wake(struct lf_loop *loop)
{
	uint64_t one = 1;
	ssize_t rc = write(loop->wakefd, &one, sizeof(one));
	(void)rc; /* a full counter already wakes the loop */
}
