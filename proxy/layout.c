/*
 * layout.c - OCI image layouts in tar archives (see layout.h).
 *
 * Export walks each image from its manifest down (an index's manifests,
 * an image's config and layers), collecting the digests in first-seen
 * order without duplicates, checks that every one is stored, then writes
 * oci-layout, the blobs, and index.json last.
 *
 * Import never trusts a name: a blob entry goes through a blob upload
 * whose commit compares the bytes' digest with the entry's path, and
 * index.json is only looked at once every blob was read. A manifest is
 * recorded after its children (an index's manifests are recorded untagged
 * in the same repository first), so a repository never shows a manifest
 * whose references are missing.
 */
#include "layout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "../server/manifest.h"
#include "imageref.h"
#include "tar.h"

#define LAYOUT_COPY_BUF (256 * 1024)
#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define ANN_CTR_NAME "io.containerd.image.name"

/* ---- a set of digests, in insertion order ---- */

typedef struct {
	char (*v)[DIGEST_MAX];
	uint64_t *size;
	size_t n, cap;
} dset;

static bool dset_has(const dset *s, const char *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], d) == 0)
			return true;
	return false;
}

static status_t dset_add(dset *s, const char *d, uint64_t size)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *v = realloc(s->v, cap * sizeof(*s->v)), *z;
		if (v == NULL)
			return ST_NOMEM;
		s->v = v;
		if ((z = realloc(s->size, cap * sizeof(*s->size))) == NULL)
			return ST_NOMEM;
		s->size = z;
		s->cap = cap;
	}
	snprintf(s->v[s->n], DIGEST_MAX, "%s", d);
	s->size[s->n++] = size;
	return ST_OK;
}

static void dset_free(dset *s)
{
	free(s->v);
	free(s->size);
	memset(s, 0, sizeof(*s));
}

/* Reads stored blob digest (at most LAYOUT_MANIFEST_MAX bytes) into a new
 * buffer. ST_OK, ST_NOT_FOUND, ST_TOO_LARGE, ST_IO, ST_NOMEM. */
static status_t read_stored(blobstore *bs, const char *digest, char **out, size_t *out_len)
{
	blob_reader *rd = NULL;
	uint64_t size;
	size_t got = 0, n;
	char *buf;
	status_t st;

	*out = NULL;
	if ((st = blobstore_read_open(bs, digest, &rd)) != ST_OK)
		return st;
	size = blob_reader_size(rd);
	if (size > LAYOUT_MANIFEST_MAX) {
		blob_reader_close(rd);
		return ST_TOO_LARGE;
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		blob_reader_close(rd);
		return ST_NOMEM;
	}
	while (got < size) {
		if (blob_reader_read(rd, got, buf + got, (size_t)size - got, &n) != ST_OK ||
		    n == 0) {
			free(buf);
			blob_reader_close(rd);
			return ST_IO;
		}
		got += n;
	}
	blob_reader_close(rd);
	buf[size] = '\0';
	*out = buf;
	*out_len = (size_t)size;
	return ST_OK;
}

static bool is_manifest_type(const char *mt)
{
	return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_OCI_INDEX) == 0 ||
	       strcmp(mt, MT_DOCKER_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

/* ---------------------------------------------------------------------- */
/* export                                                                 */
/* ---------------------------------------------------------------------- */

/* Adds manifest digest and everything below it to set. */
static status_t walk(blobstore *bs, const char *digest, const char *media_type, dset *set,
		     FILE *msg, const char *image, int depth)
{
	manifest_info info = {0};
	char *body = NULL, err[256];
	size_t len;
	uint64_t size;
	status_t st;

	if (dset_has(set, digest))
		return ST_OK;
	if (depth > MANIFEST_MAX_DEPTH)
		return ST_INVALID;
	if ((st = read_stored(bs, digest, &body, &len)) != ST_OK) {
		fprintf(msg, "%s: manifest %s is not stored here\n", image, digest);
		return st == ST_NOT_FOUND ? ST_NOT_FOUND : st;
	}
	if ((st = dset_add(set, digest, len)) != ST_OK)
		goto done;
	if ((st = manifest_parse(&info, body, len, media_type, err, sizeof(err))) != ST_OK) {
		fprintf(msg, "%s: manifest %s: %s\n", image, digest, err);
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++) {
		const manifest_desc *d = &info.refs[i];
		if (info.kind == MANIFEST_INDEX) {
			if ((st = walk(bs, d->digest, d->media_type, set, msg, image, depth + 1)) !=
			    ST_OK)
				goto done;
			continue;
		}
		if (dset_has(set, d->digest))
			continue;
		st = blobstore_stat(bs, d->digest, &size);
		if (st == ST_NOT_FOUND && d->foreign)
			continue; /* a layer that lives elsewhere (urls) */
		if (st == ST_NOT_FOUND) {
			fprintf(msg,
				"%s: blob %s is not stored here (pull the image through this "
				"registry, or `registry mirror sync` it, first)\n",
				image, d->digest);
			goto done;
		}
		if (st != ST_OK || (st = dset_add(set, d->digest, size)) != ST_OK)
			goto done;
	}
	st = ST_OK;
done:
	manifest_info_free(&info);
	free(body);
	return st;
}

/* Finds image in the metadata: as our own name, then as Docker reads it. */
static status_t resolve(meta *db, const char *image, imageref *out, meta_manifest *man)
{
	imageref r;
	const char *ref;

	if (imageref_parse_local(&r, image) == ST_OK) {
		ref = r.digest[0] ? r.digest : r.tag;
		if (meta_manifest_get(db, r.path, ref, man) == ST_OK) {
			*out = r;
			return ST_OK;
		}
	}
	if (imageref_parse(&r, image) != ST_OK)
		return ST_INVALID;
	{
		char name[IMAGEREF_DOMAIN_MAX + REF_NAME_MAX];
		snprintf(name, sizeof(name), "%s/%s", r.domain, r.path);
		if (strlen(name) >= sizeof(r.path))
			return ST_NOT_FOUND;
		memcpy(r.path, name, strlen(name) + 1);
		r.domain[0] = '\0';
	}
	ref = r.digest[0] ? r.digest : r.tag;
	if (meta_manifest_get(db, r.path, ref, man) != ST_OK)
		return ST_NOT_FOUND;
	*out = r;
	return ST_OK;
}

static status_t write_file(int fd, const char *name, const void *buf, size_t len)
{
	status_t st;

	if ((st = tar_write_header(fd, name, len, '0')) != ST_OK ||
	    (st = tar_write_data(fd, buf, len)) != ST_OK)
		return st;
	return tar_write_pad(fd, len);
}

static status_t write_blob(blobstore *bs, int out, const char *digest, char *buf)
{
	char name[DIGEST_MAX + 16];
	blob_reader *rd = NULL;
	uint64_t size, left;
	size_t n;
	status_t st;

	if ((st = blobstore_read_open(bs, digest, &rd)) != ST_OK)
		return st;
	size = blob_reader_size(rd);
	snprintf(name, sizeof(name), "blobs/%.*s/%s", (int)strcspn(digest, ":"), digest,
		 strchr(digest, ':') + 1);
	if ((st = tar_write_header(out, name, size, '0')) != ST_OK)
		goto done;
	for (left = size; left > 0;) {
		st = blob_reader_read(rd, size - left, buf,
				      left < LAYOUT_COPY_BUF ? (size_t)left : LAYOUT_COPY_BUF, &n);
		if (st == ST_OK && n == 0)
			st = ST_IO; /* shorter than it said */
		if (st != ST_OK)
			goto done;
		if ((st = tar_write_data(out, buf, n)) != ST_OK)
			goto done;
		left -= (uint64_t)n;
	}
	st = tar_write_pad(out, size);
done:
	blob_reader_close(rd);
	return st;
}

status_t layout_export(blobstore *bs, meta *db, char *const *images, size_t n, int fd, FILE *msg)
{
	json_t *index = NULL, *mans = NULL;
	dset set = {0};
	char *buf = NULL, *json = NULL;
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	status_t st = ST_OK;

	if ((index = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
			       "manifests")) == NULL ||
	    (buf = malloc(LAYOUT_COPY_BUF)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	mans = json_object_get(index, "manifests");
	for (size_t i = 0; i < n; i++) {
		imageref r;
		meta_manifest man;
		char full[IMAGEREF_MAX];
		json_t *ann, *desc;

		if ((st = resolve(db, images[i], &r, &man)) != ST_OK) {
			fprintf(msg, "%s: %s\n", images[i],
				st == ST_INVALID ? "not an image reference" : "no such image here");
			goto done;
		}
		if ((st = walk(bs, man.digest, man.media_type, &set, msg, images[i], 0)) != ST_OK)
			goto done;
		imageref_format(&r, full, sizeof(full));
		ann = r.tag[0] ? json_pack("{s:s,s:s}", ANN_REF_NAME, full, ANN_CTR_NAME, full)
			       : json_pack("{s:s}", ANN_CTR_NAME, full);
		desc = json_pack("{s:s,s:s,s:I,s:o}", "mediaType", man.media_type, "digest",
				 man.digest, "size", (json_int_t)man.size, "annotations", ann);
		if (desc == NULL || json_array_append_new(mans, desc) != 0) {
			st = ST_NOMEM;
			goto done;
		}
		fprintf(msg, "%s: %s\n", full, man.digest);
	}
	if ((st = write_file(fd, "oci-layout", layout, strlen(layout))) != ST_OK ||
	    (st = tar_write_header(fd, "blobs", 0, '5')) != ST_OK)
		goto done;
	for (int a = DIGEST_SHA256; a <= DIGEST_SHA512; a++) {
		char dir[32];
		bool used = false;
		for (size_t i = 0; i < set.n && !used; i++)
			used = strncmp(set.v[i], digest_alg_name((digest_alg)a),
				       strlen(digest_alg_name((digest_alg)a))) == 0;
		snprintf(dir, sizeof(dir), "blobs/%s", digest_alg_name((digest_alg)a));
		if (used && (st = tar_write_header(fd, dir, 0, '5')) != ST_OK)
			goto done;
	}
	for (size_t i = 0; i < set.n; i++)
		if ((st = write_blob(bs, fd, set.v[i], buf)) != ST_OK)
			goto done;
	if ((json = json_dumps(index, JSON_COMPACT)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if ((st = write_file(fd, "index.json", json, strlen(json))) != ST_OK ||
	    (st = tar_write_end(fd)) != ST_OK)
		goto done;
	{
		uint64_t total = 0;
		for (size_t i = 0; i < set.n; i++)
			total += set.size[i];
		fprintf(msg, "exported %zu image(s): %zu blobs, %llu bytes\n", n, set.n,
			(unsigned long long)total);
	}
done:
	free(json);
	free(buf);
	dset_free(&set);
	json_decref(index);
	return st;
}

/* ---------------------------------------------------------------------- */
/* import                                                                 */
/* ---------------------------------------------------------------------- */

/* Reads the whole current entry (at most max bytes) into a new buffer. */
static status_t read_entry(tar_reader *tr, const tar_entry *e, size_t max, char **out)
{
	char *b;
	size_t got = 0, n;
	status_t st;

	*out = NULL;
	if (e->size > max)
		return ST_TOO_LARGE;
	if ((b = malloc((size_t)e->size + 1)) == NULL)
		return ST_NOMEM;
	while (got < e->size) {
		if ((st = tar_read(tr, b + got, (size_t)e->size - got, &n)) != ST_OK || n == 0) {
			free(b);
			return st == ST_OK ? ST_INVALID : st;
		}
		got += n;
	}
	b[got] = '\0';
	*out = b;
	return ST_OK;
}

/* "blobs/sha256/<hex>" -> "sha256:<hex>", if it is a digest we compute. */
static bool blob_entry_digest(const char *name, char out[DIGEST_MAX])
{
	const char *alg, *hex;

	if (strncmp(name, "blobs/", 6) != 0)
		return false;
	alg = name + 6;
	if ((hex = strchr(alg, '/')) == NULL || strchr(hex + 1, '/') != NULL)
		return false;
	if (snprintf(out, DIGEST_MAX, "%.*s:%s", (int)(hex - alg), alg, hex + 1) >= DIGEST_MAX)
		return false;
	return digest_parse(out, NULL) == ST_OK;
}

/* An upload id for an imported blob: "im-" and 24 hex digits. */
static status_t import_id(char out[BLOBSTORE_ID_MAX + 1])
{
	unsigned char rnd[12];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ST_IO;
	strcpy(out, "im-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", rnd[i]);
	return ST_OK;
}

/* Stores the current entry as blob digest, verifying it. */
static status_t import_blob(blobstore *bs, tar_reader *tr, const char *digest, char *buf,
			    uint64_t *out_size)
{
	char id[BLOBSTORE_ID_MAX + 1];
	blob_upload *up = NULL;
	digest_alg alg;
	size_t n;
	status_t st;

	digest_parse(digest, &alg);
	if ((st = import_id(id)) != ST_OK ||
	    (st = blobstore_upload_begin(bs, id, alg, &up)) != ST_OK)
		return st;
	for (;;) {
		if ((st = tar_read(tr, buf, LAYOUT_COPY_BUF, &n)) != ST_OK)
			goto fail;
		if (n == 0)
			break;
		if ((st = blob_upload_write(up, buf, n)) != ST_OK)
			goto fail;
	}
	st = blobstore_upload_commit(bs, up, digest, out_size);
	if (st != ST_OK && st != ST_DIGEST_MISMATCH)
		goto fail;
	blob_upload_free(up);
	return st;
fail:
	blob_upload_free(up);
	blobstore_upload_remove(bs, id);
	return st;
}

typedef struct {
	blobstore *bs;
	meta *db;
	FILE *msg;
	const dset *bad; /* blobs refused */
} importer;

/*
 * Records manifest digest (and what it references) in repo, tagged tag
 * (may be NULL). ST_OK; ST_NOT_FOUND, ST_DIGEST_MISMATCH, ST_INVALID
 * (said on msg); ST_IO...
 */
static status_t record(importer *im, const char *repo, const char *digest, const char *media_type,
		       uint64_t want_size, const char *tag, int depth)
{
	manifest_info info = {0};
	meta_manifest man = {0};
	const char **refs = NULL;
	char *body = NULL, err[256];
	size_t len;
	uint64_t size;
	status_t st;

	if (depth > MANIFEST_MAX_DEPTH)
		return ST_INVALID;
	if (dset_has(im->bad, digest)) {
		fprintf(im->msg, "%s: manifest %s was refused\n", repo, digest);
		return ST_DIGEST_MISMATCH;
	}
	if ((st = read_stored(im->bs, digest, &body, &len)) != ST_OK) {
		fprintf(im->msg, "%s: manifest %s is neither in the archive nor here\n", repo,
			digest);
		return st;
	}
	if (want_size != UINT64_MAX && len != want_size) {
		fprintf(im->msg, "%s: manifest %s has %zu bytes, its descriptor says %llu\n", repo,
			digest, len, (unsigned long long)want_size);
		st = ST_INVALID;
		goto done;
	}
	st = manifest_parse(&info, body, len, media_type && media_type[0] ? media_type : NULL, err,
			    sizeof(err));
	if (st != ST_OK) {
		fprintf(im->msg, "%s: manifest %s: %s\n", repo, digest, err);
		st = ST_INVALID;
		goto done;
	}
	if ((refs = calloc(info.nrefs + 1, sizeof(*refs))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++) {
		const manifest_desc *d = &info.refs[i];
		refs[i] = d->digest;
		if (info.kind == MANIFEST_INDEX) {
			if ((st = record(im, repo, d->digest, d->media_type, d->size, NULL,
					 depth + 1)) != ST_OK)
				goto done;
			continue;
		}
		if (dset_has(im->bad, d->digest)) {
			fprintf(im->msg, "%s: blob %s was refused\n", repo, d->digest);
			st = ST_DIGEST_MISMATCH;
			goto done;
		}
		st = blobstore_stat(im->bs, d->digest, &size);
		if (st == ST_NOT_FOUND && d->foreign)
			continue;
		if (st == ST_NOT_FOUND) {
			fprintf(im->msg, "%s: blob %s is neither in the archive nor here\n", repo,
				d->digest);
			goto done;
		}
		if (st != ST_OK)
			goto done;
		if (size != d->size) {
			fprintf(im->msg, "%s: blob %s has %llu bytes, its descriptor says %llu\n",
				repo, d->digest, (unsigned long long)size,
				(unsigned long long)d->size);
			st = ST_INVALID;
			goto done;
		}
		if ((st = meta_blob_link(im->db, repo, d->digest, size)) != ST_OK)
			goto done;
	}
	snprintf(man.digest, sizeof(man.digest), "%s", digest);
	snprintf(man.media_type, sizeof(man.media_type), "%s", info.media_type);
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", info.artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", info.subject);
	man.size = len;
	man.annotations = info.annotations;
	st = meta_manifest_put(im->db, repo, &man, refs, info.nrefs, &tag, tag ? 1 : 0);
done:
	free(refs);
	manifest_info_free(&info);
	free(body);
	return st;
}

/* Where an index.json entry goes: repository and tag (tag "" = none). */
static status_t entry_name(json_t *desc, const char *repo_opt, char repo[REF_NAME_MAX],
			   char tag[REF_TAG_MAX])
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *ctr = json_string_value(json_object_get(ann, ANN_CTR_NAME));
	const char *refname = json_string_value(json_object_get(ann, ANN_REF_NAME));
	imageref r;

	repo[0] = tag[0] = '\0';
	if (repo_opt != NULL) {
		snprintf(repo, REF_NAME_MAX, "%s", repo_opt);
		if (refname != NULL) {
			if (ref_tag_check(refname) == ST_OK)
				snprintf(tag, REF_TAG_MAX, "%s", refname);
			else if (imageref_parse_local(&r, refname) == ST_OK && !r.tag_defaulted)
				snprintf(tag, REF_TAG_MAX, "%s", r.tag);
		}
		return ST_OK;
	}
	/* a full name, from either annotation */
	if ((ctr != NULL && imageref_parse_local(&r, ctr) == ST_OK) ||
	    (refname != NULL && strchr(refname, '/') != NULL &&
	     imageref_parse_local(&r, refname) == ST_OK) ||
	    (refname != NULL && strchr(refname, ':') != NULL &&
	     imageref_parse_local(&r, refname) == ST_OK)) {
		snprintf(repo, REF_NAME_MAX, "%s", r.path);
		if (!r.tag_defaulted)
			snprintf(tag, REF_TAG_MAX, "%s", r.tag);
		/* ref.name may carry the tag when the containerd name has none */
		if (tag[0] == '\0' && refname != NULL && ref_tag_check(refname) == ST_OK)
			snprintf(tag, REF_TAG_MAX, "%s", refname);
		return ST_OK;
	}
	return ST_INVALID;
}

status_t layout_import(blobstore *bs, meta *db, int fd, const char *repo, FILE *msg,
		       layout_stats *out)
{
	layout_stats stats = {0};
	tar_reader *tr = NULL;
	tar_entry e;
	dset bad = {0};
	char *index_json = NULL, *buf = NULL, digest[DIGEST_MAX];
	bool have_layout = false;
	json_t *index = NULL, *mans;
	importer im = {bs, db, msg, &bad};
	status_t st, result = ST_OK;

	if ((st = tar_reader_new(&tr, fd)) != ST_OK || (buf = malloc(LAYOUT_COPY_BUF)) == NULL) {
		st = st == ST_OK ? ST_NOMEM : st;
		goto done;
	}
	while ((st = tar_next(tr, &e)) == ST_OK) {
		if (e.type != '0')
			continue;
		if (strcmp(e.name, "index.json") == 0) {
			free(index_json);
			if ((st = read_entry(tr, &e, LAYOUT_INDEX_MAX, &index_json)) != ST_OK)
				goto done;
		} else if (strcmp(e.name, "oci-layout") == 0) {
			char *v = NULL;
			if ((st = read_entry(tr, &e, 4096, &v)) != ST_OK)
				goto done;
			have_layout = strstr(v, "imageLayoutVersion") != NULL;
			free(v);
		} else if (blob_entry_digest(e.name, digest)) {
			uint64_t size = 0;
			bool known = blobstore_stat(bs, digest, NULL) == ST_OK;
			st = import_blob(bs, tr, digest, buf, &size);
			stats.blobs++;
			stats.bytes += e.size;
			if (st == ST_DIGEST_MISMATCH) {
				fprintf(msg,
					"blob %s: its bytes do not match its digest; refused\n",
					digest);
				result = ST_DIGEST_MISMATCH;
				if ((st = dset_add(&bad, digest, 0)) != ST_OK)
					goto done;
				continue;
			}
			if (st != ST_OK)
				goto done;
			if (!known)
				stats.blobs_new++;
		}
	}
	if (st != ST_NOT_FOUND) {
		fprintf(msg, "not a readable tar archive (%s)\n", status_str(st));
		goto done;
	}
	if (!have_layout || index_json == NULL) {
		fprintf(msg, "not an OCI image layout: %s missing\n",
			have_layout ? "index.json" : "oci-layout");
		st = ST_INVALID;
		goto done;
	}
	if ((index = json_loads(index_json, 0, NULL)) == NULL ||
	    !json_is_array(mans = json_object_get(index, "manifests"))) {
		fprintf(msg, "index.json is not an image index\n");
		st = ST_INVALID;
		goto done;
	}
	for (size_t i = 0; i < json_array_size(mans); i++) {
		json_t *desc = json_array_get(mans, i);
		const char *d = json_string_value(json_object_get(desc, "digest"));
		const char *mt = json_string_value(json_object_get(desc, "mediaType"));
		json_t *sz = json_object_get(desc, "size");
		char rname[REF_NAME_MAX], tag[REF_TAG_MAX];
		status_t ist;

		if (d == NULL || digest_parse(d, NULL) != ST_OK || !json_is_integer(sz) ||
		    (mt != NULL && !is_manifest_type(mt))) {
			fprintf(msg, "index.json entry %zu: not an image manifest descriptor\n", i);
			ist = ST_INVALID;
		} else if (entry_name(desc, repo, rname, tag) != ST_OK ||
			   ref_name_check(rname) != ST_OK) {
			fprintf(msg,
				"index.json entry %zu (%s): no repository name in its annotations; "
				"give one with --repo NAME\n",
				i, d);
			ist = ST_INVALID;
		} else {
			ist = record(&im, rname, d, mt, (uint64_t)json_integer_value(sz),
				     tag[0] ? tag : NULL, 0);
			if (ist == ST_OK) {
				stats.images++;
				fprintf(msg, "%s%s%s: %s\n", rname, tag[0] ? ":" : "", tag, d);
			}
		}
		if (ist != ST_OK) {
			stats.failed++;
			if (result == ST_OK)
				result = ist;
		}
	}
	st = result;
done:
	json_decref(index);
	free(index_json);
	free(buf);
	dset_free(&bad);
	tar_reader_free(tr);
	if (out != NULL)
		*out = stats;
	return st;
}
