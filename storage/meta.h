/*
 * meta.h - the metadata index: repositories, manifests, tags, the blobs each
 * repository may serve, referrers, upload sessions and the event queue. The
 * interface every caller uses, and the table of operations a backend
 * implements.
 *
 * Backends (chosen by name, see meta_open_backend): "sqlite" (meta_sqlite.h,
 * one file in WAL mode under the data folder) is the only one so far;
 * PostgreSQL is planned. The caller holds a `meta` and never learns which
 * backend serves it: every function below is a dispatch through its
 * meta_ops. A `meta` is one connection and is used by ONE thread at a time:
 * each worker thread opens its own and keeps it. What every backend
 * guarantees:
 *   - Every write that touches several rows is one transaction, so a crash
 *     leaves either all of it or none; a write that returned ST_OK is
 *     durable (it survives power loss).
 *   - Read-after-write across connections: once a write returned, every
 *     connection of the process (any thread) sees it at its next call.
 *   - Lists are in byte order and paginated by key (`last`), not by offset.
 * It knows nothing of HTTP or of where blob bytes live.
 *
 * Strings passed in are borrowed; strings in out structs are copied into
 * fixed buffers owned by the caller. Callbacks run while a query is live:
 * they must not call back into the same `meta` (collect, then act).
 * ST_IO also covers a write lock not obtained within the busy timeout.
 */
#ifndef META_H
#define META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../oci/digest.h"
#include "../common/status.h"

typedef struct meta meta;
typedef struct meta_ops meta_ops;

#define META_NAME_MAX 256	/* repository name, with NUL */
#define META_TAG_MAX 129	/* tag, with NUL */
#define META_MEDIA_TYPE_MAX 256 /* media type / artifact type, with NUL */

/* The backend the registry uses unless configured otherwise. */
#define META_DEFAULT_BACKEND "sqlite"

/*
 * Opens a connection to the index of backend `backend` ("sqlite") at
 * location (for sqlite: the database file), creating and migrating the
 * schema as needed. ST_OK with *out (caller frees with meta_close);
 * ST_INVALID for an unknown backend name (logged with the known ones) or a
 * NULL location; ST_NOMEM; ST_IO.
 */
status_t meta_open_backend(meta **out, const char *backend, const char *location);

/* meta_open_backend(out, "sqlite", path): the SQLite database at path. */
status_t meta_open(meta **out, const char *path);

/* The operations of the backend called name, or NULL if there is none
 * (the configuration checks names with it). */
const meta_ops *meta_backend_find(const char *name);

/* NULL is a no-op. */
void meta_close(meta *m);

/* ---- repositories ---- */

/* ST_OK if the repository exists, ST_NOT_FOUND, ST_IO. */
status_t meta_repo_exists(meta *m, const char *repo);

/*
 * Calls fn for repository names in lexical order, strictly after `last`
 * (NULL or "" = from the start), at most n of them (n <= 0: no limit).
 * Stops early if fn returns non-zero. *out_more (may be NULL) tells whether
 * more names follow. ST_OK, ST_IO.
 */
status_t meta_repo_list(meta *m, const char *last, int n, int (*fn)(void *arg, const char *name),
			void *arg, bool *out_more);

/* ---- blobs linked to a repository ---- */

/* Records that repo may serve digest (creating repo if needed). Idempotent.
 * ST_OK, ST_INVALID (a string too long), ST_NO_SPACE, ST_IO. */
status_t meta_blob_link(meta *m, const char *repo, const char *digest, uint64_t size);

/* ST_OK with *out_size (may be NULL) if repo may serve digest; ST_NOT_FOUND; ST_IO. */
status_t meta_blob_get(meta *m, const char *repo, const char *digest, uint64_t *out_size);

/* ST_OK with *out_size if any repository has digest linked (so the file
 * exists); ST_NOT_FOUND; ST_IO. */
status_t meta_blob_find(meta *m, const char *digest, uint64_t *out_size);

/* Removes the link. ST_OK, ST_NOT_FOUND, ST_IO. */
status_t meta_blob_unlink(meta *m, const char *repo, const char *digest);

/* Calls fn for each repository that has digest linked, in name order;
 * stops early if fn returns non-zero. ST_OK (also for none), ST_IO. */
status_t meta_blob_repos(meta *m, const char *digest, int (*fn)(void *arg, const char *repo),
			 void *arg);

/* ---- manifests ---- */

typedef struct {
	char digest[DIGEST_MAX];
	char media_type[META_MEDIA_TYPE_MAX];
	uint64_t size;
	/* The manifest's artifactType, else its config's media type, else "". */
	char artifact_type[META_MEDIA_TYPE_MAX];
	/* Digest of the `subject` descriptor, or "" when there is none. */
	char subject[DIGEST_MAX];
	/* The `annotations` object as compact JSON, or NULL. Borrowed: the
	 * caller of meta_manifest_put owns it; in meta_referrers' callback it
	 * is valid during the call only; meta_manifest_get sets it NULL. */
	const char *annotations;
	/* Events to queue in the same transaction as the manifest (put only;
	 * NULL/0: none), so a push that returned ST_OK has its events queued
	 * and a failed one has none. Borrowed. */
	const struct meta_event *events;
	size_t nevents;
} meta_manifest;

/*
 * Records manifest m in repo (creating repo), with the digests it references
 * (layers, config, child manifests) and the tags to point at it, all in one
 * transaction. Re-putting the same digest updates nothing but the tags.
 * ST_OK, ST_INVALID (a string too long for meta_manifest's buffers),
 * ST_NO_SPACE, ST_IO.
 */
status_t meta_manifest_put(meta *m, const char *repo, const meta_manifest *man,
			   const char *const *refs, size_t nrefs, const char *const *tags,
			   size_t ntags);

/*
 * Looks up a manifest of repo by digest (ref contains ':') or by tag.
 * ST_OK with *out filled (out->annotations = NULL); ST_NOT_FOUND; ST_IO.
 */
status_t meta_manifest_get(meta *m, const char *repo, const char *ref, meta_manifest *out);

/*
 * Deletes manifest digest from repo, and every tag of repo that points at
 * it. ST_OK, ST_NOT_FOUND, ST_IO.
 */
status_t meta_manifest_delete(meta *m, const char *repo, const char *digest);

/* ---- tags ---- */

/* Removes one tag (the manifest stays). ST_OK, ST_NOT_FOUND, ST_IO. */
status_t meta_tag_delete(meta *m, const char *repo, const char *tag);

/* As meta_repo_list, for the tags of repo. ST_NOT_FOUND if repo does not exist. */
status_t meta_tag_list(meta *m, const char *repo, const char *last, int n,
		       int (*fn)(void *arg, const char *tag), void *arg, bool *out_more);

/* ---- the event queue (core/events.c) ----
 *
 * Events waiting to be POSTed to a notification endpoint: one row per
 * (endpoint, event), in the order the writes that queued them committed
 * (seq grows with every row, never reused). A row goes only when its
 * endpoint acknowledged it (meta_events_ack), so a receiver that is down,
 * or a registry that is killed, loses nothing.
 */
typedef struct meta_event {
	const char *endpoint; /* the receiver's URL: the queue's name */
	const char *repo;     /* the repository the event is about */
	const char *body;     /* the event, one JSON object */
} meta_event;

/* Queues n events in one transaction. ST_OK; ST_INVALID (a NULL or empty
 * string); ST_NO_SPACE; ST_IO. */
status_t meta_events_add(meta *m, const meta_event *v, size_t n);

/* Calls fn with the oldest events of endpoint, at most n, in seq order;
 * stops when fn returns non-zero. ST_OK (none included), ST_IO. */
status_t meta_events_next(meta *m, const char *endpoint, int n,
			  int (*fn)(void *arg, int64_t seq, const char *repo, const char *body),
			  void *arg);

/* Removes endpoint's events up to and including seq (delivered, or an
 * endpoint no longer configured: INT64_MAX). ST_OK (also when none), ST_IO. */
status_t meta_events_ack(meta *m, const char *endpoint, int64_t seq);

/* Calls fn once per endpoint with events queued, with how many. ST_OK, ST_IO. */
status_t meta_events_count(meta *m, int (*fn)(void *arg, const char *endpoint, uint64_t n),
			   void *arg);

/* ---- referrers ---- */

/*
 * Calls fn for each manifest of repo whose subject is `subject`, filtered by
 * artifact_type when it is non-NULL, ordered by digest. The meta_manifest
 * passed to fn (annotations included) is valid only during the call.
 * Stops if fn returns non-zero. ST_OK (also when there are none), ST_IO.
 */
status_t meta_referrers(meta *m, const char *repo, const char *subject, const char *artifact_type,
			int (*fn)(void *arg, const meta_manifest *man), void *arg);

/* ---- upload sessions ---- */

typedef struct {
	char id[65];
	char repo[META_NAME_MAX];
	digest_alg alg;
	time_t created;
	time_t updated;
} meta_upload;

/* Records a new upload session. ST_OK, ST_EXISTS, ST_INVALID (id or repo
 * too long), ST_NO_SPACE, ST_IO. */
status_t meta_upload_create(meta *m, const char *id, const char *repo, digest_alg alg);
/* ST_OK with *out, ST_NOT_FOUND, ST_IO. */
status_t meta_upload_get(meta *m, const char *id, meta_upload *out);
/* Sets updated to now. ST_OK, ST_NOT_FOUND, ST_IO. */
status_t meta_upload_touch(meta *m, const char *id);
/* ST_OK, ST_NOT_FOUND, ST_IO. */
status_t meta_upload_delete(meta *m, const char *id);
/* Calls fn for each session with updated < before. ST_OK, ST_IO. fn must
 * not call back into m; collect ids and delete afterwards. */
status_t meta_upload_list_stale(meta *m, time_t before, void (*fn)(void *arg, const char *id),
				void *arg);

/* ---- for backends ----
 *
 * A backend is a const meta_ops and a connection struct that begins with
 * `struct meta` (so a meta * of the backend points to its own struct,
 * which it casts back). The functions above check nothing and call the
 * operation of the same name; each operation keeps the contract written
 * above for its function (statuses, what is left on failure, what the
 * callbacks may do), and the shared tests (tests/unit/test_meta.c) run
 * against every backend. Every operation is required.
 */
struct meta_ops {
	const char *name; /* as configured: "sqlite" */
	status_t (*open)(meta **out, const char *location);
	void (*close)(meta *m); /* never called with NULL */
	status_t (*repo_exists)(meta *m, const char *repo);
	status_t (*repo_list)(meta *m, const char *last, int n,
			      int (*fn)(void *arg, const char *name), void *arg, bool *out_more);
	status_t (*blob_link)(meta *m, const char *repo, const char *digest, uint64_t size);
	status_t (*blob_get)(meta *m, const char *repo, const char *digest, uint64_t *out_size);
	status_t (*blob_find)(meta *m, const char *digest, uint64_t *out_size);
	status_t (*blob_unlink)(meta *m, const char *repo, const char *digest);
	status_t (*blob_repos)(meta *m, const char *digest, int (*fn)(void *arg, const char *repo),
			       void *arg);
	status_t (*manifest_put)(meta *m, const char *repo, const meta_manifest *man,
				 const char *const *refs, size_t nrefs, const char *const *tags,
				 size_t ntags);
	status_t (*manifest_get)(meta *m, const char *repo, const char *ref, meta_manifest *out);
	status_t (*manifest_delete)(meta *m, const char *repo, const char *digest);
	status_t (*tag_delete)(meta *m, const char *repo, const char *tag);
	status_t (*tag_list)(meta *m, const char *repo, const char *last, int n,
			     int (*fn)(void *arg, const char *tag), void *arg, bool *out_more);
	status_t (*referrers)(meta *m, const char *repo, const char *subject,
			      const char *artifact_type,
			      int (*fn)(void *arg, const meta_manifest *man), void *arg);
	status_t (*upload_create)(meta *m, const char *id, const char *repo, digest_alg alg);
	status_t (*upload_get)(meta *m, const char *id, meta_upload *out);
	status_t (*upload_touch)(meta *m, const char *id);
	status_t (*upload_delete)(meta *m, const char *id);
	status_t (*upload_list_stale)(meta *m, time_t before, void (*fn)(void *arg, const char *id),
				      void *arg);
	status_t (*events_add)(meta *m, const meta_event *v, size_t n);
	status_t (*events_next)(meta *m, const char *endpoint, int n,
				int (*fn)(void *arg, int64_t seq, const char *repo,
					  const char *body),
				void *arg);
	status_t (*events_ack)(meta *m, const char *endpoint, int64_t seq);
	status_t (*events_count)(meta *m, int (*fn)(void *arg, const char *endpoint, uint64_t n),
				 void *arg);
};

struct meta {
	const meta_ops *m_ops;
};

#endif
