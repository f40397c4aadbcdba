/*
 * sync.h - `registry mirror sync FILE`: fetch a list of images into the
 * cache ahead of time (to seed a mirror, or a machine that will go
 * offline), through the same upstreams and storage as the pull-through
 * cache.
 *
 * The list has one image per line; blank lines and '#' comments are
 * skipped:
 *   docker.io/library/debian:12                  one tag
 *   docker.io/library/alpine tags=3.*            every upstream tag matching a glob
 *   ghcr.io/org/tool@sha256:...                  one digest
 *   docker.io/library/nginx:1.27 platforms=linux/amd64,linux/arm64
 * The image's domain names the upstream (registry.conf `upstream`); docker
 * rules apply ("alpine" is docker.io/library/alpine). platforms= keeps
 * only those platforms of a multi-platform image (os/arch[/variant]);
 * without it every platform is fetched.
 *
 * Resumable: blobs already stored are skipped, tags already synced cost a
 * HEAD, and a blob cut short is resumed from its last byte on the next run.
 * Progress goes to a FILE (a bar redrawn in place on a terminal, a line per
 * blob otherwise), then a summary and a `failed: IMAGE: REASON` line for
 * each image that failed.
 */
#ifndef SYNC_H
#define SYNC_H

#include <stdbool.h>
#include <stdio.h>

#include "proxy.h"

typedef struct {
	size_t images;	     /* image references synced (a tag, a digest) */
	size_t manifests;    /* manifests stored or found up to date */
	size_t blobs;	     /* blobs now present */
	size_t blobs_cached; /* ...of which were already here */
	uint64_t bytes;	     /* bytes downloaded */
	size_t failed;	     /* image references that failed */
} sync_summary;

typedef struct {
	FILE *out;		 /* progress and summary */
	bool tty;		 /* redraw progress in place */
	bool (*cancelled)(void); /* polled; may be NULL */
} sync_options;

/*
 * Syncs every image of the list at path. ST_OK when all succeeded;
 * ST_INVALID for a malformed line (FILE:LINE on out; nothing is fetched);
 * ST_NOT_FOUND if the list cannot be read; otherwise the first failure's
 * status (the others are still tried). *out (may be NULL) says what
 * happened.
 */
status_t sync_run(proxy *px, meta *db, const char *path, const sync_options *opt,
		  sync_summary *out);

#endif
