/* Base58, Base58Check and Helium addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "b58.h"
#include "key_vector.h"

static void
test_vector(void **state)
{
	uint8_t seed[32], pk[32], sk[64], expect_pk[32];
	hex(VECTOR_SEED, seed, sizeof(seed));
	hex(VECTOR_PUBKEY, expect_pk, sizeof(expect_pk));
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	assert_memory_equal(pk, expect_pk, 32);

	uint8_t bin[HELIUM_PUBKEY_BIN_LEN] = {0x01};
	memcpy(bin + 1, pk, 32);
	char addr[HELIUM_ADDRESS_MAX];
	assert_int_equal(helium_address(bin, addr, sizeof(addr)), 0);
	assert_string_equal(addr, VECTOR_ADDRESS);

	uint8_t back[HELIUM_PUBKEY_BIN_LEN];
	assert_int_equal(helium_address_decode(VECTOR_ADDRESS, back), 0);
	assert_memory_equal(back, bin, sizeof(bin));
}

/* Known Base58 values (Bitcoin alphabet), leading zeros included. */
static void
test_known_values(void **state)
{
	static const struct {
		const char *text;
		const uint8_t bin[12];
		size_t len;
	} cases[] = {
	        {"", {0}, 0},
	        {"1", {0x00}, 1},
	        {"111", {0x00, 0x00, 0x00}, 3},
	        {"2", {0x01}, 1},
	        {"z", {57}, 1},
	        {"21", {58}, 1},
	        {"5Q", {0xff}, 1},
	        {"11LUv", {0x00, 0x00, 0xff, 0xff}, 4},
	        {"2NEpo7TZRRrLZSi2U",
	         {'H', 'e', 'l', 'l', 'o', ' ', 'W', 'o', 'r', 'l', 'd', '!'},
	         12},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];
		assert_int_equal(b58_encode(cases[i].bin, cases[i].len, text, sizeof(text)),
		                 (long)strlen(cases[i].text));
		assert_string_equal(text, cases[i].text);
		uint8_t bin[64];
		assert_int_equal(b58_decode(cases[i].text, bin, sizeof(bin)), (long)cases[i].len);
		assert_memory_equal(bin, cases[i].bin, cases[i].len);
	}
}

static void
test_round_trips(void **state)
{
	assert_true(sodium_init() >= 0);
	for (size_t len = 0; len <= 40; len++) {
		for (int round = 0; round < 20; round++) {
			uint8_t bin[40], back[40];
			randombytes_buf(bin, len);
			/* Every few rounds start with zero bytes, which Base58 keeps
			 * only as leading '1's. */
			for (size_t z = 0; z < len && z < (size_t)(round % 4); z++) {
				bin[z] = 0;
			}
			char text[80];
			long n = b58_encode(bin, len, text, sizeof(text));
			assert_true(n >= 0);
			assert_int_equal(strlen(text), (size_t)n);
			assert_int_equal(b58_decode(text, back, sizeof(back)), (long)len);
			assert_memory_equal(back, bin, len);
		}
	}
}

static void
test_bad_characters(void **state)
{
	static const char *const bad[] = {"0", "O", "I", "l", "abc0", " 2", "2 ", "2\n", "+", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t bin[16];
		if (b58_decode(bad[i], bin, sizeof(bin)) != -EINVAL) {
			fail_msg("\"%s\" was accepted", bad[i]);
		}
	}
	uint8_t pk[HELIUM_PUBKEY_BIN_LEN];
	assert_int_equal(
	        helium_address_decode("14MRZY2jc2ABDq1faCCMmXrkm2PXY9UBRTP1j9PWnFTKnCb7Hy0", pk),
	        -EINVAL);
	assert_int_equal(helium_address_decode("", pk), -EINVAL);
}

static void
test_small_buffers(void **state)
{
	const uint8_t bin[] = {0x00, 0x00, 0xff, 0xff}; /* "11LUv" */
	char text[6];
	assert_int_equal(b58_encode(bin, sizeof(bin), text, 5), -ENOSPC);
	assert_int_equal(b58_encode(bin, sizeof(bin), text, 0), -ENOSPC);
	assert_int_equal(b58_encode(bin, sizeof(bin), text, 6), 5);
	assert_string_equal(text, "11LUv");
	uint8_t out[4];
	assert_int_equal(b58_decode("11LUv", out, 3), -ENOSPC);
	assert_int_equal(b58_decode("111LUv", out, 4), -ENOSPC);
	assert_int_equal(b58_decode("11LUv", out, 4), 4);

	uint8_t key[HELIUM_PUBKEY_BIN_LEN] = {0x01};
	char addr[HELIUM_ADDRESS_MAX];
	assert_int_equal(helium_address(key, addr, 20), -ENOSPC);
}

static void
test_bad_checksum(void **state)
{
	/* Change one character of the vector: the checksum no longer fits. */
	char addr[] = VECTOR_ADDRESS;
	addr[10] = addr[10] == 'A' ? 'B' : 'A';
	uint8_t pk[HELIUM_PUBKEY_BIN_LEN];
	assert_int_equal(helium_address_decode(addr, pk), -EBADMSG);

	/* A valid Base58Check string of the wrong length or version. */
	uint8_t payload[HELIUM_PUBKEY_BIN_LEN] = {0x01, 0x02};
	char text[HELIUM_ADDRESS_MAX];
	assert_true(b58check_encode(0x00, payload, 32, text, sizeof(text)) > 0);
	assert_int_equal(helium_address_decode(text, pk), -EINVAL);
	assert_true(b58check_encode(0x05, payload, sizeof(payload), text, sizeof(text)) > 0);
	assert_int_equal(helium_address_decode(text, pk), -EBADMSG);

	/* Too short to carry a version and a checksum. */
	uint8_t version;
	assert_int_equal(b58check_decode("2", &version, payload, sizeof(payload)), -EINVAL);
	/* Longer than any key binary. */
	uint8_t big[60] = {0};
	char long_text[128];
	assert_true(b58check_encode(0x00, big, sizeof(big), long_text, sizeof(long_text)) > 0);
	assert_int_equal(helium_address_decode(long_text, pk), -EINVAL);
	uint8_t back[60];
	assert_int_equal(b58check_decode(long_text, &version, back, sizeof(back)), 60);
	assert_int_equal(version, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vector),        cmocka_unit_test(test_known_values),
	        cmocka_unit_test(test_round_trips),   cmocka_unit_test(test_bad_characters),
	        cmocka_unit_test(test_small_buffers), cmocka_unit_test(test_bad_checksum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
