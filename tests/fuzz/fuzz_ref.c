/*
 * fuzz_ref.c - repository names, tags and manifest references (server/ref.c).
 *
 * Promises checked: anything ref_name_check accepts is safe as a path
 * component sequence (only [a-z0-9._/-], no empty, "." or ".." segment, no
 * leading or trailing '/'); a tag holds only [A-Za-z0-9._-] and does not
 * start with '.' or '-'; ref_parse agrees with digest_parse and
 * ref_tag_check.
 */
#include "fuzz.h"

#include "../../oci/digest.h"
#include "../../oci/ref.h"

static void check_name(const char *s)
{
	size_t n = strlen(s);

	FUZZ_ASSERT(n > 0 && n < REF_NAME_MAX);
	FUZZ_ASSERT(s[0] != '/' && s[n - 1] != '/');
	FUZZ_ASSERT(strstr(s, "//") == NULL);
	for (const char *p = s; *p; p++)
		FUZZ_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			    *p == '_' || *p == '-' || *p == '/');
	/* Every segment starts with an alphanumeric: no "." or "..". */
	for (const char *p = s; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		FUZZ_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
	}
}

static void check_tag(const char *s)
{
	size_t n = strlen(s);

	FUZZ_ASSERT(n > 0 && n < REF_TAG_MAX);
	FUZZ_ASSERT(s[0] != '.' && s[0] != '-');
	for (const char *p = s; *p; p++)
		FUZZ_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	ref_kind kind = (ref_kind)-1;
	status_t st;

	if (s == NULL)
		return 0;
	st = ref_name_check(s);
	FUZZ_ASSERT(st == ST_OK || st == ST_NAME_INVALID);
	if (st == ST_OK)
		check_name(s);

	st = ref_tag_check(s);
	FUZZ_ASSERT(st == ST_OK || st == ST_TAG_INVALID);
	if (st == ST_OK)
		check_tag(s);

	st = ref_parse(s, &kind);
	switch (st) {
	case ST_OK:
		if (kind == REF_DIGEST)
			FUZZ_ASSERT(digest_parse(s, NULL) == ST_OK);
		else
			FUZZ_ASSERT(kind == REF_TAG && ref_tag_check(s) == ST_OK);
		break;
	case ST_UNSUPPORTED:
		FUZZ_ASSERT(digest_parse(s, NULL) == ST_UNSUPPORTED);
		break;
	case ST_DIGEST_INVALID:
		FUZZ_ASSERT(strchr(s, ':') != NULL && digest_parse(s, NULL) == ST_INVALID);
		break;
	default:
		FUZZ_ASSERT(st == ST_TAG_INVALID && ref_tag_check(s) == ST_TAG_INVALID);
		FUZZ_ASSERT(kind == (ref_kind)-1);
	}
	free(s);
	return 0;
}
