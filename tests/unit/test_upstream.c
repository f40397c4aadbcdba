/*
 * test_upstream.c - the pieces of the upstream client that need no
 * network: WWW-Authenticate challenges, the manifest Accept list,
 * Content-Range, upstream spec lines and their namespace patterns.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/curl_load.h"
#include "../../proxy/upstream.h"

START_TEST(challenge_docker_hub)
{
	upstream_challenge c;

	ck_assert_int_eq(upstream_challenge_parse(&c,
						  "Bearer realm=\"https://auth.docker.io/token\","
						  "service=\"registry.docker.io\","
						  "scope=\"repository:library/alpine:pull\""),
			 ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BEARER);
	ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(c.service, "registry.docker.io");
	ck_assert_str_eq(c.scope, "repository:library/alpine:pull");
	ck_assert_str_eq(c.error, "");
}
END_TEST

START_TEST(challenge_forms)
{
	upstream_challenge c;

	/* case-insensitive scheme and names, blanks around '=' and ',' */
	ck_assert_int_eq(
	    upstream_challenge_parse(&c, "bearer  REALM = \"http://h/t\" , Service=reg"), ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BEARER);
	ck_assert_str_eq(c.realm, "http://h/t");
	ck_assert_str_eq(c.service, "reg");
	ck_assert_str_eq(c.scope, "");
	/* escapes in quoted strings; unknown params ignored; error kept */
	ck_assert_int_eq(
	    upstream_challenge_parse(
		&c, "Bearer realm=\"http://h/a\\\"b\",foo=\"x,y\",error=\"invalid_token\""),
	    ST_OK);
	ck_assert_str_eq(c.realm, "http://h/a\"b");
	ck_assert_str_eq(c.error, "invalid_token");
	/* a scope with several actions and a comma inside the quotes */
	ck_assert_int_eq(
	    upstream_challenge_parse(&c, "Bearer realm=\"r\",scope=\"repository:a/b:pull,push\""),
	    ST_OK);
	ck_assert_str_eq(c.scope, "repository:a/b:pull,push");
	/* Basic */
	ck_assert_int_eq(upstream_challenge_parse(&c, "Basic realm=\"Registry Realm\""), ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BASIC);
	ck_assert_str_eq(c.realm, "Registry Realm");
	ck_assert_int_eq(upstream_challenge_parse(&c, "Basic"), ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BASIC);
	/* several challenges: Bearer wins, whatever the order */
	ck_assert_int_eq(upstream_challenge_parse(
			     &c, "Basic realm=\"x\", Bearer realm=\"https://t/\",service=s"),
			 ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BEARER);
	ck_assert_str_eq(c.realm, "https://t/");
	ck_assert_int_eq(
	    upstream_challenge_parse(&c, "Bearer realm=\"https://t/\", Basic realm=\"x\""), ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BEARER);
	/* a scheme we do not speak next to one we do */
	ck_assert_int_eq(upstream_challenge_parse(&c, "Negotiate, Basic realm=\"x\""), ST_OK);
	ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_BASIC);
}
END_TEST

START_TEST(challenge_bad)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "Bearer",			   /* no realm */
	    "Bearer service=\"x\"",	   /* no realm */
	    "Bearer realm=\"unterminated", /* open quote */
	    "Bearer realm=",		   /* empty token */
	    "Bearer realm=\"x\" junk",	   /* text after a value */
	    "=\"x\"",			   /* no scheme */
	    "Bearer realm=\"x\",=y",	   /* no name */
	};
	upstream_challenge c;
	char big[3000];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x55, sizeof(c));
		ck_assert_msg(upstream_challenge_parse(&c, bad[i]) == ST_INVALID, "accepted '%s'",
			      bad[i]);
		ck_assert_int_eq(c.scheme, UPSTREAM_AUTH_NONE);
		ck_assert_str_eq(c.realm, "");
	}
	ck_assert_int_eq(upstream_challenge_parse(&c, "Digest realm=\"x\", nonce=\"y\""),
			 ST_UNSUPPORTED);
	ck_assert_int_eq(upstream_challenge_parse(&c, NULL), ST_INVALID);
	ck_assert_int_eq(upstream_challenge_parse(NULL, "Basic"), ST_INVALID);
	/* a realm longer than the field */
	strcpy(big, "Bearer realm=\"");
	memset(big + 14, 'a', 2000);
	strcpy(big + 2014, "\"");
	ck_assert_int_eq(upstream_challenge_parse(&c, big), ST_INVALID);
}
END_TEST

START_TEST(accept_list)
{
	char v[512];
	size_t n = 0;

	while (upstream_manifest_types[n] != NULL)
		n++;
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(upstream_accept_value(v, sizeof(v)), ST_OK);
	ck_assert_str_eq(v, "application/vnd.oci.image.index.v1+json, "
			    "application/vnd.oci.image.manifest.v1+json, "
			    "application/vnd.docker.distribution.manifest.list.v2+json, "
			    "application/vnd.docker.distribution.manifest.v2+json");
	/* schema 1 is not asked for: it could not be stored */
	ck_assert_ptr_null(strstr(v, "v1+prettyjws"));
	/* too small a buffer: refused, empty */
	ck_assert_int_eq(upstream_accept_value(v, 20), ST_INVALID);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(upstream_accept_value(NULL, 10), ST_INVALID);
}
END_TEST

START_TEST(content_range)
{
	uint64_t first, total;

	ck_assert_int_eq(upstream_content_range_parse("bytes 100-199/1000", &first, &total), ST_OK);
	ck_assert_uint_eq(first, 100);
	ck_assert_uint_eq(total, 1000);
	ck_assert_int_eq(upstream_content_range_parse("bytes 0-0/*", &first, &total), ST_OK);
	ck_assert_uint_eq(total, UPSTREAM_SIZE_UNKNOWN);
	ck_assert_int_eq(upstream_content_range_parse("bytes 5-4/10", &first, &total), ST_INVALID);
	ck_assert_int_eq(upstream_content_range_parse("bytes 5-10/10", &first, &total), ST_INVALID);
	ck_assert_int_eq(upstream_content_range_parse("5-10/20", &first, &total), ST_INVALID);
	ck_assert_int_eq(upstream_content_range_parse("bytes -1-2/3", &first, &total), ST_INVALID);
	ck_assert_int_eq(upstream_content_range_parse(NULL, &first, &total), ST_INVALID);
}
END_TEST

START_TEST(spec_lines)
{
	upstream_spec s;
	char err[256];

	ck_assert_int_eq(
	    upstream_spec_parse(&s, "docker.io https://registry-1.docker.io/", err, sizeof(err)),
	    ST_OK);
	ck_assert_str_eq(s.name, "docker.io");
	ck_assert_str_eq(s.url, "https://registry-1.docker.io");
	ck_assert_str_eq(s.namespaces, "");
	ck_assert_int_eq(
	    upstream_spec_parse(&s,
				"  ghcr.io\thttps://ghcr.io namespaces=library,team-*,!x "
				"credentials=/etc/c ca=/etc/ca.pem ",
				err, sizeof(err)),
	    ST_OK);
	ck_assert_str_eq(s.namespaces, "library,team-*,!x");
	ck_assert_str_eq(s.credentials, "/etc/c");
	ck_assert_str_eq(s.ca_file, "/etc/ca.pem");

	ck_assert_int_eq(upstream_spec_parse(&s, "docker.io", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "Docker.io https://x", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "invalid upstream name"));
	ck_assert_int_eq(upstream_spec_parse(&s, "reg:5000 https://x", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "a..b https://x", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub ftp://x", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://", err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x?a=b", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x bogus=1", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "unknown upstream option"));
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x namespaces=", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x namespaces=a,,b", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x namespaces=A", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, "hub https://x credentials=", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(&s, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_int_eq(upstream_spec_parse(NULL, "a https://b", NULL, 0), ST_INVALID);
}
END_TEST

START_TEST(spec_namespaces)
{
	upstream_spec s;

	ck_assert_int_eq(
	    upstream_spec_parse(&s, "d https://d namespaces=library,team-*,!team-x", NULL, 0),
	    ST_OK);
	ck_assert(upstream_spec_serves(&s, "library/alpine"));
	ck_assert(upstream_spec_serves(&s, "library"));
	ck_assert(upstream_spec_serves(&s, "team-a/app"));
	ck_assert(!upstream_spec_serves(&s, "team-x/app"));
	ck_assert(!upstream_spec_serves(&s, "libraryx/alpine"));
	ck_assert(!upstream_spec_serves(&s, "other/library"));
	ck_assert_int_eq(upstream_spec_parse(&s, "d https://d namespaces=*,!local", NULL, 0),
			 ST_OK);
	ck_assert(upstream_spec_serves(&s, "anything/at/all"));
	ck_assert(!upstream_spec_serves(&s, "local/app"));
	ck_assert_int_eq(upstream_spec_parse(&s, "d https://d", NULL, 0), ST_OK);
	ck_assert(!upstream_spec_serves(&s, "library/alpine"));
}
END_TEST

START_TEST(spec_offline)
{
	upstream_spec s;
	char err[256];

	ck_assert_int_eq(
	    upstream_spec_parse(&s, "docker.io offline namespaces=library", err, sizeof(err)),
	    ST_OK);
	ck_assert(s.offline);
	ck_assert_str_eq(s.url, "offline");
	ck_assert_str_eq(s.namespaces, "library");
	ck_assert(upstream_spec_serves(&s, "library/alpine"));
	ck_assert_int_eq(upstream_spec_parse(&s, "ghcr.io offline", err, sizeof(err)), ST_OK);
	ck_assert(s.offline);
	ck_assert_int_eq(upstream_spec_parse(&s, "ghcr.io https://ghcr.io", err, sizeof(err)),
			 ST_OK);
	ck_assert(!s.offline);
	ck_assert_int_eq(upstream_spec_parse(&s, "ghcr.io Offline", err, sizeof(err)), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "or offline"));
	ck_assert_int_eq(upstream_spec_parse(&s, "ghcr.io offline bogus=1", err, sizeof(err)),
			 ST_INVALID);
}
END_TEST

/* An offline upstream needs no libcurl and never tries the network. */
START_TEST(offline_never_asks)
{
	upstream_spec s;
	upstream_options o = {5, 3, 30, 1024, NULL};
	upstream_manifest m;
	upstream *up = NULL;
	json_t *tags = NULL;

	ck_assert_int_eq(upstream_spec_parse(&s, "docker.io offline", NULL, 0), ST_OK);
	ck_assert_int_eq(upstream_new(&up, &s, &o), ST_OK);
	ck_assert_int_eq(upstream_get_manifest(up, "library/alpine", "3.20", false, &m),
			 ST_UNAVAILABLE);
	ck_assert_int_eq(upstream_get_tags(up, "library/alpine", &tags), ST_UNAVAILABLE);
	ck_assert_ptr_null(tags);
	ck_assert(!upstream_unreachable(up));
	upstream_free(up);
}
END_TEST

/* A port nothing listens on, on 127.0.0.1. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A refused connection is remembered for unreachable_sec: the next request
 * fails at once; with 0 nothing is remembered. */
START_TEST(unreachable_remembered)
{
	upstream_spec s;
	upstream_options o = {5, 0, 30, 1024, NULL};
	upstream_manifest m;
	upstream *up = NULL;
	char line[128];

	ck_assert_int_eq(curl_load(), ST_OK);
	libcurl.global_init(CURL_GLOBAL_DEFAULT);
	snprintf(line, sizeof(line), "docker.io http://127.0.0.1:%d", closed_port());
	ck_assert_int_eq(upstream_spec_parse(&s, line, NULL, 0), ST_OK);
	ck_assert_int_eq(upstream_new(&up, &s, &o), ST_OK);
	ck_assert(!upstream_unreachable(up));
	ck_assert_int_eq(upstream_get_manifest(up, "library/alpine", "3.20", true, &m),
			 ST_UNAVAILABLE);
	ck_assert(upstream_unreachable(up));
	ck_assert_int_eq(upstream_get_manifest(up, "library/alpine", "3.21", true, &m),
			 ST_UNAVAILABLE);
	upstream_free(up);

	o.unreachable_sec = 0;
	ck_assert_int_eq(upstream_new(&up, &s, &o), ST_OK);
	ck_assert_int_eq(upstream_get_manifest(up, "library/alpine", "3.20", true, &m),
			 ST_UNAVAILABLE);
	ck_assert(!upstream_unreachable(up));
	upstream_free(up);
	libcurl.global_cleanup();
}
END_TEST

Suite *make_upstream_suite(void)
{
	Suite *s = suite_create("upstream");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, challenge_docker_hub);
	tcase_add_test(tc, challenge_forms);
	tcase_add_test(tc, challenge_bad);
	tcase_add_test(tc, accept_list);
	tcase_add_test(tc, content_range);
	tcase_add_test(tc, spec_lines);
	tcase_add_test(tc, spec_namespaces);
	tcase_add_test(tc, spec_offline);
	tcase_add_test(tc, offline_never_asks);
	tcase_add_test(tc, unreachable_remembered);
	suite_add_tcase(s, tc);
	return s;
}
