/*
 * routes.c - the route table and URL matching.
 *
 * Repository names contain slashes, so a URL is read from its end: the
 * last segments say which endpoint it is, and what comes before them is the
 * name, which must then pass the spec's grammar.
 *
 *   /v2/                                   R_BASE
 *   /v2/_catalog                           R_CATALOG
 *   /v2/<name>/tags/list                   R_TAGS
 *   /v2/<name>/manifests/<reference>       R_MANIFEST
 *   /v2/<name>/blobs/<digest>              R_BLOB
 *   /v2/<name>/blobs/uploads/              R_UPLOAD_START
 *   /v2/<name>/blobs/uploads/<id>          R_UPLOAD
 *   /v2/<name>/referrers/<digest>          R_REFERRERS
 *   /token                                 R_TOKEN (auth = token only)
 *   /metrics, /healthz, /readyz            R_METRICS, R_HEALTHZ, R_READYZ (h_ops.c)
 *   /v2/_admin/repositories/<name>         R_ADMIN_REPO (registry-specific:
 *                                          no name can start with '_')
 *   /, /ui, /ui/...                        R_UI (the web UI: ui_page.c
 *                                          dispatches its pages)
 */
#include <string.h>

#include "http.h"

/* Longest URL looked at: /v2/ + name + the longest suffix. */
#define URL_MAX (4 + REF_NAME_MAX + 32 + DIGEST_MAX)

static const route routes[] = {
    {R_BASE, M_GET | M_HEAD, base_begin, NULL, base_finish},
    {R_CATALOG, M_GET | M_HEAD, base_begin, NULL, catalog_finish},
    {R_TAGS, M_GET | M_HEAD, base_begin, NULL, tags_finish},
    {R_MANIFEST, M_GET | M_HEAD | M_PUT | M_DELETE, manifests_begin, manifests_data,
     manifests_finish},
    {R_BLOB, M_GET | M_HEAD | M_DELETE, blobs_begin, NULL, blobs_finish},
    {R_UPLOAD_START, M_POST, uploads_begin, uploads_data, uploads_finish},
    {R_UPLOAD, M_GET | M_PATCH | M_PUT | M_DELETE, uploads_begin, uploads_data, uploads_finish},
    {R_REFERRERS, M_GET | M_HEAD, base_begin, NULL, referrers_finish},
    {R_TOKEN, M_GET | M_POST, token_begin, token_data, token_finish},
    {R_METRICS, M_GET | M_HEAD, ops_begin, NULL, metrics_finish},
    {R_HEALTHZ, M_GET | M_HEAD, ops_begin, NULL, healthz_finish},
    {R_READYZ, M_GET | M_HEAD, ops_begin, NULL, readyz_finish},
    {R_ADMIN_REPO, M_DELETE, base_begin, NULL, admin_repo_finish},
    {R_UI, M_GET | M_HEAD | M_POST, ui_begin, ui_data, ui_finish},
};

/* The admin routes' prefix: a repository name's components start with
 * [a-z0-9], so no name can collide with it. */
#define ADMIN_REPOS "/v2/_admin/repositories/"

static status_t set_name(request *r, const char *start, size_t len)
{
	if (len == 0 || len >= sizeof(r->name))
		return ST_NAME_INVALID;
	memcpy(r->name, start, len);
	r->name[len] = '\0';
	return ref_name_check(r->name);
}

static status_t set_ref(request *r, const char *s, size_t len)
{
	if (len >= sizeof(r->ref))
		len = sizeof(r->ref) - 1; /* the handler's check refuses it */
	memcpy(r->ref, s, len);
	r->ref[len] = '\0';
	return ST_OK;
}

/* Segment [s, e) equals word. */
static int seg_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* Finds the segment ending just before `end` (which points at a '/' or
 * the string's end): returns its start, never before `min`. */
static const char *seg_before(const char *min, const char *end)
{
	const char *p = end;
	while (p > min && p[-1] != '/')
		p--;
	return p;
}

static status_t match_kind(request *r, const char *url, route_kind *kind)
{
	size_t len = strnlen(url, URL_MAX + 1);
	const char *path, *end, *last, *prev, *prev2;

	if (len > URL_MAX)
		return ST_NOT_ROUTE;
	if (strcmp(url, "/token") == 0) {
		*kind = R_TOKEN;
		return ST_OK;
	}
	if (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 ||
	    strcmp(url, "/readyz") == 0) {
		*kind = url[1] == 'm' ? R_METRICS : url[1] == 'h' ? R_HEALTHZ : R_READYZ;
		return ST_OK;
	}
	if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0 || strncmp(url, "/ui/", 4) == 0) {
		*kind = R_UI;
		return ST_OK;
	}
	if (strncmp(url, "/v2", 3) != 0)
		return ST_NOT_ROUTE;
	if (strcmp(url, "/v2/") == 0 || strcmp(url, "/v2") == 0) {
		*kind = R_BASE;
		return ST_OK;
	}
	if (strcmp(url, "/v2/_catalog") == 0) {
		*kind = R_CATALOG;
		return ST_OK;
	}
	if (strncmp(url, ADMIN_REPOS, strlen(ADMIN_REPOS)) == 0) {
		*kind = R_ADMIN_REPO;
		return set_name(r, url + strlen(ADMIN_REPOS), len - strlen(ADMIN_REPOS));
	}
	if (url[3] != '/')
		return ST_NOT_ROUTE;
	path = url + 4;
	end = url + len;
	/* last segment [last, end), and the two before it */
	last = seg_before(path, end);
	if (last == path)
		return ST_NOT_ROUTE;
	prev = seg_before(path, last - 1);
	if (prev == path && last - 1 == path)
		return ST_NOT_ROUTE;

	if (prev > path && seg_is(last, end, "list") && seg_is(prev, last - 1, "tags")) {
		*kind = R_TAGS;
		return set_name(r, path, (size_t)(prev - 1 - path));
	}
	if (prev > path && seg_is(prev, last - 1, "manifests")) {
		*kind = R_MANIFEST;
		set_ref(r, last, (size_t)(end - last));
		return set_name(r, path, (size_t)(prev - 1 - path));
	}
	if (prev > path && seg_is(prev, last - 1, "referrers")) {
		*kind = R_REFERRERS;
		set_ref(r, last, (size_t)(end - last));
		return set_name(r, path, (size_t)(prev - 1 - path));
	}
	if (prev > path && seg_is(prev, last - 1, "uploads")) {
		prev2 = seg_before(path, prev - 1);
		if (prev2 > path && seg_is(prev2, prev - 1, "blobs")) {
			*kind = last == end ? R_UPLOAD_START : R_UPLOAD;
			set_ref(r, last, (size_t)(end - last));
			return set_name(r, path, (size_t)(prev2 - 1 - path));
		}
	}
	if (prev > path && seg_is(prev, last - 1, "blobs")) {
		if (seg_is(last, end, "uploads"))
			*kind = R_UPLOAD_START;
		else
			*kind = R_BLOB;
		set_ref(r, last, (size_t)(end - last));
		if (*kind == R_UPLOAD_START)
			r->ref[0] = '\0';
		return set_name(r, path, (size_t)(prev - 1 - path));
	}
	return ST_NOT_ROUTE;
}

status_t routes_match(request *r, const char *url)
{
	route_kind kind = R_BASE;
	status_t st = match_kind(r, url, &kind);

	if (st != ST_OK && st != ST_NAME_INVALID)
		return st;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (routes[i].kind != kind)
			continue;
		r->route = &routes[i];
		if (!(routes[i].methods & r->method))
			return ST_METHOD_NOT_ALLOWED;
		return st;
	}
	return ST_NOT_ROUTE;
}
