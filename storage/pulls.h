/*
 * pulls.h - what the pull-through cache holds and when it was last pulled,
 * for bounding the cache: least recently pulled blobs go first, never a
 * blob that a manifest pulled within the keep window references.
 *
 * Its own SQLite file (DATA/cache.db, WAL), apart from the metadata index:
 * losing it loses only recency, never content (a blob it does not list is
 * simply never evicted). Only blobs the cache fetched are listed; blobs
 * pushed here are not, so they are never candidates. A `pulls` is one
 * connection, used by one thread at a time. Nothing here knows HTTP or
 * upstreams.
 */
#ifndef PULLS_H
#define PULLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../oci/digest.h"
#include "../common/status.h"

typedef struct pulls pulls;

/* Opens (creating) the file at path. ST_OK with *out (pulls_close), ST_IO. */
status_t pulls_open(pulls **out, const char *path);
/* NULL is a no-op. */
void pulls_close(pulls *p);

/* The cache fetched blob digest of size bytes at when. ST_OK, ST_IO, ST_NO_SPACE. */
status_t pulls_blob_cached(pulls *p, const char *digest, uint64_t size, time_t when);

/* Manifest manifest (a cached one) references refs (its config and layers,
 * or an index's manifests). ST_OK, ST_IO, ST_NO_SPACE. */
status_t pulls_manifest_refs(pulls *p, const char *manifest, const char *const *refs, size_t n);

/* A blob or manifest was pulled at when (later times win). ST_OK, ST_IO. */
status_t pulls_touch(pulls *p, const char *digest, time_t when);

/* Bytes of the blobs listed. ST_OK, ST_IO. */
status_t pulls_total(pulls *p, uint64_t *out);

/*
 * Calls fn for listed blobs, least recently pulled first, skipping every
 * blob referenced (directly, or through an index) by a manifest pulled at
 * or after keep_since; stops when fn returns non-zero. fn must not call
 * back into p (collect, then act). ST_OK, ST_IO.
 */
status_t pulls_victims(pulls *p, time_t keep_since,
		       int (*fn)(void *arg, const char *digest, uint64_t size, time_t pulled),
		       void *arg);

/* Stops listing digest (evicted, or not the cache's to evict). ST_OK, ST_IO. */
status_t pulls_forget(pulls *p, const char *digest);

#endif
