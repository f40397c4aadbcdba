/*
 * http.h - the HTTP layer: the libmicrohttpd daemon, the per-request state,
 * the route table's types and the reply helpers every handler uses.
 *
 * Request flow: the access callback is called once with no data (route,
 * check the URL, run the route's begin), then once per body chunk (data),
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

#include "../common/digest.h"
#include "../common/status.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"
#include "config.h"
#include "ref.h"

typedef struct server server;
typedef struct request request;
typedef struct upload_session upload_session;

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
	const char *err_range; /* a Range header to send with a 416 */
	int64_t content_length; /* -1 when absent */
	bool has_body;
	bool expect_continue;
	bool started; /* begin has run */

	/* buffered small bodies (manifests) */
	char *body;
	size_t body_len, body_cap, body_max;

	/* uploads */
	upload_session *sess; /* checked out from the session table */
	blob_upload *up;      /* owned when not from a session (monolithic POST) */
	char up_id[BLOBSTORE_ID_MAX + 1]; /* id of r->up's file */
	uint64_t received;
	bool has_range;
	uint64_t range_first, range_last;
	bool mounted;	   /* POST ?mount= linked the blob */
	bool poisoned;	   /* the session's bytes are unusable: end it */
	digest_alg alg;	   /* for a new session */

	/* replies that must outlive the handler (header values) */
	char location[REF_NAME_MAX + 128];
};

/* The route table (routes.c) and URL matching. Fills r->route, r->name,
 * r->ref from url. ST_OK, ST_NOT_ROUTE, ST_NAME_INVALID,
 * ST_METHOD_NOT_ALLOWED. */
status_t routes_match(request *r, const char *url);

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
/* Adds a header with a printf-formatted value. */
void reply_header(struct MHD_Response *resp, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- request helpers ---- */

/* A header or query argument, or NULL. Borrowed from MHD. */
const char *request_header(request *r, const char *name);
const char *request_arg(request *r, const char *name);

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

#endif
