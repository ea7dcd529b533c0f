/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent enroll: add a keyslot for a new random secret and a `cvm-agent` token holding the
 * secret wrapped for the backend's key, plus the backend configuration the initramfs needs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "cli.h"
#include "luks-cli.h"
#include "luks.h"
#include "luksb64.h"
#include "util.h"

#define MAX_CA_SIZE LUKSTOKEN_CA_MAX

struct enroll_args {
        const char *device;
        const char *key_file;
        const char *backend;
        const char *maa_url, *key_id, *wrapping_key, *enc;
        const char *kbs_url, *resource_path, *kbs_ca, *resource_key;
        bool print_resource;
        bool replace;
        bool json;
};

static void help(void)
{
        printf("Usage: cvm-agent enroll [OPTIONS] DEVICE --backend azure|trustee ...\n"
               "\n"
               "Add a keyslot for a new random 256-bit secret to the LUKS2 volume DEVICE and a\n"
               "cvm-agent token that holds the secret wrapped for the key broker's key, bound to\n"
               "this volume's header. Existing keyslots and tokens are left alone.\n"
               "\n"
               "Options:\n"
               "  --backend azure|trustee   key broker (required)\n"
               "  --unlock-key-file FILE    an existing passphrase (exact file bytes; - for stdin);\n"
               "                            default: prompt on the terminal\n"
               "  --replace                 replace an existing cvm-agent enrollment\n"
               "  --json                    print the result as JSON\n"
               "  -h, --help                show this help\n"
               "\n"
               "Azure (Key Vault / Managed HSM secure key release):\n"
               "  --maa-url URL             attestation instance, https://...\n"
               "  --key-id URL              https://VAULT/keys/NAME[/VERSION]\n"
               "  --wrapping-key FILE       the key's public part: PEM, DER or JWK (RSA), or a\n"
               "                            32-byte / JWK oct key for oct-HSM keys\n"
               "  --enc ALG                 release wrapping: RSA_AES_KEY_WRAP_256 (default),\n"
               "                            RSA_AES_KEY_WRAP_384 or CKM_RSA_AES_KEY_WRAP\n"
               "Trustee (KBS resource as the wrapping key):\n"
               "  --kbs-url URL             https://...\n"
               "  --resource-path PATH      REPO/TYPE/TAG of the resource\n"
               "  --kbs-ca FILE             PEM certificate(s) to trust for the KBS\n"
               "  --resource-key FILE       use this existing 32-byte resource\n"
               "  --print-resource          generate a new resource and print it (base64) on\n"
               "                            stdout, to be provisioned in the KBS once\n"
               "\n"
               "Exit status: 0 enrolled, 2 usage (also: already enrolled without --replace),\n"
               "3 unusable key or CA file, 4 the passphrase opens no keyslot, 5 I/O error,\n"
               "10 the header is outside cvm-agent's allowlist.\n");
}

static int parse_args(int argc, char *argv[], struct enroll_args *a)
{
        enum {
                OPT_BACKEND = 0x100,
                OPT_KEY_FILE,
                OPT_MAA_URL,
                OPT_KEY_ID,
                OPT_WRAPPING_KEY,
                OPT_ENC,
                OPT_KBS_URL,
                OPT_RESOURCE_PATH,
                OPT_KBS_CA,
                OPT_RESOURCE_KEY,
                OPT_PRINT_RESOURCE,
                OPT_REPLACE,
                OPT_JSON,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"backend", required_argument, NULL, OPT_BACKEND},
                {"unlock-key-file", required_argument, NULL, OPT_KEY_FILE},
                {"maa-url", required_argument, NULL, OPT_MAA_URL},
                {"key-id", required_argument, NULL, OPT_KEY_ID},
                {"wrapping-key", required_argument, NULL, OPT_WRAPPING_KEY},
                {"enc", required_argument, NULL, OPT_ENC},
                {"kbs-url", required_argument, NULL, OPT_KBS_URL},
                {"resource-path", required_argument, NULL, OPT_RESOURCE_PATH},
                {"kbs-ca", required_argument, NULL, OPT_KBS_CA},
                {"resource-key", required_argument, NULL, OPT_RESOURCE_KEY},
                {"print-resource", no_argument, NULL, OPT_PRINT_RESOURCE},
                {"replace", no_argument, NULL, OPT_REPLACE},
                {"json", no_argument, NULL, OPT_JSON},
                {},
        };
        struct cvm_error err = {};
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case OPT_BACKEND:
                        a->backend = optarg;
                        break;
                case OPT_KEY_FILE:
                        a->key_file = optarg;
                        break;
                case OPT_MAA_URL:
                        a->maa_url = optarg;
                        break;
                case OPT_KEY_ID:
                        a->key_id = optarg;
                        break;
                case OPT_WRAPPING_KEY:
                        a->wrapping_key = optarg;
                        break;
                case OPT_ENC:
                        a->enc = optarg;
                        break;
                case OPT_KBS_URL:
                        a->kbs_url = optarg;
                        break;
                case OPT_RESOURCE_PATH:
                        a->resource_path = optarg;
                        break;
                case OPT_KBS_CA:
                        a->kbs_ca = optarg;
                        break;
                case OPT_RESOURCE_KEY:
                        a->resource_key = optarg;
                        break;
                case OPT_PRINT_RESOURCE:
                        a->print_resource = true;
                        break;
                case OPT_REPLACE:
                        a->replace = true;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                default:
                        return cli_usage_error("enroll", "unknown option");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("enroll", "expected one argument, DEVICE");
        a->device = argv[optind];
        if (!a->backend)
                return cli_usage_error("enroll", "--backend azure|trustee is required");
        if (strcmp(a->backend, "azure") == 0) {
                if (a->kbs_url || a->resource_path || a->kbs_ca || a->resource_key || a->print_resource)
                        return cli_usage_error("enroll", "Trustee options given with --backend azure");
                if (!a->maa_url || !a->key_id || !a->wrapping_key)
                        return cli_usage_error(
                                "enroll", "--backend azure needs --maa-url, --key-id and --wrapping-key");
                if (!a->enc)
                        a->enc = "RSA_AES_KEY_WRAP_256";
                if (lukstoken_check_https_url(a->maa_url, "--maa-url", &err) < 0 ||
                    lukstoken_check_key_id(a->key_id, "--key-id", &err) < 0 ||
                    lukstoken_check_enc(a->enc, "--enc", &err) < 0)
                        return cli_usage_error("enroll", "%s", err.message);
        } else if (strcmp(a->backend, "trustee") == 0) {
                if (a->maa_url || a->key_id || a->wrapping_key || a->enc)
                        return cli_usage_error("enroll", "Azure options given with --backend trustee");
                if (!a->kbs_url || !a->resource_path)
                        return cli_usage_error("enroll",
                                               "--backend trustee needs --kbs-url and --resource-path");
                if (!!a->resource_key == a->print_resource)
                        return cli_usage_error(
                                "enroll", "give exactly one of --resource-key FILE and --print-resource");
                if (lukstoken_check_https_url(a->kbs_url, "--kbs-url", &err) < 0 ||
                    lukstoken_check_resource_path(a->resource_path, "--resource-path", &err) < 0)
                        return cli_usage_error("enroll", "%s", err.message);
        } else
                return cli_usage_error("enroll", "--backend: '%s' is not azure or trustee", a->backend);
        return 0;
}

static int load_key_file(const char *path, struct lukswrap_key *key)
{
        struct cvm_error err = {};
        uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_file(path, LUKSWRAP_MAX_INPUT, &data, &size, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        r = lukswrap_load_key(data, size, key, &err);
        erase_and_free(data, size);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: %s: %s\n", path, cvm_error_message(&err, r));
                return r == -ENOMEM ? EXIT_INTERNAL : EXIT_EVIDENCE;
        }
        return EXIT_OK;
}

static int print_result(const struct enroll_args *a, const struct luks_enroll_result *res,
                        const char *resource)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        bool ok = true;

        if (!a->json) {
                /* With --print-resource, stdout carries the resource alone (for piping). */
                FILE *f = resource ? stderr : stdout;

                fprintf(f, "Enrolled %s: token %d, keyslot %d, backend %s", a->device, res->token,
                        res->keyslot, a->backend);
                if (res->replaced)
                        fprintf(f, "; replaced %u earlier enrollment%s", res->replaced,
                                res->replaced > 1 ? "s" : "");
                if (res->recovered)
                        fprintf(f, "; cleaned up %u interrupted run%s", res->recovered,
                                res->recovered > 1 ? "s" : "");
                fprintf(f, "\n");
                if (resource) {
                        printf("%s\n", resource);
                        fprintf(stderr,
                                "Provision the line above (base64 of the 32-byte resource) as KBS resource "
                                "%s "
                                "before the first unlock.\n",
                                a->resource_path);
                }
                return EXIT_OK;
        }
        o = json_object_new_object();
        if (!o)
                return EXIT_INTERNAL;
        ok = json_object_object_add(o, "device", json_object_new_string(a->device)) == 0 &&
             json_object_object_add(o, "backend", json_object_new_string(a->backend)) == 0 &&
             json_object_object_add(o, "token", json_object_new_int(res->token)) == 0 &&
             json_object_object_add(o, "keyslot", json_object_new_int(res->keyslot)) == 0 &&
             json_object_object_add(o, "replaced", json_object_new_int((int)res->replaced)) == 0 &&
             json_object_object_add(o, "recovered", json_object_new_int((int)res->recovered)) == 0 &&
             (!resource || json_object_object_add(o, "resource", json_object_new_string(resource)) == 0);
        if (!ok)
                return EXIT_INTERNAL;
        return cli_print_json(o);
}

int cmd_enroll(int argc, char *argv[])
{
        struct enroll_args a = {};
        struct lukstoken cfg = {};
        struct lukswrap_key key = {};
        struct luks_enroll_result res = {};
        struct cvm_error err = {};
        _cleanup_free_ char *resource = NULL;
        uint8_t *ca = NULL;
        size_t ca_size = 0;
        char *pass = NULL;
        size_t pass_size = 0;
        int r, ret;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;

        if (strcmp(a.backend, "azure") == 0) {
                cfg = (struct lukstoken){.backend = LUKSTOKEN_BACKEND_AZURE,
                                         .maa_url = (char *)a.maa_url,
                                         .key_id = (char *)a.key_id,
                                         .enc = (char *)a.enc};
                ret = load_key_file(a.wrapping_key, &key);
                if (ret != EXIT_OK)
                        return ret;
        } else {
                cfg = (struct lukstoken){.backend = LUKSTOKEN_BACKEND_TRUSTEE,
                                         .kbs_url = (char *)a.kbs_url,
                                         .resource_path = (char *)a.resource_path};
                if (a.kbs_ca) {
                        r = read_file(a.kbs_ca, MAX_CA_SIZE, &ca, &ca_size, &err);
                        if (r < 0)
                                return cli_fail(a.kbs_ca, &err, r);
                        cfg.kbs_ca = (char *)ca;
                        if (strlen(cfg.kbs_ca) != ca_size) {
                                free(ca);
                                fprintf(stderr, "cvm-agent: %s: not PEM text\n", a.kbs_ca);
                                return EXIT_EVIDENCE;
                        }
                }
                if (a.resource_key) {
                        ret = load_key_file(a.resource_key, &key);
                        if (ret == EXIT_OK && key.alg != LUKSTOKEN_WRAP_A256GCM) {
                                fprintf(stderr,
                                        "cvm-agent: %s: a Trustee resource key must be 32 raw bytes\n",
                                        a.resource_key);
                                ret = EXIT_EVIDENCE;
                        }
                } else {
                        key.alg = LUKSTOKEN_WRAP_A256GCM;
                        ret = RAND_bytes(key.sym, sizeof(key.sym)) == 1 ? EXIT_OK : EXIT_INTERNAL;
                        if (ret == EXIT_OK && !(resource = luksb64_encode(key.sym, sizeof(key.sym))))
                                ret = EXIT_INTERNAL;
                }
                if (ret != EXIT_OK) {
                        free(ca);
                        lukswrap_key_done(&key);
                        return ret;
                }
        }

        ret = luks_cli_read_passphrase("enroll", a.key_file, &pass, &pass_size);
        if (ret == EXIT_OK) {
                struct luks_enroll_params p = {
                        .device = a.device,
                        .passphrase = pass,
                        .passphrase_size = pass_size,
                        .config = &cfg,
                        .key = &key,
                        .replace = a.replace,
                };

                r = luks_enroll(&p, &res, &err);
                erase_and_free(pass, pass_size);
                if (r < 0)
                        ret = luks_cli_fail(a.device, &err, r);
                else
                        ret = print_result(&a, &res, resource);
        }
        lukswrap_key_done(&key);
        free(ca);
        if (resource)
                OPENSSL_cleanse(resource, strlen(resource));
        return ret;
}
