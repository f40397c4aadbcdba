/*
 * proxy.c - the pull-through cache (see proxy.h).
 *
 * State, all under px_mu unless said otherwise:
 *   px_jobs     the jobs running, a list searched by key ("m|LOCAL|REF",
 *               "b|LOCAL|DIGEST", "t|LOCAL"); a job leaves it when it ends,
 *               after its result is in the storage, so whoever misses it
 *               there finds the result locally or in the memo;
 *   px_memo     a hash of "LOCAL|REF" -> until when it counts as fresh, and
 *               until when an upstream 404 is believed;
 *   px_running  job threads alive (proxy_stop waits for 0).
 * A job's own fields (done, status, size, bytes written, waiters) are under
 * its j_mu. Lock order: px_mu, then a j_mu; never the other way. The
 * callbacks a waiter gave are called with neither held, except suspend,
 * which is called under j_mu so that it always happens before the resume.
 *
 * A job is reference-counted (under px_mu): the table holds none, its
 * thread one, each request and each response reading it one. The last
 * release closes its file and frees it.
 *
 * Job threads open their own metadata connection (one per job; jobs are
 * rare next to requests) and write through blobstore/meta like a push.
 *
 * Everything is per cached repository (LOCAL): a blob job serves only the
 * repository it fetches for, and a blob already stored (fetched for another
 * repository, or pushed here) is linked to a cached repository only once
 * the upstream has said, for that repository, that it has it (a HEAD). So
 * a cache name never serves what its upstream would not, and a read that
 * the upstream refuses changes nothing.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../common/curl_load.h"

#include "../common/log.h"
#include "../oci/manifest.h"
#include "../storage/meta.h"
#include "../storage/pulls.h"

#define PROXY_MEMO_BUCKETS 4096
#define PROXY_MEMO_MAX 200000 /* entries; past this, new ones are not kept */
#define PROXY_KEY_MAX (REF_NAME_MAX + DIGEST_MAX + 8)
#define PROXY_MAINT_SEC 10		 /* pull records are written at least this often */
#define PROXY_EVENTS_MAX 100000		 /* queued records; past this, touches are dropped */
#define PROXY_EVICT_BATCH 1000		 /* blobs looked at per eviction round */
#define PROXY_THREAD_STACK (1024 * 1024) /* SQLite, libcurl and OpenSSL run on it */

typedef enum { JOB_MANIFEST, JOB_BLOB, JOB_TAGS } job_kind;

struct proxy_job {
	proxy *j_px;
	int j_refs; /* under px_mu */
	char j_key[PROXY_KEY_MAX];
	job_kind j_kind;
	proxy_target j_t;
	char j_ref[DIGEST_MAX]; /* manifest tag or digest; blob digest */
	bool j_revalidate;
	struct proxy_job *j_next; /* px_jobs */
	bool j_listed;		  /* in px_jobs */

	pthread_mutex_t j_mu;
	proxy_wait *j_waiters;
	bool j_done;
	status_t j_st;
	/* blobs */
	uint64_t j_size; /* UPSTREAM_SIZE_UNKNOWN until known */
	bool j_size_known;
	uint64_t j_written;
	bool j_verified;
	blob_reader *j_rd; /* read side of the upload */
	blob_upload *j_up;
	char j_up_id[BLOBSTORE_ID_MAX + 1];
	/* tags */
	json_t *j_tags;
};

/* A record for the pull index, queued for the maintenance thread. */
typedef enum { EV_TOUCH, EV_CACHED, EV_REFS } event_kind;

typedef struct event {
	struct event *next;
	event_kind kind;
	time_t when;
	uint64_t size;
	char digest[DIGEST_MAX];
	char **refs; /* EV_REFS: owned */
	size_t nrefs;
} event;

typedef struct memo {
	struct memo *next;
	time_t fresh_until;
	time_t missing_until;
	char key[];
} memo;

struct proxy {
	proxy_options px_opt;
	blobstore *px_bs;
	char *px_db_path;
	upstream **px_ups;
	size_t px_nups;
	bool px_curl_ready; /* libcurl loaded and curl_global_init done */

	pthread_mutex_t px_mu;
	pthread_cond_t px_cv; /* px_running changed */
	proxy_job *px_jobs;
	memo *px_memo[PROXY_MEMO_BUCKETS];
	size_t px_nmemo;
	unsigned px_running;
	bool px_stopping;
	bool px_stopped;

	/* the pull index (storage/pulls.h), written by the maintenance thread */
	char *px_pulls_path;
	event *px_events, **px_events_tail;
	size_t px_nevents;
	bool px_evict_due;
	pthread_cond_t px_maint_cv;
	pthread_t px_maint;
	bool px_maint_started;
};

/* ---------------------------------------------------------------------- */
/* the memo                                                               */
/* ---------------------------------------------------------------------- */

static unsigned memo_hash(const char *key)
{
	unsigned h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % PROXY_MEMO_BUCKETS;
}

/* The entry for key (creating it if create), or NULL. Under px_mu. Expired
 * entries met on the way are dropped. */
static memo *memo_find(proxy *px, const char *key, bool create)
{
	unsigned h = memo_hash(key);
	time_t now = time(NULL);
	memo **pp = &px->px_memo[h], *m;

	while ((m = *pp) != NULL) {
		if (strcmp(m->key, key) == 0)
			return m;
		if (m->fresh_until < now && m->missing_until < now) {
			*pp = m->next;
			free(m);
			px->px_nmemo--;
			continue;
		}
		pp = &m->next;
	}
	if (!create || px->px_nmemo >= PROXY_MEMO_MAX)
		return NULL;
	if ((m = calloc(1, sizeof(*m) + strlen(key) + 1)) == NULL)
		return NULL;
	strcpy(m->key, key);
	m->next = px->px_memo[h];
	px->px_memo[h] = m;
	px->px_nmemo++;
	return m;
}

static void memo_key(char *out, const char *local, const char *ref)
{
	snprintf(out, PROXY_KEY_MAX, "%s|%s", local, ref);
}

static void memo_set(proxy *px, const char *local, const char *ref, bool found)
{
	char key[PROXY_KEY_MAX];
	memo *m;

	memo_key(key, local, ref);
	pthread_mutex_lock(&px->px_mu);
	if ((m = memo_find(px, key, true)) != NULL) {
		if (found) {
			m->fresh_until = time(NULL) + (time_t)px->px_opt.revalidate_sec;
			m->missing_until = 0;
		} else {
			m->fresh_until = 0;
			m->missing_until = time(NULL) + (time_t)px->px_opt.negative_sec;
		}
	}
	pthread_mutex_unlock(&px->px_mu);
}

/* Under px_mu: 1 fresh, -1 known missing, 0 neither. */
static int memo_state(proxy *px, const char *local, const char *ref)
{
	char key[PROXY_KEY_MAX];
	memo *m;
	time_t now = time(NULL);

	memo_key(key, local, ref);
	if ((m = memo_find(px, key, false)) == NULL)
		return 0;
	if (m->fresh_until > now)
		return 1;
	if (m->missing_until > now)
		return -1;
	return 0;
}

bool proxy_fresh(proxy *px, const char *local, const char *ref)
{
	int s;

	if (px == NULL || px->px_opt.revalidate_sec == 0)
		return false;
	pthread_mutex_lock(&px->px_mu);
	s = memo_state(px, local, ref);
	pthread_mutex_unlock(&px->px_mu);
	return s == 1;
}

/* ---------------------------------------------------------------------- */
/* life cycle and routing                                                 */
/* ---------------------------------------------------------------------- */

static void *maint_main(void *arg);

status_t proxy_new(proxy **out, const proxy_options *opt, char *const *upstreams, size_t n,
		   blobstore *bs, const char *db_path, const char *data)
{
	proxy *px = NULL;
	upstream_options uo;
	status_t st = ST_NOMEM;

	*out = NULL;
	if (n == 0)
		return ST_OK;
	if ((px = calloc(1, sizeof(*px))) == NULL)
		return ST_NOMEM;
	px->px_opt = *opt;
	px->px_bs = bs;
	pthread_mutex_init(&px->px_mu, NULL);
	pthread_cond_init(&px->px_cv, NULL);
	pthread_cond_init(&px->px_maint_cv, NULL);
	px->px_events_tail = &px->px_events;
	if ((px->px_db_path = strdup(db_path)) == NULL ||
	    (px->px_pulls_path = malloc(strlen(data) + 16)) == NULL ||
	    (px->px_ups = calloc(n, sizeof(*px->px_ups))) == NULL)
		goto fail;
	/* beside the data, whatever the metadata backend (a postgres location
	 * is no path) */
	sprintf(px->px_pulls_path, "%s/cache.db", data);
	uo.timeout_sec = opt->timeout_sec;
	uo.retries = opt->retries;
	uo.unreachable_sec = opt->unreachable_sec;
	uo.max_manifest_bytes = opt->max_manifest_bytes;
	uo.user_agent = opt->user_agent;
	for (size_t i = 0; i < n; i++) {
		upstream_spec spec;
		char err[256];

		if (upstream_spec_parse(&spec, upstreams[i], err, sizeof(err)) != ST_OK) {
			log_error("upstream '%s': %s", upstreams[i], err);
			st = ST_INVALID;
			goto fail;
		}
		/* libcurl only for upstreams that are asked: an offline machine
		 * need not map it */
		if (!spec.offline && !px->px_curl_ready) {
			if (curl_load() != ST_OK) {
				st = ST_IO;
				goto fail;
			}
			if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != 0) {
				log_error("cannot initialise libcurl");
				st = ST_IO;
				goto fail;
			}
			px->px_curl_ready = true;
		}
		if ((st = upstream_new(&px->px_ups[i], &spec, &uo)) != ST_OK)
			goto fail;
		px->px_nups++;
		log_info("mirroring %s %s%s%s%s", spec.name, spec.offline ? "offline" : "from ",
			 spec.offline ? " (only what is cached)" : spec.url,
			 spec.namespaces[0] ? ", unprefixed namespaces " : "", spec.namespaces);
	}
	if (pthread_create(&px->px_maint, NULL, maint_main, px) != 0) {
		log_error("proxy: cannot start the maintenance thread");
		st = ST_IO;
		goto fail;
	}
	px->px_maint_started = true;
	*out = px;
	return ST_OK;
fail:
	proxy_free(px);
	return st;
}

void proxy_stop(proxy *px)
{
	if (px == NULL)
		return;
	pthread_mutex_lock(&px->px_mu);
	if (px->px_stopped) {
		pthread_mutex_unlock(&px->px_mu);
		return;
	}
	px->px_stopping = true;
	pthread_mutex_unlock(&px->px_mu);
	for (size_t i = 0; i < px->px_nups; i++)
		upstream_cancel(px->px_ups[i]);
	pthread_mutex_lock(&px->px_mu);
	while (px->px_running > 0)
		pthread_cond_wait(&px->px_cv, &px->px_mu);
	px->px_stopped = true;
	pthread_cond_broadcast(&px->px_maint_cv);
	pthread_mutex_unlock(&px->px_mu);
	if (px->px_maint_started) {
		pthread_join(px->px_maint, NULL); /* after its last write */
		px->px_maint_started = false;
	}
}

static void events_free(event *e)
{
	while (e != NULL) {
		event *next = e->next;
		for (size_t i = 0; i < e->nrefs; i++)
			free(e->refs[i]);
		free(e->refs);
		free(e);
		e = next;
	}
}

void proxy_free(proxy *px)
{
	if (px == NULL)
		return;
	proxy_stop(px);
	for (size_t i = 0; i < px->px_nups; i++)
		upstream_free(px->px_ups[i]);
	for (size_t i = 0; i < PROXY_MEMO_BUCKETS; i++) {
		memo *m = px->px_memo[i], *next;
		for (; m != NULL; m = next) {
			next = m->next;
			free(m);
		}
	}
	if (px->px_curl_ready)
		libcurl.global_cleanup();
	events_free(px->px_events);
	free(px->px_ups);
	free(px->px_db_path);
	free(px->px_pulls_path);
	pthread_mutex_destroy(&px->px_mu);
	pthread_cond_destroy(&px->px_cv);
	pthread_cond_destroy(&px->px_maint_cv);
	free(px);
}

blobstore *proxy_blobstore(const proxy *px)
{
	return px->px_bs;
}

size_t proxy_upstream_count(const proxy *px)
{
	return px ? px->px_nups : 0;
}

upstream *proxy_upstream_at(const proxy *px, size_t i)
{
	return px && i < px->px_nups ? px->px_ups[i] : NULL;
}

static upstream *upstream_named(proxy *px, const char *name, size_t n)
{
	for (size_t i = 0; i < px->px_nups; i++) {
		const char *un = upstream_get_spec(px->px_ups[i])->name;
		if (strlen(un) == n && strncasecmp(un, name, n) == 0)
			return px->px_ups[i];
	}
	return NULL;
}

status_t proxy_route(proxy *px, const char *name, const char *ns, proxy_target *out)
{
	upstream *up = NULL;
	const char *remote = name;
	size_t first;
	int w;

	if (px == NULL || name == NULL)
		return ST_NOT_FOUND;
	first = strcspn(name, "/");
	/* containerd sends ns= for the registry it mirrors through us; one we do
	 * not mirror must not be served from another's cache under the same
	 * repository name: the name is local then. */
	if (ns != NULL && ns[0] != '\0' && (up = upstream_named(px, ns, strlen(ns))) == NULL)
		return ST_NOT_FOUND;
	if (up == NULL && name[first] == '/' && (up = upstream_named(px, name, first)) != NULL)
		remote = name + first + 1;
	for (size_t i = 0; up == NULL && i < px->px_nups; i++)
		if (upstream_spec_serves(upstream_get_spec(px->px_ups[i]), name))
			up = px->px_ups[i];
	if (up == NULL)
		return ST_NOT_FOUND;
	memset(out, 0, sizeof(*out));
	out->up = up;
	if (strcmp(upstream_get_spec(up)->name, "docker.io") == 0 && strchr(remote, '/') == NULL)
		w = snprintf(out->remote, sizeof(out->remote), "library/%s", remote);
	else
		w = snprintf(out->remote, sizeof(out->remote), "%s", remote);
	if (w < 0 || (size_t)w >= sizeof(out->remote))
		return ST_NAME_INVALID;
	w = snprintf(out->local, sizeof(out->local), "%s/%s", upstream_get_spec(up)->name,
		     out->remote);
	if (w < 0 || (size_t)w >= sizeof(out->local) || ref_name_check(out->local) != ST_OK)
		return ST_NAME_INVALID;
	return ST_OK;
}

/* ---------------------------------------------------------------------- */
/* the pull index: events, the maintenance thread, eviction               */
/* ---------------------------------------------------------------------- */

static proxy_job *job_find(proxy *px, const char *key);

/* Under px_mu: whether a blob job for digest runs, for any repository. */
static bool blob_job_running(proxy *px, const char *digest)
{
	for (proxy_job *j = px->px_jobs; j != NULL; j = j->j_next)
		if (j->j_kind == JOB_BLOB && strcmp(j->j_ref, digest) == 0)
			return true;
	return false;
}

/* Queues e (taken over) for the maintenance thread; wake asks for an
 * eviction round now. Dropped (and freed) past PROXY_EVENTS_MAX. */
static void event_push(proxy *px, event *e, bool wake)
{
	pthread_mutex_lock(&px->px_mu);
	if (px->px_nevents >= PROXY_EVENTS_MAX || px->px_stopped) {
		pthread_mutex_unlock(&px->px_mu);
		events_free(e);
		return;
	}
	e->next = NULL;
	*px->px_events_tail = e;
	px->px_events_tail = &e->next;
	px->px_nevents++;
	if (wake) {
		px->px_evict_due = true;
		pthread_cond_broadcast(&px->px_maint_cv);
	}
	pthread_mutex_unlock(&px->px_mu);
}

static event *event_new(event_kind kind, const char *digest)
{
	event *e = calloc(1, sizeof(*e));

	if (e != NULL) {
		e->kind = kind;
		e->when = time(NULL);
		snprintf(e->digest, sizeof(e->digest), "%s", digest);
	}
	return e;
}

void proxy_touch(proxy *px, const char *digest)
{
	event *e;

	if (px != NULL && (e = event_new(EV_TOUCH, digest)) != NULL)
		event_push(px, e, false);
}

/* A manifest was stored: what it references, and that it was pulled. */
static void event_manifest(proxy *px, const char *digest, const manifest_info *info)
{
	event *e = event_new(EV_REFS, digest);

	if (e == NULL)
		return;
	if (info->nrefs > 0 && (e->refs = calloc(info->nrefs, sizeof(*e->refs))) == NULL) {
		free(e);
		return;
	}
	for (size_t i = 0; i < info->nrefs; i++)
		if ((e->refs[e->nrefs] = strdup(info->refs[i].digest)) != NULL)
			e->nrefs++;
	event_push(px, e, false);
	proxy_touch(px, digest);
}

/* Writes the queued events. */
static void maint_flush(proxy *px, pulls *pl)
{
	event *list;

	pthread_mutex_lock(&px->px_mu);
	list = px->px_events;
	px->px_events = NULL;
	px->px_events_tail = &px->px_events;
	px->px_nevents = 0;
	pthread_mutex_unlock(&px->px_mu);
	for (event *e = list; e != NULL && pl != NULL; e = e->next) {
		switch (e->kind) {
		case EV_TOUCH:
			pulls_touch(pl, e->digest, e->when);
			break;
		case EV_CACHED:
			pulls_blob_cached(pl, e->digest, e->size, e->when);
			break;
		case EV_REFS:
			pulls_manifest_refs(pl, e->digest, (const char *const *)e->refs, e->nrefs);
			break;
		}
	}
	events_free(list);
}

typedef struct {
	char (*digest)[DIGEST_MAX];
	uint64_t *size;
	size_t n;
	uint64_t want; /* bytes to free */
	uint64_t sum;
} victims;

static int collect_victim(void *arg, const char *digest, uint64_t size, time_t pulled)
{
	victims *v = arg;

	if (v->n == PROXY_EVICT_BATCH || v->sum >= v->want)
		return 1;
	snprintf(v->digest[v->n], DIGEST_MAX, "%s", digest);
	v->size[v->n++] = size;
	v->sum += size;
	return 0;
}

typedef struct {
	proxy *px;
	char repos[16][REF_NAME_MAX];
	size_t n;
	bool local; /* some repository no upstream serves has it */
	bool more;
} repo_list;

static int collect_repo(void *arg, const char *repo)
{
	repo_list *l = arg;
	proxy_target t;

	if (proxy_route(l->px, repo, NULL, &t) != ST_OK) {
		l->local = true;
		return 1;
	}
	if (l->n == sizeof(l->repos) / sizeof(l->repos[0])) {
		l->more = true;
		return 1;
	}
	snprintf(l->repos[l->n++], REF_NAME_MAX, "%s", repo);
	return 0;
}

/* meta_gc_reap's fn: the evicted blob's file goes. */
static void evict_file(void *arg, meta_gc_item *it)
{
	proxy *px = arg;

	blobstore_delete(px->px_bs, it->digest);
}

/* One eviction round: gets the cached blobs under cache_max_bytes if what
 * may go allows it. */
static void maint_evict(proxy *px, pulls *pl, meta *db)
{
	uint64_t total, freed = 0;
	victims v = {0};
	size_t evicted = 0;

	if (px->px_opt.cache_max_bytes == 0 || pulls_total(pl, &total) != ST_OK ||
	    total <= px->px_opt.cache_max_bytes)
		return;
	v.want = total - px->px_opt.cache_max_bytes;
	if ((v.digest = calloc(PROXY_EVICT_BATCH, sizeof(*v.digest))) == NULL ||
	    (v.size = calloc(PROXY_EVICT_BATCH, sizeof(*v.size))) == NULL)
		goto done;
	pulls_victims(pl, time(NULL) - (time_t)px->px_opt.cache_keep_sec, collect_victim, &v);
	for (size_t i = 0; i < v.n && freed < v.want; i++) {
		repo_list l = {.px = px};
		bool busy;

		pthread_mutex_lock(&px->px_mu);
		busy = blob_job_running(px, v.digest[i]);
		pthread_mutex_unlock(&px->px_mu);
		if (busy)
			continue;
		if (meta_blob_repos(db, v.digest[i], collect_repo, &l) != ST_OK)
			continue;
		if (l.local) {
			/* pushed here too: not the cache's to remove */
			pulls_forget(pl, v.digest[i]);
			continue;
		}
		for (size_t k = 0; k < l.n; k++)
			meta_blob_unlink(db, l.repos[k], v.digest[i]);
		if (l.more)
			continue; /* the rest next round */
		/* The collector's rule and removal (storage/meta.h): the row goes
		 * only if no repository links the blob (a push may have linked it
		 * since the look above) and it is no manifest; then the file,
		 * only while the row is still gone. */
		meta_gc_item it = {.size = v.size[i]};
		snprintf(it.digest, sizeof(it.digest), "%s", v.digest[i]);
		if (meta_gc_blobs_drop(db, &it, 1, true) != ST_OK || !it.dropped) {
			pulls_forget(pl, v.digest[i]); /* someone else's now */
			continue;
		}
		if (meta_gc_reap(db, &it, 1, false, evict_file, px) != ST_OK)
			continue;
		pulls_forget(pl, v.digest[i]);
		freed += v.size[i];
		evicted++;
		log_debug("cache: evicted %s (%llu bytes)", v.digest[i],
			  (unsigned long long)v.size[i]);
	}
	if (evicted > 0)
		log_info("cache: evicted %zu blob(s), %llu bytes (the cache held %llu, "
			 "proxy_cache_max is %llu)",
			 evicted, (unsigned long long)freed, (unsigned long long)total,
			 (unsigned long long)px->px_opt.cache_max_bytes);
	if (freed < v.want)
		log_warn("cache: %llu bytes over proxy_cache_max, and nothing more may go: every "
			 "other cached blob belongs to an image pulled within proxy_cache_keep",
			 (unsigned long long)(v.want - freed));
done:
	free(v.digest);
	free(v.size);
}

static void *maint_main(void *arg)
{
	proxy *px = arg;
	pulls *pl = NULL;
	meta *db = NULL;
	struct timespec until;
	bool stop = false, evict;

	if (pulls_open(&pl, px->px_pulls_path) != ST_OK)
		log_error("proxy: no pull index (%s): the cache cannot be bounded",
			  px->px_pulls_path);
	if (px->px_opt.cache_max_bytes > 0 &&
	    meta_open_backend(&db, px->px_opt.meta_backend, px->px_db_path) != ST_OK)
		log_error("proxy: cannot open %s: the cache cannot be bounded", px->px_db_path);
	while (!stop) {
		pthread_mutex_lock(&px->px_mu);
		if (!px->px_evict_due && !px->px_stopped) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += PROXY_MAINT_SEC;
			pthread_cond_timedwait(&px->px_maint_cv, &px->px_mu, &until);
		}
		stop = px->px_stopped;
		evict = px->px_evict_due;
		px->px_evict_due = false;
		pthread_mutex_unlock(&px->px_mu);
		maint_flush(px, pl);
		if (pl != NULL && db != NULL && (evict || stop))
			maint_evict(px, pl, db);
	}
	meta_close(db);
	pulls_close(pl);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* jobs                                                                   */
/* ---------------------------------------------------------------------- */

proxy_job *proxy_job_ref(proxy_job *j)
{
	pthread_mutex_lock(&j->j_px->px_mu);
	j->j_refs++;
	pthread_mutex_unlock(&j->j_px->px_mu);
	return j;
}

static void job_free(proxy_job *j)
{
	blob_reader_close(j->j_rd);
	blob_upload_free(j->j_up);
	json_decref(j->j_tags);
	pthread_mutex_destroy(&j->j_mu);
	free(j);
}

void proxy_job_release(proxy_job *j)
{
	proxy *px;
	bool last;

	if (j == NULL)
		return;
	px = j->j_px;
	pthread_mutex_lock(&px->px_mu);
	last = --j->j_refs == 0;
	pthread_mutex_unlock(&px->px_mu);
	if (last)
		job_free(j);
}

/* Resumes every waiter of j (called without j_mu). */
static void job_wake(proxy_job *j)
{
	proxy_wait *w, *next;

	pthread_mutex_lock(&j->j_mu);
	w = j->j_waiters;
	j->j_waiters = NULL;
	pthread_mutex_unlock(&j->j_mu);
	for (; w != NULL; w = next) {
		next = w->next; /* w may be queued again as soon as it is resumed */
		w->resume(w->arg);
	}
}

/* Under j_mu: suspends the caller and queues w. */
static void job_enqueue(proxy_job *j, proxy_wait *w, void (*suspend)(void *), void *arg)
{
	suspend(arg);
	w->next = j->j_waiters;
	j->j_waiters = w;
}

bool proxy_job_wait(proxy_job *j, proxy_wait *w, void (*suspend)(void *), void *arg)
{
	bool done;

	pthread_mutex_lock(&j->j_mu);
	done = j->j_done;
	if (!done)
		job_enqueue(j, w, suspend, arg);
	pthread_mutex_unlock(&j->j_mu);
	return done;
}

status_t proxy_job_status(proxy_job *j)
{
	status_t st;

	pthread_mutex_lock(&j->j_mu);
	st = j->j_done ? j->j_st : ST_BUSY;
	pthread_mutex_unlock(&j->j_mu);
	return st;
}

json_t *proxy_job_tags(proxy_job *j)
{
	return j->j_tags;
}

/* Ends j with st: off the table, waiters woken, the thread's reference
 * dropped. */
static void job_finish(proxy_job *j, status_t st)
{
	proxy *px = j->j_px;

	pthread_mutex_lock(&j->j_mu);
	j->j_done = true;
	j->j_st = st;
	pthread_mutex_unlock(&j->j_mu);
	pthread_mutex_lock(&px->px_mu);
	if (j->j_listed) {
		proxy_job **pp = &px->px_jobs;
		while (*pp != j)
			pp = &(*pp)->j_next;
		*pp = j->j_next;
		j->j_listed = false;
	}
	pthread_mutex_unlock(&px->px_mu);
	job_wake(j);
	proxy_job_release(j);
}

/* Under px_mu: the running job with key, or NULL. */
static proxy_job *job_find(proxy *px, const char *key)
{
	for (proxy_job *j = px->px_jobs; j != NULL; j = j->j_next)
		if (strcmp(j->j_key, key) == 0)
			return j;
	return NULL;
}

static void *job_main(void *arg);

/*
 * Under px_mu: makes a job for key and starts its thread. ST_OK with *out
 * (the caller's reference; the thread holds another), ST_NOMEM, ST_IO.
 */
static status_t job_start(proxy *px, const char *key, job_kind kind, const proxy_target *t,
			  const char *ref, bool revalidate, proxy_job **out)
{
	proxy_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	*out = NULL;
	if (j == NULL)
		return ST_NOMEM;
	j->j_px = px;
	j->j_refs = 2;
	snprintf(j->j_key, sizeof(j->j_key), "%s", key);
	j->j_kind = kind;
	j->j_t = *t;
	snprintf(j->j_ref, sizeof(j->j_ref), "%s", ref ? ref : "");
	j->j_revalidate = revalidate;
	j->j_size = UPSTREAM_SIZE_UNKNOWN;
	pthread_mutex_init(&j->j_mu, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, PROXY_THREAD_STACK);
	px->px_running++;
	rc = pthread_create(&tid, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		px->px_running--;
		log_error("proxy: cannot start a fetch thread: %s", strerror(rc));
		pthread_mutex_destroy(&j->j_mu);
		free(j);
		return ST_IO;
	}
	j->j_next = px->px_jobs;
	px->px_jobs = j;
	j->j_listed = true;
	*out = j;
	return ST_OK;
}

/* ---------------------------------------------------------------------- */
/* manifests                                                              */
/* ---------------------------------------------------------------------- */

/* ST_OK if t's upstream may be asked now; ST_NOT_FOUND if it is offline
 * (only the cache answers); ST_UNAVAILABLE if it was unreachable lately. */
static status_t upstream_askable(const proxy_target *t)
{
	if (upstream_get_spec(t->up)->offline)
		return ST_NOT_FOUND;
	return upstream_unreachable(t->up) ? ST_UNAVAILABLE : ST_OK;
}

status_t proxy_manifest_fetch(proxy *px, const proxy_target *t, const char *ref, bool revalidate,
			      proxy_job **out)
{
	char key[PROXY_KEY_MAX];
	proxy_job *j;
	status_t st;
	int s;

	*out = NULL;
	if ((st = upstream_askable(t)) != ST_OK)
		return st;
	snprintf(key, sizeof(key), "m|%s|%s", t->local, ref);
	pthread_mutex_lock(&px->px_mu);
	if (px->px_stopping) {
		st = ST_UNAVAILABLE;
	} else if ((j = job_find(px, key)) != NULL) {
		j->j_refs++;
		*out = j;
		st = ST_OK;
	} else if ((s = memo_state(px, t->local, ref)) != 0) {
		st = s > 0 ? ST_EXISTS : ST_NOT_FOUND;
	} else {
		st = job_start(px, key, JOB_MANIFEST, t, ref, revalidate, out);
	}
	pthread_mutex_unlock(&px->px_mu);
	return st;
}

/*
 * Stores a manifest's bytes in repo local under digest, tagged tag (may be
 * NULL), with what it references. ST_OK; ST_BAD_GATEWAY if it is not a
 * manifest we can store; ST_IO, ST_NO_SPACE, ST_NOMEM.
 */
static status_t store_manifest(proxy *px, meta *db, const proxy_target *t, const char *tag,
			       const upstream_manifest *um, const char *digest)
{
	manifest_info info = {0};
	meta_manifest man = {0};
	const char **refs = NULL;
	char err[256];
	status_t st;

	st = manifest_parse(&info, um->body, um->len, um->media_type[0] ? um->media_type : NULL,
			    err, sizeof(err));
	if (st != ST_OK) {
		log_warn("upstream %s: manifest %s of %s cannot be cached: %s",
			 upstream_get_spec(t->up)->name, digest, t->remote,
			 st == ST_NOMEM ? "out of memory" : err);
		return st == ST_NOMEM ? st : ST_BAD_GATEWAY;
	}
	if ((refs = calloc(info.nrefs + 1, sizeof(*refs))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++)
		refs[i] = info.refs[i].digest;
	if ((st = blobstore_put(px->px_bs, digest, um->body, um->len)) != ST_OK)
		goto done;
	snprintf(man.digest, sizeof(man.digest), "%s", digest);
	snprintf(man.media_type, sizeof(man.media_type), "%s", info.media_type);
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", info.artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", info.subject);
	man.size = um->len;
	man.annotations = info.annotations;
	st = meta_manifest_put(db, t->local, &man, refs, info.nrefs, &tag, tag ? 1 : 0);
	if (st == ST_OK)
		event_manifest(px, digest, &info);
done:
	free(refs);
	manifest_info_free(&info);
	return st;
}

/* GETs ref and stores it (tagged tag, may be NULL); its digest into out. */
static status_t manifest_get_store(proxy *px, meta *db, const proxy_target *t, const char *ref,
				   const char *tag, char out[DIGEST_MAX])
{
	upstream_manifest um;
	char digest[DIGEST_MAX];
	digest_alg alg = DIGEST_SHA256;
	status_t st;

	if ((st = upstream_get_manifest(t->up, t->remote, ref, false, &um)) != ST_OK)
		return st;
	if (strchr(ref, ':') != NULL)
		digest_parse(ref, &alg);
	else if (um.digest[0])
		digest_parse(um.digest, &alg);
	if ((st = digest_buffer(digest, alg, um.body, um.len)) != ST_OK)
		goto done;
	if ((strchr(ref, ':') != NULL && strcmp(digest, ref) != 0) ||
	    (um.digest[0] && strncmp(um.digest, digest, strcspn(digest, ":")) == 0 &&
	     strcmp(um.digest, digest) != 0)) {
		log_error("upstream %s (%s): manifest %s:%s: its bytes hash to %s, not %s; refused",
			  upstream_get_spec(t->up)->name, upstream_get_spec(t->up)->url, t->remote,
			  ref, digest, strchr(ref, ':') ? ref : um.digest);
		st = ST_DIGEST_MISMATCH;
		goto done;
	}
	if ((st = store_manifest(px, db, t, tag, &um, digest)) == ST_OK)
		snprintf(out, DIGEST_MAX, "%s", digest);
done:
	upstream_manifest_free(&um);
	return st;
}

status_t proxy_pull_manifest(proxy *px, meta *db, const proxy_target *t, const char *ref,
			     bool revalidate, char out_digest[DIGEST_MAX])
{
	bool is_tag = strchr(ref, ':') == NULL;
	meta_manifest cur, other;
	upstream_manifest head;
	status_t st;

	out_digest[0] = '\0';
	if (!is_tag && meta_manifest_get(db, t->local, ref, &cur) == ST_OK) {
		snprintf(out_digest, DIGEST_MAX, "%s", ref);
		return ST_OK; /* immutable */
	}
	if (revalidate && is_tag) {
		st = upstream_get_manifest(t->up, t->remote, ref, true, &head);
		if (st == ST_NOT_FOUND) {
			if (meta_tag_delete(db, t->local, ref) == ST_OK)
				log_info("upstream %s: %s:%s is gone; dropped the cached tag",
					 upstream_get_spec(t->up)->name, t->remote, ref);
			return st;
		}
		if (st != ST_OK)
			return st;
		if (head.digest[0] && meta_manifest_get(db, t->local, ref, &cur) == ST_OK &&
		    strcmp(cur.digest, head.digest) == 0) {
			log_debug("proxy: %s:%s unchanged upstream (%s)", t->local, ref,
				  cur.digest);
			snprintf(out_digest, DIGEST_MAX, "%s", cur.digest);
			return ST_OK;
		}
		if (head.digest[0] &&
		    meta_manifest_get(db, t->local, head.digest, &other) == ST_OK) {
			/* known already: only the tag moves */
			const char *tag = ref;
			other.annotations = NULL;
			log_info("proxy: %s:%s moved upstream to %s", t->local, ref, other.digest);
			snprintf(out_digest, DIGEST_MAX, "%s", other.digest);
			return meta_manifest_put(db, t->local, &other, NULL, 0, &tag, 1);
		}
		if (head.digest[0])
			return manifest_get_store(px, db, t, head.digest, ref, out_digest);
	}
	return manifest_get_store(px, db, t, ref, is_tag ? ref : NULL, out_digest);
}

static status_t manifest_job(proxy_job *j, meta *db)
{
	char digest[DIGEST_MAX];

	return proxy_pull_manifest(j->j_px, db, &j->j_t, j->j_ref, j->j_revalidate, digest);
}

/* ---------------------------------------------------------------------- */
/* blobs                                                                  */
/* ---------------------------------------------------------------------- */

status_t proxy_blob_fetch(proxy *px, const proxy_target *t, const char *digest, proxy_job **out)
{
	char key[PROXY_KEY_MAX];
	proxy_job *j;
	status_t st;
	int s;

	*out = NULL;
	if ((st = upstream_askable(t)) != ST_OK)
		return st;
	snprintf(key, sizeof(key), "b|%s|%s", t->local, digest);
	pthread_mutex_lock(&px->px_mu);
	if (px->px_stopping) {
		st = ST_UNAVAILABLE;
	} else if ((j = job_find(px, key)) != NULL) {
		j->j_refs++;
		*out = j;
		st = ST_OK;
	} else if ((s = memo_state(px, t->local, digest)) < 0) {
		st = ST_NOT_FOUND;
	} else if (s > 0 && blobstore_stat(px->px_bs, digest, NULL) == ST_OK) {
		st = ST_EXISTS; /* fetched or confirmed for t->local since the caller looked */
	} else {
		st = job_start(px, key, JOB_BLOB, t, digest, false, out);
	}
	pthread_mutex_unlock(&px->px_mu);
	return st;
}

bool proxy_blob_wait_size(proxy_job *j, proxy_wait *w, void (*suspend)(void *), void *arg)
{
	bool ready;

	pthread_mutex_lock(&j->j_mu);
	ready = j->j_done || j->j_size_known;
	if (!ready)
		job_enqueue(j, w, suspend, arg);
	pthread_mutex_unlock(&j->j_mu);
	return ready;
}

uint64_t proxy_blob_size(proxy_job *j)
{
	uint64_t size;

	pthread_mutex_lock(&j->j_mu);
	size = j->j_size_known ? j->j_size : UPSTREAM_SIZE_UNKNOWN;
	pthread_mutex_unlock(&j->j_mu);
	return size;
}

status_t proxy_blob_read(proxy_job *j, uint64_t off, void *buf, size_t max, size_t *out_n,
			 proxy_wait *w, void (*suspend)(void *), void *arg)
{
	uint64_t avail;
	size_t n = 0;
	status_t rst;

	*out_n = 0;
	pthread_mutex_lock(&j->j_mu);
	if (j->j_done && j->j_st != ST_OK) {
		status_t st = j->j_st;
		pthread_mutex_unlock(&j->j_mu);
		return st;
	}
	avail = j->j_written;
	if (!j->j_verified) /* the last byte waits for the digest check */
		avail = avail > 0 ? avail - 1 : 0;
	if (off >= avail) {
		if (j->j_verified) {
			pthread_mutex_unlock(&j->j_mu);
			return ST_OK; /* the end */
		}
		job_enqueue(j, w, suspend, arg);
		pthread_mutex_unlock(&j->j_mu);
		return ST_BUSY;
	}
	pthread_mutex_unlock(&j->j_mu);
	if (avail - off < max)
		max = (size_t)(avail - off);
	if ((rst = blob_reader_read(j->j_rd, off, buf, max, &n)) != ST_OK || n == 0) {
		log_error("proxy: reading blob %s being fetched: %s", j->j_ref,
			  rst != ST_OK ? status_str(rst) : "short file");
		return ST_IO;
	}
	*out_n = n;
	return ST_OK;
}

static status_t blob_on_start(void *arg, uint64_t total)
{
	proxy_job *j = arg;

	pthread_mutex_lock(&j->j_mu);
	j->j_size = total;
	j->j_size_known = total != UPSTREAM_SIZE_UNKNOWN;
	pthread_mutex_unlock(&j->j_mu);
	job_wake(j);
	return ST_OK;
}

static status_t blob_on_data(void *arg, const void *buf, size_t len)
{
	proxy_job *j = arg;
	status_t st;

	if (j->j_size_known && len > j->j_size - blob_upload_size(j->j_up)) {
		log_error("upstream %s: blob %s is longer than the %llu bytes announced",
			  upstream_get_spec(j->j_t.up)->name, j->j_ref,
			  (unsigned long long)j->j_size);
		return ST_BAD_GATEWAY;
	}
	if ((st = blob_upload_write(j->j_up, buf, len)) != ST_OK)
		return st;
	pthread_mutex_lock(&j->j_mu);
	j->j_written += len;
	pthread_mutex_unlock(&j->j_mu);
	job_wake(j);
	return ST_OK;
}

static bool blob_cancelled(void *arg)
{
	proxy_job *j = arg;
	bool stop;

	pthread_mutex_lock(&j->j_px->px_mu);
	stop = j->j_px->px_stopping;
	pthread_mutex_unlock(&j->j_px->px_mu);
	return stop;
}

/* A fresh upload id for a fetch: "px-" and 24 hex digits. */
static status_t fetch_id(char out[BLOBSTORE_ID_MAX + 1])
{
	unsigned char rnd[12];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ST_IO;
	snprintf(out, BLOBSTORE_ID_MAX + 1, "px-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", rnd[i]);
	return ST_OK;
}

/*
 * The blob is in the store already, fetched for another repository or
 * pushed here: it may be served for j's repository only on the upstream's
 * word that it has it there. ST_OK once linked; the upstream's failures
 * (ST_NOT_FOUND...) otherwise, with nothing changed.
 */
static status_t blob_confirm(proxy_job *j, meta *db, uint64_t size)
{
	uint64_t usize;
	status_t st;

	if ((st = upstream_head_blob(j->j_t.up, j->j_t.remote, j->j_ref, &usize)) != ST_OK)
		return st;
	if (usize != UPSTREAM_SIZE_UNKNOWN && usize != size) {
		log_error("upstream %s: blob %s of %s is %llu bytes there, %llu here",
			  upstream_get_spec(j->j_t.up)->name, j->j_ref, j->j_t.remote,
			  (unsigned long long)usize, (unsigned long long)size);
		return ST_BAD_GATEWAY;
	}
	if ((st = meta_blob_link(db, j->j_t.local, j->j_ref, size)) != ST_OK)
		return st;
	pthread_mutex_lock(&j->j_mu);
	j->j_verified = true;
	j->j_size = size;
	j->j_size_known = true;
	pthread_mutex_unlock(&j->j_mu);
	log_debug("proxy: blob %s of %s confirmed upstream, served from the store", j->j_ref,
		  j->j_t.local);
	return ST_OK;
}

static status_t blob_job(proxy_job *j, meta *db)
{
	proxy *px = j->j_px;
	upstream_sink sink = {blob_on_start, blob_on_data, blob_cancelled, j};
	digest_alg alg;
	uint64_t size = 0;
	status_t st;

	if ((st = digest_parse(j->j_ref, &alg)) != ST_OK)
		return ST_INVALID;
	if (blobstore_stat(px->px_bs, j->j_ref, &size) == ST_OK)
		return blob_confirm(j, db, size);
	if ((st = fetch_id(j->j_up_id)) != ST_OK ||
	    (st = blobstore_upload_begin(px->px_bs, j->j_up_id, alg, &j->j_up)) != ST_OK)
		return st;
	if ((st = blobstore_upload_open_read(px->px_bs, j->j_up_id, &j->j_rd)) != ST_OK)
		goto fail;
	st = upstream_get_blob(j->j_t.up, j->j_t.remote, j->j_ref, 0, &sink);
	if (st != ST_OK)
		goto fail;
	if (j->j_size_known && blob_upload_size(j->j_up) != j->j_size) {
		log_error("upstream %s: blob %s ended after %llu of %llu bytes",
			  upstream_get_spec(j->j_t.up)->name, j->j_ref,
			  (unsigned long long)blob_upload_size(j->j_up),
			  (unsigned long long)j->j_size);
		st = ST_BAD_GATEWAY;
		goto fail;
	}
	st = blobstore_upload_commit(px->px_bs, j->j_up, j->j_ref, &size);
	if (st == ST_DIGEST_MISMATCH) {
		log_error("upstream %s (%s): blob %s of %s does not match its digest; refused and "
			  "discarded",
			  upstream_get_spec(j->j_t.up)->name, upstream_get_spec(j->j_t.up)->url,
			  j->j_ref, j->j_t.remote);
		return st; /* the upload file is gone already */
	}
	if (st != ST_OK)
		goto fail;
	if ((st = meta_blob_link(db, j->j_t.local, j->j_ref, size)) != ST_OK)
		return st;
	pthread_mutex_lock(&j->j_mu);
	j->j_verified = true;
	j->j_size = size;
	j->j_size_known = true;
	pthread_mutex_unlock(&j->j_mu);
	{
		event *e = event_new(EV_CACHED, j->j_ref);
		if (e != NULL) {
			e->size = size;
			event_push(px, e, true);
		}
	}
	log_debug("proxy: cached blob %s of %s (%llu bytes)", j->j_ref, j->j_t.local,
		  (unsigned long long)size);
	return ST_OK;
fail:
	blobstore_upload_remove(px->px_bs, j->j_up_id);
	return st;
}

/* ---- synchronous, resumable (mirror sync) ---- */

typedef struct {
	blob_upload *up;
	uint64_t total, base, got;
	const proxy_pull_cb *cb;
} pull_state;

static status_t pull_on_start(void *arg, uint64_t total)
{
	pull_state *p = arg;

	p->total = total;
	return ST_OK;
}

static status_t pull_on_data(void *arg, const void *buf, size_t len)
{
	pull_state *p = arg;
	status_t st = blob_upload_write(p->up, buf, len);

	if (st == ST_OK) {
		p->got += len;
		if (p->cb && p->cb->progress)
			p->cb->progress(p->cb->arg, p->base + p->got, p->total);
	}
	return st;
}

static bool pull_cancelled(void *arg)
{
	pull_state *p = arg;

	return p->cb && p->cb->cancelled && p->cb->cancelled(p->cb->arg);
}

status_t proxy_pull_blob(proxy *px, meta *db, const proxy_target *t, const char *digest,
			 const proxy_pull_cb *cb, uint64_t *out_fetched)
{
	char id[BLOBSTORE_ID_MAX + 1];
	pull_state p = {NULL, UPSTREAM_SIZE_UNKNOWN, 0, 0, cb};
	upstream_sink sink = {pull_on_start, pull_on_data, pull_cancelled, &p};
	digest_alg alg;
	uint64_t size;
	status_t st;

	*out_fetched = 0;
	if (digest_parse(digest, &alg) != ST_OK)
		return ST_INVALID;
	if (blobstore_stat(px->px_bs, digest, &size) == ST_OK)
		return meta_blob_link(db, t->local, digest, size);
	/* "sy-" and as much of the hex as fits: the same file every run */
	snprintf(id, sizeof(id), "sy-%s", strchr(digest, ':') + 1);
	st = blobstore_upload_resume(px->px_bs, id, alg, &p.up);
	if (st == ST_NOT_FOUND)
		st = blobstore_upload_begin(px->px_bs, id, alg, &p.up);
	if (st != ST_OK)
		return st;
	p.base = blob_upload_size(p.up);
	if (p.base > 0)
		log_info("resuming %s at byte %llu", digest, (unsigned long long)p.base);
	st = upstream_get_blob(t->up, t->remote, digest, p.base, &sink);
	*out_fetched = p.got;
	if (st == ST_BAD_GATEWAY && p.base > 0) {
		/* the partial file is of no use to this upstream: start over next time */
		blob_upload_free(p.up);
		blobstore_upload_remove(px->px_bs, id);
		return st;
	}
	if (st == ST_OK) {
		st = blobstore_upload_commit(px->px_bs, p.up, digest, &size);
		if (st == ST_DIGEST_MISMATCH)
			log_error("upstream %s (%s): blob %s of %s does not match its digest; "
				  "refused and discarded",
				  upstream_get_spec(t->up)->name, upstream_get_spec(t->up)->url,
				  digest, t->remote);
		else if (st == ST_OK)
			st = meta_blob_link(db, t->local, digest, size);
		if (st == ST_OK) {
			event *e = event_new(EV_CACHED, digest);
			if (e != NULL) {
				e->size = size;
				event_push(px, e, true);
			}
		}
	}
	blob_upload_free(p.up);
	return st;
}

/* ---------------------------------------------------------------------- */
/* tags                                                                   */
/* ---------------------------------------------------------------------- */

status_t proxy_tags_fetch(proxy *px, const proxy_target *t, proxy_job **out)
{
	char key[PROXY_KEY_MAX];
	proxy_job *j;
	status_t st;

	*out = NULL;
	if ((st = upstream_askable(t)) != ST_OK)
		return st;
	snprintf(key, sizeof(key), "t|%s", t->local);
	pthread_mutex_lock(&px->px_mu);
	if (px->px_stopping) {
		st = ST_UNAVAILABLE;
	} else if ((j = job_find(px, key)) != NULL) {
		j->j_refs++;
		*out = j;
		st = ST_OK;
	} else {
		st = job_start(px, key, JOB_TAGS, t, NULL, false, out);
	}
	pthread_mutex_unlock(&px->px_mu);
	return st;
}

/* ---------------------------------------------------------------------- */
/* the job thread                                                         */
/* ---------------------------------------------------------------------- */

static void *job_main(void *arg)
{
	proxy_job *j = arg;
	proxy *px = j->j_px;
	meta *db = NULL;
	status_t st;

	if ((st = meta_open_backend(&db, px->px_opt.meta_backend, px->px_db_path)) != ST_OK) {
		log_error("proxy: cannot open %s", px->px_db_path);
	} else {
		switch (j->j_kind) {
		case JOB_MANIFEST:
			st = manifest_job(j, db);
			if (st == ST_OK || st == ST_NOT_FOUND)
				memo_set(px, j->j_t.local, j->j_ref, st == ST_OK);
			break;
		case JOB_BLOB:
			st = blob_job(j, db);
			if (st == ST_OK || st == ST_NOT_FOUND)
				memo_set(px, j->j_t.local, j->j_ref, st == ST_OK);
			break;
		case JOB_TAGS:
			st = upstream_get_tags(j->j_t.up, j->j_t.remote, &j->j_tags);
			break;
		}
	}
	meta_close(db);
	job_finish(j, st);
	pthread_mutex_lock(&px->px_mu);
	if (--px->px_running == 0)
		pthread_cond_broadcast(&px->px_cv);
	pthread_mutex_unlock(&px->px_mu);
	return NULL;
}
