/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWK import/export: RFC 7520 §3 keys, RFC 7638 thumbprint, round trips for every key type,
 * x5c-only keys (the real MAA JWKS), and every rejection path of the importer.
 */
#include <errno.h>

#include "test-jose.h"

static int import_text(const char *text, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *jwk = json_tokener_parse(text);

        assert_non_null(jwk);
        return jwk_to_pkey(jwk, ret, err);
}

static void test_rfc7638_thumbprint(void **state)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7638-3.1.json");
        _cleanup_free_ char *thp = NULL;

        assert_int_equal(jwk_thumbprint_b64url(fx_obj(fx, "key"), &thp, NULL), 0);
        assert_string_equal(thp, fx_str(fx, "thumbprint"));
}

static void test_thumbprint_ignores_extra_members(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = gen_key("EC", "P-256", 0);
        _cleanup_(json_object_putp) json_object *jwk = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(jwk_from_pkey(k, 0, &jwk, NULL), 0);
        assert_int_equal(jwk_thumbprint_b64url(jwk, &a, NULL), 0);
        json_object_object_add(jwk, "kid", json_object_new_string("x"));
        json_object_object_add(jwk, "alg", json_object_new_string("ECDH-ES+A256KW"));
        assert_int_equal(jwk_thumbprint_b64url(jwk, &b, NULL), 0);
        assert_string_equal(a, b);
        assert_int_equal(strlen(a), 43);
        json_object_object_del(jwk, "y");
        assert_int_equal(jwk_thumbprint_b64url(jwk, &b, NULL), -EBADMSG);
}

static void test_thumbprint_oct_and_unknown(void **state)
{
        _cleanup_(json_object_putp) json_object *oct =
                json_tokener_parse("{\"kty\":\"oct\",\"k\":\"AAEC\"}");
        _cleanup_(json_object_putp) json_object *okp =
                json_tokener_parse("{\"kty\":\"OKP\",\"x\":\"AAEC\"}");
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n;

        assert_int_equal(jwk_thumbprint(oct, EVP_sha256(), md, &n, NULL), 0);
        assert_int_equal(n, 32);
        assert_int_equal(jwk_thumbprint(okp, EVP_sha256(), md, &n, NULL), -EOPNOTSUPP);
}

static void test_rfc7520_keys(void **state)
{
        static const struct {
                const char *fixture, *type;
                int bits;
        } keys[] = {
                {"rfc7520-4.1.json", "RSA", 2048}, /* §3.4 RSA private key */
                {"rfc7520-4.3.json", "EC", 521},   /* §3.2 P-521 private key */
                {"rfc7520-5.4.json", "EC", 384},   /* P-384 private key */
                {"rfc7520-5.5.json", "EC", 256},   /* P-256 private key */
                {"rfc7516-A.1.json", "RSA", 2048},
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_(json_object_putp) json_object *fx = jose_fixture(keys[i].fixture), *out = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = fx_key(fx), *back = NULL;
                json_object *orig = fx_obj(fx, "key");

                assert_string_equal(EVP_PKEY_get0_type_name(k), keys[i].type);
                assert_int_equal(EVP_PKEY_get_bits(k), keys[i].bits);
                /* Private export reproduces the RFC's members exactly. */
                assert_int_equal(jwk_from_pkey(k, JWK_EXPORT_PRIVATE, &out, NULL), 0);
                json_object_object_foreach (out, name, val) {
                        json_object *want;
                        assert_true(json_object_object_get_ex(orig, name, &want));
                        assert_string_equal(json_object_get_string(val), json_object_get_string(want));
                }
                assert_int_equal(jwk_to_pkey(out, &back, NULL), 0);
                assert_int_equal(EVP_PKEY_eq(k, back), 1);
        }
}

static const char *const rsa_members[] = {"kty", "n", "e", NULL};
static const char *const ec_members[] = {"kty", "crv", "x", "y", NULL};

static void test_roundtrip_generated(void **state)
{
        static const struct {
                const char *type, *curve;
                unsigned bits;
                const char *const *members;
        } cases[] = {
                {"RSA", NULL, 2048, rsa_members}, {"RSA", NULL, 3072, rsa_members},
                {"EC", "P-256", 0, ec_members},   {"EC", "P-384", 0, ec_members},
                {"EC", "P-521", 0, ec_members},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k =
                        gen_key(cases[i].type, cases[i].curve, cases[i].bits);
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL, *priv = NULL;
                _cleanup_(json_object_putp) json_object *jpub = NULL, *jpriv = NULL;
                size_t n = 0;

                assert_int_equal(jwk_from_pkey(k, 0, &jpub, NULL), 0);
                for (; cases[i].members[n]; n++)
                        assert_true(json_object_object_get_ex(jpub, cases[i].members[n], NULL));
                assert_int_equal((size_t)json_object_object_length(jpub), n);
                assert_int_equal(jwk_to_pkey(jpub, &pub, NULL), 0);
                assert_int_equal(EVP_PKEY_eq(k, pub), 1);

                assert_int_equal(jwk_from_pkey(k, JWK_EXPORT_PRIVATE, &jpriv, NULL), 0);
                assert_true(json_object_object_get_ex(jpriv, "d", NULL));
                assert_int_equal(jwk_to_pkey(jpriv, &priv, NULL), 0);
                assert_int_equal(EVP_PKEY_eq(k, priv), 1);
                if (cases[i].curve) {
                        const char *crv;
                        size_t fs;
                        assert_int_equal(jwk_ec_curve(priv, &crv, &fs), 0);
                        assert_string_equal(crv, cases[i].curve);
                }
        }
}

static void test_export_public_as_private_refused(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = gen_key("EC", "P-256", 0), *pub = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *r = gen_key("RSA", NULL, 2048), *rpub = NULL;
        _cleanup_(json_object_putp) json_object *j = NULL, *rj = NULL;
        json_object *out = NULL;

        assert_int_equal(jwk_from_pkey(k, 0, &j, NULL), 0);
        assert_int_equal(jwk_to_pkey(j, &pub, NULL), 0);
        assert_int_equal(jwk_from_pkey(pub, JWK_EXPORT_PRIVATE, &out, NULL), -EINVAL);
        assert_int_equal(jwk_from_pkey(r, 0, &rj, NULL), 0);
        assert_int_equal(jwk_to_pkey(rj, &rpub, NULL), 0);
        assert_int_equal(jwk_from_pkey(rpub, JWK_EXPORT_PRIVATE, &out, NULL), -EINVAL);
        assert_null(out);
}

static void test_unsupported_curve_export(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        json_object *out = NULL;

        assert_non_null(k);
        assert_int_equal(jwk_from_pkey(k, 0, &out, NULL), -EOPNOTSUPP);
        assert_int_equal(jwk_from_pkey(ed, 0, &out, NULL), -EOPNOTSUPP);
        assert_null(out);
}

static void test_import_errors(void **state)
{
        /* P-256 point of RFC 7515 A.3, reused to build variants. */
        static const struct {
                const char *jwk;
                int r;
                const char *msg;
        } cases[] = {
                {"{}", -EBADMSG, "JWK has no \"kty\" member"},
                {"[]", -EBADMSG, "JWK is not a JSON object"},
                {"{\"kty\":1}", -EBADMSG, "\"kty\" is not a string"},
                {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}", -EOPNOTSUPP,
                 "unsupported key type \"OKP\""},
                {"{\"kty\":\"oct\",\"k\":\"AAAA\"}", -EOPNOTSUPP, "secret key"},
                {"{\"kty\":\"EC\"}", -EBADMSG, "neither key members nor x5c"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}",
                 -EBADMSG, "no \"y\""},
                {"{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}", -EOPNOTSUPP,
                 "\"secp256k1\""},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                 -EBADMSG, "non-canonical"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                 -EBADMSG, "coordinates must be 32 bytes, got x 30 and y 32"},
                /* y with one bit changed: not on the curve. */
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5b0\"}",
                 -EBADMSG, "not on the curve"},
                /* d of another key. */
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-"
                 "YBIffH1136cLnT8EgfH3cTzP9kGkoFtM\"}",
                 -EBADMSG, "does not match x and y"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQ\"}",
                 -EBADMSG, "\"d\" must be 32 bytes, got 3"},
                {"{\"kty\":\"RSA\",\"e\":\"AQAB\"}", -EBADMSG, "no \"n\""},
                {"{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}", -EBADMSG, "\"n\" has 0 bytes"},
                {"{\"kty\":\"RSA\",\"n\":\"AAAA\",\"e\":\"AQAB\"}", -EBADMSG, "not a valid modulus"},
                {"{\"kty\":\"RSA\",\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-"
                 "XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-"
                 "QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-"
                 "OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_"
                 "vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\",\"e\":"
                 "\"AQAA\"}",
                 -EBADMSG, "exponent is not odd"},
                {"{\"kty\":\"RSA\",\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-"
                 "XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-"
                 "QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-"
                 "OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_"
                 "vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\",\"e\":"
                 "\"AQAB\",\"d\":\"AQAB\",\"p\":\"AQAB\"}",
                 -EBADMSG, "1 of the 5 CRT members"},
                {"{\"kty\":\"EC\",\"x5c\":\"MII\"}", -EBADMSG, "JWK x5c is not an array"},
                {"{\"kty\":\"EC\",\"x5c\":[]}", -EBADMSG, "JWK x5c is empty"},
                {"{\"kty\":\"EC\",\"x5c\":[1]}", -EBADMSG, "JWK x5c[0] is not a string"},
                {"{\"kty\":\"EC\",\"x5c\":[\"MII_\"]}", -EBADMSG,
                 "JWK x5c[0]: invalid base64 character 0x5f"},
                {"{\"kty\":\"EC\",\"x5c\":[\"AAAA\"]}", -EBADMSG,
                 "JWK x5c[0] is not a DER X.509 certificate"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                EVP_PKEY *k = NULL;
                struct cvm_error err = {};
                int r = import_text(cases[i].jwk, &k, &err);

                if (r != cases[i].r || !strstr(err.message, cases[i].msg))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, err.message, cases[i].r,
                                 cases[i].msg);
                assert_null(k);
        }
}

static void test_rsa_crt_mismatch(void **state)
{
        _cleanup_(json_object_putp) json_object *a = jose_fixture("rfc7516-A.1.json"),
                                                *b = jose_fixture("rfc7520-4.1.json");
        json_object *ka = fx_obj(a, "key"), *kb = fx_obj(b, "key"), *p;
        EVP_PKEY *k = NULL;
        struct cvm_error err = {};

        /* The prime p of another key. */
        assert_true(json_object_object_get_ex(kb, "p", &p));
        json_object_object_add(ka, "p", json_object_get(p));
        assert_int_equal(jwk_to_pkey(ka, &k, &err), -EBADMSG);
        assert_null(k);
}

static void test_oct(void **state)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7516-A.3.json");
        _cleanup_(json_object_putp) json_object *empty = json_tokener_parse("{\"kty\":\"oct\",\"k\":\"\"}");
        _cleanup_(json_object_putp) json_object *rsa = json_tokener_parse("{\"kty\":\"RSA\"}");
        _cleanup_(secret_buf_done) struct secret_buf k = {};
        struct secret_buf none = {};

        assert_int_equal(jwk_oct_key(fx_obj(fx, "key"), &k, NULL), 0);
        assert_int_equal(k.size, 16);
        assert_int_equal(k.data[0], 0x19); /* "GawgguFy..." */
        assert_int_equal(jwk_oct_key(empty, &none, NULL), -EBADMSG);
        assert_int_equal(jwk_oct_key(rsa, &none, NULL), -EOPNOTSUPP);
        assert_null(none.data);
}

/* The real MAA /certs keys: kty RSA + x5c only, no n/e. */
static void test_maa_jwks_x5c_keys(void **state)
{
        static const char *const sets[] = {"azure-sdk-for-cpp-maa/sharedwus.jwks.json",
                                           "azure-sdk-for-cpp-maa/cplarryoattestationaad.jwks.json"};

        skip_without_vectors();
        for (size_t s = 0; s < ELEMENTSOF(sets); s++) {
                _cleanup_free_ char *text = read_vector_text(sets[s]);
                _cleanup_(json_object_putp) json_object *jwks = NULL;
                json_object *keys;

                assert_int_equal(canonjson_parse(text, strlen(text), "JWKS", &jwks, NULL), 0);
                assert_true(json_object_object_get_ex(jwks, "keys", &keys));
                assert_int_equal(json_object_array_length(keys), 3);
                for (size_t i = 0; i < 3; i++) {
                        json_object *jwk = json_object_array_get_idx(keys, i);
                        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL, *k2 = NULL;
                        _cleanup_(json_object_putp) json_object *members = NULL;
                        struct cvm_error err = {};

                        if (jwk_to_pkey(jwk, &k, &err) < 0)
                                fail_msg("%s key %zu: %s", sets[s], i, err.message);
                        assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
                        assert_true(EVP_PKEY_get_bits(k) >= 2048);

                        /* Adding matching n/e is fine; a foreign n is not. */
                        assert_int_equal(jwk_from_pkey(k, 0, &members, NULL), 0);
                        json_object_object_foreach (members, name, val)
                                json_object_object_add(jwk, name, json_object_get(val));
                        assert_int_equal(jwk_to_pkey(jwk, &k2, NULL), 0);
                        json_object_object_add(
                                jwk, "n",
                                json_object_new_string(
                                        "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-"
                                        "XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-"
                                        "QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-"
                                        "OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0"
                                        "FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__"
                                        "kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"));
                        cvm_error_clear(&err);
                        EVP_PKEY *k3 = NULL;
                        assert_int_equal(jwk_to_pkey(jwk, &k3, &err), -EBADMSG);
                        assert_non_null(strstr(err.message, "do not match the x5c[0]"));
                        json_object_object_add(jwk, "kty", json_object_new_string("EC"));
                        cvm_error_clear(&err);
                        assert_int_equal(jwk_to_pkey(jwk, &k3, &err), -EBADMSG);
                        assert_non_null(strstr(err.message, "not of type EC"));
                }
        }
}

/* The HCL runtime keys inside a real SNP CVM token (midnight-maa-cvm). */
static void test_token_runtime_keys(void **state)
{
        _cleanup_free_ char *tok = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL;
        _cleanup_(json_object_putp) json_object *claims = NULL;
        json_object *keys;

        skip_without_vectors();
        tok = read_vector_text("midnight-maa-cvm/attestation.jwt");
        assert_int_equal(jws_parse(tok, strlen(tok), &jws, NULL), 0);
        assert_int_equal(jws_payload_json(jws, &claims, NULL), 0);
        assert_int_equal(jwt_claim_lookup(claims, "x-ms-isolation-tee.x-ms-runtime.keys", &keys), 0);
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
                _cleanup_(json_object_putp) json_object *back = NULL;
                json_object *n, *n2;

                assert_int_equal(jwk_to_pkey(json_object_array_get_idx(keys, i), &k, NULL), 0);
                assert_int_equal(EVP_PKEY_get_bits(k), 2048);
                /* Export gives back the same base64url modulus. */
                assert_int_equal(jwk_from_pkey(k, 0, &back, NULL), 0);
                assert_true(json_object_object_get_ex(back, "n", &n));
                assert_true(json_object_object_get_ex(json_object_array_get_idx(keys, i), "n", &n2));
                assert_string_equal(json_object_get_string(n), json_object_get_string(n2));
        }
        assert_int_equal(json_object_array_length(keys), 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc7638_thumbprint),
                cmocka_unit_test(test_thumbprint_ignores_extra_members),
                cmocka_unit_test(test_thumbprint_oct_and_unknown),
                cmocka_unit_test(test_rfc7520_keys),
                cmocka_unit_test(test_roundtrip_generated),
                cmocka_unit_test(test_export_public_as_private_refused),
                cmocka_unit_test(test_unsupported_curve_export),
                cmocka_unit_test(test_import_errors),
                cmocka_unit_test(test_rsa_crt_mismatch),
                cmocka_unit_test(test_oct),
                cmocka_unit_test(test_maa_jwks_x5c_keys),
                cmocka_unit_test(test_token_runtime_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
