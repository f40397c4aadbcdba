/*
 * lists.c - tag lists, the catalog and referrers: keyset-paginated index
 * queries, so a page costs the same at the 100,000th tag as at the first.
 * A mirrored repository's tags come from its upstream (cache.c).
 */
#include "core_impl.h"

status_t core_tags(core *c, core_req *q, const char *last, int n, core_list_fn fn, void *arg,
		   bool *out_more)
{
	status_t st;
	meta *db;

	*out_more = false;
	if (q->mirrored)
		return cache_tags(c, q, last, n, fn, arg, out_more);
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	/* n == 0: no tags, but a repository that does not exist is still one */
	st = n == 0 ? meta_repo_exists(db, q->name)
		    : meta_tag_list(db, q->name, last, n, fn, arg, out_more);
	return st == ST_NOT_FOUND ? ST_NAME_UNKNOWN : st;
}

typedef struct {
	bool (*visible)(void *, const char *);
	void *varg;
	core_list_fn fn;
	void *arg;
	int n, count;
	bool more;
} catalog_filter;

static int catalog_cb(void *arg, const char *name)
{
	catalog_filter *f = arg;

	if (!f->visible(f->varg, name))
		return 0;
	if (f->n > 0 && f->count == f->n) {
		f->more = true;
		return 1;
	}
	f->count++;
	return f->fn(f->arg, name);
}

status_t core_catalog(core *c, const char *last, int n, bool (*visible)(void *, const char *),
		      void *varg, core_list_fn fn, void *arg, bool *out_more)
{
	catalog_filter f = {visible, varg, fn, arg, n, 0, false};
	status_t st;
	meta *db;

	*out_more = false;
	if (n == 0)
		return ST_OK;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if (visible == NULL)
		return meta_repo_list(db, last, n, fn, arg, out_more);
	/* Filtered: read on until n visible names (and one more) are found. */
	st = meta_repo_list(db, last, 0, catalog_cb, &f, NULL);
	*out_more = f.more;
	return st;
}

typedef struct {
	int (*fn)(void *arg, const core_referrer *r);
	void *arg;
} referrer_cb;

static int referrer_one(void *arg, const meta_manifest *man)
{
	referrer_cb *cb = arg;
	core_referrer r = {man->digest, man->media_type, man->artifact_type, man->size,
			   man->annotations};

	return cb->fn(cb->arg, &r);
}

status_t core_referrers(core *c, core_req *q, const char *subject, const char *artifact_type,
			int (*fn)(void *arg, const core_referrer *r), void *arg)
{
	referrer_cb cb = {fn, arg};
	status_t st;
	meta *db;

	if (digest_parse(subject, NULL) != ST_OK)
		return ST_DIGEST_INVALID;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	return meta_referrers(db, q->name, subject, artifact_type, referrer_one, &cb);
}
