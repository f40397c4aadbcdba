/*
 * test_rules.c - auth/rules.c: glob matching of repository patterns, the
 * rule and group syntax with its exact messages, and what a principal may
 * do under a rule set (unions, groups, anonymous, every signed-in user, the
 * no-rules default).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth/rules.h"

static auth_rules *rs;
static char err[512];

static void setup(void)
{
	ck_assert_int_eq(auth_rules_new(&rs), ST_OK);
	err[0] = '\0';
}

static void teardown(void)
{
	auth_rules_free(rs);
	rs = NULL;
}

static void add(const char *spec)
{
	ck_assert_msg(auth_rules_add(rs, spec, err, sizeof(err)) == ST_OK, "%s: %s", spec, err);
}

static void add_group(const char *spec)
{
	ck_assert_msg(auth_rules_add_group(rs, spec, err, sizeof(err)) == ST_OK, "%s: %s", spec,
		      err);
}

START_TEST(glob_single_star)
{
	ck_assert(auth_glob_match("team-a/*", "team-a/app"));
	ck_assert(auth_glob_match("team-a/*", "team-a/"));
	ck_assert(!auth_glob_match("team-a/*", "team-a/app/sub"));
	ck_assert(!auth_glob_match("team-a/*", "team-a"));
	ck_assert(!auth_glob_match("team-a/*", "team-b/app"));
	ck_assert(auth_glob_match("*", "app"));
	ck_assert(!auth_glob_match("*", "a/b"));
	ck_assert(auth_glob_match("*/app", "x/app"));
	ck_assert(!auth_glob_match("*/app", "x/y/app"));
	ck_assert(auth_glob_match("a*c", "abbbc"));
	ck_assert(auth_glob_match("a*c", "ac"));
	ck_assert(!auth_glob_match("a*c", "ab/c"));
	ck_assert(auth_glob_match("*-dev/*", "web-dev/api"));
}
END_TEST

START_TEST(glob_double_star)
{
	ck_assert(auth_glob_match("library/**", "library/x"));
	ck_assert(auth_glob_match("library/**", "library/x/y/z"));
	ck_assert(!auth_glob_match("library/**", "library"));
	ck_assert(!auth_glob_match("library/**", "libraryx/y"));
	ck_assert(auth_glob_match("**", "anything/at/all"));
	ck_assert(auth_glob_match("**", "x"));
	ck_assert(auth_glob_match("**/cache", "a/b/cache"));
	ck_assert(!auth_glob_match("**/cache", "a/b/cachex"));
	ck_assert(auth_glob_match("a/**/z", "a/b/c/z"));
	ck_assert(auth_glob_match("a/***", "a/b/c")); /* more stars are "**" */
}
END_TEST

START_TEST(glob_literal_and_question)
{
	ck_assert(auth_glob_match("exact/name", "exact/name"));
	ck_assert(!auth_glob_match("exact/name", "exact/names"));
	ck_assert(!auth_glob_match("exact/name", "exact/nam"));
	ck_assert(auth_glob_match("v?", "v1"));
	ck_assert(!auth_glob_match("v?", "v"));
	ck_assert(!auth_glob_match("a?b", "a/b"));
	ck_assert(auth_glob_match("", ""));
	ck_assert(!auth_glob_match("", "x"));
}
END_TEST

START_TEST(glob_misuse_and_cost)
{
	char name[1100];

	ck_assert(!auth_glob_match(NULL, "x"));
	ck_assert(!auth_glob_match("*", NULL));
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert(!auth_glob_match("**", name)); /* over 1023 bytes */
	name[1000] = '\0';
	/* Many stars against a long name that almost matches: quadratic at
	 * worst, so this returns at once. */
	ck_assert(!auth_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
	ck_assert(!auth_glob_match("**a**a**a**a**a**a**a**a**a**a**a**a**b", name));
}
END_TEST

START_TEST(actions)
{
	unsigned v = 99;

	ck_assert_int_eq(auth_actions_parse("pull", &v), ST_OK);
	ck_assert_uint_eq(v, AUTH_PULL);
	ck_assert_int_eq(auth_actions_parse("pull,push,delete", &v), ST_OK);
	ck_assert_uint_eq(v, AUTH_ALL);
	ck_assert_int_eq(auth_actions_parse("*", &v), ST_OK);
	ck_assert_uint_eq(v, AUTH_ALL);
	ck_assert_int_eq(auth_actions_parse("push,pull", &v), ST_OK);
	ck_assert_uint_eq(v, AUTH_PULL | AUTH_PUSH);
	ck_assert_int_eq(auth_actions_parse("", &v), ST_INVALID);
	ck_assert_int_eq(auth_actions_parse("pull,", &v), ST_INVALID);
	ck_assert_int_eq(auth_actions_parse("pul", &v), ST_INVALID);
	ck_assert_int_eq(auth_actions_parse("pull,write", &v), ST_INVALID);
	ck_assert_int_eq(auth_actions_parse(NULL, &v), ST_INVALID);
}
END_TEST

START_TEST(user_names)
{
	ck_assert(auth_user_name_ok("alice"));
	ck_assert(auth_user_name_ok("ci.bot-1_x@example.com"));
	ck_assert(!auth_user_name_ok(""));
	ck_assert(!auth_user_name_ok(NULL));
	ck_assert(!auth_user_name_ok("anonymous"));
	ck_assert(!auth_user_name_ok("@team"));
	ck_assert(!auth_user_name_ok("a:b"));
	ck_assert(!auth_user_name_ok("a b"));
	ck_assert(!auth_user_name_ok("a/b"));
}
END_TEST

START_TEST(rule_syntax_errors)
{
	static const struct {
		const char *spec, *msg;
	} bad[] = {
	    {"team-a/*", "rule 'team-a/*' needs three fields: PATTERN WHO ACTIONS (such as: "
			 "team-a/* alice,@team-a pull,push)"},
	    {"a b c d", "rule 'a b c d' needs three fields: PATTERN WHO ACTIONS (such as: "
			"team-a/* alice,@team-a pull,push)"},
	    {"Team/* alice pull",
	     "rule pattern 'Team/*' may hold only a-z 0-9 . _ - / and the globs * ** ?"},
	    {"x alice pull,write",
	     "rule actions 'pull,write': expected pull, push, delete or * (comma-separated)"},
	    {"x al:ice pull",
	     "rule principal 'al:ice': expected a user name, @group, anonymous or *"},
	    {"x @ pull", "rule principal '@': expected a user name, @group, anonymous or *"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(auth_rules_add(rs, bad[i].spec, err, sizeof(err)), ST_INVALID);
		ck_assert_str_eq(err, bad[i].msg);
	}
	ck_assert_uint_eq(auth_rules_count(rs), 0);
	ck_assert_int_eq(auth_rules_add(rs, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(auth_rules_add(NULL, "x y pull", NULL, 0), ST_INVALID);
	add("  team-a/*\talice,bob   pull  ");
	ck_assert_uint_eq(auth_rules_count(rs), 1);
}
END_TEST

START_TEST(group_syntax)
{
	add_group("team-a: alice bob");
	add_group("ops:carol,dave");
	add_group("empty:");
	ck_assert_int_eq(auth_rules_add_group(rs, "team-a: eve", err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "group 'team-a' defined twice");
	ck_assert_int_eq(auth_rules_add_group(rs, "no colon", err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "group 'no colon': expected NAME: USER USER ...");
	ck_assert_int_eq(auth_rules_add_group(rs, "x: ok bad:name", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(auth_rules_add_group(rs, "@x: ok", err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "group name '@x': expected letters, digits, . _ -");
	add("x @team-a pull");
	ck_assert_int_eq(auth_rules_check(rs, err, sizeof(err)), ST_OK);
	add("y @nobody pull");
	ck_assert_int_eq(auth_rules_check(rs, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "rule 'y ...' names group @nobody, which is not defined");
}
END_TEST

START_TEST(eval_no_rules)
{
	/* No rules: signed-in users may do everything, anonymous nothing. */
	ck_assert_uint_eq(auth_rules_eval(rs, "alice", "any/repo"), AUTH_ALL);
	ck_assert_uint_eq(auth_rules_eval(rs, NULL, "any/repo"), 0);
	ck_assert_uint_eq(auth_rules_eval(rs, "", "any/repo"), 0);
	ck_assert(auth_rules_any_pull(rs, "alice"));
	ck_assert(!auth_rules_any_pull(rs, NULL));
	ck_assert_uint_eq(auth_rules_eval(NULL, "alice", "x"), AUTH_ALL);
}
END_TEST

START_TEST(eval_rules)
{
	add_group("team-a: alice carol");
	add("team-a/** @team-a pull,push");
	add("team-a/** alice delete");
	add("team-a/** bob pull");
	add("team-b/* bob *");
	add("public/** anonymous pull");
	add("sandbox/* * pull,push");

	ck_assert_uint_eq(auth_rules_eval(rs, "alice", "team-a/app"), AUTH_ALL);
	ck_assert_uint_eq(auth_rules_eval(rs, "carol", "team-a/app/x"), AUTH_PULL | AUTH_PUSH);
	ck_assert_uint_eq(auth_rules_eval(rs, "bob", "team-a/app"), AUTH_PULL);
	ck_assert_uint_eq(auth_rules_eval(rs, "bob", "team-b/app"), AUTH_ALL);
	ck_assert_uint_eq(auth_rules_eval(rs, "bob", "team-b/app/deeper"), 0);
	ck_assert_uint_eq(auth_rules_eval(rs, "alice", "team-b/app"), 0);
	/* anonymous grants apply to everyone */
	ck_assert_uint_eq(auth_rules_eval(rs, NULL, "public/x"), AUTH_PULL);
	ck_assert_uint_eq(auth_rules_eval(rs, "bob", "public/x"), AUTH_PULL);
	ck_assert_uint_eq(auth_rules_eval(rs, NULL, "team-a/app"), 0);
	/* "*" is every signed-in user, not anonymous */
	ck_assert_uint_eq(auth_rules_eval(rs, "zed", "sandbox/t"), AUTH_PULL | AUTH_PUSH);
	ck_assert_uint_eq(auth_rules_eval(rs, NULL, "sandbox/t"), 0);
	ck_assert_uint_eq(auth_rules_eval(rs, "zed", "elsewhere"), 0);
	ck_assert(auth_rules_any_pull(rs, NULL));
	ck_assert(auth_rules_any_pull(rs, "zed"));
}
END_TEST

START_TEST(eval_anonymous_without_pull)
{
	add("a/* alice push");
	ck_assert(!auth_rules_any_pull(rs, NULL));
	ck_assert(!auth_rules_any_pull(rs, "alice"));
	ck_assert(!auth_rules_any_pull(rs, "bob"));
}
END_TEST

Suite *make_rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("glob");

	tcase_add_test(tc, glob_single_star);
	tcase_add_test(tc, glob_double_star);
	tcase_add_test(tc, glob_literal_and_question);
	tcase_add_test(tc, glob_misuse_and_cost);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, actions);
	tcase_add_test(tc, user_names);
	tcase_add_test(tc, rule_syntax_errors);
	tcase_add_test(tc, group_syntax);
	tcase_add_test(tc, eval_no_rules);
	tcase_add_test(tc, eval_rules);
	tcase_add_test(tc, eval_anonymous_without_pull);
	suite_add_tcase(s, tc);
	return s;
}
