/*
 * fuzz_routes.c - the URL router (routes_match, server/routes.c).
 *
 * Input: the first byte picks the method (one of the six, or none), the
 * rest is the URL as libmicrohttpd hands it over: already unescaped, so
 * "%2e%2e" and "%2F" arrive here as ".." and "/", and a C string that ends
 * at the first NUL. Linked with the server's objects; no handler runs.
 * Promises checked: a matched route has a valid repository name (when it
 * takes one) and a NUL-terminated reference that fits its buffer.
 */
#include "fuzz.h"

#include "../../server/http.h"

static const http_method methods[] = {0, M_GET, M_HEAD, M_PUT, M_POST, M_PATCH, M_DELETE};

/* The routes under /v2/<name>/. */
static int takes_name(route_kind k)
{
	return k == R_TAGS || k == R_MANIFEST || k == R_BLOB || k == R_UPLOAD_START ||
	       k == R_UPLOAD || k == R_REFERRERS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request r;
	char *url;
	status_t st;

	if (size == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	r.method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	if ((url = fuzz_cstr(data + 1, size - 1)) == NULL)
		return 0;
	st = routes_match(&r, url);
	FUZZ_ASSERT(st == ST_OK || st == ST_NOT_ROUTE || st == ST_NAME_INVALID ||
		    st == ST_METHOD_NOT_ALLOWED);
	FUZZ_ASSERT(memchr(r.name, '\0', sizeof(r.name)) != NULL);
	FUZZ_ASSERT(memchr(r.ref, '\0', sizeof(r.ref)) != NULL);
	if (st == ST_OK) {
		FUZZ_ASSERT(r.route != NULL && (r.route->methods & r.method));
		if (takes_name(r.route->kind)) {
			FUZZ_ASSERT(strncmp(url, "/v2/", 4) == 0);
			FUZZ_ASSERT(ref_name_check(r.name) == ST_OK);
		}
	}
	if (st == ST_METHOD_NOT_ALLOWED)
		FUZZ_ASSERT(r.method == 0 || (r.route != NULL && !(r.route->methods & r.method)));
	free(url);
	return 0;
}
