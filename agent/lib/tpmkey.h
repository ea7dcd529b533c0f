/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation-key (AK) public key import and export. A TPM AK public key arrives in many
 * shapes: TPM2B_PUBLIC (tpm2_createak -u, tpm2_readpublic -f tss), bare TPMT_PUBLIC
 * (go-attestation), PEM or DER SubjectPublicKeyInfo (tpm2_readpublic -f pem), an X.509
 * certificate, or a JWK (Azure's HCLAkPub inside the HCL report's runtime data). tpmkey_load()
 * recognises each of them and produces an OpenSSL EVP_PKEY; tpmkey_to_jwk() goes the other way.
 * Supported key types: RSA (1024..16384 bits) and ECC on NIST P-256, P-384 and P-521.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "error.h"
#include "hashalg.h"

/* TPM_ECC_CURVE values. */
#define TPM_ECC_NIST_P192 0x0001
#define TPM_ECC_NIST_P224 0x0002
#define TPM_ECC_NIST_P256 0x0003
#define TPM_ECC_NIST_P384 0x0004
#define TPM_ECC_NIST_P521 0x0005

/* Upper bounds on key material in a TPMT_PUBLIC (generous: TPMs implement far less). */
#define TPMKEY_MAX_RSA_BYTES 2048 /* 16384-bit modulus */
#define TPMKEY_MAX_ECC_BYTES 128

/* The largest TPM2B_NAME: a 2-byte hash algorithm and a digest. */
#define TPM_MAX_NAME_SIZE (2 + HASH_MAX_SIZE)

enum tpmkey_format {
        TPMKEY_FORMAT_TPM2B_PUBLIC,
        TPMKEY_FORMAT_TPMT_PUBLIC,
        TPMKEY_FORMAT_PEM,         /* PEM SubjectPublicKeyInfo or PKCS#1 RSA public key */
        TPMKEY_FORMAT_DER,         /* DER SubjectPublicKeyInfo */
        TPMKEY_FORMAT_CERTIFICATE, /* PEM or DER X.509 certificate: its subject key */
        TPMKEY_FORMAT_JWK,         /* a JWK, or one key of a JWK set ({"keys": [...]}) */
};

/* What tpmkey_load() learned about the key besides the key itself. */
struct tpmkey_info {
        enum tpmkey_format format;
        /* The following are set only when the key came from a TPMT_PUBLIC (has_tpm_public). */
        bool has_tpm_public;
        uint16_t type; /* TPM_ALG_RSA or TPM_ALG_ECC */
        uint16_t name_alg;
        uint32_t object_attributes;
        uint16_t scheme;                 /* signing scheme the key is restricted to; TPM_ALG_NULL if none */
        uint16_t scheme_hash;            /* its hash algorithm; 0 when scheme is TPM_ALG_NULL */
        uint16_t curve;                  /* TPM_ECC_CURVE for ECC keys */
        uint8_t name[TPM_MAX_NAME_SIZE]; /* nameAlg || H_nameAlg(TPMT_PUBLIC) */
        size_t name_size;                /* 0 when nameAlg cannot be computed (TPM_ALG_NULL, unknown) */
        /* For JWK input: the "kid" of the key chosen, "" when absent. */
        char kid[128];
};

/** tpmkey_format_name() - "tpm2b_public", "tpmt_public", "pem", "der", "certificate", "jwk". */
const char *tpmkey_format_name(enum tpmkey_format f);

/**
 * tpmkey_load() - import a public key, recognising the format by its content:
 *   "-----BEGIN" (after blank space): PEM (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE);
 *   "{": a JWK, or a JWK set / Azure HCL runtime-data document ({"keys": [...]}) from which the
 *        key with kid "HCLAkPub" is taken, else the only key;
 *   a 16-bit size equal to the rest of the input: TPM2B_PUBLIC;
 *   a first 16-bit value TPM_ALG_RSA or TPM_ALG_ECC: TPMT_PUBLIC;
 *   otherwise DER (SubjectPublicKeyInfo, else X.509 certificate).
 * @buf, @len: the input (need not be NUL-terminated).
 * @ret: the key; caller frees with EVP_PKEY_free(); written only on success.
 * @ret_info: optional; details (format, TPM attributes and name); written only on success.
 * @err: receives the reason for a failure, naming the offset/field; may be NULL.
 * Return: 0; -EBADMSG for malformed input; -EOPNOTSUPP for a well-formed key of an unsupported
 * type (keyed hash, symmetric, unknown curve); -ENOMEM.
 */
int tpmkey_load(const uint8_t *buf, size_t len, EVP_PKEY **ret, struct tpmkey_info *ret_info,
                struct cvm_error *err);

/**
 * tpmkey_from_tpm_public() - import a TPMT_PUBLIC (@sized false) or TPM2B_PUBLIC (@sized true)
 * that must span exactly @len bytes. Parameters and return as tpmkey_load().
 */
int tpmkey_from_tpm_public(const uint8_t *buf, size_t len, bool sized, EVP_PKEY **ret,
                           struct tpmkey_info *ret_info, struct cvm_error *err);

/**
 * tpmkey_from_jwk() - import one JWK object with jwk_to_pkey() (RSA "n", "e" or EC P-256,
 * P-384, P-521 "crv", "x", "y"; strict unpadded base64url; an "x5c" must match), then apply the
 * AK policy of tpmkey_load() (RSA 1024..16384 bits). Other members are ignored.
 * Return: 0, -EBADMSG for missing or malformed members, -EOPNOTSUPP for another kty or curve or
 * an RSA size outside the policy, -ENOMEM. @ret as tpmkey_load().
 */
int tpmkey_from_jwk(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err);

/**
 * tpmkey_to_jwk() - the public part of @pkey as a new JWK object: jwk_from_pkey() without
 * private members ({"kty", "n", "e"} or {"kty", "crv", "x", "y"}, base64url without padding,
 * EC coordinates left-padded to the field size). @ret: caller json_object_put()s it.
 * Return: 0, -EOPNOTSUPP for other key types or curves, -ENOMEM.
 */
int tpmkey_to_jwk(EVP_PKEY *pkey, json_object **ret, struct cvm_error *err);

/**
 * tpmkey_name() - the TPM name of a public area: nameAlg (big-endian) || H_nameAlg(@tpmt_public).
 * @tpmt_public, @len: the marshalled TPMT_PUBLIC (without the TPM2B size).
 * @ret_name: TPM_MAX_NAME_SIZE bytes; @ret_size its length.
 * Return: 0, -EOPNOTSUPP when @name_alg is not a hash OpenSSL computes, -ENOMEM/-EIO.
 */
int tpmkey_name(const uint8_t *tpmt_public, size_t len, uint16_t name_alg, uint8_t *ret_name,
                size_t *ret_size);

/**
 * tpmkey_describe() - a short description of @pkey: "rsa-2048", "ec-p256", "ec-p384",
 * "ec-p521", or "unknown", written into @buf (at most @size bytes, NUL-terminated).
 */
void tpmkey_describe(EVP_PKEY *pkey, char *buf, size_t size);

/**
 * tpmkey_info_to_json() - {"format", "key", "jwk"} plus, when known, "kid", and for TPM public
 * areas "name", "name_alg", "object_attributes" (hex string), "scheme", "scheme_hash", "curve".
 * @ret: a new object the caller json_object_put()s. Return: 0, -ENOMEM, -EOPNOTSUPP (from
 * tpmkey_to_jwk()).
 */
int tpmkey_info_to_json(EVP_PKEY *pkey, const struct tpmkey_info *info, json_object **ret,
                        struct cvm_error *err);
