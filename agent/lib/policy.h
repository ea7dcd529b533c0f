/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local appraisal policy: reference values for measured boot (per PCR bank: allowed event
 * digests in order, or PCR values), SEV-SNP report constraints and an IMA runtime allowlist;
 * appraisal of evidence against it with one precise explanation per mismatch; generation of
 * a policy from a known-good boot; additions for a new kernel/initrd/UKI before a reboot.
 * The format is documented in policy/README.md, policy/appraisal-policy.schema.json and
 * cvm-agent-policy(1).
 *
 * Usage:
 *      struct policy *p;
 *      r = policy_parse(text, len, &p, &err);       // err: "$.pcrs.sha256[\"7\"].events[3].digest: ..."
 *      struct policy_evidence ev = { .log = log, .snp = &report };
 *      struct policy_result *res;
 *      r = policy_appraise(p, &ev, &res, &err);     // r < 0 only for errors, not for mismatches
 *      if (!policy_result_allows(res, POLICY_MODE_ENFORCE)) ... res->mismatches[i].message ...
 *
 * Trust model. The event log is appraised as given: the caller must first check that it replays
 * to PCR values the TPM quoted (tpmquote.h) with a fresh nonce, otherwise a log can claim
 * anything. Event data (strings, variable names) is only used to explain, and to match a rule's
 * "data_prefix", which is honoured only for events whose digest was verified over their data.
 * The SNP report's signature and chain are the caller's business as well (snp.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"
#include "eventlog.h"
#include "hashalg.h"
#include "ima.h"
#include "snp.h"

#define POLICY_VERSION     1
#define POLICY_MAX_SIZE    (16u << 20) /* bytes of policy JSON */
#define POLICY_MAX_RULES   65536u      /* event rules over all PCRs and banks */
#define POLICY_MAX_DIGESTS (1u << 20)  /* digests over all rules, IMA entries included */
#define POLICY_MAX_DEPTH   16          /* JSON nesting */

struct policy;

/* What the caller does with a mismatch (the unlock path's "enforce" or "warn" setting). */
enum policy_mode {
        POLICY_MODE_ENFORCE, /* a mismatch refuses */
        POLICY_MODE_WARN,    /* a mismatch is reported, never refuses */
};

/**
 * policy_mode_from_string() - "enforce" / "warn" to enum policy_mode.
 * Return: 0, -EINVAL for anything else.
 */
int policy_mode_from_string(const char *s, enum policy_mode *ret);

/** policy_mode_to_string() - "enforce" or "warn". */
const char *policy_mode_to_string(enum policy_mode m);

/**
 * policy_parse() - parse and validate a policy document.
 * @text, @len: the JSON text (need not be NUL-terminated).
 * @ret: the compiled policy, freed with policy_free(); written only on success.
 * @err: for an invalid policy, one line naming the JSON path of the offending member and what
 *       is wrong, e.g. "$.pcrs.sha256[\"7\"].events[3].digest: not a hex string of 64 digits";
 *       syntax errors name the line and column. Unknown members are errors (a typo must never
 *       silently weaken a policy); "label", "description" and "comment" are allowed everywhere.
 * Return: 0; -EBADMSG invalid policy; -EOPNOTSUPP a version or bank this build does not know;
 *         -E2BIG over the POLICY_MAX_* limits; -ENOMEM.
 */
int policy_parse(const char *text, size_t len, struct policy **ret, struct cvm_error *err);

/**
 * policy_from_json() - as policy_parse(), from an already parsed document. The policy takes
 * its own reference on @doc; the caller keeps its reference.
 */
int policy_from_json(json_object *doc, struct policy **ret, struct cvm_error *err);

/** policy_free() - free a policy (NULL is fine). */
void policy_free(struct policy *p);

static inline void policy_freep(struct policy **p)
{
        policy_free(*p);
}

/** policy_json() - the validated document (borrowed; valid while @p lives). */
json_object *policy_json(const struct policy *p);

/** Which parts the policy constrains. */
bool policy_has_eventlog(const struct policy *p);
bool policy_has_snp(const struct policy *p);
bool policy_has_ima(const struct policy *p);

/* The evidence to appraise; every member may be NULL (that part is then not appraised and a
 * policy that constrains it reports "no evidence" as a mismatch). */
struct policy_evidence {
        const struct eventlog *log;
        /* PCR values to compare "values" with: normally NULL, then the log's replay (without the
           EBS workaround) is used; callers that quoted different values must not appraise. */
        const struct eventlog_pcrs *pcrs;
        const struct snp_report *snp;
        /* IMA log as a whole (memory); NULL when not appraised. Appraised with the same rules
           as policy_ima_appraise_entry(). */
        const uint8_t *ima_log;
        size_t ima_log_size;
};

enum policy_area {
        POLICY_AREA_EVIDENCE, /* a policy part without the evidence it needs */
        POLICY_AREA_EVENTLOG, /* event sequence, event digests, log-wide checks */
        POLICY_AREA_PCR,      /* PCR values */
        POLICY_AREA_SNP,
        POLICY_AREA_IMA,
};

/** policy_area_to_string() - "evidence", "eventlog", "pcr", "snp", "ima". */
const char *policy_area_to_string(enum policy_area a);

struct policy_mismatch {
        enum policy_area area;
        char *constraint;     /* JSON path of the policy member that was not met, "$.snp.vmpl" */
        char *message;        /* one line for an operator, e.g. "PCR 4 (sha256), event 30 ..." */
        json_object *details; /* structured form: pcr, bank, event {number, type, description},
                                 seen, allowed [..], field, required, actual ... */
};

struct policy_result {
        size_t n_mismatches;
        struct policy_mismatch *mismatches;
        size_t n_notes;
        char **notes;         /* things not checked or tolerated, e.g. "PCR 10 is not covered" */
        json_object *summary; /* {"eventlog": {"banks": {"sha256": [pcrs]}, "events": n}, "snp": bool,
                                 "ima": {"entries": n, ...}} */
};

/**
 * policy_appraise() - appraise @ev against @p.
 * @ret: the result (free with policy_result_free()); every mismatch is in it. A mismatch is
 *       not an error: the return value is 0 whatever the verdict.
 * Return: 0; -ENOMEM; -EIO (hash failure); -EBADMSG only for malformed IMA log data.
 *
 * Event rules: for each bank and PCR in the policy, the log's extended events of that PCR are
 * matched, in log order, against "events" (sequence order: each rule matches one event, or zero
 * when "optional", or several when "repeat"; "any" order: every event must match some rule).
 * An event that matches no rule at its position, a rule left unmatched and an event without a
 * digest for the bank are mismatches, so inserting, dropping or reordering measurements in an
 * appraised PCR is always detected.
 */
int policy_appraise(const struct policy *p, const struct policy_evidence *ev, struct policy_result **ret,
                    struct cvm_error *err);

/** policy_result_ok() - true when there is no mismatch. */
bool policy_result_ok(const struct policy_result *r);

/** policy_result_allows() - true when the result passes in @mode (always in WARN mode). */
bool policy_result_allows(const struct policy_result *r, enum policy_mode mode);

/**
 * policy_result_to_json() - {"result": "match"|"mismatch", "mismatches": [{"area",
 * "constraint", "message", ...details}], "notes": [..], "checked": summary}.
 * Return: 0 or -ENOMEM; @ret is a new reference.
 */
int policy_result_to_json(const struct policy_result *r, json_object **ret);

/** policy_result_free() - free a result (NULL is fine). */
void policy_result_free(struct policy_result *r);

static inline void policy_result_freep(struct policy_result **r)
{
        policy_result_free(*r);
}

/* --- IMA, one entry at a time (for the monitoring daemon) ----------------------------------- */

enum policy_ima_verdict {
        POLICY_IMA_ALLOWED,       /* digest allowed for this path, allowed anywhere, or signed */
        POLICY_IMA_EXCLUDED,      /* path excluded from appraisal */
        POLICY_IMA_UNKNOWN,       /* no allowlist entry and no valid signature */
        POLICY_IMA_WRONG_DIGEST,  /* the path is in the allowlist with other digests */
        POLICY_IMA_BAD_SIGNATURE, /* a signature by a policy key (key id match) that does not verify */
        POLICY_IMA_VIOLATION,     /* a measurement violation (all-zero template hash) */
        POLICY_IMA_INVALID,       /* the template hash does not match the template data */
};

/** policy_ima_verdict_to_string() - "allowed", "excluded", "unknown", ... */
const char *policy_ima_verdict_to_string(enum policy_ima_verdict v);

#define POLICY_IMA_MESSAGE_MAX 512

struct policy_ima_result {
        enum policy_ima_verdict verdict;
        bool ok;                              /* ALLOWED or EXCLUDED (or tolerated VIOLATION) */
        char message[POLICY_IMA_MESSAGE_MAX]; /* "entry 12 /usr/bin/foo: sha256:ab.. not allowed ..." */
};

/**
 * policy_ima_appraise_entry() - appraise one IMA entry (from ima_reader_next()) against the
 * policy's "ima" part. Entries without a path or digest (ima-buf) are allowed when their
 * digest is allowlisted or their name excluded, else UNKNOWN. "boot_aggregate" is allowed
 * unless the policy lists digests for it.
 * Return: 0 (verdict in @ret); -ENOENT when the policy has no "ima" part; -ENOMEM.
 */
int policy_ima_appraise_entry(const struct policy *p, const struct ima_entry *e,
                              struct policy_ima_result *ret, struct cvm_error *err);

/* --- generation ------------------------------------------------------------------------------ */

struct policy_generate_options {
        /* Banks to emit event rules for; none set: sha256 when the log has it, else its first bank. */
        const struct hash_alg *banks[EVENTLOG_MAX_BANKS];
        size_t n_banks;
        uint32_t pcr_mask; /* PCRs to cover; 0: every PCR the log extends */
        bool pcr_values;   /* also pin the replayed PCR values */
        const char *source_eventlog, *source_report, *source_ima; /* names for "generated" */
        const char *generator;                                    /* e.g. "cvm-agent 0.1.0" */
        const char *created_at; /* RFC 3339; NULL: omitted (reproducible output) */
};

/**
 * policy_generate() - a policy that accepts exactly the given evidence: event rules labelled
 * "event N: description" with a class (boot_application, kernel, initrd, kernel_cmdline, ...),
 * the SNP report's measurement, TCB, VMPL, keys, IDs and policy bits, and an IMA allowlist of
 * every (path, digest) in the IMA log.
 * @ret: the document (new reference); it passes policy_parse() and appraises @ev as a match.
 * Return: 0; -EINVAL when @ev holds no evidence at all; -EOPNOTSUPP for a requested bank the
 *         log lacks; -EBADMSG malformed IMA log; -ENOMEM.
 */
int policy_generate(const struct policy_evidence *ev, const struct policy_generate_options *opts,
                    json_object **ret, struct cvm_error *err);

/* --- kernel / bootloader updates ------------------------------------------------------------- */

#define POLICY_BOOT_MAX_FILES 8

/* A digest of something in every bank the policy uses, computed by policy_boot_digests(). */
struct policy_boot_entry {
        /* Kernel or UKI image (PE/COFF); NULL when not given. */
        const uint8_t *kernel;
        size_t kernel_size;
        bool is_uki;
        const char
                *kernel_path; /* the path the bootloader names it by, e.g. "/boot/vmlinuz-6.1.0-18-amd64" */
        const uint8_t *initrd[POLICY_BOOT_MAX_FILES];
        size_t initrd_size[POLICY_BOOT_MAX_FILES];
        const char *initrd_path[POLICY_BOOT_MAX_FILES];
        size_t n_initrd;
        const char *cmdline; /* kernel command line after the kernel path; NULL: not given */
};

/**
 * policy_add_boot_entry() - add the digests a boot of @e would measure to the matching rules
 * of @doc (modified in place; validate the result with policy_from_json()):
 *  - class "kernel": Authenticode digest of the PE image for EV_EFI_BOOT_SERVICES_APPLICATION
 *    rules (shim, firmware), file digest for EV_IPL rules (grub's PCR 9 file measurement);
 *  - class "initrd": file digest (grub's PCR 9 measurement, the kernel's "Linux initrd" tag);
 *  - class "kernel_cmdline": grub "kernel_cmdline: PATH ARGS" (PCR 8) or the UCS-2 command
 *    line of systemd-stub (PCR 12); class "grub_kernel_command" ("linux PATH ARGS") and
 *    "grub_initrd_command" ("initrd PATHS");
 *  - class "uki_section" with "section": the digest of that PE section of a UKI (PCR 11).
 * @ret_added: a new JSON array of {"constraint", "class", "digest", "what"} for every digest
 *             added (digests already present are not repeated); may be NULL.
 * Return: 0; -ENOENT when no rule of @doc matches anything @e provides (nothing added);
 *         -EBADMSG when the kernel/UKI is not a valid PE image; -EINVAL for @doc not being a
 *         policy; -ENOMEM.
 */
int policy_add_boot_entry(json_object *doc, const struct policy_boot_entry *e, json_object **ret_added,
                          struct cvm_error *err);
