/* SPDX-License-Identifier: Apache-2.0 */
/* AK public key import/export: every input format, and every error path with own fixtures. */
#include <errno.h>

#include "testlib.h"

#include <openssl/encoder.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "cleanup.h"
#include "tpmbuild.h"
#include "tpmkey.h"
#include "tpmwire.h"

static EVP_PKEY *rsa2048, *ec256, *ec384, *ec521;

static int setup(void **state)
{
        rsa2048 = gen_rsa(2048);
        ec256 = gen_ec("P-256");
        ec384 = gen_ec("P-384");
        ec521 = gen_ec("P-521");
        return 0;
}

static int teardown(void **state)
{
        EVP_PKEY_free(rsa2048);
        EVP_PKEY_free(ec256);
        EVP_PKEY_free(ec384);
        EVP_PKEY_free(ec521);
        return 0;
}

/* Loads @buf and checks it is @want, in @format. */
static void expect_key(const void *buf, size_t len, EVP_PKEY *want, enum tpmkey_format format)
{
        EVP_PKEY *k = NULL;
        struct tpmkey_info info = {};
        struct cvm_error err = {};
        int r;

        r = tpmkey_load(buf, len, &k, &info, &err);
        if (r < 0)
                fail_msg("tpmkey_load: %s", cvm_error_message(&err, r));
        assert_int_equal(info.format, format);
        assert_int_equal(EVP_PKEY_eq(k, want), 1);
        EVP_PKEY_free(k);
}

static void expect_error(const void *buf, size_t len, int code, const char *needle)
{
        EVP_PKEY *k = NULL;
        struct cvm_error err = {};
        int r = tpmkey_load(buf, len, &k, NULL, &err);

        if (r != code)
                fail_msg("expected %d, got %d (%s)", code, r, cvm_error_message(&err, r));
        assert_null(k);
        if (needle && !strstr(err.message, needle))
                fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static size_t to_pem(EVP_PKEY *k, const char *structure, char *out, size_t max)
{
        OSSL_ENCODER_CTX *ctx =
                OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_PUBLIC_KEY, "PEM", structure, NULL);
        unsigned char *data = NULL;
        size_t len = 0;

        assert_non_null(ctx);
        assert_int_equal(OSSL_ENCODER_to_data(ctx, &data, &len), 1);
        assert_true(len < max);
        memcpy(out, data, len);
        OPENSSL_free(data);
        OSSL_ENCODER_CTX_free(ctx);
        return len;
}

static size_t to_der(EVP_PKEY *k, uint8_t *out)
{
        unsigned char *p = out;
        int n = i2d_PUBKEY(k, &p);

        assert_true(n > 0);
        return (size_t)n;
}

static size_t to_jwk_text(EVP_PKEY *k, char *out, size_t max)
{
        json_object *jwk = NULL;
        const char *s;

        assert_int_equal(tpmkey_to_jwk(k, &jwk, NULL), 0);
        s = json_object_to_json_string(jwk);
        assert_true(strlen(s) < max);
        strcpy(out, s);
        json_object_put(jwk);
        return strlen(out);
}

static X509 *self_signed(EVP_PKEY *k)
{
        X509 *c = X509_new();

        assert_non_null(c);
        assert_int_equal(X509_set_version(c, 2), 1);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
        X509_gmtime_adj(X509_getm_notBefore(c), 0);
        X509_gmtime_adj(X509_getm_notAfter(c), 3600);
        assert_int_equal(X509_set_pubkey(c, k), 1);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, (const unsigned char *)"ak",
                                   -1, -1, 0);
        assert_int_equal(X509_set_issuer_name(c, X509_get_subject_name(c)), 1);
        assert_true(X509_sign(c, k, EVP_sha256()) > 0);
        return c;
}

static void test_rsa_formats(void **state)
{
        char text[8192];
        uint8_t der[4096];
        struct tb b = {}, sized = {};
        size_t n;
        X509 *cert;
        BIO *bio;
        char *pem;
        long pem_len;
        unsigned char *p = der;

        n = to_pem(rsa2048, "SubjectPublicKeyInfo", text, sizeof(text));
        expect_key(text, n, rsa2048, TPMKEY_FORMAT_PEM);
        n = to_pem(rsa2048, "type-specific", text, sizeof(text)); /* BEGIN RSA PUBLIC KEY */
        assert_non_null(strstr(text, "RSA PUBLIC KEY"));
        expect_key(text, n, rsa2048, TPMKEY_FORMAT_PEM);
        n = to_der(rsa2048, der);
        expect_key(der, n, rsa2048, TPMKEY_FORMAT_DER);
        n = to_jwk_text(rsa2048, text, sizeof(text));
        expect_key(text, n, rsa2048, TPMKEY_FORMAT_JWK);

        tb_rsa_public(&b, rsa2048);
        expect_key(b.d, b.n, rsa2048, TPMKEY_FORMAT_TPMT_PUBLIC);
        tb_2b(&sized, b.d, b.n);
        expect_key(sized.d, sized.n, rsa2048, TPMKEY_FORMAT_TPM2B_PUBLIC);

        cert = self_signed(rsa2048);
        bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_X509(bio, cert), 1);
        pem_len = BIO_get_mem_data(bio, &pem);
        expect_key(pem, (size_t)pem_len, rsa2048, TPMKEY_FORMAT_CERTIFICATE);
        n = (size_t)i2d_X509(cert, &p);
        expect_key(der, n, rsa2048, TPMKEY_FORMAT_CERTIFICATE);
        BIO_free(bio);
        X509_free(cert);
}

static void test_ec_formats(void **state)
{
        static const struct {
                EVP_PKEY **key;
                uint16_t curve;
                size_t field;
        } cases[] = {
                {&ec256, TPM_ECC_NIST_P256, 32},
                {&ec384, TPM_ECC_NIST_P384, 48},
                {&ec521, TPM_ECC_NIST_P521, 66},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                EVP_PKEY *k = *cases[i].key, *loaded = NULL;
                struct tpmkey_info info = {};
                char text[4096];
                uint8_t der[1024];
                struct tb b = {};
                size_t n;

                n = to_pem(k, "SubjectPublicKeyInfo", text, sizeof(text));
                expect_key(text, n, k, TPMKEY_FORMAT_PEM);
                n = to_der(k, der);
                expect_key(der, n, k, TPMKEY_FORMAT_DER);
                n = to_jwk_text(k, text, sizeof(text));
                expect_key(text, n, k, TPMKEY_FORMAT_JWK);
                tb_ecc_public(&b, k, cases[i].curve, cases[i].field);
                assert_int_equal(tpmkey_load(b.d, b.n, &loaded, &info, NULL), 0);
                assert_int_equal(EVP_PKEY_eq(loaded, k), 1);
                assert_true(info.has_tpm_public);
                assert_int_equal(info.type, TPM_ALG_ECC);
                assert_int_equal(info.curve, cases[i].curve);
                assert_int_equal(info.scheme, TPM_ALG_ECDSA);
                assert_int_equal(info.scheme_hash, TPM_ALG_SHA256);
                EVP_PKEY_free(loaded);
        }
}

static void test_tpm_info_and_name(void **state)
{
        EVP_PKEY *k = NULL;
        struct tpmkey_info info = {};
        json_object *j = NULL, *v;
        uint8_t digest[32];
        struct tb b = {};

        tb_rsa_public(&b, rsa2048);
        assert_int_equal(tpmkey_load(b.d, b.n, &k, &info, NULL), 0);
        assert_true(info.has_tpm_public);
        assert_int_equal(info.name_alg, TPM_ALG_SHA256);
        assert_int_equal(info.object_attributes, 0x00050072);
        assert_int_equal(info.scheme, TPM_ALG_RSASSA);
        /* name = 0x000b || sha256(TPMT_PUBLIC), computed here independently. */
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA256), b.d, b.n, digest), 0);
        assert_int_equal(info.name_size, 34);
        assert_int_equal(info.name[0], 0x00);
        assert_int_equal(info.name[1], 0x0b);
        assert_memory_equal(info.name + 2, digest, 32);

        assert_int_equal(tpmkey_info_to_json(k, &info, &j, NULL), 0);
        assert_true(json_object_object_get_ex(j, "format", &v));
        assert_string_equal(json_object_get_string(v), "tpmt_public");
        assert_true(json_object_object_get_ex(j, "key", &v));
        assert_string_equal(json_object_get_string(v), "rsa-2048");
        assert_true(json_object_object_get_ex(j, "scheme", &v));
        assert_string_equal(json_object_get_string(v), "rsassa");
        assert_true(json_object_object_get_ex(j, "object_attributes", &v));
        assert_string_equal(json_object_get_string(v), "0x00050072");
        assert_true(json_object_object_get_ex(j, "name", &v));
        assert_int_equal(strlen(json_object_get_string(v)), 68);
        assert_true(json_object_object_get_ex(j, "jwk", &v));
        json_object_put(j);
        EVP_PKEY_free(k);
}

static void test_tpmt_truncations(void **state)
{
        struct tb rsa = {}, ecc = {};

        tb_rsa_public(&rsa, rsa2048);
        tb_ecc_public(&ecc, ec384, TPM_ECC_NIST_P384, 48);
        for (size_t n = 0; n < rsa.n; n++) {
                EVP_PKEY *k = NULL;
                struct cvm_error err = {};

                assert_int_equal(tpmkey_from_tpm_public(rsa.d, n, false, &k, NULL, &err), -EBADMSG);
                assert_non_null(strstr(err.message, "TPMT_PUBLIC at offset 0x"));
        }
        for (size_t n = 0; n < ecc.n; n++) {
                EVP_PKEY *k = NULL;
                struct cvm_error err = {};

                assert_int_equal(tpmkey_from_tpm_public(ecc.d, n, false, &k, NULL, &err), -EBADMSG);
                assert_non_null(strstr(err.message, "truncated"));
        }
        /* Trailing bytes, in both framings. */
        {
                struct tb t = rsa, sized = {};
                EVP_PKEY *k = NULL;
                struct cvm_error err = {};

                tb_u8(&t, 0);
                assert_int_equal(tpmkey_from_tpm_public(t.d, t.n, false, &k, NULL, &err), -EBADMSG);
                assert_non_null(strstr(err.message, "1 trailing bytes"));
                tb_2b(&sized, t.d, t.n);
                cvm_error_clear(&err);
                assert_int_equal(tpmkey_load(sized.d, sized.n, &k, NULL, &err), -EBADMSG);
                assert_non_null(strstr(err.message, "TPM2B_PUBLIC"));
                /* Size field larger than the data. */
                sized.d[1]++;
                assert_int_equal(tpmkey_from_tpm_public(sized.d, sized.n, true, &k, NULL, NULL), -EBADMSG);
        }
}

/* Patches the big-endian u16 at @off of an RSA TPMT_PUBLIC and expects @code. */
static void patch16(const struct tb *orig, size_t off, uint16_t v, int code, const char *needle)
{
        struct tb b = *orig;

        b.d[off] = v >> 8;
        b.d[off + 1] = v & 0xff;
        expect_error(b.d, b.n, code, needle);
}

static void test_tpmt_errors(void **state)
{
        struct tb rsa = {}, ecc = {};
        EVP_PKEY *small = gen_rsa(512);

        tb_rsa_public(&rsa, rsa2048);
        tb_ecc_public(&ecc, ec256, TPM_ECC_NIST_P256, 32);
        /* RSA layout: type 0, nameAlg 2, attrs 4, authPolicy 8 (2+0), sym 10, scheme 12+14, keyBits 16,
         * exponent 18, unique 22. */
        patch16(&rsa, 12, 0x0099, -EOPNOTSUPP, "scheme");
        patch16(&rsa, 10, 0x0099, -EOPNOTSUPP, "symmetric");
        patch16(&rsa, 16, 1024, -EBADMSG, "keyBits");
        {
                struct tb b = rsa;

                b.d[21] = 4; /* exponent 4: even */
                expect_error(b.d, b.n, -EBADMSG, "exponent");
                b.d[21] = 1; /* exponent 1 */
                expect_error(b.d, b.n, -EBADMSG, "exponent");
        }
        {
                struct tb b = {};

                tb_rsa_public(&b, small);
                expect_error(b.d, b.n, -EOPNOTSUPP, "512 bits");
        }
        /* Keyed-hash and symmetric objects are not AKs. The type alone decides. */
        {
                struct tb b = {};

                tb_u16(&b, TPM_ALG_KEYEDHASH);
                tb_bytes(&b, rsa.d + 2, rsa.n - 2);
                assert_int_equal(tpmkey_from_tpm_public(b.d, b.n, false, &(EVP_PKEY *){NULL}, NULL, NULL),
                                 -EOPNOTSUPP);
                b.d[1] = 0x99;
                assert_int_equal(tpmkey_from_tpm_public(b.d, b.n, false, &(EVP_PKEY *){NULL}, NULL, NULL),
                                 -EOPNOTSUPP);
        }
        /* ECC layout: ..., scheme 12+14, curveID 16, kdf 18, x 20 (2+32), y 54 (2+32). */
        patch16(&ecc, 16, TPM_ECC_NIST_P192, -EOPNOTSUPP, "curve");
        patch16(&ecc, 16, 0x0010, -EOPNOTSUPP, "curve");
        patch16(&ecc, 18, 0x0099, -EOPNOTSUPP, "kdf");
        {
                struct tb b = ecc;

                b.d[60] ^= 1; /* y no longer on the curve */
                expect_error(b.d, b.n, -EBADMSG, "unique");
        }
        {
                /* Coordinates larger than the field. */
                struct tb b = {};
                uint8_t big[33] = {1};

                tb_bytes(&b, ecc.d, 20);
                tb_2b(&b, big, sizeof(big));
                tb_2b(&b, big, sizeof(big));
                expect_error(b.d, b.n, -EBADMSG, "field size");
        }
        {
                /* authPolicy larger than any digest. */
                struct tb b = {};
                uint8_t policy[65] = {};

                tb_bytes(&b, rsa.d, 8);
                tb_2b(&b, policy, sizeof(policy));
                tb_bytes(&b, rsa.d + 10, rsa.n - 10);
                expect_error(b.d, b.n, -EBADMSG, "authPolicy");
        }
        EVP_PKEY_free(small);
}

static void test_jwk_errors(void **state)
{
        static const struct {
                const char *json;
                int code;
                const char *needle;
        } cases[] = {
                {"{\"kty\":\"RSA\",\"e\":\"AQAB\"}", -EBADMSG, "\"n\""},
                {"{\"kty\":\"RSA\",\"n\":\"!!!!\",\"e\":\"AQAB\"}", -EBADMSG, "base64url"},
                /* jwk_to_pkey() judges a modulus under 512 bits malformed, before the AK size policy. */
                {"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", -EBADMSG, "bits"},
                {"{\"kty\":\"oct\",\"k\":\"AQAB\"}", -EOPNOTSUPP, "oct"},
                {"{\"n\":\"AQAB\"}", -EBADMSG, "kty"},
                {"{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", -EOPNOTSUPP, "P-192"},
                {"{\"kty\":\"EC\",\"crv\":\"prime256v1\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", -EOPNOTSUPP,
                 "curve"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", -EBADMSG, "32 bytes"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"AQAB\"}", -EBADMSG, "\"x\""},
                {"{\"keys\":[{\"kty\":\"RSA\"},{\"kty\":\"RSA\"}]}", -EBADMSG, "HCLAkPub"},
                {"{\"keys\":{}}", -EBADMSG, "not an array"},
                {"{\"keys\":[]}", -EBADMSG, "0 keys"},
                {"{\"kty\":\"RSA\"} x", -EBADMSG, "trailing"},
                {"{\"kty\":", -EBADMSG, "parse error"},
                {"{\"kty\":1}", -EBADMSG, "kty"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_error(cases[i].json, strlen(cases[i].json), cases[i].code, cases[i].needle);
}

static void test_jwk_exponent(void **state)
{
        json_object *jwk = NULL;
        char text[4096];
        EVP_PKEY *k = NULL;

        assert_int_equal(tpmkey_to_jwk(rsa2048, &jwk, NULL), 0);
        json_object_object_add(jwk, "e", json_object_new_string("AQ")); /* e = 1 */
        assert_int_equal(tpmkey_from_jwk(jwk, &k, NULL), -EBADMSG);
        json_object_object_add(jwk, "e", json_object_new_string("AAEAAQ")); /* leading zero: still 65537 */
        assert_int_equal(tpmkey_from_jwk(jwk, &k, NULL), 0);
        assert_int_equal(EVP_PKEY_eq(k, rsa2048), 1);
        EVP_PKEY_free(k);
        /* Padding is tolerated too. */
        json_object_object_add(jwk, "e", json_object_new_string("AQAB"));
        snprintf(text, sizeof(text), "%s", json_object_to_json_string(jwk));
        json_object_put(jwk);
        expect_key(text, strlen(text), rsa2048, TPMKEY_FORMAT_JWK);
}

static void test_jwk_set(void **state)
{
        json_object *a = NULL, *b = NULL, *set = json_object_new_object(), *keys = json_object_new_array();
        struct tpmkey_info info = {};
        EVP_PKEY *k = NULL;
        char text[8192];
        size_t n;

        assert_int_equal(tpmkey_to_jwk(ec384, &a, NULL), 0);
        assert_int_equal(tpmkey_to_jwk(rsa2048, &b, NULL), 0);
        json_object_object_add(a, "kid", json_object_new_string("HCLEkPub"));
        json_object_object_add(b, "kid", json_object_new_string("HCLAkPub"));
        json_object_array_add(keys, a);
        json_object_array_add(keys, b);
        json_object_object_add(set, "keys", keys);
        json_object_object_add(set, "user-data", json_object_new_string("00"));
        /* HCL runtime data is zero-padded: trailing NULs and blanks are fine. */
        n = (size_t)snprintf(text, sizeof(text), "%s   ", json_object_to_json_string(set));
        memset(text + n, 0, 16);
        assert_int_equal(tpmkey_load((uint8_t *)text, n + 16, &k, &info, NULL), 0);
        assert_string_equal(info.kid, "HCLAkPub");
        assert_int_equal(EVP_PKEY_eq(k, rsa2048), 1);
        EVP_PKEY_free(k);
        json_object_put(set);
}

static void test_garbage(void **state)
{
        static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
        static const char bad_pem[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        static const char bad_cert[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char text[1024];
        size_t n;

        expect_error("", 0, -EBADMSG, "empty");
        expect_error(junk, sizeof(junk), -EBADMSG, "unrecognised");
        expect_error("hello", 5, -EBADMSG, "unrecognised");
        expect_error(bad_pem, strlen(bad_pem), -EBADMSG, "PEM");
        expect_error(bad_cert, strlen(bad_cert), -EBADMSG, "certificate");
        assert_non_null(ed);
        n = to_pem(ed, "SubjectPublicKeyInfo", text, sizeof(text));
        expect_error(text, n, -EOPNOTSUPP, "ED25519");
        EVP_PKEY_free(ed);
}

static void test_describe(void **state)
{
        char buf[32];

        tpmkey_describe(rsa2048, buf, sizeof(buf));
        assert_string_equal(buf, "rsa-2048");
        tpmkey_describe(ec521, buf, sizeof(buf));
        assert_string_equal(buf, "ec-p521");
        assert_string_equal(tpmkey_format_name(TPMKEY_FORMAT_TPM2B_PUBLIC), "tpm2b_public");
}

static void test_base64(void **state)
{
        static const struct {
                const char *in;
                const char *hex; /* NULL: must fail */
        } cases[] = {
                {"", ""},         {"AQAB", "010001"}, {"AQ", "01"},       {"AQ==", "01"},  {"AQI", "0102"},
                {"AQI=", "0102"}, {"-_-_", "fbffbf"}, {"+/+/", "fbffbf"}, {"A", NULL},     {"AQ=", NULL},
                {"A===", NULL},   {"AQ=A", NULL},     {"AQ B", NULL},     {"AQ\nB", NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint8_t *out = NULL;
                size_t n = 0;
                int r = tpmwire_base64_decode(cases[i].in, strlen(cases[i].in), &out, &n);

                if (!cases[i].hex) {
                        if (r != -EINVAL)
                                fail_msg("'%s' decoded", cases[i].in);
                        continue;
                }
                assert_int_equal(r, 0);
                {
                        _cleanup_free_ char *hex = hex_encode(out, n);

                        assert_string_equal(hex, cases[i].hex);
                }
                free(out);
        }
        {
                static const uint8_t bytes[] = {0xfb, 0xff, 0xfe, 0x01};
                _cleanup_free_ char *s = b64url_encode(bytes, sizeof(bytes));

                assert_string_equal(s, "-__-AQ");
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rsa_formats),
                cmocka_unit_test(test_ec_formats),
                cmocka_unit_test(test_tpm_info_and_name),
                cmocka_unit_test(test_tpmt_truncations),
                cmocka_unit_test(test_tpmt_errors),
                cmocka_unit_test(test_jwk_errors),
                cmocka_unit_test(test_jwk_exponent),
                cmocka_unit_test(test_jwk_set),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_describe),
                cmocka_unit_test(test_base64),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
