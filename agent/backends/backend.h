/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation backends: one attestation per boot producing a verified token, then any number
 * of key releases with it. Two implementations:
 *
 *   "azure"   Microsoft Azure Attestation (POST /attest/AzureGuest with vTPM + HCL/SNP evidence,
 *             the response envelope decrypted inside the vTPM, the JWT verified against the
 *             configured instance's /certs), then Azure Key Vault / Managed HSM Secure Key
 *             Release (managed-identity token from IMDS, release JWS verified up to a trusted
 *             root, key_hsm unwrapped with RSA-OAEP inside the vTPM + RFC 5649).
 *   "trustee" Trustee KBS RCAR 0.4.0 (auth -> attest -> resource) with "az-snp-vtpm" (v2) or
 *             "snp" (configfs-tsm) evidence and an ephemeral EC P-256 or RSA TEE key; resources
 *             arrive as JWE encrypted to that key.
 *
 * Configuration is a JSON object, the same one the LUKS2 token carries:
 *   {"type":"azure", "maa":"https://<instance>", "vault_key":"https://<vault>/keys/<name>[/<version>]",
 *    "enc"?:"RSA_AES_KEY_WRAP_256"|"CKM_RSA_AES_KEY_WRAP", "imds"?:"http://169.254.169.254",
 *    "ca_file"?, "kv_root"?: PEM of trusted roots for the release JWS, "hcl_refresh"?: bool}
 *   {"type":"trustee", "kbs":"https://<kbs>", "resource":"repo/type/tag", "ca_file"?,
 *    "evidence"?:"az-snp-vtpm"|"snp", "tee_key"?:"ec"|"rsa", "imds"?, "vcek"?: PEM file,
 *    "tsm_dir"?: configfs-tsm report directory}
 * Unknown members are refused (a typo must not silently weaken a check).
 *
 * Errors: every function returns >= 0 or a negative errno, and the struct cvm_error message
 * starts with the stage that failed and says why, e.g. "MAA attest: POST https://x/attest/
 * AzureGuest?api-version=2020-10-01: HTTP 400: InvalidParameter: quote: pcrDigest ..." or
 * "token verify: claim \"x-ms-runtime.client-payload.nonce\" is ...". backend_failure() tells
 * the class of the last failure (TPM, network, verifier refusal, verification) so a command can
 * choose its exit code. Secrets (released keys, AES keys, tokens) never appear in messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "error.h"

enum backend_failure {
        BACKEND_OK = 0,
        BACKEND_FAIL_CONFIG,      /* invalid configuration */
        BACKEND_FAIL_IO,          /* a local file (event log, CA bundle, configfs) could not be read */
        BACKEND_FAIL_TPM,         /* the TPM refused or failed a command */
        BACKEND_FAIL_EVIDENCE,    /* local evidence or a remote reply is malformed/unsupported */
        BACKEND_FAIL_UNREACHABLE, /* network error, timeout, deadline, 5xx/429 after all retries */
        BACKEND_FAIL_REFUSED,     /* the verifier or key broker said no (HTTP 4xx) */
        BACKEND_FAIL_VERIFY,      /* a reply failed a check (signature, chain, TLS, nonce, time, key) */
        BACKEND_FAIL_INTERNAL,    /* out of memory, unexpected library failure */
};

/** struct backend_settings - process-wide settings; NULL/0 fields take defaults. */
struct backend_settings {
        const char *tcti;     /* TPM TCTI; NULL: device:/dev/tpmrm0 */
        const char *ca_file;  /* TLS trust anchors; overrides the config's "ca_file"; NULL: system */
        const char *kv_root;  /* overrides the config's "kv_root" */
        const char *eventlog; /* TCG log; NULL: securityfs binary_bios_measurements */
        unsigned deadline_ms; /* one deadline for the attestation and all releases; 0: 60 s */
        unsigned leeway_s;    /* token clock skew tolerance; 0: 60 s */
};

struct backend;

/**
 * backend_new() - validate @config and prepare a backend (no I/O yet besides reading the CA
 * bundle).
 * @config: the JSON object described above (not retained).
 * @settings: may be NULL.
 * @ret: the backend, freed with backend_free(); written only on success.
 * Return: 0; -EINVAL for an invalid configuration (message names the member); -ENOMEM.
 */
int backend_new(json_object *config, const struct backend_settings *settings, struct backend **ret,
                struct cvm_error *err);

/** backend_free() - wipe all secrets, close the TPM, free @b (NULL is fine). */
void backend_free(struct backend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct backend *, backend_free)

/** backend_type() - "azure" or "trustee". */
const char *backend_type(const struct backend *b);

/**
 * backend_attest() - gather evidence, attest, and verify the resulting token. Called once;
 * later calls return 0 at once.
 * Return: 0, or a negative errno with backend_failure() telling the class.
 */
int backend_attest(struct backend *b, struct cvm_error *err);

/**
 * backend_claims() - the verified claims of the token (borrowed, valid while @b lives), or
 * NULL before a successful backend_attest(). For "trustee" the token's signature is the KBS's
 * business; its claims are shown as received over the verified TLS session.
 */
json_object *backend_claims(const struct backend *b);

/**
 * backend_release() - release one key with the attestation (attests first if needed).
 * @key_ref: "https://<vault>/keys/<name>[/<version>]" (azure) or "repo/type/tag" (trustee);
 *           NULL: the configuration's vault_key / resource.
 * @ret: the key material (PKCS#8 DER for RSA/EC-HSM keys, raw bytes for oct keys and Trustee
 *       resources) in a secret buffer the caller wipes with secret_buf_done(); written only
 *       on success.
 * Return: 0, or a negative errno with backend_failure() telling the class.
 */
int backend_release(struct backend *b, const char *key_ref, struct secret_buf *ret, struct cvm_error *err);

/** backend_failure() - the class of the last failure of @b (BACKEND_OK when none). */
enum backend_failure backend_failure(const struct backend *b);

/** backend_failure_name() - "tpm", "unreachable", "refused", ... for JSON and logs. */
const char *backend_failure_name(enum backend_failure f);
