/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure HCL report parsing on synthetic reports built here: layout, size-field consistency,
 * report types (TDX refused), hash types, runtime-claims JSON errors, the binding to
 * report_data, JSON rendering and the JWK -> EVP_PKEY import of the vTPM keys.
 */
#include <errno.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "hashalg.h"
#include "hcl.h"
#include "snp-testlib.h"
#include "testlib.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)

static const char claims_basic[] =
        "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%"
        "s\"}],"
        "\"vm-configuration\":{\"console-enabled\":true,\"secure-boot\":true,\"tpm-enabled\":true,"
        "\"vmUniqueId\":\"00000000-0000-0000-0000-000000000001\"},\"user-data\":\"00\"}";

struct hcl_opts {
        uint32_t hash_type;
        bool unbound;
        size_t padding;
};

/* An HCL report around @json (@n bytes) with a synthetic Milan SNP report. Caller frees. */
static uint8_t *build_hcl(const void *json, size_t n, const struct hcl_opts *o, size_t *ret_len)
{
        size_t len = HCL_VAR_DATA_OFFSET + n + o->padding;
        uint8_t *b = calloc(1, len);
        const struct hash_alg *alg;
        uint8_t digest[64];
        uint32_t ht = o->hash_type ? o->hash_type : HCL_HASH_SHA256;

        assert_non_null(b);
        memcpy(b, "HCLA", 4);
        snp_test_put_le32(b + 4, 1);
        snp_test_put_le32(b + 8, (uint32_t)(HCL_VAR_DATA_OFFSET + n));
        snp_test_put_le32(b + 12, 2);
        snp_test_report_init(b + HCL_HEADER_SIZE, 2, AMD_PRODUCT_MILAN, false,
                             snp_test_tcb_milan(3, 0, 8, 115), NULL);
        alg = hash_alg_by_tpm_id(ht == HCL_HASH_SHA384   ? TPM_ALG_SHA384
                                 : ht == HCL_HASH_SHA512 ? TPM_ALG_SHA512
                                                         : TPM_ALG_SHA256);
        assert_int_equal(hash_digest(alg, json, n, digest), 0);
        memcpy(b + HCL_HEADER_SIZE + 0x50, digest, alg->size);
        if (o->unbound)
                b[HCL_HEADER_SIZE + 0x50] ^= 1;
        snp_test_put_le32(b + 0x4c0, (uint32_t)(20 + n));
        snp_test_put_le32(b + 0x4c4, 1);
        snp_test_put_le32(b + 0x4c8, HCL_REPORT_TYPE_SNP);
        snp_test_put_le32(b + 0x4cc, ht);
        snp_test_put_le32(b + 0x4d0, (uint32_t)n);
        memcpy(b + HCL_VAR_DATA_OFFSET, json, n);
        *ret_len = len;
        return b;
}

static uint8_t *build_hcl_str(const char *json, const struct hcl_opts *o, size_t *ret_len)
{
        return build_hcl(json, strlen(json), o, ret_len);
}

static void expect_error(const uint8_t *b, size_t len, int code, const char *needle)
{
        struct hcl_report *r = NULL;
        struct cvm_error err = {};

        assert_int_equal(hcl_report_parse(b, len, &r, &err), code);
        assert_null(r);
        if (!strstr(err.message, needle))
                fail_msg("error '%s' does not contain '%s'", err.message, needle);
}

static const struct hcl_opts plain = {};

static void test_parse_ok(void **state)
{
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        struct hcl_opts o = {.padding = 600};
        size_t len;

        b = build_hcl_str("{\"user-data\":\"AB\"}", &o, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
        assert_int_equal(r->version, 1);
        assert_int_equal(r->report_size, HCL_VAR_DATA_OFFSET + 18);
        assert_int_equal(r->request_type, 2);
        assert_int_equal(r->data_size, 20 + 18);
        assert_int_equal(r->igvm_version, 1);
        assert_int_equal(r->report_type, HCL_REPORT_TYPE_SNP);
        assert_int_equal(r->hash_type, HCL_HASH_SHA256);
        assert_int_equal(r->var_data_size, 18);
        assert_int_equal(r->file_size, len);
        assert_int_equal(r->snp.version, 2);
        assert_true(r->runtime_claims_bound);
        assert_string_equal(r->hash_name, "sha256");
        assert_int_equal(r->var_data_hash_size, 32);
        assert_memory_equal(r->var_data, "{\"user-data\":\"AB\"}", 18);
        assert_string_equal(
                json_object_get_string(json_object_object_get(hcl_report_runtime_claims(r), "user-data")),
                "AB");
}

static void test_hash_types(void **state)
{
        static const struct {
                uint32_t type;
                const char *name;
                size_t size;
        } types[] = {{HCL_HASH_SHA256, "sha256", 32},
                     {HCL_HASH_SHA384, "sha384", 48},
                     {HCL_HASH_SHA512, "sha512", 64}};

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                _cleanup_(hcl_report_freep) struct hcl_report *r = NULL, *u = NULL;
                _cleanup_free_ uint8_t *b = NULL, *c = NULL;
                struct hcl_opts o = {.hash_type = types[i].type};
                size_t len;

                b = build_hcl_str("{}", &o, &len);
                assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
                assert_true(r->runtime_claims_bound);
                assert_string_equal(r->hash_name, types[i].name);
                assert_int_equal(r->var_data_hash_size, types[i].size);

                /* The last byte of the digest in report_data matters too. */
                c = build_hcl_str("{}", &o, &len);
                c[HCL_HEADER_SIZE + 0x50 + types[i].size - 1] ^= 0x40;
                assert_int_equal(hcl_report_parse(c, len, &u, NULL), 0);
                assert_false(u->runtime_claims_bound);
        }
}

static void test_unbound(void **state)
{
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        struct hcl_opts o = {.unbound = true};
        size_t len;

        b = build_hcl_str("{}", &o, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
        assert_false(r->runtime_claims_bound);
}

static void test_header_errors(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str("{}", &plain, &len);
        expect_error(b, 3, -EBADMSG, "no \"HCLA\" signature");
        expect_error(b, HCL_VAR_DATA_OFFSET - 1, -EBADMSG, "shorter than its 1236-byte fixed part");
        expect_error(b, 100, -EBADMSG, "100 bytes");

        b[0] = 'X';
        expect_error(b, len, -EBADMSG, "offset 0x000");
        b[0] = 'H';

        snp_test_put_le32(b + 4, 3);
        expect_error(b, len, -EOPNOTSUPP, "offset 0x004: HCL header version 3");
        snp_test_put_le32(b + 4, 2);

        snp_test_put_le32(b + 0x4c4, 2);
        expect_error(b, len, -EOPNOTSUPP, "offset 0x4c4: IGVM request data version 2");
        snp_test_put_le32(b + 0x4c4, 1);

        snp_test_put_le32(b + 0x4cc, 4);
        expect_error(b, len, -EOPNOTSUPP, "offset 0x4cc: report_data_hash_type 4");
        snp_test_put_le32(b + 0x4cc, 0);
        expect_error(b, len, -EOPNOTSUPP, "report_data_hash_type 0");
}

static void test_report_types(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str("{}", &plain, &len);
        snp_test_put_le32(b + 0x4c8, HCL_REPORT_TYPE_TDX);
        expect_error(b, len, -EOPNOTSUPP, "Intel TDX report");
        /* TDX wins even over a header version we would not accept. */
        snp_test_put_le32(b + 4, 9);
        expect_error(b, len, -EOPNOTSUPP, "offset 0x4c8: report_type 4");
        snp_test_put_le32(b + 4, 1);
        snp_test_put_le32(b + 0x4c8, HCL_REPORT_TYPE_TVM);
        expect_error(b, len, -EOPNOTSUPP, "TVM report");
        snp_test_put_le32(b + 0x4c8, 0);
        expect_error(b, len, -EOPNOTSUPP, "unknown report_type 0");
        snp_test_put_le32(b + 0x4c8, 0xffffffff);
        expect_error(b, len, -EOPNOTSUPP, "unknown report_type 4294967295");
}

static void test_size_fields(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str("{\"a\":1}", &plain, &len); /* 7 bytes of JSON, no padding */

        /* variable_data_size beyond the file, including values that would wrap 32-bit sums. */
        snp_test_put_le32(b + 0x4d0, 8);
        expect_error(b, len, -EBADMSG, "offset 0x4d0: variable_data_size 8 exceeds the 7 bytes left");
        snp_test_put_le32(b + 0x4d0, 0xffffffff);
        expect_error(b, len, -EBADMSG, "variable_data_size 4294967295 exceeds");
        snp_test_put_le32(b + 0x4d0, 0xffffffec);
        expect_error(b, len, -EBADMSG, "exceeds");
        snp_test_put_le32(b + 0x4d0, 7);

        /* data_size inconsistent, also with a value that wraps when 20 is added in 32 bits. */
        snp_test_put_le32(b + 0x4c0, 26);
        expect_error(b, len, -EBADMSG, "offset 0x4c0: data_size 26 is not 20 + variable_data_size (7)");
        snp_test_put_le32(b + 0x4c0, 27);

        snp_test_put_le32(b + 0x08, 2000);
        expect_error(b, len, -EBADMSG,
                     "offset 0x008: report_size 2000 is not 1236 + variable_data_size (7)");
        snp_test_put_le32(b + 0x08, 1243);

        /* A shorter var_data that leaves the rest as padding is consistent again, but the JSON breaks. */
        snp_test_put_le32(b + 0x4d0, 6);
        snp_test_put_le32(b + 0x4c0, 26);
        snp_test_put_le32(b + 0x08, 1242);
        expect_error(b, len, -EBADMSG, "truncated");
}

static void test_huge_data_size(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str("{}", &plain, &len);
        /* Sums are done in 64 bits: a data_size near UINT32_MAX cannot pass for 20 + 2. */
        snp_test_put_le32(b + 0x4c0, 0xffffffff);
        expect_error(b, len, -EBADMSG, "data_size 4294967295 is not 20 + variable_data_size (2)");
        snp_test_put_le32(b + 0x4c0, 22);
        snp_test_put_le32(b + 0x08, 0xffffffff);
        expect_error(b, len, -EBADMSG, "report_size 4294967295");
}

static void test_snp_errors_are_located(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str("{}", &plain, &len);
        snp_test_put_le32(b + HCL_HEADER_SIZE, 1);
        expect_error(b, len, -EOPNOTSUPP, "SNP report at offset 0x20: offset 0x000: report version 1");
        snp_test_put_le32(b + HCL_HEADER_SIZE, 2);
        snp_test_put_le32(b + HCL_HEADER_SIZE + 0x34, 7);
        expect_error(b, len, -EOPNOTSUPP, "SNP report at offset 0x20: offset 0x034");
}

static void test_claims_errors(void **state)
{
        static const struct {
                const char *json;
                size_t len;
                const char *needle;
        } cases[] = {
                {"", 0, "empty"},
                {"{\"a\":1", 6, "truncated"},
                {"{\"a\":}", 6, "not valid JSON"},
                {"[1,2]", 5, "not a JSON object"},
                {"\"str\"", 5, "not a JSON object"},
                {"{}x", 3, "offset 0x4d6"},
                {"{}{}", 4, "offset 0x4d6"},
                {"{\"a\":\"\0\"}", 9, "offset 0x4da: NUL byte"},
                {"{\"a\":\"\xff\xfe\"}", 10, "not valid JSON"},
                {"{\"a\":'b'}", 9, "not valid JSON"},
                {"{a:1}", 5, "not valid JSON"},
                {"{\"a\":1,}", 8, "not valid JSON"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ uint8_t *b = NULL;
                size_t len;

                b = build_hcl(cases[i].json, cases[i].len, &plain, &len);
                expect_error(b, len, -EBADMSG, cases[i].needle);
        }
}

static void test_claims_nesting_limit(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        char json[6 + 2 * 100 + 2];
        size_t len;

        /* {"a": followed by 100 nested arrays: deeper than the tokener's limit of 64. */
        memcpy(json, "{\"a\":", 5);
        for (int i = 0; i < 100; i++) {
                json[5 + i] = '[';
                json[105 + i] = ']';
        }
        json[205] = '}';
        json[206] = '\0';
        b = build_hcl_str(json, &plain, &len);
        expect_error(b, len, -EBADMSG, "not valid JSON");
}

static void test_claims_whitespace_ok(void **state)
{
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        size_t len;

        b = build_hcl_str(" {\"a\": [1, 2]}\r\n", &plain, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
}

/* ---- JSON ---------------------------------------------------------------------------------------------- */

static void test_json(void **state)
{
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        struct hcl_opts o_pad = {.padding = 100};
        json_object *h, *hdr, *igvm, *claims;
        size_t len;

        b = build_hcl_str("{\"user-data\":\"AB\",\"n\":[1]}", &o_pad, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
        assert_int_equal(hcl_report_to_json(r, &o), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "type")), "hcl");
        /* The SNP fields are at the top level. */
        assert_int_equal(json_object_get_int(json_object_object_get(o, "version")), 2);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "reported_tcb_raw")),
                            "0x7308000000000003");
        assert_true(json_object_get_boolean(json_object_object_get(o, "runtime_claims_bound")));
        h = json_object_object_get(o, "hcl");
        hdr = json_object_object_get(h, "header");
        igvm = json_object_object_get(h, "igvm_request_data");
        assert_string_equal(json_object_get_string(json_object_object_get(hdr, "signature")), "HCLA");
        assert_int_equal(json_object_get_int(json_object_object_get(hdr, "version")), 1);
        assert_int_equal(json_object_get_int(json_object_object_get(hdr, "report_size")),
                         HCL_VAR_DATA_OFFSET + 26);
        assert_int_equal(json_object_get_int(json_object_object_get(hdr, "request_type")), 2);
        assert_int_equal(json_object_get_int(json_object_object_get(hdr, "status")), 0);
        assert_int_equal(json_object_get_int(json_object_object_get(igvm, "data_size")), 46);
        assert_int_equal(json_object_get_int(json_object_object_get(igvm, "report_type")), 2);
        assert_int_equal(json_object_get_int(json_object_object_get(igvm, "report_data_hash_type")), 1);
        assert_int_equal(json_object_get_int(json_object_object_get(igvm, "variable_data_size")), 26);
        assert_int_equal(json_object_get_int(json_object_object_get(h, "file_size")), (int)len);
        assert_string_equal(json_object_get_string(json_object_object_get(h, "var_data_hash_alg")),
                            "sha256");
        assert_int_equal(strlen(json_object_get_string(json_object_object_get(h, "var_data_hash"))), 64);
        claims = json_object_object_get(o, "runtime_claims");
        assert_string_equal(json_object_get_string(json_object_object_get(claims, "user-data")), "AB");
        /* A copy: the report's own claims are not shared with the output. */
        assert_ptr_not_equal(claims, hcl_report_runtime_claims(r));
}

/* ---- keys ---------------------------------------------------------------------------------------------- */

static char *b64url(const uint8_t *p, size_t n)
{
        char *s = malloc(4 * ((n + 2) / 3) + 1);
        int len;

        assert_non_null(s);
        len = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
        while (len > 0 && s[len - 1] == '=')
                s[--len] = '\0';
        for (char *c = s; *c; c++)
                *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        return s;
}

static char *bn_b64url(EVP_PKEY *k, const char *param)
{
        BIGNUM *bn = NULL;
        uint8_t buf[1024];
        char *s;
        int n;

        assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
        n = BN_bn2bin(bn, buf);
        BN_free(bn);
        s = b64url(buf, (size_t)n);
        return s;
}

static void test_ak_pub(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
                                           *got = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        _cleanup_free_ char *n = NULL, *json = NULL;
        struct cvm_error err = {};
        size_t len;

        assert_non_null(key);
        n = bn_b64url(key, OSSL_PKEY_PARAM_RSA_N);
        assert_true(asprintf(&json, claims_basic, n) > 0);
        b = build_hcl_str(json, &plain, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
        assert_non_null(hcl_report_find_key(r, "HCLAkPub"));
        assert_null(hcl_report_find_key(r, "HCLEkPub"));
        assert_int_equal(hcl_report_ak_pub(r, &got, &err), 0);
        assert_int_equal(EVP_PKEY_eq(key, got), 1);
}

static void test_ak_pub_missing(void **state)
{
        static const char *const jsons[] = {
                "{}",
                "{\"keys\":{}}",
                "{\"keys\":[1,\"x\",{\"kid\":7},{\"kid\":\"HCLEkPub\"}]}",
        };

        for (size_t i = 0; i < ELEMENTSOF(jsons); i++) {
                _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
                _cleanup_free_ uint8_t *b = NULL;
                EVP_PKEY *k = NULL;
                struct cvm_error err = {};
                size_t len;

                b = build_hcl_str(jsons[i], &plain, &len);
                assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
                assert_int_equal(hcl_report_ak_pub(r, &k, &err), -ENOENT);
                assert_null(k);
                assert_non_null(strstr(err.message, "HCLAkPub"));
        }
}

/* The JWK import itself is jwk_to_pkey()'s (tests/unit/test-jwk.c); hcl adds the AK size floor. */
static void test_ak_pub_small_rsa(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512),
                                           *k = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        _cleanup_free_ uint8_t *b = NULL;
        _cleanup_free_ char *n = NULL, *json = NULL;
        struct cvm_error err = {};
        size_t len;

        assert_non_null(small);
        n = bn_b64url(small, OSSL_PKEY_PARAM_RSA_N);
        assert_true(asprintf(&json, claims_basic, n) > 0);
        b = build_hcl_str(json, &plain, &len);
        assert_int_equal(hcl_report_parse(b, len, &r, NULL), 0);
        assert_int_equal(hcl_report_ak_pub(r, &k, &err), -EBADMSG);
        assert_null(k);
        assert_non_null(strstr(err.message, "512 bits"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_ok),
                cmocka_unit_test(test_hash_types),
                cmocka_unit_test(test_unbound),
                cmocka_unit_test(test_header_errors),
                cmocka_unit_test(test_report_types),
                cmocka_unit_test(test_size_fields),
                cmocka_unit_test(test_huge_data_size),
                cmocka_unit_test(test_snp_errors_are_located),
                cmocka_unit_test(test_claims_errors),
                cmocka_unit_test(test_claims_nesting_limit),
                cmocka_unit_test(test_claims_whitespace_ok),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_ak_pub),
                cmocka_unit_test(test_ak_pub_missing),
                cmocka_unit_test(test_ak_pub_small_rsa),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
