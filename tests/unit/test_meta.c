/*
 * test_meta.c - the metadata index (storage/meta.h) and its SQLite backend
 * (storage/meta_sqlite.c).
 *
 * Two test cases. "shared": the contract of meta.h, run once per entry of
 * `backends` (a loop test: _i is the entry), so a second backend is one
 * more entry there. "sqlite": what only the SQLite backend promises (WAL,
 * the schema version, a full disk). Every test opens a fresh index in its
 * own mkdtemp folder (a checked fixture: removed even when an assertion
 * fails) and asserts exact status codes. Where the public interface cannot
 * show a row (manifest_refs), the backend's entry says how to run a plain
 * SQL query on its store beside the connection under test.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../storage/meta.h"
#include "../../storage/pq_load.h"
#include "skip.h"

static char dir[64];
static char db_path[128];
static meta *m;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The shared tests' fixture: a folder; each test then calls db_open. */
static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-meta-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/registry.db", dir);
}

/* The sqlite tests' fixture: a SQLite index in the folder. */
static void setup_sqlite(void)
{
	setup_dir();
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
}

static void teardown(void)
{
	char mnt[96];

	meta_close(m);
	m = NULL;
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	umount2(mnt, MNT_DETACH); /* test_no_space's, if it failed half-way */
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The first column of the first row of sql, run on a separate connection. */
static long long sqlite_raw_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void sqlite_raw_exec(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Runs sql on a new database file at db_path. */
static void sqlite_raw_exec_create(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(
	    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static const char *sqlite_location(void)
{
	return db_path;
}

/*
 * The "postgres" entry runs when REGISTRY_TEST_PG names a server
 * (tests/pg.sh start prints it: "host=DIR port=N user=postgres"); each test
 * gets a database of its own, named after its folder, created at its first
 * connection.
 */
static char pg_location_buf[512];

/* conninfo with dbname db, in out. */
static void pg_conninfo(char *out, size_t max, const char *db)
{
	snprintf(out, max, "%s dbname=%s", getenv("REGISTRY_TEST_PG"), db);
}

/* A plain connection to the test's database (or "postgres"). */
static PGconn *pg_raw_connect(const char *db)
{
	char ci[512];
	PGconn *c;

	ck_assert_int_eq(pq_load(), ST_OK);
	pg_conninfo(ci, sizeof(ci), db);
	c = libpq.connectdb(ci);
	ck_assert_int_eq(libpq.status(c), CONNECTION_OK);
	return c;
}

/* The test's database name: its folder's, which mkdtemp made unique. */
static const char *pg_dbname(void)
{
	static char name[64];
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;

	snprintf(name, sizeof(name), "%s", base);
	for (char *p = name; *p; p++)
		*p = *p == '-' ? '_' : (char)tolower((unsigned char)*p); /* as SQL folds it */
	return name;
}

static const char *pg_location(void)
{
	char want[512];

	pg_conninfo(want, sizeof(want), pg_dbname());
	if (strcmp(want, pg_location_buf) != 0) {
		/* the test's first connection: its database, new */
		PGconn *c = pg_raw_connect("postgres");
		char sql[160];
		PGresult *r;

		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_dbname());
		r = libpq.exec(c, sql);
		ck_assert_int_eq(libpq.result_status(r), PGRES_COMMAND_OK);
		libpq.clear(r);
		libpq.finish(c);
		snprintf(pg_location_buf, sizeof(pg_location_buf), "%s", want);
	}
	return pg_location_buf;
}

static long long pg_raw_int(const char *sql)
{
	PGconn *c = pg_raw_connect(pg_dbname());
	PGresult *r = libpq.exec(c, sql);
	long long v = -1;

	ck_assert_int_eq(libpq.result_status(r), PGRES_TUPLES_OK);
	if (libpq.ntuples(r) > 0)
		v = strtoll(libpq.getvalue(r, 0, 0), NULL, 10);
	libpq.clear(r);
	libpq.finish(c);
	return v;
}

static void pg_raw_exec(const char *sql)
{
	PGconn *c = pg_raw_connect(pg_dbname());
	PGresult *r = libpq.exec(c, sql);
	ExecStatusType t = libpq.result_status(r);

	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		ck_abort_msg("%s: %s", sql, libpq.result_error_message(r));
	libpq.clear(r);
	libpq.finish(c);
}

/* The backends the shared tests run against: the name to open, where (a
 * scratch index under the test's folder or of its own), and plain SQL on
 * the same store beside the connection under test. */
static const struct {
	const char *name;
	const char *(*location)(void);
	long long (*raw_int)(const char *sql);
	void (*raw_exec)(const char *sql);
} backends[] = {
    {"sqlite", sqlite_location, sqlite_raw_int, sqlite_raw_exec},
    {"postgres", pg_location, pg_raw_int, pg_raw_exec},
};
/* postgres only when a server is named (tests/pg.sh; make unit-pg). */
#define NBACKENDS (getenv("REGISTRY_TEST_PG") != NULL ? 2 : 1)

static int cur; /* the entry of backends a shared test runs against */

/* A shared test's first step: a connection to a fresh index of backends[i]. */
static void db_open(int i)
{
	cur = i;
	ck_assert_int_eq(meta_open_backend(&m, backends[i].name, backends[i].location()), ST_OK);
}

/* Another connection to the same index (the caller closes it). */
static status_t db_connect(meta **out)
{
	return meta_open_backend(out, backends[cur].name, backends[cur].location());
}

static long long raw_int(const char *sql)
{
	return backends[cur].raw_int(sql);
}

static void raw_exec(const char *sql)
{
	backends[cur].raw_exec(sql);
}

/* A made-up digest: "sha256:" + 64 times c. */
static const char *dg(char out[DIGEST_MAX], char c)
{
	memcpy(out, "sha256:", 7);
	memset(out + 7, c, 64);
	out[71] = '\0';
	return out;
}

/* A manifest record for digest d. */
static meta_manifest man_make(const char *d, const char *artifact_type, const char *subject)
{
	meta_manifest man;

	memset(&man, 0, sizeof(man));
	snprintf(man.digest, sizeof(man.digest), "%s", d);
	snprintf(man.media_type, sizeof(man.media_type),
		 "application/vnd.oci.image.manifest.v1+json");
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", subject);
	man.size = 1234;
	return man;
}

/* Collected names from a list call. */
typedef struct {
	char names[16][256];
	int n;
	int stop_after; /* 0: never stop */
} names;

static int collect_name(void *arg, const char *name)
{
	names *l = arg;

	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
	return l->stop_after > 0 && l->n >= l->stop_after;
}

static void assert_names(const names *l, int n, const char *const *want)
{
	ck_assert_int_eq(l->n, n);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(l->names[i], want[i]);
}

START_TEST(test_blob_link)
{
	char d[DIGEST_MAX], e[DIGEST_MAX];
	uint64_t size = 0;

	db_open(_i);
	dg(d, 'a');
	dg(e, 'b');
	ck_assert_int_eq(meta_repo_exists(m, "lib/app"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_find(m, d, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_link(m, "lib/app", d, 100), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "lib/app", d, 100), ST_OK); /* idempotent */
	ck_assert_int_eq(meta_repo_exists(m, "lib/app"), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "lib/app", d, &size), ST_OK);
	ck_assert_uint_eq(size, 100);
	ck_assert_int_eq(meta_blob_get(m, "lib/app", d, NULL), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "lib/app", e, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_get(m, "other", d, &size), ST_NOT_FOUND);
	size = 0;
	ck_assert_int_eq(meta_blob_find(m, d, &size), ST_OK);
	ck_assert_uint_eq(size, 100);

	ck_assert_int_eq(meta_blob_link(m, "other", d, 100), ST_OK);
	ck_assert_int_eq(meta_blob_unlink(m, "lib/app", d), ST_OK);
	ck_assert_int_eq(meta_blob_unlink(m, "lib/app", d), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_unlink(m, "nope", d), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_get(m, "lib/app", d, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_find(m, d, &size), ST_OK); /* still in "other" */
	ck_assert_int_eq(meta_blob_unlink(m, "other", d), ST_OK);
	ck_assert_int_eq(meta_blob_find(m, d, &size), ST_NOT_FOUND);
	/* emptied (no tag, manifest or link left): the repository goes too */
	ck_assert_int_eq(meta_repo_exists(m, "lib/app"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_repo_exists(m, "other"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_link(m, "big", e, UINT64_C(5) << 40), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "big", e, &size), ST_OK);
	ck_assert_uint_eq(size, UINT64_C(5) << 40);
}
END_TEST

START_TEST(test_manifest_put_get)
{
	char d[DIGEST_MAX], l1[DIGEST_MAX], l2[DIGEST_MAX], s[DIGEST_MAX];
	const char *refs[] = {dg(l1, '1'), dg(l2, '2')};
	const char *tags[] = {"v1", "latest"};
	meta_manifest man = man_make(dg(d, 'd'), "application/x-thing", dg(s, 'e'));
	meta_manifest got;

	db_open(_i);
	man.annotations = "{\"k\":\"v\"}";
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, refs, 2, tags, 2), ST_OK);
	ck_assert_int_eq(meta_repo_exists(m, "app"), ST_OK);

	memset(&got, 0x55, sizeof(got));
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &got), ST_OK);
	ck_assert_str_eq(got.digest, d);
	ck_assert_str_eq(got.media_type, "application/vnd.oci.image.manifest.v1+json");
	ck_assert_uint_eq(got.size, 1234);
	ck_assert_str_eq(got.artifact_type, "application/x-thing");
	ck_assert_str_eq(got.subject, s);
	ck_assert_ptr_null(got.annotations);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(meta_manifest_get(m, "app", "latest", &got), ST_OK);
	ck_assert_str_eq(got.digest, d);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &got), ST_OK);
	ck_assert_str_eq(got.digest, d);
	ck_assert_uint_eq(got.size, 1234);

	ck_assert_int_eq(meta_manifest_get(m, "app", "v2", &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", l1, &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "other", "v1", &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "other", d, &got), ST_NOT_FOUND);
	/* A tag that looks like a digest is looked up as a digest. */
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1:x", &got), ST_NOT_FOUND);

	ck_assert_int_eq(raw_int("SELECT count(*) FROM manifest_refs"), 2);
	ck_assert_int_eq(
	    raw_int("SELECT count(*) FROM manifests WHERE annotations = '{\"k\":\"v\"}'"), 1);
}
END_TEST

START_TEST(test_manifest_without_tags_or_subject)
{
	char d[DIGEST_MAX];
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	meta_manifest got;

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &got), ST_OK);
	ck_assert_str_eq(got.artifact_type, "");
	ck_assert_str_eq(got.subject, "");
	ck_assert_int_eq(raw_int("SELECT count(*) FROM manifests WHERE annotations IS NULL"), 1);
}
END_TEST

START_TEST(test_retag)
{
	char d1[DIGEST_MAX], d2[DIGEST_MAX], r[DIGEST_MAX];
	const char *latest[] = {"latest"};
	const char *v1[] = {"v1"};
	const char *refs[] = {dg(r, 'r')};
	meta_manifest m1 = man_make(dg(d1, '1'), "", "");
	meta_manifest m2 = man_make(dg(d2, '2'), "", "");
	meta_manifest got;

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &m1, refs, 1, latest, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &m2, NULL, 0, latest, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "latest", &got), ST_OK);
	ck_assert_str_eq(got.digest, d2);
	ck_assert_int_eq(meta_manifest_get(m, "app", d1, &got), ST_OK); /* untagged, kept */

	/* Re-putting d1 changes only the tags, not the stored record. */
	snprintf(m1.media_type, sizeof(m1.media_type), "changed");
	m1.size = 1;
	ck_assert_int_eq(meta_manifest_put(m, "app", &m1, refs, 1, v1, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &got), ST_OK);
	ck_assert_str_eq(got.digest, d1);
	ck_assert_str_eq(got.media_type, "application/vnd.oci.image.manifest.v1+json");
	ck_assert_uint_eq(got.size, 1234);
	ck_assert_int_eq(meta_manifest_get(m, "app", "latest", &got), ST_OK);
	ck_assert_str_eq(got.digest, d2);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM manifest_refs"), 1);

	/* The same manifest in another repository is a separate record. */
	ck_assert_int_eq(meta_manifest_put(m, "app2", &m1, NULL, 0, latest, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app2", "latest", &got), ST_OK);
	ck_assert_str_eq(got.digest, d1);
	ck_assert_int_eq(meta_manifest_get(m, "app", "latest", &got), ST_OK);
	ck_assert_str_eq(got.digest, d2);
}
END_TEST

START_TEST(test_manifest_delete_removes_tags)
{
	char d1[DIGEST_MAX], d2[DIGEST_MAX], r1[DIGEST_MAX], r2[DIGEST_MAX];
	const char *tags1[] = {"a", "b"};
	const char *tags2[] = {"c"};
	const char *refs[] = {dg(r1, 'x'), dg(r2, 'y')};
	meta_manifest m1 = man_make(dg(d1, '1'), "", "");
	meta_manifest m2 = man_make(dg(d2, '2'), "", "");
	meta_manifest got;
	names l = {0};
	static const char *const only_c[] = {"c"};

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &m1, refs, 2, tags1, 2), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &m2, refs, 1, tags2, 1), ST_OK);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM manifest_refs"), 3);

	ck_assert_int_eq(meta_manifest_delete(m, "app", d1), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", d1, &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", "a", &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", "b", &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", "c", &got), ST_OK);
	ck_assert_int_eq(meta_tag_list(m, "app", NULL, 0, collect_name, &l, NULL), ST_OK);
	assert_names(&l, 1, only_c);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM manifest_refs"), 1);

	ck_assert_int_eq(meta_manifest_delete(m, "app", d1), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_delete(m, "nope", d2), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", d2, &got), ST_OK);
	/* Deleted, it can come back. */
	ck_assert_int_eq(meta_manifest_put(m, "app", &m1, refs, 2, tags1, 2), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "a", &got), ST_OK);
}
END_TEST

START_TEST(test_tag_delete)
{
	char d[DIGEST_MAX];
	const char *tags[] = {"v1", "v2"};
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	meta_manifest got;

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 2), ST_OK);
	ck_assert_int_eq(meta_tag_delete(m, "app", "v1"), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &got), ST_NOT_FOUND);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v2", &got), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &got), ST_OK);
	ck_assert_int_eq(meta_tag_delete(m, "app", "v1"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_tag_delete(m, "nope", "v2"), ST_NOT_FOUND);
}
END_TEST

START_TEST(test_tag_list_pagination)
{
	char d[DIGEST_MAX];
	/* Put in an order that is not the lexical one. */
	const char *tags[] = {"t3", "t1", "t5", "T0", "t2", "t4"};
	static const char *const all[] = {"T0", "t1", "t2", "t3", "t4", "t5"};
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	names l;
	bool more;

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 6), ST_OK);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", NULL, 2, collect_name, &l, &more), ST_OK);
	assert_names(&l, 2, all);
	ck_assert(more);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", "t1", 2, collect_name, &l, &more), ST_OK);
	assert_names(&l, 2, all + 2);
	ck_assert(more);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", "t3", 2, collect_name, &l, &more), ST_OK);
	assert_names(&l, 2, all + 4);
	ck_assert(!more); /* exactly n left: no more */

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", "t5", 2, collect_name, &l, &more), ST_OK);
	ck_assert_int_eq(l.n, 0);
	ck_assert(!more);

	/* last need not be a tag that exists. */
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", "t25", 10, collect_name, &l, &more), ST_OK);
	assert_names(&l, 3, all + 3);
	ck_assert(!more);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", "", 0, collect_name, &l, &more), ST_OK);
	assert_names(&l, 6, all);
	ck_assert(!more);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", NULL, -1, collect_name, &l, NULL), ST_OK);
	assert_names(&l, 6, all);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "app", NULL, 6, collect_name, &l, &more), ST_OK);
	assert_names(&l, 6, all);
	ck_assert(!more);

	/* The callback stops early: more says whether names remain. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 3;
	ck_assert_int_eq(meta_tag_list(m, "app", NULL, 0, collect_name, &l, &more), ST_OK);
	assert_names(&l, 3, all);
	ck_assert(more);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	ck_assert_int_eq(meta_tag_list(m, "app", "t4", 0, collect_name, &l, &more), ST_OK);
	assert_names(&l, 1, all + 5);
	ck_assert(!more);

	more = true;
	ck_assert_int_eq(meta_tag_list(m, "nope", NULL, 0, collect_name, &l, &more), ST_NOT_FOUND);
	/* A repository with blobs but no tags lists nothing, successfully. */
	ck_assert_int_eq(meta_blob_link(m, "empty", d, 1), ST_OK);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_tag_list(m, "empty", NULL, 0, collect_name, &l, &more), ST_OK);
	ck_assert_int_eq(l.n, 0);
	ck_assert(!more);
}
END_TEST

START_TEST(test_repo_list)
{
	char d[DIGEST_MAX];
	static const char *const all[] = {"a", "a/b", "b", "c"};
	names l;
	bool more;

	db_open(_i);
	dg(d, 'd');
	ck_assert_int_eq(meta_blob_link(m, "c", d, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "a/b", d, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "b", d, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "a", d, 1), ST_OK);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_repo_list(m, NULL, 3, collect_name, &l, &more), ST_OK);
	assert_names(&l, 3, all);
	ck_assert(more);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_repo_list(m, "b", 3, collect_name, &l, &more), ST_OK);
	assert_names(&l, 1, all + 3);
	ck_assert(!more);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_repo_list(m, "", 0, collect_name, &l, &more), ST_OK);
	assert_names(&l, 4, all);
	ck_assert(!more);
}
END_TEST

/* Collected referrers. */
typedef struct {
	meta_manifest got[8];
	char annotations[8][64];
	int n;
	int stop_after;
} refs_seen;

static int collect_referrer(void *arg, const meta_manifest *man)
{
	refs_seen *r = arg;

	r->got[r->n] = *man;
	snprintf(r->annotations[r->n], sizeof(r->annotations[0]), "%s",
		 man->annotations ? man->annotations : "(null)");
	r->got[r->n].annotations = NULL; /* only valid during the call */
	r->n++;
	return r->stop_after > 0 && r->n >= r->stop_after;
}

START_TEST(test_referrers)
{
	char subj[DIGEST_MAX], other[DIGEST_MAX], d1[DIGEST_MAX], d2[DIGEST_MAX], d3[DIGEST_MAX],
	    d4[DIGEST_MAX];
	meta_manifest sig = man_make(dg(d3, '3'), "application/sig", dg(subj, 's'));
	meta_manifest sbom = man_make(dg(d1, '1'), "application/sbom", subj);
	meta_manifest sig2 = man_make(dg(d2, '2'), "application/sig", subj);
	meta_manifest unrelated = man_make(dg(d4, '4'), "application/sig", dg(other, 'o'));
	refs_seen r;

	db_open(_i);
	sig.annotations = "{\"org.example\":\"yes\"}";
	/* Put out of digest order; the listing is in digest order. */
	ck_assert_int_eq(meta_manifest_put(m, "app", &sig, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &sbom, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &sig2, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &unrelated, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app2", &sig2, NULL, 0, NULL, 0), ST_OK);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_referrers(m, "app", subj, NULL, collect_referrer, &r), ST_OK);
	ck_assert_int_eq(r.n, 3);
	ck_assert_str_eq(r.got[0].digest, d1);
	ck_assert_str_eq(r.got[0].artifact_type, "application/sbom");
	ck_assert_str_eq(r.annotations[0], "(null)");
	ck_assert_str_eq(r.got[1].digest, d2);
	ck_assert_str_eq(r.got[2].digest, d3);
	ck_assert_str_eq(r.got[2].subject, subj);
	ck_assert_str_eq(r.got[2].media_type, "application/vnd.oci.image.manifest.v1+json");
	ck_assert_uint_eq(r.got[2].size, 1234);
	ck_assert_str_eq(r.annotations[2], "{\"org.example\":\"yes\"}");

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_referrers(m, "app", subj, "application/sig", collect_referrer, &r),
			 ST_OK);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.got[0].digest, d2);
	ck_assert_str_eq(r.got[1].digest, d3);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_referrers(m, "app", subj, "application/none", collect_referrer, &r),
			 ST_OK);
	ck_assert_int_eq(r.n, 0);

	memset(&r, 0, sizeof(r));
	r.stop_after = 1;
	ck_assert_int_eq(meta_referrers(m, "app", subj, NULL, collect_referrer, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_referrers(m, "app2", subj, NULL, collect_referrer, &r), ST_OK);
	ck_assert_int_eq(r.n, 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(meta_referrers(m, "nope", subj, NULL, collect_referrer, &r), ST_OK);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(meta_referrers(m, "app", d4, NULL, collect_referrer, &r), ST_OK);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

typedef struct {
	char ids[8][65];
	int n;
} ids_seen;

static void collect_id(void *arg, const char *id)
{
	ids_seen *s = arg;

	if (s->n < 8)
		snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
}

START_TEST(test_uploads)
{
	db_open(_i);
	meta_upload u;
	ids_seen s;
	time_t now = time(NULL);

	ck_assert_int_eq(meta_upload_create(m, "u1", "lib/app", DIGEST_SHA512), ST_OK);
	ck_assert_int_eq(meta_upload_create(m, "u1", "other", DIGEST_SHA256), ST_EXISTS);
	ck_assert_int_eq(meta_upload_create(m, "u2", "app", DIGEST_SHA256), ST_OK);

	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(meta_upload_get(m, "u1", &u), ST_OK);
	ck_assert_str_eq(u.id, "u1");
	ck_assert_str_eq(u.repo, "lib/app");
	ck_assert_int_eq(u.alg, DIGEST_SHA512);
	ck_assert(u.created >= now - 5 && u.created <= now + 5);
	ck_assert(u.updated == u.created);
	ck_assert_int_eq(meta_upload_get(m, "u2", &u), ST_OK);
	ck_assert_int_eq(u.alg, DIGEST_SHA256);
	ck_assert_int_eq(meta_upload_get(m, "u3", &u), ST_NOT_FOUND);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(meta_upload_list_stale(m, now + 60, collect_id, &s), ST_OK);
	ck_assert_int_eq(s.n, 2);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(meta_upload_list_stale(m, now - 60, collect_id, &s), ST_OK);
	ck_assert_int_eq(s.n, 0);

	/* Idle for an hour: stale, until touched. */
	raw_exec("UPDATE uploads SET updated = updated - 3600 WHERE id = 'u1'");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(meta_upload_list_stale(m, now - 60, collect_id, &s), ST_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.ids[0], "u1");
	ck_assert_int_eq(meta_upload_touch(m, "u1"), ST_OK);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(meta_upload_list_stale(m, now - 60, collect_id, &s), ST_OK);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(meta_upload_get(m, "u1", &u), ST_OK);
	ck_assert(u.updated >= now);
	ck_assert_int_eq(meta_upload_touch(m, "u3"), ST_NOT_FOUND);

	ck_assert_int_eq(meta_upload_delete(m, "u1"), ST_OK);
	ck_assert_int_eq(meta_upload_delete(m, "u1"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_upload_get(m, "u1", &u), ST_NOT_FOUND);
	ck_assert_int_eq(meta_upload_get(m, "u2", &u), ST_OK);
}
END_TEST

/* What the index holds, each digest once; and the readiness ping, which
 * changes nothing. */
START_TEST(test_stats_and_ping)
{
	char x[DIGEST_MAX], y[DIGEST_MAX], d[DIGEST_MAX];
	const char *tags[] = {"v1", "latest"};
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	meta_stats ms;

	db_open(_i);
	memset(&ms, 0x55, sizeof(ms));
	ck_assert_int_eq(meta_stats_get(m, &ms), ST_OK);
	ck_assert_uint_eq(
	    ms.repos + ms.manifests + ms.tags + ms.blobs + ms.stored_bytes + ms.uploads, 0);
	ck_assert_int_eq(meta_blob_link(m, "a", dg(x, 'x'), 100), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "b", x, 100), ST_OK); /* stored once */
	ck_assert_int_eq(meta_blob_link(m, "a", dg(y, 'y'), 50), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "a", &man, NULL, 0, tags, 2), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "b", &man, NULL, 0, tags, 1), ST_OK);
	ck_assert_int_eq(meta_upload_create(m, "u1", "a", DIGEST_SHA256), ST_OK);
	ck_assert_int_eq(meta_stats_get(m, &ms), ST_OK);
	ck_assert_uint_eq(ms.repos, 2);
	ck_assert_uint_eq(ms.manifests, 1);
	ck_assert_uint_eq(ms.tags, 3);
	ck_assert_uint_eq(ms.blobs, 2);
	ck_assert_uint_eq(ms.stored_bytes, 100 + 50 + 1234);
	ck_assert_uint_eq(ms.uploads, 1);

	ck_assert_int_eq(meta_ping(m), ST_OK);
	ck_assert_int_eq(meta_ping(m), ST_OK); /* no transaction left open */
	ck_assert_int_eq(meta_stats_get(m, &ms), ST_OK);
	ck_assert_uint_eq(ms.repos, 2);
	ck_assert_int_eq(meta_upload_delete(m, "u1"), ST_OK); /* still writable */
}
END_TEST

START_TEST(test_invalid_input)
{
	char longname[META_NAME_MAX + 8], d[DIGEST_MAX], longtag[META_TAG_MAX + 1];
	const char *tags[] = {longtag};
	const char *empty[] = {""};
	meta_manifest man = man_make(dg(d, 'd'), "", "");

	db_open(_i);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memset(longtag, 't', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	ck_assert_int_eq(meta_blob_link(m, longname, d, 1), ST_INVALID);
	ck_assert_int_eq(meta_blob_link(m, "app", d, UINT64_MAX), ST_INVALID);
	ck_assert_int_eq(meta_manifest_put(m, longname, &man, NULL, 0, NULL, 0), ST_INVALID);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_INVALID);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, empty, 1), ST_INVALID);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 1, NULL, 0), ST_INVALID);
	ck_assert_int_eq(meta_upload_create(m, longname, "app", DIGEST_SHA256), ST_INVALID);
	ck_assert_int_eq(meta_upload_create(m, "", "app", DIGEST_SHA256), ST_INVALID);
	ck_assert_int_eq(meta_upload_create(m, "u", longname, DIGEST_SHA256), ST_INVALID);
	/* Nothing of it was written. */
	ck_assert_int_eq(meta_repo_exists(m, "app"), ST_NOT_FOUND);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM uploads"), 0);
	meta_close(NULL);
}
END_TEST

static int collect_backed(void *arg, const char *d, uint64_t size)
{
	names *l = arg;

	ck_assert_int_lt(l->n, 16);
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", d);
	return l->stop_after > 0 && l->n >= l->stop_after;
}

/* meta_backup: a copy another connection opens, with the manifests, tags and
 * links, without upload sessions; never over an existing file. meta_digests:
 * every referenced digest once, in order, stopping when asked. */
START_TEST(test_backup_and_digests)
{
	char d1[DIGEST_MAX], d2[DIGEST_MAX], b[DIGEST_MAX], copy_at[256];
	const char *tags[] = {"v1"};
	const char *refs[1];
	meta_manifest man1 = man_make(dg(d1, '1'), "", ""), man2 = man_make(dg(d2, '2'), "", "");
	meta_manifest got;
	meta_upload u;
	meta *copy = NULL;
	names l = {0};
	uint64_t size = 0;

	db_open(_i);
	refs[0] = dg(b, 'b');
	ck_assert_int_eq(meta_blob_link(m, "app", b, 42), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "other", b, 42), ST_OK); /* listed once */
	ck_assert_int_eq(meta_manifest_put(m, "app", &man1, refs, 1, tags, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "other", &man2, NULL, 0, NULL, 0), ST_OK);
	ck_assert_int_eq(meta_upload_create(m, "u1", "app", DIGEST_SHA256), ST_OK);

	ck_assert_int_eq(meta_digests(m, NULL, 0, collect_backed, &l, NULL), ST_OK);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.names[0], d1); /* '1' < '2' < 'b' */
	ck_assert_str_eq(l.names[1], d2);
	ck_assert_str_eq(l.names[2], b);
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	ck_assert_int_eq(meta_digests(m, NULL, 0, collect_backed, &l, NULL), ST_OK);
	ck_assert_int_eq(l.n, 2);

	snprintf(copy_at, sizeof(copy_at), "%s/copy.db", dir);
	if (strcmp(backends[_i].name, "postgres") == 0) {
		/* a server database is backed up by its own tools (pg_dump) */
		ck_assert_int_eq(meta_backup(m, copy_at), ST_UNSUPPORTED);
		ck_assert_int_eq(meta_snapshot(m, &copy), ST_UNSUPPORTED);
		ck_assert_ptr_null(copy);
		return;
	}
	ck_assert_int_eq(meta_backup(m, copy_at), ST_OK);
	ck_assert_int_eq(meta_backup(m, copy_at), ST_EXISTS);
	/* writes after the backup are not in it */
	ck_assert_int_eq(meta_blob_link(m, "late", b, 42), ST_OK);
	ck_assert_int_eq(meta_open_backend(&copy, backends[_i].name, copy_at), ST_OK);
	ck_assert_int_eq(meta_manifest_get(copy, "app", "v1", &got), ST_OK);
	ck_assert_str_eq(got.digest, d1);
	ck_assert_int_eq(meta_manifest_get(copy, "other", d2, &got), ST_OK);
	ck_assert_int_eq(meta_blob_get(copy, "other", b, &size), ST_OK);
	ck_assert_uint_eq(size, 42);
	ck_assert_int_eq(meta_repo_exists(copy, "late"), ST_NOT_FOUND);
	ck_assert_int_eq(meta_upload_get(copy, "u1", &u), ST_NOT_FOUND);
	/* the source keeps its session */
	ck_assert_int_eq(meta_upload_get(m, "u1", &u), ST_OK);
	meta_close(copy);
}
END_TEST

START_TEST(test_reopen_keeps_data)
{
	char d[DIGEST_MAX], b[DIGEST_MAX];
	const char *tags[] = {"v1"};
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	meta_manifest got;
	meta_upload u;
	uint64_t size = 0;

	db_open(_i);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, NULL, 0, tags, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "app", dg(b, 'b'), 42), ST_OK);
	ck_assert_int_eq(meta_upload_create(m, "u1", "app", DIGEST_SHA256), ST_OK);
	meta_close(m);
	m = NULL;

	ck_assert_int_eq(db_connect(&m), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", "v1", &got), ST_OK);
	ck_assert_str_eq(got.digest, d);
	ck_assert_int_eq(meta_blob_get(m, "app", b, &size), ST_OK);
	ck_assert_uint_eq(size, 42);
	ck_assert_int_eq(meta_upload_get(m, "u1", &u), ST_OK);
}
END_TEST

typedef struct {
	meta_du_row r[8];
	int n;
} du_rows;

static int du_collect(void *arg, const meta_du_row *r)
{
	du_rows *l = arg;

	if (l->n < 8)
		l->r[l->n++] = *r;
	return 0;
}

typedef struct {
	char d[8][DIGEST_MAX];
	int n;
} digs;

static int collect_digest(void *arg, const char *digest, uint64_t size)
{
	digs *l = arg;

	if (l->n < 8)
		snprintf(l->d[l->n++], DIGEST_MAX, "%s", digest);
	return 0;
}

static int collect_user(void *arg, const char *repo, const char *manifest)
{
	return collect_name(arg, repo);
}

static int collect_quarantined(void *arg, const char *digest, time_t at, const char *reason)
{
	return collect_name(arg, digest);
}

/* ---- storage lifecycle: write transactions, usage, records ---- */

static bool match_team(void *arg, const char *repo)
{
	return strncmp(repo, "team/", 5) == 0;
}

START_TEST(test_write_tx)
{
	char a[DIGEST_MAX], b[DIGEST_MAX];
	meta *other = NULL;
	uint64_t size;

	db_open(_i);
	ck_assert_int_eq(meta_write_end(m, true), ST_INVALID); /* none open */
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_write_begin(m), ST_INVALID); /* one at a time */
	ck_assert_int_eq(meta_blob_link(m, "team/a", dg(a, 'a'), 10), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "team/a", a, &size), ST_OK); /* sees its own */
	ck_assert_int_eq(db_connect(&other), ST_OK);
	ck_assert_int_eq(meta_blob_get(other, "team/a", a, NULL), ST_NOT_FOUND); /* not yet */
	ck_assert_int_eq(meta_write_end(m, false), ST_OK);			 /* rolled back */
	ck_assert_int_eq(meta_blob_get(m, "team/a", a, NULL), ST_NOT_FOUND);
	ck_assert_int_eq(meta_repo_exists(m, "team/a"), ST_NOT_FOUND);
	/* committed: all of it; a failed part undoes only itself */
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "team/a", a, 10), ST_OK);
	ck_assert_int_eq(meta_manifest_delete(m, "team/a", dg(b, 'b')), ST_NOT_FOUND);
	ck_assert_int_eq(meta_blob_link(m, "team/b", b, 20), ST_OK);
	ck_assert_int_eq(meta_write_end(m, true), ST_OK);
	ck_assert_int_eq(meta_blob_get(other, "team/a", a, NULL), ST_OK);
	ck_assert_int_eq(meta_blob_get(other, "team/b", b, NULL), ST_OK);
	meta_close(other);
}
END_TEST

/* A second writer's meta_write_begin, on its own thread. */
typedef struct {
	meta *m;
	status_t st;
	uint64_t bytes; /* what its usage saw, once it got the lock */
	volatile int done;
} writer_arg;

static void *second_writer(void *p)
{
	writer_arg *w = p;

	w->st = meta_write_begin(w->m);
	if (w->st == ST_OK) {
		meta_usage(w->m, match_team, NULL, NULL, &w->bytes, NULL);
		meta_write_end(w->m, false);
	}
	w->done = 1;
	return NULL;
}

START_TEST(test_write_tx_serialises)
{
	char a[DIGEST_MAX];
	writer_arg w = {0};
	pthread_t t;
	uint64_t bytes;

	db_open(_i);
	ck_assert_int_eq(db_connect(&w.m), ST_OK);
	/* A quota's check and link: the lock is held from the begin, so a
	 * second check waits, and then sees the first one's bytes. */
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_usage(m, match_team, NULL, NULL, &bytes, NULL), ST_OK);
	ck_assert_uint_eq(bytes, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, second_writer, &w), 0);
	usleep(300 * 1000);
	ck_assert_msg(!w.done, "a second write transaction began while the first was open");
	ck_assert_int_eq(meta_blob_link(m, "team/a", dg(a, 'a'), 10), ST_OK);
	ck_assert_int_eq(meta_write_end(m, true), ST_OK);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.st, ST_OK);
	ck_assert_uint_eq(w.bytes, 10);
	meta_close(w.m);
}
END_TEST

START_TEST(test_usage_and_du)
{
	char a[DIGEST_MAX], b[DIGEST_MAX], c[DIGEST_MAX], d[DIGEST_MAX], x[DIGEST_MAX];
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	const char *refs[] = {a}, *tags[] = {"v1", "v2"};
	uint64_t bytes;
	bool has;

	db_open(_i);
	/* team/a: a (100, shared with team/b) and b (20) and manifest d (1234)
	 * tagged v1, v2; team/b: a; solo: a and c (7) */
	ck_assert_int_eq(meta_blob_link(m, "team/a", dg(a, 'a'), 100), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "team/a", dg(b, 'b'), 20), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "team/a", &man, refs, 1, tags, 2), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "team/b", a, 100), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "solo", a, 100), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "solo", dg(c, 'c'), 7), ST_OK);

	ck_assert_int_eq(meta_usage(m, match_team, NULL, a, &bytes, &has), ST_OK);
	ck_assert_uint_eq(bytes, 100 + 20 + 1234); /* a once, though two hold it */
	ck_assert(has);
	ck_assert_int_eq(meta_usage(m, match_team, NULL, c, &bytes, &has), ST_OK);
	ck_assert(!has); /* only solo holds c */
	ck_assert_int_eq(meta_usage(m, match_team, NULL, dg(x, 'x'), &bytes, NULL), ST_OK);

	du_rows got = {0};
	ck_assert_int_eq(meta_du(m, false, du_collect, &got), ST_OK);
	ck_assert_int_eq(got.n, 3);
	ck_assert_str_eq(got.r[0].name, "solo");
	ck_assert_uint_eq(got.r[0].referenced, 107);
	ck_assert_uint_eq(got.r[0].unique, 7);
	ck_assert_str_eq(got.r[1].name, "team/a");
	ck_assert_uint_eq(got.r[1].referenced, 1354);
	ck_assert_uint_eq(got.r[1].unique, 1254);
	ck_assert_uint_eq(got.r[1].tags, 2);
	ck_assert_uint_eq(got.r[1].manifests, 1);
	ck_assert_int_ne(got.r[1].last_push, 0);
	ck_assert_int_eq(got.r[1].last_pull, 0);
	ck_assert_str_eq(got.r[2].name, "team/b");
	ck_assert_uint_eq(got.r[2].unique, 0);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(meta_du(m, true, du_collect, &got), ST_OK);
	ck_assert_int_eq(got.n, 1); /* solo has no namespace */
	ck_assert_str_eq(got.r[0].name, "team");
	ck_assert_uint_eq(got.r[0].referenced, 1354);
	ck_assert_uint_eq(got.r[0].unique, 1254); /* a is solo's too */
	ck_assert_uint_eq(got.r[0].tags, 2);
}
END_TEST

START_TEST(test_push_and_pull_records)
{
	char a[DIGEST_MAX], d[DIGEST_MAX], e[DIGEST_MAX];
	meta_manifest man = man_make(dg(d, 'd'), "", ""), got;
	const char *refs[] = {dg(a, 'a')}, *tags[] = {"v1"};
	meta_pull p[] = {{"app", d, "v1", 1000, 3},
			 {"app", d, NULL, 2000, 2},
			 {"app", dg(e, 'e'), "v1", 3000, 1},
			 {"gone", d, "v1", 4000, 1}};
	meta_tag t;

	db_open(_i);
	snprintf(man.pushed_by, sizeof(man.pushed_by), "alice");
	ck_assert_int_eq(meta_blob_link(m, "app", a, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, refs, 1, tags, 1), ST_OK);
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_str_eq(t.digest, d);
	ck_assert_str_eq(t.pushed_by, "alice");
	ck_assert_int_ne(t.pushed, 0);
	ck_assert_int_eq(meta_tag_get(m, "app", "v2", &t), ST_NOT_FOUND);
	ck_assert_int_eq(meta_pulls_add(m, p, 4), ST_OK); /* e and "gone": skipped */
	ck_assert_int_eq(meta_pulls_add(m, p, 0), ST_OK);
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &got), ST_OK);
	ck_assert_uint_eq(got.pulls, 5);
	ck_assert_int_eq(got.last_pull, 2000);
	ck_assert_str_eq(got.pushed_by, "alice");
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_uint_eq(t.pulls, 3); /* by the tag only */
	ck_assert_int_eq(t.last_pull, 1000);
	/* an earlier time does not move the last pull back */
	p[0].when = 10;
	ck_assert_int_eq(meta_pulls_add(m, p, 1), ST_OK);
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_int_eq(t.last_pull, 1000);
	ck_assert_uint_eq(t.pulls, 6);
	/* a re-push by someone else records them on the tag */
	snprintf(man.pushed_by, sizeof(man.pushed_by), "bob");
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, refs, 1, tags, 1), ST_OK);
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_str_eq(t.pushed_by, "bob");
}
END_TEST

START_TEST(test_digests_and_quarantine)
{
	char a[DIGEST_MAX], b[DIGEST_MAX], d[DIGEST_MAX];
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	const char *refs[] = {dg(a, 'a')};
	names users = {0};
	bool more;

	db_open(_i);
	ck_assert_int_eq(meta_blob_link(m, "x", a, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "y", a, 1), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "y", dg(b, 'b'), 2), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "x", &man, refs, 1, NULL, 0), ST_OK);
	/* every digest once, in order, paged */
	digs got = {0};
	ck_assert_int_eq(meta_digests(m, NULL, 2, collect_digest, &got, &more), ST_OK);
	ck_assert_int_eq(got.n, 2);
	ck_assert(more);
	ck_assert_str_eq(got.d[0], a);
	ck_assert_str_eq(got.d[1], b);
	ck_assert_int_eq(meta_digests(m, b, 2, collect_digest, &got, &more), ST_OK);
	ck_assert_int_eq(got.n, 3);
	ck_assert(!more);
	ck_assert_str_eq(got.d[2], d);
	ck_assert_int_eq(meta_digest_users(m, a, collect_user, &users), ST_OK);
	ck_assert_int_eq(users.n, 1);
	ck_assert_str_eq(users.names[0], "x");
	/* quarantined until linked again */
	ck_assert_int_eq(meta_quarantine_add(m, a, "content does not match"), ST_OK);
	ck_assert_int_eq(meta_quarantine_add(m, NULL, "x"), ST_INVALID);
	memset(&users, 0, sizeof(users));
	ck_assert_int_eq(meta_quarantine_list(m, collect_quarantined, &users), ST_OK);
	ck_assert_int_eq(users.n, 1);
	ck_assert_str_eq(users.names[0], a);
	ck_assert_int_eq(meta_blob_link(m, "z", a, 1), ST_OK);
	memset(&users, 0, sizeof(users));
	ck_assert_int_eq(meta_quarantine_list(m, collect_quarantined, &users), ST_OK);
	ck_assert_int_eq(users.n, 0);
}
END_TEST

/* meta_tag_page's rows, as "NAME" strings. */
static int collect_tag_row(void *arg, const meta_tag_row *r)
{
	names *l = arg;

	ck_assert_uint_eq(r->size, 1234);
	ck_assert_str_eq(r->media_type, "application/vnd.oci.image.manifest.v1+json");
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", r->t.name);
	return 0;
}

START_TEST(test_browse)
{
	char a[DIGEST_MAX], d[DIGEST_MAX];
	meta_manifest man = man_make(dg(d, 'd'), "", "");
	const char *refs[] = {dg(a, 'a')}, *tags[] = {"t1", "t2", "t3", "t4"};
	meta_repo_summary sum;
	names l = {0};
	bool more;

	db_open(_i);
	ck_assert_int_eq(meta_blob_link(m, "app", a, 1), ST_OK);
	ck_assert_int_eq(meta_manifest_put(m, "app", &man, refs, 1, tags, 4), ST_OK);
	raw_exec("UPDATE tags SET pushed = CASE name WHEN 't1' THEN 100 WHEN 't2' THEN 300"
		 " WHEN 't3' THEN 200 ELSE 300 END");
	/* by name, two at a time */
	ck_assert_int_eq(meta_tag_page(m, "app", false, 0, "", 2, collect_tag_row, &l, &more),
			 ST_OK);
	assert_names(&l, 2, (const char *const[]){"t1", "t2"});
	ck_assert(more);
	l.n = 0;
	ck_assert_int_eq(meta_tag_page(m, "app", false, 0, "t2", 2, collect_tag_row, &l, &more),
			 ST_OK);
	assert_names(&l, 2, (const char *const[]){"t3", "t4"});
	ck_assert(!more);
	/* newest push first, ties by name descending, keyset on both */
	l.n = 0;
	ck_assert_int_eq(
	    meta_tag_page(m, "app", true, INT64_MAX, "", 2, collect_tag_row, &l, &more), ST_OK);
	assert_names(&l, 2, (const char *const[]){"t4", "t2"});
	ck_assert(more);
	l.n = 0;
	ck_assert_int_eq(meta_tag_page(m, "app", true, 300, "t2", 2, collect_tag_row, &l, &more),
			 ST_OK);
	assert_names(&l, 2, (const char *const[]){"t3", "t1"});
	ck_assert(!more);
	/* a repository that does not exist: no rows, no error */
	l.n = 0;
	ck_assert_int_eq(meta_tag_page(m, "nope", false, 0, "", 2, collect_tag_row, &l, &more),
			 ST_OK);
	ck_assert_int_eq(l.n, 0);
	/* the summary: its tags, each digest once, the last push */
	ck_assert_int_eq(meta_repo_summary_get(m, "app", &sum), ST_OK);
	ck_assert_uint_eq(sum.tags, 4);
	ck_assert_uint_eq(sum.bytes, 1 + 1234);
	ck_assert_int_ge(sum.last_push, 300);
	ck_assert_int_eq(sum.last_pull, 0);
	ck_assert_int_eq(meta_repo_summary_get(m, "nope", &sum), ST_NOT_FOUND);
	/* the pushed-order page reads the index made for it */
	ck_assert_int_eq(
	    raw_int(strcmp(backends[_i].name, "sqlite") == 0
			? "SELECT count(*) FROM sqlite_master WHERE name = 'tags_pushed'"
			: "SELECT count(*) FROM pg_indexes WHERE indexname = 'tags_pushed'"),
	    1);
}
END_TEST

START_TEST(test_pragmas)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	/* journal_mode is a property of the file: WAL, whoever asks. */
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* the schema version this code made, kept across a reopen */
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 5);
	meta_close(m);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 5);
}
END_TEST

/* Version 1's schema, as registries before the storage lifecycle made it
 * (frozen: meta_sqlite.c's schema_sql of that version). */
static const char schema_v1[] =
    "CREATE TABLE repos (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE repo_blobs (repo_id INTEGER NOT NULL REFERENCES repos(id), digest TEXT NOT "
    "NULL, size INTEGER NOT NULL, PRIMARY KEY (repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE manifests (repo_id INTEGER NOT NULL REFERENCES repos(id), digest TEXT NOT "
    "NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, artifact_type TEXT NOT NULL "
    "DEFAULT '', subject TEXT NOT NULL DEFAULT '', annotations TEXT, created INTEGER NOT NULL, "
    "PRIMARY KEY (repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject, digest);"
    "CREATE TABLE manifest_refs (repo_id INTEGER NOT NULL, manifest TEXT NOT NULL, ref TEXT NOT "
    "NULL, PRIMARY KEY (repo_id, manifest, ref), FOREIGN KEY (repo_id, manifest) REFERENCES "
    "manifests(repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX manifest_refs_ref ON manifest_refs(ref);"
    "CREATE TABLE tags (repo_id INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, "
    "PRIMARY KEY (repo_id, name), FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, "
    "digest)) WITHOUT ROWID;"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE uploads (id TEXT PRIMARY KEY, repo TEXT NOT NULL, alg TEXT NOT NULL, created "
    "INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX uploads_updated ON uploads(updated);"
    "INSERT INTO repos(id, name) VALUES (1, 'app');"
    "INSERT INTO manifests VALUES (1, 'sha256:"
    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 'application/"
    "vnd.oci.image.manifest.v1+json', 10, '', '', NULL, 1234);"
    "INSERT INTO tags VALUES (1, 'v1', 'sha256:"
    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd');"
    "PRAGMA user_version = 1;";

START_TEST(test_migrate_from_v1)
{
	char d[DIGEST_MAX];
	meta_manifest man;
	meta_tag t;

	meta_close(m);
	m = NULL;
	unlink(db_path);
	sqlite_raw_exec_create(schema_v1);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	/* every step: the records (2), the event queue (3), the blob rows (4) */
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 5);
	ck_assert_int_eq(sqlite_raw_int("SELECT count(*) FROM events"), 0);
	ck_assert_int_eq(sqlite_raw_int("SELECT count(*) FROM blobs"),
			 sqlite_raw_int("SELECT count(DISTINCT digest) FROM (SELECT digest FROM "
					"repo_blobs UNION SELECT digest FROM manifests)"));
	/* what version 1 held is kept, with records that say "unknown" */
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_str_eq(t.digest, dg(d, 'd'));
	ck_assert_int_eq(t.pushed, 0);
	ck_assert_str_eq(t.pushed_by, "");
	ck_assert_uint_eq(t.pulls, 0);
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &man), ST_OK);
	ck_assert_int_eq(man.pushed, 1234);
	ck_assert_int_eq(meta_quarantine_add(m, d, "test"), ST_OK);
}
END_TEST

/* Version 2's additions, as the storage lifecycle's registries made them
 * (frozen: meta_sqlite.c's usage_sql), with records in them: version 1's
 * tables and rows first. */
static const char schema_v2[] =
    "ALTER TABLE manifests ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE manifests ADD COLUMN last_pull INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE manifests ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tags ADD COLUMN last_pull INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX manifests_digest ON manifests(digest);"
    "CREATE TABLE quarantine (digest TEXT PRIMARY KEY, at INTEGER NOT NULL, reason TEXT NOT "
    "NULL) WITHOUT ROWID;"
    "UPDATE manifests SET pushed_by = 'alice', last_pull = 2000, pulls = 7;"
    "UPDATE tags SET pushed = 1500, pushed_by = 'alice', last_pull = 2000, pulls = 5;"
    "INSERT INTO quarantine VALUES ('sha256:"
    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 1600, 'scrub');"
    "PRAGMA user_version = 2;";

/* A version-2 database (push and pull records, quarantine) takes the event
 * queue's and the blob rows' steps and keeps every record. */
START_TEST(test_migrate_from_v2)
{
	const meta_event ev[] = {{"http://a/", "app", "{}"}};
	char d[DIGEST_MAX];
	meta_manifest man;
	meta_tag t;
	names q = {0};

	meta_close(m);
	m = NULL;
	unlink(db_path);
	sqlite_raw_exec_create(schema_v1);
	sqlite_raw_exec(schema_v2);
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 5);
	ck_assert_int_eq(meta_tag_get(m, "app", "v1", &t), ST_OK);
	ck_assert_str_eq(t.digest, dg(d, 'd'));
	ck_assert_int_eq(t.pushed, 1500);
	ck_assert_str_eq(t.pushed_by, "alice");
	ck_assert_int_eq(t.last_pull, 2000);
	ck_assert_uint_eq(t.pulls, 5);
	ck_assert_int_eq(meta_manifest_get(m, "app", d, &man), ST_OK);
	ck_assert_int_eq(man.pushed, 1234);
	ck_assert_str_eq(man.pushed_by, "alice");
	ck_assert_uint_eq(man.pulls, 7);
	ck_assert_int_eq(meta_quarantine_list(m, collect_quarantined, &q), ST_OK);
	ck_assert_int_eq(q.n, 1);
	ck_assert_str_eq(q.names[0], dg(d, 'e'));
	/* and the queue is there */
	ck_assert_int_eq(meta_events_add(m, ev, 1), ST_OK);
	ck_assert_int_eq(sqlite_raw_int("SELECT count(*) FROM events"), 1);
	/* opened again: nothing walks twice */
	meta_close(m);
	ck_assert_int_eq(meta_open(&m, db_path), ST_OK);
	ck_assert_int_eq(sqlite_raw_int("PRAGMA user_version"), 5);
	ck_assert_int_eq(sqlite_raw_int("SELECT count(*) FROM events"), 1);
}
END_TEST

START_TEST(test_open_misuse)
{
	meta *x = (meta *)1;
	char p[192];

	snprintf(p, sizeof(p), "%s/no/such/folder/registry.db", dir);
	ck_assert_int_eq(meta_open(&x, p), ST_IO);
	ck_assert_ptr_null(x);
	/* A newer schema than we know is refused, not clobbered. */
	sqlite_raw_exec("PRAGMA user_version = 99");
	ck_assert_int_eq(meta_open(&x, db_path), ST_IO);
	ck_assert_ptr_null(x);
	sqlite_raw_exec("PRAGMA user_version = 1");
}
END_TEST

/* Connections of several threads writing at once: busy_timeout and
 * BEGIN IMMEDIATE make every write succeed. */
typedef struct {
	pthread_t th;
	int index;
	status_t st;
} writer;

static void *write_links(void *arg)
{
	writer *w = arg;
	meta *own = NULL;
	char repo[32], d[DIGEST_MAX];
	status_t st = db_connect(&own);

	snprintf(repo, sizeof(repo), "repo%d", w->index);
	for (int i = 0; st == ST_OK && i < 25; i++) {
		snprintf(d, sizeof(d), "sha256:%064d", i);
		st = meta_blob_link(own, repo, d, (uint64_t)i);
		if (st == ST_OK)
			st = meta_blob_link(own, "shared", d, (uint64_t)i);
	}
	meta_close(own);
	w->st = st;
	return NULL;
}

/* meta_lock_try: on a shared index one connection at a time holds a name,
 * until it unlocks or closes; SQLite grants it always (one machine). */
START_TEST(test_lock_try)
{
	meta *other = NULL;
	bool got = false, shared = strcmp(backends[_i].name, "sqlite") != 0;

	db_open(_i);
	ck_assert_int_eq(db_connect(&other), ST_OK);
	ck_assert_int_eq(meta_lock_try(m, "registry gc", &got), ST_OK);
	ck_assert(got);
	ck_assert_int_eq(meta_lock_try(other, "registry gc", &got), ST_OK);
	ck_assert(got == !shared);
	/* another name is another lock */
	ck_assert_int_eq(meta_lock_try(other, "registry events x", &got), ST_OK);
	ck_assert(got);
	meta_unlock(other, "registry events x");
	meta_unlock(m, "registry gc");
	ck_assert_int_eq(meta_lock_try(other, "registry gc", &got), ST_OK);
	ck_assert(got);
	/* a connection that goes (a replica killed) frees what it held: when
	 * its server process has exited, which PostgreSQL does after the
	 * client has gone (under load, later than the next statement here) */
	meta_close(other);
	got = false;
	for (int i = 0; i < 100 && !got; i++) {
		ck_assert_int_eq(meta_lock_try(m, "registry gc", &got), ST_OK);
		if (!got)
			usleep(50000);
	}
	ck_assert(got);
	meta_unlock(m, "registry gc");
}
END_TEST

/* What a login test's ended/lifted callbacks were told. */
typedef struct {
	int n;
	char addr[META_ADDR_MAX], user[META_NAME_MAX];
	bool known;
} login_told;

static void login_tell(void *arg, const char *addr, const char *user, bool known)
{
	login_told *t = arg;

	t->n++;
	snprintf(t->addr, sizeof(t->addr), "%s", addr);
	snprintf(t->user, sizeof(t->user), "%s", user);
	t->known = known;
}

/* Failed logins (meta.h): counted the same through every connection of a
 * shared index; SQLite keeps none. Times are made-up seconds. */
START_TEST(test_logins)
{
	meta *other = NULL; /* a second replica */
	meta_login a, u, e;
	login_told told = {0};
	char long_addr[META_ADDR_MAX + 1];
	size_t n = 99;

	db_open(_i);
	if (!meta_login_kept(m)) {
		ck_assert_str_eq(backends[_i].name, "sqlite");
		ck_assert_int_eq(meta_login_check(m, "a", "u", 100, &a, &u, NULL, NULL),
				 ST_UNSUPPORTED);
		ck_assert_int_eq(meta_login_fail(m, "a", "u", true, 3, 10, 100, &e),
				 ST_UNSUPPORTED);
		ck_assert_int_eq(meta_login_clear(m, "a", "u"), ST_UNSUPPORTED);
		ck_assert_int_eq(meta_login_unlock(m, "a", NULL, 100, NULL, NULL, &n),
				 ST_UNSUPPORTED);
		ck_assert_uint_eq(n, 0);
		return;
	}
	ck_assert_int_eq(db_connect(&other), ST_OK);
	/* misuse */
	memset(long_addr, 'x', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	ck_assert_int_eq(meta_login_check(m, NULL, "u", 100, &a, &u, NULL, NULL), ST_INVALID);
	ck_assert_int_eq(meta_login_check(m, "", "u", 100, &a, &u, NULL, NULL), ST_INVALID);
	ck_assert_int_eq(meta_login_check(m, long_addr, "u", 100, &a, &u, NULL, NULL), ST_INVALID);
	ck_assert_int_eq(meta_login_fail(m, "a", "u", true, 0, 10, 100, &e), ST_INVALID);
	ck_assert_int_eq(meta_login_clear(m, NULL, "u"), ST_INVALID);
	ck_assert_int_eq(meta_login_unlock(m, NULL, NULL, 100, NULL, NULL, &n), ST_INVALID);
	ck_assert_int_eq(meta_login_check(m, "a", "u", 100, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(a.failures + u.failures, 0);

	/* limit 3 in a window of 10 s, failures through both connections */
	ck_assert_int_eq(meta_login_fail(m, "a", "u", false, 3, 10, 100, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 1);
	ck_assert_int_eq(e.blocked_until, 0);
	ck_assert(!e.known);
	ck_assert_int_eq(meta_login_fail(other, "a", "u", true, 3, 10, 101, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 2);
	ck_assert(e.known); /* or-ed in */
	ck_assert_int_eq(meta_login_check(other, "a", "u", 102, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 2);
	ck_assert_uint_eq(a.failures, 0); /* the address's own row is another */
	ck_assert_int_eq(meta_login_fail(m, "a", "u", false, 3, 10, 103, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 3); /* == limit: this call locked it */
	ck_assert_int_eq(e.blocked_until, 113);
	ck_assert(e.known);
	ck_assert_int_eq(meta_login_fail(other, "a", "u", false, 3, 10, 104, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 4); /* counting on, the lock unchanged */
	ck_assert_int_eq(e.blocked_until, 113);
	/* a success does not clear a lock */
	ck_assert_int_eq(meta_login_clear(m, "a", "u"), ST_OK);
	ck_assert_int_eq(meta_login_check(other, "a", "u", 105, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 4);
	ck_assert_int_eq(u.blocked_until, 113);
	/* the address's own row, and another user's none */
	ck_assert_int_eq(meta_login_fail(m, "a", NULL, false, 2, 10, 105, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 1);
	ck_assert_int_eq(meta_login_check(m, "a", "v", 105, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(a.failures, 1);
	ck_assert_uint_eq(u.failures, 0);
	ck_assert_int_eq(meta_login_check(m, "a", NULL, 105, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(a.failures, 1);
	ck_assert_uint_eq(u.failures, 0);
	/* the lock lapses at 113: told once, to the one connection that swept it */
	ck_assert_int_eq(meta_login_check(m, "a", "u", 113, &a, &u, login_tell, &told), ST_OK);
	ck_assert_uint_eq(u.failures, 0);
	ck_assert_uint_eq(a.failures, 1); /* 105 + 10 > 113 */
	ck_assert_int_eq(told.n, 1);
	ck_assert_str_eq(told.addr, "a");
	ck_assert_str_eq(told.user, "u");
	ck_assert(told.known);
	ck_assert_int_eq(meta_login_check(other, "a", "u", 113, &a, &u, login_tell, &told), ST_OK);
	ck_assert_int_eq(told.n, 1);
	/* an unlocked row that lapsed is swept untold */
	ck_assert_int_eq(meta_login_check(other, "a", "u", 115, &a, &u, login_tell, &told), ST_OK);
	ck_assert_uint_eq(a.failures, 0);
	ck_assert_int_eq(told.n, 1);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM login_failures"), 0);

	/* a success clears an unlocked count, from any connection */
	ck_assert_int_eq(meta_login_fail(m, "b", "w", true, 3, 10, 200, &e), ST_OK);
	ck_assert_int_eq(meta_login_clear(other, "b", "w"), ST_OK);
	ck_assert_int_eq(meta_login_check(m, "b", "w", 201, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 0);
	/* a lapsed row not yet swept starts again at 1 */
	ck_assert_int_eq(meta_login_fail(m, "c", "x", true, 3, 10, 300, &e), ST_OK);
	ck_assert_int_eq(meta_login_fail(m, "c", "x", true, 3, 10, 305, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 2);
	ck_assert_int_eq(meta_login_fail(m, "c", "x", false, 3, 10, 310, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 1);
	ck_assert(!e.known);
	/* limit 1 locks at the first failure */
	ck_assert_int_eq(meta_login_fail(m, "d", "y", true, 1, 10, 400, &e), ST_OK);
	ck_assert_uint_eq(e.failures, 1);
	ck_assert_int_eq(e.blocked_until, 410);

	/* unlock: what started at or before `before`, by user, address or pair */
	ck_assert_int_eq(meta_login_fail(m, "e", "z", true, 1, 100, 500, &e), ST_OK); /* a lock */
	ck_assert_int_eq(meta_login_fail(m, "f", "z", true, 3, 100, 500, &e), ST_OK);
	ck_assert_int_eq(meta_login_fail(m, "e", NULL, false, 3, 100, 500, &e), ST_OK);
	ck_assert_int_eq(meta_login_fail(m, "g", "z", true, 3, 100, 560, &e), ST_OK);
	told.n = 0;
	ck_assert_int_eq(meta_login_unlock(other, NULL, "z", 550, login_tell, &told, &n), ST_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(told.n, 1); /* only the lock is told */
	ck_assert_str_eq(told.addr, "e");
	ck_assert_int_eq(meta_login_check(m, "g", "z", 561, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 1); /* started after: kept */
	ck_assert_int_eq(meta_login_check(m, "e", "z", 561, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 0);
	ck_assert_uint_eq(a.failures, 1); /* a user's unlock leaves the address's */
	ck_assert_int_eq(meta_login_unlock(m, "e", NULL, 600, NULL, NULL, &n), ST_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(meta_login_unlock(m, "g", "y", 600, NULL, NULL, &n), ST_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_login_unlock(m, "g", "z", 600, NULL, NULL, NULL), ST_OK);
	ck_assert_int_eq(meta_login_check(m, "g", "z", 601, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 0);
	meta_close(other);
}
END_TEST

/* A replica's guesser: 25 failures of one key on its own connection,
 * counting the answers that started the lock (failures == limit). */
typedef struct {
	pthread_t th;
	status_t st;
	int locks;
} guesser;

static void *guess(void *arg)
{
	guesser *g = arg;
	meta *own = NULL;
	meta_login e;
	status_t st = db_connect(&own);

	for (int i = 0; st == ST_OK && i < 25; i++) {
		st = meta_login_fail(own, "a", "u", true, 50, 1000, 100, &e);
		if (st == ST_OK && e.failures == 50 && e.blocked_until == 1100)
			g->locks++;
		/* the sweep of another replica's check runs meanwhile */
		if (st == ST_OK && i % 5 == 0)
			st = meta_login_check(own, "b", NULL, 100 + i, &e, &e, NULL, NULL);
	}
	meta_close(own);
	g->st = st;
	return NULL;
}

/* Failures counted at once through four connections: none lost, and
 * exactly one of them saw the lock start (so it is logged once). */
START_TEST(test_logins_concurrent)
{
	guesser g[4];
	meta_login a, u;
	int locks = 0;

	db_open(_i);
	if (!meta_login_kept(m))
		return; /* SQLite: the process counts in memory (test_auth.c) */
	for (int i = 0; i < 4; i++) {
		g[i] = (guesser){.st = ST_INTERNAL};
		ck_assert_int_eq(pthread_create(&g[i].th, NULL, guess, &g[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(g[i].th, NULL), 0);
		ck_assert_int_eq(g[i].st, ST_OK);
		locks += g[i].locks;
	}
	ck_assert_int_eq(locks, 1);
	ck_assert_int_eq(meta_login_check(m, "a", "u", 200, &a, &u, NULL, NULL), ST_OK);
	ck_assert_uint_eq(u.failures, 100);
	ck_assert_int_eq(u.blocked_until, 1100);
}
END_TEST

START_TEST(test_concurrent_writers)
{
	writer w[4];

	db_open(_i);
	for (int i = 0; i < 4; i++) {
		w[i] = (writer){.index = i, .st = ST_INTERNAL};
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, write_links, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
		ck_assert_int_eq(w[i].st, ST_OK);
	}
	ck_assert_int_eq(raw_int("SELECT count(*) FROM repo_blobs"), 4 * 25 + 25);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM repos"), 5);
}
END_TEST

/* A full disk is ST_NO_SPACE: a small tmpfs, if this process may mount one. */
START_TEST(test_no_space)
{
	char mnt[96], path[128], d[DIGEST_MAX], repo[64];
	meta *small = NULL;
	status_t st = ST_OK;
	int i;

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
		test_skip("test_no_space: cannot mount a tmpfs (%s)", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/registry.db", mnt);
	ck_assert_int_eq(meta_open(&small, path), ST_OK);
	for (i = 0; st == ST_OK && i < 100000; i++) {
		snprintf(repo, sizeof(repo), "repository-with-a-rather-long-name-%06d", i);
		snprintf(d, sizeof(d), "sha256:%064d", i);
		st = meta_blob_link(small, repo, d, 1);
	}
	ck_assert_int_eq(st, ST_NO_SPACE);
	/* Reads still work, and the failed write left nothing half-done. */
	ck_assert_int_eq(meta_repo_exists(small, "repository-with-a-rather-long-name-000000"),
			 ST_OK);
	meta_close(small);
	umount2(mnt, MNT_DETACH);
}
END_TEST

START_TEST(test_open_backend)
{
	meta *x = (meta *)1;

	ck_assert_ptr_nonnull(meta_backend_find("sqlite"));
	ck_assert_ptr_nonnull(meta_backend_find("postgres"));
	ck_assert_ptr_null(meta_backend_find("mysql"));
	ck_assert_ptr_null(meta_backend_find(""));
	ck_assert_ptr_null(meta_backend_find(NULL));
	ck_assert(!meta_backend_keeps_logins("sqlite")); /* the process counts */
	ck_assert(meta_backend_keeps_logins("postgres"));
	ck_assert(!meta_backend_keeps_logins("mysql"));
	ck_assert(!meta_backend_keeps_logins(NULL));
	ck_assert_int_eq(meta_open_backend(&x, "mysql", db_path), ST_INVALID);
	ck_assert_ptr_null(x);
	x = (meta *)1;
	ck_assert_int_eq(meta_open_backend(&x, "postgres", NULL), ST_INVALID);
	ck_assert_ptr_null(x);
	x = (meta *)1;
	ck_assert_int_eq(meta_open_backend(&x, NULL, db_path), ST_INVALID);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(meta_open_backend(&x, "SQLite", db_path), ST_INVALID);
	ck_assert_int_eq(meta_open_backend(&x, "sqlite", NULL), ST_INVALID);
	ck_assert_int_eq(meta_open_backend(&x, "sqlite", db_path), ST_OK);
	ck_assert_int_eq(meta_repo_exists(x, "app"), ST_NOT_FOUND);
	meta_close(x);
}
END_TEST

/* Ends every other connection to the test's database (what a server
 * restart or a dropped connection does to the registry's), and waits
 * until the server has. */
static void pg_drop_others(void)
{
	pg_raw_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		    " WHERE datname = current_database() AND pid <> pg_backend_pid()");
	for (int i = 0; i < 100; i++) {
		if (pg_raw_int("SELECT count(*) FROM pg_stat_activity WHERE datname ="
			       " current_database() AND pid <> pg_backend_pid()") == 0)
			return;
		usleep(50000);
	}
	ck_abort_msg("the connections were not ended");
}

/* A connection whose server end went away recovers on the next call: a
 * read and a lone write run on a new connection; inside a transaction, or
 * with a session lock held (lost with the connection), the call fails
 * with ST_UNAVAILABLE and nothing of the transaction stays. */
START_TEST(test_pg_reconnect)
{
	char d1[DIGEST_MAX], d2[DIGEST_MAX], d3[DIGEST_MAX];
	uint64_t size = 0;
	bool got = false;

	dg(d1, '1');
	dg(d2, '2');
	dg(d3, '3');
	db_open(1);
	ck_assert_int_eq(meta_blob_link(m, "app", d1, 10), ST_OK);

	pg_drop_others();
	ck_assert_int_eq(meta_blob_get(m, "app", d1, &size), ST_OK);
	ck_assert_uint_eq(size, 10);

	pg_drop_others();
	ck_assert_int_eq(meta_blob_link(m, "app", d2, 20), ST_OK);
	ck_assert_int_eq(meta_blob_get(m, "app", d2, &size), ST_OK);

	/* a transaction dies with its connection */
	ck_assert_int_eq(meta_write_begin(m), ST_OK);
	ck_assert_int_eq(meta_blob_link(m, "app", d3, 30), ST_OK);
	pg_drop_others();
	ck_assert_int_eq(meta_blob_link(m, "other", d3, 30), ST_UNAVAILABLE);
	ck_assert_int_eq(meta_write_end(m, true), ST_UNAVAILABLE);
	ck_assert_int_eq(meta_blob_get(m, "app", d3, &size), ST_NOT_FOUND);
	ck_assert_int_eq(meta_ping(m), ST_OK);

	/* a session lock too: its holder's calls fail until it lets go */
	ck_assert_int_eq(meta_lock_try(m, "registry gc", &got), ST_OK);
	ck_assert(got);
	pg_drop_others();
	ck_assert_int_eq(meta_blob_get(m, "app", d1, &size), ST_UNAVAILABLE);
	ck_assert_int_eq(meta_blob_link(m, "app", d3, 30), ST_UNAVAILABLE);
	meta_unlock(m, "registry gc");
	ck_assert_int_eq(meta_blob_get(m, "app", d1, &size), ST_OK);
	ck_assert_int_eq(meta_lock_try(m, "registry gc", &got), ST_OK);
	ck_assert(got);
	meta_unlock(m, "registry gc");
	ck_assert_int_eq(raw_int("SELECT count(*) FROM repo_blobs"), 2);
}
END_TEST

/* The server itself stopped, then started again on the same port (make
 * unit-pg names its folder in REGISTRY_TEST_PG_DIR for tests/pg.sh): while
 * it is down a call answers ST_UNAVAILABLE at once; after, the same handle
 * reads and writes again with no reopen. */
START_TEST(test_pg_restart)
{
	const char *pgdir = getenv("REGISTRY_TEST_PG_DIR");
	char cmd[600], d1[DIGEST_MAX], d2[DIGEST_MAX];
	uint64_t size = 0;
	struct timespec t0, t1;

	if (pgdir == NULL)
		return; /* a server of someone else's: not ours to stop */
	dg(d1, '1');
	dg(d2, '2');
	db_open(1);
	ck_assert_int_eq(meta_blob_link(m, "app", d1, 10), ST_OK);
	snprintf(cmd, sizeof(cmd), "tests/pg.sh stop '%s'", pgdir);
	ck_assert_int_eq(system(cmd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(meta_blob_get(m, "app", d1, &size), ST_UNAVAILABLE);
	ck_assert_int_eq(meta_blob_link(m, "app", d2, 20), ST_UNAVAILABLE);
	ck_assert_int_ne(meta_ping(m), ST_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5); /* no waiting on a dead server */
	snprintf(cmd, sizeof(cmd), "tests/pg.sh restart '%s'", pgdir);
	ck_assert_int_eq(system(cmd), 0);
	usleep(1100000); /* past the reconnect pacing */
	ck_assert_int_eq(meta_blob_get(m, "app", d1, &size), ST_OK);
	ck_assert_uint_eq(size, 10);
	ck_assert_int_eq(meta_blob_link(m, "app", d2, 20), ST_OK);
	ck_assert_int_eq(meta_ping(m), ST_OK);
}
END_TEST

Suite *make_meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("shared");
	TCase *sq = tcase_create("sqlite");
	TCase *pick = tcase_create("backends");
	TCase *pg;

	/* Every backend: each test runs once per entry of backends[]. */
	tcase_add_checked_fixture(tc, setup_dir, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_blob_link, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_backup_and_digests, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_manifest_put_get, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_manifest_without_tags_or_subject, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_retag, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_manifest_delete_removes_tags, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_tag_delete, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_tag_list_pagination, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_repo_list, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_lock_try, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_logins, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_logins_concurrent, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_referrers, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_uploads, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_stats_and_ping, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_invalid_input, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_reopen_keeps_data, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_concurrent_writers, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_write_tx, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_write_tx_serialises, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_usage_and_du, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_push_and_pull_records, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_digests_and_quarantine, 0, NBACKENDS);
	tcase_add_loop_test(tc, test_browse, 0, NBACKENDS);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(sq, setup_sqlite, teardown);
	tcase_set_timeout(sq, 30);
	tcase_add_test(sq, test_pragmas);
	tcase_add_test(sq, test_open_misuse);
	tcase_add_test(sq, test_migrate_from_v1);
	tcase_add_test(sq, test_migrate_from_v2);
	tcase_add_test(sq, test_no_space);
	suite_add_tcase(s, sq);

	tcase_add_checked_fixture(pick, setup_dir, teardown);
	tcase_add_test(pick, test_open_backend);
	suite_add_tcase(s, pick);

	/* PostgreSQL only (make unit-pg): its connection can die under it. */
	if (getenv("REGISTRY_TEST_PG") != NULL) {
		pg = tcase_create("postgres");
		tcase_add_checked_fixture(pg, setup_dir, teardown);
		tcase_set_timeout(pg, 30);
		tcase_add_test(pg, test_pg_reconnect);
		tcase_add_test(pg, test_pg_restart);
		suite_add_tcase(s, pg);
	}
	return s;
}
