/*
 * fuzz_digest.c - digest_parse and digest_alg_parse (common/digest.c).
 *
 * Digests name files under blobs/, so a digest digest_parse accepts must be
 * "sha256:" + 64 or "sha512:" + 128 lowercase hex digits and nothing else:
 * no '/', no '.', no room for a path. A well-formed digest of another
 * algorithm is ST_UNSUPPORTED, never ST_OK.
 */
#include "fuzz.h"

#include "../../oci/digest.h"

static int all_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	digest_alg alg = (digest_alg)-1;
	status_t st;

	if (s == NULL)
		return 0;
	st = digest_parse(s, &alg);
	FUZZ_ASSERT(st == ST_OK || st == ST_UNSUPPORTED || st == ST_INVALID);
	if (st == ST_OK) {
		size_t n = strlen(s);
		if (alg == DIGEST_SHA256)
			FUZZ_ASSERT(n == 7 + 64 && strncmp(s, "sha256:", 7) == 0);
		else
			FUZZ_ASSERT(alg == DIGEST_SHA512 && n == 7 + 128 &&
				    strncmp(s, "sha512:", 7) == 0);
		FUZZ_ASSERT(all_hex(s + 7));
		FUZZ_ASSERT(digest_parse(s, NULL) == ST_OK);
	} else {
		FUZZ_ASSERT(alg == (digest_alg)-1);
		if (st == ST_UNSUPPORTED)
			FUZZ_ASSERT(strchr(s, ':') != NULL && strchr(s, '/') == NULL);
	}

	alg = (digest_alg)-1;
	st = digest_alg_parse(s, &alg);
	if (st == ST_OK)
		FUZZ_ASSERT(strcmp(digest_alg_name(alg), s) == 0);
	else
		FUZZ_ASSERT(st == ST_UNSUPPORTED);
	free(s);
	return 0;
}
