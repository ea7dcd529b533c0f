/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Signature (RFC 7515), compact serialization: parsing, verification with a given
 * key, with a JWK Set looked up by "kid" (Azure MAA /certs), or with the token's own x5c chain
 * verified up to caller-given trusted roots (Azure Key Vault release responses).
 *
 * Algorithms (RFC 7518 §3): RS256/384/512, PS256/384/512 (salt length = hash length), ES256,
 * ES384, ES512 (signature = raw r||s, each the curve's field size). "none" and HS256/384/512
 * are always refused: verification is by public key only. RSA keys must have >= 2048 bits.
 * The "jku", "x5u" and "jwk" header members are never used to find a key. Any "crit" header
 * (including "b64":false, RFC 7797) is refused as unsupported.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "error.h"

/* Largest compact JWS accepted (MAA tokens are ~5-10 KiB, Key Vault releases ~20 KiB). */
#define JWS_MAX_SIZE     (4u << 20)
#define JWS_RSA_MIN_BITS 2048

struct jws {
        json_object *header; /* the decoded protected header (a JSON object) */
        const char *alg;     /* header "alg", borrowed from @header */
        const char *kid;     /* header "kid" or NULL, borrowed from @header */
        uint8_t *payload;    /* decoded payload; a NUL follows it (not counted) */
        size_t payload_size;
        uint8_t *signature; /* decoded signature bytes */
        size_t signature_size;
        char *signing_input; /* "BASE64URL(header).BASE64URL(payload)" as received */
        size_t signing_input_len;
};

/**
 * jws_parse() - split and decode a compact JWS (three base64url parts separated by '.').
 * @compact, @len: the token text; leading/trailing whitespace is not accepted (trim before).
 * @ret: new struct jws the caller frees with jws_free(); written only on success.
 * Return: 0; -EBADMSG when the text is not a compact JWS (wrong number of parts, bad
 * base64url, header not a JSON object, "alg" missing); -EOPNOTSUPP for "crit"; -ENOMEM.
 * The signature is not checked here.
 */
int jws_parse(const char *compact, size_t len, struct jws **ret, struct cvm_error *err);

/** jws_free() - free @jws (may be NULL). */
void jws_free(struct jws *jws);

static inline void jws_freep(struct jws **p)
{
        jws_free(*p);
}

/**
 * jws_verify() - check the signature of @jws with the public key @key.
 * Return: 0 when it verifies; -EKEYREJECTED for a wrong signature, a refused algorithm
 * ("none", HS*), a key that does not fit the algorithm (type, curve, RSA < 2048 bits);
 * -EOPNOTSUPP for an unknown algorithm; -ENOMEM.
 */
int jws_verify(const struct jws *jws, EVP_PKEY *key, struct cvm_error *err);

/**
 * jws_verify_jwks() - select the key with the token's "kid" from the JWK Set @jwks (x5c[0] or
 * the key members, see jwk_to_pkey()) and verify with it. A key marked "use":"enc", or whose
 * "alg" differs from the token's, is not used.
 * Return: as jws_verify(), plus -ENOKEY when no key has that kid, -EBADMSG for a malformed
 * JWKS or key.
 */
int jws_verify_jwks(const struct jws *jws, json_object *jwks, struct cvm_error *err);

/**
 * jws_verify_x5c() - verify the token's "x5c" chain and then its signature with x5c[0]'s key.
 * @trusted: the trust anchors (any CA or leaf the caller trusts; the chain must end in one of
 *           them; certificates in x5c are only untrusted intermediates).
 * @host: when not NULL, x5c[0] must be valid for this DNS name (e.g. "myvault.vault.azure.net").
 * @now: the time at which certificate validity is judged.
 * @ret_chain: when not NULL, receives the verified chain leaf first (sk_X509_pop_free()).
 * Return: 0; -EBADMSG for a missing/malformed x5c or an "x5t"/"x5t#S256" that does not match
 * x5c[0]; -EKEYREJECTED when the chain does not verify ("x5c chain: certificate has expired
 * (depth 0: CN=...)") or the signature is wrong; -ENOMEM.
 */
int jws_verify_x5c(const struct jws *jws, STACK_OF(X509) * trusted, const char *host, time_t now,
                   STACK_OF(X509) * *ret_chain, struct cvm_error *err);

/**
 * jws_payload_json() - parse the payload as a JSON object (JWT claims).
 * @ret: new reference the caller puts. Return: 0, -EBADMSG, -ENOMEM.
 */
int jws_payload_json(const struct jws *jws, json_object **ret, struct cvm_error *err);

/**
 * jws_sign() - produce a compact JWS. Used by the test emulators and round-trip tests, not by
 * the agent itself.
 * @alg: one of the algorithms listed above (not "none"/HS*).
 * @key: a private key fitting @alg.
 * @header: extra protected-header members ("kid", "typ", "x5c", ...), or NULL; "alg" is set
 *          from @alg. The header is serialized in RFC 8785 canonical form.
 * @ret: the compact JWS, NUL-terminated, the caller frees.
 * Return: 0, -EOPNOTSUPP (unknown alg), -EKEYREJECTED (refused alg or unfitting key),
 * -ENOMEM.
 */
int jws_sign(const char *alg, EVP_PKEY *key, json_object *header, const void *payload, size_t payload_size,
             char **ret, struct cvm_error *err);
