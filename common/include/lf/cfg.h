/*
 * Configuration: one INI file for all daemons (libinih), described by one
 * table per section. The table drives defaults, parsing, validation,
 * environment overrides (LORAFLEET_<SECTION>_<KEY>), --check-config output
 * and the config reference test that keeps docs/config.md true.
 *
 * Each daemon passes the sections it owns. Sections that belong to another
 * lorafleet daemon are skipped; a section nobody owns is an error. Every
 * error reads `file:line: key: reason` (or `LORAFLEET_X_Y: key: reason`).
 */
#ifndef LF_CFG_H
#define LF_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lf_cfg_type {
	LF_CFG_STRING,   /* char *, malloc'd, never NULL after load ("" when unset) */
	LF_CFG_INT,      /* int64_t within [min, max] */
	LF_CFG_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
	LF_CFG_DURATION, /* int64_t milliseconds: "30" or "30s", "500ms", "5m", "1h", "1.5s" */
	LF_CFG_ENUM,     /* int: index into choices */
	LF_CFG_HOSTPORT, /* char *: "host:port", "[v6]:port" or ":port"; port in [min, max] */
};

#define LF_CFG_SECRET 0x1u /* never printed by --check-config */

/* Durations in the option tables are milliseconds. */
#define LF_MS_PER_S   1000LL
#define LF_MS_PER_MIN (60 * LF_MS_PER_S)
#define LF_MS_PER_H   (60 * LF_MS_PER_MIN)
#define LF_MS_PER_DAY (24 * LF_MS_PER_H)

struct lf_cfg_option {
	const char *name;
	enum lf_cfg_type type;
	size_t offset;              /* of the field in the section's struct */
	const char *default_value;  /* as written in the file; NULL means empty */
	int64_t min, max;           /* INT and DURATION (ms), HOSTPORT (port) */
	const char *const *choices; /* ENUM: NULL-terminated */
	unsigned flags;
	const char *help; /* one line, shown by --help and in docs/config.md */
	/* Optional extra validation of the parsed field; 0 or -1 with a reason. */
	int (*check)(const void *field, char *err, size_t errlen);
};

/* A table ends with an entry whose name is NULL. */
struct lf_cfg_section {
	const char *name;
	const struct lf_cfg_option *options;
	void *base; /* the struct the offsets point into */
};

/* Every section name any lorafleet daemon owns. */
extern const char *const lf_cfg_known_sections[];

/*
 * Applies defaults, then `path` (NULL: no file), then the environment.
 * Returns 0, or -1 with a message in err. Call lf_cfg_free() either way.
 */
int lf_cfg_load(const struct lf_cfg_section *sections, size_t n_sections, const char *path,
                char *err, size_t errlen);

void lf_cfg_free(const struct lf_cfg_section *sections, size_t n_sections);

/* Checks the option tables share (struct lf_cfg_option.check). */
int lf_cfg_check_whole_seconds(const void *field, char *err, size_t errlen); /* DURATION */
int lf_cfg_check_not_empty(const void *field, char *err, size_t errlen);     /* STRING */

/* Parses one value as the file would; for tests and for defaults. */
int lf_cfg_set(const struct lf_cfg_section *section, const char *key, const char *value, char *err,
               size_t errlen);

/* Writes the effective configuration as INI, secrets masked. */
void lf_cfg_print(const struct lf_cfg_section *sections, size_t n_sections, void *file);

/* Splits a HOSTPORT value. host may be "" (any address). Returns 0 or -1. */
int lf_cfg_split_hostport(const char *value, char *host, size_t hostlen, uint16_t *port);

#endif
