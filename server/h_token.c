/*
 * h_token.c - the built-in token service, /token (auth = token).
 *
 *   GET /token?service=S&scope=repository:NAME:pull,push&scope=...
 *       [&offline_token=true]
 *       Authorization: Basic ... (or none, for what anonymous may do)
 *   -> 200 {"token","access_token","expires_in","issued_at"[,"refresh_token"]}
 *
 *   POST /token   (OAuth2, application/x-www-form-urlencoded)
 *       grant_type=password&username=U&password=P[&access_type=offline]
 *       grant_type=refresh_token&refresh_token=T
 *       and service=S, client_id=C, scope="SCOPE SCOPE..."
 *   -> 200 the same JSON
 *
 * This is the realm of the Bearer challenges the gate sends, so `docker
 * login`, podman and skopeo use it with no set-up; docker asks for offline
 * access and afterwards refreshes by POST, and containerd logs in by POST.
 * Everything that decides (credentials, throttling, which part of each
 * scope is granted, signing) is auth_token_issue's; this file only gathers
 * the parameters and replies. A GET's token is made in begin, so every
 * failure leaves through the usual error path (401 with a Basic challenge,
 * 429, 400); a POST's once its form has arrived, in finish.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http.h"
#include "server.h"

#define FORM_TYPE "application/x-www-form-urlencoded"
#define TOKEN_FORM_MAX (32 * 1024) /* a POST's whole form */
#define TOKEN_FIELD_MAX 8192	   /* refresh_token, scope */
#define AUTH_PASSWORD_FIELD 1024

typedef struct {
	const char *v[AUTH_SCOPES_MAX];
	size_t n;
} scope_list;

static enum MHD_Result collect_scope(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	scope_list *l = cls;

	if (key != NULL && value != NULL && strcmp(key, "scope") == 0 && l->n < AUTH_SCOPES_MAX)
		l->v[l->n++] = value;
	return MHD_YES;
}

/* Asks auth for a token; its JSON into r->body, or the failure's status
 * with r's challenge, detail and Retry-After set. */
static status_t issue(request *r, const auth_token_request *tr)
{
	auth_result res;
	char *json = NULL;
	status_t st = auth_token_issue(r->srv->auth, tr, &json, &res);

	r->delay_ms = res.delay_ms;
	if (st != ST_OK) {
		snprintf(r->challenge, sizeof(r->challenge), "%s", res.challenge);
		snprintf(r->detail, sizeof(r->detail), "%.255s", res.detail);
		r->retry_after = res.retry_after;
		return st;
	}
	free(r->body);
	r->body = json;
	r->body_len = strlen(json);
	return ST_OK;
}

/* Whether the Content-Type ct is FORM_TYPE: the media type whole
 * (case-insensitive), then nothing or parameters (";..."). */
static bool is_form(const char *ct)
{
	size_t n = strlen(FORM_TYPE);

	if (ct == NULL || strncasecmp(ct, FORM_TYPE, n) != 0)
		return false;
	ct += n;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

static bool is_true(const char *v)
{
	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

status_t token_begin(request *r)
{
	scope_list scopes = {{0}, 0};
	auth_token_request tr = {0};
	const char *ct;

	if (auth_get_mode(r->srv->auth) != AUTH_MODE_TOKEN)
		return ST_NOT_ROUTE;
	if (r->method == M_POST) {
		ct = request_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!is_form(ct)) {
			snprintf(r->detail, sizeof(r->detail), "POST /token takes an %s form",
				 FORM_TYPE);
			return ST_INVALID;
		}
		r->body_max = TOKEN_FORM_MAX;
		if (r->content_length > (int64_t)TOKEN_FORM_MAX)
			return ST_TOO_LARGE;
		return ST_OK;
	}
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_scope, &scopes);
	tr.authorization = request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	tr.offline = is_true(request_arg(r, "offline_token"));
	tr.remote = r->remote;
	tr.service = request_arg(r, "service");
	tr.scopes = scopes.v;
	tr.nscopes = scopes.n;
	return issue(r, &tr);
}

status_t token_data(request *r, const char *buf, size_t len)
{
	/* A GET's body means nothing (and r->body holds its token already). */
	return r->method == M_POST ? request_buffer(r, buf, len) : ST_OK;
}

/* The fields of an OAuth2 form we read. Each value is copied whole (the
 * post processor hands long ones over in pieces, at offsets). */
typedef struct {
	char grant_type[32], access_type[16], service[256], username[256];
	char password[AUTH_PASSWORD_FIELD], refresh_token[TOKEN_FIELD_MAX];
	char scope[TOKEN_FIELD_MAX];
	bool too_long;
} oauth_form;

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *filename, const char *content_type,
				  const char *transfer_encoding, const char *data, uint64_t off,
				  size_t size)
{
	oauth_form *f = cls;
	struct {
		const char *name;
		char *dst;
		size_t cap;
	} fields[] = {
	    {"grant_type", f->grant_type, sizeof(f->grant_type)},
	    {"access_type", f->access_type, sizeof(f->access_type)},
	    {"service", f->service, sizeof(f->service)},
	    {"username", f->username, sizeof(f->username)},
	    {"password", f->password, sizeof(f->password)},
	    {"refresh_token", f->refresh_token, sizeof(f->refresh_token)},
	    {"scope", f->scope, sizeof(f->scope)},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(key, fields[i].name) != 0)
			continue;
		/* A repeated field would land at offset 0 again: the last wins. */
		if (off >= fields[i].cap || size >= fields[i].cap - off ||
		    memchr(data, '\0', size) != NULL) {
			f->too_long = true;
			return MHD_NO;
		}
		memcpy(fields[i].dst + off, data, size);
		fields[i].dst[off + size] = '\0';
	}
	return MHD_YES;
}

/* Parses r->body as an OAuth2 form and asks for the token it names. */
static status_t token_post(request *r)
{
	oauth_form *f = calloc(1, sizeof(*f));
	struct MHD_PostProcessor *pp;
	auth_token_request tr = {0};
	const char *scopes[1];
	status_t st = ST_INVALID;
	bool made = false, ok = false;

	if (f == NULL)
		return ST_NOMEM;
	/* The processor hands the last value over only when it is destroyed:
	 * the form is read whole before any field is looked at. */
	if ((pp = MHD_create_post_processor(r->conn, 1024, form_field, f)) != NULL) {
		made = true;
		ok = MHD_post_process(pp, r->body ? r->body : "", r->body_len) == MHD_YES;
		ok = MHD_destroy_post_processor(pp) == MHD_YES && ok;
	}
	/* The form holds a password: wiped as soon as it is read. r->body
	 * then carries the token's JSON, if one is issued. */
	if (r->body != NULL)
		OPENSSL_cleanse(r->body, r->body_len);
	free(r->body);
	r->body = NULL;
	r->body_len = r->body_cap = 0;
	if (!made) {
		st = ST_NOMEM;
		goto done;
	}
	if (!ok) {
		snprintf(r->detail, sizeof(r->detail), "%s",
			 f->too_long ? "a form field is too long" : "malformed form");
		goto done;
	}
	if (strcmp(f->grant_type, "password") == 0) {
		tr.user = f->username;
		tr.password = f->password;
		tr.offline = strcmp(f->access_type, "offline") == 0;
		if (f->username[0] == '\0') {
			snprintf(r->detail, sizeof(r->detail),
				 "grant_type=password needs a username");
			goto done;
		}
	} else if (strcmp(f->grant_type, "refresh_token") == 0) {
		tr.refresh_token = f->refresh_token;
		if (f->refresh_token[0] == '\0') {
			snprintf(r->detail, sizeof(r->detail),
				 "grant_type=refresh_token needs a refresh_token");
			goto done;
		}
	} else {
		snprintf(r->detail, sizeof(r->detail),
			 "unsupported grant_type '%.31s' (password or refresh_token)",
			 f->grant_type);
		goto done;
	}
	tr.remote = r->remote;
	tr.service = f->service[0] ? f->service : NULL;
	scopes[0] = f->scope;
	tr.scopes = scopes;
	tr.nscopes = f->scope[0] ? 1 : 0;
	st = issue(r, &tr);
done:
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
	return st;
}

enum MHD_Result token_finish(request *r)
{
	struct MHD_Response *resp;
	status_t st;

	if (r->method == M_POST) {
		/* The form is in; decide once (this runs again after a hold). */
		if (!r->decided) {
			r->decided = true;
			if ((st = token_post(r)) != ST_OK)
				r->err = st;
			if (request_hold(r))
				return MHD_YES;
		}
		if (r->err != ST_OK)
			return reply_error(r, r->err, r->detail);
	}
	resp = reply_buffer(r, r->body, r->body_len);

	r->body = NULL; /* the response owns it now, whatever happened */
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return reply_send(r, resp, 200);
}
