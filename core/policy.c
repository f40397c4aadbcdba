/*
 * policy.c - the rules about what may be written that do not depend on
 * who asks, in one place every write passes (core.h says which): a
 * mirrored repository is read-only, and DELETE can be switched off. The
 * storage-lifecycle rules (quotas, immutable tags, retention) belong here
 * too, as do the events and audit lines core_event starts.
 */
#include "core_impl.h"

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

void core_event(core_req *q, const char *what, const char *digest, const char *tag)
{
	log_debug("event: %s %s%s%s%s%s", what, q->name, tag ? ":" : "", tag ? tag : "",
		  digest ? "@" : "", digest ? digest : "");
}
