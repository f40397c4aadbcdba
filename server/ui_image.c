/*
 * ui_image.c - one image (/ui/image?name=&ref=): a manifest or an index
 * (each platform a row linking to its manifest), the config (created,
 * entrypoint, cmd, env, labels, exposed ports, the history with each
 * layer's command), the layers, the referrers as a tree (signatures,
 * SBOMs, attestations: what refers to what, by artifact type) and the raw
 * manifest.
 *
 * Everything shown here was written by whoever pushed: every string goes
 * through ui_esc, and a URL is built only from the repository's name and
 * a digest that passed digest_parse, percent-encoded. A manifest or config
 * that is not JSON shows its raw bytes only.
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server.h"

#define UI_CONFIG_MAX (4u * 1024 * 1024) /* a config read to be shown */
#define UI_REFERRERS_DEPTH 4		 /* referrers of referrers ... shown this deep */
#define UI_REFERRERS_MAX 200		 /* per subject */

/* A JSON value as text: a string as it is, anything else as compact JSON. */
static void json_text(ui_html *h, json_t *v)
{
	char *s;

	if (v == NULL)
		return;
	if (json_is_string(v)) {
		ui_escn(h, json_string_value(v), json_string_length(v));
		return;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
		ui_esc(h, s);
		free(s);
	}
}

/* An image link for digest d of name, if d is a digest (else just text). */
static void image_link(ui_html *h, const char *name, const char *d, const char *text)
{
	if (d == NULL || digest_parse(d, NULL) != ST_OK) {
		ui_esc(h, text);
		return;
	}
	ui_put(h, "<a href=\"/ui/image?name=");
	ui_url(h, name);
	ui_put(h, "&amp;ref=");
	ui_url(h, d);
	ui_put(h, "\">");
	ui_esc(h, text);
	ui_put(h, "</a>");
}

static void size_cell(ui_html *h, json_t *v)
{
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;

	ui_putf(h, "<td class=\"size\" data-bytes=\"%lld\">", (long long)(n > 0 ? n : 0));
	ui_size(h, n > 0 ? (uint64_t)n : 0);
	ui_put(h, "</td>");
}

/* An object's keys and values as a <dl> (labels, annotations). */
static void object_dl(ui_html *h, const char *cls, json_t *obj)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		ui_put(h, "<span class=\"none\">none</span>");
		return;
	}
	ui_putf(h, "<dl class=\"%s\">", cls);
	json_object_foreach(obj, k, v)
	{
		ui_put(h, "<dt>");
		ui_esc(h, k);
		ui_put(h, "</dt><dd>");
		json_text(h, v);
		ui_put(h, "</dd>");
	}
	ui_put(h, "</dl>");
}

/* ---- an index ---- */

static void platforms_section(ui_html *h, const char *name, json_t *list)
{
	size_t i;
	json_t *e;

	ui_put(h, "<section id=\"platforms\"><h2>Platforms</h2><table><thead><tr><th>Platform"
		  "</th><th>Digest</th><th>Size</th><th>Media type</th></tr></thead><tbody>\n");
	json_array_foreach(list, i, e)
	{
		json_t *p = json_object_get(e, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *variant = json_string_value(json_object_get(p, "variant"));
		const char *d = json_string_value(json_object_get(e, "digest"));
		char plat[512];

		snprintf(plat, sizeof(plat), "%s/%s%s%s", os ? os : "unknown",
			 arch ? arch : "unknown", variant ? "/" : "", variant ? variant : "");
		ui_put(h, "<tr data-platform=\"");
		ui_esc(h, plat);
		ui_put(h, "\" data-digest=\"");
		ui_esc(h, d);
		ui_put(h, "\"><td class=\"platform\">");
		image_link(h, name, d, plat);
		ui_put(h, "</td><td class=\"digest\"><code>");
		ui_esc(h, d);
		ui_put(h, "</code></td>");
		size_cell(h, json_object_get(e, "size"));
		ui_put(h, "<td class=\"media-type\">");
		json_text(h, json_object_get(e, "mediaType"));
		ui_put(h, "</td></tr>\n");
	}
	ui_put(h, "</tbody></table></section>\n");
}

/* ---- an image: config and layers ---- */

static void dl_item(ui_html *h, const char *cls, const char *label, json_t *v)
{
	ui_putf(h, "<dt>%s</dt><dd class=\"%s\">", label, cls);
	if (v == NULL || json_is_null(v))
		ui_put(h, "<span class=\"none\">none</span>");
	else if (json_is_string(v))
		json_text(h, v);
	else {
		ui_put(h, "<code>");
		json_text(h, v);
		ui_put(h, "</code>");
	}
	ui_put(h, "</dd>");
}

static void config_section(ui_ctx *x, core_req *q, json_t *man)
{
	ui_html *h = &x->h;
	const char *cd =
	    json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
	char *body = NULL;
	size_t len = 0, i;
	json_t *cfg = NULL, *c, *env, *ports, *hist, *e;
	const char *k;
	status_t st;

	ui_put(h, "<section id=\"config\"><h2>Config</h2>");
	st = core_browse_blob(x->r->srv->core, q, cd, UI_CONFIG_MAX, &body, &len);
	if (st != ST_OK || (cfg = json_loadb(body, len, 0, NULL)) == NULL || !json_is_object(cfg)) {
		ui_put(h, "<p class=\"none\">");
		ui_put(h, st == ST_OK	       ? "The config is not a JSON object."
			  : st == ST_TOO_LARGE ? "The config is too large to show."
					       : "The config is not stored here.");
		ui_put(h, "</p></section>\n");
		goto done;
	}
	c = json_object_get(cfg, "config");
	ui_put(h, "<dl>");
	dl_item(h, "created", "Created", json_object_get(cfg, "created"));
	dl_item(h, "author", "Author", json_object_get(cfg, "author"));
	dl_item(h, "os", "OS", json_object_get(cfg, "os"));
	dl_item(h, "architecture", "Architecture", json_object_get(cfg, "architecture"));
	dl_item(h, "entrypoint", "Entrypoint", json_object_get(c, "Entrypoint"));
	dl_item(h, "cmd", "Cmd", json_object_get(c, "Cmd"));
	dl_item(h, "workdir", "Working dir", json_object_get(c, "WorkingDir"));
	dl_item(h, "user", "User", json_object_get(c, "User"));
	ui_put(h, "<dt>Env</dt><dd class=\"env\">");
	if (json_is_array(env = json_object_get(c, "Env")) && json_array_size(env) > 0) {
		ui_put(h, "<ul>");
		json_array_foreach(env, i, e)
		{
			ui_put(h, "<li><code>");
			json_text(h, e);
			ui_put(h, "</code></li>");
		}
		ui_put(h, "</ul>");
	} else {
		ui_put(h, "<span class=\"none\">none</span>");
	}
	ui_put(h, "</dd><dt>Labels</dt><dd class=\"labels\">");
	object_dl(h, "labels", json_object_get(c, "Labels"));
	ui_put(h, "</dd><dt>Exposed ports</dt><dd class=\"ports\">");
	if (json_is_object(ports = json_object_get(c, "ExposedPorts")) &&
	    json_object_size(ports) > 0) {
		json_object_foreach(ports, k, e)
		{
			ui_put(h, "<code class=\"port\">");
			ui_esc(h, k);
			ui_put(h, "</code> ");
		}
	} else {
		ui_put(h, "<span class=\"none\">none</span>");
	}
	ui_put(h, "</dd></dl>\n<h3>History</h3><table id=\"history\"><thead><tr><th>Created</th>"
		  "<th>Command</th><th>Layer</th></tr></thead><tbody>\n");
	if (json_is_array(hist = json_object_get(cfg, "history")))
		json_array_foreach(hist, i, e)
		{
			ui_put(h, "<tr><td class=\"created\">");
			json_text(h, json_object_get(e, "created"));
			ui_put(h, "</td><td class=\"created_by\"><code>");
			json_text(h, json_object_get(e, "created_by"));
			ui_put(h, "</code>");
			if (json_object_get(e, "comment") != NULL) {
				ui_put(h, " <span class=\"comment\">");
				json_text(h, json_object_get(e, "comment"));
				ui_put(h, "</span>");
			}
			ui_put(h, "</td><td class=\"empty\">");
			ui_put(h,
			       json_is_true(json_object_get(e, "empty_layer")) ? "empty" : "layer");
			ui_put(h, "</td></tr>\n");
		}
	ui_put(h, "</tbody></table></section>\n");
done:
	json_decref(cfg);
	free(body);
}

static void layers_section(ui_html *h, json_t *man)
{
	json_t *layers = json_object_get(man, "layers"), *e;
	json_int_t total = 0;
	size_t i;

	ui_put(h, "<section id=\"layers\"><h2>Layers</h2><table><thead><tr><th>Digest</th>"
		  "<th>Size</th><th>Media type</th></tr></thead><tbody>\n");
	json_array_foreach(layers, i, e)
	{
		json_t *sz = json_object_get(e, "size");

		if (json_is_integer(sz) && json_integer_value(sz) > 0)
			total += json_integer_value(sz);
		ui_put(h, "<tr data-digest=\"");
		json_text(h, json_object_get(e, "digest"));
		ui_put(h, "\"><td class=\"digest\"><code>");
		json_text(h, json_object_get(e, "digest"));
		ui_put(h, "</code></td>");
		size_cell(h, sz);
		ui_put(h, "<td class=\"media-type\">");
		json_text(h, json_object_get(e, "mediaType"));
		ui_put(h, "</td></tr>\n");
	}
	ui_putf(h,
		"</tbody></table><p class=\"total\" data-bytes=\"%lld\">Total: ", (long long)total);
	ui_size(h, (uint64_t)total);
	ui_put(h, "</p></section>\n");
}

/* ---- referrers ---- */

typedef struct {
	char digest[DIGEST_MAX];
	char artifact_type[256];
	uint64_t size;
} ref_item;

typedef struct {
	ref_item *v;
	size_t n;
} ref_list;

static int ref_collect(void *arg, const core_referrer *r)
{
	ref_list *l = arg;
	ref_item *it;

	if (l->n == UI_REFERRERS_MAX)
		return 1;
	it = &l->v[l->n++];
	snprintf(it->digest, sizeof(it->digest), "%s", r->digest);
	snprintf(it->artifact_type, sizeof(it->artifact_type), "%s",
		 r->artifact_type[0] ? r->artifact_type : r->media_type);
	it->size = r->size;
	return 0;
}

/* Grouped by artifact type (signatures together, SBOMs together...). */
static int ref_cmp(const void *a, const void *b)
{
	const ref_item *x = a, *y = b;
	int c = strcmp(x->artifact_type, y->artifact_type);

	return c ? c : strcmp(x->digest, y->digest);
}

/* The referrers of subject, and theirs, as nested lists (collected before
 * each level is written: a query's callback may not query again). */
static void referrers_tree(ui_ctx *x, core_req *q, const char *name, const char *subject, int depth)
{
	ui_html *h = &x->h;
	ref_list l = {calloc(UI_REFERRERS_MAX, sizeof(ref_item)), 0};

	if (l.v == NULL) {
		h->failed = true;
		return;
	}
	if (core_referrers(x->r->srv->core, q, subject, NULL, ref_collect, &l) != ST_OK ||
	    l.n == 0) {
		if (depth == 0)
			ui_put(h, "<p class=\"none\">None.</p>");
		free(l.v);
		return;
	}
	qsort(l.v, l.n, sizeof(*l.v), ref_cmp);
	ui_put(h, "<ul class=\"referrers\">");
	for (size_t i = 0; i < l.n; i++) {
		ui_put(h, "<li data-artifact-type=\"");
		ui_esc(h, l.v[i].artifact_type);
		ui_put(h, "\" data-digest=\"");
		ui_esc(h, l.v[i].digest);
		ui_put(h, "\"><span class=\"artifact-type\">");
		ui_esc(h, l.v[i].artifact_type);
		ui_put(h, "</span> ");
		image_link(h, name, l.v[i].digest, l.v[i].digest);
		ui_put(h, " ");
		ui_size(h, l.v[i].size);
		if (depth + 1 < UI_REFERRERS_DEPTH)
			referrers_tree(x, q, name, l.v[i].digest, depth + 1);
		ui_put(h, "</li>");
	}
	ui_put(h, "</ul>");
	free(l.v);
}

/* ---- the page ---- */

enum MHD_Result ui_image_page(ui_ctx *x)
{
	request *r = x->r;
	const char *ref = request_arg(r, "ref"), *name;
	core_browse_manifest m;
	json_t *man = NULL, *list;
	core_req *q = NULL;
	ui_html *h = &x->h;
	enum MHD_Result ret;
	status_t st;

	if (ui_open_repo(x, &q) != ST_OK || ref == NULL ||
	    (st = core_browse_manifest_get(r->srv->core, q, ref, &m)) == ST_MANIFEST_UNKNOWN ||
	    st == ST_NAME_UNKNOWN) {
		core_req_free(q);
		return ui_reply_message(x, 404, "Not found", "There is no such image.");
	}
	if (st != ST_OK) {
		core_req_free(q);
		return ui_reply_message(x, 500, "Error", status_str(st));
	}
	name = core_req_name(q);
	man = json_loadb(m.body, m.len, 0, NULL);
	ui_page_begin(x, name);
	ui_put(h, "<h1 id=\"image\"><a href=\"/ui/repo?name=");
	ui_url(h, name);
	ui_put(h, "\">");
	ui_esc(h, name);
	ui_put(h, "</a> : ");
	ui_esc(h, ref);
	ui_put(h, "</h1>\n<dl class=\"manifest\"><dt>Digest</dt><dd class=\"digest\"><code>");
	ui_esc(h, m.digest);
	ui_put(h, "</code></dd><dt>Media type</dt><dd class=\"media-type\">");
	ui_esc(h, m.media_type);
	if (m.artifact_type[0]) {
		ui_put(h, "</dd><dt>Artifact type</dt><dd class=\"artifact-type\">");
		ui_esc(h, m.artifact_type);
	}
	ui_putf(h, "</dd><dt>Size</dt><dd class=\"size\" data-bytes=\"%llu\">",
		(unsigned long long)m.size);
	ui_size(h, m.size);
	ui_put(h, "</dd><dt>Pushed</dt><dd class=\"pushed\">");
	ui_time(h, m.pushed);
	ui_put(h, " by <span class=\"by\">");
	ui_esc(h, m.pushed_by[0] ? m.pushed_by : "anonymous");
	ui_putf(h, "</span></dd><dt>Pulls</dt><dd class=\"pulls\">%llu</dd>",
		(unsigned long long)m.pulls);
	ui_put(h, "<dt>Last pull</dt><dd class=\"pulled\">");
	ui_time(h, m.last_pull);
	ui_put(h, "</dd><dt>Annotations</dt><dd class=\"annotations\">");
	object_dl(h, "annotations", json_object_get(man, "annotations"));
	ui_put(h, "</dd></dl>\n");
	ui_delete_form(x, q, name, m.digest, "Delete this manifest (and its tags)");
	if (json_is_array(list = json_object_get(man, "manifests"))) {
		platforms_section(h, name, list);
	} else if (json_is_object(man)) {
		config_section(x, q, man);
		layers_section(h, man);
	}
	ui_put(h, "<section id=\"referrers\"><h2>Referrers</h2>");
	referrers_tree(x, q, name, m.digest, 0);
	ui_put(h, "</section>\n<section id=\"raw\"><h2>Manifest</h2><pre>");
	ui_escn(h, m.body, m.len);
	ui_put(h, "</pre></section>\n");
	ui_page_end(x);
	ret = ui_reply(x, 200);
	json_decref(man);
	core_browse_free(&m);
	core_req_free(q);
	return ret;
}
