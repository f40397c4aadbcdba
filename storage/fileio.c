/*
 * fileio.c - shared file-writing rules (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <unistd.h>

status_t fileio_status(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? ST_NO_SPACE : ST_IO;
}

status_t fileio_write(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return fileio_status(errno);
		}
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return ST_OK;
}
