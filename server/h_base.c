/*
 * h_base.c - the version check (/v2/), the catalog and tag lists.
 *
 * Lists are keyset-paginated index queries (`n` and `last`), with a Link
 * header pointing at the next page when there is one. Names and tags are
 * grammar-checked on the way in, so they need no JSON escaping on the way
 * out and the lists are written straight into one buffer. With access
 * control on, the catalog lists only the repositories the caller may pull.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

#define LIST_MAX_N 100000 /* largest page served; a larger n is clamped */

status_t base_begin(request *r)
{
	return ST_OK;
}

enum MHD_Result base_finish(request *r)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
	r->out_bytes = 2;
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	return reply_send(r, resp, 200);
}

typedef struct {
	char *buf;
	size_t len, cap;
	int count;
	int failed;
	char last[REF_NAME_MAX];
} list_out;

static int list_reserve(list_out *l, size_t extra)
{
	size_t cap = l->cap;
	char *p;

	if (l->len + extra <= l->cap)
		return 0;
	while (cap < l->len + extra)
		cap *= 2;
	if ((p = realloc(l->buf, cap)) == NULL) {
		l->failed = 1;
		return 1;
	}
	l->buf = p;
	l->cap = cap;
	return 0;
}

static int list_add(list_out *l, const char *s)
{
	size_t n = strlen(s);

	if (list_reserve(l, n + 3) != 0)
		return 1;
	if (l->count++ > 0)
		l->buf[l->len++] = ',';
	l->buf[l->len++] = '"';
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len++] = '"';
	snprintf(l->last, sizeof(l->last), "%s", s);
	return 0;
}

static int list_cb(void *arg, const char *s)
{
	return list_add(arg, s);
}

/* The catalog with access control: only what the caller may pull. */
static bool catalog_visible(void *arg, const char *name)
{
	return request_allowed(arg, "pull", name);
}

/* Reads `n`: ST_OK with *out (-1 when absent), or ST_INVALID. */
static status_t parse_n(request *r, int *out)
{
	const char *s = request_arg(r, "n");
	long v = 0;

	*out = -1;
	if (s == NULL || *s == '\0')
		return ST_OK;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return ST_INVALID;
		v = v * 10 + (*p - '0');
		if (v > LIST_MAX_N)
			v = LIST_MAX_N;
	}
	*out = (int)v;
	return ST_OK;
}

/* Runs a list query and replies with {"<key>":[...]} (plus "name" for tags). */
static enum MHD_Result reply_list(request *r, int is_tags)
{
	list_out l = {0};
	const char *last = request_arg(r, "last");
	struct MHD_Response *resp;
	bool more = false;
	status_t st;
	int n;

	if (parse_n(r, &n) != ST_OK)
		return reply_error(r, ST_INVALID, "n must be a non-negative integer");
	l.cap = 4096;
	if ((l.buf = malloc(l.cap)) == NULL)
		return MHD_NO;
	if (is_tags)
		l.len = (size_t)snprintf(l.buf, l.cap, "{\"name\":\"%s\",\"tags\":[",
					 core_req_asked(r->q));
	else
		l.len = (size_t)snprintf(l.buf, l.cap, "{\"repositories\":[");
	if (is_tags)
		st = core_tags(r->srv->core, r->q, last, n, list_cb, &l, &more);
	else
		st = core_catalog(r->srv->core, last, n, r->srv->auth ? catalog_visible : NULL, r,
				  list_cb, &l, &more);
	if (st == ST_BUSY) {
		free(l.buf); /* waiting for an upstream: called again when resumed */
		return MHD_YES;
	}
	if (st == ST_OK && l.failed)
		st = ST_NOMEM;
	if (st != ST_OK) {
		free(l.buf);
		return reply_core_error(r, st);
	}
	if (list_reserve(&l, 2) != 0) {
		free(l.buf);
		return MHD_NO;
	}
	memcpy(l.buf + l.len, "]}", 2);
	l.len += 2;
	resp = reply_buffer(r, l.buf, l.len);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (more && is_tags)
		reply_header(resp, "Link", "</v2/%s/tags/list?n=%d&last=%s>; rel=\"next\"",
			     core_req_asked(r->q), n < 0 ? CORE_LIST_MAX : n, l.last);
	else if (more)
		reply_header(resp, "Link", "</v2/_catalog?n=%d&last=%s>; rel=\"next\"", n, l.last);
	return reply_send(r, resp, 200);
}

enum MHD_Result catalog_finish(request *r)
{
	return reply_list(r, 0);
}

enum MHD_Result tags_finish(request *r)
{
	return reply_list(r, 1);
}
