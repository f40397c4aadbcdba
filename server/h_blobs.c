/*
 * h_blobs.c - GET, HEAD and DELETE of /v2/<name>/blobs/<digest>.
 *
 * A blob is served only if the repository has it linked (pushed or mounted
 * there), or if it is one of the repository's manifests. The bytes go from
 * the blob file to the socket with sendfile (an fd response), with Range
 * (on GET; HEAD ignores it).
 */
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "server.h"
#include "../oci/range.h"

status_t blobs_begin(request *r)
{
	status_t st = digest_parse(r->ref, NULL);

	if (st != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "%s",
			 st == ST_UNSUPPORTED ? "unsupported digest algorithm"
					      : "malformed digest");
		return ST_DIGEST_INVALID;
	}
	if (r->method == M_DELETE && !r->srv->cfg.delete_enabled)
		return ST_METHOD_NOT_ALLOWED;
	return ST_OK;
}

static enum MHD_Result blob_delete(request *r)
{
	status_t st = meta_blob_unlink(r->db, r->name, r->ref);

	if (st == ST_NOT_FOUND)
		return reply_error(r, ST_BLOB_UNKNOWN, NULL);
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	return reply_send(r, reply_empty(), 202);
}

enum MHD_Result blobs_finish(request *r)
{
	struct MHD_Response *resp;
	meta_manifest man;
	uint64_t size, start = 0, len;
	const char *range;
	unsigned status = 200;
	blob_reader *rd = NULL;
	status_t st;

	if (r->method == M_DELETE)
		return blob_delete(r);
	st = meta_blob_get(r->db, r->name, r->ref, NULL);
	if (st == ST_NOT_FOUND && meta_manifest_get(r->db, r->name, r->ref, &man) == ST_OK)
		st = ST_OK;
	if (st == ST_NOT_FOUND && r->mirror != NULL)
		return mirror_blob(r); /* ask the upstream */
	if (st == ST_NOT_FOUND)
		return reply_error(r, ST_BLOB_UNKNOWN, NULL);
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	st = blobstore_read_open(r->srv->bs, r->ref, &rd);
	if (st == ST_NOT_FOUND && r->mirror != NULL)
		return mirror_blob(r); /* evicted from the cache meanwhile: fetch it again */
	if (st == ST_NOT_FOUND)
		return reply_error(r, ST_BLOB_UNKNOWN, "blob file missing");
	if (st == ST_OK && r->mirror != NULL)
		mirror_blob_served(r); /* for the cache's least-recently-pulled order */
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	size = len = blob_reader_size(rd);
	/* GET only: RFC 9110 (14.2) defines range handling for GET alone and
	 * says a server MUST ignore Range on other methods. So HEAD always
	 * answers 200 with the whole size, also for a range a GET would get
	 * 416 for: a HEAD is how clients ask whether a blob exists. */
	range = r->method == M_GET ? request_header(r, "Range") : NULL;
	if (range != NULL) {
		st = range_parse(range, size, &start, &len);
		if (st == ST_RANGE) {
			blob_reader_close(rd);
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
	if ((resp = reply_blob(rd, start, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Docker-Content-Digest", r->ref);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	reply_header(resp, "ETag", "\"%s\"", r->ref);
	MHD_add_response_header(resp, "Cache-Control", "max-age=31536000");
	if (status == 206)
		reply_header(resp, "Content-Range", "bytes %llu-%llu/%llu",
			     (unsigned long long)start, (unsigned long long)(start + len - 1),
			     (unsigned long long)size);
	return reply_send(r, resp, status);
}
