/*
 * meta.h - the metadata index: repositories, manifests, tags, the blobs each
 * repository may serve, referrers and upload sessions. The interface every
 * caller uses, and the table of operations a backend implements.
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

/* Removes the link (and the repository, if that emptied it). ST_OK,
 * ST_NOT_FOUND, ST_IO. */
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
 * it; a repository left with no tag, manifest or link goes too (it leaves
 * the catalog). ST_OK, ST_NOT_FOUND, ST_IO.
 */
status_t meta_manifest_delete(meta *m, const char *repo, const char *digest);

/* ---- tags ---- */

/* Removes one tag (the manifest stays). ST_OK, ST_NOT_FOUND, ST_IO. */
status_t meta_tag_delete(meta *m, const char *repo, const char *tag);

/* As meta_repo_list, for the tags of repo. ST_NOT_FOUND if repo does not exist. */
status_t meta_tag_list(meta *m, const char *repo, const char *last, int n,
		       int (*fn)(void *arg, const char *tag), void *arg, bool *out_more);

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

/* ---- blob rows: what garbage collection relies on ----
 *
 * Every blob of the store (layer, config, manifest) has a row: its size,
 * when it was created and when it was last referenced (microseconds; each
 * reference moves it strictly forward, so a compare-and-set on it sees
 * every reference made after it read). Each link has such a time too.
 * What referenced means: a push, mount or upload commit linking it, a
 * manifest push naming it, a read (meta_blob_use), each in the same
 * transaction that checks it is there.
 *
 * The rules every writer and the collector keep, so that a link always
 * has its row and its file:
 *   - A row goes (meta_gc_blobs_drop) only while nothing links it and no
 *     manifest is it (nor, for GC, references it), and only if it was not
 *     referenced since the collector read it.
 *   - A file goes only inside meta_gc_reap, which holds the write lock and
 *     finds no row for it; so once a row exists, its file stays.
 *   - A link is made only where the row exists (mount: a link exists) or
 *     has existed without a break since before the file was published
 *     (meta_blob_hold, publish, meta_blob_link_held; a manifest: hold,
 *     store, meta_manifest_push). meta_blob_link, for writers that do not
 *     race a collector (the cache, import), upserts the row as it links.
 */

/* Records (or bumps) digest's row before its file is published: a
 * collector leaves it alone for its delay (gc_delay), which covers the
 * writer's few milliseconds to its link; with a delay shorter than that,
 * meta_blob_link_held tells the writer. ST_OK with *out_gen: the row's
 * creation time, which meta_blob_link_held and meta_manifest_push check
 * (the row did not go meanwhile). ST_INVALID, ST_NO_SPACE, ST_IO. */
status_t meta_blob_hold(meta *m, const char *digest, uint64_t size, int64_t *out_gen);

/* meta_blob_link, if digest's row is still the one meta_blob_hold gave gen
 * for: ST_OK; ST_BUSY when it went meanwhile (a collector may have removed
 * the file: hold again, check the file, retry); ST_INVALID, ST_IO. */
status_t meta_blob_link_held(meta *m, const char *repo, const char *digest, uint64_t size,
			     int64_t gen);

/*
 * As meta_blob_get, for a read that may be followed by a push naming it
 * (HEAD, then a manifest PUT): when the link or the row was last
 * referenced more than fresh_us ago, both are bumped to now, in one
 * transaction that checks the link is still there. A collector with a delay
 * of D never takes what a read with fresh_us <= D/2 found before D/2 has
 * passed. ST_OK with *out_size (may be NULL); ST_NOT_FOUND; ST_IO.
 */
status_t meta_blob_use(meta *m, const char *repo, const char *digest, int64_t fresh_us,
		       uint64_t *out_size);

/* A cross-repository mount in one transaction: links digest to repo if
 * `from` (NULL: any repository) has it linked, bumping it. ST_OK with
 * *out_size (may be NULL); ST_NOT_FOUND; ST_INVALID; ST_IO. */
status_t meta_blob_mount(meta *m, const char *repo, const char *from, const char *digest,
			 uint64_t *out_size);

/* What a manifest push checks in its transaction (meta_manifest_push). */
typedef struct {
	const char *const *need; /* digests that must be in the repository */
	size_t nneed;
	bool need_manifests; /* need names manifests of it (an index), else linked blobs */
	int64_t gen;	     /* meta_blob_hold's answer for the manifest's own digest */
	size_t missing;	     /* out, on ST_NOT_FOUND: the index in need of one not there */
} meta_push;

/*
 * meta_manifest_put for a client's push: in the same transaction, every
 * digest p->need names is checked and bumped, the subject's row is bumped
 * (its referrer keeps it), and the manifest's own row must be the one
 * p->gen names. ST_OK; ST_NOT_FOUND (p->missing says which); ST_BUSY (the
 * manifest's row went meanwhile: hold it, store the bytes again, retry);
 * else as meta_manifest_put.
 */
status_t meta_manifest_push(meta *m, const char *repo, const meta_manifest *man,
			    const char *const *refs, size_t nrefs, const char *const *tags,
			    size_t ntags, meta_push *p);

/* One candidate of a collection: a manifest of a repository, a link, or a
 * blob row, as it was read. */
typedef struct {
	char digest[DIGEST_MAX];
	uint64_t size;
	int64_t touched_us; /* last referenced, as read: what the drop compares */
	bool dropped;	    /* set by the _drop functions */
} meta_gc_item;

/*
 * The manifests of repo nothing keeps (none of: a tag, referenced after
 * before_us, named by a manifest kept (an index's children), the referrer
 * of one kept), at most max, into out. ST_OK with *out_n (0 for a
 * repository that does not exist); ST_IO.
 */
status_t meta_gc_manifests(meta *m, const char *repo, int64_t before_us, meta_gc_item *out,
			   size_t max, size_t *out_n);
/* Removes each of items[n] from repo (with its references) in one
 * transaction, if still untagged, not referenced since read, and named by
 * no manifest left in repo (dropped says which went; what stays may go at
 * a later call, once what named it went). An emptied repository goes too.
 * ST_OK, ST_IO (nothing changed). */
status_t meta_gc_manifests_drop(meta *m, const char *repo, meta_gc_item *items, size_t n);

/* The links of repo no manifest of it references, last referenced at or
 * before before_us, with digests after `after` (NULL: from the start), in
 * order, at most max. ST_OK with *out_n; ST_IO. */
status_t meta_gc_links(meta *m, const char *repo, int64_t before_us, const char *after,
		       meta_gc_item *out, size_t max, size_t *out_n);
/* Removes each link in one transaction if still unreferenced and not
 * referenced since read; an emptied repository goes. ST_OK, ST_IO. */
status_t meta_gc_links_drop(meta *m, const char *repo, meta_gc_item *items, size_t n);

/* Blob rows nothing keeps (no link, no manifest is or references them),
 * last referenced at or before before_us, digests after `after`, in order,
 * at most max. ST_OK with *out_n; ST_IO. */
status_t meta_gc_blobs(meta *m, int64_t before_us, const char *after, meta_gc_item *out, size_t max,
		       size_t *out_n);
/* Removes each row in one transaction if still kept by nothing and (unless
 * evict) not referenced since read. evict: the cache's eviction, which may
 * take a blob that cached manifests reference (it fetches it again) but
 * never one linked anywhere or a manifest. ST_OK, ST_IO. */
status_t meta_gc_blobs_drop(meta *m, meta_gc_item *items, size_t n, bool evict);
/* Calls fn for each of items[n] that has no row, holding the write lock
 * throughout (unless dry), so fn may remove its file: no writer can make a
 * row for it meanwhile. fn must not call back into m. ST_OK, ST_IO. */
status_t meta_gc_reap(meta *m, meta_gc_item *items, size_t n, bool dry,
		      void (*fn)(void *arg, meta_gc_item *it), void *arg);

typedef struct {
	size_t tags, manifests, links;
} meta_repo_counts;
/* Removes up to max tags, manifests and links of repo (in that order) in
 * one transaction, adding them to *counts; once none is left, the
 * repository goes and *out_done is true. ST_OK; ST_NOT_FOUND; ST_IO. */
status_t meta_repo_clear(meta *m, const char *repo, size_t max, meta_repo_counts *counts,
			 bool *out_done);

/* A private copy of the index as it is now (one consistent read), which
 * changes only through its own calls and is gone at meta_close: a dry run
 * does the real work on it. ST_OK with *out; ST_NOMEM; ST_IO. */
status_t meta_snapshot(meta *m, meta **out);

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
	status_t (*manifest_push)(meta *m, const char *repo, const meta_manifest *man,
				  const char *const *refs, size_t nrefs, const char *const *tags,
				  size_t ntags, meta_push *p);
	status_t (*blob_hold)(meta *m, const char *digest, uint64_t size, int64_t *out_gen);
	status_t (*blob_link_held)(meta *m, const char *repo, const char *digest, uint64_t size,
				   int64_t gen);
	status_t (*blob_use)(meta *m, const char *repo, const char *digest, int64_t fresh_us,
			     uint64_t *out_size);
	status_t (*blob_mount)(meta *m, const char *repo, const char *from, const char *digest,
			       uint64_t *out_size);
	status_t (*gc_manifests)(meta *m, const char *repo, int64_t before_us, meta_gc_item *out,
				 size_t max, size_t *out_n);
	status_t (*gc_manifests_drop)(meta *m, const char *repo, meta_gc_item *items, size_t n);
	status_t (*gc_links)(meta *m, const char *repo, int64_t before_us, const char *after,
			     meta_gc_item *out, size_t max, size_t *out_n);
	status_t (*gc_links_drop)(meta *m, const char *repo, meta_gc_item *items, size_t n);
	status_t (*gc_blobs)(meta *m, int64_t before_us, const char *after, meta_gc_item *out,
			     size_t max, size_t *out_n);
	status_t (*gc_blobs_drop)(meta *m, meta_gc_item *items, size_t n, bool evict);
	status_t (*gc_reap)(meta *m, meta_gc_item *items, size_t n, bool dry,
			    void (*fn)(void *arg, meta_gc_item *it), void *arg);
	status_t (*repo_clear)(meta *m, const char *repo, size_t max, meta_repo_counts *counts,
			       bool *out_done);
	status_t (*snapshot)(meta *m, meta **out);
};

struct meta {
	const meta_ops *m_ops;
};

#endif
