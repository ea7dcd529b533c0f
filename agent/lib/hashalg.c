/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <string.h>
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

/*
 * The fetched digest of each hash_algs[] entry, looked up once: an implicit fetch by name on
 * every call costs about as much as hashing a short event. Entries are filled on first use and
 * kept for the life of the process (cvm-agent is single-threaded; a race would at worst fetch
 * twice and keep one reference). A failed fetch is not cached, so it is simply retried.
 */
static EVP_MD *md_cache[ELEMENTSOF(hash_algs)];

static const EVP_MD *hash_md(const struct hash_alg *alg)
{
        if (!alg->evp_name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (alg == &hash_algs[i]) {
                        if (!md_cache[i])
                                md_cache[i] = EVP_MD_fetch(NULL, alg->evp_name, NULL);
                        return md_cache[i];
                }
        /* Not one of our table entries (a caller's own struct): fetch by name each time. */
        return EVP_get_digestbyname(alg->evp_name);
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
        uint8_t buf[2 * HASH_MAX_SIZE];

        /* Sizes come from our table, never from input; anything larger is a programming error. */
        assert(alg->size <= HASH_MAX_SIZE);
        memcpy(buf, pcr, alg->size);
        memcpy(buf + alg->size, digest, alg->size);
        return hash_digest(alg, buf, 2 * alg->size, pcr);
}
