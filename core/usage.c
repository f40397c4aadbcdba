/*
 * usage.c - what the repositories hold and how they are used: the pull
 * records (last pull and pull count of each manifest and tag) and
 * `registry du`'s report.
 *
 * A pull must not cost a write: counts gather in a hash table in memory,
 * keyed by (repository, digest, tag), and a background thread writes the
 * whole table every CORE_PULLS_FLUSH_SEC in one transaction (one fsync per
 * batch, however many pulls), on its own metadata connection. core_close
 * writes what is left; a crash loses at most one interval's counts, never
 * anything else. The thread starts with the first pull, so commands that
 * never serve one (import, du) have none. Past PULLS_PENDING_MAX distinct
 * keys, a flush is asked for at once and new keys wait for it to be done
 * (dropped if it fails): memory stays bounded whatever the traffic.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/glob.h"
#include "../common/log.h"

#define PULLS_BUCKETS 1024
#define PULLS_PENDING_MAX 100000 /* distinct keys waiting for a flush */

typedef struct pull_rec {
	struct pull_rec *next;
	time_t when;
	uint32_t count;
	const char *repo, *digest, *tag; /* into key */
	char key[];			 /* "repo\0digest\0tag\0" */
} pull_rec;

struct pull_table {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* stopping, or a flush is due */
	pull_rec *buckets[PULLS_BUCKETS];
	size_t n;
	bool started, stopping, due;
	pthread_t thread;
};

static uint64_t hash(const char *repo, const char *digest, const char *tag)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const char *s = repo; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = digest; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = tag; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Takes every record out of the table (the caller writes and frees them). */
static pull_rec *take_all(pull_table *pt)
{
	pull_rec *list = NULL;

	for (size_t i = 0; i < PULLS_BUCKETS; i++) {
		while (pt->buckets[i] != NULL) {
			pull_rec *r = pt->buckets[i];
			pt->buckets[i] = r->next;
			r->next = list;
			list = r;
		}
	}
	pt->n = 0;
	pt->due = false;
	return list;
}

/* Writes list through db in one transaction, and frees it. */
static void write_list(meta *db, pull_rec *list)
{
	meta_pull *v;
	size_t n = 0, i = 0;
	status_t st;

	for (pull_rec *r = list; r != NULL; r = r->next)
		n++;
	if (n > 0 && db != NULL && (v = calloc(n, sizeof(*v))) != NULL) {
		for (pull_rec *r = list; r != NULL; r = r->next)
			v[i++] = (meta_pull){r->repo, r->digest, r->tag, r->when, r->count};
		if ((st = meta_pulls_add(db, v, n)) != ST_OK)
			log_warn("pull records: %zu not written (%s)", n, status_str(st));
		free(v);
	}
	while (list != NULL) {
		pull_rec *next = list->next;
		free(list);
		list = next;
	}
}

static void *writer_main(void *arg)
{
	core *c = arg;
	pull_table *pt = c->pt;
	struct timespec until;
	bool stop;
	meta *db;

	pthread_mutex_lock(&pt->mu);
	do {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += CORE_PULLS_FLUSH_SEC;
		while (!pt->stopping && !pt->due &&
		       pthread_cond_timedwait(&pt->cv, &pt->mu, &until) == 0)
			;
		pull_rec *list = take_all(pt);
		stop = pt->stopping;
		pthread_mutex_unlock(&pt->mu);
		/* this thread's connection, closed when the thread ends */
		write_list(core_db(c, &db) == ST_OK ? db : NULL, list);
		pthread_mutex_lock(&pt->mu);
	} while (!stop);
	pthread_mutex_unlock(&pt->mu);
	return NULL;
}

status_t usage_new(core *c)
{
	if ((c->pt = calloc(1, sizeof(*c->pt))) == NULL)
		return ST_NOMEM;
	pthread_mutex_init(&c->pt->mu, NULL);
	pthread_cond_init(&c->pt->cv, NULL);
	return ST_OK;
}

void usage_flush(core *c)
{
	pull_rec *list;
	meta *db;

	if (c->pt == NULL)
		return;
	pthread_mutex_lock(&c->pt->mu);
	list = take_all(c->pt);
	pthread_mutex_unlock(&c->pt->mu);
	write_list(core_db(c, &db) == ST_OK ? db : NULL, list);
}

void usage_stop(core *c)
{
	pull_table *pt = c->pt;

	if (pt == NULL)
		return;
	pthread_mutex_lock(&pt->mu);
	pt->stopping = true;
	pthread_cond_broadcast(&pt->cv);
	pthread_mutex_unlock(&pt->mu);
	if (pt->started)
		pthread_join(pt->thread, NULL);
	usage_flush(c); /* what arrived after the thread's last round */
	pthread_mutex_destroy(&pt->mu);
	pthread_cond_destroy(&pt->cv);
	free(pt);
	c->pt = NULL;
}

void usage_pull(core *c, const core_req *q, const char *ref, const char *digest)
{
	pull_table *pt = c->pt;
	const char *tag = (ref == NULL || strchr(ref, ':') != NULL) ? "" : ref;
	size_t lr = strlen(q->name), ld = strlen(digest), lt = strlen(tag);
	uint64_t b = hash(q->name, digest, tag) % PULLS_BUCKETS;
	pull_rec *r;

	if (pt == NULL)
		return;
	pthread_mutex_lock(&pt->mu);
	if (pt->stopping)
		goto done;
	for (r = pt->buckets[b]; r != NULL; r = r->next) {
		if (strcmp(r->repo, q->name) == 0 && strcmp(r->digest, digest) == 0 &&
		    strcmp(r->tag, tag) == 0) {
			r->count++;
			r->when = time(NULL);
			goto done;
		}
	}
	if (!pt->started) {
		if (pthread_create(&pt->thread, NULL, writer_main, c) != 0) {
			log_warn("pull records: cannot start the writer thread");
			goto done;
		}
		pt->started = true;
	}
	if (pt->n >= PULLS_PENDING_MAX) {
		pt->due = true; /* this one is not counted: memory stays bounded */
		pthread_cond_broadcast(&pt->cv);
		goto done;
	}
	if ((r = malloc(sizeof(*r) + lr + ld + lt + 3)) == NULL)
		goto done;
	memcpy(r->key, q->name, lr + 1);
	memcpy(r->key + lr + 1, digest, ld + 1);
	memcpy(r->key + lr + ld + 2, tag, lt + 1);
	r->repo = r->key;
	r->digest = r->key + lr + 1;
	r->tag = r->key + lr + ld + 2;
	r->count = 1;
	r->when = time(NULL);
	r->next = pt->buckets[b];
	pt->buckets[b] = r;
	pt->n++;
done:
	pthread_mutex_unlock(&pt->mu);
}

/* ---- registry du ---- */

typedef struct {
	const char *pattern;
	void (*fn)(void *arg, const core_du_row *r);
	void *arg;
	/* the namespaces of the repositories listed, in order (repositories
	 * come by name, so a namespace's are together) */
	char (*ns)[REF_NAME_MAX];
	size_t nns, cap;
	status_t st;
} du_walk;

static void du_copy(core_du_row *out, const meta_du_row *r)
{
	snprintf(out->name, sizeof(out->name), "%s", r->name);
	out->referenced = r->referenced;
	out->unique = r->unique;
	out->tags = r->tags;
	out->manifests = r->manifests;
	out->pulls = r->pulls;
	out->last_push = (int64_t)r->last_push;
	out->last_pull = (int64_t)r->last_pull;
}

static int du_repo(void *arg, const meta_du_row *r)
{
	du_walk *w = arg;
	size_t n = strcspn(r->name, "/");
	core_du_row row;

	if (w->pattern != NULL && !glob_match(w->pattern, r->name))
		return 0;
	if (r->name[n] == '/' &&
	    (w->nns == 0 || strncmp(w->ns[w->nns - 1], r->name, n) != 0 || w->ns[w->nns - 1][n])) {
		if (w->nns == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 16;
			void *p = realloc(w->ns, cap * sizeof(*w->ns));
			if (p == NULL) {
				w->st = ST_NOMEM;
				return 1;
			}
			w->ns = p;
			w->cap = cap;
		}
		snprintf(w->ns[w->nns++], REF_NAME_MAX, "%.*s", (int)n, r->name);
	}
	du_copy(&row, r);
	if (w->fn != NULL)
		w->fn(w->arg, &row);
	return 0;
}

static int ns_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int du_ns(void *arg, const meta_du_row *r)
{
	du_walk *w = arg;
	core_du_row row;
	size_t lo = 0, hi = w->nns;

	/* only the namespaces of repositories listed (the list is sorted) */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(w->ns[mid], r->name);
		if (cmp == 0)
			break;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= hi)
		return 0;
	du_copy(&row, r);
	if (w->fn != NULL)
		w->fn(w->arg, &row);
	return 0;
}

status_t core_du(core *c, const char *pattern, void (*repo)(void *arg, const core_du_row *r),
		 void (*ns)(void *arg, const core_du_row *r), void *arg)
{
	du_walk w = {.pattern = pattern, .fn = repo, .arg = arg, .st = ST_OK};
	status_t st;
	meta *db;

	usage_flush(c); /* counts still in memory first */
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_du(db, false, du_repo, &w)) == ST_OK && (st = w.st) == ST_OK && w.nns > 0) {
		/* in appearance order ("a-b" before "a"): sorted for du_ns */
		qsort(w.ns, w.nns, sizeof(*w.ns), ns_cmp);
		w.fn = ns;
		st = meta_du(db, true, du_ns, &w);
	}
	free(w.ns);
	return st;
}
