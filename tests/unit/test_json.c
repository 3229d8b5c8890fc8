/* The typed cJSON getters and their error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lf/json.h"

static const char doc_text[] = "{\"freq\":868.1,\"chan\":3,\"name\":\"gw1\",\"ok\":true,"
                               "\"off\":false,\"nil\":null,\"obj\":{\"a\":1},\"arr\":[1,2],"
                               "\"big\":1e300,\"neg\":-2147483648,\"Freq\":\"upper\","
                               "\"huge\":9223372036854775808,\"inf\":1e999,"
                               "\"max\":4611686018427387904}";

static int
setup(void **state)
{
	cJSON *doc = cJSON_Parse(doc_text);
	assert_non_null(doc);
	*state = doc;
	return 0;
}

static int
teardown(void **state)
{
	cJSON_Delete(*state);
	return 0;
}

static void
test_string(void **state)
{
	const cJSON *doc = *state;
	const char *s = NULL;
	char err[128] = "";
	assert_int_equal(lf_json_get_string(doc, "name", &s, err, sizeof(err)), 1);
	assert_string_equal(s, "gw1");
	assert_int_equal(lf_json_get_string(doc, "missing", &s, err, sizeof(err)), 0);
	assert_int_equal(lf_json_get_string(doc, "chan", &s, err, sizeof(err)), -1);
	assert_string_equal(err, "chan: expected a string, got number");
	assert_int_equal(lf_json_get_string(doc, "nil", &s, err, sizeof(err)), -1);
	assert_string_equal(err, "nil: expected a string, got null");
	/* Case-sensitive: "Freq" is the string, "freq" the number. */
	assert_int_equal(lf_json_get_string(doc, "Freq", &s, err, sizeof(err)), 1);
	assert_string_equal(s, "upper");
	assert_int_equal(lf_json_get_string(doc, "FREQ", &s, err, sizeof(err)), 0);
}

static void
test_number(void **state)
{
	const cJSON *doc = *state;
	double d = 0;
	char err[128] = "";
	assert_int_equal(lf_json_get_number(doc, "freq", &d, err, sizeof(err)), 1);
	assert_true(d == 868.1);
	assert_int_equal(lf_json_get_number(doc, "name", &d, err, sizeof(err)), -1);
	assert_string_equal(err, "name: expected a number, got string");
	assert_int_equal(lf_json_get_number(doc, "ok", &d, err, sizeof(err)), -1);
	assert_string_equal(err, "ok: expected a number, got boolean");
	assert_int_equal(lf_json_get_number(doc, "inf", &d, err, sizeof(err)), -1);
	assert_string_equal(err, "inf: expected a finite number");
	assert_int_equal(lf_json_get_number(doc, "nope", &d, err, sizeof(err)), 0);
}

static void
test_int(void **state)
{
	const cJSON *doc = *state;
	int64_t v = 0;
	char err[128] = "";
	assert_int_equal(lf_json_get_int(doc, "chan", 0, 7, &v, err, sizeof(err)), 1);
	assert_int_equal(v, 3);
	assert_int_equal(lf_json_get_int(doc, "neg", INT32_MIN, 0, &v, err, sizeof(err)), 1);
	assert_int_equal(v, INT32_MIN);
	assert_int_equal(lf_json_get_int(doc, "max", 0, INT64_MAX, &v, err, sizeof(err)), 1);
	assert_int_equal(v, 4611686018427387904LL);

	assert_int_equal(lf_json_get_int(doc, "chan", 4, 7, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "chan: must be between 4 and 7, got 3");
	assert_int_equal(lf_json_get_int(doc, "freq", 0, 1000, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "freq: expected an integer, got 868.1");
	assert_int_equal(lf_json_get_int(doc, "big", 0, INT64_MAX, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "big: must be between 0 and 9223372036854775807, got 1e+300");
	assert_int_equal(lf_json_get_int(doc, "huge", INT64_MIN, INT64_MAX, &v, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "huge: must be between -9223372036854775808 and "
	                         "9223372036854775807, got 9.22337203685478e+18");
	assert_int_equal(lf_json_get_int(doc, "name", 0, 1, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "name: expected a number, got string");
	assert_int_equal(lf_json_get_int(doc, "nope", 0, 1, &v, err, sizeof(err)), 0);
	/* Failures leave the output alone. */
	assert_int_equal(v, 4611686018427387904LL);
}

static void
test_bool_object_array(void **state)
{
	const cJSON *doc = *state;
	bool b = false;
	const cJSON *item = NULL;
	char err[128] = "";
	assert_int_equal(lf_json_get_bool(doc, "ok", &b, err, sizeof(err)), 1);
	assert_true(b);
	assert_int_equal(lf_json_get_bool(doc, "off", &b, err, sizeof(err)), 1);
	assert_false(b);
	assert_int_equal(lf_json_get_bool(doc, "chan", &b, err, sizeof(err)), -1);
	assert_string_equal(err, "chan: expected a boolean, got number");

	assert_int_equal(lf_json_get_object(doc, "obj", &item, err, sizeof(err)), 1);
	assert_true(cJSON_IsObject(item));
	assert_int_equal(lf_json_get_object(doc, "arr", &item, err, sizeof(err)), -1);
	assert_string_equal(err, "arr: expected an object, got array");
	assert_int_equal(lf_json_get_array(doc, "arr", &item, err, sizeof(err)), 1);
	assert_int_equal(cJSON_GetArraySize(item), 2);
	assert_int_equal(lf_json_get_array(doc, "obj", &item, err, sizeof(err)), -1);
	assert_string_equal(err, "obj: expected an array, got object");
	assert_int_equal(lf_json_get_array(doc, "none", &item, err, sizeof(err)), 0);
}

static void
test_not_an_object(void **state)
{
	cJSON *arr = cJSON_Parse("[1]");
	const char *s;
	/* Nothing is a member of a non-object, nor of NULL. */
	assert_int_equal(lf_json_get_string(arr, "0", &s, NULL, 0), 0);
	assert_int_equal(lf_json_get_string(NULL, "x", &s, NULL, 0), 0);
	/* A NULL err buffer is allowed. */
	const cJSON *doc = *state;
	assert_int_equal(lf_json_get_string(doc, "chan", &s, NULL, 0), -1);
	cJSON_Delete(arr);
}

static void
test_type_name_and_print(void **state)
{
	const cJSON *doc = *state;
	assert_string_equal(lf_json_type_name(NULL), "nothing");
	assert_string_equal(lf_json_type_name(cJSON_GetObjectItemCaseSensitive(doc, "nil")),
	                    "null");
	assert_string_equal(lf_json_type_name(cJSON_GetObjectItemCaseSensitive(doc, "ok")),
	                    "boolean");
	assert_string_equal(lf_json_type_name(cJSON_GetObjectItemCaseSensitive(doc, "chan")),
	                    "number");
	assert_string_equal(lf_json_type_name(cJSON_GetObjectItemCaseSensitive(doc, "name")),
	                    "string");
	assert_string_equal(lf_json_type_name(cJSON_GetObjectItemCaseSensitive(doc, "arr")),
	                    "array");
	assert_string_equal(lf_json_type_name(doc), "object");

	char *text = lf_json_print(cJSON_GetObjectItemCaseSensitive(doc, "obj"));
	assert_string_equal(text, "{\"a\":1}");
	free(text);
	assert_null(lf_json_print(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_string, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_number, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_int, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bool_object_array, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_type_name_and_print, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
