/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "hashalg.h"

static const struct hash_alg hash_algs[] = {
        {TPM_ALG_SHA1, "sha1", 20, "SHA1"},
        {TPM_ALG_SHA256, "sha256", 32, "SHA256"},
        {TPM_ALG_SHA384, "sha384", 48, "SHA384"},
        {TPM_ALG_SHA512, "sha512", 64, "SHA512"},
        {TPM_ALG_SM3_256, "sm3_256", 32, "SM3"},
        {TPM_ALG_SHA3_256, "sha3_256", 32, "SHA3-256"},
        {TPM_ALG_SHA3_384, "sha3_384", 48, "SHA3-384"},
        {TPM_ALG_SHA3_512, "sha3_512", 64, "SHA3-512"},
};

const struct hash_alg *hash_alg_by_tpm_id(uint16_t id)
{
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (hash_algs[i].tpm_id == id)
                        return &hash_algs[i];
        return NULL;
}

const struct hash_alg *hash_alg_by_name(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (strcasecmp(hash_algs[i].name, name) == 0)
                        return &hash_algs[i];
        return NULL;
}

static const EVP_MD *hash_md(const struct hash_alg *alg)
{
        /* EVP_get_digestbyname() returns a static method; no fetch/free bookkeeping needed. */
        return alg->evp_name ? EVP_get_digestbyname(alg->evp_name) : NULL;
}

int hash_digest(const struct hash_alg *alg, const void *p, size_t n, uint8_t *out)
{
        const EVP_MD *md = hash_md(alg);
        unsigned int len = 0;

        if (!md)
                return -EOPNOTSUPP;
        if (EVP_Digest(p, n, out, &len, md, NULL) != 1 || len != alg->size)
                return -EIO;
        return 0;
}

int hash_extend(const struct hash_alg *alg, uint8_t *pcr, const uint8_t *digest)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const EVP_MD *md = hash_md(alg);
        unsigned int len = 0;

        if (!md)
                return -EOPNOTSUPP;
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, pcr, alg->size) != 1 ||
            EVP_DigestUpdate(ctx, digest, alg->size) != 1 || EVP_DigestFinal_ex(ctx, pcr, &len) != 1 ||
            len != alg->size)
                return -EIO;
        return 0;
}
