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
 */
#ifndef HTTP_H
#define HTTP_H

#include <microhttpd.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "../auth/auth.h"
#include "../oci/digest.h"
#include "../common/status.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"
#include "config.h"
#include "../oci/ref.h"

typedef struct server server;
typedef struct request request;
typedef struct upload_session upload_session;
typedef struct mirror_req mirror_req;

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
	R_TOKEN, /* /token: the built-in token service (auth = token) */
} route_kind;

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
	struct MHD_Connection *conn;
	http_method method;
	const route *route;
	char name[REF_NAME_MAX];
	char ref[DIGEST_MAX]; /* tag, digest or upload id, per route */
	meta *db;	      /* this thread's connection; borrowed */

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
	upload_session *sess;		  /* checked out from the session table */
	blob_upload *up;		  /* owned when not from a session (monolithic POST) */
	char up_id[BLOBSTORE_ID_MAX + 1]; /* id of r->up's file */
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
	bool tls;			    /* came over HTTPS */
	char remote[64];		    /* client address, when auth is on */

	/* pull-through cache: set by mirror_route when an upstream serves the
	 * name (r->name is then the local cache name); freed at request end */
	mirror_req *mirror;
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

/* Adds the common headers, queues resp with status and destroys resp. */
enum MHD_Result reply_send(request *r, struct MHD_Response *resp, unsigned status);

/* An empty response; NULL on allocation failure. */
struct MHD_Response *reply_empty(void);
/* A response owning a malloc'd buffer (freed by MHD). */
struct MHD_Response *reply_buffer(char *buf, size_t len);
/* A response sending bytes [start, start + len) of a stored blob: with the
 * reader's fd when the backend has one (sendfile), else read through it.
 * Takes rd in every case; NULL on allocation failure. */
struct MHD_Response *reply_blob(blob_reader *rd, uint64_t start, uint64_t len);
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

status_t token_begin(request *r);
status_t token_data(request *r, const char *buf, size_t len);
enum MHD_Result token_finish(request *r);

/* ---- the pull-through cache (h_mirror.c; the logic is proxy/proxy.h) ---- */

/* Builds srv->proxy from the configuration (NULL without upstreams).
 * ST_OK, ST_INVALID (logged), ST_NOMEM. */
status_t mirror_open(server *srv);
/* Ends upstream transfers and wakes every request waiting on one; before
 * the daemon stops. NULL-safe, idempotent. */
void mirror_stop(server *srv);
/* Frees srv->proxy (stopping it first). */
void mirror_close(server *srv);

/* Before the gate: if an upstream serves r->name (as asked with ?ns=),
 * sets r->mirror and makes r->name the local cache name, the name the
 * rules see. ST_OK; ST_NAME_INVALID; ST_NOMEM. */
status_t mirror_route(request *r);
/* After the gate: ST_METHOD_NOT_ALLOWED for a write (push, delete) to a
 * mirrored name, else ST_OK. */
status_t mirror_refuse_writes(request *r);
/* The name the client sent, when it reaches the same cache name without
 * ?ns= (dockerd's bare "library/alpine"), else NULL: a token granted for
 * it was granted by the rules on the cache name (auth_options.rule_name),
 * so it counts. Borrowed from r. */
const char *mirror_alias(const request *r);
/* GET/HEAD of a manifest, of a blob missing locally, of a tag list, in a
 * mirrored repository. They may suspend the connection and return MHD_YES
 * without a reply: the request's finish runs again when it is resumed. */
enum MHD_Result mirror_manifest(request *r);
enum MHD_Result mirror_blob(request *r);
enum MHD_Result mirror_tags(request *r);
/* A cached blob is being served from the store (h_blobs.c). */
void mirror_blob_served(request *r);
/* Adds OCI-Namespace when the request came with ?ns=. */
void mirror_reply_headers(request *r, struct MHD_Response *resp);
/* Releases r->mirror (request end). */
void mirror_request_done(request *r);

#endif
