/*
 * h_manifests.c - GET, HEAD, PUT and DELETE of /v2/<name>/manifests/<ref>.
 *
 * Translation only: a PUT's body is buffered (bounded by max_manifest_size)
 * and handed to the core with its ?tag= values, which checks and stores it
 * (core_manifest_put); reads and deletes go to the core as they come.
 * What can be refused before the body arrives is refused in begin.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

status_t manifests_begin(request *r)
{
	ref_kind kind;
	status_t st;

	if (r->method != M_PUT)
		return ST_OK;
	if ((st = core_req_writable(r->q)) != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "%s", core_req_detail(r->q));
		return st;
	}
	if ((st = ref_parse(r->ref, &kind)) == ST_UNSUPPORTED) {
		snprintf(r->detail, sizeof(r->detail), "unsupported digest algorithm");
		return ST_DIGEST_INVALID;
	}
	if (st != ST_OK)
		return st;
	r->body_max = r->gen->cfg.max_manifest_bytes; /* reloadable: the request's */
	if (r->content_length > 0 && (uint64_t)r->content_length > r->body_max) {
		snprintf(r->detail, sizeof(r->detail), "manifest larger than %llu bytes",
			 (unsigned long long)r->body_max);
		return ST_TOO_LARGE;
	}
	return ST_OK;
}

status_t manifests_data(request *r, const char *buf, size_t len)
{
	status_t st;

	if (r->method != M_PUT)
		return ST_OK;
	st = request_buffer(r, buf, len);
	if (st == ST_TOO_LARGE)
		snprintf(r->detail, sizeof(r->detail), "manifest larger than %llu bytes",
			 (unsigned long long)r->body_max);
	return st;
}

static enum MHD_Result manifest_get(request *r)
{
	struct MHD_Response *resp;
	core_manifest man;
	status_t st = core_manifest_get(r->srv->core, r->q, r->ref, &man);

	if (st == ST_BUSY)
		return MHD_YES; /* waiting for an upstream: called again when resumed */
	if (st != ST_OK)
		return reply_core_error(r, st);
	snprintf(r->digest, sizeof(r->digest), "%s", man.digest);
	/* a pull is a GET (docker asks HEAD first, then GETs what it lacks) */
	if (r->method == M_GET)
		core_manifest_served(r->srv->core, r->q, r->ref, &man);
	if ((resp = reply_blob(r, man.body, 0, man.size)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", man.media_type);
	MHD_add_response_header(resp, "Docker-Content-Digest", man.digest);
	reply_header(resp, "ETag", "\"%s\"", man.digest);
	return reply_send(r, resp, 200);
}

static enum MHD_Result manifest_delete(request *r)
{
	status_t st = core_manifest_delete(r->srv->core, r->q, r->ref);

	if (st != ST_OK)
		return reply_core_error(r, st);
	return reply_send(r, reply_empty(), 202);
}

typedef struct {
	const char *tags[CORE_PUT_TAGS_MAX + 1];
	size_t n;
	status_t st;
} tag_args;

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	tag_args *t = cls;

	if (strcmp(key, "tag") != 0)
		return MHD_YES;
	if (value == NULL) {
		t->st = ST_TAG_INVALID;
		return MHD_NO;
	}
	if (t->n >= CORE_PUT_TAGS_MAX) {
		t->st = ST_TOO_LARGE;
		return MHD_NO;
	}
	t->tags[t->n++] = value;
	return MHD_YES;
}

static enum MHD_Result manifest_put(request *r)
{
	tag_args tags = {.st = ST_OK};
	core_put_result out;
	struct MHD_Response *resp;
	status_t st;

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_tag, &tags);
	if ((st = tags.st) != ST_OK)
		return reply_error(r, st, NULL);
	st = core_manifest_put(r->srv->core, r->q, r->ref, tags.tags, tags.n,
			       request_header(r, "Content-Type"), r->body, r->body_len, &out);
	if (st != ST_OK)
		return reply_core_error(r, st);
	snprintf(r->digest, sizeof(r->digest), "%s", out.digest);
	if ((resp = reply_empty()) == NULL)
		return MHD_NO;
	reply_header(resp, "Location", "/v2/%s/manifests/%s", core_req_name(r->q), out.digest);
	MHD_add_response_header(resp, "Docker-Content-Digest", out.digest);
	if (out.subject[0])
		MHD_add_response_header(resp, "OCI-Subject", out.subject);
	return reply_send(r, resp, 201);
}

enum MHD_Result manifests_finish(request *r)
{
	switch (r->method) {
	case M_PUT:
		return manifest_put(r);
	case M_DELETE:
		return manifest_delete(r);
	default:
		return manifest_get(r);
	}
}
