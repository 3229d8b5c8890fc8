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

#include "cfg_internal.h"
#include "lf/util.h"

#define ENV_PREFIX "LORAFLEET_"
#define REASON_MAX 256
#define QUOTED_MAX 48

const char *const lf_cfg_known_sections[] = {"mqtt", "log", "bridge", "routerlink", "apigw", NULL};

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
		out[n++] = (char)((*p < 0x20 || *p == 0x7f) ? '?' : *p);
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
			lf_format_err(err, errlen, "%s: must not contain control characters",
			              opt->name);
			return -1;
		}
	}
	rc = cfg_parse_value(opt, value, &v, reason, sizeof(reason));
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
			lf_format_err(err, errlen, "%s: out of memory", opt->name);
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
		lf_format_err(err, errlen, "%s: %s", opt->name,
		              reason[0] ? reason : "invalid value");
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
		lf_format_err(err, errlen, "%s: unknown key", name);
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
	lf_format_err(fp->err, fp->errlen, "%s:%d: %s", fp->path, fp->lineno, msg);
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
			lf_format_err(fp->err, fp->errlen, "%s: cannot read: %s", fp->path,
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
	/* libinih reads "key =;x" as the value ";x" (a ';' starts a comment
	 * only after a blank), but --check-config would print it as
	 * "key = ;x", which reads as empty: a value that cannot be written
	 * back, and most likely a comment missing its blank. Refused. Found
	 * by fuzz/fuzz_config.c. */
	if (value[0] == ';') {
		parse_fail(fp,
		           "%s: a value cannot begin with ';' (a comment needs a blank before it)",
		           name);
		return 0;
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
		lf_format_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	fp.fp = fopen(path, "r");
	if (fp.fp == NULL) {
		lf_format_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
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
		lf_format_err(err, errlen, "%s: out of memory", path);
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
			lf_format_err(err, errlen, "%s: %s: unknown key", var, key);
			return -1;
		}
		if (set_option(section, opt, eq + 1, reason, sizeof(reason)) != 0) {
			lf_format_err(err, errlen, "%s: %s", var, reason);
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
			lf_format_err(err, errlen, "default of [%s] %s", section->name, reason);
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
		cfg_format_duration(*(const int64_t *)field, buf, sizeof(buf));
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
