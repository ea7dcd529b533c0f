/* SPDX-License-Identifier: Apache-2.0 */
/* Policy generation from a known-good boot, and additions for a new kernel/initrd/UKI. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "efi.h"
#include "pe.h"
#include "policy-internal.h"
#include "util.h"

#define LABEL_MAX 160

static void jadd(json_object *o, const char *key, json_object *v, bool *oom)
{
        if (!o || !v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                *oom = true;
        }
}

static void jappend(json_object *a, json_object *v, bool *oom)
{
        if (!a || !v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                *oom = true;
        }
}

static json_object *jhex(const uint8_t *p, size_t n)
{
        char buf[2 * HASH_MAX_SIZE + 1];

        if (n > HASH_MAX_SIZE)
                return NULL;
        hex_encode_to(buf, p, n);
        return json_object_new_string(buf);
}

/* --- event classification -------------------------------------------------------------------- */

/* The event data as a C string when it is a byte string without embedded NULs (trailing NULs
   dropped); NULL otherwise. Caller frees. */
static char *event_string(const struct eventlog_event *ev)
{
        size_t n = ev->data_size;

        while (n > 0 && ev->data[n - 1] == 0)
                n--;
        if (n == 0 || memchr(ev->data, 0, n))
                return NULL;
        return strndup((const char *)ev->data, n);
}

static bool starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "(hd0,gpt2)/boot/vmlinuz-x" -> "/boot/vmlinuz-x" */
static const char *strip_grub_device(const char *p)
{
        if (p[0] == '(') {
                const char *c = strchr(p, ')');

                if (c)
                        return c + 1;
        }
        return p;
}

static const char *basename_of(const char *p)
{
        const char *s = strrchr(p, '/');

        return s ? s + 1 : p;
}

/* The kernel version of a path such as "/boot/vmlinuz-6.1.0-18-amd64", or NULL. */
static const char *kernel_version_of(const char *path)
{
        static const char *const prefixes[] = {"vmlinuz-", "vmlinux-", "bzImage-", "kernel-"};
        const char *b = basename_of(strip_grub_device(path));

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (starts_with(b, prefixes[i]) && b[strlen(prefixes[i])])
                        return b + strlen(prefixes[i]);
        return NULL;
}

#define MAX_BOOT_PATHS 16

struct boot_ctx {
        /* From grub's PCR 8 commands. */
        char *kernel_paths[MAX_BOOT_PATHS];
        size_t n_kernel_paths;
        char *initrd_paths[MAX_BOOT_PATHS];
        size_t n_initrd_paths;
        char *versions[MAX_BOOT_PATHS];
        size_t n_versions;
};

static void boot_ctx_done(struct boot_ctx *c)
{
        for (size_t i = 0; i < c->n_kernel_paths; i++)
                free(c->kernel_paths[i]);
        for (size_t i = 0; i < c->n_initrd_paths; i++)
                free(c->initrd_paths[i]);
        for (size_t i = 0; i < c->n_versions; i++)
                free(c->versions[i]);
}

static void add_path(char **list, size_t *n, const char *p, size_t len)
{
        char *s;

        if (*n >= MAX_BOOT_PATHS || len == 0)
                return;
        s = strndup(p, len);
        if (!s)
                return; /* classification is best effort */
        for (size_t i = 0; i < *n; i++)
                if (strcmp(list[i], s) == 0) {
                        free(s);
                        return;
                }
        list[(*n)++] = s;
}

/* The grub command (after "grub_cmd: ") of a verified PCR 8 event, or NULL. */
static const char *grub_command(const char *s)
{
        if (starts_with(s, "grub_cmd: "))
                return s + strlen("grub_cmd: ");
        return NULL;
}

static bool is_linux_command(const char *cmd)
{
        return starts_with(cmd, "linux ") || starts_with(cmd, "linuxefi ") || starts_with(cmd, "linux16 ");
}

static bool is_initrd_command(const char *cmd)
{
        return starts_with(cmd, "initrd ") || starts_with(cmd, "initrdefi ") ||
               starts_with(cmd, "initrd16 ");
}

static void boot_ctx_scan(const struct eventlog *log, struct boot_ctx *c)
{
        for (size_t i = 0; i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];
                _cleanup_free_ char *s = NULL;
                const char *cmd, *args;

                if (ev->type != EV_IPL || ev->pcr != 8)
                        continue;
                s = event_string(ev);
                if (!s || !(cmd = grub_command(s)))
                        continue;
                args = strchr(cmd, ' ');
                if (!args)
                        continue;
                args++;
                if (is_linux_command(cmd)) {
                        const char *path = strip_grub_device(args), *v;
                        size_t len = strcspn(path, " ");
                        _cleanup_free_ char *p = strndup(path, len);

                        add_path(c->kernel_paths, &c->n_kernel_paths, path, len);
                        v = p ? kernel_version_of(p) : NULL;
                        if (v)
                                add_path(c->versions, &c->n_versions, v, strlen(v));
                } else if (is_initrd_command(cmd)) {
                        while (*args) {
                                const char *path = strip_grub_device(args);
                                size_t len = strcspn(path, " ");

                                add_path(c->initrd_paths, &c->n_initrd_paths, path, len);
                                args = path + len;
                                args += strspn(args, " ");
                        }
                }
        }
}

static bool in_list(char *const *list, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], s) == 0)
                        return true;
        return false;
}

static bool contains_version(const struct boot_ctx *c, const char *s)
{
        for (size_t i = 0; i < c->n_versions; i++)
                if (strstr(s, c->versions[i]))
                        return true;
        return false;
}

#define EVENT_TAG_LINUX_INITRD      0x8f3b22ecu
#define EVENT_TAG_LINUX_LOADOPTIONS 0x8f3b22edu

struct rule_info {
        const char *class;
        const char *data_prefix; /* a wildcard rule: data must start with this (digest verified) */
        char *string;            /* the verified string, for classes add-boot-entry rewrites */
        const char *section;     /* UKI section name (PCR 11 content events) */
};

static void classify(const struct eventlog *log, size_t idx, const struct boot_ctx *c, bool seen_linux,
                     struct rule_info *ret)
{
        const struct eventlog_event *ev = &log->events[idx];
        _cleanup_free_ char *s = NULL;
        const char *cmd;

        *ret = (struct rule_info){.class = "other"};
        switch (ev->type) {
        case EV_SEPARATOR:
                ret->class = "separator";
                return;
        case EV_ACTION:
        case EV_EFI_ACTION:
                ret->class = "efi_action";
                return;
        case EV_EFI_VARIABLE_DRIVER_CONFIG:
                ret->class = ev->pcr == 7 ? "secureboot_variable" : "other";
                return;
        case EV_EFI_VARIABLE_AUTHORITY:
                ret->class = "secureboot_authority";
                return;
        case EV_EFI_VARIABLE_BOOT:
        case EV_EFI_VARIABLE_BOOT2:
                ret->class = "boot_variable";
                return;
        case EV_EFI_GPT_EVENT:
        case EV_EFI_GPT_EVENT2:
                ret->class = "gpt";
                return;
        case EV_EFI_BOOT_SERVICES_APPLICATION:
                /* After grub's "linux" command, shim's Verify measures the kernel it loads. */
                ret->class = seen_linux ? "kernel" : "boot_application";
                return;
        case EV_S_CRTM_VERSION:
        case EV_S_CRTM_CONTENTS:
        case EV_POST_CODE:
        case EV_POST_CODE2:
        case EV_EFI_PLATFORM_FIRMWARE_BLOB:
        case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
        case EV_EFI_HANDOFF_TABLES:
        case EV_EFI_HANDOFF_TABLES2:
        case EV_EFI_BOOT_SERVICES_DRIVER:
        case EV_EFI_RUNTIME_SERVICES_DRIVER:
        case EV_NONHOST_INFO:
        case EV_NONHOST_CODE:
        case EV_NONHOST_CONFIG:
        case EV_PLATFORM_CONFIG_FLAGS:
        case EV_TABLE_OF_DEVICES:
        case EV_CPU_MICROCODE:
        case EV_EFI_HCRTM_EVENT:
                ret->class = "firmware";
                return;
        case EV_EVENT_TAG:
                if (ev->pcr == 9 && ev->data_size >= 4) {
                        uint32_t tag = le32(ev->data);

                        if (tag == EVENT_TAG_LINUX_INITRD)
                                ret->class = "initrd";
                        else if (tag == EVENT_TAG_LINUX_LOADOPTIONS)
                                ret->class = "load_options";
                }
                return;
        case EV_IPL:
                break;
        default:
                return;
        }

        /* EV_IPL: grub (PCR 8 strings, PCR 9 files), shim (PCR 14 MOK), systemd (PCR 11, 12). */
        if (ev->pcr == 14) {
                ret->class = "mok";
                return;
        }
        if (ev->pcr == 12 && efi_looks_like_ucs2(ev->data, ev->data_size)) {
                ret->class = "kernel_cmdline";
                return;
        }
        if (efi_looks_like_ucs2(ev->data, ev->data_size))
                return;
        s = event_string(ev);
        if (!s)
                return;
        if (ev->pcr == 11) {
                ret->class = "uki_section";
                /* systemd-stub measures a section's name, then its contents under the same
                   description: the second event of such a pair is the contents. */
                for (size_t k = idx; k-- > 0;) {
                        const struct eventlog_event *prev = &log->events[k];
                        _cleanup_free_ char *ps = NULL;

                        if (prev->pcr != 11 || !eventlog_event_is_extended(prev))
                                continue;
                        ps = event_string(prev);
                        if (ps && s[0] == '.' && strcmp(ps, s) == 0) {
                                ret->string = TAKE_PTR(s);
                                ret->section = ret->string;
                        }
                        break;
                }
                return;
        }
        if (ev->pcr == 8) {
                bool verified = ev->check == EVENTLOG_DIGEST_MATCH;

                if (starts_with(s, "kernel_cmdline: ") || starts_with(s, "grub_kernel_cmdline ")) {
                        ret->class = "kernel_cmdline";
                        if (verified && starts_with(s, "kernel_cmdline: "))
                                ret->string = strdup(s + strlen("kernel_cmdline: "));
                        return;
                }
                cmd = grub_command(s);
                if (!cmd)
                        return;
                ret->class = "grub_command";
                if (verified && starts_with(cmd, "menuentry "))
                        ret->data_prefix = "grub_cmd: menuentry ";
                else if (verified && starts_with(cmd, "submenu "))
                        ret->data_prefix = "grub_cmd: submenu ";
                else if (is_linux_command(cmd))
                        ret->class = "grub_kernel_command";
                else if (is_initrd_command(cmd))
                        ret->class = "grub_initrd_command";
                else if (contains_version(c, cmd))
                        ret->class = "grub_kernel_command";
                if (verified && strcmp(ret->class, "grub_command") != 0)
                        ret->string = strdup(cmd);
                return;
        }
        if (ev->pcr == 9) {
                const char *path = strip_grub_device(s), *b = basename_of(path);

                if (in_list(c->kernel_paths, c->n_kernel_paths, path))
                        ret->class = "kernel";
                else if (in_list(c->initrd_paths, c->n_initrd_paths, path))
                        ret->class = "initrd";
                else if (starts_with(b, "vmlinuz") || starts_with(b, "vmlinux") || starts_with(b, "bzImage"))
                        ret->class = "kernel";
                else if (starts_with(b, "initrd") || starts_with(b, "initramfs"))
                        ret->class = "initrd";
                else if (s[0] == '(' || s[0] == '/')
                        ret->class = "grub_file";
                return;
        }
}

/* --- generation ------------------------------------------------------------------------------ */

static int make_label(const struct eventlog *log, size_t idx, char **ret)
{
        _cleanup_free_ char *d = NULL;
        size_t n;
        int r;

        r = eventlog_event_describe(log, idx, &d);
        if (r < 0)
                return r;
        n = strlen(d);
        if (n > LABEL_MAX) {
                n = LABEL_MAX;
                while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
                        n--;
        }
        if (asprintf(ret, "event %" PRIu32 ": %.*s%s", log->events[idx].number, (int)n, d,
                     n < strlen(d) ? "..." : "") < 0)
                return -ENOMEM;
        return 0;
}

static int generate_pcr(const struct eventlog *log, int bank, const struct hash_alg *alg, unsigned pcr,
                        const struct boot_ctx *c, const struct eventlog_pcrs *replay, bool values,
                        json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *events = json_object_new_array();
        bool oom = false, seen_linux = false;
        size_t n = 0;

        jadd(o, "events", events, &oom);
        for (size_t i = 0; !oom && i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];
                _cleanup_free_ char *label = NULL, *tmp = NULL;
                struct rule_info info;
                json_object *rule;
                char tb[16];

                if (ev->type == EV_IPL && ev->pcr == 8 && (tmp = event_string(ev)) && grub_command(tmp) &&
                    is_linux_command(grub_command(tmp)))
                        seen_linux = true;
                if (ev->pcr != pcr || !eventlog_event_is_extended(ev))
                        continue;
                if (!ev->digests[bank])
                        return -EBADMSG; /* caller reports */
                classify(log, i, c, seen_linux, &info);
                if (make_label(log, i, &label) < 0) {
                        free(info.string);
                        return -ENOMEM;
                }
                rule = json_object_new_object();
                if (eventlog_type_name(ev->type))
                        jadd(rule, "type", json_object_new_string(eventlog_type_name(ev->type)), &oom);
                else {
                        snprintf(tb, sizeof(tb), "0x%08" PRIx32, ev->type);
                        jadd(rule, "type", json_object_new_string(tb), &oom);
                }
                if (info.data_prefix)
                        jadd(rule, "data_prefix", json_object_new_string(info.data_prefix), &oom);
                else {
                        json_object *d = json_object_new_array();

                        jappend(d, jhex(ev->digests[bank], alg->size), &oom);
                        jadd(rule, "digests", d, &oom);
                }
                jadd(rule, "class", json_object_new_string(info.class), &oom);
                if (info.section)
                        jadd(rule, "section", json_object_new_string(info.section), &oom);
                else if (info.string)
                        jadd(rule, "string", json_object_new_string(info.string), &oom);
                jadd(rule, "label", json_object_new_string(label), &oom);
                jappend(events, rule, &oom);
                free(info.string);
                n++;
        }
        if (values) {
                json_object *v = json_object_new_array();

                for (size_t b = 0; b < replay->n_banks; b++)
                        if (replay->banks[b].alg_id == alg->tpm_id)
                                jappend(v, jhex(replay->banks[b].values[pcr], alg->size), &oom);
                jadd(o, "values", v, &oom);
        }
        if (oom)
                return -ENOMEM;
        if (n == 0 && !values) {
                *ret = NULL;
                return 0;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int generate_eventlog(const struct eventlog *log, const struct policy_generate_options *opts,
                             json_object *doc, struct cvm_error *err)
{
        _cleanup_(boot_ctx_done) struct boot_ctx c = {};
        struct eventlog_pcrs replay;
        json_object *pcrs = json_object_new_object(), *section = json_object_new_object();
        const struct hash_alg *banks[EVENTLOG_MAX_BANKS];
        size_t n_banks = opts ? opts->n_banks : 0;
        bool oom = false, mismatch = false, secure_boot = false;
        uint32_t mask;
        int r;

        jadd(doc, "eventlog", section, &oom);
        jadd(doc, "pcrs", pcrs, &oom);
        if (oom)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = eventlog_replay(log, 0, &replay, err);
        if (r < 0)
                return r;
        if (n_banks > 0)
                memcpy(banks, opts->banks, n_banks * sizeof(banks[0]));
        else {
                int b = eventlog_bank_index(log, TPM_ALG_SHA256);

                if (b < 0)
                        b = 0;
                if (log->n_banks == 0 || !log->banks[b].alg)
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "the event log has no bank this build can use");
                banks[0] = log->banks[b].alg;
                n_banks = 1;
        }
        mask = opts && opts->pcr_mask ? opts->pcr_mask : replay.touched;
        boot_ctx_scan(log, &c);

        for (size_t i = 0; i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];

                if (ev->check == EVENTLOG_DIGEST_MISMATCH && eventlog_event_is_extended(ev))
                        mismatch = true;
                if (ev->pcr == 7 && ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG &&
                    ev->check == EVENTLOG_DIGEST_MATCH && ev->data_size == 32 + 20 + 1 &&
                    le64(ev->data + 16) == 10 &&
                    memcmp(ev->data + 32, "S\0e\0c\0u\0r\0e\0B\0o\0o\0t\0", 20) == 0 && ev->data[52] == 1)
                        secure_boot = true;
        }
        jadd(section, "require_secure_boot", json_object_new_boolean(secure_boot), &oom);
        jadd(section, "allow_data_mismatch", json_object_new_boolean(mismatch), &oom);
        jadd(section, "startup_locality",
             json_object_new_int(replay.startup_locality < 0 ? 0 : replay.startup_locality), &oom);

        for (size_t b = 0; b < n_banks; b++) {
                int lb = eventlog_bank_index(log, banks[b]->tpm_id);
                json_object *bank = json_object_new_object();

                if (lb < 0) {
                        json_object_put(bank);
                        return cvm_error_set(err, -EOPNOTSUPP, "the event log has no %s bank",
                                             banks[b]->name);
                }
                jadd(pcrs, banks[b]->name, bank, &oom);
                for (unsigned i = 0; !oom && i < EVENTLOG_MAX_PCRS; i++) {
                        json_object *pcr = NULL;
                        char key[8];

                        if (!(mask & (1u << i)))
                                continue;
                        r = generate_pcr(log, lb, banks[b], i, &c, &replay, opts && opts->pcr_values, &pcr);
                        if (r == -EBADMSG)
                                return cvm_error_set(
                                        err, -EBADMSG,
                                        "PCR %u: an event has no %s digest; generate for another bank", i,
                                        banks[b]->name);
                        if (r < 0)
                                return cvm_error_set(err, r, "out of memory");
                        if (!pcr)
                                continue;
                        snprintf(key, sizeof(key), "%u", i);
                        jadd(bank, key, pcr, &oom);
                }
        }
        return oom ? cvm_error_set(err, -ENOMEM, "out of memory") : 0;
}

static json_object *tcb_json(const struct snp_report *rep, uint64_t raw, bool *oom)
{
        json_object *o = json_object_new_object();
        struct snp_tcb t;
        enum snp_tcb_layout layout = snp_report_tcb_layout(rep);

        snp_tcb_decode(raw, layout, &t);
        jadd(o, "bootloader", json_object_new_int(t.bootloader), oom);
        jadd(o, "tee", json_object_new_int(t.tee), oom);
        jadd(o, "snp", json_object_new_int(t.snp), oom);
        jadd(o, "microcode", json_object_new_int(t.microcode), oom);
        if (layout == SNP_TCB_LAYOUT_TURIN)
                jadd(o, "fmc", json_object_new_int(t.fmc), oom);
        return o;
}

static json_object *hex_array(const uint8_t *p, size_t n, bool *oom)
{
        json_object *a = json_object_new_array();

        jappend(a, jhex(p, n), oom);
        return a;
}

static int generate_snp(const struct snp_report *rep, json_object *doc, struct cvm_error *err)
{
        json_object *s = json_object_new_object();
        bool oom = false;
        char buf[32];
        uint64_t mask = SNP_POLICY_DEBUG | SNP_POLICY_MIGRATE_MA | SNP_POLICY_SINGLE_SOCKET | SNP_POLICY_SMT;

        jadd(doc, "snp", s, &oom);
        jadd(s, "measurements", hex_array(rep->measurement, sizeof(rep->measurement), &oom), &oom);
        if (snp_report_tcb_layout(rep) != SNP_TCB_LAYOUT_UNKNOWN) {
                /* The smallest of reported/current/committed, which all have to meet the minimum. */
                uint64_t lowest = rep->reported_tcb;
                struct snp_tcb a, b, c;
                enum snp_tcb_layout l = snp_report_tcb_layout(rep);
                json_object *t;

                snp_tcb_decode(rep->reported_tcb, l, &a);
                snp_tcb_decode(rep->current_tcb, l, &b);
                snp_tcb_decode(rep->has_cpuid ? rep->committed_tcb : rep->reported_tcb, l, &c);
                t = tcb_json(rep, lowest, &oom);
                if (t) {
#define MIN3(x, y, z) ((x) < (y) ? ((x) < (z) ? (x) : (z)) : ((y) < (z) ? (y) : (z)))
                        json_object_object_add(
                                t, "bootloader",
                                json_object_new_int(MIN3(a.bootloader, b.bootloader, c.bootloader)));
                        json_object_object_add(t, "tee", json_object_new_int(MIN3(a.tee, b.tee, c.tee)));
                        json_object_object_add(t, "snp", json_object_new_int(MIN3(a.snp, b.snp, c.snp)));
                        json_object_object_add(
                                t, "microcode",
                                json_object_new_int(MIN3(a.microcode, b.microcode, c.microcode)));
                        if (l == SNP_TCB_LAYOUT_TURIN)
                                json_object_object_add(t, "fmc",
                                                       json_object_new_int(MIN3(a.fmc, b.fmc, c.fmc)));
#undef MIN3
                }
                jadd(s, "min_tcb", t, &oom);
                if (rep->has_cpuid)
                        jadd(s, "min_launch_tcb", tcb_json(rep, rep->launch_tcb, &oom), &oom);
        }
        jadd(s, "allow_debug", json_object_new_boolean(!!(rep->policy & SNP_POLICY_DEBUG)), &oom);
        jadd(s, "allow_migration_agent", json_object_new_boolean(!!(rep->policy & SNP_POLICY_MIGRATE_MA)),
             &oom);
        jadd(s, "vmpl", json_object_new_int64(rep->vmpl), &oom);
        jadd(s, "min_guest_svn", json_object_new_int64(rep->guest_svn), &oom);
        jadd(s, "id_key_digests", hex_array(rep->id_key_digest, sizeof(rep->id_key_digest), &oom), &oom);
        if (!is_all_zero(rep->author_key_digest, sizeof(rep->author_key_digest)))
                jadd(s, "author_key_digests", hex_array(rep->author_key_digest, 48, &oom), &oom);
        jadd(s, "family_ids", hex_array(rep->family_id, sizeof(rep->family_id), &oom), &oom);
        jadd(s, "image_ids", hex_array(rep->image_id, sizeof(rep->image_id), &oom), &oom);
        jadd(s, "host_data", hex_array(rep->host_data, sizeof(rep->host_data), &oom), &oom);
        snprintf(buf, sizeof(buf), "0x%" PRIx64, mask);
        jadd(s, "policy_mask", json_object_new_string(buf), &oom);
        snprintf(buf, sizeof(buf), "0x%" PRIx64, rep->policy & mask);
        jadd(s, "policy_value", json_object_new_string(buf), &oom);
        {
                json_object *k = json_object_new_array();
                unsigned key = SNP_FLAG_SIGNING_KEY(rep->flags);

                if (key == SNP_SIGNING_KEY_VCEK || key == SNP_SIGNING_KEY_VLEK) {
                        jappend(k, json_object_new_string(key == SNP_SIGNING_KEY_VCEK ? "vcek" : "vlek"),
                                &oom);
                        jadd(s, "signing_keys", k, &oom);
                } else
                        json_object_put(k);
        }
        return oom ? cvm_error_set(err, -ENOMEM, "out of memory") : 0;
}

static int generate_ima(const struct policy_evidence *ev, json_object *doc, struct cvm_error *err)
{
        _cleanup_(ima_reader_freep) struct ima_reader *rd = NULL;
        json_object *s = json_object_new_object(), *files = json_object_new_object();
        const struct ima_entry *e;
        bool oom = false;
        int r;

        jadd(doc, "ima", s, &oom);
        jadd(s, "files", files, &oom);
        if (oom)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = ima_reader_new_from_memory(ev->ima_log, ev->ima_log_size, IMA_FORMAT_AUTO, NULL, &rd, err);
        if (r < 0)
                return r;
        while ((r = ima_reader_next(rd, &e, err)) > 0) {
                _cleanup_free_ char *hex = NULL, *digest = NULL;
                json_object *list;
                bool dup = false;

                if (e->violation || !e->path || !e->digest || strcmp(e->path, "boot_aggregate") == 0)
                        continue;
                hex = hex_encode(e->digest, e->digest_size);
                if (!hex || asprintf(&digest, "%s:%s", e->digest_algo[0] ? e->digest_algo : "sha1", hex) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (!json_object_object_get_ex(files, e->path, &list)) {
                        list = json_object_new_array();
                        jadd(files, e->path, list, &oom);
                        if (oom)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < json_object_array_length(list); i++)
                        dup = dup || strcmp(json_object_get_string(json_object_array_get_idx(list, i)),
                                            digest) == 0;
                if (!dup)
                        jappend(list, json_object_new_string(digest), &oom);
                if (oom)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        if (r < 0)
                return r;
        jadd(s, "allow_violations", json_object_new_boolean(false), &oom);
        return oom ? cvm_error_set(err, -ENOMEM, "out of memory") : 0;
}

int policy_generate(const struct policy_evidence *ev, const struct policy_generate_options *opts,
                    json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *doc = json_object_new_object();
        json_object *gen = json_object_new_object();
        bool oom = false;
        int r;

        if (!ev->log && !ev->snp && !ev->ima_log)
                return cvm_error_set(err, -EINVAL, "no evidence to generate a policy from");
        jadd(doc, "version", json_object_new_int(POLICY_VERSION), &oom);
        jadd(doc, "generated", gen, &oom);
        if (opts && opts->generator)
                jadd(gen, "by", json_object_new_string(opts->generator), &oom);
        if (opts && opts->created_at)
                jadd(gen, "at", json_object_new_string(opts->created_at), &oom);
        if (opts && opts->source_eventlog && ev->log)
                jadd(gen, "eventlog", json_object_new_string(opts->source_eventlog), &oom);
        if (opts && opts->source_report && ev->snp)
                jadd(gen, "report", json_object_new_string(opts->source_report), &oom);
        if (opts && opts->source_ima && ev->ima_log)
                jadd(gen, "ima", json_object_new_string(opts->source_ima), &oom);
        if (oom)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (ev->log) {
                r = generate_eventlog(ev->log, opts, doc, err);
                if (r < 0)
                        return r;
        }
        if (ev->snp) {
                r = generate_snp(ev->snp, doc, err);
                if (r < 0)
                        return r;
        }
        if (ev->ima_log) {
                r = generate_ima(ev, doc, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(doc);
        return 0;
}

/* --- add-boot-entry -------------------------------------------------------------------------- */

struct add_ctx {
        const struct policy_boot_entry *e;
        struct pe_image pe;
        bool have_pe;
        const char *new_version;
        char *old_versions[MAX_BOOT_PATHS];
        size_t n_old_versions;
        json_object *added;
        size_t n_added;
};

static int add_digest(struct add_ctx *c, json_object *rule, const char *path, const char *class,
                      const struct hash_alg *alg, const uint8_t *d, const char *what)
{
        json_object *list, *single, *entry;
        char hex[2 * HASH_MAX_SIZE + 1];
        bool oom = false;

        hex_encode_to(hex, d, alg->size);
        if (json_object_object_get_ex(rule, "digest", &single)) {
                /* Turn the single digest into a list. */
                list = json_object_new_array();
                jappend(list, json_object_get(single), &oom);
                if (oom || json_object_object_add(rule, "digests", list) < 0)
                        return -ENOMEM;
                json_object_object_del(rule, "digest");
        }
        if (!json_object_object_get_ex(rule, "digests", &list)) {
                list = json_object_new_array();
                if (!list || json_object_object_add(rule, "digests", list) < 0)
                        return -ENOMEM;
        }
        if (json_object_get_type(list) != json_type_array)
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(list); i++)
                if (strcasecmp(json_object_get_string(json_object_array_get_idx(list, i)), hex) == 0)
                        return 0;
        jappend(list, json_object_new_string(hex), &oom);
        entry = json_object_new_object();
        jadd(entry, "constraint", json_object_new_string(path), &oom);
        jadd(entry, "class", json_object_new_string(class), &oom);
        jadd(entry, "digest", json_object_new_string(hex), &oom);
        jadd(entry, "what", json_object_new_string(what), &oom);
        jappend(c->added, entry, &oom);
        c->n_added++;
        return oom ? -ENOMEM : 0;
}

static int hash_string(const struct hash_alg *alg, const char *s, uint8_t *out)
{
        return hash_digest(alg, s, strlen(s), out);
}

/* Replace every old kernel version in @s by the new one. */
static char *substitute_version(const struct add_ctx *c, const char *s)
{
        char *out = strdup(s);

        if (!out || !c->new_version)
                return out;
        for (size_t i = 0; i < c->n_old_versions; i++) {
                const char *old = c->old_versions[i];
                char *p;

                while ((p = strstr(out, old))) {
                        char *n;

                        if (asprintf(&n, "%.*s%s%s", (int)(p - out), out, c->new_version, p + strlen(old)) <
                            0) {
                                free(out);
                                return NULL;
                        }
                        free(out);
                        out = n;
                        if (strcmp(old, c->new_version) == 0)
                                break;
                }
        }
        return out;
}

static int utf16_digest(const struct hash_alg *alg, const char *s, uint8_t *out)
{
        size_t n = strlen(s);
        _cleanup_free_ uint8_t *u = calloc(n + 1, 2);

        if (!u)
                return -ENOMEM;
        /* systemd hashes the command line as UCS-2 including its terminating NUL; ASCII only. */
        for (size_t i = 0; i < n; i++)
                u[2 * i] = (uint8_t)s[i];
        return hash_digest(alg, u, 2 * (n + 1), out);
}

static int add_to_rule(struct add_ctx *c, json_object *rule, const char *path, const struct hash_alg *alg)
{
        const struct policy_boot_entry *e = c->e;
        json_object *v;
        const char *class, *type, *str = NULL;
        uint8_t d[HASH_MAX_SIZE];
        char what[512];
        int r;

        if (!json_object_object_get_ex(rule, "class", &v))
                return 0;
        class = json_object_get_string(v);
        type = json_object_object_get_ex(rule, "type", &v) ? json_object_get_string(v) : "";
        if (json_object_object_get_ex(rule, "string", &v))
                str = json_object_get_string(v);

        if (strcmp(class, "kernel") == 0 && e->kernel) {
                if (strcmp(type, "EV_EFI_BOOT_SERVICES_APPLICATION") == 0) {
                        r = pe_authenticode_digest(&c->pe, alg, d, NULL);
                        snprintf(what, sizeof(what), "Authenticode %s of %s", alg->name,
                                 e->kernel_path ? e->kernel_path : "the kernel");
                } else if (!e->is_uki) {
                        r = hash_digest(alg, e->kernel, e->kernel_size, d);
                        snprintf(what, sizeof(what), "%s of the file %s", alg->name,
                                 e->kernel_path ? e->kernel_path : "(kernel)");
                } else
                        return 0;
                return r < 0 ? r : add_digest(c, rule, path, class, alg, d, what);
        }
        if (strcmp(class, "initrd") == 0 && e->n_initrd > 0) {
                for (size_t i = 0; i < e->n_initrd; i++) {
                        r = hash_digest(alg, e->initrd[i], e->initrd_size[i], d);
                        if (r < 0)
                                return r;
                        snprintf(what, sizeof(what), "%s of the file %s", alg->name,
                                 e->initrd_path[i] ? e->initrd_path[i] : "(initrd)");
                        r = add_digest(c, rule, path, class, alg, d, what);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (strcmp(class, "kernel_cmdline") == 0 && !str && e->cmdline) {
                r = utf16_digest(alg, e->cmdline, d);
                snprintf(what, sizeof(what), "%s of the UCS-2 command line \"%.200s\"", alg->name,
                         e->cmdline);
                return r < 0 ? r : add_digest(c, rule, path, class, alg, d, what);
        }
        if (str && (strcmp(class, "kernel_cmdline") == 0 || strcmp(class, "grub_kernel_command") == 0 ||
                    strcmp(class, "grub_initrd_command") == 0)) {
                _cleanup_free_ char *s = NULL;
                bool is_linux = strcmp(class, "grub_kernel_command") == 0 && is_linux_command(str);

                if (strcmp(class, "kernel_cmdline") == 0 && e->cmdline && e->kernel_path)
                        r = asprintf(&s, "%s %s", e->kernel_path, e->cmdline) < 0 ? -ENOMEM : 0;
                else if (is_linux && e->cmdline && e->kernel_path)
                        r = asprintf(&s, "%.*s %s %s", (int)strcspn(str, " "), str, e->kernel_path,
                                     e->cmdline) < 0
                                    ? -ENOMEM
                                    : 0;
                else if (strcmp(class, "grub_initrd_command") == 0 && e->n_initrd > 0 && e->initrd_path[0]) {
                        _cleanup_free_ char *paths = NULL;
                        size_t len = 0;
                        FILE *f = open_memstream(&paths, &len);

                        if (!f)
                                return -ENOMEM;
                        for (size_t i = 0; i < e->n_initrd; i++)
                                fprintf(f, " %s", e->initrd_path[i] ? e->initrd_path[i] : "");
                        if (fclose(f) != 0)
                                return -ENOMEM;
                        r = asprintf(&s, "%.*s%s", (int)strcspn(str, " "), str, paths) < 0 ? -ENOMEM : 0;
                } else if (c->new_version) {
                        s = substitute_version(c, str);
                        r = s ? 0 : -ENOMEM;
                } else
                        return 0;
                if (r < 0)
                        return r;
                r = hash_string(alg, s, d);
                if (r < 0)
                        return r;
                snprintf(what, sizeof(what), "%s of \"%.400s\"", alg->name, s);
                return add_digest(c, rule, path, class, alg, d, what);
        }
        if (strcmp(class, "uki_section") == 0 && e->is_uki && c->have_pe &&
            json_object_object_get_ex(rule, "section", &v)) {
                const struct pe_section *sec = pe_find_section(&c->pe, json_object_get_string(v));
                _cleanup_free_ uint8_t *data = NULL;
                size_t size;

                if (!sec)
                        return 0;
                r = pe_section_data(&c->pe, sec, &data, &size, NULL);
                if (r >= 0)
                        r = hash_digest(alg, data, size, d);
                if (r < 0)
                        return r;
                snprintf(what, sizeof(what), "%s of the UKI section %s", alg->name, sec->name);
                return add_digest(c, rule, path, class, alg, d, what);
        }
        return 0;
}

static void collect_old_versions(struct add_ctx *c, json_object *pcrs)
{
        json_object_object_foreach (pcrs, bank, pcrmap) {
                if (json_object_get_type(pcrmap) != json_type_object)
                        continue;
                json_object_object_foreach (pcrmap, idx, pcr) {
                        json_object *events, *v;

                        if (json_object_get_type(pcr) != json_type_object ||
                            !json_object_object_get_ex(pcr, "events", &events) ||
                            json_object_get_type(events) != json_type_array)
                                continue;
                        for (size_t i = 0; i < json_object_array_length(events); i++) {
                                json_object *rule = json_object_array_get_idx(events, i);
                                const char *s, *args, *ver;
                                _cleanup_free_ char *p = NULL;

                                if (!json_object_object_get_ex(rule, "string", &v) ||
                                    json_object_get_type(v) != json_type_string)
                                        continue;
                                s = json_object_get_string(v);
                                if (!is_linux_command(s) || !(args = strchr(s, ' ')))
                                        continue;
                                args = strip_grub_device(args + 1);
                                p = strndup(args, strcspn(args, " "));
                                ver = p ? kernel_version_of(p) : NULL;
                                if (ver)
                                        add_path(c->old_versions, &c->n_old_versions, ver, strlen(ver));
                        }
                        (void)idx;
                }
                (void)bank;
        }
}

int policy_add_boot_entry(json_object *doc, const struct policy_boot_entry *e, json_object **ret_added,
                          struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *added = json_object_new_array();
        struct add_ctx c = {.e = e, .added = added};
        struct jpath p;
        json_object *pcrs;
        int r = 0;

        if (!added)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (json_object_get_type(doc) != json_type_object ||
            !json_object_object_get_ex(doc, "pcrs", &pcrs) || json_object_get_type(pcrs) != json_type_object)
                return cvm_error_set(err, -ENOENT,
                                     "$.pcrs: the policy has no event rules to add digests to");
        if (e->kernel) {
                r = pe_parse(e->kernel, e->kernel_size, &c.pe, err);
                if (r < 0)
                        return r;
                c.have_pe = true;
        }
        if (e->kernel_path)
                c.new_version = kernel_version_of(e->kernel_path);
        collect_old_versions(&c, pcrs);

        jpath_init(&p);
        jpath_push_key(&p, "pcrs");
        json_object_object_foreach (pcrs, bank, pcrmap) {
                const struct hash_alg *alg = hash_alg_by_name(bank);
                size_t s1 = jpath_push_key(&p, bank);

                if (alg && json_object_get_type(pcrmap) == json_type_object) {
                        json_object_object_foreach (pcrmap, idx, pcr) {
                                size_t s2 = jpath_push_key(&p, idx);
                                json_object *events;

                                if (json_object_get_type(pcr) == json_type_object &&
                                    json_object_object_get_ex(pcr, "events", &events) &&
                                    json_object_get_type(events) == json_type_array) {
                                        size_t s3 = jpath_push_key(&p, "events");

                                        for (size_t i = 0; r >= 0 && i < json_object_array_length(events);
                                             i++) {
                                                size_t s4 = jpath_push_index(&p, i);
                                                json_object *rule = json_object_array_get_idx(events, i);

                                                if (json_object_get_type(rule) == json_type_object)
                                                        r = add_to_rule(&c, rule, p.buf, alg);
                                                jpath_pop(&p, s4);
                                        }
                                        jpath_pop(&p, s3);
                                }
                                jpath_pop(&p, s2);
                        }
                }
                jpath_pop(&p, s1);
        }
        for (size_t i = 0; i < c.n_old_versions; i++)
                free(c.old_versions[i]);
        if (r < 0)
                return cvm_error_set(err, r, "cannot compute the digests: %s", strerror(-r));
        if (c.n_added == 0)
                return cvm_error_set(
                        err, -ENOENT,
                        "no rule of the policy takes a digest of what was given (no rule of class "
                        "kernel, initrd, kernel_cmdline, grub_kernel_command, grub_initrd_command "
                        "or uki_section matches), or every digest is already allowed");
        if (ret_added)
                *ret_added = TAKE_PTR(added);
        return 0;
}
