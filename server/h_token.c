/*
 * h_token.c - the built-in token service, GET /token (auth = token).
 *
 *   GET /token?service=S&scope=repository:NAME:pull,push&scope=...
 *       Authorization: Basic ... (or none, for what anonymous may do)
 *   -> 200 {"token","access_token","expires_in","issued_at"}
 *
 * This is the realm of the Bearer challenges the gate sends, so `docker
 * login`, podman and skopeo use it with no set-up. Everything that decides
 * (credentials, throttling, which part of each scope is granted, signing)
 * is auth_token_issue's; this file only gathers the parameters and replies.
 * The token is made in begin, so every failure leaves through the usual
 * error path (401 with a Basic challenge, 429, 400).
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

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

status_t token_begin(request *r)
{
	scope_list scopes = {{0}, 0};
	auth_token_request tr = {0};
	auth_result res;
	char *json = NULL;
	status_t st;

	if (auth_get_mode(r->srv->auth) != AUTH_MODE_TOKEN)
		return ST_NOT_ROUTE;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_scope, &scopes);
	tr.authorization = request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	tr.remote = r->remote;
	tr.service = request_arg(r, "service");
	tr.scopes = scopes.v;
	tr.nscopes = scopes.n;
	st = auth_token_issue(r->srv->auth, &tr, &json, &res);
	r->delay_ms = res.delay_ms;
	if (st != ST_OK) {
		snprintf(r->challenge, sizeof(r->challenge), "%s", res.challenge);
		snprintf(r->detail, sizeof(r->detail), "%.255s", res.detail);
		r->retry_after = res.retry_after;
		return st;
	}
	r->body = json;
	r->body_len = strlen(json);
	return ST_OK;
}

enum MHD_Result token_finish(request *r)
{
	struct MHD_Response *resp = reply_buffer(r->body, r->body_len);

	r->body = NULL; /* the response owns it now, whatever happened */
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return reply_send(r, resp, 200);
}
