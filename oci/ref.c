/*
 * ref.c - checks repository names, tags and manifest references against the
 * OCI distribution spec's grammar (see ref.h), by hand: each check is one
 * left-to-right pass that never looks past the terminating NUL, so it is
 * safe on any C string and linear in its length.
 */
#include "ref.h"

#include <string.h>

#include "digest.h"

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Checks one path component, [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, starting at
 * s. Returns the number of characters it spans (it ends at '/' or NUL), or 0
 * if it is empty or breaks the grammar.
 */
static size_t component_len(const char *s)
{
	const char *p = s;

	for (;;) {
		if (!is_lower_alnum(*p))
			return 0; /* empty, or a separator not followed by alnum */
		while (is_lower_alnum(*p))
			p++;
		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p += p[1] == '_' ? 2 : 1;
		} else if (*p == '-') {
			while (*p == '-')
				p++;
		} else {
			return (size_t)(p - s);
		}
	}
}

status_t ref_name_check(const char *s)
{
	const char *p = s;
	size_t n;

	if (s == NULL || strnlen(s, REF_NAME_MAX) >= REF_NAME_MAX)
		return ST_NAME_INVALID;
	for (;;) {
		if ((n = component_len(p)) == 0)
			return ST_NAME_INVALID;
		p += n;
		if (*p == '\0')
			return ST_OK;
		if (*p != '/')
			return ST_NAME_INVALID;
		p++; /* the next component must follow: no trailing or double '/' */
	}
}

status_t ref_tag_check(const char *s)
{
	const char *p;

	if (s == NULL || s[0] == '\0' || strnlen(s, REF_TAG_MAX) >= REF_TAG_MAX)
		return ST_TAG_INVALID;
	/* The first character may not be '.' or '-'. */
	if (s[0] == '.' || s[0] == '-')
		return ST_TAG_INVALID;
	for (p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return ST_TAG_INVALID;
	}
	return ST_OK;
}

status_t ref_parse(const char *s, ref_kind *out_kind)
{
	status_t st;

	if (s == NULL)
		return ST_TAG_INVALID;
	/* A tag never holds ':', a digest always does: that decides the kind. */
	if (strchr(s, ':') != NULL) {
		st = digest_parse(s, NULL);
		if (st == ST_UNSUPPORTED)
			return ST_UNSUPPORTED;
		if (st != ST_OK)
			return ST_DIGEST_INVALID;
		if (out_kind)
			*out_kind = REF_DIGEST;
		return ST_OK;
	}
	if ((st = ref_tag_check(s)) != ST_OK)
		return st;
	if (out_kind)
		*out_kind = REF_TAG;
	return ST_OK;
}
