/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure Key Vault / Managed HSM Secure Key Release, the pure part (azure-protocol.md §6.2-§6.5):
 * the release request body, verification of the release response (a JWS whose x5c chain must
 * lead to a trusted root and whose leaf must be valid for the vault's host name), extraction of
 * the key_hsm ciphertext, and the AES key unwrap with padding (RFC 5649) of the key material
 * once the KEK has been RSA-OAEP-decrypted inside the vTPM by the caller.
 *
 * No I/O, no logging. Errors: -EBADMSG malformed; -EOPNOTSUPP unknown "enc"; -EKEYREJECTED
 * signature, chain or unwrap failure (key wrapped to another key, corrupt ciphertext);
 * -EPROTO the echoed request differs (nonce, enc, key); -ENOMEM.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/x509.h>

#include "cleanup.h"
#include "error.h"

#define SKR_MAX_RESPONSE (1u << 20)

/** struct skr_release - the verified content of a release response. */
struct skr_release {
        char *enc;           /* the key_hsm header "enc" (CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, ...) */
        char *wrap_kid;      /* the key_hsm header "kid" (TpmEphemeralEncryptionKey) */
        char *key_kid;       /* response.key.key.kid, the released key's id */
        char *kty;           /* response.key.key.kty (RSA-HSM, EC-HSM, oct-HSM) */
        uint8_t *ciphertext; /* RSA-OAEP(KEK) || AES-KWP(KEK, material) */
        size_t ciphertext_size;
};

/**
 * skr_request_build() - the JSON body {"target": @token, "enc": @enc, "nonce": @nonce}.
 * @enc, @nonce: may be NULL (omitted). @ret: NUL-terminated text the caller frees (it holds the
 * attestation token: do not log it).
 * Return: 0 or -ENOMEM.
 */
int skr_request_build(const char *token, const char *enc, const char *nonce, char **ret);

/**
 * skr_oaep_hash() - the RSA-OAEP hash ("sha1", "sha256", "sha384") of the wrapping algorithm
 * @enc. Return: the name, or NULL for an unknown @enc.
 */
const char *skr_oaep_hash(const char *enc);

/**
 * skr_release_parse() - verify and decode the HTTP body {"value": JWS} of a release.
 * @trusted: trust anchors for the JWS x5c chain.
 * @host: the vault's DNS name x5c[0] must be valid for (NULL: not checked).
 * @now: time for certificate validity.
 * @nonce: when not NULL, request.nonce must echo it.
 * @enc: when not NULL, request.enc and the key_hsm header enc must equal it.
 * @ret: filled on success; release with skr_release_done().
 * Return: 0; -EKEYREJECTED (signature/chain/host); -EPROTO (echo mismatch); -EBADMSG; -ENOMEM.
 */
int skr_release_parse(const char *body, size_t len, STACK_OF(X509) * trusted, const char *host, time_t now,
                      const char *nonce, const char *enc, struct skr_release *ret, struct cvm_error *err);

/** skr_release_done() - free the members of @r (wipes the ciphertext; reusable). */
void skr_release_done(struct skr_release *r);

/**
 * skr_unwrap() - RFC 5649 AES key unwrap with padding of @wrapped with the AES key @kek (16, 24
 * or 32 bytes).
 * @ret: the key material in a secret buffer (wipe with secret_buf_done()); written on success.
 * Return: 0; -EKEYREJECTED when the integrity check fails; -EBADMSG for a length that is not a
 * multiple of 8 or below 16; -EINVAL for a bad KEK size; -ENOMEM.
 */
int skr_unwrap(const uint8_t *kek, size_t kek_size, const uint8_t *wrapped, size_t wrapped_size,
               struct secret_buf *ret, struct cvm_error *err);
