/* The Ed25519 test vector of test_b58 and test_keys (a seed, the public key
 * it derives, and that key's Helium address), and the hex decoding that
 * reads it. */
#ifndef LF_TEST_KEY_VECTOR_H
#define LF_TEST_KEY_VECTOR_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define VECTOR_SEED    "f8374ea8637b16cb24fa88566e77c6aaf8374ea8637b16cb24fa88566e77c6aa"
#define VECTOR_PUBKEY  "b97656ba0883b2e86793f6c1ba4847e819f4b231239d59481c11d43f48362a09"
#define VECTOR_ADDRESS "14MRZY2jc2ABDq1faCCMmXrkm2PXY9UBRTP1j9PWnFTKnCb7Hyn"

/* Exactly len bytes from the hex text, or the test fails. */
static inline void
hex(const char *text, uint8_t *out, size_t len)
{
	size_t got = 0;
	assert_int_equal(sodium_hex2bin(out, len, text, strlen(text), NULL, &got, NULL), 0);
	assert_int_equal(got, len);
}

#endif
