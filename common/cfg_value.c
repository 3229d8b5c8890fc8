/* Value syntax for the configuration: integers, durations, booleans,
 * enums and host:port, each with a reason when it does not parse. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_internal.h"
#include "lf/util.h"

/* Strict decimal: an optional '-' and digits. 0, -1 not a number,
 * -2 outside int64_t. */
static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)s[s[0] == '-'])) {
		return -1;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0') {
		return -1;
	}
	*out = v;
	return errno == ERANGE ? -2 : 0;
}

static const struct {
	const char *name;
	int64_t ms;
} duration_units[] = {
        {"d", 24LL * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1},
};

/* The shortest exact way to write ms: "1d", "90s", "1500ms". */
void
cfg_format_duration(int64_t ms, char *out, size_t outlen)
{
	if (ms == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	for (size_t i = 0; i < LF_ARRAY_SIZE(duration_units); i++) {
		if (ms % duration_units[i].ms == 0) {
			snprintf(out, outlen, "%" PRId64 "%s", ms / duration_units[i].ms,
			         duration_units[i].name);
			return;
		}
	}
}

static int64_t
duration_unit(const char *unit)
{
	if (*unit == '\0') {
		return 1000; /* a plain number means seconds */
	}
	for (size_t i = 0; i < LF_ARRAY_SIZE(duration_units); i++) {
		if (strcmp(unit, duration_units[i].name) == 0) {
			return duration_units[i].ms;
		}
	}
	return 0;
}

/* "30", "30s", "1.5s", "500ms", "5m", "1h", "1d" into milliseconds, computed
 * exactly in integers so that "0.1s" is 100ms and not 99. */
static int
parse_duration(const char *s, int64_t *out)
{
	const char *p = s;
	uint64_t whole = 0, frac = 0, scale = 1;
	bool overflow = false;

	if (!isdigit((unsigned char)*p)) {
		return PARSE_SYNTAX;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (uint64_t)INT64_MAX / 10) {
			overflow = true;
		} else {
			whole = whole * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p)) {
			return PARSE_SYNTAX;
		}
		for (; isdigit((unsigned char)*p); p++) {
			if (scale >= 1000000000) {
				return PARSE_INVALID;
			}
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	int64_t unit = duration_unit(p);
	if (unit == 0) {
		return PARSE_SYNTAX;
	}
	if (overflow || whole > (uint64_t)(INT64_MAX - unit) / (uint64_t)unit) {
		*out = INT64_MAX; /* past any range: the range check reports it */
		return 0;
	}
	if (frac * (uint64_t)unit % scale != 0) {
		return PARSE_INVALID;
	}
	*out = (int64_t)(whole * (uint64_t)unit + frac * (uint64_t)unit / scale);
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const words[] = {"false", "true", "no", "yes", "off", "on", "0", "1"};
	for (size_t i = 0; i < LF_ARRAY_SIZE(words); i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*out = i % 2 == 1;
			return 0;
		}
	}
	return -1;
}

static int
parse_enum(const struct lf_cfg_option *opt, const char *s, int *out, char *reason, size_t len)
{
	for (int i = 0; opt->choices != NULL && opt->choices[i] != NULL; i++) {
		if (strcasecmp(s, opt->choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	size_t n = (size_t)snprintf(reason, len, "expected one of ");
	for (int i = 0; opt->choices != NULL && opt->choices[i] != NULL && n < len; i++) {
		n += (size_t)snprintf(reason + n, len - n, "%s%s", i > 0 ? ", " : "",
		                      opt->choices[i]);
	}
	return -1;
}

static bool
host_chars_ok(const char *host, size_t len, bool bracketed)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];
		bool ok = isalnum(c) || c == '.' || c == '-' || c == '_' ||
		          (bracketed && (c == ':' || c == '%'));
		if (!ok) {
			return false;
		}
	}
	return true;
}

/* Like lf_cfg_split_hostport() but with the port unbounded, so that the
 * caller can tell a bad port range from bad syntax. */
static int
split_hostport(const char *value, char *host, size_t hostlen, long *port)
{
	const char *h = value, *colon;
	size_t len;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		if (close == NULL || close[1] != ':') {
			return -1;
		}
		h = value + 1;
		len = (size_t)(close - h);
		colon = close + 1;
		if (len == 0 || memchr(h, ':', len) == NULL || !host_chars_ok(h, len, true)) {
			return -1;
		}
	} else {
		colon = strchr(value, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL) {
			return -1;
		}
		len = (size_t)(colon - value);
		if (!host_chars_ok(h, len, false)) {
			return -1;
		}
	}
	const char *p = colon + 1;
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || digits > 5 || p[digits] != '\0' || len >= hostlen) {
		return -1;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	*port = strtol(p, NULL, 10);
	return 0;
}

int
lf_cfg_split_hostport(const char *value, char *host, size_t hostlen, uint16_t *port)
{
	long p;
	if (value == NULL || host == NULL || split_hostport(value, host, hostlen, &p) != 0 ||
	    p > 65535) {
		return -1;
	}
	*port = (uint16_t)p;
	return 0;
}

static int
check_range(const struct lf_cfg_option *opt, int64_t v, char *reason, size_t len)
{
	if (v >= opt->min && v <= opt->max) {
		return 0;
	}
	if (opt->type == LF_CFG_DURATION) {
		char lo[32], hi[32];
		cfg_format_duration(opt->min, lo, sizeof(lo));
		cfg_format_duration(opt->max, hi, sizeof(hi));
		snprintf(reason, len, "must be between %s and %s", lo, hi);
	} else {
		snprintf(reason, len, "%smust be between %" PRId64 " and %" PRId64,
		         opt->type == LF_CFG_HOSTPORT ? "port " : "", opt->min, opt->max);
	}
	return PARSE_INVALID;
}

static int
parse_duration_value(const struct lf_cfg_option *opt, const char *value, int64_t *ms, char *reason,
                     size_t len)
{
	switch (parse_duration(value, ms)) {
	case PARSE_SYNTAX:
		snprintf(reason, len, "expected a duration such as 30s, 500ms, 5m or 1h");
		return PARSE_SYNTAX;
	case PARSE_INVALID:
		snprintf(reason, len, "must be a whole number of milliseconds");
		return PARSE_INVALID;
	default:
		break;
	}
	return check_range(opt, *ms, reason, len);
}

/* Parses value into v; on failure writes why into reason, without the
 * value itself, which the caller adds unless the option is a secret. */
int
cfg_parse_value(const struct lf_cfg_option *opt, const char *value, union cfg_value *v,
                char *reason, size_t len)
{
	char host[HOST_MAX];
	long port;

	switch (opt->type) {
	case LF_CFG_STRING:
		return 0;
	case LF_CFG_INT:
		switch (parse_int(value, &v->i)) {
		case -1:
			snprintf(reason, len, "expected an integer");
			return PARSE_SYNTAX;
		case -2:
			v->i = value[0] == '-' ? INT64_MIN : INT64_MAX;
			break;
		default:
			break;
		}
		return check_range(opt, v->i, reason, len);
	case LF_CFG_BOOL:
		if (parse_bool(value, &v->b) != 0) {
			snprintf(reason, len, "expected true/false, yes/no, on/off or 1/0");
			return PARSE_SYNTAX;
		}
		return 0;
	case LF_CFG_DURATION:
		return parse_duration_value(opt, value, &v->i, reason, len);
	case LF_CFG_ENUM:
		return parse_enum(opt, value, &v->e, reason, len) == 0 ? 0 : PARSE_SYNTAX;
	case LF_CFG_HOSTPORT:
		if (split_hostport(value, host, sizeof(host), &port) != 0) {
			snprintf(reason, len, "expected host:port, [v6]:port or :port");
			return PARSE_SYNTAX;
		}
		return check_range(opt, port, reason, len);
	}
	snprintf(reason, len, "unsupported option type %d", (int)opt->type);
	return PARSE_INVALID;
}

/* For durations handed to APIs that count whole seconds (libmosquitto's
 * keepalive, libwebsockets' timeouts). */
int
lf_cfg_check_whole_seconds(const void *field, char *err, size_t errlen)
{
	return *(const int64_t *)field % LF_MS_PER_S == 0
	               ? 0
	               : lf_set_err(err, errlen, "must be a whole number of seconds");
}

int
lf_cfg_check_not_empty(const void *field, char *err, size_t errlen)
{
	const char *text = *(char *const *)field;
	return text[0] != '\0' ? 0 : lf_set_err(err, errlen, "must not be empty");
}
