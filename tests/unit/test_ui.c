/*
 * test_ui.c - the web UI's pure parts: the HTML escaper and URL encoder,
 * the form reader, the session cookie and CSRF tokens (server/ui_page.c,
 * server/ui_session.c). The pages themselves are driven through the real
 * binary by tests/integration/test_ui.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/ui.h"

/* What ui_esc (or ui_url) makes of s, NUL-terminated (caller frees). */
static char *esc(const char *s, size_t n, bool url)
{
	ui_html h;
	char *out;

	ui_html_init(&h);
	if (url)
		ui_url(&h, s);
	else
		ui_escn(&h, s, n);
	ck_assert(!h.failed);
	out = strndup(h.buf, h.len);
	ui_html_free(&h);
	return out;
}

START_TEST(escape_every_special)
{
	char *s = esc("<a href=\"x\" onclick='y'>&amp;</a>", 33, false);

	ck_assert_str_eq(s, "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
	free(s);
}
END_TEST

START_TEST(escape_plain_and_empty)
{
	char *s = esc("team-a/app:v1.2_3", 17, false);

	ck_assert_str_eq(s, "team-a/app:v1.2_3");
	free(s);
	s = esc("", 0, false);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(escape_utf8_kept_nul_replaced)
{
	/* a NUL inside a value (JSON may hold \u0000) is not cut, nor markup */
	char *s = esc("\xC3\xA9t\xC3\xA9\0<", 7, false);

	ck_assert_str_eq(s, "\xC3\xA9t\xC3\xA9\xEF\xBF\xBD&lt;");
	free(s);
}
END_TEST

START_TEST(escape_null_writes_nothing)
{
	ui_html h;

	ui_html_init(&h);
	ui_esc(&h, NULL);
	ui_url(&h, NULL);
	ck_assert_uint_eq(h.len, 0);
	ui_html_free(&h);
	ui_html_free(&h); /* twice: a no-op */
}
END_TEST

START_TEST(url_encodes_all_but_unreserved)
{
	char *s = esc("team/app name&x=\"'<>#?%", 0, true);

	ck_assert_str_eq(s, "team%2Fapp%20name%26x%3D%22%27%3C%3E%23%3F%25");
	free(s);
	s = esc("sha256:AZaz09-._~", 0, true);
	ck_assert_str_eq(s, "sha256%3AAZaz09-._~");
	free(s);
}
END_TEST

START_TEST(buffer_grows)
{
	ui_html h;

	ui_html_init(&h);
	for (int i = 0; i < 100000; i++)
		ui_put(&h, "<&>");
	ck_assert(!h.failed);
	ck_assert_uint_eq(h.len, 300000);
	ui_putf(&h, "%d-%s", 42, "x");
	ck_assert_int_eq(memcmp(h.buf + 300000, "42-x", 4), 0);
	ui_html_free(&h);
}
END_TEST

START_TEST(size_and_time)
{
	ui_html h;

	ui_html_init(&h);
	ui_size(&h, 0);
	ui_put(&h, "|");
	ui_size(&h, 1536);
	ui_put(&h, "|");
	ui_time(&h, 0);
	ui_put(&h, "|");
	ui_time(&h, 86400);
	ck_assert_int_eq((int)h.len, (int)strlen("0 B|1.5 KiB|never|1970-01-02 00:00 UTC"));
	ck_assert_int_eq(memcmp(h.buf, "0 B|1.5 KiB|never|1970-01-02 00:00 UTC", h.len), 0);
	ui_html_free(&h);
}
END_TEST

START_TEST(form_fields)
{
	const char *f = "user=al%20ice&password=p%26w+d&csrf=abc&empty=&name=team%2Fapp";
	char out[64];

	ck_assert(ui_form_get(f, strlen(f), "user", out, sizeof(out)));
	ck_assert_str_eq(out, "al ice");
	ck_assert(ui_form_get(f, strlen(f), "password", out, sizeof(out)));
	ck_assert_str_eq(out, "p&w d");
	ck_assert(ui_form_get(f, strlen(f), "name", out, sizeof(out)));
	ck_assert_str_eq(out, "team/app");
	ck_assert(ui_form_get(f, strlen(f), "empty", out, sizeof(out)));
	ck_assert_str_eq(out, "");
	ck_assert(!ui_form_get(f, strlen(f), "nope", out, sizeof(out)));
	ck_assert(!ui_form_get(f, strlen(f), "csr", out, sizeof(out))); /* no prefix match */
	ck_assert(!ui_form_get(f, strlen(f), "user", out, 4));		/* too long: refused */
	/* a NUL would cut the value short: refused */
	ck_assert(!ui_form_get("a=x%00y", 7, "a", out, sizeof(out)));
	/* a truncated escape stays literal; the body is not read past len */
	ck_assert(ui_form_get("a=x%4", 5, "a", out, sizeof(out)));
	ck_assert_str_eq(out, "x%4");
	ck_assert(ui_form_get("a=xyz&b=1", 3, "a", out, sizeof(out)));
	ck_assert_str_eq(out, "x");
}
END_TEST

static const unsigned char key1[UI_SESSION_KEY_BYTES] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[UI_SESSION_KEY_BYTES] = "0123456789abcdef0123456789abcdX";

START_TEST(session_roundtrip)
{
	char v[UI_COOKIE_MAX], user[UI_USER_MAX];
	int64_t exp;

	ck_assert_int_eq(ui_session_make(key1, "alice", 2000, "fp1", v), ST_OK);
	ck_assert_int_eq(ui_session_parse(v, user, sizeof(user), &exp), ST_OK);
	ck_assert_str_eq(user, "alice");
	ck_assert_int_eq(exp, 2000);
	ck_assert(ui_session_verify(key1, v, "fp1", 1999));
	/* a cookie holds nothing a header could not carry */
	ck_assert(strpbrk(v, " ;,\"\\") == NULL);
}
END_TEST

START_TEST(session_refused)
{
	char v[UI_COOKIE_MAX], forged[UI_COOKIE_MAX], other[UI_COOKIE_MAX];
	char *dot;

	ck_assert_int_eq(ui_session_make(key1, "alice", 2000, "fp1", v), ST_OK);
	ck_assert(!ui_session_verify(key1, v, "fp1", 2000)); /* expired */
	ck_assert(!ui_session_verify(key2, v, "fp1", 10));   /* another key */
	ck_assert(!ui_session_verify(key1, v, "fp2", 10));   /* password changed */
	ck_assert(!ui_session_verify(key1, v, "", 10));	     /* user gone */
	ck_assert(!ui_session_verify(key1, v, NULL, 10));
	/* another user's name with alice's MAC */
	ck_assert_int_eq(ui_session_make(key1, "bob", 2000, "fp1", other), ST_OK);
	dot = strchr(v, '.');
	snprintf(forged, sizeof(forged), "%.*s%s", (int)(strchr(other, '.') - other), other, dot);
	ck_assert(!ui_session_verify(key1, forged, "fp1", 10));
	/* a later expiry with the old MAC */
	snprintf(forged, sizeof(forged), "%s", v);
	forged[strchr(forged, '.') - forged + 1] = '9';
	ck_assert(!ui_session_verify(key1, forged, "fp1", 10));
	/* one flipped bit of the MAC */
	snprintf(forged, sizeof(forged), "%s", v);
	forged[strlen(forged) - 1] ^= 1;
	ck_assert(!ui_session_verify(key1, forged, "fp1", 10));
	/* malformed */
	ck_assert(!ui_session_verify(key1, "", "fp1", 10));
	ck_assert(!ui_session_verify(key1, "616c696365.2000", "fp1", 10));
	ck_assert(!ui_session_verify(key1, NULL, "fp1", 10));
	ck_assert_int_eq(ui_session_make(key1, "", 2000, "fp1", v), ST_INVALID);
}
END_TEST

START_TEST(session_nonce_differs)
{
	char a[UI_COOKIE_MAX], b[UI_COOKIE_MAX];

	ck_assert_int_eq(ui_session_make(key1, "alice", 2000, "fp1", a), ST_OK);
	ck_assert_int_eq(ui_session_make(key1, "alice", 2000, "fp1", b), ST_OK);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(csrf_tokens)
{
	char t[UI_TOKEN_HEX], t2[UI_TOKEN_HEX];

	ui_csrf_token(key1, "session-a", t);
	ck_assert_uint_eq(strlen(t), 64);
	ck_assert(ui_csrf_check(key1, "session-a", t));
	ck_assert(!ui_csrf_check(key1, "session-b", t)); /* bound to its session */
	ck_assert(!ui_csrf_check(key2, "session-a", t));
	ck_assert(!ui_csrf_check(key1, "", t));
	ck_assert(!ui_csrf_check(key1, NULL, t));
	ck_assert(!ui_csrf_check(key1, "session-a", NULL));
	ck_assert(!ui_csrf_check(key1, "session-a", ""));
	snprintf(t2, sizeof(t2), "%.63s", t); /* one digit short */
	ck_assert(!ui_csrf_check(key1, "session-a", t2));
	ui_csrf_token(key1, "session-b", t2);
	ck_assert_str_ne(t, t2);
}
END_TEST

START_TEST(key_made_once)
{
	char dir[] = "/tmp/test_ui.XXXXXX", path[64];
	unsigned char a[UI_SESSION_KEY_BYTES], b[UI_SESSION_KEY_BYTES];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(ui_session_key_load(dir, a), ST_OK);
	ck_assert_int_eq(ui_session_key_load(dir, b), ST_OK);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0); /* read back, not made again */
	snprintf(path, sizeof(path), "%s/" UI_SESSION_KEY_FILE, dir);
	ck_assert_int_eq(access(path, R_OK), 0);
	truncate(path, 3);
	ck_assert_int_eq(ui_session_key_load(dir, b), ST_IO); /* a short key is refused */
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *make_ui_suite(void)
{
	Suite *s = suite_create("ui");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, escape_every_special);
	tcase_add_test(tc, escape_plain_and_empty);
	tcase_add_test(tc, escape_utf8_kept_nul_replaced);
	tcase_add_test(tc, escape_null_writes_nothing);
	tcase_add_test(tc, url_encodes_all_but_unreserved);
	tcase_add_test(tc, buffer_grows);
	tcase_add_test(tc, size_and_time);
	tcase_add_test(tc, form_fields);
	tcase_add_test(tc, session_roundtrip);
	tcase_add_test(tc, session_refused);
	tcase_add_test(tc, session_nonce_differs);
	tcase_add_test(tc, csrf_tokens);
	tcase_add_test(tc, key_made_once);
	suite_add_tcase(s, tc);
	return s;
}
