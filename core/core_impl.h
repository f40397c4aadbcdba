/*
 * core_impl.h - what the files of core/ share; nothing outside core/
 * includes it.
 *
 * One `core` per process. Metadata connections are per thread (a pthread
 * key closes each when its thread ends), as the index's contract wants; the
 * blob store and the cache are shared. A core_req carries one request's
 * view of a repository: its resolved name, and for a mirrored one the cache
 * target and the upstream job it may be waiting on.
 */
#ifndef CORE_IMPL_H
#define CORE_IMPL_H

#include <pthread.h>

#include "../proxy/proxy.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"
#include "core.h"
#include "events.h"
#include "sessions.h"

typedef struct policy policy;
typedef struct pull_table pull_table;
typedef struct cache_holder cache_holder;

/*
 * What a reload may change in the core (settings.c; core_settings_new):
 * built whole and checked before it is swapped in, never changed after.
 * A request takes a reference when it opens (core_req_open) and drops it
 * when freed, a cached blob's reader holds one too, and background runs
 * (gc, retain, the upstream counters, mirror sync) take one per run; the
 * last reference frees it. So a request never sees half of a reload, and
 * an upstream removed by one lives until nothing uses it.
 */
struct core_settings {
	unsigned refs; /* under core.set_mu */
	bool delete_enabled;
	uint64_t max_manifest_bytes;
	uint32_t upload_ttl_sec, gc_delay_sec, gc_untagged_sec;
	bool gc_dry_run;
	policy *pol;	     /* quotas, immutable tags, retain lines (policy.c) */
	cache_holder *cache; /* the upstreams; NULL without any */
	proxy *px;	     /* cache's proxy, or NULL */
};

struct core {
	core_options opt;
	char data[4096];
	char storage[32], metadata[32];
	char db_path[4096 + 32];
	blobstore *bs;
	sessions *ups;
	proxy *px;  /* NULL without upstreams */
	events *ev; /* NULL without notify lines */
	pthread_key_t meta_key;
	/* core_store_stats_get's last count, reused for CORE_STATS_MAX_AGE_SEC */
	pthread_mutex_t stats_mu;
	struct timespec stats_at; /* CLOCK_MONOTONIC; 0: never counted */
	core_store_stats stats;
	pull_table *pt; /* pull counts waiting to be written (usage.c) */
	/* what this process's collections did (collect.c), under gc_mu */
	pthread_mutex_t gc_mu;
	core_gc_totals gc_totals;
	core_gc_report gc_last;
	int64_t gc_last_at; /* Unix time; 0: no run yet */
	/* the reloadable settings (settings.c): the current ones, and every
	 * cache still alive (core_stop stops them all) */
	pthread_mutex_t set_mu;
	core_settings *set;
	cache_holder *caches;
};

struct core_req {
	core *c;
	core_settings *set;	  /* a reference: the settings it started under */
	char name[REF_NAME_MAX];  /* read and written: the cache name if mirrored */
	char asked[REF_NAME_MAX]; /* as the client spelt it */
	char ns[CORE_UPSTREAM_NAME_MAX];
	char detail[256];
	char actor[CORE_ACTOR_MAX]; /* who asks: "" anonymous */
	/* where from (core_req_set_origin), for events */
	char o_addr[64], o_host[256], o_method[16], o_agent[256], o_id[40];
	bool mirrored;
	bool alias; /* asked is dockerd's bare spelling of name */
	core_waiter w;
	/* a mirrored repository: where it comes from, and the pending job */
	proxy_target t;
	proxy_job *job;
	proxy_wait wait;
	bool had_local; /* a manifest: a cached copy exists */
	bool relinked;	/* a blob: the local path was tried again */
};

/* This thread's metadata connection, opened on first use. ST_OK or ST_IO. */
status_t core_db(core *c, meta **out);

/* Writes a sentence into q->detail. */
void core_detail(core_req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A blob to read from a stored reader, or from a cache job (cache.c). */
struct core_blob {
	blob_reader *rd;    /* stored: the reader */
	proxy_job *job;	    /* arriving: the job (a reference) */
	uint64_t base;	    /* offset of the blob's byte 0 in job terms (0) */
	uint64_t size;	    /* CORE_SIZE_UNKNOWN if not said */
	proxy_wait wait;    /* a read waiting for bytes */
	core *c;	    /* arriving: whose settings */
	core_settings *set; /* arriving: a reference, for the job's proxy */
};

/* ---- settings.c: what a reload changes ---- */

/* A reference to the current settings (settings_put). Never NULL once the
 * core is open. */
core_settings *settings_get(core *c);
/* Drops a reference; the last one frees them (and a cache nothing else
 * uses: its transfers are cancelled, its threads joined). NULL is a no-op. */
void settings_put(core *c, core_settings *s);
/* Stops every cache still alive (core_stop). */
void settings_stop(core *c);
/* Frees the current settings and every cache (core_close). */
void settings_close(core *c);

/* ---- cache.c: the read-through source for mirrored repositories ---- */

/* Resolves name/ns into q (mirrored or not). */
status_t cache_route(core *c, core_req *q, const char *name, const char *ns);
/* A manifest of a mirrored repository, as core_manifest_get. */
status_t cache_manifest_get(core *c, core_req *q, const char *ref, core_manifest *out);
/* A blob a mirrored repository does not hold yet, as core_blob_get. */
status_t cache_blob_get(core *c, core_req *q, const char *digest, core_blob **out);
/* The tags of a mirrored repository, as a sorted, deduplicated JSON-free
 * list through fn, as core_tags. */
status_t cache_tags(core *c, core_req *q, const char *last, int n, core_list_fn fn, void *arg,
		    bool *out_more);
/* Reads an arriving blob, as core_blob_read. */
status_t cache_blob_read(core_blob *b, uint64_t off, void *buf, size_t max, size_t *out_n,
			 const core_waiter *w);

/* ---- policy.c: rules that do not depend on who asks ---- */

/* A write to q's repository (push, tag, delete): read-only mirrors. */
status_t policy_writable(core_req *q);
/* A DELETE of a manifest, tag or blob: delete_enabled (writable is
 * checked first, on its own). */
status_t policy_delete(core_req *q);
/* Something happened (what: "push", "delete", "mount", "upload"): an audit
 * line at info (an upload, one blob of a push, at debug), and the events of
 * a delete or a mount (events_emit). A push's events are not queued here
 * but by core_manifest_put, in the manifest's own transaction. */
void core_event(core_req *q, const char *what, const char *digest, const char *tag);

/* The storage policies, parsed from o's lines. ST_OK with *out
 * (policy_free); ST_INVALID (logged); ST_NOMEM. */
status_t policy_new(policy **out, const core_options *o);
void policy_free(policy *p);

/* Links digest (size bytes, its row held as gen by meta_blob_hold) to q's
 * repository, under the quotas on it: the check and meta_blob_link_held
 * are one transaction. ST_OK; ST_DENIED with a detail naming the quota, its
 * size and its use; meta_blob_link_held's failures (ST_BUSY: the row went). */
status_t policy_link(core_req *q, meta *db, const char *digest, uint64_t size, int64_t gen);

/* meta_blob_mount (from: the source repository; NULL: any) under the
 * quotas on q's repository, in one transaction. ST_OK with *out_size;
 * ST_DENIED (a quota); meta_blob_mount's failures. */
status_t policy_mount(core_req *q, meta *db, const char *from, const char *digest,
		      uint64_t *out_size);

/* meta_manifest_push for q's repository, refusing in the same transaction
 * to move an immutable tag (ST_DENIED, the detail names the rule) or to
 * grow past a quota (ST_DENIED); else meta_manifest_push's statuses (its
 * existence checks and bumps are in that transaction too). */
status_t policy_manifest_put(core_req *q, meta *db, const meta_manifest *man,
			     const char *const *refs, size_t nrefs, const char *const *tags,
			     size_t ntags, meta_push *push);

/* Deletes tag ref (or, by_digest, manifest ref and its tags) of q's
 * repository, refusing an immutable tag in the same transaction
 * (ST_DENIED). ST_OK; ST_NOT_FOUND; ST_IO. */
status_t policy_delete_ref(core_req *q, meta *db, const char *ref, bool by_digest);

/* The immutable line that holds tag of repo ("PATTERN TAGGLOB"), or NULL. */
const char *policy_immutable(const policy *p, const char *repo, const char *tag);
/* core_quotas over policy p (the caller holds the settings it came from). */
status_t policy_quotas(const policy *p, core *c, bool (*visible)(void *, const char *), void *varg,
		       void (*fn)(void *arg, const core_quota_row *r), void *arg);

/* A retain line, parsed (retain.c applies them). */
typedef struct {
	char line[512]; /* as written, for the log */
	char pattern[256];
	char tags[256]; /* "" = every tag */
	uint32_t keep;
	uint32_t pushed_within, pulled_within; /* seconds; 0 = not given */
} retain_rule;

/* The retain lines, in file order (*out borrowed from p). */
size_t policy_retain_rules(const policy *p, const retain_rule **out);

/* ---- gc.c: removing what nothing references ---- */

/* Steps 1 to 5 of a collection (gc.c says them) under o, as core_collect
 * without retention, summary line and counts: out's tags and status are
 * left alone. ST_OK; ST_IO; ST_NOMEM (what was done stays done). */
status_t gc_unreferenced(core *c, const core_gc_options *o, core_gc_report *out);

/* ---- usage.c: pull records ---- */

/* The pull table, empty, its writer not started yet. ST_OK, ST_NOMEM. */
status_t usage_new(core *c);
/* Writes the pull counts waiting in memory (core_du, core_close). */
void usage_flush(core *c);
/* Stops the writer thread after a last flush, and frees the table. */
void usage_stop(core *c);
/* Counts a pull of manifest digest of q's repository by ref (a tag, or a
 * digest: by digest), in memory (see core_manifest_served). */
void usage_pull(core *c, const core_req *q, const char *ref, const char *digest);

#endif
