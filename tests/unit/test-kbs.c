/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kbs_snp_cert_chain(): the SEV-SNP certificate table (configfs-tsm auxblob) -> the "cert_chain"
 * of Trustee snp evidence. Tables are built here from freshly made certificates.
 */
#include <errno.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "kbs.h"
#include "testlib.h"

#define VCEK "63da758d-e664-4564-adc5-f4b93be8accd"
#define VLEK "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
#define ASK  "4ab7b379-bbac-4fe4-a02f-05aef327c782"
#define ARK  "c0b406a4-a803-4952-9743-3fb6014cd0ae"
#define CRL  "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"

static uint8_t *cert_der; /* one self-signed certificate, reused for every entry */
static int cert_len;

static int setup(void **state)
{
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *x = X509_new();

        (void)state;
        assert_non_null(k);
        assert_non_null(x);
        assert_true(X509_set_version(x, 2) == 1);
        assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1);
        assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                               (const unsigned char *)"TEST-ONLY VCEK", -1, -1, 0) == 1);
        assert_true(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
        assert_true(X509_set_pubkey(x, k) == 1);
        assert_true(X509_sign(x, k, EVP_sha256()) > 0);
        cert_der = NULL;
        cert_len = i2d_X509(x, &cert_der);
        assert_true(cert_len > 0);
        X509_free(x);
        EVP_PKEY_free(k);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        OPENSSL_free(cert_der);
        return 0;
}

static void put_guid(uint8_t *p, const char *s)
{
        for (int i = 0; i < 16; i++) {
                unsigned v;

                while (*s == '-')
                        s++;
                assert_int_equal(sscanf(s, "%2x", &v), 1);
                p[i] = (uint8_t)v;
                s += 2;
        }
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* A table of @n entries (GUIDs @guids), each pointing at its own copy of the certificate. */
static uint8_t *table(const char *const *guids, size_t n, size_t *ret_size)
{
        size_t head = (n + 1) * KBS_SNP_CERT_ENTRY_SIZE, size = head + n * (size_t)cert_len;
        uint8_t *t = calloc(1, size);

        assert_non_null(t);
        for (size_t i = 0; i < n; i++) {
                put_guid(t + i * 24, guids[i]);
                put_le32(t + i * 24 + 16, (uint32_t)(head + i * (size_t)cert_len));
                put_le32(t + i * 24 + 20, (uint32_t)cert_len);
                memcpy(t + head + i * (size_t)cert_len, cert_der, (size_t)cert_len);
        }
        *ret_size = size;
        return t;
}

static void expect_bad(const uint8_t *t, size_t size, const char *needle)
{
        struct cvm_error err = {};
        json_object *chain = NULL;

        assert_int_equal(kbs_snp_cert_chain(t, size, &chain, NULL, &err), -EBADMSG);
        assert_null(chain);
        if (!strstr(err.message, needle))
                fail_msg("error \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_valid(void **state)
{
        static const char *const guids[] = {VCEK, CRL, ASK, ARK};
        struct cvm_error err = {};
        json_object *chain = NULL, *e, *v;
        uint8_t *t, *der;
        size_t size, der_size;
        bool vek = false;

        (void)state;
        t = table(guids, 4, &size);
        assert_int_equal(kbs_snp_cert_chain(t, size, &chain, &vek, &err), 3);
        assert_true(vek);
        assert_int_equal(json_object_array_length(chain), 3);
        e = json_object_array_get_idx(chain, 0);
        assert_true(json_object_object_get_ex(e, "cert_type", &v));
        assert_string_equal(json_object_get_string(v), "VCEK");
        assert_true(json_object_object_get_ex(e, "data", &v));
        assert_int_equal(b64_decode_flags(json_object_get_string(v), json_object_get_string_len(v), 0,
                                          "data", &der, &der_size, &err),
                         0);
        assert_int_equal(der_size, (size_t)cert_len);
        assert_memory_equal(der, cert_der, der_size);
        free(der);
        /* The CRL entry is skipped, the order is kept. */
        assert_true(json_object_object_get_ex(json_object_array_get_idx(chain, 1), "cert_type", &v));
        assert_string_equal(json_object_get_string(v), "ASK");
        assert_true(json_object_object_get_ex(json_object_array_get_idx(chain, 2), "cert_type", &v));
        assert_string_equal(json_object_get_string(v), "ARK");
        json_object_put(chain);
        free(t);
}

static void test_empty_and_no_vek(void **state)
{
        static const char *const guids[] = {ASK, CRL};
        json_object *chain = NULL;
        uint8_t zero[24] = {}, *t;
        size_t size;
        bool vek = true;

        (void)state;
        /* No table at all: an empty chain (the verifier may fetch the VCEK itself). */
        assert_int_equal(kbs_snp_cert_chain(NULL, 0, &chain, &vek, NULL), 0);
        assert_false(vek);
        assert_int_equal(json_object_array_length(chain), 0);
        json_object_put(chain);
        /* Only a terminator (padded out, as the kernel's page-sized buffer is). */
        vek = true;
        assert_int_equal(kbs_snp_cert_chain(zero, sizeof(zero), &chain, &vek, NULL), 0);
        assert_false(vek);
        json_object_put(chain);
        t = table(guids, 2, &size);
        vek = true;
        assert_int_equal(kbs_snp_cert_chain(t, size, &chain, &vek, NULL), 1);
        assert_false(vek);
        json_object_put(chain);
        free(t);
        /* A VLEK counts as the signing key. */
        static const char *const vlek[] = {VLEK};
        t = table(vlek, 1, &size);
        assert_int_equal(kbs_snp_cert_chain(t, size, &chain, &vek, NULL), 1);
        assert_true(vek);
        json_object_put(chain);
        free(t);
}

static void test_malformed(void **state)
{
        static const char *const guids[] = {VCEK, ASK};
        static const char *const dup[] = {VCEK, VCEK};
        uint8_t *t, many[(KBS_SNP_CERT_MAX + 2) * 24];
        size_t size;

        (void)state;
        t = table(guids, 2, &size);
        /* Truncated inside the entry list. */
        expect_bad(t, 20, "entry 0 truncated");
        expect_bad(t, 30, "entry 0 (VCEK): offset 72 length");
        /* No terminator: the certificate right after the one entry is read as entries. */
        memmove(t + 24, t + 72, (size_t)cert_len);
        put_le32(t + 16, 24);
        expect_bad(t, 24 + (size_t)cert_len, "truncated, no all-zero terminator");
        free(t);
        t = table(guids, 2, &size);
        /* Truncated certificate data: entry 1 points past the end. */
        expect_bad(t, size - 1, "certificate table entry 1 (ASK): offset");
        /* Offset + length overflowing 32 bits must not wrap around. */
        put_le32(t + 24 + 16, 0xffffff00u);
        put_le32(t + 24 + 20, 0x200u);
        expect_bad(t, size, "certificate table entry 1 (ASK): offset 4294967040");
        /* Zero length. */
        put_le32(t + 24 + 16, 72);
        put_le32(t + 24 + 20, 0);
        expect_bad(t, size, "entry 1 (ASK): offset 72 length 0");
        /* Not a certificate. */
        put_le32(t + 24 + 20, 10);
        expect_bad(t, size, "entry 1 (ASK): not one DER X.509 certificate");
        /* A certificate plus trailing bytes inside its length. */
        put_le32(t + 24 + 20, (uint32_t)cert_len + 1);
        put_le32(t + 16, 72);
        put_le32(t + 20, (uint32_t)cert_len + 1);
        expect_bad(t, size, "entry 0 (VCEK): not one DER X.509 certificate");
        free(t);
        t = table(dup, 2, &size);
        expect_bad(t, size, "certificate table entry 1: a second VCEK");
        free(t);
        /* More entries than any host sends (all CRL-type, skipped, then no terminator in time). */
        memset(many, 0, sizeof(many));
        for (size_t i = 0; i <= KBS_SNP_CERT_MAX; i++)
                put_guid(many + i * 24, CRL);
        expect_bad(many, sizeof(many), "more than 16 entries");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_empty_and_no_vek),
                cmocka_unit_test(test_malformed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
