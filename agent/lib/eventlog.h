/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCG PC Client measured-boot event log (/sys/kernel/security/tpm0/binary_bios_measurements):
 * parsing of the crypto-agile format (TCG_PCR_EVENT2 records after a "Spec ID Event03" header)
 * and of the legacy SHA-1 format (TCG_PCClientPCREvent, TCG 1.2 / EFI 1.x), replay into
 * per-bank PCR values, per-event descriptions and a JSON rendering.
 *
 * Usage:
 *      struct eventlog *log = NULL;
 *      struct eventlog_pcrs pcrs;
 *      r = eventlog_parse(buf, size, &log, &err);      // structural checks, digest checks
 *      r = eventlog_replay(log, 0, &pcrs, &err);        // PCR values per bank
 *      r = eventlog_to_json(log, NULL, &json, &err);    // the `cvm-agent eventlog --json` document
 *      eventlog_free(log);
 *
 * Replay rules: EV_NO_ACTION events are never extended (this covers the Spec ID event,
 * StartupLocality, SP800-155 Event3 records, NvIndex* records); a "StartupLocality" event in
 * PCR 0 sets the initial PCR 0 value to 00..0N (N = locality) in every bank. Every other
 * event is extended by the digest it records, whether or not that digest matches its data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"
#include "hashalg.h"

/* Limits against hostile input; anything larger is refused with -EBADMSG and a message. */
#define EVENTLOG_MAX_BANKS      8           /* digests per event / algorithms in the Spec ID event */
#define EVENTLOG_MAX_PCRS       24          /* PC Client TPMs have PCR 0..23 */
#define EVENTLOG_MAX_EVENT_DATA (16u << 20) /* bytes of event data in one event */
#define EVENTLOG_MAX_SIZE       (64u << 20) /* whole log; the kernel's logs are a few hundred KiB */
#define EVENTLOG_MAX_EVENTS     (1u << 18)  /* real logs have hundreds to a few thousand events */

/* TCG PC Client Platform Firmware Profile event types. */
#define EV_PREBOOT_CERT                  0x00000000u
#define EV_POST_CODE                     0x00000001u
#define EV_UNUSED                        0x00000002u
#define EV_NO_ACTION                     0x00000003u
#define EV_SEPARATOR                     0x00000004u
#define EV_ACTION                        0x00000005u
#define EV_EVENT_TAG                     0x00000006u
#define EV_S_CRTM_CONTENTS               0x00000007u
#define EV_S_CRTM_VERSION                0x00000008u
#define EV_CPU_MICROCODE                 0x00000009u
#define EV_PLATFORM_CONFIG_FLAGS         0x0000000au
#define EV_TABLE_OF_DEVICES              0x0000000bu
#define EV_COMPACT_HASH                  0x0000000cu
#define EV_IPL                           0x0000000du
#define EV_IPL_PARTITION_DATA            0x0000000eu
#define EV_NONHOST_CODE                  0x0000000fu
#define EV_NONHOST_CONFIG                0x00000010u
#define EV_NONHOST_INFO                  0x00000011u
#define EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define EV_POST_CODE2                    0x00000013u
#define EV_EFI_EVENT_BASE                0x80000000u
#define EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define EV_EFI_VARIABLE_BOOT             0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define EV_EFI_GPT_EVENT                 0x80000006u
#define EV_EFI_ACTION                    0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define EV_EFI_HANDOFF_TABLES            0x80000009u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000au
#define EV_EFI_HANDOFF_TABLES2           0x8000000bu
#define EV_EFI_VARIABLE_BOOT2            0x8000000cu
#define EV_EFI_GPT_EVENT2                0x8000000du
#define EV_EFI_HCRTM_EVENT               0x80000010u
#define EV_EFI_VARIABLE_AUTHORITY        0x800000e0u
#define EV_EFI_SPDM_FIRMWARE_BLOB        0x800000e1u
#define EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000e2u
#define EV_EFI_SPDM_DEVICE_POLICY        0x800000e3u
#define EV_EFI_SPDM_DEVICE_AUTHORITY     0x800000e4u

/* The strings firmware measures into PCR 5 around ExitBootServices() (EV_EFI_ACTION). */
#define EVENTLOG_EBS_INVOCATION "Exit Boot Services Invocation"
#define EVENTLOG_EBS_SUCCESS    "Exit Boot Services Returned with Success"

enum eventlog_format {
        EVENTLOG_FORMAT_SHA1,         /* TCG 1.2 style: every event has one SHA-1 digest */
        EVENTLOG_FORMAT_CRYPTO_AGILE, /* Spec ID Event03 header, then TCG_PCR_EVENT2 records */
};

/* Outcome of comparing an event's recorded digests with its data. */
enum eventlog_digest_check {
        EVENTLOG_DIGEST_UNCHECKED, /* the digest is not defined over the event data for this type */
        EVENTLOG_DIGEST_MATCH,     /* every computable bank matches */
        EVENTLOG_DIGEST_MISMATCH,  /* at least one bank does not (see mismatch_banks) */
};

/* A hash algorithm the log records (from the Spec ID event; SHA-1 only for SHA1-format logs). */
struct eventlog_bank {
        uint16_t alg_id;            /* TPM_ALG_ID */
        uint16_t digest_size;       /* as declared by the Spec ID event */
        const struct hash_alg *alg; /* NULL for an algorithm this build does not know */
};

struct eventlog_event {
        uint32_t number; /* position in the log, 0 = first record (the Spec ID event if any),
                                  the numbering tpm2_eventlog uses */
        size_t offset;   /* byte offset of the record in the log */
        uint32_t pcr;
        uint32_t type;
        /* digests[b] is the digest for log->banks[b] (digest_size bytes, pointing into the log's
           copy of the input), or NULL when the event has no digest for that bank. */
        const uint8_t *digests[EVENTLOG_MAX_BANKS];
        const uint8_t *data; /* event data, pointing into the log's copy of the input */
        size_t data_size;
        enum eventlog_digest_check check;
        uint32_t mismatch_banks; /* bit b set: digests[b] does not match the event data */
};

/* Fields of the Spec ID event (TCG_EfiSpecIdEvent), when the log starts with one. */
struct eventlog_spec_id {
        bool present;
        char signature[17]; /* "Spec ID Event03", "Spec ID Event00", ... */
        uint32_t platform_class;
        uint8_t version_minor, version_major, errata, uintn_size;
        const uint8_t *vendor_info;
        size_t vendor_info_size;
};

struct eventlog {
        enum eventlog_format format;
        struct eventlog_spec_id spec_id;
        size_t n_banks;
        struct eventlog_bank banks[EVENTLOG_MAX_BANKS];
        size_t n_events;
        struct eventlog_event *events;
        size_t n_warnings; /* tolerated oddities found while parsing, e.g. trailing zero padding */
        char **warnings;
        uint8_t *raw; /* private copy of the input; events point into it */
        size_t raw_size;
};

/**
 * eventlog_parse() - parse a binary event log, auto-detecting its format.
 * @data, @size: the log as read from binary_bios_measurements; copied, so the caller may free it.
 * @ret: the parsed log on success (free with eventlog_free()).
 * @err: receives "event N at offset 0xX: what" for malformed input; may be NULL.
 *
 * The whole structure is validated: record headers and sizes against the remaining bytes, PCR
 * indexes (< EVENTLOG_MAX_PCRS), digest counts and algorithms against the Spec ID event, and the
 * limits above. Digests of event types whose digest is defined over their data (EV_SEPARATOR,
 * EV_ACTION, EV_EFI_ACTION, EV_EFI_VARIABLE_*, EV_EFI_GPT_EVENT, EV_S_CRTM_VERSION, and EV_IPL
 * strings of known bootloaders) are compared with the data; a mismatch is a finding recorded
 * in the event (->check), never a parse failure.
 *
 * Return: 0; -EBADMSG for empty, truncated or inconsistent input; -EOPNOTSUPP for a Spec ID
 * event that declares an algorithm with an impossible digest size; -ENOMEM.
 */
int eventlog_parse(const uint8_t *data, size_t size, struct eventlog **ret, struct cvm_error *err);

/** eventlog_free() - free a parsed log (NULL is fine). */
void eventlog_free(struct eventlog *log);

static inline void eventlog_freep(struct eventlog **log)
{
        eventlog_free(*log);
}

/**
 * eventlog_type_name() - "EV_EFI_ACTION" etc. for an event type.
 * Return: a static string, or NULL for a type this module does not know.
 */
const char *eventlog_type_name(uint32_t type);

/** eventlog_bank_index() - index into log->banks of the bank for @alg_id, or -1. */
int eventlog_bank_index(const struct eventlog *log, uint16_t alg_id);

/** eventlog_event_is_extended() - false for events that are never extended (EV_NO_ACTION). */
bool eventlog_event_is_extended(const struct eventlog_event *ev);

/* Replay results for one bank. */
struct eventlog_bank_pcrs {
        uint16_t alg_id;
        const struct hash_alg *alg; /* NULL: unknown algorithm, the bank was not replayed */
        bool replayed;              /* false when the algorithm cannot be computed */
        uint32_t touched;           /* bit i: PCR i was extended at least once in this bank */
        uint32_t incomplete;        /* bit i: some PCR i event had no digest for this bank */
        uint8_t values[EVENTLOG_MAX_PCRS][HASH_MAX_SIZE];
};

struct eventlog_pcrs {
        size_t n_banks; /* same order as log->banks */
        struct eventlog_bank_pcrs banks[EVENTLOG_MAX_BANKS];
        uint32_t touched;     /* union over the banks */
        int startup_locality; /* from a StartupLocality event, -1 when none was honoured */
        bool ebs_appended;    /* EVENTLOG_REPLAY_EBS_WORKAROUND added events to PCR 5 */
};

enum {
        /* Append the two ExitBootServices EV_EFI_ACTION digests to PCR 5 when the log lacks them
           (see eventlog_ebs_status()); go-attestation's "EBS workaround". */
        EVENTLOG_REPLAY_EBS_WORKAROUND = 1u << 0,
};

/**
 * eventlog_replay() - compute the PCR values the log implies, for every bank.
 * @flags: EVENTLOG_REPLAY_* bits.
 * @ret: the values (untouched PCRs hold their reset value, zero).
 * Return: 0, -ENOMEM, -EIO on a hash failure. Banks whose algorithm this build cannot compute
 * are reported with ->replayed = false rather than failing.
 */
int eventlog_replay(const struct eventlog *log, unsigned flags, struct eventlog_pcrs *ret,
                    struct cvm_error *err);

enum eventlog_ebs_status {
        EVENTLOG_EBS_NOT_APPLICABLE, /* not a UEFI log that reached a PCR 5 separator */
        EVENTLOG_EBS_PRESENT,        /* the log has the "Exit Boot Services Invocation" action */
        EVENTLOG_EBS_MISSING,        /* a UEFI log without it: PCR 5 in the TPM is likely two events ahead */
};

/**
 * eventlog_ebs_status() - whether the ExitBootServices actions are missing from PCR 5.
 * SHA1-format logs copied before ExitBootServices() (and some kernels' crypto-agile logs) never
 * contain them although the firmware measured them.
 */
enum eventlog_ebs_status eventlog_ebs_status(const struct eventlog *log);

/**
 * eventlog_event_describe() - a short one-line human description of event @index, e.g. an
 * EFI application's device path, "SecureBoot = 1", a grub command. Control characters are
 * escaped, so the result is safe to print on a terminal.
 * @ret: the string, caller frees. Return: 0 or -ENOMEM.
 */
int eventlog_event_describe(const struct eventlog *log, size_t index, char **ret);

/**
 * eventlog_event_details() - the decoded event data as a JSON object (fields depend on the
 * type: "string", "variable_guid"/"variable_name"/"value", "device_path", "partitions", ...).
 * Return: 0 or -ENOMEM; @ret is a new reference.
 */
int eventlog_event_details(const struct eventlog *log, size_t index, json_object **ret);

struct eventlog_json_options {
        const struct hash_alg *bank; /* only this bank in "pcrs" and in events' "digests"; NULL: all */
        bool pcrs_only;              /* omit "events" */
};

/**
 * eventlog_to_json() - the full JSON document of `cvm-agent eventlog --json`: "format",
 * "banks", "spec_id", "pcrs" {bank: {index: hex}} for every PCR the log extends, "events",
 * "digest_mismatches", "warnings", "ebs" and, when the ExitBootServices actions are missing,
 * "ebs_workaround" with the alternative PCR 5 values. See cvm-agent-eventlog(1).
 * @opts: may be NULL.
 * Return: 0, -ENOMEM, -EIO; @ret is a new reference.
 */
int eventlog_to_json(const struct eventlog *log, const struct eventlog_json_options *opts, json_object **ret,
                     struct cvm_error *err);
