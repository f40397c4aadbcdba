/*
 * sessions.h - the table of upload sessions in progress, in memory.
 *
 * A session lives in three places: a row in the metadata (so it survives a
 * restart and can be listed and expired), a file in the blob store, and here:
 * the running hash, so a PATCH never re-reads what earlier requests wrote.
 * Between requests the file is closed (blob_upload_park), so sessions a
 * client abandons cost memory, not file descriptors. After a restart a session is rebuilt on first
 * use from the row and the file (one re-hash). A session is checked out by one request at a time; a
 * second concurrent request on it gets ST_BUSY.
 */
#ifndef SESSIONS_H
#define SESSIONS_H

#include <time.h>

#include "../storage/blobstore.h"
#include "../storage/meta.h"

typedef struct sessions sessions;

typedef struct upload_session {
	char id[BLOBSTORE_ID_MAX + 1];
	char repo[META_NAME_MAX];
	blob_upload *up; /* owned */
	time_t touched;
	int busy;
	struct upload_session *next;
} upload_session;

/* ST_OK with *out, or ST_NOMEM. Free with sessions_free. */
status_t sessions_new(sessions **out);
/* Frees every session's memory; their files and rows stay. NULL ok. */
void sessions_free(sessions *ss);

/* Writes a new random session id (36 chars, UUID form) into out. ST_OK or ST_IO. */
status_t sessions_make_id(char out[BLOBSTORE_ID_MAX + 1]);

/*
 * Starts a new session for repo: a metadata row, an upload file and the
 * table entry, checked out to the caller. ST_OK with *out; ST_NO_SPACE,
 * ST_IO, ST_NOMEM (nothing left behind).
 */
status_t sessions_create(sessions *ss, blobstore *bs, meta *db, const char *repo, digest_alg alg,
			 upload_session **out);

/*
 * Checks out session id of repo. ST_OK with *out; ST_BLOB_UPLOAD_UNKNOWN if
 * there is no such session in repo; ST_BUSY if another request has it;
 * ST_IO.
 */
status_t sessions_checkout(sessions *ss, blobstore *bs, meta *db, const char *id, const char *repo,
			   upload_session **out);

/* Returns a checked-out session to the table (shared: forgets it, see
 * sessions_set_shared; s is freed). */
void sessions_checkin(sessions *ss, upload_session *s);

/*
 * Several replicas share the session rows (metadata = postgres) and the
 * upload files: a client's next PATCH may land on another replica. Then no
 * session is kept in memory between requests: each request resumes it from
 * its row and file (one re-hash of what is there, as after a restart), so
 * what another replica appended is never missed. Two requests on one session
 * at once on two replicas are not detected (clients send one at a time).
 * Call before serving.
 */
void sessions_set_shared(sessions *ss);

/*
 * Ends a checked-out session: removes the entry, the row and (if still
 * there) the upload file. s is freed.
 */
void sessions_end(sessions *ss, blobstore *bs, meta *db, upload_session *s);

/*
 * Removes sessions idle since before `before`: table entries, rows and files,
 * and upload files with no row (left by a crash). Returns how many.
 */
int sessions_expire(sessions *ss, blobstore *bs, meta *db, time_t before);

#endif
