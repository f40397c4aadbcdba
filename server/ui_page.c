/*
 * ui_page.c - the web UI's frame: the HTML buffer and its escaping, the
 * page around every body, the reply (security headers, ETag and 304,
 * gzip) and the helpers every page uses (see ui.h). ui.c dispatches.
 *
 * Invariants: a value reaches a page only through ui_esc (text and
 * double-quoted attributes) or ui_url (a query value of a URL the server
 * builds); ui_put takes literals. Every /ui/ reply carries the same
 * Content-Security-Policy, which allows no inline script or style, so an
 * escaping mistake still runs no script. A page's ETag is a hash of its
 * bytes: what it shows, for whom (its CSRF tokens are the session's).
 */
#include "ui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "server.h"

#define UI_HTML_START (16 * 1024) /* a page's first buffer */
#define UI_GZIP_MIN 512		  /* smaller replies are sent as they are */
#define UI_CSP                                                                                     \
	"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "          \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* ---- the buffer ---- */

void ui_html_init(ui_html *h)
{
	h->len = 0;
	h->failed = false;
	h->cap = UI_HTML_START;
	if ((h->buf = malloc(h->cap)) == NULL) {
		h->cap = 0;
		h->failed = true;
	}
}

void ui_html_free(ui_html *h)
{
	free(h->buf);
	h->buf = NULL;
	h->len = h->cap = 0;
}

static bool reserve(ui_html *h, size_t extra)
{
	size_t cap = h->cap ? h->cap : UI_HTML_START;
	char *p;

	if (h->failed)
		return false;
	if (h->len + extra <= h->cap)
		return true;
	while (cap < h->len + extra)
		cap *= 2;
	if ((p = realloc(h->buf, cap)) == NULL) {
		h->failed = true;
		return false;
	}
	h->buf = p;
	h->cap = cap;
	return true;
}

static void put_n(ui_html *h, const char *s, size_t n)
{
	if (!reserve(h, n))
		return;
	memcpy(h->buf + h->len, s, n);
	h->len += n;
}

void ui_put(ui_html *h, const char *s)
{
	put_n(h, s, strlen(s));
}

void ui_putf(ui_html *h, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		h->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		put_n(h, small, (size_t)n);
		return;
	}
	if (!reserve(h, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(h->buf + h->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

void ui_escn(ui_html *h, const char *s, size_t n)
{
	size_t run = 0;

	if (s == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *ent;

		switch (s[i]) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		case '\0':
			ent = "\xEF\xBF\xBD"; /* U+FFFD: a NUL in a value is not markup either */
			break;
		default:
			run++;
			continue;
		}
		put_n(h, s + i - run, run);
		run = 0;
		ui_put(h, ent);
	}
	put_n(h, s + n - run, run);
}

void ui_esc(ui_html *h, const char *s)
{
	if (s != NULL)
		ui_escn(h, s, strlen(s));
}

void ui_url(ui_html *h, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3] = {'%', 0, 0};

	for (; s != NULL && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			put_n(h, s, 1);
			continue;
		}
		enc[1] = hex[ch >> 4];
		enc[2] = hex[ch & 15];
		put_n(h, enc, 3);
	}
}

void ui_size(ui_html *h, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		ui_putf(h, "%llu B", (unsigned long long)bytes);
	else
		ui_putf(h, "%.1f %s", v, units[u]);
}

void ui_time(ui_html *h, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[64];

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		ui_put(h, "never");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	ui_put(h, buf);
}

void ui_repo_cell(ui_html *h, const char *name)
{
	ui_put(h, "<tr data-repo=\"");
	ui_esc(h, name);
	ui_put(h, "\"><td class=\"name\"><a href=\"/ui/repo?name=");
	ui_url(h, name);
	ui_put(h, "\">");
	ui_esc(h, name);
	ui_put(h, "</a></td>");
}

/* ---- forms and requests ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool ui_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		size_t end = i, eq;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		if (eq - i == nlen && memcmp(body + i, name, nlen) == 0) {
			size_t o = 0;
			for (size_t p = eq + 1; p < end; p++) {
				int hi, lo;
				char ch = body[p];

				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%' && p + 2 < end &&
					   (hi = hexval(body[p + 1])) >= 0 &&
					   (lo = hexval(body[p + 2])) >= 0) {
					ch = (char)(hi * 16 + lo);
					p += 2;
				}
				if (ch == '\0' || o + 1 >= outlen)
					return false;
				out[o++] = ch;
			}
			if (outlen == 0)
				return false;
			out[o] = '\0';
			return true;
		}
		i = end + 1;
	}
	return false;
}

bool ui_visible(void *r, const char *name)
{
	return request_allowed(r, "pull", name);
}

/* A Host header fit for a page: host[:port] characters only. */
static bool host_ok(const char *h)
{
	if (h == NULL || h[0] == '\0' || strlen(h) > 255)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || strchr(".-:[]_", *h) != NULL))
			return false;
	return true;
}

const char *ui_host(request *r)
{
	const char *fwd = request_header(r, "X-Forwarded-Host");
	const char *host = request_header(r, MHD_HTTP_HEADER_HOST);

	/* X-Forwarded-Host only from a proxy auth_trusted_proxies names: the
	 * peer itself, not the client it forwards for */
	if (fwd != NULL && r->from_proxy && host_ok(fwd))
		return fwd;
	return host_ok(host) ? host : "localhost";
}

/* ---- the frame ---- */

void ui_page_begin(ui_ctx *x, const char *title)
{
	ui_html *h = &x->h;

	ui_put(h, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		  "<title>");
	ui_esc(h, title);
	ui_put(h, " \xE2\x80\x93 registry</title>"
		  "<link rel=\"stylesheet\" href=\"/ui/static/style.css\">"
		  "<script src=\"/ui/static/ui.js\" defer></script></head>\n<body><nav>"
		  "<a href=\"/ui/\">Repositories</a> <a href=\"/ui/storage\">Storage</a> "
		  "<a href=\"/ui/mirror\">Mirror</a> <span class=\"who\">");
	if (x->user != NULL) {
		ui_put(h, "<span id=\"user\">");
		ui_esc(h, x->user);
		ui_put(h, "</span> <form class=\"logout\" method=\"post\" action=\"/ui/logout\">"
			  "<input type=\"hidden\" name=\"csrf\" value=\"");
		ui_esc(h, x->csrf);
		ui_put(h, "\"><button>Log out</button></form>");
	} else {
		ui_put(h, "<a id=\"login-link\" href=\"/ui/login\">Log in</a>");
	}
	ui_put(h, "</span></nav>\n<main>\n");
}

void ui_page_end(ui_ctx *x)
{
	ui_put(&x->h, "</main></body></html>\n");
}

/* ---- replies ---- */

static void security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

static void cookies(ui_ctx *x, struct MHD_Response *resp)
{
	for (size_t i = 0; i < 2; i++)
		if (x->set_cookie[i][0] != '\0')
			MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, x->set_cookie[i]);
}

/* W/"<first 16 bytes of SHA-256 of the body, hex>". */
static void etag_of(const char *buf, size_t len, char out[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, "W/\"", 3);
	for (size_t i = 0; i < 16; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", md[i]);
	memcpy(out + 35, "\"", 2);
}

/* Whether an If-None-Match header names etag (a list, or "*"). */
static bool etag_matches(const char *inm, const char *etag)
{
	const char *bare = etag + 2; /* weak comparison: W/ is optional either side */

	if (inm == NULL)
		return false;
	return strcmp(inm, "*") == 0 || strstr(inm, bare) != NULL;
}

/* Whether Accept-Encoding takes gzip (and does not refuse it with q=0). */
static bool accepts_gzip(const char *ae)
{
	const char *p;

	if (ae == NULL || (p = strcasestr(ae, "gzip")) == NULL)
		return false;
	p += 4;
	while (*p == ' ')
		p++;
	if (*p == ';') {
		const char *q = strstr(p, "q=");
		if (q != NULL && strtod(q + 2, NULL) <= 0)
			return false;
	}
	return true;
}

/* buf gzipped into a new buffer (*out, the caller's): ST_OK; ST_NOMEM. */
static status_t gzip_of(const char *buf, size_t len, char **out, size_t *out_len)
{
	z_stream z = {0};
	size_t cap;
	char *dst;
	int rc;

	*out = NULL;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return ST_NOMEM;
	cap = deflateBound(&z, len) + 32;
	if ((dst = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return ST_NOMEM;
	}
	z.next_in = (unsigned char *)buf;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)dst;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(dst);
		return ST_NOMEM;
	}
	*out = dst;
	return ST_OK;
}

enum MHD_Result ui_send(ui_ctx *x, char *body, size_t len, const char *type, unsigned status)
{
	request *r = x->r;
	struct MHD_Response *resp;
	char etag[48], *gz = NULL;
	size_t gzlen = 0;
	bool use_gz = false;

	etag_of(body, len, etag);
	if (status == 200 && etag_matches(request_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
		free(body);
		if ((resp = reply_empty()) == NULL)
			return MHD_NO;
		r->resp_bytes = 0;
		status = 304;
	} else {
		if (len >= UI_GZIP_MIN &&
		    accepts_gzip(request_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING)) &&
		    gzip_of(body, len, &gz, &gzlen) == ST_OK) {
			free(body);
			body = gz;
			len = gzlen;
			use_gz = true;
		}
		if ((resp = reply_buffer(r, body, len)) == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		if (use_gz)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding, Cookie");
	/* private: a page is per user; no-cache: revalidated (ETag) each time */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-cache");
	security_headers(resp);
	cookies(x, resp);
	return reply_send(r, resp, status);
}

enum MHD_Result ui_reply(ui_ctx *x, unsigned status)
{
	char *body = x->h.buf;
	size_t len = x->h.len;

	if (x->h.failed) {
		ui_html_free(&x->h);
		return MHD_NO; /* out of memory: drop the connection */
	}
	x->h.buf = NULL;
	x->h.len = x->h.cap = 0;
	return ui_send(x, body, len, "text/html; charset=utf-8", status);
}

enum MHD_Result ui_reply_message(ui_ctx *x, unsigned status, const char *title, const char *msg)
{
	x->h.len = 0; /* whatever was begun is replaced */
	ui_page_begin(x, title);
	ui_put(&x->h, "<h1>");
	ui_esc(&x->h, title);
	ui_put(&x->h, "</h1><p class=\"message\">");
	ui_esc(&x->h, msg);
	ui_put(&x->h, "</p>");
	ui_page_end(x);
	return ui_reply(x, status);
}

enum MHD_Result ui_reply_redirect(ui_ctx *x, unsigned status)
{
	struct MHD_Response *resp = reply_empty();

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, x->location);
	security_headers(resp);
	cookies(x, resp);
	x->r->resp_bytes = 0;
	return reply_send(x->r, resp, status);
}
