/*
 * reply.c - every response leaves through here: the common headers, and the
 * one mapping from a status to an HTTP status, an OCI error code and the
 * spec's error body {"errors":[{"code","message","detail"}]}.
 */
#include "http.h"
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/log.h"

/* Read size of reply_blob when the backend has no fd to send from. */
#define REPLY_BLOB_BLOCK_BYTES (256 * 1024)
/* Read size of reply_blob over TLS. libmicrohttpd cannot sendfile through
 * GnuTLS, and its own file responses read 4 KiB at a time, so each 4 KiB
 * became a pread, a TLS record of its own and a sendmsg (strace: 65,536
 * of each per 256 MiB; perf: half the CPU of a pull). Read in blocks of
 * four full records instead: GnuTLS sends 16 KiB records, the most TLS
 * allows, and a pull costs the server as much CPU as nginx's (make bench). */
#define REPLY_TLS_BLOCK_BYTES (64 * 1024)

static const struct {
	unsigned http;
	const char *code;
} map[ST__COUNT] = {
    [ST_OK] = {200, ""},
    [ST_NOT_FOUND] = {404, "NOT_FOUND"},
    [ST_EXISTS] = {409, "CONFLICT"},
    [ST_INVALID] = {400, "INVALID"},
    [ST_TOO_LARGE] = {413, "SIZE_INVALID"},
    [ST_RANGE] = {416, "BLOB_UPLOAD_INVALID"},
    [ST_IO] = {500, "UNKNOWN"},
    [ST_NO_SPACE] = {507, "UNKNOWN"},
    [ST_NOMEM] = {503, "UNKNOWN"},
    [ST_UNSUPPORTED] = {415, "UNSUPPORTED"},
    [ST_DIGEST_MISMATCH] = {400, "DIGEST_INVALID"},
    [ST_BUSY] = {409, "BLOB_UPLOAD_INVALID"},
    [ST_BLOB_UNKNOWN] = {404, "BLOB_UNKNOWN"},
    [ST_BLOB_UPLOAD_UNKNOWN] = {404, "BLOB_UPLOAD_UNKNOWN"},
    [ST_BLOB_UPLOAD_INVALID] = {400, "BLOB_UPLOAD_INVALID"},
    [ST_DIGEST_INVALID] = {400, "DIGEST_INVALID"},
    [ST_MANIFEST_UNKNOWN] = {404, "MANIFEST_UNKNOWN"},
    [ST_MANIFEST_INVALID] = {400, "MANIFEST_INVALID"},
    [ST_MANIFEST_BLOB_UNKNOWN] = {400, "MANIFEST_BLOB_UNKNOWN"},
    [ST_NAME_INVALID] = {400, "NAME_INVALID"},
    [ST_NAME_UNKNOWN] = {404, "NAME_UNKNOWN"},
    [ST_TAG_INVALID] = {400, "TAG_INVALID"},
    [ST_SIZE_INVALID] = {400, "SIZE_INVALID"},
    [ST_UNAUTHORIZED] = {401, "UNAUTHORIZED"},
    [ST_DENIED] = {403, "DENIED"},
    [ST_TOO_MANY_REQUESTS] = {429, "TOOMANYREQUESTS"},
    [ST_METHOD_NOT_ALLOWED] = {405, "UNSUPPORTED"},
    [ST_NOT_ROUTE] = {404, "NOT_FOUND"},
    [ST_INTERNAL] = {500, "UNKNOWN"},
    [ST_UNAVAILABLE] = {503, "UNAVAILABLE"},
    [ST_BAD_GATEWAY] = {502, "UNKNOWN"},
};

unsigned reply_http_status(status_t st)
{
	if ((unsigned)st >= ST__COUNT || map[st].http == 0)
		return 500;
	return map[st].http;
}

const char *reply_oci_code(status_t st)
{
	if ((unsigned)st >= ST__COUNT || map[st].code == NULL)
		return "UNKNOWN";
	return map[st].code;
}

struct MHD_Response *reply_empty(void)
{
	return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

struct MHD_Response *reply_buffer(request *r, char *buf, size_t len)
{
	struct MHD_Response *resp;

	r->resp_bytes = r->method == M_HEAD ? 0 : len;
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		free(buf);
	return resp;
}

/* Read side of reply_blob when the blob has no fd: a backend without fds,
 * or a blob still arriving from an upstream (whose reads may wait). */
typedef struct {
	core_blob *rb_b;
	uint64_t rb_start, rb_len; /* rb_len MHD_SIZE_UNKNOWN if not said */
	core_waiter rb_w;
	metrics_counter *rb_sent; /* a blob of unknown size: counted as it goes */
} reply_blob_ctx;

/* MHD_ContentReaderCallback: pos counts from the response's first byte.
 * With a known size an early end is an error (the client sees a cut
 * transfer, never a short one that looks whole). A read that must wait
 * suspends the connection from inside the reader (libmicrohttpd allows
 * it) and answers 0; the core resumes it when bytes arrive. */
static ssize_t reply_blob_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	reply_blob_ctx *c = cls;
	size_t n = 0;
	status_t st;

	if (c->rb_len != MHD_SIZE_UNKNOWN) {
		if (pos >= c->rb_len)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (max > c->rb_len - pos)
			max = (size_t)(c->rb_len - pos);
	}
	st = core_blob_read(c->rb_b, c->rb_start + pos, buf, max, &n, &c->rb_w);
	if (st == ST_BUSY)
		return 0;
	if (st == ST_OK && n > 0) {
		if (c->rb_sent != NULL)
			metrics_add(c->rb_sent, n);
		return (ssize_t)n;
	}
	if (st == ST_OK && c->rb_len == MHD_SIZE_UNKNOWN)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void reply_blob_free(void *cls)
{
	reply_blob_ctx *c = cls;

	core_blob_free(c->rb_b);
	free(c);
}

struct MHD_Response *reply_blob(request *r, core_blob *b, uint64_t start, uint64_t len)
{
	struct MHD_Response *resp;
	reply_blob_ctx *c;
	/* An fd is for sendfile, which plain HTTP alone can use. */
	int fd = r->tls ? -1 : core_blob_take_fd(b);

	r->resp_bytes = r->method == M_HEAD || len == CORE_SIZE_UNKNOWN ? 0 : len;
	if (fd >= 0) {
		core_blob_free(b);
		resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
		if (resp == NULL)
			close(fd);
		return resp;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		core_blob_free(b);
		return NULL;
	}
	c->rb_b = b;
	c->rb_start = start;
	c->rb_len = len == CORE_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : len;
	c->rb_w = request_waiter(r);
	c->rb_sent = len == CORE_SIZE_UNKNOWN ? &r->srv->stats.hs_bytes_out : NULL;
	resp = MHD_create_response_from_callback(
	    c->rb_len, r->tls ? REPLY_TLS_BLOCK_BYTES : REPLY_BLOB_BLOCK_BYTES, reply_blob_read, c,
	    reply_blob_free);
	if (resp == NULL)
		reply_blob_free(c);
	return resp;
}

void reply_header(struct MHD_Response *resp, const char *name, const char *fmt, ...)
{
	char val[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	MHD_add_response_header(resp, name, val);
}

enum MHD_Result reply_send(request *r, struct MHD_Response *resp, unsigned status)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO; /* out of memory: drop the connection */
	r->status = status;
	MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	if (r->q != NULL && core_req_namespace(r->q)[0] != '\0')
		MHD_add_response_header(resp, "OCI-Namespace", core_req_namespace(r->q));
	ret = MHD_queue_response(r->conn, status, resp);
	if (ret == MHD_YES)
		r->status = status;
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result reply_error(request *r, status_t st, const char *detail)
{
	struct MHD_Response *resp;
	json_t *root;
	char *body;
	unsigned status = reply_http_status(st);

	if (detail == NULL || detail[0] == '\0')
		detail = NULL;
	/* Clients print the message, not the detail ("denied: MESSAGE"): a
	 * refusal's reason (a quota, an immutable tag) goes there too. */
	root = json_pack("{s:[{s:s,s:s,s:s?}]}", "errors", "code", reply_oci_code(st), "message",
			 st == ST_DENIED && detail != NULL ? detail : status_str(st), "detail",
			 detail);
	body = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (body == NULL)
		return MHD_NO;
	if (status >= 500)
		log_error("%s /v2/%s: %d %s%s%s", r->route ? "request" : "request", r->name, status,
			  status_str(st), detail ? ": " : "", detail ? detail : "");
	resp = reply_buffer(r, body, strlen(body));
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (st == ST_RANGE && r->err_range)
		MHD_add_response_header(resp, "Range", r->err_range);
	/* The gate (or the token service) says how to authenticate. */
	if (st == ST_UNAUTHORIZED && r->challenge[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->challenge);
	/* also a login refused while shared failed-login counts are unreachable */
	if ((st == ST_TOO_MANY_REQUESTS || st == ST_UNAVAILABLE) && r->retry_after > 0)
		reply_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "%u", r->retry_after);
	return reply_send(r, resp, status);
}

enum MHD_Result reply_core_error(request *r, status_t st)
{
	return reply_error(r, st, r->q != NULL ? core_req_detail(r->q) : NULL);
}
