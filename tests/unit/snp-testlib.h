/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only helpers for SEV-SNP: a throw-away AMD-like certificate hierarchy (ARK -> ASK/ASVK ->
 * VCEK/VLEK, RSA-PSS/SHA-384 like AMD's, with the AMD hwID and SPL extensions) and synthetic
 * ATTESTATION_REPORTs signed with its VEK key. Reused by the simulated vTPM tests to build HCL
 * reports that verify end to end (with snp_chain_verify_with_ark(), never the pinned roots).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "snp.h"
#include "util.h"

struct snp_test_spl {
        int bl, tee, snp, ucode, fmc; /* -1: leave the extension out */
};

struct snp_test_vek_opts {
        enum amd_product product;
        bool vlek;
        const uint8_t *hwid; /* NULL: no hwID extension */
        size_t hwid_size;
        bool hwid_wrapped; /* wrap the hwID in an OCTET STRING, as some issuers do */
        struct snp_test_spl spl;
        time_t not_before, not_after;
        bool rsa_key;          /* give the VEK an RSA key instead of EC P-384 */
        const char *issuer_cn; /* override, e.g. to issue a VLEK from the ASK */
};

struct snp_test_ca {
        EVP_PKEY *ark_key, *ask_key, *vek_key;
        X509 *ark, *ask, *vek;
};

static inline void snp_test_ca_free(struct snp_test_ca *ca)
{
        EVP_PKEY_free(ca->ark_key);
        EVP_PKEY_free(ca->ask_key);
        EVP_PKEY_free(ca->vek_key);
        X509_free(ca->ark);
        X509_free(ca->ask);
        X509_free(ca->vek);
        memset(ca, 0, sizeof(*ca));
}

static inline EVP_PKEY *snp_test_rsa_key(void)
{
        /* 2048 bits keeps the suite fast; AMD uses 4096 but the code path is the same. */
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
}

static inline EVP_PKEY *snp_test_p384_key(void)
{
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
}

static inline X509_NAME *snp_test_name(const char *cn)
{
        X509_NAME *n = X509_NAME_new();

        if (!n)
                return NULL;
        if (X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"Engineering", -1, -1,
                                       0) != 1 ||
            X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Advanced Micro Devices",
                                       -1, -1, 0) != 1 ||
            X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1) {
                X509_NAME_free(n);
                return NULL;
        }
        return n;
}

/* Adds a non-critical extension whose value is the given DER bytes. */
static inline bool snp_test_add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t n)
{
        ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext = NULL;
        bool ok = false;

        if (obj && os && ASN1_OCTET_STRING_set(os, der, (int)n) == 1)
                ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
        if (ext && X509_add_ext(x, ext, -1) == 1)
                ok = true;
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
        return ok;
}

static inline bool snp_test_add_spl(X509 *x, const char *oid, int v)
{
        uint8_t der[4];
        size_t n;

        if (v < 0)
                return true;
        /* DER INTEGER: 02 01 vv, or 02 02 00 vv when the top bit is set. */
        if (v < 0x80) {
                der[0] = 0x02, der[1] = 1, der[2] = (uint8_t)v, n = 3;
        } else {
                der[0] = 0x02, der[1] = 2, der[2] = 0, der[3] = (uint8_t)v, n = 4;
        }
        return snp_test_add_raw_ext(x, oid, der, n);
}

/* RSA-PSS, SHA-384, MGF1-SHA-384, salt 48: what AMD's ARK and ASK use. */
static inline bool snp_test_sign_pss(X509 *x, EVP_PKEY *key)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        bool ok = false;

        if (md && EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 && X509_sign_ctx(x, md) > 0)
                ok = true;
        EVP_MD_CTX_free(md);
        return ok;
}

static inline X509 *snp_test_cert(const char *subject_cn, const char *issuer_cn, EVP_PKEY *pub, bool ca,
                                  time_t not_before, time_t not_after, long serial)
{
        X509 *x = X509_new();
        X509_NAME *s = snp_test_name(subject_cn), *i = snp_test_name(issuer_cn);
        bool ok = x && s && i;

        if (ok)
                ok = X509_set_version(x, 2) == 1 &&
                     ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
                     X509_set_subject_name(x, s) == 1 && X509_set_issuer_name(x, i) == 1 &&
                     ASN1_TIME_set(X509_getm_notBefore(x), not_before) &&
                     ASN1_TIME_set(X509_getm_notAfter(x), not_after) && X509_set_pubkey(x, pub) == 1;
        if (ok && ca) {
                BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

                ok = bc != NULL;
                if (ok) {
                        bc->ca = 1;
                        ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0) == 1;
                }
                BASIC_CONSTRAINTS_free(bc);
        }
        X509_NAME_free(s);
        X509_NAME_free(i);
        if (!ok) {
                X509_free(x);
                return NULL;
        }
        return x;
}

/* Cached CA keys: RSA key generation dominates the run time otherwise. */
static inline EVP_PKEY *snp_test_cached_rsa(int which)
{
        static EVP_PKEY *keys[2];

        if (!keys[which])
                keys[which] = snp_test_rsa_key();
        if (keys[which] && EVP_PKEY_up_ref(keys[which]) != 1)
                return NULL;
        return keys[which];
}

/*
 * Builds ARK -> ASK (or ASVK) -> VEK for @o. Validity: the CA certificates span 2000-2099, the
 * VEK o->not_before..o->not_after. Returns false on any OpenSSL failure.
 */
static inline bool snp_test_ca_create(struct snp_test_ca *ca, const struct snp_test_vek_opts *o)
{
        const char *product = amd_product_name(o->product);
        char ark_cn[64], ask_cn[64];
        time_t ca_from = 946684800 /* 2000-01-01 */, ca_to = 4102444800 /* 2100-01-01 */;
        bool ok;

        memset(ca, 0, sizeof(*ca));
        snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", product ? product : "Unknown");
        snprintf(ask_cn, sizeof(ask_cn), o->vlek ? "SEV-VLEK-%s" : "SEV-%s", product ? product : "Unknown");
        ca->ark_key = snp_test_cached_rsa(0);
        ca->ask_key = snp_test_cached_rsa(1);
        ca->vek_key = o->rsa_key ? snp_test_rsa_key() : snp_test_p384_key();
        if (!ca->ark_key || !ca->ask_key || !ca->vek_key)
                return false;

        ca->ark = snp_test_cert(ark_cn, ark_cn, ca->ark_key, true, ca_from, ca_to, 1);
        ca->ask = snp_test_cert(ask_cn, ark_cn, ca->ask_key, true, ca_from, ca_to, 2);
        ca->vek = snp_test_cert(o->vlek ? "SEV-VLEK" : "SEV-VCEK", o->issuer_cn ? o->issuer_cn : ask_cn,
                                ca->vek_key, false, o->not_before, o->not_after, 0);
        if (!ca->ark || !ca->ask || !ca->vek)
                return false;

        ok = snp_test_add_raw_ext(ca->vek, "1.3.6.1.4.1.3704.1.1", (const uint8_t *)"\x02\x01\x00", 3);
        if (ok && product) {
                uint8_t der[34];
                size_t n = strlen(product);

                der[0] = 0x16; /* IA5String */
                der[1] = (uint8_t)n;
                memcpy(der + 2, product, n);
                ok = snp_test_add_raw_ext(ca->vek, "1.3.6.1.4.1.3704.1.2", der, n + 2);
        }
        ok = ok && snp_test_add_spl(ca->vek, "1.3.6.1.4.1.3704.1.3.1", o->spl.bl) &&
             snp_test_add_spl(ca->vek, "1.3.6.1.4.1.3704.1.3.2", o->spl.tee) &&
             snp_test_add_spl(ca->vek, "1.3.6.1.4.1.3704.1.3.3", o->spl.snp) &&
             snp_test_add_spl(ca->vek, "1.3.6.1.4.1.3704.1.3.8", o->spl.ucode) &&
             snp_test_add_spl(ca->vek, "1.3.6.1.4.1.3704.1.3.9", o->spl.fmc);
        if (ok && o->hwid) {
                uint8_t w[2 + 64];

                if (o->hwid_wrapped) {
                        w[0] = 0x04;
                        w[1] = (uint8_t)o->hwid_size;
                        memcpy(w + 2, o->hwid, o->hwid_size);
                        ok = snp_test_add_raw_ext(ca->vek, "1.3.6.1.4.1.3704.1.4", w, o->hwid_size + 2);
                } else
                        ok = snp_test_add_raw_ext(ca->vek, "1.3.6.1.4.1.3704.1.4", o->hwid, o->hwid_size);
        }
        return ok && snp_test_sign_pss(ca->ark, ca->ark_key) && snp_test_sign_pss(ca->ask, ca->ark_key) &&
               snp_test_sign_pss(ca->vek, ca->ask_key);
}

/* DER of @x in a malloc'ed buffer. */
static inline uint8_t *snp_test_der(X509 *x, size_t *ret_size)
{
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);
        uint8_t *copy;

        if (n <= 0)
                return NULL;
        copy = malloc((size_t)n);
        if (copy)
                memcpy(copy, der, (size_t)n);
        OPENSSL_free(der);
        *ret_size = (size_t)n;
        return copy;
}

static inline void snp_test_put_le32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static inline void snp_test_put_le64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* Milan/Genoa TCB_VERSION: byte0 BL, byte1 TEE, byte6 SNP, byte7 UCODE. */
static inline uint64_t snp_test_tcb_milan(uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode)
{
        return (uint64_t)bl | (uint64_t)tee << 8 | (uint64_t)snp << 48 | (uint64_t)ucode << 56;
}

/* Turin TCB_VERSION: byte0 FMC, byte1 BL, byte2 TEE, byte3 SNP, byte7 UCODE. */
static inline uint64_t snp_test_tcb_turin(uint8_t fmc, uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode)
{
        return (uint64_t)fmc | (uint64_t)bl << 8 | (uint64_t)tee << 16 | (uint64_t)snp << 24 |
               (uint64_t)ucode << 56;
}

/*
 * A plausible unsigned report: @version, signature algorithm 1, VCEK or VLEK signer, the given
 * TCB in every TCB field, chip_id, CPUID for v3+ (family/model chosen from @product).
 */
static inline void snp_test_report_init(uint8_t out[SNP_REPORT_SIZE], uint32_t version,
                                        enum amd_product product, bool vlek, uint64_t tcb,
                                        const uint8_t chip_id[64])
{
        memset(out, 0, SNP_REPORT_SIZE);
        snp_test_put_le32(out + 0x000, version);
        snp_test_put_le32(out + 0x004, 3);
        snp_test_put_le64(out + 0x008, 0x30000);
        snp_test_put_le32(out + 0x034, SNP_SIG_ALGO_ECDSA_P384_SHA384);
        snp_test_put_le64(out + 0x038, tcb);
        snp_test_put_le64(out + 0x040, 1);
        snp_test_put_le32(out + 0x048, vlek ? SNP_SIGNING_KEY_VLEK << 2 : 0);
        for (int i = 0; i < 48; i++)
                out[0x090 + i] = (uint8_t)(0xa0 + i);
        snp_test_put_le64(out + 0x180, tcb);
        if (version >= 3) {
                out[0x188] = product == AMD_PRODUCT_TURIN ? 0x1a : 0x19;
                out[0x189] = product == AMD_PRODUCT_GENOA   ? 0x11
                             : product == AMD_PRODUCT_TURIN ? 0x02
                                                            : 0x01;
                out[0x18a] = 1;
        }
        if (chip_id)
                memcpy(out + 0x1a0, chip_id, 64);
        snp_test_put_le64(out + 0x1e0, tcb);
        out[0x1e8] = 4, out[0x1e9] = 55, out[0x1ea] = 1;
        out[0x1ec] = 4, out[0x1ed] = 55, out[0x1ee] = 1;
        snp_test_put_le64(out + 0x1f0, tcb);
}

/* Signs bytes 0..0x29f with @key (EC P-384) and stores r and s little-endian at 0x2a0. */
static inline bool snp_test_report_sign(uint8_t report[SNP_REPORT_SIZE], EVP_PKEY *key)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char der[160];
        const unsigned char *p = der;
        size_t der_len = sizeof(der);
        ECDSA_SIG *sig = NULL;
        bool ok = false;

        if (md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
            EVP_DigestSign(md, der, &der_len, report, SNP_REPORT_SIGNED_SIZE) == 1)
                sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (sig) {
                memset(report + 0x2a0, 0, SNP_REPORT_SIZE - 0x2a0);
                ok = BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), report + 0x2a0, SNP_SIG_COMPONENT_SIZE) > 0 &&
                     BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), report + 0x2a0 + SNP_SIG_COMPONENT_SIZE,
                                    SNP_SIG_COMPONENT_SIZE) > 0;
        }
        ECDSA_SIG_free(sig);
        EVP_MD_CTX_free(md);
        return ok;
}
