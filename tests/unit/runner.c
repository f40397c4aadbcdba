/*
 * runner.c - runs every Check suite; exits non-zero on any failure.
 * The suite list comes from build/suites.h, made from the test file names.
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(n) Suite *make_##n##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define SUITE(n) srunner_add_suite(sr, make_##n##_suite());
#include "suites.h"
#undef SUITE
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
