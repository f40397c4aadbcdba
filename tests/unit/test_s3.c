/*
 * test_s3.c - the S3 client's pure parts (storage/s3.h): SigV4 against
 * AWS's published presigned-URL example, encoding, the XML reader, and the
 * S3 store's part sizes (storage/blobstore_s3.h). The requests themselves
 * are tested against Ceph RGW (tests/integration/test_s3.sh).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/blobstore_s3.h"
#include "../../storage/s3.h"

/* docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html */
START_TEST(presign_aws_example)
{
	s3_config cfg = {.endpoint = "https://s3.amazonaws.com",
			 .bucket = "examplebucket",
			 .region = "us-east-1",
			 .access_key = "AKIAIOSFODNN7EXAMPLE",
			 .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			 .path_style = false};
	s3_client *cl;
	char *url;

	ck_assert_int_eq(s3_client_new(&cl, &cfg), ST_OK);
	ck_assert_int_eq(s3_presign_get_at(cl, "test.txt", 86400, 1369353600, &url), ST_OK);
	ck_assert_str_eq(
	    url,
	    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
	    "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
	    "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
	    "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	free(url);
	s3_client_free(cl);
}
END_TEST

START_TEST(path_style_url)
{
	s3_config cfg = {.endpoint = "http://127.0.0.1:7480",
			 .bucket = "b",
			 .access_key = "A",
			 .secret_key = "S",
			 .path_style = true};
	s3_client *cl;
	char *url;

	ck_assert_int_eq(s3_client_new(&cl, &cfg), ST_OK);
	ck_assert_int_eq(s3_presign_get_at(cl, "p/blobs/sha256:x", 60, 0, &url), ST_OK);
	/* the bucket in the path, ':' in a key percent-encoded (RGW wants it) */
	ck_assert_msg(strncmp(url, "http://127.0.0.1:7480/b/p/blobs/sha256%3Ax?", 43) == 0, "%s",
		      url);
	free(url);
	s3_client_free(cl);
	cfg.endpoint = "ftp://x";
	ck_assert_int_eq(s3_client_new(&cl, &cfg), ST_INVALID);
}
END_TEST

START_TEST(encode)
{
	char *e = s3_encode("a-b_c.d~e/f g:h+i=", true);

	ck_assert_str_eq(e, "a-b_c.d~e/f%20g%3Ah%2Bi%3D");
	free(e);
	e = s3_encode("a/b", false);
	ck_assert_str_eq(e, "a%2Fb");
	free(e);
}
END_TEST

START_TEST(xml)
{
	const char *x = "<L><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
			"<Contents><Key>c</Key></Contents><IsTruncated>false</IsTruncated></L>";
	char out[64];
	size_t pos = 0;

	ck_assert(s3_xml_next(x, &pos, "Contents", out, sizeof(out)));
	ck_assert_str_eq(out, "<Key>a&b</Key><Size>3</Size>");
	ck_assert(s3_xml_next(x, &pos, "Contents", out, sizeof(out)));
	ck_assert_str_eq(out, "<Key>c</Key>");
	ck_assert(!s3_xml_next(x, &pos, "Contents", out, sizeof(out)));
	pos = 0;
	ck_assert(s3_xml_next(x, &pos, "IsTruncated", out, sizeof(out)));
	ck_assert_str_eq(out, "false");
	pos = 0;
	ck_assert(!s3_xml_next(x, &pos, "Missing", out, sizeof(out)));
	ck_assert(!s3_xml_next(NULL, &pos, "L", out, sizeof(out)));
}
END_TEST

/* 10,000 parts must reach S3's 5 TiB object limit (distribution's #4572). */
START_TEST(part_sizes)
{
	uint64_t mib = 1024 * 1024, total = 0;

	ck_assert_uint_eq(blobstore_s3_part_size(16 * mib, 1), 16 * mib);
	ck_assert_uint_eq(blobstore_s3_part_size(16 * mib, 1000), 16 * mib);
	ck_assert_uint_eq(blobstore_s3_part_size(16 * mib, 1001), 32 * mib);
	ck_assert_uint_eq(blobstore_s3_part_size(16 * mib, 10000), 5ull * 1024 * mib);
	for (unsigned n = 1; n <= 10000; n++) {
		uint64_t p = blobstore_s3_part_size(16 * mib, n);
		ck_assert_uint_ge(p, 5 * mib);
		ck_assert_uint_le(p, 5ull * 1024 * mib);
		total += p;
	}
	ck_assert_uint_ge(total, 5ull * 1024 * 1024 * mib);
}
END_TEST

Suite *make_s3_suite(void)
{
	Suite *s = suite_create("s3");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, presign_aws_example);
	tcase_add_test(tc, path_style_url);
	tcase_add_test(tc, encode);
	tcase_add_test(tc, xml);
	tcase_add_test(tc, part_sizes);
	suite_add_tcase(s, tc);
	return s;
}
