/*
 * access.h - the server's side of access control and TLS: building the
 * auth gate and reading the TLS files at start-up, and the gate every
 * request passes between routing and its handler (auth/ decides; this
 * turns a request into the plain strings auth/ takes, and its answer into
 * the request's reply state).
 */
#ifndef ACCESS_H
#define ACCESS_H

#include "../common/status.h"
#include "http.h"

/*
 * Reads the TLS certificate and key (tls.h) when tls_cert and tls_key are
 * set, and builds the first generation (srv->gen) from srv->cfg, with the
 * failed-login throttle and the held answers' timer when auth is on. ST_OK;
 * ST_INVALID (a bad rule, users file, key, certificate, half a TLS set-up,
 * or a libmicrohttpd without TLS), ST_IO, ST_NOMEM, each logged with its
 * reason. Undone by access_close, also after a failure.
 */
status_t access_open(server *srv);

/* Frees what access_open made (the requests must be done). */
void access_close(server *srv);

/*
 * A generation built from cfg (copied): the auth gate (NULL when auth is
 * none; it reads the users file and keys now) and the trusted proxies.
 * ST_OK with *out (one reference, the caller's); else err says what is
 * wrong and nothing is kept.
 */
status_t access_gen_new(server *srv, const config *cfg, server_gen **out, char *err, size_t errlen);
void access_gen_free(server_gen *g);
/* The current generation, with a reference for the caller (a request
 * holds it until it completes). */
server_gen *access_gen_get(server *srv);
/* Drops a reference; the last one frees the generation. NULL is a no-op. */
void access_gen_put(server *srv, server_gen *g);
/* Makes g (and its reference) current; the old one goes when its last
 * request completes. */
void access_gen_swap(server *srv, server_gen *g);

/*
 * The client's address as text into r->remote ("" if unknown): the peer's,
 * or behind a trusted proxy (auth_trusted_proxies) the one its
 * X-Forwarded-For gives; an IPv4 client of a dual-stack listener as
 * a.b.c.d. For the gate's throttling and the logs. Also r->from_proxy, and
 * r->https: r->tls (set before), or a trusted proxy's X-Forwarded-Proto of
 * https.
 */
void access_remote(request *r);

/*
 * The gate, for a routed request: decides r's action from its route and
 * method and asks auth_check. ST_OK with r->who; else the status to reply
 * with, r->challenge / r->retry_after / r->detail filled. ST_OK at once
 * when auth is off, and for /token (which checks its own credentials).
 * Reads r->https and r->remote (access_remote's), names the
 * user to the core (core_req_set_actor) and writes the audit lines of
 * refusals and logins.
 */
status_t access_gate(request *r);

#endif
