/*
 * gc.c - garbage collection while serving, and removing a repository
 * (gc_unreferenced, which core_collect runs after retention: collect.c;
 * core_repo_delete).
 *
 * A collection walks the index in bounded batches, each candidate list a
 * plain read (readers never wait for the write lock) and each removal a
 * small transaction of compare-and-sets (storage/meta.h says the rules):
 *   1. per repository, untagged manifests past gc_untagged that no index,
 *      tag or referrer keeps (when gc_untagged is not 0);
 *   2. per repository, blob links past gc_delay that no manifest of it
 *      references;
 *   3. blob rows nothing links or references, not referenced since they
 *      were read and past gc_delay; then their files, inside
 *      meta_gc_reap, which only retires a file whose row is still gone
 *      (a rename: the write lock is held for that, not for the unlinks,
 *      which blobstore_purge does after each batch);
 *   4. orphan files (no row: a crash between a row's removal and its
 *      file's), past gc_delay;
 *   5. upload sessions idle past upload_ttl.
 * The order matters: what step 1 removes frees links for step 2, whose
 * removals free rows for step 3. A crash anywhere leaves rows removed and
 * files still there (orphans), never a row without its file.
 *
 * A dry run does the same work on a private copy of the index
 * (meta_snapshot) and removes no file, so it lists exactly what a run now
 * would remove. Each removal is told (gc_tell) with the rule that allowed
 * it, so a log says why every byte went.
 */
#include "core_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"

#define GC_BATCH 256	    /* candidates read, and removed per transaction */
#define GC_REPO_PAGE 100    /* repository names read at a time */
#define GC_CLEAR_BATCH 1000 /* rows of a removed repository per transaction */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
	core *c;
	meta *db;
	const core_gc_options *o;
	core_gc_report *r;
	meta_gc_item *items;
	meta_gc_item *drop; /* what the blob step dropped, to reap */
	int64_t untagged_before, delay_before;
	/* dry run: the digests step 3 listed, in order, so step 4 does not
	 * list their files again as orphans */
	char (*listed)[DIGEST_MAX];
	size_t nlisted, caplisted;
	bool orphan; /* which step a reap is for */
	/* the rule of each step, with its setting, for the log */
	char why_manifest[128], why_link[128], why_blob[128], why_orphan[128];
} gc_run;

/* One thing removed (or, dry, that would be): "KIND NAME" as the list line
 * says it, then (a file) its size, and why it could go. To the caller's
 * list, and the log. */
static void gc_tell(const gc_run *g, const char *what, bool file, uint64_t size, const char *why)
{
	char sz[32] = "";

	if (file)
		snprintf(sz, sizeof(sz), " %llu", (unsigned long long)size);
	if (g->o->list)
		fprintf(g->o->list, "%s%s\n", what, sz);
	log_msg(g->o->log_each ? LOG_INFO : LOG_DEBUG, "gc: %s %s%s%s: %s",
		g->o->dry_run ? "would remove" : "removed", what, sz, file ? " bytes" : "", why);
}

/* Whoever runs the collection wants it to end (the server stops). */
static bool gc_stopped(const gc_run *g)
{
	return g->o->stop != NULL && g->o->stop(g->o->stop_arg);
}

/* ---- steps 1 and 2: one repository ---- */

static status_t gc_repo(gc_run *g, const char *repo)
{
	char what[REF_NAME_MAX + DIGEST_MAX + 16];
	size_t n, dropped;
	status_t st;

	while (g->untagged_before != INT64_MIN) {
		if ((st = meta_gc_manifests(g->db, repo, g->untagged_before, g->items, GC_BATCH,
					    &n)) != ST_OK)
			return st;
		if (n == 0 || (st = meta_gc_manifests_drop(g->db, repo, g->items, n)) != ST_OK)
			break;
		dropped = 0;
		for (size_t i = 0; i < n; i++) {
			if (!g->items[i].dropped)
				continue;
			dropped++;
			snprintf(what, sizeof(what), "manifest %s@%s", repo, g->items[i].digest);
			gc_tell(g, what, false, 0, g->why_manifest);
		}
		g->r->manifests += dropped;
		/* none went: what is left is named by something new (next run) */
		if (dropped == 0)
			break;
	}
	char after[DIGEST_MAX] = "";
	do {
		if ((st = meta_gc_links(g->db, repo, g->delay_before, after, g->items, GC_BATCH,
					&n)) != ST_OK ||
		    (st = meta_gc_links_drop(g->db, repo, g->items, n)) != ST_OK)
			return st;
		for (size_t i = 0; i < n; i++) {
			if (!g->items[i].dropped)
				continue;
			g->r->links++;
			snprintf(what, sizeof(what), "link %s %s", repo, g->items[i].digest);
			gc_tell(g, what, false, 0, g->why_link);
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", g->items[n - 1].digest);
	} while (n == GC_BATCH);
	return ST_OK;
}

typedef struct {
	char names[GC_REPO_PAGE][REF_NAME_MAX];
	size_t n;
} repo_page;

static int collect_repo(void *arg, const char *name)
{
	repo_page *p = arg;

	snprintf(p->names[p->n++], REF_NAME_MAX, "%s", name);
	return 0;
}

static status_t gc_repos(gc_run *g)
{
	repo_page *p = malloc(sizeof(*p));
	char last[REF_NAME_MAX] = "";
	status_t st = ST_OK;
	bool more = true;

	if (p == NULL)
		return ST_NOMEM;
	while (st == ST_OK && more) {
		p->n = 0;
		if ((st = meta_repo_list(g->db, last, GC_REPO_PAGE, collect_repo, p, &more)) !=
		    ST_OK)
			break;
		for (size_t i = 0; i < p->n && st == ST_OK && !gc_stopped(g); i++)
			st = gc_repo(g, p->names[i]);
		if (p->n > 0)
			snprintf(last, sizeof(last), "%s", p->names[p->n - 1]);
	}
	free(p);
	return st;
}

/* ---- steps 3 and 4: rows, then files ---- */

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* meta_gc_reap's fn: the file goes (a dry run lists it instead). */
static void reap_one(void *arg, meta_gc_item *it)
{
	gc_run *g = arg;
	char what[DIGEST_MAX + 32];

	if (g->o->dry_run) {
		if (g->orphan && g->nlisted > 0 &&
		    bsearch(it->digest, g->listed, g->nlisted, DIGEST_MAX, listed_cmp) != NULL)
			return; /* its row went in this dry run's step 3: listed there */
		if (!g->orphan && g->nlisted == g->caplisted) {
			size_t cap = g->caplisted ? 2 * g->caplisted : GC_BATCH;
			void *p = realloc(g->listed, cap * DIGEST_MAX);
			if (p == NULL)
				return; /* not listed, nor counted */
			g->listed = p;
			g->caplisted = cap;
		}
		if (!g->orphan)
			snprintf(g->listed[g->nlisted++], DIGEST_MAX, "%s", it->digest);
	} else if (blobstore_retire(g->c->bs, it->digest) != ST_OK) {
		return; /* gone already, or it could not be removed: not counted */
	}
	if (g->orphan)
		g->r->orphans++;
	else
		g->r->blobs++;
	g->r->bytes += it->size;
	snprintf(what, sizeof(what), "%s %s", g->orphan ? "orphan" : "blob", it->digest);
	gc_tell(g, what, true, it->size, g->orphan ? g->why_orphan : g->why_blob);
}

/* The files reap_one retired under the write lock are unlinked here,
 * after it: so the lock is held for renames, not for freeing blocks. */
static void gc_purge(gc_run *g)
{
	if (!g->o->dry_run && blobstore_purge(g->c->bs) != ST_OK)
		log_msg(LOG_WARN, "gc: cannot empty the store's trash (next run tries again)");
}

static status_t gc_blobs(gc_run *g)
{
	char after[DIGEST_MAX] = "";
	size_t n, nd;
	status_t st;

	g->orphan = false;
	gc_purge(g); /* what a crash left retired */
	do {
		if ((st = meta_gc_blobs(g->db, g->delay_before, after, g->items, GC_BATCH, &n)) !=
			ST_OK ||
		    (st = meta_gc_blobs_drop(g->db, g->items, n, false)) != ST_OK)
			return st;
		nd = 0;
		for (size_t i = 0; i < n; i++)
			if (g->items[i].dropped)
				g->drop[nd++] = g->items[i];
		/* rows committed gone; now their files, unless a writer made a
		 * row again meanwhile */
		if ((st = meta_gc_reap(g->db, g->drop, nd, g->o->dry_run, reap_one, g)) != ST_OK)
			return st;
		gc_purge(g);
		if (n > 0)
			snprintf(after, sizeof(after), "%s", g->items[n - 1].digest);
	} while (n == GC_BATCH && !gc_stopped(g));
	return ST_OK;
}

typedef struct {
	gc_run *g;
	time_t before;
	size_t n;
	status_t st;
} orphan_scan;

/* meta_gc_reap's fn for the read-only first look: keep it. */
static void keep_rowless(void *arg, meta_gc_item *it)
{
	gc_run *g = arg;

	g->drop[it - g->items].dropped = true;
}

/* Reaps the orphan candidates in g->items[0..n): a read-only look first,
 * so a page of files that all have rows takes no write lock. */
static status_t orphans_flush(gc_run *g, size_t n)
{
	size_t nd = 0;
	status_t st;

	for (size_t i = 0; i < n; i++)
		g->drop[i].dropped = false;
	if ((st = meta_gc_reap(g->db, g->items, n, true, keep_rowless, g)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++)
		if (g->drop[i].dropped)
			g->drop[nd++] = g->items[i];
	g->orphan = true;
	st = meta_gc_reap(g->db, g->drop, nd, g->o->dry_run, reap_one, g);
	gc_purge(g);
	return st;
}

static int orphan_file(void *arg, const char *digest, uint64_t size, time_t mtime)
{
	orphan_scan *s = arg;
	meta_gc_item *it;

	if (mtime > s->before)
		return 0; /* young: a writer may be about to make its row */
	it = &s->g->items[s->n++];
	snprintf(it->digest, sizeof(it->digest), "%s", digest);
	it->size = size;
	it->touched_us = 0;
	if (s->n == GC_BATCH) {
		s->st = orphans_flush(s->g, s->n);
		s->n = 0;
	}
	return s->st != ST_OK || gc_stopped(s->g);
}

static status_t gc_orphans(gc_run *g)
{
	orphan_scan s = {g, (time_t)(g->delay_before / 1000000), 0, ST_OK};
	status_t st;

	if (g->o->dry_run && g->nlisted > 1)
		qsort(g->listed, g->nlisted, DIGEST_MAX, listed_cmp);
	if ((st = blobstore_list(g->c->bs, orphan_file, &s)) != ST_OK)
		return st;
	if (s.st == ST_OK && s.n > 0)
		s.st = orphans_flush(g, s.n);
	return s.st;
}

status_t gc_unreferenced(core *c, const core_gc_options *o, core_gc_report *out)
{
	static const core_gc_options none = {0};
	gc_run g = {.c = c, .o = o ? o : &none, .r = out};
	struct timespec t0, t1;
	int64_t now = now_us();
	meta *db, *snap = NULL;
	core_settings *set;
	uint32_t untagged_sec, delay_sec;
	status_t st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	set = settings_get(c);
	untagged_sec = set->gc_untagged_sec;
	delay_sec = set->gc_delay_sec;
	settings_put(c, set);
	snprintf(g.why_manifest, sizeof(g.why_manifest),
		 "untagged for gc_untagged (%us) and no index, tag or referrer holds it",
		 (unsigned)untagged_sec);
	snprintf(g.why_link, sizeof(g.why_link),
		 "no manifest of the repository uses it, not linked or read for gc_delay (%us)",
		 (unsigned)delay_sec);
	snprintf(g.why_blob, sizeof(g.why_blob),
		 "no repository links it, nothing referenced it for gc_delay (%us)",
		 (unsigned)delay_sec);
	snprintf(g.why_orphan, sizeof(g.why_orphan),
		 "a file without its row (a crash between the two), older than gc_delay (%us)",
		 (unsigned)delay_sec);
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if (g.o->dry_run) {
		if ((st = meta_snapshot(db, &snap)) != ST_OK)
			return st;
		db = snap;
	}
	g.db = db;
	/* this run's rules: a reload meanwhile applies to the next run */
	g.untagged_before = untagged_sec == 0 ? INT64_MIN : now - (int64_t)untagged_sec * 1000000;
	g.delay_before = now - (int64_t)delay_sec * 1000000;
	g.items = calloc(GC_BATCH, sizeof(*g.items));
	g.drop = calloc(GC_BATCH, sizeof(*g.drop));
	if (g.items == NULL || g.drop == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if ((st = gc_repos(&g)) != ST_OK || (st = gc_blobs(&g)) != ST_OK ||
	    (st = gc_orphans(&g)) != ST_OK)
		goto done;
	if (!g.o->dry_run)
		out->uploads = (size_t)core_uploads_expire(c);
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	free(g.items);
	free(g.drop);
	free(g.listed);
	meta_close(snap);
	return st;
}

status_t core_repo_delete(core *c, core_req *q, bool dry_run, core_repo_counts *out)
{
	meta_repo_counts n = {0};
	meta *db, *snap = NULL;
	bool done = false;
	status_t st;

	memset(out, 0, sizeof(*out));
	if ((st = policy_writable(q)) != ST_OK || (st = policy_delete(q)) != ST_OK ||
	    (st = core_db(c, &db)) != ST_OK)
		return st;
	if (dry_run) {
		if ((st = meta_snapshot(db, &snap)) != ST_OK)
			return st;
		db = snap;
	}
	while (st == ST_OK && !done)
		st = meta_repo_clear(db, q->name, GC_CLEAR_BATCH, &n, &done);
	meta_close(snap);
	out->tags = n.tags;
	out->manifests = n.manifests;
	out->links = n.links;
	if (st == ST_NOT_FOUND && n.tags + n.manifests + n.links == 0)
		return ST_NAME_UNKNOWN;
	if (st == ST_NOT_FOUND)
		st = ST_OK; /* removed meanwhile by someone else: gone all the same */
	if (st == ST_OK && !dry_run)
		core_event(q, "delete repository", NULL, NULL);
	return st;
}
