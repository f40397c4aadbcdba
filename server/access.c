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
 */
#include "access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "server.h"

/* Reads a PEM file of at most ACCESS_PEM_MAX bytes, NUL-terminated. */
static status_t read_pem(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	struct stat sb;
	size_t n;
	char *buf;

	*out = NULL;
	if (f == NULL) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return ST_IO;
	}
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > ACCESS_PEM_MAX) {
		log_error("%s: not a regular file of at most %d bytes", path, ACCESS_PEM_MAX);
		fclose(f);
		return ST_INVALID;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		fclose(f);
		return ST_NOMEM;
	}
	n = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		log_error("%s: not a PEM file", path);
		free(buf);
		return ST_INVALID;
	}
	*out = buf;
	return ST_OK;
}

static status_t tls_open(server *srv)
{
	const config *c = &srv->cfg;
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
	if ((st = read_pem(c->tls_cert, &srv->tls_cert_pem)) != ST_OK ||
	    (st = read_pem(c->tls_key, &srv->tls_key_pem)) != ST_OK)
		return st;
	return ST_OK;
}

/* auth_options.rule_name: a mirrored name (as dockerd sends it, or with
 * the upstream's prefix) is the cache name to the rules. */
static const char *rule_name(void *arg, const char *repo, char *out, size_t outlen)
{
	server *srv = arg;

	return srv->core != NULL ? core_cache_name(srv->core, repo, out, outlen) : repo;
}

status_t access_open(server *srv)
{
	const config *c = &srv->cfg;
	char users[CONFIG_PATH_MAX + 32], key[CONFIG_PATH_MAX + 32], err[1024];
	auth_options o = {0};
	status_t st;

	if ((st = tls_open(srv)) != ST_OK)
		return st;
	if (c->auth_mode == AUTH_MODE_NONE) {
		/* Rules with auth off look like protection and are none. */
		if (c->auth_rules.n + c->auth_groups.n + c->auth_token_trust.n > 0)
			log_warn("auth = none: the %zu auth_rule, %zu auth_group and %zu "
				 "auth_token_trust line(s) are ignored and anyone may pull, push "
				 "and delete; set auth = basic or auth = token to apply them",
				 c->auth_rules.n, c->auth_groups.n, c->auth_token_trust.n);
		return ST_OK;
	}
	if (config_users_path(c, users, sizeof(users)) != ST_OK ||
	    config_token_key_path(c, key, sizeof(key)) != ST_OK) {
		log_error("auth: users file or token key path too long");
		return ST_INVALID;
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
	o.rule_name = rule_name;
	o.rule_name_arg = srv;
	err[0] = '\0';
	if ((st = auth_new(&srv->auth, &o, err, sizeof(err))) != ST_OK) {
		log_error("auth: %s", err[0] ? err : status_str(st));
		return st;
	}
	if (c->auth_fail_limit > 0 && (st = hold_new(&srv->hold)) != ST_OK)
		return st;
	if (c->auth_trusted_proxies[0] != '\0' &&
	    (st = auth_addrlist_parse(&srv->proxies, c->auth_trusted_proxies, err, sizeof(err))) !=
		ST_OK) {
		log_error("auth_trusted_proxies: %s", err);
		return st;
	}
	log_info("auth: %s, %zu rule(s), users in %s%s%s",
		 c->auth_mode == AUTH_MODE_BASIC ? "basic" : "token", c->auth_rules.n, users,
		 c->auth_mode == AUTH_MODE_TOKEN ? ", token key " : "",
		 c->auth_mode == AUTH_MODE_TOKEN ? key : "");
	return ST_OK;
}

void access_close(server *srv)
{
	auth_free(srv->auth);
	srv->auth = NULL;
	auth_addrlist_free(srv->proxies);
	srv->proxies = NULL;
	free(srv->tls_cert_pem);
	if (srv->tls_key_pem) {
		memset(srv->tls_key_pem, 0, strlen(srv->tls_key_pem));
		free(srv->tls_key_pem);
	}
	srv->tls_cert_pem = srv->tls_key_pem = NULL;
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
		return NULL;
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
static void remote_of(request *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const struct in6_addr *a6;
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
	auth_addrlist_client(r->srv->proxies, peer, request_header(r, "X-Forwarded-For"), r->remote,
			     sizeof(r->remote));
}

status_t access_gate(request *r)
{
	const union MHD_ConnectionInfo *ci;
	auth_request ar = {0};
	auth_result res;
	status_t st;

	if (r->srv->auth == NULL)
		return ST_OK;
	remote_of(r);
	/* Only a TLS connection has a session (the daemon given back would be
	 * a worker of the pool, not the listener: no use for telling). */
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	r->tls = r->srv->tls_cert_pem != NULL && ci != NULL && ci->tls_session != NULL;
	if ((ar.action = route_action(r)) == NULL)
		return ST_OK;
	ar.repo = r->name; /* a mirrored name's cache name (mirror_route ran) */
	ar.alias = r->q != NULL ? core_req_alias(r->q) : NULL;
	ar.authorization = request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	ar.remote = r->remote;
	ar.host = request_header(r, MHD_HTTP_HEADER_HOST);
	ar.tls = r->tls;
	st = auth_check(r->srv->auth, &ar, &res);
	r->who = res.who;
	if (st != ST_OK) {
		snprintf(r->challenge, sizeof(r->challenge), "%s", res.challenge);
		snprintf(r->detail, sizeof(r->detail), "%.255s", res.detail);
		r->retry_after = res.retry_after;
	}
	r->delay_ms = res.delay_ms;
	return st;
}
