/*
 * stage.h - a staged writer: the fast path of large uploads (blobstore_fs.c).
 *
 * Bytes are copied into a ring of 4 KiB-aligned slots; one helper thread
 * feeds each full slot to a running hash, another writes it to the file,
 * with O_DIRECT where the slot is aligned in the file (an unaligned first
 * or last slot goes through the page cache). So the caller's thread only
 * receives and copies, hashing runs on another core, and the page-cache
 * copy is gone; what O_DIRECT wrote is read back into the page cache by
 * the kernel's readahead (no copy here), as the first pull of a blob
 * usually follows its push. Slots are hashed and written in file order; a
 * crash leaves a prefix of what was staged. Nothing here knows uploads,
 * stores or HTTP. One thread at a time calls stage_write and stage_end.
 */
#ifndef STORAGE_STAGE_H
#define STORAGE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../oci/digest.h"
#include "../common/status.h"

#define STAGE_SLOT_BYTES (512 * 1024)
#define STAGE_SLOTS_MAX 4
#define STAGE_ALIGN 4096 /* O_DIRECT alignment of offsets, lengths, buffers */
/* What O_DIRECT wrote below this file offset is read back into the page
 * cache as it is written (stage.c): a blob's first pull follows its push. */
#define STAGE_READBACK_MAX (1024ull * 1024 * 1024)

typedef struct stage stage;

/*
 * A ring of nslots (2 to STAGE_SLOTS_MAX) slots writing from file offset
 * off: aligned slots to dfd (opened O_DIRECT; the stage owns it and closes
 * it at stage_end), the rest to fd (borrowed). hash is borrowed too, and
 * used by a helper thread until stage_end returns. ST_OK with *out, or
 * ST_NOMEM (nothing taken: dfd is still the caller's).
 */
status_t stage_new(stage **out, int fd, int dfd, digest_ctx *hash, uint64_t off, int nslots);

/* Copies buf into the ring, waiting for a free slot when all are taken.
 * ST_OK, or the first write failure (ST_NO_SPACE, ST_IO): then stop. */
status_t stage_write(stage *sg, const void *buf, size_t len);

/* Hands over the last slot, waits until everything is hashed and in the
 * file, ends the threads and frees sg. ST_OK or the first write failure. */
status_t stage_end(stage *sg);

#endif
