/*
 * test_man.c - the man page of the configuration file (doc/registry.conf.5)
 * against the key table of server/config.c: every key has its entry in the
 * KEYS section (a ".TP" or ".TQ" line, then ".B key"), and every entry
 * there names a key that exists. Tests run from the project root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/config.h"

#define MAN_PATH "doc/registry.conf.5"
#define MAN_KEYS_MAX 256

/* The names of the KEYS section's entries, in order; returns how many. */
static size_t man_keys(char names[][64], size_t max)
{
	FILE *f = fopen(MAN_PATH, "r");
	char line[1024];
	bool in_keys = false, entry = false;
	size_t n = 0;

	ck_assert_msg(f != NULL, "cannot open %s (tests run from the project root)", MAN_PATH);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SH ", 4) == 0) {
			in_keys = strcmp(line, ".SH KEYS") == 0;
			continue;
		}
		if (!in_keys)
			continue;
		if (strcmp(line, ".TP") == 0 || strcmp(line, ".TQ") == 0) {
			entry = true;
			continue;
		}
		if (entry && strncmp(line, ".B ", 3) == 0 && n < max)
			snprintf(names[n++], 64, "%.63s", line + 3);
		entry = false;
	}
	fclose(f);
	return n;
}

START_TEST(every_key_in_the_man_page)
{
	static char names[MAN_KEYS_MAX][64];
	const config_key *keys;
	size_t nkeys = config_keys(&keys), n = man_keys(names, MAN_KEYS_MAX);

	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < nkeys; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = strcmp(keys[i].name, names[j]) == 0;
		ck_assert_msg(found, "key %s is not in %s (add a .TP/.B entry under KEYS)",
			      keys[i].name, MAN_PATH);
	}
	for (size_t j = 0; j < n; j++) {
		bool found = false;
		for (size_t i = 0; i < nkeys && !found; i++)
			found = strcmp(keys[i].name, names[j]) == 0;
		ck_assert_msg(found, "%s documents %s, which is no key", MAN_PATH, names[j]);
	}
}
END_TEST

Suite *make_man_suite(void)
{
	Suite *s = suite_create("man");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_key_in_the_man_page);
	suite_add_tcase(s, tc);
	return s;
}
