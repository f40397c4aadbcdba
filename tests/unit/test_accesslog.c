/*
 * test_accesslog.c - the access log's lines (both formats, every field,
 * escaping, missing values, bounded length) and its file handling
 * (switching targets, reopening after a move, a failed open keeping the old
 * file).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/accesslog.h"

static accesslog_entry sample(void)
{
	accesslog_entry e = {
	    .when = {1764896523, 45000000}, /* 2025-12-05T01:02:03.045Z */
	    .duration_us = 1234567,
	    .remote = "192.0.2.7",
	    .user = "alice",
	    .method = "GET",
	    .path = "/v2/team/app/manifests/v1",
	    .proto = "HTTP/1.1",
	    .status = 200,
	    .bytes = 527,
	    .user_agent = "docker/27.1 \"go\"",
	    .referer = NULL,
	    .repo = "team/app",
	    .digest = "sha256:abc",
	};
	return e;
}

START_TEST(formats_parse)
{
	accesslog_format f;

	ck_assert_int_eq(accesslog_format_parse("combined", &f), ST_OK);
	ck_assert_int_eq(f, ACCESSLOG_COMBINED);
	ck_assert_int_eq(accesslog_format_parse("json", &f), ST_OK);
	ck_assert_int_eq(f, ACCESSLOG_JSON);
	ck_assert_int_eq(accesslog_format_parse("JSON", &f), ST_INVALID);
	ck_assert_int_eq(accesslog_format_parse("", &f), ST_INVALID);
}
END_TEST

START_TEST(combined_line)
{
	char buf[ACCESSLOG_LINE_MAX];
	accesslog_entry e = sample();
	size_t n = accesslog_format_line(buf, sizeof(buf), ACCESSLOG_COMBINED, &e);

	buf[n] = '\0';
	ck_assert_str_eq(buf, "192.0.2.7 - alice [05/Dec/2025:01:02:03 +0000] \"GET "
			      "/v2/team/app/manifests/v1 HTTP/1.1\" 200 527 \"-\" \"docker/27.1 "
			      "\\x22go\\x22\" 1.234567 \"team/app\" \"sha256:abc\"\n");
}
END_TEST

START_TEST(combined_missing)
{
	char buf[ACCESSLOG_LINE_MAX];
	accesslog_entry e = {
	    .when = {0, 0}, .method = "POST", .path = "/x\n\"y\\", .proto = "HTTP/1.0"};
	size_t n = accesslog_format_line(buf, sizeof(buf), ACCESSLOG_COMBINED, &e);

	buf[n] = '\0';
	/* no address, user, status (cut connection), agent, repo, digest */
	ck_assert_str_eq(buf, "- - - [01/Jan/1970:00:00:00 +0000] \"POST /x\\x0A\\x22y\\x5C "
			      "HTTP/1.0\" - 0 \"-\" \"-\" 0.000000 \"-\" \"-\"\n");
}
END_TEST

START_TEST(json_line)
{
	char buf[ACCESSLOG_LINE_MAX];
	accesslog_entry e = sample();
	size_t n;

	e.user = NULL;
	e.path = "/v2/\x01\xff";
	n = accesslog_format_line(buf, sizeof(buf), ACCESSLOG_JSON, &e);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "{\"time\":\"2025-12-05T01:02:03.045Z\",\"remote\":\"192.0.2.7\","
			      "\"method\":\"GET\",\"path\":\"/v2/\\u0001\\u00ff\",\"proto\":"
			      "\"HTTP/1.1\",\"status\":200,\"bytes\":527,\"duration_ms\":1234.567,"
			      "\"user_agent\":\"docker/27.1 \\u0022go\\u0022\",\"repository\":"
			      "\"team/app\",\"digest\":\"sha256:abc\"}\n");
}
END_TEST

/* Fields as long as a client can make them: the line is bounded, one line,
 * and (JSON) still closed. */
START_TEST(long_fields_bounded)
{
	static char huge[64 * 1024], buf[ACCESSLOG_LINE_MAX];
	accesslog_entry e = sample();
	size_t n;

	memset(huge, '"', sizeof(huge) - 1);
	e.path = e.user_agent = e.referer = e.user = e.repo = e.digest = e.remote = huge;
	for (int f = ACCESSLOG_COMBINED; f <= ACCESSLOG_JSON; f++) {
		n = accesslog_format_line(buf, sizeof(buf), (accesslog_format)f, &e);
		ck_assert_uint_lt(n, sizeof(buf));
		ck_assert_int_eq(buf[n - 1], '\n');
		ck_assert_ptr_eq(memchr(buf, '\n', n), buf + n - 1);
		ck_assert_int_eq(buf[n - 2], f == ACCESSLOG_JSON ? '}' : '"');
	}
}
END_TEST

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

START_TEST(file_reopen_and_switch)
{
	char dir[] = "/tmp/test_accesslog.XXXXXX", a[128], moved[128], bad[160], err[256];
	accesslog *al = NULL;
	accesslog_entry e = sample();

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.log", dir);
	snprintf(moved, sizeof(moved), "%s/a.log.1", dir);
	snprintf(bad, sizeof(bad), "%s/missing/b.log", dir);
	ck_assert_int_eq(accesslog_new(&al), ST_OK);
	ck_assert(!accesslog_enabled(al)); /* off until configured */
	accesslog_write(al, &e);	   /* nowhere: no crash */
	ck_assert_int_eq(accesslog_configure(al, a, ACCESSLOG_COMBINED, err, sizeof(err)), ST_OK);
	ck_assert(accesslog_enabled(al));
	accesslog_write(al, &e);
	ck_assert_ptr_nonnull(strstr(slurp(a), "\"team/app\""));

	/* logrotate moves it; SIGUSR1: the next line goes to a new file */
	ck_assert_int_eq(rename(a, moved), 0);
	e.path = "/after";
	ck_assert_int_eq(accesslog_reopen(al, err, sizeof(err)), ST_OK);
	accesslog_write(al, &e);
	ck_assert_ptr_nonnull(strstr(slurp(a), "/after"));
	ck_assert_ptr_null(strstr(slurp(moved), "/after"));

	/* a target that cannot be opened changes nothing */
	ck_assert_int_eq(accesslog_configure(al, bad, ACCESSLOG_JSON, err, sizeof(err)), ST_IO);
	ck_assert_ptr_nonnull(strstr(err, "cannot open access log"));
	e.path = "/still";
	accesslog_write(al, &e);
	ck_assert_ptr_nonnull(strstr(slurp(a), "GET /still HTTP/1.1"));

	/* switched to json, then off */
	ck_assert_int_eq(accesslog_configure(al, a, ACCESSLOG_JSON, err, sizeof(err)), ST_OK);
	e.path = "/json";
	accesslog_write(al, &e);
	ck_assert_ptr_nonnull(strstr(slurp(a), "\"path\":\"/json\""));
	ck_assert_int_eq(accesslog_configure(al, "off", ACCESSLOG_JSON, err, sizeof(err)), ST_OK);
	ck_assert(!accesslog_enabled(al));
	ck_assert_int_eq(accesslog_reopen(al, err, sizeof(err)), ST_OK); /* no file: nothing */
	accesslog_free(al);
	accesslog_free(NULL);
	unlink(a);
	unlink(moved);
	rmdir(dir);
}
END_TEST

Suite *make_accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, formats_parse);
	tcase_add_test(tc, combined_line);
	tcase_add_test(tc, combined_missing);
	tcase_add_test(tc, json_line);
	tcase_add_test(tc, long_fields_bounded);
	tcase_add_test(tc, file_reopen_and_switch);
	suite_add_tcase(s, tc);
	return s;
}
