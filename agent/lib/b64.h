/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (RFC 4648 §4) and base64url (RFC 4648 §5) with strict decoding: every character must
 * belong to the alphabet, padding must follow the variant's rules, and the unused low bits of
 * the last character must be zero, so that each byte string has exactly one accepted encoding.
 * JOSE (RFC 7515 §2) uses base64url without padding; x5c certificates and the Azure MAA
 * envelope use standard base64 with padding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
        B64_URL = 1 << 0,          /* URL-safe alphabet ('-', '_') instead of '+', '/' */
        B64_PAD_OPTIONAL = 1 << 1, /* accept input with or without '=' padding; when present it
                                      must still be exactly right. Default: the standard variant
                                      requires padding, the URL variant forbids it. */
};

/**
 * b64_encode() - standard base64 of @n bytes at @p, with '=' padding.
 * Return: a NUL-terminated string the caller frees, or NULL on allocation failure.
 */
char *b64_encode(const void *p, size_t n);

/**
 * b64url_encode() - base64url of @n bytes at @p, without padding (the JOSE form).
 * Return: a NUL-terminated string the caller frees, or NULL on allocation failure.
 */
char *b64url_encode(const void *p, size_t n);

/**
 * b64_decode_flags() - strictly decode base64 or base64url.
 * @s: the encoded text; @len: its length, or SIZE_MAX to use strlen().
 * @flags: B64_URL, B64_PAD_OPTIONAL.
 * @what: names the decoded field in error messages (e.g. "JWS payload"); may be NULL.
 * @ret, @ret_size: the decoded bytes (a NUL is appended, not counted) that the caller frees
 *                  (with erase_and_free() when they are secret); written only on success.
 * @err: receives e.g. "JWS payload: invalid base64url character 0x2b at offset 17"; may be NULL.
 * Return: 0, -EBADMSG for malformed input, -ENOMEM.
 */
int b64_decode_flags(const char *s, size_t len, unsigned flags, const char *what, uint8_t **ret,
                     size_t *ret_size, struct cvm_error *err);

/** b64_decode() - b64_decode_flags() for standard base64 with mandatory padding. */
static inline int b64_decode(const char *s, size_t len, const char *what, uint8_t **ret, size_t *ret_size,
                             struct cvm_error *err)
{
        return b64_decode_flags(s, len, 0, what, ret, ret_size, err);
}

/** b64url_decode() - b64_decode_flags() for base64url without padding (RFC 7515 §2). */
static inline int b64url_decode(const char *s, size_t len, const char *what, uint8_t **ret, size_t *ret_size,
                                struct cvm_error *err)
{
        return b64_decode_flags(s, len, B64_URL, what, ret, ret_size, err);
}
