#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <sanitizer/common_interface_defs.h>
#include <sodium.h>

#include "lf/log.h"

extern char **environ;

void
fuzz_setup(void)
{
	if (sodium_init() < 0) {
		fuzz_fail(__FILE__, __LINE__, "sodium_init");
	}
	lf_log_threshold = LF_LOG_DEBUG;
	/* The config target reads the environment as the daemons do: start
	 * from none of ours. Collect the names first; unsetenv moves entries. */
	char *names[64];
	size_t n = 0;
	for (char **e = environ; e != NULL && *e != NULL && n < 64; e++) {
		if (strncmp(*e, "LORAFLEET_", 10) == 0) {
			names[n++] = strndup(*e, strcspn(*e, "="));
		}
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
}

void
fuzz_fail(const char *file, int line, const char *what)
{
	char text[512];
	snprintf(text, sizeof(text), "FUZZ_CHECK failed: %s:%d: %s", file, line, what);
	/* stderr may be /dev/null (-close_fd_mask=2); the report stream is not. */
	__sanitizer_report_error_summary(text);
	abort();
}

bool
fuzz_json_parses(const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	bool ok = root != NULL;
	cJSON_Delete(root);
	return ok;
}

bool
fuzz_json_is_object(const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	bool ok = cJSON_IsObject(root);
	cJSON_Delete(root);
	return ok;
}

void
fuzz_parts_init(struct fuzz_parts *p, const uint8_t *data, size_t size)
{
	*p = (struct fuzz_parts){.data = data, .size = size};
}

bool
fuzz_parts_next(struct fuzz_parts *p, const uint8_t **part, size_t *len)
{
	if (p->done) {
		return false;
	}
	const size_t seplen = sizeof(FUZZ_SEP) - 1;
	const uint8_t *start = p->data + p->pos;
	size_t left = p->size - p->pos;
	const uint8_t *sep = left >= seplen ? memmem(start, left, FUZZ_SEP, seplen) : NULL;
	*part = start;
	if (sep == NULL) {
		*len = left;
		p->done = true;
	} else {
		*len = (size_t)(sep - start);
		p->pos += *len + seplen;
	}
	return true;
}

char *
fuzz_strndup(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);
	if (s == NULL) {
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	}
	if (len > 0) {
		memcpy(s, data, len);
	}
	s[len] = '\0';
	return s;
}
