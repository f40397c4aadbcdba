/*
 * test_jwt.c - auth/jwt.c and auth/b64.c: base64 strictness, keys (made,
 * written, read back, public ones from a PEM key or a certificate), and
 * tokens: a good ES256 and RS256 token verifies; a forged one (another
 * key), an expired one, a not-yet-valid one, one for another audience or
 * from an unknown issuer, one with a tampered payload or signature, and
 * ones whose header lies about the algorithm (`none`, HS256 keyed with the
 * public key, RS256 on an EC key) are all refused, with their reasons.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../auth/b64.h"
#include "../../auth/cert.h"
#include "../../auth/jwt.h"

#define NOW 1700000000
#define AUD "registry"

static auth_key *ec, *rsa, *other;
static char dir[64];

static void setup(void)
{
	ck_assert_int_eq(auth_key_generate(&ec, "ES256"), ST_OK);
	ck_assert_int_eq(auth_key_generate(&other, "ES256"), ST_OK);
	rsa = NULL;
	snprintf(dir, sizeof(dir), "/tmp/test_jwt.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	auth_key_free(ec);
	auth_key_free(rsa);
	auth_key_free(other);
	ec = rsa = other = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Claims from iss/aud/exp/nbf (0 = leave out). */
static char *claims(const char *iss, const char *aud, long exp, long nbf)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s,
				  "{\"iss\":\"%s\",\"sub\":\"alice\",\"aud\":\"%s\"%s%.0ld%s%.0ld,"
				  "\"access\":[{\"type\":\"repository\",\"name\":\"a/b\","
				  "\"actions\":[\"pull\"]}]}",
				  iss, aud, exp ? ",\"exp\":" : "", exp, nbf ? ",\"nbf\":" : "",
				  nbf),
			 0);
	return s;
}

static char *sign(const auth_key *k, const char *c)
{
	char *t = NULL;

	ck_assert_int_eq(auth_jwt_sign(&t, k, c), ST_OK);
	return t;
}

/* Verifies t against `registry` = ec (and `ext` = rsa when made). */
static status_t verify(const char *t, const char **why)
{
	auth_jwt_trust trust[] = {{"registry", ec, true}, {"ext", rsa, false}};
	json_t *out = NULL;
	status_t st = auth_jwt_verify(&out, t, trust, rsa ? 2 : 1, AUD, NOW, why);

	if (st == ST_OK) {
		ck_assert_ptr_nonnull(out);
		ck_assert_str_eq(json_string_value(json_object_get(out, "sub")), "alice");
	} else {
		ck_assert_ptr_null(out);
	}
	json_decref(out);
	return st;
}

static void expect_refused(const char *t, const char *reason)
{
	const char *why = NULL;

	ck_assert_int_eq(verify(t, &why), ST_UNAUTHORIZED);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, reason);
}

/* header.payload.signature made by hand; sig may be "". */
static char *assemble(const char *header, const char *payload, const char *sig)
{
	char *h = auth_jwt_b64(header, strlen(header)), *p = auth_jwt_b64(payload, strlen(payload));
	char *t = NULL;

	ck_assert_int_ge(asprintf(&t, "%s.%s.%s", h, p, sig), 0);
	free(h);
	free(p);
	return t;
}

START_TEST(b64_round_trip_and_strictness)
{
	char out[64];
	unsigned char bin[64];
	size_t n;

	ck_assert_uint_eq(auth_b64_encode(out, "hello", 5, false), 8);
	ck_assert_str_eq(out, "aGVsbG8=");
	ck_assert_uint_eq(auth_b64_encode(out, "hello", 5, true), 7);
	ck_assert_str_eq(out, "aGVsbG8");
	ck_assert_uint_eq(auth_b64_encode(out, "\xfb\xff", 2, true), 3);
	ck_assert_str_eq(out, "-_8");
	ck_assert_uint_eq(auth_b64_encode(out, "", 0, false), 0);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aGVsbG8=", 8, false), ST_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(bin, "hello", 5) == 0);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aGVsbG8", 7, true), ST_OK);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aGVsbG8=", 8, true), ST_OK);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "-_8", 3, true), ST_OK);
	ck_assert(n == 2 && bin[0] == 0xfb && bin[1] == 0xff);
	/* padding required in the standard form, alphabets not mixed */
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aGVsbG8", 7, false), ST_INVALID);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "-_8=", 4, false), ST_INVALID);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "+/8", 3, true), ST_INVALID);
	/* a second spelling (non-zero trailing bits), a bad length, junk */
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aGVsbG9=", 8, false), ST_INVALID);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "a", 1, true), ST_INVALID);
	ck_assert_int_eq(auth_b64_decode(bin, sizeof(bin), &n, "aG Vs", 5, true), ST_INVALID);
	ck_assert_int_eq(auth_b64_decode(bin, 2, &n, "aGVsbG8", 7, true), ST_TOO_LARGE);
}
END_TEST

START_TEST(keys)
{
	char path[128], *pem = NULL;
	auth_key *k = NULL, *pub = NULL;
	struct stat sb;

	ck_assert_str_eq(auth_key_alg(ec), "ES256");
	ck_assert_uint_eq(strlen(auth_key_id(ec)), 59); /* 12 groups of 4, 11 colons */
	ck_assert_str_ne(auth_key_id(ec), auth_key_id(other));
	ck_assert_int_eq(auth_key_generate(&k, "HS256"), ST_INVALID);
	ck_assert_int_eq(auth_key_generate(&k, "none"), ST_INVALID);

	/* made on first load, the same key on the next */
	snprintf(path, sizeof(path), "%s/token.key", dir);
	ck_assert_int_eq(auth_key_load(&k, path, false, NULL, 0), ST_NOT_FOUND);
	ck_assert_int_eq(auth_key_load(&k, path, true, NULL, 0), ST_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(auth_key_load(&pub, path, true, NULL, 0), ST_OK);
	ck_assert_str_eq(auth_key_id(k), auth_key_id(pub));
	auth_key_free(pub);
	pub = NULL;

	/* its public half verifies what it signs */
	ck_assert_int_eq(auth_key_to_pem(&pem, k, false), ST_OK);
	ck_assert(strstr(pem, "BEGIN PUBLIC KEY") != NULL);
	ck_assert_int_eq(auth_key_from_pem(&pub, pem, strlen(pem), false), ST_OK);
	ck_assert_str_eq(auth_key_id(k), auth_key_id(pub));
	free(pem);
	ck_assert_int_eq(auth_key_to_pem(&pem, pub, true), ST_INVALID); /* no private half */
	ck_assert_ptr_null(pem);
	{
		char *t = NULL, *c = claims("registry", AUD, NOW + 60, 0);
		json_t *out = NULL;
		auth_jwt_trust tr = {"registry", pub, true};
		ck_assert_int_eq(auth_jwt_sign(&t, pub, c), ST_INVALID);
		t = sign(k, c);
		ck_assert_int_eq(auth_jwt_verify(&out, t, &tr, 1, AUD, NOW, NULL), ST_OK);
		json_decref(out);
		free(t);
		free(c);
	}
	auth_key_free(k);
	auth_key_free(pub);

	/* garbage, and a key that is not PEM */
	ck_assert_int_eq(auth_key_from_pem(&k, "junk", 4, true), ST_INVALID);
	ck_assert_int_eq(auth_key_from_pem(&k, "junk", 4, false), ST_INVALID);
	ck_assert_ptr_null(k);
	auth_key_free(NULL);
}
END_TEST

START_TEST(good_tokens)
{
	char *c = claims("registry", AUD, NOW + 60, NOW - 5), *t = sign(ec, c), *c2, *t2;
	const char *why = "unset";

	ck_assert_int_eq(verify(t, &why), ST_OK);
	ck_assert_ptr_null(why);
	/* RS256 from a trusted external issuer */
	ck_assert_int_eq(auth_key_generate(&rsa, "RS256"), ST_OK);
	ck_assert_str_eq(auth_key_alg(rsa), "RS256");
	c2 = claims("ext", AUD, NOW + 60, 0);
	t2 = sign(rsa, c2);
	ck_assert_int_eq(verify(t2, NULL), ST_OK);
	free(c);
	free(t);
	free(c2);
	free(t2);
	/* aud as an array holding ours; nbf within the leeway */
	c = strdup("{\"iss\":\"registry\",\"sub\":\"alice\",\"aud\":[\"x\",\"registry\"],"
		   "\"exp\":1700000060,\"nbf\":1700000010}");
	t = sign(ec, c);
	ck_assert_int_eq(verify(t, NULL), ST_OK);
	free(c);
	free(t);
}
END_TEST

START_TEST(forged_expired_early_audience)
{
	char *c, *t;

	c = claims("registry", AUD, NOW + 60, 0);
	t = sign(other, c); /* right issuer name, wrong key */
	expect_refused(t, "bad signature");
	free(t);
	free(c);

	c = claims("registry", AUD, NOW, 0); /* exp == now: expired */
	t = sign(ec, c);
	expect_refused(t, "expired");
	free(t);
	free(c);

	c = claims("registry", AUD, NOW - 1, 0);
	t = sign(ec, c);
	expect_refused(t, "expired");
	free(t);
	free(c);

	c = claims("registry", AUD, 0, 0); /* no exp at all */
	t = sign(ec, c);
	expect_refused(t, "no expiry");
	free(t);
	free(c);

	c = claims("registry", AUD, NOW + 600, NOW + AUTH_JWT_LEEWAY_SEC + 1);
	t = sign(ec, c);
	expect_refused(t, "not yet valid");
	free(t);
	free(c);

	c = claims("registry", "other-registry", NOW + 60, 0);
	t = sign(ec, c);
	expect_refused(t, "wrong audience");
	free(t);
	free(c);

	c = claims("somebody", AUD, NOW + 60, 0);
	t = sign(ec, c);
	expect_refused(t, "unknown issuer");
	free(t);
	free(c);
}
END_TEST

START_TEST(wrong_algorithms)
{
	char *c = claims("registry", AUD, NOW + 60, 0), *t, *pem = NULL, *sig;
	unsigned char mac[32];
	unsigned int maclen = 0;
	char *h, *p, *input = NULL;

	/* alg none, with and without a signature part */
	t = assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, "");
	expect_refused(t, "malformed token");
	free(t);
	t = assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, "AAAA");
	expect_refused(t, "algorithm not allowed");
	free(t);
	t = assemble("{\"typ\":\"JWT\"}", c, "AAAA");
	expect_refused(t, "algorithm not allowed");
	free(t);

	/* HS256 keyed with our public key's PEM: the classic key confusion */
	ck_assert_int_eq(auth_key_to_pem(&pem, ec, false), ST_OK);
	h = auth_jwt_b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27);
	p = auth_jwt_b64(c, strlen(c));
	ck_assert_int_ge(asprintf(&input, "%s.%s", h, p), 0);
	HMAC(EVP_sha256(), pem, (int)strlen(pem), (unsigned char *)input, strlen(input), mac,
	     &maclen);
	sig = auth_jwt_b64(mac, maclen);
	free(t = NULL);
	ck_assert_int_ge(asprintf(&t, "%s.%s", input, sig), 0);
	expect_refused(t, "algorithm not allowed");
	free(t);
	free(sig);
	free(input);
	free(h);
	free(p);
	free(pem);

	/* a header saying RS256 over an ES256 signature: no key of that kind */
	ck_assert_int_eq(auth_jwt_sign_raw(&t, ec, "{\"alg\":\"RS256\"}", c), ST_OK);
	expect_refused(t, "bad signature");
	free(t);
	/* ES384 claimed, P-256 key: the curve does not fit */
	ck_assert_int_eq(auth_jwt_sign_raw(&t, ec, "{\"alg\":\"ES384\"}", c), ST_OK);
	expect_refused(t, "bad signature");
	free(t);
	/* a critical extension we do not know */
	ck_assert_int_eq(auth_jwt_sign_raw(&t, ec, "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", c),
			 ST_OK);
	expect_refused(t, "critical header extension not understood");
	free(t);
	free(c);
}
END_TEST

START_TEST(tampered)
{
	char *c = claims("registry", AUD, NOW + 60, 0), *t = sign(ec, c), *evil, *t2 = NULL;
	char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
	size_t last;

	/* payload swapped for one granting more, signature kept */
	evil = strdup("{\"iss\":\"registry\",\"sub\":\"alice\",\"aud\":\"registry\",\"exp\":"
		      "1700000060,\"access\":[{\"type\":\"repository\",\"name\":\"a/b\","
		      "\"actions\":[\"pull\",\"push\",\"delete\"]}]}");
	{
		char *p = auth_jwt_b64(evil, strlen(evil));
		ck_assert_int_ge(asprintf(&t2, "%.*s.%s%s", (int)(dot1 - t), t, p, dot2), 0);
		free(p);
	}
	expect_refused(t2, "bad signature");
	free(t2);
	/* one signature character changed: to 'A' or 'Q', whose low 4 bits are
	 * zero, as the cut below must leave them ('B' for an 'A' made that a
	 * second spelling, "malformed", 1 time in 64) */
	last = strlen(t) - 5;
	t[last] = t[last] == 'A' ? 'Q' : 'A';
	expect_refused(t, "bad signature");
	/* a signature of the wrong length */
	t[strlen(t) - 4] = '\0';
	expect_refused(t, "bad signature");
	free(t);
	free(evil);
	free(c);
}
END_TEST

START_TEST(malformed)
{
	char *c = claims("registry", AUD, NOW + 60, 0), *t = sign(ec, c), *x = NULL, big[9000];
	json_t *out = NULL;
	auth_jwt_trust tr = {"registry", ec, true};

	expect_refused("", "malformed token");
	expect_refused("a.b", "malformed token");
	expect_refused("a.b.c.d", "malformed token");
	expect_refused("..", "malformed token");
	expect_refused("!!!.eyJ9.AAAA", "malformed token");
	ck_assert_int_ge(asprintf(&x, "%s.extra", t), 0);
	expect_refused(x, "malformed token");
	free(x);
	x = assemble("[1,2]", c, "AAAA"); /* header not an object */
	expect_refused(x, "malformed token");
	free(x);
	x = assemble("{\"alg\":\"ES256\"}", "{\"iss\":1}", "AAAA");
	expect_refused(x, "unknown issuer");
	free(x);
	x = assemble("{\"alg\":\"ES256\",\"alg\":\"none\"}", c, "AAAA"); /* duplicate key */
	expect_refused(x, "malformed token");
	free(x);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_refused(big, "token too long");
	ck_assert_int_eq(auth_jwt_verify(NULL, t, &tr, 1, AUD, NOW, NULL), ST_INVALID);
	ck_assert_int_eq(auth_jwt_verify(&out, NULL, &tr, 1, AUD, NOW, NULL), ST_INVALID);
	ck_assert_int_eq(auth_jwt_verify(&out, t, NULL, 1, AUD, NOW, NULL), ST_INVALID);
	ck_assert_int_eq(auth_jwt_verify(&out, t, &tr, 0, AUD, NOW, NULL), ST_UNAUTHORIZED);
	free(t);
	free(c);
}
END_TEST

/* A token signed with the server key `registry cert` writes verifies with
 * its certificate: what an external token server's set-up looks like. */
START_TEST(public_key_from_certificate)
{
	const char *names[] = {"tokens.example.com"};
	char path[128], *c, *t;
	auth_key *priv = NULL, *pub = NULL;
	auth_jwt_trust tr = {NULL, NULL, true};
	json_t *out = NULL;

	ck_assert_int_eq(auth_cert_make(dir, names, 1, 30, NULL, NULL, 0), ST_OK);
	snprintf(path, sizeof(path), "%s/server.key", dir);
	ck_assert_int_eq(auth_key_load(&priv, path, false, NULL, 0), ST_OK);
	snprintf(path, sizeof(path), "%s/server.crt", dir);
	ck_assert_int_eq(auth_key_load_public(&pub, path, NULL, 0), ST_OK);
	ck_assert_str_eq(auth_key_id(priv), auth_key_id(pub));
	c = claims("tokens", AUD, NOW + 60, 0);
	t = sign(priv, c);
	tr.issuer = "tokens";
	tr.key = pub;
	ck_assert_int_eq(auth_jwt_verify(&out, t, &tr, 1, AUD, NOW, NULL), ST_OK);
	json_decref(out);
	tr.key = ec;
	ck_assert_int_eq(auth_jwt_verify(&out, t, &tr, 1, AUD, NOW, NULL), ST_UNAUTHORIZED);
	free(c);
	free(t);
	auth_key_free(priv);
	auth_key_free(pub);
	snprintf(path, sizeof(path), "%s/nope.pem", dir);
	ck_assert_int_eq(auth_key_load_public(&pub, path, NULL, 0), ST_NOT_FOUND);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ck_assert_int_eq(auth_key_load(&pub, path, false, NULL, 0), ST_INVALID);
}
END_TEST

/* The signature of token t, decoded (R||S) into raw; its length. */
static size_t raw_sig(const char *t, unsigned char *raw, size_t cap)
{
	const char *sig = strrchr(t, '.') + 1;
	size_t n = 0;

	ck_assert_int_eq(auth_b64_decode(raw, cap, &n, sig, strlen(sig), true), ST_OK);
	return n;
}

/* ECDSA's (r, s) and (r, n - s) both verify: only the low S is taken, so a
 * token cannot be reshaped into another string that still verifies. */
START_TEST(ecdsa_low_s)
{
	static const char order_hex[] =
	    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
	BIGNUM *order = NULL, *half = BN_new(), *sv = NULL;
	unsigned char raw[64];
	char *c = claims("registry", AUD, NOW + 60, 0), *t, *sig64, *high;
	auth_jwt_trust strict = {"registry", ec, true}, lax = {"registry", ec, false};
	json_t *out = NULL;
	const char *why = NULL;

	ck_assert_int_gt(BN_hex2bn(&order, order_hex), 0);
	ck_assert_int_eq(BN_rshift1(half, order), 1);
	/* what we sign is always low S */
	for (int i = 0; i < 40; i++) {
		t = sign(ec, c);
		ck_assert_uint_eq(raw_sig(t, raw, sizeof(raw)), 64);
		sv = BN_bin2bn(raw + 32, 32, NULL);
		ck_assert_msg(BN_cmp(sv, half) <= 0, "signature %d has a high S", i);
		BN_free(sv);
		free(t);
	}
	/* the same signature with S turned high */
	t = sign(ec, c);
	raw_sig(t, raw, sizeof(raw));
	sv = BN_bin2bn(raw + 32, 32, NULL);
	ck_assert_int_eq(BN_sub(sv, order, sv), 1);
	ck_assert_int_eq(BN_bn2binpad(sv, raw + 32, 32), 32);
	sig64 = auth_jwt_b64(raw, 64);
	*strrchr(t, '.') = '\0';
	ck_assert_int_ge(asprintf(&high, "%s.%s", t, sig64), 0);
	ck_assert_int_eq(auth_jwt_verify(&out, high, &strict, 1, AUD, NOW, &why), ST_UNAUTHORIZED);
	ck_assert_str_eq(why, "bad signature");
	/* an issuer whose signer does not normalise S (Go's crypto/ecdsa) */
	ck_assert_int_eq(auth_jwt_verify(&out, high, &lax, 1, AUD, NOW, &why), ST_OK);
	json_decref(out);
	BN_free(sv);
	BN_free(order);
	BN_free(half);
	free(sig64);
	free(high);
	free(t);
	free(c);
}
END_TEST

Suite *make_jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("jwt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60); /* RSA key generation */
	tcase_add_test(tc, b64_round_trip_and_strictness);
	tcase_add_test(tc, keys);
	tcase_add_test(tc, good_tokens);
	tcase_add_test(tc, forged_expired_early_audience);
	tcase_add_test(tc, wrong_algorithms);
	tcase_add_test(tc, tampered);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, public_key_from_certificate);
	tcase_add_test(tc, ecdsa_low_s);
	suite_add_tcase(s, tc);
	return s;
}
