/*
 * probe.h - one plain GET to a URL, for `registry healthcheck`: the
 * status code and the start of the body, through libcurl (loaded at run
 * time, as for upstreams: ../common/curl_load.h).
 */
#ifndef PROBE_H
#define PROBE_H

#include <stddef.h>

#include "../common/status.h"

#define PROBE_BODY_MAX 512 /* bytes of the answer kept (its first line says why) */

/*
 * GETs url within timeout_sec (connect and answer). HTTPS certificates are
 * not verified: a probe asks a server it was pointed at whether it
 * answers, not who it is. ST_OK with *out_code and up to bodylen - 1
 * bytes of the body in body (NUL-terminated); ST_UNAVAILABLE (no answer:
 * err says why); ST_IO (libcurl could not be loaded).
 */
status_t probe_get(const char *url, unsigned timeout_sec, long *out_code, char *body,
		   size_t bodylen, char *err, size_t errlen);

#endif
