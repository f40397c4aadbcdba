/*
 * test_blobstore.c - the blob store (storage/blobstore.h) and its
 * filesystem backend (storage/blobstore_fs.c).
 *
 * Two test cases. "shared": the contract of blobstore.h, through the
 * interface alone, run once per entry of `backends` (a loop test: _i is the
 * entry), so a second backend is one more line there. "filesystem": what
 * only the filesystem backend promises (its layout on disk, symlinks, crash
 * leftovers, full disks). Every test gets a fresh store in its own mkdtemp
 * folder (a checked fixture, so it is removed even when an assertion
 * fails) and asserts exact status codes. Full-disk behaviour is tested on a
 * tiny tmpfs when we may mount one, and skipped otherwise; poisoning after
 * a write error is also tested with RLIMIT_FSIZE, which needs no privilege.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../storage/blobstore.h"
#include "skip.h"

static char dir[64];
static blobstore *bs;

/* The backends the shared tests run against. A backend that keeps nothing
 * in a local folder will add how to reach a scratch location of its own. */
static const struct {
	const char *name;
} backends[] = {
    {"filesystem"},
};
#define NBACKENDS ((int)(sizeof(backends) / sizeof(backends[0])))

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* rm -rf path */
static void tree_remove(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* File descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* The shared tests' fixture: a folder; each test then calls store_open. */
static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-blobstore-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* A shared test's first step: a fresh store of backends[i]. */
static void store_open(int i)
{
	ck_assert_int_eq(blobstore_open_backend(&bs, backends[i].name, dir), ST_OK);
}

/* The filesystem tests' fixture: a filesystem store in the folder. */
static void setup_fs(void)
{
	setup_dir();
	ck_assert_int_eq(blobstore_open(&bs, dir), ST_OK);
}

static void teardown(void)
{
	char mnt[96];

	blobstore_close(bs);
	bs = NULL;
	/* test_no_space's tmpfs, should it have failed before unmounting. */
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	umount2(mnt, MNT_DETACH);
	tree_remove(dir);
}

/* dir/rel exists? */
static int exists(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

/* Number of entries in dir/uploads, or -1 (the filesystem's own view). */
static int upload_files(void)
{
	char p[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/uploads", dir);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void digest_of(char out[DIGEST_MAX], digest_alg alg, const void *buf, size_t len)
{
	ck_assert_int_eq(digest_buffer(out, alg, buf, len), ST_OK);
}

/* ---- the store's view, through the interface ---- */

typedef struct {
	const char *want; /* NULL: count them all */
	int n;
} upload_count;

static void count_upload(void *arg, const char *id)
{
	upload_count *c = arg;

	if (c->want == NULL || strcmp(c->want, id) == 0)
		c->n++;
}

/* Uploads the store lists (blobstore_put's temporary ones included). */
static int uploads_count(void)
{
	upload_count c = {NULL, 0};

	ck_assert_int_eq(blobstore_upload_list_stale(bs, time(NULL) + 3600, count_upload, &c),
			 ST_OK);
	return c.n;
}

/* Is upload id stored? */
static bool upload_exists(const char *id)
{
	upload_count c = {id, 0};

	ck_assert_int_eq(blobstore_upload_list_stale(bs, time(NULL) + 3600, count_upload, &c),
			 ST_OK);
	return c.n > 0;
}

/* Reads all of rd from offset 0, in pieces of `piece` bytes, into a new
 * buffer (caller frees) of *out_len bytes. */
static char *read_all(blob_reader *rd, size_t piece, size_t *out_len)
{
	size_t cap = 1024, len = 0, n;
	char *buf = malloc(cap);

	for (;;) {
		if (cap - len < piece)
			buf = realloc(buf, cap = 2 * cap + piece);
		ck_assert_int_eq(blob_reader_read(rd, len, buf + len, piece, &n), ST_OK);
		if (n == 0)
			break;
		len += n;
	}
	*out_len = len;
	return buf;
}

/* Bytes stored for upload id, read back through its reader. */
static long long upload_stored(const char *id)
{
	blob_reader *rd = NULL;
	size_t len;
	char *buf;

	ck_assert_int_eq(blobstore_upload_open_read(bs, id, &rd), ST_OK);
	buf = read_all(rd, 65536, &len);
	blob_reader_close(rd);
	free(buf);
	return (long long)len;
}

/* Reads a whole stored blob and checks it equals want[len]. */
static void assert_blob(const char *digest, const void *want, size_t len)
{
	blob_reader *rd = NULL;
	size_t got_len;
	char *got;

	ck_assert_int_eq(blobstore_read_open(bs, digest, &rd), ST_OK);
	ck_assert_uint_eq(blob_reader_size(rd), len);
	got = read_all(rd, 100000, &got_len);
	ck_assert_uint_eq(got_len, len);
	ck_assert(memcmp(got, want, len) == 0);
	blob_reader_close(rd);
	free(got);
}

/* A buffer of n pseudo-random bytes (caller frees). */
static char *noise(size_t n)
{
	char *b = malloc(n);
	unsigned x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
	return b;
}

START_TEST(test_commit_right_digest)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	uint64_t size = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "hello world", 11);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert(upload_exists("u1"));
	ck_assert_int_eq(blob_upload_alg(up), DIGEST_SHA256);
	ck_assert_int_eq(blob_upload_write(up, "hello ", 6), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "", 0), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "world", 5), ST_OK);
	ck_assert_uint_eq(blob_upload_size(up), 11);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, &size), ST_OK);
	ck_assert_uint_eq(size, 11);
	ck_assert(!upload_exists("u1"));
	ck_assert_int_eq(blobstore_stat(bs, d, &size), ST_OK);
	ck_assert_uint_eq(size, 11);
	assert_blob(d, "hello world", 11);
	/* Done with: further use is misuse, and says so. */
	ck_assert_int_eq(blob_upload_write(up, "x", 1), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_INVALID);
	blob_upload_free(up);
}
END_TEST

START_TEST(test_commit_existing_blob)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	uint64_t size = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "same", 4);
	ck_assert_int_eq(blobstore_put(bs, d, "same", 4), ST_OK);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "same", 4), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, &size), ST_OK);
	ck_assert_uint_eq(size, 4);
	ck_assert(!upload_exists("u1"));
	assert_blob(d, "same", 4);
	blob_upload_free(up);
}
END_TEST

START_TEST(test_commit_wrong_digest)
{
	blob_upload *up = NULL;
	char right[DIGEST_MAX], wrong[DIGEST_MAX];

	store_open(_i);
	digest_of(right, DIGEST_SHA256, "abc", 3);
	digest_of(wrong, DIGEST_SHA256, "abd", 3);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "abc", 3), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, wrong, NULL), ST_DIGEST_MISMATCH);
	ck_assert(!upload_exists("u1"));
	ck_assert_int_eq(blobstore_stat(bs, wrong, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_stat(bs, right, NULL), ST_NOT_FOUND);
	/* Poisoned: the hash is spent and the file gone. */
	ck_assert_int_eq(blob_upload_write(up, "x", 1), ST_DIGEST_MISMATCH);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, right, NULL), ST_DIGEST_MISMATCH);
	blob_upload_free(up);
	ck_assert_int_eq(uploads_count(), 0);
}
END_TEST

START_TEST(test_commit_malformed_digest_keeps_upload)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "abcdef", 6);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "abc", 3), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, "sha256:zz", NULL), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, "../../x", NULL), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, NULL, NULL), ST_INVALID);
	ck_assert(upload_exists("u1"));
	ck_assert_int_eq(blob_upload_write(up, "def", 3), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
	assert_blob(d, "abcdef", 6);
}
END_TEST

START_TEST(test_sha512)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	uint64_t size = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA512, "five!", 5);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u512", DIGEST_SHA512, &up), ST_OK);
	ck_assert_int_eq(blob_upload_alg(up), DIGEST_SHA512);
	ck_assert_int_eq(blob_upload_write(up, "five!", 5), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, &size), ST_OK);
	ck_assert_uint_eq(size, 5);
	blob_upload_free(up);
	assert_blob(d, "five!", 5);
}
END_TEST

/* The expected digest uses another algorithm: commit re-reads the file,
 * in chunks, across several buffer lengths. */
START_TEST(test_commit_other_algorithm)
{
	const size_t n = 200 * 1024 + 7;
	char *data = noise(n);
	blob_upload *up = NULL;
	char d512[DIGEST_MAX], wrong[DIGEST_MAX];

	store_open(_i);
	digest_of(d512, DIGEST_SHA512, data, n);
	digest_of(wrong, DIGEST_SHA512, data, n - 1);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	for (size_t off = 0; off < n; off += 4096)
		ck_assert_int_eq(blob_upload_write(up, data + off, n - off < 4096 ? n - off : 4096),
				 ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d512, NULL), ST_OK);
	blob_upload_free(up);
	assert_blob(d512, data, n);

	ck_assert_int_eq(blobstore_upload_begin(bs, "u2", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, data, n), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, wrong, NULL), ST_DIGEST_MISMATCH);
	ck_assert(!upload_exists("u2"));
	blob_upload_free(up);
	free(data);
}
END_TEST

START_TEST(test_empty_blob)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	uint64_t size = 99;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "", 0);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, &size), ST_OK);
	ck_assert_uint_eq(size, 0);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_stat(bs, d, &size), ST_OK);
	ck_assert_uint_eq(size, 0);
}
END_TEST

/* A restart loses the in-memory hash: resume re-hashes what is on disk
 * (more than one read buffer of it) and the upload carries on. */
START_TEST(test_resume_after_free)
{
	const size_t n = 150 * 1024 + 3, cut = 70 * 1024 + 1;
	char *data = noise(n);
	blob_upload *up = NULL;
	char d[DIGEST_MAX];

	store_open(_i);
	digest_of(d, DIGEST_SHA256, data, n);
	ck_assert_int_eq(blobstore_upload_begin(bs, "resume-me", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, data, cut), ST_OK);
	blob_upload_free(up);
	up = NULL;
	ck_assert(upload_exists("resume-me"));

	ck_assert_int_eq(blobstore_upload_resume(bs, "resume-me", DIGEST_SHA256, &up), ST_OK);
	ck_assert_uint_eq(blob_upload_size(up), cut);
	ck_assert_int_eq(blob_upload_write(up, data + cut, n - cut), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
	assert_blob(d, data, n);

	up = (blob_upload *)1;
	ck_assert_int_eq(blobstore_upload_resume(bs, "resume-me", DIGEST_SHA256, &up),
			 ST_NOT_FOUND);
	ck_assert_ptr_null(up);
	ck_assert_int_eq(blobstore_upload_resume(bs, "never", DIGEST_SHA512, &up), ST_NOT_FOUND);
	free(data);
}
END_TEST

START_TEST(test_park)
{
	const size_t n = 3 * 1024 * 1024 + 5, cut = 2 * 1024 * 1024 + 1;
	char *data = noise(n), d[DIGEST_MAX];
	blob_upload *up = NULL;
	int before;

	store_open(_i);
	before = open_fds();
	digest_of(d, DIGEST_SHA256, data, n);
	/* parked between writes (staged and not), then committed */
	ck_assert_int_eq(blobstore_upload_begin(bs, "park-me", DIGEST_SHA256, &up), ST_OK);
	blob_upload_stage(up);
	ck_assert_int_eq(blob_upload_write(up, data, cut), ST_OK);
	blob_upload_park(up);
	ck_assert_int_eq(open_fds(), before); /* no fd while parked */
	ck_assert_int_eq(blob_upload_write(up, data + cut, 7), ST_OK);
	blob_upload_park(up);
	blob_upload_park(up); /* twice is fine */
	ck_assert_int_eq(blob_upload_write(up, data + cut + 7, n - cut - 7), ST_OK);
	blob_upload_park(up);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
	assert_blob(d, data, n);
	free(data);
}
END_TEST

START_TEST(test_resume_other_algorithm)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX];

	store_open(_i);
	digest_of(d, DIGEST_SHA512, "abcdef", 6);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "abc", 3), ST_OK);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_resume(bs, "u1", DIGEST_SHA512, &up), ST_OK);
	ck_assert_int_eq(blob_upload_alg(up), DIGEST_SHA512);
	ck_assert_int_eq(blob_upload_write(up, "def", 3), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
}
END_TEST

START_TEST(test_put_idempotent)
{
	static const char man[] = "{\"schemaVersion\":2}";
	char d[DIGEST_MAX], other[DIGEST_MAX];
	uint64_t size = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, man, strlen(man));
	digest_of(other, DIGEST_SHA256, "other", 5);
	ck_assert_int_eq(blobstore_put(bs, d, man, strlen(man)), ST_OK);
	ck_assert_int_eq(blobstore_put(bs, d, man, strlen(man)), ST_OK);
	ck_assert_int_eq(blobstore_stat(bs, d, &size), ST_OK);
	ck_assert_uint_eq(size, strlen(man));
	assert_blob(d, man, strlen(man));
	/* Bytes that are not the digest's are refused, whatever is stored. */
	ck_assert_int_eq(blobstore_put(bs, d, "tampered", 8), ST_DIGEST_MISMATCH);
	ck_assert_int_eq(blobstore_put(bs, other, man, strlen(man)), ST_DIGEST_MISMATCH);
	ck_assert_int_eq(blobstore_stat(bs, other, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_put(bs, "sha256:nope", man, strlen(man)), ST_INVALID);
	/* No temporary file is left behind. */
	ck_assert_int_eq(uploads_count(), 0);
}
END_TEST

START_TEST(test_missing)
{
	char d[DIGEST_MAX];
	uint64_t size = 77;
	blob_reader *rd = (blob_reader *)1;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "absent", 6);
	ck_assert_int_eq(blobstore_stat(bs, d, &size), ST_NOT_FOUND);
	ck_assert_uint_eq(size, 77);
	ck_assert_int_eq(blobstore_read_open(bs, d, &rd), ST_NOT_FOUND);
	ck_assert_ptr_null(rd);
	ck_assert_int_eq(blobstore_delete(bs, d), ST_NOT_FOUND);
	digest_of(d, DIGEST_SHA512, "absent", 6);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
}
END_TEST

START_TEST(test_delete)
{
	char d[DIGEST_MAX];

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "gone", 4);
	ck_assert_int_eq(blobstore_put(bs, d, "gone", 4), ST_OK);
	ck_assert_int_eq(blobstore_delete(bs, d), ST_OK);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_delete(bs, d), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_delete(bs, "sha256:../../x"), ST_INVALID);
}
END_TEST

/* Retired: out of reach at once, readers already open go on; storing it
 * again brings it back; purge is idempotent. */
START_TEST(test_retire)
{
	blob_reader *rd = NULL;
	char d[DIGEST_MAX], buf[8];
	size_t n = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "retired", 7);
	ck_assert_int_eq(blobstore_put(bs, d, "retired", 7), ST_OK);
	ck_assert_int_eq(blobstore_read_open(bs, d, &rd), ST_OK);
	ck_assert_int_eq(blobstore_retire(bs, d), ST_OK);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_retire(bs, d), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_retire(bs, "sha256:../../x"), ST_INVALID);
	ck_assert_int_eq(blobstore_put(bs, d, "retired", 7), ST_OK);
	ck_assert_int_eq(blobstore_retire(bs, d), ST_OK); /* replaces the first */
	ck_assert_int_eq(blobstore_purge(bs), ST_OK);
	ck_assert_int_eq(blobstore_purge(bs), ST_OK);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
	/* may fail on other backends (blobstore_read_open says) */
	if (strcmp(backends[_i].name, "filesystem") == 0) {
		ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_OK);
		ck_assert_uint_eq(n, 7);
		ck_assert(memcmp(buf, "retired", 7) == 0);
	}
	blob_reader_close(rd);
}
END_TEST

START_TEST(test_invalid_digests)
{
	static const char *const bad[] = {
	    "",
	    "../x",
	    "sha256",
	    "sha256:",
	    "sha256:../../../etc/passwd",
	    "sha256:/etc/passwd",
	    /* 63 hex, 65 hex, uppercase */
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    /* well-formed, but an algorithm we do not compute */
	    "sha384:"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaa",
	    "md5:../..",
	};
	uint64_t size;
	blob_reader *rd = (blob_reader *)1;

	store_open(_i);
	ck_assert_int_eq(blobstore_stat(bs, NULL, NULL), ST_INVALID);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(blobstore_stat(bs, bad[i], &size) == ST_INVALID, "%s", bad[i]);
		ck_assert_msg(blobstore_read_open(bs, bad[i], &rd) == ST_INVALID, "%s", bad[i]);
		ck_assert_ptr_null(rd);
		ck_assert_msg(blobstore_delete(bs, bad[i]) == ST_INVALID, "%s", bad[i]);
		ck_assert_msg(blobstore_put(bs, bad[i], "x", 1) == ST_INVALID, "%s", bad[i]);
	}
}
END_TEST

START_TEST(test_invalid_ids)
{
	static const char *const bad[] = {
	    "",
	    "../x",
	    "..",
	    ".",
	    "a/b",
	    "/etc/passwd",
	    "a b",
	    "a.b",
	    "x\n",
	    "put-abc",
	    "put-",
	    "caf\xc3\xa9",
	    /* 65 characters */
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char max_id[] =
	    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-9";
	blob_upload *up = (blob_upload *)1;

	store_open(_i);
	ck_assert_int_eq(blobstore_upload_begin(bs, NULL, DIGEST_SHA256, &up), ST_INVALID);
	ck_assert_ptr_null(up);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(blobstore_upload_begin(bs, bad[i], DIGEST_SHA256, &up) == ST_INVALID,
			      "begin %s", bad[i]);
		ck_assert_msg(blobstore_upload_resume(bs, bad[i], DIGEST_SHA256, &up) == ST_INVALID,
			      "resume %s", bad[i]);
	}
	ck_assert_int_eq(blobstore_upload_remove(bs, "../x"), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_remove(bs, "a/b"), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_begin(bs, "ok", (digest_alg)7, &up), ST_INVALID);
	ck_assert_int_eq(uploads_count(), 0);

	ck_assert_uint_eq(strlen(max_id), BLOBSTORE_ID_MAX);
	ck_assert_int_eq(blobstore_upload_begin(bs, max_id, DIGEST_SHA256, &up), ST_OK);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_begin(bs, max_id, DIGEST_SHA256, &up), ST_EXISTS);
	ck_assert_ptr_null(up);
	ck_assert_int_eq(blobstore_upload_remove(bs, max_id), ST_OK);
	ck_assert_int_eq(blobstore_upload_remove(bs, max_id), ST_NOT_FOUND);
}
END_TEST

/* A planted symlink in uploads/ is not followed. */
START_TEST(test_symlink_not_followed)
{
	char p[512];
	blob_upload *up = NULL;

	snprintf(p, sizeof(p), "%s/uploads/evil", dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	ck_assert_int_eq(blobstore_upload_resume(bs, "evil", DIGEST_SHA256, &up), ST_NOT_FOUND);
	ck_assert_int_ne(blobstore_upload_begin(bs, "evil", DIGEST_SHA256, &up), ST_OK);
	ck_assert_ptr_null(up);
}
END_TEST

/* Poisoning without privileges: RLIMIT_FSIZE makes the write fail with
 * EFBIG part-way through. */
START_TEST(test_poisoned_by_write_error)
{
	struct rlimit old, lim;
	void (*old_handler)(int);
	char *data = noise(16384);
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	status_t st;

	digest_of(d, DIGEST_SHA256, "", 0);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 8192;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	st = blob_upload_write(up, data, 16384);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);

	ck_assert_int_eq(st, ST_IO);
	ck_assert_uint_eq(blob_upload_size(up), 0);
	ck_assert_int_eq(blob_upload_write(up, "x", 1), ST_IO);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_IO);
	ck_assert_int_eq(blobstore_stat(bs, d, NULL), ST_NOT_FOUND);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_remove(bs, "u1"), ST_OK);
	free(data);
}
END_TEST

/* Writes data[0, n) into up in pieces of `piece` bytes. */
static void write_pieces(blob_upload *up, const char *data, size_t n, size_t piece)
{
	for (size_t off = 0; off < n; off += piece)
		ck_assert_int_eq(
		    blob_upload_write(up, data + off, n - off < piece ? n - off : piece), ST_OK);
}

/* Staged writes, as a push makes them: two requests (an unaligned cut
 * between them, each flushed at its end), odd piece sizes and one write
 * spanning many slots; after each flush the file holds exactly the bytes
 * written, and the commit stores the right blob. */
START_TEST(test_staged_upload)
{
	const size_t n = 5 * 1024 * 1024 + 12345, cut = 3 * 1024 * 1024 + 777;
	char *data = noise(n);
	blob_upload *up = NULL;
	char d[DIGEST_MAX];
	uint64_t size = 0;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, data, n);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_flush(up), ST_OK); /* nothing staged: a no-op */
	blob_upload_stage(up);
	write_pieces(up, data, cut, 32771);
	ck_assert_uint_eq(blob_upload_size(up), cut);
	ck_assert_int_eq(blob_upload_flush(up), ST_OK);
	ck_assert_int_eq(upload_stored("u1"), (long long)cut);
	ck_assert_int_eq(blob_upload_flush(up), ST_OK);

	blob_upload_stage(up);
	write_pieces(up, data + cut, 1024 * 1024 + 1, 4095);
	ck_assert_int_eq(
	    blob_upload_write(up, data + cut + 1024 * 1024 + 1, n - cut - 1024 * 1024 - 1), ST_OK);
	ck_assert_uint_eq(blob_upload_size(up), n);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, &size), ST_OK);
	ck_assert_uint_eq(size, n);
	blob_upload_free(up);
	assert_blob(d, data, n);
	ck_assert_int_eq(uploads_count(), 0);

	/* Freed without a flush or a commit: the bytes still reach the file,
	 * and resume picks up from there. */
	ck_assert_int_eq(blobstore_upload_begin(bs, "u2", DIGEST_SHA256, &up), ST_OK);
	blob_upload_stage(up);
	write_pieces(up, data, cut, 65536);
	blob_upload_free(up);
	ck_assert_int_eq(upload_stored("u2"), (long long)cut);
	ck_assert_int_eq(blobstore_upload_resume(bs, "u2", DIGEST_SHA256, &up), ST_OK);
	blob_upload_stage(up);
	write_pieces(up, data + cut, n - cut, 65536);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
	ck_assert_int_eq(uploads_count(), 0);
	free(data);
}
END_TEST

/* More staged uploads at once than the store has staging memory for:
 * those that find none write directly, and every blob comes out right. */
START_TEST(test_staged_many_at_once)
{
	enum { N = 12 };
	const size_t n = 3 * 1024 * 1024 + 99;
	char *data = noise(n + N);
	blob_upload *up[N];
	char d[N][DIGEST_MAX], id[16];

	store_open(_i);
	for (int i = 0; i < N; i++) {
		digest_of(d[i], DIGEST_SHA256, data + i, n);
		snprintf(id, sizeof(id), "u%d", i);
		ck_assert_int_eq(blobstore_upload_begin(bs, id, DIGEST_SHA256, &up[i]), ST_OK);
		blob_upload_stage(up[i]);
	}
	for (size_t off = 0; off < n; off += 65536)
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(blob_upload_write(up[i], data + i + off,
							   n - off < 65536 ? n - off : 65536),
					 ST_OK);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(blobstore_upload_commit(bs, up[i], d[i], NULL), ST_OK);
		blob_upload_free(up[i]);
		assert_blob(d[i], data + i, n);
	}
	ck_assert_int_eq(uploads_count(), 0);
	free(data);
}
END_TEST

/* Full disk: a 64 KiB tmpfs, if this process may mount one. */
/* Mounts a tmpfs of size at DIR/small (its path into mnt): a disk that
 * fills up. false (and a note) where mounting is not allowed. */
static bool mount_small(const char *test, const char *size, char *mnt, size_t len)
{
	char opts[32];

	snprintf(mnt, len, "%s/small", dir);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
		test_skip("%s: cannot mount a tmpfs (%s)", test, strerror(errno));
		return false;
	}
	return true;
}

START_TEST(test_no_space)
{
	char mnt[96], root[128];
	blobstore *small = NULL;
	blob_upload *up = NULL;
	const size_t n = 256 * 1024;
	char *data = noise(n);
	char d[DIGEST_MAX];

	if (!mount_small("test_no_space", "64k", mnt, sizeof(mnt))) {
		free(data);
		return;
	}
	snprintf(root, sizeof(root), "%s/store", mnt);
	digest_of(d, DIGEST_SHA256, data, n);
	ck_assert_int_eq(blobstore_open(&small, root), ST_OK);
	ck_assert_int_eq(blobstore_upload_begin(small, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, data, n), ST_NO_SPACE);
	ck_assert_int_eq(blob_upload_write(up, "x", 1), ST_NO_SPACE);
	ck_assert_int_eq(blobstore_upload_commit(small, up, d, NULL), ST_NO_SPACE);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_remove(small, "u1"), ST_OK);
	/* put cleans its temporary file up after ENOSPC. */
	ck_assert_int_eq(blobstore_put(small, d, data, n), ST_NO_SPACE);
	ck_assert_int_eq(blobstore_stat(small, d, NULL), ST_NOT_FOUND);
	blobstore_close(small);
	snprintf(root, sizeof(root), "%s/store/uploads", mnt);
	ck_assert_int_eq(rmdir(root), 0); /* empty */
	umount2(mnt, MNT_DETACH);
	free(data);
}
END_TEST

/* Full disk under a staged upload, on a 2 MiB tmpfs (its first MiB is
 * written directly, the rest by the helper thread): the failure shows at a
 * later write or at the flush, and poisons the upload as a direct one. */
START_TEST(test_staged_no_space)
{
	char mnt[96], root[128], d[DIGEST_MAX];
	const size_t n = 3 * 1024 * 1024;
	char *data = noise(n);
	blobstore *small = NULL;
	blob_upload *up = NULL;
	status_t st = ST_OK;

	if (!mount_small("test_staged_no_space", "2m", mnt, sizeof(mnt))) {
		free(data);
		return;
	}
	snprintf(root, sizeof(root), "%s/store", mnt);
	digest_of(d, DIGEST_SHA256, data, n);
	ck_assert_int_eq(blobstore_open(&small, root), ST_OK);
	ck_assert_int_eq(blobstore_upload_begin(small, "u1", DIGEST_SHA256, &up), ST_OK);
	blob_upload_stage(up);
	for (size_t off = 0; off < n && st == ST_OK; off += 32768)
		st = blob_upload_write(up, data + off, 32768);
	if (st == ST_OK)
		st = blob_upload_flush(up);
	ck_assert_int_eq(st, ST_NO_SPACE);
	ck_assert_int_eq(blob_upload_write(up, "x", 1), ST_NO_SPACE);
	ck_assert_int_eq(blobstore_upload_commit(small, up, d, NULL), ST_NO_SPACE);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_remove(small, "u1"), ST_OK);
	ck_assert_int_eq(blobstore_stat(small, d, NULL), ST_NOT_FOUND);
	blobstore_close(small);
	umount2(mnt, MNT_DETACH);
	free(data);
}
END_TEST

typedef struct {
	char ids[8][BLOBSTORE_ID_MAX + 1];
	int n;
	int remove;
} seen_ids;

static void collect(void *arg, const char *id)
{
	seen_ids *s = arg;

	if (s->n < 8)
		snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
	if (s->remove)
		ck_assert_int_eq(blobstore_upload_remove(bs, id), ST_OK);
}

static int seen(const seen_ids *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

/* Makes dir/rel an empty file, its mtime `age` seconds ago. */
static void touch_old(const char *rel, time_t age)
{
	char p[512];
	struct timespec ts[2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
}

START_TEST(test_list_stale)
{
	blob_upload *up = NULL;
	seen_ids s = {0};
	time_t now = time(NULL);

	ck_assert_int_eq(blobstore_upload_begin(bs, "fresh", DIGEST_SHA256, &up), ST_OK);
	blob_upload_free(up);
	ck_assert_int_eq(blobstore_upload_begin(bs, "old", DIGEST_SHA256, &up), ST_OK);
	blob_upload_free(up);
	touch_old("uploads/old", 3600);
	touch_old("uploads/put-0123456789abcdef", 3600); /* a put left by a crash */
	touch_old("uploads/not an id", 3600);		 /* not ours: never reported */

	ck_assert_int_eq(blobstore_upload_list_stale(bs, now - 60, collect, &s), ST_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert(seen(&s, "old"));
	ck_assert(seen(&s, "put-0123456789abcdef"));

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(blobstore_upload_list_stale(bs, now - 7200, collect, &s), ST_OK);
	ck_assert_int_eq(s.n, 0);

	/* fn may remove what it is given while the listing goes on. */
	memset(&s, 0, sizeof(s));
	s.remove = 1;
	ck_assert_int_eq(blobstore_upload_list_stale(bs, now + 60, collect, &s), ST_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert(seen(&s, "fresh"));
	ck_assert_int_eq(upload_files(), 1);
	ck_assert(exists("uploads/not an id"));
}
END_TEST

START_TEST(test_open_sweeps_temp_files)
{
	blob_upload *up = NULL;

	ck_assert_int_eq(blobstore_upload_begin(bs, "keep", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, "abc", 3), ST_OK);
	blob_upload_free(up);
	touch_old("uploads/put-00000000deadbeef", 3600);
	/* a put in flight in another process on the same root */
	touch_old("uploads/put-00000000cafebabe", 0);
	blobstore_close(bs);
	bs = NULL;
	ck_assert_int_eq(blobstore_open(&bs, dir), ST_OK);
	ck_assert(!exists("uploads/put-00000000deadbeef"));
	ck_assert(exists("uploads/put-00000000cafebabe"));
	ck_assert(exists("uploads/keep"));
	ck_assert_int_eq(blobstore_upload_resume(bs, "keep", DIGEST_SHA256, &up), ST_OK);
	ck_assert_uint_eq(blob_upload_size(up), 3);
	blob_upload_free(up);
}
END_TEST

START_TEST(test_open_misuse)
{
	blobstore *b = (blobstore *)1;
	char p[512];

	ck_assert_int_eq(blobstore_open(&b, ""), ST_INVALID);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(blobstore_open(&b, NULL), ST_INVALID);
	/* A file where the root should be. */
	snprintf(p, sizeof(p), "%s/file", dir);
	touch_old("file", 0);
	ck_assert_int_eq(blobstore_open(&b, p), ST_IO);
	ck_assert_ptr_null(b);
	/* Nested folders are made. */
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	ck_assert_int_eq(blobstore_open(&b, p), ST_OK);
	ck_assert(exists("a/b/c/blobs/sha256"));
	ck_assert(exists("a/b/c/blobs/sha512"));
	ck_assert(exists("a/b/c/uploads"));
	blobstore_close(b);
	blobstore_close(NULL);
	blob_upload_free(NULL);
}
END_TEST

/* Threads share one store, each with its own upload of the same bytes. */
typedef struct {
	pthread_t th;
	int index;
	const char *digest;
	status_t st;
} pusher;

static void *push_same(void *arg)
{
	pusher *p = arg;
	char id[32];
	blob_upload *up = NULL;
	status_t st;

	snprintf(id, sizeof(id), "thread-%d", p->index);
	st = blobstore_upload_begin(bs, id, DIGEST_SHA256, &up);
	for (int i = 0; st == ST_OK && i < 64; i++)
		st = blob_upload_write(up, "0123456789abcdef", 16);
	if (st == ST_OK)
		st = blobstore_upload_commit(bs, up, p->digest, NULL);
	blob_upload_free(up);
	p->st = st;
	return NULL;
}

START_TEST(test_threads_share_store)
{
	char data[1024], d[DIGEST_MAX];
	pusher p[4];

	store_open(_i);
	for (int i = 0; i < 64; i++)
		memcpy(data + 16 * i, "0123456789abcdef", 16);
	digest_of(d, DIGEST_SHA256, data, sizeof(data));
	for (int i = 0; i < 4; i++) {
		p[i] = (pusher){.index = i, .digest = d, .st = ST_INTERNAL};
		ck_assert_int_eq(pthread_create(&p[i].th, NULL, push_same, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(p[i].th, NULL), 0);
		ck_assert_int_eq(p[i].st, ST_OK);
	}
	assert_blob(d, data, sizeof(data));
	ck_assert_int_eq(uploads_count(), 0);
}
END_TEST

/* Readers read at any offset, and stop at the end. */
START_TEST(test_reader)
{
	static const char data[] = "0123456789abcdef";
	blob_reader *rd = NULL;
	char d[DIGEST_MAX], buf[32];
	size_t n = 99;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, data, 16);
	ck_assert_int_eq(blobstore_put(bs, d, data, 16), ST_OK);
	ck_assert_int_eq(blobstore_read_open(bs, d, &rd), ST_OK);
	ck_assert_uint_eq(blob_reader_size(rd), 16);
	ck_assert_int_eq(blob_reader_read(rd, 10, buf, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert(memcmp(buf, "abcd", 4) == 0);
	ck_assert_int_eq(blob_reader_read(rd, 14, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(buf, "ef", 2) == 0);
	ck_assert_int_eq(blob_reader_read(rd, 16, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(blob_reader_read(rd, 1000, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	blob_reader_close(rd);
	blob_reader_close(NULL);
}
END_TEST

/* An upload's reader follows its writer. */
START_TEST(test_upload_reader)
{
	blob_upload *up = NULL;
	blob_reader *rd = (blob_reader *)1;
	char d[DIGEST_MAX], buf[16];
	size_t n = 99;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, "abcdef", 6);
	ck_assert_int_eq(blobstore_upload_open_read(bs, "nope", &rd), ST_NOT_FOUND);
	ck_assert_ptr_null(rd);
	ck_assert_int_eq(blobstore_upload_open_read(bs, "../x", &rd), ST_INVALID);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blobstore_upload_open_read(bs, "u1", &rd), ST_OK);
	ck_assert_uint_eq(blob_reader_size(rd), 0);
	ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(blob_upload_write(up, "abc", 3), ST_OK);
	ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(blob_upload_write(up, "def", 3), ST_OK);
	ck_assert_int_eq(blob_reader_read(rd, 3, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(buf, "def", 3) == 0);
	/* still readable once the commit published it */
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 6);
	blob_reader_close(rd);
	blob_upload_free(up);
}
END_TEST

/* ---- the filesystem backend only ---- */

/* Blobs live at blobs/<alg>/<xx>/<hex>; an upload at uploads/<id> until
 * its commit renames it there. */
START_TEST(test_fs_layout)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX], d512[DIGEST_MAX], rel[256];

	digest_of(d, DIGEST_SHA256, "hello world", 11);
	digest_of(d512, DIGEST_SHA512, "five!", 5);
	ck_assert_int_eq(blobstore_upload_begin(bs, "u1", DIGEST_SHA256, &up), ST_OK);
	ck_assert(exists("uploads/u1"));
	ck_assert_int_eq(blob_upload_write(up, "hello world", 11), ST_OK);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_OK);
	blob_upload_free(up);
	ck_assert(!exists("uploads/u1"));
	snprintf(rel, sizeof(rel), "blobs/sha256/%.2s/%s", d + 7, d + 7);
	ck_assert(exists(rel));
	ck_assert_int_eq(blobstore_put(bs, d512, "five!", 5), ST_OK);
	snprintf(rel, sizeof(rel), "blobs/sha512/%.2s/%s", d512 + 7, d512 + 7);
	ck_assert(exists(rel));
	ck_assert_int_eq(upload_files(), 0);
	/* retired: renamed into trash/, then purged from there */
	ck_assert_int_eq(blobstore_retire(bs, d512), ST_OK);
	ck_assert(!exists(rel));
	snprintf(rel, sizeof(rel), "trash/sha512-%s", d512 + 7);
	ck_assert(exists(rel));
	ck_assert_int_eq(blobstore_purge(bs), ST_OK);
	ck_assert(!exists(rel));
}
END_TEST

/* A parked upload whose file changed meanwhile is refused, not mixed. */
START_TEST(test_fs_park_file_changed)
{
	blob_upload *up = NULL;
	char d[DIGEST_MAX], path[512], data[1000];

	memset(data, 'x', sizeof(data));
	digest_of(d, DIGEST_SHA256, data, sizeof(data));
	ck_assert_int_eq(blobstore_upload_begin(bs, "park-cut", DIGEST_SHA256, &up), ST_OK);
	ck_assert_int_eq(blob_upload_write(up, data, 1000), ST_OK);
	blob_upload_park(up);
	snprintf(path, sizeof(path), "%s/uploads/park-cut", dir);
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_int_eq(blob_upload_write(up, data, 10), ST_IO);
	ck_assert_int_eq(blobstore_upload_commit(bs, up, d, NULL), ST_IO);
	blob_upload_free(up);
}
END_TEST

/* Its readers have an fd (close-on-exec) for sendfile, which the caller
 * may take; the reader then reads no more. */
START_TEST(test_fs_reader_fd)
{
	blob_reader *rd = NULL;
	char d[DIGEST_MAX], buf[8];
	size_t n;
	int fd;

	digest_of(d, DIGEST_SHA256, "abc", 3);
	ck_assert_int_eq(blobstore_put(bs, d, "abc", 3), ST_OK);
	ck_assert_int_eq(blobstore_read_open(bs, d, &rd), ST_OK);
	fd = blob_reader_take_fd(rd);
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(blob_reader_take_fd(rd), -1);
	ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_IO);
	blob_reader_close(rd); /* the fd is the caller's now */
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 3);
	ck_assert(memcmp(buf, "abc", 3) == 0);
	close(fd);
	/* A reader goes on reading a blob deleted under it. */
	ck_assert_int_eq(blobstore_read_open(bs, d, &rd), ST_OK);
	ck_assert_int_eq(blobstore_delete(bs, d), ST_OK);
	ck_assert_int_eq(blob_reader_read(rd, 0, buf, sizeof(buf), &n), ST_OK);
	ck_assert_uint_eq(n, 3);
	blob_reader_close(rd);
}
END_TEST

/* ---- choosing a backend ---- */

START_TEST(test_open_backend)
{
	blobstore *b = (blobstore *)1;

	ck_assert_ptr_nonnull(blobstore_backend_find("filesystem"));
	ck_assert_ptr_nonnull(blobstore_backend_find("s3"));
	ck_assert_ptr_null(blobstore_backend_find("gcs"));
	ck_assert_ptr_null(blobstore_backend_find(""));
	ck_assert_ptr_null(blobstore_backend_find(NULL));
	ck_assert_ptr_null(blobstore_backend_find("Filesystem"));
	/* s3 without its options (endpoint, bucket): refused, not opened */
	ck_assert_int_eq(blobstore_open_backend(&b, "s3", dir), ST_INVALID);
	ck_assert_ptr_null(b);
	b = (blobstore *)1;
	ck_assert_int_eq(blobstore_open_backend(&b, NULL, dir), ST_INVALID);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(blobstore_open_backend(&b, "", dir), ST_INVALID);
	ck_assert_int_eq(blobstore_open_backend(&b, "filesystem", ""), ST_INVALID);
	ck_assert_int_eq(blobstore_open_backend(&b, "filesystem", dir), ST_OK);
	bs = b; /* teardown closes it */
	ck_assert_int_eq(uploads_count(), 0);
}
END_TEST

/* blobstore_backup: the blob arrives whole in another store of the same
 * backend; again is a no-op; a missing blob, a bad digest or a store of no
 * backend are refused. On the filesystem, the same filesystem gives a hard
 * link (test_backup_fs_copy covers the copy). */
START_TEST(test_backup)
{
	char d[DIGEST_MAX], absent[DIGEST_MAX], other[96];
	blobstore *dst = NULL;
	blob_reader *rd = NULL;
	size_t n = 0;
	bool linked = false;
	char *data = noise(300000), *got;

	store_open(_i);
	digest_of(d, DIGEST_SHA256, data, 300000);
	digest_of(absent, DIGEST_SHA256, "absent", 6);
	ck_assert_int_eq(blobstore_put(bs, d, data, 300000), ST_OK);
	snprintf(other, sizeof(other), "%s/backup", dir);
	ck_assert_int_eq(blobstore_open_backend(&dst, backends[_i].name, other), ST_OK);
	ck_assert_int_eq(blobstore_backup(bs, d, dst, &linked), ST_OK);
	ck_assert_int_eq(blobstore_backup(bs, d, dst, NULL), ST_OK); /* again */
	ck_assert_int_eq(blobstore_read_open(dst, d, &rd), ST_OK);
	got = read_all(rd, 65536, &n);
	ck_assert_uint_eq(n, 300000);
	ck_assert_mem_eq(got, data, n);
	free(got);
	blob_reader_close(rd);
	ck_assert_int_eq(blobstore_backup(bs, absent, dst, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_stat(dst, absent, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(blobstore_backup(bs, "sha256:../../x", dst, NULL), ST_INVALID);
	ck_assert_int_eq(blobstore_backup(bs, d, NULL, NULL), ST_INVALID);
	assert_blob(d, data, 300000); /* the source is unchanged */
	blobstore_close(dst);
	free(data);
	if (strcmp(backends[_i].name, "filesystem") == 0)
		ck_assert(linked);
}
END_TEST

/* The filesystem's copy path: a store on another filesystem (tmpfs in
 * /dev/shm) gets a copy, not a link, with no temporary file left. */
START_TEST(test_backup_fs_copy)
{
	char d[DIGEST_MAX], shm[] = "/dev/shm/test-blobstore-XXXXXX", path[256];
	blobstore *dst = NULL;
	bool linked = true;
	struct stat sb;
	char *data = noise(200000);
	DIR *up;
	struct dirent *e;
	int files = 0;

	if (mkdtemp(shm) == NULL) {
		test_skip("no /dev/shm to copy across filesystems: %s", strerror(errno));
		free(data);
		return;
	}
	digest_of(d, DIGEST_SHA256, data, 200000);
	ck_assert_int_eq(blobstore_put(bs, d, data, 200000), ST_OK);
	ck_assert_int_eq(blobstore_open(&dst, shm), ST_OK);
	ck_assert_int_eq(blobstore_backup(bs, d, dst, &linked), ST_OK);
	ck_assert(!linked);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/%s", shm, d + 7, d + 7);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_nlink, 1);
	ck_assert_int_eq(sb.st_size, 200000);
	snprintf(path, sizeof(path), "%s/uploads", shm);
	ck_assert_ptr_nonnull(up = opendir(path));
	while ((e = readdir(up)) != NULL)
		files += e->d_name[0] != '.';
	closedir(up);
	ck_assert_int_eq(files, 0);
	blobstore_close(dst);
	tree_remove(shm);
	free(data);
}
END_TEST

Suite *make_blobstore_suite(void)
{
	Suite *s = suite_create("blobstore");
	TCase *tc = tcase_create("shared");
	TCase *fs = tcase_create("filesystem");
	TCase *pick = tcase_create("backends");

	/* Every backend: each test runs once per entry of backends[]. */
	tcase_add_checked_fixture(tc, setup_dir, teardown);
	tcase_add_loop_test(tc, test_commit_right_digest, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_commit_existing_blob, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_commit_wrong_digest, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_commit_malformed_digest_keeps_upload, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_sha512, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_commit_other_algorithm, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_empty_blob, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_resume_after_free, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_park, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_resume_other_algorithm, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_put_idempotent, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_missing, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_delete, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_retire, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_invalid_digests, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_invalid_ids, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_staged_upload, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_staged_many_at_once, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_reader, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_upload_reader, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_threads_share_store, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_backup, 0, NBACKENDS);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(fs, setup_fs, teardown);
	tcase_add_test(fs, test_fs_layout);
	tcase_add_test(fs, test_fs_park_file_changed);
	tcase_add_test(fs, test_fs_reader_fd);
	tcase_add_test(fs, test_symlink_not_followed);
	tcase_add_test(fs, test_poisoned_by_write_error);
	tcase_add_test(fs, test_no_space);
	tcase_add_test(fs, test_staged_no_space);
	tcase_add_test(fs, test_list_stale);
	tcase_add_test(fs, test_open_sweeps_temp_files);
	tcase_add_test(fs, test_open_misuse);
	tcase_add_test(fs, test_backup_fs_copy);
	suite_add_tcase(s, fs);

	tcase_add_checked_fixture(pick, setup_dir, teardown);
	tcase_add_test(pick, test_open_backend);
	suite_add_tcase(s, pick);
	return s;
}
