/*
 * manifest.h - reading pushed manifests without changing a byte of them.
 *
 * Understands the OCI image manifest and index, Docker schema 2 manifest and
 * manifest list, and artifacts (an image manifest with any config media type
 * or an artifactType). Docker schema 1 is refused. Parsing only extracts
 * what the registry needs: the media type, the descriptors it references
 * (which must exist in the repository), the subject, the artifact type and
 * the annotations. The caller stores the original bytes.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "../common/status.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

#define MANIFEST_MAX_DEPTH 32 /* JSON nesting refused beyond this */

typedef enum { MANIFEST_IMAGE, MANIFEST_INDEX } manifest_kind;

typedef struct {
	char digest[DIGEST_MAX];
	char media_type[256];
	uint64_t size;
	/* A layer with `urls` or a non-distributable media type: not required
	 * to exist in the registry. */
	int foreign;
} manifest_desc;

typedef struct {
	manifest_kind kind;
	char media_type[256];	  /* the effective media type */
	char artifact_type[256];  /* artifactType, else config.mediaType (images), else "" */
	char subject[DIGEST_MAX]; /* "" when absent */
	char *annotations;	  /* compact JSON of `annotations`, or NULL; owned */
	/* Blobs (config then layers) for images, manifests for indexes. */
	manifest_desc *refs; /* owned */
	size_t nrefs;
} manifest_info;

/*
 * Parses body (len bytes) pushed with Content-Type content_type (NULL or ""
 * when absent). The media type is the Content-Type if given, else the
 * body's mediaType; when both exist they must agree. Parameters
 * ("; charset=...") are ignored, and "application/json" counts as absent.
 * With neither, "manifests" means an OCI index, "config"/"layers" an OCI
 * image manifest. ST_OK with *out filled (release with manifest_info_free);
 * ST_MANIFEST_INVALID for malformed JSON, duplicate keys, a missing or
 * mistyped field, a bad descriptor digest (an unsupported algorithm too) or
 * size, nesting deeper than MANIFEST_MAX_DEPTH, disagreeing media types, or
 * schema 1; ST_UNSUPPORTED for a media type that is not a manifest;
 * ST_NOMEM; ST_INVALID if out is NULL. Whatever *out held is overwritten,
 * not freed; on failure it is left zeroed. On failure err (errlen bytes; may
 * be NULL) says what is wrong.
 */
status_t manifest_parse(manifest_info *out, const char *body, size_t len, const char *content_type,
			char *err, size_t errlen);

/* Frees what manifest_parse allocated and resets those fields, so a second
 * call is harmless; NULL is a no-op. */
void manifest_info_free(manifest_info *info);

#endif
