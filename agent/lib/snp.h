/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD SEV-SNP ATTESTATION_REPORT (SNP firmware ABI spec 56860, report versions 2, 3 and 5):
 * parsing, JSON rendering, ECDSA P-384 signature verification with a VCEK or VLEK, and the
 * VCEK/VLEK -> ASK/ASVK -> ARK certificate chain up to AMD's pinned roots (amd-roots.h).
 *
 * Product line and TCB_VERSION layout. A TCB_VERSION is a u64 whose byte layout depends on the
 * product: Milan and Genoa put BL_SPL in byte 0, TEE_SPL in byte 1, SNP_SPL in byte 6 and
 * UCODE_SPL in byte 7; Turin puts FMC_SPL in byte 0, BL in 1, TEE in 2, SNP in 3, UCODE in 7.
 * The product comes from the CPUID family/model that v3+ reports carry (family 0x19 models
 * 0x00-0x0f Milan, 0x10-0x1f and 0xa0-0xaf Genoa; family 0x1a models 0x00-0x11 Turin). A v2
 * report (or one with zero CPUID) predates Turin, so its TCBs use the Milan/Genoa layout; which
 * of the two it is can be learnt from the VCEK/VLEK (snp_report_set_product()). A v3+ report
 * from an unrecognised CPU is parsed, but its TCBs are shown raw only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/x509.h>

#include "amd-roots.h"
#include "error.h"

#define SNP_REPORT_SIZE                1184  /* 0x4a0 */
#define SNP_REPORT_SIGNED_SIZE         0x2a0 /* the signature covers bytes 0x000..0x29f */
#define SNP_SIG_COMPONENT_SIZE         72    /* r and s, little-endian, zero-extended */

#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1

/* Guest policy bits (ABI spec "Guest Policy"). */
#define SNP_POLICY_SMT               (UINT64_C(1) << 16)
#define SNP_POLICY_RESERVED_ONE      (UINT64_C(1) << 17)
#define SNP_POLICY_MIGRATE_MA        (UINT64_C(1) << 18)
#define SNP_POLICY_DEBUG             (UINT64_C(1) << 19)
#define SNP_POLICY_SINGLE_SOCKET     (UINT64_C(1) << 20)
#define SNP_POLICY_CXL_ALLOW         (UINT64_C(1) << 21)
#define SNP_POLICY_MEM_AES_256_XTS   (UINT64_C(1) << 22)
#define SNP_POLICY_RAPL_DIS          (UINT64_C(1) << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING (UINT64_C(1) << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (UINT64_C(1) << 25)

/* PLATFORM_INFO bits. */
#define SNP_PLATFORM_SMT_EN               (UINT64_C(1) << 0)
#define SNP_PLATFORM_TSME_EN              (UINT64_C(1) << 1)
#define SNP_PLATFORM_ECC_EN               (UINT64_C(1) << 2)
#define SNP_PLATFORM_RAPL_DIS             (UINT64_C(1) << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING_EN (UINT64_C(1) << 4)
#define SNP_PLATFORM_ALIAS_CHECK_COMPLETE (UINT64_C(1) << 5)
#define SNP_PLATFORM_TIO_EN               (UINT64_C(1) << 7)

/* The signer-info word at 0x048. */
#define SNP_FLAG_AUTHOR_KEY_EN  (UINT32_C(1) << 0)
#define SNP_FLAG_MASK_CHIP_KEY  (UINT32_C(1) << 1)
#define SNP_FLAG_SIGNING_KEY(f) (((f) >> 2) & 7)

enum snp_signing_key {
        SNP_SIGNING_KEY_VCEK = 0,
        SNP_SIGNING_KEY_VLEK = 1,
        SNP_SIGNING_KEY_NONE = 7,
};

enum snp_tcb_layout {
        SNP_TCB_LAYOUT_UNKNOWN = 0, /* raw value only */
        SNP_TCB_LAYOUT_MILAN_GENOA,
        SNP_TCB_LAYOUT_TURIN,
};

/* A TCB_VERSION split into its security patch levels (SPLs). */
struct snp_tcb {
        uint64_t raw;
        enum snp_tcb_layout layout;
        uint8_t fmc; /* Turin only */
        uint8_t bootloader;
        uint8_t tee;
        uint8_t snp;
        uint8_t microcode;
};

/* Every field of an ATTESTATION_REPORT, in report order; integers already in host order. */
struct snp_report {
        uint32_t version;
        uint32_t guest_svn;
        uint64_t policy;
        uint8_t family_id[16];
        uint8_t image_id[16];
        uint32_t vmpl;
        uint32_t signature_algo;
        uint64_t current_tcb;
        uint64_t platform_info;
        uint32_t flags; /* AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY */
        uint8_t report_data[64];
        uint8_t measurement[48];
        uint8_t host_data[32];
        uint8_t id_key_digest[48];
        uint8_t author_key_digest[48];
        uint8_t report_id[32];
        uint8_t report_id_ma[32];
        uint64_t reported_tcb;
        bool has_cpuid; /* version >= 3 */
        uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;
        uint8_t chip_id[64];
        uint64_t committed_tcb;
        uint8_t current_build, current_minor, current_major;
        uint8_t committed_build, committed_minor, committed_major;
        uint64_t launch_tcb;
        bool has_mit_vectors; /* version >= 5 */
        uint64_t launch_mit_vector;
        uint64_t current_mit_vector;
        uint8_t signature_r[SNP_SIG_COMPONENT_SIZE]; /* little-endian, as in the report */
        uint8_t signature_s[SNP_SIG_COMPONENT_SIZE];

        /* Derived. */
        enum amd_product product; /* from CPUID, or set by snp_report_set_product() */
        bool product_from_cpuid;
        uint8_t raw[SNP_REPORT_SIZE]; /* the exact bytes, for the signature check */
};

/* Result of one verification step. */
enum snp_check {
        SNP_CHECK_UNCHECKED = 0,
        SNP_CHECK_VALID,
        SNP_CHECK_INVALID,
};

#define SNP_REASON_MAX 384

/* A VCEK or VLEK certificate with the AMD extensions decoded. */
struct snp_vek {
        X509 *cert;
        enum snp_signing_key type; /* VCEK or VLEK, from the subject CN ("SEV-VCEK"/"SEV-VLEK") */
        enum amd_product product;  /* from the issuer CN ("SEV-Milan", "SEV-VLEK-Genoa", ...) */
        char product_name[32];     /* extension 1.3.6.1.4.1.3704.1.2, e.g. "Milan-B0"; "" if absent */
        uint8_t hwid[64];          /* extension .1.4: 64 bytes (Milan/Genoa) or 8 (Turin) */
        size_t hwid_size;          /* 0 when absent (VLEKs) */
        int spl_bl, spl_tee, spl_snp, spl_ucode, spl_fmc; /* .1.3.{1,2,3,8,9}; -1 when absent */
        STACK_OF(X509) * bundle; /* further certificates found in the same file (ASK, ARK) */
};

/* Outcome of snp_chain_verify(). */
struct snp_chain_result {
        enum snp_check status;
        enum amd_product product;
        int failed_depth;            /* 0 VEK, 1 ASK/ASVK, 2 ARK; -1 none */
        char reason[SNP_REASON_MAX]; /* "" when valid */
        char vek_subject[256];
        char ask_subject[256]; /* the intermediate actually used */
        char ark_subject[256];
        char ark_sha256[65];  /* hex fingerprint of the root the chain ended at */
        bool user_chain_used; /* an ASK/ASVK from --chain or the VEK bundle was used */
        time_t at;            /* the "now" the validity periods were judged at */
};

/* Outcome of snp_report_verify_signature() and snp_vek_match_report(). */
struct snp_check_result {
        enum snp_check status;
        char reason[SNP_REASON_MAX];
};

/* Details of snp_vek_match_report(): -1 not applicable, 0 mismatch, 1 match. */
struct snp_vek_match {
        enum snp_check status;
        int signing_key; /* report SIGNING_KEY vs certificate type */
        int product;     /* report CPUID product vs certificate issuer */
        int hwid;        /* chip_id vs hwID (VCEK only) */
        int tcb;         /* reported_tcb vs the SPL extensions */
        char reason[SNP_REASON_MAX];
};

/**
 * snp_report_parse() - decode a raw ATTESTATION_REPORT.
 * @buf, @len: exactly SNP_REPORT_SIZE bytes.
 * @ret: filled on success (the product is set from CPUID when the report carries one).
 * @err: names the offset and field on failure.
 * Return: 0; -EBADMSG for a wrong size or malformed signer-info; -EOPNOTSUPP for an unsupported
 * version (not 2..5), signature algorithm (not 1, or 0 with SIGNING_KEY none) or a reserved
 * SIGNING_KEY value.
 */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret, struct cvm_error *err);

/**
 * snp_report_set_product() - record the product line learnt elsewhere (the VCEK/VLEK issuer)
 * for a report that does not carry CPUID; a CPUID-derived product is never overridden.
 */
void snp_report_set_product(struct snp_report *r, enum amd_product p);

/** snp_product_from_cpuid() - Milan/Genoa/Turin from a CPUID family and model, else UNKNOWN. */
enum amd_product snp_product_from_cpuid(uint8_t family, uint8_t model);

/** snp_report_tcb_layout() - the TCB_VERSION layout that applies to @r (see the file comment). */
enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r);

/** snp_tcb_decode() - split @raw according to @layout (UNKNOWN leaves the SPLs at zero). */
void snp_tcb_decode(uint64_t raw, enum snp_tcb_layout layout, struct snp_tcb *ret);

/** snp_signing_key_name() - "VCEK", "VLEK", "none" or "reserved". */
const char *snp_signing_key_name(unsigned key);

/**
 * snp_report_to_json() - every field of @r as a JSON object: "type": "snp", byte strings as
 * lowercase hex, u64 bit fields and TCBs as "0x..." strings (like MANIFEST.json), TCBs also
 * decoded (objects "reported_tcb" etc. with "bootloader", "tee", "snp", "microcode", "fmc" on
 * Turin, and "raw"), decoded "policy_decoded" and "platform_info_decoded", "product".
 * @ret: a new object the caller owns.
 * Return: 0 or -ENOMEM.
 */
int snp_report_to_json(const struct snp_report *r, json_object **ret);

/**
 * snp_certs_load() - read certificates from a buffer holding one DER certificate or any
 * number of PEM certificates (other PEM blocks are skipped).
 * @ret: a new stack the caller frees with sk_X509_pop_free(s, X509_free); never empty.
 * Return: 0, -EBADMSG when nothing decodes (err says which block), -ENOMEM.
 */
int snp_certs_load(const uint8_t *buf, size_t len, STACK_OF(X509) * *ret, struct cvm_error *err);

/**
 * snp_vek_load() - load a VCEK/VLEK (DER, PEM, or a PEM bundle whose first certificate is the
 * VEK and the rest its chain, as in THIM/"certs.pem" files) and decode its AMD extensions.
 * @ret: a new object freed with snp_vek_free().
 * Return: 0, -EBADMSG when the certificate or an AMD extension is malformed, -ENOMEM.
 * A certificate that is not from AMD still loads (product UNKNOWN); the chain check rejects it.
 */
int snp_vek_load(const uint8_t *buf, size_t len, struct snp_vek **ret, struct cvm_error *err);

/** snp_vek_free() - free @v (NULL is fine). */
void snp_vek_free(struct snp_vek *v);

/**
 * snp_vek_to_json() - the certificate's identity and AMD extensions: "type", "product",
 * "product_name", "subject", "issuer", "not_before", "not_after", "sha256", "hwid", "tcb".
 * Return: 0 or -ENOMEM.
 */
int snp_vek_to_json(const struct snp_vek *v, json_object **ret);

/**
 * snp_report_verify_signature() - check the ECDSA P-384/SHA-384 signature over bytes
 * 0x000..0x29f of @r with the VEK's public key.
 * @ret: status VALID or INVALID and, when invalid, the reason.
 * Return: 0 (whatever the verdict), -ENOMEM or -EIO on an OpenSSL failure.
 */
int snp_report_verify_signature(const struct snp_report *r, const struct snp_vek *vek,
                                struct snp_check_result *ret, struct cvm_error *err);

/**
 * snp_vek_match_report() - whether @vek is the key for @r: signing-key type, product, hwID ==
 * chip_id (VCEKs; 8 bytes on Turin) and SPL extensions == reported_tcb.
 * Return: 0.
 */
int snp_vek_match_report(const struct snp_vek *vek, const struct snp_report *r, struct snp_vek_match *ret);

/**
 * snp_chain_verify() - verify VEK -> ASK/ASVK -> ARK up to the pinned AMD ARK of the product
 * named by the VEK's issuer. The pinned ASK/ASVK are always available as intermediates;
 * @chain (may be NULL) and the VEK's own bundle may add intermediates, but any self-signed
 * certificate in them must be the pinned ARK, otherwise the chain is invalid.
 * @at: the time at which validity periods are judged; NULL for the current time.
 * @ret: the verdict with the failing depth and reason, and the subjects used.
 * Return: 0 (whatever the verdict), -ENOMEM, -EBADMSG if an embedded root is damaged.
 */
int snp_chain_verify(const struct snp_vek *vek, STACK_OF(X509) * chain, const time_t *at,
                     struct snp_chain_result *ret, struct cvm_error *err);

/**
 * snp_chain_verify_with_ark() - as snp_chain_verify(), but trusting @ark instead of the pinned
 * root and without the pinned intermediates; for tests and simulators that sign with their
 * own chain. Never wire this to untrusted configuration.
 */
int snp_chain_verify_with_ark(const struct snp_vek *vek, STACK_OF(X509) * chain, X509 *ark, const time_t *at,
                              struct snp_chain_result *ret, struct cvm_error *err);

/**
 * snp_chain_result_to_json() - "chain_details": product, subjects, ARK fingerprint, "at",
 * "failed_depth" and "reason" when invalid. Return: 0 or -ENOMEM.
 */
int snp_chain_result_to_json(const struct snp_chain_result *c, json_object **ret);

/** snp_vek_match_to_json() - the per-item results (true/false/null) and reason. */
int snp_vek_match_to_json(const struct snp_vek_match *m, json_object **ret);

/** snp_check_name() - "valid", "invalid" or "unchecked". */
const char *snp_check_name(enum snp_check c);
