/*
 * skip.h - how a unit test says it could not run a check (see tests/skip.sh).
 *
 * test_skip prints "SKIP: ..." and appends the reason to $REGISTRY_SKIP_FILE
 * for `make test`'s summary. Under CI (CI=true) a skip is a failure: what
 * `make test` installs and allows must run there. Use it as
 *   if (!can) { test_skip("why"); return; }
 */
#ifndef TESTS_UNIT_SKIP_H
#define TESTS_UNIT_SKIP_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void
test_skip(const char *fmt, ...)
{
	const char *file = getenv("REGISTRY_SKIP_FILE"), *ci = getenv("CI");
	char why[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "SKIP: %s\n", why);
	if (file != NULL && file[0] != '\0' && (f = fopen(file, "a")) != NULL) {
		fprintf(f, "unit: %s\n", why);
		fclose(f);
	}
	if (ci != NULL && strcmp(ci, "true") == 0)
		ck_abort_msg("a skip under CI=true: %s", why);
}

#endif
