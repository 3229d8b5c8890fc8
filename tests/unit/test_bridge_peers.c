/*
 * The bridge's table of other bridges on the broker (state.c), fed by
 * their states and the gateway states they announce: it decides which
 * bridge answers a downlink, so hostile messages must not spoil it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bridge_internal.h"

#define EUI   0xb827ebfffe6a3c10ULL
#define TOPIC "lorawan/b827ebfffe6a3c10/state"

static int
setup(void **state)
{
	struct bridge *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->prefix = "lorawan";
	strcpy(b->instance, "b1");
	gateway_table_init(&b->gateways);
	gateway_table_init(&b->elsewhere);
	*state = b;
	return 0;
}

static int
teardown(void **state)
{
	struct bridge *b = *state;
	gateway_table_clear(&b->gateways);
	gateway_table_clear(&b->elsewhere);
	free(b->peers);
	free(b);
	return 0;
}

static void
announce(struct bridge *b, const char *bridge_name)
{
	char json[512];
	snprintf(json, sizeof(json),
	         "{\"mac\":\"b827ebfffe6a3c10\",\"online\":true,\"bridge\":\"%s\"}", bridge_name);
	bridge_handle_remote_state(b, TOPIC, json, strlen(json));
}

static void
test_a_peer_is_one_entry(void **state)
{
	struct bridge *b = *state;
	char longest[64];
	memset(longest, 'p', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	announce(b, longest);
	announce(b, longest);
	assert_int_equal(b->n_peers, 1);
	assert_string_equal(b->peers[0].instance, longest);
	assert_true(bridge_served_elsewhere(b, EUI));
}

/* Found by fuzz/fuzz_bridge_mqtt.c: a name too long for the table was
 * stored cut, never matched again, and took a new entry each time, until
 * the table was full and real peers were ignored. */
static void
test_a_name_too_long_is_no_bridge(void **state)
{
	struct bridge *b = *state;
	char too_long[65];
	memset(too_long, 'p', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	for (int i = 0; i < 3; i++) {
		announce(b, too_long);
	}
	assert_int_equal(b->n_peers, 0);
	assert_false(bridge_known_elsewhere(b, EUI));
	announce(b, "b2");
	assert_int_equal(b->n_peers, 1);
	assert_true(bridge_served_elsewhere(b, EUI));
}

static void
test_own_states_are_not_a_peer(void **state)
{
	struct bridge *b = *state;
	announce(b, "b1");
	assert_int_equal(b->n_peers, 0);
	assert_false(bridge_known_elsewhere(b, EUI));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_a_peer_is_one_entry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_name_too_long_is_no_bridge, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_own_states_are_not_a_peer, setup, teardown),
	};
	return cmocka_run_group_tests_name("bridge_peers", tests, NULL, NULL);
}
