/*
 * test_gc.c - what garbage collection relies on in the metadata index
 * (storage/meta.h, "blob rows"): the compare-and-sets of each step, the
 * liveness of manifests, the push and mount checks made in one
 * transaction, the reap that removes files only for rows still gone, the
 * repository that goes when emptied, a dry run's private copy, and the
 * upgrade of a version 1 index. Each race is played out in order on one
 * connection: read a candidate, reference it, then try the removal.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../storage/meta.h"

#define ALL_OLD INT64_MAX /* a cutoff everything is older than */

static char dir[64], db_path[128];
static meta *m;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-gc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/registry.db", dir);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
}

static void teardown(void)
{
	meta_close(m);
	m = NULL;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *dg(char out[DIGEST_MAX], char c)
{
	memcpy(out, "sha256:", 7);
	memset(out + 7, c, 64);
	out[71] = '\0';
	return out;
}

static meta_manifest man_make(const char *d, const char *subject)
{
	meta_manifest man;

	memset(&man, 0, sizeof(man));
	snprintf(man.digest, sizeof(man.digest), "%s", d);
	snprintf(man.media_type, sizeof(man.media_type),
		 "application/vnd.oci.image.manifest.v1+json");
	snprintf(man.subject, sizeof(man.subject), "%s", subject);
	man.size = 300;
	return man;
}

typedef struct {
	char digest[8][DIGEST_MAX];
	int n;
} reaped;

static void on_reap(void *arg, meta_gc_item *it)
{
	reaped *r = arg;

	snprintf(r->digest[r->n++], DIGEST_MAX, "%s", it->digest);
}

/* Is digest among the n items, and dropped? -1 absent, else 0/1. */
static int dropped(const meta_gc_item *it, size_t n, const char *digest)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(it[i].digest, digest) == 0)
			return it[i].dropped;
	return -1;
}

START_TEST(test_blob_row_cas)
{
	char a[DIGEST_MAX], b[DIGEST_MAX];
	meta_gc_item it[8];
	reaped r = {0};
	size_t n;

	dg(a, 'a');
	dg(b, 'b');
	ck_assert_int_eq(meta_blob_link(m, "app", a, 10), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "app", b, 20), ST_OK);
	/* linked: not a candidate */
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 8, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_blob_unlink(m, "app", a), ST_OK);
	ck_assert_int_eq(meta_blob_unlink(m, "app", b), ST_OK);
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 8, &n), ST_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(it[1].size, 20);
	/* too young for the delay: not a candidate */
	ck_assert_int_eq(meta_gc_blobs(m, it[0].touched_us - 1, NULL, it + 2, 6, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	/* a reference after the read (an upload of a, about to commit) */
	int64_t gen;
	ck_assert_int_eq(meta_blob_hold(m, a, 10, &gen), ST_OK);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 2, false), ST_OK);
	ck_assert_int_eq(dropped(it, 2, a), 0);
	ck_assert_int_eq(dropped(it, 2, b), 1);
	/* only the row that went has its file removed */
	ck_assert_int_eq(meta_gc_reap(m, it, 2, false, on_reap, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.digest[0], b);
	/* a held row survived: its link can be made */
	ck_assert_int_eq(meta_blob_link_held(m, "app", a, 10, gen), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "app", a, NULL), ST_OK);
}
END_TEST

START_TEST(test_reap_spares_a_row_made_again)
{
	char a[DIGEST_MAX];
	meta_gc_item it[2];
	reaped r = {0};
	int64_t gen;
	size_t n;

	dg(a, 'a');
	ck_assert_int_eq(meta_blob_hold(m, a, 10, &gen), ST_OK);
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 2, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, false), ST_OK);
	ck_assert(it[0].dropped);
	/* the writer whose row went finds out, holds again, and the collector's
	 * reap, coming after, leaves the file */
	ck_assert_int_eq(meta_blob_link_held(m, "app", a, 10, gen), ST_BUSY);
	ck_assert_int_eq(meta_blob_get(m, "app", a, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_hold(m, a, 10, &gen), ST_OK);
	ck_assert_int_eq(meta_gc_reap(m, it, 1, false, on_reap, &r), ST_OK);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(meta_blob_link_held(m, "app", a, 10, gen), ST_OK);
	/* a dry reap calls fn the same way, for rows gone */
	ck_assert_int_eq(meta_blob_unlink(m, "app", a), ST_OK);
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 2, &n), ST_OK);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, false), ST_OK);
	ck_assert_int_eq(meta_gc_reap(m, it, 1, true, on_reap, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
}
END_TEST

START_TEST(test_link_cas_and_read_bump)
{
	char a[DIGEST_MAX], l[DIGEST_MAX], man[DIGEST_MAX];
	meta_gc_item it[4];
	meta_manifest mm;
	const char *refs[1];
	uint64_t size = 0;
	size_t n;

	dg(a, 'a');
	dg(l, 'c');
	dg(man, 'f');
	ck_assert_int_eq(meta_blob_link(m, "app", a, 10), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "app", l, 30), ST_OK);
	refs[0] = l;
	mm = man_make(man, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, refs, 1, NULL, 0), ST_OK);
	/* l is referenced by a manifest of app: only a is a candidate */
	ck_assert_int_eq(meta_gc_links(m, "app", ALL_OLD, NULL, it, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].digest, a);
	/* a HEAD after the read, with fresh 0 (always bump): the link stays */
	ck_assert_int_eq(meta_blob_use(m, "app", a, 0, &size), ST_OK);
	ck_assert_uint_eq(size, 10);
	ck_assert_int_eq(meta_gc_links_drop(m, "app", it, 1), ST_OK);
	ck_assert(!it[0].dropped);
	/* a read within fresh_us writes nothing, so the value read stays */
	ck_assert_int_eq(meta_gc_links(m, "app", ALL_OLD, NULL, it, 4, &n), ST_OK);
	ck_assert_int_eq(meta_blob_use(m, "app", a, INT64_MAX / 2, NULL), ST_OK);
	ck_assert_int_eq(meta_gc_links_drop(m, "app", it, 1), ST_OK);
	ck_assert(it[0].dropped);
	ck_assert_int_eq(meta_blob_use(m, "app", a, 0, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_use(m, "nope", a, 0, NULL), ST_NOT_FOUND);
	/* keyset: after the last digest there is nothing */
	ck_assert_int_eq(meta_gc_links(m, "app", ALL_OLD, l, it, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_gc_links(m, "nope", ALL_OLD, NULL, it, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Two collectors read the same candidates; the first's drop empties the
 * repository, which goes with it. The second's drop finds no repository:
 * nothing of it is left, which is not an error (the race test_gc_race.sh
 * plays with `registry gc` beside the server's collector). */
START_TEST(test_drop_after_the_repository_went)
{
	char a[DIGEST_MAX], man[DIGEST_MAX];
	meta_gc_item first[2], second[2];
	meta_manifest mm;
	size_t n;

	dg(a, 'a');
	dg(man, 'f');
	ck_assert_int_eq(meta_blob_link(m, "app", a, 10), ST_OK);
	ck_assert_int_eq(meta_gc_links(m, "app", ALL_OLD, NULL, first, 2, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	memcpy(second, first, sizeof(first));
	ck_assert_int_eq(meta_gc_links_drop(m, "app", first, 1), ST_OK);
	ck_assert(first[0].dropped);
	ck_assert_int_eq(meta_blob_use(m, "app", a, 0, NULL), ST_NOT_FOUND);
	second[0].dropped = true;
	ck_assert_int_eq(meta_gc_links_drop(m, "app", second, 1), ST_OK);
	ck_assert(!second[0].dropped);

	/* the same for an untagged manifest */
	mm = man_make(man, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_gc_manifests(m, "app", ALL_OLD, first, 2, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	memcpy(second, first, sizeof(first));
	ck_assert_int_eq(meta_gc_manifests_drop(m, "app", first, 1), ST_OK);
	ck_assert(first[0].dropped);
	ck_assert_int_eq(meta_manifest_get(m, "app", man, &mm), ST_NOT_FOUND);
	second[0].dropped = true;
	ck_assert_int_eq(meta_gc_manifests_drop(m, "app", second, 1), ST_OK);
	ck_assert(!second[0].dropped);
}
END_TEST

/*
 * app: T tagged (refs layer L); U untagged; index X untagged naming C;
 * referrer R (untagged) of T; referrer Q (untagged) of U. Live: T, R.
 * Dead: U, X, C, Q. C is named by X and U by Q: they go once those went.
 */
START_TEST(test_manifest_liveness)
{
	char t[DIGEST_MAX], u[DIGEST_MAX], x[DIGEST_MAX], c[DIGEST_MAX], r[DIGEST_MAX],
	    q[DIGEST_MAX], l[DIGEST_MAX];
	const char *tag = "v1", *refs[1];
	meta_gc_item it[8];
	meta_manifest mm;
	size_t n, total = 0;

	dg(c, '1');
	dg(q, '2');
	dg(r, '3');
	dg(t, '4');
	dg(u, '5');
	dg(x, '6');
	dg(l, 'a');
	ck_assert_int_eq(meta_blob_link(m, "app", l, 5), ST_OK);
	refs[0] = l;
	mm = man_make(t, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, refs, 1, &tag, 1), ST_OK);
	mm = man_make(u, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, refs, 1, NULL, 0), ST_OK);
	mm = man_make(c, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, NULL, 0, NULL, 0), ST_OK);
	refs[0] = c;
	mm = man_make(x, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, refs, 1, NULL, 0), ST_OK);
	mm = man_make(r, t);
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, NULL, 0, NULL, 0), ST_OK);
	mm = man_make(q, u);
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, NULL, 0, NULL, 0), ST_OK);

	/* all young: nothing is dead */
	ck_assert_int_eq(meta_gc_manifests(m, "app", 0, it, 8, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_gc_manifests(m, "app", ALL_OLD, it, 8, &n), ST_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(it[0].digest, c);
	ck_assert_str_eq(it[1].digest, q);
	ck_assert_str_eq(it[2].digest, u);
	ck_assert_str_eq(it[3].digest, x);
	/* tag U after the read: it stays (so does its referrer Q's subject) */
	tag = "late";
	mm = man_make(u, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, NULL, 0, &tag, 1), ST_OK);
	ck_assert_int_eq(meta_gc_manifests_drop(m, "app", it, n), ST_OK);
	ck_assert_int_eq(dropped(it, n, c), 0); /* X still names it */
	ck_assert_int_eq(dropped(it, n, q), 1);
	ck_assert_int_eq(dropped(it, n, u), 0);
	ck_assert_int_eq(dropped(it, n, x), 1);
	/* next round: C, no longer named */
	ck_assert_int_eq(meta_gc_manifests(m, "app", ALL_OLD, it, 8, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(it[0].digest, c);
	ck_assert_int_eq(meta_gc_manifests_drop(m, "app", it, n), ST_OK);
	ck_assert(it[0].dropped);
	ck_assert_int_eq(meta_gc_manifests(m, "app", ALL_OLD, it, 8, &n), ST_OK);
	total += n;
	ck_assert_uint_eq(total, 0);
	mm = man_make(t, "");
	ck_assert_int_eq(meta_manifest_get(m, "app", t, &mm), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", r, &mm), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", x, &mm), ST_NOT_FOUND);
}
END_TEST

START_TEST(test_push_checks)
{
	char a[DIGEST_MAX], b[DIGEST_MAX], man[DIGEST_MAX], s[DIGEST_MAX];
	const char *need[2];
	meta_push p = {0};
	meta_manifest mm;
	meta_gc_item it[4];
	size_t n;

	dg(a, 'a');
	dg(b, 'b');
	dg(man, 'f');
	dg(s, 'e');
	ck_assert_int_eq(meta_blob_link(m, "app", a, 10), ST_OK);
	need[0] = a;
	need[1] = b;
	p.need = need;
	p.nneed = 2;
	mm = man_make(man, "");
	ck_assert_int_eq(meta_blob_hold(m, man, 300, &p.gen), ST_OK);
	ck_assert_int_eq(meta_manifest_push(m, "app", &mm, need, 2, NULL, 0, &p), ST_NOT_FOUND);
	ck_assert_uint_eq(p.missing, 1);
	/* b in another repository does not count */
	ck_assert_int_eq(meta_blob_link(m, "other", b, 20), ST_OK);
	ck_assert_int_eq(meta_manifest_push(m, "app", &mm, need, 2, NULL, 0, &p), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_link(m, "app", b, 20), ST_OK);
	/* the manifest's own row went since the hold: ST_BUSY, nothing stored */
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, false), ST_OK);
	ck_assert(it[0].dropped);
	ck_assert_int_eq(meta_manifest_push(m, "app", &mm, need, 2, NULL, 0, &p), ST_BUSY);
	ck_assert_int_eq(meta_manifest_get(m, "app", man, &mm), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_hold(m, man, 300, &p.gen), ST_OK);
	mm = man_make(man, s);
	ck_assert_int_eq(meta_manifest_push(m, "app", &mm, need, 2, NULL, 0, &p), ST_OK);
	/* an index needs manifests of the repository */
	p.need_manifests = true;
	p.nneed = 1;
	need[0] = man;
	dg(b, '9');
	mm = man_make(b, "");
	ck_assert_int_eq(meta_blob_hold(m, b, 300, &p.gen), ST_OK);
	ck_assert_int_eq(meta_manifest_push(m, "other", &mm, need, 1, NULL, 0, &p), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_push(m, "app", &mm, need, 1, NULL, 0, &p), ST_OK);
}
END_TEST

START_TEST(test_mount_in_one_transaction)
{
	char a[DIGEST_MAX];
	uint64_t size = 0;

	dg(a, 'a');
	ck_assert_int_eq(meta_blob_mount(m, "to", "from", a, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_mount(m, "to", NULL, a, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_link(m, "from", a, 42), ST_OK);
	ck_assert_int_eq(meta_blob_mount(m, "to", "elsewhere", a, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_mount(m, "to", "from", a, &size), ST_OK);
	ck_assert_uint_eq(size, 42);
	ck_assert_int_eq(meta_blob_get(m, "to", a, NULL), ST_OK);
	ck_assert_int_eq(meta_blob_mount(m, "to2", NULL, a, &size), ST_OK);
}
END_TEST

START_TEST(test_evict_and_gc_differ_only_on_references)
{
	char l[DIGEST_MAX], man[DIGEST_MAX];
	const char *refs[1];
	meta_gc_item it[2];
	meta_manifest mm;
	size_t n;

	dg(l, 'a');
	dg(man, 'f');
	/* a cached manifest references l, which no repository has linked */
	ck_assert_int_eq(meta_blob_link(m, "docker.io/x", l, 10), ST_OK);
	refs[0] = l;
	mm = man_make(man, "");
	ck_assert_int_eq(meta_manifest_put(m, "docker.io/x", &mm, refs, 1, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 2, &n), ST_OK);
	ck_assert_uint_eq(n, 0); /* linked */
	/* still linked: neither takes it (a local repository holding it too) */
	snprintf(it[0].digest, DIGEST_MAX, "%s", l);
	it[0].touched_us = 0;
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, true), ST_OK);
	ck_assert(!it[0].dropped);
	/* unlinked (the cache's eviction unlinks its own repositories first) */
	ck_assert_int_eq(meta_blob_unlink(m, "docker.io/x", l), ST_OK);
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 2, &n), ST_OK);
	ck_assert_uint_eq(n, 0); /* GC: a manifest references it */
	snprintf(it[0].digest, DIGEST_MAX, "%s", l);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, false), ST_OK);
	ck_assert(!it[0].dropped);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, true), ST_OK);
	ck_assert(it[0].dropped); /* eviction: the cache fetches it again */
	/* a manifest's own row: never, by either */
	snprintf(it[0].digest, DIGEST_MAX, "%s", man);
	ck_assert_int_eq(meta_gc_blobs_drop(m, it, 1, true), ST_OK);
	ck_assert(!it[0].dropped);
}
END_TEST

START_TEST(test_repo_clear_and_snapshot)
{
	char a[DIGEST_MAX], man[DIGEST_MAX];
	const char *tag = "v1", *refs[1];
	meta_repo_counts c = {0};
	meta_manifest mm;
	meta *snap = NULL;
	bool done = false;

	dg(a, 'a');
	dg(man, 'f');
	ck_assert_int_eq(meta_blob_link(m, "app", a, 10), ST_OK);
	refs[0] = a;
	mm = man_make(man, "");
	ck_assert_int_eq(meta_manifest_put(m, "app", &mm, refs, 1, &tag, 1), ST_OK);
	/* on a private copy: counted, and the index unchanged */
	ck_assert_int_eq(meta_snapshot(m, &snap), ST_OK);
	while (!done)
		ck_assert_int_eq(meta_repo_clear(snap, "app", 1, &c, &done), ST_OK);
	ck_assert_uint_eq(c.tags, 1);
	ck_assert_uint_eq(c.manifests, 1);
	ck_assert_uint_eq(c.links, 1);
	ck_assert_int_eq(meta_repo_exists(snap, "app"), ST_NOT_FOUND);
	meta_close(snap);
	ck_assert_int_eq(meta_repo_exists(m, "app"), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &mm), ST_OK);
	/* for real, in batches of one row */
	memset(&c, 0, sizeof(c));
	done = false;
	while (!done)
		ck_assert_int_eq(meta_repo_clear(m, "app", 1, &c, &done), ST_OK);
	ck_assert_uint_eq(c.tags + c.manifests + c.links, 3);
	ck_assert_int_eq(meta_repo_exists(m, "app"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_repo_clear(m, "app", 1, &c, &done), ST_NOT_FOUND);
}
END_TEST

/* An index made by the previous version (1) is upgraded in place: every
 * linked blob and manifest gets its row, counted as referenced now. */
START_TEST(test_upgrade_from_version_1)
{
	sqlite3 *db;
	meta_gc_item it[4];
	size_t n;
	char a[DIGEST_MAX], sql[4096];

	meta_close(m);
	m = NULL;
	unlink(db_path);
	dg(a, 'a');
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE repos (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
		 "CREATE TABLE repo_blobs (repo_id INTEGER NOT NULL REFERENCES repos(id),"
		 " digest TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (repo_id, digest))"
		 " WITHOUT ROWID;"
		 "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
		 "CREATE TABLE manifests (repo_id INTEGER NOT NULL REFERENCES repos(id),"
		 " digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,"
		 " artifact_type TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',"
		 " annotations TEXT, created INTEGER NOT NULL, PRIMARY KEY (repo_id, digest))"
		 " WITHOUT ROWID;"
		 "CREATE INDEX manifests_subject ON manifests(repo_id, subject, digest);"
		 "CREATE TABLE manifest_refs (repo_id INTEGER NOT NULL, manifest TEXT NOT NULL,"
		 " ref TEXT NOT NULL, PRIMARY KEY (repo_id, manifest, ref)) WITHOUT ROWID;"
		 "CREATE INDEX manifest_refs_ref ON manifest_refs(ref);"
		 "CREATE TABLE tags (repo_id INTEGER NOT NULL, name TEXT NOT NULL,"
		 " digest TEXT NOT NULL, PRIMARY KEY (repo_id, name)) WITHOUT ROWID;"
		 "CREATE INDEX tags_digest ON tags(repo_id, digest);"
		 "CREATE TABLE uploads (id TEXT PRIMARY KEY, repo TEXT NOT NULL, alg TEXT NOT NULL,"
		 " created INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
		 "CREATE INDEX uploads_updated ON uploads(updated);"
		 "INSERT INTO repos(name) VALUES ('old');"
		 "INSERT INTO repo_blobs VALUES (1, '%s', 77);"
		 "PRAGMA user_version = 1;",
		 a);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "old", a, NULL), ST_OK);
	ck_assert_int_eq(meta_blob_unlink(m, "old", a), ST_OK);
	/* its row was made by the upgrade, with its size */
	ck_assert_int_eq(meta_gc_blobs(m, ALL_OLD, NULL, it, 4, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(it[0].size, 77);
}
END_TEST

Suite *make_gc_suite(void)
{
	Suite *s = suite_create("gc");
	TCase *tc = tcase_create("meta");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_blob_row_cas);
	tcase_add_test(tc, test_reap_spares_a_row_made_again);
	tcase_add_test(tc, test_link_cas_and_read_bump);
	tcase_add_test(tc, test_drop_after_the_repository_went);
	tcase_add_test(tc, test_manifest_liveness);
	tcase_add_test(tc, test_push_checks);
	tcase_add_test(tc, test_mount_in_one_transaction);
	tcase_add_test(tc, test_evict_and_gc_differ_only_on_references);
	tcase_add_test(tc, test_repo_clear_and_snapshot);
	tcase_add_test(tc, test_upgrade_from_version_1);
	suite_add_tcase(s, tc);
	return s;
}
