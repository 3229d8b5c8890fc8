#include "routes.h"

#include <stdio.h>
#include <string.h>

int
routes_parse_mac(const char *text, uint64_t *eui)
{
	return lf_eui_parse(text, eui);
}

struct route_def {
	const char *prefix; /* "/gateways/" for routes with a {mac} */
	const char *suffix; /* after the mac: "", "/packets", "/sign" */
	const char *method;
	enum route_id id;
	enum route_auth auth;
};

static const struct route_def fixed[] = {
        {"/gateways", NULL, "GET", ROUTE_GATEWAYS, ROUTE_AUTH_READ},
        {"/events", NULL, "GET", ROUTE_EVENTS, ROUTE_AUTH_EVENTS},
        {"/metrics", NULL, "GET", ROUTE_METRICS, ROUTE_AUTH_READ},
        {"/healthz", NULL, "GET", ROUTE_HEALTHZ, ROUTE_AUTH_NONE},
};

static const struct route_def with_mac[] = {
        {"/gateways/", "", "GET", ROUTE_GATEWAY, ROUTE_AUTH_READ},
        {"/gateways/", "/packets", "GET", ROUTE_PACKETS, ROUTE_AUTH_READ},
        {"/gateways/", "/sign", "POST", ROUTE_SIGN, ROUTE_AUTH_WRITE},
};

static void
matched(struct route_match *m, const struct route_def *d, const char *method)
{
	m->id = d->id;
	m->auth = d->auth;
	if (strcmp(method, d->method) != 0) {
		m->status = 405;
		m->allow = d->method;
		snprintf(m->error, sizeof(m->error), "method %.16s not allowed; use %s", method,
		         d->method);
	}
}

/* "/gateways/<mac><suffix>": the mac segment is everything up to the next
 * '/', so "/gateways/a/b/c" is an unknown path, not a bad MAC. */
static bool
match_mac_route(const char *path, struct route_match *m, const char *method)
{
	const char *prefix = with_mac[0].prefix;
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0 || path[plen] == '\0' || path[plen] == '/') {
		return false;
	}
	const char *seg = path + plen;
	size_t seglen = strcspn(seg, "/");
	const char *rest = seg + seglen;
	for (size_t i = 0; i < sizeof(with_mac) / sizeof(with_mac[0]); i++) {
		if (strcmp(rest, with_mac[i].suffix) != 0) {
			continue;
		}
		matched(m, &with_mac[i], method);
		m->has_mac = true;
		char text[64];
		if (seglen < sizeof(text)) {
			memcpy(text, seg, seglen);
			text[seglen] = '\0';
			m->mac_ok = routes_parse_mac(text, &m->eui) == 0;
		}
		if (m->mac_ok) {
			lf_eui_format(m->eui, m->mac);
		}
		return true;
	}
	return false;
}

void
routes_match(const char *method, const char *path, struct route_match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(path, fixed[i].prefix) == 0) {
			matched(m, &fixed[i], method);
			return;
		}
	}
	if (match_mac_route(path, m, method)) {
		return;
	}
	m->id = ROUTE_NONE;
	m->status = 404;
	snprintf(m->error, sizeof(m->error), "no such route: %.100s", path);
}
