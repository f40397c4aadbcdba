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
#include "server.h"

/* The Range header value for a session holding `size` bytes. */
static void range_value(char *out, size_t len, uint64_t size)
{
	snprintf(out, len, "0-%llu", (unsigned long long)(size ? size - 1 : 0));
}

static int id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > CORE_UPLOAD_ID_MAX)
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
	uint64_t size = core_upload_size(r->up);

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
	if ((st = core_req_writable(r->q)) != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "%s", core_req_detail(r->q));
		return st;
	}
	if (mount != NULL) {
		const char *from = request_arg(r, "from");
		uint64_t size;

		if (digest_parse(mount, NULL) != ST_OK)
			return ST_DIGEST_INVALID;
		/* With access control, a mount needs pull on a named source; one
		 * without `from` could reveal blobs of any repository. */
		if (r->gen->auth != NULL && (from == NULL || !request_allowed(r, "pull", from)))
			st = ST_NOT_FOUND;
		else
			st = core_blob_mount(r->srv->core, r->q, mount, from, &size);
		if (st == ST_OK) {
			snprintf(r->ref, sizeof(r->ref), "%s", mount);
			r->mounted = true;
			return ST_OK;
		}
		if (st != ST_NOT_FOUND) {
			/* a quota's refusal: its detail is what docker prints */
			if (core_req_detail(r->q) != NULL)
				snprintf(r->detail, sizeof(r->detail), "%s", core_req_detail(r->q));
			return st;
		}
		/* Not mountable: a normal session, as the spec asks. */
	}
	if (digest != NULL) {
		if ((st = digest_parse(digest, &alg)) != ST_OK)
			return ST_DIGEST_INVALID;
		snprintf(r->ref, sizeof(r->ref), "%s", digest);
		return core_upload_once(r->srv->core, r->q, alg, &r->up);
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
	if (r->method != M_GET && (st = core_req_writable(r->q)) != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "%s", core_req_detail(r->q));
		return st;
	}
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
	st = core_upload_checkout(r->srv->core, r->q, r->ref, &r->up);
	if (st != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "%s",
			 core_req_detail(r->q) ? core_req_detail(r->q) : "");
		return st;
	}
	if (r->method == M_PATCH || r->method == M_PUT)
		return check_content_range(r);
	return ST_OK;
}

status_t uploads_data(request *r, const char *buf, size_t len)
{
	status_t st;

	if (r->up == NULL || (r->method != M_PATCH && r->method != M_PUT && r->method != M_POST))
		return ST_OK; /* a body where none belongs (e.g. a mount): ignored */
	if (r->has_range && r->received + len > r->range_last - r->range_first + 1) {
		snprintf(r->detail, sizeof(r->detail), "more bytes than Content-Range says");
		r->poisoned = true;
		return ST_BLOB_UPLOAD_INVALID;
	}
	st = core_upload_write(r->up, buf, len);
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
	range_value(range, sizeof(range), core_upload_size(r->up));
	reply_header(resp, "Location", "/v2/%s/blobs/uploads/%s", r->name, core_upload_id(r->up));
	MHD_add_response_header(resp, "Range", range);
	MHD_add_response_header(resp, "Docker-Upload-UUID", core_upload_id(r->up));
	MHD_add_response_header(resp, "OCI-Chunk-Min-Length", "0");
	return reply_send(r, resp, status);
}

static enum MHD_Result reply_created(request *r, const char *digest)
{
	struct MHD_Response *resp = reply_empty();

	snprintf(r->digest, sizeof(r->digest), "%s", digest);
	if (resp == NULL)
		return MHD_NO;
	reply_header(resp, "Location", "/v2/%s/blobs/%s", r->name, digest);
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	return reply_send(r, resp, 201);
}

/* Verifies and commits r->up as digest (the upload ends either way). */
static enum MHD_Result commit(request *r, const char *digest)
{
	core_upload *u = r->up;
	status_t st;

	r->up = NULL;
	st = core_upload_commit(r->srv->core, r->q, u, digest, NULL);
	if (st != ST_OK)
		return reply_core_error(r, st);
	return reply_created(r, digest);
}

static enum MHD_Result finish_post(request *r)
{
	status_t st;

	if (r->mounted)
		return reply_created(r, r->ref);
	if (r->up != NULL)
		return commit(r, r->ref);
	st = core_upload_create(r->srv->core, r->q, r->alg, &r->up);
	if (st != ST_OK)
		return reply_core_error(r, st);
	return reply_progress(r, 202);
}

enum MHD_Result uploads_finish(request *r)
{
	core_upload *u;
	status_t st;

	if (r->route->kind == R_UPLOAD_START)
		return finish_post(r);
	switch (r->method) {
	case M_GET:
		return reply_progress(r, 204);
	case M_DELETE:
		u = r->up;
		r->up = NULL;
		core_upload_cancel(r->srv->core, u);
		return reply_send(r, reply_empty(), 204);
	case M_PATCH:
		if (r->has_range && r->received != r->range_last - r->range_first + 1) {
			r->poisoned = true;
			return reply_error(r, ST_BLOB_UPLOAD_INVALID,
					   "fewer bytes than Content-Range says");
		}
		if ((st = core_upload_flush(r->srv->core, r->up)) != ST_OK) {
			r->poisoned = true;
			return reply_error(r, st, NULL);
		}
		return reply_progress(r, 202);
	default: /* M_PUT */
		return commit(r, request_arg(r, "digest"));
	}
}

void uploads_request_done(request *r)
{
	core_upload *u = r->up;

	/* A session goes back to the table (flushed, its file closed), or ends
	 * if poisoned; a monolithic upload not committed is removed. */
	r->up = NULL;
	core_upload_release(r->srv->core, u, r->poisoned);
}
