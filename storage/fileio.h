/*
 * fileio.h - the two file-writing rules the blob store and its staged
 * writer share: what an errno means to a caller, and a write that is
 * either whole or an error.
 */
#ifndef STORAGE_FILEIO_H
#define STORAGE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "../common/status.h"

/* ENOSPC and EDQUOT say "the disk is full" (ST_NO_SPACE), everything else
 * "I/O error" (ST_IO). */
status_t fileio_status(int e);

/* Writes all of buf at off, riding out EINTR and short writes. ST_OK, or
 * fileio_status of the failure (errno is left as the failure set it). */
status_t fileio_write(int fd, const void *buf, size_t len, off_t off);

#endif
