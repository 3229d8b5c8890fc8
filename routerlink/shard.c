/* Which routerlink instance serves which gateway (see shard.h). */
#include "shard.h"

#include <errno.h>
#include <stdlib.h>

#include "lf/util.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

uint64_t
shard_hash(uint64_t eui)
{
	uint64_t h = FNV_OFFSET;
	for (int shift = 56; shift >= 0; shift -= 8) {
		h ^= (eui >> shift) & 0xff;
		h *= FNV_PRIME;
	}
	return h;
}

static int
parse_uint(const char *text, const char **end, unsigned long *out)
{
	if (*text < '0' || *text > '9') {
		return -1;
	}
	char *stop = NULL;
	errno = 0;
	unsigned long v = strtoul(text, &stop, 10);
	if (errno != 0 || v > SHARD_COUNT_MAX) {
		return -1;
	}
	*end = stop;
	*out = v;
	return 0;
}

int
shard_parse(const char *text, struct shard *out, char *err, size_t errlen)
{
	unsigned long i, n;
	const char *p = text;
	if (parse_uint(p, &p, &i) != 0 || *p++ != '/' || parse_uint(p, &p, &n) != 0 || *p != '\0') {
		return lf_set_err(err, errlen, "expected i/n, e.g. 0/2 (instance 0 of 2)");
	}
	if (n < 1) {
		return lf_set_err(err, errlen, "n must be at least 1");
	}
	if (i >= n) {
		return lf_set_err(err, errlen, "i counts from 0 and must be less than n");
	}
	*out = (struct shard){(unsigned)i, (unsigned)n};
	return 0;
}
