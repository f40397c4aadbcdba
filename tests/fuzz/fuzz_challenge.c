/*
 * fuzz_challenge.c - what an upstream registry sends back that the pull-
 * through cache parses (proxy/upstream.c): WWW-Authenticate challenges and
 * Content-Range, and image references (proxy/imageref.c).
 *
 * Promises checked: a parsed challenge is Basic or Bearer, a Bearer one has
 * a realm, every field is NUL-terminated inside its buffer; on failure the
 * output is zeroed. A Content-Range has first <= total when the total is
 * known. An accepted image reference has a path ref_name_check accepts, a
 * tag or a digest that their checks accept, and formats back to a string
 * that parses to the same thing.
 */
#include "fuzz.h"

#include "../../proxy/imageref.h"
#include "../../proxy/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), out[IMAGEREF_MAX];
	upstream_challenge c;
	uint64_t first, total;
	imageref r, r2;
	status_t st;

	if (s == NULL)
		return 0;
	st = upstream_challenge_parse(&c, s);
	if (st == ST_OK) {
		FUZZ_ASSERT(c.scheme == UPSTREAM_AUTH_BASIC || c.scheme == UPSTREAM_AUTH_BEARER);
		FUZZ_ASSERT(c.scheme != UPSTREAM_AUTH_BEARER || c.realm[0] != '\0');
		FUZZ_ASSERT(memchr(c.realm, '\0', sizeof(c.realm)) &&
			    memchr(c.scope, '\0', sizeof(c.scope)) &&
			    memchr(c.service, '\0', sizeof(c.service)) &&
			    memchr(c.error, '\0', sizeof(c.error)));
	} else {
		FUZZ_ASSERT(st == ST_INVALID || st == ST_UNSUPPORTED);
		FUZZ_ASSERT(c.scheme == UPSTREAM_AUTH_NONE && c.realm[0] == '\0');
	}
	if (upstream_content_range_parse(s, &first, &total) == ST_OK)
		FUZZ_ASSERT(total == UPSTREAM_SIZE_UNKNOWN || first < total);
	if (imageref_parse(&r, s) == ST_OK) {
		FUZZ_ASSERT(ref_name_check(r.path) == ST_OK);
		FUZZ_ASSERT(r.tag[0] == '\0' || ref_tag_check(r.tag) == ST_OK);
		FUZZ_ASSERT(r.digest[0] == '\0' || digest_parse(r.digest, NULL) == ST_OK);
		FUZZ_ASSERT(r.tag[0] != '\0' || r.digest[0] != '\0');
		FUZZ_ASSERT(imageref_format(&r, out, sizeof(out)) == ST_OK);
		FUZZ_ASSERT(imageref_parse(&r2, out) == ST_OK);
		FUZZ_ASSERT(strcmp(r.path, r2.path) == 0 && strcmp(r.tag, r2.tag) == 0 &&
			    strcmp(r.digest, r2.digest) == 0);
	} else {
		FUZZ_ASSERT(r.path[0] == '\0');
	}
	free(s);
	return 0;
}
