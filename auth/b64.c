/*
 * b64.c - base64 encoding and strict decoding (see b64.h). Strict because
 * what is decoded here comes from clients: a credential or a token has
 * exactly one spelling, so a tampered one cannot pass as the same bytes.
 */
#include "b64.h"

#include <stdint.h>
#include <string.h>

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t auth_b64_encode(char *out, const void *in, size_t len, bool url)
{
	const unsigned char *p = in;
	const char *a = url ? url_alpha : std_alpha;
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = a[v >> 6 & 63];
		else if (!url)
			out[o++] = '=';
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int value_of(char ch, bool url)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == (url ? '-' : '+'))
		return 62;
	if (ch == (url ? '_' : '/'))
		return 63;
	return -1;
}

status_t auth_b64_decode(void *out, size_t outcap, size_t *outlen, const char *in, size_t inlen,
			 bool url)
{
	unsigned char *o = out;
	size_t n = 0, pad = 0, i;
	uint32_t acc = 0;
	int bits = 0, v;

	*outlen = 0;
	/* Padding: required (to a multiple of 4) in the standard form,
	 * optional but then exact in the URL-safe one. */
	while (pad < 2 && inlen > 0 && in[inlen - 1] == '=') {
		inlen--;
		pad++;
	}
	if (!url && (inlen + pad) % 4 != 0)
		return ST_INVALID;
	if (url && pad > 0 && (inlen + pad) % 4 != 0)
		return ST_INVALID;
	if (inlen % 4 == 1)
		return ST_INVALID;
	for (i = 0; i < inlen; i++) {
		if ((v = value_of(in[i], url)) < 0)
			return ST_INVALID;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outcap)
				return ST_TOO_LARGE;
			o[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-zero leftover bits: a second spelling */
		return ST_INVALID;
	*outlen = n;
	return ST_OK;
}
