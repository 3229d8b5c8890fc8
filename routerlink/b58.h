/*
 * Base58 (Bitcoin alphabet) and Base58Check as Helium uses it for addresses:
 * b58(0x00 version || 33-byte key binary || first 4 bytes of
 * SHA256(SHA256(version || key binary))).
 */
#ifndef LF_ROUTERLINK_B58_H
#define LF_ROUTERLINK_B58_H

#include <stddef.h>
#include <stdint.h>

/* Tag byte and 32-byte ed25519 public key. */
#define HELIUM_PUBKEY_BIN_LEN 33

/* 38 bytes encode to at most 52 characters; the rest is room for the NUL. */
#define HELIUM_ADDRESS_MAX 56

/*
 * Encodes binlen bytes as NUL-terminated Base58; each leading zero byte
 * becomes a '1'. Returns the length written, or -ENOSPC when out is too small.
 */
long b58_encode(const uint8_t *bin, size_t binlen, char *out, size_t outlen);

/*
 * Decodes NUL-terminated Base58 text. Returns the number of bytes written,
 * -EINVAL for a character outside the alphabet (whitespace included), or
 * -ENOSPC when the value does not fit in outlen bytes.
 */
long b58_decode(const char *text, uint8_t *out, size_t outlen);

/* Base58Check of version || payload. Returns the length written or -ENOSPC. */
long b58check_encode(uint8_t version, const uint8_t *payload, size_t len, char *out, size_t outlen);

/*
 * Decodes Base58Check text into its version byte and payload. Returns the
 * payload length, -EINVAL for bad characters or a text too short to hold a
 * version and checksum, -ENOSPC when the payload does not fit, or -EBADMSG
 * for a checksum mismatch.
 */
long b58check_decode(const char *text, uint8_t *version, uint8_t *payload, size_t outlen);

/* The b58 address of a 33-byte key binary. Returns 0 or -ENOSPC. */
int helium_address(const uint8_t pubkey_bin[HELIUM_PUBKEY_BIN_LEN], char *out, size_t outlen);

/*
 * Decodes a Helium address into its 33-byte key binary. Returns 0, -EINVAL
 * for bad characters or the wrong length, -EBADMSG for a bad checksum or a
 * version other than 0.
 */
int helium_address_decode(const char *address, uint8_t pubkey_bin[HELIUM_PUBKEY_BIN_LEN]);

#endif
