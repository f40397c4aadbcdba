/*
 * h_referrers.c - GET /v2/<name>/referrers/<digest>[?artifactType=].
 *
 * Answers an OCI image index of the manifests whose subject is <digest>,
 * from the index on (repository, subject): an empty index, never a 404,
 * when there are none or the repository is unknown.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "server.h"

static int add_referrer(void *arg, const core_referrer *man)
{
	json_t *list = arg, *d;

	d = json_pack("{s:s,s:s,s:I}", "mediaType", man->media_type, "digest", man->digest, "size",
		      (json_int_t)man->size);
	if (d == NULL)
		return 1;
	if (man->artifact_type[0])
		json_object_set_new(d, "artifactType", json_string(man->artifact_type));
	if (man->annotations != NULL) {
		json_t *a = json_loads(man->annotations, 0, NULL);
		if (json_is_object(a))
			json_object_set_new(d, "annotations", a);
		else
			json_decref(a);
	}
	return json_array_append_new(list, d) != 0;
}

enum MHD_Result referrers_finish(request *r)
{
	const char *filter = request_arg(r, "artifactType");
	struct MHD_Response *resp;
	json_t *root = NULL, *list;
	char *body;
	status_t st;

	if (filter != NULL && filter[0] == '\0')
		filter = NULL;
	list = json_array();
	if (list == NULL)
		return MHD_NO;
	st = core_referrers(r->srv->core, r->q, r->ref, filter, add_referrer, list);
	if (st != ST_OK) {
		json_decref(list);
		return reply_core_error(r, st);
	}
	root = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
			 "manifests", list);
	body = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (body == NULL)
		return MHD_NO;
	resp = reply_buffer(r, body, strlen(body));
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", MT_OCI_INDEX);
	if (filter != NULL)
		MHD_add_response_header(resp, "OCI-Filters-Applied", "artifactType");
	return reply_send(r, resp, 200);
}
