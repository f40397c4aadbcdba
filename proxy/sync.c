/*
 * sync.c - `registry mirror sync` (see sync.h).
 *
 * The whole list is parsed first, so a typo on line 40 stops the run
 * before anything is fetched. Then each image is walked from its manifest
 * down, exactly as a pull would: manifests through proxy_pull_manifest,
 * blobs through proxy_pull_blob (which resumes partial downloads), into
 * the same repositories the pull-through cache uses.
 */
#include "sync.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/human.h"
#include "../common/log.h"
#include "imageref.h"

#define SYNC_LINE_MAX 4096
#define SYNC_MANIFEST_MAX (16 * 1024 * 1024)
#define SYNC_DEPTH_MAX 8

typedef struct {
	imageref r;
	char text[IMAGEREF_MAX];
	char tags[REF_TAG_MAX * 2]; /* glob, "" = the reference's own tag or digest */
	char platforms[512];	    /* "os/arch[/variant],...", "" = all */
	unsigned line;
} sync_item;

/* The images that failed, each with why, for the summary. */
typedef struct {
	char **v;
	size_t n;
} fail_list;

typedef struct {
	proxy *px;
	meta *db;
	const sync_options *opt;
	sync_summary *sum;
	const sync_item *item;
	const char *blob; /* being fetched, for the progress line */
	char why[512];	  /* the current reference's first failure, "" = none yet */
	fail_list *failed;
} sync_ctx;

/* What an upstream failure st means, in words. */
static const char *reason(status_t st)
{
	switch (st) {
	case ST_NOT_FOUND:
		return "not found upstream";
	case ST_UNAVAILABLE:
		return "upstream unreachable or failing";
	case ST_DENIED:
		return "the upstream refused our credentials";
	case ST_BAD_GATEWAY:
		return "the upstream answered with something unusable";
	case ST_DIGEST_MISMATCH:
		return "content does not match its digest";
	default:
		return status_str(st);
	}
}

/* Sets c->why unless an earlier failure of the same reference did. */
static void fail_why(sync_ctx *c, const char *what, const char *digest, status_t st)
{
	if (c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "%s%s%s: %s", what, digest ? " " : "",
			 digest ? digest : "", reason(st));
}

/* Adds "IMAGE: WHY" to the summary's list (dropped if out of memory: the
 * count still says it failed). */
static void fail_add(fail_list *l, const char *image, const char *why)
{
	size_t n = strlen(image) + strlen(why) + 3;
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return;
	l->v = v;
	if ((v[l->n] = malloc(n)) != NULL)
		snprintf(v[l->n++], n, "%s: %s", image, why);
}

/* ---- the list ---- */

static status_t parse_line(char *line, sync_item *it, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	int field = 0;
	status_t st;

	for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), field++) {
		if (field == 0) {
			if ((st = imageref_parse(&it->r, tok)) != ST_OK) {
				snprintf(err, errlen, "'%s' is not an image reference (%s)", tok,
					 status_str(st));
				return ST_INVALID;
			}
			snprintf(it->text, sizeof(it->text), "%s", tok);
		} else if (strncmp(tok, "tags=", 5) == 0 && tok[5] &&
			   strlen(tok + 5) < sizeof(it->tags)) {
			snprintf(it->tags, sizeof(it->tags), "%s", tok + 5);
		} else if (strncmp(tok, "platforms=", 10) == 0 && tok[10] &&
			   strlen(tok + 10) < sizeof(it->platforms)) {
			snprintf(it->platforms, sizeof(it->platforms), "%s",
				 strcmp(tok + 10, "all") == 0 ? "" : tok + 10);
		} else {
			snprintf(err, errlen,
				 "unknown option '%s' (expected tags=GLOB or "
				 "platforms=OS/ARCH,...)",
				 tok);
			return ST_INVALID;
		}
	}
	if (it->tags[0] && it->r.digest[0]) {
		snprintf(err, errlen, "tags= with a digest makes no sense");
		return ST_INVALID;
	}
	return ST_OK;
}

static status_t read_list(const char *path, sync_item **out, size_t *out_n, FILE *msg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, err[512];
	size_t cap = 0, n = 0, room = 0;
	sync_item *items = NULL;
	unsigned lineno = 0;
	status_t st = ST_OK;

	*out = NULL;
	*out_n = 0;
	if (f == NULL) {
		fprintf(msg, "%s: %s\n", path, strerror(errno));
		return ST_NOT_FOUND;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *p = line, *hash;
		lineno++;
		if ((hash = strchr(p, '#')) != NULL)
			*hash = '\0';
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			continue;
		if (n == room) {
			sync_item *v = realloc(items, (room ? room * 2 : 16) * sizeof(*v));
			if (v == NULL) {
				st = ST_NOMEM;
				break;
			}
			items = v;
			room = room ? room * 2 : 16;
		}
		memset(&items[n], 0, sizeof(items[n]));
		items[n].line = lineno;
		if (parse_line(p, &items[n], err, sizeof(err)) != ST_OK) {
			fprintf(msg, "%s:%u: %s\n", path, lineno, err);
			st = ST_INVALID;
			continue;
		}
		n++;
	}
	free(line);
	fclose(f);
	if (st != ST_OK) {
		free(items);
		return st;
	}
	*out = items;
	*out_n = n;
	return ST_OK;
}

/* ---- walking an image ---- */

static void progress(void *arg, uint64_t done, uint64_t total)
{
	sync_ctx *c = arg;
	char a[HUMAN_SIZE_MAX], b[HUMAN_SIZE_MAX];
	int width = 30, fill;

	if (!c->opt->tty)
		return;
	human_size(a, done);
	if (total == UPSTREAM_SIZE_UNKNOWN || total == 0) {
		fprintf(c->opt->out, "\r  %.19s %s        ", c->blob, a);
	} else {
		fill = (int)((double)done / (double)total * width);
		human_size(b, total);
		fprintf(c->opt->out, "\r  %.19s [%.*s%*s] %s / %s   ", c->blob, fill,
			"##############################", width - fill, "", a, b);
	}
	fflush(c->opt->out);
}

static bool cancelled(void *arg)
{
	sync_ctx *c = arg;

	return c->opt->cancelled && c->opt->cancelled();
}

/* The platform of an index entry matches one of the list's. */
static bool platform_wanted(const char *list, json_t *desc)
{
	json_t *p = json_object_get(desc, "platform");

	return imageref_platform_match(list, json_string_value(json_object_get(p, "os")),
				       json_string_value(json_object_get(p, "architecture")),
				       json_string_value(json_object_get(p, "variant")));
}

/* Syncs what manifest digest (already stored) references. */
static status_t walk(sync_ctx *c, const proxy_target *t, blobstore *bs, const char *digest,
		     int depth)
{
	json_t *root = NULL, *mans;
	char *body = NULL;
	uint64_t size;
	size_t got = 0, n;
	status_t st, first = ST_OK;
	blob_reader *rd = NULL;

	if (depth > SYNC_DEPTH_MAX)
		return ST_INVALID;
	if ((st = blobstore_read_open(bs, digest, &rd)) != ST_OK)
		return st;
	size = blob_reader_size(rd);
	if (size > SYNC_MANIFEST_MAX || (body = malloc((size_t)size + 1)) == NULL) {
		blob_reader_close(rd);
		return ST_TOO_LARGE;
	}
	while (got < size) {
		if (blob_reader_read(rd, got, body + got, (size_t)size - got, &n) != ST_OK ||
		    n == 0) {
			blob_reader_close(rd);
			free(body);
			return ST_IO;
		}
		got += n;
	}
	blob_reader_close(rd);
	root = json_loadb(body, (size_t)size, 0, NULL);
	free(body);
	if (root == NULL)
		return ST_BAD_GATEWAY;
	if (json_is_array(mans = json_object_get(root, "manifests"))) {
		for (size_t i = 0; i < json_array_size(mans); i++) {
			json_t *d = json_array_get(mans, i);
			const char *cd = json_string_value(json_object_get(d, "digest"));
			char child[DIGEST_MAX];
			if (cd == NULL || !platform_wanted(c->item->platforms, d))
				continue;
			st = proxy_pull_manifest(c->px, c->db, t, cd, false, child);
			if (st == ST_OK) {
				c->sum->manifests++;
				st = walk(c, t, bs, child, depth + 1);
			} else {
				fprintf(c->opt->out, "  manifest %s: %s\n", cd, reason(st));
				fail_why(c, "manifest", cd, st);
			}
			if (st != ST_OK && first == ST_OK)
				first = st;
		}
		json_decref(root);
		return first;
	}
	/* an image: its config, then its layers */
	for (size_t i = 0;; i++) {
		json_t *desc = i == 0 ? json_object_get(root, "config")
				      : json_array_get(json_object_get(root, "layers"), i - 1);
		const char *bd = json_string_value(json_object_get(desc, "digest"));
		proxy_pull_cb cb = {progress, cancelled, c};
		uint64_t fetched = 0;
		char h[HUMAN_SIZE_MAX];

		if (desc == NULL && i > 0)
			break;
		if (bd == NULL)
			continue;
		if (json_is_array(json_object_get(desc, "urls")))
			continue; /* foreign layer: not ours to fetch */
		c->blob = bd;
		st = proxy_pull_blob(c->px, c->db, t, bd, &cb, &fetched);
		c->sum->bytes += fetched;
		if (c->opt->tty)
			fprintf(c->opt->out, "\r%78s\r", "");
		if (st == ST_OK) {
			c->sum->blobs++;
			if (fetched == 0) {
				c->sum->blobs_cached++;
				fprintf(c->opt->out, "  %.19s cached\n", bd);
			} else {
				fprintf(c->opt->out, "  %.19s fetched %s\n", bd,
					human_size(h, fetched));
			}
		} else {
			fprintf(c->opt->out, "  %.19s FAILED: %s\n", bd, status_str(st));
			fail_why(c, "blob", bd, st);
			if (first == ST_OK)
				first = st;
		}
		fflush(c->opt->out);
		if (cancelled(c))
			break;
	}
	json_decref(root);
	return first;
}

/* Syncs one reference (a tag or a digest) of item. */
static status_t sync_ref(sync_ctx *c, const proxy_target *t, const char *ref)
{
	char digest[DIGEST_MAX], image[IMAGEREF_MAX + DIGEST_MAX];
	bool is_tag = strchr(ref, ':') == NULL;
	status_t st;

	snprintf(image, sizeof(image), "%s/%s%s%s", c->item->r.domain, c->item->r.path,
		 is_tag ? ":" : "@", ref);
	fprintf(c->opt->out, "%s\n", image);
	c->why[0] = '\0';
	st = proxy_pull_manifest(c->px, c->db, t, ref, is_tag, digest);
	if (st == ST_OK) {
		c->sum->manifests++;
		st = walk(c, t, proxy_blobstore(c->px), digest, 0);
	} else {
		fprintf(c->opt->out, "  manifest: %s\n", reason(st));
		fail_why(c, "manifest", NULL, st);
	}
	if (st == ST_OK) {
		c->sum->images++;
	} else {
		c->sum->failed++;
		if (c->why[0] == '\0') /* failed before naming what */
			snprintf(c->why, sizeof(c->why), "%s", reason(st));
		fail_add(c->failed, image, c->why);
	}
	return st;
}

/* The upstream of item, or a failure said on out and added to the list. */
static status_t item_target(proxy *px, const sync_item *it, const char *path, proxy_target *t,
			    FILE *out, fail_list *failed)
{
	char name[IMAGEREF_DOMAIN_MAX + REF_NAME_MAX + 1], why[IMAGEREF_DOMAIN_MAX + 128];
	status_t st;

	snprintf(name, sizeof(name), "%s/%s", it->r.domain, it->r.path);
	st = proxy_route(px, name, NULL, t);
	if (st == ST_NOT_FOUND)
		snprintf(why, sizeof(why), "no upstream %s in the configuration", it->r.domain);
	else if (st != ST_OK)
		snprintf(why, sizeof(why), "name too long");
	else if (upstream_get_spec(t->up)->offline)
		snprintf(why, sizeof(why),
			 "upstream %s is offline in the configuration: nothing to fetch from",
			 it->r.domain);
	else
		return ST_OK;
	fprintf(out, "%s:%u: %s: %s\n", path, it->line, it->text, why);
	fail_add(failed, it->text, why);
	return st == ST_OK ? ST_UNAVAILABLE : st;
}

status_t sync_run(proxy *px, meta *db, const char *path, const sync_options *opt, sync_summary *out)
{
	sync_summary sum = {0};
	sync_item *items = NULL;
	fail_list failed = {NULL, 0};
	size_t n = 0;
	status_t st, first = ST_OK;
	char h[HUMAN_SIZE_MAX];

	if ((st = read_list(path, &items, &n, opt->out)) != ST_OK) {
		if (out)
			*out = sum;
		return st;
	}
	for (size_t i = 0; i < n; i++) {
		sync_ctx c = {px, db, opt, &sum, &items[i], "", "", &failed};
		char name[IMAGEREF_DOMAIN_MAX + REF_NAME_MAX + 1];
		proxy_target t;
		json_t *tags = NULL;

		if (opt->cancelled && opt->cancelled())
			break;
		snprintf(name, sizeof(name), "%s/%s", items[i].r.domain, items[i].r.path);
		if ((st = item_target(px, &items[i], path, &t, opt->out, &failed)) != ST_OK) {
			sum.failed++;
			if (first == ST_OK)
				first = st;
			continue;
		}
		if (items[i].tags[0] == '\0') {
			st = sync_ref(&c, &t,
				      items[i].r.digest[0] ? items[i].r.digest : items[i].r.tag);
		} else if ((st = upstream_get_tags(t.up, t.remote, &tags)) != ST_OK) {
			char why[128];
			fprintf(opt->out, "%s: cannot list tags: %s\n", name, reason(st));
			snprintf(why, sizeof(why), "cannot list its tags: %s", reason(st));
			fail_add(&failed, items[i].text, why);
			sum.failed++;
		} else {
			size_t matched = 0;
			for (size_t k = 0; k < json_array_size(tags); k++) {
				const char *tag = json_string_value(json_array_get(tags, k));
				status_t tst;
				if (tag == NULL || ref_tag_check(tag) != ST_OK ||
				    fnmatch(items[i].tags, tag, 0) != 0)
					continue;
				matched++;
				if ((tst = sync_ref(&c, &t, tag)) != ST_OK && st == ST_OK)
					st = tst;
				if (opt->cancelled && opt->cancelled())
					break;
			}
			if (matched == 0)
				fprintf(opt->out, "%s: no tag matches %s\n", name, items[i].tags);
		}
		json_decref(tags);
		if (st != ST_OK && first == ST_OK)
			first = st;
	}
	fprintf(opt->out,
		"summary: %zu image(s) synced, %zu failed; %zu manifest(s); %zu blob(s) present "
		"(%zu were cached already), %s downloaded\n",
		sum.images, sum.failed, sum.manifests, sum.blobs, sum.blobs_cached,
		human_size(h, sum.bytes));
	for (size_t i = 0; i < failed.n; i++) {
		fprintf(opt->out, "failed: %s\n", failed.v[i]);
		free(failed.v[i]);
	}
	free(failed.v);
	if (opt->cancelled && opt->cancelled()) {
		fprintf(opt->out, "interrupted: run it again to resume\n");
		if (first == ST_OK)
			first = ST_UNAVAILABLE;
	}
	free(items);
	if (out)
		*out = sum;
	return first;
}
