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
#include "accesslog.h"
#include "config.h"
#include "hold.h"
#include "http.h"

/*
 * What a reload (reload.c) replaces: the configuration and the objects
 * built from it. Each request holds the generation current when it arrived
 * until it completes (access_gen_get/put), so a reload never changes the
 * rules under a request in flight, and the last holder of a replaced one
 * frees it.
 */
/* What the pull-through cache tells upstreams it is (at start and on reload). */
#define SERVER_USER_AGENT "registry/" REGISTRY_VERSION " (pull-through cache)"

struct server_gen {
	unsigned refs;		/* under server.gen_mu: the server's, and each request's */
	config cfg;		/* owns its lists */
	auth *auth;		/* NULL when auth is none */
	auth_addrlist *proxies; /* auth_trusted_proxies; NULL when none */
};

struct server {
	config cfg;
	core *core; /* the registry's operations */
	struct MHD_Daemon *daemon;
	uint16_t port; /* the bound port (useful with port 0) */
	pthread_t sweeper;
	int sweeper_started;
	pthread_t scrubber; /* scrub_interval's runs */
	int scrubber_started;
	pthread_t watchdog; /* WATCHDOG=1 to systemd (http.c), when it asked */
	int watchdog_started;
	uint64_t watchdog_usec;
	pthread_t collector; /* garbage collection every gc_interval */
	int collector_started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	int stopping;
	unsigned active; /* requests in flight, under stop_mu */
	/* access control and TLS (access.c, tls.c, auth/) */
	pthread_mutex_t gen_mu;
	server_gen *gen;		/* the current one, under gen_mu */
	struct auth_throttle *throttle; /* failed logins, across reloads; NULL: auth off at start */
	hold *hold;			/* slowed login answers; NULL when auth is off at start */
	struct MHD_Daemon *daemon_plain; /* listen_plain's, beside an HTTPS daemon */
	uint16_t port_plain;
	bool tls;	 /* listen serves HTTPS (tls.h holds the certificate) */
	int lock_fd;	 /* DATA/serve.lock, flock()ed while the server runs */
	accesslog *alog; /* the access log; off unless access_log says */
	/* observability (h_ops.c) */
	http_stats stats;	       /* requests, latency, bytes, connections */
	struct MHD_Daemon *daemon_ops; /* metrics_listen's: /metrics, /healthz, /readyz */
	uint16_t port_ops;
	/* the web UI's session and CSRF key (ui_session.c), when ui is on */
	unsigned char ui_key[32];
};

/*
 * Opens storage under cfg->data and starts listening. ST_OK with *out
 * (stop with server_stop); ST_BUSY (another server holds the data
 * folder's lock), ST_IO (storage, the core), ST_INVALID (listen address), ST_EXISTS
 * (address in use or cannot bind). Logs the reason.
 */
status_t server_start(server **out, const config *cfg);

/*
 * Applies newcfg (copied) to the running server, as SIGHUP does
 * (reload.c): the users file, groups, rules, token keys and trust, trusted
 * proxies, the TLS certificate and key, the access log and the log level;
 * the keys that need a restart keep their running values and are named in
 * the log. Requests in flight finish under the configuration they started
 * with. ST_OK; else nothing changed and the log says why. from names the
 * file, for the log.
 */
status_t server_reload(server *srv, const config *newcfg, const char *from);

/* Opens the log files again by their names (SIGUSR1, after logrotate
 * moved them); a failure is logged and the old file kept. */
void server_reopen_logs(server *srv);

/* Stops accepting, finishes in-flight requests, frees everything. NULL ok. */
void server_stop(server *srv);

#endif
