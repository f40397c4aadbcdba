/*
 * access.c - access control and TLS at the server's edge (see access.h).
 *
 * Routes map to the actions of the rules: reads (manifests, blobs, tags,
 * referrers) are pull; a manifest PUT and every upload request are push;
 * DELETE of a manifest or blob, or of a whole repository
 * (/v2/_admin/repositories/NAME), is delete; /v2/ is "login" (any valid
 * credentials, as clients probe it first to learn the challenge); the
 * catalog is "catalog" and is then filtered entry by entry. A mount also
 * needs pull on its source, which h_uploads.c asks with request_allowed.
 *
 * A mirrored name is checked as its cache name ("ghcr.io/team-b/app",
 * however the client spelt it: prefix, ?ns=, or a bare name dockerd sends),
 * since that is the repository read; the token endpoint decides grants on
 * the same name (rule_name).
 *
 * /healthz and /readyz are never gated (a probe has no credentials);
 * /metrics only with metrics_auth = same, as "login" (any valid
 * credentials): its numbers are counts, never names.
 */
#include "access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../auth/throttle.h"
#include "../common/log.h"
#include "server.h"
#include "tls.h"

/* TLS at start: the certificate and key made current for the handshake
 * callback (tls.h); a reload replaces them. */
static status_t tls_open(server *srv)
{
	const config *c = &srv->cfg;
	tls_creds *creds = NULL;
	char err[1024], serial[80];
	status_t st;

	if (!c->tls_cert[0] && !c->tls_key[0])
		return ST_OK;
	if (!c->tls_cert[0] || !c->tls_key[0]) {
		log_error("TLS needs both tls_cert and tls_key");
		return ST_INVALID;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_error("this libmicrohttpd was built without TLS support");
		return ST_INVALID;
	}
	if ((st = tls_creds_load(c->tls_cert, c->tls_key, &creds, err, sizeof(err))) != ST_OK) {
		log_error("%s", err);
		return st;
	}
	tls_creds_use(creds);
	tls_serial(serial, sizeof(serial));
	log_debug("TLS certificate serial %s", serial);
	srv->tls = true;
	return ST_OK;
}

/* ---- the login throttle's shared store: the core's failed logins ----
 * (auth/throttle.h's function pointers, so auth/ needs nothing below it;
 * arg is the core) */

static void count_of(auth_throttle_count *out, const core_login *in)
{
	out->failures = in->failures;
	out->known = in->known;
	out->blocked_until = in->blocked_until;
}

static status_t store_check(void *arg, const char *addr, const char *user, time_t now,
			    auth_throttle_count *out_addr, auth_throttle_count *out_user,
			    auth_throttle_ended_fn ended, void *ctx)
{
	core_login a, u;
	status_t st = core_login_check(arg, addr, user, (int64_t)now, &a, &u, ended, ctx);

	count_of(out_addr, &a);
	count_of(out_user, &u);
	return st;
}

static status_t store_fail(void *arg, const char *addr, const char *user, bool known,
			   unsigned limit, unsigned window_sec, time_t now,
			   auth_throttle_count *out)
{
	core_login c;
	status_t st = core_login_fail(arg, addr, user, known, limit, window_sec, (int64_t)now, &c);

	count_of(out, &c);
	return st;
}

static status_t store_clear(void *arg, const char *addr, const char *user)
{
	return core_login_clear(arg, addr, user);
}

static status_t store_unlock(void *arg, const char *addr, const char *user, time_t before,
			     auth_throttle_ended_fn lifted, void *ctx, size_t *out_n)
{
	return core_login_unlock(arg, addr, user, (int64_t)before, lifted, ctx, out_n);
}

static const auth_throttle_store login_store = {
    .check = store_check,
    .fail = store_fail,
    .clear = store_clear,
    .unlock = store_unlock,
};

/* auth_options.rule_name: a mirrored name (as dockerd sends it, or with
 * the upstream's prefix) is the cache name to the rules. */
static const char *rule_name(void *arg, const char *repo, char *out, size_t outlen)
{
	server *srv = arg;

	return srv->core != NULL ? core_cache_name(srv->core, repo, out, outlen) : repo;
}

status_t access_gen_new(server *srv, const config *cfg, server_gen **out, char *err, size_t errlen)
{
	server_gen *g = calloc(1, sizeof(*g));
	const config *c;
	char users[CONFIG_PATH_MAX + 32], key[CONFIG_PATH_MAX + 32], msg[1024];
	auth_options o = {0};
	status_t st = ST_NOMEM;

	*out = NULL;
	status_errf(err, errlen, "out of memory");
	if (g == NULL || config_copy(&g->cfg, cfg) != ST_OK)
		goto fail;
	g->refs = 1;
	c = &g->cfg;
	if (c->auth_mode == AUTH_MODE_NONE) {
		/* Rules with auth off look like protection and are none. */
		if (c->auth_rules.n + c->auth_groups.n + c->auth_token_trust.n > 0)
			log_warn("auth = none: the %zu auth_rule, %zu auth_group and %zu "
				 "auth_token_trust line(s) are ignored and anyone may pull, push "
				 "and delete; set auth = basic or auth = token to apply them",
				 c->auth_rules.n, c->auth_groups.n, c->auth_token_trust.n);
		*out = g;
		return ST_OK;
	}
	if (config_users_path(c, users, sizeof(users)) != ST_OK ||
	    config_token_key_path(c, key, sizeof(key)) != ST_OK) {
		status_errf(err, errlen, "auth: users file or token key path too long");
		st = ST_INVALID;
		goto fail;
	}
	o.mode = (auth_mode)c->auth_mode;
	o.realm = c->auth_realm;
	o.users_path = users;
	o.groups = c->auth_groups.v;
	o.ngroups = c->auth_groups.n;
	o.rules = c->auth_rules.v;
	o.nrules = c->auth_rules.n;
	o.service = c->auth_token_service;
	o.issuer = c->auth_token_issuer;
	o.key_path = key;
	o.token_realm = c->auth_token_realm;
	o.token_lifetime_sec = c->auth_token_lifetime_sec;
	o.refresh_lifetime_sec = c->auth_token_refresh_lifetime_sec;
	o.trust = c->auth_token_trust.v;
	o.ntrust = c->auth_token_trust.n;
	o.fail_limit = c->auth_fail_limit;
	o.fail_window_sec = c->auth_fail_window_sec;
	o.throttle = srv->throttle; /* failures counted across reloads */
	o.rule_name = rule_name;
	o.rule_name_arg = srv;
	msg[0] = '\0';
	if ((st = auth_new(&g->auth, &o, msg, sizeof(msg))) != ST_OK) {
		status_errf(err, errlen, "auth: %s", msg[0] ? msg : status_str(st));
		goto fail;
	}
	if (c->auth_trusted_proxies[0] != '\0' &&
	    (st = auth_addrlist_parse(&g->proxies, c->auth_trusted_proxies, msg, sizeof(msg))) !=
		ST_OK) {
		status_errf(err, errlen, "auth_trusted_proxies: %s", msg);
		goto fail;
	}
	log_info("auth: %s, %zu rule(s), users in %s%s%s",
		 c->auth_mode == AUTH_MODE_BASIC ? "basic" : "token", c->auth_rules.n, users,
		 c->auth_mode == AUTH_MODE_TOKEN ? ", token key " : "",
		 c->auth_mode == AUTH_MODE_TOKEN ? key : "");
	*out = g;
	return ST_OK;
fail:
	access_gen_free(g);
	return st;
}

void access_gen_free(server_gen *g)
{
	if (g == NULL)
		return;
	auth_free(g->auth);
	auth_addrlist_free(g->proxies);
	config_free(&g->cfg);
	free(g);
}

server_gen *access_gen_get(server *srv)
{
	server_gen *g;

	pthread_mutex_lock(&srv->gen_mu);
	g = srv->gen;
	g->refs++;
	pthread_mutex_unlock(&srv->gen_mu);
	return g;
}

void access_gen_put(server *srv, server_gen *g)
{
	bool last;

	if (g == NULL)
		return;
	pthread_mutex_lock(&srv->gen_mu);
	last = --g->refs == 0;
	pthread_mutex_unlock(&srv->gen_mu);
	if (last)
		access_gen_free(g);
}

void access_gen_swap(server *srv, server_gen *g)
{
	server_gen *old;

	pthread_mutex_lock(&srv->gen_mu);
	old = srv->gen;
	srv->gen = g;
	pthread_mutex_unlock(&srv->gen_mu);
	access_gen_put(srv, old); /* the server's reference; requests keep theirs */
}

status_t access_open(server *srv)
{
	const config *c = &srv->cfg;
	char err[1024];
	status_t st;

	if ((st = tls_open(srv)) != ST_OK)
		return st;
	if (c->auth_mode != AUTH_MODE_NONE) {
		/* One throttle for the server's life, shared by every reload's auth. */
		if ((st = auth_throttle_new(&srv->throttle, c->auth_fail_limit,
					    c->auth_fail_window_sec)) != ST_OK)
			return st;
		/* Replicas sharing the index count the same failures (throttle.h). */
		if (c->auth_fail_limit > 0 && core_logins_shared(srv->core)) {
			auth_throttle_use_store(srv->throttle, &login_store, srv->core);
			log_info("auth: failed logins are counted in the shared metadata index");
		}
		if (c->auth_fail_limit > 0 && (st = hold_new(&srv->hold)) != ST_OK)
			return st;
	}
	if ((st = access_gen_new(srv, c, &srv->gen, err, sizeof(err))) != ST_OK) {
		log_error("%s", err);
		return st;
	}
	return ST_OK;
}

void access_close(server *srv)
{
	access_gen_put(srv, srv->gen);
	srv->gen = NULL;
	auth_throttle_free(srv->throttle);
	srv->throttle = NULL;
	tls_shutdown();
}

/* The rules' action for r's route and method; NULL: not gated. */
static const char *route_action(const request *r)
{
	switch (r->route->kind) {
	case R_BASE:
		return "login";
	case R_CATALOG:
		return "catalog";
	case R_TOKEN:
	case R_UI:	/* its session cookie is its own gate (ui_session.c), never Basic */
	case R_HEALTHZ: /* probes: never behind auth */
	case R_READYZ:
	case R__COUNT:
		return NULL;
	case R_METRICS: /* metrics_auth = same: any valid credentials */
		return r->gen->cfg.metrics_auth == CONFIG_METRICS_AUTH_SAME ? "login" : NULL;
	case R_MANIFEST:
		return r->method == M_PUT ? "push" : r->method == M_DELETE ? "delete" : "pull";
	case R_BLOB:
		return r->method == M_DELETE ? "delete" : "pull";
	case R_UPLOAD_START:
	case R_UPLOAD:
		return "push";
	case R_TAGS:
	case R_REFERRERS:
		return "pull";
	case R_ADMIN_REPO:
		return "delete"; /* a whole repository: its tags, manifests, blobs */
	}
	return "pull";
}

/*
 * The client's address as text into r->remote ("" if unknown): the peer's,
 * or behind a trusted proxy the one its X-Forwarded-For gives. An IPv4
 * client of a dual-stack listener arrives as ::ffff:a.b.c.d: written as
 * a.b.c.d, so logs and login throttling see one address whichever listener
 * it came through.
 */
void access_remote(request *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const struct in6_addr *a6;
	const char *xfp;
	char peer[sizeof(r->remote)] = "";

	if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
	} else if (sa && sa->sa_family == AF_INET6) {
		a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			inet_ntop(AF_INET, &a6->s6_addr[12], peer, sizeof(peer));
		else
			inet_ntop(AF_INET6, a6, peer, sizeof(peer));
	}
	auth_addrlist_client(r->gen->proxies, peer, request_header(r, "X-Forwarded-For"), r->remote,
			     sizeof(r->remote));
	r->from_proxy =
	    r->gen->proxies != NULL && peer[0] && auth_addrlist_has(r->gen->proxies, peer);
	/* A balancer that ends TLS says so: the token realm the challenges name
	 * and the UI's cookies must then be https's, not the hop's plain http. */
	xfp = request_header(r, "X-Forwarded-Proto");
	r->https = r->tls || (r->from_proxy && xfp != NULL && strcasecmp(xfp, "https") == 0);
}

/*
 * The gate's audit lines, at info: a refused request (403, credentials
 * refused, 429) and a login (Basic credentials checked by GET /v2/, as
 * `docker login` does in basic mode; token mode's logins are at /token).
 * A 401 without credentials is the first step of every client's login
 * dance, not worth a line.
 */
static void audit_gate(const request *r, const auth_request *ar, status_t st,
		       const auth_result *res)
{
	const char *user = res->user[0] ? res->user : "anonymous";
	const char *repo = ar->repo[0] ? ar->repo : "-";
	bool creds = ar->authorization != NULL && ar->authorization[0] != '\0';

	if (st == ST_DENIED)
		log_info("audit: denied %s %s to %s from %s", ar->action, repo, user, r->remote);
	else if (st == ST_TOO_MANY_REQUESTS)
		log_info("audit: denied %s %s from %s: too many failed logins", ar->action, repo,
			 r->remote);
	else if (st == ST_UNAVAILABLE)
		log_info("audit: denied %s %s from %s: failed-login counts unreachable", ar->action,
			 repo, r->remote);
	else if (st == ST_UNAUTHORIZED && creds)
		log_info("audit: denied %s %s from %s: credentials refused", ar->action, repo,
			 r->remote);
	else if (st == ST_OK && res->user[0] && strcmp(ar->action, "login") == 0 &&
		 auth_get_mode(r->gen->auth) == AUTH_MODE_BASIC)
		log_info("audit: login %s from %s (basic)", res->user, r->remote);
}

status_t access_gate(request *r)
{
	auth_request ar = {0};
	auth_result res;
	status_t st;

	if (r->gen->auth == NULL)
		return ST_OK;
	if ((ar.action = route_action(r)) == NULL)
		return ST_OK;
	ar.repo = r->name; /* a mirrored name's cache name (request_open_repo ran) */
	ar.alias = r->q != NULL ? core_req_alias(r->q) : NULL;
	ar.authorization = request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	ar.remote = r->remote;
	ar.host = request_header(r, MHD_HTTP_HEADER_HOST);
	ar.tls = r->https;
	st = auth_check(r->gen->auth, &ar, &res);
	r->who = res.who;
	audit_gate(r, &ar, st, &res);
	snprintf(r->user, sizeof(r->user), "%s", res.user);
	if (st == ST_OK && r->q != NULL)
		core_req_set_actor(r->q, res.user);
	if (st != ST_OK) {
		snprintf(r->challenge, sizeof(r->challenge), "%s", res.challenge);
		snprintf(r->detail, sizeof(r->detail), "%.255s", res.detail);
		r->retry_after = res.retry_after;
	}
	r->delay_ms = res.delay_ms;
	return st;
}
