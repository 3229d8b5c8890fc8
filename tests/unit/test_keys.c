/* The per-gateway key store, its files and the `keys` subcommand. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "key_vector.h"
#include "keys.h"
#include "keys_cli.h"
#include "lf/log.h"

#define MAC_A      0xaa555a0000000101ULL
#define MAC_A_NAME "AA555A0000000101.key"
#define MAC_B      0x0011223344556677ULL

struct fix {
	char root[64];  /* mkdtemp */
	char dir[96];   /* root/keys: the key directory */
	char path[160]; /* dir/MAC_A_NAME */
	char src[160];  /* a gateway-rs file to import */
	char out[160];  /* an export target */
	char err[512];
};

/* ---- helpers ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->root, "/tmp/test_keys.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/keys", f->root);
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, MAC_A_NAME);
	snprintf(f->src, sizeof(f->src), "%s/gateway_key.bin", f->root);
	snprintf(f->out, sizeof(f->out), "%s/exported.bin", f->root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
group_setup(void **state)
{
	/* Warnings (a tightened directory, removed temps) are expected here. */
	lf_log_setup(LF_LOG_ERROR, LF_LOG_TEXT, "test_keys");
	return sodium_init() < 0 ? -1 : 0;
}

static void
write_file(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Reads a whole (small) file; returns its length. */
static size_t
read_file(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap);
	assert_true(n >= 0);
	close(fd);
	return (size_t)n;
}

/* The file holds exactly len bytes equal to buf. */
static void
expect_file(const char *path, const uint8_t *buf, size_t len)
{
	uint8_t got[256];
	assert_int_equal(read_file(path, got, sizeof(got)), len);
	assert_memory_equal(got, buf, len);
}

/* The test vector as a gateway-rs file. */
static void
vector_file(uint8_t buf[KEYS_FILE_SIZE], uint8_t tag)
{
	buf[0] = tag;
	hex(VECTOR_SEED, buf + 1, 32);
	hex(VECTOR_PUBKEY, buf + 33, 32);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			n++;
		}
	}
	closedir(d);
	return n;
}

static void
prepare(struct fix *f)
{
	assert_int_equal(keys_dir_prepare(f->dir, f->err, sizeof(f->err)), 0);
}

/* ---- tests ---- */

static void
test_vector(void **state)
{
	struct fix *f = *state;
	prepare(f);
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, KEYS_TAG_ED25519_MAINNET);
	write_file(f->path, buf, sizeof(buf), 0600);

	struct gateway_key k;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(k.tag, 0x01);
	assert_memory_equal(k.pk, buf + 33, 32);
	assert_memory_equal(k.sk, buf + 1, 64);
	uint8_t bin[HELIUM_PUBKEY_BIN_LEN];
	keys_public_bin(&k, bin);
	assert_int_equal(bin[0], 0x01);
	assert_memory_equal(bin + 1, buf + 33, 32);
	char addr[HELIUM_ADDRESS_MAX];
	assert_int_equal(keys_address(&k, addr, sizeof(addr)), 0);
	assert_string_equal(addr, VECTOR_ADDRESS);
	assert_int_equal(keys_address(&k, addr, 10), -ENOSPC);

	keys_wipe(&k);
	static const struct gateway_key zero;
	assert_memory_equal(&k, &zero, sizeof(k));
}

static void
test_create_file(void **state)
{
	struct fix *f = *state;
	prepare(f);
	assert_int_equal(file_mode(f->dir), 0700);

	struct gateway_key k;
	assert_int_equal(keys_create(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(k.tag, KEYS_TAG_ED25519_MAINNET);
	/* Exactly one entry, uppercase name, no temp file left. */
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(file_mode(f->path), 0600);
	assert_int_equal(file_mode(f->dir), 0700);
	uint8_t buf[128];
	assert_int_equal(read_file(f->path, buf, sizeof(buf)), 65);
	assert_int_equal(buf[0], 0x01);
	assert_memory_equal(buf + 1, k.sk, 64);
	assert_memory_equal(buf + 33, k.pk, 32);

	struct gateway_key again;
	assert_int_equal(keys_load(f->dir, MAC_A, &again, f->err, sizeof(f->err)), 0);
	assert_memory_equal(&again, &k, sizeof(k));

	char name[KEYS_FILENAME_LEN];
	keys_filename(MAC_A, name);
	assert_string_equal(name, MAC_A_NAME);
}

static void
test_create_again_refused(void **state)
{
	struct fix *f = *state;
	prepare(f);
	struct gateway_key k;
	assert_int_equal(keys_create(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	uint8_t before[128];
	assert_int_equal(read_file(f->path, before, sizeof(before)), 65);

	struct gateway_key other;
	memset(&other, 0xa5, sizeof(other));
	struct gateway_key untouched = other;
	assert_int_equal(keys_create(f->dir, MAC_A, &other, f->err, sizeof(f->err)), -EEXIST);
	assert_string_equal(f->err, "key for AA555A0000000101 exists; remove it first");
	assert_memory_equal(&other, &untouched, sizeof(other));
	expect_file(f->path, before, 65);
	assert_int_equal(count_entries(f->dir), 1);

	bool created = true;
	assert_int_equal(
	        keys_load_or_create(f->dir, MAC_A, &other, &created, f->err, sizeof(f->err)), 0);
	assert_false(created);
	assert_memory_equal(&other, &k, sizeof(k));
}

static void
test_load_missing(void **state)
{
	struct fix *f = *state;
	prepare(f);
	struct gateway_key k;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), -ENOENT);
	char expect[256];
	snprintf(expect, sizeof(expect), "no key for AA555A0000000101 (%s)", f->path);
	assert_string_equal(f->err, expect);

	bool created = false;
	assert_int_equal(keys_load_or_create(f->dir, MAC_A, &k, &created, f->err, sizeof(f->err)),
	                 0);
	assert_true(created);
	assert_int_equal(count_entries(f->dir), 1);
}

/* A corrupt file is an error for load and for load_or_create, and the file
 * is exactly as it was afterwards. */
static void
expect_corrupt(struct fix *f, const uint8_t *buf, size_t len, const char *why)
{
	write_file(f->path, buf, len, 0600);
	struct gateway_key k;
	bool created = true;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), -EBADMSG);
	char expect[512];
	snprintf(expect, sizeof(expect), "%s: corrupt key file: %s", f->path, why);
	assert_string_equal(f->err, expect);
	assert_int_equal(keys_load_or_create(f->dir, MAC_A, &k, &created, f->err, sizeof(f->err)),
	                 -EBADMSG);
	assert_false(created);
	assert_string_equal(f->err, expect);
	struct gateway_key other;
	assert_int_equal(keys_create(f->dir, MAC_A, &other, f->err, sizeof(f->err)), -EEXIST);

	expect_file(f->path, buf, len);
	assert_int_equal(file_mode(f->path), 0600);
	assert_int_equal(count_entries(f->dir), 1);
}

static void
test_corrupt_files(void **state)
{
	struct fix *f = *state;
	prepare(f);
	uint8_t buf[KEYS_FILE_SIZE + 1];
	vector_file(buf, 0x01);
	buf[65] = 0x00;
	expect_corrupt(f, buf, 64, "size 64 bytes, expected 65");
	expect_corrupt(f, buf, 66, "size 66 bytes, expected 65");
	expect_corrupt(f, buf, 0, "size 0 bytes, expected 65");

	buf[0] = 0x02;
	expect_corrupt(f, buf, 65,
	               "tag 0x02 is not ed25519 (expected 0x01 mainnet or 0x11 testnet)");
	buf[0] = 0x00; /* ecc_compact mainnet */
	expect_corrupt(f, buf, 65,
	               "tag 0x00 is not ed25519 (expected 0x01 mainnet or 0x11 testnet)");

	buf[0] = 0x01;
	buf[64] ^= 0x01; /* public key no longer derived from the seed */
	expect_corrupt(f, buf, 65, "public key does not match the seed");
	buf[64] ^= 0x01;
	buf[5] ^= 0x80; /* nor when the seed changed */
	expect_corrupt(f, buf, 65, "public key does not match the seed");
}

static void
test_not_a_regular_file(void **state)
{
	struct fix *f = *state;
	prepare(f);
	struct gateway_key k;
	bool created;
	/* A FIFO must be reported, not block the daemon on open. */
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(keys_load_or_create(f->dir, MAC_A, &k, &created, f->err, sizeof(f->err)),
	                 -EBADMSG);
	assert_non_null(strstr(f->err, "not a regular file"));
	assert_int_equal(unlink(f->path), 0);

	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), -EBADMSG);
	assert_non_null(strstr(f->err, "not a regular file"));
}

static void
test_unreadable_file(void **state)
{
	struct fix *f = *state;
	if (geteuid() == 0) {
		print_message("test_unreadable_file: SKIPPED, running as root (mode 000 does not "
		              "stop root from reading)\n");
		skip();
	}
	prepare(f);
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, 0x01);
	write_file(f->path, buf, sizeof(buf), 0600);
	assert_int_equal(chmod(f->path, 0), 0);

	struct gateway_key k;
	bool created = true;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), -EACCES);
	char expect[512];
	snprintf(expect, sizeof(expect), "%s: cannot open: %s", f->path, strerror(EACCES));
	assert_string_equal(f->err, expect);
	assert_int_equal(keys_load_or_create(f->dir, MAC_A, &k, &created, f->err, sizeof(f->err)),
	                 -EACCES);
	assert_false(created);
	assert_int_equal(file_mode(f->path), 0);
	assert_int_equal(chmod(f->path, 0600), 0);
	expect_file(f->path, buf, 65);
}

static void
test_import_export(void **state)
{
	struct fix *f = *state;
	prepare(f);
	/* A gateway-rs file from outside: the vector, testnet tag kept. */
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, KEYS_TAG_ED25519_TESTNET);
	write_file(f->src, buf, sizeof(buf), 0644);

	assert_int_equal(keys_import(f->dir, MAC_A, f->src, f->err, sizeof(f->err)), 0);
	assert_int_equal(file_mode(f->path), 0600);
	struct gateway_key k;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(k.tag, 0x11);
	assert_string_equal(keys_network_name(k.tag), "testnet");

	assert_int_equal(keys_export(f->dir, MAC_A, f->out, f->err, sizeof(f->err)), 0);
	assert_int_equal(file_mode(f->out), 0600);
	expect_file(f->out, buf, 65);

	/* Never overwrites the target. */
	assert_int_equal(keys_export(f->dir, MAC_A, f->src, f->err, sizeof(f->err)), -EEXIST);
	char expect[512];
	snprintf(expect, sizeof(expect), "%s exists; refusing to overwrite", f->src);
	assert_string_equal(f->err, expect);
	expect_file(f->src, buf, 65);

	/* Round trip through a second MAC. */
	assert_int_equal(keys_import(f->dir, MAC_B, f->out, f->err, sizeof(f->err)), 0);
	struct gateway_key kb;
	assert_int_equal(keys_load(f->dir, MAC_B, &kb, f->err, sizeof(f->err)), 0);
	assert_memory_equal(&kb, &k, sizeof(k));

	/* Exporting a missing key says so. */
	assert_int_equal(keys_export(f->dir, 0x42, f->out, f->err, sizeof(f->err)), -ENOENT);
}

static void
test_import_refused(void **state)
{
	struct fix *f = *state;
	prepare(f);
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, KEYS_TAG_ED25519_MAINNET);
	write_file(f->src, buf, sizeof(buf), 0600);

	struct gateway_key k;
	assert_int_equal(keys_create(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	uint8_t before[128];
	assert_int_equal(read_file(f->path, before, sizeof(before)), 65);
	assert_int_equal(keys_import(f->dir, MAC_A, f->src, f->err, sizeof(f->err)), -EEXIST);
	assert_string_equal(f->err, "key for AA555A0000000101 exists; remove it first");
	expect_file(f->path, before, 65);
	assert_int_equal(count_entries(f->dir), 1);

	/* A bad source file stores nothing. */
	buf[0] = 0x02;
	write_file(f->src, buf, sizeof(buf), 0600);
	assert_int_equal(keys_import(f->dir, MAC_B, f->src, f->err, sizeof(f->err)), -EBADMSG);
	assert_non_null(strstr(f->err, "tag 0x02"));
	write_file(f->src, buf, 64, 0600);
	assert_int_equal(keys_import(f->dir, MAC_B, f->src, f->err, sizeof(f->err)), -EBADMSG);
	assert_non_null(strstr(f->err, "size 64 bytes"));
	assert_int_equal(count_entries(f->dir), 1);
}

static void
test_sign(void **state)
{
	struct fix *f = *state;
	prepare(f);
	struct gateway_key k;
	assert_int_equal(keys_create(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	const uint8_t msg[] = "\x08\x01\x12\x21register";
	uint8_t sig[KEYS_SIG_LEN];
	keys_sign(&k, msg, sizeof(msg), sig);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), k.pk), 0);
	uint8_t bad[sizeof(msg)];
	memcpy(bad, msg, sizeof(msg));
	bad[0] ^= 1;
	assert_int_equal(crypto_sign_verify_detached(sig, bad, sizeof(bad), k.pk), -1);

	/* Session keys: fresh, mainnet, usable, never written anywhere. */
	struct gateway_key s1, s2;
	keys_session_new(&s1);
	keys_session_new(&s2);
	assert_int_equal(s1.tag, 0x01);
	assert_memory_not_equal(s1.pk, s2.pk, 32);
	keys_sign(&s1, msg, sizeof(msg), sig);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), s1.pk), 0);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), k.pk), -1);
	assert_int_equal(count_entries(f->dir), 1);
}

static void
test_dir_prepare(void **state)
{
	struct fix *f = *state;
	/* Missing parents are created 0700 too. */
	char nested[192];
	snprintf(nested, sizeof(nested), "%s/a/b/keys", f->root);
	assert_int_equal(keys_dir_prepare(nested, f->err, sizeof(f->err)), 0);
	snprintf(nested, sizeof(nested), "%s/a", f->root);
	assert_int_equal(file_mode(nested), 0700);
	snprintf(nested, sizeof(nested), "%s/a/b/keys", f->root);
	assert_int_equal(file_mode(nested), 0700);

	/* An existing open directory is tightened. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	prepare(f);
	assert_int_equal(file_mode(f->dir), 0700);

	/* A file in the way is an error, and stays. */
	snprintf(nested, sizeof(nested), "%s/plain", f->root);
	write_file(nested, (const uint8_t *)"x", 1, 0600);
	assert_true(keys_dir_prepare(nested, f->err, sizeof(f->err)) < 0);
	assert_int_equal(file_mode(nested), 0600);
}

static void
test_stale_temp_removed(void **state)
{
	struct fix *f = *state;
	prepare(f);
	char stale[256], fresh[256];
	snprintf(stale, sizeof(stale), "%s/" KEYS_TMP_PREFIX MAC_A_NAME ".999.0badcafe", f->dir);
	snprintf(fresh, sizeof(fresh), "%s/" KEYS_TMP_PREFIX MAC_A_NAME ".998.00c0ffee", f->dir);
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, 0x01);
	write_file(stale, buf, 40, 0600); /* a crash mid-write */
	write_file(fresh, buf, 40, 0600);
	/* Left by a crash ten minutes ago. */
	struct timespec old[2] = {{.tv_sec = time(NULL) - 600}, {.tv_sec = time(NULL) - 600}};
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	write_file(f->path, buf, sizeof(buf), 0600);

	prepare(f);
	assert_int_equal(access(stale, F_OK), -1);
	/* A young one may be another writer's, in progress. */
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(f->path, F_OK), 0);
	assert_int_equal(count_entries(f->dir), 2);
	/* Temps are never listed or loaded as keys. */
	struct gateway_key k;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
}

static int
count_cb(uint64_t eui, void *ctx)
{
	uint64_t *seen = ctx;
	seen[++seen[0]] = eui;
	return 0;
}

static void
test_foreach(void **state)
{
	struct fix *f = *state;
	prepare(f);
	struct gateway_key k;
	assert_int_equal(keys_create(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	assert_int_equal(keys_create(f->dir, MAC_B, &k, f->err, sizeof(f->err)), 0);
	char other[256];
	/* Not key names: lowercase, too short, another suffix, a temp. */
	static const char *const junk[] = {"aa555a0000000102.key", "AA555A00000001.key",
	                                   "AA555A0000000103.bin", KEYS_TMP_PREFIX "x"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(other, sizeof(other), "%s/%s", f->dir, junk[i]);
		write_file(other, (const uint8_t *)"x", 1, 0600);
	}
	uint64_t seen[8] = {0};
	assert_int_equal(keys_foreach(f->dir, count_cb, seen, f->err, sizeof(f->err)), 0);
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], MAC_B);
	assert_int_equal(seen[2], MAC_A);

	snprintf(other, sizeof(other), "%s/missing", f->root);
	assert_int_equal(keys_foreach(other, count_cb, seen, f->err, sizeof(f->err)), -ENOENT);
}

/* What a racing child reports back: its key and whether it made it. */
struct race_result {
	uint8_t pk[32];
	uint8_t created;
	uint8_t ok;
};

static void
race_child(const char *dir, uint64_t eui, int go_fd, int result_fd)
{
	char c;
	/* Wait until the parent releases both children at once. */
	if (read(go_fd, &c, 1) < 0) {
		_exit(3);
	}
	struct gateway_key k;
	bool created = false;
	char err[512];
	struct race_result r = {0};
	r.ok = keys_load_or_create(dir, eui, &k, &created, err, sizeof(err)) == 0;
	if (r.ok) {
		memcpy(r.pk, k.pk, 32);
	}
	r.created = created;
	/* Smaller than PIPE_BUF: one atomic write per child. */
	_exit(write(result_fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 4);
}

static void
test_fork_race(void **state)
{
	struct fix *f = *state;
	prepare(f);
	for (uint64_t round = 0; round < 25; round++) {
		uint64_t eui = MAC_A + round;
		int go[2], res[2];
		assert_int_equal(pipe(go), 0);
		assert_int_equal(pipe(res), 0);
		pid_t pids[2];
		for (int i = 0; i < 2; i++) {
			fflush(NULL);
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				close(go[1]);
				close(res[0]);
				race_child(f->dir, eui, go[0], res[1]);
			}
		}
		close(go[0]);
		close(res[1]);
		close(go[1]); /* EOF releases both */
		struct race_result r[2];
		for (int i = 0; i < 2; i++) {
			int status;
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		for (int i = 0; i < 2; i++) {
			assert_int_equal(read(res[0], &r[i], sizeof(r[i])), (ssize_t)sizeof(r[i]));
		}
		close(res[0]);
		assert_true(r[0].ok && r[1].ok);
		/* One made the key, the other loaded that same key. */
		assert_int_equal(r[0].created + r[1].created, 1);
		assert_memory_equal(r[0].pk, r[1].pk, 32);
		struct gateway_key k;
		assert_int_equal(keys_load(f->dir, eui, &k, f->err, sizeof(f->err)), 0);
		assert_memory_equal(k.pk, r[0].pk, 32);
	}
	/* 25 keys and no temp files. */
	assert_int_equal(count_entries(f->dir), 25);
}

/* ---- the keys subcommand ---- */

struct cli_out {
	int rc;
	char out[4096];
	char err[4096];
};

static void
slurp(int fd, char *buf, size_t cap)
{
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	ssize_t n = read(fd, buf, cap - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Runs keys_cli_main with stdout and stderr redirected to temp files. */
static void
run_cli(struct fix *f, struct cli_out *o, int argc, ...)
{
	char *argv[8];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, char *);
	}
	va_end(ap);
	argv[argc] = NULL;

	int out = open(f->root, O_RDWR | O_TMPFILE, 0600);
	int err = open(f->root, O_RDWR | O_TMPFILE, 0600);
	assert_true(out >= 0 && err >= 0);

	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	dup2(out, 1);
	dup2(err, 2);
	o->rc = keys_cli_main(argc, argv, f->dir);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(out, o->out, sizeof(o->out));
	slurp(err, o->err, sizeof(o->err));
}

static void
test_cli_usage(void **state)
{
	struct fix *f = *state;
	struct cli_out o;
	run_cli(f, &o, 1, "keys");
	assert_int_equal(o.rc, 2);
	assert_string_equal(o.out, "");
	assert_non_null(strstr(o.err, "keys: missing command\nusage: lorafleet-routerlink keys"));

	run_cli(f, &o, 2, "keys", "--help");
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.out, "usage: lorafleet-routerlink keys <command>\n"));
	assert_string_equal(o.err, "");

	run_cli(f, &o, 2, "keys", "frob");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "keys: unknown command: frob\n"));
	run_cli(f, &o, 2, "keys", "show");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "keys: wrong number of arguments for show\n"));
	run_cli(f, &o, 4, "keys", "create", "AA555A0000000101", "extra");
	assert_int_equal(o.rc, 2);
	run_cli(f, &o, 3, "keys", "list", "x");
	assert_int_equal(o.rc, 2);
	run_cli(f, &o, 3, "keys", "show", "AA555A000000010");
	assert_int_equal(o.rc, 2);
	assert_non_null(
	        strstr(o.err, "keys: invalid MAC (16 hex digits expected): AA555A000000010\n"));
	/* Nothing was created by any of this. */
	assert_int_equal(access(f->dir, F_OK), -1);
}

static void
test_cli_create_show(void **state)
{
	struct fix *f = *state;
	struct cli_out o;
	run_cli(f, &o, 3, "keys", "show", "AA555A0000000101");
	assert_int_equal(o.rc, 1);
	assert_string_equal(o.out, "");
	assert_non_null(strstr(o.err, "keys show: no key for AA555A0000000101"));

	run_cli(f, &o, 3, "keys", "create", "aa:55:5a:00:00:00:01:01");
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.err, "created key for AA555A0000000101\n");
	struct gateway_key k;
	assert_int_equal(keys_load(f->dir, MAC_A, &k, f->err, sizeof(f->err)), 0);
	char addr[HELIUM_ADDRESS_MAX], line[128];
	assert_int_equal(keys_address(&k, addr, sizeof(addr)), 0);
	snprintf(line, sizeof(line), "%s\n", addr);
	assert_string_equal(o.out, line);
	assert_int_equal(file_mode(f->dir), 0700);

	uint8_t before[128];
	assert_int_equal(read_file(f->path, before, sizeof(before)), 65);
	run_cli(f, &o, 3, "keys", "create", "aa-55-5a-00-00-00-01-01");
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.err, "existing key for AA555A0000000101\n");
	assert_string_equal(o.out, line);
	expect_file(f->path, before, 65);

	run_cli(f, &o, 3, "keys", "show", "aa555a0000000101");
	assert_int_equal(o.rc, 0);
	char expect[256];
	snprintf(expect, sizeof(expect),
	         "mac:     AA555A0000000101\naddress: %s\nnetwork: mainnet (tag 0x01, ed25519)\n",
	         addr);
	assert_string_equal(o.out, expect);
	assert_string_equal(o.err, "");

	/* A corrupt key: show fails, create refuses to replace it. */
	write_file(f->path, before, 64, 0600);
	run_cli(f, &o, 3, "keys", "show", "AA555A0000000101");
	assert_int_equal(o.rc, 1);
	assert_non_null(strstr(o.err, "corrupt key file: size 64 bytes, expected 65"));
	run_cli(f, &o, 3, "keys", "create", "AA555A0000000101");
	assert_int_equal(o.rc, 1);
	assert_string_equal(o.out, "");
	expect_file(f->path, before, 64);
}

static void
test_cli_list(void **state)
{
	struct fix *f = *state;
	struct cli_out o;
	run_cli(f, &o, 2, "keys", "list");
	assert_int_equal(o.rc, 1); /* no directory yet */
	assert_non_null(strstr(o.err, "cannot list key directory"));

	prepare(f);
	run_cli(f, &o, 2, "keys", "list");
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.out, "");

	struct gateway_key ka, kb;
	assert_int_equal(keys_create(f->dir, MAC_A, &ka, f->err, sizeof(f->err)), 0);
	assert_int_equal(keys_create(f->dir, MAC_B, &kb, f->err, sizeof(f->err)), 0);
	char aa[HELIUM_ADDRESS_MAX], ab[HELIUM_ADDRESS_MAX], expect[512];
	keys_address(&ka, aa, sizeof(aa));
	keys_address(&kb, ab, sizeof(ab));
	snprintf(expect, sizeof(expect),
	         "0011223344556677 %s mainnet\nAA555A0000000101 %s mainnet\n", ab, aa);
	run_cli(f, &o, 2, "keys", "list");
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.out, expect);
	assert_string_equal(o.err, "");

	/* A corrupt one is reported, the others still listed. */
	char bad[192];
	snprintf(bad, sizeof(bad), "%s/FFFFFFFFFFFFFFFF.key", f->dir);
	write_file(bad, (const uint8_t *)"short", 5, 0600);
	run_cli(f, &o, 2, "keys", "list");
	assert_int_equal(o.rc, 1);
	assert_string_equal(o.out, expect);
	char expect_err[512];
	snprintf(expect_err, sizeof(expect_err),
	         "keys list: %s: corrupt key file: size 5 bytes, expected 65\n", bad);
	assert_string_equal(o.err, expect_err);
}

static void
test_cli_import_export(void **state)
{
	struct fix *f = *state;
	struct cli_out o;
	uint8_t buf[KEYS_FILE_SIZE];
	vector_file(buf, KEYS_TAG_ED25519_MAINNET);
	write_file(f->src, buf, sizeof(buf), 0600);

	run_cli(f, &o, 4, "keys", "import", "AA555A0000000101", f->src);
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.out, "mac:     AA555A0000000101\naddress: " VECTOR_ADDRESS
	                           "\nnetwork: mainnet (tag 0x01, ed25519)\n");
	run_cli(f, &o, 4, "keys", "import", "AA555A0000000101", f->src);
	assert_int_equal(o.rc, 1);
	assert_string_equal(o.err,
	                    "keys import: key for AA555A0000000101 exists; remove it first\n");

	run_cli(f, &o, 4, "keys", "export", "AA555A0000000101", f->out);
	assert_int_equal(o.rc, 0);
	char expect[256];
	snprintf(expect, sizeof(expect), "wrote %s\n", f->out);
	assert_string_equal(o.out, expect);
	expect_file(f->out, buf, 65);
	assert_int_equal(file_mode(f->out), 0600);

	run_cli(f, &o, 4, "keys", "export", "AA555A0000000101", f->out);
	assert_int_equal(o.rc, 1);
	snprintf(expect, sizeof(expect), "keys export: %s exists; refusing to overwrite\n", f->out);
	assert_string_equal(o.err, expect);
	run_cli(f, &o, 4, "keys", "export", "0011223344556677", f->src);
	assert_int_equal(o.rc, 1);
	assert_non_null(strstr(o.err, "no key for 0011223344556677"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_vector, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_create_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_create_again_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unreadable_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_import_export, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_import_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sign, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dir_prepare, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_temp_removed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fork_race, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cli_usage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cli_create_show, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cli_list, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cli_import_export, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
