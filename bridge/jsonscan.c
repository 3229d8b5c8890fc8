#include "jsonscan.h"

#include <string.h>

void
js_init(struct js_scanner *s, const char *buf, size_t len)
{
	s->buf = buf;
	s->len = len;
	s->pos = 0;
	s->ws = 0;
	s->error = NULL;
	s->error_pos = 0;
}

int
js_fail(struct js_scanner *s, const char *msg)
{
	/* Keep the first error: later ones are consequences of it. */
	if (s->error == NULL) {
		s->error = msg;
		s->error_pos = s->pos;
	}
	return -1;
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void
js_skip_ws(struct js_scanner *s)
{
	size_t i = s->pos;
	while (i < s->len && is_ws((unsigned char)s->buf[i])) {
		i++;
	}
	s->ws += i - s->pos;
	s->pos = i;
}

enum js_type
js_peek(const struct js_scanner *s)
{
	if (s->pos >= s->len) {
		return JS_NONE;
	}
	char c = s->buf[s->pos];
	switch (c) {
	case '{':
		return JS_OBJECT;
	case '[':
		return JS_ARRAY;
	case '"':
		return JS_STRING;
	case 't':
	case 'f':
		return JS_BOOL;
	case 'n':
		return JS_NULL;
	default:
		return (c == '-' || (c >= '0' && c <= '9')) ? JS_NUMBER : JS_NONE;
	}
}

const char *
js_type_name(enum js_type type)
{
	switch (type) {
	case JS_OBJECT:
		return "an object";
	case JS_ARRAY:
		return "an array";
	case JS_STRING:
		return "a string";
	case JS_NUMBER:
		return "a number";
	case JS_BOOL:
		return "a boolean";
	case JS_NULL:
		return "null";
	default:
		return "nothing";
	}
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the UTF-8 sequence at b (lead byte >= 0x80), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t
utf8_seq_len(const unsigned char *b, size_t avail)
{
	unsigned char c = b[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (avail < n || b[1] < lo || b[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < n; i++) {
		if ((b[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return n;
}

static int
hex4(const unsigned char *b)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		unsigned char c = b[k];
		int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
		v = v << 4 | d;
	}
	return v;
}

/* At b[i] a 'u' and 4 hex digits? Returns the code unit or -1. */
static int
unicode_escape(const unsigned char *b, size_t len, size_t i)
{
	if (len - i < 5 || b[i] != 'u' || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) ||
	    !is_hex(b[i + 3]) || !is_hex(b[i + 4])) {
		return -1;
	}
	return hex4(b + i + 1);
}

/*
 * i is just after a backslash; returns the index after the escape or 0.
 * Unpaired UTF-16 surrogates are refused: RFC 8259 leaves their meaning
 * open, and cJSON (which every consumer of ours uses) cannot read them.
 */
static size_t
skip_escape(const unsigned char *b, size_t len, size_t i)
{
	if (i >= len) {
		return 0;
	}
	switch (b[i]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return i + 1;
	case 'u':
		break;
	default:
		return 0;
	}
	int unit = unicode_escape(b, len, i);
	if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff)) {
		return 0;
	}
	if (unit < 0xd800 || unit > 0xdbff) {
		return i + 5;
	}
	if (len - i < 7 || b[i + 5] != '\\') {
		return 0;
	}
	int low = unicode_escape(b, len, i + 6);
	return low >= 0xdc00 && low <= 0xdfff ? i + 11 : 0;
}

int
js_skip_string(struct js_scanner *s)
{
	const unsigned char *b = (const unsigned char *)s->buf;
	size_t i = s->pos + 1;
	while (i < s->len) {
		unsigned char c = b[i];
		if (c == '"') {
			s->pos = i + 1;
			return 0;
		}
		if (c >= 0x20 && c < 0x80 && c != '\\') {
			i++;
			continue;
		}
		size_t next = 0;
		if (c == '\\') {
			next = skip_escape(b, s->len, i + 1);
		} else if (c >= 0x80) {
			size_t n = utf8_seq_len(b + i, s->len - i);
			next = n ? i + n : 0;
		}
		if (next == 0) {
			s->pos = i;
			return js_fail(s, c == '\\'  ? "invalid escape in string"
			                  : c < 0x20 ? "control character in string"
			                             : "invalid UTF-8 in string");
		}
		i = next;
	}
	s->pos = i;
	return js_fail(s, "unterminated string");
}

static size_t
skip_digits(const char *b, size_t len, size_t i)
{
	while (i < len && b[i] >= '0' && b[i] <= '9') {
		i++;
	}
	return i;
}

static int
skip_number(struct js_scanner *s)
{
	const char *b = s->buf;
	size_t i = s->pos;
	if (b[i] == '-') {
		i++;
	}
	if (i < s->len && b[i] == '0') {
		i++;
	} else if (i < s->len && b[i] >= '1' && b[i] <= '9') {
		i = skip_digits(b, s->len, i);
	} else {
		s->pos = i;
		return js_fail(s, "invalid number");
	}
	if (i < s->len && b[i] == '.') {
		size_t d = skip_digits(b, s->len, i + 1);
		if (d == i + 1) {
			s->pos = d;
			return js_fail(s, "invalid number");
		}
		i = d;
	}
	if (i < s->len && (b[i] == 'e' || b[i] == 'E')) {
		i++;
		if (i < s->len && (b[i] == '+' || b[i] == '-')) {
			i++;
		}
		size_t d = skip_digits(b, s->len, i);
		if (d == i) {
			s->pos = d;
			return js_fail(s, "invalid number");
		}
		i = d;
	}
	s->pos = i;
	return 0;
}

static int
skip_literal(struct js_scanner *s, const char *word, size_t n)
{
	if (s->len - s->pos < n || memcmp(s->buf + s->pos, word, n) != 0) {
		return js_fail(s, "invalid literal");
	}
	s->pos += n;
	return 0;
}

int
js_enter(struct js_scanner *s, char open)
{
	if (s->pos >= s->len || s->buf[s->pos] != open) {
		return js_fail(s, open == '{' ? "expected '{'" : "expected '['");
	}
	s->pos++;
	return 0;
}

int
js_object_next(struct js_scanner *s, size_t *n, const char **key, size_t *key_len)
{
	js_skip_ws(s);
	if (s->pos >= s->len) {
		return js_fail(s, "unexpected end of input in object");
	}
	char c = s->buf[s->pos];
	if (c == '}') {
		s->pos++;
		return 0;
	}
	if (*n > 0) {
		if (c != ',') {
			return js_fail(s, "expected ',' or '}'");
		}
		s->pos++;
		js_skip_ws(s);
	}
	if (s->pos >= s->len || s->buf[s->pos] != '"') {
		return js_fail(s,
		               *n > 0 ? "expected a member name" : "expected a member name or '}'");
	}
	size_t start = s->pos + 1;
	if (js_skip_string(s) != 0) {
		return -1;
	}
	*key = s->buf + start;
	*key_len = s->pos - 1 - start;
	js_skip_ws(s);
	if (s->pos >= s->len || s->buf[s->pos] != ':') {
		return js_fail(s, "expected ':'");
	}
	s->pos++;
	js_skip_ws(s);
	(*n)++;
	return 1;
}

int
js_array_next(struct js_scanner *s, size_t *n)
{
	js_skip_ws(s);
	if (s->pos >= s->len) {
		return js_fail(s, "unexpected end of input in array");
	}
	char c = s->buf[s->pos];
	if (c == ']') {
		s->pos++;
		return 0;
	}
	if (*n > 0) {
		if (c != ',') {
			return js_fail(s, "expected ',' or ']'");
		}
		s->pos++;
		js_skip_ws(s);
	}
	(*n)++;
	return 1;
}

static int
skip_container(struct js_scanner *s, int depth)
{
	bool object = s->buf[s->pos] == '{';
	if (depth >= JS_MAX_DEPTH) {
		return js_fail(s, "nesting too deep");
	}
	s->pos++;
	size_t n = 0;
	for (;;) {
		const char *key;
		size_t key_len;
		int r = object ? js_object_next(s, &n, &key, &key_len) : js_array_next(s, &n);
		if (r <= 0) {
			return r;
		}
		if (js_skip_value(s, depth + 1) != 0) {
			return -1;
		}
	}
}

int
js_skip_value(struct js_scanner *s, int depth)
{
	switch (js_peek(s)) {
	case JS_OBJECT:
	case JS_ARRAY:
		return skip_container(s, depth);
	case JS_STRING:
		return js_skip_string(s);
	case JS_NUMBER:
		return skip_number(s);
	case JS_BOOL:
		return s->buf[s->pos] == 't' ? skip_literal(s, "true", 4)
		                             : skip_literal(s, "false", 5);
	case JS_NULL:
		return skip_literal(s, "null", 4);
	default:
		return js_fail(s,
		               s->pos >= s->len ? "unexpected end of input" : "expected a value");
	}
}

int
js_check_end(struct js_scanner *s)
{
	/* Some forwarders send the C string's NUL (or several) after the JSON. */
	size_t i = s->pos;
	while (i < s->len && (s->buf[i] == '\0' || is_ws((unsigned char)s->buf[i]))) {
		i++;
	}
	if (i != s->len) {
		s->pos = i;
		return js_fail(s, "unexpected data after the value");
	}
	return 0;
}

enum js_type
js_validate(struct js_scanner *s, const char *buf, size_t len)
{
	js_init(s, buf, len);
	js_skip_ws(s);
	enum js_type type = js_peek(s);
	if (js_skip_value(s, 0) != 0 || js_check_end(s) != 0) {
		return JS_NONE;
	}
	return type;
}

size_t
js_compact(const char *src, size_t len, char *dst)
{
	size_t o = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (in_string) {
			dst[o++] = c;
			if (c == '\\' && i + 1 < len) {
				dst[o++] = src[++i];
			} else if (c == '"') {
				in_string = false;
			}
		} else if (!is_ws((unsigned char)c)) {
			dst[o++] = c;
			in_string = c == '"';
		}
	}
	return o;
}
