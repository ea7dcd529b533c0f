/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPM 2.0 quote verification without a TPM stack: TPMS_ATTEST and TPMT_SIGNATURE are parsed
 * by hand (TPM 2.0 Library Part 2, big-endian, every size bounds-checked), the signature is
 * checked with OpenSSL against the AK public key (see tpmkey.h), the PCR digest is recomputed
 * from PCR values, and extraData is compared with the caller's nonce.
 *
 * Which hash the PCR digest uses: TPM2_Quote computes pcrDigest with the hash algorithm of the
 * signing scheme, not the AK's nameAlg and not the PCR bank's algorithm. The go-attestation
 * Windows vector shows it: AK nameAlg sha256, RSASSA-SHA1 signature, sha1 bank, 20-byte
 * pcrDigest. tpm_quote_check_pcrs() therefore takes the signature's hash algorithm.
 *
 * Verification functions return 1 when the check holds, 0 when it does not (with @err holding
 * the reason, code -EKEYREJECTED), and a negative errno when the check could not be performed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "error.h"
#include "hashalg.h"
#include "tpmkey.h"

#define TPM_GENERATED_VALUE         0xff544347u
#define TPM_ST_ATTEST_NV            0x8014
#define TPM_ST_ATTEST_COMMAND_AUDIT 0x8015
#define TPM_ST_ATTEST_SESSION_AUDIT 0x8016
#define TPM_ST_ATTEST_CERTIFY       0x8017
#define TPM_ST_ATTEST_QUOTE         0x8018
#define TPM_ST_ATTEST_TIME          0x8019
#define TPM_ST_ATTEST_CREATION      0x801A
#define TPM_ST_ATTEST_NV_DIGEST     0x801C

#define TPM_MAX_PCR_BANKS           16 /* TPML_PCR_SELECTION.count limit (HASH_COUNT in real TPMs is smaller) */
#define TPM_PCR_SELECT_MAX          4 /* sizeofSelect limit: PCRs 0..31 */
#define TPM_MAX_PCRS                (TPM_PCR_SELECT_MAX * 8)
#define TPM_MAX_DATA_SIZE           (2 + HASH_MAX_SIZE) /* TPM2B_DATA: sizeof(TPMT_HA) */
#define TPM_MAX_SIG_BYTES           TPMKEY_MAX_RSA_BYTES

/* The result of a check of the verification. Its name is used in JSON output. */
enum tpm_check {
        TPM_CHECK_UNCHECKED,
        TPM_CHECK_VALID,
        TPM_CHECK_INVALID,
};

/** tpm_check_name() - "unchecked", "valid", "invalid". */
const char *tpm_check_name(enum tpm_check c);

struct tpm_pcr_selection {
        uint16_t hash_alg;                  /* always a known algorithm (hashalg.h) */
        uint8_t size_of_select;             /* 0..TPM_PCR_SELECT_MAX */
        uint8_t select[TPM_PCR_SELECT_MAX]; /* bit j of byte i selects PCR 8*i+j */
};

/* A parsed TPMS_ATTEST. Byte arrays are copies, so the input buffer may be freed. */
struct tpm_attest {
        uint32_t magic;
        uint16_t type;
        uint8_t qualified_signer[TPM_MAX_NAME_SIZE];
        size_t qualified_signer_size;
        uint8_t extra_data[TPM_MAX_DATA_SIZE];
        size_t extra_data_size;
        uint64_t clock;
        uint32_t reset_count;
        uint32_t restart_count;
        bool safe;
        uint64_t firmware_version;
        union {
                struct { /* TPM_ST_ATTEST_QUOTE: TPMS_QUOTE_INFO */
                        size_t n_selections;
                        struct tpm_pcr_selection selections[TPM_MAX_PCR_BANKS];
                        uint8_t pcr_digest[HASH_MAX_SIZE];
                        size_t pcr_digest_size;
                } quote;
                struct { /* TPM_ST_ATTEST_CERTIFY: TPMS_CERTIFY_INFO */
                        uint8_t name[TPM_MAX_NAME_SIZE];
                        size_t name_size;
                        uint8_t qualified_name[TPM_MAX_NAME_SIZE];
                        size_t qualified_name_size;
                } certify;
                struct { /* TPM_ST_ATTEST_CREATION: TPMS_CREATION_INFO */
                        uint8_t object_name[TPM_MAX_NAME_SIZE];
                        size_t object_name_size;
                        uint8_t creation_hash[HASH_MAX_SIZE];
                        size_t creation_hash_size;
                } creation;
        };
};

/**
 * tpm_attest_parse() - parse a marshalled TPMS_ATTEST of type quote, certify or creation.
 * The whole of @buf must be the structure: trailing bytes are an error.
 * @ret: written only on success.
 * Return: 0; -EBADMSG for truncation, a wrong magic, sizes beyond the TPM limits (names and
 * data 66 bytes, digests 64, sizeofSelect 4, 16 banks), safe not 0/1, or trailing bytes;
 * -EOPNOTSUPP for another attestation type or an unknown hash algorithm in the PCR selection.
 * @err names the offset and field.
 */
int tpm_attest_parse(const uint8_t *buf, size_t len, struct tpm_attest *ret, struct cvm_error *err);

/** tpm_attest_type_name() - "quote", "certify", "creation", ..., or NULL when unknown. */
const char *tpm_attest_type_name(uint16_t type);

/**
 * tpm_attest_to_json() - {"type", "type_code", "magic", "qualified_signer", "extra_data",
 * ["extra_data_text" when printable ASCII], "clock", "reset_count", "restart_count", "safe",
 * "firmware_version"} and for quotes "pcr_select": [{"hash", "pcrs": [...]}], "pcr_digest";
 * for certify "name", "qualified_name"; for creation "object_name", "creation_hash".
 * Hex strings are lowercase. @ret: caller json_object_put()s it. Return: 0 or -ENOMEM.
 */
int tpm_attest_to_json(const struct tpm_attest *a, json_object **ret);

/** tpm_attest_guess_hash() - the hash whose size matches a quote's pcrDigest (sha1, sha256,
 * sha384, sha512), else TPM_ALG_SHA256. For raw signatures that do not name their hash. */
uint16_t tpm_attest_guess_hash(const struct tpm_attest *a);

enum tpm_sig_format {
        TPM_SIG_FORMAT_AUTO,
        TPM_SIG_FORMAT_TPMT, /* marshalled TPMT_SIGNATURE */
        TPM_SIG_FORMAT_RAW,  /* bare signature: RSA bytes, or ECDSA as DER or r||s */
};

/** tpm_sig_format_name() - "auto", "tpmt", "raw". */
const char *tpm_sig_format_name(enum tpm_sig_format f);

/* A signature over a TPMS_ATTEST: RSASSA, RSAPSS or ECDSA. */
struct tpm_signature {
        enum tpm_sig_format format;     /* TPMT or RAW: how it was read */
        uint16_t sig_alg;               /* TPM_ALG_RSASSA, TPM_ALG_RSAPSS, TPM_ALG_ECDSA */
        uint16_t hash_alg;              /* a known hash (hashalg.h) */
        uint8_t sig[TPM_MAX_SIG_BYTES]; /* RSA */
        size_t sig_size;
        uint8_t r[TPMKEY_MAX_ECC_BYTES], s[TPMKEY_MAX_ECC_BYTES]; /* ECDSA, big-endian */
        size_t r_size, s_size;
};

/**
 * tpm_signature_parse() - parse a marshalled TPMT_SIGNATURE spanning all of @buf.
 * Return: 0; -EBADMSG for truncation, oversize fields or trailing bytes; -EOPNOTSUPP for a
 * signature algorithm other than RSASSA/RSAPSS/ECDSA or an unknown hash algorithm.
 */
int tpm_signature_parse(const uint8_t *buf, size_t len, struct tpm_signature *ret, struct cvm_error *err);

/**
 * tpm_signature_load() - read a signature in @format. TPMT: as tpm_signature_parse(). RAW:
 * @raw_sig_alg (0: RSASSA for an RSA @pkey, ECDSA for an EC one) and @raw_hash_alg (required)
 * describe the bare bytes. AUTO: a buffer that starts like a TPMT_SIGNATURE (a supported
 * signature algorithm and a known hash) is parsed as one; it is taken as raw instead when
 * it does not parse and its length is exactly the RSA modulus size of @pkey, or when it does
 * not start like a TPMT_SIGNATURE at all.
 * @pkey: the AK (used for defaults and the AUTO decision); may be NULL with explicit values.
 * Return: as tpm_signature_parse(); -EINVAL for a RAW signature without a hash algorithm.
 */
int tpm_signature_load(const uint8_t *buf, size_t len, enum tpm_sig_format format, EVP_PKEY *pkey,
                       uint16_t raw_sig_alg, uint16_t raw_hash_alg, struct tpm_signature *ret,
                       struct cvm_error *err);

/** tpm_signature_to_json() - {"format", "scheme", "hash", "size"} (size: the signature bytes). */
int tpm_signature_to_json(const struct tpm_signature *sig, json_object **ret);

/**
 * tpm_quote_verify_signature() - check @sig over the @len bytes at @attest (the marshalled
 * TPMS_ATTEST exactly as signed) with the AK @pkey. RSAPSS accepts any salt length (TPMs
 * differ: digest size or maximum). A key type that does not fit the scheme is a failed check.
 * Return: 1 valid, 0 invalid (reason in @err), -EOPNOTSUPP when OpenSSL lacks the hash, -ENOMEM.
 */
int tpm_quote_verify_signature(const uint8_t *attest, size_t len, const struct tpm_signature *sig,
                               EVP_PKEY *pkey, struct cvm_error *err);

/* PCR values to check a quote against: per known hash algorithm, PCRs 0..TPM_MAX_PCRS-1. */
struct tpm_pcr_values;

/** tpm_pcr_values_new() - an empty set. Return: 0 or -ENOMEM. */
int tpm_pcr_values_new(struct tpm_pcr_values **ret);

/** tpm_pcr_values_free() - free @v (may be NULL). */
void tpm_pcr_values_free(struct tpm_pcr_values *v);

static inline void tpm_pcr_values_freep(struct tpm_pcr_values **v)
{
        tpm_pcr_values_free(*v);
}

/**
 * tpm_pcr_values_set() - record PCR @index of bank @hash_alg.
 * Return: 0; -EBADMSG when @size is not the bank's digest size, @index >= TPM_MAX_PCRS, or the
 * value was already set to something else; -EOPNOTSUPP for an unknown @hash_alg.
 */
int tpm_pcr_values_set(struct tpm_pcr_values *v, uint16_t hash_alg, unsigned index, const uint8_t *value,
                       size_t size, struct cvm_error *err);

/** tpm_pcr_values_get() - the value of PCR @index of bank @hash_alg, or NULL when not set. */
const uint8_t *tpm_pcr_values_get(const struct tpm_pcr_values *v, uint16_t hash_alg, unsigned index);

/** tpm_pcr_values_count() - how many PCR values are set over all banks. */
size_t tpm_pcr_values_count(const struct tpm_pcr_values *v);

/**
 * tpm_pcr_values_parse() - read PCR values from a document, recognised by its content:
 *   JSON: the first member named "pcrs" (any case) found at the top or up to three objects
 *     deep (so the output of `cvm-agent eventlog --json`, trustee/Azure evidence and
 *     go-attestation JSON all work), else the document itself. That value is either a map of
 *     banks {"sha256": BANK, ...} or one BANK, where BANK is {"0": "hex", ...} or an array
 *     indexed by PCR whose items are hex strings, byte arrays, null (no value), or go-attestation objects
 *     {"Index", "Digest" (base64), "DigestAlg"}.
 *   text: lines "INDEX HEX", "INDEX: HEX" or "INDEX : 0xHEX", optionally grouped under bank
 *     lines "sha256:" (tpm2_pcrread output); '#' starts a comment.
 * Where no bank is named, it follows from the digest length (20 sha1, 32 sha256, 48 sha384,
 * 64 sha512). @ret: caller frees with tpm_pcr_values_free().
 * Return: 0; -EBADMSG naming the line or JSON member at fault; -ENOMEM.
 */
int tpm_pcr_values_parse(const uint8_t *buf, size_t len, struct tpm_pcr_values **ret, struct cvm_error *err);

/* Result of tpm_quote_check_pcrs(). */
struct tpm_pcr_check {
        uint8_t computed[HASH_MAX_SIZE]; /* valid when n_missing == 0 */
        size_t computed_size;
        uint32_t missing[TPM_MAX_PCR_BANKS]; /* per selection entry: PCRs without a value */
        size_t n_missing;                    /* total number of missing PCRs */
};

/**
 * tpm_quote_check_pcrs() - recompute a quote's pcrDigest: @hash_alg (the signature's hash)
 * over the selected PCR values concatenated in selection order (banks in TPML order, PCR
 * indices ascending), and compare it with the quoted one.
 * @ret: the computed digest and any selected PCRs @v lacks (written whenever the return is >= 0).
 * Return: 1 match; 0 mismatch or missing values (reason in @err); -EINVAL when @a is not a
 * quote; -EOPNOTSUPP when @hash_alg cannot be computed; -ENOMEM.
 */
int tpm_quote_check_pcrs(const struct tpm_attest *a, uint16_t hash_alg, const struct tpm_pcr_values *v,
                         struct tpm_pcr_check *ret, struct cvm_error *err);

/**
 * tpm_quote_check_nonce() - compare extraData with @nonce (@size bytes), exactly.
 * Return: 1 equal, 0 different (reason in @err).
 */
int tpm_quote_check_nonce(const struct tpm_attest *a, const uint8_t *nonce, size_t size,
                          struct cvm_error *err);

/**
 * tpm_pcr_list_format() - "0-7,14" for the PCRs whose bits are set in @mask, into @buf.
 */
void tpm_pcr_list_format(uint32_t mask, char *buf, size_t size);

/**
 * tpm_selection_mask() - the PCRs of one selection entry as a bit mask (bit i = PCR i).
 */
uint32_t tpm_selection_mask(const struct tpm_pcr_selection *s);
