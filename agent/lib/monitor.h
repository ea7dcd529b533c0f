/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integrity monitoring, the pure part: findings and their bookkeeping, the state machine
 * (healthy / degraded / violated), the status file (JSON render and parse), SNP report field
 * records and their comparison, reactions (parse and selection), the classification of a
 * re-attestation result, scheduling jitter and Prometheus textfile metrics.
 *
 * The daemon (cvm-agent monitor) gathers evidence and feeds findings in; nothing here touches
 * the TPM, the journal or the network, so all of it is unit-tested and the status-file parser
 * is fuzzed.
 *
 * Semantics of a finding:
 *  - A violation (boot PCR changed, event log no longer replays, IMA entry not allowed, quote
 *    invalid, SNP identity changed, verifier refused) is sticky: it stays until the daemon
 *    restarts, even when a later check does not see it again (an IMA entry is appraised once).
 *  - A degraded finding (TPM or verifier unreachable, log unreadable, SNP TCB differs from the
 *    value at start) describes the current condition: it disappears when a check no longer
 *    reports it (monitor_check_begin() / monitor_check_end()).
 *  - Findings are de-duplicated on (class, severity, pcr, path, expected, actual, message): a
 *    condition seen by every check is one finding with a count.
 * Memory is bounded: at most MONITOR_MAX_FINDINGS findings are kept; further new ones are
 * counted in findings_dropped (and still reported to the caller as new, so they are logged).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"
#include "snp.h"

#define MONITOR_STATUS_VERSION 1
#define MONITOR_MAX_FINDINGS   64
#define MONITOR_FIELD_MAX      1024       /* longest message, path, expected or actual value kept */
#define MONITOR_STATUS_MAX     (1u << 20) /* largest status file accepted by the parser */
#define MONITOR_MAX_ACTIONS    8          /* reactions per finding class */

enum monitor_class {
        MONITOR_CLASS_PCR,         /* a boot-time PCR changed since the first check */
        MONITOR_CLASS_EVENTLOG,    /* the TCG event log does not parse or replay to the quoted PCRs */
        MONITOR_CLASS_IMA,         /* IMA entry not allowed by policy, or the IMA log does not replay */
        MONITOR_CLASS_QUOTE,       /* quote signature or nonce invalid */
        MONITOR_CLASS_SNP,         /* SNP report fields changed since the first check */
        MONITOR_CLASS_ATTESTATION, /* the verifier refused the evidence */
        MONITOR_CLASS_UNAVAILABLE, /* a check could not run: TPM, log or verifier unreachable */
        _MONITOR_CLASS_MAX,
};

enum monitor_severity {
        MONITOR_SEVERITY_DEGRADED,
        MONITOR_SEVERITY_VIOLATION,
};

enum monitor_state {
        MONITOR_STATE_HEALTHY,
        MONITOR_STATE_DEGRADED,
        MONITOR_STATE_VIOLATED,
};

/** monitor_class_to_string() - "pcr", "eventlog", "ima", "quote", "snp", "attestation", "unavailable". */
const char *monitor_class_to_string(enum monitor_class c);
/** monitor_class_from_string() - inverse of monitor_class_to_string(). Return: 0, -EINVAL. */
int monitor_class_from_string(const char *s, enum monitor_class *ret);
/** monitor_severity_to_string() - "degraded" or "violation". */
const char *monitor_severity_to_string(enum monitor_severity s);
/** monitor_state_to_string() - "healthy", "degraded", "violated". */
const char *monitor_state_to_string(enum monitor_state s);
/** monitor_state_from_string() - inverse of monitor_state_to_string(). Return: 0, -EINVAL. */
int monitor_state_from_string(const char *s, enum monitor_state *ret);

/* What a check reports; strings are copied (and truncated to MONITOR_FIELD_MAX - 1 bytes). */
struct monitor_finding_spec {
        enum monitor_class cls;
        enum monitor_severity severity;
        const char *message;  /* required: one line for operators */
        int pcr;              /* -1: none */
        const char *path;     /* NULL: none (IMA file path, event log path) */
        const char *expected; /* NULL: none (lowercase hex, or a short value) */
        const char *actual;   /* NULL: none */
        const char *verifier; /* NULL: none (re-attestation) */
};

struct monitor_finding {
        enum monitor_class cls;
        enum monitor_severity severity;
        int pcr;
        char *message, *path, *expected, *actual, *verifier; /* owned; NULL when absent */
        uint64_t first_usec, last_usec;                      /* CLOCK_REALTIME, microseconds */
        uint64_t count;                                      /* checks that reported it */
        bool stale; /* degraded finding not (yet) re-reported by this check */
};

/* SNP report fields worth watching (from the HCL report or the SNP report itself). */
struct monitor_snp {
        bool present;
        uint32_t version, guest_svn, vmpl;
        uint64_t policy, current_tcb, reported_tcb, committed_tcb, launch_tcb, platform_info;
        char measurement[2 * 48 + 1], host_data[2 * 32 + 1], id_key_digest[2 * 48 + 1],
                author_key_digest[2 * 48 + 1], report_id[2 * 32 + 1], chip_id[2 * 64 + 1];
};

struct monitor_status {
        int pid;                        /* the daemon's; 0 when unknown */
        uint64_t started_usec;          /* CLOCK_REALTIME, 0: unknown */
        uint64_t last_check_usec;       /* end of the last check, 0: none yet */
        uint64_t last_success_usec;     /* end of the last check that found nothing, 0: none */
        uint64_t last_attestation_usec; /* last accepted re-attestation, 0: none */
        uint64_t token_expiry_usec;     /* expiry of the verifier's token, 0: unknown */
        uint64_t interval_usec;         /* the configured interval (for staleness), 0: unknown */
        uint64_t checks;                /* completed checks */
        uint64_t last_duration_usec;    /* wall time of the last check */
        uint64_t ima_entries;           /* IMA entries verified and appraised so far */
        uint64_t findings_total[_MONITOR_CLASS_MAX]; /* new findings per class since start */
        uint64_t findings_dropped;                   /* new findings not kept (MONITOR_MAX_FINDINGS) */
        char *last_checked;     /* what the last check covered, one line; owned; may be NULL */
        struct monitor_snp snp; /* recorded at the first check that had a report */
        bool found_in_check;    /* internal: the current check reported something */
        size_t n_findings;
        struct monitor_finding findings[MONITOR_MAX_FINDINGS];
};

/** monitor_status_init() - an empty status (no checks, no findings). */
void monitor_status_init(struct monitor_status *s);

/** monitor_status_done() - free what @s owns; @s is then empty (as after init). */
void monitor_status_done(struct monitor_status *s);

/** monitor_status_state() - violated if any violation, degraded if any degraded finding, else healthy. */
enum monitor_state monitor_status_state(const struct monitor_status *s);

/**
 * monitor_check_begin() - start a check: degraded findings are marked stale, so those the
 * check does not report again are dropped by monitor_check_end().
 */
void monitor_check_begin(struct monitor_status *s);

/**
 * monitor_add_finding() - record what a check found at @now_usec.
 * Return: 1 when the finding is new (the caller logs it and runs the reactions), 0 when it
 * repeats a recorded one (its count and last time are updated), -EINVAL for a spec without a
 * message or with an invalid class, -ENOMEM.
 */
int monitor_add_finding(struct monitor_status *s, const struct monitor_finding_spec *f, uint64_t now_usec);

/**
 * monitor_check_end() - finish a check: drop degraded findings that were not reported again,
 * count the check, and set last_check (and last_success when nothing was found at all).
 * @cleared: when not NULL, receives how many findings were dropped (conditions that ended).
 */
void monitor_check_end(struct monitor_status *s, uint64_t now_usec, uint64_t duration_usec, size_t *cleared);

/**
 * monitor_status_set_checked() - replace the "what was last checked" line. Return: 0, -ENOMEM.
 */
int monitor_status_set_checked(struct monitor_status *s, const char *line);

/**
 * monitor_status_to_json() - the status file document: "version", "state", "pid", "started",
 * "last_check", "last_success", "last_attestation", "token_expiry" (RFC 3339 or null),
 * "interval_seconds", "checks", "last_duration_ms", "last_checked", "ima_entries",
 * "findings_total" {class: n}, "findings_dropped", "snp" (recorded fields or null),
 * "findings": [{"class", "severity", "message", "pcr"?, "path"?, "expected"?, "actual"?,
 * "verifier"?, "first_seen", "last_seen", "count"}].
 * @ret: a new object. Return: 0 or -ENOMEM.
 */
int monitor_status_to_json(const struct monitor_status *s, json_object **ret);

/**
 * monitor_status_parse() - parse a status file (untrusted: it may be truncated or written by
 * another version). Unknown members are ignored; "version" must be 1; "state" must agree with
 * the findings.
 * @ret: initialised and filled on success (release with monitor_status_done()); untouched on error.
 * Return: 0; -EBADMSG naming the member at fault; -ENOMEM.
 */
int monitor_status_parse(const char *text, size_t len, struct monitor_status *ret, struct cvm_error *err);

/**
 * monitor_status_write() - write @s as JSON to @path atomically: a temporary file in the same
 * directory, fsync, rename over @path, fsync of the directory. Readers see the old or the new
 * file, never a partial one. Mode 0644.
 * Return: 0 or negative errno (with @err naming the file).
 */
int monitor_status_write(const struct monitor_status *s, const char *path, struct cvm_error *err);

/**
 * monitor_write_atomic() - the same for any @data (metrics). Return: 0 or negative errno.
 */
int monitor_write_atomic(const char *path, const void *data, size_t size, struct cvm_error *err);

/** monitor_snp_record() - copy the watched fields of @r into @ret (present = true). */
void monitor_snp_record(const struct snp_report *r, struct monitor_snp *ret);

/**
 * monitor_snp_compare() - report every watched field that differs between @baseline (the first
 * report) and @now as a finding of class snp: TCB values (current, reported, committed,
 * launch) and platform_info as degraded (they change with firmware updates and live migration),
 * identity fields (measurement, host_data, ID/author keys, policy, VMPL, guest SVN, chip ID,
 * report ID, version) as violations.
 * Return: number of findings that were new, or -ENOMEM.
 */
int monitor_snp_compare(struct monitor_status *s, const struct monitor_snp *baseline,
                        const struct monitor_snp *now, uint64_t now_usec);

/* --- reactions ------------------------------------------------------------------------------- */

enum monitor_action_type {
        MONITOR_ACTION_LOG,      /* journal entry only (always done anyway) */
        MONITOR_ACTION_HOOK,     /* run the executables in a directory */
        MONITOR_ACTION_CLOSE,    /* close named LUKS volumes (comma-separated; never the root volume) */
        MONITOR_ACTION_POWEROFF, /* power the VM off */
};

struct monitor_action {
        enum monitor_action_type type;
        char *arg; /* HOOK: directory; CLOSE: comma-separated names; NULL otherwise */
};

struct monitor_reactions {
        size_t n[_MONITOR_CLASS_MAX];
        struct monitor_action actions[_MONITOR_CLASS_MAX][MONITOR_MAX_ACTIONS];
};

/** monitor_action_type_to_string() - "log", "hook", "close", "poweroff". */
const char *monitor_action_type_to_string(enum monitor_action_type t);

/**
 * monitor_reactions_add() - parse one "CLASS=ACTION" (the --reaction option, later the
 * configuration file), CLASS being a class name, "violation" (every class with violations:
 * all but unavailable) or "all"; ACTION one of "log", "hook:DIR" (absolute), "close:NAME[,NAME..]"
 * (device-mapper names: [A-Za-z0-9_.+-], 1..127 bytes) or "poweroff". Actions accumulate per class.
 * Return: 0; -EINVAL with the reason in @err; -E2BIG when a class already has
 * MONITOR_MAX_ACTIONS actions; -ENOMEM.
 */
int monitor_reactions_add(struct monitor_reactions *r, const char *spec, struct cvm_error *err);

/** monitor_reactions_done() - free the actions' arguments; @r is then empty. */
void monitor_reactions_done(struct monitor_reactions *r);

/**
 * monitor_close_select() - the volumes a close:NAMES action may close: the names of @names
 * (comma-separated) that are not in @protected (NULL-terminated: the volumes that back /, /usr
 * or swap; may be NULL), without duplicates, in their order.
 * @ret: NULL-terminated array, free with strv_free()-like monitor_strv_free().
 * @ret_refused: when not NULL, the protected names that were asked for (same format).
 * Return: number selected, or -ENOMEM / -EINVAL (a name that is not a valid dm name).
 */
int monitor_close_select(const char *names, const char *const *protected, char ***ret, char ***ret_refused);

/** monitor_strv_free() - free a NULL-terminated string array (NULL is fine). */
void monitor_strv_free(char **v);

/**
 * monitor_finding_env() - the environment of a hook for @f: CVM_AGENT_CLASS, CVM_AGENT_SEVERITY,
 * CVM_AGENT_MESSAGE, CVM_AGENT_STATE and, when set, CVM_AGENT_PCR, CVM_AGENT_PATH,
 * CVM_AGENT_EXPECTED, CVM_AGENT_ACTUAL, CVM_AGENT_VERIFIER; plus PATH=/usr/sbin:/usr/bin:/sbin:/bin.
 * Control characters in values are replaced by '?'.
 * @ret: NULL-terminated "NAME=value" array (monitor_strv_free()). Return: 0 or -ENOMEM.
 */
int monitor_finding_env(const struct monitor_finding *f, enum monitor_state state, char ***ret);

/* --- re-attestation ------------------------------------------------------------------------- */

enum monitor_attest_outcome {
        MONITOR_ATTEST_OK,          /* accepted: last_attestation updated */
        MONITOR_ATTEST_REFUSED,     /* finding of class attestation (violation) */
        MONITOR_ATTEST_UNREACHABLE, /* degraded (class unavailable) */
};

/**
 * monitor_attest_classify() - what the result @r of a backend's attest() (backend.h error
 * contract) means for the monitor: >= 0 ok; -EACCES, -EPERM, -EKEYREJECTED, -EBADMSG (our
 * evidence was malformed) and -ENOENT refused; network errors (-ETIMEDOUT, -ENETUNREACH,
 * -EHOSTUNREACH, -ECONNREFUSED, -ECONNRESET), -EPROTO (malformed answer: a broken or impostor
 * verifier), -EAGAIN and anything else unreachable: an unknown failure never claims a refusal.
 */
enum monitor_attest_outcome monitor_attest_classify(int r);

/* --- scheduling and metrics ------------------------------------------------------------------ */

/**
 * monitor_next_delay() - @interval_usec plus a jitter uniformly drawn from [-@jitter_usec,
 * +@jitter_usec] by @random (any 32-bit value), never below @interval_usec / 2 nor below 1 ms.
 */
uint64_t monitor_next_delay(uint64_t interval_usec, uint64_t jitter_usec, uint32_t random);

/**
 * monitor_metrics_render() - Prometheus text exposition (node_exporter textfile collector):
 * cvm_agent_monitor_state{state=...} 0/1, cvm_agent_monitor_last_check_timestamp_seconds,
 * cvm_agent_monitor_last_success_timestamp_seconds, cvm_agent_monitor_check_duration_seconds,
 * cvm_agent_monitor_checks_total, cvm_agent_monitor_findings{class} (current),
 * cvm_agent_monitor_findings_total{class} (new since start), cvm_agent_monitor_ima_entries.
 * @ret: NUL-terminated text, caller frees. Return: 0 or -ENOMEM.
 */
int monitor_metrics_render(const struct monitor_status *s, char **ret);
