#include "lf/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

int64_t
lf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
lf_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
lf_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
lf_format_rfc3339(const struct timespec *ts, char out[LF_RFC3339_LEN])
{
	struct tm tm;
	time_t secs = ts->tv_sec;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, LF_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, LF_RFC3339_LEN - n, ".%06ldZ", (long)(ts->tv_nsec / 1000));
}

void
lf_format_rfc3339_cached(struct lf_rfc3339_cache *cache, const struct timespec *ts,
                         char out[LF_RFC3339_LEN])
{
	if (!cache->valid || cache->sec != ts->tv_sec) {
		struct tm tm;
		time_t secs = ts->tv_sec;
		gmtime_r(&secs, &tm);
		cache->len =
		        strftime(cache->prefix, sizeof(cache->prefix), "%Y-%m-%dT%H:%M:%S", &tm);
		cache->sec = ts->tv_sec;
		cache->valid = 1;
	}
	memcpy(out, cache->prefix, cache->len);
	char *p = out + cache->len;
	long us = (long)(ts->tv_nsec / 1000);
	*p++ = '.';
	for (int i = 5; i >= 0; i--) {
		p[i] = (char)('0' + us % 10);
		us /= 10;
	}
	p[6] = 'Z';
	p[7] = '\0';
}

size_t
lf_base64_encoded_len(size_t binlen)
{
	return sodium_base64_ENCODED_LEN(binlen, sodium_base64_VARIANT_ORIGINAL) - 1;
}

size_t
lf_base64_encode(const uint8_t *bin, size_t binlen, char *out, size_t outlen)
{
	if (outlen < lf_base64_encoded_len(binlen) + 1) {
		if (outlen > 0) {
			out[0] = '\0';
		}
		return 0;
	}
	sodium_bin2base64(out, outlen, bin, binlen, sodium_base64_VARIANT_ORIGINAL);
	return strlen(out);
}

long
lf_base64_decode(const char *text, size_t textlen, uint8_t *out, size_t outlen)
{
	/* Forwarders often omit the padding; libsodium's NO_PADDING variant
	 * refuses it when present, so strip it and decode without. Padding
	 * that is there must still be right: at most two '=' completing a
	 * multiple of four characters. */
	size_t padded = textlen;
	while (textlen > 0 && text[textlen - 1] == '=') {
		textlen--;
	}
	if (padded != textlen && (padded - textlen > 2 || padded % 4 != 0)) {
		return -1;
	}
	size_t binlen = 0;
	const char *end = NULL;
	if (sodium_base642bin(out, outlen, text, textlen, NULL, &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
		return -1;
	}
	if (end != text + textlen) {
		return -1;
	}
	return (long)binlen;
}

size_t
lf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void
lf_hostname(char *out, size_t outlen)
{
	if (gethostname(out, outlen) != 0 || out[0] == '\0') {
		lf_strlcpy(out, "localhost", outlen);
	}
	out[outlen - 1] = '\0';
}

void
lf_format_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}
