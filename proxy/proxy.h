/*
 * proxy.h - the pull-through cache: upstream registries as a second source
 * of manifests and blobs, beside the local storage.
 *
 * The core's read-through source (core/cache.c) looks in the local storage
 * first and asks the proxy on a miss (or when a cached tag is due for a
 * check). The proxy fetches from
 * the upstream on a thread of its own and stores what it got through the
 * same storage interfaces a push uses, so a cached image is afterwards an
 * ordinary local one: the handlers serve it with no help from here.
 *
 *   routing     which upstream (if any) serves a repository name, and under
 *               which local name its content is cached ("docker.io/library/
 *               alpine" for "library/alpine" by dockerd, "?ns=docker.io" by
 *               containerd, or the "docker.io/..." path prefix).
 *   jobs        one upstream fetch per missing object, whatever the number of
 *               requests that want it (single flight): a job is found by its
 *               key while it runs, and every request waiting on it is woken
 *               through its proxy_wait when there is news.
 *   manifests   stored byte for byte under the digest of those bytes; a tag
 *               is re-checked with a HEAD at most every revalidate_sec, and
 *               upstream 404s are remembered for negative_sec.
 *   blobs       streamed: written to an upload file and readable by waiting
 *               requests while they arrive; the digest is checked before
 *               the blob is committed, and until then the last byte is held
 *               back, so no client ever gets a whole blob that failed.
 *
 * Waiting without blocking a thread: proxy_*_wait and proxy_blob_read take
 * a suspend function and a proxy_wait. When they cannot answer yet they call
 * suspend(arg) and queue the proxy_wait, both under the job's lock; later
 * (progress, the end, or shutdown) the job dequeues it and calls
 * w->resume(w->arg) exactly once, outside any lock. The HTTP side passes
 * MHD_suspend_connection and MHD_resume_connection. A queued proxy_wait
 * must stay valid until it is resumed.
 *
 * Upstreams that cannot be asked: an offline one (`upstream = NAME offline`)
 * serves only what is cached, so every fetch below ends at once with
 * ST_NOT_FOUND; one found unreachable lately (upstream_unreachable) makes
 * them end at once with ST_UNAVAILABLE. Either way no job is started and a
 * cached copy, if any, is what the caller serves.
 *
 * Nothing here knows HTTP requests from clients; the upstream client
 * (upstream.h) knows the upstream's HTTP.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../common/status.h"
#include "../oci/ref.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"
#include "upstream.h"

typedef struct proxy proxy;
typedef struct proxy_job proxy_job;

/* What the proxy_* keys of registry.conf say (defaults in config.h). */
typedef struct {
	uint32_t revalidate_sec;  /* a cached tag is re-checked at most this often */
	uint32_t negative_sec;	  /* an upstream 404 is remembered this long */
	uint32_t timeout_sec;	  /* upstream connect and stall timeout */
	uint32_t retries;	  /* upstream retries after a transient failure */
	uint32_t unreachable_sec; /* an unreachable upstream is not asked for this long */
	uint64_t max_manifest_bytes;
	uint64_t cache_max_bytes; /* bound on cached blob bytes, 0 = none */
	uint32_t cache_keep_sec;  /* blobs of manifests pulled within this are kept */
	const char *user_agent;
	const char *meta_backend; /* metadata backend of db_path (meta.h); borrowed */
} proxy_options;

/* Where a repository's content comes from. */
typedef struct {
	upstream *up;		   /* borrowed from the proxy */
	char remote[REF_NAME_MAX]; /* its name at the upstream ("library/alpine") */
	char local[REF_NAME_MAX];  /* its name here ("docker.io/library/alpine") */
} proxy_target;

typedef struct proxy_wait {
	void (*resume)(void *arg);
	void *arg;
	struct proxy_wait *next; /* the job's */
} proxy_wait;

/*
 * Makes the proxy for the upstream spec lines (registry.conf `upstream`),
 * storing into bs and the metadata index at db_path (of backend
 * opt->meta_backend, which must outlive the proxy); its pull records go to
 * data/cache.db. With no upstreams
 * *out is NULL and the result ST_OK: every name is local. ST_INVALID (a bad
 * spec or credentials file, logged), ST_NOMEM, ST_IO.
 */
status_t proxy_new(proxy **out, const proxy_options *opt, char *const *upstreams, size_t n,
		   blobstore *bs, const char *db_path, const char *data);

/* Cancels transfers, fails every job still running (waking its waiters)
 * and waits for the job threads to end. Later fetches get ST_UNAVAILABLE.
 * NULL is a no-op; so is a second call. */
void proxy_stop(proxy *px);

/* Stops it if needed and frees it. NULL is a no-op. */
void proxy_free(proxy *px);

/* The blob store it writes to (borrowed). */
blobstore *proxy_blobstore(const proxy *px);

/* The number of upstreams, and each one (borrowed). */
size_t proxy_upstream_count(const proxy *px);
upstream *proxy_upstream_at(const proxy *px, size_t i);

/*
 * Which upstream serves repository name, as asked with the containerd
 * namespace ns (NULL or "" when there is none):
 *   ns names an upstream               -> that upstream, remote = name
 *   ns names none                      -> none: the name is local
 *   name starts with "<upstream>/"     -> that upstream, remote = the rest
 *   an upstream's namespaces match     -> that upstream, remote = name
 * For docker.io a one-component remote gets "library/" in front. The local
 * name is "<upstream>/<remote>". ST_OK with *out; ST_NOT_FOUND if the name
 * is local (px NULL included); ST_NAME_INVALID if the local name would be
 * too long or invalid.
 */
status_t proxy_route(proxy *px, const char *name, const char *ns, proxy_target *out);

/* Records that blob or manifest digest was just served from the cache (for
 * the least-recently-pulled order of eviction). Cheap: queued, written by
 * a background thread. NULL px is a no-op. */
void proxy_touch(proxy *px, const char *digest);

/* ---- manifests ---- */

/* Whether local:ref (a tag or digest) was fetched or checked upstream
 * within revalidate_sec, so a cached copy may be served as is. */
bool proxy_fresh(proxy *px, const char *local, const char *ref);

/*
 * Starts, or joins, fetching manifest ref (tag or digest) of t into the
 * local storage (tagged, for a tag). revalidate: a cached copy exists;
 * check it with a HEAD first and fetch only if the upstream's digest
 * differs. ST_OK with *out (release with proxy_job_release); ST_EXISTS if
 * it was fetched or checked meanwhile (look locally again); ST_NOT_FOUND if
 * the upstream said 404 within negative_sec, or is offline; ST_UNAVAILABLE
 * when stopping, or if the upstream was unreachable lately; ST_NOMEM.
 *
 * The job's status, when done: ST_OK (stored); ST_NOT_FOUND (404; a tag
 * gone upstream is removed here too); ST_UNAVAILABLE, ST_DENIED,
 * ST_BAD_GATEWAY (the upstream failed: a cached copy may still be served);
 * ST_DIGEST_MISMATCH (the upstream's bytes do not match the digest asked
 * for); ST_IO, ST_NO_SPACE (storing failed).
 */
status_t proxy_manifest_fetch(proxy *px, const proxy_target *t, const char *ref, bool revalidate,
			      proxy_job **out);

/*
 * The same, synchronously on this thread with the caller's metadata
 * connection (for `registry mirror sync`): a digest already cached is not
 * asked for; a tag with revalidate is checked with a HEAD first. ST_OK with
 * the manifest's digest in out_digest; the job statuses otherwise.
 */
status_t proxy_pull_manifest(proxy *px, meta *db, const proxy_target *t, const char *ref,
			     bool revalidate, char out_digest[DIGEST_MAX]);

/* ---- blobs ---- */

/*
 * Starts, or joins, fetching blob digest of t (a job per cached repository
 * and digest). ST_OK with *out; ST_EXISTS if the upstream served or
 * confirmed it for t->local within revalidate_sec and it is in the store
 * (link it to the repository and serve it); ST_NOT_FOUND (a recent
 * upstream 404, or an offline upstream: checked first, so nothing stored is
 * served through a name that does not have it); ST_UNAVAILABLE when
 * stopping or unreachable lately; ST_NOMEM. The job ends ST_OK once the
 * blob is verified, committed and linked to t->local (a blob already in the
 * store is not fetched again: a HEAD upstream confirms that t's repository
 * has it, then it is linked); else ST_NOT_FOUND, ST_DIGEST_MISMATCH
 * (refused and discarded), ST_UNAVAILABLE, ST_DENIED, ST_BAD_GATEWAY,
 * ST_IO, ST_NO_SPACE; a failed job links nothing.
 */
status_t proxy_blob_fetch(proxy *px, const proxy_target *t, const char *digest, proxy_job **out);

/* Whether the blob's size is known or the job has ended; if not, suspends
 * and queues w (see above). */
bool proxy_blob_wait_size(proxy_job *j, proxy_wait *w, void (*suspend)(void *), void *arg);

/* The blob's size, or UPSTREAM_SIZE_UNKNOWN (the upstream did not say). */
uint64_t proxy_blob_size(proxy_job *j);

/*
 * Reads up to max bytes of the blob at off into buf. ST_OK with *out_n > 0;
 * ST_OK with *out_n == 0 at the end of a verified blob; ST_BUSY when the
 * bytes are not there yet (suspended and queued w); else the job's failure.
 */
status_t proxy_blob_read(proxy_job *j, uint64_t off, void *buf, size_t max, size_t *out_n,
			 proxy_wait *w, void (*suspend)(void *), void *arg);

/* What proxy_pull_blob reports as it goes, and asks to stop it. */
typedef struct {
	void (*progress)(void *arg, uint64_t done, uint64_t total); /* may be NULL */
	bool (*cancelled)(void *arg);				    /* may be NULL */
	void *arg;
} proxy_pull_cb;

/*
 * Synchronously makes blob digest of t present and linked to t->local (for
 * `registry mirror sync`). A blob already stored is only linked
 * (*out_fetched 0). Otherwise it is downloaded into an upload file named
 * after the digest, which survives a failure or an interruption: the next
 * call resumes it from where it stopped (with a Range request), re-hashing
 * what is there. ST_OK with *out_fetched bytes downloaded; ST_DIGEST_MISMATCH
 * (refused, the file removed); the upstream's failures; ST_IO, ST_NO_SPACE.
 */
status_t proxy_pull_blob(proxy *px, meta *db, const proxy_target *t, const char *digest,
			 const proxy_pull_cb *cb, uint64_t *out_fetched);

/* ---- tags ---- */

/* Starts, or joins, listing t's tags upstream. ST_OK with *out;
 * ST_NOT_FOUND (offline), ST_UNAVAILABLE when stopping or unreachable
 * lately: list what is cached. When done, proxy_job_tags has them. */
status_t proxy_tags_fetch(proxy *px, const proxy_target *t, proxy_job **out);

/* The tags a finished ST_OK tags job got (a JSON array; borrowed). */
json_t *proxy_job_tags(proxy_job *j);

/* ---- jobs ---- */

/* Whether j has ended; if not, suspends and queues w (see above). */
bool proxy_job_wait(proxy_job *j, proxy_wait *w, void (*suspend)(void *), void *arg);

/* The status of an ended job (ST_BUSY while it runs). */
status_t proxy_job_status(proxy_job *j);

/* Another reference to j (for a response that outlives the request). */
proxy_job *proxy_job_ref(proxy_job *j);

/* Drops a reference. NULL is a no-op. */
void proxy_job_release(proxy_job *j);

#endif
