/*
 * h_blobs.c - GET, HEAD and DELETE of /v2/<name>/blobs/<digest>.
 *
 * Translation only: the core says whether the repository may serve the
 * blob and gives its bytes (stored, or arriving from an upstream); this
 * file answers with them, with Range on GET (HEAD ignores it).
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

status_t blobs_begin(request *r)
{
	return ST_OK;
}

static enum MHD_Result blob_delete(request *r)
{
	status_t st = core_blob_delete(r->srv->core, r->q, r->ref);

	if (st != ST_OK)
		return reply_core_error(r, st);
	return reply_send(r, reply_empty(), 202);
}

enum MHD_Result blobs_finish(request *r)
{
	struct MHD_Response *resp;
	uint64_t size, start = 0, len;
	const char *range;
	unsigned status = 200;
	core_blob *b = NULL;
	status_t st;

	if (r->method == M_DELETE)
		return blob_delete(r);
	st = core_blob_get(r->srv->core, r->q, r->ref, &b);
	if (st == ST_BUSY)
		return MHD_YES; /* waiting for an upstream: called again when resumed */
	if (st != ST_OK)
		return reply_core_error(r, st);
	/* s3_redirect: the client fetches the bytes from the object store
	 * (Range and all), not through us; HEAD is still answered here */
	char *url = NULL;
	if (r->method == M_GET && core_blob_redirect(r->srv->core, r->ref, &url) == ST_OK) {
		core_blob_free(b);
		if ((resp = reply_empty()) == NULL) {
			free(url);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Location", url);
		MHD_add_response_header(resp, "Docker-Content-Digest", r->ref);
		free(url);
		return reply_send(r, resp, 307);
	}
	size = len = core_blob_size(b);
	/* GET only: RFC 9110 (14.2) defines range handling for GET alone and
	 * says a server MUST ignore Range on other methods. So HEAD always
	 * answers 200 with the whole size, also for a range a GET would get
	 * 416 for: a HEAD is how clients ask whether a blob exists. */
	range = r->method == M_GET && size != CORE_SIZE_UNKNOWN ? request_header(r, "Range") : NULL;
	if (range != NULL) {
		st = range_parse(range, size, &start, &len);
		if (st == ST_RANGE) {
			core_blob_free(b);
			resp = reply_empty();
			if (resp == NULL)
				return MHD_NO;
			reply_header(resp, "Content-Range", "bytes */%llu",
				     (unsigned long long)size);
			return reply_send(r, resp, 416);
		}
		if (st == ST_OK)
			status = 206;
		else
			start = 0, len = size; /* malformed: ignore, as RFC 9110 allows */
	}
	if ((resp = reply_blob(r, b, start, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Docker-Content-Digest", r->ref);
	if (size != CORE_SIZE_UNKNOWN)
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	reply_header(resp, "ETag", "\"%s\"", r->ref);
	MHD_add_response_header(resp, "Cache-Control", "max-age=31536000");
	if (status == 206)
		reply_header(resp, "Content-Range", "bytes %llu-%llu/%llu",
			     (unsigned long long)start, (unsigned long long)(start + len - 1),
			     (unsigned long long)size);
	return reply_send(r, resp, status);
}
