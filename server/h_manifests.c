/*
 * h_manifests.c - GET, HEAD, PUT and DELETE of /v2/<name>/manifests/<ref>.
 *
 * A pushed manifest is stored byte for byte, under the digest of exactly
 * those bytes, in the blob store; its metadata (media type, subject,
 * artifact type, annotations, what it references, its tags) goes into the
 * index in one transaction. Every blob and child manifest it references must
 * already be in the repository, so a pull of a tag never finds a hole.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "server.h"
#include "../oci/manifest.h"

#define MANIFEST_MAX_TAGS 64 /* ?tag= values accepted on one PUT */

status_t manifests_begin(request *r)
{
	ref_kind kind;
	status_t st = ref_parse(r->ref, &kind);

	/* Neither a tag nor a digest: no manifest can exist under it, so a
	 * read or delete is told it is unknown (as the conformance suite
	 * wants); only a push is told what is wrong with the name it chose. */
	if (st != ST_OK && r->method != M_PUT)
		return ST_MANIFEST_UNKNOWN;
	if (st == ST_UNSUPPORTED) {
		snprintf(r->detail, sizeof(r->detail), "unsupported digest algorithm");
		return ST_DIGEST_INVALID;
	}
	if (st != ST_OK)
		return st;
	if (r->method == M_DELETE && !r->srv->cfg.delete_enabled)
		return ST_METHOD_NOT_ALLOWED;
	if (r->method == M_PUT) {
		r->body_max = r->srv->cfg.max_manifest_bytes;
		if (r->content_length > 0 && (uint64_t)r->content_length > r->body_max) {
			snprintf(r->detail, sizeof(r->detail), "manifest larger than %llu bytes",
				 (unsigned long long)r->body_max);
			return ST_TOO_LARGE;
		}
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
	meta_manifest man;
	blob_reader *rd = NULL;
	status_t st;

	if (r->mirror != NULL)
		return mirror_manifest(r); /* the pull-through cache decides */
	st = meta_manifest_get(r->db, r->name, r->ref, &man);
	if (st == ST_NOT_FOUND)
		st = meta_repo_exists(r->db, r->name) == ST_NOT_FOUND ? ST_NAME_UNKNOWN
								      : ST_MANIFEST_UNKNOWN;
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	st = blobstore_read_open(r->srv->bs, man.digest, &rd);
	if (st != ST_OK)
		return reply_error(r, st == ST_NOT_FOUND ? ST_MANIFEST_UNKNOWN : st,
				   "manifest file missing");
	if ((resp = reply_blob(rd, 0, blob_reader_size(rd))) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", man.media_type);
	MHD_add_response_header(resp, "Docker-Content-Digest", man.digest);
	reply_header(resp, "ETag", "\"%s\"", man.digest);
	return reply_send(r, resp, 200);
}

static enum MHD_Result manifest_delete(request *r)
{
	status_t st;

	if (strchr(r->ref, ':') != NULL)
		st = meta_manifest_delete(r->db, r->name, r->ref);
	else
		st = meta_tag_delete(r->db, r->name, r->ref);
	if (st == ST_NOT_FOUND)
		return reply_error(r, ST_MANIFEST_UNKNOWN, NULL);
	if (st != ST_OK)
		return reply_error(r, st, NULL);
	return reply_send(r, reply_empty(), 202);
}

typedef struct {
	const char *tags[MANIFEST_MAX_TAGS + 1];
	size_t n;
	status_t st;
} tag_args;

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	tag_args *t = cls;

	if (strcmp(key, "tag") != 0)
		return MHD_YES;
	if (value == NULL || ref_tag_check(value) != ST_OK) {
		t->st = ST_TAG_INVALID;
		return MHD_NO;
	}
	if (t->n >= MANIFEST_MAX_TAGS) {
		t->st = ST_TOO_LARGE;
		return MHD_NO;
	}
	t->tags[t->n++] = value;
	return MHD_YES;
}

/* Checks that everything info references is in the repository. */
static status_t check_refs(request *r, const manifest_info *info)
{
	for (size_t i = 0; i < info->nrefs; i++) {
		const manifest_desc *d = &info->refs[i];
		uint64_t size;
		status_t st;

		if (info->kind == MANIFEST_INDEX) {
			meta_manifest child;
			st = meta_manifest_get(r->db, r->name, d->digest, &child);
			size = child.size;
		} else {
			if (d->foreign)
				continue;
			st = meta_blob_get(r->db, r->name, d->digest, &size);
		}
		if (st == ST_NOT_FOUND) {
			snprintf(r->detail, sizeof(r->detail), "%s %s not in repository",
				 info->kind == MANIFEST_INDEX ? "manifest" : "blob", d->digest);
			return ST_MANIFEST_BLOB_UNKNOWN;
		}
		if (st != ST_OK)
			return st;
		if (size != d->size) {
			snprintf(r->detail, sizeof(r->detail),
				 "descriptor of %s says %llu bytes, stored %llu", d->digest,
				 (unsigned long long)d->size, (unsigned long long)size);
			return ST_MANIFEST_INVALID;
		}
	}
	return ST_OK;
}

static enum MHD_Result manifest_put(request *r)
{
	manifest_info info = {0};
	meta_manifest man = {0};
	tag_args tags = {.st = ST_OK};
	const char **refs = NULL;
	struct MHD_Response *resp;
	char digest[DIGEST_MAX];
	digest_alg alg = DIGEST_SHA256;
	bool by_digest = strchr(r->ref, ':') != NULL;
	status_t st;

	if (by_digest)
		digest_parse(r->ref, &alg);
	else
		tags.tags[tags.n++] = r->ref;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_tag, &tags);
	if ((st = tags.st) != ST_OK)
		goto done;
	if ((st = digest_buffer(digest, alg, r->body ? r->body : "", r->body_len)) != ST_OK)
		goto done;
	if (by_digest && strcmp(digest, r->ref) != 0) {
		snprintf(r->detail, sizeof(r->detail), "manifest digest is %s", digest);
		st = ST_DIGEST_INVALID;
		goto done;
	}
	st = manifest_parse(&info, r->body ? r->body : "", r->body_len,
			    request_header(r, "Content-Type"), r->detail, sizeof(r->detail));
	if (st == ST_UNSUPPORTED)
		st = ST_MANIFEST_INVALID;
	if (st != ST_OK)
		goto done;
	if ((st = check_refs(r, &info)) != ST_OK)
		goto done;
	if ((refs = calloc(info.nrefs + 1, sizeof(*refs))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++)
		refs[i] = info.refs[i].digest;
	if ((st = blobstore_put(r->srv->bs, digest, r->body ? r->body : "", r->body_len)) != ST_OK)
		goto done;
	snprintf(man.digest, sizeof(man.digest), "%s", digest);
	snprintf(man.media_type, sizeof(man.media_type), "%s", info.media_type);
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", info.artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", info.subject);
	man.size = r->body_len;
	man.annotations = info.annotations;
	st = meta_manifest_put(r->db, r->name, &man, refs, info.nrefs, tags.tags, tags.n);
done:
	free(refs);
	if (st != ST_OK) {
		manifest_info_free(&info);
		return reply_error(r, st, r->detail);
	}
	resp = reply_empty();
	if (resp != NULL) {
		reply_header(resp, "Location", "/v2/%s/manifests/%s", r->name, digest);
		MHD_add_response_header(resp, "Docker-Content-Digest", digest);
		if (info.subject[0])
			MHD_add_response_header(resp, "OCI-Subject", info.subject);
	}
	manifest_info_free(&info);
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
