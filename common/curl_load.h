/*
 * curl_load.h - libcurl, loaded at run time (dlopen) by whoever needs it.
 *
 * Only the pull-through cache, `mirror sync`, notify receivers and the S3
 * blob store (storage/s3.c) talk HTTP, so
 * libcurl (and the twenty-odd libraries it pulls in: libssl, Kerberos,
 * LDAP, SASL, ssh2, nghttp2, ...) is not linked into the binary: a registry
 * without upstreams never maps it. curl_load() opens libcurl.so.4 (Debian
 * package libcurl4) and fills the table `libcurl` with the functions we
 * call; after it succeeded, call them as libcurl.easy_init() and so on.
 * The types and constants still come from <curl/curl.h>.
 */
#ifndef CURL_LOAD_H
#define CURL_LOAD_H

#include <curl/curl.h>

#include "../common/status.h"

#define CURL_LOAD_SONAME "libcurl.so.4"

/* The libcurl functions we use; each has the type of its namesake in
 * <curl/curl.h> (curl_easy_init for easy_init, ...). */
struct libcurl_api {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_escape) *easy_escape;
	__typeof__(curl_free) *free;
	__typeof__(curl_share_init) *share_init;
	__typeof__(curl_share_setopt) *share_setopt;
	__typeof__(curl_share_cleanup) *share_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

extern struct libcurl_api libcurl;

/*
 * Loads libcurl once per process (later calls return the first answer) and
 * fills `libcurl`. ST_OK, or ST_IO after logging why (library missing, a
 * function missing). Thread-safe. The library stays loaded until exit.
 */
status_t curl_load(void);

#endif
