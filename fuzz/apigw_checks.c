#include "apigw_checks.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"

static void
check_record(const char *rec, size_t len)
{
	const char *end = rec + len;
	if (len >= 4 && memcmp(rec, "id: ", 4) == 0) {
		const char *nl = memchr(rec, '\n', len);
		FUZZ_CHECK(nl != NULL && nl > rec + 4);
		for (const char *c = rec + 4; c < nl; c++) {
			FUZZ_CHECK(*c >= '0' && *c <= '9');
		}
		rec = nl + 1;
	}
	FUZZ_CHECK(end - rec > 7 && memcmp(rec, "event: ", 7) == 0);
	const char *nl = memchr(rec, '\n', (size_t)(end - rec));
	FUZZ_CHECK(nl != NULL && nl > rec + 7);
	rec = nl + 1;
	FUZZ_CHECK(end - rec > 6 && memcmp(rec, "data: ", 6) == 0);
	rec += 6;
	/* One line of JSON: a newline inside would end the data early. */
	nl = memchr(rec, '\n', (size_t)(end - rec));
	FUZZ_CHECK(nl != NULL && nl + 1 == end);
	FUZZ_CHECK(fuzz_json_is_object(rec, (size_t)(nl - rec)));
}

void
check_sse_stream(struct sse_cursor *c, const struct sse_ring *r)
{
	struct abuf out;
	abuf_init(&out);
	for (int rounds = 0; sse_pending(c, r); rounds++) {
		/* Every read makes progress: a pending client is never stuck. */
		FUZZ_CHECK(rounds <= (int)r->cap + 2);
		size_t before = out.len;
		sse_read(c, r, &out, out.len + 256);
		if (out.len == before) {
			/* Only events the filter rejects were left. */
			FUZZ_CHECK(!sse_pending(c, r));
		}
	}
	FUZZ_CHECK(!out.failed);
	/* Records end with a blank line; split on it. */
	const char *p = out.data != NULL ? out.data : "", *end = p + out.len;
	while (p < end) {
		const char *sep = memmem(p, (size_t)(end - p), "\n\n", 2);
		FUZZ_CHECK(sep != NULL);
		check_record(p, (size_t)(sep - p) + 1);
		p = sep + 2;
	}
	abuf_free(&out);
}

static bool
name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* A metric or label name at *p; moves past it. */
static bool
read_name(const char **p, const char *end, bool label)
{
	const char *s = *p;
	while (*p < end && name_char(**p, *p == s) && !(label && **p == ':')) {
		(*p)++;
	}
	return *p > s;
}

static bool
read_value(const char **p, const char *end)
{
	const char *s = *p;
	while (*p < end && **p != ' ') {
		(*p)++;
	}
	size_t n = (size_t)(*p - s);
	char text[64];
	if (n == 0 || n >= sizeof(text)) {
		return false;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	if (strcmp(text, "+Inf") == 0 || strcmp(text, "-Inf") == 0 || strcmp(text, "NaN") == 0) {
		return true;
	}
	char *stop;
	(void)strtod(text, &stop);
	/* Go's ParseFloat, which Prometheus uses, takes inf and nan in any
	 * case but hex only with a p exponent: no hex here. */
	return *stop == '\0' && strpbrk(text, "xX") == NULL;
}

static void
check_sample(const char *p, const char *end)
{
	FUZZ_CHECK(read_name(&p, end, false));
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			FUZZ_CHECK(read_name(&p, end, true));
			FUZZ_CHECK(end - p >= 2 && p[0] == '=' && p[1] == '"');
			p += 2;
			while (p < end && *p != '"') {
				if (*p == '\\') {
					FUZZ_CHECK(end - p >= 2 && strchr("\\\"n", p[1]) != NULL);
					p++;
				}
				p++;
			}
			FUZZ_CHECK(p < end);
			p++;
			if (p < end && *p == ',') {
				p++;
			}
		}
		FUZZ_CHECK(p < end);
		p++;
	}
	FUZZ_CHECK(p < end && *p == ' ');
	p++;
	FUZZ_CHECK(read_value(&p, end));
	if (p < end) {
		/* A timestamp: integer milliseconds. */
		FUZZ_CHECK(*p == ' ' && end - p >= 2);
		for (p++; p < end; p++) {
			FUZZ_CHECK((*p >= '0' && *p <= '9') || *p == '-');
		}
	}
}

void
check_prometheus_text(const char *text, size_t len)
{
	FUZZ_CHECK(len == 0 || text[len - 1] == '\n');
	FUZZ_CHECK(memchr(text, '\0', len) == NULL);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == p) {
			p++;
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0 || strncmp(p, "# HELP ", 7) == 0) {
			bool type = p[2] == 'T';
			const char *q = p + 7;
			FUZZ_CHECK(read_name(&q, eol, false));
			FUZZ_CHECK(q < eol && *q == ' ');
			q++;
			if (type) {
				size_t n = (size_t)(eol - q);
				FUZZ_CHECK((n == 7 && strncmp(q, "counter", 7) == 0) ||
				           (n == 5 && strncmp(q, "gauge", 5) == 0) ||
				           (n == 9 && strncmp(q, "histogram", 9) == 0) ||
				           (n == 7 && strncmp(q, "summary", 7) == 0) ||
				           (n == 7 && strncmp(q, "untyped", 7) == 0));
			} else {
				for (; q < eol; q++) {
					if (*q == '\\') {
						FUZZ_CHECK(q + 1 < eol &&
						           (q[1] == '\\' || q[1] == 'n'));
						q++;
					}
				}
			}
		} else if (*p != '#') {
			check_sample(p, eol);
		}
		p = eol + 1;
	}
}
