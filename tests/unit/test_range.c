/*
 * test_range.c - Range (blob GET) and Content-Range (upload PATCH) parsing:
 * every form, clamping, unsatisfiable ranges, 63-bit limits, and strictness
 * about signs, spaces and several ranges.
 */
#include <check.h>
#include <stdint.h>

#include "../../oci/range.h"

#define SENTINEL 0xdeadbeefULL

/* Expects range_parse(hdr, size) to give [start, start + len). */
static void expect_range(const char *hdr, uint64_t size, uint64_t start, uint64_t len)
{
	uint64_t s = SENTINEL, l = SENTINEL;
	status_t st = range_parse(hdr, size, &s, &l);

	ck_assert_msg(st == ST_OK, "'%s' over %llu: status %d", hdr, (unsigned long long)size, st);
	ck_assert_msg(s == start && l == len, "'%s' over %llu: got %llu+%llu, want %llu+%llu", hdr,
		      (unsigned long long)size, (unsigned long long)s, (unsigned long long)l,
		      (unsigned long long)start, (unsigned long long)len);
}

/* Expects range_parse to fail with want, leaving the outputs alone. */
static void expect_range_fail(const char *hdr, uint64_t size, status_t want)
{
	uint64_t s = SENTINEL, l = SENTINEL;
	status_t st = range_parse(hdr, size, &s, &l);

	ck_assert_msg(st == want, "'%s' over %llu: status %d, want %d", hdr ? hdr : "(null)",
		      (unsigned long long)size, st, want);
	ck_assert(s == SENTINEL && l == SENTINEL);
}

static void expect_content(const char *hdr, uint64_t first, uint64_t last)
{
	uint64_t f = SENTINEL, l = SENTINEL;
	status_t st = range_parse_content(hdr, &f, &l);

	ck_assert_msg(st == ST_OK, "'%s': status %d", hdr, st);
	ck_assert_msg(f == first && l == last, "'%s': got %llu-%llu", hdr, (unsigned long long)f,
		      (unsigned long long)l);
}

static void expect_content_invalid(const char *hdr)
{
	uint64_t f = SENTINEL, l = SENTINEL;

	ck_assert_msg(range_parse_content(hdr, &f, &l) == ST_INVALID, "'%s' accepted",
		      hdr ? hdr : "(null)");
	ck_assert(f == SENTINEL && l == SENTINEL);
}

START_TEST(range_forms)
{
	expect_range("bytes=0-499", 1000, 0, 500);
	expect_range("bytes=500-999", 1000, 500, 500);
	expect_range("bytes=0-0", 1000, 0, 1);
	expect_range("bytes=999-999", 1000, 999, 1);
	expect_range("bytes=500-", 1000, 500, 500);
	expect_range("bytes=0-", 1000, 0, 1000);
	expect_range("bytes=999-", 1000, 999, 1);
	expect_range("bytes=-100", 1000, 900, 100);
	expect_range("bytes=-1", 1000, 999, 1);
	expect_range("bytes=-1000", 1000, 0, 1000);
	expect_range("bytes=0-0", 1, 0, 1);
	expect_range("bytes=-1", 1, 0, 1);
	/* Leading zeros are still decimal. */
	expect_range("bytes=010-019", 1000, 10, 10);
	/* The unit is case-insensitive. */
	expect_range("Bytes=1-2", 1000, 1, 2);
	expect_range("BYTES=1-2", 1000, 1, 2);
}
END_TEST

START_TEST(range_clamped)
{
	/* An end past the blob is its last byte; a long suffix is all of it. */
	expect_range("bytes=990-5000", 1000, 990, 10);
	expect_range("bytes=0-1000", 1000, 0, 1000);
	expect_range("bytes=0-9223372036854775807", 1000, 0, 1000);
	expect_range("bytes=-2000", 1000, 0, 1000);
	expect_range("bytes=-9223372036854775807", 1000, 0, 1000);
	/* The largest numbers allowed, against the largest blobs. */
	expect_range("bytes=9223372036854775806-", INT64_MAX, INT64_MAX - 1, 1);
	expect_range("bytes=9223372036854775806-9223372036854775807", UINT64_MAX, INT64_MAX - 1, 2);
	expect_range("bytes=0-", UINT64_MAX, 0, UINT64_MAX);
}
END_TEST

START_TEST(range_unsatisfiable)
{
	expect_range_fail("bytes=1000-", 1000, ST_RANGE);
	expect_range_fail("bytes=1000-2000", 1000, ST_RANGE);
	expect_range_fail("bytes=9223372036854775807-", 1000, ST_RANGE);
	expect_range_fail("bytes=-0", 1000, ST_RANGE);
	expect_range_fail("bytes=-000", 1000, ST_RANGE);
	/* An empty blob: no start is inside it. */
	expect_range_fail("bytes=0-", 0, ST_RANGE);
	expect_range_fail("bytes=0-0", 0, ST_RANGE);
	expect_range_fail("bytes=-0", 0, ST_RANGE);
	/* A non-empty suffix of an empty blob has no byte for a 206: the
	 * caller sends the whole (empty) blob instead. */
	expect_range_fail("bytes=-1", 0, ST_INVALID);
}
END_TEST

START_TEST(range_malformed)
{
	static const char *const bad[] = {
	    "",
	    "bytes",
	    "bytes=",
	    "bytes=-",
	    "bytes=--1",
	    "bytes=a-b",
	    "bytes=1-a",
	    "bytes=0x10-",
	    "bytes=5-4",
	    "bytes=1-0",
	    /* several ranges, however written */
	    "bytes=0-1,2-3",
	    "bytes=0-1, 5-6",
	    "bytes=-5,0-1",
	    "bytes=0-1,",
	    "bytes=,0-1",
	    /* signs and spaces */
	    "bytes= 0-1",
	    "bytes =0-1",
	    "bytes=0 -1",
	    "bytes=0- 1",
	    "bytes=0-1 ",
	    " bytes=0-1",
	    "bytes=+0-1",
	    "bytes=0-+1",
	    "bytes=-+1",
	    "bytes=-1-",
	    "bytes=1.5-2",
	    /* other units and forms */
	    "items=0-1",
	    "bytes 0-1",
	    "bytes:0-1",
	    "0-1",
	    "bytes=0-1/100",
	    /* over 63 bits */
	    "bytes=9223372036854775808-",
	    "bytes=0-9223372036854775808",
	    "bytes=-9223372036854775808",
	    "bytes=99999999999999999999-",
	    "bytes=18446744073709551616-",
	    "bytes=18446744073709551615-",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_range_fail(bad[i], 1000, ST_INVALID);
}
END_TEST

START_TEST(range_misuse)
{
	uint64_t s, l;

	expect_range_fail(NULL, 1000, ST_INVALID);
	ck_assert_int_eq(range_parse("bytes=0-1", 1000, NULL, &l), ST_INVALID);
	ck_assert_int_eq(range_parse("bytes=0-1", 1000, &s, NULL), ST_INVALID);
}
END_TEST

START_TEST(content_forms)
{
	expect_content("0-99", 0, 99);
	expect_content("100-199", 100, 199);
	expect_content("0-0", 0, 0);
	expect_content("5-5", 5, 5);
	expect_content("bytes 0-99/*", 0, 99);
	expect_content("bytes 0-99/100", 0, 99);
	expect_content("bytes 100-199/1000", 100, 199);
	expect_content("Bytes 1-2/3", 1, 2);
	expect_content("0-9223372036854775807", 0, INT64_MAX);
	expect_content("bytes 0-9223372036854775806/9223372036854775807", 0, INT64_MAX - 1);
}
END_TEST

START_TEST(content_invalid)
{
	static const char *const bad[] = {
	    "",
	    "-",
	    "0-",
	    "-5",
	    "5",
	    "5-4",
	    "1-0",
	    "a-b",
	    "0-99/100",
	    "0-99/*",
	    "bytes=0-99",
	    "bytes 0-99",
	    "bytes 0-99/",
	    "bytes 0-99/abc",
	    "bytes 0-99/*x",
	    "bytes 0-99/**",
	    "bytes 0-99/100 ",
	    "bytes 0-99/-100",
	    "bytes */100",
	    "bytes 5-4/100",
	    /* last must be below the complete length */
	    "bytes 0-99/99",
	    "bytes 0-99/0",
	    "bytes  0-99/100",
	    " 0-99",
	    "0-99 ",
	    "0 -99",
	    "0- 99",
	    "+0-99",
	    "0-+99",
	    "0-99,100-199",
	    "0-9223372036854775808",
	    "9223372036854775808-9223372036854775809",
	    "18446744073709551616-1",
	    "bytes 0-99/9223372036854775808",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_content_invalid(bad[i]);
}
END_TEST

START_TEST(content_misuse)
{
	uint64_t f, l;

	expect_content_invalid(NULL);
	ck_assert_int_eq(range_parse_content("0-1", NULL, &l), ST_INVALID);
	ck_assert_int_eq(range_parse_content("0-1", &f, NULL), ST_INVALID);
}
END_TEST

Suite *make_range_suite(void)
{
	Suite *s = suite_create("range");
	TCase *tc = tcase_create("range");

	tcase_add_test(tc, range_forms);
	tcase_add_test(tc, range_clamped);
	tcase_add_test(tc, range_unsatisfiable);
	tcase_add_test(tc, range_malformed);
	tcase_add_test(tc, range_misuse);
	suite_add_tcase(s, tc);
	tc = tcase_create("content_range");
	tcase_add_test(tc, content_forms);
	tcase_add_test(tc, content_invalid);
	tcase_add_test(tc, content_misuse);
	suite_add_tcase(s, tc);
	return s;
}
