/*
 * What the fuzz targets share: a check that turns a broken promise into a
 * crash libFuzzer records, a JSON validity oracle, and a splitter for
 * inputs made of several parts. See fuzz/README.md.
 */
#ifndef LF_FUZZ_H
#define LF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (the targets define them). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Once per process: libsodium, every log level on (so that the log lines
 * outside input reaches are formatted too: scripts/fuzz discards the
 * target's stderr with -close_fd_mask=2, sanitizer reports still show),
 * and no LORAFLEET_* variable from the caller's environment.
 */
void fuzz_setup(void);

/* Reports what broke (through the sanitizer's report stream) and aborts. */
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

/* Whether text[0..len) is one JSON value cJSON reads (what every consumer
 * of a lorafleet message does first). */
bool fuzz_json_parses(const char *text, size_t len);
/* Same, and the value is an object. */
bool fuzz_json_is_object(const char *text, size_t len);

/*
 * An input made of parts separated by FUZZ_SEP ("\n--\n"): each call
 * gives the next part (not NUL-terminated) and returns false when there
 * is none left.
 */
#define FUZZ_SEP "\n--\n"
struct fuzz_parts {
	const uint8_t *data;
	size_t size, pos;
	bool done;
};
void fuzz_parts_init(struct fuzz_parts *p, const uint8_t *data, size_t size);
bool fuzz_parts_next(struct fuzz_parts *p, const uint8_t **part, size_t *len);

/* A malloc'd NUL-terminated copy (aborts when out of memory: a harness
 * failure, not a finding). */
char *fuzz_strndup(const uint8_t *data, size_t len);

#endif
