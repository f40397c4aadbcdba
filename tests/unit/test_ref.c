/*
 * test_ref.c - repository names, tags and references against the OCI
 * distribution spec's grammar, at its length limits and with NULL.
 */
#include <check.h>
#include <string.h>

#include "../../oci/ref.h"

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

START_TEST(name_valid)
{
	static const char *const good[] = {
	    "a",
	    "0",
	    "library/ubuntu",
	    "a.b",
	    "a_b",
	    "a__b",
	    "a-b",
	    "a---b",
	    "a/b/c",
	    "a0/1b",
	    "a.b-c_d__e/f--g.h",
	    "docker.io-mirror/library/alpine",
	    "9/9/9",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ref_name_check(good[i]) == ST_OK, "'%s' refused", good[i]);
}
END_TEST

START_TEST(name_invalid)
{
	static const char *const bad[] = {
	    "",	    "A",     "Library/ubuntu",
	    "a/",   "/a",    "a//b",
	    "a..b", "a___b", "a_.b",
	    "a._b", "a-.b",  "a_-b",
	    "-a",   "a-",    "a.",
	    "_a",   "a_",    ".a",
	    "a b",  "a:b",   "ab/Ab",
	    "a/-b", "a/b.",  "a\tb",
	    "a@b",  "a/b/",  "\xc3\xa4",
	    "a+b",  "..",    "/",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ref_name_check(bad[i]) == ST_NAME_INVALID, "'%s' accepted", bad[i]);
	ck_assert_int_eq(ref_name_check(NULL), ST_NAME_INVALID);
}
END_TEST

START_TEST(name_length)
{
	char s[REF_NAME_MAX + 2];

	/* 255 characters, with path separators along the way: the limit. */
	memset(s, 'a', REF_NAME_MAX - 1);
	for (size_t i = 10; i < REF_NAME_MAX - 1; i += 20)
		s[i] = '/';
	s[REF_NAME_MAX - 1] = '\0';
	ck_assert_uint_eq(strlen(s), 255);
	ck_assert_int_eq(ref_name_check(s), ST_OK);
	/* 256: one over. */
	s[REF_NAME_MAX - 1] = 'a';
	s[REF_NAME_MAX] = '\0';
	ck_assert_int_eq(ref_name_check(s), ST_NAME_INVALID);
}
END_TEST

START_TEST(tag_valid)
{
	static const char *const good[] = {
	    "latest", "v1.0", "_x", "A", "1", "a-b.c_d", "V1.2.3-rc.1_build.5",
	    "__",     "a..b", "x--"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ref_tag_check(good[i]) == ST_OK, "'%s' refused", good[i]);
}
END_TEST

START_TEST(tag_invalid)
{
	static const char *const bad[] = {"",	 ".a",	"-a",  "a/b",	   "a:b", "a b",
					  "a+b", "a\n", "a@b", "\xc3\xa4", ".",	  "-"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ref_tag_check(bad[i]) == ST_TAG_INVALID, "'%s' accepted", bad[i]);
	ck_assert_int_eq(ref_tag_check(NULL), ST_TAG_INVALID);
}
END_TEST

START_TEST(tag_length)
{
	char s[REF_TAG_MAX + 2];

	memset(s, 'x', sizeof(s));
	s[REF_TAG_MAX - 1] = '\0'; /* 128 characters */
	ck_assert_int_eq(ref_tag_check(s), ST_OK);
	s[REF_TAG_MAX - 1] = 'x';
	s[REF_TAG_MAX] = '\0'; /* 129 */
	ck_assert_int_eq(ref_tag_check(s), ST_TAG_INVALID);
}
END_TEST

START_TEST(parse_kinds)
{
	ref_kind kind = REF_DIGEST;

	ck_assert_int_eq(ref_parse("latest", &kind), ST_OK);
	ck_assert_int_eq(kind, REF_TAG);
	ck_assert_int_eq(ref_parse(SHA256_EMPTY, &kind), ST_OK);
	ck_assert_int_eq(kind, REF_DIGEST);
	/* out_kind is optional. */
	ck_assert_int_eq(ref_parse("v1", NULL), ST_OK);
	ck_assert_int_eq(ref_parse(SHA256_EMPTY, NULL), ST_OK);
}
END_TEST

START_TEST(parse_errors)
{
	ref_kind kind = REF_TAG;

	/* Well-formed digests of algorithms we do not compute. */
	ck_assert_int_eq(ref_parse("sha384:abcdef", &kind), ST_UNSUPPORTED);
	ck_assert_int_eq(ref_parse("foo:bar", &kind), ST_UNSUPPORTED);
	/* Has ':' but is no digest. */
	ck_assert_int_eq(ref_parse("sha256:abc", &kind), ST_DIGEST_INVALID);
	ck_assert_int_eq(ref_parse("sha256:", &kind), ST_DIGEST_INVALID);
	ck_assert_int_eq(ref_parse(":", &kind), ST_DIGEST_INVALID);
	ck_assert_int_eq(ref_parse("latest:", &kind), ST_DIGEST_INVALID);
	ck_assert_int_eq(ref_parse("v1:2:3", &kind), ST_DIGEST_INVALID);
	ck_assert_int_eq(
	    ref_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		      &kind),
	    ST_DIGEST_INVALID);
	/* Anything else is a bad tag. */
	ck_assert_int_eq(ref_parse("", &kind), ST_TAG_INVALID);
	ck_assert_int_eq(ref_parse("bad tag", &kind), ST_TAG_INVALID);
	ck_assert_int_eq(ref_parse(".hidden", &kind), ST_TAG_INVALID);
	ck_assert_int_eq(ref_parse("a/b", &kind), ST_TAG_INVALID);
	ck_assert_int_eq(ref_parse(NULL, &kind), ST_TAG_INVALID);
	/* Left alone on failure. */
	ck_assert_int_eq(kind, REF_TAG);
	kind = REF_DIGEST;
	ck_assert_int_eq(ref_parse("bad tag", &kind), ST_TAG_INVALID);
	ck_assert_int_eq(kind, REF_DIGEST);
}
END_TEST

Suite *make_ref_suite(void)
{
	Suite *s = suite_create("ref");
	TCase *tc = tcase_create("name");

	tcase_add_test(tc, name_valid);
	tcase_add_test(tc, name_invalid);
	tcase_add_test(tc, name_length);
	suite_add_tcase(s, tc);
	tc = tcase_create("tag");
	tcase_add_test(tc, tag_valid);
	tcase_add_test(tc, tag_invalid);
	tcase_add_test(tc, tag_length);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, parse_kinds);
	tcase_add_test(tc, parse_errors);
	suite_add_tcase(s, tc);
	return s;
}
