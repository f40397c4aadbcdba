/* status.c - names for status codes, and the one formatter of error messages. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const names[ST__COUNT] = {
    [ST_OK] = "ok",
    [ST_NOT_FOUND] = "not found",
    [ST_EXISTS] = "already exists",
    [ST_INVALID] = "invalid",
    [ST_TOO_LARGE] = "too large",
    [ST_RANGE] = "range not satisfiable",
    [ST_IO] = "I/O error",
    [ST_NO_SPACE] = "no space left on device",
    [ST_NOMEM] = "out of memory",
    [ST_UNSUPPORTED] = "unsupported",
    [ST_DIGEST_MISMATCH] = "digest mismatch",
    [ST_BUSY] = "busy",
    [ST_BLOB_UNKNOWN] = "blob unknown to registry",
    [ST_BLOB_UPLOAD_UNKNOWN] = "blob upload unknown to registry",
    [ST_BLOB_UPLOAD_INVALID] = "blob upload invalid",
    [ST_DIGEST_INVALID] = "provided digest did not match uploaded content",
    [ST_MANIFEST_UNKNOWN] = "manifest unknown",
    [ST_MANIFEST_INVALID] = "manifest invalid",
    [ST_MANIFEST_BLOB_UNKNOWN] = "manifest references a blob unknown to the repository",
    [ST_NAME_INVALID] = "invalid repository name",
    [ST_NAME_UNKNOWN] = "repository name not known to registry",
    [ST_TAG_INVALID] = "invalid tag",
    [ST_SIZE_INVALID] = "provided length did not match content length",
    [ST_UNAUTHORIZED] = "authentication required",
    [ST_DENIED] = "requested access to the resource is denied",
    [ST_TOO_MANY_REQUESTS] = "too many requests",
    [ST_METHOD_NOT_ALLOWED] = "the operation is unsupported",
    [ST_NOT_ROUTE] = "no such endpoint",
    [ST_INTERNAL] = "internal error",
    [ST_UNAVAILABLE] = "a service the registry needs is unavailable",
    [ST_BAD_GATEWAY] = "bad response from upstream registry",
};

const char *status_str(status_t st)
{
	if ((unsigned)st >= ST__COUNT || names[st] == 0)
		return "unknown status";
	return names[st];
}

void status_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
