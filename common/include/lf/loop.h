/*
 * A small event loop in the manner of redis's ae: epoll over file
 * descriptors, one-shot or repeating timers, signals through signalfd,
 * and a before-sleep hook. Single-threaded: only lf_loop_wake() may be
 * called from another thread.
 */
#ifndef LF_LOOP_H
#define LF_LOOP_H

#include <stdint.h>

struct lf_loop;

enum {
	LF_LOOP_READ = 1,
	LF_LOOP_WRITE = 2,
};

typedef void (*lf_loop_fd_cb)(struct lf_loop *loop, int fd, unsigned events, void *arg);
/* Returns the delay until the next run in ms, or -1 to remove the timer. */
typedef int64_t (*lf_loop_timer_cb)(struct lf_loop *loop, void *arg);
typedef void (*lf_loop_signal_cb)(struct lf_loop *loop, int signo, void *arg);
typedef void (*lf_loop_hook_cb)(struct lf_loop *loop, void *arg);

struct lf_loop *lf_loop_new(void);
void lf_loop_free(struct lf_loop *loop);

/* Adds or changes the watch on fd (mask 0 keeps it registered but idle). */
int lf_loop_watch(struct lf_loop *loop, int fd, unsigned mask, lf_loop_fd_cb cb, void *arg);
void lf_loop_unwatch(struct lf_loop *loop, int fd);

/* Returns a timer id (> 0), or 0 when out of memory. */
uint64_t lf_loop_timer_add(struct lf_loop *loop, int64_t delay_ms, lf_loop_timer_cb cb, void *arg);
void lf_loop_timer_cancel(struct lf_loop *loop, uint64_t id);

/* Blocks the signals and delivers them through the loop. */
int lf_loop_signals(struct lf_loop *loop, const int *signals, int n, lf_loop_signal_cb cb,
                    void *arg);

/*
 * Hooks that run before each wait (after all events of a round were
 * handled), in the order they were added; at most LF_LOOP_MAX_HOOKS. A
 * hook is one (cb, arg) pair: removing it from within a hook is allowed.
 */
#define LF_LOOP_MAX_HOOKS 4
int lf_loop_before_sleep_add(struct lf_loop *loop, lf_loop_hook_cb cb, void *arg);
void lf_loop_before_sleep_remove(struct lf_loop *loop, lf_loop_hook_cb cb, void *arg);

/* Runs until lf_loop_stop(). */
void lf_loop_run(struct lf_loop *loop);
/* Handles ready events once, waiting at most timeout_ms. */
void lf_loop_run_once(struct lf_loop *loop, int timeout_ms);
void lf_loop_stop(struct lf_loop *loop);

/* Thread-safe: makes a waiting loop return and run its before-sleep hook. */
void lf_loop_wake(struct lf_loop *loop);

#endif
