/*
 * imageref.h - image references as users write them:
 * [DOMAIN/]PATH[:TAG][@DIGEST], e.g. "debian:12", "docker.io/library/debian:12",
 * "ghcr.io/org/tool@sha256:...", "registry.local:5000/team/app:v1".
 *
 * Docker's rules: the first component is a domain when there is more than
 * one component and it contains '.' or ':' or is "localhost"; otherwise
 * the domain is docker.io. On docker.io a one-component path gets
 * "library/" ("alpine" is "docker.io/library/alpine"), and
 * "index.docker.io" and "registry-1.docker.io" are docker.io. Without a tag
 * or digest the tag is "latest".
 */
#ifndef IMAGEREF_H
#define IMAGEREF_H

#include <stdbool.h>

#include "../oci/digest.h"
#include "../common/status.h"
#include "../oci/ref.h"

#define IMAGEREF_DOMAIN_MAX 256 /* with NUL */
#define IMAGEREF_MAX (IMAGEREF_DOMAIN_MAX + REF_NAME_MAX + REF_TAG_MAX + DIGEST_MAX)

typedef struct {
	char domain[IMAGEREF_DOMAIN_MAX]; /* "docker.io", "ghcr.io", "localhost:5000" */
	char path[REF_NAME_MAX];	  /* "library/debian" */
	char tag[REF_TAG_MAX];		  /* "12", or "" with only a digest */
	char digest[DIGEST_MAX];	  /* "sha256:...", or "" */
	bool tag_defaulted;		  /* "latest" was filled in */
} imageref;

/*
 * Parses s. ST_OK with *out; ST_NAME_INVALID (a bad path or domain, or too
 * long), ST_TAG_INVALID, ST_DIGEST_INVALID (also a digest of an algorithm
 * we do not compute), ST_INVALID for NULL or an empty string. *out is
 * zeroed on failure.
 */
status_t imageref_parse(imageref *out, const char *s);

/*
 * Splits a reference to a repository of THIS registry, NAME[:TAG][@DIGEST],
 * with no domain guessing and no "library/": "team/app:v1" is repository
 * "team/app". Fills path, tag and digest (domain ""). Same statuses.
 */
status_t imageref_parse_local(imageref *out, const char *s);

/*
 * Whether a platform (os, arch, variant; variant may be NULL) is in list,
 * "os/arch[/variant],..." as `platforms=` and `--platform` take it. An
 * entry without a variant matches every variant ("linux/arm64" matches
 * linux/arm64/v8). "" matches everything; a NULL os or arch nothing else.
 */
bool imageref_platform_match(const char *list, const char *os, const char *arch,
			     const char *variant);

/* "domain/path:tag@digest" (the parts present) into out. ST_OK or
 * ST_INVALID if it does not fit. */
status_t imageref_format(const imageref *r, char *out, size_t outlen);

#endif
