/*
 * imageref.c - image references (see imageref.h).
 *
 * The string is split from its end: "@digest" after the last '@', then a
 * tag after the last ':' that follows the last '/', and what remains is
 * [domain/]path. Each part is then checked with the registry's own
 * grammar (ref.h, digest.h), so whatever comes out can be used as a
 * repository name, tag or digest as is.
 */
#include "imageref.h"

#include <stdio.h>
#include <string.h>

static bool domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == ':' || c == '_';
}

/* Whether the first component [s, s+n) names a domain (Docker's rule). */
static bool looks_like_domain(const char *s, size_t n)
{
	return memchr(s, '.', n) != NULL || memchr(s, ':', n) != NULL ||
	       (n == 9 && strncmp(s, "localhost", 9) == 0);
}

/* Splits "rest@digest" and "name:tag" off s into out; *name_len is the
 * length of what remains. */
static status_t split_tail(imageref *out, const char *s, size_t *name_len)
{
	const char *at = strrchr(s, '@'), *colon, *slash;
	size_t n = at ? (size_t)(at - s) : strlen(s);

	if (at != NULL) {
		status_t st = digest_parse(at + 1, NULL);
		if (st != ST_OK)
			return ST_DIGEST_INVALID;
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	colon = memrchr(s, ':', n);
	slash = memrchr(s, '/', n);
	if (colon != NULL && (slash == NULL || colon > slash)) {
		size_t tn = n - (size_t)(colon - s) - 1;
		if (tn == 0 || tn >= sizeof(out->tag))
			return ST_TAG_INVALID;
		memcpy(out->tag, colon + 1, tn);
		out->tag[tn] = '\0';
		if (ref_tag_check(out->tag) != ST_OK)
			return ST_TAG_INVALID;
		n = (size_t)(colon - s);
	}
	if (n == 0)
		return ST_NAME_INVALID;
	*name_len = n;
	return ST_OK;
}

static status_t set_path(imageref *out, const char *p, size_t n)
{
	if (n == 0 || n >= sizeof(out->path))
		return ST_NAME_INVALID;
	memcpy(out->path, p, n);
	out->path[n] = '\0';
	return ref_name_check(out->path);
}

status_t imageref_parse(imageref *out, const char *s)
{
	size_t n, first;
	status_t st;

	if (out == NULL)
		return ST_INVALID;
	memset(out, 0, sizeof(*out));
	if (s == NULL || *s == '\0')
		return ST_INVALID;
	if ((st = split_tail(out, s, &n)) != ST_OK)
		goto fail;
	first = strcspn(s, "/");
	if (first < n && looks_like_domain(s, first)) {
		if (first >= sizeof(out->domain)) {
			st = ST_NAME_INVALID;
			goto fail;
		}
		for (size_t i = 0; i < first; i++)
			if (!domain_char(s[i])) {
				st = ST_NAME_INVALID;
				goto fail;
			}
		memcpy(out->domain, s, first);
		out->domain[first] = '\0';
		if (strcmp(out->domain, "index.docker.io") == 0 ||
		    strcmp(out->domain, "registry-1.docker.io") == 0)
			strcpy(out->domain, "docker.io");
		s += first + 1;
		n -= first + 1;
	} else {
		strcpy(out->domain, "docker.io");
	}
	if (strcmp(out->domain, "docker.io") == 0 && memchr(s, '/', n) == NULL) {
		char buf[REF_NAME_MAX];
		int w = snprintf(buf, sizeof(buf), "library/%.*s", (int)n, s);
		if (w < 0 || (size_t)w >= sizeof(buf)) {
			st = ST_NAME_INVALID;
			goto fail;
		}
		st = set_path(out, buf, (size_t)w);
	} else {
		st = set_path(out, s, n);
	}
	if (st != ST_OK)
		goto fail;
	if (out->tag[0] == '\0' && out->digest[0] == '\0') {
		strcpy(out->tag, "latest");
		out->tag_defaulted = true;
	}
	return ST_OK;
fail:
	memset(out, 0, sizeof(*out));
	return st;
}

status_t imageref_parse_local(imageref *out, const char *s)
{
	size_t n;
	status_t st;

	if (out == NULL)
		return ST_INVALID;
	memset(out, 0, sizeof(*out));
	if (s == NULL || *s == '\0')
		return ST_INVALID;
	if ((st = split_tail(out, s, &n)) != ST_OK || (st = set_path(out, s, n)) != ST_OK) {
		memset(out, 0, sizeof(*out));
		return st;
	}
	if (out->tag[0] == '\0' && out->digest[0] == '\0') {
		strcpy(out->tag, "latest");
		out->tag_defaulted = true;
	}
	return ST_OK;
}

status_t imageref_format(const imageref *r, char *out, size_t outlen)
{
	int w = snprintf(out, outlen, "%s%s%s%s%s%s%s", r->domain, r->domain[0] ? "/" : "", r->path,
			 r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);

	return w >= 0 && (size_t)w < outlen ? ST_OK : ST_INVALID;
}

bool imageref_platform_match(const char *list, const char *os, const char *arch,
			     const char *variant)
{
	char want[128];
	int n;

	if (list == NULL || list[0] == '\0')
		return true;
	if (os == NULL || arch == NULL)
		return false;
	n = variant ? snprintf(want, sizeof(want), "%s/%s/%s", os, arch, variant)
		    : snprintf(want, sizeof(want), "%s/%s", os, arch);
	if (n < 0 || (size_t)n >= sizeof(want))
		return false;
	for (const char *q = list; *q;) {
		size_t k = strcspn(q, ",");
		if (k > 0 && strncmp(want, q, k) == 0 && (want[k] == '\0' || want[k] == '/'))
			return true;
		q += k;
		if (*q == ',')
			q++;
	}
	return false;
}
