/*
 * ui_admin.c - the storage page (/ui/storage: usage per repository and
 * namespace, quotas with their use, the last garbage collection) and the
 * mirror page (/ui/mirror: each upstream, reachable or not, what its cache
 * holds, hits and misses).
 *
 * A total must not tell of names the caller may not pull: a repository
 * row appears only when visible; a namespace row only when every
 * repository in it is; a quota's or an upstream's use counts only visible
 * repositories, and says so when it left some out.
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ---- /ui/storage ---- */

typedef struct {
	ui_ctx *x;
	char (*hidden)[REF_NAME_MAX]; /* namespaces holding a repository not shown */
	size_t nhidden, cap;
	size_t rows;
} usage_out;

static void usage_cells(ui_html *h, const core_du_row *r)
{
	ui_putf(h, "<td class=\"size\" data-bytes=\"%llu\">", (unsigned long long)r->referenced);
	ui_size(h, r->referenced);
	ui_putf(h, "</td><td class=\"unique\" data-bytes=\"%llu\">", (unsigned long long)r->unique);
	ui_size(h, r->unique);
	ui_putf(h, "</td><td class=\"tags\">%llu</td><td class=\"pulls\">%llu</td>",
		(unsigned long long)r->tags, (unsigned long long)r->pulls);
	ui_put(h, "<td class=\"pushed\">");
	ui_time(h, r->last_push);
	ui_put(h, "</td><td class=\"pulled\">");
	ui_time(h, r->last_pull);
	ui_put(h, "</td></tr>\n");
}

static bool ns_hidden(const usage_out *o, const char *ns)
{
	for (size_t i = 0; i < o->nhidden; i++)
		if (strcmp(o->hidden[i], ns) == 0)
			return true;
	return false;
}

static void usage_repo(void *arg, const core_du_row *r)
{
	usage_out *o = arg;
	ui_html *h = &o->x->h;
	size_t n = strcspn(r->name, "/");
	char ns[REF_NAME_MAX];

	if (!ui_visible(o->x->r, r->name)) {
		snprintf(ns, sizeof(ns), "%.*s", (int)n, r->name);
		if (r->name[n] != '/' || ns_hidden(o, ns))
			return;
		if (o->nhidden == o->cap) {
			size_t cap = o->cap ? o->cap * 2 : 8;
			void *p = realloc(o->hidden, cap * sizeof(*o->hidden));
			if (p == NULL) {
				h->failed = true;
				return;
			}
			o->hidden = p;
			o->cap = cap;
		}
		snprintf(o->hidden[o->nhidden++], REF_NAME_MAX, "%s", ns);
		return;
	}
	ui_repo_cell(h, r->name);
	usage_cells(h, r);
	o->rows++;
}

static void usage_ns(void *arg, const core_du_row *r)
{
	usage_out *o = arg;
	ui_html *h = &o->x->h;

	if (ns_hidden(o, r->name))
		return;
	ui_put(h, "<tr data-namespace=\"");
	ui_esc(h, r->name);
	ui_put(h, "\"><td class=\"name\">");
	ui_esc(h, r->name);
	ui_put(h, "/ (namespace)</td>");
	usage_cells(h, r);
}

static void quota_row(void *arg, const core_quota_row *q)
{
	ui_html *h = arg;

	ui_put(h, "<tr data-pattern=\"");
	ui_esc(h, q->pattern);
	ui_put(h, "\"><td class=\"pattern\"><code>");
	ui_esc(h, q->pattern);
	ui_putf(h, "</code></td><td class=\"used\" data-bytes=\"%llu\">",
		(unsigned long long)q->used);
	ui_size(h, q->used);
	if (q->partial)
		ui_put(h, " <span class=\"partial\">(of the repositories you can see)</span>");
	ui_putf(h, "</td><td class=\"limit\" data-bytes=\"%llu\">", (unsigned long long)q->limit);
	ui_size(h, q->limit);
	ui_putf(h, "</td><td class=\"percent\">%.0f%%</td></tr>\n",
		q->limit ? 100.0 * (double)q->used / (double)q->limit : 0.0);
}

enum MHD_Result ui_storage_page(ui_ctx *x)
{
	request *r = x->r;
	core *c = r->srv->core;
	ui_html *h = &x->h;
	usage_out o = {x, NULL, 0, 0, 0};
	core_gc_report gc;
	int64_t when;
	status_t st;

	ui_page_begin(x, "Storage");
	ui_put(h, "<h1>Storage</h1><h2>Usage</h2><table id=\"usage\"><thead><tr><th>Repository"
		  "</th><th>Size</th><th>Unique</th><th>Tags</th><th>Pulls</th><th>Last push</th>"
		  "<th>Last pull</th></tr></thead><tbody>\n");
	st = core_du(c, NULL, usage_repo, usage_ns, &o);
	free(o.hidden);
	if (st != ST_OK)
		return ui_reply_message(x, 500, "Error", status_str(st));
	ui_put(h, "</tbody></table>\n<h2>Quotas</h2><table id=\"quotas\"><thead><tr><th>Pattern"
		  "</th><th>Used</th><th>Limit</th><th>Use</th></tr></thead><tbody>\n");
	if ((st = core_quotas(c, r->gen->auth ? ui_visible : NULL, r, quota_row, h)) != ST_OK)
		return ui_reply_message(x, 500, "Error", status_str(st));
	ui_put(h, "</tbody></table>\n<section id=\"gc\"><h2>Garbage collection</h2><p>");
	st = core_gc_last(c, &gc, &when);
	if (st == ST_OK) {
		ui_put(h, "Last run <span class=\"when\">");
		ui_time(h, when);
		ui_putf(h,
			"</span>: removed <span class=\"manifests\">%zu</span> manifest(s), "
			"<span class=\"links\">%zu</span> link(s), <span class=\"blobs\">%zu"
			"</span> blob(s), <span class=\"orphans\">%zu</span> orphan file(s), "
			"freed <span class=\"freed\" data-bytes=\"%llu\">",
			gc.manifests, gc.links, gc.blobs, gc.orphans, (unsigned long long)gc.bytes);
		ui_size(h, gc.bytes);
		ui_put(h, "</span>.");
	} else {
		ui_put(h, "<span class=\"when\">never</span>");
	}
	ui_put(h, "</p></section>\n");
	ui_page_end(x);
	return ui_reply(x, 200);
}

/* ---- /ui/mirror ---- */

enum MHD_Result ui_mirror_page(ui_ctx *x)
{
	request *r = x->r;
	core *c = r->srv->core;
	ui_html *h = &x->h;
	size_t n = core_upstream_count(c);
	core_upstream_stats s;
	char pattern[CORE_UPSTREAM_NAME_MAX + 8];
	uint64_t cached;
	bool partial;

	ui_page_begin(x, "Mirror");
	ui_put(h, "<h1>Mirror</h1><table id=\"upstreams\"><thead><tr><th>Upstream</th>"
		  "<th>Reachable</th><th>Cached</th><th>Hits</th><th>Misses</th><th>Hit rate</th>"
		  "<th>Fetched</th><th>Errors</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		if (core_upstream_stats_get(c, i, &s) != ST_OK)
			continue;
		snprintf(pattern, sizeof(pattern), "%s/**", s.name);
		if (core_usage_of(c, pattern, r->gen->auth ? ui_visible : NULL, r, &cached,
				  &partial) != ST_OK)
			cached = 0;
		ui_put(h, "<tr data-upstream=\"");
		ui_esc(h, s.name);
		ui_put(h, "\"><td class=\"name\">");
		ui_esc(h, s.name);
		ui_putf(h,
			"</td><td class=\"reachable\">%s</td><td class=\"cached\" "
			"data-bytes=\"%llu\">",
			s.reachable ? "yes" : "no", (unsigned long long)cached);
		ui_size(h, cached);
		if (partial)
			ui_put(h,
			       " <span class=\"partial\">(of the repositories you can see)</span>");
		ui_putf(h, "</td><td class=\"hits\">%llu</td><td class=\"misses\">%llu</td>",
			(unsigned long long)s.hits, (unsigned long long)s.misses);
		ui_putf(h, "<td class=\"hit-rate\">%.0f%%</td>",
			s.hits + s.misses ? 100.0 * (double)s.hits / (double)(s.hits + s.misses)
					  : 0.0);
		ui_putf(h, "<td class=\"fetched\" data-bytes=\"%llu\">",
			(unsigned long long)s.bytes);
		ui_size(h, s.bytes);
		ui_putf(h, "</td><td class=\"errors\">%llu</td></tr>\n",
			(unsigned long long)s.errors);
	}
	ui_put(h, "</tbody></table>\n");
	if (n == 0)
		ui_put(h, "<p class=\"empty\">No upstreams are configured.</p>");
	ui_page_end(x);
	return ui_reply(x, 200);
}
