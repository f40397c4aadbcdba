/*
 * meta_sqlite.h - the "sqlite" metadata index backend: one SQLite database
 * file (DATA/registry.db), one connection per `meta`.
 *
 * Guarantees (meta.h asks them of every backend):
 *   - Transactions: every write of more than one row runs in BEGIN
 *     IMMEDIATE ... COMMIT (the write lock taken up front, so it never
 *     fails half-way on a lock upgrade); a crash leaves all of it or none.
 *   - Durability: WAL with synchronous=FULL: a COMMIT returns after the WAL
 *     is fsynced, so a write that returned survives power loss.
 *   - Read-after-write: WAL readers see every transaction committed before
 *     their statement began, on any connection of any process.
 *   - Concurrency: many readers and one writer at a time; a writer waits
 *     for another's lock up to a busy timeout (5 s), then ST_IO.
 *   - The schema's foreign keys hold (a tag points at a manifest of its own
 *     repository, ...); the schema version is checked at open.
 */
#ifndef META_SQLITE_H
#define META_SQLITE_H

#include "meta.h"

/* Name "sqlite". open: the database file at location, created and
 * migrated as needed; ST_INVALID for NULL, ST_NOMEM, ST_IO. */
extern const meta_ops meta_sqlite_ops;

#endif
