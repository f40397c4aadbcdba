/*
 * request.c - what handlers ask of the request they serve: its headers and
 * arguments, its body buffer, whether the caller may do something, and its
 * repository in the core (with how the core suspends and resumes it).
 * It calls nothing of http.c, so handlers sit below the daemon.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "server.h"

const char *request_header(request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *request_arg(request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool request_allowed(request *r, const char *action, const char *repo)
{
	return auth_allowed(r->gen->auth, r->who, action, repo);
}

bool request_hold(request *r)
{
	if (r->delay_ms == 0 || r->held)
		return false;
	r->held = true;
	return hold_add(r->srv->hold, r->conn, r->delay_ms);
}

status_t request_buffer(request *r, const char *buf, size_t len)
{
	if (len > r->body_max - r->body_len)
		return ST_TOO_LARGE;
	if (r->body_len + len > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + len)
			cap *= 2;
		if (cap > r->body_max)
			cap = r->body_max;
		char *p = realloc(r->body, cap);
		if (p == NULL)
			return ST_NOMEM;
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, buf, len);
	r->body_len += len;
	return ST_OK;
}

static void conn_suspend(void *arg)
{
	MHD_suspend_connection(arg);
}

static void conn_resume(void *arg)
{
	MHD_resume_connection(arg);
}

core_waiter request_waiter(request *r)
{
	return (core_waiter){conn_suspend, conn_resume, r->conn};
}

status_t request_open_repo(request *r)
{
	core_waiter w = request_waiter(r);
	status_t st;

	switch (r->route->kind) {
	case R_TAGS:
	case R_MANIFEST:
	case R_BLOB:
	case R_UPLOAD_START:
	case R_UPLOAD:
	case R_REFERRERS:
	case R_ADMIN_REPO:
		break;
	default:
		return ST_OK;
	}
	st = core_req_open(r->srv->core, r->name, request_arg(r, "ns"), &w, &r->q);
	if (st != ST_OK) {
		if (r->q != NULL && core_req_detail(r->q) != NULL)
			snprintf(r->detail, sizeof(r->detail), "%s", core_req_detail(r->q));
		return st;
	}
	/* The rules see the repository read: a mirrored name's cache name. */
	snprintf(r->name, sizeof(r->name), "%s", core_req_name(r->q));
	/* for the events of what it does */
	core_req_set_origin(r->q, &(core_origin){r->remote, request_header(r, MHD_HTTP_HEADER_HOST),
						 r->method_s,
						 request_header(r, MHD_HTTP_HEADER_USER_AGENT)});
	return ST_OK;
}
