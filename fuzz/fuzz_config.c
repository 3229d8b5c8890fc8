/*
 * A configuration file, through each daemon's real option table as its
 * main() loads it (lf_cfg_load: libinih, our line reader, every value
 * parser and check), then what the daemon does with the values before
 * starting (host:port splits, region, shard). The input is written to a
 * memfd and loaded by its /proc/self/fd path, exactly as a file.
 *
 * Checks: a refusal says why; an accepted file leaves no string NULL,
 * and what --check-config prints (lf_cfg_print) loads again to the same
 * settings (with the masked secrets put back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ini.h>

#include "apigw.h"
#include "bridge.h"
#include "fuzz.h"
#include "lf/cfg.h"
#include "region.h"
#include "routerlink.h"
#include "shard.h"

#define MAX_SECTIONS 3

static int input_fd = -1, print_fd = -1;
static char input_path[64], print_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	input_fd = memfd_create("lf-fuzz-config", MFD_CLOEXEC);
	print_fd = memfd_create("lf-fuzz-config-printed", MFD_CLOEXEC);
	FUZZ_CHECK(input_fd >= 0 && print_fd >= 0);
	snprintf(input_path, sizeof(input_path), "/proc/self/fd/%d", input_fd);
	snprintf(print_path, sizeof(print_path), "/proc/self/fd/%d", print_fd);
	return 0;
}

static void
put_file(int fd, const void *data, size_t size)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
}

/* One daemon's settings: the struct its sections point into. */
struct daemon_settings {
	union {
		struct bridge_settings bridge;
		struct routerlink_settings routerlink;
		struct apigw_settings apigw;
	} u;
	struct lf_cfg_section sections[MAX_SECTIONS];
	size_t n;
};

enum daemon { BRIDGE, ROUTERLINK, APIGW, DAEMONS };

static void
settings_init(struct daemon_settings *s, enum daemon d)
{
	memset(s, 0, sizeof(*s));
	switch (d) {
	case BRIDGE:
		bridge_cfg_sections(&s->u.bridge, s->sections);
		s->n = BRIDGE_CFG_SECTIONS;
		break;
	case ROUTERLINK:
		routerlink_cfg_sections(&s->u.routerlink, s->sections);
		s->n = ROUTERLINK_CFG_SECTIONS;
		break;
	default:
		apigw_cfg_sections(&s->u.apigw, s->sections);
		s->n = APIGW_CFG_SECTIONS;
		break;
	}
}

static const void *
field(const struct lf_cfg_section *sec, const struct lf_cfg_option *o)
{
	return (const char *)sec->base + o->offset;
}

static bool
is_string(enum lf_cfg_type t)
{
	return t == LF_CFG_STRING || t == LF_CFG_HOSTPORT;
}

/* Every string set; a and b hold the same values. */
static void
compare(const struct daemon_settings *a, const struct daemon_settings *b)
{
	for (size_t i = 0; i < a->n; i++) {
		for (const struct lf_cfg_option *o = a->sections[i].options; o->name != NULL; o++) {
			const void *fa = field(&a->sections[i], o), *fb = field(&b->sections[i], o);
			if (is_string(o->type)) {
				const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
				FUZZ_CHECK(sa != NULL && sb != NULL);
				FUZZ_CHECK(strcmp(sa, sb) == 0);
			} else if (o->type == LF_CFG_BOOL) {
				FUZZ_CHECK(*(const bool *)fa == *(const bool *)fb);
			} else if (o->type == LF_CFG_ENUM) {
				FUZZ_CHECK(*(const int *)fa == *(const int *)fb);
			} else {
				FUZZ_CHECK(*(const int64_t *)fa == *(const int64_t *)fb);
			}
		}
	}
}

/* What each daemon does with its settings before it starts. */
static void
use_settings(const struct daemon_settings *s, enum daemon d)
{
	char host[256];
	uint16_t port;
	if (d == BRIDGE) {
		FUZZ_CHECK(lf_cfg_split_hostport(s->u.bridge.bridge.udp_bind, host, sizeof(host),
		                                 &port) == 0);
	} else if (d == APIGW) {
		FUZZ_CHECK(lf_cfg_split_hostport(s->u.apigw.apigw.http_bind, host, sizeof(host),
		                                 &port) == 0);
	} else {
		const struct routerlink_config *c = &s->u.routerlink.routerlink;
		Helium__Region region;
		if (region_parse(c->region, &region) == 0) {
			(void)region_tx_power(region, (int)c->tx_power);
		}
		struct shard shard;
		char err[256];
		/* The table's check already accepted it. */
		FUZZ_CHECK(shard_parse(c->shard, &shard, err, sizeof(err)) == 0);
	}
}

/*
 * lf_cfg_print masks secrets ("********"), which a check may then refuse
 * (an API key shorter than 16): put the loaded values back, so that the
 * rest of the printed file is what is compared.
 */
static void
unmask_secrets(const struct daemon_settings *s, char **text, size_t *len)
{
	char *out = NULL;
	size_t out_len = 0;
	FILE *f = open_memstream(&out, &out_len);
	FUZZ_CHECK(f != NULL);
	const struct lf_cfg_section *sec = NULL;
	for (char *line = *text, *next; line < *text + *len; line = next) {
		char *nl = memchr(line, '\n', (size_t)(*text + *len - line));
		next = nl != NULL ? nl + 1 : *text + *len;
		size_t n = (size_t)(next - line);
		for (size_t i = 0; i < s->n; i++) {
			size_t nlen = strlen(s->sections[i].name);
			if (line[0] == '[' && strncmp(line + 1, s->sections[i].name, nlen) == 0 &&
			    line[nlen + 1] == ']') {
				sec = &s->sections[i];
			}
		}
		const struct lf_cfg_option *o = sec != NULL ? sec->options : NULL;
		for (; o != NULL && o->name != NULL; o++) {
			size_t klen = strlen(o->name);
			if ((o->flags & LF_CFG_SECRET) && strncmp(line, o->name, klen) == 0 &&
			    strncmp(line + klen, " = ********\n", 12) == 0) {
				break;
			}
		}
		if (o != NULL && o->name != NULL) {
			fprintf(f, "%s = %s\n", o->name, *(char *const *)field(sec, o));
		} else {
			fwrite(line, 1, n, f);
		}
	}
	FUZZ_CHECK(fclose(f) == 0);
	free(*text);
	*text = out;
	*len = out_len;
}

static void
check_daemon(enum daemon d)
{
	struct daemon_settings s, again;
	char err[1024] = "";
	settings_init(&s, d);
	if (lf_cfg_load(s.sections, s.n, input_path, err, sizeof(err)) != 0) {
		FUZZ_CHECK(err[0] != '\0');
		lf_cfg_free(s.sections, s.n);
		return;
	}
	use_settings(&s, d);
	char *printed = NULL;
	size_t printed_len = 0;
	FILE *out = open_memstream(&printed, &printed_len);
	FUZZ_CHECK(out != NULL);
	lf_cfg_print(s.sections, s.n, out);
	FUZZ_CHECK(fclose(out) == 0);
	unmask_secrets(&s, &printed, &printed_len);
	/* "key =value" printed as "key = value" can pass the line limit by
	 * two characters (and a value from the environment by any amount):
	 * such a print is not reloaded, as it cannot be. */
	bool fits = true;
	for (const char *line = printed, *end = printed + printed_len; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl != NULL ? nl : end) - line);
		fits = fits && n < INI_MAX_LINE;
		line = nl != NULL ? nl + 1 : end;
	}
	put_file(print_fd, printed, printed_len);
	free(printed);
	if (!fits) {
		lf_cfg_free(s.sections, s.n);
		return;
	}
	settings_init(&again, d);
	int rc = lf_cfg_load(again.sections, again.n, print_path, err, sizeof(err));
	if (rc != 0) {
		fuzz_fail(__FILE__, __LINE__, err);
	}
	compare(&s, &again);
	lf_cfg_free(again.sections, again.n);
	lf_cfg_free(s.sections, s.n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	put_file(input_fd, data, size);
	for (int d = 0; d < DAEMONS; d++) {
		check_daemon((enum daemon)d);
	}
	return 0;
}
