/*
 * The REST surface: method + path -> route, MAC parsing, and the status a
 * request gets before any handler runs (404 unknown path, 405 wrong
 * method with Allow, 400 malformed MAC). Pure.
 */
#ifndef APIGW_ROUTES_H
#define APIGW_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "lf/eui.h"

enum route_id {
	ROUTE_NONE,
	ROUTE_GATEWAYS, /* GET /gateways */
	ROUTE_GATEWAY,  /* GET /gateways/{mac} */
	ROUTE_PACKETS,  /* GET /gateways/{mac}/packets */
	ROUTE_SIGN,     /* POST /gateways/{mac}/sign */
	ROUTE_EVENTS,   /* GET /events */
	ROUTE_METRICS,  /* GET /metrics */
	ROUTE_HEALTHZ,  /* GET /healthz */
};

/* Which key a route needs. */
enum route_auth {
	ROUTE_AUTH_NONE,   /* /healthz */
	ROUTE_AUTH_READ,   /* reads and /metrics */
	ROUTE_AUTH_WRITE,  /* sign */
	ROUTE_AUTH_EVENTS, /* /events: the read key only with events_auth */
};

struct route_match {
	enum route_id id;
	int status;        /* 0, or 404/405 decided from the path and method */
	const char *allow; /* 405: the Allow header's value */
	enum route_auth auth;
	bool has_mac; /* the route carries a {mac} */
	bool mac_ok;  /* it parsed; otherwise 400 after auth */
	uint64_t eui;
	char mac[LF_EUI_STRLEN]; /* canonical form when mac_ok */
	char error[160];         /* the reason when status != 0 */
};

/* method: "GET", "POST", ... as sent. path: URL-decoded, no query. */
void routes_match(const char *method, const char *path, struct route_match *m);

/* MACs in any case, bare or with ':' or '-' between every pair. */
int routes_parse_mac(const char *text, uint64_t *eui);

/* The multi-gateway wording of the 400 for a malformed MAC. */
#define ROUTES_BAD_MAC "Invalid MAC address format. Expected 16 hex characters."

#endif
