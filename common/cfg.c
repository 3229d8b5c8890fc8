#include "lf/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "lf/util.h"

#define ENV_PREFIX "LORAFLEET_"
#define REASON_MAX 256
#define QUOTED_MAX 48
#define HOST_MAX   256

/* How a value failed: syntax errors quote the value, the others do not. */
enum {
	PARSE_SYNTAX = -1,
	PARSE_INVALID = -2,
};

const char *const lf_cfg_known_sections[] = {"mqtt", "log", "bridge", "routerlink", "apigw", NULL};

/* The parsed value of one option before it is stored; check() sees the
 * member that has the field's type. */
union cfg_value {
	char *s;
	int64_t i;
	bool b;
	int e;
};

/* Outside text inside an error message: shortened, and with anything
 * unprintable shown as '?' so that it cannot garble a terminal. */
static void
sanitize(const char *text, char *out, size_t outlen)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (n >= QUOTED_MAX || n + 4 >= outlen) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
	}
	out[n] = '\0';
}

static void *
field_of(const struct lf_cfg_section *section, const struct lf_cfg_option *opt)
{
	return (char *)section->base + opt->offset;
}

static bool
is_string_type(enum lf_cfg_type type)
{
	return type == LF_CFG_STRING || type == LF_CFG_HOSTPORT;
}

static const struct lf_cfg_option *
find_option(const struct lf_cfg_section *section, const char *key)
{
	for (const struct lf_cfg_option *opt = section->options; opt->name != NULL; opt++) {
		if (strcmp(opt->name, key) == 0) {
			return opt;
		}
	}
	return NULL;
}

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
static void
format_duration(int64_t ms, char *out, size_t outlen)
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
		format_duration(opt->min, lo, sizeof(lo));
		format_duration(opt->max, hi, sizeof(hi));
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
static int
parse_value(const struct lf_cfg_option *opt, const char *value, union cfg_value *v, char *reason,
            size_t len)
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

/* Where v keeps a value of the option's type, and its size: check()
 * gets this pointer, and storing copies this many bytes into the field. */
static void *
value_member(const struct lf_cfg_option *opt, union cfg_value *v, size_t *size)
{
	switch (opt->type) {
	case LF_CFG_STRING:
	case LF_CFG_HOSTPORT:
		*size = sizeof(v->s);
		return &v->s;
	case LF_CFG_BOOL:
		*size = sizeof(v->b);
		return &v->b;
	case LF_CFG_ENUM:
		*size = sizeof(v->e);
		return &v->e;
	default:
		*size = sizeof(v->i);
		return &v->i;
	}
}

static int
set_option(const struct lf_cfg_section *section, const struct lf_cfg_option *opt, const char *value,
           char *err, size_t errlen)
{
	union cfg_value v = {0};
	char reason[REASON_MAX] = "";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			lf_set_err(err, errlen, "%s: must not contain control characters",
			           opt->name);
			return -1;
		}
	}
	rc = parse_value(opt, value, &v, reason, sizeof(reason));
	if (rc == PARSE_SYNTAX && !(opt->flags & LF_CFG_SECRET)) {
		/* Syntax errors show what was read; range errors are clear
		 * without it. */
		char shown[QUOTED_MAX + 8];
		sanitize(value, shown, sizeof(shown));
		size_t n = strlen(reason);
		snprintf(reason + n, sizeof(reason) - n, ", got \"%s\"", shown);
	}
	if (rc == 0 && is_string_type(opt->type)) {
		v.s = strdup(value);
		if (v.s == NULL) {
			lf_set_err(err, errlen, "%s: out of memory", opt->name);
			return -1;
		}
	}
	size_t size;
	void *member = value_member(opt, &v, &size);
	if (rc == 0 && opt->check != NULL) {
		rc = opt->check(member, reason, sizeof(reason));
	}
	if (rc != 0) {
		if (is_string_type(opt->type)) {
			free(v.s); /* v.s aliases the other members */
		}
		lf_set_err(err, errlen, "%s: %s", opt->name, reason[0] ? reason : "invalid value");
		return -1;
	}
	void *field = field_of(section, opt);
	if (is_string_type(opt->type)) {
		free(*(char **)field);
	}
	memcpy(field, member, size);
	return 0;
}

int
lf_cfg_set(const struct lf_cfg_section *section, const char *key, const char *value, char *err,
           size_t errlen)
{
	const struct lf_cfg_option *opt = find_option(section, key);
	if (opt == NULL) {
		char name[QUOTED_MAX + 8];
		sanitize(key, name, sizeof(name));
		lf_set_err(err, errlen, "%s: unknown key", name);
		return -1;
	}
	return set_option(section, opt, value != NULL ? value : "", err, errlen);
}

static const struct lf_cfg_section *
find_section(const struct lf_cfg_section *sections, size_t n, const char *name, size_t *index)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(sections[i].name, name) == 0) {
			*index = i;
			return &sections[i];
		}
	}
	return NULL;
}

static bool
is_known_section(const char *name)
{
	for (size_t i = 0; lf_cfg_known_sections[i] != NULL; i++) {
		if (strcmp(lf_cfg_known_sections[i], name) == 0) {
			return true;
		}
	}
	return false;
}

/* Where one file's parse stands; both the reader and the handler of
 * libinih get it. */
struct file_parse {
	const struct lf_cfg_section *sections;
	size_t n_sections;
	int *set_on; /* per option of all sections in turn: line that set it, or 0 */
	FILE *fp;
	const char *path;
	int lineno;
	int fail_line; /* where the reported error is, 0 for none or a read error */
	char *line;
	size_t linecap;
	bool failed;
	char *err;
	size_t errlen;
};

static void __attribute__((format(printf, 2, 3)))
parse_fail(struct file_parse *fp, const char *fmt, ...)
{
	char msg[REASON_MAX + 64];
	va_list ap;
	if (fp->failed) {
		return;
	}
	fp->failed = true;
	fp->fail_line = fp->lineno;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lf_set_err(fp->err, fp->errlen, "%s:%d: %s", fp->path, fp->lineno, msg);
}

/* A [section] line: sections nobody owns are refused here, so that even
 * an empty misspelt section is reported, at its own line. */
static void
check_section_line(struct file_parse *fp, const char *line)
{
	const char *close = strchr(line, ']');
	char name[QUOTED_MAX + 8];
	size_t index;

	if (close == NULL) {
		return; /* libinih reports the syntax error */
	}
	const char *rest = close + 1 + strspn(close + 1, " \t");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		parse_fail(fp, "unexpected text after the section name");
		return;
	}
	/* Every real section name is short: a longer one is unknown anyway. */
	char full[64];
	size_t len = (size_t)(close - line - 1);
	snprintf(full, sizeof(full), "%.*s", (int)len, line + 1);
	bool owned = find_section(fp->sections, fp->n_sections, full, &index) != NULL;
	if (len >= sizeof(full) || (!owned && !is_known_section(full))) {
		sanitize(full, name, sizeof(name));
		parse_fail(fp, "unknown section [%s]", name);
	}
}

/*
 * libinih's fgets-style reader. Reading the lines ourselves gives exact
 * line numbers to every error, lets NUL bytes and over-long lines be
 * refused instead of silently split, and drops leading blanks: libinih
 * would otherwise take an indented "key = value" line as the continuation
 * of the previous value.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct file_parse *fp = stream;
	if (fp->failed) {
		return NULL;
	}
	ssize_t n = getline(&fp->line, &fp->linecap, fp->fp);
	if (n < 0) {
		if (ferror(fp->fp)) {
			lf_set_err(fp->err, fp->errlen, "%s: cannot read: %s", fp->path,
			           strerror(errno));
			fp->failed = true;
		}
		return NULL;
	}
	fp->lineno++;
	char *p = fp->line;
	size_t len = (size_t)n;
	if (memchr(p, '\0', len) != NULL) {
		parse_fail(fp, "line contains a NUL byte");
		return NULL;
	}
	if (fp->lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		len -= 3;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) {
		len--;
	}
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (len >= (size_t)num) {
		parse_fail(fp, "line too long (at most %d characters)", num - 1);
		return NULL;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	if (str[0] == '[') {
		check_section_line(fp, str);
	}
	return fp->failed ? NULL : str;
}

static size_t
count_options(const struct lf_cfg_section *section)
{
	size_t n = 0;
	while (section->options[n].name != NULL) {
		n++;
	}
	return n;
}

static int
handle_value(void *user, const char *section, const char *key, const char *value)
{
	struct file_parse *fp = user;
	char name[QUOTED_MAX + 8];
	char reason[REASON_MAX + 64];
	size_t si;

	if (fp->failed) {
		return 0;
	}
	sanitize(key, name, sizeof(name));
	if (section[0] == '\0') {
		parse_fail(fp, "%s: key before any [section]", name);
		return 0;
	}
	const struct lf_cfg_section *sec = find_section(fp->sections, fp->n_sections, section, &si);
	if (sec == NULL) {
		/* Another daemon's section: that daemon validates it. */
		return 1;
	}
	const struct lf_cfg_option *opt = find_option(sec, key);
	if (opt == NULL) {
		parse_fail(fp, "%s: unknown key", name);
		return 0;
	}
	size_t index = (size_t)(opt - sec->options);
	for (size_t i = 0; i < si; i++) {
		index += count_options(&fp->sections[i]);
	}
	int *set_on = &fp->set_on[index];
	if (*set_on != 0) {
		parse_fail(fp, "%s: duplicate key (first set on line %d)", name, *set_on);
		return 0;
	}
	if (set_option(sec, opt, value, reason, sizeof(reason)) != 0) {
		parse_fail(fp, "%s", reason);
		return 0;
	}
	*set_on = fp->lineno;
	return 1;
}

static int
load_file(const struct lf_cfg_section *sections, size_t n_sections, const char *path, char *err,
          size_t errlen)
{
	struct file_parse fp = {.sections = sections,
	                        .n_sections = n_sections,
	                        .path = path,
	                        .err = err,
	                        .errlen = errlen};
	size_t total = 0;
	int rc = -1;

	for (size_t i = 0; i < n_sections; i++) {
		total += count_options(&sections[i]);
	}
	fp.set_on = calloc(total + 1, sizeof(*fp.set_on));
	if (fp.set_on == NULL) {
		lf_set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	fp.fp = fopen(path, "r");
	if (fp.fp == NULL) {
		lf_set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	/* libinih goes on after a syntax error, so the error we recorded may
	 * come after the one it reports: the first one is the one to fix. */
	int line = ini_parse_stream(read_line, &fp, handle_value, &fp);
	if (line > 0 && (!fp.failed || line < fp.fail_line)) {
		fp.failed = false;
		fp.lineno = line;
		parse_fail(&fp, "syntax error: expected [section], key = value or a comment");
	} else if (!fp.failed && line < 0) {
		lf_set_err(err, errlen, "%s: out of memory", path);
		fp.failed = true;
	}
	rc = fp.failed ? -1 : 0;
	fclose(fp.fp);
out:
	free(fp.line);
	free(fp.set_on);
	return rc;
}

/* LORAFLEET_<SECTION>_<KEY> for name into out, upper-case. */
static void
env_name(const char *section, const char *key, char *out, size_t outlen)
{
	snprintf(out, outlen, ENV_PREFIX "%s_%s", section, key != NULL ? key : "");
	for (char *p = out; *p != '\0'; p++) {
		*p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
	}
}

static const struct lf_cfg_option *
find_env_option(const struct lf_cfg_section *section, const char *var, size_t varlen)
{
	char name[256];
	for (const struct lf_cfg_option *opt = section->options; opt->name != NULL; opt++) {
		env_name(section->name, opt->name, name, sizeof(name));
		if (strlen(name) == varlen && memcmp(name, var, varlen) == 0) {
			return opt;
		}
	}
	return NULL;
}

/* One pass over the environment per owned section, so that a misspelt
 * variable is an error rather than a setting silently not applied. */
static int
load_env_section(const struct lf_cfg_section *section, char *err, size_t errlen)
{
	char prefix[128], var[QUOTED_MAX + 8], key[QUOTED_MAX + 8];
	char reason[REASON_MAX + 64];

	env_name(section->name, NULL, prefix, sizeof(prefix));
	size_t plen = strlen(prefix);
	for (char **env = environ; env != NULL && *env != NULL; env++) {
		const char *eq = strchr(*env, '=');
		if (eq == NULL || strncmp(*env, prefix, plen) != 0) {
			continue;
		}
		size_t varlen = (size_t)(eq - *env);
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)varlen, *env);
		sanitize(name, var, sizeof(var));
		const struct lf_cfg_option *opt = find_env_option(section, *env, varlen);
		if (opt == NULL) {
			sanitize(name + plen, key, sizeof(key));
			for (char *p = key; *p != '\0'; p++) {
				*p = (char)tolower((unsigned char)*p);
			}
			lf_set_err(err, errlen, "%s: %s: unknown key", var, key);
			return -1;
		}
		if (set_option(section, opt, eq + 1, reason, sizeof(reason)) != 0) {
			lf_set_err(err, errlen, "%s: %s", var, reason);
			return -1;
		}
	}
	return 0;
}

/* Defaults go through the same parser as the file, so a table whose
 * default its own rules refuse fails at once, in every test. */
static int
load_defaults(const struct lf_cfg_section *section, char *err, size_t errlen)
{
	char reason[REASON_MAX + 64];
	for (const struct lf_cfg_option *opt = section->options; opt->name != NULL; opt++) {
		const char *value = opt->default_value != NULL ? opt->default_value : "";
		if (set_option(section, opt, value, reason, sizeof(reason)) != 0) {
			lf_set_err(err, errlen, "default of [%s] %s", section->name, reason);
			return -1;
		}
	}
	return 0;
}

static void
clear_strings(const struct lf_cfg_section *sections, size_t n_sections, bool release)
{
	for (size_t i = 0; i < n_sections; i++) {
		for (const struct lf_cfg_option *o = sections[i].options; o->name != NULL; o++) {
			if (is_string_type(o->type)) {
				char **field = field_of(&sections[i], o);
				if (release) {
					free(*field);
				}
				*field = NULL;
			}
		}
	}
}

int
lf_cfg_load(const struct lf_cfg_section *sections, size_t n_sections, const char *path, char *err,
            size_t errlen)
{
	/* The struct may hold anything before the first load: clear the
	 * string fields first so that lf_cfg_free() is safe after a failure
	 * at any point. */
	clear_strings(sections, n_sections, false);
	for (size_t i = 0; i < n_sections; i++) {
		if (load_defaults(&sections[i], err, errlen) != 0) {
			return -1;
		}
	}
	if (path != NULL && load_file(sections, n_sections, path, err, errlen) != 0) {
		return -1;
	}
	for (size_t i = 0; i < n_sections; i++) {
		if (load_env_section(&sections[i], err, errlen) != 0) {
			return -1;
		}
	}
	return 0;
}

void
lf_cfg_free(const struct lf_cfg_section *sections, size_t n_sections)
{
	clear_strings(sections, n_sections, true);
}

static void
print_option(const struct lf_cfg_section *section, const struct lf_cfg_option *opt, FILE *out)
{
	const void *field = field_of(section, opt);
	char buf[32];
	const char *text = buf;
	int e;

	switch (opt->type) {
	case LF_CFG_STRING:
	case LF_CFG_HOSTPORT:
		text = *(char *const *)field != NULL ? *(char *const *)field : "";
		if ((opt->flags & LF_CFG_SECRET) && text[0] != '\0') {
			text = "********";
		}
		break;
	case LF_CFG_INT:
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)field);
		break;
	case LF_CFG_DURATION:
		format_duration(*(const int64_t *)field, buf, sizeof(buf));
		break;
	case LF_CFG_BOOL:
		text = *(const bool *)field ? "true" : "false";
		break;
	case LF_CFG_ENUM:
		e = *(const int *)field;
		text = "?";
		for (int i = 0; opt->choices != NULL && opt->choices[i] != NULL; i++) {
			if (i == e) {
				text = opt->choices[i];
			}
		}
		break;
	}
	if (text[0] == '\0') {
		fprintf(out, "%s =\n", opt->name);
	} else {
		fprintf(out, "%s = %s\n", opt->name, text);
	}
}

void
lf_cfg_print(const struct lf_cfg_section *sections, size_t n_sections, void *file)
{
	FILE *out = file;
	for (size_t i = 0; i < n_sections; i++) {
		fprintf(out, "%s[%s]\n", i > 0 ? "\n" : "", sections[i].name);
		for (const struct lf_cfg_option *o = sections[i].options; o->name != NULL; o++) {
			print_option(&sections[i], o, out);
		}
	}
}
