/*
 * meta_pg.c - the "postgres" metadata index backend (see meta_pg.h for what
 * it guarantees, meta.h for the contract).
 *
 * One `meta` is one libpq connection (libpq loaded at run time, pq_load.h),
 * used by one thread at a time as meta.h says: each worker thread of each
 * replica has its own. Every statement is prepared once per connection at
 * open and executed with PQexecPrepared, text parameters and text results.
 *
 * The operations are the SQLite backend's (meta_sqlite.c), query for query:
 * the same tables, keys, foreign keys, keyset paging and the GC
 * compare-and-set rules of meta.h. To keep them the same code, this file
 * runs them through a small statement layer with SQLite's shape (bind,
 * step, column, reset: pg_stmt below) over a result fetched whole at the
 * first step; only the SQL dialect differs (GREATEST for two-argument max,
 * ON CONFLICT targets, $n parameters, a LIMIT of -1 read as none).
 *
 * The write lock. SQLite has one writer at a time, and meta.h's rules lean
 * on it (meta_gc_reap holds "the write lock" while files go; a
 * compare-and-set reads and deletes with no writer in between). Here every
 * write transaction, and every write statement run outside one, first
 * takes one transaction-scoped advisory lock (META_PG_WRITE_LOCK) shared by
 * every connection of every replica: writers are serialized across the
 * cluster exactly as SQLite serializes them within one file, and a
 * statement after the lock (READ COMMITTED) sees every earlier commit.
 * Readers never take it. lock_timeout (META_PG_LOCK_TIMEOUT) is the busy
 * timeout: a writer that waits longer gets ST_IO (ping: ST_BUSY).
 *
 * Schema migrations are versioned (table schema_version) and applied at
 * open under a session advisory lock (META_PG_MIGRATE_LOCK), so replicas
 * starting at once on an empty database create it once; the others wait,
 * then find it done.
 *
 * Text columns that are keys are COLLATE "C": byte order, as the OCI lists
 * and SQLite's BINARY compare, whatever the database's locale.
 *
 * Reconnecting. A connection dies with its server (a restart, a failover,
 * an idle connection cut by a firewall) and libpq does not come back by
 * itself, so a failure that is the connection's (PQstatus CONNECTION_BAD,
 * SQLSTATE class 08, 57P01-57P03) marks it broken and answers ST_UNAVAILABLE
 * (503); the next call outside a transaction reconnects (PQreset, the
 * session settings, every statement prepared again) at most once a second
 * per connection, so an outage costs each request one failed connect, not
 * a loop. What runs again on the new connection is only what cannot apply
 * twice: a statement that reads (or BEGIN) found the connection dead
 * outside a transaction; a write whose outcome is unknown (it may have
 * committed) is never sent again, nor anything inside a transaction, which
 * died with the connection. Session advisory locks (meta_lock_try) die
 * with it too, so a connection holding one is not reconnected under its
 * holder: the holder's statements fail until it calls meta_unlock, and its
 * pass ends as any failed pass does. The outage is logged once per process
 * (the first failed reconnect) and so is its end.
 */
#include "meta_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "pq_load.h"

/* The advisory lock keys (arbitrary, fixed: every replica must agree). */
#define META_PG_WRITE_LOCK "7226571600001"
#define META_PG_MIGRATE_LOCK "7226571600002"
/* How long a write waits for another writer's lock (SQLite's busy timeout). */
#define META_PG_LOCK_TIMEOUT "5s"
/* Longest upload id, as in meta_upload.id (with NUL). */
#define META_UPLOAD_ID_MAX 65
/* Most parameters of one statement. */
#define PG_MAX_PARAMS 10
/* Least time between two reconnects of one connection, in seconds. */
#define META_PG_RECONNECT_S 1

/*
 * Version 1: the SQLite schema as of its version 5 (meta_sqlite.c's
 * migrations, all applied), in PostgreSQL's types: BIGINT for sizes and
 * times, BIGSERIAL for ids and the event queue's seq (a sequence never
 * gives a number twice, as AUTOINCREMENT).
 */
static const char pg_schema_v1[] =
    "CREATE TABLE repos ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  name TEXT COLLATE \"C\" NOT NULL UNIQUE"
    ");"
    "CREATE TABLE repo_blobs ("
    "  repo_id BIGINT NOT NULL REFERENCES repos(id),"
    "  digest TEXT COLLATE \"C\" NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  touched_us BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (repo_id, digest)"
    ");"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE manifests ("
    "  repo_id BIGINT NOT NULL REFERENCES repos(id),"
    "  digest TEXT COLLATE \"C\" NOT NULL,"
    "  media_type TEXT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  artifact_type TEXT NOT NULL DEFAULT '',"
    "  subject TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
    "  annotations TEXT,"
    "  created BIGINT NOT NULL,"
    "  pushed_by TEXT NOT NULL DEFAULT '',"
    "  last_pull BIGINT NOT NULL DEFAULT 0,"
    "  pulls BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (repo_id, digest)"
    ");"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject, digest);"
    "CREATE INDEX manifests_digest ON manifests(digest);"
    "CREATE TABLE manifest_refs ("
    "  repo_id BIGINT NOT NULL,"
    "  manifest TEXT COLLATE \"C\" NOT NULL,"
    "  ref TEXT COLLATE \"C\" NOT NULL,"
    "  PRIMARY KEY (repo_id, manifest, ref),"
    "  FOREIGN KEY (repo_id, manifest) REFERENCES manifests(repo_id, digest)"
    ");"
    "CREATE INDEX manifest_refs_ref ON manifest_refs(ref);"
    "CREATE TABLE tags ("
    "  repo_id BIGINT NOT NULL,"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  digest TEXT COLLATE \"C\" NOT NULL,"
    "  pushed BIGINT NOT NULL DEFAULT 0,"
    "  pushed_by TEXT NOT NULL DEFAULT '',"
    "  last_pull BIGINT NOT NULL DEFAULT 0,"
    "  pulls BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (repo_id, name),"
    "  FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest)"
    ");"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE INDEX tags_pushed ON tags(repo_id, pushed, name);"
    "CREATE TABLE uploads ("
    "  id TEXT PRIMARY KEY,"
    "  repo TEXT NOT NULL,"
    "  alg TEXT NOT NULL,"
    "  created BIGINT NOT NULL,"
    "  updated BIGINT NOT NULL"
    ");"
    "CREATE INDEX uploads_updated ON uploads(updated);"
    "CREATE TABLE quarantine ("
    "  digest TEXT COLLATE \"C\" PRIMARY KEY,"
    "  at BIGINT NOT NULL,"
    "  reason TEXT NOT NULL"
    ");"
    "CREATE TABLE events ("
    "  seq BIGSERIAL PRIMARY KEY,"
    "  endpoint TEXT COLLATE \"C\" NOT NULL,"
    "  repo TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created BIGINT NOT NULL"
    ");"
    "CREATE INDEX events_endpoint ON events(endpoint, seq);"
    "CREATE TABLE blobs ("
    "  digest TEXT COLLATE \"C\" PRIMARY KEY,"
    "  size BIGINT NOT NULL,"
    "  created_us BIGINT NOT NULL,"
    "  touched_us BIGINT NOT NULL"
    ");";

/*
 * Version 2: failed logins (meta.h "failed logins, shared by replicas"),
 * which only this backend keeps. name '' is the address's own row;
 * expires_at is when the row lapses (first_at + the window, or the lock's
 * end), indexed for the sweep every check runs; name is indexed for
 * `registry user unlock NAME`, which lifts a name at every address.
 */
static const char pg_schema_v2[] =
    "CREATE TABLE login_failures ("
    "  addr TEXT COLLATE \"C\" NOT NULL,"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  known BOOLEAN NOT NULL,"
    "  failures BIGINT NOT NULL,"
    "  first_at BIGINT NOT NULL,"
    "  blocked_until BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  PRIMARY KEY (addr, name)"
    ");"
    "CREATE INDEX login_failures_expires ON login_failures(expires_at);"
    "CREATE INDEX login_failures_name ON login_failures(name);";

/* The migrations, in order: migrations[i] takes schema_version i to i + 1.
 * A new schema change is one more entry (never an edit of an old one). */
static const char *const migrations[] = {pg_schema_v1, pg_schema_v2};
#define META_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The prepared statements of a connection; S_ROLLBACK and before are run
 * as plain commands (they need no schema and take no parameters). */
enum {
	S_BEGIN,
	S_COMMIT,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_ROLLBACK,
	S_REPO_ID,
	S_REPO_INSERT,
	S_REPO_LIST,
	S_REPO_ALL,
	S_BLOB_LINK,
	S_BLOB_GET,
	S_BLOB_FIND,
	S_BLOB_UNLINK,
	S_BLOB_REPOS,
	S_MAN_INSERT,
	S_REF_INSERT,
	S_TAG_SET,
	S_MAN_BY_DIGEST,
	S_MAN_BY_TAG,
	S_MAN_TAGS_DELETE,
	S_MAN_REFS_DELETE,
	S_MAN_DELETE,
	S_TAG_DELETE,
	S_TAG_LIST,
	S_REFERRERS,
	S_UP_CREATE,
	S_UP_GET,
	S_UP_TOUCH,
	S_UP_DELETE,
	S_UP_STALE,
	S_TAG_GET,
	S_TAG_RECORDS,
	S_USAGE,
	S_DU_REPOS,
	S_DU_NAMESPACES,
	S_PULL_MAN,
	S_PULL_TAG,
	S_DIGESTS,
	S_DIGEST_USERS,
	S_QUAR_ADD,
	S_QUAR_CLEAR,
	S_QUAR_LIST,
	S_STATS,
	S_PING,
	S_EV_ADD,
	S_EV_NEXT,
	S_EV_ACK,
	S_EV_COUNT,
	S_ROW_UPSERT,
	S_ROW_GET,
	S_ROW_BUMP,
	S_LINK_BUMP,
	S_BLOB_USE,
	S_LINK_SIZE,
	S_MAN_SIZE,
	S_REPO_DROP_EMPTY,
	S_GC_MAN_DEAD,
	S_GC_MAN_CHECK,
	S_GC_LINKS,
	S_GC_LINK_DROP,
	S_GC_BLOBS,
	S_GC_BLOB_DROP,
	S_EVICT_DROP,
	S_RM_TAGS,
	S_RM_MANS,
	S_RM_LINKS,
	S_REPO_SUMMARY,
	S_TAG_PAGE_NAME,
	S_TAG_PAGE_PUSHED,
	S_LOGIN_CHECK,
	S_LOGIN_FAIL,
	S_LOGIN_CLEAR,
	S_LOGIN_UNLOCK,
	S__COUNT
};
/*
 * What keeps a blob's row (and so its file), in one place for garbage
 * collection and the cache's eviction. Both: a link to any repository, or
 * being a manifest of one. GC also: being referenced by any manifest (a
 * cached manifest references layers no repository has linked yet). The
 * cache's eviction leaves that out on purpose: a cached layer a cached
 * manifest references is what it evicts, and the cache fetches it again.
 */
#define UNREF_EVICT(d)                                                                             \
	"NOT EXISTS (SELECT 1 FROM repo_blobs b WHERE b.digest = " d ")"                           \
	" AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = " d ")"
#define UNREF_GC(d)                                                                                \
	UNREF_EVICT(d) " AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.ref = " d ")"

/* The columns fill_manifest reads, in order. */
#define MAN_COLS                                                                                   \
	"m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.created, m.pushed_by,"      \
	" m.last_pull, m.pulls"
#define MAN_NCOLS 9
/* The columns fill_tag reads, in order. */
#define TAG_COLS "t.name, t.digest, t.pushed, t.pushed_by, t.last_pull, t.pulls"

/* `registry du`'s query, grouped by KEY (a repository's name, or its
 * namespace): each digest counted once per group, unique when only one
 * group holds it. Groups whose key starts with '/' (names without a
 * namespace, in the namespace query) hold digests but are not listed. */
#define DU_SQL(KEY)                                                                                \
	"WITH g AS (SELECT id, " KEY " AS k FROM repos),"                                          \
	" d AS (SELECT DISTINCT g.k, x.digest, x.size FROM (SELECT repo_id, digest, size"          \
	"   FROM repo_blobs UNION ALL SELECT repo_id, digest, size FROM manifests) x"              \
	"   JOIN g ON g.id = x.repo_id),"                                                          \
	" c AS (SELECT digest, count(*) AS n FROM d GROUP BY digest),"                             \
	" u AS (SELECT d.k, sum(d.size) AS ref, sum(CASE WHEN c.n = 1 THEN d.size ELSE 0 END)"     \
	"   AS uniq FROM d JOIN c USING (digest) GROUP BY d.k),"                                   \
	" t AS (SELECT g.k, count(*) AS n, max(t.pushed) AS push, max(t.last_pull) AS pull"        \
	"   FROM tags t JOIN g ON g.id = t.repo_id GROUP BY g.k),"                                 \
	" m AS (SELECT g.k, count(*) AS n, max(m.created) AS push, max(m.last_pull) AS pull,"      \
	"   sum(m.pulls) AS pulls FROM manifests m JOIN g ON g.id = m.repo_id GROUP BY g.k),"      \
	" keys AS (SELECT DISTINCT k FROM g)"                                                      \
	" SELECT keys.k, coalesce(u.ref, 0), coalesce(u.uniq, 0), coalesce(t.n, 0),"               \
	"   coalesce(m.n, 0), GREATEST(coalesce(t.push, 0), coalesce(m.push, 0)),"                 \
	"   GREATEST(coalesce(t.pull, 0), coalesce(m.pull, 0)), coalesce(m.pulls, 0)"              \
	" FROM keys LEFT JOIN u USING (k) LEFT JOIN t USING (k) LEFT JOIN m USING (k)"             \
	" WHERE substr(keys.k, 1, 1) <> '/' ORDER BY keys.k"

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_SAVEPOINT] = "SAVEPOINT part",
    [S_RELEASE] = "RELEASE part",
    [S_ROLLBACK_TO] = "ROLLBACK TO part",
    [S_ROLLBACK] = "ROLLBACK",
    [S_REPO_ID] = "SELECT id FROM repos WHERE name = $1",
    [S_REPO_INSERT] = "INSERT INTO repos(name) VALUES ($1) RETURNING id",
    [S_REPO_ALL] = "SELECT id, name FROM repos",
    [S_REPO_LIST] =
	"SELECT name FROM repos WHERE name > $1 ORDER BY name LIMIT NULLIF($2::bigint, -1)",
    [S_BLOB_LINK] = "INSERT INTO repo_blobs(repo_id, digest, size, touched_us)"
		    " VALUES ($1, $2, $3, $4)"
		    " ON CONFLICT (repo_id, digest) DO UPDATE SET touched_us = "
		    "GREATEST(excluded.touched_us, repo_blobs.touched_us + 1)",
    [S_BLOB_GET] = "SELECT b.size FROM repos r JOIN repo_blobs b ON b.repo_id = r.id"
		   " WHERE r.name = $1 AND b.digest = $2",
    [S_BLOB_FIND] = "SELECT size FROM repo_blobs WHERE digest = $1 LIMIT 1",
    [S_BLOB_UNLINK] = "DELETE FROM repo_blobs WHERE repo_id = $1 AND digest = $2",
    [S_BLOB_REPOS] = "SELECT r.name FROM repo_blobs b JOIN repos r ON r.id = b.repo_id"
		     " WHERE b.digest = $1 ORDER BY r.name",
    [S_MAN_INSERT] = "INSERT INTO manifests(repo_id, digest, media_type, size, artifact_type,"
		     " subject, annotations, created, pushed_by)"
		     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    [S_REF_INSERT] = "INSERT INTO manifest_refs(repo_id, manifest, ref) VALUES ($1, $2, $3)"
		     " ON CONFLICT DO NOTHING",
    [S_TAG_SET] = "INSERT INTO tags(repo_id, name, digest, pushed, pushed_by)"
		  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repo_id, name) DO UPDATE SET"
		  " digest = excluded.digest, pushed = excluded.pushed,"
		  " pushed_by = excluded.pushed_by",
    [S_MAN_BY_DIGEST] = "SELECT " MAN_COLS " FROM repos r"
			" JOIN manifests m ON m.repo_id = r.id"
			" WHERE r.name = $1 AND m.digest = $2",
    [S_MAN_BY_TAG] = "SELECT " MAN_COLS " FROM repos r"
		     " JOIN tags t ON t.repo_id = r.id"
		     " JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
		     " WHERE r.name = $1 AND t.name = $2",
    [S_MAN_TAGS_DELETE] = "DELETE FROM tags WHERE repo_id = $1 AND digest = $2",
    [S_MAN_REFS_DELETE] = "DELETE FROM manifest_refs WHERE repo_id = $1 AND manifest = $2",
    [S_MAN_DELETE] = "DELETE FROM manifests WHERE repo_id = $1 AND digest = $2",
    [S_TAG_DELETE] = "DELETE FROM tags WHERE repo_id = $1 AND name = $2",
    [S_TAG_LIST] = "SELECT name FROM tags WHERE repo_id = $1 AND name > $2"
		   " ORDER BY name LIMIT NULLIF($3::bigint, -1)",
    /* INDEXED BY: without it the optional filter leads the planner to walk
     * every manifest of the repository in primary key (digest) order. */
    [S_REFERRERS] = "SELECT " MAN_COLS ", m.annotations FROM repos r"
		    " JOIN manifests m ON m.repo_id = r.id"
		    " WHERE r.name = $1 AND m.subject = $2"
		    " AND ($3::text IS NULL OR m.artifact_type = $3) ORDER BY m.digest",
    [S_UP_CREATE] = "INSERT INTO uploads(id, repo, alg, created, updated)"
		    " VALUES ($1, $2, $3, $4, $4)",
    [S_UP_GET] = "SELECT id, repo, alg, created, updated FROM uploads WHERE id = $1",
    [S_UP_TOUCH] = "UPDATE uploads SET updated = $2 WHERE id = $1",
    [S_UP_DELETE] = "DELETE FROM uploads WHERE id = $1",
    [S_UP_STALE] = "SELECT id FROM uploads WHERE updated < $1 ORDER BY updated",
    [S_TAG_GET] = "SELECT " TAG_COLS " FROM repos r JOIN tags t ON t.repo_id = r.id"
		  " WHERE r.name = $1 AND t.name = $2",
    [S_TAG_RECORDS] = "SELECT " TAG_COLS " FROM repos r JOIN tags t ON t.repo_id = r.id"
		      " WHERE r.name = $1 ORDER BY t.name",
    /* $2: the ids the caller's predicate accepted (pg_usage asks it per name) */
    [S_USAGE] = "WITH r AS (SELECT unnest($2::bigint[]) AS id),"
		" d AS (SELECT digest, size FROM repo_blobs WHERE repo_id IN (SELECT id FROM r)"
		" UNION SELECT digest, size FROM manifests WHERE repo_id IN (SELECT id FROM r))"
		" SELECT coalesce(sum(size), 0), coalesce(max(CASE WHEN digest = $1 THEN 1 ELSE 0 "
		"END), 0) FROM d",
    [S_DU_REPOS] = DU_SQL("name"),
    [S_DU_NAMESPACES] = DU_SQL("CASE WHEN strpos(name, '/') > 0"
			       " THEN substr(name, 1, strpos(name, '/') - 1) ELSE '/' || name END"),
    [S_PULL_MAN] = "UPDATE manifests SET last_pull = GREATEST(last_pull, $3), pulls = pulls + $4"
		   " WHERE repo_id = (SELECT id FROM repos WHERE name = $1) AND digest = $2",
    [S_PULL_TAG] = "UPDATE tags SET last_pull = GREATEST(last_pull, $4), pulls = pulls + $5"
		   " WHERE repo_id = (SELECT id FROM repos WHERE name = $1) AND name = $2"
		   " AND digest = $3",
    [S_DIGESTS] =
	"SELECT digest, max(size) FROM (SELECT digest, size FROM repo_blobs"
	" WHERE digest > $1 UNION ALL SELECT digest, size FROM manifests"
	" WHERE digest > $1) x GROUP BY digest ORDER BY digest LIMIT NULLIF($2::bigint, -1)",
    [S_DIGEST_USERS] = "SELECT r.name, x.manifest FROM (SELECT repo_id, manifest"
		       " FROM manifest_refs WHERE ref = $1 UNION SELECT repo_id, digest"
		       " FROM manifests WHERE digest = $1) x JOIN repos r ON r.id = x.repo_id"
		       " ORDER BY r.name, x.manifest",
    [S_QUAR_ADD] = "INSERT INTO quarantine(digest, at, reason) VALUES ($1, $2, $3)"
		   " ON CONFLICT (digest) DO UPDATE SET at = excluded.at, reason = excluded.reason",
    [S_QUAR_CLEAR] = "DELETE FROM quarantine WHERE digest = $1",
    [S_QUAR_LIST] = "SELECT digest, at, reason FROM quarantine ORDER BY digest",
    /* Each digest once: a blob in ten repositories is stored once. The
     * blobs' GROUP BY walks repo_blobs_digest; the manifests' sorts. */
    [S_STATS] = "WITH b AS (SELECT count(*) n, coalesce(sum(s), 0) sz FROM"
		"  (SELECT max(size) s FROM repo_blobs GROUP BY digest) x),"
		" m AS (SELECT count(*) n, coalesce(sum(s), 0) sz FROM"
		"  (SELECT max(size) s FROM manifests GROUP BY digest) x)"
		" SELECT (SELECT count(*) FROM repos), m.n, (SELECT count(*) FROM tags), b.n,"
		" b.sz + m.sz, (SELECT count(*) FROM uploads) FROM b, m",
    [S_PING] = "SELECT count(*) FROM (SELECT 1 FROM repos LIMIT 1) x",
    [S_EV_ADD] = "INSERT INTO events(endpoint, repo, body, created) VALUES ($1, $2, $3, $4)",
    [S_EV_NEXT] = "SELECT seq, repo, body FROM events WHERE endpoint = $1 ORDER BY seq LIMIT "
		  "NULLIF($2::bigint, -1)",
    [S_EV_ACK] = "DELETE FROM events WHERE endpoint = $1 AND seq <= $2",
    [S_EV_COUNT] = "SELECT endpoint, count(*) FROM events GROUP BY endpoint ORDER BY endpoint",
    /* ---- the blob rows and garbage collection ---- */
    [S_ROW_UPSERT] = "INSERT INTO blobs(digest, size, created_us, touched_us)"
		     " VALUES ($1, $2, $3, $3)"
		     " ON CONFLICT (digest) DO UPDATE SET touched_us = "
		     "GREATEST(excluded.touched_us, blobs.touched_us + 1)"
		     " RETURNING created_us",
    [S_ROW_GET] = "SELECT size, created_us, touched_us FROM blobs WHERE digest = $1",
    [S_ROW_BUMP] = "UPDATE blobs SET touched_us = GREATEST($2, touched_us + 1) WHERE digest = $1",
    [S_LINK_BUMP] = "UPDATE repo_blobs SET touched_us = GREATEST($3, touched_us + 1)"
		    " WHERE repo_id = $1 AND digest = $2",
    [S_BLOB_USE] = "SELECT b.repo_id, b.size, b.touched_us, o.touched_us FROM repos r"
		   " JOIN repo_blobs b ON b.repo_id = r.id LEFT JOIN blobs o ON o.digest = b.digest"
		   " WHERE r.name = $1 AND b.digest = $2",
    [S_LINK_SIZE] = "SELECT size FROM repo_blobs WHERE repo_id = $1 AND digest = $2",
    [S_MAN_SIZE] = "SELECT size FROM manifests WHERE repo_id = $1 AND digest = $2",
    [S_REPO_DROP_EMPTY] = "DELETE FROM repos WHERE id = $1"
			  " AND NOT EXISTS (SELECT 1 FROM tags WHERE repo_id = $1)"
			  " AND NOT EXISTS (SELECT 1 FROM manifests WHERE repo_id = $1)"
			  " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = $1)",
    /* The manifests of repository $1 nothing keeps: marked from the tags,
     * the manifests referenced after $2 (too young to go), what a live
     * manifest references (an index's manifests) and the referrers of live
     * manifests; the rest, with the time the compare-and-set compares. */
    [S_GC_MAN_DEAD] =
	"WITH RECURSIVE live(d) AS ("
	" SELECT digest FROM tags WHERE repo_id = $1"
	" UNION SELECT m.digest FROM manifests m LEFT JOIN blobs o ON o.digest = m.digest"
	"  WHERE m.repo_id = $1 AND COALESCE(o.touched_us, 0) > $2"
	/* PostgreSQL allows one reference to live in the recursive term:
	 * what a live manifest names and the referrers of one, as one join */
	" UNION SELECT x.d FROM live JOIN (SELECT r.manifest AS p, r.ref AS d"
	"  FROM manifest_refs r WHERE r.repo_id = $1 UNION ALL SELECT m.subject, m.digest"
	"  FROM manifests m WHERE m.repo_id = $1) x ON x.p = live.d)"
	" SELECT m.digest, m.size, COALESCE(o.touched_us, 0) FROM manifests m"
	" LEFT JOIN blobs o ON o.digest = m.digest"
	" WHERE m.repo_id = $1 AND m.digest NOT IN (SELECT d FROM live)"
	" ORDER BY m.digest LIMIT NULLIF($3::bigint, -1)",
    /* The compare-and-set of one dead manifest: still untagged, not
     * referenced since it was read, and nothing left in the repository
     * that names it (an index, or a referrer whose subject it is). */
    [S_GC_MAN_CHECK] =
	"SELECT 1 FROM manifests m LEFT JOIN blobs o ON o.digest = m.digest"
	" WHERE m.repo_id = $1 AND m.digest = $2 AND COALESCE(o.touched_us, 0) = $3"
	" AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = $1 AND t.digest = $2)"
	" AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
	"  WHERE r.repo_id = $1 AND r.ref = $2)"
	" AND NOT EXISTS (SELECT 1 FROM manifests s"
	"  WHERE s.repo_id = $1 AND s.subject = $2)",
    [S_GC_LINKS] = "SELECT b.digest, b.size, b.touched_us FROM repo_blobs b"
		   " WHERE b.repo_id = $1 AND b.digest > $2 AND b.touched_us <= $3"
		   " AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
		   "  WHERE r.ref = b.digest AND r.repo_id = $1)"
		   " ORDER BY b.digest LIMIT NULLIF($4::bigint, -1)",
    [S_GC_LINK_DROP] = "DELETE FROM repo_blobs WHERE repo_id = $1 AND digest = $2"
		       " AND touched_us = $3"
		       " AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
		       "  WHERE r.ref = $2 AND r.repo_id = $1)",
    [S_GC_BLOBS] = "SELECT o.digest, o.size, o.touched_us FROM blobs o"
		   " WHERE o.digest > $1 AND o.touched_us <= $2 AND " UNREF_GC(
		       "o.digest") " ORDER BY o.digest LIMIT NULLIF($3::bigint, -1)",
    [S_GC_BLOB_DROP] = "DELETE FROM blobs WHERE digest = $1 AND touched_us = $2"
		       " AND " UNREF_GC("$1"),
    [S_EVICT_DROP] = "DELETE FROM blobs WHERE digest = $1 AND " UNREF_EVICT("$1"),
    [S_RM_TAGS] =
	"DELETE FROM tags WHERE repo_id = $1"
	" AND name IN (SELECT name FROM tags WHERE repo_id = $1 LIMIT NULLIF($2::bigint, -1))",
    [S_RM_MANS] = "SELECT digest FROM manifests WHERE repo_id = $1 LIMIT NULLIF($2::bigint, -1)",
    [S_RM_LINKS] = "DELETE FROM repo_blobs WHERE repo_id = $1"
		   " AND digest IN (SELECT digest FROM repo_blobs WHERE repo_id = $1 LIMIT "
		   "NULLIF($2::bigint, -1))",
    /* meta_repo_summary_get: each part a range of a primary key by repo_id */
    [S_REPO_SUMMARY] =
	"SELECT r.id,"
	" (SELECT count(*) FROM tags t WHERE t.repo_id = r.id),"
	" (SELECT coalesce(sum(size), 0) FROM (SELECT digest, size FROM repo_blobs b"
	"   WHERE b.repo_id = r.id UNION SELECT digest, size FROM manifests m"
	"   WHERE m.repo_id = r.id) x),"
	" GREATEST((SELECT coalesce(max(pushed), 0) FROM tags t WHERE t.repo_id = r.id),"
	"   (SELECT coalesce(max(created), 0) FROM manifests m WHERE m.repo_id = r.id)),"
	" GREATEST((SELECT coalesce(max(last_pull), 0) FROM tags t WHERE t.repo_id = r.id),"
	"   (SELECT coalesce(max(last_pull), 0) FROM manifests m WHERE m.repo_id = r.id))"
	" FROM repos r WHERE r.name = $1",
    /* meta_tag_page: $1 repo_id, $2 after name, $3 limit (n + 1), $4 after pushed */
    [S_TAG_PAGE_NAME] =
	"SELECT " TAG_COLS ", m.size, m.media_type FROM tags t"
	" JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
	" WHERE t.repo_id = $1 AND t.name > $2 ORDER BY t.name LIMIT NULLIF($3::bigint, -1)",
    [S_TAG_PAGE_PUSHED] = "SELECT " TAG_COLS ", m.size, m.media_type"
			  " FROM tags t"
			  " JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
			  " WHERE t.repo_id = $1 AND (t.pushed, t.name) < ($4, $2)"
			  " ORDER BY t.pushed DESC, t.name DESC LIMIT NULLIF($3::bigint, -1)",
    /* $1 addr, $2 name, $3 now: the lapsed locks removed (kind 0), then the
     * live rows of the address and the name (kind 1) from the snapshot
     * before the removal, so lapsed ones are filtered out by hand. The
     * sweep skips rows another connection holds (SKIP LOCKED): two sweeps
     * never wait on each other (nor deadlock), and a later one takes them. */
    [S_LOGIN_CHECK] =
	"WITH gone AS (DELETE FROM login_failures WHERE (addr, name) IN (SELECT addr, name"
	"  FROM login_failures WHERE expires_at <= $3::bigint FOR UPDATE SKIP LOCKED)"
	"  RETURNING addr, name, known, blocked_until)"
	" SELECT 0, addr, name, known, 0, blocked_until FROM gone WHERE blocked_until <> 0"
	" UNION ALL SELECT 1, addr, name, known, failures, blocked_until FROM login_failures"
	"  WHERE addr = $1 AND (name = '' OR name = $2) AND expires_at > $3::bigint",
    /* $1 addr, $2 name, $3 known, $4 now, $5 window, $6 limit. A lapsed row
     * (expires_at <= now) starts again as the inserted one would. */
    [S_LOGIN_FAIL] =
	"INSERT INTO login_failures AS f"
	" (addr, name, known, failures, first_at, blocked_until, expires_at)"
	" VALUES ($1, $2, $3::boolean, 1, $4::bigint,"
	"  CASE WHEN $6::bigint <= 1 THEN $4::bigint + $5::bigint ELSE 0 END,"
	"  $4::bigint + $5::bigint)"
	" ON CONFLICT (addr, name) DO UPDATE SET"
	" known = CASE WHEN f.expires_at <= EXCLUDED.first_at THEN EXCLUDED.known"
	"  ELSE f.known OR EXCLUDED.known END,"
	" failures = CASE WHEN f.expires_at <= EXCLUDED.first_at THEN 1"
	"  ELSE f.failures + 1 END,"
	" first_at = CASE WHEN f.expires_at <= EXCLUDED.first_at THEN EXCLUDED.first_at"
	"  ELSE f.first_at END,"
	" blocked_until = CASE WHEN f.expires_at <= EXCLUDED.first_at THEN EXCLUDED.blocked_until"
	"  WHEN f.blocked_until <> 0 THEN f.blocked_until"
	"  WHEN f.failures + 1 >= $6::bigint THEN EXCLUDED.expires_at ELSE 0 END,"
	" expires_at = CASE WHEN f.expires_at <= EXCLUDED.first_at THEN EXCLUDED.expires_at"
	"  WHEN f.blocked_until = 0 AND f.failures + 1 >= $6::bigint THEN EXCLUDED.expires_at"
	"  ELSE f.expires_at END"
	" RETURNING failures, known, blocked_until",
    [S_LOGIN_CLEAR] = "DELETE FROM login_failures WHERE addr = $1 AND name = $2"
		      " AND blocked_until = 0",
    /* $1 addr or NULL, $2 name or NULL, $3 before */
    [S_LOGIN_UNLOCK] = "DELETE FROM login_failures WHERE first_at <= $3::bigint"
		       " AND ($1::text IS NULL OR addr = $1) AND ($2::text IS NULL OR name = $2)"
		       " RETURNING addr, name, known, blocked_until",
};

/* What stmt_step returns (SQLite's codes, by the same names' roles). */
enum { PG_OK = 0, PG_ROW = 100, PG_DONE = 101, PG_ERROR = 1, PG_CONSTRAINT = 19, PG_BUSY = 5 };

typedef struct pg_meta pg_meta;

/* One prepared statement in use: its parameters as text, and the result of
 * its one execution, walked a row per stmt_step. */
typedef struct {
	pg_meta *s_m;
	int s_id;
	int s_nparams; /* highest parameter bound */
	const char *s_vals[PG_MAX_PARAMS];
	char s_num[PG_MAX_PARAMS][24]; /* integers bound, in decimal */
	PGresult *s_res;	       /* NULL until the first step */
	int s_row, s_nrows;
} pg_stmt;

struct pg_meta {
	meta m_base; /* first: a meta * of ours points here */
	PGconn *m_conn;
	pg_stmt m_stmt[S__COUNT];
	bool m_outer;	   /* meta_write_begin's transaction is open: ours nest */
	long m_changes;	   /* rows the last statement changed */
	char m_err[256];   /* the last failure, for db_status */
	int m_errcode;	   /* PG_ERROR, PG_CONSTRAINT or PG_BUSY */
	bool m_nospace;	   /* the last failure was a full disk */
	bool m_lost;	   /* the last failure was the connection's: ST_UNAVAILABLE */
	bool m_broken;	   /* the connection died: reconnect before its next use */
	bool m_tx;	   /* tx_begin's own transaction (not m_outer's) is open */
	int m_locks;	   /* session locks held (meta_lock_try), lost with it */
	time_t m_retry_at; /* monotonic second before which no reconnect */
};

/* Whether an outage is being reported: set by the first failed reconnect
 * of any connection, cleared by the next one that succeeds, so the log
 * says each once per process whatever the number of connections. */
static atomic_bool pg_outage;

static pg_meta *pg_of(meta *m)
{
	return (pg_meta *)m;
}

/* No open transaction (SQLite's autocommit mode). */
static bool autocommit(pg_meta *m)
{
	return libpq.transaction_status(m->m_conn) == PQTRANS_IDLE;
}

/* Records why r failed (NULL: the connection's message) and classifies it
 * by SQLSTATE: 23xxx a constraint, a lock not obtained in time or a
 * serialization failure busy, 53100 a full disk. Returns the code. */
static int note_error(pg_meta *m, const PGresult *r)
{
	const char *state = r ? libpq.result_error_field(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? libpq.result_error_message(r) : libpq.error_message(m->m_conn);
	size_t len;

	snprintf(m->m_err, sizeof(m->m_err), "%s", msg ? msg : "unknown error");
	len = strlen(m->m_err);
	while (len > 0 && (m->m_err[len - 1] == '\n' || m->m_err[len - 1] == ' '))
		m->m_err[--len] = '\0';
	m->m_nospace = state != NULL && strcmp(state, "53100") == 0;
	if (state != NULL && strncmp(state, "23", 2) == 0)
		m->m_errcode = PG_CONSTRAINT;
	else if (state != NULL && (strcmp(state, "55P03") == 0 || strcmp(state, "40001") == 0 ||
				   strcmp(state, "40P01") == 0))
		m->m_errcode = PG_BUSY;
	else
		m->m_errcode = PG_ERROR;
	/* class 08: connection exceptions (but 08P01, a protocol violation,
	 * is ours on a live connection); 57P01-03: the server shutting down
	 * or not yet accepting connections */
	m->m_lost =
	    libpq.status(m->m_conn) == CONNECTION_BAD ||
	    (state != NULL && ((strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
			       strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
			       strcmp(state, "57P03") == 0));
	if (m->m_lost) {
		m->m_errcode = PG_ERROR;
		m->m_broken = true;
	}
	return m->m_errcode;
}

/* The status for a failed call (rc: what stmt_step returned), logging what
 * failed. A lost connection is ST_UNAVAILABLE, logged by conn_ready once
 * per outage rather than here once per request; a full disk ST_NO_SPACE;
 * everything else ST_IO. */
static status_t db_status(pg_meta *m, int rc, const char *what)
{
	if (m->m_lost) {
		log_debug("meta: %s: %s (connection lost)", what, m->m_err);
		return ST_UNAVAILABLE;
	}
	log_error("meta: %s: %s (%d)", what, m->m_err[0] ? m->m_err : "no result", rc);
	return m->m_nospace ? ST_NO_SPACE : ST_IO;
}

/* Runs a command that returns nothing (BEGIN, SAVEPOINT, ...). PG_DONE or
 * the error's code. */
static int exec_cmd(pg_meta *m, const char *sql)
{
	PGresult *r = libpq.exec(m->m_conn, sql);
	ExecStatusType t = r ? libpq.result_status(r) : PGRES_FATAL_ERROR;
	int rc = (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? PG_DONE : note_error(m, r);

	libpq.clear(r);
	return rc;
}

/* Ends a use of s: frees its result and forgets its parameters. */
static void stmt_done(pg_stmt *s)
{
	if (s == NULL)
		return;
	libpq.clear(s->s_res);
	s->s_res = NULL;
	s->s_row = s->s_nrows = 0;
	s->s_nparams = 0;
	memset(s->s_vals, 0, sizeof(s->s_vals));
}

/* The cached statement id, reset and ready to bind. */
static pg_stmt *stmt_get(pg_meta *m, int id)
{
	pg_stmt *s = &m->m_stmt[id];

	stmt_done(s);
	return s;
}

static void bind_param(pg_stmt *s, int i, const char *v)
{
	if (i < 1 || i > PG_MAX_PARAMS)
		return;
	s->s_vals[i - 1] = v;
	if (i > s->s_nparams)
		s->s_nparams = i;
}

static void bind_text(pg_stmt *s, int i, const char *v)
{
	/* Callers' strings outlive the statement's use (stmt_done unbinds). */
	bind_param(s, i, v);
}

static void bind_int64(pg_stmt *s, int i, int64_t v)
{
	if (i < 1 || i > PG_MAX_PARAMS)
		return;
	snprintf(s->s_num[i - 1], sizeof(s->s_num[i - 1]), "%" PRId64, v);
	bind_param(s, i, s->s_num[i - 1]);
}

static void bind_null(pg_stmt *s, int i)
{
	bind_param(s, i, NULL);
}

/* Whether statement id writes: outside a transaction it takes the write
 * lock first, as any SQLite write does. */
static bool stmt_writes(int id);
static status_t tx_begin(pg_meta *m);
static status_t tx_commit(pg_meta *m);
static void tx_rollback(pg_meta *m);

static status_t session_setup(pg_meta *m);

/* Seconds of CLOCK_MONOTONIC: reconnect pacing ignores clock changes. */
static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Sets the failure that says the connection cannot be used now. */
static void note_lost(pg_meta *m, const char *why)
{
	size_t len;

	if (why != m->m_err)
		snprintf(m->m_err, sizeof(m->m_err), "%s", why ? why : "connection lost");
	len = strlen(m->m_err);
	while (len > 0 && (m->m_err[len - 1] == '\n' || m->m_err[len - 1] == ' '))
		m->m_err[--len] = '\0';
	/* libpq's connect failures run over lines: the log's are one each */
	for (char *p = m->m_err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	m->m_errcode = PG_ERROR;
	m->m_lost = true;
	m->m_nospace = false;
}

/*
 * Makes the connection usable if it broke: ST_OK (it is, perhaps new), or
 * ST_UNAVAILABLE with m_lost set when it cannot be now: inside a
 * transaction (which died with it; the caller ends it and the next call
 * reconnects), while a session lock is held (see the file's comment),
 * within META_PG_RECONNECT_S of a failed attempt, or the server refusing.
 * force skips the pacing: a statement that found the connection dead just
 * now gets one attempt at once.
 */
static status_t conn_ready(pg_meta *m, bool force)
{
	time_t now;

	if (!m->m_broken && libpq.status(m->m_conn) == CONNECTION_OK)
		return ST_OK;
	m->m_broken = true;
	if (m->m_outer || m->m_tx || m->m_locks > 0) {
		note_lost(m, "the connection to PostgreSQL was lost");
		return ST_UNAVAILABLE;
	}
	now = mono_s();
	if (!force && now < m->m_retry_at) {
		note_lost(m, "PostgreSQL cannot be reached (retrying)");
		return ST_UNAVAILABLE;
	}
	/* results already fetched stay readable: a PGresult outlives its
	 * connection; the statements' parameters stay bound for a rerun */
	libpq.reset(m->m_conn);
	if (libpq.status(m->m_conn) != CONNECTION_OK || session_setup(m) != ST_OK) {
		/* a failed setup on a live connection (a prepare refused) is
		 * tried again the same way a refused connect is */
		note_lost(m, libpq.status(m->m_conn) == CONNECTION_OK
				 ? m->m_err
				 : libpq.error_message(m->m_conn));
		m->m_retry_at = now + META_PG_RECONNECT_S;
		if (!atomic_exchange(&pg_outage, true))
			log_error("meta: PostgreSQL cannot be reached: %s; requests that need it "
				  "answer 503 until it can (each connection retries at most every "
				  "%d s)",
				  m->m_err, META_PG_RECONNECT_S);
		return ST_UNAVAILABLE;
	}
	m->m_broken = false;
	m->m_lost = false;
	if (atomic_exchange(&pg_outage, false))
		log_info("meta: PostgreSQL can be reached again: reconnected");
	else
		log_warn("meta: the connection to PostgreSQL was lost: reconnected");
	return ST_OK;
}

/* Whether statement id may run again after its connection died under it:
 * it changes nothing, or (the failed-login sweep) only removes rows that
 * a second run would remove as well. */
static bool stmt_rerunnable(int id)
{
	return strncmp(stmt_sql[id], "SELECT", 6) == 0 || id == S_LOGIN_CHECK;
}

/* Executes s at its first call (the whole result is fetched), then gives
 * one row per call: PG_ROW, PG_DONE after the last, or an error code. A
 * read outside any transaction that finds its connection dead runs once
 * more on a new one. */
static int stmt_step(pg_stmt *s)
{
	pg_meta *m = s->s_m;

	if (s->s_res == NULL) {
		char name[16];
		ExecStatusType t;
		bool own = false, idle;

		if (conn_ready(m, false) != ST_OK)
			return m->m_errcode;
		idle = autocommit(m) && !m->m_tx && !m->m_outer;
		if (stmt_writes(s->s_id) && idle) {
			/* a lone write takes the write lock like a transaction */
			if (tx_begin(m) != ST_OK)
				return m->m_errcode;
			own = true;
		}
		snprintf(name, sizeof(name), "s%d", s->s_id);
		s->s_res =
		    libpq.exec_prepared(m->m_conn, name, s->s_nparams, s->s_vals, NULL, NULL, 0);
		t = s->s_res ? libpq.result_status(s->s_res) : PGRES_FATAL_ERROR;
		if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
			int rc = note_error(m, s->s_res);

			libpq.clear(s->s_res);
			s->s_res = NULL;
			if (own)
				tx_rollback(m);
			if (!m->m_lost || own || !idle || !stmt_rerunnable(s->s_id) ||
			    conn_ready(m, true) != ST_OK)
				return rc;
			s->s_res = libpq.exec_prepared(m->m_conn, name, s->s_nparams, s->s_vals,
						       NULL, NULL, 0);
			t = s->s_res ? libpq.result_status(s->s_res) : PGRES_FATAL_ERROR;
			if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
				rc = note_error(m, s->s_res);
				libpq.clear(s->s_res);
				s->s_res = NULL;
				return rc;
			}
		}
		m->m_changes = atol(libpq.cmd_tuples(s->s_res));
		s->s_nrows = t == PGRES_TUPLES_OK ? libpq.ntuples(s->s_res) : 0;
		s->s_row = -1;
		if (own && tx_commit(m) != ST_OK) {
			libpq.clear(s->s_res);
			s->s_res = NULL;
			return m->m_errcode;
		}
	}
	if (s->s_row + 1 < s->s_nrows) {
		s->s_row++;
		return PG_ROW;
	}
	s->s_row = s->s_nrows;
	return PG_DONE;
}

/* Steps s once and ends its use; returns the step's code. */
static int stmt_run(pg_stmt *s)
{
	int rc = stmt_step(s);

	stmt_done(s);
	return rc;
}

/* Column col of the current row as text, NULL for SQL NULL. */
static const char *col_text(pg_stmt *s, int col)
{
	if (s->s_res == NULL || s->s_row < 0 || s->s_row >= s->s_nrows ||
	    libpq.getisnull(s->s_res, s->s_row, col))
		return NULL;
	return libpq.getvalue(s->s_res, s->s_row, col);
}

/* Column col as an integer (0 for NULL; sums come as numeric text). */
static int64_t col_int64(pg_stmt *s, int col)
{
	const char *v = col_text(s, col);

	if (v == NULL)
		return 0;
	if (v[0] == 't' && v[1] == '\0')
		return 1;
	return strtoll(v, NULL, 10);
}

/* True if s (non-NULL) would not fit a buffer of max bytes with its NUL. */
static int too_long(const char *s, size_t max)
{
	return strnlen(s, max) >= max;
}

/* Copies column col of s into out[max] ("" for NULL). */
static void column_copy(char *out, size_t max, pg_stmt *s, int col)
{
	const char *v = col_text(s, col);

	snprintf(out, max, "%s", v ? v : "");
}

/*
 * BEGIN and the cluster-wide write lock (waiting up to lock_timeout); inside
 * meta_write_begin's transaction, a savepoint: a part of it that can fail
 * alone. ST_OK with the lock held, else a status.
 */
static status_t tx_begin(pg_meta *m)
{
	int rc;

	if (m->m_outer) {
		rc = exec_cmd(m, "SAVEPOINT part");
		return rc == PG_DONE ? ST_OK : db_status(m, rc, "SAVEPOINT");
	}
	if (conn_ready(m, false) != ST_OK)
		return db_status(m, m->m_errcode, "BEGIN");
	/* BEGIN changes nothing: on a connection found dead it runs again on
	 * a new one, so a write after a restart does not fail for it */
	if ((rc = exec_cmd(m, "BEGIN")) != PG_DONE &&
	    (!m->m_lost || conn_ready(m, true) != ST_OK || (rc = exec_cmd(m, "BEGIN")) != PG_DONE))
		return db_status(m, rc, "BEGIN");
	m->m_tx = true;
	rc = exec_cmd(m, "SELECT pg_advisory_xact_lock(" META_PG_WRITE_LOCK ")");
	if (rc != PG_DONE) {
		status_t st = db_status(m, rc, "the write lock");
		bool lost = m->m_lost;

		tx_rollback(m);
		m->m_errcode = rc;
		m->m_lost = lost;
		return st;
	}
	return ST_OK;
}

/* COMMIT; on failure the transaction is rolled back. */
static status_t tx_commit(pg_meta *m)
{
	int rc;

	if (m->m_outer) {
		rc = exec_cmd(m, "RELEASE part");
		return rc == PG_DONE ? ST_OK : db_status(m, rc, "RELEASE");
	}
	m->m_tx = false;
	/* COMMIT of an aborted transaction "succeeds" as a ROLLBACK */
	if (libpq.transaction_status(m->m_conn) == PQTRANS_INERROR) {
		exec_cmd(m, "ROLLBACK");
		snprintf(m->m_err, sizeof(m->m_err), "a statement failed: rolled back");
		return db_status(m, PG_ERROR, "COMMIT");
	}
	rc = exec_cmd(m, "COMMIT");
	if (rc == PG_DONE)
		return ST_OK;
	/* A COMMIT lost with its connection may have committed or not: it is
	 * never sent again (ST_UNAVAILABLE; the client retries the request). */
	if (!m->m_lost && !autocommit(m))
		exec_cmd(m, "ROLLBACK");
	return db_status(m, rc, "COMMIT");
}

/* ROLLBACK if a transaction is open (none is on a dead connection: the
 * server ended it). Keeps the failure that led here in m_err. */
static void tx_rollback(pg_meta *m)
{
	if (!m->m_outer)
		m->m_tx = false;
	if (m->m_broken || libpq.status(m->m_conn) != CONNECTION_OK || autocommit(m))
		return;
	if (m->m_outer) {
		/* undo this part; the outer transaction goes on */
		exec_cmd(m, "ROLLBACK TO part");
		exec_cmd(m, "RELEASE part");
		return;
	}
	exec_cmd(m, "ROLLBACK");
}

static bool stmt_writes(int id)
{
	const char *sql = stmt_sql[id];

	/* Failed logins are rows of their own, each statement atomic alone:
	 * a login need not wait behind a push or a collection. */
	if (id >= S_LOGIN_CHECK && id <= S_LOGIN_UNLOCK)
		return false;
	return strncmp(sql, "INSERT", 6) == 0 || strncmp(sql, "UPDATE", 6) == 0 ||
	       strncmp(sql, "DELETE", 6) == 0;
}

/* ---- opening ---- */

/* Now, in microseconds: the unit of the last-referenced times. */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The schema version recorded in the database (0: none yet). */
static status_t schema_version(pg_meta *m, int *out)
{
	PGresult *r = libpq.exec(m->m_conn, "SELECT max(v) FROM schema_version");
	status_t st = ST_OK;

	if (r != NULL && libpq.result_status(r) == PGRES_TUPLES_OK) {
		*out = libpq.ntuples(r) > 0 && !libpq.getisnull(r, 0, 0)
			   ? atoi(libpq.getvalue(r, 0, 0))
			   : 0;
	} else {
		st = db_status(m, note_error(m, r), "schema version");
	}
	libpq.clear(r);
	return st;
}

/*
 * Brings the schema to META_SCHEMA_VERSION, each migration in its own
 * transaction, under a session advisory lock so that replicas starting
 * together on an empty database do it once (the others wait for the lock,
 * then find it done). A database newer than this code is refused.
 */
static status_t migrate(pg_meta *m)
{
	status_t st = ST_OK;
	int v = 0, rc;

	rc = exec_cmd(m, "SELECT pg_advisory_lock(" META_PG_MIGRATE_LOCK ")");
	if (rc != PG_DONE)
		return db_status(m, rc, "the migration lock");
	if ((rc = exec_cmd(m, "CREATE TABLE IF NOT EXISTS schema_version (v INTEGER NOT NULL)")) !=
	    PG_DONE) {
		st = db_status(m, rc, "schema_version");
		goto done;
	}
	if ((st = schema_version(m, &v)) != ST_OK)
		goto done;
	if (v > META_SCHEMA_VERSION) {
		log_error("meta: schema version %d is not %d: a newer registry made this database?",
			  v, META_SCHEMA_VERSION);
		st = ST_IO;
		goto done;
	}
	for (int i = v; i < META_SCHEMA_VERSION; i++) {
		char set[64];

		snprintf(set, sizeof(set), "INSERT INTO schema_version(v) VALUES (%d)", i + 1);
		if ((rc = exec_cmd(m, "BEGIN")) != PG_DONE ||
		    (rc = exec_cmd(m, migrations[i])) != PG_DONE ||
		    (rc = exec_cmd(m, set)) != PG_DONE || (rc = exec_cmd(m, "COMMIT")) != PG_DONE) {
			st = db_status(m, rc, "migrating the schema");
			exec_cmd(m, "ROLLBACK");
			goto done;
		}
		log_info("meta: postgres schema at version %d", i + 1);
	}
done:
	exec_cmd(m, "SELECT pg_advisory_unlock(" META_PG_MIGRATE_LOCK ")");
	return st;
}

/* Prepares every statement from S_ROLLBACK + 1 once, for the life of the
 * connection, as "s<id>". */
static status_t prepare(pg_meta *m)
{
	for (int i = 0; i < S__COUNT; i++) {
		m->m_stmt[i].s_m = m;
		m->m_stmt[i].s_id = i;
	}
	for (int i = S_ROLLBACK + 1; i < S__COUNT; i++) {
		char name[16];
		PGresult *r;
		int rc = PG_DONE;

		snprintf(name, sizeof(name), "s%d", i);
		r = libpq.prepare(m->m_conn, name, stmt_sql[i], 0, NULL);
		if (r == NULL || libpq.result_status(r) != PGRES_COMMAND_OK)
			rc = note_error(m, r);
		libpq.clear(r);
		if (rc != PG_DONE)
			return db_status(m, rc, stmt_sql[i]);
	}
	return ST_OK;
}

/* What a new connection needs before its first statement, at open and
 * after each reconnect (the server forgot all of it): the session
 * settings and the prepared statements. ST_OK, or db_status's answer. */
static status_t session_setup(pg_meta *m)
{
	int rc;

	if ((rc = exec_cmd(m, "SET lock_timeout = '" META_PG_LOCK_TIMEOUT "'")) != PG_DONE ||
	    (rc = exec_cmd(m, "SET synchronous_commit = on")) != PG_DONE)
		return db_status(m, rc, "session settings");
	return prepare(m);
}

/* Notices (an IF NOT EXISTS that found it) are not worth a log line. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void pg_close(meta *base);

static status_t pg_open(meta **out, const char *conninfo)
{
	pg_meta *m = NULL;
	status_t st;

	*out = NULL;
	if (conninfo == NULL)
		return ST_INVALID;
	if ((st = pq_load()) != ST_OK)
		return st;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ST_NOMEM;
	m->m_base.m_ops = &meta_pg_ops;
	m->m_conn = libpq.connectdb(conninfo);
	if (m->m_conn == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if (libpq.status(m->m_conn) != CONNECTION_OK) {
		/* the outage once: a new thread's connection failing during
		 * one already reported is no news */
		if (atomic_exchange(&pg_outage, true))
			log_debug("meta: cannot connect to PostgreSQL: %s",
				  libpq.error_message(m->m_conn));
		else
			log_error("meta: cannot connect to PostgreSQL: %s",
				  libpq.error_message(m->m_conn));
		st = ST_UNAVAILABLE;
		goto done;
	}
	libpq.set_notice_processor(m->m_conn, quiet, NULL);
	/* migrate before lock_timeout: a replica waits for another's migration
	 * however long it takes */
	if ((st = migrate(m)) != ST_OK)
		goto done;
	if ((st = session_setup(m)) != ST_OK)
		goto done;
	if (atomic_exchange(&pg_outage, false))
		log_info("meta: PostgreSQL can be reached again: connected");
	*out = &m->m_base;
	m = NULL;
	st = ST_OK;
done:
	if (m != NULL)
		pg_close(&m->m_base);
	return st;
}

static void pg_close(meta *base)
{
	pg_meta *m = pg_of(base);

	for (int i = 0; i < S__COUNT; i++)
		stmt_done(&m->m_stmt[i]);
	if (m->m_conn != NULL)
		libpq.finish(m->m_conn);
	free(m);
}

/* ---- repositories ---- */

/* The id of repo: ST_OK with *out_id, ST_NOT_FOUND, ST_IO. */
static status_t repo_id(pg_meta *m, const char *repo, int64_t *out_id)
{
	pg_stmt *s = stmt_get(m, S_REPO_ID);
	status_t st = ST_OK;
	int rc;

	bind_text(s, 1, repo);
	rc = stmt_step(s);
	if (rc == PG_ROW)
		*out_id = col_int64(s, 0);
	else if (rc == PG_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "repository lookup");
	stmt_done(s);
	return st;
}

/* The id of repo, inserting it if new. Call inside a write transaction. */
static status_t repo_ensure(pg_meta *m, const char *repo, int64_t *out_id)
{
	pg_stmt *s;
	status_t st = repo_id(m, repo, out_id);
	int rc;

	if (st != ST_NOT_FOUND)
		return st;
	s = stmt_get(m, S_REPO_INSERT);
	bind_text(s, 1, repo);
	/* RETURNING id: the row's id, as SQLite's last_insert_rowid */
	if ((rc = stmt_step(s)) != PG_ROW) {
		stmt_done(s);
		return db_status(m, rc, "repository insert");
	}
	*out_id = col_int64(s, 0);
	stmt_done(s);
	return ST_OK;
}

static status_t pg_repo_exists(meta *base, const char *repo)
{
	pg_meta *m = pg_of(base);
	int64_t id;

	if (repo == NULL)
		return ST_NOT_FOUND;
	return repo_id(m, repo, &id);
}

/*
 * Runs a name list query s whose last two parameters, at last_param and
 * last_param + 1, are the `name > ?` key and the LIMIT; calls fn per name.
 * Fetches one row past n to learn *out_more without a count.
 */
static status_t list_names(pg_meta *m, pg_stmt *s, int last_param, const char *last, int n,
			   int (*fn)(void *arg, const char *name), void *arg, bool *out_more)
{
	bool more = false;
	int count = 0, rc;
	status_t st = ST_OK;

	bind_text(s, last_param, last ? last : "");
	bind_int64(s, last_param + 1, n > 0 ? (int64_t)n + 1 : -1);
	while ((rc = stmt_step(s)) == PG_ROW) {
		if (n > 0 && count == n) {
			more = true;
			break;
		}
		count++;
		if (fn(arg, (const char *)col_text(s, 0)) != 0) {
			/* The caller stopped: is anything after this one? */
			more = stmt_step(s) == PG_ROW;
			break;
		}
	}
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "listing names");
	stmt_done(s);
	if (out_more)
		*out_more = st == ST_OK && more;
	return st;
}

static status_t pg_repo_list(meta *base, const char *last, int n,
			     int (*fn)(void *arg, const char *name), void *arg, bool *out_more)
{
	pg_meta *m = pg_of(base);
	return list_names(m, stmt_get(m, S_REPO_LIST), 1, last, n, fn, arg, out_more);
}

/* ---- blobs linked to a repository ---- */

/* Forgets that digest was quarantined (its bytes were stored anew). */
static status_t quarantine_clear(pg_meta *m, const char *digest)
{
	pg_stmt *s = stmt_get(m, S_QUAR_CLEAR);
	int rc;

	bind_text(s, 1, digest);
	rc = stmt_run(s);
	return rc == PG_DONE ? ST_OK : db_status(m, rc, "quarantine clear");
}

static status_t run_rid_digest(pg_meta *m, int id, int64_t rid, const char *digest,
			       int *out_changes);

/* Upserts digest's row (a reference now) and, with out_created, gives its
 * creation time. Inside a transaction or alone. */
static status_t row_upsert(pg_meta *m, const char *digest, uint64_t size, int64_t now,
			   int64_t *out_created)
{
	pg_stmt *s = stmt_get(m, S_ROW_UPSERT);
	int rc;

	bind_text(s, 1, digest);
	bind_int64(s, 2, (int64_t)size);
	bind_int64(s, 3, now);
	rc = stmt_step(s);
	if (rc == PG_ROW) {
		if (out_created != NULL)
			*out_created = col_int64(s, 0);
		rc = stmt_step(s);
	}
	stmt_done(s);
	return rc == PG_DONE ? ST_OK : db_status(m, rc, "blob row");
}

/* Links digest to repository rid and bumps the link (its row is the
 * caller's). Inside a transaction. */
static status_t link_upsert(pg_meta *m, int64_t rid, const char *digest, uint64_t size, int64_t now)
{
	pg_stmt *s = stmt_get(m, S_BLOB_LINK);
	int rc;

	bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	bind_int64(s, 3, (int64_t)size);
	bind_int64(s, 4, now);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "blob link");
	return ST_OK;
}

/* Bumps the link of digest to repository rid; *out_changes: 1 if there
 * is one, else 0. Inside a transaction. */
static status_t link_bump(pg_meta *m, int64_t rid, const char *digest, int64_t now,
			  int *out_changes)
{
	pg_stmt *s = stmt_get(m, S_LINK_BUMP);
	int rc;

	bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	bind_int64(s, 3, now);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "link bump");
	if (out_changes != NULL)
		*out_changes = m->m_changes;
	return ST_OK;
}

/* Bumps digest's row (no row: nothing). Inside a transaction. */
static status_t row_bump(pg_meta *m, const char *digest, int64_t now)
{
	pg_stmt *s = stmt_get(m, S_ROW_BUMP);
	int rc;

	bind_text(s, 1, digest);
	bind_int64(s, 2, now);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "blob row bump");
	return ST_OK;
}

/* Removes repository rid if nothing is left in it (no tag, manifest or
 * link), so it leaves the catalog. Inside the transaction that emptied it. */
static status_t repo_drop_empty(pg_meta *m, int64_t rid)
{
	pg_stmt *s = stmt_get(m, S_REPO_DROP_EMPTY);
	int rc;

	bind_int64(s, 1, rid);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "repository drop");
	return ST_OK;
}

static bool args_ok(const char *repo, const char *digest, uint64_t size)
{
	return repo != NULL && digest != NULL && !too_long(repo, META_NAME_MAX) &&
	       !too_long(digest, DIGEST_MAX) && size <= INT64_MAX;
}

static status_t pg_blob_link(meta *base, const char *repo, const char *digest, uint64_t size)
{
	pg_meta *m = pg_of(base);
	int64_t rid, now = now_us();
	status_t st;

	if (!args_ok(repo, digest, size))
		return ST_INVALID;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_ensure(m, repo, &rid)) != ST_OK ||
	    (st = row_upsert(m, digest, size, now, NULL)) != ST_OK ||
	    (st = link_upsert(m, rid, digest, size, now)) != ST_OK)
		goto done;
	/* A link follows a commit or mount of stored bytes: they are whole. */
	if ((st = quarantine_clear(m, digest)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

/* Runs a one-row size query s (already bound): ST_OK with *out_size, ST_NOT_FOUND, ST_IO. */
static status_t size_query(pg_meta *m, pg_stmt *s, uint64_t *out_size)
{
	status_t st = ST_OK;
	int rc = stmt_step(s);

	if (rc == PG_ROW) {
		if (out_size)
			*out_size = (uint64_t)col_int64(s, 0);
	} else if (rc == PG_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "blob lookup");
	}
	stmt_done(s);
	return st;
}

static status_t pg_blob_get(meta *base, const char *repo, const char *digest, uint64_t *out_size)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_BLOB_GET);

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	return size_query(m, s, out_size);
}

static status_t pg_blob_find(meta *base, const char *digest, uint64_t *out_size)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_BLOB_FIND);

	if (digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, digest);
	return size_query(m, s, out_size);
}

static status_t pg_blob_repos(meta *base, const char *digest,
			      int (*fn)(void *arg, const char *repo), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_BLOB_REPOS);
	status_t st = ST_OK;
	int rc;

	if (digest == NULL)
		return ST_OK;
	bind_text(s, 1, digest);
	while ((rc = stmt_step(s)) == PG_ROW)
		if (fn(arg, (const char *)col_text(s, 0)) != 0)
			break;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "listing a blob's repositories");
	stmt_done(s);
	return st;
}

/* Runs a DELETE/UPDATE s (already bound): ST_OK if it changed a row, else
 * ST_NOT_FOUND; ST_NO_SPACE, ST_IO. */
static status_t change_one(pg_meta *m, pg_stmt *s, const char *what)
{
	int rc = stmt_run(s);

	if (rc != PG_DONE)
		return db_status(m, rc, what);
	return m->m_changes > 0 ? ST_OK : ST_NOT_FOUND;
}

static status_t pg_blob_unlink(meta *base, const char *repo, const char *digest)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	int changes = 0;
	status_t st;

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK ||
	    (st = run_rid_digest(m, S_BLOB_UNLINK, rid, digest, &changes)) != ST_OK)
		goto done;
	if (changes == 0) {
		st = ST_NOT_FOUND;
		goto done;
	}
	if ((st = repo_drop_empty(m, rid)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

/* ---- the event queue ---- */

/* Whether each of v[0..n) has its strings. */
static bool events_valid(const meta_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].endpoint == NULL || v[i].repo == NULL || v[i].body == NULL ||
		    v[i].endpoint[0] == '\0' || v[i].body[0] == '\0')
			return false;
	return true;
}

/* Inserts v[0..n) (checked by events_valid); inside a write transaction. */
static status_t events_insert(pg_meta *m, const meta_event *v, size_t n)
{
	int64_t now = (int64_t)time(NULL);
	int rc;

	for (size_t i = 0; i < n; i++) {
		pg_stmt *s = stmt_get(m, S_EV_ADD);
		bind_text(s, 1, v[i].endpoint);
		bind_text(s, 2, v[i].repo);
		bind_text(s, 3, v[i].body);
		bind_int64(s, 4, now);
		if ((rc = stmt_run(s)) != PG_DONE)
			return db_status(m, rc, "event insert");
	}
	return ST_OK;
}

static status_t pg_events_add(meta *base, const meta_event *v, size_t n)
{
	pg_meta *m = pg_of(base);
	status_t st;

	if ((n > 0 && v == NULL) || !events_valid(v, n))
		return ST_INVALID;
	if (n == 0)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = events_insert(m, v, n)) == ST_OK)
		st = tx_commit(m);
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

static status_t
pg_events_next(meta *base, const char *endpoint, int n,
	       int (*fn)(void *arg, int64_t seq, const char *repo, const char *body), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	status_t st = ST_OK;
	int rc;

	if (endpoint == NULL || n <= 0)
		return ST_OK;
	s = stmt_get(m, S_EV_NEXT);
	bind_text(s, 1, endpoint);
	bind_int64(s, 2, n);
	while ((rc = stmt_step(s)) == PG_ROW)
		if (fn(arg, (int64_t)col_int64(s, 0), (const char *)col_text(s, 1),
		       (const char *)col_text(s, 2)) != 0)
			break;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "reading the event queue");
	stmt_done(s);
	return st;
}

static status_t pg_events_ack(meta *base, const char *endpoint, int64_t seq)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_EV_ACK);
	int rc;

	if (endpoint == NULL)
		return ST_OK;
	bind_text(s, 1, endpoint);
	bind_int64(s, 2, (int64_t)seq);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "event acknowledgement");
	return ST_OK;
}

static status_t pg_events_count(meta *base, int (*fn)(void *arg, const char *endpoint, uint64_t n),
				void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_EV_COUNT);
	status_t st = ST_OK;
	int rc;

	while ((rc = stmt_step(s)) == PG_ROW)
		if (fn(arg, (const char *)col_text(s, 0), (uint64_t)col_int64(s, 1)) != 0)
			break;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "counting the event queue");
	stmt_done(s);
	return st;
}

/* ---- manifests ---- */

/* Copies the MAN_COLS of the current row of s into out (annotations NULL). */
static void fill_manifest(meta_manifest *out, pg_stmt *s)
{
	column_copy(out->digest, sizeof(out->digest), s, 0);
	column_copy(out->media_type, sizeof(out->media_type), s, 1);
	out->size = (uint64_t)col_int64(s, 2);
	column_copy(out->artifact_type, sizeof(out->artifact_type), s, 3);
	column_copy(out->subject, sizeof(out->subject), s, 4);
	out->pushed = (time_t)col_int64(s, 5);
	column_copy(out->pushed_by, sizeof(out->pushed_by), s, 6);
	out->last_pull = (time_t)col_int64(s, 7);
	out->pulls = (uint64_t)col_int64(s, 8);
	out->annotations = NULL;
}

/* A push's checks, inside its transaction: every digest p->need names is
 * in repository rid (a linked blob, or a manifest of it), each bumped so a
 * collection that read it before cannot take it; the manifest's own row is
 * the one meta_blob_hold gave (else ST_BUSY: it went meanwhile). */
static status_t push_check(pg_meta *m, int64_t rid, const meta_manifest *man, meta_push *p,
			   int64_t now)
{
	pg_stmt *s;
	status_t st;
	int rc;

	for (size_t i = 0; i < p->nneed; i++) {
		s = stmt_get(m, p->need_manifests ? S_MAN_SIZE : S_LINK_SIZE);
		bind_int64(s, 1, rid);
		bind_text(s, 2, p->need[i]);
		rc = stmt_step(s);
		stmt_done(s);
		if (rc == PG_DONE) {
			p->missing = i;
			return ST_NOT_FOUND;
		}
		if (rc != PG_ROW)
			return db_status(m, rc, "push check");
		if (!p->need_manifests && (st = link_bump(m, rid, p->need[i], now, NULL)) != ST_OK)
			return st;
		if ((st = row_bump(m, p->need[i], now)) != ST_OK)
			return st;
	}
	/* a referrer keeps its subject from being collected as untagged */
	if (man->subject[0] != '\0' && (st = row_bump(m, man->subject, now)) != ST_OK)
		return st;
	s = stmt_get(m, S_ROW_GET);
	bind_text(s, 1, man->digest);
	rc = stmt_step(s);
	st = rc == PG_ROW    ? (col_int64(s, 1) == p->gen ? ST_OK : ST_BUSY)
	     : rc == PG_DONE ? ST_BUSY
			     : db_status(m, rc, "push check");
	stmt_done(s);
	return st;
}

/* meta_manifest_put, and meta_manifest_push when p is not NULL. */
static status_t manifest_store(pg_meta *m, const char *repo, const meta_manifest *man,
			       const char *const *refs, size_t nrefs, const char *const *tags,
			       size_t ntags, meta_push *p)
{
	pg_stmt *s;
	int64_t rid, now = now_us();
	time_t secs = time(NULL);
	bool fresh;
	status_t st;
	int rc;

	/* Refuse what meta_manifest_get could not give back whole. */
	if (repo == NULL || man == NULL || too_long(repo, META_NAME_MAX) ||
	    too_long(man->digest, DIGEST_MAX) || man->digest[0] == '\0' ||
	    too_long(man->media_type, META_MEDIA_TYPE_MAX) ||
	    too_long(man->artifact_type, META_MEDIA_TYPE_MAX) ||
	    too_long(man->subject, DIGEST_MAX) || too_long(man->pushed_by, META_NAME_MAX) ||
	    man->size > INT64_MAX || (nrefs > 0 && refs == NULL) || (ntags > 0 && tags == NULL) ||
	    (p != NULL && p->nneed > 0 && p->need == NULL))
		return ST_INVALID;
	for (size_t i = 0; i < ntags; i++)
		if (tags[i] == NULL || tags[i][0] == '\0' || too_long(tags[i], META_TAG_MAX))
			return ST_INVALID;
	for (size_t i = 0; i < nrefs; i++)
		if (refs[i] == NULL)
			return ST_INVALID;
	if ((man->nevents > 0 && man->events == NULL) || !events_valid(man->events, man->nevents))
		return ST_INVALID;
	for (size_t i = 0; p != NULL && i < p->nneed; i++)
		if (p->need[i] == NULL)
			return ST_INVALID;

	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_ensure(m, repo, &rid)) != ST_OK)
		goto done;
	if (p != NULL && (st = push_check(m, rid, man, p, now)) != ST_OK)
		goto done;
	/* the manifest's bytes are a blob of the store like any other */
	if ((st = row_upsert(m, man->digest, man->size, now, NULL)) != ST_OK)
		goto done;
	s = stmt_get(m, S_MAN_INSERT);
	bind_int64(s, 1, rid);
	bind_text(s, 2, man->digest);
	bind_text(s, 3, man->media_type);
	bind_int64(s, 4, (int64_t)man->size);
	bind_text(s, 5, man->artifact_type);
	bind_text(s, 6, man->subject);
	if (man->annotations != NULL)
		bind_text(s, 7, man->annotations);
	else
		bind_null(s, 7);
	bind_int64(s, 8, (int64_t)secs); /* seconds: the push record */
	bind_text(s, 9, man->pushed_by);
	if ((rc = stmt_run(s)) != PG_DONE) {
		st = db_status(m, rc, "manifest insert");
		goto done;
	}
	/* Known already: its row and references stay as they were. */
	fresh = m->m_changes > 0;
	/* Its bytes were stored again just before: no longer quarantined. */
	if ((st = quarantine_clear(m, man->digest)) != ST_OK)
		goto done;
	for (size_t i = 0; fresh && i < nrefs; i++) {
		s = stmt_get(m, S_REF_INSERT);
		bind_int64(s, 1, rid);
		bind_text(s, 2, man->digest);
		bind_text(s, 3, refs[i]);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "manifest reference insert");
			goto done;
		}
	}
	for (size_t i = 0; i < ntags; i++) {
		s = stmt_get(m, S_TAG_SET);
		bind_int64(s, 1, rid);
		bind_text(s, 2, tags[i]);
		bind_text(s, 3, man->digest);
		bind_int64(s, 4, (int64_t)secs);
		bind_text(s, 5, man->pushed_by);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "tag set");
			goto done;
		}
	}
	/* In this transaction: the push and its events commit together. */
	if ((st = events_insert(m, man->events, man->nevents)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

static status_t pg_manifest_put(meta *base, const char *repo, const meta_manifest *man,
				const char *const *refs, size_t nrefs, const char *const *tags,
				size_t ntags)
{
	return manifest_store(pg_of(base), repo, man, refs, nrefs, tags, ntags, NULL);
}

static status_t pg_manifest_push(meta *base, const char *repo, const meta_manifest *man,
				 const char *const *refs, size_t nrefs, const char *const *tags,
				 size_t ntags, meta_push *p)
{
	if (p == NULL)
		return ST_INVALID;
	return manifest_store(pg_of(base), repo, man, refs, nrefs, tags, ntags, p);
}

static status_t pg_manifest_get(meta *base, const char *repo, const char *ref, meta_manifest *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	status_t st = ST_OK;
	int rc;

	if (repo == NULL || ref == NULL)
		return ST_NOT_FOUND;
	s = stmt_get(m, strchr(ref, ':') ? S_MAN_BY_DIGEST : S_MAN_BY_TAG);
	bind_text(s, 1, repo);
	bind_text(s, 2, ref);
	rc = stmt_step(s);
	if (rc == PG_ROW)
		fill_manifest(out, s);
	else if (rc == PG_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "manifest lookup");
	stmt_done(s);
	return st;
}

/* Runs statement id with (repo id, digest) bound; ST_OK or a status. */
static status_t run_rid_digest(pg_meta *m, int id, int64_t rid, const char *digest,
			       int *out_changes)
{
	pg_stmt *s = stmt_get(m, id);
	int rc;

	bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, stmt_sql[id]);
	if (out_changes)
		*out_changes = m->m_changes;
	return ST_OK;
}

static status_t pg_manifest_delete(meta *base, const char *repo, const char *digest)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	int changes = 0;
	status_t st;

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	/* Children first: the foreign keys would refuse the manifest's delete. */
	if ((st = run_rid_digest(m, S_MAN_TAGS_DELETE, rid, digest, NULL)) != ST_OK ||
	    (st = run_rid_digest(m, S_MAN_REFS_DELETE, rid, digest, NULL)) != ST_OK ||
	    (st = run_rid_digest(m, S_MAN_DELETE, rid, digest, &changes)) != ST_OK)
		goto done;
	if (changes == 0) {
		st = ST_NOT_FOUND;
		goto done;
	}
	if ((st = repo_drop_empty(m, rid)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

/* ---- tags ---- */

static status_t pg_tag_delete(meta *base, const char *repo, const char *tag)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	int64_t rid;
	status_t st;

	if (repo == NULL || tag == NULL)
		return ST_NOT_FOUND;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	s = stmt_get(m, S_TAG_DELETE);
	bind_int64(s, 1, rid);
	bind_text(s, 2, tag);
	if ((st = change_one(m, s, "tag delete")) != ST_OK ||
	    (st = repo_drop_empty(m, rid)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

static status_t pg_tag_list(meta *base, const char *repo, const char *last, int n,
			    int (*fn)(void *arg, const char *tag), void *arg, bool *out_more)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	int64_t rid;
	status_t st;

	if (out_more)
		*out_more = false;
	if (repo == NULL)
		return ST_NOT_FOUND;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		return st;
	s = stmt_get(m, S_TAG_LIST);
	bind_int64(s, 1, rid);
	return list_names(m, s, 2, last, n, fn, arg, out_more);
}

/* ---- referrers ---- */

static status_t pg_referrers(meta *base, const char *repo, const char *subject,
			     const char *artifact_type,
			     int (*fn)(void *arg, const meta_manifest *man), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	meta_manifest man;
	status_t st = ST_OK;
	int rc;

	if (repo == NULL || subject == NULL)
		return ST_OK;
	s = stmt_get(m, S_REFERRERS);
	bind_text(s, 1, repo);
	bind_text(s, 2, subject);
	if (artifact_type != NULL)
		bind_text(s, 3, artifact_type);
	else
		bind_null(s, 3);
	while ((rc = stmt_step(s)) == PG_ROW) {
		fill_manifest(&man, s);
		/* Valid until the next step: the callback's lifetime, as promised. */
		man.annotations = (const char *)col_text(s, MAN_NCOLS);
		if (fn(arg, &man) != 0)
			break;
	}
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "referrers");
	stmt_done(s);
	return st;
}

/* ---- upload sessions ---- */

static status_t pg_upload_create(meta *base, const char *id, const char *repo, digest_alg alg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	int rc;

	if (id == NULL || repo == NULL || id[0] == '\0' || too_long(id, META_UPLOAD_ID_MAX) ||
	    too_long(repo, META_NAME_MAX) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	s = stmt_get(m, S_UP_CREATE);
	bind_text(s, 1, id);
	bind_text(s, 2, repo);
	bind_text(s, 3, digest_alg_name(alg));
	bind_int64(s, 4, (int64_t)time(NULL));
	rc = stmt_run(s);
	if (rc == PG_CONSTRAINT)
		return ST_EXISTS;
	return rc == PG_DONE ? ST_OK : db_status(m, rc, "upload insert");
}

static status_t pg_upload_get(meta *base, const char *id, meta_upload *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_UP_GET);
	status_t st = ST_OK;
	int rc;

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	rc = stmt_step(s);
	if (rc == PG_ROW) {
		column_copy(out->id, sizeof(out->id), s, 0);
		column_copy(out->repo, sizeof(out->repo), s, 1);
		if (digest_alg_parse((const char *)col_text(s, 2), &out->alg) != ST_OK) {
			log_error("meta: upload %s has an unknown algorithm", id);
			st = ST_IO;
		}
		out->created = (time_t)col_int64(s, 3);
		out->updated = (time_t)col_int64(s, 4);
	} else if (rc == PG_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "upload lookup");
	}
	stmt_done(s);
	return st;
}

static status_t pg_upload_touch(meta *base, const char *id)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_UP_TOUCH);

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	bind_int64(s, 2, (int64_t)time(NULL));
	return change_one(m, s, "upload touch");
}

static status_t pg_upload_delete(meta *base, const char *id)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_UP_DELETE);

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	return change_one(m, s, "upload delete");
}

static status_t pg_upload_list_stale(meta *base, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_UP_STALE);
	status_t st = ST_OK;
	int rc;

	bind_int64(s, 1, (int64_t)before);
	while ((rc = stmt_step(s)) == PG_ROW)
		fn(arg, (const char *)col_text(s, 0));
	if (rc != PG_DONE)
		st = db_status(m, rc, "stale uploads");
	stmt_done(s);
	return st;
}

/* ---- tag records ---- */

/* Copies the TAG_COLS of the current row of s into out. */
static void fill_tag(meta_tag *out, pg_stmt *s)
{
	column_copy(out->name, sizeof(out->name), s, 0);
	column_copy(out->digest, sizeof(out->digest), s, 1);
	out->pushed = (time_t)col_int64(s, 2);
	column_copy(out->pushed_by, sizeof(out->pushed_by), s, 3);
	out->last_pull = (time_t)col_int64(s, 4);
	out->pulls = (uint64_t)col_int64(s, 5);
}

static status_t pg_tag_get(meta *base, const char *repo, const char *tag, meta_tag *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_TAG_GET);
	status_t st = ST_OK;
	int rc;

	if (repo == NULL || tag == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, tag);
	rc = stmt_step(s);
	if (rc == PG_ROW)
		fill_tag(out, s);
	else if (rc == PG_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "tag lookup");
	stmt_done(s);
	return st;
}

static status_t pg_tag_records(meta *base, const char *repo,
			       int (*fn)(void *arg, const meta_tag *t), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_TAG_RECORDS);
	status_t st = ST_OK;
	meta_tag t;
	int rc;

	if (repo == NULL)
		return ST_OK;
	bind_text(s, 1, repo);
	while ((rc = stmt_step(s)) == PG_ROW) {
		fill_tag(&t, s);
		if (fn(arg, &t) != 0)
			break;
	}
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "tag records");
	stmt_done(s);
	return st;
}

/* ---- browsing (the web UI) ---- */

static status_t pg_repo_summary(meta *base, const char *repo, meta_repo_summary *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_REPO_SUMMARY);
	status_t st = ST_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if (repo == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	rc = stmt_step(s);
	if (rc == PG_ROW) {
		out->tags = (uint64_t)col_int64(s, 1);
		out->bytes = (uint64_t)col_int64(s, 2);
		out->last_push = (time_t)col_int64(s, 3);
		out->last_pull = (time_t)col_int64(s, 4);
	} else if (rc == PG_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "repository summary");
	}
	stmt_done(s);
	return st;
}

static status_t pg_tag_page(meta *base, const char *repo, bool by_pushed, int64_t after_pushed,
			    const char *after_name, int n,
			    int (*fn)(void *arg, const meta_tag_row *r), void *arg, bool *out_more)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	int64_t rid;
	meta_tag_row row;
	status_t st;
	int rc, count = 0;

	if (out_more)
		*out_more = false;
	if (repo == NULL || n <= 0)
		return ST_OK;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		return st == ST_NOT_FOUND ? ST_OK : st;
	s = stmt_get(m, by_pushed ? S_TAG_PAGE_PUSHED : S_TAG_PAGE_NAME);
	bind_int64(s, 1, rid);
	bind_text(s, 2, after_name ? after_name : "");
	bind_int64(s, 3, (int64_t)n + 1); /* one more: is there a next page */
	if (by_pushed)
		bind_int64(s, 4, after_pushed);
	while ((rc = stmt_step(s)) == PG_ROW) {
		if (count++ == n) {
			if (out_more)
				*out_more = true;
			break;
		}
		fill_tag(&row.t, s);
		row.size = (uint64_t)col_int64(s, 6);
		column_copy(row.media_type, sizeof(row.media_type), s, 7);
		if (fn(arg, &row) != 0)
			break;
	}
	st = ST_OK;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "tag page");
	stmt_done(s);
	return st;
}

/* ---- write transactions over several calls ---- */

static status_t pg_write_begin(meta *base)
{
	pg_meta *m = pg_of(base);
	status_t st;

	if (m->m_outer)
		return ST_INVALID;
	if ((st = tx_begin(m)) == ST_OK)
		m->m_outer = true;
	return st;
}

static status_t pg_write_end(meta *base, bool commit)
{
	pg_meta *m = pg_of(base);

	if (!m->m_outer)
		return ST_INVALID;
	m->m_outer = false;
	if (!commit) {
		tx_rollback(m);
		return ST_OK;
	}
	/* A failed statement may have ended the transaction (SQLite rolls
	 * back on a full disk, an I/O error): nothing is left to commit. */
	if (autocommit(m)) {
		m->m_tx = false;
		log_error("meta: the transaction was rolled back before its commit");
		return ST_IO;
	}
	return tx_commit(m);
}

/* ---- usage ---- */

/* The ids of the repositories match accepts, as a PostgreSQL array literal
 * ("{1,5}") in *out (caller frees). SQLite calls the predicate from SQL;
 * here it runs over the names, and the ids go back as one parameter. */
static status_t usage_ids(pg_meta *m, bool (*match)(void *arg, const char *repo), void *arg,
			  char **out)
{
	pg_stmt *s = stmt_get(m, S_REPO_ALL);
	size_t len = 1, cap = 64;
	char *v = malloc(cap);
	status_t st = ST_OK;
	int rc;

	*out = NULL;
	if (v == NULL)
		return ST_NOMEM;
	v[0] = '{';
	while ((rc = stmt_step(s)) == PG_ROW) {
		const char *id = col_text(s, 0), *name = col_text(s, 1);
		size_t n;

		if (id == NULL || name == NULL || !match(arg, name))
			continue;
		n = strlen(id);
		if (len + n + 3 > cap) {
			char *bigger = realloc(v, cap * 2 + n);

			if (bigger == NULL) {
				st = ST_NOMEM;
				goto done;
			}
			v = bigger;
			cap = cap * 2 + n;
		}
		if (len > 1)
			v[len++] = ',';
		memcpy(v + len, id, n);
		len += n;
	}
	if (rc != PG_DONE) {
		st = db_status(m, rc, "usage");
		goto done;
	}
	v[len++] = '}';
	v[len] = '\0';
	*out = v;
	v = NULL;
done:
	stmt_done(s);
	free(v);
	return st;
}

static status_t pg_usage(meta *base, bool (*match)(void *arg, const char *repo), void *arg,
			 const char *digest, uint64_t *out_bytes, bool *out_has)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	char *ids = NULL;
	status_t st;
	int rc;

	*out_bytes = 0;
	if (out_has)
		*out_has = false;
	if ((st = usage_ids(m, match, arg, &ids)) != ST_OK)
		return st;
	s = stmt_get(m, S_USAGE);
	if (digest != NULL)
		bind_text(s, 1, digest);
	else
		bind_null(s, 1);
	bind_text(s, 2, ids);
	rc = stmt_step(s);
	if (rc == PG_ROW) {
		*out_bytes = (uint64_t)col_int64(s, 0);
		if (out_has)
			*out_has = col_int64(s, 1) != 0;
	} else {
		st = db_status(m, rc, "usage");
	}
	stmt_done(s);
	free(ids);
	return st;
}

static status_t pg_du(meta *base, bool namespaces, int (*fn)(void *arg, const meta_du_row *r),
		      void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, namespaces ? S_DU_NAMESPACES : S_DU_REPOS);
	status_t st = ST_OK;
	meta_du_row r;
	int rc;

	while ((rc = stmt_step(s)) == PG_ROW) {
		column_copy(r.name, sizeof(r.name), s, 0);
		r.referenced = (uint64_t)col_int64(s, 1);
		r.unique = (uint64_t)col_int64(s, 2);
		r.tags = (uint64_t)col_int64(s, 3);
		r.manifests = (uint64_t)col_int64(s, 4);
		r.last_push = (time_t)col_int64(s, 5);
		r.last_pull = (time_t)col_int64(s, 6);
		r.pulls = (uint64_t)col_int64(s, 7);
		if (fn(arg, &r) != 0)
			break;
	}
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "usage report");
	stmt_done(s);
	return st;
}

static status_t pg_pulls_add(meta *base, const meta_pull *v, size_t n)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	status_t st;
	int rc;

	if (n == 0)
		return ST_OK;
	if (v == NULL)
		return ST_INVALID;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		if (v[i].repo == NULL || v[i].digest == NULL)
			continue;
		s = stmt_get(m, S_PULL_MAN);
		bind_text(s, 1, v[i].repo);
		bind_text(s, 2, v[i].digest);
		bind_int64(s, 3, (int64_t)v[i].when);
		bind_int64(s, 4, (int64_t)v[i].count);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "manifest pull record");
			goto done;
		}
		if (v[i].tag == NULL || v[i].tag[0] == '\0')
			continue;
		s = stmt_get(m, S_PULL_TAG);
		bind_text(s, 1, v[i].repo);
		bind_text(s, 2, v[i].tag);
		bind_text(s, 3, v[i].digest);
		bind_int64(s, 4, (int64_t)v[i].when);
		bind_int64(s, 5, (int64_t)v[i].count);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "tag pull record");
			goto done;
		}
	}
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

/* ---- scrub ---- */

static status_t pg_digests(meta *base, const char *after, int n,
			   int (*fn)(void *arg, const char *digest, uint64_t size), void *arg,
			   bool *out_more)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_DIGESTS);
	bool more = false;
	int count = 0, rc;
	status_t st = ST_OK;

	bind_text(s, 1, after ? after : "");
	bind_int64(s, 2, n > 0 ? (int64_t)n + 1 : -1);
	while ((rc = stmt_step(s)) == PG_ROW) {
		if (n > 0 && count == n) {
			more = true;
			break;
		}
		count++;
		if (fn(arg, (const char *)col_text(s, 0), (uint64_t)col_int64(s, 1)) != 0) {
			more = stmt_step(s) == PG_ROW;
			break;
		}
	}
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "listing digests");
	stmt_done(s);
	if (out_more)
		*out_more = st == ST_OK && more;
	return st;
}

static status_t pg_digest_users(meta *base, const char *digest,
				int (*fn)(void *arg, const char *repo, const char *manifest),
				void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_DIGEST_USERS);
	status_t st = ST_OK;
	int rc;

	if (digest == NULL)
		return ST_OK;
	bind_text(s, 1, digest);
	while ((rc = stmt_step(s)) == PG_ROW)
		if (fn(arg, (const char *)col_text(s, 0), (const char *)col_text(s, 1)) != 0)
			break;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "a digest's manifests");
	stmt_done(s);
	return st;
}

static status_t pg_quarantine_add(meta *base, const char *digest, const char *reason)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_QUAR_ADD);
	int rc;

	if (digest == NULL || reason == NULL || too_long(digest, DIGEST_MAX))
		return ST_INVALID;
	bind_text(s, 1, digest);
	bind_int64(s, 2, (int64_t)time(NULL));
	bind_text(s, 3, reason);
	rc = stmt_run(s);
	return rc == PG_DONE ? ST_OK : db_status(m, rc, "quarantine");
}

static status_t pg_quarantine_list(
    meta *base, int (*fn)(void *arg, const char *digest, time_t at, const char *reason), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_QUAR_LIST);
	status_t st = ST_OK;
	int rc;

	while ((rc = stmt_step(s)) == PG_ROW)
		if (fn(arg, (const char *)col_text(s, 0), (time_t)col_int64(s, 1),
		       (const char *)col_text(s, 2)) != 0)
			break;
	if (rc != PG_ROW && rc != PG_DONE)
		st = db_status(m, rc, "quarantine list");
	stmt_done(s);
	return st;
}

static status_t pg_stats_get(meta *base, meta_stats *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_STATS);
	status_t st = ST_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = stmt_step(s)) == PG_ROW) {
		out->repos = (uint64_t)col_int64(s, 0);
		out->manifests = (uint64_t)col_int64(s, 1);
		out->tags = (uint64_t)col_int64(s, 2);
		out->blobs = (uint64_t)col_int64(s, 3);
		out->stored_bytes = (uint64_t)col_int64(s, 4);
		out->uploads = (uint64_t)col_int64(s, 5);
	} else {
		st = db_status(m, rc, "stats");
	}
	stmt_done(s);
	return st;
}

/* A read, then BEGIN IMMEDIATE (the write lock: fails on a read-only file
 * or folder, or a lock held past the busy timeout) and ROLLBACK: nothing
 * is written. */
static status_t pg_ping(meta *base)
{
	pg_meta *m = pg_of(base);
	status_t st;
	int rc;

	if ((rc = stmt_run(stmt_get(m, S_PING))) != PG_ROW && rc != PG_DONE)
		return db_status(m, rc, "ping read");
	if (m->m_outer)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return m->m_errcode == PG_BUSY ? ST_BUSY : st;
	m->m_tx = false;
	if ((rc = exec_cmd(m, "ROLLBACK")) != PG_DONE)
		return db_status(m, rc, "ping rollback");
	return ST_OK;
}

/* ---- blob rows: references, and garbage collection ---- */

static status_t pg_blob_hold(meta *base, const char *digest, uint64_t size, int64_t *out_gen)
{
	pg_meta *m = pg_of(base);
	int64_t created = 0;
	status_t st;

	if (digest == NULL || too_long(digest, DIGEST_MAX) || size > INT64_MAX)
		return ST_INVALID;
	st = row_upsert(m, digest, size, now_us(), &created);
	if (st == ST_OK && out_gen != NULL)
		*out_gen = created;
	return st;
}

static status_t pg_blob_link_held(meta *base, const char *repo, const char *digest, uint64_t size,
				  int64_t gen)
{
	pg_meta *m = pg_of(base);
	int64_t rid, now = now_us();
	pg_stmt *s;
	status_t st;
	int rc;

	if (!args_ok(repo, digest, size))
		return ST_INVALID;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	s = stmt_get(m, S_ROW_GET);
	bind_text(s, 1, digest);
	rc = stmt_step(s);
	st = rc == PG_ROW    ? (col_int64(s, 1) == gen ? ST_OK : ST_BUSY)
	     : rc == PG_DONE ? ST_BUSY
			     : db_status(m, rc, "blob row");
	stmt_done(s);
	/* (a committed upload: its bytes are whole, no longer quarantined) */
	if (st != ST_OK || (st = repo_ensure(m, repo, &rid)) != ST_OK ||
	    (st = link_upsert(m, rid, digest, size, now)) != ST_OK ||
	    (st = row_bump(m, digest, now)) != ST_OK || (st = quarantine_clear(m, digest)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

static status_t pg_blob_use(meta *base, const char *repo, const char *digest, int64_t fresh_us,
			    uint64_t *out_size)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_BLOB_USE);
	int64_t rid = 0, now = now_us(), link_t = 0, row_t = 0;
	uint64_t size = 0;
	int changes = 0, rc;
	status_t st;

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	rc = stmt_step(s);
	if (rc == PG_ROW) {
		rid = col_int64(s, 0);
		size = (uint64_t)col_int64(s, 1);
		link_t = col_int64(s, 2);
		row_t = col_int64(s, 3);
	}
	stmt_done(s);
	if (rc == PG_DONE)
		return ST_NOT_FOUND;
	if (rc != PG_ROW)
		return db_status(m, rc, "blob lookup");
	if (out_size != NULL)
		*out_size = size;
	/* Referenced lately enough: a collection cannot take it before the
	 * caller's next step (see meta.h), so no write. */
	if (now - link_t <= fresh_us && now - row_t <= fresh_us)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = link_bump(m, rid, digest, now, &changes)) != ST_OK)
		goto done;
	if (changes == 0) {
		st = ST_NOT_FOUND; /* unlinked since the read */
		goto done;
	}
	if ((st = row_bump(m, digest, now)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

static status_t pg_blob_mount(meta *base, const char *repo, const char *from, const char *digest,
			      uint64_t *out_size)
{
	pg_meta *m = pg_of(base);
	int64_t rid, now = now_us();
	pg_stmt *s;
	uint64_t size = 0;
	status_t st;

	if (!args_ok(repo, digest, 0))
		return ST_INVALID;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if (from != NULL) {
		s = stmt_get(m, S_BLOB_GET);
		bind_text(s, 1, from);
	} else {
		s = stmt_get(m, S_BLOB_FIND);
	}
	bind_text(s, from != NULL ? 2 : 1, digest);
	if ((st = size_query(m, s, &size)) != ST_OK)
		goto done;
	/* a link means the row and the file are there (meta.h) */
	if ((st = repo_ensure(m, repo, &rid)) != ST_OK ||
	    (st = link_upsert(m, rid, digest, size, now)) != ST_OK ||
	    (st = row_bump(m, digest, now)) != ST_OK)
		goto done;
	st = tx_commit(m);
	if (st == ST_OK && out_size != NULL)
		*out_size = size;
done:
	if (st != ST_OK)
		tx_rollback(m);
	return st;
}

/* Reads rows of s (digest, size, touched) into out[max]; *out_n. */
static status_t gc_items(pg_meta *m, pg_stmt *s, meta_gc_item *out, size_t max, size_t *out_n)
{
	size_t n = 0;
	int rc = PG_DONE;

	while (n < max && (rc = stmt_step(s)) == PG_ROW) {
		column_copy(out[n].digest, sizeof(out[n].digest), s, 0);
		out[n].size = (uint64_t)col_int64(s, 1);
		out[n].touched_us = col_int64(s, 2);
		out[n].dropped = false;
		n++;
	}
	if (n < max && rc != PG_DONE) {
		stmt_done(s);
		return db_status(m, rc, "garbage collection list");
	}
	stmt_done(s);
	*out_n = n;
	return ST_OK;
}

static status_t pg_gc_manifests(meta *base, const char *repo, int64_t before_us, meta_gc_item *out,
				size_t max, size_t *out_n)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	pg_stmt *s;
	status_t st;

	*out_n = 0;
	if (repo == NULL || (st = repo_id(m, repo, &rid)) == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK)
		return st;
	s = stmt_get(m, S_GC_MAN_DEAD);
	bind_int64(s, 1, rid);
	bind_int64(s, 2, before_us);
	bind_int64(s, 3, (int64_t)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t pg_gc_manifests_drop(meta *base, const char *repo, meta_gc_item *items, size_t n)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	pg_stmt *s;
	status_t st;
	int rc;

	if (repo == NULL || n == 0)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	for (size_t i = 0; i < n; i++) {
		items[i].dropped = false;
		s = stmt_get(m, S_GC_MAN_CHECK);
		bind_int64(s, 1, rid);
		bind_text(s, 2, items[i].digest);
		bind_int64(s, 3, items[i].touched_us);
		rc = stmt_step(s);
		stmt_done(s);
		if (rc == PG_DONE)
			continue; /* referenced, tagged or named since: it stays */
		if (rc != PG_ROW) {
			st = db_status(m, rc, "manifest check");
			goto done;
		}
		if ((st = run_rid_digest(m, S_MAN_REFS_DELETE, rid, items[i].digest, NULL)) !=
			ST_OK ||
		    (st = run_rid_digest(m, S_MAN_DELETE, rid, items[i].digest, NULL)) != ST_OK)
			goto done;
		items[i].dropped = true;
	}
	if ((st = repo_drop_empty(m, rid)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK) {
		tx_rollback(m);
		for (size_t i = 0; i < n; i++)
			items[i].dropped = false;
	}
	/* only repo_id says not found: the repository went meanwhile (another
	 * collector emptied it), so nothing of it is left to drop */
	return st == ST_NOT_FOUND ? ST_OK : st;
}

static status_t pg_gc_links(meta *base, const char *repo, int64_t before_us, const char *after,
			    meta_gc_item *out, size_t max, size_t *out_n)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	pg_stmt *s;
	status_t st;

	*out_n = 0;
	if (repo == NULL || (st = repo_id(m, repo, &rid)) == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK)
		return st;
	s = stmt_get(m, S_GC_LINKS);
	bind_int64(s, 1, rid);
	bind_text(s, 2, after ? after : "");
	bind_int64(s, 3, before_us);
	bind_int64(s, 4, (int64_t)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t pg_gc_links_drop(meta *base, const char *repo, meta_gc_item *items, size_t n)
{
	pg_meta *m = pg_of(base);
	int64_t rid;
	pg_stmt *s;
	status_t st;
	int rc;

	if (repo == NULL || n == 0)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	for (size_t i = 0; i < n; i++) {
		s = stmt_get(m, S_GC_LINK_DROP);
		bind_int64(s, 1, rid);
		bind_text(s, 2, items[i].digest);
		bind_int64(s, 3, items[i].touched_us);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "link drop");
			goto done;
		}
		items[i].dropped = m->m_changes > 0;
	}
	if ((st = repo_drop_empty(m, rid)) != ST_OK)
		goto done;
	st = tx_commit(m);
done:
	if (st != ST_OK) {
		tx_rollback(m);
		for (size_t i = 0; i < n; i++)
			items[i].dropped = false;
	}
	/* only repo_id says not found: the repository went meanwhile (another
	 * collector emptied it), so nothing of it is left to drop */
	return st == ST_NOT_FOUND ? ST_OK : st;
}

static status_t pg_gc_blobs(meta *base, int64_t before_us, const char *after, meta_gc_item *out,
			    size_t max, size_t *out_n)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_GC_BLOBS);

	*out_n = 0;
	bind_text(s, 1, after ? after : "");
	bind_int64(s, 2, before_us);
	bind_int64(s, 3, (int64_t)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t pg_gc_blobs_drop(meta *base, meta_gc_item *items, size_t n, bool evict)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	status_t st;
	int rc;

	if (n == 0)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		s = stmt_get(m, evict ? S_EVICT_DROP : S_GC_BLOB_DROP);
		bind_text(s, 1, items[i].digest);
		if (!evict)
			bind_int64(s, 2, items[i].touched_us);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "blob drop");
			goto done;
		}
		items[i].dropped = m->m_changes > 0;
	}
	st = tx_commit(m);
done:
	if (st != ST_OK) {
		tx_rollback(m);
		for (size_t i = 0; i < n; i++)
			items[i].dropped = false;
	}
	return st;
}

static status_t pg_gc_reap(meta *base, meta_gc_item *items, size_t n, bool dry,
			   void (*fn)(void *arg, meta_gc_item *it), void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s;
	status_t st = ST_OK;
	int rc;

	if (n == 0)
		return ST_OK;
	/* The write lock, held while fn removes the files, is what keeps a
	 * writer from making a row for one of them meanwhile (meta.h). */
	if (!dry && (st = tx_begin(m)) != ST_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		s = stmt_get(m, S_ROW_GET);
		bind_text(s, 1, items[i].digest);
		rc = stmt_step(s);
		stmt_done(s);
		if (rc == PG_ROW) /* a writer made it again: the file stays */
			continue;
		if (rc != PG_DONE) {
			st = db_status(m, rc, "reap check");
			break;
		}
		fn(arg, &items[i]);
	}
	if (!dry) {
		if (st == ST_OK)
			st = tx_commit(m);
		else
			tx_rollback(m);
	}
	return st;
}

static status_t pg_repo_clear(meta *base, const char *repo, size_t max, meta_repo_counts *counts,
			      bool *out_done)
{
	pg_meta *m = pg_of(base);
	char(*mans)[DIGEST_MAX] = NULL;
	int64_t rid;
	pg_stmt *s;
	size_t nm = 0, left = max;
	status_t st;
	int rc;

	*out_done = false;
	if (repo == NULL || max == 0)
		return ST_INVALID;
	if ((mans = calloc(max, sizeof(*mans))) == NULL)
		return ST_NOMEM;
	if ((st = tx_begin(m)) != ST_OK)
		goto out;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	/* tags first, then manifests (their references with them), then links:
	 * the foreign keys' order; at most max rows in all */
	s = stmt_get(m, S_RM_TAGS);
	bind_int64(s, 1, rid);
	bind_int64(s, 2, (int64_t)left);
	if ((rc = stmt_run(s)) != PG_DONE) {
		st = db_status(m, rc, "repository clear");
		goto done;
	}
	counts->tags += (size_t)m->m_changes;
	left -= (size_t)m->m_changes;
	if (left > 0) {
		s = stmt_get(m, S_RM_MANS);
		bind_int64(s, 1, rid);
		bind_int64(s, 2, (int64_t)left);
		while (nm < left && (rc = stmt_step(s)) == PG_ROW)
			column_copy(mans[nm++], DIGEST_MAX, s, 0);
		stmt_done(s);
		for (size_t i = 0; i < nm; i++)
			if ((st = run_rid_digest(m, S_MAN_TAGS_DELETE, rid, mans[i], NULL)) !=
				ST_OK ||
			    (st = run_rid_digest(m, S_MAN_REFS_DELETE, rid, mans[i], NULL)) !=
				ST_OK ||
			    (st = run_rid_digest(m, S_MAN_DELETE, rid, mans[i], NULL)) != ST_OK)
				goto done;
		counts->manifests += nm;
		left -= nm;
	}
	if (left > 0) {
		s = stmt_get(m, S_RM_LINKS);
		bind_int64(s, 1, rid);
		bind_int64(s, 2, (int64_t)left);
		if ((rc = stmt_run(s)) != PG_DONE) {
			st = db_status(m, rc, "repository clear");
			goto done;
		}
		counts->links += (size_t)m->m_changes;
		left -= (size_t)m->m_changes;
	}
	if (left > 0) {
		/* nothing more came out: the repository is empty and goes */
		if ((st = repo_drop_empty(m, rid)) != ST_OK)
			goto done;
		*out_done = true;
	}
	st = tx_commit(m);
done:
	if (st != ST_OK) {
		tx_rollback(m);
		*out_done = false;
	}
out:
	free(mans);
	return st;
}

/* ---- what makes no sense on a server database ---- */

/* SQLite's file copy has no meaning here: PostgreSQL's own tools
 * (pg_dump, base backups, WAL archiving) back a database up while it serves. */
static status_t pg_backup(meta *base, const char *location)
{
	(void)base;
	(void)location;
	log_error("meta: `registry backup` copies the SQLite file; with metadata = postgres "
		  "back the database up with pg_dump (or a base backup)");
	return ST_UNSUPPORTED;
}

/* A private copy of a shared database would hold the cluster's write lock
 * (or row locks) for the whole dry run; GC's dry run is SQLite's only. */
static status_t pg_snapshot(meta *base, meta **out)
{
	(void)base;
	*out = NULL;
	log_error("meta: a private snapshot (gc --dry-run) is not available with metadata = "
		  "postgres");
	return ST_UNSUPPORTED;
}

/* ---- one at a time across replicas ---- */

/* A session advisory lock keyed by the name's hash (hashtext, in the
 * server: every replica computes the same key); the server drops it with
 * the connection, so a replica killed with kill -9 frees it. Held, it
 * keeps a dead connection from being replaced until meta_unlock (see the
 * file's comment): the holder cannot go on believing it has it. */
static status_t pg_lock_try(meta *base, const char *name, bool *out_got)
{
	pg_meta *m = pg_of(base);
	const char *vals[1] = {name};
	PGresult *r;
	status_t st = ST_OK;

	*out_got = false;
	if (conn_ready(m, false) != ST_OK)
		return db_status(m, m->m_errcode, "lock");
	r = libpq.exec_params(m->m_conn, "SELECT pg_try_advisory_lock(hashtext($1))", 1, NULL, vals,
			      NULL, NULL, 0);
	if (r != NULL && libpq.result_status(r) == PGRES_TUPLES_OK && libpq.ntuples(r) == 1)
		*out_got = libpq.getvalue(r, 0, 0)[0] == 't';
	else
		st = db_status(m, note_error(m, r), "lock");
	libpq.clear(r);
	if (*out_got)
		m->m_locks++;
	return st;
}

static void pg_unlock(meta *base, const char *name)
{
	pg_meta *m = pg_of(base);
	const char *vals[1] = {name};
	PGresult *r;

	if (m->m_locks > 0)
		m->m_locks--;
	/* a lock is gone with its dead connection: nothing to send */
	if (m->m_broken || libpq.status(m->m_conn) != CONNECTION_OK)
		return;
	r = libpq.exec_params(m->m_conn, "SELECT pg_advisory_unlock(hashtext($1))", 1, NULL, vals,
			      NULL, NULL, 0);
	libpq.clear(r);
}

/* ---- failed logins ---- */

static status_t pg_login_check(meta *base, const char *addr, const char *user, int64_t now,
			       meta_login *out_addr, meta_login *out_user, meta_login_fn ended,
			       void *arg)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_LOGIN_CHECK);
	status_t st = ST_OK;
	meta_login *e;
	int rc;

	bind_text(s, 1, addr);
	bind_text(s, 2, user);
	bind_int64(s, 3, now);
	while ((rc = stmt_step(s)) == PG_ROW) {
		const char *name = col_text(s, 2);

		if (col_int64(s, 0) == 0) {
			if (ended != NULL)
				ended(arg, col_text(s, 1), name, col_int64(s, 3) != 0);
			continue;
		}
		e = name[0] == '\0' ? out_addr : out_user;
		e->known = col_int64(s, 3) != 0;
		e->failures = (unsigned)col_int64(s, 4);
		e->blocked_until = col_int64(s, 5);
	}
	if (rc != PG_DONE)
		st = db_status(m, rc, "reading failed logins");
	stmt_done(s);
	return st;
}

static status_t pg_login_fail(meta *base, const char *addr, const char *user, bool known,
			      unsigned limit, unsigned window_sec, int64_t now, meta_login *out)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_LOGIN_FAIL);
	status_t st = ST_OK;
	int rc;

	bind_text(s, 1, addr);
	bind_text(s, 2, user);
	bind_text(s, 3, known ? "true" : "false");
	bind_int64(s, 4, now);
	bind_int64(s, 5, window_sec);
	bind_int64(s, 6, limit);
	if ((rc = stmt_step(s)) == PG_ROW) {
		out->failures = (unsigned)col_int64(s, 0);
		out->known = col_int64(s, 1) != 0;
		out->blocked_until = col_int64(s, 2);
	} else {
		st = db_status(m, rc, "counting a failed login");
	}
	stmt_done(s);
	return st;
}

static status_t pg_login_clear(meta *base, const char *addr, const char *user)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_LOGIN_CLEAR);
	int rc;

	bind_text(s, 1, addr);
	bind_text(s, 2, user);
	if ((rc = stmt_run(s)) != PG_DONE)
		return db_status(m, rc, "clearing failed logins");
	return ST_OK;
}

static status_t pg_login_unlock(meta *base, const char *addr, const char *user, int64_t before,
				meta_login_fn lifted, void *arg, size_t *out_n)
{
	pg_meta *m = pg_of(base);
	pg_stmt *s = stmt_get(m, S_LOGIN_UNLOCK);
	status_t st = ST_OK;
	size_t n = 0;
	int rc;

	if (addr != NULL)
		bind_text(s, 1, addr);
	else
		bind_null(s, 1);
	if (user != NULL)
		bind_text(s, 2, user);
	else
		bind_null(s, 2);
	bind_int64(s, 3, before);
	while ((rc = stmt_step(s)) == PG_ROW) {
		n++;
		if (lifted != NULL && col_int64(s, 3) != 0)
			lifted(arg, col_text(s, 0), col_text(s, 1), col_int64(s, 2) != 0);
	}
	if (rc != PG_DONE)
		st = db_status(m, rc, "lifting failed logins");
	stmt_done(s);
	if (out_n != NULL)
		*out_n = n;
	return st;
}

const meta_ops meta_pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .repo_exists = pg_repo_exists,
    .repo_list = pg_repo_list,
    .blob_link = pg_blob_link,
    .blob_get = pg_blob_get,
    .blob_find = pg_blob_find,
    .blob_unlink = pg_blob_unlink,
    .blob_repos = pg_blob_repos,
    .manifest_put = pg_manifest_put,
    .manifest_get = pg_manifest_get,
    .manifest_delete = pg_manifest_delete,
    .tag_delete = pg_tag_delete,
    .tag_list = pg_tag_list,
    .referrers = pg_referrers,
    .upload_create = pg_upload_create,
    .upload_get = pg_upload_get,
    .upload_touch = pg_upload_touch,
    .upload_delete = pg_upload_delete,
    .upload_list_stale = pg_upload_list_stale,
    .tag_get = pg_tag_get,
    .tag_records = pg_tag_records,
    .write_begin = pg_write_begin,
    .write_end = pg_write_end,
    .usage = pg_usage,
    .du = pg_du,
    .pulls_add = pg_pulls_add,
    .digests = pg_digests,
    .digest_users = pg_digest_users,
    .quarantine_add = pg_quarantine_add,
    .quarantine_list = pg_quarantine_list,
    .stats_get = pg_stats_get,
    .ping = pg_ping,
    .backup = pg_backup,
    .events_add = pg_events_add,
    .events_next = pg_events_next,
    .events_ack = pg_events_ack,
    .events_count = pg_events_count,
    .manifest_push = pg_manifest_push,
    .blob_hold = pg_blob_hold,
    .blob_link_held = pg_blob_link_held,
    .blob_use = pg_blob_use,
    .blob_mount = pg_blob_mount,
    .gc_manifests = pg_gc_manifests,
    .gc_manifests_drop = pg_gc_manifests_drop,
    .gc_links = pg_gc_links,
    .gc_links_drop = pg_gc_links_drop,
    .gc_blobs = pg_gc_blobs,
    .gc_blobs_drop = pg_gc_blobs_drop,
    .gc_reap = pg_gc_reap,
    .repo_clear = pg_repo_clear,
    .snapshot = pg_snapshot,
    .repo_summary = pg_repo_summary,
    .tag_page = pg_tag_page,
    .lock_try = pg_lock_try,
    .unlock = pg_unlock,
    .login_check = pg_login_check,
    .login_fail = pg_login_fail,
    .login_clear = pg_login_clear,
    .login_unlock = pg_login_unlock,
};
