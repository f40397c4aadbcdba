/*
 * uploads.c - pushing blobs: upload sessions (sessions.c keeps them) and
 * uploads of one request, their bytes, and the commit that publishes a
 * blob and links it to its repository.
 *
 * Bytes go into the upload file and the running hash, through the store's
 * staging ring for large bodies; the commit never re-reads the file. A
 * session is checked out for a whole request, so two requests can never
 * interleave writes to one upload.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(CORE_UPLOAD_ID_MAX == BLOBSTORE_ID_MAX, "upload ids: one bound");

struct core_upload {
	upload_session *sess;	       /* a session, checked out; or */
	blob_upload *up;	       /* an upload of one request (owned) */
	char id[BLOBSTORE_ID_MAX + 1]; /* its file's id */
};

status_t core_upload_create(core *c, core_req *q, digest_alg alg, core_upload **out)
{
	core_upload *u;
	status_t st;
	meta *db;

	*out = NULL;
	if ((st = policy_writable(q)) != ST_OK || (st = core_db(c, &db)) != ST_OK)
		return st;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return ST_NOMEM;
	if ((st = sessions_create(c->ups, c->bs, db, q->name, alg, &u->sess)) != ST_OK) {
		free(u);
		return st;
	}
	snprintf(u->id, sizeof(u->id), "%s", u->sess->id);
	*out = u;
	return ST_OK;
}

status_t core_upload_once(core *c, core_req *q, digest_alg alg, core_upload **out)
{
	core_upload *u;
	status_t st;

	*out = NULL;
	if ((st = policy_writable(q)) != ST_OK)
		return st;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return ST_NOMEM;
	if ((st = sessions_make_id(u->id)) != ST_OK ||
	    (st = blobstore_upload_begin(c->bs, u->id, alg, &u->up)) != ST_OK) {
		free(u);
		return st;
	}
	*out = u;
	return ST_OK;
}

status_t core_upload_checkout(core *c, core_req *q, const char *id, core_upload **out)
{
	core_upload *u;
	status_t st;
	meta *db;

	*out = NULL;
	/* (a mirrored repository has no sessions: creating one is refused) */
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return ST_NOMEM;
	st = sessions_checkout(c->ups, c->bs, db, id, q->name, &u->sess);
	if (st != ST_OK) {
		if (st == ST_BUSY)
			core_detail(q, "another request is using this upload");
		free(u);
		return st;
	}
	snprintf(u->id, sizeof(u->id), "%s", id);
	*out = u;
	return ST_OK;
}

static blob_upload *upload_of(const core_upload *u)
{
	return u->sess != NULL ? u->sess->up : u->up;
}

const char *core_upload_id(const core_upload *u)
{
	return u->id;
}

uint64_t core_upload_size(const core_upload *u)
{
	return blob_upload_size(upload_of(u));
}

status_t core_upload_write(core_upload *u, const void *buf, size_t len)
{
	blob_upload *up = upload_of(u);

	blob_upload_stage(up);
	return blob_upload_write(up, buf, len);
}

status_t core_upload_flush(core *c, core_upload *u)
{
	status_t st = blob_upload_flush(upload_of(u));
	meta *db;

	if (st == ST_OK && u->sess != NULL && core_db(c, &db) == ST_OK)
		meta_upload_touch(db, u->id); /* progress: not idle */
	return st;
}

/* Ends u: its session (row, file, memory) or its one-request file. */
static void upload_end(core *c, core_upload *u)
{
	meta *db;

	if (u->sess != NULL && core_db(c, &db) == ST_OK) {
		sessions_end(c->ups, c->bs, db, u->sess);
	} else if (u->sess == NULL) {
		blob_upload_free(u->up);
		blobstore_upload_remove(c->bs, u->id);
	}
	free(u);
}

/* The retries of link_committed: each needs a collection to take the row
 * in the milliseconds between two of our transactions. */
#define COMMIT_TRIES 3

/*
 * Links a blob just published under a row held as gen (meta.h's rules: the
 * row must not have gone between the hold and the link, or a collector may
 * have removed the file). If it went, the row is held again and, if the
 * file is still there, it now stays; if it is not, the upload's bytes are
 * gone and the client must send them again.
 */
static status_t link_committed(core *c, core_req *q, meta *db, const char *digest, uint64_t size,
			       int64_t gen)
{
	status_t st;

	for (int i = 0;; i++) {
		/* quotas, checked in the link's transaction */
		if ((st = policy_link(q, db, digest, size, gen)) != ST_BUSY)
			return st;
		if (i + 1 == COMMIT_TRIES ||
		    (st = meta_blob_hold(db, digest, size, &gen)) != ST_OK ||
		    blobstore_stat(c->bs, digest, NULL) != ST_OK) {
			core_detail(q,
				    "garbage collection removed %s while it was committed: "
				    "upload it again",
				    digest);
			return ST_BLOB_UPLOAD_INVALID;
		}
	}
}

status_t core_upload_commit(core *c, core_req *q, core_upload *u, const char *digest,
			    uint64_t *out_size)
{
	uint64_t size = 0;
	int64_t gen = 0;
	status_t st;
	meta *db;

	if (digest == NULL || digest_parse(digest, NULL) != ST_OK) {
		core_detail(q, "%s", digest ? "malformed or unsupported digest" : "digest missing");
		st = ST_DIGEST_INVALID;
	} else if ((st = core_db(c, &db)) == ST_OK &&
		   /* the row before the file: see link_committed */
		   (st = meta_blob_hold(db, digest, core_upload_size(u), &gen)) == ST_OK) {
		st = blobstore_upload_commit(c->bs, upload_of(u), digest, &size);
		if (st == ST_DIGEST_MISMATCH || st == ST_INVALID) {
			core_detail(q, "content does not match %s", digest);
			st = ST_DIGEST_INVALID;
		} else if (st == ST_OK) {
			st = link_committed(c, q, db, digest, size, gen);
		}
	}
	/* Committed or refused, the upload is over either way. */
	upload_end(c, u);
	if (st == ST_OK) {
		core_event(q, "upload", digest, NULL);
		if (out_size != NULL)
			*out_size = size;
	}
	return st;
}

void core_upload_cancel(core *c, core_upload *u)
{
	if (u != NULL)
		upload_end(c, u);
}

void core_upload_release(core *c, core_upload *u, bool poisoned)
{
	if (u == NULL)
		return;
	if (u->sess == NULL) {
		/* one request's upload, not committed: nothing to keep */
		upload_end(c, u);
		return;
	}
	/* Staged bytes go to the file before anyone else may use it. */
	if (blob_upload_flush(u->sess->up) != ST_OK)
		poisoned = true;
	/* A failed or inconsistent write poisons the upload: end it and free
	 * its space; the client starts over. */
	if (poisoned) {
		upload_end(c, u);
		return;
	}
	sessions_checkin(c->ups, u->sess);
	free(u);
}
