/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JOSE for cvm-agent: the umbrella header of the b64, canonjson, jwk, jws, jwt and jwe modules,
 * and the small JSON-member helpers they share. Built on OpenSSL 3 EVP and json-c; no
 * cryptographic primitive is implemented here.
 *
 * Error codes used by all JOSE modules (negative errno; the cvm_error message says where/what):
 *   -EBADMSG       malformed input (bad base64url, not JSON, missing or mistyped member)
 *   -EOPNOTSUPP    well-formed but unsupported (unknown "alg"/"enc"/"crv", "crit", "zip")
 *   -EKEYREJECTED  the signature does not verify, the algorithm is refused ("none", HS*,
 *                  RSA1_5), the key does not fit the algorithm, the x5c chain is not trusted,
 *                  or a JWE cannot be decrypted with the given key (wrong key, bad tag)
 *   -ENOKEY        no key in the JWKS has the token's "kid"
 *   -EKEYEXPIRED   a JWT is expired or not yet valid (jwt_check_time())
 *   -EPROTO        a JWT claim differs from the expected value (issuer, nonce, ...)
 *   -EINVAL        invalid arguments from the caller (a programming error)
 *   -ENOMEM        out of memory
 *
 * Trust rules: a token's own "jku", "x5u" and "jwk" header members are never followed or used
 * as a key; keys come from the caller (a JWKS the caller fetched from a configured URL, or an
 * x5c chain verified up to a root the caller names).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "b64.h"
#include "canonjson.h"
#include "error.h"
#include "jwe.h"
#include "jwk.h"
#include "jws.h"
#include "jwt.h"

/**
 * jose_get_string() - the string member @name of the JSON object @obj.
 * @what: names @obj in error messages ("JWS header", "JWK").
 * @required: when false a missing member yields 0 with *@ret = NULL.
 * @ret: borrowed pointer into @obj, valid while @obj lives.
 * Return: 0; -EBADMSG when @obj is not an object, the member is missing (and required) or
 * is not a string, or contains a NUL byte.
 */
int jose_get_string(json_object *obj, const char *name, const char *what, bool required, const char **ret,
                    struct cvm_error *err);

/**
 * jose_get_b64url() - decode the base64url (unpadded, strict) string member @name of @obj.
 * @ret, @ret_size: decoded bytes the caller frees (erase_and_free() for secret members); on a
 *                  missing optional member 0 is returned with *@ret = NULL, *@ret_size = 0.
 * Return: as jose_get_string() and b64url_decode().
 */
int jose_get_b64url(json_object *obj, const char *name, const char *what, bool required, uint8_t **ret,
                    size_t *ret_size, struct cvm_error *err);

/**
 * jose_add_b64url() - add member @name = base64url(@p, @n) to the JSON object @obj.
 * Return: 0 or -ENOMEM.
 */
int jose_add_b64url(json_object *obj, const char *name, const void *p, size_t n);

/**
 * jose_add_string() - add member @name = @value (copied) to the JSON object @obj.
 * Return: 0 or -ENOMEM.
 */
int jose_add_string(json_object *obj, const char *name, const char *value);
