/* What cfg.c (loading) and cfg_value.c (value syntax) share. Internal. */
#ifndef LF_CFG_INTERNAL_H
#define LF_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lf/cfg.h"

#define HOST_MAX 256

/* How a value failed: syntax errors quote the value, the others do not. */
enum {
	PARSE_SYNTAX = -1,
	PARSE_INVALID = -2,
};

/* The parsed value of one option before it is stored; check() sees the
 * member that has the field's type. */
union cfg_value {
	char *s;
	int64_t i;
	bool b;
	int e;
};

/* Parses value into v; on failure writes why into reason, without the
 * value itself, which the caller adds unless the option is a secret.
 * Returns 0, PARSE_SYNTAX or PARSE_INVALID. */
int cfg_parse_value(const struct lf_cfg_option *opt, const char *value, union cfg_value *v,
                    char *reason, size_t len);

/* The shortest exact way to write ms: "1d", "90s", "1500ms". */
void cfg_format_duration(int64_t ms, char *out, size_t outlen);

#endif
