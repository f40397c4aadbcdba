/*
 * test_imageref.c - image references as users write them: Docker's
 * normalisation (docker.io, library/, latest), domains with ports, digests,
 * and what is refused.
 */
#include <check.h>
#include <string.h>

#include "../../proxy/imageref.h"

#define D256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
	const char *in, *domain, *path, *tag, *digest, *formatted;
} row;

START_TEST(parse_normalises)
{
	static const row rows[] = {
	    {"alpine", "docker.io", "library/alpine", "latest", "",
	     "docker.io/library/alpine:latest"},
	    {"alpine:3.20", "docker.io", "library/alpine", "3.20", "",
	     "docker.io/library/alpine:3.20"},
	    {"library/alpine:3.20", "docker.io", "library/alpine", "3.20", "", NULL},
	    {"docker.io/library/debian:12", "docker.io", "library/debian", "12", "", NULL},
	    {"docker.io/debian", "docker.io", "library/debian", "latest", "", NULL},
	    {"index.docker.io/library/debian:12", "docker.io", "library/debian", "12", "",
	     "docker.io/library/debian:12"},
	    {"registry-1.docker.io/grafana/grafana", "docker.io", "grafana/grafana", "latest", "",
	     NULL},
	    {"grafana/grafana:10.0", "docker.io", "grafana/grafana", "10.0", "", NULL},
	    {"ghcr.io/org/tool:v1", "ghcr.io", "org/tool", "v1", "", "ghcr.io/org/tool:v1"},
	    {"ghcr.io/tool", "ghcr.io", "tool", "latest", "", NULL},
	    {"localhost/app", "localhost", "app", "latest", "", NULL},
	    {"localhost:5000/team/app:v2", "localhost:5000", "team/app", "v2", "",
	     "localhost:5000/team/app:v2"},
	    {"registry.local:5000/app", "registry.local:5000", "app", "latest", "", NULL},
	    {"alpine@" D256, "docker.io", "library/alpine", "", D256,
	     "docker.io/library/alpine@" D256},
	    {"quay.io/a/b:t@" D256, "quay.io", "a/b", "t", D256, "quay.io/a/b:t@" D256},
	    {"localhost:5000/app@" D256, "localhost:5000", "app", "", D256, NULL},
	};
	imageref r;
	char out[IMAGEREF_MAX];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const row *w = &rows[i];
		ck_assert_msg(imageref_parse(&r, w->in) == ST_OK, "refused '%s'", w->in);
		ck_assert_str_eq(r.domain, w->domain);
		ck_assert_str_eq(r.path, w->path);
		ck_assert_str_eq(r.tag, w->tag);
		ck_assert_str_eq(r.digest, w->digest);
		ck_assert(r.tag_defaulted ==
			  (strcmp(w->tag, "latest") == 0 && strstr(w->in, ":latest") == NULL));
		if (w->formatted) {
			ck_assert_int_eq(imageref_format(&r, out, sizeof(out)), ST_OK);
			ck_assert_str_eq(out, w->formatted);
		}
	}
}
END_TEST

START_TEST(parse_refuses)
{
	static const struct {
		const char *in;
		status_t st;
	} bad[] = {
	    {"", ST_INVALID},
	    {"Alpine", ST_NAME_INVALID},
	    {"alpine:", ST_TAG_INVALID},
	    {"alpine:-x", ST_TAG_INVALID},
	    {"alpine@sha256:abc", ST_DIGEST_INVALID},
	    {"alpine@md5:d41d8cd98f00b204e9800998ecf8427e", ST_DIGEST_INVALID},
	    {"docker.io/", ST_NAME_INVALID},
	    {"ghcr.io//x", ST_NAME_INVALID},
	    {"bad_host!.io/x", ST_NAME_INVALID},
	    {":tag", ST_NAME_INVALID},
	    {"a b", ST_NAME_INVALID},
	};
	imageref r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0x55, sizeof(r));
		ck_assert_msg(imageref_parse(&r, bad[i].in) == bad[i].st, "'%s' gave %d", bad[i].in,
			      imageref_parse(&r, bad[i].in));
		ck_assert_str_eq(r.path, "");
	}
	ck_assert_int_eq(imageref_parse(&r, NULL), ST_INVALID);
	ck_assert_int_eq(imageref_parse(NULL, "alpine"), ST_INVALID);
}
END_TEST

START_TEST(parse_local)
{
	imageref r;
	char out[IMAGEREF_MAX];

	ck_assert_int_eq(imageref_parse_local(&r, "team/app:v1"), ST_OK);
	ck_assert_str_eq(r.domain, "");
	ck_assert_str_eq(r.path, "team/app");
	ck_assert_str_eq(r.tag, "v1");
	ck_assert_int_eq(imageref_parse_local(&r, "app"), ST_OK);
	ck_assert_str_eq(r.path, "app"); /* no library/ for our own names */
	ck_assert_str_eq(r.tag, "latest");
	ck_assert_int_eq(imageref_parse_local(&r, "docker.io/library/alpine@" D256), ST_OK);
	ck_assert_str_eq(r.path, "docker.io/library/alpine");
	ck_assert_str_eq(r.digest, D256);
	ck_assert_str_eq(r.tag, "");
	ck_assert_int_eq(imageref_format(&r, out, sizeof(out)), ST_OK);
	ck_assert_str_eq(out, "docker.io/library/alpine@" D256);
	ck_assert_int_eq(imageref_format(&r, out, 10), ST_INVALID);
	ck_assert_int_eq(imageref_parse_local(&r, "localhost:5000/x"), ST_NAME_INVALID);
	ck_assert_int_eq(imageref_parse_local(&r, "UP/x"), ST_NAME_INVALID);
	ck_assert_int_eq(imageref_parse_local(&r, NULL), ST_INVALID);
}
END_TEST

START_TEST(parse_lengths)
{
	char s[600];
	imageref r;

	/* a path of 255 characters is the longest a name may be */
	memset(s, 'a', 255);
	strcpy(s + 255, ":t");
	ck_assert_int_eq(imageref_parse_local(&r, s), ST_OK);
	memset(s, 'a', 256);
	strcpy(s + 256, ":t");
	ck_assert_int_eq(imageref_parse_local(&r, s), ST_NAME_INVALID);
	/* "library/" makes a 250-character name too long on docker.io */
	memset(s, 'a', 250);
	s[250] = '\0';
	ck_assert_int_eq(imageref_parse(&r, s), ST_NAME_INVALID);
	/* a 129-character tag */
	strcpy(s, "a:");
	memset(s + 2, 't', 129);
	s[131] = '\0';
	ck_assert_int_eq(imageref_parse(&r, s), ST_TAG_INVALID);
}
END_TEST

START_TEST(platform_match)
{
	ck_assert(imageref_platform_match("", "linux", "amd64", NULL));
	ck_assert(imageref_platform_match(NULL, NULL, NULL, NULL));
	ck_assert(imageref_platform_match("linux/amd64", "linux", "amd64", NULL));
	ck_assert(imageref_platform_match("linux/s390x,linux/amd64", "linux", "amd64", NULL));
	/* no variant in the list: every variant */
	ck_assert(imageref_platform_match("linux/arm64", "linux", "arm64", "v8"));
	ck_assert(imageref_platform_match("linux/arm/v7", "linux", "arm", "v7"));
	ck_assert(!imageref_platform_match("linux/arm/v7", "linux", "arm", "v6"));
	ck_assert(!imageref_platform_match("linux/arm/v7", "linux", "arm", NULL));
	/* a prefix that is not a whole component does not match */
	ck_assert(!imageref_platform_match("linux/arm", "linux", "arm64", NULL));
	ck_assert(!imageref_platform_match("linux/amd64", "windows", "amd64", NULL));
	ck_assert(!imageref_platform_match("linux/amd64", NULL, "amd64", NULL));
	ck_assert(!imageref_platform_match(",", "linux", "amd64", NULL));
}
END_TEST

Suite *make_imageref_suite(void)
{
	Suite *s = suite_create("imageref");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_normalises);
	tcase_add_test(tc, parse_refuses);
	tcase_add_test(tc, parse_local);
	tcase_add_test(tc, parse_lengths);
	tcase_add_test(tc, platform_match);
	suite_add_tcase(s, tc);
	return s;
}
