/*
 * server.h - the running registry: configuration, the core (core/core.h:
 * storage, uploads, the cache), the HTTP daemons and the access gate. One
 * per process.
 */
#ifndef SERVER_H
#define SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "../auth/addrlist.h"
#include "../auth/auth.h"
#include "../core/core.h"
#include "config.h"
#include "hold.h"
#include "http.h"

struct server {
	config cfg;
	core *core; /* the registry's operations */
	struct MHD_Daemon *daemon;
	uint16_t port; /* the bound port (useful with port 0) */
	pthread_t sweeper;
	int sweeper_started;
	pthread_t collector; /* garbage collection every gc_interval */
	int collector_started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	int stopping;
	unsigned active; /* requests in flight, under stop_mu */
	/* access control and TLS (server/tls.c, auth/) */
	auth *auth;			 /* NULL when auth is none */
	hold *hold;			 /* slowed login answers; NULL when auth is none */
	auth_addrlist *proxies;		 /* auth_trusted_proxies; NULL when none */
	struct MHD_Daemon *daemon_plain; /* listen_plain's, beside an HTTPS daemon */
	uint16_t port_plain;
	char *tls_cert_pem, *tls_key_pem; /* read at start, kept while the daemon runs */
	int lock_fd;			  /* DATA/serve.lock, flock()ed while the server runs */
};

/*
 * Opens storage under cfg->data and starts listening. ST_OK with *out
 * (stop with server_stop); ST_BUSY (another server holds the data
 * folder's lock), ST_IO (storage, the core), ST_INVALID (listen address), ST_EXISTS
 * (address in use or cannot bind). Logs the reason.
 */
status_t server_start(server **out, const config *cfg);

/* Stops accepting, finishes in-flight requests, frees everything. NULL ok. */
void server_stop(server *srv);

#endif
