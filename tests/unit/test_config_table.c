/*
 * test_config_table.c - the key table of server/config.c (config_keys) and
 * the documentation checked against it: the table is sound (unique names,
 * bounds that fit their fields, every default accepted by its own setter,
 * bounds enforced exactly), and every key is in registry.conf and in the
 * README's key table, with the same default, and nothing stale is
 * documented. Tests run from the project root, where both files are.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/config.h"

#define CONF_PATH "registry.conf"
#define README_PATH "README.md"
#define README_TABLE_HEAD "| key | default | meaning |"

static const config_key *keys;
static size_t nkeys;

static void setup(void)
{
	nkeys = config_keys(&keys);
}

/* The row of name, or NULL. */
static const config_key *key_get(const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int is_number(const config_key *k)
{
	return k->type == CONFIG_SIZE || k->type == CONFIG_DURATION || k->type == CONFIG_UINT;
}

/*
 * Keys whose documented default cannot be the table's literal text (the
 * table's is empty: the value is worked out at run time). `path`, when set,
 * resolves the empty default; the README shows it with DATA for the data
 * folder, registry.conf as a commented line with the folder's default.
 */
static const struct {
	const char *key, *readme;
	status_t (*path)(const config *c, char *out, size_t outlen);
	const char *reason;
} doc_exceptions[] = {
    {"auth_users", "`DATA/htpasswd`", config_users_path, "empty: the file in the data folder"},
    {"auth_token_key", "`DATA/token.key`", config_token_key_path,
     "empty: the file in the data folder"},
    {"auth_token_realm", "from the request", NULL,
     "empty: built per request from the scheme and Host the client used"},
};

static int doc_exception(const char *key)
{
	for (size_t i = 0; i < sizeof(doc_exceptions) / sizeof(doc_exceptions[0]); i++)
		if (strcmp(doc_exceptions[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* The whole of path, NUL-terminated; the caller frees it. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	ck_assert_msg(f != NULL, "cannot open %s (tests run from the project root)", path);
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 4096;
			ck_assert_ptr_nonnull(buf = realloc(buf, cap + 1));
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

START_TEST(table_sound)
{
	ck_assert_uint_gt(nkeys, 0);
	for (size_t i = 0; i < nkeys; i++) {
		const config_key *k = &keys[i];

		ck_assert_msg(k->name != NULL && k->name[0] != '\0', "row %zu has no name", i);
		for (const char *p = k->name; *p; p++)
			/* digits after the first letter: s3_endpoint */
			ck_assert_msg(islower((unsigned char)*p) || *p == '_' ||
					  (p > k->name && isdigit((unsigned char)*p)),
				      "%s: bad name", k->name);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(keys[j].name, k->name) != 0, "%s twice", k->name);
		ck_assert_msg(k->offset + k->size <= sizeof(config), "%s: outside config", k->name);
		ck_assert_msg(k->min <= k->max, "%s: min above max", k->name);
		switch (k->type) {
		case CONFIG_STRING:
		case CONFIG_PATH:
			ck_assert_msg(k->size > 1, "%s: no room", k->name);
			break;
		case CONFIG_SIZE:
			ck_assert_msg(k->size == sizeof(uint64_t), "%s: not a uint64_t", k->name);
			ck_assert_msg(k->max <= INT64_MAX, "%s: max", k->name);
			break;
		case CONFIG_DURATION:
		case CONFIG_UINT:
			ck_assert_msg(k->size == sizeof(uint32_t), "%s: not a uint32_t", k->name);
			ck_assert_msg(k->max <= UINT32_MAX, "%s: max does not fit", k->name);
			break;
		case CONFIG_BOOL:
			ck_assert_msg(k->size == sizeof(bool), "%s: not a bool", k->name);
			break;
		case CONFIG_CUSTOM:
			ck_assert_msg(k->check != NULL, "%s: custom without a parser", k->name);
			break;
		case CONFIG_LIST:
			ck_assert_msg(k->size == sizeof(config_list), "%s: not a list", k->name);
			ck_assert_msg(k->def == NULL, "%s: a list has no default", k->name);
			break;
		}
		/* The types whose setter writes "invalid KEY 'V' (expected ...)". */
		if (is_number(k) || k->type == CONFIG_BOOL || k->type == CONFIG_CUSTOM)
			ck_assert_msg(k->expect != NULL, "%s: no wording for a bad value", k->name);
	}
}
END_TEST

/* config_defaults is exactly: zero, then each default through config_set. */
START_TEST(defaults_through_setters)
{
	static config def, c, zero;
	char err[1024];

	/* First each default alone, so a bad one is named (config_defaults
	 * would stop at its assert). */
	for (size_t i = 0; i < nkeys; i++) {
		memset(&c, 0, sizeof(c));
		if (keys[i].def != NULL)
			ck_assert_msg(
			    config_set(&c, keys[i].name, keys[i].def, err, sizeof(err)) == ST_OK,
			    "%s: default '%s' refused: %s", keys[i].name, keys[i].def, err);
	}
	config_defaults(&def);
	for (size_t i = 0; i < nkeys; i++) {
		const config_key *k = &keys[i];
		const char *field = (const char *)&def + k->offset;

		if (k->def == NULL) {
			ck_assert_msg(memcmp(field, (const char *)&zero + k->offset, k->size) == 0,
				      "%s: set without a default", k->name);
			continue;
		}
		memset(&c, 0, sizeof(c));
		ck_assert_int_eq(config_set(&c, k->name, k->def, err, sizeof(err)), ST_OK);
		ck_assert_msg(memcmp(field, (const char *)&c + k->offset, k->size) == 0,
			      "%s: config_defaults disagrees with '%s'", k->name, k->def);
	}
	config_free(&def);
}
END_TEST

/* k->max as a user would write it: "7d", "1h", "256". */
static void max_text(const config_key *k, char *out, size_t outlen)
{
	static const struct {
		uint64_t sec;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
	unsigned long long max = (unsigned long long)k->max;

	if (k->type == CONFIG_DURATION)
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (max % units[i].sec == 0) {
				snprintf(out, outlen, "%llu%c", max / units[i].sec, units[i].unit);
				return;
			}
	snprintf(out, outlen, "%llu", max);
}

/* Each number key takes its min and max and refuses one past them, with
 * the message its row words. */
START_TEST(number_bounds)
{
	static config c;
	char v[32], err[1024], want[1024];

	for (size_t i = 0; i < nkeys; i++) {
		const config_key *k = &keys[i];

		if (!is_number(k))
			continue;
		config_defaults(&c);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->min);
		ck_assert_msg(config_set(&c, k->name, v, err, sizeof(err)) == ST_OK, "%s = %s",
			      k->name, v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->max);
		ck_assert_msg(config_set(&c, k->name, v, err, sizeof(err)) == ST_OK, "%s = %s",
			      k->name, v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->max + 1);
		ck_assert_msg(config_set(&c, k->name, v, err, sizeof(err)) == ST_INVALID,
			      "%s = %s accepted", k->name, v);
		snprintf(want, sizeof(want), "invalid %s '%s' (expected %s)", k->name, v,
			 k->expect);
		ck_assert_str_eq(err, want);
		if (k->min > 0) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)k->min - 1);
			ck_assert_msg(config_set(&c, k->name, v, err, sizeof(err)) == ST_INVALID,
				      "%s = %s accepted", k->name, v);
		}
		/* A bound below the type's own is in the wording, as a user writes it. */
		if (k->max == UINT32_MAX || k->max == INT64_MAX)
			continue;
		max_text(k, v, sizeof(v));
		ck_assert_msg(strstr(k->expect, v) != NULL, "%s: '%s' does not say %s", k->name,
			      k->expect, v);
	}
}
END_TEST

/* Every key refuses an empty value with a message of its own. */
START_TEST(empty_refused)
{
	static config c;
	char err[1024];

	config_defaults(&c);
	for (size_t i = 0; i < nkeys; i++) {
		err[0] = '\0';
		ck_assert_msg(config_set(&c, keys[i].name, "", err, sizeof(err)) == ST_INVALID,
			      "%s = '' accepted", keys[i].name);
		ck_assert_msg(err[0] != '\0' && strstr(err, "(null)") == NULL, "%s: '%s'",
			      keys[i].name, err);
	}
	config_free(&c);
}
END_TEST

/*
 * If line (of registry.conf) is `KEY = VALUE` or `# KEY = VALUE`, sets *key
 * and *value (quotes removed, trailing text after a quoted value dropped)
 * in place and returns 1 (set) or 2 (commented); else 0.
 */
static int conf_line(char *line, char **key, char **value)
{
	int commented = line[0] == '#';
	char *p = commented ? line + 1 + (line[1] == ' ') : line, *end;

	*key = p;
	while (islower((unsigned char)*p) || *p == '_' || (p > *key && isdigit((unsigned char)*p)))
		p++;
	if (p == *key || strncmp(p, " = ", 3) != 0)
		return 0;
	*p = '\0';
	p += 3;
	if (*p == '"' && (end = strchr(p + 1, '"')) != NULL) {
		*end = '\0';
		p++;
	} else {
		end = p + strcspn(p, "\n");
		while (end > p && end[-1] == ' ')
			end--;
		*end = '\0';
	}
	*value = p;
	return commented ? 2 : 1;
}

START_TEST(conf_documents_table)
{
	char *text = slurp(CONF_PATH), *line, *save = NULL, *key, *value, *head, *head_end;
	int set[256] = {0}, shown[256] = {0};
	char resolved[CONFIG_PATH_MAX + 32];
	static config def;

	ck_assert_uint_le(nkeys, 256);
	config_defaults(&def);
	/* The header names every key that may repeat. */
	ck_assert_ptr_nonnull(head = strstr(text, "Each key may appear once"));
	ck_assert_ptr_nonnull(head_end = strchr(head, ')'));
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].type == CONFIG_LIST) {
			char *hit = strstr(head, keys[i].name);
			ck_assert_msg(hit != NULL && hit < head_end,
				      "registry.conf's header does not say %s may repeat",
				      keys[i].name);
		}
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int kind = conf_line(line, &key, &value);
		const config_key *k;
		int x;

		if (kind == 0)
			continue;
		ck_assert_msg((k = key_get(key)) != NULL,
			      "registry.conf shows '%s', which is not a key", key);
		shown[k - keys]++;
		if (kind == 2) {
			/* An example; for a key defaulting to a file, that file. */
			x = doc_exception(k->name);
			if (x >= 0 && doc_exceptions[x].path != NULL) {
				ck_assert_int_eq(
				    doc_exceptions[x].path(&def, resolved, sizeof(resolved)),
				    ST_OK);
				ck_assert_msg(strcmp(value, resolved) == 0,
					      "registry.conf shows %s = %s, the default is %s",
					      k->name, value, resolved);
			}
			continue;
		}
		set[k - keys]++;
		/* The file changes nothing: each line sets the default. */
		ck_assert_msg(k->def != NULL,
			      "registry.conf sets %s, which has no default (comment it out)",
			      k->name);
		ck_assert_msg(strcmp(value, k->def) == 0, "registry.conf: %s = %s, default %s",
			      k->name, value, k->def);
	}
	for (size_t i = 0; i < nkeys; i++) {
		ck_assert_msg(shown[i] > 0, "registry.conf does not show %s", keys[i].name);
		if (keys[i].def != NULL)
			ck_assert_msg(set[i] == 1, "registry.conf sets %s %d times (want once)",
				      keys[i].name, set[i]);
	}
	free(text);
}
END_TEST

START_TEST(readme_documents_table)
{
	char *text = slurp(README_PATH), *p, *line_end, *cell, *cell_end, *meaning;
	int rows[256] = {0};
	char want[CONFIG_PATH_MAX + 64], resolved[CONFIG_PATH_MAX + 32];
	static config def;

	config_defaults(&def);
	ck_assert_msg((p = strstr(text, README_TABLE_HEAD)) != NULL,
		      "README.md has no key table (" README_TABLE_HEAD ")");
	p = strchr(p, '\n') + 1;
	p = strchr(p, '\n') + 1; /* the | --- | line */
	for (; strncmp(p, "| `", 3) == 0; p = line_end + 1) {
		char names[512], deflt[CONFIG_PATH_MAX + 64];
		size_t n;

		ck_assert_ptr_nonnull(line_end = strchr(p, '\n'));
		*line_end = '\0';
		/* | `a`, `b` | default | meaning | */
		cell = p + 2;
		ck_assert_ptr_nonnull(cell_end = strstr(cell, " | "));
		n = (size_t)(cell_end - cell);
		ck_assert_uint_lt(n, sizeof(names));
		memcpy(names, cell, n);
		names[n] = '\0';
		cell = cell_end + 3;
		ck_assert_ptr_nonnull(cell_end = strstr(cell, " | "));
		n = (size_t)(cell_end - cell);
		ck_assert_uint_lt(n, sizeof(deflt));
		memcpy(deflt, cell, n);
		deflt[n] = '\0';
		meaning = cell_end + 3;
		for (char *name = strtok(names, "`, "); name; name = strtok(NULL, "`, ")) {
			const config_key *k = key_get(name);
			int x = -1;

			ck_assert_msg(k != NULL, "README.md documents '%s', which is not a key",
				      name);
			rows[k - keys]++;
			if (k->def != NULL)
				snprintf(want, sizeof(want), "`%s`", k->def);
			else if ((x = doc_exception(k->name)) >= 0)
				snprintf(want, sizeof(want), "%s", doc_exceptions[x].readme);
			else
				snprintf(want, sizeof(want), "(none)");
			ck_assert_msg(strcmp(deflt, want) == 0,
				      "README.md: %s defaults to %s, the table says %s", k->name,
				      deflt, want);
			if (x >= 0 && doc_exceptions[x].path != NULL) {
				/* DATA/file is the file in the default data folder. */
				ck_assert_int_eq(
				    doc_exceptions[x].path(&def, resolved, sizeof(resolved)),
				    ST_OK);
				snprintf(want, sizeof(want), "`%s%s", def.data,
					 doc_exceptions[x].readme + strlen("`DATA"));
				snprintf(deflt, sizeof(deflt), "`%s`", resolved);
				ck_assert_str_eq(want, deflt);
			}
			ck_assert_msg((strstr(meaning, "may be repeated") != NULL) ==
					  (k->type == CONFIG_LIST),
				      "README.md: whether %s may be repeated", k->name);
		}
	}
	for (size_t i = 0; i < nkeys; i++)
		ck_assert_msg(rows[i] == 1, "README.md's key table has %d rows for %s (want 1)",
			      rows[i], keys[i].name);
	free(text);
}
END_TEST

/* Whether `name` (backticked) occurs in [from, to). */
static int names_key(const char *from, const char *to, const char *name)
{
	char want[128];
	size_t n = (size_t)snprintf(want, sizeof(want), "`%s`", name);

	for (const char *p = from; p + n <= to; p++)
		if (memcmp(p, want, n) == 0)
			return 1;
	return 0;
}

/*
 * The README's Reload section lists which keys a reload applies and which
 * need a restart: every key in the list its `.restart` says and not in the
 * other, and every backticked key name in either list a key of the table.
 */
START_TEST(readme_reload_lists)
{
	char *text = slurp(README_PATH), *sec, *applied, *restart, *end;

	ck_assert_ptr_nonnull(sec = strstr(text, "\n### Reload\n"));
	ck_assert_ptr_nonnull(applied = strstr(sec, "\n- applied: "));
	ck_assert_ptr_nonnull(restart = strstr(applied, "\n- needing a restart: "));
	ck_assert_ptr_nonnull(end = strstr(restart, "\n\n"));
	for (size_t i = 0; i < nkeys; i++) {
		const char *name = keys[i].name;
		int in_applied = names_key(applied, restart, name),
		    in_restart = names_key(restart, end, name);

		if (keys[i].restart)
			ck_assert_msg(
			    in_restart && !in_applied,
			    "README Reload: %s needs a restart (.restart in config.c): list "
			    "it under 'needing a restart' only",
			    name);
		else
			ck_assert_msg(in_applied && !in_restart,
				      "README Reload: %s reloads: list it under 'applied' only",
				      name);
	}
	/* nothing stale: each `word` of the lists that could be a key is one */
	for (const char *p = applied; p < end; p++) {
		const char *q;
		char word[64];

		if (*p != '`' || (q = strchr(p + 1, '`')) == NULL || q >= end)
			continue;
		if ((size_t)(q - p - 1) < sizeof(word) &&
		    strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(q - p - 1)) {
			memcpy(word, p + 1, (size_t)(q - p - 1));
			word[q - p - 1] = '\0';
			ck_assert_msg(key_get(word) != NULL, "README Reload lists `%s`, no key",
				      word);
		}
		p = q;
	}
	free(text);
}
END_TEST

Suite *make_config_table_suite(void)
{
	Suite *s = suite_create("config_table");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, table_sound);
	tcase_add_test(tc, defaults_through_setters);
	tcase_add_test(tc, number_bounds);
	tcase_add_test(tc, empty_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("docs");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, conf_documents_table);
	tcase_add_test(tc, readme_documents_table);
	tcase_add_test(tc, readme_reload_lists);
	suite_add_tcase(s, tc);
	return s;
}
