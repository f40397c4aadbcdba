/*
 * tar.h - just enough tar for OCI image layouts in an archive (the format
 * `skopeo copy oci-archive:` reads and writes).
 *
 * Writing: POSIX ustar headers for regular files and folders, a PAX
 * header before a name longer than 100 bytes; sizes of 8 GiB and more in
 * the GNU base-256 form. Reading: ustar (with its prefix
 * field), PAX extended headers (path, size), GNU long names, base-256
 * sizes; global headers, links and devices are skipped. Every header's
 * checksum is verified. Names lose a leading "./"; a name with ".." or an
 * absolute one is refused (nothing here writes files by those names, but
 * the caller may trust them).
 */
#ifndef TAR_H
#define TAR_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"

#define TAR_BLOCK 512
#define TAR_NAME_MAX 1024 /* longest name accepted, with NUL */

/* Writes a header for a regular file (type '0') or folder ('5') of size
 * bytes named name to fd (a name over 100 bytes goes in a PAX header
 * first). ST_OK, ST_INVALID (empty, or TAR_NAME_MAX or longer), ST_IO,
 * ST_NO_SPACE. */
status_t tar_write_header(int fd, const char *name, uint64_t size, char type);

/* Writes len bytes of an entry's data. ST_OK, ST_IO, ST_NO_SPACE. */
status_t tar_write_data(int fd, const void *buf, size_t len);

/* Pads an entry of size bytes to the next block. */
status_t tar_write_pad(int fd, uint64_t size);

/* The end of the archive: two zero blocks. */
status_t tar_write_end(int fd);

typedef struct {
	char name[TAR_NAME_MAX];
	uint64_t size;
	char type; /* '0' regular file, '5' folder, else something skipped by callers */
} tar_entry;

typedef struct tar_reader tar_reader;

/* A reader over fd (not closed by it). ST_OK with *out, ST_NOMEM. */
status_t tar_reader_new(tar_reader **out, int fd);
void tar_reader_free(tar_reader *r);

/*
 * Moves to the next entry (skipping what is left of the current one).
 * ST_OK with *out; ST_NOT_FOUND at the end of the archive; ST_INVALID for
 * a malformed archive (bad checksum, truncated, a refused name); ST_IO.
 */
status_t tar_next(tar_reader *r, tar_entry *out);

/* Reads up to max bytes of the current entry. ST_OK with *out_n (0 at the
 * entry's end); ST_INVALID if the archive ends inside it; ST_IO. */
status_t tar_read(tar_reader *r, void *buf, size_t max, size_t *out_n);

#endif
