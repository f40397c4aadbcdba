/*
 * blobstore.h - content-addressed blob storage: the interface every caller
 * uses, and the table of operations a backend implements.
 *
 * A store keeps committed blobs, immutable and named by their digest, and
 * upload sessions in progress (bytes arriving, hashed on the way, that
 * become a blob only by a commit that verified their digest). It knows
 * nothing of HTTP, repositories or metadata.
 *
 * Backends (chosen by name, see blobstore_open_backend): "filesystem"
 * (blobstore_fs.h, folders on local disk) and "s3" (blobstore_s3.h, an
 * S3-compatible object store such as Ceph RGW). The caller holds a blobstore and never
 * learns which backend serves it: every function below is a dispatch
 * through the store's blobstore_ops (redirect_url alone may be NULL). What every backend
 * guarantees:
 *   - A committed blob is complete and its name is its digest: it becomes
 *     visible all at once, after its digest was verified, and durably (a
 *     crash after the commit returned cannot lose it, nor show a part).
 *   - Read-after-write: once blobstore_put or blobstore_upload_commit
 *     returned ST_OK, every stat and read of that digest, from any thread
 *     of the process, finds it.
 *   - Upload bytes are never served as a blob.
 * How each backend keeps them is said in its own header. A backend on the
 * network (S3) may answer ST_UNAVAILABLE wherever ST_IO is listed below:
 * it could not reach its store (a client should try again later).
 *
 * Thread-safe: a blobstore may be shared by all threads. A blob_upload or a
 * blob_reader is used by one thread at a time (the caller serialises).
 */
#ifndef BLOBSTORE_H
#define BLOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../oci/digest.h"
#include "../common/status.h"

typedef struct blobstore blobstore;
typedef struct blob_upload blob_upload;
typedef struct blob_reader blob_reader;
typedef struct blobstore_ops blobstore_ops;

/* Longest upload id accepted (ids are made by the caller: [A-Za-z0-9-]).
 * Ids starting with "put-" are reserved for blobstore_put's temporary files. */
#define BLOBSTORE_ID_MAX 64

/* The backend the registry uses unless configured otherwise. */
#define BLOBSTORE_DEFAULT_BACKEND "filesystem"

/*
 * What a backend other than the filesystem needs to open (the s3_* keys of
 * registry.conf); the filesystem needs none. Strings are copied by open.
 */
typedef struct {
	const char *s3_endpoint;    /* http(s)://host[:port] */
	const char *s3_bucket;	    /* must exist: a missing bucket fails open */
	const char *s3_region;	    /* "us-east-1" when empty */
	const char *s3_credentials; /* a file of one line ACCESS:SECRET; NULL or "":
				       AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY */
	bool s3_path_style;	    /* endpoint/bucket/key (RGW, MinIO), else bucket.host/key */
	const char *s3_prefix;	    /* before every key: "" or ending in '/' */
	const char *s3_ca;	    /* CA bundle for TLS, NULL: the system's */
	uint64_t s3_part_size;	    /* multipart part size, >= 5 MiB (0: 16 MiB) */
	bool s3_redirect;	    /* blobstore_redirect_url answers presigned URLs */
	uint64_t s3_memory;	    /* upload buffers in all (0: 256 MiB) */
} blobstore_options;

/*
 * blobstore_open_backend with the backend's options (opts may be NULL for
 * the filesystem).
 */
status_t blobstore_open_opts(blobstore **out, const char *backend, const char *location,
			     const blobstore_options *opts);

/*
 * A short-lived URL a client may GET the blob's bytes from directly, instead
 * of through the registry (S3 with s3_redirect = on: a presigned URL), into
 * *out (malloc'd, the caller frees). ST_UNSUPPORTED when the store serves
 * its bytes itself (the filesystem, or S3 without s3_redirect); ST_NOMEM.
 * It does not check that the blob exists: stat first.
 */
status_t blobstore_redirect_url(blobstore *bs, const char *digest, char **out);

/*
 * Opens the store of backend `backend` ("filesystem") at location (for the
 * filesystem: the root folder). ST_OK with *out (caller frees with
 * blobstore_close); ST_INVALID for an unknown backend name (logged with the
 * known ones) or a location the backend refuses; else as the backend's
 * open (blobstore_fs.h: ST_NOMEM, ST_IO).
 */
status_t blobstore_open_backend(blobstore **out, const char *backend, const char *location);

/* blobstore_open_backend(out, "filesystem", root): the store under root. */
status_t blobstore_open(blobstore **out, const char *root);

/* The operations of the backend called name, or NULL if there is none
 * (the configuration checks names with it). */
const blobstore_ops *blobstore_backend_find(const char *name);

/* NULL is a no-op. */
void blobstore_close(blobstore *bs);

/* ST_OK with *out_size (may be NULL) if the blob is stored; ST_NOT_FOUND;
 * ST_INVALID for a malformed digest (or one of an algorithm we do not
 * compute); ST_IO. */
status_t blobstore_stat(blobstore *bs, const char *digest, uint64_t *out_size);

/*
 * Opens a stored blob for reading. ST_OK with *out (caller frees with
 * blob_reader_close); ST_NOT_FOUND; ST_INVALID for a malformed digest;
 * ST_NOMEM; ST_IO. A blob deleted while a reader is open may fail the
 * reader's later reads with ST_IO (the filesystem's go on reading it).
 */
status_t blobstore_read_open(blobstore *bs, const char *digest, blob_reader **out);

/* The blob's size in bytes (for an upload's reader: 0, it grows). */
uint64_t blob_reader_size(const blob_reader *rd);

/*
 * Hands over the reader's file descriptor, for zero-copy sends
 * (sendfile): the caller owns and closes it, and must still
 * blob_reader_close rd, which is no longer readable. -1 when the backend
 * has no file descriptor to give (an object store): read through
 * blob_reader_read instead. Offsets of the fd are the blob's.
 */
int blob_reader_take_fd(blob_reader *rd);

/*
 * Reads up to len bytes at offset off into buf. ST_OK with *out_n bytes
 * read, 0 only at the end (for an upload's reader: what is written so
 * far); ST_IO (also after blob_reader_take_fd).
 */
status_t blob_reader_read(blob_reader *rd, uint64_t off, void *buf, size_t len, size_t *out_n);

/* NULL is a no-op. */
void blob_reader_close(blob_reader *rd);

/*
 * Stores a whole buffer (a manifest) under its digest, which the caller has
 * computed, atomically and durably (the filesystem: write, fsync, rename;
 * S3: one PUT).
 * Storing a digest that is
 * already present is ST_OK. ST_INVALID for a malformed digest;
 * ST_DIGEST_MISMATCH if buf does not hash to digest (nothing stored);
 * ST_NO_SPACE, ST_IO.
 */
status_t blobstore_put(blobstore *bs, const char *digest, const void *buf, size_t len);

/*
 * Removes a committed blob. ST_OK, ST_NOT_FOUND, ST_INVALID, ST_IO.
 * (Garbage collection decides when; the store only does it.)
 */
status_t blobstore_delete(blobstore *bs, const char *digest);

/*
 * Takes a committed blob out of reach at once (stat and reads no longer
 * find it; readers already open go on) and cheaply, leaving the release of
 * its space to blobstore_purge. Garbage collection retires while it holds
 * the metadata's write lock and purges after: releasing is what is slow
 * (the filesystem: unlink frees the blocks, hundreds of microseconds per
 * file on a disk mounted with discard), and pushes wait for that lock.
 * The filesystem: renamed to trash/ALG-HEX beside blobs/. A backend with
 * no cheaper step removes here (blobstore_delete). ST_OK, ST_NOT_FOUND,
 * ST_INVALID, ST_IO.
 */
status_t blobstore_retire(blobstore *bs, const char *digest);

/*
 * Releases the space of every retired blob, including those a crash left
 * retired (a no-op for a backend that removes at once). ST_OK, ST_IO.
 */
status_t blobstore_purge(blobstore *bs);

/*
 * Moves a committed blob out of reach, its bytes kept aside for a person
 * to look at (scrub found them corrupt): stat and reads no longer find it,
 * readers already open go on; storing the digest again (a push) brings it
 * back. The filesystem: renamed to quarantine/ALG-HEX beside blobs/ (an
 * older quarantined copy of the same digest is replaced). ST_OK,
 * ST_NOT_FOUND, ST_INVALID, ST_IO.
 */
status_t blobstore_quarantine(blobstore *bs, const char *digest);

/*
 * Starts upload id, empty, hashing with alg (the filesystem: a new file
 * uploads/<id>). ST_OK with *out (caller frees with blob_upload_free); ST_INVALID for a
 * bad or reserved id or alg; ST_EXISTS; ST_NO_SPACE; ST_NOMEM; ST_IO. On
 * failure nothing is left behind.
 */
status_t blobstore_upload_begin(blobstore *bs, const char *id, digest_alg alg, blob_upload **out);

/*
 * Reopens an upload whose in-memory state was lost (restart), re-hashing
 * the bytes already stored with alg (reading through a bounded
 * buffer). ST_OK with *out; ST_NOT_FOUND; ST_INVALID for a bad id or alg;
 * ST_NOMEM; ST_IO.
 */
status_t blobstore_upload_resume(blobstore *bs, const char *id, digest_alg alg, blob_upload **out);

/*
 * Appends len bytes at the end of the upload and into its running hash.
 * ST_OK; ST_NO_SPACE or ST_IO, after which the upload is poisoned: every
 * later write or commit fails with the same status (the bytes on disk and
 * the hash may disagree), and the caller should remove it. ST_INVALID after
 * a successful commit.
 */
status_t blob_upload_write(blob_upload *up, const void *buf, size_t len);

/*
 * Makes later writes to up staged, for uploads nobody reads while they
 * grow (the pull-through cache's are read as they arrive): the backend may
 * take bytes in and store them while the caller goes on (the filesystem:
 * past the first MiB of a request, a small ring that two helper threads
 * hash and write with O_DIRECT), so what is stored may lag behind
 * blob_upload_size until blob_upload_flush. Where it cannot (no O_DIRECT,
 * the store's staging memory all taken), writes stay direct. Write errors
 * surface at a later write or the flush.
 */
void blob_upload_stage(blob_upload *up);

/*
 * Waits until every byte written is stored (not durably: commit does
 * that) and ends up's helper threads; call it when a request ends, so that
 * between requests the upload holds exactly blob_upload_size bytes. ST_OK, or
 * the upload's poison (ST_NO_SPACE, ST_IO, ...). A no-op for an unstaged
 * upload. Commit and free flush first.
 */
status_t blob_upload_flush(blob_upload *up);

/*
 * Flushes up and releases what it holds open (the filesystem: its file,
 * until the next write or commit opens it again and checks it is still the
 * size written). An upload between requests may wait hours for its next
 * chunk, or forever: parked, it holds no file descriptor, so abandoned
 * sessions cannot exhaust them.
 */
void blob_upload_park(blob_upload *up);

/* Bytes written so far. */
uint64_t blob_upload_size(const blob_upload *up);
/* The algorithm the running hash uses. */
digest_alg blob_upload_alg(const blob_upload *up);

/*
 * Finishes an upload: makes its bytes durable, compares their digest with
 * expected (re-reading them only if expected uses another algorithm than
 * the running hash), and publishes them as the blob (the filesystem: fsync,
 * rename into blobs/). If the blob already exists the upload is simply
 * removed. ST_OK (the upload is gone, and up must still be freed);
 * ST_DIGEST_MISMATCH (nothing stored, the upload is removed); ST_INVALID for a malformed expected
 * digest (the upload stays usable) or an upload already committed; ST_NO_SPACE; ST_NOMEM; ST_IO.
 * Any failure but ST_INVALID poisons the upload with its status, as blob_upload_write does.
 * *out_size (may be NULL) gets the blob's size.
 */
status_t blobstore_upload_commit(blobstore *bs, blob_upload *up, const char *expected,
				 uint64_t *out_size);

/* Frees the in-memory state; the stored upload stays (for a resume). NULL
 * is a no-op. */
void blob_upload_free(blob_upload *up);

/*
 * Opens upload id for reading, for readers that follow its writer (the
 * pull-through cache streams a blob to clients while it arrives): a read
 * sees every byte written (and flushed) before it. The reader stays valid
 * after a commit publishes the upload or a failure removes it. ST_OK with
 * *out (caller frees with blob_reader_close); ST_NOT_FOUND; ST_INVALID for
 * a bad id; ST_NOMEM; ST_IO.
 */
status_t blobstore_upload_open_read(blobstore *bs, const char *id, blob_reader **out);

/* Removes upload id. ST_OK, ST_NOT_FOUND, ST_INVALID for a bad id, ST_IO. */
status_t blobstore_upload_remove(blobstore *bs, const char *id);

/*
 * Calls fn for every upload not written to since before `before` (fn
 * decides and may call blobstore_upload_remove), blobstore_put's temporary
 * uploads included; anything whose name is not a valid id is none of the
 * store's and is skipped. ST_OK or ST_IO.
 */
status_t blobstore_upload_list_stale(blobstore *bs, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg);

/*
 * Puts blob digest into dst, a store of the same backend (a backup: `registry
 * backup`), as cheaply as the backend can while keeping dst's guarantees
 * (the filesystem: a hard link when dst is on the same filesystem, since
 * blobs are immutable, else a copy written, fsynced and renamed into place;
 * dst's shard folder is fsynced either way). Already in dst: ST_OK.
 * *out_linked (may be NULL): no bytes were copied. ST_NOT_FOUND (not in
 * bs); ST_INVALID (a malformed digest, or dst of another backend);
 * ST_NO_SPACE; ST_NOMEM; ST_IO. On failure dst holds no part of the blob.
 */
status_t blobstore_backup(blobstore *bs, const char *digest, blobstore *dst, bool *out_linked);

/*
 * Calls fn for every committed blob: its digest, size and the time it was
 * last written (for a collector's orphan files: no file newer than its
 * delay is taken), in no set order; stops when fn returns non-zero. fn may
 * delete blobs. ST_OK, ST_IO.
 */
status_t blobstore_list(blobstore *bs,
			int (*fn)(void *arg, const char *digest, uint64_t size, time_t mtime),
			void *arg);

/* ---- for backends ----
 *
 * A backend is a const blobstore_ops and three structs that begin with the
 * bases below (so a blobstore * of the backend is a pointer to its own
 * struct, which it casts back). The functions above check nothing and
 * call the operation of the same name; each operation keeps the contract
 * written above for its function (statuses, what is left on failure, who
 * owns what), and the shared tests (tests/unit/test_blobstore.c) run
 * against every backend. Every operation but redirect_url is required.
 */
struct blobstore_ops {
	const char *name; /* as configured: "filesystem" */
	/* blobstore_open_backend: the store at location. */
	status_t (*open)(blobstore **out, const char *location, const blobstore_options *opts);
	void (*close)(blobstore *bs);
	status_t (*stat)(blobstore *bs, const char *digest, uint64_t *out_size);
	status_t (*read_open)(blobstore *bs, const char *digest, blob_reader **out);
	status_t (*put)(blobstore *bs, const char *digest, const void *buf, size_t len);
	status_t (*remove)(blobstore *bs, const char *digest); /* blobstore_delete */
	status_t (*quarantine)(blobstore *bs, const char *digest);
	/* optional, both or neither: without them retire is remove */
	status_t (*retire)(blobstore *bs, const char *digest);
	status_t (*purge)(blobstore *bs);
	status_t (*upload_begin)(blobstore *bs, const char *id, digest_alg alg, blob_upload **out);
	status_t (*upload_resume)(blobstore *bs, const char *id, digest_alg alg, blob_upload **out);
	status_t (*upload_write)(blob_upload *up, const void *buf, size_t len);
	/* May do nothing: staging is a speed-up the caller cannot observe
	 * (but for when write errors surface). */
	void (*upload_stage)(blob_upload *up);
	status_t (*upload_flush)(blob_upload *up);
	/* Releases what an idle upload holds (fds, connections); may do nothing. */
	void (*upload_park)(blob_upload *up);
	uint64_t (*upload_size)(const blob_upload *up);
	digest_alg (*upload_alg)(const blob_upload *up);
	status_t (*upload_commit)(blobstore *bs, blob_upload *up, const char *expected,
				  uint64_t *out_size);
	void (*upload_free)(blob_upload *up); /* never called with NULL */
	status_t (*upload_open_read)(blobstore *bs, const char *id, blob_reader **out);
	status_t (*upload_remove)(blobstore *bs, const char *id);
	status_t (*upload_list_stale)(blobstore *bs, time_t before,
				      void (*fn)(void *arg, const char *id), void *arg);
	/* blob_reader_read, on a reader whose rd_fd the backend may use; after
	 * blob_reader_take_fd it is -1. */
	status_t (*reader_read)(blob_reader *rd, uint64_t off, void *buf, size_t len,
				size_t *out_n);
	void (*reader_close)(blob_reader *rd); /* never called with NULL */
	/* blobstore_backup; dst is of this backend (checked by the caller). */
	status_t (*backup)(blobstore *bs, const char *digest, blobstore *dst, bool *out_linked);
	status_t (*list)(blobstore *bs,
			 int (*fn)(void *arg, const char *digest, uint64_t size, time_t mtime),
			 void *arg);
	/* blobstore_redirect_url; NULL: ST_UNSUPPORTED (the filesystem). */
	status_t (*redirect_url)(blobstore *bs, const char *digest, char **out);
};

struct blobstore {
	const blobstore_ops *bs_ops;
};

struct blob_upload {
	const blobstore_ops *up_ops;
};

struct blob_reader {
	const blobstore_ops *rd_ops;
	uint64_t rd_size; /* blob_reader_size */
	int rd_fd;	  /* blob_reader_take_fd; -1 if none (or taken) */
};

#endif
