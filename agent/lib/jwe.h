/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Encryption (RFC 7516) decryption, plus an encryption side for the test emulators.
 *
 * Serializations: compact (five base64url parts), flattened JSON and general JSON (each
 * recipient is tried in turn). The flattened form is what a Trustee KBS returns for
 * /kbs/v0/resource: {"protected","encrypted_key","iv","ciphertext","tag"[,"aad"]}.
 *
 * Key management ("alg"): RSA-OAEP (SHA-1), RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW/A192KW/
 * A256KW (Concat KDF of RFC 7518 §4.6 with SHA-256, "apu"/"apv" honoured; the sender's "epk"
 * is validated as a point on our key's curve) with an RSA or EC private key; "dir" and
 * A128KW/A192KW/A256KW with a secret (oct) key. Refused: RSA1_5 (padding oracle), PBES2,
 * A*GCMKW; "zip" and "crit" are not supported.
 * Content encryption ("enc"): A128GCM, A192GCM, A256GCM (96-bit IV, 128-bit tag) and
 * A128CBC-HS256, A192CBC-HS384, A256CBC-HS512 (RFC 7518 §5.2, tag compared in constant time).
 * AAD = ASCII(BASE64URL(protected header)) [ || '.' || JSON "aad" member ].
 *
 * Secrets: the CEK, derived keys and the ECDH shared secret are wiped after use; the
 * plaintext is returned in a struct secret_buf that the caller wipes with secret_buf_done().
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "error.h"

/* Largest JWE text accepted. */
#define JWE_MAX_SIZE (16u << 20)

enum jwe_format {
        JWE_COMPACT,
        JWE_JSON_FLATTENED,
};

/**
 * jwe_decrypt() - decrypt a JWE (compact or JSON, detected from the first non-blank
 * character) with the private key @key (RSA or EC).
 * @ret_plaintext: the plaintext (a NUL follows it, not counted); written only on success.
 * @ret_header: when not NULL, receives the JOSE header (protected, shared unprotected and
 *              recipient members merged) of the recipient that decrypted; the caller puts it.
 * Return: 0; -EBADMSG for malformed input (bad base64url, wrong IV/tag sizes, member clash
 * between headers, an epk not on the curve); -EOPNOTSUPP for unsupported or refused "alg",
 * "enc", "zip", "crit"; -EKEYREJECTED when the key does not fit the algorithm, the encrypted
 * key cannot be decrypted/unwrapped with it, or the authentication tag does not verify;
 * -ENOMEM.
 */
int jwe_decrypt(const char *input, size_t len, EVP_PKEY *key, struct secret_buf *ret_plaintext,
                json_object **ret_header, struct cvm_error *err);

/**
 * jwe_decrypt_oct() - as jwe_decrypt() with the secret key @k of @k_len bytes, for "dir" and
 * AES key wrap ("A128KW", ...).
 */
int jwe_decrypt_oct(const char *input, size_t len, const void *k, size_t k_len,
                    struct secret_buf *ret_plaintext, json_object **ret_header, struct cvm_error *err);

/**
 * jwe_encrypt() - encrypt @plaintext to the public key @recipient. Used by the test emulators
 * (the KBS emulator's resource responses) and round-trip tests, not by the agent itself.
 * @alg: "RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW" or
 *       "ECDH-ES+A256KW".
 * @enc: one of the content encryption algorithms above.
 * @header: extra protected-header members ("kid", ...) or NULL; "alg", "enc" and "epk" are
 *          set here. The protected header is serialized in RFC 8785 canonical form.
 * @format: JWE_COMPACT or JWE_JSON_FLATTENED (the Trustee KBS response shape).
 * @ret: the serialized JWE, NUL-terminated, the caller frees.
 * Return: 0, -EOPNOTSUPP (unknown alg/enc), -EKEYREJECTED (key does not fit alg), -ENOMEM.
 */
int jwe_encrypt(const char *alg, const char *enc, EVP_PKEY *recipient, json_object *header,
                const void *plaintext, size_t plaintext_size, enum jwe_format format, char **ret,
                struct cvm_error *err);
