/*
 * settings.c - what a reload changes in the core (core.h's
 * core_settings_new and core_settings_use): the switches the core reads
 * (delete_enabled, max_manifest_bytes, upload_ttl, gc_delay, gc_untagged,
 * gc_dry_run), the storage policies and the upstreams with the proxy_* keys, as one
 * immutable, reference-counted object.
 *
 * Invariants:
 *   - c->set is never NULL while the core is open, and only swapped whole
 *     (under set_mu): a reader takes a reference (settings_get) and sees
 *     one reload's values or the next one's, never a mix.
 *   - Settings are built completely before the swap (policy lines parsed,
 *     the proxy made and its credentials read), so a failure leaves the
 *     running ones untouched.
 *   - A cache (cache_holder: one proxy, its jobs, memo and counters) is
 *     shared by every settings whose upstream lines and proxy_* keys are
 *     the same, so a reload that changes a rule does not forget what the
 *     cache knows. It is freed (its fetches cancelled: they fail cleanly
 *     and store nothing) when the last settings naming it are; c->caches
 *     lists the living ones so that core_stop reaches them all.
 *   - Whoever drops the last reference frees outside set_mu: freeing a
 *     proxy waits for its job threads, which never take set_mu.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

struct cache_holder {
	unsigned refs; /* under core.set_mu: each settings that names it */
	proxy *px;
	char **lines; /* the upstream lines it was made from */
	size_t n;
	proxy_options po;   /* and the proxy_* keys */
	cache_holder *next; /* core.caches */
};

/* The proxy_* keys of o as the proxy takes them. */
static proxy_options proxy_opts(const core *c, const core_options *o)
{
	return (proxy_options){
	    .revalidate_sec = o->proxy_revalidate_sec,
	    .negative_sec = o->proxy_negative_sec,
	    .timeout_sec = o->proxy_timeout_sec,
	    .retries = o->proxy_retries,
	    .unreachable_sec = o->proxy_unreachable_sec,
	    .max_manifest_bytes = o->max_manifest_bytes,
	    .cache_max_bytes = o->proxy_cache_max_bytes,
	    .cache_keep_sec = o->proxy_cache_keep_sec,
	    .user_agent = o->user_agent,
	    .meta_backend = c->metadata,
	};
}

/* Whether h was made from these lines and keys (the pointers in po are the
 * core's own, the same for every settings). */
static bool holder_same(const cache_holder *h, char *const *lines, size_t n,
			const proxy_options *po)
{
	const proxy_options *a = &h->po;

	if (h->n != n || a->revalidate_sec != po->revalidate_sec ||
	    a->negative_sec != po->negative_sec || a->timeout_sec != po->timeout_sec ||
	    a->retries != po->retries || a->unreachable_sec != po->unreachable_sec ||
	    a->max_manifest_bytes != po->max_manifest_bytes ||
	    a->cache_max_bytes != po->cache_max_bytes || a->cache_keep_sec != po->cache_keep_sec)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(h->lines[i], lines[i]) != 0)
			return false;
	return true;
}

static void holder_free(cache_holder *h)
{
	if (h == NULL)
		return;
	proxy_free(h->px);
	for (size_t i = 0; i < h->n; i++)
		free(h->lines[i]);
	free(h->lines);
	free(h);
}

/* A new cache for o's upstream lines, not yet listed. ST_OK with *out;
 * proxy_new's failures. */
static status_t holder_new(core *c, const core_options *o, const proxy_options *po,
			   cache_holder **out)
{
	cache_holder *h = calloc(1, sizeof(*h));
	status_t st = ST_NOMEM;

	*out = NULL;
	if (h == NULL || (h->lines = calloc(o->nupstreams, sizeof(*h->lines))) == NULL)
		goto fail;
	for (; h->n < o->nupstreams; h->n++)
		if ((h->lines[h->n] = strdup(o->upstreams[h->n])) == NULL)
			goto fail;
	h->po = *po;
	h->refs = 1;
	if ((st = proxy_new(&h->px, po, o->upstreams, o->nupstreams, c->bs, c->db_path, c->data)) !=
	    ST_OK)
		goto fail;
	*out = h;
	return ST_OK;
fail:
	holder_free(h);
	return st;
}

/* Drops a reference to h (under set_mu); returns h when it was the last
 * (unlisted: the caller frees it outside the lock), else NULL. */
static cache_holder *holder_unref(core *c, cache_holder *h)
{
	if (h == NULL || --h->refs > 0)
		return NULL;
	for (cache_holder **p = &c->caches; *p != NULL; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	return h;
}

status_t core_settings_new(core *c, const core_options *o, core_settings **out)
{
	core_settings *s = calloc(1, sizeof(*s));
	proxy_options po = proxy_opts(c, o);
	cache_holder *h = NULL;
	status_t st;

	*out = NULL;
	if (s == NULL)
		return ST_NOMEM;
	s->refs = 1;
	s->delete_enabled = o->delete_enabled;
	s->max_manifest_bytes = o->max_manifest_bytes;
	s->upload_ttl_sec = o->upload_ttl_sec;
	s->gc_delay_sec = o->gc_delay_sec;
	s->gc_untagged_sec = o->gc_untagged_sec;
	s->gc_dry_run = o->gc_dry_run;
	if ((st = policy_new(&s->pol, o)) != ST_OK)
		goto fail;
	if (o->nupstreams > 0) {
		/* The running cache, when nothing it was made from changed. */
		pthread_mutex_lock(&c->set_mu);
		if (c->set != NULL && (h = c->set->cache) != NULL &&
		    holder_same(h, o->upstreams, o->nupstreams, &po))
			h->refs++;
		else
			h = NULL;
		pthread_mutex_unlock(&c->set_mu);
		if (h == NULL) {
			if ((st = holder_new(c, o, &po, &h)) != ST_OK)
				goto fail;
			pthread_mutex_lock(&c->set_mu);
			h->next = c->caches;
			c->caches = h;
			pthread_mutex_unlock(&c->set_mu);
		}
		s->cache = h;
		s->px = h->px;
	}
	*out = s;
	return ST_OK;
fail:
	policy_free(s->pol);
	free(s);
	return st;
}

core_settings *settings_get(core *c)
{
	core_settings *s;

	pthread_mutex_lock(&c->set_mu);
	s = c->set;
	if (s != NULL)
		s->refs++;
	pthread_mutex_unlock(&c->set_mu);
	return s;
}

void settings_put(core *c, core_settings *s)
{
	cache_holder *h = NULL;
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&c->set_mu);
	last = --s->refs == 0;
	if (last)
		h = holder_unref(c, s->cache);
	pthread_mutex_unlock(&c->set_mu);
	if (!last)
		return;
	if (h != NULL)
		log_info("upstreams of an earlier configuration: the last request using them "
			 "ended; their cache is closed");
	holder_free(h);
	policy_free(s->pol);
	free(s);
}

void core_settings_use(core *c, core_settings *s)
{
	core_settings *old;

	pthread_mutex_lock(&c->set_mu);
	old = c->set;
	c->set = s;
	pthread_mutex_unlock(&c->set_mu);
	settings_put(c, old);
}

void core_settings_free(core *c, core_settings *s)
{
	settings_put(c, s);
}

void settings_stop(core *c)
{
	/* Under the lock: no holder is freed meanwhile (proxy_stop wakes
	 * waiters, whose requests may end and wait here to drop theirs). */
	pthread_mutex_lock(&c->set_mu);
	for (cache_holder *h = c->caches; h != NULL; h = h->next)
		proxy_stop(h->px);
	pthread_mutex_unlock(&c->set_mu);
}

void settings_close(core *c)
{
	core_settings *s;

	pthread_mutex_lock(&c->set_mu);
	s = c->set;
	c->set = NULL;
	pthread_mutex_unlock(&c->set_mu);
	settings_put(c, s);
	/* Requests all ended (the server drained and stopped): a cache left
	 * here was kept by one that leaked its reference. */
	while (c->caches != NULL) {
		cache_holder *h = c->caches;
		c->caches = h->next;
		log_warn("core: a cache of an earlier configuration was still referenced at close");
		holder_free(h);
	}
}
