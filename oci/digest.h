/*
 * digest.h - content digests ("sha256:<64 hex>", "sha512:<128 hex>").
 *
 * Parsing follows the OCI image spec's grammar: algorithm
 * [a-z0-9]+([+._-][a-z0-9]+)*, ':', encoded [a-zA-Z0-9=_-]+. Only sha256 and
 * sha512 are computed; for them the encoded part must be lowercase hex of
 * the exact length. Hashing uses OpenSSL EVP.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>
#include "../common/status.h"

typedef enum { DIGEST_SHA256 = 0, DIGEST_SHA512 = 1 } digest_alg;

/* Room for the longest digest we produce, "sha512:" + 128 hex + NUL. */
#define DIGEST_MAX 136

/*
 * Checks s as a digest. ST_OK and *out_alg set (out_alg may be NULL) for a
 * valid sha256/sha512 digest; ST_UNSUPPORTED for a well-formed digest of
 * another algorithm; ST_INVALID otherwise (including NULL, too long).
 */
status_t digest_parse(const char *s, digest_alg *out_alg);

/* Algorithm by name ("sha256", "sha512"): ST_OK, or ST_UNSUPPORTED. */
status_t digest_alg_parse(const char *name, digest_alg *out_alg);

/* "sha256" or "sha512". */
const char *digest_alg_name(digest_alg alg);

/* A running hash. Created by digest_ctx_new, owned by the caller. */
typedef struct digest_ctx digest_ctx;

/* ST_OK with *out set, or ST_NOMEM. */
status_t digest_ctx_new(digest_ctx **out, digest_alg alg);
digest_alg digest_ctx_alg(const digest_ctx *ctx);
void digest_ctx_update(digest_ctx *ctx, const void *buf, size_t len);
/* Writes "alg:hex" into out. The ctx may not be updated afterwards. */
void digest_ctx_final(digest_ctx *ctx, char out[DIGEST_MAX]);
/* Frees ctx; NULL is a no-op. */
void digest_ctx_free(digest_ctx *ctx);

/* Digest of a whole buffer into out. ST_OK or ST_NOMEM. */
status_t digest_buffer(char out[DIGEST_MAX], digest_alg alg, const void *buf, size_t len);

#endif
