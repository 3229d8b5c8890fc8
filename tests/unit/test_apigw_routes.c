/* apigw's routes (404/405/400 decisions, MAC forms) and API keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth.h"
#include "routes.h"

static void
expect_route(const char *method, const char *path, enum route_id id, int status)
{
	struct route_match m;
	routes_match(method, path, &m);
	if (m.id != id || m.status != status) {
		fail_msg("%s %s: route %d status %d, expected route %d status %d", method, path,
		         m.id, m.status, id, status);
	}
}

static void
test_routes(void **state)
{
	expect_route("GET", "/gateways", ROUTE_GATEWAYS, 0);
	expect_route("GET", "/gateways/aa555a0000000101", ROUTE_GATEWAY, 0);
	expect_route("GET", "/gateways/aa555a0000000101/packets", ROUTE_PACKETS, 0);
	expect_route("POST", "/gateways/aa555a0000000101/sign", ROUTE_SIGN, 0);
	expect_route("GET", "/events", ROUTE_EVENTS, 0);
	expect_route("GET", "/metrics", ROUTE_METRICS, 0);
	expect_route("GET", "/healthz", ROUTE_HEALTHZ, 0);
	/* Wrong methods */
	expect_route("POST", "/gateways", ROUTE_GATEWAYS, 405);
	expect_route("DELETE", "/gateways/aa555a0000000101", ROUTE_GATEWAY, 405);
	expect_route("GET", "/gateways/aa555a0000000101/sign", ROUTE_SIGN, 405);
	expect_route("POST", "/gateways/aa555a0000000101/packets", ROUTE_PACKETS, 405);
	expect_route("PUT", "/metrics", ROUTE_METRICS, 405);
	/* Unknown paths */
	expect_route("GET", "/", ROUTE_NONE, 404);
	expect_route("GET", "/gateways/", ROUTE_NONE, 404);
	expect_route("GET", "/gateways//packets", ROUTE_NONE, 404);
	expect_route("GET", "/gateways/aa555a0000000101/other", ROUTE_NONE, 404);
	expect_route("GET", "/gateways/aa555a0000000101/packets/", ROUTE_NONE, 404);
	expect_route("GET", "/gateways/a/b/c", ROUTE_NONE, 404);
	expect_route("GET", "/Gateways", ROUTE_NONE, 404);
	expect_route("GET", "/metrics/", ROUTE_NONE, 404);
}

static void
test_405_says_what_is_allowed(void **state)
{
	struct route_match m;
	routes_match("POST", "/gateways", &m);
	assert_string_equal(m.allow, "GET");
	assert_string_equal(m.error, "method POST not allowed; use GET");
	routes_match("GET", "/gateways/aa555a0000000101/sign", &m);
	assert_string_equal(m.allow, "POST");
	routes_match("GET", "/nope", &m);
	assert_string_equal(m.error, "no such route: /nope");
}

static void
test_mac_forms(void **state)
{
	static const char *const good[] = {
	        "aa555a0000000101",        "AA555A0000000101",        "Aa555A0000000101",
	        "aa:55:5a:00:00:00:01:01", "AA-55-5A-00-00-00-01-01",
	};
	static const char *const bad[] = {
	        "aa555a00000001",          "aa555a000000010101", "zz555a0000000101",
	        "aa:55:5a:00-00:00:01:01", "aa 555a0000000101",  "",
	        "aa555a0000000101 ",       "0xaa555a00000001",
	};
	char path[128];
	struct route_match m;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(path, sizeof(path), "/gateways/%s/packets", good[i]);
		routes_match("GET", path, &m);
		assert_int_equal(m.status, 0);
		assert_true(m.has_mac);
		assert_true(m.mac_ok);
		assert_int_equal(m.eui, 0xaa555a0000000101ULL);
		assert_string_equal(m.mac, "aa555a0000000101");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/gateways/%s", bad[i]);
		routes_match("GET", path, &m);
		if (bad[i][0] == '\0') {
			assert_int_equal(m.status, 404); /* "/gateways/" */
			continue;
		}
		assert_int_equal(m.id, ROUTE_GATEWAY);
		assert_int_equal(m.status, 0);
		assert_false(m.mac_ok);
	}
	/* A very long segment is a bad MAC, not an overflow. */
	char longpath[600] = "/gateways/";
	memset(longpath + 10, 'a', 500);
	longpath[510] = '\0';
	routes_match("GET", longpath, &m);
	assert_int_equal(m.id, ROUTE_GATEWAY);
	assert_false(m.mac_ok);
}

#define READ_KEY  "read-key-0123456789"
#define WRITE_KEY "write-key-0123456789"

static void
test_auth_matrix(void **state)
{
	struct auth_keys k;
	auth_init(&k, READ_KEY, WRITE_KEY, false);
	/* reads */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, READ_KEY, NULL), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, NULL, "Bearer " READ_KEY), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, NULL, "bearer " READ_KEY), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, "wrong", NULL), AUTH_INVALID);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, READ_KEY "x", NULL), AUTH_INVALID);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, "", NULL), AUTH_INVALID);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, WRITE_KEY, NULL), AUTH_INVALID);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, NULL, "Basic dXNlcjpwdw=="), AUTH_INVALID);
	/* X-API-Key wins over Authorization. */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, "wrong", "Bearer " READ_KEY),
	                 AUTH_INVALID);
	/* writes */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_WRITE, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_WRITE, WRITE_KEY, NULL), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_WRITE, READ_KEY, NULL), AUTH_INVALID);
	/* public */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_NONE, NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_EVENTS, NULL, NULL), AUTH_OK);
	auth_init(&k, READ_KEY, WRITE_KEY, true);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_EVENTS, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_EVENTS, READ_KEY, NULL), AUTH_OK);
}

static void
test_no_keys_configured(void **state)
{
	struct auth_keys k;
	auth_init(&k, "", NULL, true);
	/* No read key: reads are open (and so is /events). */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_READ, "anything", NULL), AUTH_OK);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_EVENTS, NULL, NULL), AUTH_OK);
	/* No write key: sign is refused whatever is sent. */
	assert_int_equal(auth_check(&k, ROUTE_AUTH_WRITE, NULL, NULL), AUTH_DISABLED);
	assert_int_equal(auth_check(&k, ROUTE_AUTH_WRITE, "", NULL), AUTH_DISABLED);
	assert_string_equal(auth_error(AUTH_DISABLED),
	                    "signing is disabled: no write_api_key is configured");
	assert_string_equal(auth_error(AUTH_INVALID), "Invalid API key");
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_routes),
	        cmocka_unit_test(test_405_says_what_is_allowed),
	        cmocka_unit_test(test_mac_forms),
	        cmocka_unit_test(test_auth_matrix),
	        cmocka_unit_test(test_no_keys_configured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
