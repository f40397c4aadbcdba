/*
 * layout.c - OCI image layouts in tar archives (see layout.h).
 *
 * Export walks each image from its manifest down (an index's manifests,
 * an image's config and layers), collecting the digests in first-seen
 * order without duplicates, checks that every one is stored, then writes
 * oci-layout, the blobs, and index.json last. An index entry that is not
 * wholly stored (a platforms= sync) or not wanted (--platform) is left
 * out: the walk of it is undone (the set truncated back), and the index is
 * re-serialised without it, a new blob held in memory, so the archive
 * never names what it does not hold.
 *
 * Import never trusts a name: a blob entry goes through a blob upload
 * whose commit compares the bytes' digest with the entry's path, and
 * index.json is only looked at once every blob was read. A manifest is
 * recorded after its children (an index's manifests are recorded untagged
 * in the same repository first), so a repository never shows a manifest
 * whose references are missing. Blobs the import stored that end up used
 * by no recorded image are removed at the end.
 */
#include "layout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/human.h"
#include "../oci/manifest.h"
#include "imageref.h"
#include "tar.h"

#define LAYOUT_COPY_BUF (256 * 1024)
#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define ANN_CTR_NAME "io.containerd.image.name"

/* ---- a set of digests, in insertion order ---- */

typedef struct {
	char (*v)[DIGEST_MAX];
	uint64_t *size;
	char **data; /* bytes made here (a rewritten index; owned), or NULL: in the store */
	size_t n, cap;
} dset;

/* The index of d in s, or -1. */
static long dset_find(const dset *s, const char *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], d) == 0)
			return (long)i;
	return -1;
}

static bool dset_has(const dset *s, const char *d)
{
	return dset_find(s, d) >= 0;
}

/* Adds d; data (may be NULL) is taken over, also on failure. */
static status_t dset_add_data(dset *s, const char *d, uint64_t size, char *data)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *v = realloc(s->v, cap * sizeof(*s->v)), *z, *w;
		if (v == NULL) {
			free(data);
			return ST_NOMEM;
		}
		s->v = v;
		if ((z = realloc(s->size, cap * sizeof(*s->size))) == NULL) {
			free(data);
			return ST_NOMEM;
		}
		s->size = z;
		if ((w = realloc(s->data, cap * sizeof(*s->data))) == NULL) {
			free(data);
			return ST_NOMEM;
		}
		s->data = w;
		s->cap = cap;
	}
	snprintf(s->v[s->n], DIGEST_MAX, "%s", d);
	s->size[s->n] = size;
	s->data[s->n++] = data;
	return ST_OK;
}

static status_t dset_add(dset *s, const char *d, uint64_t size)
{
	return dset_add_data(s, d, size, NULL);
}

/* Drops the entries from n on (added by a walk that was given up). */
static void dset_truncate(dset *s, size_t n)
{
	while (s->n > n)
		free(s->data[--s->n]);
}

static void dset_free(dset *s)
{
	dset_truncate(s, 0);
	free(s->v);
	free(s->size);
	free(s->data);
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

typedef struct {
	blobstore *bs;
	meta *db;
	FILE *msg;
	const char *platforms; /* "" = every platform stored */
	dset set;	       /* what goes into the archive */
} exporter;

/* What the archive's index.json (or a parent index) points at for a
 * manifest: itself, or an index rewritten without what is not here. */
typedef struct {
	char digest[DIGEST_MAX];
	uint64_t size;
} exported;

static status_t walk(exporter *ex, const char *digest, const char *media_type, const char *image,
		     int depth, exported *out);

/* "linux/arm64/v8" from an index entry's platform, into out. */
static const char *platform_name(json_t *desc, char *out, size_t outlen)
{
	json_t *p = json_object_get(desc, "platform");
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));

	if (os == NULL || arch == NULL)
		snprintf(out, outlen, "an entry without a platform");
	else
		snprintf(out, outlen, "%s/%s%s%s", os, arch, variant ? "/" : "",
			 variant ? variant : "");
	return out;
}

/*
 * An index (body, stored as digest): its entries that are wanted and
 * stored here are walked; if any is left out (said on msg, with why), the
 * archive gets a new index listing only the others, so that everything it
 * names is in the archive (the tag then points at it on import). ST_OK
 * with *out; ST_NOT_FOUND if nothing of it is here; ST_INVALID...
 */
static status_t walk_index(exporter *ex, const char *digest, const char *body, size_t len,
			   const char *image, int depth, exported *out)
{
	json_t *root = json_loadb(body, len, 0, NULL), *mans, *keep = json_array();
	size_t kept = 0, total;
	bool changed = false;
	char *json = NULL, plat[160], nd[DIGEST_MAX];
	status_t st = ST_OK;

	mans = json_object_get(root, "manifests");
	if (root == NULL || keep == NULL || !json_is_array(mans)) {
		st = root == NULL || keep == NULL ? ST_NOMEM : ST_INVALID;
		goto done;
	}
	total = json_array_size(mans);
	for (size_t i = 0; i < total; i++) {
		json_t *d = json_array_get(mans, i);
		const char *cd = json_string_value(json_object_get(d, "digest"));
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		size_t mark = ex->set.n;
		exported child;

		if (cd == NULL || digest_parse(cd, NULL) != ST_OK) {
			st = ST_INVALID;
			goto done;
		}
		json_t *p = json_object_get(d, "platform");
		platform_name(d, plat, sizeof(plat));
		if (!imageref_platform_match(ex->platforms,
					     json_string_value(json_object_get(p, "os")),
					     json_string_value(json_object_get(p, "architecture")),
					     json_string_value(json_object_get(p, "variant")))) {
			fprintf(ex->msg, "%s: left out %s (%s): not asked for (--platform)\n",
				image, plat, cd);
			changed = true;
			continue;
		}
		if (blobstore_stat(ex->bs, cd, NULL) == ST_NOT_FOUND) {
			fprintf(ex->msg, "%s: left out %s (%s): not stored here\n", image, plat,
				cd);
			changed = true;
			continue;
		}
		st = walk(ex, cd, mt && mt[0] ? mt : NULL, image, depth + 1, &child);
		if (st == ST_NOT_FOUND) {
			dset_truncate(&ex->set, mark);
			fprintf(ex->msg, "%s: left out %s (%s): not all of it is stored here\n",
				image, plat, cd);
			changed = true;
			continue;
		}
		if (st != ST_OK)
			goto done;
		if (strcmp(child.digest, cd) != 0) {
			/* a nested index rewritten below */
			json_object_set_new(d, "digest", json_string(child.digest));
			json_object_set_new(d, "size", json_integer((json_int_t)child.size));
			changed = true;
		}
		json_array_append(keep, d);
		kept++;
	}
	if (kept == 0) {
		fprintf(ex->msg, "%s: none of its platforms is here%s\n", image,
			ex->platforms[0] ? " (as --platform asks)" : "");
		st = ST_NOT_FOUND;
		goto done;
	}
	if (!changed) {
		snprintf(out->digest, sizeof(out->digest), "%s", digest);
		out->size = len;
		st = dset_has(&ex->set, digest) ? ST_OK : dset_add(&ex->set, digest, len);
		goto done;
	}
	if (json_object_set(root, "manifests", keep) != 0 ||
	    (json = json_dumps(root, JSON_COMPACT)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if ((st = digest_buffer(nd, DIGEST_SHA256, json, strlen(json))) != ST_OK)
		goto done;
	snprintf(out->digest, sizeof(out->digest), "%s", nd);
	out->size = strlen(json);
	fprintf(ex->msg,
		"%s: exported as a new index %s with %zu of its %zu platform(s) (the stored one, "
		"%s, lists platforms not exported)\n",
		image, nd, kept, total, digest);
	if (!dset_has(&ex->set, nd)) {
		st = dset_add_data(&ex->set, nd, out->size, json);
		json = NULL;
	}
done:
	free(json);
	json_decref(keep);
	json_decref(root);
	return st;
}

/* Adds manifest digest and everything below it to the set; *out is what
 * to reference it by. ST_OK; ST_NOT_FOUND (something it needs is not
 * stored here, said on msg); ST_INVALID, ST_IO, ST_NOMEM. */
static status_t walk(exporter *ex, const char *digest, const char *media_type, const char *image,
		     int depth, exported *out)
{
	manifest_info info = {0};
	char *body = NULL, err[256];
	size_t len;
	uint64_t size;
	long at;
	status_t st;

	if ((at = dset_find(&ex->set, digest)) >= 0) {
		snprintf(out->digest, sizeof(out->digest), "%s", digest);
		out->size = ex->set.size[at];
		return ST_OK;
	}
	if (depth > MANIFEST_MAX_DEPTH)
		return ST_INVALID;
	if ((st = read_stored(ex->bs, digest, &body, &len)) != ST_OK) {
		fprintf(ex->msg, "%s: manifest %s is not stored here\n", image, digest);
		return st;
	}
	if ((st = manifest_parse(&info, body, len, media_type, err, sizeof(err))) != ST_OK) {
		fprintf(ex->msg, "%s: manifest %s: %s\n", image, digest, err);
		goto done;
	}
	if (info.kind == MANIFEST_INDEX) {
		st = walk_index(ex, digest, body, len, image, depth, out);
		goto done;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	out->size = len;
	if ((st = dset_add(&ex->set, digest, len)) != ST_OK)
		goto done;
	for (size_t i = 0; i < info.nrefs; i++) {
		const manifest_desc *d = &info.refs[i];
		if (dset_has(&ex->set, d->digest))
			continue;
		st = blobstore_stat(ex->bs, d->digest, &size);
		if (st == ST_NOT_FOUND && d->foreign)
			continue; /* a layer that lives elsewhere (urls) */
		if (st == ST_NOT_FOUND) {
			fprintf(ex->msg,
				"%s: blob %s is not stored here (pull the image through this "
				"registry, or `registry mirror sync` it, first)\n",
				image, d->digest);
			goto done;
		}
		if (st != ST_OK || (st = dset_add(&ex->set, d->digest, size)) != ST_OK)
			goto done;
	}
	st = ST_OK;
done:
	manifest_info_free(&info);
	free(body);
	return st;
}

/* r as a name of this registry the way Docker reads it ("alpine" ->
 * "docker.io/library/alpine"). ST_OK, ST_NAME_INVALID (too long). */
static status_t docker_name(imageref *r)
{
	char name[IMAGEREF_DOMAIN_MAX + REF_NAME_MAX];

	snprintf(name, sizeof(name), "%s/%s", r->domain, r->path);
	if (strlen(name) >= sizeof(r->path))
		return ST_NAME_INVALID;
	memcpy(r->path, name, strlen(name) + 1);
	r->domain[0] = '\0';
	return ST_OK;
}

/* The ways to read image as a repository of this registry: as our own
 * name, then as Docker reads it. Returns how many (0: not a reference). */
static int candidates(const char *image, imageref out[2])
{
	int n = 0;

	if (imageref_parse_local(&out[n], image) == ST_OK)
		n++;
	if (imageref_parse(&out[n], image) == ST_OK && docker_name(&out[n]) == ST_OK &&
	    (n == 0 || strcmp(out[0].path, out[n].path) != 0))
		n++;
	return n;
}

typedef struct {
	char buf[512];
	size_t len, count;
} tag_text;

static int add_tag_text(void *arg, const char *tag)
{
	tag_text *t = arg;
	int w;

	if (t->count++ == 8) {
		snprintf(t->buf + t->len, sizeof(t->buf) - t->len, ", ...");
		return 1;
	}
	w = snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s", t->len ? ", " : "", tag);
	if (w > 0)
		t->len =
		    t->len + (size_t)w < sizeof(t->buf) ? t->len + (size_t)w : sizeof(t->buf) - 1;
	return 0;
}

/* Says why repository r (which exists) has no r's tag or digest. */
static void say_missing(exporter *ex, const char *image, const imageref *r)
{
	tag_text t = {{0}, 0, 0};

	if (r->digest[0]) {
		fprintf(ex->msg, "%s: %s has no manifest %s\n", image, r->path, r->digest);
		return;
	}
	meta_tag_list(ex->db, r->path, NULL, 0, add_tag_text, &t, NULL);
	if (t.count == 0)
		fprintf(ex->msg, "%s: %s has no tag %s (it has no tags at all; name a digest)\n",
			image, r->path, r->tag);
	else
		fprintf(ex->msg,
			"%s: %s has no tag %s (its tags: %s); name one, or use --all for every "
			"tag\n",
			image, r->path, r->tag, t.buf);
}

/* Finds the manifest image names. ST_OK with *out and *man; ST_NOT_FOUND,
 * ST_INVALID (said on msg). */
static status_t resolve(exporter *ex, const char *image, imageref *out, meta_manifest *man)
{
	imageref c[2];
	int n = candidates(image, c);

	if (n == 0) {
		fprintf(ex->msg, "%s: not an image reference\n", image);
		return ST_INVALID;
	}
	for (int i = 0; i < n; i++)
		if (meta_manifest_get(ex->db, c[i].path, c[i].digest[0] ? c[i].digest : c[i].tag,
				      man) == ST_OK) {
			*out = c[i];
			return ST_OK;
		}
	for (int i = 0; i < n; i++)
		if (meta_repo_exists(ex->db, c[i].path) == ST_OK) {
			say_missing(ex, image, &c[i]);
			return ST_NOT_FOUND;
		}
	fprintf(ex->msg, "%s: no repository %s%s%s%s here\n", image, c[0].path,
		n > 1 ? " (nor " : "", n > 1 ? c[1].path : "", n > 1 ? ")" : "");
	return ST_NOT_FOUND;
}

/* Walks the manifest man of r and adds its entry to index.json's list. */
static status_t export_one(exporter *ex, json_t *mans, const imageref *r, const meta_manifest *man,
			   const char *image)
{
	char full[IMAGEREF_MAX];
	json_t *ann, *desc;
	exported top;
	status_t st;

	if ((st = walk(ex, man->digest, man->media_type, image, 0, &top)) != ST_OK)
		return st;
	imageref_format(r, full, sizeof(full));
	ann = r->tag[0] ? json_pack("{s:s,s:s}", ANN_REF_NAME, full, ANN_CTR_NAME, full)
			: json_pack("{s:s}", ANN_CTR_NAME, full);
	desc = json_pack("{s:s,s:s,s:I,s:o}", "mediaType", man->media_type, "digest", top.digest,
			 "size", (json_int_t)top.size, "annotations", ann);
	if (desc == NULL || json_array_append_new(mans, desc) != 0)
		return ST_NOMEM;
	fprintf(ex->msg, "%s: %s\n", full, top.digest);
	return ST_OK;
}

typedef struct {
	char (*v)[REF_TAG_MAX];
	size_t n, cap;
} tag_vec;

static int add_tag(void *arg, const char *tag)
{
	tag_vec *t = arg;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *v = realloc(t->v, cap * sizeof(*t->v));
		if (v == NULL)
			return 1;
		t->v = v;
		t->cap = cap;
	}
	snprintf(t->v[t->n++], REF_TAG_MAX, "%s", tag);
	return 0;
}

/* --all: every tag of the repository image names. */
static status_t export_all(exporter *ex, json_t *mans, const char *image)
{
	imageref c[2], r;
	tag_vec tags = {NULL, 0, 0};
	int n = candidates(image, c), found = -1;
	status_t st = ST_OK;

	if (n == 0) {
		fprintf(ex->msg, "%s: not a repository name\n", image);
		return ST_INVALID;
	}
	if (!c[0].tag_defaulted || c[0].digest[0]) {
		fprintf(ex->msg, "%s: with --all, name repositories without a tag or digest\n",
			image);
		return ST_INVALID;
	}
	for (int i = 0; i < n && found < 0; i++)
		if (meta_repo_exists(ex->db, c[i].path) == ST_OK)
			found = i;
	if (found < 0) {
		fprintf(ex->msg, "%s: no repository %s here\n", image, c[0].path);
		return ST_NOT_FOUND;
	}
	r = c[found];
	if ((st = meta_tag_list(ex->db, r.path, NULL, 0, add_tag, &tags, NULL)) != ST_OK)
		goto done;
	if (tags.n == 0) {
		fprintf(ex->msg, "%s: %s has no tags\n", image, r.path);
		st = ST_NOT_FOUND;
		goto done;
	}
	for (size_t i = 0; i < tags.n; i++) {
		meta_manifest man;
		snprintf(r.tag, sizeof(r.tag), "%s", tags.v[i]);
		if ((st = meta_manifest_get(ex->db, r.path, r.tag, &man)) != ST_OK ||
		    (st = export_one(ex, mans, &r, &man, image)) != ST_OK)
			goto done;
	}
done:
	free(tags.v);
	return st;
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

status_t layout_export(blobstore *bs, meta *db, char *const *images, size_t n,
		       const layout_export_options *opt, int fd, FILE *msg)
{
	exporter ex = {bs, db, msg, opt && opt->platforms ? opt->platforms : "", {0}};
	json_t *index = NULL, *mans = NULL;
	char *buf = NULL, *json = NULL, hs[HUMAN_SIZE_MAX];
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	uint64_t total = 0;
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

		if (opt && opt->all_tags)
			st = export_all(&ex, mans, images[i]);
		else if ((st = resolve(&ex, images[i], &r, &man)) == ST_OK)
			st = export_one(&ex, mans, &r, &man, images[i]);
		if (st != ST_OK)
			goto done;
	}
	if ((st = write_file(fd, "oci-layout", layout, strlen(layout))) != ST_OK ||
	    (st = tar_write_header(fd, "blobs", 0, '5')) != ST_OK)
		goto done;
	for (int a = DIGEST_SHA256; a <= DIGEST_SHA512; a++) {
		char dir[32];
		bool used = false;
		for (size_t i = 0; i < ex.set.n && !used; i++)
			used = strncmp(ex.set.v[i], digest_alg_name((digest_alg)a),
				       strlen(digest_alg_name((digest_alg)a))) == 0;
		snprintf(dir, sizeof(dir), "blobs/%s", digest_alg_name((digest_alg)a));
		if (used && (st = tar_write_header(fd, dir, 0, '5')) != ST_OK)
			goto done;
	}
	for (size_t i = 0; i < ex.set.n; i++) {
		const char *d = ex.set.v[i];
		char name[DIGEST_MAX + 16];

		if (ex.set.data[i] == NULL) {
			st = write_blob(bs, fd, d, buf);
		} else { /* a rewritten index */
			snprintf(name, sizeof(name), "blobs/%.*s/%s", (int)strcspn(d, ":"), d,
				 strchr(d, ':') + 1);
			st = write_file(fd, name, ex.set.data[i], (size_t)ex.set.size[i]);
		}
		if (st != ST_OK)
			goto done;
		total += ex.set.size[i];
	}
	if ((json = json_dumps(index, JSON_COMPACT)) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	if ((st = write_file(fd, "index.json", json, strlen(json))) != ST_OK ||
	    (st = tar_write_end(fd)) != ST_OK)
		goto done;
	fprintf(msg, "exported %zu image(s): %zu blobs, %s\n", json_array_size(mans), ex.set.n,
		human_size(hs, total));
done:
	free(json);
	free(buf);
	dset_free(&ex.set);
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

/* meta_blob_repos callback: there is one. */
static int first_repo(void *arg, const char *repo)
{
	*(bool *)arg = true;
	return 1;
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
	dset used;	 /* manifests and blobs an image recorded here needs */
} importer;

/*
 * Records manifest digest (and what it references) in repo, tagged tag
 * (may be NULL). Every blob it references is checked before any is linked,
 * so a manifest that fails leaves no link behind. ST_OK; ST_NOT_FOUND,
 * ST_DIGEST_MISMATCH, ST_INVALID (said on msg); ST_IO...
 */
static status_t record(importer *im, const char *repo, const char *digest, const char *media_type,
		       uint64_t want_size, const char *tag, int depth)
{
	manifest_info info = {0};
	meta_manifest man = {0};
	const char **refs = NULL;
	uint64_t *sizes = NULL;
	char *body = NULL, err[256];
	size_t len;
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
	if ((refs = calloc(info.nrefs + 1, sizeof(*refs))) == NULL ||
	    (sizes = calloc(info.nrefs + 1, sizeof(*sizes))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++) {
		const manifest_desc *d = &info.refs[i];
		refs[i] = d->digest;
		sizes[i] = UINT64_MAX; /* not to link */
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
		st = blobstore_stat(im->bs, d->digest, &sizes[i]);
		if (st == ST_NOT_FOUND && d->foreign) {
			sizes[i] = UINT64_MAX;
			continue;
		}
		if (st == ST_NOT_FOUND) {
			fprintf(im->msg, "%s: blob %s is neither in the archive nor here\n", repo,
				d->digest);
			goto done;
		}
		if (st != ST_OK)
			goto done;
		if (sizes[i] != d->size) {
			fprintf(im->msg, "%s: blob %s has %llu bytes, its descriptor says %llu\n",
				repo, d->digest, (unsigned long long)sizes[i],
				(unsigned long long)d->size);
			st = ST_INVALID;
			goto done;
		}
	}
	for (size_t i = 0; i < info.nrefs; i++) {
		if (sizes[i] == UINT64_MAX)
			continue;
		if ((st = meta_blob_link(im->db, repo, refs[i], sizes[i])) != ST_OK ||
		    (st = dset_has(&im->used, refs[i]) ? ST_OK : dset_add(&im->used, refs[i], 0)) !=
			ST_OK)
			goto done;
	}
	snprintf(man.digest, sizeof(man.digest), "%s", digest);
	snprintf(man.media_type, sizeof(man.media_type), "%s", info.media_type);
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", info.artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", info.subject);
	man.size = len;
	man.annotations = info.annotations;
	st = meta_manifest_put(im->db, repo, &man, refs, info.nrefs, &tag, tag ? 1 : 0);
	if (st == ST_OK && !dset_has(&im->used, digest))
		st = dset_add(&im->used, digest, 0);
done:
	free(sizes);
	free(refs);
	manifest_info_free(&info);
	free(body);
	return st;
}

/*
 * Removes the blobs this import stored (fresh: they were not here before)
 * that no image it recorded needs and no repository links (the archive's
 * leftovers, or those of images that failed), so a failed import leaves
 * nothing behind but what it recorded. Says so on msg.
 */
static void import_cleanup(importer *im, const dset *fresh, bool failed, layout_stats *stats)
{
	char hs[HUMAN_SIZE_MAX];

	for (size_t i = 0; i < fresh->n; i++) {
		bool linked = false;
		if (dset_has(&im->used, fresh->v[i]))
			continue;
		if (meta_blob_repos(im->db, fresh->v[i], first_repo, &linked) != ST_OK || linked)
			continue;
		if (blobstore_delete(im->bs, fresh->v[i]) == ST_OK) {
			stats->removed++;
			stats->removed_bytes += fresh->size[i];
		}
	}
	if (stats->removed > 0)
		fprintf(im->msg,
			"removed %zu verified blob(s) (%s) that no imported image uses%s\n",
			stats->removed, human_size(hs, stats->removed_bytes),
			failed ? "; import the archive again once it is whole" : "");
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

status_t layout_import(blobstore *bs, meta *db, int fd, const char *repo, const char *tag_opt,
		       FILE *msg, layout_stats *out)
{
	layout_stats stats = {0};
	tar_reader *tr = NULL;
	tar_entry e;
	dset bad = {0}, fresh = {0};
	char *index_json = NULL, *buf = NULL, digest[DIGEST_MAX];
	bool have_layout = false;
	json_t *index = NULL, *mans;
	importer im = {bs, db, msg, &bad, {0}};
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
			if (!known) {
				stats.blobs_new++;
				if ((st = dset_add(&fresh, digest, size)) != ST_OK)
					goto done;
			}
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
			bool given = tag[0] == '\0' && tag_opt != NULL;
			if (given) {
				snprintf(tag, sizeof(tag), "%s", tag_opt);
				tag_opt = NULL; /* one image gets it */
			}
			ist = record(&im, rname, d, mt, (uint64_t)json_integer_value(sz),
				     tag[0] ? tag : NULL, 0);
			if (ist == ST_OK && tag[0]) {
				stats.images++;
				fprintf(msg, "%s:%s: %s%s\n", rname, tag, d,
					given ? " (tagged as --repo says)" : "");
			} else if (ist == ST_OK) {
				/* only a digest names it: say so, a tag is what people expect */
				stats.images++;
				stats.untagged++;
				fprintf(msg,
					"%s@%s: untagged (the archive names no tag): pull it by "
					"digest, or import again with --repo %s:TAG\n",
					rname, d, rname);
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
	import_cleanup(&im, &fresh, st != ST_OK, &stats);
	json_decref(index);
	free(index_json);
	free(buf);
	dset_free(&bad);
	dset_free(&fresh);
	dset_free(&im.used);
	tar_reader_free(tr);
	if (out != NULL)
		*out = stats;
	return st;
}
