/*
 * retain.c - retention: the tags the retain lines do not keep are removed
 * (core_retain, core.h says which are kept).
 *
 * Retention removes tags only. A manifest that no tag or index holds any
 * more is garbage collection's to remove, with the blobs only it used, so
 * the two never disagree on what is reachable. Repositories are walked a
 * page at a time and each repository's tags are read, decided and removed
 * in small transactions, so pushes and pulls go on meanwhile. A tag is
 * removed only if it still points where it did when it was judged, with
 * the same push time: a tag pushed again meanwhile is fresh, and stays.
 * The dry run takes the same decisions and stops before the removal, so
 * it lists exactly what a run at that moment removes.
 */
#include "core_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/glob.h"
#include "../common/log.h"

#define RETAIN_PAGE 100 /* repositories read at a time */

typedef struct {
	meta_tag *v;
	size_t n, cap;
	status_t st;
} tag_vec;

static int collect_tag(void *arg, const meta_tag *t)
{
	tag_vec *tv = arg;

	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 64;
		meta_tag *p = realloc(tv->v, cap * sizeof(*p));
		if (p == NULL) {
			tv->st = ST_NOMEM;
			return 1;
		}
		tv->v = p;
		tv->cap = cap;
	}
	tv->v[tv->n++] = *t;
	return 0;
}

typedef struct {
	char names[RETAIN_PAGE][REF_NAME_MAX];
	size_t n;
} repo_page;

static int collect_repo(void *arg, const char *name)
{
	repo_page *p = arg;

	snprintf(p->names[p->n++], REF_NAME_MAX, "%s", name);
	return 0;
}

/* Most recently pushed first; the same second: by name, later first. */
static const meta_tag *sort_base;
static int by_push(const void *a, const void *b)
{
	const meta_tag *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];

	if (x->pushed != y->pushed)
		return x->pushed > y->pushed ? -1 : 1;
	return -strcmp(x->name, y->name);
}

/* Marks in keep[] the tags rule r keeps among tv's. */
static status_t rule_keeps(const retain_rule *r, const tag_vec *tv, bool *keep, time_t now)
{
	size_t *cand = calloc(tv->n + 1, sizeof(*cand)), nc = 0;

	if (cand == NULL)
		return ST_NOMEM;
	for (size_t i = 0; i < tv->n; i++)
		if (r->tags[0] == '\0' || glob_match(r->tags, tv->v[i].name))
			cand[nc++] = i;
	sort_base = tv->v; /* retention runs on one thread at a time (see core_retain) */
	qsort(cand, nc, sizeof(*cand), by_push);
	for (size_t k = 0; k < nc; k++) {
		const meta_tag *t = &tv->v[cand[k]];
		if (k < r->keep ||
		    (r->pushed_within && t->pushed >= now - (time_t)r->pushed_within) ||
		    (r->pulled_within && t->last_pull != 0 &&
		     t->last_pull >= now - (time_t)r->pulled_within))
			keep[cand[k]] = true;
	}
	free(cand);
	return ST_OK;
}

/* Removes t from repo if it is still as judged. ST_OK (removed), ST_EXISTS
 * (changed meanwhile: kept), ST_IO. */
static status_t remove_tag(meta *db, const char *repo, const meta_tag *t)
{
	meta_tag now;
	status_t st, end;

	if ((st = meta_write_begin(db)) != ST_OK)
		return st;
	st = meta_tag_get(db, repo, t->name, &now);
	if (st == ST_OK && (strcmp(now.digest, t->digest) != 0 || now.pushed != t->pushed))
		st = ST_EXISTS;
	else if (st == ST_NOT_FOUND)
		st = ST_EXISTS; /* gone already */
	if (st == ST_OK)
		st = meta_tag_delete(db, repo, t->name);
	end = meta_write_end(db, st == ST_OK);
	return st != ST_OK ? st : end;
}

static const char *when(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (t == 0)
		return "never";
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* Applies the rules that match repo. */
static status_t retain_repo(const policy *pol, meta *db, const char *repo, bool dry_run,
			    void (*fn)(void *arg, const core_retain_item *it), void *arg,
			    core_retain_summary *sum)
{
	const retain_rule *rules;
	size_t nrules = policy_retain_rules(pol, &rules);
	char names[1024] = "", pushed_s[32], pulled_s[32];
	tag_vec tv = {0};
	bool *keep = NULL;
	time_t now = time(NULL);
	status_t st;

	for (size_t i = 0; i < nrules; i++) {
		if (!glob_match(rules[i].pattern, repo))
			continue;
		size_t len = strlen(names);
		snprintf(names + len, sizeof(names) - len, "%s\"%s\"", len ? ", " : "",
			 rules[i].line);
	}
	if (names[0] == '\0')
		return ST_OK;
	sum->repos++;
	if ((st = meta_tag_records(db, repo, collect_tag, &tv)) != ST_OK || (st = tv.st) != ST_OK)
		goto done;
	sum->tags += tv.n;
	if ((keep = calloc(tv.n + 1, sizeof(*keep))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < nrules; i++)
		if (glob_match(rules[i].pattern, repo) &&
		    (st = rule_keeps(&rules[i], &tv, keep, now)) != ST_OK)
			goto done;
	for (size_t i = 0; i < tv.n; i++) {
		const meta_tag *t = &tv.v[i];
		core_retain_item it = {.repo = repo,
				       .tag = t->name,
				       .digest = t->digest,
				       .rules = names,
				       .pushed_by = t->pushed_by,
				       .pushed = (int64_t)t->pushed,
				       .last_pull = (int64_t)t->last_pull};

		if (keep[i])
			continue;
		if (policy_immutable(pol, repo, t->name) != NULL) {
			it.kept_why = "immutable";
			sum->kept_immutable++;
		} else if (!dry_run) {
			status_t rst = remove_tag(db, repo, t);
			if (rst == ST_OK) {
				it.removed = true;
				sum->removed++;
				log_info(
				    "retain: removed tag %s:%s (%s, pushed %s, last pulled %s): "
				    "no rule keeps it, by %s",
				    repo, t->name, t->digest,
				    when(pushed_s, sizeof(pushed_s), t->pushed),
				    when(pulled_s, sizeof(pulled_s), t->last_pull), names);
			} else if (rst == ST_EXISTS) {
				it.kept_why = "pushed again meanwhile";
			} else {
				st = rst;
				goto done;
			}
		} else {
			sum->removed++;
		}
		if (fn != NULL)
			fn(arg, &it);
	}
done:
	free(keep);
	free(tv.v);
	return st;
}

bool core_retain_configured(core *c)
{
	core_settings *s = settings_get(c);
	const retain_rule *r;
	bool any = policy_retain_rules(s->pol, &r) > 0;

	settings_put(c, s);
	return any;
}

status_t core_retain(core *c, bool dry_run, void (*fn)(void *arg, const core_retain_item *it),
		     void *arg, core_retain_summary *out)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	core_retain_summary sum = {0};
	char last[REF_NAME_MAX] = "";
	repo_page *page = NULL;
	bool more = true;
	status_t st = ST_OK;
	meta *db;
	/* one run, one set of rules: a reload meanwhile applies to the next */
	core_settings *set = settings_get(c);
	const retain_rule *r;

	if (policy_retain_rules(set->pol, &r) == 0)
		goto done;
	usage_flush(c); /* the pulls counted so far: pulled_within sees them */
	if ((st = core_db(c, &db)) != ST_OK)
		goto done;
	if ((page = malloc(sizeof(*page))) == NULL) {
		st = ST_NOMEM;
		goto done;
	}
	pthread_mutex_lock(&one_at_a_time);
	while (more && st == ST_OK) {
		page->n = 0;
		if ((st = meta_repo_list(db, last, RETAIN_PAGE, collect_repo, page, &more)) !=
		    ST_OK)
			break;
		for (size_t i = 0; i < page->n && st == ST_OK; i++)
			st = retain_repo(set->pol, db, page->names[i], dry_run, fn, arg, &sum);
		if (page->n > 0)
			snprintf(last, sizeof(last), "%s", page->names[page->n - 1]);
	}
	pthread_mutex_unlock(&one_at_a_time);
done:
	settings_put(c, set);
	free(page);
	if (out != NULL)
		*out = sum;
	return st;
}
