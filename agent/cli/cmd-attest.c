/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent attest: run the configured attestation backend once (Azure MAA or Trustee KBS),
 * print the verified token claims, and optionally release keys with that attestation, printing
 * only their size and SHA-256 fingerprint — never the key.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "backend.h"
#include "canonjson.h"
#include "cleanup.h"
#include "cli.h"
#include "util.h"

#define MAX_CONFIG   (64u * 1024u)
#define MAX_RELEASES 16

struct options {
        bool json;
        const char *config_file;
        json_object *flags; /* config members given as options */
        struct backend_settings settings;
        const char *releases[MAX_RELEASES];
        size_t n_releases;
        bool release_default;
};

static void help(void)
{
        printf("Usage: cvm-agent [--tcti SPEC] attest [OPTIONS]\n"
               "\n"
               "Attest this VM once with the configured verifier and print the verified token claims.\n"
               "With --release, also release keys with that attestation and print their size and\n"
               "SHA-256 fingerprint (never the key itself).\n"
               "\n"
               "Backend selection (a JSON object as in the LUKS2 token, or the same as options):\n"
               "  --config-json FILE  {\"type\":\"azure\"|\"trustee\", ...}; options below override "
               "members\n"
               "  --maa URL           Azure: MAA instance, e.g. https://sharedeus2.eus2.attest.azure.net\n"
               "  --vault-key URL     Azure: https://<vault>/keys/<name>[/<version>]\n"
               "  --enc ALG           Azure: RSA_AES_KEY_WRAP_256 (default) or CKM_RSA_AES_KEY_WRAP\n"
               "  --imds URL          Azure IMDS (default http://169.254.169.254)\n"
               "  --kv-root FILE      trusted roots (PEM) for the Key Vault release signature\n"
               "  --hcl-refresh       Azure: request a fresh HCL report bound to the nonce first\n"
               "  --kbs URL           Trustee: KBS base URL\n"
               "  --resource PATH     Trustee: repo/type/tag\n"
               "  --evidence TYPE     Trustee: az-snp-vtpm (default) or snp\n"
               "  --tee-key TYPE      Trustee: ec (default, P-256) or rsa\n"
               "  --tsm-dir DIR       Trustee snp: configfs-tsm report directory\n"
               "  --vcek FILE         Trustee az-snp-vtpm: VCEK (PEM/DER) instead of IMDS THIM\n"
               "\n"
               "Other options:\n"
               "  --ca FILE           TLS trust anchors (default: the system store)\n"
               "  --eventlog FILE     TCG event log (default: securityfs)\n"
               "  --deadline SECONDS  one deadline for attestation and releases (default 60)\n"
               "  --release[=REF]     release the configured key (or REF: a vault key URL or a resource\n"
               "                      path); repeatable\n"
               "  --json              print JSON\n"
               "  -h, --help          this help\n"
               "\n"
               "Exit status: 0 ok, 2 usage or configuration, 4 a reply failed a check, 5 I/O error,\n"
               "6 TPM error, 7 the verifier or key broker refused, 8 unreachable or out of time.\n"
               "See cvm-agent-attest(1).\n");
}

static int set_flag(struct options *o, const char *name, json_object *v)
{
        if (!v || json_object_object_add(o->flags, name, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int parse_options(int argc, char *argv[], struct options *o)
{
        enum {
                OPT_CONFIG = 0x100,
                OPT_MAA,
                OPT_VAULT_KEY,
                OPT_ENC,
                OPT_IMDS,
                OPT_KV_ROOT,
                OPT_KBS,
                OPT_RESOURCE,
                OPT_EVIDENCE,
                OPT_TEE_KEY,
                OPT_TSM_DIR,
                OPT_VCEK,
                OPT_HCL_REFRESH,
                OPT_CA,
                OPT_EVENTLOG,
                OPT_DEADLINE,
                OPT_RELEASE,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"config-json", required_argument, NULL, OPT_CONFIG},
                {"maa", required_argument, NULL, OPT_MAA},
                {"vault-key", required_argument, NULL, OPT_VAULT_KEY},
                {"enc", required_argument, NULL, OPT_ENC},
                {"imds", required_argument, NULL, OPT_IMDS},
                {"kv-root", required_argument, NULL, OPT_KV_ROOT},
                {"hcl-refresh", no_argument, NULL, OPT_HCL_REFRESH},
                {"kbs", required_argument, NULL, OPT_KBS},
                {"resource", required_argument, NULL, OPT_RESOURCE},
                {"evidence", required_argument, NULL, OPT_EVIDENCE},
                {"tee-key", required_argument, NULL, OPT_TEE_KEY},
                {"tsm-dir", required_argument, NULL, OPT_TSM_DIR},
                {"vcek", required_argument, NULL, OPT_VCEK},
                {"ca", required_argument, NULL, OPT_CA},
                {"eventlog", required_argument, NULL, OPT_EVENTLOG},
                {"deadline", required_argument, NULL, OPT_DEADLINE},
                {"release", optional_argument, NULL, OPT_RELEASE},
                {},
        };
        static const char *const members[] = {
                [OPT_MAA - OPT_MAA] = "maa",           [OPT_VAULT_KEY - OPT_MAA] = "vault_key",
                [OPT_ENC - OPT_MAA] = "enc",           [OPT_IMDS - OPT_MAA] = "imds",
                [OPT_KV_ROOT - OPT_MAA] = "kv_root",   [OPT_KBS - OPT_MAA] = "kbs",
                [OPT_RESOURCE - OPT_MAA] = "resource", [OPT_EVIDENCE - OPT_MAA] = "evidence",
                [OPT_TEE_KEY - OPT_MAA] = "tee_key",   [OPT_TSM_DIR - OPT_MAA] = "tsm_dir",
                [OPT_VCEK - OPT_MAA] = "vcek",
        };
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case 'j':
                        o->json = true;
                        break;
                case OPT_CONFIG:
                        o->config_file = optarg;
                        break;
                case OPT_HCL_REFRESH:
                        if (set_flag(o, "hcl_refresh", json_object_new_boolean(1)) < 0)
                                return EXIT_INTERNAL;
                        break;
                case OPT_MAA ... OPT_VCEK:
                        if (set_flag(o, members[c - OPT_MAA], json_object_new_string(optarg)) < 0)
                                return EXIT_INTERNAL;
                        break;
                case OPT_CA:
                        o->settings.ca_file = optarg;
                        break;
                case OPT_EVENTLOG:
                        o->settings.eventlog = optarg;
                        break;
                case OPT_DEADLINE: {
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno != 0 || *end || end == optarg || v == 0 || v > 3600)
                                return cli_usage_error("attest", "invalid --deadline '%s' (1-3600 seconds)",
                                                       optarg);
                        o->settings.deadline_ms = (unsigned)v * 1000u;
                        break;
                }
                case OPT_RELEASE:
                        if (!optarg) {
                                o->release_default = true;
                                break;
                        }
                        if (o->n_releases >= MAX_RELEASES)
                                return cli_usage_error("attest", "at most %d --release options",
                                                       MAX_RELEASES);
                        o->releases[o->n_releases++] = optarg;
                        break;
                default:
                        return cli_usage_error("attest", "unknown option");
                }
        }
        if (optind < argc)
                return cli_usage_error("attest", "unexpected argument '%s'", argv[optind]);
        return 0;
}

/* The backend configuration: --config-json FILE, overridden by options; type inferred. */
static int load_config(struct options *o, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *cfg = NULL;
        struct cvm_error e = {};
        int r;

        if (o->config_file) {
                _cleanup_free_ uint8_t *text = NULL;
                size_t n;

                r = cli_read_input(o->config_file, MAX_CONFIG, &text, &n);
                if (r != EXIT_OK)
                        return r;
                r = canonjson_parse((const char *)text, n, "configuration", &cfg, &e);
                if (r < 0 || !json_object_is_type(cfg, json_type_object)) {
                        fprintf(stderr, "cvm-agent: %s: %s\n", o->config_file,
                                r < 0 ? e.message : "configuration is not a JSON object");
                        return EXIT_USAGE;
                }
        } else {
                cfg = json_object_new_object();
                if (!cfg)
                        return EXIT_INTERNAL;
        }
        json_object_object_foreach (o->flags, k, v) {
                if (json_object_object_add(cfg, k, json_object_get(v)) < 0)
                        return EXIT_INTERNAL;
        }
        if (!json_object_object_get_ex(cfg, "type", NULL)) {
                const char *t = json_object_object_get_ex(cfg, "kbs", NULL)   ? "trustee"
                                : json_object_object_get_ex(cfg, "maa", NULL) ? "azure"
                                                                              : NULL;
                if (!t)
                        return cli_usage_error("attest", "no backend: give --config-json, --maa or --kbs");
                if (json_object_object_add(cfg, "type", json_object_new_string(t)) < 0)
                        return EXIT_INTERNAL;
        }
        *ret = TAKE_PTR(cfg);
        return EXIT_OK;
}

static int exit_for_failure(enum backend_failure f, int r)
{
        int code;

        if (f == BACKEND_FAIL_CONFIG)
                return EXIT_USAGE; /* our own options or --config-json */
        code = cli_exit_for_backend_failure(f);
        if (code >= 0)
                return code;
        return r == -ENOMEM ? EXIT_INTERNAL : cli_exit_for_errno(r);
}

static int release_one(struct backend *b, const char *ref, json_object *out, struct cvm_error *err)
{
        _cleanup_(secret_buf_done) struct secret_buf key = {};
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        uint8_t md[32];
        char hex[65];
        int r;

        if (!o)
                return -ENOMEM;
        r = backend_release(b, ref, &key, err);
        if (r < 0)
                return r;
        if (EVP_Digest(key.data, key.size, md, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;
        hex_encode_to(hex, md, sizeof(md));
        if (json_object_object_add(o, "key_ref",
                                   ref ? json_object_new_string(ref) : json_object_new_null()) < 0 ||
            json_object_object_add(o, "size", json_object_new_int64((int64_t)key.size)) < 0 ||
            json_object_object_add(o, "sha256", json_object_new_string(hex)) < 0 ||
            json_object_array_add(out, TAKE_PTR(o)) < 0)
                return -ENOMEM;
        return 0;
}

static const char *claim_string(json_object *claims, const char *a, const char *b)
{
        json_object *v;

        if (!json_object_object_get_ex(claims, a, &v))
                return NULL;
        if (b && !json_object_object_get_ex(v, b, &v))
                return NULL;
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/*
 * Whether the token's own signature was checked: always for Azure (MAA /certs), for Trustee only
 * when the configuration pins the attestation service's key (token_cert or token_jwks); otherwise
 * the claims are as received over the verified TLS session.
 */
static const char *token_signature_state(struct backend *b, json_object *cfg)
{
        if (strcmp(backend_type(b), "trustee") != 0)
                return "valid";
        if (json_object_object_get_ex(cfg, "token_cert", NULL) ||
            json_object_object_get_ex(cfg, "token_jwks", NULL))
                return "valid";
        return "unchecked";
}

static void print_text(struct backend *b, const char *token_signature, json_object *claims,
                       json_object *releases)
{
        const char *s;

        printf("Backend:           %s\n", backend_type(b));
        if (strcmp(token_signature, "valid") == 0)
                printf("Result:            attested, token verified\n");
        else
                printf("Result:            attested; token signature unchecked (no token_cert/token_jwks "
                       "configured)\n");
        if ((s = claim_string(claims, "iss", NULL)))
                printf("Issuer:            %s\n", s);
        if ((s = claim_string(claims, "x-ms-isolation-tee", "x-ms-attestation-type")))
                printf("TEE:               %s\n", s);
        if ((s = claim_string(claims, "x-ms-isolation-tee", "x-ms-compliance-status")))
                printf("Compliance:        %s\n", s);
        if ((s = claim_string(claims, "tee", NULL)))
                printf("TEE:               %s\n", s);
        for (size_t i = 0; i < json_object_array_length(releases); i++) {
                json_object *r = json_object_array_get_idx(releases, i);

                printf("Released key:      %s: %s bytes, SHA-256 %s\n",
                       claim_string(r, "key_ref", NULL) ? claim_string(r, "key_ref", NULL) : "(configured)",
                       json_object_get_string(json_object_object_get(r, "size")),
                       json_object_get_string(json_object_object_get(r, "sha256")));
        }
}

int cmd_attest(int argc, char *argv[])
{
        _cleanup_(json_object_putp) json_object *cfg = NULL, *out = NULL,
                                                *releases = json_object_new_array();
        _cleanup_(backend_freep) struct backend *b = NULL;
        struct options o = {.flags = json_object_new_object()};
        struct cvm_error e = {};
        json_object *claims;
        const char *token_signature;
        int r;

        if (!o.flags || !releases) {
                json_object_put(o.flags);
                return EXIT_INTERNAL;
        }
        r = parse_options(argc, argv, &o);
        if (r == 0)
                r = load_config(&o, &cfg);
        json_object_put(o.flags);
        o.flags = NULL;
        if (r < 0)
                return EXIT_OK; /* --help */
        if (r != EXIT_OK)
                return r;
        r = cli_tcti(&o.settings.tcti);
        if (r != EXIT_OK)
                return r;

        r = backend_new(cfg, &o.settings, &b, &e);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: attest: %s\n", cvm_error_message(&e, r));
                return r == -ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
        }
        r = backend_attest(b, &e);
        if (r >= 0 && o.release_default)
                r = release_one(b, NULL, releases, &e);
        for (size_t i = 0; r >= 0 && i < o.n_releases; i++)
                r = release_one(b, o.releases[i], releases, &e);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: attest: %s\n", cvm_error_message(&e, r));
                return exit_for_failure(backend_failure(b), r);
        }
        claims = backend_claims(b);
        token_signature = token_signature_state(b, cfg);
        if (!o.json) {
                print_text(b, token_signature, claims, releases);
                return EXIT_OK;
        }
        out = json_object_new_object();
        if (!out || json_object_object_add(out, "backend", json_object_new_string(backend_type(b))) < 0 ||
            json_object_object_add(out, "verified", json_object_new_boolean(1)) < 0 ||
            json_object_object_add(out, "token_signature", json_object_new_string(token_signature)) < 0 ||
            json_object_object_add(out, "claims", json_object_get(claims)) < 0 ||
            json_object_object_add(out, "releases", TAKE_PTR(releases)) < 0)
                return EXIT_INTERNAL;
        return cli_print_json(out);
}
