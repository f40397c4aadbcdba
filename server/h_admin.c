/*
 * h_admin.c - the registry's own routes beside the OCI API:
 * DELETE /v2/_admin/repositories/<name> removes a whole repository (its
 * tags, manifests and blob links; the blobs go at the next garbage
 * collection past gc_delay). The gate asks for `delete` on the name; a
 * mirrored name, however spelt, is refused as read-only by the core.
 * Answers 202 with what was removed: {"name", "tags", "manifests", "links"}.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "server.h"

#define ADMIN_BODY_MAX (REF_NAME_MAX + 128)

enum MHD_Result admin_repo_finish(request *r)
{
	core_repo_counts n;
	char *body;
	int len;
	status_t st = core_repo_delete(r->srv->core, r->q, false, &n);

	if (st != ST_OK)
		return reply_core_error(r, st);
	if ((body = malloc(ADMIN_BODY_MAX)) == NULL)
		return MHD_NO;
	/* the name passed the grammar: no JSON escaping needed */
	len = snprintf(body, ADMIN_BODY_MAX,
		       "{\"name\":\"%s\",\"tags\":%zu,\"manifests\":%zu,\"links\":%zu}",
		       core_req_asked(r->q), n.tags, n.manifests, n.links);
	struct MHD_Response *resp = reply_buffer(r, body, (size_t)len);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return reply_send(r, resp, 202);
}
