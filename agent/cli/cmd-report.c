/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent report: decode an AMD SEV-SNP attestation report or an Azure HCL report and verify
 * what can be verified offline: the report signature with a VCEK/VLEK, that certificate's chain
 * up to the pinned AMD root, that the certificate belongs to this chip and TCB, and (HCL) the
 * binding of the runtime claims to REPORT_DATA.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "hcl.h"
#include "snp.h"
#include "util.h"

#define REPORT_MAX_SIZE (1u << 20) /* an HCL NV index is a few KiB */
#define CERT_MAX_SIZE   (1u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_vek *, snp_vek_free)

static void x509_stack_freep(STACK_OF(X509) * *s)
{
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}

struct verdict {
        bool vek_given;
        struct snp_check_result signature;
        struct snp_chain_result chain;
        struct snp_vek_match match;
        json_object *problems; /* array of strings: every failed check */
};

static void help(void)
{
        printf("Usage: cvm-agent report [--json] [--vcek FILE] [--chain FILE] [--at TIME] FILE\n"
               "\n"
               "Decode an AMD SEV-SNP attestation report (1184 bytes) or an Azure HCL report\n"
               "(vTPM NV index 0x01400001, starts with \"HCLA\") and verify it.\n"
               "\n"
               "Options:\n"
               "  --json         print one JSON document instead of text\n"
               "  --vcek FILE    the VCEK or VLEK certificate (DER or PEM); a PEM file may hold the\n"
               "                 ASK/ASVK and ARK after it. Without it the signature and chain are\n"
               "                 reported as unchecked\n"
               "  --chain FILE   extra intermediates (PEM ASK+ARK or ASVK+ARK, or DER); may be\n"
               "                 repeated. Accepted only if they chain to the pinned AMD root\n"
               "  --at TIME      judge certificate validity at TIME (RFC 3339, e.g.\n"
               "                 2025-06-01T00:00:00Z) instead of now\n"
               "  -h, --help     this help\n"
               "\n"
               "Exit status: 0 all checks passed (or unchecked), 3 malformed or unsupported report\n"
               "(TDX HCL reports included), 4 a signature, chain, certificate or binding check\n"
               "failed (the full result is still printed), 5 I/O error. See cvm-agent-report(1).\n");
}

static int add_problem(struct verdict *v, const char *what, const char *reason)
{
        char line[SNP_REASON_MAX + 64];

        snprintf(line, sizeof(line), "%s: %s", what, reason);
        return json_object_array_add(v->problems, json_object_new_string(line)) < 0 ? -ENOMEM : 0;
}

/* Runs every check the inputs allow and records failures in v->problems. */
static int verify(struct snp_report *snp, const struct hcl_report *hcl, const struct snp_vek *vek,
                  STACK_OF(X509) * chain, const time_t *at, struct verdict *v, struct cvm_error *err)
{
        int r = 0;

        if (hcl && !hcl->runtime_claims_bound) {
                char reason[160];

                snprintf(reason, sizeof(reason), "%s(variable_data) does not match report_data[0:%zu]",
                         hcl->hash_name, hcl->var_data_hash_size);
                r = add_problem(v, "runtime claims binding", reason);
                if (r < 0)
                        return r;
        }
        if (!vek)
                return 0;
        v->vek_given = true;
        r = snp_report_verify_signature(snp, vek, &v->signature, err);
        if (r < 0)
                return r;
        r = snp_vek_match_report(vek, snp, &v->match);
        if (r < 0)
                return r;
        r = snp_chain_verify(vek, chain, at, &v->chain, err);
        if (r < 0)
                return r;
        if (v->signature.status != SNP_CHECK_VALID)
                r = add_problem(v, "signature", v->signature.reason);
        if (r >= 0 && v->chain.status != SNP_CHECK_VALID)
                r = add_problem(v, "certificate chain", v->chain.reason);
        if (r >= 0 && v->match.status != SNP_CHECK_VALID)
                r = add_problem(v, "certificate/report match", v->match.reason);
        return r;
}

static int add_json(json_object *o, const char *key, json_object *val)
{
        if (!val || json_object_object_add(o, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static int build_json(const struct snp_report *snp, const struct hcl_report *hcl, const struct snp_vek *vek,
                      const struct verdict *v, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *sub = NULL;
        int r;

        r = hcl ? hcl_report_to_json(hcl, &o) : snp_report_to_json(snp, &o);
        if (r < 0)
                return r;
        r = add_json(o, "signature",
                     json_object_new_string(
                             snp_check_name(v->vek_given ? v->signature.status : SNP_CHECK_UNCHECKED)));
        if (r >= 0 && v->vek_given && v->signature.status != SNP_CHECK_VALID)
                r = add_json(o, "signature_reason", json_object_new_string(v->signature.reason));
        if (r >= 0)
                r = add_json(o, "chain",
                             json_object_new_string(
                                     snp_check_name(v->vek_given ? v->chain.status : SNP_CHECK_UNCHECKED)));
        if (r >= 0)
                r = add_json(o, "vek_match",
                             json_object_new_string(
                                     snp_check_name(v->vek_given ? v->match.status : SNP_CHECK_UNCHECKED)));
        if (r >= 0 && v->vek_given) {
                r = snp_chain_result_to_json(&v->chain, &sub);
                if (r >= 0)
                        r = add_json(o, "chain_details", sub);
                if (r >= 0)
                        r = snp_vek_match_to_json(&v->match, &sub);
                if (r >= 0)
                        r = add_json(o, "vek_match_details", sub);
                if (r >= 0)
                        r = snp_vek_to_json(vek, &sub);
                if (r >= 0)
                        r = add_json(o, "vek", sub);
        }
        if (r >= 0)
                r = add_json(o, "problems", json_object_get(v->problems));
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- text output --------------------------------------------------------------------------------------- */

static void print_hex(const char *label, const void *p, size_t n)
{
        _cleanup_free_ char *s = hex_encode(p, n);

        printf("  %-22s %s\n", label, s ? s : "(out of memory)");
}

static void print_tcb(const char *label, uint64_t raw, enum snp_tcb_layout layout)
{
        struct snp_tcb t;

        snp_tcb_decode(raw, layout, &t);
        printf("  %-22s ", label);
        if (layout == SNP_TCB_LAYOUT_TURIN)
                printf("fmc %u, ", t.fmc);
        if (layout != SNP_TCB_LAYOUT_UNKNOWN)
                printf("bootloader %u, tee %u, snp %u, microcode %u ", t.bootloader, t.tee, t.snp,
                       t.microcode);
        printf("(0x%016" PRIx64 ")\n", raw);
}

static const char *yes_no(bool b)
{
        return b ? "yes" : "no";
}

static void print_snp(const struct snp_report *r)
{
        enum snp_tcb_layout layout = snp_report_tcb_layout(r);
        const char *product = amd_product_name(r->product);
        uint64_t p = r->policy;

        printf("SNP attestation report, version %" PRIu32 ", product %s\n", r->version,
               product ? product : "unknown");
        printf("  %-22s %" PRIu32 "\n", "guest SVN:", r->guest_svn);
        printf("  %-22s 0x%" PRIx64 " (ABI %u.%u, SMT %s, migration agent %s, debug %s, single socket %s)\n",
               "policy:", p, (unsigned)((p >> 8) & 0xff), (unsigned)(p & 0xff),
               (p & SNP_POLICY_SMT) ? "allowed" : "disallowed",
               (p & SNP_POLICY_MIGRATE_MA) ? "allowed" : "disallowed",
               (p & SNP_POLICY_DEBUG) ? "ALLOWED" : "disallowed",
               (p & SNP_POLICY_SINGLE_SOCKET) ? "required" : "no");
        printf("  %-22s %" PRIu32 "\n", "VMPL:", r->vmpl);
        print_hex("measurement:", r->measurement, sizeof(r->measurement));
        print_hex("report data:", r->report_data, sizeof(r->report_data));
        print_hex("host data:", r->host_data, sizeof(r->host_data));
        print_hex("family ID:", r->family_id, sizeof(r->family_id));
        print_hex("image ID:", r->image_id, sizeof(r->image_id));
        print_hex("ID key digest:", r->id_key_digest, sizeof(r->id_key_digest));
        print_hex("author key digest:", r->author_key_digest, sizeof(r->author_key_digest));
        print_hex("report ID:", r->report_id, sizeof(r->report_id));
        print_hex("report ID (MA):", r->report_id_ma, sizeof(r->report_id_ma));
        print_hex("chip ID:", r->chip_id, sizeof(r->chip_id));
        printf("  %-22s %s (author key %s, chip key masked %s)\n",
               "signing key:", snp_signing_key_name(SNP_FLAG_SIGNING_KEY(r->flags)),
               yes_no(r->flags & SNP_FLAG_AUTHOR_KEY_EN), yes_no(r->flags & SNP_FLAG_MASK_CHIP_KEY));
        printf("  %-22s 0x%" PRIx64 " (SMT %s, TSME %s, ECC %s, RAPL disabled %s, ciphertext hiding %s)\n",
               "platform info:", r->platform_info, yes_no(r->platform_info & SNP_PLATFORM_SMT_EN),
               yes_no(r->platform_info & SNP_PLATFORM_TSME_EN),
               yes_no(r->platform_info & SNP_PLATFORM_ECC_EN),
               yes_no(r->platform_info & SNP_PLATFORM_RAPL_DIS),
               yes_no(r->platform_info & SNP_PLATFORM_CIPHERTEXT_HIDING_EN));
        print_tcb("reported TCB:", r->reported_tcb, layout);
        print_tcb("current TCB:", r->current_tcb, layout);
        print_tcb("committed TCB:", r->committed_tcb, layout);
        print_tcb("launch TCB:", r->launch_tcb, layout);
        printf("  %-22s current %u.%u build %u, committed %u.%u build %u\n", "firmware:", r->current_major,
               r->current_minor, r->current_build, r->committed_major, r->committed_minor,
               r->committed_build);
        if (r->has_cpuid)
                printf("  %-22s family 0x%02x, model 0x%02x, stepping %u\n", "CPUID:", r->cpuid_fam_id,
                       r->cpuid_mod_id, r->cpuid_step);
        if (r->has_mit_vectors)
                printf("  %-22s launch 0x%" PRIx64 ", current 0x%" PRIx64 "\n",
                       "mitigation vectors:", r->launch_mit_vector, r->current_mit_vector);
}

static void print_hcl(const struct hcl_report *h)
{
        json_object *claims = hcl_report_runtime_claims(h), *keys, *cfg, *ud;

        printf("Azure HCL report, header version %" PRIu32 ", %zu bytes (report_size %" PRIu32 ")\n",
               h->version, h->file_size, h->report_size);
        printf("  %-22s %" PRIu32 "\n", "request type:", h->request_type);
        printf("  %-22s %" PRIu32 " bytes, %s %s\n", "runtime claims:", h->var_data_size, h->hash_name,
               h->runtime_claims_bound ? "matches report_data" : "DOES NOT match report_data");
        if (json_object_object_get_ex(claims, "keys", &keys) && json_object_is_type(keys, json_type_array)) {
                printf("  %-22s", "keys:");
                for (size_t i = 0; i < json_object_array_length(keys); i++) {
                        json_object *kid;

                        if (json_object_object_get_ex(json_object_array_get_idx(keys, i), "kid", &kid))
                                printf(" %s", json_object_get_string(kid));
                }
                printf("\n");
        }
        if (json_object_object_get_ex(claims, "vm-configuration", &cfg) &&
            json_object_is_type(cfg, json_type_object)) {
                printf("  %-22s", "vm-configuration:");
                json_object_object_foreach (cfg, k, val)
                        printf(" %s=%s", k, json_object_get_string(val));
                printf("\n");
        }
        if (json_object_object_get_ex(claims, "user-data", &ud))
                printf("  %-22s %s\n", "user-data:", json_object_get_string(ud));
}

static void print_verdict(const struct snp_vek *vek, const struct verdict *v)
{
        char t[21];

        printf("Verification\n");
        if (!v->vek_given) {
                printf("  %-22s unchecked (no --vcek)\n", "signature:");
                printf("  %-22s unchecked (no --vcek)\n", "certificate chain:");
                return;
        }
        printf("  %-22s %s %s (%s)\n", "certificate:", snp_signing_key_name(vek->type),
               vek->product_name[0] ? vek->product_name : "", v->chain.vek_subject);
        if (v->signature.status == SNP_CHECK_VALID)
                printf("  %-22s valid\n", "signature:");
        else
                printf("  %-22s INVALID: %s\n", "signature:", v->signature.reason);
        format_rfc3339(v->chain.at, t);
        if (v->chain.status == SNP_CHECK_VALID)
                printf("  %-22s valid at %s, up to pinned %s\n", "certificate chain:", t,
                       v->chain.ark_subject);
        else
                printf("  %-22s INVALID at %s: %s\n", "certificate chain:", t, v->chain.reason);
        if (v->match.status == SNP_CHECK_VALID)
                printf("  %-22s chip and TCB match the certificate\n", "certificate/report:");
        else
                printf("  %-22s MISMATCH: %s\n", "certificate/report:", v->match.reason);
}

/* ---- the command --------------------------------------------------------------------------------------- */

static int load_chain_file(const char *path, STACK_OF(X509) * *chain)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        struct cvm_error err = {};
        size_t size;
        int r;

        r = cli_read_input(path, CERT_MAX_SIZE, &buf, &size);
        if (r != EXIT_OK)
                return r;
        r = snp_certs_load(buf, size, &certs, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        if (!*chain) {
                *chain = TAKE_PTR(certs);
                return EXIT_OK;
        }
        while (sk_X509_num(certs) > 0) {
                X509 *x = sk_X509_shift(certs);

                if (!sk_X509_push(*chain, x)) {
                        X509_free(x);
                        return cli_fail(path, NULL, -ENOMEM);
                }
        }
        return EXIT_OK;
}

int cmd_report(int argc, char *argv[])
{
        enum { OPT_JSON = 0x100, OPT_VCEK, OPT_CHAIN, OPT_AT };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {"vcek", required_argument, NULL, OPT_VCEK},
                {"chain", required_argument, NULL, OPT_CHAIN},
                {"at", required_argument, NULL, OPT_AT},
                {},
        };
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_(json_object_putp) json_object *out = NULL, *problems = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_free_ const char **chain_paths = calloc((size_t)argc + 1, sizeof(char *));
        const char *vcek_path = NULL, *path;
        size_t n_chain = 0;
        struct cvm_error err = {};
        struct verdict v = {};
        struct snp_report snp_storage, *snp;
        bool json = false, have_at = false;
        time_t at = 0;
        size_t size;
        int c, r;

        if (!chain_paths)
                return cli_fail(NULL, NULL, -ENOMEM);
        optind = 0;
        opterr = 0; /* our own one-line messages */
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_VCEK:
                        vcek_path = optarg;
                        break;
                case OPT_CHAIN:
                        chain_paths[n_chain++] = optarg;
                        break;
                case OPT_AT:
                        if (parse_rfc3339(optarg, &at) < 0)
                                return cli_usage_error("report",
                                                       "invalid --at time '%s' (expected RFC 3339, e.g. "
                                                       "2025-06-01T00:00:00Z)",
                                                       optarg);
                        have_at = true;
                        break;
                case ':':
                        return cli_usage_error("report", "option '%s' needs an argument", argv[optind - 1]);
                default:
                        return cli_usage_error("report", "unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind + 1 != argc)
                return cli_usage_error("report",
                                       optind >= argc ? "missing report FILE" : "too many arguments");
        if (n_chain > 0 && !vcek_path)
                return cli_usage_error("report", "--chain needs --vcek");
        path = argv[optind];
        for (size_t i = 0; i < n_chain; i++) {
                r = load_chain_file(chain_paths[i], &chain);
                if (r != EXIT_OK)
                        return r;
        }

        r = cli_read_input(path, REPORT_MAX_SIZE, &buf, &size);
        if (r != EXIT_OK)
                return r;
        if (size >= 4 && memcmp(buf, "HCLA", 4) == 0) {
                r = hcl_report_parse(buf, size, &hcl, &err);
                if (r < 0)
                        return cli_fail(path, &err, r);
                snp = &hcl->snp;
        } else if (size == SNP_REPORT_SIZE) {
                r = snp_report_parse(buf, size, &snp_storage, &err);
                if (r < 0)
                        return cli_fail(path, &err, r);
                snp = &snp_storage;
        } else {
                cvm_error_set(&err, -EBADMSG,
                              "%zu bytes without an \"HCLA\" signature: neither an HCL report nor a %d-byte "
                              "SNP report",
                              size, SNP_REPORT_SIZE);
                return cli_fail(path, &err, -EBADMSG);
        }

        if (vcek_path) {
                _cleanup_free_ unsigned char *cert = NULL;
                size_t cert_size;

                r = cli_read_input(vcek_path, CERT_MAX_SIZE, &cert, &cert_size);
                if (r != EXIT_OK)
                        return r;
                r = snp_vek_load(cert, cert_size, &vek, &err);
                if (r < 0)
                        return cli_fail(vcek_path, &err, r);
                /* A report without CPUID learns its product (and TCB layout) from the certificate. */
                snp_report_set_product(snp, vek->product);
        }

        problems = json_object_new_array();
        if (!problems)
                return cli_fail(path, NULL, -ENOMEM);
        v.problems = problems;
        r = verify(snp, hcl, vek, chain, have_at ? &at : NULL, &v, &err);
        if (r < 0)
                return cli_fail(path, &err, r);

        if (json) {
                r = build_json(snp, hcl, vek, &v, &out);
                if (r < 0)
                        return cli_fail(path, NULL, r);
                r = cli_print_json(out);
                if (r != EXIT_OK)
                        return r;
        } else {
                if (hcl)
                        print_hcl(hcl);
                print_snp(snp);
                print_verdict(vek, &v);
                if (fflush(stdout) != 0)
                        return EXIT_IO;
        }

        if (json_object_array_length(problems) > 0) {
                fprintf(stderr, "cvm-agent: %s: verification failed: %s\n", path,
                        json_object_get_string(json_object_array_get_idx(problems, 0)));
                return EXIT_VERIFY_FAILED;
        }
        return EXIT_OK;
}
