/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8785 JSON Canonicalization Scheme (JCS) over json-c values, plus the strict JSON text
 * parser the JOSE code uses for untrusted input.
 *
 * JCS output: no whitespace; object members sorted by their names compared as arrays of UTF-16
 * code units; strings with only the mandatory escapes (\" \\ \b \f \n \r \t, other control
 * characters as \u00xx in lower case) and everything else as raw UTF-8; numbers formatted like
 * ECMAScript's Number.prototype.toString() (shortest round-trip digits, exponent notation
 * outside 1e-6 <= |v| < 1e21). Numbers are IEEE 754 doubles in JCS: an integer beyond 2^53 is
 * written as the double nearest to it, exactly as ECMAScript would.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#include "error.h"

/* Longest ES6 number text plus NUL: "-1.2345678901234567e-308" is 24 characters. */
#define CANONJSON_NUMBER_MAX 32

/**
 * canonjson_serialize() - the RFC 8785 canonical form of @obj.
 * @obj: any json-c value (NULL is the JSON null); not modified.
 * @ret, @ret_len: NUL-terminated UTF-8 text the caller frees; written only on success.
 * @err: receives where and what on failure; may be NULL.
 * Return: 0; -EDOM for NaN or an infinity; -EBADMSG for a string or member name that is not
 * well-formed UTF-8 (JCS is defined on Unicode text); -E2BIG when nesting exceeds 256 levels;
 * -ENOMEM.
 */
int canonjson_serialize(json_object *obj, char **ret, size_t *ret_len, struct cvm_error *err);

/**
 * canonjson_from_text() - parse JSON text with canonjson_parse() and canonicalise it.
 * Return: as canonjson_parse() and canonjson_serialize().
 */
int canonjson_from_text(const char *text, size_t len, char **ret, size_t *ret_len, struct cvm_error *err);

/**
 * canonjson_format_number() - ECMAScript Number::toString(@v) as required by RFC 8785 §3.2.2.3.
 * @out: receives the NUL-terminated text ("0" for both zeros, "1e+21", "5e-324", ...).
 * Return: 0, or -EDOM for NaN and infinities (not representable in JSON).
 */
int canonjson_format_number(double v, char out[static CANONJSON_NUMBER_MAX]);

/**
 * canonjson_parse() - parse untrusted JSON text strictly: the whole input must be exactly one
 * JSON value (surrounding whitespace allowed), valid UTF-8, json-c strict mode, at most 64
 * levels deep. Duplicate member names keep the last value (RFC 7515 §4 allows this).
 * @text, @len: the text (need not be NUL-terminated); @len SIZE_MAX means strlen().
 * @what: names the input in error messages ("JWS header"); may be NULL.
 * @ret: the parsed value (the caller puts it); NULL for the literal null.
 * Return: 0, -EBADMSG ("JWS header: JSON parse error at offset 12: unexpected character"),
 * -ENOMEM.
 */
int canonjson_parse(const char *text, size_t len, const char *what, json_object **ret,
                    struct cvm_error *err);
