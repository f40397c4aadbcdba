/*
 * ui_repos.c - the repository list (/ui/) and one repository's tags
 * (/ui/repo), keyset-paginated: a page is a range of an index after its
 * cursor, so the 200th page costs what the first does (core/browse.c).
 * Only names the caller may pull are listed or counted; a repository it
 * may not pull answers the same 404 page as one that does not exist.
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ?n=: rows per page, 1..CORE_BROWSE_PAGE_MAX, else UI_PAGE_ROWS. */
static int page_rows(request *r)
{
	const char *s = request_arg(r, "n");
	long v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 4)
		return UI_PAGE_ROWS;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return UI_PAGE_ROWS;
		v = v * 10 + (*p - '0');
	}
	return v >= 1 && v <= CORE_BROWSE_PAGE_MAX ? (int)v : UI_PAGE_ROWS;
}

/* ---- /ui/ ---- */

typedef struct {
	ui_html *h;
	char last[REF_NAME_MAX];
	size_t rows;
} repos_out;

static int repo_row(void *arg, const core_repo_row *r)
{
	repos_out *o = arg;
	ui_html *h = o->h;

	ui_repo_cell(h, r->name);
	ui_putf(h, "<td class=\"tags\">%llu</td><td class=\"size\" data-bytes=\"%llu\">",
		(unsigned long long)r->tags, (unsigned long long)r->bytes);
	ui_size(h, r->bytes);
	ui_put(h, "</td><td class=\"pushed\">");
	ui_time(h, r->last_push);
	ui_put(h, "</td><td class=\"pulled\">");
	ui_time(h, r->last_pull);
	ui_put(h, "</td></tr>\n");
	snprintf(o->last, sizeof(o->last), "%s", r->name);
	o->rows++;
	return 0;
}

enum MHD_Result ui_repos_page(ui_ctx *x)
{
	request *r = x->r;
	const char *q = request_arg(r, "q"), *after = request_arg(r, "after");
	repos_out o = {&x->h, "", 0};
	int n = page_rows(r);
	bool more = false;
	status_t st;

	if (q != NULL && strlen(q) >= REF_NAME_MAX)
		q = NULL;
	if (after != NULL && strlen(after) >= REF_NAME_MAX)
		after = NULL;
	ui_page_begin(x, "Repositories");
	ui_put(&x->h, "<h1>Repositories</h1><form id=\"search\" method=\"get\" action=\"/ui/\">"
		      "<input name=\"q\" placeholder=\"search by name\" value=\"");
	ui_esc(&x->h, q);
	ui_put(&x->h, "\"> <button>Search</button></form>\n<table id=\"repos\"><thead><tr>"
		      "<th>Repository</th><th>Tags</th><th>Size</th><th>Last push</th>"
		      "<th>Last pull</th></tr></thead><tbody>\n");
	st = core_repos_page(r->srv->core, q, after, n, r->gen->auth ? ui_visible : NULL, r,
			     repo_row, &o, &more);
	if (st != ST_OK)
		return ui_reply_message(x, 500, "Error", status_str(st));
	ui_put(&x->h, "</tbody></table>\n");
	if (o.rows == 0)
		ui_put(&x->h, "<p class=\"empty\">No repositories.</p>");
	if (more) {
		ui_put(&x->h, "<a id=\"next\" href=\"/ui/?q=");
		ui_url(&x->h, q ? q : "");
		ui_put(&x->h, "&amp;after=");
		ui_url(&x->h, o.last);
		if (n != UI_PAGE_ROWS)
			ui_putf(&x->h, "&amp;n=%d", n);
		ui_put(&x->h, "\">Next page</a>");
	}
	ui_page_end(x);
	return ui_reply(x, 200);
}

/* ---- /ui/repo ---- */

status_t ui_open_repo(ui_ctx *x, core_req **out)
{
	request *r = x->r;
	const char *name = request_arg(r, "name");
	core_req *q = NULL;

	*out = NULL;
	if (name == NULL || strlen(name) >= REF_NAME_MAX || ref_name_check(name) != ST_OK ||
	    core_req_open(r->srv->core, name, request_arg(r, "ns"), NULL, &q) != ST_OK ||
	    !request_allowed(r, "pull", core_req_name(q))) {
		core_req_free(q);
		return ST_NOT_FOUND;
	}
	*out = q;
	return ST_OK;
}

typedef struct {
	ui_ctx *x;
	const core_req *q;
	const char *name; /* the repository, as the rules see it */
	const char *host;
	core_tag_sort sort;
	char cursor[CORE_TAG_CURSOR_MAX];
	size_t rows;
} tags_out;

static void pull_cmd(ui_html *h, const char *client, const char *host, const char *name,
		     const char *tag)
{
	ui_put(h, "<code class=\"pull-cmd\" data-client=\"");
	ui_put(h, client);
	ui_put(h, "\">");
	ui_put(h, client);
	ui_put(h, " pull ");
	ui_esc(h, host);
	ui_put(h, "/");
	ui_esc(h, name);
	ui_put(h, ":");
	ui_esc(h, tag);
	ui_put(h, "</code>");
}

static int tag_row(void *arg, const core_tag_row *t)
{
	tags_out *o = arg;
	ui_html *h = &o->x->h;

	ui_put(h, "<tr data-tag=\"");
	ui_esc(h, t->tag);
	ui_put(h, "\" data-digest=\"");
	ui_esc(h, t->digest);
	ui_put(h, "\"><td class=\"tag\"><a href=\"/ui/image?name=");
	ui_url(h, o->name);
	ui_put(h, "&amp;ref=");
	ui_url(h, t->tag);
	ui_put(h, "\">");
	ui_esc(h, t->tag);
	ui_put(h, "</a></td><td class=\"digest\"><a href=\"/ui/image?name=");
	ui_url(h, o->name);
	ui_put(h, "&amp;ref=");
	ui_url(h, t->digest);
	ui_put(h, "\"><code title=\"");
	ui_esc(h, t->digest);
	ui_put(h, "\">");
	ui_escn(h, t->digest, strlen(t->digest) > 19 ? 19 : strlen(t->digest));
	ui_putf(h, "</code></a></td><td class=\"size\" data-bytes=\"%llu\">",
		(unsigned long long)t->size);
	ui_size(h, t->size);
	ui_put(h, "</td><td class=\"platforms\">");
	ui_esc(h, t->platforms);
	ui_put(h, "</td><td class=\"pushed\">");
	ui_time(h, t->pushed);
	ui_put(h, " by <span class=\"by\">");
	ui_esc(h, t->pushed_by[0] ? t->pushed_by : "anonymous");
	ui_put(h, "</span></td><td class=\"pulled\">");
	ui_time(h, t->last_pull);
	ui_putf(h, "</td><td class=\"pulls\">%llu</td><td class=\"pull\">",
		(unsigned long long)t->pulls);
	pull_cmd(h, "docker", o->host, o->name, t->tag);
	pull_cmd(h, "podman", o->host, o->name, t->tag);
	ui_put(h, "</td><td class=\"actions\">");
	if (t->immutable != NULL) {
		ui_put(h, "<span class=\"immutable\" title=\"");
		ui_esc(h, t->immutable);
		ui_put(h, "\">immutable: ");
		ui_esc(h, t->immutable);
		ui_put(h, "</span>");
	} else {
		ui_delete_form(o->x, o->q, o->name, t->tag, "Delete tag");
	}
	ui_put(h, "</td></tr>\n");
	core_tag_cursor(o->sort, t, o->cursor);
	o->rows++;
	return 0;
}

static void sort_link(ui_html *h, const char *name, const char *sort, const char *label,
		      bool current)
{
	ui_putf(h, "<a id=\"sort-%s\" href=\"/ui/repo?name=", sort);
	ui_url(h, name);
	ui_putf(h, "&amp;sort=%s\"%s>%s</a> ", sort, current ? " class=\"current\"" : "", label);
}

enum MHD_Result ui_repo_page(ui_ctx *x)
{
	request *r = x->r;
	const char *sort_s = request_arg(r, "sort"), *after = request_arg(r, "after");
	tags_out o = {x, NULL, NULL, ui_host(r), CORE_SORT_NAME, "", 0};
	core_repo_row sum;
	core_req *q = NULL;
	bool more = false;
	int n = page_rows(r);
	enum MHD_Result ret;
	status_t st;

	if (ui_open_repo(x, &q) != ST_OK ||
	    (st = core_repo_summary(r->srv->core, q, &sum)) == ST_NAME_UNKNOWN) {
		core_req_free(q);
		return ui_reply_message(x, 404, "Not found", "There is no such repository.");
	}
	if (st != ST_OK) {
		core_req_free(q);
		return ui_reply_message(x, 500, "Error", status_str(st));
	}
	o.q = q;
	o.name = core_req_name(q);
	if (sort_s != NULL && strcmp(sort_s, "pushed") == 0)
		o.sort = CORE_SORT_PUSHED;
	ui_page_begin(x, o.name);
	ui_put(&x->h, "<h1 id=\"repo\">");
	ui_esc(&x->h, o.name);
	ui_putf(&x->h, "</h1><p class=\"summary\"><span class=\"tags\">%llu</span> tags, ",
		(unsigned long long)sum.tags);
	ui_putf(&x->h, "<span class=\"size\" data-bytes=\"%llu\">", (unsigned long long)sum.bytes);
	ui_size(&x->h, sum.bytes);
	ui_put(&x->h, "</span>; last push ");
	ui_time(&x->h, sum.last_push);
	ui_put(&x->h, ", last pull ");
	ui_time(&x->h, sum.last_pull);
	ui_put(&x->h, ".</p><p class=\"sort\">Sort by ");
	sort_link(&x->h, o.name, "name", "name", o.sort == CORE_SORT_NAME);
	sort_link(&x->h, o.name, "pushed", "push time", o.sort == CORE_SORT_PUSHED);
	ui_put(&x->h, "</p>\n<table id=\"tags\"><thead><tr><th>Tag</th><th>Digest</th>"
		      "<th>Size</th><th>Platforms</th><th>Pushed</th><th>Last pull</th>"
		      "<th>Pulls</th><th>Pull</th><th></th></tr></thead><tbody>\n");
	st = core_tags_page(r->srv->core, q, o.sort, after, n, tag_row, &o, &more);
	if (st == ST_INVALID) {
		ret = ui_reply_message(x, 400, "Bad request", "That page cursor is not valid.");
		goto done;
	}
	if (st != ST_OK) {
		ret = ui_reply_message(x, st == ST_NAME_UNKNOWN ? 404 : 500,
				       st == ST_NAME_UNKNOWN ? "Not found" : "Error",
				       st == ST_NAME_UNKNOWN ? "There is no such repository."
							     : status_str(st));
		goto done;
	}
	ui_put(&x->h, "</tbody></table>\n");
	if (more) {
		ui_put(&x->h, "<a id=\"next\" href=\"/ui/repo?name=");
		ui_url(&x->h, o.name);
		ui_put(&x->h, o.sort == CORE_SORT_PUSHED ? "&amp;sort=pushed" : "&amp;sort=name");
		ui_put(&x->h, "&amp;after=");
		ui_url(&x->h, o.cursor);
		if (n != UI_PAGE_ROWS)
			ui_putf(&x->h, "&amp;n=%d", n);
		ui_put(&x->h, "\">Next page</a>");
	}
	ui_page_end(x);
	ret = ui_reply(x, 200);
done:
	core_req_free(q);
	return ret;
}
