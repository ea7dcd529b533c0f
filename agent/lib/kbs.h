/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trustee KBS Request-Challenge-Attestation-Response protocol 0.4.0, the pure part
 * (kbs-protocol.md): request bodies, the challenge and attestation replies, the runtime data and
 * its hash (report_data = H(JCS({"additional-evidence":"","nonce","tee-pubkey"}))).
 *
 * No I/O, no logging. Errors: -EBADMSG malformed, -EOPNOTSUPP an unknown hash algorithm, -ENOMEM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

#define KBS_PROTOCOL_VERSION "0.4.0"
#define KBS_MAX_RESPONSE     (1u << 20)

/**
 * kbs_auth_request() - the body of POST /kbs/v0/auth for @tee ("az-snp-vtpm", "snp").
 * @ret: NUL-terminated JSON text the caller frees. Return: 0 or -ENOMEM.
 */
int kbs_auth_request(const char *tee, char **ret);

/**
 * kbs_challenge_parse() - the reply of /auth: {"nonce", "extra-params"?:{"selected-hash-algorithm"}}.
 * @ret_nonce: the nonce string (caller frees).
 * @ret_hash: "sha256", "sha384" or "sha512" (static); "sha384" when the KBS selects none.
 * Return: 0; -EBADMSG; -EOPNOTSUPP for another hash algorithm; -ENOMEM.
 */
int kbs_challenge_parse(const char *body, size_t len, char **ret_nonce, const char **ret_hash,
                        struct cvm_error *err);

/**
 * kbs_runtime_data() - the "runtime-data" object {"nonce", "tee-pubkey"} and its hash.
 * @tee_pubkey: the public JWK (a reference is taken).
 * @hash: as returned by kbs_challenge_parse().
 * @ret_runtime: the runtime-data object (caller puts).
 * @ret_digest: at least 64 bytes; receives H(JCS(runtime data + "additional-evidence":"")).
 * @ret_digest_size: 32, 48 or 64.
 * Return: 0, -EOPNOTSUPP, -EBADMSG (JCS refused the key), -ENOMEM.
 */
int kbs_runtime_data(const char *nonce, json_object *tee_pubkey, const char *hash, json_object **ret_runtime,
                     uint8_t *ret_digest, size_t *ret_digest_size, struct cvm_error *err);

/**
 * kbs_attest_request() - the body of POST /kbs/v0/attest.
 * @runtime: from kbs_runtime_data(); @evidence: the TEE evidence object (references taken).
 * @ret: NUL-terminated JSON text the caller frees. Return: 0 or -ENOMEM.
 */
int kbs_attest_request(json_object *runtime, json_object *evidence, char **ret);

/**
 * kbs_attest_parse() - the reply of /attest: {"token": "<JWT>"}.
 * @ret_token: caller frees (a bearer credential: never log it).
 * Return: 0, -EBADMSG, -ENOMEM.
 */
int kbs_attest_parse(const char *body, size_t len, char **ret_token, struct cvm_error *err);

/**
 * kbs_resource_path_valid() - @path is "repo/type/tag": three non-empty segments of
 * [A-Za-z0-9._-], none "." or "..". Return: true or false.
 */
bool kbs_resource_path_valid(const char *path);

/* Bounds of an SEV-SNP certificate table (GHCB spec "SNP Extended Guest Request"). */
#define KBS_SNP_CERT_ENTRY_SIZE 24u
#define KBS_SNP_CERT_MAX        16u

/**
 * kbs_snp_cert_chain() - the "cert_chain" of Trustee "snp" evidence from an SEV-SNP certificate
 * table: the auxblob of configfs-tsm or the certificate buffer of SNP_GET_EXT_REPORT. The table
 * is a list of 24-byte entries {GUID (16 bytes, RFC 4122 byte order), offset (u32 LE), length
 * (u32 LE)} ended by an all-zero entry; offsets count from the start of the table. Known GUIDs:
 * VCEK 63da758d-e664-4564-adc5-f4b93be8accd, VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1,
 * ASK 4ab7b379-bbac-4fe4-a02f-05aef327c782, ARK c0b406a4-a803-4952-9743-3fb6014cd0ae; other
 * entries (the CRL, vendor data) are skipped.
 * @table, @size: the table; @size 0 (the host supplied no certificates) gives an empty array.
 * @ret_chain: new array [{"cert_type": "VCEK"|"VLEK"|"ASK"|"ARK", "data": base64(DER)}] in table
 *             order (caller puts); written only on success.
 * @ret_has_vek: may be NULL; set to whether a VCEK or VLEK is present.
 * Return: the number of certificates in @ret_chain; -EBADMSG for a table without terminator, an
 * entry pointing outside @size, a certificate that is not DER X.509, a certificate type given
 * twice, more than KBS_SNP_CERT_MAX entries (the message names the entry); -ENOMEM.
 */
int kbs_snp_cert_chain(const uint8_t *table, size_t size, json_object **ret_chain, bool *ret_has_vek,
                       struct cvm_error *err);
