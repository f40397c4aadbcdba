/*
 * meta_pg.h - the "postgres" metadata index backend: the tables of
 * meta_sqlite.c in one PostgreSQL database that any number of registry
 * replicas share; one libpq connection per `meta` (libpq dlopened, see
 * pq_load.h).
 *
 * Guarantees (meta.h asks them of every backend):
 *   - Transactions: every write of more than one row is one transaction.
 *   - Durability: synchronous_commit = on: a COMMIT returns once the
 *     server flushed its WAL (what the server's fsync settings promise).
 *   - Read-after-write: READ COMMITTED; each statement sees every commit
 *     made before it began, on any connection of any replica.
 *   - Concurrency: readers never wait; writers (of every replica) take one
 *     transaction-scoped advisory lock in turn, as SQLite's single writer,
 *     waiting up to lock_timeout (5 s), then ST_IO.
 *   - The same foreign keys and keyset-paged lists as the SQLite backend;
 *     the schema is migrated at open under an advisory lock.
 * meta_backup and meta_snapshot answer ST_UNSUPPORTED (use pg_dump).
 */
#ifndef META_PG_H
#define META_PG_H

#include "meta.h"

/* Name "postgres". open: location is a libpq connection string
 * ("postgresql://user@host/db" or "host=... dbname=..."); ST_INVALID for
 * NULL; ST_UNSUPPORTED when libpq (Debian's libpq5) cannot be loaded;
 * ST_NOMEM; ST_UNAVAILABLE (cannot connect); ST_IO (cannot migrate or
 * prepare).
 * A connection that dies later (the server restarted) is made again by
 * the next call outside a transaction; until it can be, calls answer
 * ST_UNAVAILABLE (meta_pg.c's "Reconnecting" says what runs again). */
extern const meta_ops meta_pg_ops;

#endif
