/*
 * jwt.h - signing keys and JSON Web Tokens (RFC 7519, JWS compact form),
 * with OpenSSL 3's EVP interface.
 *
 * Algorithms: ES256, ES384, ES512 (ECDSA on P-256/384/521) and RS256,
 * RS384, RS512 (RSA PKCS#1 v1.5, keys of 2048 bits or more). Nothing
 * else is accepted, `none` and the HMAC ones (HS256...) included, and a
 * token's `alg` must fit the type and size of the key that checks it, so a
 * public key can never be used as an HMAC secret.
 */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "../common/status.h"

#define AUTH_JWT_MAX 8192      /* longest token looked at (bytes) */
#define AUTH_JWT_LEEWAY_SEC 30 /* clock skew allowed on nbf and iat, not exp */
#define AUTH_KEY_ID_MAX 64     /* libtrust key id, with NUL */

typedef struct auth_key auth_key;

/* A new key for alg ("ES256" is P-256, "RS256" RSA 2048...). ST_OK with *out
 * (free with auth_key_free), ST_INVALID (alg), ST_IO (OpenSSL failed). */
status_t auth_key_generate(auth_key **out, const char *alg);

/*
 * A private key from a PEM file (PKCS#8, or traditional EC/RSA). When the
 * file does not exist and generate is set, makes a P-256 key and writes it
 * there (mode 0600, atomically). ST_OK with *out; ST_NOT_FOUND; ST_INVALID
 * (not a usable EC/RSA private key, or encrypted); ST_IO; err says which.
 */
status_t auth_key_load(auth_key **out, const char *path, bool generate, char *err, size_t errlen);

/* A public key from a PEM file holding a public key or an X.509
 * certificate (its key). As auth_key_load, without generating. */
status_t auth_key_load_public(auth_key **out, const char *path, char *err, size_t errlen);

/* The same from PEM text (len bytes): a private key when private_key, else
 * a public key or certificate. ST_OK or ST_INVALID. */
status_t auth_key_from_pem(auth_key **out, const char *pem, size_t len, bool private_key);

/* PEM text of k's public key (or private key, if k has one and
 * private_key). ST_OK with *out (caller frees), ST_INVALID, ST_NOMEM. */
status_t auth_key_to_pem(char **out, const auth_key *k, bool private_key);

/* NULL is a no-op. */
void auth_key_free(auth_key *k);

/* The JWS algorithm k signs with ("ES256", "RS256", ...). */
const char *auth_key_alg(const auth_key *k);
/* k's id in Docker's libtrust form (base32 of SHA-256 of the public key,
 * colon-grouped), the `kid` of the tokens it signs. */
const char *auth_key_id(const auth_key *k);

/* base64url without padding, as JWS uses: encode returns a malloc'd string
 * (NULL on allocation failure); decode is auth_b64_decode with url set. */
char *auth_jwt_b64(const void *data, size_t len);

/*
 * Signs claims_json (a JSON object, used as given) into a compact token
 * with header {"alg":..,"typ":"JWT","kid":..}. ST_OK with *out (caller
 * frees); ST_INVALID (k has no private key); ST_IO; ST_NOMEM.
 */
status_t auth_jwt_sign(char **out, const auth_key *k, const char *claims_json);

/* As auth_jwt_sign with header_json used verbatim (for tests that need a
 * lying header); the signature is always made with k's own algorithm. */
status_t auth_jwt_sign_raw(char **out, const auth_key *k, const char *header_json,
			   const char *claims_json);

/* A key trusted for tokens whose `iss` is issuer. */
typedef struct {
	const char *issuer;
	const auth_key *key;
	bool low_s; /* ECDSA: refuse a high S (malleable); set for our own
		       tokens, which auth_jwt_sign always makes low */
} auth_jwt_trust;

/*
 * Verifies token: three base64url parts; a header with an allowed `alg`
 * and no `crit`; a payload object whose `iss` names a trusted issuer one
 * of whose keys (of the type alg says) verifies the signature; `aud` equal
 * to audience (or an array holding it); `exp` present and after now; `nbf`
 * (if present) not after now + leeway.
 * ST_OK with *out = the claims (caller json_decref's); ST_UNAUTHORIZED
 * with *why = a static reason ("expired", "bad signature", ...); ST_INVALID
 * for NULL arguments; ST_NOMEM. why may be NULL.
 */
status_t auth_jwt_verify(json_t **out, const char *token, const auth_jwt_trust *trust,
			 size_t ntrust, const char *audience, time_t now, const char **why);

#endif
