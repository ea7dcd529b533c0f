/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attested-unlock glue shared by `cvm-agent unlock` and the token plugin:
 *
 *  - unlock_ops_backends: the struct backend_ops table of unlock-backend.h ("azure", "trustee")
 *    implemented on top of backend.h. A token's configuration becomes the backend's JSON
 *    configuration; the session is one struct backend (attested once, reused by every volume of
 *    the same verifier); the released key comes back as the material kind the token's wrap
 *    needs (Key Vault RSA key: PKCS#8 DER; oct-HSM key or KBS resource: 32 raw bytes).
 *  - the local guards: rescue/emergency boots and a PCR that has left its initial state refuse
 *    any automatic release; unlock_ops_measure() extends that PCR with the volume identity.
 *
 * Everything that is not in the (host-controlled) LUKS2 header comes from the local
 * configuration (struct unlock_ops_settings): TCTI, TLS anchors, Key Vault release roots, IMDS,
 * event log. Credentials (the MAA token, the managed-identity token) are only sent to a Key
 * Vault / Managed HSM host of the public Azure clouds or one listed in settings->vault_hosts:
 * the header's key_id cannot divert them to another host.
 *
 * No output: errors come back in struct cvm_error, so the plugin can route them to crypt_logf.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "unlock-backend.h"

/* The volume identity measured after an unlock: SHA-xxx("cvm-agent:" + LUKS UUID) per bank. */
#define UNLOCK_OPS_MEASURE_PREFIX "cvm-agent:"

/* Local settings (never from the header). NULL members take the backend defaults. */
struct unlock_ops_settings {
        const char *tcti;        /* TPM; NULL: device:/dev/tpmrm0 */
        const char *ca_file;     /* TLS anchors for MAA / Key Vault / a KBS whose token has no kbs_ca */
        const char *kv_root;     /* trusted roots of the Key Vault release signature */
        const char *eventlog;    /* TCG log; NULL: securityfs */
        const char *imds;        /* IMDS base URL; NULL: http://169.254.169.254 */
        const char *vault_hosts; /* extra Key Vault hosts (space-separated, host[:port]) */
};

/* The userdata of unlock_ops_backends (struct unlock_ctx.userdata). */
struct unlock_ops {
        struct unlock_ops_settings settings;
        /* Filled by the ops: class of the last backend failure, for the caller's exit code. */
        enum backend_failure failure;
};

/* NULL-terminated: "azure", "trustee". */
extern const struct backend_ops *const unlock_ops_backends[];

/**
 * unlock_ops_vault_host_allowed() - may credentials go to the host of Key Vault key id @key_id?
 * Public clouds: *.vault.azure.net, *.managedhsm.azure.net, *.vault.azure.cn,
 * *.managedhsm.azure.cn, *.vault.usgovcloudapi.net, *.managedhsm.usgovcloudapi.net (port 443);
 * otherwise "host[:port]" must be a word of @extra (may be NULL).
 */
bool unlock_ops_vault_host_allowed(const char *key_id, const char *extra);

/**
 * unlock_ops_rescue_boot() - true when the kernel command line @cmdline_path (NULL:
 * /proc/cmdline) asks for a rescue or emergency boot; @why (of @n bytes) names the word.
 */
bool unlock_ops_rescue_boot(const char *cmdline_path, char *why, size_t n);

/**
 * unlock_ops_pcr_guard() - refuse when PCR @pcr (SHA-256 bank) is no longer all zero: a volume
 * was already unlocked (and measured) in this boot, or something else extended the PCR.
 * Return: 0 pristine; -EPERM not pristine (@err says so, with the PCR value); TPM errors.
 */
int unlock_ops_pcr_guard(const char *tcti, unsigned pcr, struct cvm_error *err);

/**
 * unlock_ops_measure() - extend PCR @pcr of every allocated bank (SHA-1, SHA-256, SHA-384,
 * SHA-512) with the bank's digest of UNLOCK_OPS_MEASURE_PREFIX + @uuid, for each of the @n
 * UUIDs (one TPM connection for all).
 * Return: 0 or a negative errno (TPM).
 */
int unlock_ops_measure(const char *tcti, unsigned pcr, const char *const *uuids, size_t n,
                       struct cvm_error *err);
