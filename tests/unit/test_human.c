/*
 * test_human.c - sizes for people: units, rounding at the edges, the
 * largest value.
 */
#include <check.h>
#include <stdint.h>

#include "../../common/human.h"

START_TEST(sizes)
{
	char b[HUMAN_SIZE_MAX];

	ck_assert_str_eq(human_size(b, 0), "0 B");
	ck_assert_str_eq(human_size(b, 1023), "1023 B");
	ck_assert_str_eq(human_size(b, 1024), "1.0 KiB");
	ck_assert_str_eq(human_size(b, 1536), "1.5 KiB");
	ck_assert_str_eq(human_size(b, 1024 * 1024 - 1), "1.0 MiB");
	ck_assert_str_eq(human_size(b, 20ull * 1024 * 1024), "20.0 MiB");
	ck_assert_str_eq(human_size(b, 3ull << 30), "3.0 GiB");
	ck_assert_str_eq(human_size(b, 5ull << 40), "5.0 TiB");
	ck_assert_str_eq(human_size(b, UINT64_MAX), "16777216.0 TiB");
}
END_TEST

Suite *make_human_suite(void)
{
	Suite *s = suite_create("human");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sizes);
	suite_add_tcase(s, tc);
	return s;
}
