/*
 * ui_session.c - the web UI's login: the session cookie, CSRF tokens, the
 * login and logout forms, and deleting a tag or manifest (see ui.h).
 *
 * Sessions are kept by nobody: a cookie carries its user, expiry and a
 * random nonce with an HMAC-SHA256 over them and the user's password
 * fingerprint, under a key made once into the data folder
 * (DATA/ui-session.key, 0600). Why not a sessions table: a login then
 * writes nothing (no write lock, no fsync, nothing to expire or clean
 * up), a page checks its cookie without a query, and it survives
 * restarts. What a table would give, revocation, comes from the users
 * file: each request asks auth/ for the user (re-read when it changed),
 * so a removed user's session fails at once and a changed password (a new
 * fingerprint) ends every session made before. Logout clears the cookie;
 * a copy taken before logout stays valid until it expires (ui_session,
 * 12h by default), which is the price of keeping no state.
 *
 * CSRF: every form that changes something carries HMAC(key, "csrf|"
 * BINDING), where BINDING is the session cookie (or, before login and
 * with auth off, a random pre-session cookie): a page of another origin
 * can neither read the token nor make one, and SameSite=Strict keeps the
 * cookies off its requests besides.
 */
#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../common/log.h"
#include "server.h"

#define UI_NONCE_BYTES 16
/* a password field read from a form: longer than auth/ takes, which refuses it */
#define UI_PASSWORD_MAX 1024

/* ---- the key ---- */

status_t ui_session_key_load(const char *data, unsigned char key[UI_SESSION_KEY_BYTES])
{
	char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 48];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/" UI_SESSION_KEY_FILE, data);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, key, UI_SESSION_KEY_BYTES);
		close(fd);
		if (n == UI_SESSION_KEY_BYTES)
			return ST_OK;
		log_error("ui: %s is not a key of %d bytes: remove it to make a new one", path,
			  UI_SESSION_KEY_BYTES);
		return ST_IO;
	}
	if (errno != ENOENT || RAND_bytes(key, UI_SESSION_KEY_BYTES) != 1) {
		log_error("ui: cannot read %s: %s", path, strerror(errno));
		return ST_IO;
	}
	/* Written whole to a temporary file, then published with link(2), which
	 * fails if the name exists: processes racing (replicas starting at once
	 * on one folder) keep one key, and the loser reads it only once whole. */
	snprintf(tmp, sizeof(tmp), "%s/." UI_SESSION_KEY_FILE ".XXXXXX", data);
	if ((fd = mkstemp(tmp)) < 0) {
		log_error("ui: cannot create %s: %s", tmp, strerror(errno));
		return ST_IO;
	}
	n = write(fd, key, UI_SESSION_KEY_BYTES);
	if (n != UI_SESSION_KEY_BYTES || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		log_error("ui: cannot write %s", tmp);
		return ST_IO;
	}
	close(fd);
	if (link(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		if (e == EEXIST)
			return ui_session_key_load(data, key);
		log_error("ui: cannot create %s: %s", path, strerror(e));
		return ST_IO;
	}
	unlink(tmp);
	return ST_OK;
}

/* ---- tokens ---- */

static void hex_of(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* HMAC-SHA256(key, a "|" b "|" c) in hex into out (65 bytes); "" when
 * the message does not fit (no caller's does). */
static void mac_hex(const unsigned char *key, const char *a, const char *b, const char *c,
		    char out[UI_TOKEN_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char msg[2 * UI_COOKIE_MAX];
	int n = snprintf(msg, sizeof(msg), "%s|%s|%s", a, b, c);

	out[0] = '\0';
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if (HMAC(EVP_sha256(), key, UI_SESSION_KEY_BYTES, (const unsigned char *)msg, (size_t)n, md,
		 &mdlen) != NULL &&
	    mdlen == 32)
		hex_of(md, 32, out);
	OPENSSL_cleanse(md, sizeof(md));
}

status_t ui_session_make(const unsigned char *key, const char *user, int64_t expires,
			 const char *fp, char out[UI_COOKIE_MAX])
{
	unsigned char nonce[UI_NONCE_BYTES];
	char uhex[2 * UI_USER_MAX], mac[UI_TOKEN_HEX];
	/* USERHEX.EXPIRY.NONCE: room left for ".MAC" in a cookie */
	char body[UI_COOKIE_MAX - UI_TOKEN_HEX];
	size_t ulen = strlen(user);

	out[0] = '\0';
	if (ulen == 0 || ulen >= UI_USER_MAX)
		return ST_INVALID;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return ST_IO;
	hex_of((const unsigned char *)user, ulen, uhex);
	snprintf(body, sizeof(body), "%s.%" PRId64 ".", uhex, expires);
	hex_of(nonce, sizeof(nonce), body + strlen(body));
	mac_hex(key, "session", body, fp, mac);
	if (mac[0] == '\0')
		return ST_IO;
	snprintf(out, UI_COOKIE_MAX, "%s.%s", body, mac);
	return ST_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

status_t ui_session_parse(const char *value, char *user, size_t userlen, int64_t *expires)
{
	const char *dot1, *dot2, *dot3;
	size_t n, i;
	char *end;

	if (value == NULL || strlen(value) >= UI_COOKIE_MAX ||
	    (dot1 = strchr(value, '.')) == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    (dot3 = strchr(dot2 + 1, '.')) == NULL || strchr(dot3 + 1, '.') != NULL)
		return ST_INVALID;
	n = (size_t)(dot1 - value);
	if (n == 0 || n % 2 != 0 || n / 2 >= userlen)
		return ST_INVALID;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(value[2 * i]), lo = hexval(value[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi | lo) == 0)
			return ST_INVALID;
		user[i] = (char)(hi * 16 + lo);
	}
	user[i] = '\0';
	errno = 0;
	*expires = strtoll(dot1 + 1, &end, 10);
	if (errno != 0 || end != dot2 || end == dot1 + 1)
		return ST_INVALID;
	if ((size_t)(dot3 - dot2 - 1) != 2 * UI_NONCE_BYTES || strlen(dot3 + 1) != 64)
		return ST_INVALID;
	return ST_OK;
}

bool ui_session_verify(const unsigned char *key, const char *value, const char *fp, int64_t now)
{
	char user[UI_USER_MAX], body[UI_COOKIE_MAX], mac[UI_TOKEN_HEX];
	const char *last;
	int64_t expires;

	if (ui_session_parse(value, user, sizeof(user), &expires) != ST_OK || expires <= now ||
	    fp == NULL || fp[0] == '\0')
		return false;
	last = strrchr(value, '.');
	snprintf(body, sizeof(body), "%.*s", (int)(last - value), value);
	mac_hex(key, "session", body, fp, mac);
	return mac[0] != '\0' && CRYPTO_memcmp(mac, last + 1, 64) == 0;
}

void ui_csrf_token(const unsigned char *key, const char *binding, char out[UI_TOKEN_HEX])
{
	mac_hex(key, "csrf", binding ? binding : "", "", out);
}

bool ui_csrf_check(const unsigned char *key, const char *binding, const char *token)
{
	char want[UI_TOKEN_HEX];

	if (binding == NULL || binding[0] == '\0' || token == NULL || strlen(token) != 64)
		return false;
	ui_csrf_token(key, binding, want);
	return want[0] != '\0' && CRYPTO_memcmp(want, token, 64) == 0;
}

/* ---- who asks ---- */

static const char *cookie(request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* A pre-session cookie's value: 32 hex digits. */
static bool pre_ok(const char *v)
{
	if (v == NULL || strlen(v) != 2 * UI_NONCE_BYTES)
		return false;
	for (; *v; v++)
		if (hexval(*v) < 0)
			return false;
	return true;
}

static const char *secure(const request *r)
{
	return r->https ? "; Secure" : "";
}

void ui_session_identify(ui_ctx *x)
{
	request *r = x->r;
	const char *v = cookie(r, UI_COOKIE), *pre = cookie(r, UI_PRE_COOKIE);
	char user[UI_USER_MAX], fp[AUTH_USER_PRINT_MAX];
	auth_principal *who = NULL;
	unsigned char nonce[UI_NONCE_BYTES];
	char fresh[2 * UI_NONCE_BYTES + 1];
	int64_t expires;

	if (v != NULL && r->gen->auth != NULL &&
	    ui_session_parse(v, user, sizeof(user), &expires) == ST_OK &&
	    auth_user_principal(r->gen->auth, user, fp, NULL) == ST_OK &&
	    ui_session_verify(r->srv->ui_key, v, fp, (int64_t)time(NULL)) &&
	    auth_user_principal(r->gen->auth, user, fp, &who) == ST_OK) {
		auth_principal_free(r->who);
		r->who = who;
		snprintf(r->user, sizeof(r->user), "%s", user);
		x->user = r->user;
		snprintf(x->session, sizeof(x->session), "%s", v);
		ui_csrf_token(r->srv->ui_key, x->session, x->csrf);
		return;
	}
	/* anonymous: judged by the rules as anonymous (token mode included) */
	if (r->gen->auth != NULL && auth_anonymous_principal(r->gen->auth, &who) == ST_OK) {
		auth_principal_free(r->who);
		r->who = who;
	}
	if (v != NULL) /* expired, forged, or its user is gone: drop it */
		snprintf(x->set_cookie[0], sizeof(x->set_cookie[0]),
			 UI_COOKIE "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict%s",
			 secure(r));
	if (!pre_ok(pre)) {
		if (RAND_bytes(nonce, sizeof(nonce)) != 1)
			return; /* no token: every form is refused, nothing else breaks */
		hex_of(nonce, sizeof(nonce), fresh);
		snprintf(x->set_cookie[1], sizeof(x->set_cookie[1]),
			 UI_PRE_COOKIE "=%s; Path=/ui; HttpOnly; SameSite=Strict%s", fresh,
			 secure(r));
		pre = fresh;
	}
	ui_csrf_token(r->srv->ui_key, pre, x->csrf);
}

/* Whether the form's csrf field is the token of this request's binding:
 * the session when there is one, else the pre-session cookie (as sent by
 * the browser: a fresh one made by this request binds nothing yet). */
static bool csrf_ok(ui_ctx *x)
{
	char token[UI_TOKEN_HEX + 1];
	const char *binding = x->session[0] ? x->session : cookie(x->r, UI_PRE_COOKIE);

	if (!ui_form_get(x->r->body, x->r->body_len, "csrf", token, sizeof(token)))
		return false;
	if (x->session[0] == '\0' && !pre_ok(binding))
		return false;
	return ui_csrf_check(x->r->srv->ui_key, binding, token);
}

/* ---- login and logout ---- */

static void login_form(ui_ctx *x, const char *user, const char *error)
{
	ui_html *h = &x->h;

	ui_page_begin(x, "Log in");
	ui_put(h, "<h1>Log in</h1>");
	if (x->r->gen->auth == NULL) {
		ui_put(h, "<p class=\"message\">This registry has no access control "
			  "(auth = none): everyone sees everything, there is nobody to log in "
			  "as.</p>");
		ui_page_end(x);
		return;
	}
	if (error != NULL) {
		ui_put(h, "<p class=\"error\">");
		ui_esc(h, error);
		ui_put(h, "</p>");
	}
	ui_put(h, "<form id=\"login\" method=\"post\" action=\"/ui/login\">"
		  "<input type=\"hidden\" name=\"csrf\" value=\"");
	ui_esc(h, x->csrf);
	ui_put(h, "\"><dl><dt><label for=\"user\">User</label></dt><dd>"
		  "<input id=\"user\" name=\"user\" autocomplete=\"username\" value=\"");
	ui_esc(h, user);
	ui_put(h, "\"></dd><dt><label for=\"password\">Password</label></dt><dd>"
		  "<input id=\"password\" name=\"password\" type=\"password\" "
		  "autocomplete=\"current-password\"></dd></dl><button>Log in</button></form>");
	ui_page_end(x);
}

/* A login's outcome, decided once: the answer of a login after failed
 * ones is held (throttle.h) and finish runs again when it is time. */
typedef struct {
	status_t st;
	char user[UI_USER_MAX];
	char cookie[UI_COOKIE_MAX]; /* the session's value, with ST_OK */
} login_outcome;

static void outcome_free(void *p)
{
	if (p != NULL)
		OPENSSL_cleanse(p, sizeof(login_outcome));
	free(p);
}

/* Checks the form's user and password (auth/, the API's lockout) into o. */
static void login_decide(ui_ctx *x, login_outcome *o)
{
	request *r = x->r;
	char password[UI_PASSWORD_MAX] = "", fp[AUTH_USER_PRINT_MAX];
	auth_result res;

	ui_form_get(r->body, r->body_len, "user", o->user, sizeof(o->user));
	if (!ui_form_get(r->body, r->body_len, "password", password, sizeof(password)))
		password[0] = '\0';
	o->st = auth_login(r->gen->auth, o->user, password, r->remote, &res);
	OPENSSL_cleanse(password, sizeof(password));
	if (r->body != NULL)
		OPENSSL_cleanse(r->body, r->body_len); /* the password, in the form */
	auth_principal_free(res.who);
	r->delay_ms = res.delay_ms;
	if (o->st == ST_OK && (auth_user_principal(r->gen->auth, res.user, fp, NULL) != ST_OK ||
			       ui_session_make(r->srv->ui_key, res.user,
					       (int64_t)time(NULL) + r->gen->cfg.ui_session_sec, fp,
					       o->cookie) != ST_OK))
		o->st = ST_UNAUTHORIZED; /* removed meanwhile, or no randomness */
	if (o->st == ST_OK)
		log_info("audit: login %s from %s (web)", res.user, r->remote);
	else if (o->st != ST_TOO_MANY_REQUESTS && o->st != ST_UNAVAILABLE)
		log_info("audit: denied login from %s: credentials refused (web)", r->remote);
}

enum MHD_Result ui_login(ui_ctx *x)
{
	request *r = x->r;
	login_outcome *o = r->state;

	if (r->method != M_POST || r->gen->auth == NULL) {
		login_form(x, NULL, NULL);
		return ui_reply(x, 200);
	}
	if (o == NULL) {
		if (!csrf_ok(x))
			return ui_reply_message(x, 403, "Forbidden",
						"The form has expired or did not come from this "
						"site: reload the login page and try again.");
		if ((o = calloc(1, sizeof(*o))) == NULL)
			return MHD_NO;
		r->state = o;
		r->state_free = outcome_free;
		login_decide(x, o);
		if (request_hold(r))
			return MHD_YES; /* answered when the hold ends */
	}
	if (o->st == ST_OK) {
		snprintf(x->set_cookie[0], sizeof(x->set_cookie[0]),
			 UI_COOKIE "=%s; Path=/ui; Max-Age=%u; HttpOnly; SameSite=Strict%s",
			 o->cookie, r->gen->cfg.ui_session_sec, secure(r));
		x->location = "/ui/";
		return ui_reply_redirect(x, 303);
	}
	if (o->st == ST_TOO_MANY_REQUESTS) {
		login_form(x, o->user,
			   "Too many failed logins from this address: try again later.");
		return ui_reply(x, 429);
	}
	if (o->st == ST_UNAVAILABLE) {
		login_form(x, o->user, "Logins cannot be checked now: try again in a moment.");
		return ui_reply(x, 503);
	}
	login_form(x, o->user, "Wrong user name or password.");
	return ui_reply(x, 200);
}

enum MHD_Result ui_logout(ui_ctx *x)
{
	if (!csrf_ok(x))
		return ui_reply_message(x, 403, "Forbidden",
					"The form has expired or did not come from this site.");
	snprintf(x->set_cookie[0], sizeof(x->set_cookie[0]),
		 UI_COOKIE "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict%s", secure(x->r));
	x->location = "/ui/";
	return ui_reply_redirect(x, 303);
}

/* ---- delete ---- */

void ui_delete_form(ui_ctx *x, const core_req *q, const char *name, const char *ref,
		    const char *label)
{
	ui_html *h = &x->h;

	if (!x->r->srv->cfg.delete_enabled || core_req_mirrored(q) ||
	    !request_allowed(x->r, "delete", name))
		return;
	/* the confirmation without script: the form opens from its summary */
	ui_put(h, "<details class=\"confirm\"><summary>");
	ui_esc(h, label);
	ui_put(h, "</summary><form class=\"delete\" method=\"post\" action=\"/ui/delete\">"
		  "<input type=\"hidden\" name=\"name\" value=\"");
	ui_esc(h, name);
	ui_put(h, "\"><input type=\"hidden\" name=\"ref\" value=\"");
	ui_esc(h, ref);
	ui_put(h, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	ui_esc(h, x->csrf);
	ui_put(h, "\"><button>Really delete ");
	ui_esc(h, ref);
	ui_put(h, "</button></form></details>");
}

enum MHD_Result ui_delete(ui_ctx *x)
{
	request *r = x->r;
	char name[REF_NAME_MAX], ref[DIGEST_MAX];
	core_req *q = NULL;
	enum MHD_Result ret;
	const char *repo;
	status_t st;

	if (!csrf_ok(x))
		return ui_reply_message(x, 403, "Forbidden",
					"The form has expired or did not come from this site: "
					"nothing was deleted.");
	if (!ui_form_get(r->body, r->body_len, "name", name, sizeof(name)) ||
	    !ui_form_get(r->body, r->body_len, "ref", ref, sizeof(ref)))
		return ui_reply_message(x, 400, "Bad request", "The form lacks a name or a ref.");
	if (core_req_open(r->srv->core, name, NULL, NULL, &q) != ST_OK ||
	    !request_allowed(r, "pull", (repo = core_req_name(q)))) {
		core_req_free(q);
		return ui_reply_message(x, 404, "Not found", "There is no such repository.");
	}
	if (!request_allowed(r, "delete", repo)) {
		log_info("audit: denied delete %s to %s from %s (web)", repo,
			 x->user ? x->user : "anonymous", r->remote);
		core_req_free(q);
		return ui_reply_message(x, 403, "Forbidden", "You may not delete here.");
	}
	core_req_set_actor(q, x->user);
	st = core_manifest_delete(r->srv->core, q, ref);
	if (st == ST_OK) {
		x->h.len = 0;
		ui_put(&x->h, "/ui/repo?name=");
		ui_url(&x->h, core_req_asked(q));
		snprintf(x->loc, sizeof(x->loc), "%.*s", (int)x->h.len, x->h.buf);
		x->location = x->loc;
		ret = ui_reply_redirect(x, 303);
	} else if (st == ST_DENIED) {
		ret = ui_reply_message(x, 403, "Cannot delete",
				       core_req_detail(q) ? core_req_detail(q) : "Refused.");
	} else if (st == ST_METHOD_NOT_ALLOWED) {
		ret = ui_reply_message(x, 405, "Cannot delete",
				       core_req_detail(q) ? core_req_detail(q)
							  : "Deleting is switched off.");
	} else if (st == ST_MANIFEST_UNKNOWN || st == ST_NAME_UNKNOWN) {
		ret = ui_reply_message(x, 404, "Not found", "There is no such tag or manifest.");
	} else {
		ret = ui_reply_message(x, 500, "Error", status_str(st));
	}
	core_req_free(q);
	return ret;
}
