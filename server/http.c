/*
 * http.c - the libmicrohttpd daemon and the life of a request.
 *
 * libmicrohttpd runs a pool of worker threads, each with its own epoll loop.
 * Per-request state is a `request` in the connection's context, freed in the
 * request-completed callback whatever happened. Each worker thread opens
 * its own SQLite connection on first use (a pthread key closes it when the
 * thread ends), so statements are prepared once per thread and no lock is
 * shared between requests but SQLite's own.
 */
#include "server.h"
#include "http.h"
#include "access.h"
#include "cli.h"
#include "tls.h"
#include "notify.h"
#include "ui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/metrics.h"

#ifndef REGISTRY_VERSION
#define REGISTRY_VERSION "unknown"
#endif

/* Bytes of request data MHD hands us at a time is bounded by this buffer.
 * MHD zeroes all of it between two requests of a connection and each
 * connection keeps it resident: 64 KiB keeps uploads as fast as 256 KiB did
 * (a smaller one costs pushes ~10%) at a quarter of the per-request memset
 * and memory (make bench). */
#define HTTP_CONN_MEMORY (64 * 1024)
#define SWEEP_INTERVAL_MAX_SEC 60 /* sweeps happen at least this often */
/* After an early error the body is drained so the client reads the reply,
 * but not more than this: a larger (declared) body gets the reply at once
 * and the connection is closed. Bodies where none belongs, likewise. */
#define HTTP_DRAIN_MAX (64ull * 1024 * 1024)
/* GnuTLS priorities of the HTTPS listener: TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* On SIGTERM, requests in flight get this long to finish. */
#define HTTP_STOP_GRACE_SEC 30
/* The collector thread's nice value: pulls and pushes get the CPU first
 * (make bench: pull p99 during a collection). */
#define GC_NICE 10
/* The data folder's lock (data_lock), holding the server's pid. */
#define HTTP_LOCK_FILE "serve.lock"

static http_method method_parse(const char *m)
{
	static const struct {
		const char *name;
		http_method m;
	} methods[] = {
	    {"GET", M_GET},   {"HEAD", M_HEAD},	  {"PUT", M_PUT},
	    {"POST", M_POST}, {"PATCH", M_PATCH}, {"DELETE", M_DELETE},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].m;
	return 0;
}

/* Decides how the request's body is framed, from its headers. */
static void read_framing(request *r)
{
	const char *cl = request_header(r, "Content-Length");
	const char *te = request_header(r, "Transfer-Encoding");
	const char *ex = request_header(r, "Expect");

	r->content_length = -1;
	if (cl != NULL) {
		char *end;
		errno = 0;
		long long v = strtoll(cl, &end, 10);
		if (errno == 0 && *end == '\0' && end != cl && v >= 0)
			r->content_length = v;
	}
	r->has_body = r->content_length > 0 || (te != NULL && strcasestr(te, "chunked") != NULL);
	r->expect_continue = ex != NULL && strcasecmp(ex, "100-continue") == 0;
}

/*
 * Decodes %HH escapes of the URL and its arguments in place, as
 * libmicrohttpd's default does, except %00: a NUL would silently cut a name,
 * tag, digest or upload id short ("v1%00x" read as "v1"), so it stays
 * literal and the grammar checks refuse it. Returns the new length.
 */
static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static size_t unescape_no_nul(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;
	int hi, lo;

	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* The request callback of both kinds of listener: the registry's (ops
 * false) and metrics_listen's (ops true: /metrics, /healthz, /readyz). */
static enum MHD_Result serve(server *srv, bool ops, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_data_size, void **con_cls)
{
	request *r = *con_cls;
	const union MHD_ConnectionInfo *ci;
	enum MHD_Result ret;
	status_t st;

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		pthread_mutex_lock(&srv->stop_mu);
		srv->active++;
		pthread_mutex_unlock(&srv->stop_mu);
		r->srv = srv;
		r->gen = access_gen_get(srv);
		r->conn = conn;
		r->ops = ops;
		r->method = method_parse(method);
		clock_gettime(CLOCK_REALTIME, &r->t_arrived);
		clock_gettime(CLOCK_MONOTONIC, &r->t_start);
		snprintf(r->method_s, sizeof(r->method_s), "%s", method);
		snprintf(r->proto, sizeof(r->proto), "%s", version);
		snprintf(r->path, sizeof(r->path), "%s", url);
		/* Only a TLS connection has a session (the daemon given back
		 * would be a worker of the pool, not the listener: no use for
		 * telling). reply_blob goes by it; the gate's challenges by
		 * r->https, which access_remote derives from it. */
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		r->tls = srv->tls && ci != NULL && ci->tls_session != NULL;
		access_remote(r);
		log_debug("request %s %s", method, url);
		read_framing(r);
		if (r->method == 0)
			st = ST_METHOD_NOT_ALLOWED;
		else
			st = routes_match(r, url);
		/* which listener serves which of /metrics, /healthz, /readyz (and
		 * the ops listener nothing else): before the gate, so what is not
		 * served here is a 404 to everyone */
		if (st != ST_NOT_ROUTE && ops_served(r) != ST_OK) {
			r->route = NULL;
			st = ST_NOT_ROUTE;
		}
		if (st == ST_OK)
			st = request_open_repo(r); /* an upstream's name: the cache's */
		if (st == ST_OK)
			st = access_gate(r); /* who is asking, and may they */
		if (st == ST_OK && r->route->begin)
			st = r->route->begin(r);
		r->started = true;
		if (st != ST_OK) {
			r->err = st;
			/* No body coming, the client waits for our go, or the body is
			 * too large to drain: answer now. */
			if ((!r->has_body && r->delay_ms == 0) || r->expect_continue ||
			    r->content_length > (int64_t)HTTP_DRAIN_MAX) {
				ret = reply_error(r, r->err, r->detail);
				uploads_request_done(r);
				return ret;
			}
		}
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0; /* always consume what we were given */
		metrics_add(&srv->stats.hs_bytes_in, n);
		if (r->err != ST_OK || r->route->data == NULL) {
			/* Draining after an error, or a body where none belongs:
			 * ignored, up to a bound, then the connection is cut. */
			r->ignored += n;
			return r->ignored > HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
		}
		if ((st = r->route->data(r, upload_data, n)) != ST_OK)
			r->err = st;
		return MHD_YES;
	}

	/* A login after failed ones: answered later, by a thread that is not
	 * one of the workers. libmicrohttpd calls here again on resume. */
	if (request_hold(r))
		return MHD_YES;
	ret = r->err != ST_OK ? reply_error(r, r->err, r->detail) : r->route->finish(r);
	/* The reply leaves only after we return, but once it has, the client may
	 * use the upload session from another connection before the completed
	 * callback runs: release it now. */
	uploads_request_done(r);
	return ret;
}

/* The access log's line for r, which has ended. A reply that was queued
 * but not sent whole (the client went away, a blob failed its check) has
 * no status: "-" (combined), 0 (json). */
static void log_access(request *r, enum MHD_RequestTerminationCode toe)
{
	accesslog_entry e = {0};
	struct timespec now;
	int64_t us;

	if (!accesslog_enabled(r->srv->alog))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - r->t_start.tv_sec) * 1000000 +
	     (now.tv_nsec - r->t_start.tv_nsec) / 1000;
	e.when = r->t_arrived;
	e.duration_us = us > 0 ? (uint64_t)us : 0;
	e.remote = r->remote;
	e.user = r->user;
	e.method = r->method_s;
	e.path = r->path;
	e.proto = r->proto;
	e.status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->status : 0;
	e.bytes = e.status ? r->resp_bytes : 0;
	e.user_agent = request_header(r, MHD_HTTP_HEADER_USER_AGENT);
	e.referer = request_header(r, MHD_HTTP_HEADER_REFERER);
	e.repo = r->q ? core_req_name(r->q) : NULL;
	/* A digest the handler saw (a manifest by tag, a commit), else the
	 * reference when it is one (tags and upload ids have no ':'). */
	e.digest = r->digest[0] ? r->digest : strchr(r->ref, ':') ? r->ref : NULL;
	accesslog_write(r->srv->alog, &e);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	return serve(cls, false, conn, url, method, version, upload_data, upload_data_size,
		     con_cls);
}

static enum MHD_Result on_request_ops(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	return serve(cls, true, conn, url, method, version, upload_data, upload_data_size, con_cls);
}

/* Counts a finished request: by route, method and status, its latency,
 * and its reply's body when it went out whole (streamed ones of unknown
 * size count as they go: reply.c). A few atomic adds. */
static void count_request(server *srv, const request *r, enum MHD_RequestTerminationCode toe)
{
	size_t ri = r->route ? (size_t)r->route->kind : R__COUNT;
	size_t method = r->method ? (size_t)__builtin_ctz((unsigned)r->method) : 6;
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - r->t_start.tv_sec) * 1000000 +
	     (now.tv_nsec - r->t_start.tv_nsec) / 1000;
	metrics_add(&srv->stats.hs_requests[ri][method][http_stat_code_index(r->status)], 1);
	metrics_observe_us(&srv->stats.hs_latency[ri], us > 0 ? (uint64_t)us : 0);
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->method != M_HEAD)
		metrics_add(&srv->stats.hs_bytes_out, r->resp_bytes);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	server *srv = cls;
	request *r = *con_cls;

	if (r == NULL)
		return;
	log_access(r, toe);
	count_request(srv, r, toe);
	uploads_request_done(r);
	auth_principal_free(r->who);
	access_gen_put(srv, r->gen);
	core_req_free(r->q);
	if (r->state_free != NULL)
		r->state_free(r->state);
	free(r->body);
	free(r);
	*con_cls = NULL;
	/* server_stop may be waiting for the last request in flight. */
	pthread_mutex_lock(&srv->stop_mu);
	if (--srv->active == 0 && srv->stopping)
		pthread_cond_broadcast(&srv->stop_cv);
	pthread_mutex_unlock(&srv->stop_mu);
}

/* Connections open, for /metrics. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	server *srv = cls;
	const union MHD_ConnectionInfo *ci;

	metrics_gauge_add(&srv->stats.hs_connections,
			  toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	/* Before the handshake: the only moment resumption can be enabled. */
	if (toe == MHD_CONNECTION_NOTIFY_STARTED && srv->tls &&
	    (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION)) != NULL &&
	    ci->tls_session != NULL && tls_session_resumable(ci->tls_session) != ST_OK)
		log_debug("tls: a connection without session resumption");
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("mhd: %s", buf);
}

/*
 * True if this host can make IPv6 sockets (a kernel booted with
 * ipv6.disable=1, or a container without IPv6, cannot).
 */
static bool ipv6_available(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Resolves a listen address ("HOST:PORT") into a socket address. ":PORT"
 * means every address of both families: the IPv6 wildcard, which
 * daemon_start makes dual stack, or the IPv4 one where IPv6 is off.
 */
static status_t resolve_listen(const char *listen, struct sockaddr_storage *out, socklen_t *outlen)
{
	char host[256];
	uint16_t port;
	struct addrinfo hints = {0}, *res = NULL;
	char portstr[8];

	if (config_listen_split(listen, host, sizeof(host), &port) != ST_OK)
		return ST_INVALID;
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_family = AF_UNSPEC;
	if (host[0] == '\0')
		hints.ai_family = ipv6_available() ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res) != 0 || res == NULL)
		return ST_INVALID;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*outlen = res->ai_addrlen;
	freeaddrinfo(res);
	return ST_OK;
}

/*
 * A daemon on addr with the request callbacks; HTTPS with the certificate
 * and key access_open read when tls. NULL if it cannot listen.
 */
static struct MHD_Daemon *daemon_start(server *srv, const struct sockaddr_storage *addr,
				       unsigned threads, bool tls, bool ops)
{
	const config *cfg = &srv->cfg;
	/* The certificate through GnuTLS's callback, so a reload can replace
	 * it (tls.h). */
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, tls_cert_callback()},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
	    {MHD_OPTION_END, 0, NULL},
	};

	return MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
		MHD_ALLOW_SUSPEND_RESUME |
		/* Dual stack: [::]:PORT (and :PORT) take IPv4 clients too, as
		 * v4-mapped addresses; MHD_USE_IPv6 alone sets IPV6_V6ONLY. A
		 * specific IPv6 address is unaffected: only IPv6 reaches it. */
		(addr->ss_family == AF_INET6 ? MHD_USE_DUAL_STACK : 0) | (tls ? MHD_USE_TLS : 0),
	    0, NULL, NULL, ops ? on_request_ops : on_request, srv,
	    /* First: MHD logs through its own logger (to stderr) until it has
	     * read this option, and says so through ours when it is not first. */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)addr, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
	    MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)cfg->connection_timeout_sec, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)HTTP_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_UNESCAPE_CALLBACK,
	    unescape_no_nul, srv, MHD_OPTION_ARRAY, tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
}

/* The second, plain-HTTP listener (listen_plain), if configured. Logged
 * before the main "listening on" line, which stays the last one. */
static status_t plain_start(server *srv, unsigned threads)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const union MHD_DaemonInfo *info;

	if (srv->cfg.listen_plain[0] == '\0')
		return ST_OK;
	if (resolve_listen(srv->cfg.listen_plain, &addr, &addrlen) != ST_OK) {
		log_error("cannot resolve listen_plain address %s", srv->cfg.listen_plain);
		return ST_INVALID;
	}
	if ((srv->daemon_plain = daemon_start(srv, &addr, threads, false, false)) == NULL) {
		log_error("cannot listen on %s (address in use or not available)",
			  srv->cfg.listen_plain);
		return ST_EXISTS;
	}
	info = MHD_get_daemon_info(srv->daemon_plain, MHD_DAEMON_INFO_BIND_PORT);
	srv->port_plain = info ? info->port : 0;
	log_info("plain HTTP also on %s, port=%u", srv->cfg.listen_plain, srv->port_plain);
	return ST_OK;
}

/* metrics_listen's daemon, if configured: plain HTTP, one thread (a
 * scrape or a probe at a time is plenty), only /metrics, /healthz and
 * /readyz. Logged before the main "listening on" line. */
static status_t ops_start(server *srv)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const union MHD_DaemonInfo *info;

	if (srv->cfg.metrics_listen[0] == '\0')
		return ST_OK;
	if (resolve_listen(srv->cfg.metrics_listen, &addr, &addrlen) != ST_OK) {
		log_error("cannot resolve metrics_listen address %s", srv->cfg.metrics_listen);
		return ST_INVALID;
	}
	if ((srv->daemon_ops = daemon_start(srv, &addr, 1, false, true)) == NULL) {
		log_error("cannot listen on %s (address in use or not available)",
			  srv->cfg.metrics_listen);
		return ST_EXISTS;
	}
	info = MHD_get_daemon_info(srv->daemon_ops, MHD_DAEMON_INFO_BIND_PORT);
	srv->port_ops = info ? info->port : 0;
	log_info("metrics and health on %s, port=%u", srv->cfg.metrics_listen, srv->port_ops);
	return ST_OK;
}

/*
 * Takes the data folder's lock, DATA/serve.lock, for the life of the
 * process: two servers on one folder would each sweep the other's upload
 * files and temporary blobs as crash leftovers. flock(2) is released by the
 * kernel however the process ends (SIGKILL included), so a stale file never
 * blocks a restart; the holder's pid is written into it, for the refusal's
 * message only. ST_OK with *out_fd (kept open: closing it releases the
 * lock); ST_BUSY (logged, naming the holder) or ST_IO.
 *
 * shared (metadata = postgres): replicas of one registry share the folder
 * on purpose, their index shared too (an upload's row is every replica's,
 * so none sweeps another's upload as a leftover; temporary files are swept
 * only when old). They take the lock shared: together they keep out a
 * server on its own SQLite index, which takes it exclusive.
 */
static status_t data_lock(const char *data, bool shared, int *out_fd)
{
	char path[CONFIG_PATH_MAX + 16], buf[32];
	int fd = -1;
	ssize_t n;
	status_t st = ST_IO;

	*out_fd = -1;
	snprintf(path, sizeof(path), "%s/" HTTP_LOCK_FILE, data);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		goto done;
	}
	if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			log_error("cannot lock %s: %s", path, strerror(errno));
			goto done;
		}
		/* The holder may not have written its pid yet. */
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] != '\0')
			log_error("data folder %s is in use by pid %s (another registry serve)",
				  data, buf);
		else
			log_error("data folder %s is in use by another registry serve", data);
		st = ST_BUSY;
		goto done;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("cannot write the pid into %s: %s", path, strerror(errno));
	*out_fd = fd;
	fd = -1;
	st = ST_OK;
done:
	if (fd >= 0)
		close(fd);
	return st;
}

static void *sweeper_main(void *arg)
{
	server *srv = arg;
	struct timespec until;
	time_t interval;

	pthread_mutex_lock(&srv->stop_mu);
	while (!srv->stopping) {
		/* Twice per TTL so a session outlives it by half a TTL at most;
		 * the TTL of the current configuration (upload_ttl reloads). */
		server_gen *g = access_gen_get(srv);
		interval = g->cfg.upload_ttl_sec / 2;
		access_gen_put(srv, g);
		if (interval < 1)
			interval = 1;
		if (interval > SWEEP_INTERVAL_MAX_SEC)
			interval = SWEEP_INTERVAL_MAX_SEC;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval;
		pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &until);
		if (srv->stopping)
			break;
		pthread_mutex_unlock(&srv->stop_mu);
		core_uploads_expire(srv->core);
		pthread_mutex_lock(&srv->stop_mu);
	}
	pthread_mutex_unlock(&srv->stop_mu);
	return NULL;
}

static bool scrub_cancelled(void *arg)
{
	server *srv = arg;
	int stopping;

	pthread_mutex_lock(&srv->stop_mu);
	stopping = srv->stopping;
	pthread_mutex_unlock(&srv->stop_mu);
	return stopping != 0;
}

/* scrub_interval: a scrub with repair after each interval (the first one
 * interval after start), paced at scrub_rate; stopping cancels it. Both
 * are the current configuration's: a reload changes them from the next
 * wait on. */
static void *scrubber_main(void *arg)
{
	server *srv = arg;
	core_scrub_options so = {.repair = true, .cancelled = scrub_cancelled, .cancel_arg = srv};
	core_scrub_summary sum;
	struct timespec until;

	pthread_mutex_lock(&srv->stop_mu);
	while (!srv->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		server_gen *g = access_gen_get(srv);
		until.tv_sec += g->cfg.scrub_interval_sec;
		access_gen_put(srv, g);
		pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &until);
		if (srv->stopping)
			break;
		pthread_mutex_unlock(&srv->stop_mu);
		server_gen *rg = access_gen_get(srv); /* this run's pace */
		so.rate = rg->cfg.scrub_rate_bytes;
		access_gen_put(srv, rg);
		if (core_scrub(srv->core, &so, NULL, NULL, &sum) == ST_OK && !sum.cancelled)
			log_info("scrub: %zu checked, %zu bad, %zu quarantined", sum.checked,
				 sum.bad, sum.quarantined);
		pthread_mutex_lock(&srv->stop_mu);
	}
	pthread_mutex_unlock(&srv->stop_mu);
	return NULL;
}

static bool collector_stop(void *arg)
{
	server *srv = arg;
	bool stop;

	pthread_mutex_lock(&srv->stop_mu);
	stop = srv->stopping != 0;
	pthread_mutex_unlock(&srv->stop_mu);
	return stop;
}

/* Collects garbage every gc_interval while the server serves, as `registry
 * gc` does (core_collect: retention, then what nothing references, in
 * small transactions, so requests go on), until it stops. Each removal is
 * logged at info with its rule; core_collect ends with a summary line. */
static void *collector_main(void *arg)
{
	server *srv = arg;
	core_gc_options o = {.log_each = true, .stop = collector_stop, .stop_arg = srv};
	core_gc_report r;
	struct timespec until;

	/* Serving goes first: on Linux a thread has its own nice value. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), GC_NICE) != 0)
		log_debug("gc: cannot lower the collector's priority");
	pthread_mutex_lock(&srv->stop_mu);
	while (!srv->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		server_gen *g = access_gen_get(srv); /* gc_interval reloads */
		until.tv_sec += g->cfg.gc_interval_sec;
		access_gen_put(srv, g);
		pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &until);
		if (srv->stopping)
			break;
		pthread_mutex_unlock(&srv->stop_mu);
		core_collect(srv->core, &o, &r);
		pthread_mutex_lock(&srv->stop_mu);
	}
	pthread_mutex_unlock(&srv->stop_mu);
	return NULL;
}

/*
 * systemd's watchdog (WatchdogSec=): WATCHDOG=1 every half interval, each
 * after core_check has read the metadata index, so a registry whose
 * database is wedged stops petting and systemd restarts it. Runs only when
 * the manager asked (notify_watchdog_usec).
 */
static void *watchdog_main(void *arg)
{
	server *srv = arg;
	uint64_t half = srv->watchdog_usec / 2;
	struct timespec until;

	pthread_mutex_lock(&srv->stop_mu);
	while (!srv->stopping) {
		pthread_mutex_unlock(&srv->stop_mu);
		if (core_check(srv->core) == ST_OK)
			notify_send("WATCHDOG=1");
		else
			log_warn("watchdog: the metadata index does not answer; not notifying");
		pthread_mutex_lock(&srv->stop_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(half / 1000000);
		until.tv_nsec += (long)(half % 1000000) * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!srv->stopping &&
		       pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &until) == 0)
			; /* woken for another reason (a request ended): wait on */
	}
	pthread_mutex_unlock(&srv->stop_mu);
	return NULL;
}

status_t server_start(server **out, const config *cfg)
{
	server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const union MHD_DaemonInfo *info;
	unsigned threads;
	core_options co;
	char err[512] = "out of memory";
	status_t st;

	*out = NULL;
	if (srv == NULL)
		return ST_NOMEM;
	srv->cfg = *cfg;
	srv->lock_fd = -1;
	pthread_mutex_init(&srv->stop_mu, NULL);
	pthread_mutex_init(&srv->gen_mu, NULL);
	pthread_cond_init(&srv->stop_cv, NULL);

	if (mkdir(cfg->data, 0755) != 0 && errno != EEXIST) {
		log_error("cannot create data folder %s: %s", cfg->data, strerror(errno));
		st = ST_IO;
		goto fail;
	}
	/* Before anything in the folder is touched: the start-up sweep below
	 * would remove a running server's uploads. */
	if ((st = data_lock(cfg->data, strcmp(cfg->metadata, "sqlite") != 0, &srv->lock_fd)) !=
	    ST_OK)
		goto fail;
	/* The core sweeps crash leftovers at open: ours alone, now. */
	cli_core_options(&srv->cfg, true, SERVER_USER_AGENT, true, &co);
	if ((st = core_open(&srv->core, &co)) != ST_OK)
		goto fail;
	if (cfg->ui && (st = ui_session_key_load(cfg->data, srv->ui_key)) != ST_OK)
		goto fail;
	if ((st = accesslog_new(&srv->alog)) != ST_OK ||
	    (st = accesslog_configure(srv->alog, cfg->access_log,
				      (accesslog_format)cfg->access_log_format, err,
				      sizeof(err))) != ST_OK) {
		log_error("%s", err);
		goto fail;
	}
	if ((st = access_open(srv)) != ST_OK)
		goto fail;
	if ((st = resolve_listen(cfg->listen, &addr, &addrlen)) != ST_OK) {
		log_error("cannot resolve listen address %s", cfg->listen);
		goto fail;
	}
	threads = cfg->threads ? cfg->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	srv->daemon = daemon_start(srv, &addr, threads, srv->tls, false);
	if (srv->daemon == NULL) {
		log_error("cannot listen on %s (address in use or not available%s)", cfg->listen,
			  srv->tls ? ", or the TLS certificate and key are unusable" : "");
		st = ST_EXISTS;
		goto fail;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	if ((st = plain_start(srv, threads)) != ST_OK || (st = ops_start(srv)) != ST_OK)
		goto fail;
	if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) == 0)
		srv->sweeper_started = 1;
	if (cfg->scrub_interval_sec > 0 &&
	    pthread_create(&srv->scrubber, NULL, scrubber_main, srv) == 0)
		srv->scrubber_started = 1;
	if (cfg->gc_interval_sec > 0 &&
	    pthread_create(&srv->collector, NULL, collector_main, srv) == 0)
		srv->collector_started = 1;
	log_info("listening on %s (port %u)%s, data in %s, %u threads", cfg->listen, srv->port,
		 srv->tls ? " with TLS" : "", cfg->data, threads);
	/* Type=notify: systemd starts what depends on us only now, when the
	 * sockets take connections; before the first WATCHDOG=1. */
	notify_send("READY=1");
	if ((srv->watchdog_usec = notify_watchdog_usec()) > 0 &&
	    pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0)
		srv->watchdog_started = 1;
	*out = srv;
	return ST_OK;
fail:
	server_stop(srv);
	return st;
}

/*
 * Stops accepting connections, then waits until no request is in flight,
 * at most HTTP_STOP_GRACE_SEC (a stalled client is cut sooner, by the
 * connection timeout). Idle keep-alive connections do not hold it up.
 */
static void drain_requests(server *srv)
{
	MHD_socket lsock = MHD_quiesce_daemon(srv->daemon);
	struct timespec until;

	if (lsock != MHD_INVALID_SOCKET)
		close(lsock); /* ours after quiescing: new clients are refused */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += HTTP_STOP_GRACE_SEC;
	pthread_mutex_lock(&srv->stop_mu);
	if (srv->active > 0)
		log_info("waiting for %u request(s) in flight", srv->active);
	while (srv->active > 0)
		if (pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &until) != 0)
			break;
	if (srv->active > 0)
		log_warn("stopping with %u request(s) still in flight", srv->active);
	pthread_mutex_unlock(&srv->stop_mu);
}

void server_reopen_logs(server *srv)
{
	char err[512];

	if (accesslog_reopen(srv->alog, err, sizeof(err)) != ST_OK)
		log_error("SIGUSR1: %s (lines go on to the old file)", err);
	else
		log_info("SIGUSR1: log files reopened");
}

void server_stop(server *srv)
{
	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->stop_mu);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->stop_cv);
	pthread_mutex_unlock(&srv->stop_mu);
	if (srv->sweeper_started)
		pthread_join(srv->sweeper, NULL);
	if (srv->scrubber_started)
		pthread_join(srv->scrubber, NULL);
	if (srv->watchdog_started)
		pthread_join(srv->watchdog, NULL);
	if (srv->collector_started)
		pthread_join(srv->collector, NULL); /* a run ends at its next batch */
	if (srv->daemon_plain) {
		/* refuse new plain clients too; drain_requests counts both */
		MHD_socket ps = MHD_quiesce_daemon(srv->daemon_plain);
		if (ps != MHD_INVALID_SOCKET)
			close(ps);
	}
	if (srv->daemon_ops) {
		MHD_socket os = MHD_quiesce_daemon(srv->daemon_ops);
		if (os != MHD_INVALID_SOCKET)
			close(os);
	}
	hold_release(srv->hold); /* held answers go out now */
	if (srv->daemon) {
		drain_requests(srv);
		hold_free(srv->hold); /* none may stay suspended past here */
		srv->hold = NULL;
		core_stop(srv->core); /* wakes requests still waiting on an upstream */
		MHD_stop_daemon(srv->daemon);
	}
	hold_free(srv->hold); /* when start failed before the daemon ran */
	if (srv->daemon_plain)
		MHD_stop_daemon(srv->daemon_plain);
	if (srv->daemon_ops)
		MHD_stop_daemon(srv->daemon_ops);
	access_close(srv);
	core_close(srv->core);
	accesslog_free(srv->alog);
	pthread_mutex_destroy(&srv->stop_mu);
	pthread_mutex_destroy(&srv->gen_mu);
	pthread_cond_destroy(&srv->stop_cv);
	if (srv->lock_fd >= 0)
		close(srv->lock_fd); /* last: the folder is free for another server */
	free(srv);
}
