/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent quote: verify a TPM 2.0 quote offline — the signature with the AK public key, the
 * PCR digest against PCR values, and extraData against a nonce. Every check performed is
 * reported, also when an earlier one failed, so an operator sees everything that differs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "hashalg.h"
#include "tpmkey.h"
#include "tpmquote.h"
#include "tpmwire.h"
#include "util.h"

#define MAX_EVIDENCE_SIZE (1u << 20)  /* quote, signature, key: real ones are < 4 KiB */
#define MAX_PCRS_SIZE     (64u << 20) /* PCR documents may be whole evidence or event-log JSON */

struct quote_args {
        bool json;
        const char *ak_path;
        const char *pcrs_path;
        const char *quote_path;
        const char *sig_path;
        uint8_t *nonce; /* owned */
        size_t nonce_size;
        bool have_nonce;
        enum tpm_sig_format sig_format;
        uint16_t sig_scheme; /* raw only; 0 = from the key */
        uint16_t sig_hash;   /* raw only; 0 = from the AK scheme or the pcrDigest size */
};

/* Results of the three checks, and the reasons for anything invalid. */
struct quote_result {
        enum tpm_check signature, pcr_digest, nonce;
        struct cvm_error signature_reason, pcr_reason, nonce_reason;
        struct tpm_pcr_check pcr;
        uint16_t pcr_hash;
};

static void help(void)
{
        printf("Usage: cvm-agent quote [OPTIONS] --ak FILE QUOTE SIG\n"
               "\n"
               "Verify a TPM 2.0 quote: QUOTE is the signed TPMS_ATTEST, SIG its signature\n"
               "(TPMT_SIGNATURE, or a bare RSA/ECDSA signature).\n"
               "\n"
               "Options:\n"
               "  --ak FILE            attestation key: TPM2B_PUBLIC, TPMT_PUBLIC, PEM or DER\n"
               "                       public key, X.509 certificate, JWK or JWK set (e.g. the\n"
               "                       HCL runtime data; kid HCLAkPub is taken); auto-detected\n"
               "  --pcrs FILE          PCR values to check the quoted PCR digest against: JSON\n"
               "                       (a \"pcrs\" member, e.g. eventlog --json output) or text\n"
               "                       (\"INDEX HEX\" lines, optionally under \"sha256:\")\n"
               "  --nonce HEX          expected qualifying data (extraData)\n"
               "  --nonce-string TEXT  the same, given as text (e.g. challenge)\n"
               "  --sig-format FMT     auto (default), tpmt or raw\n"
               "  --sig-scheme S       raw signatures: rsassa, rsapss or ecdsa (default: by key type)\n"
               "  --sig-hash ALG       raw signatures: sha1, sha256, sha384, sha512 (default: the\n"
               "                       AK's TPM signing scheme, else the quoted PCR digest's size)\n"
               "  --json               print the result as JSON\n"
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: 0 every check performed is valid, 4 a check is invalid, 3 malformed\n"
               "input, 5 I/O error, 2 usage error.\n");
}

static int parse_args(int argc, char *argv[], struct quote_args *a)
{
        enum {
                OPT_AK = 0x100,
                OPT_PCRS,
                OPT_NONCE,
                OPT_NONCE_STRING,
                OPT_SIG_FORMAT,
                OPT_SIG_SCHEME,
                OPT_SIG_HASH,
                OPT_JSON
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {"ak", required_argument, NULL, OPT_AK},
                {"pcrs", required_argument, NULL, OPT_PCRS},
                {"nonce", required_argument, NULL, OPT_NONCE},
                {"nonce-string", required_argument, NULL, OPT_NONCE_STRING},
                {"sig-format", required_argument, NULL, OPT_SIG_FORMAT},
                {"sig-scheme", required_argument, NULL, OPT_SIG_SCHEME},
                {"sig-hash", required_argument, NULL, OPT_SIG_HASH},
                {},
        };
        const struct hash_alg *h;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case OPT_JSON:
                        a->json = true;
                        break;
                case OPT_AK:
                        a->ak_path = optarg;
                        break;
                case OPT_PCRS:
                        a->pcrs_path = optarg;
                        break;
                case OPT_NONCE:
                case OPT_NONCE_STRING:
                        if (a->have_nonce)
                                return cli_usage_error("quote",
                                                       "give the nonce once (--nonce or --nonce-string)");
                        a->have_nonce = true;
                        if (c == OPT_NONCE_STRING) {
                                a->nonce_size = strlen(optarg);
                                a->nonce = malloc(a->nonce_size + 1);
                                if (!a->nonce)
                                        return EXIT_INTERNAL;
                                memcpy(a->nonce, optarg, a->nonce_size + 1);
                        } else {
                                const char *s = optarg;

                                if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                                        s += 2;
                                if (hex_decode(s, SIZE_MAX, &a->nonce, &a->nonce_size) < 0)
                                        return cli_usage_error("quote", "--nonce: '%s' is not hex", optarg);
                        }
                        break;
                case OPT_SIG_FORMAT:
                        if (strcmp(optarg, "auto") == 0)
                                a->sig_format = TPM_SIG_FORMAT_AUTO;
                        else if (strcmp(optarg, "tpmt") == 0)
                                a->sig_format = TPM_SIG_FORMAT_TPMT;
                        else if (strcmp(optarg, "raw") == 0)
                                a->sig_format = TPM_SIG_FORMAT_RAW;
                        else
                                return cli_usage_error(
                                        "quote", "--sig-format: '%s' is not auto, tpmt or raw", optarg);
                        break;
                case OPT_SIG_SCHEME:
                        if (strcmp(optarg, "rsassa") == 0)
                                a->sig_scheme = TPM_ALG_RSASSA;
                        else if (strcmp(optarg, "rsapss") == 0)
                                a->sig_scheme = TPM_ALG_RSAPSS;
                        else if (strcmp(optarg, "ecdsa") == 0)
                                a->sig_scheme = TPM_ALG_ECDSA;
                        else
                                return cli_usage_error("quote",
                                                       "--sig-scheme: '%s' is not rsassa, rsapss or ecdsa",
                                                       optarg);
                        break;
                case OPT_SIG_HASH:
                        h = hash_alg_by_name(optarg);
                        if (!h || !h->evp_name)
                                return cli_usage_error("quote", "--sig-hash: unknown hash algorithm '%s'",
                                                       optarg);
                        a->sig_hash = h->tpm_id;
                        break;
                default:
                        return cli_usage_error("quote", "unknown option");
                }
        }
        if (!a->ak_path)
                return cli_usage_error("quote", "--ak FILE is required");
        if (argc - optind != 2)
                return cli_usage_error("quote", "expected two arguments, QUOTE and SIG");
        if (a->sig_format == TPM_SIG_FORMAT_TPMT && (a->sig_scheme || a->sig_hash))
                return cli_usage_error("quote", "--sig-scheme and --sig-hash apply to raw signatures only");
        a->quote_path = argv[optind];
        a->sig_path = argv[optind + 1];
        return 0;
}

/* ---- output --------------------------------------------------------------------------------- */

static int add(json_object *obj, const char *key, json_object *v)
{
        if (!v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_hex(json_object *obj, const char *key, const uint8_t *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        return hex ? add(obj, key, json_object_new_string(hex)) : -ENOMEM;
}

static int missing_to_json(const struct tpm_attest *at, const struct tpm_pcr_check *pc, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < at->quote.n_selections; i++) {
                json_object *entry, *pcrs;

                if (!pc->missing[i])
                        continue;
                entry = json_object_new_object();
                pcrs = json_object_new_array();
                if (!entry || !pcrs || json_object_array_add(arr, entry) < 0) {
                        json_object_put(entry);
                        json_object_put(pcrs);
                        return -ENOMEM;
                }
                if (add(entry, "hash",
                        json_object_new_string(hash_alg_by_tpm_id(at->quote.selections[i].hash_alg)->name)) <
                            0 ||
                    add(entry, "pcrs", pcrs) < 0)
                        return -ENOMEM;
                for (int p = 0; p < TPM_MAX_PCRS; p++)
                        if ((pc->missing[i] & (UINT32_C(1) << p)) &&
                            json_object_array_add(pcrs, json_object_new_int(p)) < 0)
                                return -ENOMEM;
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

static int print_json(const struct quote_args *a, size_t attest_size, const struct tpm_attest *at,
                      const struct tpm_signature *sig, EVP_PKEY *pkey, const struct tpmkey_info *info,
                      const struct quote_result *res)
{
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *attest = NULL, *ak = NULL, *reasons = NULL, *missing = NULL;
        struct cvm_error err = {};
        bool ok = res->signature != TPM_CHECK_INVALID && res->pcr_digest != TPM_CHECK_INVALID &&
                  res->nonce != TPM_CHECK_INVALID;
        int r;

        if (!root)
                return EXIT_INTERNAL;
        r = add(root, "valid", json_object_new_boolean(ok));
        if (r >= 0)
                r = add(root, "signature", json_object_new_string(tpm_check_name(res->signature)));
        if (r >= 0)
                r = add(root, "pcr_digest", json_object_new_string(tpm_check_name(res->pcr_digest)));
        if (r >= 0)
                r = add(root, "nonce", json_object_new_string(tpm_check_name(res->nonce)));
        if (r >= 0)
                r = tpm_attest_to_json(at, &attest);
        if (r >= 0)
                r = add(root, "attest", attest);
        if (r >= 0)
                r = add(root, "attest_size", json_object_new_int64((int64_t)attest_size));
        if (r >= 0)
                r = add(root, "signature_format", json_object_new_string(tpm_sig_format_name(sig->format)));
        if (r >= 0)
                r = add(root, "signature_scheme", json_object_new_string(tpmwire_alg_name(sig->sig_alg)));
        if (r >= 0)
                r = add(root, "signature_hash",
                        json_object_new_string(hash_alg_by_tpm_id(sig->hash_alg)->name));
        if (r >= 0)
                r = tpmkey_info_to_json(pkey, info, &ak, &err);
        if (r >= 0)
                r = add(root, "ak", ak);
        if (r >= 0 && at->type == TPM_ST_ATTEST_QUOTE)
                r = add(root, "pcr_digest_hash",
                        json_object_new_string(hash_alg_by_tpm_id(res->pcr_hash)->name));
        if (r >= 0) {
                if (res->pcr_digest != TPM_CHECK_UNCHECKED && res->pcr.computed_size > 0)
                        r = add_hex(root, "pcr_digest_computed", res->pcr.computed, res->pcr.computed_size);
                else
                        r = json_object_object_add(root, "pcr_digest_computed", NULL);
        }
        if (r >= 0 && res->pcr.n_missing > 0) {
                r = missing_to_json(at, &res->pcr, &missing);
                if (r >= 0)
                        r = add(root, "pcrs_missing", missing);
        }
        if (r >= 0 && a->have_nonce)
                r = add_hex(root, "nonce_expected", a->nonce, a->nonce_size);
        if (r >= 0) {
                reasons = json_object_new_object();
                r = add(root, "reasons", reasons);
        }
        if (r >= 0 && res->signature == TPM_CHECK_INVALID)
                r = add(reasons, "signature", json_object_new_string(res->signature_reason.message));
        if (r >= 0 && res->pcr_digest == TPM_CHECK_INVALID)
                r = add(reasons, "pcr_digest", json_object_new_string(res->pcr_reason.message));
        if (r >= 0 && res->nonce == TPM_CHECK_INVALID)
                r = add(reasons, "nonce", json_object_new_string(res->nonce_reason.message));
        if (r < 0) {
                fprintf(stderr, "cvm-agent: %s\n", cvm_error_message(&err, r));
                return cli_exit_for_errno(r);
        }
        return cli_print_json(root);
}

static void print_hex_line(const char *label, const uint8_t *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        printf("  %-19s %s", label, n == 0 ? "(empty)" : hex ? hex : "?");
}

static void print_text_hint(const uint8_t *p, size_t n)
{
        bool printable = n > 0;

        for (size_t i = 0; i < n; i++)
                if (p[i] < 0x20 || p[i] > 0x7e)
                        printable = false;
        if (printable)
                printf(" (\"%.*s\")", (int)n, (const char *)p);
        printf("\n");
}

static void print_text(const struct quote_args *a, size_t attest_size, const struct tpm_attest *at,
                       const struct tpm_signature *sig, EVP_PKEY *pkey, const struct tpmkey_info *info,
                       const struct quote_result *res)
{
        const char *type = tpm_attest_type_name(at->type);
        char desc[32];

        printf("TPMS_ATTEST (%zu bytes): %s (0x%04x)\n", attest_size, type ? type : "unknown", at->type);
        print_hex_line("qualified signer:", at->qualified_signer, at->qualified_signer_size);
        printf("\n");
        print_hex_line("extra data:", at->extra_data, at->extra_data_size);
        print_text_hint(at->extra_data, at->extra_data_size);
        printf("  %-19s %llu ms, reset count %u, restart count %u, %s\n",
               "clock:", (unsigned long long)at->clock, at->reset_count, at->restart_count,
               at->safe ? "safe" : "not safe");
        printf("  %-19s 0x%016llx\n", "firmware version:", (unsigned long long)at->firmware_version);
        if (at->type == TPM_ST_ATTEST_QUOTE) {
                printf("  %-19s", "PCR selection:");
                for (size_t i = 0; i < at->quote.n_selections; i++) {
                        char list[100];

                        tpm_pcr_list_format(tpm_selection_mask(&at->quote.selections[i]), list,
                                            sizeof(list));
                        printf(" %s:%s", hash_alg_by_tpm_id(at->quote.selections[i].hash_alg)->name,
                               list[0] ? list : "(none)");
                }
                printf("%s\n", at->quote.n_selections ? "" : " (none)");
                print_hex_line("PCR digest:", at->quote.pcr_digest, at->quote.pcr_digest_size);
                printf("\n");
        } else if (at->type == TPM_ST_ATTEST_CERTIFY) {
                print_hex_line("certified name:", at->certify.name, at->certify.name_size);
                printf("\n");
        } else if (at->type == TPM_ST_ATTEST_CREATION) {
                print_hex_line("object name:", at->creation.object_name, at->creation.object_name_size);
                printf("\n");
        }
        tpmkey_describe(pkey, desc, sizeof(desc));
        printf("AK: %s (%s%s%s)\n", desc, tpmkey_format_name(info->format), info->kid[0] ? ", kid " : "",
               info->kid);
        printf("Signature: %s-%s (%s)\n\n", tpmwire_alg_name(sig->sig_alg),
               hash_alg_by_tpm_id(sig->hash_alg)->name, tpm_sig_format_name(sig->format));

        if (res->signature == TPM_CHECK_VALID)
                printf("signature:  valid\n");
        else
                printf("signature:  INVALID: %s\n", res->signature_reason.message);

        if (res->pcr_digest == TPM_CHECK_UNCHECKED)
                printf("PCR digest: unchecked (no --pcrs given)\n");
        else if (res->pcr_digest == TPM_CHECK_VALID) {
                size_t n = 0;

                for (size_t i = 0; i < at->quote.n_selections; i++)
                        n += (size_t)__builtin_popcount(tpm_selection_mask(&at->quote.selections[i]));
                printf("PCR digest: valid (%s over %zu PCR values)\n",
                       hash_alg_by_tpm_id(res->pcr_hash)->name, n);
        } else if (res->pcr.n_missing > 0) {
                printf("PCR digest: INVALID: %s\n", res->pcr_reason.message);
        } else {
                printf("PCR digest: INVALID: the PCR values do not produce the quoted digest\n");
                print_hex_line("quoted:", at->quote.pcr_digest, at->quote.pcr_digest_size);
                printf("\n");
                print_hex_line("computed:", res->pcr.computed, res->pcr.computed_size);
                printf(" (%s)\n", hash_alg_by_tpm_id(res->pcr_hash)->name);
        }

        if (res->nonce == TPM_CHECK_UNCHECKED)
                printf("nonce:      unchecked (no --nonce given)\n");
        else if (res->nonce == TPM_CHECK_VALID)
                printf("nonce:      valid (extraData equals the nonce)\n");
        else {
                printf("nonce:      INVALID: extraData differs from the nonce\n");
                print_hex_line("nonce given:", a->nonce, a->nonce_size);
                print_text_hint(a->nonce, a->nonce_size);
                print_hex_line("extraData:", at->extra_data, at->extra_data_size);
                print_text_hint(at->extra_data, at->extra_data_size);
        }
}

/* ---- main ----------------------------------------------------------------------------------- */

static enum tpm_check check_result(int r)
{
        return r > 0 ? TPM_CHECK_VALID : TPM_CHECK_INVALID;
}

int cmd_quote(int argc, char *argv[])
{
        struct quote_args a = {.sig_format = TPM_SIG_FORMAT_AUTO};
        _cleanup_free_ uint8_t *ak_buf = NULL, *quote_buf = NULL, *sig_buf = NULL, *pcrs_buf = NULL;
        _cleanup_free_ struct tpm_attest *at = calloc(1, sizeof(*at));
        _cleanup_free_ struct tpm_signature *sig = calloc(1, sizeof(*sig));
        _cleanup_free_ struct quote_result *res = calloc(1, sizeof(*res));
        _cleanup_(tpm_pcr_values_freep) struct tpm_pcr_values *pcrs = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        struct tpmkey_info info = {};
        struct cvm_error err = {};
        size_t ak_size, quote_size, sig_size, pcrs_size;
        uint16_t raw_hash;
        int r, ret;

        if (!at || !sig || !res)
                return EXIT_INTERNAL;
        r = parse_args(argc, argv, &a);
        if (r != 0) {
                free(a.nonce);
                return r < 0 ? EXIT_OK : r;
        }

        ret = cli_read_input(a.ak_path, MAX_EVIDENCE_SIZE, &ak_buf, &ak_size);
        if (ret == EXIT_OK)
                ret = cli_read_input(a.quote_path, MAX_EVIDENCE_SIZE, &quote_buf, &quote_size);
        if (ret == EXIT_OK)
                ret = cli_read_input(a.sig_path, MAX_EVIDENCE_SIZE, &sig_buf, &sig_size);
        if (ret == EXIT_OK && a.pcrs_path)
                ret = cli_read_input(a.pcrs_path, MAX_PCRS_SIZE, &pcrs_buf, &pcrs_size);
        if (ret != EXIT_OK)
                goto out;

        r = tpmkey_load(ak_buf, ak_size, &pkey, &info, &err);
        if (r < 0) {
                ret = cli_fail(a.ak_path, &err, r);
                goto out;
        }
        r = tpm_attest_parse(quote_buf, quote_size, at, &err);
        if (r < 0) {
                ret = cli_fail(a.quote_path, &err, r);
                goto out;
        }
        /* A raw signature does not name its hash: the AK's fixed scheme does, else the
         * pcrDigest size tells which hash the TPM signed with. */
        raw_hash = a.sig_hash;
        if (!raw_hash && info.has_tpm_public && info.scheme != TPM_ALG_NULL &&
            hash_alg_by_tpm_id(info.scheme_hash))
                raw_hash = info.scheme_hash;
        if (!raw_hash)
                raw_hash = tpm_attest_guess_hash(at);
        r = tpm_signature_load(sig_buf, sig_size, a.sig_format, pkey, a.sig_scheme, raw_hash, sig, &err);
        if (r < 0) {
                ret = cli_fail(a.sig_path, &err, r);
                goto out;
        }
        if (a.pcrs_path) {
                if (at->type != TPM_ST_ATTEST_QUOTE) {
                        fprintf(stderr,
                                "cvm-agent: %s: attestation type %s carries no PCR digest; --pcrs does not "
                                "apply\n",
                                a.quote_path, tpm_attest_type_name(at->type));
                        ret = EXIT_EVIDENCE;
                        goto out;
                }
                r = tpm_pcr_values_parse(pcrs_buf, pcrs_size, &pcrs, &err);
                if (r < 0) {
                        ret = cli_fail(a.pcrs_path, &err, r);
                        goto out;
                }
        }

        r = tpm_quote_verify_signature(quote_buf, quote_size, sig, pkey, &res->signature_reason);
        if (r < 0) {
                ret = cli_fail(a.sig_path, &res->signature_reason, r);
                goto out;
        }
        res->signature = check_result(r);

        /* TPM2_Quote digests the PCRs with the signing scheme's hash (see tpmquote.h). */
        res->pcr_hash = sig->hash_alg;
        if (pcrs) {
                r = tpm_quote_check_pcrs(at, res->pcr_hash, pcrs, &res->pcr, &res->pcr_reason);
                if (r < 0) {
                        ret = cli_fail(a.pcrs_path, &res->pcr_reason, r);
                        goto out;
                }
                res->pcr_digest = check_result(r);
        }
        if (a.have_nonce)
                res->nonce =
                        check_result(tpm_quote_check_nonce(at, a.nonce, a.nonce_size, &res->nonce_reason));

        if (a.json) {
                ret = print_json(&a, quote_size, at, sig, pkey, &info, res);
                if (ret != EXIT_OK)
                        goto out;
        } else
                print_text(&a, quote_size, at, sig, pkey, &info, res);
        ret = res->signature == TPM_CHECK_INVALID || res->pcr_digest == TPM_CHECK_INVALID ||
                              res->nonce == TPM_CHECK_INVALID
                      ? EXIT_VERIFY_FAILED
                      : EXIT_OK;
out:
        free(a.nonce);
        return ret;
}
