/*
 * core.h - the registry's operations on repositories, independent of HTTP.
 *
 * Everything that reads or changes what the registry holds goes through
 * here: the HTTP handlers, the command line (mirror sync, export, import)
 * and, later, the web UI and garbage collection. The core owns the blob
 * store, the metadata index (one connection per thread, opened on first
 * use), the upload sessions and the pull-through cache. A caller asks for
 * "blob D of repository R" and never learns whether it came from disk or
 * from an upstream: a mirrored repository reads through the cache, which
 * fetches what is missing (distribution's proxy blob store does the same).
 *
 * Conventions (see STYLE.md):
 *   - Functions return a status_t; what a client should be told comes as
 *     the OCI status (ST_BLOB_UNKNOWN, ST_MANIFEST_INVALID, ...), with a
 *     sentence in core_req_detail() where one helps.
 *   - Strings passed in are borrowed. What comes back through an out pointer is the
 *     caller's, freed with its _free or _close function (NULL is a no-op).
 *   - An operation that must wait for an upstream returns ST_BUSY after
 *     calling the core_waiter's suspend; it calls resume exactly once when
 *     the caller should call the same operation again (with the same
 *     core_req, which remembers what it was waiting for).
 *   - Access control is not the core's: the server's gate decides who may
 *     do what, on the name core_req_name() gives, before calling here.
 *
 * Policy that does not depend on who asks (delete_enabled, read-only
 * mirrors, quotas, immutable tags, retention's rules) is decided in one
 * place, core/policy.c, at the points every write passes; what happened is
 * told to core/policy.c too (core_event), which writes it as an audit line
 * at info, with the actor core_req_set_actor names (who asked is the
 * server's to say; it never changes what is allowed).
 */
#ifndef CORE_H
#define CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/status.h"
#include "../oci/oci.h"

typedef struct core core;
typedef struct core_req core_req;
typedef struct core_blob core_blob;
typedef struct core_upload core_upload;
typedef struct core_settings core_settings;

#define CORE_UPLOAD_ID_MAX 64 /* longest upload id: [0-9a-f-] (blobstore.h) */

/* ---- opening ---- */

typedef struct {
	const char *data;    /* data folder */
	const char *storage; /* blob store backend ("filesystem" or "s3") */
	/* storage = s3: registry.conf's s3_* keys (storage/blobstore_s3.h);
	 * read only by core_open */
	const char *s3_endpoint, *s3_bucket, *s3_region, *s3_credentials, *s3_prefix, *s3_ca;
	bool s3_path_style, s3_redirect;
	uint64_t s3_part_size, s3_memory;
	const char *metadata; /* metadata index backend ("sqlite", "postgres") */
	/* metadata = postgres: the libpq conninfo or URI, and a file holding
	 * its password ("" or NULL: libpq's own, PGPASSFILE or ~/.pgpass) */
	const char *postgres, *postgres_password_file;
	bool delete_enabled; /* DELETE of manifests, tags and blobs */
	uint64_t max_manifest_bytes;
	uint32_t upload_ttl_sec; /* idle upload sessions expire after this */
	/* garbage collection (core_collect): what nothing references goes after
	 * gc_delay_sec; untagged manifests after gc_untagged_sec (0: never) */
	uint32_t gc_delay_sec, gc_untagged_sec;
	/* gc_dry_run: every collection (core_collect) only reports what it
	 * would remove, whatever its caller asks */
	bool gc_dry_run;
	/* the pull-through cache: registry.conf's upstream lines, and the
	 * proxy_* keys (proxy/proxy.h says what each does) */
	char *const *upstreams;
	size_t nupstreams;
	uint32_t proxy_revalidate_sec, proxy_negative_sec, proxy_timeout_sec, proxy_retries,
	    proxy_unreachable_sec, proxy_cache_keep_sec;
	uint64_t proxy_cache_max_bytes;
	const char *user_agent; /* sent to upstreams */
	/* registry.conf's notify lines: receivers of events (core_notify_check) */
	char *const *notify;
	size_t nnotify;
	/* Remove crash leftovers at open (upload files without a session,
	 * idle sessions): only for the one process that owns the folder (the
	 * server, after taking its lock). */
	bool sweep;
	/* the storage policies: registry.conf's quota, immutable and retain
	 * lines (core_policy_check says what each holds) */
	char *const *quotas;
	size_t nquotas;
	char *const *immutables;
	size_t nimmutables;
	char *const *retains;
	size_t nretains;
} core_options;

/*
 * Opens the blob store and the metadata index under o->data (creating the
 * folder), and the cache when upstreams are configured. ST_OK with *out
 * (core_close); ST_INVALID (a bad backend name or upstream line, logged);
 * ST_IO; ST_NOMEM.
 */
status_t core_open(core **out, const core_options *o);

/* ---- reloading (core/settings.c) ---- */

/*
 * The part of o a reload may change: delete_enabled, max_manifest_bytes,
 * upload_ttl_sec, gc_delay_sec, gc_untagged_sec, the quota, immutable and
 * retain lines, the upstream lines and the proxy_* keys (data, storage,
 * metadata, notify, sweep and user_agent are core_open's alone). Built and
 * checked whole, beside the running settings: ST_OK with *out (give it to
 * core_settings_use, or core_settings_free); ST_INVALID (a bad line or
 * credentials file, logged), ST_NOMEM, ST_IO; nothing running changed
 * either way. When the upstream lines and the proxy_* keys are the running
 * ones, the running cache is shared: its memo, counters and fetches go on.
 */
status_t core_settings_new(core *c, const core_options *o, core_settings **out);

/* Makes s (taken) current: requests opened from now on use it, those in
 * flight (and a blob being read from an upstream) keep theirs until they
 * end; the cache of upstreams that s no longer names is stopped and freed
 * when its last user ends (a fetch still running is cancelled then: it
 * fails cleanly and stores nothing). Cannot fail. */
void core_settings_use(core *c, core_settings *s);

/* Frees settings core_settings_use never took. NULL is a no-op. */
void core_settings_free(core *c, core_settings *s);

/* Ends upstream transfers and wakes every request waiting on one, so the
 * server can drain. Later fetches fail ST_UNAVAILABLE. Idempotent. */
void core_stop(core *c);

/* Stops, then frees everything. NULL is a no-op. */
void core_close(core *c);

/* Removes upload sessions idle for upload_ttl (rows, files and memory),
 * and upload files no session owns. Returns how many. */
int core_uploads_expire(core *c);

/* A cheap read of the metadata index on this thread's connection, to
 * prove the registry can still answer (systemd's watchdog). ST_OK; ST_IO. */
status_t core_check(core *c);

/* Whether any upstream is configured. */
bool core_mirrors(core *c);

/*
 * The name the access rules see for a repository named `name` with no
 * ?ns=: its cache name ("docker.io/library/alpine" for "library/alpine"
 * when an upstream's namespaces take it), else name itself. Written into
 * out; returns out, or name when out is too small or it is no mirror's.
 */
const char *core_cache_name(core *c, const char *name, char *out, size_t outlen);

/* Whether this build has a blob store backend (storage = NAME), and a
 * metadata index backend (metadata = NAME), of that name. */
bool core_storage_known(const char *name);
bool core_metadata_known(const char *name);

/* Checks one `upstream` line of registry.conf; ST_OK, or ST_INVALID with
 * a message in err. *name_out (UPSTREAM_NAME_MAX) gets its name. */
#define CORE_UPSTREAM_NAME_MAX 128
status_t core_upstream_check(const char *line, char name_out[CORE_UPSTREAM_NAME_MAX], char *err,
			     size_t errlen);

/* ---- health and counts (core/health.c): for /readyz and /metrics ---- */

/*
 * Whether the registry can serve: the metadata index answers a read and
 * grants the write lock (nothing written), the data folder takes a new
 * file (a probe file, removed at once), and it has more than
 * min_free_bytes free for this user. ST_OK; else ST_UNAVAILABLE with a
 * sentence in why (whylen bytes). Cheap (a few system calls and two
 * statements): fit for a probe every second. Leaves nothing behind.
 */
status_t core_ready(core *c, uint64_t min_free_bytes, char *why, size_t whylen);

/* What the metadata index holds (see meta_stats in storage/meta.h). */
typedef struct {
	uint64_t repos, manifests, tags, blobs, stored_bytes, uploads;
} core_store_stats;

/* Counting walks the index (~0.1 s at 100,000 of each), so an answer is
 * reused for this long: scrapes, however many, cost at most one count per
 * period. */
#define CORE_STATS_MAX_AGE_SEC 5

/* The store's counts, at most CORE_STATS_MAX_AGE_SEC old. ST_OK with
 * *out; ST_IO. */
status_t core_store_stats_get(core *c, core_store_stats *out);

/* An upstream's counters (see upstream_stats in proxy/upstream.h). */
typedef struct {
	char name[CORE_UPSTREAM_NAME_MAX];
	uint64_t hits, misses, requests, bytes, errors;
	bool reachable;
} core_upstream_stats;

/* The number of upstreams, and the counters of the i-th (ST_OK, or
 * ST_NOT_FOUND past the last). */
size_t core_upstream_count(core *c);
status_t core_upstream_stats_get(core *c, size_t i, core_upstream_stats *out);

/* `registry healthcheck`: GET url (see proxy/probe.h). ST_OK with
 * *out_code and the body's start; ST_UNAVAILABLE or ST_IO with err. */
status_t core_probe_url(const char *url, unsigned timeout_sec, long *out_code, char *body,
			size_t bodylen, char *err, size_t errlen);
/* The storage policies' lines, as registry.conf gives them (key: "quota",
 * "immutable" or "retain"; core_open parses them again):
 *   quota = "PATTERN SIZE"          the bytes of the repositories PATTERN
 *                                   matches, each digest once, stay <= SIZE
 *   immutable = "PATTERN TAGGLOB"   such a tag, once set, is never moved or
 *                                   deleted
 *   retain = "PATTERN keep=N [tags=GLOB] [pushed_within=DURATION]
 *             [pulled_within=DURATION]"
 * PATTERN is a glob over repository names as auth_rule's (common/glob.h),
 * TAGGLOB and GLOB over tags. ST_OK, or ST_INVALID with a message in err. */
status_t core_policy_check(const char *key, const char *line, char *err, size_t errlen);

/* Checks one `notify` line of registry.conf ("URL [events=...] [repos=...]
 * [secret=FILE] [timeout=D]"); ST_OK, or ST_INVALID with a message in err.
 * url_out (CORE_NOTIFY_URL_MAX) gets its URL, the name of its queue. */
#define CORE_NOTIFY_URL_MAX 1024
status_t core_notify_check(const char *line, char *url_out, char *err, size_t errlen);

/* One receiver's queue, for the metrics: events waiting (the depth),
 * delivered, and failed POSTs (each attempt that got no 2xx), since start. */
typedef struct {
	const char *url; /* borrowed from the core: valid until core_close */
	uint64_t queued, delivered, failures;
	uint64_t pulls_dropped; /* its pull events dropped: buffer full, or not written */
	int last_status;	/* HTTP status of the last attempt; 0 none, -1 no answer */
} core_events_stat;

/* Fills out[0..max) with one entry per notify line, in file order; returns
 * how many there are (may be more than max; 0 without notify lines). */
size_t core_events_stats(core *c, core_events_stat *out, size_t max);

/* ---- failed logins shared by replicas (core/logins.c) ----
 *
 * The server's login throttle (auth/throttle.h) keeps its counts here when
 * the metadata index is shared (metadata = postgres), so every replica
 * counts the same failures: storage/meta.h "failed logins" says what a
 * row is and how it lapses. Each call uses the calling thread's metadata
 * connection. Times are seconds since the epoch.
 */

/* One counter as it stands: failures 0 when there is none. */
typedef struct {
	unsigned failures;
	bool known;	       /* the user is someone's name */
	int64_t blocked_until; /* 0: not locked */
} core_login;

/* Called for a counter that ended while it was a lock, by the one replica
 * that removed it. */
typedef void (*core_login_fn)(void *arg, const char *addr, const char *user, bool known);

/* True if failed logins are kept in the index (shared), false if the
 * caller should count in its own memory (metadata = sqlite). */
bool core_logins_shared(core *c);
/* meta_login_check: sweeps what lapsed at now (ended for each lock), then
 * the live counters of addr and of (addr, user). ST_OK, ST_INVALID, ST_IO
 * (also when the index cannot be reached), ST_UNSUPPORTED. */
status_t core_login_check(core *c, const char *addr, const char *user, int64_t now,
			  core_login *out_addr, core_login *out_user, core_login_fn ended,
			  void *arg);
/* meta_login_fail: one failure for (addr, user) (NULL: addr's own). */
status_t core_login_fail(core *c, const char *addr, const char *user, bool known, unsigned limit,
			 unsigned window_sec, int64_t now, core_login *out);
/* meta_login_clear: a success forgets (addr, user) unless it is locked. */
status_t core_login_clear(core *c, const char *addr, const char *user);
/* meta_login_unlock: forgets what started at or before `before` (user's
 * everywhere, addr's, or the pair), lifted called for each lock. */
status_t core_login_unlock(core *c, const char *addr, const char *user, int64_t before,
			   core_login_fn lifted, void *arg, size_t *out_n);

/* ---- one request on one repository ---- */

/* How an operation waits without holding a thread (see the top). */
typedef struct {
	void (*suspend)(void *arg);
	void (*resume)(void *arg);
	void *arg;
} core_waiter;

/*
 * Starts a request on repository `name` as the client spelt it, with the
 * containerd namespace ns (NULL or "": none; one that names no upstream is
 * ignored). A name an upstream serves (by ?ns=, a "docker.io/..." prefix or
 * an upstream's namespaces) becomes its cache name. w (copied; may be NULL
 * for callers that never wait) says how to wait. ST_OK with *out
 * (core_req_free); ST_NAME_INVALID (the cache name would be too long: *out
 * is set all the same, for its detail, and must be freed); ST_NOMEM.
 */
status_t core_req_open(core *c, const char *name, const char *ns, const core_waiter *w,
		       core_req **out);
void core_req_free(core_req *q);

/* The repository read and written: the cache name of a mirrored one. */
const char *core_req_name(const core_req *q);
/* The name as the client spelt it (for replies: tag lists, Links). */
const char *core_req_asked(const core_req *q);
/* Whether an upstream serves it (then it is read-only). */
bool core_req_mirrored(const core_req *q);
/* The upstream named by ?ns=, to echo as OCI-Namespace; "" if none. */
const char *core_req_namespace(const core_req *q);
/* dockerd's bare spelling of a mirrored name, which a token may grant by
 * (see auth_request.alias); NULL when the name was spelt otherwise. */
const char *core_req_alias(const core_req *q);
/* A sentence on why the last operation failed, or NULL. */
const char *core_req_detail(const core_req *q);
/* Who asks (the user the server's gate identified; NULL or "": anonymous,
 * or no access control), for the audit lines of what q changes and the
 * push records ("pushed by" of manifests and tags). Changes no decision:
 * access is the gate's. Copied; a longer name is cut to CORE_ACTOR_MAX - 1
 * bytes. */
#define CORE_ACTOR_MAX 256
void core_req_set_actor(core_req *q, const char *name);

/* Where the request came from, for events (distribution's `request`
 * object): the client's address, the Host asked for, the method and the
 * User-Agent; each may be NULL. Copied, cut to fit. (Whether a read is a
 * pull is the caller's call: core_manifest_served.) */
typedef struct {
	const char *addr, *host, *method, *useragent;
} core_origin;
void core_req_set_origin(core_req *q, const core_origin *o);

/* ST_OK if q's repository may be written (pushed to, deleted from);
 * ST_METHOD_NOT_ALLOWED for a read-only mirror, with a detail. Every write
 * below checks it; callers ask early to refuse before a body arrives. */
status_t core_req_writable(core_req *q);

/* ---- blobs ---- */

#define CORE_SIZE_UNKNOWN UINT64_MAX /* an upstream that did not say */

/*
 * Blob digest of q's repository, to read: stored here, or (mirrored)
 * arriving from the upstream, readable while it arrives. ST_OK with *out
 * (core_blob_free); ST_BUSY (suspended: call again); ST_BLOB_UNKNOWN;
 * ST_DIGEST_INVALID; an upstream's failure (ST_UNAVAILABLE, ST_BAD_GATEWAY,
 * with a detail); ST_IO.
 */
status_t core_blob_get(core *c, core_req *q, const char *digest, core_blob **out);
/* Its size, or CORE_SIZE_UNKNOWN while an upstream has not said. */
uint64_t core_blob_size(const core_blob *b);
/* The blob's file descriptor for sendfile, handed over (caller closes; b
 * is then unreadable), or -1 when it has none (read it instead). */
int core_blob_take_fd(core_blob *b);
/*
 * Reads up to max bytes at off. ST_OK with *out_n > 0; ST_OK with *out_n
 * 0 at the end; ST_BUSY when the bytes have not arrived yet (suspended with
 * w: call again when resumed); ST_IO or the upstream's failure (the blob
 * failed its digest check: what was read must not be trusted).
 */
status_t core_blob_read(core_blob *b, uint64_t off, void *buf, size_t max, size_t *out_n,
			const core_waiter *w);
void core_blob_free(core_blob *b);

/*
 * A short-lived URL the client may fetch blob digest from directly (S3 with
 * s3_redirect = on: a presigned GET), for a 307 instead of streaming the
 * bytes; call it after core_blob_get found the blob. ST_OK with *out_url
 * (the caller frees it); ST_UNSUPPORTED when the store serves its bytes
 * itself; ST_NOMEM.
 */
status_t core_blob_redirect(core *c, const char *digest, char **out_url);
/* Records that a blob was served (the cache's least-recently-pulled order). */
void core_blob_served(core *c, core_req *q, const char *digest);

/* Unlinks digest from q's repository. ST_OK; ST_BLOB_UNKNOWN;
 * ST_METHOD_NOT_ALLOWED (delete_enabled is off, or a mirror); ST_IO. */
status_t core_blob_delete(core *c, core_req *q, const char *digest);

/*
 * Links blob digest, which repository `from` has (or, from NULL, any
 * repository), to q's repository, as a cross-repository mount. ST_OK with
 * *out_size; ST_NOT_FOUND (not mountable: the client uploads instead);
 * ST_METHOD_NOT_ALLOWED; ST_IO.
 */
status_t core_blob_mount(core *c, core_req *q, const char *digest, const char *from,
			 uint64_t *out_size);

/* ---- uploads ---- */

/*
 * A new upload session in q's repository, hashing with alg, checked out to
 * the caller. ST_OK with *out; ST_METHOD_NOT_ALLOWED; ST_NO_SPACE; ST_IO.
 */
status_t core_upload_create(core *c, core_req *q, digest_alg alg, core_upload **out);
/* An upload of one request (POST ?digest=): no session, nothing to resume. */
status_t core_upload_once(core *c, core_req *q, digest_alg alg, core_upload **out);
/*
 * Checks out session id of q's repository (one request at a time; after a
 * restart it is rebuilt from its row and file). ST_OK; ST_BLOB_UPLOAD_UNKNOWN
 * (no such session in this repository); ST_BUSY (another request has it:
 * not a wait, a refusal); ST_IO.
 */
status_t core_upload_checkout(core *c, core_req *q, const char *id, core_upload **out);
const char *core_upload_id(const core_upload *u);
uint64_t core_upload_size(const core_upload *u);
/* Appends bytes (into the file and the running hash). ST_OK, ST_NO_SPACE,
 * ST_IO: the upload is then poisoned (see blobstore.h). */
status_t core_upload_write(core_upload *u, const void *buf, size_t len);
/* Every byte written is in the file: before a reply that reports progress. */
status_t core_upload_flush(core *c, core_upload *u);
/*
 * Verifies the upload against digest, publishes the blob and links it to
 * q's repository; the upload ends either way (u is freed). ST_OK with
 * *out_size (may be NULL); ST_DIGEST_INVALID (with a detail);
 * ST_NO_SPACE; ST_IO.
 */
status_t core_upload_commit(core *c, core_req *q, core_upload *u, const char *digest,
			    uint64_t *out_size);
/* Ends an upload and removes its bytes (DELETE, or a failed request). */
void core_upload_cancel(core *c, core_upload *u);
/* Returns a checked-out upload at the end of a request (flushed, its file
 * closed until the next one), or ends it if poisoned. A once-upload that was
 * not committed is removed. */
void core_upload_release(core *c, core_upload *u, bool poisoned);

/* ---- manifests ---- */

typedef struct {
	char digest[DIGEST_MAX];
	char media_type[256];
	uint64_t size;
	core_blob *body; /* its bytes (caller frees) */
} core_manifest;

/*
 * Manifest ref (tag or digest) of q's repository. ST_OK with *out;
 * ST_BUSY (suspended); ST_MANIFEST_UNKNOWN; ST_NAME_UNKNOWN; an upstream's
 * failure with a detail; ST_IO.
 */
status_t core_manifest_get(core *c, core_req *q, const char *ref, core_manifest *out);

typedef struct {
	char digest[DIGEST_MAX];
	char subject[DIGEST_MAX]; /* "" when it has none */
} core_put_result;

#define CORE_PUT_TAGS_MAX 64 /* extra tags one PUT may give (?tag=) */

/*
 * Stores a pushed manifest (body, of content_type) byte for byte, under
 * ref (a tag, or the digest of body) and the extra tags, after checking it:
 * its digest, its grammar, and that everything it references is in q's
 * repository. ST_OK with *out; ST_TAG_INVALID; ST_DIGEST_INVALID;
 * ST_MANIFEST_INVALID; ST_MANIFEST_BLOB_UNKNOWN; ST_TOO_LARGE;
 * ST_METHOD_NOT_ALLOWED; ST_NO_SPACE; ST_IO; a detail says which.
 */
status_t core_manifest_put(core *c, core_req *q, const char *ref, const char *const *tags,
			   size_t ntags, const char *content_type, const char *body, size_t len,
			   core_put_result *out);

/* Deletes a manifest (by digest, with its tags) or a tag. ST_OK;
 * ST_MANIFEST_UNKNOWN; ST_METHOD_NOT_ALLOWED; ST_DENIED (an immutable tag,
 * with a detail naming the rule); ST_IO. */
status_t core_manifest_delete(core *c, core_req *q, const char *ref);

/*
 * Records that manifest m (as core_manifest_get gave it) of q's repository
 * was pulled (a GET, not a HEAD: the caller's call) by ref (a tag, or the
 * digest): its last pull time and pull count, and the tag's; and a pull
 * event for the receivers that want one (core/events.c). Cheap: counted in
 * memory and written in one transaction every CORE_PULLS_FLUSH_SEC by a
 * background thread (no fsync per pull), and at core_close; a crash loses
 * at most that many seconds of counts. The pull events are buffered alike.
 */
#define CORE_PULLS_FLUSH_SEC 2
void core_manifest_served(core *c, core_req *q, const char *ref, const core_manifest *m);

/* ---- listings ---- */

/* Called per name or tag, in order; non-zero stops. */
typedef int (*core_list_fn)(void *arg, const char *s);

/*
 * The tags of q's repository in order, strictly after last (NULL: from the
 * start), at most n (< 0: all, up to CORE_LIST_MAX). For a mirrored one, the
 * upstream's list (ST_BUSY while it is asked), or the cache's when the
 * upstream fails. *out_more: another tag follows. ST_OK; ST_NAME_UNKNOWN;
 * ST_IO.
 */
#define CORE_LIST_MAX 100000
status_t core_tags(core *c, core_req *q, const char *last, int n, core_list_fn fn, void *arg,
		   bool *out_more);

/* Repository names after last, at most n of those visible(varg, name)
 * accepts (visible NULL: all). ST_OK, ST_IO. */
status_t core_catalog(core *c, const char *last, int n, bool (*visible)(void *, const char *),
		      void *varg, core_list_fn fn, void *arg, bool *out_more);

/* A manifest whose subject is the one asked for. */
typedef struct {
	const char *digest, *media_type, *artifact_type; /* "" when none */
	uint64_t size;
	const char *annotations; /* compact JSON object, or NULL */
} core_referrer;

/* The referrers of subject in q's repository, filtered by artifact_type
 * (NULL: all), by digest; valid during the call. ST_OK (none included),
 * ST_IO. */
status_t core_referrers(core *c, core_req *q, const char *subject, const char *artifact_type,
			int (*fn)(void *arg, const core_referrer *r), void *arg);

/* ---- storage lifecycle: usage, retention, scrub (core/usage.c, retain.c,
 * scrub.c) ---- */

/* One line of `registry du`: a repository or a namespace (the first
 * component of the names that have one). shared = referenced - unique. */
typedef struct {
	char name[REF_NAME_MAX];
	uint64_t referenced; /* its blobs and manifests, each digest once */
	uint64_t unique;     /* ...that no other repository (namespace) holds */
	uint64_t tags, manifests, pulls;
	int64_t last_push, last_pull; /* Unix time; 0: never (or not recorded) */
} core_du_row;

/*
 * The usage of the repositories pattern matches (a glob as in auth_rule;
 * NULL: all), by name, and of the namespaces they are in (whole). Pull
 * counts still in memory are written first. Calls repo(arg, row) per
 * repository, then ns(arg, row) per namespace (either may be NULL). ST_OK;
 * ST_IO.
 */
status_t core_du(core *c, const char *pattern, void (*repo)(void *arg, const core_du_row *r),
		 void (*ns)(void *arg, const core_du_row *r), void *arg);

/* One tag retention looked at and let go (or, in a dry run, would). */
typedef struct {
	const char *repo, *tag, *digest;
	const char *rules;	   /* the retain lines that matched, none keeping it */
	const char *pushed_by;	   /* who set it last ("": unknown, anonymous) */
	int64_t pushed, last_pull; /* Unix time; 0: not recorded */
	bool removed;		   /* false: dry run, or it changed meanwhile */
	const char *kept_why;	   /* non-NULL: not removed, and why (immutable) */
} core_retain_item;

typedef struct {
	size_t repos;	/* repositories a retain line matched */
	size_t tags;	/* their tags */
	size_t removed; /* tags removed (dry run: that would be) */
	size_t kept_immutable;
} core_retain_summary;

/*
 * Applies the retain lines: in each repository one or more of them match,
 * removes the tags none of them keeps (a line keeps, among the tags its
 * tags= glob matches, the keep=N most recently pushed, those pushed within
 * pushed_within and those pulled within pulled_within). Only tags: a
 * manifest no tag or index holds any more is garbage collection's to
 * remove. An immutable tag is never removed (reported with kept_why). Each
 * removal is logged with the rules that allowed it. dry_run: changes
 * nothing, reports the same list. fn (may be NULL) sees every candidate.
 * ST_OK with *out (may be NULL); ST_IO.
 */
status_t core_retain(core *c, bool dry_run, void (*fn)(void *arg, const core_retain_item *it),
		     void *arg, core_retain_summary *out);

/* Whether any retain line is configured. */
bool core_retain_configured(core *c);

typedef struct {
	uint64_t rate;		      /* bytes read per second at most; 0: unbounded */
	bool repair;		      /* quarantine what fails (else only report it) */
	bool (*cancelled)(void *arg); /* polled between reads; may be NULL */
	void *cancel_arg;
} core_scrub_options;

/* A stored digest whose bytes no longer match it. */
typedef struct {
	const char *digest;
	const char *problem;	  /* "content does not match", "missing", "unreadable" */
	const char *const *users; /* "REPO@MANIFEST" of every manifest that is it or uses it */
	size_t nusers;
	bool quarantined;
} core_scrub_item;

typedef struct {
	size_t checked, bad, quarantined;
	uint64_t bytes;
	bool cancelled;
} core_scrub_summary;

/*
 * Re-hashes every stored blob and manifest the index holds, reading at most
 * o->rate bytes a second. What fails its digest is reported to fn (may be
 * NULL) and logged with the manifests that use it; with o->repair it is
 * quarantined: moved out of the store (never served again: BLOB_UNKNOWN,
 * MANIFEST_UNKNOWN) and marked in the index, until the same digest is
 * pushed again. Safe while a server runs on the folder. ST_OK with *out;
 * ST_IO.
 */
status_t core_scrub(core *c, const core_scrub_options *o,
		    void (*fn)(void *arg, const core_scrub_item *it), void *arg,
		    core_scrub_summary *out);
/* ---- garbage collection and removing repositories (core/collect.c, gc.c) ---- */

typedef struct {
	bool dry_run;		 /* remove nothing: list what a run now would remove */
	FILE *list;		 /* one line per thing removed (or that would be); NULL: none */
	bool log_each;		 /* log each removal at info, with the rule that allowed it */
	bool (*stop)(void *arg); /* polled between batches: true ends the run early */
	void *stop_arg;
} core_gc_options;

typedef struct {
	size_t tags;	  /* tags the retain lines let go */
	size_t manifests; /* untagged manifests removed from their repository */
	size_t links;	  /* blob links no manifest needed, older than gc_delay */
	size_t blobs;	  /* blob files (and their rows) nothing referenced */
	size_t orphans;	  /* files without a row (a crash between the two) */
	size_t uploads;	  /* upload sessions idle past upload_ttl */
	uint64_t bytes;	  /* bytes of the files removed */
	double seconds;
	bool dry_run;	 /* nothing was removed: the counts say what would have been */
	bool dry_config; /* ...because gc_dry_run is set (core_options) */
	status_t status; /* how the run ended: ST_OK, or why it stopped early */
} core_gc_report;

/*
 * One collection over the whole data folder, as the server's collector
 * and `registry gc` make it, while it is served (by this process or
 * another): first the retain lines (core_retain: tags no line keeps), then
 * untagged manifests past gc_untagged, links past gc_delay no manifest
 * needs, blobs nothing references past gc_delay (row first, then file),
 * orphan files past gc_delay, idle uploads. Each step is a small
 * transaction; each removal a compare-and-set (meta.h). With gc_dry_run
 * set (core_options) it is a dry run whatever o says. Each removal goes to
 * o->list and the log (info with o->log_each, else debug), with the rule
 * that allowed it; the run ends with one summary line at info, and is
 * counted for core_gc_totals_get and core_gc_last. A dry run of the
 * collection does not see what a dry run of retention would free. ST_OK
 * with *out; ST_IO, ST_NOMEM (what was done stays done; *out says it).
 */
status_t core_collect(core *c, const core_gc_options *o, core_gc_report *out);

/* What this process's collections (core_collect) did since core_open:
 * runs, dry ones included, and what they removed (dry runs remove
 * nothing). Another process's (`registry gc` beside a server) are its own. */
typedef struct {
	uint64_t runs;
	uint64_t tags, manifests, links, blobs, orphans, uploads;
	uint64_t bytes; /* freed */
} core_gc_totals;
void core_gc_totals_get(core *c, core_gc_totals *out);

/* The last collection: this process's (dry runs included), or the last
 * that removed something in another process (`registry gc`), recorded in
 * the data folder's gc.last, whichever ended later; its report and when it
 * ended (Unix time). ST_OK; ST_NOT_FOUND before the first (*out zeroed,
 * *out_when 0). Reads only, changes nothing. */
status_t core_gc_last(core *c, core_gc_report *out, int64_t *out_when);

typedef struct {
	size_t tags, manifests, links;
} core_repo_counts;

/*
 * Deletes q's repository whole: its tags, manifests and blob links, in
 * small transactions; it leaves the catalog. The blobs go at the next
 * collection past gc_delay. dry_run: counts only. ST_OK with *out;
 * ST_NAME_UNKNOWN; ST_METHOD_NOT_ALLOWED (a mirror, delete_enabled off);
 * ST_IO.
 */
status_t core_repo_delete(core *c, core_req *q, bool dry_run, core_repo_counts *out);

/* ---- browsing, for the web UI (core/browse.c) ----
 *
 * What the UI shows, each page a few indexed queries. Only what the
 * registry holds: a mirrored repository shows its cache, never asks its
 * upstream (a page never waits). Access is the caller's: every list takes
 * a visible(varg, name) filter, so counts and pages are over visible names
 * only.
 */

/* One row of the repository list. */
typedef struct {
	const char *name;
	uint64_t tags, bytes;	      /* bytes: its blobs and manifests, each digest once */
	int64_t last_push, last_pull; /* Unix time; 0: never (or not recorded) */
} core_repo_row;

#define CORE_BROWSE_PAGE_MAX 500 /* rows of one page at most */

/*
 * The repositories whose name contains query (NULL or "": all) that
 * visible accepts (NULL: all), by name, strictly after `after` (NULL: from
 * the start), at most n (1..CORE_BROWSE_PAGE_MAX), each with its summary.
 * *out_more: another follows. ST_OK; ST_INVALID (n out of range); ST_NOMEM;
 * ST_IO.
 */
status_t core_repos_page(core *c, const char *query, const char *after, int n,
			 bool (*visible)(void *, const char *), void *varg,
			 int (*fn)(void *arg, const core_repo_row *r), void *arg, bool *out_more);

/* q's repository's summary (a row of the list). ST_OK with *out (out->name
 * is q's name); ST_NAME_UNKNOWN; ST_IO. */
status_t core_repo_summary(core *c, core_req *q, core_repo_row *out);

typedef enum { CORE_SORT_NAME, CORE_SORT_PUSHED } core_tag_sort;

/* One row of a repository's tag list. */
typedef struct {
	const char *tag, *digest, *media_type;
	uint64_t size; /* the image's: config and layers (an index: every platform's) */
	/* "os/arch[/variant]" of each platform, comma-separated ("" unknown):
	 * an index's children, or an image's config */
	const char *platforms;
	int64_t pushed;	       /* last set; 0: not recorded */
	const char *pushed_by; /* "" unknown or anonymous */
	int64_t last_pull;     /* by this tag; 0: never */
	uint64_t pulls;
	const char *immutable; /* the immutable line holding it, or NULL */
} core_tag_row;

/* The cursor that continues a page after row r, in sort's order (name:
 * the tag; pushed: "PUSHED:TAG"), into out. */
#define CORE_TAG_CURSOR_MAX 160
void core_tag_cursor(core_tag_sort sort, const core_tag_row *r, char out[CORE_TAG_CURSOR_MAX]);

/*
 * A page of q's tags in sort's order (name; or newest push first), after
 * the cursor `after` (NULL or "": from the start; core_tag_cursor made
 * it), at most n (1..CORE_BROWSE_PAGE_MAX). One index range, whatever the
 * repository's size, plus one read of each manifest (and an image's
 * config) for its platforms. ST_OK; ST_INVALID (a bad cursor or n);
 * ST_NAME_UNKNOWN; ST_IO.
 */
status_t core_tags_page(core *c, core_req *q, core_tag_sort sort, const char *after, int n,
			int (*fn)(void *arg, const core_tag_row *r), void *arg, bool *out_more);

/* A manifest of q's repository as the UI shows it. */
typedef struct {
	char digest[DIGEST_MAX];
	char media_type[256];
	char artifact_type[256];
	uint64_t size;
	char *body; /* its bytes, NUL-terminated (caller frees: core_browse_free) */
	size_t len;
	int64_t pushed;			/* first pushed */
	char pushed_by[CORE_ACTOR_MAX]; /* "" unknown or anonymous */
	int64_t last_pull;
	uint64_t pulls;
} core_browse_manifest;

/* Manifest ref (a tag or a digest) of q's repository, from what the
 * registry holds. ST_OK with *out; ST_MANIFEST_UNKNOWN; ST_NAME_UNKNOWN;
 * ST_TOO_LARGE; ST_NOMEM; ST_IO. */
status_t core_browse_manifest_get(core *c, core_req *q, const char *ref, core_browse_manifest *out);
void core_browse_free(core_browse_manifest *m);

/* Blob digest of q's repository (an image's config), whole, when at most
 * max bytes: ST_OK with *out (NUL-terminated, caller frees) and *out_len;
 * ST_BLOB_UNKNOWN; ST_TOO_LARGE; ST_NOMEM; ST_IO. */
status_t core_browse_blob(core *c, core_req *q, const char *digest, size_t max, char **out,
			  size_t *out_len);

/* A quota line and its use. */
typedef struct {
	const char *line, *pattern;
	uint64_t limit, used;
	/* the pattern matches repositories visible refused: used counts only
	 * the others (the whole would tell of them) */
	bool partial;
} core_quota_row;

/* Each quota line, in file order, with its use over the repositories it
 * matches that visible (NULL: all) accepts. ST_OK; ST_IO. */
status_t core_quotas(core *c, bool (*visible)(void *, const char *), void *varg,
		     void (*fn)(void *arg, const core_quota_row *r), void *arg);

/* The bytes of the repositories pattern (a glob as in auth_rule) matches
 * that visible (NULL: all) accepts, each digest once; *out_partial: some it
 * matched were refused. ST_OK; ST_IO. */
status_t core_usage_of(core *c, const char *pattern, bool (*visible)(void *, const char *),
		       void *varg, uint64_t *out_bytes, bool *out_partial);

/* ---- archives and mirroring (the command line) ---- */

typedef struct {
	size_t images;	     /* image references synced (a tag, a digest) */
	size_t manifests;    /* manifests stored or found up to date */
	size_t blobs;	     /* blobs now present */
	size_t blobs_cached; /* ...of which were already here */
	uint64_t bytes;	     /* bytes downloaded */
	size_t failed;	     /* image references that failed */
} core_sync_summary;

typedef struct {
	FILE *out;		 /* progress and summary */
	bool tty;		 /* redraw progress in place */
	bool (*cancelled)(void); /* polled; may be NULL */
} core_sync_options;

/* `registry mirror sync FILE` (proxy/sync.h says how). */
status_t core_mirror_sync(core *c, const char *path, const core_sync_options *o,
			  core_sync_summary *out);

typedef struct {
	const char *platforms; /* "os/arch[/variant],...", NULL: every platform */
	bool all_tags;	       /* each image names a repository: every tag */
} core_export_options;

/* `registry export` into fd, messages to msg (see proxy/layout.h). */
status_t core_export(core *c, char *const *images, size_t n, const core_export_options *o, int fd,
		     FILE *msg);

typedef struct {
	size_t images, untagged, blobs, blobs_new, failed, removed;
	uint64_t bytes, removed_bytes;
} core_import_stats;

/* `registry import` from fd (see proxy/layout.h). */
status_t core_import(core *c, int fd, const char *repo, const char *tag, FILE *msg,
		     core_import_stats *out);

/* ---- backups ---- */

typedef struct {
	uint64_t blobs;	  /* blobs (and manifests) in the backup */
	uint64_t linked;  /* ...of which hard links (no bytes copied) */
	uint64_t bytes;	  /* their total size */
	uint64_t copied;  /* bytes copied (the blobs not linked) */
	uint64_t missing; /* referenced by the database copy, gone since */
} core_backup_stats;

/*
 * `registry backup DIR`: a data folder at dest (made, with its parents; an
 * existing one must be empty) that `registry serve -d DEST` serves as the
 * registry was at one moment, taken while it serves: the metadata index is
 * copied first (meta_backup, one consistent snapshot), then every blob that
 * copy references (blobstore_backup: hard links where the same filesystem
 * allows, copies otherwise). Pushes that finish meanwhile are not in it;
 * upload sessions never are. ST_OK with *out; ST_EXISTS (dest is not an
 * empty folder, nothing written); ST_NOT_FOUND (out->missing blobs were
 * removed, by eviction or collection, between the two steps: the backup
 * lacks them; run it again); ST_NO_SPACE; ST_IO. Progress lines go to msg
 * (may be NULL).
 */
status_t core_backup(core *c, const char *dest, FILE *msg, core_backup_stats *out);

#endif
