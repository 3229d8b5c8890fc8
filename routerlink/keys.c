#include "keys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lf/eui.h"
#include "lf/log.h"
#include "lf/util.h"

#define SEED_LEN 32
#define PK_LEN   32

/* A temporary file lives for one write and one fsync. One older than this
 * was left by a crash; a younger one may belong to another process (or
 * another host sharing the directory) that is writing it right now. */
#define TMP_STALE_SECONDS 60

/* A failure's code, negative even if errno was somehow 0: a key that was not
 * read or written must never look like success to the caller. */
static int
failure_code(int rc)
{
	return rc < 0 ? rc : -EIO;
}

/* Formats the reason into err and is the (negative) code. A macro, so that
 * the static analyzer sees the code at every caller (it does not follow
 * calls into variadic functions). */
#define key_err(rc, err, errlen, ...)                                                              \
	(lf_format_err((err), (errlen), __VA_ARGS__), failure_code(rc))

void
keys_filename(uint64_t eui, char out[KEYS_FILENAME_LEN])
{
	snprintf(out, KEYS_FILENAME_LEN, "%016" PRIX64 ".key", eui);
}

const char *
keys_network_name(uint8_t tag)
{
	switch (tag) {
	case KEYS_TAG_ED25519_MAINNET:
		return "mainnet";
	case KEYS_TAG_ED25519_TESTNET:
		return "testnet";
	default:
		return "unknown";
	}
}

static int
key_path(const char *dir, uint64_t eui, char *path, size_t len, char *err, size_t errlen)
{
	char name[KEYS_FILENAME_LEN];
	keys_filename(eui, name);
	int n = snprintf(path, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		return key_err(-ENAMETOOLONG, err, errlen, "key directory path too long: %s", dir);
	}
	return 0;
}

/* Checks the 65 bytes of a gateway-rs file: a known tag, and a public key
 * that is the one the seed derives (gateway-rs trusts the stored copy, so an
 * inconsistent file would sign with one key and claim another). */
static int
parse_key_bytes(const uint8_t buf[KEYS_FILE_SIZE], const char *path, struct gateway_key *out,
                char *err, size_t errlen)
{
	if (buf[0] != KEYS_TAG_ED25519_MAINNET && buf[0] != KEYS_TAG_ED25519_TESTNET) {
		return key_err(-EBADMSG, err, errlen,
		               "%s: corrupt key file: tag 0x%02x is not ed25519 "
		               "(expected 0x01 mainnet or 0x11 testnet)",
		               path, buf[0]);
	}
	struct gateway_key k;
	crypto_sign_seed_keypair(k.pk, k.sk, buf + 1);
	if (memcmp(k.pk, buf + 1 + SEED_LEN, PK_LEN) != 0) {
		keys_wipe(&k);
		return key_err(-EBADMSG, err, errlen,
		               "%s: corrupt key file: public key does not match the seed", path);
	}
	k.tag = buf[0];
	*out = k;
	keys_wipe(&k);
	return 0;
}

static ssize_t
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -1;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Reads and validates a key file without ever writing to it. O_NONBLOCK so
 * that a FIFO in its place is reported instead of hanging the daemon. */
static int
read_key_file(const char *path, struct gateway_key *out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return key_err(-e, err, errlen, "%s: cannot open: %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return key_err(-e, err, errlen, "%s: cannot stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return key_err(-EBADMSG, err, errlen, "%s: corrupt key file: not a regular file",
		               path);
	}
	if (st.st_size != KEYS_FILE_SIZE) {
		close(fd);
		return key_err(-EBADMSG, err, errlen,
		               "%s: corrupt key file: size %jd bytes, expected %d", path,
		               (intmax_t)st.st_size, KEYS_FILE_SIZE);
	}
	/* One byte more than expected, to see a file that grew after fstat. */
	uint8_t buf[KEYS_FILE_SIZE + 1];
	ssize_t n = read_full(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	int rc;
	if (n < 0) {
		rc = key_err(-e, err, errlen, "%s: cannot read: %s", path, strerror(e));
	} else if (n != KEYS_FILE_SIZE) {
		rc = key_err(-EBADMSG, err, errlen,
		             "%s: corrupt key file: read %zd bytes, expected %d (changed while "
		             "reading?)",
		             path, n, KEYS_FILE_SIZE);
	} else {
		rc = parse_key_bytes(buf, path, out, err, errlen);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
keys_load(const char *dir, uint64_t eui, struct gateway_key *out, char *err, size_t errlen)
{
	char path[4096];
	int rc = key_path(dir, eui, path, sizeof(path), err, errlen);
	if (rc != 0) {
		return rc;
	}
	rc = read_key_file(path, out, err, errlen);
	if (rc == -ENOENT) {
		return key_err(-ENOENT, err, errlen, "no key for %016" PRIX64 " (%s)", eui, path);
	}
	return rc;
}

static int
write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Creates path (relative to dirfd) with O_EXCL, mode 0600, and makes the
 * bytes durable. On failure the half-written file is removed: it is ours. */
static int
write_new_file(int dirfd, const char *name, const uint8_t *buf, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		return -errno;
	}
	/* The umask may only remove bits, but a secret must not keep any. */
	int rc = fchmod(fd, 0600) != 0 ? -errno : 0;
	if (rc == 0) {
		rc = write_full(fd, buf, len);
	}
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	if (rc != 0) {
		unlinkat(dirfd, name, 0);
	}
	return rc;
}

/* Puts tmp in place as name unless name exists. link(2) never replaces;
 * renameat2(RENAME_NOREPLACE) is the fallback for file systems without
 * hard links. */
static int
link_noreplace(int dirfd, const char *tmp, const char *name)
{
	if (linkat(dirfd, tmp, dirfd, name, 0) == 0) {
		return 0;
	}
	int e = errno;
	if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != EMLINK && e != ENOSYS) {
		return -e;
	}
	return renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0 ? 0 : -errno;
}

/* Stores the 65 bytes as <dir>/<MAC>.key without ever replacing a file. */
static int
store_key_bytes(const char *dir, uint64_t eui, const uint8_t buf[KEYS_FILE_SIZE], char *err,
                size_t errlen)
{
	/* The temp name needs randomness (keys_import comes here without
	 * keys_create's init); sodium_init() is idempotent and thread-safe. */
	if (sodium_init() < 0) {
		return key_err(-EIO, err, errlen, "libsodium failed to initialise");
	}
	char name[KEYS_FILENAME_LEN];
	keys_filename(eui, name);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		int e = errno;
		return key_err(-e, err, errlen, "%s: cannot open key directory: %s", dir,
		               strerror(e));
	}
	/* Unique per process and per call, so that concurrent writers (threads,
	 * processes, hosts sharing the directory) never share a temp file. */
	char tmp[96];
	snprintf(tmp, sizeof(tmp), KEYS_TMP_PREFIX "%s.%ld.%08" PRIx32, name, (long)getpid(),
	         randombytes_random());
	int rc = write_new_file(dirfd, tmp, buf, KEYS_FILE_SIZE);
	if (rc != 0) {
		close(dirfd);
		/* Named by the key it was for: the temporary name is random, and
		 * a retry that fails alike should read alike. */
		return key_err(rc, err, errlen, "%s/%s: cannot write: %s", dir, name,
		               strerror(-rc));
	}
	rc = link_noreplace(dirfd, tmp, name);
	/* After a link the temp is a second name of the key; after a rename
	 * it is gone. Either way it goes, and a failure only leaves a stale
	 * temp for keys_dir_prepare(). */
	unlinkat(dirfd, tmp, 0);
	if (rc != 0) {
		close(dirfd);
		if (rc == -EEXIST) {
			return key_err(rc, err, errlen,
			               "key for %016" PRIX64 " exists; remove it first", eui);
		}
		return key_err(rc, err, errlen, "%s/%s: cannot link into place: %s", dir, name,
		               strerror(-rc));
	}
	/* Without this the new name may not survive a power cut. */
	rc = fsync(dirfd) != 0 ? -errno : 0;
	close(dirfd);
	if (rc != 0) {
		return key_err(rc, err, errlen, "%s: cannot fsync key directory: %s", dir,
		               strerror(-rc));
	}
	return 0;
}

int
keys_create(const char *dir, uint64_t eui, struct gateway_key *out, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		return key_err(-EIO, err, errlen, "libsodium failed to initialise");
	}
	struct gateway_key k = {.tag = KEYS_TAG_ED25519_MAINNET};
	crypto_sign_keypair(k.pk, k.sk);
	uint8_t buf[KEYS_FILE_SIZE];
	buf[0] = k.tag;
	memcpy(buf + 1, k.sk, sizeof(k.sk)); /* seed || public: the gateway-rs layout */
	int rc = store_key_bytes(dir, eui, buf, err, errlen);
	sodium_memzero(buf, sizeof(buf));
	if (rc == 0) {
		*out = k;
	}
	keys_wipe(&k);
	return rc;
}

int
keys_load_or_create(const char *dir, uint64_t eui, struct gateway_key *out, bool *created,
                    char *err, size_t errlen)
{
	*created = false;
	int rc = keys_load(dir, eui, out, err, errlen);
	if (rc != -ENOENT) {
		return rc;
	}
	rc = keys_create(dir, eui, out, err, errlen);
	if (rc == 0) {
		*created = true;
		return 0;
	}
	if (rc == -EEXIST) {
		/* Another process won the race; its key is complete once linked. */
		return keys_load(dir, eui, out, err, errlen);
	}
	return rc;
}

int
keys_import(const char *dir, uint64_t eui, const char *gateway_rs_file, char *err, size_t errlen)
{
	struct gateway_key k;
	int rc = read_key_file(gateway_rs_file, &k, err, errlen);
	if (rc != 0) {
		return rc;
	}
	uint8_t buf[KEYS_FILE_SIZE];
	buf[0] = k.tag;
	memcpy(buf + 1, k.sk, sizeof(k.sk));
	keys_wipe(&k);
	/* store_key_bytes() refuses an existing key itself, atomically. */
	rc = store_key_bytes(dir, eui, buf, err, errlen);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* Best effort: makes a new file's name durable. */
static void
fsync_parent(const char *path)
{
	char copy[4096];
	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		return;
	}
	char *slash = strrchr(copy, '/');
	const char *parent = ".";
	if (slash == copy) {
		parent = "/";
	} else if (slash != NULL) {
		*slash = '\0';
		parent = copy;
	}
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
keys_export(const char *dir, uint64_t eui, const char *out_path, char *err, size_t errlen)
{
	struct gateway_key k;
	int rc = keys_load(dir, eui, &k, err, errlen);
	if (rc != 0) {
		return rc;
	}
	uint8_t buf[KEYS_FILE_SIZE];
	buf[0] = k.tag;
	memcpy(buf + 1, k.sk, sizeof(k.sk));
	keys_wipe(&k);
	rc = write_new_file(AT_FDCWD, out_path, buf, sizeof(buf));
	sodium_memzero(buf, sizeof(buf));
	if (rc == -EEXIST) {
		return key_err(rc, err, errlen, "%s exists; refusing to overwrite", out_path);
	}
	if (rc != 0) {
		return key_err(rc, err, errlen, "%s: cannot write: %s", out_path, strerror(-rc));
	}
	fsync_parent(out_path);
	return 0;
}

/* mkdir -p, each created level 0700: parents may hold nothing but keys. */
static int
mkdir_parents(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		return key_err(-EINVAL, err, errlen, "invalid key directory path \"%s\"", dir);
	}
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0') {
			continue;
		}
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			return key_err(-e, err, errlen, "%s: cannot create directory: %s", path,
			               strerror(e));
		}
		*p = c;
		if (c == '\0') {
			return 0;
		}
	}
}

/* Removes temp files older than TMP_STALE_SECONDS; younger ones may still
 * be in use by a writer elsewhere. */
static void
remove_stale_temps(int dirfd, const char *dir)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0) {
			close(fd);
		}
		LOG_WARN("%s: cannot list for stale temporary files: %s", dir, strerror(errno));
		return;
	}
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(de->d_name, KEYS_TMP_PREFIX, strlen(KEYS_TMP_PREFIX)) != 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < TMP_STALE_SECONDS) {
			continue;
		}
		if (unlinkat(dirfd, de->d_name, 0) == 0) {
			LOG_WARN("%s/%s: removed a temporary key file left by an interrupted write",
			         dir, de->d_name);
		}
	}
	closedir(d);
}

int
keys_dir_prepare(const char *dir, char *err, size_t errlen)
{
	int rc = mkdir_parents(dir, err, errlen);
	if (rc != 0) {
		return rc;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
		}
		return key_err(-e, err, errlen, "%s: cannot open key directory: %s", dir,
		               strerror(e));
	}
	if ((st.st_mode & 077) != 0) {
		/* Anyone who can read the directory can take every Hotspot. */
		if (fchmod(fd, 0700) != 0) {
			int e = errno;
			close(fd);
			return key_err(
			        -e, err, errlen,
			        "%s: key directory has mode %04o and cannot be made 0700: %s", dir,
			        (unsigned)(st.st_mode & 07777), strerror(e));
		}
		LOG_WARN("%s: key directory had mode %04o; changed it to 0700", dir,
		         (unsigned)(st.st_mode & 07777));
	}
	remove_stale_temps(fd, dir);
	close(fd);
	return 0;
}

/* True for "<16 uppercase hex>.key", the only names keys_load() looks for. */
static bool
key_name_eui(const char *name, uint64_t *eui)
{
	if (strlen(name) != KEYS_FILENAME_LEN - 1 || strcmp(name + 16, ".key") != 0) {
		return false;
	}
	char hex[17];
	for (int i = 0; i < 16; i++) {
		if (!isdigit((unsigned char)name[i]) && !(name[i] >= 'A' && name[i] <= 'F')) {
			return false;
		}
		hex[i] = name[i];
	}
	hex[16] = '\0';
	return lf_eui_parse(hex, eui) == 0;
}

static int
cmp_eui(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int
keys_foreach(const char *dir, int (*fn)(uint64_t eui, void *ctx), void *ctx, char *err,
             size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		int e = errno;
		return key_err(-e, err, errlen, "%s: cannot list key directory: %s", dir,
		               strerror(e));
	}
	uint64_t *euis = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint64_t eui;
		if (!key_name_eui(de->d_name, &eui)) {
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint64_t *p = realloc(euis, ncap * sizeof(*p));
			if (p == NULL) {
				free(euis);
				closedir(d);
				return key_err(-ENOMEM, err, errlen, "out of memory listing %s",
				               dir);
			}
			euis = p;
			cap = ncap;
		}
		euis[n++] = eui;
	}
	closedir(d);
	if (n > 0) {
		qsort(euis, n, sizeof(*euis), cmp_eui);
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = fn(euis[i], ctx);
	}
	free(euis);
	return rc;
}

void
keys_public_bin(const struct gateway_key *k, uint8_t out[HELIUM_PUBKEY_BIN_LEN])
{
	out[0] = k->tag;
	memcpy(out + 1, k->pk, PK_LEN);
}

int
keys_address(const struct gateway_key *k, char *out, size_t outlen)
{
	uint8_t bin[HELIUM_PUBKEY_BIN_LEN];
	keys_public_bin(k, bin);
	return helium_address(bin, out, outlen);
}

void
keys_sign(const struct gateway_key *k, const uint8_t *msg, size_t len, uint8_t sig[KEYS_SIG_LEN])
{
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
}

void
keys_session_new(struct gateway_key *out)
{
	/* sodium_init() fails only without a random source, and then no key
	 * may be made at all. */
	if (sodium_init() < 0) {
		abort();
	}
	out->tag = KEYS_TAG_ED25519_MAINNET;
	crypto_sign_keypair(out->pk, out->sk);
}

void
keys_wipe(struct gateway_key *k)
{
	sodium_memzero(k, sizeof(*k));
}
