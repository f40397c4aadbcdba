/*
 * probe.c - one GET for `registry healthcheck` (probe.h). Kept apart from
 * upstream.c, which speaks the distribution API with auth and retries: a
 * probe is one request, no retry, bounded by its timeout.
 */
#include "probe.h"

#include <string.h>

#include "../common/curl_load.h"

typedef struct {
	char *pb_buf;
	size_t pb_len, pb_cap;
} probe_body;

/* Keeps the start of the body, drops the rest (but reads it all). */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	probe_body *b = arg;
	size_t len = size * n, room = b->pb_cap - 1 - b->pb_len;

	if (room > len)
		room = len;
	memcpy(b->pb_buf + b->pb_len, data, room);
	b->pb_len += room;
	b->pb_buf[b->pb_len] = '\0';
	return len;
}

status_t probe_get(const char *url, unsigned timeout_sec, long *out_code, char *body,
		   size_t bodylen, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	probe_body b = {body, 0, bodylen};
	CURLcode rc;
	CURL *h;

	*out_code = 0;
	if (bodylen > 0)
		body[0] = '\0';
	if (curl_load() != ST_OK || libcurl.global_init(CURL_GLOBAL_DEFAULT) != 0) {
		status_errf(err, errlen, "cannot load libcurl (package libcurl4)");
		return ST_IO;
	}
	if ((h = libcurl.easy_init()) == NULL) {
		status_errf(err, errlen, "out of memory");
		return ST_IO;
	}
	libcurl.easy_setopt(h, CURLOPT_URL, url);
	libcurl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	libcurl.easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_sec);
	libcurl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	libcurl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	libcurl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	libcurl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (bodylen > 0) {
		libcurl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		libcurl.easy_setopt(h, CURLOPT_WRITEDATA, &b);
	}
	rc = libcurl.easy_perform(h);
	if (rc == CURLE_OK)
		libcurl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, out_code);
	else
		status_errf(err, errlen, "%s", errbuf[0] ? errbuf : libcurl.easy_strerror(rc));
	libcurl.easy_cleanup(h);
	libcurl.global_cleanup();
	return rc == CURLE_OK ? ST_OK : ST_UNAVAILABLE;
}
