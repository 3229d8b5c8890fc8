#include "lf/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lf/util.h"

/* Longest message kept; longer ones end in "...". */
#define LOG_MSG_MAX 2048
/* Worst case a message byte becomes "\u00XX" (6 bytes) in JSON. */
#define LOG_LINE_MAX (LOG_MSG_MAX * 6 + 256)

enum lf_log_level lf_log_threshold = LF_LOG_INFO;

/* Process-wide like the threshold, set once by lf_log_setup() before any
 * thread starts, read-only afterwards. */
static enum lf_log_format log_format = LF_LOG_TEXT;
static char log_service[64] = "lorafleet";

static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_lower[] = {"error", "warn", "info", "debug"};

void
lf_log_setup(enum lf_log_level level, enum lf_log_format format, const char *service)
{
	if ((int)level < LF_LOG_ERROR) {
		level = LF_LOG_ERROR;
	} else if (level > LF_LOG_DEBUG) {
		level = LF_LOG_DEBUG;
	}
	lf_log_threshold = level;
	log_format = format == LF_LOG_JSON ? LF_LOG_JSON : LF_LOG_TEXT;
	if (service != NULL && service[0] != '\0') {
		lf_strlcpy(log_service, service, sizeof(log_service));
	}
}

/* A small append-only buffer that silently stops at its end: a log line
 * must never fail, only get shorter. */
struct linebuf {
	char *buf;
	size_t len;
	size_t cap;
};

static void
lb_putn(struct linebuf *lb, const char *s, size_t n)
{
	if (lb->len + n > lb->cap) {
		n = lb->cap - lb->len;
	}
	memcpy(lb->buf + lb->len, s, n);
	lb->len += n;
}

static void
lb_puts(struct linebuf *lb, const char *s)
{
	lb_putn(lb, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (s[0] < 0x80) {
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values past Unicode are what
	 * strict JSON parsers reject. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return len;
}

static void
lb_put_json_string(struct linebuf *lb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char esc[8];
	lb_puts(lb, "\"");
	while (n > 0) {
		size_t len = utf8_seq_len(p, n);
		if (len == 0) {
			/* Keep the line valid JSON whatever bytes came in. */
			lb_puts(lb, "\\ufffd");
			len = 1;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			lb_putn(lb, esc, 2);
		} else if (*p == '\n') {
			lb_puts(lb, "\\n");
		} else if (*p == '\r') {
			lb_puts(lb, "\\r");
		} else if (*p == '\t') {
			lb_puts(lb, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			lb_puts(lb, esc);
		} else {
			lb_putn(lb, (const char *)p, len);
		}
		p += len;
		n -= len;
	}
	lb_puts(lb, "\"");
}

/* Text lines stay one line: control characters are shown escaped. */
static void
lb_put_text(struct linebuf *lb, const char *s)
{
	char esc[8];
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\n') {
			lb_puts(lb, "\\n");
		} else if (*p == '\r') {
			lb_puts(lb, "\\r");
		} else if (*p == '\t') {
			lb_puts(lb, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			lb_puts(lb, esc);
		} else {
			lb_putn(lb, (const char *)p, 1);
		}
	}
}

#define TIME_LEN 32

static void
format_now(char out[TIME_LEN])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t secs = ts.tv_sec;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TIME_LEN - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Cuts a message that did not fit at a character boundary and marks it. */
static void
mark_truncated(char *msg, size_t size)
{
	size_t end = size - 4;
	while (end > 0 && ((unsigned char)msg[end] & 0xc0) == 0x80) {
		end--;
	}
	memcpy(msg + end, "...", 4);
}

static void
write_all(const char *buf, size_t len)
{
	/* One write(2) normally carries the whole line, so that lines from
	 * several threads never interleave; the loop only covers signals and
	 * short writes. */
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void
emit(enum lf_log_level level, const char *msg)
{
	char line[LOG_LINE_MAX];
	char now[TIME_LEN];
	struct linebuf lb = {line, 0, sizeof(line) - 1};
	int lvl = level < LF_LOG_ERROR || level > LF_LOG_DEBUG ? LF_LOG_ERROR : (int)level;

	format_now(now);
	if (log_format == LF_LOG_JSON) {
		lb_puts(&lb, "{\"time\":\"");
		lb_puts(&lb, now);
		lb_puts(&lb, "\",\"level\":\"");
		lb_puts(&lb, level_lower[lvl]);
		lb_puts(&lb, "\",\"service\":");
		lb_put_json_string(&lb, log_service);
		lb_puts(&lb, ",\"msg\":");
		lb_put_json_string(&lb, msg);
		lb_puts(&lb, "}");
	} else {
		lb_puts(&lb, now);
		lb_puts(&lb, " ");
		lb_puts(&lb, level_upper[lvl]);
		lb_puts(&lb, " ");
		lb_put_text(&lb, log_service);
		lb_puts(&lb, ": ");
		lb_put_text(&lb, msg);
	}
	/* cap leaves room for the newline even when the line was cut. */
	line[lb.len++] = '\n';
	write_all(line, lb.len);
}

void
lf_log_write(enum lf_log_level level, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	va_list ap;

	if (level > lf_log_threshold) {
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		lf_strlcpy(msg, "(unformattable log message)", sizeof(msg));
	} else if ((size_t)n >= sizeof(msg)) {
		mark_truncated(msg, sizeof(msg));
	}
	emit(level, msg);
}

bool
lf_ratelimit_allow(struct lf_ratelimit *rl)
{
	int64_t now = lf_now_ms();
	bool started = rl->window_start != 0 || rl->count != 0 || rl->suppressed != 0;

	if (!started || now - rl->window_start >= rl->window_ms) {
		unsigned suppressed = rl->suppressed;
		rl->window_start = now;
		rl->count = 0;
		rl->suppressed = 0;
		if (suppressed > 0) {
			/* The caller's level already passed the threshold, so
			 * the summary is written whatever the threshold says. */
			char msg[64];
			snprintf(msg, sizeof(msg), "%u similar messages suppressed", suppressed);
			emit(LF_LOG_WARN, msg);
		}
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
