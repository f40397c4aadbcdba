/*
 * browse.c - what the web UI shows, read from the index and the blob store
 * (see core.h, "browsing"): pages of repositories and tags, a manifest and
 * its config as the registry holds them.
 *
 * Each page is a bounded number of indexed queries: the repository list
 * walks the name index after its cursor until it has n visible names (the
 * visibility filter runs inside the walk, so a page and its "next" link
 * are over visible names only), then reads each one's summary by its id; a
 * tag page is one range of (repo_id, name) or (repo_id, pushed, name). A
 * page never asks an upstream: a mirrored repository shows its cache.
 */
#include "core_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* An image's config is read whole for its platform; larger ones are not
 * real configs and show no platform. */
#define BROWSE_CONFIG_MAX (4u * 1024 * 1024)
/* Manifests the UI reads: at least this, or max_manifest_size when larger
 * (a cached manifest came from an upstream with its own bound). */
#define BROWSE_MANIFEST_MIN (4u * 1024 * 1024)
#define BROWSE_PLATFORMS_MAX 1024 /* the platforms text of one tag */
#define BROWSE_CHILDREN_MAX 64	  /* an index's children read for its size */

/* Reads stored blob digest whole when at most max bytes: ST_OK with *out
 * (NUL-terminated, the caller's) and *out_len; ST_NOT_FOUND; ST_TOO_LARGE;
 * ST_NOMEM; ST_IO. */
static status_t read_whole(core *c, const char *digest, size_t max, char **out, size_t *out_len)
{
	blob_reader *rd = NULL;
	uint64_t size;
	size_t off = 0, n;
	char *buf = NULL;
	status_t st;

	*out = NULL;
	*out_len = 0;
	if ((st = blobstore_read_open(c->bs, digest, &rd)) != ST_OK)
		return st == ST_INVALID ? ST_NOT_FOUND : st;
	size = blob_reader_size(rd);
	if (size > max) {
		st = ST_TOO_LARGE;
		goto done;
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	while (off < size) {
		if ((st = blob_reader_read(rd, off, buf + off, (size_t)size - off, &n)) != ST_OK)
			goto done;
		if (n == 0) {
			st = ST_IO; /* shorter than its size: a broken file */
			goto done;
		}
		off += n;
	}
	buf[off] = '\0';
	*out = buf;
	*out_len = off;
	buf = NULL;
	st = ST_OK;
done:
	free(buf);
	blob_reader_close(rd);
	return st;
}

static size_t manifest_max(const core *c)
{
	return c->opt.max_manifest_bytes > BROWSE_MANIFEST_MIN ? (size_t)c->opt.max_manifest_bytes
							       : BROWSE_MANIFEST_MIN;
}

/* ---- repositories ---- */

typedef struct {
	const char *query;
	bool (*visible)(void *, const char *);
	void *varg;
	int n, count;
	bool more;
	char (*names)[REF_NAME_MAX];
} repo_collect;

/* Collects the names of a page: they are read (summaries) after the walk,
 * since a callback must not call back into the index. */
static int repo_collect_one(void *arg, const char *name)
{
	repo_collect *rc = arg;

	if (rc->query != NULL && rc->query[0] != '\0' && strstr(name, rc->query) == NULL)
		return 0;
	if (rc->visible != NULL && !rc->visible(rc->varg, name))
		return 0;
	if (rc->count == rc->n) {
		rc->more = true;
		return 1;
	}
	snprintf(rc->names[rc->count++], REF_NAME_MAX, "%s", name);
	return 0;
}

status_t core_repos_page(core *c, const char *query, const char *after, int n,
			 bool (*visible)(void *, const char *), void *varg,
			 int (*fn)(void *arg, const core_repo_row *r), void *arg, bool *out_more)
{
	repo_collect rc = {query, visible, varg, n, 0, false, NULL};
	meta_repo_summary sum;
	core_repo_row row;
	status_t st;
	meta *db;

	*out_more = false;
	if (n < 1 || n > CORE_BROWSE_PAGE_MAX)
		return ST_INVALID;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((rc.names = calloc((size_t)n, sizeof(*rc.names))) == NULL)
		return ST_NOMEM;
	if ((st = meta_repo_list(db, after, 0, repo_collect_one, &rc, NULL)) != ST_OK)
		goto done;
	for (int i = 0; i < rc.count; i++) {
		st = meta_repo_summary_get(db, rc.names[i], &sum);
		if (st == ST_NOT_FOUND) {
			st = ST_OK; /* removed since the walk: no longer on the page */
			continue;
		}
		if (st != ST_OK)
			goto done;
		row = (core_repo_row){rc.names[i], sum.tags, sum.bytes, (int64_t)sum.last_push,
				      (int64_t)sum.last_pull};
		if (fn(arg, &row) != 0)
			break;
	}
	*out_more = rc.more;
done:
	free(rc.names);
	return st;
}

status_t core_repo_summary(core *c, core_req *q, core_repo_row *out)
{
	meta_repo_summary sum;
	status_t st;
	meta *db;

	memset(out, 0, sizeof(*out));
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_repo_summary_get(db, q->name, &sum)) != ST_OK)
		return st == ST_NOT_FOUND ? ST_NAME_UNKNOWN : st;
	*out = (core_repo_row){q->name, sum.tags, sum.bytes, (int64_t)sum.last_push,
			       (int64_t)sum.last_pull};
	return ST_OK;
}

/* ---- tags ---- */

/* Appends "os/arch[/variant]" of a platform object (or of a config, whose
 * fields are the same) to out, comma-separated. */
static void platform_add(char *out, size_t len, json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));
	size_t used = strlen(out);

	if (os == NULL || arch == NULL || used + 2 >= len)
		return;
	snprintf(out + used, len - used, "%s%s/%s%s%s", used ? "," : "", os, arch,
		 variant ? "/" : "", variant ? variant : "");
}

/* An image manifest's content: its config's and layers' sizes (what a
 * pull downloads beside the manifest); 0 for what is not one. */
static uint64_t content_bytes(json_t *m)
{
	uint64_t sum = 0;
	json_t *e, *size;
	size_t i;

	if (json_is_integer(size = json_object_get(json_object_get(m, "config"), "size")) &&
	    json_integer_value(size) > 0)
		sum += (uint64_t)json_integer_value(size);
	json_array_foreach(json_object_get(m, "layers"), i, e)
	{
		if (json_is_integer(size = json_object_get(e, "size")) &&
		    json_integer_value(size) > 0)
			sum += (uint64_t)json_integer_value(size);
	}
	return sum;
}

/* An index's children's content, each child read (the first
 * BROWSE_CHILDREN_MAX: a page reads a bounded amount). */
static uint64_t children_bytes(core *c, json_t *list)
{
	uint64_t sum = 0;
	const char *d;
	char *body;
	size_t i, blen;
	json_t *e, *m;

	json_array_foreach(list, i, e)
	{
		if (i >= BROWSE_CHILDREN_MAX)
			break;
		d = json_string_value(json_object_get(e, "digest"));
		if (d == NULL || digest_parse(d, NULL) != ST_OK ||
		    read_whole(c, d, manifest_max(c), &body, &blen) != ST_OK)
			continue;
		if ((m = json_loadb(body, blen, 0, NULL)) != NULL)
			sum += content_bytes(m);
		json_decref(m);
		free(body);
	}
	return sum;
}

/* The platforms of manifest digest into out ("" when none can be told):
 * an index's children's, or an image's config's; and the image's bytes
 * into *bytes (0 unknown): its config and layers, an index's every
 * platform's summed. A read that fails leaves them empty: a page shows what
 * it can. */
static void image_of(core *c, const char *digest, char *out, size_t len, uint64_t *bytes)
{
	char *body = NULL, *cfg = NULL;
	size_t blen, clen;
	json_t *m = NULL, *conf = NULL, *list, *e;
	const char *cdigest;
	size_t i;

	out[0] = '\0';
	*bytes = 0;
	if (read_whole(c, digest, manifest_max(c), &body, &blen) != ST_OK ||
	    (m = json_loadb(body, blen, 0, NULL)) == NULL)
		goto done;
	if (json_is_array(list = json_object_get(m, "manifests"))) {
		json_array_foreach(list, i, e)
		    platform_add(out, len, json_object_get(e, "platform"));
		*bytes = children_bytes(c, list);
		goto done;
	}
	*bytes = content_bytes(m);
	cdigest = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	if (cdigest == NULL || digest_parse(cdigest, NULL) != ST_OK ||
	    read_whole(c, cdigest, BROWSE_CONFIG_MAX, &cfg, &clen) != ST_OK ||
	    (conf = json_loadb(cfg, clen, 0, NULL)) == NULL)
		goto done;
	platform_add(out, len, conf);
done:
	json_decref(conf);
	json_decref(m);
	free(cfg);
	free(body);
}

void core_tag_cursor(core_tag_sort sort, const core_tag_row *r, char out[CORE_TAG_CURSOR_MAX])
{
	if (sort == CORE_SORT_PUSHED)
		snprintf(out, CORE_TAG_CURSOR_MAX, "%" PRId64 ":%s", r->pushed, r->tag);
	else
		snprintf(out, CORE_TAG_CURSOR_MAX, "%s", r->tag);
}

/* A page's rows, collected before each is completed (platforms), since a
 * callback must not call back into the index. */
typedef struct {
	meta_tag_row *rows;
	size_t n;
} tag_collect;

static int tag_collect_one(void *arg, const meta_tag_row *r)
{
	tag_collect *tc = arg;

	tc->rows[tc->n++] = *r;
	return 0;
}

/* Reads a cursor: ST_OK with *pushed and name; ST_INVALID. */
static status_t cursor_parse(core_tag_sort sort, const char *after, int64_t *pushed,
			     char name[META_TAG_MAX])
{
	const char *colon;
	char *end;
	long long v;

	*pushed = INT64_MAX;
	name[0] = '\0';
	if (after == NULL || after[0] == '\0')
		return ST_OK;
	if (sort == CORE_SORT_NAME) {
		if (strlen(after) >= META_TAG_MAX)
			return ST_INVALID;
		snprintf(name, META_TAG_MAX, "%s", after);
		return ST_OK;
	}
	if ((colon = strchr(after, ':')) == NULL || strlen(colon + 1) >= META_TAG_MAX)
		return ST_INVALID;
	errno = 0;
	v = strtoll(after, &end, 10);
	if (errno != 0 || end != colon || end == after)
		return ST_INVALID;
	*pushed = v;
	snprintf(name, META_TAG_MAX, "%s", colon + 1);
	return ST_OK;
}

status_t core_tags_page(core *c, core_req *q, core_tag_sort sort, const char *after, int n,
			int (*fn)(void *arg, const core_tag_row *r), void *arg, bool *out_more)
{
	tag_collect tc = {NULL, 0};
	char name[META_TAG_MAX], platforms[BROWSE_PLATFORMS_MAX];
	uint64_t bytes;
	int64_t pushed;
	core_tag_row row;
	status_t st;
	meta *db;

	*out_more = false;
	if (n < 1 || n > CORE_BROWSE_PAGE_MAX || cursor_parse(sort, after, &pushed, name) != ST_OK)
		return ST_INVALID;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_repo_exists(db, q->name)) != ST_OK)
		return st == ST_NOT_FOUND ? ST_NAME_UNKNOWN : st;
	if ((tc.rows = calloc((size_t)n, sizeof(*tc.rows))) == NULL)
		return ST_NOMEM;
	st = meta_tag_page(db, q->name, sort == CORE_SORT_PUSHED, pushed, name, n, tag_collect_one,
			   &tc, out_more);
	for (size_t i = 0; st == ST_OK && i < tc.n; i++) {
		const meta_tag_row *r = &tc.rows[i];

		image_of(c, r->t.digest, platforms, sizeof(platforms), &bytes);
		row = (core_tag_row){
		    r->t.name,	    r->t.digest,
		    r->media_type,  bytes,
		    platforms,	    (int64_t)r->t.pushed,
		    r->t.pushed_by, (int64_t)r->t.last_pull,
		    r->t.pulls,	    policy_immutable(q->set->pol, q->name, r->t.name)};
		if (fn(arg, &row) != 0)
			break;
	}
	free(tc.rows);
	return st;
}

/* ---- one manifest, one blob ---- */

status_t core_browse_manifest_get(core *c, core_req *q, const char *ref, core_browse_manifest *out)
{
	meta_manifest man;
	ref_kind kind;
	status_t st;
	meta *db;

	memset(out, 0, sizeof(*out));
	if (ref == NULL || ref_parse(ref, &kind) != ST_OK)
		return ST_MANIFEST_UNKNOWN;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	st = meta_manifest_get(db, q->name, ref, &man);
	if (st == ST_NOT_FOUND)
		return meta_repo_exists(db, q->name) == ST_NOT_FOUND ? ST_NAME_UNKNOWN
								     : ST_MANIFEST_UNKNOWN;
	if (st != ST_OK)
		return st;
	st = read_whole(c, man.digest, manifest_max(c), &out->body, &out->len);
	if (st == ST_NOT_FOUND)
		return ST_MANIFEST_UNKNOWN;
	if (st != ST_OK)
		return st;
	snprintf(out->digest, sizeof(out->digest), "%s", man.digest);
	snprintf(out->media_type, sizeof(out->media_type), "%s", man.media_type);
	snprintf(out->artifact_type, sizeof(out->artifact_type), "%s", man.artifact_type);
	snprintf(out->pushed_by, sizeof(out->pushed_by), "%s", man.pushed_by);
	out->size = man.size;
	out->pushed = (int64_t)man.pushed;
	out->last_pull = (int64_t)man.last_pull;
	out->pulls = man.pulls;
	return ST_OK;
}

void core_browse_free(core_browse_manifest *m)
{
	if (m == NULL)
		return;
	free(m->body);
	m->body = NULL;
}

status_t core_browse_blob(core *c, core_req *q, const char *digest, size_t max, char **out,
			  size_t *out_len)
{
	status_t st;
	meta *db;

	*out = NULL;
	*out_len = 0;
	if (digest == NULL || digest_parse(digest, NULL) != ST_OK)
		return ST_BLOB_UNKNOWN;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	/* only a blob this repository holds: never one of another's */
	if ((st = meta_blob_get(db, q->name, digest, NULL)) != ST_OK)
		return st == ST_NOT_FOUND ? ST_BLOB_UNKNOWN : st;
	st = read_whole(c, digest, max, out, out_len);
	return st == ST_NOT_FOUND ? ST_BLOB_UNKNOWN : st;
}

status_t core_quotas(core *c, bool (*visible)(void *, const char *), void *varg,
		     void (*fn)(void *arg, const core_quota_row *r), void *arg)
{
	core_settings *set = settings_get(c);
	status_t st = policy_quotas(set->pol, c, visible, varg, fn, arg);

	settings_put(c, set);
	return st;
}
