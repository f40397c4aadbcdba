/*
 * test_cli.c - server/cli.c: options with values, flags, aliases,
 * positional arguments in order, "-" as a name, and the two usage errors.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../server/cli.h"

static const char *file, *data, *out;
static bool yes;
static const cli_opt opts[] = {
    {"--config", "-c", &file, NULL}, {"--data", "-d", &data, NULL}, {"--out", NULL, &out, NULL},
    {"--yes", "-y", NULL, &yes},     {NULL, NULL, NULL, NULL},
};

static int parse(int argc, char **argv, char ***pos, int *npos)
{
	file = data = out = NULL;
	yes = false;
	return cli_parse("test", argc, argv, opts, pos, npos);
}

START_TEST(cli_parses)
{
	char *argv[] = {"a", "-c", "f.conf", "--yes", "b", "--data", "d", "-", "--out", "o"};
	char **pos = NULL;
	int npos = -1;

	ck_assert_int_eq(parse(10, argv, &pos, &npos), 0);
	ck_assert_str_eq(file, "f.conf");
	ck_assert_str_eq(data, "d");
	ck_assert_str_eq(out, "o");
	ck_assert(yes);
	ck_assert_int_eq(npos, 3);
	ck_assert_str_eq(pos[0], "a");
	ck_assert_str_eq(pos[1], "b");
	ck_assert_str_eq(pos[2], "-");
	ck_assert_ptr_null(pos[3]);
	free(pos);
	/* nothing at all */
	ck_assert_int_eq(parse(0, argv, &pos, &npos), 0);
	ck_assert_int_eq(npos, 0);
	ck_assert_ptr_null(file);
	free(pos);
	/* a value that looks like an option is still the value */
	{
		char *v[] = {"-d", "--yes"};
		ck_assert_int_eq(parse(2, v, &pos, &npos), 0);
		ck_assert_str_eq(data, "--yes");
		ck_assert(!yes);
		free(pos);
	}
}
END_TEST

START_TEST(cli_refuses)
{
	char *unknown[] = {"x", "--nope"}, *missing[] = {"--out"}, *flagval[] = {"-y", "-c"};
	char **pos = NULL;
	int npos;

	ck_assert_int_eq(parse(2, unknown, &pos, &npos), CLI_EXIT_USAGE);
	free(pos);
	ck_assert_int_eq(parse(1, missing, &pos, &npos), CLI_EXIT_USAGE);
	free(pos);
	ck_assert_int_eq(parse(2, flagval, &pos, &npos), CLI_EXIT_USAGE);
	free(pos);
}
END_TEST

START_TEST(cli_config_reads)
{
	config cfg;

	ck_assert_int_eq(cli_config("test", NULL, "/tmp/x-data", &cfg), 0);
	ck_assert_str_eq(cfg.data, "/tmp/x-data");
	config_free(&cfg);
	ck_assert_int_eq(cli_config("test", "/nonexistent/registry.conf", NULL, &cfg),
			 CLI_EXIT_USAGE);
	config_free(&cfg);
	ck_assert_int_eq(cli_config("test", NULL, "", &cfg), CLI_EXIT_USAGE);
	config_free(&cfg);
}
END_TEST

Suite *make_cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_add_test(tc, cli_parses);
	tcase_add_test(tc, cli_refuses);
	tcase_add_test(tc, cli_config_reads);
	suite_add_tcase(s, tc);
	return s;
}
