/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent evidence: gather the local attestation evidence from the (v)TPM (AK, AK certificate,
 * Azure HCL report, a quote over the configured PCRs with a nonce) plus the TCG event log, and
 * check it locally: the quote's signature, PCR digest and nonce, the event log's replay against
 * the quoted PCRs, and the binding of the AK to the HCL report (HCLAkPub).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "cleanup.h"
#include "cli.h"
#include "eventlog.h"
#include "hashalg.h"
#include "hcl.h"
#include "snp.h"
#include "tpm.h"
#include "tpmkey.h"
#include "tpmquote.h"
#include "util.h"

#define DEFAULT_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define MAX_CERT_SIZE    (1u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_vek *, snp_vek_free)

static void x509_stack_freep(STACK_OF(X509) * *s)
{
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}

struct options {
        bool json;
        uint8_t *nonce;
        size_t nonce_size;
        const char *eventlog;
        uint16_t bank;
        uint32_t pcrs;
        uint32_t ak_handle;
        bool create_ak;
        uint8_t *user_data;
        size_t user_data_size;
        unsigned wait_ms;
        const char *vcek, *chain, *test_ark;
        const char *tcti; /* resolved by cli_tcti() */
};

/* What was read from the TPM. */
struct gathered {
        struct tpm_blob ak_pub, ak_cert, hcl, attest, sig;
        bool ak_created, has_ak_cert, has_hcl;
        char ak_cert_error[CVM_ERROR_MAX], hcl_error[CVM_ERROR_MAX], refresh_error[CVM_ERROR_MAX];
        struct tpm_pcrs pcrs;
};

/* The verdict, built while checking. */
struct verdict {
        json_object *failures; /* array of strings, one per failed check */
        bool malformed;        /* evidence that could not be parsed (exit 3 unless worse) */
};

static void gathered_done(struct gathered *g)
{
        tpm_blob_done(&g->ak_pub);
        tpm_blob_done(&g->ak_cert);
        tpm_blob_done(&g->hcl);
        tpm_blob_done(&g->attest);
        tpm_blob_done(&g->sig);
}

static void help(void)
{
        printf("Usage: cvm-agent [--tcti SPEC] evidence [OPTIONS]\n"
               "\n"
               "Gather the attestation evidence of this VM from the TPM and the TCG event log, and check "
               "it\n"
               "locally: quote signature, PCR digest and nonce; event log replay against the quoted PCRs;\n"
               "binding of the attestation key to the Azure HCL report.\n"
               "\n"
               "Options:\n"
               "  --json              print the result as JSON\n"
               "  --nonce HEX         quote qualifying data (1-64 bytes; default: 32 random bytes)\n"
               "  --eventlog FILE     TCG event log (default " DEFAULT_EVENTLOG ")\n"
               "  --pcrs LIST         PCRs to quote, e.g. 0-7,14 or all (default 0-7)\n"
               "  --bank ALG          PCR bank (default sha256)\n"
               "  --ak-handle HANDLE  persistent handle of the attestation key (default 0x81000003)\n"
               "  --create-ak         create an AK under the EK and persist it there when none exists\n"
               "  --user-data HEX     request a fresh HCL report bound to these bytes (1-64) via NV\n"
               "                      0x01400002 and wait for it (see --wait)\n"
               "  --wait MS           bound on that wait in milliseconds (default 5000)\n"
               "  --vcek FILE         also verify the SNP report in the HCL report with this VCEK\n"
               "  --chain FILE        ASK/ARK certificates for --vcek\n"
               "  --test-ark FILE     trust this ARK instead of AMD's pinned roots (tests with a\n"
               "                      simulated vTPM only)\n"
               "  -h, --help          this help\n"
               "\n"
               "Exit status: 0 all checks passed, 2 usage, 3 malformed evidence, 4 a check failed,\n"
               "5 I/O error, 6 TPM error. See cvm-agent-evidence(1).\n");
}

static int parse_hex_arg(const char *opt, const char *s, size_t max, uint8_t **ret, size_t *ret_size)
{
        uint8_t *b = NULL;
        size_t n;

        if (hex_decode(s, SIZE_MAX, &b, &n) < 0 || n == 0 || n > max) {
                free(b);
                return cli_usage_error("evidence", "%s needs 1..%zu bytes of hex, got '%s'", opt, max, s);
        }
        free(*ret);
        *ret = b;
        *ret_size = n;
        return 0;
}

static int parse_options(int argc, char *argv[], struct options *o)
{
        enum {
                OPT_NONCE = 0x100,
                OPT_EVENTLOG,
                OPT_PCRS,
                OPT_BANK,
                OPT_AK_HANDLE,
                OPT_CREATE_AK,
                OPT_USER_DATA,
                OPT_WAIT,
                OPT_VCEK,
                OPT_CHAIN,
                OPT_TEST_ARK,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"nonce", required_argument, NULL, OPT_NONCE},
                {"eventlog", required_argument, NULL, OPT_EVENTLOG},
                {"pcrs", required_argument, NULL, OPT_PCRS},
                {"bank", required_argument, NULL, OPT_BANK},
                {"ak-handle", required_argument, NULL, OPT_AK_HANDLE},
                {"create-ak", no_argument, NULL, OPT_CREATE_AK},
                {"user-data", required_argument, NULL, OPT_USER_DATA},
                {"wait", required_argument, NULL, OPT_WAIT},
                {"vcek", required_argument, NULL, OPT_VCEK},
                {"chain", required_argument, NULL, OPT_CHAIN},
                {"test-ark", required_argument, NULL, OPT_TEST_ARK},
                {},
        };
        const struct hash_alg *h;
        char *end;
        int c, r;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case 'j':
                        o->json = true;
                        break;
                case OPT_NONCE:
                        r = parse_hex_arg("--nonce", optarg, 64, &o->nonce, &o->nonce_size);
                        if (r != 0)
                                return r;
                        break;
                case OPT_EVENTLOG:
                        o->eventlog = optarg;
                        break;
                case OPT_PCRS:
                        if (tpm_parse_pcr_list(optarg, &o->pcrs) < 0)
                                return cli_usage_error("evidence",
                                                       "invalid PCR list '%s' (e.g. 0-7,14 or all)", optarg);
                        break;
                case OPT_BANK:
                        h = hash_alg_by_name(optarg);
                        if (!h || !h->evp_name)
                                return cli_usage_error("evidence", "unsupported PCR bank '%s'", optarg);
                        o->bank = h->tpm_id;
                        break;
                case OPT_AK_HANDLE:
                        if (tpm_parse_handle(optarg, &o->ak_handle) < 0 || o->ak_handle < 0x81000000u ||
                            o->ak_handle > 0x817fffffu)
                                return cli_usage_error("evidence",
                                                       "invalid AK handle '%s' (0x81000000-0x817fffff)",
                                                       optarg);
                        break;
                case OPT_CREATE_AK:
                        o->create_ak = true;
                        break;
                case OPT_USER_DATA:
                        r = parse_hex_arg("--user-data", optarg, TPM_AZURE_USER_DATA_MAX, &o->user_data,
                                          &o->user_data_size);
                        if (r != 0)
                                return r;
                        break;
                case OPT_WAIT:
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno != 0 || *end || end == optarg || v > 600000)
                                return cli_usage_error("evidence", "invalid --wait '%s' (0-600000 ms)",
                                                       optarg);
                        o->wait_ms = (unsigned)v;
                        break;
                case OPT_VCEK:
                        o->vcek = optarg;
                        break;
                case OPT_CHAIN:
                        o->chain = optarg;
                        break;
                case OPT_TEST_ARK:
                        o->test_ark = optarg;
                        break;
                default:
                        return cli_usage_error("evidence", "unknown option");
                }
        }
        if (optind < argc)
                return cli_usage_error("evidence", "unexpected argument '%s'", argv[optind]);
        if ((o->chain || o->test_ark) && !o->vcek)
                return cli_usage_error("evidence", "--chain and --test-ark need --vcek");
        return 0;
}

static int add_failure(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_failure(struct verdict *v, const char *fmt, ...)
{
        char line[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        return json_object_array_add(v->failures, json_object_new_string(line)) < 0 ? -ENOMEM : 0;
}

static int jadd(json_object *o, const char *key, json_object *val)
{
        if (!val || json_object_object_add(o, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static json_object *jhex(const void *p, size_t n)
{
        _cleanup_free_ char *s = hex_encode(p, n);

        return s ? json_object_new_string(s) : NULL;
}

/* ---- gathering ------------------------------------------------------------------------------------------ */

/* tpm_hcl_report_refresh() matcher: the report's runtime claims carry our user data. */
static int report_has_user_data(const uint8_t *report, size_t size, const uint8_t *ud, size_t ud_size,
                                void *userdata, struct cvm_error *err)
{
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        char want[2 * TPM_AZURE_USER_DATA_MAX + 1];
        uint8_t padded[TPM_AZURE_USER_DATA_MAX] = {};
        json_object *v;

        (void)userdata;
        (void)err;
        /* A report being rewritten may not parse yet: keep waiting, the wait is bounded. */
        if (hcl_report_parse(report, size, &hcl, NULL) < 0)
                return 0;
        if (!json_object_object_get_ex(hcl_report_runtime_claims(hcl), "user-data", &v) ||
            !json_object_is_type(v, json_type_string))
                return 0;
        memcpy(padded, ud, ud_size);
        hex_encode_to(want, padded, sizeof(padded));
        return strcasecmp(json_object_get_string(v), want) == 0;
}

static int gather(struct tpm *t, const struct options *o, struct gathered *g, struct cvm_error *err)
{
        struct cvm_error e = {};
        int r;

        if (o->user_data) {
                r = tpm_hcl_report_refresh(t, o->user_data, o->user_data_size, o->wait_ms,
                                           report_has_user_data, NULL, &g->hcl, &e);
                if (r == -ETIMEDOUT) {
                        snprintf(g->refresh_error, sizeof(g->refresh_error), "%s", e.message);
                        cvm_error_clear(&e);
                } else if (r < 0) {
                        return cvm_error_set(err, r, "%s", e.message);
                } else {
                        g->has_hcl = true;
                }
        }

        r = tpm_read_public(t, o->ak_handle, &g->ak_pub, &e);
        if (r == -ENOENT && o->create_ak) {
                cvm_error_clear(&e);
                r = tpm_ak_provision(t, o->ak_handle, &g->ak_pub, &e);
                g->ak_created = r > 0;
        } else if (r == -ENOENT) {
                return cvm_error_set(
                        err, r, "no attestation key at persistent handle 0x%08x (--create-ak creates one)",
                        o->ak_handle);
        }
        if (r < 0)
                return cvm_error_set(err, r, "%s", e.message);

        r = tpm_nv_read(t, TPM_AZURE_AK_CERT_NV, &g->ak_cert, &e);
        if (r >= 0)
                g->has_ak_cert = true;
        else if (r != -ENOENT)
                snprintf(g->ak_cert_error, sizeof(g->ak_cert_error), "%s", e.message);
        cvm_error_clear(&e);

        if (!g->has_hcl) {
                r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &g->hcl, &e);
                if (r >= 0)
                        g->has_hcl = true;
                else if (r != -ENOENT)
                        snprintf(g->hcl_error, sizeof(g->hcl_error), "%s", e.message);
                cvm_error_clear(&e);
        }

        r = tpm_quote(t, o->ak_handle, o->bank, o->pcrs, o->nonce, o->nonce_size, &g->attest, &g->sig, err);
        if (r < 0)
                return r;
        return tpm_pcr_read(t, o->bank, o->pcrs, &g->pcrs, err);
}

/* ---- checks --------------------------------------------------------------------------------------------- */

static const char *check_word(int r)
{
        return r > 0 ? "valid" : "invalid";
}

/* Quote: signature with the AK, PCR digest against the TPM's PCRs, nonce. */
static int check_quote(const struct options *o, const struct gathered *g, EVP_PKEY *ak, struct tpm_attest *a,
                       struct tpm_signature *sig, json_object *root, struct verdict *v,
                       struct cvm_error *err)
{
        _cleanup_(tpm_pcr_values_freep) struct tpm_pcr_values *vals = NULL;
        _cleanup_(json_object_putp) json_object *q = json_object_new_object(), *aj = NULL;
        struct cvm_error e = {};
        struct tpm_pcr_check chk = {};
        int rs, rd, rn, r;

        if (!q)
                return -ENOMEM;
        r = tpm_attest_parse(g->attest.data, g->attest.size, a, &e);
        if (r >= 0 && a->type != TPM_ST_ATTEST_QUOTE)
                r = cvm_error_set(&e, -EBADMSG, "attestation type 0x%04x is not a quote", a->type);
        if (r >= 0)
                r = tpm_signature_parse(g->sig.data, g->sig.size, sig, &e);
        if (r < 0)
                return cvm_error_set(err, r, "the TPM returned a quote that does not parse: %s", e.message);

        rs = tpm_quote_verify_signature(g->attest.data, g->attest.size, sig, ak, &e);
        if (rs < 0)
                return cvm_error_set(err, rs, "%s", e.message);
        if (rs == 0 && add_failure(v, "quote signature: %s", e.message) < 0)
                return -ENOMEM;
        cvm_error_clear(&e);

        r = tpm_pcr_values_new(&vals);
        for (unsigned i = 0; r >= 0 && i < TPM_PCR_COUNT; i++)
                if (g->pcrs.mask & (1u << i))
                        r = tpm_pcr_values_set(vals, g->pcrs.alg, i, g->pcrs.digest[i], g->pcrs.digest_size,
                                               err);
        if (r < 0)
                return r;
        if (a->quote.n_selections != 1 || a->quote.selections[0].hash_alg != o->bank ||
            tpm_selection_mask(&a->quote.selections[0]) != o->pcrs) {
                rd = 0;
                cvm_error_set(&e, -EKEYREJECTED, "the quote does not cover the requested PCR selection");
        } else {
                rd = tpm_quote_check_pcrs(a, sig->hash_alg, vals, &chk, &e);
                if (rd < 0)
                        return cvm_error_set(err, rd, "%s", e.message);
        }
        if (rd == 0 && add_failure(v, "quote PCR digest: %s", e.message) < 0)
                return -ENOMEM;
        cvm_error_clear(&e);

        rn = tpm_quote_check_nonce(a, o->nonce, o->nonce_size, &e);
        if (rn < 0)
                return cvm_error_set(err, rn, "%s", e.message);
        if (rn == 0 && add_failure(v, "quote nonce: %s", e.message) < 0)
                return -ENOMEM;

        r = tpm_attest_to_json(a, &aj);
        if (r >= 0)
                r = jadd(q, "signature", json_object_new_string(check_word(rs)));
        if (r >= 0)
                r = jadd(q, "pcr_digest", json_object_new_string(check_word(rd)));
        if (r >= 0)
                r = jadd(q, "nonce", json_object_new_string(check_word(rn)));
        if (r >= 0)
                r = jadd(q, "attest", TAKE_PTR(aj));
        if (r >= 0)
                r = jadd(q, "tpms_attest", jhex(g->attest.data, g->attest.size));
        if (r >= 0)
                r = jadd(q, "tpmt_signature", jhex(g->sig.data, g->sig.size));
        if (r >= 0)
                r = jadd(root, "quote", TAKE_PTR(q));
        return r < 0 ? -ENOMEM : 0;
}

/* Event log: replay, then the quoted pcrDigest recomputed from the replayed values. */
static int check_eventlog(const struct options *o, const uint8_t *log_data, size_t log_size,
                          const struct gathered *g, const struct tpm_attest *a,
                          const struct tpm_signature *sig, json_object *root, struct verdict *v,
                          struct cvm_error *err)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(tpm_pcr_values_freep) struct tpm_pcr_values *vals = NULL;
        _cleanup_(json_object_putp) json_object *ej = json_object_new_object(),
                                                *mism = json_object_new_array();
        const struct hash_alg *h = hash_alg_by_tpm_id(o->bank);
        struct eventlog_pcrs pcrs;
        struct tpm_pcr_check chk = {};
        struct cvm_error e = {};
        int bank, r, matches = 0;

        if (!ej || !mism)
                return -ENOMEM;
        r = jadd(ej, "path", json_object_new_string(o->eventlog));
        if (r < 0)
                return r;

        r = eventlog_parse(log_data, log_size, &log, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                v->malformed = true;
                if (add_failure(v, "event log %s: %s", o->eventlog, e.message) < 0 ||
                    jadd(ej, "error", json_object_new_string(e.message)) < 0)
                        return -ENOMEM;
                goto done;
        }
        r = jadd(ej, "events", json_object_new_int64((int64_t)log->n_events));
        if (r < 0)
                return r;
        r = eventlog_replay(log, 0, &pcrs, err);
        if (r < 0)
                return r;
        bank = eventlog_bank_index(log, o->bank);
        if (bank < 0 || !pcrs.banks[bank].replayed) {
                if (add_failure(v, "event log: it has no %s bank to compare with the quoted PCRs", h->name) <
                    0)
                        return -ENOMEM;
                goto done;
        }

        /* Which PCR differs, for the operator; the verdict itself is on the quoted digest. */
        for (unsigned i = 0; i < TPM_PCR_COUNT; i++) {
                _cleanup_(json_object_putp) json_object *m = NULL;

                if (!(o->pcrs & (1u << i)) ||
                    memcmp(pcrs.banks[bank].values[i], g->pcrs.digest[i], h->size) == 0)
                        continue;
                m = json_object_new_object();
                if (!m || jadd(m, "pcr", json_object_new_int((int)i)) < 0 ||
                    jadd(m, "tpm", jhex(g->pcrs.digest[i], h->size)) < 0 ||
                    jadd(m, "eventlog", jhex(pcrs.banks[bank].values[i], h->size)) < 0 ||
                    json_object_array_add(mism, TAKE_PTR(m)) < 0)
                        return -ENOMEM;
        }

        r = tpm_pcr_values_new(&vals);
        for (unsigned i = 0; r >= 0 && i < TPM_PCR_COUNT; i++)
                if (o->pcrs & (1u << i))
                        r = tpm_pcr_values_set(vals, o->bank, i, pcrs.banks[bank].values[i], h->size, err);
        if (r < 0)
                return r;
        matches = tpm_quote_check_pcrs(a, sig->hash_alg, vals, &chk, &e);
        if (matches < 0)
                return cvm_error_set(err, matches, "%s", e.message);
        if (matches == 0) {
                char list[96] = "";

                for (size_t i = 0; i < json_object_array_length(mism); i++) {
                        json_object *pj = json_object_object_get(json_object_array_get_idx(mism, i), "pcr");

                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? "," : "",
                                 json_object_get_int(pj));
                }
                if (add_failure(v, "event log does not replay to the quoted PCRs%s%s (%s)",
                                *list ? ": PCR " : "", list, e.message) < 0)
                        return -ENOMEM;
        }
done:
        if (jadd(ej, "pcr_mismatches", TAKE_PTR(mism)) < 0 || jadd(root, "eventlog", TAKE_PTR(ej)) < 0 ||
            jadd(root, "eventlog_matches_quote", json_object_new_boolean(matches > 0)) < 0)
                return -ENOMEM;
        return 0;
}

/* AK: its key, and whether the AK certificate (NV 0x01C101D0) certifies that key. */
static int check_ak(const struct options *o, const struct gathered *g, EVP_PKEY **ret_ak, json_object *root,
                    struct verdict *v, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *aj = json_object_new_object(), *kj = NULL, *cj = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ak = NULL;
        struct tpmkey_info info;
        char handle[16];
        int r;

        if (!aj)
                return -ENOMEM;
        r = tpmkey_from_tpm_public(g->ak_pub.data, g->ak_pub.size, true, &ak, &info, err);
        if (r < 0)
                return r;
        r = tpmkey_info_to_json(ak, &info, &kj, err);
        if (r < 0)
                return r;
        snprintf(handle, sizeof(handle), "0x%08x", o->ak_handle);
        if (jadd(aj, "handle", json_object_new_string(handle)) < 0 ||
            jadd(aj, "created", json_object_new_boolean(g->ak_created)) < 0 ||
            jadd(aj, "key", TAKE_PTR(kj)) < 0)
                return -ENOMEM;

        if (g->has_ak_cert) {
                const unsigned char *p = g->ak_cert.data;
                _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long)g->ak_cert.size);
                char buf[256];

                cj = json_object_new_object();
                if (!cj)
                        return -ENOMEM;
                if (!x) {
                        v->malformed = true;
                        if (jadd(cj, "error", json_object_new_string("not a DER X.509 certificate")) < 0 ||
                            add_failure(v, "AK certificate in NV 0x%08x is not a DER X.509 certificate",
                                        TPM_AZURE_AK_CERT_NV) < 0)
                                return -ENOMEM;
                } else {
                        bool same = EVP_PKEY_eq(X509_get0_pubkey(x), ak) == 1;

                        X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
                        r = jadd(cj, "subject", json_object_new_string(buf));
                        X509_NAME_oneline(X509_get_issuer_name(x), buf, sizeof(buf));
                        if (r >= 0)
                                r = jadd(cj, "issuer", json_object_new_string(buf));
                        if (r >= 0)
                                r = jadd(cj, "matches_ak", json_object_new_boolean(same));
                        if (r >= 0)
                                r = jadd(cj, "der", jhex(g->ak_cert.data, g->ak_cert.size));
                        if (r < 0)
                                return -ENOMEM;
                        if (!same && add_failure(v, "AK certificate in NV 0x%08x certifies a different key",
                                                 TPM_AZURE_AK_CERT_NV) < 0)
                                return -ENOMEM;
                }
        } else if (g->ak_cert_error[0]) {
                cj = json_object_new_object();
                if (!cj || jadd(cj, "error", json_object_new_string(g->ak_cert_error)) < 0 ||
                    add_failure(v, "AK certificate: %s", g->ak_cert_error) < 0)
                        return -ENOMEM;
        }
        if (json_object_object_add(aj, "certificate", TAKE_PTR(cj)) < 0)
                return -ENOMEM;
        if (jadd(root, "ak", TAKE_PTR(aj)) < 0)
                return -ENOMEM;
        *ret_ak = TAKE_PTR(ak);
        return 0;
}

static int read_certs(const char *path, STACK_OF(X509) * *ret, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        int r;

        r = read_file(path, MAX_CERT_SIZE, &buf, &n, err);
        if (r < 0)
                return r;
        return snp_certs_load(buf, n, ret, err);
}

/* Optional: the SNP report inside the HCL report against a VCEK and its chain. */
static int check_snp(const struct options *o, const struct hcl_report *hcl, json_object *hj,
                     struct verdict *v, struct cvm_error *err)
{
        _cleanup_(snp_vek_freep) struct snp_vek *vek = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL, *ark = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct snp_check_result sig = {};
        struct snp_vek_match match = {};
        struct snp_chain_result ch = {};
        json_object *sub = NULL;
        size_t n;
        int r;

        r = read_file(o->vcek, MAX_CERT_SIZE, &buf, &n, err);
        if (r < 0)
                return cvm_error_set(err, r, "%s: %s", o->vcek, cvm_error_message(err, r));
        r = snp_vek_load(buf, n, &vek, err);
        if (r < 0)
                return cvm_error_set(err, r, "%s: %s", o->vcek, cvm_error_message(err, r));
        if (o->chain) {
                r = read_certs(o->chain, &chain, err);
                if (r < 0)
                        return cvm_error_set(err, r, "%s: %s", o->chain, cvm_error_message(err, r));
        }
        r = snp_report_verify_signature(&hcl->snp, vek, &sig, err);
        if (r >= 0)
                r = snp_vek_match_report(vek, &hcl->snp, &match);
        if (r < 0)
                return r;
        if (o->test_ark) {
                r = read_certs(o->test_ark, &ark, err);
                if (r < 0)
                        return cvm_error_set(err, r, "%s: %s", o->test_ark, cvm_error_message(err, r));
                r = snp_chain_verify_with_ark(vek, chain, sk_X509_value(ark, 0), NULL, &ch, err);
        } else {
                r = snp_chain_verify(vek, chain, NULL, &ch, err);
        }
        if (r < 0)
                return r;

        if (sig.status != SNP_CHECK_VALID && add_failure(v, "SNP report signature: %s", sig.reason) < 0)
                return -ENOMEM;
        if (ch.status != SNP_CHECK_VALID && add_failure(v, "VCEK certificate chain: %s", ch.reason) < 0)
                return -ENOMEM;
        if (match.status != SNP_CHECK_VALID && add_failure(v, "VCEK/report match: %s", match.reason) < 0)
                return -ENOMEM;

        if (jadd(hj, "signature", json_object_new_string(snp_check_name(sig.status))) < 0 ||
            jadd(hj, "chain", json_object_new_string(snp_check_name(ch.status))) < 0 ||
            jadd(hj, "vek_match", json_object_new_string(snp_check_name(match.status))) < 0 ||
            jadd(hj, "chain_root",
                 json_object_new_string(o->test_ark ? "test ARK (--test-ark)" : "AMD (pinned)")) < 0)
                return -ENOMEM;
        r = snp_chain_result_to_json(&ch, &sub);
        if (r >= 0)
                r = jadd(hj, "chain_details", sub);
        if (r >= 0)
                r = snp_vek_match_to_json(&match, &sub);
        if (r >= 0)
                r = jadd(hj, "vek_match_details", sub);
        return r < 0 ? -ENOMEM : 0;
}

/* HCL report: parse, runtime-claims binding, and whether HCLAkPub is the AK that signed the quote. */
static int check_hcl(const struct options *o, const struct gathered *g, EVP_PKEY *ak, json_object *root,
                     struct verdict *v, struct cvm_error *err)
{
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        _cleanup_(json_object_putp) json_object *hj = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *hcl_ak = NULL;
        json_object *bound = NULL;
        struct cvm_error e = {};
        int r;

        if (g->refresh_error[0] && add_failure(v, "%s", g->refresh_error) < 0)
                return -ENOMEM;
        if (!g->has_hcl) {
                if (g->hcl_error[0] && add_failure(v, "HCL report: %s", g->hcl_error) < 0)
                        return -ENOMEM;
                if (json_object_object_add(root, "hcl_report", NULL) < 0 ||
                    json_object_object_add(root, "ak_bound_to_report", NULL) < 0)
                        return -ENOMEM;
                if (g->hcl_error[0])
                        return jadd(root, "hcl_report_error", json_object_new_string(g->hcl_error));
                return 0;
        }

        r = hcl_report_parse(g->hcl.data, g->hcl.size, &hcl, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                v->malformed = true;
                if (add_failure(v, "HCL report in NV 0x%08x: %s", TPM_AZURE_HCL_REPORT_NV, e.message) < 0 ||
                    json_object_object_add(root, "hcl_report", NULL) < 0 ||
                    json_object_object_add(root, "ak_bound_to_report", NULL) < 0 ||
                    jadd(root, "hcl_report_error", json_object_new_string(e.message)) < 0)
                        return -ENOMEM;
                return 0;
        }
        r = hcl_report_to_json(hcl, &hj);
        if (r < 0)
                return r;
        if (!hcl->runtime_claims_bound &&
            add_failure(v, "HCL report: %s(runtime claims) does not match the SNP report_data",
                        hcl->hash_name) < 0)
                return -ENOMEM;

        r = hcl_report_ak_pub(hcl, &hcl_ak, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (add_failure(v, "AK binding: %s", e.message) < 0)
                        return -ENOMEM;
                bound = json_object_new_boolean(0);
        } else {
                bool same = EVP_PKEY_eq(hcl_ak, ak) == 1;

                if (!same && add_failure(v,
                                         "AK binding: HCLAkPub in the HCL report is not the AK at 0x%08x "
                                         "that signed the quote",
                                         o->ak_handle) < 0)
                        return -ENOMEM;
                bound = json_object_new_boolean(same);
        }
        if (o->vcek) {
                r = check_snp(o, hcl, hj, v, err);
                if (r < 0) {
                        json_object_put(bound);
                        return r;
                }
        }
        if (jadd(root, "hcl_report", TAKE_PTR(hj)) < 0 || jadd(root, "ak_bound_to_report", bound) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- output --------------------------------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *path1, const char *path2)
{
        json_object *a = NULL, *b = NULL;

        if (!json_object_object_get_ex(o, path1, &a))
                return NULL;
        if (!path2)
                return json_object_get_string(a);
        if (!json_object_object_get_ex(a, path2, &b))
                return NULL;
        return json_object_get_string(b);
}

static void print_text(json_object *root, const struct options *o)
{
        json_object *ak = json_object_object_get(root, "ak"),
                    *cert = json_object_object_get(ak, "certificate");
        json_object *hcl = json_object_object_get(root, "hcl_report"),
                    *el = json_object_object_get(root, "eventlog");
        json_object *bound = json_object_object_get(root, "ak_bound_to_report");
        json_object *failures = json_object_object_get(root, "failures"), *mism;
        char pcrs[96];
        const char *s;

        tpm_pcr_list_format(o->pcrs, pcrs, sizeof(pcrs));
        printf("TPM:             %s\n", jstr(root, "tcti", NULL));
        printf("AK:              %s %s%s\n", jstr(ak, "handle", NULL), jstr(ak, "key", "key"),
               json_object_get_boolean(json_object_object_get(ak, "created")) ? " (created now)" : "");
        if (!cert)
                printf("AK certificate:  none in NV 0x%08x\n", TPM_AZURE_AK_CERT_NV);
        else if ((s = jstr(cert, "error", NULL)))
                printf("AK certificate:  %s\n", s);
        else
                printf("AK certificate:  %s, issued by %s, %s\n", jstr(cert, "subject", NULL),
                       jstr(cert, "issuer", NULL),
                       json_object_get_boolean(json_object_object_get(cert, "matches_ak"))
                               ? "certifies the AK"
                               : "certifies ANOTHER key");
        printf("Quote:           %s:%s, nonce %s\n", jstr(root, "pcr_bank", NULL), pcrs,
               jstr(root, "nonce", NULL));
        printf("  signature:     %s\n", jstr(root, "quote", "signature"));
        printf("  PCR digest:    %s\n", jstr(root, "quote", "pcr_digest"));
        printf("  nonce:         %s\n", jstr(root, "quote", "nonce"));
        printf("Event log:       %s: ", jstr(el, "path", NULL));
        if ((s = jstr(el, "error", NULL)))
                printf("%s\n", s);
        else
                printf("%s events, %s\n", jstr(el, "events", NULL),
                       json_object_get_boolean(json_object_object_get(root, "eventlog_matches_quote"))
                               ? "replays to the quoted PCRs"
                               : "does NOT replay to the quoted PCRs");
        mism = json_object_object_get(el, "pcr_mismatches");
        for (size_t i = 0; i < json_object_array_length(mism); i++) {
                json_object *m = json_object_array_get_idx(mism, i);

                printf("  PCR %-2d         TPM %s\n", json_object_get_int(json_object_object_get(m, "pcr")),
                       jstr(m, "tpm", NULL));
                printf("                 log %s\n", jstr(m, "eventlog", NULL));
        }
        if (hcl) {
                printf("HCL report:      present, SNP report v%s, runtime claims %s\n",
                       jstr(hcl, "version", NULL),
                       json_object_get_boolean(json_object_object_get(hcl, "runtime_claims_bound"))
                               ? "bound to report_data"
                               : "NOT bound to report_data");
                if ((s = jstr(hcl, "signature", NULL)))
                        printf("  VCEK:          signature %s, chain %s (%s), VCEK matches report: %s\n", s,
                               jstr(hcl, "chain", NULL), jstr(hcl, "chain_root", NULL),
                               jstr(hcl, "vek_match", NULL));
        } else if ((s = jstr(root, "hcl_report_error", NULL))) {
                printf("HCL report:      %s\n", s);
        } else {
                printf("HCL report:      none (NV 0x%08x is not defined: not an Azure CVM vTPM)\n",
                       TPM_AZURE_HCL_REPORT_NV);
        }
        printf("AK binding:      %s\n", !bound ? "not applicable (no HCL report)"
                                        : json_object_get_boolean(bound)
                                                ? "HCLAkPub is the AK that signed the quote"
                                                : "HCLAkPub is NOT the AK that signed the quote");
        if (json_object_array_length(failures) == 0) {
                printf("Result:          all checks passed\n");
                return;
        }
        printf("Result:          %zu check(s) failed\n", json_object_array_length(failures));
        for (size_t i = 0; i < json_object_array_length(failures); i++)
                printf("  - %s\n", json_object_get_string(json_object_array_get_idx(failures, i)));
}

/* ---- command -------------------------------------------------------------------------------------------- */

static int build_root(const struct options *o, const struct gathered *g, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *root = json_object_new_object(),
                                                *pj = json_object_new_object();
        const struct hash_alg *h = hash_alg_by_tpm_id(o->bank);
        char pcrs[96], key[4];

        if (!root || !pj)
                return -ENOMEM;
        tpm_pcr_list_format(o->pcrs, pcrs, sizeof(pcrs));
        for (unsigned i = 0; i < TPM_PCR_COUNT; i++) {
                if (!(o->pcrs & (1u << i)))
                        continue;
                snprintf(key, sizeof(key), "%u", i);
                if (jadd(pj, key, jhex(g->pcrs.digest[i], h->size)) < 0)
                        return -ENOMEM;
        }
        if (jadd(root, "tcti", json_object_new_string(o->tcti)) < 0 ||
            jadd(root, "nonce", jhex(o->nonce, o->nonce_size)) < 0 ||
            jadd(root, "pcr_bank", json_object_new_string(h->name)) < 0 ||
            jadd(root, "pcr_selection", json_object_new_string(pcrs)) < 0 ||
            jadd(root, "pcrs", TAKE_PTR(pj)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(root);
        return 0;
}

static int run(const struct options *o, const uint8_t *log_data, size_t log_size)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        _cleanup_(json_object_putp) json_object *root = NULL, *failures = json_object_new_array();
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ak = NULL;
        struct gathered g = {};
        struct verdict v = {.failures = failures};
        struct tpm_attest a;
        struct tpm_signature sig;
        struct cvm_error err = {};
        int r, rc;

        if (!failures)
                return cli_fail(NULL, NULL, -ENOMEM);

        r = tpm_open(o->tcti, &t, &err);
        if (r >= 0)
                r = gather(t, o, &g, &err);
        /* Release the TPM before the (CPU-only) checks. */
        tpm_close(TAKE_PTR(t));
        if (r < 0) {
                gathered_done(&g);
                fprintf(stderr, "cvm-agent: TPM: %s\n", cvm_error_message(&err, r));
                return r == -ENOMEM ? EXIT_INTERNAL : EXIT_TPM;
        }

        r = build_root(o, &g, &root);
        if (r >= 0)
                r = check_ak(o, &g, &ak, root, &v, &err);
        if (r >= 0)
                r = check_quote(o, &g, ak, &a, &sig, root, &v, &err);
        if (r >= 0)
                r = check_eventlog(o, log_data, log_size, &g, &a, &sig, root, &v, &err);
        if (r >= 0)
                r = check_hcl(o, &g, ak, root, &v, &err);
        if (r >= 0)
                r = jadd(root, "verified", json_object_new_boolean(json_object_array_length(failures) == 0));
        if (r >= 0)
                r = jadd(root, "failures", json_object_get(failures));
        gathered_done(&g);
        if (r < 0)
                return cli_fail(NULL, &err, r);

        if (o->json)
                rc = cli_print_json(root);
        else {
                print_text(root, o);
                rc = EXIT_OK;
        }
        if (rc != EXIT_OK)
                return rc;
        if (json_object_array_length(failures) == 0)
                return EXIT_OK;
        return v.malformed ? EXIT_EVIDENCE : EXIT_VERIFY_FAILED;
}

int cmd_evidence(int argc, char *argv[])
{
        struct options o = {
                .eventlog = DEFAULT_EVENTLOG,
                .bank = TPM_ALG_SHA256,
                .pcrs = 0xff,
                .ak_handle = TPM_AZURE_AK_HANDLE,
                .wait_ms = 5000,
        };
        _cleanup_free_ uint8_t *log_data = NULL;
        size_t log_size;
        int r;

        r = parse_options(argc, argv, &o);
        if (r != 0) {
                free(o.nonce);
                free(o.user_data);
                return r < 0 ? EXIT_OK : r; /* -1: --help was printed */
        }
        if (!o.nonce) {
                o.nonce_size = 32;
                o.nonce = malloc(o.nonce_size);
                if (!o.nonce || RAND_bytes(o.nonce, (int)o.nonce_size) != 1) {
                        free(o.nonce);
                        free(o.user_data);
                        return cli_fail(NULL, NULL, -ENOMEM);
                }
        }

        /* The configuration and the event log first: operator errors, found before touching the TPM. */
        r = cli_tcti(&o.tcti);
        if (r == EXIT_OK)
                r = cli_read_input(o.eventlog, EVENTLOG_MAX_SIZE, &log_data, &log_size);
        if (r == EXIT_OK)
                r = run(&o, log_data, log_size);
        free(o.nonce);
        free(o.user_data);
        return r;
}
