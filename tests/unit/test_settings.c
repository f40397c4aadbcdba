/*
 * test_settings.c - what a reload changes in the core (core/settings.c):
 * settings are built whole or not at all, a request keeps the ones it
 * opened under across a swap (and may use their upstreams until it is
 * freed: run under ASan), the cache is shared while its upstream lines and
 * proxy_* keys stay the same and made anew when one changes, and the
 * switches the core reads (delete_enabled, quotas) follow the swap.
 * Upstreams are offline ones: no libcurl, no network.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core_impl.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_settings.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *one[] = {"one.test offline"};
static char *two[] = {"one.test offline", "two.test offline"};
static char *two_changed[] = {"one.test offline", "two.test offline namespaces=library"};
static char *bad_quota[] = {"q/** 10Q"};

static core_options opts(char **ups, size_t n)
{
	return (core_options){.data = dir,
			      .storage = "filesystem",
			      .metadata = "sqlite",
			      .max_manifest_bytes = 1 << 20,
			      .upload_ttl_sec = 3600,
			      .proxy_timeout_sec = 30,
			      .upstreams = ups,
			      .nupstreams = n};
}

START_TEST(shared_while_unchanged)
{
	core_options o = opts(one, 1);
	core_settings *s;
	core *c;
	proxy *px;

	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	px = c->set->px;
	ck_assert_ptr_nonnull(px);
	/* a rule changes, the upstreams do not: the same cache */
	o.delete_enabled = true;
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_OK);
	ck_assert_ptr_eq(s->px, px);
	core_settings_use(c, s);
	ck_assert_ptr_eq(c->set->px, px);
	ck_assert(c->set->delete_enabled);
	/* a proxy_* key changes: a new cache */
	o.proxy_timeout_sec = 10;
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_OK);
	ck_assert_ptr_ne(s->px, px);
	core_settings_free(c, s); /* never used: the running ones stay */
	ck_assert_ptr_eq(c->set->px, px);
	/* an upstream line changes: a new cache */
	o = opts(two, 2);
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_OK);
	ck_assert_ptr_ne(s->px, px);
	core_settings_use(c, s);
	ck_assert_uint_eq(core_upstream_count(c), 2);
	px = c->set->px;
	/* as many lines, one of them changed: a new cache */
	o = opts(two_changed, 2);
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_OK);
	ck_assert_ptr_ne(s->px, px);
	core_settings_use(c, s);
	core_settings_free(c, NULL);
	core_close(c);
}
END_TEST

START_TEST(request_keeps_its_settings)
{
	core_options o = opts(one, 1);
	core_req *old_q, *new_q;
	core_settings *s;
	char buf[256];
	core *c;

	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	ck_assert_int_eq(core_req_open(c, "one.test/lib/a", NULL, NULL, &old_q), ST_OK);
	ck_assert(core_req_mirrored(old_q));
	ck_assert_int_eq(core_req_writable(old_q), ST_METHOD_NOT_ALLOWED);
	ck_assert_int_eq(policy_delete(old_q), ST_METHOD_NOT_ALLOWED);
	/* one.test removed, deleting switched on */
	o = opts(NULL, 0);
	o.delete_enabled = true;
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_OK);
	core_settings_use(c, s);
	ck_assert(!core_mirrors(c));
	ck_assert_str_eq(core_cache_name(c, "one.test/lib/a", buf, sizeof(buf)), "one.test/lib/a");
	/* the request opened before still sees its upstream (ASan: not freed) */
	ck_assert_str_eq(upstream_get_spec(old_q->t.up)->name, "one.test");
	ck_assert_int_eq(policy_delete(old_q), ST_METHOD_NOT_ALLOWED);
	ck_assert_ptr_nonnull(old_q->set->px);
	/* one opened after: a local name, deletes allowed */
	ck_assert_int_eq(core_req_open(c, "one.test/lib/a", NULL, NULL, &new_q), ST_OK);
	ck_assert(!core_req_mirrored(new_q));
	ck_assert_int_eq(core_req_writable(new_q), ST_OK);
	ck_assert_int_eq(policy_delete(new_q), ST_OK);
	core_req_free(old_q); /* the removed cache's last user: closed here */
	core_req_free(new_q);
	core_close(c);
}
END_TEST

START_TEST(bad_line_changes_nothing)
{
	core_options o = opts(one, 1);
	core_settings *s = (core_settings *)1, *run;
	core *c;

	ck_assert_int_eq(core_open(&c, &o), ST_OK);
	run = c->set;
	o = opts(two, 2);
	o.quotas = bad_quota;
	o.nquotas = 1;
	ck_assert_int_eq(core_settings_new(c, &o, &s), ST_INVALID);
	ck_assert_ptr_null(s);
	ck_assert_ptr_eq(c->set, run);
	ck_assert_uint_eq(core_upstream_count(c), 1);
	core_close(c);
}
END_TEST

Suite *make_settings_suite(void)
{
	Suite *s = suite_create("settings");
	TCase *tc = tcase_create("reload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, shared_while_unchanged);
	tcase_add_test(tc, request_keeps_its_settings);
	tcase_add_test(tc, bad_line_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}
