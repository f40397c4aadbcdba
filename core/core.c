/*
 * core.c - opening and closing the core, its per-thread metadata
 * connections, and the per-request view of a repository (see core.h).
 */
#include "core_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "../common/log.h"

static void meta_key_destroy(void *p)
{
	meta_close(p);
}

/* Copies s into a fixed field of the core; ST_INVALID if it does not fit. */
static status_t copy_opt(char *dst, size_t len, const char *s, const char *what)
{
	if (s == NULL || strlen(s) >= len) {
		log_error("%s is missing or too long", what);
		return ST_INVALID;
	}
	memcpy(dst, s, strlen(s) + 1);
	return ST_OK;
}

status_t core_open(core **out, const core_options *o)
{
	core *c = calloc(1, sizeof(*c));
	meta *db = NULL;
	status_t st;

	*out = NULL;
	if (c == NULL)
		return ST_NOMEM;
	c->opt = *o;
	pthread_key_create(&c->meta_key, meta_key_destroy);
	pthread_mutex_init(&c->stats_mu, NULL);
	if ((st = copy_opt(c->data, sizeof(c->data), o->data, "data folder")) != ST_OK ||
	    (st = copy_opt(c->storage, sizeof(c->storage), o->storage, "storage")) != ST_OK ||
	    (st = copy_opt(c->metadata, sizeof(c->metadata), o->metadata, "metadata")) != ST_OK)
		goto fail;
	c->opt.data = c->data;
	c->opt.storage = c->storage;
	c->opt.metadata = c->metadata;
	/* the policy lines are parsed here; the caller's lists are not kept */
	c->opt.quotas = c->opt.immutables = c->opt.retains = NULL;
	c->opt.nquotas = c->opt.nimmutables = c->opt.nretains = 0;
	snprintf(c->db_path, sizeof(c->db_path), "%s/registry.db", c->data);
	if ((st = blobstore_open_backend(&c->bs, c->storage, c->data)) != ST_OK) {
		log_error("cannot open blob store in %s", c->data);
		goto fail;
	}
	if ((st = meta_open_backend(&db, c->metadata, c->db_path)) != ST_OK) {
		log_error("cannot open metadata database %s", c->db_path);
		goto fail;
	}
	if ((st = sessions_new(&c->ups)) != ST_OK || (st = policy_new(&c->pol, o)) != ST_OK ||
	    (st = usage_new(c)) != ST_OK)
		goto fail;
	/* Leftovers of a crash: upload files without a session row now, idle
	 * sessions by the usual rule. */
	if (o->sweep)
		sessions_expire(c->ups, c->bs, db, time(NULL) - (time_t)o->upload_ttl_sec);
	meta_close(db);
	db = NULL;
	if (o->nupstreams > 0) {
		proxy_options po = {
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
		if ((st = proxy_new(&c->px, &po, o->upstreams, o->nupstreams, c->bs, c->db_path)) !=
		    ST_OK)
			goto fail;
	}
	if ((st = events_new(&c->ev, c, o->notify, o->nnotify)) != ST_OK)
		goto fail;
	c->opt.notify = NULL; /* events_new parsed them: the core keeps no borrowed lines */
	c->opt.nnotify = 0;
	*out = c;
	return ST_OK;
fail:
	meta_close(db);
	core_close(c);
	return st;
}

void core_stop(core *c)
{
	if (c != NULL)
		proxy_stop(c->px);
}

void core_close(core *c)
{
	meta *m;

	if (c == NULL)
		return;
	/* first: their threads and last writes use the index connections */
	events_free(c->ev);
	usage_stop(c); /* the last pull counts, through this thread's connection */
	proxy_free(c->px);
	sessions_free(c->ups);
	policy_free(c->pol);
	/* this thread's connection; the workers' closed as their threads ended */
	if ((m = pthread_getspecific(c->meta_key)) != NULL) {
		pthread_setspecific(c->meta_key, NULL);
		meta_close(m);
	}
	pthread_key_delete(c->meta_key);
	pthread_mutex_destroy(&c->stats_mu);
	blobstore_close(c->bs);
	free(c);
}

status_t core_check(core *c)
{
	meta *db;
	status_t st;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	st = meta_repo_exists(db, "");
	return st == ST_NOT_FOUND ? ST_OK : st;
}

int core_uploads_expire(core *c)
{
	meta *db;

	if (core_db(c, &db) != ST_OK)
		return 0;
	return sessions_expire(c->ups, c->bs, db, time(NULL) - (time_t)c->opt.upload_ttl_sec);
}

bool core_mirrors(const core *c)
{
	return c->px != NULL;
}

const char *core_cache_name(core *c, const char *name, char *out, size_t outlen)
{
	proxy_target t;

	if (c->px == NULL || proxy_route(c->px, name, NULL, &t) != ST_OK ||
	    strlen(t.local) >= outlen)
		return name;
	memcpy(out, t.local, strlen(t.local) + 1);
	return out;
}

bool core_storage_known(const char *name)
{
	return blobstore_backend_find(name) != NULL;
}

bool core_metadata_known(const char *name)
{
	return meta_backend_find(name) != NULL;
}

_Static_assert(CORE_UPSTREAM_NAME_MAX == UPSTREAM_NAME_MAX, "upstream names: one bound");

status_t core_upstream_check(const char *line, char name_out[CORE_UPSTREAM_NAME_MAX], char *err,
			     size_t errlen)
{
	upstream_spec spec;

	if (upstream_spec_parse(&spec, line, err, errlen) != ST_OK)
		return ST_INVALID;
	snprintf(name_out, CORE_UPSTREAM_NAME_MAX, "%s", spec.name);
	return ST_OK;
}

/* ---- requests ---- */

status_t core_req_open(core *c, const char *name, const char *ns, const core_waiter *w,
		       core_req **out)
{
	core_req *q = calloc(1, sizeof(*q));
	status_t st;

	*out = NULL;
	if (q == NULL)
		return ST_NOMEM;
	q->c = c;
	if (w != NULL)
		q->w = *w;
	snprintf(q->asked, sizeof(q->asked), "%s", name);
	snprintf(q->name, sizeof(q->name), "%s", name);
	st = cache_route(c, q, name, ns);
	*out = q; /* on failure too: its detail says why */
	return st;
}

void core_req_free(core_req *q)
{
	if (q == NULL)
		return;
	proxy_job_release(q->job);
	free(q);
}

const char *core_req_name(const core_req *q)
{
	return q->name;
}

const char *core_req_asked(const core_req *q)
{
	return q->asked;
}

bool core_req_mirrored(const core_req *q)
{
	return q->mirrored;
}

const char *core_req_namespace(const core_req *q)
{
	return q->ns;
}

const char *core_req_alias(const core_req *q)
{
	return q->alias ? q->asked : NULL;
}

void core_req_set_actor(core_req *q, const char *name)
{
	snprintf(q->actor, sizeof(q->actor), "%s", name ? name : "");
}

void core_req_set_origin(core_req *q, const core_origin *o)
{
	unsigned char b[8];

	snprintf(q->o_addr, sizeof(q->o_addr), "%s", o->addr ? o->addr : "");
	snprintf(q->o_host, sizeof(q->o_host), "%s", o->host ? o->host : "");
	snprintf(q->o_method, sizeof(q->o_method), "%s", o->method ? o->method : "");
	snprintf(q->o_agent, sizeof(q->o_agent), "%s", o->useragent ? o->useragent : "");
	/* distribution's request.id: one per request, shared by its events */
	if (RAND_bytes(b, sizeof(b)) == 1)
		snprintf(q->o_id, sizeof(q->o_id), "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1],
			 b[2], b[3], b[4], b[5], b[6], b[7]);
}

const char *core_req_detail(const core_req *q)
{
	return q->detail[0] ? q->detail : NULL;
}

status_t core_req_writable(core_req *q)
{
	return policy_writable(q);
}
