/*
 * test_cert.c - auth/cert.c: `registry cert` makes a CA and a server
 * certificate that OpenSSL verifies against it for every name given (DNS
 * and IP), keeps the CA on a second run, writes keys 0600, and refuses bad
 * names, counts and days with a message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "../../auth/cert.h"

static char dir[64], err[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_cert.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	err[0] = '\0';
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static X509 *read_cert(const char *name)
{
	char path[128];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static mode_t mode_of(const char *name)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 0777;
}

/* Verifies server.crt against ca.crt for purpose serverAuth and host. */
static int verifies(const char *host, const char *ip)
{
	X509 *ca = read_cert("ca.crt"), *srv = read_cert("server.crt");
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	int ok;

	X509_STORE_add_cert(store, ca);
	X509_STORE_CTX_init(ctx, store, srv, NULL);
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (host)
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
	ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(srv);
	return ok;
}

START_TEST(make_and_verify)
{
	const char *names[] = {"registry.example.com", "127.0.0.1", "::1", "*.team.example"};
	bool reused = true;
	X509 *ca;

	ck_assert_int_eq(auth_cert_make(dir, names, 4, 30, &reused, err, sizeof(err)), ST_OK);
	ck_assert(!reused);
	ck_assert(verifies("registry.example.com", NULL));
	ck_assert(verifies(NULL, "127.0.0.1"));
	ck_assert(verifies(NULL, "::1"));
	ck_assert(verifies("a.team.example", NULL));
	ck_assert(!verifies("other.example.com", NULL));
	ck_assert(!verifies(NULL, "10.0.0.1"));
	ck_assert_uint_eq(mode_of("ca.key"), 0600);
	ck_assert_uint_eq(mode_of("server.key"), 0600);
	ck_assert_uint_eq(mode_of("server.crt"), 0644);
	ca = read_cert("ca.crt");
	ck_assert_int_eq(X509_check_ca(ca), 1);
	X509_free(ca);
}
END_TEST

START_TEST(ca_kept)
{
	const char *one[] = {"a.example"}, *two[] = {"b.example", "192.0.2.7"};
	X509 *ca1, *ca2, *s1, *s2;
	bool reused = false;

	ck_assert_int_eq(auth_cert_make(dir, one, 1, 30, &reused, err, sizeof(err)), ST_OK);
	ca1 = read_cert("ca.crt");
	s1 = read_cert("server.crt");
	ck_assert_int_eq(auth_cert_make(dir, two, 2, 30, &reused, err, sizeof(err)), ST_OK);
	ck_assert(reused);
	ca2 = read_cert("ca.crt");
	s2 = read_cert("server.crt");
	ck_assert_int_eq(X509_cmp(ca1, ca2), 0);
	ck_assert_int_ne(X509_cmp(s1, s2), 0);
	ck_assert(verifies("b.example", NULL));
	ck_assert(verifies(NULL, "192.0.2.7"));
	ck_assert(!verifies("a.example", NULL));
	X509_free(ca1);
	X509_free(ca2);
	X509_free(s1);
	X509_free(s2);
}
END_TEST

START_TEST(refusals)
{
	const char *bad[] = {"-x.example"}, *ok[] = {"x.example"};
	char path[128];
	FILE *f;

	ck_assert(auth_cert_name_ok("localhost"));
	ck_assert(auth_cert_name_ok("a-b.c"));
	ck_assert(auth_cert_name_ok("10.1.2.3"));
	ck_assert(auth_cert_name_ok("fe80::1"));
	ck_assert(!auth_cert_name_ok(""));
	ck_assert(!auth_cert_name_ok("a..b"));
	ck_assert(!auth_cert_name_ok("a-.b"));
	ck_assert(!auth_cert_name_ok("a_b"));
	ck_assert(!auth_cert_name_ok("a b"));
	ck_assert(!auth_cert_name_ok("*"));
	ck_assert(!auth_cert_name_ok(NULL));
	ck_assert_int_eq(auth_cert_make(dir, bad, 1, 30, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "'-x.example' is not a host name or IP address");
	ck_assert_int_eq(auth_cert_make(dir, ok, 0, 30, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "give 1 to 64 host names or IP addresses");
	ck_assert_int_eq(auth_cert_make(dir, ok, 1, 0, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert_str_eq(err, "days must be 1 to 36500");
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	ck_assert_int_eq(access(path, F_OK), -1); /* nothing written */
	/* a CA certificate without its key is not silently replaced */
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("not a certificate\n", f);
	fclose(f);
	ck_assert_int_eq(auth_cert_make(dir, ok, 1, 30, NULL, err, sizeof(err)), ST_INVALID);
	ck_assert(strstr(err, "ca.crt and ca.key are missing, unreadable or do not match") != NULL);
	snprintf(path, sizeof(path), "%s/server.crt", dir);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* The folder and its missing parents are made: `registry cert` before the
 * data folder exists, or with a new --out path. */
START_TEST(makes_parents)
{
	const char *names[] = {"localhost"};
	char deep[128], path[160];
	struct stat sb;
	mode_t mask = umask(0);

	umask(mask);
	snprintf(deep, sizeof(deep), "%s/data/more/tls", dir);
	ck_assert_int_eq(auth_cert_make(deep, names, 1, 30, NULL, err, sizeof(err)), ST_OK);
	snprintf(path, sizeof(path), "%s/server.crt", deep);
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_int_eq(stat(deep, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/data", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0755 & ~mask);
	/* a parent that is a file: ST_IO, naming it */
	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	snprintf(deep, sizeof(deep), "%s/file/tls", dir);
	ck_assert_int_eq(auth_cert_make(deep, names, 1, 30, NULL, err, sizeof(err)), ST_IO);
	ck_assert_ptr_nonnull(strstr(err, "/file"));
}
END_TEST

Suite *make_cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tc = tcase_create("cert");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, make_and_verify);
	tcase_add_test(tc, ca_kept);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, makes_parents);
	suite_add_tcase(s, tc);
	return s;
}
