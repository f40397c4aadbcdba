/*
 * status.h - the one status type of the whole program.
 *
 * Every public function returns a status_t. Storage returns the generic
 * codes (ST_NOT_FOUND, ST_INVALID, ...); the core (core/core.h) narrows
 * them to the OCI-specific ones (ST_BLOB_UNKNOWN, ...) that a client is
 * told. The mapping to an HTTP status and an OCI error code lives in one
 * place: server/reply.c. common/ is a leaf: every layer may include it,
 * and it includes nothing of theirs.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

typedef enum {
	ST_OK = 0,
	/* generic */
	ST_NOT_FOUND,	    /* the thing asked for does not exist */
	ST_EXISTS,	    /* already there (not always an error) */
	ST_INVALID,	    /* malformed input */
	ST_TOO_LARGE,	    /* over a configured limit */
	ST_RANGE,	    /* a range that cannot be satisfied or is out of order */
	ST_IO,		    /* an I/O or database failure */
	ST_NO_SPACE,	    /* the disk is full (ENOSPC, EDQUOT, SQLITE_FULL) */
	ST_NOMEM,	    /* allocation failed */
	ST_UNSUPPORTED,	    /* valid, but not something we do */
	ST_DIGEST_MISMATCH, /* content does not match the digest it claims */
	ST_BUSY,	    /* locked by someone else; try again */
	/* OCI-specific, chosen by handlers */
	ST_BLOB_UNKNOWN,
	ST_BLOB_UPLOAD_UNKNOWN,
	ST_BLOB_UPLOAD_INVALID,
	ST_DIGEST_INVALID,
	ST_MANIFEST_UNKNOWN,
	ST_MANIFEST_INVALID,
	ST_MANIFEST_BLOB_UNKNOWN,
	ST_NAME_INVALID,
	ST_NAME_UNKNOWN,
	ST_TAG_INVALID,
	ST_SIZE_INVALID,
	ST_UNAUTHORIZED,
	ST_DENIED,
	ST_TOO_MANY_REQUESTS,
	ST_METHOD_NOT_ALLOWED,
	ST_NOT_ROUTE, /* no such endpoint */
	ST_INTERNAL,
	/* the pull-through cache (proxy/) */
	ST_UNAVAILABLE, /* an upstream registry, the object store (storage = s3)
			   or the metadata database (metadata = postgres)
			   cannot be reached or keeps failing */
	ST_BAD_GATEWAY, /* an upstream answered with something unusable */
	ST__COUNT
} status_t;

/* A short English name for st ("not found", ...). Never NULL. */
const char *status_str(status_t st);

/* Writes a printf-formatted message into err (errlen bytes, always
 * NUL-terminated); does nothing when err is NULL or errlen is 0. The one way
 * parsers explain a failure to their caller. */
void status_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
