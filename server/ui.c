/*
 * ui.c - the web UI's route: / (a redirect to /ui/), the static files
 * (one stylesheet, one small script for the copy buttons; the pages work
 * without it) and the dispatcher of the pages under /ui/ (see ui.h).
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ---- static files ---- */

static const char style_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}\n"
    "nav{background:#223;padding:.6em 1em;color:#eee}nav a{color:#fff;margin-right:1em}\n"
    "nav .who{float:right}nav form{display:inline}nav button{font-size:12px}\n"
    "main{padding:1em 2em;max-width:1200px}\n"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1em}\n"
    "th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;"
    "vertical-align:top;overflow-wrap:anywhere}\n"
    "th{background:#eef}td.size,td.tags,td.pulls{text-align:right;white-space:nowrap}\n"
    "code,pre{font:12px ui-monospace,monospace}pre{background:#fff;border:1px solid #ddd;"
    "padding:1em;overflow:auto;max-height:40em;white-space:pre-wrap;overflow-wrap:anywhere}\n"
    "code.pull-cmd{display:block;background:#f3f3f3;padding:.1em .3em}\n"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}\n"
    "dd{margin:0;overflow-wrap:anywhere}.error{color:#b00020}.immutable{color:#865}\n"
    "form.delete button,details summary{color:#b00020;cursor:pointer}\n"
    "#next{display:inline-block;margin:.5em 0}.copy{font-size:11px;margin-left:.5em}\n"
    "section{margin:1.5em 0}ul.referrers{list-style:square}\n";

static const char ui_js[] =
    "// Copy buttons beside the pull commands; the pages work without them.\n"
    "document.querySelectorAll('code.pull-cmd').forEach(function (c) {\n"
    "  var b = document.createElement('button');\n"
    "  b.className = 'copy'; b.type = 'button'; b.textContent = 'copy';\n"
    "  b.addEventListener('click', function () {\n"
    "    if (navigator.clipboard) navigator.clipboard.writeText(c.textContent);\n"
    "  });\n"
    "  c.insertAdjacentElement('afterend', b);\n"
    "});\n";

static enum MHD_Result static_file(ui_ctx *x, const char *body, size_t len, const char *type)
{
	char *copy = malloc(len);

	if (copy == NULL)
		return MHD_NO;
	memcpy(copy, body, len);
	return ui_send(x, copy, len, type, 200);
}

/* ---- the route ---- */

status_t ui_begin(request *r)
{
	r->body_max = UI_FORM_MAX;
	if (r->content_length > (int64_t)UI_FORM_MAX)
		return ST_TOO_LARGE;
	return ST_OK;
}

status_t ui_data(request *r, const char *buf, size_t len)
{
	if (r->method != M_POST)
		return ST_OK; /* a body where none belongs is ignored */
	return request_buffer(r, buf, len);
}

/* The pages, by path: which methods each takes. */
typedef struct {
	const char *path;
	unsigned methods;
	enum MHD_Result (*fn)(ui_ctx *x);
} ui_route;

static const ui_route pages[] = {
    {"/ui/", M_GET | M_HEAD, ui_repos_page},
    {"/ui", M_GET | M_HEAD, ui_repos_page},
    {"/ui/repo", M_GET | M_HEAD, ui_repo_page},
    {"/ui/image", M_GET | M_HEAD, ui_image_page},
    {"/ui/storage", M_GET | M_HEAD, ui_storage_page},
    {"/ui/mirror", M_GET | M_HEAD, ui_mirror_page},
    {"/ui/login", M_GET | M_HEAD | M_POST, ui_login},
    {"/ui/logout", M_POST, ui_logout},
    {"/ui/delete", M_POST, ui_delete},
};

enum MHD_Result ui_finish(request *r)
{
	ui_ctx *x = calloc(1, sizeof(*x));
	enum MHD_Result ret;
	const char *path = r->path;

	if (x == NULL)
		return MHD_NO;
	x->r = r;
	ui_html_init(&x->h);
	if (strcmp(path, "/") == 0) {
		x->location = "/ui/";
		ret = ui_reply_redirect(x, 302);
		goto done;
	}
	if (strcmp(path, "/ui/static/style.css") == 0) {
		ret = static_file(x, style_css, sizeof(style_css) - 1, "text/css; charset=utf-8");
		goto done;
	}
	if (strcmp(path, "/ui/static/ui.js") == 0) {
		ret = static_file(x, ui_js, sizeof(ui_js) - 1, "text/javascript; charset=utf-8");
		goto done;
	}
	ui_session_identify(x);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		if (strcmp(path, pages[i].path) != 0)
			continue;
		if (!(pages[i].methods & r->method)) {
			ret = ui_reply_message(x, 405, "Method not allowed",
					       "This page does not take that method.");
			goto done;
		}
		ret = pages[i].fn(x);
		goto done;
	}
	ret = ui_reply_message(x, 404, "Not found", "There is no such page.");
done:
	ui_html_free(&x->h);
	free(x);
	return ret;
}
