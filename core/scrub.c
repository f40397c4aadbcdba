/*
 * scrub.c - re-hashing what is stored, to find bytes that rotted on disk
 * (core_scrub, see core.h).
 *
 * The index says which digests are stored (blobs linked to a repository,
 * manifests); they are walked in digest order a page at a time, each read
 * through the blob store and hashed. Reads are paced to o->rate bytes a
 * second over the whole run (a sleep whenever it is ahead), so a scrub
 * leaves the disk to pushes and pulls. A digest whose bytes do not match
 * is logged with every manifest that is it or uses it; with repair it is
 * quarantined: the store moves it aside (blobstore_quarantine) and the
 * index marks it, so it is never served again (BLOB_UNKNOWN) until a push
 * stores the same digest anew, which clears the mark. A quarantined digest
 * is not checked again. Nothing here holds a lock across a read: a server
 * on the same folder goes on serving (a reader open on a blob being moved
 * keeps reading the old bytes to its end).
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

#define SCRUB_PAGE 256		  /* digests read from the index at a time */
#define SCRUB_CHUNK (1024 * 1024) /* bytes per read */
#define SCRUB_USERS_MAX 64	  /* manifests named per bad digest */
#define SCRUB_USERS_LOG 4096	  /* bytes of the log line that names them */

typedef struct {
	char digest[DIGEST_MAX];
	uint64_t size;
} scrub_entry;

typedef struct {
	scrub_entry *v;
	size_t n;
} scrub_page;

static int collect_digest(void *arg, const char *digest, uint64_t size)
{
	scrub_page *p = arg;

	snprintf(p->v[p->n].digest, DIGEST_MAX, "%s", digest);
	p->v[p->n++].size = size;
	return 0;
}

/* The quarantined digests, sorted (the index lists them in order). */
typedef struct {
	char (*v)[DIGEST_MAX];
	size_t n, cap;
} digest_set;

static int collect_quarantined(void *arg, const char *digest, time_t at, const char *reason)
{
	digest_set *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (p == NULL)
			return 1;
		s->v = p;
		s->cap = cap;
	}
	snprintf(s->v[s->n++], DIGEST_MAX, "%s", digest);
	return 0;
}

static bool set_has(const digest_set *s, const char *digest)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(s->v[mid], digest);
		if (cmp == 0)
			return true;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

typedef struct {
	struct timespec start;
	uint64_t bytes; /* read so far in this run */
	const core_scrub_options *o;
} pacer;

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Sleeps until n more bytes are within the rate. false if cancelled. */
static bool pace(pacer *p, uint64_t n)
{
	double ahead;

	p->bytes += n;
	if (p->o->rate == 0)
		return true;
	while ((ahead = (double)p->bytes / (double)p->o->rate - seconds_since(&p->start)) > 0) {
		double step = ahead > 0.2 ? 0.2 : ahead; /* cancellable in short steps */
		struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};

		if (p->o->cancelled != NULL && p->o->cancelled(p->o->cancel_arg))
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Reads and hashes digest: NULL if it matches, else what is wrong. *cancelled
 * when the options' cancel said so mid-way (the answer is then NULL). */
static const char *check_one(core *c, const char *digest, void *buf, pacer *p, bool *cancelled)
{
	blob_reader *rd = NULL;
	digest_ctx *ctx = NULL;
	char got[DIGEST_MAX];
	const char *problem = NULL;
	digest_alg alg;
	uint64_t off = 0;
	size_t n;
	status_t st;

	if (digest_parse(digest, &alg) != ST_OK)
		return NULL; /* the index holds only digests we make */
	st = blobstore_read_open(c->bs, digest, &rd);
	if (st == ST_NOT_FOUND)
		return "missing";
	if (st != ST_OK)
		return "unreadable";
	if (digest_ctx_new(&ctx, alg) != ST_OK) {
		problem = "unreadable";
		goto done;
	}
	for (;;) {
		if ((st = blob_reader_read(rd, off, buf, SCRUB_CHUNK, &n)) != ST_OK) {
			problem = "unreadable";
			goto done;
		}
		if (n == 0)
			break;
		digest_ctx_update(ctx, buf, n);
		off += n;
		if (!pace(p, n)) {
			*cancelled = true;
			goto done;
		}
	}
	digest_ctx_final(ctx, got);
	if (strcmp(got, digest) != 0)
		problem = "content does not match";
done:
	digest_ctx_free(ctx);
	blob_reader_close(rd);
	return problem;
}

typedef struct {
	char **v;
	size_t n;
} user_list;

static int collect_user(void *arg, const char *repo, const char *manifest)
{
	user_list *u = arg;
	size_t len = strlen(repo) + strlen(manifest) + 2;

	if (u->n == SCRUB_USERS_MAX || (u->v[u->n] = malloc(len)) == NULL)
		return 1;
	snprintf(u->v[u->n++], len, "%s@%s", repo, manifest);
	return 0;
}

/* Logs, quarantines (repair) and reports one bad digest. */
static status_t found_bad(core *c, meta *db, const core_scrub_options *o, const char *digest,
			  const char *problem, void (*fn)(void *arg, const core_scrub_item *it),
			  void *arg, core_scrub_summary *sum)
{
	char *users[SCRUB_USERS_MAX], line[SCRUB_USERS_LOG] = "";
	user_list u = {users, 0};
	core_scrub_item it = {.digest = digest, .problem = problem};
	status_t st = meta_digest_users(db, digest, collect_user, &u);

	for (size_t i = 0; i < u.n; i++) {
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, "%s%s", i ? ", " : "", users[i]);
	}
	if (st == ST_OK && o->repair) {
		st = blobstore_quarantine(c->bs, digest);
		if (st == ST_NOT_FOUND)
			st = ST_OK; /* missing: only marked, so it is not reported again */
		if (st == ST_OK)
			st = meta_quarantine_add(db, digest, problem);
		if (st == ST_OK) {
			it.quarantined = true;
			sum->quarantined++;
		}
	}
	log_warn("scrub: %s: %s%s; used by %s", digest, problem,
		 it.quarantined ? ", quarantined (never served until pushed again)" : "",
		 u.n ? line : "no manifest");
	it.users = (const char *const *)users;
	it.nusers = u.n;
	if (fn != NULL)
		fn(arg, &it);
	for (size_t i = 0; i < u.n; i++)
		free(users[i]);
	return st;
}

status_t core_scrub(core *c, const core_scrub_options *o,
		    void (*fn)(void *arg, const core_scrub_item *it), void *arg,
		    core_scrub_summary *out)
{
	core_scrub_summary sum = {0};
	char after[DIGEST_MAX] = "";
	digest_set quarantined = {0};
	scrub_page page = {0};
	pacer p = {.o = o};
	void *buf = NULL;
	bool more = true, cancelled = false;
	status_t st;
	meta *db;

	clock_gettime(CLOCK_MONOTONIC, &p.start);
	if ((st = core_db(c, &db)) != ST_OK)
		goto done;
	if ((page.v = calloc(SCRUB_PAGE, sizeof(*page.v))) == NULL ||
	    (buf = malloc(SCRUB_CHUNK)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if ((st = meta_quarantine_list(db, collect_quarantined, &quarantined)) != ST_OK)
		goto done;
	while (more && !cancelled) {
		page.n = 0;
		if ((st = meta_digests(db, after, SCRUB_PAGE, collect_digest, &page, &more)) !=
		    ST_OK)
			goto done;
		for (size_t i = 0; i < page.n && !cancelled; i++) {
			const char *digest = page.v[i].digest, *problem;

			if (o->cancelled != NULL && o->cancelled(o->cancel_arg)) {
				cancelled = true;
				break;
			}
			if (set_has(&quarantined, digest))
				continue;
			problem = check_one(c, digest, buf, &p, &cancelled);
			if (cancelled)
				break;
			sum.checked++;
			if (problem == NULL)
				continue;
			sum.bad++;
			if ((st = found_bad(c, db, o, digest, problem, fn, arg, &sum)) != ST_OK)
				goto done;
		}
		if (page.n > 0)
			snprintf(after, sizeof(after), "%s", page.v[page.n - 1].digest);
	}
	st = ST_OK;
done:
	sum.bytes = p.bytes;
	sum.cancelled = cancelled;
	free(quarantined.v);
	free(page.v);
	free(buf);
	if (out != NULL)
		*out = sum;
	return st;
}
