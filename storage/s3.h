/*
 * s3.h - a small S3 client for the S3 blob store (blobstore_s3.c): requests
 * signed with AWS Signature Version 4 (our own, with OpenSSL's HMAC: curl's
 * CURLOPT_AWS_SIGV4 needs too many workarounds against Ceph RGW), sent
 * through libcurl loaded at run time (common/curl_load.h), with connection
 * reuse (a small pool of curl handles), retries with backoff on transport
 * errors, 5xx and SlowDown, timeouts, and TLS verified (s3_ca or the
 * system's certificates). Presigned GET URLs for s3_redirect.
 *
 * Thread-safe: an s3_client is shared by all threads.
 */
#ifndef S3_H
#define S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/status.h"

typedef struct s3_client s3_client;

typedef struct {
	const char *endpoint; /* http(s)://host[:port], no path */
	const char *bucket;
	const char *region; /* "us-east-1" when NULL or empty */
	const char *access_key;
	const char *secret_key;
	bool path_style; /* endpoint/bucket/key, else bucket.host/key */
	const char *ca;	 /* CA bundle file, or NULL for the system's */
} s3_config;

/* A response: status, body (for small answers: XML, errors) and the
 * headers we use. Free with s3_response_clear. */
typedef struct {
	long code; /* HTTP status, 0 when no answer came */
	char *body;
	size_t body_len;
	char etag[128];
	uint64_t content_length;
	bool has_length;
	char last_modified[64];
} s3_response;

/* Copies what it needs from cfg. ST_OK with *out (free with s3_client_free);
 * ST_IO when libcurl cannot be loaded; ST_INVALID for a bad endpoint; ST_NOMEM. */
status_t s3_client_new(s3_client **out, const s3_config *cfg);
void s3_client_free(s3_client *cl); /* NULL is a no-op */

/*
 * Sends METHOD to key (NULL: the bucket itself) with query (already in
 * "a=b&c" form, unencoded values; NULL for none), extra headers
 * ("Name: value", signed when they start with x-amz-), and body (may be
 * NULL). If sink is set, the body of a 2xx answer goes to it (return the
 * bytes taken; fewer aborts), else into resp->body (bounded to 16 MiB).
 * Retries transport errors, 5xx and 503 SlowDown with backoff (not when a
 * sink already got bytes). ST_OK once an HTTP answer came (look at
 * resp->code); ST_UNAVAILABLE when none did (S3 cannot be reached, or
 * the connection broke); ST_NOMEM.
 */
status_t s3_request(s3_client *cl, const char *method, const char *key, const char *query,
		    const char *const *headers, size_t nheaders, const void *body, size_t body_len,
		    size_t (*sink)(void *arg, const char *buf, size_t n), void *sink_arg,
		    s3_response *resp);

void s3_response_clear(s3_response *resp);

/* A presigned GET URL of key valid for expires_sec seconds, into out (malloc'd,
 * the caller frees). ST_OK, ST_NOMEM. */
status_t s3_presign_get(s3_client *cl, const char *key, unsigned expires_sec, char **out);
/* The same, signed as at time now (for tests: AWS's published example). */
status_t s3_presign_get_at(s3_client *cl, const char *key, unsigned expires_sec, time_t now,
			   char **out);

/* Percent-encodes s as SigV4 wants (unreserved bytes kept; '/' kept when
 * keep_slash) into out (malloc'd). For tests and query building. */
char *s3_encode(const char *s, bool keep_slash);

/* The text of the first <tag>...</tag> in xml at or after *pos, copied into
 * out (XML entities &amp; &lt; &gt; &quot; &apos; decoded); advances *pos past
 * it. false when there is none. */
bool s3_xml_next(const char *xml, size_t *pos, const char *tag, char *out, size_t outlen);

#endif
