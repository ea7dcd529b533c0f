/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Token (RFC 7519) claim checks on an already signature-verified payload: time
 * ("exp", "nbf", "iat") against an injectable "now" with a bounded leeway, "iss" equality,
 * and equality of further string claims addressed by dotted paths (for example the nonce MAA
 * echoes in "x-ms-runtime.client-payload.nonce"). Failures name the claim and both values.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "error.h"

/* Largest clock-skew allowance accepted from a caller, in seconds. */
#define JWT_MAX_LEEWAY 300

enum jwt_time_status {
        JWT_TIME_VALID,
        JWT_TIME_EXPIRED,       /* now >= exp + leeway */
        JWT_TIME_NOT_YET_VALID, /* now < nbf - leeway, or iat later than now + leeway */
};

/* The time claims of a token; has_* say which are present. */
struct jwt_times {
        bool has_exp, has_nbf, has_iat;
        time_t exp, nbf, iat;
};

/* One expected string claim: the value at @path ("a.b.c" walks nested objects) must equal @value. */
struct jwt_claim_expect {
        const char *path;
        const char *value;
};

struct jwt_expect {
        time_t now;                            /* the verifier's idea of the current time */
        unsigned leeway;                       /* seconds of clock skew tolerated, <= JWT_MAX_LEEWAY */
        bool require_exp;                      /* a token without "exp" fails */
        const char *issuer;                    /* expected "iss", or NULL not to check */
        const struct jwt_claim_expect *claims; /* further string claims, may be NULL */
        size_t n_claims;
};

/**
 * jwt_get_times() - read "exp", "nbf" and "iat" (NumericDate: JSON numbers, fractions
 * truncated) from @claims.
 * Return: 0, or -EBADMSG when one is not a number or lies outside 1970..9999.
 */
int jwt_get_times(json_object *claims, struct jwt_times *ret, struct cvm_error *err);

/**
 * jwt_check_time() - judge the token's validity period at @now.
 * @ret_status: written when the return value is 0 or -EKEYEXPIRED.
 * Return: 0 when valid; -EKEYEXPIRED when expired or not yet valid ("token expired at
 * 2022-06-01T06:47:57Z, now is 2025-01-01T00:00:00Z"); -EKEYEXPIRED also when @require_exp
 * and there is no "exp"; -EBADMSG for malformed time claims; -EINVAL for a leeway above
 * JWT_MAX_LEEWAY.
 */
int jwt_check_time(json_object *claims, time_t now, unsigned leeway, bool require_exp,
                   enum jwt_time_status *ret_status, struct cvm_error *err);

/**
 * jwt_claim_lookup() - the value at the dotted @path in @claims (borrowed), e.g.
 * "x-ms-isolation-tee.x-ms-attestation-type". Return: 0 or -ENOENT.
 */
int jwt_claim_lookup(json_object *claims, const char *path, json_object **ret);

/**
 * jwt_check_claim() - the claim at the dotted @path must be the string @value exactly.
 * Return: 0, or -EPROTO ("claim \"iss\" is \"https://a\", expected \"https://b\"", also for a
 * missing or non-string claim).
 */
int jwt_check_claim(json_object *claims, const char *path, const char *value, struct cvm_error *err);

/**
 * jwt_check_claims() - all checks of @expect in order: time, issuer, then each claim.
 * Return: 0; -EKEYEXPIRED (time); -EPROTO for an issuer or claim mismatch or a missing claim
 * ("claim \"x-ms-runtime.client-payload.nonce\" is \"QUJD\", expected \"REVG\""); -EBADMSG,
 * -EINVAL as above.
 */
int jwt_check_claims(json_object *claims, const struct jwt_expect *expect, struct cvm_error *err);
