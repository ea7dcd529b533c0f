/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret wrapping: key loading in every accepted format, seal/unseal round trips for RSA and
 * symmetric keys, and rejection of wrong keys, altered ciphertext and a different binding.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/rsa.h>

#include "cleanup.h"
#include "luksb64.h"
#include "lukswrap.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_ENCODER_CTX *, OSSL_ENCODER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)

static EVP_PKEY *rsa2048, *rsa2048b, *rsa1024, *ec256;

static int setup(void **state)
{
        (void)state;
        rsa2048 = EVP_RSA_gen(2048);
        rsa2048b = EVP_RSA_gen(2048);
        rsa1024 = EVP_RSA_gen(1024);
        ec256 = EVP_EC_gen("P-256");
        return rsa2048 && rsa2048b && rsa1024 && ec256 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        EVP_PKEY_free(rsa2048);
        EVP_PKEY_free(rsa2048b);
        EVP_PKEY_free(rsa1024);
        EVP_PKEY_free(ec256);
        return 0;
}

/* Encodes @pkey; @selection public or keypair; @format "PEM"/"DER"; @structure may be NULL. */
static uint8_t *encode(EVP_PKEY *pkey, int selection, const char *format, const char *structure,
                       size_t *ret_size)
{
        _cleanup_(OSSL_ENCODER_CTX_freep) OSSL_ENCODER_CTX *ctx =
                OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, format, structure, NULL);
        uint8_t *data = NULL;

        assert_non_null(ctx);
        assert_int_equal(OSSL_ENCODER_to_data(ctx, &data, ret_size), 1);
        return data;
}

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";

static void binding(uint8_t b[LUKSTOKEN_BINDING_SIZE], uint8_t v)
{
        memset(b, v, LUKSTOKEN_BINDING_SIZE);
}

static void roundtrip_rsa(const uint8_t *pub, size_t pub_size)
{
        struct lukswrap_key key = {};
        struct lukstoken_wrap w = {};
        struct cvm_error err = {};
        uint8_t b[LUKSTOKEN_BINDING_SIZE], out[32];
        _cleanup_free_ uint8_t *priv = NULL;
        size_t priv_size;
        int r;

        binding(b, 7);
        r = lukswrap_load_key(pub, pub_size, &key, &err);
        if (r < 0)
                fail_msg("load: %s", err.message);
        assert_int_equal(key.alg, LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM);
        assert_int_equal(key.rsa_bits, 2048);
        assert_int_equal(lukswrap_seal(&key, secret, b, &w, &err), 0);
        assert_int_equal(w.ek_size, 256);
        lukswrap_key_done(&key);

        /* Released as DER PKCS#8, as Key Vault's key_hsm unwraps to. */
        priv = encode(rsa2048, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", &priv_size);
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                         0);
        assert_memory_equal(out, secret, 32);
}

static void test_rsa_formats(void **state)
{
        _cleanup_free_ uint8_t *pem = NULL, *der = NULL, *pkcs1 = NULL;
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        _cleanup_free_ uint8_t *nb = NULL, *eb = NULL;
        size_t pem_size, der_size, pkcs1_size;
        char jwk[2048], bundle[2100];
        char *ns, *es, *p;

        (void)state;
        pem = encode(rsa2048, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", &pem_size);
        roundtrip_rsa(pem, pem_size);
        der = encode(rsa2048, EVP_PKEY_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo", &der_size);
        roundtrip_rsa(der, der_size);
        pkcs1 = encode(rsa2048, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", &pkcs1_size);
        assert_non_null(memmem(pkcs1, pkcs1_size, "RSA PUBLIC KEY", 14));
        roundtrip_rsa(pkcs1, pkcs1_size);

        /* JWK with base64url n and e, and a Key Vault key bundle around it. */
        assert_int_equal(EVP_PKEY_get_bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_E, &e), 1);
        nb = malloc((size_t)BN_num_bytes(n));
        eb = malloc((size_t)BN_num_bytes(e));
        BN_bn2bin(n, nb);
        BN_bn2bin(e, eb);
        ns = luksb64_encode(nb, (size_t)BN_num_bytes(n));
        es = luksb64_encode(eb, (size_t)BN_num_bytes(e));
        for (char *s = ns; *s; s++)
                *s = *s == '+' ? '-' : *s == '/' ? '_' : *s;
        if ((p = strchr(ns, '=')))
                *p = '\0';
        if ((p = strchr(es, '=')))
                *p = '\0';
        snprintf(jwk, sizeof(jwk),
                 "{\"kty\":\"RSA-HSM\",\"n\":\"%s\",\"e\":\"%s\",\"key_ops\":[\"wrapKey\"]}", ns, es);
        roundtrip_rsa((const uint8_t *)jwk, strlen(jwk));
        snprintf(bundle, sizeof(bundle), "{\"key\":%s,\"attributes\":{}}", jwk);
        roundtrip_rsa((const uint8_t *)bundle, strlen(bundle));
        free(ns);
        free(es);
}

static void test_rsa_failures(void **state)
{
        struct lukswrap_key key = {};
        struct lukstoken_wrap w = {}, bad;
        struct cvm_error err = {};
        uint8_t b[LUKSTOKEN_BINDING_SIZE], b2[LUKSTOKEN_BINDING_SIZE], out[32] = {};
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL, *priv_b = NULL, *ecpriv = NULL;
        size_t pub_size, priv_size, priv_b_size, ecpriv_size;

        (void)state;
        binding(b, 1);
        binding(b2, 1);
        b2[100] ^= 1;
        pub = encode(rsa2048, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", &pub_size);
        priv = encode(rsa2048, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", &priv_size);
        priv_b = encode(rsa2048b, EVP_PKEY_KEYPAIR, "DER", "type-specific", &priv_b_size);
        ecpriv = encode(ec256, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", &ecpriv_size);
        assert_int_equal(lukswrap_load_key(pub, pub_size, &key, &err), 0);
        assert_int_equal(lukswrap_seal(&key, secret, b, &w, &err), 0);
        lukswrap_key_done(&key);

        /* PEM private key works too. */
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                         0);
        /* Another volume's binding. */
        memset(out, 0, sizeof(out));
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b2, out, &err),
                         -EKEYREJECTED);
        assert_true(is_all_zero(out, sizeof(out)));
        /* Another RSA key (PKCS#1 DER). */
        assert_int_equal(
                lukswrap_unseal(priv_b, priv_b_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                -EKEYREJECTED);
        /* Altered fields. */
        bad = w;
        bad.ek[10] ^= 1;
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &bad, b, out, &err),
                         -EKEYREJECTED);
        bad = w;
        bad.ct[0] ^= 1;
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &bad, b, out, &err),
                         -EKEYREJECTED);
        bad = w;
        bad.tag[15] ^= 1;
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &bad, b, out, &err),
                         -EKEYREJECTED);
        bad = w;
        bad.iv[0] ^= 1;
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &bad, b, out, &err),
                         -EKEYREJECTED);
        bad = w;
        bad.ek_size = 384;
        assert_int_equal(lukswrap_unseal(priv, priv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &bad, b, out, &err),
                         -EKEYREJECTED);
        /* Unusable material. */
        assert_int_equal(
                lukswrap_unseal(ecpriv, ecpriv_size, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                -EBADMSG);
        assert_int_equal(
                lukswrap_unseal((const uint8_t *)"junk", 4, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                -EBADMSG);
        assert_int_equal(lukswrap_unseal(secret, 32, LUKSWRAP_MATERIAL_SYMMETRIC, &w, b, out, &err),
                         -EOPNOTSUPP);
}

static void test_load_rejections(void **state)
{
        struct lukswrap_key key = {};
        struct cvm_error err = {};
        _cleanup_free_ uint8_t *small = NULL, *ec = NULL;
        size_t small_size, ec_size;
        static const char *const jwks[] = {
                "{\"kty\":\"oct\",\"k\":\"AAAA\"}",
                "{\"kty\":\"EC\",\"crv\":\"P-256\"}",
                "{\"n\":\"AQAB\"}",
                "{\"kty\":\"RSA\",\"n\":\"a+b/\",\"e\":\"AQAB\"}",
                "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
                "{\"kty\":",
        };
        static const int codes[] = {-EOPNOTSUPP, -EOPNOTSUPP, -EBADMSG, -EBADMSG, -EBADMSG, -EBADMSG};

        (void)state;
        small = encode(rsa1024, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", &small_size);
        assert_int_equal(lukswrap_load_key(small, small_size, &key, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.message, "RSA-1024"));
        ec = encode(ec256, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", &ec_size);
        assert_true(lukswrap_load_key(ec, ec_size, &key, &err) < 0);
        for (size_t i = 0; i < ELEMENTSOF(jwks); i++) {
                int r = lukswrap_load_key((const uint8_t *)jwks[i], strlen(jwks[i]), &key, &err);

                if (r != codes[i])
                        fail_msg("%s: %d, expected %d", jwks[i], r, codes[i]);
        }
        assert_int_equal(lukswrap_load_key((const uint8_t *)"garbage!", 8, &key, &err), -EBADMSG);
        assert_int_equal(lukswrap_load_key(secret, 31, &key, &err), -EBADMSG);
        assert_int_equal(lukswrap_load_key(secret, LUKSWRAP_MAX_INPUT + 1, &key, &err), -EFBIG);
}

static void test_symmetric(void **state)
{
        static const char jwk[] = "{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}";
        struct lukswrap_key key = {}, key2 = {};
        struct lukstoken_wrap w = {}, w2 = {};
        struct cvm_error err = {};
        uint8_t b[LUKSTOKEN_BINDING_SIZE], b2[LUKSTOKEN_BINDING_SIZE], out[32], other[32];

        (void)state;
        binding(b, 9);
        binding(b2, 9);
        b2[0] ^= 0x80;
        assert_int_equal(lukswrap_load_key(secret, 32, &key, &err), 0);
        assert_int_equal(key.alg, LUKSTOKEN_WRAP_A256GCM);
        assert_int_equal(lukswrap_seal(&key, secret, b, &w, &err), 0);
        assert_int_equal(w.ek_size, 0);
        /* Fresh IV per seal. */
        assert_int_equal(lukswrap_seal(&key, secret, b, &w2, &err), 0);
        assert_memory_not_equal(w.iv, w2.iv, sizeof(w.iv));
        assert_int_equal(lukswrap_unseal(secret, 32, LUKSWRAP_MATERIAL_SYMMETRIC, &w, b, out, &err), 0);
        assert_memory_equal(out, secret, 32);
        assert_int_equal(lukswrap_unseal(secret, 32, LUKSWRAP_MATERIAL_SYMMETRIC, &w, b2, out, &err),
                         -EKEYREJECTED);
        memcpy(other, secret, 32);
        other[31] ^= 1;
        assert_int_equal(lukswrap_unseal(other, 32, LUKSWRAP_MATERIAL_SYMMETRIC, &w, b, out, &err),
                         -EKEYREJECTED);
        assert_int_equal(lukswrap_unseal(other, 16, LUKSWRAP_MATERIAL_SYMMETRIC, &w, b, out, &err),
                         -EBADMSG);
        assert_int_equal(lukswrap_unseal(other, 32, LUKSWRAP_MATERIAL_RSA_PRIVATE, &w, b, out, &err),
                         -EOPNOTSUPP);
        /* The same key as an oct JWK. */
        assert_int_equal(lukswrap_load_key((const uint8_t *)jwk, strlen(jwk), &key2, &err), 0);
        assert_int_equal(key2.alg, LUKSTOKEN_WRAP_A256GCM);
        assert_memory_equal(key2.sym, secret, 32);
        lukswrap_key_done(&key);
        lukswrap_key_done(&key2);
        assert_int_equal(lukswrap_seal(&key, secret, b, &w, &err), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rsa_formats),
                cmocka_unit_test(test_rsa_failures),
                cmocka_unit_test(test_load_rejections),
                cmocka_unit_test(test_symmetric),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
