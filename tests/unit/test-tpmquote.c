/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPMS_ATTEST / TPMT_SIGNATURE parsing and quote verification on synthetic quotes built and
 * signed here with OpenSSL (RSASSA, RSAPSS, ECDSA P-256/P-384/P-521), plus every error path.
 */
#include <errno.h>

#include "testlib.h"

#include "cleanup.h"
#include "tpmbuild.h"
#include "tpmquote.h"

static EVP_PKEY *rsa2048, *rsa3072, *ec256, *ec384, *ec521;

static int setup(void **state)
{
        rsa2048 = gen_rsa(2048);
        rsa3072 = gen_rsa(3072);
        ec256 = gen_ec("P-256");
        ec384 = gen_ec("P-384");
        ec521 = gen_ec("P-521");
        return 0;
}

static int teardown(void **state)
{
        EVP_PKEY_free(rsa2048);
        EVP_PKEY_free(rsa3072);
        EVP_PKEY_free(ec256);
        EVP_PKEY_free(ec384);
        EVP_PKEY_free(ec521);
        return 0;
}

/* A sha256 quote over PCRs 0-23 with extraData "challenge" and the right digest. */
static const struct quote_spec *default_spec(uint8_t *digest)
{
        static struct quote_spec q;

        q = (struct quote_spec){
                .extra = "challenge",
                .n_banks = 1,
                .bank_alg = {TPM_ALG_SHA256},
                .bank_mask = {0xffffff},
        };
        q.pcr_digest_size = fake_pcr_digest(&q, TPM_ALG_SHA256, digest);
        q.pcr_digest = digest;
        return &q;
}

static void expect_attest_error(const uint8_t *buf, size_t len, int code, const char *needle)
{
        struct tpm_attest a;
        struct cvm_error err = {};
        int r = tpm_attest_parse(buf, len, &a, &err);

        if (r != code)
                fail_msg("expected %d, got %d (%s)", code, r, cvm_error_message(&err, r));
        if (needle && !strstr(err.message, needle))
                fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_parse_quote(void **state)
{
        uint8_t digest[64];
        const struct quote_spec *q = default_spec(digest);
        struct tpm_attest a;
        struct tb b = {};
        struct cvm_error err = {};

        tb_quote(&b, q);
        assert_int_equal(tpm_attest_parse(b.d, b.n, &a, &err), 0);
        assert_int_equal(a.magic, TPM_GENERATED_VALUE);
        assert_int_equal(a.type, TPM_ST_ATTEST_QUOTE);
        assert_int_equal(a.qualified_signer_size, 34);
        assert_int_equal(a.extra_data_size, 9);
        assert_memory_equal(a.extra_data, "challenge", 9);
        assert_int_equal(a.clock, 123456789);
        assert_int_equal(a.reset_count, 7);
        assert_int_equal(a.restart_count, 1);
        assert_true(a.safe);
        assert_int_equal(a.firmware_version, 0x2020031200120003ULL);
        assert_int_equal(a.quote.n_selections, 1);
        assert_int_equal(a.quote.selections[0].hash_alg, TPM_ALG_SHA256);
        assert_int_equal(tpm_selection_mask(&a.quote.selections[0]), 0xffffff);
        assert_int_equal(a.quote.pcr_digest_size, 32);
        assert_memory_equal(a.quote.pcr_digest, digest, 32);
        assert_int_equal(tpm_attest_guess_hash(&a), TPM_ALG_SHA256);
}

static void test_attest_json(void **state)
{
        uint8_t digest[64];
        struct tpm_attest a;
        struct tb b = {};
        json_object *j = NULL, *v, *sel;
        char expect[100];

        tb_quote(&b, default_spec(digest));
        assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
        assert_int_equal(tpm_attest_to_json(&a, &j), 0);
#define STR(key, want)                                                \
        do {                                                          \
                assert_true(json_object_object_get_ex(j, key, &v));   \
                assert_string_equal(json_object_get_string(v), want); \
        } while (0)
        STR("type", "quote");
        STR("type_code", "0x8018");
        STR("magic", "0xff544347");
        STR("extra_data", "6368616c6c656e6765");
        STR("extra_data_text", "challenge");
        STR("firmware_version", "0x2020031200120003");
        STR("qualified_signer", "000b0102030405060708000000000000000000000000000000000000000000000000");
        hex_encode_to(expect, digest, 32);
        STR("pcr_digest", expect);
#undef STR
        assert_true(json_object_object_get_ex(j, "clock", &v));
        assert_int_equal(json_object_get_uint64(v), 123456789);
        assert_true(json_object_object_get_ex(j, "reset_count", &v));
        assert_int_equal(json_object_get_int(v), 7);
        assert_true(json_object_object_get_ex(j, "restart_count", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(j, "safe", &v));
        assert_true(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(j, "pcr_select", &sel));
        assert_int_equal(json_object_array_length(sel), 1);
        v = json_object_array_get_idx(sel, 0);
        assert_string_equal(json_object_get_string(json_object_object_get(v, "hash")), "sha256");
        v = json_object_object_get(v, "pcrs");
        assert_int_equal(json_object_array_length(v), 24);
        assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 23)), 23);
        json_object_put(j);

        /* Binary extraData gets no text rendering. */
        {
                struct quote_spec q = *default_spec(digest);

                q.extra = "\x01\x02";
                b.n = 0;
                tb_quote(&b, &q);
                assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
                assert_int_equal(tpm_attest_to_json(&a, &j), 0);
                assert_false(json_object_object_get_ex(j, "extra_data_text", &v));
                json_object_put(j);
        }
}

static void test_parse_truncations(void **state)
{
        uint8_t digest[64];
        struct tb b = {};

        tb_quote(&b, default_spec(digest));
        for (size_t n = 0; n < b.n; n++) {
                if (n == 4) /* the magic is complete; the type is missing */
                        continue;
                expect_attest_error(b.d, n, -EBADMSG, "TPMS_ATTEST at offset 0x");
        }
        expect_attest_error(b.d, 4, -EBADMSG, "(type): truncated");
        /* pcrDigest size claims more than is left */
        expect_attest_error(b.d, b.n - 1, -EBADMSG, "(pcrDigest): truncated");
        b.d[b.n++] = 0;
        expect_attest_error(b.d, b.n, -EBADMSG, "1 trailing bytes");
}

static void test_parse_field_errors(void **state)
{
        uint8_t digest[64];
        struct tb b = {};
        /* Offsets in the default quote: magic 0, type 4, qualifiedSigner 6 (2+34), extraData 42 (2+9),
         * clock 53, resetCount 61, restartCount 65, safe 69, firmware 70, count 78, hash 82, size 84. */

        tb_quote(&b, default_spec(digest));
        {
                struct tb t = b;

                t.d[0] = 0xfe;
                expect_attest_error(t.d, t.n, -EBADMSG, "(magic): 0xfe544347 is not TPM_GENERATED_VALUE");
        }
        {
                struct tb t = b;

                t.d[5] = 0x14; /* TPM_ST_ATTEST_NV: known, unsupported */
                expect_attest_error(t.d, t.n, -EOPNOTSUPP, "(nv) is not supported");
                t.d[4] = 0x12;
                expect_attest_error(t.d, t.n, -EBADMSG, "0x1214 is not a TPM_ST_ATTEST_* type");
        }
        {
                struct tb t = b;

                t.d[7] = 67; /* qualifiedSigner size 67 > 66 */
                expect_attest_error(t.d, t.n, -EBADMSG, "at offset 0x6 (qualifiedSigner): size 67 exceeds");
        }
        {
                struct tb t = b;

                t.d[69] = 2;
                expect_attest_error(t.d, t.n, -EBADMSG, "(clockInfo.safe): 2 is not TPMI_YES_NO");
        }
        {
                struct tb t = b;

                t.d[81] = 17;
                expect_attest_error(t.d, t.n, -EBADMSG, "(pcrSelect.count): 17 banks exceed");
        }
        {
                struct tb t = b;

                t.d[83] = 0x99; /* unknown hash in the selection */
                expect_attest_error(t.d, t.n, -EOPNOTSUPP,
                                    "at offset 0x52 (pcrSelect[0].hash): unknown hash");
        }
        {
                struct tb t = b;

                t.d[84] = 5; /* sizeofSelect 5 > 4 */
                expect_attest_error(t.d, t.n, -EBADMSG, "(pcrSelect[0].sizeofSelect): 5 bytes exceed");
        }
        {
                /* pcrDigest larger than any digest (65 bytes). */
                struct quote_spec q = *default_spec(digest);
                uint8_t big[65] = {};
                struct tb t = {};

                q.pcr_digest = big;
                q.pcr_digest_size = sizeof(big);
                tb_quote(&t, &q);
                expect_attest_error(t.d, t.n, -EBADMSG, "(pcrDigest): size 65 exceeds the maximum of 64");
        }
        {
                /* An empty selection and an empty digest parse fine. */
                struct quote_spec q = {.extra = NULL};
                struct tpm_attest a;
                struct tb t = {};

                tb_quote(&t, &q);
                assert_int_equal(tpm_attest_parse(t.d, t.n, &a, NULL), 0);
                assert_int_equal(a.quote.n_selections, 0);
                assert_int_equal(a.extra_data_size, 0);
        }
}

static void test_certify_creation(void **state)
{
        static const uint8_t name[34] = {0x00, 0x0b, 0xaa}, qname[34] = {0x00, 0x0b, 0xbb};
        static const uint8_t hash[32] = {0xcc};
        struct tpm_attest a;
        struct tb b = {};
        json_object *j = NULL, *v;

        for (int type = 0; type < 2; type++) {
                b.n = 0;
                tb_u32(&b, TPM_GENERATED_VALUE);
                tb_u16(&b, type == 0 ? TPM_ST_ATTEST_CERTIFY : TPM_ST_ATTEST_CREATION);
                tb_2b(&b, name, sizeof(name));
                tb_2b(&b, "n", 1);
                tb_u64(&b, 1);
                tb_u32(&b, 2);
                tb_u32(&b, 3);
                tb_u8(&b, 0);
                tb_u64(&b, 4);
                tb_2b(&b, name, sizeof(name));
                if (type == 0)
                        tb_2b(&b, qname, sizeof(qname));
                else
                        tb_2b(&b, hash, sizeof(hash));
                assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
                assert_int_equal(tpm_attest_to_json(&a, &j), 0);
                if (type == 0) {
                        assert_memory_equal(a.certify.qualified_name, qname, sizeof(qname));
                        assert_true(json_object_object_get_ex(j, "qualified_name", &v));
                        assert_string_equal(json_object_get_string(json_object_object_get(j, "type")),
                                            "certify");
                } else {
                        assert_int_equal(a.creation.creation_hash_size, 32);
                        assert_true(json_object_object_get_ex(j, "creation_hash", &v));
                        assert_string_equal(json_object_get_string(json_object_object_get(j, "type")),
                                            "creation");
                }
                assert_false(json_object_object_get_ex(j, "pcr_select", &v));
                json_object_put(j);
                /* Not a quote: no PCR digest to check. */
                {
                        struct tpm_pcr_values *vals = NULL;
                        struct tpm_pcr_check pc;

                        assert_int_equal(tpm_pcr_values_new(&vals), 0);
                        assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA256, vals, &pc, NULL), -EINVAL);
                        tpm_pcr_values_free(vals);
                }
                expect_attest_error(b.d, b.n - 1, -EBADMSG, "truncated");
        }
}

/* Builds a default quote signed by @k and checks verification, then tampering. */
static void check_scheme(EVP_PKEY *k, uint16_t scheme, uint16_t hash)
{
        uint8_t digest[64];
        struct tb q = {}, s = {};
        struct tpm_signature sig;
        struct cvm_error err = {};
        int r;

        tb_quote(&q, default_spec(digest));
        tb_signature(&s, k, scheme, hash, q.d, q.n);
        r = tpm_signature_parse(s.d, s.n, &sig, &err);
        if (r < 0)
                fail_msg("%s", err.message);
        assert_int_equal(sig.sig_alg, scheme);
        assert_int_equal(sig.hash_alg, hash);
        assert_int_equal(sig.format, TPM_SIG_FORMAT_TPMT);
        r = tpm_quote_verify_signature(q.d, q.n, &sig, k, &err);
        if (r != 1)
                fail_msg("scheme 0x%04x hash 0x%04x: %d %s", scheme, hash, r, err.message);

        /* One flipped bit in the signed data or in the signature: invalid, with a reason. */
        q.d[20] ^= 1;
        cvm_error_clear(&err);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, k, &err), 0);
        assert_int_equal(err.code, -EKEYREJECTED);
        assert_non_null(strstr(err.message, "does not verify"));
        q.d[20] ^= 1;
        if (scheme == TPM_ALG_ECDSA)
                sig.s[sig.s_size - 1] ^= 1;
        else
                sig.sig[sig.sig_size / 2] ^= 1;
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, k, NULL), 0);
}

static void test_signature_schemes(void **state)
{
        check_scheme(rsa2048, TPM_ALG_RSASSA, TPM_ALG_SHA256);
        check_scheme(rsa2048, TPM_ALG_RSASSA, TPM_ALG_SHA1);
        check_scheme(rsa3072, TPM_ALG_RSASSA, TPM_ALG_SHA384);
        check_scheme(rsa2048, TPM_ALG_RSAPSS, TPM_ALG_SHA256);
        check_scheme(rsa3072, TPM_ALG_RSAPSS, TPM_ALG_SHA512);
        check_scheme(ec256, TPM_ALG_ECDSA, TPM_ALG_SHA256);
        check_scheme(ec384, TPM_ALG_ECDSA, TPM_ALG_SHA384);
        check_scheme(ec521, TPM_ALG_ECDSA, TPM_ALG_SHA512);
}

static void test_signature_wrong_key(void **state)
{
        uint8_t digest[64];
        struct tb q = {}, s = {};
        struct tpm_signature sig;
        struct cvm_error err = {};

        tb_quote(&q, default_spec(digest));
        tb_signature(&s, rsa2048, TPM_ALG_RSASSA, TPM_ALG_SHA256, q.d, q.n);
        assert_int_equal(tpm_signature_parse(s.d, s.n, &sig, NULL), 0);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa3072, &err), 0);
        assert_non_null(strstr(err.message, "rsa-3072"));
        cvm_error_clear(&err);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, ec256, &err), 0);
        assert_non_null(strstr(err.message, "cannot come from the AK, a ec-p256 key"));
        /* RSASSA signature checked as RSAPSS: invalid. */
        sig.sig_alg = TPM_ALG_RSAPSS;
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa2048, NULL), 0);

        s.n = 0;
        tb_signature(&s, ec256, TPM_ALG_ECDSA, TPM_ALG_SHA256, q.d, q.n);
        assert_int_equal(tpm_signature_parse(s.d, s.n, &sig, NULL), 0);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, ec384, NULL), 0);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa2048, NULL), 0);
}

static void expect_sig_error(const uint8_t *buf, size_t len, int code, const char *needle)
{
        struct tpm_signature sig;
        struct cvm_error err = {};
        int r = tpm_signature_parse(buf, len, &sig, &err);

        if (r != code)
                fail_msg("expected %d, got %d (%s)", code, r, cvm_error_message(&err, r));
        if (needle && !strstr(err.message, needle))
                fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static void test_signature_parse_errors(void **state)
{
        uint8_t digest[64];
        struct tb q = {}, rsa = {}, ec = {};

        tb_quote(&q, default_spec(digest));
        tb_signature(&rsa, rsa2048, TPM_ALG_RSASSA, TPM_ALG_SHA256, q.d, q.n);
        tb_signature(&ec, ec384, TPM_ALG_ECDSA, TPM_ALG_SHA384, q.d, q.n);
        for (size_t n = 0; n < rsa.n; n++)
                expect_sig_error(rsa.d, n, -EBADMSG, "TPMT_SIGNATURE at offset 0x");
        for (size_t n = 0; n < ec.n; n++)
                expect_sig_error(ec.d, n, -EBADMSG, "truncated");
        {
                struct tb t = rsa;

                t.d[t.n++] = 0;
                expect_sig_error(t.d, t.n, -EBADMSG, "1 trailing bytes");
                t = rsa;
                t.d[1] = 0x99;
                expect_sig_error(t.d, t.n, -EBADMSG, "0x0099 is not a signature algorithm");
                t.d[1] = 0x1a; /* ECDAA */
                expect_sig_error(t.d, t.n, -EOPNOTSUPP, "ecdaa is not supported");
                t.d[1] = 0x10; /* NULL */
                expect_sig_error(t.d, t.n, -EOPNOTSUPP, "null");
                t = rsa;
                t.d[3] = 0x99;
                expect_sig_error(t.d, t.n, -EOPNOTSUPP, "(signature.hash): unknown hash algorithm 0x0099");
        }
        {
                /* r larger than any field */
                struct tb t = {};
                uint8_t big[129] = {};

                tb_u16(&t, TPM_ALG_ECDSA);
                tb_u16(&t, TPM_ALG_SHA256);
                tb_2b(&t, big, sizeof(big));
                tb_2b(&t, big, 1);
                expect_sig_error(t.d, t.n, -EBADMSG, "(signature.signatureR): size 129 exceeds");
        }
        {
                /* RSA signature above the maximum size */
                struct tb t = {};
                static uint8_t big[TPM_MAX_SIG_BYTES + 1];

                tb_u16(&t, TPM_ALG_RSASSA);
                tb_u16(&t, TPM_ALG_SHA256);
                tb_2b(&t, big, sizeof(big));
                expect_sig_error(t.d, t.n, -EBADMSG, "exceeds");
        }
}

static void test_signature_raw_and_auto(void **state)
{
        uint8_t digest[64], raw[1024];
        struct tb q = {}, t = {};
        struct tpm_signature sig;
        struct cvm_error err = {};
        size_t n;

        tb_quote(&q, default_spec(digest));

        /* A bare RSASSA signature: auto-detected as raw, scheme from the key, hash as given. */
        n = sign_raw(rsa2048, TPM_ALG_RSASSA, TPM_ALG_SHA256, q.d, q.n, raw, sizeof(raw));
        assert_int_equal(
                tpm_signature_load(raw, n, TPM_SIG_FORMAT_AUTO, rsa2048, 0, TPM_ALG_SHA256, &sig, NULL), 0);
        assert_int_equal(sig.format, TPM_SIG_FORMAT_RAW);
        assert_int_equal(sig.sig_alg, TPM_ALG_RSASSA);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa2048, NULL), 1);
        /* Forcing TPMT on it fails to parse. */
        assert_true(tpm_signature_load(raw, n, TPM_SIG_FORMAT_TPMT, rsa2048, 0, 0, &sig, NULL) < 0);
        /* The wrong hash for a raw signature: invalid, not an error. */
        assert_int_equal(
                tpm_signature_load(raw, n, TPM_SIG_FORMAT_RAW, rsa2048, 0, TPM_ALG_SHA384, &sig, NULL), 0);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa2048, NULL), 0);
        /* No hash at all: -EINVAL. */
        assert_int_equal(tpm_signature_load(raw, n, TPM_SIG_FORMAT_RAW, rsa2048, 0, 0, &sig, &err), -EINVAL);

        /* A raw signature that happens to start like a TPMT_SIGNATURE header: raw, because its
         * length is the modulus size. */
        raw[0] = 0x00, raw[1] = 0x14, raw[2] = 0x00, raw[3] = 0x0b;
        assert_int_equal(
                tpm_signature_load(raw, n, TPM_SIG_FORMAT_AUTO, rsa2048, 0, TPM_ALG_SHA256, &sig, NULL), 0);
        assert_int_equal(sig.format, TPM_SIG_FORMAT_RAW);
        /* ...but a broken TPMT_SIGNATURE of another length is reported as malformed. */
        cvm_error_clear(&err);
        assert_int_equal(
                tpm_signature_load(raw, 100, TPM_SIG_FORMAT_AUTO, rsa2048, 0, TPM_ALG_SHA256, &sig, &err),
                -EBADMSG);
        assert_non_null(strstr(err.message, "TPMT_SIGNATURE"));

        /* RSAPSS raw, scheme given explicitly. */
        n = sign_raw(rsa2048, TPM_ALG_RSAPSS, TPM_ALG_SHA256, q.d, q.n, raw, sizeof(raw));
        assert_int_equal(tpm_signature_load(raw, n, TPM_SIG_FORMAT_RAW, rsa2048, TPM_ALG_RSAPSS,
                                            TPM_ALG_SHA256, &sig, NULL),
                         0);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, rsa2048, NULL), 1);

        /* ECDSA raw: DER, and r||s. */
        n = sign_raw(ec256, TPM_ALG_ECDSA, TPM_ALG_SHA256, q.d, q.n, raw, sizeof(raw));
        assert_int_equal(
                tpm_signature_load(raw, n, TPM_SIG_FORMAT_AUTO, ec256, 0, TPM_ALG_SHA256, &sig, NULL), 0);
        assert_int_equal(sig.sig_alg, TPM_ALG_ECDSA);
        assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, ec256, NULL), 1);
        {
                uint8_t rs[64] = {};

                memcpy(rs + 32 - sig.r_size, sig.r, sig.r_size);
                memcpy(rs + 64 - sig.s_size, sig.s, sig.s_size);
                assert_int_equal(
                        tpm_signature_load(rs, 64, TPM_SIG_FORMAT_RAW, ec256, 0, TPM_ALG_SHA256, &sig, NULL),
                        0);
                assert_int_equal(tpm_quote_verify_signature(q.d, q.n, &sig, ec256, NULL), 1);
                assert_int_equal(
                        tpm_signature_load(rs, 63, TPM_SIG_FORMAT_RAW, ec256, 0, TPM_ALG_SHA256, &sig, NULL),
                        -EBADMSG);
        }
        /* Empty raw signature. */
        assert_int_equal(
                tpm_signature_load(raw, 0, TPM_SIG_FORMAT_RAW, rsa2048, 0, TPM_ALG_SHA256, &sig, NULL),
                -EBADMSG);

        /* A TPMT_SIGNATURE under AUTO stays TPMT. */
        tb_signature(&t, ec256, TPM_ALG_ECDSA, TPM_ALG_SHA256, q.d, q.n);
        assert_int_equal(
                tpm_signature_load(t.d, t.n, TPM_SIG_FORMAT_AUTO, ec256, 0, TPM_ALG_SHA1, &sig, NULL), 0);
        assert_int_equal(sig.format, TPM_SIG_FORMAT_TPMT);
        assert_int_equal(sig.hash_alg, TPM_ALG_SHA256);
}

static void test_signature_json(void **state)
{
        uint8_t digest[64];
        struct tb q = {}, s = {};
        struct tpm_signature sig;
        json_object *j = NULL;

        tb_quote(&q, default_spec(digest));
        tb_signature(&s, rsa2048, TPM_ALG_RSAPSS, TPM_ALG_SHA256, q.d, q.n);
        assert_int_equal(tpm_signature_parse(s.d, s.n, &sig, NULL), 0);
        assert_int_equal(tpm_signature_to_json(&sig, &j), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(j, "scheme")), "rsapss");
        assert_string_equal(json_object_get_string(json_object_object_get(j, "hash")), "sha256");
        assert_string_equal(json_object_get_string(json_object_object_get(j, "format")), "tpmt");
        assert_int_equal(json_object_get_int(json_object_object_get(j, "size")), 256);
        json_object_put(j);
}

static void test_pcr_digest(void **state)
{
        uint8_t digest[64];
        const struct quote_spec *q = default_spec(digest);
        struct tpm_pcr_values *v = fake_pcr_values(q);
        struct tpm_pcr_check pc;
        struct tpm_attest a;
        struct tb b = {};
        struct cvm_error err = {};
        uint8_t val[32];

        tb_quote(&b, q);
        assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
        assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA256, v, &pc, &err), 1);
        assert_int_equal(pc.n_missing, 0);
        assert_int_equal(pc.computed_size, 32);
        assert_memory_equal(pc.computed, digest, 32);

        /* The digest hash is the signature's: sha384 gives another (mismatching) digest. */
        assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA384, v, &pc, &err), 0);
        assert_int_equal(pc.computed_size, 48);
        assert_non_null(strstr(err.message, "(sha384)"));

        /* One PCR value changed: mismatch, reason shows both digests. */
        fake_pcr(TPM_ALG_SHA256, 7, val, 32);
        val[0] ^= 1;
        tpm_pcr_values_free(v);
        v = fake_pcr_values(q);
        {
                struct tpm_pcr_values *w = NULL;

                assert_int_equal(tpm_pcr_values_new(&w), 0);
                for (unsigned p = 0; p < 24; p++) {
                        uint8_t x[32];

                        fake_pcr(TPM_ALG_SHA256, p, x, 32);
                        assert_int_equal(
                                tpm_pcr_values_set(w, TPM_ALG_SHA256, p, p == 7 ? val : x, 32, NULL), 0);
                }
                cvm_error_clear(&err);
                assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA256, w, &pc, &err), 0);
                assert_non_null(strstr(err.message, "quoted pcrDigest"));
                assert_memory_not_equal(pc.computed, digest, 32);
                tpm_pcr_values_free(w);
        }

        /* Missing values are named. */
        {
                struct tpm_pcr_values *w = NULL;

                assert_int_equal(tpm_pcr_values_new(&w), 0);
                for (unsigned p = 0; p < 16; p++) {
                        fake_pcr(TPM_ALG_SHA256, p, val, 32);
                        if (p != 3)
                                assert_int_equal(tpm_pcr_values_set(w, TPM_ALG_SHA256, p, val, 32, NULL), 0);
                }
                /* Values in another bank do not count. */
                assert_int_equal(tpm_pcr_values_set(w, TPM_ALG_SHA1, 20, val, 20, NULL), 0);
                cvm_error_clear(&err);
                assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA256, w, &pc, &err), 0);
                assert_int_equal(pc.n_missing, 9);
                assert_int_equal(pc.missing[0], 0xff0008);
                assert_int_equal(pc.computed_size, 0);
                assert_string_equal(err.message, "no value given for 9 selected PCRs: sha256:3,16-23");
                tpm_pcr_values_free(w);
        }
        /* A hash OpenSSL does not know for the digest. */
        assert_int_equal(tpm_quote_check_pcrs(&a, 0x0099, v, &pc, NULL), -EOPNOTSUPP);
        tpm_pcr_values_free(v);
}

static void test_pcr_digest_multibank(void **state)
{
        /* sha1 PCRs 0-7 then sha256 PCRs 0,7,14: concatenated bank by bank, signed with sha384. */
        struct quote_spec q = {
                .extra = "x",
                .n_banks = 2,
                .bank_alg = {TPM_ALG_SHA1, TPM_ALG_SHA256},
                .bank_mask = {0xff, 0x4081},
        };
        uint8_t digest[64], cat[8 * 20 + 3 * 32], manual[48];
        struct tpm_pcr_values *v = fake_pcr_values(&q);
        struct tpm_pcr_check pc;
        struct tpm_attest a;
        struct tb b = {};
        size_t n = 0;

        q.pcr_digest_size = fake_pcr_digest(&q, TPM_ALG_SHA384, digest);
        q.pcr_digest = digest;
        /* Independent recomputation of the expected digest. */
        for (unsigned p = 0; p < 8; p++, n += 20)
                fake_pcr(TPM_ALG_SHA1, p, cat + n, 20);
        fake_pcr(TPM_ALG_SHA256, 0, cat + n, 32), n += 32;
        fake_pcr(TPM_ALG_SHA256, 7, cat + n, 32), n += 32;
        fake_pcr(TPM_ALG_SHA256, 14, cat + n, 32), n += 32;
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA384), cat, n, manual), 0);
        assert_memory_equal(manual, digest, 48);

        tb_quote(&b, &q);
        assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
        assert_int_equal(a.quote.n_selections, 2);
        assert_int_equal(tpm_attest_guess_hash(&a), TPM_ALG_SHA384);
        assert_int_equal(tpm_quote_check_pcrs(&a, TPM_ALG_SHA384, v, &pc, NULL), 1);
        tpm_pcr_values_free(v);
}

static void test_nonce(void **state)
{
        uint8_t digest[64];
        struct tpm_attest a;
        struct tb b = {};
        struct cvm_error err = {};

        tb_quote(&b, default_spec(digest));
        assert_int_equal(tpm_attest_parse(b.d, b.n, &a, NULL), 0);
        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"challenge", 9, &err), 1);
        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"\1\2\3\4", 4, &err), 0);
        assert_string_equal(err.message,
                            "nonce 01020304 (4 bytes) differs from extraData 6368616c6c656e6765 (9 bytes)");
        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"challengf", 9, NULL), 0);
        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"", 0, NULL), 0);
        a.extra_data_size = 0;
        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"", 0, NULL), 1);
}

/* Parses @text as a PCR document and checks sha256 PCR @index starts with @first (or, for
 * @code < 0, that parsing fails with @code and @needle). */
static void expect_pcrs(const char *text, int code, const char *needle)
{
        struct tpm_pcr_values *v = NULL;
        struct cvm_error err = {};
        int r = tpm_pcr_values_parse((const uint8_t *)text, strlen(text), &v, &err);

        if (r != code)
                fail_msg("'%s': expected %d, got %d (%s)", text, code, r, cvm_error_message(&err, r));
        if (code < 0) {
                assert_null(v);
                if (needle && !strstr(err.message, needle))
                        fail_msg("message '%s' lacks '%s'", err.message, needle);
        }
        tpm_pcr_values_free(v);
}

#define H32 "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"
#define H20 "0ca4b4a4784bf4eed9c3556aba1dac5585a5951a"

static void test_pcr_values_formats(void **state)
{
        static const char *docs[] = {
                /* eventlog --json shape, and the inner bank map alone */
                "{\"events\": [], \"pcrs\": {\"sha256\": {\"3\": \"" H32 "\"}, \"sha1\": {\"4\": \"" H20
                "\"}}}",
                "{\"3\": \"" H32 "\", \"4\": \"" H20 "\"}",
                "{\"sha256\": {\"3\": \"0x" H32 "\"}}",
                /* arrays indexed by PCR: hex, byte arrays (null: no value); nested evidence shapes */
                "{\"pcrs\": [\"" H32 "\", \"" H32 "\", \"" H32 "\", \"" H32 "\"]}",
                "[\"" H32 "\", \"" H32 "\", \"" H32 "\", \"" H32 "\"]",
                "{\"quote\": {\"pcrs\": "
                "[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,"
                "29,30,31,32],null,null,[61,69,140,254,85,204,3,234,31,68,63,21,98,190,236,141,245,28,117,"
                "225,74,159,"
                "207,154,114,52,161,63,25,142,121,105]]}}",
                "{\"evidence\": {\"tpm_quote\": {\"pcrs\": {\"3\": \"" H32 "\"}}}}",
                /* go-attestation */
                "{\"Log\": {\"PCRs\": [{\"Index\": 3, \"Digest\": "
                "\"PUWM/lXMA+ofRD8VYr7sjfUcdeFKn8+acjShPxmOeWk=\", "
                "\"DigestAlg\": 5}]}}",
                /* text */
                " 3 " H32 "\n",
                "# comment\r\n3: " H32 "\r\n\r\n",
                "sha1:\n  4 : 0x" H20 "\nsha256:\n  3 : 0x" H32 "  # PCR 3\n",
                "3=" H32,
        };

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                struct tpm_pcr_values *v = NULL;
                struct cvm_error err = {};
                const uint8_t *p;
                int r = tpm_pcr_values_parse((const uint8_t *)docs[i], strlen(docs[i]), &v, &err);

                if (r < 0)
                        fail_msg("doc %zu: %s", i, err.message);
                p = tpm_pcr_values_get(v, TPM_ALG_SHA256, 3);
                if (!p)
                        fail_msg("doc %zu: no sha256 PCR 3", i);
                assert_int_equal(p[0], 0x3d);
                assert_int_equal(p[31], 0x69);
                tpm_pcr_values_free(v);
        }
}

static void test_pcr_values_errors(void **state)
{
        expect_pcrs("", -EBADMSG, "no PCR values");
        expect_pcrs("# nothing\n\n", -EBADMSG, "no PCR values");
        expect_pcrs("{}", -EBADMSG, "no PCR values");
        expect_pcrs("3 zz", -EBADMSG, "line 1: PCR 3: not a hex digest");
        expect_pcrs("3 abcd", -EBADMSG, "line 1: a 2-byte value fits no hash algorithm");
        expect_pcrs("sha1:\n3 " H32, -EBADMSG, "line 2: sha1 PCR 3: 32 bytes, expected 20");
        expect_pcrs("32 " H32, -EBADMSG, "line 1: PCR index 32 out of range");
        expect_pcrs("3 " H32 "\n3 4d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
                    -EBADMSG, "line 2: sha256 PCR 3 given twice with different values");
        expect_pcrs("3 " H20 H20 "aabbccdd", -EBADMSG, "a 44-byte value fits no hash algorithm");
        expect_pcrs("3 " H32 "\n3 " H32, 0, NULL); /* the same value twice is fine */
        expect_pcrs("md5:\n", -EBADMSG, "line 1: \"md5\" is not a hash algorithm");
        expect_pcrs("hello world", -EBADMSG, "line 1: expected \"INDEX HEX\" or \"ALG:\"");
        expect_pcrs("1234 " H32, -EBADMSG, "line 1: expected");
        expect_pcrs("3", -EBADMSG, "not a hex digest");
        expect_pcrs("3 " H32 "\n3 x\0", -EBADMSG, "line 2");
        expect_pcrs("{\"pcrs\": {\"3\": 5}}", -EBADMSG, "pcrs.\"3\": expected a hex string or a byte array");
        expect_pcrs("{\"pcrs\": {\"x\": \"" H32 "\"}}", -EBADMSG, "member name is not a PCR index");
        expect_pcrs("{\"sha256\": {\"3\": \"" H32 "\"}, \"foo\": {}}", -EBADMSG,
                    "JSON.foo: not a hash algorithm");
        expect_pcrs("{\"sha1\": {\"3\": \"" H32 "\"}}", -EBADMSG, "sha1 PCR 3: 32 bytes, expected 20");
        expect_pcrs("{\"pcrs\": [[1, 256]]}", -EBADMSG, "item 1 is not a byte");
        expect_pcrs("{\"pcrs\": 7}", -EBADMSG, "expected an object or an array");
        expect_pcrs("{\"pcrs\": [{\"Index\": 40, \"Digest\": \"AA==\"}]}", -EBADMSG, "out of range");
        expect_pcrs("{\"pcrs\": [{\"Index\": 1, \"Digest\": \"AA==\", \"DigestAlg\": 9}]}", -EBADMSG,
                    "DigestAlg");
        expect_pcrs("{\"pcrs\": [{\"Index\": 1, \"Digest\": \"!\"}]}", -EBADMSG, "not base64");
        expect_pcrs("{\"pcrs\": [{\"Digest\": \"AA==\"}]}", -EBADMSG, "Index");
        expect_pcrs("{\"3\": \"" H32 "\"} junk", -EBADMSG, "trailing data");
        expect_pcrs("{\"3\": ", -EBADMSG, "JSON parse error");
}

static void test_pcr_values_set(void **state)
{
        struct tpm_pcr_values *v = NULL;
        uint8_t a[32] = {1}, b[32] = {2};

        assert_int_equal(tpm_pcr_values_new(&v), 0);
        assert_int_equal(tpm_pcr_values_set(v, TPM_ALG_SHA256, 0, a, 32, NULL), 0);
        assert_int_equal(tpm_pcr_values_set(v, TPM_ALG_SHA256, 0, b, 32, NULL), -EBADMSG);
        assert_int_equal(tpm_pcr_values_set(v, TPM_ALG_SHA256, 32, a, 32, NULL), -EBADMSG);
        assert_int_equal(tpm_pcr_values_set(v, TPM_ALG_SHA256, 1, a, 20, NULL), -EBADMSG);
        assert_int_equal(tpm_pcr_values_set(v, 0x0099, 1, a, 20, NULL), -EOPNOTSUPP);
        assert_int_equal(tpm_pcr_values_count(v), 1);
        assert_null(tpm_pcr_values_get(v, TPM_ALG_SHA256, 1));
        assert_null(tpm_pcr_values_get(v, TPM_ALG_SHA1, 0));
        assert_memory_equal(tpm_pcr_values_get(v, TPM_ALG_SHA256, 0), a, 32);
        tpm_pcr_values_free(v);
}

static void test_pcr_list_format(void **state)
{
        char buf[100];

        tpm_pcr_list_format(0xffffff, buf, sizeof(buf));
        assert_string_equal(buf, "0-23");
        tpm_pcr_list_format(0x40ff, buf, sizeof(buf));
        assert_string_equal(buf, "0-7,14");
        tpm_pcr_list_format(0x80000005, buf, sizeof(buf));
        assert_string_equal(buf, "0,2,31");
        tpm_pcr_list_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "");
        tpm_pcr_list_format(0x55555555, buf, 6); /* truncation stays NUL-terminated */
        assert_true(strlen(buf) < 6);
        assert_string_equal(tpm_check_name(TPM_CHECK_UNCHECKED), "unchecked");
        assert_string_equal(tpm_check_name(TPM_CHECK_VALID), "valid");
        assert_string_equal(tpm_check_name(TPM_CHECK_INVALID), "invalid");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_quote),
                cmocka_unit_test(test_attest_json),
                cmocka_unit_test(test_parse_truncations),
                cmocka_unit_test(test_parse_field_errors),
                cmocka_unit_test(test_certify_creation),
                cmocka_unit_test(test_signature_schemes),
                cmocka_unit_test(test_signature_wrong_key),
                cmocka_unit_test(test_signature_parse_errors),
                cmocka_unit_test(test_signature_raw_and_auto),
                cmocka_unit_test(test_signature_json),
                cmocka_unit_test(test_pcr_digest),
                cmocka_unit_test(test_pcr_digest_multibank),
                cmocka_unit_test(test_nonce),
                cmocka_unit_test(test_pcr_values_formats),
                cmocka_unit_test(test_pcr_values_errors),
                cmocka_unit_test(test_pcr_values_set),
                cmocka_unit_test(test_pcr_list_format),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
