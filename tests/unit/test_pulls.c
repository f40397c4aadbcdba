/*
 * test_pulls.c - storage/pulls.c, the cache's pull-recency index: totals,
 * least-recently-pulled order, the keep window (direct and through an
 * index), later touches winning, forgetting.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../storage/pulls.h"

#define B(c)                                                                                       \
	"sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
	    c c c c c c c c c c c c c c c c c c c c c c c c

static char dir[] = "/tmp/test_pulls.XXXXXX", path[64];
static pulls *p;

static void setup(void)
{
	strcpy(dir, "/tmp/test_pulls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cache.db", dir);
	ck_assert_int_eq(pulls_open(&p, path), ST_OK);
}

static void teardown(void)
{
	char cmd[128];

	pulls_close(p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

typedef struct {
	char order[8][80];
	int n;
} seen;

static int collect(void *arg, const char *digest, uint64_t size, time_t pulled)
{
	seen *s = arg;

	if (s->n < 8)
		snprintf(s->order[s->n++], sizeof(s->order[0]), "%s", digest);
	return 0;
}

START_TEST(lru_and_keep)
{
	const char *img1[] = {B("1"), B("2")}, *img2[] = {B("3")}, *index[] = {B("b")};
	uint64_t total;
	seen s = {0};

	ck_assert_int_eq(pulls_blob_cached(p, B("1"), 100, 10), ST_OK);
	ck_assert_int_eq(pulls_blob_cached(p, B("2"), 200, 20), ST_OK);
	ck_assert_int_eq(pulls_blob_cached(p, B("3"), 300, 30), ST_OK);
	ck_assert_int_eq(pulls_blob_cached(p, B("4"), 400, 5), ST_OK);
	ck_assert_int_eq(pulls_total(p, &total), ST_OK);
	ck_assert_uint_eq(total, 1000);
	/* manifest a -> 1, 2; manifest b -> 3; index c -> b */
	ck_assert_int_eq(pulls_manifest_refs(p, B("a"), img1, 2), ST_OK);
	ck_assert_int_eq(pulls_manifest_refs(p, B("b"), img2, 1), ST_OK);
	ck_assert_int_eq(pulls_manifest_refs(p, B("c"), index, 1), ST_OK);

	/* nothing pulled recently: every blob, oldest first */
	ck_assert_int_eq(pulls_victims(p, 1000, collect, &s), ST_OK);
	ck_assert_int_eq(s.n, 4);
	ck_assert_str_eq(s.order[0], B("4"));
	ck_assert_str_eq(s.order[3], B("3"));

	/* a touch moves a blob to the back */
	ck_assert_int_eq(pulls_touch(p, B("4"), 50), ST_OK);
	ck_assert_int_eq(pulls_touch(p, B("4"), 40), ST_OK); /* earlier: ignored */
	memset(&s, 0, sizeof(s));
	pulls_victims(p, 1000, collect, &s);
	ck_assert_str_eq(s.order[0], B("1"));
	ck_assert_str_eq(s.order[3], B("4"));

	/* manifest a pulled at 900: its blobs are kept from 900 on */
	ck_assert_int_eq(pulls_touch(p, B("a"), 900), ST_OK);
	memset(&s, 0, sizeof(s));
	pulls_victims(p, 800, collect, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.order[0], B("3"));
	ck_assert_str_eq(s.order[1], B("4"));
	memset(&s, 0, sizeof(s));
	pulls_victims(p, 901, collect, &s); /* window over: all four again */
	ck_assert_int_eq(s.n, 4);

	/* an index pulled keeps what its manifests reference */
	ck_assert_int_eq(pulls_touch(p, B("c"), 950), ST_OK);
	memset(&s, 0, sizeof(s));
	pulls_victims(p, 940, collect, &s);
	ck_assert_int_eq(s.n, 3);
	for (int i = 0; i < s.n; i++)
		ck_assert_str_ne(s.order[i], B("3"));

	/* forgotten: neither counted nor offered */
	ck_assert_int_eq(pulls_forget(p, B("4")), ST_OK);
	ck_assert_int_eq(pulls_forget(p, B("4")), ST_OK);
	ck_assert_int_eq(pulls_total(p, &total), ST_OK);
	ck_assert_uint_eq(total, 600);
}
END_TEST

static int stop_first(void *arg, const char *digest, uint64_t size, time_t pulled)
{
	++*(int *)arg;
	return 1;
}

START_TEST(stops_and_reopens)
{
	int calls = 0;
	uint64_t total;

	ck_assert_int_eq(pulls_blob_cached(p, B("1"), 1, 1), ST_OK);
	ck_assert_int_eq(pulls_blob_cached(p, B("2"), 2, 2), ST_OK);
	ck_assert_int_eq(pulls_blob_cached(p, B("2"), 5, 1), ST_OK); /* size updated, time kept */
	ck_assert_int_eq(pulls_victims(p, 100, stop_first, &calls), ST_OK);
	ck_assert_int_eq(calls, 1);
	pulls_close(p);
	ck_assert_int_eq(pulls_open(&p, path), ST_OK);
	ck_assert_int_eq(pulls_total(p, &total), ST_OK);
	ck_assert_uint_eq(total, 6);
	pulls_close(NULL);
	ck_assert_int_eq(pulls_open(&(pulls *){NULL}, "/nonexistent/dir/cache.db"), ST_IO);
}
END_TEST

Suite *make_pulls_suite(void)
{
	Suite *s = suite_create("pulls");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lru_and_keep);
	tcase_add_test(tc, stops_and_reopens);
	suite_add_tcase(s, tc);
	return s;
}
