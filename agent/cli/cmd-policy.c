/* SPDX-License-Identifier: Apache-2.0 */
/* cvm-agent policy: generate a reference policy, appraise evidence against it, add a boot entry. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "eventlog.h"
#include "hcl.h"
#include "ima.h"
#include "policy.h"
#include "snp.h"
#include "tpm.h"
#include "util.h"

#define DEFAULT_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define DEFAULT_IMA      "/sys/kernel/security/ima/ascii_runtime_measurements"
#define REPORT_MAX       (64u << 10)
#define IMA_MAX          (256u << 20)
#define KERNEL_MAX       (512u << 20)

static void help(void)
{
        printf("Usage: cvm-agent policy generate [--eventlog FILE] [--report FILE | --no-report] [--ima "
               "FILE]\n"
               "                                [--bank NAME]... [--pcrs LIST] [--pcr-values] [-o FILE]\n"
               "       cvm-agent policy check --policy FILE [--eventlog FILE] [--report FILE] [--ima FILE]\n"
               "                                [--mode enforce|warn] [--json]\n"
               "       cvm-agent policy add-boot-entry --policy FILE (--kernel FILE | --uki FILE)\n"
               "                                [--kernel-path PATH] [--initrd FILE]... [--cmdline STRING]\n"
               "                                [-o FILE]\n"
               "\n"
               "generate        print a policy that accepts the given evidence (default: this boot's\n"
               "                event log %s)\n"
               "check           appraise evidence against a policy and explain every mismatch\n"
               "add-boot-entry  add the digests a new kernel/initrd/UKI will measure, before rebooting\n"
               "\n"
               "Options:\n"
               "  --policy FILE       the policy (JSON; see cvm-agent-policy(1))\n"
               "  --eventlog FILE     TCG event log; default %s\n"
               "  --report FILE       SNP attestation report or Azure HCL report (NV 0x01400001 contents);\n"
               "                      default: read NV 0x01400001 from the vTPM (--tcti)\n"
               "  --no-report         generate: no SNP constraints\n"
               "  --ima FILE          IMA log (ASCII or binary); check defaults to %s\n"
               "                      when the policy has an \"ima\" part\n"
               "  --no-eventlog       generate/check: no event log\n"
               "  --bank NAME         generate: bank of the event rules (repeatable; default sha256)\n"
               "  --pcrs LIST         generate: PCRs to cover, e.g. 0-9,14 (default: every PCR the log "
               "extends)\n"
               "  --pcr-values        generate: also pin the replayed PCR values\n"
               "  --mode MODE         check: enforce (default) or warn (report, exit 0)\n"
               "  --kernel FILE       add-boot-entry: the new kernel image (PE, as loaded by shim/grub)\n"
               "  --uki FILE          add-boot-entry: the new unified kernel image\n"
               "  --kernel-path PATH  the path the bootloader names the kernel by (default: FILE)\n"
               "  --initrd FILE       add-boot-entry: an initrd (repeatable; grub names it by FILE)\n"
               "  --cmdline STRING    add-boot-entry: the kernel command line after the kernel path\n"
               "  -o, --output FILE   write the policy there (atomically) instead of standard output\n"
               "  --json              check: print the result as one JSON document\n"
               "  -h, --help          this help\n"
               "\n"
               "Exit status: 0 match, 9 policy mismatch, 2 usage, 3 malformed evidence, 5 I/O error,\n"
               "6 TPM error, 11 invalid policy.\n",
               DEFAULT_EVENTLOG, DEFAULT_EVENTLOG, DEFAULT_IMA);
}

struct evidence {
        const char *eventlog_path, *report_path, *ima_path;
        bool no_eventlog, no_report;
        bool report_from_vtpm;  /* no --report: read NV 0x01400001 through the TPM adapter */
        bool no_report_allowed; /* the command has --no-report (for the error message) */
        unsigned char *log_buf, *report_buf, *ima_buf;
        size_t log_size, report_size, ima_size;
        struct eventlog *log;
        struct hcl_report *hcl;
        struct snp_report snp;
        bool have_snp;
};

static void evidence_done(struct evidence *e)
{
        eventlog_free(e->log);
        hcl_report_free(e->hcl);
        free(e->log_buf);
        free(e->report_buf);
        free(e->ima_buf);
}

static void evidence_donep(struct evidence **e)
{
        evidence_done(*e);
}

static int load_report(struct evidence *e)
{
        struct cvm_error err = {};
        int r;

        r = cli_read_input(e->report_path, REPORT_MAX, &e->report_buf, &e->report_size);
        if (r != EXIT_OK)
                return r;
        if (e->report_size >= 4 && memcmp(e->report_buf, "HCLA", 4) == 0) {
                r = hcl_report_parse(e->report_buf, e->report_size, &e->hcl, &err);
                if (r < 0)
                        return cli_fail(e->report_path, &err, r);
                e->snp = e->hcl->snp;
        } else {
                r = snp_report_parse(e->report_buf, e->report_size, &e->snp, &err);
                if (r < 0)
                        return cli_fail(e->report_path, &err, r);
        }
        e->have_snp = true;
        return EXIT_OK;
}

/* This boot's HCL report from the vTPM (NV 0x01400001), through the TPM adapter. */
static int read_vtpm_report(struct evidence *e)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        struct tpm_blob blob = {};
        struct cvm_error err = {};
        const char *tcti;
        int r;

        r = cli_tcti(&tcti);
        if (r != EXIT_OK)
                return r;
        r = tpm_open(tcti, &t, &err);
        if (r >= 0)
                r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &blob, &err);
        if (r < 0) {
                fprintf(stderr,
                        "cvm-agent: cannot read the HCL report from the vTPM (NV 0x01400001): %s; pass "
                        "--report "
                        "FILE%s\n",
                        cvm_error_message(&err, r), e->no_report_allowed ? " or --no-report" : "");
                return EXIT_TPM;
        }
        e->report_buf = blob.data;
        e->report_size = blob.size;
        e->report_path = "vTPM NV 0x01400001";
        r = hcl_report_parse(e->report_buf, e->report_size, &e->hcl, &err);
        if (r < 0)
                return cli_fail(e->report_path, &err, r);
        e->snp = e->hcl->snp;
        e->have_snp = true;
        return EXIT_OK;
}

static int load_evidence(struct evidence *e, bool want_ima)
{
        struct cvm_error err = {};
        int r;

        if (e->report_path) {
                r = load_report(e);
                if (r != EXIT_OK)
                        return r;
        } else if (e->report_from_vtpm) {
                r = read_vtpm_report(e);
                if (r != EXIT_OK)
                        return r;
        }
        if (!e->no_eventlog) {
                if (!e->eventlog_path)
                        e->eventlog_path = DEFAULT_EVENTLOG;
                r = cli_read_input(e->eventlog_path, EVENTLOG_MAX_SIZE, &e->log_buf, &e->log_size);
                if (r != EXIT_OK)
                        return r;
                r = eventlog_parse(e->log_buf, e->log_size, &e->log, &err);
                if (r < 0)
                        return cli_fail(e->eventlog_path, &err, r);
        }
        if (!e->ima_path && want_ima)
                e->ima_path = DEFAULT_IMA;
        if (e->ima_path) {
                r = cli_read_input(e->ima_path, IMA_MAX, &e->ima_buf, &e->ima_size);
                if (r != EXIT_OK)
                        return r;
        }
        return EXIT_OK;
}

static void evidence_view(const struct evidence *e, struct policy_evidence *ret)
{
        *ret = (struct policy_evidence){
                .log = e->log,
                .snp = e->have_snp ? &e->snp : NULL,
                .ima_log = e->ima_buf,
                .ima_log_size = e->ima_size,
        };
}

/* Writes @text to @path atomically (temporary file in the same directory, then rename). */
static int write_output(const char *path, const char *text)
{
        _cleanup_free_ char *tmp = NULL;
        size_t len = strlen(text), off = 0;
        int fd;

        if (!path || strcmp(path, "-") == 0) {
                if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
                        fprintf(stderr, "cvm-agent: cannot write to standard output\n");
                        return EXIT_IO;
                }
                return EXIT_OK;
        }
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return EXIT_INTERNAL;
        fd = mkstemp(tmp);
        if (fd < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot create a temporary file: %s\n", path,
                        strerror(errno));
                return EXIT_IO;
        }
        while (off < len) {
                ssize_t n = write(fd, text + off, len - off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                off += (size_t)n;
        }
        if (off < len || write(fd, "\n", 1) != 1 || fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot write: %s\n", path, strerror(errno));
                (void)unlink(tmp);
                return EXIT_IO;
        }
        if (rename(tmp, path) < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot rename into place: %s\n", path, strerror(errno));
                (void)unlink(tmp);
                return EXIT_IO;
        }
        return EXIT_OK;
}

static const char *policy_text(json_object *doc)
{
        return json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int load_policy(const char *path, struct policy **ret, json_object **ret_doc)
{
        _cleanup_free_ unsigned char *buf = NULL;
        struct cvm_error err = {};
        size_t size = 0;
        int r;

        r = cli_read_input(path, POLICY_MAX_SIZE, &buf, &size);
        if (r != EXIT_OK)
                return r;
        r = policy_parse((const char *)buf, size, ret, &err);
        if (r == -ENOMEM)
                return cli_fail(path, &err, r);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: %s: %s\n", path, cvm_error_message(&err, r));
                return EXIT_CONFIG;
        }
        if (ret_doc)
                *ret_doc = json_object_get(policy_json(*ret));
        return EXIT_OK;
}

static int parse_pcr_list(const char *s, uint32_t *ret)
{
        uint32_t mask = 0;
        char *end;

        if (strcmp(s, "all") == 0) {
                *ret = (1u << EVENTLOG_MAX_PCRS) - 1;
                return 0;
        }
        while (*s) {
                unsigned long a, b;

                errno = 0;
                a = strtoul(s, &end, 10);
                if (end == s || errno || a >= EVENTLOG_MAX_PCRS)
                        return -EINVAL;
                b = a;
                if (*end == '-') {
                        s = end + 1;
                        b = strtoul(s, &end, 10);
                        if (end == s || errno || b >= EVENTLOG_MAX_PCRS || b < a)
                                return -EINVAL;
                }
                for (unsigned long i = a; i <= b; i++)
                        mask |= 1u << i;
                if (*end == ',')
                        end++;
                else if (*end)
                        return -EINVAL;
                s = end;
        }
        if (!mask)
                return -EINVAL;
        *ret = mask;
        return 0;
}

enum {
        OPT_POLICY = 0x100,
        OPT_EVENTLOG,
        OPT_REPORT,
        OPT_NO_REPORT,
        OPT_NO_EVENTLOG,
        OPT_IMA,
        OPT_BANK,
        OPT_PCRS,
        OPT_PCR_VALUES,
        OPT_MODE,
        OPT_KERNEL,
        OPT_UKI,
        OPT_KERNEL_PATH,
        OPT_INITRD,
        OPT_CMDLINE,
        OPT_JSON,
};

static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"eventlog", required_argument, NULL, OPT_EVENTLOG},
        {"report", required_argument, NULL, OPT_REPORT},
        {"no-report", no_argument, NULL, OPT_NO_REPORT},
        {"no-eventlog", no_argument, NULL, OPT_NO_EVENTLOG},
        {"ima", required_argument, NULL, OPT_IMA},
        {"bank", required_argument, NULL, OPT_BANK},
        {"pcrs", required_argument, NULL, OPT_PCRS},
        {"pcr-values", no_argument, NULL, OPT_PCR_VALUES},
        {"mode", required_argument, NULL, OPT_MODE},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"uki", required_argument, NULL, OPT_UKI},
        {"kernel-path", required_argument, NULL, OPT_KERNEL_PATH},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"cmdline", required_argument, NULL, OPT_CMDLINE},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {},
};

struct args {
        const char *verb;
        const char *policy, *output;
        struct evidence ev;
        struct policy_generate_options gen;
        enum policy_mode mode;
        const char *kernel, *kernel_path, *cmdline;
        bool uki, json;
        const char *initrd[POLICY_BOOT_MAX_FILES];
        size_t n_initrd;
};

static const char *const allowed_options[][12] = {
        /* verb, then the long options it accepts */
        {"generate", "eventlog", "report", "no-report", "no-eventlog", "ima", "bank", "pcrs", "pcr-values",
         "output"},
        {"check", "policy", "eventlog", "report", "no-eventlog", "ima", "mode", "json"},
        {"add-boot-entry", "policy", "kernel", "uki", "kernel-path", "initrd", "cmdline", "output"},
};

static bool option_allowed(const char *verb, const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(allowed_options); i++) {
                if (strcmp(allowed_options[i][0], verb) != 0)
                        continue;
                for (size_t k = 1; k < ELEMENTSOF(allowed_options[i]) && allowed_options[i][k]; k++)
                        if (strcmp(allowed_options[i][k], name) == 0)
                                return true;
        }
        return strcmp(name, "help") == 0;
}

static int parse_args(int argc, char *argv[], struct args *a)
{
        int c, idx;

        while ((c = getopt_long(argc, argv, "ho:", options, &idx)) >= 0) {
                const char *name = c == 'o' ? "output" : c == 'h' ? "help" : NULL;
                int r;

                if (c == '?')
                        return cli_usage_error("policy", "invalid option");
                if (!name)
                        for (size_t i = 0; options[i].name; i++)
                                if (options[i].val == c)
                                        name = options[i].name;
                if (name && !option_allowed(a->verb, name))
                        return cli_usage_error("policy", "--%s does not apply to '%s'", name, a->verb);
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case OPT_POLICY:
                        a->policy = optarg;
                        break;
                case OPT_EVENTLOG:
                        a->ev.eventlog_path = optarg;
                        break;
                case OPT_REPORT:
                        a->ev.report_path = optarg;
                        break;
                case OPT_NO_REPORT:
                        a->ev.no_report = true;
                        break;
                case OPT_NO_EVENTLOG:
                        a->ev.no_eventlog = true;
                        break;
                case OPT_IMA:
                        a->ev.ima_path = optarg;
                        break;
                case OPT_BANK: {
                        const struct hash_alg *alg = hash_alg_by_name(optarg);

                        if (!alg)
                                return cli_usage_error("policy", "unknown bank '%s'", optarg);
                        if (a->gen.n_banks >= EVENTLOG_MAX_BANKS)
                                return cli_usage_error("policy", "too many --bank options");
                        a->gen.banks[a->gen.n_banks++] = alg;
                        break;
                }
                case OPT_PCRS:
                        if (parse_pcr_list(optarg, &a->gen.pcr_mask) < 0)
                                return cli_usage_error("policy", "invalid PCR list '%s' (e.g. 0-9,14)",
                                                       optarg);
                        break;
                case OPT_PCR_VALUES:
                        a->gen.pcr_values = true;
                        break;
                case OPT_MODE:
                        r = policy_mode_from_string(optarg, &a->mode);
                        if (r < 0)
                                return cli_usage_error("policy", "--mode must be enforce or warn");
                        break;
                case OPT_KERNEL:
                case OPT_UKI:
                        if (a->kernel)
                                return cli_usage_error("policy", "give one --kernel or --uki");
                        a->kernel = optarg;
                        a->uki = c == OPT_UKI;
                        break;
                case OPT_KERNEL_PATH:
                        a->kernel_path = optarg;
                        break;
                case OPT_INITRD:
                        if (a->n_initrd >= POLICY_BOOT_MAX_FILES)
                                return cli_usage_error("policy", "at most %d --initrd options",
                                                       POLICY_BOOT_MAX_FILES);
                        a->initrd[a->n_initrd++] = optarg;
                        break;
                case OPT_CMDLINE:
                        a->cmdline = optarg;
                        break;
                case 'o':
                        a->output = optarg;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                default:
                        return cli_usage_error("policy", "invalid option");
                }
        }
        if (optind < argc)
                return cli_usage_error("policy", "unexpected argument '%s'", argv[optind]);
        return EXIT_OK;
}

static int do_generate(struct args *a)
{
        _cleanup_(evidence_donep) struct evidence *ev = &a->ev;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        _cleanup_(policy_freep) struct policy *check = NULL;
        struct policy_evidence view;
        struct cvm_error err = {};
        char version[64];
        int r;

        if (ev->report_path && ev->no_report)
                return cli_usage_error("policy", "--report and --no-report exclude each other");
        ev->report_from_vtpm = !ev->report_path && !ev->no_report;
        ev->no_report_allowed = true;
        if (ev->no_eventlog && !ev->report_path && !ev->report_from_vtpm && !ev->ima_path)
                return cli_usage_error("policy", "nothing to generate from");
        r = load_evidence(ev, false);
        if (r != EXIT_OK)
                return r;
        evidence_view(ev, &view);
        snprintf(version, sizeof(version), "cvm-agent %s", CVM_AGENT_VERSION);
        a->gen.generator = version;
        a->gen.source_eventlog = ev->eventlog_path;
        a->gen.source_report = ev->report_path;
        a->gen.source_ima = ev->ima_path;
        r = policy_generate(&view, &a->gen, &doc, &err);
        if (r < 0)
                return cli_fail(ev->eventlog_path ? ev->eventlog_path : ev->report_path, &err, r);
        /* Never hand out a policy this build would refuse. */
        r = policy_from_json(doc, &check, &err);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: generated policy is invalid: %s\n", cvm_error_message(&err, r));
                return EXIT_INTERNAL;
        }
        return write_output(a->output, policy_text(doc));
}

static void print_result(const struct args *a, const struct policy_result *res)
{
        printf("policy:   %s\n", a->policy);
        if (a->ev.log)
                printf("eventlog: %s (%zu events)\n", a->ev.eventlog_path, a->ev.log->n_events);
        if (a->ev.have_snp)
                printf("report:   %s\n", a->ev.report_path);
        if (a->ev.ima_buf)
                printf("ima:      %s\n", a->ev.ima_path);
        if (policy_result_ok(res))
                printf("result:   match\n");
        else
                printf("result:   MISMATCH (%zu)%s\n", res->n_mismatches,
                       a->mode == POLICY_MODE_WARN ? ", tolerated: --mode warn" : "");
        for (size_t i = 0; i < res->n_mismatches; i++)
                printf("\n  [%s] %s\n    constraint: %s\n", policy_area_to_string(res->mismatches[i].area),
                       res->mismatches[i].message, res->mismatches[i].constraint);
        if (res->n_notes > 0) {
                printf("\nnotes:\n");
                for (size_t i = 0; i < res->n_notes; i++)
                        printf("  %s\n", res->notes[i]);
        }
}

static int do_check(struct args *a)
{
        _cleanup_(evidence_donep) struct evidence *ev = &a->ev;
        _cleanup_(policy_freep) struct policy *pol = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        _cleanup_(json_object_putp) json_object *out = NULL;
        struct policy_evidence view;
        struct cvm_error err = {};
        int r;

        if (!a->policy)
                return cli_usage_error("policy", "check needs --policy FILE");
        r = load_policy(a->policy, &pol, NULL);
        if (r != EXIT_OK)
                return r;
        if (!policy_has_eventlog(pol) && !ev->eventlog_path)
                ev->no_eventlog = true;
        ev->report_from_vtpm = policy_has_snp(pol) && !ev->report_path;
        r = load_evidence(ev, policy_has_ima(pol));
        if (r != EXIT_OK)
                return r;
        evidence_view(ev, &view);
        r = policy_appraise(pol, &view, &res, &err);
        if (r < 0)
                return cli_fail(ev->ima_path ? ev->ima_path : a->policy, &err, r);
        if (a->json) {
                json_object *v;

                r = policy_result_to_json(res, &out);
                if (r < 0)
                        return cli_fail(NULL, NULL, r);
                v = json_object_new_string(a->policy);
                json_object_object_add(out, "policy", v);
                json_object_object_add(out, "eventlog",
                                       ev->log ? json_object_new_string(ev->eventlog_path) : NULL);
                json_object_object_add(out, "report",
                                       ev->have_snp ? json_object_new_string(ev->report_path) : NULL);
                json_object_object_add(out, "ima",
                                       ev->ima_buf ? json_object_new_string(ev->ima_path) : NULL);
                json_object_object_add(out, "mode", json_object_new_string(policy_mode_to_string(a->mode)));
                r = cli_print_json(out);
                if (r != EXIT_OK)
                        return r;
        } else {
                print_result(a, res);
                if (fflush(stdout) != 0 || ferror(stdout)) {
                        fprintf(stderr, "cvm-agent: cannot write to standard output\n");
                        return EXIT_IO;
                }
        }
        return policy_result_allows(res, a->mode) ? EXIT_OK : EXIT_POLICY_MISMATCH;
}

static int do_add_boot_entry(struct args *a)
{
        _cleanup_(policy_freep) struct policy *pol = NULL, *check = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL, *added = NULL;
        _cleanup_free_ unsigned char *kernel = NULL;
        unsigned char *initrd[POLICY_BOOT_MAX_FILES] = {};
        struct policy_boot_entry e = {};
        struct cvm_error err = {};
        size_t size = 0;
        int r;

        if (!a->policy)
                return cli_usage_error("policy", "add-boot-entry needs --policy FILE");
        if (!a->kernel)
                return cli_usage_error("policy", "add-boot-entry needs --kernel FILE or --uki FILE");
        r = load_policy(a->policy, &pol, &doc);
        if (r != EXIT_OK)
                return r;
        r = cli_read_input(a->kernel, KERNEL_MAX, &kernel, &size);
        if (r != EXIT_OK)
                return r;
        e.kernel = kernel;
        e.kernel_size = size;
        e.is_uki = a->uki;
        e.kernel_path = a->kernel_path ? a->kernel_path : a->kernel;
        e.cmdline = a->cmdline;
        for (size_t i = 0; i < a->n_initrd; i++) {
                r = cli_read_input(a->initrd[i], KERNEL_MAX, &initrd[i], &e.initrd_size[i]);
                if (r != EXIT_OK)
                        goto out;
                e.initrd[i] = initrd[i];
                e.initrd_path[i] = a->initrd[i];
        }
        e.n_initrd = a->n_initrd;

        r = policy_add_boot_entry(doc, &e, &added, &err);
        if (r == -EBADMSG) {
                r = cli_fail(a->kernel, &err, r);
                goto out;
        }
        if (r == -ENOENT) {
                fprintf(stderr, "cvm-agent: %s: %s\n", a->policy, cvm_error_message(&err, r));
                r = EXIT_CONFIG;
                goto out;
        }
        if (r < 0) {
                r = cli_fail(a->policy, &err, r);
                goto out;
        }
        r = policy_from_json(doc, &check, &err);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: %s: the updated policy is invalid: %s\n", a->policy,
                        cvm_error_message(&err, r));
                r = EXIT_CONFIG;
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(added); i++) {
                json_object *x = json_object_array_get_idx(added, i), *c, *w;

                if (json_object_object_get_ex(x, "constraint", &c) &&
                    json_object_object_get_ex(x, "what", &w))
                        fprintf(stderr, "added to %s: %s\n", json_object_get_string(c),
                                json_object_get_string(w));
        }
        r = write_output(a->output, policy_text(doc));
out:
        for (size_t i = 0; i < POLICY_BOOT_MAX_FILES; i++)
                free(initrd[i]);
        return r;
}

int cmd_policy(int argc, char *argv[])
{
        struct args a = {};
        int r;

        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                help();
                return EXIT_OK;
        }
        if (argc < 2)
                return cli_usage_error("policy", "missing verb: generate, check or add-boot-entry");
        a.verb = argv[1];
        if (strcmp(a.verb, "generate") != 0 && strcmp(a.verb, "check") != 0 &&
            strcmp(a.verb, "add-boot-entry") != 0)
                return cli_usage_error("policy", "unknown verb '%s' (generate, check, add-boot-entry)",
                                       a.verb);
        r = parse_args(argc - 1, argv + 1, &a);
        if (r < 0)
                return EXIT_OK; /* --help */
        if (r != EXIT_OK)
                return r;
        if (strcmp(a.verb, "generate") == 0)
                return do_generate(&a);
        if (strcmp(a.verb, "check") == 0)
                return do_check(&a);
        return do_add_boot_entry(&a);
}
