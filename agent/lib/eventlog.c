/* SPDX-License-Identifier: Apache-2.0 */
/* Event log parsing, digest checks and replay; descriptions and JSON are in eventlog-decode.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "efi.h"
#include "eventlog.h"
#include "util.h"

#define SHA1_RECORD_HEADER 32 /* pcr, type, sha1[20], size */
#define SPEC_ID_SIGNATURE  "Spec ID Event03"
#define STARTUP_LOCALITY   "StartupLocality"

static const struct {
        uint32_t type;
        const char *name;
} event_types[] = {
        {EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
        {EV_POST_CODE, "EV_POST_CODE"},
        {EV_UNUSED, "EV_UNUSED"},
        {EV_NO_ACTION, "EV_NO_ACTION"},
        {EV_SEPARATOR, "EV_SEPARATOR"},
        {EV_ACTION, "EV_ACTION"},
        {EV_EVENT_TAG, "EV_EVENT_TAG"},
        {EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
        {EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
        {EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
        {EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
        {EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
        {EV_COMPACT_HASH, "EV_COMPACT_HASH"},
        {EV_IPL, "EV_IPL"},
        {EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
        {EV_NONHOST_CODE, "EV_NONHOST_CODE"},
        {EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
        {EV_NONHOST_INFO, "EV_NONHOST_INFO"},
        {EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
        {EV_POST_CODE2, "EV_POST_CODE2"},
        {EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
        {EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
        {EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
        {EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
        {EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
        {EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
        {EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
        {EV_EFI_ACTION, "EV_EFI_ACTION"},
        {EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
        {EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
        {EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
        {EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
        {EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
        {EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2"},
        {EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
        {EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
        {EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
        {EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
        {EV_EFI_SPDM_DEVICE_POLICY, "EV_EFI_SPDM_DEVICE_POLICY"},
        {EV_EFI_SPDM_DEVICE_AUTHORITY, "EV_EFI_SPDM_DEVICE_AUTHORITY"},
};

const char *eventlog_type_name(uint32_t type)
{
        for (size_t i = 0; i < ELEMENTSOF(event_types); i++)
                if (event_types[i].type == type)
                        return event_types[i].name;
        return NULL;
}

int eventlog_bank_index(const struct eventlog *log, uint16_t alg_id)
{
        for (size_t b = 0; b < log->n_banks; b++)
                if (log->banks[b].alg_id == alg_id)
                        return (int)b;
        return -1;
}

bool eventlog_event_is_extended(const struct eventlog_event *ev)
{
        return ev->type != EV_NO_ACTION;
}

void eventlog_free(struct eventlog *log)
{
        if (!log)
                return;
        for (size_t i = 0; i < log->n_warnings; i++)
                free(log->warnings[i]);
        free(log->warnings);
        free(log->events);
        free(log->raw);
        free(log);
}

static int add_warning(struct eventlog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_warning(struct eventlog *log, const char *fmt, ...)
{
        char **w;
        char *s;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        w = reallocarray(log->warnings, log->n_warnings + 1, sizeof(char *));
        if (!w) {
                free(s);
                return -ENOMEM;
        }
        log->warnings = w;
        log->warnings[log->n_warnings++] = s;
        return 0;
}

static int add_event(struct eventlog *log, size_t *cap, struct eventlog_event **ret)
{
        if (log->n_events >= EVENTLOG_MAX_EVENTS)
                return -E2BIG;
        if (log->n_events == *cap) {
                size_t ncap = *cap ? *cap * 2 : 128;
                struct eventlog_event *e = reallocarray(log->events, ncap, sizeof(*e));

                if (!e)
                        return -ENOMEM;
                log->events = e;
                *cap = ncap;
        }
        *ret = &log->events[log->n_events];
        memset(*ret, 0, sizeof(**ret));
        (*ret)->number = (uint32_t)log->n_events;
        log->n_events++;
        return 0;
}

/*
 * EV_NO_ACTION records are never extended, so their PCR index is informational: Windows logs
 * (WBCL) use 0xffffffff for them. Every other record must name a PCR that exists.
 */
static bool pcr_index_valid(uint32_t pcr, uint32_t type)
{
        return pcr < EVENTLOG_MAX_PCRS || type == EV_NO_ACTION;
}

/* Checks the PCR index and event data size common to both record formats. */
static int check_pcr_and_size(uint32_t number, size_t off, uint32_t pcr, uint32_t type, uint32_t data_size,
                              size_t left, struct cvm_error *err)
{
        if (!pcr_index_valid(pcr, type))
                return cvm_error_set(err, -EBADMSG,
                                     "event %u at offset 0x%zx: PCR index %u out of range 0..%u", number,
                                     off, pcr, EVENTLOG_MAX_PCRS - 1);
        if (data_size > EVENTLOG_MAX_EVENT_DATA)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event %u at offset 0x%zx: event data size %u exceeds the limit of %u bytes", number,
                        off, data_size, EVENTLOG_MAX_EVENT_DATA);
        if (data_size > left)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event %u at offset 0x%zx: event data size %u exceeds the %zu bytes left "
                        "in the log",
                        number, off, data_size, left);
        return 0;
}

/* One TCG_PCClientPCREvent (SHA-1 format) record at @off; *next receives the following offset. */
static int parse_sha1_record(struct eventlog *log, size_t *cap, size_t off, size_t *next,
                             struct cvm_error *err)
{
        const uint8_t *p = log->raw + off;
        size_t left = log->raw_size - off;
        struct eventlog_event *ev;
        uint32_t number = (uint32_t)log->n_events, pcr, size;
        int r;

        if (left < SHA1_RECORD_HEADER)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event %u at offset 0x%zx: truncated event header: %zu bytes left, need %d", number,
                        off, left, SHA1_RECORD_HEADER);
        pcr = le32(p);
        size = le32(p + 28);
        r = check_pcr_and_size(number, off, pcr, le32(p + 4), size, left - SHA1_RECORD_HEADER, err);
        if (r < 0)
                return r;
        r = add_event(log, cap, &ev);
        if (r == -E2BIG)
                return cvm_error_set(err, -EBADMSG, "event %u at offset 0x%zx: more than %u events", number,
                                     off, EVENTLOG_MAX_EVENTS);
        if (r < 0)
                return cvm_error_set(err, r, "out of memory");
        ev->offset = off;
        ev->pcr = pcr;
        ev->type = le32(p + 4);
        ev->digests[0] = p + 8;
        ev->data = p + SHA1_RECORD_HEADER;
        ev->data_size = size;
        *next = off + SHA1_RECORD_HEADER + size;
        return 0;
}

/*
 * The Spec ID event (TCG_EfiSpecIdEvent) of a crypto-agile log: declares the banks and their
 * digest sizes. @extra receives the number of bytes the event's vendorInfo occupies beyond its
 * declared size (a firmware sizing bug we tolerate, see below).
 */
static int parse_spec_id(struct eventlog *log, const struct eventlog_event *ev, size_t *extra,
                         struct cvm_error *err)
{
        const uint8_t *d = ev->data;
        size_t n = ev->data_size, need, avail, after;
        uint32_t count;
        uint8_t vendor_size;

        *extra = 0;
        if (n < 28)
                return cvm_error_set(err, -EBADMSG,
                                     "event 0 at offset 0x0: Spec ID event data is %zu bytes, need "
                                     "at least 28",
                                     n);
        count = le32(d + 24);
        if (count == 0)
                return cvm_error_set(err, -EBADMSG,
                                     "event 0 at offset 0x0: Spec ID event declares no algorithms");
        if (count > EVENTLOG_MAX_BANKS)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event 0 at offset 0x0: Spec ID event declares %u algorithms, more than the "
                        "limit of %d",
                        count, EVENTLOG_MAX_BANKS);
        need = 28 + 4 * (size_t)count + 1;
        if (n < need)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event 0 at offset 0x0: Spec ID event data is %zu bytes, too short for %u "
                        "algorithms (need %zu)",
                        n, count, need);
        for (uint32_t i = 0; i < count; i++) {
                uint16_t id = le16(d + 28 + 4 * i), size = le16(d + 30 + 4 * i);
                const struct hash_alg *alg = hash_alg_by_tpm_id(id);

                if (size == 0 || size > HASH_MAX_SIZE)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "event 0 at offset 0x0: Spec ID algorithm %u (0x%04x) has digest size "
                                "%u, outside 1..%d",
                                i, id, size, HASH_MAX_SIZE);
                if (alg && alg->size != size)
                        return cvm_error_set(
                                err, -EOPNOTSUPP,
                                "event 0 at offset 0x0: Spec ID declares digest size %u for %s, which "
                                "has %zu-byte digests",
                                size, alg->name, alg->size);
                if (eventlog_bank_index(log, id) >= 0)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "event 0 at offset 0x0: Spec ID declares algorithm 0x%04x twice", id);
                log->banks[log->n_banks++] =
                        (struct eventlog_bank){.alg_id = id, .digest_size = size, .alg = alg};
        }

        vendor_size = d[need - 1];
        avail = n - need;
        after = log->raw_size - (ev->offset + SHA1_RECORD_HEADER + n);
        if (vendor_size <= avail) {
                log->spec_id.vendor_info = d + need;
                log->spec_id.vendor_info_size = vendor_size;
                if (avail > vendor_size &&
                    add_warning(log,
                                "event 0 at offset 0x0: %zu unexpected bytes after the Spec "
                                "ID vendorInfo ignored",
                                avail - vendor_size) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        } else if (avail == 0 && vendor_size <= after) {
                /*
                 * The event size covers the structure up to vendorInfoSize but not the vendorInfo
                 * itself, which follows it (tpm2-tools' specid-vendordata fixture; firmware that
                 * computes the size from the fixed part only). The bytes are unambiguous, so take
                 * them and continue after them.
                 */
                log->spec_id.vendor_info = d + n;
                log->spec_id.vendor_info_size = vendor_size;
                *extra = vendor_size;
                if (add_warning(log,
                                "event 0 at offset 0x0: Spec ID event size %zu does not cover its %u-byte "
                                "vendorInfo; read it from the bytes that follow",
                                n, vendor_size) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        } else
                return cvm_error_set(
                        err, -EBADMSG,
                        "event 0 at offset 0x0: Spec ID vendorInfoSize %u exceeds the %zu bytes left "
                        "in the event",
                        vendor_size, avail);
        return 0;
}

/* Header fields shared by every Spec ID flavour, for display. */
static void record_spec_id_header(struct eventlog *log, const struct eventlog_event *ev)
{
        const uint8_t *d = ev->data;

        log->spec_id.present = true;
        memcpy(log->spec_id.signature, d, 16);
        log->spec_id.signature[16] = '\0';
        if (ev->data_size >= 24) {
                log->spec_id.platform_class = le32(d + 16);
                log->spec_id.version_minor = d[20];
                log->spec_id.version_major = d[21];
                log->spec_id.errata = d[22];
                log->spec_id.uintn_size = d[23];
        }
}

static bool is_spec_id_event(const struct eventlog_event *ev)
{
        return ev->type == EV_NO_ACTION && ev->data_size >= 16 &&
               memcmp(ev->data, "Spec ID Event", 13) == 0 && ev->data[15] == '\0';
}

/* One TCG_PCR_EVENT2 record at @off. */
static int parse_agile_record(struct eventlog *log, size_t *cap, size_t off, size_t *next,
                              struct cvm_error *err)
{
        const uint8_t *p = log->raw + off;
        size_t left = log->raw_size - off, pos;
        const uint8_t *digests[EVENTLOG_MAX_BANKS] = {};
        struct eventlog_event *ev;
        uint32_t number = (uint32_t)log->n_events, pcr, type, count, size;
        int r;

        if (left < 12)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event %u at offset 0x%zx: truncated event header: %zu bytes left, need at "
                        "least 12",
                        number, off, left);
        pcr = le32(p);
        type = le32(p + 4);
        count = le32(p + 8);
        if (!pcr_index_valid(pcr, type))
                return cvm_error_set(err, -EBADMSG,
                                     "event %u at offset 0x%zx: PCR index %u out of range 0..%u", number,
                                     off, pcr, EVENTLOG_MAX_PCRS - 1);
        if (count == 0)
                return cvm_error_set(err, -EBADMSG, "event %u at offset 0x%zx: digest count 0", number, off);
        if (count > log->n_banks)
                return cvm_error_set(err, -EBADMSG,
                                     "event %u at offset 0x%zx: digest count %u but Spec ID declares %zu "
                                     "algorithm%s",
                                     number, off, count, log->n_banks, log->n_banks == 1 ? "" : "s");
        pos = 12;
        for (uint32_t i = 0; i < count; i++) {
                uint16_t id;
                int b;

                if (left - pos < 2)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "event %u at offset 0x%zx: truncated digest %u: log ends at offset "
                                "0x%zx",
                                number, off, i, log->raw_size);
                id = le16(p + pos);
                b = eventlog_bank_index(log, id);
                if (b < 0)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "event %u at offset 0x%zx: digest %u uses algorithm 0x%04x, which the "
                                "Spec ID event does not declare",
                                number, off, i, id);
                if (digests[b])
                        return cvm_error_set(err, -EBADMSG,
                                             "event %u at offset 0x%zx: digest %u repeats algorithm 0x%04x",
                                             number, off, i, id);
                pos += 2;
                if (left - pos < log->banks[b].digest_size)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "event %u at offset 0x%zx: truncated digest %u (algorithm 0x%04x): "
                                "%zu bytes left, need %u",
                                number, off, i, id, left - pos, log->banks[b].digest_size);
                digests[b] = p + pos;
                pos += log->banks[b].digest_size;
        }
        if (left - pos < 4)
                return cvm_error_set(
                        err, -EBADMSG,
                        "event %u at offset 0x%zx: truncated event size field: %zu bytes left, need 4",
                        number, off, left - pos);
        size = le32(p + pos);
        pos += 4;
        r = check_pcr_and_size(number, off, pcr, type, size, left - pos, err);
        if (r < 0)
                return r;

        r = add_event(log, cap, &ev);
        if (r == -E2BIG)
                return cvm_error_set(err, -EBADMSG, "event %u at offset 0x%zx: more than %u events", number,
                                     off, EVENTLOG_MAX_EVENTS);
        if (r < 0)
                return cvm_error_set(err, r, "out of memory");
        ev->offset = off;
        ev->pcr = pcr;
        ev->type = type;
        memcpy(ev->digests, digests, sizeof(digests));
        ev->data = p + pos;
        ev->data_size = size;
        *next = off + pos + size;
        return 0;
}

/* --- digest checks ------------------------------------------------------------------------- */

#define MAX_CANDIDATES 24

struct candidates {
        size_t n;
        struct {
                const uint8_t *p;
                size_t len;
        } c[MAX_CANDIDATES];
};

static void candidate_add(struct candidates *c, const uint8_t *p, size_t len)
{
        if (c->n < MAX_CANDIDATES) {
                c->c[c->n].p = p;
                c->c[c->n].len = len;
                c->n++;
        }
}

/* Candidates with up to @max trailing NUL bytes removed (terminators are hashed by some producers only). */
static void candidate_add_nul_variants(struct candidates *c, const uint8_t *p, size_t len, size_t max)
{
        candidate_add(c, p, len);
        for (size_t i = 0; i < max && len > 0 && p[len - 1] == 0; i++) {
                len--;
                candidate_add(c, p, len);
        }
}

static bool has_prefix(const uint8_t *p, size_t n, const char *prefix)
{
        size_t l = strlen(prefix);

        return n >= l && memcmp(p, prefix, l) == 0;
}

/*
 * Byte ranges whose digest the producer of an event of this type records. Only types whose
 * digest is defined over the event data are listed; for all others the digest covers something
 * the log does not contain (a firmware volume, a PE image, a file) and nothing can be checked.
 */
static void digest_candidates(const struct eventlog_event *ev, struct candidates *c)
{
        static const char *const grub_prefixes[] = {
                "grub_cmd: ", "grub_cmd ", "kernel_cmdline: ", "kernel_cmdline ", "grub_kernel_cmdline ",
        };
        const uint8_t *d = ev->data;
        size_t n = ev->data_size;

        c->n = 0;
        switch (ev->type) {
        case EV_SEPARATOR:
        case EV_EFI_GPT_EVENT:
                candidate_add(c, d, n);
                return;
        case EV_ACTION:
        case EV_EFI_ACTION:
                candidate_add_nul_variants(c, d, n, 1);
                return;
        case EV_S_CRTM_VERSION:
                candidate_add_nul_variants(c, d, n, 2);
                return;
        case EV_EFI_VARIABLE_DRIVER_CONFIG:
        case EV_EFI_VARIABLE_BOOT:
        case EV_EFI_VARIABLE_BOOT2:
        case EV_EFI_VARIABLE_AUTHORITY: {
                uint64_t name_len, var_len;
                size_t struct_len;

                if (n < 32) {
                        candidate_add(c, d, n);
                        return;
                }
                name_len = le64(d + 16);
                var_len = le64(d + 24);
                if (name_len > (n - 32) / 2 || var_len > n - 32 - 2 * name_len) {
                        candidate_add(c, d, n);
                        return;
                }
                struct_len = 32 + 2 * (size_t)name_len + (size_t)var_len;
                /*
                 * UEFI_VARIABLE_DATA. Some firmware (EDK2's image verification, older shim) logs a few
                 * padding bytes after the structure and hashes part of them: accept any prefix that
                 * covers the whole structure.
                 */
                for (size_t k = struct_len; k <= n && k <= struct_len + 8; k++)
                        candidate_add(c, d, k);
                /* EV_EFI_VARIABLE_BOOT digests cover only VariableData per the PC Client spec. */
                if (ev->type == EV_EFI_VARIABLE_BOOT)
                        candidate_add(c, d + 32 + 2 * name_len, (size_t)var_len);
                return;
        }
        case EV_IPL:
                for (size_t i = 0; i < ELEMENTSOF(grub_prefixes); i++)
                        if (has_prefix(d, n, grub_prefixes[i])) {
                                size_t l = strlen(grub_prefixes[i]);
                                /* grub hashes the command or command line without its description prefix */
                                candidate_add_nul_variants(c, d + l, n - l, 1);
                                return;
                        }
                /* systemd-boot and friends: a UCS-2 string, hashed with or without its terminator */
                if (efi_looks_like_ucs2(d, n))
                        candidate_add_nul_variants(c, d, n, 3);
                return;
        default:
                return;
        }
}

static int check_event_digests(const struct eventlog *log, struct eventlog_event *ev)
{
        struct candidates c;
        bool checked = false;

        digest_candidates(ev, &c);
        if (c.n == 0) {
                ev->check = EVENTLOG_DIGEST_UNCHECKED;
                return 0;
        }
        for (size_t b = 0; b < log->n_banks; b++) {
                const struct hash_alg *alg = log->banks[b].alg;
                bool match = false, computed = false;

                if (!ev->digests[b] || !alg)
                        continue;
                for (size_t i = 0; i < c.n && !match; i++) {
                        uint8_t md[HASH_MAX_SIZE];
                        int r = hash_digest(alg, c.c[i].p, c.c[i].len, md);

                        if (r == -EOPNOTSUPP)
                                break; /* this build cannot compute the bank: not a finding */
                        if (r < 0)
                                return r;
                        computed = true;
                        match = memcmp(md, ev->digests[b], alg->size) == 0;
                }
                if (computed && !match)
                        ev->mismatch_banks |= 1u << b;
                checked = checked || computed;
        }
        ev->check = !checked                  ? EVENTLOG_DIGEST_UNCHECKED
                    : ev->mismatch_banks != 0 ? EVENTLOG_DIGEST_MISMATCH
                                              : EVENTLOG_DIGEST_MATCH;
        return 0;
}

/* --- parse --------------------------------------------------------------------------------- */

int eventlog_parse(const uint8_t *data, size_t size, struct eventlog **ret, struct cvm_error *err)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        size_t cap = 0, off = 0, last_nonzero;
        int r;

        if (size == 0)
                return cvm_error_set(err, -EBADMSG, "empty event log");
        if (size > EVENTLOG_MAX_SIZE)
                return cvm_error_set(err, -EBADMSG, "event log is %zu bytes, more than the limit of %u",
                                     size, EVENTLOG_MAX_SIZE);
        log = calloc(1, sizeof(*log));
        if (!log)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        log->raw = malloc(size);
        if (!log->raw)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        memcpy(log->raw, data, size);
        log->raw_size = size;

        /* The first record is always in the SHA-1 format; a Spec ID Event03 in it means crypto-agile. */
        r = parse_sha1_record(log, &cap, 0, &off, err);
        if (r < 0)
                return r;
        if (is_spec_id_event(&log->events[0]))
                record_spec_id_header(log, &log->events[0]);
        if (log->spec_id.present && strcmp(log->spec_id.signature, SPEC_ID_SIGNATURE) == 0) {
                size_t extra;

                log->format = EVENTLOG_FORMAT_CRYPTO_AGILE;
                /* The SHA-1 slot of the header is not a bank digest. */
                log->events[0].digests[0] = NULL;
                r = parse_spec_id(log, &log->events[0], &extra, err);
                if (r < 0)
                        return r;
                off += extra;
                log->events[0].data_size += extra;
        } else {
                log->format = EVENTLOG_FORMAT_SHA1;
                log->n_banks = 1;
                log->banks[0] = (struct eventlog_bank){
                        .alg_id = TPM_ALG_SHA1, .digest_size = 20, .alg = hash_alg_by_tpm_id(TPM_ALG_SHA1)};
        }

        /* Found once: testing the rest of the log for zeros at every event would be quadratic. */
        last_nonzero = size;
        while (last_nonzero > 0 && log->raw[last_nonzero - 1] == 0)
                last_nonzero--;
        while (off < size) {
                if (off >= last_nonzero) {
                        /* Logs copied out of a fixed-size firmware buffer end in zero padding. */
                        if (add_warning(
                                    log,
                                    "%zu bytes of zero padding after the last event at offset 0x%zx ignored",
                                    size - off, off) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
                if (log->format == EVENTLOG_FORMAT_CRYPTO_AGILE)
                        r = parse_agile_record(log, &cap, off, &off, err);
                else
                        r = parse_sha1_record(log, &cap, off, &off, err);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < log->n_events; i++) {
                r = check_event_digests(log, &log->events[i]);
                if (r < 0)
                        return cvm_error_set(err, r, "event %zu: cannot compute digest: %s", i,
                                             strerror(-r));
        }

        *ret = TAKE_PTR(log);
        return 0;
}

/* --- replay -------------------------------------------------------------------------------- */

static bool is_startup_locality(const struct eventlog_event *ev)
{
        return ev->type == EV_NO_ACTION && ev->data_size >= 17 &&
               memcmp(ev->data, STARTUP_LOCALITY, sizeof(STARTUP_LOCALITY)) == 0;
}

static bool data_is_string(const struct eventlog_event *ev, const char *s)
{
        size_t l = strlen(s), n = ev->data_size;

        /* Tolerate a trailing NUL: some firmware logs the terminator. */
        if (n == l + 1 && ev->data[l] == '\0')
                n = l;
        return n == l && memcmp(ev->data, s, l) == 0;
}

enum eventlog_ebs_status eventlog_ebs_status(const struct eventlog *log)
{
        bool uefi = false, separator = false;

        for (size_t i = 0; i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];

                if (ev->type >= EV_EFI_EVENT_BASE)
                        uefi = true;
                if (ev->pcr != 5)
                        continue;
                if (ev->type == EV_SEPARATOR)
                        separator = true;
                if (ev->type == EV_EFI_ACTION && data_is_string(ev, EVENTLOG_EBS_INVOCATION))
                        return EVENTLOG_EBS_PRESENT;
        }
        return uefi && separator ? EVENTLOG_EBS_MISSING : EVENTLOG_EBS_NOT_APPLICABLE;
}

static int extend_string(const struct hash_alg *alg, uint8_t *pcr, const char *s)
{
        uint8_t md[HASH_MAX_SIZE];
        int r;

        r = hash_digest(alg, s, strlen(s), md);
        if (r < 0)
                return r;
        return hash_extend(alg, pcr, md);
}

int eventlog_replay(const struct eventlog *log, unsigned flags, struct eventlog_pcrs *ret,
                    struct cvm_error *err)
{
        struct eventlog_pcrs p = {.n_banks = log->n_banks, .startup_locality = -1};
        bool pcr0_extended = false;
        int r;

        for (size_t b = 0; b < log->n_banks; b++) {
                struct eventlog_bank_pcrs *bp = &p.banks[b];
                uint8_t md[HASH_MAX_SIZE];

                bp->alg_id = log->banks[b].alg_id;
                bp->alg = log->banks[b].alg;
                /* Probe once: OpenSSL may lack an algorithm the registry knows (e.g. SM3 in FIPS mode). */
                bp->replayed = bp->alg && hash_digest(bp->alg, "", 0, md) == 0;
        }

        for (size_t i = 0; i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];

                if (!eventlog_event_is_extended(ev)) {
                        /* Honoured only before PCR 0 was first extended: it describes its initial value. */
                        if (is_startup_locality(ev) && ev->pcr == 0 && !pcr0_extended &&
                            p.startup_locality < 0) {
                                p.startup_locality = ev->data[16];
                                for (size_t b = 0; b < p.n_banks; b++)
                                        if (p.banks[b].replayed)
                                                p.banks[b].values[0][p.banks[b].alg->size - 1] =
                                                        ev->data[16];
                        }
                        continue;
                }
                if (ev->pcr == 0)
                        pcr0_extended = true;
                for (size_t b = 0; b < p.n_banks; b++) {
                        struct eventlog_bank_pcrs *bp = &p.banks[b];

                        if (!ev->digests[b]) {
                                bp->incomplete |= 1u << ev->pcr;
                                continue;
                        }
                        bp->touched |= 1u << ev->pcr;
                        if (!bp->replayed)
                                continue;
                        r = hash_extend(bp->alg, bp->values[ev->pcr], ev->digests[b]);
                        if (r < 0)
                                return cvm_error_set(err, r, "event %u: cannot extend PCR %u (%s): %s",
                                                     ev->number, ev->pcr, bp->alg->name, strerror(-r));
                }
                p.touched |= 1u << ev->pcr;
        }

        if ((flags & EVENTLOG_REPLAY_EBS_WORKAROUND) && eventlog_ebs_status(log) == EVENTLOG_EBS_MISSING) {
                for (size_t b = 0; b < p.n_banks; b++) {
                        struct eventlog_bank_pcrs *bp = &p.banks[b];

                        if (!bp->replayed)
                                continue;
                        r = extend_string(bp->alg, bp->values[5], EVENTLOG_EBS_INVOCATION);
                        if (r >= 0)
                                r = extend_string(bp->alg, bp->values[5], EVENTLOG_EBS_SUCCESS);
                        if (r < 0)
                                return cvm_error_set(err, r, "cannot extend PCR 5 (%s): %s", bp->alg->name,
                                                     strerror(-r));
                        bp->touched |= 1u << 5;
                }
                p.touched |= 1u << 5;
                p.ebs_appended = true;
        }

        *ret = p;
        return 0;
}
