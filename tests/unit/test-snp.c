/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SNP report parsing, JSON rendering, signature, VEK extensions and chain verification on
 * self-made fixtures: synthetic reports signed by a throw-away AMD-like hierarchy
 * (snp-testlib.h), and hand-broken variants for every error path.
 */
#include <errno.h>

#include <openssl/pem.h>

#include "cleanup.h"
#include "snp-testlib.h"
#include "snp.h"
#include "testlib.h"

#define T_2020 ((time_t)1577836800) /* 2020-01-01 */
#define T_2025 ((time_t)1735689600) /* 2025-01-01 */
#define T_2030 ((time_t)1893456000) /* 2030-01-01 */
#define T_2035 ((time_t)2051222400) /* 2035-01-01 */

static const uint8_t chip64[64] = {
        0xc0, 0xff, 0xee, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
        0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
        0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
        0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d};

static void assert_msg(const struct cvm_error *e, const char *needle)
{
        if (!strstr(e->message, needle))
                fail_msg("error message '%s' does not contain '%s'", e->message, needle);
}

static void expect_parse_error(const uint8_t *buf, size_t len, int code, const char *needle)
{
        struct snp_report r;
        struct cvm_error err = {};

        assert_int_equal(snp_report_parse(buf, len, &r, &err), code);
        assert_msg(&err, needle);
}

/* ---- parsing ------------------------------------------------------------------------------------------- */

static void test_parse_sizes(void **state)
{
        uint8_t buf[SNP_REPORT_SIZE + 1];

        snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, 0, chip64);
        expect_parse_error(buf, 0, -EBADMSG, "0 bytes, expected 1184");
        expect_parse_error(buf, SNP_REPORT_SIZE - 1, -EBADMSG, "1183 bytes");
        expect_parse_error(buf, SNP_REPORT_SIZE + 1, -EBADMSG, "1185 bytes");
}

static void test_parse_versions(void **state)
{
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;

        for (uint32_t v = 0; v < 8; v++) {
                snp_test_report_init(buf, v, AMD_PRODUCT_MILAN, false, 0, chip64);
                if (v >= 2 && v <= 5) {
                        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
                        assert_int_equal(r.version, v);
                        assert_int_equal(r.has_cpuid, v >= 3);
                        assert_int_equal(r.has_mit_vectors, v >= 5);
                } else
                        expect_parse_error(buf, sizeof(buf), -EOPNOTSUPP, "offset 0x000: report version");
        }
}

static void test_parse_signer_fields(void **state)
{
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;

        /* Unknown signature algorithm. */
        snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, 0, chip64);
        snp_test_put_le32(buf + 0x34, 2);
        expect_parse_error(buf, sizeof(buf), -EOPNOTSUPP, "offset 0x034: signature algorithm 2");
        /* Algorithm 0 is only acceptable for an unsigned report. */
        snp_test_put_le32(buf + 0x34, 0);
        expect_parse_error(buf, sizeof(buf), -EOPNOTSUPP, "offset 0x034");
        snp_test_put_le32(buf + 0x48, SNP_SIGNING_KEY_NONE << 2);
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        /* Reserved SIGNING_KEY values. */
        for (uint32_t k = 2; k < 7; k++) {
                snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, 0, chip64);
                snp_test_put_le32(buf + 0x48, k << 2);
                expect_parse_error(buf, sizeof(buf), -EOPNOTSUPP, "offset 0x048: SIGNING_KEY value");
        }
        /* Reserved signer-info bits. */
        snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, 0, chip64);
        snp_test_put_le32(buf + 0x48, 1u << 5);
        expect_parse_error(buf, sizeof(buf), -EBADMSG, "offset 0x048: reserved signer-info bits");
        /* AUTHOR_KEY_EN and MASK_CHIP_KEY are fine. */
        snp_test_put_le32(buf + 0x48, 3);
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(r.flags, 3);
}

/* Every byte gets a value derived from its offset, so each field proves it was read from its place. */
static void test_parse_offsets(void **state)
{
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + 1);
        snp_test_put_le32(buf + 0x000, 5);
        snp_test_put_le32(buf + 0x034, 1);
        snp_test_put_le32(buf + 0x048, 0x07); /* VLEK + both flags */
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);

        assert_int_equal(r.guest_svn, le32(buf + 0x004));
        assert_true(r.policy == le64(buf + 0x008));
        assert_memory_equal(r.family_id, buf + 0x010, 16);
        assert_memory_equal(r.image_id, buf + 0x020, 16);
        assert_int_equal(r.vmpl, le32(buf + 0x030));
        assert_true(r.current_tcb == le64(buf + 0x038));
        assert_true(r.platform_info == le64(buf + 0x040));
        assert_int_equal(SNP_FLAG_SIGNING_KEY(r.flags), SNP_SIGNING_KEY_VLEK);
        assert_memory_equal(r.report_data, buf + 0x050, 64);
        assert_memory_equal(r.measurement, buf + 0x090, 48);
        assert_memory_equal(r.host_data, buf + 0x0c0, 32);
        assert_memory_equal(r.id_key_digest, buf + 0x0e0, 48);
        assert_memory_equal(r.author_key_digest, buf + 0x110, 48);
        assert_memory_equal(r.report_id, buf + 0x140, 32);
        assert_memory_equal(r.report_id_ma, buf + 0x160, 32);
        assert_true(r.reported_tcb == le64(buf + 0x180));
        assert_int_equal(r.cpuid_fam_id, buf[0x188]);
        assert_int_equal(r.cpuid_mod_id, buf[0x189]);
        assert_int_equal(r.cpuid_step, buf[0x18a]);
        assert_memory_equal(r.chip_id, buf + 0x1a0, 64);
        assert_true(r.committed_tcb == le64(buf + 0x1e0));
        assert_int_equal(r.current_build, buf[0x1e8]);
        assert_int_equal(r.current_minor, buf[0x1e9]);
        assert_int_equal(r.current_major, buf[0x1ea]);
        assert_int_equal(r.committed_build, buf[0x1ec]);
        assert_int_equal(r.committed_minor, buf[0x1ed]);
        assert_int_equal(r.committed_major, buf[0x1ee]);
        assert_true(r.launch_tcb == le64(buf + 0x1f0));
        assert_true(r.launch_mit_vector == le64(buf + 0x1f8));
        assert_true(r.current_mit_vector == le64(buf + 0x200));
        assert_memory_equal(r.signature_r, buf + 0x2a0, 72);
        assert_memory_equal(r.signature_s, buf + 0x2e8, 72);
        assert_memory_equal(r.raw, buf, sizeof(buf));
}

/* ---- product and TCB ----------------------------------------------------------------------------------- */

static void test_product_from_cpuid(void **state)
{
        assert_int_equal(snp_product_from_cpuid(0x19, 0x01), AMD_PRODUCT_MILAN);
        assert_int_equal(snp_product_from_cpuid(0x19, 0x0f), AMD_PRODUCT_MILAN);
        assert_int_equal(snp_product_from_cpuid(0x19, 0x11), AMD_PRODUCT_GENOA);
        assert_int_equal(snp_product_from_cpuid(0x19, 0xa0), AMD_PRODUCT_GENOA);
        assert_int_equal(snp_product_from_cpuid(0x19, 0xaf), AMD_PRODUCT_GENOA);
        assert_int_equal(snp_product_from_cpuid(0x19, 0x20), AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_product_from_cpuid(0x1a, 0x02), AMD_PRODUCT_TURIN);
        assert_int_equal(snp_product_from_cpuid(0x1a, 0x11), AMD_PRODUCT_TURIN);
        assert_int_equal(snp_product_from_cpuid(0x1a, 0x50), AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_product_from_cpuid(0x17, 0x31), AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_product_from_cpuid(0, 0), AMD_PRODUCT_UNKNOWN);
}

static void test_tcb_decode(void **state)
{
        struct snp_tcb t;

        /* The example from the protocol notes: 0x7308000000000003. */
        snp_tcb_decode(UINT64_C(0x7308000000000003), SNP_TCB_LAYOUT_MILAN_GENOA, &t);
        assert_int_equal(t.bootloader, 3);
        assert_int_equal(t.tee, 0);
        assert_int_equal(t.snp, 8);
        assert_int_equal(t.microcode, 0x73);
        snp_tcb_decode(snp_test_tcb_milan(1, 2, 3, 4), SNP_TCB_LAYOUT_MILAN_GENOA, &t);
        assert_int_equal(t.bootloader, 1);
        assert_int_equal(t.tee, 2);
        assert_int_equal(t.snp, 3);
        assert_int_equal(t.microcode, 4);
        snp_tcb_decode(snp_test_tcb_turin(5, 6, 7, 8, 9), SNP_TCB_LAYOUT_TURIN, &t);
        assert_int_equal(t.fmc, 5);
        assert_int_equal(t.bootloader, 6);
        assert_int_equal(t.tee, 7);
        assert_int_equal(t.snp, 8);
        assert_int_equal(t.microcode, 9);
        snp_tcb_decode(UINT64_C(0x0102030405060708), SNP_TCB_LAYOUT_UNKNOWN, &t);
        assert_int_equal(t.bootloader | t.tee | t.snp | t.microcode | t.fmc, 0);
        assert_true(t.raw == UINT64_C(0x0102030405060708));
}

static void test_tcb_layout_rules(void **state)
{
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;

        /* v2: no CPUID; Milan/Genoa layout until a certificate says otherwise. */
        snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, 0, chip64);
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(r.product, AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_report_tcb_layout(&r), SNP_TCB_LAYOUT_MILAN_GENOA);
        snp_report_set_product(&r, AMD_PRODUCT_GENOA);
        assert_int_equal(r.product, AMD_PRODUCT_GENOA);

        /* v3 Turin: the CPUID decides and a certificate cannot override it. */
        snp_test_report_init(buf, 3, AMD_PRODUCT_TURIN, false, 0, chip64);
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(r.product, AMD_PRODUCT_TURIN);
        assert_true(r.product_from_cpuid);
        assert_int_equal(snp_report_tcb_layout(&r), SNP_TCB_LAYOUT_TURIN);
        snp_report_set_product(&r, AMD_PRODUCT_MILAN);
        assert_int_equal(r.product, AMD_PRODUCT_TURIN);

        /* v3 from an unknown CPU: raw TCBs only. */
        buf[0x188] = 0x1a;
        buf[0x189] = 0x90;
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(r.product, AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_report_tcb_layout(&r), SNP_TCB_LAYOUT_UNKNOWN);

        /* v3 with zero CPUID is treated like v2. */
        buf[0x188] = buf[0x189] = buf[0x18a] = 0;
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(snp_report_tcb_layout(&r), SNP_TCB_LAYOUT_MILAN_GENOA);
}

/* ---- JSON ---------------------------------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("JSON has no '%s'", key);
        return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                fail_msg("JSON has no integer '%s'", key);
        return json_object_get_int64(v);
}

static json_object *jobj(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                fail_msg("JSON has no object '%s'", key);
        return v;
}

static void test_json_milan_v2(void **state)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;
        json_object *tcb, *pol, *v;

        snp_test_report_init(buf, 2, AMD_PRODUCT_MILAN, false, snp_test_tcb_milan(3, 0, 8, 115), chip64);
        snp_test_put_le64(buf + 0x08, 0xb0000); /* SMT, reserved one, debug */
        buf[0x2a0] = 0x01;                      /* r, least significant byte */
        buf[0x2a0 + 71] = 0x02;                 /* r, most significant byte */
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(snp_report_to_json(&r, &o), 0);

        assert_string_equal(jstr(o, "type"), "snp");
        assert_int_equal(jint(o, "version"), 2);
        assert_int_equal(jint(o, "guest_svn"), 3);
        assert_string_equal(jstr(o, "policy"), "0xb0000");
        assert_string_equal(jstr(o, "platform_info"), "0x1");
        assert_string_equal(jstr(o, "signing_key"), "VCEK");
        assert_string_equal(jstr(o, "reported_tcb_raw"), "0x7308000000000003");
        assert_string_equal(jstr(o, "tcb_layout"), "milan-genoa");
        assert_true(json_object_object_get_ex(o, "product", &v) && v == NULL);
        tcb = jobj(o, "reported_tcb");
        assert_int_equal(jint(tcb, "bootloader"), 3);
        assert_int_equal(jint(tcb, "snp"), 8);
        assert_int_equal(jint(tcb, "microcode"), 115);
        assert_string_equal(jstr(tcb, "raw"), "0x7308000000000003");
        assert_false(json_object_object_get_ex(tcb, "fmc", NULL));
        pol = jobj(o, "policy_decoded");
        assert_true(json_object_get_boolean(jobj(pol, "debug")));
        assert_true(json_object_get_boolean(jobj(pol, "smt")));
        assert_false(json_object_get_boolean(jobj(pol, "migrate_ma")));
        assert_string_equal(jstr(o, "measurement"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9bab"
                                                    "bbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
        assert_int_equal(strlen(jstr(o, "chip_id")), 128);
        assert_int_equal(strlen(jstr(o, "report_data")), 128);
        /* r is shown big-endian. */
        assert_int_equal(strncmp(jstr(o, "signature_r"), "02", 2), 0);
        assert_int_equal(strcmp(jstr(o, "signature_r") + 142, "01"), 0);
        /* v2 has no CPUID and no mitigation vectors. */
        assert_false(json_object_object_get_ex(o, "cpuid_fam_id", NULL));
        assert_false(json_object_object_get_ex(o, "launch_mit_vector", NULL));
        assert_int_equal(jint(o, "current_major"), 1);
        assert_int_equal(jint(o, "current_minor"), 55);
        assert_int_equal(jint(o, "committed_build"), 4);
}

static void test_json_turin_v5(void **state)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;
        json_object *tcb;

        snp_test_report_init(buf, 5, AMD_PRODUCT_TURIN, false, snp_test_tcb_turin(2, 3, 4, 5, 6), chip64);
        snp_test_put_le64(buf + 0x1f8, 0x11);
        snp_test_put_le64(buf + 0x200, 0x22);
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(snp_report_to_json(&r, &o), 0);
        assert_string_equal(jstr(o, "product"), "Turin");
        assert_string_equal(jstr(o, "tcb_layout"), "turin");
        tcb = jobj(o, "launch_tcb");
        assert_int_equal(jint(tcb, "fmc"), 2);
        assert_int_equal(jint(tcb, "bootloader"), 3);
        assert_int_equal(jint(tcb, "tee"), 4);
        assert_int_equal(jint(tcb, "snp"), 5);
        assert_int_equal(jint(tcb, "microcode"), 6);
        assert_int_equal(jint(o, "cpuid_fam_id"), 0x1a);
        assert_int_equal(jint(o, "cpuid_mod_id"), 0x02);
        assert_string_equal(jstr(o, "launch_mit_vector"), "0x11");
        assert_string_equal(jstr(o, "current_mit_vector"), "0x22");
}

static void test_json_unknown_cpu(void **state)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report r;
        json_object *tcb;

        snp_test_report_init(buf, 3, AMD_PRODUCT_MILAN, false, 0x1234, chip64);
        buf[0x188] = 0x30;
        assert_int_equal(snp_report_parse(buf, sizeof(buf), &r, NULL), 0);
        assert_int_equal(snp_report_to_json(&r, &o), 0);
        assert_string_equal(jstr(o, "tcb_layout"), "unknown");
        tcb = jobj(o, "reported_tcb");
        assert_false(json_object_object_get_ex(tcb, "bootloader", NULL));
        assert_string_equal(jstr(tcb, "raw"), "0x1234");
}

/* ---- certificates -------------------------------------------------------------------------------------- */

static const struct snp_test_vek_opts milan_vcek = {
        .product = AMD_PRODUCT_MILAN,
        .hwid = chip64,
        .hwid_size = 64,
        .spl = {.bl = 3, .tee = 0, .snp = 8, .ucode = 115, .fmc = -1},
        .not_before = T_2020,
        .not_after = T_2030,
};

static struct snp_vek *load_vek_x509(X509 *x)
{
        _cleanup_free_ uint8_t *der = NULL;
        struct snp_vek *v = NULL;
        struct cvm_error err = {};
        size_t n = 0;

        der = snp_test_der(x, &n);
        assert_non_null(der);
        if (snp_vek_load(der, n, &v, &err) < 0)
                fail_msg("snp_vek_load: %s", err.message);
        return v;
}

/* A signed synthetic report plus its hierarchy, for the verification tests. */
struct fixture {
        struct snp_test_ca ca;
        struct snp_vek *vek;
        uint8_t buf[SNP_REPORT_SIZE];
        struct snp_report report;
};

static void fixture_done(struct fixture *f)
{
        snp_vek_free(f->vek);
        snp_test_ca_free(&f->ca);
}

static void fixture_make(struct fixture *f, const struct snp_test_vek_opts *o, uint32_t version,
                         uint64_t tcb)
{
        memset(f, 0, sizeof(*f));
        assert_true(snp_test_ca_create(&f->ca, o));
        f->vek = load_vek_x509(f->ca.vek);
        snp_test_report_init(f->buf, version, o->product, o->vlek, tcb, chip64);
        assert_true(snp_test_report_sign(f->buf, f->ca.vek_key));
        assert_int_equal(snp_report_parse(f->buf, sizeof(f->buf), &f->report, NULL), 0);
        snp_report_set_product(&f->report, f->vek->product);
}

static void test_vek_extensions(void **state)
{
        struct fixture f;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(f.vek->type, SNP_SIGNING_KEY_VCEK);
        assert_int_equal(f.vek->product, AMD_PRODUCT_MILAN);
        assert_string_equal(f.vek->product_name, "Milan");
        assert_int_equal(f.vek->hwid_size, 64);
        assert_memory_equal(f.vek->hwid, chip64, 64);
        assert_int_equal(f.vek->spl_bl, 3);
        assert_int_equal(f.vek->spl_tee, 0);
        assert_int_equal(f.vek->spl_snp, 8);
        assert_int_equal(f.vek->spl_ucode, 115);
        assert_int_equal(f.vek->spl_fmc, -1);
        assert_null(f.vek->bundle);
        fixture_done(&f);
}

static void test_vek_wrapped_hwid(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct fixture f;
        struct snp_vek_match m;

        o.hwid_wrapped = true;
        fixture_make(&f, &o, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(f.vek->hwid_size, 64);
        assert_memory_equal(f.vek->hwid, chip64, 64);
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_VALID);
        fixture_done(&f);
}

static void expect_vek_error(X509 *x, const char *needle)
{
        _cleanup_free_ uint8_t *der = NULL;
        struct snp_vek *v = NULL;
        struct cvm_error err = {};
        size_t n = 0;

        der = snp_test_der(x, &n);
        assert_non_null(der);
        assert_int_equal(snp_vek_load(der, n, &v, &err), -EBADMSG);
        assert_null(v);
        assert_msg(&err, needle);
}

static void test_vek_bad_extensions(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct snp_test_ca ca;
        static const uint8_t bad_int[] = {0x04, 0x01, 0x05};       /* OCTET STRING, not INTEGER */
        static const uint8_t big_int[] = {0x02, 0x02, 0x01, 0x00}; /* 256 */
        static const uint8_t name_utf8[] = {0x0c, 0x02, 'M', 'i'};
        static const uint8_t name_ctrl[] = {0x16, 0x02, 'M', 0x01};

        /* A 32-byte hwID. */
        o.hwid_size = 32;
        assert_true(snp_test_ca_create(&ca, &o));
        expect_vek_error(ca.vek, "hwID");
        snp_test_ca_free(&ca);

        o = milan_vcek;
        o.spl.bl = -1;
        assert_true(snp_test_ca_create(&ca, &o));
        assert_true(snp_test_add_raw_ext(ca.vek, "1.3.6.1.4.1.3704.1.3.1", bad_int, sizeof(bad_int)));
        expect_vek_error(ca.vek, "1.3.6.1.4.1.3704.1.3.1");
        snp_test_ca_free(&ca);

        o = milan_vcek;
        o.spl.ucode = -1;
        assert_true(snp_test_ca_create(&ca, &o));
        assert_true(snp_test_add_raw_ext(ca.vek, "1.3.6.1.4.1.3704.1.3.8", big_int, sizeof(big_int)));
        expect_vek_error(ca.vek, "0 to 255");
        snp_test_ca_free(&ca);

        o = milan_vcek;
        o.product = AMD_PRODUCT_UNKNOWN; /* no product-name extension added */
        assert_true(snp_test_ca_create(&ca, &o));
        assert_true(snp_test_add_raw_ext(ca.vek, "1.3.6.1.4.1.3704.1.2", name_utf8, sizeof(name_utf8)));
        expect_vek_error(ca.vek, "productName");
        snp_test_ca_free(&ca);

        assert_true(snp_test_ca_create(&ca, &o));
        assert_true(snp_test_add_raw_ext(ca.vek, "1.3.6.1.4.1.3704.1.2", name_ctrl, sizeof(name_ctrl)));
        expect_vek_error(ca.vek, "non-printable");
        snp_test_ca_free(&ca);
}

static void test_certs_load(void **state)
{
        _cleanup_free_ uint8_t *der = NULL, *trailing = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        STACK_OF(X509) *certs = NULL;
        struct snp_test_ca ca;
        struct cvm_error err = {};
        struct snp_vek *v = NULL;
        char *pem;
        size_t n = 0;
        long pem_len;

        assert_true(snp_test_ca_create(&ca, &milan_vcek));

        /* DER, and DER with junk after it. */
        der = snp_test_der(ca.vek, &n);
        assert_int_equal(snp_certs_load(der, n, &certs, NULL), 0);
        assert_int_equal(sk_X509_num(certs), 1);
        sk_X509_pop_free(certs, X509_free);
        trailing = malloc(n + 1);
        memcpy(trailing, der, n);
        trailing[n] = 0;
        assert_int_equal(snp_certs_load(trailing, n + 1, &certs, &err), -EBADMSG);
        assert_msg(&err, "trailing data");
        cvm_error_clear(&err);
        assert_int_equal(snp_certs_load(der, n / 2, &certs, &err), -EBADMSG);
        assert_msg(&err, "neither a PEM nor a DER");
        cvm_error_clear(&err);
        assert_int_equal(snp_certs_load((const uint8_t *)"", 0, &certs, &err), -EBADMSG);
        cvm_error_clear(&err);

        /* A PEM bundle VEK + ASK + ARK with a foreign block in between: VEK first, rest the bundle. */
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_X509(bio, ca.vek), 1);
        assert_true(BIO_puts(bio, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") > 0);
        assert_int_equal(PEM_write_bio_X509(bio, ca.ask), 1);
        assert_int_equal(PEM_write_bio_X509(bio, ca.ark), 1);
        pem_len = BIO_get_mem_data(bio, &pem);
        assert_int_equal(snp_vek_load((const uint8_t *)pem, (size_t)pem_len, &v, &err), 0);
        assert_int_equal(v->type, SNP_SIGNING_KEY_VCEK);
        assert_non_null(v->bundle);
        assert_int_equal(sk_X509_num(v->bundle), 2);
        snp_vek_free(v);

        /* A PEM block whose base64 is broken. */
        static const char broken[] = "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n";
        assert_int_equal(snp_certs_load((const uint8_t *)broken, sizeof(broken) - 1, &certs, &err),
                         -EBADMSG);
        assert_msg(&err, "PEM certificate 1");
        cvm_error_clear(&err);
        /* PEM without any certificate. */
        static const char nocert[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert_int_equal(snp_certs_load((const uint8_t *)nocert, sizeof(nocert) - 1, &certs, &err),
                         -EBADMSG);
        snp_test_ca_free(&ca);
}

/* ---- signature ----------------------------------------------------------------------------------------- */

static void test_signature(void **state)
{
        struct snp_check_result res;
        struct snp_report r;
        struct fixture f;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &res, NULL), 0);
        assert_int_equal(res.status, SNP_CHECK_VALID);
        assert_string_equal(res.reason, "");

        /* Any signed byte changed: invalid. Bytes after 0x29f are outside the signature but r/s are not. */
        for (size_t off = 0; off < SNP_REPORT_SIGNED_SIZE; off += 37) {
                uint8_t copy[SNP_REPORT_SIZE];

                memcpy(copy, f.buf, sizeof(copy));
                copy[off] ^= 0x80;
                if (snp_report_parse(copy, sizeof(copy), &r, NULL) < 0)
                        continue; /* e.g. the version byte: no longer a report */
                assert_int_equal(snp_report_verify_signature(&r, f.vek, &res, NULL), 0);
                assert_int_equal(res.status, SNP_CHECK_INVALID);
                assert_non_null(strstr(res.reason, "does not verify"));
        }
        /* r = 0 and s beyond the group order. */
        memset(f.report.signature_r, 0, sizeof(f.report.signature_r));
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &res, NULL), 0);
        assert_int_equal(res.status, SNP_CHECK_INVALID);
        memset(f.report.signature_s, 0xff, sizeof(f.report.signature_s));
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &res, NULL), 0);
        assert_int_equal(res.status, SNP_CHECK_INVALID);
        fixture_done(&f);
}

static void test_signature_unsigned_and_rsa(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct snp_check_result res;
        struct fixture f;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        f.report.flags = SNP_SIGNING_KEY_NONE << 2;
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &res, NULL), 0);
        assert_int_equal(res.status, SNP_CHECK_INVALID);
        assert_non_null(strstr(res.reason, "not signed"));
        snp_vek_free(f.vek);
        snp_test_ca_free(&f.ca);

        o.rsa_key = true;
        f.report.flags = 0;
        assert_true(snp_test_ca_create(&f.ca, &o));
        f.vek = load_vek_x509(f.ca.vek);
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &res, NULL), 0);
        assert_int_equal(res.status, SNP_CHECK_INVALID);
        assert_non_null(strstr(res.reason, "not an EC P-384 key"));
        fixture_done(&f);
}

/* ---- VEK <-> report ------------------------------------------------------------------------------------ */

static void test_match(void **state)
{
        struct snp_vek_match m;
        struct fixture f;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_VALID);
        assert_int_equal(m.hwid, 1);
        assert_int_equal(m.tcb, 1);
        assert_int_equal(m.signing_key, 1);
        assert_int_equal(m.product, -1); /* v2: nothing to compare */

        /* Another chip. */
        f.report.chip_id[63] ^= 1;
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_INVALID);
        assert_int_equal(m.hwid, 0);
        assert_non_null(strstr(m.reason, "different chip"));
        /* Masked chip ID. */
        memset(f.report.chip_id, 0, sizeof(f.report.chip_id));
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.hwid, 0);
        assert_non_null(strstr(m.reason, "masked"));
        memcpy(f.report.chip_id, chip64, 64);

        /* Another TCB: every SPL is named. */
        f.report.reported_tcb = snp_test_tcb_milan(2, 1, 7, 114);
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_INVALID);
        assert_int_equal(m.tcb, 0);
        assert_non_null(strstr(m.reason, "blSPL is 2 but the certificate says 3"));
        assert_non_null(strstr(m.reason, "teeSPL"));
        assert_non_null(strstr(m.reason, "snpSPL"));
        assert_non_null(strstr(m.reason, "ucodeSPL is 114"));
        f.report.reported_tcb = snp_test_tcb_milan(3, 0, 8, 115);

        /* The report claims a VLEK signed it. */
        f.report.flags = SNP_SIGNING_KEY_VLEK << 2;
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.signing_key, 0);
        assert_non_null(strstr(m.reason, "signed by a VLEK but the certificate is a VCEK"));
        /* ... or claims to be unsigned. */
        f.report.flags = SNP_SIGNING_KEY_NONE << 2;
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.signing_key, 0);
        assert_non_null(strstr(m.reason, "not signed"));
        fixture_done(&f);
}

/* An 8-byte hwID would only compare 8 bytes: refused for Milan, whose IDs have 64. */
static void test_match_short_hwid_on_milan(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct snp_vek_match m;
        struct fixture f;

        o.hwid_size = 8;
        fixture_make(&f, &o, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_INVALID);
        assert_int_equal(m.hwid, 0);
        assert_non_null(strstr(m.reason, "hwID is 8 bytes; Milan uses 64"));
        fixture_done(&f);
}

static void test_match_missing_extensions(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct snp_vek_match m;
        struct fixture f;

        o.hwid = NULL;
        o.spl.tee = -1;
        fixture_make(&f, &o, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_INVALID);
        assert_non_null(strstr(m.reason, "no hwID"));
        assert_non_null(strstr(m.reason, "no teeSPL"));
        fixture_done(&f);
}

static void test_match_genoa_cpu_vs_milan_cert(void **state)
{
        struct snp_vek_match m;
        struct fixture f;

        fixture_make(&f, &milan_vcek, 3, snp_test_tcb_milan(3, 0, 8, 115));
        f.report.product = AMD_PRODUCT_GENOA; /* as if the CPUID said Genoa */
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.product, 0);
        assert_non_null(strstr(m.reason, "Genoa CPU but the certificate is for Milan"));
        fixture_done(&f);
}

static void test_turin(void **state)
{
        struct snp_test_vek_opts o = {
                .product = AMD_PRODUCT_TURIN,
                .hwid = chip64,
                .hwid_size = 8,
                .spl = {.bl = 3, .tee = 4, .snp = 5, .ucode = 6, .fmc = 2},
                .not_before = T_2020,
                .not_after = T_2030,
        };
        struct snp_chain_result c;
        struct snp_check_result s;
        struct snp_vek_match m;
        struct fixture f;
        time_t at = T_2025;

        fixture_make(&f, &o, 3, snp_test_tcb_turin(2, 3, 4, 5, 6));
        assert_int_equal(f.report.product, AMD_PRODUCT_TURIN);
        assert_int_equal(f.vek->hwid_size, 8);
        assert_int_equal(f.vek->spl_fmc, 2);
        assert_int_equal(snp_report_verify_signature(&f.report, f.vek, &s, NULL), 0);
        assert_int_equal(s.status, SNP_CHECK_VALID);
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_VALID);
        assert_int_equal(m.product, 1);
        assert_int_equal(snp_chain_verify_with_ark(f.vek, NULL, f.ca.ark, &at, &c, NULL), 0);
        /* No intermediate given: the test ASK is not pinned, so the chain cannot be built. */
        assert_int_equal(c.status, SNP_CHECK_INVALID);

        /* The FMC SPL is compared too; only the first 8 chip_id bytes count. */
        f.report.chip_id[40] ^= 1;
        f.report.reported_tcb = snp_test_tcb_turin(1, 3, 4, 5, 6);
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.hwid, 1);
        assert_int_equal(m.tcb, 0);
        assert_non_null(strstr(m.reason, "fmcSPL is 1 but the certificate says 2"));
        fixture_done(&f);
}

/* ---- chain --------------------------------------------------------------------------------------------- */

static STACK_OF(X509) * stack_of(X509 *a, X509 *b)
{
        STACK_OF(X509) *s = sk_X509_new_null();

        assert_non_null(s);
        if (a) {
                assert_int_equal(X509_up_ref(a), 1);
                assert_true(sk_X509_push(s, a) > 0);
        }
        if (b) {
                assert_int_equal(X509_up_ref(b), 1);
                assert_true(sk_X509_push(s, b) > 0);
        }
        return s;
}

static void test_chain_with_test_root(void **state)
{
        STACK_OF(X509) * chain;
        struct snp_chain_result c;
        struct fixture f;
        time_t at = T_2025;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        chain = stack_of(f.ca.ask, f.ca.ark);
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_VALID);
        assert_int_equal(c.product, AMD_PRODUCT_MILAN);
        assert_int_equal(c.failed_depth, -1);
        assert_non_null(strstr(c.ask_subject, "CN=SEV-Milan"));
        assert_non_null(strstr(c.ark_subject, "CN=ARK-Milan"));
        assert_int_equal(strlen(c.ark_sha256), 64);
        assert_true(c.user_chain_used);
        assert_true(c.at == T_2025);

        /* Expired and not yet valid. */
        at = T_2035;
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        assert_non_null(strstr(c.reason, "has expired (not after 2030-01-01T00:00:00Z)"));
        at = T_2020 - 1;
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_non_null(strstr(c.reason, "not yet valid (not before 2020-01-01T00:00:00Z)"));

        /* Without "at" the current time is used (the VEK is valid until 2030, the suite runs earlier). */
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, NULL, &c, NULL), 0);
        assert_true(c.at > T_2020);
        sk_X509_pop_free(chain, X509_free);
        fixture_done(&f);
}

static void test_chain_pinned_rejects_test_root(void **state)
{
        STACK_OF(X509) * chain;
        struct snp_chain_result c;
        struct fixture f;
        time_t at = T_2025;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        /* Our ARK is self-signed but not AMD's: refused by name. */
        chain = stack_of(f.ca.ask, f.ca.ark);
        assert_int_equal(snp_chain_verify(f.vek, chain, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 2);
        assert_non_null(strstr(c.reason, "is not the pinned ARK-Milan"));
        sk_X509_pop_free(chain, X509_free);

        /* Only our ASK: it does not chain to the pinned ARK. */
        chain = stack_of(f.ca.ask, NULL);
        assert_int_equal(snp_chain_verify(f.vek, chain, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_true(c.failed_depth >= 0);
        sk_X509_pop_free(chain, X509_free);

        /* Nothing supplied: the pinned ASK has the right name but did not sign this VCEK. */
        assert_int_equal(snp_chain_verify(f.vek, NULL, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        fixture_done(&f);
}

static void test_chain_tampered(void **state)
{
        _cleanup_free_ uint8_t *der = NULL;
        STACK_OF(X509) * chain;
        struct snp_chain_result c;
        struct snp_vek *v = NULL;
        struct fixture f;
        time_t at = T_2025;
        size_t n = 0;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        chain = stack_of(f.ca.ask, NULL);
        der = snp_test_der(f.ca.vek, &n);
        /* The last byte belongs to the RSA-PSS signature value. */
        der[n - 1] ^= 0x01;
        assert_int_equal(snp_vek_load(der, n, &v, NULL), 0);
        assert_int_equal(snp_chain_verify_with_ark(v, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        assert_non_null(strstr(c.reason, "signature failure"));
        snp_vek_free(v);
        sk_X509_pop_free(chain, X509_free);
        fixture_done(&f);
}

static void test_chain_vlek(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        STACK_OF(X509) * chain;
        struct snp_chain_result c;
        struct snp_vek_match m;
        struct fixture f;
        time_t at = T_2025;

        o.vlek = true;
        o.hwid = NULL;
        fixture_make(&f, &o, 3, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(f.vek->type, SNP_SIGNING_KEY_VLEK);
        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_VALID);
        assert_int_equal(m.hwid, -1);
        chain = stack_of(f.ca.ask, NULL);
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_VALID);
        assert_non_null(strstr(c.ask_subject, "CN=SEV-VLEK-Milan"));
        sk_X509_pop_free(chain, X509_free);
        fixture_done(&f);

        /* A VLEK issued by the VCEK intermediate is refused. */
        o.issuer_cn = "SEV-Milan";
        o.vlek = true;
        memset(&f, 0, sizeof(f));
        assert_true(snp_test_ca_create(&f.ca, &o));
        /* Re-issue the intermediate under the VCEK name so the path builds. */
        X509_free(f.ca.ask);
        f.ca.ask = snp_test_cert("SEV-Milan", "ARK-Milan", f.ca.ask_key, true, 946684800, 4102444800, 3);
        assert_true(snp_test_sign_pss(f.ca.ask, f.ca.ark_key));
        f.vek = load_vek_x509(f.ca.vek);
        assert_int_equal(f.vek->type, SNP_SIGNING_KEY_VLEK);
        chain = stack_of(f.ca.ask, NULL);
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_non_null(strstr(c.reason, "expected the ASVK"));
        sk_X509_pop_free(chain, X509_free);
        fixture_done(&f);
}

static void test_chain_unknown_issuer(void **state)
{
        struct snp_test_vek_opts o = milan_vcek;
        struct snp_chain_result c;
        struct fixture f;
        _cleanup_(json_object_putp) json_object *j = NULL;

        o.issuer_cn = "SEV-Milanese";
        memset(&f, 0, sizeof(f));
        assert_true(snp_test_ca_create(&f.ca, &o));
        f.vek = load_vek_x509(f.ca.vek);
        assert_int_equal(f.vek->product, AMD_PRODUCT_UNKNOWN);
        assert_int_equal(snp_chain_verify(f.vek, NULL, NULL, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        assert_non_null(strstr(c.reason, "is not an AMD SEV-SNP product CA"));
        assert_int_equal(snp_chain_result_to_json(&c, &j), 0);
        assert_string_equal(jstr(j, "reason"), c.reason);
        assert_int_equal(jint(j, "failed_depth"), 0);
        fixture_done(&f);
}

static void test_result_json(void **state)
{
        _cleanup_(json_object_putp) json_object *v = NULL, *m = NULL, *c = NULL;
        STACK_OF(X509) * chain;
        struct snp_chain_result cr;
        struct snp_vek_match mr;
        struct fixture f;
        json_object *x;
        time_t at = T_2025;

        fixture_make(&f, &milan_vcek, 2, snp_test_tcb_milan(3, 0, 8, 115));
        assert_int_equal(snp_vek_to_json(f.vek, &v), 0);
        assert_string_equal(jstr(v, "type"), "VCEK");
        assert_string_equal(jstr(v, "product"), "Milan");
        assert_string_equal(jstr(v, "not_before"), "2020-01-01T00:00:00Z");
        assert_string_equal(jstr(v, "not_after"), "2030-01-01T00:00:00Z");
        assert_int_equal(strlen(jstr(v, "hwid")), 128);
        assert_int_equal(jint(jobj(v, "tcb"), "microcode"), 115);
        assert_false(json_object_object_get_ex(jobj(v, "tcb"), "fmc", NULL));

        assert_int_equal(snp_vek_match_report(f.vek, &f.report, &mr), 0);
        assert_int_equal(snp_vek_match_to_json(&mr, &m), 0);
        assert_true(json_object_get_boolean(jobj(m, "hwid")));
        assert_true(json_object_object_get_ex(m, "product", &x) && x == NULL);
        assert_false(json_object_object_get_ex(m, "reason", NULL));

        chain = stack_of(f.ca.ask, NULL);
        assert_int_equal(snp_chain_verify_with_ark(f.vek, chain, f.ca.ark, &at, &cr, NULL), 0);
        assert_int_equal(snp_chain_result_to_json(&cr, &c), 0);
        assert_string_equal(jstr(c, "at"), "2025-01-01T00:00:00Z");
        assert_string_equal(jstr(c, "product"), "Milan");
        assert_false(json_object_object_get_ex(c, "reason", NULL));
        sk_X509_pop_free(chain, X509_free);
        fixture_done(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_sizes),
                cmocka_unit_test(test_parse_versions),
                cmocka_unit_test(test_parse_signer_fields),
                cmocka_unit_test(test_parse_offsets),
                cmocka_unit_test(test_product_from_cpuid),
                cmocka_unit_test(test_tcb_decode),
                cmocka_unit_test(test_tcb_layout_rules),
                cmocka_unit_test(test_json_milan_v2),
                cmocka_unit_test(test_json_turin_v5),
                cmocka_unit_test(test_json_unknown_cpu),
                cmocka_unit_test(test_vek_extensions),
                cmocka_unit_test(test_vek_wrapped_hwid),
                cmocka_unit_test(test_vek_bad_extensions),
                cmocka_unit_test(test_certs_load),
                cmocka_unit_test(test_signature),
                cmocka_unit_test(test_signature_unsigned_and_rsa),
                cmocka_unit_test(test_match),
                cmocka_unit_test(test_match_missing_extensions),
                cmocka_unit_test(test_match_short_hwid_on_milan),
                cmocka_unit_test(test_match_genoa_cpu_vs_milan_cert),
                cmocka_unit_test(test_turin),
                cmocka_unit_test(test_chain_with_test_root),
                cmocka_unit_test(test_chain_pinned_rejects_test_root),
                cmocka_unit_test(test_chain_tampered),
                cmocka_unit_test(test_chain_vlek),
                cmocka_unit_test(test_chain_unknown_issuer),
                cmocka_unit_test(test_result_json),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
