/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the tpmkey/tpmquote tests: a byte builder for TPM wire structures, key
 * generation, synthetic TPMS_ATTEST quotes and their signatures (made with OpenSSL here, so the
 * verification code is checked against an independent signer).
 */
#pragma once

#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hashalg.h"
#include "tpmkey.h"
#include "tpmquote.h"
#include "tpmwire.h"

struct tb {
        uint8_t d[8192];
        size_t n;
};

static inline void tb_u8(struct tb *b, uint8_t v)
{
        assert_true(b->n + 1 <= sizeof(b->d));
        b->d[b->n++] = v;
}

static inline void tb_u16(struct tb *b, uint16_t v)
{
        tb_u8(b, v >> 8);
        tb_u8(b, v & 0xff);
}

static inline void tb_u32(struct tb *b, uint32_t v)
{
        tb_u16(b, v >> 16);
        tb_u16(b, v & 0xffff);
}

static inline void tb_u64(struct tb *b, uint64_t v)
{
        tb_u32(b, (uint32_t)(v >> 32));
        tb_u32(b, (uint32_t)v);
}

static inline void tb_bytes(struct tb *b, const void *p, size_t n)
{
        assert_true(b->n + n <= sizeof(b->d));
        if (n)
                memcpy(b->d + b->n, p, n);
        b->n += n;
}

static inline void tb_2b(struct tb *b, const void *p, size_t n)
{
        tb_u16(b, (uint16_t)n);
        tb_bytes(b, p, n);
}

/* Fresh keys for the tests. */
static inline EVP_PKEY *gen_rsa(unsigned bits)
{
        EVP_PKEY *k = EVP_RSA_gen(bits);

        assert_non_null(k);
        return k;
}

static inline EVP_PKEY *gen_ec(const char *group)
{
        EVP_PKEY *k = EVP_EC_gen(group);

        assert_non_null(k);
        return k;
}

/* The modulus of an RSA key, big-endian, into @out (@ret_n bytes). */
static inline void rsa_modulus(EVP_PKEY *k, uint8_t *out, size_t *ret_n)
{
        BIGNUM *n = NULL;

        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        *ret_n = (size_t)BN_bn2bin(n, out);
        BN_free(n);
}

static inline void ec_coords(EVP_PKEY *k, size_t field, uint8_t *x, uint8_t *y)
{
        BIGNUM *bx = NULL, *by = NULL;

        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by), 1);
        assert_int_equal(BN_bn2binpad(bx, x, (int)field), (int)field);
        assert_int_equal(BN_bn2binpad(by, y, (int)field), (int)field);
        BN_free(bx);
        BN_free(by);
}

/* TPMT_PUBLIC of an RSA signing key (restricted AK template, RSASSA-SHA256). */
static inline void tb_rsa_public(struct tb *b, EVP_PKEY *k)
{
        uint8_t n[1024];
        size_t n_size;

        rsa_modulus(k, n, &n_size);
        tb_u16(b, TPM_ALG_RSA);
        tb_u16(b, TPM_ALG_SHA256);
        tb_u32(b, 0x00050072);
        tb_2b(b, NULL, 0);
        tb_u16(b, TPM_ALG_NULL); /* symmetric */
        tb_u16(b, TPM_ALG_RSASSA);
        tb_u16(b, TPM_ALG_SHA256);
        tb_u16(b, (uint16_t)(n_size * 8));
        tb_u32(b, 0); /* default exponent 65537 */
        tb_2b(b, n, n_size);
}

/* TPMT_PUBLIC of an ECC signing key on @curve (TPM_ECC_NIST_*), ECDSA-SHA256. */
static inline void tb_ecc_public(struct tb *b, EVP_PKEY *k, uint16_t curve, size_t field)
{
        uint8_t x[66], y[66];

        ec_coords(k, field, x, y);
        tb_u16(b, TPM_ALG_ECC);
        tb_u16(b, TPM_ALG_SHA256);
        tb_u32(b, 0x00050072);
        tb_2b(b, NULL, 0);
        tb_u16(b, TPM_ALG_NULL);
        tb_u16(b, TPM_ALG_ECDSA);
        tb_u16(b, TPM_ALG_SHA256);
        tb_u16(b, curve);
        tb_u16(b, TPM_ALG_NULL); /* kdf */
        tb_2b(b, x, field);
        tb_2b(b, y, field);
}

/* Parameters of a synthetic quote. */
struct quote_spec {
        const char *extra; /* extraData as text */
        size_t n_banks;
        uint16_t bank_alg[4];
        uint32_t bank_mask[4]; /* PCRs selected per bank */
        const uint8_t *pcr_digest;
        size_t pcr_digest_size;
};

static inline void tb_quote(struct tb *b, const struct quote_spec *q)
{
        static const uint8_t signer[34] = {0x00, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8};

        tb_u32(b, TPM_GENERATED_VALUE);
        tb_u16(b, TPM_ST_ATTEST_QUOTE);
        tb_2b(b, signer, sizeof(signer));
        tb_2b(b, q->extra, q->extra ? strlen(q->extra) : 0);
        tb_u64(b, 123456789); /* clock */
        tb_u32(b, 7);         /* resetCount */
        tb_u32(b, 1);         /* restartCount */
        tb_u8(b, 1);          /* safe */
        tb_u64(b, 0x2020031200120003ULL);
        tb_u32(b, (uint32_t)q->n_banks);
        for (size_t i = 0; i < q->n_banks; i++) {
                tb_u16(b, q->bank_alg[i]);
                tb_u8(b, 3);
                tb_u8(b, q->bank_mask[i] & 0xff);
                tb_u8(b, (q->bank_mask[i] >> 8) & 0xff);
                tb_u8(b, (q->bank_mask[i] >> 16) & 0xff);
        }
        tb_2b(b, q->pcr_digest, q->pcr_digest_size);
}

/* Deterministic PCR value for (bank, index): byte i = index * 7 + i + alg. */
static inline void fake_pcr(uint16_t alg, unsigned index, uint8_t *out, size_t size)
{
        for (size_t i = 0; i < size; i++)
                out[i] = (uint8_t)(index * 7 + i + alg);
}

/* The pcrDigest (hash @digest_alg) over fake_pcr() values for @q's selection. */
static inline size_t fake_pcr_digest(const struct quote_spec *q, uint16_t digest_alg, uint8_t *out)
{
        const struct hash_alg *h = hash_alg_by_tpm_id(digest_alg);
        static uint8_t cat[4 * 32 * 64];
        size_t n = 0;

        for (size_t i = 0; i < q->n_banks; i++) {
                size_t sz = hash_alg_by_tpm_id(q->bank_alg[i])->size;

                for (unsigned p = 0; p < 24; p++)
                        if (q->bank_mask[i] & (1u << p)) {
                                fake_pcr(q->bank_alg[i], p, cat + n, sz);
                                n += sz;
                        }
        }
        assert_int_equal(hash_digest(h, cat, n, out), 0);
        return h->size;
}

static inline struct tpm_pcr_values *fake_pcr_values(const struct quote_spec *q)
{
        struct tpm_pcr_values *v = NULL;

        assert_int_equal(tpm_pcr_values_new(&v), 0);
        for (size_t i = 0; i < q->n_banks; i++) {
                size_t sz = hash_alg_by_tpm_id(q->bank_alg[i])->size;

                for (unsigned p = 0; p < 24; p++)
                        if (q->bank_mask[i] & (1u << p)) {
                                uint8_t val[64];

                                fake_pcr(q->bank_alg[i], p, val, sz);
                                assert_int_equal(tpm_pcr_values_set(v, q->bank_alg[i], p, val, sz, NULL), 0);
                        }
        }
        return v;
}

/* Signs @msg with @k: RSASSA, RSAPSS (salt = digest size) or ECDSA; writes raw signature bytes
 * (RSA) or DER (ECDSA) into @sig. */
static inline size_t sign_raw(EVP_PKEY *k, uint16_t scheme, uint16_t hash, const uint8_t *msg, size_t len,
                              uint8_t *sig, size_t sig_max)
{
        const struct hash_alg *h = hash_alg_by_tpm_id(hash);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        size_t n = sig_max;

        assert_non_null(ctx);
        assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_get_digestbyname(h->evp_name), NULL, k), 1);
        if (scheme == TPM_ALG_RSAPSS) {
                assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
                assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
        }
        assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
        EVP_MD_CTX_free(ctx);
        return n;
}

/* A TPMT_SIGNATURE of @msg. */
static inline void tb_signature(struct tb *b, EVP_PKEY *k, uint16_t scheme, uint16_t hash,
                                const uint8_t *msg, size_t len)
{
        uint8_t sig[1024];
        size_t n = sign_raw(k, scheme, hash, msg, len, sig, sizeof(sig));

        tb_u16(b, scheme);
        tb_u16(b, hash);
        if (scheme == TPM_ALG_ECDSA) {
                const unsigned char *p = sig;
                ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
                const BIGNUM *r, *s;
                uint8_t rb[66], sb[66];
                int rn, sn;

                assert_non_null(es);
                ECDSA_SIG_get0(es, &r, &s);
                rn = BN_bn2bin(r, rb);
                sn = BN_bn2bin(s, sb);
                tb_2b(b, rb, (size_t)rn);
                tb_2b(b, sb, (size_t)sn);
                ECDSA_SIG_free(es);
        } else
                tb_2b(b, sig, n);
}
