/*
 * API keys: X-API-Key (as multi-gateway) or Authorization: Bearer,
 * compared in constant time. Keys are never logged or echoed. Pure.
 */
#ifndef APIGW_AUTH_H
#define APIGW_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "routes.h"

enum auth_result {
	AUTH_OK,
	AUTH_MISSING,  /* 401: no key sent */
	AUTH_INVALID,  /* 401: a key that is not the right one */
	AUTH_DISABLED, /* 403: sign with no write key configured */
};

struct auth_keys {
	bool has_read, has_write, events_auth;
	/* BLAKE2b-256 of each key: comparing digests of equal length hides
	 * the key's length as well as its content. */
	uint8_t read_digest[32], write_digest[32];
};

/* Empty or NULL keys are "not configured". Needs sodium_init(). */
void auth_init(struct auth_keys *k, const char *read_key, const char *write_key, bool events_auth);

/*
 * x_api_key: the X-API-Key header's value, NULL when absent. authorization:
 * the Authorization header's value, NULL when absent; only the Bearer
 * scheme is read. X-API-Key wins when both are sent.
 */
enum auth_result auth_check(const struct auth_keys *k, enum route_auth need, const char *x_api_key,
                            const char *authorization);

/* The {"error"} text for a refusal. */
const char *auth_error(enum auth_result r);

#endif
