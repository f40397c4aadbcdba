/*
 * test_collect.c - a collection through the core (core_collect): what it
 * reports and lists, what it counts for /metrics (core_gc_totals_get) and
 * keeps as the last run (core_gc_last), and gc_dry_run, which makes every
 * run a dry run whatever its caller asks: nothing removed, nothing counted
 * as removed, the run counted all the same.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../core/core.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-collect-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static core *open_core(bool dry)
{
	core_options o = {.data = dir,
			  .storage = "filesystem",
			  .metadata = "sqlite",
			  .max_manifest_bytes = 1 << 20,
			  .upload_ttl_sec = 3600,
			  .gc_delay_sec = 0,
			  .gc_dry_run = dry};
	core *c = NULL;

	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	return c;
}

/* Uploads body into repo, linked there and referenced by nothing: garbage
 * at once with gc_delay 0. Writes its digest into d. */
static void upload(core *c, const char *repo, const char *body, char d[DIGEST_MAX])
{
	core_req *q;
	core_upload *u;

	ck_assert_int_eq(digest_buffer(d, DIGEST_SHA256, body, strlen(body)), ST_OK);
	ck_assert_int_eq(core_req_open(c, repo, NULL, NULL, &q), ST_OK);
	ck_assert_int_eq(core_upload_once(c, q, DIGEST_SHA256, &u), ST_OK);
	ck_assert_int_eq(core_upload_write(u, body, strlen(body)), ST_OK);
	ck_assert_int_eq(core_upload_commit(c, q, u, d, NULL), ST_OK);
	core_req_free(q);
}

static bool blob_there(core *c, const char *repo, const char *d)
{
	core_req *q;
	core_blob *b = NULL;
	status_t st;

	ck_assert_int_eq(core_req_open(c, repo, NULL, NULL, &q), ST_OK);
	st = core_blob_get(c, q, d, &b);
	core_blob_free(b);
	core_req_free(q);
	return st == ST_OK;
}

START_TEST(test_collect_counts_and_keeps_the_last)
{
	core *c = open_core(false);
	core_gc_report r, last;
	core_gc_totals t;
	int64_t when;
	char d[DIGEST_MAX], line[2 * DIGEST_MAX + 32] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *list = open_memstream(&buf, &len);
	time_t before = time(NULL);

	ck_assert_int_eq(core_gc_last(c, &last, &when), ST_NOT_FOUND);
	ck_assert_int_eq(when, 0);
	core_gc_totals_get(c, &t);
	ck_assert_uint_eq(t.runs, 0);

	upload(c, "app", "garbage!", d);
	ck_assert_int_eq(core_collect(c, &(core_gc_options){.list = list}, &r), ST_OK);
	fclose(list);
	ck_assert_uint_eq(r.links, 1);
	ck_assert_uint_eq(r.blobs, 1);
	ck_assert_uint_eq(r.bytes, 8);
	ck_assert_uint_eq(r.tags, 0);
	ck_assert(!r.dry_run);
	ck_assert(!r.dry_config);
	ck_assert_int_eq(r.status, ST_OK);
	snprintf(line, sizeof(line), "link app %s\nblob %s 8\n", d, d);
	ck_assert_str_eq(buf, line);
	ck_assert(!blob_there(c, "app", d));

	core_gc_totals_get(c, &t);
	ck_assert_uint_eq(t.runs, 1);
	ck_assert_uint_eq(t.links, 1);
	ck_assert_uint_eq(t.blobs, 1);
	ck_assert_uint_eq(t.bytes, 8);
	ck_assert_uint_eq(t.manifests + t.orphans + t.tags + t.uploads, 0);
	ck_assert_int_eq(core_gc_last(c, &last, &when), ST_OK);
	ck_assert_uint_eq(last.blobs, 1);
	ck_assert_uint_eq(last.bytes, 8);
	ck_assert(when >= before && when <= time(NULL));

	/* a second run adds up; the last report is the new one */
	upload(c, "app", "more garbage", d);
	ck_assert_int_eq(core_collect(c, NULL, &r), ST_OK);
	core_gc_totals_get(c, &t);
	ck_assert_uint_eq(t.runs, 2);
	ck_assert_uint_eq(t.blobs, 2);
	ck_assert_uint_eq(t.bytes, 8 + 12);
	ck_assert_int_eq(core_gc_last(c, &last, &when), ST_OK);
	ck_assert_uint_eq(last.bytes, 12);
	core_close(c);
	free(buf);
}
END_TEST

/* A dry run asked for: nothing goes, the run counts, nothing counts as removed. */
START_TEST(test_collect_dry_run_asked)
{
	core *c = open_core(false);
	core_gc_report r;
	core_gc_totals t;
	char d[DIGEST_MAX];

	upload(c, "app", "garbage!", d);
	ck_assert_int_eq(core_collect(c, &(core_gc_options){.dry_run = true}, &r), ST_OK);
	ck_assert(r.dry_run);
	ck_assert(!r.dry_config);
	ck_assert_uint_eq(r.blobs, 1);
	ck_assert(blob_there(c, "app", d));
	core_gc_totals_get(c, &t);
	ck_assert_uint_eq(t.runs, 1);
	ck_assert_uint_eq(t.blobs + t.links + t.bytes, 0);
	core_close(c);
}
END_TEST

/* gc_dry_run: a run asked to remove is a dry run all the same. */
START_TEST(test_collect_gc_dry_run_option)
{
	core *c = open_core(true);
	core_gc_report r, last;
	core_gc_totals t;
	int64_t when;
	char d[DIGEST_MAX];

	upload(c, "app", "garbage!", d);
	ck_assert_int_eq(core_collect(c, &(core_gc_options){.dry_run = false}, &r), ST_OK);
	ck_assert(r.dry_run);
	ck_assert(r.dry_config);
	ck_assert_uint_eq(r.links, 1);
	ck_assert_uint_eq(r.blobs, 1);
	ck_assert_uint_eq(r.bytes, 8);
	ck_assert(blob_there(c, "app", d));
	core_gc_totals_get(c, &t);
	ck_assert_uint_eq(t.runs, 1);
	ck_assert_uint_eq(t.blobs + t.links + t.bytes, 0);
	ck_assert_int_eq(core_gc_last(c, &last, &when), ST_OK);
	ck_assert(last.dry_run && last.dry_config);
	ck_assert_uint_eq(last.bytes, 8); /* what it would have freed */
	core_close(c);

	/* the same folder without it: removed */
	c = open_core(false);
	ck_assert_int_eq(core_collect(c, NULL, &r), ST_OK);
	ck_assert(!r.dry_run);
	ck_assert_uint_eq(r.blobs, 1);
	ck_assert(!blob_there(c, "app", d));
	core_close(c);
}
END_TEST

Suite *make_collect_suite(void)
{
	Suite *s = suite_create("collect");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_collect_counts_and_keeps_the_last);
	tcase_add_test(tc, test_collect_dry_run_asked);
	tcase_add_test(tc, test_collect_gc_dry_run_option);
	suite_add_tcase(s, tc);
	return s;
}
