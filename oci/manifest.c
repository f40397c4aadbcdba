/*
 * manifest.c - reads a pushed manifest (see manifest.h) with jansson.
 *
 * The bytes are only read, never re-serialised: the registry stores and
 * serves what the client pushed, so its digest stays the client's. Parsing
 * is strict where it protects the registry (nesting depth, duplicate keys,
 * descriptor digests and sizes, field types) and ignores what the registry
 * does not use (unknown fields, descriptor annotations, platforms).
 *
 * The media type comes from the Content-Type, else the body's mediaType,
 * else is inferred from the fields present; it decides whether the body is
 * read as an image manifest (config + layers) or an index (manifests).
 */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* Docker schema 1, refused by name so the client learns why. */
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

static const char *const manifest_types[] = {MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST,
					     MT_DOCKER_LIST};

/* The canonical spelling of a manifest media type s (n bytes), or NULL.
 * Media types compare case-insensitively (RFC 6838). */
static const char *manifest_type_find(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(manifest_types) / sizeof(manifest_types[0]); i++)
		if (strlen(manifest_types[i]) == n && strncasecmp(s, manifest_types[i], n) == 0)
			return manifest_types[i];
	return NULL;
}

static int is_schema1(const char *s, size_t n)
{
	return (n == strlen(MT_DOCKER_V1) && strncasecmp(s, MT_DOCKER_V1, n) == 0) ||
	       (n == strlen(MT_DOCKER_V1_SIGNED) && strncasecmp(s, MT_DOCKER_V1_SIGNED, n) == 0);
}

/*
 * Reads the Content-Type into *out: a canonical manifest type, or NULL when
 * it says nothing (absent, empty, or generic application/json), so the body
 * decides. ST_OK; ST_MANIFEST_INVALID for schema 1; ST_UNSUPPORTED for any
 * other type.
 */
static status_t content_type_read(const char *ct, const char **out, char *err, size_t errlen)
{
	const char *end;
	size_t n;

	*out = NULL;
	if (ct == NULL)
		return ST_OK;
	/* Parameters (";charset=...") do not change the type. */
	while (*ct == ' ' || *ct == '\t')
		ct++;
	end = strchr(ct, ';');
	if (end == NULL)
		end = ct + strlen(ct);
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - ct);
	if (n == 0 ||
	    (n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0))
		return ST_OK;
	if ((*out = manifest_type_find(ct, n)) != NULL)
		return ST_OK;
	if (is_schema1(ct, n)) {
		status_errf(err, errlen, "Docker schema 1 manifests are not supported");
		return ST_MANIFEST_INVALID;
	}
	status_errf(err, errlen, "Content-Type %.*s is not a manifest media type",
		    (int)(n > 100 ? 100 : n), ct);
	return ST_UNSUPPORTED;
}

/*
 * Whether no array or object in the len bytes at b nests deeper than
 * MANIFEST_MAX_DEPTH. jansson 2.14 has no depth option and recurses, so a
 * deep document is refused before it reaches the parser. Brackets inside
 * strings do not count; malformed input is left for the parser to reject.
 */
static int depth_ok(const char *b, size_t len)
{
	int depth = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = b[i];
		if (in_string) {
			if (ch == '\\')
				i++; /* skip the escaped character, '"' included */
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > MANIFEST_MAX_DEPTH)
				return 0;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 1;
}

/*
 * Reads descriptor d, named `where` in messages, into *out. A layer
 * (is_layer) with URLs or a non-distributable media type is marked foreign.
 * ST_OK or ST_MANIFEST_INVALID.
 */
static status_t desc_read(manifest_desc *out, json_t *d, const char *where, int is_layer, char *err,
			  size_t errlen)
{
	json_t *mt, *digest, *size, *urls;
	const char *s;
	status_t st;

	if (!json_is_object(d)) {
		status_errf(err, errlen, "%s is not an object", where);
		return ST_MANIFEST_INVALID;
	}
	mt = json_object_get(d, "mediaType");
	if (!json_is_string(mt) || json_string_length(mt) == 0) {
		status_errf(err, errlen, "%s.mediaType is missing or not a string", where);
		return ST_MANIFEST_INVALID;
	}
	if (json_string_length(mt) >= sizeof(out->media_type)) {
		status_errf(err, errlen, "%s.mediaType is longer than %zu bytes", where,
			    sizeof(out->media_type) - 1);
		return ST_MANIFEST_INVALID;
	}
	digest = json_object_get(d, "digest");
	if (!json_is_string(digest)) {
		status_errf(err, errlen, "%s.digest is missing or not a string", where);
		return ST_MANIFEST_INVALID;
	}
	s = json_string_value(digest);
	if ((st = digest_parse(s, NULL)) != ST_OK) {
		status_errf(err, errlen, "%s.digest '%.80s' is %s", where, s,
			    st == ST_UNSUPPORTED ? "of an unsupported algorithm" : "invalid");
		return ST_MANIFEST_INVALID;
	}
	size = json_object_get(d, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		status_errf(err, errlen, "%s.size is missing or not an integer >= 0", where);
		return ST_MANIFEST_INVALID;
	}
	urls = json_object_get(d, "urls");
	if (urls != NULL && !json_is_array(urls)) {
		status_errf(err, errlen, "%s.urls is not an array", where);
		return ST_MANIFEST_INVALID;
	}
	/* digest_parse bounded the digest below DIGEST_MAX. */
	snprintf(out->digest, sizeof(out->digest), "%s", s);
	snprintf(out->media_type, sizeof(out->media_type), "%s", json_string_value(mt));
	out->size = (uint64_t)json_integer_value(size);
	out->foreign = is_layer && ((urls != NULL && json_array_size(urls) > 0) ||
				    strstr(out->media_type, "nondistributable") != NULL ||
				    strstr(out->media_type, "foreign") != NULL);
	return ST_OK;
}

/*
 * Reads the optional string field `name` of root into out (outlen bytes);
 * leaves out alone when the field is absent. ST_OK or ST_MANIFEST_INVALID.
 */
static status_t string_field(char *out, size_t outlen, json_t *root, const char *name, char *err,
			     size_t errlen)
{
	json_t *v = json_object_get(root, name);

	if (v == NULL)
		return ST_OK;
	if (!json_is_string(v)) {
		status_errf(err, errlen, "%s is not a string", name);
		return ST_MANIFEST_INVALID;
	}
	if (json_string_length(v) >= outlen) {
		status_errf(err, errlen, "%s is longer than %zu bytes", name, outlen - 1);
		return ST_MANIFEST_INVALID;
	}
	snprintf(out, outlen, "%s", json_string_value(v));
	return ST_OK;
}

/*
 * Decides the effective media type from the Content-Type's (ct, may be
 * NULL) and the body's, else from the fields present. ST_OK with *out a
 * canonical manifest type; ST_MANIFEST_INVALID; ST_UNSUPPORTED.
 */
static status_t media_type_decide(const char **out, json_t *root, const char *ct, char *err,
				  size_t errlen)
{
	json_t *mt = json_object_get(root, "mediaType");
	const char *body = NULL, *s;
	int image, index;

	if (mt != NULL) {
		if (!json_is_string(mt)) {
			status_errf(err, errlen, "mediaType is not a string");
			return ST_MANIFEST_INVALID;
		}
		s = json_string_value(mt);
		body = manifest_type_find(s, json_string_length(mt));
		if (body == NULL && ct == NULL) {
			if (is_schema1(s, json_string_length(mt))) {
				status_errf(err, errlen,
					    "Docker schema 1 manifests are not supported");
				return ST_MANIFEST_INVALID;
			}
			status_errf(err, errlen, "mediaType '%.100s' is not a manifest media type",
				    s);
			return ST_UNSUPPORTED;
		}
		if (ct != NULL && body != ct) {
			status_errf(err, errlen,
				    "mediaType '%.100s' does not match Content-Type %s", s, ct);
			return ST_MANIFEST_INVALID;
		}
	}
	if ((*out = ct ? ct : body) != NULL)
		return ST_OK;
	image = json_object_get(root, "config") != NULL || json_object_get(root, "layers") != NULL;
	index = json_object_get(root, "manifests") != NULL;
	if (image == index) {
		status_errf(err, errlen, "cannot tell the manifest type: no mediaType, %s",
			    image ? "and both manifests and config/layers"
				  : "config, layers or manifests");
		return ST_MANIFEST_INVALID;
	}
	*out = index ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	return ST_OK;
}

/* Reads config and layers (images) or manifests (indexes) into out->refs. */
static status_t refs_read(manifest_info *out, json_t *root, char *err, size_t errlen)
{
	json_t *config = NULL, *list, *d;
	const char *list_name = out->kind == MANIFEST_INDEX ? "manifests" : "layers";
	char where[64];
	size_t i, n;
	status_t st;

	if (out->kind == MANIFEST_IMAGE) {
		config = json_object_get(root, "config");
		if (config == NULL) {
			status_errf(err, errlen, "config is missing");
			return ST_MANIFEST_INVALID;
		}
	}
	list = json_object_get(root, list_name);
	if (!json_is_array(list)) {
		status_errf(err, errlen, "%s is missing or not an array", list_name);
		return ST_MANIFEST_INVALID;
	}
	n = json_array_size(list) + (config != NULL);
	if (n == 0)
		return ST_OK; /* an empty index: refs stays NULL */
	if ((out->refs = calloc(n, sizeof(*out->refs))) == NULL) {
		status_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	if (config != NULL) {
		if ((st = desc_read(&out->refs[0], config, "config", 0, err, errlen)) != ST_OK)
			return st;
		out->nrefs = 1;
	}
	json_array_foreach(list, i, d)
	{
		snprintf(where, sizeof(where), "%s[%zu]", list_name, i);
		st = desc_read(&out->refs[out->nrefs], d, where, out->kind == MANIFEST_IMAGE, err,
			       errlen);
		if (st != ST_OK)
			return st;
		out->nrefs++;
	}
	return ST_OK;
}

/* Copies `annotations` as compact JSON into out->annotations, if present. */
static status_t annotations_read(manifest_info *out, json_t *root, char *err, size_t errlen)
{
	json_t *a = json_object_get(root, "annotations"), *v;
	const char *k;

	if (a == NULL)
		return ST_OK;
	if (!json_is_object(a)) {
		status_errf(err, errlen, "annotations is not an object");
		return ST_MANIFEST_INVALID;
	}
	json_object_foreach(a, k, v)
	{
		if (!json_is_string(v)) {
			status_errf(err, errlen, "annotation '%.100s' is not a string", k);
			return ST_MANIFEST_INVALID;
		}
	}
	/* jansson keeps insertion order; PRESERVE_ORDER says so for older ones. */
	if ((out->annotations = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		status_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	return ST_OK;
}

status_t manifest_parse(manifest_info *out, const char *body, size_t len, const char *content_type,
			char *err, size_t errlen)
{
	json_t *root = NULL, *sv, *subject;
	json_error_t jerr;
	const char *ct, *mt;
	manifest_desc sdesc;
	status_t st;

	if (out == NULL) {
		status_errf(err, errlen, "no output");
		return ST_INVALID;
	}
	memset(out, 0, sizeof(*out));
	if (body == NULL) {
		status_errf(err, errlen, "no manifest body");
		return ST_MANIFEST_INVALID;
	}
	if ((st = content_type_read(content_type, &ct, err, errlen)) != ST_OK)
		goto done;
	if (!depth_ok(body, len)) {
		status_errf(err, errlen, "JSON nested deeper than %d levels", MANIFEST_MAX_DEPTH);
		st = ST_MANIFEST_INVALID;
		goto done;
	}
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		status_errf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			    jerr.column, jerr.text);
		st = ST_MANIFEST_INVALID;
		goto done;
	}
	st = ST_MANIFEST_INVALID;
	if (!json_is_object(root)) {
		status_errf(err, errlen, "manifest is not a JSON object");
		goto done;
	}
	sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv)) {
		status_errf(err, errlen, "schemaVersion is missing or not an integer");
		goto done;
	}
	if (json_integer_value(sv) != 2) {
		status_errf(err, errlen,
			    json_integer_value(sv) == 1
				? "Docker schema 1 manifests are not supported"
				: "schemaVersion must be 2");
		goto done;
	}
	if ((st = media_type_decide(&mt, root, ct, err, errlen)) != ST_OK)
		goto done;
	snprintf(out->media_type, sizeof(out->media_type), "%s", mt);
	out->kind = strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0
			? MANIFEST_INDEX
			: MANIFEST_IMAGE;
	if ((st = refs_read(out, root, err, errlen)) != ST_OK)
		goto done;
	/* Referrers: artifactType, else an image's config media type. */
	st = string_field(out->artifact_type, sizeof(out->artifact_type), root, "artifactType", err,
			  errlen);
	if (st != ST_OK)
		goto done;
	if (out->artifact_type[0] == '\0' && out->kind == MANIFEST_IMAGE)
		snprintf(out->artifact_type, sizeof(out->artifact_type), "%s",
			 out->refs[0].media_type);
	if ((subject = json_object_get(root, "subject")) != NULL) {
		if ((st = desc_read(&sdesc, subject, "subject", 0, err, errlen)) != ST_OK)
			goto done;
		snprintf(out->subject, sizeof(out->subject), "%s", sdesc.digest);
	}
	st = annotations_read(out, root, err, errlen);
done:
	json_decref(root);
	if (st != ST_OK) {
		manifest_info_free(out);
		memset(out, 0, sizeof(*out));
	}
	return st;
}

void manifest_info_free(manifest_info *info)
{
	if (info == NULL)
		return;
	free(info->annotations);
	free(info->refs);
	info->annotations = NULL;
	info->refs = NULL;
	info->nrefs = 0;
}
