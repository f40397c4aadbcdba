/*
 * blobs.c - reading, deleting and mounting the blobs of a repository.
 *
 * A repository serves a blob only if it has it linked (pushed, mounted, or
 * fetched for it by the cache), or if it is one of its manifests: the
 * store is shared, the links are not. A mirrored repository that lacks a
 * blob asks the cache (cache.c), which fetches it from the upstream for
 * that repository, or has the upstream confirm it before an already stored
 * copy is linked.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ST_OK if digest is one we can serve; ST_DIGEST_INVALID with a detail. */
static status_t digest_check(core_req *q, const char *digest)
{
	status_t st = digest_parse(digest, NULL);

	if (st == ST_OK)
		return ST_OK;
	core_detail(q, "%s",
		    st == ST_UNSUPPORTED ? "unsupported digest algorithm" : "malformed digest");
	return ST_DIGEST_INVALID;
}

/* The stored blob, if q's repository may serve it. */
static status_t local_get(core *c, core_req *q, meta *db, const char *digest, core_blob **out)
{
	meta_manifest man;
	blob_reader *rd;
	core_blob *b;
	/* A read bumps the blob, so a push naming it within gc_delay / 2 (a
	 * client's HEAD, then its manifest PUT) finds it still there. */
	status_t st =
	    meta_blob_use(db, q->name, digest, (int64_t)q->set->gc_delay_sec * 500000, NULL);

	if (st == ST_NOT_FOUND && meta_manifest_get(db, q->name, digest, &man) == ST_OK)
		st = ST_OK; /* a manifest, read through the blobs endpoint */
	if (st != ST_OK)
		return st;
	if ((st = blobstore_read_open(c->bs, digest, &rd)) != ST_OK)
		return st; /* ST_NOT_FOUND: linked but gone (evicted meanwhile) */
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		blob_reader_close(rd);
		return ST_NOMEM;
	}
	b->rd = rd;
	b->size = blob_reader_size(rd);
	*out = b;
	return ST_OK;
}

status_t core_blob_get(core *c, core_req *q, const char *digest, core_blob **out)
{
	meta *db;
	status_t st;

	*out = NULL;
	if ((st = digest_check(q, digest)) != ST_OK || (st = core_db(c, &db)) != ST_OK)
		return st;
	/* A request waiting on the cache goes straight back to it. */
	if (q->job == NULL) {
		st = local_get(c, q, db, digest, out);
		if (st == ST_OK) {
			if (q->mirrored) {
				upstream_count_lookup(q->t.up, true);
				core_blob_served(c, q, digest);
			}
			return ST_OK;
		}
		if (st != ST_NOT_FOUND)
			return st;
		if (!q->mirrored || q->relinked)
			return ST_BLOB_UNKNOWN;
	}
	st = cache_blob_get(c, q, digest, out);
	if (st != ST_EXISTS)
		return st;
	/* In the store and linked now: the local path again, once. */
	q->relinked = true;
	st = local_get(c, q, db, digest, out);
	return st == ST_NOT_FOUND ? ST_BLOB_UNKNOWN : st;
}

status_t core_blob_redirect(core *c, const char *digest, char **out_url)
{
	return blobstore_redirect_url(c->bs, digest, out_url);
}

uint64_t core_blob_size(const core_blob *b)
{
	return b->size;
}

int core_blob_take_fd(core_blob *b)
{
	return b->rd != NULL ? blob_reader_take_fd(b->rd) : -1;
}

status_t core_blob_read(core_blob *b, uint64_t off, void *buf, size_t max, size_t *out_n,
			const core_waiter *w)
{
	if (b->rd != NULL)
		return blob_reader_read(b->rd, off, buf, max, out_n);
	return cache_blob_read(b, off, buf, max, out_n, w);
}

void core_blob_free(core_blob *b)
{
	if (b == NULL)
		return;
	blob_reader_close(b->rd);
	proxy_job_release(b->job);
	if (b->set != NULL)
		settings_put(b->c, b->set); /* after the job: maybe the proxy's last user */
	free(b);
}

void core_blob_served(core *c, core_req *q, const char *digest)
{
	if (q->mirrored)
		proxy_touch(q->set->px, digest);
}

status_t core_blob_delete(core *c, core_req *q, const char *digest)
{
	meta *db;
	status_t st;

	if ((st = policy_writable(q)) != ST_OK || (st = digest_check(q, digest)) != ST_OK ||
	    (st = policy_delete(q)) != ST_OK || (st = core_db(c, &db)) != ST_OK)
		return st;
	st = meta_blob_unlink(db, q->name, digest);
	if (st == ST_NOT_FOUND)
		return ST_BLOB_UNKNOWN;
	if (st == ST_OK)
		core_event(q, "delete", digest, NULL);
	return st;
}

status_t core_blob_mount(core *c, core_req *q, const char *digest, const char *from,
			 uint64_t *out_size)
{
	meta *db;
	status_t st;

	if ((st = policy_writable(q)) != ST_OK || (st = digest_check(q, digest)) != ST_OK ||
	    (st = core_db(c, &db)) != ST_OK)
		return st;
	if (from != NULL && ref_name_check(from) != ST_OK)
		return ST_NOT_FOUND;
	/* a quarantined blob (scrub) has its link but not its file */
	if (blobstore_stat(c->bs, digest, NULL) != ST_OK)
		return ST_NOT_FOUND;
	/* One transaction checks the quotas and the source's link and makes
	 * ours: a collection cannot take the blob between the two. */
	if ((st = policy_mount(q, db, from, digest, out_size)) != ST_OK)
		return st; /* ST_DENIED: a quota (the client must not upload either) */
	core_event(q, "mount", digest, NULL);
	return ST_OK;
}
