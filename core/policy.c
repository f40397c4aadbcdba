/*
 * policy.c - the rules about what may be written that do not depend on
 * who asks, in one place every write passes (core.h says which): a
 * mirrored repository is read-only, DELETE can be switched off, quotas
 * bound what repositories hold, immutable tags never move, and the retain
 * lines (retain.c applies them) are parsed here with the rest. core_event
 * writes the audit lines and queues the events of deletes and mounts
 * (core/events.c); a push's events ride in its manifest's transaction.
 *
 * A rule and the write it allows are one transaction
 * (meta_write_begin/end): the quota's sum and the link, the immutable
 * tag's digest and the move. Two pushes near a limit are serialised by the
 * index's write lock, and the second sees the first's bytes. Writes that
 * no rule matches skip the extra transaction: a registry without policies
 * pays nothing for them.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>

#include "../common/glob.h"
#include "../common/human.h"
#include "../common/log.h"

#define POLICY_WORD_MAX 256 /* a pattern or glob, with NUL */

typedef struct {
	char line[512];
	char pattern[POLICY_WORD_MAX];
	uint64_t limit; /* bytes */
} quota_rule;

typedef struct {
	char line[512];
	char pattern[POLICY_WORD_MAX];
	char tags[POLICY_WORD_MAX];
} immutable_rule;

struct policy {
	quota_rule *quotas;
	size_t nquotas;
	immutable_rule *immutables;
	size_t nimmutables;
	retain_rule *retains;
	size_t nretains;
};

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
	if (q->set->delete_enabled)
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

/* ---- parsing the lines ---- */

/* Copies the next blank-separated word of *s into out (max bytes) and
 * moves *s past it. 0, or -1 when there is none or it does not fit. */
static int next_word(const char **s, char *out, size_t max)
{
	const char *p = *s + strspn(*s, " \t");
	size_t n = strcspn(p, " \t");

	if (n == 0 || n >= max)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	*s = p + n;
	return 0;
}

/* Whether s is made of the characters `allowed` and the glob ones. */
static bool glob_ok(const char *s, const char *allowed)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(allowed, *s) ||
		      *s == '*' || *s == '?'))
			return false;
	return true;
}

/* Repository patterns: the characters of names; tag globs: of tags. */
#define REPO_CHARS "._-/"
#define TAG_CHARS "._-ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* digits with an optional suffix of `suffixes`, scaled by mult; 0 or -1. */
static int parse_scaled(const char *s, const char *suffixes, const uint64_t *mult, uint64_t *out)
{
	uint64_t v = 0, m = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0') {
		const char *hit = strchr(suffixes, *s);
		if (hit == NULL || s[1] != '\0')
			return -1;
		m = mult[hit - suffixes];
	}
	if (v != 0 && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

/* A size as the configuration writes them: K, M, G, T (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	static const uint64_t k = 1024, mult[] = {1024,
						  1024,
						  1024 * 1024,
						  1024 * 1024,
						  1024 * 1024 * 1024,
						  1024 * 1024 * 1024,
						  1024 * 1024 * 1024 * k,
						  1024 * 1024 * 1024 * k};

	return parse_scaled(s, "kKmMgGtT", mult, out) == 0 && *out <= INT64_MAX ? 0 : -1;
}

/* A duration: s, m, h, d, w (bare: seconds), up to ~68 years. */
static int parse_duration(const char *s, uint32_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400, 7 * 86400};
	uint64_t v;

	if (parse_scaled(s, "smhdw", mult, &v) != 0 || v > INT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static status_t parse_quota(quota_rule *r, const char *line, char *err, size_t errlen)
{
	char size[64];
	const char *p = line;

	memset(r, 0, sizeof(*r));
	snprintf(r->line, sizeof(r->line), "%s", line);
	if (next_word(&p, r->pattern, sizeof(r->pattern)) != 0 ||
	    next_word(&p, size, sizeof(size)) != 0 || p[strspn(p, " \t")] != '\0') {
		status_errf(err, errlen,
			    "quota '%s': expected \"PATTERN SIZE\", such as "
			    "\"team-a/** 50G\"",
			    line);
		return ST_INVALID;
	}
	if (!glob_ok(r->pattern, REPO_CHARS)) {
		status_errf(err, errlen,
			    "quota pattern '%s' may hold only a-z 0-9 . _ - / and the globs * ** ?",
			    r->pattern);
		return ST_INVALID;
	}
	if (parse_size(size, &r->limit) != 0) {
		status_errf(err, errlen,
			    "quota '%s': invalid size '%s' (expected bytes, or K, M, "
			    "G, T such as 50G)",
			    line, size);
		return ST_INVALID;
	}
	return ST_OK;
}

static status_t parse_immutable(immutable_rule *r, const char *line, char *err, size_t errlen)
{
	const char *p = line;

	memset(r, 0, sizeof(*r));
	snprintf(r->line, sizeof(r->line), "%s", line);
	if (next_word(&p, r->pattern, sizeof(r->pattern)) != 0 ||
	    next_word(&p, r->tags, sizeof(r->tags)) != 0 || p[strspn(p, " \t")] != '\0') {
		status_errf(err, errlen,
			    "immutable '%s': expected \"PATTERN TAGGLOB\", such as "
			    "\"prod/** v*\"",
			    line);
		return ST_INVALID;
	}
	if (!glob_ok(r->pattern, REPO_CHARS) || !glob_ok(r->tags, TAG_CHARS)) {
		status_errf(err, errlen,
			    "immutable '%s': a pattern of repository names and a glob "
			    "of tags (A-Z a-z 0-9 . _ - and * ?)",
			    line);
		return ST_INVALID;
	}
	return ST_OK;
}

static status_t parse_retain(retain_rule *r, const char *line, char *err, size_t errlen)
{
	const char *p = line;
	char word[POLICY_WORD_MAX];
	bool keep = false;

	memset(r, 0, sizeof(*r));
	snprintf(r->line, sizeof(r->line), "%s", line);
	if (next_word(&p, r->pattern, sizeof(r->pattern)) != 0 ||
	    !glob_ok(r->pattern, REPO_CHARS)) {
		status_errf(err, errlen,
			    "retain '%s': expected \"PATTERN keep=N [tags=GLOB] "
			    "[pushed_within=DURATION] [pulled_within=DURATION]\"",
			    line);
		return ST_INVALID;
	}
	while (next_word(&p, word, sizeof(word)) == 0) {
		char *v = strchr(word, '=');
		uint64_t n = 0;
		int bad = v == NULL || v[1] == '\0';

		if (!bad) {
			*v++ = '\0';
			if (strcmp(word, "keep") == 0) {
				bad = parse_scaled(v, "", NULL, &n) != 0 || n > 1000000;
				r->keep = (uint32_t)n;
				keep = true;
			} else if (strcmp(word, "tags") == 0) {
				bad = strlen(v) >= sizeof(r->tags) || !glob_ok(v, TAG_CHARS);
				if (!bad)
					snprintf(r->tags, sizeof(r->tags), "%s", v);
			} else if (strcmp(word, "pushed_within") == 0) {
				bad = parse_duration(v, &r->pushed_within) != 0 ||
				      r->pushed_within == 0;
			} else if (strcmp(word, "pulled_within") == 0) {
				bad = parse_duration(v, &r->pulled_within) != 0 ||
				      r->pulled_within == 0;
			} else {
				bad = 1;
			}
		}
		if (bad) {
			status_errf(err, errlen,
				    "retain '%s': bad option '%s%s%s' (keep=N up to "
				    "1000000, tags=GLOB, pushed_within= and "
				    "pulled_within= durations such as 30d)",
				    line, word, v ? "=" : "", v ? v : "");
			return ST_INVALID;
		}
	}
	if (p[strspn(p, " \t")] != '\0' || !keep) {
		status_errf(err, errlen,
			    "retain '%s': keep=N is required (keep=0: keep only what "
			    "pushed_within or pulled_within keeps)",
			    line);
		return ST_INVALID;
	}
	return ST_OK;
}

status_t core_policy_check(const char *key, const char *line, char *err, size_t errlen)
{
	quota_rule q;
	immutable_rule im;
	retain_rule rt;

	if (key == NULL || line == NULL) {
		status_errf(err, errlen, "no policy line");
		return ST_INVALID;
	}
	if (strcmp(key, "quota") == 0)
		return parse_quota(&q, line, err, errlen);
	if (strcmp(key, "immutable") == 0)
		return parse_immutable(&im, line, err, errlen);
	if (strcmp(key, "retain") == 0)
		return parse_retain(&rt, line, err, errlen);
	status_errf(err, errlen, "unknown policy '%s'", key);
	return ST_INVALID;
}

status_t policy_new(policy **out, const core_options *o)
{
	policy *p = calloc(1, sizeof(*p));
	char err[512];
	status_t st = ST_NOMEM;

	*out = NULL;
	if (p == NULL)
		return ST_NOMEM;
	if ((o->nquotas && (p->quotas = calloc(o->nquotas, sizeof(*p->quotas))) == NULL) ||
	    (o->nimmutables &&
	     (p->immutables = calloc(o->nimmutables, sizeof(*p->immutables))) == NULL) ||
	    (o->nretains && (p->retains = calloc(o->nretains, sizeof(*p->retains))) == NULL))
		goto fail;
	st = ST_INVALID;
	for (; p->nquotas < o->nquotas; p->nquotas++)
		if (parse_quota(&p->quotas[p->nquotas], o->quotas[p->nquotas], err, sizeof(err)) !=
		    ST_OK)
			goto bad;
	for (; p->nimmutables < o->nimmutables; p->nimmutables++)
		if (parse_immutable(&p->immutables[p->nimmutables], o->immutables[p->nimmutables],
				    err, sizeof(err)) != ST_OK)
			goto bad;
	for (; p->nretains < o->nretains; p->nretains++)
		if (parse_retain(&p->retains[p->nretains], o->retains[p->nretains], err,
				 sizeof(err)) != ST_OK)
			goto bad;
	*out = p;
	return ST_OK;
bad:
	log_error("%s", err);
fail:
	policy_free(p);
	return st;
}

void policy_free(policy *p)
{
	if (p == NULL)
		return;
	free(p->quotas);
	free(p->immutables);
	free(p->retains);
	free(p);
}

size_t policy_retain_rules(const policy *p, const retain_rule **out)
{
	*out = p->retains;
	return p->nretains;
}

const char *policy_immutable(const policy *p, const char *repo, const char *tag)
{
	for (size_t i = 0; i < p->nimmutables; i++)
		if (glob_match(p->immutables[i].pattern, repo) &&
		    glob_match(p->immutables[i].tags, tag))
			return p->immutables[i].line;
	return NULL;
}

/* ---- quotas ---- */

static bool quota_matches(void *arg, const char *repo)
{
	return glob_match(((const quota_rule *)arg)->pattern, repo);
}

/* core_quotas, core_usage_of: a pattern's repositories, as visible lets
 * the caller see them; one it refuses marks the sum partial. */
typedef struct {
	const char *pattern;
	bool (*visible)(void *, const char *);
	void *varg;
	bool hidden;
} quota_view;

static bool quota_view_matches(void *arg, const char *repo)
{
	quota_view *v = arg;

	if (!glob_match(v->pattern, repo))
		return false;
	if (v->visible != NULL && !v->visible(v->varg, repo)) {
		v->hidden = true;
		return false;
	}
	return true;
}

status_t policy_quotas(const policy *p, core *c, bool (*visible)(void *, const char *), void *varg,
		       void (*fn)(void *arg, const core_quota_row *r), void *arg)
{
	core_quota_row row;
	uint64_t used;
	status_t st = ST_OK;
	meta *db;

	if (p->nquotas == 0 || (st = core_db(c, &db)) != ST_OK)
		goto done;
	for (size_t i = 0; i < p->nquotas; i++) {
		quota_view v = {p->quotas[i].pattern, visible, varg, false};

		if ((st = meta_usage(db, quota_view_matches, &v, NULL, &used, NULL)) != ST_OK)
			goto done;
		row = (core_quota_row){p->quotas[i].line, p->quotas[i].pattern, p->quotas[i].limit,
				       used, v.hidden};
		fn(arg, &row);
	}
done:
	return st;
}

status_t core_usage_of(core *c, const char *pattern, bool (*visible)(void *, const char *),
		       void *varg, uint64_t *out_bytes, bool *out_partial)
{
	quota_view v = {pattern, visible, varg, false};
	status_t st;
	meta *db;

	*out_bytes = 0;
	*out_partial = false;
	if ((st = core_db(c, &db)) != ST_OK)
		return st;
	if ((st = meta_usage(db, quota_view_matches, &v, NULL, out_bytes, NULL)) != ST_OK)
		return st;
	*out_partial = v.hidden;
	return ST_OK;
}

/* Whether a quota (an immutable line) names repo: only then is a write
 * worth its own transaction. */
static bool quotas_apply(const policy *p, const char *repo)
{
	for (size_t i = 0; i < p->nquotas; i++)
		if (glob_match(p->quotas[i].pattern, repo))
			return true;
	return false;
}

static bool immutables_apply(const policy *p, const char *repo)
{
	for (size_t i = 0; i < p->nimmutables; i++)
		if (glob_match(p->immutables[i].pattern, repo))
			return true;
	return false;
}

/*
 * Inside the caller's write transaction: ST_OK if adding digest (size
 * bytes) to q's repository keeps every quota on it; ST_DENIED with a
 * detail docker prints ("quota ... : ... used of ...").
 */
static status_t quotas_check(core_req *q, meta *db, const char *digest, uint64_t size)
{
	const policy *p = q->set->pol;

	for (size_t i = 0; i < p->nquotas; i++) {
		const quota_rule *r = &p->quotas[i];
		char used_s[HUMAN_SIZE_MAX], limit_s[HUMAN_SIZE_MAX], add_s[HUMAN_SIZE_MAX];
		uint64_t used;
		bool has;
		status_t st;

		if (!glob_match(r->pattern, q->name))
			continue;
		if ((st = meta_usage(db, quota_matches, (void *)r, digest, &used, &has)) != ST_OK)
			return st;
		if (has || used + size <= r->limit)
			continue;
		core_detail(q, "quota \"%.200s\" exceeded: %s used of %s, this push adds %s",
			    r->line, human_size(used_s, used), human_size(limit_s, r->limit),
			    human_size(add_s, size));
		log_info("refused %s to %s: %s", digest, q->name, q->detail);
		return ST_DENIED;
	}
	return ST_OK;
}

/* Ends the caller's write transaction: committed if st is ST_OK. */
static status_t write_end(meta *db, status_t st)
{
	status_t end = meta_write_end(db, st == ST_OK);

	return st != ST_OK ? st : end;
}

status_t policy_link(core_req *q, meta *db, const char *digest, uint64_t size, int64_t gen)
{
	status_t st;

	/* meta_blob_link_held: the link also checks (in this transaction) that
	 * the row held before the file was published did not go meanwhile */
	if (!quotas_apply(q->set->pol, q->name))
		return meta_blob_link_held(db, q->name, digest, size, gen);
	if ((st = meta_write_begin(db)) != ST_OK)
		return st;
	if ((st = quotas_check(q, db, digest, size)) == ST_OK)
		st = meta_blob_link_held(db, q->name, digest, size, gen);
	return write_end(db, st);
}

status_t policy_mount(core_req *q, meta *db, const char *from, const char *digest,
		      uint64_t *out_size)
{
	uint64_t size = 0;
	status_t st;

	if (!quotas_apply(q->set->pol, q->name))
		return meta_blob_mount(db, q->name, from, digest, out_size);
	if ((st = meta_write_begin(db)) != ST_OK)
		return st;
	st = from != NULL ? meta_blob_get(db, from, digest, &size)
			  : meta_blob_find(db, digest, &size);
	if (st == ST_OK)
		st = quotas_check(q, db, digest, size);
	/* the source's link is checked again, and bumped, by the mount itself */
	if (st == ST_OK)
		st = meta_blob_mount(db, q->name, from, digest, out_size);
	return write_end(db, st);
}

/* Inside the caller's write transaction: ST_OK unless tag is immutable and
 * points elsewhere than digest (NULL: anywhere, a delete). */
static status_t immutable_check(core_req *q, meta *db, const char *tag, const char *digest)
{
	const char *rule = policy_immutable(q->set->pol, q->name, tag);
	meta_manifest cur;
	status_t st;

	if (rule == NULL)
		return ST_OK;
	st = meta_manifest_get(db, q->name, tag, &cur);
	if (st == ST_NOT_FOUND)
		return ST_OK; /* a new tag: set once, then fixed */
	if (st != ST_OK)
		return st;
	if (digest != NULL && strcmp(cur.digest, digest) == 0)
		return ST_OK; /* the same push again (a CI retry) */
	core_detail(q, "tag %.100s:%.60s is immutable (rule \"%.150s\"): it stays at %.80s",
		    q->name, tag, rule, cur.digest);
	log_info("refused to %s %s:%s: %s", digest ? "move" : "delete", q->name, tag, q->detail);
	return ST_DENIED;
}

status_t policy_manifest_put(core_req *q, meta *db, const meta_manifest *man,
			     const char *const *refs, size_t nrefs, const char *const *tags,
			     size_t ntags, meta_push *push)
{
	const policy *p = q->set->pol;
	bool im = ntags > 0 && immutables_apply(p, q->name), qu = quotas_apply(p, q->name);
	status_t st;

	if (!im && !qu)
		return meta_manifest_push(db, q->name, man, refs, nrefs, tags, ntags, push);
	if ((st = meta_write_begin(db)) != ST_OK)
		return st;
	for (size_t i = 0; im && st == ST_OK && i < ntags; i++)
		st = immutable_check(q, db, tags[i], man->digest);
	if (st == ST_OK && qu)
		st = quotas_check(q, db, man->digest, man->size);
	if (st == ST_OK)
		st = meta_manifest_push(db, q->name, man, refs, nrefs, tags, ntags, push);
	return write_end(db, st);
}

typedef struct {
	core_req *q;
	meta *db;
	const char *digest;
	status_t st;
	char tag[META_TAG_MAX];
} tag_scan;

/* The first immutable tag pointing at s->digest. */
static int find_immutable(void *arg, const meta_tag *t)
{
	tag_scan *s = arg;

	if (strcmp(t->digest, s->digest) != 0 ||
	    policy_immutable(s->q->set->pol, s->q->name, t->name) == NULL)
		return 0;
	snprintf(s->tag, sizeof(s->tag), "%s", t->name);
	return 1;
}

status_t policy_delete_ref(core_req *q, meta *db, const char *ref, bool by_digest)
{
	tag_scan scan = {.q = q, .db = db, .digest = ref};
	status_t st;

	if (!immutables_apply(q->set->pol, q->name))
		return by_digest ? meta_manifest_delete(db, q->name, ref)
				 : meta_tag_delete(db, q->name, ref);
	if ((st = meta_write_begin(db)) != ST_OK)
		return st;
	if (by_digest) {
		/* its tags go with it: refused if one of them is immutable */
		st = meta_tag_records(db, q->name, find_immutable, &scan);
		if (st == ST_OK && scan.tag[0] != '\0')
			st = immutable_check(q, db, scan.tag, NULL);
		if (st == ST_OK)
			st = meta_manifest_delete(db, q->name, ref);
	} else if ((st = immutable_check(q, db, ref, NULL)) == ST_OK) {
		st = meta_tag_delete(db, q->name, ref);
	}
	return write_end(db, st);
}
