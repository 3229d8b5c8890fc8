#include "b58.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#define B58_CHECKSUM_LEN 4

/* Decoding buffer for Base58Check: large enough for any Helium key binary
 * with room to spare, so a longer (wrong) text is reported, not truncated. */
#define B58CHECK_MAX 128

static int
b58_digit(char c)
{
	const char *p = c != '\0' ? strchr(b58_alphabet, c) : NULL;
	return p != NULL ? (int)(p - b58_alphabet) : -1;
}

static void
reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

long
b58_encode(const uint8_t *bin, size_t binlen, char *out, size_t outlen)
{
	size_t zeros = 0;
	while (zeros < binlen && bin[zeros] == 0) {
		zeros++;
	}
	if (outlen == 0) {
		return -ENOSPC;
	}
	/* The digits are built little-endian in out itself, so no scratch
	 * buffer (or VLA) is needed; the bound leaves room for the NUL. */
	uint8_t *digits = (uint8_t *)out;
	size_t n = 0;
	for (size_t i = zeros; i < binlen; i++) {
		unsigned carry = bin[i];
		for (size_t j = 0; j < n; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry > 0) {
			if (n + 1 >= outlen) {
				return -ENOSPC;
			}
			digits[n++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	if (zeros + n + 1 > outlen) {
		return -ENOSPC;
	}
	reverse(digits, n);
	memmove(out + zeros, digits, n);
	memset(out, '1', zeros);
	for (size_t i = zeros; i < zeros + n; i++) {
		out[i] = b58_alphabet[(uint8_t)out[i]];
	}
	out[zeros + n] = '\0';
	return (long)(zeros + n);
}

long
b58_decode(const char *text, uint8_t *out, size_t outlen)
{
	size_t zeros = 0;
	while (text[zeros] == '1') {
		zeros++;
	}
	/* Like the encoder: base-256 digits little-endian in out. The output
	 * bound also bounds the work an overlong untrusted text can cause. */
	size_t n = 0;
	for (const char *p = text + zeros; *p != '\0'; p++) {
		int d = b58_digit(*p);
		if (d < 0) {
			return -EINVAL;
		}
		unsigned carry = (unsigned)d;
		for (size_t j = 0; j < n; j++) {
			carry += (unsigned)out[j] * 58;
			out[j] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
		while (carry > 0) {
			if (n >= outlen) {
				return -ENOSPC;
			}
			out[n++] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
	}
	if (zeros + n > outlen) {
		return -ENOSPC;
	}
	reverse(out, n);
	memmove(out + zeros, out, n);
	memset(out, 0, zeros);
	return (long)(zeros + n);
}

static void
b58_checksum(const uint8_t *data, size_t len, uint8_t sum[B58_CHECKSUM_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	crypto_hash_sha256(h, h, sizeof(h));
	memcpy(sum, h, B58_CHECKSUM_LEN);
}

long
b58check_encode(uint8_t version, const uint8_t *payload, size_t len, char *out, size_t outlen)
{
	uint8_t buf[B58CHECK_MAX];
	if (len > sizeof(buf) - 1 - B58_CHECKSUM_LEN) {
		return -ENOSPC;
	}
	buf[0] = version;
	memcpy(buf + 1, payload, len);
	b58_checksum(buf, len + 1, buf + 1 + len);
	return b58_encode(buf, len + 1 + B58_CHECKSUM_LEN, out, outlen);
}

long
b58check_decode(const char *text, uint8_t *version, uint8_t *payload, size_t outlen)
{
	uint8_t buf[B58CHECK_MAX];
	long n = b58_decode(text, buf, sizeof(buf));
	if (n < 0) {
		return n;
	}
	if (n < 1 + B58_CHECKSUM_LEN) {
		return -EINVAL;
	}
	size_t len = (size_t)n - 1 - B58_CHECKSUM_LEN;
	uint8_t sum[B58_CHECKSUM_LEN];
	b58_checksum(buf, len + 1, sum);
	if (sodium_memcmp(sum, buf + 1 + len, B58_CHECKSUM_LEN) != 0) {
		return -EBADMSG;
	}
	if (len > outlen) {
		return -ENOSPC;
	}
	*version = buf[0];
	memcpy(payload, buf + 1, len);
	return (long)len;
}

int
helium_address(const uint8_t pubkey_bin[HELIUM_PUBKEY_BIN_LEN], char *out, size_t outlen)
{
	long n = b58check_encode(0x00, pubkey_bin, HELIUM_PUBKEY_BIN_LEN, out, outlen);
	return n < 0 ? (int)n : 0;
}

int
helium_address_decode(const char *address, uint8_t pubkey_bin[HELIUM_PUBKEY_BIN_LEN])
{
	uint8_t version = 0;
	uint8_t buf[HELIUM_PUBKEY_BIN_LEN];
	long n = b58check_decode(address, &version, buf, sizeof(buf));
	if (n == -ENOSPC) {
		return -EINVAL;
	}
	if (n < 0) {
		return (int)n;
	}
	if (n != HELIUM_PUBKEY_BIN_LEN) {
		return -EINVAL;
	}
	/* Helium addresses use version 0 only; anything else is some other
	 * Base58Check string (a Bitcoin P2SH address, say). */
	if (version != 0x00) {
		return -EBADMSG;
	}
	memcpy(pubkey_bin, buf, sizeof(buf));
	return 0;
}
