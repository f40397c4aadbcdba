/*
 * archive.c - the command line's operations on the store as a whole:
 * `mirror sync` (proxy/sync.c walks images like pulls), `export` and
 * `import` of OCI image layouts in tar archives (proxy/layout.c).
 */
#include "core_impl.h"

#include "../proxy/layout.h"
#include "../proxy/sync.h"

status_t core_mirror_sync(core *c, const char *path, const core_sync_options *o,
			  core_sync_summary *out)
{
	sync_options so = {o->out, o->tty, o->cancelled};
	sync_summary sum = {0};
	status_t st;
	meta *db;
	core_settings *set;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	set = settings_get(c);
	st = set->px == NULL ? ST_INVALID : sync_run(set->px, db, path, &so, &sum);
	settings_put(c, set);
	*out = (core_sync_summary){sum.images,	     sum.manifests, sum.blobs,
				   sum.blobs_cached, sum.bytes,	    sum.failed};
	return st;
}

status_t core_export(core *c, char *const *images, size_t n, const core_export_options *o, int fd,
		     FILE *msg)
{
	layout_export_options xo = {o->platforms, o->all_tags};
	status_t st;
	meta *db;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	return layout_export(c->bs, db, images, n, &xo, fd, msg);
}

status_t core_import(core *c, int fd, const char *repo, const char *tag, FILE *msg,
		     core_import_stats *out)
{
	layout_stats ls = {0};
	status_t st;
	meta *db;

	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	st = layout_import(c->bs, db, fd, repo, tag, msg, &ls);
	*out = (core_import_stats){.images = ls.images,
				   .untagged = ls.untagged,
				   .blobs = ls.blobs,
				   .blobs_new = ls.blobs_new,
				   .failed = ls.failed,
				   .removed = ls.removed,
				   .bytes = ls.bytes,
				   .removed_bytes = ls.removed_bytes};
	return st;
}
