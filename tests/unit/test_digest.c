/*
 * test_digest.c - digest parsing (the OCI grammar, our two algorithms, the
 * length bound) and hashing against published test vectors.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../../oci/digest.h"

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_EMPTY                                                                               \
	"sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0f" \
	"f8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                                                 \
	"sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a83" \
	"6ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

START_TEST(parse_valid)
{
	digest_alg alg = DIGEST_SHA512;

	ck_assert_int_eq(digest_parse(SHA256_EMPTY, &alg), ST_OK);
	ck_assert_int_eq(alg, DIGEST_SHA256);
	ck_assert_int_eq(digest_parse(SHA512_EMPTY, &alg), ST_OK);
	ck_assert_int_eq(alg, DIGEST_SHA512);
	/* out_alg is optional. */
	ck_assert_int_eq(digest_parse(SHA256_ABC, NULL), ST_OK);
}
END_TEST

START_TEST(parse_invalid)
{
	static const char *const bad[] = {
	    "",
	    ":",
	    "sha256",
	    "sha256:",
	    ":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    /* one hex digit short, one too many */
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	    /* a sha256-length encoding under sha512 */
	    "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    /* not hex, though allowed by the generic grammar */
	    "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85=",
	    /* characters outside the grammar */
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
	    "sha256 :e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:",
	    /* algorithm separators must sit between alphanumerics */
	    "-sha256:abc",
	    "sha256-:abc",
	    "sha+-256:abc",
	    "sha..256:abc",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(digest_parse(bad[i], NULL) == ST_INVALID, "'%s' accepted", bad[i]);
	ck_assert_int_eq(digest_parse(NULL, NULL), ST_INVALID);
}
END_TEST

START_TEST(parse_uppercase)
{
	digest_alg alg = DIGEST_SHA512;

	/* Hex must be lowercase, and the algorithm grammar is lowercase. */
	ck_assert_int_eq(
	    digest_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
			 &alg),
	    ST_INVALID);
	ck_assert_int_eq(
	    digest_parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852B855",
			 &alg),
	    ST_INVALID);
	ck_assert_int_eq(
	    digest_parse("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			 &alg),
	    ST_INVALID);
	/* Left alone on failure. */
	ck_assert_int_eq(alg, DIGEST_SHA512);
}
END_TEST

START_TEST(parse_unsupported)
{
	digest_alg alg = DIGEST_SHA512;

	ck_assert_int_eq(digest_parse("sha384:abc", &alg), ST_UNSUPPORTED);
	ck_assert_int_eq(alg, DIGEST_SHA512);
	ck_assert_int_eq(digest_parse("md5:d41d8cd98f00b204e9800998ecf8427e", NULL),
			 ST_UNSUPPORTED);
	/* Examples from the OCI image spec's descriptor grammar. */
	ck_assert_int_eq(
	    digest_parse("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", NULL),
	    ST_UNSUPPORTED);
	ck_assert_int_eq(
	    digest_parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", NULL),
	    ST_UNSUPPORTED);
	/* A well-formed algorithm name longer than any we know. */
	ck_assert_int_eq(digest_parse("averyveryveryveryverylongalgorithmname:abc", NULL),
			 ST_UNSUPPORTED);
}
END_TEST

START_TEST(parse_too_long)
{
	char s[DIGEST_MAX + 64];

	/* sha512 plus one hex digit: exactly DIGEST_MAX characters. */
	snprintf(s, sizeof(s), "%sa", SHA512_EMPTY);
	ck_assert_uint_eq(strlen(s), DIGEST_MAX);
	ck_assert_int_eq(digest_parse(s, NULL), ST_INVALID);
	/* Too long wins over an unknown algorithm. */
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	memcpy(s, "foo:", 4);
	ck_assert_int_eq(digest_parse(s, NULL), ST_INVALID);
	s[DIGEST_MAX - 1] = '\0'; /* DIGEST_MAX - 1 characters: in bounds */
	ck_assert_int_eq(digest_parse(s, NULL), ST_UNSUPPORTED);
}
END_TEST

START_TEST(alg_names)
{
	digest_alg alg = DIGEST_SHA256;

	ck_assert_int_eq(digest_alg_parse("sha512", &alg), ST_OK);
	ck_assert_int_eq(alg, DIGEST_SHA512);
	ck_assert_int_eq(digest_alg_parse("sha256", &alg), ST_OK);
	ck_assert_int_eq(alg, DIGEST_SHA256);
	ck_assert_int_eq(digest_alg_parse("sha256", NULL), ST_OK);
	ck_assert_int_eq(digest_alg_parse("sha384", &alg), ST_UNSUPPORTED);
	ck_assert_int_eq(digest_alg_parse("SHA256", &alg), ST_UNSUPPORTED);
	ck_assert_int_eq(digest_alg_parse("", &alg), ST_UNSUPPORTED);
	ck_assert_str_eq(digest_alg_name(DIGEST_SHA256), "sha256");
	ck_assert_str_eq(digest_alg_name(DIGEST_SHA512), "sha512");
}
END_TEST

START_TEST(buffer_vectors)
{
	char out[DIGEST_MAX];

	ck_assert_int_eq(digest_buffer(out, DIGEST_SHA256, "", 0), ST_OK);
	ck_assert_str_eq(out, SHA256_EMPTY);
	ck_assert_int_eq(digest_buffer(out, DIGEST_SHA512, "", 0), ST_OK);
	ck_assert_str_eq(out, SHA512_EMPTY);
	ck_assert_int_eq(digest_buffer(out, DIGEST_SHA256, "abc", 3), ST_OK);
	ck_assert_str_eq(out, SHA256_ABC);
	ck_assert_int_eq(digest_buffer(out, DIGEST_SHA512, "abc", 3), ST_OK);
	ck_assert_str_eq(out, SHA512_ABC);
	/* What we produce, we parse. */
	ck_assert_int_eq(digest_parse(out, NULL), ST_OK);
}
END_TEST

START_TEST(ctx_streaming)
{
	digest_ctx *ctx = NULL;
	char out[DIGEST_MAX];

	ck_assert_int_eq(digest_ctx_new(&ctx, DIGEST_SHA256), ST_OK);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(digest_ctx_alg(ctx), DIGEST_SHA256);
	digest_ctx_update(ctx, "a", 1);
	digest_ctx_update(ctx, NULL, 0); /* an empty chunk changes nothing */
	digest_ctx_update(ctx, "bc", 2);
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	ck_assert_str_eq(out, SHA256_ABC);

	ck_assert_int_eq(digest_ctx_new(&ctx, DIGEST_SHA512), ST_OK);
	ck_assert_int_eq(digest_ctx_alg(ctx), DIGEST_SHA512);
	digest_ctx_final(ctx, out);
	digest_ctx_free(ctx);
	ck_assert_str_eq(out, SHA512_EMPTY);

	digest_ctx_free(NULL);
}
END_TEST

Suite *make_digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, parse_invalid);
	tcase_add_test(tc, parse_uppercase);
	tcase_add_test(tc, parse_unsupported);
	tcase_add_test(tc, parse_too_long);
	tcase_add_test(tc, alg_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("hash");
	tcase_add_test(tc, buffer_vectors);
	tcase_add_test(tc, ctx_streaming);
	suite_add_tcase(s, tc);
	return s;
}
