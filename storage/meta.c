/*
 * meta.c - the metadata index's interface (meta.h): the table of backends a
 * configuration may name, and one-line dispatchers through a connection's
 * operations. Nothing here knows how any backend stores rows; a new backend
 * is one entry in `backends`.
 */
#include "meta.h"

#include <stddef.h>
#include <string.h>

#include "../common/log.h"
#include "meta_pg.h"
#include "meta_sqlite.h"

/* Every backend a configuration may name, the default first. */
static const meta_ops *const backends[] = {
    &meta_sqlite_ops,
    &meta_pg_ops,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

const meta_ops *meta_backend_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < NBACKENDS; i++)
		if (strcmp(name, backends[i]->name) == 0)
			return backends[i];
	return NULL;
}

status_t meta_open_backend(meta **out, const char *backend, const char *location)
{
	const meta_ops *ops = meta_backend_find(backend);

	*out = NULL;
	if (ops == NULL) {
		log_error("meta: unknown metadata backend '%s' (known: sqlite, postgres)",
			  backend ? backend : "(null)");
		return ST_INVALID;
	}
	return ops->open(out, location);
}

status_t meta_open(meta **out, const char *path)
{
	return meta_open_backend(out, META_DEFAULT_BACKEND, path);
}

void meta_close(meta *m)
{
	if (m != NULL)
		m->m_ops->close(m);
}

status_t meta_repo_exists(meta *m, const char *repo)
{
	return m->m_ops->repo_exists(m, repo);
}

status_t meta_repo_list(meta *m, const char *last, int n, int (*fn)(void *arg, const char *name),
			void *arg, bool *out_more)
{
	return m->m_ops->repo_list(m, last, n, fn, arg, out_more);
}

status_t meta_blob_link(meta *m, const char *repo, const char *digest, uint64_t size)
{
	return m->m_ops->blob_link(m, repo, digest, size);
}

status_t meta_blob_get(meta *m, const char *repo, const char *digest, uint64_t *out_size)
{
	return m->m_ops->blob_get(m, repo, digest, out_size);
}

status_t meta_blob_find(meta *m, const char *digest, uint64_t *out_size)
{
	return m->m_ops->blob_find(m, digest, out_size);
}

status_t meta_blob_unlink(meta *m, const char *repo, const char *digest)
{
	return m->m_ops->blob_unlink(m, repo, digest);
}

status_t meta_blob_repos(meta *m, const char *digest, int (*fn)(void *arg, const char *repo),
			 void *arg)
{
	return m->m_ops->blob_repos(m, digest, fn, arg);
}

status_t meta_manifest_put(meta *m, const char *repo, const meta_manifest *man,
			   const char *const *refs, size_t nrefs, const char *const *tags,
			   size_t ntags)
{
	return m->m_ops->manifest_put(m, repo, man, refs, nrefs, tags, ntags);
}

status_t meta_manifest_get(meta *m, const char *repo, const char *ref, meta_manifest *out)
{
	return m->m_ops->manifest_get(m, repo, ref, out);
}

status_t meta_manifest_delete(meta *m, const char *repo, const char *digest)
{
	return m->m_ops->manifest_delete(m, repo, digest);
}

status_t meta_tag_delete(meta *m, const char *repo, const char *tag)
{
	return m->m_ops->tag_delete(m, repo, tag);
}

status_t meta_tag_list(meta *m, const char *repo, const char *last, int n,
		       int (*fn)(void *arg, const char *tag), void *arg, bool *out_more)
{
	return m->m_ops->tag_list(m, repo, last, n, fn, arg, out_more);
}

status_t meta_referrers(meta *m, const char *repo, const char *subject, const char *artifact_type,
			int (*fn)(void *arg, const meta_manifest *man), void *arg)
{
	return m->m_ops->referrers(m, repo, subject, artifact_type, fn, arg);
}

status_t meta_upload_create(meta *m, const char *id, const char *repo, digest_alg alg)
{
	return m->m_ops->upload_create(m, id, repo, alg);
}

status_t meta_upload_get(meta *m, const char *id, meta_upload *out)
{
	return m->m_ops->upload_get(m, id, out);
}

status_t meta_upload_touch(meta *m, const char *id)
{
	return m->m_ops->upload_touch(m, id);
}

status_t meta_upload_delete(meta *m, const char *id)
{
	return m->m_ops->upload_delete(m, id);
}

status_t meta_upload_list_stale(meta *m, time_t before, void (*fn)(void *arg, const char *id),
				void *arg)
{
	return m->m_ops->upload_list_stale(m, before, fn, arg);
}

status_t meta_stats_get(meta *m, meta_stats *out)
{
	return m->m_ops->stats_get(m, out);
}

status_t meta_ping(meta *m)
{
	return m->m_ops->ping(m);
}

status_t meta_tag_get(meta *m, const char *repo, const char *tag, meta_tag *out)
{
	return m->m_ops->tag_get(m, repo, tag, out);
}

status_t meta_tag_records(meta *m, const char *repo, int (*fn)(void *arg, const meta_tag *t),
			  void *arg)
{
	return m->m_ops->tag_records(m, repo, fn, arg);
}

status_t meta_repo_summary_get(meta *m, const char *repo, meta_repo_summary *out)
{
	return m->m_ops->repo_summary(m, repo, out);
}

status_t meta_tag_page(meta *m, const char *repo, bool by_pushed, int64_t after_pushed,
		       const char *after_name, int n, int (*fn)(void *arg, const meta_tag_row *r),
		       void *arg, bool *out_more)
{
	return m->m_ops->tag_page(m, repo, by_pushed, after_pushed, after_name, n, fn, arg,
				  out_more);
}

status_t meta_write_begin(meta *m)
{
	return m->m_ops->write_begin(m);
}

status_t meta_write_end(meta *m, bool commit)
{
	return m->m_ops->write_end(m, commit);
}

status_t meta_usage(meta *m, bool (*match)(void *arg, const char *repo), void *arg,
		    const char *digest, uint64_t *out_bytes, bool *out_has)
{
	return m->m_ops->usage(m, match, arg, digest, out_bytes, out_has);
}

status_t meta_du(meta *m, bool namespaces, int (*fn)(void *arg, const meta_du_row *r), void *arg)
{
	return m->m_ops->du(m, namespaces, fn, arg);
}

status_t meta_pulls_add(meta *m, const meta_pull *v, size_t n)
{
	return m->m_ops->pulls_add(m, v, n);
}

status_t meta_digests(meta *m, const char *after, int n,
		      int (*fn)(void *arg, const char *digest, uint64_t size), void *arg,
		      bool *out_more)
{
	return m->m_ops->digests(m, after, n, fn, arg, out_more);
}

status_t meta_digest_users(meta *m, const char *digest,
			   int (*fn)(void *arg, const char *repo, const char *manifest), void *arg)
{
	return m->m_ops->digest_users(m, digest, fn, arg);
}

status_t meta_quarantine_add(meta *m, const char *digest, const char *reason)
{
	return m->m_ops->quarantine_add(m, digest, reason);
}

status_t meta_quarantine_list(
    meta *m, int (*fn)(void *arg, const char *digest, time_t at, const char *reason), void *arg)
{
	return m->m_ops->quarantine_list(m, fn, arg);
}

status_t meta_backup(meta *m, const char *location)
{
	return m->m_ops->backup(m, location);
}

status_t meta_events_add(meta *m, const meta_event *v, size_t n)
{
	return m->m_ops->events_add(m, v, n);
}

status_t meta_events_next(meta *m, const char *endpoint, int n,
			  int (*fn)(void *arg, int64_t seq, const char *repo, const char *body),
			  void *arg)
{
	return m->m_ops->events_next(m, endpoint, n, fn, arg);
}

status_t meta_events_ack(meta *m, const char *endpoint, int64_t seq)
{
	return m->m_ops->events_ack(m, endpoint, seq);
}

status_t meta_events_count(meta *m, int (*fn)(void *arg, const char *endpoint, uint64_t n),
			   void *arg)
{
	return m->m_ops->events_count(m, fn, arg);
}

status_t meta_manifest_push(meta *m, const char *repo, const meta_manifest *man,
			    const char *const *refs, size_t nrefs, const char *const *tags,
			    size_t ntags, meta_push *p)
{
	return m->m_ops->manifest_push(m, repo, man, refs, nrefs, tags, ntags, p);
}

status_t meta_blob_hold(meta *m, const char *digest, uint64_t size, int64_t *out_gen)
{
	return m->m_ops->blob_hold(m, digest, size, out_gen);
}

status_t meta_blob_link_held(meta *m, const char *repo, const char *digest, uint64_t size,
			     int64_t gen)
{
	return m->m_ops->blob_link_held(m, repo, digest, size, gen);
}

status_t meta_blob_use(meta *m, const char *repo, const char *digest, int64_t fresh_us,
		       uint64_t *out_size)
{
	return m->m_ops->blob_use(m, repo, digest, fresh_us, out_size);
}

status_t meta_blob_mount(meta *m, const char *repo, const char *from, const char *digest,
			 uint64_t *out_size)
{
	return m->m_ops->blob_mount(m, repo, from, digest, out_size);
}

status_t meta_gc_manifests(meta *m, const char *repo, int64_t before_us, meta_gc_item *out,
			   size_t max, size_t *out_n)
{
	return m->m_ops->gc_manifests(m, repo, before_us, out, max, out_n);
}

status_t meta_gc_manifests_drop(meta *m, const char *repo, meta_gc_item *items, size_t n)
{
	return m->m_ops->gc_manifests_drop(m, repo, items, n);
}

status_t meta_gc_links(meta *m, const char *repo, int64_t before_us, const char *after,
		       meta_gc_item *out, size_t max, size_t *out_n)
{
	return m->m_ops->gc_links(m, repo, before_us, after, out, max, out_n);
}

status_t meta_gc_links_drop(meta *m, const char *repo, meta_gc_item *items, size_t n)
{
	return m->m_ops->gc_links_drop(m, repo, items, n);
}

status_t meta_gc_blobs(meta *m, int64_t before_us, const char *after, meta_gc_item *out, size_t max,
		       size_t *out_n)
{
	return m->m_ops->gc_blobs(m, before_us, after, out, max, out_n);
}

status_t meta_gc_blobs_drop(meta *m, meta_gc_item *items, size_t n, bool evict)
{
	return m->m_ops->gc_blobs_drop(m, items, n, evict);
}

status_t meta_gc_reap(meta *m, meta_gc_item *items, size_t n, bool dry,
		      void (*fn)(void *arg, meta_gc_item *it), void *arg)
{
	return m->m_ops->gc_reap(m, items, n, dry, fn, arg);
}

status_t meta_repo_clear(meta *m, const char *repo, size_t max, meta_repo_counts *counts,
			 bool *out_done)
{
	return m->m_ops->repo_clear(m, repo, max, counts, out_done);
}

status_t meta_snapshot(meta *m, meta **out)
{
	return m->m_ops->snapshot(m, out);
}

status_t meta_lock_try(meta *m, const char *name, bool *out_got)
{
	return m->m_ops->lock_try(m, name, out_got);
}

void meta_unlock(meta *m, const char *name)
{
	m->m_ops->unlock(m, name);
}

/* ---- failed logins: checked here, the same for every backend ---- */

bool meta_login_kept(meta *m)
{
	return m != NULL && m->m_ops->login_check != NULL;
}

bool meta_backend_keeps_logins(const char *name)
{
	const meta_ops *ops = meta_backend_find(name);

	return ops != NULL && ops->login_check != NULL;
}

/* addr is a key's address; user (NULL: none) fits a row. */
static bool login_args_ok(const char *addr, const char *user)
{
	return addr != NULL && addr[0] != '\0' && strlen(addr) < META_ADDR_MAX &&
	       (user == NULL || strlen(user) < META_NAME_MAX);
}

status_t meta_login_check(meta *m, const char *addr, const char *user, int64_t now,
			  meta_login *out_addr, meta_login *out_user, meta_login_fn ended,
			  void *arg)
{
	memset(out_addr, 0, sizeof(*out_addr));
	memset(out_user, 0, sizeof(*out_user));
	if (!meta_login_kept(m))
		return ST_UNSUPPORTED;
	if (!login_args_ok(addr, user))
		return ST_INVALID;
	return m->m_ops->login_check(m, addr, user ? user : "", now, out_addr, out_user, ended,
				     arg);
}

status_t meta_login_fail(meta *m, const char *addr, const char *user, bool known, unsigned limit,
			 unsigned window_sec, int64_t now, meta_login *out)
{
	memset(out, 0, sizeof(*out));
	if (!meta_login_kept(m))
		return ST_UNSUPPORTED;
	if (!login_args_ok(addr, user) || limit == 0)
		return ST_INVALID;
	return m->m_ops->login_fail(m, addr, user ? user : "", known, limit, window_sec, now, out);
}

status_t meta_login_clear(meta *m, const char *addr, const char *user)
{
	if (!meta_login_kept(m))
		return ST_UNSUPPORTED;
	if (!login_args_ok(addr, user))
		return ST_INVALID;
	return m->m_ops->login_clear(m, addr, user ? user : "");
}

status_t meta_login_unlock(meta *m, const char *addr, const char *user, int64_t before,
			   meta_login_fn lifted, void *arg, size_t *out_n)
{
	if (out_n != NULL)
		*out_n = 0;
	if (!meta_login_kept(m))
		return ST_UNSUPPORTED;
	if ((addr == NULL && user == NULL) ||
	    (addr != NULL && (addr[0] == '\0' || strlen(addr) >= META_ADDR_MAX)) ||
	    (user != NULL && strlen(user) >= META_NAME_MAX))
		return ST_INVALID;
	return m->m_ops->login_unlock(m, addr, user, before, lifted, arg, out_n);
}
