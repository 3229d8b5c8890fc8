#include "lf/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "lf/util.h"

/* Doubles at or past 2^63 do not convert to int64_t. */
#define TWO_POW_63 9223372036854775808.0

const char *
lf_json_type_name(const cJSON *item)
{
	if (item == NULL) {
		return "nothing";
	}
	if (cJSON_IsNull(item)) {
		return "null";
	}
	if (cJSON_IsBool(item)) {
		return "boolean";
	}
	if (cJSON_IsNumber(item)) {
		return "number";
	}
	if (cJSON_IsString(item)) {
		return "string";
	}
	if (cJSON_IsArray(item)) {
		return "array";
	}
	if (cJSON_IsObject(item)) {
		return "object";
	}
	return "invalid";
}

/*
 * Finds key and checks its type with is_type. Returns 1 with *item set,
 * 0 when absent, -1 (reason in err) for the wrong type. An obj that is not
 * an object has no members, so everything is absent from it.
 */
static int
lookup(const cJSON *obj, const char *key, cJSON_bool (*is_type)(const cJSON *),
       const char *expected, const cJSON **item, char *err, size_t errlen)
{
	if (obj == NULL || key == NULL || !cJSON_IsObject(obj)) {
		return 0;
	}
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (it == NULL) {
		return 0;
	}
	if (!is_type(it)) {
		lf_format_err(err, errlen, "%s: expected %s, got %s", key, expected,
		              lf_json_type_name(it));
		return -1;
	}
	*item = it;
	return 1;
}

int
lf_json_get_string(const cJSON *obj, const char *key, const char **out, char *err, size_t errlen)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, cJSON_IsString, "a string", &it, err, errlen);
	if (rc == 1) {
		*out = it->valuestring != NULL ? it->valuestring : "";
	}
	return rc;
}

static int
get_finite(const cJSON *obj, const char *key, double *out, char *err, size_t errlen)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, cJSON_IsNumber, "a number", &it, err, errlen);
	if (rc != 1) {
		return rc;
	}
	/* cJSON turns 1e999 into infinity; no field means that. */
	if (!isfinite(it->valuedouble)) {
		lf_format_err(err, errlen, "%s: expected a finite number", key);
		return -1;
	}
	*out = it->valuedouble;
	return 1;
}

int
lf_json_get_number(const cJSON *obj, const char *key, double *out, char *err, size_t errlen)
{
	return get_finite(obj, key, out, err, errlen);
}

int
lf_json_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                char *err, size_t errlen)
{
	double d;
	int rc = get_finite(obj, key, &d, err, errlen);
	if (rc != 1) {
		return rc;
	}
	/* Rule out what cannot convert before converting; the range itself is
	 * then checked exactly on the integer. */
	bool fits = d < TWO_POW_63 && d >= -TWO_POW_63;
	int64_t i = fits ? (int64_t)d : 0;
	if (fits && (double)i != d) {
		lf_format_err(err, errlen, "%s: expected an integer, got %g", key, d);
		return -1;
	}
	if (!fits || i < min || i > max) {
		lf_format_err(err, errlen,
		              "%s: must be between %" PRId64 " and %" PRId64 ", got %.15g", key,
		              min, max, d);
		return -1;
	}
	*out = i;
	return 1;
}

int
lf_json_get_bool(const cJSON *obj, const char *key, bool *out, char *err, size_t errlen)
{
	const cJSON *it = NULL;
	int rc = lookup(obj, key, cJSON_IsBool, "a boolean", &it, err, errlen);
	if (rc == 1) {
		*out = cJSON_IsTrue(it);
	}
	return rc;
}

int
lf_json_get_object(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen)
{
	return lookup(obj, key, cJSON_IsObject, "an object", out, err, errlen);
}

int
lf_json_get_array(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen)
{
	return lookup(obj, key, cJSON_IsArray, "an array", out, err, errlen);
}

char *
lf_json_print(const cJSON *item)
{
	if (item == NULL) {
		return NULL;
	}
	return cJSON_PrintUnformatted(item);
}
