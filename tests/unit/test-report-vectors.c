/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conformance over the real-data corpus: every entry of MANIFEST.json "snp_reports" and
 * "hcl_reports" must give the recorded fields (and the fuller field lists of
 * VERIFIED_snp_and_hcl_results.json), signature, chain, hwID and TCB results and, for HCL
 * reports, the header, IGVM data and binding. Validity is judged one day after the VEK's
 * notBefore (vectors README, Gotchas #5). Plus the upstream negative vectors.
 */
#include <errno.h>

#include "cleanup.h"
#include "hcl.h"
#include "snp.h"
#include "testlib.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_vek *, snp_vek_free)

static void x509_stack_freep(STACK_OF(X509) * *s)
{
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}

enum src_kind {
        SRC_FILE,        /* the file as it is */
        SRC_FILE_1184,   /* the first 1184 bytes of the file */
        SRC_JSON_BYTES,  /* a JSON array of byte values */
        SRC_JSON_B64URL, /* a JSON base64url string */
};

struct vector {
        const char *label; /* MANIFEST label */
        enum src_kind kind;
        const char *file;
        const char *member;     /* JSON member path, "a.b" */
        const char *vek_file;   /* or NULL: take vek_member from the JSON */
        const char *vek_member; /* PEM text or base64url DER */
        const char *chain_file; /* optional */
};

static const struct vector vectors[] = {
        {"go-sev-guest/attestation.bin", SRC_FILE, "go-sev-guest/attestation.bin", NULL,
         "go-sev-guest/vcek.testcer", NULL, "go-sev-guest/milan.testcer"},
        {"virtee-sev/report_milan.bin", SRC_FILE, "virtee-sev/report_milan.bin", NULL,
         "virtee-sev/vcek_milan.der", NULL, "virtee-sev/cert_chain_milan"},
        {"constellation/azure-snp/attestation.bin[0:1184] (vcek.pem THIM)", SRC_FILE_1184,
         "constellation/azure-snp/attestation.bin", NULL, "constellation/azure-snp/vcek.pem", NULL,
         "constellation/azure-snp/certchain.pem"},
        {"constellation/azure-snp/attestation.bin[0:1184] (vcek.cert KDS DER)", SRC_FILE_1184,
         "constellation/azure-snp/attestation.bin", NULL, "constellation/azure-snp/vcek.cert", NULL,
         "constellation/azure-snp/certchain.pem"},
        {"constellation/azure-snp/attestation_vlek.bin", SRC_FILE,
         "constellation/azure-snp/attestation_vlek.bin", NULL, "constellation/azure-snp/vlek.pem", NULL,
         "constellation/azure-snp/vlekcertchain.pem"},
        {"constellation/aws-snp/report.bin", SRC_FILE, "constellation/aws-snp/report.bin", NULL,
         "constellation/aws-snp/vlek.pem", NULL, "constellation/aws-snp/certchain.pem"},
        {"trustee/snp/test-report.bin", SRC_FILE, "trustee/snp/test-report.bin", NULL,
         "trustee/snp/test-vcek.der", NULL, "trustee/amd-chains/milan_ask_ark_asvk.pem"},
        {"trustee/snp/test-vlek-report.bin", SRC_FILE, "trustee/snp/test-vlek-report.bin", NULL,
         "trustee/snp/test-vlek.der", NULL, NULL},
        {"lunal-attestation-rs/snp/live-report-v5-genoa.bin", SRC_FILE,
         "lunal-attestation-rs/snp/live-report-v5-genoa.bin", NULL,
         "lunal-attestation-rs/snp/live-vcek-genoa.der", NULL, NULL},
        {"azure-cvm-tooling/hcl-report-snp.bin (embedded SNP report)", SRC_FILE,
         "azure-cvm-tooling/hcl-report-snp.bin", NULL, "azure-cvm-tooling/certs.pem", NULL, NULL},
        {"trustee/az-snp-vtpm/hcl-report.bin (embedded SNP report)", SRC_FILE,
         "trustee/az-snp-vtpm/hcl-report.bin", NULL, "trustee/az-snp-vtpm/vcek.pem", NULL, NULL},
        {"trustee/az-snp-vtpm/evidence-v0.json (embedded SNP report)", SRC_JSON_BYTES,
         "trustee/az-snp-vtpm/evidence-v0.json", "report", NULL, "vcek", NULL},
        {"trustee/az-snp-vtpm/evidence-v1.json (embedded SNP report)", SRC_JSON_B64URL,
         "trustee/az-snp-vtpm/evidence-v1.json", "hcl_report", NULL, "vcek", NULL},
        {"trustee/az-snp-vtpm/evidence-v2.json (embedded SNP report)", SRC_JSON_B64URL,
         "trustee/az-snp-vtpm/evidence-v2.json", "hcl_report", NULL, "vcek", NULL},
        {"trustee/az-snp-vtpm/evidence-genoa.json (embedded SNP report)", SRC_JSON_BYTES,
         "trustee/az-snp-vtpm/evidence-genoa.json", "report", NULL, "vcek", NULL},
        {"lunal-attestation-rs/az_snp/live-evidence.json (embedded SNP report)", SRC_JSON_B64URL,
         "lunal-attestation-rs/az_snp/live-evidence.json", "evidence.hcl_report", NULL, "evidence.vcek",
         NULL},
};

/* ---- helpers ------------------------------------------------------------------------------------------- */

static json_object *member(json_object *o, const char *path)
{
        char buf[128], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        fail_msg("no member '%s' in '%s'", k, path);
        return o;
}

/* Standard or URL-safe base64, padding optional. */
static uint8_t *b64_decode(const char *s, size_t *ret_size)
{
        size_t len = strlen(s), n = 0;
        uint8_t *out = malloc(len * 3 / 4 + 3);
        uint32_t acc = 0;
        int bits = 0;

        assert_non_null(out);
        for (size_t i = 0; i < len && s[i] != '='; i++) {
                const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                char c = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
                const char *p = c == '+' ? alpha + 62 : c == '/' ? alpha + 63 : strchr(alpha, c);
                int v = c == '+' ? 62 : c == '/' ? 63 : p ? (int)(p - alpha) : -1;

                if (v < 0)
                        fail_msg("bad base64 character 0x%02x", (unsigned char)s[i]);
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (uint8_t)(acc >> bits);
                }
        }
        *ret_size = n;
        return out;
}

static uint8_t *load_report(const struct vector *v, size_t *ret_size)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        json_object *m;
        uint8_t *buf = NULL;
        size_t n = 0;

        switch (v->kind) {
        case SRC_FILE:
        case SRC_FILE_1184:
                read_vector(v->file, &buf, &n);
                if (v->kind == SRC_FILE_1184) {
                        assert_true(n >= SNP_REPORT_SIZE);
                        n = SNP_REPORT_SIZE;
                }
                break;
        case SRC_JSON_BYTES:
                doc = json_object_from_file(vector_path(v->file));
                assert_non_null(doc);
                m = member(doc, v->member);
                n = json_object_array_length(m);
                buf = malloc(n);
                assert_non_null(buf);
                for (size_t i = 0; i < n; i++)
                        buf[i] = (uint8_t)json_object_get_int(json_object_array_get_idx(m, i));
                break;
        case SRC_JSON_B64URL:
                doc = json_object_from_file(vector_path(v->file));
                assert_non_null(doc);
                buf = b64_decode(json_object_get_string(member(doc, v->member)), &n);
                break;
        }
        *ret_size = n;
        return buf;
}

static struct snp_vek *load_vek(const struct vector *v)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct snp_vek *vek = NULL;
        struct cvm_error err = {};
        size_t n;

        if (v->vek_file)
                read_vector(v->vek_file, &buf, &n);
        else {
                const char *s;

                doc = json_object_from_file(vector_path(v->file));
                assert_non_null(doc);
                s = json_object_get_string(member(doc, v->vek_member));
                if (strstr(s, "-----BEGIN")) {
                        n = strlen(s);
                        buf = (uint8_t *)strdup(s);
                } else
                        buf = b64_decode(s, &n);
        }
        if (snp_vek_load(buf, n, &vek, &err) < 0)
                fail_msg("%s: cannot load the VEK: %s", v->label, err.message);
        return vek;
}

static STACK_OF(X509) * load_chain(const char *rel)
{
        _cleanup_free_ uint8_t *buf = NULL;
        STACK_OF(X509) *s = NULL;
        struct cvm_error err = {};
        size_t n;

        read_vector(rel, &buf, &n);
        if (snp_certs_load(buf, n, &s, &err) < 0)
                fail_msg("%s: %s", rel, err.message);
        return s;
}

/* "2022-09-24 00:55:28+00:00" (MANIFEST style) or RFC 3339. */
static time_t manifest_time(const char *s)
{
        time_t t;

        if (parse_rfc3339(s, &t) < 0)
                fail_msg("bad time '%s'", s);
        return t;
}

/* Every member of @want must be in @got with the same value (recursively). */
static void expect_subset(const char *label, const char *path, json_object *want, json_object *got)
{
        switch (json_object_get_type(want)) {
        case json_type_null:
                if (got)
                        fail_msg("%s: %s: expected null, got %s", label, path,
                                 json_object_to_json_string(got));
                break;
        case json_type_object:
                if (!json_object_is_type(got, json_type_object))
                        fail_msg("%s: %s: expected an object", label, path);
                json_object_object_foreach (want, k, w) {
                        json_object *g;
                        char sub[256];

                        snprintf(sub, sizeof(sub), "%s.%s", path, k);
                        if (!json_object_object_get_ex(got, k, &g))
                                fail_msg("%s: %s missing from the output", label, sub);
                        expect_subset(label, sub, w, g);
                }
                break;
        case json_type_array:
                if (!json_object_is_type(got, json_type_array) ||
                    json_object_array_length(got) != json_object_array_length(want))
                        fail_msg("%s: %s: array differs", label, path);
                for (size_t i = 0; i < json_object_array_length(want); i++)
                        expect_subset(label, path, json_object_array_get_idx(want, i),
                                      json_object_array_get_idx(got, i));
                break;
        case json_type_boolean:
                if (!json_object_is_type(got, json_type_boolean) ||
                    json_object_get_boolean(got) != json_object_get_boolean(want))
                        fail_msg("%s: %s: expected %s, got %s", label, path,
                                 json_object_to_json_string(want), json_object_to_json_string(got));
                break;
        case json_type_int:
                if (!json_object_is_type(got, json_type_int) ||
                    json_object_get_int64(got) != json_object_get_int64(want))
                        fail_msg("%s: %s: expected %s, got %s", label, path,
                                 json_object_to_json_string(want), json_object_to_json_string(got));
                break;
        case json_type_string:
                if (!json_object_is_type(got, json_type_string) ||
                    strcmp(json_object_get_string(got), json_object_get_string(want)) != 0)
                        fail_msg("%s: %s: expected %s, got %s", label, path,
                                 json_object_to_json_string(want), json_object_to_json_string(got));
                break;
        default:
                fail_msg("%s: %s: unexpected expected-value type", label, path);
        }
}

static json_object *find_by_label(json_object *list, const char *label)
{
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i);

                if (strcmp(json_object_get_string(member(e, "label")), label) == 0)
                        return e;
        }
        return NULL;
}

static const struct vector *find_vector(const char *label)
{
        for (size_t i = 0; i < ELEMENTSOF(vectors); i++)
                if (strcmp(vectors[i].label, label) == 0)
                        return &vectors[i];
        return NULL;
}

/* "CN=SEV-Milan," of a MANIFEST subject. */
static void first_rdn(const char *subject, char out[static 128])
{
        size_t n = strcspn(subject, ",");

        assert_true(n < 127);
        memcpy(out, subject, n);
        out[n] = ',';
        out[n + 1] = '\0';
}

static int expected_tristate(json_object *e, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(e, key, &v) || !v)
                return -1;
        return json_object_get_boolean(v) ? 1 : 0;
}

/* ---- one vector ---------------------------------------------------------------------------------------- */

static void check_vek_against_manifest(const char *label, const struct snp_vek *vek, json_object *want)
{
        static const struct {
                const char *key;
                size_t offset;
        } spls[] = {
                {"blSPL", offsetof(struct snp_vek, spl_bl)},
                {"teeSPL", offsetof(struct snp_vek, spl_tee)},
                {"snpSPL", offsetof(struct snp_vek, spl_snp)},
                {"ucodeSPL", offsetof(struct snp_vek, spl_ucode)},
        };
        json_object *hw;

        assert_string_equal(vek->product_name, json_object_get_string(member(want, "productName")));
        for (size_t i = 0; i < ELEMENTSOF(spls); i++) {
                int got = *(const int *)((const uint8_t *)vek + spls[i].offset);

                if (got != json_object_get_int(member(want, spls[i].key)))
                        fail_msg("%s: VEK %s is %d", label, spls[i].key, got);
        }
        if (json_object_object_get_ex(want, "hwID", &hw)) {
                _cleanup_free_ char *hex = hex_encode(vek->hwid, vek->hwid_size);

                assert_string_equal(hex, json_object_get_string(hw));
        } else
                assert_int_equal(vek->hwid_size, 0);
}

static void check_vek_times(const char *label, const struct snp_vek *vek, json_object *want)
{
        _cleanup_(json_object_putp) json_object *j = NULL;

        assert_int_equal(snp_vek_to_json(vek, &j), 0);
        if (manifest_time(json_object_get_string(member(j, "not_before"))) !=
                    manifest_time(json_object_get_string(member(want, "notBefore"))) ||
            manifest_time(json_object_get_string(member(j, "not_after"))) !=
                    manifest_time(json_object_get_string(member(want, "notAfter"))))
                fail_msg("%s: VEK validity period differs", label);
}

static void check_hcl(const char *label, const struct hcl_report *h, json_object *out, json_object *want)
{
        json_object *claims = hcl_report_runtime_claims(h), *kids, *keys, *ud;
        _cleanup_free_ char *hash = hex_encode(h->var_data_hash, h->var_data_hash_size);
        size_t nkeys = 0;

        expect_subset(label, "hcl.header", member(want, "header"), member(out, "hcl.header"));
        expect_subset(label, "hcl.igvm_request_data", member(want, "igvm_request_data"),
                      member(out, "hcl.igvm_request_data"));
        assert_int_equal(h->file_size, json_object_get_int(member(want, "len")));
        assert_string_equal(hash, json_object_get_string(member(want, "sha256(var_data)")));
        assert_int_equal(h->runtime_claims_bound,
                         json_object_get_boolean(member(want, "var_data_hash_matches_report_data[0:32]")));
        assert_int_equal(json_object_get_boolean(member(out, "runtime_claims_bound")),
                         h->runtime_claims_bound);

        /* The claims in the output are the parsed var_data: same keys, kids and user-data. */
        kids = member(want, "var_data_kids");
        keys = member(claims, "keys");
        for (size_t i = 0; i < json_object_array_length(kids); i++) {
                const char *kid = json_object_get_string(json_object_array_get_idx(kids, i));

                assert_non_null(hcl_report_find_key(h, kid));
                nkeys++;
        }
        assert_int_equal(json_object_array_length(keys), nkeys);
        ud = member(want, "user-data");
        if (ud)
                assert_string_equal(
                        json_object_get_string(member(member(out, "runtime_claims"), "user-data")),
                        json_object_get_string(ud));
        else
                assert_false(json_object_object_get_ex(claims, "user-data", NULL));
        if (json_object_object_get_ex(want, "vm-configuration", &ud))
                expect_subset(label, "runtime_claims.vm-configuration", ud,
                              member(member(out, "runtime_claims"), "vm-configuration"));
        keys = member(want, "var_data_json_keys");
        assert_int_equal(json_object_object_length(claims), json_object_array_length(keys));
        for (size_t i = 0; i < json_object_array_length(keys); i++)
                assert_true(json_object_object_get_ex(
                        claims, json_object_get_string(json_object_array_get_idx(keys, i)), NULL));
}

struct outcome {
        struct snp_check_result sig;
        struct snp_chain_result chain;
        struct snp_vek_match match;
};

/* Parses, verifies and renders one vector; checks everything MANIFEST and VERIFIED record about it. */
static void check_vector(const struct vector *v, json_object *want, json_object *verified)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_(json_object_putp) json_object *out = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct snp_chain_result pinned_only;
        struct snp_report snp_storage, *snp;
        struct cvm_error err = {};
        struct outcome o;
        json_object *e;
        size_t n;
        time_t at;

        buf = load_report(v, &n);
        if (json_object_object_get_ex(want, "hcl", &e)) {
                if (hcl_report_parse(buf, n, &hcl, &err) < 0)
                        fail_msg("%s: %s", v->label, err.message);
                snp = &hcl->snp;
        } else {
                if (snp_report_parse(buf, n, &snp_storage, &err) < 0)
                        fail_msg("%s: %s", v->label, err.message);
                snp = &snp_storage;
        }
        vek = load_vek(v);
        if (v->chain_file)
                chain = load_chain(v->chain_file);
        snp_report_set_product(snp, vek->product);
        at = manifest_time(json_object_get_string(member(want, "vek.notBefore"))) + 86400;

        assert_int_equal(snp_report_verify_signature(snp, vek, &o.sig, NULL), 0);
        assert_int_equal(snp_vek_match_report(vek, snp, &o.match), 0);
        assert_int_equal(snp_chain_verify(vek, chain, &at, &o.chain, NULL), 0);
        assert_int_equal(hcl ? hcl_report_to_json(hcl, &out) : snp_report_to_json(snp, &out), 0);

        expect_subset(v->label, "fields", member(want, "fields"), out);
        if (verified)
                expect_subset(v->label, "report", member(verified, "report"), out);

        if ((o.sig.status == SNP_CHECK_VALID) !=
            json_object_get_boolean(member(want, "report_signature_valid")))
                fail_msg("%s: signature %s (%s)", v->label, snp_check_name(o.sig.status), o.sig.reason);
        if ((o.chain.status == SNP_CHECK_VALID) !=
            json_object_get_boolean(member(want, "chain.openssl_verify_vek_to_ark")))
                fail_msg("%s: chain %s (%s)", v->label, snp_check_name(o.chain.status), o.chain.reason);
        if (o.match.hwid != expected_tristate(want, "chip_id_matches_vcek_hwid"))
                fail_msg("%s: hwID match %d (%s)", v->label, o.match.hwid, o.match.reason);
        if (o.chain.status == SNP_CHECK_VALID) {
                char rdn[128];

                first_rdn(json_object_get_string(
                                  json_object_array_get_idx(member(want, "chain.ask_subject"), 0)),
                          rdn);
                assert_non_null(strstr(o.chain.ask_subject, rdn));
                first_rdn(json_object_get_string(member(want, "chain.ark_subject")), rdn);
                assert_non_null(strstr(o.chain.ark_subject, rdn));
        }
        if (verified) {
                json_object *tcb = member(verified, "tcb_vs_cert");
                bool equal = true;

                json_object_object_foreach (tcb, k, pair) {
                        (void)k;
                        equal &= json_object_get_int(json_object_array_get_idx(pair, 0)) ==
                                 json_object_get_int(json_object_array_get_idx(pair, 1));
                }
                if (o.match.tcb != (int)equal)
                        fail_msg("%s: TCB match %d (%s)", v->label, o.match.tcb, o.match.reason);
        }
        check_vek_against_manifest(v->label, vek, member(want, "vek"));
        check_vek_times(v->label, vek, member(want, "vek"));
        if (hcl)
                check_hcl(v->label, hcl, out, member(want, "hcl"));

        /* The pinned intermediates alone give the same verdict as the supplied chain. */
        assert_int_equal(snp_chain_verify(vek, NULL, &at, &pinned_only, NULL), 0);
        assert_int_equal(pinned_only.status, o.chain.status);
}

/* ---- the MANIFEST -------------------------------------------------------------------------------------- */

static void run_manifest_list(const char *list_name)
{
        _cleanup_(json_object_putp) json_object *m = NULL, *verified = NULL;
        json_object *list;
        size_t checked = 0;

        skip_without_vectors();
        m = load_manifest();
        verified = json_object_from_file(vector_path("VERIFIED_snp_and_hcl_results.json"));
        assert_non_null(verified);
        list = member(m, list_name);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i);
                const char *label = json_object_get_string(member(e, "label"));
                const struct vector *v = find_vector(label);

                if (!v) {
                        /* The split Constellation report has no VEK; test_constellation_split() covers it. */
                        if (strstr(label, "runtimedata.bin binding"))
                                continue;
                        fail_msg("MANIFEST entry '%s' has no mapping in this test", label);
                }
                check_vector(v, e, find_by_label(verified, label));
                printf("ok: %s\n", label);
                checked++;
        }
        assert_true(checked >= 7);
}

static void test_manifest_snp_reports(void **state)
{
        run_manifest_list("snp_reports");
}

static void test_manifest_hcl_reports(void **state)
{
        run_manifest_list("hcl_reports");
}

/*
 * Constellation stores an Azure HCL report without its 32-byte header and with var_data in a
 * separate file: rebuilding the full report must bind (MANIFEST "runtimedata.bin binding").
 */
static void test_constellation_split(void **state)
{
        _cleanup_(json_object_putp) json_object *m = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *h = NULL;
        _cleanup_free_ uint8_t *att = NULL, *rt = NULL, *full = NULL;
        struct cvm_error err = {};
        json_object *e, *igvm;
        size_t att_n, rt_n, n;

        skip_without_vectors();
        m = load_manifest();
        e = find_by_label(member(m, "hcl_reports"), "constellation/azure-snp runtimedata.bin binding");
        assert_non_null(e);
        read_vector("constellation/azure-snp/attestation.bin", &att, &att_n);
        read_vector("constellation/azure-snp/runtimedata.bin", &rt, &rt_n);
        assert_int_equal(att_n, SNP_REPORT_SIZE + HCL_IGVM_HEADER_SIZE);
        n = HCL_HEADER_SIZE + att_n + rt_n;
        full = calloc(1, n);
        assert_non_null(full);
        memcpy(full, "HCLA", 4);
        full[4] = 1;
        full[8] = (uint8_t)n, full[9] = (uint8_t)(n >> 8);
        full[12] = 2;
        memcpy(full + HCL_HEADER_SIZE, att, att_n);
        memcpy(full + HCL_HEADER_SIZE + att_n, rt, rt_n);
        if (hcl_report_parse(full, n, &h, &err) < 0)
                fail_msg("rebuilt Constellation report: %s", err.message);
        assert_int_equal(h->runtime_claims_bound, json_object_get_boolean(member(e, "match")));
        igvm = member(e, "igvm_request_data_at_1184");
        assert_int_equal(h->data_size, json_object_get_int(json_object_array_get_idx(igvm, 0)));
        assert_int_equal(h->igvm_version, json_object_get_int(json_object_array_get_idx(igvm, 1)));
        assert_int_equal(h->report_type, json_object_get_int(json_object_array_get_idx(igvm, 2)));
        assert_int_equal(h->hash_type, json_object_get_int(json_object_array_get_idx(igvm, 3)));
        assert_int_equal(h->var_data_size, json_object_get_int(json_object_array_get_idx(igvm, 4)));
        {
                _cleanup_free_ char *hex = hex_encode(h->var_data_hash, 32);

                assert_string_equal(
                        hex, json_object_get_string(json_object_object_get(e, "sha256(runtimedata.bin)")));
        }
        /* Its runtime claims carry the AK. */
        {
                EVP_PKEY *ak = NULL;

                assert_int_equal(hcl_report_ak_pub(h, &ak, NULL), 0);
                assert_int_equal(EVP_PKEY_get_bits(ak), 2048);
                EVP_PKEY_free(ak);
        }
}

/* ---- upstream negative vectors ------------------------------------------------------------------------- */

static struct snp_vek *vek_from(const uint8_t *buf, size_t n)
{
        struct snp_vek *v = NULL;
        struct cvm_error err = {};

        if (snp_vek_load(buf, n, &v, &err) < 0)
                fail_msg("cannot load VEK: %s", err.message);
        return v;
}

static enum snp_check sig_of(const uint8_t *report, const struct snp_vek *vek)
{
        struct snp_check_result res;
        struct snp_report r;

        assert_int_equal(snp_report_parse(report, SNP_REPORT_SIZE, &r, NULL), 0);
        assert_int_equal(snp_report_verify_signature(&r, vek, &res, NULL), 0);
        return res.status;
}

static enum snp_check chain_of(const struct snp_vek *vek, time_t at, struct snp_chain_result *ret)
{
        struct snp_chain_result res;

        assert_int_equal(snp_chain_verify(vek, NULL, &at, &res, NULL), 0);
        if (ret)
                *ret = res;
        return res.status;
}

/* virtee/sev: flipping bit 7 of byte 21 breaks the report; flipping byte 40 of the VCEK the chain. */
static void test_virtee_flips(void **state)
{
        _cleanup_free_ uint8_t *report = NULL, *der = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *good = NULL, *bad = NULL;
        struct snp_chain_result c;
        time_t at = 1700000000; /* 2023-11-14 */
        size_t n, der_n;

        skip_without_vectors();
        read_vector("virtee-sev/report_milan.bin", &report, &n);
        read_vector("virtee-sev/vcek_milan.der", &der, &der_n);
        good = vek_from(der, der_n);
        assert_int_equal(sig_of(report, good), SNP_CHECK_VALID);
        assert_int_equal(chain_of(good, at, NULL), SNP_CHECK_VALID);

        report[21] ^= 0x80;
        assert_int_equal(sig_of(report, good), SNP_CHECK_INVALID);

        der[40] ^= 0xff;
        bad = vek_from(der, der_n);
        assert_int_equal(chain_of(bad, at, &c), SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        printf("byte 40 flipped: %s\n", c.reason);
}

/* trustee: byte 42 + 1 in the report breaks the signature; in the VCEK DER, the chain. */
static void test_trustee_increments(void **state)
{
        _cleanup_free_ uint8_t *report = NULL, *der = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *good = NULL, *bad = NULL;
        time_t at = 1700000000;
        size_t n, der_n;

        skip_without_vectors();
        read_vector("trustee/snp/test-report.bin", &report, &n);
        read_vector("trustee/snp/test-vcek.der", &der, &der_n);
        good = vek_from(der, der_n);
        assert_int_equal(sig_of(report, good), SNP_CHECK_VALID);
        report[42]++;
        assert_int_equal(sig_of(report, good), SNP_CHECK_INVALID);
        der[42]++;
        bad = vek_from(der, der_n);
        assert_int_equal(chain_of(bad, at, NULL), SNP_CHECK_INVALID);
}

/* trustee: these VCEKs decode (their SPLs are readable) but must not chain to AMD. */
static void test_trustee_invalid_vceks(void **state)
{
        static const struct {
                const char *file;
                int snp, ucode;
        } cases[] = {
                {"trustee/snp/test-vcek-invalid-legacy.der", 10, 0xa9},
                {"trustee/snp/test-vcek-invalid-new.der", 0, 0x1e},
        };
        _cleanup_free_ uint8_t *report = NULL;
        size_t n;

        skip_without_vectors();
        read_vector("trustee/snp/test-report.bin", &report, &n);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(snp_vek_freep) struct snp_vek *v = NULL;
                _cleanup_free_ uint8_t *der = NULL;
                struct snp_chain_result c;
                size_t der_n;

                read_vector(cases[i].file, &der, &der_n);
                v = vek_from(der, der_n);
                assert_int_equal(v->spl_snp, cases[i].snp);
                assert_int_equal(v->spl_ucode, cases[i].ucode);
                /* The "new" one wraps its hwID in an OCTET STRING: 00 01 02 ... 3f either way. */
                assert_int_equal(v->hwid_size, 64);
                for (int b = 0; b < 64; b++)
                        assert_int_equal(v->hwid[b], b);
                assert_int_equal(chain_of(v, 1700000000, &c), SNP_CHECK_INVALID);
                assert_non_null(strstr(c.reason, "signature failure"));
                assert_int_equal(sig_of(report, v), SNP_CHECK_INVALID);
        }
}

static void test_tdx_refused(void **state)
{
        static const char *const files[] = {"azure-cvm-tooling/hcl-report-tdx.bin",
                                            "constellation/azure-tdx/hclreport.bin"};

        skip_without_vectors();
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                struct hcl_report *h = NULL;
                struct cvm_error err = {};
                size_t n;

                read_vector(files[i], &buf, &n);
                assert_int_equal(hcl_report_parse(buf, n, &h, &err), -EOPNOTSUPP);
                assert_null(h);
                assert_non_null(strstr(err.message, "TDX"));
        }
}

/* trustee az-snp-vtpm negatives, on hcl-report.bin. */
static void test_trustee_hcl_negatives(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL, *cert = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        size_t n, cert_n;

        skip_without_vectors();
        read_vector("trustee/az-snp-vtpm/hcl-report.bin", &buf, &n);
        read_vector("trustee/az-snp-vtpm/vcek.pem", &cert, &cert_n);
        vek = vek_from(cert, cert_n);

        /* 0x1a6 = 0: the SNP SPL of reported_tcb. Signature and TCB match fail. */
        {
                _cleanup_(hcl_report_freep) struct hcl_report *h = NULL;
                struct snp_check_result s;
                struct snp_vek_match m;
                uint8_t save = buf[0x1a6];

                buf[0x1a6] = 0;
                assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
                assert_int_equal(snp_report_verify_signature(&h->snp, vek, &s, NULL), 0);
                assert_int_equal(s.status, SNP_CHECK_INVALID);
                assert_int_equal(snp_vek_match_report(vek, &h->snp, &m), 0);
                assert_int_equal(m.tcb, 0);
                assert_non_null(strstr(m.reason, "snpSPL is 0 but the certificate says 8"));
                buf[0x1a6] = save;
        }
        /* 0x6e0 + 1: inside the runtime claims, which no longer match report_data. */
        {
                _cleanup_(hcl_report_freep) struct hcl_report *h = NULL;

                buf[0x6e0]++;
                assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
                assert_false(h->runtime_claims_bound);
                buf[0x6e0]--;
        }
        /* 0x540 = 0: a NUL inside the AK's modulus; the claims are refused outright. */
        {
                struct hcl_report *h = NULL;
                struct cvm_error err = {};

                buf[0x540] = 0;
                assert_int_equal(hcl_report_parse(buf, n, &h, &err), -EBADMSG);
                assert_non_null(strstr(err.message, "offset 0x540: NUL byte"));
        }
}

/* Gotchas #5: the AWS VLEK expired on 2025-12-10; judged now, the chain is invalid. */
static void test_expired_now(void **state)
{
        _cleanup_free_ uint8_t *cert = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        struct snp_chain_result c;
        size_t n;

        skip_without_vectors();
        read_vector("constellation/aws-snp/vlek.pem", &cert, &n);
        vek = vek_from(cert, n);
        assert_int_equal(snp_chain_verify(vek, NULL, NULL, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_int_equal(c.failed_depth, 0);
        assert_non_null(strstr(c.reason, "has expired (not after 2025-12-10T22:30:16Z)"));
}

static void test_turin_vcek(void **state)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        _cleanup_free_ char *hwid = NULL;
        struct snp_chain_result c;
        time_t at = 1735689600; /* 2025-01-01 */
        size_t n;

        skip_without_vectors();
        read_vector("virtee-sev/vcek_turin.der", &der, &n);
        vek = vek_from(der, n);
        assert_int_equal(vek->product, AMD_PRODUCT_TURIN);
        assert_string_equal(vek->product_name, "Turin");
        hwid = hex_encode(vek->hwid, vek->hwid_size);
        assert_string_equal(hwid, "1e550a8ee5cf9f4d");
        assert_true(vek->spl_fmc >= 0);
        chain = load_chain("virtee-sev/cert_chain_turin");
        assert_int_equal(snp_chain_verify(vek, chain, &at, &c, NULL), 0);
        if (c.status != SNP_CHECK_VALID)
                fail_msg("Turin chain: %s", c.reason);
        assert_non_null(strstr(c.ark_subject, "CN=ARK-Turin"));
}

/* Azure IMDS hands out the VCEK and the chain as separate DER files. */
static void test_imds_certificates(void **state)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL, *second = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *h = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_free_ uint8_t *der = NULL, *buf = NULL;
        const struct vector *v =
                find_vector("lunal-attestation-rs/az_snp/live-evidence.json (embedded SNP report)");
        struct snp_check_result s;
        struct snp_chain_result c;
        struct snp_vek_match m;
        time_t at = 1748736000; /* 2025-06-01 */
        size_t n;

        skip_without_vectors();
        buf = load_report(v, &n);
        assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
        read_vector("lunal-attestation-rs/az_snp/imds-vcek.der", &der, &n);
        vek = vek_from(der, n);
        chain = load_chain("lunal-attestation-rs/az_snp/imds-chain-0.der");
        second = load_chain("lunal-attestation-rs/az_snp/imds-chain-1.der");
        assert_int_equal(sk_X509_push(chain, sk_X509_shift(second)) > 0, 1);
        assert_int_equal(snp_report_verify_signature(&h->snp, vek, &s, NULL), 0);
        assert_int_equal(s.status, SNP_CHECK_VALID);
        assert_int_equal(snp_vek_match_report(vek, &h->snp, &m), 0);
        assert_int_equal(m.status, SNP_CHECK_VALID);
        assert_int_equal(snp_chain_verify(vek, chain, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_VALID);
}

/* A chain for another product ends at a root that is not the pinned one for this VEK. */
static void test_foreign_chain(void **state)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        struct snp_chain_result c;
        time_t at = 1700000000;
        size_t n;

        skip_without_vectors();
        read_vector("virtee-sev/vcek_milan.der", &der, &n);
        vek = vek_from(der, n);
        chain = load_chain("trustee/amd-chains/genoa_ask_ark_asvk.pem");
        assert_int_equal(snp_chain_verify(vek, chain, &at, &c, NULL), 0);
        assert_int_equal(c.status, SNP_CHECK_INVALID);
        assert_non_null(strstr(c.reason, "CN=ARK-Genoa"));
        assert_non_null(strstr(c.reason, "not the pinned ARK-Milan"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_snp_reports), cmocka_unit_test(test_manifest_hcl_reports),
                cmocka_unit_test(test_constellation_split),  cmocka_unit_test(test_virtee_flips),
                cmocka_unit_test(test_trustee_increments),   cmocka_unit_test(test_trustee_invalid_vceks),
                cmocka_unit_test(test_tdx_refused),          cmocka_unit_test(test_trustee_hcl_negatives),
                cmocka_unit_test(test_expired_now),          cmocka_unit_test(test_turin_vcek),
                cmocka_unit_test(test_imds_certificates),    cmocka_unit_test(test_foreign_chain),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
