/*
 * meta_sqlite.c - the "sqlite" metadata index backend (see meta_sqlite.h
 * for what it guarantees, meta.h for the contract).
 *
 * One `meta` is one SQLite connection, opened in multi-thread mode
 * (SQLITE_OPEN_NOMUTEX): the caller guarantees one thread at a time, so
 * SQLite's per-connection mutex would only cost. Each connection prepares
 * every statement once, at meta_open, and keeps them in m_stmt[]; a call
 * binds, steps and resets them, so the hot paths (a manifest by tag, a blob
 * link check) are one indexed query with no parsing.
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT returns only after the
 * WAL is fsynced. synchronous=NORMAL in WAL mode may lose the last commits
 * on power loss (the database stays consistent, but a push the client saw
 * succeed could vanish), and that is what the registry promises not to do.
 *
 * Every write of more than one row runs in BEGIN IMMEDIATE ... COMMIT: the
 * write lock is taken up front, so the transaction never fails half-way
 * with SQLITE_BUSY (a deferred one could, on upgrading its read lock).
 * busy_timeout makes SQLite wait for other writers; tx_begin also retries
 * itself, up to the same limit, for the cases where SQLite does not call
 * the busy handler.
 *
 * Invariants kept by the schema (foreign keys are on): a tag points at a
 * manifest of its own repository; manifest_refs rows belong to a manifest;
 * everything repository-scoped references repos(id). Lists are keyset
 * paginated over an index (`name > ? ORDER BY name LIMIT n+1`), never
 * OFFSET or full scans.
 *
 * Statement results are read while the statement is live: callbacks run
 * in the middle of a query and must not call back into the same `meta`.
 */
#include "meta_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../common/log.h"

/* How long a write waits for another connection's write lock. */
#define META_BUSY_TIMEOUT_MS 5000
/* Pause between tx_begin's own retries. */
#define META_BUSY_RETRY_MS 10
/* Longest upload id, as in meta_upload.id (with NUL). */
#define META_UPLOAD_ID_MAX 65

/*
 * WITHOUT ROWID where the primary key is the natural lookup key, so the
 * table is its own index. Digest and name columns compare as BINARY, which
 * is the lexical (byte) order the OCI lists ask for.
 */
static const char schema_sql[] =
    "CREATE TABLE repos ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE"
    ");"
    "CREATE TABLE repo_blobs ("
    "  repo_id INTEGER NOT NULL REFERENCES repos(id),"
    "  digest TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  PRIMARY KEY (repo_id, digest)"
    ") WITHOUT ROWID;"
    /* meta_blob_find (cross-repository mount without `from`). */
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE manifests ("
    "  repo_id INTEGER NOT NULL REFERENCES repos(id),"
    "  digest TEXT NOT NULL,"
    "  media_type TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  artifact_type TEXT NOT NULL DEFAULT '',"
    "  subject TEXT NOT NULL DEFAULT '',"
    "  annotations TEXT,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (repo_id, digest)"
    ") WITHOUT ROWID;"
    /* Referrers: equality on (repo_id, subject), already ordered by digest. */
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject, digest);"
    /* What each manifest references, for garbage collection. */
    "CREATE TABLE manifest_refs ("
    "  repo_id INTEGER NOT NULL,"
    "  manifest TEXT NOT NULL,"
    "  ref TEXT NOT NULL,"
    "  PRIMARY KEY (repo_id, manifest, ref),"
    "  FOREIGN KEY (repo_id, manifest) REFERENCES manifests(repo_id, digest)"
    ") WITHOUT ROWID;"
    "CREATE INDEX manifest_refs_ref ON manifest_refs(ref);"
    "CREATE TABLE tags ("
    "  repo_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  PRIMARY KEY (repo_id, name),"
    "  FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest)"
    ") WITHOUT ROWID;"
    /* Tags of one manifest (delete), and the foreign key check on it. */
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE uploads ("
    "  id TEXT PRIMARY KEY,"
    "  repo TEXT NOT NULL,"
    "  alg TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX uploads_updated ON uploads(updated);";

/*
 * Version 2: push and pull records (who pushed a manifest and each tag,
 * when a tag was last set, when each was last pulled and how often) for
 * `registry du` and retention; digests quarantined by scrub; manifests by
 * digest alone, for scrub's walk and the manifests that use a bad blob.
 * Rows older than this read 0 and "" (never pulled, pushed at an unknown
 * time by someone unknown).
 */
static const char usage_sql[] =
    "ALTER TABLE manifests ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE manifests ADD COLUMN last_pull INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE manifests ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tags ADD COLUMN last_pull INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN pulls INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX manifests_digest ON manifests(digest);"
    "CREATE TABLE quarantine ("
    "  digest TEXT PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL"
    ") WITHOUT ROWID;";

/*
 * Version 3: the event queue (meta_events_*). AUTOINCREMENT so a seq is
 * never reused after the newest rows were acknowledged: the receiver's
 * order is seq order, and a restart must not start it again from a lower
 * one. (endpoint, seq) is the queue's walk, oldest first.
 */
static const char events_sql[] = "CREATE TABLE events ("
				 "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
				 "  endpoint TEXT NOT NULL,"
				 "  repo TEXT NOT NULL,"
				 "  body TEXT NOT NULL,"
				 "  created INTEGER NOT NULL"
				 ");"
				 "CREATE INDEX events_endpoint ON events(endpoint, seq);";

/*
 * Version 4 (garbage collection): one row per blob of the store (layers,
 * configs and manifests alike) with when it was created and last
 * referenced, the same time on each link, and the indexes GC's
 * "unreferenced" checks need. Times are microseconds and strictly grow at
 * every bump (MAX(now, old + 1)), so a compare-and-set on them sees every
 * reference made since it read. Existing rows count as referenced now.
 * ?1 is now in microseconds (bound by migrate, statement by statement).
 */
static const char gc_sql[] =
    "ALTER TABLE repo_blobs ADD COLUMN touched_us INTEGER NOT NULL DEFAULT 0;"
    "UPDATE repo_blobs SET touched_us = ?1;"
    "CREATE TABLE blobs ("
    "  digest TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  touched_us INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT OR IGNORE INTO blobs(digest, size, created_us, touched_us)"
    "  SELECT digest, MAX(size), ?1, ?1 FROM repo_blobs GROUP BY digest;"
    "INSERT OR IGNORE INTO blobs(digest, size, created_us, touched_us)"
    "  SELECT digest, MAX(size), ?1, ?1 FROM manifests GROUP BY digest;";
/* (GC's "is this digest a manifest anywhere" uses manifests_digest, made by
 * version 2.) */

/*
 * Version 5 (the web UI): a repository's tags newest push first, read
 * backwards along (repo_id, pushed, name), so a page of them is a range of
 * this index at the 10,000th tag as at the first (meta_tag_page).
 */
static const char ui_sql[] = "CREATE INDEX tags_pushed ON tags(repo_id, pushed, name);";

/* The migrations, in order: migrations[i] takes user_version i to i + 1.
 * A new schema change is one more entry (never an edit of an old one). */
static const char *const migrations[] = {schema_sql, usage_sql, events_sql, gc_sql, ui_sql};
/* PRAGMA user_version this code creates and understands. */
#define META_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The prepared statements of a connection; S_ROLLBACK and before need no schema. */
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
	"   coalesce(m.n, 0), max(coalesce(t.push, 0), coalesce(m.push, 0)),"                      \
	"   max(coalesce(t.pull, 0), coalesce(m.pull, 0)), coalesce(m.pulls, 0)"                   \
	" FROM keys LEFT JOIN u USING (k) LEFT JOIN t USING (k) LEFT JOIN m USING (k)"             \
	" WHERE substr(keys.k, 1, 1) <> '/' ORDER BY keys.k"

static const char *const stmt_sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_SAVEPOINT] = "SAVEPOINT part",
    [S_RELEASE] = "RELEASE part",
    [S_ROLLBACK_TO] = "ROLLBACK TO part",
    [S_ROLLBACK] = "ROLLBACK",
    [S_REPO_ID] = "SELECT id FROM repos WHERE name = ?1",
    [S_REPO_INSERT] = "INSERT INTO repos(name) VALUES (?1)",
    [S_REPO_LIST] = "SELECT name FROM repos WHERE name > ?1 ORDER BY name LIMIT ?2",
    [S_BLOB_LINK] =
	"INSERT INTO repo_blobs(repo_id, digest, size, touched_us)"
	" VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT DO UPDATE SET touched_us = MAX(excluded.touched_us, touched_us + 1)",
    [S_BLOB_GET] = "SELECT b.size FROM repos r JOIN repo_blobs b ON b.repo_id = r.id"
		   " WHERE r.name = ?1 AND b.digest = ?2",
    [S_BLOB_FIND] = "SELECT size FROM repo_blobs WHERE digest = ?1 LIMIT 1",
    [S_BLOB_UNLINK] = "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2",
    [S_BLOB_REPOS] = "SELECT r.name FROM repo_blobs b JOIN repos r ON r.id = b.repo_id"
		     " WHERE b.digest = ?1 ORDER BY r.name",
    [S_MAN_INSERT] = "INSERT INTO manifests(repo_id, digest, media_type, size, artifact_type,"
		     " subject, annotations, created, pushed_by)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
    [S_REF_INSERT] = "INSERT INTO manifest_refs(repo_id, manifest, ref) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT DO NOTHING",
    [S_TAG_SET] = "INSERT INTO tags(repo_id, name, digest, pushed, pushed_by)"
		  " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (repo_id, name) DO UPDATE SET"
		  " digest = excluded.digest, pushed = excluded.pushed,"
		  " pushed_by = excluded.pushed_by",
    [S_MAN_BY_DIGEST] = "SELECT " MAN_COLS " FROM repos r"
			" JOIN manifests m ON m.repo_id = r.id"
			" WHERE r.name = ?1 AND m.digest = ?2",
    [S_MAN_BY_TAG] = "SELECT " MAN_COLS " FROM repos r"
		     " JOIN tags t ON t.repo_id = r.id"
		     " JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
		     " WHERE r.name = ?1 AND t.name = ?2",
    [S_MAN_TAGS_DELETE] = "DELETE FROM tags WHERE repo_id = ?1 AND digest = ?2",
    [S_MAN_REFS_DELETE] = "DELETE FROM manifest_refs WHERE repo_id = ?1 AND manifest = ?2",
    [S_MAN_DELETE] = "DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [S_TAG_DELETE] = "DELETE FROM tags WHERE repo_id = ?1 AND name = ?2",
    [S_TAG_LIST] = "SELECT name FROM tags WHERE repo_id = ?1 AND name > ?2"
		   " ORDER BY name LIMIT ?3",
    /* INDEXED BY: without it the optional filter leads the planner to walk
     * every manifest of the repository in primary key (digest) order. */
    [S_REFERRERS] = "SELECT " MAN_COLS ", m.annotations FROM repos r"
		    " JOIN manifests m INDEXED BY manifests_subject ON m.repo_id = r.id"
		    " WHERE r.name = ?1 AND m.subject = ?2"
		    " AND (?3 IS NULL OR m.artifact_type = ?3) ORDER BY m.digest",
    [S_UP_CREATE] = "INSERT INTO uploads(id, repo, alg, created, updated)"
		    " VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_UP_GET] = "SELECT id, repo, alg, created, updated FROM uploads WHERE id = ?1",
    [S_UP_TOUCH] = "UPDATE uploads SET updated = ?2 WHERE id = ?1",
    [S_UP_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [S_UP_STALE] = "SELECT id FROM uploads WHERE updated < ?1 ORDER BY updated",
    [S_TAG_GET] = "SELECT " TAG_COLS " FROM repos r JOIN tags t ON t.repo_id = r.id"
		  " WHERE r.name = ?1 AND t.name = ?2",
    [S_TAG_RECORDS] = "SELECT " TAG_COLS " FROM repos r JOIN tags t ON t.repo_id = r.id"
		      " WHERE r.name = ?1 ORDER BY t.name",
    /* policy_match: the caller's predicate (sq_usage sets it) */
    [S_USAGE] = "WITH r AS (SELECT id FROM repos WHERE policy_match(name)),"
		" d AS (SELECT digest, size FROM repo_blobs WHERE repo_id IN (SELECT id FROM r)"
		" UNION SELECT digest, size FROM manifests WHERE repo_id IN (SELECT id FROM r))"
		" SELECT coalesce(sum(size), 0), coalesce(max(digest = ?1), 0) FROM d",
    [S_DU_REPOS] = DU_SQL("name"),
    [S_DU_NAMESPACES] = DU_SQL("CASE WHEN instr(name, '/') > 0"
			       " THEN substr(name, 1, instr(name, '/') - 1) ELSE '/' || name END"),
    [S_PULL_MAN] = "UPDATE manifests SET last_pull = max(last_pull, ?3), pulls = pulls + ?4"
		   " WHERE repo_id = (SELECT id FROM repos WHERE name = ?1) AND digest = ?2",
    [S_PULL_TAG] = "UPDATE tags SET last_pull = max(last_pull, ?4), pulls = pulls + ?5"
		   " WHERE repo_id = (SELECT id FROM repos WHERE name = ?1) AND name = ?2"
		   " AND digest = ?3",
    [S_DIGESTS] = "SELECT digest, max(size) FROM (SELECT digest, size FROM repo_blobs"
		  " WHERE digest > ?1 UNION ALL SELECT digest, size FROM manifests"
		  " WHERE digest > ?1) GROUP BY digest ORDER BY digest LIMIT ?2",
    [S_DIGEST_USERS] = "SELECT r.name, x.manifest FROM (SELECT repo_id, manifest"
		       " FROM manifest_refs WHERE ref = ?1 UNION SELECT repo_id, digest"
		       " FROM manifests WHERE digest = ?1) x JOIN repos r ON r.id = x.repo_id"
		       " ORDER BY r.name, x.manifest",
    [S_QUAR_ADD] = "INSERT INTO quarantine(digest, at, reason) VALUES (?1, ?2, ?3)"
		   " ON CONFLICT (digest) DO UPDATE SET at = excluded.at, reason = excluded.reason",
    [S_QUAR_CLEAR] = "DELETE FROM quarantine WHERE digest = ?1",
    [S_QUAR_LIST] = "SELECT digest, at, reason FROM quarantine ORDER BY digest",
    /* Each digest once: a blob in ten repositories is stored once. The
     * blobs' GROUP BY walks repo_blobs_digest; the manifests' sorts. */
    [S_STATS] = "WITH b AS (SELECT count(*) n, coalesce(sum(s), 0) sz FROM"
		"  (SELECT max(size) s FROM repo_blobs GROUP BY digest)),"
		" m AS (SELECT count(*) n, coalesce(sum(s), 0) sz FROM"
		"  (SELECT max(size) s FROM manifests GROUP BY digest))"
		" SELECT (SELECT count(*) FROM repos), m.n, (SELECT count(*) FROM tags), b.n,"
		" b.sz + m.sz, (SELECT count(*) FROM uploads) FROM b, m",
    [S_PING] = "SELECT count(*) FROM (SELECT 1 FROM repos LIMIT 1)",
    [S_EV_ADD] = "INSERT INTO events(endpoint, repo, body, created) VALUES (?1, ?2, ?3, ?4)",
    [S_EV_NEXT] = "SELECT seq, repo, body FROM events WHERE endpoint = ?1 ORDER BY seq LIMIT ?2",
    [S_EV_ACK] = "DELETE FROM events WHERE endpoint = ?1 AND seq <= ?2",
    [S_EV_COUNT] = "SELECT endpoint, count(*) FROM events GROUP BY endpoint ORDER BY endpoint",
    /* ---- the blob rows and garbage collection ---- */
    [S_ROW_UPSERT] =
	"INSERT INTO blobs(digest, size, created_us, touched_us)"
	" VALUES (?1, ?2, ?3, ?3)"
	" ON CONFLICT DO UPDATE SET touched_us = MAX(excluded.touched_us, touched_us + 1)"
	" RETURNING created_us",
    [S_ROW_GET] = "SELECT size, created_us, touched_us FROM blobs WHERE digest = ?1",
    [S_ROW_BUMP] = "UPDATE blobs SET touched_us = MAX(?2, touched_us + 1) WHERE digest = ?1",
    [S_LINK_BUMP] = "UPDATE repo_blobs SET touched_us = MAX(?3, touched_us + 1)"
		    " WHERE repo_id = ?1 AND digest = ?2",
    [S_BLOB_USE] = "SELECT b.repo_id, b.size, b.touched_us, o.touched_us FROM repos r"
		   " JOIN repo_blobs b ON b.repo_id = r.id LEFT JOIN blobs o ON o.digest = b.digest"
		   " WHERE r.name = ?1 AND b.digest = ?2",
    [S_LINK_SIZE] = "SELECT size FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2",
    [S_MAN_SIZE] = "SELECT size FROM manifests WHERE repo_id = ?1 AND digest = ?2",
    [S_REPO_DROP_EMPTY] = "DELETE FROM repos WHERE id = ?1"
			  " AND NOT EXISTS (SELECT 1 FROM tags WHERE repo_id = ?1)"
			  " AND NOT EXISTS (SELECT 1 FROM manifests WHERE repo_id = ?1)"
			  " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = ?1)",
    /* The manifests of repository ?1 nothing keeps: marked from the tags,
     * the manifests referenced after ?2 (too young to go), what a live
     * manifest references (an index's manifests) and the referrers of live
     * manifests; the rest, with the time the compare-and-set compares. */
    [S_GC_MAN_DEAD] =
	"WITH RECURSIVE live(d) AS ("
	" SELECT digest FROM tags WHERE repo_id = ?1"
	" UNION SELECT m.digest FROM manifests m LEFT JOIN blobs o ON o.digest = m.digest"
	"  WHERE m.repo_id = ?1 AND COALESCE(o.touched_us, 0) > ?2"
	" UNION SELECT r.ref FROM manifest_refs r JOIN live ON r.manifest = live.d"
	"  WHERE r.repo_id = ?1"
	" UNION SELECT m.digest FROM manifests m JOIN live ON m.subject = live.d"
	"  WHERE m.repo_id = ?1)"
	" SELECT m.digest, m.size, COALESCE(o.touched_us, 0) FROM manifests m"
	" LEFT JOIN blobs o ON o.digest = m.digest"
	" WHERE m.repo_id = ?1 AND m.digest NOT IN (SELECT d FROM live)"
	" ORDER BY m.digest LIMIT ?3",
    /* The compare-and-set of one dead manifest: still untagged, not
     * referenced since it was read, and nothing left in the repository
     * that names it (an index, or a referrer whose subject it is). */
    [S_GC_MAN_CHECK] =
	"SELECT 1 FROM manifests m LEFT JOIN blobs o ON o.digest = m.digest"
	" WHERE m.repo_id = ?1 AND m.digest = ?2 AND COALESCE(o.touched_us, 0) = ?3"
	" AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = ?1 AND t.digest = ?2)"
	" AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
	"  WHERE r.repo_id = ?1 AND r.ref = ?2)"
	" AND NOT EXISTS (SELECT 1 FROM manifests s"
	"  WHERE s.repo_id = ?1 AND s.subject = ?2)",
    [S_GC_LINKS] = "SELECT b.digest, b.size, b.touched_us FROM repo_blobs b"
		   " WHERE b.repo_id = ?1 AND b.digest > ?2 AND b.touched_us <= ?3"
		   " AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
		   "  WHERE r.ref = b.digest AND r.repo_id = ?1)"
		   " ORDER BY b.digest LIMIT ?4",
    [S_GC_LINK_DROP] = "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2"
		       " AND touched_us = ?3"
		       " AND NOT EXISTS (SELECT 1 FROM manifest_refs r"
		       "  WHERE r.ref = ?2 AND r.repo_id = ?1)",
    [S_GC_BLOBS] = "SELECT o.digest, o.size, o.touched_us FROM blobs o"
		   " WHERE o.digest > ?1 AND o.touched_us <= ?2 AND " UNREF_GC(
		       "o.digest") " ORDER BY o.digest LIMIT ?3",
    [S_GC_BLOB_DROP] = "DELETE FROM blobs WHERE digest = ?1 AND touched_us = ?2"
		       " AND " UNREF_GC("?1"),
    [S_EVICT_DROP] = "DELETE FROM blobs WHERE digest = ?1 AND " UNREF_EVICT("?1"),
    [S_RM_TAGS] = "DELETE FROM tags WHERE repo_id = ?1"
		  " AND name IN (SELECT name FROM tags WHERE repo_id = ?1 LIMIT ?2)",
    [S_RM_MANS] = "SELECT digest FROM manifests WHERE repo_id = ?1 LIMIT ?2",
    [S_RM_LINKS] = "DELETE FROM repo_blobs WHERE repo_id = ?1"
		   " AND digest IN (SELECT digest FROM repo_blobs WHERE repo_id = ?1 LIMIT ?2)",
    /* meta_repo_summary_get: each part a range of a primary key by repo_id */
    [S_REPO_SUMMARY] =
	"SELECT r.id,"
	" (SELECT count(*) FROM tags t WHERE t.repo_id = r.id),"
	" (SELECT coalesce(sum(size), 0) FROM (SELECT digest, size FROM repo_blobs b"
	"   WHERE b.repo_id = r.id UNION SELECT digest, size FROM manifests m"
	"   WHERE m.repo_id = r.id)),"
	" max((SELECT coalesce(max(pushed), 0) FROM tags t WHERE t.repo_id = r.id),"
	"   (SELECT coalesce(max(created), 0) FROM manifests m WHERE m.repo_id = r.id)),"
	" max((SELECT coalesce(max(last_pull), 0) FROM tags t WHERE t.repo_id = r.id),"
	"   (SELECT coalesce(max(last_pull), 0) FROM manifests m WHERE m.repo_id = r.id))"
	" FROM repos r WHERE r.name = ?1",
    /* meta_tag_page: ?1 repo_id, ?2 after name, ?3 limit (n + 1), ?4 after pushed */
    [S_TAG_PAGE_NAME] = "SELECT " TAG_COLS ", m.size, m.media_type FROM tags t"
			" JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
			" WHERE t.repo_id = ?1 AND t.name > ?2 ORDER BY t.name LIMIT ?3",
    [S_TAG_PAGE_PUSHED] = "SELECT " TAG_COLS ", m.size, m.media_type"
			  " FROM tags t INDEXED BY tags_pushed"
			  " JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
			  " WHERE t.repo_id = ?1 AND (t.pushed, t.name) < (?4, ?2)"
			  " ORDER BY t.pushed DESC, t.name DESC LIMIT ?3",
};

typedef struct {
	meta m_base; /* first: a meta * of ours points here */
	sqlite3 *m_db;
	sqlite3_stmt *m_stmt[S__COUNT];
	bool m_outer; /* meta_write_begin's transaction is open: ours nest */
	/* sq_usage's predicate, for the SQL function policy_match */
	bool (*m_match)(void *arg, const char *repo);
	void *m_match_arg;
} sq_meta;

static sq_meta *sq_of(meta *m)
{
	return (sq_meta *)m;
}

/*
 * The status for a failed SQLite call rc, logging what failed unless it is
 * an expected outcome. Full disk (SQLITE_FULL, or an I/O error whose errno
 * is ENOSPC/EDQUOT) is ST_NO_SPACE; everything else is ST_IO.
 */
static status_t db_status(sq_meta *m, int rc, const char *what)
{
	int e = sqlite3_system_errno(m->m_db);

	log_error("meta: %s: %s (%d)", what, sqlite3_errmsg(m->m_db), rc);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return ST_NO_SPACE;
	case SQLITE_NOMEM:
		return ST_NOMEM;
	case SQLITE_IOERR:
		return (e == ENOSPC || e == EDQUOT) ? ST_NO_SPACE : ST_IO;
	default:
		return ST_IO;
	}
}

/* The cached statement id, reset and ready to bind. */
static sqlite3_stmt *stmt_get(sq_meta *m, int id)
{
	sqlite3_stmt *s = m->m_stmt[id];

	sqlite3_reset(s);
	return s;
}

/* Ends a use of s: releases its read snapshot and the borrowed strings
 * bound to it (SQLITE_STATIC), so neither outlives the call. NULL is a no-op. */
static void stmt_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Steps s once and ends its use; returns the step's SQLite code. */
static int stmt_run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	stmt_done(s);
	return rc;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	/* Callers' strings outlive the statement's use (stmt_done unbinds). */
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* True if s (non-NULL) would not fit a buffer of max bytes with its NUL. */
static int too_long(const char *s, size_t max)
{
	return strnlen(s, max) >= max;
}

/* Copies column col of s into out[max] ("" for NULL). */
static void column_copy(char *out, size_t max, sqlite3_stmt *s, int col)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(out, max, "%s", v ? (const char *)v : "");
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/*
 * BEGIN IMMEDIATE, retrying on SQLITE_BUSY for up to META_BUSY_TIMEOUT_MS
 * (the busy handler usually has waited already; this covers the cases it
 * is not called). ST_OK with the write lock held, else a status.
 */
static status_t tx_begin(sq_meta *m)
{
	struct timespec start;
	int rc;

	/* Inside meta_write_begin's: a part of it that can fail alone. */
	if (m->m_outer) {
		rc = stmt_run(stmt_get(m, S_SAVEPOINT));
		return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "SAVEPOINT");
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((rc = stmt_run(stmt_get(m, S_BEGIN))) != SQLITE_DONE) {
		if ((rc & 0xff) != SQLITE_BUSY || elapsed_ms(&start) >= META_BUSY_TIMEOUT_MS)
			return db_status(m, rc, "BEGIN IMMEDIATE");
		sleep_ms(META_BUSY_RETRY_MS);
	}
	return ST_OK;
}

/* COMMIT; on failure the transaction is rolled back. */
static status_t tx_commit(sq_meta *m)
{
	int rc;
	status_t st;

	if (m->m_outer) {
		rc = stmt_run(stmt_get(m, S_RELEASE));
		return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "RELEASE");
	}
	rc = stmt_run(stmt_get(m, S_COMMIT));

	if (rc == SQLITE_DONE)
		return ST_OK;
	st = db_status(m, rc, "COMMIT");
	if (!sqlite3_get_autocommit(m->m_db))
		stmt_run(stmt_get(m, S_ROLLBACK));
	return st;
}

/* ROLLBACK if a transaction is open (a failed statement may have ended it). */
static void tx_rollback(sq_meta *m)
{
	if (sqlite3_get_autocommit(m->m_db))
		return;
	if (m->m_outer) {
		/* undo this part; the outer transaction goes on */
		stmt_run(stmt_get(m, S_ROLLBACK_TO));
		stmt_run(stmt_get(m, S_RELEASE));
		return;
	}
	stmt_run(stmt_get(m, S_ROLLBACK));
}

/* ---- opening ---- */

/* Runs one PRAGMA returning a single value into *out (may be NULL). */
static status_t pragma(sq_meta *m, const char *sql, char *out, size_t max)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(m->m_db, sql, -1, &s, NULL);
	status_t st = ST_OK;

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && out != NULL)
			column_copy(out, max, s, 0);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		st = db_status(m, rc, sql);
	sqlite3_finalize(s);
	return st;
}

/* Now, in microseconds: the unit of the last-referenced times. */
static sqlite3_int64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (sqlite3_int64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs each statement of sql in turn, binding ?1 (where there is one) to now. */
static status_t exec_script(sq_meta *m, const char *sql, sqlite3_int64 now)
{
	const char *tail = sql;

	while (*tail != '\0') {
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v2(m->m_db, tail, -1, &s, &tail);

		if (rc != SQLITE_OK)
			return db_status(m, rc, "migrating the schema");
		if (s == NULL)
			break; /* only blanks were left */
		if (sqlite3_bind_parameter_count(s) > 0)
			sqlite3_bind_int64(s, 1, now);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			return db_status(m, rc, "migrating the schema");
	}
	return ST_OK;
}

/* Brings the schema from user_version to META_SCHEMA_VERSION through each
 * migration in turn, in one transaction (several connections may race to
 * do it: the loser finds it done). */
/* (migrations[] is the schema's history: a step once released, schema_sql
 * included, is never edited, so a new database and one made by any release
 * (tests/fixtures/first-release, made by the first) walk the same steps to
 * the same schema. A database newer than this code is refused, untouched.) */
static status_t migrate(sq_meta *m)
{
	char v[32], set[64];
	status_t st;
	int from;
	sqlite3_int64 now = now_us();

	if ((st = pragma(m, "PRAGMA user_version", v, sizeof(v))) != ST_OK)
		return st;
	if (atoi(v) == META_SCHEMA_VERSION)
		return ST_OK;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = pragma(m, "PRAGMA user_version", v, sizeof(v))) != ST_OK)
		goto done;
	from = atoi(v);
	if (from < 0 || from > META_SCHEMA_VERSION) {
		log_error("meta: schema version %s is not %d: a newer registry made this database?",
			  v, META_SCHEMA_VERSION);
		st = ST_IO;
		goto done;
	}
	for (int i = from; i < META_SCHEMA_VERSION; i++) {
		/* ?1 (where a step has it) is now in microseconds (gc_sql) */
		if ((st = exec_script(m, migrations[i], now)) != ST_OK)
			goto done;
		if (from > 0)
			log_info("meta: schema migrated from version %d to %d", i, i + 1);
	}
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", META_SCHEMA_VERSION);
	if ((st = pragma(m, set, NULL, 0)) != ST_OK)
		goto done;
	st = tx_commit(m);
	if (st == ST_OK && from > 0)
		log_info("meta: schema migrated from version %d to %d", from, META_SCHEMA_VERSION);
done:
	if (st != ST_OK)
		tx_rollback(m);
	else if (!sqlite3_get_autocommit(m->m_db))
		st = tx_commit(m);
	return st;
}

/* Prepares statements [from, to) once, for the life of the connection. */
static status_t prepare(sq_meta *m, int from, int to)
{
	for (int i = from; i < to; i++) {
		int rc = sqlite3_prepare_v3(m->m_db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &m->m_stmt[i], NULL);
		if (rc != SQLITE_OK)
			return db_status(m, rc, stmt_sql[i]);
	}
	return ST_OK;
}

static void sq_close(meta *base);

/* policy_match(name): sq_usage's predicate over repository names (false
 * outside a call of it). */
static void policy_match_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sq_meta *m = sqlite3_user_data(ctx);
	const unsigned char *name = sqlite3_value_text(argv[0]);

	sqlite3_result_int(ctx, m->m_match != NULL && name != NULL &&
				    m->m_match(m->m_match_arg, (const char *)name));
}

static status_t sq_open(meta **out, const char *path)
{
	sq_meta *m = NULL;
	char mode[16];
	status_t st = ST_IO;
	int rc;

	*out = NULL;
	if (path == NULL)
		return ST_INVALID;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ST_NOMEM;
	m->m_base.m_ops = &meta_sqlite_ops;
	rc = sqlite3_open_v2(
	    path, &m->m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("meta: cannot open %s: %s", path,
			  m->m_db ? sqlite3_errmsg(m->m_db) : sqlite3_errstr(rc));
		goto done;
	}
	sqlite3_extended_result_codes(m->m_db, 1);
	sqlite3_busy_timeout(m->m_db, META_BUSY_TIMEOUT_MS);
	if ((st = pragma(m, "PRAGMA journal_mode = WAL", mode, sizeof(mode))) != ST_OK)
		goto done;
	if (strcmp(mode, "wal") != 0)
		log_warn("meta: %s: journal mode is %s, not wal", path, mode);
	if ((st = pragma(m, "PRAGMA synchronous = FULL", NULL, 0)) != ST_OK ||
	    (st = pragma(m, "PRAGMA foreign_keys = ON", NULL, 0)) != ST_OK)
		goto done;
	rc = sqlite3_create_function(m->m_db, "policy_match", 1, SQLITE_UTF8, m, policy_match_sql,
				     NULL, NULL);
	if (rc != SQLITE_OK) {
		st = db_status(m, rc, "policy_match");
		goto done;
	}
	if ((st = prepare(m, 0, S_ROLLBACK + 1)) != ST_OK || (st = migrate(m)) != ST_OK ||
	    (st = prepare(m, S_ROLLBACK + 1, S__COUNT)) != ST_OK)
		goto done;
	*out = &m->m_base;
	m = NULL;
	st = ST_OK;
done:
	if (m != NULL)
		sq_close(&m->m_base);
	return st;
}

static void sq_close(meta *base)
{
	sq_meta *m = sq_of(base);

	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(m->m_stmt[i]);
	sqlite3_close(m->m_db);
	free(m);
}

/* ---- repositories ---- */

/* The id of repo: ST_OK with *out_id, ST_NOT_FOUND, ST_IO. */
static status_t repo_id(sq_meta *m, const char *repo, sqlite3_int64 *out_id)
{
	sqlite3_stmt *s = stmt_get(m, S_REPO_ID);
	status_t st = ST_OK;
	int rc;

	bind_text(s, 1, repo);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out_id = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "repository lookup");
	stmt_done(s);
	return st;
}

/* The id of repo, inserting it if new. Call inside a write transaction. */
static status_t repo_ensure(sq_meta *m, const char *repo, sqlite3_int64 *out_id)
{
	sqlite3_stmt *s;
	status_t st = repo_id(m, repo, out_id);
	int rc;

	if (st != ST_NOT_FOUND)
		return st;
	s = stmt_get(m, S_REPO_INSERT);
	bind_text(s, 1, repo);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "repository insert");
	*out_id = sqlite3_last_insert_rowid(m->m_db);
	return ST_OK;
}

static status_t sq_repo_exists(meta *base, const char *repo)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 id;

	if (repo == NULL)
		return ST_NOT_FOUND;
	return repo_id(m, repo, &id);
}

/*
 * Runs a name list query s whose last two parameters, at last_param and
 * last_param + 1, are the `name > ?` key and the LIMIT; calls fn per name.
 * Fetches one row past n to learn *out_more without a count.
 */
static status_t list_names(sq_meta *m, sqlite3_stmt *s, int last_param, const char *last, int n,
			   int (*fn)(void *arg, const char *name), void *arg, bool *out_more)
{
	bool more = false;
	int count = 0, rc;
	status_t st = ST_OK;

	bind_text(s, last_param, last ? last : "");
	sqlite3_bind_int64(s, last_param + 1, n > 0 ? (sqlite3_int64)n + 1 : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n > 0 && count == n) {
			more = true;
			break;
		}
		count++;
		if (fn(arg, (const char *)sqlite3_column_text(s, 0)) != 0) {
			/* The caller stopped: is anything after this one? */
			more = sqlite3_step(s) == SQLITE_ROW;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "listing names");
	stmt_done(s);
	if (out_more)
		*out_more = st == ST_OK && more;
	return st;
}

static status_t sq_repo_list(meta *base, const char *last, int n,
			     int (*fn)(void *arg, const char *name), void *arg, bool *out_more)
{
	sq_meta *m = sq_of(base);
	return list_names(m, stmt_get(m, S_REPO_LIST), 1, last, n, fn, arg, out_more);
}

/* ---- blobs linked to a repository ---- */

/* Forgets that digest was quarantined (its bytes were stored anew). */
static status_t quarantine_clear(sq_meta *m, const char *digest)
{
	sqlite3_stmt *s = stmt_get(m, S_QUAR_CLEAR);
	int rc;

	bind_text(s, 1, digest);
	rc = stmt_run(s);
	return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "quarantine clear");
}

static status_t run_rid_digest(sq_meta *m, int id, sqlite3_int64 rid, const char *digest,
			       int *out_changes);

/* Upserts digest's row (a reference now) and, with out_created, gives its
 * creation time. Inside a transaction or alone. */
static status_t row_upsert(sq_meta *m, const char *digest, uint64_t size, sqlite3_int64 now,
			   sqlite3_int64 *out_created)
{
	sqlite3_stmt *s = stmt_get(m, S_ROW_UPSERT);
	int rc;

	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 3, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (out_created != NULL)
			*out_created = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	}
	stmt_done(s);
	return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "blob row");
}

/* Links digest to repository rid and bumps the link (its row is the
 * caller's). Inside a transaction. */
static status_t link_upsert(sq_meta *m, sqlite3_int64 rid, const char *digest, uint64_t size,
			    sqlite3_int64 now)
{
	sqlite3_stmt *s = stmt_get(m, S_BLOB_LINK);
	int rc;

	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 4, now);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "blob link");
	return ST_OK;
}

/* Bumps the link of digest to repository rid; *out_changes: 1 if there
 * is one, else 0. Inside a transaction. */
static status_t link_bump(sq_meta *m, sqlite3_int64 rid, const char *digest, sqlite3_int64 now,
			  int *out_changes)
{
	sqlite3_stmt *s = stmt_get(m, S_LINK_BUMP);
	int rc;

	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	sqlite3_bind_int64(s, 3, now);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "link bump");
	if (out_changes != NULL)
		*out_changes = sqlite3_changes(m->m_db);
	return ST_OK;
}

/* Bumps digest's row (no row: nothing). Inside a transaction. */
static status_t row_bump(sq_meta *m, const char *digest, sqlite3_int64 now)
{
	sqlite3_stmt *s = stmt_get(m, S_ROW_BUMP);
	int rc;

	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, now);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "blob row bump");
	return ST_OK;
}

/* Removes repository rid if nothing is left in it (no tag, manifest or
 * link), so it leaves the catalog. Inside the transaction that emptied it. */
static status_t repo_drop_empty(sq_meta *m, sqlite3_int64 rid)
{
	sqlite3_stmt *s = stmt_get(m, S_REPO_DROP_EMPTY);
	int rc;

	sqlite3_bind_int64(s, 1, rid);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "repository drop");
	return ST_OK;
}

static bool args_ok(const char *repo, const char *digest, uint64_t size)
{
	return repo != NULL && digest != NULL && !too_long(repo, META_NAME_MAX) &&
	       !too_long(digest, DIGEST_MAX) && size <= INT64_MAX;
}

static status_t sq_blob_link(meta *base, const char *repo, const char *digest, uint64_t size)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid, now = now_us();
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
static status_t size_query(sq_meta *m, sqlite3_stmt *s, uint64_t *out_size)
{
	status_t st = ST_OK;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		if (out_size)
			*out_size = (uint64_t)sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "blob lookup");
	}
	stmt_done(s);
	return st;
}

static status_t sq_blob_get(meta *base, const char *repo, const char *digest, uint64_t *out_size)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_BLOB_GET);

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	return size_query(m, s, out_size);
}

static status_t sq_blob_find(meta *base, const char *digest, uint64_t *out_size)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_BLOB_FIND);

	if (digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, digest);
	return size_query(m, s, out_size);
}

static status_t sq_blob_repos(meta *base, const char *digest,
			      int (*fn)(void *arg, const char *repo), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_BLOB_REPOS);
	status_t st = ST_OK;
	int rc;

	if (digest == NULL)
		return ST_OK;
	bind_text(s, 1, digest);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "listing a blob's repositories");
	stmt_done(s);
	return st;
}

/* Runs a DELETE/UPDATE s (already bound): ST_OK if it changed a row, else
 * ST_NOT_FOUND; ST_NO_SPACE, ST_IO. */
static status_t change_one(sq_meta *m, sqlite3_stmt *s, const char *what)
{
	int rc = stmt_run(s);

	if (rc != SQLITE_DONE)
		return db_status(m, rc, what);
	return sqlite3_changes(m->m_db) > 0 ? ST_OK : ST_NOT_FOUND;
}

static status_t sq_blob_unlink(meta *base, const char *repo, const char *digest)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
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
static status_t events_insert(sq_meta *m, const meta_event *v, size_t n)
{
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	int rc;

	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = stmt_get(m, S_EV_ADD);
		bind_text(s, 1, v[i].endpoint);
		bind_text(s, 2, v[i].repo);
		bind_text(s, 3, v[i].body);
		sqlite3_bind_int64(s, 4, now);
		if ((rc = stmt_run(s)) != SQLITE_DONE)
			return db_status(m, rc, "event insert");
	}
	return ST_OK;
}

static status_t sq_events_add(meta *base, const meta_event *v, size_t n)
{
	sq_meta *m = sq_of(base);
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
sq_events_next(meta *base, const char *endpoint, int n,
	       int (*fn)(void *arg, int64_t seq, const char *repo, const char *body), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	status_t st = ST_OK;
	int rc;

	if (endpoint == NULL || n <= 0)
		return ST_OK;
	s = stmt_get(m, S_EV_NEXT);
	bind_text(s, 1, endpoint);
	sqlite3_bind_int(s, 2, n);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (int64_t)sqlite3_column_int64(s, 0),
		       (const char *)sqlite3_column_text(s, 1),
		       (const char *)sqlite3_column_text(s, 2)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "reading the event queue");
	stmt_done(s);
	return st;
}

static status_t sq_events_ack(meta *base, const char *endpoint, int64_t seq)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_EV_ACK);
	int rc;

	if (endpoint == NULL)
		return ST_OK;
	bind_text(s, 1, endpoint);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, "event acknowledgement");
	return ST_OK;
}

static status_t sq_events_count(meta *base, int (*fn)(void *arg, const char *endpoint, uint64_t n),
				void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_EV_COUNT);
	status_t st = ST_OK;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (uint64_t)sqlite3_column_int64(s, 1)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "counting the event queue");
	stmt_done(s);
	return st;
}

/* ---- manifests ---- */

/* Copies the MAN_COLS of the current row of s into out (annotations NULL). */
static void fill_manifest(meta_manifest *out, sqlite3_stmt *s)
{
	column_copy(out->digest, sizeof(out->digest), s, 0);
	column_copy(out->media_type, sizeof(out->media_type), s, 1);
	out->size = (uint64_t)sqlite3_column_int64(s, 2);
	column_copy(out->artifact_type, sizeof(out->artifact_type), s, 3);
	column_copy(out->subject, sizeof(out->subject), s, 4);
	out->pushed = (time_t)sqlite3_column_int64(s, 5);
	column_copy(out->pushed_by, sizeof(out->pushed_by), s, 6);
	out->last_pull = (time_t)sqlite3_column_int64(s, 7);
	out->pulls = (uint64_t)sqlite3_column_int64(s, 8);
	out->annotations = NULL;
}

/* A push's checks, inside its transaction: every digest p->need names is
 * in repository rid (a linked blob, or a manifest of it), each bumped so a
 * collection that read it before cannot take it; the manifest's own row is
 * the one meta_blob_hold gave (else ST_BUSY: it went meanwhile). */
static status_t push_check(sq_meta *m, sqlite3_int64 rid, const meta_manifest *man, meta_push *p,
			   sqlite3_int64 now)
{
	sqlite3_stmt *s;
	status_t st;
	int rc;

	for (size_t i = 0; i < p->nneed; i++) {
		s = stmt_get(m, p->need_manifests ? S_MAN_SIZE : S_LINK_SIZE);
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, p->need[i]);
		rc = sqlite3_step(s);
		stmt_done(s);
		if (rc == SQLITE_DONE) {
			p->missing = i;
			return ST_NOT_FOUND;
		}
		if (rc != SQLITE_ROW)
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
	rc = sqlite3_step(s);
	st = rc == SQLITE_ROW	 ? (sqlite3_column_int64(s, 1) == p->gen ? ST_OK : ST_BUSY)
	     : rc == SQLITE_DONE ? ST_BUSY
				 : db_status(m, rc, "push check");
	stmt_done(s);
	return st;
}

/* meta_manifest_put, and meta_manifest_push when p is not NULL. */
static status_t manifest_store(sq_meta *m, const char *repo, const meta_manifest *man,
			       const char *const *refs, size_t nrefs, const char *const *tags,
			       size_t ntags, meta_push *p)
{
	sqlite3_stmt *s;
	sqlite3_int64 rid, now = now_us();
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
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, man->digest);
	bind_text(s, 3, man->media_type);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)man->size);
	bind_text(s, 5, man->artifact_type);
	bind_text(s, 6, man->subject);
	if (man->annotations != NULL)
		bind_text(s, 7, man->annotations);
	else
		sqlite3_bind_null(s, 7);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)secs); /* seconds: the push record */
	bind_text(s, 9, man->pushed_by);
	if ((rc = stmt_run(s)) != SQLITE_DONE) {
		st = db_status(m, rc, "manifest insert");
		goto done;
	}
	/* Known already: its row and references stay as they were. */
	fresh = sqlite3_changes(m->m_db) > 0;
	/* Its bytes were stored again just before: no longer quarantined. */
	if ((st = quarantine_clear(m, man->digest)) != ST_OK)
		goto done;
	for (size_t i = 0; fresh && i < nrefs; i++) {
		s = stmt_get(m, S_REF_INSERT);
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, man->digest);
		bind_text(s, 3, refs[i]);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
			st = db_status(m, rc, "manifest reference insert");
			goto done;
		}
	}
	for (size_t i = 0; i < ntags; i++) {
		s = stmt_get(m, S_TAG_SET);
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, tags[i]);
		bind_text(s, 3, man->digest);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)secs);
		bind_text(s, 5, man->pushed_by);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
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

static status_t sq_manifest_put(meta *base, const char *repo, const meta_manifest *man,
				const char *const *refs, size_t nrefs, const char *const *tags,
				size_t ntags)
{
	return manifest_store(sq_of(base), repo, man, refs, nrefs, tags, ntags, NULL);
}

static status_t sq_manifest_push(meta *base, const char *repo, const meta_manifest *man,
				 const char *const *refs, size_t nrefs, const char *const *tags,
				 size_t ntags, meta_push *p)
{
	if (p == NULL)
		return ST_INVALID;
	return manifest_store(sq_of(base), repo, man, refs, nrefs, tags, ntags, p);
}

static status_t sq_manifest_get(meta *base, const char *repo, const char *ref, meta_manifest *out)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	status_t st = ST_OK;
	int rc;

	if (repo == NULL || ref == NULL)
		return ST_NOT_FOUND;
	s = stmt_get(m, strchr(ref, ':') ? S_MAN_BY_DIGEST : S_MAN_BY_TAG);
	bind_text(s, 1, repo);
	bind_text(s, 2, ref);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		fill_manifest(out, s);
	else if (rc == SQLITE_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "manifest lookup");
	stmt_done(s);
	return st;
}

/* Runs statement id with (repo id, digest) bound; ST_OK or a status. */
static status_t run_rid_digest(sq_meta *m, int id, sqlite3_int64 rid, const char *digest,
			       int *out_changes)
{
	sqlite3_stmt *s = stmt_get(m, id);
	int rc;

	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	if ((rc = stmt_run(s)) != SQLITE_DONE)
		return db_status(m, rc, stmt_sql[id]);
	if (out_changes)
		*out_changes = sqlite3_changes(m->m_db);
	return ST_OK;
}

static status_t sq_manifest_delete(meta *base, const char *repo, const char *digest)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
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

static status_t sq_tag_delete(meta *base, const char *repo, const char *tag)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	sqlite3_int64 rid;
	status_t st;

	if (repo == NULL || tag == NULL)
		return ST_NOT_FOUND;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		goto done;
	s = stmt_get(m, S_TAG_DELETE);
	sqlite3_bind_int64(s, 1, rid);
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

static status_t sq_tag_list(meta *base, const char *repo, const char *last, int n,
			    int (*fn)(void *arg, const char *tag), void *arg, bool *out_more)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	sqlite3_int64 rid;
	status_t st;

	if (out_more)
		*out_more = false;
	if (repo == NULL)
		return ST_NOT_FOUND;
	if ((st = repo_id(m, repo, &rid)) != ST_OK)
		return st;
	s = stmt_get(m, S_TAG_LIST);
	sqlite3_bind_int64(s, 1, rid);
	return list_names(m, s, 2, last, n, fn, arg, out_more);
}

/* ---- referrers ---- */

static status_t sq_referrers(meta *base, const char *repo, const char *subject,
			     const char *artifact_type,
			     int (*fn)(void *arg, const meta_manifest *man), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
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
		sqlite3_bind_null(s, 3);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fill_manifest(&man, s);
		/* Valid until the next step: the callback's lifetime, as promised. */
		man.annotations = (const char *)sqlite3_column_text(s, MAN_NCOLS);
		if (fn(arg, &man) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "referrers");
	stmt_done(s);
	return st;
}

/* ---- upload sessions ---- */

static status_t sq_upload_create(meta *base, const char *id, const char *repo, digest_alg alg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	int rc;

	if (id == NULL || repo == NULL || id[0] == '\0' || too_long(id, META_UPLOAD_ID_MAX) ||
	    too_long(repo, META_NAME_MAX) || (alg != DIGEST_SHA256 && alg != DIGEST_SHA512))
		return ST_INVALID;
	s = stmt_get(m, S_UP_CREATE);
	bind_text(s, 1, id);
	bind_text(s, 2, repo);
	bind_text(s, 3, digest_alg_name(alg));
	sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	rc = stmt_run(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return ST_EXISTS;
	return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "upload insert");
}

static status_t sq_upload_get(meta *base, const char *id, meta_upload *out)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_UP_GET);
	status_t st = ST_OK;
	int rc;

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		column_copy(out->id, sizeof(out->id), s, 0);
		column_copy(out->repo, sizeof(out->repo), s, 1);
		if (digest_alg_parse((const char *)sqlite3_column_text(s, 2), &out->alg) != ST_OK) {
			log_error("meta: upload %s has an unknown algorithm", id);
			st = ST_IO;
		}
		out->created = (time_t)sqlite3_column_int64(s, 3);
		out->updated = (time_t)sqlite3_column_int64(s, 4);
	} else if (rc == SQLITE_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "upload lookup");
	}
	stmt_done(s);
	return st;
}

static status_t sq_upload_touch(meta *base, const char *id)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_UP_TOUCH);

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	return change_one(m, s, "upload touch");
}

static status_t sq_upload_delete(meta *base, const char *id)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_UP_DELETE);

	if (id == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, id);
	return change_one(m, s, "upload delete");
}

static status_t sq_upload_list_stale(meta *base, time_t before,
				     void (*fn)(void *arg, const char *id), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_UP_STALE);
	status_t st = ST_OK;
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)before);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(s, 0));
	if (rc != SQLITE_DONE)
		st = db_status(m, rc, "stale uploads");
	stmt_done(s);
	return st;
}

/* ---- tag records ---- */

/* Copies the TAG_COLS of the current row of s into out. */
static void fill_tag(meta_tag *out, sqlite3_stmt *s)
{
	column_copy(out->name, sizeof(out->name), s, 0);
	column_copy(out->digest, sizeof(out->digest), s, 1);
	out->pushed = (time_t)sqlite3_column_int64(s, 2);
	column_copy(out->pushed_by, sizeof(out->pushed_by), s, 3);
	out->last_pull = (time_t)sqlite3_column_int64(s, 4);
	out->pulls = (uint64_t)sqlite3_column_int64(s, 5);
}

static status_t sq_tag_get(meta *base, const char *repo, const char *tag, meta_tag *out)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_TAG_GET);
	status_t st = ST_OK;
	int rc;

	if (repo == NULL || tag == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, tag);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		fill_tag(out, s);
	else if (rc == SQLITE_DONE)
		st = ST_NOT_FOUND;
	else
		st = db_status(m, rc, "tag lookup");
	stmt_done(s);
	return st;
}

static status_t sq_tag_records(meta *base, const char *repo,
			       int (*fn)(void *arg, const meta_tag *t), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_TAG_RECORDS);
	status_t st = ST_OK;
	meta_tag t;
	int rc;

	if (repo == NULL)
		return ST_OK;
	bind_text(s, 1, repo);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		fill_tag(&t, s);
		if (fn(arg, &t) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "tag records");
	stmt_done(s);
	return st;
}

/* ---- browsing (the web UI) ---- */

static status_t sq_repo_summary(meta *base, const char *repo, meta_repo_summary *out)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_REPO_SUMMARY);
	status_t st = ST_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if (repo == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->tags = (uint64_t)sqlite3_column_int64(s, 1);
		out->bytes = (uint64_t)sqlite3_column_int64(s, 2);
		out->last_push = (time_t)sqlite3_column_int64(s, 3);
		out->last_pull = (time_t)sqlite3_column_int64(s, 4);
	} else if (rc == SQLITE_DONE) {
		st = ST_NOT_FOUND;
	} else {
		st = db_status(m, rc, "repository summary");
	}
	stmt_done(s);
	return st;
}

static status_t sq_tag_page(meta *base, const char *repo, bool by_pushed, int64_t after_pushed,
			    const char *after_name, int n,
			    int (*fn)(void *arg, const meta_tag_row *r), void *arg, bool *out_more)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
	sqlite3_int64 rid;
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
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, after_name ? after_name : "");
	sqlite3_bind_int64(s, 3, (sqlite3_int64)n + 1); /* one more: is there a next page */
	if (by_pushed)
		sqlite3_bind_int64(s, 4, after_pushed);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count++ == n) {
			if (out_more)
				*out_more = true;
			break;
		}
		fill_tag(&row.t, s);
		row.size = (uint64_t)sqlite3_column_int64(s, 6);
		column_copy(row.media_type, sizeof(row.media_type), s, 7);
		if (fn(arg, &row) != 0)
			break;
	}
	st = ST_OK;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "tag page");
	stmt_done(s);
	return st;
}

/* ---- write transactions over several calls ---- */

static status_t sq_write_begin(meta *base)
{
	sq_meta *m = sq_of(base);
	status_t st;

	if (m->m_outer)
		return ST_INVALID;
	if ((st = tx_begin(m)) == ST_OK)
		m->m_outer = true;
	return st;
}

static status_t sq_write_end(meta *base, bool commit)
{
	sq_meta *m = sq_of(base);

	if (!m->m_outer)
		return ST_INVALID;
	m->m_outer = false;
	if (!commit) {
		tx_rollback(m);
		return ST_OK;
	}
	/* A failed statement may have ended the transaction (SQLite rolls
	 * back on a full disk, an I/O error): nothing is left to commit. */
	if (sqlite3_get_autocommit(m->m_db)) {
		log_error("meta: the transaction was rolled back before its commit");
		return ST_IO;
	}
	return tx_commit(m);
}

/* ---- usage ---- */

static status_t sq_usage(meta *base, bool (*match)(void *arg, const char *repo), void *arg,
			 const char *digest, uint64_t *out_bytes, bool *out_has)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_USAGE);
	status_t st = ST_OK;
	int rc;

	*out_bytes = 0;
	if (out_has)
		*out_has = false;
	m->m_match = match;
	m->m_match_arg = arg;
	if (digest != NULL)
		bind_text(s, 1, digest);
	else
		sqlite3_bind_null(s, 1);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out_bytes = (uint64_t)sqlite3_column_int64(s, 0);
		if (out_has)
			*out_has = sqlite3_column_int(s, 1) != 0;
	} else {
		st = db_status(m, rc, "usage");
	}
	stmt_done(s);
	m->m_match = NULL;
	m->m_match_arg = NULL;
	return st;
}

static status_t sq_du(meta *base, bool namespaces, int (*fn)(void *arg, const meta_du_row *r),
		      void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, namespaces ? S_DU_NAMESPACES : S_DU_REPOS);
	status_t st = ST_OK;
	meta_du_row r;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		column_copy(r.name, sizeof(r.name), s, 0);
		r.referenced = (uint64_t)sqlite3_column_int64(s, 1);
		r.unique = (uint64_t)sqlite3_column_int64(s, 2);
		r.tags = (uint64_t)sqlite3_column_int64(s, 3);
		r.manifests = (uint64_t)sqlite3_column_int64(s, 4);
		r.last_push = (time_t)sqlite3_column_int64(s, 5);
		r.last_pull = (time_t)sqlite3_column_int64(s, 6);
		r.pulls = (uint64_t)sqlite3_column_int64(s, 7);
		if (fn(arg, &r) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "usage report");
	stmt_done(s);
	return st;
}

static status_t sq_pulls_add(meta *base, const meta_pull *v, size_t n)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
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
		sqlite3_bind_int64(s, 3, (sqlite3_int64)v[i].when);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)v[i].count);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
			st = db_status(m, rc, "manifest pull record");
			goto done;
		}
		if (v[i].tag == NULL || v[i].tag[0] == '\0')
			continue;
		s = stmt_get(m, S_PULL_TAG);
		bind_text(s, 1, v[i].repo);
		bind_text(s, 2, v[i].tag);
		bind_text(s, 3, v[i].digest);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)v[i].when);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)v[i].count);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
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

static status_t sq_digests(meta *base, const char *after, int n,
			   int (*fn)(void *arg, const char *digest, uint64_t size), void *arg,
			   bool *out_more)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_DIGESTS);
	bool more = false;
	int count = 0, rc;
	status_t st = ST_OK;

	bind_text(s, 1, after ? after : "");
	sqlite3_bind_int64(s, 2, n > 0 ? (sqlite3_int64)n + 1 : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n > 0 && count == n) {
			more = true;
			break;
		}
		count++;
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (uint64_t)sqlite3_column_int64(s, 1)) != 0) {
			more = sqlite3_step(s) == SQLITE_ROW;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "listing digests");
	stmt_done(s);
	if (out_more)
		*out_more = st == ST_OK && more;
	return st;
}

static status_t sq_digest_users(meta *base, const char *digest,
				int (*fn)(void *arg, const char *repo, const char *manifest),
				void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_DIGEST_USERS);
	status_t st = ST_OK;
	int rc;

	if (digest == NULL)
		return ST_OK;
	bind_text(s, 1, digest);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (const char *)sqlite3_column_text(s, 1)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "a digest's manifests");
	stmt_done(s);
	return st;
}

static status_t sq_quarantine_add(meta *base, const char *digest, const char *reason)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_QUAR_ADD);
	int rc;

	if (digest == NULL || reason == NULL || too_long(digest, DIGEST_MAX))
		return ST_INVALID;
	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	bind_text(s, 3, reason);
	rc = stmt_run(s);
	return rc == SQLITE_DONE ? ST_OK : db_status(m, rc, "quarantine");
}

static status_t sq_quarantine_list(
    meta *base, int (*fn)(void *arg, const char *digest, time_t at, const char *reason), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_QUAR_LIST);
	status_t st = ST_OK;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (time_t)sqlite3_column_int64(s, 1),
		       (const char *)sqlite3_column_text(s, 2)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(m, rc, "quarantine list");
	stmt_done(s);
	return st;
}

static status_t sq_stats_get(meta *base, meta_stats *out)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_STATS);
	status_t st = ST_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->repos = (uint64_t)sqlite3_column_int64(s, 0);
		out->manifests = (uint64_t)sqlite3_column_int64(s, 1);
		out->tags = (uint64_t)sqlite3_column_int64(s, 2);
		out->blobs = (uint64_t)sqlite3_column_int64(s, 3);
		out->stored_bytes = (uint64_t)sqlite3_column_int64(s, 4);
		out->uploads = (uint64_t)sqlite3_column_int64(s, 5);
	} else {
		st = db_status(m, rc, "stats");
	}
	stmt_done(s);
	return st;
}

/* A read, then BEGIN IMMEDIATE (the write lock: fails on a read-only file
 * or folder, or a lock held past the busy timeout) and ROLLBACK: nothing
 * is written, not even to the WAL. */
static status_t sq_ping(meta *base)
{
	sq_meta *m = sq_of(base);
	int rc;

	if ((rc = stmt_run(stmt_get(m, S_PING))) != SQLITE_ROW && rc != SQLITE_DONE)
		return db_status(m, rc, "ping read");
	rc = stmt_run(stmt_get(m, S_BEGIN));
	if (rc != SQLITE_DONE)
		return (rc & 0xff) == SQLITE_BUSY ? ST_BUSY : db_status(m, rc, "ping write");
	if ((rc = stmt_run(stmt_get(m, S_ROLLBACK))) != SQLITE_DONE)
		return db_status(m, rc, "ping rollback");
	return ST_OK;
}

/* ---- backups ---- */

/*
 * SQLite's online backup API, all pages in one step: one read transaction
 * on our connection, so the copy is the database as of one commit, while
 * WAL lets writers go on. The copy is then made self-contained (rollback
 * journal, no -wal file beside it, so it is whole as soon as this returns;
 * serving it turns WAL on again) and its upload sessions removed. Its statements are prepared here,
 * not at open: backups are rare.
 */
static status_t sq_backup(meta *base, const char *path)
{
	sq_meta *m = sq_of(base);
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	status_t st = ST_IO;
	bool made = false;
	int rc;

	if (access(path, F_OK) == 0)
		return ST_EXISTS;
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	made = true;
	if (rc != SQLITE_OK) {
		log_error("meta: backup: cannot create %s: %s", path,
			  dst ? sqlite3_errmsg(dst) : "out of memory");
		goto done;
	}
	sqlite3_busy_timeout(dst, META_BUSY_TIMEOUT_MS);
	if ((b = sqlite3_backup_init(dst, "main", m->m_db, "main")) == NULL) {
		log_error("meta: backup to %s: %s", path, sqlite3_errmsg(dst));
		goto done;
	}
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sleep_ms(META_BUSY_RETRY_MS);
	sqlite3_backup_finish(b); /* the step's rc tells */
	if (rc != SQLITE_DONE) {
		st = (rc & 0xff) == SQLITE_FULL ? ST_NO_SPACE : ST_IO;
		log_error("meta: backup to %s: %s (%d)", path, sqlite3_errstr(rc), rc);
		goto done;
	}
	rc = sqlite3_exec(dst,
			  "PRAGMA synchronous = FULL; PRAGMA journal_mode = DELETE;"
			  " DELETE FROM uploads;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		st = (rc & 0xff) == SQLITE_FULL ? ST_NO_SPACE : ST_IO;
		log_error("meta: backup %s: %s", path, sqlite3_errmsg(dst));
		goto done;
	}
	st = ST_OK;
done:
	if (sqlite3_close(dst) != SQLITE_OK && st == ST_OK)
		st = ST_IO;
	if (st != ST_OK && made) {
		char side[4096 + 8];
		unlink(path);
		snprintf(side, sizeof(side), "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-journal", path);
		unlink(side);
	}
	return st;
}

/* ---- blob rows: references, and garbage collection ---- */

static status_t sq_blob_hold(meta *base, const char *digest, uint64_t size, int64_t *out_gen)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 created = 0;
	status_t st;

	if (digest == NULL || too_long(digest, DIGEST_MAX) || size > INT64_MAX)
		return ST_INVALID;
	st = row_upsert(m, digest, size, now_us(), &created);
	if (st == ST_OK && out_gen != NULL)
		*out_gen = created;
	return st;
}

static status_t sq_blob_link_held(meta *base, const char *repo, const char *digest, uint64_t size,
				  int64_t gen)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid, now = now_us();
	sqlite3_stmt *s;
	status_t st;
	int rc;

	if (!args_ok(repo, digest, size))
		return ST_INVALID;
	if ((st = tx_begin(m)) != ST_OK)
		return st;
	s = stmt_get(m, S_ROW_GET);
	bind_text(s, 1, digest);
	rc = sqlite3_step(s);
	st = rc == SQLITE_ROW	 ? (sqlite3_column_int64(s, 1) == gen ? ST_OK : ST_BUSY)
	     : rc == SQLITE_DONE ? ST_BUSY
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

static status_t sq_blob_use(meta *base, const char *repo, const char *digest, int64_t fresh_us,
			    uint64_t *out_size)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_BLOB_USE);
	sqlite3_int64 rid = 0, now = now_us(), link_t = 0, row_t = 0;
	uint64_t size = 0;
	int changes = 0, rc;
	status_t st;

	if (repo == NULL || digest == NULL)
		return ST_NOT_FOUND;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rid = sqlite3_column_int64(s, 0);
		size = (uint64_t)sqlite3_column_int64(s, 1);
		link_t = sqlite3_column_int64(s, 2);
		row_t = sqlite3_column_int64(s, 3);
	}
	stmt_done(s);
	if (rc == SQLITE_DONE)
		return ST_NOT_FOUND;
	if (rc != SQLITE_ROW)
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

static status_t sq_blob_mount(meta *base, const char *repo, const char *from, const char *digest,
			      uint64_t *out_size)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid, now = now_us();
	sqlite3_stmt *s;
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
static status_t gc_items(sq_meta *m, sqlite3_stmt *s, meta_gc_item *out, size_t max, size_t *out_n)
{
	size_t n = 0;
	int rc = SQLITE_DONE;

	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		column_copy(out[n].digest, sizeof(out[n].digest), s, 0);
		out[n].size = (uint64_t)sqlite3_column_int64(s, 1);
		out[n].touched_us = sqlite3_column_int64(s, 2);
		out[n].dropped = false;
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		stmt_done(s);
		return db_status(m, rc, "garbage collection list");
	}
	stmt_done(s);
	*out_n = n;
	return ST_OK;
}

static status_t sq_gc_manifests(meta *base, const char *repo, int64_t before_us, meta_gc_item *out,
				size_t max, size_t *out_n)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
	sqlite3_stmt *s;
	status_t st;

	*out_n = 0;
	if (repo == NULL || (st = repo_id(m, repo, &rid)) == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK)
		return st;
	s = stmt_get(m, S_GC_MAN_DEAD);
	sqlite3_bind_int64(s, 1, rid);
	sqlite3_bind_int64(s, 2, before_us);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t sq_gc_manifests_drop(meta *base, const char *repo, meta_gc_item *items, size_t n)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
	sqlite3_stmt *s;
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
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, items[i].digest);
		sqlite3_bind_int64(s, 3, items[i].touched_us);
		rc = sqlite3_step(s);
		stmt_done(s);
		if (rc == SQLITE_DONE)
			continue; /* referenced, tagged or named since: it stays */
		if (rc != SQLITE_ROW) {
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

static status_t sq_gc_links(meta *base, const char *repo, int64_t before_us, const char *after,
			    meta_gc_item *out, size_t max, size_t *out_n)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
	sqlite3_stmt *s;
	status_t st;

	*out_n = 0;
	if (repo == NULL || (st = repo_id(m, repo, &rid)) == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK)
		return st;
	s = stmt_get(m, S_GC_LINKS);
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, after ? after : "");
	sqlite3_bind_int64(s, 3, before_us);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t sq_gc_links_drop(meta *base, const char *repo, meta_gc_item *items, size_t n)
{
	sq_meta *m = sq_of(base);
	sqlite3_int64 rid;
	sqlite3_stmt *s;
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
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, items[i].digest);
		sqlite3_bind_int64(s, 3, items[i].touched_us);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
			st = db_status(m, rc, "link drop");
			goto done;
		}
		items[i].dropped = sqlite3_changes(m->m_db) > 0;
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

static status_t sq_gc_blobs(meta *base, int64_t before_us, const char *after, meta_gc_item *out,
			    size_t max, size_t *out_n)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s = stmt_get(m, S_GC_BLOBS);

	*out_n = 0;
	bind_text(s, 1, after ? after : "");
	sqlite3_bind_int64(s, 2, before_us);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
	return gc_items(m, s, out, max, out_n);
}

static status_t sq_gc_blobs_drop(meta *base, meta_gc_item *items, size_t n, bool evict)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
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
			sqlite3_bind_int64(s, 2, items[i].touched_us);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
			st = db_status(m, rc, "blob drop");
			goto done;
		}
		items[i].dropped = sqlite3_changes(m->m_db) > 0;
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

static status_t sq_gc_reap(meta *base, meta_gc_item *items, size_t n, bool dry,
			   void (*fn)(void *arg, meta_gc_item *it), void *arg)
{
	sq_meta *m = sq_of(base);
	sqlite3_stmt *s;
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
		rc = sqlite3_step(s);
		stmt_done(s);
		if (rc == SQLITE_ROW) /* a writer made it again: the file stays */
			continue;
		if (rc != SQLITE_DONE) {
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

static status_t sq_repo_clear(meta *base, const char *repo, size_t max, meta_repo_counts *counts,
			      bool *out_done)
{
	sq_meta *m = sq_of(base);
	char(*mans)[DIGEST_MAX] = NULL;
	sqlite3_int64 rid;
	sqlite3_stmt *s;
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
	sqlite3_bind_int64(s, 1, rid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)left);
	if ((rc = stmt_run(s)) != SQLITE_DONE) {
		st = db_status(m, rc, "repository clear");
		goto done;
	}
	counts->tags += (size_t)sqlite3_changes(m->m_db);
	left -= (size_t)sqlite3_changes(m->m_db);
	if (left > 0) {
		s = stmt_get(m, S_RM_MANS);
		sqlite3_bind_int64(s, 1, rid);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)left);
		while (nm < left && (rc = sqlite3_step(s)) == SQLITE_ROW)
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
		sqlite3_bind_int64(s, 1, rid);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)left);
		if ((rc = stmt_run(s)) != SQLITE_DONE) {
			st = db_status(m, rc, "repository clear");
			goto done;
		}
		counts->links += (size_t)sqlite3_changes(m->m_db);
		left -= (size_t)sqlite3_changes(m->m_db);
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

static status_t sq_snapshot(meta *base, meta **out)
{
	sq_meta *m = sq_of(base), *c = NULL;
	sqlite3_backup *b;
	status_t st = ST_IO;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ST_NOMEM;
	c->m_base.m_ops = &meta_sqlite_ops;
	if ((rc = sqlite3_open_v2(":memory:", &c->m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				  NULL)) != SQLITE_OK)
		goto done;
	sqlite3_extended_result_codes(c->m_db, 1);
	/* one read transaction of the source: a consistent copy */
	if ((b = sqlite3_backup_init(c->m_db, "main", m->m_db, "main")) == NULL) {
		st = db_status(c, sqlite3_errcode(c->m_db), "snapshot");
		goto done;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		st = db_status(c, rc, "snapshot");
		goto done;
	}
	if ((st = pragma(c, "PRAGMA foreign_keys = ON", NULL, 0)) != ST_OK)
		goto done;
	/* S_USAGE's function, as sq_open registers it: every statement is prepared */
	rc = sqlite3_create_function(c->m_db, "policy_match", 1, SQLITE_UTF8, c, policy_match_sql,
				     NULL, NULL);
	if (rc != SQLITE_OK) {
		st = db_status(c, rc, "policy_match");
		goto done;
	}
	if ((st = prepare(c, 0, S__COUNT)) != ST_OK)
		goto done;
	*out = &c->m_base;
	c = NULL;
done:
	if (c != NULL)
		sq_close(&c->m_base);
	return st;
}

/* One machine holds the file: granted (meta.h). */
static status_t sq_lock_try(meta *base, const char *name, bool *out_got)
{
	(void)base;
	(void)name;
	*out_got = true;
	return ST_OK;
}

static void sq_unlock(meta *base, const char *name)
{
	(void)base;
	(void)name;
}

const meta_ops meta_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .repo_exists = sq_repo_exists,
    .repo_list = sq_repo_list,
    .blob_link = sq_blob_link,
    .blob_get = sq_blob_get,
    .blob_find = sq_blob_find,
    .blob_unlink = sq_blob_unlink,
    .blob_repos = sq_blob_repos,
    .manifest_put = sq_manifest_put,
    .manifest_get = sq_manifest_get,
    .manifest_delete = sq_manifest_delete,
    .tag_delete = sq_tag_delete,
    .tag_list = sq_tag_list,
    .referrers = sq_referrers,
    .upload_create = sq_upload_create,
    .upload_get = sq_upload_get,
    .upload_touch = sq_upload_touch,
    .upload_delete = sq_upload_delete,
    .upload_list_stale = sq_upload_list_stale,
    .tag_get = sq_tag_get,
    .tag_records = sq_tag_records,
    .write_begin = sq_write_begin,
    .write_end = sq_write_end,
    .usage = sq_usage,
    .du = sq_du,
    .pulls_add = sq_pulls_add,
    .digests = sq_digests,
    .digest_users = sq_digest_users,
    .quarantine_add = sq_quarantine_add,
    .quarantine_list = sq_quarantine_list,
    .stats_get = sq_stats_get,
    .ping = sq_ping,
    .backup = sq_backup,
    .events_add = sq_events_add,
    .events_next = sq_events_next,
    .events_ack = sq_events_ack,
    .events_count = sq_events_count,
    .manifest_push = sq_manifest_push,
    .blob_hold = sq_blob_hold,
    .blob_link_held = sq_blob_link_held,
    .blob_use = sq_blob_use,
    .blob_mount = sq_blob_mount,
    .gc_manifests = sq_gc_manifests,
    .gc_manifests_drop = sq_gc_manifests_drop,
    .gc_links = sq_gc_links,
    .gc_links_drop = sq_gc_links_drop,
    .gc_blobs = sq_gc_blobs,
    .gc_blobs_drop = sq_gc_blobs_drop,
    .gc_reap = sq_gc_reap,
    .repo_clear = sq_repo_clear,
    .snapshot = sq_snapshot,
    .repo_summary = sq_repo_summary,
    .tag_page = sq_tag_page,
    .lock_try = sq_lock_try,
    .unlock = sq_unlock,
};
