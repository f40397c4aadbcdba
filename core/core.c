/*
 * core.c - opening and closing the core, its per-thread metadata
 * connections, and the per-request view of a repository (see core.h).
 */
#include "core_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/*
 * Where the metadata index is: for sqlite the file DATA/registry.db; for
 * postgres the conninfo, with the password of postgres_password_file (its
 * first line) added the way its syntax takes one (a URI parameter,
 * percent-encoded; a quoted password='...' keyword). The result may hold a
 * password: it is never logged. ST_OK, ST_INVALID (no conninfo, an
 * unreadable file, too long).
 */
static status_t meta_location(core *c, const core_options *o)
{
	char pw[512] = "", *p = c->db_path, *end = c->db_path + sizeof(c->db_path);
	bool uri;
	FILE *f;

	if (strcmp(c->metadata, "postgres") != 0) {
		snprintf(c->db_path, sizeof(c->db_path), "%s/registry.db", c->data);
		return ST_OK;
	}
	if (o->postgres == NULL || o->postgres[0] == '\0') {
		log_error("metadata = postgres needs postgres = CONNINFO (such as "
			  "\"postgresql://registry@db.example/registry\")");
		return ST_INVALID;
	}
	if (o->postgres_password_file != NULL && o->postgres_password_file[0] != '\0') {
		if ((f = fopen(o->postgres_password_file, "r")) == NULL) {
			log_error("postgres_password_file %s: %s", o->postgres_password_file,
				  strerror(errno));
			return ST_INVALID;
		}
		if (fgets(pw, sizeof(pw), f) == NULL)
			pw[0] = '\0';
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
	}
	p += snprintf(p, (size_t)(end - p), "%s", o->postgres);
	uri = strncmp(o->postgres, "postgresql://", 13) == 0 ||
	      strncmp(o->postgres, "postgres://", 11) == 0;
	if (pw[0] != '\0' && p < end) {
		if (uri)
			p += snprintf(p, (size_t)(end - p),
				      "%spassword=", strchr(o->postgres, '?') ? "&" : "?");
		else
			p += snprintf(p, (size_t)(end - p), " password='");
		for (const char *q = pw; *q != '\0' && p + 4 < end; q++) {
			unsigned char ch = (unsigned char)*q;

			if (uri && !(isalnum(ch) || strchr("-._~", ch)))
				p += snprintf(p, (size_t)(end - p), "%%%02X", ch);
			else if (!uri && (ch == '\'' || ch == '\\'))
				p += snprintf(p, (size_t)(end - p), "\\%c", ch);
			else
				*p++ = (char)ch;
		}
		if (!uri && p + 1 < end)
			*p++ = '\'';
		if (p < end)
			*p = '\0';
	}
	explicit_bzero(pw, sizeof(pw));
	if (p + 1 >= end) {
		log_error("postgres: the connection string is too long");
		return ST_INVALID;
	}
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
	pthread_mutex_init(&c->gc_mu, NULL);
	pthread_mutex_init(&c->set_mu, NULL);
	if ((st = copy_opt(c->data, sizeof(c->data), o->data, "data folder")) != ST_OK ||
	    (st = copy_opt(c->storage, sizeof(c->storage), o->storage, "storage")) != ST_OK ||
	    (st = copy_opt(c->metadata, sizeof(c->metadata), o->metadata, "metadata")) != ST_OK)
		goto fail;
	c->opt.data = c->data;
	c->opt.storage = c->storage;
	c->opt.metadata = c->metadata;
	/* what a reload may change lives in c->set (settings.c); the caller's
	 * lists are not kept */
	c->opt.quotas = c->opt.immutables = c->opt.retains = c->opt.upstreams = NULL;
	c->opt.nquotas = c->opt.nimmutables = c->opt.nretains = c->opt.nupstreams = 0;
	if ((st = meta_location(c, o)) != ST_OK)
		goto fail;
	blobstore_options bo = {
	    .s3_endpoint = o->s3_endpoint,
	    .s3_bucket = o->s3_bucket,
	    .s3_region = o->s3_region,
	    .s3_credentials = o->s3_credentials,
	    .s3_path_style = o->s3_path_style,
	    .s3_prefix = o->s3_prefix,
	    .s3_ca = o->s3_ca,
	    .s3_part_size = o->s3_part_size,
	    .s3_redirect = o->s3_redirect,
	    .s3_memory = o->s3_memory,
	};
	if ((st = blobstore_open_opts(&c->bs, c->storage, c->data, &bo)) != ST_OK) {
		log_error("cannot open the %s blob store (data %s)", c->storage, c->data);
		goto fail;
	}
	/* The index lives in the data folder whatever the blob store: the
	 * filesystem's open made the folder, an object store's did not (a CLI
	 * command, `import -d NEW`, on a folder serve never created). */
	if (mkdir(c->data, 0755) != 0 && errno != EEXIST) {
		log_error("cannot create data folder %s: %s", c->data, strerror(errno));
		st = ST_IO;
		goto fail;
	}
	if ((st = meta_open_backend(&db, c->metadata, c->db_path)) != ST_OK) {
		/* (a postgres location may hold a password: not logged) */
		log_error("cannot open the %s metadata index%s%s", c->metadata,
			  strcmp(c->metadata, "sqlite") == 0 ? " " : "",
			  strcmp(c->metadata, "sqlite") == 0 ? c->db_path : "");
		goto fail;
	}
	if ((st = sessions_new(&c->ups)) != ST_OK || (st = usage_new(c)) != ST_OK)
		goto fail;
	/* a shared index means replicas may share the uploads too */
	if (strcmp(c->metadata, "sqlite") != 0)
		sessions_set_shared(c->ups);
	/* Leftovers of a crash: upload files without a session row now, idle
	 * sessions by the usual rule. */
	if (o->sweep)
		sessions_expire(c->ups, c->bs, db, time(NULL) - (time_t)o->upload_ttl_sec);
	meta_close(db);
	db = NULL;
	{
		core_settings *set;
		if ((st = core_settings_new(c, o, &set)) != ST_OK)
			goto fail;
		core_settings_use(c, set);
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
		settings_stop(c);
}

void core_close(core *c)
{
	meta *m;

	if (c == NULL)
		return;
	/* first: their threads and last writes use the index connections */
	events_free(c->ev);
	usage_stop(c); /* the last pull counts, through this thread's connection */
	settings_close(c);
	sessions_free(c->ups);
	/* this thread's connection; the workers' closed as their threads ended */
	if ((m = pthread_getspecific(c->meta_key)) != NULL) {
		pthread_setspecific(c->meta_key, NULL);
		meta_close(m);
	}
	pthread_key_delete(c->meta_key);
	pthread_mutex_destroy(&c->stats_mu);
	pthread_mutex_destroy(&c->gc_mu);
	pthread_mutex_destroy(&c->set_mu);
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
	core_settings *s;
	time_t ttl;
	meta *db;

	if (core_db(c, &db) != ST_OK)
		return 0;
	s = settings_get(c);
	ttl = (time_t)s->upload_ttl_sec;
	settings_put(c, s);
	return sessions_expire(c->ups, c->bs, db, time(NULL) - ttl);
}

bool core_mirrors(core *c)
{
	core_settings *s = settings_get(c);
	bool any = s->px != NULL;

	settings_put(c, s);
	return any;
}

const char *core_cache_name(core *c, const char *name, char *out, size_t outlen)
{
	core_settings *s = settings_get(c);
	const char *ret = name;
	proxy_target t;

	if (s->px != NULL && proxy_route(s->px, name, NULL, &t) == ST_OK &&
	    strlen(t.local) < outlen) {
		memcpy(out, t.local, strlen(t.local) + 1);
		ret = out;
	}
	settings_put(c, s);
	return ret;
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
	q->set = settings_get(c);
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
	settings_put(q->c, q->set); /* after the job: it may be the proxy's last user */
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
