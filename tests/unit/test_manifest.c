/*
 * test_manifest.c - manifest parsing: the four manifest types as real
 * clients push them, artifacts with artifactType, subject and annotations,
 * and every way a body can be refused (schema 1, bad JSON, deep nesting,
 * duplicate keys, bad descriptors, media type disagreements), with the
 * exact status for each.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../oci/manifest.h"

/* Real-looking digests: hello-world's config and layer, and others. */
#define D_CONFIG "sha256:feb5d9fea6a5e9606aa995e879d862b825965ba48de054caab5ef356dc6b3412"
#define D_LAYER "sha256:2db29710123e3e53a794f2694094b9b4338aa9ee5c40b930cb8063a1be392c54"
#define D_LAYER2 "sha256:c1ab5a3d9f8b2e4f6a7d8c9b0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b"
#define D_AMD64 "sha256:7e9b6e7ba2842c91cf49f3e214d04a7a496f8214356f41d81a6e6dcad11f11e3"
#define D_ARM64                                                                                    \
	"sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0f" \
	"f8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define D_EMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

static const char docker_v2[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "   \"config\": {\n"
    "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 1470,\n"
    "      \"digest\": \"" D_CONFIG "\"\n"
    "   },\n"
    "   \"layers\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 2479,\n"
    "         \"digest\": \"" D_LAYER "\"\n"
    "      }\n"
    "   ]\n"
    "}";

/* As buildah and containerd push it: no mediaType in the body. */
static const char oci_manifest[] =
    "{\"schemaVersion\":2,"
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"" D_CONFIG "\",\"size\":1470},"
    "\"layers\":["
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"" D_LAYER "\",\"size\":2479},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
    "\"digest\":\"" D_LAYER2 "\",\"size\":0}],"
    "\"annotations\":{\"org.opencontainers.image.base.name\":\"docker.io/library/alpine\"}}";

static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_AMD64 "\","
    "\"size\":1013,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ARM64 "\","
    "\"size\":1014,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\","
    "\"variant\":\"v8\"}}]}";

static const char docker_list[] =
    "{\n  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
    "  \"manifests\": [\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "     \"size\": 525, \"digest\": \"" D_AMD64 "\",\n"
    "     \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}}\n"
    "  ]\n}\n";

/* An SBOM attached to an image, as oras pushes it. */
static const char artifact[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/spdx+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"" D_EMPTY "\",\"size\":2,\"data\":\"e30=\"},"
    "\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"" D_LAYER "\","
    "\"size\":3130,\"annotations\":{\"org.opencontainers.image.title\":\"sbom.spdx.json\"}}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" D_AMD64 "\",\"size\":1013},"
    "\"annotations\":{\"org.opencontainers.image.created\":\"2024-05-01T12:00:00Z\","
    "\"com.example.b\":\"2\",\"com.example.a\":\"quote \\\" and \\u00e9\"}}";

static manifest_info info;
static char err[512];

static void setup(void)
{
	memset(&info, 0, sizeof(info));
	err[0] = '\0';
}

static void teardown(void)
{
	manifest_info_free(&info);
}

/* Parses body (a string) pushed with ct, expecting want; frees the last. */
static void parse_expect(const char *body, const char *ct, status_t want)
{
	status_t st;

	manifest_info_free(&info);
	st = manifest_parse(&info, body, strlen(body), ct, err, sizeof(err));

	ck_assert_msg(st == want, "status %d, want %d; err: %s", st, want, err);
	if (st != ST_OK) {
		/* Failure leaves nothing to free and says why. */
		ck_assert_ptr_null(info.refs);
		ck_assert_ptr_null(info.annotations);
		ck_assert_uint_eq(info.nrefs, 0);
		ck_assert_msg(err[0] != '\0', "no message");
	}
}

static void expect_desc(size_t i, const char *digest, const char *media_type, uint64_t size,
			int foreign)
{
	ck_assert_uint_lt(i, info.nrefs);
	ck_assert_str_eq(info.refs[i].digest, digest);
	ck_assert_str_eq(info.refs[i].media_type, media_type);
	ck_assert_uint_eq(info.refs[i].size, size);
	ck_assert_int_eq(info.refs[i].foreign, foreign);
}

/* Replaces the first `from` in s with `to` into a new string (free it). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	ck_assert_ptr_nonnull(at);
	ck_assert_ptr_nonnull(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

/* parse_expect on s with its first `from` replaced by `to`. */
static void parse_replaced(const char *s, const char *from, const char *to, const char *ct,
			   status_t want)
{
	char *body = replace(s, from, to);

	parse_expect(body, ct, want);
	free(body);
}

START_TEST(docker_manifest)
{
	parse_expect(docker_v2, MT_DOCKER_MANIFEST, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_IMAGE);
	ck_assert_str_eq(info.media_type, MT_DOCKER_MANIFEST);
	ck_assert_uint_eq(info.nrefs, 2);
	expect_desc(0, D_CONFIG, MT_DOCKER_CONFIG, 1470, 0);
	expect_desc(1, D_LAYER, "application/vnd.docker.image.rootfs.diff.tar.gzip", 2479, 0);
	/* Every image has an artifact type for referrers: its config's. */
	ck_assert_str_eq(info.artifact_type, MT_DOCKER_CONFIG);
	ck_assert_str_eq(info.subject, "");
	ck_assert_ptr_null(info.annotations);
}
END_TEST

START_TEST(content_type_fallbacks)
{
	static const char *const cts[] = {
	    NULL,
	    "",
	    "  ",
	    "application/json",
	    "application/json; charset=utf-8",
	    "APPLICATION/VND.DOCKER.DISTRIBUTION.MANIFEST.V2+JSON",
	    "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
	    " application/vnd.docker.distribution.manifest.v2+json ;charset=utf-8",
	};

	for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
		parse_expect(docker_v2, cts[i], ST_OK);
		/* The canonical spelling, whatever the client's. */
		ck_assert_str_eq(info.media_type, MT_DOCKER_MANIFEST);
		ck_assert_uint_eq(info.nrefs, 2);
	}
}
END_TEST

START_TEST(oci_image)
{
	parse_expect(oci_manifest, MT_OCI_MANIFEST, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_IMAGE);
	ck_assert_str_eq(info.media_type, MT_OCI_MANIFEST);
	ck_assert_uint_eq(info.nrefs, 3);
	expect_desc(0, D_CONFIG, MT_OCI_CONFIG, 1470, 0);
	expect_desc(1, D_LAYER, "application/vnd.oci.image.layer.v1.tar+gzip", 2479, 0);
	expect_desc(2, D_LAYER2, "application/vnd.oci.image.layer.v1.tar+zstd", 0, 0);
	ck_assert_str_eq(info.artifact_type, MT_OCI_CONFIG);
	ck_assert_str_eq(info.annotations,
			 "{\"org.opencontainers.image.base.name\":\"docker.io/library/alpine\"}");
	/* Neither Content-Type nor mediaType: config and layers make it an image. */
	parse_expect(oci_manifest, NULL, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_IMAGE);
	ck_assert_str_eq(info.media_type, MT_OCI_MANIFEST);
	ck_assert_uint_eq(info.nrefs, 3);
}
END_TEST

START_TEST(oci_image_index)
{
	parse_expect(oci_index, MT_OCI_INDEX, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	ck_assert_str_eq(info.media_type, MT_OCI_INDEX);
	ck_assert_uint_eq(info.nrefs, 2);
	expect_desc(0, D_AMD64, MT_OCI_MANIFEST, 1013, 0);
	expect_desc(1, D_ARM64, MT_OCI_MANIFEST, 1014, 0);
	ck_assert_str_eq(info.artifact_type, "");
	ck_assert_str_eq(info.subject, "");
	ck_assert_ptr_null(info.annotations);
	/* From the body's mediaType alone. */
	parse_expect(oci_index, NULL, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	/* From the manifests field alone. */
	parse_replaced(oci_index, "\"mediaType\":\"application/vnd.oci.image.index.v1+json\",", "",
		       "application/json", ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	ck_assert_str_eq(info.media_type, MT_OCI_INDEX);
	ck_assert_uint_eq(info.nrefs, 2);
}
END_TEST

START_TEST(docker_manifest_list)
{
	parse_expect(docker_list, MT_DOCKER_LIST, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	ck_assert_str_eq(info.media_type, MT_DOCKER_LIST);
	ck_assert_uint_eq(info.nrefs, 1);
	expect_desc(0, D_AMD64, MT_DOCKER_MANIFEST, 525, 0);
	ck_assert_str_eq(info.artifact_type, "");
	parse_expect(docker_list, NULL, ST_OK);
	ck_assert_str_eq(info.media_type, MT_DOCKER_LIST);
}
END_TEST

START_TEST(empty_index)
{
	parse_expect("{\"schemaVersion\":2,\"manifests\":[]}", NULL, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	ck_assert_str_eq(info.media_type, MT_OCI_INDEX);
	ck_assert_uint_eq(info.nrefs, 0);
	ck_assert_ptr_null(info.refs);
}
END_TEST

START_TEST(artifact_full)
{
	parse_expect(artifact, MT_OCI_MANIFEST, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_IMAGE);
	ck_assert_str_eq(info.media_type, MT_OCI_MANIFEST);
	ck_assert_str_eq(info.artifact_type, "application/spdx+json");
	ck_assert_str_eq(info.subject, D_AMD64);
	ck_assert_uint_eq(info.nrefs, 2);
	expect_desc(0, D_EMPTY, MT_OCI_EMPTY, 2, 0);
	expect_desc(1, D_LAYER, "application/spdx+json", 3130, 0);
	/* Compact, in the pushed order, escapes kept valid. */
	ck_assert_str_eq(info.annotations,
			 "{\"org.opencontainers.image.created\":\"2024-05-01T12:00:00Z\","
			 "\"com.example.b\":\"2\",\"com.example.a\":\"quote \\\" and \xc3\xa9\"}");
}
END_TEST

START_TEST(artifact_type_fallbacks)
{
	/* No artifactType: the config's media type, even with no layers. */
	parse_expect(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.example.config.v1+json\","
	    "\"digest\":\"" D_CONFIG "\",\"size\":7},\"layers\":[]}",
	    MT_OCI_MANIFEST, ST_OK);
	ck_assert_str_eq(info.artifact_type, "application/vnd.example.config.v1+json");
	ck_assert_uint_eq(info.nrefs, 1);
	/* An empty artifactType counts as none. */
	parse_replaced(artifact, "\"artifactType\":\"application/spdx+json\"",
		       "\"artifactType\":\"\"", MT_OCI_MANIFEST, ST_OK);
	ck_assert_str_eq(info.artifact_type, MT_OCI_EMPTY);
	/* An index with an artifactType and a subject. */
	parse_replaced(
	    oci_index, "\"manifests\"",
	    "\"artifactType\":\"application/vnd.example.sig\",\"subject\":"
	    "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"" D_EMPTY
	    "\",\"size\":1},\"manifests\"",
	    MT_OCI_INDEX, ST_OK);
	ck_assert_int_eq(info.kind, MANIFEST_INDEX);
	ck_assert_str_eq(info.artifact_type, "application/vnd.example.sig");
	ck_assert_str_eq(info.subject, D_EMPTY);
	/* An empty annotations object is kept as such. */
	parse_replaced(oci_index, "\"manifests\"", "\"annotations\":{},\"manifests\"", NULL, ST_OK);
	ck_assert_str_eq(info.annotations, "{}");
}
END_TEST

START_TEST(foreign_layers)
{
	static const char body[] =
	    "{\"schemaVersion\":2,"
	    "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	    "\"size\":1,\"digest\":\"" D_CONFIG "\",\"urls\":[\"https://example.com/c\"]},"
	    "\"layers\":["
	    "{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
	    "\"size\":5,\"digest\":\"" D_LAYER "\","
	    "\"urls\":[\"https://mcr.microsoft.com/v2/windows/blobs/x\"]},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
	    "\"size\":6,\"digest\":\"" D_LAYER2 "\"},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":7,"
	    "\"digest\":\"" D_AMD64 "\",\"urls\":[\"https://example.com/l\"]},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":8,"
	    "\"digest\":\"" D_EMPTY "\",\"urls\":[]}]}";

	parse_expect(body, NULL, ST_OK);
	ck_assert_uint_eq(info.nrefs, 5);
	/* The config is never foreign: the registry must hold it. */
	ck_assert_int_eq(info.refs[0].foreign, 0);
	ck_assert_int_eq(info.refs[1].foreign, 1); /* foreign media type */
	ck_assert_int_eq(info.refs[2].foreign, 1); /* nondistributable media type */
	ck_assert_int_eq(info.refs[3].foreign, 1); /* urls */
	ck_assert_int_eq(info.refs[4].foreign, 0); /* no urls after all */
}
END_TEST

START_TEST(schema1)
{
	static const char body[] =
	    "{\"schemaVersion\":1,\"name\":\"library/hello\",\"tag\":\"latest\","
	    "\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" D_LAYER "\"}],"
	    "\"history\":[{\"v1Compatibility\":\"{}\"}],\"signatures\":[]}";

	parse_expect(body, NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "Docker schema 1 manifests are not supported");
	parse_expect(body, "application/json", ST_MANIFEST_INVALID);
	parse_expect(body, "application/vnd.docker.distribution.manifest.v1+prettyjws",
		     ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "Docker schema 1 manifests are not supported");
	parse_expect(body, "application/vnd.docker.distribution.manifest.v1+json",
		     ST_MANIFEST_INVALID);
	/* Even claiming a schema 2 type. */
	parse_expect(body, MT_DOCKER_MANIFEST, ST_MANIFEST_INVALID);
	/* A schema 1 mediaType in the body. */
	parse_replaced(docker_v2, "manifest.v2+json", "manifest.v1+json", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "Docker schema 1 manifests are not supported");
}
END_TEST

START_TEST(schema_version)
{
	parse_replaced(docker_v2, "\"schemaVersion\": 2,", "", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "schemaVersion is missing or not an integer");
	parse_replaced(docker_v2, "\"schemaVersion\": 2", "\"schemaVersion\": \"2\"", NULL,
		       ST_MANIFEST_INVALID);
	parse_replaced(docker_v2, "\"schemaVersion\": 2", "\"schemaVersion\": 2.0", NULL,
		       ST_MANIFEST_INVALID);
	parse_replaced(docker_v2, "\"schemaVersion\": 2", "\"schemaVersion\": 3", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "schemaVersion must be 2");
	parse_replaced(docker_v2, "\"schemaVersion\": 2", "\"schemaVersion\": null", NULL,
		       ST_MANIFEST_INVALID);
}
END_TEST

START_TEST(bad_json)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "not json",
	    "{\"schemaVersion\":2,}",
	    "{\"schemaVersion\":2}x",
	    "{\"schemaVersion\":2}{}",
	    "{'schemaVersion':2}",
	    "{\"schemaVersion\":2,\"x\":\"\xff\"}", /* not UTF-8 */
	    "{\"schemaVersion\":2,\"x\":\"a\\u0000b\"}",
	    "{\"schemaVersion\":2,\"x\":123456789012345678901234567890}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		parse_expect(bad[i], NULL, ST_MANIFEST_INVALID);
		ck_assert_msg(strncmp(err, "invalid JSON", 12) == 0, "'%s': %s", bad[i], err);
	}
	/* Not an object at the top. */
	parse_expect("[]", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "manifest is not a JSON object");
	parse_expect("[{\"schemaVersion\":2,\"manifests\":[]}]", NULL, ST_MANIFEST_INVALID);
	/* Only len bytes are read: a body cut short is bad JSON. */
	ck_assert_int_eq(
	    manifest_parse(&info, docker_v2, sizeof(docker_v2) - 2, NULL, err, sizeof(err)),
	    ST_MANIFEST_INVALID);
	/* A NUL byte inside the body. */
	ck_assert_int_eq(
	    manifest_parse(&info, docker_v2, sizeof(docker_v2), NULL, err, sizeof(err)),
	    ST_MANIFEST_INVALID);
}
END_TEST

/* A body of `depth` nested arrays, as a manifest's extra field. */
static char *nested(size_t depth)
{
	static const char head[] = "{\"schemaVersion\":2,\"manifests\":[],\"x\":";
	size_t n = strlen(head) + 2 * depth + 2;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, strlen(head));
	memset(s + strlen(head), '[', depth);
	memset(s + strlen(head) + depth, ']', depth);
	s[n - 2] = '}';
	s[n - 1] = '\0';
	return s;
}

START_TEST(deep_nesting)
{
	char *s = malloc(20001);

	ck_assert_ptr_nonnull(s);
	memset(s, '[', 10000);
	memset(s + 10000, ']', 10000);
	s[20000] = '\0';
	parse_expect(s, NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "JSON nested deeper than 32 levels");
	free(s);
	/* Objects count as well as arrays: {"a":{"a":...1}}. */
	s = malloc(60001);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < 10000; i++)
		memcpy(s + 5 * i, "{\"a\":", 5);
	s[50000] = '1';
	memset(s + 50001, '}', 10000);
	s[60001 - 1] = '\0';
	parse_expect(s, NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "JSON nested deeper than 32 levels");
	free(s);

	/* The root object plus 31 levels is the limit; one more is refused. */
	s = nested(MANIFEST_MAX_DEPTH - 1);
	parse_expect(s, NULL, ST_OK);
	free(s);
	s = nested(MANIFEST_MAX_DEPTH);
	parse_expect(s, NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "JSON nested deeper than 32 levels");
	free(s);
}
END_TEST

START_TEST(brackets_in_strings)
{
	char *body = malloc(400);

	ck_assert_ptr_nonnull(body);
	/* Brackets inside strings, escaped quotes included, are not nesting. */
	snprintf(body, 400,
		 "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":\"%0100d\","
		 "\"b\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\\\"}}",
		 0);
	memset(strstr(body, "\"a\":\"") + 5, '{', 100);
	parse_expect(body, NULL, ST_OK);
	free(body);
}
END_TEST

START_TEST(duplicate_keys)
{
	parse_replaced(docker_v2, "\"schemaVersion\": 2,",
		       "\"schemaVersion\": 2, \"schemaVersion\": 2,", NULL, ST_MANIFEST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	/* Inside a descriptor, where a second digest could hide. */
	parse_replaced(docker_v2, "\"size\": 2479,",
		       "\"size\": 2479, \"digest\": \"" D_LAYER2 "\",", NULL, ST_MANIFEST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	parse_replaced(artifact, "\"com.example.b\":\"2\"",
		       "\"com.example.b\":\"2\",\"com.example.b\":\"3\"", NULL,
		       ST_MANIFEST_INVALID);
}
END_TEST

START_TEST(bad_digests)
{
	/* Malformed. */
	parse_replaced(docker_v2, D_LAYER, "sha256:xyz", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].digest 'sha256:xyz' is invalid");
	parse_replaced(docker_v2, D_CONFIG, "", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config.digest '' is invalid");
	parse_replaced(docker_v2, "2db29710", "2DB29710", NULL, ST_MANIFEST_INVALID);
	/* Well-formed but an algorithm we cannot verify. */
	parse_replaced(docker_v2, D_LAYER, "sha384:abc", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].digest 'sha384:abc' is of an unsupported algorithm");
	/* Missing or mistyped. */
	parse_replaced(docker_v2, "\"digest\": \"" D_LAYER "\"", "\"digest\": 5", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].digest is missing or not a string");
	parse_replaced(oci_index, "\"digest\":\"" D_ARM64 "\",", "", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "manifests[1].digest is missing or not a string");
	parse_replaced(artifact, "\"digest\":\"" D_AMD64 "\"", "\"digest\":\"sha256:1\"", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "subject.digest 'sha256:1' is invalid");
}
END_TEST

START_TEST(bad_sizes)
{
	parse_replaced(docker_v2, "\"size\": 2479", "\"size\": -1", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].size is missing or not an integer >= 0");
	parse_replaced(docker_v2, "\"size\": 1470", "\"size\": \"1470\"", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config.size is missing or not an integer >= 0");
	parse_replaced(docker_v2, "\"size\": 1470", "\"size\": 1470.0", NULL, ST_MANIFEST_INVALID);
	parse_replaced(docker_v2, "\"size\": 1470", "\"size\": 1.5e3", NULL, ST_MANIFEST_INVALID);
	parse_replaced(docker_v2, "\"size\": 1470,", "", NULL, ST_MANIFEST_INVALID);
	parse_replaced(docker_v2, "\"size\": 1470", "\"size\": null", NULL, ST_MANIFEST_INVALID);
	/* The largest size JSON can carry is fine. */
	parse_replaced(docker_v2, "\"size\": 1470", "\"size\": 9223372036854775807", NULL, ST_OK);
	ck_assert_uint_eq(info.refs[0].size, INT64_MAX);
}
END_TEST

START_TEST(media_type_mismatch)
{
	/* Content-Type and body disagree. */
	parse_expect(docker_v2, MT_OCI_MANIFEST, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "mediaType 'application/vnd.docker.distribution.manifest.v2+json' "
			      "does not match Content-Type "
			      "application/vnd.oci.image.manifest.v1+json");
	parse_expect(oci_index, MT_DOCKER_LIST, ST_MANIFEST_INVALID);
	parse_expect(docker_list, MT_OCI_INDEX, ST_MANIFEST_INVALID);
	/* A body without mediaType read as the wrong kind lacks its fields. */
	parse_expect(oci_manifest, MT_OCI_INDEX, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "manifests is missing or not an array");
	parse_replaced(oci_index, "\"mediaType\":\"application/vnd.oci.image.index.v1+json\",", "",
		       MT_OCI_MANIFEST, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config is missing");
	/* A body mediaType that is no manifest, under a manifest Content-Type. */
	parse_replaced(docker_v2, "manifest.v2+json", "manifest.v3+json", MT_DOCKER_MANIFEST,
		       ST_MANIFEST_INVALID);
}
END_TEST

START_TEST(unsupported_types)
{
	static const char *const cts[] = {
	    "text/plain",
	    "application/octet-stream",
	    MT_OCI_CONFIG,
	    "application/vnd.oci.image.manifest.v1+json+extra",
	    "application/vnd.oci.image.manifest.v1",
	    "; charset=utf-8x", /* parameters only: empty type, so no claim... */
	};

	/* ...except the last, which says nothing and falls back to the body. */
	for (size_t i = 0; i + 1 < sizeof(cts) / sizeof(cts[0]); i++) {
		err[0] = '\0';
		parse_expect(oci_manifest, cts[i], ST_UNSUPPORTED);
	}
	ck_assert_str_eq(err, "Content-Type application/vnd.oci.image.manifest.v1 is not a "
			      "manifest media type");
	parse_expect(oci_manifest, cts[5], ST_OK);
	/* Content-Type wins before the body is even read. */
	parse_expect("garbage", "text/plain", ST_UNSUPPORTED);
	/* A body mediaType that is no manifest, with nothing else to go on. */
	parse_replaced(docker_v2, "application/vnd.docker.distribution.manifest.v2+json",
		       "application/vnd.example.thing", NULL, ST_UNSUPPORTED);
	ck_assert_str_eq(err, "mediaType 'application/vnd.example.thing' is not a manifest media "
			      "type");
}
END_TEST

START_TEST(missing_fields)
{
	parse_replaced(docker_v2, "\"config\"", "\"konfig\"", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config is missing");
	parse_replaced(docker_v2, "\"layers\"", "\"lairs\"", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers is missing or not an array");
	parse_replaced(oci_manifest, "\"layers\":[", "\"layers\":{},\"l\":[", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers is missing or not an array");
	parse_replaced(oci_index, "\"manifests\":[", "\"manifests\":null,\"m\":[", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "manifests is missing or not an array");
	parse_replaced(oci_manifest, "\"config\":{", "\"config\":\"x\",\"c\":{", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config is not an object");
	/* Descriptors must be objects with a media type. */
	parse_replaced(docker_list, "\"manifests\": [", "\"manifests\": [5, ", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "manifests[0] is not an object");
	parse_replaced(oci_manifest,
		       "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",", "{", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].mediaType is missing or not a string");
	parse_replaced(oci_manifest, "\"application/vnd.oci.image.config.v1+json\"", "1", NULL,
		       ST_MANIFEST_INVALID);
	parse_replaced(oci_manifest, "\"application/vnd.oci.image.config.v1+json\"", "\"\"", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config.mediaType is missing or not a string");
	parse_replaced(oci_manifest, "\"digest\":\"" D_LAYER "\"",
		       "\"digest\":\"" D_LAYER "\",\"urls\":\"https://x\"", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "layers[0].urls is not an array");
	/* Neither type nor telling fields. */
	parse_expect("{\"schemaVersion\":2}", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "cannot tell the manifest type: no mediaType, config, layers or "
			      "manifests");
	parse_expect("{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", NULL,
		     ST_MANIFEST_INVALID);
	/* ...which a Content-Type settles. */
	parse_expect("{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", MT_OCI_INDEX, ST_OK);
}
END_TEST

START_TEST(mistyped_fields)
{
	parse_replaced(docker_v2,
		       "\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\"",
		       "\"mediaType\": 2", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "mediaType is not a string");
	parse_replaced(artifact, "\"artifactType\":\"application/spdx+json\"",
		       "\"artifactType\":[]", NULL, ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "artifactType is not a string");
	parse_replaced(artifact, "\"subject\":{", "\"subject\":[],\"s\":{", NULL,
		       ST_MANIFEST_INVALID);
	parse_replaced(artifact, "\"subject\":{", "\"subject\":null,\"s\":{", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "subject is not an object");
	parse_replaced(artifact, "\"annotations\":{\"org.opencontainers.image.created\"",
		       "\"annotations\":[],\"a\":{\"org.opencontainers.image.created\"", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "annotations is not an object");
	parse_replaced(artifact, "\"com.example.b\":\"2\"", "\"com.example.b\":2", NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "annotation 'com.example.b' is not a string");
	parse_replaced(artifact, "\"com.example.b\":\"2\"", "\"com.example.b\":{}", NULL,
		       ST_MANIFEST_INVALID);
}
END_TEST

START_TEST(long_strings)
{
	char mt[300], *to;

	/* 255 characters fit a media type; 256 do not. */
	memset(mt, 'x', sizeof(mt));
	memcpy(mt, "\"application/", 13);
	mt[256] = '"';
	mt[257] = '\0';
	parse_replaced(oci_manifest, "\"application/vnd.oci.image.config.v1+json\"", mt, NULL,
		       ST_OK);
	ck_assert_uint_eq(strlen(info.refs[0].media_type), 255);
	ck_assert_uint_eq(strlen(info.artifact_type), 255);
	mt[256] = 'x';
	mt[257] = '"';
	mt[258] = '\0';
	parse_replaced(oci_manifest, "\"application/vnd.oci.image.config.v1+json\"", mt, NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "config.mediaType is longer than 255 bytes");
	to = malloc(400);
	ck_assert_ptr_nonnull(to);
	snprintf(to, 400, "\"artifactType\":%s", mt);
	parse_replaced(artifact, "\"artifactType\":\"application/spdx+json\"", to, NULL,
		       ST_MANIFEST_INVALID);
	ck_assert_str_eq(err, "artifactType is longer than 255 bytes");
	free(to);
}
END_TEST

START_TEST(misuse)
{
	char small[8];

	/* Whatever *out held before is overwritten, not freed or trusted. */
	memset(&info, 0xab, sizeof(info));
	ck_assert_int_eq(manifest_parse(&info, "{", 1, NULL, err, sizeof(err)),
			 ST_MANIFEST_INVALID);
	ck_assert_ptr_null(info.refs);
	memset(&info, 0xab, sizeof(info));
	ck_assert_int_eq(
	    manifest_parse(&info, docker_v2, strlen(docker_v2), NULL, err, sizeof(err)), ST_OK);
	manifest_info_free(&info);
	ck_assert_int_eq(manifest_parse(NULL, docker_v2, strlen(docker_v2), NULL, err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(manifest_parse(&info, NULL, 0, NULL, err, sizeof(err)),
			 ST_MANIFEST_INVALID);
	ck_assert_ptr_null(info.refs);
	/* No room for a message; a truncated one. */
	ck_assert_int_eq(manifest_parse(&info, "{", 1, NULL, NULL, 0), ST_MANIFEST_INVALID);
	ck_assert_int_eq(manifest_parse(&info, "[]", 2, NULL, small, sizeof(small)),
			 ST_MANIFEST_INVALID);
	ck_assert_str_eq(small, "manifes");
	/* Success needs no message buffer either. */
	ck_assert_int_eq(manifest_parse(&info, docker_v2, strlen(docker_v2), NULL, NULL, 0), ST_OK);
	/* Freeing twice, or NULL, does nothing. */
	manifest_info_free(&info);
	manifest_info_free(&info);
	manifest_info_free(NULL);
	ck_assert_ptr_null(info.refs);
	ck_assert_ptr_null(info.annotations);
}
END_TEST

Suite *make_manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("accept");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, docker_manifest);
	tcase_add_test(tc, content_type_fallbacks);
	tcase_add_test(tc, oci_image);
	tcase_add_test(tc, oci_image_index);
	tcase_add_test(tc, docker_manifest_list);
	tcase_add_test(tc, empty_index);
	tcase_add_test(tc, artifact_full);
	tcase_add_test(tc, artifact_type_fallbacks);
	tcase_add_test(tc, foreign_layers);
	tcase_add_test(tc, brackets_in_strings);
	suite_add_tcase(s, tc);
	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, schema1);
	tcase_add_test(tc, schema_version);
	tcase_add_test(tc, bad_json);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, bad_digests);
	tcase_add_test(tc, bad_sizes);
	tcase_add_test(tc, media_type_mismatch);
	tcase_add_test(tc, unsupported_types);
	tcase_add_test(tc, missing_fields);
	tcase_add_test(tc, mistyped_fields);
	tcase_add_test(tc, long_strings);
	tcase_add_test(tc, misuse);
	suite_add_tcase(s, tc);
	return s;
}
