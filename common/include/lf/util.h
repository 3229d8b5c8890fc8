/* Small helpers: clocks, timestamps, base64. */
#ifndef LF_UTIL_H
#define LF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic milliseconds and microseconds, for timeouts and latency. */
int64_t lf_now_ms(void);
int64_t lf_now_us(void);
/* Wall-clock milliseconds since the epoch (timestamps that leave the process). */
int64_t lf_wall_ms(void);

/* RFC 3339 UTC with microseconds: "2026-11-21T10:00:00.123456Z". */
#define LF_RFC3339_LEN 32
void lf_format_rfc3339(const struct timespec *ts, char out[LF_RFC3339_LEN]);

/* The same, for a hot path: the date and time part is formatted once per
 * second and kept in the cache (one per caller; not thread-safe). */
struct lf_rfc3339_cache {
	time_t sec;
	char prefix[24]; /* "2026-11-21T10:00:00" */
	size_t len;
	int valid;
};
void lf_format_rfc3339_cached(struct lf_rfc3339_cache *cache, const struct timespec *ts,
                              char out[LF_RFC3339_LEN]);

/* Standard base64 with padding. Returns the length written (without NUL). */
size_t lf_base64_encoded_len(size_t binlen);
size_t lf_base64_encode(const uint8_t *bin, size_t binlen, char *out, size_t outlen);

/*
 * Decodes standard base64; padding is optional (forwarders often leave it
 * out). Returns the number of bytes written, or -1 for invalid input or a
 * too small buffer.
 */
long lf_base64_decode(const char *text, size_t textlen, uint8_t *out, size_t outlen);

/* Copies with truncation and always NUL-terminates; returns strlen(src). */
size_t lf_strlcpy(char *dst, const char *src, size_t size);

/* Formats a reason into err (when err is not NULL and errlen > 0). */
void lf_format_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Formats a reason into err and is -1, so that a failing check reads
 * `return lf_set_err(err, errlen, "...", ...);`. A macro so that the static
 * analyzer sees the -1 at every caller (it does not follow calls into
 * variadic functions): otherwise it assumes a failing check might return
 * success and reports the paths that would follow. */
#define lf_set_err(err, errlen, ...) (lf_format_err((err), (errlen), __VA_ARGS__), -1)

/* This host's name, for default instance ids. */
void lf_hostname(char *out, size_t outlen);

#endif
