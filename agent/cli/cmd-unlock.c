/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent unlock: for each volume, copy and validate the LUKS2 header (luks.h), attest once
 * per verifier, release the key, unwrap the keyslot secret (unlock.h), and open the keyslot from
 * the validated copy — activating it, or only verifying it with --test. A refusal at any stage
 * is reported with the stage and reason and a distinct exit code, so the boot integration can
 * fall back to the passphrase prompt.
 *
 * Not yet wired (needs the TPM adapter): extending PCR 15 with the volume identity after an
 * unlock and the local guard refusing release when PCR 15 left its initial state; the JSON
 * reports "measured": false until then.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "unlock-backend.h"
#include "cleanup.h"
#include "cli.h"
#include "luks-cli.h"
#include "luks.h"
#include "unlock.h"
#include "util.h"

#define DEFAULT_DEADLINE_S 60u
#define MAX_CRYPTTAB       (1u << 20)
#define MAX_VOLUMES        64

struct unlock_args {
        bool test, all, json;
        const char *device, *name;
        const char *crypttab;
        const char *released_key;
        unsigned deadline_s;
        int token;
};

struct volume_result {
        char *device, *name;
        char uuid[LUKS2HDR_UUID_LEN + 1];
        int token, keyslot;
        const char *backend;
        const char *stage; /* NULL on success */
        char reason[CVM_ERROR_MAX];
        int exit;
        bool skipped;
};

static void help(void)
{
        printf("Usage: cvm-agent unlock [OPTIONS] DEVICE NAME\n"
               "       cvm-agent unlock [OPTIONS] --test DEVICE [NAME]\n"
               "       cvm-agent unlock [OPTIONS] --all\n"
               "\n"
               "Open a LUKS2 volume enrolled with cvm-agent: validate a private copy of its header,\n"
               "attest (once for all volumes of a verifier), obtain the released key, unwrap the\n"
               "keyslot secret and activate DEVICE as /dev/mapper/NAME from the validated copy.\n"
               "\n"
               "Options:\n"
               "  --test               verify the secret against the keyslot only (no device-mapper)\n"
               "  --all                every volume of the crypttab that carries a cvm-agent token\n"
               "  --crypttab FILE      crypttab for --all (default %s/crypttab)\n"
               "  --token N            use cvm-agent token N (default: each enrolled one in turn)\n"
               "  --deadline SECONDS   overall time limit, retries included (default %u)\n"
               "  --released-key FILE  skip attestation: use this key material (the RSA private key or\n"
               "                       32-byte key the broker would release) - recovery and tests\n"
               "  --json               print the result as JSON\n"
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: 0 every volume opened (or verified), 2 usage, 4 the released key or\n"
               "secret does not open the volume, 5 I/O error, 7 verifier refused or no backend,\n"
               "8 unreachable or deadline expired, 9 refused locally (rescue/emergency boot),\n"
               "10 header rejected. With --all, the code of the first failing volume.\n",
               CVM_AGENT_SYSCONFDIR, DEFAULT_DEADLINE_S);
}

static int parse_args(int argc, char *argv[], struct unlock_args *a)
{
        enum {
                OPT_TEST = 0x100,
                OPT_ALL,
                OPT_CRYPTTAB,
                OPT_TOKEN,
                OPT_DEADLINE,
                OPT_RELEASED_KEY,
                OPT_JSON
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"test", no_argument, NULL, OPT_TEST},
                {"all", no_argument, NULL, OPT_ALL},
                {"crypttab", required_argument, NULL, OPT_CRYPTTAB},
                {"token", required_argument, NULL, OPT_TOKEN},
                {"deadline", required_argument, NULL, OPT_DEADLINE},
                {"released-key", required_argument, NULL, OPT_RELEASED_KEY},
                {"json", no_argument, NULL, OPT_JSON},
                {},
        };
        char *end;
        long v;
        int c;

        a->deadline_s = DEFAULT_DEADLINE_S;
        a->token = -1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case OPT_TEST:
                        a->test = true;
                        break;
                case OPT_ALL:
                        a->all = true;
                        break;
                case OPT_CRYPTTAB:
                        a->crypttab = optarg;
                        break;
                case OPT_TOKEN:
                        errno = 0;
                        v = strtol(optarg, &end, 10);
                        if (errno || !*optarg || *end || v < 0 || v > 31)
                                return cli_usage_error("unlock", "--token: '%s' is not a token number 0..31",
                                                       optarg);
                        a->token = (int)v;
                        break;
                case OPT_DEADLINE:
                        errno = 0;
                        v = strtol(optarg, &end, 10);
                        if (errno || !*optarg || *end || v <= 0 || v > 3600)
                                return cli_usage_error("unlock", "--deadline: '%s' is not 1..3600 seconds",
                                                       optarg);
                        a->deadline_s = (unsigned)v;
                        break;
                case OPT_RELEASED_KEY:
                        a->released_key = optarg;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                default:
                        return cli_usage_error("unlock", "unknown option");
                }
        }
        if (a->all) {
                if (optind != argc)
                        return cli_usage_error("unlock", "--all takes no DEVICE");
                if (a->token >= 0)
                        return cli_usage_error("unlock", "--token applies to one DEVICE");
                return 0;
        }
        if (a->crypttab)
                return cli_usage_error("unlock", "--crypttab applies to --all");
        if (argc - optind == 2 || (a->test && argc - optind == 1)) {
                a->device = argv[optind];
                a->name = argc - optind == 2 ? argv[optind + 1] : NULL;
                return 0;
        }
        return cli_usage_error("unlock", a->test ? "expected DEVICE [NAME]" : "expected DEVICE and NAME");
}

/* ---- released-key pseudo backend ------------------------------------------------------------- */

/* Serves the key material from a file, for every backend name: no attestation takes place. */
static int file_attest(void *userdata, const struct lukstoken *cfg, uint64_t deadline_usec,
                       struct backend_session **ret, struct cvm_error *err)
{
        (void)userdata;
        (void)cfg;
        (void)deadline_usec;
        (void)err;
        *ret = NULL;
        return 0;
}

static int file_release(void *userdata, struct backend_session *s, const struct lukstoken *cfg,
                        uint64_t deadline_usec, struct secret_buf *ret, enum lukswrap_material *ret_kind,
                        struct cvm_error *err)
{
        const char *path = userdata;
        uint8_t *data = NULL;
        size_t size = 0;
        int r;

        (void)s;
        (void)cfg;
        (void)deadline_usec;
        r = read_file(path, LUKSWRAP_MAX_INPUT, &data, &size, err);
        if (r < 0)
                return r;
        ret->data = data;
        ret->size = size;
        *ret_kind = size == LUKSWRAP_SYM_SIZE ? LUKSWRAP_MATERIAL_SYMMETRIC : LUKSWRAP_MATERIAL_RSA_PRIVATE;
        return 0;
}

static const struct backend_ops file_azure = {
        .name = "azure", .attest = file_attest, .release = file_release};
static const struct backend_ops file_trustee = {
        .name = "trustee", .attest = file_attest, .release = file_release};
static const struct backend_ops *const file_backends[] = {&file_azure, &file_trustee, NULL};

/* ---- local guards ------------------------------------------------------------------------------ */

/* Rescue and emergency boots never release keys automatically. */
static bool rescue_boot(char *why, size_t n)
{
        static const char *const words[] = {"rescue",
                                            "emergency",
                                            "single",
                                            "s",
                                            "S",
                                            "1",
                                            "-b",
                                            "rd.emergency",
                                            "rd.rescue",
                                            "systemd.unit=rescue.target",
                                            "systemd.unit=emergency.target",
                                            "rd.systemd.unit=rescue.target",
                                            "rd.systemd.unit=emergency.target"};
        const char *path = getenv("CVM_AGENT_PROC_CMDLINE"); /* test override */
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        char *save = NULL;

        if (read_file(path ? path : "/proc/cmdline", 1u << 16, &buf, &size, NULL) < 0)
                return false;
        for (char *w = strtok_r((char *)buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
                for (size_t i = 0; i < ELEMENTSOF(words); i++)
                        if (strcmp(w, words[i]) == 0) {
                                snprintf(why, n, "kernel command line has \"%s\"", w);
                                return true;
                        }
        return false;
}

/* ---- one volume -------------------------------------------------------------------------------- */

static int fail_with(struct volume_result *v, const char *stage, int code, const struct cvm_error *err,
                     int r)
{
        v->stage = stage;
        v->exit = code;
        snprintf(v->reason, sizeof(v->reason), "%s", cvm_error_message(err, r));
        return code;
}

static int exit_for_backend(int r)
{
        switch (-r) {
        case ETIMEDOUT:
        case ENETUNREACH:
        case EHOSTUNREACH:
        case ECONNREFUSED:
        case ECONNRESET:
                return EXIT_UNREACHABLE;
        case ENOMEM:
                return EXIT_INTERNAL;
        default:
                return EXIT_VERIFIER_REFUSED;
        }
}

static int unlock_volume(const struct unlock_args *a, struct unlock_ctx *u, struct volume_result *v)
{
        _cleanup_(luks_volume_freep) struct luks_volume *vol = NULL;
        const struct luks2hdr *h;
        struct cvm_error err = {};
        uint8_t secret[LUKSTOKEN_SECRET_SIZE];
        int r, t, first;

        v->token = v->keyslot = -1;
        r = luks_volume_open(v->device, &vol, &err);
        if (r < 0)
                return fail_with(v, "header", luks_cli_exit(r), &err, r);
        h = luks_volume_header(vol);
        snprintf(v->uuid, sizeof(v->uuid), "%s", h->uuid);

        first = a->token >= 0 ? a->token : luks2hdr_next_cvm_token(h, 0);
        if (first < 0 || !h->tokens[first].cvm || h->tokens[first].cvm->pending) {
                if (a->token >= 0)
                        cvm_error_set(&err, -ENOENT, "token %d is not an enrolled cvm-agent token",
                                      a->token);
                else
                        cvm_error_set(&err, -ENOENT, "no enrolled cvm-agent token");
                return fail_with(v, "token", EXIT_HEADER_REJECTED, &err, -ENOENT);
        }
        /* Each enrolled token in turn (or only --token): the first that opens wins. */
        for (t = first; t >= 0; t = a->token >= 0 ? -1 : luks2hdr_next_cvm_token(h, t + 1)) {
                const struct lukstoken *tok = h->tokens[t].cvm;

                v->token = t;
                v->keyslot = tok->keyslot;
                v->backend = lukstoken_backend_name(tok->backend);
                cvm_error_clear(&err);
                r = unlock_acquire_secret(u, h, t, secret, &err);
                if (r < 0) {
                        switch (u->stage) {
                        case UNLOCK_STAGE_UNWRAP:
                                fail_with(v, "unwrap", r == -ENOMEM ? EXIT_INTERNAL : EXIT_VERIFY_FAILED,
                                          &err, r);
                                break;
                        case UNLOCK_STAGE_TOKEN:
                                fail_with(v, "token", EXIT_VERIFIER_REFUSED, &err, r);
                                break;
                        default:
                                fail_with(v, unlock_stage_name(u->stage), exit_for_backend(r), &err, r);
                        }
                        continue;
                }
                r = luks_volume_activate(vol, a->test ? NULL : a->name, tok->keyslot, secret, 0, &err);
                OPENSSL_cleanse(secret, sizeof(secret));
                if (r < 0) {
                        fail_with(v, a->test ? "keyslot" : "activate",
                                  r == -EPERM    ? EXIT_VERIFY_FAILED
                                  : r == -ENOMEM ? EXIT_INTERNAL
                                                 : EXIT_IO,
                                  &err, r);
                        continue;
                }
                v->stage = NULL;
                v->exit = EXIT_OK;
                v->reason[0] = '\0';
                return EXIT_OK;
        }
        return v->exit;
}

/* ---- crypttab -------------------------------------------------------------------------------- */

static char *resolve_device(const char *spec)
{
        static const struct {
                const char *prefix, *dir;
        } tags[] = {
                {"UUID=", "/dev/disk/by-uuid/"},
                {"PARTUUID=", "/dev/disk/by-partuuid/"},
                {"LABEL=", "/dev/disk/by-label/"},
                {"PARTLABEL=", "/dev/disk/by-partlabel/"},
        };
        char *s = NULL;

        for (size_t i = 0; i < ELEMENTSOF(tags); i++)
                if (strncmp(spec, tags[i].prefix, strlen(tags[i].prefix)) == 0)
                        return asprintf(&s, "%s%s", tags[i].dir, spec + strlen(tags[i].prefix)) < 0 ? NULL
                                                                                                    : s;
        return strdup(spec);
}

static bool has_cvm_token(const char *device)
{
        _cleanup_(luks_listing_freep) struct luks_listing *l = NULL;

        if (luks_list(device, &l, NULL) < 0)
                return false;
        for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++)
                if (l->tokens[t].active && strcmp(l->tokens[t].type, LUKSTOKEN_TYPE) == 0)
                        return true;
        return false;
}

static int read_crypttab(const char *path, struct volume_result *vols, size_t *n)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct cvm_error err = {};
        size_t size = 0, lineno = 0;
        char *save = NULL;
        int r;

        r = read_file(path, MAX_CRYPTTAB, &buf, &size, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        for (char *line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[4] = {}, *s2 = NULL;
                int k = 0;

                lineno++;
                for (char *w = strtok_r(line, " \t", &s2); w && k < 4; w = strtok_r(NULL, " \t", &s2))
                        f[k++] = w;
                if (k == 0 || f[0][0] == '#')
                        continue;
                if (k < 2) {
                        fprintf(stderr, "cvm-agent: %s: line %zu: expected NAME DEVICE [KEY [OPTIONS]]\n",
                                path, lineno);
                        return EXIT_EVIDENCE;
                }
                if (f[3] && strstr(f[3], "noauto"))
                        continue;
                if (*n == MAX_VOLUMES) {
                        fprintf(stderr, "cvm-agent: %s: more than %d volumes\n", path, MAX_VOLUMES);
                        return EXIT_EVIDENCE;
                }
                vols[*n] = (struct volume_result){.name = strdup(f[0]), .device = resolve_device(f[1])};
                if (!vols[*n].name || !vols[*n].device)
                        return EXIT_INTERNAL;
                (*n)++;
        }
        return EXIT_OK;
}

/* ---- output ---------------------------------------------------------------------------------- */

static int print_results(const struct unlock_args *a, const struct volume_result *vols, size_t n,
                         const struct unlock_ctx *u)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *arr;

        if (!a->json) {
                for (size_t i = 0; i < n; i++) {
                        const struct volume_result *v = &vols[i];

                        if (v->skipped)
                                continue;
                        if (v->stage)
                                fprintf(stderr, "cvm-agent: %s: %s failed: %s\n", v->device, v->stage,
                                        v->reason);
                        else if (a->test)
                                printf("%s: keyslot %d opens with token %d (%s); verified only\n", v->device,
                                       v->keyslot, v->token, v->backend);
                        else
                                printf("%s: activated as /dev/mapper/%s with token %d (%s)\n", v->device,
                                       v->name, v->token, v->backend);
                }
                return EXIT_OK;
        }
        o = json_object_new_object();
        arr = json_object_new_array();
        if (!o || !arr || json_object_object_add(o, "volumes", arr) < 0) {
                json_object_put(arr);
                return EXIT_INTERNAL;
        }
        for (size_t i = 0; i < n; i++) {
                const struct volume_result *v = &vols[i];
                json_object *e = json_object_new_object();
                bool ok;

                if (!e || json_object_array_add(arr, e) < 0) {
                        json_object_put(e);
                        return EXIT_INTERNAL;
                }
                ok = json_object_object_add(e, "device", json_object_new_string(v->device)) == 0 &&
                     json_object_object_add(e, "name", v->name ? json_object_new_string(v->name) : NULL) ==
                             0 &&
                     json_object_object_add(e, "result",
                                            json_object_new_string(v->skipped ? "skipped"
                                                                   : v->stage ? "failed"
                                                                   : a->test  ? "verified"
                                                                              : "activated")) == 0 &&
                     json_object_object_add(e, "exit", json_object_new_int(v->exit)) == 0;
                if (ok && !v->skipped)
                        ok = json_object_object_add(
                                     e, "uuid", v->uuid[0] ? json_object_new_string(v->uuid) : NULL) == 0 &&
                             json_object_object_add(e, "token", json_object_new_int(v->token)) == 0 &&
                             json_object_object_add(e, "keyslot", json_object_new_int(v->keyslot)) == 0 &&
                             json_object_object_add(e, "backend",
                                                    v->backend ? json_object_new_string(v->backend)
                                                               : NULL) == 0;
                if (ok && v->stage)
                        ok = json_object_object_add(e, "stage", json_object_new_string(v->stage)) == 0 &&
                             json_object_object_add(e, "reason", json_object_new_string(v->reason)) == 0;
                if (!ok)
                        return EXIT_INTERNAL;
        }
        if (json_object_object_add(o, "attestations", json_object_new_int((int)u->attestations)) < 0 ||
            json_object_object_add(o, "measured", json_object_new_boolean(false)) < 0)
                return EXIT_INTERNAL;
        return cli_print_json(o);
}

int cmd_unlock(int argc, char *argv[])
{
        struct unlock_args a = {};
        struct volume_result vols[MAX_VOLUMES] = {};
        struct unlock_ctx u = {};
        size_t n = 0;
        char why[128];
        int r, ret = EXIT_OK, out;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;

        if (!a.released_key && rescue_boot(why, sizeof(why))) {
                fprintf(stderr,
                        "cvm-agent: unlock refused: rescue or emergency boot (%s); use the passphrase\n",
                        why);
                return EXIT_POLICY_MISMATCH;
        }

        if (a.all) {
                _cleanup_free_ char *def = NULL;
                const char *path = a.crypttab;

                if (!path) {
                        if (asprintf(&def, "%s/crypttab", CVM_AGENT_SYSCONFDIR) < 0)
                                return EXIT_INTERNAL;
                        path = def;
                }
                ret = read_crypttab(path, vols, &n);
                if (ret != EXIT_OK)
                        goto finish;
        } else {
                vols[0] = (struct volume_result){.device = strdup(a.device),
                                                 .name = a.name ? strdup(a.name) : NULL};
                if (!vols[0].device || (a.name && !vols[0].name)) {
                        ret = EXIT_INTERNAL;
                        goto finish;
                }
                n = 1;
        }

        u.backends = a.released_key ? file_backends : cli_backends;
        u.userdata = (void *)a.released_key;
        u.deadline_usec = unlock_now_usec() + (uint64_t)a.deadline_s * 1000000u;
        for (size_t i = 0; i < n; i++) {
                if (a.all && !has_cvm_token(vols[i].device)) {
                        vols[i].skipped = true;
                        continue;
                }
                r = unlock_volume(&a, &u, &vols[i]);
                if (r != EXIT_OK && ret == EXIT_OK)
                        ret = r;
        }
        out = print_results(&a, vols, n, &u);
        if (ret == EXIT_OK)
                ret = out;
finish:
        unlock_ctx_done(&u);
        for (size_t i = 0; i < n; i++) {
                free(vols[i].device);
                free(vols[i].name);
        }
        return ret;
}
