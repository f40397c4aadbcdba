/*
 * test_config_auth.c - the access-control and TLS keys of server/config.c:
 * defaults, accepted and refused values with their messages, the list keys
 * that alone may repeat (and are freed by config_free), and the users file
 * and token key paths that default into the data folder.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../auth/auth.h"
#include "../../server/config.h"

static config cfg;
static char path[64], err[1024];

static void setup(void)
{
	int fd;

	config_defaults(&cfg);
	err[0] = '\0';
	snprintf(path, sizeof(path), "/tmp/test_config_auth.XXXXXX");
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

static void expect_bad(const char *key, const char *value, const char *msg)
{
	err[0] = '\0';
	ck_assert_int_eq(config_set(&cfg, key, value, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, msg);
}

START_TEST(defaults)
{
	char p[256];

	ck_assert_int_eq(cfg.auth_mode, AUTH_MODE_NONE);
	ck_assert_str_eq(cfg.auth_realm, "registry");
	ck_assert_str_eq(cfg.auth_token_service, "registry");
	ck_assert_str_eq(cfg.auth_token_issuer, "registry");
	ck_assert_uint_eq(cfg.auth_token_lifetime_sec, 300);
	ck_assert_uint_eq(cfg.auth_token_refresh_lifetime_sec, 90u * 86400u);
	ck_assert_uint_eq(cfg.auth_fail_limit, 10);
	ck_assert_uint_eq(cfg.auth_fail_window_sec, 300);
	ck_assert_str_eq(cfg.auth_users, "");
	ck_assert_str_eq(cfg.tls_cert, "");
	ck_assert_str_eq(cfg.listen_plain, "");
	ck_assert_uint_eq(cfg.auth_rules.n, 0);
	ck_assert_int_eq(config_users_path(&cfg, p, sizeof(p)), ST_OK);
	ck_assert_str_eq(p, "./data/htpasswd");
	ck_assert_int_eq(config_token_key_path(&cfg, p, sizeof(p)), ST_OK);
	ck_assert_str_eq(p, "./data/token.key");
	ck_assert_int_eq(config_set(&cfg, "auth_users", "/etc/registry/users", err, sizeof(err)),
			 ST_OK);
	ck_assert_int_eq(config_users_path(&cfg, p, sizeof(p)), ST_OK);
	ck_assert_str_eq(p, "/etc/registry/users");
	ck_assert_int_eq(config_users_path(&cfg, p, 5), ST_INVALID);
}
END_TEST

START_TEST(values)
{
	ck_assert_int_eq(config_set(&cfg, "auth", "token", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(cfg.auth_mode, AUTH_MODE_TOKEN);
	ck_assert_int_eq(config_set(&cfg, "auth_token_lifetime", "2s", err, sizeof(err)), ST_OK);
	ck_assert_uint_eq(cfg.auth_token_lifetime_sec, 2);
	ck_assert_int_eq(config_set(&cfg, "auth_token_refresh_lifetime", "0", err, sizeof(err)),
			 ST_OK);
	ck_assert_uint_eq(cfg.auth_token_refresh_lifetime_sec, 0);
	ck_assert_int_eq(config_set(&cfg, "auth_token_refresh_lifetime", "30d", err, sizeof(err)),
			 ST_OK);
	ck_assert_uint_eq(cfg.auth_token_refresh_lifetime_sec, 30u * 86400u);
	ck_assert_int_eq(config_set(&cfg, "auth_fail_limit", "0", err, sizeof(err)), ST_OK);
	ck_assert_uint_eq(cfg.auth_fail_limit, 0);
	ck_assert_int_eq(
	    config_set(&cfg, "auth_token_realm", "https://r.example/token", err, sizeof(err)),
	    ST_OK);
	ck_assert_int_eq(config_set(&cfg, "listen_plain", "127.0.0.1:5001", err, sizeof(err)),
			 ST_OK);
	ck_assert_int_eq(config_set(&cfg, "tls_cert", "/x/server.crt", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(
	    config_set(&cfg, "auth_trusted_proxies", "127.0.0.1, 10.0.0.0/8 ::1", err, sizeof(err)),
	    ST_OK);
	ck_assert_str_eq(cfg.auth_trusted_proxies, "127.0.0.1, 10.0.0.0/8 ::1");
	expect_bad("auth_trusted_proxies", "10.0.0.0/33",
		   "invalid auth_trusted_proxies: '10.0.0.0/33': bad prefix length (expected IP "
		   "addresses or ADDRESS/PREFIX networks, separated by spaces or commas)");
	expect_bad("auth_trusted_proxies", "proxy.example",
		   "invalid auth_trusted_proxies: 'proxy.example' is not an IPv4 or IPv6 address "
		   "(expected IP addresses or ADDRESS/PREFIX networks, separated by spaces or "
		   "commas)");
	expect_bad("auth", "htpasswd", "invalid auth 'htpasswd' (expected none, basic or token)");
	expect_bad("auth_realm", "my \"realm\"",
		   "invalid auth_realm 'my \"realm\"' (1-255 printable ASCII characters, no '\"' "
		   "or '\\')");
	expect_bad("auth_token_lifetime", "0",
		   "invalid auth_token_lifetime '0' (expected a duration from 1s to 7d)");
	expect_bad(
	    "auth_token_refresh_lifetime", "3651d",
	    "invalid auth_token_refresh_lifetime '3651d' (expected a duration up to 3650d, or 0 "
	    "for no refresh tokens)");
	expect_bad("auth_token_lifetime", "8d",
		   "invalid auth_token_lifetime '8d' (expected a duration from 1s to 7d)");
	expect_bad("auth_token_realm", "ftp://x",
		   "invalid auth_token_realm 'ftp://x' (expected an http:// or https:// URL)");
	expect_bad("auth_token_issuer", "a b", "invalid auth_token_issuer 'a b' (no spaces)");
	expect_bad("auth_fail_window", "0",
		   "invalid auth_fail_window '0' (expected a duration from 1s to 1d)");
	expect_bad("auth_fail_limit", "-1",
		   "invalid auth_fail_limit '-1' (expected a number from 0 (off) to 1000000)");
	expect_bad("listen_plain", "nope",
		   "invalid listen_plain 'nope' (expected HOST:PORT, [IPV6]:PORT or :PORT, port "
		   "0-65535)");
	expect_bad("auth_rule", "x",
		   "rule 'x' needs three fields: PATTERN WHO ACTIONS (such as: "
		   "team-a/* alice,@team-a pull,push)");
	expect_bad("auth_group", "nogroup", "group 'nogroup': expected NAME: USER USER ...");
	expect_bad("auth_token_trust", "issuer-only",
		   "invalid auth_token_trust 'issuer-only' (expected ISSUER PEM-FILE: the issuer "
		   "name, then its public key or certificate)");
	ck_assert_uint_eq(cfg.auth_rules.n, 0);
}
END_TEST

START_TEST(lists_repeat)
{
	ck_assert_msg(load("auth = basic\n"
			   "auth_group = \"team-a: alice bob\"\n"
			   "auth_group = \"team-b: carol\"\n"
			   "auth_rule = \"team-a/** @team-a pull,push\"\n"
			   "auth_rule = team-b/* @team-b,alice pull\n"
			   "auth_rule = \"public/** anonymous pull\"\n"
			   "auth_token_trust = \"corp-auth /etc/corp.pem\"\n") == ST_OK,
		      "%s", err);
	ck_assert_uint_eq(cfg.auth_groups.n, 2);
	ck_assert_uint_eq(cfg.auth_rules.n, 3);
	ck_assert_str_eq(cfg.auth_rules.v[1], "team-b/* @team-b,alice pull");
	ck_assert_uint_eq(cfg.auth_token_trust.n, 1);
	/* loading again adds to the lists */
	ck_assert_int_eq(load("auth_rule = \"x/* bob pull\"\n"), ST_OK);
	ck_assert_uint_eq(cfg.auth_rules.n, 4);
	config_free(&cfg);
	ck_assert_uint_eq(cfg.auth_rules.n, 0);
	ck_assert_ptr_null(cfg.auth_rules.v);
	config_free(&cfg); /* twice is fine */
	config_free(NULL);
}
END_TEST

START_TEST(load_errors)
{
	char want[256];

	ck_assert_int_eq(load("auth = basic\nauth = token\n"), ST_INVALID);
	snprintf(want, sizeof(want), "%s:2: 'auth' repeated (first set on line 1)", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(load("auth_rule = \"a/* alice pull\"\nauth_rule = \"b/* alice fly\"\n"),
			 ST_INVALID);
	snprintf(want, sizeof(want),
		 "%s:2: rule actions 'fly': expected pull, push, delete or * (comma-separated)",
		 path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(load("auth_group = \"g: a\"\nauth_group = \"g: b\"\n"), ST_INVALID);
	snprintf(want, sizeof(want), "%s:2: group 'g' defined twice", path);
	ck_assert_str_eq(err, want);
	/* a rule naming a group no line defines: its own line, in every mode */
	config_free(&cfg);
	config_defaults(&cfg);
	ck_assert_int_eq(load("auth = basic\nauth_group = \"g: a\"\n"
			      "auth_rule = \"x/* alice,@g pull\"\n"
			      "auth_rule = \"y/* alice,@nogroup pull\"\n"),
			 ST_INVALID);
	snprintf(want, sizeof(want),
		 "%s:4: rule 'y/* ...' names group @nogroup, which is not defined", path);
	ck_assert_str_eq(err, want);
	config_free(&cfg);
	config_defaults(&cfg);
	ck_assert_int_eq(load("auth_rule = \"y/* @later pull\"\n"), ST_INVALID);
	config_free(&cfg);
	config_defaults(&cfg);
	/* a group defined after the rule that names it is fine */
	ck_assert_msg(load("auth_rule = \"y/* @later pull\"\nauth_group = \"later: a\"\n") == ST_OK,
		      "%s", err);
	/* whatever was added before the error is freed by config_free (teardown) */
}
END_TEST

START_TEST(shipped_conf_documents_keys)
{
	static const char *const keys[] = {"auth",
					   "auth_realm",
					   "auth_users",
					   "auth_group",
					   "auth_rule",
					   "auth_token_service",
					   "auth_token_issuer",
					   "auth_token_key",
					   "auth_token_realm",
					   "auth_token_lifetime",
					   "auth_token_refresh_lifetime",
					   "auth_token_trust",
					   "auth_fail_limit",
					   "auth_fail_window",
					   "auth_trusted_proxies",
					   "tls_cert",
					   "tls_key",
					   "listen_plain"};
	char line[512];
	int found[sizeof(keys) / sizeof(keys[0])] = {0};
	FILE *f = fopen("registry.conf", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = line[0] == '#' ? line + 1 + (line[1] == ' ') : line;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(p, keys[i], strlen(keys[i])) == 0 &&
			    strncmp(p + strlen(keys[i]), " = ", 3) == 0)
				found[i]++;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(found[i] >= 1, "registry.conf does not show %s", keys[i]);
	/* and the shipped file keeps auth off */
	ck_assert_int_eq(config_load(&cfg, "registry.conf", err, sizeof(err)), ST_OK);
	ck_assert_int_eq(cfg.auth_mode, AUTH_MODE_NONE);
	ck_assert_str_eq(cfg.tls_cert, "");
	ck_assert_uint_eq(cfg.auth_rules.n, 0);
}
END_TEST

Suite *make_config_auth_suite(void)
{
	Suite *s = suite_create("config_auth");
	TCase *tc = tcase_create("config_auth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values);
	tcase_add_test(tc, lists_repeat);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, shipped_conf_documents_keys);
	suite_add_tcase(s, tc);
	return s;
}
