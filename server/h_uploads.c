/*
 * h_uploads.c - pushing blobs: /v2/<name>/blobs/uploads/[<id>].
 *
 *   POST                  new session -> 202 + Location
 *   POST ?digest=D        monolithic upload of the body -> 201
 *   POST ?mount=D&from=R  link a blob R already has -> 201, else a session
 *                         (with auth on: only from an R the caller may pull)
 *   PATCH                 append the body (streamed or one Content-Range chunk)
 *   PUT ?digest=D         append an optional last chunk, verify, commit -> 201
 *   GET                   progress -> 204 + Range
 *   DELETE                cancel -> 204
 *
 * Bytes go from libmicrohttpd's buffer into the upload file and the running
 * hash, through the store's staging ring for large bodies (hashed and
 * written by helper threads, flushed before each request's reply); the
 * final PUT never re-reads the file. The session is checked out for the
 * whole request (begin to request end), so two requests can never
 * interleave writes to one upload.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "../oci/range.h"
#include "server.h"

/* The Range header value for a session holding `size` bytes. */
static void range_value(char *out, size_t len, uint64_t size)
{
	snprintf(out, len, "0-%llu", (unsigned long long)(size ? size - 1 : 0));
}

static int id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > BLOBSTORE_ID_MAX)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-'))
			return 0;
	return 1;
}

/* Checks a Content-Range against the session's size before any byte. */
static status_t check_content_range(request *r)
{
	const char *cr = request_header(r, "Content-Range");
	uint64_t size = blob_upload_size(r->sess->up);

	if (cr == NULL)
		return ST_OK;
	if (range_parse_content(cr, &r->range_first, &r->range_last) != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "malformed Content-Range");
		return ST_BLOB_UPLOAD_INVALID;
	}
	r->has_range = true;
	if (r->range_first != size ||
	    (r->content_length >= 0 &&
	     (uint64_t)r->content_length != r->range_last - r->range_first + 1)) {
		range_value(r->location, sizeof(r->location), size);
		r->err_range = r->location;
		snprintf(r->detail, sizeof(r->detail), "chunk must start at byte %llu",
			 (unsigned long long)size);
		return ST_RANGE;
	}
	return ST_OK;
}

static status_t begin_post(request *r)
{
	const char *digest = request_arg(r, "digest");
	const char *mount = request_arg(r, "mount");
	const char *algname = request_arg(r, "digest-algorithm");
	digest_alg alg = DIGEST_SHA256;
	status_t st;

	if (algname != NULL && digest_alg_parse(algname, &alg) != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "unsupported digest algorithm %s", algname);
		return ST_DIGEST_INVALID;
	}
	if (mount != NULL) {
		const char *from = request_arg(r, "from");
		uint64_t size;

		if (digest_parse(mount, NULL) != ST_OK)
			return ST_DIGEST_INVALID;
		/* With access control, a mount needs pull on a named source; one
		 * without `from` could reveal blobs of any repository. */
		if (r->srv->auth != NULL && (from == NULL || !request_allowed(r, "pull", from)))
			st = ST_NOT_FOUND;
		else if (from != NULL)
			st = ref_name_check(from) == ST_OK
				 ? meta_blob_get(r->db, from, mount, &size)
				 : ST_NOT_FOUND;
		else
			st = meta_blob_find(r->db, mount, &size);
		if (st == ST_OK && blobstore_stat(r->srv->bs, mount, NULL) == ST_OK) {
			if ((st = meta_blob_link(r->db, r->name, mount, size)) != ST_OK)
				return st;
			snprintf(r->ref, sizeof(r->ref), "%s", mount);
			r->mounted = true;
			return ST_OK;
		}
		/* Not mountable: a normal session, as the spec asks. */
	}
	if (digest != NULL) {
		if ((st = digest_parse(digest, &alg)) != ST_OK)
			return ST_DIGEST_INVALID;
		snprintf(r->ref, sizeof(r->ref), "%s", digest);
		if ((st = sessions_make_id(r->up_id)) != ST_OK)
			return st;
		return blobstore_upload_begin(r->srv->bs, r->up_id, alg, &r->up);
	}
	/* The session itself is made in finish, once nothing can fail before. */
	r->alg = alg;
	return ST_OK;
}

status_t uploads_begin(request *r)
{
	const char *digest;
	status_t st;

	if (r->route->kind == R_UPLOAD_START)
		return begin_post(r);
	if (!id_valid(r->ref))
		return ST_BLOB_UPLOAD_UNKNOWN;
	if (r->method == M_PUT) {
		digest = request_arg(r, "digest");
		if (digest == NULL || digest_parse(digest, NULL) != ST_OK) {
			snprintf(r->detail, sizeof(r->detail), "%s",
				 digest ? "malformed or unsupported digest" : "digest missing");
			return ST_DIGEST_INVALID;
		}
	}
	st = sessions_checkout(r->srv->ups, r->srv->bs, r->db, r->ref, r->name, &r->sess);
	if (st == ST_BUSY)
		snprintf(r->detail, sizeof(r->detail), "another request is using this upload");
	if (st != ST_OK)
		return st;
	if (r->method == M_PATCH || r->method == M_PUT)
		return check_content_range(r);
	return ST_OK;
}

status_t uploads_data(request *r, const char *buf, size_t len)
{
	blob_upload *up = r->sess ? r->sess->up : r->up;
	status_t st;

	if (up == NULL || (r->method != M_PATCH && r->method != M_PUT && r->method != M_POST))
		return ST_OK; /* a body where none belongs (e.g. a mount): ignored */
	if (r->has_range && r->received + len > r->range_last - r->range_first + 1) {
		snprintf(r->detail, sizeof(r->detail), "more bytes than Content-Range says");
		r->poisoned = true;
		return ST_BLOB_UPLOAD_INVALID;
	}
	blob_upload_stage(up);
	st = blob_upload_write(up, buf, len);
	if (st != ST_OK) {
		r->poisoned = true;
		return st;
	}
	r->received += len;
	return ST_OK;
}

/* Replies 202/204 with the session's progress headers. */
static enum MHD_Result reply_progress(request *r, unsigned status)
{
	struct MHD_Response *resp = reply_empty();
	char range[48];

	if (resp == NULL)
		return MHD_NO;
	range_value(range, sizeof(range), blob_upload_size(r->sess->up));
	reply_header(resp, "Location", "/v2/%s/blobs/uploads/%s", r->name, r->sess->id);
	MHD_add_response_header(resp, "Range", range);
	MHD_add_response_header(resp, "Docker-Upload-UUID", r->sess->id);
	MHD_add_response_header(resp, "OCI-Chunk-Min-Length", "0");
	return reply_send(r, resp, status);
}

static enum MHD_Result reply_created(request *r, const char *digest)
{
	struct MHD_Response *resp = reply_empty();

	if (resp == NULL)
		return MHD_NO;
	reply_header(resp, "Location", "/v2/%s/blobs/%s", r->name, digest);
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	return reply_send(r, resp, 201);
}

/* Verifies and commits up as `digest`, then links it to the repository. */
static status_t commit(request *r, blob_upload *up, const char *digest)
{
	uint64_t size;
	status_t st = blobstore_upload_commit(r->srv->bs, up, digest, &size);

	if (st == ST_DIGEST_MISMATCH || st == ST_INVALID) {
		snprintf(r->detail, sizeof(r->detail), "content does not match %s", digest);
		return ST_DIGEST_INVALID;
	}
	if (st != ST_OK)
		return st;
	return meta_blob_link(r->db, r->name, digest, size);
}

static enum MHD_Result finish_post(request *r)
{
	status_t st;

	if (r->mounted)
		return reply_created(r, r->ref);
	if (r->up != NULL) {
		st = commit(r, r->up, r->ref);
		if (st != ST_OK)
			return reply_error(r, st, r->detail);
		return reply_created(r, r->ref);
	}
	st = sessions_create(r->srv->ups, r->srv->bs, r->db, r->name, r->alg, &r->sess);
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	return reply_progress(r, 202);
}

enum MHD_Result uploads_finish(request *r)
{
	const char *digest;
	status_t st;
	upload_session *s;

	if (r->route->kind == R_UPLOAD_START)
		return finish_post(r);
	switch (r->method) {
	case M_GET:
		return reply_progress(r, 204);
	case M_DELETE:
		s = r->sess;
		r->sess = NULL;
		sessions_end(r->srv->ups, r->srv->bs, r->db, s);
		return reply_send(r, reply_empty(), 204);
	case M_PATCH:
		if (r->has_range && r->received != r->range_last - r->range_first + 1) {
			r->poisoned = true;
			return reply_error(r, ST_BLOB_UPLOAD_INVALID,
					   "fewer bytes than Content-Range says");
		}
		if ((st = blob_upload_flush(r->sess->up)) != ST_OK) {
			r->poisoned = true;
			return reply_error(r, st, NULL);
		}
		meta_upload_touch(r->db, r->sess->id);
		return reply_progress(r, 202);
	default: /* M_PUT */
		digest = request_arg(r, "digest");
		st = commit(r, r->sess->up, digest);
		s = r->sess;
		r->sess = NULL;
		/* Committed or refused, the session is over either way. */
		sessions_end(r->srv->ups, r->srv->bs, r->db, s);
		if (st != ST_OK)
			return reply_error(r, st, r->detail);
		return reply_created(r, digest);
	}
}

void uploads_request_done(request *r)
{
	if (r->sess != NULL) {
		/* Staged bytes go to the file before anyone else may use it. */
		if (blob_upload_flush(r->sess->up) != ST_OK)
			r->poisoned = true;
		/* A failed or inconsistent write poisons the upload: end it and
		 * free its space; the client starts over. */
		if (r->poisoned)
			sessions_end(r->srv->ups, r->srv->bs, r->db, r->sess);
		else
			sessions_checkin(r->srv->ups, r->sess);
		r->sess = NULL;
	}
	if (r->up != NULL) {
		/* Monolithic upload: committed (file gone) or abandoned (remove it). */
		blob_upload_free(r->up);
		r->up = NULL;
		blobstore_upload_remove(r->srv->bs, r->up_id);
	}
}
