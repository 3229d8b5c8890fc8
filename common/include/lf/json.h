/* cJSON helpers: typed getters that explain what is wrong, and printing. */
#ifndef LF_JSON_H
#define LF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/*
 * Each getter looks up `key` in `obj` (case-sensitive, unlike cJSON's
 * default). Returns 1 when present with the right type (value stored),
 * 0 when absent, and -1 when present with the wrong type or out of range
 * (a reason in err, e.g. "freq: expected a number").
 */
int lf_json_get_string(const cJSON *obj, const char *key, const char **out, char *err,
                       size_t errlen);
int lf_json_get_number(const cJSON *obj, const char *key, double *out, char *err, size_t errlen);
int lf_json_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                    char *err, size_t errlen);
int lf_json_get_bool(const cJSON *obj, const char *key, bool *out, char *err, size_t errlen);
int lf_json_get_object(const cJSON *obj, const char *key, const cJSON **out, char *err,
                       size_t errlen);
int lf_json_get_array(const cJSON *obj, const char *key, const cJSON **out, char *err,
                      size_t errlen);

/* Unformatted text of `item`, malloc'd; NULL on allocation failure. */
char *lf_json_print(const cJSON *item);

/* Short name of an item's JSON type, for error messages ("string", ...). */
const char *lf_json_type_name(const cJSON *item);

#endif
