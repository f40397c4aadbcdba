/*
 * blobstore_s3.h - the blob store on an S3-compatible object store
 * (backend "s3"; tested against Ceph RGW). Keys, under s3_prefix:
 *   blobs/<alg>/<hex>          a committed blob
 *   uploads/<id>/begin         an upload session exists (empty object)
 *   uploads/<id>/pNNNNN        its bytes, part N (1-based, in order)
 *   quarantine/<alg>-<hex>     a blob scrub found corrupt
 * How each guarantee of blobstore.h is kept:
 *   - Upload bytes are buffered in memory up to one part (s3_part_size,
 *     growing for parts past every 1,000th so 10,000 parts reach S3's 5 TiB);
 *     a full part is PUT as its own object; at the end of every request
 *     (flush, park) the partial last part is PUT too, so the stored parts
 *     are always the session's bytes and a restart resumes by re-hashing
 *     them (upload_resume). Parked uploads hold no memory.
 *   - Commit verifies the digest first, then makes the blob appear at once
 *     with a server-side copy: CopyObject for one part, else a multipart
 *     upload whose parts are UploadPartCopy of the part objects, visible
 *     only when CompleteMultipartUpload succeeds (a failure aborts it).
 *     No byte passes through the registry twice.
 *   - Readers GET with Range (a 4 MiB read-ahead); they have no fd.
 *   - A reader of an upload this process is writing (upload_open_read, the
 *     pull-through cache) sees every byte written, flushed or not: what is
 *     not in a stored part yet is copied from the writer's buffer (under
 *     the upload's lock, never held across a request), stored parts are
 *     read from the bucket, and after the commit the blob is. The writer
 *     and its readers share the upload's state, freed by the last of them.
 *     A reader of another process's upload sees the stored parts only.
 *   - Leftover multipart uploads under blobs/ (a commit that crashed) are
 *     aborted by upload_list_stale, the lifecycle's sweep.
 *   - backup is not supported (ST_UNSUPPORTED): use the bucket's own
 *     replication or versioning.
 */
#ifndef BLOBSTORE_S3_H
#define BLOBSTORE_S3_H

#include "blobstore.h"

/* Name "s3". open: checks options and that the bucket exists (a missing
 * bucket or refused credentials are ST_INVALID, logged); ST_UNAVAILABLE
 * when the endpoint cannot be reached, ST_IO when libcurl cannot be loaded;
 * ST_NOMEM. Every operation answers ST_UNAVAILABLE when S3 cannot be
 * reached or keeps answering 5xx after the retries (a client gets 503). */
extern const blobstore_ops blobstore_s3_ops;

/* The size of part n (1-based) for base part size base: base, doubled
 * after every 1,000 parts, at most 5 GiB. For tests. */
uint64_t blobstore_s3_part_size(uint64_t base, unsigned n);

#endif
