/*
 * manifests.c - getting, putting and deleting the manifests of a repository.
 *
 * A pushed manifest is stored byte for byte, under the digest of exactly
 * those bytes, in the blob store; its metadata (media type, subject,
 * artifact type, annotations, what it references, its tags) goes into the
 * index in one transaction. Every blob and child manifest it references must
 * already be in the repository, so a pull of a tag never finds a hole.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX_TAGS CORE_PUT_TAGS_MAX
#define NEVS (MANIFEST_MAX_TAGS + 2) /* event batches of a push: one per name in all[] */
/* Stores of a manifest's bytes before giving up: each retry needs a
 * collection to take its row in the milliseconds between two steps. */
#define PUT_TRIES 3

/* A reference that can name a manifest: ST_OK with *by_digest, or why not. */
static status_t ref_check(core_req *q, const char *ref, bool *by_digest)
{
	ref_kind kind;
	status_t st = ref_parse(ref, &kind);

	if (st == ST_UNSUPPORTED) {
		core_detail(q, "unsupported digest algorithm");
		return ST_DIGEST_INVALID;
	}
	*by_digest = kind == REF_DIGEST;
	return st;
}

status_t core_manifest_get(core *c, core_req *q, const char *ref, core_manifest *out)
{
	meta_manifest man;
	blob_reader *rd;
	ref_kind kind;
	status_t st;
	meta *db;

	memset(out, 0, sizeof(*out));
	/* Neither a tag nor a digest: no manifest can exist under it, so a
	 * read or delete is told it is unknown (as the conformance suite
	 * wants); only a push is told what is wrong with the name it chose. */
	if (ref_parse(ref, &kind) != ST_OK)
		return ST_MANIFEST_UNKNOWN;
	if (q->mirrored)
		return cache_manifest_get(c, q, ref, out);
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	st = meta_manifest_get(db, q->name, ref, &man);
	if (st == ST_NOT_FOUND)
		return meta_repo_exists(db, q->name) == ST_NOT_FOUND ? ST_NAME_UNKNOWN
								     : ST_MANIFEST_UNKNOWN;
	if (st != ST_OK)
		return st;
	if ((st = blobstore_read_open(c->bs, man.digest, &rd)) != ST_OK) {
		core_detail(q, "manifest file missing");
		return st == ST_NOT_FOUND ? ST_MANIFEST_UNKNOWN : st;
	}
	if ((out->body = calloc(1, sizeof(*out->body))) == NULL) {
		blob_reader_close(rd);
		return ST_NOMEM;
	}
	out->body->rd = rd;
	out->body->size = blob_reader_size(rd);
	snprintf(out->digest, sizeof(out->digest), "%s", man.digest);
	snprintf(out->media_type, sizeof(out->media_type), "%s", man.media_type);
	out->size = out->body->size;
	return ST_OK;
}

/* The one place a pull is known to have happened (the caller decides: a
 * GET, not a HEAD): its pull records (usage.c) and its pull event. */
void core_manifest_served(core *c, core_req *q, const char *ref, const core_manifest *m)
{
	ref_kind kind;
	events_target t = {"pull", m->digest, NULL, m->media_type, m->size};

	usage_pull(c, q, ref, m->digest);
	if (c->ev == NULL)
		return;
	if (ref != NULL && ref_parse(ref, &kind) == ST_OK && kind != REF_DIGEST)
		t.tag = ref;
	events_pull(c->ev, q, &t);
}

/* Checks the sizes of what info references against what q's repository
 * holds (that it holds them is meta_manifest_push's to check). */
static status_t check_refs(core_req *q, meta *db, const manifest_info *info)
{
	for (size_t i = 0; i < info->nrefs; i++) {
		const manifest_desc *d = &info->refs[i];
		uint64_t size;
		status_t st;

		if (info->kind == MANIFEST_INDEX) {
			meta_manifest child;
			st = meta_manifest_get(db, q->name, d->digest, &child);
			size = child.size;
		} else {
			if (d->foreign)
				continue;
			st = meta_blob_get(db, q->name, d->digest, &size);
		}
		/* Missing: meta_manifest_push says so, in the transaction that
		 * stores the manifest (a collection could take it after a look
		 * here); this look is for the sizes. */
		if (st == ST_NOT_FOUND)
			continue;
		if (st != ST_OK)
			return st;
		if (size != d->size) {
			core_detail(q, "descriptor of %s says %llu bytes, stored %llu", d->digest,
				    (unsigned long long)d->size, (unsigned long long)size);
			return ST_MANIFEST_INVALID;
		}
	}
	return ST_OK;
}

status_t core_manifest_put(core *c, core_req *q, const char *ref, const char *const *tags,
			   size_t ntags, const char *content_type, const char *body, size_t len,
			   core_put_result *out)
{
	manifest_info info = {0};
	meta_manifest man = {0};
	const char *all[MANIFEST_MAX_TAGS + 1];
	const char **refs = NULL, **need = NULL;
	events_batch evs[NEVS] = {{0}};
	meta_event *rows = NULL;
	size_t nrows = 0;
	meta_push push = {0};
	char digest[DIGEST_MAX];
	digest_alg alg = DIGEST_SHA256;
	size_t n = 0;
	bool by_digest;
	status_t st;
	meta *db;

	memset(out, 0, sizeof(*out));
	if ((st = policy_writable(q)) != ST_OK || (st = ref_check(q, ref, &by_digest)) != ST_OK)
		return st;
	if (len > q->set->max_manifest_bytes) {
		core_detail(q, "manifest larger than %llu bytes",
			    (unsigned long long)q->set->max_manifest_bytes);
		return ST_TOO_LARGE;
	}
	if (ntags > MANIFEST_MAX_TAGS)
		return ST_TOO_LARGE;
	if (by_digest)
		digest_parse(ref, &alg);
	else
		all[n++] = ref;
	for (size_t i = 0; i < ntags; i++) {
		if (ref_tag_check(tags[i]) != ST_OK)
			return ST_TAG_INVALID;
		all[n++] = tags[i];
	}
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if (body == NULL)
		body = "";
	if ((st = digest_buffer(digest, alg, body, len)) != ST_OK)
		goto done;
	if (by_digest && strcmp(digest, ref) != 0) {
		core_detail(q, "manifest digest is %s", digest);
		st = ST_DIGEST_INVALID;
		goto done;
	}
	st = manifest_parse(&info, body, len, content_type, q->detail, sizeof(q->detail));
	if (st == ST_UNSUPPORTED)
		st = ST_MANIFEST_INVALID;
	if (st != ST_OK)
		goto done;
	if ((st = check_refs(q, db, &info)) != ST_OK)
		goto done;
	if ((refs = calloc(info.nrefs + 1, sizeof(*refs))) == NULL ||
	    (need = calloc(info.nrefs + 1, sizeof(*need))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < info.nrefs; i++) {
		refs[i] = info.refs[i].digest;
		if (info.kind == MANIFEST_INDEX || !info.refs[i].foreign)
			need[push.nneed++] = info.refs[i].digest;
	}
	push.need = need;
	push.need_manifests = info.kind == MANIFEST_INDEX;
	snprintf(man.digest, sizeof(man.digest), "%s", digest);
	snprintf(man.media_type, sizeof(man.media_type), "%s", info.media_type);
	snprintf(man.artifact_type, sizeof(man.artifact_type), "%s", info.artifact_type);
	snprintf(man.subject, sizeof(man.subject), "%s", info.subject);
	man.size = len;
	man.annotations = info.annotations;
	snprintf(man.pushed_by, sizeof(man.pushed_by), "%s", q->actor);
	/* One push event per tag set (by digest: one, untagged), queued in the
	 * manifest's transaction: a push acknowledged has its events. */
	for (size_t i = 0; i < (n > 0 ? n : 1); i++) {
		events_target t = {"push", digest, n > 0 ? all[i] : NULL, info.media_type, len};
		if ((st = events_prepare(c->ev, q, &t, &evs[i])) != ST_OK)
			goto done;
		nrows += evs[i].n;
	}
	if (nrows > 0) {
		if ((rows = calloc(nrows, sizeof(*rows))) == NULL) {
			st = ST_NOMEM;
			goto done;
		}
		nrows = 0;
		for (size_t i = 0; i < NEVS; i++)
			for (size_t j = 0; j < evs[i].n; j++)
				rows[nrows++] = evs[i].v[j];
		man.events = rows;
		man.nevents = nrows;
	}
	/* Its row, then its bytes, then the rows that name it, checking in
	 * that one transaction that what it references is still there and
	 * that its own row did not go meanwhile (else store the bytes again:
	 * a collector may have removed them). A collection that took a blob
	 * it needs makes it MANIFEST_BLOB_UNKNOWN: the client uploads again. */
	for (int i = 0; i < PUT_TRIES; i++) {
		if ((st = meta_blob_hold(db, digest, len, &push.gen)) != ST_OK ||
		    (st = blobstore_put(c->bs, digest, body, len)) != ST_OK)
			goto done;
		/* immutable tags and quotas, checked in the same transaction as
		 * the manifest, its events (a refused push queues none) and the
		 * push's existence checks and bumps */
		st = policy_manifest_put(q, db, &man, refs, info.nrefs, all, n, &push);
		if (st != ST_BUSY)
			break;
	}
	if (st == ST_NOT_FOUND) {
		core_detail(q, "%s %s not in repository", push.need_manifests ? "manifest" : "blob",
			    push.need[push.missing]);
		st = ST_MANIFEST_BLOB_UNKNOWN;
	} else if (st == ST_BUSY) {
		core_detail(q, "garbage collection kept removing the manifest's bytes: push again");
		st = ST_IO;
	}
	if (st != ST_OK)
		goto done;
	for (size_t i = 0; i < NEVS; i++)
		events_committed(c->ev, &evs[i]);
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	snprintf(out->subject, sizeof(out->subject), "%s", info.subject);
	core_event(q, "push", digest, by_digest ? NULL : ref);
done:
	for (size_t i = 0; i < NEVS; i++)
		events_batch_free(&evs[i]);
	free(rows);
	free(refs);
	free(need);
	manifest_info_free(&info);
	return st;
}

status_t core_manifest_delete(core *c, core_req *q, const char *ref)
{
	bool by_digest;
	status_t st;
	meta *db;

	ref_kind kind;

	if ((st = policy_writable(q)) != ST_OK)
		return st;
	if (ref_parse(ref, &kind) != ST_OK)
		return ST_MANIFEST_UNKNOWN; /* as core_manifest_get */
	if ((st = policy_delete(q)) != ST_OK || (st = core_db(c, &db)) != ST_OK)
		return st;
	by_digest = kind == REF_DIGEST;
	st = policy_delete_ref(q, db, ref, by_digest); /* immutable tags */
	if (st == ST_NOT_FOUND)
		return ST_MANIFEST_UNKNOWN;
	if (st == ST_OK)
		core_event(q, "delete", by_digest ? ref : NULL, by_digest ? NULL : ref);
	return st;
}
