/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure HCL report, as the paravisor writes it to vTPM NV index 0x01400001:
 *
 *   0x000  32-byte header: "HCLA", version, report_size, request_type, status, 12 reserved bytes
 *   0x020  1184-byte hardware report (an SNP ATTESTATION_REPORT; a TDX TDREPORT on TDX VMs)
 *   0x4c0  20-byte IGVM request data: data_size, version, report_type (2 SNP, 4 TDX),
 *          report_data_hash_type (1 SHA-256, 2 SHA-384, 3 SHA-512), variable_data_size
 *   0x4d4  variable_data: the "runtime claims" JSON (vTPM AK and EK as JWKs, vm-configuration,
 *          user-data)
 *
 * All integers are little-endian. The NV index is larger than the report and zero-padded, so
 * everything is sliced by the size fields. The runtime claims are bound to the SNP report by
 * report_data[0..n) == H(variable_data) with H chosen by report_data_hash_type.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "error.h"
#include "snp.h"

#define HCL_NV_INDEX_REPORT  0x01400001
#define HCL_HEADER_SIZE      32
#define HCL_IGVM_HEADER_SIZE 20
#define HCL_VAR_DATA_OFFSET  (HCL_HEADER_SIZE + SNP_REPORT_SIZE + HCL_IGVM_HEADER_SIZE) /* 1236 */

#define HCL_REPORT_TYPE_SNP  2
#define HCL_REPORT_TYPE_TVM  3
#define HCL_REPORT_TYPE_TDX  4

#define HCL_HASH_SHA256      1
#define HCL_HASH_SHA384      2
#define HCL_HASH_SHA512      3

struct hcl_report {
        /* Header. */
        uint32_t version;
        uint32_t report_size;
        uint32_t request_type;
        uint32_t status;
        /* IGVM request data. */
        uint32_t data_size;
        uint32_t igvm_version;
        uint32_t report_type;
        uint32_t hash_type;
        uint32_t var_data_size;

        struct snp_report snp;
        uint8_t *var_data;           /* var_data_size bytes, owned */
        json_object *runtime_claims; /* the parsed JSON object, owned */
        size_t file_size;            /* bytes given to the parser, padding included */

        /* The binding check, done by the parser. */
        const char *hash_name; /* "sha256", "sha384", "sha512" */
        uint8_t var_data_hash[64];
        size_t var_data_hash_size;
        bool runtime_claims_bound; /* report_data starts with var_data_hash */
};

/**
 * hcl_report_parse() - decode an HCL report, its embedded SNP report and runtime claims, and
 * check the binding of the claims to report_data.
 * @buf, @len: the NV contents; bytes past report_size (zero padding) are ignored.
 * @ret: a new report freed with hcl_report_free().
 * Return: 0 (an unbound report still parses: see runtime_claims_bound); -EBADMSG for a
 * truncated or inconsistent report or claims that are not a JSON object (err names the offset
 * and field); -EOPNOTSUPP for a TDX or other non-SNP report type, unknown header/IGVM versions or
 * hash types (and whatever snp_report_parse() refuses); -ENOMEM.
 */
int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report **ret, struct cvm_error *err);

/** hcl_report_free() - free @r (NULL is fine). */
void hcl_report_free(struct hcl_report *r);

/**
 * hcl_report_to_json() - the SNP fields at top level (as snp_report_to_json()) with "type":
 * "hcl", plus "hcl" {"header", "igvm_request_data", "file_size", "var_data_hash_alg",
 * "var_data_hash"}, "runtime_claims" (the parsed object) and "runtime_claims_bound".
 * Return: 0 or -ENOMEM.
 */
int hcl_report_to_json(const struct hcl_report *r, json_object **ret);

/**
 * hcl_report_runtime_claims() - the parsed runtime claims; borrowed, valid while @r lives
 * (json_object_get() it to keep it longer).
 */
json_object *hcl_report_runtime_claims(const struct hcl_report *r);

/**
 * hcl_report_find_key() - the JWK with "kid" == @kid in the runtime claims' "keys" array.
 * Return: borrowed object, or NULL when absent.
 */
json_object *hcl_report_find_key(const struct hcl_report *r, const char *kid);

/**
 * hcl_report_ak_pub() - the vTPM attestation key ("kid": "HCLAkPub") as an EVP_PKEY, imported
 * with jwk_to_pkey() (RSA or EC P-256/P-384/P-521, strict unpadded base64url members); RSA
 * keys below 1024 bits are refused.
 * @ret: a new key the caller frees with EVP_PKEY_free().
 * Return: 0, -ENOENT when the claims hold no HCLAkPub, -EBADMSG/-EOPNOTSUPP as jwk_to_pkey()
 * (and -EBADMSG for a too small RSA key), -ENOMEM.
 */
int hcl_report_ak_pub(const struct hcl_report *r, EVP_PKEY **ret, struct cvm_error *err);
