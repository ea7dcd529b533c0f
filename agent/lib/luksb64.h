/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Standard base64 (RFC 4648 §4, with '=' padding) as LUKS2 uses it for salts and digests, and as
 * the cvm-agent token uses it for its wrapped secret. Decoding is strict: only the standard
 * alphabet, exact padding and zero unused bits, so each byte string has exactly one accepted
 * encoding and a hostile header cannot smuggle data through lax decoding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/**
 * luksb64_encode() - base64 of @n bytes at @p.
 * Return: a NUL-terminated string the caller frees, or NULL on allocation failure.
 */
char *luksb64_encode(const void *p, size_t n);

/**
 * luksb64_decode() - strictly decode standard base64 with padding.
 * @s: the text; @len: its length, or SIZE_MAX to use strlen().
 * @ret, @ret_size: the decoded bytes that the caller frees (erase_and_free() when secret);
 *                  written only on success. An empty input decodes to a 1-byte allocation of
 *                  size 0.
 * Return: 0, -EBADMSG for malformed input, -ENOMEM.
 */
int luksb64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);

/**
 * luksb64url_decode() - luksb64_decode() for base64url (RFC 4648 §5) without padding, as JWK
 * members use it. Same strictness (alphabet, zero unused bits).
 */
int luksb64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);

/**
 * luksb64_decode_exact() - luksb64_decode() into a caller buffer that must be filled exactly.
 * Return: 0, -EBADMSG when malformed or when the decoded size is not @size.
 */
int luksb64_decode_exact(const char *s, void *out, size_t size);
