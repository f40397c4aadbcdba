/*
 * test_htpasswd.c - auth/htpasswd.c: parsing the users file (with exact
 * FILE:LINE messages), bcrypt verification against hashes written by
 * Apache's `htpasswd -B` (run here when installed, plus fixed hashes so the
 * check never depends on it) and by libcrypt for $2a$/$2b$, hashing, and
 * the atomic rewrite.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../auth/htpasswd.h"
#include "skip.h"

/* Written by `htpasswd -nbB alice secret` (apache2-utils 2.4, cost 5). */
#define ALICE_HASH "$2y$05$wEUH2LolgquHpO7Bz.pdc.hBoaYG60SnmUKAfvt25IrHCoJe5xBW2"
/* The OpenBSD/Openwall bcrypt test vector for "U*U", as $2a$ and $2b$. */
#define UU_2A "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define UU_2B "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

static auth_htpasswd *h;
static char err[512];
static char dir[64];

static void setup(void)
{
	h = NULL;
	err[0] = '\0';
	snprintf(dir, sizeof(dir), "/tmp/test_htpasswd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	auth_htpasswd_free(h);
	h = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static status_t parse(const char *text)
{
	auth_htpasswd_free(h);
	h = NULL;
	return auth_htpasswd_parse(&h, text, strlen(text), "users", err, sizeof(err));
}

START_TEST(parse_good)
{
	ck_assert_int_eq(parse("# users\n\nalice:" ALICE_HASH "\r\nbob:" UU_2A "\ncarol:{SHA}x="),
			 ST_OK);
	ck_assert_uint_eq(auth_htpasswd_count(h), 3);
	ck_assert_str_eq(auth_htpasswd_user(h, 0), "alice");
	ck_assert_str_eq(auth_htpasswd_user(h, 1), "bob");
	ck_assert_str_eq(auth_htpasswd_user(h, 2), "carol");
	ck_assert_ptr_null(auth_htpasswd_user(h, 3));
	ck_assert(auth_htpasswd_usable(h, 0));
	ck_assert(auth_htpasswd_usable(h, 1));
	ck_assert(!auth_htpasswd_usable(h, 2)); /* kept, but never matches */
	ck_assert(auth_htpasswd_has(h, "bob"));
	ck_assert(!auth_htpasswd_has(h, "dave"));
	ck_assert_int_eq(parse(""), ST_OK);
	ck_assert_uint_eq(auth_htpasswd_count(h), 0);
}
END_TEST

START_TEST(parse_errors)
{
	ck_assert_int_eq(parse("alice:" ALICE_HASH "\nno colon here\n"), ST_INVALID);
	ck_assert_str_eq(err, "users:2: expected NAME:HASH");
	ck_assert_ptr_null(h);
	ck_assert_int_eq(parse("alice:x\nalice:y\n"), ST_INVALID);
	ck_assert_str_eq(err, "users:2: user 'alice' listed twice");
	ck_assert_int_eq(parse(":hash\n"), ST_INVALID);
	ck_assert_str_eq(err, "users:1: user name '' (expected letters, digits, . _ - @; not "
			      "'anonymous')");
	ck_assert_int_eq(parse("anonymous:x\n"), ST_INVALID);
	ck_assert_int_eq(parse("a b:x\n"), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_parse(&h, "a:x\0b:y", 7, "users", err, sizeof(err)),
			 ST_INVALID);
	ck_assert_str_eq(err, "users: NUL byte in the file");
}
END_TEST

START_TEST(verify_fixed_hashes)
{
	ck_assert_int_eq(parse("alice:" ALICE_HASH "\nbob:" UU_2A "\ncarol:" UU_2B
			       "\ndave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"),
			 ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "secret"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "Secret"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", ""), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "secret "), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "bob", "U*U"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "carol", "U*U"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "carol", "U*V"), ST_UNAUTHORIZED);
	/* another user's password, an unknown user, an unsupported hash */
	ck_assert_int_eq(auth_htpasswd_verify(h, "bob", "secret"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "eve", "secret"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "dave", "password"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, NULL, "x"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", NULL), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(NULL, "alice", "secret"), ST_UNAUTHORIZED);
}
END_TEST

/* Hashes written by the htpasswd binary itself, when it is installed. */
START_TEST(verify_htpasswd_binary)
{
	static const char *const pw[] = {"correct horse", "p@ss:w0rd", "ünïcödé", "x"};
	char path[128], cmd[512];

	if (system("command -v htpasswd >/dev/null 2>&1") != 0) {
		test_skip("verify_htpasswd_binary: htpasswd not installed (apache2-utils)");
		return;
	}
	snprintf(path, sizeof(path), "%s/users", dir);
	for (size_t i = 0; i < sizeof(pw) / sizeof(pw[0]); i++) {
		snprintf(cmd, sizeof(cmd), "htpasswd -bB %s %s u%zu '%s' 2>/dev/null",
			 i ? "" : "-c", path, i, pw[i]);
		ck_assert_int_eq(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "htpasswd -bB -C 12 %s u9 twelve 2>/dev/null", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(auth_htpasswd_load(&h, path, err, sizeof(err)), ST_OK);
	ck_assert_uint_eq(auth_htpasswd_count(h), 5);
	for (size_t i = 0; i < sizeof(pw) / sizeof(pw[0]); i++) {
		char user[8];
		snprintf(user, sizeof(user), "u%zu", i);
		ck_assert_msg(auth_htpasswd_verify(h, user, pw[i]) == ST_OK, "%s", user);
		ck_assert_int_eq(auth_htpasswd_verify(h, user, "wrong"), ST_UNAUTHORIZED);
	}
	ck_assert_int_eq(auth_htpasswd_verify(h, "u9", "twelve"), ST_OK);
}
END_TEST

START_TEST(hash_and_set)
{
	char hash[128], big[AUTH_PASSWORD_MAX + 2];

	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), "pw", 4), ST_OK);
	ck_assert_uint_eq(strlen(hash), 60);
	ck_assert(strncmp(hash, "$2y$04$", 7) == 0);
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), "pw", 3), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), "pw", 32), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_hash(hash, 60, "pw", 4), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), NULL, 4), ST_INVALID);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), big, 4), ST_INVALID);
	/* bcrypt reads 72 bytes: a longer password would be cut without a word */
	big[AUTH_BCRYPT_PASSWORD_MAX] = '\0';
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), big, 4), ST_OK);
	big[AUTH_BCRYPT_PASSWORD_MAX] = 'a';
	big[AUTH_BCRYPT_PASSWORD_MAX + 1] = '\0';
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), big, 4), ST_INVALID);
	big[AUTH_BCRYPT_PASSWORD_MAX + 1] = 'a';

	ck_assert_int_eq(auth_htpasswd_new(&h), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "alice", "one", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "bob", "two", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "one"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "alice", "three", 4), ST_OK);
	ck_assert_uint_eq(auth_htpasswd_count(h), 2);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "one"), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "three"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "anonymous", "x", 4), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_set(h, "a:b", "x", 4), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_verify(h, "bob", big), ST_UNAUTHORIZED);
	ck_assert_int_eq(auth_htpasswd_del(h, "alice"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_del(h, "alice"), ST_NOT_FOUND);
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "three"), ST_UNAUTHORIZED);
	ck_assert_uint_eq(auth_htpasswd_count(h), 1);
	ck_assert_str_eq(auth_htpasswd_user(h, 0), "bob");
	/* a hash made beforehand (as `registry user add` does, outside its lock) */
	ck_assert_int_eq(auth_htpasswd_hash(hash, sizeof(hash), "four", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_set_hash(h, "carol", hash), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "carol", "four"), ST_OK);
	ck_assert_str_eq(auth_htpasswd_hash_of(h, "carol"), hash);
	ck_assert_ptr_null(auth_htpasswd_hash_of(h, "nobody"));
	ck_assert_int_eq(auth_htpasswd_set_hash(h, "carol", "plaintext"), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_set_hash(h, "carol", "$apr1$x$y"), ST_INVALID);
	ck_assert_int_eq(auth_htpasswd_verify(h, "carol", "four"), ST_OK);
}
END_TEST

START_TEST(save_and_load)
{
	char path[128], cmd[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/users", dir);
	ck_assert_int_eq(auth_htpasswd_load(&h, path, err, sizeof(err)), ST_NOT_FOUND);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(parse("keep:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nalice:" ALICE_HASH "\n"),
			 ST_OK);
	ck_assert_int_eq(auth_htpasswd_set(h, "bob", "two", 4), ST_OK);
	ck_assert_int_eq(auth_htpasswd_save(h, path), ST_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	auth_htpasswd_free(h);
	h = NULL;
	ck_assert_int_eq(auth_htpasswd_load(&h, path, err, sizeof(err)), ST_OK);
	ck_assert_uint_eq(auth_htpasswd_count(h), 3);
	ck_assert_str_eq(auth_htpasswd_user(h, 0), "keep"); /* order and foreign lines kept */
	ck_assert_int_eq(auth_htpasswd_verify(h, "alice", "secret"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_verify(h, "bob", "two"), ST_OK);
	/* An existing file keeps its mode; nothing but it is left in the folder. */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(auth_htpasswd_del(h, "keep"), ST_OK);
	ck_assert_int_eq(auth_htpasswd_save(h, path), ST_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0640);
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) = 1", dir);
	ck_assert_int_eq(system(cmd), 0);
	/* The file is what `htpasswd -v` reads too. */
	if (system("command -v htpasswd >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd), "htpasswd -vb %s bob two >/dev/null 2>&1", path);
		ck_assert_int_eq(system(cmd), 0);
	}
	/* A folder that does not exist: ST_IO, nothing written. */
	snprintf(path, sizeof(path), "%s/no/such/users", dir);
	ck_assert_int_eq(auth_htpasswd_save(h, path), ST_IO);
	ck_assert_int_eq(auth_htpasswd_save(NULL, path), ST_INVALID);
}
END_TEST

START_TEST(load_not_a_file)
{
	ck_assert_int_eq(auth_htpasswd_load(&h, dir, err, sizeof(err)), ST_IO);
	ck_assert_ptr_null(h);
	auth_htpasswd_free(NULL);
}
END_TEST

Suite *make_htpasswd_suite(void)
{
	Suite *s = suite_create("htpasswd");
	TCase *tc = tcase_create("htpasswd");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, verify_fixed_hashes);
	tcase_add_test(tc, verify_htpasswd_binary);
	tcase_add_test(tc, hash_and_set);
	tcase_add_test(tc, save_and_load);
	tcase_add_test(tc, load_not_a_file);
	suite_add_tcase(s, tc);
	return s;
}
