/*
 * test_config_proxy.c - the pull-through cache keys of server/config.c:
 * defaults, `upstream` lines (checked whole, with FILE:LINE; the one list
 * key here, freed by config_free), duplicate upstream names, and the
 * ranges of the proxy_* keys, which may not repeat.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/config.h"

static config cfg;
static char path[64], err[1024];

static void setup(void)
{
	int fd;

	config_defaults(&cfg);
	err[0] = '\0';
	snprintf(path, sizeof(path), "/tmp/test_config_proxy.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	close(fd);
}

static void teardown(void)
{
	config_free(&cfg);
	unlink(path);
}

static status_t load(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return config_load(&cfg, path, err, sizeof(err));
}

START_TEST(defaults)
{
	ck_assert_uint_eq(cfg.upstreams.n, 0);
	ck_assert_ptr_null(cfg.upstreams.v);
	ck_assert_uint_eq(cfg.proxy_revalidate_sec, 300);
	ck_assert_uint_eq(cfg.proxy_negative_sec, 60);
	ck_assert_uint_eq(cfg.proxy_timeout_sec, 30);
	ck_assert_uint_eq(cfg.proxy_retries, 3);
	ck_assert_uint_eq(cfg.proxy_unreachable_sec, 30);
	ck_assert_uint_eq(cfg.proxy_cache_max_bytes, 0);
	ck_assert_uint_eq(cfg.proxy_cache_keep_sec, 7 * 86400);
}
END_TEST

START_TEST(upstream_lines)
{
	ck_assert_int_eq(load("upstream = docker.io https://registry-1.docker.io "
			      "namespaces=library,grafana credentials=/etc/r/hub.cred\n"
			      "upstream = \"ghcr.io https://ghcr.io\"\n"
			      "# a comment\n"
			      "upstream = quay.io https://quay.io ca=/etc/ssl/quay.pem\n"
			      "upstream = registry.example.com offline namespaces=team\n"
			      "proxy_revalidate = 0\n"
			      "proxy_negative_ttl = 10s\n"
			      "proxy_timeout = 2m\n"
			      "proxy_retries = 0\n"
			      "proxy_unreachable_ttl = 2m\n"
			      "proxy_cache_max = 50G\n"
			      "proxy_cache_keep = 1d\n"),
			 ST_OK);
	ck_assert_uint_eq(cfg.upstreams.n, 4);
	ck_assert_str_eq(cfg.upstreams.v[3], "registry.example.com offline namespaces=team");
	ck_assert_uint_eq(cfg.proxy_unreachable_sec, 120);
	ck_assert_str_eq(cfg.upstreams.v[1], "ghcr.io https://ghcr.io");
	ck_assert_uint_eq(cfg.proxy_revalidate_sec, 0);
	ck_assert_uint_eq(cfg.proxy_negative_sec, 10);
	ck_assert_uint_eq(cfg.proxy_timeout_sec, 120);
	ck_assert_uint_eq(cfg.proxy_retries, 0);
	ck_assert_uint_eq(cfg.proxy_cache_max_bytes, 50ull * 1024 * 1024 * 1024);
	ck_assert_uint_eq(cfg.proxy_cache_keep_sec, 86400);
}
END_TEST

START_TEST(upstream_errors)
{
	char want[256];

	ck_assert_int_eq(load("log_level = info\nupstream = docker.io ftp://x\n"), ST_INVALID);
	snprintf(want, sizeof(want), "%s:2: invalid upstream URL", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s'", err);
	config_free(&cfg);

	ck_assert_int_eq(load("upstream = docker.io https://a\nupstream = docker.io https://b\n"),
			 ST_INVALID);
	snprintf(want, sizeof(want), "%s:2: upstream 'docker.io' defined twice", path);
	ck_assert_str_eq(err, want);
	config_free(&cfg);

	ck_assert_int_eq(load("upstream = docker.io https://a frob=1\n"), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":1: unknown upstream option 'frob=1'"));
	config_free(&cfg);

	ck_assert_int_eq(load("upstream = Docker.io https://a\n"), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":1: invalid upstream name 'Docker.io'"));
	config_free(&cfg);

	ck_assert_int_eq(load("upstream = docker.io\n"), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":1: expected NAME URL"));
}
END_TEST

START_TEST(proxy_keys_do_not_repeat)
{
	ck_assert_int_eq(load("proxy_timeout = 5s\nproxy_timeout = 6s\n"), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":2: 'proxy_timeout' repeated (first set on line 1)"));
}
END_TEST

START_TEST(proxy_key_ranges)
{
	static const struct {
		const char *key, *value;
	} bad[] = {
	    {"proxy_timeout", "0"},	      {"proxy_timeout", "2h"},
	    {"proxy_retries", "11"},	      {"proxy_retries", "-1"},
	    {"proxy_revalidate", "31d"},      {"proxy_negative_ttl", "2d"},
	    {"proxy_cache_max", "lots"},      {"proxy_cache_keep", "400d"},
	    {"proxy_revalidate", "5 m"},      {"proxy_unreachable_ttl", "2h"},
	    {"proxy_unreachable_ttl", "-1s"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(config_set(&cfg, bad[i].key, bad[i].value, err, sizeof(err)) ==
				  ST_INVALID,
			      "%s = %s accepted", bad[i].key, bad[i].value);
		ck_assert_ptr_nonnull(strstr(err, bad[i].key));
	}
	ck_assert_int_eq(config_set(&cfg, "proxy_timeout", "1h", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(config_set(&cfg, "proxy_retries", "10", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(config_set(&cfg, "proxy_cache_max", "0", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(config_set(&cfg, "proxy_unreachable_ttl", "0", err, sizeof(err)), ST_OK);
}
END_TEST

START_TEST(free_twice)
{
	ck_assert_int_eq(config_set(&cfg, "upstream", "a.io https://a", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(config_set(&cfg, "upstream", "b.io https://b", err, sizeof(err)), ST_OK);
	ck_assert_uint_eq(cfg.upstreams.n, 2);
	config_free(&cfg);
	ck_assert_uint_eq(cfg.upstreams.n, 0);
	ck_assert_ptr_null(cfg.upstreams.v);
	config_free(&cfg);
	config_free(NULL);
}
END_TEST

Suite *make_config_proxy_suite(void)
{
	Suite *s = suite_create("config_proxy");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, upstream_lines);
	tcase_add_test(tc, upstream_errors);
	tcase_add_test(tc, proxy_keys_do_not_repeat);
	tcase_add_test(tc, proxy_key_ranges);
	tcase_add_test(tc, free_twice);
	suite_add_tcase(s, tc);
	return s;
}
