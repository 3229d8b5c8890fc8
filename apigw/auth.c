#include "auth.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

static void
digest(const char *key, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)key, strlen(key), NULL, 0);
}

void
auth_init(struct auth_keys *k, const char *read_key, const char *write_key, bool events_auth)
{
	/* Locals, not k's fields, decide: digest() writes into *k. */
	bool has_read = read_key != NULL && read_key[0] != '\0';
	bool has_write = write_key != NULL && write_key[0] != '\0';
	memset(k, 0, sizeof(*k));
	if (has_read) {
		digest(read_key, k->read_digest);
	}
	if (has_write) {
		digest(write_key, k->write_digest);
	}
	k->has_read = has_read;
	k->has_write = has_write;
	k->events_auth = events_auth;
}

/* The key the client sent, or NULL. */
static const char *
presented(const char *x_api_key, const char *authorization)
{
	if (x_api_key != NULL) {
		return x_api_key;
	}
	if (authorization != NULL && strncasecmp(authorization, "Bearer ", 7) == 0) {
		const char *token = authorization + 7;
		while (*token == ' ') {
			token++;
		}
		return token;
	}
	return NULL;
}

static enum auth_result
compare(const uint8_t want[32], const char *x_api_key, const char *authorization)
{
	const char *key = presented(x_api_key, authorization);
	if (key == NULL) {
		/* An Authorization header of another scheme is a wrong key,
		 * not a missing one: the client did try. */
		return authorization != NULL ? AUTH_INVALID : AUTH_MISSING;
	}
	uint8_t got[32];
	digest(key, got);
	return sodium_memcmp(got, want, 32) == 0 ? AUTH_OK : AUTH_INVALID;
}

enum auth_result
auth_check(const struct auth_keys *k, enum route_auth need, const char *x_api_key,
           const char *authorization)
{
	switch (need) {
	case ROUTE_AUTH_NONE:
		return AUTH_OK;
	case ROUTE_AUTH_EVENTS:
		/* The read key guards /events only when events_auth is on. */
		if (!k->events_auth) {
			return AUTH_OK;
		}
		return k->has_read ? compare(k->read_digest, x_api_key, authorization) : AUTH_OK;
	case ROUTE_AUTH_READ:
		return k->has_read ? compare(k->read_digest, x_api_key, authorization) : AUTH_OK;
	case ROUTE_AUTH_WRITE:
		return k->has_write ? compare(k->write_digest, x_api_key, authorization)
		                    : AUTH_DISABLED;
	}
	return AUTH_INVALID;
}

const char *
auth_error(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:
		return "";
	case AUTH_MISSING:
		return "Missing API key (X-API-Key header or Authorization: Bearer)";
	case AUTH_INVALID:
		return "Invalid API key";
	case AUTH_DISABLED:
		return "signing is disabled: no write_api_key is configured";
	}
	return "Invalid API key";
}
