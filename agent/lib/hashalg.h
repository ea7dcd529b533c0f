/* SPDX-License-Identifier: Apache-2.0 */
/* TPM hash algorithm identifiers (TCG Algorithm Registry) mapped to names, sizes and OpenSSL. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TPM_ALG_SHA1     0x0004
#define TPM_ALG_SHA256   0x000B
#define TPM_ALG_SHA384   0x000C
#define TPM_ALG_SHA512   0x000D
#define TPM_ALG_SM3_256  0x0012
#define TPM_ALG_SHA3_256 0x0027
#define TPM_ALG_SHA3_384 0x0028
#define TPM_ALG_SHA3_512 0x0029

#define HASH_MAX_SIZE    64

struct hash_alg {
        uint16_t tpm_id;
        const char *name;     /* lowercase, as used in JSON output and IMA logs: "sha256" */
        size_t size;          /* digest size in bytes */
        const char *evp_name; /* OpenSSL digest name; NULL when OpenSSL cannot compute it */
};

/** hash_alg_by_tpm_id() - the algorithm for a TPM_ALG_ID, or NULL if unknown. */
const struct hash_alg *hash_alg_by_tpm_id(uint16_t id);

/** hash_alg_by_name() - the algorithm for a name such as "sha256" (case-insensitive), or NULL. */
const struct hash_alg *hash_alg_by_name(const char *name);

/**
 * hash_digest() - one-shot digest of @n bytes at @p into @out (alg->size bytes).
 * Return: 0, -EOPNOTSUPP when OpenSSL lacks the algorithm, -ENOMEM/-EIO on OpenSSL failure.
 */
int hash_digest(const struct hash_alg *alg, const void *p, size_t n, uint8_t *out);

/**
 * hash_extend() - PCR extend: pcr = H(pcr || digest), both alg->size bytes.
 * Return: as hash_digest().
 */
int hash_extend(const struct hash_alg *alg, uint8_t *pcr, const uint8_t *digest);
