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
	/* Who pushed it ("" when unknown or anonymous): meta_manifest_put
	 * records it on the manifest (first push) and on the tags it sets. */
	char pushed_by[META_NAME_MAX];
	/* Filled by meta_manifest_get and meta_referrers (put ignores them):
	 * when it was first pushed, last pulled (0: never), how often pulled. */
	time_t pushed, last_pull;
	uint64_t pulls;
	/* Events to queue in the same transaction as the manifest (put only;
	 * NULL/0: none), so a push that returned ST_OK has its events queued
	 * and a failed one has none (inside meta_write_begin/end: they commit
	 * or roll back with the outer transaction). Borrowed. */
	const struct meta_event *events;
	size_t nevents;
} meta_manifest;

/*
 * Records manifest m in repo (creating repo), with the digests it references
 * (layers, config, child manifests) and the tags to point at it, all in one
 * transaction. Re-putting the same digest updates nothing but the tags. Each
 * tag set records its push: now, by man->pushed_by.
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

/* A tag with its records: where it points, its last push and pulls. */
typedef struct {
	char name[META_TAG_MAX];
	char digest[DIGEST_MAX];
	time_t pushed;		       /* last set (0: before records were kept) */
	char pushed_by[META_NAME_MAX]; /* "" when unknown or anonymous */
	time_t last_pull;	       /* pulled by this tag; 0: never */
	uint64_t pulls;		       /* pulls by this tag */
} meta_tag;

/* Tag `tag` of repo. ST_OK with *out; ST_NOT_FOUND; ST_IO. */
status_t meta_tag_get(meta *m, const char *repo, const char *tag, meta_tag *out);

/* Calls fn for every tag of repo with its records, by name; stops when fn
 * returns non-zero. ST_OK (also for a repository that does not exist), ST_IO. */
status_t meta_tag_records(meta *m, const char *repo, int (*fn)(void *arg, const meta_tag *t),
			  void *arg);

/* ---- browsing (the web UI): a repository's summary, a page of tags ---- */

/* What the UI's repository list shows of one repository. */
typedef struct {
	uint64_t tags;		     /* its tags */
	uint64_t bytes;		     /* its blobs and manifests, each digest once */
	time_t last_push, last_pull; /* 0: never (or not recorded) */
} meta_repo_summary;

/* repo's summary: a few lookups on its own rows (by repo_id), so a page of
 * 50 repositories costs the same among 10 or 10,000. ST_OK with *out;
 * ST_NOT_FOUND; ST_IO. */
status_t meta_repo_summary_get(meta *m, const char *repo, meta_repo_summary *out);

/* A tag with its records and its manifest's size and media type. */
typedef struct {
	meta_tag t;
	uint64_t size;
	char media_type[META_MEDIA_TYPE_MAX];
} meta_tag_row;

/*
 * A page of repo's tags with their records, keyset-paginated: by name
 * (by_pushed false: names after after_name, "" from the start) or newest
 * push first (by_pushed: rows before (after_pushed, after_name) in the
 * order (pushed DESC, name DESC); INT64_MAX and "" from the start), at most
 * n (> 0). *out_more: another row follows. Stops when fn returns non-zero.
 * ST_OK (none for a repository that does not exist); ST_IO.
 */
status_t meta_tag_page(meta *m, const char *repo, bool by_pushed, int64_t after_pushed,
		       const char *after_name, int n, int (*fn)(void *arg, const meta_tag_row *r),
		       void *arg, bool *out_more);

/* ---- write transactions over several calls ----
 *
 * A rule checked against the index and the write it allows must be one
 * unit (a quota: the sum and the link; an immutable tag: its digest and
 * the move), or two writers could both pass the check. Between
 * meta_write_begin and meta_write_end the calls of this connection are one
 * transaction holding the write lock: other connections wait (busy
 * timeout), then see all of it or none. Calls that write inside it nest:
 * one that fails undoes its own part only, and the caller decides.
 */

/* ST_OK with the write lock held; ST_IO (not obtained within the busy
 * timeout); ST_INVALID if this connection has one open already. */
status_t meta_write_begin(meta *m);
/* Commits (commit true: durable once ST_OK) or rolls back the transaction.
 * ST_OK; ST_NO_SPACE or ST_IO (a failed commit is rolled back); ST_INVALID
 * when none is open. */
status_t meta_write_end(meta *m, bool commit);

/* ---- usage: quotas, `registry du`, pull records ---- */

/*
 * The bytes held by the repositories match(arg, name) accepts: blobs
 * linked to them and their manifests, each digest counted once however
 * many of them hold it. *out_has (may be NULL): whether digest (may be
 * NULL) is among them, so linking it there adds nothing. match must not
 * call into m. ST_OK, ST_IO.
 */
status_t meta_usage(meta *m, bool (*match)(void *arg, const char *repo), void *arg,
		    const char *digest, uint64_t *out_bytes, bool *out_has);

/* One line of `registry du`: a repository, or a namespace (the first
 * component of names that have one: "team-a" for team-a/app). */
typedef struct {
	char name[META_NAME_MAX];
	uint64_t referenced; /* bytes of its blobs and manifests, each digest once */
	uint64_t unique;     /* ...of which no other repository (namespace) holds */
	uint64_t tags, manifests;
	time_t last_push, last_pull; /* 0: never (or before records were kept) */
	uint64_t pulls;		     /* manifest pulls */
} meta_du_row;

/* Calls fn per repository (namespaces false) or per namespace, by name;
 * stops when fn returns non-zero. One read of the whole index. ST_OK, ST_IO. */
status_t meta_du(meta *m, bool namespaces, int (*fn)(void *arg, const meta_du_row *r), void *arg);

/* Pulls to record: count pulls of manifest digest of repo, by tag (NULL
 * or "": by digest), the last at when. */
typedef struct {
	const char *repo, *digest, *tag;
	time_t when;
	uint32_t count;
} meta_pull;

/* Adds n pull records in one transaction (one fsync for a batch); rows of
 * manifests or tags that are gone meanwhile are skipped. ST_OK,
 * ST_NO_SPACE, ST_IO. */
status_t meta_pulls_add(meta *m, const meta_pull *v, size_t n);

/* ---- scrub ---- */

/* Calls fn for every digest the index holds (linked blobs and manifests,
 * once each, with its size) after `after` (NULL or "": from the start), at
 * most n, in order; *out_more: more follow. ST_OK, ST_IO. */
status_t meta_digests(meta *m, const char *after, int n,
		      int (*fn)(void *arg, const char *digest, uint64_t size), void *arg,
		      bool *out_more);

/* Calls fn for every manifest that is digest or references it: its
 * repository and digest, in order. ST_OK (also for none), ST_IO. */
status_t meta_digest_users(meta *m, const char *digest,
			   int (*fn)(void *arg, const char *repo, const char *manifest), void *arg);

/* Records that digest's bytes were quarantined (why: reason), until it is
 * linked or put again. ST_OK, ST_INVALID, ST_NO_SPACE, ST_IO. */
status_t meta_quarantine_add(meta *m, const char *digest, const char *reason);

/* Calls fn for each quarantined digest, in order. ST_OK, ST_IO. */
status_t meta_quarantine_list(
    meta *m, int (*fn)(void *arg, const char *digest, time_t at, const char *reason), void *arg);

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

/* ---- what the index holds, and whether it works (metrics, readiness) ---- */

typedef struct {
	uint64_t repos;	       /* repositories */
	uint64_t manifests;    /* distinct manifest digests */
	uint64_t tags;	       /* tags, over all repositories */
	uint64_t blobs;	       /* distinct blob digests linked to any repository */
	uint64_t stored_bytes; /* sizes of those blobs and manifests, each digest once */
	uint64_t uploads;      /* upload sessions open */
} meta_stats;

/* Counts what the index holds (a read: it changes nothing). ST_OK with
 * *out; ST_IO (*out zeroed). Cost grows with the index (a scan of the
 * digest index): call it at a scrape, not per request. */
status_t meta_stats_get(meta *m, meta_stats *out);

/* Whether the index can be read and written now, without changing it (a
 * read, and a write transaction begun and rolled back). ST_OK; ST_BUSY
 * (another writer held it past the busy timeout); ST_IO. */
status_t meta_ping(meta *m);

/* ---- backups ---- */

/*
 * Writes a copy of the whole index, as it was at one moment, to a new
 * database of the same backend at location (for sqlite: a file, which must
 * not exist), while other connections go on reading and writing (SQLite's
 * online backup API). Upload sessions are left out: their bytes are not
 * part of a backup. ST_OK; ST_EXISTS (location exists); ST_NO_SPACE;
 * ST_IO. On failure nothing is left at location.
 */
status_t meta_backup(meta *m, const char *location);
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

/* ---- one at a time across replicas ----
 *
 * Work that must run in one place at a time among every process that shares
 * the index (garbage collection; delivering an endpoint's events, so each is
 * sent once): a named lock held by this connection until meta_unlock or
 * meta_close (a replica killed loses it with its connection). On SQLite,
 * whose index one machine holds, it is always granted: one process has one
 * collector and one deliverer per endpoint, and its file lock orders the
 * rest.
 */

/* Tries to take lock `name` without waiting: ST_OK with *out_got (false:
 * another connection holds it); ST_IO. */
status_t meta_lock_try(meta *m, const char *name, bool *out_got);
/* Releases lock `name` taken by meta_lock_try on this connection. */
void meta_unlock(meta *m, const char *name);

/* ---- failed logins, shared by replicas ----
 *
 * The brute-force counters of auth/throttle.h, kept in the index so every
 * replica counts the same failures: one row per (client address, user
 * name), and one per address (user ""), each with its failures since the
 * first of its window and the end of its lock. A row lapses at the end of
 * its window (unlocked) or of its lock, and lapsed rows read as absent.
 * Each statement is atomic alone and none takes the write lock: logins
 * never wait behind a push or a collection. Only backends shared by
 * several processes keep them (postgres); on SQLite, one machine's index,
 * the process counts in memory and these return ST_UNSUPPORTED.
 */

#define META_ADDR_MAX 64 /* client address text, with NUL */

/* One counter as it stands. */
typedef struct {
	unsigned failures;     /* 0: no live row */
	bool known;	       /* the user is someone's name (may be logged) */
	int64_t blocked_until; /* seconds since the epoch; 0: not locked */
} meta_login;

/* Called for a row that ended while it was a lock (lapsed or lifted), by
 * the one connection that removed it. */
typedef void (*meta_login_fn)(void *arg, const char *addr, const char *user, bool known);

/* True if m's backend keeps failed logins (the functions below work). */
bool meta_login_kept(meta *m);
/* The same of the backend called name, without a connection (false for
 * an unknown name). */
bool meta_backend_keeps_logins(const char *name);

/*
 * Removes every row lapsed at now (calling ended, may be NULL, for each
 * that was a lock), then reads addr's own row into *out_addr and
 * (addr, user)'s into *out_user (user NULL or "": zeroed). ST_OK,
 * ST_INVALID (addr NULL, empty or too long; user too long), ST_UNSUPPORTED,
 * ST_IO.
 */
status_t meta_login_check(meta *m, const char *addr, const char *user, int64_t now,
			  meta_login *out_addr, meta_login *out_user, meta_login_fn ended,
			  void *arg);

/*
 * Counts one failure for (addr, user) (user "" or NULL: addr's own row) at
 * now: a row lapsed or absent starts again at 1 with its window from now;
 * reaching limit starts a lock until now + window_sec (a locked row keeps
 * counting, its lock unchanged). known is or-ed into the row's. *out is the
 * row after it, so the one call whose failures equal limit started the
 * lock. ST_OK, ST_INVALID, ST_UNSUPPORTED, ST_IO.
 */
status_t meta_login_fail(meta *m, const char *addr, const char *user, bool known, unsigned limit,
			 unsigned window_sec, int64_t now, meta_login *out);

/* A successful login: forgets (addr, user)'s row unless it is a lock.
 * ST_OK (also when there is none), ST_INVALID, ST_UNSUPPORTED, ST_IO. */
status_t meta_login_clear(meta *m, const char *addr, const char *user);

/*
 * Forgets the rows that started at or before `before`: user's at every
 * address (addr NULL), everything at addr (user NULL), or the pair;
 * lifted (may be NULL) is called for each that was a lock. *out_n (may be
 * NULL): rows forgotten. ST_OK, ST_INVALID (both NULL), ST_UNSUPPORTED,
 * ST_IO.
 */
status_t meta_login_unlock(meta *m, const char *addr, const char *user, int64_t before,
			   meta_login_fn lifted, void *arg, size_t *out_n);

/* ---- for backends ----
 *
 * A backend is a const meta_ops and a connection struct that begins with
 * `struct meta` (so a meta * of the backend points to its own struct,
 * which it casts back). The functions above check nothing and call the
 * operation of the same name; each operation keeps the contract written
 * above for its function (statuses, what is left on failure, what the
 * callbacks may do), and the shared tests (tests/unit/test_meta.c) run
 * against every backend. Every operation is required, except the login_*
 * ones (NULL: the backend keeps no failed logins).
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
	status_t (*stats_get)(meta *m, meta_stats *out);
	status_t (*ping)(meta *m);
	status_t (*tag_get)(meta *m, const char *repo, const char *tag, meta_tag *out);
	status_t (*tag_records)(meta *m, const char *repo, int (*fn)(void *arg, const meta_tag *t),
				void *arg);
	status_t (*write_begin)(meta *m);
	status_t (*write_end)(meta *m, bool commit);
	status_t (*usage)(meta *m, bool (*match)(void *arg, const char *repo), void *arg,
			  const char *digest, uint64_t *out_bytes, bool *out_has);
	status_t (*du)(meta *m, bool namespaces, int (*fn)(void *arg, const meta_du_row *r),
		       void *arg);
	status_t (*pulls_add)(meta *m, const meta_pull *v, size_t n);
	status_t (*digests)(meta *m, const char *after, int n,
			    int (*fn)(void *arg, const char *digest, uint64_t size), void *arg,
			    bool *out_more);
	status_t (*digest_users)(meta *m, const char *digest,
				 int (*fn)(void *arg, const char *repo, const char *manifest),
				 void *arg);
	status_t (*quarantine_add)(meta *m, const char *digest, const char *reason);
	status_t (*quarantine_list)(meta *m,
				    int (*fn)(void *arg, const char *digest, time_t at,
					      const char *reason),
				    void *arg);
	status_t (*backup)(meta *m, const char *location);
	status_t (*events_add)(meta *m, const meta_event *v, size_t n);
	status_t (*events_next)(meta *m, const char *endpoint, int n,
				int (*fn)(void *arg, int64_t seq, const char *repo,
					  const char *body),
				void *arg);
	status_t (*events_ack)(meta *m, const char *endpoint, int64_t seq);
	status_t (*events_count)(meta *m, int (*fn)(void *arg, const char *endpoint, uint64_t n),
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
	status_t (*repo_summary)(meta *m, const char *repo, meta_repo_summary *out);
	status_t (*tag_page)(meta *m, const char *repo, bool by_pushed, int64_t after_pushed,
			     const char *after_name, int n,
			     int (*fn)(void *arg, const meta_tag_row *r), void *arg,
			     bool *out_more);
	status_t (*lock_try)(meta *m, const char *name, bool *out_got);
	void (*unlock)(meta *m, const char *name);
	status_t (*login_check)(meta *m, const char *addr, const char *user, int64_t now,
				meta_login *out_addr, meta_login *out_user, meta_login_fn ended,
				void *arg);
	status_t (*login_fail)(meta *m, const char *addr, const char *user, bool known,
			       unsigned limit, unsigned window_sec, int64_t now, meta_login *out);
	status_t (*login_clear)(meta *m, const char *addr, const char *user);
	status_t (*login_unlock)(meta *m, const char *addr, const char *user, int64_t before,
				 meta_login_fn lifted, void *arg, size_t *out_n);
};

struct meta {
	const meta_ops *m_ops;
};

#endif
