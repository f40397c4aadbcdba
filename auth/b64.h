/*
 * b64.h - base64 for the auth module: the standard alphabet with padding
 * (HTTP Basic credentials) and the URL-safe one without (JWT segments).
 */
#ifndef AUTH_B64_H
#define AUTH_B64_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/status.h"

/* Bytes needed to encode n bytes, with the NUL. */
#define AUTH_B64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)

/*
 * Encodes in[0..len) into out (AUTH_B64_ENCODED_SIZE(len) bytes), with the
 * URL-safe alphabet and no padding when url, else the standard one with
 * padding. Always NUL-terminates. Returns the length written.
 */
size_t auth_b64_encode(char *out, const void *in, size_t len, bool url);

/*
 * Decodes the first inlen bytes of in into out (outcap bytes). url: the
 * URL-safe alphabet, padding optional; else the standard one, padding
 * required. Strict: any other byte, a bad length, or non-zero trailing bits
 * are refused. ST_OK with *outlen; ST_INVALID; ST_TOO_LARGE if out is too
 * small. out is not NUL-terminated.
 */
status_t auth_b64_decode(void *out, size_t outcap, size_t *outlen, const char *in, size_t inlen,
			 bool url);

#endif
