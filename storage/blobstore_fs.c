/*
 * blobstore_fs.c - the "filesystem" blob store backend (see blobstore_fs.h
 * for the layout and what it guarantees, blobstore.h for the contract).
 *
 * A store is two directory fds, root/blobs and root/uploads, opened once
 * and never changed: any number of threads can share it without a lock.
 * Every file is reached with an *at() call relative to one of them, by a
 * name built only from a digest that passed digest_parse (so [a-z0-9] and
 * one ':') or an id that passed id_valid ([A-Za-z0-9-]{1,64}); no name can
 * leave the root, and O_NOFOLLOW refuses symlinks planted inside it.
 *
 * Commit = fsync the upload file, check its digest, rename(2) it to
 * blobs/<alg>/<xx>/<hex>, fsync that shard folder (and blobs/<alg> when the
 * shard was just made, so the new folder entry is durable too). A crash
 * before the rename leaves an upload file; after it, a whole blob.
 *
 * blobstore_put goes through a temporary file uploads/put-<16 hex>. That
 * prefix is reserved (upload ids starting with it are refused): nobody can
 * resume such a file, so blobstore_open deletes those older than a minute
 * (not younger ones: a server may be writing them while another process,
 * such as `registry gc`, opens the same root), and
 * blobstore_upload_list_stale reports old ones like any upload.
 *
 * A blob_upload keeps this invariant while up_err is ST_OK: bytes [0,
 * up_size) of the file are exactly the bytes fed to up_hash. The first
 * failure that may break it (a failed or short write, a failed fsync, a
 * commit that consumed the hash) stores its status in up_err, and every
 * later write or commit returns it: the upload is poisoned.
 *
 * Re-hashing a file (resume, or commit against another algorithm) reads it
 * through a bounded heap buffer, never the whole file.
 *
 * A blob_reader here is the base struct alone: an O_RDONLY fd (read with
 * pread, so readers share nothing) and the size fstat gave at open. Its fd
 * is what blob_reader_take_fd hands to sendfile: pulls never copy through
 * user space. A reader of an upload follows the file as it grows.
 *
 * Write-behind: every WRITEBEHIND_BYTES an upload starts the kernel's
 * writeback of what it wrote since, and waits for the batch before that
 * (sync_file_range), so the disk works while the rest arrives, the commit's
 * fsync finds at most two batches left, and an upload never holds more than
 * about two batches of dirty pages. It is only a head start: durability
 * still comes from the fsync at commit, and its failures are ignored.
 *
 * Staged uploads (blob_upload_stage; the registry's pushes): past their
 * first STAGE_MIN_BYTES in a request, bytes go through a staged writer
 * (stage.h: an aligned ring, hashed and written, O_DIRECT, by two helper
 * threads), so hashing runs on another core and the page-cache copy is
 * gone (perf: 47 % of a push's thread). blob_upload_flush (at every
 * request's end, and first thing in commit and free) ends the stage, so
 * between requests the invariant above holds again and no thread or slot
 * memory is kept. All stages of a store share STAGE_BUDGET_SLOTS slots
 * (bounded memory under many parallel pushes); an upload that finds none
 * writes directly, as do uploads where O_DIRECT cannot be opened.
 * Durability is unchanged: the commit fsyncs the file (metadata, and the
 * device cache) before the rename. A crash mid-request leaves a prefix of
 * what arrived, as before.
 */
#include "blobstore_fs.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "fileio.h"
#include "stage.h"

/* Offsets are off_t: on 32-bit systems build with -D_FILE_OFFSET_BITS=64. */
_Static_assert(sizeof(off_t) == 8, "off_t must be 64 bits");

/* Read size when re-hashing a file: bounded memory whatever the blob size. */
#define REHASH_BUF_BYTES (64 * 1024)
/* Bytes between two write-behind steps of an upload. */
#define WRITEBEHIND_BYTES (8 * 1024 * 1024)
/* Staged uploads: slots per upload, slots per store, and the bytes a
 * request writes directly before it stages (small blobs never do). 2 slots
 * measured as fast as 4 for one push, and a budget of 16 MiB lets 16
 * parallel pushes all stage (+35 % aggregate against 6 staged at a time),
 * peak memory staying under 32 MiB (make bench). */
#define STAGE_SLOTS 2
#define STAGE_BUDGET_SLOTS 32
#define STAGE_MIN_BYTES (1024 * 1024)
/* Prefix of blobstore_put's temporary files in uploads/. */
#define PUT_PREFIX "put-"
#define PUT_PREFIX_LEN (sizeof(PUT_PREFIX) - 1)
/* A put temp file this old is a crash's: a put writes at most a manifest
 * (max_manifest_size) and fsyncs it, in far less. */
#define PUT_STALE_SEC 60
/* "sha512/ab/" + 128 hex + NUL, with room to spare. */
#define REL_PATH_MAX (DIGEST_MAX + 16)
/* Mode of files and folders we create (the umask still applies). */
#define FILE_MODE 0644
#define DIR_MODE 0755

typedef struct {
	blobstore bs_base;	  /* first: a blobstore * of ours points here */
	int bs_blobs_fd;	  /* root/blobs, O_DIRECTORY */
	int bs_uploads_fd;	  /* root/uploads, O_DIRECTORY */
	int bs_root_fd;		  /* root, O_DIRECTORY: quarantine/ is made there */
	atomic_int bs_stage_free; /* staging slots not taken (STAGE_BUDGET_SLOTS) */
} fs_store;

typedef struct {
	blob_upload up_base; /* first: a blob_upload * of ours points here */
	fs_store *up_bs;     /* the store it was begun on; commit must use the same */
	int up_fd;	     /* uploads/<id>, O_RDWR; -1 while parked */
	char up_id[BLOBSTORE_ID_MAX + 1];
	digest_alg up_alg;
	digest_ctx *up_hash; /* the running hash; NULL once a commit finalised it */
	uint64_t up_size;    /* bytes written and hashed */
	uint64_t up_started; /* bytes whose writeback was started (write-behind) */
	uint64_t up_waited;  /* bytes whose writeback was waited for */
	status_t up_err;     /* ST_OK, or the poison every later call returns */
	bool up_done;	     /* committed: the file is gone from uploads/ */
	bool up_staged;	     /* blob_upload_stage was called */
	bool up_no_direct;   /* O_DIRECT cannot be opened here: never stage */
	uint64_t up_direct;  /* bytes written directly since the last flush */
	stage *up_stage;     /* the staged writer, while a request stages */
} fs_upload;

/* Our structs from the interface's: each begins with the base. */
static fs_store *fs_of(blobstore *bs)
{
	return (fs_store *)bs;
}

static fs_upload *up_of(blob_upload *up)
{
	return (fs_upload *)up;
}

/* True for [A-Za-z0-9-]{1,BLOBSTORE_ID_MAX}: safe as a file name. */
static bool id_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return false;
	for (const char *p = id; *p; p++, n++) {
		if (n >= BLOBSTORE_ID_MAX)
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	}
	return n > 0;
}

/* An id a caller may use for an upload: valid, and not our temp prefix. */
static bool id_usable(const char *id)
{
	return id_valid(id) && strncmp(id, PUT_PREFIX, PUT_PREFIX_LEN) != 0;
}

/*
 * Writes "<alg>/<xx>/<hex>" for digest into out (relative to blobs/) and
 * its algorithm into *out_alg (may be NULL). ST_OK, or ST_INVALID for
 * anything digest_parse does not accept (unsupported algorithms included:
 * such a blob cannot be stored, so asking for one is a bad request).
 */
static status_t rel_path(char out[REL_PATH_MAX], const char *digest, digest_alg *out_alg)
{
	digest_alg alg;
	const char *hex;

	if (digest_parse(digest, &alg) != ST_OK)
		return ST_INVALID;
	hex = strchr(digest, ':') + 1;
	snprintf(out, REL_PATH_MAX, "%s/%.2s/%s", digest_alg_name(alg), hex, hex);
	if (out_alg)
		*out_alg = alg;
	return ST_OK;
}

/* fsyncs the folder rel (relative to dirfd). ST_OK or ST_IO. */
static status_t dir_fsync(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	status_t st = ST_OK;

	if (fd < 0 || fsync(fd) != 0) {
		log_error("blobstore: fsync of folder %s: %s", rel, strerror(errno));
		st = ST_IO;
	}
	if (fd >= 0)
		close(fd);
	return st;
}

/*
 * Makes the shard folder of rel ("sha256/ab/...") if it is missing, and
 * then makes its own entry in "sha256" durable. ST_OK, ST_NO_SPACE, ST_IO.
 */
static status_t shard_ensure(fs_store *bs, const char *rel)
{
	char shard[REL_PATH_MAX], alg[REL_PATH_MAX];
	const char *slash = strrchr(rel, '/');
	const char *first = strchr(rel, '/');

	snprintf(shard, sizeof(shard), "%.*s", (int)(slash - rel), rel);
	snprintf(alg, sizeof(alg), "%.*s", (int)(first - rel), rel);
	if (mkdirat(bs->bs_blobs_fd, shard, DIR_MODE) == 0)
		return dir_fsync(bs->bs_blobs_fd, alg);
	if (errno == EEXIST)
		return ST_OK;
	log_error("blobstore: mkdir blobs/%s: %s", shard, strerror(errno));
	return fileio_status(errno);
}

/* fsyncs the shard folder holding rel, after a rename into it. */
static status_t shard_fsync(fs_store *bs, const char *rel)
{
	char shard[REL_PATH_MAX];

	snprintf(shard, sizeof(shard), "%.*s", (int)(strrchr(rel, '/') - rel), rel);
	return dir_fsync(bs->bs_blobs_fd, shard);
}

/*
 * Feeds the whole file fd (from offset 0 to its end) into ctx, through a
 * bounded buffer. ST_OK with *out_size bytes hashed; ST_NOMEM; ST_IO.
 */
static status_t hash_fd(digest_ctx *ctx, int fd, uint64_t *out_size)
{
	char *buf = malloc(REHASH_BUF_BYTES);
	uint64_t off = 0;
	status_t st = ST_OK;

	if (buf == NULL)
		return ST_NOMEM;
	for (;;) {
		ssize_t r = pread(fd, buf, REHASH_BUF_BYTES, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("blobstore: re-reading an upload: %s", strerror(errno));
			st = ST_IO;
			goto done;
		}
		if (r == 0)
			break;
		digest_ctx_update(ctx, buf, (size_t)r);
		off += (uint64_t)r;
	}
	*out_size = off;
done:
	free(buf);
	return st;
}

/*
 * Calls fn(arg, dirfd, name, stat) for each regular file of uploads/ whose
 * name is a valid id; other entries are none of ours and are skipped. fn
 * may unlink the entry it was given. ST_OK or ST_IO.
 */
static status_t
uploads_each(fs_store *bs,
	     void (*fn)(void *arg, int dirfd, const char *name, const struct stat *sb), void *arg)
{
	/* Our own fd for the DIR: bs_uploads_fd is shared and must stay put. */
	int fd = openat(bs->bs_uploads_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = NULL;
	struct dirent *e;
	struct stat sb;
	char name[BLOBSTORE_ID_MAX + 1];
	status_t st = ST_IO;

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		goto done;
	fd = -1; /* owned by d now */
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				goto done;
			break;
		}
		if (!id_valid(e->d_name))
			continue;
		/* A copy: fn may remove the entry under d's feet. */
		memcpy(name, e->d_name, strlen(e->d_name) + 1); /* <= 64 + NUL: id_valid */
		if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
			continue;
		fn(arg, dirfd(d), name, &sb);
	}
	st = ST_OK;
done:
	if (st != ST_OK)
		log_error("blobstore: listing uploads/: %s", strerror(errno));
	if (d != NULL)
		closedir(d);
	if (fd >= 0)
		close(fd);
	return st;
}

/* uploads_each callback of blobstore_open: removes put temp files left by
 * a crash. Only old ones: another process on the same root (`registry gc`,
 * export or import beside a server) must not take a put in flight. */
static void sweep_temp(void *arg, int dirfd, const char *name, const struct stat *sb)
{
	if (strncmp(name, PUT_PREFIX, PUT_PREFIX_LEN) == 0 &&
	    sb->st_mtime < time(NULL) - PUT_STALE_SEC && unlinkat(dirfd, name, 0) == 0)
		++*(int *)arg;
}

/* mkdir -p path. ST_OK or ST_IO. */
static status_t mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return ST_IO;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, DIR_MODE) != 0 && errno != EEXIST)
			return ST_IO;
		*p = '/';
	}
	if (mkdir(buf, DIR_MODE) != 0 && errno != EEXIST)
		return ST_IO;
	return ST_OK;
}

/* Opens (making it if needed) the folder name under dirfd into *out_fd. */
static status_t subdir_open(int dirfd, const char *name, int *out_fd)
{
	if (mkdirat(dirfd, name, DIR_MODE) != 0 && errno != EEXIST)
		return ST_IO;
	*out_fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return *out_fd >= 0 ? ST_OK : ST_IO;
}

static void fs_close(blobstore *base);

static status_t fs_open(blobstore **out, const char *root, const blobstore_options *opts)
{
	fs_store *bs = NULL;
	int root_fd = -1, swept = 0;
	status_t st;

	*out = NULL;
	if (root == NULL || *root == '\0')
		return ST_INVALID;
	if ((bs = calloc(1, sizeof(*bs))) == NULL)
		return ST_NOMEM;
	bs->bs_base.bs_ops = &blobstore_fs_ops;
	atomic_init(&bs->bs_stage_free, STAGE_BUDGET_SLOTS);
	bs->bs_blobs_fd = bs->bs_uploads_fd = bs->bs_root_fd = -1;
	if ((st = mkdir_p(root)) != ST_OK)
		goto done;
	st = ST_IO;
	if ((root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto done;
	if ((st = subdir_open(root_fd, "blobs", &bs->bs_blobs_fd)) != ST_OK ||
	    (st = subdir_open(root_fd, "uploads", &bs->bs_uploads_fd)) != ST_OK)
		goto done;
	st = ST_IO;
	for (int a = DIGEST_SHA256; a <= DIGEST_SHA512; a++)
		if (mkdirat(bs->bs_blobs_fd, digest_alg_name((digest_alg)a), DIR_MODE) != 0 &&
		    errno != EEXIST)
			goto done;
	if ((st = uploads_each(bs, sweep_temp, &swept)) != ST_OK)
		goto done;
	if (swept > 0)
		log_info("blobstore: removed %d temporary file(s) left by a crash", swept);
	bs->bs_root_fd = root_fd;
	root_fd = -1;
	*out = &bs->bs_base;
	bs = NULL;
	st = ST_OK;
done:
	if (st == ST_IO)
		log_error("blobstore: cannot open %s: %s", root, strerror(errno));
	if (root_fd >= 0)
		close(root_fd);
	if (bs != NULL)
		fs_close(&bs->bs_base);
	return st;
}

static void fs_close(blobstore *base)
{
	fs_store *bs = fs_of(base);

	if (bs->bs_blobs_fd >= 0)
		close(bs->bs_blobs_fd);
	if (bs->bs_uploads_fd >= 0)
		close(bs->bs_uploads_fd);
	if (bs->bs_root_fd >= 0)
		close(bs->bs_root_fd);
	free(bs);
}

static status_t fs_stat(blobstore *base, const char *digest, uint64_t *out_size)
{
	fs_store *bs = fs_of(base);
	char rel[REL_PATH_MAX];
	struct stat sb;
	status_t st;

	if ((st = rel_path(rel, digest, NULL)) != ST_OK)
		return st;
	if (fstatat(bs->bs_blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return (errno == ENOENT || errno == ENOTDIR) ? ST_NOT_FOUND : ST_IO;
	if (!S_ISREG(sb.st_mode))
		return ST_NOT_FOUND;
	if (out_size)
		*out_size = (uint64_t)sb.st_size;
	return ST_OK;
}

/* ---- readers: an fd, which blob_reader_take_fd may hand over ---- */

/* A reader around fd (taken over: closed on failure) of size bytes.
 * ST_OK with *out, or ST_NOMEM. */
static status_t reader_new(blob_reader **out, int fd, uint64_t size)
{
	blob_reader *rd = malloc(sizeof(*rd));

	if (rd == NULL) {
		close(fd);
		return ST_NOMEM;
	}
	rd->rd_ops = &blobstore_fs_ops;
	rd->rd_size = size;
	rd->rd_fd = fd;
	*out = rd;
	return ST_OK;
}

static status_t fs_reader_read(blob_reader *rd, uint64_t off, void *buf, size_t len, size_t *out_n)
{
	ssize_t r;

	*out_n = 0;
	if (rd->rd_fd < 0)
		return ST_IO; /* its fd was taken */
	do
		r = pread(rd->rd_fd, buf, len, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		log_error("blobstore: reading: %s", strerror(errno));
		return ST_IO;
	}
	*out_n = (size_t)r;
	return ST_OK;
}

static void fs_reader_close(blob_reader *rd)
{
	if (rd->rd_fd >= 0)
		close(rd->rd_fd);
	free(rd);
}

static status_t fs_read_open(blobstore *base, const char *digest, blob_reader **out)
{
	fs_store *bs = fs_of(base);
	char rel[REL_PATH_MAX];
	struct stat sb;
	int fd;
	status_t st;

	*out = NULL;
	if ((st = rel_path(rel, digest, NULL)) != ST_OK)
		return st;
	fd = openat(bs->bs_blobs_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) ? ST_NOT_FOUND
									       : ST_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ST_IO;
	}
	return reader_new(out, fd, (uint64_t)sb.st_size);
}

static status_t fs_put(blobstore *base, const char *digest, const void *buf, size_t len)
{
	fs_store *bs = fs_of(base);
	char rel[REL_PATH_MAX], got[DIGEST_MAX], tmp[BLOBSTORE_ID_MAX + 1];
	unsigned char rnd[8];
	digest_alg alg;
	int fd = -1;
	status_t st;

	if ((st = rel_path(rel, digest, &alg)) != ST_OK)
		return st;
	/* Cheap next to the write, and keeps "a blob's name is its digest"
	 * true even if the caller got it wrong. */
	if ((st = digest_buffer(got, alg, buf, len)) != ST_OK)
		return st;
	if (strcmp(got, digest) != 0)
		return ST_DIGEST_MISMATCH;
	if ((st = fs_stat(base, digest, NULL)) != ST_NOT_FOUND)
		return st; /* ST_OK: already stored, or ST_IO */

	/* tmp names a file only once we created it: on failure, done: removes
	 * ours and never someone else's. */
	tmp[0] = '\0';
	for (int tries = 0; fd < 0; tries++) {
		char name[BLOBSTORE_ID_MAX + 1];

		if (tries == 8 || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			st = ST_IO;
			goto done;
		}
		snprintf(name, sizeof(name), PUT_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
			 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		fd = openat(bs->bs_uploads_fd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, FILE_MODE);
		if (fd < 0 && errno != EEXIST) {
			st = fileio_status(errno);
			goto done;
		}
		if (fd >= 0)
			memcpy(tmp, name, sizeof(tmp));
	}
	if ((st = fileio_write(fd, buf, len, 0)) != ST_OK)
		goto done;
	if (fsync(fd) != 0) {
		st = fileio_status(errno);
		goto done;
	}
	if ((st = shard_ensure(bs, rel)) != ST_OK)
		goto done;
	if (renameat(bs->bs_uploads_fd, tmp, bs->bs_blobs_fd, rel) != 0) {
		st = fileio_status(errno);
		goto done;
	}
	tmp[0] = '\0'; /* renamed: nothing to clean up */
	st = shard_fsync(bs, rel);
done:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlinkat(bs->bs_uploads_fd, tmp, 0);
	return st;
}

static status_t fs_remove(blobstore *base, const char *digest)
{
	fs_store *bs = fs_of(base);
	char rel[REL_PATH_MAX];
	status_t st;

	if ((st = rel_path(rel, digest, NULL)) != ST_OK)
		return st;
	/* No folder fsync: a blob that comes back after a crash is only
	 * garbage the next collection removes again. */
	if (unlinkat(bs->bs_blobs_fd, rel, 0) != 0)
		return (errno == ENOENT || errno == ENOTDIR) ? ST_NOT_FOUND : ST_IO;
	return ST_OK;
}

/* Retired blobs wait in trash/ beside blobs/ (same filesystem: a rename,
 * no copy) until fs_purge unlinks them outside the caller's lock. */
#define TRASH_DIR "trash"

/* Renames the blob to folder/ALG-HEX beside blobs/ (made if missing), an
 * earlier one of the same name replaced. */
static status_t set_aside(fs_store *bs, const char *digest, const char *folder)
{
	char rel[REL_PATH_MAX], aside[REL_PATH_MAX + 32];
	digest_alg alg;
	status_t st;

	if ((st = rel_path(rel, digest, &alg)) != ST_OK)
		return st;
	if (mkdirat(bs->bs_root_fd, folder, DIR_MODE) != 0 && errno != EEXIST)
		return ST_IO;
	snprintf(aside, sizeof(aside), "%s/%s-%s", folder, digest_alg_name(alg),
		 strchr(digest, ':') + 1);
	if (renameat(bs->bs_blobs_fd, rel, bs->bs_root_fd, aside) != 0)
		return (errno == ENOENT || errno == ENOTDIR) ? ST_NOT_FOUND : ST_IO;
	return ST_OK;
}

static status_t fs_retire(blobstore *base, const char *digest)
{
	/* Not durable, as fs_remove: a blob back after a crash is garbage the
	 * next collection finds again (an orphan). */
	return set_aside(fs_of(base), digest, TRASH_DIR);
}

static status_t fs_purge(blobstore *base)
{
	fs_store *bs = fs_of(base);
	int fd = openat(bs->bs_root_fd, TRASH_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = NULL;
	struct dirent *e;
	status_t st = ST_IO;

	if (fd < 0) {
		st = errno == ENOENT ? ST_OK : ST_IO; /* nothing was ever retired */
		goto done;
	}
	if ((d = fdopendir(fd)) == NULL)
		goto done;
	fd = -1; /* owned by d now */
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				goto done;
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		/* ENOENT: another process (`registry gc` beside a server) took it */
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
			log_msg(LOG_WARN, "blobstore: cannot remove %s/%s: %s", TRASH_DIR,
				e->d_name, strerror(errno));
	}
	st = ST_OK;
done:
	if (fd >= 0)
		close(fd);
	if (d != NULL)
		closedir(d);
	return st;
}

static status_t fs_quarantine(blobstore *base, const char *digest)
{
	/* not durable either: a blob that comes back after a crash is found
	 * again by the next scrub */
	return set_aside(fs_of(base), digest, "quarantine");
}

/*
 * Makes a blob_upload for id around fd (taken over, closed on failure),
 * with a fresh running hash. ST_OK with *out, or ST_NOMEM.
 */
static void fs_upload_free(blob_upload *base);

static status_t upload_new(fs_upload **out, fs_store *bs, const char *id, digest_alg alg, int fd)
{
	fs_upload *up = calloc(1, sizeof(*up));
	status_t st = ST_NOMEM;

	*out = NULL;
	if (up == NULL)
		goto done;
	up->up_base.up_ops = &blobstore_fs_ops;
	up->up_bs = bs;
	up->up_fd = fd;
	up->up_alg = alg;
	up->up_err = ST_OK;
	snprintf(up->up_id, sizeof(up->up_id), "%s", id);
	if ((st = digest_ctx_new(&up->up_hash, alg)) != ST_OK)
		goto done;
	*out = up;
	up = NULL;
	fd = -1;
	st = ST_OK;
done:
	if (fd >= 0)
		close(fd);
	if (up != NULL) {
		up->up_fd = -1;
		fs_upload_free(&up->up_base);
	}
	return st;
}

static status_t fs_upload_begin(blobstore *base, const char *id, digest_alg alg, blob_upload **out)
{
	fs_store *bs = fs_of(base);
	fs_upload *up = NULL;
	status_t st;
	int fd;

	*out = NULL;
	if (!id_usable(id) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	fd = openat(bs->bs_uploads_fd, id, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    FILE_MODE);
	if (fd < 0)
		return errno == EEXIST ? ST_EXISTS : fileio_status(errno);
	if ((st = upload_new(&up, bs, id, alg, fd)) != ST_OK) {
		unlinkat(bs->bs_uploads_fd, id, 0); /* begin leaves nothing behind */
		return st;
	}
	*out = &up->up_base;
	return ST_OK;
}

static status_t fs_upload_resume(blobstore *base, const char *id, digest_alg alg, blob_upload **out)
{
	fs_store *bs = fs_of(base);
	fs_upload *up = NULL;
	struct stat sb;
	status_t st;
	int fd;

	*out = NULL;
	if (!id_usable(id) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	fd = openat(bs->bs_uploads_fd, id, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return (errno == ENOENT || errno == ELOOP) ? ST_NOT_FOUND : ST_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ST_IO;
	}
	if ((st = upload_new(&up, bs, id, alg, fd)) != ST_OK)
		return st;
	if ((st = hash_fd(up->up_hash, up->up_fd, &up->up_size)) != ST_OK)
		goto done;
	*out = &up->up_base;
	up = NULL;
done:
	if (up != NULL)
		fs_upload_free(&up->up_base);
	return st;
}

/*
 * Starts writeback of [up_started, up_size) and waits for [up_waited,
 * up_started), the batch started last time. Never fails: a write error
 * shows again at the commit's fsync.
 */
static void writebehind(fs_upload *up)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (up->up_started > up->up_waited)
		sync_file_range(up->up_fd, (off_t)up->up_waited,
				(off_t)(up->up_started - up->up_waited),
				SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER);
	sync_file_range(up->up_fd, (off_t)up->up_started, (off_t)(up->up_size - up->up_started),
			SYNC_FILE_RANGE_WRITE);
#endif
	up->up_waited = up->up_started;
	up->up_started = up->up_size;
}

/* ---- staged writes (see the top of the file) ---- */

/* Takes STAGE_SLOTS slots of the store's budget: false if none are left. */
static bool budget_take(fs_store *bs)
{
	int avail = atomic_load(&bs->bs_stage_free);

	do {
		if (avail < STAGE_SLOTS)
			return false;
	} while (!atomic_compare_exchange_weak(&bs->bs_stage_free, &avail, avail - STAGE_SLOTS));
	return true;
}

/*
 * Starts up's staged writer. false if it cannot (no O_DIRECT here, no
 * budget left, no memory): the caller writes directly, always correct.
 */
static bool stage_begin(fs_upload *up)
{
	struct stat a, b;
	int dfd;

	if (!budget_take(up->up_bs))
		return false; /* retried at the next write: cheap */
	dfd = openat(up->up_bs->bs_uploads_fd, up->up_id,
		     O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);
	/* It must be our very file, not one put in its place. */
	if (dfd < 0 || fstat(dfd, &a) != 0 || fstat(up->up_fd, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		up->up_no_direct = true; /* not retried for this upload */
		goto fail;
	}
	if (stage_new(&up->up_stage, up->up_fd, dfd, up->up_hash, up->up_size, STAGE_SLOTS) ==
	    ST_OK)
		return true;
fail:
	if (dfd >= 0)
		close(dfd);
	atomic_fetch_add(&up->up_bs->bs_stage_free, STAGE_SLOTS);
	return false;
}

static void fs_upload_stage(blob_upload *base)
{
	up_of(base)->up_staged = true;
}

/* blob_upload_flush: ends the stage, if any; up's poison or ST_OK. */
static status_t upload_flush(fs_upload *up)
{
	status_t st;

	up->up_direct = 0;
	if (up->up_stage == NULL)
		return up->up_err;
	st = stage_end(up->up_stage);
	up->up_stage = NULL;
	atomic_fetch_add(&up->up_bs->bs_stage_free, STAGE_SLOTS);
	if (st != ST_OK && up->up_err == ST_OK) {
		log_error("blobstore: writing upload %s: %s", up->up_id, status_str(st));
		up->up_err = st;
	}
	return up->up_err;
}

static status_t fs_upload_flush(blob_upload *base)
{
	return upload_flush(up_of(base));
}

static void fs_upload_park(blob_upload *base)
{
	fs_upload *up = up_of(base);

	upload_flush(up); /* an error stays in up_err */
	if (up->up_fd >= 0) {
		close(up->up_fd);
		up->up_fd = -1;
	}
}

/* Opens a parked upload's file again: it must still be the size we wrote.
 * ST_OK; ST_IO (poisons up) when it was removed or changed meanwhile. */
static status_t upload_unpark(fs_upload *up)
{
	struct stat sb;
	int fd;

	if (up->up_fd >= 0)
		return ST_OK;
	fd = openat(up->up_bs->bs_uploads_fd, up->up_id, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != up->up_size) {
		log_error("blobstore: upload %s: its file is gone or changed", up->up_id);
		if (fd >= 0)
			close(fd);
		up->up_err = ST_IO;
		return ST_IO;
	}
	up->up_fd = fd;
	return ST_OK;
}

static status_t fs_upload_write(blob_upload *base, const void *buf, size_t len)
{
	fs_upload *up = up_of(base);
	status_t st;

	if (up->up_err != ST_OK)
		return up->up_err;
	if (up->up_done)
		return ST_INVALID;
	if (len == 0)
		return ST_OK;
	if (len > (uint64_t)INT64_MAX - up->up_size)
		return ST_TOO_LARGE; /* past what off_t addresses; nothing written */
	if ((st = upload_unpark(up)) != ST_OK)
		return st;
	if (up->up_stage != NULL || (up->up_staged && !up->up_no_direct &&
				     up->up_direct >= STAGE_MIN_BYTES && stage_begin(up))) {
		if ((st = stage_write(up->up_stage, buf, len)) != ST_OK) {
			log_error("blobstore: writing upload %s: %s", up->up_id, status_str(st));
			up->up_err = st;
			return st;
		}
		up->up_size += len;
		return ST_OK;
	}
	up->up_direct += len;
	if ((st = fileio_write(up->up_fd, buf, len, (off_t)up->up_size)) != ST_OK) {
		/* Some of buf may be on disk and none of it is in the hash. */
		log_error("blobstore: writing upload %s: %s", up->up_id, strerror(errno));
		up->up_err = st;
		return st;
	}
	digest_ctx_update(up->up_hash, buf, len);
	up->up_size += len;
	if (up->up_size - up->up_started >= WRITEBEHIND_BYTES)
		writebehind(up);
	return ST_OK;
}

static uint64_t fs_upload_size(const blob_upload *base)
{
	return ((const fs_upload *)base)->up_size;
}

static digest_alg fs_upload_alg(const blob_upload *base)
{
	return ((const fs_upload *)base)->up_alg;
}

/* The digest of up's file with alg, re-read from disk into out. */
static status_t upload_rehash(char out[DIGEST_MAX], fs_upload *up, digest_alg alg)
{
	digest_ctx *ctx = NULL;
	uint64_t n;
	status_t st;

	if ((st = digest_ctx_new(&ctx, alg)) != ST_OK)
		return st;
	if ((st = hash_fd(ctx, up->up_fd, &n)) == ST_OK && n != up->up_size)
		st = ST_IO; /* someone else wrote to the file */
	if (st == ST_OK)
		digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	return st;
}

static status_t fs_upload_commit(blobstore *base, blob_upload *upbase, const char *expected,
				 uint64_t *out_size)
{
	fs_store *bs = fs_of(base);
	fs_upload *up = up_of(upbase);
	char rel[REL_PATH_MAX], got[DIGEST_MAX];
	struct stat sb;
	digest_alg alg;
	status_t st;

	assert(up->up_bs == bs);
	if (up->up_err != ST_OK)
		return up->up_err;
	if (up->up_done)
		return ST_INVALID;
	/* A malformed digest is the caller's mistake: the upload stays usable. */
	if ((st = rel_path(rel, expected, &alg)) != ST_OK)
		return st;
	if ((st = upload_flush(up)) != ST_OK || (st = upload_unpark(up)) != ST_OK)
		return st;

	if (fsync(up->up_fd) != 0) {
		log_error("blobstore: fsync of upload %s: %s", up->up_id, strerror(errno));
		st = fileio_status(errno);
		goto done;
	}
	if (alg == up->up_alg) {
		assert(up->up_hash != NULL);
		digest_ctx_final(up->up_hash, got);
		digest_ctx_free(up->up_hash);
		up->up_hash = NULL;
	} else if ((st = upload_rehash(got, up, alg)) != ST_OK) {
		goto done;
	}
	if (strcmp(got, expected) != 0) {
		unlinkat(bs->bs_uploads_fd, up->up_id, 0);
		st = ST_DIGEST_MISMATCH;
		goto done;
	}
	if ((st = shard_ensure(bs, rel)) != ST_OK)
		goto done;
	if (fstatat(bs->bs_blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Same digest, same bytes: keep the blob there is. A failed
		 * unlink only leaves a file the stale sweep removes. */
		unlinkat(bs->bs_uploads_fd, up->up_id, 0);
	} else if (errno != ENOENT) {
		st = ST_IO;
		goto done;
	} else {
		if (renameat(bs->bs_uploads_fd, up->up_id, bs->bs_blobs_fd, rel) != 0) {
			log_error("blobstore: rename of upload %s: %s", up->up_id, strerror(errno));
			st = fileio_status(errno);
			goto done;
		}
		up->up_done = true;
		if ((st = shard_fsync(bs, rel)) != ST_OK)
			goto done;
	}
	up->up_done = true;
	if (out_size)
		*out_size = up->up_size;
	st = ST_OK;
done:
	if (st != ST_OK)
		up->up_err = st;
	return st;
}

static void fs_upload_free(blob_upload *base)
{
	fs_upload *up = up_of(base);

	upload_flush(up);
	if (up->up_fd >= 0)
		close(up->up_fd);
	digest_ctx_free(up->up_hash);
	free(up);
}

static status_t fs_upload_open_read(blobstore *base, const char *id, blob_reader **out)
{
	int fd;

	*out = NULL;
	if (!id_valid(id))
		return ST_INVALID;
	fd = openat(fs_of(base)->bs_uploads_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return (errno == ENOENT || errno == ELOOP) ? ST_NOT_FOUND : ST_IO;
	return reader_new(out, fd, 0);
}

static status_t fs_upload_remove(blobstore *base, const char *id)
{
	fs_store *bs = fs_of(base);

	if (!id_valid(id))
		return ST_INVALID;
	if (unlinkat(bs->bs_uploads_fd, id, 0) != 0)
		return errno == ENOENT ? ST_NOT_FOUND : ST_IO;
	return ST_OK;
}

typedef struct {
	time_t before;
	void (*fn)(void *arg, const char *id);
	void *arg;
} stale_ctx;

/* uploads_each callback of blobstore_upload_list_stale. */
static void report_stale(void *arg, int dirfd, const char *name, const struct stat *sb)
{
	stale_ctx *c = arg;

	if (sb->st_mtime < c->before)
		c->fn(c->arg, name);
}

static status_t fs_upload_list_stale(blobstore *base, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg)
{
	stale_ctx c = {before, fn, arg};

	return uploads_each(fs_of(base), report_stale, &c);
}

/* ---- backups: a hard link, or a copy ---- */

/* Copies all of src (size bytes) into out, through the kernel when it
 * can (copy_file_range), else a bounded buffer. ST_OK, ST_NO_SPACE, ST_IO. */
static status_t copy_fd(int out, int src, uint64_t size)
{
	char *buf = NULL;
	uint64_t off = 0;
	status_t st = ST_OK;

	while (off < size) {
		loff_t in_off = (loff_t)off, out_off = (loff_t)off;
		ssize_t n = copy_file_range(src, &in_off, out, &out_off, size - off, 0);
		if (n > 0) {
			off += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return ST_IO; /* the file is shorter than it was */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return fileio_status(errno);
		break; /* no kernel copy between these: by hand */
	}
	if (off < size && (buf = malloc(REHASH_BUF_BYTES)) == NULL)
		return ST_NOMEM;
	while (st == ST_OK && off < size) {
		ssize_t r = pread(src, buf, REHASH_BUF_BYTES, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			st = ST_IO;
		else if ((st = fileio_write(out, buf, (size_t)r, (off_t)off)) == ST_OK)
			off += (uint64_t)r;
	}
	free(buf);
	return st;
}

/* rel of bs copied into d as a temporary file, fsynced, renamed into
 * place: whole or absent, as a commit. */
static status_t backup_copy(fs_store *bs, fs_store *d, const char *rel)
{
	char tmp[BLOBSTORE_ID_MAX + 1] = "";
	unsigned char rnd[8];
	struct stat sb;
	int src = -1, out = -1;
	status_t st = ST_IO;

	if ((src = openat(bs->bs_blobs_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		st = errno == ENOENT ? ST_NOT_FOUND : ST_IO;
		goto done;
	}
	if (fstat(src, &sb) != 0)
		goto done;
	while (out < 0) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			goto done;
		snprintf(tmp, sizeof(tmp), PUT_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
			 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		out = openat(d->bs_uploads_fd, tmp,
			     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, FILE_MODE);
		if (out < 0 && errno != EEXIST) {
			st = fileio_status(errno);
			tmp[0] = '\0';
			goto done;
		}
	}
	if ((st = copy_fd(out, src, (uint64_t)sb.st_size)) != ST_OK)
		goto done;
	if (fsync(out) != 0) {
		st = fileio_status(errno);
		goto done;
	}
	if (renameat(d->bs_uploads_fd, tmp, d->bs_blobs_fd, rel) != 0) {
		st = fileio_status(errno);
		goto done;
	}
	tmp[0] = '\0';
	st = ST_OK;
done:
	if (src >= 0)
		close(src);
	if (out >= 0)
		close(out);
	if (tmp[0] != '\0')
		unlinkat(d->bs_uploads_fd, tmp, 0);
	return st;
}

/*
 * A blob is immutable once committed (fs_put and commits never write into
 * a published file), so the backup can share its inode: a hard link costs
 * no bytes and no time. Across filesystems (EXDEV), or where links are
 * refused, a copy.
 */
static status_t fs_backup(blobstore *base, const char *digest, blobstore *dstbase, bool *out_linked)
{
	fs_store *bs = fs_of(base), *d = fs_of(dstbase);
	char rel[REL_PATH_MAX];
	bool linked = false;
	status_t st;

	if (out_linked)
		*out_linked = false;
	if ((st = rel_path(rel, digest, NULL)) != ST_OK)
		return st;
	if (fs_stat(dstbase, digest, NULL) == ST_OK) {
		if (out_linked)
			*out_linked = true;
		return ST_OK;
	}
	if ((st = shard_ensure(d, rel)) != ST_OK)
		return st;
	if (linkat(bs->bs_blobs_fd, rel, d->bs_blobs_fd, rel, 0) == 0) {
		linked = true;
	} else if (errno == ENOENT) {
		return ST_NOT_FOUND;
	} else if (errno == EEXIST) {
		linked = true; /* another backup of the same folder, at once */
	} else if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EOPNOTSUPP) {
		if ((st = backup_copy(bs, d, rel)) != ST_OK)
			return st;
	} else {
		log_error("blobstore: backup of %s: %s", rel, strerror(errno));
		return fileio_status(errno);
	}
	/* the new folder entry is durable, as a commit's */
	st = shard_fsync(d, rel);
	if (st == ST_OK && out_linked)
		*out_linked = linked;
	return st;
}

/* A folder under dirfd as a DIR (its own fd), or NULL. */
static DIR *dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/*
 * blobstore_list: walks blobs/<alg>/<xx>/<hex>. Only names that make a
 * valid digest of their folder are reported (anything else there is none
 * of the store's); a folder that goes away meanwhile is skipped.
 */
static status_t fs_list(blobstore *base,
			int (*fn)(void *arg, const char *digest, uint64_t size, time_t mtime),
			void *arg)
{
	fs_store *bs = fs_of(base);
	static const digest_alg algs[] = {DIGEST_SHA256, DIGEST_SHA512};
	char digest[DIGEST_MAX + 8];
	status_t st = ST_OK;
	int stop = 0;

	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]) && !stop; a++) {
		const char *alg = digest_alg_name(algs[a]);
		DIR *top = dir_at(bs->bs_blobs_fd, alg), *shard;
		struct dirent *e, *f;
		struct stat sb;

		if (top == NULL)
			continue; /* no blob of that algorithm yet */
		while (!stop && (e = readdir(top)) != NULL) {
			if (e->d_name[0] == '.' || strlen(e->d_name) != 2 ||
			    (shard = dir_at(dirfd(top), e->d_name)) == NULL)
				continue;
			while (!stop && (f = readdir(shard)) != NULL) {
				if (f->d_name[0] == '.' || strncmp(f->d_name, e->d_name, 2) != 0 ||
				    strlen(f->d_name) + strlen(alg) + 2 > sizeof(digest))
					continue;
				/* lengths checked above */
				memcpy(digest, alg, strlen(alg));
				digest[strlen(alg)] = ':';
				memcpy(digest + strlen(alg) + 1, f->d_name, strlen(f->d_name) + 1);
				if (digest_parse(digest, NULL) != ST_OK ||
				    fstatat(dirfd(shard), f->d_name, &sb, AT_SYMLINK_NOFOLLOW) !=
					0 ||
				    !S_ISREG(sb.st_mode))
					continue;
				stop = fn(arg, digest, (uint64_t)sb.st_size, sb.st_mtime);
			}
			closedir(shard);
		}
		closedir(top);
	}
	return st;
}

const blobstore_ops blobstore_fs_ops = {
    .name = "filesystem",
    .open = fs_open,
    .close = fs_close,
    .stat = fs_stat,
    .read_open = fs_read_open,
    .put = fs_put,
    .remove = fs_remove,
    .quarantine = fs_quarantine,
    .retire = fs_retire,
    .purge = fs_purge,
    .upload_begin = fs_upload_begin,
    .upload_resume = fs_upload_resume,
    .upload_write = fs_upload_write,
    .upload_stage = fs_upload_stage,
    .upload_flush = fs_upload_flush,
    .upload_park = fs_upload_park,
    .upload_size = fs_upload_size,
    .upload_alg = fs_upload_alg,
    .upload_commit = fs_upload_commit,
    .upload_free = fs_upload_free,
    .upload_open_read = fs_upload_open_read,
    .upload_remove = fs_upload_remove,
    .upload_list_stale = fs_upload_list_stale,
    .reader_read = fs_reader_read,
    .reader_close = fs_reader_close,
    .backup = fs_backup,
    .list = fs_list,
};
