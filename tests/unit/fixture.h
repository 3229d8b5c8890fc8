/* Loading the project's own test fixtures (tests/fixtures/...). */
#ifndef LF_TEST_FIXTURE_H
#define LF_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

/* Reads LF_FIXTURES_DIR/<dir>/<name> whole, NUL-terminated; fails the test when
 * it cannot. The caller frees. */
static inline char *
load_fixture(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", LF_FIXTURES_DIR, dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)size, f);
	assert_int_equal(*len, (size_t)size);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

#endif
