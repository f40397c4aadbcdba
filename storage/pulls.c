/*
 * pulls.c - the cache's pull-recency index (see pulls.h).
 *
 *   cached(digest, size, pulled)      blobs the cache fetched; `pulled` is
 *                                     the last time one was served
 *   pulled_manifests(digest, pulled)  manifests served from the cache
 *   refs(manifest, ref)               what a cached manifest references
 *
 * Victims are the cached blobs not reachable from a manifest pulled since
 * keep_since, found with one recursive query (an index reaches its
 * manifests, which reach their blobs), in `pulled` order.
 */
#include "pulls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../common/log.h"

#define PULLS_BUSY_TIMEOUT_MS 5000

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS cached ("
    "  digest TEXT PRIMARY KEY, size INTEGER NOT NULL, pulled INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS cached_pulled ON cached(pulled);"
    "CREATE TABLE IF NOT EXISTS pulled_manifests ("
    "  digest TEXT PRIMARY KEY, pulled INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS refs ("
    "  manifest TEXT NOT NULL, ref TEXT NOT NULL, PRIMARY KEY (manifest, ref)"
    ") WITHOUT ROWID;";

enum { P_CACHED, P_REF, P_TOUCH_BLOB, P_TOUCH_MAN, P_TOTAL, P_VICTIMS, P_FORGET, P__COUNT };

static const char *const sql[P__COUNT] = {
    [P_CACHED] = "INSERT INTO cached(digest, size, pulled) VALUES (?1, ?2, ?3)"
		 " ON CONFLICT (digest) DO UPDATE SET size = excluded.size,"
		 " pulled = max(pulled, excluded.pulled)",
    [P_REF] = "INSERT INTO refs(manifest, ref) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [P_TOUCH_BLOB] = "UPDATE cached SET pulled = max(pulled, ?2) WHERE digest = ?1",
    [P_TOUCH_MAN] = "INSERT INTO pulled_manifests(digest, pulled) VALUES (?1, ?2)"
		    " ON CONFLICT (digest) DO UPDATE SET pulled = max(pulled, excluded.pulled)",
    [P_TOTAL] = "SELECT coalesce(sum(size), 0) FROM cached",
    [P_VICTIMS] = "WITH RECURSIVE keep(d) AS ("
		  "  SELECT digest FROM pulled_manifests WHERE pulled >= ?1"
		  "  UNION SELECT r.ref FROM refs r JOIN keep k ON r.manifest = k.d"
		  ") SELECT digest, size, pulled FROM cached"
		  " WHERE digest NOT IN (SELECT d FROM keep) ORDER BY pulled, digest",
    [P_FORGET] = "DELETE FROM cached WHERE digest = ?1",
};

struct pulls {
	sqlite3 *p_db;
	sqlite3_stmt *p_stmt[P__COUNT];
};

static status_t fail(pulls *p, int rc, const char *what)
{
	log_error("pulls: %s: %s (%d)", what, sqlite3_errmsg(p->p_db), rc);
	if ((rc & 0xff) == SQLITE_FULL ||
	    ((rc & 0xff) == SQLITE_IOERR && sqlite3_system_errno(p->p_db) == ENOSPC))
		return ST_NO_SPACE;
	return ST_IO;
}

static sqlite3_stmt *stmt(pulls *p, int id)
{
	sqlite3_reset(p->p_stmt[id]);
	sqlite3_clear_bindings(p->p_stmt[id]);
	return p->p_stmt[id];
}

/* Steps a statement that returns no row, then resets it. */
static status_t run(pulls *p, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? ST_OK : fail(p, rc, what);
}

status_t pulls_open(pulls **out, const char *path)
{
	pulls *p = calloc(1, sizeof(*p));
	char *err = NULL;
	int rc;

	*out = NULL;
	if (p == NULL)
		return ST_NOMEM;
	rc = sqlite3_open_v2(
	    path, &p->p_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("pulls: cannot open %s: %s", path,
			  p->p_db ? sqlite3_errmsg(p->p_db) : sqlite3_errstr(rc));
		pulls_close(p);
		return ST_IO;
	}
	sqlite3_extended_result_codes(p->p_db, 1);
	sqlite3_busy_timeout(p->p_db, PULLS_BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(p->p_db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
			  NULL, &err);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(p->p_db, schema_sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		log_error("pulls: %s: %s", path, err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		pulls_close(p);
		return ST_IO;
	}
	for (int i = 0; i < P__COUNT; i++) {
		if ((rc = sqlite3_prepare_v3(p->p_db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &p->p_stmt[i], NULL)) != SQLITE_OK) {
			fail(p, rc, sql[i]);
			pulls_close(p);
			return ST_IO;
		}
	}
	*out = p;
	return ST_OK;
}

void pulls_close(pulls *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < P__COUNT; i++)
		sqlite3_finalize(p->p_stmt[i]);
	sqlite3_close(p->p_db);
	free(p);
}

status_t pulls_blob_cached(pulls *p, const char *digest, uint64_t size, time_t when)
{
	sqlite3_stmt *s = stmt(p, P_CACHED);

	sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)when);
	return run(p, s, "recording a cached blob");
}

status_t pulls_manifest_refs(pulls *p, const char *manifest, const char *const *refs, size_t n)
{
	status_t st = ST_OK;

	if (sqlite3_exec(p->p_db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(p, sqlite3_errcode(p->p_db), "BEGIN");
	for (size_t i = 0; i < n && st == ST_OK; i++) {
		sqlite3_stmt *s = stmt(p, P_REF);
		sqlite3_bind_text(s, 1, manifest, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, refs[i], -1, SQLITE_STATIC);
		st = run(p, s, "recording a manifest's references");
	}
	if (sqlite3_exec(p->p_db, st == ST_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) !=
		SQLITE_OK &&
	    st == ST_OK)
		st = fail(p, sqlite3_errcode(p->p_db), "COMMIT");
	return st;
}

status_t pulls_touch(pulls *p, const char *digest, time_t when)
{
	sqlite3_stmt *s = stmt(p, P_TOUCH_BLOB);
	status_t st;

	sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)when);
	if ((st = run(p, s, "touching a blob")) != ST_OK || sqlite3_changes(p->p_db) > 0)
		return st;
	/* not a cached blob: a manifest */
	s = stmt(p, P_TOUCH_MAN);
	sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)when);
	return run(p, s, "touching a manifest");
}

status_t pulls_total(pulls *p, uint64_t *out)
{
	sqlite3_stmt *s = stmt(p, P_TOTAL);
	int rc = sqlite3_step(s);

	*out = 0;
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return fail(p, rc, "summing the cache");
	}
	*out = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return ST_OK;
}

status_t pulls_victims(pulls *p, time_t keep_since,
		       int (*fn)(void *arg, const char *digest, uint64_t size, time_t pulled),
		       void *arg)
{
	sqlite3_stmt *s = stmt(p, P_VICTIMS);
	status_t st = ST_OK;
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)keep_since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (uint64_t)sqlite3_column_int64(s, 1),
		       (time_t)sqlite3_column_int64(s, 2)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = fail(p, rc, "listing eviction candidates");
	sqlite3_reset(s);
	return st;
}

status_t pulls_forget(pulls *p, const char *digest)
{
	sqlite3_stmt *s = stmt(p, P_FORGET);

	sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
	return run(p, s, "forgetting a blob");
}
