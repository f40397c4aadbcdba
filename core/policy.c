/*
 * policy.c - the rules about what may be written that do not depend on
 * who asks, in one place every write passes (core.h says which): a
 * mirrored repository is read-only, and DELETE can be switched off. The
 * storage-lifecycle rules (quotas, immutable tags, retention) belong here
 * too, as do the events; core_event writes the audit lines and queues
 * the events of deletes and mounts (core/events.c).
 */
#include "core_impl.h"

#include <string.h>

#include "../common/log.h"

status_t policy_writable(core_req *q)
{
	if (!q->mirrored)
		return ST_OK;
	core_detail(q, "%.80s is a read-only mirror of %.80s: pushes and deletes are refused",
		    q->asked, upstream_get_spec(q->t.up)->name);
	return ST_METHOD_NOT_ALLOWED;
}

status_t policy_delete(core_req *q)
{
	if (q->c->opt.delete_enabled)
		return ST_OK;
	core_detail(q, "deleting is switched off (delete_enabled = false)");
	return ST_METHOD_NOT_ALLOWED;
}

/* "audit: push team/app:v1@sha256:... by alice": one line per change, at
 * info; a blob's upload is a step of a push (whose manifest line says what
 * was pushed), at debug. A push naming a tag is where a tag is set or moved. */
void core_event(core_req *q, const char *what, const char *digest, const char *tag)
{
	log_msg(strcmp(what, "upload") == 0 ? LOG_DEBUG : LOG_INFO, "audit: %s %s%s%s%s%s by %s",
		what, q->name, tag ? ":" : "", tag ? tag : "", digest ? "@" : "",
		digest ? digest : "", q->actor[0] ? q->actor : "anonymous");
	/* A push's events went in with its manifest (core_manifest_put). */
	if (q->c->ev != NULL && (strcmp(what, "delete") == 0 || strcmp(what, "mount") == 0)) {
		events_target t = {what, digest, tag, NULL, 0};
		meta *db;
		/* a mount's blob: its size, as distribution's event has it */
		if (digest != NULL && strcmp(what, "mount") == 0 && core_db(q->c, &db) == ST_OK &&
		    meta_blob_get(db, q->name, digest, &t.size) == ST_OK)
			t.media_type = "application/octet-stream";
		events_emit(q->c->ev, q, &t);
	}
}
