/*
 * Keeps docs/config.md true: every option in the tables below has exactly
 * one row in its section's table with the same key, type and default (and
 * its range or choices in the description), and the doc has no row or
 * section that the code does not have. A change on either side alone fails.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apigw.h"
#include "bridge.h"
#include "routerlink.h"
#include "lf/cfg.h"
#include "lf/cli.h"
#include "lf/log.h"
#include "lf/mqtt.h"

#define DOC_PATH LF_SOURCE_DIR "/docs/config.md"

struct doc_section {
	const char *name;
	const struct lf_cfg_option *options;
};

/* One line per documented section. */
static const struct doc_section documented[] = {
        {"mqtt", lf_mqtt_cfg_options},  {"log", lf_log_cfg_options},
        {"bridge", bridge_cfg_options}, {"routerlink", routerlink_cfg_options},
        {"apigw", apigw_cfg_options},
};

#define MAX_ROWS   256
#define REPORT_MAX 8192

#define CELL_MAX 512

struct doc_row {
	char section[32];
	char key[CELL_MAX];
	char type[CELL_MAX];
	char def[CELL_MAX];
	char desc[CELL_MAX];
	int line;
};

struct report {
	char text[REPORT_MAX];
	size_t len;
	int problems;
};

static void __attribute__((format(printf, 2, 3))) problem(struct report *r, const char *fmt, ...)
{
	va_list ap;
	r->problems++;
	if (r->len >= sizeof(r->text) - 1) {
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	r->len += n > 0 ? (size_t)n : 0;
	if (r->len < sizeof(r->text) - 1) {
		r->text[r->len++] = '\n';
		r->text[r->len] = '\0';
	} else {
		r->len = sizeof(r->text) - 1;
	}
}

/* Copies a table cell without its surrounding blanks. */
static void
cell_copy(char *out, size_t outlen, const char *start, const char *end)
{
	while (start < end && *start == ' ') {
		start++;
	}
	while (end > start && end[-1] == ' ') {
		end--;
	}
	snprintf(out, outlen, "%.*s", (int)(end - start), start);
}

/* "`x`" -> "x"; anything else is a malformed cell. */
static int
unquote(char *cell)
{
	size_t len = strlen(cell);
	if (len < 2 || cell[0] != '`' || cell[len - 1] != '`') {
		return -1;
	}
	memmove(cell, cell + 1, len - 2);
	cell[len - 2] = '\0';
	return 0;
}

/* Splits "| a | b | c | d |" into its four cells; -1 when it is not that. */
static int
split_row(const char *line, char cells[4][CELL_MAX])
{
	const char *p = line + 1;
	for (int i = 0; i < 4; i++) {
		const char *bar = p;
		while (*bar != '\0' && (*bar != '|' || (bar > p && bar[-1] == '\\'))) {
			bar++;
		}
		if (*bar != '|') {
			return -1;
		}
		cell_copy(cells[i], CELL_MAX, p, bar);
		p = bar + 1;
	}
	return *p == '\0' || *p == '\n' ? 0 : -1;
}

/* Reads every option row under a "## [section]" heading. */
static int
parse_doc(const char *text, struct doc_row *rows, struct report *r, char headings[][32],
          int *n_headings)
{
	char section[32] = "";
	int n = 0, lineno = 0;
	*n_headings = 0;
	for (const char *line = text; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		line += len + (nl != NULL);
		lineno++;
		if (strncmp(buf, "## ", 3) == 0) {
			section[0] = '\0';
			if (sscanf(buf, "## [%31[^]]]", section) == 1) {
				snprintf(headings[(*n_headings)++], 32, "%s", section);
			}
			continue;
		}
		char cells[4][CELL_MAX];
		if (section[0] == '\0' || buf[0] != '|' || strncmp(buf, "|---", 4) == 0 ||
		    strncmp(buf, "| key |", 7) == 0) {
			continue;
		}
		if (n >= MAX_ROWS || split_row(buf, cells) != 0 || unquote(cells[0]) != 0 ||
		    unquote(cells[2]) != 0) {
			problem(r, "config.md:%d: malformed row in [%s]: %s", lineno, section, buf);
			continue;
		}
		struct doc_row *row = &rows[n++];
		snprintf(row->section, sizeof(row->section), "%s", section);
		snprintf(row->key, sizeof(row->key), "%s", cells[0]);
		snprintf(row->type, sizeof(row->type), "%s", cells[1]);
		snprintf(row->def, sizeof(row->def), "%s", cells[2]);
		snprintf(row->desc, sizeof(row->desc), "%s", cells[3]);
		row->line = lineno;
	}
	return n;
}

static void
format_ms(int64_t ms, char *out, size_t outlen)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(out, outlen, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	snprintf(out, outlen, "0s");
}

/* The parts of a row the option decides. */
static void
check_row(const struct doc_section *s, const struct lf_cfg_option *o, const struct doc_row *row,
          struct report *r)
{
	const char *def =
	        o->default_value != NULL && o->default_value[0] != '\0' ? o->default_value : "\"\"";
	if (strcmp(row->type, lf_cli_type_name(o->type)) != 0) {
		problem(r, "config.md:%d: [%s] %s: type is %s in the doc, %s in the code",
		        row->line, s->name, o->name, row->type, lf_cli_type_name(o->type));
	}
	if (strcmp(row->def, def) != 0) {
		problem(r, "config.md:%d: [%s] %s: default is `%s` in the doc, `%s` in the code",
		        row->line, s->name, o->name, row->def, def);
	}
	char want[128] = "", lo[32], hi[32];
	if (o->type == LF_CFG_DURATION) {
		format_ms(o->min, lo, sizeof(lo));
		format_ms(o->max, hi, sizeof(hi));
		snprintf(want, sizeof(want), "`%s`..`%s`", lo, hi);
	} else if (o->type == LF_CFG_INT || o->type == LF_CFG_HOSTPORT) {
		snprintf(want, sizeof(want), "`%" PRId64 "`..`%" PRId64 "`", o->min, o->max);
	}
	if (want[0] != '\0' && strstr(row->desc, want) == NULL) {
		problem(r, "config.md:%d: [%s] %s: the description should give the range %s",
		        row->line, s->name, o->name, want);
	}
	for (int i = 0; o->type == LF_CFG_ENUM && o->choices[i] != NULL; i++) {
		snprintf(want, sizeof(want), "`%s`", o->choices[i]);
		if (strstr(row->desc, want) == NULL) {
			problem(r, "config.md:%d: [%s] %s: the description should name %s",
			        row->line, s->name, o->name, want);
		}
	}
}

static const struct doc_section *
find_documented(const struct doc_section *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			return &list[i];
		}
	}
	return NULL;
}

/* Compares a doc text with a section list; returns the number of problems. */
static int
check_doc(const char *text, const struct doc_section *list, size_t n, struct report *r)
{
	static struct doc_row rows[MAX_ROWS];
	char headings[64][32];
	int n_headings;
	int n_rows = parse_doc(text, rows, r, headings, &n_headings);

	for (int h = 0; h < n_headings; h++) {
		if (find_documented(list, n, headings[h]) == NULL) {
			problem(r, "config.md: section [%s] is documented but not in the code",
			        headings[h]);
		}
	}
	for (int i = 0; i < n_rows; i++) {
		const struct doc_section *s = find_documented(list, n, rows[i].section);
		const struct lf_cfg_option *o = s != NULL ? s->options : NULL;
		while (o != NULL && o->name != NULL && strcmp(o->name, rows[i].key) != 0) {
			o++;
		}
		if (o == NULL || o->name == NULL) {
			problem(r, "config.md:%d: [%s] %s is documented but does not exist",
			        rows[i].line, rows[i].section, rows[i].key);
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (const struct lf_cfg_option *o = list[i].options; o->name != NULL; o++) {
			if (o->help == NULL || o->help[0] == '\0') {
				problem(r, "[%s] %s has no help text", list[i].name, o->name);
			}
			const struct doc_row *found = NULL;
			for (int j = 0; j < n_rows; j++) {
				if (strcmp(rows[j].section, list[i].name) != 0 ||
				    strcmp(rows[j].key, o->name) != 0) {
					continue;
				}
				if (found != NULL) {
					problem(r, "config.md:%d: [%s] %s has a second row",
					        rows[j].line, list[i].name, o->name);
				}
				found = &rows[j];
			}
			if (found == NULL) {
				problem(r, "config.md: [%s] %s has no row", list[i].name, o->name);
			} else {
				check_row(&list[i], o, found, r);
			}
		}
	}
	return r->problems;
}

static char *
read_doc(void)
{
	FILE *f = fopen(DOC_PATH, "r");
	if (f == NULL) {
		fail_msg("cannot open %s", DOC_PATH);
	}
	static char text[256 * 1024];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static void
test_doc_matches_code(void **state)
{
	static struct report r;
	memset(&r, 0, sizeof(r));
	if (check_doc(read_doc(), documented, sizeof(documented) / sizeof(documented[0]), &r) !=
	    0) {
		fail_msg("docs/config.md and the option tables differ:\n%s", r.text);
	}
}

/* Replaces the first `from` in text by `to`, into a new buffer. */
static char *
edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	assert_non_null(at);
	size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
	char *out = malloc(len);
	assert_non_null(out);
	snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

static int
problems_in(const char *text, const struct doc_section *list, size_t n)
{
	static struct report r;
	memset(&r, 0, sizeof(r));
	return check_doc(text, list, n, &r);
}

/* The checker itself: a doc changed alone fails. */
static void
test_doc_side_changes_fail(void **state)
{
	const char *doc = read_doc();
	const size_t n = sizeof(documented) / sizeof(documented[0]);
	static const struct {
		const char *from, *to;
	} edits[] = {
	        {"| `host` | string | `127.0.0.1` |", "| `host` | string | `localhost` |"},
	        {"| `port` | integer |", "| `port` | string |"},
	        {"| `qos` |", "| `qoss` |"},
	        {"| `username` | string | `\"\"` | User name for the broker; empty connects "
	         "without one. |\n",
	         ""},
	        {"## [log]", "## [logging]"},
	        {"## [bridge]\n", "## [bridge]\n\n| `extra` | string | `\"\"` | nothing |\n"},
	        {"Range `1s`..`1d`", "Range `1s`..`2d`"},
	        {"`error`, `warn`", "`warn`"},
	        {"| `tls_key` | string |", "| tls_key | string |"},
	};
	assert_int_equal(problems_in(doc, documented, n), 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *changed = edit(doc, edits[i].from, edits[i].to);
		if (problems_in(changed, documented, n) == 0) {
			fail_msg("edit %zu (%s) went unnoticed", i, edits[i].from);
		}
		free(changed);
	}
	/* A documented section missing from the doc fails too. */
	char *cut = edit(doc, "## [bridge]", "## Bridge");
	assert_true(problems_in(cut, documented, n) > 0);
	free(cut);
}

/* The checker itself: code changed alone fails. */
static void
test_code_side_changes_fail(void **state)
{
	const char *doc = read_doc();
	static struct lf_cfg_option copy[64];
	size_t count = 0;
	while (lf_log_cfg_options[count].name != NULL) {
		count++;
	}
	assert_true(count + 2 < sizeof(copy) / sizeof(copy[0]));
	struct doc_section list[] = {
	        {"mqtt", lf_mqtt_cfg_options},  {"log", copy},
	        {"bridge", bridge_cfg_options}, {"routerlink", routerlink_cfg_options},
	        {"apigw", apigw_cfg_options},
	};
	const size_t n = sizeof(list) / sizeof(list[0]);

	memcpy(copy, lf_log_cfg_options, (count + 1) * sizeof(copy[0]));
	assert_int_equal(problems_in(doc, list, n), 0);
	copy[0].default_value = "warn";
	assert_true(problems_in(doc, list, n) > 0);

	memcpy(copy, lf_log_cfg_options, (count + 1) * sizeof(copy[0]));
	copy[1].type = LF_CFG_STRING;
	assert_true(problems_in(doc, list, n) > 0);

	memcpy(copy, lf_log_cfg_options, (count + 1) * sizeof(copy[0]));
	copy[count] = (struct lf_cfg_option){
	        .name = "color", .type = LF_CFG_BOOL, .default_value = "false", .help = "colours"};
	copy[count + 1] = (struct lf_cfg_option){.name = NULL};
	assert_true(problems_in(doc, list, n) > 0);

	memcpy(copy, lf_log_cfg_options, (count + 1) * sizeof(copy[0]));
	copy[count - 1] = (struct lf_cfg_option){.name = NULL};
	assert_true(problems_in(doc, list, n) > 0);

	/* A section the code gains without a doc section. */
	memcpy(copy, lf_log_cfg_options, (count + 1) * sizeof(copy[0]));
	struct doc_section more[] = {
	        {"mqtt", lf_mqtt_cfg_options},  {"log", copy},
	        {"bridge", bridge_cfg_options}, {"routerlink", routerlink_cfg_options},
	        {"apigw", apigw_cfg_options},   {"extra", lf_log_cfg_options},
	};
	assert_true(problems_in(doc, more, sizeof(more) / sizeof(more[0])) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_doc_matches_code),
	        cmocka_unit_test(test_doc_side_changes_fail),
	        cmocka_unit_test(test_code_side_changes_fail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
