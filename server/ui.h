/*
 * ui.h - the web UI: server-rendered HTML pages under /ui/, from core
 * calls (tests/ui/CONTRACT.md is what the pages promise).
 *
 * HTML rendering is HTTP presentation, so it lives here, in server/: a page
 * is written into one growing buffer (ui_html) by functions that escape
 * every value they are given (ui_esc, ui_url) and write only literal markup
 * themselves (ui_put). ui.c dispatches and serves the static files;
 * ui_page.c holds the buffer, the escaping, the page frame and the reply
 * (security headers, ETag and 304, gzip); ui_repos.c the repository list and a repository's tags;
 * ui_image.c an image; ui_admin.c the storage and mirror pages;
 * ui_session.c the login, the session cookie, CSRF tokens and delete.
 *
 * Access is the API's: who a request is comes from the session cookie
 * only (never Basic auth: a browser would prompt), and every name is
 * checked with request_allowed(r, "pull", name) before it is shown or
 * counted; an invisible name answers the same 404 page as an unknown one.
 */
#ifndef UI_H
#define UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define UI_PAGE_ROWS 50		  /* rows of a list page unless ?n= says */
#define UI_FORM_MAX (16 * 1024)	  /* a POSTed form, whole */
#define UI_COOKIE "regui"	  /* the session */
#define UI_PRE_COOKIE "regui_pre" /* the pre-session one the login form's CSRF binds to */
#define UI_TOKEN_HEX 65		  /* a CSRF token: HMAC-SHA256 in hex, with NUL */
#define UI_SESSION_KEY_FILE "ui-session.key" /* in the data folder: 32 random bytes */
#define UI_SESSION_KEY_BYTES 32
#define UI_COOKIE_MAX 700 /* a session cookie's value, with NUL */
#define UI_USER_MAX 256	  /* a user name, with NUL (as request.user) */

/* ---- the HTML buffer (ui_page.c) ---- */

typedef struct {
	char *buf;
	size_t len, cap;
	bool failed; /* an allocation failed: the page is not sent */
} ui_html;

void ui_html_init(ui_html *h);
void ui_html_free(ui_html *h);
/* Literal markup, written as is: never a value from a request or the store. */
void ui_put(ui_html *h, const char *s);
void ui_putf(ui_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value, HTML-escaped (& < > " ' become entities), fit for text and for
 * a double-quoted attribute alike. NULL writes nothing. */
void ui_esc(ui_html *h, const char *s);
void ui_escn(ui_html *h, const char *s, size_t n);
/* A value percent-encoded for a query string (all but A-Z a-z 0-9 - . _ ~):
 * the only way a URL the server builds takes a name, a tag or a digest. */
void ui_url(ui_html *h, const char *s);
/* "1.5 MiB", "0 B". */
void ui_size(ui_html *h, uint64_t bytes);
/* "2026-12-04 18:09 UTC", or never (0). */
void ui_time(ui_html *h, int64_t t);
/* A repository's row start, as every list of repositories has it: the
 * <tr> (data-repo for tests) and the name cell linking to its page. */
void ui_repo_cell(ui_html *h, const char *name);

/* ---- one page being answered ---- */

typedef struct {
	request *r;
	ui_html h;
	const char *user;			 /* the session's user, or NULL (anonymous) */
	char session[UI_COOKIE_MAX];		 /* the valid session cookie's value, or "" */
	char csrf[UI_TOKEN_HEX];		 /* for this page's forms */
	char set_cookie[2][UI_COOKIE_MAX + 128]; /* Set-Cookie values to send ("" none) */
	const char *location;			 /* a redirect's target, or NULL */
	char loc[REF_NAME_MAX * 3 + 64];	 /* ...when built here */
} ui_ctx;

/* The frame: doctype, head, nav (with the user or a login link), <main>. */
void ui_page_begin(ui_ctx *x, const char *title);
void ui_page_end(ui_ctx *x);
/* Sends x->h as the page with status (ETag, 304, gzip, the security
 * headers, x->set_cookie), and frees it. */
enum MHD_Result ui_reply(ui_ctx *x, unsigned status);
/* Sends body (len bytes, taken) of content type with status: its ETag,
 * a 304 when If-None-Match names it, gzip when Accept-Encoding takes it. */
enum MHD_Result ui_send(ui_ctx *x, char *body, size_t len, const char *type, unsigned status);
/* A whole page saying msg (escaped) with status: 404 for an unknown or
 * invisible name alike (the same bytes), 403, 405, 500. */
enum MHD_Result ui_reply_message(ui_ctx *x, unsigned status, const char *title, const char *msg);
/* A redirect (302 or 303) to x->location, with x->set_cookie. */
enum MHD_Result ui_reply_redirect(ui_ctx *x, unsigned status);

/* Whether r's caller may pull name (every name shown passes this). */
bool ui_visible(void *r, const char *name);
/* The value of field name of an application/x-www-form-urlencoded body
 * (len bytes), decoded, into out (outlen bytes). true when present and it
 * fits, without a NUL. */
bool ui_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);
/* The host a pull command names: the Host header, or a trusted proxy's
 * X-Forwarded-Host; "localhost" when neither. Borrowed. */
const char *ui_host(request *r);

/*
 * Opens the repository ?name= (and ?ns=) names, if the caller may see it:
 * ST_OK with *out; else ST_NOT_FOUND, whether it is unknown, invisible or
 * not a name at all (one reply for all three). The caller frees *out.
 */
status_t ui_open_repo(ui_ctx *x, core_req **out);

/* ---- pages ---- */
enum MHD_Result ui_repos_page(ui_ctx *x);   /* /ui/ */
enum MHD_Result ui_repo_page(ui_ctx *x);    /* /ui/repo */
enum MHD_Result ui_image_page(ui_ctx *x);   /* /ui/image */
enum MHD_Result ui_storage_page(ui_ctx *x); /* /ui/storage */
enum MHD_Result ui_mirror_page(ui_ctx *x);  /* /ui/mirror */
enum MHD_Result ui_login(ui_ctx *x);	    /* /ui/login, GET and POST */
enum MHD_Result ui_logout(ui_ctx *x);	    /* /ui/logout, POST */
enum MHD_Result ui_delete(ui_ctx *x);	    /* /ui/delete, POST */

/* The delete form of ref (tag or digest) of q's repository (name), if it
 * can be deleted (delete_enabled, not a read-only mirror) and x's caller
 * may delete there; else nothing. */
void ui_delete_form(ui_ctx *x, const core_req *q, const char *name, const char *ref,
		    const char *label);

/* ---- sessions (ui_session.c) ---- */

/* Reads (or makes, once) DATA/ui-session.key into key. ST_OK; ST_IO. */
status_t ui_session_key_load(const char *data, unsigned char key[UI_SESSION_KEY_BYTES]);

/*
 * A session cookie's value for user, valid until expires, bound to fp (the
 * user's password fingerprint: auth_user_principal): user (hex), expiry,
 * a random nonce and the HMAC of all of them and fp under key. Verified
 * without any state kept: ui_session_verify. ST_OK; ST_INVALID (a name too
 * long); ST_IO (no randomness).
 */
status_t ui_session_make(const unsigned char *key, const char *user, int64_t expires,
			 const char *fp, char out[UI_COOKIE_MAX]);
/* Reads a cookie value: ST_OK with user (AUTH_NAME_MAX) and *expires when
 * its form is right (its MAC is not checked yet: that needs the user's
 * fingerprint); ST_INVALID. */
status_t ui_session_parse(const char *value, char *user, size_t userlen, int64_t *expires);
/* Whether value is a session of a user whose fingerprint is fp, unexpired
 * at now, under key. */
bool ui_session_verify(const unsigned char *key, const char *value, const char *fp, int64_t now);
/* The CSRF token bound to binding (the session cookie, or the pre-session
 * one): HMAC(key, "csrf|" binding) in hex. */
void ui_csrf_token(const unsigned char *key, const char *binding, char out[UI_TOKEN_HEX]);
/* Whether token is binding's (constant time). */
bool ui_csrf_check(const unsigned char *key, const char *binding, const char *token);

/* Who x's request is: from a valid session cookie (r->who, r->user set, so
 * request_allowed answers for that user), else anonymous; x->csrf for this
 * page, a pre-session cookie made when there is none. */
void ui_session_identify(ui_ctx *x);

#endif
