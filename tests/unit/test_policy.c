/*
 * test_policy.c - the storage policies' lines (core_policy_check, which
 * the configuration and core_open both use): what each accepts and what it
 * refuses, with a message naming the line.
 */
#include <check.h>
#include <string.h>

#include "../../core/core.h"

static status_t chk(const char *key, const char *line, char *err)
{
	err[0] = '\0';
	return core_policy_check(key, line, err, 256);
}

START_TEST(test_quota_lines)
{
	char err[256];

	ck_assert_int_eq(chk("quota", "team-a/** 50G", err), ST_OK);
	ck_assert_int_eq(chk("quota", "  ** 1T  ", err), ST_OK);
	ck_assert_int_eq(chk("quota", "app 1000", err), ST_OK);
	ck_assert_int_eq(chk("quota", "app/* 10k", err), ST_OK);
	ck_assert_int_eq(chk("quota", "team-a/**", err), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "PATTERN SIZE"));
	ck_assert_int_eq(chk("quota", "team-a/** 50X", err), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "invalid size '50X'"));
	ck_assert_int_eq(chk("quota", "team-a/** -1", err), ST_INVALID);
	ck_assert_int_eq(chk("quota", "team-a/** 99999999999999999999", err), ST_INVALID);
	ck_assert_int_eq(chk("quota", "team-a/** 50G extra", err), ST_INVALID);
	ck_assert_int_eq(chk("quota", "Team/** 5G", err), ST_INVALID); /* names are lowercase */
	ck_assert_int_eq(chk("quota", "", err), ST_INVALID);
}
END_TEST

START_TEST(test_immutable_lines)
{
	char err[256];

	ck_assert_int_eq(chk("immutable", "prod/** v*", err), ST_OK);
	ck_assert_int_eq(chk("immutable", "** RELEASE-?.*", err), ST_OK);
	ck_assert_int_eq(chk("immutable", "prod/**", err), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "PATTERN TAGGLOB"));
	ck_assert_int_eq(chk("immutable", "prod/** v/1", err), ST_INVALID); /* no '/' in tags */
	ck_assert_int_eq(chk("immutable", "prod/** v* x", err), ST_INVALID);
}
END_TEST

START_TEST(test_retain_lines)
{
	char err[256];

	ck_assert_int_eq(chk("retain", "ci/** keep=10", err), ST_OK);
	ck_assert_int_eq(chk("retain", "ci/** keep=0 tags=release-* pushed_within=30d", err),
			 ST_OK);
	ck_assert_int_eq(chk("retain", "** keep=3 pulled_within=12h pushed_within=2w", err), ST_OK);
	ck_assert_int_eq(chk("retain", "ci/**", err), ST_INVALID); /* keep= is required */
	ck_assert_ptr_nonnull(strstr(err, "keep=N is required"));
	ck_assert_int_eq(chk("retain", "ci/** keep=x", err), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "bad option 'keep=x'"));
	ck_assert_int_eq(chk("retain", "ci/** keep=1 pushed_within=0", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep=1 pushed_within=3y", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep=1 colour=blue", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep=1 tags=", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep=1 tags=a/b", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep=2000000", err), ST_INVALID);
	ck_assert_int_eq(chk("retain", "ci/** keep", err), ST_INVALID);
}
END_TEST

START_TEST(test_misuse)
{
	char err[256];

	ck_assert_int_eq(chk("quotas", "a 1", err), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "unknown policy"));
	ck_assert_int_eq(chk(NULL, "a 1", err), ST_INVALID);
	ck_assert_int_eq(chk("quota", NULL, err), ST_INVALID);
	ck_assert_int_eq(core_policy_check("quota", "bad", NULL, 0), ST_INVALID); /* no err */
}
END_TEST

Suite *make_policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_quota_lines);
	tcase_add_test(tc, test_immutable_lines);
	tcase_add_test(tc, test_retain_lines);
	tcase_add_test(tc, test_misuse);
	suite_add_tcase(s, tc);
	return s;
}
