/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Keys (RFC 7517/7518 §6) <-> OpenSSL EVP_PKEY, RFC 7638 thumbprints, JWKS lookup by
 * "kid" and x5c certificate lists. Key types: RSA ("n", "e"; private "d" and the CRT members),
 * EC on P-256, P-384 and P-521 ("crv", "x", "y"; private "d"), and oct ("k", secret bytes).
 * A JWK may carry its public key only as an x5c certificate (Azure MAA /certs does): then
 * x5c[0]'s key is used; when both are present they must be the same key.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cleanup.h"
#include "error.h"

/* Upper bounds that protect against hostile sizes. */
#define JWK_RSA_MAX_BITS  16384
#define JWK_X5C_MAX_CERTS 16

enum {
        JWK_EXPORT_PRIVATE = 1 << 0, /* jwk_from_pkey(): include "d" (and the RSA CRT members).
                                        For tests, emulators and our own ephemeral keys only. */
};

/**
 * jwk_to_pkey() - import an RSA or EC JWK.
 * @jwk: the JWK object. A private key is built when "d" is present (an EC private key must
 *       match its "x"/"y"; RSA CRT members are used when all five are present).
 * @ret: a new EVP_PKEY the caller frees; written only on success.
 * Return: 0; -EBADMSG for missing/mistyped members, wrong coordinate lengths, a point not on
 * the curve, a key not matching its x5c certificate; -EOPNOTSUPP for other "kty" (including
 * "oct": use jwk_oct_key()) or "crv"; -ENOMEM.
 */
int jwk_to_pkey(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err);

/**
 * jwk_oct_key() - the secret bytes of a "kty":"oct" JWK.
 * @ret: filled with a copy of "k" (wipe with secret_buf_done()); written only on success.
 * Return: 0, -EBADMSG, -EOPNOTSUPP for other key types, -ENOMEM.
 */
int jwk_oct_key(json_object *jwk, struct secret_buf *ret, struct cvm_error *err);

/**
 * jwk_from_pkey() - export @pkey as a JWK: {"kty":"RSA","n","e"} or {"kty":"EC","crv","x","y"}
 * with unpadded base64url values (EC coordinates padded to the field size).
 * @flags: JWK_EXPORT_PRIVATE adds the private members (the JSON object then holds a secret).
 * @ret: new JSON object the caller puts; written only on success.
 * Return: 0, -EOPNOTSUPP for other key types or curves, -EINVAL when JWK_EXPORT_PRIVATE is
 * asked for a public key, -ENOMEM.
 */
int jwk_from_pkey(EVP_PKEY *pkey, unsigned flags, json_object **ret, struct cvm_error *err);

/**
 * jwk_thumbprint() - RFC 7638 thumbprint: @md over the JCS form of the required members
 * (RSA: e, kty, n; EC: crv, kty, x, y; oct: k, kty).
 * @out: at least EVP_MAX_MD_SIZE bytes; @ret_len receives the digest length.
 * Return: 0, -EBADMSG, -EOPNOTSUPP (other kty), -ENOMEM.
 */
int jwk_thumbprint(json_object *jwk, const EVP_MD *md, uint8_t *out, unsigned *ret_len,
                   struct cvm_error *err);

/**
 * jwk_thumbprint_b64url() - the SHA-256 RFC 7638 thumbprint, base64url (as "jose jwk thp"
 * and the x-ms-* kid conventions print it). @ret: string the caller frees.
 */
int jwk_thumbprint_b64url(json_object *jwk, char **ret, struct cvm_error *err);

/**
 * jwks_find() - the key with "kid" == @kid in the JWK Set @jwks ({"keys":[...]}).
 * @kid: may be NULL, which selects the only key of a one-key set.
 * @ret: borrowed pointer into @jwks.
 * Return: 0; -ENOKEY when no key matches (or @kid is NULL and the set has several keys);
 * -EBADMSG when @jwks is malformed or two keys share @kid.
 */
int jwks_find(json_object *jwks, const char *kid, json_object **ret, struct cvm_error *err);

/**
 * jwk_parse_x5c() - decode an "x5c" array: standard base64 (padded) DER certificates, at most
 * JWK_X5C_MAX_CERTS, each consumed exactly.
 * @what: names the array in error messages ("JWS header x5c").
 * @ret: new stack in array order (the caller frees it with OSSL_STACK_OF_X509_free()-style
 *       sk_X509_pop_free(s, X509_free)); written only on success.
 * Return: 0, -EBADMSG, -ENOMEM.
 */
int jwk_parse_x5c(json_object *x5c, const char *what, STACK_OF(X509) * *ret, struct cvm_error *err);

/**
 * jwk_ec_curve() - the JWK curve name ("P-256", "P-384", "P-521") and field size in bytes of
 * the EC key @pkey. Return: 0, or -EOPNOTSUPP for non-EC keys and other curves.
 */
int jwk_ec_curve(EVP_PKEY *pkey, const char **ret_crv, size_t *ret_field_size);

static inline void x509_stack_freep(STACK_OF(X509) * *s)
{
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}
