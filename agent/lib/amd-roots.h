/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD's public SEV-SNP root (ARK) and intermediate (ASK for VCEKs, ASVK for VLEKs) certificates
 * for each product line, compiled into the library so that a chain is only ever accepted up to
 * a pinned root, independent of what is installed on the machine. The same certificates ship
 * as PEM files in agent/amd/; a unit test keeps both copies identical.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "error.h"

/* AMD EPYC product lines that sign SNP reports. Values are stable (used in arrays). */
enum amd_product {
        AMD_PRODUCT_UNKNOWN = 0,
        AMD_PRODUCT_MILAN,
        AMD_PRODUCT_GENOA,
        AMD_PRODUCT_TURIN,
        _AMD_PRODUCT_MAX,
};

/* Which certificate of a product line. */
enum amd_cert_role {
        AMD_CERT_ARK = 0, /* AMD Root Key, self-signed */
        AMD_CERT_ASK,     /* AMD SEV Key: issues VCEKs ("SEV-Milan") */
        AMD_CERT_ASVK,    /* AMD SEV VLEK Key: issues VLEKs ("SEV-VLEK-Milan") */
        _AMD_CERT_ROLE_MAX,
};

/** amd_product_name() - "Milan", "Genoa", "Turin", or NULL for AMD_PRODUCT_UNKNOWN. */
const char *amd_product_name(enum amd_product p);

/**
 * amd_product_from_name() - the product for a name such as "Milan" or "milan" (also the KDS
 * product names "Milan-B0", "Genoa"...: anything after a '-' is ignored).
 * Return: the product, or AMD_PRODUCT_UNKNOWN.
 */
enum amd_product amd_product_from_name(const char *name);

/** amd_cert_role_name() - "ARK", "ASK" or "ASVK". */
const char *amd_cert_role_name(enum amd_cert_role role);

/**
 * amd_roots_pem() - the embedded PEM text of one pinned certificate.
 * Return: a static NUL-terminated string, or NULL for an unknown product/role.
 */
const char *amd_roots_pem(enum amd_product p, enum amd_cert_role role);

/**
 * amd_roots_sha256() - the pinned SHA-256 fingerprint (32 bytes) of the DER form of one
 * certificate, or NULL for an unknown product/role.
 */
const uint8_t *amd_roots_sha256(enum amd_product p, enum amd_cert_role role);

/**
 * amd_roots_load() - decode one pinned certificate and check it against its pinned
 * fingerprint (a defence against a damaged build).
 * @ret: a new X509 the caller frees with X509_free(); written only on success.
 * Return: 0, -EINVAL for an unknown product/role, -EBADMSG if the embedded copy does not
 * decode or does not match its fingerprint, -ENOMEM.
 */
int amd_roots_load(enum amd_product p, enum amd_cert_role role, X509 **ret, struct cvm_error *err);
