/*
 * Logging: one line per event on stderr (docker and systemd collect it),
 * text or JSON. The level is checked before anything is formatted.
 *
 * The threshold and format are process-wide settings (the one kind of
 * global the project allows); lf_log_write() is safe from any thread.
 */
#ifndef LF_LOG_H
#define LF_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum lf_log_level {
	LF_LOG_ERROR = 0,
	LF_LOG_WARN = 1,
	LF_LOG_INFO = 2,
	LF_LOG_DEBUG = 3,
};

enum lf_log_format {
	LF_LOG_TEXT = 0,
	LF_LOG_JSON = 1,
};

extern enum lf_log_level lf_log_threshold;

/* Set once at start-up; service names the daemon in every line. */
void lf_log_setup(enum lf_log_level level, enum lf_log_format format, const char *service);

/* Writes one line. Use the LOG_* macros instead so that the level is
 * checked before the arguments are formatted. */
void lf_log_write(enum lf_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define lf_log(level, ...)                                                                         \
	do {                                                                                       \
		if ((level) <= lf_log_threshold)                                                   \
			lf_log_write((level), __VA_ARGS__);                                        \
	} while (0)

#define LOG_ERROR(...) lf_log(LF_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...)  lf_log(LF_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...)  lf_log(LF_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) lf_log(LF_LOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiting for lines caused by outside input, so that a flood of bad
 * datagrams cannot flood the log: at most `burst` lines per `window_ms`;
 * when a new window opens, one line says how many were suppressed.
 * One struct per kind of message; not thread-safe (one owner thread).
 */
struct lf_ratelimit {
	int64_t window_ms;
	unsigned burst;
	int64_t window_start;
	unsigned count;
	unsigned suppressed;
};

#define LF_RATELIMIT_INIT(window, n)                                                               \
	{                                                                                          \
		.window_ms = (window), .burst = (n)                                                \
	}

/* True when a line may be written now. */
bool lf_ratelimit_allow(struct lf_ratelimit *rl);

#define LOG_RATELIMITED(rl, level, ...)                                                            \
	do {                                                                                       \
		if ((level) <= lf_log_threshold && lf_ratelimit_allow(rl))                         \
			lf_log_write((level), __VA_ARGS__);                                        \
	} while (0)

/* The [log] section, shared by all daemons. */
#include "lf/cfg.h"

struct lf_log_config {
	int level;  /* enum lf_log_level */
	int format; /* enum lf_log_format */
};

extern const struct lf_cfg_option lf_log_cfg_options[];

#endif
