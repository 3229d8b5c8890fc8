#include "uplink.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

/*
 * Two passes over the body, no tree and no per-field allocation:
 *  1. validate the whole body strictly and note where "rxpk" and "stat"
 *     lie, so that nothing is published from a datagram that turns out to
 *     be broken further on;
 *  2. walk the rxpk array element by element, check the known fields,
 *     and copy each element (compacted) into one reused output buffer.
 */

/* Most payloads fit in this, so the usual datagram needs no malloc. */
#define OUTBUF_STACK 2048

/* Where a member's value lies in the body. */
struct span {
	bool present;
	bool has_ws; /* whitespace outside strings to strip when copying */
	enum js_type type;
	size_t start;
	size_t end;
};

struct outbuf {
	char *p;
	size_t len;
	size_t cap;
	char stack[OUTBUF_STACK];
};

struct mapper {
	const char *json;
	size_t len;
	bool forward_crc_bad;
	uplink_emit_fn emit;
	void *arg;
	struct uplink_result *res;
	char *err;
	size_t errlen;
	struct outbuf out;
	size_t prefix_len; /* {"mac":..,"received_at":.., reused by every payload */
};

#define TYPE_BIT(t) (1u << (t))

/* The rxpk fields whose types we check; all other fields pass as they are. */
enum rxpk_field {
	F_TIME,
	F_TMMS,
	F_TMST,
	F_FREQ,
	F_CHAN,
	F_RFCH,
	F_STAT,
	F_RSSI,
	F_LSNR,
	F_SIZE,
	F_MODU,
	F_CODR,
	F_DATA,
	F_DATR,
	F_RSIG,
	F_COUNT,
};

struct field_rule {
	char name[5];
	unsigned types;
	const char *expect;
};

static const struct field_rule rxpk_rules[F_COUNT] = {
        [F_TIME] = {"time", TYPE_BIT(JS_STRING), "a string"},
        [F_TMMS] = {"tmms", TYPE_BIT(JS_NUMBER), "a number"},
        [F_TMST] = {"tmst", TYPE_BIT(JS_NUMBER), "a number"},
        [F_FREQ] = {"freq", TYPE_BIT(JS_NUMBER), "a number"},
        [F_CHAN] = {"chan", TYPE_BIT(JS_NUMBER), "a number"},
        [F_RFCH] = {"rfch", TYPE_BIT(JS_NUMBER), "a number"},
        [F_STAT] = {"stat", TYPE_BIT(JS_NUMBER), "a number"},
        [F_RSSI] = {"rssi", TYPE_BIT(JS_NUMBER), "a number"},
        [F_LSNR] = {"lsnr", TYPE_BIT(JS_NUMBER), "a number"},
        [F_SIZE] = {"size", TYPE_BIT(JS_NUMBER), "a number"},
        [F_MODU] = {"modu", TYPE_BIT(JS_STRING), "a string"},
        [F_CODR] = {"codr", TYPE_BIT(JS_STRING), "a string"},
        [F_DATA] = {"data", TYPE_BIT(JS_STRING), "a string"},
        [F_DATR] = {"datr", TYPE_BIT(JS_STRING) | TYPE_BIT(JS_NUMBER), "a string or a number"},
        [F_RSIG] = {"rsig", TYPE_BIT(JS_ARRAY), "an array"},
};

/* Containers around an rxpk element's field values: body, rxpk, element. */
#define FIELD_DEPTH 3

static void
outbuf_init(struct outbuf *b)
{
	b->p = b->stack;
	b->len = 0;
	b->cap = sizeof(b->stack);
}

static void
outbuf_free(struct outbuf *b)
{
	if (b->p != b->stack) {
		free(b->p);
	}
}

static int
outbuf_reserve(struct outbuf *b, size_t extra)
{
	if (extra <= b->cap - b->len) {
		return 0;
	}
	size_t need = b->len + extra;
	if (need < b->len) {
		return -1;
	}
	size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
	char *p = b->p == b->stack ? malloc(cap) : realloc(b->p, cap);
	if (p == NULL) {
		return -1;
	}
	if (b->p == b->stack) {
		memcpy(p, b->stack, b->len);
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
outbuf_append(struct outbuf *b, const char *s, size_t n)
{
	if (outbuf_reserve(b, n) != 0) {
		return -1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* mac and received_at come from the bridge, but escaping them costs little
 * (once per datagram) and keeps the payload valid JSON whatever they hold. */
static int
outbuf_append_string(struct outbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (outbuf_reserve(b, n * 6 + 2) != 0) {
		return -1;
	}
	char *o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += sprintf(o, "\\u%04x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

/* Keeps the first problem only: the log line is about that one. */
__attribute__((format(printf, 2, 3))) static void
note(struct mapper *m, const char *fmt, ...)
{
	if (m->err == NULL || m->errlen == 0 || m->err[0] != '\0') {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, m->errlen, fmt, ap);
	va_end(ap);
}

static int
fail(struct mapper *m, const char *msg)
{
	if (m->err != NULL && m->errlen > 0) {
		snprintf(m->err, m->errlen, "%s", msg);
	}
	return -1;
}

static int
invalid_json(struct mapper *m, const struct js_scanner *s)
{
	if (m->err != NULL && m->errlen > 0) {
		snprintf(m->err, m->errlen, "invalid JSON at offset %zu: %s", s->error_pos,
		         s->error ? s->error : "invalid");
	}
	return -1;
}

static bool
key_is(const char *key, size_t key_len, const char *name)
{
	return key_len == strlen(name) && memcmp(key, name, key_len) == 0;
}

/* Pass 1. Returns 0 with the spans of "rxpk" and "stat" (the first of
 * each, should a key repeat), or -1 with err set. */
static int
scan_body(struct mapper *m, struct span *rxpk, struct span *stat)
{
	struct js_scanner s;
	js_init(&s, m->json, m->len);
	js_skip_ws(&s);
	enum js_type type = js_peek(&s);
	if (type != JS_OBJECT) {
		if (js_skip_value(&s, 0) != 0 || js_check_end(&s) != 0) {
			return invalid_json(m, &s);
		}
		char msg[64];
		snprintf(msg, sizeof(msg), "body is %s, expected an object", js_type_name(type));
		return fail(m, msg);
	}
	s.pos++;
	size_t n = 0;
	const char *key;
	size_t key_len;
	int r;
	while ((r = js_object_next(&s, &n, &key, &key_len)) == 1) {
		struct span *sp = key_is(key, key_len, "rxpk")   ? rxpk
		                  : key_is(key, key_len, "stat") ? stat
		                                                 : NULL;
		size_t start = s.pos;
		size_t ws = s.ws;
		enum js_type t = js_peek(&s);
		if (js_skip_value(&s, 1) != 0) {
			return invalid_json(m, &s);
		}
		if (sp != NULL && !sp->present) {
			*sp = (struct span){true, s.ws != ws, t, start, s.pos};
		}
	}
	if (r < 0 || js_check_end(&s) != 0) {
		return invalid_json(m, &s);
	}
	return 0;
}

static int
build_prefix(struct mapper *m, const char *mac, const char *received_at)
{
	struct outbuf *b = &m->out;
	if (outbuf_append(b, "{\"mac\":", 7) != 0 || outbuf_append_string(b, mac ? mac : "") != 0 ||
	    outbuf_append(b, ",\"received_at\":", 15) != 0 ||
	    outbuf_append_string(b, received_at ? received_at : "") != 0 ||
	    outbuf_append(b, ",", 1) != 0) {
		return -1;
	}
	m->prefix_len = b->len;
	return 0;
}

/* Builds {"mac":..,"received_at":..,"rxpk"|"stat":<compact value>} and
 * hands it to emit. */
static int
emit_part(struct mapper *m, enum uplink_kind kind, const struct span *sp)
{
	struct outbuf *b = &m->out;
	size_t n = sp->end - sp->start;
	b->len = m->prefix_len;
	if (outbuf_reserve(b, 7 + n + 2) != 0) {
		return -1;
	}
	memcpy(b->p + b->len, kind == UPLINK_RXPK ? "\"rxpk\":" : "\"stat\":", 7);
	b->len += 7;
	if (sp->has_ws) {
		b->len += js_compact(m->json + sp->start, n, b->p + b->len);
	} else {
		memcpy(b->p + b->len, m->json + sp->start, n);
		b->len += n;
	}
	b->p[b->len++] = '}';
	b->p[b->len] = '\0';
	if (m->emit != NULL) {
		m->emit(m->arg, kind, b->p, b->len);
	}
	return 0;
}

static int
lookup_field(const char *key, size_t key_len)
{
	/* Every checked name has four letters, which rules most keys out at once. */
	if (key_len != 4) {
		return -1;
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (memcmp(key, rxpk_rules[f].name, 4) == 0) {
			return f;
		}
	}
	return -1;
}

/* CRC status from the number's text: only 1 (OK) and 0 (no CRC) are good. */
static bool
crc_is_bad(const char *text, size_t len)
{
	if (len == 1 && (text[0] == '1' || text[0] == '0')) {
		return false;
	}
	char tmp[64];
	if (len >= sizeof(tmp)) {
		return true;
	}
	memcpy(tmp, text, len);
	tmp[len] = '\0';
	double v = strtod(tmp, NULL);
	return !(v == 1.0 || v == 0.0);
}

/* rsig: one object per antenna. Returns 0, or -1 on a scanner error. */
static int
check_rsig(struct js_scanner *s, char *problem, size_t problem_len)
{
	if (js_enter(s, '[') != 0) {
		return -1;
	}
	size_t n = 0;
	int r;
	while ((r = js_array_next(s, &n)) == 1) {
		if (js_peek(s) != JS_OBJECT && problem[0] == '\0') {
			snprintf(problem, problem_len, "rsig[%zu]: expected an object", n - 1);
		}
		if (js_skip_value(s, FIELD_DEPTH + 1) != 0) {
			return -1;
		}
	}
	return r;
}

/*
 * Walks one rxpk object (at pos) to its end, checking known fields.
 * Returns 0 when valid, 1 when invalid (problem set), -1 on a scanner
 * error. *crc_bad tells whether "stat" says the CRC failed.
 */
static int
check_rxpk(struct js_scanner *s, bool *crc_bad, char *problem, size_t problem_len)
{
	bool has_data = false;
	const char *key;
	size_t key_len;
	size_t n = 0;
	int r;
	s->pos++;
	while ((r = js_object_next(s, &n, &key, &key_len)) == 1) {
		int f = lookup_field(key, key_len);
		enum js_type t = js_peek(s);
		size_t start = s->pos;
		if (f >= 0 && (rxpk_rules[f].types & TYPE_BIT(t)) == 0 && problem[0] == '\0') {
			snprintf(problem, problem_len, "%s: expected %s", rxpk_rules[f].name,
			         rxpk_rules[f].expect);
		}
		if (f == F_RSIG && t == JS_ARRAY) {
			r = check_rsig(s, problem, problem_len);
		} else {
			r = js_skip_value(s, FIELD_DEPTH);
		}
		if (r != 0) {
			return -1;
		}
		if (f == F_DATA) {
			has_data = true;
		} else if (f == F_STAT && t == JS_NUMBER) {
			*crc_bad = crc_is_bad(s->buf + start, s->pos - start);
		}
	}
	if (r < 0) {
		return -1;
	}
	if (problem[0] == '\0' && !has_data) {
		snprintf(problem, problem_len, "data: missing");
	}
	return problem[0] != '\0';
}

/* One element of the rxpk array, at s->pos. Returns 0, or -1 when the
 * scan cannot go on (out of memory, or a scanner error). */
static int
map_one_rxpk(struct mapper *m, struct js_scanner *s, size_t idx)
{
	char problem[96] = "";
	struct span sp = {true, false, js_peek(s), s->pos, 0};
	size_t ws = s->ws;
	bool crc_bad = false;
	int r;
	if (sp.type != JS_OBJECT) {
		snprintf(problem, sizeof(problem), "expected an object");
		r = js_skip_value(s, FIELD_DEPTH - 1) != 0 ? -1 : 1;
	} else {
		r = check_rxpk(s, &crc_bad, problem, sizeof(problem));
	}
	if (r < 0) {
		return -1;
	}
	if (r > 0) {
		m->res->rxpk_invalid++;
		note(m, "rxpk[%zu]: %s", idx, problem);
		return 0;
	}
	if (crc_bad) {
		m->res->rxpk_crc_bad++;
		if (!m->forward_crc_bad) {
			note(m, "rxpk[%zu]: CRC failed, dropped", idx);
			return 0;
		}
	}
	sp.end = s->pos;
	sp.has_ws = s->ws != ws;
	if (emit_part(m, UPLINK_RXPK, &sp) != 0) {
		return -1;
	}
	m->res->rxpk_published++;
	return 0;
}

/* Pass 2 over the rxpk array. Returns 0, or -1 when out of memory. */
static int
map_rxpk(struct mapper *m, const struct span *rxpk)
{
	if (rxpk->type != JS_ARRAY) {
		m->res->rxpk_not_array = true;
		note(m, "rxpk: expected an array");
		return 0;
	}
	struct js_scanner s;
	js_init(&s, m->json, rxpk->end);
	s.pos = rxpk->start + 1;
	size_t n = 0;
	int r;
	while ((r = js_array_next(&s, &n)) == 1) {
		if (map_one_rxpk(m, &s, n - 1) != 0) {
			break;
		}
	}
	/* Pass 1 validated this text, so a scanner error cannot happen; what
	 * can fail is the output buffer's allocation. */
	if (s.error != NULL) {
		note(m, "rxpk[%zu]: %s", n - 1, s.error);
		return 0;
	}
	return r == 1 ? -1 : 0;
}

int
uplink_map(const char *json, size_t len, const char *mac, const char *received_at,
           bool forward_crc_bad, uplink_emit_fn emit, void *arg, struct uplink_result *res,
           char *err, size_t errlen)
{
	struct uplink_result local = {0};
	struct mapper m = {
	        .json = json ? json : "",
	        .len = json ? len : 0,
	        .forward_crc_bad = forward_crc_bad,
	        .emit = emit,
	        .arg = arg,
	        .res = res ? res : &local,
	        .err = err,
	        .errlen = errlen,
	};
	memset(m.res, 0, sizeof(*m.res));
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	struct span rxpk = {0}, stat = {0};
	if (scan_body(&m, &rxpk, &stat) != 0) {
		return -1;
	}
	outbuf_init(&m.out);
	int ret = build_prefix(&m, mac, received_at);
	if (ret == 0 && rxpk.present) {
		ret = map_rxpk(&m, &rxpk);
	}
	if (ret == 0 && stat.present) {
		if (stat.type == JS_OBJECT) {
			ret = emit_part(&m, UPLINK_STAT, &stat);
			m.res->stat_published += ret == 0;
		} else {
			m.res->stat_invalid++;
			note(&m, "stat: expected an object");
		}
	}
	outbuf_free(&m.out);
	if (ret != 0) {
		return fail(&m, "out of memory");
	}
	return 0;
}
