/*
 * h_mirror.c - the HTTP side of the pull-through cache: which requests go
 * to an upstream, and how a request waits for one without holding a
 * worker thread.
 *
 * mirror_route runs before the gate. When an upstream serves the name (by
 * ?ns=, by a "docker.io/..." prefix, or by its namespaces), r->mirror is
 * set and r->name becomes the local cache name, so the gate's rules and
 * every local lookup the handlers make see the repository actually read,
 * whichever way it was asked for ("team-b/app?ns=ghcr.io" is
 * "ghcr.io/team-b/app" to a rule). After the gate, mirror_refuse_writes
 * refuses writes to such a name with 405 UNSUPPORTED, as Docker's own
 * registry does in proxy mode: the upstream is the source of truth.
 *
 * Manifests: a digest found locally, or a tag found locally and checked
 * upstream within proxy_revalidate, is served from the store. Anything else
 * starts (or joins) a proxy job and suspends the connection; when the job
 * wakes it, MHD calls the access handler again, finish runs again, and this
 * file answers from the store, or with the cached copy if the upstream
 * failed, or with the error.
 *
 * Blobs: a blob the cached repository does not hold starts (or joins) its
 * job, even when the store has the file for another repository: only the
 * upstream's word for this repository lets it be served here (proxy.h).
 * Once the size is
 * known the reply is a callback response that reads the upload file while
 * the job writes it. When the reader is ahead of the writer it suspends
 * the connection from inside the content reader (allowed by
 * libmicrohttpd) and the job resumes it at the next chunk. A blob that
 * fails its digest check never reaches a client whole: the proxy holds the
 * last byte back until the check passes, and cuts the connection if not.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/log.h"
#include "http.h"
#include "../oci/range.h"
#include "server.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

#define MIRROR_BLOCK_BYTES (64 * 1024) /* content reader block */
#define MIRROR_TAGS_MAX_N 100000       /* largest tag page served */

struct mirror_req {
	proxy_target t;
	char ns[UPSTREAM_NAME_MAX];	/* echoed as OCI-Namespace, "" if none */
	char client_name[REF_NAME_MAX]; /* the name as the client sent it */
	bool alias;			/* client_name routes to t.local without ?ns= */
	proxy_job *job;
	proxy_wait wait;
	bool had_local; /* a manifest: a cached copy exists */
	bool relinked;	/* a blob: the local path was tried again */
};

/* A response streaming a blob that is still arriving. */
typedef struct {
	proxy_job *job;
	uint64_t base; /* offset of the response's first byte */
	uint64_t len;  /* MHD_SIZE_UNKNOWN if the upstream did not say */
	struct MHD_Connection *conn;
	proxy_wait wait;
} fetch_reader;

status_t mirror_open(server *srv)
{
	const config *c = &srv->cfg;
	proxy_options o = {
	    .revalidate_sec = c->proxy_revalidate_sec,
	    .negative_sec = c->proxy_negative_sec,
	    .timeout_sec = c->proxy_timeout_sec,
	    .retries = c->proxy_retries,
	    .unreachable_sec = c->proxy_unreachable_sec,
	    .max_manifest_bytes = c->max_manifest_bytes,
	    .cache_max_bytes = c->proxy_cache_max_bytes,
	    .cache_keep_sec = c->proxy_cache_keep_sec,
	    .user_agent = "registry/" REGISTRY_VERSION " (pull-through cache)",
	    .meta_backend = c->metadata,
	};

	return proxy_new(&srv->proxy, &o, c->upstreams.v, c->upstreams.n, srv->bs, srv->db_path);
}

void mirror_stop(server *srv)
{
	proxy_stop(srv->proxy);
}

void mirror_close(server *srv)
{
	proxy_free(srv->proxy);
	srv->proxy = NULL;
}

static void conn_suspend(void *arg)
{
	MHD_suspend_connection(arg);
}

static void conn_resume(void *arg)
{
	MHD_resume_connection(arg);
}

status_t mirror_route(request *r)
{
	const upstream_spec *spec;
	proxy_target t, bare;
	const char *ns;
	mirror_req *m;
	status_t st;

	if (r->srv->proxy == NULL || r->route == NULL)
		return ST_OK;
	switch (r->route->kind) {
	case R_TAGS:
	case R_MANIFEST:
	case R_BLOB:
	case R_UPLOAD_START:
	case R_UPLOAD:
	case R_REFERRERS:
		break;
	default:
		return ST_OK;
	}
	ns = request_arg(r, "ns");
	st = proxy_route(r->srv->proxy, r->name, ns, &t);
	if (st == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK) {
		snprintf(r->detail, sizeof(r->detail), "the cache name of %.200s is too long",
			 r->name);
		return st;
	}
	spec = upstream_get_spec(t.up);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return ST_NOMEM;
	m->t = t;
	if (ns != NULL && strcasecmp(ns, spec->name) == 0)
		snprintf(m->ns, sizeof(m->ns), "%s", spec->name);
	snprintf(m->client_name, sizeof(m->client_name), "%s", r->name);
	m->alias = strcmp(r->name, t.local) != 0 &&
		   proxy_route(r->srv->proxy, r->name, NULL, &bare) == ST_OK &&
		   strcmp(bare.local, t.local) == 0;
	snprintf(r->name, sizeof(r->name), "%s", t.local);
	m->wait.resume = conn_resume;
	m->wait.arg = r->conn;
	r->mirror = m;
	return ST_OK;
}

status_t mirror_refuse_writes(request *r)
{
	if (r->mirror == NULL || r->method == M_GET || r->method == M_HEAD)
		return ST_OK;
	snprintf(r->detail, sizeof(r->detail),
		 "%.80s is a read-only mirror of %.80s: pushes and deletes are refused",
		 r->mirror->client_name, upstream_get_spec(r->mirror->t.up)->name);
	return ST_METHOD_NOT_ALLOWED;
}

const char *mirror_alias(const request *r)
{
	return r->mirror != NULL && r->mirror->alias ? r->mirror->client_name : NULL;
}

void mirror_reply_headers(request *r, struct MHD_Response *resp)
{
	if (r->mirror != NULL && r->mirror->ns[0] != '\0')
		MHD_add_response_header(resp, "OCI-Namespace", r->mirror->ns);
}

void mirror_request_done(request *r)
{
	if (r->mirror == NULL)
		return;
	proxy_job_release(r->mirror->job);
	free(r->mirror);
	r->mirror = NULL;
}

/* What an upstream failure is to the client. */
static status_t client_status(status_t st, status_t not_found)
{
	switch (st) {
	case ST_NOT_FOUND:
		return not_found;
	case ST_DIGEST_MISMATCH:
	case ST_DENIED:
	case ST_UNAUTHORIZED:
		return ST_BAD_GATEWAY;
	default:
		return st;
	}
}

/* The error detail for an upstream failure st: which upstream, and what. */
static void upstream_detail(request *r, status_t st)
{
	const upstream_spec *spec = upstream_get_spec(r->mirror->t.up);
	const char *what = st == ST_UNAVAILABLE	      ? "unreachable or failing"
			   : st == ST_DIGEST_MISMATCH ? "content does not match its digest"
			   : st == ST_DENIED	      ? "refused our credentials"
			   : st == ST_BAD_GATEWAY     ? "answered with something unusable"
						      : status_str(st);

	snprintf(r->detail, sizeof(r->detail), "upstream %.100s (%.100s): %s", spec->name,
		 spec->url, what);
}

/* ---- manifests ---- */

void mirror_blob_served(request *r)
{
	proxy_touch(r->srv->proxy, r->ref);
}

static enum MHD_Result serve_manifest(request *r, const meta_manifest *man)
{
	struct MHD_Response *resp;
	blob_reader *rd = NULL;
	status_t st;

	proxy_touch(r->srv->proxy, man->digest);
	st = blobstore_read_open(r->srv->bs, man->digest, &rd);
	if (st != ST_OK)
		return reply_error(r, st == ST_NOT_FOUND ? ST_MANIFEST_UNKNOWN : st,
				   "manifest file missing");
	if ((resp = reply_blob(rd, 0, blob_reader_size(rd))) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", man->media_type);
	MHD_add_response_header(resp, "Docker-Content-Digest", man->digest);
	reply_header(resp, "ETag", "\"%s\"", man->digest);
	return reply_send(r, resp, 200);
}

enum MHD_Result mirror_manifest(request *r)
{
	mirror_req *m = r->mirror;
	meta_manifest man;
	bool by_digest = strchr(r->ref, ':') != NULL;
	status_t st, jst;

	if (m->job == NULL) {
		st = meta_manifest_get(r->db, r->name, r->ref, &man);
		if (st == ST_OK && (by_digest || proxy_fresh(r->srv->proxy, r->name, r->ref)))
			return serve_manifest(r, &man);
		if (st != ST_OK && st != ST_NOT_FOUND)
			return reply_error(r, st, NULL);
		m->had_local = st == ST_OK;
		st = proxy_manifest_fetch(r->srv->proxy, &m->t, r->ref, m->had_local, &m->job);
		if (st == ST_EXISTS || (st != ST_OK && m->had_local)) {
			if (meta_manifest_get(r->db, r->name, r->ref, &man) == ST_OK)
				return serve_manifest(r, &man);
			return reply_error(r, ST_MANIFEST_UNKNOWN, NULL);
		}
		if (st == ST_UNAVAILABLE) /* unreachable lately: say which upstream */
			upstream_detail(r, st);
		if (st != ST_OK)
			return reply_error(r, client_status(st, ST_MANIFEST_UNKNOWN),
					   st == ST_UNAVAILABLE ? r->detail : NULL);
	}
	if (!proxy_job_wait(m->job, &m->wait, conn_suspend, r->conn))
		return MHD_YES; /* resumed when the job ends; finish runs again */
	jst = proxy_job_status(m->job);
	st = jst == ST_NOT_FOUND ? ST_NOT_FOUND : meta_manifest_get(r->db, r->name, r->ref, &man);
	if (st == ST_OK) {
		if (jst != ST_OK)
			log_warn("serving the cached %s:%s: upstream %s failed (%s)", r->name,
				 r->ref, upstream_get_spec(m->t.up)->name, status_str(jst));
		return serve_manifest(r, &man);
	}
	if (jst == ST_OK || jst == ST_NOT_FOUND)
		return reply_error(r, ST_MANIFEST_UNKNOWN, NULL);
	upstream_detail(r, jst);
	return reply_error(r, client_status(jst, ST_MANIFEST_UNKNOWN), r->detail);
}

/* ---- blobs ---- */

static ssize_t blob_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	fetch_reader *rd = cls;
	size_t n = 0;
	status_t st;

	if (rd->len != MHD_SIZE_UNKNOWN) {
		if (pos >= rd->len)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (max > rd->len - pos)
			max = (size_t)(rd->len - pos);
	}
	st = proxy_blob_read(rd->job, rd->base + pos, buf, max, &n, &rd->wait, conn_suspend,
			     rd->conn);
	if (st == ST_BUSY)
		return 0; /* suspended: resumed at the next chunk */
	if (st == ST_OK && n > 0)
		return (ssize_t)n;
	if (st == ST_OK)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void fetch_reader_free(void *cls)
{
	fetch_reader *rd = cls;

	proxy_job_release(rd->job);
	free(rd);
}

/* The local path again, now that the blob is in the store. */
static enum MHD_Result blob_local(request *r)
{
	r->mirror->relinked = true;
	return blobs_finish(r);
}

enum MHD_Result mirror_blob(request *r)
{
	mirror_req *m = r->mirror;
	struct MHD_Response *resp;
	fetch_reader *rd;
	uint64_t size, start = 0, len;
	const char *range;
	unsigned status = 200;
	status_t st;

	if (m->relinked)
		return reply_error(r, ST_BLOB_UNKNOWN, NULL);
	if (m->job == NULL) {
		st = proxy_blob_fetch(r->srv->proxy, &m->t, r->ref, &m->job);
		if (st == ST_EXISTS) {
			/* in the store, and the upstream served or confirmed it for
			 * this repository just now */
			if (blobstore_stat(r->srv->bs, r->ref, &size) != ST_OK ||
			    meta_blob_link(r->db, r->name, r->ref, size) != ST_OK)
				return reply_error(r, ST_BLOB_UNKNOWN, NULL);
			return blob_local(r);
		}
		if (st == ST_UNAVAILABLE)
			upstream_detail(r, st);
		if (st != ST_OK)
			return reply_error(r, client_status(st, ST_BLOB_UNKNOWN),
					   st == ST_UNAVAILABLE ? r->detail : NULL);
	}
	if (!proxy_blob_wait_size(m->job, &m->wait, conn_suspend, r->conn))
		return MHD_YES;
	st = proxy_job_status(m->job);
	if (st == ST_OK)
		return blob_local(r); /* done already: committed and linked */
	if (st != ST_BUSY) {
		upstream_detail(r, st);
		return reply_error(r, client_status(st, ST_BLOB_UNKNOWN),
				   st == ST_NOT_FOUND ? NULL : r->detail);
	}
	size = proxy_blob_size(m->job);
	len = size == UPSTREAM_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : size;
	range = request_header(r, "Range");
	if (range != NULL && size != UPSTREAM_SIZE_UNKNOWN) {
		st = range_parse(range, size, &start, &len);
		if (st == ST_RANGE) {
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
			start = 0, len = size;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return MHD_NO;
	proxy_touch(r->srv->proxy, r->ref);
	rd->job = proxy_job_ref(m->job);
	rd->base = start;
	rd->len = len;
	rd->conn = r->conn;
	rd->wait.resume = conn_resume;
	rd->wait.arg = r->conn;
	resp = MHD_create_response_from_callback(len, MIRROR_BLOCK_BYTES, blob_read, rd,
						 fetch_reader_free);
	if (resp == NULL) {
		fetch_reader_free(rd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Docker-Content-Digest", r->ref);
	reply_header(resp, "ETag", "\"%s\"", r->ref);
	if (size != UPSTREAM_SIZE_UNKNOWN)
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (status == 206)
		reply_header(resp, "Content-Range", "bytes %llu-%llu/%llu",
			     (unsigned long long)start, (unsigned long long)(start + len - 1),
			     (unsigned long long)size);
	return reply_send(r, resp, status);
}

/* ---- tag lists ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
	json_t *arr;
} tag_collect;

static int collect_local_tag(void *arg, const char *tag)
{
	json_array_append_new(((tag_collect *)arg)->arr, json_string(tag));
	return 0;
}

/* Replies {"name","tags"} from tags (any order), honouring n and last. */
static enum MHD_Result reply_tags(request *r, json_t *tags)
{
	const char *nstr = request_arg(r, "n"), *last = request_arg(r, "last");
	size_t count = json_array_size(tags), n = MIRROR_TAGS_MAX_N, k = 0, out = 0;
	const char **v = calloc(count + 1, sizeof(*v));
	json_t *root = NULL, *page = NULL;
	struct MHD_Response *resp;
	char *body;
	const char *emitted = NULL;
	bool more = false;

	if (v == NULL)
		return MHD_NO;
	if (nstr != NULL) {
		char *end;
		long long x = strtoll(nstr, &end, 10);
		if (*end != '\0' || end == nstr || x < 0) {
			free(v);
			return reply_error(r, ST_INVALID, "n must be a number");
		}
		n = x > MIRROR_TAGS_MAX_N ? MIRROR_TAGS_MAX_N : (size_t)x;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = json_string_value(json_array_get(tags, i));
		if (s != NULL && ref_tag_check(s) == ST_OK && (last == NULL || strcmp(s, last) > 0))
			v[k++] = s;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	page = json_array();
	for (size_t i = 0; page != NULL && i < k; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (out == n) {
			more = true;
			break;
		}
		json_array_append_new(page, json_string(v[i]));
		emitted = v[i];
		out++;
	}
	root = page ? json_pack("{s:s,s:o}", "name", r->mirror->client_name, "tags", page) : NULL;
	body = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (body == NULL) {
		free(v);
		return MHD_NO;
	}
	resp = reply_buffer(body, strlen(body));
	if (resp != NULL) {
		MHD_add_response_header(resp, "Content-Type", "application/json");
		if (more && emitted != NULL)
			reply_header(resp, "Link", "</v2/%s/tags/list?n=%zu&last=%s>; rel=\"next\"",
				     r->mirror->client_name, n, emitted);
	}
	free(v);
	return reply_send(r, resp, 200);
}

enum MHD_Result mirror_tags(request *r)
{
	mirror_req *m = r->mirror;
	tag_collect local = {NULL};
	enum MHD_Result ret;
	status_t st;

	if (m->job == NULL) {
		st = proxy_tags_fetch(r->srv->proxy, &m->t, &m->job);
		if (st != ST_OK)
			goto fallback;
	}
	if (!proxy_job_wait(m->job, &m->wait, conn_suspend, r->conn))
		return MHD_YES;
	st = proxy_job_status(m->job);
	if (st == ST_OK)
		return reply_tags(r, proxy_job_tags(m->job));
	if (st == ST_NOT_FOUND)
		return reply_error(r, ST_NAME_UNKNOWN, NULL);
fallback:
	/* the upstream failed: what the cache knows */
	if ((local.arr = json_array()) == NULL)
		return MHD_NO;
	st = meta_tag_list(r->db, r->name, NULL, 0, collect_local_tag, &local, NULL);
	if (st != ST_OK) {
		json_decref(local.arr);
		return reply_error(r, st == ST_NOT_FOUND ? ST_NAME_UNKNOWN : st, NULL);
	}
	ret = reply_tags(r, local.arr);
	json_decref(local.arr);
	return ret;
}
