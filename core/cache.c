/*
 * cache.c - the pull-through cache as a read-through source inside the
 * core: which names an upstream serves, and how a request on one gets a
 * manifest, a blob or a tag list the store does not have (yet).
 *
 * Routing: a name an upstream serves (by ?ns=, by a "docker.io/..." prefix,
 * or by its namespaces) is read under its cache name, so every local lookup
 * sees what was cached, whichever way it was asked for.
 *
 * Manifests: a digest found locally, or a tag found locally and checked
 * upstream within proxy_revalidate, is served from the store. Anything else
 * starts (or joins) a proxy job and suspends the caller; when the job wakes
 * it, the caller asks again and gets the stored copy, the cached one if the
 * upstream failed, or the error.
 *
 * Blobs: one the repository lacks starts (or joins) a job; once its size is
 * known the caller gets a core_blob reading the upload file while the job
 * writes it. A reader ahead of the writer is suspended and resumed at the
 * next chunk. A blob that fails its digest check never reaches a client
 * whole: the proxy holds the last byte back until the check passes.
 *
 * A job's failure is told to the client as an OCI error with the upstream
 * named (client_status, upstream_detail).
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "../common/log.h"

status_t cache_route(core *c, core_req *q, const char *name, const char *ns)
{
	const upstream_spec *spec;
	proxy_target bare;
	status_t st;

	if (q->set->px == NULL)
		return ST_OK;
	st = proxy_route(q->set->px, name, ns, &q->t);
	if (st == ST_NOT_FOUND)
		return ST_OK;
	if (st != ST_OK) {
		core_detail(q, "the cache name of %.200s is too long", name);
		return st;
	}
	spec = upstream_get_spec(q->t.up);
	if (ns != NULL && strcasecmp(ns, spec->name) == 0)
		snprintf(q->ns, sizeof(q->ns), "%s", spec->name);
	q->alias = strcmp(name, q->t.local) != 0 &&
		   proxy_route(q->set->px, name, NULL, &bare) == ST_OK &&
		   strcmp(bare.local, q->t.local) == 0;
	snprintf(q->name, sizeof(q->name), "%s", q->t.local);
	q->mirrored = true;
	q->wait.resume = q->w.resume;
	q->wait.arg = q->w.arg;
	return ST_OK;
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

/* The detail for an upstream failure st: which upstream, and what. */
static void upstream_detail(core_req *q, status_t st)
{
	const upstream_spec *spec = upstream_get_spec(q->t.up);
	const char *what = st == ST_UNAVAILABLE	      ? "unreachable or failing"
			   : st == ST_DIGEST_MISMATCH ? "content does not match its digest"
			   : st == ST_DENIED	      ? "refused our credentials"
			   : st == ST_BAD_GATEWAY     ? "answered with something unusable"
						      : status_str(st);

	core_detail(q, "upstream %.100s (%.100s): %s", spec->name, spec->url, what);
}

/* Waits on q's job: true if it has ended; else suspended (ST_BUSY). */
static bool job_wait(core_req *q)
{
	return proxy_job_wait(q->job, &q->wait, q->w.suspend, q->w.arg);
}

/* ---- manifests ---- */

/* The stored manifest man of q's repository, as core_manifest_get gives it. */
static status_t serve_manifest(core *c, core_req *q, const meta_manifest *man, core_manifest *out)
{
	blob_reader *rd;
	status_t st;

	proxy_touch(q->set->px, man->digest);
	if ((st = blobstore_read_open(c->bs, man->digest, &rd)) != ST_OK)
		return st == ST_NOT_FOUND ? ST_MANIFEST_UNKNOWN : st;
	if ((out->body = calloc(1, sizeof(*out->body))) == NULL) {
		blob_reader_close(rd);
		return ST_NOMEM;
	}
	out->body->rd = rd;
	out->body->size = blob_reader_size(rd);
	snprintf(out->digest, sizeof(out->digest), "%s", man->digest);
	snprintf(out->media_type, sizeof(out->media_type), "%s", man->media_type);
	out->size = out->body->size;
	return ST_OK;
}

status_t cache_manifest_get(core *c, core_req *q, const char *ref, core_manifest *out)
{
	bool by_digest = strchr(ref, ':') != NULL;
	meta_manifest man;
	status_t st, jst;
	meta *db;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if (q->job == NULL) {
		st = meta_manifest_get(db, q->name, ref, &man);
		if (st == ST_OK && (by_digest || proxy_fresh(q->set->px, q->name, ref))) {
			upstream_count_lookup(q->t.up, true);
			return serve_manifest(c, q, &man, out);
		}
		if (st != ST_OK && st != ST_NOT_FOUND)
			return st;
		q->had_local = st == ST_OK;
		st = proxy_manifest_fetch(q->set->px, &q->t, ref, q->had_local, &q->job);
		/* a hit: fetched meanwhile; else the upstream is (or was) asked */
		upstream_count_lookup(q->t.up, st == ST_EXISTS);
		if (st == ST_EXISTS || (st != ST_OK && q->had_local)) {
			if (meta_manifest_get(db, q->name, ref, &man) == ST_OK)
				return serve_manifest(c, q, &man, out);
			return ST_MANIFEST_UNKNOWN;
		}
		if (st == ST_UNAVAILABLE) /* unreachable lately: say which upstream */
			upstream_detail(q, st);
		if (st != ST_OK)
			return client_status(st, ST_MANIFEST_UNKNOWN);
	}
	if (!job_wait(q))
		return ST_BUSY; /* resumed when the job ends */
	jst = proxy_job_status(q->job);
	st = jst == ST_NOT_FOUND ? ST_NOT_FOUND : meta_manifest_get(db, q->name, ref, &man);
	if (st == ST_OK) {
		if (jst != ST_OK)
			log_warn("serving the cached %s:%s: upstream %s failed (%s)", q->name, ref,
				 upstream_get_spec(q->t.up)->name, status_str(jst));
		return serve_manifest(c, q, &man, out);
	}
	if (jst == ST_OK || jst == ST_NOT_FOUND)
		return ST_MANIFEST_UNKNOWN;
	upstream_detail(q, jst);
	return client_status(jst, ST_MANIFEST_UNKNOWN);
}

/* ---- blobs ---- */

status_t cache_blob_get(core *c, core_req *q, const char *digest, core_blob **out)
{
	uint64_t size;
	core_blob *b;
	status_t st;
	meta *db;

	if (q->job == NULL) {
		st = proxy_blob_fetch(q->set->px, &q->t, digest, &q->job);
		/* a hit: served or confirmed for this repository just now */
		upstream_count_lookup(q->t.up, st == ST_EXISTS);
		if (st == ST_EXISTS) {
			/* in the store, and the upstream served or confirmed it for
			 * this repository just now */
			if (core_db(c, &db) != ST_OK ||
			    blobstore_stat(c->bs, digest, &size) != ST_OK ||
			    meta_blob_link(db, q->name, digest, size) != ST_OK)
				return ST_BLOB_UNKNOWN;
			return ST_EXISTS;
		}
		if (st == ST_UNAVAILABLE)
			upstream_detail(q, st);
		if (st != ST_OK)
			return client_status(st, ST_BLOB_UNKNOWN);
	}
	if (!proxy_blob_wait_size(q->job, &q->wait, q->w.suspend, q->w.arg))
		return ST_BUSY;
	st = proxy_job_status(q->job);
	if (st == ST_OK)
		return ST_EXISTS; /* done already: committed and linked */
	if (st != ST_BUSY) {
		if (st != ST_NOT_FOUND)
			upstream_detail(q, st);
		return client_status(st, ST_BLOB_UNKNOWN);
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ST_NOMEM;
	size = proxy_blob_size(q->job);
	b->size = size == UPSTREAM_SIZE_UNKNOWN ? CORE_SIZE_UNKNOWN : size;
	b->job = proxy_job_ref(q->job);
	/* the job's proxy lives while the reader does, past this request */
	b->c = c;
	b->set = settings_get(c);
	proxy_touch(q->set->px, digest);
	*out = b;
	return ST_OK;
}

status_t cache_blob_read(core_blob *b, uint64_t off, void *buf, size_t max, size_t *out_n,
			 const core_waiter *w)
{
	b->wait.resume = w->resume;
	b->wait.arg = w->arg;
	return proxy_blob_read(b->job, off, buf, max, out_n, &b->wait, w->suspend, w->arg);
}

/* ---- tag lists ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int collect_tag(void *arg, const char *tag)
{
	return json_array_append_new(arg, json_string(tag)) != 0;
}

/* tags (any order, maybe repeated, maybe not all valid) to fn, sorted,
 * after last, at most n. */
static status_t list_tags(json_t *tags, const char *last, int n, core_list_fn fn, void *arg,
			  bool *out_more)
{
	size_t count = json_array_size(tags), k = 0, emitted = 0;
	size_t max = n < 0 || n > CORE_LIST_MAX ? CORE_LIST_MAX : (size_t)n;
	const char **v = calloc(count + 1, sizeof(*v));

	*out_more = false;
	if (v == NULL)
		return ST_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const char *s = json_string_value(json_array_get(tags, i));
		if (s != NULL && ref_tag_check(s) == ST_OK && (last == NULL || strcmp(s, last) > 0))
			v[k++] = s;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 0; i < k; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (emitted == max) {
			*out_more = true;
			break;
		}
		if (fn(arg, v[i]) != 0)
			break;
		emitted++;
	}
	free(v);
	return ST_OK;
}

status_t cache_tags(core *c, core_req *q, const char *last, int n, core_list_fn fn, void *arg,
		    bool *out_more)
{
	json_t *local;
	status_t st;
	meta *db;

	if (q->job == NULL && proxy_tags_fetch(q->set->px, &q->t, &q->job) != ST_OK)
		goto fallback;
	if (!job_wait(q))
		return ST_BUSY;
	st = proxy_job_status(q->job);
	if (st == ST_OK)
		return list_tags(proxy_job_tags(q->job), last, n, fn, arg, out_more);
	if (st == ST_NOT_FOUND)
		return ST_NAME_UNKNOWN;
fallback:
	/* the upstream failed: what the cache knows */
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((local = json_array()) == NULL)
		return ST_NOMEM;
	st = meta_tag_list(db, q->name, NULL, 0, collect_tag, local, NULL);
	if (st == ST_OK)
		st = list_tags(local, last, n, fn, arg, out_more);
	json_decref(local);
	return st == ST_NOT_FOUND ? ST_NAME_UNKNOWN : st;
}
