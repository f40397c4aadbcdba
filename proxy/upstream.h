/*
 * upstream.h - the HTTP client for one upstream registry (libcurl).
 *
 * An upstream is another registry this one mirrors: Docker Hub, ghcr.io, a
 * company registry. This module speaks the OCI distribution API to it and
 * nothing else: it knows neither the blob store nor the metadata index nor
 * libmicrohttpd. The pull-through cache (proxy.h) decides what to ask for
 * and where the bytes go.
 *
 * What a request does for the caller:
 *   - authentication: a 401 with `WWW-Authenticate: Bearer realm,service,
 *     scope` fetches a token from the realm (anonymously, or with the
 *     configured credentials as Basic), caches it per scope until shortly
 *     before it expires, and repeats the request with it; a Basic challenge
 *     is answered with the credentials;
 *   - redirects (to blob storage) are followed, credentials are not sent
 *     to another host;
 *   - timeouts: a connect timeout and a stall timeout (no byte for that
 *     long), not a total one, so large blobs are never cut for being large;
 *   - retries with exponential backoff on connection failures, 429 and 5xx;
 *     a blob transfer cut half-way resumes with a Range request.
 * Failures are logged once per request with the upstream's name and URL.
 *
 * Thread-safe: one upstream serves every thread (each request is its own
 * libcurl handle; connections, DNS and TLS sessions are shared).
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../oci/digest.h"
#include "../common/status.h"

#define UPSTREAM_NAME_MAX 128  /* "docker.io", with NUL */
#define UPSTREAM_URL_MAX 512   /* "https://registry-1.docker.io", with NUL */
#define UPSTREAM_NS_MAX 512    /* "library,grafana,!team" */
#define UPSTREAM_PATH_MAX 4096 /* credentials and CA files */
#define UPSTREAM_SIZE_UNKNOWN UINT64_MAX

/* One `upstream = NAME URL|offline [key=value...]` line of registry.conf. */
typedef struct {
	char name[UPSTREAM_NAME_MAX];	     /* lowercase, a valid repository path component */
	char url[UPSTREAM_URL_MAX];	     /* http(s)://host[:port][/path], no trailing '/';
						"offline" for an offline one */
	bool offline;			     /* only what is cached is served; never contacted */
	char namespaces[UPSTREAM_NS_MAX];    /* patterns for unprefixed names, "" = none */
	char credentials[UPSTREAM_PATH_MAX]; /* file holding "USER:PASSWORD", "" = anonymous */
	char ca_file[UPSTREAM_PATH_MAX];     /* CA bundle for its TLS, "" = the system's */
} upstream_spec;

/*
 * Parses a spec line: NAME URL, then any of namespaces=P,P,...
 * credentials=FILE ca=FILE. The word `offline` in place of URL makes an
 * offline upstream (a machine without network serving what was imported:
 * names route as usual, nothing is ever fetched). NAME: lowercase letters, digits, '.', '-', '_'
 * (as in "docker.io", "ghcr.io", "registry.example.com"). A namespace
 * pattern is a glob over the first component of a repository name ("*",
 * "library", "team-*"); "!P" excludes. ST_OK, or ST_INVALID with a message
 * in err (errlen bytes; err may be NULL). Nothing is allocated.
 */
status_t upstream_spec_parse(upstream_spec *out, const char *line, char *err, size_t errlen);

/* Whether the first path component of repo is served by spec's namespaces
 * (some pattern matches it and no "!" pattern does). */
bool upstream_spec_serves(const upstream_spec *spec, const char *repo);

typedef struct {
	uint32_t timeout_sec;	     /* connect and stall timeout */
	uint32_t retries;	     /* extra attempts after a transient failure */
	uint32_t unreachable_sec;    /* an unreachable upstream is not asked for this long */
	uint64_t max_manifest_bytes; /* larger manifests are refused (ST_BAD_GATEWAY) */
	const char *user_agent;	     /* may be NULL */
} upstream_options;

typedef struct upstream upstream;

/*
 * Makes the client for spec (reads its credentials file now; an offline
 * spec needs no libcurl and gets a client whose requests all fail with
 * ST_UNAVAILABLE, without a network attempt). ST_OK with
 * *out (free with upstream_free); ST_INVALID (credentials file unreadable
 * or without ':'; logged); ST_NOMEM.
 */
status_t upstream_new(upstream **out, const upstream_spec *spec, const upstream_options *opt);

/*
 * Whether up was found unreachable (no connection: refused, no route, DNS,
 * connect timeout) within the last unreachable_sec: meanwhile every request
 * fails at once with ST_UNAVAILABLE, without a network attempt, so a cache
 * answers from what it has instead of waiting out retries on each request.
 * The log says once that it became unreachable, and once that it is back
 * (the first request after the window that gets any HTTP answer). An
 * offline upstream is never "unreachable": it is never tried. Any thread.
 */
bool upstream_unreachable(upstream *up);

/* What an upstream counted since it was made (for /metrics). */
typedef struct {
	uint64_t hits;	   /* reads the cache answered without asking it */
	uint64_t misses;   /* reads that had to ask it (fetch, or check a tag) */
	uint64_t requests; /* requests sent to it (each counted once, retries included) */
	uint64_t bytes;	   /* body bytes received from it */
	uint64_t errors;   /* requests that failed (not a 404): unreachable, 5xx, denied... */
	bool reachable;	   /* false after a request could not connect, until one is answered;
			    * false for an offline upstream, which is never asked */
} upstream_stats;

void upstream_stats_get(upstream *up, upstream_stats *out);

/* Counts a read of a repository it serves: hit (served from the cache
 * alone) or miss. Any thread; one atomic add. */
void upstream_count_lookup(upstream *up, bool hit);

/* Makes every transfer in progress and every later one fail soon with
 * ST_UNAVAILABLE (shutdown). Any thread. */
void upstream_cancel(upstream *up);

/* NULL is a no-op. No transfer may be running. */
void upstream_free(upstream *up);

/* The spec it was made from. Borrowed. */
const upstream_spec *upstream_get_spec(const upstream *up);

/* ---- manifests ---- */

typedef struct {
	char *body; /* GET: the bytes exactly as served (owned); HEAD: NULL */
	size_t len;
	char media_type[256];	 /* Content-Type without parameters */
	char digest[DIGEST_MAX]; /* Docker-Content-Digest, or "" if the upstream sent none */
	uint64_t size;		 /* Content-Length (GET: len) */
} upstream_manifest;

/*
 * GET (head false) or HEAD (head true) /v2/<repo>/manifests/<ref> with the
 * full Accept list. ST_OK with *out (release with upstream_manifest_free);
 * ST_NOT_FOUND (404); ST_DENIED (credentials refused); ST_UNAVAILABLE
 * (unreachable, or 429/5xx after the retries); ST_BAD_GATEWAY (a body over
 * max_manifest_bytes, another status). On failure *out is empty.
 */
status_t upstream_get_manifest(upstream *up, const char *repo, const char *ref, bool head,
			       upstream_manifest *out);
/* NULL is a no-op; a second call too. */
void upstream_manifest_free(upstream_manifest *m);

/* ---- blobs ---- */

/*
 * Where a blob's bytes go. on_start is called once, before the first byte,
 * with the blob's total size (UPSTREAM_SIZE_UNKNOWN if the upstream did not
 * say); on_data with consecutive bytes from the requested offset on, never
 * twice the same byte, also across retries. Either may return a status to
 * stop the transfer, which upstream_get_blob then returns. cancelled (may
 * be NULL) is polled about once a second.
 */
typedef struct {
	status_t (*on_start)(void *arg, uint64_t total);
	status_t (*on_data)(void *arg, const void *buf, size_t len);
	bool (*cancelled)(void *arg);
	void *arg;
} upstream_sink;

/*
 * GET /v2/<repo>/blobs/<digest> from byte offset on, into sink. The digest
 * is not checked here (the caller hashes what it stores). ST_OK once the
 * last byte was delivered; ST_NOT_FOUND; ST_DENIED; ST_UNAVAILABLE;
 * ST_BAD_GATEWAY; or what the sink returned.
 */
status_t upstream_get_blob(upstream *up, const char *repo, const char *digest, uint64_t offset,
			   const upstream_sink *sink);

/*
 * HEAD /v2/<repo>/blobs/<digest>: whether the upstream serves that blob in
 * that repository (the cache asks before it serves a copy it already has
 * from elsewhere). ST_OK with *out_size (UPSTREAM_SIZE_UNKNOWN if it did not
 * say); ST_NOT_FOUND; as upstream_get_manifest otherwise.
 */
status_t upstream_head_blob(upstream *up, const char *repo, const char *digest, uint64_t *out_size);

/* ---- tags ---- */

/*
 * All tags of repo (following `Link` pages), as a new JSON array of
 * strings in *out (caller json_decref's). ST_OK, or as upstream_get_manifest.
 */
status_t upstream_get_tags(upstream *up, const char *repo, json_t **out);

/* ---- pieces, exported for the unit tests ---- */

typedef enum { UPSTREAM_AUTH_NONE, UPSTREAM_AUTH_BASIC, UPSTREAM_AUTH_BEARER } upstream_auth;

typedef struct {
	upstream_auth scheme;
	char realm[1024];
	char service[256];
	char scope[1024];
	char error[64];
} upstream_challenge;

/*
 * Parses a WWW-Authenticate value (RFC 9110 challenges: a scheme, then
 * name=token or name="quoted \"string\"" parameters separated by commas).
 * With several challenges, Bearer wins over Basic. ST_OK with *out;
 * ST_UNSUPPORTED for a well-formed challenge of another scheme (Digest,
 * Negotiate); ST_INVALID for a malformed header, a Bearer without a realm,
 * a value too long for out's fields, or NULL. *out is zeroed on failure.
 */
status_t upstream_challenge_parse(upstream_challenge *out, const char *header);

/* The media types a manifest GET accepts, NULL-terminated: OCI index and
 * manifest, Docker manifest list and schema 2. (Schema 1 is left out: the
 * registry cannot store it.) */
extern const char *const upstream_manifest_types[];

/* The Accept header value built from them, comma-separated, into out.
 * ST_OK or ST_INVALID if it does not fit. */
status_t upstream_accept_value(char *out, size_t outlen);

/* Parses "bytes FIRST-LAST/TOTAL" (TOTAL may be '*'): ST_OK or ST_INVALID. */
status_t upstream_content_range_parse(const char *v, uint64_t *out_first, uint64_t *out_total);

#endif
