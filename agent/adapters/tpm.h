/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPM 2.0 access through tss2-esys and the TCTI loader: the only module that talks to a (v)TPM.
 *
 * Every function returns >= 0 on success or a negative errno, with the TPM's own meaning in
 * words recorded in the struct cvm_error (see tpm_rc_error(), the one place where a TSS2_RC
 * becomes an errno). Errno classes used:
 *   -ENOENT    persistent handle or NV index not defined
 *   -ENODATA   NV index defined but never written
 *   -EACCES    authorization failure, policy failure, dictionary-attack lockout
 *   -EPERM     NV index locked or attributes forbid the operation
 *   -EAGAIN    TPM busy / retry later (the adapter never retries authorization failures)
 *   -ETIMEDOUT bounded wait expired (stale HCL report)
 *   -ECONNREFUSED / -EIO   TCTI cannot reach the TPM, or an unexpected TPM/TSS failure
 *   -EOPNOTSUPP algorithm, bank or command the TPM does not support
 *   -EINVAL    caller passed an invalid argument (programming or usage error)
 *   -ENOMEM    out of memory (host), -ENOSPC out of TPM object/NV memory
 *
 * Objects the adapter creates are noDA, and nothing here loops on an authorization failure, so
 * no call can push the TPM towards dictionary-attack lockout.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"

#define TPM_TCTI_DEFAULT "device:/dev/tpmrm0"

/* Azure vTPM (azure-protocol.md §7.1). */
#define TPM_AZURE_AK_HANDLE     0x81000003u
#define TPM_AZURE_AK_CERT_NV    0x01C101D0u
#define TPM_AZURE_HCL_REPORT_NV 0x01400001u
#define TPM_AZURE_USER_DATA_NV  0x01400002u
#define TPM_AZURE_USER_DATA_MAX 64u

#define TPM_PCR_COUNT           24u

struct tpm;

/* An object loaded in the TPM for the lifetime of a struct tpm (an ESYS_TR). */
typedef uint32_t tpm_object;
#define TPM_OBJECT_NONE 0xfffu /* ESYS_TR_NONE */

/* A TPM2B/TPMS/TPMT structure in TPM wire format, or a plain byte string. Caller frees .data. */
struct tpm_blob {
        uint8_t *data;
        size_t size;
};

static inline void tpm_blob_done(struct tpm_blob *b)
{
        free(b->data);
        b->data = NULL;
        b->size = 0;
}

/** struct tpm_pcrs - values of selected PCRs of one bank. */
struct tpm_pcrs {
        uint16_t alg;  /* TPM_ALG_ID of the bank */
        uint32_t mask; /* bit n set: PCR n is in the selection */
        size_t digest_size;
        uint8_t digest[TPM_PCR_COUNT][64]; /* valid for PCRs in mask */
};

enum tpm_rsa_scheme {
        TPM_RSA_RSAES,
        TPM_RSA_OAEP_SHA1,
        TPM_RSA_OAEP_SHA256,
};

/**
 * tpm_rc_error() - translate a TSS2_RC into a negative errno and record "@what: meaning (0xRC)".
 * @rc: a TSS2_RC from any TSS layer (TPM, ESAPI, TCTI, resource manager).
 * @what: the operation, e.g. "TPM2_NV_Read of 0x01400001"; must not be NULL.
 * @err: may be NULL.
 * Return: the negative errno (never 0; an @rc of 0 yields -EINVAL as it is a programming error).
 */
int tpm_rc_error(uint32_t rc, const char *what, struct cvm_error *err);

/**
 * tpm_rc_meaning() - the TPM's meaning of @rc in words, e.g. "dictionary-attack lockout is
 * active". Never NULL; points to static storage (not thread-safe for unknown codes).
 */
const char *tpm_rc_meaning(uint32_t rc);

/**
 * tpm_open() - connect to a TPM through the TCTI loader.
 * @tcti: TCTI configuration, e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321";
 *        NULL or "" selects TPM_TCTI_DEFAULT.
 * @ret: the connection, freed with tpm_close(); written only on success.
 * Silences tss2's own stderr logging (TSS2_LOG=all+none) unless $TSS2_LOG is already set.
 * Return: 0, -ECONNREFUSED/-ENOENT/-EIO when the TCTI cannot be loaded or connected, -ENOMEM.
 */
int tpm_open(const char *tcti, struct tpm **ret, struct cvm_error *err);

/** tpm_close() - flush every object this connection still holds and disconnect. NULL is a no-op. */
void tpm_close(struct tpm *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tpm *, tpm_close)

/**
 * tpm_nv_buffer_max() - TPM_PT_NV_BUFFER_MAX (largest NV_Read/NV_Write chunk), queried once and
 * cached. Return: the size (> 0) or a negative errno.
 */
int tpm_nv_buffer_max(struct tpm *t, struct cvm_error *err);

/**
 * tpm_lockout_counter() - TPM_PT_LOCKOUT_COUNTER, the dictionary-attack failure count (for
 * diagnostics and for tests proving that no operation spends authorization failures).
 * Return: 0 or a negative errno.
 */
int tpm_lockout_counter(struct tpm *t, uint32_t *ret, struct cvm_error *err);

/**
 * tpm_pcr_read() - read PCRs @mask of bank @alg (TPM_ALG_*) into @ret.
 * Return: 0; -EOPNOTSUPP when the bank is not allocated; -EINVAL for an empty mask or PCR >= 24.
 */
int tpm_pcr_read(struct tpm *t, uint16_t alg, uint32_t mask, struct tpm_pcrs *ret, struct cvm_error *err);

/**
 * tpm_pcr_extend() - TPM2_PCR_Extend of PCR @pcr with one digest per bank.
 * @algs, @digests: @n bank ids and digests of the matching size (hashalg.h sizes).
 * Return: 0; -EINVAL for bad arguments; -EACCES when the PCR cannot be extended from this locality.
 */
int tpm_pcr_extend(struct tpm *t, unsigned pcr, size_t n, const uint16_t *algs,
                   const uint8_t *const *digests, struct cvm_error *err);

/**
 * tpm_quote() - TPM2_Quote over bank @alg PCRs @mask, signed by the key at persistent handle
 * @ak_handle (empty authValue) with its default scheme, @nonce as qualifyingData.
 * @nonce_size: at most 64 bytes (TPM2B_DATA); 0 for an empty qualifyingData.
 * @ret_attest: the TPMS_ATTEST bytes (content of TPM2B_ATTEST, without its size prefix).
 * @ret_sig: the marshaled TPMT_SIGNATURE.
 * Return: 0; -ENOENT when no key is at @ak_handle; other errnos per the module comment.
 */
int tpm_quote(struct tpm *t, uint32_t ak_handle, uint16_t alg, uint32_t mask, const uint8_t *nonce,
              size_t nonce_size, struct tpm_blob *ret_attest, struct tpm_blob *ret_sig,
              struct cvm_error *err);

/**
 * tpm_read_public() - TPM2_ReadPublic of the object at persistent handle @handle.
 * @ret_public: marshaled TPM2B_PUBLIC (with its 2-byte size prefix).
 * Return: 0; -ENOENT when @handle holds nothing.
 */
int tpm_read_public(struct tpm *t, uint32_t handle, struct tpm_blob *ret_public, struct cvm_error *err);

/**
 * tpm_nv_size() - the defined data size of NV index @index (from TPM2_NV_ReadPublic).
 * Return: 0; -ENOENT when the index is not defined.
 */
int tpm_nv_size(struct tpm *t, uint32_t index, size_t *ret_size, struct cvm_error *err);

/**
 * tpm_nv_read() - read the whole NV index @index in chunks of TPM_PT_NV_BUFFER_MAX, authorized by
 * the owner hierarchy when the index allows OWNERREAD, else by the index itself (empty auth).
 * @ret: the contents (caller frees), written only on success.
 * Return: 0; -ENOENT (undefined), -ENODATA (never written), -EACCES, -EPERM (read-locked).
 */
int tpm_nv_read(struct tpm *t, uint32_t index, struct tpm_blob *ret, struct cvm_error *err);

/**
 * tpm_nv_write() - write @data at offset 0 of NV index @index, first defining it as an ordinary
 * index (owner auth, nameAlg SHA-256, OWNERWRITE|OWNERREAD|AUTHREAD|NO_DA, size = @size)
 * when it does not exist, or re-defining it when it exists with a different size.
 * Writes in chunks of TPM_PT_NV_BUFFER_MAX.
 * Return: 0; -EPERM when the index is write-locked; -ENOSPC when the TPM has no NV space left.
 */
int tpm_nv_write(struct tpm *t, uint32_t index, const uint8_t *data, size_t size, struct cvm_error *err);

/** tpm_nv_undefine() - TPM2_NV_UndefineSpace (owner). Return: 0, -ENOENT when not defined. */
int tpm_nv_undefine(struct tpm *t, uint32_t index, struct cvm_error *err);

/**
 * tpm_report_match_fn - decides whether a freshly read HCL report reflects the user data just
 * written. Return: > 0 yes, 0 not yet, < 0 a hard error (stops the wait, returned as is).
 */
typedef int (*tpm_report_match_fn)(const uint8_t *report, size_t size, const uint8_t *user_data,
                                   size_t user_data_size, void *userdata, struct cvm_error *err);

/**
 * tpm_hcl_report_refresh() - request a fresh Azure HCL report bound to @user_data: write it to
 * NV 0x01400002 (tpm_nv_write()), then re-read NV 0x01400001 until @match accepts it, polling for
 * at most @timeout_ms milliseconds (first re-read immediately, then every 100 ms).
 * @user_data_size: 1..64 bytes (the paravisor zero-pads it to 64 in the report's "user-data").
 * @ret_report: the matching report (caller frees), written only on success.
 * Return: 0; -ETIMEDOUT ("stale report": the paravisor did not regenerate the report within the
 * wait, e.g. on a simulator; the message says so); the errnos of tpm_nv_write()/tpm_nv_read().
 */
int tpm_hcl_report_refresh(struct tpm *t, const uint8_t *user_data, size_t user_data_size,
                           unsigned timeout_ms, tpm_report_match_fn match, void *userdata,
                           struct tpm_blob *ret_report, struct cvm_error *err);

/**
 * tpm_ek_create() - the RSA-2048 endorsement key of the TCG EK profile (template L-1) as a
 * transient primary object, by TPM2_CreatePrimary under the endorsement hierarchy (empty auth).
 * A primary key is derived from the hierarchy seed, so this is the same key as a persisted EK
 * made from the same template (e.g. MSCLI's at 0x81010001).
 * @ret_object: the loaded EK (flushed by tpm_flush() or tpm_close()); may be NULL.
 * @ret_public: marshaled TPM2B_PUBLIC; may be NULL.
 * Return: 0 or negative errno.
 */
int tpm_ek_create(struct tpm *t, tpm_object *ret_object, struct tpm_blob *ret_public, struct cvm_error *err);

/**
 * tpm_ak_provision() - make sure an attestation key is at persistent handle @handle: when one
 * is there nothing is changed; otherwise an RSA-2048 restricted signing key (Azure AK template,
 * azure-protocol.md §7.2: attributes 0x00050472, RSASSA/SHA-256, noDA) is created under the EK
 * and persisted there with TPM2_EvictControl (owner auth).
 * @handle: 0x81000000..0x817FFFFF.
 * @ret_public: marshaled TPM2B_PUBLIC of the AK; may be NULL.
 * Return: 0 when an AK was already present, 1 when one was created, or a negative errno.
 */
int tpm_ak_provision(struct tpm *t, uint32_t handle, struct tpm_blob *ret_public, struct cvm_error *err);

/**
 * tpm_evict() - remove the persistent object at @handle (TPM2_EvictControl, owner auth).
 * Return: 0, -ENOENT when nothing is there.
 */
int tpm_evict(struct tpm *t, uint32_t handle, struct cvm_error *err);

/**
 * tpm_ephemeral_key_create() - the Azure "TpmEphemeralEncryptionKey" (azure-protocol.md §7.3):
 * TPM2_CreatePrimary under TPM_RH_NULL, RSA-2048 decrypt-only, attributes 0x00020432 (noDA),
 * authPolicy = PolicyPCR over the current SHA-256 PCRs 0-7. The same key results from every call
 * until the TPM is reset or PCRs 0-7 change.
 * @ret_object: the loaded key, for tpm_certify()/tpm_rsa_decrypt(); flush with tpm_flush().
 * @ret_public: marshaled TPM2B_PUBLIC; may be NULL.
 * Return: 0 or negative errno.
 */
int tpm_ephemeral_key_create(struct tpm *t, tpm_object *ret_object, struct tpm_blob *ret_public,
                             struct cvm_error *err);

/**
 * tpm_certify() - TPM2_Certify of loaded @object by the key at persistent handle @ak_handle
 * (both with empty auth), with @qualifying (<= 64 bytes) as qualifyingData.
 * @ret_attest: the TPMS_ATTEST bytes; @ret_sig: marshaled TPMT_SIGNATURE.
 * Return: 0 or negative errno.
 */
int tpm_certify(struct tpm *t, tpm_object object, uint32_t ak_handle, const uint8_t *qualifying,
                size_t qualifying_size, struct tpm_blob *ret_attest, struct tpm_blob *ret_sig,
                struct cvm_error *err);

/**
 * tpm_rsa_decrypt() - TPM2_RSA_Decrypt of @in with @key (from tpm_ephemeral_key_create())
 * under a PolicyPCR(sha256:0-7) session, empty label.
 * @ret: the plaintext in a secret buffer (wiped on free), written only on success.
 * Return: 0; -EACCES when the policy fails (PCRs 0-7 changed since the key was created);
 * -EBADMSG when the TPM rejects the ciphertext (bad padding/size).
 */
int tpm_rsa_decrypt(struct tpm *t, tpm_object key, enum tpm_rsa_scheme scheme, const uint8_t *in,
                    size_t in_size, struct secret_buf *ret, struct cvm_error *err);

/** tpm_flush() - TPM2_FlushContext of a loaded object; TPM_OBJECT_NONE is a no-op. */
void tpm_flush(struct tpm *t, tpm_object object);

/**
 * tpm_parse_pcr_list() - parse "0-7,10,14" (or "all") into a PCR bit mask.
 * Return: 0, -EINVAL for syntax errors, empty lists and PCR numbers >= 24.
 */
int tpm_parse_pcr_list(const char *s, uint32_t *ret_mask);

/**
 * tpm_parse_handle() - parse a handle such as "0x81000003" (hex with 0x, or decimal).
 * Return: 0, -EINVAL.
 */
int tpm_parse_handle(const char *s, uint32_t *ret);
