/*
 * jwt.c - signing keys and JSON Web Tokens (see jwt.h).
 *
 * Verification order: size and shape first (three non-empty base64url
 * parts), then the header (alg on the allow-list, no crit), then the
 * payload's issuer picks the candidate keys, then the signature over the
 * exact bytes "HEADER.PAYLOAD" as received, and only a token whose
 * signature holds has its claims (aud, exp, nbf) looked at. ECDSA
 * signatures travel as R||S of fixed width (RFC 7518 3.4) and are turned
 * into DER for OpenSSL; a wrong width is refused, not padded. Ours always
 * carry the low S of the two that verify, and a trust entry may insist on
 * it (ours do; external issuers' signers, Go's crypto/ecdsa among them,
 * make either, so theirs cannot).
 */
#include "jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "b64.h"

#define RSA_BITS_MIN 2048
#define RSA_BITS_NEW 2048

typedef enum { KT_EC, KT_RSA } key_type;

typedef struct {
	const char *name;
	key_type type;
	const char *(*md)(void); /* digest name, via a function to stay const */
	const char *curve;	 /* EC group name; NULL for RSA */
	size_t part;		 /* EC: bytes of R and of S */
} alg_info;

static const char *md256(void)
{
	return "SHA256";
}
static const char *md384(void)
{
	return "SHA384";
}
static const char *md512(void)
{
	return "SHA512";
}

static const alg_info algs[] = {
    {"ES256", KT_EC, md256, "prime256v1", 32}, {"ES384", KT_EC, md384, "secp384r1", 48},
    {"ES512", KT_EC, md512, "secp521r1", 66},  {"RS256", KT_RSA, md256, NULL, 0},
    {"RS384", KT_RSA, md384, NULL, 0},	       {"RS512", KT_RSA, md512, NULL, 0},
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

struct auth_key {
	EVP_PKEY *pkey;
	bool has_private;
	const alg_info *alg; /* what it signs with */
	char kid[AUTH_KEY_ID_MAX];
};

static const alg_info *alg_find(const char *name)
{
	for (size_t i = 0; i < NALGS; i++)
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

/* Whether pkey is of the type and size alg needs. */
static bool key_fits(EVP_PKEY *pkey, const alg_info *a)
{
	char group[64];

	if (a->type == KT_RSA)
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
		       EVP_PKEY_get_bits(pkey) >= RSA_BITS_MIN;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
		return false;
	if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1)
		return false;
	return strcmp(group, a->curve) == 0;
}

/* libtrust's key id: SHA-256 of the DER public key, first 240 bits in
 * base32, in twelve groups of four joined by ':'. */
static status_t key_id(EVP_PKEY *pkey, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len = i2d_PUBKEY(pkey, &der);
	size_t o = 0;

	if (len <= 0)
		return ST_IO;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return ST_IO;
	}
	OPENSSL_free(der);
	for (int i = 0; i < 48; i++) {
		int bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)md[byte] << 8 | md[byte + 1];
		if (i > 0 && i % 4 == 0)
			out[o++] = ':';
		out[o++] = b32[(v >> (11 - shift)) & 31];
	}
	out[o] = '\0';
	return ST_OK;
}

/* Wraps pkey (taking it over, also on failure). */
static status_t key_wrap(auth_key **out, EVP_PKEY *pkey, bool has_private)
{
	auth_key *k = NULL;

	*out = NULL;
	if (pkey == NULL)
		return ST_INVALID;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return ST_NOMEM;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	for (size_t i = 0; i < NALGS && k->alg == NULL; i++)
		if (key_fits(pkey, &algs[i]))
			k->alg = &algs[i];
	if (k->alg == NULL || key_id(pkey, k->kid) != ST_OK) {
		auth_key_free(k);
		return ST_INVALID;
	}
	*out = k;
	return ST_OK;
}

void auth_key_free(auth_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *auth_key_alg(const auth_key *k)
{
	return k && k->alg ? k->alg->name : NULL;
}

const char *auth_key_id(const auth_key *k)
{
	return k ? k->kid : NULL;
}

status_t auth_key_generate(auth_key **out, const char *alg)
{
	const alg_info *a = alg ? alg_find(alg) : NULL;
	EVP_PKEY *pkey;

	*out = NULL;
	if (a == NULL)
		return ST_INVALID;
	pkey = a->type == KT_EC ? EVP_EC_gen(a->curve) : EVP_RSA_gen(RSA_BITS_NEW);
	if (pkey == NULL)
		return ST_IO;
	return key_wrap(out, pkey, true);
}

/* Refuses to prompt for a passphrase: encrypted keys are not supported. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

status_t auth_key_from_pem(auth_key **out, const char *pem, size_t len, bool private_key)
{
	BIO *bio;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;

	*out = NULL;
	if (pem == NULL || len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return ST_INVALID;
	if (private_key) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	} else {
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
		if (pkey == NULL) {
			BIO_reset(bio);
			if ((cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
				pkey = X509_get_pubkey(cert);
				X509_free(cert);
			}
		}
	}
	BIO_free(bio);
	return key_wrap(out, pkey, private_key);
}

/* Reads a whole (small) file. ST_OK with *out (NUL-terminated, caller
 * frees) and *len; ST_NOT_FOUND; ST_IO. */
static status_t read_small(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ST_NOT_FOUND : ST_IO;
	}
	if ((buf = malloc(65537)) == NULL) {
		fclose(f);
		return ST_NOMEM;
	}
	n = fread(buf, 1, 65536, f);
	if (ferror(f) || !feof(f)) {
		status_errf(err, errlen, "%s: unreadable or larger than 64 KiB", path);
		OPENSSL_cleanse(buf, n);
		free(buf);
		fclose(f);
		return ST_IO;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return ST_OK;
}

status_t auth_key_to_pem(char **out, const auth_key *k, bool private_key)
{
	BIO *bio;
	BUF_MEM *mem;
	int ok;

	*out = NULL;
	if (k == NULL || (private_key && !k->has_private))
		return ST_INVALID;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ST_NOMEM;
	ok = private_key ? PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_bio_PUBKEY(bio, k->pkey);
	if (ok == 1 && BIO_get_mem_ptr(bio, &mem) == 1 && (*out = malloc(mem->length + 1))) {
		memcpy(*out, mem->data, mem->length);
		(*out)[mem->length] = '\0';
	}
	BIO_free(bio);
	return *out ? ST_OK : ST_NOMEM;
}

/* Writes a new key file: temporary file (0600), fsync, rename. */
static status_t write_key(const char *path, const auth_key *k, char *err, size_t errlen)
{
	char *pem = NULL, *tmp = NULL;
	int fd = -1;
	size_t len;
	status_t st;

	if ((st = auth_key_to_pem(&pem, k, true)) != ST_OK)
		return st;
	st = ST_IO;
	len = strlen(pem);
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		st = ST_NOMEM;
		goto done;
	}
	if ((fd = mkstemp(tmp)) < 0 || fchmod(fd, 0600) != 0 ||
	    write(fd, pem, len) != (ssize_t)len || fsync(fd) != 0) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		status_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	free(tmp);
	tmp = NULL;
	st = ST_OK;
done:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	OPENSSL_cleanse(pem, len);
	free(pem);
	return st;
}

status_t auth_key_load(auth_key **out, const char *path, bool generate, char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	status_t st;

	*out = NULL;
	st = read_small(path, &pem, &len, err, errlen);
	if (st == ST_NOT_FOUND && generate) {
		if ((st = auth_key_generate(out, "ES256")) != ST_OK) {
			status_errf(err, errlen, "%s: cannot generate a key", path);
			return st;
		}
		if ((st = write_key(path, *out, err, errlen)) != ST_OK) {
			auth_key_free(*out);
			*out = NULL;
		}
		return st;
	}
	if (st != ST_OK)
		return st;
	if ((st = auth_key_from_pem(out, pem, len, true)) != ST_OK)
		status_errf(
		    err, errlen,
		    "%s: not an unencrypted EC (P-256/384/521) or RSA (2048+ bits) private key "
		    "in PEM",
		    path);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return st;
}

status_t auth_key_load_public(auth_key **out, const char *path, char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	status_t st;

	*out = NULL;
	if ((st = read_small(path, &pem, &len, err, errlen)) != ST_OK)
		return st;
	if ((st = auth_key_from_pem(out, pem, len, false)) != ST_OK)
		status_errf(err, errlen,
			    "%s: not an EC (P-256/384/521) or RSA (2048+ bits) public key or "
			    "certificate in PEM",
			    path);
	free(pem);
	return st;
}

/* ---- signing ---- */

char *auth_jwt_b64(const void *data, size_t len)
{
	char *s = malloc(AUTH_B64_ENCODED_SIZE(len));

	if (s)
		auth_b64_encode(s, data, len, true);
	return s;
}

/*
 * Whether the S of an R||S signature (part bytes each) on a's curve is in
 * the lower half of the group order. (r, s) and (r, n - s) both verify, so
 * only one of them is taken: a token cannot be reshaped into another string
 * that still verifies.
 */
static bool ec_s_low(const alg_info *a, const unsigned char *raw)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(a->curve));
	BIGNUM *half = BN_new(), *s = BN_bin2bn(raw + a->part, (int)a->part, NULL);
	bool low = false;

	if (g != NULL && half != NULL && s != NULL && BN_rshift1(half, EC_GROUP_get0_order(g)) == 1)
		low = BN_cmp(s, half) <= 0;
	BN_free(s);
	BN_free(half);
	EC_GROUP_free(g);
	return low;
}

/* DER ECDSA signature -> R||S on a's curve, with S made low (n - S when
 * high: OpenSSL signs either). */
static status_t ec_der_to_raw(const unsigned char *der, size_t derlen, const alg_info *a,
			      unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	EC_GROUP *g = NULL;
	BIGNUM *low = NULL;
	const BIGNUM *r, *s;
	int part = (int)a->part;
	status_t st = ST_IO;

	if (sig == NULL)
		return ST_IO;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, part) != part || BN_bn2binpad(s, out + part, part) != part)
		goto done;
	if (!ec_s_low(a, out)) {
		if ((g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(a->curve))) == NULL ||
		    (low = BN_new()) == NULL || BN_sub(low, EC_GROUP_get0_order(g), s) != 1 ||
		    BN_bn2binpad(low, out + part, part) != part)
			goto done;
	}
	st = ST_OK;
done:
	BN_free(low);
	EC_GROUP_free(g);
	ECDSA_SIG_free(sig);
	return st;
}

/* R||S -> DER. ST_OK with *out (OPENSSL_free) and *outlen. */
static status_t ec_raw_to_der(const unsigned char *raw, size_t part, unsigned char **out,
			      int *outlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)part, NULL), *s = BN_bin2bn(raw + part, (int)part, NULL);

	*out = NULL;
	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return ST_NOMEM;
	}
	*outlen = i2d_ECDSA_SIG(sig, out);
	ECDSA_SIG_free(sig);
	return *outlen > 0 ? ST_OK : ST_IO;
}

status_t auth_jwt_sign_raw(char **out, const auth_key *k, const char *header_json,
			   const char *claims_json)
{
	char *h = NULL, *c = NULL, *input = NULL, *sig64 = NULL;
	unsigned char *sig = NULL, raw[2 * 66];
	size_t siglen = 0;
	EVP_MD_CTX *ctx = NULL;
	status_t st = ST_NOMEM;

	*out = NULL;
	if (k == NULL || !k->has_private || header_json == NULL || claims_json == NULL)
		return ST_INVALID;
	if ((h = auth_jwt_b64(header_json, strlen(header_json))) == NULL ||
	    (c = auth_jwt_b64(claims_json, strlen(claims_json))) == NULL ||
	    asprintf(&input, "%s.%s", h, c) < 0) {
		input = NULL;
		goto done;
	}
	st = ST_IO;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, k->alg->md(), NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (unsigned char *)input, strlen(input)) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)) != 1)
		goto done;
	if (k->alg->type == KT_EC) {
		if (ec_der_to_raw(sig, siglen, k->alg, raw) != ST_OK)
			goto done;
		sig64 = auth_jwt_b64(raw, 2 * k->alg->part);
	} else {
		sig64 = auth_jwt_b64(sig, siglen);
	}
	st = ST_NOMEM;
	if (sig64 == NULL || asprintf(out, "%s.%s", input, sig64) < 0) {
		*out = NULL;
		goto done;
	}
	st = ST_OK;
done:
	EVP_MD_CTX_free(ctx);
	free(h);
	free(c);
	free(input);
	free(sig);
	free(sig64);
	return st;
}

status_t auth_jwt_sign(char **out, const auth_key *k, const char *claims_json)
{
	char header[160];

	*out = NULL;
	if (k == NULL)
		return ST_INVALID;
	snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		 k->alg->name, k->kid);
	return auth_jwt_sign_raw(out, k, header, claims_json);
}

/* ---- verification ---- */

/* Decodes a base64url part into a JSON object. NULL if it is not one. */
static json_t *part_json(const char *s, size_t len)
{
	char *buf;
	size_t n;
	json_t *j = NULL;

	if ((buf = malloc(len)) == NULL)
		return NULL;
	if (auth_b64_decode(buf, len, &n, s, len, true) == ST_OK)
		j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Checks sig (raw JWS form) over input with key. */
static bool sig_ok(const auth_key *k, const alg_info *a, bool low_s, const char *input,
		   size_t inlen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	unsigned char *der = NULL;
	int derlen = 0;
	bool ok = false;

	if (!key_fits(k->pkey, a))
		return false;
	if (a->type == KT_EC) {
		if (siglen != 2 * a->part || (low_s && !ec_s_low(a, sig)) ||
		    ec_raw_to_der(sig, a->part, &der, &derlen) != ST_OK)
			return false;
		sig = der;
		siglen = (size_t)derlen;
	}
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit_ex(ctx, NULL, a->md(), NULL, NULL, k->pkey, NULL) == 1)
		ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input, inlen) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok;
}

static bool aud_ok(json_t *aud, const char *audience)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), audience) == 0;
	if (json_is_array(aud)) {
		json_array_foreach(aud, i, v)
		{
			if (json_is_string(v) && strcmp(json_string_value(v), audience) == 0)
				return true;
		}
	}
	return false;
}

/* A NumericDate claim: true with *out when present and a number. */
static bool num_claim(json_t *claims, const char *name, double *out)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL || !json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

status_t auth_jwt_verify(json_t **out, const char *token, const auth_jwt_trust *trust,
			 size_t ntrust, const char *audience, time_t now, const char **why)
{
	const char *dot1, *dot2, *sig64, *iss;
	const char *reason = "malformed token";
	json_t *header = NULL, *claims = NULL, *alg_v;
	const alg_info *a;
	unsigned char *sig = NULL;
	size_t len, siglen, sigcap;
	bool known_issuer = false, verified = false;
	double exp, nbf;
	status_t st = ST_UNAUTHORIZED;

	if (out)
		*out = NULL;
	if (why)
		*why = NULL;
	if (out == NULL || token == NULL || audience == NULL || (trust == NULL && ntrust > 0))
		return ST_INVALID;
	len = strnlen(token, AUTH_JWT_MAX + 1);
	if (len > AUTH_JWT_MAX) {
		reason = "token too long";
		goto done;
	}
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL || dot1 == token ||
	    dot2 == dot1 + 1 || dot2 + 1 == token + len)
		goto done;
	if ((header = part_json(token, (size_t)(dot1 - token))) == NULL)
		goto done;
	alg_v = json_object_get(header, "alg");
	if (!json_is_string(alg_v) || (a = alg_find(json_string_value(alg_v))) == NULL) {
		reason = "algorithm not allowed";
		goto done;
	}
	if (json_object_get(header, "crit") != NULL) {
		reason = "critical header extension not understood";
		goto done;
	}
	if ((claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		goto done;
	sig64 = dot2 + 1;
	sigcap = strlen(sig64);
	if ((sig = malloc(sigcap)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if (auth_b64_decode(sig, sigcap, &siglen, sig64, sigcap, true) != ST_OK)
		goto done;
	iss = json_string_value(json_object_get(claims, "iss"));
	for (size_t i = 0; iss != NULL && i < ntrust && !verified; i++) {
		if (strcmp(trust[i].issuer, iss) != 0)
			continue;
		known_issuer = true;
		verified = sig_ok(trust[i].key, a, trust[i].low_s, token, (size_t)(dot2 - token),
				  sig, siglen);
	}
	if (!known_issuer) {
		reason = "unknown issuer";
		goto done;
	}
	if (!verified) {
		reason = "bad signature";
		goto done;
	}
	if (!aud_ok(json_object_get(claims, "aud"), audience)) {
		reason = "wrong audience";
		goto done;
	}
	if (!num_claim(claims, "exp", &exp)) {
		reason = "no expiry";
		goto done;
	}
	if ((double)now >= exp) {
		reason = "expired";
		goto done;
	}
	if (json_object_get(claims, "nbf") != NULL &&
	    (!num_claim(claims, "nbf", &nbf) || (double)now + AUTH_JWT_LEEWAY_SEC < nbf)) {
		reason = "not yet valid";
		goto done;
	}
	*out = claims;
	claims = NULL;
	reason = NULL;
	st = ST_OK;
done:
	if (why)
		*why = reason;
	json_decref(header);
	json_decref(claims);
	free(sig);
	return st;
}
