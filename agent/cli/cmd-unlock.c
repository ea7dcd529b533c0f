/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent unlock: for each volume, copy and validate the LUKS2 header (luks.h), attest once
 * per verifier, release the key, unwrap the keyslot secret (unlock.h), and open the keyslot from
 * the validated copy — activating it, or only verifying it with --test. A refusal at any stage
 * is reported with the stage and reason and a distinct exit code, so the boot integration can
 * fall back to the passphrase prompt.
 *
 * Local guards, before any network traffic: rescue/emergency boots never release; the PCR of
 * [Unlock] PCRExtend= (15) must still be all zero (no release after a volume was unlocked in this
 * boot); a configured [Unlock] LocalPolicy= is appraised against the local evidence (event log
 * replayed against the TPM's PCRs, HCL report, IMA log). After the run, each activated volume is
 * measured into that PCR as SHA-xxx("cvm-agent:" + LUKS UUID) in every allocated bank; --test
 * never measures (nothing was activated) and reports "measured": false.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "eventlog.h"
#include "hcl.h"
#include "luks-cli.h"
#include "luks.h"
#include "policy.h"
#include "tpm.h"
#include "unlock-backend.h"
#include "unlock-ops.h"
#include "unlock.h"
#include "util.h"

#define DEFAULT_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define DEFAULT_IMA      "/sys/kernel/security/ima/ascii_runtime_measurements"
#define IMA_MAX          (256u << 20)
#define MAX_CRYPTTAB     (1u << 20)
#define MAX_VOLUMES      64

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
        bool measured;
        /* Wall time per step (µs), for the latency budget: header validation, attest + release +
         * unwrap (attestation only for the first volume of a verifier), keyslot check/activation. */
        uint64_t header_us, secret_us, keyslot_us;
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
               "  --deadline SECONDS   overall time limit, retries included (default: [Unlock] Deadline=,\n"
               "                       1 min)\n"
               "  --released-key FILE  skip attestation: use this key material (the RSA private key or\n"
               "                       32-byte key the broker would release) - recovery and tests\n"
               "  --json               print the result as JSON\n"
               "  -h, --help           show this help\n"
               "\n"
               "Settings from cvm-agent.conf(5): [Unlock] Deadline, PCRExtend, LocalPolicy, PolicyMode;\n"
               "[Network] CAFile; [TPM] TCTI, EventLog; [Azure] IMDS, ReleaseRoots, VaultHosts.\n"
               "\n"
               "Exit status: 0 every volume opened (or verified), 2 usage, 3 malformed reply or\n"
               "evidence, 4 the released key or secret does not open the volume or a reply failed a\n"
               "check, 5 I/O error, 6 TPM error, 7 verifier refused or no backend, 8 unreachable or\n"
               "deadline expired, 9 refused locally (rescue/emergency boot, PCR guard, local policy),\n"
               "10 header rejected, 11 invalid configuration. With --all, the code of the first\n"
               "failing volume.\n",
               CVM_AGENT_SYSCONFDIR);
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

/* ---- one volume -------------------------------------------------------------------------------- */

static int fail_with(struct volume_result *v, const char *stage, int code, const struct cvm_error *err,
                     int r)
{
        v->stage = stage;
        v->exit = code;
        snprintf(v->reason, sizeof(v->reason), "%s", cvm_error_message(err, r));
        return code;
}

/* The exit code of a failed attest/release: by the backend's failure class when known. */
static int exit_for_backend(const struct unlock_ctx *u, int r)
{
        const struct unlock_ops *o = u->userdata;

        if (r == -ENOMEM)
                return EXIT_INTERNAL;
        if (u->backends == unlock_ops_backends) {
                int code;

                if (o->failure == BACKEND_FAIL_CONFIG)
                        return EXIT_VERIFIER_REFUSED; /* the token names something we refuse to use */
                code = cli_exit_for_backend_failure(o->failure);
                if (code >= 0)
                        return code;
        }
        switch (-r) {
        case ETIMEDOUT:
        case ENETUNREACH:
        case EHOSTUNREACH:
        case ECONNREFUSED:
        case ECONNRESET:
                return EXIT_UNREACHABLE;
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
        uint64_t t0 = unlock_now_usec(), t1;
        int r, t, first;

        v->token = v->keyslot = -1;
        r = luks_volume_open(v->device, &vol, &err);
        v->header_us = unlock_now_usec() - t0;
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
                t1 = unlock_now_usec();
                r = unlock_acquire_secret(u, h, t, secret, &err);
                v->secret_us += unlock_now_usec() - t1;
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
                                fail_with(v, unlock_stage_name(u->stage), exit_for_backend(u, r), &err, r);
                        }
                        continue;
                }
                t1 = unlock_now_usec();
                r = luks_volume_activate(vol, a->test ? NULL : a->name, tok->keyslot, secret, 0, &err);
                v->keyslot_us += unlock_now_usec() - t1;
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
                         const struct unlock_ctx *u, bool measured, unsigned pcr)
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
                                printf("%s: activated as /dev/mapper/%s with token %d (%s)%s\n", v->device,
                                       v->name, v->token, v->backend,
                                       v->measured ? "; measured into the PCR" : "");
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
                if (ok && !v->skipped && !v->stage)
                        ok = json_object_object_add(e, "measured", json_object_new_boolean(v->measured)) ==
                             0;
                if (ok && !v->skipped) {
                        json_object *tm = json_object_new_object();

                        ok = tm && json_object_object_add(e, "elapsed_us", tm) == 0;
                        if (!ok)
                                json_object_put(tm);
                        ok = ok &&
                             json_object_object_add(tm, "header",
                                                    json_object_new_int64((int64_t)v->header_us)) == 0 &&
                             json_object_object_add(tm, "secret",
                                                    json_object_new_int64((int64_t)v->secret_us)) == 0 &&
                             json_object_object_add(tm, "keyslot",
                                                    json_object_new_int64((int64_t)v->keyslot_us)) == 0;
                }
                if (ok && v->stage)
                        ok = json_object_object_add(e, "stage", json_object_new_string(v->stage)) == 0 &&
                             json_object_object_add(e, "reason", json_object_new_string(v->reason)) == 0;
                if (!ok)
                        return EXIT_INTERNAL;
        }
        if (json_object_object_add(o, "attestations", json_object_new_int((int)u->attestations)) < 0 ||
            json_object_object_add(o, "measured", json_object_new_boolean(measured)) < 0 ||
            json_object_object_add(o, "pcr", json_object_new_int((int)pcr)) < 0)
                return EXIT_INTERNAL;
        return cli_print_json(o);
}

/* ---- local policy ------------------------------------------------------------------------------ */

/* The first mismatch and how many more, as one line. */
static void describe_mismatch(const struct policy_result *res, char *buf, size_t n)
{
        if (res->n_mismatches == 0) {
                snprintf(buf, n, "no mismatch");
                return;
        }
        snprintf(buf, n, "%s (%s)%s", res->mismatches[0].message, res->mismatches[0].constraint,
                 res->n_mismatches > 1 ? " and more mismatches" : "");
}

/*
 * The local evidence: the event log, checked to replay to the TPM's SHA-256 PCRs (a local read,
 * not a quote — nothing leaves the machine here), the HCL report from the vTPM and the IMA log
 * when the policy constrains them.
 */
static int local_evidence(const struct policy *pol, const struct unlock_ops_settings *s,
                          struct eventlog **ret_log, struct hcl_report **ret_hcl, uint8_t **ret_ima,
                          size_t *ret_ima_size, char *why, size_t n)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        const char *path = s->eventlog ? s->eventlog : DEFAULT_EVENTLOG;
        struct eventlog_pcrs replay;
        struct tpm_pcrs pcrs;
        struct cvm_error err = {};
        size_t size = 0;
        int r, b;

        r = read_file(path, EVENTLOG_MAX_SIZE, &buf, &size, &err);
        if (r >= 0)
                r = eventlog_parse(buf, size, ret_log, &err);
        if (r < 0)
                return snprintf(why, n, "event log %s: %s", path, cvm_error_message(&err, r)), r;
        r = tpm_open(s->tcti, &t, &err);
        if (r >= 0)
                r = tpm_pcr_read(t, TPM_ALG_SHA256, 0xffffffu, &pcrs, &err);
        if (r < 0)
                return snprintf(why, n, "TPM: %s", cvm_error_message(&err, r)), -ENODEV;
        r = eventlog_replay(*ret_log, 0, &replay, &err);
        if (r < 0)
                return snprintf(why, n, "event log replay: %s", cvm_error_message(&err, r)), r;
        b = eventlog_bank_index(*ret_log, TPM_ALG_SHA256);
        if (b < 0)
                return snprintf(why, n, "event log %s has no SHA-256 bank", path), -EBADMSG;
        for (unsigned i = 0; i < EVENTLOG_MAX_PCRS && i < TPM_PCR_COUNT; i++)
                if ((replay.banks[b].touched & (1u << i)) &&
                    memcmp(replay.banks[b].values[i], pcrs.digest[i], 32) != 0)
                        return snprintf(why, n, "event log %s does not replay to the TPM's PCR %u (sha256)",
                                        path, i),
                               -EKEYREJECTED;
        if (policy_has_snp(pol)) {
                struct tpm_blob blob = {};

                r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &blob, &err);
                if (r >= 0) {
                        r = hcl_report_parse(blob.data, blob.size, ret_hcl, &err);
                        tpm_blob_done(&blob);
                }
                if (r < 0)
                        return snprintf(why, n, "HCL report (vTPM NV 0x01400001): %s",
                                        cvm_error_message(&err, r)),
                               r;
        }
        if (policy_has_ima(pol)) {
                r = read_file(DEFAULT_IMA, IMA_MAX, ret_ima, ret_ima_size, &err);
                if (r < 0)
                        return snprintf(why, n, "IMA log: %s", cvm_error_message(&err, r)), r;
        }
        return 0;
}

/* [Unlock] LocalPolicy=: EXIT_OK to go on (match, or mismatch in warn mode), else the exit code. */
static int check_local_policy(const struct config *cfg, const struct unlock_ops_settings *s)
{
        _cleanup_(policy_freep) struct policy *pol = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        _cleanup_free_ uint8_t *text = NULL, *ima = NULL;
        struct eventlog *log = NULL;
        struct hcl_report *hcl = NULL;
        const char *path = config_get_string(cfg, CONFIG_UNLOCK_LOCAL_POLICY);
        const char *mode_s = config_get_string(cfg, CONFIG_UNLOCK_POLICY_MODE);
        enum policy_mode mode = POLICY_MODE_ENFORCE;
        struct cvm_error err = {};
        char why[CVM_ERROR_MAX];
        size_t size = 0, ima_size = 0;
        int r, ret;

        if (!path)
                return EXIT_OK;
        if (mode_s && policy_mode_from_string(mode_s, &mode) < 0)
                mode = POLICY_MODE_ENFORCE;
        r = read_file(path, POLICY_MAX_SIZE, &text, &size, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        r = policy_parse((const char *)text, size, &pol, &err);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: %s: %s\n", path, cvm_error_message(&err, r));
                return r == -ENOMEM ? EXIT_INTERNAL : EXIT_CONFIG;
        }
        r = local_evidence(pol, s, &log, &hcl, &ima, &ima_size, why, sizeof(why));
        if (r >= 0) {
                struct policy_evidence ev = {
                        .log = log, .snp = hcl ? &hcl->snp : NULL, .ima_log = ima, .ima_log_size = ima_size};

                r = policy_appraise(pol, &ev, &res, &err);
                if (r < 0)
                        snprintf(why, sizeof(why), "appraisal: %s", cvm_error_message(&err, r));
                else if (!policy_result_ok(res))
                        describe_mismatch(res, why, sizeof(why));
        }
        eventlog_free(log);
        hcl_report_free(hcl);
        if (r == -ENOMEM)
                return EXIT_INTERNAL;
        if (r >= 0 && policy_result_ok(res))
                return EXIT_OK;
        /* Evidence that cannot be appraised counts as a mismatch: the policy cannot vouch for it. */
        ret = r >= 0 && policy_result_allows(res, mode) ? EXIT_OK
              : mode == POLICY_MODE_WARN                ? EXIT_OK
                                                        : EXIT_POLICY_MISMATCH;
        if (ret == EXIT_OK)
                fprintf(stderr, "cvm-agent: warning: local policy %s (PolicyMode=warn): %s\n", path, why);
        else
                fprintf(stderr, "cvm-agent: unlock refused by local policy %s: %s\n", path, why);
        return ret;
}

/* ---- main ------------------------------------------------------------------------------------- */

static int load_settings(const struct config **ret_cfg, struct unlock_ops_settings *s)
{
        const struct config *cfg;
        int r;

        r = cli_config(&cfg);
        if (r == EXIT_OK)
                r = cli_tcti(&s->tcti);
        if (r != EXIT_OK)
                return r;
        s->ca_file = config_get_string(cfg, CONFIG_NETWORK_CA_FILE);
        s->eventlog = config_get_string(cfg, CONFIG_TPM_EVENT_LOG);
        s->imds = config_get_string(cfg, CONFIG_AZURE_IMDS);
        s->kv_root = config_get_string(cfg, CONFIG_AZURE_RELEASE_ROOTS);
        s->vault_hosts = config_get_string(cfg, CONFIG_AZURE_VAULT_HOSTS);
        *ret_cfg = cfg;
        return EXIT_OK;
}

int cmd_unlock(int argc, char *argv[])
{
        struct unlock_args a = {};
        struct volume_result vols[MAX_VOLUMES] = {};
        struct unlock_ctx u = {};
        struct unlock_ops ops = {};
        const struct config *cfg = NULL;
        const char *uuids[MAX_VOLUMES];
        struct cvm_error err = {};
        size_t n = 0, n_measure = 0;
        bool measured = false;
        unsigned pcr;
        char why[128];
        int r, ret = EXIT_OK, out;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;
        r = load_settings(&cfg, &ops.settings);
        if (r != EXIT_OK)
                return r;
        pcr = (unsigned)config_get_uint(cfg, CONFIG_UNLOCK_PCR_EXTEND);
        if (!a.deadline_s)
                a.deadline_s = (unsigned)(config_get_usec(cfg, CONFIG_UNLOCK_DEADLINE) / USEC_PER_SEC);

        if (!a.released_key) {
                /* Local guards, before any network traffic. */
                if (unlock_ops_rescue_boot(getenv("CVM_AGENT_PROC_CMDLINE"), why, sizeof(why))) {
                        fprintf(stderr,
                                "cvm-agent: unlock refused: rescue or emergency boot (%s); use the "
                                "passphrase\n",
                                why);
                        return EXIT_POLICY_MISMATCH;
                }
                r = unlock_ops_pcr_guard(ops.settings.tcti, pcr, &err);
                if (r < 0) {
                        fprintf(stderr, "cvm-agent: unlock refused: %s\n", cvm_error_message(&err, r));
                        return r == -EPERM ? EXIT_POLICY_MISMATCH : r == -ENOMEM ? EXIT_INTERNAL : EXIT_TPM;
                }
                r = check_local_policy(cfg, &ops.settings);
                if (r != EXIT_OK)
                        return r;
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

        u.backends = a.released_key ? file_backends : unlock_ops_backends;
        u.userdata = a.released_key ? (void *)a.released_key : (void *)&ops;
        u.deadline_usec = unlock_now_usec() + (uint64_t)a.deadline_s * 1000000u;
        for (size_t i = 0; i < n; i++) {
                if (a.all && !has_cvm_token(vols[i].device)) {
                        vols[i].skipped = true;
                        continue;
                }
                r = unlock_volume(&a, &u, &vols[i]);
                if (r != EXIT_OK && ret == EXIT_OK)
                        ret = r;
                if (r == EXIT_OK && !a.test && !a.released_key)
                        uuids[n_measure++] = vols[i].uuid;
        }
        /* Sessions hold the TPM; measure after they are gone (a simulator serves one connection). */
        unlock_ctx_done(&u);
        if (n_measure > 0) {
                r = unlock_ops_measure(ops.settings.tcti, pcr, uuids, n_measure, &err);
                if (r < 0) {
                        fprintf(stderr, "cvm-agent: volumes opened but not measured into PCR %u: %s\n", pcr,
                                cvm_error_message(&err, r));
                        if (ret == EXIT_OK)
                                ret = EXIT_TPM;
                } else {
                        measured = true;
                        for (size_t i = 0; i < n; i++)
                                vols[i].measured = !vols[i].skipped && !vols[i].stage;
                }
        }
        out = print_results(&a, vols, n, &u, measured, pcr);
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
