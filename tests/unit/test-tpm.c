/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tpm adapter: TSS2_RC translation and argument parsing without a TPM, then every
 * operation against a throw-away swtpm (skipped, with the reason printed, when swtpm is not
 * installed). Results are checked independently with OpenSSL, not with the adapter itself.
 */
#include <errno.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "../vtpm/swtpm-harness.h"
#include "cleanup.h"
#include "hashalg.h"
#include "testlib.h"
#include "tpm.h"

#define TEST_NV_INDEX 0x01500010u
#define AK            TPM_AZURE_AK_HANDLE

static struct swtpm_harness swtpm;
static bool have_swtpm;

static void need_swtpm(void)
{
        if (!have_swtpm) {
                printf("SKIP: swtpm is not installed (apt-get install swtpm); TPM integration tests "
                       "skipped\n");
                skip();
        }
}

static struct tpm *open_tpm(void)
{
        struct cvm_error err = {};
        struct tpm *t = NULL;
        int r;

        r = tpm_open(swtpm.tcti, &t, &err);
        if (r < 0)
                fail_msg("tpm_open(%s): %s", swtpm.tcti, cvm_error_message(&err, r));
        return t;
}

/* ------------------------------------------------------------------------------------------------ */
/* without a TPM */

static void test_rc_error(void **state)
{
        struct cvm_error err = {};

        assert_int_equal(tpm_rc_error(TPM2_RC_LOCKOUT, "TPM2_Quote", &err), -EACCES);
        assert_non_null(strstr(err.message, "TPM2_Quote: dictionary-attack lockout"));
        assert_non_null(strstr(err.message, "(TPM rc 0x921)"));

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_HANDLE | TPM2_RC_1, "x", &err), -ENOENT);
        assert_non_null(strstr(err.message, "handle missing"));
        assert_non_null(strstr(err.message, ", handle 1)"));

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_POLICY_FAIL | TPM2_RC_S | TPM2_RC_1, "x", &err), -EACCES);
        assert_non_null(strstr(err.message, "policy check failed"));
        assert_non_null(strstr(err.message, ", session 1)"));

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_2, "x", &err), -EINVAL);
        assert_non_null(strstr(err.message, ", parameter 2)"));

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_NV_LOCKED, "x", &err), -EPERM);
        assert_non_null(strstr(err.message, "NV index is locked"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_NV_UNINITIALIZED, "x", &err), -ENODATA);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1, "x", &err), -EACCES);
        assert_non_null(strstr(err.message, "dictionary-attack counter"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_1, "x", &err), -EACCES);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_RETRY, "x", &err), -EAGAIN);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_OBJECT_MEMORY, "x", &err), -ENOSPC);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_COMMAND_CODE, "x", &err), -EOPNOTSUPP);

        /* The resource manager's TPM layer carries TPM codes too. */
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_LOCKOUT, "x", &err), -EACCES);
        assert_non_null(strstr(err.message, "lockout"));

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TSS2_TCTI_RC_IO_ERROR, "x", &err), -EIO);
        assert_non_null(strstr(err.message, "TCTI rc"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TSS2_TCTI_RC_NO_CONNECTION, "x", &err), -ECONNREFUSED);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TSS2_ESYS_RC_MEMORY, "x", &err), -ENOMEM);

        /* Unknown codes still get words (tss2-rc's decoding) and -EIO. */
        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(TPM2_RC_VER1 + 0x7e, "x", &err), -EIO);
        assert_true(strlen(err.message) > 10);

        cvm_error_clear(&err);
        assert_int_equal(tpm_rc_error(0, "x", &err), -EINVAL);
        assert_non_null(tpm_rc_meaning(TPM2_RC_NV_SPACE));
        assert_int_equal(tpm_rc_error(TPM2_RC_LOCKOUT, "no error struct", NULL), -EACCES);
}

static void test_parse(void **state)
{
        uint32_t m, h;

        assert_int_equal(tpm_parse_pcr_list("0-7", &m), 0);
        assert_int_equal(m, 0xff);
        assert_int_equal(tpm_parse_pcr_list("0,2,4-5,23", &m), 0);
        assert_int_equal(m, 0x800035);
        assert_int_equal(tpm_parse_pcr_list("all", &m), 0);
        assert_int_equal(m, 0xffffff);
        assert_int_equal(tpm_parse_pcr_list("24", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("7-3", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("1,", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("a", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("1-", &m), -EINVAL);
        assert_int_equal(tpm_parse_pcr_list("99999999999999999999", &m), -EINVAL);

        assert_int_equal(tpm_parse_handle("0x81000003", &h), 0);
        assert_int_equal(h, 0x81000003u);
        assert_int_equal(tpm_parse_handle("16", &h), 0);
        assert_int_equal(h, 16);
        assert_int_equal(tpm_parse_handle("0x1ffffffff", &h), -EINVAL);
        assert_int_equal(tpm_parse_handle("-1", &h), -EINVAL);
        assert_int_equal(tpm_parse_handle("0x81x", &h), -EINVAL);
        assert_int_equal(tpm_parse_handle("", &h), -EINVAL);
}

static void test_open_failures(void **state)
{
        struct cvm_error err = {};
        struct tpm *t = NULL;
        int r;

        /* Nothing listens on port 1: the TCTI cannot connect. */
        r = tpm_open("swtpm:host=127.0.0.1,port=1", &t, &err);
        assert_true(r < 0);
        assert_null(t);
        assert_non_null(strstr(err.message, "cannot open TPM through TCTI 'swtpm:host=127.0.0.1,port=1'"));

        cvm_error_clear(&err);
        r = tpm_open("no-such-tcti-module", &t, &err);
        assert_true(r < 0);
        assert_non_null(strstr(err.message, "no-such-tcti-module"));

        /* The default is the kernel resource manager; this build machine has no TPM. */
        if (access("/dev/tpmrm0", F_OK) != 0) {
                cvm_error_clear(&err);
                r = tpm_open(NULL, &t, &err);
                assert_true(r < 0);
                assert_non_null(strstr(err.message, "device:/dev/tpmrm0"));
        }
}

/* ------------------------------------------------------------------------------------------------ */
/* against swtpm */

static void test_properties(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        uint32_t c;

        assert_int_equal(tpm_nv_buffer_max(t, &err), 1024); /* libtpms' MAX_NV_BUFFER_SIZE */
        assert_int_equal(tpm_lockout_counter(t, &c, &err), 0);
        assert_int_equal(c, 0);
}

static void test_pcr_read(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_pcrs p;
        uint8_t zero[64] = {}, ff[64];

        memset(ff, 0xff, sizeof(ff));
        /* All 24 need three TPM2_PCR_Read round trips (8 digests each). */
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 0xffffff, &p, &err), 0);
        assert_int_equal(p.digest_size, 32);
        assert_int_equal(p.mask, 0xffffff);
        for (unsigned i = 0; i < 16; i++)
                assert_memory_equal(p.digest[i], zero, 32);
        assert_memory_equal(p.digest[17], ff, 32); /* D-RTM PCRs start at all-ones */

        for (uint16_t alg = TPM_ALG_SHA1; alg; alg = alg == TPM_ALG_SHA1     ? TPM_ALG_SHA384
                                                     : alg == TPM_ALG_SHA384 ? TPM_ALG_SHA512
                                                                             : 0) {
                assert_int_equal(tpm_pcr_read(t, alg, 0x1, &p, &err), 0);
                assert_int_equal(p.digest_size, hash_alg_by_tpm_id(alg)->size);
        }

        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 0, &p, &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 1u << 24, &p, &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_pcr_read(t, 0x7777, 1, &p, &err), -EOPNOTSUPP);
        cvm_error_clear(&err);
        /* SM3 is a known algorithm, but swtpm has no such bank. */
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SM3_256, 1, &p, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.message, "TPM2_PCR_Read"));
}

static void test_pcr_extend(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_pcrs before256, before1, after;
        uint8_t d1[20], d256[32], expect[64];
        const uint8_t *ds[2] = {d1, d256};
        uint16_t algs[2] = {TPM_ALG_SHA1, TPM_ALG_SHA256};

        memset(d1, 0x11, sizeof(d1));
        memset(d256, 0x22, sizeof(d256));
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 1u << 16, &before256, &err), 0);
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA1, 1u << 16, &before1, &err), 0);
        assert_int_equal(tpm_pcr_extend(t, 16, 2, algs, ds, &err), 0);

        memcpy(expect, before256.digest[16], 32);
        assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA256), expect, d256), 0);
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 1u << 16, &after, &err), 0);
        assert_memory_equal(after.digest[16], expect, 32);

        memcpy(expect, before1.digest[16], 20);
        assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA1), expect, d1), 0);
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA1, 1u << 16, &after, &err), 0);
        assert_memory_equal(after.digest[16], expect, 20);

        assert_int_equal(tpm_pcr_extend(t, 24, 1, algs + 1, ds + 1, &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_pcr_extend(t, 16, 0, algs, ds, &err), -EINVAL);
        cvm_error_clear(&err);
        /* PCR 17 (D-RTM) cannot be extended from locality 0. */
        assert_int_equal(tpm_pcr_extend(t, 17, 1, algs + 1, ds + 1, &err), -EACCES);
        assert_non_null(strstr(err.message, "TPM2_PCR_Extend of PCR 17"));
}

/* The AK's OpenSSL key, from the marshaled TPM2B_PUBLIC (independently of the adapter). */
static EVP_PKEY *pkey_from_tpm2b(const struct tpm_blob *pub, TPM2B_PUBLIC *ret_p)
{
        TPM2B_PUBLIC p = {};
        size_t off = 0;
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params;
        BIGNUM *n, *e;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        EVP_PKEY *key = NULL;

        assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub->data, pub->size, &off, &p), 0);
        assert_int_equal(off, pub->size);
        assert_int_equal(p.publicArea.type, TPM2_ALG_RSA);
        n = BN_bin2bn(p.publicArea.unique.rsa.buffer, p.publicArea.unique.rsa.size, NULL);
        e = BN_new();
        BN_set_word(e, p.publicArea.parameters.rsaDetail.exponent
                               ? p.publicArea.parameters.rsaDetail.exponent
                               : 65537);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        params = OSSL_PARAM_BLD_to_param(bld);
        assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
        EVP_PKEY_CTX_free(ctx);
        if (ret_p)
                *ret_p = p;
        return key;
}

static void verify_rsassa(EVP_PKEY *key, const struct tpm_blob *attest, const struct tpm_blob *sig)
{
        TPMT_SIGNATURE s = {};
        size_t off = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();

        assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig->data, sig->size, &off, &s), 0);
        assert_int_equal(off, sig->size);
        assert_int_equal(s.sigAlg, TPM2_ALG_RSASSA);
        assert_int_equal(s.signature.rsassa.hash, TPM2_ALG_SHA256);
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestVerify(md, s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size,
                                          attest->data, attest->size),
                         1);
        EVP_MD_CTX_free(md);
}

static void test_ak_provision(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob pub1 = {}, pub2 = {}, pub3 = {};
        TPM2B_PUBLIC p;
        EVP_PKEY *k;

        assert_int_equal(tpm_ak_provision(t, AK, &pub1, &err), 1); /* created */
        assert_int_equal(tpm_ak_provision(t, AK, &pub2, &err), 0); /* already there */
        assert_int_equal(pub1.size, pub2.size);
        assert_memory_equal(pub1.data, pub2.data, pub1.size);
        assert_int_equal(tpm_read_public(t, AK, &pub3, &err), 0);
        assert_memory_equal(pub1.data, pub3.data, pub1.size);

        k = pkey_from_tpm2b(&pub1, &p);
        assert_int_equal(p.publicArea.objectAttributes, 0x00050472); /* Azure AK attributes, noDA */
        assert_int_equal(p.publicArea.parameters.rsaDetail.scheme.scheme, TPM2_ALG_RSASSA);
        assert_int_equal(p.publicArea.parameters.rsaDetail.keyBits, 2048);
        EVP_PKEY_free(k);

        assert_int_equal(tpm_ak_provision(t, 0x80000001, NULL, &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_read_public(t, 0x81000077, &pub3, &err) < 0, 1);
        assert_non_null(strstr(err.message, "0x81000077"));
        assert_non_null(strstr(err.message, "handle missing"));

        tpm_blob_done(&pub1);
        tpm_blob_done(&pub2);
        tpm_blob_done(&pub3);
}

static void test_ek(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob a = {}, b = {};
        tpm_object ek = TPM_OBJECT_NONE;
        TPM2B_PUBLIC p;
        EVP_PKEY *k;

        /* The EK is a primary key: the same public key every time. */
        assert_int_equal(tpm_ek_create(t, &ek, &a, &err), 0);
        tpm_flush(t, ek);
        assert_int_equal(tpm_ek_create(t, NULL, &b, &err), 0);
        assert_int_equal(a.size, b.size);
        assert_memory_equal(a.data, b.data, a.size);
        k = pkey_from_tpm2b(&a, &p);
        assert_int_equal(p.publicArea.objectAttributes, 0x000300b2);
        EVP_PKEY_free(k);
        tpm_blob_done(&a);
        tpm_blob_done(&b);
}

static void test_quote(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob pub = {}, attest = {}, sig = {};
        static const uint8_t nonce[] = "quote-nonce-0123456789";
        uint8_t big[65] = {}, concat[24 * 32], digest[32];
        TPMS_ATTEST a = {};
        struct tpm_pcrs pcrs;
        size_t off = 0;
        EVP_PKEY *k;

        assert_true(tpm_ak_provision(t, AK, &pub, &err) >= 0);
        k = pkey_from_tpm2b(&pub, NULL);
        assert_int_equal(
                tpm_quote(t, AK, TPM_ALG_SHA256, 0x0100ff, nonce, sizeof(nonce) - 1, &attest, &sig, &err),
                0);
        verify_rsassa(k, &attest, &sig);

        assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data, attest.size, &off, &a), 0);
        assert_int_equal(a.magic, TPM2_GENERATED_VALUE);
        assert_int_equal(a.type, TPM2_ST_ATTEST_QUOTE);
        assert_int_equal(a.extraData.size, sizeof(nonce) - 1);
        assert_memory_equal(a.extraData.buffer, nonce, sizeof(nonce) - 1);
        assert_int_equal(a.attested.quote.pcrSelect.count, 1);
        assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].hash, TPM2_ALG_SHA256);

        /* pcrDigest = SHA-256 of the selected PCRs in ascending order. */
        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 0x0100ff, &pcrs, &err), 0);
        size_t n = 0;
        for (unsigned i = 0; i < 24; i++)
                if (0x0100ff & (1u << i)) {
                        memcpy(concat + n, pcrs.digest[i], 32);
                        n += 32;
                }
        EVP_Digest(concat, n, digest, NULL, EVP_sha256(), NULL);
        assert_int_equal(a.attested.quote.pcrDigest.size, 32);
        assert_memory_equal(a.attested.quote.pcrDigest.buffer, digest, 32);
        tpm_blob_done(&attest);
        tpm_blob_done(&sig);

        /* Empty nonce is allowed; 65 bytes is not; a missing AK is named. */
        assert_int_equal(tpm_quote(t, AK, TPM_ALG_SHA256, 0xff, NULL, 0, &attest, &sig, &err), 0);
        tpm_blob_done(&attest);
        tpm_blob_done(&sig);
        assert_int_equal(tpm_quote(t, AK, TPM_ALG_SHA256, 0xff, big, sizeof(big), &attest, &sig, &err),
                         -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_quote(t, 0x81000099, TPM_ALG_SHA256, 0xff, NULL, 0, &attest, &sig, &err),
                         -ENOENT);
        assert_non_null(strstr(err.message, "0x81000099"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_quote(t, AK, TPM_ALG_SHA256, 0, NULL, 0, &attest, &sig, &err), -EINVAL);

        EVP_PKEY_free(k);
        tpm_blob_done(&pub);
}

static void test_nv(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob b = {};
        uint8_t data[2048], small[40];
        size_t size;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7 + 3);
        memset(small, 0xa5, sizeof(small));

        (void)tpm_nv_undefine(t, TEST_NV_INDEX, NULL);
        assert_int_equal(tpm_nv_read(t, TEST_NV_INDEX, &b, &err), -ENOENT);
        assert_non_null(strstr(err.message, "NV index 0x01500010"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_nv_size(t, TEST_NV_INDEX, &size, &err), -ENOENT);
        cvm_error_clear(&err);

        /* 2048 bytes = two chunks of TPM_PT_NV_BUFFER_MAX (1024) each way. */
        assert_int_equal(tpm_nv_write(t, TEST_NV_INDEX, data, sizeof(data), &err), 0);
        assert_int_equal(tpm_nv_size(t, TEST_NV_INDEX, &size, &err), 0);
        assert_int_equal(size, sizeof(data));
        assert_int_equal(tpm_nv_read(t, TEST_NV_INDEX, &b, &err), 0);
        assert_int_equal(b.size, sizeof(data));
        assert_memory_equal(b.data, data, sizeof(data));
        tpm_blob_done(&b);

        /* A different size re-defines the index, leaving no stale bytes. */
        assert_int_equal(tpm_nv_write(t, TEST_NV_INDEX, small, sizeof(small), &err), 0);
        assert_int_equal(tpm_nv_read(t, TEST_NV_INDEX, &b, &err), 0);
        assert_int_equal(b.size, sizeof(small));
        assert_memory_equal(b.data, small, sizeof(small));
        tpm_blob_done(&b);

        /* Larger than swtpm allows for one index. */
        assert_true(tpm_nv_write(t, TEST_NV_INDEX + 1, data, 1, &err) == 0);
        assert_int_equal(tpm_nv_undefine(t, TEST_NV_INDEX + 1, &err), 0);
        {
                uint8_t *huge = calloc(1, 4096);
                assert_true(tpm_nv_write(t, TEST_NV_INDEX + 2, huge, 4096, &err) < 0);
                assert_non_null(strstr(err.message, "TPM2_NV_DefineSpace of 0x01500012"));
                free(huge);
                cvm_error_clear(&err);
        }
        assert_int_equal(tpm_nv_write(t, TEST_NV_INDEX, data, 0, &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_nv_read(t, 0x81000003, &b, &err), -EINVAL); /* not an NV handle */
        cvm_error_clear(&err);

        assert_int_equal(tpm_nv_undefine(t, TEST_NV_INDEX, &err), 0);
        assert_int_equal(tpm_nv_undefine(t, TEST_NV_INDEX, &err), -ENOENT);
}

/* ------------------------------------------------------------------------------------------------ */
/* HCL report refresh, with the simulator (tests/vtpm/cvm-vtpm) playing the paravisor */

static const char *vtpm_tool(void)
{
        static char path[4096];
        const char *b = getenv("CVM_BUILDDIR");

        snprintf(path, sizeof(path), "%s/tests/vtpm/cvm-vtpm", b && *b ? b : "build");
        return path;
}

/* The test PKI (RSA-4096 keys take seconds to make) is cached in the build directory. */
static int run_vtpm(const char *cmd, const char *extra)
{
        const char *b = getenv("CVM_BUILDDIR");
        char line[8192];

        snprintf(line, sizeof(line),
                 "'%s' --tcti '%s' %s --dir '%s/out' --pki '%s/tests/vtpm-pki' %s >/dev/null", vtpm_tool(),
                 swtpm.tcti, cmd, swtpm.dir, b && *b ? b : "build", extra ? extra : "");
        return system(line);
}

/* The matcher the agent would use: var_data's "user-data" equals the hex of the data written. */
static int match_user_data(const uint8_t *report, size_t size, const uint8_t *ud, size_t ud_size,
                           void *userdata, struct cvm_error *err)
{
        char want[200] = "\"user-data\":\"";
        uint32_t var;
        int *calls = userdata;

        (*calls)++;
        if (size < 1236 || (var = le32(report + 0x4d0)) > size - 1236)
                return cvm_error_set(err, -EBADMSG, "not an HCL report");
        for (size_t i = 0; i < 64; i++)
                snprintf(want + strlen(want), 3, "%02X", i < ud_size ? ud[i] : 0);
        return memmem(report + 1236, var, want, strlen(want)) != NULL;
}

static uint64_t ms_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_hcl_refresh(void **state)
{
        need_swtpm();
        struct tpm *t;
        struct cvm_error err = {};
        struct tpm_blob rep = {};
        static const uint8_t ud[] = "fresh-nonce-48-bytes-000000000000000000000000000";
        uint64_t start;
        int calls = 0;

        if (access(vtpm_tool(), X_OK) != 0)
                fail_msg("simulator %s not built", vtpm_tool());
        tpm_close(*state); /* swtpm serves one connection at a time: let the simulator in */
        *state = NULL;
        assert_int_equal(run_vtpm("provision", NULL), 0);

        /* Nobody regenerates the report: a bounded wait, then "stale report". */
        t = *state = open_tpm();
        start = ms_now();
        assert_int_equal(tpm_hcl_report_refresh(t, ud, 48, 300, match_user_data, &calls, &rep, &err),
                         -ETIMEDOUT);
        assert_true(ms_now() - start >= 300);
        assert_true(ms_now() - start < 3000);
        assert_true(calls >= 2);
        assert_non_null(strstr(err.message, "stale report"));
        cvm_error_clear(&err);

        /* The user data landed in NV 0x01400002. */
        assert_int_equal(tpm_nv_read(t, TPM_AZURE_USER_DATA_NV, &rep, &err), 0);
        assert_int_equal(rep.size, 48);
        assert_memory_equal(rep.data, ud, 48);
        tpm_blob_done(&rep);

        assert_int_equal(tpm_hcl_report_refresh(t, ud, 0, 100, match_user_data, &calls, &rep, &err),
                         -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(tpm_hcl_report_refresh(t, ud, 65, 100, match_user_data, &calls, &rep, &err),
                         -EINVAL);
        cvm_error_clear(&err);
        tpm_close(t);
        *state = NULL;

        /* The simulator's paravisor re-issues the report; the next refresh matches at once. */
        assert_int_equal(run_vtpm("refresh", NULL), 0);
        t = *state = open_tpm();
        calls = 0;
        assert_int_equal(tpm_hcl_report_refresh(t, ud, 48, 2000, match_user_data, &calls, &rep, &err), 0);
        assert_int_equal(calls, 1);
        assert_int_equal(rep.size, 2048); /* the whole index, zero padding included */
        assert_memory_equal(rep.data, "HCLA", 4);
        tpm_blob_done(&rep);
}

/* ------------------------------------------------------------------------------------------------ */
/* the ephemeral key, TPM2_Certify, TPM2_RSA_Decrypt under PolicyPCR */

static void expected_policy(struct tpm *t, uint8_t out[32])
{
        struct cvm_error err = {};
        struct tpm_pcrs p;
        uint8_t concat[8 * 32], pcr_digest[32], buf[32 + 4 + 10 + 32];
        size_t n = 0;

        assert_int_equal(tpm_pcr_read(t, TPM_ALG_SHA256, 0xff, &p, &err), 0);
        for (unsigned i = 0; i < 8; i++)
                memcpy(concat + 32 * i, p.digest[i], 32);
        EVP_Digest(concat, sizeof(concat), pcr_digest, NULL, EVP_sha256(), NULL);
        /* PolicyPCR: H(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || pcrDigest) */
        memset(buf, 0, 32);
        n = 32;
        memcpy(buf + n, "\x00\x00\x01\x7f", 4);
        n += 4;
        memcpy(buf + n, "\x00\x00\x00\x01\x00\x0b\x03\xff\x00\x00", 10);
        n += 10;
        memcpy(buf + n, pcr_digest, 32);
        n += 32;
        EVP_Digest(buf, n, out, NULL, EVP_sha256(), NULL);
}

static void test_ephemeral_certify(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob pub = {}, pub2 = {}, akpub = {}, attest = {}, sig = {};
        tpm_object key = TPM_OBJECT_NONE, key2 = TPM_OBJECT_NONE;
        uint8_t policy[32], name[34];
        TPM2B_PUBLIC p;
        TPMS_ATTEST a = {};
        size_t off = 0;
        EVP_PKEY *k, *ak;

        assert_true(tpm_ak_provision(t, AK, &akpub, &err) >= 0);
        assert_int_equal(tpm_ephemeral_key_create(t, &key, &pub, &err), 0);
        k = pkey_from_tpm2b(&pub, &p);
        assert_int_equal(p.publicArea.objectAttributes, 0x00020432);
        assert_int_equal(p.publicArea.parameters.rsaDetail.keyBits, 2048);
        assert_int_equal(p.publicArea.nameAlg, TPM2_ALG_SHA256);
        expected_policy(t, policy);
        assert_int_equal(p.publicArea.authPolicy.size, 32);
        assert_memory_equal(p.publicArea.authPolicy.buffer, policy, 32);

        /* Same template, same NULL seed, same PCRs: the same key. */
        assert_int_equal(tpm_ephemeral_key_create(t, &key2, &pub2, &err), 0);
        assert_int_equal(pub.size, pub2.size);
        assert_memory_equal(pub.data, pub2.data, pub.size);
        tpm_flush(t, key2);

        assert_int_equal(tpm_certify(t, key, AK, (const uint8_t *)"q", 1, &attest, &sig, &err), 0);
        ak = pkey_from_tpm2b(&akpub, NULL);
        verify_rsassa(ak, &attest, &sig);
        assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data, attest.size, &off, &a), 0);
        assert_int_equal(a.type, TPM2_ST_ATTEST_CERTIFY);
        assert_int_equal(a.extraData.size, 1);
        /* certified name = nameAlg || SHA-256(TPMT_PUBLIC) of the ephemeral key */
        name[0] = 0x00;
        name[1] = 0x0b;
        EVP_Digest(pub.data + 2, pub.size - 2, name + 2, NULL, EVP_sha256(), NULL);
        assert_int_equal(a.attested.certify.name.size, 34);
        assert_memory_equal(a.attested.certify.name.name, name, 34);
        tpm_blob_done(&attest);
        tpm_blob_done(&sig);

        assert_int_equal(tpm_certify(t, key, 0x81000099, NULL, 0, &attest, &sig, &err), -ENOENT);
        cvm_error_clear(&err);

        tpm_flush(t, key);
        EVP_PKEY_free(k);
        EVP_PKEY_free(ak);
        tpm_blob_done(&pub);
        tpm_blob_done(&pub2);
        tpm_blob_done(&akpub);
}

static size_t encrypt_to(EVP_PKEY *k, int padding, const EVP_MD *md, const uint8_t *msg, size_t n,
                         uint8_t *out)
{
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
        size_t outlen = 256;

        assert_int_equal(EVP_PKEY_encrypt_init(c), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, padding), 1);
        if (md) {
                assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, md), 1);
                assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(c, md), 1);
        }
        assert_int_equal(EVP_PKEY_encrypt(c, out, &outlen, msg, n), 1);
        EVP_PKEY_CTX_free(c);
        return outlen;
}

static void test_rsa_decrypt(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob pub = {};
        tpm_object key = TPM_OBJECT_NONE;
        static const uint8_t kek[32] = "0123456789abcdef0123456789abcde";
        uint8_t ct[256], d[32];
        const uint8_t *dp = d;
        uint16_t alg = TPM_ALG_SHA256;
        struct secret_buf out = {};
        uint32_t lockouts;
        size_t n;
        EVP_PKEY *k;

        assert_int_equal(tpm_ephemeral_key_create(t, &key, &pub, &err), 0);
        k = pkey_from_tpm2b(&pub, NULL);

        n = encrypt_to(k, RSA_PKCS1_PADDING, NULL, kek, sizeof(kek), ct);
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_RSAES, ct, n, &out, &err), 0);
        assert_int_equal(out.size, sizeof(kek));
        assert_memory_equal(out.data, kek, sizeof(kek));
        secret_buf_done(&out);

        n = encrypt_to(k, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), kek, sizeof(kek), ct);
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA1, ct, n, &out, &err), 0);
        assert_memory_equal(out.data, kek, sizeof(kek));
        secret_buf_done(&out);

        n = encrypt_to(k, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), kek, sizeof(kek), ct);
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA256, ct, n, &out, &err), 0);
        assert_memory_equal(out.data, kek, sizeof(kek));
        secret_buf_done(&out);

        /* The wrong OAEP hash: the padding check fails, reported as a bad message. */
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA1, ct, n, &out, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "TPM2_RSA_Decrypt"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA256, ct, 0, &out, &err), -EBADMSG);
        cvm_error_clear(&err);
        assert_int_equal(tpm_rsa_decrypt(t, key, (enum tpm_rsa_scheme)7, ct, n, &out, &err), -EINVAL);
        cvm_error_clear(&err);

        /* PCR 7 changes: the PolicyPCR session no longer satisfies the key's policy. One failure,
         * no retry, and the key is noDA so the lockout counter stays at zero. */
        memset(d, 0x77, sizeof(d));
        assert_int_equal(tpm_pcr_extend(t, 7, 1, &alg, &dp, &err), 0);
        assert_int_equal(tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA256, ct, n, &out, &err), -EACCES);
        assert_non_null(strstr(err.message, "policy check failed"));
        assert_null(out.data);
        assert_int_equal(tpm_lockout_counter(t, &lockouts, &err), 0);
        assert_int_equal(lockouts, 0);

        tpm_flush(t, key);
        EVP_PKEY_free(k);
        tpm_blob_done(&pub);
}

static void test_object_tracking(void **state)
{
        need_swtpm();
        struct cvm_error err = {};
        tpm_object keys[4];
        struct tpm *t = *state;
        int r = 0, i;

        /* swtpm has 3 transient object slots: the 4th primary fails, with the TPM's reason. */
        for (i = 0; i < 4; i++) {
                r = tpm_ek_create(t, &keys[i], NULL, &err);
                if (r < 0)
                        break;
        }
        assert_int_equal(i, 3);
        assert_int_equal(r, -ENOSPC);
        assert_non_null(strstr(err.message, "out of memory for objects"));
        /* tpm_close() flushes what this connection loaded, so the next user has all slots. */
        tpm_close(t);
        t = *state = open_tpm();
        cvm_error_clear(&err);
        for (i = 0; i < 3; i++)
                assert_int_equal(tpm_ek_create(t, &keys[i], NULL, &err), 0);
}

static void test_evict(void **state)
{
        need_swtpm();
        struct tpm *t = *state;
        struct cvm_error err = {};
        struct tpm_blob a = {}, s = {};

        assert_true(tpm_ak_provision(t, AK, NULL, &err) >= 0);
        assert_int_equal(tpm_evict(t, AK, &err), 0);
        assert_int_equal(tpm_quote(t, AK, TPM_ALG_SHA256, 0xff, NULL, 0, &a, &s, &err), -ENOENT);
        cvm_error_clear(&err);
        assert_int_equal(tpm_evict(t, AK, &err), -ENOENT);
        cvm_error_clear(&err);
        /* a configurable handle */
        assert_int_equal(tpm_ak_provision(t, 0x81000042, NULL, &err), 1);
        assert_int_equal(tpm_quote(t, 0x81000042, TPM_ALG_SHA256, 0xff, NULL, 0, &a, &s, &err), 0);
        tpm_blob_done(&a);
        tpm_blob_done(&s);
        assert_int_equal(tpm_evict(t, 0x81000042, &err), 0);
        assert_int_equal(tpm_evict(t, 0x01000000, &err), -EINVAL);
}

static int open_setup(void **state)
{
        *state = NULL;
        if (have_swtpm) {
                struct cvm_error err = {};
                int r = tpm_open(swtpm.tcti, (struct tpm **)state, &err);

                if (r < 0) {
                        printf("tpm_open(%s): %s\n", swtpm.tcti, cvm_error_message(&err, r));
                        return -1;
                }
        }
        return 0;
}

static int close_teardown(void **state)
{
        tpm_close(*state);
        *state = NULL;
        return 0;
}

#define tpm_test(f) cmocka_unit_test_setup_teardown(f, open_setup, close_teardown)

static int group_setup(void **state)
{
        int r = swtpm_harness_start(&swtpm);

        if (r == -ENOENT) {
                printf("SKIP: swtpm is not installed; TPM integration tests will be skipped\n");
                return 0;
        }
        if (r < 0) {
                printf("cannot start swtpm: %s\n", strerror(-r));
                return -1;
        }
        have_swtpm = true;
        return 0;
}

static int group_teardown(void **state)
{
        swtpm_harness_stop(&swtpm);
        return 0;
}

int main(void)
{
        const struct CMUnitTest pure[] = {
                cmocka_unit_test(test_rc_error),
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_open_failures),
        };
        const struct CMUnitTest with_swtpm[] = {
                tpm_test(test_properties),
                tpm_test(test_pcr_read),
                tpm_test(test_pcr_extend),
                tpm_test(test_ak_provision),
                tpm_test(test_ek),
                tpm_test(test_quote),
                tpm_test(test_nv),
                tpm_test(test_hcl_refresh),
                tpm_test(test_ephemeral_certify),
                tpm_test(test_rsa_decrypt),
                tpm_test(test_object_tracking),
                tpm_test(test_evict),
        };
        int r;

        r = cmocka_run_group_tests_name("tpm (no TPM)", pure, NULL, NULL);
        r |= cmocka_run_group_tests_name("tpm (swtpm)", with_swtpm, group_setup, group_teardown);
        return r;
}
