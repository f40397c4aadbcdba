/*
 * fuzz_manifest.c - manifest_parse (server/manifest.c).
 *
 * Input: the first byte picks the Content-Type (absent, generic JSON, each
 * manifest type, a foreign type), or when it is '!' the Content-Type is
 * the rest of the first line; the remaining bytes are the body, which is
 * not NUL-terminated (as a pushed body is not). Promises checked: on
 * success every reference is a valid digest, the media type is a manifest
 * type; on failure the output is zeroed; manifest_info_free is idempotent.
 */
#include "fuzz.h"

#include "../../oci/manifest.h"

static const char *const types[] = {
    NULL,
    "application/json",
    MT_OCI_MANIFEST,
    MT_OCI_INDEX,
    MT_DOCKER_MANIFEST,
    MT_DOCKER_LIST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "text/plain; charset=utf-8",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	manifest_info info;
	const char *ct = NULL;
	char *ctbuf = NULL, *body, err[256];
	status_t st;

	if (size == 0)
		return 0;
	if (data[0] == '!') {
		const uint8_t *nl = memchr(data + 1, '\n', size - 1);
		size_t n = nl ? (size_t)(nl - data - 1) : size - 1;
		ctbuf = fuzz_cstr(data + 1, n);
		ct = ctbuf;
		data += 1 + n + (nl != NULL);
		size -= 1 + n + (nl != NULL);
	} else {
		ct = types[data[0] % (sizeof(types) / sizeof(types[0]))];
		data++;
		size--;
	}
	/* An exact-size copy, so ASan sees any read past the body. */
	body = malloc(size ? size : 1);
	if (body == NULL) {
		free(ctbuf);
		return 0;
	}
	memcpy(body, data, size);

	memset(&info, 0xa5, sizeof(info));
	err[0] = '\0';
	st = manifest_parse(&info, body, size, ct, err, sizeof(err));
	if (st == ST_OK) {
		FUZZ_ASSERT(info.kind == MANIFEST_IMAGE || info.kind == MANIFEST_INDEX);
		FUZZ_ASSERT(strcmp(info.media_type, MT_OCI_MANIFEST) == 0 ||
			    strcmp(info.media_type, MT_OCI_INDEX) == 0 ||
			    strcmp(info.media_type, MT_DOCKER_MANIFEST) == 0 ||
			    strcmp(info.media_type, MT_DOCKER_LIST) == 0);
		FUZZ_ASSERT(info.kind == MANIFEST_INDEX || info.nrefs >= 1);
		for (size_t i = 0; i < info.nrefs; i++)
			FUZZ_ASSERT(digest_parse(info.refs[i].digest, NULL) == ST_OK);
		FUZZ_ASSERT(info.subject[0] == '\0' || digest_parse(info.subject, NULL) == ST_OK);
		FUZZ_ASSERT(memchr(info.artifact_type, '\0', sizeof(info.artifact_type)) != NULL);
	} else {
		FUZZ_ASSERT(st == ST_MANIFEST_INVALID || st == ST_UNSUPPORTED || st == ST_NOMEM);
		FUZZ_ASSERT(info.refs == NULL && info.annotations == NULL && info.nrefs == 0);
		FUZZ_ASSERT(err[0] != '\0');
	}
	manifest_info_free(&info);
	manifest_info_free(&info);
	free(body);
	free(ctbuf);
	return 0;
}
