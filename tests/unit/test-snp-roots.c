/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pinned AMD certificates: the compiled-in copies equal the shipped PEM bundles in agent/amd/
 * (<product>.pem holding ARK, ASK, ASVK in that order),
 * match the fingerprints AMD's chain is known by, and really form ARK -> ASK/ASVK per product.
 * Also cross-checks them with the copies in the real-data corpus when it is present.
 */
#include <errno.h>

#include <openssl/pem.h>

#include "amd-roots.h"
#include "cleanup.h"
#include "testlib.h"

static const char *const file_stem[_AMD_PRODUCT_MAX] = {
        [AMD_PRODUCT_MILAN] = "milan",
        [AMD_PRODUCT_GENOA] = "genoa",
        [AMD_PRODUCT_TURIN] = "turin",
};

/* The SHA-256 fingerprints of the three ARKs as published with the corpus (vectors README §3). */
static const char *const ark_sha256[_AMD_PRODUCT_MAX] = {
        [AMD_PRODUCT_MILAN] = "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
        [AMD_PRODUCT_GENOA] = "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
        [AMD_PRODUCT_TURIN] = "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
};

/* The certificate at position @index (0-based) of the PEM bundle @path. */
static X509 *read_pem_bundle_entry(const char *path, int index)
{
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        X509 *x = NULL;

        if (!f)
                fail_msg("cannot open %s (run the tests from the top of the source tree)", path);
        for (int i = 0; i <= index; i++) {
                X509_free(x);
                x = PEM_read_X509(f, NULL, NULL, NULL);
                if (!x)
                        fail_msg("%s holds no certificate #%d", path, i);
        }
        return x;
}

static void cn_of(X509 *x, char *buf, size_t size)
{
        assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)size) > 0);
}

static void test_names(void **state)
{
        assert_string_equal(amd_product_name(AMD_PRODUCT_MILAN), "Milan");
        assert_string_equal(amd_product_name(AMD_PRODUCT_GENOA), "Genoa");
        assert_string_equal(amd_product_name(AMD_PRODUCT_TURIN), "Turin");
        assert_null(amd_product_name(AMD_PRODUCT_UNKNOWN));
        assert_null(amd_product_name(_AMD_PRODUCT_MAX));
        assert_int_equal(amd_product_from_name("Milan-B0"), AMD_PRODUCT_MILAN);
        assert_int_equal(amd_product_from_name("genoa"), AMD_PRODUCT_GENOA);
        assert_int_equal(amd_product_from_name("Turin"), AMD_PRODUCT_TURIN);
        assert_int_equal(amd_product_from_name("Tur"), AMD_PRODUCT_UNKNOWN);
        assert_int_equal(amd_product_from_name("Venice"), AMD_PRODUCT_UNKNOWN);
        assert_int_equal(amd_product_from_name(NULL), AMD_PRODUCT_UNKNOWN);
        assert_string_equal(amd_cert_role_name(AMD_CERT_ASVK), "ASVK");
        assert_null(amd_roots_pem(AMD_PRODUCT_UNKNOWN, AMD_CERT_ARK));
        assert_null(amd_roots_sha256(AMD_PRODUCT_MILAN, _AMD_CERT_ROLE_MAX));
}

static void test_embedded_equal_shipped(void **state)
{
        for (int p = AMD_PRODUCT_MILAN; p < _AMD_PRODUCT_MAX; p++)
                for (int role = 0; role < _AMD_CERT_ROLE_MAX; role++) {
                        _cleanup_(X509_freep) X509 *embedded = NULL, *shipped = NULL;
                        uint8_t md[32];
                        unsigned int n = 0;
                        char path[256];

                        /* The bundle order ARK, ASK, ASVK is the order of enum amd_cert_role. */
                        snprintf(path, sizeof(path), "agent/amd/%s.pem", file_stem[p]);
                        shipped = read_pem_bundle_entry(path, role);
                        assert_int_equal(amd_roots_load((enum amd_product)p, (enum amd_cert_role)role,
                                                        &embedded, NULL),
                                         0);
                        if (X509_cmp(embedded, shipped) != 0)
                                fail_msg("%s #%d differs from the compiled-in copy", path, role);
                        assert_int_equal(X509_digest(shipped, EVP_sha256(), md, &n), 1);
                        assert_memory_equal(
                                md, amd_roots_sha256((enum amd_product)p, (enum amd_cert_role)role), 32);
                }
}

static void test_ark_fingerprints(void **state)
{
        for (int p = AMD_PRODUCT_MILAN; p < _AMD_PRODUCT_MAX; p++) {
                _cleanup_free_ char *hex =
                        hex_encode(amd_roots_sha256((enum amd_product)p, AMD_CERT_ARK), 32);

                assert_string_equal(hex, ark_sha256[p]);
        }
}

/* ARK self-signed; ASK and ASVK issued by it, with the CNs the chain code relies on. */
static void test_hierarchy(void **state)
{
        for (int p = AMD_PRODUCT_MILAN; p < _AMD_PRODUCT_MAX; p++) {
                _cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL, *asvk = NULL;
                char cn[64], want[64];

                assert_int_equal(amd_roots_load((enum amd_product)p, AMD_CERT_ARK, &ark, NULL), 0);
                assert_int_equal(amd_roots_load((enum amd_product)p, AMD_CERT_ASK, &ask, NULL), 0);
                assert_int_equal(amd_roots_load((enum amd_product)p, AMD_CERT_ASVK, &asvk, NULL), 0);
                assert_int_equal(X509_verify(ark, X509_get0_pubkey(ark)), 1);
                assert_int_equal(X509_verify(ask, X509_get0_pubkey(ark)), 1);
                assert_int_equal(X509_verify(asvk, X509_get0_pubkey(ark)), 1);
                assert_int_equal(X509_verify(ask, X509_get0_pubkey(ask)), 0);

                cn_of(ark, cn, sizeof(cn));
                snprintf(want, sizeof(want), "ARK-%s", amd_product_name((enum amd_product)p));
                assert_string_equal(cn, want);
                cn_of(ask, cn, sizeof(cn));
                snprintf(want, sizeof(want), "SEV-%s", amd_product_name((enum amd_product)p));
                assert_string_equal(cn, want);
                cn_of(asvk, cn, sizeof(cn));
                snprintf(want, sizeof(want), "SEV-VLEK-%s", amd_product_name((enum amd_product)p));
                assert_string_equal(cn, want);
        }
}

/* The corpus holds the same certificates from three independent projects. */
static void test_corpus_copies(void **state)
{
        static const struct {
                const char *path;
                enum amd_product product;
                enum amd_cert_role role;
        } copies[] = {
                {"virtee-sev/amd-roots/milan_ark.pem", AMD_PRODUCT_MILAN, AMD_CERT_ARK},
                {"virtee-sev/amd-roots/genoa_ask.pem", AMD_PRODUCT_GENOA, AMD_CERT_ASK},
                {"virtee-sev/amd-roots/turin_ark.pem", AMD_PRODUCT_TURIN, AMD_CERT_ARK},
                {"go-sev-guest/trust/ask_ark_milan_vlek.pem", AMD_PRODUCT_MILAN, AMD_CERT_ASVK},
                {"go-sev-guest/trust/ask_ark_turin_vlek.pem", AMD_PRODUCT_TURIN, AMD_CERT_ASVK},
                {"go-sev-guest/trust/ask_ark_genoa.pem", AMD_PRODUCT_GENOA, AMD_CERT_ASK},
        };

        skip_without_vectors();
        for (size_t i = 0; i < ELEMENTSOF(copies); i++) {
                _cleanup_(X509_freep) X509 *embedded = NULL,
                                           *corpus = read_pem_bundle_entry(vector_path(copies[i].path), 0);

                assert_int_equal(amd_roots_load(copies[i].product, copies[i].role, &embedded, NULL), 0);
                if (X509_cmp(embedded, corpus) != 0)
                        fail_msg("%s differs from the pinned certificate", copies[i].path);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_embedded_equal_shipped),
                cmocka_unit_test(test_ark_fingerprints),
                cmocka_unit_test(test_hierarchy),
                cmocka_unit_test(test_corpus_copies),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
