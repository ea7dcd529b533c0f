/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wrapping of the LUKS keyslot secret for the cvm-agent token (OpenSSL 3, pure, no I/O).
 *
 * The 256-bit keyslot secret is never stored in clear. It is encrypted with AES-256-GCM whose
 * additional authenticated data binds it to one volume and one enrollment:
 *
 *   AAD = "cvm-agent-luks2-wrap-v1:" || ALG || ":" || binding digests (4 x 32 bytes, luks2hdr_binding())
 *
 * so the ciphertext opens only for the header it was enrolled on (UUID, data segment, keyslot,
 * digest, backend configuration) and a swapped or altered header makes the unwrap fail even if
 * header validation were bypassed. The AES key is, by algorithm:
 *
 *  - RSA-OAEP-256+A256GCM: a fresh random AES-256 key per enrollment, encrypted to an RSA public
 *    key (2048..8192 bits) with RSA-OAEP, SHA-256 and MGF1-SHA-256, empty label ("ek"). Used for
 *    Azure Key Vault / Managed HSM RSA keys: enrollment needs only the public part; unwrapping
 *    needs the private key that Secure Key Release hands to an attested VM.
 *  - A256GCM: a 256-bit symmetric key used directly. Used for a Trustee KBS resource (the
 *    resource is the wrapping key, provisioned once and reusable for many volumes) and for
 *    oct-HSM keys whose material is known at enrollment.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "error.h"
#include "lukstoken.h"

#define LUKSWRAP_AAD_TAG   "cvm-agent-luks2-wrap-v1:"
#define LUKSWRAP_SYM_SIZE  32u
#define LUKSWRAP_MAX_INPUT (64u * 1024u) /* key files */

/* A wrapping key as loaded for enrollment. */
struct lukswrap_key {
        enum lukstoken_wrap_alg alg;
        EVP_PKEY *rsa;                  /* RSA public key, owned */
        uint8_t sym[LUKSWRAP_SYM_SIZE]; /* A256GCM key */
        unsigned rsa_bits;
};

/** lukswrap_key_done() - free the RSA key and wipe the symmetric key. */
void lukswrap_key_done(struct lukswrap_key *k);

/**
 * lukswrap_load_key() - load an enrollment wrapping key, format auto-detected:
 *  - exactly 32 bytes: a raw AES-256 key (a Trustee resource) -> A256GCM;
 *  - JSON: a JWK, kty "RSA" (n, e; private members ignored) -> RSA, or kty "oct" (k, 32 bytes)
 *    -> A256GCM; a Key Vault key bundle {"key": {JWK}} is accepted too;
 *  - PEM: "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" -> RSA;
 *  - otherwise DER SubjectPublicKeyInfo -> RSA.
 * @ret: filled on success; release with lukswrap_key_done().
 * Return: 0, -EBADMSG unparsable, -EOPNOTSUPP not RSA / RSA size outside 2048..8192 bits /
 * oct key not 256 bits, -EFBIG input larger than LUKSWRAP_MAX_INPUT, -ENOMEM.
 */
int lukswrap_load_key(const uint8_t *data, size_t size, struct lukswrap_key *ret, struct cvm_error *err);

/**
 * lukswrap_seal() - encrypt @secret (LUKSTOKEN_SECRET_SIZE bytes) for @key, bound to @binding.
 * @ret: receives alg, ek (RSA only), iv, ct, tag.
 * Return: 0, -EIO (OpenSSL or RNG failure), -EINVAL.
 */
int lukswrap_seal(const struct lukswrap_key *key, const uint8_t secret[LUKSTOKEN_SECRET_SIZE],
                  const uint8_t binding[LUKSTOKEN_BINDING_SIZE], struct lukstoken_wrap *ret,
                  struct cvm_error *err);

/* Kinds of key material a backend releases. */
enum lukswrap_material {
        LUKSWRAP_MATERIAL_RSA_PRIVATE, /* DER PKCS#8 or PKCS#1, or PEM, private RSA key */
        LUKSWRAP_MATERIAL_SYMMETRIC,   /* raw 32-byte AES key */
};

/**
 * lukswrap_unseal() - recover the keyslot secret with released key material.
 * @material, @size, @kind: what the backend released (secret; not retained).
 * @w, @binding: the token's wrap object and the binding digest recomputed from the validated
 *               header (never the token's own "binding" field alone).
 * @secret: receives LUKSTOKEN_SECRET_SIZE bytes; untouched on failure.
 * Return: 0; -EKEYREJECTED when the key does not fit or authentication fails (wrong key,
 * altered ciphertext, different header); -EBADMSG unusable material; -EOPNOTSUPP kind does not
 * match the wrap algorithm; -ENOMEM; -EIO.
 */
int lukswrap_unseal(const uint8_t *material, size_t size, enum lukswrap_material kind,
                    const struct lukstoken_wrap *w, const uint8_t binding[LUKSTOKEN_BINDING_SIZE],
                    uint8_t secret[LUKSTOKEN_SECRET_SIZE], struct cvm_error *err);
