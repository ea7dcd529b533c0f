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
