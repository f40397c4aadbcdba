/*
 * layout.h - moving images between machines without a network: an OCI
 * image layout (oci-layout, index.json, blobs/<alg>/<hex>) in a tar
 * archive, the format `skopeo copy oci-archive:FILE[:REF]` reads and writes.
 *
 * Export reads from the local storage only (what was pushed, pulled
 * through the cache or synced): every blob an image needs must be there.
 * index.json names each image with org.opencontainers.image.ref.name (the
 * full reference, "docker.io/library/alpine:3.20", which skopeo accepts as
 * the REF) and io.containerd.image.name (the same, as `ctr import` reads).
 *
 * Import reads the archive as a stream (a file or a pipe), hashes every
 * blob while storing it and refuses any whose bytes do not match its name,
 * then records each image of index.json in its repository (from the
 * annotations, or the repository given) with its tag, once everything it
 * references is present with the size its descriptor says.
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "../common/status.h"
#include "../storage/blobstore.h"
#include "../storage/meta.h"

#define LAYOUT_INDEX_MAX (16 * 1024 * 1024) /* largest index.json read */
#define LAYOUT_MANIFEST_MAX (16 * 1024 * 1024)

typedef struct {
	/* "os/arch[/variant],...": of a multi-platform image only these
	 * platforms; NULL or "" = every platform stored here */
	const char *platforms;
	/* each image names a repository (no tag or digest): every tag of it */
	bool all_tags;
} layout_export_options;

/*
 * Writes images (references to repositories of this registry,
 * NAME[:TAG][@DIGEST]; a name not found is tried as Docker would read it,
 * so "alpine:3.20" finds "docker.io/library/alpine:3.20") to fd as a tar
 * archive; opt may be NULL. What is stored is exported: a multi-platform
 * image whose platforms are not all here (a `platforms=` sync), or not all
 * wanted (opt->platforms), goes out as a new index listing the others, and
 * msg says which were left out and why. Messages (what is written, what is
 * missing: a repository, or the tag, naming the tags there are) go to msg.
 * ST_OK; ST_NOT_FOUND (an image, or a blob it needs, is not here);
 * ST_INVALID (a bad reference, a tag with all_tags); ST_IO, ST_NO_SPACE,
 * ST_NOMEM. On failure fd holds a partial archive: write to a temporary
 * file and rename.
 */
status_t layout_export(blobstore *bs, meta *db, char *const *images, size_t n,
		       const layout_export_options *opt, int fd, FILE *msg);

typedef struct {
	size_t images;		/* recorded in a repository */
	size_t untagged;	/* ...of which with no tag (by digest only) */
	size_t blobs;		/* blobs in the archive, all verified */
	size_t blobs_new;	/* ...of which were not here before */
	uint64_t bytes;		/* blob bytes read */
	size_t failed;		/* images not recorded (a bad or missing blob) */
	size_t removed;		/* new blobs removed again: no recorded image uses them */
	uint64_t removed_bytes; /* their bytes */
} layout_stats;

/*
 * Reads an archive from fd into the storage. repo (may be NULL) puts
 * every image into that repository, tagged with its ref.name's tag (or
 * the whole ref.name when it is only a tag); otherwise the repository and
 * tag come from the annotations. tag (may be NULL) is given to the first
 * image the archive names no tag for; any other such image is recorded
 * untagged, and msg says so. ST_OK when every image was recorded;
 * ST_DIGEST_MISMATCH (a blob refused: its images are not recorded),
 * ST_NOT_FOUND (an image needs a blob that is neither in the archive nor
 * here), ST_INVALID (not a tar archive of an OCI layout, an image without a
 * usable name), ST_IO, ST_NO_SPACE, ST_NOMEM. Either way, blobs this
 * import stored that no recorded image uses are removed again (said on
 * msg), and *out (may be NULL) counts what happened.
 */
status_t layout_import(blobstore *bs, meta *db, int fd, const char *repo, const char *tag,
		       FILE *msg, layout_stats *out);

#endif
