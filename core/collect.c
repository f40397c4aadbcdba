/*
 * collect.c - one collection as the server's collector and `registry gc`
 * make it (core_collect), and what this process's collections did
 * (core_gc_totals_get, core_gc_last: /metrics, the web UI).
 *
 * A collection is retention first (core_retain removes the tags no retain
 * line keeps), then removing what nothing references (gc_unreferenced in
 * gc.c), which then takes what those tags held. Both callers come here, so
 * the server's runs and the command's cannot drift apart; gc_dry_run (a
 * core option) makes every run a dry run whoever asks.
 *
 * The counts live in the core under gc_mu: a run adds to them once, at its
 * end; readers copy them. No I/O happens under the lock.
 */
#include "core_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "../common/log.h"

typedef struct {
	const core_gc_options *o;
	char what[REF_NAME_MAX * 2 + DIGEST_MAX + 8];
} retain_tell;

/* core_retain's fn: a tag let go goes to the list as "tag REPO:TAG DIGEST";
 * a dry run's is logged here (a real removal is logged by core_retain). */
static void retained(void *arg, const core_retain_item *it)
{
	retain_tell *t = arg;

	if (it->kept_why != NULL)
		return; /* immutable, or pushed again meanwhile: it stays */
	snprintf(t->what, sizeof(t->what), "tag %s:%s %s", it->repo, it->tag, it->digest);
	if (t->o->list)
		fprintf(t->o->list, "%s\n", t->what);
	if (!it->removed)
		log_msg(t->o->log_each ? LOG_INFO : LOG_DEBUG,
			"retain: would remove %s: no rule keeps it, by %s", t->what, it->rules);
}

static void collect_record(core *c, const core_gc_report *r, int64_t when);

/* Adds a finished run to the counts, and keeps its report as the last. */
static void collect_count(core *c, const core_gc_report *r)
{
	pthread_mutex_lock(&c->gc_mu);
	c->gc_totals.runs++;
	if (!r->dry_run) {
		c->gc_totals.tags += r->tags;
		c->gc_totals.manifests += r->manifests;
		c->gc_totals.links += r->links;
		c->gc_totals.blobs += r->blobs;
		c->gc_totals.orphans += r->orphans;
		c->gc_totals.uploads += r->uploads;
		c->gc_totals.bytes += r->bytes;
	}
	c->gc_last = *r;
	c->gc_last_at = (int64_t)time(NULL);
	pthread_mutex_unlock(&c->gc_mu);
}

/* The name of the collectors' lock (meta_lock_try). */
#define CORE_GC_LOCK "registry gc"
/* How long a collection waits for another replica's to finish. */
#define CORE_GC_LOCK_WAIT_MS 60000

status_t core_collect(core *c, const core_gc_options *o, core_gc_report *out)
{
	static const core_gc_options none = {0};
	core_gc_options eff = o ? *o : none;
	retain_tell t = {.o = &eff};
	core_retain_summary rs = {0};
	core_settings *set;
	struct timespec t0, t1;
	status_t st = ST_OK;
	meta *db = NULL;
	bool got = false;

	memset(out, 0, sizeof(*out));
	/* One collector at a time among the replicas sharing the index (on
	 * SQLite always granted): a second would only redo the first's reads. */
	/* A run that finds another going waits its turn (up to
	 * CORE_GC_LOCK_WAIT_MS), then does its own: cheap after the other's. */
	for (int waited = 0;; waited += 100) {
		if (core_db(c, &db) != ST_OK || meta_lock_try(db, CORE_GC_LOCK, &got) != ST_OK) {
			out->status = ST_IO;
			return ST_IO;
		}
		if (got)
			break;
		if (waited == 0)
			log_info("gc: another replica is collecting; waiting for it to finish");
		if (waited >= CORE_GC_LOCK_WAIT_MS) {
			log_warn("gc: another replica is still collecting after %d s; this run "
				 "is skipped",
				 CORE_GC_LOCK_WAIT_MS / 1000);
			out->status = ST_BUSY;
			return ST_BUSY;
		}
		nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	set = settings_get(c);
	out->dry_config = set->gc_dry_run;
	settings_put(c, set);
	eff.dry_run = eff.dry_run || out->dry_config;
	out->dry_run = eff.dry_run;
	if (core_retain_configured(c)) {
		st = core_retain(c, eff.dry_run, retained, &t, &rs);
		out->tags = rs.removed;
		if (st != ST_OK)
			log_error("gc: retention failed: %s", status_str(st));
	}
	if (st == ST_OK && (st = gc_unreferenced(c, &eff, out)) != ST_OK)
		log_error("gc: stopped: %s (what was removed stays removed)", status_str(st));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	out->status = st;
	log_info("gc%s: %s %zu manifest(s), %zu link(s), %zu blob(s) and %zu orphan file(s), "
		 "%llu bytes %s; %zu tag(s) by retention; %zu idle upload(s); %.3f s",
		 !eff.dry_run	   ? ""
		 : out->dry_config ? " (dry run: gc_dry_run is set)"
				   : " (dry run)",
		 eff.dry_run ? "would remove" : "removed", out->manifests, out->links, out->blobs,
		 out->orphans, (unsigned long long)out->bytes,
		 eff.dry_run ? "would be freed" : "freed", out->tags, out->uploads, out->seconds);
	collect_count(c, out);
	if (!eff.dry_run)
		collect_record(c, out, (int64_t)time(NULL));
	meta_unlock(db, CORE_GC_LOCK);
	return st;
}

void core_gc_totals_get(core *c, core_gc_totals *out)
{
	pthread_mutex_lock(&c->gc_mu);
	*out = c->gc_totals;
	pthread_mutex_unlock(&c->gc_mu);
}

/* The last run that removed, in the data folder, so a `registry gc` from
 * cron shows on the server's pages too. One line, replaced atomically:
 * "WHEN TAGS MANIFESTS LINKS BLOBS ORPHANS UPLOADS BYTES SECONDS". */
#define GC_LAST_FILE "gc.last"

static void collect_record(core *c, const core_gc_report *r, int64_t when)
{
	char path[sizeof(c->data) + 32], tmp[sizeof(path) + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" GC_LAST_FILE, c->data);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("gc: cannot record the run in %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%lld %zu %zu %zu %zu %zu %zu %llu %.3f\n", (long long)when, r->tags,
		r->manifests, r->links, r->blobs, r->orphans, r->uploads,
		(unsigned long long)r->bytes, r->seconds);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_warn("gc: cannot record the run in %s", path);
		unlink(tmp);
	}
}

static bool collect_recorded(core *c, core_gc_report *out, int64_t *out_when)
{
	char path[sizeof(c->data) + 32];
	unsigned long long bytes;
	long long when;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/" GC_LAST_FILE, c->data);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	n = fscanf(f, "%lld %zu %zu %zu %zu %zu %zu %llu %lf", &when, &out->tags, &out->manifests,
		   &out->links, &out->blobs, &out->orphans, &out->uploads, &bytes, &out->seconds);
	fclose(f);
	if (n != 9)
		return false;
	out->bytes = bytes;
	*out_when = when;
	return true;
}

status_t core_gc_last(core *c, core_gc_report *out, int64_t *out_when)
{
	core_gc_report rec;
	int64_t rec_when = 0;

	pthread_mutex_lock(&c->gc_mu);
	*out = c->gc_last;
	*out_when = c->gc_last_at;
	pthread_mutex_unlock(&c->gc_mu);
	if (collect_recorded(c, &rec, &rec_when) && rec_when > *out_when) {
		*out = rec;
		*out_when = rec_when;
	}
	return *out_when != 0 ? ST_OK : ST_NOT_FOUND;
}
