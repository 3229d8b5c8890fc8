/*
 * Per-gateway ed25519 keys: one file per gateway, <keys_dir>/<MAC>.key, with
 * the MAC as 16 uppercase hex digits (Helium multi-gateway's naming) and the
 * 65-byte gateway-rs layout: tag || 32-byte seed || 32-byte public key. So an
 * operator can move a Hotspot between lorafleet, gateway-rs and
 * multi-gateway by copying files.
 *
 * A key is the Hotspot's identity: a file that is missing, short, long or
 * inconsistent is reported, never regenerated or overwritten.
 */
#ifndef LF_ROUTERLINK_KEYS_H
#define LF_ROUTERLINK_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b58.h"

/* Tag byte = network (high nibble) | key type (low nibble). */
#define KEYS_TAG_ED25519_MAINNET 0x01
#define KEYS_TAG_ED25519_TESTNET 0x11

#define KEYS_FILE_SIZE 65
#define KEYS_SIG_LEN   64

/* Temporary files start with this, so keys_dir_prepare() can find the ones a
 * crash left behind and no one mistakes one for a key. */
#define KEYS_TMP_PREFIX ".lfkey-tmp-"

/* "AA555A0000000101.key" and a NUL. */
#define KEYS_FILENAME_LEN 21

struct gateway_key {
	uint8_t tag;
	uint8_t sk[64]; /* libsodium secret key: seed || public */
	uint8_t pk[32];
};

/* The file name for a MAC: 16 uppercase hex digits and ".key". */
void keys_filename(uint64_t eui, char out[KEYS_FILENAME_LEN]);

/* "mainnet", "testnet" or "unknown", for display. */
const char *keys_network_name(uint8_t tag);

/*
 * Creates dir (and its parents) with mode 0700 if missing, tightens an
 * existing dir that grants group or other access to 0700 (with a warning),
 * and removes temporary files that an interrupted keys_create() or
 * keys_import() left behind. Returns 0 or a negative errno.
 */
int keys_dir_prepare(const char *dir, char *err, size_t errlen);

/*
 * Loads the key for eui. Returns 0, -ENOENT when there is no key file,
 * -EBADMSG when the file is corrupt (wrong size, unknown tag, public key not
 * derived from the seed, not a regular file), or another negative errno
 * when it cannot be read. err names the path and the exact problem; the
 * file is never modified.
 */
int keys_load(const char *dir, uint64_t eui, struct gateway_key *out, char *err, size_t errlen);

/*
 * Makes a new mainnet key and stores it durably (temporary file, fsync, link
 * without replacing, directory fsync). Returns 0, -EEXIST when a key file
 * for eui exists (left alone; load it instead), or another negative errno.
 * out is filled only on success.
 */
int keys_create(const char *dir, uint64_t eui, struct gateway_key *out, char *err, size_t errlen);

/*
 * keys_load(), or keys_create() when there is no key. Any error other than
 * "no key" (a corrupt file above all) is returned as is, so a key is never
 * regenerated over a file that exists. Safe against other processes doing
 * the same: the loser of a race loads the winner's key. *created tells
 * which happened.
 */
int keys_load_or_create(const char *dir, uint64_t eui, struct gateway_key *out, bool *created,
                        char *err, size_t errlen);

/*
 * Validates a gateway-rs key file (as keys_load does) and stores it for
 * eui, keeping its tag. Returns 0, -EEXIST when eui already has a key
 * ("key for <MAC> exists; remove it first"), or another negative errno.
 */
int keys_import(const char *dir, uint64_t eui, const char *gateway_rs_file, char *err,
                size_t errlen);

/*
 * Writes eui's key as a gateway-rs file with mode 0600. Refuses (-EEXIST)
 * when out_path exists. Returns 0 or a negative errno.
 */
int keys_export(const char *dir, uint64_t eui, const char *out_path, char *err, size_t errlen);

/*
 * Calls fn for each file in dir named like a key (<16 uppercase hex>.key),
 * in ascending MAC order, without loading it. Stops at and returns fn's
 * first non-zero result. Returns 0 or a negative errno for the directory.
 */
int keys_foreach(const char *dir, int (*fn)(uint64_t eui, void *ctx), void *ctx, char *err,
                 size_t errlen);

/* The 33-byte key binary (tag || public key) used in every proto field. */
void keys_public_bin(const struct gateway_key *k, uint8_t out[HELIUM_PUBKEY_BIN_LEN]);

/* The b58 address; HELIUM_ADDRESS_MAX bytes suffice. Returns 0 or -ENOSPC. */
int keys_address(const struct gateway_key *k, char *out, size_t outlen);

/* Ed25519 over msg as is: no pre-hash, no prefix (what HPR verifies). */
void keys_sign(const struct gateway_key *k, const uint8_t *msg, size_t len,
               uint8_t sig[KEYS_SIG_LEN]);

/* A fresh random mainnet keypair for one packet-router session; never stored. */
void keys_session_new(struct gateway_key *out);

/* Erases the secret (and everything else) in k. */
void keys_wipe(struct gateway_key *k);

#endif
