/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure halves of the backends: maa (envelope, token checks, error bodies), skr (release
 * response with the real Key Vault vector, RFC 5649 unwrap), kbs (challenge, runtime data,
 * attestation reply, resource paths).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "jose.h"
#include "kbs.h"
#include "maa.h"
#include "skr.h"
#include "testlib.h"
#include "util.h"

/* ---- skr_unwrap -------------------------------------------------------------------------------------- */

static void test_unwrap_rfc5649(void **state)
{
        /* RFC 5649 §6, the 20-octet example. */
        uint8_t *kek, *key, *wrapped;
        size_t kek_n, key_n, wrapped_n;
        struct secret_buf out = {};
        struct cvm_error e = {};

        (void)state;
        assert_int_equal(
                hex_decode("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", SIZE_MAX, &kek, &kek_n), 0);
        assert_int_equal(hex_decode("c37b7e6492584340bed12207808941155068f738", SIZE_MAX, &key, &key_n), 0);
        assert_int_equal(hex_decode("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
                                    SIZE_MAX, &wrapped, &wrapped_n),
                         0);
        assert_int_equal(skr_unwrap(kek, kek_n, wrapped, wrapped_n, &out, &e), 0);
        assert_int_equal(out.size, key_n);
        assert_memory_equal(out.data, key, key_n);
        secret_buf_done(&out);

        wrapped[3] ^= 1;
        assert_int_equal(skr_unwrap(kek, kek_n, wrapped, wrapped_n, &out, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.message, "integrity"));
        assert_int_equal(skr_unwrap(kek, kek_n, wrapped, wrapped_n - 1, &out, NULL), -EBADMSG);
        assert_int_equal(skr_unwrap(kek, 20, wrapped, wrapped_n, &out, NULL), -EINVAL);
        assert_null(out.data);
        free(kek);
        free(key);
        free(wrapped);
}

/* ---- skr_release_parse with the real Key Vault response ------------------------------------------------- */

static void test_release_vector(void **state)
{
        _cleanup_free_ uint8_t *body = NULL;
        _cleanup_(json_object_putp) json_object *outer = NULL, *hdr = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL;
        STACK_OF(X509) *x5c = NULL, *trusted = sk_X509_new_null();
        struct skr_release rel = {};
        struct cvm_error e = {};
        time_t now;
        size_t n;
        json_object *v;

        (void)state;
        skip_without_vectors();
        read_vector("thomvanl-skr/keyvault-release-key-reponse-body.json", &body, &n);
        assert_int_equal(parse_rfc3339("2022-12-15T00:00:00Z", &now), 0);
        /* Trust the chain's own root (DigiCert Global Root G2) as the anchor. */
        assert_int_equal(canonjson_parse((char *)body, n, NULL, &outer, NULL), 0);
        assert_true(json_object_object_get_ex(outer, "value", &v));
        assert_int_equal(jws_parse(json_object_get_string(v), strlen(json_object_get_string(v)), &jws, NULL),
                         0);
        assert_true(json_object_object_get_ex(jws->header, "x5c", &v));
        assert_int_equal(jwk_parse_x5c(v, "x5c", &x5c, NULL), 0);
        assert_int_equal(sk_X509_num(x5c), 3);
        X509_up_ref(sk_X509_value(x5c, 2));
        sk_X509_push(trusted, sk_X509_value(x5c, 2));

        assert_int_equal(skr_release_parse((char *)body, n, trusted, "myvault.vault.azure.net", now, NULL,
                                           "CKM_RSA_AES_KEY_WRAP", &rel, &e),
                         0);
        assert_string_equal(rel.enc, "CKM_RSA_AES_KEY_WRAP");
        assert_string_equal(rel.wrap_kid, "TpmEphemeralEncryptionKey");
        assert_string_equal(rel.kty, "RSA-HSM");
        assert_int_equal(rel.ciphertext_size, 2640);
        skr_release_done(&rel);

        /* Wrong host, wrong time, wrong enc, a nonce that was never sent: refused. */
        assert_int_equal(
                skr_release_parse((char *)body, n, trusted, "evil.example", now, NULL, NULL, &rel, &e),
                -EKEYREJECTED);
        cvm_error_clear(&e);
        assert_int_equal(parse_rfc3339("2025-01-01T00:00:00Z", &now), 0);
        assert_int_equal(skr_release_parse((char *)body, n, trusted, NULL, now, NULL, NULL, &rel, &e),
                         -EKEYREJECTED);
        assert_non_null(strstr(e.message, "expired"));
        assert_int_equal(parse_rfc3339("2022-12-15T00:00:00Z", &now), 0);
        cvm_error_clear(&e);
        assert_int_equal(skr_release_parse((char *)body, n, trusted, NULL, now, NULL, "RSA_AES_KEY_WRAP_256",
                                           &rel, &e),
                         -EPROTO);
        cvm_error_clear(&e);
        assert_int_equal(skr_release_parse((char *)body, n, trusted, NULL, now, "abc", NULL, &rel, &e),
                         -EPROTO);
        assert_non_null(strstr(e.message, "request.nonce missing"));

        /* A tampered payload byte breaks the signature. */
        {
                char *p = strstr((char *)body, ".") + 10;
                *p = *p == 'A' ? 'B' : 'A';
                cvm_error_clear(&e);
                assert_int_equal(
                        skr_release_parse((char *)body, n, trusted, NULL, now, NULL, NULL, &rel, &e),
                        -EKEYREJECTED);
        }
        assert_null(rel.ciphertext);
        sk_X509_pop_free(x5c, X509_free);
        sk_X509_pop_free(trusted, X509_free);
        (void)hdr;
}

/* ---- maa envelope ---------------------------------------------------------------------------------------- */

static char *make_envelope(const uint8_t key[32], const char *jwt, const char *cipher, size_t iv_size)
{
        uint8_t iv[16] = {1, 2, 3}, tag[16], ct[512];
        int n, f;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        char *env, *out, *tok, *a, *b2, *d, *t;

        assert_true(strlen(jwt) < sizeof(ct));
        assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
        EVP_EncryptInit_ex(c, NULL, NULL, key, iv);
        EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)"Transport Key", 13);
        EVP_EncryptUpdate(c, ct, &n, (const uint8_t *)jwt, (int)strlen(jwt));
        EVP_EncryptFinal_ex(c, ct + n, &f);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
        EVP_CIPHER_CTX_free(c);
        a = b64_encode(ct, (size_t)n);
        b2 = b64_encode(iv, iv_size);
        d = b64_encode(tag, 16);
        t = b64_encode("inner-key", 9);
        assert_true(
                asprintf(&env,
                         "{\"Jwt\":\"%s\",\"EncryptedInnerKey\":\"%s\",\"EncryptionParams\":{\"BlockMode\":"
                         "\"ChainingModeGCM\",\"BlockPadding\":\"PKCS7\",\"Cipher\":\"%s\","
                         "\"KeySizeInBits\":256,"
                         "\"Iv\":\"%s\"},\"AuthenticationData\":\"%s\"}",
                         a, t, cipher, b2, d) > 0);
        tok = b64url_encode(env, strlen(env));
        assert_true(asprintf(&out, "{\"token\":\"%s\"}", tok) > 0);
        free(a);
        free(b2);
        free(d);
        free(t);
        free(env);
        free(tok);
        return out;
}

static void test_envelope(void **state)
{
        uint8_t key[32] = {9, 8, 7};
        struct maa_envelope env = {};
        struct cvm_error e = {};
        char *body, *jwt = NULL;

        (void)state;
        body = make_envelope(key, "aGVhZA.cGF5bG9hZA.c2ln", "AES", 12);
        assert_int_equal(maa_envelope_parse(body, strlen(body), &env, &e), 0);
        assert_memory_equal(env.inner_key, "inner-key", 9);
        assert_int_equal(maa_envelope_decrypt(&env, key, 32, &jwt, &e), 0);
        assert_string_equal(jwt, "aGVhZA.cGF5bG9hZA.c2ln");
        free(jwt);
        key[0] ^= 1;
        assert_int_equal(maa_envelope_decrypt(&env, key, 32, &jwt, &e), -EKEYREJECTED);
        assert_int_equal(maa_envelope_decrypt(&env, key, 16, &jwt, NULL), -EINVAL);
        maa_envelope_done(&env);
        free(body);

        body = make_envelope(key, "x", "DES", 12);
        assert_int_equal(maa_envelope_parse(body, strlen(body), &env, NULL), -EOPNOTSUPP);
        free(body);
        body = make_envelope(key, "x", "AES", 16);
        cvm_error_clear(&e);
        assert_int_equal(maa_envelope_parse(body, strlen(body), &env, &e), -EBADMSG);
        assert_non_null(strstr(e.message, "Iv is 16 bytes"));
        free(body);
        assert_int_equal(maa_envelope_parse("{\"token\":\"!!\"}", 14, &env, NULL), -EBADMSG);
        assert_int_equal(maa_envelope_parse("{}", 2, &env, NULL), -EBADMSG);
        assert_int_equal(maa_envelope_parse("[", 1, &env, NULL), -EBADMSG);
}

/* ---- maa token checks ---------------------------------------------------------------------------------- */

struct token_fixture {
        EVP_PKEY *signer, *eph, *other;
        json_object *jwks;
        uint8_t nonce[8];
};

static char *sign_claims(struct token_fixture *f, const char *iss, long exp, const char *nonce_b64,
                         EVP_PKEY *runtime_key, const char *compliance)
{
        _cleanup_(json_object_putp)
                json_object *c = json_object_new_object(),
                            *hdr = json_object_new_object(), *rt = json_object_new_object(),
                            *cp = json_object_new_object(), *keys = json_object_new_array(),
                            *tee = json_object_new_object(), *jwk = NULL;
        const char *text;
        char *out = NULL;

        assert_int_equal(jwk_from_pkey(runtime_key, 0, &jwk, NULL), 0);
        jose_add_string(jwk, "kid", "TpmEphemeralEncryptionKey");
        json_object_array_add(keys, TAKE_PTR(jwk));
        jose_add_string(cp, "nonce", nonce_b64);
        json_object_object_add(rt, "client-payload", TAKE_PTR(cp));
        json_object_object_add(rt, "keys", TAKE_PTR(keys));
        jose_add_string(tee, "x-ms-attestation-type", "sevsnpvm");
        jose_add_string(tee, "x-ms-compliance-status", compliance);
        jose_add_string(c, "iss", iss);
        json_object_object_add(c, "exp", json_object_new_int64(exp));
        json_object_object_add(c, "iat", json_object_new_int64(exp - 28800));
        json_object_object_add(c, "x-ms-runtime", TAKE_PTR(rt));
        json_object_object_add(c, "x-ms-isolation-tee", TAKE_PTR(tee));
        jose_add_string(hdr, "kid", "k1");
        jose_add_string(hdr, "jku", "https://evil.example/certs");
        text = json_object_to_json_string(c);
        assert_int_equal(jws_sign("RS256", f->signer, hdr, text, strlen(text), &out, NULL), 0);
        return out;
}

static void test_token(void **state)
{
        struct token_fixture f = {.nonce = "nonce!!"};
        _cleanup_(json_object_putp) json_object *jwk = NULL, *claims = NULL;
        _cleanup_free_ char *nb64 = b64_encode(f.nonce, sizeof(f.nonce));
        struct cvm_error e = {};
        time_t now = 1700000000;
        char *t;

        (void)state;
        f.signer = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        f.eph = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        f.other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        assert_int_equal(jwk_from_pkey(f.signer, 0, &jwk, NULL), 0);
        jose_add_string(jwk, "kid", "k1");
        assert_int_equal(canonjson_parse("{\"keys\":[]}", SIZE_MAX, NULL, &f.jwks, NULL), 0);
        json_object_array_add(json_object_object_get(f.jwks, "keys"), json_object_get(jwk));
        struct maa_expect x = {.issuer = "https://maa.example/",
                               .now = now,
                               .leeway = 60,
                               .nonce = f.nonce,
                               .nonce_size = sizeof(f.nonce),
                               .ephemeral_key = f.eph,
                               .tee_type = "sevsnpvm",
                               .compliance = "azure-compliant-cvm"};

        t = sign_claims(&f, "https://maa.example", now + 100, nb64, f.eph, "azure-compliant-cvm");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, &claims, &e), 0);
        assert_non_null(claims);
        /* Corrupt the signature. */
        t[strlen(t) - 20] = t[strlen(t) - 20] == 'A' ? 'B' : 'A';
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, NULL), -EKEYREJECTED);
        free(t);

        t = sign_claims(&f, "https://maa.example", now - 100, nb64, f.eph, "azure-compliant-cvm");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, &e), -EKEYEXPIRED);
        free(t);
        cvm_error_clear(&e);
        t = sign_claims(&f, "https://other.example", now + 100, nb64, f.eph, "azure-compliant-cvm");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, &e), -EPROTO);
        assert_non_null(strstr(e.message, "\"iss\""));
        free(t);
        cvm_error_clear(&e);
        t = sign_claims(&f, "https://maa.example", now + 100, "b3RoZXI=", f.eph, "azure-compliant-cvm");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, &e), -EPROTO);
        assert_non_null(strstr(e.message, "client-payload.nonce"));
        free(t);
        cvm_error_clear(&e);
        t = sign_claims(&f, "https://maa.example", now + 100, nb64, f.other, "azure-compliant-cvm");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, &e), -EPROTO);
        assert_non_null(strstr(e.message, "not our ephemeral vTPM key"));
        free(t);
        cvm_error_clear(&e);
        t = sign_claims(&f, "https://maa.example", now + 100, nb64, f.eph, "azure-noncompliant");
        assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, &e), -EPROTO);
        assert_non_null(strstr(e.message, "x-ms-compliance-status"));
        free(t);
        /* Signed by a key that is not in the JWKS under that kid: never fetched from "jku". */
        {
                EVP_PKEY *s = f.signer;
                f.signer = f.other;
                t = sign_claims(&f, "https://maa.example", now + 100, nb64, f.eph, "azure-compliant-cvm");
                f.signer = s;
                assert_int_equal(maa_token_verify(t, strlen(t), f.jwks, &x, NULL, NULL), -EKEYREJECTED);
                free(t);
        }
        json_object_put(f.jwks);
        EVP_PKEY_free(f.signer);
        EVP_PKEY_free(f.eph);
        EVP_PKEY_free(f.other);
}

static void test_error_describe(void **state)
{
        char buf[64];
        const char *azure = "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"quote:\\n bad\"}}";
        const char *imds = "{\"error\":\"invalid_request\",\"error_description\":\"no header\"}";
        const char *kbs = "{\"type\":\"https://x/errors/PolicyDeny\",\"detail\":\"denied\"}";

        (void)state;
        maa_error_describe(azure, strlen(azure), buf, sizeof(buf));
        assert_string_equal(buf, "InvalidParameter: quote:? bad");
        maa_error_describe(imds, strlen(imds), buf, sizeof(buf));
        assert_string_equal(buf, "invalid_request: no header");
        maa_error_describe(kbs, strlen(kbs), buf, sizeof(buf));
        assert_string_equal(buf, "https://x/errors/PolicyDeny: denied");
        maa_error_describe("<html>", 6, buf, sizeof(buf));
        assert_string_equal(buf, "");
        maa_error_describe(azure, strlen(azure), buf, 8);
        assert_string_equal(buf, "Invalid");
}

/* ---- kbs ------------------------------------------------------------------------------------------------ */

static void test_kbs(void **state)
{
        _cleanup_(json_object_putp) json_object *jwk = NULL, *rt = NULL;
        const char *h;
        char *nonce = NULL, *tok = NULL, *body = NULL;
        uint8_t d[64], want[48];
        size_t n;
        static const char jcs[] =
                "{\"additional-evidence\":\"\",\"nonce\":\"abc\",\"tee-pubkey\":{\"alg\":"
                "\"ECDH-ES+A256KW\",\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AQ\"}}";

        (void)state;
        assert_int_equal(kbs_challenge_parse("{\"nonce\":\"abc\"}", SIZE_MAX, &nonce, &h, NULL), 0);
        assert_string_equal(nonce, "abc");
        assert_string_equal(h, "sha384");
        free(nonce);
        assert_int_equal(
                kbs_challenge_parse("{\"nonce\":\"n\",\"extra-params\":{\"selected-hash-algorithm\":"
                                    "\"sha256\"}}",
                                    SIZE_MAX, &nonce, &h, NULL),
                0);
        assert_string_equal(h, "sha256");
        free(nonce);
        assert_int_equal(
                kbs_challenge_parse("{\"nonce\":\"n\",\"extra-params\":{\"selected-hash-algorithm\":"
                                    "\"md5\"}}",
                                    SIZE_MAX, &nonce, &h, NULL),
                -EOPNOTSUPP);
        assert_int_equal(kbs_challenge_parse("{\"nonce\":\"\"}", SIZE_MAX, &nonce, &h, NULL), -EBADMSG);
        assert_int_equal(kbs_challenge_parse("{}", SIZE_MAX, &nonce, &h, NULL), -EBADMSG);

        /* Runtime data hash = SHA-384 over the RFC 8785 text, member order independent. */
        assert_int_equal(
                canonjson_parse("{\"y\":\"AQ\",\"x\":\"AA\",\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":"
                                "\"ECDH-ES+A256KW\"}",
                                SIZE_MAX, NULL, &jwk, NULL),
                0);
        assert_int_equal(kbs_runtime_data("abc", jwk, "sha384", &rt, d, &n, NULL), 0);
        assert_int_equal(n, 48);
        assert_int_equal(EVP_Digest(jcs, strlen(jcs), want, NULL, EVP_sha384(), NULL), 1);
        assert_memory_equal(d, want, 48);
        assert_string_equal(json_object_get_string(json_object_object_get(rt, "nonce")), "abc");
        assert_int_equal(kbs_attest_request(rt, jwk, &body), 0);
        assert_non_null(strstr(body, "\"primary_evidence\""));
        free(body);

        assert_int_equal(kbs_attest_parse("{\"token\":\"a.b.c\"}", SIZE_MAX, &tok, NULL), 0);
        assert_string_equal(tok, "a.b.c");
        free(tok);
        assert_int_equal(kbs_attest_parse("{\"token\":\"a b\"}", SIZE_MAX, &tok, NULL), -EBADMSG);
        assert_int_equal(kbs_attest_parse("{\"token\":1}", SIZE_MAX, &tok, NULL), -EBADMSG);

        assert_true(kbs_resource_path_valid("default/key/root"));
        assert_true(kbs_resource_path_valid("a.b/c_d/e-f"));
        assert_false(kbs_resource_path_valid("default/key"));
        assert_false(kbs_resource_path_valid("default/key/root/x"));
        assert_false(kbs_resource_path_valid("../key/root"));
        assert_false(kbs_resource_path_valid("a//b"));
        assert_false(kbs_resource_path_valid("a/b/c?x"));
        assert_false(kbs_resource_path_valid(""));
}

static void test_skr_request(void **state)
{
        char *s = NULL;

        (void)state;
        assert_int_equal(skr_request_build("t.o.k", "RSA_AES_KEY_WRAP_256", "n1", &s), 0);
        assert_string_equal(s, "{\"target\":\"t.o.k\",\"enc\":\"RSA_AES_KEY_WRAP_256\",\"nonce\":\"n1\"}");
        free(s);
        assert_string_equal(skr_oaep_hash("CKM_RSA_AES_KEY_WRAP"), "sha1");
        assert_string_equal(skr_oaep_hash("RSA_AES_KEY_WRAP_384"), "sha384");
        assert_null(skr_oaep_hash("RSA1_5"));
        assert_null(skr_oaep_hash(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unwrap_rfc5649), cmocka_unit_test(test_release_vector),
                cmocka_unit_test(test_envelope),       cmocka_unit_test(test_token),
                cmocka_unit_test(test_error_describe), cmocka_unit_test(test_kbs),
                cmocka_unit_test(test_skr_request),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
