/*
 * rules.c - repository access rules and the glob matcher (see rules.h).
 *
 * The rule set is built once at start-up and only read afterwards, so it
 * needs no lock. Globs are common/glob.c's, shared with the storage
 * policies (quota, immutable, retain).
 */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/glob.h"

#define WHO_MAX 64	 /* principals in one rule */
#define MEMBERS_MAX 4096 /* users in one group */

typedef struct {
	char *pattern;
	char **who; /* "alice", "@group", "anonymous", "*" */
	size_t nwho;
	unsigned actions;
} rule;

typedef struct {
	char *name;
	char **members;
	size_t n;
} group;

struct auth_rules {
	rule *rules;
	size_t nrules;
	group *groups;
	size_t ngroups;
};

/* ---- globs ---- */

bool auth_glob_match(const char *pattern, const char *name)
{
	return glob_match(pattern, name); /* one matcher for every rule (common/glob.h) */
}

/* ---- parsing ---- */

status_t auth_actions_parse(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"pull", AUTH_PULL}, {"push", AUTH_PUSH}, {"delete", AUTH_DELETE}, {"*", AUTH_ALL}};
	unsigned v = 0;

	*out = 0;
	if (s == NULL || *s == '\0')
		return ST_INVALID;
	while (*s) {
		size_t len = strcspn(s, ","), i;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(s, names[i].name, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return ST_INVALID;
		v |= names[i].bit;
		s += len;
		if (*s == ',' && *++s == '\0')
			return ST_INVALID; /* trailing comma */
	}
	*out = v;
	return ST_OK;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-' || ch == '@';
}

bool auth_user_name_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= AUTH_NAME_MAX || s[0] == '@' ||
	    strcmp(s, "anonymous") == 0)
		return false;
	for (; *s; s++)
		if (!name_char(*s))
			return false;
	return true;
}

/* Group names: as user names, without '@'. */
static bool group_name_ok(const char *s)
{
	if (!auth_user_name_ok(s))
		return false;
	return strchr(s, '@') == NULL;
}

/* Pattern characters: those of repository names, and the glob ones. */
static bool pattern_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= GLOB_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-' || *s == '/' || *s == '*' || *s == '?'))
			return false;
	return true;
}

/* Splits s (modified) at runs of the characters in seps; at most max
 * fields. Returns the number found, or max + 1 when there are more. */
static size_t split(char *s, const char *seps, char **fields, size_t max)
{
	size_t n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(s, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
		if (n == max)
			return max + 1;
		fields[n++] = tok;
	}
	return n;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A malloc'd array of copies of v[0..n); NULL on allocation failure. */
static char **copy_strings(char *const *v, size_t n)
{
	char **out = calloc(n ? n : 1, sizeof(*out));

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((out[i] = strdup(v[i])) == NULL) {
			free_strings(out, i);
			return NULL;
		}
	return out;
}

status_t auth_rules_new(auth_rules **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? ST_OK : ST_NOMEM;
}

void auth_rules_free(auth_rules *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->nrules; i++) {
		free(rs->rules[i].pattern);
		free_strings(rs->rules[i].who, rs->rules[i].nwho);
	}
	for (size_t i = 0; i < rs->ngroups; i++) {
		free(rs->groups[i].name);
		free_strings(rs->groups[i].members, rs->groups[i].n);
	}
	free(rs->rules);
	free(rs->groups);
	free(rs);
}

status_t auth_rules_add(auth_rules *rs, const char *spec, char *err, size_t errlen)
{
	char *buf = NULL, *f[4], *who[WHO_MAX + 1];
	size_t nf, nwho;
	unsigned actions;
	rule r = {0}, *grown;
	status_t st = ST_INVALID;

	if (rs == NULL || spec == NULL) {
		status_errf(err, errlen, "missing rule");
		return ST_INVALID;
	}
	if ((buf = strdup(spec)) == NULL)
		return ST_NOMEM;
	if ((nf = split(buf, " \t", f, 3)) != 3) {
		status_errf(err, errlen,
			    "rule '%s' needs three fields: PATTERN WHO ACTIONS "
			    "(such as: team-a/* alice,@team-a pull,push)",
			    spec);
		goto done;
	}
	if (!pattern_ok(f[0])) {
		status_errf(err, errlen,
			    "rule pattern '%s' may hold only a-z 0-9 . _ - / and the globs * ** ?",
			    f[0]);
		goto done;
	}
	if (auth_actions_parse(f[2], &actions) != ST_OK) {
		status_errf(err, errlen,
			    "rule actions '%s': expected pull, push, delete or * (comma-separated)",
			    f[2]);
		goto done;
	}
	if ((nwho = split(f[1], ",", who, WHO_MAX)) == 0 || nwho > WHO_MAX) {
		status_errf(err, errlen, "rule '%s': expected 1 to %d principals", spec, WHO_MAX);
		goto done;
	}
	for (size_t i = 0; i < nwho; i++) {
		const char *w = who[i];
		if (strcmp(w, "anonymous") == 0 || strcmp(w, "*") == 0 ||
		    (w[0] == '@' && group_name_ok(w + 1)) || auth_user_name_ok(w))
			continue;
		status_errf(err, errlen,
			    "rule principal '%s': expected a user name, @group, anonymous or *", w);
		goto done;
	}
	st = ST_NOMEM;
	if ((r.pattern = strdup(f[0])) == NULL || (r.who = copy_strings(who, nwho)) == NULL)
		goto done;
	r.nwho = nwho;
	r.actions = actions;
	if ((grown = realloc(rs->rules, (rs->nrules + 1) * sizeof(*grown))) == NULL)
		goto done;
	rs->rules = grown;
	rs->rules[rs->nrules++] = r;
	r.pattern = NULL;
	r.who = NULL;
	st = ST_OK;
done:
	free(r.pattern);
	if (r.who)
		free_strings(r.who, r.nwho);
	free(buf);
	return st;
}

static const group *group_find(const auth_rules *rs, const char *name)
{
	for (size_t i = 0; i < rs->ngroups; i++)
		if (strcmp(rs->groups[i].name, name) == 0)
			return &rs->groups[i];
	return NULL;
}

status_t auth_rules_add_group(auth_rules *rs, const char *spec, char *err, size_t errlen)
{
	char *buf = NULL, *colon, *name, **members = NULL;
	size_t n = 0;
	group g = {0}, *grown;
	status_t st = ST_INVALID;

	if (rs == NULL || spec == NULL) {
		status_errf(err, errlen, "missing group");
		return ST_INVALID;
	}
	if ((buf = strdup(spec)) == NULL)
		return ST_NOMEM;
	if ((colon = strchr(buf, ':')) == NULL) {
		status_errf(err, errlen, "group '%s': expected NAME: USER USER ...", spec);
		goto done;
	}
	*colon = '\0';
	name = buf + strspn(buf, " \t");
	name[strcspn(name, " \t")] = '\0';
	if (!group_name_ok(name)) {
		status_errf(err, errlen, "group name '%s': expected letters, digits, . _ -", name);
		goto done;
	}
	if (group_find(rs, name) != NULL) {
		status_errf(err, errlen, "group '%s' defined twice", name);
		goto done;
	}
	st = ST_NOMEM;
	if ((members = malloc(MEMBERS_MAX * sizeof(*members))) == NULL)
		goto done;
	st = ST_INVALID;
	if ((n = split(colon + 1, " \t,", members, MEMBERS_MAX)) > MEMBERS_MAX) {
		status_errf(err, errlen, "group '%s' has more than %d members", name, MEMBERS_MAX);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (!auth_user_name_ok(members[i])) {
			status_errf(err, errlen, "group '%s': '%s' is not a user name", name,
				    members[i]);
			goto done;
		}
	st = ST_NOMEM;
	if ((g.name = strdup(name)) == NULL || (g.members = copy_strings(members, n)) == NULL)
		goto done;
	g.n = n;
	if ((grown = realloc(rs->groups, (rs->ngroups + 1) * sizeof(*grown))) == NULL)
		goto done;
	rs->groups = grown;
	rs->groups[rs->ngroups++] = g;
	g.name = NULL;
	g.members = NULL;
	st = ST_OK;
done:
	free(g.name);
	if (g.members)
		free_strings(g.members, g.n);
	free(members);
	free(buf);
	return st;
}

status_t auth_rules_check(const auth_rules *rs, char *err, size_t errlen)
{
	for (size_t i = 0; i < rs->nrules; i++)
		for (size_t k = 0; k < rs->rules[i].nwho; k++) {
			const char *w = rs->rules[i].who[k];
			if (w[0] == '@' && group_find(rs, w + 1) == NULL) {
				status_errf(err, errlen,
					    "rule '%s ...' names group %s, which is not defined",
					    rs->rules[i].pattern, w);
				return ST_INVALID;
			}
		}
	return ST_OK;
}

/* ---- evaluation ---- */

static bool in_group(const auth_rules *rs, const char *gname, const char *user)
{
	const group *g = group_find(rs, gname);

	if (g == NULL)
		return false;
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->members[i], user) == 0)
			return true;
	return false;
}

/* Whether rule r names user (NULL = anonymous). */
static bool rule_names(const auth_rules *rs, const rule *r, const char *user)
{
	for (size_t i = 0; i < r->nwho; i++) {
		const char *w = r->who[i];
		if (strcmp(w, "anonymous") == 0)
			return true;
		if (user == NULL)
			continue;
		if (strcmp(w, "*") == 0 || strcmp(w, user) == 0 ||
		    (w[0] == '@' && in_group(rs, w + 1, user)))
			return true;
	}
	return false;
}

unsigned auth_rules_eval(const auth_rules *rs, const char *user, const char *repo)
{
	unsigned v = 0;

	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (rs == NULL || rs->nrules == 0)
		return user != NULL ? AUTH_ALL : 0;
	for (size_t i = 0; i < rs->nrules && v != AUTH_ALL; i++)
		if ((rs->rules[i].actions & ~v) && rule_names(rs, &rs->rules[i], user) &&
		    auth_glob_match(rs->rules[i].pattern, repo))
			v |= rs->rules[i].actions;
	return v;
}

bool auth_rules_any_pull(const auth_rules *rs, const char *user)
{
	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (rs == NULL || rs->nrules == 0)
		return user != NULL;
	for (size_t i = 0; i < rs->nrules; i++)
		if ((rs->rules[i].actions & AUTH_PULL) && rule_names(rs, &rs->rules[i], user))
			return true;
	return false;
}

size_t auth_rules_count(const auth_rules *rs)
{
	return rs ? rs->nrules : 0;
}
