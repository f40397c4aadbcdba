/*
 * digest.c - digest parsing and hashing with OpenSSL EVP (see digest.h).
 */
#include "digest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct digest_ctx {
	EVP_MD_CTX *md;
	digest_alg alg;
};

static const struct {
	const char *name;
	size_t hexlen;
} algs[] = {
    [DIGEST_SHA256] = {"sha256", 64},
    [DIGEST_SHA512] = {"sha512", 128},
};

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_encoded_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '=' || c == '_' || c == '-';
}

status_t digest_alg_parse(const char *name, digest_alg *out_alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcmp(name, algs[i].name) == 0) {
			if (out_alg)
				*out_alg = (digest_alg)i;
			return ST_OK;
		}
	}
	return ST_UNSUPPORTED;
}

const char *digest_alg_name(digest_alg alg)
{
	return algs[alg].name;
}

status_t digest_parse(const char *s, digest_alg *out_alg)
{
	const char *colon, *p;
	char name[32];
	size_t alen, elen;
	digest_alg alg;

	if (s == NULL || strnlen(s, DIGEST_MAX) >= DIGEST_MAX)
		return ST_INVALID;
	colon = strchr(s, ':');
	if (colon == NULL || colon == s)
		return ST_INVALID;
	alen = (size_t)(colon - s);
	/* algorithm: [a-z0-9]+([+._-][a-z0-9]+)* */
	for (p = s; p < colon; p++) {
		if (is_alnum_lower(*p))
			continue;
		if ((*p == '+' || *p == '.' || *p == '_' || *p == '-') && p > s &&
		    is_alnum_lower(p[-1]) && p + 1 < colon)
			continue;
		return ST_INVALID;
	}
	elen = strlen(colon + 1);
	if (elen == 0)
		return ST_INVALID;
	for (p = colon + 1; *p; p++)
		if (!is_encoded_char(*p))
			return ST_INVALID;
	if (alen >= sizeof(name))
		return ST_UNSUPPORTED;
	memcpy(name, s, alen);
	name[alen] = '\0';
	if (digest_alg_parse(name, &alg) != ST_OK)
		return ST_UNSUPPORTED;
	if (elen != algs[alg].hexlen)
		return ST_INVALID;
	for (p = colon + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return ST_INVALID;
	if (out_alg)
		*out_alg = alg;
	return ST_OK;
}

status_t digest_ctx_new(digest_ctx **out, digest_alg alg)
{
	digest_ctx *ctx = calloc(1, sizeof(*ctx));

	*out = NULL;
	if (ctx == NULL)
		return ST_NOMEM;
	ctx->alg = alg;
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL ||
	    !EVP_DigestInit_ex(ctx->md, alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(), NULL)) {
		digest_ctx_free(ctx);
		return ST_NOMEM;
	}
	*out = ctx;
	return ST_OK;
}

digest_alg digest_ctx_alg(const digest_ctx *ctx)
{
	return ctx->alg;
}

void digest_ctx_update(digest_ctx *ctx, const void *buf, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(ctx->md, buf, len);
}

void digest_ctx_final(digest_ctx *ctx, char out[DIGEST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n;

	EVP_DigestFinal_ex(ctx->md, md, &mdlen);
	n = strlen(algs[ctx->alg].name);
	memcpy(out, algs[ctx->alg].name, n);
	out[n++] = ':';
	for (unsigned int i = 0; i < mdlen; i++) {
		out[n++] = hex[md[i] >> 4];
		out[n++] = hex[md[i] & 15];
	}
	out[n] = '\0';
}

void digest_ctx_free(digest_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

status_t digest_buffer(char out[DIGEST_MAX], digest_alg alg, const void *buf, size_t len)
{
	digest_ctx *ctx;
	status_t st = digest_ctx_new(&ctx, alg);

	if (st != ST_OK)
		return st;
	digest_ctx_update(ctx, buf, len);
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	return ST_OK;
}
