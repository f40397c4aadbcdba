/*
 * http.h - the HTTP layer: the libmicrohttpd daemon, the per-request state,
 * the route table's types and the reply helpers every handler uses.
 *
 * Request flow: the access callback is called once with no data (route,
 * check the URL, pass the access gate (access.c, auth/), run the route's
 * begin), then once per body chunk (data),
 * then once more with no data (finish queues the reply). After an error in
 * begin or data the body is still drained, then the error is replied, so
 * clients that stream without `Expect: 100-continue` read a proper answer.
 * Requests without a body (or with Expect: 100-continue) get an early error
 * at once.
 *
 * Conventions of server/: a handler (h_*.c) translates: it reads the
 * request, calls one operation of the core (core/core.h) on r->q, the
 * request's repository (opened after routing, so the gate sees the name
 * the core reads: a mirrored name's cache name), and writes the reply.
 * It includes only server/, core/, auth/, oci/ and common/ headers
 * (tests/check-layers.sh). A core operation answering ST_BUSY has
 * suspended the connection: the handler returns MHD_YES without a reply
 * and runs again when it is resumed. Every error leaves through
 * reply_error / reply_core_error; per-request state lives in `request`
 * and is released in the completed callback.
 */
#ifndef HTTP_H
#define HTTP_H

#include <microhttpd.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "../auth/auth.h"
#include "../common/metrics.h"
#include "../common/status.h"
#include "../core/core.h"
#include "../oci/oci.h"
#include "config.h"

typedef struct server server;
typedef struct request request;
typedef struct server_gen server_gen;

typedef enum {
	M_GET = 1,
	M_HEAD = 2,
	M_PUT = 4,
	M_POST = 8,
	M_PATCH = 16,
	M_DELETE = 32,
} http_method;

typedef enum {
	R_BASE,
	R_CATALOG,
	R_TAGS,
	R_MANIFEST,
	R_BLOB,
	R_UPLOAD_START,
	R_UPLOAD,
	R_REFERRERS,
	R_TOKEN,      /* /token: the built-in token service (auth = token) */
	R_METRICS,    /* /metrics: Prometheus' scrape (h_ops.c) */
	R_HEALTHZ,    /* /healthz: alive */
	R_READYZ,     /* /readyz: able to serve */
	R_ADMIN_REPO, /* /v2/_admin/repositories/<name>: a whole repository */
	R_UI,	      /* /, /ui and /ui/...: the web UI (ui_*.c) */
	R__COUNT
} route_kind;

/* What the server counts of its requests, for /metrics (h_ops.c writes
 * them out). Fixed arrays of atomic counters indexed by route, method and
 * status: counting is a few relaxed atomic adds, no lock, no allocation. */
#define HTTP_STAT_ROUTES (R__COUNT + 1) /* the last: requests no route matched */
#define HTTP_STAT_METHODS 7		/* GET ... DELETE, then any other */
#define HTTP_STAT_CODES 22		/* the statuses we answer (reply.c), "other", none */
typedef struct {
	metrics_counter hs_requests[HTTP_STAT_ROUTES][HTTP_STAT_METHODS][HTTP_STAT_CODES];
	metrics_hist hs_latency[HTTP_STAT_ROUTES];
	metrics_counter hs_bytes_in;  /* request body bytes received */
	metrics_counter hs_bytes_out; /* response body bytes sent */
	metrics_gauge hs_connections; /* open, on every listener */
} http_stats;

/* The index of an HTTP status (0: no reply) among HTTP_STAT_CODES. */
size_t http_stat_code_index(unsigned status);
/* The label values of those indexes ("manifest", "GET", "404"). */
const char *http_stat_route(size_t i);
const char *http_stat_method(size_t i);
const char *http_stat_code(size_t i);

/* begin: validate and prepare, before any body byte. data: one body chunk.
 * finish: queue the reply (only called when begin and data succeeded). */
typedef struct {
	route_kind kind;
	unsigned methods; /* bitmask of http_method */
	status_t (*begin)(request *r);
	status_t (*data)(request *r, const char *buf, size_t len);
	enum MHD_Result (*finish)(request *r);
} route;

#define REQUEST_ID_MAX 72 /* upload ids, tags, digests: with NUL */

struct request {
	server *srv;
	server_gen *gen; /* the configuration it started with (server.h) */
	struct MHD_Connection *conn;
	http_method method;
	const route *route;
	char name[REF_NAME_MAX];
	char ref[DIGEST_MAX]; /* tag, digest or upload id, per route */
	core_req *q;	      /* the repository, in the core (named routes) */

	status_t err; /* first failure; the body is drained, then replied */
	char detail[256];
	const char *err_range;	/* a Range header to send with a 416 */
	int64_t content_length; /* -1 when absent */
	bool has_body;
	bool expect_continue;
	bool started;	  /* begin has run */
	uint64_t ignored; /* body bytes drained after an error, or unwanted */

	/* buffered small bodies (manifests) */
	char *body;
	size_t body_len, body_cap, body_max;

	/* uploads */
	core_upload *up; /* checked out (a session), or a monolithic POST's */
	uint64_t received;
	bool has_range;
	uint64_t range_first, range_last;
	bool mounted;	/* POST ?mount= linked the blob */
	bool poisoned;	/* the session's bytes are unusable: end it */
	digest_alg alg; /* for a new session */

	/* replies that must outlive the handler (header values) */
	char location[REF_NAME_MAX + 128];

	/* access control: set by the gate (http.c) before begin */
	auth_principal *who;		    /* NULL when auth is off; freed at request end */
	char challenge[AUTH_CHALLENGE_MAX]; /* WWW-Authenticate of a 401 */
	unsigned retry_after;		    /* Retry-After of a 429, seconds */
	unsigned delay_ms;		    /* hold the answer this long (hold.h) */
	bool held;			    /* ...and it has been */
	bool decided;			    /* a POST /token's outcome is known */
	bool tls;			    /* came over TLS, on this connection */
	bool from_proxy;		    /* the peer is in auth_trusted_proxies */
	bool https;			    /* the client used HTTPS: tls, or a trusted
					     * proxy's X-Forwarded-Proto says so */
	char remote[64];		    /* client address */
	char user[256];			    /* whom the credentials named, also when refused */

	/* the access log (accesslog.h), written when the request completes */
	struct timespec t_arrived; /* CLOCK_REALTIME */
	struct timespec t_start;   /* CLOCK_MONOTONIC, for the duration */
	char method_s[16], proto[16];
	char path[1024];	 /* the URL's path, cut to this */
	unsigned status;	 /* of the reply queued; 0: none */
	uint64_t resp_bytes;	 /* the reply's body bytes */
	char digest[DIGEST_MAX]; /* a digest the request named or made */
	bool ops;		 /* came through metrics_listen: /metrics, /healthz, /readyz only */

	/* a handler's own state across calls of finish (a held answer: the web
	 * UI's login), released with state_free when the request completes */
	void *state;
	void (*state_free)(void *state);
};

/* The route table (routes.c) and URL matching. Fills r->route, r->name,
 * r->ref from url. ST_OK, ST_NOT_ROUTE, ST_NAME_INVALID,
 * ST_METHOD_NOT_ALLOWED. */
status_t routes_match(request *r, const char *url);

/* Whether the caller may do action ("pull", "push", "delete") to repo,
 * for decisions past the gate (mount source, catalog entries). Always true
 * when auth is off. */
bool request_allowed(request *r, const char *action, const char *repo);

/* ---- replies (reply.c): every response leaves through these ---- */

/* Maps a status to the HTTP status and OCI error code. */
unsigned reply_http_status(status_t st);
const char *reply_oci_code(status_t st);

/* Queues the spec's error JSON for st, with detail (may be NULL). */
enum MHD_Result reply_error(request *r, status_t st, const char *detail);
/* The same for a status the core answered, with the core's detail. */
enum MHD_Result reply_core_error(request *r, status_t st);

/* Adds the common headers, queues resp with status and destroys resp. */
enum MHD_Result reply_send(request *r, struct MHD_Response *resp, unsigned status);

/* An empty response; NULL on allocation failure. */
struct MHD_Response *reply_empty(void);
/* A response owning a malloc'd buffer (freed by MHD), len bytes of r's
 * reply body. */
struct MHD_Response *reply_buffer(request *r, char *buf, size_t len);
/* A response sending bytes [start, start + len) of blob b (len may be
 * CORE_SIZE_UNKNOWN for one arriving from an upstream): with its fd when
 * it has one (sendfile), else read through the core, waiting for bytes
 * still arriving. Takes b in every case; NULL on allocation failure. */
struct MHD_Response *reply_blob(request *r, core_blob *b, uint64_t start, uint64_t len);
/* Adds a header with a printf-formatted value. */
void reply_header(struct MHD_Response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- request helpers ---- */

/* A header or query argument, or NULL. Borrowed from MHD. */
const char *request_header(request *r, const char *name);
const char *request_arg(request *r, const char *name);

/* Holds r's answer for r->delay_ms (once) by suspending the connection
 * (hold.h): true if held, and the caller returns MHD_YES without a reply;
 * it is called again when the time is up. */
bool request_hold(request *r);

/* Appends to r->body, bounded by r->body_max: ST_OK, ST_TOO_LARGE, ST_NOMEM. */
status_t request_buffer(request *r, const char *buf, size_t len);

/* ---- handlers, one file per endpoint group ---- */
status_t base_begin(request *r);
enum MHD_Result base_finish(request *r);
enum MHD_Result catalog_finish(request *r);
enum MHD_Result tags_finish(request *r);

status_t blobs_begin(request *r);
enum MHD_Result blobs_finish(request *r);

status_t manifests_begin(request *r);
status_t manifests_data(request *r, const char *buf, size_t len);
enum MHD_Result manifests_finish(request *r);

status_t uploads_begin(request *r);
status_t uploads_data(request *r, const char *buf, size_t len);
enum MHD_Result uploads_finish(request *r);
/* Returns a session checked out by r, if any (request end). */
void uploads_request_done(request *r);

enum MHD_Result referrers_finish(request *r);

/* /metrics, /healthz, /readyz (h_ops.c) */
/* Whether r's route is served on the listener it came through: the ops
 * listener (metrics_listen) serves only these three; the others /metrics
 * only when metrics is on and there is no metrics_listen. ST_OK or
 * ST_NOT_ROUTE. */
status_t ops_served(const request *r);
status_t ops_begin(request *r);
enum MHD_Result metrics_finish(request *r);
enum MHD_Result healthz_finish(request *r);
enum MHD_Result readyz_finish(request *r);
enum MHD_Result admin_repo_finish(request *r);

/* the web UI (ui_page.c): every page under /ui/, and / */
status_t ui_begin(request *r);
status_t ui_data(request *r, const char *buf, size_t len);
enum MHD_Result ui_finish(request *r);

status_t token_begin(request *r);
status_t token_data(request *r, const char *buf, size_t len);
enum MHD_Result token_finish(request *r);

/* ---- the repository of a request (http.c) ---- */

/* After routing: opens r->q for a named route (its name resolved: the
 * cache name of a mirrored one, which the gate then sees). ST_OK,
 * ST_NAME_INVALID, ST_NOMEM. */
status_t request_open_repo(request *r);
/* How a request waits for the core: suspending its connection. */
core_waiter request_waiter(request *r);

#endif
