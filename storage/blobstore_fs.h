/*
 * blobstore_fs.h - the "filesystem" blob store backend: blobs on local disk.
 *
 * Layout under the root folder (the location given to open):
 *   blobs/<alg>/<first two hex>/<hex>   committed blobs, immutable, one per digest
 *   uploads/<id>                        bytes of an upload session in progress
 *   trash/<alg>-<hex>                   retired blobs, until blobstore_purge
 *   quarantine/<alg>-<hex>              blobs scrub found corrupt
 *
 * Guarantees (blobstore.h asks them of every backend):
 *   - Atomic publish: a file under blobs/ is complete and its name is its
 *     digest. It gets there only by rename(2) of an fsynced upload file
 *     whose digest was verified, followed by an fsync of the folder, so a
 *     crash at any instant leaves either no file or the whole file, and a
 *     commit that returned survives power loss.
 *   - Read-after-write: rename is visible at once to every thread and
 *     process on the machine; readers are plain fds, and a reader opened
 *     before a delete keeps reading the blob.
 *   - Readers have an fd (blob_reader_take_fd), for sendfile.
 *   - Upload files are never served; one process per root (open removes
 *     blobstore_put's temporary files a crash left behind).
 */
#ifndef BLOBSTORE_FS_H
#define BLOBSTORE_FS_H

#include "blobstore.h"

/* Name "filesystem". open: the store under root, creating folders as
 * needed; ST_INVALID for an empty root, ST_NOMEM, ST_IO. */
extern const blobstore_ops blobstore_fs_ops;

#endif
