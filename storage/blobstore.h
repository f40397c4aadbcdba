/*
 * blobstore.h - content-addressed blob files on local disk.
 *
 * Layout under the root folder:
 *   blobs/<alg>/<first two hex>/<hex>   committed blobs, immutable, one per digest
 *   uploads/<id>                        bytes of an upload session in progress
 *
 * Invariants: a file under blobs/ is complete and its name is its digest. It
 * gets there only by rename(2) of an fsynced upload file whose digest was
 * verified, followed by an fsync of the directory, so a crash at any instant
 * leaves either no file or the whole file. Upload files are never served.
 *
 * This is the narrow interface a second backend (an S3-compatible store)
 * implements; it knows nothing of HTTP, repositories or metadata.
 * Thread-safe: a blobstore may be shared by all threads. A blob_upload is
 * used by one thread at a time (the caller serialises).
 */
#ifndef BLOBSTORE_H
#define BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../oci/digest.h"
#include "../common/status.h"

typedef struct blobstore blobstore;
typedef struct blob_upload blob_upload;

/* Longest upload id accepted (ids are made by the caller: [A-Za-z0-9-]).
 * Ids starting with "put-" are reserved for blobstore_put's temporary files. */
#define BLOBSTORE_ID_MAX 64

/*
 * Opens (creating folders as needed) the store under root. Leftover
 * temporary files from a crash are removed (one process per root). ST_OK
 * with *out (caller frees with blobstore_close); ST_INVALID for an empty
 * root; ST_NOMEM; ST_IO.
 */
status_t blobstore_open(blobstore **out, const char *root);
/* NULL is a no-op. */
void blobstore_close(blobstore *bs);

/* ST_OK with *out_size (may be NULL) if the blob is stored; ST_NOT_FOUND;
 * ST_INVALID for a malformed digest (or one of an algorithm we do not
 * compute); ST_IO. */
status_t blobstore_stat(blobstore *bs, const char *digest, uint64_t *out_size);

/*
 * Opens a stored blob for reading. ST_OK with *out_fd (caller closes) and
 * *out_size; ST_NOT_FOUND; ST_INVALID; ST_IO.
 */
status_t blobstore_open_read(blobstore *bs, const char *digest, int *out_fd, uint64_t *out_size);

/*
 * Stores a whole buffer (a manifest) under its digest, which the caller has
 * computed; writes, fsyncs and renames atomically. Storing a digest that is
 * already present is ST_OK. ST_INVALID for a malformed digest;
 * ST_DIGEST_MISMATCH if buf does not hash to digest (nothing stored);
 * ST_NO_SPACE, ST_IO.
 */
status_t blobstore_put(blobstore *bs, const char *digest, const void *buf, size_t len);

/*
 * Removes a committed blob file. ST_OK, ST_NOT_FOUND, ST_INVALID, ST_IO.
 * (Garbage collection decides when; the store only does it.)
 */
status_t blobstore_delete(blobstore *bs, const char *digest);

/*
 * Starts an upload with a new, empty file uploads/<id>, hashing with alg.
 * ST_OK with *out (caller frees with blob_upload_free); ST_INVALID for a
 * bad or reserved id or alg; ST_EXISTS; ST_NO_SPACE; ST_NOMEM; ST_IO. On
 * failure no file is left behind.
 */
status_t blobstore_upload_begin(blobstore *bs, const char *id, digest_alg alg, blob_upload **out);

/*
 * Reopens the file of an upload whose in-memory state was lost (restart),
 * re-hashing the bytes already there with alg (reading through a bounded
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
 * Makes later writes to up staged, for uploads whose file nobody reads
 * while it grows (the pull-through cache's are read as they arrive): bytes
 * past the first MiB of a request are copied into a small ring that two
 * helper threads hash and write (O_DIRECT) while the caller goes on, so
 * the file may lag behind blob_upload_size until blob_upload_flush. Where
 * O_DIRECT cannot be opened, or the store's staging memory is all taken,
 * writes stay direct. Write errors surface at a later write or the flush.
 */
void blob_upload_stage(blob_upload *up);

/*
 * Waits until every byte written is in the file (not synced: commit does
 * that) and ends up's helper threads; call it when a request ends, so that
 * between requests the file holds exactly blob_upload_size bytes. ST_OK, or
 * the upload's poison (ST_NO_SPACE, ST_IO, ...). A no-op for an unstaged
 * upload. Commit and free flush first.
 */
status_t blob_upload_flush(blob_upload *up);

/*
 * Flushes up and closes its file until the next write or commit opens it
 * again (and checks it is still the size written). An upload between
 * requests may wait hours for its next chunk, or forever: parked, it holds
 * no file descriptor, so abandoned sessions cannot exhaust them.
 */
void blob_upload_park(blob_upload *up);

/* Bytes written so far. */
uint64_t blob_upload_size(const blob_upload *up);
/* The algorithm the running hash uses. */
digest_alg blob_upload_alg(const blob_upload *up);

/*
 * Finishes an upload: fsyncs the file, compares its digest with expected
 * (re-reading the file only if expected uses another algorithm than the
 * running hash), and renames it into blobs/. If the blob already exists the
 * upload file is simply removed. ST_OK (the upload file is gone, and
 * up must still be freed); ST_DIGEST_MISMATCH (nothing stored, the upload
 * file is removed); ST_INVALID for a malformed expected digest (the upload
 * stays usable) or an upload already committed; ST_NO_SPACE; ST_NOMEM;
 * ST_IO. Any failure but ST_INVALID poisons the upload with its status, as
 * blob_upload_write does. *out_size (may be NULL) gets the blob's size.
 */
status_t blobstore_upload_commit(blobstore *bs, blob_upload *up, const char *expected,
				 uint64_t *out_size);

/* Closes the file and frees the state; the file stays. NULL is a no-op. */
void blob_upload_free(blob_upload *up);

/*
 * Opens upload id's file read-only, for readers that follow its writer (the
 * pull-through cache streams a blob to clients while it arrives). The fd
 * stays valid after a commit renames the file or a failure removes it.
 * ST_OK with *out_fd (caller closes); ST_NOT_FOUND; ST_INVALID for a bad
 * id; ST_IO.
 */
status_t blobstore_upload_open_read(blobstore *bs, const char *id, int *out_fd);

/* Removes the file of upload id. ST_OK, ST_NOT_FOUND, ST_INVALID for a bad id, ST_IO. */
status_t blobstore_upload_remove(blobstore *bs, const char *id);

/*
 * Calls fn for every upload file not modified since before `before`
 * (fn decides and may call blobstore_upload_remove), blobstore_put's
 * temporary files included; files whose names are not valid ids are none
 * of the store's and are skipped. ST_OK or ST_IO.
 */
status_t blobstore_upload_list_stale(blobstore *bs, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg);

#endif
